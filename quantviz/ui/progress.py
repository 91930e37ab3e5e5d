"""Long runs with a progress bar, an estimate of the time left, and a Stop button.

How stopping works in Streamlit: clicking Stop while a run is in progress sends a rerun request
with the button's click. Streamlit cannot interrupt Python code, but every element update is a
point where the running script checks for such a request and ends itself. The core reports
before each scheme (``on_progress``), and each report updates the bar, so the run ends at the
next scheme boundary. The new run calls the button's callback, which records that this run (its
key: tensor and settings) was stopped, and the page shows that instead of starting it again
until the user asks for it or changes a setting.

Results are cached per run key (the work itself runs outside the cached function, so the bar's
updates are never recorded for replay).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from quantviz.progress import OnProgress, StoppedError

T = TypeVar("T")

# Tensors smaller than this finish in well under a second: no bar, no Stop button.
PROGRESS_MIN_ELEMENTS = 1 << 18
_STOPPED = "progress_stopped"  # session key: {page prefix: key of the run the user stopped}


def seconds_text(seconds: float) -> str:
    """``"4 s"``, ``"1 min 05 s"``: a duration as a person reads it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def progress_text(what: str, done: int, total: int, label: str, elapsed: float) -> str:
    """The bar's caption: what runs now, which step of how many, and the time left at the mean
    pace so far (none before the first step has finished)."""
    step = f"{what}: {label} ({done + 1} of {total})"
    if done == 0:
        return f"{step} · estimating the time left…"
    left = elapsed / done * (total - done)
    return f"{step} · about {seconds_text(left)} left"


class Reporter:
    """An ``on_progress`` callback that draws into a Streamlit progress bar and stops the run
    once it is marked stopped (both the bar update and the session-state read are points where
    Streamlit ends a script whose rerun was requested, e.g. by the Stop button)."""

    def __init__(self, what: str, bar: Any, prefix: str, run_key: str) -> None:
        self.what = what
        self.bar = bar
        self.prefix = prefix
        self.run_key = run_key
        self.start = time.monotonic()

    def __call__(self, done: int, total: int, label: str) -> bool:
        if stopped(self.prefix, self.run_key):
            return False
        if done < total:
            text = progress_text(self.what, done, total, label, time.monotonic() - self.start)
            self.bar.progress(done / max(total, 1), text=text)
        return True


class _MissError(Exception):
    pass


@st.cache_data(max_entries=24, show_spinner=False)
def _stored(run_key: str, _box: dict) -> Any:
    if "value" not in _box:
        raise _MissError
    return _box["value"]


def _stop(prefix: str, run_key: str) -> None:
    st.session_state.setdefault(_STOPPED, {})[prefix] = run_key


def _resume(prefix: str) -> None:
    st.session_state.get(_STOPPED, {}).pop(prefix, None)


def stopped(prefix: str, run_key: str) -> bool:
    """Whether the user stopped this page's run with this key."""
    return st.session_state.get(_STOPPED, {}).get(prefix) == run_key


def run_with_progress(
    prefix: str,
    run_key: str,
    what: str,
    work: Callable[[OnProgress | None], T],
    numel: int,
) -> T | None:
    """``work(on_progress)``, cached on ``run_key``, with a progress bar and a Stop button
    while it runs on a large tensor.

    Args:
        prefix: the page's widget-key prefix (one stopped run remembered per page).
        run_key: identifies the work: the tensor's token and every setting it depends on.
        what: what the work does, for the bar ("Comparing 8 granularities").
        work: the computation; passes ``on_progress`` on to the core.
        numel: elements of the tensor (small tensors get no bar).

    Returns:
        The result, or None when the user stopped this run (the page then says so, with a
        button to run it after all).
    """
    try:
        return _stored(run_key, {})
    except _MissError:
        pass
    if stopped(prefix, run_key):
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.warning(f"Stopped: {what}. Change a setting, or run it anyway.", icon="⏹")
        c2.button("Run", key=f"{prefix}_resume", on_click=_resume, args=(prefix,))
        return None
    if numel < PROGRESS_MIN_ELEMENTS:
        return _stored(run_key, {"value": work(None)})
    slot = st.empty()
    box = slot.container()
    c1, c2 = box.columns([5, 1], vertical_alignment="bottom")
    bar = c1.progress(0.0, text=f"{what}…")
    c2.button("Stop", key=f"{prefix}_stop", on_click=_stop, args=(prefix, run_key))
    reporter = Reporter(what, bar, prefix, run_key)
    try:
        value = work(reporter)
    except StoppedError:
        slot.empty()
        st.rerun()  # the page then says it was stopped
    slot.caption(f"{what}: done in {seconds_text(time.monotonic() - reporter.start)}.")
    return _stored(run_key, {"value": value})
