"""Compare in a real browser: the table renders and its CSV download holds every granularity
with the numbers the core computes."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
from playwright.sync_api import expect

import quantviz as qv
from tests.browser._helpers import TIMEOUT_MS, WatchedPage

pytestmark = pytest.mark.browser

NOTEBOOK = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])
NOTEBOOK_MSE = {"per-tensor": 2.509, "per-row": 1.808, "per-column": 1.078}


def test_compare_table_downloads_as_csv(app: WatchedPage) -> None:
    app.go("Compare")
    expect(app.widget("cmp_table")).to_contain_text("per-column", timeout=TIMEOUT_MS)
    expect(app.widget("cmp_bar").locator(".js-plotly-plot")).to_be_visible()
    expect(app.widget("cmp_error_maps").locator(".js-plotly-plot")).to_be_visible()
    app.screenshot("compare")

    with app.page.expect_download(timeout=TIMEOUT_MS) as download:
        app.widget("cmp_csv").get_by_role("button").click()
    assert download.value.suggested_filename.endswith(".csv")
    table = pd.read_csv(io.StringIO(download.value.path().read_text()))

    reference = qv.compare(NOTEBOOK, [qv.QuantScheme(bits=8)])
    assert list(table.columns) == list(reference.columns)
    assert len(table) >= 3
    assert table["granularity"].is_unique
    by_gran = table.set_index("granularity")
    for name, mse in NOTEBOOK_MSE.items():
        assert by_gran.loc[name, "mse"] == pytest.approx(mse, abs=1e-3)
    # Every row, whatever granularities the page offered, is what the core computes for the
    # scheme it names (read back from its label).
    for row in table.itertuples(index=False):
        scheme = qv.parse_scheme(row.scheme)
        result = qv.quantize(NOTEBOOK, scheme)
        want = qv.error_metrics(NOTEBOOK, result.dequantize())
        assert (scheme.bits, scheme.symmetric) == (row.bits, row.symmetric)
        assert row.mse == pytest.approx(want["mse"], rel=1e-6)
        assert row.max_abs_error == pytest.approx(want["max_abs_error"], rel=1e-6)
        assert row.num_scales == result.num_scales
        bits = qv.bits_per_element(tuple(NOTEBOOK.shape), scheme)
        assert row.bits_per_element == pytest.approx(bits)
