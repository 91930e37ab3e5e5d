"""What the Model page keeps when people leave it: the page's widget values and the uploaded
checkpoint (spilled to a temporary file, see :mod:`quantviz.ui.server_memory`).

Streamlit drops a page's widget state, the file uploader's file included, as soon as another page
runs. Someone walking down the worst-layers list (send a layer to Quantize, come back, send the
next) would otherwise re-upload, re-scan and re-pick every time. The values are copied into plain
session-state keys, which survive page switches, and put back into the widgets when the page is
drawn again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from quantviz import model_folder as mf
from quantviz.ui import server_memory

_WIDGETS = "_model_widgets"
_UPLOAD = "_model_kept_upload"
UPLOAD_SLOT = "upload:model"
"""The budget slot of the Model page's upload."""
server_memory.drop_on_end(_UPLOAD)

T = TypeVar("T")


@dataclass(frozen=True)
class CheckpointSource:
    """The checkpoint the Model page works on.

    Attributes:
        data: the path of the upload's spilled copy, or (with ``folder``) the name of a file in
            the model folder, which is opened through :func:`quantviz.model_folder.pinned`.
        filename: the upload's name (None for the model folder, whose names name themselves).
        id: changes whenever the file does; cached entries and results are keyed on it.
        folder: the model folder, for a file in it.
    """

    data: str
    filename: str | None
    id: str
    folder: Path | None = None


def recall(key: str, options: Sequence[Any] | None = None) -> None:
    """Before widget ``key`` is drawn, give it back the value it had on the last visit.

    Args:
        key: the widget key.
        options: the widget's options now; a remembered value (or, for a multiselect, any of its
            values) no longer among them is not restored, so the widget keeps its default.
    """
    saved = st.session_state.get(_WIDGETS, {})
    if key in st.session_state or key not in saved:
        return  # the widget is live (a rerun on this page) or was never drawn
    value = saved[key]
    if options is not None:
        values = value if isinstance(value, list) else [value]
        if not all(v in options for v in values):
            return  # another file or folder listing: the old choice means nothing here
    st.session_state[key] = value


def remember(key: str, value: T) -> T:
    """Keep widget ``key``'s ``value`` for the next visit, and return it."""
    st.session_state.setdefault(_WIDGETS, {})[key] = value
    return value


def keep_upload(source: CheckpointSource) -> None:
    """Keep an uploaded checkpoint (its spilled copy) for the next visit, replacing the one kept
    before."""
    if source.folder is None:
        st.session_state[_UPLOAD] = source


def from_upload(up: Any) -> CheckpointSource:
    """The checkpoint of the uploader's file ``up``: spilled to a temporary file and kept (the
    uploader's in-memory copy released), or the kept one when ``up`` is that file, or the same
    bytes under the same name uploaded again (so the kept id keeps its scan).

    Raises:
        BudgetError: the file does not fit in the server's memory budget; nothing is kept.
    """
    kept = kept_upload()
    upload_id = f"upload:{up.file_id}:{up.name}"
    if kept is not None and kept.id == upload_id:
        return kept  # read on an earlier run (the uploader's copy is released)
    if (
        kept is not None
        and kept.filename == up.name
        and server_memory.is_same_upload(up, kept.data)
    ):
        server_memory.release_upload(up)
        return kept
    path = server_memory.accept_upload(up, UPLOAD_SLOT)  # replaces the file spilled before
    src = CheckpointSource(str(path), up.name, upload_id)
    keep_upload(src)
    return src


def kept_upload() -> CheckpointSource | None:
    """The checkpoint kept by :func:`keep_upload`, or None."""
    return st.session_state.get(_UPLOAD)


def forget_upload(*result_keys: str) -> None:
    """Drop the kept checkpoint (deleting its spilled copy) and the session-state entries
    ``result_keys`` derived from it."""
    for key in (_UPLOAD, *result_keys):
        st.session_state.pop(key, None)
    server_memory.forget_upload(UPLOAD_SLOT)


@contextlib.contextmanager
def opened(src: CheckpointSource) -> Iterator[str]:
    """The path to read ``src`` from, for the ``with`` block: a file of the model folder is
    opened once, without following links, and read through that descriptor
    (:func:`quantviz.model_folder.pinned`); raises FolderError (an InputError) when refused."""
    if src.folder is None:
        yield src.data
    else:
        with mf.pinned(src.folder, src.data) as path:
            yield str(path)
