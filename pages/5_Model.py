"""Model: scan a whole checkpoint and see which layers suffer under which scheme, then send a
layer to the Quantize or Compare page."""

import streamlit as st

from quantviz.ui import model_view as mv
from quantviz.ui import page_setup
from quantviz.ui.model_schemes import scheme_picker

page_setup("Model", icon=":material/memory:")
st.title("Model")
st.caption(
    "Scan every layer of a checkpoint under several schemes: which layers suffer, and how much "
    "each scheme saves. Tensors are read one at a time."
)

# The checkpoint and its tensors (read from the headers only).
src = mv.pick_source()
mv.tensor_list_section(mv.tensor_list(src))

# What to measure, and the scan itself (kept for this file until the next scan).
schemes, include_1d = scheme_picker()
mv.scan_button(src, schemes, include_1d)
table = mv.scan_result(src)

st.subheader("Summary")
mv.summary_cards(table)

st.subheader("Layers")
metric = mv.layer_table_section(table)
mv.layer_charts(table, metric)

st.subheader("Look closer at one layer")
mv.send_layer(table, src)
