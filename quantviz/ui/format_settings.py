"""The element format, scale format and preset in the shared scheme settings (issue 9).

The settings every page shares (:mod:`quantviz.ui.session`) are widget values; this module adds
the number-format ones and says how they turn into a scheme and back. A preset (``"mxfp4"``,
``"q4_0"``, ...) is the whole scheme: it travels in the URL as its name, and the other controls
show its fields until one of them is changed, which makes the scheme custom again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from quantviz.formats import ELEMENT_FORMATS, SCALE_FORMAT_BITS, SCALE_FORMATS, element_grid
from quantviz.presets import PRESETS
from quantviz.scheme import QuantScheme

FORMAT_DEFAULTS: dict[str, Any] = {
    "preset": "",
    "fmt": "int",
    "sfmt": "fp32",
    "fgrid": False,
    "fzp": False,
    "tscale": False,  # NVFP4's per-tensor scale above FP8 block scales (no control of its own)
    "dq": False,  # QLoRA's double quantization of the scales (no control of its own)
}
NO_PRESET = "custom"  # the preset picker's first option: the controls decide

# What each element format is called in the picker (the numbers come from the format itself).
_FORMAT_WORDS = {
    "int": "integer (uniform grid)",
    "fp8_e4m3": "FP8 E4M3",
    "fp8_e5m2": "FP8 E5M2",
    "fp6_e2m3": "FP6 E2M3",
    "fp6_e3m2": "FP6 E3M2",
    "fp4_e2m1": "FP4 E2M1",
    "nf4": "NF4 (QLoRA NormalFloat)",
}


def format_bits(fmt: str) -> int | None:
    """The payload bits of a non-integer element format (``fp8_e4m3`` → 8, ``nf4`` → 4); None
    for ``"int"``, whose width is chosen.

    Raises:
        ValueError: an unknown format name.
    """
    if fmt not in ELEMENT_FORMATS:
        raise ValueError(f"unknown element format {fmt!r}; choose from {ELEMENT_FORMATS}")
    if fmt == "int":
        return None
    if fmt == "nf4":
        return 4
    match = re.match(r"^fp(\d+)_", fmt)
    if match is None:
        raise ValueError(f"cannot tell the width of element format {fmt!r}")
    return int(match[1])


def format_label(fmt: str) -> str:
    """``"FP4 E2M1 · 4 bits, max 6"``: the picker's text for an element format."""
    word = _FORMAT_WORDS.get(fmt, fmt)
    if fmt == "int":
        return word
    top = float(element_grid(fmt).max())
    return f"{word} · {format_bits(fmt)} bits, max {top:g}"


def grid_caption(fmt: str) -> str:
    """What the element format's codes mean, checkable by hand: every positive value of a small
    grid (``FP4 E2M1 codes mean 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 × the scale``), or the range
    and count of a large one; empty for the integer grid."""
    if fmt == "int":
        return ""
    grid = element_grid(fmt)
    word = _FORMAT_WORDS.get(fmt, fmt)
    if grid.numel() <= 32:
        pos = [f"{v:.4g}" for v in grid[grid > 0].tolist()]
        neg = [f"{v:.4g}" for v in grid[grid < 0].tolist()]
        mirrored = [f"-{p}" for p in reversed(pos)] == neg
        if mirrored:
            values = ", ".join(["0", *(f"±{p}" for p in pos)])
        else:
            values = ", ".join(f"{v:.4g}" for v in grid.tolist())
        return f"{word} codes mean {values} × the scale."
    tiny = float(grid[grid > 0].min())
    return (
        f"{word}: {grid.numel()} values from {float(grid[0]):g} to {float(grid[-1]):g} × the "
        f"scale; the smallest non-zero magnitude is {tiny:.3g}."
    )


def scale_format_label(sfmt: str) -> str:
    """``"e8m0 · 8 bits, power of two"``: the picker's text for a scale format."""
    extra = ", power of two" if sfmt == "e8m0" else ""
    return f"{sfmt} · {SCALE_FORMAT_BITS[sfmt]} bits{extra}"


def preset_label(name: str) -> str:
    """The preset picker's text: the name with the scheme it stands for."""
    if name == NO_PRESET:
        return "none — the controls below"
    return f"{name} ({PRESETS[name].label()})" if PRESETS[name].label() != name else name


def format_settings(scheme: QuantScheme) -> dict[str, Any]:
    """The format fields of the settings that show ``scheme``."""
    return {
        "preset": scheme.preset or "",
        "fmt": scheme.element_format,
        "sfmt": scheme.scale_format,
        "fgrid": bool(scheme.full_grid),
        "fzp": bool(scheme.float_zero_point),
        "tscale": bool(scheme.tensor_scale),
        "dq": bool(scheme.double_quant),
    }


def with_format(kwargs: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """``QuantScheme`` keyword arguments with the settings' formats applied: a non-integer
    element format fixes the bits (and a symmetric, signed grid); the integer variants apply
    only where they mean something (full grid when symmetric, float zero point when not).

    Raises:
        ValueError: an unknown element or scale format.
    """
    s = {**FORMAT_DEFAULTS, **settings}
    fmt, sfmt = str(s["fmt"]), str(s["sfmt"])
    if sfmt not in SCALE_FORMATS:
        raise ValueError(f"unknown scale format {sfmt!r}; choose from {SCALE_FORMATS}")
    out = dict(kwargs, element_format=fmt, scale_format=sfmt)
    bits = format_bits(fmt)
    if bits is not None:
        out.update(bits=bits, symmetric=True, signed=True)
    elif out.get("symmetric", True):
        out["full_grid"] = bool(s["fgrid"]) and sfmt != "e8m0"  # e8m0 has no sign
    else:
        out["float_zero_point"] = bool(s["fzp"]) and sfmt != "e8m0"  # a minimum needs a sign
    # The two-level scales of NVFP4 and QLoRA stay while the scale format still allows them.
    symmetric = out.get("symmetric", True)
    out["tensor_scale"] = bool(s["tscale"]) and sfmt == "fp8_e4m3" and symmetric
    out["double_quant"] = bool(s["dq"]) and sfmt == "fp32" and symmetric
    return out


def preset_scheme(settings: dict[str, Any]) -> QuantScheme | None:
    """The preset the settings name, with their range method (``nvfp4-mse``), or None when
    they name none.

    Raises:
        ValueError: an unknown preset name.
    """
    name = settings.get("preset") or ""
    if not name or name == NO_PRESET:
        return None
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    rng = settings.get("range", "full")
    if rng == "full":
        return PRESETS[name]
    pct = float(settings.get("pct", 99.9)) if rng == "percentile" else 99.9
    return replace(PRESETS[name], range_method=rng, percentile=pct)
