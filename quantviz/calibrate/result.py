"""What a calibration method returns: the reconstructed weight and what the method changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from quantviz.scheme import QuantScheme


@dataclass(frozen=True)
class MethodResult:
    """The outcome of one calibration method on one layer.

    Attributes:
        method: the method's name (``"rtn"``, ``"hadamard"``, ``"smoothquant"``, ``"awq"``,
            ``"gptq"``).
        scheme: the weight scheme.
        w_hat: the reconstructed weight in the layer's own basis (out × in, float32): compare
            ``X Ŵᵀ`` with ``X Wᵀ``.
        w_transformed: the weight the quantizer actually saw (``W H`` for rotation, ``W · s``
            for the scaling methods, ``W`` itself otherwise).
        channel_scale: per-input-channel scale ``s`` (``(in,)``) of SmoothQuant and AWQ: the
            weight's columns were multiplied by ``s`` before quantization (and the activations
            are divided by it).
        rotation: the :class:`~quantviz.calibrate.hadamard.Rotation` of the Hadamard method.
        order: GPTQ's column order (``act_order``), a permutation of ``range(in)``; None when the
            columns went in their own order.
        params: the method's settings and choices (e.g. the searched ``alpha``, the seed, the
            dampening), plain Python values.
        act_quantized: True when the method is meant to quantize the activations too (W8A8).
    """

    method: str
    scheme: QuantScheme
    w_hat: torch.Tensor
    w_transformed: torch.Tensor
    channel_scale: torch.Tensor | None = None
    order: torch.Tensor | None = None
    rotation: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    act_quantized: bool = False
