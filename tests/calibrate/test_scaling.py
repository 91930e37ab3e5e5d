"""SmoothQuant and AWQ: their scales, their searches, and what they must reduce to."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv
from quantviz.calibrate import INT8_PER_TOKEN, awq, smoothquant
from quantviz.calibrate.scaling import (
    SEARCH_ROWS,
    alpha_grid,
    awq_scale,
    search_rows,
    search_subset,
)
from tests.calibrate._helpers import layer

G128 = qv.parse_scheme("int4-sym-per-group-128")


def test_smoothquant_scale_is_the_papers_formula() -> None:
    w, x = layer(out=8, n_in=16, tokens=20, seed=1)
    res = smoothquant(w, x, qv.parse_scheme("int8-sym-per-row"), alpha=0.7)
    want = x.abs().amax(0) ** 0.7 / w.abs().amax(0) ** 0.3
    torch.testing.assert_close(res.channel_scale, want, rtol=1e-5, atol=0)
    s = res.channel_scale
    want_hat = qv.quantize(w * s, qv.parse_scheme("int8-sym-per-row")).dequantize() / s
    torch.testing.assert_close(res.w_hat, want_hat)
    assert res.act_quantized
    assert res.params == {"alpha": 0.7}


def test_smoothquant_search_picks_the_grid_point_with_the_least_w8a8_error() -> None:
    w, x = layer(out=16, n_in=64, tokens=100, seed=2)
    s8 = qv.parse_scheme("int8-sym-per-row")
    res = smoothquant(w, x, s8, alpha="search", grid=10)
    tried = dict(res.params["search"])
    assert list(tried) == alpha_grid(10)
    assert res.params["alpha"] == min(tried, key=tried.get)
    fixed = smoothquant(w, x, s8, alpha=res.params["alpha"])
    err = qv.output_error(
        w, fixed.w_hat, x, act_scheme=INT8_PER_TOKEN, act_scale=fixed.channel_scale
    )
    assert err["rel_error"] == pytest.approx(tried[res.params["alpha"]], rel=1e-6)


def test_smoothing_rescues_int8_activations_with_outlier_channels() -> None:
    w, x = layer(out=64, n_in=256, tokens=256, outliers=4, seed=3)
    s8 = qv.parse_scheme("int8-sym-per-row")
    plain = qv.output_error(w, qv.quantize(w, s8).dequantize(), x, act_scheme=INT8_PER_TOKEN)
    sq = smoothquant(w, x, s8)
    smooth = qv.output_error(w, sq.w_hat, x, act_scheme=INT8_PER_TOKEN, act_scale=sq.channel_scale)
    assert smooth["rel_error"] < 0.5 * plain["rel_error"]


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "half", True], ids=str)
def test_smoothquant_refuses_a_bad_alpha(alpha) -> None:
    w, x = layer(out=4, n_in=8, tokens=10)
    with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\] or 'search'"):
        smoothquant(w, x, G128, alpha=alpha)


def test_awq_scale_is_normalised_and_flat_for_equal_activations() -> None:
    s = awq_scale(torch.tensor([0.5, 2.0, 8.0]), 0.5)
    assert float(s.max() * s.min()) == pytest.approx(1.0)
    assert torch.equal(awq_scale(torch.full((5,), 0.3), 0.7), torch.ones(5))


def test_awq_searches_twenty_exponents_and_keeps_the_best() -> None:
    w, x = layer(seed=5)
    res = awq(w, x, G128)
    alphas = [a for a, _ in res.params["search"]]
    assert alphas == [i / 20 for i in range(20)]
    best = min(res.params["search"], key=lambda t: t[1])
    assert res.params["alpha"] == best[0] > 0
    torch.testing.assert_close(res.channel_scale, awq_scale(x.abs().mean(0), best[0]))


@pytest.mark.parametrize(
    "scheme", ["int4-sym-per-group-128", "int4-asym-per-row", "int3-sym-per-tensor"]
)
def test_with_identity_activations_the_scaling_methods_are_rtn(scheme: str) -> None:
    """X = I: every channel alike, so AWQ's scale is flat and SmoothQuant with α = 1 is 1."""
    w = qv.generate("normal", (32, 256), seed=6)
    x = torch.eye(256)
    s = qv.parse_scheme(scheme)
    rtn_hat = qv.quantize(w, s).dequantize()
    assert torch.equal(awq(w, x, s).w_hat, rtn_hat)
    assert torch.equal(smoothquant(w, x, s, alpha=1.0).w_hat, rtn_hat)


def test_search_subset_spreads_evenly() -> None:
    x = torch.arange(1000.0).reshape(1000, 1)
    sub = search_subset(x, 5)
    assert sub.reshape(-1).tolist() == [0.0, 250.0, 500.0, 749.0, 999.0]
    assert search_subset(x[:4], 5).shape[0] == 4


@pytest.mark.parametrize(
    ("scheme", "independent"),
    [
        ("int4-sym-per-group-128", True),
        ("int4-sym-per-row", True),
        ("int4-sym-per-tensor", False),
        ("int4-sym-per-column", False),
        ("int4-sym-per-block-4x8", False),
    ],
)
def test_searches_use_a_row_subset_only_when_rows_quantize_alone(scheme, independent) -> None:
    w = torch.randn(SEARCH_ROWS * 2, 8)
    s = qv.parse_scheme(scheme)
    rows = search_rows(w, s)
    assert rows.shape[0] == (SEARCH_ROWS if independent else 2 * SEARCH_ROWS)
    if independent:  # the subset's rows quantize exactly as inside the whole weight
        idx = torch.linspace(0, w.shape[0] - 1, SEARCH_ROWS).round().long()
        torch.testing.assert_close(
            qv.quantize(rows, s).dequantize(), qv.quantize(w, s).dequantize()[idx]
        )
