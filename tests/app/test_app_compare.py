"""Compare page: the table of granularities, its highlighting, the charts and the CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch

import quantviz as qv
from quantviz.ui.compare_view import block_choices, comparison_granularities, group_choices
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import COMPARE, assert_ok, charts, keyed, shown_table

EXAMPLE_T = torch.tensor(EXAMPLE)


def test_table_lists_every_granularity_with_core_numbers(app):
    at = app(COMPARE)
    assert_ok(at)
    table = shown_table(at, "cmp_table")
    expected = qv.compare(
        EXAMPLE_T,
        [qv.QuantScheme(granularity=g) for g in comparison_granularities((3, 3), [2], ["2x2"])],
    )
    assert list(table["Granularity"]) == list(expected["granularity"])
    assert list(table["Granularity"]) == [
        "per-tensor",
        "per-row",
        "per-column",
        "per-group(2)",
        "per-block(2x2)",
    ]
    assert table["MSE"].tolist() == pytest.approx(expected["mse"].tolist())
    assert table["Scales stored"].tolist() == expected["num_scales"].tolist()
    assert set(charts(at)) == {"cmp_bar", "cmp_error_maps"}


def test_best_values_are_highlighted(app):
    at = app(COMPARE)
    styles = keyed(at, "cmp_table").dataframe[0].proto.arrow_data.styler.styles
    # The styler's CSS carries the highlight of the best cells.
    assert "font-weight: 700" in styles


def test_csv_download_holds_the_full_table(app):
    at = app(COMPARE)
    button = at.download_button(key="cmp_csv")
    assert button.label == "Download table (.csv)"
    # The same bytes the button serves, from the same core call.
    table = qv.compare(
        EXAMPLE_T,
        [qv.QuantScheme(granularity=g) for g in comparison_granularities((3, 3), [2], ["2x2"])],
    )
    back = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    assert list(back.columns) == list(qv.compare(EXAMPLE_T, [qv.QuantScheme()]).columns)


def test_bits_and_mapping_change_every_row(app):
    at = app(COMPARE)
    at.selectbox(key="cmp_bits").set_value(4).run()
    at.radio(key="cmp_sym").set_value("asymmetric").run()
    assert_ok(at)
    table = shown_table(at, "cmp_table")
    per_tensor = qv.QuantScheme(bits=4, symmetric=False)
    expected = qv.error_metrics(EXAMPLE_T, qv.quantize(EXAMPLE_T, per_tensor).dequantize())
    assert table["MSE"].iloc[0] == pytest.approx(expected["mse"])
    assert at.query_params["scheme"].startswith("int4-asym")


def test_group_and_tile_choices_follow_the_tensor(app):
    query = {"src": "gen", "kind": "normal", "shape": "64x256", "seed": "0"}
    at = app(COMPARE, query=query)
    assert_ok(at)
    assert at.multiselect(key="cmp_groups").options == [str(g) for g in group_choices((64, 256))]
    assert at.multiselect(key="cmp_groups").value == [32, 64, 128]
    assert at.multiselect(key="cmp_blocks").options == block_choices((64, 256))
    at.multiselect(key="cmp_groups").set_value([16]).run()
    at.multiselect(key="cmp_blocks").set_value([]).run()
    assert list(shown_table(at, "cmp_table")["Granularity"]) == [
        "per-tensor",
        "per-row",
        "per-column",
        "per-group(16)",
    ]


def test_one_dimensional_tensor_skips_rows_columns_and_tiles(app):
    at = app()
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value("[1.0, -2.0, 3.5, 0.25, 8.0]").run()
    at.button(key="text_apply").click().run()
    at.switch_page(COMPARE).run()
    assert_ok(at)
    assert list(shown_table(at, "cmp_table")["Granularity"]) == [
        "per-tensor",
        "per-group(2)",
        "per-group(4)",
    ]
    assert not [w for w in at.multiselect if w.key == "cmp_blocks"]
