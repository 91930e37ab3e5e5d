"""A quantization scheme: bit width, symmetry, element and scale format, granularity and range
method."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace

import torch

from quantviz.formats import (
    ELEMENT_FORMATS,
    FORMAT_BITS,
    check_element_format,
    check_scale_format,
    element_grid,
)
from quantviz.granularity import Granularity, PerBlock, PerChannel, PerGroup, PerTensor

RANGE_METHODS = ("absmax", "minmax", "percentile", "mse")
_FULL_RANGE = ("absmax", "minmax")


@dataclass(frozen=True)
class QuantScheme:
    """How to quantize a tensor.

    Attributes:
        bits: integer width, 2 to 16.
        symmetric: zero point fixed at 0 and ``scale = r_max / q_max`` with ``r_max = max|x|``;
            otherwise ``scale = (r_max - r_min) / (q_max - q_min)`` with a zero point.
        signed: integer grid ``[-2^(b-1), 2^(b-1) - 1]`` when True, ``[0, 2^b - 1]`` when False.
            Symmetric schemes always use the signed grid.
        granularity: which elements share a scale (:mod:`quantviz.granularity`).
        range_method: ``"absmax"`` (symmetric) / ``"minmax"`` (asymmetric) use the block's full
            range (either name is accepted and normalized to the one that fits); ``"percentile"``
            clips at ``percentile`` of the block's values; ``"mse"`` searches per block for the
            clip ratio with the least squared error. None picks the full range.
        percentile: the clip percentile for ``range_method="percentile"``, in (50, 100].
        element_format: ``"int"`` (the integer grid, default) or a format of
            :data:`quantviz.formats.ELEMENT_FORMATS` (symmetric only; ``bits`` follows it).
        scale_format: how each scale is stored (:data:`quantviz.formats.SCALE_FORMATS`); it is
            rounded to it before the elements are quantized. Default ``"fp32"``.
        float_zero_point: asymmetric integer grids only: ``x ≈ zero_point + scale·q`` with a real
            (float) zero point, the range not widened to contain 0 (llama.cpp Q4_1/Q5_1, HQQ).
        full_grid: symmetric integer grids only: the block's signed extreme maps to
            ``-2^(b-1)`` (scale = extreme / -2^(b-1), negative when the extreme is positive),
            using the code that ``absmax / (2^(b-1) - 1)`` never reaches (llama.cpp Q4_0).
        tensor_scale: a second, per-tensor fp32 scale above fp8_e4m3 block scales (NVFP4).
        double_quant: the fp32 block scales themselves quantized to 8 bits (bitsandbytes'
            dynamic map) in blocks of 256 with an fp32 scale each (QLoRA double quantization).
        preset: the :data:`quantviz.presets.PRESETS` name the scheme came from (its label and
            slug); dropped when the other fields no longer match that preset.
    """

    bits: int = 8
    symmetric: bool = True
    signed: bool = True
    granularity: Granularity = field(default_factory=PerTensor)
    range_method: str | None = None
    percentile: float = 99.9
    element_format: str = "int"
    scale_format: str = "fp32"
    float_zero_point: bool = False
    full_grid: bool = False
    tensor_scale: bool = False
    double_quant: bool = False
    preset: str | None = None

    def __post_init__(self) -> None:
        check_element_format(self.element_format)
        check_scale_format(self.scale_format)
        if self.element_format != "int":
            object.__setattr__(self, "bits", FORMAT_BITS[self.element_format])
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise ValueError(f"bits must be an integer from 2 to 16, got {self.bits!r}")
        if not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be from 2 to 16, got {self.bits}")
        for name in (
            "symmetric",
            "signed",
            "float_zero_point",
            "full_grid",
            "tensor_scale",
            "double_quant",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.symmetric and not self.signed:
            raise ValueError(
                "symmetric quantization uses a signed grid with zero point 0; "
                "for an unsigned grid choose symmetric=False"
            )
        if not isinstance(self.granularity, PerTensor | PerChannel | PerGroup | PerBlock):
            raise ValueError(f"unknown granularity {self.granularity!r}")
        method = self.range_method or "absmax"
        if method not in RANGE_METHODS:
            raise ValueError(f"range_method must be one of {RANGE_METHODS}, got {method!r}")
        if method in _FULL_RANGE:
            method = "absmax" if self.symmetric else "minmax"
        object.__setattr__(self, "range_method", method)
        if isinstance(self.percentile, bool) or not isinstance(self.percentile, int | float):
            raise ValueError(f"percentile must be a number, got {self.percentile!r}")
        if not 50.0 < float(self.percentile) <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {self.percentile!r}")
        self._check_variants()
        if self.preset is not None and not _matches_preset(self):
            object.__setattr__(self, "preset", None)

    def _check_variants(self) -> None:
        """Refuse combinations no format defines, naming the field that conflicts."""
        if self.element_format != "int" and not self.symmetric:
            raise ValueError(
                f"element_format {self.element_format!r} is symmetric (sign and magnitude, no "
                "zero point): use symmetric=True"
            )
        if self.float_zero_point and (self.symmetric or self.element_format != "int"):
            raise ValueError("float_zero_point needs an asymmetric integer scheme")
        if self.float_zero_point and self.scale_format == "e8m0":
            raise ValueError("a float zero point cannot be stored as e8m0 (a power of two)")
        if self.full_grid and (not self.symmetric or self.element_format != "int"):
            raise ValueError("full_grid needs a symmetric integer scheme")
        if self.full_grid and self.scale_format == "e8m0":
            raise ValueError("full_grid scales can be negative; e8m0 has no sign")
        if self.tensor_scale and self.scale_format != "fp8_e4m3":
            raise ValueError("tensor_scale (NVFP4's per-tensor scale) needs scale_format fp8_e4m3")
        if self.double_quant and (self.scale_format != "fp32" or not self.symmetric):
            raise ValueError("double_quant re-quantizes fp32 absmax scales: symmetric, fp32 only")
        if (self.tensor_scale or self.double_quant) and not self.symmetric:
            raise ValueError("tensor_scale and double_quant need a symmetric scheme")

    @property
    def is_integer(self) -> bool:
        """True for the integer grid (``element_format == "int"``)."""
        return self.element_format == "int"

    @property
    def is_plain_integer(self) -> bool:
        """True when the scheme is today's integer scheme (fp32 scales, no variant, no preset
        arithmetic): quantized by the integer kernels, bit-identical to the notebook."""
        return self.is_integer and self == QuantScheme(
            bits=self.bits,
            symmetric=self.symmetric,
            signed=self.signed,
            granularity=self.granularity,
            range_method=self.range_method,
            percentile=self.percentile,
        )

    def grid(self) -> torch.Tensor:
        """Sorted float32 element values the codes can mean: ``q_min .. q_max`` for integers,
        the format's representable values otherwise (before the scale)."""
        if self.is_integer:
            return torch.arange(self.q_min, self.q_max + 1, dtype=torch.float32)
        return element_grid(self.element_format)

    @property
    def q_min(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def q_max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def storage_dtype(self) -> torch.dtype:
        """The smallest torch integer dtype that holds the codes (uint8 for non-integer formats)."""
        if not self.is_integer:
            return torch.uint8
        if self.bits <= 8:
            return torch.int8 if self.signed else torch.uint8
        return torch.int16 if self.signed else torch.int32

    @property
    def format_name(self) -> str:
        if not self.is_integer:
            return self.element_format
        return f"{'' if self.signed else 'u'}int{self.bits}"

    def label(self) -> str:
        """A readable name such as ``int8 sym per-group(32)`` or ``mxfp4``, read back by
        :func:`parse_scheme`."""
        if self.preset is not None:
            parts = [self.preset]
        else:
            parts = [self.format_name, "sym" if self.symmetric else "asym"]
            parts += [self.granularity.label(), *self._variant_tokens()]
        if self.range_method == "percentile":
            # repr-exact digits, so two different percentiles never share a label
            parts.append(f"p{float(self.percentile)!r}".removesuffix(".0"))
        elif self.range_method == "mse":
            parts.append("mse")
        return " ".join(parts)

    def _variant_tokens(self) -> list[str]:
        tokens = [] if self.scale_format == "fp32" else [self.scale_format.replace("_", "-")]
        flags = ("full_grid", "float_zero_point", "tensor_scale", "double_quant")
        return tokens + [_FLAG_TOKENS[f] for f in flags if getattr(self, f)]

    def slug(self) -> str:
        """The label with dashes only, for command lines and URLs (``int8-sym-per-group-32``)."""
        text = self.label().replace("(", "-").replace(")", "").replace(", dim=", "-dim")
        return text.replace("dim=", "dim").replace(" ", "-")


_GRAN_PATTERNS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"^per-?tensor$"), lambda m: PerTensor()),
    (re.compile(r"^per-?row$"), lambda m: PerChannel(0)),
    (re.compile(r"^per-?col(umn)?$"), lambda m: PerChannel(1)),
    (re.compile(r"^per-?channel(?:[-(]dim=?(-?\d+)\)?)?$"), lambda m: PerChannel(int(m[1] or 0))),
    (
        re.compile(r"^per-?group[-(](\d+)(?:(?:,\s*|-)dim=?(-?\d+))?\)?$"),
        lambda m: PerGroup(int(m[1]), int(m[2]) if m[2] else -1),
    ),
    (re.compile(r"^per-?block[-(](\d+)x(\d+)\)?$"), lambda m: PerBlock(int(m[1]), int(m[2]))),
]


def parse_granularity(text: str) -> Granularity:
    """Read a granularity label such as ``per-row``, ``per-group(32)`` or ``per-block-64x64``."""
    key = text.strip().lower().replace("_", "-").replace(" ", "")
    for pattern, build in _GRAN_PATTERNS:
        match = pattern.match(key)
        if match:
            return build(match)  # type: ignore[operator]
    raise ValueError(
        f"unknown granularity {text!r}; use per-tensor, per-row, per-column, per-channel-dim1, "
        "per-group-128 or per-block-64x64"
    )


def parse_scheme(text: str) -> QuantScheme:
    """Read a scheme from its label or slug, or a preset name.

    Accepts ``int8 sym per-row``, ``int8-sym-per-channel``, ``int4-sym-per-group-128``,
    ``uint8-asym-per-tensor``, ``int4-asym-per-block-64x64-mse``, ``int8-sym-per-row-p99.9``,
    ``int4-sym-per-group-128-fp16`` (a scale format), ``fp8_e4m3-sym-per-row``, and every
    preset of :data:`quantviz.presets.PRESETS` (``mxfp4``, ``q4_0``, ``nvfp4-mse`` ...).

    Raises:
        ValueError: naming the part that could not be read.
    """
    raw = text.strip().lower().replace("_", "-")
    range_method, percentile = None, 99.9
    tail = re.search(r"[-\s]+(mse|p(\d+(?:\.\d+)?))$", raw)
    if tail:
        head = raw[: tail.start()]
        if tail[1] == "mse":
            range_method = "mse"
        else:
            range_method, percentile = "percentile", float(tail[2])
    else:
        head = raw
    preset = _PRESETS.get(head.replace(" ", "-"))
    if preset is not None:
        if range_method is None:
            return preset
        return replace(preset, range_method=range_method, percentile=percentile)
    match = re.match(
        r"^(u?int(\d+)|" + _FORMAT_ALTERNATIVES + r")[-\s]+(sym|asym)[-\s]+(.+)$", head
    )
    if not match:
        raise ValueError(
            f"cannot read scheme {text!r}; expected e.g. 'int8-sym-per-row', "
            "'uint4-asym-per-group-128', 'fp8-e4m3-sym-per-row' or a preset "
            f"({', '.join(_PRESETS)})"
        )
    fmt, bits, sym, rest = match.groups()
    flags: dict[str, object] = {}
    for token, name in _SUFFIXES:
        if rest.endswith(token) or rest.endswith(" " + token[1:]):
            rest = rest[: -len(token)]
            flags[name] = token[1:].replace("-", "_") if name == "scale_format" else True
    rest = re.sub(r"-dim(-?\d+)$", r"(dim=\1)", rest) if rest.startswith("per-channel") else rest
    rest = re.sub(r"^(per-group-\d+)-dim(-?\d+)$", r"\1,dim=\2", rest)
    element = "int" if bits else fmt.replace("-", "_", 1)
    return QuantScheme(
        bits=int(bits) if bits else 8,
        symmetric=sym == "sym",
        signed=not fmt.startswith("u"),
        granularity=parse_granularity(rest),
        range_method=range_method,
        percentile=percentile,
        element_format=element,
        **flags,  # type: ignore[arg-type]
    )


_FLAG_TOKENS = {
    "full_grid": "full",
    "float_zero_point": "fzp",
    "tensor_scale": "tscale",
    "double_quant": "dq",
}
_FORMAT_ALTERNATIVES = "|".join(f.replace("_", "-") for f in ELEMENT_FORMATS[1:])
# Label tokens after the granularity, in reverse order of :meth:`QuantScheme._variant_tokens`,
# each stripped at most once from the end (linear time, no backtracking).
_SUFFIXES: list[tuple[str, str]] = [
    *((f"-{_FLAG_TOKENS[f]}", f) for f in reversed(_FLAG_TOKENS)),
    *((f"-{s.replace('_', '-')}", "scale_format") for s in ("fp16", "bf16", "fp8_e4m3", "e8m0")),
]

# Filled by quantviz.presets (imported by the package): slug -> scheme.
_PRESETS: dict[str, QuantScheme] = {}


def register_preset(name: str, scheme: QuantScheme) -> QuantScheme:
    """Record ``scheme`` as preset ``name`` (for labels and :func:`parse_scheme`); returns it
    with ``preset=name``."""
    tagged = replace(scheme, preset=name, range_method=None)
    _PRESETS[name.replace("_", "-")] = tagged
    return tagged


def _matches_preset(scheme: QuantScheme) -> bool:
    """Whether ``scheme`` still has the fields of its preset (range method aside)."""
    known = _PRESETS.get((scheme.preset or "").replace("_", "-"))
    if known is None:
        return True  # being registered right now
    same = [f.name for f in fields(QuantScheme) if f.name not in _RANGE_FIELDS]
    return all(getattr(known, name) == getattr(scheme, name) for name in same)


_RANGE_FIELDS = ("range_method", "percentile")
