"""Quantize in a real browser: the four heatmaps render, and a new granularity changes the
metric cards to the notebook's numbers."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import expect

import quantviz as qv
from tests.browser._helpers import TIMEOUT_MS, WatchedPage, parse_number

pytestmark = pytest.mark.browser

NOTEBOOK = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])
# The course notebook's int8 symmetric MSEs of its 3×3 example (an independent reference).
NOTEBOOK_MSE = {"per-tensor": 2.509, "per-row": 1.808, "per-column": 1.078}
GRANULARITIES = {
    "per-tensor": qv.PerTensor(),
    "per-row": qv.PerChannel(0),
    "per-column": qv.PerChannel(1),
}


def _int8(granularity: qv.Granularity) -> qv.QuantScheme:
    return qv.QuantScheme(bits=8, symmetric=True, signed=True, granularity=granularity)


PANELS = ("original", "quantized", "dequantized", "error")


def test_four_heatmaps_render_with_their_titles(app: WatchedPage) -> None:
    app.go("Quantize")
    scheme = _int8(qv.PerTensor())
    for name in PANELS:
        chart = app.widget(f"q_heat_{name}").locator(".js-plotly-plot")
        expect(chart).to_be_visible(timeout=TIMEOUT_MS)
        # Plotly draws a heatmap trace as an <image> inside a g.hm layer.
        expect(chart.locator("g.hm image")).to_have_count(1, timeout=TIMEOUT_MS)
        bounds = chart.locator("g.hm image").bounding_box()
        assert bounds is not None
        assert min(bounds["width"], bounds["height"]) > 20, bounds
        title = app.chart_texts(f"q_heat_{name}", ".gtitle")
        assert title, name
        assert title[0].startswith(name), title
    title = app.chart_texts("q_heat_quantized", ".gtitle")[0]
    assert f"{scheme.q_min} … {scheme.q_max}" in title  # the integer grid is named
    # The other charts of the page draw too.
    for key in ("q_scales", "q_hist", "q_err_hist"):
        expect(app.widget(key).locator(".js-plotly-plot")).to_be_visible()
    app.screenshot("quantize")


def test_granularity_change_updates_the_metrics(app: WatchedPage) -> None:
    app.go("Quantize")
    seen: dict[str, dict[str, str]] = {}
    for name, granularity in GRANULARITIES.items():
        if name != "per-tensor":  # the default scheme is int8 symmetric per-tensor
            app.choose("q_gran", name)
        cards = app.metrics()
        seen[name] = cards
        scheme = _int8(granularity)
        result = qv.quantize(NOTEBOOK, scheme)
        want = qv.error_metrics(NOTEBOOK, result.dequantize())
        assert parse_number(cards["MSE"]) == pytest.approx(NOTEBOOK_MSE[name], abs=1e-3)
        assert parse_number(cards["MSE"]) == pytest.approx(want["mse"], rel=1e-3)
        assert parse_number(cards["SQNR"]) == pytest.approx(want["sqnr_db"], abs=0.05)
        bits = qv.bits_per_element(tuple(NOTEBOOK.shape), scheme)
        assert parse_number(cards["Bits / element"]) == pytest.approx(bits, rel=1e-2)
        # The histogram was redrawn for the new scheme: its title names it.
        titles = app.chart_texts("q_hist", ".gtitle")
        assert any(scheme.label() in t for t in titles), (scheme.label(), titles)
    assert seen["per-tensor"]["MSE"] != seen["per-row"]["MSE"] != seen["per-column"]["MSE"]
    assert seen["per-tensor"]["Bits / element"] != seen["per-row"]["Bits / element"]
