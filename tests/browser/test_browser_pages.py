"""Every page through the sidebar in one session: each draws its main content, and the browser
console stays free of errors all the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser._helpers import ROOT, TIMEOUT_MS, WatchedPage, parse_number

pytestmark = pytest.mark.browser

NOTEBOOK_MSE = {"per-tensor": 2.509, "per-row": 1.808, "per-column": 1.078}


def _check_bit_width(app: WatchedPage) -> None:
    expect(app.widget("bw_chart").locator(".js-plotly-plot")).to_be_visible(timeout=TIMEOUT_MS)
    # One marker trace per granularity × mapping; each has points for 2 to 8 bits.
    expect(app.widget("bw_chart").locator("g.trace.scatter").first).to_be_visible()
    app.screenshot("bit_width")


def _check_learn(app: WatchedPage) -> None:
    cards = app.metrics()
    for name, mse in NOTEBOOK_MSE.items():
        assert parse_number(cards[f"{name} MSE"]) == pytest.approx(mse, abs=1e-3), cards
    expect(app.widget("learn_summary")).to_contain_text("per-column")
    app.screenshot("learn")


def _check_model(app: WatchedPage) -> None:
    expect(app.widget("model_upload").locator("input[type=file]")).to_be_attached()


CHECKS = {
    "Quantize": lambda app: expect(
        app.widget("q_heat_original").locator(".js-plotly-plot")
    ).to_be_visible(timeout=TIMEOUT_MS),
    "Compare": lambda app: expect(app.widget("cmp_table")).to_be_visible(timeout=TIMEOUT_MS),
    "Bit width": _check_bit_width,
    "Learn": _check_learn,
    "Model": _check_model,
    "Home": lambda app: expect(app.widget("home_preview").locator(".js-plotly-plot")).to_be_visible(
        timeout=TIMEOUT_MS
    ),
}


def test_every_page_renders_without_console_errors(app: WatchedPage) -> None:
    model_page = (ROOT / "pages" / "5_Model.py").is_file()
    for label, check in CHECKS.items():
        if label == "Model" and not model_page:
            continue
        app.go(label)
        check(app)
        assert app.console == [], f"console errors on {label}: {app.console}"
        assert app.exceptions() == [], f"exception on {label}: {app.exceptions()}"
