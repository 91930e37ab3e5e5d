"""What the layer outputs: the error of ``Y = X Wᵀ`` when ``W`` (and perhaps ``X``) is quantized,
accumulated over chunks of tokens so nothing larger than ``Y`` is ever built."""

from __future__ import annotations

import math

import torch

from quantviz.calibrate._quantizer import fake_quantize
from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.granularity import PerChannel
from quantviz.metrics import sqnr_db
from quantviz.scheme import QuantScheme

CHUNK_ELEMENTS = 1 << 22
"""Output elements (tokens × out_features) computed at a time: 16 MiB of float32."""

INT8_PER_TOKEN = QuantScheme(bits=8, symmetric=True, granularity=PerChannel(0))
"""The activation scheme of W8A8 (SmoothQuant): int8 symmetric, one scale per token."""


def _chunk_tokens(n_tokens: int, n_out: int) -> int:
    return max(1, min(n_tokens, CHUNK_ELEMENTS // max(1, n_out)))


def output_energy(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ over tokens of ``Y²`` per output channel (float64, shape ``(out,)``), for reuse across
    many :func:`output_error` calls on the same layer."""
    w = check_weight(w)
    x = check_activations(x, w)
    step = _chunk_tokens(x.shape[0], w.shape[0])
    total = torch.zeros(w.shape[0], dtype=torch.float64)
    wt = w.t()
    for t0 in range(0, x.shape[0], step):
        total += (x[t0 : t0 + step] @ wt).square().sum(0, dtype=torch.float64)
    return total


def delta_energy(x: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """Σ over tokens of ``ΔY²`` per output channel for ``ΔY = X ΔWᵀ`` (float64, ``(out,)``),
    computed from ``ΔW = W − Ŵ`` directly, one chunk of tokens at a time."""
    step = _chunk_tokens(x.shape[0], dw.shape[0])
    total = torch.zeros(dw.shape[0], dtype=torch.float64)
    dwt = dw.t()
    for t0 in range(0, x.shape[0], step):
        total += (x[t0 : t0 + step] @ dwt).square().sum(0, dtype=torch.float64)
    return total


def output_error(
    w: torch.Tensor,
    w_hat: torch.Tensor,
    x: torch.Tensor,
    *,
    act_scheme: QuantScheme | None = None,
    act_scale: torch.Tensor | None = None,
    y_energy: torch.Tensor | None = None,
) -> dict[str, float | torch.Tensor]:
    """How far ``X Ŵᵀ`` is from ``Y = X Wᵀ``.

    Args:
        w: the original weight (out × in).
        w_hat: its reconstruction, same shape.
        x: activations (tokens × in).
        act_scheme: also quantize the activations with this scheme (e.g. :data:`INT8_PER_TOKEN`;
            one chunk of tokens at a time, so only per-token schemes are exact here).
        act_scale: SmoothQuant's per-input-channel scale ``s``: the quantized activations are
            ``Q(X / s)`` and they meet ``Ŵ · s``; only with ``act_scheme``.
        y_energy: :func:`output_energy` of ``(w, x)`` if already known (saves one product).

    Returns:
        ``mse`` (mean of ``ΔY²``), ``rel_error`` (``‖ΔY‖ / ‖Y‖``), ``sqnr_db`` (output SQNR) as
        floats, and ``per_channel``: the MSE of each output channel, a float32 tensor ``(out,)``.

    Raises:
        ValueError: shapes that do not fit, or NaN/inf in the activations.
    """
    w = check_weight(w)
    w_hat = check_weight(w_hat)
    if w_hat.shape != w.shape:
        raise ValueError(f"Ŵ has shape {tuple(w_hat.shape)} but W has {tuple(w.shape)}")
    x = check_activations(x, w)
    if act_scale is not None and act_scheme is None:
        raise ValueError("act_scale only applies when the activations are quantized (act_scheme)")
    n_tok, n_out = x.shape[0], w.shape[0]
    step = _chunk_tokens(n_tok, n_out)
    err = torch.zeros(n_out, dtype=torch.float64)
    need_y = y_energy is None
    sig = torch.zeros(n_out, dtype=torch.float64) if need_y else y_energy.to(torch.float64)
    if act_scheme is None:
        dwt = (w - w_hat).t()
    else:
        s = torch.ones(w.shape[1]) if act_scale is None else act_scale.to(torch.float32)
        w_hat_t = (w_hat * s).t()
    wt = w.t()
    for t0 in range(0, n_tok, step):
        xc = x[t0 : t0 + step]
        y = xc @ wt if (need_y or act_scheme is not None) else None
        if need_y:
            sig += y.square().sum(0, dtype=torch.float64)
        # weight-only: ΔY = X ΔWᵀ straight from ΔW; W8A8: Y − Q(X / s) (Ŵ s)ᵀ
        dy = xc @ dwt if act_scheme is None else y - fake_quantize(xc / s, act_scheme) @ w_hat_t
        err += dy.square().sum(0, dtype=torch.float64)
    total_err, total_sig = float(err.sum()), float(sig.sum())
    n = n_tok * n_out
    if total_err == 0.0:
        rel = 0.0
    elif total_sig == 0.0:
        rel = math.inf
    else:
        rel = math.sqrt(total_err / total_sig)
    return {
        "mse": total_err / n,
        "rel_error": rel,
        "sqnr_db": sqnr_db(total_sig / n, total_err / n),
        "per_channel": (err / n_tok).to(torch.float32),
    }
