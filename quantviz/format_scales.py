"""Stored scales and zero points for every scheme that is not a plain integer scheme.

A block's range maps to the element format's max (``q_max`` for integers), or to ``2^emax`` for
E8M0 scales (the OCP MX rule ``2^(floor(log2 amax) - emax_elem)``); the scale is then rounded to
its scale format (:func:`quantviz.formats.round_scale`) before any element is quantized. NVFP4's
two-level scale and QLoRA's double quantization are here too.
"""

from __future__ import annotations

import torch

from quantviz.formats import (
    dynamic_map,
    e8m0_exponent,
    element_emax,
    element_max,
    round_offset,
    round_scale,
    round_to_grid,
)
from quantviz.ggml import LLAMA_PRESETS
from quantviz.scheme import QuantScheme

_TINY = torch.finfo(torch.float32).tiny
E4M3_TINY = 2.0**-6  # smallest normal E4M3: NVFP4 block scales are clamped to it (torchao)
DQ_BLOCK = 256  # double quantization: absmax values per second-level block (bitsandbytes)


def uses_llama_arithmetic(scheme: QuantScheme) -> bool:
    """llama.cpp presets with their full-range rule follow llama.cpp's arithmetic exactly;
    with ``percentile``/``mse`` they are quantized as the generic scheme with the same fields."""
    return scheme.preset in LLAMA_PRESETS and scheme.range_method in ("absmax", "minmax")


def allows_zero_scale(scheme: QuantScheme) -> bool:
    """llama.cpp's formats store ``d = 0`` for an all-zero block, and q4_0/q5_0 a negative ``d``;
    schemes with those conventions accept such scales."""
    return scheme.full_grid or scheme.float_zero_point or scheme.preset in LLAMA_PRESETS


def needs_whole_tensor(scheme: QuantScheme) -> bool:
    """Schemes whose block scales depend on the whole tensor (NVFP4's per-tensor scale, the mean
    and second-level blocks of double quantization)."""
    return scheme.tensor_scale or scheme.double_quant


def scale_denominator(scheme: QuantScheme) -> float:
    """What a block's range maps to: ``q_max`` / the format's max, or ``2^emax`` for E8M0."""
    top = float(scheme.q_max) if scheme.is_integer else element_max(scheme.element_format)
    return 2.0 ** element_emax(top) if scheme.scale_format == "e8m0" else top


def scales_from_range(
    r_min: torch.Tensor,
    r_max: torch.Tensor,
    scheme: QuantScheme,
    tensor_amax: float | None = None,
    extreme: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, object]]:
    """Stored scales and zero points of blocks with clipping range ``[r_min, r_max]``.

    Args:
        r_min, r_max: ``(num_blocks, 1)`` ranges (``-a, a`` for symmetric schemes).
        scheme: any scheme but a plain integer one.
        tensor_amax: max |x| over the tensor, for ``tensor_scale`` schemes.
        extreme: each block's signed value of largest magnitude, for ``full_grid`` schemes.

    Returns:
        ``(scale, zero_point, extras)``: float32 ``(num_blocks, 1)`` effective scales as stored;
        zero points (integer-valued, or real for ``float_zero_point``); per-format extras.
    """
    fmt = scheme.scale_format
    extras: dict[str, object] = {}
    if scheme.float_zero_point:
        scale = _nonzero(round_scale((r_max - r_min) / (scheme.q_max - scheme.q_min), fmt))
        return scale, round_offset(r_min - scheme.q_min * scale, fmt), extras
    if not scheme.symmetric:  # integer zero point, range widened to contain 0
        r_lo, r_hi = r_min.clamp(max=0.0), r_max.clamp(min=0.0)
        scale = _nonzero(round_scale((r_hi - r_lo) / (scheme.q_max - scheme.q_min), fmt))
        zp = torch.round(scheme.q_min - r_lo / scale).clamp_(scheme.q_min, scheme.q_max)
        return scale, zp, extras
    a = r_max
    if scheme.full_grid:
        signed = a if extreme is None else torch.where(extreme > 0, a, -a)
        scale = _nonzero(round_scale(signed / scheme.q_min, fmt))
    elif scheme.tensor_scale:
        top = element_max(scheme.element_format)
        # float32 arithmetic throughout, as torchao's per_tensor_amax_to_scale / nvfp4_quantize
        outer = torch.tensor(tensor_amax or 0.0, dtype=torch.float32) / (448.0 * top)
        outer = torch.where(outer > 0, outer, torch.ones_like(outer))
        inner = round_scale((a / top / outer).clamp(E4M3_TINY, 448.0), "fp8_e4m3")
        scale = outer * inner
        # torchao / NVIDIA's kernels scale the elements by the reciprocal (1/s_t)/s_b, not by
        # dividing by s_t·s_b; the multiplier is kept so the elements see the same float32.
        extras.update(tensor_scale=outer, block_scale=inner, multiplier=(1.0 / outer) / inner)
    else:
        scale = _nonzero(round_scale(a / scale_denominator(scheme), fmt))
        if scheme.double_quant:
            scale, dq = double_quantize(scale)
            extras.update(dq)
    if fmt == "e8m0":
        extras["scale_exponent"] = e8m0_exponent(scale)
    return scale, torch.zeros_like(scale), extras


def _nonzero(scale: torch.Tensor) -> torch.Tensor:
    """An all-zero block's scale becomes float32's smallest normal, so dividing stays finite."""
    return torch.where(scale == 0, torch.full_like(scale, _TINY), scale)


def double_quantize(scale: torch.Tensor) -> tuple[torch.Tensor, dict[str, object]]:
    """QLoRA's double quantization of fp32 absmax scales (bitsandbytes ``quantize_4bit(...,
    compress_statistics=True)``): subtract their mean, then quantize them to the signed 8-bit
    dynamic map by absmax in blocks of 256 consecutive scales.

    Returns:
        ``(scales as reconstructed, extras)``; extras hold the 8-bit codes, the fp32 second-level
        absmax per 256 scales and the mean offset.
    """
    flat = scale.reshape(-1)
    offset = flat.mean()
    centred = flat - offset
    n = flat.numel()
    pad = (-n) % DQ_BLOCK
    groups = torch.nn.functional.pad(centred, (0, pad)).reshape(-1, DQ_BLOCK)
    absmax2 = groups.abs().amax(dim=1, keepdim=True)
    absmax2 = torch.where(absmax2 == 0, torch.ones_like(absmax2), absmax2)
    table = dynamic_map()
    values, codes = round_to_grid(groups / absmax2, table, torch.arange(256))
    restored = (values * absmax2).reshape(-1)[:n] + offset
    restored = restored.clamp(min=_TINY).reshape(scale.shape)
    extras = {
        "absmax_codes": codes.reshape(-1)[:n].to(torch.uint8),
        "absmax_scale": absmax2.reshape(-1),
        "absmax_offset": float(offset),
    }
    return restored, extras
