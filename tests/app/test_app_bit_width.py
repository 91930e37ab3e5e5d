"""Bit-width page: the sweep chart and its numbers."""

from __future__ import annotations

import pytest
import torch

from quantviz.sweep import sweep_bits
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import BIT_WIDTH, array, assert_ok, charts, shown_table

EXAMPLE_T = torch.tensor(EXAMPLE)


def test_chart_has_a_line_per_granularity_and_mapping_plus_the_ideal(app):
    at = app(BIT_WIDTH)
    assert_ok(at)
    fig = charts(at)["bw_chart"]
    names = [t.get("name", "") for t in fig["data"]]
    assert sum("ideal" in n for n in names) == 1
    lines = [t for t in fig["data"] if " · " in t.get("name", "")]
    assert len(lines) == 3 * 2  # per-tensor, per-row, per-column × sym, asym
    # Besides them: the ideal line, the number formats as points and the Pareto front.
    assert len(fig["data"]) == len(lines) + 3


def test_numbers_match_the_core_sweep(app):
    at = app(BIT_WIDTH)
    table = shown_table(at, "bw_table")
    expected = sweep_bits(EXAMPLE_T, granularities=["per-tensor", "per-row", "per-column"])
    assert len(table) == len(expected) == 3 * 2 * 7
    assert table["SQNR (dB)"].tolist() == pytest.approx(expected["sqnr_db"].tolist())
    # Readable headers, never the core's column names.
    assert not [c for c in table.columns if "_" in c]
    assert set(table["Mapping"]) == {"symmetric", "asymmetric"}


@pytest.mark.parametrize("metric", ["mse", "max_abs_error"], ids=["mse", "max-error"])
def test_metric_choice_changes_the_y_values(app, metric):
    at = app(BIT_WIDTH)
    at.selectbox(key="bw_metric").set_value(metric).run()
    assert_ok(at)
    expected = sweep_bits(EXAMPLE_T, granularities=["per-tensor"], symmetric=(True,))
    first = next(t for t in charts(at)["bw_chart"]["data"] if " · " in t.get("name", ""))
    assert array(first["y"]).tolist() == pytest.approx(expected[metric].tolist())


def test_choosing_nothing_explains_instead_of_failing(app):
    at = app(BIT_WIDTH)
    at.multiselect(key="bw_sym").set_value([]).run()
    assert not at.exception
    assert [i.value for i in at.info] == ["Pick at least one granularity and one mapping."]
    assert "bw_chart" not in charts(at)
