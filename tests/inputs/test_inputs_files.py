"""load_tensors: every format, the dtype rules, and every bad file with a clear message."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest
import torch

from quantviz.inputs import InputError, load_tensors, open_checkpoint
from tests.inputs._helpers import (
    expect_error,
    npy_bytes,
    npz_bytes,
    pt_bytes,
    st_bytes,
    st_raw,
)

A = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5


# ---- good files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("m.csv", b"1,2,3\n4,5,6\n"),
        ("m.csv", b"a,b,c\n1,2,3\n4,5,6\n"),
        ("m.tsv", b"x\ty\tz\r\n1\t2\t3\r\n4\t5\t6\r\n"),
        ("m.txt", b"1 2 3\n4 5 6"),
        ("m.txt", "\ufeff1;2;3\n4;5;6".encode()),  # UTF-8 BOM from Excel
        ("m.csv", "1,2,3\n4,5,6".encode("utf-16")),
        ("m.txt", b"tensor([[1., 2., 3.],\n        [4., 5., 6.]])"),
    ],
)
def test_text_files(filename: str, data: bytes) -> None:
    out = load_tensors(data, filename)
    assert list(out) == ["m"]
    assert out["m"].tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8])
def test_npy_single_matrix_becomes_float32(dtype) -> None:
    out = load_tensors(npy_bytes(A.astype(dtype) if dtype != np.uint8 else A.clip(0)), "w.npy")
    assert list(out) == ["w"]
    assert out["w"].dtype == torch.float32
    expected = A.astype(dtype) if dtype != np.uint8 else A.clip(0)
    assert np.array_equal(out["w"].numpy(), expected.astype(np.float32))


def test_npy_fortran_order_and_big_endian() -> None:
    f = np.asfortranarray(A)
    assert np.array_equal(load_tensors(npy_bytes(f), "f.npy")["f"].numpy(), A)
    be = A.astype(">f4")
    assert np.array_equal(load_tensors(npy_bytes(be), "b.npy")["b"].numpy(), A)


def test_npz_gives_every_array_and_keeps_int_dtype() -> None:
    data = npz_bytes(w=A, ids=np.arange(5), half=A.astype(np.float16))
    out = load_tensors(data, "arrays.npz")
    assert list(out) == ["w", "ids", "half"]
    assert out["w"].dtype == torch.float32
    assert out["ids"].dtype == torch.int64  # listed, not converted: not quantizable
    assert out["half"].dtype == torch.float32
    with open_checkpoint(data, "arrays.npz") as ck:
        by_name = {e.name: e for e in ck.entries}
    assert by_name["half"].dtype == "float16"
    assert by_name["half"].nbytes == A.size * 2
    assert not by_name["ids"].quantizable
    assert by_name["ids"].reason == "int64 tensor: not quantizable"


def test_safetensors_every_dtype_converted_and_original_dtype_kept() -> None:
    t = torch.from_numpy(A)
    tensors = {
        "f32": t,
        "bf16": t.to(torch.bfloat16),
        "f16": t.to(torch.float16),
        "f64": t.to(torch.float64),
        "mask": t > 0,
        "pos": torch.arange(7),
    }
    data = st_bytes(tensors)
    out = load_tensors(data, "model.safetensors")
    for name in ("f32", "bf16", "f16", "f64"):
        assert out[name].dtype == torch.float32
        assert torch.equal(out[name], tensors[name].to(torch.float32))
    assert torch.equal(out["mask"], tensors["mask"])
    assert torch.equal(out["pos"], tensors["pos"])
    with open_checkpoint(data, "model.safetensors") as ck:
        entries = {e.name: e for e in ck.entries}
    assert entries["bf16"].dtype == "bfloat16"
    assert entries["f64"].nbytes == 12 * 8
    assert (entries["mask"].dtype, entries["mask"].quantizable) == ("bool", False)
    assert entries["pos"].reason == "int64 tensor: not quantizable"
    assert all(entries[n].quantizable for n in ("f32", "bf16", "f16", "f64"))


def test_pt_state_dict_is_flattened_with_dots() -> None:
    sd = {
        "model": {"encoder": {"0": {"weight": torch.ones(2, 3)}}, "head.bias": torch.zeros(3)},
        "layers": [torch.full((2,), 2.0), {"w": torch.eye(2, dtype=torch.float16)}],
        "epoch": 7,
        "note": "not a tensor",
    }
    out = load_tensors(pt_bytes(sd), "ckpt.pt")
    assert list(out) == ["model.encoder.0.weight", "model.head.bias", "layers.0", "layers.1.w"]
    assert out["layers.1.w"].dtype == torch.float32


@pytest.mark.parametrize("legacy", [False, True])
def test_pt_single_tensor_named_after_file(legacy: bool) -> None:
    out = load_tensors(pt_bytes(torch.from_numpy(A).to(torch.bfloat16), legacy), "weights.pth")
    assert list(out) == ["weights"]
    assert out["weights"].dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("single", [False, True], ids=["state-dict", "bare-tensor"])
def test_pt_parameters_come_out_as_plain_detached_tensors(
    tmp_path, single: bool, legacy: bool, dtype: torch.dtype
) -> None:
    # torch.save(model.state_dict()) of a model that is training stores Parameters with
    # requires_grad=True; a loaded one would make every later in-place or out= op raise.
    p = torch.nn.Parameter(torch.randn(4, 4).to(dtype))
    data = pt_bytes(p if single else {"w": p, "inner": {"b": torch.nn.Parameter(torch.ones(4))}})
    path = tmp_path / "m.pt"
    path.write_bytes(data)
    loaded = list(load_tensors(data, "m.pt").values())
    with open_checkpoint(path) as ck:
        loaded += [ck.load(e.name) for e in ck.entries]
    for t in loaded:
        assert type(t) is torch.Tensor
        assert not t.requires_grad
        torch.abs(t, out=t)  # raised "a leaf Variable that requires grad" before


def test_format_is_decided_by_content_unknown_extension_is_fine() -> None:
    assert list(load_tensors(npy_bytes(A), "data.bin.raw")) == ["data.bin"]
    assert list(load_tensors(st_bytes({"x": torch.ones(2)}), "noext")) == ["x"]


# ---- name vs content ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("w.npy", st_bytes({"x": torch.ones(2)}), "named like a NumPy .npy.*safetensors"),
        ("w.safetensors", npy_bytes(A), "named like a safetensors.*NumPy .npy"),
        ("w.pt", npz_bytes(a=A), "PyTorch checkpoint.*NumPy .npz"),
        ("w.npz", pt_bytes({"a": torch.ones(1)}), "NumPy .npz.*PyTorch"),
        ("w.csv", npy_bytes(A), "text file.*NumPy .npy"),
        ("w.npy", b"1,2\n3,4", "NumPy .npy.*text"),
    ],
)
def test_content_that_contradicts_the_name(filename: str, data: bytes, message: str) -> None:
    expect_error(message, load_tensors, data, filename)


# ---- bad single matrices -----------------------------------------------------------------


@pytest.mark.parametrize("filename", ["e.csv", "e.npy", "e.npz", "e.pt", "e.safetensors"])
def test_empty_file(filename: str) -> None:
    expect_error("empty", load_tensors, b"", filename)


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"  \n\n ", "e.csv", "empty"),
        (npy_bytes(np.zeros((0, 3), np.float32)), "e.npy", r"empty \(shape 0×3\)"),
        (npy_bytes(np.float32(3.0)), "s.npy", "0-d scalar"),
        (pt_bytes(torch.tensor(3.0)), "s.pt", "0-d scalar"),
        (npy_bytes(np.zeros((1, 2, 1, 2, 1), np.float32)), "d.npy", "5 dimensions"),
        (pt_bytes(torch.zeros(1, 1, 1, 1, 1, 1)), "d.pt", "6 dimensions"),
        (npy_bytes(np.ones(3, np.complex64)), "c.npy", "complex"),
        (pt_bytes(torch.ones(3, dtype=torch.complex64)), "c.pt", "complex"),
        (npy_bytes(np.array(["a", "b"])), "u.npy", "does not hold plain numbers"),
        (npy_bytes(np.array([True, False])), "b.npy", "bool"),
        (npy_bytes(np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])), "r.npy", "plain numbers"),
        (b"1,2\n3", "r.csv", r"'r.csv': Row 2 has 1 value, expected 2"),
        (b"1,2\n3,x", "r.csv", r"'x' at row 2, column 2 is not a number"),
    ],
)
def test_bad_single_matrices(data: bytes, filename: str, message: str) -> None:
    expect_error(message, load_tensors, data, filename)


def test_object_array_is_refused_before_unpickling() -> None:
    data = npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    expect_error("object array.*pickle", load_tensors, data, "o.npy")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (npy_bytes(np.array([[1.0, np.nan], [np.inf, 2.0]], np.float32)), "n.npy"),
        (pt_bytes(torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]])), "n.pt"),
        (b"1,nan\ninf,2", "n.csv"),
    ],
)
def test_nan_inf_in_single_matrix_say_how_many_and_where(data: bytes, filename: str) -> None:
    msg = expect_error("2 values that are NaN or infinite", load_tensors, data, filename)
    assert "nan" in msg
    assert "inf" in msg


BIG = np.ones((3, 4))
BIG[1, 2], BIG[2, 0] = 1e39, -1e300  # finite in float64, ±inf once converted to float32


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (npy_bytes(BIG), "big.npy"),
        (npz_bytes(w=BIG), "big.npz"),
        (st_bytes({"w": torch.from_numpy(BIG)}), "big.safetensors"),
        (pt_bytes({"w": torch.from_numpy(BIG)}), "big.pt"),
        (pt_bytes(torch.from_numpy(BIG)), "big.pt"),
    ],
    ids=["npy", "npz", "safetensors", "pt-state-dict", "pt-bare-tensor"],
)
def test_float64_beyond_float32_range_says_so_not_nan(data: bytes, filename: str) -> None:
    msg = expect_error(
        r"2 values are too large for float32 \(beyond ±3.4e38\), the first at index \(1, 2\)",
        load_tensors,
        data,
        filename,
    )
    assert "NaN" not in msg
    assert "1e+39" in msg


def test_float32_range_edge_is_the_rounding_edge() -> None:
    # Just below max + half an ulp rounds to float32's max: fine. From there on it becomes inf.
    edge = 2.0**128 - 2.0**103
    ok = load_tensors(npy_bytes(np.array([np.nextafter(edge, 0), -1.0])), "ok.npy")["ok"]
    assert ok[0] == torch.finfo(torch.float32).max
    expect_error("1 value is too large", load_tensors, npy_bytes(np.array([1.0, -edge])), "a.npy")


def test_real_inf_in_float64_is_still_called_infinite() -> None:
    data = npz_bytes(w=np.array([1.0, np.inf, 1e39]))
    expect_error(r"1 value that is NaN or infinite: index \(1\)", load_tensors, data, "m.npz")


def test_nan_in_checkpoint_is_found_on_load_not_on_open() -> None:
    bad = torch.ones(4, 4)
    bad[1, 2] = float("nan")
    data = st_bytes({"good": torch.ones(3, 3), "bad": bad})
    with open_checkpoint(data, "m.safetensors") as ck:
        assert [e.quantizable for e in ck.entries] == [True, True]
        assert ck.load("good").shape == (3, 3)
        expect_error(r"Tensor 'bad' has 1 value that is NaN.*index \(1, 2\)", ck.load, "bad")
        assert torch.isnan(ck.load("bad", check_finite=False)[1, 2])
    expect_error("Tensor 'bad'", load_tensors, data, "m.safetensors")


# ---- size bounds, checked before the heavy work ------------------------------------------


def test_element_bound_from_header() -> None:
    expect_error("more than the limit", load_tensors, npy_bytes(A), "a.npy", max_elements=11)
    st = st_bytes({"big": torch.ones(100), "small": torch.ones(3)})
    with open_checkpoint(st, "m.safetensors", max_elements=50) as ck:
        big = next(e for e in ck.entries if e.name == "big")
        assert not big.quantizable
        assert "too large" in big.reason
        expect_error("more than the limit", ck.load, "big")
        assert ck.load("small").shape == (3,)


def test_byte_bounds() -> None:
    expect_error("more than the limit", load_tensors, npy_bytes(A), "a.npy", max_file_bytes=64)
    expect_error("more than the limit", load_tensors, b"1,2\n3,4\n", "a.csv", max_text_bytes=4)


def test_zip_bomb_npz_is_refused_before_decompressing() -> None:
    # 67 MB of zeros compress to ~65 kB; declared sizes in the zip directory give it away.
    data = npz_bytes(compressed=True, z=np.zeros((8200, 8200), np.uint8))
    assert len(data) < 200_000
    expect_error("more than the limit", load_tensors, data, "bomb.npz")
    expect_error("zip bomb", load_tensors, data, "bomb.npz", max_file_bytes=10_000_000)


def test_npz_with_a_lying_zip_directory() -> None:
    data = bytearray(npz_bytes(compressed=True, a=A))
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size: 4 GiB
    expect_error("would unpack to", load_tensors, bytes(data), "lie.npz")


# ---- truncated and corrupted files of each format ----------------------------------------


GOOD_FILES = {
    "t.npy": npy_bytes(A),
    "t.npz": npz_bytes(compressed=True, a=A, b=A * 2),
    "t.safetensors": st_bytes({"a": torch.from_numpy(A), "b": torch.ones(5)}),
    "t.pt": pt_bytes({"a": torch.from_numpy(A), "b": torch.ones(5)}),
    "legacy.pt": pt_bytes({"a": torch.from_numpy(A)}, legacy=True),
}


@pytest.mark.parametrize("filename", list(GOOD_FILES))
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_files(filename: str, keep: float) -> None:
    data = GOOD_FILES[filename]
    with pytest.raises(InputError, match=r"truncated|corrupted|empty|not in a format") as info:
        load_tensors(data[: int(len(data) * keep)], filename)
    assert filename.split(".")[0] in str(info.value) or "file" in str(info.value)


@pytest.mark.parametrize("filename", list(GOOD_FILES))
def test_corrupted_files_never_crash(filename: str) -> None:
    data = GOOD_FILES[filename]
    rng = np.random.default_rng(0)
    for _ in range(40):
        bad = bytearray(data)
        for i in rng.integers(0, len(bad), size=4):
            bad[i] = int(rng.integers(0, 256))
        try:
            out = load_tensors(bytes(bad), filename)
        except InputError:
            continue
        assert all(isinstance(t, torch.Tensor) for t in out.values())


def test_safetensors_header_length_that_lies() -> None:
    good = GOOD_FILES["t.safetensors"]
    huge = struct.pack("<Q", 2**39) + good[8:]
    expect_error("corrupted", load_tensors, huge, "x.safetensors")
    beyond = struct.pack("<Q", len(good)) + good[8:]
    expect_error("truncated or corrupted", load_tensors, beyond, "x.safetensors")
    expect_error("not valid JSON", load_tensors, st_raw({}, b"")[:8] + b"{nope", "x.safetensors")


def test_safetensors_unknown_and_complex_dtypes_are_listed_not_loaded() -> None:
    header = {
        "c": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]},
        "f4": {"dtype": "F4", "shape": [4], "data_offsets": [8, 10]},
        "ok": {"dtype": "F32", "shape": [1], "data_offsets": [10, 14]},
    }
    data = st_raw(header, b"\0" * 14)
    with open_checkpoint(data, "m.safetensors") as ck:
        e = {x.name: x for x in ck.entries}
        assert not e["c"].quantizable
        assert "complex" in e["c"].reason
        assert e["f4"].reason == "F4 tensor: unsupported"
        expect_error("complex", ck.load, "c")
        expect_error("unsupported", ck.load, "f4")
        assert ck.load("ok").tolist() == [0.0]


def test_zip_that_is_neither_npz_nor_torch() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.md", "hello")
    expect_error("neither a NumPy .npz nor a PyTorch", load_tensors, buf.getvalue(), "x.npz")


def test_random_binary_is_not_a_format() -> None:
    expect_error("not in a format", load_tensors, bytes(range(256)) * 4, "x.dat")
