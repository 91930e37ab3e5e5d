"""Calibrate in a real browser: reached from the sidebar, a run shows the table of all five
methods with its charts, and no console errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser._helpers import TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.browser

TITLE = "Calibrate: output error, GPTQ, AWQ, SmoothQuant, rotation"


def test_calibrate_runs_every_method_on_the_current_tensor(app: WatchedPage) -> None:
    app.rerun(app.sidebar.get_by_role("link", name="Calibrate").click)
    expect(app.main.get_by_role("heading", name=TITLE, exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )
    app.idle()
    expect(app.main).to_contain_text("Press Run calibration")
    app.press("cal_run")
    table = app.widget("cal_table")
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    for method in ("rtn", "hadamard", "smoothquant", "awq", "gptq"):
        expect(table).to_contain_text(method)
    for key in ("cal_bars", "cal_channels", "cal_transform", "cal_output_error"):
        expect(app.widget(key).locator(".js-plotly-plot")).to_be_visible(timeout=TIMEOUT_MS)
    app.choose("cal_inspect_method", "hadamard")
    expect(app.widget("cal_transform")).to_contain_text("hadamard", timeout=TIMEOUT_MS)
    app.screenshot("calibrate")
    assert app.console == [], app.console
    assert app.exceptions() == []
