"""Per-block ranges and the scale / zero point they give, for every range method.

All functions work on the ``(num_blocks, block_len)`` layout of
:func:`quantviz.granularity.to_blocks` and are vectorized over blocks: the only Python loops run
over clip-ratio candidates of the MSE search, never over blocks or elements.
"""

from __future__ import annotations

import math

import torch

from quantviz.scheme import QuantScheme
from quantviz.slices import map_slices

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


# Elements per tile of the MSE search: every candidate is tried while a tile sits in cache.
_SEARCH_SLICE = 1 << 20


def _candidate_errors(
    data: torch.Tensor,
    scale: torch.Tensor,
    zero_point: torch.Tensor,
    scheme: QuantScheme,
) -> torch.Tensor:
    """Each block's sum of squared reconstruction errors under each candidate.

    The reconstruction is computed exactly as ``quantize`` then ``dequantize`` compute it, in
    a cache-sized scratch buffer; symmetric schemes skip the (zero) zero point, and pads must
    already be 0 (they then reconstruct exactly and add nothing).

    Args:
        data: ``(blocks, block_len)`` values, padding set to 0.
        scale: ``(blocks, candidates)`` scales.
        zero_point: ``(blocks, candidates)`` zero points.
        scheme: gives the grid and the symmetry.

    Returns:
        ``(blocks, candidates)`` float64 sums of squared errors.
    """
    length = data.shape[1]
    on_cpu = data.device.type == "cpu"
    cols = min(length, _SEARCH_SLICE) if on_cpu else length
    tiles = [slice(start, start + cols) for start in range(0, length, cols)]
    # A long block's tiles go to the workers (a short block's rows already did, and this runs
    # inline in the worker); their sums are added in tile order.
    sums = map_slices(lambda t: _tile_errors(data[:, t], scale, zero_point, scheme), tiles, on_cpu)
    out = sums[0]
    for part in sums[1:]:
        out += part
    return out


def _tile_errors(
    part: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """:func:`_candidate_errors` of one tile of the blocks' columns."""
    out = torch.zeros(scale.shape, dtype=torch.float64, device=part.device)
    buf = torch.empty(part.shape, dtype=part.dtype, device=part.device)
    for k in range(scale.shape[1]):
        s = scale[:, k : k + 1]
        torch.div(part, s, out=buf)
        if scheme.symmetric:
            buf.round_().clamp_(scheme.q_min, scheme.q_max)
        else:
            zp = zero_point[:, k : k + 1]
            buf.add_(zp).round_().clamp_(scheme.q_min, scheme.q_max).sub_(zp)
        buf.mul_(s).sub_(part)
        # One fused pass; in-place square_ then sum is about 3x slower on CPU.
        out[:, k] += torch.linalg.vector_norm(buf, dim=1).to(torch.float64).square()
    return out


def _search_rows(
    data: torch.Tensor, r_min: torch.Tensor, r_max: torch.Tensor, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor]:
    """The coarse-then-fine search over a slice of blocks (see :func:`mse_search`)."""
    coarse = torch.tensor(_MSE_COARSE[::-1], dtype=r_max.dtype, device=r_max.device)
    ratios = coarse.expand(r_max.shape[0], -1)  # 1.0 (the full range) first
    scale, zp = scale_zero_point(r_min * ratios, r_max * ratios, scheme)
    errors = _candidate_errors(data, scale, zp, scheme)
    best = errors.argmin(dim=1, keepdim=True)  # ties: the first, i.e. the wider range
    fine = torch.tensor(_MSE_FINE, dtype=r_max.dtype, device=r_max.device)
    fine_ratios = (ratios.gather(1, best) + fine).clamp(0.01, 1.0)
    fine_scale, fine_zp = scale_zero_point(r_min * fine_ratios, r_max * fine_ratios, scheme)
    fine_errors = _candidate_errors(data, fine_scale, fine_zp, scheme)
    # The coarse winner stays first, so a fine candidate must be strictly better to replace it.
    all_errors = torch.cat([errors.gather(1, best), fine_errors], dim=1)
    all_scale = torch.cat([scale.gather(1, best), fine_scale], dim=1)
    all_zp = torch.cat([zp.gather(1, best), fine_zp], dim=1)
    pick = all_errors.argmin(dim=1, keepdim=True)
    return all_scale.gather(1, pick), all_zp.gather(1, pick)


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
    candidate and wins ties, so the result is never worse than the full range. Blocks are
    searched in tiles of about a million elements (a long block is cut along its length and its
    sums added up), so every candidate's pass over a tile runs in cache; each pass is five or
    seven in-place element-wise ops and one fused sum of squares.

    Returns:
        ``(scale, zero_point)``, each ``(num_blocks, 1)``.
    """
    if valid is not None:
        # Pads become 0, which every candidate reconstructs exactly: no mask is needed.
        data = data.masked_fill(~valid, 0.0)
    data = data.contiguous()  # per-column blocks are a strided view: every pass would crawl
    rows = data.shape[0]
    on_cpu = data.device.type == "cpu"
    step = max(1, _SEARCH_SLICE // max(1, data.shape[1])) if on_cpu else rows
    parts = [slice(start, min(rows, start + step)) for start in range(0, rows, step)]
    found = map_slices(
        lambda part: _search_rows(data[part], r_min[part], r_max[part], scheme), parts, on_cpu
    )
    return torch.cat([scale for scale, _ in found]), torch.cat([zp for _, zp in found])
