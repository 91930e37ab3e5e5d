"""Quantization and dequantization, vectorized over every granularity and format.

Plain integer schemes: ``q = clamp(round(x / scale + zero_point), q_min, q_max)`` and
``x_hat = scale · (q - zero_point)``, in float32 with round-half-to-even (``torch.round``), exactly
as the course notebook computes them. Every other scheme (element formats, scale formats, the
integer variants and presets) goes through :mod:`quantviz.format_quant`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from quantviz.format_quant import (
    NonFiniteRangeError,
    clip_bounds,
    code_values,
    decode_layout,
    element_levels,
    encode_layout,
    quantize_blocks,
)
from quantviz.format_scales import allows_zero_scale
from quantviz.granularity import Blocks, expand_to_elements, grid_shape, to_blocks
from quantviz.kernels import (
    Layout,
    broadcast_layout,
    dequantize_layout,
    full_layout,
    fused_rows_apply,
    quantize_layout,
    quantize_rows_fused,
)
from quantviz.ranges import block_range, mse_search, scale_zero_point
from quantviz.scheme import QuantScheme


@dataclass(frozen=True)
class QuantResult:
    """The outcome of :func:`quantize`.

    Attributes:
        q: the codes, same shape as the input (dtype ``scheme.storage_dtype``): integers for the
            integer grid, the format's code otherwise (uint8 bit pattern for FP8/FP6/FP4, 0..15
            for NF4); :meth:`element_values` says what each means.
        scale: float32 effective scales as stored (rounded to the scale format; for NVFP4 the
            per-tensor scale times the E4M3 block scale), one per block, in the granularity's
            grid shape. Negative for llama.cpp's q4_0/q5_0 blocks whose extreme is positive.
        zero_point: same shape as ``scale``: int32 (zeros for symmetric schemes), or float32 for
            ``float_zero_point`` schemes (``x̂ = zero_point + scale·q``).
        scheme: the scheme used.
        extras: per-format details: ``scale_exponent`` (E8M0 bytes), ``tensor_scale`` and
            ``block_scale`` (NVFP4), ``absmax_codes``/``absmax_scale``/``absmax_offset`` (double
            quantization); scales in block order.
    """

    q: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    scheme: QuantScheme
    extras: dict[str, object] = field(default_factory=dict)

    def dequantize(self) -> torch.Tensor:
        """float32 reconstruction ``scale · (value(q) - zero_point)`` (``zero_point +
        scale·q`` for a float zero point), same shape as the input."""
        return dequantize(self.q, self.scale, self.zero_point, self.scheme)

    def element_values(self) -> torch.Tensor:
        """float32, ``q``'s shape: the element-grid value each code means, before the scale."""
        return code_values(self.q, self.scheme)

    @property
    def num_scales(self) -> int:
        return self.scale.numel()


def check_input(x: torch.Tensor) -> torch.Tensor:
    """Refuse what cannot be quantized, with a message that names the problem, and return ``x``
    as float32. Non-finite values are caught later, from the block ranges, to save a pass.

    Raises:
        ValueError: non-tensor, non-float dtype, 0-d or empty tensor.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(
            f"expected a floating-point tensor, got dtype {x.dtype}; "
            "convert it first, e.g. x.to(torch.float32)"
        )
    if x.dim() == 0:
        raise ValueError("expected a tensor with at least one dimension, got a 0-d scalar")
    if x.numel() == 0:
        raise ValueError(f"cannot quantize an empty tensor of shape {tuple(x.shape)}")
    # Weights straight from a model carry autograd history; quantization is not differentiable
    # here, and the in-place / out= kernels refuse tensors that require grad.
    x = x.detach()
    if x.dtype == torch.float64:
        refuse_beyond_float32(x)
    return x.to(torch.float32)


FLOAT32_MAX = torch.finfo(torch.float32).max


def refuse_beyond_float32(x: torch.Tensor) -> None:
    """Raise a ValueError when finite float64 values would overflow float32 (±3.4e38)."""
    too_big = torch.isfinite(x) & (x.abs() > FLOAT32_MAX)
    if bool(too_big.any()):
        first = tuple(int(i) for i in torch.nonzero(too_big)[0])
        raise ValueError(
            f"{int(too_big.sum())} value(s) exceed float32's range (±3.4e38), first at index "
            f"{first}; rescale the tensor first"
        )


def refuse_non_finite(x: torch.Tensor) -> None:
    """Raise a ValueError saying how many values of ``x`` are NaN or infinite, and where."""
    finite = torch.isfinite(x)
    if bool(finite.all()):
        return
    bad = ~finite
    first = tuple(int(i) for i in torch.nonzero(bad)[0])
    raise ValueError(
        f"tensor has {int(bad.sum())} non-finite value(s) (NaN or ±inf), first at index {first}"
    )


def quantize(x: torch.Tensor, scheme: QuantScheme) -> QuantResult:
    """Quantize ``x`` with ``scheme``.

    Args:
        x: finite floating-point tensor with at least one dimension (any device; converted to
            float32).
        scheme: bits, symmetry, grid, granularity and range method.

    Returns:
        A :class:`QuantResult` on ``x``'s device.

    Raises:
        ValueError: for non-float, 0-d, empty or non-finite input, or a granularity that does not
            fit the tensor (e.g. ``PerChannel(dim=2)`` on a matrix).
    """
    x = check_input(x)
    if scheme.range_method in ("percentile", "mse"):
        refuse_non_finite(x)  # their searches would not propagate NaN reliably
    blocks = to_blocks(x, scheme.granularity)
    if not scheme.is_plain_integer:
        try:
            q, scale_grid, zp_grid, extras = quantize_blocks(x, blocks, scheme)
        except NonFiniteRangeError:
            refuse_non_finite(x)
            raise
        zp_dtype = torch.float32 if scheme.float_zero_point else torch.int32
        return QuantResult(q.contiguous(), scale_grid, zp_grid.to(zp_dtype), scheme, extras)
    if fused_rows_apply(blocks.data, blocks.valid, scheme):
        q_rows, scale, zero_point, finite = quantize_rows_fused(blocks.data, scheme)
        if not finite:
            refuse_non_finite(x)
        q = blocks.restore(q_rows)
        scale_grid = blocks.params_to_grid(scale).contiguous()
        zp_grid = blocks.params_to_grid(zero_point).contiguous()
    else:
        q, scale_grid, zp_grid = _quantize_two_pass(x, blocks, scheme)
    return QuantResult(
        q=q.contiguous(),
        scale=scale_grid,
        zero_point=zp_grid.to(torch.int32),
        scheme=scheme,
    )


def _quantize_two_pass(
    x: torch.Tensor, blocks: Blocks, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ranges of all blocks first, then the integers: for blocks that are not contiguous rows
    (columns, tiles, ragged groups) and for the percentile and MSE range methods."""
    r_min, r_max = block_range(blocks.data, blocks.valid, scheme)
    # NaN and inf propagate into the block ranges, so this is a full check at per-block cost.
    if not bool((torch.isfinite(r_min) & torch.isfinite(r_max)).all()):
        refuse_non_finite(x)
    if scheme.range_method == "mse":
        scale, zero_point = mse_search(blocks.data, blocks.valid, r_min, r_max, scheme)
    else:
        scale, zero_point = scale_zero_point(r_min, r_max, scheme)
    scale_grid = blocks.params_to_grid(scale).contiguous()
    zp_grid = blocks.params_to_grid(zero_point).contiguous()
    layout = broadcast_layout(x, scheme.granularity, scale_grid, zp_grid)
    if layout is None:  # ragged groups and 2-D tiles: work on the (copied) block rows
        layout = Layout(blocks.data, scale, zero_point, blocks.restore)
    q = quantize_layout(layout, scheme.q_min, scheme.q_max, scheme.symmetric, scheme.storage_dtype)
    return q, scale_grid, zp_grid


def _checked_params(
    t: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 parameters in the granularity's grid shape, or a ValueError saying what is off."""
    expected = grid_shape(t.shape, scheme.granularity)
    where = f"{scheme.granularity.label()} on a tensor of shape {tuple(t.shape)}"
    for name, param in (("scale", scale), ("zero_point", zero_point)):
        if not isinstance(param, torch.Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(param).__name__}")
        if tuple(param.shape) != expected and not (expected == () and param.numel() == 1):
            raise ValueError(
                f"{name} has shape {tuple(param.shape)}, expected {expected} for {where}"
            )
    scale = scale.detach().to(torch.float32).reshape(expected)
    if allows_zero_scale(scheme):
        # llama.cpp stores d = max / -8 (negative) and d = 0 for an all-zero block
        if not bool(torch.isfinite(scale).all()):
            raise ValueError("every scale must be finite")
    elif not bool((torch.isfinite(scale) & (scale > 0)).all()):
        raise ValueError("every scale must be positive and finite")
    zero_point = zero_point.detach().to(torch.float32).reshape(expected)
    _check_zero_point(zero_point, scheme)
    return scale, zero_point


def _check_zero_point(zero_point: torch.Tensor, scheme: QuantScheme) -> None:
    """Refuse a zero point the scheme cannot hold: any non-zero one for a symmetric scheme, a
    non-integer or out-of-grid one for an integer zero point, a non-finite float zero point."""
    if not bool(torch.isfinite(zero_point).all()):
        raise ValueError("every zero_point must be finite")
    if scheme.float_zero_point:
        return
    if scheme.symmetric:
        if bool((zero_point != 0).any()):
            bad = float(zero_point[zero_point != 0][0])
            raise ValueError(
                f"{scheme.label()} is symmetric: its zero points are 0, got {bad!r}; pass zeros "
                "or use an asymmetric scheme"
            )
        return
    off = (zero_point != zero_point.round()) | (zero_point < scheme.q_min)
    off |= zero_point > scheme.q_max
    if bool(off.any()):
        bad = float(zero_point[off][0])
        raise ValueError(
            f"zero_point {bad!r} is off the grid of {scheme.label()}: it must be an integer "
            f"from {scheme.q_min} to {scheme.q_max}"
        )


def param_layout(
    t: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> Layout:
    """``t`` reshaped so that the per-block ``scale``/``zero_point`` broadcast against it (or,
    for tiles and ragged groups, with the parameters expanded to every element)."""
    gran = scheme.granularity
    scale, zero_point = _checked_params(t, scale, zero_point, scheme)
    layout = broadcast_layout(t, gran, scale, zero_point)
    if layout is None:
        layout = full_layout(
            t,
            expand_to_elements(scale, t.shape, gran),
            expand_to_elements(zero_point, t.shape, gran),
        )
    return layout


def quantize_with_params(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """Quantize ``x`` with given per-block parameters (the notebook's
    ``linear_q_with_scale_and_zero_point``), e.g. to re-quantize a reconstruction.

    Args:
        x: float tensor.
        scale: per-block scales in the granularity's grid shape (as :func:`quantize` returns).
        zero_point: per-block zero points, same shape as ``scale``.
        scheme: gives the grid (or element format) and the granularity.

    Returns:
        Codes of ``x``'s shape (``scheme.storage_dtype``): integers, or the element format's
        codes. The scales are used as given (already in their scale format).

    Raises:
        ValueError: a parameter of the wrong shape, a non-positive or non-finite scale (zero
            and negative scales are allowed for llama.cpp-style schemes), a non-zero zero point
            for a symmetric scheme, or an integer zero point that is fractional or off the grid.
    """
    layout = param_layout(x.to(torch.float32), scale, zero_point, scheme)
    if not scheme.is_plain_integer:
        return layout.restore(encode_layout(layout, scheme)).contiguous()
    return quantize_layout(
        layout, scheme.q_min, scheme.q_max, scheme.symmetric, scheme.storage_dtype
    ).contiguous()


def dequantize(
    q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """float32 ``scale · (value(q) - zero_point)`` (``zero_point + scale · q`` for a float zero
    point) with per-block parameters expanded to ``q``'s shape.

    Args:
        q: codes as returned in :attr:`QuantResult.q`.
        scale: per-block scales in the granularity's grid shape.
        zero_point: per-block zero points, same shape as ``scale``.
        scheme: the scheme that produced them.

    Returns:
        float32 tensor of ``q``'s shape.

    Raises:
        ValueError: as :func:`quantize_with_params` for the parameters.
    """
    layout = param_layout(q, scale, zero_point, scheme)
    if not scheme.is_plain_integer:
        return decode_layout(layout, scheme)
    return dequantize_layout(layout, scheme.symmetric)


def clipped_mask(x: torch.Tensor, result: QuantResult) -> torch.Tensor:
    """Which elements of ``x`` fell outside the representable range and were clamped.

    An element is clipped when ``x / scale + zero_point`` lies outside ``[q_min - ½, q_max + ½]``
    (for other element formats: beyond the grid's ends by more than half their last step);
    every other element is within half a grid step (times the scale) of its reconstruction.
    """
    scheme = result.scheme
    scale = expand_to_elements(result.scale, x.shape, scheme.granularity)
    zp = expand_to_elements(result.zero_point.to(torch.float32), x.shape, scheme.granularity)
    level = element_levels(x.to(torch.float32), scale, zp, scheme)
    lo, hi = clip_bounds(scheme)
    return (level < lo) | (level > hi)


def _grid_to_block_order(blocks: Blocks, param: torch.Tensor) -> torch.Tensor:
    """A per-block parameter in the API's grid shape, reordered to the ``(num_blocks, 1)`` rows
    of ``blocks`` (the inverse of ``blocks.params_to_grid``, found from that mapping itself)."""
    n = blocks.data.shape[0]
    ids = blocks.params_to_grid(torch.arange(n, device=param.device).reshape(n, 1)).reshape(-1)
    out = torch.empty(n, dtype=param.dtype, device=param.device)
    out[ids] = param.reshape(-1)
    return out.reshape(n, 1)


def clipped_count(x: torch.Tensor, result: QuantResult) -> int:
    """How many elements of ``x`` were clamped at the grid's edges.

    Equal to ``int(clipped_mask(x, result).sum())``, but computed in the block layout, so the
    scales and zero-points are never expanded to one value per element.

    Args:
        x: the tensor that was quantized into ``result``.
        result: the outcome of :func:`quantize` on ``x``.

    Returns:
        The number of clipped elements.
    """
    scheme = result.scheme
    blocks = to_blocks(x.to(torch.float32), scheme.granularity)
    scale = _grid_to_block_order(blocks, result.scale)
    zp = _grid_to_block_order(blocks, result.zero_point.to(torch.float32))
    level = element_levels(blocks.data, scale, zp, scheme)
    lo, hi = clip_bounds(scheme)
    # Pads are NaN and compare False either way, so they never count.
    return int(((level < lo) | (level > hi)).sum())
