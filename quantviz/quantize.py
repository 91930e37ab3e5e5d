"""Linear quantization and dequantization, vectorized over every granularity.

``q = clamp(round(x / scale + zero_point), q_min, q_max)`` and ``x_hat = scale · (q - zero_point)``,
in float32 with round-half-to-even (``torch.round``), exactly as the course notebook computes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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
        q: integer tensor, same shape as the input (dtype ``scheme.storage_dtype``).
        scale: float32, one entry per block, in the granularity's grid shape.
        zero_point: int32, same shape as ``scale`` (all zeros for symmetric schemes).
        scheme: the scheme used.
    """

    q: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    scheme: QuantScheme

    def dequantize(self) -> torch.Tensor:
        """float32 reconstruction ``scale · (q - zero_point)``, same shape as the input."""
        return dequantize(self.q, self.scale, self.zero_point, self.scheme)

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
    if not bool((torch.isfinite(scale) & (scale > 0)).all()):
        raise ValueError("every scale must be positive and finite")
    return scale, zero_point.detach().to(torch.float32).reshape(expected)


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
        scheme: gives the grid and the granularity.

    Returns:
        Integer tensor of ``x``'s shape.
    """
    layout = param_layout(x.to(torch.float32), scale, zero_point, scheme)
    return quantize_layout(
        layout, scheme.q_min, scheme.q_max, scheme.symmetric, scheme.storage_dtype
    ).contiguous()


def dequantize(
    q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """float32 ``scale · (q - zero_point)`` with per-block parameters expanded to ``q``'s shape.

    Args:
        q: integer tensor as returned in :attr:`QuantResult.q`.
        scale: per-block scales in the granularity's grid shape.
        zero_point: per-block zero points, same shape as ``scale``.
        scheme: the scheme that produced them.

    Returns:
        float32 tensor of ``q``'s shape.
    """
    return dequantize_layout(param_layout(q, scale, zero_point, scheme), scheme.symmetric)


def clipped_mask(x: torch.Tensor, result: QuantResult) -> torch.Tensor:
    """Which elements of ``x`` fell outside the representable range and were clamped.

    An element is clipped when ``x / scale + zero_point`` lies outside ``[q_min - ½, q_max + ½]``;
    every other element is within ``scale / 2`` of its reconstruction.
    """
    scheme = result.scheme
    scale = expand_to_elements(result.scale, x.shape, scheme.granularity)
    zp = expand_to_elements(result.zero_point.to(torch.float32), x.shape, scheme.granularity)
    level = x.to(torch.float32) / scale + zp
    return (level < scheme.q_min - 0.5) | (level > scheme.q_max + 0.5)


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
    level = blocks.data / scale + zp
    # Pads are NaN and compare False either way, so they never count.
    return int(((level < scheme.q_min - 0.5) | (level > scheme.q_max + 0.5)).sum())
