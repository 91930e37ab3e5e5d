"""Progress reports from long runs (comparisons, sweeps), with a way to stop them.

A long run calls ``on_progress(done, total, label)`` before each step (``label`` names the step
about to run) and once more at the end with ``done == total``. The callback stops the run by
raising any exception (it propagates unchanged) or by returning ``False`` (the run then raises
:class:`StoppedError`). The core never imports a UI: the app's progress bar is one such callback.
"""

from __future__ import annotations

from collections.abc import Callable

OnProgress = Callable[[int, int, str], object]


class StoppedError(Exception):
    """A run was stopped by its progress callback (which returned False)."""


def report(on_progress: OnProgress | None, done: int, total: int, label: str) -> None:
    """Tell ``on_progress`` that ``done`` of ``total`` steps are finished and ``label`` is next.

    Raises:
        StoppedError: when the callback returns ``False``.
    """
    if on_progress is not None and on_progress(done, total, label) is False:
        raise StoppedError(f"stopped after {done} of {total} steps, before {label}")
