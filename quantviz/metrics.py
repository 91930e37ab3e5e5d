"""Error metrics between a tensor and its reconstruction."""

from __future__ import annotations

import math

import torch

from quantviz.kernels import dequantized_error_sums, error_sums
from quantviz.quantize import QuantResult, param_layout, refuse_non_finite

# Metrics where a larger value is better; every other column of a comparison is an error or a cost.
HIGHER_IS_BETTER = frozenset({"sqnr_db", "compression_ratio"})


def higher_is_better(metric: str) -> bool:
    """True for SQNR and compression ratio, False for errors (MSE, MAE, ...) and costs."""
    return metric in HIGHER_IS_BETTER


def sqnr_db(signal_power: float, noise_power: float) -> float:
    """Signal-to-quantization-noise ratio in dB, ``10·log10(P_signal / P_noise)``.

    Defined at the edges instead of NaN: ``inf`` when the noise is zero (a perfect reconstruction,
    an all-zero input included), ``-inf`` when the signal is zero but the noise is not.
    """
    if noise_power == 0.0:
        return math.inf
    if signal_power == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal_power / noise_power)


def ideal_sqnr_db(bits: int) -> float:
    """The textbook SQNR of a full-scale sine through a ``bits``-bit uniform quantizer,
    ``6.02·bits + 1.76`` dB: a reference line, not a bound, for real data."""
    return 6.02 * bits + 1.76


def error_metrics(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, float]:
    """How far ``x_hat`` is from ``x``.

    Args:
        x: the original float tensor.
        x_hat: the reconstruction, same shape.

    Returns:
        ``mse``, ``rmse``, ``mae``, ``max_abs_error``, ``sqnr_db`` (see :func:`sqnr_db`),
        ``signal_power`` (mean of x²) and ``rel_error`` (‖x − x̂‖ / ‖x‖, ``inf`` for a zero x with
        a non-zero error, 0 when both are zero), all Python floats.

    Raises:
        ValueError: if the shapes differ.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"shape mismatch: original {tuple(x.shape)} vs {tuple(x_hat.shape)}")
    x, x_hat = _as_float32(x, "original"), _as_float32(x_hat, "reconstruction")
    sums = error_sums(x, x_hat)
    if not all(math.isfinite(v) for v in sums):
        refuse_non_finite(x)
        refuse_non_finite(x_hat)
    return metrics_from_sums(*sums, n=x.numel())


def _as_float32(t: torch.Tensor, what: str) -> torch.Tensor:
    if not t.is_floating_point():
        raise ValueError(f"the {what} must be a floating-point tensor, got dtype {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"the {what} is empty (shape {tuple(t.shape)}): no error to measure")
    return t.detach().to(torch.float32)


def quantization_error(x: torch.Tensor, result: QuantResult) -> dict[str, float]:
    """``error_metrics(x, result.dequantize())`` without building the reconstruction: each
    cache-sized slice is dequantized and compared on the spot, so it costs about as much as
    the quantization itself and allocates nothing full-size.

    Args:
        x: the tensor that was quantized.
        result: what :func:`quantviz.quantize` returned for it.

    Returns:
        The same mapping as :func:`error_metrics`.

    Raises:
        ValueError: if ``x`` and ``result.q`` differ in shape.
    """
    if x.shape != result.q.shape:
        raise ValueError(f"shape mismatch: original {tuple(x.shape)} vs {tuple(result.q.shape)}")
    if not result.scheme.is_plain_integer:
        # Other formats decode through a table: measured on the reconstruction, by the same
        # accumulator as error_metrics.
        return error_metrics(x, result.dequantize())
    layout = param_layout(result.q, result.scale, result.zero_point, result.scheme)
    x_view = _as_float32(x, "original").reshape(layout.data.shape)
    sums = dequantized_error_sums(layout, x_view, result.scheme.symmetric)
    if not all(math.isfinite(v) for v in sums):
        refuse_non_finite(x_view)
    return metrics_from_sums(*sums, n=x.numel())


def metrics_from_sums(sq: float, ab: float, peak: float, sig: float, n: int) -> dict[str, float]:
    """The :func:`error_metrics` mapping from running totals over ``n`` elements:
    ``sq`` = Σ(x̂ − x)², ``ab`` = Σ|x̂ − x|, ``peak`` = max|x̂ − x|, ``sig`` = Σx²."""
    err_l2, sig_l2 = math.sqrt(sq), math.sqrt(sig)
    mse, mae, signal_power = sq / n, ab / n, sig / n
    if err_l2 == 0.0:
        rel = 0.0
    elif sig_l2 == 0.0:
        rel = math.inf
    else:
        rel = err_l2 / sig_l2
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": mae,
        "max_abs_error": peak,
        "sqnr_db": sqnr_db(signal_power, mse),
        "signal_power": signal_power,
        "rel_error": rel,
    }
