"""Helpers shared by the heatmap builders: traces in original-index coordinates, block
boundaries, and panel sizing.

Heatmaps are placed with ``x0/dx`` and ``y0/dy`` so that a display cell covering columns
``c0 … c0+step-1`` spans exactly ``[c0 - ½, c0 + step - ½]``: axis ticks, zoom and boundary lines
all speak in the original matrix's indices, downsampled or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures._common import cell_texts
from quantviz.figures._style import BOUNDARY_COLOR, BOUNDARY_COLOR_DENSE
from quantviz.figures.downsample import DisplayMatrix, Window
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

# Block boundaries are drawn only this far apart on screen: 1-px lines closer than that hid the
# data (a 2048×2048 per-group(32) panel became a grey barcode, 64×64 tiles a mesh 9 px wide).
MIN_LINE_GAP_PX = 12.0
# ... and, on a pooled (downsampled) view, this many display cells apart.
MIN_LINE_GAP_CELLS = 3
# Figures stretch to their container; Streamlit's wide layout in a 1400-px window with the
# sidebar open gives about this width. Line spacing is judged at this width.
FIGURE_WIDTH_PX = 1000
# The general (id-map) boundary finder for 3-D/4-D tensors materializes one int per element.
_MAX_ID_MAP = 1 << 22
SMALL_MATRIX = 16
COLORBAR = {"thickness": 12, "outlinewidth": 0}
# A second line of the note (block boundaries left out) under the downsampling note.
_NOTE_LINE_PX = 36
# Axes up to this many indices get a tick at every index.
SMALL_AXIS = 20


def join_notes(*notes: str) -> tuple[str, int]:
    """The non-empty notes as subtitle lines, and the pixels the lines after the first need."""
    lines = [n for n in notes if n]
    return "<br>".join(lines), _NOTE_LINE_PX * max(0, len(lines) - 1)


def auto_show_values(
    dm: DisplayMatrix, show_values: bool | None, max_cols: int = SMALL_MATRIX
) -> bool:
    """Whether cells print their values: as asked, else for unpooled matrices of at most
    :data:`SMALL_MATRIX` rows and ``max_cols`` columns."""
    if show_values is not None:
        return bool(show_values)
    rows, cols = dm.values.shape
    return not dm.downsampled and rows <= SMALL_MATRIX and cols <= max_cols


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
    positions: bool = True,
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
        positions: name each max-|x| pooled cell's element in the hover (sends two indices
            per cell); False names the window instead.

    Returns:
        A ``go.Heatmap``.
    """
    values = dm.values if z is None else z
    row_word, col_word = axis_words
    where = f"{row_word} %{{y}}, {col_word} %{{x}}"
    customdata = None
    note = ""
    if dm.downsampled and dm.positions and positions:
        where = f"{row_word} %{{customdata[0]}}, {col_word} %{{customdata[1]}}"
        # uint16 halves the hover payload whenever the indices fit (up to 65535 rows/columns).
        small = max(dm.matrix_shape) <= np.iinfo(np.uint16).max
        customdata = np.stack([dm.source_rows, dm.source_cols], axis=-1).astype(
            np.uint16 if small else np.int32
        )
        note = f"<br><i>largest |value| of its {dm.row_step}×{dm.col_step} window</i>"
    elif dm.downsampled:
        # A window statistic has no single position: the hover names the window's centre
        # (cell centres sit on it), which costs no per-cell data.
        where = f"{dm.row_step}×{dm.col_step} window around {row_word} %{{y}}, {col_word} %{{x}}"
        if dm.positions:
            note = "<br><i>the element of largest |original| in the window</i>"
    hover = f"{where}<br>{value_label} %{{z:{value_format}}}{note}"
    trace = go.Heatmap(
        z=values,
        x0=dm.col0 + (dm.col_step - 1) / 2,
        dx=dm.col_step,
        y0=dm.row0 + (dm.row_step - 1) / 2,
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


def _uniform_steps(shape: tuple[int, ...], gran: Granularity) -> tuple[int | None, int | None]:
    """For a 1-D or 2-D tensor: the spacing of column and row boundaries (None: no lines that
    way). Lines sit at every multiple of the spacing inside the matrix."""
    if len(shape) == 1:
        if isinstance(gran, PerChannel):
            return 1, None
        if isinstance(gran, PerGroup):
            return gran.group_size, None
        return None, None
    if isinstance(gran, PerChannel):
        return (None, 1) if gran.dim % 2 == 0 else (1, None)
    if isinstance(gran, PerGroup):
        return (None, gran.group_size) if gran.dim % 2 == 0 else (gran.group_size, None)
    if isinstance(gran, PerBlock):
        return gran.cols, gran.rows
    return None, None


def _boundaries_from_ids(shape: tuple[int, ...], gran: Granularity) -> tuple[list, list]:
    """Boundaries of a 3-D/4-D tensor's blocks in its ``shape[0] × rest`` view: a line wherever
    the block id changes between neighbouring columns (or rows) in any row (or column)."""
    grid = to_blocks(torch.empty(shape), gran).grid_shape
    ids = torch.arange(math.prod(grid), dtype=torch.int32).reshape(grid)
    ids = expand_to_elements(ids, shape, gran).reshape(shape[0], -1)
    cols = torch.nonzero((ids[:, 1:] != ids[:, :-1]).any(dim=0)).flatten() + 1
    rows = torch.nonzero((ids[1:, :] != ids[:-1, :]).any(dim=1)).flatten() + 1
    return cols.tolist(), rows.tolist()


def _min_gap(positions: list[int] | range) -> float:
    """The smallest distance between two neighbouring lines (inf for a single line)."""
    if isinstance(positions, range):
        return float(positions.step) if len(positions) > 1 else math.inf
    return float(np.diff(positions).min()) if len(positions) > 1 else math.inf


def _spaced_enough(gap: float, n: int, n_display: int, panel_px: float) -> bool:
    """Whether lines ``gap`` indices apart on an axis of ``n`` indices, shown as ``n_display``
    cells over ``panel_px`` pixels, leave the data between them readable."""
    if gap * panel_px / n < MIN_LINE_GAP_PX:
        return False
    # Pooled cells are only a few pixels wide: a line every cell or two turns into a barcode
    # even where the pixel spacing passes.
    return n_display >= n or gap * n_display / n >= MIN_LINE_GAP_CELLS


def _hidden_note(shape: tuple[int, ...], gran: Granularity) -> str:
    """What the boundaries that are not drawn would have shown, for a figure's note."""
    if len(shape) <= 2 and isinstance(gran, PerGroup):
        along = "values" if len(shape) == 1 else ("rows" if gran.dim % 2 == 0 else "columns")
        what = f"group boundaries every {gran.group_size} {along}"
    elif len(shape) <= 2 and isinstance(gran, PerChannel):
        word = "value" if len(shape) == 1 else ("row" if gran.dim % 2 == 0 else "column")
        what = f"{word} boundaries (one scale per {word})"
    elif isinstance(gran, PerBlock):
        what = f"{gran.rows}×{gran.cols} block boundaries"
    else:
        what = "block boundaries"
    return f"{what}: too dense to draw at this size"


def _inside(positions: list[int] | range, lo: int, hi: int) -> list[int] | range:
    """The positions strictly between ``lo`` and ``hi`` (a range stays a range)."""
    if isinstance(positions, range):
        if positions.step <= 0 or len(positions) == 0:
            return range(0)
        start = max(
            positions.start,
            positions.start + ((lo - positions.start) // positions.step + 1) * positions.step,
        )
        return range(start, min(hi, positions.stop), positions.step)
    return [p for p in positions if lo < p < hi]


@dataclass(frozen=True)
class BoundaryPlan:
    """Which block boundaries a heatmap panel draws.

    Attributes:
        cols: columns ``k`` of the 2-D view with a line between ``k-1`` and ``k`` (drawn at
            ``k - ½``).
        rows: rows likewise.
        note: what exists but is not drawn, for the figure's note ("" when nothing is hidden).
    """

    cols: list[int]
    rows: list[int]
    note: str = ""


def plan_boundaries(
    shape: tuple[int, ...],
    gran: Granularity,
    display_shape: tuple[int, int],
    panel_px: tuple[float, float],
    window: Window | None = None,
) -> BoundaryPlan:
    """The lines between quantization blocks that one panel can show without hiding its data.

    Lines are drawn only when neighbouring ones are at least :data:`MIN_LINE_GAP_PX` pixels (and,
    on a pooled view, :data:`MIN_LINE_GAP_CELLS` display cells) apart; otherwise none are drawn
    and the note says so. It is all or nothing: per-block tiles with only their column lines
    would read as per-group.

    Args:
        shape: the quantized tensor's shape.
        gran: its granularity.
        display_shape: ``(rows, cols)`` of the displayed (possibly pooled) matrix.
        panel_px: ``(width, height)`` of the panel in pixels (an estimate: figures stretch).
        window: the part of the 2-D view shown (None: all); only lines inside it count.

    Returns:
        A :class:`BoundaryPlan`.
    """
    if isinstance(gran, PerTensor) or num_blocks(shape, gran) <= 1:
        return BoundaryPlan([], [])
    n_rows = 1 if len(shape) == 1 else shape[0]
    n_cols = math.prod(shape) // n_rows
    cols: list[int] | range
    rows: list[int] | range
    if len(shape) <= 2:
        col_step, row_step = _uniform_steps(shape, gran)
        # Ranges, not lists: a per-column 1×10⁷ tensor must not build ten million line positions.
        cols = range(col_step, n_cols, col_step) if col_step else range(0)
        rows = range(row_step, n_rows, row_step) if row_step else range(0)
    elif math.prod(shape) <= _MAX_ID_MAP:
        cols, rows = _boundaries_from_ids(shape, gran)
    else:
        return BoundaryPlan([], [], "block boundaries not drawn: tensor too big to trace them")
    if window is not None:
        # Lines strictly inside the window; its own edges need none.
        cols = _inside(cols, window.col0, window.col1)
        rows = _inside(rows, window.row0, window.row1)
        n_rows, n_cols = window.shape
        if not cols and not rows:
            return BoundaryPlan([], [])
    disp_rows, disp_cols = display_shape
    width_px, height_px = panel_px
    fits = _spaced_enough(_min_gap(cols), n_cols, disp_cols, width_px) and _spaced_enough(
        _min_gap(rows), n_rows, disp_rows, height_px
    )
    if not fits:
        return BoundaryPlan([], [], _hidden_note(shape, gran))
    return BoundaryPlan(list(cols), list(rows))


def boundary_trace(
    cols: list[int], rows: list[int], n_rows: int, n_cols: int, window: Window | None = None
) -> go.Scatter:
    """One line trace (segments separated by gaps) for all boundaries of one panel (of the
    ``window`` of an ``n_rows × n_cols`` matrix when given)."""
    w = window or Window(0, n_rows, 0, n_cols)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for c in cols:
        xs += [c - 0.5, c - 0.5, None]
        ys += [w.row0 - 0.5, w.row1 - 0.5, None]
    for r in rows:
        xs += [w.col0 - 0.5, w.col1 - 0.5, None]
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


def panel_pixels(fig: go.Figure, height: float, top: float, bottom: float) -> tuple[float, float]:
    """Estimated ``(width, height)`` in pixels of the first subplot of ``fig``, for a figure
    ``height`` px high with those top/bottom margins, :data:`FIGURE_WIDTH_PX` wide, and the
    side margins of ``base_layout``."""
    x0, x1 = fig.layout.xaxis.domain or (0.0, 1.0)
    y0, y1 = fig.layout.yaxis.domain or (0.0, 1.0)
    return (FIGURE_WIDTH_PX - 60 - 30) * (x1 - x0), (height - top - bottom) * (y1 - y0)


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
