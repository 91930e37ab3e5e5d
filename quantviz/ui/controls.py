"""The shared scheme widgets: bits, symmetry, signedness, granularity, range method.

Widget keys are ``f"{key_prefix}_{field}"`` with field one of :data:`FIELDS`. Their values are
seeded from the shared settings whenever a page first draws them (Streamlit drops a page's widget
state when another page runs), and written back after every change, so the scheme carries across
pages and into the URL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import streamlit as st

import quantviz as qv
from quantviz.ui.session import get_settings, scheme_from_settings, set_settings, write_url

# Every width the core supports, so a shared URL with, say, 12 bits never falls back silently.
BITS_OPTIONS = list(range(2, 17))
GRANULARITIES = ["per-tensor", "per-row", "per-column", "per-group", "per-block"]
RANGE_LABELS = {"full": "Full range", "percentile": "Percentile clip", "mse": "MSE-optimal"}
GROUP_AXES = {"rows": "along each row (last dim)", "columns": "down each column (dim 0)"}
FIELDS = ("bits", "sym", "signed", "gran", "group", "gaxis", "brows", "bcols", "range", "pct")
# The settings each drawn control owns; a page that does not draw a control leaves them alone.
PART_FIELDS = {
    "bits": ("bits",),
    "sym": ("sym",),
    "signed": ("signed",),
    "gran": ("gran", "group", "gaxis", "brows", "bcols"),
    "range": ("range", "pct"),
}
ALL_PARTS = tuple(PART_FIELDS)


def suggested_size(length: int, cap: int = 128) -> int:
    """A group or tile size that splits ``length`` into a few pieces: the power of two at or
    above half of it, capped at the power of two at or below ``cap`` (3 -> 2, 64 -> 32,
    4096 -> 128)."""
    if length <= 2 or cap < 2:
        return 1
    return min(2 ** int(math.log2(cap)), 2 ** math.ceil(math.log2(length / 2)))


def _seed_widgets(prefix: str, settings: dict[str, Any]) -> None:
    for name in FIELDS:
        key = f"{prefix}_{name}"
        if key not in st.session_state:
            st.session_state[key] = settings[name]


def _int_fields(settings: dict[str, Any]) -> dict[str, Any]:
    for name in ("bits", "group", "brows", "bcols"):
        settings[name] = int(settings[name])
    settings["pct"] = float(settings["pct"])
    return settings


def scheme_controls(
    key_prefix: str,
    *,
    parts: Sequence[str] = ALL_PARTS,
    shape: tuple[int, ...] | None = None,
    columns: int | Sequence[float] = (0.8, 1.3, 1.1, 1.1, 1.1),
) -> qv.QuantScheme:
    """Draw the scheme widgets and return the scheme they describe.

    Args:
        key_prefix: prefix of every widget key (``"q"`` gives ``q_bits``, ``q_gran``, ...).
        parts: which controls to draw, from ``("bits", "sym", "signed", "gran", "range")``; the
            others keep the shared settings.
        shape: the current tensor's shape, used for sensible default group and tile sizes.
        columns: how many columns the controls are laid out in, or their relative widths.

    Returns:
        The scheme; the settings are shared with the other pages and the URL.
    """
    unknown = [part for part in parts if part not in PART_FIELDS]
    if unknown:
        raise ValueError(f"unknown scheme control(s) {unknown}; choose from {ALL_PARTS}")
    settings = get_settings()
    if shape and "gran" in parts and f"{key_prefix}_group" not in st.session_state:
        # First draw in this session with no size chosen yet: fit the defaults to the tensor.
        if settings["gran"] != "per-group":
            settings["group"] = suggested_size(shape[-1])
        if settings["gran"] != "per-block" and len(shape) >= 2:
            settings["brows"] = suggested_size(shape[-2], 64)
            settings["bcols"] = suggested_size(shape[-1], 64)
    _seed_widgets(key_prefix, settings)
    p = key_prefix
    cols = st.columns(columns)
    slot = iter([cols[i % len(cols)] for i in range(len(parts))])
    if "bits" in parts:
        next(slot).selectbox("Bits", BITS_OPTIONS, key=f"{p}_bits", help="Integer width.")
    if "sym" in parts:
        next(slot).radio(
            "Mapping",
            ["symmetric", "asymmetric"],
            key=f"{p}_sym",
            horizontal=True,
            help="Symmetric: zero point 0, scale = max|x| / q_max. "
            "Asymmetric: the range [min, max] maps onto the whole grid with a zero point.",
        )
    if "signed" in parts:
        symmetric = st.session_state[f"{p}_sym"] == "symmetric"
        if symmetric:
            st.session_state[f"{p}_signed"] = "signed"  # symmetric grids are always signed
        next(slot).radio(
            "Integers",
            ["signed", "unsigned"],
            key=f"{p}_signed",
            horizontal=True,
            disabled=symmetric,
            help="Signed: [-2^(b-1), 2^(b-1)-1]. Unsigned: [0, 2^b-1] (asymmetric only).",
        )
    if "gran" in parts:
        next(slot).selectbox(
            "Granularity",
            GRANULARITIES,
            key=f"{p}_gran",
            help="Which elements share one scale: the whole tensor, each row, each column, "
            "runs of elements (groups) or 2-D tiles (blocks).",
        )
    if "range" in parts:
        next(slot).selectbox(
            "Range",
            list(RANGE_LABELS),
            format_func=RANGE_LABELS.__getitem__,
            key=f"{p}_range",
            help="Full range (absmax when symmetric, min-max when asymmetric) keeps every "
            "value; a percentile or MSE-optimal clip trades a few clipped outliers for a finer "
            "grid everywhere else.",
        )
    gran = st.session_state[f"{p}_gran"]
    extra = st.columns(max(3, len(cols)))
    if gran == "per-group" and "gran" in parts:
        extra[0].number_input("Group size", min_value=1, step=1, key=f"{p}_group")
        extra[1].selectbox(
            "Groups run", list(GROUP_AXES), format_func=GROUP_AXES.__getitem__, key=f"{p}_gaxis"
        )
    if gran == "per-block" and "gran" in parts:
        extra[0].number_input("Tile rows", min_value=1, step=1, key=f"{p}_brows")
        extra[1].number_input("Tile columns", min_value=1, step=1, key=f"{p}_bcols")
    if st.session_state[f"{p}_range"] == "percentile" and "range" in parts:
        extra[2].number_input(
            "Percentile",
            min_value=50.1,
            max_value=100.0,
            step=0.1,
            format="%.2f",
            key=f"{p}_pct",
            help="Clip each block at this percentile of |x| (symmetric) or of x (asymmetric).",
        )
    # Sizes and the percentile have widgets only when their granularity / range is chosen. A
    # value left in session state by an earlier run must not override what another page has
    # since set (a group size chosen on Compare), so undrawn fields follow the shared settings.
    hidden = set()
    if gran != "per-group":
        hidden |= {"group", "gaxis"}
    if gran != "per-block":
        hidden |= {"brows", "bcols"}
    if st.session_state[f"{p}_range"] != "percentile":
        hidden.add("pct")
    new = get_settings()
    for part in parts:
        for name in PART_FIELDS[part]:
            if name in hidden:  # the shared value (or the size fitted to this tensor above)
                new[name] = st.session_state[f"{p}_{name}"] = settings[name]
            else:
                new[name] = st.session_state[f"{p}_{name}"]
    new = _int_fields(new)
    set_settings(new)
    write_url()
    return scheme_from_settings(new)
