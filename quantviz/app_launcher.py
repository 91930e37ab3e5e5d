"""``quantviz app``: find the dashboard's files and hand over to ``streamlit run``.

The dashboard (``app.py``, ``pages/``, ``.streamlit/config.toml``) lives at the top of the clone.
An editable install (``pip install -e ".[app]"``) or a run from the clone finds it there; a wheel
carries the same files as ``quantviz/_app/`` (mapped in at build time by ``setup.py``). Streamlit
is never imported here: the launcher only checks that it is installed and replaces this process
with ``python -m streamlit run``, so stopping ``quantviz app`` stops the server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

PACKAGE_DIR = Path(__file__).resolve().parent

EXIT_CANNOT_START = 1

NO_STREAMLIT = (
    "quantviz app needs streamlit, the dashboard's extra, which is not installed here.\n"
    "Install it with:  pip install 'quantviz[app]'   (from a clone: pip install -e '.[app]')\n"
)
NO_APP_FILES = (
    "quantviz app: this installation of quantviz has no dashboard files (app.py and pages/).\n"
    "The library and the scan/compare commands work without them. For the dashboard, clone\n"
    "the quantviz repository and, inside the clone, run:  pip install -e '.[app]' && quantviz app\n"
)

Exec = Callable[[str, list[str]], Any]


def is_app_dir(path: Path) -> bool:
    """Whether ``path`` holds the dashboard: an ``app.py`` beside a ``pages/`` folder."""
    return (path / "app.py").is_file() and (path / "pages").is_dir()


def _is_quantviz_clone(path: Path) -> bool:
    """Whether ``path`` is the top of a quantviz source tree (its pyproject names quantviz)."""
    try:
        meta = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return meta.get("project", {}).get("name") == "quantviz"


def find_app_dir(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The folder to run the dashboard from, or None when this install has none.

    Args:
        package_dir: the ``quantviz`` package folder.

    Returns:
        The clone's top folder when the package is imported from a clone (a run from the
        repository or an editable install), else the wheel's ``quantviz/_app``, else None.
    """
    clone = package_dir.parent
    if _is_quantviz_clone(clone) and is_app_dir(clone):
        return clone
    shipped = package_dir / "_app"
    if is_app_dir(shipped):
        return shipped
    return None


def config_flags(app_dir: Path) -> list[str]:
    """The app's ``.streamlit/config.toml`` as ``--section.key=value`` flags.

    Streamlit reads that file only from the current directory, so ``quantviz app`` started
    anywhere else (and every wheel install) passes the settings on the command line instead.

    Args:
        app_dir: the folder holding ``app.py`` and ``.streamlit/``.

    Returns:
        One flag per setting, in file order; none when the file is missing.
    """
    path = app_dir / ".streamlit" / "config.toml"
    if not path.is_file():
        return []
    flags = []
    for section, options in tomllib.loads(path.read_text(encoding="utf-8")).items():
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def streamlit_command(app_dir: Path, extra: Sequence[str]) -> list[str]:
    """``python -m streamlit run [app settings] APP.py [extra]``: the user's flags come last,
    so they win over the app's own settings (e.g. ``--server.port 8600``)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        *config_flags(app_dir),
        str(app_dir / "app.py"),
        *extra,
    ]


def _exec(path: str, argv: list[str]) -> int:
    if os.name == "nt":  # no real exec on Windows: wait for the child instead
        return subprocess.call(argv)
    os.execv(path, argv)
    return 0  # pragma: no cover - execv does not return


def run_app(
    extra: Sequence[str],
    err: TextIO,
    *,
    package_dir: Path = PACKAGE_DIR,
    exec_fn: Exec | None = None,
) -> int:
    """Start the dashboard, or say why it cannot start.

    Args:
        extra: arguments for ``streamlit run`` (``--server.port 8600``, ``--server.headless true``).
        err: where messages go.
        package_dir: the ``quantviz`` package folder (tests point it elsewhere).
        exec_fn: replaces this process with the command (default: ``os.execv``; tests record
            the command instead).

    Returns:
        1 with a message on ``err`` when streamlit or the app files are missing; else whatever
        ``exec_fn`` returns (it does not return on POSIX).
    """
    if importlib.util.find_spec("streamlit") is None:
        err.write(NO_STREAMLIT)
        return EXIT_CANNOT_START
    app_dir = find_app_dir(package_dir)
    if app_dir is None:
        err.write(NO_APP_FILES)
        return EXIT_CANNOT_START
    cmd = streamlit_command(app_dir, extra)
    err.write(f"quantviz: starting the dashboard from {app_dir}\n")
    err.flush()
    sys.stdout.flush()
    return int((exec_fn or _exec)(cmd[0], cmd) or 0)
