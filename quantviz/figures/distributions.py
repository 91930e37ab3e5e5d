"""Histograms: the values with the quantization grid over them, and the error distribution."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures._common import (
    block_grid,
    block_squared_errors,
    block_values,
    check_bins,
    check_pair,
    grid_levels,
    histogram,
    title_metrics,
    vertical_segments,
    widest_block_grid,
)
from quantviz.figures._style import ACCENT, CLIP_COLOR, CLIP_FILL, LEVEL_COLOR, base_layout, fmt
from quantviz.figures.formats import (
    block_levels,
    element_name,
    level_grid_values,
    rounding_bound,
    scale_words,
    steps_note,
    widest_zero_point,
)
from quantviz.quantize import QuantResult, clipped_count

# Drawing every level of an 8-bit grid over a 100-bin histogram would grey it out.
MAX_LEVEL_LINES = 64


def _bars(counts: np.ndarray, edges: np.ndarray, name: str, color: str) -> go.Bar:
    centers = (edges[:-1] + edges[1:]) / 2
    return go.Bar(
        x=centers,
        y=counts,
        width=float(edges[1] - edges[0]),
        name=name,
        marker={"color": color, "line": {"width": 0}},
        opacity=0.85,
        customdata=np.stack([edges[:-1], edges[1:]], axis=-1),
        hovertemplate="[%{customdata[0]:.4g}, %{customdata[1]:.4g}): %{y:,.0f}<extra></extra>",
    )


def _count_axis(fig: go.Figure, top: float, log_y: bool) -> None:
    """Whole-number ticks on the count axis: plotly's automatic ticks put 0.2, 0.5 … on a chart
    of a few values, and a count of half a value means nothing.

    Args:
        fig: the histogram.
        top: the top of the axis (a little above the tallest bar).
        log_y: a logarithmic axis (ticks at 1, 2, 5, 10, 20, 50 …) instead of a linear one.
    """
    fig.update_yaxes(title_text="count", type="log" if log_y else "linear")
    if log_y:
        top = max(top, 1.0)
        n_decades = int(np.ceil(np.log10(top)))
        steps = (1, 2, 5) if n_decades <= 3 else (1,)  # 1-2-5 ticks crowd past 3 decades
        ticks = [m * 10**d for d in range(n_decades + 1) for m in steps if m * 10**d <= top]
        fig.update_yaxes(tickmode="array", tickvals=ticks)
        return
    # A 1-2-5 step of at least 1 giving about five ticks.
    raw = max(top / 5, 1.0)
    power = 10 ** int(np.floor(np.log10(raw)))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    fig.update_yaxes(range=[0, top], tickmode="linear", tick0=0, dtick=step)


def _level_formula(scheme, scale: float, zp: float) -> str:
    """How a level's value is made, in the hover text (``%{customdata}`` is the grid value)."""
    g = "%{customdata:.5g}"
    if scheme.float_zero_point:
        return f"{zp:.5g} + {scale:.5g} × {g}"
    if not scheme.symmetric and zp:
        return f"{scale:.5g} × ({g} − {zp:g})"
    return f"{scale:.5g} × {g}"


def pick_block(x: torch.Tensor, result: QuantResult, block: int | None) -> tuple[int, str]:
    """The block to draw (``block``, or the one with the most squared error) and why."""
    if result.num_scales == 1:
        return 0, ""
    if block is None:
        return int(torch.argmax(block_squared_errors(x, result))), " (most error)"
    return block, ""


def _half_steps(levels: np.ndarray, scale: float) -> tuple[float, float]:
    """Half the outermost step at each end of a block's levels: a value further than that
    beyond the outermost level is clipped (on a float grid the outer steps are the widest)."""
    if levels.size > 1:
        return float(levels[1] - levels[0]) / 2, float(levels[-1] - levels[-2]) / 2
    return abs(scale) / 2, abs(scale) / 2


def histogram_with_grid(
    x: torch.Tensor,
    result: QuantResult,
    bins: int = 100,
    log_y: bool = False,
    block: int | None = None,
    total_clipped: int | None = None,
) -> go.Figure:
    """Histogram of one block's values with that block's grid levels and clip points over it.

    For a per-tensor scheme that is every value on the one grid. For finer granularities one
    block is drawn — ``block``, or by default the block with the most squared error — since
    each block has its own grid. The grid is the format's real one: uniform for integers,
    dense near 0 and sparse near the edge for FP8/FP6/FP4/NF4. Values beyond the clip points
    (clamped to the grid's edge) are drawn in red outside the lines. At most 64 level lines of
    an integer grid are drawn (every k-th level beyond that, said in the legend).

    Args:
        x: the quantized tensor.
        result: ``qv.quantize(x, scheme)``.
        bins: number of histogram bins.
        log_y: a logarithmic count axis.
        block: which block to draw (flat index into ``result.scale``); None for the one with the
            most squared error.
        total_clipped: ``qv.clipped_count(x, result)`` when already at hand (for the note).
    """
    x = check_pair(x, result)
    bins = check_bins(bins)
    scheme = result.scheme
    idx, why = pick_block(x, result, block)
    grid = block_grid(result, idx, why)
    zp = grid.zero_point
    values = x.reshape(-1) if result.num_scales == 1 else block_values(x, result, idx)
    all_levels = block_levels(scheme, grid.scale, zp)  # non-uniform for FP and NF4 formats
    rep_min, rep_max = grid.rep_min, grid.rep_max
    half_lo, half_hi = _half_steps(all_levels, grid.scale)
    x_lo, x_hi = (float(v) for v in torch.aminmax(values))
    lo, hi = min(x_lo, rep_min), max(x_hi, rep_max)
    beyond = (values < rep_min - half_lo) | (values > rep_max + half_hi)
    counts, edges = histogram(values, bins, lo, hi)
    clip_counts = histogram(values[beyond], bins, *edges[[0, -1]])[0] if beyond.any() else None
    top = float(counts.max()) * 1.08 or 1.0
    bottom = 0.8 if log_y else 0.0

    inside = counts - clip_counts if clip_counts is not None else counts
    fig = go.Figure(_bars(inside, edges, "values", ACCENT))
    if clip_counts is not None:
        fig.add_trace(_bars(clip_counts, edges, "clipped (beyond the clip points)", CLIP_COLOR))
    levels, stride = grid_levels(result, grid, MAX_LEVEL_LINES)
    n_levels = all_levels.size
    pick = np.arange(0, n_levels, stride)
    every = "" if stride == 1 else f", every {stride}th of {n_levels}"
    what = "" if scheme.is_integer else f"{element_name(scheme)} × scale, {n_levels} values, "
    lx, ly = vertical_segments(levels, bottom, top)
    fig.add_trace(
        go.Scatter(
            x=lx,
            y=ly,
            mode="lines",
            line={"color": LEVEL_COLOR, "width": 1},
            name=f"grid levels ({what}{grid.label}{every})",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=levels,
            y=np.full(levels.size, top),
            mode="markers",
            marker={"color": LEVEL_COLOR, "size": 5, "symbol": "triangle-down"},
            customdata=level_grid_values(scheme, grid.scale)[pick],
            name="levels (hover: scale × element)",
            showlegend=False,
            hovertemplate=f"level %{{x:.5g}}<br>= {_level_formula(scheme, grid.scale, zp)}"
            + "<extra></extra>",
        )
    )
    cx, cy = vertical_segments([rep_min, rep_max], bottom, top)
    fig.add_trace(
        go.Scatter(
            x=cx,
            y=cy,
            mode="lines",
            line={"color": CLIP_COLOR, "width": 2, "dash": "dash"},
            name=f"clip points [{fmt(rep_min)}, {fmt(rep_max)}]",
            hoverinfo="skip",
        )
    )
    if x_lo < rep_min - half_lo:
        fig.add_vrect(x0=x_lo, x1=rep_min, fillcolor=CLIP_FILL, line_width=0, layer="below")
    if x_hi > rep_max + half_hi:
        fig.add_vrect(x0=rep_max, x1=x_hi, fillcolor=CLIP_FILL, line_width=0, layer="below")

    n_clip = int(beyond.sum())
    if result.num_scales > 1 and total_clipped is None:
        total_clipped = clipped_count(x, result)
    if scheme.is_integer and scheme.scale_format == "fp32":
        grid_words = f"step {fmt(grid.scale)}, zero point {fmt(zp)}"
    elif scheme.is_integer:
        grid_words = f"step {fmt(grid.scale)}, zero point {fmt(zp)}, {scale_words(scheme)}"
    else:
        grid_words = f"scale {fmt(grid.scale)}, {steps_note(all_levels)}; {scale_words(scheme)}"
    where = "" if result.num_scales == 1 else f" of this block; {total_clipped:,} in all"
    note = (
        f"{grid.label}: {grid_words}; "
        f"{n_clip:,} of {values.numel():,} values clipped ({n_clip / values.numel():.2%}){where}"
    )
    title = f"values and the {scheme.label()} grid"
    if result.num_scales > 1:
        title = f"values of block {idx} and its {scheme.label()} grid"
    base_layout(fig, title, note, height=420)
    fig.update_layout(
        bargap=0,
        barmode="stack",
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
    )
    fig.update_xaxes(title_text="value")
    _count_axis(fig, top, log_y)
    return fig


def error_histogram(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    bins: int = 100,
    result: QuantResult | None = None,
    log_y: bool = False,
    metrics: dict[str, float] | None = None,
) -> go.Figure:
    """Distribution of the error ``x̂ − x``.

    With ``result`` given, ``±scale/2`` is marked: for a per-tensor scheme every unclipped error
    lies inside it; for finer granularities the largest block's ``±scale/2`` bounds them all.

    Args:
        x: the original tensor.
        x_hat: its reconstruction, same shape.
        bins: histogram bins.
        result: the quantization behind ``x_hat`` (optional), for the ``±scale/2`` marks.
        log_y: logarithmic count axis (clipping errors are rare but large).
        metrics: ``qv.error_metrics(x, x_hat)`` when already at hand (for the note).

    Returns:
        A plotly Figure.
    """
    for name, t in (("x", x), ("x_hat", x_hat)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if x.shape != x_hat.shape:
        raise ValueError(f"shape mismatch: x is {tuple(x.shape)}, x_hat is {tuple(x_hat.shape)}")
    bins = check_bins(bins)
    x = x.detach().to(torch.float32)
    err = x_hat.detach().to(torch.float32) - x
    if metrics is not None:
        m = float(metrics["max_abs_error"])
    else:
        m = float(err.abs().max()) if err.numel() else 0.0
    half = None
    if result is not None:
        check_pair(x, result)
        block = widest_block_grid(result)
        half = rounding_bound(result, block.scale, widest_zero_point(result))
        m = max(m, half)
    m = m * 1.05 or 1.0
    counts, edges = histogram(err, bins, -m, m)
    top = float(counts.max()) * 1.08 or 1.0
    bottom = 0.8 if log_y else 0.0
    fig = go.Figure(_bars(counts, edges, "error", ACCENT))
    if half is not None:
        label = "±scale/2" if result.num_scales == 1 else "±(largest scale)/2"
        if not result.scheme.is_integer:  # a float grid's widest step is at its edge
            label = "±(widest step)/2"
        hx, hy = vertical_segments([-half, half], bottom, top)
        fig.add_trace(
            go.Scatter(
                x=hx,
                y=hy,
                mode="lines",
                line={"color": LEVEL_COLOR, "width": 2, "dash": "dash"},
                name=f"{label} = ±{fmt(half)} (rounding bound)",
                hoverinfo="skip",
            )
        )
    metrics = title_metrics(x, x_hat) if metrics is None else metrics
    note = (
        f"MSE {fmt(metrics['mse'])}, max |error| {fmt(metrics['max_abs_error'])}, "
        f"mean error {fmt(float(err.mean()))}"
    )
    base_layout(fig, "error distribution (dequantized − original)", note, height=380)
    fig.update_layout(bargap=0, legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    fig.update_xaxes(title_text="error", range=[-m, m])
    _count_axis(fig, top, log_y)
    return fig
