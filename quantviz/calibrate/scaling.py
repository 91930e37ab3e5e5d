"""Per-input-channel scaling: SmoothQuant and AWQ.

Both multiply the weight's columns by ``s`` (and would divide the activations by it, folded into
the previous layer): ``X Wᵀ = (X / s)(W · s)ᵀ``. SmoothQuant picks ``s`` to move activation
outliers into the weight so both quantize to 8 bits; AWQ picks it to protect the weight columns
that meet large activations, searching the exponent that minimises the output error.
"""

from __future__ import annotations

import torch

from quantviz.calibrate._quantizer import fake_quantize, rows_independent
from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.calibrate.output import INT8_PER_TOKEN, delta_energy, output_energy, output_error
from quantviz.calibrate.result import MethodResult
from quantviz.scheme import QuantScheme

SEARCH_TOKENS = 256
"""Tokens (evenly spaced) the α searches evaluate; the final errors use every token."""
SEARCH_ROWS = 1024
"""Output rows (evenly spaced) the α searches evaluate when the scheme quantizes each row on
its own, so those rows quantize exactly as in the whole weight; otherwise every row."""


def search_subset(x: torch.Tensor, k: int = SEARCH_TOKENS) -> torch.Tensor:
    """At most ``k`` rows of ``x`` (tokens of activations, rows of a weight), evenly spaced
    (all of them when there are fewer)."""
    if x.shape[0] <= k:
        return x
    idx = torch.linspace(0, x.shape[0] - 1, k).round().long().unique()
    return x[idx]


def search_rows(w: torch.Tensor, scheme: QuantScheme) -> torch.Tensor:
    """The rows of ``w`` an α search evaluates (see :data:`SEARCH_ROWS`)."""
    return search_subset(w, SEARCH_ROWS) if rows_independent(scheme) else w


def alpha_grid(n: int = 20) -> list[float]:
    """``n`` exponents evenly spaced in ``[0, 1)``: ``0, 1/n, …, (n−1)/n``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the grid needs a positive number of points, got {n!r}")
    return [i / n for i in range(n)]


def _scaled(w: torch.Tensor, s: torch.Tensor, scheme: QuantScheme) -> tuple[torch.Tensor, ...]:
    ws = w * s
    return fake_quantize(ws, scheme) / s, ws


def smoothquant_scale(x_absmax: torch.Tensor, w_absmax: torch.Tensor, alpha: float):
    """``s_j = max|X_j|^α / max|W_j|^(1−α)``, both maxima floored at 1e-5 (as the paper's code)."""
    a, b = x_absmax.clamp_min(1e-5), w_absmax.clamp_min(1e-5)
    return (a.pow(alpha) / b.pow(1 - alpha)).clamp_min(1e-5)


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1] or 'search', got {alpha!r}")
    return float(alpha)


def smoothquant(
    w: torch.Tensor,
    x: torch.Tensor,
    scheme: QuantScheme,
    *,
    alpha: float | str = 0.5,
    grid: int = 20,
    act_scheme: QuantScheme = INT8_PER_TOKEN,
) -> MethodResult:
    """SmoothQuant's migration ``s_j = max|X_j|^α / max|W_j|^(1−α)``, then ``Ŵ = Q(W s) / s``.

    Args:
        w: weight (out × in).
        x: activations (tokens × in).
        scheme: the weight scheme.
        alpha: the migration strength in [0, 1] (0.5 in the paper), or ``"search"``: the value
            of :func:`alpha_grid` with the least output error when the activations are quantized
            too (``act_scheme``), on :func:`search_subset` of the tokens.
        grid: number of α values searched.
        act_scheme: the activation scheme of W8A8 (int8 per token).

    Returns:
        A :class:`MethodResult` with ``channel_scale = s``, ``act_quantized = True`` and
        ``params["alpha"]`` (and ``params["search"]``: (α, relative error) pairs when searched).
    """
    w = check_weight(w)
    x = check_activations(x, w)
    x_max, w_max = x.abs().amax(0), w.abs().amax(0)
    params: dict = {}
    if alpha == "search":
        sub, w_sub = search_subset(x), search_rows(w, scheme)
        energy = output_energy(w_sub, sub)
        tried = []
        for a in alpha_grid(grid):
            s = smoothquant_scale(x_max, w_max, a)
            w_hat, _ = _scaled(w_sub, s, scheme)
            err = output_error(
                w_sub, w_hat, sub, act_scheme=act_scheme, act_scale=s, y_energy=energy
            )
            tried.append((a, float(err["rel_error"])))
        alpha = min(tried, key=lambda t: t[1])[0]
        params["search"] = tried
    alpha = _check_alpha(alpha)
    s = smoothquant_scale(x_max, w_max, alpha)
    w_hat, ws = _scaled(w, s, scheme)
    params = {"alpha": alpha, **params}
    return MethodResult(
        "smoothquant", scheme, w_hat, ws, channel_scale=s, params=params, act_quantized=True
    )


def awq_scale(x_absmean: torch.Tensor, alpha: float) -> torch.Tensor:
    """``s = mean|X_j|^α`` floored at 1e-4, normalised so ``max(s) · min(s) = 1`` (in log space,
    so equal activations give exactly ``s = 1``)."""
    log_s = x_absmean.pow(alpha).clamp_min(1e-4).log()
    return (log_s - (log_s.amax() + log_s.amin()) / 2).exp()


def awq(w: torch.Tensor, x: torch.Tensor, scheme: QuantScheme, *, grid: int = 20) -> MethodResult:
    """AWQ: ``s = mean|X_j|^α`` with α searched over :func:`alpha_grid` (20 points in [0, 1),
    as in the paper) for the least output error ``‖X (W − Ŵ)ᵀ‖`` on :func:`search_subset` of the
    tokens (and :func:`search_rows` of the weight); weight-only, ``Ŵ = Q(W s) / s``. α = 0 is
    plain RTN, so the search never does worse than RTN on what it sees.

    Returns:
        A :class:`MethodResult` with ``channel_scale = s``, ``params["alpha"]`` and
        ``params["search"]`` ((α, squared output error) pairs).
    """
    w = check_weight(w)
    x = check_activations(x, w)
    x_mean = x.abs().mean(0)
    sub, w_sub = search_subset(x), search_rows(w, scheme)
    tried = []
    for a in alpha_grid(grid):
        w_hat, _ = _scaled(w_sub, awq_scale(x_mean, a), scheme)
        tried.append((a, float(delta_energy(sub, w_sub - w_hat).sum())))
    alpha = min(tried, key=lambda t: t[1])[0]
    s = awq_scale(x_mean, alpha)
    w_hat, ws = _scaled(w, s, scheme)
    return MethodResult(
        "awq", scheme, w_hat, ws, channel_scale=s, params={"alpha": alpha, "search": tried}
    )
