"""compare(), bits per element and the metrics behind them."""

from __future__ import annotations

import math

import pytest
import torch

import quantviz as qv
from tests.helpers import notebook_tensor


@pytest.mark.parametrize(
    ("shape", "scheme", "expected"),
    [
        # Default fp32 scales count 32 bits (they are stored as float32).
        pytest.param(
            (64, 128), qv.QuantScheme(bits=4, granularity=qv.PerGroup(32)), 5.0, id="int4-g32"
        ),
        # An fp16 scale format counts 16 bits: 4 + 16/32.
        pytest.param(
            (64, 128),
            qv.QuantScheme(bits=4, granularity=qv.PerGroup(32), scale_format="fp16"),
            4.5,
            id="int4-g32-fp16",
        ),
        pytest.param((64, 128), qv.QuantScheme(bits=8), 8 + 32 / 8192, id="int8-tensor"),
        pytest.param(
            (64, 128),
            qv.QuantScheme(bits=8, symmetric=False, granularity=qv.PerChannel(0)),
            8 + 64 * (32 + 8) / 8192,
            id="int8-asym-row",
        ),
        pytest.param(
            (100, 100),
            qv.QuantScheme(bits=4, granularity=qv.PerBlock(64, 64)),
            4 + 4 * 32 / 1e4,
            id="int4-block-partial",
        ),
        pytest.param(
            (10, 10),
            qv.QuantScheme(bits=4, granularity=qv.PerGroup(3)),
            4 + 40 * 32 / 100,
            id="int4-g3-partial",
        ),
    ],
)
def test_bits_per_element(shape, scheme, expected) -> None:
    assert qv.bits_per_element(shape, scheme) == pytest.approx(expected)


def test_bits_per_element_scale_bits_parameter() -> None:
    scheme = qv.QuantScheme(bits=4, granularity=qv.PerGroup(32))
    assert qv.bits_per_element((32, 32), scheme, scale_bits=16) == pytest.approx(4.5)


def test_compare_notebook_table() -> None:
    x = notebook_tensor()
    schemes = [
        qv.QuantScheme(granularity=qv.PerTensor()),
        qv.QuantScheme(granularity=qv.PerChannel(0)),
        qv.QuantScheme(granularity=qv.PerChannel(1)),
        qv.QuantScheme(bits=4, granularity=qv.PerGroup(2)),
    ]
    table = qv.compare(x, schemes)
    assert list(table["scheme"]) == [s.label() for s in schemes]
    for col in (
        "mse",
        "mae",
        "max_abs_error",
        "sqnr_db",
        "num_scales",
        "bits_per_element",
        "compression_ratio",
        "scheme",
    ):
        assert col in table.columns
    assert table["mse"].tolist()[:3] == pytest.approx(
        [2.5091912746429443, 1.8084441423416138, 1.0781488418579102], rel=1e-6
    )
    assert table["num_scales"].tolist() == [1, 3, 3, 6]
    assert table["compression_ratio"].tolist() == pytest.approx(
        [32 / b for b in table["bits_per_element"]]
    )
    for row, scheme in zip(table.itertuples(), schemes, strict=True):
        x_hat = qv.quantize(x, scheme).dequantize()
        signal = float((x**2).mean())
        assert row.sqnr_db == pytest.approx(10 * math.log10(signal / row.mse), rel=1e-6)
        assert row.max_abs_error == pytest.approx(float((x - x_hat).abs().max()))


def test_compare_refuses_a_scheme_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="at least 2 dims"):
        qv.compare(torch.randn(10), [qv.QuantScheme(granularity=qv.PerBlock(2, 2))])


def test_error_metrics_edges() -> None:
    zero = torch.zeros(3, 3)
    assert qv.error_metrics(zero, zero)["sqnr_db"] == math.inf
    assert qv.error_metrics(zero, zero)["rel_error"] == 0.0
    off = qv.error_metrics(zero, torch.ones(3, 3))
    assert off["sqnr_db"] == -math.inf
    assert off["rel_error"] == math.inf
    assert off["mse"] == 1.0
    with pytest.raises(ValueError, match="shape mismatch"):
        qv.error_metrics(torch.zeros(2), torch.zeros(3))


def test_error_metrics_values() -> None:
    x = torch.tensor([1.0, -2.0, 3.0, 4.0])
    x_hat = torch.tensor([1.5, -2.0, 2.0, 4.0])
    m = qv.error_metrics(x, x_hat)
    assert m["mse"] == pytest.approx((0.25 + 1) / 4)
    assert m["mae"] == pytest.approx(1.5 / 4)
    assert m["max_abs_error"] == 1.0
    assert m["sqnr_db"] == pytest.approx(10 * math.log10((1 + 4 + 9 + 16) / 1.25))


def test_bits_per_element_refuses_empty_shapes_and_bad_scale_bits() -> None:
    with pytest.raises(ValueError, match="no elements"):
        qv.bits_per_element((0, 4), qv.QuantScheme())
    with pytest.raises(ValueError, match="scale_bits"):
        qv.bits_per_element((4, 4), qv.QuantScheme(), scale_bits=-5)
