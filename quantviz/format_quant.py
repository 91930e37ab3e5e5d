"""Scales and codes for every scheme that is not today's plain integer scheme: element formats
(FP8/FP6/FP4/NF4), scale formats (fp16, bf16, E4M3, E8M0), the float zero point, the full-grid
symmetric grid, NVFP4's two-level scale, QLoRA's double quantization and llama.cpp's presets.

The order is a real kernel's: block ranges, then each scale rounded to its scale format, then the
elements divided by the stored scale and rounded to the element grid (see
:mod:`quantviz.formats`). Everything runs on the ``(num_blocks, block_len)`` layout of
:func:`quantviz.granularity.to_blocks`, vectorized over blocks; the element pass runs in
cache-sized row slices (:func:`quantviz.kernels.row_slices`).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from quantviz.format_scales import allows_zero_scale, scales_from_range, uses_llama_arithmetic
from quantviz.formats import decode_elements, encode_codes, round_elements
from quantviz.ggml import quantize_llama
from quantviz.granularity import Blocks
from quantviz.kernels import Layout, broadcast_layout, row_slices
from quantviz.ranges import block_min_max, block_range
from quantviz.scheme import QuantScheme


def element_levels(
    x: torch.Tensor,
    scale: torch.Tensor,
    zero_point: torch.Tensor,
    scheme: QuantScheme,
    multiply: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``x`` in element units: ``x / scale`` (+ an integer zero point), or ``(x - zp) / scale``
    for a float zero point; ``x · scale`` when ``multiply`` (``scale`` is then NVFP4's
    reciprocal multiplier). A zero scale (llama.cpp's all-zero block) gives level 0.
    ``out``: a float32 buffer shaped like ``x`` to write into instead of allocating."""
    if multiply:
        return torch.mul(x, scale, out=out) if out is not None else x * scale
    if scheme.float_zero_point:
        y = (x - zero_point) / scale
    else:
        y = torch.div(x, scale, out=out) if out is not None else x / scale
        if not scheme.symmetric:
            y.add_(zero_point)
    if allows_zero_scale(scheme):
        y = torch.where(scale == 0, torch.zeros_like(y), y)
    return y


def code_values(q: torch.Tensor, scheme: QuantScheme) -> torch.Tensor:
    """float32 element value of each code (before the scale)."""
    if scheme.is_integer:
        return q.to(torch.float32)
    return decode_elements(q, scheme.element_format)


def decode(
    q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """float32 reconstruction from codes and broadcastable stored parameters."""
    v = code_values(q, scheme)
    if scheme.float_zero_point:
        return v.mul_(scale).add_(zero_point)
    if not scheme.symmetric:
        v.sub_(zero_point)
    return v.mul_(scale)


def reconstruct(
    x: torch.Tensor,
    scale: torch.Tensor,
    zero_point: torch.Tensor,
    scheme: QuantScheme,
    multiplier: torch.Tensor | None = None,
) -> torch.Tensor:
    """``decode(encode(x))`` without materializing codes: the values a kernel would give.
    ``multiplier``: NVFP4's reciprocal multiplier, used for the elements instead of ``scale``."""
    if multiplier is None:
        y = element_levels(x, scale, zero_point, scheme)
    else:
        y = element_levels(x, multiplier, zero_point, scheme, multiply=True)
    if scheme.is_integer:
        v = y.round_().clamp_(scheme.q_min, scheme.q_max)
    else:
        v = round_elements(y, scheme.element_format)
    if scheme.float_zero_point:
        return v.mul_(scale).add_(zero_point)
    if not scheme.symmetric:
        v.sub_(zero_point)
    return v.mul_(scale)


def clip_bounds(scheme: QuantScheme) -> tuple[float, float]:
    """Element levels beyond which a value is clipped: the grid's ends widened by half their
    last step (``q_min - ½``, ``q_max + ½`` for integers)."""
    if scheme.is_integer:
        return scheme.q_min - 0.5, scheme.q_max + 0.5
    g = scheme.grid()
    return float(g[0] - (g[1] - g[0]) / 2), float(g[-1] + (g[-1] - g[-2]) / 2)


def signed_extreme(data: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Each block's signed value of largest magnitude (the negative one on a tie)."""
    lo, hi = block_min_max(data, valid)
    return torch.where(hi > -lo, hi, lo)


def block_params(
    blocks: Blocks, scheme: QuantScheme, tensor_amax: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, dict[str, object]]:
    """Stored ``(scale, zero_point, extras)`` of every block for the scheme's range method."""
    data, valid = blocks.data, blocks.valid
    r_min, r_max = block_range(data, valid, scheme)
    _refuse_non_finite_range(r_min, r_max)
    extreme = signed_extreme(data, valid) if scheme.full_grid else None
    if scheme.tensor_scale and tensor_amax is None:
        tensor_amax = float(torch.maximum(-r_min, r_max).max())
    if scheme.range_method == "mse":
        r_min, r_max = format_mse_search(data, valid, r_min, r_max, scheme, tensor_amax, extreme)
    return scales_from_range(r_min, r_max, scheme, tensor_amax, extreme)


class NonFiniteRangeError(ValueError):
    """A block range is NaN or infinite (the input holds NaN or inf)."""


def _refuse_non_finite_range(r_min: torch.Tensor, r_max: torch.Tensor) -> None:
    if not bool((torch.isfinite(r_min) & torch.isfinite(r_max)).all()):
        raise NonFiniteRangeError("non-finite values")


def quantize_blocks(
    x: torch.Tensor, blocks: Blocks, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, object]]:
    """Codes (``x``'s shape) and grid-shaped stored scales and zero points of ``x``.

    Raises:
        NonFiniteRangeError: when ``x`` holds NaN or inf (the caller names them).
    """
    if uses_llama_arithmetic(scheme):
        _refuse_non_finite_range(*block_range(blocks.data, blocks.valid, scheme))
        q, scale, zp = quantize_llama(blocks.data, blocks.valid, scheme.preset or "", scheme.bits)
        extras: dict[str, object] = {}
        return blocks.restore(q), blocks.params_to_grid(scale), blocks.params_to_grid(zp), extras
    if _fused_rows_apply(blocks, scheme):
        q, scale, zp, extras = _quantize_rows_fused(blocks.data, scheme)
        return blocks.restore(q), blocks.params_to_grid(scale), blocks.params_to_grid(zp), extras
    scale, zp, extras = block_params(blocks, scheme)
    multiplier = extras.pop("multiplier", None)
    scale_grid = blocks.params_to_grid(scale).contiguous()
    zp_grid = blocks.params_to_grid(zp).contiguous()
    factor = scale if multiplier is None else multiplier
    layout = broadcast_layout(x, scheme.granularity, blocks.params_to_grid(factor), zp_grid)
    if layout is None:
        layout = Layout(blocks.data, factor, zp, blocks.restore)
    codes = encode_layout(layout, scheme, multiply=multiplier is not None)
    return layout.restore(codes), scale_grid, zp_grid, extras


def _fused_rows_apply(blocks: Blocks, scheme: QuantScheme) -> bool:
    """Whether each slice of block rows can be ranged, scaled and encoded while in cache: the
    full range, no padding, contiguous rows, and no scale depending on other blocks than the
    tensor's max (double quantization does)."""
    data = blocks.data
    return (
        scheme.range_method in ("absmax", "minmax")
        and not scheme.double_quant
        and blocks.valid is None
        and data.device.type == "cpu"
        and data.is_contiguous()
        and data.shape[0] > 1
    )


def _quantize_rows_fused(
    data: torch.Tensor, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, object]]:
    """Ranges, stored scales and codes of each cache-sized slice of block rows in one visit
    (the formats' counterpart of :func:`quantviz.kernels.quantize_rows_fused`): same values as
    :func:`block_params` then :func:`encode_layout`, with the tensor read from memory once
    (twice for NVFP4, whose per-tensor scale needs the tensor's max first)."""
    tensor_amax = None
    if scheme.tensor_scale:  # one fused min/max pass, no |x| copy
        lo, hi = torch.aminmax(data)
        _refuse_non_finite_range(lo, hi)
        tensor_amax = max(-float(lo), float(hi))
    out = torch.empty(data.shape, dtype=scheme.storage_dtype, device=data.device)
    scratch = _Scratch(data, scheme)
    scales, zps, parts = [], [], []
    for rows in row_slices(data):
        part = data[rows]
        n = rows.stop - rows.start
        if scheme.symmetric and 1 < part.shape[1] < _SHORT_ROWS:
            # = block_range's max(-min, max), faster on short rows; |x| goes in the y buffer,
            # which the element levels overwrite next
            r_max = _abs_row_max(torch.abs(part, out=scratch.y(n)))
            r_min = -r_max
        else:
            r_min, r_max = block_range(part, None, scheme)
        _refuse_non_finite_range(r_min, r_max)
        extreme = signed_extreme(part, None) if scheme.full_grid else None
        scale, zp, extras = scales_from_range(r_min, r_max, scheme, tensor_amax, extreme)
        multiplier = extras.pop("multiplier", None)
        factor = scale if multiplier is None else multiplier
        y = element_levels(part, factor, zp, scheme, multiplier is not None, scratch.y(n))
        _store_codes(y, scheme, out[rows], scratch.ints(n))
        scales.append(scale)
        zps.append(zp)
        parts.append(extras)
    return out, torch.cat(scales), torch.cat(zps), _merge_extras(parts)


# torch's CPU row reductions slow down several-fold on rows shorter than this (NVFP4's 16).
_SHORT_ROWS = 32


def _abs_row_max(v: torch.Tensor) -> torch.Tensor:
    """The max of each row of ``v`` (``|x|``) as ``(rows, 1)``, by halving the rows with
    element-wise maxima (an odd leftover column is folded into the first); NaN propagates."""
    while v.shape[1] > 1:
        half = v.shape[1] // 2
        folded = torch.maximum(v[:, :half], v[:, half : 2 * half])
        if v.shape[1] % 2:
            folded[:, :1] = torch.maximum(folded[:, :1], v[:, 2 * half :])
        v = folded
    return v


def _merge_extras(parts: list[dict[str, object]]) -> dict[str, object]:
    """Per-slice extras joined: per-block tensors concatenated, per-tensor values kept once."""
    merged: dict[str, object] = {}
    for key, first in parts[0].items():
        if isinstance(first, torch.Tensor) and first.dim() > 0:
            merged[key] = torch.cat([p[key] for p in parts])  # type: ignore[misc]
        else:
            merged[key] = first
    return merged


# Clip ratios of the MSE search, as quantviz.ranges.mse_search tries them: a coarse grid from the
# full range down to 0.1, then steps of 0.01 around each block's best.
_MSE_COARSE = [i / 10 for i in range(10, 0, -1)]
_MSE_FINE = [i / 100 for i in range(-5, 6) if i]
_SEARCH_SLICE = 1 << 20


def format_mse_search(
    data: torch.Tensor,
    valid: torch.Tensor | None,
    r_min: torch.Tensor,
    r_max: torch.Tensor,
    scheme: QuantScheme,
    tensor_amax: float | None,
    extreme: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each block's range shrunk by the clip ratio with the least squared error, measured with
    the stored (rounded) scales and the element grid. The full range is always a candidate, so
    the result is never worse than it. Double quantization is searched on the fp32 scales.

    Returns:
        ``(r_min, r_max)`` of the best ratio, ``(num_blocks, 1)`` each.
    """
    search = replace(scheme, double_quant=False) if scheme.double_quant else scheme
    data = data if valid is None else data.nan_to_num(0.0)
    step = max(1, _SEARCH_SLICE // data.shape[1]) if data.device.type == "cpu" else len(data)
    best_ratio = torch.ones_like(r_max)
    for start in range(0, data.shape[0], step):
        rows = slice(start, start + step)
        part = (
            data[rows],
            None if valid is None else valid[rows],
            r_min[rows],
            r_max[rows],
            None if extreme is None else extreme[rows],
        )
        least = _candidate_error(part, torch.ones_like(part[3]), search, tensor_amax)
        coarse = torch.ones_like(least)
        for c in _MSE_COARSE[1:]:
            trial = torch.full_like(coarse, c)
            err = _candidate_error(part, trial, search, tensor_amax)
            better = err < least  # strict: ties keep the earlier, wider range
            least, coarse = torch.where(better, err, least), torch.where(better, trial, coarse)
        ratio = coarse
        for offset in _MSE_FINE:
            trial = (coarse + offset).clamp(0.01, 1.0)
            err = _candidate_error(part, trial, search, tensor_amax)
            better = err < least
            least, ratio = torch.where(better, err, least), torch.where(better, trial, ratio)
        best_ratio[rows] = ratio
    return r_min * best_ratio, r_max * best_ratio


def _candidate_error(
    part: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor | None],
    ratio: torch.Tensor,
    scheme: QuantScheme,
    tensor_amax: float | None,
) -> torch.Tensor:
    """Each block's squared error with its range scaled by ``ratio``."""
    data, valid, r_min, r_max, extreme = part
    scale, zp, extras = scales_from_range(
        r_min * ratio, r_max * ratio, scheme, tensor_amax, extreme
    )
    multiplier = extras.get("multiplier")
    err = reconstruct(data, scale, zp, scheme, multiplier).sub_(data).square_()  # type: ignore[arg-type]
    return (err if valid is None else err.masked_fill_(~valid, 0.0)).sum(1, keepdim=True)


def _param(p: torch.Tensor, rows: slice) -> torch.Tensor:
    return p if p.shape[0] == 1 else p[rows]


def encode_layout(layout: Layout, scheme: QuantScheme, multiply: bool = False) -> torch.Tensor:
    """Codes of ``layout.data``, slice by slice (a cache-sized slice of rows at a time), each
    written straight into the output. ``multiply``: ``layout.scale`` holds multipliers."""
    data = layout.data
    out = torch.empty(data.shape, dtype=scheme.storage_dtype, device=data.device)
    scratch = _Scratch(data, scheme)
    for rows in row_slices(data):
        part_scale, part_zp = _param(layout.scale, rows), _param(layout.zero_point, rows)
        n = rows.stop - rows.start
        y = element_levels(data[rows], part_scale, part_zp, scheme, multiply, scratch.y(n))
        _store_codes(y, scheme, out[rows], scratch.ints(n))
    return out


class _Scratch:
    """Slice-sized float32 (and, for the FP6/FP4 bit arithmetic, two int32) buffers reused by
    every slice, so the element pass allocates (and page-faults) nothing per slice, as the
    integer kernels do."""

    def __init__(self, data: torch.Tensor, scheme: QuantScheme) -> None:
        rows = next(iter(row_slices(data))).stop if data.shape[0] else 0
        shape = (rows, *data.shape[1:])
        self._y = torch.empty(shape, dtype=torch.float32, device=data.device)
        bit_path = scheme.element_format in ("fp6_e2m3", "fp6_e3m2", "fp4_e2m1")
        self._ints = [torch.empty(shape, dtype=torch.int32, device=data.device) for _ in "ab"]
        self._ints = self._ints if bit_path else []

    def y(self, n: int) -> torch.Tensor:
        return self._y[:n]

    def ints(self, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        return (self._ints[0][:n], self._ints[1][:n]) if self._ints else None


def _store_codes(
    y: torch.Tensor,
    scheme: QuantScheme,
    out: torch.Tensor,
    ints: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Codes of the element levels ``y`` (overwritten) into ``out``."""
    if scheme.is_integer:
        out.copy_(y.round_().clamp_(scheme.q_min, scheme.q_max))
    else:
        encode_codes(y, scheme.element_format, out, ints)


def decode_layout(layout: Layout, scheme: QuantScheme) -> torch.Tensor:
    """float32 reconstruction of the codes in ``layout.data``."""
    q = layout.data
    out = torch.empty(q.shape, dtype=torch.float32, device=q.device)
    for rows in row_slices(q):
        part_scale, part_zp = _param(layout.scale, rows), _param(layout.zero_point, rows)
        out[rows] = decode(q[rows], part_scale, part_zp, scheme)
    return layout.restore(out)


def block_error(blocks: Blocks, scheme: QuantScheme) -> torch.Tensor:
    """``x̂ − x`` in the block layout (pads 0), for the checkpoint scan's error totals."""
    data, valid = blocks.data, blocks.valid
    if uses_llama_arithmetic(scheme):
        q, scale, zp = quantize_llama(data, valid, scheme.preset or "", scheme.bits)
        err = decode(q, scale, zp, scheme).sub_(data)
    else:
        scale, zp, extras = block_params(blocks, scheme)
        multiplier = extras.get("multiplier")
        err = reconstruct(data, scale, zp, scheme, multiplier).sub_(data)  # type: ignore[arg-type]
    return err if valid is None else err.masked_fill_(~valid, 0.0)
