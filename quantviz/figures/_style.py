"""Shared look of every quantviz figure: colour scales, a theme-neutral layout, number formats.

Backgrounds stay transparent and grid lines are a translucent grey, so figures read well in both
Streamlit's light and dark themes and in notebooks; fonts are left to the host's theme.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from quantviz.figures._common import DIGITS, number_text

# Values that straddle 0: diverging, white at 0. Values of one sign: sequential.
VALUES_DIVERGING = "RdBu_r"
VALUES_SEQUENTIAL = "Cividis"
INTEGERS = "Viridis"
ERRORS = "RdBu_r"

GRID_COLOR = "rgba(128, 128, 128, 0.25)"
# Block boundaries sit on top of heatmaps of any colour: a dark translucent line reads on the
# white middle of RdBu as well as on saturated cells, in either theme.
BOUNDARY_COLOR = "rgba(30, 30, 30, 0.7)"
BOUNDARY_COLOR_DENSE = "rgba(30, 30, 30, 0.4)"
CLIP_COLOR = "rgba(214, 39, 40, 0.9)"
CLIP_FILL = "rgba(214, 39, 40, 0.12)"
# Open squares on heatmap cells beyond the colour range: green reads on both ends of RdBu.
CLIP_MARK = "#00a650"
LEVEL_COLOR = "rgba(255, 127, 14, 0.75)"
ACCENT = "#1f77b4"
HIGHLIGHT = "#ff7f0e"
# Plotly's qualitative palette, readable on light and dark backgrounds.
PALETTE = (
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
    "#FF97FF",
    "#FECB52",
)


def base_layout(fig: go.Figure, title: str = "", note: str = "", height: int | None = None) -> None:
    """Apply the shared, theme-neutral layout to ``fig`` in place.

    Args:
        fig: the figure to style.
        title: main title (may be empty).
        note: a smaller second line under the title, e.g. a downsampling note.
        height: figure height in pixels, or None to keep plotly's default.
    """
    fig.update_layout(
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 60, "r": 30, "t": 90 if note else 60, "b": 50},
        hoverlabel={"namelength": -1},
    )
    if title or note:
        fig.update_layout(
            title={"text": title, "x": 0.0, "xanchor": "left", "subtitle": {"text": note}}
        )
    if height is not None:
        fig.update_layout(height=height)
    fig.update_xaxes(gridcolor=GRID_COLOR, zerolinecolor=GRID_COLOR)
    fig.update_yaxes(gridcolor=GRID_COLOR, zerolinecolor=GRID_COLOR)


def fmt(value: float, digits: int = DIGITS) -> str:
    """A number for labels and titles: :func:`quantviz.figures._common.number_text`, the one
    number format of every figure, card and table."""
    return number_text(value, digits)


def value_range(lo: float, hi: float) -> tuple[str, float, float]:
    """Colour scale and limits for real values spanning ``[lo, hi]``.

    Returns:
        ``(colorscale, cmin, cmax)``: diverging and symmetric around 0 when the values straddle 0
        (so equal magnitudes get equal intensity), sequential over ``[lo, hi]`` otherwise.
    """
    lo = lo if math.isfinite(lo) else 0.0
    hi = hi if math.isfinite(hi) else 0.0
    if lo < 0.0 < hi:
        m = max(-lo, hi)
        return VALUES_DIVERGING, -m, m
    if lo == hi:  # a constant matrix: widen the range so the colour bar is not degenerate
        pad = abs(lo) or 1.0
        return VALUES_SEQUENTIAL, lo - pad, hi + pad
    return VALUES_SEQUENTIAL, lo, hi


def symmetric_limit(m: float) -> float:
    """A positive half-range for a diverging scale centred at 0 (1.0 for an all-zero input)."""
    return m if math.isfinite(m) and m > 0 else 1.0
