"""The metrics figure titles show (``_common.quick_metrics``) agree with ``qv.error_metrics``."""

from __future__ import annotations

import math
import re

import pytest
import torch

import quantviz as qv
from quantviz.figures import error_heatmaps_grid, error_histogram, quantization_heatmaps

SCHEMES = [qv.QuantScheme(bits=8), qv.QuantScheme(bits=4, granularity=qv.PerChannel(dim=0))]


def number(text: str) -> float:
    """A number as ``figures._style.fmt`` writes it: '1.234e-45', '∞', '−∞'."""
    return {"∞": math.inf, "−∞": -math.inf}.get(text) or float(text)


def title_metrics(text: str, name: str) -> float:
    (found,) = re.findall(rf"{name} ([^\s,<]+)", text)
    return number(found)


@pytest.mark.parametrize("magnitude", [1e-22, 1.0, 1e20], ids=["1e-22", "1", "1e20"])
@pytest.mark.parametrize("scheme", SCHEMES, ids=["per-tensor", "per-row"])
def test_title_metrics_equal_error_metrics(magnitude: float, scheme: qv.QuantScheme) -> None:
    # float32 square().mean() underflowed to MSE 0 / SQNR ∞ at 1e-22 and overflowed at 1e20.
    x = torch.randn(16, 16, generator=torch.Generator().manual_seed(0)) * magnitude
    res = qv.quantize(x, scheme)
    want = qv.error_metrics(x, res.dequantize())
    assert 0 < want["mse"] < math.inf
    assert math.isfinite(want["sqnr_db"])

    title = quantization_heatmaps(x, res).layout.title.text
    assert title_metrics(title, "MSE") == pytest.approx(want["mse"], rel=5e-4)
    assert title_metrics(title, "SQNR") == pytest.approx(want["sqnr_db"], rel=5e-3)

    (panel,) = [a.text for a in error_heatmaps_grid(x, [res]).layout.annotations if "MSE" in a.text]
    assert title_metrics(panel, "MSE") == pytest.approx(want["mse"], rel=5e-4)

    note = error_histogram(x, res.dequantize(), result=res).layout.title.subtitle.text
    assert title_metrics(note, "MSE") == pytest.approx(want["mse"], rel=5e-4)
    assert title_metrics(note, r"max \|error\|") == pytest.approx(want["max_abs_error"], rel=5e-4)
