"""Side-by-side comparison of quantization schemes on one tensor."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from quantviz.granularity import num_blocks
from quantviz.metrics import quantization_error
from quantviz.quantize import QuantResult, check_input, quantize
from quantviz.scheme import QuantScheme

COMPARE_COLUMNS = [
    "scheme",
    "bits",
    "symmetric",
    "granularity",
    "range_method",
    "mse",
    "rmse",
    "mae",
    "max_abs_error",
    "sqnr_db",
    "rel_error",
    "num_scales",
    "bits_per_element",
    "compression_ratio",
]


def bits_per_element(
    shape: tuple[int, ...] | torch.Size, scheme: QuantScheme, scale_bits: int = 16
) -> float:
    """Storage cost per element: the payload plus every scale (and zero point) spread over the
    elements. Scales count ``scale_bits`` each; zero points count ``scheme.bits`` each, and only
    for asymmetric schemes. int4 symmetric per-group(32) is ``4 + 16/32 = 4.5``.
    """
    if isinstance(scale_bits, bool) or not isinstance(scale_bits, int) or scale_bits < 0:
        raise ValueError(f"scale_bits must be a non-negative integer, got {scale_bits!r}")
    numel = math.prod(shape)
    if numel == 0:
        raise ValueError(f"no elements in shape {tuple(shape)}: bits per element is undefined")
    blocks = num_blocks(shape, scheme.granularity)
    zero_point_bits = 0 if scheme.symmetric else scheme.bits
    return scheme.bits + blocks * (scale_bits + zero_point_bits) / numel


def scheme_row(x: torch.Tensor, result: QuantResult, scale_bits: int = 16) -> dict[str, object]:
    """One comparison row: ``x`` quantized as ``result`` (never materializing x_hat)."""
    scheme = result.scheme
    metrics = quantization_error(x, result)
    bpe = bits_per_element(x.shape, scheme, scale_bits)
    return {
        "scheme": scheme.label(),
        "bits": scheme.bits,
        "symmetric": scheme.symmetric,
        "granularity": scheme.granularity.label(),
        "range_method": scheme.range_method,
        **{k: metrics[k] for k in ("mse", "rmse", "mae", "max_abs_error", "sqnr_db", "rel_error")},
        "num_scales": num_blocks(x.shape, scheme.granularity),
        "bits_per_element": bpe,
        "compression_ratio": 32.0 / bpe,
    }


def compare(x: torch.Tensor, schemes: Sequence[QuantScheme], scale_bits: int = 16) -> pd.DataFrame:
    """Quantize ``x`` with every scheme and tabulate the errors and storage costs.

    Args:
        x: finite floating-point tensor.
        schemes: the schemes to compare; a scheme whose granularity does not fit ``x`` (such as
            per-block on a 1-D tensor) raises ``ValueError``.
        scale_bits: storage bits of one scale (16 for fp16/bf16 scales).

    Returns:
        A DataFrame with one row per scheme and the columns of ``COMPARE_COLUMNS``.
    """
    x = check_input(x)
    rows = [scheme_row(x, quantize(x, s), scale_bits) for s in schemes]
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)
