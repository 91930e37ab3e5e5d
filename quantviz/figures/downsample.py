"""Turn any 1–4-D tensor into a small 2-D matrix for display, with a reduction that suits it.

Big matrices are pooled window by window, and which statistic a cell holds is chosen per panel
(:data:`REDUCTIONS`):

- ``"absmax"``: the signed value of largest magnitude in the window, so a single spike in a
  4096×4096 matrix still shows (an average would wash it out); the position of the chosen element
  is kept for hover text. Right for values: the original and its reconstruction.
- ``"rms"``: the root mean square of the window. Right for the error, whose size is what matters
  (max-|e| of any big window is ±scale/2 everywhere: a flat checkerboard).
- ``"mean_abs"``: the mean magnitude, e.g. of the integer codes ``|q − z|``: how much of the grid
  the window's values use.

A :class:`Window` picks a part of the matrix first (the zoom); its cells keep their indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_MAX_CELLS: tuple[int, int] = (128, 128)
MAX_DIMS = 4
# How each reduction is named in notes and hover text.
REDUCTIONS: dict[str, str] = {"absmax": "max-|x|", "rms": "RMS", "mean_abs": "mean |x|"}


@dataclass(frozen=True)
class Window:
    """A rectangle of a matrix's 2-D view: rows ``row0 … row1 - 1``, columns ``col0 … col1 - 1``.

    Raises:
        ValueError: negative starts or an empty rectangle.
    """

    row0: int
    row1: int
    col0: int
    col1: int

    def __post_init__(self) -> None:
        for name in ("row0", "row1", "col0", "col1"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"Window.{name} must be an integer, got {v!r}")
        if self.row0 < 0 or self.col0 < 0 or self.row1 <= self.row0 or self.col1 <= self.col0:
            raise ValueError(f"not a window of a matrix: {self}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.row1 - self.row0, self.col1 - self.col0

    def fit(self, n_rows: int, n_cols: int) -> Window:
        """This window moved and cut so it lies inside an ``n_rows × n_cols`` matrix (its size
        kept where the matrix allows)."""
        h, w = min(self.shape[0], n_rows), min(self.shape[1], n_cols)
        r0, c0 = min(self.row0, n_rows - h), min(self.col0, n_cols - w)
        return Window(r0, r0 + h, c0, c0 + w)

    def text(self) -> str:
        """``"rows 0–127, columns 256–383"`` (inclusive, as people count)."""
        return f"rows {self.row0}–{self.row1 - 1}, columns {self.col0}–{self.col1 - 1}"

    def slug(self) -> str:
        """``"0-128,256-384"``: the URL form, read back by :func:`parse_window`."""
        return f"{self.row0}-{self.row1},{self.col0}-{self.col1}"


def parse_window(text: str) -> Window:
    """The window written by :meth:`Window.slug` (``"r0-r1,c0-c1"``, ends exclusive).

    Raises:
        ValueError: text of any other form, naming it.
    """
    try:
        rows, cols = text.split(",")
        r0, r1 = (int(v) for v in rows.split("-"))
        c0, c1 = (int(v) for v in cols.split("-"))
    except ValueError:
        raise ValueError(f"a window is written 'row0-row1,col0-col1', got {text!r}") from None
    return Window(r0, r1, c0, c1)


def window_around(row: int, col: int, size: tuple[int, int], n_rows: int, n_cols: int) -> Window:
    """A ``size`` window centred on ``(row, col)`` as near as the matrix's edges allow."""
    h, w = min(size[0], n_rows), min(size[1], n_cols)
    r0 = min(max(0, row - h // 2), n_rows - h)
    c0 = min(max(0, col - w // 2), n_cols - w)
    return Window(r0, r0 + h, c0, c0 + w)


@dataclass(frozen=True)
class DisplayMatrix:
    """A tensor as a display-sized 2-D matrix.

    Attributes:
        values: float32 2-D array, at most ``max_cells`` in shape.
        row_step: rows of the 2-D view behind one display row (1 when not downsampled).
        col_step: columns of the 2-D view behind one display column.
        original_shape: the input tensor's shape.
        downsampled: whether pooling was applied.
        note: human-readable notes on reshaping and downsampling ("" when shown as is).
        matrix_shape: ``(rows, cols)`` of the 2-D view before pooling.
        source_rows: int array like ``values``: the 2-D-view row of each shown element.
        source_cols: int array like ``values``: its column.
        reduction: the statistic of each window (a key of :data:`REDUCTIONS`).
        window: the part of the 2-D view shown (the whole of it when not zoomed).
    """

    values: np.ndarray
    row_step: int
    col_step: int
    original_shape: tuple[int, ...]
    downsampled: bool
    note: str
    matrix_shape: tuple[int, int]
    source_rows: np.ndarray
    source_cols: np.ndarray
    reduction: str = "absmax"
    window: Window | None = None

    @property
    def row0(self) -> int:
        """The 2-D-view row of the first displayed row (0 unless zoomed)."""
        return self.window.row0 if self.window else 0

    @property
    def col0(self) -> int:
        return self.window.col0 if self.window else 0

    @property
    def positions(self) -> bool:
        """Whether each cell is one element (``source_rows/cols`` say which), not a statistic."""
        return not self.downsampled or self.reduction == "absmax"


def _shape_text(shape: tuple[int, ...] | torch.Size) -> str:
    return "×".join(str(n) for n in shape)


def check_max_cells(max_cells: tuple[int, int] | int) -> tuple[int, int]:
    """Validate ``max_cells`` (an int means a square bound) and return it as ``(rows, cols)``."""
    if isinstance(max_cells, int) and not isinstance(max_cells, bool):
        max_cells = (max_cells, max_cells)
    try:
        rows, cols = max_cells
    except (TypeError, ValueError):
        raise ValueError(f"max_cells must be (rows, cols), got {max_cells!r}") from None
    for v in (rows, cols):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"max_cells must be two positive integers, got {max_cells!r}")
    return rows, cols


def as_matrix(x: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, str]:
    """The 2-D view of ``x`` that every figure shows, and a note saying how it was formed.

    1-D becomes one row; 3-D and 4-D become ``shape[0] × (product of the rest)``.

    Args:
        x: a real tensor (or numpy array) with 1 to 4 dims; integers and bools are allowed.

    Returns:
        ``(matrix, note)`` with ``matrix`` a 2-D float32 tensor (a view when possible).

    Raises:
        ValueError: for non-tensors, complex values, 0-d, more than 4 dims, or no elements.
    """
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise ValueError(f"cannot display an array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.is_complex():
        raise ValueError(f"cannot display a complex tensor (dtype {x.dtype})")
    if not 1 <= x.dim() <= MAX_DIMS:
        raise ValueError(
            f"can display tensors with 1 to {MAX_DIMS} dims, got {x.dim()}-D shape {tuple(x.shape)}"
        )
    if x.numel() == 0:
        raise ValueError(f"cannot display an empty tensor of shape {tuple(x.shape)}")
    x = x.detach()
    if x.dtype != torch.float32:
        x = x.to(torch.float32)
    if x.dim() == 1:
        return x.reshape(1, -1), f"1-D tensor of {x.shape[0]} shown as one row"
    if x.dim() == 2:
        return x, ""
    rest = math.prod(x.shape[1:])
    note = f"{_shape_text(x.shape)} tensor shown as {x.shape[0]}×{rest} (shape[0] × the rest)"
    return x.reshape(x.shape[0], -1), note


def pool_positions(
    m: torch.Tensor, row_step: int, col_step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each ``row_step × col_step`` window of ``m`` has its largest ``|value|``.

    NaN loses to every number (it is chosen only when a window holds nothing else), ±inf wins.

    Returns:
        ``(rows, cols)``: int64 tensors of the display shape with positions in ``m``.
    """
    n_rows, n_cols = m.shape
    out_r, out_c = math.ceil(n_rows / row_step), math.ceil(n_cols / col_step)
    key = m.abs().nan_to_num_(nan=-1.0, posinf=math.inf)
    # Padding the key (not the values) with -inf means pads are never chosen: every partial
    # window still holds at least one real element.
    pad = (0, out_c * col_step - n_cols, 0, out_r * row_step - n_rows)
    if any(pad):
        key = torch.nn.functional.pad(key, pad, value=-math.inf)
    # Two reductions over a strided view (columns within a window, then rows) avoid copying the
    # whole matrix into window-major order.
    windows = key.reshape(out_r, row_step, out_c, col_step)
    col_best, col_idx = windows.max(dim=3)  # (out_r, row_step, out_c)
    row_in = col_best.argmax(dim=1, keepdim=True)  # (out_r, 1, out_c)
    col_in = col_idx.gather(1, row_in).squeeze(1)
    rows = torch.arange(out_r, device=m.device).unsqueeze(1) * row_step + row_in.squeeze(1)
    cols = torch.arange(out_c, device=m.device).unsqueeze(0) * col_step + col_in
    return rows, cols


def pool_values(m: torch.Tensor, row_step: int, col_step: int, reduction: str) -> torch.Tensor:
    """The ``reduction`` (``"rms"`` or ``"mean_abs"``) of every ``row_step × col_step`` window
    of ``m``; windows cut by the matrix's edge average over the elements they hold.

    The RMS is taken of ``m / max|m|`` and scaled back, so squares neither overflow (|x| near
    1e20) nor underflow (near 1e-22) in float32.

    Returns:
        float32 tensor of the display shape.
    """
    if reduction not in ("rms", "mean_abs"):
        raise ValueError(f"pool_values reduces by 'rms' or 'mean_abs', got {reduction!r}")
    a = m.abs()
    peak = float(a.max()) if a.numel() else 0.0
    if reduction == "rms" and math.isfinite(peak) and peak > 0:
        a = (a / peak).square_()
    # ceil_mode keeps the partial windows at the edges; avg_pool2d divides those by the number
    # of elements they actually hold.
    pooled = torch.nn.functional.avg_pool2d(a[None, None], (row_step, col_step), ceil_mode=True)[
        0, 0
    ]
    if reduction == "rms":
        scale = peak if math.isfinite(peak) and peak > 0 else 1.0
        pooled = pooled.sqrt_().mul_(scale)
    return pooled


def display_matrix(
    x: torch.Tensor | np.ndarray,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    reduction: str = "absmax",
    window: Window | None = None,
) -> DisplayMatrix:
    """``x`` (or a ``window`` of it) as a 2-D matrix of at most ``max_cells``, pooled when bigger.

    Args:
        x: tensor with 1 to 4 dims (see :func:`as_matrix` for how it becomes 2-D).
        max_cells: ``(rows, cols)`` bound of the displayed matrix, or one int for both.
        reduction: what a pooled cell holds, a key of :data:`REDUCTIONS`: ``"absmax"`` keeps
            the sign of each window's extreme element (so ``max |values| == max |x|``),
            ``"rms"`` and ``"mean_abs"`` are non-negative window statistics.
        window: the part of the 2-D view to show; its cells keep their indices in ``x``.

    Returns:
        A :class:`DisplayMatrix` whose note names the reduction when it pooled.

    Raises:
        ValueError: for inputs :func:`as_matrix` refuses, a bad ``max_cells``, an unknown
            reduction or a window that does not lie inside the matrix.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; choose from {list(REDUCTIONS)}")
    max_rows, max_cols = check_max_cells(max_cells)
    m, note = as_matrix(x)
    full_rows, full_cols = m.shape
    shape = tuple(int(n) for n in x.shape)
    r0 = c0 = 0
    if window is not None:
        if window.row1 > full_rows or window.col1 > full_cols:
            raise ValueError(f"{window} does not fit a {full_rows}×{full_cols} matrix")
        m = m[window.row0 : window.row1, window.col0 : window.col1]
        r0, c0 = window.row0, window.col0
        zoom = f"zoomed to {window.text()}"
        note = f"{note}; {zoom}" if note else zoom
    n_rows, n_cols = m.shape
    row_step, col_step = math.ceil(n_rows / max_rows), math.ceil(n_cols / max_cols)
    common = {
        "original_shape": shape,
        "matrix_shape": (full_rows, full_cols),
        "reduction": reduction,
        "window": window,
    }
    if row_step == 1 and col_step == 1:
        rows = np.broadcast_to(np.arange(r0, r0 + n_rows, dtype=np.int32)[:, None], m.shape)
        cols = np.broadcast_to(np.arange(c0, c0 + n_cols, dtype=np.int32)[None, :], m.shape)
        return DisplayMatrix(
            m.cpu().numpy().copy(), 1, 1, downsampled=False, note=note, source_rows=rows,
            source_cols=cols, **common,
        )  # fmt: skip
    if reduction == "absmax":
        rows_t, cols_t = pool_positions(m, row_step, col_step)
        # Only the pooled cells leave the tensor's device.
        values = m[rows_t, cols_t].cpu().numpy()
        rows_t, cols_t = rows_t + r0, cols_t + c0
        each = f"the value of largest magnitude in a {row_step}×{col_step} window"
    else:
        values = pool_values(m, row_step, col_step, reduction).cpu().numpy()
        out_r, out_c = values.shape
        rows_t = (torch.arange(out_r) * row_step + r0)[:, None].expand(out_r, out_c)
        cols_t = (torch.arange(out_c) * col_step + c0)[None, :].expand(out_r, out_c)
        each = f"the {REDUCTIONS[reduction]} of a {row_step}×{col_step} window"
    pooled = (
        f"downsampled {n_rows}×{n_cols} → {values.shape[0]}×{values.shape[1]} by "
        f"{REDUCTIONS[reduction]} pooling (each cell: {each})"
    )
    return DisplayMatrix(
        values=values,
        row_step=row_step,
        col_step=col_step,
        downsampled=True,
        note=f"{note}; {pooled}" if note else pooled,
        source_rows=rows_t.to(torch.int32).cpu().numpy(),
        source_cols=cols_t.to(torch.int32).cpu().numpy(),
        **common,
    )


def gather_like(x: torch.Tensor | np.ndarray, dm: DisplayMatrix) -> np.ndarray:
    """The elements of ``x`` (same shape as ``dm``'s input) at the positions ``dm`` shows.

    Used to show a companion matrix cell-for-cell with another one, e.g. the integer that encodes
    each displayed dequantized value.
    """
    m, _ = as_matrix(x)
    if tuple(m.shape) != dm.matrix_shape:
        raise ValueError(
            f"shape mismatch: {tuple(x.shape)} does not match the displayed {dm.original_shape}"
        )
    if not dm.positions:
        raise ValueError(f"a {dm.reduction}-pooled matrix shows no single elements to gather")
    if not dm.downsampled:
        w = dm.window
        part = m if w is None else m[w.row0 : w.row1, w.col0 : w.col1]
        return part.cpu().numpy().copy()
    rows = torch.from_numpy(dm.source_rows.astype(np.int64)).to(m.device)
    cols = torch.from_numpy(dm.source_cols.astype(np.int64)).to(m.device)
    return m[rows, cols].cpu().numpy()
