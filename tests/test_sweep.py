"""sweep_bits: one row per bit width × granularity × symmetry, consistent with qv.compare."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.compare import COMPARE_COLUMNS
from quantviz.metrics import ideal_sqnr_db
from quantviz.sweep import default_granularities, sweep_bits


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(16, 128, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "bits", [pytest.param([8], id="one-width"), pytest.param(range(2, 9), id="2-to-8")]
)
@pytest.mark.parametrize(
    "granularities",
    [
        pytest.param(["per-tensor"], id="per-tensor"),
        pytest.param([qv.PerTensor(), qv.PerChannel(0), qv.PerGroup(32)], id="three"),
    ],
)
@pytest.mark.parametrize(
    "symmetric", [pytest.param((True,), id="sym"), pytest.param((True, False), id="both")]
)
def test_one_row_per_combination(x, bits, granularities, symmetric):
    table = sweep_bits(x, bits=bits, granularities=granularities, symmetric=symmetric)
    assert len(table) == len(list(bits)) * len(granularities) * len(symmetric)
    assert list(table.columns) == [*COMPARE_COLUMNS, "ideal_sqnr_db"]
    combos = set(zip(table["granularity"], table["symmetric"], table["bits"], strict=True))
    assert len(combos) == len(table)
    np.testing.assert_allclose(table["ideal_sqnr_db"], [ideal_sqnr_db(b) for b in table["bits"]])


def test_rows_match_compare_exactly(x):
    table = sweep_bits(x, bits=[3, 6], granularities=["per-row", "per-group-32"])
    schemes = [qv.parse_scheme(s) for s in table["scheme"]]
    pd.testing.assert_frame_equal(table[COMPARE_COLUMNS], qv.compare(x, schemes), check_exact=True)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    rows=st.integers(4, 16),
    cols=st.integers(64, 128),
    symmetric=st.booleans(),
)
def test_per_tensor_sqnr_grows_with_bits_on_normal_data(seed, rows, cols, symmetric):
    # A statistical property: with a few hundred values each extra bit adds ~6 dB, far more than
    # the noise; on a handful of values a lucky rounding can break it.
    data = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed))
    table = sweep_bits(data, bits=range(2, 9), granularities=["per-tensor"], symmetric=[symmetric])
    sqnr = table.sort_values("bits")["sqnr_db"].to_numpy()
    assert (np.diff(sqnr) > 0).all()


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        pytest.param((100,), ["per-tensor", "per-group(32)"], id="1-D"),
        pytest.param((3, 3), ["per-tensor", "per-row", "per-column"], id="3x3"),
        pytest.param(
            (64, 256),
            ["per-tensor", "per-row", "per-column", "per-group(32)", "per-group(128)"],
            id="64x256",
        ),
        pytest.param((2, 3, 4), ["per-tensor", "per-row"], id="3-D"),
    ],
)
def test_default_granularities_fit_the_shape(shape, expected):
    grans = default_granularities(shape)
    assert [g.label() for g in grans] == expected
    table = sweep_bits(torch.randn(shape), bits=[4])
    assert list(dict.fromkeys(table["granularity"])) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"bits": []}, "bits is empty", id="no-bits"),
        pytest.param({"bits": [1, 4]}, "from 2 to 16", id="1-bit"),
        pytest.param({"bits": [4.0]}, "from 2 to 16", id="float-bits"),
        pytest.param({"granularities": []}, "granularities is empty", id="no-granularities"),
        pytest.param({"granularities": ["per-banana"]}, "unknown granularity", id="bad-label"),
        pytest.param({"symmetric": []}, "symmetric is empty", id="no-symmetry"),
        pytest.param({"granularities": [qv.PerChannel(2)]}, "out of range", id="dim-too-big"),
    ],
)
def test_bad_arguments_get_a_clear_message(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep_bits(x, **kwargs)


def test_a_single_granularity_and_bit_width_need_no_list(x):
    table = sweep_bits(x, bits=4, granularities="per-row", symmetric=[False])
    assert list(table["scheme"]) == ["int4 asym per-row"]
