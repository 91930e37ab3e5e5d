"""Whole-model numbers: parameter-weighted error against one long concatenated vector, sizes
against hand counts, and the per-layer tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.scan import LAYER_COLUMNS, fmt_mb, layer_table, scan, summarize_scan, worst_layers
from quantviz.scan.report import jsonable

SCHEMES = ["int8-sym-per-tensor", "int4-sym-per-group-16", "uint4-asym-per-row"]


@pytest.fixture
def model(safetensors_file) -> tuple[dict[str, torch.Tensor], object]:
    g = torch.Generator().manual_seed(7)
    sd = {
        "a.weight": torch.randn(32, 64, generator=g),
        "b.weight": torch.randn(16, 48, generator=g) * 0.01,  # small values, small errors
        "c.weight": torch.randn(8, 16, generator=g) * 50,
    }
    sd["c.weight"][3, 3] = 2000.0  # one outlier hurts per-tensor on this layer
    return sd, scan(safetensors_file(sd), SCHEMES)


def test_weighted_error_is_the_error_of_the_whole_model_as_one_vector(model) -> None:
    sd, table = model
    summary = summarize_scan(table).set_index("scheme")
    for name in SCHEMES:
        scheme = qv.parse_scheme(name)
        xs = [t.flatten().double() for t in sd.values()]
        errs = [(qv.quantize(t, scheme).dequantize() - t).flatten().double() for t in sd.values()]
        noise, signal = torch.cat(errs).square().mean(), torch.cat(xs).square().mean()
        row = summary.loc[scheme.label()]
        assert row["mse"] == pytest.approx(float(noise), rel=1e-5)
        assert row["sqnr_db"] == pytest.approx(10 * math.log10(signal / noise), abs=1e-4)
        assert row["rel_error"] == pytest.approx(math.sqrt(noise / signal), rel=1e-5)


def test_weighted_sqnr_is_not_the_mean_of_layer_decibels(model) -> None:
    _, table = model
    summary = summarize_scan(table).set_index("scheme")
    per_tensor = table[table["scheme"] == "int8 sym per-tensor"]
    assert summary.loc["int8 sym per-tensor", "sqnr_db"] != pytest.approx(
        per_tensor["sqnr_db"].mean(), abs=0.1
    )


def test_sizes_and_bits_match_a_hand_count(model) -> None:
    _, table = model
    summary = summarize_scan(table).set_index("scheme")
    params = 32 * 64 + 16 * 48 + 8 * 16
    # int4 per-group(16): 4 bits + one fp32 (32-bit) scale per 16 elements = 6 bits per element
    row = summary.loc["int4 sym per-group(16)"]
    assert row["params"] == params
    assert row["tensors"] == 3
    assert row["bits_per_element"] == pytest.approx(6.0)
    assert row["quantized_mb"] == pytest.approx(params * 6 / 8 / 1e6)
    assert row["float32_mb"] == pytest.approx(params * 4 / 1e6)
    assert row["float16_mb"] == pytest.approx(params * 2 / 1e6)
    assert row["compression_ratio"] == pytest.approx(32 / 6)
    # uint4 asym per-row: a 32-bit (fp32) scale and a 4-bit zero point per row
    rows = 32 + 16 + 8
    asym = summary.loc["uint4 asym per-row"]
    assert asym["bits_per_element"] == pytest.approx(4 + rows * 36 / params)


def test_worst_layer_is_the_one_with_the_outlier_under_per_tensor(model) -> None:
    _, table = model
    summary = summarize_scan(table).set_index("scheme")
    assert summary.loc["int8 sym per-tensor", "worst_layer"] == "c.weight"
    layer_sqnr = table[(table["scheme"] == "int8 sym per-tensor")].set_index("name")["sqnr_db"]
    assert summary.loc["int8 sym per-tensor", "worst_sqnr_db"] == layer_sqnr.min()


def test_layer_table_has_one_column_per_scheme_in_model_order(model) -> None:
    _, table = model
    wide = layer_table(table, "mse")
    assert list(wide.columns) == [*LAYER_COLUMNS, *[qv.parse_scheme(s).label() for s in SCHEMES]]
    assert list(wide["name"]) == ["a.weight", "b.weight", "c.weight"]
    long = table.set_index(["name", "scheme"])["mse"]
    for label in wide.columns[len(LAYER_COLUMNS) :]:
        assert list(wide[label]) == [long[(n, label)] for n in wide["name"]]


def test_worst_layers_sorts_by_lowest_sqnr_over_schemes(model) -> None:
    _, table = model
    worst = worst_layers(table, 2)
    lowest = table.groupby("name")["sqnr_db"].min().sort_values()
    assert list(worst["name"]) == list(lowest.index[:2])
    assert worst["min_sqnr_db"].tolist() == pytest.approx(lowest.iloc[:2].tolist())


@pytest.mark.parametrize("metric", ["name", "nope"], ids=["text-column", "unknown"])
def test_layer_table_refuses_non_metrics(model, metric: str) -> None:
    with pytest.raises(ValueError, match="metric"):
        layer_table(model[1], metric)


@pytest.mark.parametrize(
    ("mb", "text"),
    [(1234.4, "1,234 MB"), (12.34, "12.3 MB"), (0.012345, "0.0123 MB")],
    ids=["large", "medium", "small"],
)
def test_sizes_read_well(mb: float, text: str) -> None:
    assert fmt_mb(mb) == text


def test_jsonable_makes_strict_json_of_nested_numpy_and_infinities() -> None:
    doc = jsonable({"a": [np.float64(math.inf), -math.inf, math.nan], "b": (np.int64(3), {"c": 2})})
    assert doc == {"a": ["inf", "-inf", None], "b": [3, {"c": 2}]}
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
