"""GPTQ against the paper's Algorithm 1 done the slow way, the OBQ property, and bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.calibrate import gptq, hessian, inverse_hessian_factor
from quantviz.calibrate.gptq import gptq_columns
from tests.calibrate._helpers import algorithm1, damped_hessian, element_params, layer


@pytest.mark.parametrize("block_size", [3, 8, 128], ids=lambda b: f"block{b}")
@pytest.mark.parametrize(
    ("scheme", "span"),
    [
        ("int4-sym-per-row", None),
        ("int3-asym-per-tensor", None),
        ("int3-sym-per-group-4", 4),
        ("uint4-asym-per-group-5", 5),
        ("int4-sym-per-column", 1),
        ("int4-sym-per-block-4x6", 6),
    ],
    ids=lambda v: str(v),
)
def test_gptq_equals_algorithm_1(scheme: str, span: int | None, block_size: int) -> None:
    w, x = layer(out=6, n_in=16, tokens=40, outliers=2, seed=3)
    s = qv.parse_scheme(scheme)
    got = gptq(w, x, s, block_size=block_size).w_hat
    want = algorithm1(w, x, s, span).to(torch.float32)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scheme", ["int4-sym-per-row", "int3-sym-per-group-4"])
def test_act_order_equals_algorithm_1_on_the_permuted_columns(scheme: str) -> None:
    """act_order: Algorithm 1 on the columns sorted by decreasing diag(H); with groups, each
    group's parameters fixed up front from the original weights (static groups)."""
    w, x = layer(out=6, n_in=16, tokens=40, outliers=3, seed=9)
    s = qv.parse_scheme(scheme)
    res = gptq(w, x, s, act_order=True, block_size=5)
    order = res.order
    fixed = None
    if "group" in scheme:
        scale, zp = element_params(w.double(), s)
        fixed = (scale[:, order], zp[:, order])
    want = algorithm1(w[:, order], x[:, order], s, None, fixed)[:, torch.argsort(order)]
    torch.testing.assert_close(res.w_hat, want.to(torch.float32), rtol=1e-4, atol=1e-4)
    assert not torch.equal(order, torch.arange(16))


@pytest.mark.parametrize("k", [1, 5, 11], ids=lambda k: f"after{k}")
@pytest.mark.parametrize("block_size", [4, 128], ids=lambda b: f"block{b}")
def test_each_update_minimises_the_quadratic_error_of_the_remaining_columns(
    k: int, block_size: int
) -> None:
    """OBQ: with columns 0..k-1 quantized, the columns left minimise (W − W')H(W − W')ᵀ, i.e. the
    gradient ((W' − W) H)[:, k:] vanishes."""
    w, x = layer(out=5, n_in=14, tokens=60, outliers=2, seed=7)
    h, wd = damped_hessian(x, w)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    calls = []

    def first_k_rounded(col, scale, zp):
        calls.append(1)
        return torch.round(col * 2) / 2 if len(calls) <= k else col

    def params(cols):
        return torch.ones_like(cols), torch.zeros_like(cols)

    w_after = gptq_columns(wd, u, params, first_k_rounded, None, block_size=block_size)
    grad = (w_after - wd) @ h
    assert torch.equal(w_after[:, :k], torch.round(w_after[:, :k] * 2) / 2)
    assert grad[:, k:].abs().max() < 1e-9 * h.abs().max() * wd.abs().max() * 14
    assert grad[:, :k].abs().max() > 1e-3  # the fixed columns are not at the optimum


def test_act_order_goes_by_decreasing_hessian_diagonal_and_keeps_the_group_layout() -> None:
    w, x = layer(out=8, n_in=32, tokens=100, outliers=3, seed=1)
    s = qv.parse_scheme("int3-sym-per-group-8")
    res = gptq(w, x, s, act_order=True)
    diag = torch.diag(hessian(x))
    assert sorted(res.order.tolist()) == list(range(32))
    assert torch.all(diag[res.order][:-1] >= diag[res.order][1:])
    groups = res.w_hat.reshape(8, 4, 8)  # (row, group, column in group)
    distinct = [len(torch.unique(groups[r, g])) for r in range(8) for g in range(4)]
    assert max(distinct) <= 2**3  # one 3-bit grid per row-group: Ŵ keeps the scheme's layout
    assert gptq(w, x, s).order is None


def test_gptq_lowers_output_error_below_rtn_with_act_order_too() -> None:
    w, x = layer(seed=4)
    s = qv.parse_scheme("int4-sym-per-group-128")
    rtn_err = qv.output_error(w, qv.quantize(w, s).dequantize(), x)["rel_error"]
    for act_order in (False, True):
        res = gptq(w, x, s, act_order=act_order)
        assert qv.output_error(w, res.w_hat, x)["rel_error"] < rtn_err


def test_dead_inputs_are_zeroed_and_counted_not_nan() -> None:
    w, x = layer(out=8, n_in=16, tokens=30, seed=2)
    x[:, [3, 9]] = 0.0
    res = gptq(w, x, qv.parse_scheme("int4-sym-per-row"))
    assert res.params["dead"] == 2
    assert torch.isfinite(res.w_hat).all()
    assert torch.all(res.w_hat[:, [3, 9]] == 0)


def test_rank_deficient_hessian_is_dampened_and_stays_finite() -> None:
    w, x = layer(out=8, n_in=32, tokens=4, seed=5)  # rank(XᵀX) ≤ 4 < 32
    res = gptq(w, x, qv.parse_scheme("int4-sym-per-group-8"))
    assert torch.isfinite(res.w_hat).all()
    with pytest.raises(ValueError, match=r"not positive definite with percdamp=0.*raise percdamp"):
        inverse_hessian_factor(hessian(x), percdamp=0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percdamp": -0.1}, "percdamp must be a non-negative number"),
        ({"block_size": 0}, "block_size must be a positive integer"),
    ],
    ids=["negative-damp", "zero-block"],
)
def test_bad_settings_are_named(kwargs: dict, match: str) -> None:
    w, x = layer(out=4, n_in=8, tokens=16)
    with pytest.raises(ValueError, match=match):
        gptq(w, x, qv.parse_scheme("int4-sym-per-row"), **kwargs)


@settings(max_examples=25, deadline=None)
@given(
    out=st.integers(1, 5),
    n_in=st.integers(1, 12),
    tokens=st.integers(1, 24),
    bits=st.integers(2, 5),
    group=st.sampled_from([None, 1, 2, 3, 5]),
    block=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_gptq_equals_algorithm_1_on_any_small_layer(out, n_in, tokens, bits, group, block, seed):
    """Any shape (one token, one input, groups that do not divide the width, blocks smaller
    than a group): the blocked, lazy-batch GPTQ is Algorithm 1."""
    w, x = layer(out=out, n_in=n_in, tokens=tokens, outliers=min(1, n_in), seed=seed)
    gran = "per-row" if group is None else f"per-group-{group}"
    s = qv.parse_scheme(f"int{bits}-asym-{gran}")
    got = gptq(w, x, s, block_size=block).w_hat
    want = algorithm1(w, x, s, None if group is None else min(group, n_in))
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want.to(torch.float32), rtol=1e-4, atol=1e-4)
