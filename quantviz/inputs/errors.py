"""The error people see, the size bounds, and the checks every input path shares.

Every way a tensor enters quantviz (typed text, an uploaded file, a checkpoint on disk) ends in
the same few checks here, so the rules and the wording stay the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

# Bounds. Callers may pass larger (or smaller) values as keyword arguments; these are defaults.
MAX_ELEMENTS = 64 * 2**20
"""Elements in one tensor (64 Mi: 256 MiB as float32). Checked from headers before reading."""
MAX_TEXT_BYTES = 16 * 2**20
"""Bytes of typed/pasted text or of a text file (.csv/.tsv/.txt)."""
MAX_FILE_BYTES = 2 * 2**30
"""Bytes of an uploaded file, or of a file that must be read whole (not memory mapped)."""

BAD_DATA = (Exception,)
"""What third-party parsers may raise on hostile bytes. zipfile, numpy's header parser
(ast.literal_eval) and torch raise a zoo of types there (NotImplementedError, SyntaxError,
tokenize.TokenError, struct.error, MemoryError, ...), so around those calls any Exception means
"this data is bad" and becomes an InputError; InputError itself is re-raised untouched."""

FLOAT_DTYPES = frozenset(
    {
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.float8_e4m3fn,
        torch.float8_e5m2,
    }
)


class InputError(ValueError):
    """Input quantviz cannot use. The message is written for people: what is wrong, where, and
    how to fix it."""


def dtype_name(dtype: torch.dtype) -> str:
    """'torch.float32' -> 'float32'."""
    return str(dtype).removeprefix("torch.")


def fmt_count(n: int) -> str:
    """12345678 -> '12,345,678'."""
    return f"{n:,}"


def fmt_shape(shape: Sequence[int]) -> str:
    """(3, 4) -> '3×4'; () -> 'a scalar'."""
    return "×".join(str(d) for d in shape) if len(shape) else "a scalar"


def numel_of(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


MAX_DIMS = 64
"""Dimensions a header may give (torch's and NumPy's own limit)."""


def check_header_shape(shape: Sequence[object], what: str) -> None:
    """Refuse a shape from a file header that no array could have: a dimension that is not a
    whole number ≥ 0, more than :data:`MAX_DIMS` dimensions, or dimensions whose product
    overflows 64 bits (even next to a 0: ``[0, 2**70]`` is still refused by torch and NumPy).

    Args:
        shape: the dimensions as the header gives them (may be any JSON or Python values).
        what: how to name the file or tensor; the message continues "is corrupted: ...".
    """
    if len(shape) > MAX_DIMS:
        raise InputError(
            f"{what} is corrupted: its header gives {fmt_count(len(shape))} dimensions; a "
            f"tensor has at most {MAX_DIMS}."
        )
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InputError(
            f"{what} is corrupted: its header gives the shape {repr(shape)[:80]}; every "
            "dimension must be a whole number ≥ 0."
        )
    if math.prod(max(int(d), 1) for d in shape) >= 2**60:  # x 8-byte items < 2**63
        shown = fmt_shape(shape) if len(shape) <= 8 else fmt_shape(shape[:8]) + "×…"
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InputError(
            f"{what} is corrupted: its header gives the shape {shown}, too large for any "
            "array to have (its dimensions multiply past 2^60)."
        )


def check_elements(numel: int, max_elements: int, what: str = "The tensor") -> None:
    """Refuse a tensor above the element bound, before any data is read."""
    if numel > max_elements:
        raise InputError(
            f"{what} has {fmt_count(numel)} elements, more than the limit of "
            f"{fmt_count(max_elements)}. Use a smaller slice, or raise the limit with "
            f"max_elements=."
        )


def check_bytes(nbytes: int, max_bytes: int, what: str = "The file") -> None:
    if nbytes > max_bytes:
        raise InputError(
            f"{what} is {fmt_count(nbytes)} bytes, more than the limit of "
            f"{fmt_count(max_bytes)} bytes."
        )


def check_single_shape(shape: Sequence[int], what: str = "The tensor") -> None:
    """A single matrix must have 1 to 4 dimensions and at least one element."""
    if len(shape) == 0:
        raise InputError(
            f"{what} is a single number (a 0-d scalar). quantviz needs at least a vector: "
            "give a row of values or a matrix."
        )
    if len(shape) > 4:
        raise InputError(
            f"{what} has {len(shape)} dimensions ({fmt_shape(shape)}); quantviz handles 1 to 4. "
            "Pick a slice, e.g. t[0], or reshape it."
        )
    if numel_of(shape) == 0:
        raise InputError(f"{what} is empty (shape {fmt_shape(shape)}): there is nothing to show.")


def not_quantizable_reason(dtype: str, shape: Sequence[int], is_float: bool) -> str | None:
    """Why a checkpoint entry cannot be quantized, or None if it can (element bound aside)."""
    if not is_float:
        return f"{dtype} tensor: not quantizable"
    if len(shape) == 0:
        return "0-d scalar: not quantizable"
    if len(shape) > 4:
        return f"{len(shape)}-d tensor: quantviz handles 1 to 4 dimensions"
    if numel_of(shape) == 0:
        return f"empty tensor ({fmt_shape(shape)}): nothing to quantize"
    return None


def format_index(index: Sequence[int], text_style: bool) -> str:
    """Say where an element is: 'row 2, column 3' (1-based, for typed text) or 'index (1, 2)'
    (0-based, as in Python, for tensors from files)."""
    if text_style:
        if len(index) == 1:
            return f"position {index[0] + 1}"
        if len(index) == 2:
            return f"row {index[0] + 1}, column {index[1] + 1}"
        return "index [" + ", ".join(str(i + 1) for i in index) + "] (counting from 1)"
    return "index (" + ", ".join(str(i) for i in index) + ")"


def check_finite(t: torch.Tensor, what: str = "The tensor", text_style: bool = False) -> None:
    """Refuse NaN and ±inf, saying how many and where the first few are.

    Args:
        t: a floating tensor (other dtypes pass).
        what: how to name the tensor in the message.
        text_style: positions as 1-based row/column (typed text) instead of 0-based indices.
    """
    if not t.is_floating_point():
        return
    # Fast path: NaN and inf propagate through a sum, so a finite sum proves every element is
    # finite, at a fraction of the cost of isfinite() (which writes a mask). A non-finite sum may
    # also be an overflow of large finite values: then the exact check decides. NumPy's sum is
    # used where possible: it is single-threaded, so it does not stall on a busy machine the way
    # torch's thread pool does on many small tensors.
    if _sum_is_finite(t):
        return
    bad = ~torch.isfinite(t)
    if not bool(bad.any()):
        return
    n_bad = int(bad.sum())
    first = torch.nonzero(bad)[:5]
    flat = t[bad][:5].tolist()
    where = "; ".join(
        f"{format_index(idx, text_style)} ({_spell(v)})"
        for idx, v in zip(first.tolist(), flat, strict=True)
    )
    more = f" and {fmt_count(n_bad - 5)} more" if n_bad > 5 else ""
    values = "value that is" if n_bad == 1 else "values that are"
    raise InputError(
        f"{what} has {fmt_count(n_bad)} {values} NaN or infinite: {where}{more}. Quantization "
        "needs finite numbers: replace or remove them first."
    )


FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
"""Smallest magnitude that becomes ±inf in float32: float32's max (2^128 − 2^104) plus half an
ulp (2^103), where round-to-nearest-even rounds up (the max's mantissa is odd). Exact in float64."""


def check_float32_range(
    t: torch.Tensor, what: str = "The tensor", text_style: bool = False
) -> None:
    """Refuse finite values too large for float32 (they would become ±inf when converted),
    saying how many and where the first is. Run it before the conversion, after
    :func:`check_finite`, so a genuine inf is still called one.

    Args:
        t: a tensor about to be converted to float32 (only float64 can exceed its range).
        what: how to name the tensor in the message.
        text_style: positions as 1-based row/column (typed text) instead of 0-based indices.
    """
    if t.dtype != torch.float64 or t.numel() == 0:
        return
    lo, hi = torch.aminmax(t)  # no full-size temporary in the common, in-range case
    if float(lo) > -FLOAT32_OVERFLOW and float(hi) < FLOAT32_OVERFLOW:
        return
    big = t.abs() >= FLOAT32_OVERFLOW
    n_big = int(big.sum())
    if n_big == 0:  # NaN defeated the fast path; check_finite reports those
        return
    first = torch.nonzero(big)[0]
    value = float(t[tuple(first.tolist())])
    values = "value is" if n_big == 1 else "values are"
    raise InputError(
        f"{what}: {fmt_count(n_big)} {values} too large for float32 (beyond ±3.4e38), the first "
        f"at {format_index(first.tolist(), text_style)}: {value:.8g}. quantviz works in float32: "
        "scale the data down first."
    )


def _sum_is_finite(t: torch.Tensor) -> bool:
    if t.dtype in (torch.float32, torch.float64) and t.device.type == "cpu":
        arr = t.detach().numpy()
        with np.errstate(all="ignore"):  # inf - inf in the sum is expected here, not a bug
            return bool(np.isfinite(arr.sum(dtype=arr.dtype)))
    return bool(torch.isfinite(t.sum()))


def _spell(v: float) -> str:
    if math.isnan(v):
        return "nan"
    return "inf" if v > 0 else "-inf"
