"""qv.calibrate_compare: one row per method × scheme, the known-answer rankings, progress."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

import quantviz as qv
from quantviz.calibrate import COLUMNS, METHODS, run_method
from tests.calibrate._helpers import layer

ALL_SCHEMES = [
    "int4-sym-per-group-128",
    "int8-sym-per-row",
    "uint4-asym-per-tensor",
    "int4-sym-per-column",
    "int4-asym-per-block-16x32",
    "int4-sym-per-group-64-mse",
    "int6-sym-per-row-p99.5",
]


def test_one_row_per_method_and_scheme_with_every_column() -> None:
    w, x = layer(out=32, n_in=128, tokens=64, seed=1)
    table = qv.calibrate_compare(w, x, ["int4-sym-per-group-32", "int8-sym-per-row"])
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * len(METHODS)
    assert list(table["method"][:5]) == list(METHODS)
    a8 = table.set_index(["method", "scheme"])["output_rel_error_a8"]
    assert not math.isnan(a8["smoothquant", "int8 sym per-row"])
    assert not math.isnan(a8["rtn", "int8 sym per-row"])
    assert math.isnan(a8["gptq", "int8 sym per-row"])
    assert (table["seconds"] > 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_gptq_and_awq_beat_rtn_on_output_error_with_outlier_activations(seed: int) -> None:
    w, x = layer(out=64, n_in=512, tokens=512, outliers=8, seed=seed)
    table = qv.calibrate_compare(w, x, ["int4-sym-per-group-128"], ["rtn", "awq", "gptq"])
    err = dict(zip(table["method"], table["output_rel_error"], strict=True))
    assert err["gptq"] <= err["rtn"]
    assert err["awq"] <= err["rtn"]
    sqnr = dict(zip(table["method"], table["output_sqnr_db"], strict=True))
    assert sqnr["gptq"] >= sqnr["rtn"]


@pytest.mark.parametrize(
    "scheme", ["int4-sym-per-group-64", "int4-asym-per-row", "int3-sym-per-column"]
)
def test_with_identity_activations_the_activation_aware_methods_reduce_to_rtn(scheme: str) -> None:
    w = qv.generate("laplace", (16, 128), seed=4)
    x = torch.eye(128)
    table = qv.calibrate_compare(
        w,
        x,
        [scheme],
        ["rtn", "gptq", "awq", "smoothquant"],
        method_params={"smoothquant": {"alpha": 1.0}},
    )
    mse = table["weight_mse"].tolist()
    assert mse[1:] == pytest.approx([mse[0]] * 3, rel=1e-6)
    # with X = I the output error is the weight error
    assert table["output_mse"][0] == pytest.approx(mse[0], rel=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_every_method_composes_with_every_scheme(method: str, scheme: str) -> None:
    w, x = layer(out=16, n_in=96, tokens=48, seed=3)
    res = run_method(method, w, x, qv.parse_scheme(scheme))
    assert res.w_hat.shape == w.shape
    assert torch.isfinite(res.w_hat).all()
    err = qv.output_error(w, res.w_hat, x)
    assert 0 < err["rel_error"] < 1


def test_progress_is_reported_per_run_then_done() -> None:
    w, x = layer(out=8, n_in=32, tokens=16)
    calls = []
    qv.calibrate_compare(
        w, x, ["int4-sym-per-row"], ["rtn", "gptq"], on_progress=lambda *a: calls.append(a)
    )
    assert calls == [
        (0, 2, "rtn · int4 sym per-row"),
        (1, 2, "gptq · int4 sym per-row"),
        (2, 2, "done"),
    ]


@pytest.mark.parametrize(
    ("methods", "schemes", "match"),
    [
        (["rtn", "obq"], ["int4-sym-per-row"], "unknown method 'obq'; choose from rtn, hadamard"),
        ([], ["int4-sym-per-row"], "at least one scheme and one method"),
        (["rtn"], ["int4-banana"], "cannot read scheme"),
    ],
    ids=["unknown-method", "none", "bad-scheme"],
)
def test_bad_choices_are_named(methods, schemes, match) -> None:
    w, x = layer(out=4, n_in=8, tokens=4)
    with pytest.raises(ValueError, match=match):
        qv.calibrate_compare(w, x, schemes, methods)


def test_a_layer_from_a_checkpoint(tmp_path) -> None:
    w, x = layer(out=16, n_in=64, tokens=32, seed=8)
    save_file(
        {"model.layers.0.mlp.up_proj.weight": w.to(torch.bfloat16)}, str(tmp_path / "m.safetensors")
    )
    with qv.open_checkpoint(tmp_path / "m.safetensors") as ck:
        loaded = ck.load("model.layers.0.mlp.up_proj.weight")
    table = qv.calibrate_compare(loaded, x, ["int4-sym-per-group-32"], ["rtn", "gptq"])
    assert table["output_rel_error"].between(0, 1).all()


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize(
    ("w", "x", "match"),
    [
        (torch.ones(8), torch.ones(4, 8), r"needs a 2-D weight .* got shape \(8,\)"),
        (torch.ones(4, 8), torch.ones(4, 7), "7 features per token .* takes 8 inputs"),
        (torch.ones(4, 8), torch.full((4, 8), float("nan")), "NaN or infinite"),
    ],
    ids=["1-d-weight", "wrong-width", "nan"],
)
def test_every_method_names_bad_input(method: str, w, x, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_method(method, w, x, qv.parse_scheme("int4-sym-per-row"))
