"""Learn page: the notebook's numbers, computed live, and edits that change them."""

from __future__ import annotations

import torch

import quantviz as qv
from quantviz.explain import explain_steps
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import LEARN, assert_ok, charts, metrics, shown_table

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


def test_editing_a_value_recomputes_everything(app):
    at = app(LEARN)
    at.session_state["learn_grid"] = {
        "edited_rows": {0: {"col 2": 100.0}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert_ok(at)
    edited = EXAMPLE_T.clone()
    edited[0, 2] = 100.0
    for name, gran in [("per-tensor", qv.PerTensor()), ("per-column", qv.PerChannel(1))]:
        expected = explain_steps(edited, qv.QuantScheme(granularity=gran)).mse
        assert metrics(at)[f"{name} MSE"] == f"{expected:.4g}"


def test_empty_cell_names_the_cell(app):
    at = app(LEARN)
    at.session_state["learn_grid"] = {
        "edited_rows": {1: {"col 0": None}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert "Row 2, column 1" in at.error[0].value


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
    at.session_state["learn_grid"] = {
        "edited_rows": {0: {"col 0": 1.0}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="learn_reset").click().run()
    assert metrics(at)["per-tensor MSE"] == "2.509"
