"""Driving the Streamlit app in Playwright: waiting for reruns, widgets by their stable keys,
metric cards, sidebar navigation and full-page screenshots.

Streamlit gives every keyed widget the CSS class ``st-key-<key>``; the tests find widgets by it
(or by their role and label inside it), never by generated class names.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Locator, Page, WebSocket, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
FAILURES = ARTIFACTS / "failures"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 30_000  # a loaded 2-core CI box: the first run of a page imports torch and plotly

# The app root carries the script state: "running" while the script runs, "notRunning" after.
APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-script-state="notRunning"]'

# Page titles (the st.title of each page), used to know a navigation has landed.
TITLES = {
    "Home": "quantviz",
    "Quantize": "Quantize",
    "Compare": "Compare granularities",
    "Bit width": "Bit width",
    "Learn": "Learn: linear quantization, step by step",
    "Model": "Model",
}


def run_finished(payload: bytes | str) -> bool:
    """Whether a websocket frame from the server is the end of a script run (one that is not
    cut short by ``st.rerun`` or ``st.switch_page``: the run after it is the one to wait for).

    The frames are Streamlit's ForwardMsg protobufs. The page's own script-state attribute is no
    use for this: React batches a quick run's "running" and "not running" into one render, so
    the attribute may never change.
    """
    if isinstance(payload, str):
        return False
    msg = ForwardMsg.FromString(payload)
    return (
        msg.WhichOneof("type") == "script_finished"
        and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
    )


def console_problems(messages: list[str]) -> list[str]:
    """The console errors and page errors a test must fail on.

    Nothing is filtered today. Plotly's 'WARN: ignored xaxis.matches' lines are console.trace
    calls, not errors, so they never reach this list.
    """
    return list(messages)


def parse_number(text: str) -> float:
    """A metric card's value as a number: '2.509', '44.4 dB', '1,024', '∞', '-184'."""
    cleaned = text.strip().replace(",", "").replace("−", "-")
    if cleaned in ("∞", "inf"):
        return math.inf
    match = re.match(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?", cleaned)
    if match is None:
        raise ValueError(f"not a number on a metric card: {text!r}")
    return float(match.group(0))


class WatchedPage:
    """A Playwright page on the app, with its console errors collected from the start."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.console: list[str] = []
        self.socket: WebSocket | None = None
        page.on("websocket", self._on_websocket)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")

    def _on_websocket(self, socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            self.socket = socket

    # --- waiting ---------------------------------------------------------------------------------

    def idle(self) -> None:
        """Wait until no script runs and the running indicator is gone."""
        expect(self.page.locator(IDLE)).to_be_attached(timeout=TIMEOUT_MS)
        expect(self.page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=TIMEOUT_MS)

    def rerun(self, action: Any) -> None:
        """Do ``action()`` and wait until the script run it starts has finished."""
        assert self.socket is not None, "the app's websocket is not open"
        with self.socket.expect_event("framereceived", predicate=run_finished, timeout=TIMEOUT_MS):
            action()
        self.idle()

    # --- navigation ------------------------------------------------------------------------------

    def open_home(self) -> None:
        """Load the entry page (a new session) and wait for its first run to finish."""
        self.page.goto(self.base_url + "/")
        expect(self.page.locator(APP)).to_be_attached(timeout=TIMEOUT_MS)
        self.expect_title("Home")
        self.idle()

    @property
    def main(self) -> Locator:
        return self.page.get_by_test_id("stMain")

    @property
    def sidebar(self) -> Locator:
        return self.page.get_by_test_id("stSidebar")

    def expect_title(self, label: str) -> None:
        heading = self.main.get_by_role("heading", name=TITLES[label], exact=True)
        expect(heading).to_be_visible(timeout=TIMEOUT_MS)

    def go(self, label: str) -> None:
        """Follow the sidebar's link to a page (the session, and so the tensor, carries over)."""
        link = self.sidebar.get_by_role("link", name=label)
        self.rerun(link.click)
        self.expect_title(label)
        self.idle()

    # --- widgets, by key -------------------------------------------------------------------------

    def widget(self, key: str) -> Locator:
        return self.page.locator(f".st-key-{key}")

    def choose(self, key: str, option: str, *, exact: bool = True) -> None:
        """Pick ``option`` in the selectbox keyed ``key`` (``exact=False``: the option whose
        text starts with ``option``).

        A click that lands while the widget is being redrawn can leave the list shut; the
        click is repeated until the list opens.
        """
        box = self.widget(key).get_by_role("combobox")
        expect(box).to_be_enabled(timeout=TIMEOUT_MS)
        starts = re.compile("^" + re.escape(option))
        choice = self.page.get_by_role("option", name=option if exact else starts, exact=exact)
        for _ in range(5):
            box.click()
            try:
                expect(choice).to_be_visible(timeout=3_000)
                break
            except AssertionError:
                self.page.keyboard.press("Escape")
        self.rerun(choice.click)
        expect(box).to_have_value(option if exact else starts, timeout=TIMEOUT_MS)

    def pick_radio(self, key: str, label: str) -> None:
        self.rerun(self.widget(key).get_by_text(label, exact=True).click)

    def press(self, key: str) -> None:
        """Click the button keyed ``key``."""
        self.rerun(self.widget(key).get_by_role("button").click)

    def upload(self, key: str, path: Path) -> None:
        """Give the file uploader keyed ``key`` a file and wait for the run it starts."""
        self.rerun(lambda: self.widget(key).locator("input[type=file]").set_input_files(path))

    # --- reading ---------------------------------------------------------------------------------

    def metrics(self, scope: Locator | None = None) -> dict[str, str]:
        """The metric cards in ``scope`` (the main area by default): label -> shown value."""
        cards = (scope or self.main).get_by_test_id("stMetric")
        out = {}
        for card in cards.all():
            label = card.get_by_test_id("stMetricLabel").inner_text().strip()
            out[label] = card.get_by_test_id("stMetricValue").inner_text().strip()
        return out

    def exceptions(self) -> list[str]:
        """Streamlit's uncaught-exception boxes on the page (there should never be one)."""
        return [
            f"st.exception: {t}" for t in self.page.get_by_test_id("stException").all_inner_texts()
        ]

    def chart_texts(self, key: str, css: str) -> list[str]:
        """Texts of SVG elements (``css``: '.annotation-text', '.gtitle', ...) in a chart."""
        found = self.widget(key).locator(css)
        return [(t.text_content() or "").strip() for t in found.all()]

    # --- artifacts -------------------------------------------------------------------------------

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot to ``test-artifacts/screenshots/<name>.png``.

        Streamlit scrolls inside its main area, so a plain full-page shot stops at the window;
        the window is made as tall as the content for the shot, then put back.
        """
        self.idle()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        size = self.page.viewport_size or {"width": 1400, "height": 900}
        height = self.page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
        )
        self.page.set_viewport_size({"width": size["width"], "height": max(height, 600) + 40})
        try:
            self.page.evaluate("document.fonts.ready")
            self.page.wait_for_timeout(300)  # plotly re-lays out on the resize
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)
        return path
