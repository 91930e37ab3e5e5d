"""The element-wise passes of quantization, blocked for the CPU cache.

``q = clamp(round(x / scale + zero_point))`` is four element-wise torch ops. Run on a whole
4096×4096 tensor, each op streams 64 MB through main memory; run on slices of a few megabytes,
the intermediate passes stay in cache and only the input read and the int8 write touch memory.
Each slice is still one vectorized op over all of its channels and groups: the Python loop runs
over fixed-size memory tiles (16 for a 16M-element tensor), never over channels or elements.
Where each block is a contiguous row (per-row, per-group), :func:`quantize_rows_fused` also finds
the ranges slice by slice, so the tensor is read from memory once.

To slice along the first dim, each granularity is given a layout in which the per-block parameters
broadcast against the data: :func:`broadcast_layout`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from quantviz.granularity import Granularity, PerChannel, PerGroup, PerTensor
from quantviz.ranges import block_range, scale_zero_point
from quantviz.scheme import QuantScheme
from quantviz.slices import map_slices, scratch

# Elements per slice: 2^20 float32 = 4 MB, so a slice and its scratch buffer stay in a server
# CPU's L3 cache while keeping the slice count (and the per-op thread hand-offs) low.
CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class Layout:
    """``data`` (a view of the input) with parameters that broadcast against it along dim 0.

    ``scale`` and ``zero_point`` have ``data.dim()`` dims whose first size is 1 or
    ``data.shape[0]``; ``restore`` maps a tensor shaped like ``data`` back to the input's shape.
    """

    data: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    restore: Callable[[torch.Tensor], torch.Tensor]


def broadcast_layout(
    x: torch.Tensor, granularity: Granularity, scale: torch.Tensor, zero_point: torch.Tensor
) -> Layout | None:
    """A view of ``x`` in which per-block ``scale``/``zero_point`` (grid shape) broadcast.

    Returns None where no view works (groups that do not divide their dim, 2-D blocks); the
    caller then uses the copied block layout of :func:`quantviz.granularity.to_blocks`.
    """
    shape = tuple(x.shape)
    if isinstance(granularity, PerTensor):
        data = x.reshape(-1, shape[-1])
        return Layout(
            data, scale.reshape(1, 1), zero_point.reshape(1, 1), lambda t: t.reshape(shape)
        )
    if isinstance(granularity, PerChannel):
        d = granularity.dim % len(shape)
        outer, channels, inner = math.prod(shape[:d]), shape[d], math.prod(shape[d + 1 :])
        if inner == 1:  # channels are the last (contiguous) dim: one row vector of parameters
            data = x.reshape(outer, channels)
            return Layout(
                data,
                scale.reshape(1, channels),
                zero_point.reshape(1, channels),
                lambda t: t.reshape(shape),
            )
        data = x.reshape(outer * channels, inner)
        return Layout(
            data,
            scale.reshape(1, channels).expand(outer, channels).reshape(-1, 1),
            zero_point.reshape(1, channels).expand(outer, channels).reshape(-1, 1),
            lambda t: t.reshape(shape),
        )
    if isinstance(granularity, PerGroup):
        d = granularity.dim % len(shape)
        g = granularity.group_size
        if shape[d] % g:
            return None
        outer, inner = math.prod(shape[:d]), math.prod(shape[d + 1 :])
        n_groups = shape[d] // g
        data = x.reshape(outer * n_groups, g, inner)
        return Layout(
            data,
            scale.reshape(outer * n_groups, 1, inner),
            zero_point.reshape(outer * n_groups, 1, inner),
            lambda t: t.reshape(shape),
        )
    return None


def full_layout(x: torch.Tensor, scale_full: torch.Tensor, zp_full: torch.Tensor) -> Layout:
    """The fallback layout: parameters already expanded to ``x``'s shape."""
    return Layout(x, scale_full, zp_full, lambda t: t)


def _rows_per_slice(data: torch.Tensor) -> int:
    if data.device.type != "cpu" or data.shape[0] == 0:
        return max(1, data.shape[0])  # accelerators want one big launch, not cache tiles
    return max(1, CHUNK_ELEMENTS // max(1, data[0].numel()))


def row_slices(data: torch.Tensor) -> Iterator[slice]:
    """Slices of dim 0 holding about :data:`CHUNK_ELEMENTS` elements each (one on accelerators)."""
    n_rows = data.shape[0]
    step = _rows_per_slice(data)
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _param_slice(param: torch.Tensor, rows: slice) -> torch.Tensor:
    return param if param.shape[0] == 1 else param[rows]


def quantize_layout(
    layout: Layout, q_min: int, q_max: int, symmetric: bool, dtype: torch.dtype
) -> torch.Tensor:
    """``clamp(round(data / scale + zero_point), q_min, q_max)`` as ``dtype``, slice by slice.

    Division (not multiplication by ``1/scale``) keeps results identical to the notebook's.
    """
    data = layout.data
    out = torch.empty(data.shape, dtype=dtype, device=data.device)
    zp = None if symmetric else layout.zero_point.to(torch.float32)

    def one_slice(rows: slice) -> None:
        part = data[rows]
        _quantize_slice(
            part,
            _param_slice(layout.scale, rows),
            None if zp is None else _param_slice(zp, rows),
            q_min,
            q_max,
            scratch(tuple(part.shape), data.device),
            out[rows],
        )

    map_slices(one_slice, list(row_slices(data)), data.device.type == "cpu")
    return layout.restore(out)


def _quantize_slice(
    data: torch.Tensor,
    scale: torch.Tensor,
    zero_point: torch.Tensor | None,
    q_min: int,
    q_max: int,
    buf: torch.Tensor,
    out: torch.Tensor,
) -> None:
    """``out = clamp(round(data / scale + zero_point))`` through the float32 scratch ``buf``."""
    torch.div(data, scale, out=buf)
    if zero_point is not None:
        buf.add_(zero_point)
    buf.round_().clamp_(q_min, q_max)
    out.copy_(buf)  # exact: the values are already whole numbers in range


def quantize_rows_fused(
    data: torch.Tensor, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """Full-range quantization where each row of ``data`` is one block, in a single memory pass.

    Each slice of whole blocks is read once: its ranges, scales and integers are all computed
    while it sits in cache. Used for per-row and per-group layouts (contiguous block rows).

    Returns:
        ``(q, scale, zero_point, finite)``: q shaped like ``data``, ``(num_blocks, 1)`` float32
        parameters, and whether every block range was finite (False means NaN or inf in data).
    """
    out = torch.empty(data.shape, dtype=scheme.storage_dtype, device=data.device)
    scales = torch.empty((data.shape[0], 1), dtype=torch.float32, device=data.device)
    zero_points = torch.empty_like(scales)

    def one_slice(rows: slice) -> bool:
        part = data[rows]
        lo, hi = block_range(part, None, scheme)
        finite = bool((torch.isfinite(lo) & torch.isfinite(hi)).all())
        scale, zp = scale_zero_point(lo, hi, scheme)
        scales[rows], zero_points[rows] = scale, zp
        _quantize_slice(
            part,
            scale,
            None if scheme.symmetric else zp,
            scheme.q_min,
            scheme.q_max,
            scratch(tuple(part.shape), data.device),
            out[rows],
        )
        return finite

    finite = map_slices(one_slice, list(row_slices(data)), data.device.type == "cpu")
    return out, scales, zero_points, all(finite)


def fused_rows_apply(data: torch.Tensor, valid: torch.Tensor | None, scheme: QuantScheme) -> bool:
    """Whether :func:`quantize_rows_fused` fits: full range, CPU, contiguous unpadded block rows
    that each fit in a slice, and enough blocks for slicing to matter."""
    return (
        scheme.range_method in ("absmax", "minmax")
        and valid is None
        and data.device.type == "cpu"
        and data.is_contiguous()
        and data.shape[0] > 1
        and data.shape[1] <= CHUNK_ELEMENTS
    )


def dequantize_layout(layout: Layout, symmetric: bool) -> torch.Tensor:
    """float32 ``scale · (q - zero_point)`` where ``layout.data`` holds the integers."""
    q = layout.data
    out = torch.empty(q.shape, dtype=torch.float32, device=q.device)
    zp = None if symmetric else layout.zero_point.to(torch.float32)

    def one_slice(rows: slice) -> None:
        buf = out[rows]
        buf.copy_(q[rows])
        if zp is not None:
            buf.sub_(_param_slice(zp, rows))
        buf.mul_(_param_slice(layout.scale, rows))

    map_slices(one_slice, list(row_slices(q)), q.device.type == "cpu")
    return layout.restore(out)


# Squares of float32 values outside this range under- or overflow; such slices are rescaled first.
_SAFE_LOW, _SAFE_HIGH = 2.0**-60, 2.0**60


def _peak(values: torch.Tensor) -> float:
    # One fused pass; vector_norm's inf-norm and aminmax along a dim are several times slower.
    lo, hi = torch.aminmax(values)
    return max(float(hi), -float(lo))


def _power_of_two_factor(peak: float) -> float:
    """1, or the power of two that brings ``peak`` near 1 when its square would under- or
    overflow float32 (multiplying by it is exact)."""
    if peak == 0.0 or not math.isfinite(peak) or _SAFE_LOW <= peak <= _SAFE_HIGH:
        return 1.0
    # Clamped so the factor itself is a normal float32 (the tensor ops use it as one).
    return min(max(2.0 ** -math.frexp(peak)[1], 2.0**-126), 2.0**126)


def _slice_sums(buf: torch.Tensor) -> tuple[float, float, float]:
    """``(Σv², Σ|v|, max|v|)`` of a float32 slice; ``buf`` is overwritten."""
    peak = _peak(buf)
    if peak == 0.0:
        return 0.0, 0.0, 0.0
    factor = _power_of_two_factor(peak)
    if factor != 1.0:
        buf.mul_(factor)
    # In-place abs then square, each summed by torch's pairwise reduction: more accurate than a
    # BLAS dot, which accumulates a million float32 squares with a relative error near 3e-6.
    absolute = float(buf.abs_().sum()) / factor
    squares = float(buf.square_().sum()) / factor**2
    return squares, absolute, peak


def _sum_of_squares(values: torch.Tensor, scratch: torch.Tensor) -> float:
    """``Σv²`` of a read-only slice, squared into ``scratch`` (rescaled when needed)."""
    factor = _power_of_two_factor(_peak(values))
    if factor == 1.0:
        torch.mul(values, values, out=scratch)
    else:
        torch.mul(values, factor, out=scratch).square_()
    return float(scratch.sum()) / factor**2


def dequantized_error_sums(
    layout: Layout, x: torch.Tensor, symmetric: bool
) -> tuple[float, float, float, float]:
    """:func:`error_sums` of ``x`` against the dequantization of ``layout.data`` (integers),
    without materializing the reconstruction: each slice is dequantized into a cache-sized
    buffer, exactly as :func:`dequantize_layout` does, and compared there.

    Args:
        layout: the integers and their parameters, as :func:`dequantize_layout` takes them.
        x: the original, shaped like ``layout.data``.
        symmetric: whether zero points are all 0 (skipped).
    """
    q = layout.data
    zp = None if symmetric else layout.zero_point.to(torch.float32)

    def one_slice(part: slice) -> tuple[float, float, float, float]:
        buf = scratch(tuple(q[part].shape), q.device)
        buf.copy_(q[part])
        if zp is not None:
            buf.sub_(_param_slice(zp, part))
        buf.mul_(_param_slice(layout.scale, part)).sub_(x[part])
        part_sq, part_ab, part_peak = _slice_sums(buf)
        return part_sq, part_ab, part_peak, _sum_of_squares(x[part], buf)

    return _add_up(map_slices(one_slice, list(row_slices(q)), q.device.type == "cpu"))


def _add_up(parts: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """Slice totals ``(Σsq, Σabs, peak, Σsignal)`` added in slice order (as one loop would)."""
    sq = ab = sig = peak = 0.0
    for part_sq, part_ab, part_peak, part_sig in parts:
        sq, ab, peak, sig = sq + part_sq, ab + part_ab, max(peak, part_peak), sig + part_sig
    return sq, ab, peak, sig


def error_sums(x: torch.Tensor, x_hat: torch.Tensor) -> tuple[float, float, float, float]:
    """``(Σ(x̂ - x)², Σ|x̂ - x|, max|x̂ - x|, Σx²)`` over all elements, slice by slice.

    Slices are summed in float32 (torch's cascade summation) and the slice totals in Python
    floats (double), so a 16M-element sum stays accurate without a float64 copy of the data.
    """
    a = x.reshape(-1)
    b = x_hat.reshape(-1)

    def one_slice(part: slice) -> tuple[float, float, float, float]:
        buf = torch.sub(b[part], a[part], out=scratch(tuple(a[part].shape), a.device))
        part_sq, part_ab, part_peak = _slice_sums(buf)
        return part_sq, part_ab, part_peak, _sum_of_squares(a[part], buf)

    return _add_up(map_slices(one_slice, list(row_slices(a)), a.device.type == "cpu"))
