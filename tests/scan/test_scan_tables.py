"""The Model page's tables from the core: tensor list with notes, worst-first layer order, the
layer picker's labels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save as save_bytes

from quantviz.inputs import open_checkpoint
from quantviz.inputs.checkpoint import TensorEntry
from quantviz.scan import (
    LAYER_COLUMNS,
    ONE_D_NOTE,
    TENSOR_COLUMNS,
    higher_is_better,
    layer_choices,
    layer_rows,
    layer_table,
    scan,
    search_tensors,
    tensor_table,
    worst_first,
)
from tests.scan._helpers import mixed_state_dict

SCHEMES = ["int8-sym-per-tensor", "int4-sym-per-group-8"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return scan(save_bytes(mixed_state_dict()), SCHEMES, filename="m.safetensors")


def test_tensor_table_lists_every_entry_with_why_it_is_or_is_not_scanned() -> None:
    sd = mixed_state_dict()
    with open_checkpoint(save_bytes(sd), "m.safetensors") as ck:
        tensors = tensor_table(ck.entries)
    assert list(tensors.columns) == TENSOR_COLUMNS
    assert sorted(tensors["name"]) == sorted(sd)
    rows = tensors.set_index("name")
    assert rows.loc["model.experts", "shape"] == "2×8×16"
    assert rows.loc["model.layers.0.mlp.up_proj.weight", "dtype"] == "bfloat16"
    for name, t in sd.items():
        assert rows.loc[name, "params"] == t.numel()
    # 2-D float: scanned, no note; 1-D float: scanned on request; int and bool: never.
    assert rows.loc["model.layers.0.self_attn.q_proj.weight", "note"] == ""
    assert rows.loc["model.layers.0.mlp.up_proj.bias", "note"] == ONE_D_NOTE
    assert rows.loc["model.layers.0.input_layernorm.weight", "note"] == ONE_D_NOTE
    for name in ("model.position_ids", "model.causal_mask"):
        assert "not quantizable" in rows.loc[name, "note"]


def test_tensor_table_of_a_scalar_and_of_nothing() -> None:
    scalar = TensorEntry("step", (), "int64", 1, 8, False, "0-d: not quantizable")
    tensors = tensor_table([scalar])
    assert tensors.loc[0, "shape"] == "scalar"
    assert tensors.loc[0, "note"] == "0-d: not quantizable"
    empty = tensor_table([])
    assert empty.empty
    assert list(empty.columns) == TENSOR_COLUMNS


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("", ["a.b", "axb", "Attn.Q"]),
        ("ATTN", ["Attn.Q"]),
        ("a.b", ["a.b"]),  # "." is a character, not "any character"
        ("nothing", []),
    ],
    ids=["empty-keeps-all", "ignores-case", "literal-dot", "no-match"],
)
def test_search_tensors_matches_names_literally_ignoring_case(query: str, want: list) -> None:
    tensors = pd.DataFrame(
        {"name": ["a.b", "axb", "Attn.Q"], "shape": "", "dtype": "", "params": 1, "note": ""}
    )
    assert list(search_tensors(tensors, query)["name"]) == want


@pytest.mark.parametrize(
    ("metric", "higher"),
    [
        ("sqnr_db", True),
        ("compression_ratio", True),
        ("mse", False),
        ("rel_error", False),
        ("max_abs_error", False),
        ("bits_per_element", False),
    ],
    ids=["sqnr", "compression", "mse", "rel-error", "max-error", "bits"],
)
def test_higher_is_better_only_for_quality_and_savings(metric: str, higher: bool) -> None:
    assert higher_is_better(metric) is higher


def wide_table(values: np.ndarray) -> pd.DataFrame:
    """A layer_table-shaped frame: layer info, then one column per scheme."""
    n, k = values.shape
    info = pd.DataFrame(
        {"layer": range(n), "name": [f"l{i}" for i in range(n)], "shape": "", "dtype": ""}
    )
    info["params"] = 1
    schemes = pd.DataFrame(values, columns=[f"s{j}" for j in range(k)])
    return pd.concat([info[LAYER_COLUMNS], schemes], axis=1)


@settings(max_examples=60, deadline=None)
@given(
    values=st.integers(1, 12).flatmap(
        lambda n: st.lists(
            st.lists(st.sampled_from([0.5, 1.0, 2.0, 7.0, -3.0, math.inf]), min_size=3, max_size=3),
            min_size=n,
            max_size=n,
        )
    ),
    metric=st.sampled_from(["sqnr_db", "mse"]),
)
def test_worst_first_puts_the_worst_layer_first_and_keeps_ties_in_model_order(
    values: list, metric: str
) -> None:
    wide = wide_table(np.array(values, dtype=float))
    out = worst_first(wide, metric)
    assert sorted(out["layer"]) == list(range(len(wide)))  # a permutation of the rows
    scheme_values = out[["s0", "s1", "s2"]]
    badness = (
        -scheme_values.min(axis=1) if metric == "sqnr_db" else scheme_values.max(axis=1)
    ).tolist()
    pairs = list(zip(badness, out["layer"], strict=True))
    for (b0, l0), (b1, l1) in itertools.pairwise(pairs):
        assert b0 > b1 or (b0 == b1 and l0 < l1)


def test_worst_first_puts_a_layer_without_values_last() -> None:
    wide = wide_table(np.array([[np.nan, np.nan], [30.0, 20.0], [10.0, 40.0]]))
    assert list(worst_first(wide, "sqnr_db")["layer"]) == [2, 1, 0]
    assert list(worst_first(wide, "mse")["layer"]) == [2, 1, 0]


@pytest.mark.parametrize("metric", ["sqnr_db", "rel_error"], ids=["sqnr", "rel-error"])
def test_layer_rows_are_the_layer_table_reordered_only_when_asked(table, metric: str) -> None:
    wide = layer_table(table, metric)
    pd.testing.assert_frame_equal(layer_rows(table, metric, worst=False), wide)
    ranked = layer_rows(table, metric)
    pd.testing.assert_frame_equal(ranked.sort_index(), wide)
    first = ranked.iloc[0][list(wide.columns[len(LAYER_COLUMNS) :])]
    rest = wide[list(wide.columns[len(LAYER_COLUMNS) :])]
    if metric == "sqnr_db":
        assert first.min() == rest.min().min()
    else:
        assert first.max() == rest.max().max()


def test_layer_choices_are_every_scanned_layer_worst_sqnr_first(table) -> None:
    choices = layer_choices(table)
    worst = table.groupby("name")["sqnr_db"].min().sort_values(kind="stable")
    assert list(choices) == list(worst.index)
    shapes = table.drop_duplicates("name").set_index("name")["shape"]
    for name, label in choices.items():
        assert label == f"{name} · {shapes[name]} · worst {worst[name]:.1f} dB"


def test_layer_choices_write_the_sqnr_with_the_given_formatter(table) -> None:
    choices = layer_choices(table, number=lambda v: f"<{v:.3f}>")
    worst = table.groupby("name")["sqnr_db"].min()
    name = next(iter(choices))
    assert choices[name].endswith(f"worst <{worst[name]:.3f}> dB")
