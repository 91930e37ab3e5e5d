"""Quantization error of one tensor under several schemes, streamed in row chunks.

A scan keeps no integers and no reconstructions: it walks the tensor once, in chunks of whole
rows (about 4 MB, so the temporaries stay in cache), for all the schemes together, and keeps only
running totals: Σ(x − x̂)², Σ|x − x̂|, max|x − x̂| and Σx². The reconstruction of
every element is bit-identical to ``quantize(x, scheme).dequantize()``: scales come from the same
functions of :mod:`quantviz.ranges`, and the arithmetic is the same division, rounding, clamping
and multiplication in the same order.

Which schemes can be chunked:

* *local* granularities, whose blocks never span two chunks of whole rows: per-row
  (``PerChannel(0)``), per-group and per-block (chunks are cut at multiples of the group size or
  block height where the blocks run down the rows). Any range method works chunk by chunk.
* *global* granularities (per-tensor, ``PerChannel(d)`` with ``d > 0``) with the full range
  (``absmax`` / ``minmax``): the ranges are reduced over the whole tensor first (no temporaries),
  then the chunks are quantized with those fixed scales.
* a global granularity with ``percentile`` or ``mse`` needs the whole block at once, so it runs on
  the whole tensor (correct, but with ``quantize``'s memory footprint). So do schemes with other
  element or scale formats on a global granularity, and those whose block scales depend on the
  whole tensor (NVFP4's per-tensor scale, double quantization).

Schemes other than plain integer ones reconstruct through :mod:`quantviz.format_quant`, the
functions ``quantize`` uses for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from quantviz.format_quant import block_error
from quantviz.format_scales import needs_whole_tensor
from quantviz.granularity import PerBlock, PerChannel, PerGroup, PerTensor, num_blocks, to_blocks
from quantviz.kernels import CHUNK_ELEMENTS as CPU_CHUNK_ELEMENTS
from quantviz.metrics import metrics_from_sums
from quantviz.quantize import refuse_non_finite
from quantviz.ranges import block_range, mse_search, scale_zero_point
from quantviz.scheme import QuantScheme

CUDA_CHUNK_ELEMENTS = 2**26
"""Elements per chunk on a GPU, where launches cost more than memory."""

# float32 sums of squares are exact enough (pairwise summation, ~1e-7 relative) as long as
# nothing overflows or underflows; outside this range of max|x| the totals are taken in float64.
_F32_SAFE_MIN = 1e-12
_F32_SAFE_SUM = 1e36


@dataclass(frozen=True)
class ErrorTotals:
    """Running totals of the reconstruction error of one tensor under one scheme.

    Attributes:
        numel: elements.
        sse: Σ (x − x̂)².
        sae: Σ |x − x̂|.
        max_abs: max |x − x̂|.
        signal: Σ x².
    """

    numel: int
    sse: float
    sae: float
    max_abs: float
    signal: float

    def metrics(self) -> dict[str, float]:
        """The same keys and edge cases as :func:`quantviz.error_metrics`."""
        return metrics_from_sums(self.sse, self.sae, self.max_abs, self.signal, self.numel)


class _Acc:
    """Σ(err²), Σ|err|, max|err| kept on the tensor's device, read once at the end (no syncs)."""

    def __init__(self, device: torch.device, precise: bool) -> None:
        self.sse = torch.zeros((), dtype=torch.float64, device=device)
        self.sae = torch.zeros((), dtype=torch.float64, device=device)
        self.max_abs = torch.zeros((), dtype=torch.float64, device=device)
        self.precise = precise

    def add(self, err: torch.Tensor) -> None:
        """Fold in ``err`` (consumed: it is overwritten in place)."""
        err = err.to(torch.float64) if self.precise else err
        err = err.abs_()
        self.sae += err.sum()
        self.max_abs = torch.maximum(self.max_abs, err.amax())
        self.sse += err.square_().sum()


def _rows_chunks(x: torch.Tensor, align: int, chunk_elements: int) -> list[torch.Tensor]:
    """Views of ``x`` along dim 0: multiples of ``align`` rows, about ``chunk_elements`` each."""
    rows = x.shape[0]
    row_len = max(1, x.numel() // max(rows, 1))
    step = max(align, (chunk_elements // row_len) // align * align)
    return [x[i : i + step] for i in range(0, rows, step)]


def _local_align(scheme: QuantScheme, ndim: int) -> int | None:
    """Rows a chunk must be a multiple of for this scheme's blocks to stay whole, or None when
    its blocks span every row (a global granularity)."""
    gran = scheme.granularity
    if isinstance(gran, PerChannel):
        return 1 if gran.dim % ndim == 0 else None
    if isinstance(gran, PerGroup):
        return gran.group_size if gran.dim % ndim == 0 else 1
    if isinstance(gran, PerBlock):
        return gran.rows if ndim == 2 else 1
    return None


def _reconstruction_error(
    data: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QuantScheme
) -> torch.Tensor:
    """``x̂ − x`` with x̂ computed exactly as ``quantize`` then ``dequantize`` compute it."""
    q = torch.div(data, scale)
    if not scheme.symmetric:
        q.add_(zero_point)
    q.round_().clamp_(scheme.q_min, scheme.q_max)
    if not scheme.symmetric:
        q.sub_(zero_point)
    return q.mul_(scale).sub_(data)


def _local_error(x: torch.Tensor, scheme: QuantScheme) -> torch.Tensor:
    """Reconstruction error of ``x`` (a chunk, or the whole tensor) with ranges from ``x``."""
    blocks = to_blocks(x, scheme.granularity)
    if not scheme.is_plain_integer:  # element/scale formats, variants, presets
        return block_error(blocks, scheme)
    r_min, r_max = block_range(blocks.data, blocks.valid, scheme)
    if scheme.range_method == "mse":
        scale, zero_point = mse_search(blocks.data, blocks.valid, r_min, r_max, scheme)
    else:
        scale, zero_point = scale_zero_point(r_min, r_max, scheme)
    err = _reconstruction_error(blocks.data, scale, zero_point, scheme)
    if blocks.valid is not None:
        err.masked_fill_(~blocks.valid, 0.0)  # padding (NaN) is not part of the tensor
    return err


def _global_params(x: torch.Tensor, scheme: QuantScheme) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero point of a per-tensor or ``PerChannel(d > 0)`` scheme with the full range,
    reduced over the whole tensor, shaped to broadcast against chunks of rows."""
    gran = scheme.granularity
    if isinstance(gran, PerTensor):
        lo, hi = x.amin().reshape(1, 1), x.amax().reshape(1, 1)
        grid: tuple[int, ...] = ()
    else:
        d = gran.dim % x.dim()
        others = tuple(i for i in range(x.dim()) if i != d)
        lo, hi = x.amin(dim=others).reshape(-1, 1), x.amax(dim=others).reshape(-1, 1)
        grid = tuple(n if i == d else 1 for i, n in enumerate(x.shape))
    if scheme.symmetric:
        a = torch.maximum(-lo, hi)
        lo, hi = -a, a
    scale, zero_point = scale_zero_point(lo, hi, scheme)
    return scale.reshape(grid), zero_point.reshape(grid)


def _signal(x: torch.Tensor, chunk_elements: int, precise: bool) -> float:
    """Σx², accumulated in float64 across chunks (and within them when ``precise``)."""
    flat = x.reshape(-1)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for i in range(0, flat.numel(), chunk_elements):
        part = flat[i : i + chunk_elements]
        total += (part.to(torch.float64) if precise else part).square().sum()
    return float(total)


def tensor_errors(
    x: torch.Tensor, schemes: Sequence[QuantScheme], chunk_elements: int | None = None
) -> list[ErrorTotals | str]:
    """The reconstruction error of ``x`` under each scheme.

    Args:
        x: float32 tensor with at least one element and dimension, on any device.
        schemes: the schemes to measure.
        chunk_elements: about how many elements one chunk holds (default by device).

    Returns:
        One entry per scheme: its :class:`ErrorTotals`, or a sentence saying why the scheme does
        not fit ``x`` (e.g. per-block on a vector).

    Raises:
        ValueError: if ``x`` holds NaN or infinite values (naming how many and the first).
    """
    if chunk_elements is None:
        chunk_elements = CPU_CHUNK_ELEMENTS if x.device.type == "cpu" else CUDA_CHUNK_ELEMENTS
    if chunk_elements < 1:
        raise ValueError(f"chunk_elements must be positive, got {chunk_elements}")
    x = x.contiguous()
    lo, hi = float(x.amin()), float(x.amax())  # NaN and inf propagate into these
    if not (math.isfinite(lo) and math.isfinite(hi)):
        refuse_non_finite(x)
    amax = max(-lo, hi)
    # On a GPU float64 sums are cheap; on the CPU float32 pairwise sums are 5× faster and exact
    # enough unless squares could overflow or underflow.
    precise = (
        x.device.type != "cpu" or amax < _F32_SAFE_MIN or amax * amax * x.numel() > _F32_SAFE_SUM
    )
    signal = _signal(x, chunk_elements, precise)
    results: list[ErrorTotals | str | None] = [None] * len(schemes)
    accs: dict[int, _Acc] = {}
    local: list[int] = []
    global_: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    whole: list[int] = []
    aligns = [1]
    for i, scheme in enumerate(schemes):
        try:
            num_blocks(x.shape, scheme.granularity)  # raises when the granularity does not fit
        except ValueError as e:
            results[i] = str(e)
            continue
        accs[i] = _Acc(x.device, precise)
        align = _local_align(scheme, x.dim())
        if align is not None and not needs_whole_tensor(scheme):
            local.append(i)
            aligns.append(align)
        elif scheme.is_plain_integer and scheme.range_method in ("absmax", "minmax"):
            global_[i] = _global_params(x, scheme)
        else:
            whole.append(i)
    if local or global_:
        for chunk in _rows_chunks(x, math.lcm(*aligns), chunk_elements):
            for i in local:
                accs[i].add(_local_error(chunk, schemes[i]))
            for i, (scale, zero_point) in global_.items():
                accs[i].add(_reconstruction_error(chunk, scale, zero_point, schemes[i]))
    for i in whole:
        accs[i].add(_local_error(x, schemes[i]))
    for i, acc in accs.items():
        results[i] = ErrorTotals(
            numel=x.numel(),
            sse=float(acc.sse),
            sae=float(acc.sae),
            max_abs=float(acc.max_abs),
            signal=signal,
        )
    return results  # type: ignore[return-value]
