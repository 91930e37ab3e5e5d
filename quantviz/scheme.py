"""A quantization scheme: bit width, symmetry, integer grid, granularity and range method."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

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
    """

    bits: int = 8
    symmetric: bool = True
    signed: bool = True
    granularity: Granularity = field(default_factory=PerTensor)
    range_method: str | None = None
    percentile: float = 99.9

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise ValueError(f"bits must be an integer from 2 to 16, got {self.bits!r}")
        if not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be from 2 to 16, got {self.bits}")
        for name in ("symmetric", "signed"):
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

    @property
    def q_min(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def q_max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def storage_dtype(self) -> torch.dtype:
        """The smallest torch integer dtype that holds the grid."""
        if self.bits <= 8:
            return torch.int8 if self.signed else torch.uint8
        return torch.int16 if self.signed else torch.int32

    @property
    def format_name(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"

    def label(self) -> str:
        """A readable name such as ``int8 sym per-group(32)``, read back by :func:`parse_scheme`."""
        parts = [self.format_name, "sym" if self.symmetric else "asym", self.granularity.label()]
        if self.range_method == "percentile":
            # repr-exact digits, so two different percentiles never share a label
            parts.append(f"p{float(self.percentile)!r}".removesuffix(".0"))
        elif self.range_method == "mse":
            parts.append("mse")
        return " ".join(parts)

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
    """Read a scheme from its label or slug.

    Accepts ``int8 sym per-row``, ``int8-sym-per-channel``, ``int4-sym-per-group-128``,
    ``uint8-asym-per-tensor``, ``int4-asym-per-block-64x64-mse``, ``int8-sym-per-row-p99.9``.

    Raises:
        ValueError: naming the part that could not be read.
    """
    raw = text.strip().lower().replace("_", "-")
    match = re.match(r"^(u?)int(\d+)[-\s]+(sym|asym)[-\s]+(.+)$", raw)
    if not match:
        raise ValueError(
            f"cannot read scheme {text!r}; expected e.g. 'int8-sym-per-row' or "
            "'uint4-asym-per-group-128'"
        )
    unsigned, bits, sym, rest = match.groups()
    range_method, percentile = None, 99.9
    tail = re.search(r"[-\s]+(mse|p(\d+(?:\.\d+)?))$", rest)
    if tail:
        rest = rest[: tail.start()]
        if tail[1] == "mse":
            range_method = "mse"
        else:
            range_method, percentile = "percentile", float(tail[2])
    rest = re.sub(r"-dim(-?\d+)$", r"(dim=\1)", rest) if rest.startswith("per-channel") else rest
    rest = re.sub(r"^(per-group-\d+)-dim(-?\d+)$", r"\1,dim=\2", rest)
    return QuantScheme(
        bits=int(bits),
        symmetric=sym == "sym",
        signed=not unsigned,
        granularity=parse_granularity(rest),
        range_method=range_method,
        percentile=percentile,
    )
