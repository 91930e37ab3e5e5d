"""quantviz dashboard, Home: choose the tensor every page works on.

Run with ``streamlit run app.py``. The other pages live in ``pages/``; all computing, parsing and
figure building is in the ``quantviz`` core, the shared widgets in ``quantviz.ui``.
"""

import streamlit as st

from quantviz.ui import cache, current, page_setup
from quantviz.ui.input_panel import input_panel
from quantviz.ui.widgets import fmt_shape, show_figure, stats_cards

page_setup("Home", icon=":material/home:")

st.title("quantviz")
st.markdown(
    "See what linear quantization does to a tensor: its integers, its scales and where the "
    "error goes, as heatmaps, tables and charts. Bring a matrix, pick a scheme on **Quantize**, "
    "then compare granularities and bit widths before you quantize a real model."
)

# Half and half: at 5/12 the five input modes wrapped onto two lines even at 1600 px.
left, right = st.columns([1, 1], gap="large")
below = st.container()  # full width under both columns: a checkpoint's tensor table goes here
with left:
    st.subheader("Input")
    input_panel(listing_area=below)

cur = current()
with right:
    st.subheader(cur.name)
    with st.spinner("Drawing…"):
        fig = cache.figure("matrix_heatmap", f"home|{cur.token}", cur.tensor, title="")
    show_figure(fig, key="home_preview")
    stats_cards(cur)
    st.caption(
        f"Statistics are computed on all {cur.tensor.numel():,} values of the "
        f"{fmt_shape(cur.tensor.shape)} tensor; the heatmap is downsampled when it is large."
    )
    st.page_link(
        "pages/1_Quantize.py", label="Quantize this tensor", icon=":material/arrow_forward:"
    )
