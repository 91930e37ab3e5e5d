"""Number formats in a real browser: pick nvfp4 on Quantize and see its codes and its grid,
compare the 4-bit formats in one click, and scan a checkpoint with mxfp4 on Model."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import torch
from playwright.sync_api import expect
from safetensors.torch import save_file

import quantviz as qv
from quantviz.presets import PRESET_GROUPS, PRESETS
from tests.browser._helpers import ROOT, TIMEOUT_MS, WatchedPage, parse_number

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (ROOT / "pages" / "5_Model.py").is_file(), reason="pages/5_Model.py not there yet"
    ),
]

NOTEBOOK = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])


def test_nvfp4_on_quantize_shows_codes_and_the_fp4_grid(app: WatchedPage) -> None:
    app.go("Quantize")
    app.choose("q_preset", "nvfp4", exact=False)
    scheme = PRESETS["nvfp4"]
    want = qv.error_metrics(NOTEBOOK, qv.quantize(NOTEBOOK, scheme).dequantize())
    expect(app.widget("q_bits").get_by_role("combobox")).to_be_disabled(timeout=TIMEOUT_MS)
    assert parse_number(app.metrics()["MSE"]) == pytest.approx(want["mse"], rel=1e-3)
    title = app.chart_texts("q_heat_quantized", ".gtitle")[0]
    assert title.startswith("quantized codes (fp4_e2m1"), title
    legend = app.chart_texts("q_hist", ".legendtext")
    assert any("fp4_e2m1 × scale, 15 values" in t for t in legend), legend
    assert f"scheme={scheme.slug()}" in app.page.url
    app.screenshot("quantize-nvfp4")


def test_compare_the_4_bit_formats_in_one_click(app: WatchedPage) -> None:
    app.go("Compare")
    app.press("cmp_set_4-bit_formats")
    schemes = [qv.parse_scheme(n) for n in PRESET_GROUPS["4-bit formats"]]
    # The grid draws only the rows in view: the first format row shows; the CSV holds them all.
    expect(app.widget("cmp_table")).to_contain_text(schemes[0].label(), timeout=TIMEOUT_MS)
    with app.page.expect_download(timeout=TIMEOUT_MS) as download:
        app.widget("cmp_csv").get_by_role("button").click()
    table = pd.read_csv(io.StringIO(download.value.path().read_text()))
    rows = table.set_index("scheme")
    want = qv.compare(NOTEBOOK, schemes)
    for row in want.itertuples(index=False):
        assert rows.loc[row.scheme, "bits_per_element"] == pytest.approx(row.bits_per_element)
        assert rows.loc[row.scheme, "mse"] == pytest.approx(row.mse, rel=1e-6)
    app.screenshot("compare-4-bit-formats")


def test_model_scans_a_checkpoint_with_mxfp4(app: WatchedPage, tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_file({"model.layers.0.mlp.weight": torch.randn(16, 64, generator=g)}, path)
    app.go("Model")
    app.upload("model_upload", path)
    app.idle()
    box = app.widget("model_custom").get_by_role("textbox")
    box.fill("mxfp4")
    app.rerun(lambda: box.press("Enter"))
    app.press("model_scan")
    expect(app.widget("model_heatmap").locator(".js-plotly-plot")).to_be_visible(timeout=TIMEOUT_MS)
    label = PRESETS["mxfp4"].label()
    expect(app.widget("model_layers")).to_contain_text(label, timeout=TIMEOUT_MS)
    table = qv.scan(path, ["mxfp4"])
    assert table["scheme"].tolist() == [label]
