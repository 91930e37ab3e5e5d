"""Per-layer figures of a checkpoint scan: SQNR along the model, and a layer × scheme heatmap.

Both take the table :func:`quantviz.scan` returns. A model with more layers than a figure can
show is reduced by keeping the *worst* layer of each run of neighbours (lowest SQNR, highest
error), the per-layer analogue of max-|x| pooling: a bad layer never disappears from the picture.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quantviz.figures._style import PALETTE, base_layout, fmt
from quantviz.metrics import higher_is_better, ideal_sqnr_db
from quantviz.scan.summary import LAYER_COLUMNS, layer_table

MAX_LINE_LAYERS = 1500
"""Layers drawn per scheme in the SQNR chart before neighbours are pooled."""
MAX_HEATMAP_ROWS = 120
"""Rows of the layer × scheme heatmap before neighbours are pooled."""
HEATMAP_LABEL_BAND_PX = 30
"""Room between the heatmap's title and the scheme names written above it."""
MIN_HEATMAP_PLOT_PX = 150
"""Least plot height of the heatmap, so the colour bar (as long as the plot) stays readable."""
MAX_NAMED_TICKS = 12
"""Up to this many layers, the SQNR chart may write layer names under the x axis..."""
MAX_TICK_CHARS = 120
"""...when all the names together are at most this long (so they fit side by side)."""
METRIC_TITLES = {
    "sqnr_db": "SQNR (dB)",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "max_abs_error": "max |error|",
    "rel_error": "relative error ‖x−x̂‖/‖x‖",
}


def _check(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"expected the DataFrame from qv.scan, got {type(table).__name__}")
    if metric not in METRIC_TITLES:
        raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRIC_TITLES)}")
    if table.empty:
        raise ValueError("the scan table is empty: no layer was scanned")
    return layer_table(table, metric)


def pool_rows(
    values: np.ndarray, max_rows: int, higher_is_better: bool = True
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Merge runs of neighbouring rows so at most ``max_rows`` remain, keeping the worst value
    of each run in each column.

    Args:
        values: ``(layers, schemes)`` array.
        max_rows: the most rows to keep (no pooling when there are not more).
        higher_is_better: True for SQNR (keep the minimum), False for errors (the maximum).

    Returns:
        The pooled array and, per row, the ``(first, last)`` layer positions it covers.
    """
    n = values.shape[0]
    if n <= max_rows:
        return values, [(i, i) for i in range(n)]
    # n > max_rows, so the rounded edges are strictly increasing: every run is non-empty.
    edges = np.linspace(0, n, max_rows + 1).round().astype(int)
    reduce = np.fmin if higher_is_better else np.fmax  # fmin/fmax skip NaN
    pooled = reduce.reduceat(values, edges[:-1], axis=0)
    spans = [(int(a), int(b) - 1) for a, b in itertools.pairwise(edges)]
    return pooled, spans


def nice_step(span: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``span`` (at least 1)."""
    if span <= 1:
        return 1
    power = 10 ** math.floor(math.log10(span))
    return next(int(m * power) for m in (1, 2, 5, 10) if m * power >= span)


def layer_ticks(names: list[str], max_ticks: int = 10) -> dict:
    """x-axis settings that tick only whole layer positions (a layer 0.2 means nothing).

    Args:
        names: the layers in model order.
        max_ticks: about how many ticks a long model gets.

    Returns:
        Keyword arguments for ``fig.update_xaxes``: every position, labelled with the layer
        names when there are few and short enough to sit side by side, else the numbers; a long
        model gets an integer step of 1, 2 or 5 × 10ᵏ.
    """
    n = len(names)
    if n <= MAX_NAMED_TICKS:
        short = sum(len(x) + 2 for x in names) <= MAX_TICK_CHARS
        text = names if short else [str(i) for i in range(n)]
        return {"tickmode": "array", "tickvals": list(range(n)), "ticktext": text}
    return {"tickmode": "linear", "tick0": 0, "dtick": nice_step(n / max_ticks)}


def sqnr_by_layer(table: pd.DataFrame, max_layers: int = MAX_LINE_LAYERS) -> go.Figure:
    """SQNR of every layer in model order, one line per scheme, with the ideal
    ``6.02·bits + 1.76`` dB of each bit width as a dashed reference.

    Args:
        table: a :func:`quantviz.scan` table.
        max_layers: above this many layers, runs of neighbours are pooled to their worst.

    Returns:
        A plotly Figure; exact reconstructions (∞ dB) are left out and counted in the subtitle.
    """
    wide = _check(table, "sqnr_db")
    schemes = list(wide.columns[len(LAYER_COLUMNS) :])
    names = wide["name"].tolist()
    fig = go.Figure()
    notes, exact = [], 0
    for i, scheme in enumerate(schemes):
        values = wide[scheme].to_numpy(dtype=float)
        exact += int(np.isinf(values).sum())
        pooled, spans = pool_rows(values[:, None], max_layers)
        y = [v if math.isfinite(v) else None for v in pooled[:, 0]]
        hover = [
            names[a] if a == b else f"{names[a]} … {names[b]} (worst of {b - a + 1})"
            for a, b in spans
        ]
        fig.add_trace(
            go.Scatter(
                x=[a for a, _ in spans],
                y=y,
                mode="lines+markers" if len(spans) <= 200 else "lines",
                name=scheme,
                line={"color": PALETTE[i % len(PALETTE)], "width": 1.5},
                marker={"size": 5},
                customdata=hover,
                hovertemplate="%{customdata}<br>%{y:.2f} dB<extra>" + scheme + "</extra>",
            )
        )
    if len(wide) > max_layers:
        notes.append(f"{len(wide)} layers, each point the worst of its neighbours")
    if exact:
        notes.append(f"{exact} exact reconstruction(s) (∞ dB) not drawn")
    bits = sorted(set(table["bits"]))
    for b in bits:
        fig.add_hline(
            y=ideal_sqnr_db(int(b)),
            line={"dash": "dot", "width": 1, "color": "rgba(128,128,128,0.8)"},
            annotation_text=f"ideal {b}-bit",
            annotation_position="top left",
        )
    base_layout(fig, "SQNR per layer", " · ".join(notes), height=420)
    fig.update_xaxes(title="layer (model order)", **layer_ticks(names))
    fig.update_yaxes(title="SQNR (dB), higher is better")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return fig


def layer_scheme_heatmap(
    table: pd.DataFrame, metric: str = "sqnr_db", max_rows: int = MAX_HEATMAP_ROWS
) -> go.Figure:
    """A layers × schemes heatmap of ``metric``, layers in model order from the top.

    Args:
        table: a :func:`quantviz.scan` table.
        metric: "sqnr_db" (red = low = bad) or an error column such as "rel_error" or "mse"
            (red = high = bad).
        max_rows: above this many layers, runs of neighbours are pooled to their worst.

    Returns:
        A plotly Figure.
    """
    wide = _check(table, metric)
    schemes = list(wide.columns[len(LAYER_COLUMNS) :])
    higher = higher_is_better(metric)
    values = wide[schemes].to_numpy(dtype=float)
    pooled, spans = pool_rows(values, max_rows, higher)
    names = wide["name"].tolist()
    labels = [
        names[a] if a == b else f"{names[a]} … {names[b]} ({b - a + 1} layers)" for a, b in spans
    ]
    z = np.where(np.isfinite(pooled), pooled, np.nan)
    text = [[fmt(v) for v in row] for row in pooled]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=schemes,
            y=labels,
            colorscale="RdYlGn" if higher else "RdYlGn_r",
            colorbar={"title": {"text": METRIC_TITLES[metric]}},
            text=text,
            texttemplate="%{text}" if z.size <= 400 else None,
            hovertemplate="%{y}<br>%{x}<br>" + METRIC_TITLES[metric] + " %{text}<extra></extra>",
            xgap=1,
            ygap=1 if len(labels) <= 60 else 0,
        )
    )
    note = (
        f"{len(wide)} layers, each row the worst of its neighbours"
        if len(spans) < len(wide)
        else ""
    )
    base_layout(fig, f"{METRIC_TITLES[metric]} per layer and scheme", note)
    # The scheme names sit on top, under the title: give them their own band. A floor on the
    # plot height keeps the colour bar (as long as the plot) readable for a 2-layer model.
    top = fig.layout.margin.t + HEATMAP_LABEL_BAND_PX
    bottom = fig.layout.margin.b
    plot = max(MIN_HEATMAP_PLOT_PX, 18 * len(labels) + 40)
    fig.update_layout(height=min(1200, top + bottom + plot), margin={"t": top})
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(side="top")
    return fig
