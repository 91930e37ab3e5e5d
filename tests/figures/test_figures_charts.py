"""compare_bar and tradeoff_chart: bars and lines carry the table's numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.figures import compare_bar, tradeoff_chart
from quantviz.figures._style import ACCENT, HIGHLIGHT
from quantviz.figures.charts import pareto_front
from quantviz.sweep import sweep_bits
from tests.helpers import notebook_tensor

SCHEMES = ["int8-sym-per-tensor", "int8-sym-per-row", "int8-sym-per-column", "int4-sym-per-tensor"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return qv.compare(notebook_tensor(), [qv.parse_scheme(s) for s in SCHEMES])


@pytest.mark.parametrize(
    ("metric", "pick"),
    [
        pytest.param("mse", np.argmin, id="mse-lowest"),
        pytest.param("max_abs_error", np.argmin, id="max-error-lowest"),
        pytest.param("sqnr_db", np.argmax, id="sqnr-highest"),
    ],
)
def test_bars_carry_the_metric_and_highlight_the_best(table, metric, pick):
    bar = compare_bar(table, metric).data[0]
    np.testing.assert_array_equal(bar.x, table[metric].to_numpy())
    assert list(bar.y) == list(table["scheme"])
    best = int(pick(table[metric].to_numpy()))
    colours = list(bar.marker.color)
    assert colours[best] == HIGHLIGHT
    assert colours.count(HIGHLIGHT) == 1
    assert set(colours) == {HIGHLIGHT, ACCENT}
    assert all(text for text in bar.text)  # every bar labelled


def test_log_scale_is_automatic_for_wide_ranges_and_can_be_forced(table):
    spread = table["mse"].max() / table["mse"].min()
    assert spread > 100  # int4 per-tensor vs int8 per-column on the notebook matrix
    assert compare_bar(table, "mse").layout.xaxis.type == "log"
    assert compare_bar(table, "mse", log_scale=False).layout.xaxis.type == "linear"
    assert compare_bar(table, "sqnr_db").layout.xaxis.type == "linear"


def test_perfect_reconstruction_is_labelled_infinite():
    x = torch.tensor([[1.0, -1.0], [0.0, 1.0]])
    table = qv.compare(
        x, [qv.parse_scheme("int8-sym-per-tensor"), qv.parse_scheme("int2-sym-per-tensor")]
    )
    assert math.isinf(table["sqnr_db"].iloc[0])
    bar = compare_bar(table, "sqnr_db").data[0]
    assert bar.text[0] == "∞"
    assert bar.marker.color[0] == HIGHLIGHT


def test_repeated_scheme_labels_keep_separate_bars(table):
    doubled = pd.concat([table, table], ignore_index=True)
    bar = compare_bar(doubled).data[0]
    assert len(set(bar.y)) == len(doubled)


@pytest.mark.parametrize(
    ("table_arg", "metric", "message"),
    [
        pytest.param("table", "accuracy", "no column 'accuracy'", id="unknown-metric"),
        pytest.param("table", "scheme", "not a numeric column", id="text-metric"),
        pytest.param("empty", "mse", "empty", id="empty"),
        pytest.param("dict", "mse", "DataFrame", id="not-a-frame"),
    ],
)
def test_compare_bar_refuses_bad_tables(table, table_arg, metric, message):
    arg = {"table": table, "empty": table.iloc[0:0], "dict": {"mse": [1.0]}}[table_arg]
    with pytest.raises(ValueError, match=message):
        compare_bar(arg, metric)


@pytest.fixture(scope="module")
def sweep() -> pd.DataFrame:
    x = torch.randn(16, 128, generator=torch.Generator().manual_seed(0))
    return sweep_bits(x, bits=[2, 4, 8], granularities=["per-tensor", "per-row", "per-group-32"])


def test_tradeoff_has_a_line_per_granularity_and_symmetry_plus_the_ideal(sweep):
    fig = tradeoff_chart(sweep)
    lines = [t for t in fig.data if " · " in t.name]
    assert len(lines) == 3 * 2
    for trace in lines:
        gran, sym = trace.name.split(" · ")
        part = sweep[(sweep["granularity"] == gran) & (sweep["symmetric"] == (sym == "sym"))]
        part = part.sort_values("bits_per_element")
        np.testing.assert_allclose(trace.x, part["bits_per_element"])
        np.testing.assert_allclose(trace.y, part["sqnr_db"])
        assert trace.line.dash == ("solid" if sym == "sym" else "dash")
    # Same granularity, same colour: only the dash tells symmetric from asymmetric.
    by_gran = {}
    for trace in lines:
        by_gran.setdefault(trace.legendgroup, set()).add(trace.line.color)
    assert all(len(c) == 1 for c in by_gran.values())
    (ideal,) = [t for t in fig.data if t.name.startswith("ideal")]
    np.testing.assert_allclose(ideal.x, [2, 4, 8])
    np.testing.assert_allclose(ideal.y, [6.02 * b + 1.76 for b in (2, 4, 8)])


def test_tradeoff_of_an_error_metric_uses_a_log_axis_and_no_ideal_line(sweep):
    fig = tradeoff_chart(sweep, metric="mse")
    assert fig.layout.yaxis.type == "log"
    assert not [t for t in fig.data if t.name.startswith("ideal")]


def test_tradeoff_leaves_out_infinite_points_and_says_so():
    x = torch.tensor([[1.0, -1.0, 0.0, 1.0]])
    sweep = sweep_bits(x, bits=[2, 8], granularities=["per-tensor"], symmetric=[True])
    assert np.isinf(sweep["sqnr_db"]).all()
    fig = tradeoff_chart(sweep)
    assert all(len(t.x) == 0 for t in fig.data if " · " in t.name)
    assert "2 perfect" in fig.layout.title.subtitle.text


def test_tradeoff_draws_the_pareto_front_of_the_sweep(sweep):
    assert not [t for t in tradeoff_chart(sweep).data if t.name.startswith("best")]
    fig = tradeoff_chart(sweep, pareto=True)
    (front,) = [t for t in fig.data if t.name.startswith("best for its size")]
    idx = pareto_front(sweep["bits_per_element"].to_numpy(), sweep["sqnr_db"].to_numpy(), True)
    np.testing.assert_allclose(front.y, sweep["sqnr_db"].to_numpy()[idx])
    assert list(front.text) == list(sweep["scheme"].iloc[idx])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.one_of(st.integers(-5, 5), st.just(math.inf))),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_pareto_front_keeps_exactly_the_undominated_points(points, higher):
    cost = np.array([p[0] for p in points], dtype=float)
    quality = np.array([p[1] for p in points], dtype=float)
    good = quality if higher else -quality  # larger is better from here on
    finite = np.isfinite(quality)

    def dominated(i: int) -> bool:
        return any(
            finite[j]
            and cost[j] <= cost[i]
            and good[j] >= good[i]
            and (cost[j] < cost[i] or good[j] > good[i])
            for j in range(len(points))
        )

    front = pareto_front(cost, quality, higher).tolist()
    keep = [i for i in range(len(points)) if finite[i] and not dominated(i)]
    undominated = {(cost[i], quality[i]) for i in keep}
    # Exactly one front point per undominated (cost, quality) pair, sorted by cost.
    assert {(cost[i], quality[i]) for i in front} == undominated
    assert len(front) == len(undominated)
    assert list(cost[front]) == sorted(cost[front])


def test_tradeoff_refuses_a_table_without_sweep_columns(sweep):
    with pytest.raises(ValueError, match="bits_per_element"):
        tradeoff_chart(sweep.drop(columns=["bits_per_element"]))
