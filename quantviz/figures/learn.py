"""The Learn page's picture: real values mapped onto the integer grid."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures._common import level_stride, vertical_segments
from quantviz.figures._style import (
    ACCENT,
    CLIP_COLOR,
    CLIP_FILL,
    GRID_COLOR,
    LEVEL_COLOR,
    base_layout,
    fmt,
)
from quantviz.scheme import QuantScheme

MAX_VALUES = 64
_MAX_TICKS = 257
# Level labels are thinned for a plot this wide (a narrow Streamlit column); wider plots only
# spread them further apart. Digits of an 11 px font are about 7 px wide.
LABEL_PLOT_PX = 560
LABEL_FONT_PX = 11
LABEL_CHAR_PX = 7.0
LABEL_GAP_PX = 8.0
# Label rows below the grid: a label that would touch its neighbour goes one row down.
LABEL_ROWS_Y = (-0.15, -0.27, -0.39)


def _scalar(value: float | torch.Tensor, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must be a single number (a per-tensor {name}), got shape "
                f"{tuple(value.shape)}"
            )
        value = value.item()
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def map_to_grid(
    values: torch.Tensor, scheme: QuantScheme, scale: float, zero_point: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``q = clamp(round(x / scale + zero_point))`` and ``x̂ = scale · (q − zero_point)`` for one
    scale, in float32 exactly as :func:`quantviz.quantize` computes them."""
    s = torch.tensor(scale, dtype=torch.float32)
    scaled = torch.div(values, s)
    if not scheme.symmetric:
        scaled = scaled + zero_point
    q = scaled.round().clamp(scheme.q_min, scheme.q_max)
    return q, (q - zero_point) * s


def label_width_px(level: int) -> float:
    """Estimated width in pixels of the label of integer ``level``."""
    return len(str(int(level))) * LABEL_CHAR_PX


def _level_labels(
    q: torch.Tensor, scheme: QuantScheme, zp: int, s: float, view: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The grid levels that get a label, and the row (index into ``LABEL_ROWS_Y``) of each.

    Every level a value lands on is labelled (most-hit first); a label that would touch a kept
    neighbour goes one row down, so close levels (119 next to 127) are staggered instead of
    dropped. Then the grid's edges and the zero point, where they fit. Widths are estimated at
    a plot width of ``LABEL_PLOT_PX``; a label that cannot fit whole (past the view's edge, or
    with every row taken, which needs several hit levels within a label's width) is left to
    the hover.
    """
    px_per_unit = LABEL_PLOT_PX / (view[1] - view[0])
    hit, counts = np.unique(q.numpy().astype(np.int64), return_counts=True)
    by_hits = hit[np.argsort(-counts, kind="stable")]
    candidates = [*by_hits.tolist(), scheme.q_min, scheme.q_max, zp]
    rows: list[list[int]] = [[] for _ in LABEL_ROWS_Y]
    kept: dict[int, int] = {}
    for level in dict.fromkeys(int(c) for c in candidates):  # unique, in priority order
        px = (s * (level - zp) - view[0]) * px_per_unit
        half = label_width_px(level) / 2
        if px - half < 0 or px + half > LABEL_PLOT_PX:
            continue
        # Hit levels may take any row; the edges and zero point only the first.
        for r, row in enumerate(rows if level in hit else rows[:1]):
            clear = all(
                abs(px - (s * (k - zp) - view[0]) * px_per_unit)
                >= half + label_width_px(k) / 2 + LABEL_GAP_PX
                for k in row
            )
            if clear:
                row.append(level)
                kept[level] = r
                break
    levels = np.array(sorted(kept), dtype=np.int64)
    return levels, np.array([kept[int(v)] for v in levels], dtype=np.int64)


def number_line(
    values: torch.Tensor,
    scheme: QuantScheme,
    scale: float | torch.Tensor,
    zero_point: int | torch.Tensor = 0,
) -> go.Figure:
    """Real values on a line above, the integer grid below, an arrow from each value to the level
    it rounds to; the clipped region (beyond the grid's edges) shaded.

    Args:
        values: a few real numbers (at most 64; any shape, read in order).
        scheme: the scheme (bits, symmetry, grid).
        scale: the step between levels, one number.
        zero_point: the integer that stands for 0 (ignored for symmetric schemes).

    Returns:
        A plotly Figure about 340 px high.
    """
    if not isinstance(scheme, QuantScheme):
        raise ValueError(f"expected a QuantScheme, got {type(scheme).__name__}")
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(values, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"values must be numbers, got {values!r:.80}") from None
    v = values.detach().reshape(-1).to(torch.float32).cpu()  # at most 64 numbers
    if v.numel() == 0:
        raise ValueError("number_line needs at least one value, got none")
    if v.numel() > MAX_VALUES:
        raise ValueError(f"number_line shows at most {MAX_VALUES} values, got {v.numel()}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("number_line values must be finite (no NaN or ±inf)")
    s = _scalar(scale, "scale")
    if s <= 0:
        raise ValueError(f"scale must be positive, got {s}")
    zp = 0 if scheme.symmetric else round(_scalar(zero_point, "zero_point"))
    if not scheme.q_min <= zp <= scheme.q_max:
        raise ValueError(f"zero_point {zp} is outside the grid [{scheme.q_min}, {scheme.q_max}]")

    q, x_hat = map_to_grid(v, scheme, s, zp)
    rep_min, rep_max = s * (scheme.q_min - zp), s * (scheme.q_max - zp)
    clipped = (v < rep_min - s / 2) | (v > rep_max + s / 2)
    span_lo = min(float(v.min()), float(x_hat.min()))
    span_hi = max(float(v.max()), float(x_hat.max()))
    pad = max((span_hi - span_lo) * 0.08, s)
    view = (span_lo - pad, span_hi + pad)

    fig = go.Figure()
    # Grid levels in view, thinned to keep a 16-bit grid drawable.
    first = max(scheme.q_min, math.ceil(view[0] / s + zp))
    last = min(scheme.q_max, math.floor(view[1] / s + zp))
    if last >= first:
        stride = level_stride(last - first + 1, _MAX_TICKS)
        levels = np.arange(first, last + 1, stride)
        fig.add_trace(
            go.Scatter(
                x=s * (levels - zp),
                y=np.zeros(len(levels)),
                mode="markers",
                marker={"symbol": "line-ns-open", "size": 14, "color": LEVEL_COLOR},
                customdata=levels,
                name="integer grid levels" + ("" if stride == 1 else f" (every {stride}th)"),
                hovertemplate="q = %{customdata}<br>stands for %{x:.5g}<extra></extra>",
            )
        )
        shown, label_rows = _level_labels(q, scheme, zp, s, view)
        fig.add_trace(
            go.Scatter(
                x=s * (shown - zp),
                y=np.array(LABEL_ROWS_Y)[label_rows],
                mode="text",
                text=[str(int(t)) for t in shown],
                textfont={"size": LABEL_FONT_PX},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=v.numpy(),
            y=np.ones(v.numel()),
            mode="markers",
            marker={"size": 10, "color": [CLIP_COLOR if c else ACCENT for c in clipped.tolist()]},
            customdata=np.stack([q.numpy(), x_hat.numpy()], axis=-1),
            name="real values x",
            hovertemplate="x = %{x:.5g}<br>q = %{customdata[0]:.0f}<br>"
            "x̂ = %{customdata[1]:.5g}<extra></extra>",
        )
    )
    for xv, xh, c in zip(v.tolist(), x_hat.tolist(), clipped.tolist(), strict=True):
        fig.add_annotation(
            x=xh,
            y=0.06,
            ax=xv,
            ay=0.94,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1,
            arrowwidth=1.3,
            arrowcolor=CLIP_COLOR if c else "rgba(128,128,128,0.8)",
            text="",
        )
    # Past half a step beyond the outermost levels, rounding cannot reach the grid: clamping.
    low_cut, high_cut = rep_min - s / 2, rep_max + s / 2
    for lo, hi in ((view[0], low_cut), (high_cut, view[1])):
        if hi > lo:
            fig.add_vrect(x0=lo, x1=hi, fillcolor=CLIP_FILL, line_width=0, layer="below")
    cuts = [c for c in (low_cut, high_cut) if view[0] <= c <= view[1]]
    if cuts:
        cx, cy = vertical_segments(cuts, -0.45, 1.2)
        fig.add_trace(
            go.Scatter(
                x=cx,
                y=cy,
                mode="lines",
                line={"color": CLIP_COLOR, "dash": "dash", "width": 1.5},
                name="clip threshold (outermost level ± scale/2)",
                hoverinfo="skip",
            )
        )

    n_clip = int(clipped.sum())
    note = (
        f"scale {fmt(s)}, zero point {zp}, grid {scheme.q_min} … {scheme.q_max} stands for "
        f"[{fmt(rep_min)}, {fmt(rep_max)}]"
        + (f"; {n_clip} value{'s' if n_clip != 1 else ''} clipped (red)" if n_clip else "")
    )
    base_layout(fig, f"values → {scheme.format_name} grid", note, height=340)
    fig.update_yaxes(
        range=[-0.47, 1.25],
        tickvals=[0, 1],
        ticktext=["integer q", "real x"],
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(range=list(view), title_text="real value", gridcolor=GRID_COLOR)
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0})
    return fig
