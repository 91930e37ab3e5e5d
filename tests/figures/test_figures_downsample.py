"""display_matrix: the 2-D view, max-|x| pooling, and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from quantviz.figures import DEFAULT_MAX_CELLS, display_matrix
from quantviz.figures.downsample import gather_like

SETTINGS = settings(max_examples=120, deadline=None)


def test_spike_in_big_normal_matrix_survives_with_its_sign_and_position():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 4096, generator=gen)
    x[1234, 2345] = -1e3
    dm = display_matrix(x)
    assert dm.values.shape == DEFAULT_MAX_CELLS
    assert dm.downsampled
    assert dm.values.min() == -1e3  # sign kept: pooling by |x| but showing the signed value
    r, c = np.unravel_index(int(dm.values.argmin()), dm.values.shape)
    assert (dm.source_rows[r, c], dm.source_cols[r, c]) == (1234, 2345)
    assert (r, c) == (1234 // dm.row_step, 2345 // dm.col_step)
    assert "4096×4096 → 128×128" in dm.note
    assert "max-|x|" in dm.note


def test_small_matrix_is_shown_as_is():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    dm = display_matrix(x)
    assert not dm.downsampled
    assert (dm.row_step, dm.col_step) == (1, 1)
    np.testing.assert_array_equal(dm.values, x.numpy())
    assert dm.note == ""
    assert dm.original_shape == (3, 4)


@pytest.mark.parametrize(
    ("shape", "matrix_shape", "note_part"),
    [
        pytest.param((5,), (1, 5), "one row", id="1-D"),
        pytest.param((2, 3, 4), (2, 12), "2×3×4 tensor shown as 2×12", id="3-D"),
        pytest.param((2, 3, 4, 5), (2, 60), "shown as 2×60", id="4-D"),
    ],
)
def test_tensors_become_matrices_and_say_how(shape, matrix_shape, note_part):
    x = torch.randn(shape)
    dm = display_matrix(x)
    assert dm.matrix_shape == matrix_shape
    assert dm.values.shape == matrix_shape
    assert note_part in dm.note
    np.testing.assert_array_equal(dm.values, x.reshape(matrix_shape).numpy())


def test_integer_and_bool_tensors_are_displayed_as_numbers():
    q = torch.tensor([[-128, 127], [0, 5]], dtype=torch.int8)
    np.testing.assert_array_equal(display_matrix(q).values, [[-128, 127], [0, 5]])
    b = torch.tensor([True, False])
    np.testing.assert_array_equal(display_matrix(b).values, [[1.0, 0.0]])


def test_numpy_arrays_are_accepted():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.testing.assert_array_equal(display_matrix(a).values, a)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(torch.tensor(3.0), "1 to 4 dims", id="0-d"),
        pytest.param(torch.zeros(1, 1, 1, 1, 2), "1 to 4 dims", id="5-D"),
        pytest.param(torch.zeros(0, 3), "empty", id="empty"),
        pytest.param(torch.zeros(2, dtype=torch.complex64), "complex", id="complex"),
        pytest.param([[1.0, 2.0]], "torch.Tensor", id="list"),
    ],
)
def test_bad_input_gets_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        display_matrix(bad)


@pytest.mark.parametrize(
    "max_cells",
    [
        pytest.param((0, 5), id="zero"),
        pytest.param((2,), id="one-number"),
        pytest.param("8", id="str"),
    ],
)
def test_bad_max_cells_is_refused(max_cells):
    with pytest.raises(ValueError, match="max_cells"):
        display_matrix(torch.zeros(4, 4), max_cells)


def test_an_int_max_cells_bounds_both_axes():
    assert display_matrix(torch.randn(50, 70), 8).values.shape == (8, 8)


def test_nan_loses_to_numbers_and_infinity_wins():
    x = torch.tensor([[math.nan, 0.5, -2.0, math.nan], [-1.0, math.nan, math.inf, math.nan]])
    dm = display_matrix(x, (1, 2))  # two 2×2 windows
    assert dm.values[0, 0] == -1.0
    assert dm.values[0, 1] == math.inf
    all_nan = display_matrix(torch.full((4, 4), math.nan), (2, 2))
    assert np.isnan(all_nan.values).all()


@st.composite
def matrices(draw):
    rows = draw(st.integers(1, 300))
    cols = draw(st.integers(1, 300))
    max_cells = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(rows, cols, generator=gen) * 10 ** draw(st.integers(-3, 3))
    if draw(st.booleans()):  # a spike somewhere, sometimes in a partial edge window
        x[draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))] = draw(
            st.sampled_from([-1e6, 1e6])
        )
    return x, max_cells


@SETTINGS
@given(matrices())
def test_pooling_invariants(case):
    x, max_cells = case
    dm = display_matrix(x, max_cells)
    # Bounded by max_cells, and no larger than needed to cover the matrix.
    assert dm.values.shape[0] <= max_cells[0]
    assert dm.values.shape[1] <= max_cells[1]
    assert dm.values.shape[0] * dm.row_step >= x.shape[0]
    assert dm.values.shape[1] * dm.col_step >= x.shape[1]
    # Outliers survive: the largest magnitude is shown, with its sign.
    assert np.abs(dm.values).max() == float(x.abs().max())
    # Partial windows never pull in padding: every value is finite and a real element of x.
    assert np.isfinite(dm.values).all()
    rows = torch.from_numpy(dm.source_rows.astype(np.int64))
    cols = torch.from_numpy(dm.source_cols.astype(np.int64))
    np.testing.assert_array_equal(dm.values, x[rows, cols].numpy())
    # Each shown element lies in its own window and is that window's largest |x|.
    r_idx = np.arange(dm.values.shape[0])[:, None]
    c_idx = np.arange(dm.values.shape[1])[None, :]
    assert (dm.source_rows // dm.row_step == r_idx).all()
    assert (dm.source_cols // dm.col_step == c_idx).all()
    for r, c in [(0, 0), (dm.values.shape[0] - 1, dm.values.shape[1] - 1)]:
        window = x[r * dm.row_step : (r + 1) * dm.row_step, c * dm.col_step : (c + 1) * dm.col_step]
        assert abs(dm.values[r, c]) == float(window.abs().max())


@SETTINGS
@given(matrices())
def test_gather_like_reads_the_same_positions(case):
    x, max_cells = case
    dm = display_matrix(x, max_cells)
    np.testing.assert_array_equal(gather_like(-x, dm), -dm.values)


def test_gather_like_refuses_a_different_shape():
    dm = display_matrix(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="shape mismatch"):
        gather_like(torch.zeros(4, 5), dm)
