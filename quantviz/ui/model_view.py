"""The Model page's sections: pick a checkpoint, list its tensors, choose schemes, scan with a
progress bar, then the summary cards, the layer table, the charts and the buttons that send one
layer to the Quantize or Compare page.

Each function draws one section in page order; those that cannot go on without an input (no
file yet, no scan yet) end the run with ``st.stop()`` after saying what is missing.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

import quantviz.inputs as qv_inputs
from quantviz import model_folder as mf
from quantviz.figures.model import METRIC_TITLES
from quantviz.inputs import InputError, open_checkpoint
from quantviz.memory_budget import BudgetError
from quantviz.scan import (
    ONE_D_NOTE,
    SCAN_MAX_ELEMENTS,
    fmt_mb,
    higher_is_better,
    layer_choices,
    layer_rows,
    scan,
    scheme_columns,
    search_tensors,
    summarize_scan,
    tensor_table,
)
from quantviz.scheme import QuantScheme, parse_scheme
from quantviz.ui import cache, server_memory
from quantviz.ui import model_memory as mem
from quantviz.ui.controls import FIELDS
from quantviz.ui.model_memory import CheckpointSource
from quantviz.ui.session import set_current_tensor, set_scheme
from quantviz.ui.widgets import fmt, show_figure, show_table

UPLOAD_TYPES = ["safetensors", "pt", "pth", "bin", "ckpt", "npz"]
PAGES = {"Quantize": "pages/1_Quantize.py", "Compare": "pages/2_Compare.py"}
QUANTIZE_KEYS = "q"  # the Quantize page's scheme_controls key prefix
WORST_COLOR = "rgba(214, 39, 40, 0.35)"
_ENTRIES, _RESULT = "_model_entries", "_model_result"
_SCAN_ID = "scan_id"  # key in the scan table's attrs: the source id and one id per scan
_ROOT = Path(__file__).resolve().parents[2]
server_memory.drop_on_end(_ENTRIES, _RESULT)


def pick_source() -> CheckpointSource:
    """An upload (or the one kept from the last visit), or a file of the model folder when one is
    configured; stops until there is one."""
    try:
        folder = mf.model_dir()
    except mf.FolderError as e:
        st.warning(f"The model folder is not available: {e}")
        folder = None
    mode = "Upload"
    if folder is not None:
        modes = ["Upload", "Model folder"]
        mem.recall("model_source", modes)
        mode = mem.remember(
            "model_source", st.radio("Checkpoint from", modes, key="model_source", horizontal=True)
        )
    if mode == "Model folder":
        files = mf.list_checkpoints(folder)
        if not files:
            st.info(f"The model folder holds no checkpoint ({', '.join(mf.CHECKPOINT_SUFFIXES)}).")
            st.stop()
        mem.recall("model_file", files)
        name = mem.remember(
            "model_file", st.selectbox("Checkpoint in the model folder", files, key="model_file")
        )
        try:
            stamp = mf.file_stamp(folder, name)
        except mf.FolderError as e:
            st.error(str(e))
            st.stop()
        return CheckpointSource(name, None, f"folder:{name}:{stamp}", folder=folder)
    up = st.file_uploader(
        "Checkpoint",
        type=UPLOAD_TYPES,
        key="model_upload",
        help="A .safetensors file, a PyTorch state dict (.pt/.pth/.bin, loaded with "
        "weights_only=True: no code runs) or an .npz. Sharded checkpoints can be scanned from "
        "the model folder or with `python -m quantviz scan model.safetensors.index.json`. "
        "The last upload is kept while you visit other pages.",
    )
    kept = mem.kept_upload()
    if up is not None:
        try:
            return mem.from_upload(up)
        except BudgetError as e:
            st.error(str(e))
            st.stop()
    if kept is None:
        st.info("Upload a checkpoint to list its tensors and scan them.")
        st.stop()
    # The uploader is empty after a visit to another page: go on with the kept file.
    text, forget = st.columns([6, 1], vertical_alignment="center")
    if forget.button("Forget", key="model_forget", help="Drop the kept checkpoint and its scan."):
        mem.forget_upload(_ENTRIES, _RESULT)
        st.info("Upload a checkpoint to list its tensors and scan them.")
        st.stop()
    text.markdown(f"Checkpoint: **{kept.filename}** (kept from your last upload)")
    return kept


def tensor_list(src: CheckpointSource) -> pd.DataFrame:
    """The checkpoint's tensors (:func:`quantviz.scan.tensor_table`), read from the headers once
    per file and kept for the session; a file that cannot be read stops with its message."""
    cached = st.session_state.get(_ENTRIES)
    if cached is None or cached[0] != src.id:
        try:
            # The scan's element bound, so "too large" notes match what the scan will skip.
            with (
                mem.opened(src) as path,
                open_checkpoint(path, max_elements=SCAN_MAX_ELEMENTS) as ck,
            ):
                entries = ck.entries
        except InputError as e:
            st.error(str(e))
            st.stop()
        cached = (src.id, tensor_table(entries))
        st.session_state[_ENTRIES] = cached
    return cached[1]


def tensor_list_section(tensors: pd.DataFrame) -> None:
    """The tensor list in an expander (open for up to 50 tensors), with a name search."""
    with st.expander(f"Tensors ({len(tensors)})", expanded=len(tensors) <= 50):
        mem.recall("model_search")
        query = mem.remember(
            "model_search",
            st.text_input("Search tensors", key="model_search", placeholder="e.g. attn or mlp"),
        )
        shown = search_tensors(tensors, query)
        st.caption(
            f"{len(shown)} of {len(tensors)} tensors · {tensors['params'].sum():,} parameters"
        )
        show_table(
            shown,
            "model_tensors",
            hide_index=True,
            width="stretch",
            height=min(400, 40 + 35 * len(shown)),
        )


def scan_button(src: CheckpointSource, schemes: list[QuantScheme], include_1d: bool) -> None:
    """The Scan button: scans with a progress bar and keeps the table for this file."""
    if not st.button("Scan", key="model_scan", type="primary", disabled=not schemes):
        return
    bar = st.progress(0.0, text="Starting the scan…")

    def report(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"{done}/{total} · {name}")

    try:
        # A scan holds about two float32 copies of its largest tensor at a time.
        with server_memory.holding("scan", 8 * _largest(src), "this scan"), mem.opened(src) as p:
            table = scan(p, schemes, "auto", report, filename=src.filename, include_1d=include_1d)
    except (InputError, ValueError) as e:  # BudgetError too: over the server's memory budget
        bar.empty()
        st.error(str(e))
        st.stop()
    bar.empty()
    # Names this scan (a rescan of the same file may differ: other schemes, 'Include 1-D'), so
    # the charts can be cached across reruns instead of rebuilt on every widget change.
    table.attrs[_SCAN_ID] = f"{src.id}:{uuid.uuid4().hex}"
    st.session_state[_RESULT] = (src.id, table)


def _largest(src: CheckpointSource) -> int:
    """Elements of the largest tensor a scan of ``src`` loads (from the kept tensor list)."""
    cached = st.session_state.get(_ENTRIES)
    if cached is None or cached[0] != src.id:
        return 0
    tensors = cached[1]
    params = tensors.loc[tensors["note"].isin(["", ONE_D_NOTE]), "params"]  # the scannable ones
    return int(params.max()) if len(params) else 0


def scan_result(src: CheckpointSource) -> pd.DataFrame:
    """The last scan of this file; stops with a hint before the first scan, and with the skipped
    tensors when nothing could be scanned."""
    result = st.session_state.get(_RESULT)
    if result is None or result[0] != src.id:
        st.info("Choose schemes and press **Scan**.")
        st.stop()
    table: pd.DataFrame = result[1]
    if table.empty:
        st.warning(
            "No quantizable tensor was scanned (float, at least 2-D; 1-D with 'Include 1-D')."
        )
        show_table(pd.DataFrame(table.attrs.get("skipped", [])), "model_skipped", hide_index=True)
        st.stop()
    return table


def summary_cards(table: pd.DataFrame) -> None:
    """What was scanned, the float sizes, and one card per scheme: size, SQNR, worst layer."""
    summary = summarize_scan(table)
    params = int(summary["params"].iloc[0])
    st.caption(
        f"{table['name'].nunique()} tensors · {params:,} parameters scanned on "
        f"{table.attrs.get('device', 'cpu')} · {len(table.attrs.get('skipped', []))} skipped. "
        "SQNR is parameter-weighted: 10·log10(Σ signal / Σ noise)."
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


def layer_table_section(table: pd.DataFrame) -> str:
    """The metric picker, the per-layer table (worst first unless toggled off, each scheme's
    worst layer shaded) and the full table's download.

    Returns:
        The chosen metric column ("sqnr_db", "rel_error", ...).
    """
    mem.recall("model_metric", list(METRIC_TITLES))
    mem.recall("model_worst_first")
    metric = st.selectbox(
        "Metric", list(METRIC_TITLES), format_func=METRIC_TITLES.get, key="model_metric"
    )
    # On by default; no default once the key holds a value (see scheme_picker).
    worst = st.toggle(
        "Worst first", value="model_worst_first" not in st.session_state, key="model_worst_first"
    )
    mem.remember("model_metric", metric)
    mem.remember("model_worst_first", worst)
    wide = layer_rows(table, metric, worst=worst)
    schemes = scheme_columns(wide)
    highlight = wide.style.highlight_min if higher_is_better(metric) else wide.style.highlight_max
    styled = highlight(subset=schemes, color=WORST_COLOR).format(dict.fromkeys(schemes, fmt))
    st.caption(f"{METRIC_TITLES[metric]} per layer; the worst layer of each scheme is shaded red.")
    show_table(
        styled,
        "model_layers",
        hide_index=True,
        width="stretch",
        height=min(500, 40 + 35 * len(wide)),
    )
    st.download_button(
        "Download the full table (CSV)",
        # Built only when clicked, not on every rerun; "ignore" keeps the click from rerunning.
        lambda: table.to_csv(index=False),
        file_name="quantviz-scan.csv",
        mime="text/csv",
        key="model_download",
        on_click="ignore",
    )
    return metric


def layer_charts(table: pd.DataFrame, metric: str) -> None:
    """SQNR along the model, the layer × scheme heatmap of ``metric``, and what was skipped."""
    scan_id = table.attrs[_SCAN_ID]
    show_figure(
        cache.figure("sqnr_by_layer", f"model-sqnr:{scan_id}", table), key="model_sqnr_chart"
    )
    show_figure(
        cache.figure("layer_scheme_heatmap", f"model-heatmap:{scan_id}:{metric}", table, metric),
        key="model_heatmap",
    )
    skipped = table.attrs.get("skipped", [])
    if skipped:
        with st.expander(f"Skipped ({len(skipped)})"):
            # Not "model_skipped": that key is the table shown when nothing could be scanned.
            show_table(
                pd.DataFrame(skipped), "model_layers_skipped", hide_index=True, width="stretch"
            )


def worst_scheme(table: pd.DataFrame, layer: str) -> str | None:
    """The label of the scheme that gave ``layer`` its lowest SQNR in ``table`` (the first of a
    tie, in scan order), or None when the layer has no SQNR."""
    sqnr = table.loc[table["name"] == layer, "sqnr_db"].dropna()
    return None if sqnr.empty else str(table.at[sqnr.idxmin(), "scheme"])


def send_layer(table: pd.DataFrame, src: CheckpointSource) -> None:
    """A layer picker (worst SQNR first) and one button per single-tensor page that makes the
    layer the current tensor and opens that page; a layer those pages cannot take (too large,
    unusable) is refused with the reason. Quantize also gets the scheme that scored the layer
    worst."""
    labels = layer_choices(table, number=fmt)
    mem.recall("model_layer", list(labels))
    layer = mem.remember(
        "model_layer",
        st.selectbox(
            "Layer (worst first)", list(labels), format_func=labels.get, key="model_layer"
        ),
    )
    worst = worst_scheme(table, layer)
    targets = {label: path for label, path in PAGES.items() if (_ROOT / path).is_file()}
    helps = {"Quantize": f"With its worst scheme, {worst}." if worst else None}
    buttons = st.columns(len(targets) or 1)
    for col, (label, path) in zip(buttons, targets.items(), strict=False):
        if col.button(f"Open in {label}", key=f"model_send_{label.lower()}", help=helps.get(label)):
            try:
                # Read the bound now, not at import: it is a setting of quantviz.inputs.
                with (
                    mem.opened(src) as file,
                    open_checkpoint(file, max_elements=qv_inputs.MAX_ELEMENTS) as ck,
                ):
                    entry = next(e for e in ck.entries if e.name == layer)
                    x = ck.load(layer)
                    set_current_tensor(x, layer, "model", dtype=entry.dtype)
            except ValueError as e:  # too large, unusable, over the memory budget, refused
                st.error(f"Cannot open {layer} there: {e}")
                st.stop()
            if label == "Quantize" and worst is not None:
                show_scheme(worst)
            st.switch_page(path)


def show_scheme(label: str) -> None:
    """Make the scheme named ``label`` the one the Quantize page opens with, when its controls
    can show it; otherwise the page keeps its scheme (it is still a fair view of the layer)."""
    scheme = parse_scheme(label)
    try:
        set_scheme(scheme)
    except ValueError:  # e.g. per-channel along dim 2: no control for it
        return
    # The Quantize controls seed only the keys they do not hold yet, and values seeded for a
    # control not drawn then (the group size under per-tensor) outlive other pages' runs: drop
    # them, or a stale group size would replace the scheme's.
    for name in FIELDS:
        st.session_state.pop(f"{QUANTIZE_KEYS}_{name}", None)
