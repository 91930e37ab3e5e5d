"""Which format a file is, from its first bytes, and whether that agrees with its name.

The content decides; the name is only checked against it, so a renamed or mislabelled file is
caught with a clear message instead of being fed to the wrong (possibly unsafe) reader.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import PurePath

from quantviz.inputs.errors import BAD_DATA, InputError

SAFETENSORS, NPY, NPZ, TORCH, TEXT = "safetensors", "npy", "npz", "torch", "text"

FORMAT_NAMES = {
    SAFETENSORS: "a safetensors file",
    NPY: "a NumPy .npy file",
    NPZ: "a NumPy .npz archive",
    TORCH: "a PyTorch checkpoint (.pt/.pth)",
    TEXT: "a text file (.csv/.tsv/.txt)",
}

EXTENSIONS = {
    ".safetensors": SAFETENSORS,
    ".npy": NPY,
    ".npz": NPZ,
    ".pt": TORCH,
    ".pth": TORCH,
    ".bin": TORCH,
    ".ckpt": TORCH,
    ".csv": TEXT,
    ".tsv": TEXT,
    ".txt": TEXT,
}
"""File name endings quantviz reads, and the format each promises."""

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SNIFF_BYTES = 4096
"""How many leading bytes :func:`sniff` needs (zip archives are told apart by their directory,
so :func:`sniff` takes the zip's file object when it has one)."""


def format_from_name(filename: str) -> str | None:
    """The format a name promises, or None for an unknown or missing extension."""
    return EXTENSIONS.get(PurePath(filename).suffix.lower())


def sniff(head: bytes, zip_names: list[str] | None = None) -> str:
    """The format of a file from its leading bytes.

    Args:
        head: the first bytes of the file (at least 16; :data:`SNIFF_BYTES` for text).
        zip_names: member names, when the file is a zip archive (None to detect a zip only).

    Returns:
        One of SAFETENSORS, NPY, NPZ, TORCH, TEXT.

    Raises:
        InputError: empty, or binary content quantviz does not know.
    """
    if not head:
        raise InputError("The file is empty.")
    if head.startswith(b"\x93NUMPY"):
        return NPY
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(zip_names or [])
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n < 2**40:  # a real length has zero high bytes; text never has NUL bytes
            return SAFETENSORS
    # Checked after safetensors: a header length of 128..255 also starts with 0x80.
    if head[:1] == b"\x80":  # pickle protocol 2+: a legacy (non-zip) torch.save file
        return TORCH
    if looks_like_text(head):
        return TEXT
    raise InputError(
        "The file is not in a format quantviz reads: expected .csv/.tsv/.txt text, .npy, .npz, "
        ".safetensors or .pt/.pth."
    )


def _zip_kind(names: list[str]) -> str:
    # torch.save writes '<archive>/data.pkl'; np.savez writes '<key>.npy' members only.
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return TORCH
    if all(n.endswith(".npy") for n in names):
        return NPZ
    raise InputError(
        "The file is a zip archive but neither a NumPy .npz nor a PyTorch checkpoint "
        f"(it holds {', '.join(names[:3])}{'...' if len(names) > 3 else ''})."
    )


def is_zip(head: bytes) -> bool:
    return head.startswith(_ZIP_MAGIC)


def zip_names(data: bytes | os.PathLike) -> list[str]:
    """Member names of a zip, or InputError if its directory is unreadable."""
    try:
        f = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
        with zipfile.ZipFile(f) as zf:
            return zf.namelist()
    except BAD_DATA as e:
        raise InputError(f"The zip archive is truncated or corrupted ({e}).") from None


def looks_like_text(head: bytes) -> bool:
    """Text has no NUL bytes (UTF-16 aside) and decodes; binary junk does not."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 3:  # a multi-byte character cut at the end of the sample
            return True
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return printable >= 0.95 * len(head)  # latin-1 text with a few accents


def decode_text(data: bytes) -> str:
    """Bytes of a text file -> str: UTF-8 (with or without BOM), UTF-16 with BOM, else latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("The file starts like UTF-16 text but does not decode.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def check_name(detected: str, filename: str | None) -> None:
    """Refuse a file whose content contradicts its name (e.g. a pickle named .npy)."""
    if not filename:
        return
    promised = format_from_name(filename)
    if promised is None or promised == detected:
        return
    raise InputError(
        f"'{PurePath(filename).name}' is named like {FORMAT_NAMES[promised]}, but its content is "
        f"{FORMAT_NAMES[detected]}. Check that you picked the right file, or rename it."
    )
