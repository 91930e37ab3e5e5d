"""The shared scheme widgets: preset, element format, bits, scale format, symmetry, signedness,
granularity, range method.

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
from quantviz.formats import ELEMENT_FORMATS, SCALE_FORMATS
from quantviz.presets import PRESETS
from quantviz.ui.format_settings import (
    NO_PRESET,
    format_bits,
    format_label,
    grid_caption,
    preset_label,
    scale_format_label,
)
from quantviz.ui.session import (
    get_settings,
    scheme_from_settings,
    set_settings,
    settings_from_scheme,
    write_url,
)

# Every width the core supports, so a shared URL with, say, 12 bits never falls back silently.
BITS_OPTIONS = list(range(2, 17))
GRANULARITIES = ["per-tensor", "per-row", "per-column", "per-group", "per-block"]
RANGE_LABELS = {"full": "Full range", "percentile": "Percentile clip", "mse": "MSE-optimal"}
GROUP_AXES = {"rows": "along each row (last dim)", "columns": "down each column (dim 0)"}
FIELDS = (
    "bits", "sym", "signed", "gran", "group", "gaxis", "brows", "bcols", "range", "pct",
    "preset", "fmt", "sfmt", "fgrid", "fzp", "tscale", "dq",
)  # fmt: skip
# The settings each drawn control owns; a page that does not draw a control leaves them alone.
PART_FIELDS = {
    "preset": ("preset",),
    "format": ("fmt", "fgrid", "fzp", "tscale", "dq"),
    "bits": ("bits",),
    "sfmt": ("sfmt",),
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


def _widget_value(name: str, value: Any) -> Any:
    """A setting as its widget holds it (no preset is the picker's ``NO_PRESET`` option)."""
    return (value or NO_PRESET) if name == "preset" else value


def _setting_value(name: str, value: Any) -> Any:
    return ("" if value == NO_PRESET else value) if name == "preset" else value


def _seed_widgets(prefix: str, settings: dict[str, Any]) -> None:
    for name in FIELDS:
        key = f"{prefix}_{name}"
        if key not in st.session_state:
            st.session_state[key] = _widget_value(name, settings[name])


def _apply_preset(prefix: str) -> None:
    """The preset picker changed: every control of the page (and the shared settings) shows the
    preset's fields, so the settings and the URL name the preset."""
    name = st.session_state[f"{prefix}_preset"]
    if name == NO_PRESET:
        settings = get_settings()
        settings["preset"] = ""
    else:
        settings = settings_from_scheme(PRESETS[name])
        for field in FIELDS:
            if field != "preset":
                st.session_state[f"{prefix}_{field}"] = settings[field]
    set_settings(settings)


def _clear_preset(prefix: str) -> None:
    """A control changed: the scheme is no longer the preset, whichever page changed it."""
    st.session_state[f"{prefix}_preset"] = NO_PRESET
    settings = get_settings()
    settings["preset"] = ""
    set_settings(settings)


def _int_fields(settings: dict[str, Any]) -> dict[str, Any]:
    for name in ("bits", "group", "brows", "bcols"):
        settings[name] = int(settings[name])
    settings["pct"] = float(settings["pct"])
    return settings


def _format_row(p: str, parts: Sequence[str]) -> None:
    """The preset picker, the element format and the integer grid's variant, in one row."""
    cols = st.columns([1.7, 1.7, 1.2])
    if "preset" not in parts:  # the element format takes the first column
        cols = [cols[0], cols[0], cols[1]]
    else:
        cols[0].selectbox(
            "Preset",
            [NO_PRESET, *PRESETS],
            format_func=preset_label,
            key=f"{p}_preset",
            on_change=_apply_preset,
            args=(p,),
            help="A published format in one click: llama.cpp's q8_0 … q5_1, OCP MX "
            "(mxfp8/6/4, mxint8), NVFP4, QLoRA's NF4, FP8 E4M3 per tensor/channel/block. "
            "Changing any control below makes the scheme custom again.",
        )
    if "format" not in parts:
        return
    cols[1].selectbox(
        "Element format",
        list(ELEMENT_FORMATS),
        format_func=format_label,
        key=f"{p}_fmt",
        on_change=_clear_preset,
        args=(p,),
        help="What one stored code means: a uniform integer grid, or a float / lookup grid "
        "(FP8, FP6, FP4, NF4) whose levels are dense near 0 and sparse near the maximum.",
    )
    if st.session_state[f"{p}_fmt"] != "int":
        st.caption(grid_caption(st.session_state[f"{p}_fmt"]))
        return
    if st.session_state[f"{p}_sym"] == "symmetric":
        cols[2].checkbox(
            "Full grid",
            key=f"{p}_fgrid",
            on_change=_clear_preset,
            args=(p,),
            help="The block's signed extreme maps to −2^(b−1) (llama.cpp's Q4_0), so the code "
            "absmax/(2^(b−1)−1) never reaches is used too.",
        )
    else:
        cols[2].checkbox(
            "Float zero point",
            key=f"{p}_fzp",
            on_change=_clear_preset,
            args=(p,),
            help="x ≈ min + scale·q with the range not widened to include 0 (llama.cpp's "
            "Q4_1, HQQ): less error on blocks far from 0.",
        )


def scheme_controls(
    key_prefix: str,
    *,
    parts: Sequence[str] = ALL_PARTS,
    shape: tuple[int, ...] | None = None,
    columns: int | Sequence[float] = (0.8, 1.2, 1.3, 1.1, 1.1, 1.1),
    use_preset: bool = True,
) -> qv.QuantScheme:
    """Draw the scheme widgets and return the scheme they describe.

    Args:
        key_prefix: prefix of every widget key (``"q"`` gives ``q_bits``, ``q_gran``, ...).
        parts: which controls to draw, from ``("preset", "format", "bits", "sfmt", "sym",
            "signed", "gran", "range")``; the others keep the shared settings.
        shape: the current tensor's shape, used for sensible default group and tile sizes.
        columns: how many columns the main row (bits … range) is laid out in, or their widths.
        use_preset: return the shared preset when one is chosen; False builds the scheme from
            the fields alone (a page that varies the granularity itself).

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
    changed = {"on_change": _clear_preset, "args": (p,)}
    if "preset" in parts or "format" in parts:
        _format_row(p, parts)
    fixed_bits = format_bits(st.session_state[f"{p}_fmt"])
    if fixed_bits is not None:  # a float or lookup format has its own width and sign
        st.session_state[f"{p}_bits"] = fixed_bits
        st.session_state[f"{p}_sym"] = "symmetric"
    main = [part for part in parts if part not in ("preset", "format")]
    cols = st.columns(columns)
    slot = iter([cols[i % len(cols)] for i in range(len(main))])
    if "bits" in parts:
        next(slot).selectbox(
            "Bits",
            BITS_OPTIONS,
            key=f"{p}_bits",
            disabled=fixed_bits is not None,
            help="Integer width (a float or NF4 element format fixes its own).",
            **changed,
        )
    if "sfmt" in parts:
        next(slot).selectbox(
            "Scale format",
            list(SCALE_FORMATS),
            format_func=scale_format_label,
            key=f"{p}_sfmt",
            help="How each scale is stored: it is rounded to this format before the elements "
            "are quantized, and bits per element count its real width.",
            **changed,
        )
    if "sym" in parts:
        next(slot).radio(
            "Mapping",
            ["symmetric", "asymmetric"],
            key=f"{p}_sym",
            horizontal=True,
            disabled=fixed_bits is not None,
            help="Symmetric: zero point 0, scale = max|x| / q_max. "
            "Asymmetric: the range [min, max] maps onto the whole grid with a zero point.",
            **changed,
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
            **changed,
        )
    if "gran" in parts:
        next(slot).selectbox(
            "Granularity",
            GRANULARITIES,
            key=f"{p}_gran",
            help="Which elements share one scale: the whole tensor, each row, each column, "
            "runs of elements (groups) or 2-D tiles (blocks).",
            **changed,
        )
    if "range" in parts:
        next(slot).selectbox(
            "Range",
            list(RANGE_LABELS),
            format_func=RANGE_LABELS.__getitem__,
            key=f"{p}_range",
            help="Full range (absmax when symmetric, min-max when asymmetric) keeps every "
            "value; a percentile or MSE-optimal clip trades a few clipped outliers for a finer "
            "grid everywhere else. A preset keeps its name with any range (nvfp4-mse).",
        )
    gran = st.session_state[f"{p}_gran"]
    extra = st.columns(max(3, len(cols)))
    if gran == "per-group" and "gran" in parts:
        extra[0].number_input("Group size", min_value=1, step=1, key=f"{p}_group", **changed)
        extra[1].selectbox(
            "Groups run",
            list(GROUP_AXES),
            format_func=GROUP_AXES.__getitem__,
            key=f"{p}_gaxis",
            **changed,
        )
    if gran == "per-block" and "gran" in parts:
        extra[0].number_input("Tile rows", min_value=1, step=1, key=f"{p}_brows", **changed)
        extra[1].number_input("Tile columns", min_value=1, step=1, key=f"{p}_bcols", **changed)
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
    fmt = st.session_state[f"{p}_fmt"]
    sym = st.session_state[f"{p}_sym"] == "symmetric"
    if fmt != "int" or not sym:
        hidden.add("fgrid")
    if fmt != "int" or sym:
        hidden.add("fzp")
    hidden |= {"tscale", "dq"}  # no controls: they follow the preset a scheme came from
    new = get_settings()
    for part in parts:
        for name in PART_FIELDS[part]:
            if name in hidden:  # the shared value (or the size fitted to this tensor above)
                new[name] = settings[name]
                st.session_state[f"{p}_{name}"] = _widget_value(name, settings[name])
            else:
                new[name] = _setting_value(name, st.session_state[f"{p}_{name}"])
    if fixed_bits is not None:
        new.update(bits=fixed_bits, sym="symmetric", signed="signed")
    new = _int_fields(new)
    set_settings(new)
    write_url()
    return scheme_from_settings(new if use_preset else {**new, "preset": ""})
