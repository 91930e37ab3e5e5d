"""Bit width: quality against storage for 2 to 8 bits × granularities × symmetric/asymmetric, with
the number formats (MXFP4, NVFP4, NF4, FP8, llama.cpp's Q formats ...) as points on one chart."""

import streamlit as st

from quantviz.export import table_csv
from quantviz.presets import PRESET_GROUPS
from quantviz.sweep import default_granularities
from quantviz.ui import cache, current, page_setup
from quantviz.ui.compare_view import (
    block_choices,
    comparison_granularities,
    default_choices,
    fitting_schemes,
    format_options,
    format_schemes,
    group_choices,
    run_sweep,
    sweep_table,
)
from quantviz.ui.widgets import fmt_shape, show_figure, show_table

METRICS = {"sqnr_db": "SQNR (dB)", "mse": "MSE", "max_abs_error": "Max error"}
RANGES = {"full": "Full range", "mse": "MSE-optimal", "percentile": "Percentile 99.9"}
BITS = list(range(2, 9))

page_setup("Bit width", icon=":material/show_chart:")

cur = current()
shape = tuple(cur.tensor.shape)
st.title("Bit width")
st.caption(
    f"**{cur.name}** · {fmt_shape(shape)} — every bit width from 2 to 8 for each granularity: "
    "up is better, left is cheaper. The x axis counts the scales (and zero points) too, so a "
    "fine granularity at 4 bits can cost more than 4 bits per element. Number formats are "
    "points; the grey band is the best quality for each storage budget (the Pareto front)."
)

labels = [g.label() for g in default_granularities(shape)]
extra = comparison_granularities(
    shape, *default_choices(group_choices(shape), block_choices(shape))
)
options = list(dict.fromkeys(labels + [g.label() for g in extra]))
by_label = {g.label(): g for g in [*default_granularities(shape), *extra]}
st.session_state.setdefault("bw_grans", labels)
st.session_state["bw_grans"] = [g for g in st.session_state["bw_grans"] if g in options] or labels

# The granularities get a row of their own: in a narrow column their chips were hidden.
st.multiselect("Granularities", options, key="bw_grans")
c2, c3, c4 = st.columns([2, 1.2, 1.2])
c2.multiselect(
    "Mapping", ["symmetric", "asymmetric"], default=["symmetric", "asymmetric"], key="bw_sym"
)
c3.selectbox("Range", list(RANGES), format_func=RANGES.__getitem__, key="bw_range")
metric = c4.selectbox("Metric", list(METRICS), format_func=METRICS.__getitem__, key="bw_metric")
st.session_state.setdefault(
    "bw_formats", [*PRESET_GROUPS["4-bit formats"], *PRESET_GROUPS["8-bit formats"]]
)
st.multiselect(
    "Number formats (points)",
    format_options(),
    key="bw_formats",
    help="Each format at its own bits per element, scales counted at their stored width.",
)

grans = [by_label[g] for g in st.session_state["bw_grans"]]
syms = tuple(s == "symmetric" for s in st.session_state["bw_sym"])
if not grans or not syms:
    st.info("Pick at least one granularity and one mapping.")
    st.stop()
range_method = st.session_state["bw_range"]
try:
    sweep = run_sweep(cur, grans, syms, range_method, BITS, RANGES[range_method])
except ValueError as exc:
    st.error(str(exc))
    st.stop()
if sweep is None:  # stopped by the user
    st.stop()

formats = None
if st.session_state["bw_formats"]:
    try:
        picked, misfits = fitting_schemes(shape, format_schemes(st.session_state["bw_formats"]))
        if picked:
            with st.spinner(f"Quantizing {len(picked)} formats…"):
                formats = cache.compare(cur, picked)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    if misfits:
        st.caption("Left out, they do not fit this tensor: " + "; ".join(misfits))

key = f"bw|{cur.token}|{grans}|{syms}|{range_method}|{metric}|{st.session_state['bw_formats']}"
chart = cache.figure(
    "tradeoff_chart", key, sweep, metric=metric, pareto=formats is not None, formats=formats
)
show_figure(chart, key="bw_chart")

with st.expander("The numbers"):
    show_table(sweep_table(sweep), key="bw_table", hide_index=True, width="stretch")
    if formats is not None:
        show_table(formats, key="bw_formats_table", hide_index=True, width="stretch")
    st.download_button(
        "Download sweep (.csv)",
        table_csv(sweep),
        file_name="bit-width-sweep.csv",
        mime="text/csv",
        key="bw_csv",
        on_click="ignore",
    )
