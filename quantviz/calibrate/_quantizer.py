"""The one place where calibration methods meet the quantizer.

Every method quantizes through the core's public API only — :func:`quantviz.quantize` and its
``dequantize``, and for GPTQ's column steps :func:`quantviz.quantize_with_params` with parameters
taken from a :func:`quantviz.quantize` of the columns that share them — so any scheme or number
format the core supports works with every method. A new format plugs in here, nowhere else.
"""

from __future__ import annotations

import dataclasses

import torch

from quantviz.granularity import PerBlock, PerChannel, PerGroup, PerTensor, expand_to_elements
from quantviz.quantize import dequantize, quantize, quantize_with_params
from quantviz.scheme import QuantScheme


def fake_quantize(w: torch.Tensor, scheme: QuantScheme) -> torch.Tensor:
    """``w`` quantized with ``scheme`` and dequantized again (float32, same shape)."""
    return quantize(w, scheme).dequantize()


def column_span(scheme: QuantScheme, n_cols: int) -> int | None:
    """How many adjacent input columns of a 2-D weight share quantization parameters.

    Args:
        scheme: the scheme.
        n_cols: the weight's number of columns (input features).

    Returns:
        None when the parameters do not depend on which columns are taken (per-tensor, per-row):
        they are computed once, up front; otherwise the span (group size, tile width, or 1 for
        per-column parameters), at whose start GPTQ computes them.
    """
    gran = scheme.granularity
    if isinstance(gran, PerTensor):
        return None
    if isinstance(gran, PerChannel):
        return None if gran.dim % 2 == 0 else 1
    if isinstance(gran, PerGroup):
        return min(gran.group_size, n_cols) if gran.dim % 2 == 1 else 1
    if isinstance(gran, PerBlock):
        return min(gran.cols, n_cols)
    raise ValueError(f"unknown granularity {gran!r}")


def rows_independent(scheme: QuantScheme) -> bool:
    """True when each row of a 2-D weight is quantized on its own (per-row, or groups along
    the row): then a subset of rows quantizes exactly as it does inside the whole weight."""
    gran = scheme.granularity
    if isinstance(gran, PerChannel):
        return gran.dim % 2 == 0
    return isinstance(gran, PerGroup) and gran.dim % 2 == 1


def column_params(w: torch.Tensor, scheme: QuantScheme) -> tuple[torch.Tensor, torch.Tensor]:
    """Parameters of ``scheme`` found on the columns ``w`` (rows × k), one per element.

    Returns:
        ``(scale, zero_point)``, float32, each of ``w``'s shape (a view where possible), so column
        ``j``'s parameters are ``[:, j]``.
    """
    res = quantize(w, scheme)
    gran = scheme.granularity
    scale = expand_to_elements(res.scale, w.shape, gran)
    zero_point = expand_to_elements(res.zero_point.to(torch.float32), w.shape, gran)
    return scale, zero_point


class ColumnQuantizer:
    """Quantizes one column at a time with given per-element parameters (GPTQ's inner step)."""

    def __init__(self, scheme: QuantScheme) -> None:
        self.scheme = scheme
        # A column vector with one parameter per element: the per-row layout of an (n, 1) tensor.
        self._col_scheme = dataclasses.replace(scheme, granularity=PerChannel(0))

    def __call__(self, col: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor):
        """``col`` (rows,) quantized and dequantized with ``scale``/``zero_point`` (rows,)."""
        c = col.reshape(-1, 1)
        s, z = scale.reshape(-1, 1), zero_point.reshape(-1, 1)
        q = quantize_with_params(c, s, z, self._col_scheme)
        return dequantize(q, s, z, self._col_scheme).reshape(-1)
