"""Read safetensors without trusting the header and without copying the whole file.

The header is parsed and checked here (not by the safetensors package) so that a lying header
(offsets past the data, a shape that does not match the byte count, overlapping tensors) gives
an InputError before any allocation. Each tensor is then copied out of the buffer on its own,
so with a memory-mapped file the peak memory stays near the largest tensor.
"""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import struct
from typing import Any

import torch

from quantviz.inputs._raw import RawEntry, RawSource, problem_for
from quantviz.inputs.errors import (
    FLOAT_DTYPES,
    InputError,
    check_header_shape,
    dtype_name,
    fmt_count,
    fmt_shape,
)

MAX_HEADER_BYTES = 100 * 2**20  # the safetensors format's own limit

DTYPES: dict[str, torch.dtype] = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "U16": torch.uint16,
    "I16": torch.int16,
    "U32": torch.uint32,
    "I32": torch.int32,
    "U64": torch.uint64,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "F8_E8M0": torch.float8_e8m0fnu,
    "C64": torch.complex64,
}


def read_safetensors(buf: Any, what: str = "The safetensors file") -> RawSource:
    """List the tensors of a safetensors buffer; each entry reads only its own bytes.

    Args:
        buf: bytes, bytearray or an ``mmap.mmap`` of the file (kept, not copied).
        what: how to name the file in messages.

    Returns:
        A RawSource with one entry per tensor, in the order of their data in the file.

    Raises:
        InputError: truncated file, unreadable or lying header.
    """
    size = len(buf)
    if size < 8:
        raise InputError(f"{what} is truncated: it is only {size} bytes long.")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER_BYTES:
        raise InputError(f"{what} is corrupted: its header claims {fmt_count(n)} bytes.")
    if 8 + n > size:
        raise InputError(
            f"{what} is truncated or corrupted: its header should be {fmt_count(n)} bytes but "
            f"the file has only {fmt_count(size - 8)} after the length."
        )
    try:
        header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(f"{what} is corrupted: its header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise InputError(f"{what} is corrupted: its header is not a JSON object.")
    data_start, data_len = 8 + n, size - 8 - n
    entries = [
        _entry(buf, name, info, data_start, data_len, what)
        for name, info in header.items()
        if name != "__metadata__"
    ]
    spans = sorted((_offsets(header[e.name]), e.name) for e in entries)
    prev_end, prev_name = 0, ""
    for (begin, end), name in spans:
        if begin < prev_end and begin != end:
            raise InputError(
                f"{what} is corrupted: tensors '{prev_name}' and '{name}' overlap in the data."
            )
        if end > prev_end:
            prev_end, prev_name = end, name
    if not entries:
        raise InputError(f"{what} holds no tensors.")
    order = {name: i for i, (_, name) in enumerate(spans)}
    entries.sort(key=lambda e: order[e.name])
    return RawSource(entries)


def _offsets(info: dict) -> tuple[int, int]:
    return int(info["data_offsets"][0]), int(info["data_offsets"][1])


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _entry(buf: Any, name: str, info: Any, start: int, data_len: int, what: str) -> RawEntry:
    def bad(why: str) -> InputError:
        return InputError(f"{what} is corrupted: tensor '{name}' {why}.")

    if not isinstance(info, dict):
        raise bad("has no description")
    dt, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dt, str):
        raise bad("has no dtype")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        shown = repr(shape)[:80]  # the header may hold a huge list: name the start of it
        raise bad(f"has the invalid shape {shown} (every dimension must be a whole number ≥ 0)")
    check_header_shape(shape, f"{what} (tensor '{name}')")
    if not (isinstance(offs, list) and len(offs) == 2 and all(_is_int(o) for o in offs)):
        raise bad("has invalid data offsets")
    begin, end = offs
    if not 0 <= begin <= end <= data_len:
        raise bad(
            f"claims bytes {begin}..{end} but the data section holds {fmt_count(data_len)} bytes"
            " (the file is truncated or its header lies)"
        )
    shape_t = tuple(shape)
    numel = math.prod(shape_t)
    torch_dtype = DTYPES.get(dt)
    if torch_dtype is None:
        # Unknown to quantviz (e.g. a 4-bit float): listed, never loaded.
        return RawEntry(name, shape_t, dt, end - begin, False, _never, f"{dt} tensor: unsupported")
    itemsize = torch_dtype.itemsize
    if numel * itemsize != end - begin:
        raise bad(
            f"has shape {fmt_shape(shape_t)} of {dt} ({fmt_count(numel * itemsize)} bytes) but "
            f"{fmt_count(end - begin)} bytes of data"
        )
    lo, hi = start + begin, start + end

    def read() -> torch.Tensor:
        if numel == 0:
            return torch.empty(shape_t, dtype=torch_dtype)
        # Copy just this tensor out of the (possibly memory-mapped) buffer; release the views so
        # the mmap can be closed later.
        with memoryview(buf) as mv, mv[lo:hi] as part:
            raw = bytearray(part)
        _release_pages(buf, lo, hi)
        return torch.frombuffer(raw, dtype=torch.uint8).view(torch_dtype).reshape(shape_t)

    return RawEntry(
        name=name,
        shape=shape_t,
        dtype=dtype_name(torch_dtype),
        nbytes=end - begin,
        is_float=torch_dtype in FLOAT_DTYPES,
        read=read,
        problem=problem_for(torch_dtype),
    )


def _release_pages(buf: Any, lo: int, hi: int) -> None:
    """Drop a copied tensor's pages of a file mapping from this process's resident set.

    The pages stay in the OS page cache (a later read faults them back in cheaply); without this,
    a scan that reads a checkpoint tensor by tensor would count the whole file as resident.
    """
    if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        start = lo - lo % mmap.PAGESIZE
        with contextlib.suppress(OSError, ValueError):
            buf.madvise(mmap.MADV_DONTNEED, start, hi - start)


def _never() -> torch.Tensor:  # pragma: no cover - guarded by RawEntry.problem
    raise InputError("This tensor's dtype is not supported.")
