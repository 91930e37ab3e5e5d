"""The format fields of the shared settings: every combination the controls can produce is a
scheme the core accepts, and every preset and format scheme round-trips through the settings."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

import quantviz as qv
from quantviz.formats import ELEMENT_FORMATS, SCALE_FORMATS
from quantviz.presets import PRESET_GROUPS, PRESETS
from quantviz.ui.format_settings import format_bits, preset_scheme
from quantviz.ui.session import DEFAULT_SETTINGS, scheme_from_settings, settings_from_scheme

COMBOS = list(
    itertools.product(
        ELEMENT_FORMATS, SCALE_FORMATS, ["symmetric", "asymmetric"], [False, True], [False, True]
    )
)


@pytest.mark.parametrize(
    ("fmt", "sfmt", "sym", "variant", "two_level"),
    COMBOS,
    ids=["-".join(str(p) for p in c) for c in COMBOS],
)
def test_every_combination_of_the_controls_is_a_valid_scheme(fmt, sfmt, sym, variant, two_level):
    settings = {
        **DEFAULT_SETTINGS,
        "bits": 4,
        "fmt": fmt,
        "sfmt": sfmt,
        "sym": sym,
        "signed": "signed",
        "gran": "per-group",
        "fgrid": variant,
        "fzp": variant,
        "tscale": two_level,
        "dq": two_level,
    }
    scheme = scheme_from_settings(settings)  # the core raises on a combination it refuses
    assert (scheme.element_format, scheme.scale_format) == (fmt, sfmt)
    assert scheme.bits == (format_bits(fmt) or 4)
    if fmt != "int":
        assert scheme.symmetric
    assert qv.parse_scheme(scheme.slug()) == scheme


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_the_settings(name):
    settings = settings_from_scheme(PRESETS[name])
    assert settings["preset"] == name
    assert scheme_from_settings(settings) == PRESETS[name]
    # Without the name, the controls still show every field of the preset.
    fields = scheme_from_settings({**settings, "preset": ""})
    assert fields == replace(PRESETS[name], preset=None)


@pytest.mark.parametrize(
    "slug", sorted({s for group in PRESET_GROUPS.values() for s in group} - set(PRESETS))
)
def test_every_format_scheme_of_the_preset_sets_round_trips(slug):
    scheme = qv.parse_scheme(slug)
    assert scheme_from_settings(settings_from_scheme(scheme)) == scheme


def test_a_preset_keeps_a_range_method_and_drops_an_unknown_name():
    settings = {**settings_from_scheme(PRESETS["nvfp4"]), "range": "mse"}
    assert scheme_from_settings(settings) == qv.parse_scheme("nvfp4-mse")
    with pytest.raises(ValueError, match="unknown preset 'mxfp3'"):
        preset_scheme({**settings, "preset": "mxfp3"})
