"""Drawing the panels of :mod:`quantviz.figures.panels`: one figure per panel (so a page sends
only the panels a change touched), the open squares on cells beyond the colour range, and the
invisible lattice a click or a dragged box can select."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from quantviz.figures._layout import (
    COLORBAR,
    auto_show_values,
    boundary_trace,
    heatmap_trace,
    integer_ticks,
    join_notes,
    panel_height,
    plan_boundaries,
)
from quantviz.figures._style import CLIP_MARK, ERRORS, base_layout
from quantviz.figures.downsample import DisplayMatrix
from quantviz.figures.formats import add_code_hover
from quantviz.figures.panels import PANEL_TEXT_COLS, Panel
from quantviz.granularity import Granularity


def clipped_trace(panel: Panel, max_marks: int = 2000) -> go.Scatter | None:
    """Open squares over the cells of ``panel`` beyond its colour range (None when there are
    none); at most ``max_marks`` of them, the farthest beyond first."""
    if panel.clipped is None or not panel.clipped.any():
        return None
    rr, cc = np.nonzero(panel.clipped)
    z = np.asarray(panel.z, dtype=np.float64)[rr, cc]
    beyond = np.maximum(z - panel.cmax, panel.cmin - z)
    keep = np.argsort(-beyond, kind="stable")[:max_marks]
    rr, cc, z = rr[keep], cc[keep], z[keep]
    dm = panel.dm
    return go.Scatter(
        x=dm.col0 + cc * dm.col_step + (dm.col_step - 1) / 2,
        y=dm.row0 + rr * dm.row_step + (dm.row_step - 1) / 2,
        customdata=z,
        mode="markers",
        marker={"symbol": "square-open", "size": 7, "color": CLIP_MARK, "line": {"width": 1.5}},
        name="beyond the colour range",
        hovertemplate="%{customdata:.5~g}: beyond the colour range<extra></extra>",
        showlegend=False,
    )


def panel_axes(panel: Panel, **where: int) -> dict:
    """The colour axis settings of ``panel`` (colour scale, limits, bar title)."""
    axis = {"colorscale": panel.colorscale, "cmin": panel.cmin, "cmax": panel.cmax}
    if panel.colorscale == ERRORS and panel.cmin < 0:
        axis["cmid"] = 0.0
    return axis


def target_trace(dm: DisplayMatrix, per_side: int) -> go.Scatter:
    """Invisible points on an even lattice over the shown part (at most ``per_side`` along each
    axis, at cell centres), for selection: a click selects the nearest one."""
    rows, cols = dm.values.shape
    r = np.unique(np.linspace(0, rows - 1, min(rows, per_side)).round().astype(np.int64))
    c = np.unique(np.linspace(0, cols - 1, min(cols, per_side)).round().astype(np.int64))
    rr, cc = np.meshgrid(r, c, indexing="ij")
    return go.Scatter(
        x=(dm.col0 + cc * dm.col_step + (dm.col_step - 1) / 2).ravel().astype(np.float32),
        y=(dm.row0 + rr * dm.row_step + (dm.row_step - 1) / 2).ravel().astype(np.float32),
        mode="markers",
        marker={"size": 14, "color": "rgba(0,0,0,0)"},
        name="zoom targets",
        hoverinfo="none",
        showlegend=False,
    )


def panel_figure(
    panel: Panel,
    shape: tuple[int, ...],
    granularity: Granularity,
    show_values: bool | None = None,
    click_targets: int = 0,
) -> go.Figure:
    """One panel of :func:`~quantviz.figures.panels.quantization_panels` as its own figure, so
    a page can send only the panels a change touched.

    Args:
        panel: the panel.
        shape: the quantized tensor's shape (for block boundaries).
        granularity: its granularity.
        show_values: print values in the cells; None prints them for up to 16 rows × 10
            columns of cells.
        click_targets: lay an invisible lattice of at most this many points per side over the
            panel, so a click or a dragged box selects something (plotly selects scatter
            points, never heatmap cells); 0 for none.

    Returns:
        A plotly Figure with the panel's colour bar, block boundaries where they fit, and open
        squares on cells beyond the colour range.
    """
    dm = panel.dm
    rows, cols = dm.values.shape
    height = panel_height(rows, cols, 480) + 150
    trace = heatmap_trace(
        dm,
        z=panel.z,
        name=panel.name,
        value_label=panel.value_label,
        value_format=panel.value_format,
        show_text=auto_show_values(dm, show_values, max_cols=PANEL_TEXT_COLS),
        positions=panel.hover_positions,
    )
    if panel.codes is not None:
        add_code_hover(trace, panel.codes)
    trace.update(colorbar={**COLORBAR, "title": panel.colorbar}, **_trace_colours(panel))
    fig = go.Figure(trace)
    n_rows, n_cols = dm.matrix_shape
    plan = plan_boundaries(shape, granularity, (rows, cols), (480, height - 150), dm.window)
    if plan.cols or plan.rows:
        fig.add_trace(boundary_trace(plan.cols, plan.rows, n_rows, n_cols, dm.window))
    if (marks := clipped_trace(panel)) is not None:
        fig.add_trace(marks)
    if click_targets:
        fig.add_trace(target_trace(dm, click_targets))
    note, extra = join_notes(dm.note, plan.note)
    base_layout(fig, panel.title, note, height=height + extra)
    fig.update_layout(margin={"t": (90 if note else 60) + extra})
    fig.update_xaxes(title_text="column")
    fig.update_yaxes(title_text="row")
    integer_ticks(fig, n_rows, n_cols)
    w = dm.window
    if w is not None:  # the window exactly, not plotly's padding around markers
        fig.update_xaxes(range=[w.col0 - 0.5, w.col1 - 0.5])
        fig.update_yaxes(range=[w.row1 - 0.5, w.row0 - 0.5], autorange=False)
    return fig


def _trace_colours(panel: Panel) -> dict:
    axis = panel_axes(panel)
    out = {"colorscale": axis["colorscale"], "zmin": axis["cmin"], "zmax": axis["cmax"]}
    if "cmid" in axis:
        out["zmid"] = axis["cmid"]
    return out


def window_note(dm: DisplayMatrix) -> str:
    """The original panel's note without its pooling clause: each panel's title names its own
    reduction, the note keeps what they share (reshape, zoom, the pooled size)."""
    if not dm.downsampled:
        return dm.note
    shown = dm.window.shape if dm.window else dm.matrix_shape
    head = dm.note.split("; downsampled")[0] if "; downsampled" in dm.note else ""
    pooled = (
        f"downsampled {shown[0]}×{shown[1]} → {dm.values.shape[0]}×{dm.values.shape[1]}: "
        f"each cell pools a {dm.row_step}×{dm.col_step} window"
    )
    return f"{head}; {pooled}" if head else pooled
