"""Small display helpers shared by the pages: numbers, charts, tensor statistics."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from quantviz.figures._common import DIGITS, number_text
from quantviz.inputs.stats import OUTLIER_SIGMAS
from quantviz.ui import cache
from quantviz.ui.session import CurrentTensor

_PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def fmt(value: float | int | None, digits: int = DIGITS) -> str:
    """A number for a metric card, written as every figure writes it
    (:func:`quantviz.figures.number_text`); "–" for a missing value."""
    if value is None:
        return "–"
    return number_text(value, digits)


def fmt_shape(shape: Any) -> str:
    return "×".join(str(int(n)) for n in shape)


def show_figure(fig: go.Figure, key: str) -> None:
    """Draw a plotly figure full width with Streamlit's theme (so it follows light/dark mode)."""
    st.plotly_chart(fig, key=key, width="stretch", config=_PLOTLY_CONFIG)


# In rows of three: three cards fit a 9-character value such as "1024×1024" at Streamlit's
# metric font size in the Home page's preview column.
STAT_LABELS = ["Shape", "dtype", "Outliers", "Min", "Max", "Absmax", "Mean", "Std"]


def tensor_stats(cur: CurrentTensor) -> dict[str, Any]:
    """The Home page's statistics of the full tensor (from :func:`quantviz.describe_tensor`)."""
    return cache.describe(cur)


def stats_cards(cur: CurrentTensor, per_row: int = 3) -> None:
    """Metric cards: shape, original dtype, min, max, mean, std, absmax, outlier count."""
    d = tensor_stats(cur)
    values = {
        "Shape": fmt_shape(cur.tensor.shape),
        "dtype": cur.dtype,
        "Min": fmt(d["min"]),
        "Max": fmt(d["max"]),
        "Mean": fmt(d["mean"]),
        "Std": fmt(d["std"]),
        "Absmax": fmt(d["absmax"]),
        "Outliers": fmt(d["outliers"]),
    }
    helps = {
        "dtype": "The dtype the tensor had before conversion to float32 for analysis.",
        "Outliers": f"Values more than {OUTLIER_SIGMAS:g} standard deviations from the mean.",
    }
    for start in range(0, len(STAT_LABELS), per_row):
        row = st.columns(per_row)
        for col, label in zip(row, STAT_LABELS[start : start + per_row], strict=False):
            col.metric(label, values[label], help=helps.get(label) or None)


def show_table(data: Any, key: str, **kwargs: Any) -> None:
    """``st.dataframe`` inside a container keyed ``key``: a read-only dataframe carries no key
    of its own, and the container gives it a stable handle (the ``st-key-<key>`` CSS class in
    the browser, the block id in AppTest)."""
    with st.container(key=key):
        st.dataframe(data, **kwargs)
