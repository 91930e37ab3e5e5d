"""QuantScheme's format fields, presets, labels/slugs and bits per element."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import quantviz as qv
from quantviz.presets import PRESET_GROUPS, PRESETS
from quantviz.sweep import sweep_schemes

DEFAULT_SLUGS = [
    "int8-sym-per-tensor",
    "int4-sym-per-group-128",
    "uint8-asym-per-row",
    "int4-asym-per-block-64x64-mse",
    "int8-sym-per-row-p99.9",
    "int8-sym-per-channel-dim2",
]


@pytest.mark.parametrize("slug", DEFAULT_SLUGS)
def test_default_schemes_keep_their_slugs(slug) -> None:
    scheme = qv.parse_scheme(slug)
    assert scheme.slug() == slug
    assert scheme.element_format == "int"
    assert scheme.scale_format == "fp32"
    assert scheme.is_plain_integer
    assert scheme.preset is None


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips(name) -> None:
    scheme = PRESETS[name]
    assert scheme.preset == name
    assert scheme.label() == name
    assert qv.parse_scheme(scheme.slug()) == scheme
    assert qv.parse_scheme(name.upper()) == scheme
    mse = qv.parse_scheme(f"{name}-mse")
    assert mse.range_method == "mse"
    assert mse.preset == name
    assert qv.parse_scheme(mse.slug()) == mse
    assert qv.parse_scheme(mse.label()) == mse


@pytest.mark.parametrize(
    ("slug", "fields"),
    [
        pytest.param(
            "int4-sym-per-group-128-fp16", {"bits": 4, "scale_format": "fp16"}, id="int4-fp16"
        ),
        pytest.param("int8-sym-per-row-bf16", {"scale_format": "bf16"}, id="bf16"),
        pytest.param("int4-sym-per-group-32-full", {"full_grid": True, "bits": 4}, id="full-grid"),
        pytest.param(
            "uint4-asym-per-group-32-fp16-fzp",
            {"float_zero_point": True, "scale_format": "fp16", "signed": False},
            id="float-zp",
        ),
        pytest.param(
            "fp8_e4m3-sym-per-block-128x128-mse",
            {"element_format": "fp8_e4m3", "bits": 8, "range_method": "mse"},
            id="fp8-tiles",
        ),
        pytest.param(
            "fp4_e2m1-sym-per-group-16-fp8-e4m3-tscale",
            {"element_format": "fp4_e2m1", "scale_format": "fp8_e4m3", "tensor_scale": True},
            id="nvfp4-fields",
        ),
        pytest.param(
            "nf4-sym-per-group-64-dq", {"element_format": "nf4", "double_quant": True}, id="nf4-dq"
        ),
        pytest.param(
            "fp6_e3m2-sym-per-row-e8m0-p99.5",
            {"element_format": "fp6_e3m2", "scale_format": "e8m0", "percentile": 99.5},
            id="fp6-e8m0",
        ),
    ],
)
def test_format_slugs_parse_and_round_trip(slug, fields) -> None:
    scheme = qv.parse_scheme(slug)
    for name, value in fields.items():
        assert getattr(scheme, name) == value
    assert scheme.slug() == slug
    assert qv.parse_scheme(scheme.label()) == scheme
    assert not scheme.is_plain_integer


def test_preset_name_dropped_when_fields_change() -> None:
    changed = dataclasses.replace(PRESETS["mxfp4"], granularity=qv.PerGroup(64))
    assert changed.preset is None
    assert changed.label() == "fp4_e2m1 sym per-group(64) e8m0"
    kept = dataclasses.replace(PRESETS["mxfp4"], range_method="percentile", percentile=99.0)
    assert kept.preset == "mxfp4"
    assert kept.label() == "mxfp4 p99"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"element_format": "fp8_e4m3", "symmetric": False, "signed": False},
            "symmetric=True",
            id="fp8-asym",
        ),
        pytest.param({"element_format": "fp5"}, "element_format must be one of", id="bad-element"),
        pytest.param({"scale_format": "fp64"}, "scale_format must be one of", id="bad-scale"),
        pytest.param({"float_zero_point": True}, "asymmetric integer", id="fzp-on-sym"),
        pytest.param({"full_grid": True, "symmetric": False}, "symmetric integer", id="full-asym"),
        pytest.param({"full_grid": True, "scale_format": "e8m0"}, "no sign", id="full-e8m0"),
        pytest.param({"tensor_scale": True}, "fp8_e4m3", id="tscale-fp32"),
        pytest.param({"double_quant": True, "scale_format": "fp16"}, "fp32 only", id="dq-fp16"),
        pytest.param({"full_grid": 1}, "True or False", id="non-bool"),
    ],
)
def test_conflicting_fields_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        qv.QuantScheme(**kwargs)


@pytest.mark.parametrize(
    ("name", "bits"),
    [
        pytest.param("fp8_e4m3", 8, id="e4m3"),
        pytest.param("fp6_e2m3", 6, id="e2m3"),
        pytest.param("fp4_e2m1", 4, id="e2m1"),
        pytest.param("nf4", 4, id="nf4"),
    ],
)
def test_bits_follow_the_element_format(name, bits) -> None:
    scheme = qv.QuantScheme(bits=16, element_format=name)
    assert scheme.bits == bits
    assert scheme.storage_dtype == torch.uint8
    assert torch.equal(scheme.grid(), qv.formats.element_grid(name))


def test_integer_grid() -> None:
    assert qv.QuantScheme(bits=4).grid().tolist() == list(range(-8, 8))
    assert qv.QuantScheme(bits=2, symmetric=False, signed=False).grid().tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        pytest.param("mxfp4", 4.25, id="mxfp4"),
        pytest.param("mxfp8", 8.25, id="mxfp8"),
        pytest.param("mxint8", 8.25, id="mxint8"),
        pytest.param("nvfp4", 4.5 + 32 / (256 * 512), id="nvfp4"),
        pytest.param("nf4-g64", 4.5, id="nf4"),
        # 8-bit scale per 64, an fp32 absmax per 256 scales, one fp32 mean
        pytest.param("nf4-g64-dq", 4 + 8 / 64 + 32 / (64 * 256) + 32 / (256 * 512), id="nf4-dq"),
        pytest.param("int4-sym-per-group-128-fp16", 4.125, id="int4-g128-fp16"),
        pytest.param("int4-sym-per-group-32", 5.0, id="int4-g32-fp32"),
        pytest.param("q4_0", 4.5, id="q4_0"),  # llama.cpp: 18 bytes per 32 weights
        pytest.param("q4_1", 5.0, id="q4_1"),  # 20 bytes
        pytest.param("q5_0", 5.5, id="q5_0"),  # 22 bytes
        pytest.param("q5_1", 6.0, id="q5_1"),  # 24 bytes
        pytest.param("q8_0", 8.5, id="q8_0"),  # 34 bytes
        pytest.param("fp8-e4m3-per-channel", 8 + 32 / 512, id="fp8-row"),
    ],
)
def test_bits_per_element_counts_real_widths(scheme, expected) -> None:
    assert qv.bits_per_element((256, 512), qv.parse_scheme(scheme)) == pytest.approx(expected)


def test_nf4_dq_is_about_4_127_bits() -> None:
    bpe = qv.bits_per_element((4096, 4096), PRESETS["nf4-g64-dq"])
    assert round(bpe, 3) == 4.127


@pytest.mark.parametrize("group", list(PRESET_GROUPS))
def test_preset_groups_parse(group) -> None:
    schemes = [qv.parse_scheme(s) for s in PRESET_GROUPS[group]]
    assert len(set(schemes)) == len(schemes)


def test_compare_and_sweep_take_formats() -> None:
    x = torch.randn(64, 256, generator=torch.Generator().manual_seed(0))
    names = PRESET_GROUPS["4-bit formats"]
    table = qv.compare(x, [qv.parse_scheme(n) for n in names])
    assert list(table["scheme"]) == [qv.parse_scheme(n).label() for n in names]
    mx = table.set_index("scheme").loc["mxfp4"]
    direct = qv.quantization_error(x, qv.quantize(x, PRESETS["mxfp4"]))
    assert mx["mse"] == pytest.approx(direct["mse"], rel=1e-5)
    assert mx["bits_per_element"] == pytest.approx(4.25)
    points = sweep_schemes(x, names)
    assert list(points["scheme"]) == list(table["scheme"])
    assert points["sqnr_db"].to_numpy() == pytest.approx(table["sqnr_db"].to_numpy())
    with pytest.raises(ValueError, match="empty"):
        sweep_schemes(x, [])
