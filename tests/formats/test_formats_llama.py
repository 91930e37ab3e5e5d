"""llama.cpp presets against the gguf package's reference quantizer (gguf.quants 0.19.0):
the integers, the fp16 scales / minimums and the dequantized values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, quants

import quantviz as qv

TYPES = {
    "q8_0": GGMLQuantizationType.Q8_0,
    "q4_0": GGMLQuantizationType.Q4_0,
    "q4_1": GGMLQuantizationType.Q4_1,
    "q5_0": GGMLQuantizationType.Q5_0,
    "q5_1": GGMLQuantizationType.Q5_1,
}


def _inputs() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(64, 256, generator=gen)
    x[0, :32] = 0.0  # an all-zero block
    x[1, :32] = 2.0  # a constant block (min == max)
    x[2, :32] = torch.linspace(-1, 1, 32)  # +1 and -1: equal magnitudes, first one wins
    x[3, :32] = torch.arange(32) / 4.0  # values on a power-of-two grid: exact ties
    x[4, :32] = -torch.rand(32, generator=gen)  # all negative
    return {
        "gaussian": x,
        "heavy": torch.distributions.StudentT(2.0).sample((32, 128)) * 0.02,
        "big": torch.randn(8, 64, generator=gen) * 3000.0,
    }


@pytest.mark.parametrize("data", list(_inputs()))
@pytest.mark.parametrize("preset", list(TYPES))
def test_bit_exact_against_gguf(preset, data) -> None:
    x = _inputs()[data]
    res = qv.quantize(x, qv.PRESETS[preset])
    ref_bytes = quants.quantize(x.numpy(), TYPES[preset])
    ref = quants.dequantize(ref_bytes, TYPES[preset])
    assert np.array_equal(res.dequantize().numpy(), ref)  # same float32 bits
    # Scale (and minimum) bytes: fp16 per block, the first bytes of each block record.
    blocks = ref_bytes.reshape(-1, ref_bytes.shape[-1] // (x.shape[-1] // 32))
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32).reshape(res.scale.shape)
    assert np.array_equal(res.scale.numpy(), d)
    if preset.endswith("_1"):
        m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32).reshape(res.scale.shape)
        assert np.array_equal(res.zero_point.numpy(), m)


@pytest.mark.parametrize("preset", ["q8_0", "q4_0", "q4_1"])
def test_codes_match_gguf_integers(preset) -> None:
    """The integers themselves: gguf's unpacked nibbles (minus 8 for q4_0) or int8 bytes."""
    x = _inputs()["gaussian"]
    res = qv.quantize(x, qv.PRESETS[preset])
    raw = quants.quantize(x.numpy(), TYPES[preset]).reshape(
        -1, {"q8_0": 34, "q4_0": 18, "q4_1": 20}[preset]
    )
    if preset == "q8_0":
        ints = raw[:, 2:].copy().view(np.int8).astype(np.int32)
    else:
        packed = raw[:, -16:]
        ints = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.int32)
        if preset == "q4_0":
            ints -= 8
    assert np.array_equal(res.q.reshape(-1, 32).numpy().astype(np.int32), ints)


def test_q4_0_scale_is_signed_as_stored() -> None:
    x = torch.zeros(1, 32)
    x[0, 5] = 3.0
    x[0, 6] = -1.0
    res = qv.quantize(x, qv.PRESETS["q4_0"])
    assert float(res.scale) == -3.0 / 8  # d = max / -8
    assert int(res.q[0, 5]) == -8  # the extreme uses the code symmetric absmax never reaches
    assert float(res.dequantize()[0, 5]) == 3.0


def test_generic_full_grid_and_float_zero_point_beat_the_defaults() -> None:
    """The issue's claims on 4-bit blocks: full grid < absmax/7 MSE on Gaussian data; the float
    zero point < widened integer zero point on all-positive LayerNorm-like blocks."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(256, 256, generator=gen)
    plain = qv.quantization_error(x, qv.quantize(x, qv.parse_scheme("int4-sym-per-group-32")))
    full = qv.quantization_error(x, qv.quantize(x, qv.parse_scheme("int4-sym-per-group-32-full")))
    assert full["mse"] < 0.95 * plain["mse"]
    ln = 1.0 + 0.1 * torch.rand(256, 256, generator=gen)
    widened = qv.parse_scheme("uint4-asym-per-group-32")
    fzp = qv.parse_scheme("uint4-asym-per-group-32-fzp")
    e_int = qv.quantization_error(ln, qv.quantize(ln, widened))["mse"]
    e_fzp = qv.quantization_error(ln, qv.quantize(ln, fzp))["mse"]
    assert e_fzp * 3 < e_int
