"""OCP MX and NVFP4 presets: the spec's formula by hand, and torchao's reference quantizers
(torchao 0.18.0 ``to_mx`` / ``nvfp4_quantize``) as an independent oracle, bit for bit."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import quantviz as qv
from quantviz import formats as F

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mx_tensor = pytest.importorskip("torchao.prototype.mx_formats.mx_tensor")
    nvfp4_tensor = pytest.importorskip("torchao.prototype.mx_formats.nvfp4_tensor")
    ao_kernels = pytest.importorskip("torchao.prototype.mx_formats.kernels")

MX = {
    "mxfp8": (torch.float8_e4m3fn, "fp8_e4m3"),
    "mxfp6": ("fp6_e2m3", "fp6_e2m3"),
    "mxfp4": (torch.float4_e2m1fn_x2, "fp4_e2m1"),
}


def _data() -> torch.Tensor:
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(16, 256, generator=gen) * torch.exp2(
        torch.randint(-8, 8, (16, 1), generator=gen)
    )
    x[0, :32] = 0.0  # all-zero block (torchao divides by 2^-126 there; codes are 0 either way)
    x[1, :32] = torch.linspace(-4, 4, 32)  # amax a power of two
    x[2, :32] = torch.linspace(-7.9, 7.9, 32)  # amax just under 8: 2^2 scale, elements clip at 6
    return x


@pytest.mark.parametrize("preset", list(MX))
def test_mx_bit_exact_against_torchao(preset) -> None:
    elem_dtype, fmt = MX[preset]
    x = _data()
    scale_e8m0, data_lp = mx_tensor.to_mx(x, elem_dtype, 32)
    res = qv.quantize(x, qv.PRESETS[preset])
    # the shared exponents, as E8M0 bytes
    assert torch.equal(
        res.extras["scale_exponent"].reshape(-1), scale_e8m0.view(torch.uint8).reshape(-1)
    )
    # the element codes (torchao packs FP4 two per byte, low nibble first)
    if preset == "mxfp4":
        theirs = ao_kernels.unpack_uint4(data_lp).reshape(x.shape)
    else:
        theirs = data_lp.view(torch.uint8).reshape(x.shape)
    assert torch.equal(res.q, theirs)
    dequant = mx_tensor.to_dtype(data_lp, scale_e8m0, elem_dtype, 32, torch.float32)
    assert torch.equal(res.dequantize(), dequant)
    del fmt


def test_nvfp4_bit_exact_against_torchao() -> None:
    x = _data()
    amax = x.abs().amax()
    pts = nvfp4_tensor.per_tensor_amax_to_scale(amax)
    block_fp8, packed = nvfp4_tensor.nvfp4_quantize(x, 16, pts)
    res = qv.quantize(x, qv.PRESETS["nvfp4"])
    assert torch.equal(res.extras["tensor_scale"], pts)
    assert torch.equal(
        res.extras["block_scale"].reshape(-1), block_fp8.to(torch.float32).reshape(-1)
    )
    assert torch.equal(res.q, ao_kernels.unpack_uint4(packed).reshape(x.shape))
    # effective scale = per-tensor scale × E4M3 block scale, in float32
    assert torch.equal(res.scale.reshape(-1), (pts * block_fp8.to(torch.float32)).reshape(-1))


@pytest.mark.parametrize(
    ("preset", "emax"),
    [
        pytest.param("mxfp8", 8, id="e4m3"),
        pytest.param("mxfp6", 2, id="e2m3"),
        pytest.param("mxfp4", 2, id="e2m1"),
        pytest.param("mxint8", 6, id="int8"),
    ],
)
def test_ocp_shared_scale_formula_by_hand(preset, emax) -> None:
    """OCP MX v1.0 §6.3: X = 2^(floor(log2(amax)) - emax_elem), elements saturate."""
    amaxes = [1.0, 3.0, 4.0, 5.9, 7.99, 100.0, 2.0**-20, 0.0]
    x = torch.zeros(len(amaxes), 32)
    for i, a in enumerate(amaxes):
        x[i, 0] = a
        x[i, 1] = -a / 3
    res = qv.quantize(x, qv.PRESETS[preset])
    for i, a in enumerate(amaxes):
        expected = 2.0 ** (math.floor(math.log2(a)) - emax) if a else 2.0**-127
        assert float(res.scale[i, 0]) == expected
        assert int(res.extras["scale_exponent"][i]) == round(math.log2(expected)) + 127


def test_mxfp4_power_of_two_amax_is_exact_and_overflow_clips() -> None:
    x = torch.tensor([[4.0, -2.0, 1.0, 0.5] + [0.0] * 28, [7.0, 6.5, 3.0, 0.0] + [0.0] * 28])
    res = qv.quantize(x, qv.PRESETS["mxfp4"])
    assert res.dequantize()[0, :4].tolist() == [4.0, -2.0, 1.0, 0.5]  # scale 1: all on the grid
    # amax 7 -> scale 2^(2-2) = 1: 7 and 6.5 saturate at 6 (the cost of a floor'd shared scale)
    assert res.dequantize()[1, :4].tolist() == [6.0, 6.0, 3.0, 0.0]


def test_mxint8_elements_are_int8_over_64() -> None:
    """MXINT8: int8 codes with an implicit 2^-6, i.e. scale 2^(floor(log2 amax) - 6) on q."""
    x = torch.zeros(1, 32)
    x[0, :3] = torch.tensor([1.0, 0.5, -0.75])
    res = qv.quantize(x, qv.PRESETS["mxint8"])
    assert float(res.scale) == 2.0**-6
    assert res.q[0, :3].tolist() == [64, 32, -48]


def test_nvfp4_all_zero_tensor_and_block() -> None:
    zero = qv.quantize(torch.zeros(2, 32), qv.PRESETS["nvfp4"])
    assert torch.equal(zero.dequantize(), torch.zeros(2, 32))
    assert float(zero.extras["tensor_scale"]) == 1.0
    x = torch.randn(2, 32)
    x[0, :16] = 0
    res = qv.quantize(x, qv.PRESETS["nvfp4"])
    assert torch.equal(res.dequantize()[0, :16], torch.zeros(16))
    assert bool((res.scale > 0).all())


def test_nvfp4_tiny_block_scale_clamps_at_e4m3_smallest_normal() -> None:
    """A block 10^5 times smaller than the tensor's max wants an E4M3 block scale below 2^-6;
    torchao (and so quantviz) clamps it there instead of using E4M3's subnormals."""
    x = torch.randn(1, 64, generator=torch.Generator().manual_seed(5))
    x[0, 0] = 3.0
    x[0, 16:32] *= 1e-5
    res = qv.quantize(x, qv.PRESETS["nvfp4"])
    block_scales = res.extras["block_scale"].reshape(-1)
    assert float(block_scales[1]) == 2.0**-6
    assert bool(torch.isin(block_scales, F.element_grid("fp8_e4m3")).all())
    err = (res.dequantize() - x)[0, 16:32].abs().max()
    assert float(err) <= float(x[0, 16:32].abs().max())
