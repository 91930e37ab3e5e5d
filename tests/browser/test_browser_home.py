"""Home in a real browser: the example on load, typed text, bad text, and uploads (.npy, and a
.safetensors checkpoint with its tensor picker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import expect
from safetensors.torch import save_file

import quantviz as qv
from tests.browser._helpers import ROOT, TIMEOUT_MS, WatchedPage, parse_number

pytestmark = pytest.mark.browser

NOTEBOOK = [[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]]
PAGE_FILES = {
    "Home": "app.py",
    "Quantize": "pages/1_Quantize.py",
    "Compare": "pages/2_Compare.py",
    "Bit width": "pages/3_Bit_width.py",
    "Learn": "pages/4_Learn.py",
    "Model": "pages/5_Model.py",
}


def _expect_current(app: WatchedPage, name: str, shape: str) -> None:
    """The sidebar names the current tensor and its shape (drawn on every run of every page)."""
    caption = app.sidebar.get_by_test_id("stCaptionContainer").filter(has_text="Current tensor")
    expect(caption).to_contain_text(name, timeout=TIMEOUT_MS)
    expect(caption).to_contain_text(shape, timeout=TIMEOUT_MS)
    app.idle()


def _assert_stats(app: WatchedPage, x: np.ndarray) -> None:
    """Home's statistics cards show ``x``'s min and max (to the 4 digits a card shows)."""
    cards = app.metrics()
    assert parse_number(cards["Min"]) == pytest.approx(float(x.min()), rel=1e-3, abs=1e-6)
    assert parse_number(cards["Max"]) == pytest.approx(float(x.max()), rel=1e-3, abs=1e-6)


def test_home_loads_with_the_notebook_example(app: WatchedPage) -> None:
    for label, path in PAGE_FILES.items():
        if (ROOT / path).is_file():  # the sidebar links every page that exists
            expect(app.sidebar.get_by_role("link", name=label)).to_be_visible()
    expect(app.widget("home_preview").locator(".js-plotly-plot")).to_be_visible()
    _expect_current(app, "notebook 3×3 example", "3×3")
    cards = app.metrics()
    assert cards["Shape"] == "3×3"
    _assert_stats(app, np.array(NOTEBOOK, dtype=np.float32))
    app.screenshot("home")


def test_pasted_matrix_becomes_the_tensor_quantize_uses(app: WatchedPage) -> None:
    x = np.array([[0.5, -1.25, 3.0, 8.0], [2.0, 0.0, -6.5, 1.0]], dtype=np.float32)
    app.pick_radio("home_mode", "Type or paste")
    box = app.widget("text_input").get_by_role("textbox")
    box.fill("\n".join(", ".join(f"{v:g}" for v in row) for row in x))
    app.rerun(lambda: box.press("Control+Enter"))  # commit the text before the button reads it
    app.press("text_apply")
    _expect_current(app, "typed matrix", "2×4")
    _assert_stats(app, x)

    app.go("Quantize")
    expect(app.main.get_by_text("typed matrix", exact=False).first).to_be_visible()
    scheme = qv.QuantScheme(bits=8, symmetric=True, signed=True, granularity=qv.PerTensor())
    t = torch.from_numpy(x)
    want = qv.error_metrics(t, qv.quantize(t, scheme).dequantize())
    cards = app.metrics()
    assert parse_number(cards["MSE"]) == pytest.approx(want["mse"], rel=1e-3)
    assert parse_number(cards["Max error"]) == pytest.approx(want["max_abs_error"], rel=1e-3)


def test_ragged_text_shows_the_parsers_message_and_keeps_the_tensor(app: WatchedPage) -> None:
    text = "1, 2\n3"
    with pytest.raises(qv.InputError) as refused:
        qv.parse_matrix(text)
    app.pick_radio("home_mode", "Type or paste")
    box = app.widget("text_input").get_by_role("textbox")
    box.fill(text)
    app.rerun(lambda: box.press("Control+Enter"))
    app.press("text_apply")
    alert = app.main.get_by_test_id("stAlert")
    expect(alert).to_contain_text(str(refused.value), timeout=TIMEOUT_MS)
    _expect_current(app, "notebook 3×3 example", "3×3")


def test_npy_upload_becomes_the_current_tensor(app: WatchedPage, tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(0.0, 2.0, size=(5, 7)).astype(np.float32)
    path = tmp_path / "weights.npy"
    np.save(path, x)
    app.pick_radio("home_mode", "Upload")
    app.upload("upload_file", path)
    _expect_current(app, "weights.npy", "5×7")
    _assert_stats(app, x)


def test_safetensors_upload_picks_the_chosen_tensor(app: WatchedPage, tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(1)
    tensors = {
        "decoder.bias": torch.randn(6, generator=g),
        "decoder.weight": torch.randn(4, 6, generator=g),
        "encoder.weight": torch.randn(6, 10, generator=g) * 5,
    }
    path = tmp_path / "tiny.safetensors"
    save_file(tensors, path)
    app.pick_radio("home_mode", "Upload")
    app.upload("upload_file", path)
    picker = app.widget("upload_tensor")
    expect(picker).to_be_visible(timeout=TIMEOUT_MS)
    expect(app.widget("upload_table")).to_contain_text("encoder.weight")
    app.idle()
    # The upload starts on the largest matrix, not on the file's first tensor (a 1-D bias).
    _expect_current(app, "encoder.weight", "6×10")
    _assert_stats(app, tensors["encoder.weight"].numpy())

    app.choose("upload_tensor", "decoder.weight")
    _expect_current(app, "decoder.weight", "4×6")
    _assert_stats(app, tensors["decoder.weight"].numpy())
