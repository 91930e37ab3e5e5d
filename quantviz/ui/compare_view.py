"""The Compare page's choices of granularities and number formats, its highlighted table, and
its computation (with progress and a Stop button)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from pandas.io.formats.style import Styler

import quantviz as qv
from quantviz.figures import error_heatmaps_grid
from quantviz.granularity import num_blocks
from quantviz.metrics import higher_is_better
from quantviz.presets import PRESET_GROUPS, PRESETS
from quantviz.progress import OnProgress, report
from quantviz.scheme import parse_scheme
from quantviz.sweep import sweep_bits
from quantviz.ui.progress import run_with_progress
from quantviz.ui.session import CurrentTensor

_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_SAVED = "cmp_saved"

# Display name and number format of each column of qv.compare shown on the page.
COLUMNS = {
    "scheme": ("Scheme", None),
    "granularity": ("Granularity", None),
    "mse": ("MSE", "{:.4g}"),
    "mae": ("MAE", "{:.4g}"),
    "max_abs_error": ("Max error", "{:.4g}"),
    "sqnr_db": ("SQNR (dB)", "{:.1f}"),
    "num_scales": ("Scales stored", "{:,}"),
    "bits_per_element": ("Bits / element", "{:.3f}"),
    "compression_ratio": ("Compression ×", "{:.2f}"),
}
# Which shown columns count as better when higher, from the core's one list of such metrics;
# every other column with a number format is an error or a cost (the label column has none).
HIGHER_IS_BETTER = [name for col, (name, f) in COLUMNS.items() if f and higher_is_better(col)]
LOWER_IS_BETTER = [name for col, (name, f) in COLUMNS.items() if f and not higher_is_better(col)]
# Visible on light and dark backgrounds alike.
BEST = "font-weight: 700; background-color: rgba(34, 197, 94, 0.28)"


def group_choices(shape: tuple[int, ...]) -> list[int]:
    """Group sizes that split the last dim into at least two groups."""
    return [g for g in _SIZES if g < shape[-1]]


def block_choices(shape: tuple[int, ...]) -> list[str]:
    """Square tiles ("8x8") smaller than the matrix in at least one direction; none for 1-D."""
    if len(shape) < 2:
        return []
    return [f"{t}x{t}" for t in _SIZES if t < max(shape[-2], shape[-1])]


def default_choices(groups: Sequence[int], blocks: Sequence[str]) -> tuple[list, list]:
    """The usual LLM group sizes (up to three, at most 128) and up to two tiles (at most 128)."""
    small_groups = [g for g in groups if g <= 128][-3:]
    small_blocks = [b for b in blocks if int(b.split("x")[0]) <= 128][-2:]
    return small_groups, small_blocks


def seed_choices(token: str, groups: list[int], blocks: list[str]) -> None:
    """Fill the group and tile pickers: defaults for a new tensor, else what was picked last
    time (Streamlit forgets a page's widgets when another page runs)."""
    saved = st.session_state.get(_SAVED)
    if saved is None or saved[0] != token:
        saved = (token, *default_choices(groups, blocks))
    st.session_state.setdefault("cmp_groups", [g for g in saved[1] if g in groups])
    st.session_state.setdefault("cmp_blocks", [b for b in saved[2] if b in blocks])
    st.session_state[_SAVED] = (
        token,
        st.session_state["cmp_groups"],
        st.session_state["cmp_blocks"],
    )


def comparison_granularities(
    shape: tuple[int, ...], groups: Sequence[int], blocks: Sequence[str]
) -> list[qv.Granularity]:
    """Per-tensor, per-row and per-column (2-D and up), the chosen groups (along the last dim)
    and tiles, in that order."""
    grans: list[qv.Granularity] = [qv.PerTensor()]
    if len(shape) >= 2:
        grans += [qv.PerChannel(0), qv.PerChannel(1)]
    grans += [qv.PerGroup(int(g)) for g in sorted(groups)]
    if len(shape) >= 2:
        tiles = sorted(blocks, key=lambda b: int(b.split("x")[0]))
        grans += [qv.PerBlock(*(int(n) for n in b.split("x"))) for b in tiles]
    return grans


FORMATS_KEY = "cmp_formats"
# The preset sets offered as one-click buttons: the sets of the core, by name.
FORMAT_SETS = tuple(PRESET_GROUPS)


def format_options() -> list[str]:
    """What the formats picker offers: every preset, then the schemes of the preset sets that
    are not presets themselves (e.g. ``int4-sym-per-group-128-fp16``)."""
    names = list(PRESETS)
    for members in PRESET_GROUPS.values():
        names += [m for m in members if m not in names]
    return names


def pick_format_set(name: str) -> None:
    """Button callback: the formats picker holds the preset set ``name``."""
    st.session_state[FORMATS_KEY] = list(PRESET_GROUPS[name])


def format_schemes(names: Sequence[str]) -> list[qv.QuantScheme]:
    """The schemes the picked format names stand for, in order.

    Raises:
        ValueError: a name :func:`quantviz.parse_scheme` cannot read (message from the core).
    """
    return [parse_scheme(n) for n in names]


def fitting_schemes(
    shape: tuple[int, ...], schemes: Sequence[qv.QuantScheme]
) -> tuple[list[qv.QuantScheme], list[str]]:
    """The schemes whose granularity fits a tensor of ``shape``, and a note per one that does
    not (``fp8-e4m3-block128`` on a 1-D tensor), so one misfit does not sink the table."""
    fits, notes = [], []
    for scheme in schemes:
        try:
            num_blocks(shape, scheme.granularity)
        except ValueError as exc:
            notes.append(f"{scheme.label()} ({exc})")
        else:
            fits.append(scheme)
    return fits, notes


def row_labels(table: pd.DataFrame, n_granularities: int) -> list[str]:
    """Bar labels: the granularity for the first ``n_granularities`` rows (they share format
    and bits), the scheme's own name for the format rows after them."""
    grans = table["granularity"].astype(str).tolist()[:n_granularities]
    return grans + table["scheme"].astype(str).tolist()[n_granularities:]


def format_words(scheme: qv.QuantScheme) -> str:
    """The element and scale format of a row: ``"fp4_e2m1 · e8m0 scales"`` (a preset's name
    alone does not say it)."""
    element = scheme.format_name
    return f"{element} · {scheme.scale_format} scales"


def styled_table(table: pd.DataFrame) -> Styler:
    """The comparison with readable headers, formatted numbers and the best value of every
    column highlighted."""
    shown = table[list(COLUMNS)].rename(columns={k: v[0] for k, v in COLUMNS.items()})
    shown.insert(2, "Format", [format_words(parse_scheme(str(s))) for s in table["scheme"]])
    formats = {name: f for name, f in COLUMNS.values() if f}
    return (
        shown.style.format(formats)
        .highlight_min(subset=LOWER_IS_BETTER, props=BEST)
        .highlight_max(subset=HIGHER_IS_BETTER, props=BEST)
    )


def _range_name(scheme: qv.QuantScheme) -> str:
    if scheme.range_method == "percentile":
        return f"percentile {scheme.percentile:g} range"
    return {"mse": "MSE-optimal range"}.get(scheme.range_method, "full range")


def comparison_work(
    x: torch.Tensor, schemes: Sequence[qv.QuantScheme]
) -> Callable[[OnProgress | None], tuple[pd.DataFrame, go.Figure]]:
    """The Compare page's computation: the table (one scheme at a time), then each scheme's
    integers for the error maps, reporting every step to ``on_progress``."""

    def work(on_progress: OnProgress | None) -> tuple[pd.DataFrame, go.Figure]:
        n = len(schemes)

        def measuring(done: int, total: int, label: str) -> object:
            if done >= total:
                return None
            return report(
                on_progress, done, 2 * n, f"measuring {schemes[done].granularity.label()}"
            )

        table = qv.compare(x, schemes, on_progress=None if on_progress is None else measuring)
        results = []
        for i, scheme in enumerate(schemes):
            report(on_progress, n + i, 2 * n, f"error map of {scheme.granularity.label()}")
            results.append(qv.quantize(x, scheme))
        report(on_progress, 2 * n, 2 * n, "done")
        return table, error_heatmaps_grid(x, results)

    return work


def run_comparison(
    cur: CurrentTensor, schemes: Sequence[qv.QuantScheme]
) -> tuple[pd.DataFrame, go.Figure] | None:
    """The table and error maps of ``schemes`` on the current tensor, cached; on a large tensor
    with a progress bar and a Stop button. None when the user stopped the run.

    Raises:
        ValueError: the core's message when a scheme does not fit the tensor.
    """
    base = schemes[0]
    what = (
        f"Comparing {len(schemes)} granularities at {base.format_name} "
        f"{'symmetric' if base.symmetric else 'asymmetric'}, {_range_name(base)}"
    )
    key = f"cmp|{cur.token}|{[repr(s) for s in schemes]}"
    work = comparison_work(cur.tensor, schemes)
    return run_with_progress("cmp", key, what, work, cur.tensor.numel())


# The Bit width page's table: readable headers, the columns that matter, each formatted.
SWEEP_COLUMNS = {
    "granularity": ("Granularity", None),
    "symmetric": ("Mapping", None),
    "bits": ("Bits", "{:d}"),
    "bits_per_element": ("Bits / element", "{:.3f}"),
    "sqnr_db": ("SQNR (dB)", "{:.2f}"),
    "ideal_sqnr_db": ("Ideal SQNR (dB)", "{:.2f}"),
    "mse": ("MSE", "{:.4g}"),
    "max_abs_error": ("Max error", "{:.4g}"),
    "num_scales": ("Scales", "{:,}"),
}


def sweep_table(sweep: pd.DataFrame) -> Styler:
    """The sweep with readable headers and formatted numbers (the CSV keeps every column)."""
    shown = sweep[list(SWEEP_COLUMNS)].assign(
        symmetric=sweep["symmetric"].map({True: "symmetric", False: "asymmetric"})
    )
    shown = shown.rename(columns={k: v[0] for k, v in SWEEP_COLUMNS.items()})
    return shown.style.format({name: f for name, f in SWEEP_COLUMNS.values() if f})


def run_sweep(
    cur: CurrentTensor,
    grans: Sequence[qv.Granularity],
    syms: tuple[bool, ...],
    range_method: str,
    bits: Sequence[int],
    range_label: str,
) -> pd.DataFrame | None:
    """:func:`quantviz.sweep.sweep_bits` of the current tensor, cached; on a large tensor with a
    progress bar and a Stop button. None when the user stopped the run."""
    kwargs = dict(
        bits=tuple(bits),
        granularities=tuple(grans),
        symmetric=syms,
        range_method=None if range_method == "full" else range_method,
    )
    n = len(grans) * len(syms) * len(bits)
    what = f"Quantizing {n} ways ({range_label})"
    key = f"bw|{cur.token}|{sorted((k, repr(v)) for k, v in kwargs.items())}"

    def work(on_progress: OnProgress | None) -> pd.DataFrame:
        return sweep_bits(cur.tensor, **kwargs, on_progress=on_progress)

    return run_with_progress("bw", key, what, work, cur.tensor.numel())
