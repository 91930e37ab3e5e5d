"""Quantize views in a real browser: zoom by clicking a cell, the colour range with its marked
cells, and the histogram's block picker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser._helpers import TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.browser

# A 512×512 normal tensor (pooled 4×4 into 128×128 cells), opened by its URL.
QUERY = "?src=gen&kind=normal&shape=512x512&seed=5"


def open_quantize(app: WatchedPage, extra: str = "") -> None:
    """Home with the tensor in its URL, then the sidebar link (a deep link to a sub-page logs
    Streamlit's own 404 probes, a separate issue)."""
    app.page.goto(f"{app.base_url}/{QUERY}{extra}")
    app.expect_title("Home")
    app.idle()
    app.go("Quantize")
    plot = app.widget("q_heat_original").locator("g.hm image")
    expect(plot).to_have_count(1, timeout=TIMEOUT_MS)


def heatmap_box(app: WatchedPage, panel: str) -> dict:
    """The panel's heatmap image, in viewport coordinates (scrolled into view first: a mouse
    click at a point below the fold lands nowhere)."""
    image = app.widget(f"q_heat_{panel}").locator("g.hm image")
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    assert box is not None
    return box


def test_clicking_a_cell_zooms_all_four_panels_and_the_url_keeps_it(app: WatchedPage) -> None:
    open_quantize(app)
    box = heatmap_box(app, "original")
    # A cell a quarter of the way in from the top left: rows and columns near 128.
    app.rerun(
        lambda: app.page.mouse.click(box["x"] + box["width"] / 4, box["y"] + box["height"] / 4)
    )
    app.idle()
    expect(app.main).to_contain_text(re.compile(r"Zoomed to rows \d+–\d+, columns \d+–\d+"))
    zoom = re.search(r"zoom=(\d+)-(\d+)%2C(\d+)-(\d+)", app.page.url)
    assert zoom, app.page.url
    r0, r1, c0, c1 = (int(v) for v in zoom.groups())
    assert (r1 - r0, c1 - c0) == (128, 128)
    # Centred near the click (a quarter in: index 128 of 512), moved inside the matrix.
    assert 64 <= r0 + 64 <= 192
    assert 64 <= c0 + 64 <= 192
    # Every panel now shows that window unpooled: no "per 4×4" in any title.
    for panel in ("original", "quantized", "dequantized", "error"):
        title = app.chart_texts(f"q_heat_{panel}", ".gtitle")[0]
        assert "per 4×4" not in title, title
    # The address shows the same window in a new session (opened from Home, see open_quantize).
    app.page.goto(app.page.url.replace("/Quantize?", "/?"))
    app.expect_title("Home")
    app.idle()
    app.go("Quantize")
    expect(app.main).to_contain_text(f"Zoomed to rows {r0}–{r1 - 1}, columns {c0}–{c1 - 1}")
    app.press("q_zoom_out")
    expect(app.main).to_contain_text("Overview of the whole tensor.")
    assert "zoom=" not in app.page.url
    app.screenshot("quantize-zoom-back")


def test_zoom_to_eight_prints_values_in_the_cells(app: WatchedPage) -> None:
    open_quantize(app, "&zoom=100-228,200-328")
    app.press("q_zoom_in")  # from full resolution: 8×8 around the typed row and column
    texts = app.widget("q_heat_original").locator("g.hm text, .textpoint text")
    expect(texts.first).to_be_attached(timeout=TIMEOUT_MS)
    assert texts.count() == 64
    app.screenshot("quantize-zoom-8")


MARKED_JS = """el => {
    const scatters = el.data.filter(t => t.type === 'scatter');
    const k = scatters.findIndex(t => t.name === 'beyond the colour range');
    if (k < 0) return 0;
    return el.querySelectorAll('.scatterlayer .trace')[k].querySelectorAll('.point').length;
}"""


def marked_cells(app: WatchedPage) -> int:
    """How many open squares the original panel draws (its 'beyond the colour range' trace)."""
    return app.widget("q_heat_original").locator(".js-plotly-plot").evaluate(MARKED_JS)


def test_colour_range_marks_clipped_cells_and_full_range_drops_them(app: WatchedPage) -> None:
    open_quantize(app)
    # 99.9% of 16384 cells: the 16 or so beyond it carry an open square.
    assert 1 <= marked_cells(app) <= 17
    app.choose("q_crange", "Full range")
    expect(app.main).to_contain_text("Colour range")
    app.idle()
    assert marked_cells(app) == 0
    assert "crange=Full+range" in app.page.url or "crange=Full%20range" in app.page.url


def test_histogram_block_picker(app: WatchedPage) -> None:
    open_quantize(app)
    app.choose("q_gran", "per-row")
    box = app.widget("q_hist_block").locator("input")
    worst = int(box.input_value())
    titles = app.chart_texts("q_hist", ".gtitle")
    assert titles[0].startswith(f"values of block {worst} "), titles
    other = 7 if worst != 7 else 8
    box.fill(str(other))
    app.rerun(lambda: box.press("Enter"))
    expect(app.widget("q_hist").locator(".gtitle")).to_contain_text(f"values of block {other} ")
    app.rerun(app.widget("q_hist_log").get_by_text("Log count").click)
    # A log axis puts its ticks at 1, 2, 5, 10 …
    expect(app.widget("q_hist").locator(".ytick text").first).to_have_text("1")
