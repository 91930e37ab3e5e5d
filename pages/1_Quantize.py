"""Quantize: pick a scheme and see the original, integers, dequantized values and error side by
side, with the metrics, scales, value histogram and error distribution below."""

import streamlit as st

from quantviz import export as ex
from quantviz.granularity import effective_note
from quantviz.metrics import ideal_sqnr_db
from quantviz.ui import cache, current, page_setup, scheme_controls
from quantviz.ui.quantize_view import heatmaps_section, histogram_section
from quantviz.ui.widgets import fmt, fmt_shape, show_figure

page_setup("Quantize", icon=":material/grid_on:")

cur = current()
st.title("Quantize")
st.caption(
    f"**{cur.name}** · {fmt_shape(cur.tensor.shape)} · {cur.dtype} — change the tensor on Home."
)

scheme = scheme_controls("q", shape=tuple(cur.tensor.shape))
if size_note := effective_note(cur.tensor.shape, scheme.granularity):
    st.caption(size_note)

try:
    with st.spinner("Quantizing…"):
        result, x_hat, m = cache.quantize(cur, scheme)
except ValueError as exc:
    st.error(f"{scheme.label()} does not fit this tensor: {exc}")
    st.stop()

key = f"{cur.token}|{scheme!r}"
ideal = ideal_sqnr_db(scheme.bits)
cards = st.columns(6)
cards[0].metric("MSE", fmt(m["mse"]), help="Mean squared error between x and its reconstruction.")
cards[1].metric("MAE", fmt(m["mae"]), help="Mean absolute error.")
cards[2].metric("Max error", fmt(m["max_abs_error"]), help="Largest |x̂ − x|.")
sqnr = m["sqnr_db"]
finite = sqnr not in (float("inf"), float("-inf"))
cards[3].metric(
    "SQNR",
    f"{fmt(sqnr)} dB",
    delta=f"ideal {fmt(ideal)} dB ({fmt(sqnr - ideal)} dB)" if finite else None,
    delta_color="off",
    delta_arrow="off",
    help="Signal-to-quantization-noise ratio, 10·log10(mean x² / MSE). The reference below it "
    "is the textbook ideal 6.02·bits + 1.76 dB: the SQNR of a full-scale sine wave rounded to "
    "a uniform grid of that many bits. It assumes values spread evenly over the whole grid and "
    "never clipped; real weights are bell-shaped with outliers, so most values use a few "
    "levels near 0 and land well below it. The gap is normal, not a failure: compare schemes "
    "by their own SQNR.",
)
cards[4].metric(
    "Bits / element",
    fmt(m["bits_per_element"]),
    help="Payload bits plus every scale at its stored width (fp32 32, fp16/bf16 16, "
    "FP8/E8M0 8) and every zero point, spread over the elements.",
)
cards[5].metric(
    "Clipped",
    fmt(int(m["clipped"])),
    help="Values outside the clip range, clamped to the grid's edge (only a percentile or "
    "MSE-optimal range clips).",
)

heatmaps_section(cur, scheme, result, x_hat)

left, right = st.columns(2)
with left:
    show_figure(
        cache.figure("scales_chart", f"qs|{key}", result, tuple(cur.tensor.shape)), "q_scales"
    )
with right:
    histogram_section(cur, result, x_hat, int(m["clipped"]))
show_figure(
    cache.figure("error_histogram", f"qe|{key}", cur.tensor, x_hat, result=result, metrics=m),
    "q_err_hist",
)

st.markdown("**Downloads** — the codes with their scales and zero points")
slug = scheme.slug()
downloads = [
    # (label, file builder, file name, MIME type, key): files are built only when clicked.
    ("Quantized (.safetensors)", ex.quantized_safetensors, f"quantized-{slug}.safetensors",
     "application/octet-stream", "q_dl_safetensors"),
    ("Quantized (.npz)", ex.quantized_npz, f"quantized-{slug}.npz",
     "application/octet-stream", "q_dl_npz"),
    ("Codes (.csv)", ex.quantized_csv, f"q-{slug}.csv", "text/csv", "q_dl_csv"),
    ("Scales and zero points (.csv)", ex.scales_csv, f"scales-{slug}.csv", "text/csv",
     "q_dl_scales_csv"),
]  # fmt: skip
for col, (label, build, file_name, mime, widget_key) in zip(
    st.columns(len(downloads)), downloads, strict=True
):
    col.download_button(
        label,
        lambda build=build: build(result),
        file_name=file_name,
        mime=mime,
        key=widget_key,
        on_click="ignore",
    )
