"""Downloads keep the real storage types and read back to the same reconstruction."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from safetensors.torch import load

import quantviz as qv
from quantviz import export

CASES = {
    # scheme: (codes tensor name, its dtype, scale tensor name, its dtype)
    "fp8-e4m3-per-channel": ("q", torch.float8_e4m3fn, "scale", torch.float32),
    "fp8_e5m2-sym-per-row-bf16": ("q", torch.float8_e5m2, "scale", torch.bfloat16),
    "mxfp8": ("q", torch.float8_e4m3fn, "scale_e8m0", torch.uint8),
    "mxfp6": ("q", torch.uint8, "scale_e8m0", torch.uint8),
    "mxfp4": ("q_packed", torch.uint8, "scale_e8m0", torch.uint8),
    "mxint8": ("q", torch.int8, "scale_e8m0", torch.uint8),
    "nvfp4": ("q_packed", torch.uint8, "block_scale", torch.float8_e4m3fn),
    "nf4-g64": ("q_packed", torch.uint8, "scale", torch.float32),
    "nf4-g64-dq": ("q_packed", torch.uint8, "absmax_codes", torch.uint8),
    "q4_0": ("q", torch.int8, "scale", torch.float16),
    "q4_1": ("q", torch.uint8, "scale", torch.float16),
    "int4-sym-per-group-128-fp16": ("q", torch.int8, "scale", torch.float16),
}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request):
    x = torch.randn(6, 256, generator=torch.Generator().manual_seed(0))
    return request.param, qv.quantize(x, qv.parse_scheme(request.param))


def test_safetensors_keep_storage_types_and_read_back(case) -> None:
    name, res = case
    q_name, q_dtype, s_name, s_dtype = CASES[name]
    data = export.quantized_safetensors(res)
    tensors = load(data)
    assert tensors[q_name].dtype == q_dtype
    assert tensors[s_name].dtype == s_dtype
    back = export.quantized_from_safetensors(data)
    assert back.scheme == res.scheme
    assert torch.equal(back.q, res.q)
    assert torch.equal(back.scale, res.scale)
    assert torch.equal(back.dequantize(), res.dequantize())


def test_packed_fp4_is_half_the_bytes(case) -> None:
    _name, res = case
    tensors = load(export.quantized_safetensors(res))
    if "q_packed" in tensors:
        assert tensors["q_packed"].numel() == res.q.numel() // 2
        low = tensors["q_packed"] & 0x0F
        assert torch.equal(low, res.q.reshape(-1)[0::2])


def test_npz_holds_the_same_bits(case) -> None:
    _name, res = case
    tensors = load(export.quantized_safetensors(res))
    with np.load(io.BytesIO(export.quantized_npz(res)), allow_pickle=False) as f:
        assert qv.parse_scheme(str(f["scheme"])) == res.scheme
        assert str(f["scale_format"]) == res.scheme.scale_format
        for key, t in tensors.items():
            if t.dtype == torch.bfloat16:
                expected = t.view(torch.int16).numpy().view(np.uint16)
            elif t.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
                expected = t.view(torch.uint8).numpy()
            else:
                expected = t.numpy()
            assert f[key].dtype == expected.dtype
            assert np.array_equal(f[key], expected)


def test_e8m0_bytes_are_the_biased_exponents() -> None:
    x = torch.zeros(1, 64)
    x[0, 0], x[0, 32] = 1.0, 100.0
    tensors = load(export.quantized_safetensors(qv.quantize(x, qv.PRESETS["mxfp4"])))
    # amax 1 -> 2^(0-2); amax 100 -> 2^(6-2): biased 125 and 131
    assert tensors["scale_e8m0"].reshape(-1).tolist() == [125, 131]


def test_metadata_says_how_to_dequantize() -> None:
    res = qv.quantize(torch.randn(4, 64), qv.PRESETS["q4_1"])
    data = export.quantized_safetensors(res)
    meta = export._metadata_of(data)
    assert meta["scheme"] == "q4_1"
    assert meta["scale_format"] == "fp16"
    assert meta["dequantize"].startswith("x_hat = zero_point + scale * q")
