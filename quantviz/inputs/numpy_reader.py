""".npy and .npz without pickle, with sizes checked before data is read or decompressed.

The .npy header is parsed first, so object arrays (which need pickle, which can run code) and
oversized arrays are refused before any data is touched. For .npz the zip directory's declared
sizes are checked before decompressing anything, so a zip bomb is refused up front.
"""

from __future__ import annotations

import io
import math
import zipfile
from typing import Any

import numpy as np
import torch

from quantviz.inputs._raw import RawEntry, RawSource
from quantviz.inputs.errors import (
    BAD_DATA,
    InputError,
    check_elements,
    check_header_shape,
    fmt_count,
    fmt_shape,
)

_MAX_NPY_HEADER = 1 << 16


def _bad_dtype(dtype: np.dtype) -> str | None:
    """Why an array of this dtype cannot become a tensor, or None."""
    if dtype.hasobject:
        return (
            "an object array: reading it would need pickle, which can run code, so quantviz "
            "refuses it. Save a numeric array instead, e.g. np.save(f, arr.astype(np.float32))"
        )
    if dtype.kind == "c":
        return (
            f"a {dtype.name} array: complex numbers are not supported; quantviz works on real "
            "numbers (take the real part or the magnitude first)"
        )
    if dtype.kind == "f" and dtype.itemsize not in (2, 4, 8):
        return f"a {dtype.name} array: convert it to float32 or float64 first"
    if dtype.kind not in "fiub" or dtype.fields is not None or dtype.subdtype is not None:
        return f"a {dtype} array: it does not hold plain numbers"
    return None


def read_npy_header(fp: Any, what: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Parse a .npy header from a file object positioned at its start.

    Returns:
        (shape, dtype, fortran_order); fp is left at the first data byte.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp, max_header_size=_MAX_NPY_HEADER)
        else:
            shape = None
    except BAD_DATA as e:
        # numpy's first line is the reason; later lines advise allow_pickle=True, which must
        # never be passed on to people.
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise InputError(
            f"{what} is truncated or corrupted: its header is unreadable ({reason})."
        ) from None
    if shape is None:
        # Version 3.0 only exists for structured arrays with non-latin-1 field names, refused
        # anyway.
        raise InputError(
            f"{what} uses .npy format version {version}, which quantviz does not read."
        )
    _check_shape(shape, what)
    return shape, dtype, fortran


def _check_shape(shape: tuple, what: str) -> None:
    """numpy's header parser accepts any ints, so a hand-made header may say (-1, 6): reshape
    would then infer a dimension (a silent (1, 6)) and (True, 6) would pass as (1, 6); or
    (0, 2**70) and 65 dimensions, which numpy and torch refuse with their own errors later."""
    check_header_shape(shape, what)


def read_npy(buf: Any, name: str, what: str, max_elements: int) -> RawSource:
    """A .npy buffer (bytes or mmap) -> one entry; reading copies only the array's bytes."""
    head = io.BytesIO(bytes(buf[: _MAX_NPY_HEADER + 16]))
    shape, dtype, fortran = read_npy_header(head, what)
    check_elements(math.prod(shape), max_elements, what)
    offset = head.tell()
    entry = _npy_entry(name, shape, dtype, what, len(buf) - offset)

    def read() -> torch.Tensor:
        return _to_tensor(buf, offset, shape, dtype, fortran)

    return RawSource([_with_read(entry, read)], single=True)


def _npy_entry(
    name: str, shape: tuple[int, ...], dtype: np.dtype, what: str, available: int
) -> RawEntry:
    why = _bad_dtype(dtype)
    if why and dtype.hasobject:
        raise InputError(f"{what} holds {why}.")
    numel = math.prod(shape)
    nbytes = numel * dtype.itemsize
    if why is None and nbytes > available:
        raise InputError(
            f"{what} is truncated: its header promises {fmt_shape(shape)} {dtype.name} "
            f"({fmt_count(nbytes)} bytes) but only {fmt_count(max(available, 0))} bytes follow."
        )
    return RawEntry(
        name=name,
        shape=tuple(int(d) for d in shape),
        dtype=dtype.name,
        nbytes=nbytes,
        is_float=dtype.kind == "f" and why is None,
        read=_unset,
        problem=why,
    )


def _with_read(entry: RawEntry, read: Any) -> RawEntry:
    return RawEntry(
        entry.name, entry.shape, entry.dtype, entry.nbytes, entry.is_float, read, entry.problem
    )


def _unset() -> torch.Tensor:  # pragma: no cover
    raise AssertionError("read not set")


def _to_tensor(
    buf: Any, offset: int, shape: tuple[int, ...], dtype: np.dtype, fortran: bool
) -> torch.Tensor:
    numel = math.prod(shape)
    flat = np.frombuffer(buf, dtype=dtype, count=numel, offset=offset)
    arr = flat.reshape(shape, order="F" if fortran else "C")
    # One copy, into native byte order and C layout: the tensor owns writable memory and the
    # (read-only, maybe memory-mapped) buffer is not referenced any more.
    return torch.from_numpy(np.array(arr, dtype=dtype.newbyteorder("="), order="C", copy=True))


def read_npz(fileobj: Any, what: str, max_file_bytes: int, max_elements: int) -> RawSource:
    """A .npz (bytes in a BytesIO, or an open file) -> one lazy entry per array.

    Declared member sizes are checked against ``max_file_bytes`` before anything is
    decompressed; each array's header is read (a few hundred bytes) to list it.
    """
    try:
        zf = zipfile.ZipFile(fileobj)
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except BAD_DATA as e:
        raise InputError(f"{what} is truncated or corrupted ({e}).") from None
    total = sum(i.file_size for i in infos)
    if total > max_file_bytes:
        zf.close()
        raise InputError(
            f"{what} would unpack to {fmt_count(total)} bytes, more than the limit of "
            f"{fmt_count(max_file_bytes)} (compressed it is only "
            f"{fmt_count(sum(i.compress_size for i in infos))}: a zip bomb or a very large "
            "archive). Save fewer or smaller arrays."
        )
    entries = []
    try:
        for info in infos:
            entries.append(_npz_entry(zf, info, what))
    except InputError:
        zf.close()
        raise
    if not entries:
        zf.close()
        raise InputError(f"{what} holds no arrays.")
    return RawSource(entries, closers=[zf.close])


def _npz_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> RawEntry:
    name = info.filename.removesuffix(".npy")
    member = f"{what} (array '{name}')"
    try:
        with zf.open(info) as f:
            shape, dtype, fortran = read_npy_header(f, member)
            header_len = f.tell()
    except InputError:
        raise
    except BAD_DATA as e:
        raise InputError(f"{member} is truncated or corrupted ({e}).") from None
    entry = _npy_entry(name, shape, dtype, member, info.file_size - header_len)
    nbytes = entry.nbytes

    def read() -> torch.Tensor:
        try:
            with zf.open(info) as f:
                f.read(header_len)
                data = f.read(nbytes)
        except BAD_DATA as e:
            raise InputError(f"{member} is truncated or corrupted ({e}).") from None
        if len(data) != nbytes:
            raise InputError(f"{member} is truncated: its data ends early.")
        return _to_tensor(data, 0, shape, dtype, fortran)

    return _with_read(entry, read)
