"""``granularity.effective_note``: a group or tile size that does not fit the tensor is named,
and the granularity it then equals really gives the same result."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.granularity import effective_note, num_blocks


@pytest.mark.parametrize(
    ("shape", "granularity", "note"),
    [
        pytest.param(
            (3, 3),
            qv.PerGroup(10),
            "group size 10 ≥ row length 3: every row is one group (same as per-row)",
            id="group-longer-than-row",
        ),
        pytest.param(
            (3, 3),
            qv.PerBlock(8, 8),
            "8×8 tiles cover the whole 3×3 matrix (same as per-tensor)",
            id="tile-bigger-than-matrix",
        ),
        pytest.param(
            (4, 3),
            qv.PerGroup(4, dim=0),
            "group size 4 ≥ column length 4: every column is one group (same as per-column)",
            id="group-along-columns",
        ),
        pytest.param(
            (10,),
            qv.PerGroup(16),
            "group size 16 ≥ length 10: the whole tensor is one group (same as per-tensor)",
            id="1-D",
        ),
        pytest.param(
            (3, 100),
            qv.PerBlock(8, 8),
            "tile height 8 ≥ 3 rows: each tile is 8 whole columns",
            id="tile-taller-than-matrix",
        ),
        pytest.param(
            (100, 3),
            qv.PerBlock(1, 8),
            "tile width 8 ≥ 3 columns: each tile is 1 whole row (same as per-row)",
            id="one-row-tiles-wider-than-matrix",
        ),
        pytest.param(
            (1, 5),
            qv.PerChannel(0),
            "only 1 row: one scale in all (same as per-tensor)",
            id="per-row-of-one-row",
        ),
    ],
)
def test_sizes_that_do_not_fit_are_named(shape, granularity, note):
    assert effective_note(shape, granularity) == note
    assert effective_note(torch.Size(shape), granularity) == note


@pytest.mark.parametrize(
    ("shape", "granularity"),
    [
        pytest.param((3, 3), qv.PerTensor(), id="per-tensor"),
        pytest.param((3, 3), qv.PerChannel(0), id="per-row"),
        pytest.param((3, 3), qv.PerGroup(2), id="group-fits"),
        pytest.param((64, 64), qv.PerBlock(8, 8), id="tile-fits"),
        pytest.param((5,), qv.PerBlock(8, 8), id="tiles-on-1-D-do-not-apply"),
        pytest.param((5, 5), qv.PerGroup(2, dim=4), id="dim-out-of-range"),
    ],
)
def test_sizes_that_fit_or_do_not_apply_get_no_note(shape, granularity):
    assert effective_note(shape, granularity) is None


SAME_AS = {
    "per-tensor": qv.PerTensor(),
    "per-row": qv.PerChannel(0),
    "per-column": qv.PerChannel(1),
}
granularities = st.one_of(
    st.builds(qv.PerGroup, st.integers(1, 12), st.sampled_from([0, 1, -1])),
    st.builds(qv.PerBlock, st.integers(1, 12), st.integers(1, 12)),
    st.builds(qv.PerChannel, st.sampled_from([0, 1])),
)


@settings(max_examples=150, deadline=None)
@given(rows=st.integers(1, 8), cols=st.integers(1, 8), granularity=granularities)
def test_same_as_is_true(rows, cols, granularity):
    x = torch.randn(rows, cols, generator=torch.Generator().manual_seed(rows * 10 + cols))
    note = effective_note((rows, cols), granularity)
    res = qv.quantize(x, qv.QuantScheme(bits=4, granularity=granularity))
    if note is None:
        return
    found = re.search(r"\(same as (per-\w+)\)", note)
    if found:
        twin = qv.quantize(x, qv.QuantScheme(bits=4, granularity=SAME_AS[found[1]]))
        torch.testing.assert_close(res.dequantize(), twin.dequantize(), rtol=0, atol=0)
        assert res.num_scales == twin.num_scales


@settings(max_examples=150, deadline=None)
@given(rows=st.integers(1, 8), cols=st.integers(1, 8), granularity=granularities)
def test_a_note_appears_exactly_when_the_size_does_not_fit(rows, cols, granularity):
    # Silence means the size fits: a group shorter than its line, a tile smaller both ways.
    note = effective_note((rows, cols), granularity)
    if isinstance(granularity, qv.PerGroup):
        length = cols if granularity.dim % 2 == 1 else rows
        assert (note is None) == (granularity.group_size < length)
        if note is not None:  # one group per line: as many scales as lines, not length / size
            assert num_blocks((rows, cols), granularity) == rows * cols // length
    elif isinstance(granularity, qv.PerBlock):
        fits = granularity.rows < rows and granularity.cols < cols
        assert (note is None) == fits
    else:
        assert (note is None) == ((rows, cols)[granularity.dim] > 1)
