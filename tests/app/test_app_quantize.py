"""Quantize page: every granularity, the metrics against the core, the URL, big tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.proto.Metric_pb2 import Metric as MetricProto

import quantviz as qv
from quantviz.figures._common import number_text
from quantviz.inputs import generate
from quantviz.metrics import ideal_sqnr_db
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import (
    QUANTIZE,
    array,
    assert_ok,
    chart_bytes,
    charts,
    current_tensor,
    metrics,
)

EXAMPLE_T = torch.tensor(EXAMPLE)
PANELS = ("q_heat_original", "q_heat_quantized", "q_heat_dequantized", "q_heat_error")
CHARTS = {*PANELS, "q_scales", "q_hist", "q_err_hist"}
DOWNLOADS = {"q_dl_safetensors", "q_dl_npz", "q_dl_csv", "q_dl_scales_csv"}

GRANULARITIES = {
    "per-tensor": qv.PerTensor(),
    "per-row": qv.PerChannel(0),
    "per-column": qv.PerChannel(1),
    "per-group": qv.PerGroup(2),  # the default group size for 3 columns
    "per-block": qv.PerBlock(2, 2),
}


def _widget(at, key: str):
    return next(w for w in (*at.selectbox, *at.radio, *at.number_input) if w.key == key)


@pytest.mark.parametrize("gran", list(GRANULARITIES), ids=list(GRANULARITIES))
def test_each_granularity_shows_charts_and_core_metrics(app, gran):
    at = app(QUANTIZE)
    at.selectbox(key="q_gran").set_value(gran).run()
    assert_ok(at)
    assert set(charts(at)) == CHARTS
    assert {b.key for b in at.download_button} == DOWNLOADS
    scheme = qv.QuantScheme(bits=8, granularity=GRANULARITIES[gran])
    expected = qv.error_metrics(EXAMPLE_T, qv.quantize(EXAMPLE_T, scheme).dequantize())
    m = metrics(at)
    assert float(m["MSE"]) == pytest.approx(expected["mse"], rel=1e-3)
    assert float(m["Max error"]) == pytest.approx(expected["max_abs_error"], rel=1e-3)
    assert m["SQNR"] == f"{number_text(expected['sqnr_db'])} dB"
    assert at.query_params["scheme"] == scheme.slug()


@pytest.mark.parametrize(
    ("gran", "mse"),
    [("per-tensor", 2.509), ("per-row", 1.808), ("per-column", 1.078)],
    ids=["per-tensor", "per-row", "per-column"],
)
def test_notebook_numbers(app, gran, mse):
    """The course notebook's int8 symmetric MSEs on its 3×3 example."""
    at = app(QUANTIZE)
    at.selectbox(key="q_gran").set_value(gran).run()
    assert metrics(at)["MSE"] == f"{mse:.4g}"


def test_heatmaps_are_four_panels_with_the_integers(app):
    at = app(QUANTIZE)
    figs = charts(at)
    heat = {k: next(t for t in figs[k]["data"] if t["type"] == "heatmap") for k in PANELS}
    q = qv.quantize(EXAMPLE_T, qv.QuantScheme()).q
    np.testing.assert_array_equal(array(heat["q_heat_quantized"]["z"]), q.numpy())
    np.testing.assert_array_equal(array(heat["q_heat_original"]["z"]), EXAMPLE_T.numpy())


def test_sqnr_card_shows_the_ideal_as_a_reference_not_a_failure(app):
    at = app(QUANTIZE)
    at.selectbox(key="q_bits").set_value(4).run()
    card = next(m for m in at.metric if m.label == "SQNR")
    assert f"ideal {number_text(ideal_sqnr_db(4))} dB" in card.delta
    assert card.proto.color == MetricProto.MetricColor.GRAY  # not a red alarm
    assert "full-scale sine" in card.help


@pytest.mark.parametrize(
    ("changes", "slug"),
    [
        ({"q_bits": 4, "q_sym": "asymmetric", "q_signed": "unsigned"}, "uint4-asym-per-tensor"),
        ({"q_gran": "per-group", "q_group": 3, "q_gaxis": "columns"}, "int8-sym-per-group-3-dim0"),
        ({"q_gran": "per-block", "q_brows": 1, "q_bcols": 3}, "int8-sym-per-block-1x3"),
        ({"q_range": "percentile", "q_pct": 99.0}, "int8-sym-per-tensor-p99"),
        ({"q_bits": 16, "q_range": "mse"}, "int16-sym-per-tensor-mse"),
    ],
    ids=["uint4-asym", "group-dim0", "block", "percentile", "int16-mse"],
)
def test_settings_go_into_the_url_and_come_back(app, changes, slug):
    at = app(QUANTIZE)
    for key, value in changes.items():
        _widget(at, key).set_value(value).run()
    assert_ok(at)
    assert at.query_params["scheme"] == slug
    # A new session on the shared URL shows the same widgets and the same result.
    again = app(QUANTIZE, query=dict(at.query_params))
    assert_ok(again)
    for key, value in changes.items():
        widget = next(
            w for w in (*again.selectbox, *again.radio, *again.number_input) if w.key == key
        )
        assert widget.value == value
    assert metrics(again)["MSE"] == metrics(at)["MSE"]


def test_symmetric_forces_signed(app):
    at = app(QUANTIZE)
    at.radio(key="q_sym").set_value("asymmetric").run()
    at.radio(key="q_signed").set_value("unsigned").run()
    at.radio(key="q_sym").set_value("symmetric").run()
    assert_ok(at)
    assert at.radio(key="q_signed").value == "signed"
    assert at.radio(key="q_signed").disabled


@pytest.mark.parametrize("gran", ["per-column", "per-block"], ids=["per-column", "per-block"])
def test_scheme_that_does_not_fit_shows_an_error(app, gran):
    at = app()
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value("[1.0, -2.0, 3.5]").run()
    at.button(key="text_apply").click().run()
    at.switch_page(QUANTIZE).run()
    at.selectbox(key="q_gran").set_value(gran).run()
    assert not at.exception
    assert len(at.error) == 1
    assert charts(at) == {}
    assert current_tensor(at).tensor.shape == (3,)  # the tensor itself stays


def test_settings_carry_across_pages(app):
    at = app(QUANTIZE)
    at.selectbox(key="q_gran").set_value("per-row").run()
    at.selectbox(key="q_bits").set_value(4).run()
    at.switch_page("app.py").run()
    assert at.query_params["scheme"] == "int4-sym-per-row"
    at.switch_page(QUANTIZE).run()
    assert at.selectbox(key="q_gran").value == "per-row"
    assert at.selectbox(key="q_bits").value == 4


def test_large_tensor_is_downsampled_for_display(app):
    """A 1024×1536 tensor: statistics on all of it, charts bounded in size."""
    query = {"src": "gen", "kind": "outliers", "shape": "1024x1536", "seed": "1"}
    at = app(QUANTIZE, query=query)
    assert_ok(at)
    x = generate("outliers", (1024, 1536), seed=1)
    expected = qv.error_metrics(x, qv.quantize(x, qv.QuantScheme()).dequantize())
    assert float(metrics(at)["MSE"]) == pytest.approx(expected["mse"], rel=1e-3)
    figs = charts(at)
    heat = [t for k in PANELS for t in figs[k]["data"] if t["type"] == "heatmap"]
    assert len(heat) == 4
    for trace in heat:
        rows, cols = array(trace["z"]).shape
        assert rows <= 128
        assert cols <= 128
    assert max(chart_bytes(at).values()) < 3_000_000


def test_a_group_size_set_elsewhere_is_not_overridden_by_a_stale_widget_value(app):
    # Quantize first seeds its group-size widget (hidden under per-tensor) with a size fitted
    # to the tensor; a later change of the shared settings (another page, a shared URL) must
    # win when per-group is picked, not that stale value.
    at = app(QUANTIZE)
    settings = dict(at.session_state["qv_settings"])
    assert settings["gran"] == "per-tensor"
    settings["group"] = 1
    at.session_state["qv_settings"] = settings
    at.run()
    at.selectbox(key="q_gran").set_value("per-group").run()
    assert_ok(at)
    assert _widget(at, "q_group").value == 1
    scheme = qv.QuantScheme(bits=8, granularity=qv.PerGroup(1))
    expected = qv.error_metrics(EXAMPLE_T, qv.quantize(EXAMPLE_T, scheme).dequantize())
    assert float(metrics(at)["MSE"]) == pytest.approx(expected["mse"], rel=1e-3, abs=1e-9)
