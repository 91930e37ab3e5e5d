"""A server-wide memory budget for what sessions hold, and uploads spilled to disk.

A dashboard serving many people must not be killed for memory because each of them uploaded a
large file. Two things keep it inside a budget:

* **Spill, then map.** An upload is copied to a private temporary file (:func:`spill`) and read
  from there with a memory map, so a checkpoint costs page cache (which the kernel can drop and
  re-read) instead of a copy in the Python heap.
* **Account, then refuse.** A :class:`MemoryBudget` records, per session, what it holds (its
  kept uploads and its current tensor, by slot) and refuses with a :class:`BudgetError` (a
  message for people) whatever would take the total past the limit. When a session ends,
  :meth:`MemoryBudget.end_session` drops its slots and runs its clean-ups (deleting its spilled
  files, clearing its state).

The limit is ``QUANTVIZ_MEMORY_BUDGET``: bytes (``"8GiB"``, ``"512MB"``, ``"1000000"``) or a share
of the machine's memory (``"40%"``, ``"0.4"``); by default :data:`DEFAULT_SHARE` of it. Nothing
here imports streamlit; :mod:`quantviz.ui.server_memory` wires it to the app.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import BinaryIO

import psutil

ENV_VAR = "QUANTVIZ_MEMORY_BUDGET"
SPILL_ENV_VAR = "QUANTVIZ_SPILL_DIR"
DEFAULT_SHARE = 0.5
"""The share of the machine's memory sessions may hold when the operator sets no budget."""
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?", re.IGNORECASE)
_CHUNK = 2**20


class BudgetError(ValueError):
    """What a session asked for does not fit in the server's memory budget (a message for
    people: what is held, the limit, what was asked)."""


def fmt_bytes(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``: sizes in messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def parse_budget(text: str, total_memory: int) -> int:
    """The budget in bytes that ``text`` names.

    Args:
        text: ``"8GiB"``, ``"512MB"``, ``"1000000"`` (bytes), ``"40%"`` or ``"0.4"`` (a share).
        total_memory: the machine's memory in bytes, for shares.

    Raises:
        ValueError: naming the text when it is none of those, or not positive.
    """
    s = text.strip()
    try:
        if s.endswith("%"):
            share = float(s[:-1]) / 100
        elif re.fullmatch(r"0?\.\d+|1(\.0*)?", s):
            share = float(s)
        else:
            share = None
    except ValueError:
        share = None
    if share is not None:
        if not 0 < share <= 1:
            raise ValueError(f"{ENV_VAR}={text!r}: a share must be above 0% and at most 100%")
        return int(total_memory * share)
    m = _SIZE.fullmatch(s)
    if m is None:
        raise ValueError(
            f"{ENV_VAR}={text!r} is not a size; use bytes ('8GiB', '512MB') or a share ('40%')"
        )
    number, prefix, binary = m.groups()
    power = " kmgt".index(prefix.lower() or " ")
    size = int(float(number) * (1024 if binary else 1000) ** power)
    if size <= 0:
        raise ValueError(f"{ENV_VAR}={text!r}: the budget must be positive")
    return size


def default_limit(environ: Mapping[str, str] | None = None) -> int:
    """The budget from ``QUANTVIZ_MEMORY_BUDGET``, or :data:`DEFAULT_SHARE` of the memory.

    Raises:
        ValueError: the variable is set to something :func:`parse_budget` cannot read.
    """
    env = os.environ if environ is None else environ
    total = psutil.virtual_memory().total
    value = env.get(ENV_VAR, "").strip()
    return parse_budget(value, total) if value else int(total * DEFAULT_SHARE)


class MemoryBudget:
    """What every session holds, by slot, against one limit. Thread-safe.

    Args:
        limit: bytes all sessions together may hold.
    """

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError(f"the memory budget must be positive, got {limit!r}")
        self.limit = limit
        self._lock = threading.RLock()
        self._held: dict[str, dict[str, int]] = {}
        self._cleanups: dict[str, list[Callable[[], None]]] = {}
        self._missing: dict[str, float] = {}  # session -> when a sweep first missed it

    def total(self) -> int:
        """Bytes held by all sessions."""
        with self._lock:
            return sum(sum(slots.values()) for slots in self._held.values())

    def held(self, session: str) -> dict[str, int]:
        """A copy of one session's slots (empty once it has ended)."""
        with self._lock:
            return dict(self._held.get(session, {}))

    def sessions(self) -> list[str]:
        """Sessions that hold something or have clean-ups registered."""
        with self._lock:
            return sorted(set(self._held) | set(self._cleanups))

    def reserve(self, session: str, slot: str, nbytes: int, what: str = "this") -> None:
        """Let ``session`` hold ``nbytes`` in ``slot``, replacing what the slot held before.

        Args:
            session: the session's id.
            slot: what is held ("upload:model", "tensor", ...); one amount per slot.
            nbytes: the new amount.
            what: how to name it in the message ("this upload").

        Raises:
            BudgetError: the total would pass the limit; nothing changes then.
        """
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes!r}")
        with self._lock:
            slots = self._held.setdefault(session, {})
            others = self.total() - slots.get(slot, 0)
            if others + nbytes > self.limit:
                if not slots:
                    del self._held[session]
                raise BudgetError(
                    f"The server is short of memory: its sessions hold {fmt_bytes(others)} of "
                    f"its {fmt_bytes(self.limit)} budget, and {what} needs {fmt_bytes(nbytes)}. "
                    "Nothing was loaded and what you had stays. Try again when other people "
                    "are done, or use a smaller file or tensor."
                )
            slots[slot] = nbytes

    def release(self, session: str, slot: str) -> None:
        """Forget what ``session`` held in ``slot`` (nothing when it held nothing)."""
        with self._lock:
            slots = self._held.get(session)
            if slots is not None:
                slots.pop(slot, None)
                if not slots:
                    del self._held[session]

    @contextlib.contextmanager
    def holding(self, session: str, slot: str, nbytes: int, what: str = "this") -> Iterator[None]:
        """Hold ``nbytes`` in ``slot`` for the ``with`` block (a transient need, e.g. a scan)."""
        self.reserve(session, slot, nbytes, what)
        try:
            yield
        finally:
            self.release(session, slot)

    def on_end(self, session: str, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup()`` when ``session`` ends (once; errors in it are ignored)."""
        with self._lock:
            self._cleanups.setdefault(session, []).append(cleanup)

    def end_session(self, session: str) -> None:
        """Drop everything ``session`` holds and run its clean-ups. Safe to call twice."""
        with self._lock:
            self._held.pop(session, None)
            self._missing.pop(session, None)
            cleanups = self._cleanups.pop(session, [])
        for cleanup in cleanups:
            with contextlib.suppress(Exception):
                cleanup()

    def sweep(self, live: Iterable[str], grace: float = 0.0, now: float | None = None) -> list[str]:
        """End every known session not in ``live`` (the sessions the server still serves) once
        sweeps have missed it for ``grace`` seconds (a session moving between the server's lists,
        e.g. while it reconnects, is missed for a moment).

        Args:
            live: the sessions still served.
            grace: seconds a session must have been missing before it is ended.
            now: the time (``time.monotonic()`` by default), for tests.

        Returns:
            The sessions ended, sorted.
        """
        now = time.monotonic() if now is None else now
        alive = set(live)
        with self._lock:
            for session in alive:
                self._missing.pop(session, None)
            ended = []
            for session in self.sessions():
                if session not in alive:
                    since = self._missing.setdefault(session, now)
                    if now - since >= grace:
                        ended.append(session)
        for session in ended:
            self.end_session(session)
        return ended


def spill_dir(environ: Mapping[str, str] | None = None) -> str:
    """Where uploads are spilled: ``QUANTVIZ_SPILL_DIR``, else the system's temporary folder.
    Put it on disk, not on a RAM-backed tmpfs, or spilling saves nothing."""
    env = os.environ if environ is None else environ
    return env.get(SPILL_ENV_VAR, "").strip() or tempfile.gettempdir()


def safe_filename(name: str) -> str:
    """An uploaded file's name made safe to create: its last component, other characters than
    letters, digits, ``.``, ``-`` and ``_`` replaced, at most 120 characters (suffix kept)."""
    base = PurePath(name.replace("\\", "/")).name
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    if len(clean) > 120:
        suffix = "".join(PurePath(clean).suffixes)[-40:]
        clean = clean[: 120 - len(suffix)] + suffix
    return clean or "upload"


def spill(source: BinaryIO, name: str, directory: str | None = None) -> Path:
    """Copy ``source`` from its start to a new private file named after ``name``, in chunks.

    Args:
        source: a readable binary file (an upload).
        name: the upload's name; the file gets :func:`safe_filename` of it, so readers that
            check a name against the content see the same suffix.
        directory: where to create it (default :func:`spill_dir`).

    Returns:
        The file's path, alone in a new folder; :func:`remove_spill` deletes both.

    Raises:
        OSError: the disk is full or not writable (the folder is removed first).
    """
    folder = tempfile.mkdtemp(prefix="quantviz-upload-", dir=directory or spill_dir())
    path = Path(folder) / safe_filename(name)
    try:
        source.seek(0)
        with open(path, "xb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


def remove_spill(path: str | Path) -> None:
    """Delete a file made by :func:`spill` and its folder. A map of it stays valid until closed."""
    shutil.rmtree(Path(path).parent, ignore_errors=True)


def same_content(source: BinaryIO, path: str | Path) -> bool:
    """Whether ``source`` (read from its start, in chunks) holds exactly the bytes of ``path``."""
    try:
        with open(path, "rb") as f:
            source.seek(0, os.SEEK_END)
            if source.tell() != os.fstat(f.fileno()).st_size:
                return False
            source.seek(0)
            while True:
                a, b = source.read(_CHUNK), f.read(_CHUNK)
                if a != b:
                    return False
                if not a:
                    return True
    except OSError:
        return False
