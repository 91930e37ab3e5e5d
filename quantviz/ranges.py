"""Per-block ranges and the scale / zero point they give, for every range method.

All functions work on the ``(num_blocks, block_len)`` layout of
:func:`quantviz.granularity.to_blocks` and are vectorized over blocks: the only Python loops run
over clip-ratio candidates of the MSE search, never over blocks or elements.
"""

from __future__ import annotations

import math

import torch

from quantviz.scheme import QuantScheme

# A block whose range is exactly zero (all zeros) gets this scale instead of 0, so the division in
# the quantizer stays finite; every element then maps to the zero point and back to 0.
_TINY = torch.finfo(torch.float32).tiny

# The MSE search tries clip ratios on a coarse grid, then refines around each block's best one.
_MSE_COARSE = [i / 10 for i in range(1, 11)]
_MSE_FINE = [i / 100 for i in range(-5, 6) if i]


def _masked(data: torch.Tensor, valid: torch.Tensor | None, fill: float) -> torch.Tensor:
    return data if valid is None else data.masked_fill(~valid, fill)


def block_min_max(
    data: torch.Tensor, valid: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each block's minimum and maximum over its real elements, as ``(num_blocks, 1)`` tensors."""
    if valid is None:
        # Two plain reductions: torch.aminmax along a dim is about 3x slower on CPU than both.
        return data.amin(dim=1, keepdim=True), data.amax(dim=1, keepdim=True)
    lo = _masked(data, valid, math.inf).amin(dim=1, keepdim=True)
    hi = _masked(data, valid, -math.inf).amax(dim=1, keepdim=True)
    return lo, hi


def _block_quantile(
    data: torch.Tensor, valid: torch.Tensor | None, q: float, upper: bool
) -> torch.Tensor:
    """The ``q`` quantile (linear interpolation, as ``torch.quantile``) of each block's real
    elements, found with ``topk`` from the near end so a 99.9th percentile does not sort it all.

    Args:
        data: ``(num_blocks, block_len)`` values.
        valid: mask of real elements, or None.
        q: quantile in [0, 1].
        upper: search from the top (for q >= 0.5) or from the bottom.

    Returns:
        ``(num_blocks, 1)`` quantiles.
    """
    n_valid = (
        torch.full((data.shape[0], 1), data.shape[1], device=data.device)
        if valid is None
        else valid.sum(dim=1, keepdim=True)
    )
    # Distance of the quantile's position from the chosen end, in elements.
    from_end = (n_valid - 1).to(torch.float64) * ((1.0 - q) if upper else q)
    k = min(data.shape[1], int(from_end.max().floor().item()) + 2)
    fill = -math.inf if upper else math.inf
    ends = torch.topk(_masked(data, valid, fill), k, dim=1, largest=upper, sorted=True).values
    lo_idx = from_end.floor().long().clamp(max=k - 1)
    # Never step past a block's last real element: the pad there is ±inf, and inf·0 is NaN.
    hi_idx = torch.minimum(lo_idx + 1, (n_valid - 1).clamp(max=k - 1))
    frac = (from_end - lo_idx).to(data.dtype)
    a, b = ends.gather(1, lo_idx), ends.gather(1, hi_idx)
    return a * (1 - frac) + b * frac  # not a + (b - a)·frac: b - a can overflow float32


def block_range(
    data: torch.Tensor, valid: torch.Tensor | None, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor]:
    """The clipping range ``(r_min, r_max)`` of each block for the scheme's range method, before any
    MSE search. Symmetric schemes get ``(-a, a)`` with ``a = max|x|`` (or its percentile)."""
    if scheme.range_method == "percentile":
        q = scheme.percentile / 100.0
        if scheme.symmetric:
            a = _block_quantile(data.abs(), valid, q, upper=True)
            return -a, a
        return _block_quantile(data, valid, 1.0 - q, upper=False), _block_quantile(
            data, valid, q, upper=True
        )
    lo, hi = block_min_max(data, valid)
    if scheme.symmetric:
        a = torch.maximum(-lo, hi)
        return -a, a
    return lo, hi


def scale_zero_point(
    r_min: torch.Tensor, r_max: torch.Tensor, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero point for each block's range, by the notebook's formulas.

    Symmetric: ``scale = r_max / q_max``, zero point 0. Asymmetric:
    ``scale = (r_max - r_min) / (q_max - q_min)``, ``zero_point = round(q_min - r_min / scale)``
    clipped into the grid, where the range is first widened to contain 0 (as PyTorch's
    observers do). Without that, a block whose values are all positive (or all negative) needs
    a zero point outside the grid; clipping it shifts the grid off the data and clamps most
    of the block (``uint8`` on ``[1, 2]`` would reconstruct 2 as 1). With it, 0 is exactly
    representable, the zero point never clips, and a constant block is reconstructed exactly.
    An all-zero block gets a tiny positive scale so the division stays finite.

    Returns:
        float32 scale and float32 (integer-valued) zero point, both ``(num_blocks, 1)``.
    """
    if scheme.symmetric:
        scale = r_max / scheme.q_max
        scale = torch.where(scale > 0, scale, torch.full_like(scale, _TINY))
        return scale, torch.zeros_like(scale)
    r_min = r_min.clamp(max=0.0)
    r_max = r_max.clamp(min=0.0)
    levels = scheme.q_max - scheme.q_min
    scale = (r_max - r_min) / levels
    # r_max - r_min overflows float32 for ranges near ±3.4e38: there, divide before subtracting
    # (elsewhere the notebook's order is kept, so results stay bit-identical to it).
    scale = torch.where(torch.isinf(scale), r_max / levels - r_min / levels, scale)
    scale = torch.where(scale > 0, scale, torch.full_like(scale, _TINY))
    zero_point = torch.round(scheme.q_min - r_min / scale).clamp_(scheme.q_min, scheme.q_max)
    return scale, zero_point


# Elements per slice of the MSE search: every candidate is tried while a slice sits in cache.
_SEARCH_SLICE = 1 << 20


def _blockwise_sq_error(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    scale: torch.Tensor,
    zero_point: torch.Tensor,
    scheme: QuantScheme,
    scratch: torch.Tensor,
) -> torch.Tensor:
    """Each block's sum of squared reconstruction errors, in place in ``scratch``."""
    torch.div(data, scale, out=scratch)
    scratch.add_(zero_point).round_().clamp_(scheme.q_min, scheme.q_max)
    scratch.sub_(zero_point).mul_(scale).sub_(data).square_()
    return _masked(scratch, valid, 0.0).sum(dim=1, keepdim=True)


def _search_slice(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    r_min: torch.Tensor,
    r_max: torch.Tensor,
    scheme: QuantScheme,
) -> tuple[torch.Tensor, torch.Tensor]:
    scratch = torch.empty_like(data)
    best: tuple[torch.Tensor, ...] = ()  # (error, scale, zero point, ratio) per block

    def consider(ratio: torch.Tensor) -> None:
        nonlocal best
        scale, zp = scale_zero_point(r_min * ratio, r_max * ratio, scheme)
        candidate = (_blockwise_sq_error(data, valid, scale, zp, scheme, scratch), scale, zp, ratio)
        if not best:
            best = candidate
            return
        better = candidate[0] < best[0]  # strict: ties keep the earlier, wider range
        best = tuple(
            torch.where(better, new, old) for new, old in zip(candidate, best, strict=True)
        )

    ones = torch.ones_like(r_max)
    for ratio in reversed(_MSE_COARSE):  # 1.0 (the full range) first
        consider(ones * ratio)
    coarse_best = best[3]
    for offset in _MSE_FINE:
        consider((coarse_best + offset).clamp(0.01, 1.0))
    return best[1], best[2]


def mse_search(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    r_min: torch.Tensor,
    r_max: torch.Tensor,
    scheme: QuantScheme,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shrink each block's range by the clip ratio with the least squared error.

    Tries every ratio of a coarse grid (0.1 to 1.0) on all blocks at once, then a finer grid
    (steps of 0.01) around each block's best ratio. Ratio 1.0 (the full range) is always a
    candidate, so the result is never worse than the full range. Blocks are searched a slice
    at a time so that every candidate's pass over a slice runs in cache.

    Returns:
        ``(scale, zero_point)``, each ``(num_blocks, 1)``.
    """
    if valid is not None:
        data = data.nan_to_num(0.0)  # pads are masked out of the error; NaN would poison sums
    rows = data.shape[0]
    step = max(1, _SEARCH_SLICE // data.shape[1]) if data.device.type == "cpu" else rows
    scales, zero_points = [], []
    for start in range(0, rows, step):
        part = slice(start, min(rows, start + step))
        scale, zp = _search_slice(
            data[part],
            None if valid is None else valid[part],
            r_min[part],
            r_max[part],
            scheme,
        )
        scales.append(scale)
        zero_points.append(zp)
    return torch.cat(scales), torch.cat(zero_points)
