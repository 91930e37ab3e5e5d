"""Every intermediate of linear quantization, for the Learn page to show step by step.

The numbers come from the same functions :func:`quantviz.quantize` uses (block layout, range,
scale and zero point, MSE search), so what the page explains is exactly what the library does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from quantviz.granularity import expand_to_elements, to_blocks
from quantviz.quantize import check_input, refuse_non_finite
from quantviz.ranges import block_range, mse_search, scale_zero_point
from quantviz.scheme import QuantScheme

MAX_EXPLAIN_ELEMENTS = 4096


@dataclass(frozen=True)
class ExplainSteps:
    """The recipe, one tensor per step.

    Per-block tensors have the scale grid's shape (0-d for per-tensor); per-element tensors have
    ``x``'s shape.

    Attributes:
        scheme: the scheme explained.
        x: the input, float32.
        r_min: each block's range low end from the range method (before any MSE search).
        r_max: its high end.
        scale: ``r_max / q_max`` (symmetric) or ``(r_max − r_min) / (q_max − q_min)``.
        zero_point: ``round(q_min − r_min / scale)`` clipped to the grid (0 when symmetric).
        rep_min: the smallest value the grid can stand for, ``scale · (q_min − zero_point)``.
        rep_max: the largest, ``scale · (q_max − zero_point)``.
        scale_map: ``scale`` repeated to every element.
        zero_point_map: ``zero_point`` repeated to every element.
        scaled: ``x / scale + zero_point`` before rounding.
        rounded: ``round(scaled)`` (half to even).
        q: ``clamp(rounded, q_min, q_max)``, integer dtype; equals ``qv.quantize(x, scheme).q``.
        clipped: where clamping changed the rounded value.
        dequantized: ``scale · (q − zero_point)``.
        error: ``dequantized − x``.
        mse: mean squared error.
    """

    scheme: QuantScheme
    x: torch.Tensor
    r_min: torch.Tensor
    r_max: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    rep_min: torch.Tensor
    rep_max: torch.Tensor
    scale_map: torch.Tensor
    zero_point_map: torch.Tensor
    scaled: torch.Tensor
    rounded: torch.Tensor
    q: torch.Tensor
    clipped: torch.Tensor
    dequantized: torch.Tensor
    error: torch.Tensor
    mse: float

    def to_dict(self) -> dict[str, object]:
        """The steps by name, in recipe order (tensors stay tensors)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def explain_steps(x: torch.Tensor, scheme: QuantScheme) -> ExplainSteps:
    """Compute every step of quantizing a small tensor with ``scheme``.

    Args:
        x: a small finite float tensor (1-D or 2-D, at most 4096 elements).
        scheme: any scheme the core supports (every granularity and range method).

    Returns:
        An :class:`ExplainSteps`.

    Raises:
        ValueError: for non-float, empty, non-finite, too big or more-than-2-D input, or a
            granularity that does not fit ``x``.
    """
    if not isinstance(scheme, QuantScheme):
        raise ValueError(f"expected a QuantScheme, got {type(scheme).__name__}")
    x = check_input(x)
    if x.dim() > 2:
        raise ValueError(f"explain_steps takes a 1-D or 2-D tensor, got shape {tuple(x.shape)}")
    if x.numel() > MAX_EXPLAIN_ELEMENTS:
        raise ValueError(
            f"explain_steps is for small examples (at most {MAX_EXPLAIN_ELEMENTS} elements), "
            f"got {x.numel()}"
        )
    refuse_non_finite(x)
    x = x.detach().clone()
    gran = scheme.granularity
    blocks = to_blocks(x, gran)
    r_min, r_max = block_range(blocks.data, blocks.valid, scheme)
    if scheme.range_method == "mse":
        scale, zp = mse_search(blocks.data, blocks.valid, r_min, r_max, scheme)
    else:
        scale, zp = scale_zero_point(r_min, r_max, scheme)

    # The same operations, in the same order, as quantize's inner step.
    scaled = torch.div(blocks.data, scale)
    if not scheme.symmetric:
        scaled = scaled + zp
    rounded = scaled.round()
    q = rounded.clamp(scheme.q_min, scheme.q_max)

    def grid(t: torch.Tensor) -> torch.Tensor:
        return blocks.params_to_grid(t).contiguous()

    scale_g, zp_g = grid(scale), grid(zp)
    q_full = blocks.restore(q)
    scale_map = expand_to_elements(scale_g, x.shape, gran).contiguous()
    zp_map = expand_to_elements(zp_g, x.shape, gran).contiguous()
    dequantized = (q_full - zp_map) * scale_map
    rounded_full = blocks.restore(rounded).contiguous()
    error = dequantized - x
    return ExplainSteps(
        scheme=scheme,
        x=x,
        r_min=grid(r_min),
        r_max=grid(r_max),
        scale=scale_g,
        zero_point=zp_g.to(torch.int32),
        rep_min=scale_g * (scheme.q_min - zp_g),
        rep_max=scale_g * (scheme.q_max - zp_g),
        scale_map=scale_map,
        zero_point_map=zp_map.to(torch.int32),
        scaled=blocks.restore(scaled).contiguous(),
        rounded=rounded_full,
        q=q_full.to(scheme.storage_dtype).contiguous(),
        clipped=rounded_full != q_full,
        dequantized=dequantized,
        error=error,
        mse=float(error.to(torch.float64).square().mean()),
    )
