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
_MSE_COARSE = torch.linspace(0.2, 1.0, 17).tolist()
_MSE_FINE_STEPS = 10


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
    return a + (b - a) * frac


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
    clipped into the grid. A constant block ``c`` (zero range) gets
    ``scale = |c| / (q_max - q_min)`` so ``c`` sits exactly on the grid's edge; an all-zero block
    gets a tiny positive scale.

    Returns:
        float32 scale and float32 (integer-valued) zero point, both ``(num_blocks, 1)``.
    """
    if scheme.symmetric:
        scale = r_max / scheme.q_max
        scale = torch.where(scale > 0, scale, torch.full_like(scale, _TINY))
        return scale, torch.zeros_like(scale)
    levels = scheme.q_max - scheme.q_min
    span = r_max - r_min
    span = torch.where(span > 0, span, r_max.abs())
    scale = span / levels
    scale = torch.where(scale > 0, scale, torch.full_like(scale, _TINY))
    zero_point = torch.round(scheme.q_min - r_min / scale).clamp_(scheme.q_min, scheme.q_max)
    return scale, zero_point


def _blockwise_sq_error(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    scale: torch.Tensor,
    zero_point: torch.Tensor,
    scheme: QuantScheme,
) -> torch.Tensor:
    q = torch.round(data / scale + zero_point).clamp_(scheme.q_min, scheme.q_max)
    err = q.sub_(zero_point).mul_(scale).sub_(data).square_()
    return _masked(err, valid, 0.0).sum(dim=1, keepdim=True)


def mse_search(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    r_min: torch.Tensor,
    r_max: torch.Tensor,
    scheme: QuantScheme,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shrink each block's range by the clip ratio with the least squared error.

    Tries every ratio of a coarse grid on all blocks at once, then a finer grid around each
    block's best ratio. Ratio 1.0 (the full range) is always a candidate, so the result is never
    worse than the full range.

    Returns:
        ``(scale, zero_point)``, each ``(num_blocks, 1)``.
    """
    if valid is not None:
        data = data.nan_to_num(0.0)  # pads are masked out of the error; NaN would poison sums

    def evaluate(ratio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale, zp = scale_zero_point(r_min * ratio, r_max * ratio, scheme)
        return _blockwise_sq_error(data, valid, scale, zp, scheme), scale, zp

    ones = torch.ones_like(r_max)
    best_err, best_scale, best_zp = evaluate(ones)
    best_ratio = ones.clone()
    for ratio in _MSE_COARSE[:-1]:
        err, scale, zp = evaluate(ones * ratio)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_scale = torch.where(better, scale, best_scale)
        best_zp = torch.where(better, zp, best_zp)
        best_ratio = torch.where(better, ones * ratio, best_ratio)
    step = _MSE_COARSE[1] - _MSE_COARSE[0]
    for i in range(1, _MSE_FINE_STEPS):
        for sign in (-1.0, 1.0):
            ratio = (best_ratio + sign * step * i / _MSE_FINE_STEPS).clamp(0.05, 1.0)
            err, scale, zp = evaluate(ratio)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_scale = torch.where(better, scale, best_scale)
            best_zp = torch.where(better, zp, best_zp)
    return best_scale, best_zp
