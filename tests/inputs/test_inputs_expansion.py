"""A .pt may not claim far more elements than its bytes hold: views of a tiny storage (stride 0,
or hundreds of names on one storage) are refused before anything is materialised, while weights
that are legitimately tied (an LM head sharing its embedding) load, once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from quantviz.inputs import InputError, load_tensors, open_checkpoint
from quantviz.inputs.torch_reader import MAX_ELEMENTS_PER_FILE_BYTE
from tests.inputs._helpers import expect_error, pt_bytes

ONE = torch.zeros(1)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize(
    "state",
    [
        pytest.param(lambda: {f"w{i}": ONE.expand(4096, 4096) for i in range(300)}, id="stride0"),
        pytest.param(
            lambda: {f"w{i}": ONE.half().expand(2048, 2048) for i in range(100)},
            id="stride0-half",
        ),
        pytest.param(
            lambda: {f"w{i}": torch.zeros(1, 8).expand(1024, 1024, 8) for i in range(50)},
            id="stride0-rows",
        ),
    ],
)
def test_tiny_file_claiming_gigabytes_is_refused(state, legacy: bool, tmp_path: Path) -> None:
    data = pt_bytes(state(), legacy=legacy)
    assert len(data) < 64 * 1024  # the file really is tiny
    msg = expect_error(r"claims [\d,]+ elements in its \d+ tensor", load_tensors, data, "x.pt")
    assert f"the file is {len(data):,} bytes" in msg
    path = tmp_path / "x.pt"
    path.write_bytes(data)
    # qv.scan and the Model page open lazily: the refusal comes at open, before any load.
    expect_error("claims", open_checkpoint, path)


def test_the_bound_is_the_element_limit_for_small_files() -> None:
    # 10 names x 1,000 elements of one stored element: 10,000 claimed by a ~2 KB file.
    data = pt_bytes({f"w{i}": ONE.expand(1000) for i in range(10)})
    assert MAX_ELEMENTS_PER_FILE_BYTE * len(data) < 9_999
    assert len(load_tensors(data, "x.pt", max_elements=10_000)) == 10
    expect_error("more than 9,999 elements", load_tensors, data, "x.pt", max_elements=9_999)


def test_the_bound_grows_with_the_bytes_in_the_file() -> None:
    # A file with real data may claim MAX_ELEMENTS_PER_FILE_BYTE elements per byte in all.
    padding = torch.ones(5000)  # 20,000 bytes of real data
    claim = {"pad": padding, "view": ONE.expand(60_000)}
    data = pt_bytes(claim)
    assert MAX_ELEMENTS_PER_FILE_BYTE * len(data) >= 60_000 + 5000
    assert set(load_tensors(data, "x.pt", max_elements=60_000)) == {"pad", "view"}
    claim["view"] = ONE.expand(MAX_ELEMENTS_PER_FILE_BYTE * len(data))
    with pytest.raises(InputError, match="claims"):
        load_tensors(pt_bytes(claim), "x.pt", max_elements=60_000)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_tied_weights_load_and_are_loaded_once(dtype: torch.dtype) -> None:
    emb = torch.randn(1000, 64).to(dtype)
    state = {"embed.weight": emb, "block.weight": torch.randn(64, 64), "lm_head.weight": emb}
    data = pt_bytes(state)
    out = load_tensors(data, "tied.pt")
    assert list(out) == ["embed.weight", "block.weight", "lm_head.weight"]
    assert torch.equal(out["lm_head.weight"], emb.float())
    assert out["lm_head.weight"] is out["embed.weight"]  # one float32 copy, not two
    with open_checkpoint(data, "tied.pt") as ck:
        assert [e.quantizable for e in ck.entries] == [True, True, True]
        a, b = ck.load("embed.weight"), ck.load("lm_head.weight")
        assert torch.equal(a, b)
        assert a.data_ptr() != b.data_ptr()  # load() hands out tensors the caller owns


def test_many_tied_names_on_a_real_storage_load_when_the_bytes_cover_them() -> None:
    # Eight names on one 64 KiB storage claim 131,072 elements: within 4 per byte of the file,
    # even with an element limit below that sum.
    w = torch.randn(128, 128)
    data = pt_bytes({f"layer{i}.weight": w for i in range(8)})
    out = load_tensors(data, "shared.pt", max_elements=128 * 128)
    assert len(out) == 8
    assert len({id(t) for t in out.values()}) == 1
