"""The streaming engine must measure exactly what quantize + dequantize + error_metrics measure,
whatever the chunking, granularity, range method or magnitude of the values."""

from __future__ import annotations

import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.scan.engine import ErrorTotals, tensor_errors

SETTINGS = settings(max_examples=int(os.environ.get("QV_EXAMPLES", "120")), deadline=None)
KEYS = ("mse", "rmse", "mae", "max_abs_error", "sqnr_db", "signal_power", "rel_error")


def reference(x: torch.Tensor, scheme: qv.QuantScheme) -> dict[str, float]:
    """The metrics of ``quantize(x).dequantize()``, summed in float64 here, independently of the
    engine and of ``error_metrics``."""
    diff = (qv.quantize(x, scheme).dequantize() - x).double()  # the float32 error, exactly
    n = x.numel()
    sse, signal = float(diff.square().sum()), float(x.double().square().sum())
    mse = sse / n
    if sse == 0.0:
        sqnr, rel = math.inf, 0.0
    elif signal == 0.0:
        sqnr, rel = -math.inf, math.inf
    else:
        sqnr, rel = 10 * math.log10(signal / sse), math.sqrt(sse / signal)
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(diff.abs().sum()) / n,
        "max_abs_error": float(diff.abs().max()),
        "sqnr_db": sqnr,
        "signal_power": signal / n,
        "rel_error": rel,
    }


def assert_same(got: dict[str, float], want: dict[str, float], what: str) -> None:
    for k in KEYS:
        if math.isinf(want[k]) or want[k] == 0.0:
            assert got[k] == want[k], (what, k, got[k], want[k])
        else:
            # dB is a log: a relative error δ in the sums is an absolute 4.3·δ dB near 0 dB
            tol = {"abs": 1e-5} if k == "sqnr_db" else {}
            assert got[k] == pytest.approx(want[k], rel=2e-6, **tol), (what, k, got[k], want[k])
    # x̂ is bit-identical, so the largest error is the very same float
    assert got["max_abs_error"] == want["max_abs_error"], what


@st.composite
def granularities(draw, ndim: int) -> qv.Granularity:
    kind = draw(st.sampled_from(["tensor", "row", "channel", "group", "block"]))
    if kind == "row":
        return qv.PerChannel(0)
    if kind == "channel":
        return qv.PerChannel(draw(st.integers(-ndim, ndim - 1)))
    if kind == "group":
        return qv.PerGroup(draw(st.integers(1, 6)), draw(st.integers(-ndim, ndim - 1)))
    if kind == "block" and ndim >= 2:
        return qv.PerBlock(draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return qv.PerTensor()


@st.composite
def cases(draw) -> tuple[torch.Tensor, list[qv.QuantScheme], int]:
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(shape, generator=gen)
    kind = draw(st.sampled_from(["normal", "wide", "tiny", "huge", "zeros", "spiky", "ints"]))
    if kind == "wide":
        x = x * 10 ** draw(st.integers(-4, 4))
    elif kind == "tiny":
        x = x * 1e-33  # squares underflow float32: the float64 path must take over
    elif kind == "huge":
        x = x * 1e25  # squares overflow float32
    elif kind == "zeros":
        x = torch.zeros(shape)
    elif kind == "spiky":
        x.view(-1)[draw(st.integers(0, x.numel() - 1))] = 300.0
    elif kind == "ints":
        x = torch.randint(-3, 4, shape, generator=gen).float()
    schemes = []
    for _ in range(draw(st.integers(1, 4))):
        symmetric = draw(st.booleans())
        schemes.append(
            qv.QuantScheme(
                bits=draw(st.sampled_from([2, 3, 4, 8, 16])),
                symmetric=symmetric,
                signed=symmetric or draw(st.booleans()),
                granularity=draw(granularities(ndim)),
                range_method=draw(st.sampled_from(["absmax", "percentile", "mse"])),
                percentile=draw(st.sampled_from([90.0, 99.9, 100.0])),
            )
        )
    chunk = draw(st.sampled_from([1, 2, 7, 64, 10**6]))
    return x, schemes, chunk


@SETTINGS
@given(cases())
def test_streamed_metrics_equal_quantize_then_error_metrics(case) -> None:
    x, schemes, chunk = case
    results = tensor_errors(x, schemes, chunk_elements=chunk)
    assert len(results) == len(schemes)
    for scheme, res in zip(schemes, results, strict=True):
        assert isinstance(res, ErrorTotals), res
        assert res.numel == x.numel()
        assert_same(res.metrics(), reference(x, scheme), f"{scheme.label()} chunk={chunk}")


@pytest.mark.parametrize("chunk", [1, 3, 100, 10_000], ids=lambda c: f"chunk-{c}")
@pytest.mark.parametrize(
    "scheme",
    [
        "int8-sym-per-tensor",
        "uint8-asym-per-tensor",
        "int8-sym-per-row",
        "int8-sym-per-column",
        "int4-sym-per-group-32",
        "int4-asym-per-group-5-dim0",
        "int4-sym-per-block-16x8",
        "int4-sym-per-tensor-mse",
        "int8-sym-per-column-p99",
    ],
)
def test_chunking_does_not_change_the_result(scheme: str, chunk: int) -> None:
    x = torch.randn(37, 50, generator=torch.Generator().manual_seed(1)) * 4
    x[5, 7] = 90.0  # an outlier in one row, one column, one group
    s = qv.parse_scheme(scheme)
    (res,) = tensor_errors(x, [s], chunk_elements=chunk)
    assert_same(res.metrics(), reference(x, s), scheme)


def test_the_notebook_example_matches_its_published_mses() -> None:
    x = torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])
    names = ["int8-sym-per-tensor", "int8-sym-per-row", "int8-sym-per-column"]
    res = tensor_errors(x, [qv.parse_scheme(n) for n in names], chunk_elements=2)
    assert [round(r.metrics()["mse"], 3) for r in res] == [2.509, 1.808, 1.078]


@pytest.mark.parametrize(
    ("shape", "scheme"),
    [
        ((10,), "int4-sym-per-block-2x2"),
        ((10,), "int8-sym-per-column"),
        ((4, 4), "int8-sym-per-channel-dim2"),
    ],
    ids=["block-on-vector", "column-on-vector", "dim2-on-matrix"],
)
def test_a_scheme_that_does_not_fit_gives_a_reason_and_the_others_still_run(
    shape: tuple[int, ...], scheme: str
) -> None:
    x = torch.randn(shape)
    bad, good = tensor_errors(x, [qv.parse_scheme(scheme), qv.parse_scheme("int8-sym-per-tensor")])
    assert isinstance(bad, str)
    assert "dim" in bad or "PerBlock" in bad
    assert isinstance(good, ErrorTotals)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_refused_with_a_count(value: float) -> None:
    x = torch.randn(8, 8)
    x[3, 4] = value
    with pytest.raises(ValueError, match=r"1 non-finite value.*\(3, 4\)"):
        tensor_errors(x, [qv.parse_scheme("int8-sym-per-row")])


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_elements"):
        tensor_errors(torch.randn(3, 3), [qv.parse_scheme("int8-sym-per-row")], chunk_elements=0)


def test_the_input_is_not_modified() -> None:
    x = torch.randn(20, 30)
    before = x.clone()
    tensor_errors(x, [qv.parse_scheme(s) for s in ("int8-sym-per-row", "int4-sym-per-tensor")])
    assert torch.equal(x, before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_agrees_with_cpu() -> None:
    x = torch.randn(300, 500) * 2
    schemes = [qv.parse_scheme(s) for s in ("int8-sym-per-tensor", "int4-sym-per-group-128")]
    cpu = tensor_errors(x, schemes)
    gpu = tensor_errors(x.cuda(), schemes)
    for a, b in zip(cpu, gpu, strict=True):
        for k in KEYS:
            assert b.metrics()[k] == pytest.approx(a.metrics()[k], rel=1e-5)
