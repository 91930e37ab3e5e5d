"""Small computations shared by the chart builders: histograms, the grid of one block, the text
printed in heatmap cells, and validation of (tensor, result) pairs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures.formats import block_levels
from quantviz.granularity import Blocks, PerChannel, to_blocks
from quantviz.metrics import error_metrics, quantization_error
from quantviz.quantize import QuantResult


def check_pair(x: torch.Tensor, result: QuantResult) -> torch.Tensor:
    """Validate that ``result`` is ``qv.quantize(x, ...)``'s output and return ``x`` as float32."""
    if not isinstance(result, QuantResult):
        raise ValueError(f"expected a QuantResult from qv.quantize, got {type(result).__name__}")
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(x).__name__}")
    if tuple(x.shape) != tuple(result.q.shape):
        raise ValueError(
            f"shape mismatch: x is {tuple(x.shape)} but the result is for {tuple(result.q.shape)}"
        )
    return x.detach().to(torch.float32)


# Significant digits of every number quantviz shows: 4 keeps 191.6, 189.3 and -2.279 as written,
# so a learner can check original − dequantized = error from the printed cells.
DIGITS = 4


def number_text(value: float | int, digits: int = DIGITS) -> str:
    """``value`` as every quantviz figure, card, title and table cell writes it.

    Python ints keep every digit with thousands separators ("1,024"). Floats get ``digits``
    significant digits, positional from 0.001 up to ``10**digits`` ("191.6", "-2.279",
    "0.0123", "2"); bigger ones below a million are whole numbers ("12346"); the rest is
    scientific ("1e-07", "1.235e6"). Zero is "0", trailing zeros and the exponent's "+" are
    left out. d3's "g" formats, which plotly offers, cannot do this (".2g" wrote -537 as
    "-5.4e+2").

    Args:
        value: a number (NaN and infinities included).
        digits: significant digits, 1 to 17.

    Returns:
        The text, at most ``digits + 7`` characters for floats.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an integer from 1 to 17, got {digits!r}")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0.0:
        return "0"  # -0.0 too
    mag = abs(v)
    # Ranges are judged on the rounded magnitude, so 0.0009999 reads "0.001", not "1e-03".
    rounded = float(f"{mag:.{digits}g}")
    if 1e-3 <= rounded < 10.0**digits:
        # "g" stays positional here (exponents -3 … digits-1) and drops trailing zeros.
        return f"{v:.{digits}g}"
    if rounded >= 10.0**digits and round(mag) < 1e6:
        return f"{v:.0f}"
    mantissa, exponent = f"{v:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    # "1e-07" as Python writes it; "1e6", not "1e+06".
    exponent = exponent[1:].lstrip("0") if exponent.startswith("+") else exponent
    return f"{mantissa}e{exponent}"


def cell_text(value: float) -> str:
    """The text of one heatmap cell: :func:`number_text` of the value as a float."""
    return number_text(float(value))


def cell_texts(values: np.ndarray) -> np.ndarray:
    """:func:`cell_text` of every element of ``values`` (an array of str, same shape).

    Only called for the small matrices whose cells print their values (at most a few hundred
    cells), so a per-element Python call costs nothing that matters.
    """
    arr = np.asarray(values, dtype=np.float64)
    return np.array([cell_text(v) for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)


def check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 10_000:
        raise ValueError(f"bins must be an integer from 1 to 10000, got {bins!r}")
    return bins


def histogram(
    values: torch.Tensor, bins: int, lo: float | None = None, hi: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of the finite entries of ``values`` over ``[lo, hi]``.

    Computed in torch, so only ``bins`` numbers travel to the browser, however big the tensor.
    A zero-width range is widened so a constant tensor still gets one visible bar.
    """
    flat = values.detach().reshape(-1).to(torch.float32)
    if flat.numel() == 0:
        raise ValueError("no finite values to draw a histogram of")
    # One min/max pass answers both questions: finite extremes (NaN propagates) mean every
    # value is finite, and they are the default range.
    f_lo, f_hi = (float(v) for v in torch.aminmax(flat))
    finite = flat
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)):
        finite = flat[torch.isfinite(flat)]
        if finite.numel() == 0:
            raise ValueError("no finite values to draw a histogram of")
        f_lo, f_hi = (float(v) for v in torch.aminmax(finite))
    lo = f_lo if lo is None else lo
    hi = f_hi if hi is None else hi
    if not hi > lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    counts = torch.histc(finite, bins=bins, min=lo, max=hi)
    edges = np.linspace(lo, hi, bins + 1)
    return counts.cpu().numpy().astype(np.float64), edges


@dataclass(frozen=True)
class BlockGrid:
    """The integer grid of one block, in real units.

    Attributes:
        scale: the block's scale.
        zero_point: its zero point (a float: a float zero point keeps its fraction).
        rep_min: smallest representable value (the lowest of the format's levels).
        rep_max: largest.
        label: which block ("per-tensor grid", "grid of row 3 (largest scale)").
    """

    scale: float
    zero_point: float
    rep_min: float
    rep_max: float
    label: str


def _block_label(result: QuantResult, idx: int, why: str) -> str:
    """What people call block ``idx`` (flat, in the order of ``result.scale``)."""
    scheme = result.scheme
    if result.scale.numel() == 1:
        return "per-tensor grid"
    if isinstance(scheme.granularity, PerChannel):
        word = {0: "row", 1: "column"}.get(scheme.granularity.dim, "channel")
        if result.scale.dim() > 2:
            word = f"channel (dim {scheme.granularity.dim})"
        return f"grid of {word} {idx}{why}"
    pos = tuple(int(i) for i in np.unravel_index(idx, tuple(result.scale.shape)))
    where = pos[0] if len(pos) == 1 else pos
    return f"grid of block {idx} {where if len(pos) > 1 else ''}".rstrip() + why


def block_grid(result: QuantResult, idx: int, why: str = "") -> BlockGrid:
    """The integer grid of block ``idx`` (flat index into ``result.scale``) in real units.

    Args:
        result: a quantization.
        idx: 0 … ``num_scales - 1``.
        why: appended to the label, e.g. " (most error)".

    Raises:
        ValueError: an index outside the blocks.
    """
    n = result.scale.numel()
    if isinstance(idx, bool) or not isinstance(idx, int | np.integer) or not 0 <= idx < n:
        raise ValueError(f"block must be an integer from 0 to {n - 1}, got {idx!r}")
    idx = int(idx)
    scheme = result.scheme
    scale = float(result.scale.reshape(-1)[idx])
    zp = float(result.zero_point.reshape(-1)[idx])  # a float zero point keeps its fraction
    levels = block_levels(scheme, scale, zp)
    return BlockGrid(
        scale=scale,
        zero_point=zp,
        rep_min=float(levels[0]),
        rep_max=float(levels[-1]),
        label=_block_label(result, idx, why),
    )


def grid_levels(result: QuantResult, grid: BlockGrid, max_shown: int) -> tuple[np.ndarray, int]:
    """The real values of a block's grid levels to draw, and the stride between drawn levels.

    The one place that turns a grid into level positions: a non-uniform element format changes
    this function only.
    """
    levels = block_levels(result.scheme, grid.scale, grid.zero_point)
    # A uniform grid is thinned evenly; a float grid (at most 256 values) is drawn whole, since
    # thinning it would hide what it is about: dense near 0, sparse near the edge.
    stride = level_stride(levels.size, max_shown) if result.scheme.is_integer else 1
    return levels[::stride], stride


def block_order(result: QuantResult, blocks: Blocks) -> torch.Tensor:
    """For each flat block index (the order of ``result.scale``), its row in ``blocks``."""
    n = blocks.data.shape[0]
    # Laying the row numbers out as parameters puts, at each grid position, its block's row.
    return blocks.params_to_grid(torch.arange(n).reshape(n, 1)).reshape(-1)


def block_squared_errors(
    x: torch.Tensor, result: QuantResult, x_hat: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum of squared errors of each block, float64, in the order of ``result.scale``.

    Args:
        x: the quantized tensor.
        result: ``qv.quantize(x, scheme)``.
        x_hat: ``result.dequantize()`` when already at hand.
    """
    x_hat = result.dequantize() if x_hat is None else x_hat
    err = (x_hat - x.to(torch.float32)).square_()
    blocks = to_blocks(err, result.scheme.granularity)
    sums = blocks.data.nansum(dim=1, dtype=torch.float64)
    return sums[block_order(result, blocks)]


def block_values(x: torch.Tensor, result: QuantResult, idx: int) -> torch.Tensor:
    """The elements of ``x`` in block ``idx`` (flat index into ``result.scale``), 1-D."""
    blocks = to_blocks(x.to(torch.float32), result.scheme.granularity)
    at = int(block_order(result, blocks)[idx])
    row = blocks.data[at]
    return row if blocks.valid is None else row[blocks.valid[at]]


def widest_block_grid(result: QuantResult) -> BlockGrid:
    """The grid of the block with the largest scale (the coarsest one), or the only grid for a
    per-tensor result."""
    idx = int(torch.argmax(result.scale.reshape(-1).abs()))  # llama.cpp q4_0: negative scales
    why = "" if result.scale.numel() == 1 else f" (largest scale of {result.num_scales})"
    return block_grid(result, idx, why)


def vertical_segments(
    xs: list[float] | np.ndarray, y0: float, y1: float
) -> tuple[list[float | None], list[float | None]]:
    """x/y lists that draw a vertical segment at each x as one scatter trace."""
    out_x: list[float | None] = []
    out_y: list[float | None] = []
    for v in xs:
        out_x += [float(v), float(v), None]
        out_y += [y0, y1, None]
    return out_x, out_y


def level_stride(n_levels: int, max_shown: int) -> int:
    """Show every ``k``-th grid level so at most ``max_shown`` are drawn."""
    return max(1, math.ceil(n_levels / max_shown))


def title_metrics(x: torch.Tensor, reconstruction: torch.Tensor | QuantResult) -> dict[str, float]:
    """The metrics a figure title shows: exactly :func:`quantviz.error_metrics` (or
    :func:`quantviz.quantization_error` for a QuantResult, as :func:`quantviz.compare` uses), so
    a title never disagrees with the comparison table.

    A plain float32 ``square().mean()`` would be cheaper, but it underflows to MSE 0 / SQNR ∞
    for |x| near 1e-22 and overflows to ∞ near 1e20; the library's sums rescale per slice.

    Args:
        x: the original tensor.
        reconstruction: its dequantized reconstruction, or the QuantResult behind it.

    Returns:
        The mapping of :func:`quantviz.error_metrics` (mse, sqnr_db, max_abs_error, ...).
    """
    if isinstance(reconstruction, QuantResult):
        return quantization_error(x, reconstruction)
    return error_metrics(x, reconstruction)


def link_axes(fig: go.Figure) -> None:
    """Link every subplot's zoom and pan to the first one's, in place.

    ``matches`` is set on the other axes only: ``fig.update_xaxes(matches="x")`` would also make
    ``xaxis`` match itself, which plotly.js drops with a console warning ("ignored xaxis.matches:
    "x" to avoid an infinite loop").
    """
    fig.update_xaxes(matches="x", selector=lambda ax: ax.plotly_name != "xaxis")
    fig.update_yaxes(matches="y", selector=lambda ax: ax.plotly_name != "yaxis")
