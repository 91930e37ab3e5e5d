"""Side-by-side comparison of quantization schemes on one tensor."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from quantviz.granularity import num_blocks
from quantviz.progress import OnProgress, report
from quantviz.quantize import check_input
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


def scheme_row(
    shape: tuple[int, ...] | torch.Size,
    scheme: QuantScheme,
    metrics: dict[str, float],
    scale_bits: int = 16,
) -> dict[str, object]:
    """One comparison row (the ``COMPARE_COLUMNS``) for ``scheme`` on a tensor of ``shape``,
    given its :func:`quantviz.error_metrics`-style ``metrics``. The checkpoint scan builds its
    rows from this too."""
    bpe = bits_per_element(shape, scheme, scale_bits)
    return {
        "scheme": scheme.label(),
        "bits": scheme.bits,
        "symmetric": scheme.symmetric,
        "granularity": scheme.granularity.label(),
        "range_method": scheme.range_method,
        **{k: metrics[k] for k in ("mse", "rmse", "mae", "max_abs_error", "sqnr_db", "rel_error")},
        "num_scales": num_blocks(shape, scheme.granularity),
        "bits_per_element": bpe,
        "compression_ratio": 32.0 / bpe,
    }


def compare(
    x: torch.Tensor,
    schemes: Sequence[QuantScheme],
    scale_bits: int = 16,
    on_progress: OnProgress | None = None,
) -> pd.DataFrame:
    """Quantize ``x`` with every scheme and tabulate the errors and storage costs.

    Args:
        x: finite floating-point tensor.
        schemes: the schemes to compare; a scheme whose granularity does not fit ``x`` (such as
            per-block on a 1-D tensor) raises ``ValueError``.
        scale_bits: storage bits of one scale (16 for fp16/bf16 scales).
        on_progress: called as ``on_progress(done, total, label)`` before each scheme and at
            the end (see :mod:`quantviz.progress`); it may raise, or return False, to stop.

    Returns:
        A DataFrame with one row per scheme and the columns of ``COMPARE_COLUMNS``.
    """
    x = check_input(x)
    return pd.DataFrame(
        [
            scheme_row(x.shape, s, m, scale_bits)
            for s, m in zip(schemes, scheme_metrics(x, schemes, on_progress), strict=True)
        ],
        columns=COMPARE_COLUMNS,
    )


def scheme_metrics(
    x: torch.Tensor, schemes: Sequence[QuantScheme], on_progress: OnProgress | None = None
) -> list[dict[str, float]]:
    """The :func:`quantviz.error_metrics` of ``x`` under each scheme, all measured in one
    streamed pass over ``x`` (the checkpoint scan's engine): no integers or reconstructions are
    kept, and Σx² is computed once, not once per scheme. With ``on_progress``, the schemes are
    measured one at a time, reporting before each (a stop takes effect between schemes).

    Raises:
        ValueError: for non-finite ``x`` or a scheme whose granularity does not fit it.
    """
    # Imported here: quantviz.scan builds its rows with scheme_row, so a module-level import
    # would be circular.
    from quantviz.scan.engine import tensor_errors

    x = check_input(x)
    if on_progress is None:
        results = tensor_errors(x, schemes)
    else:
        results = []
        for i, scheme in enumerate(schemes):
            report(on_progress, i, len(schemes), scheme.label())
            results += tensor_errors(x, [scheme])
        report(on_progress, len(schemes), len(schemes), "done")
    metrics = []
    for totals in results:
        if isinstance(totals, str):
            raise ValueError(totals)
        metrics.append(totals.metrics())
    return metrics
