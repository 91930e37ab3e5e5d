"""Compare granularities and number formats: one table of error and storage cost per granularity
and per format (MXFP4, NVFP4, NF4, FP8 ...), a bar chart of the error and the error heatmaps side by
side on one colour scale."""

import dataclasses

import streamlit as st

from quantviz.export import table_csv
from quantviz.granularity import effective_note
from quantviz.presets import PRESET_GROUPS
from quantviz.ui import cache, current, page_setup, scheme_controls
from quantviz.ui.compare_view import (
    FORMAT_SETS,
    FORMATS_KEY,
    block_choices,
    comparison_granularities,
    fitting_schemes,
    format_options,
    format_schemes,
    group_choices,
    pick_format_set,
    row_labels,
    run_comparison,
    seed_choices,
    styled_table,
)
from quantviz.ui.widgets import fmt_shape, show_figure, show_table

METRICS = {
    "mse": "MSE",
    "mae": "MAE",
    "max_abs_error": "Max error",
    "sqnr_db": "SQNR (dB)",
    "rel_error": "Relative error",
}

page_setup("Compare", icon=":material/compare_arrows:")

cur = current()
shape = tuple(cur.tensor.shape)
st.title("Compare granularities")
st.caption(
    f"**{cur.name}** · {fmt_shape(shape)} — every granularity at the same bits, symmetry and "
    "range: finer granularities store more scales and lose less. Add number formats below to "
    "set them against each other in the same table; bits per element count every scale at its "
    "stored width."
)

base = scheme_controls(
    "cmp",
    parts=("format", "bits", "sfmt", "sym", "signed", "range"),
    columns=5,
    use_preset=False,
)
groups, blocks = group_choices(shape), block_choices(shape)
seed_choices(cur.token, groups, blocks)
c1, c2 = st.columns(2)
if groups:
    c1.multiselect("Group sizes", groups, key="cmp_groups", help="Groups run along each row.")
if blocks:
    c2.multiselect("Block tiles", blocks, key="cmp_blocks", help="rows × columns per tile.")
grans = comparison_granularities(
    shape, st.session_state.get("cmp_groups", []), st.session_state.get("cmp_blocks", [])
)
schemes = [dataclasses.replace(base, granularity=g) for g in grans]
n_grans = len(schemes)

f1, *set_cols = st.columns([4, *([1.2] * len(FORMAT_SETS))], vertical_alignment="bottom")
st.session_state.setdefault(FORMATS_KEY, [])
f1.multiselect(
    "Number formats",
    format_options(),
    key=FORMATS_KEY,
    help="Presets (mxfp4, nvfp4, nf4-g64, q4_0, fp8-e4m3-per-channel …) and format schemes, "
    "each with its own granularity and scale format, as extra rows of the table.",
)
for col, name in zip(set_cols, FORMAT_SETS, strict=True):
    col.button(
        name,
        key=f"cmp_set_{name.replace(' ', '_')}",
        on_click=pick_format_set,
        args=(name,),
        help=f"Compare the {name}: {', '.join(PRESET_GROUPS[name])}.",
    )
try:
    picked, misfits = fitting_schemes(shape, format_schemes(st.session_state[FORMATS_KEY]))
except ValueError as exc:
    st.error(str(exc))
    st.stop()
schemes += [s for s in picked if s not in schemes]
if misfits:
    st.caption("Left out, they do not fit this tensor: " + "; ".join(misfits))
for size_note in filter(None, (effective_note(shape, g) for g in grans)):
    st.caption(size_note)

try:
    computed = run_comparison(cur, schemes)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
if computed is None:  # stopped by the user
    st.stop()
table, grid = computed

show_table(styled_table(table), key="cmp_table", hide_index=True, width="stretch")
st.download_button(
    "Download table (.csv)",
    table_csv(table),
    file_name=f"compare-{base.format_name}-{'sym' if base.symmetric else 'asym'}.csv",
    mime="text/csv",
    key="cmp_csv",
    on_click="ignore",
)

c1, c2 = st.columns([1, 3])
metric = c1.selectbox("Metric", list(METRICS), format_func=METRICS.__getitem__, key="cmp_metric")
axis = c2.radio("Axis", ["auto", "linear", "log"], key="cmp_axis", horizontal=True)
log = None if axis == "auto" else axis == "log"
bars = cache.figure(
    "compare_bar",
    f"cb|{cur.token}|{[repr(s) for s in schemes]}|{metric}|{log}",
    table.assign(scheme=row_labels(table, n_grans)),
    metric=metric,
    log_scale=log,
)
show_figure(bars, key="cmp_bar")

# The figure's own title heads it (a heading above it left a wide gap); the caption under it says
# how to read it.
show_figure(grid, key="cmp_error_maps")
st.caption("Where the error goes: one shared colour scale, so the panels compare directly.")
