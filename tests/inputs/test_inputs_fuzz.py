"""Fuzzing: random text and random or mutated bytes only ever give tensors or an InputError."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantviz.inputs import InputError, load_tensors, parse_matrix
from tests.inputs._helpers import npy_bytes, npz_bytes, pt_bytes, st_bytes

# QV_FUZZ_EXAMPLES=5000 for a deeper run; 200 keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("QV_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

EXTENSIONS = [".csv", ".tsv", ".txt", ".npy", ".npz", ".safetensors", ".pt", ".pth", ""]

# Seeds so random bytes reach past the magic-byte dispatch into every parser.
MAGICS = [b"", b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"\x80\x02", b"\x10\0\0\0\0\0\0\0{"]

VALID = [
    ("v.npy", npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4))),
    ("v.npz", npz_bytes(compressed=True, a=np.ones((2, 3)), b=np.arange(4))),
    ("v.npz", npz_bytes(a=np.ones((2, 3), np.float16))),
    ("v.safetensors", st_bytes({"a": torch.ones(2, 3), "b": torch.arange(4)})),
    ("v.pt", pt_bytes({"a": torch.ones(2, 3), "n": {"b": torch.zeros(2)}})),
    ("v.pt", pt_bytes({"a": torch.ones(2, 3)}, legacy=True)),
    ("v.csv", b"a,b\n1,2\n3,4\n"),
]

# Text made of the characters that matter to the parser, plus anything else.
PARSER_ALPHABET = st.sampled_from([*"0123456789.,;\t\n []()-+eEjnaif ", "tensor(", "nan"])
PARSER_TEXT = st.lists(PARSER_ALPHABET, max_size=80).map("".join)


def _check_result(out: object) -> None:
    assert isinstance(out, dict)
    assert out  # the contract: a non-empty dict, or an InputError
    for name, t in out.items():
        assert isinstance(name, str)
        assert isinstance(t, torch.Tensor)
        if t.is_floating_point():
            assert t.dtype == torch.float32
            assert bool(torch.isfinite(t).all())


def _check_matrix(t: torch.Tensor) -> None:
    assert t.dtype == torch.float32
    assert 1 <= t.ndim <= 4
    assert t.numel() > 0
    assert bool(torch.isfinite(t).all())


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    try:
        t = parse_matrix(text)
    except InputError:
        return
    _check_matrix(t)


@FUZZ
@given(PARSER_TEXT)
def test_random_text_from_parser_alphabet(text: str) -> None:
    try:
        t = parse_matrix(text)
    except InputError:
        return
    _check_matrix(t)


@FUZZ
@given(
    st.lists(
        st.lists(
            st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=6
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([",", "\t", " ", ";"]),
)
def test_tables_round_trip(rows: list[list[float]], sep: str) -> None:
    text = "\n".join(sep.join(repr(v) for v in row) for row in rows)
    if len(rows) == 1 and len(rows[0]) == 1:
        return  # a lone number is a 0-d scalar, refused by design
    if any(len(r) != len(rows[0]) for r in rows):
        with pytest.raises(InputError, match=r"values?, expected"):
            parse_matrix(text)
        return
    t = parse_matrix(text)
    assert t.tolist() == [[float(np.float32(v)) for v in row] for row in rows]


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=300), st.sampled_from(EXTENSIONS))
def test_random_bytes(magic: bytes, tail: bytes, ext: str) -> None:
    try:
        out = load_tensors(magic + tail, "fuzz" + ext)
    except InputError:
        return
    _check_result(out)


@FUZZ
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_files(valid: tuple[str, bytes], data: st.DataObject) -> None:
    filename, blob = valid
    buf = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if action == "flip" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del buf[pos : pos + data.draw(st.integers(1, 64))]
        else:
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    try:
        out = load_tensors(bytes(buf), filename)
    except InputError:
        return
    _check_result(out)
