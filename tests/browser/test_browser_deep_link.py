"""A sub-page opened by its own URL (a deep link, or a reload), and Home's layout at 1600 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser._helpers import TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.browser

# Streamlit 1.67's frontend, loaded at /<page>, probes /<page>/_stcore/health and
# /<page>/_stcore/host-config before the root (its base-URL candidates: the path, then its parent;
# the function PD in static/js/index.*.js). The server only answers at the root, so the browser
# logs two 404s. Only window.__streamlit.BACKEND_BASE_URL, set by a page that embeds the app,
# changes the candidates; no server option or route of `streamlit run` does (see the README).
PROBE_REASON = "Streamlit's own base-URL probe of <page>/_stcore/{health,host-config} (README)"


@pytest.fixture
def deep_page(browser, app_url: str) -> Iterator[WatchedPage]:
    """A fresh session whose first page is Compare, loaded by its URL."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    watched = WatchedPage(context.new_page(), app_url)
    try:
        watched.page.goto(app_url + "/Compare")
        watched.expect_title("Compare")
        expect(watched.widget("cmp_table")).to_be_visible(timeout=TIMEOUT_MS)
        watched.idle()
        yield watched
    finally:
        context.close()


@pytest.mark.xfail(strict=True, reason=PROBE_REASON)
def test_a_deep_link_logs_no_console_errors(deep_page: WatchedPage) -> None:
    assert deep_page.console == []


def test_a_deep_link_works_and_its_only_console_errors_are_the_probe(
    deep_page: WatchedPage,
) -> None:
    # The page drew (fixture), and nothing else went wrong: every error is one of the probes.
    others = [
        line
        for line in deep_page.console
        if "/Compare/_stcore/health" not in line and "/Compare/_stcore/host-config" not in line
    ]
    assert others == []
    assert len(deep_page.console) <= 2


def test_home_input_modes_stay_on_one_line_at_1600_px(app: WatchedPage) -> None:
    app.page.set_viewport_size({"width": 1600, "height": 1000})
    radio = app.widget("home_mode")
    names = ["Example", "Type or paste", "Edit grid", "Upload", "Generate"]
    for name in names:
        expect(radio.get_by_text(name, exact=True)).to_be_visible()
    tops = {round(radio.get_by_text(n, exact=True).bounding_box()["y"]) for n in names}
    assert len(tops) == 1, tops


def test_stop_ends_a_long_comparison(app: WatchedPage) -> None:
    # A 4096×4096 tensor with the MSE-optimal range: Compare takes seconds, with a bar and Stop.
    query = "src=gen&kind=normal&shape=4096x4096&seed=0&scheme=int4-sym-per-tensor-mse"
    app.page.goto(f"{app.base_url}/?{query}")
    app.expect_title("Home")
    app.idle()
    link = app.sidebar.get_by_role("link", name="Compare")
    link.click()
    stop = app.widget("cmp_stop").get_by_role("button", name="Stop")
    expect(stop).to_be_visible(timeout=TIMEOUT_MS)
    expect(app.main.get_by_test_id("stProgress")).to_contain_text("MSE-optimal range")
    stop.click()
    expect(app.main.get_by_text("Stopped: Comparing 8 granularities")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    app.idle()
    expect(app.widget("cmp_table")).to_have_count(0)
    expect(app.widget("cmp_resume").get_by_role("button", name="Run")).to_be_visible()
