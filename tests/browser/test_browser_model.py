"""Model in a real browser: upload a small checkpoint, scan it, send one layer to Quantize and
find it there with its worst scheme, then come back to Model and find the scan still there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect
from safetensors.torch import save_file

import quantviz as qv
from tests.browser._helpers import ROOT, TIMEOUT_MS, WatchedPage, parse_number

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (ROOT / "pages" / "5_Model.py").is_file(), reason="pages/5_Model.py not there yet"
    ),
]


def _checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Two 2-D layers (the second with a few large columns, so it is the worst) and a norm."""
    g = torch.Generator().manual_seed(0)
    tensors = {
        "model.layers.0.mlp.weight": torch.randn(16, 32, generator=g),
        "model.layers.0.norm.weight": torch.ones(32),
        "model.layers.1.attn.weight": torch.randn(8, 32, generator=g) * torch.logspace(0, 3, 32),
    }
    save_file(tensors, path)
    return tensors


def test_scan_then_open_a_layer_in_quantize(app: WatchedPage, tmp_path: Path) -> None:
    tensors = _checkpoint(tmp_path / "tiny-model.safetensors")
    app.go("Model")
    app.upload("model_upload", tmp_path / "tiny-model.safetensors")
    expect(app.main.get_by_text(f"Tensors ({len(tensors)})")).to_be_visible(timeout=TIMEOUT_MS)
    app.idle()

    app.press("model_scan")
    expect(app.widget("model_layer")).to_be_visible(timeout=TIMEOUT_MS)
    scanned = sum(t.numel() for t in tensors.values() if t.dim() == 2)  # 1-D is off by default
    assert parse_number(app.metrics()["Parameters"]) == scanned
    expect(app.widget("model_sqnr_chart").locator(".js-plotly-plot")).to_be_visible()
    expect(app.widget("model_heatmap").locator(".js-plotly-plot")).to_be_visible()
    app.screenshot("model")

    # Worst first: the layer with the outlier columns heads the picker; pick the other one.
    box = app.widget("model_layer").get_by_role("combobox")
    expect(box).to_have_value(re.compile(r"^model\.layers\.1\.attn\.weight"))
    name = "model.layers.0.mlp.weight"
    app.choose("model_layer", name, exact=False)

    app.rerun(app.widget("model_send_quantize").get_by_role("button").click)
    app.expect_title("Quantize")
    app.idle()
    expect(app.main.get_by_text(name).first).to_be_visible()
    caption = app.sidebar.get_by_test_id("stCaptionContainer").filter(has_text="Current tensor")
    expect(caption).to_contain_text(name)
    expect(caption).to_contain_text("16×32")
    # It arrives with the scheme that scored it worst in the scan, not the default int8 one.
    table = qv.scan(tmp_path / "tiny-model.safetensors")
    rows = table[table["name"] == name]
    scheme = qv.parse_scheme(rows.loc[rows["sqnr_db"].idxmin(), "scheme"])
    assert scheme.slug() != "int8-sym-per-tensor"
    expect(app.widget("q_bits").get_by_role("combobox")).to_have_value(str(scheme.bits))
    x = tensors[name]
    want = qv.error_metrics(x, qv.quantize(x, scheme).dequantize())
    assert parse_number(app.metrics()["MSE"]) == pytest.approx(want["mse"], rel=1e-3)

    # Back on Model the upload, its scan and the picked layer are still there (the uploader
    # itself is empty: Streamlit drops it with the page).
    app.go("Model")
    expect(app.main.get_by_text("(kept from your last upload)")).to_be_visible(timeout=TIMEOUT_MS)
    expect(app.main.get_by_text("tiny-model.safetensors").first).to_be_visible()
    expect(app.widget("model_layer").get_by_role("combobox")).to_have_value(
        re.compile(rf"^{re.escape(name)}")
    )
    expect(app.widget("model_heatmap").locator(".js-plotly-plot")).to_be_visible()
    assert parse_number(app.metrics()["Parameters"]) == scanned
