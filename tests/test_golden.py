"""Golden numbers: the course notebook's printed results, and hand-worked cases for the schemes
the notebook does not cover (asymmetric, 4-bit, 2-bit, per-group, per-block)."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv
from tests.helpers import notebook_tensor

INT8_SYM = dict(bits=8, symmetric=True)


def test_notebook_per_tensor() -> None:
    x = notebook_tensor()
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerTensor()))
    expected_q = torch.tensor([[33, -2, 127], [16, 52, -32], [0, 119, 43]], dtype=torch.int8)
    assert torch.equal(res.q, expected_q)
    assert res.scale.shape == ()
    assert float(res.scale) == pytest.approx(5.737007681779035, rel=1e-6)
    expected_deq = torch.tensor(
        [[189.3213, -11.4740, 728.6000], [91.7921, 298.3244, -183.5842], [0.0, 682.7039, 246.6913]]
    )
    torch.testing.assert_close(res.dequantize(), expected_deq, rtol=1e-6, atol=1e-4)
    mse = qv.error_metrics(x, res.dequantize())["mse"]
    assert mse == pytest.approx(2.5091912746429443, rel=1e-6)


@pytest.mark.parametrize(
    ("dim", "expected_q", "expected_scale", "expected_mse"),
    [
        pytest.param(
            0,
            [[33, -2, 127], [40, 127, -79], [0, 127, 46]],
            [[5.7370], [2.3268], [5.3906]],
            1.8084441423416138,
            id="per-row",
        ),
        pytest.param(
            1,
            None,  # the notebook prints only the MSE for columns; q is checked by the oracle
            [[191.6 / 127, 684.6 / 127, 728.6 / 127]],
            1.0781488418579102,
            id="per-column",
        ),
    ],
)
def test_notebook_per_channel(dim, expected_q, expected_scale, expected_mse) -> None:
    x = notebook_tensor()
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerChannel(dim)))
    if expected_q is not None:
        assert torch.equal(res.q, torch.tensor(expected_q, dtype=torch.int8))
    scale = torch.tensor(expected_scale, dtype=torch.float32)
    assert res.scale.shape == scale.shape
    torch.testing.assert_close(res.scale, scale, rtol=2e-5, atol=0)  # notebook prints 4 digits
    mse = qv.error_metrics(x, res.dequantize())["mse"]
    assert mse == pytest.approx(expected_mse, rel=1e-6)


def test_notebook_per_row_scale_is_exact_float32() -> None:
    """The notebook's loop computes each row's scale in double and stores it as float32."""
    x = notebook_tensor()
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerChannel(0)))
    notebook_loop = torch.tensor([x[i].abs().max().item() / 127 for i in range(3)])
    torch.testing.assert_close(res.scale.flatten(), notebook_loop, rtol=1e-6, atol=0)


def test_uint4_asymmetric_rounds_half_to_even() -> None:
    # Range [0, 15] over 15 levels: scale 1, zero point 0, so q is round(x) with ties to even.
    x = torch.tensor([[0.0, 3.4, 7.5, 15.0], [8.5, 1.0, 2.5, 14.6]])
    res = qv.quantize(x, qv.QuantScheme(bits=4, symmetric=False, signed=False))
    assert float(res.scale) == 1.0
    assert int(res.zero_point) == 0
    assert res.q.dtype == torch.uint8
    assert res.q.tolist() == [[0, 3, 8, 15], [8, 1, 2, 15]]


def test_int4_asymmetric_zero_point() -> None:
    # Range [-3, 12] over the 15 levels of [-8, 7]: scale 1, zero point round(-8 + 3) = -5.
    x = torch.tensor([[-3.0, 12.0, 0.5, 4.5]])
    res = qv.quantize(x, qv.QuantScheme(bits=4, symmetric=False))
    assert float(res.scale) == 1.0
    assert int(res.zero_point) == -5
    assert res.q.tolist() == [[-8, 7, -4, 0]]  # -4.5 -> -4 and -0.5 -> 0: ties to even
    assert res.dequantize().tolist() == [[-3.0, 12.0, 1.0, 5.0]]


def test_int2_symmetric() -> None:
    # Grid [-2, 1]: scale = absmax / 1 = 4.
    x = torch.tensor([[4.0, -4.0, 2.0, -2.0, 1.0, 3.0]])
    res = qv.quantize(x, qv.QuantScheme(bits=2, symmetric=True))
    assert float(res.scale) == 4.0
    assert res.q.tolist() == [[1, -1, 0, 0, 0, 1]]
    m = qv.error_metrics(x, res.dequantize())
    assert m["mse"] == pytest.approx(10 / 6, rel=1e-7)
    assert m["max_abs_error"] == 2.0


def test_per_group_with_exact_scales() -> None:
    x = torch.tensor([[127.0, -63.5, 254.0, 1.0, -508.0, 100.0]])
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerGroup(2)))
    assert res.scale.tolist() == [[1.0, 2.0, 4.0]]
    assert res.q.tolist() == [[127, -64, 127, 0, -127, 25]]
    assert res.dequantize().tolist() == [[127.0, -64.0, 254.0, 0.0, -508.0, 100.0]]


def test_per_group_shorter_last_group() -> None:
    x = torch.tensor([[127.0, -63.5, 254.0, 1.0, -508.0, 100.0]])
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerGroup(4)))
    assert res.scale.tolist() == [[2.0, 4.0]]
    assert res.q.tolist() == [[64, -32, 127, 0, -127, 25]]


def test_per_block_partial_edge_tiles() -> None:
    x = torch.tensor(
        [
            [127.0, 1.0, 254.0],
            [-63.5, 2.0, 3.0],
            [508.0, -1.0, 0.0],
        ]
    )
    res = qv.quantize(x, qv.QuantScheme(**INT8_SYM, granularity=qv.PerBlock(2, 2)))
    # Tiles: rows 0-1 x cols 0-1, rows 0-1 x col 2, row 2 x cols 0-1, row 2 x col 2 (all zero).
    assert res.scale.shape == (2, 2)
    torch.testing.assert_close(
        res.scale, torch.tensor([[1.0, 2.0], [4.0, torch.finfo(torch.float32).tiny]])
    )
    assert res.q.tolist() == [[127, 1, 127], [-64, 2, 2], [127, 0, 0]]


@pytest.mark.parametrize("signed", [False, True], ids=["uint8", "int8"])
def test_asymmetric_range_not_containing_zero_is_widened_to_zero(signed) -> None:
    # [1, 2] alone would need a zero point outside the grid; with the range widened to [0, 2]
    # the scale is 2/255, 0 maps exactly to the zero point, and nothing is clipped.
    x = torch.linspace(1, 2, 11).reshape(1, -1)
    res = qv.quantize(x, qv.QuantScheme(bits=8, symmetric=False, signed=signed))
    assert float(res.scale) == pytest.approx(2 / 255, rel=1e-6)
    assert int(res.zero_point) == (-128 if signed else 0)
    assert not qv.clipped_mask(x, res).any()
    assert float((res.dequantize() - x).abs().max()) <= float(res.scale) / 2 * (1 + 1e-5)
