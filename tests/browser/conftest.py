"""Fixtures for the real-browser tests: one Streamlit server and one headless Chromium for the
whole session, a fresh browser context (a fresh Streamlit session) for every test.

Every test's page is watched: a console error, an uncaught page error or a Streamlit exception box
fails the test at teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser._helpers import (
    ARTIFACTS,
    CHROMIUM,
    FAILURES,
    ROOT,
    TIMEOUT_MS,
    WatchedPage,
    console_problems,
)

SERVER_START_TIMEOUT = 60.0
SERVER_LOG = ARTIFACTS / "streamlit-server.log"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 900}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the test item, so the ``app`` fixture knows a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Start ``streamlit run app.py`` on a free port and yield its base URL."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not found; the browser tests need Debian chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(FAILURES, ignore_errors=True)  # only this run's failures
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        # Other people edit this checkout while the tests run: a file watcher would put a
        # "source changed" notice in the status widget the tests wait on to disappear.
        "--server.fileWatcherType",
        "none",
    ]
    env = {k: v for k, v in os.environ.items() if k != "QUANTVIZ_MODEL_DIR"}  # Model: upload only
    log_path = SERVER_LOG
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown ends all of it
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not _healthy(url):
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit not healthy after {SERVER_START_TIMEOUT:.0f} s")
                time.sleep(0.25)
            yield url
        finally:
            _stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright's sync API (no browser download)."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not found; the browser tests need Debian chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def app(browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[WatchedPage]:
    """The Home page in a fresh context (a new Streamlit session), loaded and idle.

    At teardown, fails on any console error, page error or Streamlit exception box. A failed
    test leaves a screenshot in ``test-artifacts/failures/`` for CI.
    """
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = WatchedPage(page, app_url)
    try:
        watched.open_home()
        yield watched
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            FAILURES.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(FAILURES / f"{request.node.name}.png"), full_page=True)
        problems = console_problems(watched.console) + watched.exceptions()
        if problems:
            # The page shows only an exception's type (showErrorDetails = "type"); the
            # traceback is in the server's log.
            pytest.fail(
                "the browser reported problems:\n"
                + "\n".join(problems)
                + f"\n--- end of {SERVER_LOG.name} ---\n"
                + _tail(SERVER_LOG)
            )
    finally:
        context.close()
