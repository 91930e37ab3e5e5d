"""Calibrate: what the layer outputs when its weight is quantized, and which method — RTN,
Hadamard rotation, SmoothQuant, AWQ, GPTQ — pays off on it, measured on activations X."""

import streamlit as st

from quantviz.calibrate import METHODS
from quantviz.export import table_csv
from quantviz.scheme import parse_scheme
from quantviz.ui import current, page_setup
from quantviz.ui.calibrate_view import (
    activation_source,
    default_schemes,
    figure,
    method_notes,
    method_params,
    run,
    run_problem,
    scheme_choices,
    size_problem,
    styled_table,
)
from quantviz.ui.widgets import fmt_shape, show_figure, show_table

page_setup("Calibrate", icon=":material/tune:")
cur = current()
st.title("Calibrate: output error, GPTQ, AWQ, SmoothQuant, rotation")
st.caption(
    f"**{cur.name}** · {fmt_shape(cur.tensor.shape)} as the weight W (out × in). A layer computes "
    "Y = X Wᵀ: what matters is the error of Y on real activations X, not of W."
)
problem = size_problem(cur.tensor)
if problem:
    st.info(problem)
    st.stop()
w = cur.tensor
kept = activation_source(w)
c1, c2 = st.columns(2)
choices = scheme_choices(w.shape[1])
c1.multiselect("Schemes", choices, default=default_schemes(w.shape[1]), key="cal_schemes")
c2.multiselect("Methods", list(METHODS), default=list(METHODS), key="cal_methods")
params = method_params()
schemes, methods = st.session_state["cal_schemes"], st.session_state["cal_methods"]
with st.expander("What each method does"):
    method_notes(list(METHODS))
if kept is None:
    st.info("Generate or upload activations X to calibrate with.")
    st.stop()
x, x_desc, x_digest = kept
st.caption(f"X: {x_desc} · {fmt_shape(x.shape)}")
if not schemes or not methods:
    st.info("Pick at least one scheme and one method.")
    st.stop()
too_much = run_problem(w, schemes, methods)
if too_much:
    st.warning(too_much)
    st.stop()
key = (cur.token, x_digest, tuple(schemes), tuple(methods), repr(params))
saved = st.session_state.get("cal_result")
if st.button("Run calibration", key="cal_run", type="primary"):
    try:
        table, results = run(w, x, schemes, methods, params)
        st.session_state["cal_result"] = saved = (key, table, results)
    except ValueError as exc:
        st.error(str(exc))
if saved is None or saved[0] != key:
    st.info(
        "Press **Run calibration** to quantize W with each method (GPTQ on a 4096-wide layer "
        "takes seconds)."
    )
    st.stop()
_, table, results = saved

show_table(styled_table(table), key="cal_table", hide_index=True, width="stretch")
st.download_button(
    "Download table (.csv)",
    table_csv(table),
    file_name="calibrate.csv",
    mime="text/csv",
    key="cal_csv",
    on_click="ignore",
)
metric = st.selectbox(
    "Chart",
    ["output_rel_error", "output_sqnr_db", "weight_mse", "output_rel_error_a8"],
    key="cal_metric",
)
run_key = repr(saved[0])
show_figure(figure("method_error_bars", f"{run_key}|{metric}", table, metric), key="cal_bars")

scheme = st.selectbox("Scheme to inspect", schemes, key="cal_inspect_scheme")
label = parse_scheme(scheme).label()
picked = {m: r for (m, s), r in results.items() if s == label}
st.markdown("**Why** — large activations meet the columns whose error costs most")
w_hats = {m: r.w_hat for m, r in picked.items()}
show_figure(figure("channel_view", f"{run_key}|{label}", x, w, w_hats), key="cal_channels")
method = st.selectbox("Method to inspect", list(picked), key="cal_inspect_method")
if method in ("rtn", "gptq"):
    st.caption(f"{method} quantizes W as it is (GPTQ changes the rounding, not the basis).")
res, fig_key = picked[method], f"{run_key}|{label}|{method}"
show_figure(
    figure("transform_heatmaps", fig_key, w, res.w_transformed, method), key="cal_transform"
)
show_figure(
    figure("output_error_heatmap", fig_key, w, res.w_hat, x, method), key="cal_output_error"
)
