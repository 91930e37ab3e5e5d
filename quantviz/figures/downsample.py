"""Turn any 1–4-D tensor into a small 2-D matrix for display, keeping outliers visible.

Big matrices are reduced by max-|x| pooling: every display cell holds the signed value of largest
magnitude in its window, so a single spike in a 4096×4096 matrix still shows (an average would
wash it out). The position of the chosen element is kept for hover text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_MAX_CELLS: tuple[int, int] = (128, 128)
MAX_DIMS = 4


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


def display_matrix(
    x: torch.Tensor | np.ndarray, max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS
) -> DisplayMatrix:
    """``x`` as a 2-D matrix of at most ``max_cells``, max-|x| pooled when bigger.

    Args:
        x: tensor with 1 to 4 dims (see :func:`as_matrix` for how it becomes 2-D).
        max_cells: ``(rows, cols)`` bound of the displayed matrix, or one int for both.

    Returns:
        A :class:`DisplayMatrix`; ``values`` keeps the sign of each window's extreme element, so
        ``max |values| == max |x|``.

    Raises:
        ValueError: for inputs :func:`as_matrix` refuses or a bad ``max_cells``.
    """
    max_rows, max_cols = check_max_cells(max_cells)
    m, note = as_matrix(x)
    n_rows, n_cols = m.shape
    row_step, col_step = math.ceil(n_rows / max_rows), math.ceil(n_cols / max_cols)
    shape = tuple(int(n) for n in x.shape)
    if row_step == 1 and col_step == 1:
        rows = np.broadcast_to(np.arange(n_rows, dtype=np.int32)[:, None], (n_rows, n_cols))
        cols = np.broadcast_to(np.arange(n_cols, dtype=np.int32)[None, :], (n_rows, n_cols))
        return DisplayMatrix(
            m.cpu().numpy().copy(), 1, 1, shape, False, note, (n_rows, n_cols), rows, cols
        )
    rows_t, cols_t = pool_positions(m, row_step, col_step)
    # Only the pooled cells leave the tensor's device.
    values = m[rows_t, cols_t].cpu().numpy()
    pooled = (
        f"downsampled {n_rows}×{n_cols} → {values.shape[0]}×{values.shape[1]} by max-|x| pooling "
        f"(each cell: the value of largest magnitude in a {row_step}×{col_step} window)"
    )
    return DisplayMatrix(
        values=values,
        row_step=row_step,
        col_step=col_step,
        original_shape=shape,
        downsampled=True,
        note=f"{note}; {pooled}" if note else pooled,
        matrix_shape=(n_rows, n_cols),
        source_rows=rows_t.to(torch.int32).cpu().numpy(),
        source_cols=cols_t.to(torch.int32).cpu().numpy(),
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
    if not dm.downsampled:
        return m.cpu().numpy().copy()
    rows = torch.from_numpy(dm.source_rows.astype(np.int64)).to(m.device)
    cols = torch.from_numpy(dm.source_cols.astype(np.int64)).to(m.device)
    return m[rows, cols].cpu().numpy()
