"""Granularities: which elements share one scale and zero point.

Each granularity is a small frozen dataclass. One adapter, :func:`to_blocks`, turns a tensor into a
2-D ``(num_blocks, block_len)`` layout for any granularity, so every range method and the quantizer
itself are written once, vectorized over all blocks. :func:`expand_to_elements` goes the other way
for per-block parameters (scales, zero points) when a full-size picture is wanted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


def _check_int(value: object, what: str, minimum: int | None = None) -> None:
    """Loud ValueError for non-integers (bool included: True is not a dim or a size)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class PerTensor:
    """One scale (and zero point) for the whole tensor."""

    def label(self) -> str:
        return "per-tensor"


@dataclass(frozen=True)
class PerChannel:
    """One scale per index along ``dim``: ``dim=0`` is per row, ``dim=1`` per column of a matrix.

    The scale keeps that dim's length along ``dim`` and 1 elsewhere, e.g. ``(3, 1)`` per row.
    """

    dim: int = 0

    def __post_init__(self) -> None:
        _check_int(self.dim, "PerChannel dim")

    def label(self) -> str:
        if self.dim == 0:
            return "per-row"
        if self.dim == 1:
            return "per-column"
        return f"per-channel(dim={self.dim})"


@dataclass(frozen=True)
class PerGroup:
    """Runs of ``group_size`` consecutive elements along ``dim`` share a scale.

    A ``dim`` length that ``group_size`` does not divide ends in a shorter group. The scale has
    the input's shape with ``dim`` replaced by the number of groups.
    """

    group_size: int
    dim: int = -1

    def __post_init__(self) -> None:
        _check_int(self.group_size, "group_size", minimum=1)
        _check_int(self.dim, "PerGroup dim")

    def label(self) -> str:
        if self.dim == -1:
            return f"per-group({self.group_size})"
        return f"per-group({self.group_size}, dim={self.dim})"


@dataclass(frozen=True)
class PerBlock:
    """2-D tiles of ``rows × cols`` over the last two dims; edge tiles may be smaller.

    The scale has shape ``(..., ceil(R / rows), ceil(C / cols))``.
    """

    rows: int
    cols: int

    def __post_init__(self) -> None:
        _check_int(self.rows, "PerBlock rows", minimum=1)
        _check_int(self.cols, "PerBlock cols", minimum=1)

    def label(self) -> str:
        return f"per-block({self.rows}x{self.cols})"


Granularity = PerTensor | PerChannel | PerGroup | PerBlock


@dataclass(frozen=True)
class Blocks:
    """A tensor laid out as one row per quantization block.

    Attributes:
        data: ``(num_blocks, block_len)`` float tensor. Partial blocks are padded with NaN.
        valid: ``(num_blocks, block_len)`` bool mask of real elements, or None without padding.
        grid_shape: shape of the per-block parameters (scale, zero point) as the API returns them.
        restore: maps a ``(num_blocks, block_len)`` tensor back to the input's shape.
        to_grid: maps ``(num_blocks, 1)`` per-block parameters to ``grid_shape``; None when a plain
            reshape does it.
    """

    data: torch.Tensor
    valid: torch.Tensor | None
    grid_shape: tuple[int, ...]
    restore: Callable[[torch.Tensor], torch.Tensor]
    to_grid: Callable[[torch.Tensor], torch.Tensor] | None = None

    def params_to_grid(self, param: torch.Tensor) -> torch.Tensor:
        """Lay ``(num_blocks, 1)`` per-block parameters out in the API's grid shape."""
        if self.to_grid is None:
            return param.reshape(self.grid_shape)
        return self.to_grid(param)


def _normalize_dim(dim: int, ndim: int, what: str) -> int:
    if not -ndim <= dim < ndim:
        raise ValueError(f"{what} dim={dim} is out of range for a {ndim}-D tensor")
    return dim % ndim


def _pad_last(x: torch.Tensor, new_len: int) -> torch.Tensor:
    """Pad the last dim with NaN up to ``new_len`` (a copy only when padding is needed)."""
    pad = new_len - x.shape[-1]
    if pad == 0:
        return x
    return torch.nn.functional.pad(x, (0, pad), value=float("nan"))


def to_blocks(x: torch.Tensor, granularity: Granularity) -> Blocks:
    """Lay ``x`` out as ``(num_blocks, block_len)`` for ``granularity``.

    Args:
        x: float tensor of any shape with at least one dimension.
        granularity: how elements are grouped into blocks.

    Returns:
        A :class:`Blocks`; its ``data`` is a view of ``x`` whenever the layout allows.
    """
    shape = tuple(x.shape)
    ndim = x.dim()
    if isinstance(granularity, PerTensor):
        return Blocks(x.reshape(1, -1), None, (), lambda b: b.reshape(shape))

    if isinstance(granularity, PerChannel):
        d = _normalize_dim(granularity.dim, ndim, "PerChannel")
        moved = x.movedim(d, 0)
        moved_shape = moved.shape
        grid = tuple(n if i == d else 1 for i, n in enumerate(shape))
        return Blocks(
            moved.reshape(shape[d], -1),
            None,
            grid,
            lambda b: b.reshape(moved_shape).movedim(0, d),
        )

    if isinstance(granularity, PerGroup):
        d = _normalize_dim(granularity.dim, ndim, "PerGroup")
        g = granularity.group_size
        moved = x.movedim(d, -1)
        lead, length = moved.shape[:-1], moved.shape[-1]
        n_groups = max(1, math.ceil(length / g))
        padded = _pad_last(moved, n_groups * g)
        data = padded.reshape(-1, g)
        valid = None
        if n_groups * g != length:
            valid = (torch.arange(n_groups * g, device=x.device) < length).reshape(n_groups, g)
            valid = valid.expand(*lead, n_groups, g).reshape(-1, g)
        grid = tuple(n_groups if i == d else n for i, n in enumerate(shape))

        def restore_group(b: torch.Tensor) -> torch.Tensor:
            full = b.reshape(*lead, n_groups * g)[..., :length]
            return full.movedim(-1, d)

        def group_grid(param: torch.Tensor) -> torch.Tensor:
            return param.reshape(*lead, n_groups).movedim(-1, d)

        return Blocks(data, valid, grid, restore_group, group_grid)

    if isinstance(granularity, PerBlock):
        if ndim < 2:
            raise ValueError(f"PerBlock needs a tensor with at least 2 dims, got shape {shape}")
        r, c = granularity.rows, granularity.cols
        lead, n_rows, n_cols = shape[:-2], shape[-2], shape[-1]
        nr, nc = max(1, math.ceil(n_rows / r)), max(1, math.ceil(n_cols / c))
        padded = _pad_last(x, nc * c)
        padded = _pad_last(padded.transpose(-1, -2), nr * r).transpose(-1, -2)
        tiles = padded.reshape(*lead, nr, r, nc, c).transpose(-3, -2)  # (..., nr, nc, r, c)
        data = tiles.reshape(-1, r * c)
        valid = None
        if (nr * r, nc * c) != (n_rows, n_cols):
            row_ok = torch.arange(nr * r, device=x.device) < n_rows
            col_ok = torch.arange(nc * c, device=x.device) < n_cols
            mask = (row_ok[:, None] & col_ok[None, :]).reshape(nr, r, nc, c).transpose(1, 2)
            valid = mask.expand(*lead, nr, nc, r, c).reshape(-1, r * c)

        def restore_block(b: torch.Tensor) -> torch.Tensor:
            full = b.reshape(*lead, nr, nc, r, c).transpose(-3, -2).reshape(*lead, nr * r, nc * c)
            return full[..., :n_rows, :n_cols]

        return Blocks(data, valid, (*lead, nr, nc), restore_block)

    raise ValueError(f"unknown granularity {granularity!r}")


def expand_to_elements(
    param: torch.Tensor, shape: tuple[int, ...] | torch.Size, granularity: Granularity
) -> torch.Tensor:
    """Broadcast or repeat a per-block parameter (scale, zero point) to the element shape.

    Args:
        param: tensor of the block grid shape that :func:`quantize` returns.
        shape: the quantized tensor's shape.
        granularity: the granularity the parameter belongs to.

    Returns:
        A tensor of ``shape`` (an expanded view for per-tensor and per-channel, a copy otherwise).
    """
    shape = tuple(shape)
    if isinstance(granularity, PerTensor | PerChannel):
        return param.expand(shape)
    if isinstance(granularity, PerGroup):
        d = _normalize_dim(granularity.dim, len(shape), "PerGroup")
        return param.repeat_interleave(granularity.group_size, dim=d).narrow(d, 0, shape[d])
    if isinstance(granularity, PerBlock):
        out = param.repeat_interleave(granularity.rows, dim=-2)[..., : shape[-2], :]
        return out.repeat_interleave(granularity.cols, dim=-1)[..., : shape[-1]]
    raise ValueError(f"unknown granularity {granularity!r}")


def grid_shape(shape: tuple[int, ...] | torch.Size, granularity: Granularity) -> tuple[int, ...]:
    """The shape of the per-block parameters (scale, zero point) for a tensor of ``shape``.

    Raises:
        ValueError: when the granularity does not fit the shape.
    """
    shape = tuple(shape)
    if isinstance(granularity, PerTensor):
        return ()
    if isinstance(granularity, PerChannel):
        d = _normalize_dim(granularity.dim, len(shape), "PerChannel")
        return tuple(n if i == d else 1 for i, n in enumerate(shape))
    if isinstance(granularity, PerGroup):
        d = _normalize_dim(granularity.dim, len(shape), "PerGroup")
        g = granularity.group_size
        return tuple(max(1, math.ceil(n / g)) if i == d else n for i, n in enumerate(shape))
    if isinstance(granularity, PerBlock):
        if len(shape) < 2:
            raise ValueError(f"PerBlock needs a tensor with at least 2 dims, got shape {shape}")
        return (
            *shape[:-2],
            max(1, math.ceil(shape[-2] / granularity.rows)),
            max(1, math.ceil(shape[-1] / granularity.cols)),
        )
    raise ValueError(f"unknown granularity {granularity!r}")


def num_blocks(shape: tuple[int, ...] | torch.Size, granularity: Granularity) -> int:
    """How many scales ``granularity`` stores for a tensor of ``shape``."""
    return math.prod(grid_shape(shape, granularity))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _group_note(shape: tuple[int, ...], gran: PerGroup) -> str | None:
    d = _normalize_dim(gran.dim, len(shape), "PerGroup")
    g, n = gran.group_size, shape[d]
    if g < n:
        return None
    if len(shape) == 1:
        return f"group size {g} ≥ length {n}: the whole tensor is one group (same as per-tensor)"
    if len(shape) > 2:
        return f"group size {g} ≥ {n}, the length of dim {d}: every run along dim {d} is one group"
    line = "row" if d == 1 else "column"
    if shape[1 - d] == 1:
        return f"group size {g} ≥ {line} length {n}: one group in all (same as per-tensor)"
    return f"group size {g} ≥ {line} length {n}: every {line} is one group (same as per-{line})"


def _block_note(shape: tuple[int, ...], gran: PerBlock) -> str | None:
    n_rows, n_cols = shape[-2], shape[-1]
    tall, wide = gran.rows >= n_rows, gran.cols >= n_cols
    flat = len(shape) == 2
    tiles = f"{gran.rows}×{gran.cols} tiles"
    if tall and wide:
        if flat:
            return f"{tiles} cover the whole {n_rows}×{n_cols} matrix (same as per-tensor)"
        return f"{tiles} cover each whole {n_rows}×{n_cols} matrix of the last two dims"
    if tall:
        same = " (same as per-column)" if flat and gran.cols == 1 else ""
        strip = _plural(gran.cols, "whole column")
        return f"tile height {gran.rows} ≥ {n_rows} rows: each tile is {strip}{same}"
    if wide:
        same = " (same as per-row)" if flat and gran.rows == 1 else ""
        band = _plural(gran.rows, "whole row")
        return f"tile width {gran.cols} ≥ {n_cols} columns: each tile is {band}{same}"
    return None


def effective_note(shape: tuple[int, ...] | torch.Size, granularity: Granularity) -> str | None:
    """Say so when ``granularity``'s size does not fit ``shape`` and it acts as a coarser one.

    A group of 10 on a 3-column matrix is a whole row (per-row, though labelled per-group(10));
    8×8 tiles on a 3×3 matrix are the whole matrix (per-tensor). The result is unchanged; the
    note keeps a label from promising finer scales than the tensor gets.

    Args:
        shape: the tensor's shape.
        granularity: the granularity chosen for it.

    Returns:
        One line for people, e.g. "group size 10 ≥ row length 3: every row is one group (same as
        per-row)", or None when the sizes fit (or the granularity cannot apply to ``shape`` at
        all: quantizing reports that).
    """
    shape = tuple(int(n) for n in shape)
    if not shape or isinstance(granularity, PerTensor):
        return None
    try:
        if isinstance(granularity, PerGroup):
            return _group_note(shape, granularity)
        if isinstance(granularity, PerBlock):
            return _block_note(shape, granularity) if len(shape) >= 2 else None
        if isinstance(granularity, PerChannel):
            d = _normalize_dim(granularity.dim, len(shape), "PerChannel")
            if shape[d] == 1 and len(shape) > 1:
                word = {0: "row", 1: "column"}[d] if len(shape) == 2 else f"index along dim {d}"
                return f"only 1 {word}: one scale in all (same as per-tensor)"
    except ValueError:
        return None
    return None
