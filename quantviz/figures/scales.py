"""The scales (and zero points) a quantization chose, one per tensor, channel, group or block, as
they are stored: rounded to the scheme's scale format (fp16, bf16, FP8 E4M3, a power of two)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from quantviz.figures._common import link_axes
from quantviz.figures._layout import heatmap_trace, integer_ticks, panel_height
from quantviz.figures._style import ACCENT, HIGHLIGHT, INTEGERS, VALUES_SEQUENTIAL, base_layout, fmt
from quantviz.figures.downsample import display_matrix, gather_like
from quantviz.figures.formats import block_levels, scale_words
from quantviz.granularity import PerBlock, PerChannel, PerGroup
from quantviz.quantize import QuantResult

# Longer per-channel/per-group series are max-pooled to this many points.
MAX_POINTS = 2048
_BARS_UP_TO = 64
# A per-tensor result is one or two numbers: a short panel, not a chart-sized empty one.
_SINGLE_HEIGHT = 170


def _axis_word(result: QuantResult) -> str:
    gran = result.scheme.granularity
    if isinstance(gran, PerChannel):
        return {0: "row", 1: "column"}.get(gran.dim, f"index along dim {gran.dim}")
    if isinstance(gran, PerGroup):
        return "group"
    return "block"


def _grid_words(result: QuantResult) -> tuple[str, str]:
    gran = result.scheme.granularity
    if isinstance(gran, PerBlock):
        return "block row", "block column"
    if isinstance(gran, PerGroup) and gran.dim % result.scale.dim() != 0:
        return "row", "group"
    if isinstance(gran, PerGroup):
        return "group", "column"
    return "row", "column"


def _series_figure(result: QuantResult, asym: bool) -> tuple[go.Figure, str]:
    """Scales along one axis: bars for a few, a line for many (max-pooled past MAX_POINTS)."""
    scale = result.scale.reshape(-1)
    dm = display_matrix(scale, (1, MAX_POINTS))
    note = ""
    if dm.downsampled:
        note = f"max-pooled {scale.numel():,} scales to {dm.values.shape[1]:,} points"
    y = dm.values[0]
    idx = dm.source_cols[0]
    word = _axis_word(result)
    fig = make_subplots(specs=[[{"secondary_y": asym}]])
    hover = f"{word} %{{x}}<br>scale %{{y:.5g}}{_stored(result)}"
    exps = None
    if result.scheme.scale_format == "e8m0":  # a power of two: say which
        exps = np.round(np.log2(np.maximum(y, np.finfo(np.float32).tiny))).astype(np.int16)
        hover += " = 2^%{customdata}"
    hover += "<extra></extra>"
    if len(y) <= _BARS_UP_TO:
        trace = go.Bar(
            x=idx, y=y, name="scale", marker_color=ACCENT, customdata=exps, hovertemplate=hover
        )
    else:
        trace = go.Scatter(
            x=idx,
            y=y,
            mode="lines",
            name="scale",
            line={"color": ACCENT},
            customdata=exps,
            hovertemplate=hover,
        )
    fig.add_trace(trace, secondary_y=False)
    if asym:
        zp = gather_like(result.zero_point.reshape(-1), dm)[0]
        fig.add_trace(
            go.Scatter(
                x=idx,
                y=zp,
                mode="markers",
                name="zero point",
                marker={
                    "color": HIGHLIGHT,
                    "size": 8 if len(y) <= _BARS_UP_TO else 4,
                    "symbol": "diamond",
                    "opacity": 0.8,
                },
                hovertemplate=f"{word} %{{x}}<br>zero point %{{y:{_zp_format(result)}}}"
                "<extra></extra>",
            ),
            secondary_y=True,
        )
        lo, hi = float(zp.min()), float(zp.max())
        fig.update_yaxes(
            title_text="zero point",
            secondary_y=True,
            showgrid=False,
            range=[lo - 0.5, hi + 0.5],
            tickmode="linear",
            tick0=0,
            dtick=max(1, math.ceil((hi - lo + 1) / 8)) if _int_zp(result) else None,
        )
    fig.update_xaxes(title_text=word, tickformat="d")
    fig.update_yaxes(title_text="scale", secondary_y=False, rangemode="tozero")
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1.0, "xanchor": "right"}
    )
    return fig, note


def _grid_figure(result: QuantResult, asym: bool) -> tuple[go.Figure, str]:
    """Scales (and zero points) of a 2-D or deeper grid as heatmaps."""
    dm = display_matrix(result.scale)
    words = _grid_words(result)
    fig = make_subplots(
        rows=1,
        cols=2 if asym else 1,
        subplot_titles=("scale", "zero point") if asym else None,
        horizontal_spacing=0.16,
    )
    trace = heatmap_trace(dm, name="scale", coloraxis="coloraxis", axis_words=words)
    fig.add_trace(trace, row=1, col=1)
    bar = {"thickness": 12, "outlinewidth": 0}
    fig.update_layout(
        coloraxis={
            "colorscale": VALUES_SEQUENTIAL,
            "colorbar": {**bar, "title": "scale", "x": 0.42 if asym else 1.02},
        }
    )
    if asym:
        zp = gather_like(result.zero_point.to(torch.float32), dm)
        fig.add_trace(
            heatmap_trace(
                dm,
                z=zp,
                name="zero point",
                coloraxis="coloraxis2",
                value_format=_zp_format(result),
                axis_words=words,
            ),
            row=1,
            col=2,
        )
        scheme = result.scheme
        fig.update_layout(
            coloraxis2={
                "colorscale": INTEGERS,
                "cmin": scheme.q_min if _int_zp(result) else None,
                "cmax": scheme.q_max if _int_zp(result) else None,
                "colorbar": {**bar, "title": "zero point"},
            }
        )
    fig.update_yaxes(title_text=words[0])
    fig.update_xaxes(title_text=words[1])
    integer_ticks(fig, *dm.matrix_shape)
    link_axes(fig)
    rows, cols = dm.values.shape
    fig.update_layout(height=panel_height(rows, cols, 900 / (2 if asym else 1)) + 160)
    return fig, dm.note


def scales_chart(result: QuantResult, x_shape: tuple[int, ...] | torch.Size) -> go.Figure:
    """Every scale the quantization chose: bars (or a line) per channel or group, a heatmap for
    2-D grids (per-group over a matrix, per-block), zero points beside them when asymmetric.

    Args:
        result: ``qv.quantize(x, scheme)``.
        x_shape: the shape of the quantized tensor (checked against the result).

    Returns:
        A plotly Figure; the subtitle gives the spread of the scales.
    """
    if not isinstance(result, QuantResult):
        raise ValueError(f"expected a QuantResult from qv.quantize, got {type(result).__name__}")
    if tuple(x_shape) != tuple(result.q.shape):
        raise ValueError(
            f"shape mismatch: x_shape {tuple(x_shape)} but the result is for "
            f"{tuple(result.q.shape)}"
        )
    scheme = result.scheme
    asym = not scheme.symmetric
    scale = result.scale.to(torch.float32)
    lo, hi = float(scale.min()), float(scale.max())
    if result.num_scales == 1:
        s0 = float(scale.reshape(-1)[0])
        levels = block_levels(scheme, s0, float(result.zero_point.reshape(-1)[0]))
        cover = f"[{fmt(float(levels[0]))}, {fmt(float(levels[-1]))}]"
        note = f"one scale for the whole tensor; its grid covers {cover}"
    else:
        spread = f"; largest / smallest = {hi / lo:.3g}×" if lo > 0 else ""
        note = f"{result.num_scales:,} scales, from {fmt(lo)} to {fmt(hi)}{spread}"
    note = f"{note}; {_storage_note(result)}"
    grid_dims = sum(1 for n in scale.shape if n > 1)
    if result.num_scales == 1:
        fig = _single_figure(result, asym)
        height = _SINGLE_HEIGHT
    elif grid_dims <= 1:
        fig, extra = _series_figure(result, asym)
        height = 380
    else:
        fig, extra = _grid_figure(result, asym)
        height = fig.layout.height
    if result.num_scales > 1 and extra:
        # Its own line: one long line ran past a half-width column's edge and was cut off.
        note = f"{note}<br>{extra}"
    base_layout(fig, f"stored scales of {scheme.label()}", note, height=height)
    if result.num_scales == 1:
        fig.update_layout(margin={"t": 80, "b": 10})
    elif "<br>" in note:
        fig.update_layout(margin={"t": 90 + _NOTE_LINE_PX})
    return fig


_NOTE_LINE_PX = 18  # one more line of the subtitle


def _single_figure(result: QuantResult, asym: bool) -> go.Figure:
    """A per-tensor result: the scale (and zero point) as numbers, instead of a chart of one bar.

    Fixed font sizes and a domain that leaves room for each number's small label keep the
    labels inside the plot area (an auto-sized number pushed a long label up into the title).
    """
    s = float(result.scale.reshape(-1)[0])
    zp = float(result.zero_point.reshape(-1)[0])
    common = {"mode": "number", "title": {"font": {"size": 13}}}
    fig = go.Figure(
        go.Indicator(
            **common,
            value=s,
            number={"valueformat": ".5g", "font": {"size": 40}},
            title_text="scale",
            domain={"x": [0.0, 0.5] if asym else [0.0, 1.0], "y": [0.0, 0.7]},
        )
    )
    if asym:
        fig.add_trace(
            go.Indicator(
                **common,
                value=zp,
                number={"valueformat": "d" if _int_zp(result) else ".5g", "font": {"size": 40}},
                title_text="zero point",
                domain={"x": [0.5, 1.0], "y": [0.0, 0.7]},
            )
        )
    return fig


def _int_zp(result: QuantResult) -> bool:
    return not result.zero_point.is_floating_point()


def _zp_format(result: QuantResult) -> str:
    return ".0f" if _int_zp(result) else ".5g"


def _stored(result: QuantResult) -> str:
    """Hover text after a scale: how it is stored, unless it is a plain fp32 number."""
    sfmt = result.scheme.scale_format
    return "" if sfmt == "fp32" else f" (stored as {sfmt})"


def _storage_note(result: QuantResult) -> str:
    """How the scales are stored; for power-of-two scales the exponents they span, and any
    second-level (per-tensor) scale the format keeps beside them."""
    words = scale_words(result.scheme)
    if result.scheme.scale_format == "e8m0":
        pos = result.scale[result.scale > 0]
        if pos.numel():
            exps = torch.log2(pos.to(torch.float64))
            words += f": 2^{int(exps.min())} … 2^{int(exps.max())}"
    for name, value in sorted(getattr(result, "extras", {}).items()):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
            words += f"; {name.replace('_', ' ')} {fmt(float(value))}"
        elif isinstance(value, float):
            words += f"; {name.replace('_', ' ')} {fmt(value)}"
    return words
