"""Why PyTorch's safe loader refused a .pt, told by reading the pickle's opcodes (never running it).

``torch.load(weights_only=True)`` refuses anything beyond tensors and plain containers, but its
message does not say which case it hit, and it suggests retrying with ``weights_only=False`` —
the one thing a person must not do with a file from elsewhere. For protocol 4 and 5 pickles it
does not even get as far as the payload ("Unsupported operand 149"). So the refused pickle is
disassembled with :func:`pickletools.genops`, which only decodes opcodes, to name the classes
and functions it would call.
"""

from __future__ import annotations

import io
import os
import pickletools
import zipfile
from typing import Any

try:  # private, so guarded: what torch's safe loader accepts, by 'module.name'
    from torch._weights_only_unpickler import _get_allowed_globals
except ImportError:  # pragma: no cover - a torch without the helper
    _get_allowed_globals = None

_MAX_PICKLE_BYTES = 64 * 2**20
_MAX_PICKLES = 5  # a legacy .pt is a few pickles in a row: magic, version, sys info, object
_STRING_OPS = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
     "BINUNICODE8"}
)  # fmt: skip
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_HINTS = ("weights_only", "weights only", "trusted source", "file an issue", "documentation")


def refused_pickle_message(source: Any, is_zip: bool, what: str, torch_message: str) -> str:
    """The message for a .pt that ``torch.load(weights_only=True)`` refused.

    Args:
        source: the file's bytes or path.
        is_zip: torch's zip format (the pickle is the ``data.pkl`` member), else legacy.
        what: how to name the file.
        torch_message: PyTorch's error text (only its reason is passed on, never its hints).

    Returns:
        Says the file holds Python code or objects (naming them), or that its pickle protocol
        is one the safe loader does not read, or else that it is truncated or corrupted.
    """
    names, protocol = _scan(_pickle_bytes(source, is_zip))
    unsafe = sorted(names - _allowed_globals())
    if unsafe or "GLOBAL" in torch_message:
        shown = ", ".join(unsafe[:3]) + (" ..." if len(unsafe) > 3 else "")
        refers = f" (it refers to {shown})" if unsafe else ""
        return (
            f"{what} contains Python code or objects, not just tensors{refers}: loading it "
            "could run code. It was not run and will not be loaded; quantviz never runs code "
            "from a file. Save the weights as safetensors instead, e.g. "
            "safetensors.torch.save_file(model.state_dict(), 'weights.safetensors'), or save "
            "just the state dict with torch.save(model.state_dict(), 'weights.pt')."
        )
    if protocol >= 4:
        return (
            f"{what} was saved with pickle protocol {protocol}, which PyTorch's safe loader "
            "does not read, so it was not loaded (nothing in it was run). Re-save it with "
            "torch.save's default protocol (without pickle_protocol=), or as safetensors."
        )
    return f"{what} is truncated or corrupted ({_reason(torch_message)})."


def _pickle_bytes(source: Any, is_zip: bool) -> bytes:
    try:
        if is_zip:
            f = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
            with zipfile.ZipFile(f) as zf:
                member = next(n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "data.pkl")
                with zf.open(member) as m:
                    return m.read(_MAX_PICKLE_BYTES)
        if isinstance(source, bytes | bytearray | memoryview):
            return bytes(source[:_MAX_PICKLE_BYTES])
        with open(os.fspath(source), "rb") as f:
            return f.read(_MAX_PICKLE_BYTES)
    except Exception:  # an unreadable file says nothing more than torch did
        return b""


def _scan(data: bytes) -> tuple[set[str], int]:
    """The globals ('module.name') a pickle stream refers to, and its highest protocol."""
    names: set[str] = set()
    protocol = 0
    f = io.BytesIO(data)
    for _ in range(_MAX_PICKLES):
        if f.tell() >= len(data):
            break
        memo: dict[int, str | None] = {}
        recent: list[str | None] = []  # the values most recently pushed, strings or None
        try:
            for op, arg, _pos in pickletools.genops(f):
                name = op.name
                if name == "PROTO":
                    protocol = max(protocol, arg)
                elif name in ("GLOBAL", "INST"):
                    names.add(str(arg).replace(" ", "."))
                elif name == "STACK_GLOBAL":
                    mod, qual = (recent[-2:] if len(recent) >= 2 else [None, None])[:2]
                    names.add(f"{mod}.{qual}" if mod and qual else "an unnamed global")
                elif name in _STRING_OPS:
                    recent.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
                elif name == "MEMOIZE":
                    memo[len(memo)] = recent[-1] if recent else None
                elif name in _PUT_OPS:
                    memo[arg] = recent[-1] if recent else None
                elif name in _GET_OPS:
                    recent.append(memo.get(arg))
                elif op.stack_after:
                    recent.append(None)
                del recent[:-2]
        except Exception:  # a broken pickle: what was read so far is the evidence
            break
    return names, protocol


def _allowed_globals() -> set[str]:
    """What torch's safe loader accepts (tensor rebuilders, storages, OrderedDict, ...)."""
    if _get_allowed_globals is None:  # pragma: no cover
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"}
    return set(_get_allowed_globals())


def _reason(torch_message: str) -> str:
    """PyTorch's reason without its advice (which includes retrying with weights_only=False)."""
    for line in torch_message.splitlines():
        line = line.strip().removeprefix("WeightsUnpickler error:").strip()
        if line and not any(h in line.lower() for h in _HINTS):
            return line[:200]
    return "PyTorch's safe loader could not read it"
