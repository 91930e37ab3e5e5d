"""The Learn page's number formats picture: the same values on an integer grid, on a float grid
(dense near 0, sparse near the maximum) and on a float grid whose shared scale is a power of two,
each as a number line with an arrow from every value to the level it is stored as."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures._style import (
    ACCENT,
    CLIP_COLOR,
    CLIP_FILL,
    GRID_COLOR,
    LEVEL_COLOR,
    base_layout,
    fmt,
)
from quantviz.figures.formats import block_levels, element_name, level_grid_values, steps_note
from quantviz.metrics import error_metrics
from quantviz.quantize import QuantResult, quantize
from quantviz.scheme import QuantScheme

MAX_VALUES = 64


def line_values(values: torch.Tensor | list[float]) -> torch.Tensor:
    """``values`` as a flat float32 tensor of 1 to 64 finite numbers.

    Raises:
        ValueError: no values, more than 64, or a NaN/inf among them.
    """
    v = torch.as_tensor(values, dtype=torch.float32).detach().reshape(-1).cpu()
    if v.numel() == 0:
        raise ValueError("the number line needs at least one value, got none")
    if v.numel() > MAX_VALUES:
        raise ValueError(f"the number line shows at most {MAX_VALUES} values, got {v.numel()}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("the number line's values must be finite (no NaN or ±inf)")
    return v


def one_scale(values: torch.Tensor, scheme: QuantScheme) -> QuantResult:
    """``values`` quantized with ``scheme`` under one shared scale (per tensor), by the core."""
    if scheme.granularity.label() != "per-tensor":
        raise ValueError(f"the number line shows one shared scale, not {scheme.granularity}")
    return quantize(line_values(values), scheme)


def _span(v: torch.Tensor, scheme: QuantScheme) -> tuple[float, float]:
    res = one_scale(v, scheme)
    levels = block_levels(
        scheme, float(res.scale.reshape(-1)[0]), float(res.zero_point.reshape(-1)[0])
    )
    return min(float(v.min()), float(levels[0])), max(float(v.max()), float(levels[-1]))


def shared_view(
    values: torch.Tensor | list[float], schemes: list[QuantScheme]
) -> tuple[float, float]:
    """One x range that shows the values and every grid of ``schemes`` (each under its one
    shared scale), with a 5% margin: number lines drawn over it line up."""
    v = line_values(values)
    spans = [_span(v, s) for s in schemes]
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    pad = (hi - lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def format_number_line(
    values: torch.Tensor | list[float],
    scheme: QuantScheme,
    view: tuple[float, float] | None = None,
) -> go.Figure:
    """The values on a line above, every level of ``scheme``'s grid under one shared scale
    below (spaced as the format spaces them), and an arrow from each value to its level; the
    region past the outermost level, where values saturate, shaded.

    Args:
        values: 1 to 64 real numbers (any shape, read in order).
        scheme: a per-tensor scheme of any element and scale format.
        view: the x range (e.g. :func:`shared_view` of several lines); None fits this one.

    Returns:
        A plotly Figure about 300 px high; the subtitle gives the stored scale, the spacing of
        the levels, the MSE and how many values saturated.
    """
    v = line_values(values)
    res = one_scale(v, scheme)
    x_hat = res.dequantize().reshape(-1)
    scale = float(res.scale.reshape(-1)[0])
    zp = float(res.zero_point.reshape(-1)[0])
    levels = block_levels(scheme, scale, zp)
    outer_lo = (levels[1] - levels[0]) / 2 if levels.size > 1 else scale / 2
    outer_hi = (levels[-1] - levels[-2]) / 2 if levels.size > 1 else scale / 2
    clipped = (v < levels[0] - outer_lo) | (v > levels[-1] + outer_hi)
    if view is None:
        span_lo = min(float(v.min()), float(levels[0]))
        span_hi = max(float(v.max()), float(levels[-1]))
        pad = (span_hi - span_lo) * 0.05 or 1.0
        view = (span_lo - pad, span_hi + pad)

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=levels,
            y=np.zeros(levels.size),
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 14, "color": LEVEL_COLOR},
            customdata=level_grid_values(scheme, scale),
            name=f"{element_name(scheme)} levels × scale",
            hovertemplate=f"{fmt(scale, 5)} × %{{customdata:.5g}} = %{{x:.5g}}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=v.numpy(),
            y=np.ones(v.numel()),
            mode="markers",
            marker={"size": 10, "color": [CLIP_COLOR if c else ACCENT for c in clipped.tolist()]},
            customdata=x_hat.numpy(),
            name="real values x",
            hovertemplate="x = %{x:.5g}<br>stored as %{customdata:.5g}<extra></extra>",
        )
    )
    for xv, xh, c in zip(v.tolist(), x_hat.tolist(), clipped.tolist(), strict=True):
        fig.add_annotation(
            x=xh,
            y=0.08,
            ax=xv,
            ay=0.92,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowwidth=1.2,
            arrowcolor=CLIP_COLOR if c else "rgba(128,128,128,0.8)",
            text="",
        )
    for lo, hi in ((view[0], levels[0] - outer_lo), (levels[-1] + outer_hi, view[1])):
        if hi > lo:
            fig.add_vrect(x0=lo, x1=hi, fillcolor=CLIP_FILL, line_width=0, layer="below")
    mse = error_metrics(v, x_hat)["mse"]
    n_clip = int(clipped.sum())
    note = (
        f"scale {fmt(scale, 5)} (stored as {scheme.scale_format}); {steps_note(levels)}; "
        f"MSE {fmt(mse)}" + (f"; {n_clip} saturated (red)" if n_clip else "")
    )
    base_layout(fig, f"values → {scheme.label()}", note, height=300)
    fig.update_yaxes(
        range=[-0.3, 1.25],
        tickvals=[0, 1],
        ticktext=["stored", "real x"],
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(range=list(view), title_text="real value", gridcolor=GRID_COLOR)
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.35, "x": 0})
    return fig


def power_of_two_cost(values: torch.Tensor | list[float], scheme: QuantScheme) -> dict[str, float]:
    """What rounding the shared scale to a power of two (E8M0) costs ``values`` under
    ``scheme``: the MSE with an fp32 scale and with an e8m0 one, and both scales.

    Returns:
        ``{"scale_fp32", "scale_e8m0", "mse_fp32", "mse_e8m0"}``.
    """
    v = line_values(values)
    out: dict[str, float] = {}
    for sfmt in ("fp32", "e8m0"):
        res = one_scale(v, replace(scheme, scale_format=sfmt))
        out[f"scale_{sfmt}"] = float(res.scale.reshape(-1)[0])
        out[f"mse_{sfmt}"] = error_metrics(v, res.dequantize().reshape(-1))["mse"]
    return out
