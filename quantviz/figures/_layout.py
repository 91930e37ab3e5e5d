"""Helpers shared by the heatmap builders: traces in original-index coordinates, block
boundaries, and panel sizing.

Heatmaps are placed with ``x0/dx`` and ``y0/dy`` so that a display cell covering columns
``c0 … c0+step-1`` spans exactly ``[c0 - ½, c0 + step - ½]``: axis ticks, zoom and boundary lines
all speak in the original matrix's indices, downsampled or not.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures._common import cell_texts
from quantviz.figures._style import BOUNDARY_COLOR, BOUNDARY_COLOR_DENSE
from quantviz.figures.downsample import DisplayMatrix
from quantviz.granularity import (
    Granularity,
    PerBlock,
    PerChannel,
    PerGroup,
    PerTensor,
    expand_to_elements,
    num_blocks,
    to_blocks,
)

# More lines than this in one direction would hide the data; they are left out.
MAX_LINES = 64
# The general (id-map) boundary finder for 3-D/4-D tensors materializes one int per element.
_MAX_ID_MAP = 1 << 22
SMALL_MATRIX = 16
# Axes up to this many indices get a tick at every index.
SMALL_AXIS = 20


def heatmap_trace(
    dm: DisplayMatrix,
    *,
    name: str,
    z: np.ndarray | None = None,
    coloraxis: str | None = None,
    value_label: str = "value",
    value_format: str = ".5~g",
    show_text: bool = False,
    axis_words: tuple[str, str] = ("row", "column"),
) -> go.Heatmap:
    """A heatmap of ``dm`` (or of ``z``, a same-shaped companion) in original-index coordinates.

    Args:
        dm: the display matrix that fixes positions and hover sources.
        name: trace name, shown in the hover box.
        z: values to draw instead of ``dm.values`` (must have the same shape).
        coloraxis: a layout colour axis to share ("coloraxis", "coloraxis2", ...).
        value_label: the word before the value in the hover text.
        value_format: d3 format of the value in the hover text ("~" trims trailing zeros, so
            hover reads "-537.4", not "-537.40").
        show_text: print each cell's value in it, written by :func:`~._common.cell_text`.
        axis_words: what a row and a column are called in the hover text.

    Returns:
        A ``go.Heatmap``.
    """
    values = dm.values if z is None else z
    row_word, col_word = axis_words
    where = f"{row_word} %{{y}}, {col_word} %{{x}}"
    customdata = None
    if dm.downsampled:
        where = f"{row_word} %{{customdata[0]}}, {col_word} %{{customdata[1]}}"
        # uint16 halves the hover payload whenever the indices fit (up to 65535 rows/columns).
        small = max(dm.matrix_shape) <= np.iinfo(np.uint16).max
        customdata = np.stack([dm.source_rows, dm.source_cols], axis=-1).astype(
            np.uint16 if small else np.int32
        )
    hover = f"{where}<br>{value_label} %{{z:{value_format}}}"
    if dm.downsampled:
        hover += f"<br><i>largest |value| of its {dm.row_step}×{dm.col_step} window</i>"
    trace = go.Heatmap(
        z=values,
        x0=(dm.col_step - 1) / 2,
        dx=dm.col_step,
        y0=(dm.row_step - 1) / 2,
        dy=dm.row_step,
        customdata=customdata,
        name=name,
        hovertemplate=hover + f"<extra>{name}</extra>",
        coloraxis=coloraxis,
        xgap=0,
        ygap=0,
    )
    if show_text:
        # Text is written here, not by a d3 texttemplate: no d3 format writes -537 as "-537"
        # and 1e-7 as "1e-07" at once (".2~g" gave "-5.4e+2").
        trace.update(text=cell_texts(values), texttemplate="%{text}", textfont={"size": 11})
    return trace


def _every(length: int, step: int) -> list[int]:
    return list(range(step, length, step))


def _boundaries_small_ndim(shape: tuple[int, ...], gran: Granularity) -> tuple[list, list]:
    """Column and row boundary positions for a 1-D or 2-D tensor, found from the granularity."""
    if len(shape) == 1:
        n = shape[0]
        if isinstance(gran, PerChannel):
            return _every(n, 1), []
        if isinstance(gran, PerGroup):
            return _every(n, gran.group_size), []
        return [], []
    n_rows, n_cols = shape
    if isinstance(gran, PerChannel):
        return ([], _every(n_rows, 1)) if gran.dim % 2 == 0 else (_every(n_cols, 1), [])
    if isinstance(gran, PerGroup):
        if gran.dim % 2 == 0:
            return [], _every(n_rows, gran.group_size)
        return _every(n_cols, gran.group_size), []
    if isinstance(gran, PerBlock):
        return _every(n_cols, gran.cols), _every(n_rows, gran.rows)
    return [], []


def _boundaries_from_ids(shape: tuple[int, ...], gran: Granularity) -> tuple[list, list]:
    """Boundaries of a 3-D/4-D tensor's blocks in its ``shape[0] × rest`` view: a line wherever
    the block id changes between neighbouring columns (or rows) in any row (or column)."""
    grid = to_blocks(torch.empty(shape), gran).grid_shape
    ids = torch.arange(math.prod(grid), dtype=torch.int32).reshape(grid)
    ids = expand_to_elements(ids, shape, gran).reshape(shape[0], -1)
    cols = torch.nonzero((ids[:, 1:] != ids[:, :-1]).any(dim=0)).flatten() + 1
    rows = torch.nonzero((ids[1:, :] != ids[:-1, :]).any(dim=1)).flatten() + 1
    return cols.tolist(), rows.tolist()


def block_boundaries(
    shape: tuple[int, ...], gran: Granularity, max_lines: int = MAX_LINES
) -> tuple[list[int], list[int]]:
    """Where to draw lines between quantization blocks in the displayed 2-D view of ``shape``.

    Args:
        shape: the quantized tensor's shape.
        gran: its granularity.
        max_lines: a direction with more boundaries than this gets none (they would hide the
            data), so per-row lines appear only on small matrices.

    Returns:
        ``(columns, rows)``: indices ``k`` of the 2-D view with a boundary between ``k-1`` and
        ``k`` (the line is drawn at ``k - ½``).
    """
    if isinstance(gran, PerTensor) or num_blocks(shape, gran) <= 1:
        return [], []
    if len(shape) <= 2:
        cols, rows = _boundaries_small_ndim(shape, gran)
    elif math.prod(shape) <= _MAX_ID_MAP:
        cols, rows = _boundaries_from_ids(shape, gran)
    else:
        return [], []
    return (cols if len(cols) <= max_lines else []), (rows if len(rows) <= max_lines else [])


def boundary_trace(cols: list[int], rows: list[int], n_rows: int, n_cols: int) -> go.Scatter:
    """One line trace (segments separated by gaps) for all boundaries of one panel."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for c in cols:
        xs += [c - 0.5, c - 0.5, None]
        ys += [-0.5, n_rows - 0.5, None]
    for r in rows:
        xs += [-0.5, n_cols - 0.5, None]
        ys += [r - 0.5, r - 0.5, None]
    # Many lines get thinner and fainter so the cells between them still read.
    dense = len(cols) > 16 or len(rows) > 16
    line = {"color": BOUNDARY_COLOR_DENSE, "width": 0.8} if dense else {"color": BOUNDARY_COLOR}
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"width": 1.2, **line},
        hoverinfo="skip",
        showlegend=False,
        name="block boundaries",
    )


def panel_height(disp_rows: int, disp_cols: int, panel_width: float = 540.0) -> int:
    """A panel height in pixels that keeps cells roughly square, within 90–340 px."""
    return int(min(340.0, max(90.0, panel_width * disp_rows / max(disp_cols, 1))))


def integer_ticks(fig: go.Figure, n_rows: int, n_cols: int, **where: int) -> None:
    """One tick per index on short axes (plotly would otherwise put ticks at halves), automatic
    integer ticks on long ones; row 0 on top like a printed matrix."""
    for n, update in ((n_cols, fig.update_xaxes), (n_rows, fig.update_yaxes)):
        if n <= SMALL_AXIS:
            update(tickmode="linear", tick0=0, dtick=1, **where)
        else:
            update(tickmode="auto", tickformat="d", **where)
    fig.update_yaxes(autorange="reversed", **where)
    fig.update_xaxes(showgrid=False, zeroline=False, **where)
    fig.update_yaxes(showgrid=False, zeroline=False, **where)
