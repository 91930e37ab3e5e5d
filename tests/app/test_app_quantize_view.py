"""Quantize page views: zoom (controls, URL), the colour range, the histogram's block picker."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.figures._common import number_text
from quantviz.ui.session import CurrentTensor, tensor_token
from tests.app._helpers import QUANTIZE, array, assert_ok, charts

OUTLIER = {"src": "gen", "kind": "normal", "shape": "300x400", "seed": "3"}


def heat(at, panel: str) -> dict:
    fig = charts(at)[f"q_heat_{panel}"]
    return next(t for t in fig["data"] if t["type"] == "heatmap")


def marks(at, panel: str) -> list[dict]:
    fig = charts(at)[f"q_heat_{panel}"]
    return [t for t in fig["data"] if t.get("name") == "beyond the colour range"]


def use_tensor(at, x: torch.Tensor, name: str = "test tensor") -> None:
    at.session_state["qv_tensor"] = CurrentTensor(x, name, "test", "float32", tensor_token(x))
    at.run()


def test_zoom_in_shows_all_four_panels_in_step_at_full_resolution(app):
    at = app(QUANTIZE, query=OUTLIER)
    assert_ok(at)
    assert "zoom" not in at.query_params
    at.number_input(key="q_zoom_row").set_value(150)
    at.number_input(key="q_zoom_col").set_value(390)
    at.button(key="q_zoom_in").click().run()
    assert_ok(at)
    # 128×128 around (150, 390), moved inside the 400 columns.
    assert at.query_params["zoom"] == "86-214,272-400"
    x = qv.generate("normal", (300, 400), seed=3)
    res = qv.quantize(x, qv.QuantScheme())
    for panel, want in (("original", x), ("quantized", res.q), ("error", res.dequantize() - x)):
        trace = heat(at, panel)
        np.testing.assert_allclose(array(trace["z"]), want[86:214, 272:400].numpy(), atol=1e-6)
        assert (trace["x0"], trace["y0"]) == (272, 86)
    # A second zoom from there prints values: 8×8.
    at.button(key="q_zoom_in").click().run()
    assert at.query_params["zoom"] == "146-154,386-394"
    assert len(heat(at, "original")["text"]) == 8
    assert heat(at, "original")["text"][0][0] == number_text(float(x[146, 386]))
    at.button(key="q_zoom_out").click().run()
    assert "zoom" not in at.query_params
    assert "x0" not in heat(at, "original") or heat(at, "original")["x0"] < 2


def test_the_url_keeps_the_zoom(app):
    at = app(QUANTIZE, query={**OUTLIER, "zoom": "10-20,30-45"})
    assert_ok(at)
    trace = heat(at, "dequantized")
    assert array(trace["z"]).shape == (10, 15)
    assert (trace["x0"], trace["y0"]) == (30, 10)
    assert at.query_params["zoom"] == "10-20,30-45"


def test_a_bad_zoom_in_the_url_is_ignored_with_a_message(app):
    at = app(QUANTIZE, query={**OUTLIER, "zoom": "ten-twenty"})
    assert not at.exception
    assert any("Ignored the zoom" in w.value for w in at.warning)
    assert array(heat(at, "original")["z"]).shape == (100, 100)  # the overview, 3×4 windows


def test_one_outlier_does_not_blank_the_map_and_full_range_is_a_choice(app):
    x = torch.randn(1024, 1024, generator=torch.Generator().manual_seed(1)) * 0.045
    x[512, 40] = 7.9
    at = app(QUANTIZE)
    use_tensor(at, x)
    assert_ok(at)
    assert at.selectbox(key="q_crange").value == "99.9%"
    orig = charts(at)["q_heat_original"]["data"][0]
    assert orig["zmax"] < 0.3  # the bulk spans the colours
    assert marks(at, "original")
    assert array(marks(at, "original")[0]["customdata"])[0] == pytest.approx(7.9)
    at.selectbox(key="q_crange").set_value("Full range").run()
    assert_ok(at)
    assert charts(at)["q_heat_original"]["data"][0]["zmax"] == pytest.approx(7.9)
    assert not marks(at, "original")
    assert at.query_params["crange"] == "Full range"


def test_histogram_block_picker_defaults_to_the_worst_block_and_follows_a_pick(app):
    x = torch.randn(64, 96, generator=torch.Generator().manual_seed(2))
    x[41, 7] = 25.0
    at = app(QUANTIZE)
    use_tensor(at, x)
    at.selectbox(key="q_gran").set_value("per-row").run()
    assert_ok(at)
    assert at.number_input(key="q_hist_block").value == 41
    title = charts(at)["q_hist"]["layout"]["title"]["text"]
    assert title.startswith("values of block 41 ")
    at.number_input(key="q_hist_block").set_value(3).run()
    assert charts(at)["q_hist"]["layout"]["title"]["text"].startswith("values of block 3 ")
    at.toggle(key="q_hist_log").set_value(True).run()
    assert charts(at)["q_hist"]["layout"]["yaxis"]["type"] == "log"
