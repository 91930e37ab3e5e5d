"""Property tests of the number formats (hypothesis): codes always representable, representable
inputs round-trip exactly, error within half a grid step, finer blocks never worse on absmax."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz import formats as F

GRID_FORMATS = ["fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "nf4"]
SCALE_FORMATS = ["fp32", "fp16", "bf16", "fp8_e4m3", "e8m0"]

floats = st.floats(min_value=-1e6, max_value=1e6, width=32)
fmt = st.sampled_from(GRID_FORMATS)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(floats, min_size=1, max_size=64), name=fmt)
def test_codes_are_always_representable(values, name) -> None:
    y = torch.tensor(values, dtype=torch.float32)
    codes, rounded = F.encode_elements(y, name)
    grid = F.element_grid(name)
    assert bool(torch.isin(rounded, grid).all())
    assert torch.equal(F.decode_elements(codes, name), rounded)
    assert bool(torch.isfinite(rounded).all())


@settings(max_examples=40, deadline=None)
@given(name=fmt, data=st.data())
def test_representable_inputs_round_trip_exactly(name, data) -> None:
    grid = F.element_grid(name)
    idx = data.draw(st.lists(st.integers(0, grid.numel() - 1), min_size=1, max_size=32))
    y = grid[torch.tensor(idx)]
    codes, rounded = F.encode_elements(y, name)
    assert torch.equal(rounded, y)
    assert torch.equal(F.decode_elements(codes, name), y)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(floats, min_size=1, max_size=64), name=fmt)
def test_error_within_half_a_grid_step(values, name) -> None:
    """Inside the grid's range every value lands on a neighbour: |y - round(y)| ≤ half the gap
    between the two grid values around y; beyond the max it saturates at the max."""
    grid = F.element_grid(name).to(torch.float64)
    y = torch.tensor(values, dtype=torch.float32)
    rounded = F.round_elements(y.clone(), name).to(torch.float64)
    y64 = y.to(torch.float64)
    inside = y64.abs() <= grid[-1]
    hi = torch.searchsorted(grid, y64.clamp(grid[0], grid[-1])).clamp(1, grid.numel() - 1)
    gap = grid[hi] - grid[hi - 1]
    assert bool(((y64 - rounded).abs() <= gap / 2 + 1e-12)[inside].all())
    assert torch.equal(rounded[~inside], grid[-1] * y64[~inside].sign())


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=2.0**-100, max_value=2.0**100, width=32),
        min_size=1,
        max_size=32,
    ),
    scale_format=st.sampled_from(SCALE_FORMATS),
)
def test_round_scale_is_positive_finite_and_idempotent(values, scale_format) -> None:
    s = F.round_scale(torch.tensor(values), scale_format)
    assert bool((torch.isfinite(s) & (s > 0)).all())
    assert torch.equal(F.round_scale(s, scale_format), s)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(
        ["fp8_e4m3", "fp4_e2m1", "nf4", "fp6_e2m3", "int4-fp16", "int8-bf16", "int4-full"]
    ),
    seed=st.integers(0, 2**16),
    scale=st.floats(min_value=1e-3, max_value=1e3),
)
def test_finer_blocks_never_worse_on_absmax(name, seed, scale) -> None:
    """With absmax scales, splitting a block in two never raises any element's error bound: the
    per-group(16) max error is at most the per-group(32) one (both with fp32 scales; for the
    rounded scale formats, within the extra error the scale rounding can add)."""
    x = torch.randn(8, 64, generator=torch.Generator().manual_seed(seed)) * scale

    def scheme(group: int) -> qv.QuantScheme:
        if name.startswith("int"):
            slug = {
                "int4-fp16": "int4-sym-per-group-{}-fp16",
                "int8-bf16": "int8-sym-per-group-{}-bf16",
            }
            slug["int4-full"] = "int4-sym-per-group-{}-full"
            return qv.parse_scheme(slug[name].format(group))
        return qv.QuantScheme(element_format=name, granularity=qv.PerGroup(group))

    fine = qv.quantization_error(x, qv.quantize(x, scheme(16)))
    coarse = qv.quantization_error(x, qv.quantize(x, scheme(32)))
    assert fine["mse"] <= coarse["mse"] * 1.02 + 1e-30
