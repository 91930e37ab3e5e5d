"""QuantScheme validation, labels, and parsing scheme names back."""

from __future__ import annotations

import pytest
import torch

import quantviz as qv

SCHEMES = [
    pytest.param(qv.QuantScheme(), "int8 sym per-tensor", id="default"),
    pytest.param(
        qv.QuantScheme(bits=4, granularity=qv.PerGroup(32)), "int4 sym per-group(32)", id="group"
    ),
    pytest.param(
        qv.QuantScheme(bits=8, symmetric=False, signed=False, granularity=qv.PerChannel(0)),
        "uint8 asym per-row",
        id="uint8-row",
    ),
    pytest.param(
        qv.QuantScheme(bits=6, symmetric=False, granularity=qv.PerChannel(1)),
        "int6 asym per-column",
        id="int6-col",
    ),
    pytest.param(
        qv.QuantScheme(granularity=qv.PerChannel(2)), "int8 sym per-channel(dim=2)", id="dim2"
    ),
    pytest.param(
        qv.QuantScheme(granularity=qv.PerGroup(64, dim=0)),
        "int8 sym per-group(64, dim=0)",
        id="group-dim0",
    ),
    pytest.param(
        qv.QuantScheme(bits=4, granularity=qv.PerBlock(64, 32), range_method="mse"),
        "int4 sym per-block(64x32) mse",
        id="block-mse",
    ),
    pytest.param(
        qv.QuantScheme(range_method="percentile", percentile=99.5, granularity=qv.PerChannel(0)),
        "int8 sym per-row p99.5",
        id="percentile",
    ),
]


@pytest.mark.parametrize(("scheme", "label"), SCHEMES)
def test_label_and_round_trip(scheme, label) -> None:
    assert scheme.label() == label
    assert qv.parse_scheme(scheme.label()) == scheme
    assert qv.parse_scheme(scheme.slug()) == scheme
    assert " " not in scheme.slug()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int8-sym-per-channel", qv.QuantScheme(granularity=qv.PerChannel(0))),
        ("INT4-SYM-PER-GROUP-128", qv.QuantScheme(bits=4, granularity=qv.PerGroup(128))),
        ("uint8-asym-per-tensor", qv.QuantScheme(symmetric=False, signed=False)),
        ("int8_sym_per_row", qv.QuantScheme(granularity=qv.PerChannel(0))),
    ],
)
def test_parse_common_spellings(text, expected) -> None:
    assert qv.parse_scheme(text) == expected


@pytest.mark.parametrize(
    "text", ["int8", "float8-sym-per-row", "int8-sym-per-galaxy", "int99-sym-per-row", ""]
)
def test_parse_refuses_nonsense(text) -> None:
    with pytest.raises(ValueError, match=r"scheme|granularity|bits"):
        qv.parse_scheme(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(bits=1), "bits must be from 2 to 16"),
        (dict(bits=17), "bits must be from 2 to 16"),
        (dict(bits=8.0), "bits must be an integer"),
        (dict(bits=True), "bits must be an integer"),
        (dict(signed=False), "symmetric quantization uses a signed grid"),
        (dict(range_method="median"), "range_method must be one of"),
        (dict(percentile=40), "percentile must be in"),
        (dict(granularity="per-row"), "unknown granularity"),
    ],
)
def test_invalid_schemes_name_the_bad_value(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        qv.QuantScheme(**kwargs)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: qv.PerGroup(0), "group_size must be a positive integer, got 0"),
        (lambda: qv.PerBlock(0, 4), "rows must be a positive integer"),
        (lambda: qv.PerBlock(4, -1), "cols must be a positive integer"),
    ],
)
def test_invalid_granularities(factory, message) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


@pytest.mark.parametrize(
    ("scheme", "q_min", "q_max", "dtype"),
    [
        (qv.QuantScheme(bits=8), -128, 127, torch.int8),
        (qv.QuantScheme(bits=2), -2, 1, torch.int8),
        (qv.QuantScheme(bits=4, symmetric=False, signed=False), 0, 15, torch.uint8),
        (qv.QuantScheme(bits=16), -32768, 32767, torch.int16),
        (qv.QuantScheme(bits=16, symmetric=False, signed=False), 0, 65535, torch.int32),
    ],
)
def test_grids(scheme, q_min, q_max, dtype) -> None:
    assert (scheme.q_min, scheme.q_max, scheme.storage_dtype) == (q_min, q_max, dtype)


def test_full_range_names_are_normalized() -> None:
    assert qv.QuantScheme(symmetric=True, range_method="minmax").range_method == "absmax"
    assert qv.QuantScheme(symmetric=False, range_method="absmax").range_method == "minmax"
    assert qv.QuantScheme(symmetric=False).range_method == "minmax"


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: qv.QuantScheme(percentile="99"), "percentile must be a number"),
        (lambda: qv.QuantScheme(symmetric="no"), "symmetric must be True or False"),
        (lambda: qv.QuantScheme(symmetric=False, signed=1), "signed must be True or False"),
        (lambda: qv.PerChannel("0"), "PerChannel dim must be an integer"),
        (lambda: qv.PerChannel(True), "PerChannel dim must be an integer"),
        (lambda: qv.PerGroup(True), "group_size must be an integer"),
        (lambda: qv.PerGroup(8, dim=1.0), "PerGroup dim must be an integer"),
        (lambda: qv.PerBlock(2.0, 2), "rows must be an integer"),
    ],
)
def test_wrong_types_are_refused(factory, message) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


def test_close_percentiles_get_distinct_labels() -> None:
    a = qv.QuantScheme(range_method="percentile", percentile=99.123456789)
    b = qv.QuantScheme(range_method="percentile", percentile=99.1234567)
    assert a.label() != b.label()
    assert qv.parse_scheme(a.slug()) == a
