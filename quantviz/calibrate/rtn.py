"""Round-to-nearest: the core's quantization as it is, the baseline every method is measured
against."""

from __future__ import annotations

import torch

from quantviz.calibrate._quantizer import fake_quantize
from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.calibrate.result import MethodResult
from quantviz.scheme import QuantScheme


def rtn(w: torch.Tensor, x: torch.Tensor | None, scheme: QuantScheme) -> MethodResult:
    """Quantize ``w`` with ``scheme``, ignoring the activations (checked when given).

    Args:
        w: weight (out × in).
        x: activations (tokens × in) or None.
        scheme: any scheme of the core.

    Returns:
        A :class:`MethodResult` with ``Ŵ = Q(W)``.
    """
    w = check_weight(w)
    if x is not None:
        check_activations(x, w)
    return MethodResult("rtn", scheme, fake_quantize(w, scheme), w)
