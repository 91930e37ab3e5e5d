"""Home page, the grid editor: cells typed as text, rows added and removed, bad cells named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quantviz.ui.session import EXAMPLE
from tests.app._helpers import (
    assert_ok,
    current_tensor,
)

EXAMPLE_T = torch.tensor(EXAMPLE)


def _edit_grid(at, edits: dict):
    at.radio(key="home_mode").set_value("Edit grid").run()
    at.session_state["grid_editor"] = {
        "edited_rows": {},
        "added_rows": [],
        "deleted_rows": [],
        **edits,
    }
    at.run()
    return at.button(key="grid_apply").click().run()


def test_grid_edits_and_added_rows_become_the_tensor(app):
    at = app()
    at.radio(key="home_mode").set_value("Edit grid").run()
    assert at.data_editor(key="grid_editor").editing_mode == "dynamic"
    at = _edit_grid(
        at,
        {
            "edited_rows": {0: {"col 1": "5e2"}},
            "added_rows": [{"col 1": "1", "col 2": "-2.5E-3", "col 3": "1e30"}],
            "deleted_rows": [2],
        },
    )
    assert_ok(at)
    expected = torch.cat([EXAMPLE_T[:2], torch.tensor([[1.0, -2.5e-3, 1e30]])])
    expected[0, 0] = 500.0  # '5e2' keeps its exponent (a number editor read 52)
    assert torch.equal(current_tensor(at).tensor, expected)
    assert current_tensor(at).source == "grid"


def test_grid_shows_values_as_typed_counted_from_one(app):
    at = app()
    at.radio(key="home_mode").set_value("Edit grid").run()
    shown = at.data_editor(key="grid_editor").value
    assert list(shown.columns) == ["col 1", "col 2", "col 3"]
    assert list(shown.index) == [1, 2, 3]
    assert shown.loc[1, "col 3"] == "728.6"  # not float32's 728.5999755859375
    assert shown.loc[2, "col 1"] == "92.14"


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        pytest.param(
            {"added_rows": [{"col 1": "1"}]},
            "Row 4, column 2 of the grid is empty (2 empty cell(s) in all): type a number "
            "there, or delete the row.",
            id="added-row-half-filled",
        ),
        pytest.param(
            {"edited_rows": {2: {"col 2": "x"}}, "deleted_rows": [1]},
            "'x' in row 3, column 2 of the grid is not a number.",
            id="named-by-its-label-after-a-deletion",
        ),
    ],
)
def test_grid_with_a_bad_cell_is_refused(app, edits, message):
    at = _edit_grid(app(), edits)
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith(message)
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)


def test_grid_columns_can_be_added(app):
    at = app()
    at.radio(key="home_mode").set_value("Edit grid").run()
    at.number_input(key="grid_cols").set_value(5).run()
    assert_ok(at)
    table = at.data_editor(key="grid_editor").value
    assert table.shape == (3, 5)
    assert list(table.columns) == ["col 1", "col 2", "col 3", "col 4", "col 5"]
    assert np.allclose(table.iloc[:, :3].to_numpy(dtype=float), EXAMPLE_T.numpy())
    assert (table.iloc[:, 3:] == "0").all().all()
