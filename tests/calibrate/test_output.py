"""qv.output_error against the plain products, chunked or not, and its messages."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.calibrate import INT8_PER_TOKEN, output
from tests.calibrate._helpers import layer


def _direct(w, w_hat, x, y_hat=None):
    y = x.double() @ w.double().t()
    y_hat = x.double() @ w_hat.double().t() if y_hat is None else y_hat
    dy = y - y_hat
    return {
        "mse": float(dy.square().mean()),
        "rel_error": float(dy.norm() / y.norm()),
        "sqnr_db": 10 * math.log10(float(y.square().sum() / dy.square().sum())),
        "per_channel": dy.square().mean(0),
    }


@pytest.mark.parametrize("chunk", [output.CHUNK_ELEMENTS, 7 * 16], ids=["one-chunk", "chunked"])
def test_output_error_equals_the_plain_products(chunk: int, monkeypatch) -> None:
    monkeypatch.setattr(output, "CHUNK_ELEMENTS", chunk)
    w, x = layer(out=16, n_in=32, tokens=50, seed=1)
    w_hat = qv.quantize(w, qv.parse_scheme("int4-sym-per-row")).dequantize()
    got, want = qv.output_error(w, w_hat, x), _direct(w, w_hat, x)
    for key in ("mse", "rel_error", "sqnr_db"):
        assert got[key] == pytest.approx(want[key], rel=1e-5)
    torch.testing.assert_close(got["per_channel"].double(), want["per_channel"], rtol=1e-4, atol=0)


def test_quantized_activations_meet_the_scaled_weight(monkeypatch) -> None:
    monkeypatch.setattr(output, "CHUNK_ELEMENTS", 5 * 8)
    w, x = layer(out=8, n_in=16, tokens=30, seed=2)
    s = torch.linspace(0.5, 2.0, 16)
    w_hat = qv.quantize(w * s, qv.parse_scheme("int4-sym-per-row")).dequantize() / s
    got = qv.output_error(w, w_hat, x, act_scheme=INT8_PER_TOKEN, act_scale=s)
    x_hat = qv.quantize(x / s, INT8_PER_TOKEN).dequantize()
    want = _direct(w, w_hat, x, x_hat.double() @ (w_hat * s).double().t())
    assert got["rel_error"] == pytest.approx(want["rel_error"], rel=1e-5)


def test_a_perfect_reconstruction_has_no_error() -> None:
    w, x = layer(out=4, n_in=8, tokens=10)
    got = qv.output_error(w, w, x)
    assert (got["mse"], got["rel_error"], got["sqnr_db"]) == (0.0, 0.0, math.inf)


@settings(max_examples=30, deadline=None)
@given(c=st.floats(1e-3, 1e3), seed=st.integers(0, 1000))
def test_relative_error_and_sqnr_do_not_depend_on_the_activation_scale(c: float, seed: int):
    w, x = layer(out=6, n_in=12, tokens=20, seed=seed)
    w_hat = qv.quantize(w, qv.parse_scheme("int3-sym-per-tensor")).dequantize()
    a, b = qv.output_error(w, w_hat, x), qv.output_error(w, w_hat, x * c)
    assert b["rel_error"] == pytest.approx(a["rel_error"], rel=1e-4)
    assert b["mse"] == pytest.approx(a["mse"] * c * c, rel=1e-4)


def _one_nan() -> torch.Tensor:
    x = torch.ones(3, 8)
    x[2, 5] = math.nan
    return x


@pytest.mark.parametrize(
    ("w", "x", "match"),
    [
        (torch.ones(4, 8), torch.ones(3, 9), "9 features per token .* takes 8 inputs"),
        (torch.ones(8), torch.ones(3, 8), "needs a 2-D weight .* got shape \\(8,\\)"),
        (
            torch.ones(4, 8),
            _one_nan(),
            "1 NaN or infinite value\\(s\\), first at token 2, feature 5",
        ),
        (torch.ones(4, 8), torch.ones(0, 8), "no tokens"),
        (torch.ones(4, 8), torch.ones(3, 8, dtype=torch.int32), "must be floating-point"),
    ],
    ids=["wrong-width", "1-d-weight", "nan", "no-tokens", "int"],
)
def test_bad_input_gets_a_message(w, x, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        qv.output_error(w, w, x)


def test_reconstruction_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="Ŵ has shape \\(4, 7\\) but W has \\(4, 8\\)"):
        qv.output_error(torch.ones(4, 8), torch.ones(4, 7), torch.ones(2, 8))
