"""Range methods: percentile against torch.quantile, MSE search, degenerate blocks."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv
from quantviz.granularity import to_blocks
from quantviz.ranges import block_range


@pytest.mark.parametrize("percentile", [99.9, 99.0, 90.0, 75.5, 100.0])
@pytest.mark.parametrize(
    "granularity",
    [qv.PerTensor(), qv.PerChannel(0), qv.PerGroup(7), qv.PerBlock(3, 5)],
    ids=["per-tensor", "per-row", "per-group-7", "per-block-3x5"],
)
def test_percentile_matches_torch_quantile(granularity, percentile) -> None:
    x = torch.randn(12, 40, generator=torch.Generator().manual_seed(0)) ** 3
    blocks = to_blocks(x, granularity)
    for symmetric in (True, False):
        scheme = qv.QuantScheme(
            symmetric=symmetric, range_method="percentile", percentile=percentile
        )
        r_min, r_max = block_range(blocks.data, blocks.valid, scheme)
        data = blocks.data
        q = percentile / 100
        if symmetric:
            expected_max = torch.nanquantile(data.abs(), q, dim=1, keepdim=True)
            torch.testing.assert_close(r_max, expected_max, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(r_min, -expected_max, rtol=1e-5, atol=1e-6)
        else:
            tol = dict(rtol=1e-5, atol=1e-6)
            hi = torch.nanquantile(data, q, dim=1, keepdim=True)
            lo = torch.nanquantile(data, 1 - q, dim=1, keepdim=True)
            torch.testing.assert_close(r_max, hi, **tol)
            torch.testing.assert_close(r_min, lo, **tol)


def test_percentile_clips_an_outlier_and_lowers_the_error_elsewhere() -> None:
    x = torch.randn(1, 1000, generator=torch.Generator().manual_seed(1))
    x[0, 0] = 100.0
    full = qv.quantize(x, qv.QuantScheme(bits=4))
    clipped = qv.quantize(x, qv.QuantScheme(bits=4, range_method="percentile", percentile=99))
    assert float(clipped.scale) < float(full.scale) / 10
    rest = slice(1, None)
    err_full = (full.dequantize() - x)[0, rest].abs().mean()
    err_clip = (clipped.dequantize() - x)[0, rest].abs().mean()
    assert err_clip < err_full / 5


@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
def test_mse_search_beats_full_range_on_heavy_tails(symmetric) -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.distributions.Laplace(0.0, 1.0).sample((64, 256)) * (
        1 + 0 * torch.rand(1, generator=gen)
    )
    kw = dict(bits=3, symmetric=symmetric, granularity=qv.PerChannel(0))
    full = qv.error_metrics(x, qv.quantize(x, qv.QuantScheme(**kw)).dequantize())["mse"]
    searched = qv.quantize(x, qv.QuantScheme(range_method="mse", **kw))
    mse = qv.error_metrics(x, searched.dequantize())["mse"]
    assert mse < 0.8 * full
    # The search only ever shrinks the range.
    full_scale = qv.quantize(x, qv.QuantScheme(**kw)).scale
    assert (searched.scale <= full_scale * (1 + 1e-6)).all()


def test_mse_search_finds_the_brute_force_optimum_on_one_block() -> None:
    x = torch.randn(1, 4096, generator=torch.Generator().manual_seed(3)) ** 3
    scheme = qv.QuantScheme(bits=4, range_method="mse")
    found = qv.error_metrics(x, qv.quantize(x, scheme).dequantize())["mse"]
    absmax = float(x.abs().max())
    best = min(
        float(((torch.round(x / s).clamp(-8, 7) * s - x) ** 2).mean())
        for s in (absmax * r / 7 for r in torch.linspace(0.05, 1, 2000).tolist())
    )
    assert found <= best * 1.01


def _candidate_sse(x: torch.Tensor, scheme: qv.QuantScheme, ratio: float) -> float:
    """Squared error of one block quantized with its full range shrunk by ``ratio`` (a plain
    oracle: the notebook's formulas, no quantviz code)."""
    if scheme.symmetric:
        scale = float(x.abs().max()) * ratio / scheme.q_max
        q = torch.round(x / scale).clamp(scheme.q_min, scheme.q_max)
        return float(((q * scale - x) ** 2).double().sum())
    lo, hi = min(float(x.min()), 0.0) * ratio, max(float(x.max()), 0.0) * ratio
    scale = (hi - lo) / (scheme.q_max - scheme.q_min)
    zp = min(max(round(scheme.q_min - lo / scale), scheme.q_min), scheme.q_max)
    q = torch.round(x / scale + zp).clamp(scheme.q_min, scheme.q_max)
    return float((((q - zp) * scale - x) ** 2).double().sum())


@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
def test_mse_search_picks_each_blocks_best_coarse_candidate_or_better(symmetric) -> None:
    # Rows with different tails: the best clip ratio differs from row to row.
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(6, 300, generator=gen) ** torch.tensor([[1.0], [2], [3], [1], [2], [3]])
    scheme = qv.QuantScheme(bits=3, symmetric=symmetric, granularity=qv.PerChannel(0))
    searched = qv.quantize(x, qv.QuantScheme(**{**_kw(scheme), "range_method": "mse"}))
    err = ((searched.dequantize() - x) ** 2).double().sum(dim=1)
    for row in range(6):
        best_coarse = min(_candidate_sse(x[row], scheme, r / 10) for r in range(1, 11))
        assert float(err[row]) <= best_coarse * (1 + 1e-6), row


def _kw(scheme: qv.QuantScheme) -> dict:
    return dict(bits=scheme.bits, symmetric=scheme.symmetric, granularity=scheme.granularity)


@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
def test_mse_search_cuts_long_blocks_into_tiles_without_changing_the_result(
    monkeypatch, symmetric
) -> None:
    import quantviz.ranges as ranges

    x = torch.randn(3, 1000, generator=torch.Generator().manual_seed(5)) ** 3
    scheme = qv.QuantScheme(bits=4, symmetric=symmetric, range_method="mse")
    blocks = to_blocks(x, qv.PerChannel(0))
    r_min, r_max = block_range(blocks.data, None, scheme)
    whole = ranges.mse_search(blocks.data, None, r_min, r_max, scheme)
    monkeypatch.setattr(ranges, "_SEARCH_SLICE", 128)  # 8 tiles per block, one block per slice
    tiled = ranges.mse_search(blocks.data, None, r_min, r_max, scheme)
    torch.testing.assert_close(tiled[0], whole[0], rtol=0, atol=0)
    torch.testing.assert_close(tiled[1], whole[1], rtol=0, atol=0)


def test_mse_search_ignores_the_padding_of_ragged_groups() -> None:
    # Groups of 4 along 10 columns: the last group of each row has 2 real values and 2 pads.
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(6)) ** 3
    scheme = qv.QuantScheme(bits=3, granularity=qv.PerGroup(4), range_method="mse")
    res = qv.quantize(x, scheme)
    # Each ragged group alone, as its own 2-element tensor, must get the same scale.
    for row in range(5):
        alone = qv.quantize(x[row, 8:].reshape(1, 2), qv.QuantScheme(bits=3, range_method="mse"))
        assert float(res.scale[row, 2]) == float(alone.scale)
