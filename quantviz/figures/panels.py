"""The four panels of a quantization — original, integers, dequantized, error — as data: which
reduction each one pools by, its colour range, and which cells lie beyond that range.

Each panel is built on its own so that a page can rebuild only what a change touches: the
original depends on the tensor, the window and the colour range, never on the scheme.

Reductions, chosen by looking at real weights (all-MiniLM-L6-v2's 30522×384 embeddings and
generated 4096² tensors):

- original and dequantized: max-|x| (an outlier stays visible);
- integers: mean ``|q − z|``, the share of the grid the window's values use (the code of the
  max-|x| element was ±q_max in nearly every window under per-row or per-group: two-colour noise;
  the mean shows which rows, columns and groups an outlier squeezes into a few codes);
- error: RMS (max-|e| is ±scale/2 in every big window: a flat checkerboard).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from quantviz.figures._style import ERRORS, INTEGERS, value_range
from quantviz.figures.downsample import (
    DEFAULT_MAX_CELLS,
    DisplayMatrix,
    Window,
    check_max_cells,
    display_matrix,
    gather_like,
)
from quantviz.granularity import expand_to_elements
from quantviz.quantize import QuantResult

# Colour range choices for the value panels: None is the full range, a number a percentile of
# the displayed cells' magnitudes.
DEFAULT_CLIP = 99.9
ERROR_SEQUENTIAL = "Reds"
# A panel is half a page wide: 4-significant-digit values fit in up to 10 columns of cells.
PANEL_TEXT_COLS = 10
# Values beyond the colour range by less than this (relative) are float noise, not clipping.
_CLIP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Panel:
    """One heatmap panel, ready to draw.

    Attributes:
        name: "original", "quantized", "dequantized" or "error".
        title: the panel's title, naming what a pooled cell holds.
        dm: the display matrix (positions, steps, window, note).
        z: the values drawn (``dm.values`` or a companion of the same shape).
        colorscale: plotly colour scale.
        cmin: lower colour limit.
        cmax: upper colour limit.
        colorbar: the colour bar's title.
        value_label: the word before the value in hover text.
        value_format: d3 format of the hover value.
        clipped: bool array like ``z``: cells beyond ``[cmin, cmax]`` (None: none can be).
        hover_positions: the hover names each pooled cell's element (per-cell data sent);
            False for a panel that shows the same elements as another one.
        codes: the stored codes behind ``z`` when they differ from it (float formats' bit
            patterns, NF4 indices), shown in the hover; None otherwise.
    """

    name: str
    title: str
    dm: DisplayMatrix
    z: np.ndarray
    colorscale: str
    cmin: float
    cmax: float
    colorbar: str
    value_label: str
    value_format: str
    clipped: np.ndarray | None = None
    hover_positions: bool = True
    codes: np.ndarray | None = None


def check_clip(clip: float | None) -> float | None:
    """Validate a colour-range percentile (None or 100: the full range)."""
    if clip is None:
        return None
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not 50 < clip <= 100:
        raise ValueError(f"clip must be None or a percentile in (50, 100], got {clip!r}")
    return None if clip == 100 else float(clip)


def colour_limits(values: np.ndarray, clip: float | None = DEFAULT_CLIP) -> tuple[float, float]:
    """The colour range ``(lo, hi)`` of displayed ``values``: their full range, or with
    ``clip`` the ``clip``-th percentile of the cells at each end, so one outlier among many
    cells does not squash every other cell into the middle colour.

    Percentiles take the nearest cell at or beyond the rank (numpy's "higher"), so fewer than
    ``100 / (100 - clip)`` cells (1000 at 99.9) are never clipped: small matrices keep their
    full range.

    Args:
        values: the displayed cells (NaN and infinities are ignored).
        clip: None for the full range, else a percentile in (50, 100].

    Returns:
        ``(lo, hi)`` with ``lo <= hi``; ``(0, 0)`` when no cell is finite.
    """
    clip = check_clip(clip)
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 0.0
    if clip is None:
        return float(v.min()), float(v.max())
    if v.min() < 0 < v.max():
        m = float(np.percentile(np.abs(v), clip, method="higher"))
        return -m, m
    lo = float(np.percentile(v, 100 - clip, method="lower"))
    hi = float(np.percentile(v, clip, method="higher"))
    return lo, hi


def clipped_cells(z: np.ndarray, cmin: float, cmax: float) -> np.ndarray:
    """Which cells of ``z`` lie beyond ``[cmin, cmax]`` by more than float noise."""
    tol = _CLIP_TOLERANCE * max(abs(cmin), abs(cmax), 1e-30)
    with np.errstate(invalid="ignore"):
        return (z < cmin - tol) | (z > cmax + tol)


def _pooled(x: torch.Tensor, max_cells: tuple[int, int] | int, window: Window | None) -> bool:
    """Whether :func:`display_matrix` will pool ``x`` (decided from shapes, before any work)."""
    rows, cols = check_max_cells(max_cells)
    n = x.shape[0] if x.dim() > 1 else 1
    shown = window.shape if window else (n, x.numel() // n)
    return shown[0] > rows or shown[1] > cols


def _reduction_word(dm: DisplayMatrix, word: str) -> str:
    return f" ({word} per {dm.row_step}×{dm.col_step})" if dm.downsampled else ""


def value_panel(
    x: torch.Tensor,
    name: str = "original",
    *,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    window: Window | None = None,
    clip: float | None = DEFAULT_CLIP,
    limits: tuple[float, float] | None = None,
    like: Panel | None = None,
) -> Panel:
    """The original (or dequantized) values, max-|x| pooled, on a value colour scale.

    Args:
        x: the tensor.
        name: "original" or "dequantized".
        max_cells: display bound.
        window: the part shown (None: all).
        clip: colour-range percentile (None: full range); ignored when ``limits`` or ``like``
            is given.
        limits: ``(lo, hi)`` to share.
        like: the original's panel: show ``x`` (its reconstruction) at the same elements, on
            its colour range, so each cell pairs with the original's cell (and their difference
            is the error of that element). Its hover then sends no per-cell positions.

    Returns:
        A :class:`Panel`; cells beyond the colour range are flagged in ``clipped``.
    """
    if like is not None:
        dm = like.dm
        z = gather_like(x, dm)
        title = (
            f"{name} (at the original's max-|x| per {dm.row_step}×{dm.col_step})"
            if dm.downsampled
            else name
        )
        scale, cmin, cmax = like.colorscale, like.cmin, like.cmax
        return Panel(
            name, title, dm, z, scale, cmin, cmax, "value", "value", ".5~g",
            clipped_cells(z, cmin, cmax), hover_positions=not dm.downsampled,
        )  # fmt: skip
    dm = display_matrix(x, max_cells, "absmax", window)
    lo, hi = limits if limits is not None else colour_limits(dm.values, clip)
    scale, cmin, cmax = value_range(lo, hi)
    title = name + _reduction_word(dm, "max-|x|")
    return Panel(
        name, title, dm, dm.values, scale, cmin, cmax, "value", "value", ".5~g",
        clipped_cells(dm.values, cmin, cmax),
    )  # fmt: skip


def integer_panel(
    result: QuantResult,
    *,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    window: Window | None = None,
) -> Panel:
    """The codes. At full resolution: each integer on the whole grid ``q_min … q_max``, or, for
    the float and lookup formats, each code's element value (``1.5``, ``-6``) with the stored code
    in the hover. Pooled: the mean ``|q − z|`` of each window (how much of the grid its values
    use), or the mean ``|element|`` for the float and lookup formats.

    Args:
        result: ``qv.quantize(x, scheme)``.
        max_cells: display bound.
        window: the part shown (None: all).

    Returns:
        A :class:`Panel`.
    """
    scheme = result.scheme
    if not scheme.is_integer:
        return _element_panel(result, max_cells=max_cells, window=window)
    grid = f"{scheme.format_name} integers: {scheme.q_min} … {scheme.q_max}"
    if not _pooled(result.q, max_cells, window):
        dm = display_matrix(result.q, max_cells, "absmax", window)
        z = dm.values.astype(np.int16 if scheme.bits <= 16 else np.int32)
        return Panel(
            "quantized", f"quantized codes ({grid})", dm, z, INTEGERS, scheme.q_min,
            scheme.q_max, "q", "q", ".0f",
        )  # fmt: skip
    codes = result.q.to(torch.float32)
    if not scheme.symmetric and not scheme.float_zero_point:  # symmetric zero points are all 0
        codes -= expand_to_elements(result.zero_point, result.q.shape, scheme.granularity)
    elif scheme.float_zero_point:  # x ≈ min + scale·q: q itself is the distance from the min
        codes -= scheme.q_min
    dm = display_matrix(codes, max_cells, "mean_abs", window)
    # |q − z| reaches 2^(b-1) on a symmetric grid and the grid's width on an asymmetric one.
    top = 2 ** (scheme.bits - 1) if scheme.symmetric else scheme.q_max - scheme.q_min
    word = "q − min code" if scheme.float_zero_point else "q − z"
    span = f"{scheme.format_name}: {scheme.q_min} … {scheme.q_max}"
    title = f"integers: mean |{word}| per {dm.row_step}×{dm.col_step} ({span})"
    return Panel("quantized", title, dm, dm.values, INTEGERS, 0.0, float(top), f"|{word}|",
                 f"mean |{word}|", ".4~g")  # fmt: skip


def _element_panel(
    result: QuantResult, *, max_cells: tuple[int, int] | int, window: Window | None
) -> Panel:
    """:func:`integer_panel` for the float and lookup formats (FP8, FP6, FP4, NF4)."""
    scheme = result.scheme
    grid = scheme.grid()
    lo, hi = float(grid[0]), float(grid[-1])
    name = f"{scheme.element_format} values {lo:g} … {hi:g}"
    values = result.element_values().to(torch.float32)
    if not _pooled(values, max_cells, window):
        dm = display_matrix(values, max_cells, "absmax", window)
        codes = gather_like(result.q.to(torch.int32), dm)
        return Panel(
            "quantized", f"quantized codes ({name}; code in hover)", dm, dm.values, INTEGERS,
            lo, hi, "element", "element", ".4~g", codes=codes,
        )  # fmt: skip
    dm = display_matrix(values, max_cells, "mean_abs", window)
    title = f"codes: mean |element| per {dm.row_step}×{dm.col_step} ({name})"
    return Panel("quantized", title, dm, dm.values, INTEGERS, 0.0, max(abs(lo), hi), "|element|",
                 "mean |element|", ".4~g")  # fmt: skip


def error_panel(
    err: torch.Tensor,
    *,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    window: Window | None = None,
) -> Panel:
    """The error ``x̂ − x``: signed on a diverging scale centred at 0 at full resolution; pooled,
    the RMS of each window on a sequential scale from 0 (its size is what matters).

    Args:
        err: the error tensor.
        max_cells: display bound.
        window: the part shown (None: all).

    Returns:
        A :class:`Panel`.
    """
    if _pooled(err, max_cells, window):
        dm = display_matrix(err, max_cells, "rms", window)
        top = float(np.nanmax(dm.values)) if dm.values.size else 0.0
        top = top if math.isfinite(top) and top > 0 else 1.0
        title = f"error: RMS per {dm.row_step}×{dm.col_step} (dequantized − original)"
        return Panel("error", title, dm, dm.values, ERROR_SEQUENTIAL, 0.0, top, "RMS error",
                     "RMS error", ".4~g")  # fmt: skip
    dm = display_matrix(err, max_cells, "absmax", window)
    finite = np.abs(dm.values[np.isfinite(dm.values)])
    lim = float(finite.max()) if finite.size else 0.0
    lim = lim if math.isfinite(lim) and lim > 0 else 1.0
    return Panel("error", "error (dequantized − original)", dm, dm.values, ERRORS, -lim, lim,
                 "error", "error", ".4~g")  # fmt: skip


def quantization_panels(
    x: torch.Tensor,
    result: QuantResult,
    *,
    max_cells: tuple[int, int] | int = DEFAULT_MAX_CELLS,
    window: Window | None = None,
    clip: float | None = DEFAULT_CLIP,
    x_hat: torch.Tensor | None = None,
) -> dict[str, Panel]:
    """All four panels; the dequantized panel shows the original's elements on its colour range.

    Args:
        x: the quantized tensor.
        result: ``qv.quantize(x, scheme)``.
        max_cells: display bound per panel.
        window: the part shown (None: all).
        clip: colour-range percentile of the value panels (None: full range).
        x_hat: ``result.dequantize()`` when already at hand.

    Returns:
        ``{"original": ..., "quantized": ..., "dequantized": ..., "error": ...}``.
    """
    x = x.detach().to(torch.float32)
    x_hat = result.dequantize() if x_hat is None else x_hat
    original = value_panel(x, "original", max_cells=max_cells, window=window, clip=clip)
    return {
        "original": original,
        "quantized": integer_panel(result, max_cells=max_cells, window=window),
        "dequantized": value_panel(x_hat, "dequantized", like=original),
        "error": error_panel(x_hat - x, max_cells=max_cells, window=window),
    }
