"""The Model page's scheme picker: preset schemes, more typed by name, and the 1-D switch."""

from __future__ import annotations

import streamlit as st

from quantviz.presets import PRESETS as FORMAT_PRESETS
from quantviz.scan import DEFAULT_SCAN_SCHEMES, as_schemes
from quantviz.scheme import QuantScheme, parse_scheme
from quantviz.ui import model_memory as mem

# Schemes offered in the picker, by slug; any other can be typed by name.
PRESETS = [
    "int8-sym-per-tensor",
    "int8-sym-per-row",
    "int8-sym-per-column",
    "uint8-asym-per-tensor",
    "int8-sym-per-group-128",
    "int4-sym-per-row",
    "int4-sym-per-group-128",
    "int4-sym-per-group-32",
    "int4-asym-per-group-128",
    "int4-sym-per-block-64x64",
    "int4-sym-per-group-128-mse",
    # Number formats (issue 9): presets and integer schemes with a stored scale format.
    "int4-sym-per-group-128-fp16",
    "q4_0",
    "q8_0",
    "mxfp4",
    "mxfp8",
    "nvfp4",
    "nf4-g64",
    "fp8-e4m3-per-channel",
]


def scheme_picker() -> tuple[list[QuantScheme], bool]:
    """Presets, more schemes typed by name, and whether to include 1-D tensors.

    Returns:
        ``(schemes, include_1d)``; the schemes are empty when none is chosen. An unreadable
        name stops the run with an error naming it.
    """
    # Three scheme chips need about half the page; the 1-D checkbox needs little.
    c1, c2, c3 = st.columns([4, 2, 1])
    for key, options in [
        ("model_schemes", PRESETS),
        ("model_custom", None),
        ("model_include_1d", None),
    ]:
        mem.recall(key, options)
    picked = c1.multiselect(
        "Schemes",
        PRESETS,
        # No default once the key holds a value (restored): Streamlit logs a warning otherwise.
        default=None if "model_schemes" in st.session_state else list(DEFAULT_SCAN_SCHEMES),
        format_func=lambda s: parse_scheme(s).label(),
        key="model_schemes",
    )
    custom = c2.text_input(
        "More schemes by name",
        key="model_custom",
        placeholder="int6-sym-per-group-64, mxfp6, q5_1",
        help="Names like int4-sym-per-group-128: "
        "[u]int<bits>-<sym|asym>-<granularity>[-mse|-p99.9][-fp16|-bf16|-fp8_e4m3|-e8m0], "
        f"or a preset: {', '.join(FORMAT_PRESETS)}",
    )
    include_1d = c3.checkbox(
        "Include 1-D", key="model_include_1d", help="Also scan biases and norms."
    )
    for key, value in [
        ("model_schemes", picked),
        ("model_custom", custom),
        ("model_include_1d", include_1d),
    ]:
        mem.remember(key, value)
    try:
        extra = [s.strip() for s in custom.split(",") if s.strip()]
        schemes = as_schemes([*picked, *extra]) if picked or extra else []
    except ValueError as e:
        st.error(f"Scheme name not understood: {e}")
        st.stop()
    return schemes, include_1d
