"""What the figures need to know about number formats: the real values a block's codes can take
(uniform for integers, non-uniform for FP8/FP6/FP4/NF4), the codes panel of the heatmaps, and how
a scale is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from quantviz.figures.downsample import DisplayMatrix, gather_like
from quantviz.formats import SCALE_FORMAT_BITS
from quantviz.quantize import QuantResult
from quantviz.scheme import QuantScheme


def grid_values(scheme: QuantScheme) -> np.ndarray:
    """Every element value the codes of ``scheme`` can mean, sorted (float64): the integers
    ``q_min … q_max`` for an integer scheme, the format's representable values otherwise."""
    return scheme.grid().detach().cpu().numpy().astype(np.float64)


def block_levels(scheme: QuantScheme, scale: float, zero_point: float = 0.0) -> np.ndarray:
    """The real values one block can reconstruct, sorted, in float32 as the core computes them:
    ``scale · (g − zero_point)`` for every grid value ``g`` (symmetric schemes and the float and
    lookup formats have zero point 0), or ``zero_point + scale · g`` for a float zero point. A
    negative scale (llama.cpp's q4_0 on a block whose extreme is positive) mirrors the grid."""
    g = grid_values(scheme).astype(np.float32)
    s = np.float32(scale)
    if scheme.float_zero_point:
        levels = np.float32(zero_point) + s * g
    elif scheme.symmetric:
        levels = s * g
    else:
        levels = s * (g - np.float32(zero_point))
    return np.sort(levels).astype(np.float64)


def level_grid_values(scheme: QuantScheme, scale: float) -> np.ndarray:
    """The grid value behind each of :func:`block_levels`, in the same (sorted) order."""
    g = grid_values(scheme)
    return g[::-1].copy() if scale < 0 else g


def element_name(scheme: QuantScheme) -> str:
    """``"int8"`` or the element format's name (``"fp4_e2m1"``)."""
    return scheme.format_name if scheme.is_integer else scheme.element_format


def steps_note(levels: np.ndarray) -> str:
    """How far apart neighbouring levels are: one step for a uniform grid, the smallest (near 0)
    and largest (at the edge) for a non-uniform one."""
    if levels.size < 2:
        return "one level"
    steps = np.diff(levels)
    lo, hi = float(steps.min()), float(steps.max())
    if np.isclose(lo, hi, rtol=1e-4):
        return f"step {lo:.4g}"
    return f"step {lo:.4g} near 0 to {hi:.4g} at the edge"


def scale_words(scheme: QuantScheme) -> str:
    """How the scales are stored, e.g. ``"e8m0 scales (8 bits, powers of two)"``."""
    sfmt = scheme.scale_format
    extra = ", powers of two" if sfmt == "e8m0" else ""
    return f"{sfmt} scales ({SCALE_FORMAT_BITS[sfmt]} bits{extra})"


@dataclass(frozen=True)
class CodesPanel:
    """What the heatmaps' codes panel draws.

    Attributes:
        z: the values drawn (the integers, or each code's element value before the scale).
        codes: the stored codes behind ``z`` when they differ from it (float formats), else None.
        cmin: colour axis minimum (the grid's lowest value).
        cmax: colour axis maximum.
        title: the panel title.
        hover_label: the word before the value in the hover text.
        value_format: d3 format of the value in the hover text.
    """

    z: np.ndarray
    codes: np.ndarray | None
    cmin: float
    cmax: float
    title: str
    hover_label: str
    value_format: str


def codes_panel(result: QuantResult, dm: DisplayMatrix) -> CodesPanel:
    """The codes panel of :func:`~quantviz.figures.quantization_heatmaps` for ``result``, laid
    out like ``dm`` (the dequantized panel's display matrix).

    Integer schemes show their integers. Float and lookup formats show each code's element value
    (``1.5``, ``-6``: what the code means before the scale) in the cells, with the stored code
    (the bit pattern, or the NF4 index) in the hover text.
    """
    scheme = result.scheme
    grid = grid_values(scheme)
    if scheme.is_integer:
        z = gather_like(result.q, dm)
        title = f"quantized codes ({scheme.format_name} integers: {scheme.q_min} … {scheme.q_max})"
        return CodesPanel(z, None, scheme.q_min, scheme.q_max, title, "q", ".0f")
    z = gather_like(result.element_values().to(torch.float32), dm)
    codes = gather_like(result.q.to(torch.int32), dm)
    title = (
        f"quantized codes ({scheme.element_format} values {grid[0]:g} … {grid[-1]:g}; "
        "code in hover)"
    )
    return CodesPanel(z, codes, float(grid[0]), float(grid[-1]), title, "element", ".4~g")


def add_code_hover(trace: go.Heatmap, codes: np.ndarray) -> None:
    """Append each cell's stored code to ``trace``'s hover text, in place (after the source
    indices a downsampled trace already carries in its customdata)."""
    codes = np.asarray(codes)
    current = None if trace.customdata is None else np.asarray(trace.customdata)
    # Codes are at most 8 bits: uint16 keeps the hover payload small whenever the source
    # indices a downsampled trace carries fit too.
    small = current is None or current.dtype == np.uint16
    dtype = np.uint16 if small and codes.min() >= 0 and codes.max() < 2**16 else np.int32
    if current is None:
        data, i = codes.astype(dtype)[..., None], 0
    else:
        data = np.concatenate([current.astype(dtype), codes.astype(dtype)[..., None]], axis=-1)
        i = data.shape[-1] - 1
    trace.customdata = data
    trace.hovertemplate = trace.hovertemplate.replace(
        "<extra>", f"<br>code %{{customdata[{i}]}}<extra>", 1
    )


def widest_zero_point(result: QuantResult) -> float:
    """The zero point of the block with the largest scale (the block ``widest_block_grid``
    draws), as a float: a float zero point is not rounded to an integer."""
    idx = int(torch.argmax(result.scale.reshape(-1).abs()))
    return float(result.zero_point.reshape(-1)[idx])


def rounding_bound(result: QuantResult, scale: float, zero_point: float) -> float:
    """Half the largest step of a block's grid: no unclipped value of the block rounds further
    (``scale / 2`` for an integer grid)."""
    levels = block_levels(result.scheme, scale, zero_point)
    return float(np.diff(levels).max()) / 2 if levels.size > 1 else scale / 2
