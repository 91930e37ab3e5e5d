"""Server memory under many users: a real ``streamlit run app.py`` server and N clients speaking
its websocket protocol, each uploading a checkpoint on Home and opening Quantize.

Each client, like a browser: opens ``/_stcore/stream``, runs Home, picks the Upload mode, PUTs
its checkpoint (a distinct ``--mb`` MB safetensors file of four float32 matrices) to
``/_stcore/upload_file``, reruns with the file in the uploader (the largest matrix becomes the
current tensor), then opens the Quantize page (quantized with the default scheme, charts drawn)
and disconnects. Up to ``--parallel`` clients run at once. A session counts as served when every
run finished without an exception or error box and Quantize drew its charts.

Reported: peak resident memory (RSS) of the server process and peak anonymous memory (RSS
minus file-backed pages: what the heap holds, not the page cache of memory-mapped files),
sampled every 50 ms; the same a second after all clients left (their sessions are kept for
reconnection), and again once ``--ttl`` (how long Streamlit keeps a closed tab's session) and
the sweep's grace time have passed and later sessions ran (the sweep frees sessions the server no
longer serves); and how many sessions were served. ``--app`` runs another checkout
(e.g. an older commit) for comparison; ``--budget`` sets ``QUANTVIZ_MEMORY_BUDGET``.

Run: ``python benchmarks/bench_memory.py`` (20 × 200 MB; on a loaded machine try
``--sessions 6 --mb 100``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests
import torch
from safetensors.torch import save
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
MiB = 2**20


def checkpoint(mb: int, seed: int) -> bytes:
    """A safetensors file of about ``mb`` MB: four float32 matrices, distinct per seed."""
    cols = 1024
    rows = max(1, mb * MiB // (4 * 4 * cols))
    g = torch.Generator().manual_seed(seed)
    return save({f"layers.{i}.weight": torch.randn(rows, cols, generator=g) for i in range(4)})


class Sampler(threading.Thread):
    """Peak RSS and anonymous memory of a process, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak_rss = self.peak_anon = 0
        self.stop = threading.Event()

    def now(self) -> tuple[int, int]:
        info = self.proc.memory_info()
        return info.rss, info.rss - info.shared

    def run(self) -> None:
        while not self.stop.is_set():
            rss, anon = self.now()
            self.peak_rss, self.peak_anon = max(self.peak_rss, rss), max(self.peak_anon, anon)
            time.sleep(0.05)


class Client:
    """One browser session, speaking Streamlit's websocket protocol."""

    def __init__(self, port: int, ws) -> None:
        self.port, self.ws = port, ws
        self.session_id = ""
        self.pages: dict[str, str] = {}
        self.widgets: dict[str, str] = {}  # user key (or label) -> widget id
        self.problems: list[str] = []
        self.charts = 0

    def run(self, page_hash: str = "", widgets: list | None = None, timeout: float = 600) -> None:
        """Rerun the script and read messages until the run finishes."""
        msg = BackMsg()
        msg.rerun_script.page_script_hash = page_hash
        for state in widgets or []:
            msg.rerun_script.widget_states.widgets.append(state)
        self.ws.send(msg.SerializeToString())
        self.charts = 0
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            fwd = ForwardMsg()
            fwd.ParseFromString(self.ws.recv(timeout=end - time.monotonic()))
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fwd.new_session.initialize.session_id
                self.pages = {p.page_name: p.page_script_hash for p in fwd.new_session.app_pages}
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._element(fwd.delta.new_element)
            elif kind == "script_finished":
                return
        raise TimeoutError("the script run did not finish")

    def _element(self, el) -> None:
        kind = el.WhichOneof("type")
        if kind == "exception":
            self.problems.append(f"exception: {el.exception.message}")
        elif kind == "alert" and el.alert.format == 1:  # ERROR
            self.problems.append(f"error: {el.alert.body[:200]}")
        elif kind == "plotly_chart":
            self.charts += 1
        elif kind in ("radio", "file_uploader"):
            widget = getattr(el, kind)
            self.widgets[widget.id.rsplit("-", 1)[-1] or widget.label] = widget.id

    def upload(self, name: str, data: bytes):
        """PUT the file as the uploader does; returns its widget state."""
        file_id = uuid.uuid4().hex
        url = f"/_stcore/upload_file/{self.session_id}/{file_id}"
        r = requests.put(f"http://127.0.0.1:{self.port}{url}", files={"file": (name, data)})
        r.raise_for_status()
        msg = BackMsg().rerun_script.widget_states.widgets.add()
        msg.id = self.widgets["upload_file"]
        info = msg.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), file_id
        info.file_urls.file_id, info.file_urls.upload_url = file_id, url
        info.file_urls.delete_url = url
        return msg


def session(port: int, mb: int, seed: int) -> tuple[bool, str]:
    """One user: Home, Upload mode, upload, Quantize. Returns (served, what went wrong)."""
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    try:
        with connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60) as ws:
            return _session(Client(port, ws), mb, seed)
    except Exception as e:  # a dead server or a timeout: not served
        return False, f"{type(e).__name__}: {e}"


def _session(client: Client, mb: int, seed: int) -> tuple[bool, str]:
    client.run()
    mode = BackMsg().rerun_script.widget_states.widgets.add()
    mode.id, mode.string_value = client.widgets["home_mode"], "Upload"
    client.run(widgets=[mode])
    data = checkpoint(mb, seed)
    upload = client.upload(f"model-{seed}.safetensors", data)
    del data
    client.run(widgets=[mode, upload])
    client.run(page_hash=client.pages["Quantize"])
    served = not client.problems and client.charts > 0
    return served, "; ".join(client.problems)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--mb", type=int, default=200, help="checkpoint size per session")
    parser.add_argument("--parallel", type=int, default=4, help="sessions at once")
    parser.add_argument("--ttl", type=int, default=5, help="seconds a closed tab's session is kept")
    parser.add_argument("--grace", type=float, default=30, help="the sweep's grace time (s)")
    parser.add_argument("--budget", default="", help="QUANTVIZ_MEMORY_BUDGET for the server")
    parser.add_argument("--app", default=str(ROOT), help="the checkout to serve")
    args = parser.parse_args()

    port = free_port()
    env = dict(os.environ, PYTHONPATH=args.app)
    if args.budget:
        env["QUANTVIZ_MEMORY_BUDGET"] = args.budget
    with tempfile.TemporaryDirectory() as tmp:
        env["TMPDIR"] = tmp  # spilled uploads land here and are removed with it
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                f"--server.port={port}",
                "--server.headless=true",
                "--server.enableXsrfProtection=false",
                "--server.fileWatcherType=none",
                f"--server.disconnectedSessionTTL={args.ttl}",
                "--browser.gatherUsageStats=false",
            ],
            cwd=args.app,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/_stcore/health").ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            session(port, 1, 10**6)  # warm up: imports, first run
            sampler = Sampler(server.pid)
            idle_rss, idle_anon = sampler.now()
            sampler.start()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.parallel) as pool:
                results = list(pool.map(lambda s: session(port, args.mb, s), range(args.sessions)))
            elapsed = time.perf_counter() - start
            sampler.stop.set()
            sampler.join()
            time.sleep(1)
            left_rss, left_anon = sampler.now()  # closed tabs, kept for reconnection
            time.sleep(args.ttl)
            # Later visitors' runs sweep the sessions that left: the first notes them missing,
            # one after the sweep's grace time ends them.
            session(port, 1, 10**6 + 1)
            time.sleep(args.grace + 1)
            session(port, 1, 10**6 + 2)
            after_rss, after_anon = sampler.now()
        finally:
            server.terminate()
            server.wait(30)

    served = sum(ok for ok, _ in results)
    print(f"{args.sessions} sessions × {args.mb} MB, {args.parallel} at a time, {elapsed:.0f} s")
    print(f"served: {served}/{args.sessions}")
    for i, (ok, why) in enumerate(results):
        if not ok:
            print(f"  session {i}: {why}")
    print("server memory (MiB)  idle   peak  all left  after TTL + sweep")
    for label, idle, peak, left, after in [
        ("RSS ", idle_rss, sampler.peak_rss, left_rss, after_rss),
        ("anon", idle_anon, sampler.peak_anon, left_anon, after_anon),
    ]:
        print(
            f"  {label}  {idle / MiB:19.0f} {peak / MiB:6.0f} {left / MiB:9.0f} {after / MiB:9.0f}"
        )
    total = args.sessions * args.mb
    print(f"peak RSS growth / all uploads: {(sampler.peak_rss - idle_rss) / MiB / total:.2f}")


if __name__ == "__main__":
    main()
