"""What the Model page keeps when people leave it: the page's widget values and the uploaded
checkpoint.

Streamlit drops a page's widget state, the file uploader's file included, as soon as another page
runs. Someone walking down the worst-layers list (send a layer to Quantize, come back, send the
next) would otherwise re-upload, re-scan and re-pick every time. The values are copied into plain
session-state keys, which survive page switches, and put back into the widgets when the page is
drawn again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

_WIDGETS = "_model_widgets"
_UPLOAD = "_model_kept_upload"

T = TypeVar("T")


@dataclass(frozen=True)
class CheckpointSource:
    """The checkpoint the Model page works on.

    Attributes:
        data: the uploaded bytes, or the path of a file in the model folder.
        filename: the upload's name (None for a path, which names itself).
        id: changes whenever the file does; cached entries and results are keyed on it.
    """

    data: bytes | str
    filename: str | None
    id: str


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


def upload_limit() -> int:
    """The largest upload in bytes (``server.maxUploadSize``); nothing larger is kept."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


def keep_upload(source: CheckpointSource) -> None:
    """Keep an uploaded checkpoint for the next visit, replacing the one kept before. One over
    :func:`upload_limit` is not kept: it cannot have come through the uploader, and each session
    holds its copy in memory."""
    if isinstance(source.data, bytes) and len(source.data) <= upload_limit():
        st.session_state[_UPLOAD] = source


def kept_upload() -> CheckpointSource | None:
    """The checkpoint kept by :func:`keep_upload`, or None."""
    return st.session_state.get(_UPLOAD)


def forget_upload(*result_keys: str) -> None:
    """Drop the kept checkpoint and the session-state entries ``result_keys`` derived from it."""
    for key in (_UPLOAD, *result_keys):
        st.session_state.pop(key, None)
