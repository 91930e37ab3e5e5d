"""quantize / dequantize / quantize_with_params / metrics / scan for every format and preset."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv
from quantviz import format_quant, kernels
from quantviz.presets import PRESETS
from quantviz.scan.engine import tensor_errors

EXTRA = [
    "int4-sym-per-group-128-fp16",
    "int8-sym-per-row-bf16",
    "int4-asym-per-group-32-fp16",
    "int4-sym-per-column-full",
    "uint4-asym-per-group-16-fzp",
    "int4-asym-per-block-8x8-fzp",
    "fp8_e5m2-sym-per-column",
    "fp6_e3m2-sym-per-group-32-e8m0",
    "nf4-sym-per-block-16x16",
    "fp4_e2m1-sym-per-group-24-fp16",
    "fp4_e2m1-sym-per-group-1",
    "nf4-sym-per-group-3",
    "int8-sym-per-group-32-e8m0-mse",
    "nf4-g64-p99",
    "nvfp4-mse",
    "q4_1-mse",
]
ALL = list(PRESETS) + EXTRA


def _x(shape=(48, 160), seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * torch.exp2(torch.randn(shape[0], 1, generator=gen))
    x[:16, :64] = 0.0  # whole blocks of zeros for every granularity but per-tensor/column
    return x


@pytest.mark.parametrize("name", ALL)
def test_codes_values_and_reconstruction(name) -> None:
    scheme = qv.parse_scheme(name)
    x = _x()
    res = qv.quantize(x, scheme)
    assert res.q.shape == x.shape
    assert res.q.dtype == scheme.storage_dtype
    values = res.element_values()
    assert values.shape == x.shape
    assert bool(torch.isin(values, scheme.grid()).all())  # every code means a grid value
    expected_zp = torch.float32 if scheme.float_zero_point else torch.int32
    assert res.zero_point.dtype == expected_zp
    x_hat = res.dequantize()
    assert bool(torch.isfinite(x_hat).all())
    assert torch.equal(qv.dequantize(res.q, res.scale, res.zero_point, scheme), x_hat)
    assert torch.equal(x_hat[:16, :64], torch.zeros(16, 64))  # all-zero blocks come back as 0
    metrics = qv.quantization_error(x, res)
    assert metrics == qv.error_metrics(x, x_hat)


@pytest.mark.parametrize("name", [n for n in ALL if not n.startswith("q")])
def test_quantize_with_params_reproduces_the_codes(name) -> None:
    """Given the stored scales, the elements quantize to the same codes (llama.cpp presets use
    their fp32 d for the elements, so they are excluded; NVFP4 rounds x·(1/s_t)/s_b, which here
    is re-derived as x / (s_t·s_b) and may differ in the last bit of rare elements)."""
    scheme = qv.parse_scheme(name)
    x = _x(seed=1)
    res = qv.quantize(x, scheme)
    again = qv.quantize_with_params(x, res.scale, res.zero_point, scheme)
    if scheme.tensor_scale:
        assert float((again != res.q).float().mean()) < 1e-3
    else:
        assert torch.equal(again, res.q)


@pytest.mark.parametrize("name", ALL)
def test_scan_engine_agrees_with_quantize(name) -> None:
    scheme = qv.parse_scheme(name)
    x = _x((64, 96), seed=2)
    (totals,) = tensor_errors(x, [scheme], chunk_elements=512)
    direct = qv.quantization_error(x, qv.quantize(x, scheme))
    got = totals.metrics()
    assert got["mse"] == pytest.approx(direct["mse"], rel=1e-5)
    assert got["max_abs_error"] == pytest.approx(direct["max_abs_error"], rel=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_clipped_count_matches_mask(name) -> None:
    scheme = qv.parse_scheme(name)
    x = _x(seed=3)
    x[5, 7] = 1e4  # an outlier that percentile ranges clip
    res = qv.quantize(x, scheme)
    assert qv.clipped_count(x, res) == int(qv.clipped_mask(x, res).sum())


@pytest.mark.parametrize(
    "name", ["nf4-g64", "fp8-e4m3-per-channel", "mxfp4", "int4-sym-per-group-32-fp16", "q4_0"]
)
def test_mse_range_never_worse_than_full_range(name) -> None:
    x = torch.distributions.StudentT(3.0).sample((32, 256))
    full = qv.quantization_error(x, qv.quantize(x, qv.parse_scheme(name)))["mse"]
    mse = qv.quantization_error(x, qv.quantize(x, qv.parse_scheme(f"{name}-mse")))["mse"]
    assert mse <= full * (1 + 1e-6)


@pytest.mark.parametrize(
    ("scheme", "zero_point", "message"),
    [
        pytest.param("int8-sym-per-row", 1, "is symmetric", id="sym-nonzero"),
        pytest.param("mxfp4", 2, "is symmetric", id="fp4-nonzero"),
        pytest.param("uint8-asym-per-row", 0.5, "off the grid", id="fractional"),
        pytest.param("uint8-asym-per-row", 300, "off the grid", id="beyond-qmax"),
        pytest.param("int4-asym-per-row", -9, "off the grid", id="below-qmin"),
        pytest.param("uint4-asym-per-row-fzp", float("nan"), "finite", id="nan-float-zp"),
        pytest.param("int4-sym-per-group-32-full", 1, "is symmetric", id="full-grid-nonzero"),
    ],
)
def test_bad_zero_points_are_refused(scheme, zero_point, message) -> None:
    s = qv.parse_scheme(scheme)
    x = torch.randn(4, 64)
    res = qv.quantize(x, s)
    zp = torch.full(res.scale.shape, float(zero_point))
    with pytest.raises(ValueError, match=message):
        qv.quantize_with_params(x, res.scale, zp, s)
    with pytest.raises(ValueError, match=message):
        qv.dequantize(res.q, res.scale, zp, s)


def test_float_zero_point_accepts_any_real() -> None:
    s = qv.parse_scheme("uint4-asym-per-row-fzp")
    x = torch.rand(2, 16) + 5.0
    res = qv.quantize(x, s)
    assert res.zero_point.dtype == torch.float32
    assert torch.allclose(res.zero_point.reshape(-1), x.amin(dim=1))
    shifted = qv.dequantize(res.q, res.scale, res.zero_point + 0.25, s)
    assert torch.allclose(shifted, res.dequantize() + 0.25)


def test_scales_are_stored_rounded_before_the_elements() -> None:
    """fp16 scales: the stored scale is exactly an fp16 value and the codes are those of
    dividing by it (not by the fp32 scale)."""
    x = torch.randn(8, 128)
    s = qv.parse_scheme("int4-sym-per-group-32-fp16")
    res = qv.quantize(x, s)
    assert torch.equal(res.scale, res.scale.half().float())
    blocks = x.reshape(8, 4, 32)
    by_hand = torch.round(blocks / res.scale.unsqueeze(-1)).clamp(-8, 7).reshape(8, 128)
    assert torch.equal(res.q.float(), by_hand)


def test_default_integer_schemes_are_untouched() -> None:
    """At defaults the integer kernels run unchanged: the notebook's per-tensor golden."""
    x = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])
    res = qv.quantize(x, qv.QuantScheme())
    assert res.extras == {}
    assert res.q.tolist() == [[33, -2, 127], [16, 52, -32], [0, 119, 43]]


def test_nf4_matches_a_plain_loop_reference() -> None:
    """bitsandbytes' NF4 (quantize_4bit): absmax per 64, nearest NF4 level; written here as
    loops over blocks and elements with argmin, independent of quantviz's bucketize."""
    x = torch.randn(4, 128, generator=torch.Generator().manual_seed(9))
    levels = qv.formats.element_grid("nf4")
    res = qv.quantize(x, PRESETS["nf4-g64"])
    for r in range(4):
        for b in range(2):
            block = x[r, b * 64 : (b + 1) * 64]
            absmax = float(block.abs().max())
            assert float(res.scale[r, b]) == absmax
            for j, v in enumerate(block.tolist()):
                code = int(torch.argmin((levels - v / absmax).abs()))
                assert int(res.q[r, b * 64 + j]) == code


def test_double_quantization_reference() -> None:
    """QLoRA double quantization: absmax per 64 less its mean, quantized by absmax per 256 to
    the nearest of bitsandbytes' 256-entry dynamic map; checked with an argmin loop."""
    x = torch.randn(8, 64 * 300, generator=torch.Generator().manual_seed(4))
    res = qv.quantize(x, PRESETS["nf4-g64-dq"])
    absmax = x.reshape(-1, 64).abs().amax(dim=1)
    offset = absmax.mean()
    table = qv.formats.dynamic_map()
    codes = res.extras["absmax_codes"]
    second = res.extras["absmax_scale"]
    assert float(res.extras["absmax_offset"]) == pytest.approx(float(offset), rel=1e-6)
    for i in range(0, absmax.numel(), 97):
        g = i // 256
        centred = absmax[i] - offset
        code = int(torch.argmin((table - centred / second[g]).abs()))
        assert int(codes[i]) == code
        assert float(res.scale.reshape(-1)[i]) == pytest.approx(
            float(table[code] * second[g] + offset), rel=1e-6
        )
    plain = qv.quantization_error(x, qv.quantize(x, PRESETS["nf4-g64"]))["mse"]
    dq = qv.quantization_error(x, res)["mse"]
    assert dq == pytest.approx(plain, rel=0.02)  # 8-bit scales cost almost nothing


def test_nan_input_is_refused_for_formats() -> None:
    x = torch.randn(4, 64)
    x[1, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        qv.quantize(x, PRESETS["mxfp4"])


@pytest.mark.parametrize("name", ALL)
def test_fused_slices_match_the_two_pass_path(name, monkeypatch) -> None:
    """Slices of a few rows (forced by a tiny CHUNK_ELEMENTS) ranged and encoded in one visit
    give the same codes, scales, zero points and extras as ranging every block first."""
    x = _x((96, 256), seed=6)
    scheme = qv.parse_scheme(name)
    monkeypatch.setattr(format_quant, "_fused_rows_apply", lambda blocks, scheme: False)
    two_pass = qv.quantize(x, scheme)
    monkeypatch.undo()
    monkeypatch.setattr(kernels, "CHUNK_ELEMENTS", 256)
    fused = qv.quantize(x, scheme)
    assert torch.equal(fused.q, two_pass.q)
    assert torch.equal(fused.scale, two_pass.scale)
    assert torch.equal(fused.zero_point, two_pass.zero_point)
    assert fused.extras.keys() == two_pass.extras.keys()
    for key, value in fused.extras.items():
        assert torch.equal(torch.as_tensor(value), torch.as_tensor(two_pass.extras[key]))
