"""PyTorch checkpoints with ``weights_only=True`` and no fallback, flattened to dotted names.

``weights_only=True`` restricts unpickling to tensors and plain containers, so a checkpoint that
carries a code-running payload fails to load instead of running it. quantviz never retries with
``weights_only=False``: a file that needs it is refused with advice on how to re-save it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import torch

from quantviz.inputs._raw import RawSource, entry_for_tensor
from quantviz.inputs.errors import BAD_DATA, InputError, fmt_count

_MAX_DEPTH = 32


def read_torch(
    source: bytes | os.PathLike | str,
    stem: str,
    what: str,
    is_zip: bool,
    max_file_bytes: int,
) -> RawSource:
    """Load a .pt/.pth (bytes or path) safely and list its tensors.

    Args:
        source: the file's bytes, or its path (then memory mapped when it is a zip checkpoint).
        stem: name for a checkpoint that is a single tensor.
        what: how to name the file in messages.
        is_zip: the file is torch's zip format (else the legacy pickle format).
        max_file_bytes: bound on the unpacked size of a zip checkpoint's members.

    Returns:
        A RawSource; ``single`` when the file holds one bare tensor.
    """
    if is_zip:
        _check_zip_sizes(source, what, max_file_bytes)
    is_path = not isinstance(source, bytes | bytearray | memoryview)
    f: Any = os.fspath(source) if is_path else io.BytesIO(source)
    try:
        with warnings.catch_warnings():  # e.g. "unusual pickle protocol" on corrupted files
            warnings.simplefilter("ignore")
            # mmap only works for zip checkpoints on disk; bytes are already in memory.
            obj = torch.load(f, map_location="cpu", weights_only=True, mmap=is_path and is_zip)
    except pickle.UnpicklingError as e:
        # A refused GLOBAL means the pickle references a class or function: code, not data.
        if re.search(r"\bglobal\b", str(e), re.IGNORECASE):
            raise InputError(
                f"{what} contains Python objects beyond tensors and plain containers, so it "
                "could run code when loaded. quantviz only loads with weights_only=True and "
                "never runs code from a file. Re-save just the weights, e.g. "
                "torch.save(model.state_dict(), 'weights.pt'), or use safetensors."
            ) from None
        raise InputError(f"{what} is truncated or corrupted ({_short(e)}).") from None
    except BAD_DATA as e:
        raise InputError(f"{what} is truncated or corrupted ({_short(e)}).") from None
    if isinstance(obj, torch.Tensor):
        return RawSource([entry_for_tensor(stem, obj)], single=True)
    entries = [entry_for_tensor(name, t) for name, t in _flatten(obj, "", 0)]
    if not entries:
        raise InputError(f"{what} holds no tensors.")
    return RawSource(entries)


def _flatten(obj: Any, prefix: str, depth: int) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors in nested dicts/lists, named 'a.b.0.c' in insertion (model) order."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(obj, torch.Tensor):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}.{i}" if prefix else str(i), depth + 1)
    # Other leaves (ints, strings, None: epochs, config) are not tensors: skipped.


def _check_zip_sizes(source: Any, what: str, max_file_bytes: int) -> None:
    try:
        f = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        with zipfile.ZipFile(f) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except BAD_DATA as e:
        raise InputError(f"{what} is truncated or corrupted ({e}).") from None
    if total > max_file_bytes:
        raise InputError(
            f"{what} would unpack to {fmt_count(total)} bytes, more than the limit of "
            f"{fmt_count(max_file_bytes)} bytes."
        )


def _short(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:200]
