"""Quantize: pick a scheme and see the original, integers, dequantized values and error side by
side, with the metrics, scales, value histogram and error distribution below."""

import streamlit as st

from quantviz import export as ex
from quantviz.granularity import effective_note
from quantviz.metrics import ideal_sqnr_db
from quantviz.ui import cache, current, page_setup, scheme_controls
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
    f"{sqnr:.1f} dB" if finite else fmt(sqnr),
    delta=f"{sqnr - ideal:+.1f} dB vs ideal {ideal:.1f}" if finite else None,
    help="Signal-to-quantization-noise ratio, 10·log10(mean x² / MSE). The ideal "
    "6.02·bits + 1.76 dB is the textbook value for a full-scale sine: real data with outliers "
    "falls below it.",
)
cards[4].metric(
    "Bits / element",
    f"{m['bits_per_element']:.3g}",
    help="Payload bits plus every scale at its stored width (fp32 32, fp16/bf16 16, "
    "FP8/E8M0 8) and every zero point, spread over the elements.",
)
cards[5].metric(
    "Clipped",
    f"{m['clipped']:,}",
    help="Values outside the clip range, clamped to the grid's edge (only a percentile or "
    "MSE-optimal range clips).",
)

with st.spinner("Drawing…"):
    heat = cache.figure("quantization_heatmaps", f"qh|{key}", cur.tensor, result)
show_figure(heat, key="q_heatmaps")

left, right = st.columns(2)
with left:
    show_figure(
        cache.figure("scales_chart", f"qs|{key}", result, tuple(cur.tensor.shape)), "q_scales"
    )
with right:
    show_figure(cache.figure("histogram_with_grid", f"qg|{key}", cur.tensor, result), "q_hist")
show_figure(
    cache.figure("error_histogram", f"qe|{key}", cur.tensor, x_hat, result=result), "q_err_hist"
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
