"""The Quantize page's heatmaps and value histogram, each in its own fragment: a change of colour
range, zoom, histogram block or count axis reruns and re-sends only that section.

The four panels are four charts. Each is built (and cached) from only what it depends on, so a
chart whose content did not change is sent again as a short reference to what the browser
already holds (Streamlit's message cache): a scheme change leaves the original panel alone, a
colour range change leaves the integers and the error alone.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import streamlit as st
import torch

import quantviz as qv
from quantviz.figures.downsample import (
    DEFAULT_MAX_CELLS,
    Window,
    as_matrix,
    parse_window,
    window_around,
)
from quantviz.ui import cache
from quantviz.ui.session import CurrentTensor, get_view_param, set_view_param, write_url
from quantviz.ui.widgets import show_figure

# Colour range choices: label -> percentile (None: the full range). The default keeps one
# outlier among thousands of cells from squashing every other cell into the middle colour.
COLOUR_RANGES: dict[str, float | None] = {"99.9%": 99.9, "99%": 99.0, "Full range": None}
DEFAULT_COLOUR_RANGE = "99.9%"
# A click on the overview zooms to a window the panels show at full resolution; a click on a
# full-resolution view zooms to one small enough to print its values.
DETAIL = (8, 8)  # 4-digit values fit the cells of a half-width panel
PANELS = ("original", "quantized", "dequantized", "error")
_ZOOM_TOKEN = "q_zoom_token"


def colour_range() -> tuple[str, float | None]:
    """The colour range chosen (from the widget, else the URL, else the default)."""
    label = st.session_state.get("q_crange") or get_view_param("crange") or DEFAULT_COLOUR_RANGE
    if label not in COLOUR_RANGES:
        label = DEFAULT_COLOUR_RANGE
    return label, COLOUR_RANGES[label]


def current_window(cur: CurrentTensor) -> Window | None:
    """The zoom window from the URL, fitted to the current tensor's 2-D view (None: overview).

    A window set for another tensor is dropped when the tensor changes.
    """
    text = get_view_param("zoom")
    if not text:
        return None
    token = st.session_state.get(_ZOOM_TOKEN)
    if token is not None and token != cur.token:
        set_zoom(cur, None)
        return None
    try:
        window = parse_window(text)
    except ValueError as exc:
        st.warning(f"Ignored the zoom in the URL: {exc}")
        set_zoom(cur, None)
        return None
    n_rows, n_cols = _matrix_shape(cur)
    st.session_state[_ZOOM_TOKEN] = cur.token
    return window.fit(n_rows, n_cols)


def set_zoom(cur: CurrentTensor, window: Window | None) -> None:
    """Show ``window`` (None: the overview) and keep it in the URL."""
    set_view_param("zoom", window.slug() if window else None)
    st.session_state[_ZOOM_TOKEN] = cur.token if window else None
    write_url()


def _matrix_shape(cur: CurrentTensor) -> tuple[int, int]:
    m, _ = as_matrix(cur.tensor)
    return int(m.shape[0]), int(m.shape[1])


def zoom_target(selection: Any, shape: tuple[int, int], window: Window | None) -> Window | None:
    """The window a chart selection asks for: a box as drawn, or a window around a clicked
    cell — full resolution from the overview, 8×8 (values in the cells) from a closer view.

    Args:
        selection: the chart's selection state (``points`` and ``box`` lists).
        shape: ``(rows, cols)`` of the tensor's 2-D view.
        window: the window shown now (None: the overview).

    Returns:
        The new window, or None when the selection holds nothing usable.
    """
    n_rows, n_cols = shape
    boxes = list(selection.get("box") or [])
    if boxes and boxes[0].get("x") and boxes[0].get("y"):
        xs, ys = sorted(boxes[0]["x"]), sorted(boxes[0]["y"])
        r0, r1 = max(0, math.ceil(ys[0] - 0.5)), min(n_rows, math.floor(ys[1] + 0.5))
        c0, c1 = max(0, math.ceil(xs[0] - 0.5)), min(n_cols, math.floor(xs[1] + 0.5))
        if r1 > r0 and c1 > c0:
            return Window(r0, r1, c0, c1)
    points = list(selection.get("points") or [])
    if points and "x" in points[0] and "y" in points[0]:
        row = min(n_rows - 1, max(0, round(float(points[0]["y"]))))
        col = min(n_cols - 1, max(0, round(float(points[0]["x"]))))
        shown = window.shape if window else shape
        full_res = shown[0] <= DEFAULT_MAX_CELLS[0] and shown[1] <= DEFAULT_MAX_CELLS[1]
        return window_around(row, col, DETAIL if full_res else DEFAULT_MAX_CELLS, n_rows, n_cols)
    return None


def _zoom_in(cur: CurrentTensor, window: Window | None) -> None:
    """The "Zoom in" button: centre on the row and column typed."""
    n_rows, n_cols = _matrix_shape(cur)
    full = DEFAULT_MAX_CELLS
    size = DETAIL if window and window.shape[0] <= full[0] and window.shape[1] <= full[1] else full
    row, col = st.session_state["q_zoom_row"], st.session_state["q_zoom_col"]
    set_zoom(cur, window_around(int(row), int(col), size, n_rows, n_cols))


def _zoom_on_selection(cur: CurrentTensor, window: Window | None) -> None:
    """A click or a box on the original panel."""
    event = st.session_state.get("q_heat_original")
    selection = getattr(event, "selection", None) or (event or {}).get("selection") or {}
    target = zoom_target(selection, _matrix_shape(cur), window)
    if target is not None and target != window:
        set_zoom(cur, target)


def _zoom_controls(cur: CurrentTensor, window: Window | None) -> None:
    """Zoom by numbers (the same as a click on a panel): a row and a column to centre on, in a
    form, so typing them does not redraw the page."""
    n_rows, n_cols = _matrix_shape(cur)
    if n_rows * n_cols <= DETAIL[0] * DETAIL[1]:
        return
    cols = st.columns([3, 1])
    with cols[0].form("q_zoom", border=False):
        inner = st.columns([1, 1, 1])
        inner[0].number_input("Row", 0, n_rows - 1, n_rows // 2, key="q_zoom_row")
        inner[1].number_input("Column", 0, n_cols - 1, n_cols // 2, key="q_zoom_col")
        with inner[2]:
            st.write("")  # line the button up with the inputs
            st.form_submit_button(
                "Zoom in", key="q_zoom_in", on_click=_zoom_in, args=(cur, window),
                help="Show the part around this row and column at full resolution (or, when "
                "already there, 8×8 with the values printed).",
            )  # fmt: skip
    with cols[1]:
        st.write("")
        if window is not None:
            st.button("Back to overview", key="q_zoom_out", on_click=set_zoom, args=(cur, None))


def heatmaps_section(
    cur: CurrentTensor, scheme: qv.QuantScheme, result: qv.QuantResult, x_hat: torch.Tensor
) -> None:
    """Zoom controls over the four panels: the values (original, dequantized) on the left with
    their colour range in a fragment of their own, the integers and the error on the right.

    A colour range change reruns the left column only; a zoom (a change of every panel) reruns
    the page, whose cached panels make that cheap.
    """
    window = current_window(cur)
    zoom_text = f"Zoomed to {window.text()}." if window else "Overview of the whole tensor."
    st.caption(
        f"{zoom_text} Click a cell of the original (or drag a box) to see that part at full "
        "resolution; a click there zooms to 8×8 with the values printed."
    )
    _zoom_controls(cur, window)
    left, right = st.columns(2)
    with left:
        values_section(cur, scheme, result, x_hat, window)
    with right:
        # As tall as the colour range box on the left, so the panels line up.
        st.container(height=72, border=False).caption(
            "Pooled cells: max-|x| for the values, mean |q − z| for the integers (how much of "
            "the grid a window uses), RMS for the error."
        )
        for name in ("quantized", "error"):
            fig = cache.panel_figure(name, cur, scheme, result, x_hat, window, None)
            show_figure(fig, key=f"q_heat_{name}")


@st.fragment
def values_section(
    cur: CurrentTensor,
    scheme: qv.QuantScheme,
    result: qv.QuantResult,
    x_hat: torch.Tensor,
    window: Window | None,
) -> None:
    """The colour range and the original and dequantized panels (a fragment)."""
    label, _ = colour_range()
    st.selectbox(
        "Colour range",
        list(COLOUR_RANGES),
        index=list(COLOUR_RANGES).index(label),
        key="q_crange",
        help="Original and dequantized share one colour scale. A percentile clip ends it at that "
        "percentile of the shown cells' magnitudes, so one outlier does not wash out the rest; "
        "cells beyond it get a green square. Full range: from the smallest to the largest.",
    )
    label, clip = colour_range()
    set_view_param("crange", None if label == DEFAULT_COLOUR_RANGE else label)
    write_url()
    original = cache.panel_figure("original", cur, scheme, result, x_hat, window, clip)
    st.plotly_chart(
        original, key="q_heat_original", width="stretch",
        on_select=functools.partial(_zoom_on_selection, cur, window),
        selection_mode=("points", "box"), config={"displaylogo": False},
    )  # fmt: skip
    if current_window(cur) != window:  # a click or box zoomed: every panel changes
        st.rerun()
    deq = cache.panel_figure("dequantized", cur, scheme, result, x_hat, window, clip)
    show_figure(deq, key="q_heat_dequantized")


@st.fragment
def histogram_section(
    cur: CurrentTensor, result: qv.QuantResult, x_hat: torch.Tensor, clipped: int
) -> None:
    """The value histogram with one block's grid, a block picker and a log-count toggle."""
    n = result.num_scales
    default = cache.worst_block(cur, result, x_hat)
    cols = st.columns([1.2, 1.2, 1.6])
    block = default
    if n > 1:
        block = int(
            cols[0].number_input(
                "Block",
                0,
                n - 1,
                default,
                key="q_hist_block",
                help=f"Whose grid and clip points to draw, 0 … {n - 1} in the order of the "
                f"scales; the default, {default}, is the block with the most squared error.",
            )
        )
    log_y = cols[1].toggle(
        "Log count",
        key="q_hist_log",
        help="A logarithmic count axis: "
        "shows the few values in the tails (and beyond the clip points).",
    )
    fig = cache.figure(
        "histogram_with_grid", f"qg|{cur.token}|{result.scheme!r}|{block}|{log_y}",
        cur.tensor, result, block=block, log_y=log_y, total_clipped=clipped,
    )  # fmt: skip
    show_figure(fig, "q_hist")
