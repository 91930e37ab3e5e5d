"""Cached core calls. Every cache keys on the current tensor's token (a digest computed once when
the tensor was set) rather than rehashing the tensor on every rerun; the tensor itself is passed
as an unhashed ``_x`` argument.

Quantization results stay as shared objects (``cache_resource``: no copy of a large tensor per
rerun); callers only read them. Tables and figures are small and go through ``cache_data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

import quantviz as qv
from quantviz.ui.session import CurrentTensor


@st.cache_resource(max_entries=12, show_spinner=False)
def _quantize(token: str, scheme_key: str, _x: torch.Tensor, _scheme: qv.QuantScheme) -> Any:
    result = qv.quantize(_x, _scheme)
    x_hat = result.dequantize()
    metrics: dict[str, float] = qv.error_metrics(_x, x_hat)
    metrics["bits_per_element"] = qv.bits_per_element(_x.shape, _scheme)
    metrics["clipped"] = qv.clipped_count(_x, result)
    return result, x_hat, metrics


def quantize(
    cur: CurrentTensor, scheme: qv.QuantScheme
) -> tuple[qv.QuantResult, torch.Tensor, dict[str, float]]:
    """``(result, dequantized, metrics)`` of the current tensor under ``scheme``: the metrics of
    :func:`quantviz.error_metrics` plus ``bits_per_element`` and ``clipped`` (a count).

    Raises:
        ValueError: the core's message when the scheme does not fit the tensor.
    """
    return _quantize(cur.token, repr(scheme), cur.tensor, scheme)


@st.cache_data(max_entries=24, show_spinner=False)
def _compare(token: str, keys: tuple[str, ...], _x: torch.Tensor, _schemes: list) -> pd.DataFrame:
    return qv.compare(_x, _schemes)


def compare(cur: CurrentTensor, schemes: Sequence[qv.QuantScheme]) -> pd.DataFrame:
    """:func:`quantviz.compare` of the current tensor, cached."""
    return _compare(cur.token, tuple(repr(s) for s in schemes), cur.tensor, list(schemes))


@st.cache_data(max_entries=12, show_spinner=False)
def _sweep(token: str, key: str, _x: torch.Tensor, _kwargs: dict) -> pd.DataFrame:
    from quantviz.sweep import sweep_bits

    return sweep_bits(_x, **_kwargs)


def sweep(cur: CurrentTensor, **kwargs: Any) -> pd.DataFrame:
    """:func:`quantviz.sweep.sweep_bits` of the current tensor, cached on its keyword arguments."""
    return _sweep(cur.token, repr(sorted(kwargs.items())), cur.tensor, kwargs)


@st.cache_data(max_entries=32, show_spinner=False)
def _describe(token: str, _x: torch.Tensor) -> dict[str, Any]:
    from quantviz.inputs import describe_tensor

    return describe_tensor(_x)


def describe(cur: CurrentTensor) -> dict[str, Any]:
    """:func:`quantviz.inputs.describe_tensor` of the current tensor (full tensor, cached)."""
    return _describe(cur.token, cur.tensor)


@st.cache_data(max_entries=48, show_spinner=False)
def _figure(name: str, key: str, _args: tuple, _kwargs: dict) -> go.Figure:
    from quantviz import figures

    return getattr(figures, name)(*_args, **_kwargs)


def figure(name: str, key: str, *args: Any, **kwargs: Any) -> go.Figure:
    """``quantviz.figures.<name>(*args, **kwargs)``, cached under ``key`` (which must identify
    the arguments: the tensor token, the scheme, options)."""
    return _figure(name, key, args, kwargs)


@st.cache_data(max_entries=12, show_spinner=False)
def _error_grid(token: str, keys: tuple[str, ...], _x: torch.Tensor, _schemes: list) -> go.Figure:
    from quantviz.figures import error_heatmaps_grid

    return error_heatmaps_grid(_x, [qv.quantize(_x, s) for s in _schemes])


def error_grid(cur: CurrentTensor, schemes: Sequence[qv.QuantScheme]) -> go.Figure:
    """One error heatmap per scheme on a shared colour scale (quantized here, not kept: the
    results of a whole comparison would hold several copies of a large tensor)."""
    return _error_grid(cur.token, tuple(repr(s) for s in schemes), cur.tensor, list(schemes))
