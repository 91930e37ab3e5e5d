"""Element grids, element rounding and scale rounding of quantviz.formats, against hand-worked
values and independent oracles (PyTorch's float8 casts, ml_dtypes' FP6/FP4, bitsandbytes' NF4)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
import torch

from quantviz import formats as F

FP_FORMATS = ["fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1"]

# bitsandbytes/functional.py, get_4bit_type("nf4") (QLoRA, Dettmers et al. 2023), copied by hand
# from the published source as the oracle for quantviz's own table.
BNB_NF4 = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
]

ML_DTYPES = {
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("fp4_e2m1", [0, 0.5, 1, 1.5, 2, 3, 4, 6], id="fp4"),
        pytest.param(
            "fp6_e2m3", [i / 8 for i in range(8)] + [1 + i / 8 for i in range(8)], id="e2m3"
        ),
    ],
)
def test_small_grids_by_hand(name, expected) -> None:
    grid = F.element_grid(name)
    positives = grid[grid >= 0].tolist()
    if name == "fp6_e2m3":
        expected = expected + [2 + i / 4 for i in range(8)] + [4 + i / 2 for i in range(8)]
    assert positives == expected
    assert torch.equal(grid[grid < 0], -grid[grid > 0].flip(0))


@pytest.mark.parametrize(
    ("name", "top", "count", "smallest"),
    [
        pytest.param("fp8_e4m3", 448.0, 253, 2.0**-9, id="e4m3"),
        pytest.param("fp8_e5m2", 57344.0, 247, 2.0**-16, id="e5m2"),
        pytest.param("fp6_e2m3", 7.5, 63, 0.125, id="e2m3"),
        pytest.param("fp6_e3m2", 28.0, 63, 0.0625, id="e3m2"),
        pytest.param("fp4_e2m1", 6.0, 15, 0.5, id="e2m1"),
        pytest.param("nf4", 1.0, 16, 0.07958029955625534, id="nf4"),
    ],
)
def test_grid_extent(name, top, count, smallest) -> None:
    grid = F.element_grid(name)
    assert grid.dtype == torch.float32
    assert torch.all(grid[1:] > grid[:-1])
    assert float(grid.max()) == top == F.element_max(name)
    assert grid.numel() == count
    assert int((grid == 0).sum()) == 1
    assert float(grid[grid > 0].min()) == pytest.approx(smallest, rel=1e-7)


def test_nf4_levels_are_bitsandbytes_published_table() -> None:
    assert F.element_grid("nf4").tolist() == pytest.approx(BNB_NF4, abs=0)
    assert F.element_codes("nf4").tolist() == list(range(16))


@pytest.mark.parametrize("name", FP_FORMATS)
def test_grid_matches_ml_dtypes_every_code(name) -> None:
    """Decoding every code agrees with ml_dtypes' own decoding of the same bit pattern."""
    dtype = ML_DTYPES[name]
    codes = F.element_codes(name).numpy().astype(np.uint8)
    theirs = codes.view(dtype)  # one value per byte, in the low bits for FP6/FP4
    assert np.array_equal(theirs.astype(np.float32), F.element_grid(name).numpy())
    assert torch.equal(F.decode_elements(F.element_codes(name), name), F.element_grid(name))


@pytest.mark.parametrize(
    ("name", "inputs", "expected"),
    [
        # ties go to the even code: 0.25 between 0 and 0.5 -> 0; 0.75 between 0.5 (odd) and 1 -> 1
        pytest.param(
            "fp4_e2m1",
            [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0],
            [0, 1, 1, 2, 2, 4, 4],
            id="fp4-ties",
        ),
        pytest.param("fp4_e2m1", [-0.25, -0.75, -2.5, -5.0], [0, -1, -2, -4], id="fp4-neg-ties"),
        pytest.param(
            "fp4_e2m1", [6.0, 6.5, 100.0, -7.0, 1e30], [6, 6, 6, -6, 6], id="fp4-saturates"
        ),
        pytest.param(
            "fp8_e4m3", [464.0, 480.0, 1e9, -500.0], [448, 448, 448, -448], id="e4m3-saturates"
        ),
        # subnormals (step 2^-9): 2^-10 ties to 0, 3·2^-10 and 5·2^-10 to 2^-8 (code 2);
        # normals: 17 ties to 16 (even code), 19 to 20
        pytest.param(
            "fp8_e4m3",
            [2.0**-9, 2.0**-10, 3 * 2.0**-10, 2.0**-11, 5 * 2.0**-10, 17.0, 19.0],
            [2.0**-9, 0.0, 2.0**-8, 0.0, 2.0**-8, 16.0, 20.0],
            id="e4m3-subnormals",
        ),
        pytest.param(
            "fp8_e5m2", [57344.0, 61440.0, 1e9], [57344, 57344, 57344], id="e5m2-saturates"
        ),
        pytest.param("fp6_e2m3", [7.5, 7.75, 8.0, 0.0625], [7.5, 7.5, 7.5, 0.0], id="e2m3"),
        pytest.param("fp8_e5m2", [1.125, 1.375, -1.125], [1.0, 1.5, -1.0], id="e5m2-ties"),
        pytest.param("fp6_e2m3", [1.0625, 1.1875, 0.1875], [1.0, 1.25, 0.25], id="e2m3-ties"),
        pytest.param("fp6_e3m2", [1.125, 1.375, 26.0], [1.0, 1.5, 24.0], id="e3m2-ties"),
        # NF4: the float32 midpoint of levels 7 (0.0) and 8 goes to the even code 8; the one of
        # levels 8 and 9 to code 8 again
        pytest.param(
            "nf4",
            [0.07958029955625534 / 2, (0.07958029955625534 + 0.16093020141124725) / 2],
            [0.07958029955625534, 0.07958029955625534],
            id="nf4-ties",
        ),
        pytest.param("fp6_e3m2", [28.0, 30.0, 0.03125, 0.09375], [28, 28, 0, 0.125], id="e3m2"),
        pytest.param("nf4", [0.0, 1.0, 2.0, -3.0, 0.03], [0.0, 1.0, 1.0, -1.0, 0.0], id="nf4"),
    ],
)
def test_rounding_golden(name, inputs, expected) -> None:
    y = torch.tensor(inputs, dtype=torch.float32)
    codes, values = F.encode_elements(y, name)
    assert values.tolist() == [float(e) for e in expected]
    assert torch.equal(F.decode_elements(codes, name), values.abs().copysign(values))


@pytest.mark.parametrize(
    ("name", "negative_zero"),
    [pytest.param("fp8_e4m3", 0x80, id="e4m3-cast"), pytest.param("fp4_e2m1", 0x8, id="fp4-bits")],
)
def test_zero_keeps_its_sign_bit_like_a_cast(name, negative_zero) -> None:
    """+0 is code 0; -0 and negatives that round to zero keep the sign bit (as torch's and
    ml_dtypes' casts do), and decode to a zero."""
    codes, values = F.encode_elements(torch.tensor([0.0, -0.0, -1e-30, 1e-30]), name)
    assert codes.tolist() == [0, negative_zero, negative_zero, 0]
    assert values.tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2"])
def test_bit_arithmetic_agrees_with_the_fp8_cast_path(name) -> None:
    """FP8 uses torch's cast for speed; the bit arithmetic FP6/FP4 use gives the same codes and
    values on FP8 too (so the FP6/FP4 path is checked against an independent cast here)."""
    spec = F.FLOAT_SPECS[name]
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(100_000, generator=gen) * torch.exp2(
        torch.randint(-24, 20, (100_000,), generator=gen)
    )
    grid = F.element_grid(name)
    y = torch.cat([y, grid, (grid[1:] + grid[:-1]) / 2, torch.tensor([-0.0, 1e30, -1e30])])
    assert torch.equal(
        F._float_encode(y.clone(), spec).to(torch.uint8), F.encode_codes(y.clone(), name)
    )
    assert torch.equal(F._float_round(y.clone(), spec), F.round_elements(y.clone(), name))


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        pytest.param("fp8_e4m3", torch.float8_e4m3fn, id="e4m3"),
        pytest.param("fp8_e5m2", torch.float8_e5m2, id="e5m2"),
    ],
)
def test_fp8_matches_torch_cast(name, dtype) -> None:
    """Oracle: PyTorch's round-to-nearest-even cast, on values clamped into range first (the
    cast itself gives NaN/inf beyond the max, where quantviz saturates)."""
    gen = torch.Generator().manual_seed(0)
    top = F.element_max(name)
    y = torch.randn(200_000, generator=gen) * torch.exp2(
        torch.randint(-20, 18, (200_000,), generator=gen)
    )
    grid = F.element_grid(name)
    mids = (grid[1:] + grid[:-1]) / 2  # every exact tie
    y = torch.cat([y, grid, mids]).clamp(-top, top)
    codes, values = F.encode_elements(y, name)
    cast = y.to(dtype)
    assert torch.equal(values, cast.to(torch.float32))
    nonzero = cast.to(torch.float32) != 0
    assert torch.equal(codes[nonzero], cast.view(torch.uint8)[nonzero])


@pytest.mark.parametrize("name", ["fp6_e2m3", "fp6_e3m2", "fp4_e2m1"])
def test_sub_byte_matches_ml_dtypes(name) -> None:
    """Oracle: ml_dtypes' float32 -> FP6/FP4 conversion (round to nearest even, saturating for
    these finite-only types)."""
    gen = torch.Generator().manual_seed(1)
    grid = F.element_grid(name)
    y = torch.cat([torch.randn(50_000, generator=gen) * 4, grid, (grid[1:] + grid[:-1]) / 2])
    y = y.clamp(-F.element_max(name), F.element_max(name))
    theirs = y.numpy().astype(ML_DTYPES[name]).astype(np.float32)
    assert np.array_equal(F.round_elements(y, name).numpy(), theirs)


@pytest.mark.parametrize(
    ("fmt", "inputs", "expected"),
    [
        pytest.param("fp32", [0.1], [np.float32(0.1)], id="fp32"),
        pytest.param(
            "fp16", [0.1, 1e6, 0.0], [float(np.float16(0.1)), 65504.0, 2.0**-24], id="fp16"
        ),
        pytest.param("bf16", [0.1], [float(torch.tensor(0.1).to(torch.bfloat16))], id="bf16"),
        pytest.param("fp8_e4m3", [0.1, 1000.0, 0.0], [0.1015625, 448.0, 2.0**-9], id="e4m3"),
        pytest.param("e8m0", [0.1, 1.0, 3.9, 0.0], [0.0625, 1.0, 2.0, 2.0**-127], id="e8m0"),
    ],
)
def test_round_scale(fmt, inputs, expected) -> None:
    got = F.round_scale(torch.tensor(inputs, dtype=torch.float32), fmt)
    assert got.dtype == torch.float32
    assert got.tolist() == pytest.approx([float(e) for e in expected], rel=0, abs=0)


def test_e8m0_matches_torch_cast_on_powers_of_two() -> None:
    """float8_e8m0fnu holds exactly the powers of two quantviz's e8m0 scales take; the byte is
    the biased exponent."""
    scales = torch.ldexp(torch.ones(255), torch.arange(-127, 128))
    rounded = F.round_scale(scales * 1.5, "e8m0")
    assert torch.equal(rounded, scales)
    cast = scales.to(torch.float8_e8m0fnu)
    assert torch.equal(F.e8m0_exponent(rounded), cast.view(torch.uint8))
    assert torch.equal(cast.to(torch.float32), scales)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="element_format must be one of"):
        F.check_element_format("fp3")
    with pytest.raises(ValueError, match="scale_format must be one of"):
        F.round_scale(torch.ones(1), "fp64")
    with pytest.raises(ValueError, match=r"QuantScheme\.grid"):
        F.element_grid("int")


def test_dynamic_map_shape() -> None:
    table = F.dynamic_map()
    assert table.numel() == 256
    assert float(table.max()) == 1.0
    assert float(table.min()) == pytest.approx(-0.99296875, rel=1e-6)
    assert math.isclose(float(table[table > 0].min()), 1e-6 * 0.55, rel_tol=1e-6)


def test_fp4_matches_torch_float4_cast_where_torch_has_one() -> None:
    """torch.float4_e2m1fn_x2 packs two E2M1 codes per byte; torch 2.13's CPU build cannot cast
    to or from it yet ("copy_kernel not implemented"), so ml_dtypes and torchao are the FP4
    oracles there. Where the cast exists, the packed bytes must equal quantviz's codes."""
    grid = F.element_grid("fp4_e2m1")
    y = torch.cat([grid, (grid[1:] + grid[:-1]) / 2, torch.randn(64) * 3]).clamp(-6, 6)
    y = y[: y.numel() // 2 * 2]
    try:
        packed = y.reshape(-1, 2).to(torch.float4_e2m1fn_x2)
    except (NotImplementedError, RuntimeError) as e:
        pytest.skip(f"no float4_e2m1fn_x2 cast in this torch build: {e}")
    codes = F.encode_codes(y.clone(), "fp4_e2m1").to(torch.uint8).reshape(-1, 2)
    assert torch.equal(packed.view(torch.uint8).reshape(-1), codes[:, 0] | (codes[:, 1] << 4))


@pytest.mark.parametrize("name", FP_FORMATS)
def test_allocation_free_encoder_matches(name) -> None:
    """The slice encoder that writes through reused int32 buffers gives _float_encode's codes."""
    spec = F.FLOAT_SPECS[name]
    gen = torch.Generator().manual_seed(3)
    grid = F.element_grid(name)
    y = torch.randn(4096, generator=gen) * torch.exp2(
        torch.randint(-12, 12, (4096,), generator=gen)
    )
    y = torch.cat([y, grid, (grid[1:] + grid[:-1]) / 2, torch.tensor([-0.0, 1e30, -1e30])])
    out = torch.empty(y.shape, dtype=torch.uint8)
    scratch = (torch.empty(y.shape, dtype=torch.int32), torch.empty(y.shape, dtype=torch.int32))
    F._float_encode_into(y.clone(), spec, out, scratch)
    assert torch.equal(out, F._float_encode(y.clone(), spec).to(torch.uint8))
