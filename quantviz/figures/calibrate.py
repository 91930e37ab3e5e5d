"""Figures of the Calibrate page: output error per method, why (activation magnitude per input
channel next to the weight error per column), the weight before and after each method's
transform, and where the output error lands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from quantviz.figures._layout import SMALL_AXIS, heatmap_trace, integer_ticks
from quantviz.figures._style import ERRORS, HIGHLIGHT, PALETTE, base_layout, fmt, symmetric_limit
from quantviz.figures.downsample import display_matrix

_TITLES = {
    "output_rel_error": "output relative error ‖ΔY‖/‖Y‖",
    "output_sqnr_db": "output SQNR (dB)",
    "output_mse": "output MSE",
    "weight_mse": "weight MSE",
    "output_rel_error_a8": "output relative error, int8 activations",
}
_COLORBAR = {"thickness": 14, "len": 0.9}
MAX_LINE_POINTS = 2048


def method_error_bars(table: pd.DataFrame, metric: str = "output_rel_error") -> go.Figure:
    """One group of bars per method, one bar per scheme; each scheme's best method outlined.

    Args:
        table: :func:`quantviz.calibrate_compare`'s DataFrame.
        metric: a numeric column, e.g. ``"output_rel_error"`` or ``"weight_mse"``.
    """
    if metric not in table.columns:
        raise ValueError(f"no column {metric!r} in the table; it has {list(table.columns)}")
    higher = metric.endswith("sqnr_db")
    fig = go.Figure()
    for i, (scheme, rows) in enumerate(table.groupby("scheme", sort=False)):
        values = rows[metric].to_numpy(dtype=np.float64)
        finite = np.where(np.isfinite(values), values, np.nan)
        best = np.nanargmax(finite) if higher else np.nanargmin(finite)
        fig.add_trace(
            go.Bar(
                x=rows["method"],
                y=finite,
                name=str(scheme),
                marker={
                    "color": PALETTE[i % len(PALETTE)],
                    "line": {
                        "color": [
                            HIGHLIGHT if k == best else "rgba(0,0,0,0)" for k in range(len(rows))
                        ],
                        "width": 3,
                    },
                },
                text=[fmt(float(v), 3) for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"%{{x}} · {scheme}<br>{_TITLES.get(metric, metric)} %{{text}}"
                "<extra></extra>",
            )
        )
    note = ("higher" if higher else "lower") + " is better; the best method per scheme is outlined"
    base_layout(fig, f"{_TITLES.get(metric, metric)} per method", note, height=420)
    fig.update_layout(barmode="group", legend={"title": {"text": "scheme"}})
    fig.update_yaxes(title_text=_TITLES.get(metric, metric))
    return fig


def _pooled(v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and values of at most ``max_points``: the largest value of each window."""
    step = max(1, -(-v.size // max_points))
    if step == 1:
        return np.arange(v.size), v
    pad = (-v.size) % step
    padded = np.concatenate([v, np.full(pad, -np.inf)]).reshape(-1, step)
    idx = padded.argmax(1) + np.arange(padded.shape[0]) * step
    return idx, v[idx]


def channel_view(
    x: torch.Tensor,
    w: torch.Tensor,
    w_hats: dict[str, torch.Tensor],
    max_points: int = MAX_LINE_POINTS,
) -> go.Figure:
    """Top: mean |X_j| per input channel; bottom: the weight error per column,
    ``mean_i (W − Ŵ)²_ij``, one line per method — outlier channels should line up with where
    the activation-aware methods spend their error budget least.

    Args:
        x: activations (tokens × in).
        w: the weight (out × in).
        w_hats: reconstruction per method name.
        max_points: wider layers are shown by window maxima (said in the subtitle).
    """
    act = x.abs().mean(0).numpy().astype(np.float64)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    idx, vals = _pooled(act, max_points)
    fig.add_trace(
        go.Bar(
            x=idx,
            y=vals,
            name="mean |X_j|",
            marker={"color": PALETTE[0]},
            hovertemplate="input channel %{x}<br>mean |x| %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for i, (name, w_hat) in enumerate(w_hats.items()):
        err = (w - w_hat).square().mean(0).numpy().astype(np.float64)
        idx, vals = _pooled(err, max_points)
        fig.add_trace(
            go.Scattergl(
                x=idx,
                y=vals,
                mode="lines",
                name=name,
                line={"color": PALETTE[(i + 1) % len(PALETTE)], "width": 1.5},
                hovertemplate=f"{name}<br>column %{{x}}<br>weight MSE %{{y:.4g}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    n = act.size
    note = f"{n} input channels" + (
        f"; wider than {max_points}: each point is the largest of its window"
        if n > max_points
        else ""
    )
    base_layout(fig, "activation magnitude per input channel vs weight error per column", note, 520)
    fig.update_yaxes(title_text="mean |X_j|", type="log", row=1, col=1)
    fig.update_yaxes(title_text="weight MSE of column", type="log", row=2, col=1)
    fig.update_xaxes(title_text="input channel j", row=2, col=1)
    if n <= SMALL_AXIS:
        fig.update_xaxes(tickmode="linear", tick0=0, dtick=1)
    return fig


def transform_heatmaps(
    w: torch.Tensor, w_transformed: torch.Tensor, method: str, max_cells: int = 96
) -> go.Figure:
    """The weight before and after a method's transform (``W H`` for rotation, ``W · s`` for
    the scaling methods), side by side on one diverging colour scale centred at 0, so a
    rotation's smeared outliers and a scaling's moved ones read directly."""
    panels = [display_matrix(w, max_cells), display_matrix(w_transformed, max_cells)]
    titles = ["W (original)", f"W after {method}'s transform"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    lim = symmetric_limit(max(float(np.abs(dm.values).max()) for dm in panels))
    for k, dm in enumerate(panels):
        trace = heatmap_trace(
            dm, name=titles[k], coloraxis="coloraxis", axis_words=("output", "input")
        )
        fig.add_trace(trace, row=1, col=k + 1)
    fig.update_layout(
        coloraxis={
            "colorscale": ERRORS,
            "cmid": 0.0,
            "cmin": -lim,
            "cmax": lim,
            "colorbar": {**_COLORBAR, "title": "weight"},
        }
    )
    amax = [float(w.abs().max()), float(w_transformed.abs().max())]
    note = f"max |W| {fmt(amax[0])} → {fmt(amax[1])}" + (
        f"; {panels[0].note}" if panels[0].note else ""
    )
    base_layout(fig, f"the weight {method} quantizes", note, height=460)
    integer_ticks(fig, *panels[0].matrix_shape)
    fig.update_yaxes(title_text="output channel", row=1, col=1)
    fig.update_xaxes(title_text="input channel")
    return fig


def output_error_heatmap(
    w: torch.Tensor,
    w_hat: torch.Tensor,
    x: torch.Tensor,
    method: str,
    max_tokens: int = 256,
    max_cells: int = 128,
) -> go.Figure:
    """``ΔY = X (W − Ŵ)ᵀ`` for the first ``max_tokens`` tokens (tokens × output channels) on a
    diverging scale centred at 0."""
    xs = x[:max_tokens]
    dy = xs @ (w - w_hat).t()
    dm = display_matrix(dy, max_cells)
    lim = symmetric_limit(float(np.abs(dm.values).max()))
    trace = heatmap_trace(
        dm, name=method, value_label="output error", axis_words=("token", "output channel")
    )
    trace.update(colorscale=ERRORS, zmid=0.0, zmin=-lim, zmax=lim, colorbar=_COLORBAR)
    fig = go.Figure(trace)
    shown = (
        f"first {xs.shape[0]} of {x.shape[0]} tokens"
        if x.shape[0] > xs.shape[0]
        else f"{x.shape[0]} tokens"
    )
    note = shown + (f"; {dm.note}" if dm.note else "")
    base_layout(fig, f"output error X Wᵀ − X Ŵᵀ · {method}", note, height=460)
    integer_ticks(fig, *dm.matrix_shape)
    fig.update_yaxes(title_text="token")
    fig.update_xaxes(title_text="output channel")
    return fig
