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
    # A full range clips nothing by construction: skip the pass over the tensor.
    full = _scheme.range_method in ("absmax", "minmax")
    metrics["clipped"] = 0 if full else qv.clipped_count(_x, result)
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


@st.cache_resource(max_entries=32, show_spinner=False)
def _panel(key: str, name: str, _x: torch.Tensor, _result: Any, _x_hat: Any, _window: Any,
           _clip: Any, _like: Any) -> Any:  # fmt: skip
    from quantviz.figures import panels

    if name == "original":
        return panels.value_panel(_x, "original", window=_window, clip=_clip)
    if name == "dequantized":
        return panels.value_panel(_x_hat, "dequantized", like=_like)
    if name == "quantized":
        return panels.integer_panel(_result, window=_window)
    return panels.error_panel(_x_hat - _x, window=_window)


@st.cache_data(max_entries=48, show_spinner=False)
def _panel_figure(key: str, _panel: Any, _shape: tuple, _gran: Any) -> go.Figure:
    from quantviz.figures.panel_draw import panel_figure as build

    # The original takes clicks and boxes (the zoom): it gets points a selection can land on.
    return build(_panel, _shape, _gran, click_targets=32 if _panel.name == "original" else 0)


def panel_figure(
    name: str,
    cur: CurrentTensor,
    scheme: qv.QuantScheme,
    result: qv.QuantResult,
    x_hat: torch.Tensor,
    window: Any,
    clip: float | None,
) -> go.Figure:
    """One of the Quantize page's four heatmap panels, cached on exactly what it depends on:
    the original on the tensor, window and colour range (not the scheme), the integers and the
    error on the tensor, scheme and window (not the colour range). An unchanged panel is then
    the same figure, which Streamlit sends as a reference the browser resolves from its cache.
    """
    where = f"{cur.token}|{window.slug() if window else 'all'}"
    orig_key = f"original|{where}|{clip}"
    keys = {
        "original": orig_key,
        "quantized": f"quantized|{where}|{scheme!r}",
        "dequantized": f"dequantized|{where}|{scheme!r}|{clip}",
        "error": f"error|{where}|{scheme!r}",
    }
    like = None
    if name == "dequantized":  # the original's elements, on its colour range
        like = _panel(orig_key, "original", cur.tensor, None, None, window, clip, None)
    panel = _panel(keys[name], name, cur.tensor, result, x_hat, window, clip, like)
    return _panel_figure(keys[name], panel, tuple(cur.tensor.shape), scheme.granularity)


@st.cache_data(max_entries=24, show_spinner=False)
def _worst_block(token: str, key: str, _x: torch.Tensor, _result: Any, _x_hat: Any) -> int:
    from quantviz.figures._common import block_squared_errors

    return int(torch.argmax(block_squared_errors(_x, _result, _x_hat)))


def worst_block(cur: CurrentTensor, result: qv.QuantResult, x_hat: torch.Tensor) -> int:
    """The block (flat index into the scales) with the most squared error."""
    if result.num_scales == 1:
        return 0
    return _worst_block(cur.token, repr(result.scheme), cur.tensor, result, x_hat)
