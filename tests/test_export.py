"""The Quantize page's downloads: files that give back the integers, scales and zero points."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load

import quantviz as qv
from quantviz import export

SCHEMES = {
    "per-tensor": qv.QuantScheme(bits=8),
    "per-row-asym": qv.QuantScheme(
        bits=4, symmetric=False, signed=False, granularity=qv.PerChannel(0)
    ),
    "per-group": qv.QuantScheme(bits=4, granularity=qv.PerGroup(4)),
    "per-block-3d": qv.QuantScheme(bits=6, symmetric=False, granularity=qv.PerBlock(2, 3)),
}


@pytest.fixture(params=list(SCHEMES), ids=list(SCHEMES))
def result(request) -> qv.QuantResult:
    torch.manual_seed(0)
    shape = (2, 5, 7) if request.param.endswith("3d") else (5, 10)
    return qv.quantize(torch.randn(shape), SCHEMES[request.param])


def test_safetensors_round_trip(result):
    data = export.quantized_safetensors(result)
    back = load(data)
    assert torch.equal(back["q"], result.q)
    assert torch.equal(back["scale"], result.scale)
    assert torch.equal(back["zero_point"], result.zero_point)
    again = qv.dequantize(back["q"], back["scale"], back["zero_point"], result.scheme)
    assert torch.equal(again, result.dequantize())


def test_npz_round_trip_without_pickle(result):
    with np.load(io.BytesIO(export.quantized_npz(result)), allow_pickle=False) as f:
        assert np.array_equal(f["q"], result.q.numpy())
        assert np.array_equal(f["scale"], result.scale.numpy())
        assert np.array_equal(f["zero_point"], result.zero_point.numpy())
        assert qv.parse_scheme(str(f["scheme"])) == result.scheme


def test_csv_holds_the_integers_as_shown(result):
    table = np.loadtxt(io.StringIO(export.quantized_csv(result).decode()), delimiter=",", ndmin=2)
    assert np.array_equal(table, export.as_matrix(result.q).numpy())


def test_scales_csv_has_one_line_per_block(result):
    table = pd.read_csv(io.BytesIO(export.scales_csv(result)))
    assert len(table) == result.num_scales
    assert np.allclose(table["scale"], result.scale.reshape(-1).numpy())
    assert np.array_equal(table["zero_point"], result.zero_point.reshape(-1).numpy())
