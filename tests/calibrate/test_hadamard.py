"""The randomized Hadamard rotation: orthogonal, invertible, fast == dense, seeded."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.calibrate import Rotation, fwht, hadamard, sylvester
from quantviz.calibrate.hadamard import hadamard_block


def _sylvester_by_kronecker(n: int) -> torch.Tensor:
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.kron(torch.tensor([[1.0, 1.0], [1.0, -1.0]]), h)
    return h


@pytest.mark.parametrize("n", [1, 2, 8, 64, 256], ids=lambda n: f"n{n}")
def test_fast_transform_equals_the_dense_product(n: int) -> None:
    x = torch.randn(5, n, generator=torch.Generator().manual_seed(n))
    dense = _sylvester_by_kronecker(n)
    assert torch.equal(sylvester(n), dense)
    torch.testing.assert_close(fwht(x), x @ dense, rtol=1e-5, atol=1e-4)
    assert torch.equal(dense.t() @ dense, n * torch.eye(n))


def test_fwht_refuses_widths_that_are_not_powers_of_two() -> None:
    with pytest.raises(ValueError, match="needs a power of two, got 12"):
        fwht(torch.ones(3, 12))


@pytest.mark.parametrize(("n", "block"), [(4096, 4096), (768, 256), (11008, 256), (7, 1), (12, 4)])
def test_block_is_the_largest_power_of_two_dividing_the_width(n: int, block: int) -> None:
    assert hadamard_block(n) == block


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 96), seed=st.integers(0, 2**31 - 1))
def test_rotation_is_orthogonal_and_the_fast_path_matches_the_matrix(n: int, seed: int) -> None:
    rot = Rotation.random(n, seed)
    h = rot.matrix()
    torch.testing.assert_close(h @ h.t(), torch.eye(n), rtol=0, atol=1e-5)
    w = torch.randn(3, n, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(rot.apply(w), w @ h, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rot.apply_transpose(w), w @ h.t(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rot.apply_transpose(rot.apply(w)), w, rtol=1e-5, atol=1e-5)


def test_rotation_is_seeded() -> None:
    assert torch.equal(Rotation.random(64, 3).signs, Rotation.random(64, 3).signs)
    assert not torch.equal(Rotation.random(64, 3).signs, Rotation.random(64, 4).signs)


def test_method_quantizes_the_rotated_weight_and_rotates_back() -> None:
    w = qv.generate("normal", (8, 48), seed=1)
    s = qv.parse_scheme("int4-sym-per-group-16")
    res = hadamard(w, None, s, seed=5)
    h = Rotation.random(48, 5).matrix()
    torch.testing.assert_close(res.w_transformed, w @ h, rtol=1e-5, atol=1e-5)
    want = qv.quantize(w @ h, s).dequantize() @ h.t()
    torch.testing.assert_close(res.w_hat, want, rtol=1e-4, atol=1e-4)
    assert res.params == {"seed": 5, "block": 16}


def test_rotation_smears_outlier_columns_so_per_row_int4_loses_less() -> None:
    w = qv.generate("outliers", (64, 256), seed=2, fraction=0.02, factor=50.0)
    s = qv.parse_scheme("int4-sym-per-row")
    rtn_mse = (w - qv.quantize(w, s).dequantize()).square().mean()
    rot_mse = (w - hadamard(w, None, s).w_hat).square().mean()
    assert rot_mse < 0.5 * rtn_mse
