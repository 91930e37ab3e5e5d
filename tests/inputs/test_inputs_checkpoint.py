"""open_checkpoint: paths, folders, sharded indexes, lazy one-tensor loads."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from quantviz.inputs import Checkpoint, InputError, TensorEntry, open_checkpoint
from tests.inputs._helpers import expect_error, npy_bytes, npz_bytes, pt_bytes

W = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7


def _model() -> dict[str, torch.Tensor]:
    return {
        "embed.weight": W.to(torch.bfloat16),
        "layers.0.weight": W,
        "layers.0.bias": torch.ones(6, dtype=torch.float16),
        "position_ids": torch.arange(10),
        "scale": torch.tensor(2.0),
        "weird": torch.ones(1, 1, 1, 1, 2),
        "empty": torch.ones(0, 3),
    }


def test_entries_describe_without_loading(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file(_model(), path)
    with open_checkpoint(path) as ck:
        assert isinstance(ck, Checkpoint)
        e = {x.name: x for x in ck.entries}
    assert e["embed.weight"] == TensorEntry(
        "embed.weight", (4, 6), "bfloat16", 24, 48, quantizable=True, reason=None
    )
    assert e["layers.0.bias"].dtype == "float16"
    assert e["position_ids"].reason == "int64 tensor: not quantizable"
    assert e["scale"].reason == "0-d scalar: not quantizable"
    assert "1 to 4 dimensions" in e["weird"].reason
    assert "empty" in e["empty"].reason
    assert not any(e[n].quantizable for n in ("position_ids", "scale", "weird", "empty"))


def test_load_converts_floats_and_keeps_others(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file(_model(), path)
    with open_checkpoint(path) as ck:
        emb = ck.load("embed.weight")
        ids = ck.load("position_ids")
        scale = ck.load("scale")
    assert emb.dtype == torch.float32
    assert torch.equal(emb, W.to(torch.bfloat16).float())
    assert ids.dtype == torch.int64
    assert scale.shape == ()
    emb += 1  # the caller owns what load returns; loaded tensors outlive close()
    assert emb.sum() > 0


def test_unknown_name_suggests_close_ones(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file(_model(), path)
    with open_checkpoint(path) as ck:
        expect_error("layers.0.weight", ck.load, "layers.0.weigth")


def test_file_order_is_kept_for_pt(tmp_path: Path) -> None:
    names = ["z.weight", "a.weight", "m.bias"]
    path = tmp_path / "ordered.pt"
    path.write_bytes(pt_bytes({n: torch.ones(2, 2) for n in names}))
    with open_checkpoint(path) as ck:  # zip .pt on disk: memory mapped
        assert [e.name for e in ck.entries] == names
        t = ck.load("a.weight")
        t += 1
        assert ck.load("a.weight").sum() == 4  # the Checkpoint's copy is untouched


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("m.npy", npy_bytes(np.ones((3, 2), np.float64))),
        ("m.npz", npz_bytes(a=np.ones((3, 2)), b=np.zeros(4))),
        ("m.csv", b"1,2\n3,4\n5,6\n"),
        ("m.pt", pt_bytes(torch.ones(3, 2), legacy=True)),
    ],
)
def test_every_format_from_a_path(tmp_path: Path, filename: str, data: bytes) -> None:
    path = tmp_path / filename
    path.write_bytes(data)
    with open_checkpoint(path) as ck, open_checkpoint(data, filename) as ck_bytes:
        assert ck.entries == ck_bytes.entries
        first = ck.entries[0].name
        assert torch.equal(ck.load(first), ck_bytes.load(first))


def test_loading_one_tensor_reads_only_that_tensor(tmp_path: Path) -> None:
    big = torch.randn(2048, 1024)  # 8 MiB
    path = tmp_path / "m.safetensors"
    save_file({"big": big, "small": torch.ones(16)}, path)
    with open_checkpoint(path) as ck:
        tracemalloc.start()
        small = ck.load("small")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert small.tolist() == [1.0] * 16
        assert peak < 1_000_000, peak  # nowhere near the 8 MiB of 'big'
        tracemalloc.start()
        assert torch.equal(ck.load("big"), big)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 2 * big.numel() * 4  # one tensor's worth, not a whole-file copy


def test_closed_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.ones(3)}, path)
    ck = open_checkpoint(path)
    ck.close()
    ck.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        ck.load("a")


# ---- folders and sharded checkpoints -----------------------------------------------------


def _sharded(folder: Path) -> dict[str, torch.Tensor]:
    shards = {
        "model-00001-of-00002.safetensors": {"a.weight": W, "a.bias": torch.ones(6)},
        "model-00002-of-00002.safetensors": {"b.weight": W * 2, "ids": torch.arange(3)},
    }
    weight_map = {}
    for fname, tensors in shards.items():
        save_file(tensors, folder / fname)
        weight_map.update(dict.fromkeys(tensors, fname))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return {k: v for t in shards.values() for k, v in t.items()}


def test_sharded_index_and_its_folder(tmp_path: Path) -> None:
    tensors = _sharded(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "vocab.txt").write_text("hello\nworld\n")
    for source in (tmp_path / "model.safetensors.index.json", tmp_path):
        with open_checkpoint(source) as ck:
            assert {e.name for e in ck.entries} == set(tensors)
            assert [e.name for e in ck.entries][:2] in (
                ["a.bias", "a.weight"],
                ["a.weight", "a.bias"],
            )
            assert torch.equal(ck.load("b.weight"), W * 2)
            assert ck.load("ids").dtype == torch.int64


def test_sharded_missing_shard_is_named(tmp_path: Path) -> None:
    _sharded(tmp_path)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    expect_error("Shard 'model-00002-of-00002.safetensors' is missing", open_checkpoint, tmp_path)


def test_sharded_corrupted_shard_is_named(tmp_path: Path) -> None:
    _sharded(tmp_path)
    shard = tmp_path / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:100])
    expect_error(
        "Shard 'model-00001-of-00002.safetensors': .*(truncated|corrupted)",
        open_checkpoint,
        tmp_path,
    )


def test_sharded_index_that_escapes_the_folder(tmp_path: Path) -> None:
    index = {"weight_map": {"a": "../secret.safetensors"}}
    (tmp_path / "x.safetensors.index.json").write_text(json.dumps(index))
    expect_error("not a plain file name", open_checkpoint, tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not valid JSON"),
        ("[1]", "no 'weight_map'"),
        ('{"weight_map": {"a": 1}}', "names"),
    ],
)
def test_bad_index(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "m.safetensors.index.json").write_text(content)
    expect_error(message, open_checkpoint, tmp_path / "m.safetensors.index.json")


def test_index_listing_a_tensor_its_shard_lacks(tmp_path: Path) -> None:
    _sharded(tmp_path)
    index_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["ghost"] = "model-00001-of-00002.safetensors"
    index_path.write_text(json.dumps(index))
    expect_error("lacks 1 tensor.*'ghost'", open_checkpoint, index_path)


def test_folder_rules(tmp_path: Path) -> None:
    expect_error("no checkpoint", open_checkpoint, tmp_path)
    save_file({"a": W}, tmp_path / "one.safetensors")
    with open_checkpoint(tmp_path) as ck:
        assert [e.name for e in ck.entries] == ["a"]
    save_file({"a": W}, tmp_path / "two.safetensors")
    expect_error("several checkpoint files", open_checkpoint, tmp_path)


def test_missing_path_and_wrong_type(tmp_path: Path) -> None:
    expect_error("no file", open_checkpoint, tmp_path / "nope.safetensors")
    expect_error("Expected file bytes or a path", open_checkpoint, 42)


def test_name_check_applies_to_paths(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(npy_bytes(np.ones(3)))
    expect_error("named like a safetensors", open_checkpoint, path)


def test_element_bound_can_be_raised_by_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"w": W}, path)
    with open_checkpoint(path, max_elements=10) as ck:
        assert not ck.entries[0].quantizable
        with pytest.raises(InputError):
            ck.load("w")
    with open_checkpoint(path, max_elements=100) as ck:
        assert ck.entries[0].quantizable


def test_uploading_just_the_index_explains_what_to_do(tmp_path: Path) -> None:
    _sharded(tmp_path)
    data = (tmp_path / "model.safetensors.index.json").read_bytes()
    expect_error(
        "index of a sharded checkpoint", open_checkpoint, data, "model.safetensors.index.json"
    )
