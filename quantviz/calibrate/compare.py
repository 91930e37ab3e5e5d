"""Every method × scheme on one layer, in one table."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import torch

from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.calibrate.gptq import gptq
from quantviz.calibrate.hadamard import hadamard
from quantviz.calibrate.output import INT8_PER_TOKEN, output_energy, output_error
from quantviz.calibrate.result import MethodResult
from quantviz.calibrate.rtn import rtn
from quantviz.calibrate.scaling import awq, smoothquant
from quantviz.scheme import QuantScheme, parse_scheme

METHODS: dict[str, Callable[..., MethodResult]] = {
    "rtn": rtn,
    "hadamard": hadamard,
    "smoothquant": smoothquant,
    "awq": awq,
    "gptq": gptq,
}
"""The calibration methods by name, each ``f(W, X, scheme, **params) → MethodResult``."""

COLUMNS = (
    "method",
    "scheme",
    "weight_mse",
    "output_mse",
    "output_rel_error",
    "output_sqnr_db",
    "output_rel_error_a8",
    "seconds",
    "params",
)
"""Columns of :func:`calibrate_compare`, in order."""

Progress = Callable[[int, int, str], None]


def run_method(
    name: str, w: torch.Tensor, x: torch.Tensor, scheme: QuantScheme, **params: Any
) -> MethodResult:
    """Run the method called ``name`` (a key of :data:`METHODS`).

    Raises:
        ValueError: for an unknown method name.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name](w, x, scheme, **params)


def _as_scheme(s: QuantScheme | str) -> QuantScheme:
    return parse_scheme(s) if isinstance(s, str) else s


def _plain(params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if k != "search"}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def calibrate_compare(
    w: torch.Tensor,
    x: torch.Tensor,
    schemes: Sequence[QuantScheme | str],
    methods: Sequence[str] = tuple(METHODS),
    *,
    method_params: dict[str, dict[str, Any]] | None = None,
    on_progress: Progress | None = None,
    keep: dict[tuple[str, str], MethodResult] | None = None,
) -> pd.DataFrame:
    """One row per method × scheme: weight error, output error and time.

    Args:
        w: the layer's weight (out × in), e.g. a tensor picked from a checkpoint.
        x: calibration activations (tokens × in).
        schemes: schemes or scheme names.
        methods: names from :data:`METHODS`.
        method_params: extra keyword arguments per method, e.g. ``{"gptq": {"act_order": True}}``.
        on_progress: called as ``on_progress(done, total, label)`` before each run and once at
            the end.
        keep: if given, filled with each :class:`MethodResult` under ``(method, scheme label)``.

    Returns:
        A DataFrame with :data:`COLUMNS`: ``weight_mse`` (mean of ``(W − Ŵ)²``), ``output_mse``,
        ``output_rel_error`` (``‖ΔY‖/‖Y‖``), ``output_sqnr_db``, ``output_rel_error_a8`` (with
        the activations quantized int8 per token too: for methods meant for W8A8, i.e.
        SmoothQuant, and for RTN as their baseline; NaN otherwise), ``seconds`` (the method's
        own time, without the error measurement) and ``params`` (what the method chose).
    """
    w = check_weight(w)
    x = check_activations(x, w)
    schemes = [_as_scheme(s) for s in schemes]
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    if not schemes or not methods:
        raise ValueError("pick at least one scheme and one method")
    extra = method_params or {}
    energy = output_energy(w, x)
    want_a8 = "smoothquant" in methods
    rows, total, done = [], len(schemes) * len(methods), 0
    for scheme in schemes:
        for m in methods:
            if on_progress is not None:
                on_progress(done, total, f"{m} · {scheme.label()}")
            t0 = time.perf_counter()
            res = run_method(m, w, x, scheme, **extra.get(m, {}))
            seconds = time.perf_counter() - t0
            err = output_error(w, res.w_hat, x, y_energy=energy)
            a8 = math.nan
            if res.act_quantized or (m == "rtn" and want_a8):
                a8 = output_error(
                    w,
                    res.w_hat,
                    x,
                    act_scheme=INT8_PER_TOKEN,
                    act_scale=res.channel_scale,
                    y_energy=energy,
                )["rel_error"]
            rows.append(
                {
                    "method": m,
                    "scheme": scheme.label(),
                    "weight_mse": float((w - res.w_hat).square().mean()),
                    "output_mse": err["mse"],
                    "output_rel_error": err["rel_error"],
                    "output_sqnr_db": err["sqnr_db"],
                    "output_rel_error_a8": a8,
                    "seconds": seconds,
                    "params": _plain(res.params),
                }
            )
            if keep is not None:
                keep[(m, scheme.label())] = res
            done += 1
    if on_progress is not None:
        on_progress(done, total, "done")
    return pd.DataFrame(rows, columns=list(COLUMNS))
