"""PyTorch checkpoints with ``weights_only=True`` and no fallback, flattened to dotted names.

``weights_only=True`` restricts unpickling to tensors and plain containers, so a checkpoint that
carries a code-running payload fails to load instead of running it. quantviz never retries with
``weights_only=False``: a file that needs it is refused with advice on how to re-save it, and
PyTorch's own hint to retry with ``weights_only=False`` is never passed on.

What a file may expand to is bounded before any tensor is materialised: a few bytes of storage
can back views of any size (stride 0) or hundreds of names, so the elements all its tensors
claim are summed and refused above the larger of the element bound and
:data:`MAX_ELEMENTS_PER_FILE_BYTE` per byte of the file.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import torch

from quantviz.inputs._pickle_scan import refused_pickle_message
from quantviz.inputs._raw import RawSource, entry_for_tensor
from quantviz.inputs.errors import BAD_DATA, MAX_ELEMENTS, InputError, fmt_count

_MAX_DEPTH = 32
MAX_ELEMENTS_PER_FILE_BYTE = 4
"""How many elements a .pt's tensors may claim in all per byte of the file, beyond the element
bound. Real checkpoints hold at most one element per byte (int8/float8), two with every weight
tied to another name; views that repeat a tiny storage claim millions per byte."""


def read_torch(
    source: bytes | os.PathLike | str,
    stem: str,
    what: str,
    is_zip: bool,
    max_file_bytes: int,
    max_elements: int = MAX_ELEMENTS,
) -> RawSource:
    """Load a .pt/.pth (bytes or path) safely and list its tensors.

    Args:
        source: the file's bytes, or its path (then memory mapped when it is a zip checkpoint).
        stem: name for a checkpoint that is a single tensor.
        what: how to name the file in messages.
        is_zip: the file is torch's zip format (else the legacy pickle format).
        max_file_bytes: bound on the unpacked size of a zip checkpoint's members.
        max_elements: the per-tensor element bound, also the least the file may claim in all.

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
        raise InputError(refused_pickle_message(source, is_zip, what, str(e))) from None
    except BAD_DATA as e:
        raise InputError(f"{what} is truncated or corrupted ({_short(e)}).") from None
    named = [(stem, obj)] if isinstance(obj, torch.Tensor) else list(_flatten(obj, "", 0))
    if not named:
        raise InputError(f"{what} holds no tensors.")
    file_bytes = len(source) if not is_path else os.path.getsize(f)
    _check_expansion(named, what, file_bytes, max_elements)
    if isinstance(obj, torch.Tensor):
        return RawSource([entry_for_tensor(stem, obj)], single=True)
    return RawSource(_entries(named))


def _view_key(t: torch.Tensor) -> tuple | None:
    """What makes two tensors the same data: storage, offset, shape, strides, dtype."""
    if t.layout != torch.strided or t.is_quantized:
        return None
    try:
        ptr = t.untyped_storage().data_ptr()
    except BAD_DATA:
        return None
    return (ptr, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def _entries(named: list[tuple[str, torch.Tensor]]) -> list:
    """One entry per name; a name that is the very same view as an earlier one (weights tied
    to another name, e.g. an LM head to its embedding) says so, so it is loaded only once."""
    first: dict[tuple, str] = {}
    entries = []
    for name, t in named:
        key = _view_key(t)
        alias = first.setdefault(key, name) if key is not None else name
        entries.append(entry_for_tensor(name, t, alias_of=None if alias == name else alias))
    return entries


def _check_expansion(
    named: list[tuple[str, torch.Tensor]], what: str, file_bytes: int, max_elements: int
) -> None:
    """Refuse a file whose tensors claim far more elements than its bytes could hold."""
    claimed = sum(t.numel() for _, t in named)
    allowed = max(max_elements, MAX_ELEMENTS_PER_FILE_BYTE * file_bytes)
    if claimed <= allowed:
        return
    storages: dict[int, int] = {}
    for _, t in named:
        key = _view_key(t)
        if key is not None:
            storages[key[0]] = t.untyped_storage().nbytes()
    stored = sum(storages.values())
    raise InputError(
        f"{what} claims {fmt_count(claimed)} elements in its {fmt_count(len(named))} "
        f"tensor(s), but the file is {fmt_count(file_bytes)} bytes with "
        f"{fmt_count(stored)} bytes of tensor data: its tensors are views that repeat the same "
        "few stored values (stride 0, or many names on one storage), and would expand to "
        f"{fmt_count(claimed * 4)} bytes as float32. quantviz refuses files whose tensors "
        f"claim more than {fmt_count(allowed)} elements (the larger of the element limit and "
        f"{MAX_ELEMENTS_PER_FILE_BYTE} per byte of the file)."
    )


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
