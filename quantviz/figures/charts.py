"""Charts over tables: error per scheme (from ``qv.compare``) and the bits-vs-error trade-off
(from ``quantviz.sweep.sweep_bits``, with number formats from ``qv.compare`` as points)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quantviz.figures._style import ACCENT, HIGHLIGHT, PALETTE, base_layout, fmt
from quantviz.metrics import higher_is_better

# Metrics where a larger number is better; every other metric is an error (smaller is better).
_METRIC_TITLES = {
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "mean |error|",
    "max_abs_error": "max |error|",
    "sqnr_db": "SQNR (dB)",
    "rel_error": "relative error ‖x̂ − x‖ / ‖x‖",
    "bits_per_element": "bits per element",
    "compression_ratio": "compression vs fp32",
    "num_scales": "number of scales",
}


def _check_table(table: pd.DataFrame, metric: str, needed: tuple[str, ...]) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(table).__name__}")
    if table.empty:
        raise ValueError("the table is empty: nothing to chart")
    missing = [c for c in (*needed, metric) if c not in table.columns]
    if missing:
        numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
        raise ValueError(f"table has no column {missing[0]!r}; numeric columns: {numeric}")
    if not pd.api.types.is_numeric_dtype(table[metric]):
        raise ValueError(f"metric {metric!r} is not a numeric column")


def _auto_log(values: np.ndarray) -> bool:
    """Log scale when positive values span more than two decades."""
    pos = values[np.isfinite(values) & (values > 0)]
    return pos.size > 1 and float(pos.max()) / float(pos.min()) > 100.0


def compare_bar(
    table: pd.DataFrame, metric: str = "mse", log_scale: bool | None = None
) -> go.Figure:
    """One horizontal bar per scheme, labelled with its value; the best one highlighted.

    Args:
        table: the DataFrame from ``qv.compare`` (needs ``scheme`` and ``metric`` columns).
        metric: the column to chart, e.g. ``"mse"``, ``"sqnr_db"``, ``"max_abs_error"``.
        log_scale: logarithmic value axis; None picks it when values span over 100×.

    Returns:
        A plotly Figure, rows in table order from the top. An infinite SQNR (a perfect
        reconstruction) is drawn as an empty bar labelled ``∞``.
    """
    _check_table(table, metric, ("scheme",))
    values = table[metric].to_numpy(dtype=np.float64)
    labels = table["scheme"].astype(str).tolist()
    # Repeated labels would stack onto one category; number them so each row keeps its bar.
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            labels[i] = f"{lab} ({seen[lab]})"
    finite = np.where(np.isfinite(values), values, np.nan)
    higher = higher_is_better(metric)
    best = None
    if not np.isnan(values).all():
        score = np.where(np.isnan(values), -np.inf if higher else np.inf, values)
        best = int(np.argmax(score) if higher else np.argmin(score))
    colors = [HIGHLIGHT if i == best else ACCENT for i in range(len(values))]
    text = [fmt(float(v), 3) for v in values]
    log = _auto_log(finite) if log_scale is None else bool(log_scale)
    hover = "%{y}<br>" + _METRIC_TITLES.get(metric, metric) + " %{text}"
    customdata = None
    if "bits_per_element" in table.columns:
        customdata = table["bits_per_element"].to_numpy(dtype=np.float64)
        hover += "<br>%{customdata:.3g} bits per element"
    fig = go.Figure(
        go.Bar(
            x=finite,
            y=labels,
            orientation="h",
            marker={"color": colors},
            text=text,
            textposition="outside",
            cliponaxis=False,
            customdata=customdata,
            hovertemplate=hover + "<extra></extra>",
        )
    )
    better = "higher is better" if higher else "lower is better"
    note = f"{better}; best: {labels[best]}" if best is not None else better
    base_layout(
        fig,
        f"{_METRIC_TITLES.get(metric, metric)} per scheme",
        note,
        height=140 + 34 * len(labels),
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text=_METRIC_TITLES.get(metric, metric), type="log" if log else "linear")
    fig.update_layout(margin={"r": 70})
    return fig


def pareto_front(cost: np.ndarray, quality: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and quality, by cost.

    Args:
        cost: e.g. bits per element.
        quality: the metric; non-finite entries never make the front.
        higher_is_better: whether a larger ``quality`` is better (SQNR) or worse (errors).

    Returns:
        int array of indices into the inputs, sorted by increasing cost.
    """
    q = np.asarray(quality, dtype=np.float64)
    q = q if higher_is_better else -q
    idx = np.flatnonzero(np.isfinite(q))
    # By cost, best quality first among equal costs, then keep each new best quality.
    idx = idx[np.lexsort((-q[idx], np.asarray(cost, dtype=np.float64)[idx]))]
    best = np.maximum.accumulate(q[idx]) if idx.size else q[idx]
    new_best = np.ones(idx.size, dtype=bool)
    new_best[1:] = q[idx][1:] > best[:-1]
    return idx[new_best]


def _front_trace(sweep: pd.DataFrame, metric: str) -> go.Scatter | None:
    """The Pareto front as a wide translucent band, or None with fewer than two points on it."""
    cost = sweep["bits_per_element"].to_numpy(dtype=np.float64)
    quality = sweep[metric].to_numpy(dtype=np.float64)
    front = sweep.iloc[pareto_front(cost, quality, higher_is_better(metric))]
    if len(front) < 2:
        return None
    return go.Scatter(
        x=front["bits_per_element"].to_numpy(dtype=np.float64),
        y=front[metric].to_numpy(dtype=np.float64),
        mode="lines+markers",
        name="best for its size (Pareto front)",
        line={"color": "rgba(128,128,128,0.35)", "width": 9},
        marker={"size": 15, "color": "rgba(128,128,128,0.35)"},
        text=front["scheme"].to_numpy() if "scheme" in front.columns else None,
        hovertemplate="Pareto front: %{text}<extra></extra>",
    )


FORMAT_POINTS = "number formats"
_BITS_COLORS = {4: HIGHLIGHT, 5: "#B6E880", 6: "#FF6692", 8: "#AB63FA"}
_FORMAT_SYMBOLS = (
    "star",
    "square",
    "triangle-up",
    "x",
    "pentagon",
    "hexagon",
    "cross",
    "star-diamond",
)


def _format_points(formats: pd.DataFrame, metric: str) -> tuple[go.Scatter, int]:
    """One marker per format (a preset or a format scheme), labelled with its name; the count
    of infinite (perfect) points left out."""
    y = formats[metric].to_numpy(dtype=np.float64)
    keep = np.isfinite(y)
    names = formats["scheme"].astype(str).to_numpy()[keep]
    x = formats["bits_per_element"].to_numpy(dtype=np.float64)[keep]
    symbols = [_FORMAT_SYMBOLS[i % len(_FORMAT_SYMBOLS)] for i in range(len(names))]
    # One colour per payload width, so the 4-bit and the 8-bit formats read as two families.
    bits = formats["bits"].to_numpy()[keep] if "bits" in formats.columns else np.zeros(len(names))
    colors = [_BITS_COLORS.get(int(b), HIGHLIGHT) for b in bits]
    trace = go.Scatter(
        x=x,
        y=y[keep],
        mode="markers+text",
        name=FORMAT_POINTS,
        text=names,
        textposition="top center",
        textfont={"size": 10},
        marker={"size": 11, "color": colors, "symbol": symbols, "line": {"width": 1}},
        hovertemplate="%{text}<br>%{x:.3f} bits/element<br>"
        + _METRIC_TITLES.get(metric, metric)
        + " %{y:.4g}<extra>format</extra>",
    )
    return trace, int((~keep).sum())


def tradeoff_chart(
    sweep: pd.DataFrame,
    metric: str = "sqnr_db",
    pareto: bool = False,
    formats: pd.DataFrame | None = None,
) -> go.Figure:
    """Storage cost against quality: one line per granularity (solid symmetric, dashed
    asymmetric) over bits per element, and the ideal ``6.02·b + 1.76`` dB line for SQNR;
    optionally number formats as labelled points and the Pareto front (the best quality for
    each storage budget, across lines and points) underneath.

    Args:
        sweep: the DataFrame from ``quantviz.sweep.sweep_bits``.
        metric: the y column; error metrics get a log axis.
        pareto: draw the Pareto front as a wide grey band under the lines (an extra trace named
            "best for its size (Pareto front)").
        formats: rows of ``qv.compare`` for number formats (MXFP4, NVFP4, NF4, FP8 ...), drawn
            as one trace of points named ``"number formats"``; None or empty draws none.

    Returns:
        A plotly Figure. Infinite SQNR points (perfect reconstructions) are left out and counted
        in the subtitle.
    """
    _check_table(sweep, metric, ("bits_per_element", "granularity", "symmetric", "bits"))
    has_formats = formats is not None and not formats.empty
    if has_formats:
        _check_table(formats, metric, ("bits_per_element", "scheme"))
    fig = go.Figure()
    if pareto:
        both = pd.concat([sweep, formats], ignore_index=True) if has_formats else sweep
        front = _front_trace(both, metric)
        if front is not None:
            fig.add_trace(front)
    granularities = list(dict.fromkeys(sweep["granularity"].astype(str)))
    dropped = 0
    for gi, gran in enumerate(granularities):
        color = PALETTE[gi % len(PALETTE)]
        for sym in (True, False):
            part = sweep[(sweep["granularity"].astype(str) == gran) & (sweep["symmetric"] == sym)]
            if part.empty:
                continue
            part = part.sort_values("bits_per_element")
            y = part[metric].to_numpy(dtype=np.float64)
            keep = np.isfinite(y)
            dropped += int((~keep).sum())
            names = part["scheme"] if "scheme" in part.columns else part["bits"].astype(str)
            fig.add_trace(
                go.Scatter(
                    x=part["bits_per_element"].to_numpy(dtype=np.float64)[keep],
                    y=y[keep],
                    mode="lines+markers",
                    name=f"{gran} · {'sym' if sym else 'asym'}",
                    legendgroup=gran,
                    line={"color": color, "dash": "solid" if sym else "dash", "width": 2},
                    marker={"size": 7, "symbol": "circle" if sym else "diamond"},
                    text=names.to_numpy()[keep],
                    hovertemplate="%{text}<br>%{x:.3f} bits/element<br>"
                    + _METRIC_TITLES.get(metric, metric)
                    + " %{y:.4g}<extra></extra>",
                )
            )
    if metric == "sqnr_db":
        bits = np.array(sorted(sweep["bits"].unique()), dtype=np.float64)
        fig.add_trace(
            go.Scatter(
                x=bits,
                y=6.02 * bits + 1.76,
                mode="lines",
                name="ideal 6.02·b + 1.76 dB",
                line={"color": "rgba(128,128,128,0.9)", "dash": "dot", "width": 2},
                hovertemplate="ideal at %{x:.0f} bits: %{y:.1f} dB<extra></extra>",
            )
        )
    notes = ["solid: symmetric, dashed: asymmetric; x includes the cost of scales"]
    if has_formats:
        points, lost = _format_points(formats, metric)
        fig.add_trace(points)
        dropped += lost
        notes[0] += "; marks: number formats (orange 4-bit, purple 8-bit)"
    if dropped:
        notes.append(f"{dropped} perfect (infinite SQNR) point{'s' if dropped > 1 else ''} omitted")
    base_layout(fig, f"{_METRIC_TITLES.get(metric, metric)} vs storage", "; ".join(notes), 480)
    fig.update_xaxes(title_text="bits per element (payload + scales)")
    is_error = not higher_is_better(metric) and metric not in ("bits_per_element", "num_scales")
    fig.update_yaxes(
        title_text=_METRIC_TITLES.get(metric, metric), type="log" if is_error else "linear"
    )
    fig.update_layout(legend={"title": {"text": "granularity"}}, hovermode="closest")
    return fig
