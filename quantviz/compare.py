"""Side-by-side comparison of quantization schemes on one tensor."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from quantviz.format_scales import DQ_BLOCK
from quantviz.formats import SCALE_FORMAT_BITS
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
    shape: tuple[int, ...] | torch.Size, scheme: QuantScheme, scale_bits: int | None = None
) -> float:
    """Storage cost per element: the payload plus every scale (and zero point) spread over the
    elements, each at its real width.

    Scales count their scale format's width (:data:`quantviz.formats.SCALE_FORMAT_BITS`: fp32 32,
    fp16/bf16 16, fp8_e4m3/e8m0 8) unless ``scale_bits`` overrides it. Integer zero points count
    ``scheme.bits`` each; float zero points (``float_zero_point``) a scale's width. NVFP4's
    per-tensor scale adds 32 bits per tensor; double quantization counts each scale as 8 bits plus
    one fp32 per 256 scales and the fp32 mean. So int4 sym per-group(32) is ``4 + 32/32 = 5.0``
    (fp32 scales) or 4.5 (fp16), MXFP4 4.25, NVFP4 ≈ 4.5, nf4-g64 4.5, nf4-g64-dq ≈ 4.127,
    q4_0 4.5 and q4_1 5.0 (as llama.cpp's block sizes say).
    """
    if scale_bits is None:
        scale_bits = 8 if scheme.double_quant else SCALE_FORMAT_BITS[scheme.scale_format]
    if isinstance(scale_bits, bool) or not isinstance(scale_bits, int) or scale_bits < 0:
        raise ValueError(f"scale_bits must be a non-negative integer, got {scale_bits!r}")
    numel = math.prod(shape)
    if numel == 0:
        raise ValueError(f"no elements in shape {tuple(shape)}: bits per element is undefined")
    blocks = num_blocks(shape, scheme.granularity)
    if scheme.symmetric:
        zero_point_bits = 0
    else:
        zero_point_bits = scale_bits if scheme.float_zero_point else scheme.bits
    overhead = blocks * (scale_bits + zero_point_bits)
    if scheme.tensor_scale:
        overhead += 32
    if scheme.double_quant:
        overhead += 32 * math.ceil(blocks / DQ_BLOCK) + 32
    return scheme.bits + overhead / numel


def scheme_row(
    shape: tuple[int, ...] | torch.Size,
    scheme: QuantScheme,
    metrics: dict[str, float],
    scale_bits: int | None = None,
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
    scale_bits: int | None = None,
    on_progress: OnProgress | None = None,
) -> pd.DataFrame:
    """Quantize ``x`` with every scheme and tabulate the errors and storage costs.

    Args:
        x: finite floating-point tensor.
        schemes: the schemes to compare; a scheme whose granularity does not fit ``x`` (such as
            per-block on a 1-D tensor) raises ``ValueError``.
        scale_bits: storage bits of one scale; None (default) counts each scheme's scale
            format (fp32 32, fp16 16, e8m0 8 ...).
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
