"""The server's memory budget in the app (:mod:`quantviz.memory_budget` is the accounting).

* :func:`accept_upload` spills an upload to a private temporary file, holds its size in the
  budget under a slot ("upload:home", "upload:model") and releases the uploader's copy: Streamlit
  keeps every uploaded file's bytes in its upload manager for as long as the session lives, so
  the record is replaced by an empty one with the same id (the widget still shows the file, the
  page reads the spilled copy).
* :func:`hold` accounts for what a session keeps in memory (its current tensor).
* Sessions end in two ways, both covered: the session state is garbage collected (a
  ``weakref.finalize`` on a token stored in it; Streamlit keeps a closed tab's session for
  reconnection, ``server.disconnectedSessionTTL``, then drops it), or the server stops listing the
  session while something still refers to it. :func:`sweep`, run on every page run, ends every
  session the runtime's session manager has not listed for :data:`SWEEP_GRACE_S`: its slots are
  released, its spilled files deleted, its big session-state entries cleared, and any uploads
  the upload manager still keeps for it dropped.

What cannot be released: while a file uploads, Streamlit holds its bytes in memory (the request
body, then the upload manager), bounded by ``server.maxUploadSize``; they are released by the
first page run that sees the upload.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from quantviz.memory_budget import (
    DEFAULT_SHARE,
    BudgetError,
    MemoryBudget,
    default_limit,
    fmt_bytes,
    remove_spill,
    same_content,
    spill,
)

_LOG = logging.getLogger(__name__)
_ALIVE = "_qv_session_alive"
_NO_SESSION = "no-session"
SWEEP_GRACE_S = 30.0
"""Seconds a session must be missing from the server's lists before a sweep ends it."""


def _limit() -> int:
    try:
        return default_limit()
    except ValueError as e:  # a bad setting must not take the app down: say so in the log
        _LOG.warning("%s; using %d%% of the memory instead", e, DEFAULT_SHARE * 100)
        return default_limit({})


BUDGET = MemoryBudget(_limit())
"""The one budget of this server process."""

_BIG_KEYS: set[str] = {_ALIVE}
_spills: dict[tuple[str, str], Path] = {}
_spills_lock = threading.Lock()


class _Alive:
    """A token kept in a session's state: when it is collected, the session has ended.

    ``key`` names the session in the budget: Streamlit's session id plus a random part, since
    test harnesses (AppTest) give every session the same id."""

    def __init__(self, session_id: str) -> None:
        self.key = f"{session_id}/{uuid.uuid4().hex}"


def drop_on_end(*keys: str) -> None:
    """Session-state keys (tensors, opened checkpoints) to clear when a session ends."""
    _BIG_KEYS.update(keys)


def session_key() -> str:
    """The running session's key in the budget (registering the session on its first call; a
    fixed name outside a Streamlit run)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return _NO_SESSION
    token = st.session_state.get(_ALIVE)
    if not isinstance(token, _Alive):
        token = _Alive(ctx.session_id)
        st.session_state[_ALIVE] = token
        weakref.finalize(token, BUDGET.end_session, token.key)
        BUDGET.on_end(token.key, functools.partial(_remove_spills, token.key))
        BUDGET.on_end(token.key, functools.partial(_clear_state, weakref.ref(ctx.session_state)))
    return token.key


def _clear_state(state_ref: weakref.ref) -> None:
    state = state_ref()
    if state is None:
        return
    for key in list(_BIG_KEYS):
        with contextlib.suppress(Exception):  # absent, or the state is being torn down
            del state[key]


def _remove_spills(session: str) -> None:
    with _spills_lock:
        paths = [_spills.pop(k) for k in [k for k in _spills if k[0] == session]]
    for path in paths:
        remove_spill(path)


def track_session() -> None:
    """Every page run: register a new session (so what it holds is freed when it ends), then
    :func:`sweep`."""
    session_key()
    sweep()


def live_sessions() -> set[str] | None:
    """Ids of the sessions the server still serves (connected or kept for reconnection), or
    None outside a running server (AppTest, scripts)."""
    if not runtime.exists():
        return None
    manager = getattr(runtime.get_instance(), "_session_mgr", None)
    if manager is None:
        return None
    return {info.session.id for info in manager.list_sessions()}


def sweep(live: set[str] | None = None, grace: float = SWEEP_GRACE_S) -> list[str]:
    """End every session missing from ``live`` (default :func:`live_sessions`) for ``grace``
    seconds, and drop the uploads Streamlit still keeps for such sessions. Never raises: the
    server's lists are read without its locks, and a failed sweep is retried on the next run.

    Returns:
        The sessions ended.
    """
    try:
        live = live_sessions() if live is None else live
        if live is None:
            return []
        served = [k for k in BUDGET.sessions() if k.split("/")[0] in live]
        ended = BUDGET.sweep(served, grace)
        ctx = get_script_run_ctx()
        if ctx is not None:
            drop_orphan_uploads(ctx.uploaded_file_mgr, live, grace)
    except Exception:  # e.g. a list changed size while read: try again on the next run
        _LOG.debug("memory sweep skipped", exc_info=True)
        return []
    return ended


_orphans_since: dict[str, float] = {}


def drop_orphan_uploads(manager: Any, live: set[str], grace: float = 0.0) -> list[str]:
    """Drop the uploads Streamlit's in-memory upload manager keeps for sessions missing from
    ``live`` for ``grace`` seconds (it drops them when it shuts a session down, which for a
    closed tab happens only once nothing refers to the session any more).

    Returns:
        The sessions whose uploads were dropped.
    """
    storage = getattr(manager, "file_storage", None)
    if not isinstance(storage, dict):
        return []  # another manager: it keeps its own accounts
    now = time.monotonic()
    orphans = []
    for session in list(storage):
        if session in live:
            _orphans_since.pop(session, None)
        elif now - _orphans_since.setdefault(session, now) >= grace:
            orphans.append(session)
    for session in orphans:
        manager.remove_session_files(session)
        _orphans_since.pop(session, None)
    return orphans


def hold(slot: str, nbytes: int, what: str) -> None:
    """Hold ``nbytes`` for this session in ``slot`` (replacing what it held there).

    Raises:
        BudgetError: it does not fit; the slot keeps what it held.
    """
    BUDGET.reserve(session_key(), slot, nbytes, what)


@contextlib.contextmanager
def holding(slot: str, nbytes: int, what: str) -> Iterator[None]:
    """Hold ``nbytes`` for this session in ``slot`` for the ``with`` block (a transient need).

    Raises:
        BudgetError: it does not fit; the block does not run.
    """
    with BUDGET.holding(session_key(), slot, nbytes, what):
        yield


def release_upload(upload: Any) -> None:
    """Drop the uploader's in-memory copy of ``upload`` (an ``UploadedFile``); its id and name
    stay, so the widget and the page still know which file it was."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        empty = UploadedFileRec(upload.file_id, upload.name, upload.type, b"")
        ctx.uploaded_file_mgr.add_file(ctx.session_id, empty)
    upload.close()


def accept_upload(upload: Any, slot: str) -> Path:
    """Spill ``upload`` to disk, hold its size in ``slot`` and release the uploader's copy. The
    file spilled before into the same slot is deleted.

    Returns:
        The spilled file's path (named after the upload), to open with ``open_checkpoint``.

    Raises:
        BudgetError: it does not fit in the budget, or cannot be written; the slot keeps what it
            held before.
    """
    session = session_key()
    what = f"'{upload.name}' ({fmt_bytes(upload.size)})"
    held_before = BUDGET.held(session).get(slot)
    try:
        BUDGET.reserve(session, slot, upload.size, what)
        path = spill(upload, upload.name)
    except BudgetError:
        release_upload(upload)
        raise
    except OSError as e:
        if held_before is None:
            BUDGET.release(session, slot)
        else:
            BUDGET.reserve(session, slot, held_before)
        release_upload(upload)
        raise BudgetError(f"{what} could not be stored on the server ({e.strerror}).") from None
    release_upload(upload)
    with _spills_lock:
        old = _spills.get((session, slot))
        _spills[(session, slot)] = path
    if old is not None:
        remove_spill(old)
    return path


def is_same_upload(upload: Any, path: str | Path) -> bool:
    """Whether ``upload`` holds the same bytes as the spilled file ``path``."""
    return same_content(upload, path)


def forget_upload(slot: str) -> None:
    """Release ``slot`` and delete the file spilled into it."""
    session = session_key()
    BUDGET.release(session, slot)
    with _spills_lock:
        path = _spills.pop((session, slot), None)
    if path is not None:
        remove_spill(path)


def on_session_end(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup()`` when this session ends."""
    BUDGET.on_end(session_key(), cleanup)
