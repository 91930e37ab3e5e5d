"""The loader contract, for every format: a non-empty dict of tensors, or an InputError.

Nothing else may escape load_tensors, open_checkpoint or a Checkpoint's load: not TypeError,
RuntimeError or ValueError from deep inside numpy or torch, and not an empty dict. The seed
corpus holds the inputs that broke it once; the fuzz tests edit valid files of each format.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantviz.inputs import InputError, load_tensors, open_checkpoint
from tests.inputs._helpers import Payload, npy_bytes, npz_bytes, pt_bytes, st_bytes, st_raw

FUZZ = settings(
    max_examples=int(os.environ.get("QV_FUZZ_EXAMPLES", "200")) // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# Shapes no array can have: a zero next to a huge dimension, too many dimensions, a list of a
# million dimensions, and values that are not dimensions at all.
HOSTILE_SHAPES: dict[str, list] = {
    "zero-next-to-2^70": [0, 2**70],
    "zero-inside-overflow": [2, 2**62, 5, 0, 3],
    "65-dims": [1] * 65,
    "65-zero-dims": [0] * 65,
    "million-dims": [1] * 10**6,
    "2^63": [2**63],
    "2^64-and-zero": [2**64 + 1, 0],
    "negative": [-1, 3],
    "bool": [True, 2],
}

MARKER = Path(tempfile.gettempdir()) / f"qv-contract-pwned-{os.getpid()}"


def npy_raw(shape_text: str, data: bytes = b"") -> bytes:
    """A float32 .npy whose header gives ``shape_text`` verbatim (version 2: any length)."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape_text.encode()
    header += b" " * (63 - (len(header) + 12) % 64) + b"\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + data


def zip_of(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return buf.getvalue()


def st_with_shape(shape: object) -> bytes:
    header = {
        "ok": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "bad": {"dtype": "F32", "shape": shape, "data_offsets": [8, 8]},
    }
    return st_raw(header, b"\0" * 8)


def _tuple_text(shape: list) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _seeds() -> dict[str, tuple[str, bytes]]:
    one = torch.zeros(1)
    seeds: dict[str, tuple[str, bytes]] = {
        "st-empty-header": ("e.safetensors", st_raw({}, b"")),
        "st-metadata-only": ("m.safetensors", st_raw({"__metadata__": {"a": "b"}}, b"")),
        "npz-empty": ("e.npz", zip_of()),
        "pt-empty-dict": ("e.pt", pt_bytes({})),
        "pt-only-numbers": ("n.pt", pt_bytes({"epoch": 3, "lr": 0.1})),
        "pt-stride0-names": (
            "s.pt",
            pt_bytes({f"w{i}": one.expand(4096, 4096) for i in range(64)}),
        ),
        "pt-protocol-4": ("p4.pt", _pt_protocol(4)),
        "pt-protocol-5-legacy": ("p5.pt", _pt_protocol(5, legacy=True)),
        "pt-payload-protocol-4": ("x.pt", _payload(4)),
        "pt-payload-protocol-5": ("x.pt", _payload(5)),
        "csv-header-only": ("h.csv", b"a,b,c\n"),
        "csv-spaces-after-paren": ("a.csv", b"a(" + b" " * 4000 + b"1"),
        "txt-one-number": ("o.txt", b"5"),
    }
    for name, shape in HOSTILE_SHAPES.items():
        seeds[f"st-{name}"] = ("h.safetensors", st_with_shape(shape))
        text = _tuple_text(shape)
        seeds[f"npy-{name}"] = ("h.npy", npy_raw(text, b"\0" * 8))
        seeds[f"npz-{name}"] = (
            "h.npz",
            zip_of(ok=npy_bytes(np.ones(2, np.float32)), bad=npy_raw(text)),
        )
    return seeds


def _pt_protocol(protocol: int, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(
        {"w": torch.ones(2)},
        buf,
        pickle_protocol=protocol,
        _use_new_zipfile_serialization=not legacy,
    )
    return buf.getvalue()


def _payload(protocol: int) -> bytes:
    return pickle.dumps({"weight": Payload(MARKER)}, protocol=protocol)


SEEDS = _seeds()

VALID: dict[str, bytes] = {
    "v.npy": npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "v.npz": npz_bytes(a=np.ones((2, 3), np.float32), b=np.arange(4)),
    "vc.npz": npz_bytes(compressed=True, a=np.ones((2, 3), np.float16)),
    "v.safetensors": st_bytes({"a": torch.ones(2, 3), "b": torch.arange(4)}),
    "v.pt": pt_bytes({"a": torch.ones(2, 3), "n": {"b": torch.zeros(2)}}),
    "vl.pt": pt_bytes({"a": torch.ones(2, 3)}, legacy=True),
    "v.csv": b"a,b\n1,2\n3,4\n",
    "v.txt": b"[[1, 2], [3, 4]]",
}


def check_result(out: object) -> None:
    assert isinstance(out, dict)
    assert out, "a loader returned an empty dict instead of an InputError"
    for name, t in out.items():
        assert isinstance(name, str)
        assert isinstance(t, torch.Tensor)
        if t.is_floating_point():
            assert t.dtype == torch.float32
            assert bool(torch.isfinite(t).all())


def check_contract(source: bytes | Path, filename: str | None) -> None:
    """load_tensors and open_checkpoint + load of every entry: tensors or InputError only."""
    if isinstance(source, bytes):
        try:
            out = load_tensors(source, filename or "upload")
        except InputError:
            pass
        else:
            check_result(out)
    try:
        ck = (
            open_checkpoint(source, filename)
            if isinstance(source, bytes)
            else open_checkpoint(source)
        )
    except InputError:
        return
    with ck:
        assert ck.entries, "open_checkpoint listed no tensors instead of raising InputError"
        for e in ck.entries:
            try:
                t = ck.load(e.name)
            except InputError:
                continue
            assert isinstance(t, torch.Tensor)


@pytest.mark.parametrize("seed", list(SEEDS), ids=list(SEEDS))
def test_seed_corpus_keeps_the_contract(seed: str, tmp_path: Path) -> None:
    filename, blob = SEEDS[seed]
    check_contract(blob, filename)
    path = tmp_path / filename
    path.write_bytes(blob)
    check_contract(path, None)  # from disk: memory mapped, other code paths
    assert not MARKER.exists()


@pytest.mark.parametrize("name", list(VALID), ids=list(VALID))
def test_valid_files_of_every_format_load(name: str) -> None:
    """The other half of the contract: the mutation corpus starts from files that load."""
    check_result(load_tensors(VALID[name], name))


def _mutate(buf: bytearray, data: st.DataObject) -> bytearray:
    for _ in range(data.draw(st.integers(1, 6), label="n")):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if action == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del buf[pos : pos + data.draw(st.integers(1, 64))]
        elif action == "truncate":
            del buf[pos:]
        else:
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    return buf


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.data())
def test_mutated_files_of_every_format_keep_the_contract(name: str, data: st.DataObject) -> None:
    check_contract(bytes(_mutate(bytearray(VALID[name]), data)), name)


DIMS = st.one_of(
    st.integers(0, 4), st.integers(0, 2**70), st.sampled_from([2**31, 2**62, 2**63, 2**64])
)
SHAPES = st.one_of(
    st.lists(DIMS, max_size=8),
    st.lists(st.integers(0, 2), min_size=60, max_size=70),
    st.sampled_from(list(HOSTILE_SHAPES.values())),
)


@FUZZ
@given(SHAPES, st.sampled_from(["F32", "F16", "I64", "BOOL", "F8_E4M3", "Q4"]), st.integers(0, 64))
def test_safetensors_header_edits_keep_the_contract(shape: list, dtype: str, nbytes: int) -> None:
    header = {"w": {"dtype": dtype, "shape": shape, "data_offsets": [0, nbytes]}}
    check_contract(st_raw(header, b"\1" * nbytes), "h.safetensors")


@FUZZ
@given(SHAPES, st.integers(0, 64), st.booleans())
def test_npy_and_npz_header_edits_keep_the_contract(shape: list, nbytes: int, in_npz: bool) -> None:
    blob = npy_raw(_tuple_text(shape), b"\1" * nbytes)
    if in_npz:
        check_contract(zip_of(ok=npy_bytes(np.ones(2, np.float32)), edited=blob), "h.npz")
    else:
        check_contract(blob, "h.npy")


@FUZZ
@given(st.sampled_from(["v.safetensors", "v.npy"]), st.data())
def test_header_json_and_dict_edits_keep_the_contract(name: str, data: st.DataObject) -> None:
    """Edit a real header's text: a shape, a dtype or an offset swapped for another value."""
    blob = VALID[name]
    if name.endswith(".safetensors"):
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + n])
        key = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        field = data.draw(st.sampled_from(["shape", "dtype", "data_offsets"]))
        header[key][field] = data.draw(
            st.one_of(SHAPES, st.sampled_from(["F32", "X", 3, None, [0], [9, 1]]))
        )
        edited = st_raw(header, blob[8 + n :])
    else:
        edited = npy_raw(_tuple_text(data.draw(SHAPES)), blob[128:])
    check_contract(edited, name)
