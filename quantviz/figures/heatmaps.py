"""Heatmaps: one matrix, the four-panel view of a quantization, and error maps side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from quantviz.figures._common import check_pair, link_axes, title_metrics
from quantviz.figures._layout import (
    COLORBAR as _COLORBAR,
)
from quantviz.figures._layout import (
    auto_show_values as _auto_show_values,
)
from quantviz.figures._layout import (
    boundary_trace,
    heatmap_trace,
    integer_ticks,
    panel_height,
    panel_pixels,
    plan_boundaries,
)
from quantviz.figures._layout import (
    join_notes as _join_notes,
)
from quantviz.figures._style import (
    ERRORS,
    base_layout,
    fmt,
    symmetric_limit,
    value_range,
)
from quantviz.figures.downsample import (
    DEFAULT_MAX_CELLS,
    Window,
    display_matrix,
)
from quantviz.figures.formats import add_code_hover
from quantviz.figures.panel_draw import clipped_trace, panel_axes, window_note
from quantviz.figures.panels import DEFAULT_CLIP, quantization_panels
from quantviz.quantize import QuantResult

# Pixels between two rows of the error grid: the upper row's tick labels (~25 px) and the lower
# row's two-line subplot title (~45 px at plotly's 16 px title font), plus air. Kept in pixels,
# not as a fraction of the figure: a fraction shrinks with short panels (wide matrices) until
# the titles sit on the tick labels.
GRID_ROW_GAP_PX = 100
_GRID_TOP_PX, _GRID_TOP_NOTE_PX, _GRID_BOTTOM_PX = 110, 140, 50


def _grid_geometry(n_rows: int, panel_px: int, top_px: int) -> tuple[int, float]:
    """Figure height and ``vertical_spacing`` for ``n_rows`` rows of ``panel_px``-high panels
    with :data:`GRID_ROW_GAP_PX` between rows, under a ``top_px`` top margin."""
    plot_px = n_rows * panel_px + (n_rows - 1) * GRID_ROW_GAP_PX
    spacing = GRID_ROW_GAP_PX / plot_px if n_rows > 1 else 0.0
    return plot_px + top_px + _GRID_BOTTOM_PX, spacing


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def matrix_heatmap(
    x: torch.Tensor,
    title: str = "",
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    colorscale: str | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
) -> go.Figure:
    """One tensor as a heatmap (the Home page preview).

    Args:
        x: tensor with 1 to 4 dims; bigger than ``max_cells`` is max-|x| pooled.
        title: figure title.
        max_cells: display bound ``(rows, cols)``.
        colorscale: plotly colour scale; default diverging around 0 when the values straddle 0,
            sequential otherwise.
        zmin: lower colour limit (default from the data).
        zmax: upper colour limit (default from the data).

    Returns:
        A plotly Figure; the reshape/downsampling note is the subtitle.
    """
    dm = display_matrix(x, max_cells)
    auto_scale, lo, hi = value_range(*_finite_range(dm.values))
    show = _auto_show_values(dm, None)
    trace = heatmap_trace(dm, name="value", show_text=show)
    trace.update(
        colorscale=colorscale or auto_scale,
        zmin=lo if zmin is None else zmin,
        zmax=hi if zmax is None else zmax,
        colorbar=_COLORBAR,
    )
    fig = go.Figure(trace)
    rows, cols = dm.values.shape
    base_layout(fig, title, dm.note, height=panel_height(rows, cols, 700) + 140)
    fig.update_xaxes(title_text="column")
    fig.update_yaxes(title_text="row")
    integer_ticks(fig, *dm.matrix_shape)
    return fig


def quantization_heatmaps(
    x: torch.Tensor,
    result: QuantResult,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    show_values: bool | None = None,
    window: Window | None = None,
    clip: float | None = DEFAULT_CLIP,
) -> go.Figure:
    """Four linked panels: original, quantized integers, dequantized and error.

    Original and dequantized share the original's colour range (``clip``: a percentile of the
    displayed cells, so one outlier does not blank the map; cells beyond it get an open square).
    At full resolution the integers use the whole grid ``q_min … q_max`` and the error ``x̂ − x``
    a diverging scale centred at 0. Big matrices are pooled per panel, each by the statistic
    that suits it (see :mod:`quantviz.figures.panels`): max-|x| for the values, mean ``|q − z|``
    for the integers, RMS for the error; the panel titles name it. Zoom and pan are shared. Block
    boundaries are drawn when they are far enough apart to leave the data readable; otherwise
    the note says where they are.

    Args:
        x: the quantized tensor (1 to 4 dims).
        result: ``qv.quantize(x, scheme)``.
        max_cells: display bound per panel.
        show_values: print values in the cells; None prints them for matrices up to 16×16.
        window: the part of the 2-D view shown (None: all of it).
        clip: colour-range percentile of the value panels, None for the full range.

    Returns:
        A plotly Figure (2×2 grid, reading order original → integers → dequantized → error).
    """
    x = check_pair(x, result)
    scheme = result.scheme
    panels = quantization_panels(x, result, max_cells=max_cells, window=window, clip=clip)
    dm_x = panels["original"].dm
    show = _auto_show_values(dm_x, show_values)
    rows, cols = dm_x.values.shape
    height, top_px = 2 * panel_height(rows, cols) + 220, 120 if dm_x.note else 90
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[p.title for p in panels.values()],
        horizontal_spacing=0.14,
        vertical_spacing=0.12,
    )
    n_rows, n_cols = dm_x.matrix_shape
    plan = plan_boundaries(
        tuple(x.shape), scheme.granularity, (rows, cols),
        panel_pixels(fig, height, top_px, 50), window,
    )  # fmt: skip
    left, right = fig.layout.xaxis.domain, fig.layout.xaxis2.domain
    top, bottom = fig.layout.yaxis.domain, fig.layout.yaxis3.domain
    bars = [  # colour bar (x, y, len) per colour axis; original and dequantized share one
        (left[1] + 0.01, 0.5, 1.0),
        (right[1] + 0.01, (top[0] + top[1]) / 2, top[1] - top[0]),
        (right[1] + 0.01, (bottom[0] + bottom[1]) / 2, bottom[1] - bottom[0]),
    ]
    axes = {"original": "coloraxis", "quantized": "coloraxis2", "dequantized": "coloraxis",
            "error": "coloraxis3"}  # fmt: skip
    layout = {}
    for i, (name, panel) in enumerate(panels.items()):
        row, col = divmod(i, 2)
        trace = heatmap_trace(
            panel.dm, z=panel.z, name=name, coloraxis=axes[name], value_label=panel.value_label,
            value_format=panel.value_format, show_text=show, positions=panel.hover_positions,
        )  # fmt: skip
        if panel.codes is not None:
            add_code_hover(trace, panel.codes)
        fig.add_trace(trace, row=row + 1, col=col + 1)
        if plan.cols or plan.rows:
            lines = boundary_trace(plan.cols, plan.rows, n_rows, n_cols, window)
            fig.add_trace(lines, row=row + 1, col=col + 1)
        if (marks := clipped_trace(panel)) is not None:
            fig.add_trace(marks, row=row + 1, col=col + 1)
        if name != "dequantized":
            bx, by, blen = bars[len(layout)]
            colorbar = {**_COLORBAR, "x": bx, "y": by, "len": blen, "title": panel.colorbar}
            layout[axes[name]] = {**panel_axes(panel), "colorbar": colorbar}
    fig.update_layout(**layout)
    metrics = title_metrics(x, result)
    title = (
        f"{scheme.label()} — MSE {fmt(metrics['mse'])}, SQNR {fmt(metrics['sqnr_db'])} dB, "
        f"{result.num_scales} scale{'s' if result.num_scales != 1 else ''}"
    )
    note, extra = _join_notes(window_note(dm_x), plan.note)
    # A boundary note grows the top margin and the figure alike, so the panels keep the size
    # the boundaries were planned for.
    final_top = (120 if note else 90) + extra
    base_layout(fig, title, note, height=height + final_top - top_px)
    fig.update_layout(margin={"t": final_top})
    link_axes(fig)
    fig.update_xaxes(title_text="column", row=2)
    fig.update_yaxes(title_text="row", col=1)
    integer_ticks(fig, n_rows, n_cols)
    return fig


def error_heatmaps_grid(
    x: torch.Tensor,
    results: Sequence[QuantResult],
    max_cells: tuple[int, int] | int = (64, 64),
    cols: int = 3,
) -> go.Figure:
    """One error map ``x̂ − x`` per scheme, side by side on one diverging scale centred at 0.

    Args:
        x: the quantized tensor.
        results: ``qv.quantize(x, scheme)`` for each scheme to compare.
        max_cells: display bound per panel.
        cols: panels per row.

    Returns:
        A plotly Figure with linked zoom; panel titles carry each scheme's label and MSE.
    """
    results = list(results)
    if not results:
        raise ValueError("error_heatmaps_grid needs at least one QuantResult, got none")
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be a positive integer, got {cols!r}")
    for res in results:
        check_pair(x, res)
    x = x.detach().to(torch.float32)
    cols = min(cols, len(results))
    n_grid_rows = -(-len(results) // cols)
    errors, titles = [], []
    for res in results:
        err = res.dequantize() - x
        errors.append(display_matrix(err, max_cells))
        titles.append(f"{res.scheme.label()}<br>MSE {fmt(title_metrics(x, res)['mse'])}")
    lim = symmetric_limit(max(float(np.abs(dm.values).max()) for dm in errors))
    rows, cols_d = errors[0].values.shape
    top = _GRID_TOP_NOTE_PX if errors[0].note else _GRID_TOP_PX
    height, spacing = _grid_geometry(n_grid_rows, panel_height(rows, cols_d, 1100 / cols), top)
    fig = make_subplots(
        rows=n_grid_rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=spacing,
    )
    n_rows, n_cols = errors[0].matrix_shape
    panel_px = panel_pixels(fig, height, top, _GRID_BOTTOM_PX)
    hidden: list[str] = []
    for i, (dm, res) in enumerate(zip(errors, results, strict=True)):
        r, c = divmod(i, cols)
        trace = heatmap_trace(
            dm,
            name=res.scheme.label(),
            coloraxis="coloraxis",
            value_label="error",
            value_format=".4~g",
        )
        fig.add_trace(trace, row=r + 1, col=c + 1)
        plan = plan_boundaries(tuple(x.shape), res.scheme.granularity, (rows, cols_d), panel_px)
        if plan.cols or plan.rows:
            lines = boundary_trace(plan.cols, plan.rows, n_rows, n_cols)
            fig.add_trace(lines, row=r + 1, col=c + 1)
        label = res.scheme.granularity.label()
        if plan.note and label not in hidden:
            hidden.append(label)
    fig.update_layout(
        coloraxis={
            "colorscale": ERRORS,
            "cmid": 0.0,
            "cmin": -lim,
            "cmax": lim,
            "colorbar": {**_COLORBAR, "title": "error"},
        }
    )
    # One short line for all panels (each panel's full note would overflow the figure's width);
    # "not drawn" covers both reasons a plan leaves lines out (too dense, tensor too big).
    left_out = f"block boundaries not drawn at this size: {', '.join(hidden)}"
    note, extra = _join_notes(errors[0].note, left_out if hidden else "")
    # As in quantization_heatmaps: a second note line adds to the margin, not the panels.
    final_top = (_GRID_TOP_NOTE_PX if note else _GRID_TOP_PX) + extra
    title = "error (dequantized − original) per scheme"
    base_layout(fig, title, note, height=height + final_top - top)
    fig.update_layout(margin={"t": final_top, "b": _GRID_BOTTOM_PX})
    link_axes(fig)
    integer_ticks(fig, n_rows, n_cols)
    return fig
