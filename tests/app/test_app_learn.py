"""Learn page: the notebook's numbers, computed live, and edits that change them."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv
from quantviz.explain import explain_steps
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import LEARN, QUANTIZE, array, assert_ok, charts, metrics, shown_table

EXAMPLE_T = torch.tensor(EXAMPLE)


def test_shows_the_notebook_numbers(app):
    at = app(LEARN)
    assert_ok(at)
    m = metrics(at)
    assert m["per-tensor MSE"] == "2.509"
    assert m["per-row MSE"] == "1.808"
    assert m["per-column MSE"] == "1.078"
    formulas = " ".join(latex.value for latex in at.latex)
    assert "5.7370" in formulas  # 728.6 / 127
    assert "2.509" in formulas
    assert {"learn_per-tensor_line", "learn_per-row_line", "learn_per-column_line"} <= set(
        charts(at)
    )


def test_every_step_matches_the_core(app):
    at = app(LEARN)
    steps = explain_steps(EXAMPLE_T, qv.QuantScheme(granularity=qv.PerChannel(0)))
    q = shown_table(at, "learn_per-row_q").to_numpy()
    assert torch.equal(torch.tensor(q, dtype=torch.int8), steps.q)
    scales = shown_table(at, "learn_per-row_scales")["scale"].tolist()
    assert scales == steps.scale.reshape(-1).tolist()


def _edit(at, row: int, col: str, value):
    at.session_state["learn_grid"] = {
        "edited_rows": {row: {col: value}},
        "added_rows": [],
        "deleted_rows": [],
    }
    return at.run()


@pytest.mark.parametrize(
    ("typed", "value"),
    [("100", 100.0), ("1e30", 1e30), ("-2.5E-3", -2.5e-3), (" \u22127 ", -7.0)],
    ids=["integer", "scientific", "small-scientific", "typographic-minus"],
)
def test_editing_a_value_recomputes_everything(app, typed, value):
    at = _edit(app(LEARN), 0, "col 3", typed)
    assert_ok(at)
    edited = EXAMPLE_T.clone()
    edited[0, 2] = value
    for name, gran in [("per-tensor", qv.PerTensor()), ("per-column", qv.PerChannel(1))]:
        expected = explain_steps(edited, qv.QuantScheme(granularity=gran)).mse
        assert metrics(at)[f"{name} MSE"] == f"{expected:.4g}"


def test_the_grid_shows_values_as_typed_counted_from_one(app):
    at = app(LEARN)
    grid = at.data_editor(key="learn_grid")
    assert grid.editing_mode == "fixed"
    shown = grid.value
    assert list(shown.columns) == ["col 1", "col 2", "col 3"]
    assert list(shown.index) == ["row 1", "row 2", "row 3"]
    # The float32 example shows as the notebook wrote it, not as 728.5999755859375.
    assert shown.loc["row 1", "col 3"] == "728.6"
    assert shown.loc["row 2", "col 1"] == "92.14"
    blocks = shown_table(at, "learn_per-row_scales")["block"].tolist()
    assert blocks == ["row 1", "row 2", "row 3"]
    assert list(shown_table(at, "learn_per-column_q").columns) == ["col 1", "col 2", "col 3"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (None, "Row 2, column 1 of the grid is empty (1 empty cell(s) in all): type a number"),
        ("  ", "Row 2, column 1 of the grid is empty"),
        ("abc", "'abc' in row 2, column 1 of the grid is not a number."),
        ("1,5", "'1,5' in row 2, column 1 of the grid is not a number."),
        ("nan", "NaN or infinite: row 2, column 1"),
        ("1e39", "too large for float32"),
    ],
    ids=["cleared", "blank", "word", "decimal-comma", "nan", "beyond-float32"],
)
def test_a_bad_cell_is_named_as_the_grid_labels_it(app, typed, message):
    at = _edit(app(LEARN), 1, "col 1", typed)
    assert not at.exception
    assert len(at.error) == 1
    assert message in at.error[0].value
    # The grid has a fixed size: no advice to delete a row.
    assert "delete" not in at.error[0].value


def test_bits_and_mapping_apply_to_all_three(app):
    at = app(LEARN)
    at.selectbox(key="learn_bits").set_value(4).run()
    at.radio(key="learn_sym").set_value("asymmetric").run()
    assert_ok(at)
    scheme = qv.QuantScheme(bits=4, symmetric=False, granularity=qv.PerChannel(0))
    assert metrics(at)["per-row MSE"] == f"{explain_steps(EXAMPLE_T, scheme).mse:.4g}"
    assert "z =" in " ".join(latex.value for latex in at.latex)


def test_reset_restores_the_example(app):
    at = app(LEARN)
    _edit(at, 0, "col 1", "1")
    assert metrics(at)["per-tensor MSE"] != "2.509"
    at.button(key="learn_reset").click().run()
    assert metrics(at)["per-tensor MSE"] == "2.509"


def test_follows_the_shared_scheme_from_the_url(app):
    # The URL says int4 asymmetric: Learn explains int4 asymmetric, not its own 8-bit default.
    at = app(LEARN, query={"scheme": "int4-asym-per-row"})
    assert_ok(at)
    assert at.selectbox(key="learn_bits").value == 4
    assert at.radio(key="learn_sym").value == "asymmetric"
    scheme = qv.QuantScheme(bits=4, symmetric=False, granularity=qv.PerChannel(0))
    assert metrics(at)["per-row MSE"] == f"{explain_steps(EXAMPLE_T, scheme).mse:.4g}"


def test_a_bit_width_chosen_on_learn_carries_to_quantize(app):
    at = app(LEARN)
    at.selectbox(key="learn_bits").set_value(3).run()
    at.switch_page(QUANTIZE).run()
    assert_ok(at)
    assert at.selectbox(key="q_bits").value == 3


def test_per_group_of_two_along_rows_has_the_same_step_tables(app):
    at = app(LEARN)
    assert_ok(at)
    steps = explain_steps(EXAMPLE_T, qv.QuantScheme(granularity=qv.PerGroup(2)))
    assert metrics(at)["per-group MSE"] == f"{steps.mse:.4g}"
    scales = shown_table(at, "learn_per-group_scales")
    assert scales["block"].tolist() == [
        "row 1, cols 1–2",
        "row 1, col 3",
        "row 2, cols 1–2",
        "row 2, col 3",
        "row 3, cols 1–2",
        "row 3, col 3",
    ]
    assert scales["scale"].tolist() == steps.scale.reshape(-1).tolist()
    # 728.6 alone in its group is its own scale's largest value: it lands on 127.
    assert scales["scale"].tolist()[1] == pytest.approx(728.6 / 127)
    for table in ("scaled", "rounded", "q", "dequantized", "error"):
        shown_table(at, f"learn_per-group_{table}")
    q = shown_table(at, "learn_per-group_q").to_numpy()
    assert torch.equal(torch.tensor(q, dtype=torch.int8), steps.q)


def test_per_group_number_line_shows_the_picked_group(app):
    at = app(LEARN)
    line = charts(at)["learn_per-group_line"]
    values = next(t for t in line["data"] if t.get("name") == "real values x")
    assert array(values["x"]).tolist() == pytest.approx([191.6, -13.5])  # row 1, cols 1–2
    at.selectbox(key="learn_per-group_block").set_value(1).run()
    line = charts(at)["learn_per-group_line"]
    values = next(t for t in line["data"] if t.get("name") == "real values x")
    assert array(values["x"]).tolist() == pytest.approx([728.6])  # row 1, col 3
