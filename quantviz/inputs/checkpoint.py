"""Open any supported file (or sharded checkpoint) lazily: list its tensors, load one at a time.

Typical use::

    with open_checkpoint("model.safetensors") as ck:
        for e in ck.entries:
            print(e.name, e.shape, e.dtype, e.quantizable, e.reason)
        w = ck.load("encoder.layer.0.attention.self.query.weight")   # float32, finite
"""

from __future__ import annotations

import difflib
import io
import mmap
import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import TracebackType

import torch

from quantviz.inputs import sniff as fmt
from quantviz.inputs._raw import RawEntry, RawSource
from quantviz.inputs.errors import (
    MAX_ELEMENTS,
    MAX_FILE_BYTES,
    MAX_TEXT_BYTES,
    InputError,
    check_bytes,
    check_elements,
    check_finite,
    check_float32_range,
    check_single_shape,
    fmt_count,
    not_quantizable_reason,
    numel_of,
)
from quantviz.inputs.numpy_reader import read_npy, read_npz
from quantviz.inputs.safetensors_reader import read_safetensors
from quantviz.inputs.sharded import open_sharded
from quantviz.inputs.text import parse_matrix
from quantviz.inputs.torch_reader import read_torch

_CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".npy")


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a file, described from its header (no data read).

    Attributes:
        name: dotted name; nested state dicts are flattened ("encoder.0.weight").
        shape: the tensor's shape.
        dtype: the ORIGINAL dtype name ("float32", "bfloat16", "int64", "bool", ...).
        numel: number of elements.
        nbytes: size in the original dtype.
        quantizable: floating dtype, 1 to 4 dims, not empty, within the element bound.
        reason: why not quantizable, for people; None when quantizable.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nbytes: int
    quantizable: bool
    reason: str | None


class Checkpoint:
    """The tensors of an opened file. A context manager; close() releases memory maps.

    Attributes:
        entries: every tensor, in file (model) order.
    """

    def __init__(self, source: RawSource, what: str, max_elements: int) -> None:
        self._raw: dict[str, RawEntry] = {e.name: e for e in source.entries}
        self._closers = source.closers
        self._max_elements = max_elements
        self._closed = False
        self._single: torch.Tensor | None = None
        try:
            if source.single:
                self._single = _validate_single(source.entries[0], what, max_elements)
            self.entries: list[TensorEntry] = [self._describe(e) for e in source.entries]
        except BaseException:
            self.close()
            raise

    def _describe(self, e: RawEntry) -> TensorEntry:
        numel = numel_of(e.shape)
        if self._single is not None:
            reason = None  # validated and converted to float32 already
        else:
            reason = e.problem or not_quantizable_reason(e.dtype, e.shape, e.is_float)
            if reason is None and numel > self._max_elements:
                reason = (
                    f"too large: {fmt_count(numel)} elements, above the limit of "
                    f"{fmt_count(self._max_elements)} (pass max_elements= to raise it)"
                )
        return TensorEntry(e.name, e.shape, e.dtype, numel, e.nbytes, reason is None, reason)

    def load(self, name: str, *, check_finite: bool = True) -> torch.Tensor:
        """Read one tensor, and only that one.

        Args:
            name: an entry's name.
            check_finite: refuse a float tensor holding NaN/±inf (say how many, where).

        Returns:
            float32 for floating entries (converted from float16/bfloat16/float64/float8),
            the original dtype otherwise. The caller owns the tensor.
        """
        return self._load(name, check_finite, own=True)

    def _load(self, name: str, check: bool, own: bool) -> torch.Tensor:
        if self._closed:
            raise ValueError("This Checkpoint is closed.")
        e = self._raw.get(name)
        if e is None:
            near = difflib.get_close_matches(name, list(self._raw), n=3)
            hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise InputError(f"There is no tensor named '{name}'.{hint}")
        if self._single is not None:
            return self._single.clone() if own else self._single
        if e.problem:
            raise InputError(f"Tensor '{name}' cannot be loaded: {e.problem}.")
        check_elements(numel_of(e.shape), self._max_elements, f"Tensor '{name}'")
        t = e.read().detach()  # every reader's tensor is plain data, never part of a graph
        if check and t.dtype == torch.float64:
            # Before the cast, which would turn 1e39 into inf and the message into a wrong one.
            check_finite(t, f"Tensor '{name}'")
            check_float32_range(t, f"Tensor '{name}'")
        out = t.to(torch.float32) if e.is_float else t
        if out is t and own and not e.fresh:
            out = out.clone()
        if check:
            check_finite(out, f"Tensor '{name}'")
        return out

    def _load_all(self) -> dict[str, torch.Tensor]:
        """Every tensor, shared (not owned); a tied name reuses its twin's tensor."""
        out: dict[str, torch.Tensor] = {}
        for e in self.entries:
            alias = self._raw[e.name].alias_of
            if alias is not None and alias in out:
                out[e.name] = out[alias]
            else:
                out[e.name] = self._load(e.name, check=True, own=False)
        if not out:
            raise InputError("The file holds no tensors.")
        return out

    def close(self) -> None:
        """Release memory maps and open files. Loaded tensors stay valid."""
        if self._closed:
            return
        self._closed = True
        for close in self._closers:
            close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpoint({len(self.entries)} tensors)"


def _validate_single(e: RawEntry, what: str, max_elements: int) -> torch.Tensor:
    """A file that is one matrix must be usable as it is: check it all now, load it once."""
    if e.problem:
        raise InputError(f"{what} cannot be used: {e.problem}.")
    if e.dtype == "bool":
        raise InputError(
            f"{what} holds a bool array: true/false values are not numbers to quantize."
        )
    check_single_shape(e.shape, what)
    check_elements(numel_of(e.shape), max_elements, what)
    # Integers in a lone matrix are data the person wants to see: analyse them as float32.
    t = e.read().detach()
    if t.dtype == torch.float64:
        check_finite(t, what)
        check_float32_range(t, what)
    t = t.to(torch.float32)
    check_finite(t, what)
    return t


def open_checkpoint(
    source: bytes | bytearray | str | os.PathLike,
    filename: str | None = None,
    *,
    max_elements: int = MAX_ELEMENTS,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> Checkpoint:
    """Open a file's tensors without loading them (headers only, memory mapped on disk).

    Args:
        source: an uploaded file's bytes, or a path: one file of any supported format, a
            sharded checkpoint's ``*.index.json``, or a folder holding exactly one of those.
        filename: the upload's name (bytes only), checked against the content and used to
            name a single-tensor file ("matrix" for "matrix.npy").
        max_elements: per-tensor element bound.
        max_file_bytes: bound on uploaded bytes and on files that must be read whole.
        max_text_bytes: bound on text files.

    Returns:
        A Checkpoint; use it as a context manager.

    Raises:
        InputError: anything wrong with the input, with a message for people.
    """
    limits = (max_elements, max_file_bytes, max_text_bytes)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source) if isinstance(source, memoryview) else source
        what = f"'{PurePath(filename).name}'" if filename else "The file"
        stem = PurePath(filename).stem if filename else "tensor"
        check_bytes(len(data), max_file_bytes, what)
        if filename and filename.endswith(".index.json"):
            raise InputError(
                f"{what} is the index of a sharded checkpoint; it holds no tensors. Upload one "
                "of its shard files, or open the checkpoint's folder by path."
            )
        raw = _open_bytes(data, filename, stem, what, limits)
        return Checkpoint(raw, what, max_elements)
    if not isinstance(source, str | os.PathLike):
        raise InputError(f"Expected file bytes or a path, got {type(source).__name__}.")
    path = Path(source)
    if path.is_dir():
        path = _resolve_folder(path)
    if not path.is_file():
        raise InputError(f"There is no file at '{path}'.")
    what = f"'{path.name}'"
    if path.name.endswith(".index.json"):
        raw = open_sharded(path, lambda p: _open_path(p, limits))
    else:
        raw = _open_path(path, limits)
    return Checkpoint(raw, what, max_elements)


def load_tensors(
    data: bytes,
    filename: str,
    *,
    max_elements: int = MAX_ELEMENTS,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> dict[str, torch.Tensor]:
    """Every tensor of an uploaded file, by name, in file order.

    Float tensors come as float32 (NaN/inf refused); integer and bool tensors keep their dtype
    so callers can see they are not quantizable. For the original dtypes, sizes and reasons use
    :func:`open_checkpoint` and its ``entries``.

    Returns:
        A non-empty dict. Names whose tensors are the very same data (tied weights) map to one
        tensor, loaded once.

    Raises:
        InputError: anything wrong with the file; no other exception escapes for bad data.
    """
    with open_checkpoint(
        data,
        filename,
        max_elements=max_elements,
        max_file_bytes=max_file_bytes,
        max_text_bytes=max_text_bytes,
    ) as ck:
        return ck._load_all()


def _open_bytes(
    data: bytes, filename: str | None, stem: str, what: str, limits: tuple[int, int, int]
) -> RawSource:
    max_elements, max_file_bytes, max_text_bytes = limits
    head = data[: fmt.SNIFF_BYTES]
    names = fmt.zip_names(data) if fmt.is_zip(head) else None
    kind = fmt.sniff(head, names)
    fmt.check_name(kind, filename)
    if kind == fmt.TEXT:
        return _text_source(data, stem, what, max_elements, max_text_bytes)
    if kind == fmt.NPY:
        return read_npy(data, stem, what, max_elements)
    if kind == fmt.NPZ:
        return read_npz(io.BytesIO(data), what, max_file_bytes, max_elements)
    if kind == fmt.TORCH:
        return read_torch(data, stem, what, fmt.is_zip(head), max_file_bytes, max_elements)
    return read_safetensors(data, what)


def _open_path(path: Path, limits: tuple[int, int, int]) -> RawSource:
    max_elements, max_file_bytes, max_text_bytes = limits
    what, stem = f"'{path.name}'", path.stem
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(fmt.SNIFF_BYTES)
    names = fmt.zip_names(path) if fmt.is_zip(head) else None
    kind = fmt.sniff(head, names)
    fmt.check_name(kind, path.name)
    if kind == fmt.TEXT:
        check_bytes(size, max_text_bytes, what)
        return _text_source(path.read_bytes(), stem, what, max_elements, max_text_bytes)
    if kind == fmt.TORCH:
        if not fmt.is_zip(head):  # the legacy format cannot be memory mapped: read whole
            check_bytes(size, max_file_bytes, what)
        return read_torch(path, stem, what, fmt.is_zip(head), max_file_bytes, max_elements)
    if kind == fmt.NPZ:
        f = path.open("rb")
        try:
            raw = read_npz(f, what, max_file_bytes, max_elements)
        except BaseException:
            f.close()
            raise
        raw.closers.append(f.close)
        return raw
    # npy and safetensors: memory map, so each load copies just one tensor from the page cache.
    with path.open("rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        raw = (
            read_npy(mm, stem, what, max_elements)
            if kind == fmt.NPY
            else read_safetensors(mm, what)
        )
    except BaseException:
        mm.close()
        raise
    raw.closers.append(mm.close)
    return raw


def _text_source(
    data: bytes, stem: str, what: str, max_elements: int, max_text_bytes: int
) -> RawSource:
    check_bytes(len(data), max_text_bytes, what)
    try:
        t = parse_matrix(fmt.decode_text(data), max_elements=max_elements, max_bytes=max_text_bytes)
    except InputError as e:
        raise InputError(f"{what}: {e}") from None
    entry = RawEntry(stem, tuple(t.shape), "float32", t.numel() * 4, True, lambda: t, fresh=False)
    return RawSource([entry], single=True)


def _resolve_folder(folder: Path) -> Path:
    """A folder stands for its one index file, or else its one checkpoint file."""
    indexes = sorted(folder.glob("*.index.json"))
    if len(indexes) == 1:
        return indexes[0]
    if len(indexes) > 1:
        names = ", ".join(p.name for p in indexes)
        raise InputError(f"The folder '{folder}' holds several indexes ({names}); pick one.")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _CHECKPOINT_SUFFIXES
    )
    if len(files) == 1:
        return files[0]
    if not files:
        raise InputError(
            f"The folder '{folder}' holds no checkpoint (.safetensors, .pt, .pth, .bin, .npz, "
            ".npy) and no *.index.json."
        )
    names = ", ".join(p.name for p in files[:5])
    raise InputError(f"The folder '{folder}' holds several checkpoint files ({names}); pick one.")
