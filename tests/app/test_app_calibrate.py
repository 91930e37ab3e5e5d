"""Calibrate page: runs the five methods on the current tensor and shows the core's numbers."""

from __future__ import annotations

import pytest

import quantviz as qv
from quantviz.ui.session import generated_url_params
from tests.app._helpers import assert_ok, charts, shown_table, start

CALIBRATE = "pages/6_Calibrate.py"
W_QUERY = generated_url_params("normal", (16, 64), 3, {})


def _w():
    return qv.generate("normal", (16, 64), seed=3)


def _ran():
    at = start(CALIBRATE, W_QUERY)
    assert_ok(at)
    at.number_input(key="cal_tokens").set_value(64)
    at.run()
    at.button(key="cal_run").click().run()
    assert_ok(at)
    return at


def test_the_table_has_the_core_numbers_for_every_method():
    at = _ran()
    table = shown_table(at, "cal_table")
    x = qv.generate("activations", (64, 64), seed=0, outliers=4, outlier_scale=50.0, spread=0.5)
    want = qv.calibrate_compare(
        _w(), x, ["int4-sym-per-row"], method_params={"smoothquant": {"alpha": 0.5}}
    )
    assert list(table["Method"]) == ["rtn", "hadamard", "smoothquant", "awq", "gptq"]
    assert table["Output rel. error"].tolist() == pytest.approx(want["output_rel_error"].tolist())
    assert table["Weight MSE"].tolist() == pytest.approx(want["weight_mse"].tolist())
    # int8 per-token activations: SmoothQuant (W8A8) and RTN as its baseline, "–" elsewhere
    a8 = ["–" if v != v else f"{v:.5f}" for v in want["output_rel_error_a8"]]
    assert table["Output rel. error, int8 X"].tolist() == a8
    assert a8.count("–") == 3
    assert set(charts(at)) == {"cal_bars", "cal_channels", "cal_transform", "cal_output_error"}


def test_the_charts_follow_the_chosen_metric_and_method():
    at = _ran()
    at.selectbox(key="cal_metric").set_value("weight_mse").run()
    bars = charts(at)["cal_bars"]
    assert "weight MSE" in bars["layout"]["title"]["text"]
    at.selectbox(key="cal_inspect_method").set_value("hadamard").run()
    assert_ok(at)
    assert "hadamard" in charts(at)["cal_transform"]["layout"]["title"]["text"]
    assert "hadamard" in charts(at)["cal_output_error"]["layout"]["title"]["text"]


def test_nothing_runs_until_asked_and_a_changed_setting_asks_again():
    at = start(CALIBRATE, W_QUERY)
    assert_ok(at)
    assert "Run calibration" in " ".join(i.value for i in at.info)
    at.number_input(key="cal_tokens").set_value(64).run()
    at.button(key="cal_run").click().run()
    assert charts(at)
    at.number_input(key="cal_outliers").set_value(0).run()
    assert not charts(at)  # new X: the old results are not shown as if they were its own


def test_a_tensor_that_is_not_a_matrix_gets_a_message():
    at = start(CALIBRATE, generated_url_params("normal", (4, 4, 4), 0, {}))
    assert_ok(at)
    assert "needs a 2-D weight" in at.info[0].value


def test_a_run_that_would_keep_too_much_for_the_page_is_refused_before_it_starts(monkeypatch):
    from quantviz.ui import calibrate_view

    # 16×64 weight, 5 methods of which 3 transform W: 8 kept copies of 1024 values per scheme
    monkeypatch.setattr(calibrate_view, "MAX_KEPT_ELEMENTS", 8 * 1024)
    at = start(CALIBRATE, W_QUERY)
    assert_ok(at)
    assert not at.warning
    assert at.button(key="cal_run")
    at.multiselect(key="cal_schemes").set_value(["int4-sym-per-group-32", "int8-sym-per-row"])
    at.run()
    assert_ok(at)
    assert "pick at most 1 scheme(s) at a time" in at.warning[0].value
    assert not [b for b in at.button if b.key == "cal_run"]
