"""The widget settings <-> scheme <-> URL slug mapping that makes a view shareable."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.ui.controls import BITS_OPTIONS, GRANULARITIES, RANGE_LABELS, suggested_size
from quantviz.ui.session import scheme_from_settings, settings_from_scheme

widget_settings = st.fixed_dictionaries(
    {
        "bits": st.sampled_from(BITS_OPTIONS),
        "sym": st.sampled_from(["symmetric", "asymmetric"]),
        "signed": st.sampled_from(["signed", "unsigned"]),
        "gran": st.sampled_from(GRANULARITIES),
        "group": st.integers(1, 4096),
        "gaxis": st.sampled_from(["rows", "columns"]),
        "brows": st.integers(1, 512),
        "bcols": st.integers(1, 512),
        "range": st.sampled_from(list(RANGE_LABELS)),
        # The widget steps by 0.1 with two decimals shown.
        "pct": st.integers(501, 1000).map(lambda n: n / 10),
    }
)


@given(widget_settings)
@settings(max_examples=300, deadline=None)
def test_every_widget_state_survives_the_url(s):
    scheme = scheme_from_settings(s)
    back = qv.parse_scheme(scheme.slug())
    assert back == scheme
    assert scheme_from_settings(settings_from_scheme(back)) == scheme


@pytest.mark.parametrize(
    "slug",
    ["int8-sym-per-channel-dim2", "int4-sym-per-group-32-dim1"],
    ids=["channel-dim2", "group-dim1"],
)
def test_schemes_the_widgets_cannot_show_are_refused(slug):
    with pytest.raises(ValueError, match="dashboard"):
        settings_from_scheme(qv.parse_scheme(slug))


@given(st.integers(1, 1 << 20), st.integers(1, 256))
def test_suggested_size_splits_into_pieces(length, cap):
    size = suggested_size(length, cap)
    assert 1 <= size <= max(1, min(cap, length))
    assert size & (size - 1) == 0  # a power of two
    if 4 <= length <= 2 * cap:
        assert length / size <= 4  # a few pieces, not hundreds
