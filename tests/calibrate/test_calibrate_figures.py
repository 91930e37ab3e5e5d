"""The Calibrate page's figures: what they draw is the core's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.calibrate import hadamard, run_method
from quantviz.figures.calibrate import (
    channel_view,
    method_error_bars,
    output_error_heatmap,
    transform_heatmaps,
)
from tests.app._helpers import array
from tests.calibrate._helpers import layer


@pytest.fixture(scope="module")
def table():
    w, x = layer(out=16, n_in=64, tokens=64, seed=2)
    return qv.calibrate_compare(w, x, ["int4-sym-per-row", "int8-sym-per-row"], ["rtn", "gptq"])


def test_bars_are_the_table_and_each_schemes_best_is_outlined(table) -> None:
    fig = method_error_bars(table).to_dict()
    assert [t["name"] for t in fig["data"]] == ["int4 sym per-row", "int8 sym per-row"]
    for trace, (_, rows) in zip(fig["data"], table.groupby("scheme", sort=False), strict=True):
        np.testing.assert_allclose(array(trace["y"]), rows["output_rel_error"].to_numpy())
        outlined = [c != "rgba(0,0,0,0)" for c in trace["marker"]["line"]["color"]]
        assert outlined == list(rows["output_rel_error"] == rows["output_rel_error"].min())


def test_bars_refuse_an_unknown_metric(table) -> None:
    with pytest.raises(ValueError, match="no column 'banana'"):
        method_error_bars(table, "banana")


def test_channel_view_draws_activation_magnitude_and_column_error() -> None:
    w, x = layer(out=8, n_in=32, tokens=40, seed=1)
    w_hat = run_method("rtn", w, x, qv.parse_scheme("int4-sym-per-row")).w_hat
    fig = channel_view(x, w, {"rtn": w_hat}).to_dict()
    np.testing.assert_allclose(array(fig["data"][0]["y"]), x.abs().mean(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        array(fig["data"][1]["y"]), (w - w_hat).square().mean(0).numpy(), rtol=1e-6
    )


def test_channel_view_pools_wide_layers_keeping_the_peaks() -> None:
    x = torch.ones(4, 100)
    x[:, 37] = 50.0
    w = torch.zeros(2, 100)
    fig = channel_view(x, w, {}, max_points=10).to_dict()
    y = array(fig["data"][0]["y"])
    assert len(y) == 10
    assert y.max() == 50.0
    assert 37 in array(fig["data"][0]["x"]).tolist()
    assert "each point is the largest of its window" in fig["layout"]["title"]["subtitle"]["text"]


def test_transform_heatmaps_show_w_and_w_h() -> None:
    w = qv.generate("outliers", (8, 16), seed=1, factor=30.0)
    res = hadamard(w, None, qv.parse_scheme("int4-sym-per-row"))
    fig = transform_heatmaps(w, res.w_transformed, "hadamard").to_dict()
    np.testing.assert_allclose(array(fig["data"][0]["z"]), w.numpy())
    np.testing.assert_allclose(array(fig["data"][1]["z"]), res.w_transformed.numpy(), rtol=1e-6)
    axis = fig["layout"]["coloraxis"]  # one scale for both panels, centred at 0
    assert [t["coloraxis"] for t in fig["data"]] == ["coloraxis", "coloraxis"]
    lim = max(float(w.abs().max()), float(res.w_transformed.abs().max()))
    assert (axis["cmid"], axis["cmax"]) == (0.0, pytest.approx(lim))


def test_output_error_heatmap_is_x_times_the_weight_error() -> None:
    w, x = layer(out=8, n_in=16, tokens=300, seed=4)
    w_hat = qv.quantize(w, qv.parse_scheme("int3-sym-per-row")).dequantize()
    fig = output_error_heatmap(w, w_hat, x, "rtn", max_tokens=20).to_dict()
    z = array(fig["data"][0]["z"])
    np.testing.assert_allclose(z, (x[:20] @ (w - w_hat).t()).numpy(), rtol=1e-5, atol=1e-6)
    assert fig["data"][0]["zmin"] == -fig["data"][0]["zmax"]
    assert "first 20 of 300 tokens" in fig["layout"]["title"]["subtitle"]["text"]
