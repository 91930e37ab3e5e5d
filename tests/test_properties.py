"""Hypothesis: the core's invariants over shapes, bit widths, schemes and granularities."""

from __future__ import annotations

import math
import os

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv

# QV_EXAMPLES raises the example count for a deeper local run.
SETTINGS = settings(max_examples=int(os.environ.get("QV_EXAMPLES", "150")), deadline=None)


@st.composite
def tensors(draw, min_dims: int = 1, max_dims: int = 4) -> torch.Tensor:
    ndim = draw(st.integers(min_dims, max_dims))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    kind = draw(st.sampled_from(["normal", "wide", "tiny", "ints", "spiky"]))
    x = torch.randn(shape, generator=gen)
    if kind == "wide":
        x = x * 10 ** draw(st.integers(-3, 4))
    elif kind == "tiny":
        x = x * 1e-30
    elif kind == "ints":
        x = torch.randint(-3, 4, shape, generator=gen).to(torch.float32)
    elif kind == "spiky":
        x.view(-1)[0] = 1e4
    return x


@st.composite
def granularities(draw, ndim: int) -> qv.Granularity:
    kind = draw(st.sampled_from(["tensor", "channel", "group", "block"]))
    if kind == "channel":
        return qv.PerChannel(draw(st.integers(-ndim, ndim - 1)))
    if kind == "group":
        return qv.PerGroup(draw(st.integers(1, 8)), draw(st.integers(-ndim, ndim - 1)))
    if kind == "block" and ndim >= 2:
        return qv.PerBlock(draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    return qv.PerTensor()


@st.composite
def cases(draw) -> tuple[torch.Tensor, qv.QuantScheme]:
    x = draw(tensors())
    symmetric = draw(st.booleans())
    scheme = qv.QuantScheme(
        bits=draw(st.integers(2, 16)),
        symmetric=symmetric,
        signed=True if symmetric else draw(st.booleans()),
        granularity=draw(granularities(x.dim())),
        range_method=draw(st.sampled_from(["absmax", "percentile", "mse"])),
        percentile=draw(st.floats(90, 100)),
    )
    return x, scheme


@SETTINGS
@given(cases())
def test_q_stays_in_the_grid(case) -> None:
    x, scheme = case
    res = qv.quantize(x, scheme)
    assert res.q.shape == x.shape
    assert int(res.q.min()) >= scheme.q_min
    assert int(res.q.max()) <= scheme.q_max
    assert torch.isfinite(res.scale).all()
    assert (res.scale > 0).all()
    assert int(res.zero_point.min()) >= scheme.q_min
    assert int(res.zero_point.max()) <= scheme.q_max
    if scheme.symmetric:
        assert (res.zero_point == 0).all()


@SETTINGS
@given(cases())
def test_unclipped_elements_are_within_half_a_step(case) -> None:
    x, scheme = case
    res = qv.quantize(x, scheme)
    x_hat = res.dequantize()
    assert torch.isfinite(x_hat).all()
    scale = qv.expand_to_elements(res.scale, x.shape, scheme.granularity)
    ok = ~qv.clipped_mask(x, res)
    err = (x_hat - x).abs()
    # float32 rounding of x / scale and of scale * q adds a few ulps of the values involved.
    slack = 1e-5 * (x.abs() + scale)
    assert (err[ok] <= scale[ok] / 2 + slack[ok]).all()


@SETTINGS
@given(cases())
def test_full_range_never_clips(case) -> None:
    x, scheme = case
    scheme = qv.QuantScheme(
        bits=scheme.bits,
        symmetric=scheme.symmetric,
        signed=scheme.signed,
        granularity=scheme.granularity,
    )
    res = qv.quantize(x, scheme)
    assert not qv.clipped_mask(x, res).any()


@SETTINGS
@given(cases())
def test_dequantize_then_quantize_is_idempotent_on_the_grid(case) -> None:
    x, scheme = case
    res = qv.quantize(x, scheme)
    again = qv.quantize_with_params(res.dequantize(), res.scale, res.zero_point, scheme)
    assert torch.equal(again, res.q)


@SETTINGS
@given(cases())
def test_mse_search_is_never_worse_than_the_full_range(case) -> None:
    x, scheme = case
    full = qv.QuantScheme(
        bits=scheme.bits,
        symmetric=scheme.symmetric,
        signed=scheme.signed,
        granularity=scheme.granularity,
    )
    searched = qv.QuantScheme(
        bits=scheme.bits,
        symmetric=scheme.symmetric,
        signed=scheme.signed,
        granularity=scheme.granularity,
        range_method="mse",
    )
    mse_full = qv.error_metrics(x, qv.quantize(x, full).dequantize())["mse"]
    mse_searched = qv.error_metrics(x, qv.quantize(x, searched).dequantize())["mse"]
    assert mse_searched <= mse_full * (1 + 1e-5) + 1e-45


def _nested_pairs(shape: tuple[int, ...], draw_group: int) -> list[tuple]:
    """(coarse, fine) granularity pairs where every fine block lies inside one coarse block."""
    ndim = len(shape)
    pairs = [(qv.PerTensor(), qv.PerChannel(d)) for d in range(ndim)]
    pairs += [(qv.PerTensor(), qv.PerGroup(draw_group, d)) for d in range(ndim)]
    for d in range(ndim):
        for other in range(ndim):
            if other != d:  # groups along `other` never cross an index of `d`
                pairs.append((qv.PerChannel(d), qv.PerGroup(draw_group, other)))
    pairs.append((qv.PerGroup(2 * draw_group, -1), qv.PerGroup(draw_group, -1)))
    if ndim >= 2:
        pairs += [(qv.PerTensor(), qv.PerBlock(2, 3)), (qv.PerBlock(4, 6), qv.PerBlock(2, 3))]
        pairs.append((qv.PerChannel(ndim - 2), qv.PerBlock(1, 3)))
    return pairs


@SETTINGS
@given(tensors(), st.integers(1, 4), st.integers(2, 8), st.booleans())
def test_finer_granularity_never_has_a_larger_maximum_scale(x, group, bits, symmetric) -> None:
    for coarse, fine in _nested_pairs(tuple(x.shape), group):
        kw = dict(bits=bits, symmetric=symmetric)
        fine_res = qv.quantize(x, qv.QuantScheme(granularity=fine, **kw))
        coarse_res = qv.quantize(x, qv.QuantScheme(granularity=coarse, **kw))
        assert float(fine_res.scale.max()) <= float(coarse_res.scale.max()) * (1 + 1e-6)


@SETTINGS
@given(tensors())
def test_metrics_are_finite_and_consistent(x) -> None:
    res = qv.quantize(x, qv.QuantScheme(bits=4))
    m = qv.error_metrics(x, res.dequantize())
    assert m["mse"] >= 0
    assert m["mae"] >= 0
    assert math.isclose(m["rmse"], math.sqrt(m["mse"]))
    assert m["mae"] <= m["rmse"] * (1 + 1e-9) + 1e-300
    assert m["rmse"] <= m["max_abs_error"] * (1 + 1e-6) + 1e-300
    assert not math.isnan(m["sqnr_db"])


@SETTINGS
@given(cases())
def test_quantization_error_equals_metrics_of_the_reconstruction(case) -> None:
    x, scheme = case
    res = qv.quantize(x, scheme)
    fused = qv.quantization_error(x, res)
    plain = qv.error_metrics(x, res.dequantize())
    assert fused.keys() == plain.keys()
    assert fused["max_abs_error"] == plain["max_abs_error"]  # same x_hat, bit for bit
    for key in ("mse", "mae", "signal_power", "rel_error", "sqnr_db"):
        assert math.isclose(fused[key], plain[key], rel_tol=1e-6, abs_tol=1e-300), key
