"""Calibrate in a real browser: reached from the sidebar, a run shows the table of all five
methods with its charts, and no console errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser._helpers import TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.browser

TITLE = "Calibrate: output error, GPTQ, AWQ, SmoothQuant, rotation"


def _open_calibrate(app: WatchedPage) -> None:
    app.rerun(app.sidebar.get_by_role("link", name="Calibrate").click)
    expect(app.main.get_by_role("heading", name=TITLE, exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )
    app.idle()


def test_calibrate_runs_every_method_on_the_current_tensor(app: WatchedPage) -> None:
    _open_calibrate(app)
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


def test_uploaded_activations_of_the_wrong_width_are_refused_and_lose_nothing(
    app: WatchedPage, tmp_path: Path
) -> None:
    _open_calibrate(app)
    expect(app.main).to_contain_text("X: generated: 512 tokens")
    app.pick_radio("cal_source", "Upload")
    bad = tmp_path / "acts.npy"
    np.save(bad, np.ones((10, 5), np.float32))  # the notebook example W is 3×3: X needs 3 features
    app.upload("cal_upload", bad)
    error = app.main.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("have 5 features per token", timeout=TIMEOUT_MS)
    expect(error).to_contain_text("The last good activations stay in use.")
    expect(app.main).to_contain_text("X: generated: 512 tokens")  # still the generated X
    good = tmp_path / "good.npy"
    np.save(good, np.ones((7, 3), np.float32))
    app.upload("cal_upload", good)
    expect(app.main).to_contain_text("X: good.npy: 7 tokens", timeout=TIMEOUT_MS)
    assert app.console == [], app.console
