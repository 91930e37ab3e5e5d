"""qv.scan on checkpoints built here: every format, every kind of entry, broken inputs."""

from __future__ import annotations

import math
import weakref
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import quantviz as qv
from quantviz.inputs import InputError
from quantviz.inputs.checkpoint import Checkpoint
from quantviz.scan import SCAN_COLUMNS, SUMMARY_COLUMNS, natural_key, scan, summarize_scan
from tests.scan._helpers import mixed_state_dict, write_sharded

SCHEMES = ["int8-sym-per-tensor", "int8-sym-per-row", "int4-sym-per-group-8"]
# Float, at least 2-D, in natural (model) order: these and only these are scanned by default.
SCANNED = [
    "model.embed_tokens.weight",
    "model.experts",
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.2.self_attn.q_proj.weight",
    "model.layers.10.self_attn.q_proj.weight",
]


def frame(table: pd.DataFrame) -> pd.DataFrame:
    """The table without attrs (which name the source), for comparing two scans."""
    out = table.copy()
    out.attrs = {}
    return out


def test_scan_has_one_row_per_tensor_and_scheme_in_model_order(safetensors_file) -> None:
    table = scan(safetensors_file(mixed_state_dict()), SCHEMES)
    assert list(table.columns) == SCAN_COLUMNS
    assert list(table["name"]) == [n for n in SCANNED for _ in SCHEMES]
    assert list(table["scheme"]) == [qv.parse_scheme(s).label() for s in SCHEMES] * len(SCANNED)
    assert list(table["layer"]) == [i for i in range(len(SCANNED)) for _ in SCHEMES]
    row = table[table["name"] == "model.layers.0.mlp.up_proj.weight"].iloc[0]
    assert (row["shape"], row["dtype"], row["params"]) == ("40x16", "bfloat16", 640)
    assert table.attrs["schemes"] == [qv.parse_scheme(s).label() for s in SCHEMES]
    assert table.attrs["device"] == "cpu"
    assert table.attrs["source"] == "model.safetensors"


def test_scan_metrics_equal_compare_on_each_loaded_tensor(safetensors_file) -> None:
    sd = mixed_state_dict()
    table = scan(safetensors_file(sd), SCHEMES)
    schemes = [qv.parse_scheme(s) for s in SCHEMES]
    for name in SCANNED:
        want = qv.compare(sd[name].float(), schemes)  # bf16/f16 are widened exactly
        got = table[table["name"] == name].reset_index(drop=True)
        for col in ("scheme", "num_scales", "bits_per_element", "compression_ratio"):
            assert list(got[col]) == list(want[col]), (name, col)
        for col in ("mse", "mae", "max_abs_error", "sqnr_db", "rel_error"):
            assert got[col].tolist() == pytest.approx(want[col].tolist(), rel=1e-4), (name, col)


def test_skipped_entries_are_listed_with_their_reason(safetensors_file) -> None:
    table = scan(safetensors_file(mixed_state_dict()), SCHEMES)
    skipped = {s["name"]: s for s in table.attrs["skipped"]}
    assert set(skipped) == {
        "model.position_ids",
        "model.causal_mask",
        "model.layers.0.mlp.up_proj.bias",
        "model.layers.0.input_layernorm.weight",
    }
    assert "int64" in skipped["model.position_ids"]["reason"]
    assert "bool" in skipped["model.causal_mask"]["reason"]
    assert "1-D" in skipped["model.layers.0.mlp.up_proj.bias"]["reason"]
    assert all(s["scheme"] is None for s in skipped.values())


def test_include_1d_scans_biases_and_notes_schemes_that_do_not_fit(safetensors_file) -> None:
    path = safetensors_file(mixed_state_dict())
    table = scan(path, ["int8-sym-per-tensor", "int4-sym-per-block-4x4"], include_1d=True)
    bias = table[table["name"] == "model.layers.0.mlp.up_proj.bias"]
    assert list(bias["scheme"]) == ["int8 sym per-tensor"]  # per-block needs 2 dims
    refused = [s for s in table.attrs["skipped"] if s["name"] == "model.layers.0.mlp.up_proj.bias"]
    assert refused[0]["scheme"] == "int4 sym per-block(4x4)"
    assert "PerBlock" in refused[0]["reason"]


def test_bytes_and_path_give_the_same_table(safetensors_file) -> None:
    path = safetensors_file(mixed_state_dict())
    from_path = scan(path, SCHEMES)
    from_bytes = scan(path.read_bytes(), SCHEMES, filename="upload.safetensors")
    pd.testing.assert_frame_equal(frame(from_path), frame(from_bytes))
    assert from_bytes.attrs["source"] == "upload.safetensors"


@pytest.mark.parametrize("n_shards", [1, 3], ids=["one-shard", "three-shards"])
def test_sharded_checkpoint_scans_as_one_model(tmp_path: Path, safetensors_file, n_shards) -> None:
    sd = mixed_state_dict()
    single = scan(safetensors_file(sd), SCHEMES)
    folder = tmp_path / "sharded"
    folder.mkdir()
    index = write_sharded(folder, sd, n_shards)
    pd.testing.assert_frame_equal(frame(scan(index, SCHEMES)), frame(single))
    pd.testing.assert_frame_equal(frame(scan(folder, SCHEMES)), frame(single))  # the folder too


def test_pt_state_dict_with_nested_dicts(tmp_path: Path) -> None:
    sd = mixed_state_dict()
    nested = {
        "epoch": 3,
        "model": {"encoder": {"w": sd["model.layers.2.self_attn.q_proj.weight"]}},
        "layers": [sd["model.embed_tokens.weight"], {"bias": torch.zeros(4)}],
        "step": torch.tensor(7.0),
    }
    path = tmp_path / "ckpt.pt"
    torch.save(nested, path)
    table = scan(path, ["int8-sym-per-row"])
    assert list(table["name"]) == ["layers.0", "model.encoder.w"]
    want = qv.compare(
        sd["model.layers.2.self_attn.q_proj.weight"], [qv.parse_scheme("int8-sym-per-row")]
    )
    assert table.iloc[1]["mse"] == pytest.approx(want.iloc[0]["mse"], rel=1e-5)
    reasons = {s["name"]: s["reason"] for s in table.attrs["skipped"]}
    assert "scalar" in reasons["step"]
    assert "1-D" in reasons["layers.1.bias"]


def test_pt_bytes_match_the_safetensors_scan(tmp_path: Path, safetensors_file) -> None:
    sd = mixed_state_dict()
    path = tmp_path / "model.pt"
    torch.save(sd, path)
    got = scan(path.read_bytes(), SCHEMES, filename="model.pt")
    pd.testing.assert_frame_equal(frame(got), frame(scan(safetensors_file(sd), SCHEMES)))


def test_an_empty_checkpoint_is_refused_and_no_rows_give_an_empty_table(
    safetensors_file,
) -> None:
    # A file with no tensors is an InputError, as for .pt and .npz (the loader contract).
    with pytest.raises(InputError, match="holds no tensors"):
        scan(safetensors_file({}), SCHEMES)
    table = scan(safetensors_file({"ids": torch.arange(6).reshape(2, 3)}), SCHEMES)
    assert table.empty
    assert list(table.columns) == SCAN_COLUMNS
    summary = summarize_scan(table)
    assert summary.empty
    assert list(summary.columns) == SUMMARY_COLUMNS


def test_only_integer_tensors_gives_an_empty_table_with_every_tensor_skipped(
    safetensors_file,
) -> None:
    table = scan(safetensors_file({"ids": torch.arange(6).reshape(2, 3)}), SCHEMES)
    assert table.empty
    assert [s["name"] for s in table.attrs["skipped"]] == ["ids"]


def test_a_corrupted_shard_is_named(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, mixed_state_dict(), 3)
    shard = tmp_path / "model-00002-of-00003.safetensors"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(InputError, match="model-00002-of-00003"):
        scan(index, SCHEMES)


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, mixed_state_dict(), 3)
    (tmp_path / "model-00003-of-00003.safetensors").unlink()
    with pytest.raises(InputError, match=r"model-00003-of-00003.*missing"):
        scan(index, SCHEMES)


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        ((1000).to_bytes(8, "little") + b'{"w": ', "x.safetensors", "truncated"),
        (b"\x80\x02 not a pickle \xff\xfe", "x.pt", "corrupted|format"),
    ],
    ids=["truncated-safetensors", "garbage-pt"],
)
def test_unreadable_bytes_raise_an_input_error(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        scan(data, SCHEMES, filename=filename)


def test_a_missing_file_raises_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file"):
        scan(tmp_path / "absent.safetensors", SCHEMES)


def test_a_tensor_with_nan_is_skipped_and_the_rest_scanned(safetensors_file) -> None:
    bad = torch.randn(8, 8)
    bad[2, 5] = math.nan
    table = scan(safetensors_file({"bad": bad, "good": torch.randn(8, 8)}), SCHEMES)
    assert set(table["name"]) == {"good"}
    (reason,) = [s["reason"] for s in table.attrs["skipped"] if s["name"] == "bad"]
    assert "NaN" in reason
    assert "(2, 5)" in reason


def test_progress_is_reported_after_every_scanned_tensor(safetensors_file) -> None:
    calls: list[tuple[int, int, str]] = []
    scan(safetensors_file(mixed_state_dict()), SCHEMES, progress=lambda *a: calls.append(a))
    assert calls == [(i + 1, len(SCANNED), name) for i, name in enumerate(SCANNED)]


def test_only_one_loaded_tensor_is_alive_at_a_time(safetensors_file, monkeypatch) -> None:
    alive: list[weakref.ref] = []
    real_load = Checkpoint.load

    def tracking_load(self, name, **kw):
        t = real_load(self, name, **kw)
        alive.append(weakref.ref(t))
        return t

    def check(done: int, total: int, name: str) -> None:
        # after a tensor is measured, it and every earlier one must be gone
        assert [r for r in alive if r() is not None] == []

    monkeypatch.setattr(Checkpoint, "load", tracking_load)
    scan(safetensors_file(mixed_state_dict()), SCHEMES, progress=check)
    assert len(alive) == len(SCANNED)


@pytest.mark.parametrize("device", [None, "cpu", "auto"], ids=["default", "cpu", "auto"])
def test_device_choices_give_identical_results_on_this_machine(safetensors_file, device) -> None:
    path = safetensors_file(mixed_state_dict())
    want = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    table = scan(path, SCHEMES, device=device)
    assert table.attrs["device"].startswith(want)
    base = scan(path, SCHEMES, device="cpu")
    for col in ("mse", "sqnr_db", "max_abs_error"):
        assert table[col].tolist() == pytest.approx(base[col].tolist(), rel=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(safetensors_file) -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        scan(safetensors_file(mixed_state_dict()), SCHEMES, device="cuda")


@pytest.mark.parametrize("device", ["tpu", "mps", 3.5], ids=["tpu", "mps", "number"])
def test_unknown_devices_are_refused(safetensors_file, device) -> None:
    with pytest.raises(ValueError, match="device"):
        scan(safetensors_file({"w": torch.randn(4, 4)}), SCHEMES, device=device)


def test_schemes_by_name_or_object_duplicates_dropped_and_default(safetensors_file) -> None:
    path = safetensors_file({"w": torch.randn(4, 8)})
    by_name = scan(
        path, ["int8-sym-per-row", qv.parse_scheme("int8 sym per-row"), "int4-sym-per-tensor"]
    )
    assert list(by_name["scheme"]) == ["int8 sym per-row", "int4 sym per-tensor"]
    default = scan(path)
    assert list(default["scheme"]) == [
        "int8 sym per-tensor",
        "int8 sym per-row",
        "int4 sym per-group(128)",
    ]


@pytest.mark.parametrize(
    "schemes", [[], ["int8-foo"], [42]], ids=["empty", "unreadable-name", "not-a-scheme"]
)
def test_bad_scheme_lists_are_refused(safetensors_file, schemes) -> None:
    with pytest.raises(ValueError, match="scheme"):
        scan(safetensors_file({"w": torch.randn(4, 8)}), schemes)


def test_max_elements_skips_larger_tensors_with_a_reason(safetensors_file) -> None:
    path = safetensors_file({"big": torch.randn(20, 20), "small": torch.randn(4, 4)})
    table = scan(path, SCHEMES, max_elements=100)
    assert set(table["name"]) == {"small"}
    (reason,) = [s["reason"] for s in table.attrs["skipped"] if s["name"] == "big"]
    assert "too large" in reason


def test_natural_order_puts_layer_2_before_layer_10() -> None:
    names = ["l.10.w", "l.2.w", "l.1.w", "emb", "l.2.b"]
    assert sorted(names, key=natural_key) == ["emb", "l.1.w", "l.2.b", "l.2.w", "l.10.w"]


def test_saved_float32_checkpoint_round_trips_through_scan(tmp_path: Path) -> None:
    # A matrix whose per-row int8 error is known from the notebook: 1.808.
    path = tmp_path / "nb.safetensors"
    save_file(
        {"w": torch.tensor([[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]])},
        str(path),
    )
    table = scan(path, ["int8-sym-per-tensor", "int8-sym-per-row", "int8-sym-per-column"])
    assert [round(v, 3) for v in table["mse"]] == [2.509, 1.808, 1.078]
