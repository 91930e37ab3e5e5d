"""Headers that lie: negative, bool or huge dims in .npy/.npz, bad shapes and offsets in
safetensors. Each must give an InputError naming the problem, before any data is read."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from quantviz.inputs import load_tensors
from tests.inputs._helpers import expect_error, npy_bytes, st_raw

A = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5


# ---- .npy / .npz shapes ----------------------------------------------------------------------


def npy_with_shape(shape: str, n_data: int) -> bytes:
    """A .npy of float32 whose header says ``shape`` (it may lie), followed by n_data bytes."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape.encode()
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * n_data


def test_huge_header_shape_is_refused_without_allocating() -> None:
    data = npy_with_shape("(200000, 200000)", 16)
    expect_error("more than the limit", load_tensors, data, "big.npy")


BAD_NPY_SHAPES = ["(-1, 6)", "(-2, -3)", "(6, -1)", "(True, 6)", "(-6,)"]


@pytest.mark.parametrize("shape", BAD_NPY_SHAPES)
def test_npy_header_with_a_negative_or_bool_dim(shape: str) -> None:
    # (-1, 6) with 24 bytes of data used to load as 1×6: reshape inferred the -1.
    msg = expect_error(
        "every dimension must be a whole number", load_tensors, npy_with_shape(shape, 24), "a.npy"
    )
    assert shape in msg


@pytest.mark.parametrize("shape", BAD_NPY_SHAPES)
def test_npz_member_with_a_negative_or_bool_dim(shape: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.npy", npy_bytes(A))
        zf.writestr("bad.npy", npy_with_shape(shape, 24))
    msg = expect_error(
        "every dimension must be a whole number", load_tensors, buf.getvalue(), "m.npz"
    )
    assert "'bad'" in msg
    assert shape in msg


@pytest.mark.parametrize(
    "shape",
    [[-1, 6], [-2, -3], [True, 6], [2.0, 3], "6"],
    ids=["negative", "two-negative", "bool", "float", "string"],
)
def test_safetensors_header_with_a_bad_dim_names_the_shape(shape: object) -> None:
    header = {"x": {"dtype": "F32", "shape": shape, "data_offsets": [0, 24]}}
    msg = expect_error("invalid shape", load_tensors, st_raw(header, F32_6), "m.safetensors")
    assert repr(shape) in msg


# ---- safetensors headers that lie ----------------------------------------------------------

F32_6 = np.arange(6, dtype=np.float32).tobytes()


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        ({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 48]}}, F32_6, "holds 24"),
        ({"x": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 24]}}, F32_6, "shape"),
        ({"x": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 24]}}, F32_6, "shape"),
        ({"x": {"dtype": "F32", "shape": [-1, 6], "data_offsets": [0, 24]}}, F32_6, "shape"),
        ({"x": {"dtype": "F32", "shape": [6], "data_offsets": [-8, 16]}}, F32_6, "claims bytes"),
        ({"x": {"dtype": "F32", "shape": [6], "data_offsets": [24, 0]}}, F32_6, "claims bytes"),
        ({"x": {"dtype": "F32", "shape": [6], "data_offsets": "0-24"}}, F32_6, "offsets"),
        ({"x": {"dtype": 5, "shape": [6], "data_offsets": [0, 24]}}, F32_6, "no dtype"),
        ({"x": [1, 2]}, F32_6, "no description"),
        (
            {
                "x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                "y": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
            },
            F32_6,
            "overlap",
        ),
    ],
)
def test_safetensors_header_that_lies(header: dict, data: bytes, message: str) -> None:
    expect_error(message, load_tensors, st_raw(header, data), "lie.safetensors")
