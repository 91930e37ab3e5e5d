"""Element and scale formats: what one stored code can mean, and how a scale is stored.

An element format is a sorted set of representable values plus its max. Quantizing to it is:
divide by the block scale, saturate at ±max, round to the nearest representable value with ties
to the even code (no inf, no NaN). The integer grid is one such set (``QuantScheme.grid()``); the
floating-point formats are built here from their exponent/mantissa split, and NF4 is a lookup
table. Floating-point rounding is done with float32 bit arithmetic (no search per element), the
lookup formats with :func:`torch.bucketize` on tie-adjusted midpoints; both are vectorized.

Sources: OCP Microscaling Formats (MX) v1.0 spec, sections 5.3 (FP8 E4M3/E5M2, FP6 E2M3/E3M2,
FP4 E2M1) and 5.4 (E8M0); QLoRA (Dettmers et al. 2023) / bitsandbytes ``get_4bit_type("nf4")``
for the NF4 levels; Dettmers 2015 (arXiv:1511.04561) / bitsandbytes ``create_dynamic_map`` for
the 8-bit dynamic map of double quantization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch

ELEMENT_FORMATS: tuple[str, ...] = (
    "int",
    "fp8_e4m3",
    "fp8_e5m2",
    "fp6_e2m3",
    "fp6_e3m2",
    "fp4_e2m1",
    "nf4",
)
SCALE_FORMATS: tuple[str, ...] = ("fp32", "fp16", "bf16", "fp8_e4m3", "e8m0")
SCALE_FORMAT_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8_e4m3": 8, "e8m0": 8}

# QLoRA's NormalFloat4 levels as published in bitsandbytes (functional.get_4bit_type("nf4")):
# quantiles of N(0, 1) normalized to [-1, 1], with an exact 0 and 8 positive / 7 negative levels.
NF4_LEVELS: tuple[float, ...] = (
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
)


@dataclass(frozen=True)
class FloatSpec:
    """A sign/exponent/mantissa format without inf or NaN in its used range.

    Attributes:
        ebits: exponent bits.
        mbits: mantissa bits.
        bias: exponent bias; the smallest normal exponent is ``1 - bias``.
        max: largest finite value (saturation point).
    """

    ebits: int
    mbits: int
    bias: int
    max: float

    @property
    def bits(self) -> int:
        return 1 + self.ebits + self.mbits

    @property
    def emin(self) -> int:
        return 1 - self.bias


FLOAT_SPECS: dict[str, FloatSpec] = {
    "fp8_e4m3": FloatSpec(4, 3, 7, 448.0),  # OCP E4M3 / torch.float8_e4m3fn: S.1111.111 is NaN
    "fp8_e5m2": FloatSpec(5, 2, 15, 57344.0),  # IEEE-like: exponent 31 is inf/NaN
    "fp6_e2m3": FloatSpec(2, 3, 1, 7.5),
    "fp6_e3m2": FloatSpec(3, 2, 3, 28.0),
    "fp4_e2m1": FloatSpec(2, 1, 1, 6.0),
}
FORMAT_BITS: dict[str, int] = {**{k: v.bits for k, v in FLOAT_SPECS.items()}, "nf4": 4}


def check_element_format(name: str) -> str:
    if name not in ELEMENT_FORMATS:
        raise ValueError(f"element_format must be one of {ELEMENT_FORMATS}, got {name!r}")
    return name


def check_scale_format(name: str) -> str:
    if name not in SCALE_FORMATS:
        raise ValueError(f"scale_format must be one of {SCALE_FORMATS}, got {name!r}")
    return name


def element_max(name: str) -> float:
    """The largest representable magnitude of a non-integer format (448 for E4M3, 1 for NF4)."""
    return FLOAT_SPECS[name].max if name in FLOAT_SPECS else 1.0


def element_emax(max_value: float) -> int:
    """``floor(log2(max))``: the exponent of a format's largest value, as the OCP MX shared
    scale uses it (E4M3 8, E5M2 15, E2M3 2, E3M2 4, E2M1 2, int8's 127 → 6)."""
    return math.frexp(max_value)[1] - 1


@cache
def _float_table(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, codes)`` of every finite non-negative-zero code of a float format, sorted."""
    spec = FLOAT_SPECS[name]
    mag = torch.arange(2 ** (spec.ebits + spec.mbits), dtype=torch.float64)
    field, frac = torch.div(mag, 2**spec.mbits, rounding_mode="floor"), mag % 2**spec.mbits
    normal = (1 + frac / 2**spec.mbits) * torch.pow(2.0, field - spec.bias)
    value = torch.where(field == 0, frac * 2.0 ** (spec.emin - spec.mbits), normal)
    keep = value <= spec.max
    pos_v, pos_c = value[keep], mag[keep]
    sign = 2 ** (spec.ebits + spec.mbits)
    values = torch.cat([-pos_v[1:].flip(0), pos_v]).to(torch.float32)
    codes = torch.cat([(pos_c[1:] + sign).flip(0), pos_c]).to(torch.int64)
    return values, codes


@cache
def _table(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if name == "nf4":
        return torch.tensor(NF4_LEVELS, dtype=torch.float32), torch.arange(16)
    if name in FLOAT_SPECS:
        return _float_table(name)
    raise ValueError(
        f"no element grid for {name!r}: use one of {ELEMENT_FORMATS[1:]} "
        "(the integer grid comes from QuantScheme.grid())"
    )


def element_grid(name: str) -> torch.Tensor:
    """Every representable value of a non-integer element format, sorted, as float32 (one 0)."""
    return _table(name)[0].clone()


def element_codes(name: str) -> torch.Tensor:
    """The code (bit pattern for FP formats, index for NF4) of each :func:`element_grid` value."""
    return _table(name)[1].clone()


@cache
def decode_table(name: str) -> torch.Tensor:
    """float32 value of every code ``0 .. 2^bits - 1`` (NaN for codes the format never emits)."""
    values, codes = _table(name)
    out = torch.full((2 ** FORMAT_BITS[name],), math.nan, dtype=torch.float32)
    out[codes] = values
    if name in FLOAT_SPECS:
        out[2 ** (FORMAT_BITS[name] - 1)] = -0.0  # negative zero decodes; it is never emitted
    return out


@cache
def _tie_boundaries(values: tuple[float, ...], codes: tuple[int, ...]) -> torch.Tensor:
    """Midpoints between neighbours, nudged one ulp down where the upper neighbour has the even
    code, so that ``bucketize(right=False)`` sends an exact tie to the even code."""
    v = torch.tensor(values, dtype=torch.float64)
    mids = ((v[:-1] + v[1:]) / 2).to(torch.float32)
    upper_even = torch.tensor([c % 2 == 0 for c in codes[1:]])
    return torch.where(upper_even, torch.nextafter(mids, torch.tensor(-math.inf)), mids)


def round_to_grid(
    y: torch.Tensor, values: torch.Tensor, codes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest value of a sorted grid (ties to the even code), saturating at both ends.

    Returns:
        ``(rounded values, codes)``, shaped like ``y``.
    """
    bounds = _tie_boundaries(tuple(values.tolist()), tuple(codes.tolist())).to(y.device)
    idx = torch.bucketize(y, bounds)
    return values.to(y.device)[idx], codes.to(y.device)[idx]


def _rescale(spec: FloatSpec) -> float:
    """``2^(-126 - emin)``: multiplying by it moves the format's smallest normal onto float32's
    (2^-126), so the format's subnormals land on float32 subnormals and the float32 bit pattern,
    shifted right by ``23 - mbits``, is the format's code (exponent and mantissa fields)."""
    return 2.0 ** (-126 - spec.emin)


def _float_encode_into(
    y: torch.Tensor, spec: FloatSpec, out: torch.Tensor, scratch: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """:func:`_float_encode` written into ``out`` through two int32 ``scratch`` buffers shaped
    like ``y`` (which is overwritten), allocating nothing: the same integer operations."""
    sign, lsb = scratch
    shift = 23 - spec.mbits
    torch.bitwise_right_shift(y.view(torch.int32), 31, out=sign)
    sign.bitwise_and_(1 << (spec.ebits + spec.mbits))
    bits = y.abs_().clamp_(max=spec.max).mul_(_rescale(spec)).view(torch.int32)
    torch.bitwise_right_shift(bits, shift, out=lsb).bitwise_and_(1)
    bits.add_(lsb).add_((1 << (shift - 1)) - 1).bitwise_right_shift_(shift).bitwise_or_(sign)
    return out.copy_(bits)


def _float_code_magnitudes(y: torch.Tensor, spec: FloatSpec) -> torch.Tensor:
    """int32 ``|code|`` (exponent and mantissa fields) of ``y`` rounded to the format: saturate
    at the max, rescale (exact, a power of two), then round the float32 bit pattern to
    ``mbits`` mantissa bits with round-half-to-even as integers (a carry moves into the
    exponent field, as in hardware)."""
    shift = 23 - spec.mbits
    bits = y.abs().clamp_(max=spec.max).mul_(_rescale(spec)).view(torch.int32)
    lsb = (bits >> shift).bitwise_and_(1)
    return bits.add_(lsb).add_((1 << (shift - 1)) - 1).bitwise_right_shift_(shift)


def _float_round(y: torch.Tensor, spec: FloatSpec) -> torch.Tensor:
    """``y`` (float32) rounded to the format, ties to even, saturating; NaN-free input."""
    mag = _float_code_magnitudes(y, spec)
    value = mag.bitwise_left_shift_(23 - spec.mbits).view(torch.float32)
    return value.mul_(1.0 / _rescale(spec)).copysign_(y)


def _float_encode(y: torch.Tensor, spec: FloatSpec) -> torch.Tensor:
    """int32 codes of ``y`` (float32) rounded to the format. The sign bit is ``y``'s, as in
    every FP cast: a negative value that rounds to zero is negative zero (``0x80`` for FP8)."""
    mag = _float_code_magnitudes(y, spec)
    sign_shift = spec.ebits + spec.mbits
    # Arithmetic shift: -1 (all ones) for negative y, 0 otherwise; keep the code's sign bit.
    sign = (y.view(torch.int32) >> 31).bitwise_and_(1 << sign_shift)
    return mag.bitwise_or_(sign)


_TORCH_FP8 = {"fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}


def _fp8_cast_codes(y: torch.Tensor, name: str, out: torch.Tensor | None) -> torch.Tensor:
    """FP8 codes through PyTorch's own round-to-nearest-even cast, saturated first (the cast
    itself overflows to NaN/inf), written straight into ``out`` (uint8) when given. Same codes
    as :func:`_float_encode`, with fewer passes over memory. ``y`` is clamped in place."""
    top = FLOAT_SPECS[name].max
    y = y.clamp_(-top, top)
    if out is None:
        return y.to(_TORCH_FP8[name]).view(torch.uint8)
    out.view(_TORCH_FP8[name]).copy_(y)
    return out


def round_elements(y: torch.Tensor, name: str) -> torch.Tensor:
    """``y`` (float32, already divided by the scale) rounded to the element format's values."""
    if name in _TORCH_FP8:
        return y.clamp(-FLOAT_SPECS[name].max, FLOAT_SPECS[name].max).to(_TORCH_FP8[name]).float()
    if name in FLOAT_SPECS:
        return _float_round(y, FLOAT_SPECS[name])
    values, codes = _table(name)
    return round_to_grid(y, values, codes)[0]


def encode_codes(
    y: torch.Tensor,
    name: str,
    out: torch.Tensor | None = None,
    scratch: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Codes of ``y`` (float32, divided by the scale; overwritten) in a non-integer element
    format, written into ``out`` (uint8, ``y``'s shape) when given, else returned as an integer
    tensor (uint8 or int32). ``scratch``: two int32 buffers shaped like ``y`` that the FP6/FP4
    bit arithmetic may use instead of allocating."""
    if name in _TORCH_FP8:
        return _fp8_cast_codes(y, name, out)
    if name in FLOAT_SPECS and out is not None and scratch is not None:
        return _float_encode_into(y, FLOAT_SPECS[name], out, scratch)
    if name in FLOAT_SPECS:
        codes = _float_encode(y, FLOAT_SPECS[name])
    else:
        values, table_codes = _table(name)
        codes = round_to_grid(y, values, table_codes)[1]
    if out is None:
        return codes
    return out.copy_(codes)


def encode_elements(y: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codes as uint8, the values they mean)`` for ``y`` (float32, divided by the scale)."""
    codes = encode_codes(y.clone(), name).to(torch.uint8)
    return codes, decode_elements(codes, name)


def decode_elements(codes: torch.Tensor, name: str) -> torch.Tensor:
    """float32 value of each code of a non-integer format (NaN for a code it never emits)."""
    table = decode_table(name).to(codes.device)
    return table[codes.to(torch.int64)]


# Smallest positive and largest finite value of each scale format: a scale that rounds to 0 is
# raised to the smallest (so dividing by it stays finite), one beyond the max saturates.
_SCALE_LIMITS = {
    "fp16": (2.0**-24, 65504.0),
    "bf16": (2.0**-133, float(torch.finfo(torch.bfloat16).max)),
    "fp8_e4m3": (2.0**-9, 448.0),
    "e8m0": (2.0**-127, 2.0**127),
}


def round_scale(scale: torch.Tensor, scale_format: str) -> torch.Tensor:
    """The scale as stored in ``scale_format``, as float32 values.

    fp16/bf16/fp8_e4m3 round to nearest, ties to even (saturating at their max, never below their
    smallest positive value). e8m0 keeps ``2^floor(log2 scale)`` (the OCP MX rule applied to
    ``amax / 2^emax_elem``), exponents clamped to [-127, 127]. fp32 is returned unchanged.
    """
    check_scale_format(scale_format)
    s = scale.to(torch.float32)
    if scale_format == "fp32":
        return s
    lo, hi = _SCALE_LIMITS[scale_format]
    # Magnitudes clamped into [smallest, largest] first: both ends are representable, so the
    # rounding below never gives 0 or overflows.
    a = s.abs().clamp_(lo, hi)
    if scale_format == "e8m0":
        return torch.ldexp(torch.ones_like(a), _floor_log2(a))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(scale_format)
    stored = round_elements(a, scale_format) if dtype is None else a.to(dtype).to(torch.float32)
    return stored.copysign_(s)


def round_offset(value: torch.Tensor, scale_format: str) -> torch.Tensor:
    """A real-valued zero point (minimum) stored in ``scale_format``: nearest value, ties to
    even, saturating; unlike a scale it may be 0 or negative. Not defined for e8m0."""
    check_scale_format(scale_format)
    v = value.to(torch.float32)
    if scale_format == "fp32":
        return v
    if scale_format == "e8m0":
        raise ValueError("an e8m0 value is a power of two: it cannot hold a zero point")
    if scale_format == "fp8_e4m3":
        return round_elements(v, "fp8_e4m3")
    hi = _SCALE_LIMITS[scale_format][1]
    dtype = torch.float16 if scale_format == "fp16" else torch.bfloat16
    return v.clamp(-hi, hi).to(dtype).to(torch.float32)


def _floor_log2(a: torch.Tensor) -> torch.Tensor:
    """``floor(log2(a))`` (int32) of positive float32 ``a`` in [2^-127, 2^127]: ``frexp``'s
    exponent for normal values; every subnormal here is in [2^-127, 2^-126), exponent -127."""
    exponent = torch.frexp(a).exponent - 1
    return torch.where(a < 2.0**-126, torch.full_like(exponent, -127), exponent)


def e8m0_exponent(scale: torch.Tensor) -> torch.Tensor:
    """The biased E8M0 byte (uint8, ``exponent + 127``) of power-of-two scales."""
    return (_floor_log2(scale) + 127).clamp_(0, 254).to(torch.uint8)


@cache
def dynamic_map() -> torch.Tensor:
    """bitsandbytes' signed 8-bit dynamic map (``create_dynamic_map(signed=True)``): for each
    decade exponent ``i`` in 0..6, ``2^i`` linearly spaced fractions in (0.1, 1] times
    ``10^(i-6)``, both signs, plus 0 and 1, sorted; 256 values in [-1, 1]."""
    data: list[float] = []
    for i in range(7):
        edges = torch.linspace(0.1, 1, 2**i + 1, dtype=torch.float32)
        means = (edges[:-1] + edges[1:]) / 2.0
        data += ((10.0 ** (i - 6)) * means).tolist() + ((-(10.0 ** (i - 6))) * means).tolist()
    data += [0.0, 1.0]
    data += [0.0] * (256 - len(data))
    return torch.tensor(sorted(data), dtype=torch.float32)
