"""The Calibrate page's widgets: where X comes from, which schemes and methods, the run with its
progress, and the highlighted table. The numbers come from :mod:`quantviz.calibrate`."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from pandas.io.formats.style import Styler

import quantviz as qv
from quantviz.calibrate import MethodResult, calibrate_compare, load_activations
from quantviz.figures import calibrate as figures

MAX_WEIGHT_ELEMENTS = 1 << 24
"""Largest weight the page calibrates (16 Mi elements, a 4096×4096 layer)."""
MAX_ACTIVATION_ELEMENTS = 1 << 24
"""Largest activations (tokens × in_features) the page takes."""
MAX_KEPT_ELEMENTS = 1 << 27
"""What one run may keep for the figures (every Ŵ and transformed W): 512 MiB of float32."""
_TRANSFORMING = ("hadamard", "smoothquant", "awq")

METHOD_NOTES: dict[str, tuple[str, str, str]] = {
    "rtn": (
        "RTN (round to nearest)",
        "Quantizes each weight to the nearest grid point of its scheme, ignoring the "
        "activations. It is the baseline every other method must beat on the layer's output.",
        "https://arxiv.org/abs/2106.08295",
    ),
    "hadamard": (
        "Hadamard rotation (QuaRot / QuIP#)",
        "Multiplies the weight by a seeded random orthogonal Hadamard matrix H, which spreads "
        "every outlier over many channels, quantizes, and rotates back: Ŵ = Q(W H) Hᵀ. Widths "
        "that are not a power of two use blocks of the largest power of two that divides them.",
        "https://arxiv.org/abs/2404.00456",
    ),
    "smoothquant": (
        "SmoothQuant",
        "Divides activation channel j by s_j = max|X_j|^α / max|W_j|^(1−α) and multiplies "
        "weight column j by it, moving outliers from the activations into the weights. It aims "
        "at W8A8, so the table also gives the error with int8 per-token activations.",
        "https://arxiv.org/abs/2211.10438",
    ),
    "awq": (
        "AWQ (activation-aware weight quantization)",
        "Scales up the weight columns that meet large activations (s = mean|X_j|^α, the "
        "inverse folded into the previous layer) so they round more finely. It searches α over "
        "20 values in [0, 1) for the least output error; weight-only.",
        "https://arxiv.org/abs/2306.00978",
    ),
    "gptq": (
        "GPTQ",
        "Quantizes the weight one column at a time and spreads each column's rounding error "
        "over the columns not yet quantized, through the inverse Hessian of XᵀX + λI. It "
        "minimises the output error with second-order information, in blocks of 128 columns.",
        "https://arxiv.org/abs/2210.17323",
    ),
}

COLUMNS = {
    "method": ("Method", None),
    "scheme": ("Scheme", None),
    "output_rel_error": ("Output rel. error", "{:.5f}"),
    "output_sqnr_db": ("Output SQNR (dB)", "{:.2f}"),
    "weight_mse": ("Weight MSE", "{:.4g}"),
    "output_rel_error_a8": ("Output rel. error, int8 X", "{:.5f}"),
    "seconds": ("Seconds", "{:.2f}"),
    "params": ("Chosen", None),
}
BEST = "font-weight: 700; background-color: rgba(34, 197, 94, 0.28)"
_X = "cal_x"  # (activations, description, digest): the last good X


def scheme_choices(n_in: int) -> list[str]:
    """Scheme names offered for a weight with ``n_in`` columns (groups no wider than it)."""
    names = [
        "int4-sym-per-group-128",
        "int4-asym-per-group-128",
        "int4-sym-per-group-32",
        "int3-sym-per-group-128",
        "int4-sym-per-row",
        "int8-sym-per-row",
        "int8-sym-per-tensor",
    ]
    return [n for n in names if "group" not in n or int(n.rsplit("-", 1)[1]) <= n_in]


def default_schemes(n_in: int) -> list[str]:
    return ["int4-sym-per-group-128"] if n_in >= 128 else ["int4-sym-per-row"]


def size_problem(w: torch.Tensor) -> str | None:
    """Why the page cannot calibrate ``w``, or None."""
    if w.dim() != 2:
        shape = "×".join(str(n) for n in w.shape)
        return (
            f"Calibration needs a 2-D weight (out_features × in_features), like a Linear layer's; "
            f"the current tensor is {shape}. Pick a layer on the Model page or generate a matrix "
            "on Home."
        )
    if w.numel() > MAX_WEIGHT_ELEMENTS:
        return (
            f"This weight has {w.numel():,} elements; the page calibrates up to "
            f"{MAX_WEIGHT_ELEMENTS:,} (4096×4096). Use `python -m quantviz calibrate` for larger."
        )
    return None


def run_problem(w: torch.Tensor, schemes: list[str], methods: list[str]) -> str | None:
    """Why this run would keep too much for the page (every Ŵ and transformed weight), or None."""
    per_scheme = len(methods) + sum(m in _TRANSFORMING for m in methods)
    kept = w.numel() * per_scheme * len(schemes)
    if kept <= MAX_KEPT_ELEMENTS:
        return None
    fits = max(0, MAX_KEPT_ELEMENTS // (w.numel() * per_scheme))
    return (
        f"{len(schemes)} schemes × {len(methods)} methods on a {w.shape[0]}×{w.shape[1]} weight "
        f"would keep {kept:,} values for the charts (the page keeps up to "
        f"{MAX_KEPT_ELEMENTS:,}); pick at most {fits} scheme(s) at a time here, or use "
        "`python -m quantviz calibrate` for the whole table."
    )


def _digest(x: torch.Tensor) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(str(tuple(x.shape)).encode())
    h.update(x.contiguous().numpy().tobytes())
    return h.hexdigest()


def _keep(x: torch.Tensor, desc: str) -> None:
    st.session_state[_X] = (x, desc, _digest(x))


@st.cache_resource(max_entries=4, show_spinner=False)
def _generated(shape: tuple[int, int], seed: int, outliers: int, scale: float, spread: float):
    """Generated activations and their digest, made once per setting (not on every rerun)."""
    x = qv.generate(
        "activations", shape, seed=seed, outliers=outliers, outlier_scale=scale, spread=spread
    )
    return x, _digest(x)


def activation_source(w: torch.Tensor) -> tuple[torch.Tensor, str, str] | None:
    """Widgets for X: generated (tokens, outlier channels, their scale, spread, seed) or an
    upload. Bad input shows a message and keeps the last good X.

    Returns:
        ``(x, description, digest)`` or None when there is no usable X yet.
    """
    n_in = w.shape[1]
    kind = st.radio(
        "Calibration activations X", ["Generate", "Upload"], key="cal_source", horizontal=True
    )
    if kind == "Generate":
        c = st.columns(5)
        tokens = c[0].number_input("Tokens", 1, 4096, min(512, 4096), key="cal_tokens")
        outliers = c[1].number_input("Outlier channels", 0, n_in, min(4, n_in), key="cal_outliers")
        scale = c[2].number_input("Outlier scale ×", 1.0, 1000.0, 50.0, key="cal_outlier_scale")
        spread = c[3].number_input("Channel spread σ", 0.0, 3.0, 0.5, key="cal_spread")
        seed = c[4].number_input("Seed", 0, 2**31 - 1, 0, key="cal_seed")
        if int(tokens) * n_in > MAX_ACTIVATION_ELEMENTS:
            st.error(
                f"{int(tokens)} tokens × {n_in} features is more than "
                f"{MAX_ACTIVATION_ELEMENTS:,} values; use fewer tokens."
            )
        else:
            x, digest = _generated(
                (int(tokens), n_in), int(seed), int(outliers), float(scale), float(spread)
            )
            desc = f"generated: {int(tokens)} tokens, {int(outliers)} outlier channels ×{scale:g}"
            st.session_state[_X] = (x, desc, digest)
    else:
        up = st.file_uploader(
            f"Activations: tokens × {n_in} (.npy, .safetensors, .pt — no pickle)",
            type=["npy", "safetensors", "pt"],
            key="cal_upload",
        )
        if up is not None:
            try:
                x = load_activations(
                    up.getvalue(), up.name, w, max_elements=MAX_ACTIVATION_ELEMENTS
                )
                _keep(x, f"{up.name}: {x.shape[0]} tokens")
            except ValueError as exc:
                st.error(f"{exc} The last good activations stay in use.")
    kept = st.session_state.get(_X)
    if kept is None or kept[0].shape[1] != n_in:
        return None
    return kept


def method_params() -> dict[str, dict[str, Any]]:
    """SmoothQuant's α (or its search) and GPTQ's act-order and dampening."""
    with st.expander("Method settings"):
        c = st.columns(4)
        search = c[0].checkbox("Search SmoothQuant α", key="cal_alpha_search")
        alpha = c[1].slider("SmoothQuant α", 0.0, 1.0, 0.5, 0.05, key="cal_alpha", disabled=search)
        act_order = c[2].checkbox("GPTQ act-order", key="cal_act_order")
        damp = c[3].number_input(
            "GPTQ dampening", 0.0, 1.0, 0.01, 0.005, key="cal_damp", format="%.3f"
        )
    return {
        "smoothquant": {"alpha": "search" if search else float(alpha)},
        "gptq": {"act_order": bool(act_order), "percdamp": float(damp)},
    }


def run(
    w: torch.Tensor,
    x: torch.Tensor,
    schemes: list[str],
    methods: list[str],
    params: dict[str, dict[str, Any]],
) -> tuple[pd.DataFrame, dict[tuple[str, str], MethodResult]]:
    """:func:`quantviz.calibrate_compare` with a progress bar that names each method."""
    bar = st.progress(0.0, text="Starting…")
    keep: dict[tuple[str, str], MethodResult] = {}

    def progress(done: int, total: int, label: str) -> None:
        bar.progress(done / max(total, 1), text=f"{done}/{total} · {label}")

    table = calibrate_compare(
        w, x, schemes, methods, method_params=params, on_progress=progress, keep=keep
    )
    bar.empty()
    return table, keep


def styled_table(table: pd.DataFrame) -> Styler:
    """The results with readable headers; per scheme, the least output error and the highest
    output SQNR in bold green."""
    shown = table[list(COLUMNS)].rename(columns={k: v[0] for k, v in COLUMNS.items()})
    # Only W8A8 rows have this number; the grid would print "None" for a missing float.
    a8 = COLUMNS["output_rel_error_a8"][0]
    shown[a8] = [("–" if v != v else f"{v:.5f}") for v in shown[a8]]
    err, sqnr = COLUMNS["output_rel_error"][0], COLUMNS["output_sqnr_db"][0]
    scheme = COLUMNS["scheme"][0]
    best_err = shown.groupby(scheme)[err].transform("min")
    best_sqnr = shown.groupby(scheme)[sqnr].transform("max")

    def highlight(df: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        css.loc[df[err] == best_err, err] = BEST
        css.loc[df[sqnr] == best_sqnr, sqnr] = BEST
        return css

    fmt = {v[0]: v[1] for k, v in COLUMNS.items() if v[1] and k != "output_rel_error_a8"}
    return shown.style.apply(highlight, axis=None).format(fmt, na_rep="–")


def method_notes(methods: list[str]) -> None:
    """Two sentences per method and a link to its paper."""
    for m in methods:
        title, text, link = METHOD_NOTES[m]
        st.markdown(f"**{title}** — {text} [Paper]({link})")


@st.cache_data(max_entries=16, show_spinner=False)
def _figure(name: str, key: str, _args: tuple) -> go.Figure:
    return getattr(figures, name)(*_args)


def figure(name: str, key: str, *args: Any) -> go.Figure:
    """``quantviz.figures.calibrate.<name>(*args)``, cached under ``key``, which must identify
    the arguments (the run and the choices): a rerun does not redo the products behind it."""
    return _figure(name, key, args)
