"""What every format reader hands to :class:`~quantviz.inputs.checkpoint.Checkpoint`.

A reader lists its tensors from headers alone and gives, per tensor, a function that reads only
that tensor. Checks that depend on the caller's bounds (quantizable or not, NaN) happen in the
Checkpoint, so every format follows the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from quantviz.inputs.errors import FLOAT_DTYPES, dtype_name


@dataclass(frozen=True)
class RawEntry:
    """One tensor as a reader sees it.

    Attributes:
        name: dotted name.
        shape: from the header.
        dtype: original dtype name ("bfloat16", "int64", "complex64", ...).
        nbytes: size in the original dtype.
        is_float: a real floating dtype torch can convert to float32.
        read: returns the tensor in its original dtype; raises InputError if the data is bad.
        problem: why this tensor can never be loaded (complex, unknown dtype), or None.
        fresh: read() returns a new tensor the caller may own (else it is shared, clone it).
        alias_of: the earlier entry holding the very same data (tied weights), or None.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    is_float: bool
    read: Callable[[], torch.Tensor] = field(repr=False)
    problem: str | None = None
    fresh: bool = True
    alias_of: str | None = None


@dataclass
class RawSource:
    """A reader's result: the tensors, whether the file is a single matrix, how to clean up."""

    entries: list[RawEntry]
    single: bool = False
    closers: list[Callable[[], None]] = field(default_factory=list)


def problem_for(dtype: torch.dtype) -> str | None:
    """Why a tensor of this dtype cannot be loaded at all, or None."""
    if dtype.is_complex:
        return (
            f"{dtype_name(dtype)} tensor: complex numbers are not supported; quantviz works on "
            "real numbers (take the real part or the magnitude first)"
        )
    if dtype.is_floating_point and dtype not in FLOAT_DTYPES:
        return f"{dtype_name(dtype)} tensor: this float format cannot be converted for analysis"
    return None


def entry_for_tensor(name: str, t: torch.Tensor, alias_of: str | None = None) -> RawEntry:
    """A RawEntry for a tensor already in memory (from torch.load); ``alias_of`` names an
    earlier entry that is the very same view (weights tied to another name).

    The tensor is detached: a saved ``nn.Parameter`` loads with ``requires_grad=True``, and
    handing that on would make every later in-place or ``out=`` operation raise.
    """
    t = t.detach()
    problem = problem_for(t.dtype)
    if t.is_quantized or t.layout != torch.strided:
        problem = f"{name}: quantized or sparse tensors are not supported"
    return RawEntry(
        name=name,
        shape=tuple(t.shape),
        dtype=dtype_name(t.dtype),
        nbytes=t.numel() * t.element_size(),
        is_float=t.dtype in FLOAT_DTYPES,
        read=lambda: t,
        problem=problem,
        fresh=False,
        alias_of=alias_of,
    )
