"""llama.cpp's legacy block formats with llama.cpp's own arithmetic (bit-exact with gguf.quants).

Reference: ``ggml/src/ggml-quants.c`` ``quantize_row_q{8_0,4_0,4_1,5_0,5_1}_ref`` and its numpy
port ``gguf.quants`` (gguf 0.19.0). The block scale ``d`` (and minimum ``m``) are computed in
float32 and the elements with the float32 reciprocal ``id = 1/d`` (a multiply, not a division);
only the stored ``d``/``m`` are fp16, and the reconstruction uses those. Rounding is llama.cpp's:
``roundf`` (half away from zero) for q8_0, ``trunc(v + 8.5)`` (half up) for the others.

Codes follow quantviz's conventions: q8_0/q4_0/q5_0 signed integers (llama.cpp's nibble minus 8
or 16) with ``x̂ = d·q``; q4_1/q5_1 unsigned nibbles with ``x̂ = d·q + m`` (``m`` as a float zero
point). ``d`` is negative where a block's signed extreme is positive (q4_0/q5_0), as stored.
"""

from __future__ import annotations

import math

import torch

LLAMA_PRESETS = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1")


def _fp16(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float16).to(torch.float32)


def _reciprocal(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d == 0, torch.zeros_like(d), 1.0 / d)


def _roundf(v: torch.Tensor) -> torch.Tensor:
    """C ``roundf`` as gguf writes it: ``sign(v)·(floor|v| + floor(2·(|v| - floor|v|)))``."""
    a = v.abs()
    floored = a.floor()
    return (floored + (2 * (a - floored)).floor()).copysign_(v)


def quantize_llama(
    data: torch.Tensor, valid: torch.Tensor | None, preset: str, bits: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes, fp16 scales and zero points of ``(num_blocks, 32)`` blocks in format ``preset``.

    Args:
        data: float32 blocks (pads, if any, marked by ``valid``).
        valid: mask of real elements, or None.
        preset: one of :data:`LLAMA_PRESETS`.
        bits: 8, 4 or 5.

    Returns:
        ``(q, scale, zero_point)``: integer codes shaped like ``data`` (int8, or uint8 for the
        ``_1`` types), and ``(num_blocks, 1)`` float32 stored scales and zero points.
    """
    clean = data if valid is None else data.masked_fill(~valid, 0.0)
    half = 2 ** (bits - 1)
    if preset == "q8_0":
        d = clean.abs().amax(dim=1, keepdim=True) / 127
        q = _roundf(clean * _reciprocal(d)).to(torch.int8)
        return q, _fp16(d), torch.zeros_like(d)
    if preset.endswith("_0"):
        imax = clean.abs().argmax(dim=1, keepdim=True)  # first of equal magnitudes, as numpy
        d = clean.gather(1, imax) / -half
        level = (clean * _reciprocal(d) + (half + 0.5)).trunc_().clamp_(0, 2 * half - 1)
        return (level - half).to(torch.int8), _fp16(d), torch.zeros_like(d)
    lo = data if valid is None else data.masked_fill(~valid, math.inf)
    hi = data if valid is None else data.masked_fill(~valid, -math.inf)
    mn = lo.amin(dim=1, keepdim=True)
    d = (hi.amax(dim=1, keepdim=True) - mn) / (2**bits - 1)
    level = ((clean - mn) * _reciprocal(d) + 0.5).trunc_().clamp_(0, 2**bits - 1)
    return level.to(torch.uint8), _fp16(d), _fp16(mn)
