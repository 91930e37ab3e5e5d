"""AppTest helpers: start the app at a page, read charts and metrics, check for errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
QUANTIZE = "pages/1_Quantize.py"
COMPARE = "pages/2_Compare.py"
BIT_WIDTH = "pages/3_Bit_width.py"
LEARN = "pages/4_Learn.py"
TIMEOUT = 60  # the first run imports torch and plotly


def start(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    """Run Home (where a session starts), then switch to ``page`` when given.

    Pages are reached through the entry script, as in the browser, so ``st.page_link`` and the
    shared session state behave as they do for people.
    """
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def assert_ok(at: AppTest) -> None:
    """No uncaught exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> dict[str, dict[str, Any]]:
    """Every plotly chart on the page, by widget key, as its figure JSON."""
    out = {}
    for el in at.get("plotly_chart"):
        out[el.key] = json.loads(el.proto.spec)
    return out


def chart_bytes(at: AppTest) -> dict[str, int]:
    """The size of what each chart sends to the browser."""
    return {el.key: len(el.proto.spec) for el in at.get("plotly_chart")}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def current_tensor(at: AppTest) -> Any:
    return at.session_state["qv_tensor"]


def array(value: Any) -> np.ndarray:
    """A figure array as numpy, whether plain JSON lists or plotly's typed-array encoding
    (``{"dtype": "f8", "bdata": <base64>, "shape": "3, 3"}``)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value, dtype=float)


def _blocks(node: Any):
    children = getattr(node, "children", None)
    if children is None:
        return
    yield node
    for child in children.values():
        yield from _blocks(child)


def keyed(at: AppTest, key: str) -> Any:
    """The container keyed ``key`` (``st.container(key=...)``), searchable like ``at``."""
    for block in _blocks(at._tree):
        if getattr(block, "_block_id", "").endswith(f"-{key}"):
            return block
    raise KeyError(key)


def shown_table(at: AppTest, key: str) -> Any:
    """The dataframe shown by ``quantviz.ui.widgets.show_table(..., key=key)``, as pandas."""
    return keyed(at, key).dataframe[0].value
