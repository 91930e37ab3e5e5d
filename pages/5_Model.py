"""Model: scan a whole checkpoint and see which layers suffer under which scheme, then send a
layer to the Quantize or Compare page."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from quantviz import model_folder as mf
from quantviz.figures.model import METRIC_TITLES, layer_scheme_heatmap, sqnr_by_layer
from quantviz.inputs import MAX_ELEMENTS, InputError, open_checkpoint
from quantviz.scan import (
    DEFAULT_SCAN_SCHEMES,
    LAYER_COLUMNS,
    SCAN_MAX_ELEMENTS,
    as_schemes,
    fmt_mb,
    layer_table,
    scan,
    summarize_scan,
)
from quantviz.scheme import parse_scheme
from quantviz.ui import page_setup, set_current_tensor
from quantviz.ui.widgets import fmt, show_figure, show_table

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
]
UPLOAD_TYPES = ["safetensors", "pt", "pth", "bin", "ckpt", "npz"]
PAGES = {"Quantize": "pages/1_Quantize.py", "Compare": "pages/2_Compare.py"}
_ENTRIES, _RESULT = "_model_entries", "_model_result"
_ROOT = Path(__file__).resolve().parents[1]

page_setup("Model", icon=":material/memory:")
st.title("Model")
st.caption(
    "Scan every layer of a checkpoint under several schemes: which layers suffer, and how much "
    "each scheme saves. Tensors are read one at a time."
)


def pick_source() -> tuple[bytes | str, str | None, str]:
    """The checkpoint to scan: ``(bytes or path, upload name, id that changes with the file)``."""
    try:
        folder = mf.model_dir()
    except mf.FolderError as e:
        st.warning(f"The model folder is not available: {e}")
        folder = None
    mode = "Upload"
    if folder is not None:
        mode = st.radio(
            "Checkpoint from", ["Upload", "Model folder"], key="model_source", horizontal=True
        )
    if mode == "Model folder":
        files = mf.list_checkpoints(folder)
        if not files:
            st.info(f"The model folder holds no checkpoint ({', '.join(mf.CHECKPOINT_SUFFIXES)}).")
            st.stop()
        name = st.selectbox("Checkpoint in the model folder", files, key="model_file")
        try:
            path = mf.resolve_in_folder(folder, name)
        except mf.FolderError as e:
            st.error(str(e))
            st.stop()
        return str(path), None, f"folder:{name}:{os.stat(path).st_mtime_ns}"
    up = st.file_uploader(
        "Checkpoint",
        type=UPLOAD_TYPES,
        key="model_upload",
        help="A .safetensors file, a PyTorch state dict (.pt/.pth/.bin, loaded with "
        "weights_only=True: no code runs) or an .npz. Sharded checkpoints can be scanned from "
        "the model folder or with `python -m quantviz scan model.safetensors.index.json`.",
    )
    if up is None:
        st.info("Upload a checkpoint to list its tensors and scan them.")
        st.stop()
    return up.getvalue(), up.name, f"upload:{up.file_id}:{up.name}"


def tensor_list(source: bytes | str, filename: str | None, source_id: str) -> pd.DataFrame:
    """The checkpoint's tensors (read from headers once per file and kept for the session)."""
    cached = st.session_state.get(_ENTRIES)
    if cached is None or cached[0] != source_id:
        try:
            # The scan's element bound, so "too large" notes match what the scan will skip.
            with open_checkpoint(source, filename, max_elements=SCAN_MAX_ELEMENTS) as ck:
                entries = ck.entries
        except InputError as e:
            st.error(str(e))
            st.stop()
        rows = [
            {
                "name": e.name,
                "shape": "×".join(map(str, e.shape)) or "scalar",
                "dtype": e.dtype,
                "params": e.numel,
                "note": e.reason
                or ("1-D: scanned with 'include 1-D'" if len(e.shape) == 1 else ""),
            }
            for e in entries
        ]
        cached = (
            source_id,
            pd.DataFrame(rows, columns=["name", "shape", "dtype", "params", "note"]),
        )
        st.session_state[_ENTRIES] = cached
    return cached[1]


source, filename, source_id = pick_source()
tensors = tensor_list(source, filename, source_id)
with st.expander(f"Tensors ({len(tensors)})", expanded=len(tensors) <= 50):
    query = st.text_input("Search tensors", key="model_search", placeholder="e.g. attn or mlp")
    shown = (
        tensors[tensors["name"].str.contains(query, case=False, regex=False)] if query else tensors
    )
    st.caption(f"{len(shown)} of {len(tensors)} tensors · {tensors['params'].sum():,} parameters")
    show_table(
        shown,
        "model_tensors",
        hide_index=True,
        width="stretch",
        height=min(400, 40 + 35 * len(shown)),
    )

c1, c2, c3 = st.columns([3, 2, 1])
picked = c1.multiselect(
    "Schemes",
    PRESETS,
    default=list(DEFAULT_SCAN_SCHEMES),
    format_func=lambda s: parse_scheme(s).label(),
    key="model_schemes",
)
custom = c2.text_input(
    "More schemes by name",
    key="model_custom",
    placeholder="int6-sym-per-group-64, uint8-asym-per-row",
    help="Names like int4-sym-per-group-128: [u]int<bits>-<sym|asym>-<granularity>[-mse|-p99.9]",
)
include_1d = c3.checkbox("Include 1-D", key="model_include_1d", help="Also scan biases and norms.")
try:
    extra = [s.strip() for s in custom.split(",") if s.strip()]
    schemes = as_schemes([*picked, *extra]) if picked or extra else []
except ValueError as e:
    st.error(f"Scheme name not understood: {e}")
    st.stop()

if st.button("Scan", key="model_scan", type="primary", disabled=not schemes):
    bar = st.progress(0.0, text="Starting the scan…")

    def report(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"{done}/{total} · {name}")

    try:
        table = scan(source, schemes, "auto", report, filename=filename, include_1d=include_1d)
    except (InputError, ValueError) as e:
        bar.empty()
        st.error(str(e))
        st.stop()
    bar.empty()
    st.session_state[_RESULT] = (source_id, table)

result = st.session_state.get(_RESULT)
if result is None or result[0] != source_id:
    st.info("Choose schemes and press **Scan**.")
    st.stop()
table: pd.DataFrame = result[1]
skipped = table.attrs.get("skipped", [])
if table.empty:
    st.warning("No quantizable tensor was scanned (float, at least 2-D; 1-D with 'Include 1-D').")
    show_table(pd.DataFrame(skipped), "model_skipped", hide_index=True)
    st.stop()

summary = summarize_scan(table)
n_layers = table["name"].nunique()
params = int(summary["params"].iloc[0])
st.subheader("Summary")
st.caption(
    f"{n_layers} tensors · {params:,} parameters scanned on {table.attrs.get('device', 'cpu')}"
    f" · {len(skipped)} skipped. SQNR is parameter-weighted: 10·log10(Σ signal / Σ noise)."
)
top = st.columns(3)
top[0].metric("Parameters", fmt(params))
top[1].metric("float32", fmt_mb(summary["float32_mb"].iloc[0]))
top[2].metric("float16", fmt_mb(summary["float16_mb"].iloc[0]))
cards = st.columns(min(4, len(summary)))
for i, row in summary.iterrows():
    cards[i % len(cards)].metric(
        row["scheme"],
        fmt_mb(row["quantized_mb"]),
        delta=f"{row['sqnr_db']:.1f} dB SQNR",
        delta_color="off",
        delta_arrow="off",
        help=f"{row['bits_per_element']:.3f} bits per parameter, scales included; "
        f"{row['compression_ratio']:.2f}× smaller than float32. Worst layer: "
        f"{row['worst_layer']} ({fmt(row['worst_sqnr_db'])} dB).",
    )

st.subheader("Layers")
metric = st.selectbox(
    "Metric", list(METRIC_TITLES), format_func=METRIC_TITLES.get, key="model_metric"
)
wide = layer_table(table, metric)
scheme_cols = list(wide.columns[len(LAYER_COLUMNS) :])
worst_first = st.toggle("Worst first", value=True, key="model_worst_first")
if worst_first:
    key = wide[scheme_cols].min(axis=1) if metric == "sqnr_db" else -wide[scheme_cols].max(axis=1)
    wide = wide.iloc[key.argsort(kind="stable")]
highlight = (lambda s: s.highlight_min) if metric == "sqnr_db" else (lambda s: s.highlight_max)
styled = highlight(wide.style)(subset=scheme_cols, color="rgba(214, 39, 40, 0.35)")
styled = styled.format({c: lambda v: fmt(v) for c in scheme_cols})
st.caption(f"{METRIC_TITLES[metric]} per layer; the worst layer of each scheme is shaded red.")
show_table(
    styled, "model_layers", hide_index=True, width="stretch", height=min(500, 40 + 35 * len(wide))
)
st.download_button(
    "Download the full table (CSV)",
    table.to_csv(index=False),
    file_name="quantviz-scan.csv",
    mime="text/csv",
    key="model_download",
)

show_figure(sqnr_by_layer(table), key="model_sqnr_chart")
show_figure(layer_scheme_heatmap(table, metric), key="model_heatmap")

if skipped:
    with st.expander(f"Skipped ({len(skipped)})"):
        show_table(pd.DataFrame(skipped), "model_skipped", hide_index=True, width="stretch")

st.subheader("Look closer at one layer")
sq = layer_table(table)  # SQNR, whatever the metric above
sq["worst"] = sq[scheme_cols].min(axis=1)
sq = sq.sort_values("worst", kind="stable")
labels = {
    n: f"{n} · {shape} · worst {fmt(w)} dB"
    for n, shape, w in zip(sq["name"], sq["shape"], sq["worst"], strict=True)
}
layer = st.selectbox("Layer (worst first)", list(labels), format_func=labels.get, key="model_layer")
targets = {label: path for label, path in PAGES.items() if (_ROOT / path).is_file()}
buttons = st.columns(len(targets) or 1)
for col, (label, path) in zip(buttons, targets.items(), strict=False):
    if col.button(f"Open in {label}", key=f"model_send_{label.lower()}"):
        with open_checkpoint(source, filename, max_elements=MAX_ELEMENTS) as ck:
            entry = next(e for e in ck.entries if e.name == layer)
            try:
                x = ck.load(layer)
                set_current_tensor(x, layer, "model", dtype=entry.dtype)
            except ValueError as e:  # too large for the single-tensor pages, or unusable
                st.error(f"Cannot open {layer} there: {e}")
                st.stop()
        st.switch_page(path)
