"""Quantize page: a group or tile size that does not fit the tensor gets a caption saying what
it really does (the notebook 3×3 is the session's tensor)."""

from __future__ import annotations

import pytest

from tests.app._helpers import QUANTIZE, assert_ok


def size_captions(at) -> list[str]:
    return [c.value for c in at.caption if "≥" in c.value or "tiles cover" in c.value]


@pytest.mark.parametrize(
    ("gran", "sizes", "caption"),
    [
        pytest.param(
            "per-group",
            {"q_group": 10},
            "group size 10 ≥ row length 3: every row is one group (same as per-row)",
            id="group-10-on-3-columns",
        ),
        pytest.param(
            "per-block",
            {"q_brows": 8, "q_bcols": 8},
            "8×8 tiles cover the whole 3×3 matrix (same as per-tensor)",
            id="8x8-tiles-on-3x3",
        ),
        pytest.param("per-group", {"q_group": 2}, None, id="group-2-fits"),
        pytest.param("per-row", {}, None, id="per-row"),
    ],
)
def test_quantize_names_sizes_that_do_not_fit(app, gran, sizes, caption):
    at = app(QUANTIZE)
    at.selectbox(key="q_gran").set_value(gran).run()
    for key, value in sizes.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert_ok(at)
    assert size_captions(at) == ([caption] if caption else [])
