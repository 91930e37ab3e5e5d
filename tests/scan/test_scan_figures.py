"""Per-layer figures of a scan (quantviz.figures.model)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantviz.figures.model import (
    MAX_NAMED_TICKS,
    layer_scheme_heatmap,
    nice_step,
    pool_rows,
    sqnr_by_layer,
)
from quantviz.metrics import ideal_sqnr_db
from quantviz.scan import SCAN_COLUMNS

LABELS = ["int8 sym per-tensor", "int4 sym per-group(128)"]


def fake_scan(n_layers: int, seed: int = 0) -> pd.DataFrame:
    """A scan table with known values: SQNR falls then rises, one layer is exact (∞ dB)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_layers):
        for bits, label in zip((8, 4), LABELS, strict=True):
            sqnr = 40.0 + rng.normal(0, 3) - (24 if bits == 4 else 0)
            rows.append(
                {
                    "name": f"layers.{i}.w",
                    "shape": "8x8",
                    "dtype": "float32",
                    "params": 64,
                    "scheme": label,
                    "bits": bits,
                    "sqnr_db": sqnr,
                    "mse": 10 ** (-sqnr / 10),
                    "rel_error": 10 ** (-sqnr / 20),
                    "layer": i,
                }
            )
    table = pd.DataFrame(rows).reindex(columns=SCAN_COLUMNS)
    table.attrs["schemes"] = LABELS
    return table


def test_sqnr_chart_has_one_line_per_scheme_in_model_order() -> None:
    table = fake_scan(12)
    table.loc[(table["name"] == "layers.3.w") & (table["bits"] == 8), "sqnr_db"] = math.inf
    fig = sqnr_by_layer(table)
    assert [t.name for t in fig.data] == LABELS
    for trace, label in zip(fig.data, LABELS, strict=True):
        want = table[table["scheme"] == label].sort_values("layer")["sqnr_db"].tolist()
        assert list(trace.x) == list(range(12))
        got = [math.inf if v is None else v for v in trace.y]
        assert got == pytest.approx(want)
    assert "1 exact reconstruction" in fig.layout.title.subtitle.text
    ideals = sorted(s.y0 for s in fig.layout.shapes)
    assert ideals == pytest.approx([ideal_sqnr_db(4), ideal_sqnr_db(8)])


def test_a_long_model_is_pooled_and_keeps_its_worst_layer() -> None:
    table = fake_scan(3000)
    worst = table.loc[table["scheme"] == LABELS[0], "sqnr_db"].idxmin()
    fig = sqnr_by_layer(table, max_layers=100)
    assert len(fig.data[0].x) == 100
    assert min(fig.data[0].y) == table.loc[worst, "sqnr_db"]
    assert "worst of its neighbours" in fig.layout.title.subtitle.text
    assert len(fig.to_json()) < 200_000


def test_heatmap_is_layers_by_schemes_with_names_and_values() -> None:
    table = fake_scan(5)
    fig = layer_scheme_heatmap(table, "sqnr_db")
    (heat,) = fig.data
    assert list(heat.x) == LABELS
    assert list(heat.y) == [f"layers.{i}.w" for i in range(5)]
    z = np.asarray(heat.z, dtype=float)
    want = table.pivot(index="name", columns="scheme", values="sqnr_db").loc[list(heat.y), LABELS]
    np.testing.assert_allclose(z, want.to_numpy())
    assert heat.colorscale[0][1] != layer_scheme_heatmap(table, "mse").data[0].colorscale[0][1]


@pytest.mark.parametrize("n_layers", [1, 2, 40], ids=["1-layer", "2-layers", "40-layers"])
@pytest.mark.parametrize("pooled", [False, True], ids=["exact", "pooled-note"])
def test_heatmap_leaves_room_for_scheme_names_and_a_readable_colour_bar(
    n_layers: int, pooled: bool
) -> None:
    fig = layer_scheme_heatmap(fake_scan(n_layers), "sqnr_db", max_rows=20 if pooled else 120)
    margin = fig.layout.margin
    title_band = 90 if fig.layout.title.subtitle.text else 60
    assert margin.t >= title_band + 30  # the scheme names get their own band under the title
    assert fig.layout.height - margin.t - margin.b >= 150  # the colour bar is the plot's length


@pytest.mark.parametrize(
    ("metric", "reduce"), [("sqnr_db", np.min), ("mse", np.max)], ids=["sqnr-min", "mse-max"]
)
def test_pooled_heatmap_keeps_the_worst_value_of_each_run(metric: str, reduce) -> None:
    table = fake_scan(500)
    fig = layer_scheme_heatmap(table, metric, max_rows=50)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (50, 2)
    full = table.pivot(index="layer", columns="scheme", values=metric)[LABELS].to_numpy()
    np.testing.assert_allclose(
        z.min(axis=0) if reduce is np.min else z.max(axis=0), reduce(full, axis=0)
    )
    assert "(10 layers)" in fig.data[0].y[0]


def test_pool_rows_spans_cover_every_layer_once() -> None:
    values = np.arange(23, dtype=float)[:, None]
    pooled, spans = pool_rows(values, 5)
    assert spans[0][0] == 0
    assert spans[-1][1] == 22
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(spans))
    assert pooled[:, 0].tolist() == [a for a, _ in spans]  # the minimum of a rising run


@pytest.mark.parametrize(
    ("table", "metric", "message"),
    [
        (fake_scan(0), "sqnr_db", "empty"),
        (fake_scan(3), "bogus", "metric"),
        ("not a table", "sqnr_db", "DataFrame"),
    ],
    ids=["empty", "unknown-metric", "not-a-frame"],
)
def test_bad_input_is_a_clear_error(table, metric: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        layer_scheme_heatmap(table, metric)


def tick_positions(axis, n_layers: int) -> list[float]:
    """Where the x axis puts its ticks over layers 0 … n_layers-1, as plotly would draw them."""
    if axis.tickmode == "array":
        return list(axis.tickvals)
    assert axis.tickmode == "linear"
    return list(np.arange(axis.tick0, n_layers, axis.dtick))


@pytest.mark.parametrize(
    "n_layers", [1, 2, MAX_NAMED_TICKS, MAX_NAMED_TICKS + 1, 50, 3000], ids=lambda n: f"{n}-layers"
)
def test_sqnr_chart_ticks_only_whole_layers(n_layers: int) -> None:
    axis = sqnr_by_layer(fake_scan(n_layers), max_layers=100).layout.xaxis
    ticks = tick_positions(axis, n_layers)
    assert ticks, "the axis must be ticked explicitly, not left to plotly's fractional steps"
    assert all(float(t).is_integer() for t in ticks)
    assert ticks[0] == 0
    assert 1 <= len(ticks) <= min(n_layers, MAX_NAMED_TICKS)  # readable, not one per layer


def test_a_few_short_layer_names_label_the_ticks() -> None:
    axis = sqnr_by_layer(fake_scan(2)).layout.xaxis
    assert list(axis.tickvals) == [0, 1]
    assert list(axis.ticktext) == ["layers.0.w", "layers.1.w"]


def test_long_layer_names_stay_in_the_hover_and_the_ticks_are_numbers() -> None:
    table = fake_scan(4)
    table["name"] = "model.decoder.layers." + table["name"] + ".self_attn.q_proj.weight"
    fig = sqnr_by_layer(table)
    assert list(fig.layout.xaxis.ticktext) == ["0", "1", "2", "3"]
    assert fig.data[0].customdata[2] == "model.decoder.layers.layers.2.w.self_attn.q_proj.weight"


@given(st.floats(0, 1e7, allow_nan=False))
def test_nice_step_is_the_smallest_1_2_5_step_not_below_the_span(span: float) -> None:
    step = nice_step(span)
    assert step >= max(span, 1)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert mantissa in (1, 2, 5)
    smaller = [m * 10**k for k in range(9) for m in (1, 2, 5) if m * 10**k < step]
    assert all(s < span for s in smaller)
