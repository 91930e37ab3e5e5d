"""Named formats as their publishers define them, as :class:`QuantScheme` values.

Block and group presets run along the last dim (a weight's input features). Every preset's name is
its label and slug, and :func:`quantviz.parse_scheme` reads it (with an optional ``-mse`` or
``-p99.9`` range suffix).

Sources:

* llama.cpp legacy block formats (``ggml/src/ggml-quants.c``, ``quantize_row_q*_ref``; the
  Python reference ``gguf.quants`` 0.19.0): blocks of 32 with an fp16 scale ``d`` (and an fp16
  minimum ``m`` for the ``_1`` types). ``q8_0``: ``d = amax/127``, ``q = round(x/d)``.
  ``q4_0``/``q5_0``: ``d = max/-8`` (``/-16``) where ``max`` is the signed value of largest
  magnitude, ``q = trunc(x·(1/d) + 8.5)`` (``16.5``) clipped to 4 (5) bits, stored minus 8 (16).
  ``q4_1``/``q5_1``: ``d = (max-min)/15`` (``/31``), ``q = trunc((x-min)·(1/d) + 0.5)``,
  ``x̂ = d·q + m``. Elements use the fp32 ``d`` and ``1/d`` (llama.cpp's arithmetic), the
  reconstruction the fp16 ones: the one place where the scale is not rounded first.
* OCP Microscaling Formats (MX) Specification v1.0 (2023), section 6: ``mxfp8`` (E4M3),
  ``mxfp6`` (E2M3), ``mxfp4`` (E2M1), ``mxint8``: blocks of 32, one E8M0 scale
  ``2^(floor(log2(amax)) - emax_elem)``, elements rounded to nearest even with saturation.
* NVIDIA NVFP4 (Blackwell; TensorRT-Model-Optimizer / torchao ``nvfp4_quantize``): E2M1 in
  blocks of 16, E4M3 block scales ``amax_b / 6 / s`` under a per-tensor fp32 scale
  ``s = amax / (448·6)``.
* QLoRA (Dettmers et al. 2023, bitsandbytes ``quantize_4bit``): NF4 levels, absmax per 64
  (``nf4-g64``); with double quantization (``nf4-g64-dq``) the fp32 absmax values, less their
  mean, are stored in 8 bits (dynamic map) in blocks of 256: ``4 + 8/64 + 32/(64·256)`` ≈ 4.127
  bits per element.
* FP8 E4M3 weights (Micikevicius et al. 2022 "FP8 Formats for Deep Learning"; DeepSeek-V3 for
  128×128 tiles): ``scale = amax / 448`` in fp32, per tensor, per output channel (row) or per
  128×128 tile.
"""

from __future__ import annotations

from quantviz.granularity import PerBlock, PerChannel, PerGroup, PerTensor
from quantviz.scheme import QuantScheme, register_preset

LLAMA_PRESETS = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1")

_G32 = PerGroup(32)


def _llama(bits: int, kind: str) -> QuantScheme:
    if kind == "0" and bits == 8:
        return QuantScheme(bits=8, granularity=_G32, scale_format="fp16")
    if kind == "0":
        return QuantScheme(bits=bits, granularity=_G32, scale_format="fp16", full_grid=True)
    return QuantScheme(
        bits=bits,
        symmetric=False,
        signed=False,
        granularity=_G32,
        scale_format="fp16",
        float_zero_point=True,
    )


def _fmt(element: str, granularity: object, scale: str = "fp32", **flags: bool) -> QuantScheme:
    return QuantScheme(
        element_format=element,
        granularity=granularity,  # type: ignore[arg-type]
        scale_format=scale,
        **flags,
    )


_DEFINITIONS: dict[str, QuantScheme] = {
    "q8_0": _llama(8, "0"),
    "q4_0": _llama(4, "0"),
    "q4_1": _llama(4, "1"),
    "q5_0": _llama(5, "0"),
    "q5_1": _llama(5, "1"),
    "mxfp8": _fmt("fp8_e4m3", _G32, "e8m0"),
    "mxfp6": _fmt("fp6_e2m3", _G32, "e8m0"),
    "mxfp4": _fmt("fp4_e2m1", _G32, "e8m0"),
    "mxint8": QuantScheme(bits=8, granularity=_G32, scale_format="e8m0"),
    "nvfp4": _fmt("fp4_e2m1", PerGroup(16), "fp8_e4m3", tensor_scale=True),
    "nf4-g64": _fmt("nf4", PerGroup(64)),
    "nf4-g64-dq": _fmt("nf4", PerGroup(64), double_quant=True),
    "fp8-e4m3-per-tensor": _fmt("fp8_e4m3", PerTensor()),
    "fp8-e4m3-per-channel": _fmt("fp8_e4m3", PerChannel(0)),
    "fp8-e4m3-block128": _fmt("fp8_e4m3", PerBlock(128, 128)),
}

PRESETS: dict[str, QuantScheme] = {
    name: register_preset(name, scheme) for name, scheme in _DEFINITIONS.items()
}
"""Preset name -> scheme (``scheme.preset`` is the name; its label and slug too)."""

PRESET_DESCRIPTIONS: dict[str, str] = {
    "q8_0": "llama.cpp: int8, blocks of 32, fp16 scale (8.5 bits)",
    "q4_0": "llama.cpp: int4 full grid, blocks of 32, fp16 scale (4.5 bits)",
    "q4_1": "llama.cpp: uint4, blocks of 32, fp16 scale and minimum (5.0 bits)",
    "q5_0": "llama.cpp: int5 full grid, blocks of 32, fp16 scale (5.5 bits)",
    "q5_1": "llama.cpp: uint5, blocks of 32, fp16 scale and minimum (6.0 bits)",
    "mxfp8": "OCP MX: FP8 E4M3, blocks of 32, E8M0 scale (8.25 bits)",
    "mxfp6": "OCP MX: FP6 E2M3, blocks of 32, E8M0 scale (6.25 bits)",
    "mxfp4": "OCP MX: FP4 E2M1, blocks of 32, E8M0 scale (4.25 bits)",
    "mxint8": "OCP MX: int8 (1.6 fixed point), blocks of 32, E8M0 scale (8.25 bits)",
    "nvfp4": "NVIDIA: FP4 E2M1, blocks of 16, E4M3 scales x fp32 tensor scale (~4.5 bits)",
    "nf4-g64": "QLoRA NF4, absmax per 64, fp32 scale (4.5 bits)",
    "nf4-g64-dq": "QLoRA NF4 with double-quantized 8-bit scales (~4.127 bits)",
    "fp8-e4m3-per-tensor": "FP8 E4M3, one fp32 scale (amax/448)",
    "fp8-e4m3-per-channel": "FP8 E4M3, one fp32 scale per row (output channel)",
    "fp8-e4m3-block128": "FP8 E4M3, one fp32 scale per 128x128 tile (DeepSeek-V3)",
}
"""One line per preset, for help texts."""

PRESET_GROUPS: dict[str, list[str]] = {
    "4-bit formats": [
        "int4-sym-per-group-128-fp16",
        "int4-sym-per-group-32-fp16",
        "q4_0",
        "q4_1",
        "nf4-g64",
        "nf4-g64-dq",
        "mxfp4",
        "nvfp4",
    ],
    "8-bit formats": [
        "int8-sym-per-row",
        "q8_0",
        "mxint8",
        "mxfp8",
        "fp8-e4m3-per-tensor",
        "fp8-e4m3-per-channel",
        "fp8-e4m3-block128",
    ],
    "llama.cpp": list(LLAMA_PRESETS),
    "OCP MX": ["mxfp8", "mxfp6", "mxfp4", "mxint8"],
}
"""Sets of schemes (slugs or preset names, all read by ``parse_scheme``) compared together."""


def is_llama_preset(scheme: QuantScheme) -> bool:
    """Whether ``scheme`` is quantized with llama.cpp's own arithmetic."""
    return scheme.preset in LLAMA_PRESETS
