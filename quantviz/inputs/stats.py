"""Summary numbers for a tensor, as the Home page shows them."""

from __future__ import annotations

from typing import Any

import torch

OUTLIER_SIGMAS = 6.0
"""An element is an outlier when it lies more than this many standard deviations from the mean.

Six sigma is essentially never reached by Gaussian data (about 2 in a billion), so a count above
zero means heavy tails or outlier features: the case where one scale for the whole tensor wastes
most of the quantization grid."""


def describe_tensor(t: torch.Tensor, outlier_sigmas: float = OUTLIER_SIGMAS) -> dict[str, Any]:
    """Shape and value statistics of a tensor.

    Args:
        t: any real tensor with at least one element (computed in float32).
        outlier_sigmas: the outlier threshold in standard deviations.

    Returns:
        dict with shape (tuple), numel, dtype (str), min, max, mean, std (population),
        absmax, outliers (count with |x - mean| > outlier_sigmas·std) and outlier_fraction.
    """
    x = t.detach().to(torch.float32)
    if x.numel() == 0:
        raise ValueError("describe_tensor needs at least one element")
    mean = x.mean()
    std = x.std(correction=0)
    outliers = int(((x - mean).abs() > outlier_sigmas * std).sum()) if std > 0 else 0
    return {
        "shape": tuple(t.shape),
        "numel": t.numel(),
        "dtype": str(t.dtype).removeprefix("torch."),
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(mean),
        "std": float(std),
        "absmax": float(x.abs().max()),
        "outliers": outliers,
        "outlier_fraction": outliers / t.numel(),
    }
