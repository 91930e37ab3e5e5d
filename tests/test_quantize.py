"""quantize / dequantize against the per-block reference loop, on every granularity and shape."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from tests.helpers import reference_quantize

GRANULARITIES = [
    pytest.param(qv.PerTensor(), id="per-tensor"),
    pytest.param(qv.PerChannel(0), id="per-row"),
    pytest.param(qv.PerChannel(1), id="per-column"),
    pytest.param(qv.PerChannel(-1), id="per-channel-last"),
    pytest.param(qv.PerGroup(4), id="per-group-4"),
    pytest.param(qv.PerGroup(3, dim=0), id="per-group-3-dim0"),
    pytest.param(qv.PerBlock(2, 3), id="per-block-2x3"),
]
FORMATS = [
    pytest.param(dict(bits=8, symmetric=True), id="int8-sym"),
    pytest.param(dict(bits=4, symmetric=True), id="int4-sym"),
    pytest.param(dict(bits=8, symmetric=False), id="int8-asym"),
    pytest.param(dict(bits=3, symmetric=False, signed=False), id="uint3-asym"),
    pytest.param(dict(bits=2, symmetric=True), id="int2-sym"),
    pytest.param(dict(bits=12, symmetric=False, signed=False), id="uint12-asym"),
]
SHAPES = [
    pytest.param((5, 7), id="5x7"),
    pytest.param((3, 4, 10), id="3x4x10"),
    pytest.param((2, 3, 5, 4), id="2x3x5x4"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_matches_reference_loop(granularity, fmt, shape) -> None:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(hash(shape) % 1000)) * 3
    scheme = qv.QuantScheme(granularity=granularity, **fmt)
    res = qv.quantize(x, scheme)
    ref_q, ref_scale, ref_zero_point = reference_quantize(x, scheme)
    assert res.q.shape == x.shape
    assert res.q.dtype == scheme.storage_dtype
    assert torch.equal(res.q.to(torch.int64), ref_q)
    torch.testing.assert_close(
        qv.expand_to_elements(res.scale, x.shape, granularity), ref_scale, rtol=0, atol=0
    )
    torch.testing.assert_close(
        qv.expand_to_elements(res.zero_point, x.shape, granularity).to(torch.float32),
        ref_zero_point,
        rtol=0,
        atol=0,
    )
    x_hat = res.dequantize()
    assert x_hat.dtype == torch.float32
    # The notebook's linear_dequantization, element by element from the reference's numbers.
    torch.testing.assert_close(
        x_hat, ref_scale * (ref_q.to(torch.float32) - ref_zero_point), rtol=0, atol=0
    )
    assert res.num_scales == qv.granularity.num_blocks(x.shape, granularity)


def test_one_dimensional_input() -> None:
    x = torch.linspace(-1, 2, 10)
    for gran in (qv.PerTensor(), qv.PerChannel(0), qv.PerGroup(3)):
        res = qv.quantize(x, qv.QuantScheme(bits=8, granularity=gran))
        assert res.q.shape == (10,)
        ref_q, _, _ = reference_quantize(x, res.scheme)
        assert torch.equal(res.q.to(torch.int64), ref_q)


@pytest.mark.parametrize(
    ("granularity", "shape", "scale_shape"),
    [
        pytest.param(qv.PerTensor(), (6, 10), (), id="per-tensor"),
        pytest.param(qv.PerChannel(0), (6, 10), (6, 1), id="per-row"),
        pytest.param(qv.PerChannel(1), (6, 10), (1, 10), id="per-column"),
        pytest.param(qv.PerChannel(1), (2, 6, 10), (1, 6, 1), id="per-channel-3d"),
        pytest.param(qv.PerGroup(4), (6, 10), (6, 3), id="per-group-4"),
        pytest.param(qv.PerGroup(4, dim=0), (6, 10), (2, 10), id="per-group-4-dim0"),
        pytest.param(qv.PerBlock(4, 4), (6, 10), (2, 3), id="per-block-4x4"),
        pytest.param(qv.PerBlock(4, 4), (3, 6, 10), (3, 2, 3), id="per-block-batched"),
    ],
)
def test_scale_shapes(granularity, shape, scale_shape) -> None:
    res = qv.quantize(torch.randn(shape), qv.QuantScheme(granularity=granularity, symmetric=False))
    assert res.scale.shape == scale_shape
    assert res.zero_point.shape == scale_shape
    assert res.zero_point.dtype == torch.int32


@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_all_zero_tensor_quantizes_to_zero_exactly(granularity, symmetric) -> None:
    x = torch.zeros(4, 6)
    res = qv.quantize(x, qv.QuantScheme(bits=8, symmetric=symmetric, granularity=granularity))
    assert torch.isfinite(res.scale).all()
    assert (res.scale > 0).all()
    assert torch.equal(res.dequantize(), x)
    m = qv.error_metrics(x, res.dequantize())
    assert m["mse"] == 0.0
    assert m["sqnr_db"] == math.inf  # a perfect reconstruction, documented


@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
def test_zero_and_constant_rows(symmetric) -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [2.5, 2.5, 2.5], [-7.0, -7.0, -7.0], [1.0, -3.0, 2.0]])
    scheme = qv.QuantScheme(bits=4, symmetric=symmetric, granularity=qv.PerChannel(0))
    res = qv.quantize(x, scheme)
    x_hat = res.dequantize()
    assert torch.isfinite(x_hat).all()
    torch.testing.assert_close(x_hat[:3], x[:3], rtol=1e-6, atol=0)


@pytest.mark.parametrize("scheme_kwargs", [dict(symmetric=True), dict(symmetric=False)])
def test_zero_column_and_group(scheme_kwargs) -> None:
    x = torch.randn(5, 8)
    x[:, 2] = 0
    x[1, 4:] = 0
    for gran in (qv.PerChannel(1), qv.PerGroup(4)):
        res = qv.quantize(x, qv.QuantScheme(granularity=gran, **scheme_kwargs))
        x_hat = res.dequantize()
        assert torch.isfinite(x_hat).all()
        assert (x_hat[:, 2] == 0).all()
        assert (x_hat[1, 4:] == 0).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(torch.tensor([[1.0, float("nan")]]), "non-finite", id="nan"),
        pytest.param(torch.tensor([[1.0, float("inf")], [0, 1]]), "non-finite", id="inf"),
        pytest.param(torch.tensor([-float("inf"), 1.0]), "non-finite", id="minus-inf"),
        pytest.param(torch.tensor([[1, 2]]), "floating-point", id="int"),
        pytest.param(torch.tensor([True]), "floating-point", id="bool"),
        pytest.param(torch.tensor(3.0), "0-d", id="scalar"),
        pytest.param(torch.zeros(0, 3), "empty", id="empty"),
    ],
)
@pytest.mark.parametrize("method", ["absmax", "percentile", "mse"])
def test_bad_input_is_refused_with_a_clear_message(bad, message, method) -> None:
    with pytest.raises(ValueError, match=message):
        qv.quantize(bad, qv.QuantScheme(range_method=method))


def test_non_finite_message_says_how_many_and_where() -> None:
    x = torch.zeros(3, 4)
    x[1, 2] = float("nan")
    x[2, 0] = float("inf")
    with pytest.raises(ValueError, match=r"2 non-finite value\(s\).*\(1, 2\)"):
        qv.quantize(x, qv.QuantScheme(granularity=qv.PerChannel(1)))


def test_granularity_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        qv.quantize(torch.randn(3, 3), qv.QuantScheme(granularity=qv.PerChannel(2)))
    with pytest.raises(ValueError, match="at least 2 dims"):
        qv.quantize(torch.randn(9), qv.QuantScheme(granularity=qv.PerBlock(2, 2)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes_are_computed_in_float32(dtype) -> None:
    x = torch.randn(4, 5)
    res = qv.quantize(x.to(dtype), qv.QuantScheme())
    ref = qv.quantize(x.to(dtype).to(torch.float32), qv.QuantScheme())
    assert torch.equal(res.q, ref.q)
    assert res.scale.dtype == torch.float32


def test_quantize_with_params_is_the_notebook_function() -> None:
    # Hand-worked: scale 0.5 and zero point 3 on the uint4 grid [0, 15]:
    # x / 0.5 + 3 = [3, 4, 3 + 2.5, 3 + 5.5, -7, 33] -> round half to even -> clamp.
    x = torch.tensor([[0.0, 0.5, 1.25, 2.75, -5.0, 15.0]])
    scheme = qv.QuantScheme(bits=4, symmetric=False, signed=False)
    q = qv.quantize_with_params(x, torch.tensor(0.5), torch.tensor(3), scheme)
    assert q.tolist() == [[3, 4, 6, 8, 0, 15]]
    # And with the parameters quantize() found, it gives quantize()'s integers.
    res = qv.quantize(x, scheme)
    assert torch.equal(qv.quantize_with_params(x, res.scale, res.zero_point, scheme), res.q)


def test_clipped_mask_marks_only_clamped_elements() -> None:
    # 21 values; the 90th percentile of |x| is 1.8, so 1.9 and the outlier 100 are clipped.
    x = torch.tensor([[0.1 * i for i in range(20)] + [100.0]])
    res = qv.quantize(x, qv.QuantScheme(bits=8, range_method="percentile", percentile=90))
    assert float(res.scale) == pytest.approx(1.8 / 127, rel=1e-5)
    mask = qv.clipped_mask(x, res)
    assert mask.nonzero()[:, 1].tolist() == [19, 20]
    error = (res.dequantize() - x).abs()
    assert (error[mask] > float(res.scale) / 2).all()
    assert (error[~mask] <= float(res.scale) / 2 * (1 + 1e-5)).all()


def test_weights_that_require_grad_are_quantized() -> None:
    weight = torch.nn.Linear(8, 4).weight  # a Parameter, requires_grad=True
    res = qv.quantize(weight, qv.QuantScheme(granularity=qv.PerChannel(0)))
    assert not res.q.requires_grad
    plain = qv.quantize(weight.detach(), res.scheme)
    assert torch.equal(res.q, plain.q)
    assert qv.error_metrics(weight, res.dequantize()) == qv.quantization_error(weight, res)


def test_float64_beyond_float32_range_is_refused_by_name() -> None:
    x = torch.tensor([[1.0, 1e39], [2.0, -1e40]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"2 value\(s\) exceed float32's range.*\(0, 1\)"):
        qv.quantize(x, qv.QuantScheme())


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_asymmetric_range_near_float32_max_stays_finite(method) -> None:
    x = torch.tensor([[-3e38, 3e38], [1.0, 2.0]])
    res = qv.quantize(x, qv.QuantScheme(symmetric=False, range_method=method))
    assert torch.isfinite(res.scale).all()
    x_hat = res.dequantize()
    assert torch.isfinite(x_hat).all()
    # With the full range every element is within half a step; the clipping methods keep
    # that bound on the elements they do not clip.
    kept = torch.ones_like(x, dtype=torch.bool) if method == "minmax" else ~qv.clipped_mask(x, res)
    assert float((x_hat - x).abs()[kept].max()) <= float(res.scale) / 2 * (1 + 1e-5)


@pytest.mark.parametrize("magnitude", [1e-38, 1e-22, 1.0, 1e25, 1e30])
def test_metrics_hold_at_extreme_magnitudes(magnitude) -> None:
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(5)) * magnitude
    res = qv.quantize(x, qv.QuantScheme())
    x_hat = res.dequantize()
    ref_mse = float(((x_hat.double() - x.double()) ** 2).mean())
    ref_signal = float((x.double() ** 2).mean())
    for m in (qv.error_metrics(x, x_hat), qv.quantization_error(x, res)):
        assert m["mse"] == pytest.approx(ref_mse, rel=1e-5)
        assert m["signal_power"] == pytest.approx(ref_signal, rel=1e-5)
        assert m["sqnr_db"] == pytest.approx(10 * math.log10(ref_signal / ref_mse), rel=1e-5)


def test_error_metrics_refuses_nan_and_empty() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        qv.error_metrics(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="empty"):
        qv.error_metrics(torch.zeros(0), torch.zeros(0))


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        pytest.param(torch.ones(5, 5), r"scale has shape \(5, 5\), expected \(4, 2\)", id="shape"),
        pytest.param(torch.ones(3), r"scale has shape \(3,\)", id="flat"),
        pytest.param(torch.zeros(4, 2), "positive and finite", id="zero"),
        pytest.param(torch.full((4, 2), float("inf")), "positive and finite", id="inf"),
    ],
)
def test_given_parameters_are_checked(scale, message) -> None:
    x = torch.randn(4, 6)
    scheme = qv.QuantScheme(granularity=qv.PerGroup(4))
    res = qv.quantize(x, scheme)
    zero_point = torch.zeros(scale.shape, dtype=torch.int32)
    with pytest.raises(ValueError, match=message):
        qv.quantize_with_params(x, scale, zero_point, scheme)
    with pytest.raises(ValueError, match=message):
        qv.dequantize(res.q, scale, zero_point, scheme)


@st.composite
def quantized(draw) -> tuple[torch.Tensor, qv.QuantResult]:
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=2, max_size=3)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(shape, generator=gen) * 10 ** draw(st.integers(-2, 2))
    gran = draw(
        st.sampled_from(
            [
                qv.PerTensor(),
                qv.PerChannel(0),
                qv.PerGroup(4),
                qv.PerGroup(3, dim=0),
                qv.PerBlock(2, 3),
            ]
        )
    )
    scheme = qv.QuantScheme(
        bits=draw(st.integers(2, 8)),
        symmetric=draw(st.booleans()),
        granularity=gran,
        range_method=draw(st.sampled_from([None, "percentile"])),
        percentile=90.0,
    )
    return x, qv.quantize(x, scheme)


@settings(max_examples=80, deadline=None)
@given(quantized())
def test_clipped_count_matches_clipped_mask(case) -> None:
    x, res = case
    assert qv.clipped_count(x, res) == int(qv.clipped_mask(x, res).sum())


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_clipped_count_counts_outliers_past_a_percentile_clip(granularity) -> None:
    # Ragged shapes (7 x 10) leave padded blocks for per-group / per-block; the pads never count.
    x = torch.randn(7, 10, generator=torch.Generator().manual_seed(0))
    x[3, 4], x[6, 9] = 50.0, -80.0
    res = qv.quantize(
        x, qv.QuantScheme(bits=4, granularity=granularity, range_method="percentile", percentile=80)
    )
    count = qv.clipped_count(x, res)
    assert count == int(qv.clipped_mask(x, res).sum())
    assert count >= 2  # both planted outliers lie beyond an 80th-percentile range
