"""What one interaction on the Quantize page costs in the real app: bytes over the websocket and
time until the page is redrawn, on a big generated tensor.

Starts ``streamlit run app.py`` on loopback, drives it with Playwright and Debian's
/usr/bin/chromium, and for each interaction counts the websocket bytes the server sends and
times two moments: the server's "run finished" message, and the page idle again (no script
running, the status widget gone). The full first load is the baseline every interaction's
bytes are given against, in the same run.

    python -m benchmarks.bench_app [--shape 4096x4096] [--repeats 2]   (from the repo root)

Targets (issue 10, quiet 2-core machine): scheme change ≤ 1.5 s, colour range or zoom change
≤ 0.5 s, ≤ 400 KB per interaction. A shared machine's load is printed with the figures; times
under load say little, bytes do not depend on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser._helpers import CHROMIUM, WatchedPage, run_finished  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, _free_port, _healthy, _stop  # noqa: E402


class Meter:
    """Websocket bytes received and the moment the last run finished."""

    def __init__(self, page: WatchedPage) -> None:
        self.bytes = 0
        self.finished_at = 0.0
        page.page.on("websocket", self._attach)

    def _attach(self, socket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            socket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        self.bytes += len(payload)
        if run_finished(payload):
            self.finished_at = time.perf_counter()


def measure(app: WatchedPage, meter: Meter, action: Callable[[], None]) -> tuple[int, float, float]:
    """``(bytes, seconds to run finished, seconds to idle)`` of one interaction."""
    meter.bytes = 0
    start = time.perf_counter()
    action()
    idle = time.perf_counter() - start
    return meter.bytes, meter.finished_at - start, idle


def interactions(app: WatchedPage, rows: int, cols: int) -> list[tuple[str, str, Callable]]:
    """(name, kind, action): kind is the target class ("scheme", "view")."""
    return [
        ("granularity → per-row", "scheme", lambda: app.choose("q_gran", "per-row")),
        ("bits 8 → 4", "scheme", lambda: app.choose("q_bits", "4")),
        ("colour range → Full range", "view", lambda: app.choose("q_crange", "Full range")),
        ("colour range → 99.9%", "view", lambda: app.choose("q_crange", "99.9%")),
        ("zoom in (128×128)", "view", lambda: _zoom(app, rows // 2, cols // 2)),
        ("zoom in (8×8)", "view", lambda: app.press("q_zoom_in")),
        ("back to overview", "view", lambda: app.press("q_zoom_out")),
        ("histogram log count", "view", lambda: app.rerun(app.widget("q_hist_log").click)),
        ("histogram log count off", "view", lambda: app.rerun(app.widget("q_hist_log").click)),
        ("granularity → per-tensor", "scheme", lambda: app.choose("q_gran", "per-tensor")),
        ("bits 4 → 8", "scheme", lambda: app.choose("q_bits", "8")),
    ]


def _zoom(app: WatchedPage, row: int, col: int) -> None:
    for key, value in (("q_zoom_row", row), ("q_zoom_col", col)):
        app.widget(key).locator("input").fill(str(value))  # in a form: no rerun yet
    app.press("q_zoom_in")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="4096x4096")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows, cols = (int(n) for n in args.shape.split("x"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    results: dict[str, list[tuple[int, float, float]]] = {}
    kinds: dict[str, str] = {}
    load_before = os.getloadavg()
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("streamlit did not start")
            time.sleep(0.25)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(180_000)
            app = WatchedPage(page, url)
            meter = Meter(app)
            query = f"?src=gen&kind=outliers&shape={rows}x{cols}&seed=0"
            start = time.perf_counter()
            page.goto(f"{url}/Quantize{query}")
            app.expect_title("Quantize")
            app.idle()
            first = (meter.bytes, meter.finished_at - start, time.perf_counter() - start)
            print(f"first load of Quantize on {rows}×{cols}: {first[0] / 1e3:.0f} KB, "
                  f"{first[2]:.1f} s (baseline for the byte ratios)")  # fmt: skip
            for _ in range(args.repeats):
                for name, kind, action in interactions(app, rows, cols):
                    results.setdefault(name, []).append(measure(app, meter, action))
                    kinds[name] = kind
            browser.close()
    finally:
        _stop(proc)
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"(1 min; {os.cpu_count()} cores; a shared machine: times are upper bounds)")  # fmt: skip
    target = {"scheme": (1.5, 400), "view": (0.5, 400)}
    print(f"\n{'interaction':28} {'KB sent':>8} {'/ first':>8} {'run s':>6} {'idle s':>7}  target")
    for name, runs in results.items():
        kb = statistics.median(r[0] for r in runs) / 1e3
        fin = statistics.median(r[1] for r in runs)
        idle = statistics.median(r[2] for r in runs)
        t_s, t_kb = target[kinds[name]]
        ok = "ok" if kb <= t_kb and idle <= t_s else "MISSED"
        print(f"{name:28} {kb:8.0f} {kb * 1e3 / first[0]:8.2f} {fin:6.2f} {idle:7.2f}  "
              f"≤{t_s} s ≤{t_kb} KB {ok}")  # fmt: skip


if __name__ == "__main__":
    main()
