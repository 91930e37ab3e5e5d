"""Cross-check against PyTorch's own quantization kernels on random data.

PyTorch multiplies by the reciprocal of the scale where quantviz divides (as the notebook does), so
an element lying almost exactly between two levels may round the other way. We measure that and
assert it stays rare and never exceeds one level.
"""

from __future__ import annotations

import pytest
import torch

import quantviz as qv

N_ROWS, N_COLS = 1024, 1024  # a million elements: "a few per million" is measurable

# torch.quantize_per_channel is deprecated upstream but remains the reference kernel to check.
pytestmark = pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")


def _data(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N_ROWS, N_COLS, generator=gen) * torch.rand(N_ROWS, 1, generator=gen) * 5


@pytest.mark.parametrize("axis", [0, 1], ids=["per-row", "per-column"])
@pytest.mark.parametrize("symmetric", [True, False], ids=["sym", "asym"])
def test_quantize_per_channel_matches(axis, symmetric) -> None:
    x = _data(axis + 2 * symmetric)
    scheme = qv.QuantScheme(bits=8, symmetric=symmetric, granularity=qv.PerChannel(axis))
    res = qv.quantize(x, scheme)
    # The parameters handed to PyTorch are checked independently first, from the formulas.
    other = 1 - axis
    lo = x.amin(dim=other, keepdim=True).clamp(max=0)
    hi = x.amax(dim=other, keepdim=True).clamp(min=0)
    expected_scale = torch.maximum(-lo, hi) / 127 if symmetric else (hi - lo) / 255
    torch.testing.assert_close(res.scale, expected_scale, rtol=1e-6, atol=0)
    if not symmetric:
        expected_zp = torch.round(-128 - lo / expected_scale).clamp(-128, 127)
        assert torch.equal(res.zero_point.to(torch.float32), expected_zp)
    ours = res.q.to(torch.int32)
    theirs = (
        torch.quantize_per_channel(
            x,
            res.scale.flatten().double(),
            res.zero_point.flatten().long(),
            axis,
            torch.qint8,
        )
        .int_repr()
        .to(torch.int32)
    )
    diff = (ours - theirs).abs()
    assert int(diff.max()) <= 1
    mismatches = int((diff > 0).sum())
    assert mismatches <= 5 * x.numel() / 1e6, f"{mismatches} mismatches in {x.numel()}"


@pytest.mark.parametrize("axis", [0, 1], ids=["per-row", "per-column"])
@pytest.mark.parametrize("bits", [8, 4], ids=["int8", "int4"])
def test_fake_quantize_per_channel_affine_matches(axis, bits) -> None:
    x = _data(10 + axis + bits)
    scheme = qv.QuantScheme(bits=bits, symmetric=False, granularity=qv.PerChannel(axis))
    res = qv.quantize(x, scheme)
    theirs = torch.fake_quantize_per_channel_affine(
        x,
        res.scale.flatten(),
        res.zero_point.flatten(),
        axis,
        scheme.q_min,
        scheme.q_max,
    )
    ours = res.dequantize()
    step = qv.expand_to_elements(res.scale, x.shape, scheme.granularity)
    levels_apart = ((ours - theirs).abs() / step).round()
    assert int(levels_apart.max()) <= 1
    mismatches = int((levels_apart > 0).sum())
    assert mismatches <= 5 * x.numel() / 1e6, f"{mismatches} mismatches in {x.numel()}"
    close = levels_apart == 0
    torch.testing.assert_close(ours[close], theirs[close], rtol=1e-6, atol=1e-6)


def test_quantize_per_tensor_matches() -> None:
    x = _data(7)
    res = qv.quantize(x, qv.QuantScheme(bits=8, symmetric=False, signed=False))
    theirs = torch.quantize_per_tensor(
        x, float(res.scale), int(res.zero_point), torch.quint8
    ).int_repr()
    diff = (res.q.to(torch.int32) - theirs.to(torch.int32)).abs()
    assert int(diff.max()) <= 1
    assert int((diff > 0).sum()) <= 5 * x.numel() / 1e6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "granularity",
    [qv.PerTensor(), qv.PerChannel(0), qv.PerChannel(1), qv.PerGroup(128), qv.PerBlock(64, 64)],
    ids=["per-tensor", "per-row", "per-column", "per-group-128", "per-block-64x64"],
)
@pytest.mark.parametrize("method", ["absmax", "percentile", "mse"])
def test_cuda_matches_cpu(granularity, method) -> None:
    x = _data(3)
    scheme = qv.QuantScheme(bits=4, symmetric=False, granularity=granularity, range_method=method)
    cpu = qv.quantize(x, scheme)
    gpu = qv.quantize(x.cuda(), scheme)
    assert gpu.q.device.type == "cuda"
    torch.testing.assert_close(gpu.scale.cpu(), cpu.scale, rtol=1e-5, atol=0)
    diff = (gpu.q.cpu().to(torch.int32) - cpu.q.to(torch.int32)).abs()
    assert int(diff.max()) <= 1
    assert int((diff > 0).sum()) <= 5 * x.numel() / 1e6
