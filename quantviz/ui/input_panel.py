"""The Home page's ways to bring a tensor: the example, typed text, a grid editor, an upload with a
tensor picker, or a generator. Every path ends in :func:`set_current_tensor`; a failure shows the
core's message with ``st.error`` and the previous tensor stays current.

Widget keys (stable, used by the browser tests): ``home_mode``; ``example_load``;
``text_input``, ``text_apply``; ``grid_editor``, ``grid_cols``, ``grid_apply``, ``grid_reset``;
``upload_file``, ``upload_search``, ``upload_tensor``; ``gen_kind``, ``gen_rows``, ``gen_cols``,
``gen_seed``, ``gen_outliers``, ``gen_apply``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
import torch

from quantviz.inputs import (
    GENERATOR_KINDS,
    generate,
    generator_params,
    open_checkpoint,
    parse_matrix_info,
)
from quantviz.ui import server_memory
from quantviz.ui.grid import grid_cells, grid_column_config, grid_columns, grid_to_tensor
from quantviz.ui.session import (
    EXAMPLE_NAME,
    current,
    example_tensor,
    example_url_params,
    generated_url_params,
    set_current_tensor,
)
from quantviz.ui.widgets import show_table

MODES = ["Example", "Type or paste", "Edit grid", "Upload", "Generate"]
UPLOAD_TYPES = ["safetensors", "npy", "npz", "pt", "pth", "bin", "ckpt", "csv", "tsv", "txt"]
GRID_MAX_CELLS = 64 * 64
_ERROR = "home_error"
_NOTES = "home_notes"
_GRID_BASE = "grid_base"
_OPENED, _LOADED = "upload_ckpt", "upload_loaded"
UPLOAD_SLOT = "upload:home"
"""The budget slot of the Home page's upload (see :mod:`quantviz.ui.server_memory`)."""
server_memory.drop_on_end(_OPENED)


def _example_text() -> str:
    return "\n".join(", ".join(f"{v:g}" for v in row) for row in example_tensor().tolist())


def _apply(make: Any, name: str, source: str, notes: list[str] | None = None, **kwargs) -> None:
    """Build a tensor with ``make()`` and make it current, or keep the message of what failed
    (shown under the mode that failed). A success reruns the page so every widget, the sidebar
    included, shows the new tensor; ``notes``, filled in by ``make``, are shown after it."""
    mode = st.session_state.get("home_mode")
    try:
        set_current_tensor(make(), name, source, **kwargs)
    except ValueError as exc:  # InputError is a ValueError
        st.session_state[_ERROR] = (mode, str(exc))
        st.session_state.pop(_NOTES, None)  # they were about the tensor read before
        return
    st.session_state.pop(_ERROR, None)
    st.session_state[_NOTES] = (mode, list(notes or []))
    st.rerun()


def _example_mode() -> None:
    st.markdown(
        "The course notebook's 3×3 matrix: per-tensor int8 gives an MSE of 2.509, per-row 1.808 "
        "and per-column 1.078. A good first look at why granularity matters."
    )
    if st.button("Load the notebook example", key="example_load", type="primary"):
        _apply(example_tensor, EXAMPLE_NAME, "example", url_params=example_url_params())


def _text_mode() -> None:
    st.session_state.setdefault("text_input", _example_text())
    st.text_area(
        "Numbers",
        key="text_input",
        height=180,
        help="Rows on lines, values separated by commas, spaces, tabs or semicolons; or a "
        "Python / NumPy / PyTorch literal such as [[1, 2], [3, 4]] or a tensor([...]) printout.",
    )
    if st.button("Use these numbers", key="text_apply", type="primary"):
        text = st.session_state["text_input"]
        notes: list[str] = []

        def read() -> torch.Tensor:
            t, said = parse_matrix_info(text)
            notes.extend(said)  # e.g. a first line read as a header and skipped
            return t

        _apply(read, "typed matrix", "text", notes=notes)


# The grids are text columns: a number column's editor drops the 'e' of '1e30' (it became
# 130) and shows float32 noise (728.5999755859375); text keeps the value as typed and is read
# by the same number parsing as typed text, with a message for a cell that is not a number.
def _grid_from(x: torch.Tensor) -> pd.DataFrame:
    matrix = x.reshape(1, -1) if x.dim() == 1 else x
    if matrix.dim() != 2 or matrix.numel() > GRID_MAX_CELLS:
        matrix = example_tensor()
    # Rows numbered from 1; an integer index lets the editor number added rows itself.
    index = pd.RangeIndex(1, matrix.shape[0] + 1)
    return pd.DataFrame(grid_cells(matrix), columns=grid_columns(matrix.shape[1]), index=index)


def _resize_grid() -> None:
    base: pd.DataFrame = st.session_state[_GRID_BASE]
    names = grid_columns(int(st.session_state["grid_cols"]))
    st.session_state[_GRID_BASE] = pd.DataFrame(
        {c: base.get(c, "0") for c in names}, index=base.index
    )
    st.session_state.pop("grid_editor", None)  # the old edits refer to the old columns


def _reset_grid() -> None:
    st.session_state[_GRID_BASE] = _grid_from(current().tensor)
    st.session_state["grid_cols"] = st.session_state[_GRID_BASE].shape[1]
    st.session_state.pop("grid_editor", None)


def _grid_mode() -> None:
    if _GRID_BASE not in st.session_state:
        _reset_grid()
    base: pd.DataFrame = st.session_state[_GRID_BASE]
    st.session_state.setdefault("grid_cols", base.shape[1])
    left, right = st.columns([1, 1])
    left.number_input(
        "Columns", min_value=1, max_value=64, step=1, key="grid_cols", on_change=_resize_grid
    )
    right.button("Reset from the current tensor", key="grid_reset", on_click=_reset_grid)
    edited = st.data_editor(
        base,
        key="grid_editor",
        num_rows="dynamic",
        width="stretch",
        column_config=grid_column_config(base),
    )
    st.caption(
        "Edit any cell (1e-3 style numbers are fine); add rows with the + below the grid, "
        "delete them by selecting them."
    )
    if st.button("Use this grid", key="grid_apply", type="primary"):
        _apply(lambda: grid_to_tensor(edited), "edited grid", "grid")


def _forget_upload() -> None:
    """Drop the opened file once the uploader is cleared, and delete its spilled copy."""
    opened = st.session_state.pop(_OPENED, None)
    if opened is not None and opened[1] is not None:
        opened[1].close()
    st.session_state.pop(_LOADED, None)
    server_memory.forget_upload(UPLOAD_SLOT)


def _open_upload(upload: Any) -> tuple[str, Any, str]:
    """``(file_id, checkpoint or None, error)`` for a new upload: spilled to a temporary file and
    memory-mapped from there, the uploader's in-memory copy released."""
    try:
        path = server_memory.accept_upload(upload, UPLOAD_SLOT)
        return upload.file_id, open_checkpoint(path), ""
    except ValueError as exc:  # InputError, or BudgetError: over the server's memory budget
        return upload.file_id, None, str(exc)


def _upload_mode(listing_area: Any = None) -> None:
    upload = st.file_uploader(
        "Tensor file",
        type=UPLOAD_TYPES,
        key="upload_file",
        help="A .safetensors / .pt / .npz checkpoint (pick a tensor below), a single .npy array, "
        "or a .csv / .txt matrix.",
    )
    if upload is None:
        _forget_upload()
        st.caption("Typed and uploaded tensors cannot be shared in the URL; generated ones can.")
        return
    file_id = upload.file_id
    opened = st.session_state.get(_OPENED)
    if opened is None or opened[0] != file_id:
        _forget_upload()
        opened = _open_upload(upload)  # once per uploaded file, not on every rerun
        st.session_state[_OPENED] = opened
    ckpt = opened[1]
    if ckpt is None:
        st.error(opened[2])
        return
    usable = [e for e in ckpt.entries if e.quantizable]
    if not usable:
        if len(ckpt.entries) > 1:
            _tensor_picker(ckpt.entries, usable, None, listing_area)
        reasons = "; ".join(sorted({e.reason for e in ckpt.entries if e.reason}))
        st.error(f"{upload.name} has no tensor quantviz can quantize ({reasons}).")
        return
    first = default_entry(usable)
    chosen = (
        _tensor_picker(ckpt.entries, usable, first.name, listing_area)
        if len(ckpt.entries) > 1
        else None
    )
    entry = next((e for e in usable if e.name == chosen), first)
    wanted = (file_id, entry.name)
    if st.session_state.get(_LOADED) != wanted:
        st.session_state[_LOADED] = wanted
        name = upload.name if len(ckpt.entries) == 1 else entry.name
        _apply(lambda: ckpt.load(entry.name), name, "upload", dtype=entry.dtype)


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""


def default_entry(usable: list) -> Any:
    """The tensor an upload shows first: the largest matrix (or higher), since a checkpoint's
    first usable entry is often a 1-D bias or norm, the least telling thing to quantize; the
    largest of all when none has two dimensions. Ties keep file order.

    Args:
        usable: the checkpoint's quantizable entries (at least one).

    Returns:
        One of ``usable``.
    """
    return max(usable, key=lambda e: (len(e.shape) >= 2, e.numel))


def _tensor_picker(
    entries: list, usable: list, default: str | None, area: Any = None
) -> str | None:
    """A searchable table of the file's tensors (drawn in ``area`` when given) and a picker of
    the quantizable ones, starting on ``default`` when it is listed."""
    query = st.text_input("Search tensors", key="upload_search", placeholder="e.g. q_proj")
    query = query.strip().lower()
    shown = [e for e in entries if query in e.name.lower()]
    listing = pd.DataFrame(
        {
            "name": [e.name for e in shown],
            "shape": ["×".join(map(str, e.shape)) for e in shown],
            "dtype": [e.dtype for e in shown],
            "size": [_size(e.nbytes) for e in shown],
            "usable": ["yes" if e.quantizable else (e.reason or "no") for e in shown],
        }
    )
    # About 35 px a row: short listings without blank rows, long ones scroll.
    height = min(360, 35 * (len(listing) + 1) + 3)
    # In the narrow input column the size and usable columns hid behind a horizontal scroll,
    # so the page may hand a wider place for the listing (Home: below its two columns).
    with area if area is not None else st.container():
        st.markdown(f"**Tensors in the file** ({len(shown)} of {len(entries)} listed)")
        show_table(listing, key="upload_table", hide_index=True, width="stretch", height=height)
    if area is not None:
        st.caption("The file's tensors are listed in full below.")
    names = [e.name for e in usable if query in e.name.lower()]
    if not names:
        st.info("No quantizable tensor matches the search.")
        return None
    index = names.index(default) if default in names else 0
    return st.selectbox(
        f"Tensor ({len(names)} of {len(usable)})", names, index=index, key="upload_tensor"
    )


GEN_LABELS = {
    "mean": "Mean",
    "std": "Std",
    "low": "Low",
    "high": "High",
    "loc": "Location",
    "scale": "Scale",
    "fraction": "Outlier fraction",
    "factor": "Outlier factor",
    "pattern": "Outliers in",
}
GEN_CHOICES = {"pattern": ["columns", "elements"]}


def _generator_widgets(kind: str) -> dict[str, Any]:
    """One widget per parameter of the kind (keys ``gen_<parameter>``), from the core's defaults."""
    params: dict[str, Any] = {}
    defaults = generator_params(kind)
    # Rows of at most three: four or five side by side clipped the "Outliers in" choice.
    per_row = min(3, max(1, len(defaults)))
    names = list(defaults)
    cols = [c for i in range(0, len(names), per_row) for c in st.columns(per_row)]
    for col, (name, default) in zip(cols, defaults.items(), strict=False):
        label, key = GEN_LABELS.get(name, name), f"gen_{name}"
        if name in GEN_CHOICES:
            params[name] = col.selectbox(label, GEN_CHOICES[name], key=key)
        else:
            params[name] = float(col.number_input(label, value=float(default), key=key))
    return params


def _generate_mode() -> None:
    kind = st.selectbox("Distribution", list(GENERATOR_KINDS), key="gen_kind")
    shape: tuple[int, ...] | None = None
    c1, c2, c3 = st.columns(3)
    if kind != "notebook":
        c1.number_input("Rows", min_value=1, max_value=8192, value=64, step=1, key="gen_rows")
        c2.number_input("Columns", min_value=1, max_value=8192, value=64, step=1, key="gen_cols")
        shape = (int(st.session_state["gen_rows"]), int(st.session_state["gen_cols"]))
    # Bounded well inside what the browser represents exactly (and what generate accepts).
    c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="gen_seed")
    params = _generator_widgets(kind)
    if st.button("Generate", key="gen_apply", type="primary"):
        seed = int(st.session_state["gen_seed"])
        dims = shape or (3, 3)
        _apply(
            lambda: generate(kind, shape, seed=seed, **params),
            f"{kind} {dims[0]}×{dims[1]} (seed {seed})",
            "generate",
            url_params=generated_url_params(kind, dims, seed, params),
        )


def input_panel(listing_area: Any = None) -> None:
    """The input mode picker and the widgets of the chosen mode.

    Args:
        listing_area: a wide container (e.g. ``st.container()`` created below the page's
            columns) for an uploaded checkpoint's tensor table; by default it is drawn in place.
    """
    mode = st.radio("Input", MODES, key="home_mode", horizontal=True, label_visibility="collapsed")
    with st.spinner("Reading…"):
        {
            "Example": _example_mode,
            "Type or paste": _text_mode,
            "Edit grid": _grid_mode,
            "Upload": lambda: _upload_mode(listing_area),
            "Generate": _generate_mode,
        }[mode]()
    failed = st.session_state.get(_ERROR)
    if failed and failed[0] == mode:
        st.error(failed[1])
    # What the last successful read did that the text did not say (until the next one).
    said = st.session_state.get(_NOTES)
    if said and said[0] == mode:
        for note in said[1]:
            st.info(note)
