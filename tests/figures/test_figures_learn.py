"""number_line: values mapped to the grid exactly as the core maps them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.figures import number_line
from quantviz.figures.learn import LABEL_GAP_PX, LABEL_PLOT_PX, label_width_px
from tests.helpers import notebook_tensor


def values_trace(fig):
    (t,) = [t for t in fig.data if t.name == "real values x"]
    return t


@pytest.mark.parametrize(
    "scheme",
    [
        pytest.param("int8-sym-per-tensor", id="int8-sym"),
        pytest.param("uint4-asym-per-tensor", id="uint4-asym"),
        pytest.param("int4-sym-per-tensor-p90", id="int4-clipping"),
    ],
)
def test_each_value_goes_to_the_level_quantize_picks(scheme):
    x = notebook_tensor().flatten()
    res = qv.quantize(x, qv.parse_scheme(scheme))
    fig = number_line(x, res.scheme, res.scale, res.zero_point)
    points = values_trace(fig)
    np.testing.assert_array_equal(points.x, x.numpy())
    np.testing.assert_array_equal(points.customdata[:, 0], res.q.numpy())
    np.testing.assert_array_equal(points.customdata[:, 1], res.dequantize().numpy())
    arrows = fig.layout.annotations
    assert len(arrows) == x.numel()
    np.testing.assert_allclose([a.x for a in arrows], res.dequantize().numpy(), rtol=1e-6)
    n_clipped = int(qv.clipped_mask(x, res).sum())
    clipped_text = fig.layout.title.subtitle.text
    assert (f"{n_clipped} value" in clipped_text) == (n_clipped > 0)


def level_labels(fig):
    (t,) = [t for t in fig.data if t.mode == "text"]
    return np.array(t.x, dtype=float), [int(v) for v in t.text]


def label_rows(fig):
    (t,) = [t for t in fig.data if t.mode == "text"]
    return np.array(t.y, dtype=float)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-1000, 1000, allow_nan=False, width=32), min_size=1, max_size=64),
    scheme=st.sampled_from(
        [
            "int8-sym-per-tensor",
            "uint8-asym-per-tensor",
            "int4-sym-per-tensor",
            "int16-sym-per-tensor",
        ]
    ),
)
def test_level_labels_never_overlap_or_leave_the_plot(values, scheme):
    x = torch.tensor(values)
    res = qv.quantize(x, qv.parse_scheme(scheme))
    fig = number_line(x, res.scheme, res.scale, res.zero_point)
    xs, levels = level_labels(fig)
    ys = label_rows(fig)
    lo, hi = fig.layout.xaxis.range
    px = (xs - lo) * LABEL_PLOT_PX / (hi - lo)
    half = np.array([label_width_px(v) / 2 for v in levels])
    assert (px - half >= 0).all()
    assert (px + half <= LABEL_PLOT_PX).all()
    for y in np.unique(ys):  # labels in one row never touch; rows are apart vertically
        row = ys == y
        order = np.argsort(px[row])
        gaps = np.diff(px[row][order]) - half[row][order][1:] - half[row][order][:-1]
        assert (gaps >= LABEL_GAP_PX - 1e-9).all()
    # Every label names a level a value landed on, an edge of the grid or the zero point.
    extra = {res.scheme.q_min, res.scheme.q_max, int(res.zero_point)}
    assert set(levels) <= set(res.q.tolist()) | extra


def test_notebook_labels_show_the_grid_edge_the_largest_value_reaches():
    x = notebook_tensor().flatten()
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    _, levels = level_labels(number_line(x, res.scheme, res.scale))
    assert 127 in levels
    assert 0 in levels
    assert -44 not in levels  # a level no value hit, once half-clipped at the left edge


@pytest.mark.parametrize(
    "scheme",
    ["int8-sym-per-tensor", "int4-sym-per-tensor", "uint8-asym-per-tensor", "int2-sym-per-tensor"],
)
def test_every_level_a_notebook_value_lands_on_is_labelled(scheme):
    # 119 lands next to 127: the two labels are staggered, not thinned.
    x = notebook_tensor().flatten()
    res = qv.quantize(x, qv.parse_scheme(scheme))
    fig = number_line(x, res.scheme, res.scale, res.zero_point)
    _, levels = level_labels(fig)
    assert set(res.q.tolist()) <= set(levels)


def test_plain_lists_are_accepted():
    fig = number_line([0.5, -1.25], qv.parse_scheme("int8-sym-per-tensor"), scale=0.25)
    np.testing.assert_array_equal(values_trace(fig).customdata[:, 0], [2, -5])


def test_clipped_region_is_shaded_beyond_half_a_step_past_the_grid():
    scheme = qv.parse_scheme("int4-sym-per-tensor")
    fig = number_line(torch.tensor([0.0, 1.0, 30.0]), scheme, scale=1.0)
    (shade,) = fig.layout.shapes
    assert shade.x0 == pytest.approx(7.5)
    assert "1 value clipped" in fig.layout.title.subtitle.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"values": torch.zeros(65)}, "at most 64", id="too-many"),
        pytest.param({"values": torch.zeros(0)}, "at least one", id="none"),
        pytest.param({"values": "1, 2"}, "must be numbers", id="text"),
        pytest.param({"values": torch.tensor([float("nan")])}, "finite", id="nan"),
        pytest.param({"scale": 0.0}, "positive", id="zero-scale"),
        pytest.param({"scale": torch.ones(2)}, "single number", id="per-row-scale"),
        pytest.param(
            {"zero_point": 99, "scheme": "uint4-asym-per-tensor"}, "outside the grid", id="zp"
        ),
        pytest.param({"scheme": "int4"}, "QuantScheme", id="scheme-string"),
    ],
)
def test_bad_arguments_get_a_clear_message(kwargs, message):
    args = {"values": torch.tensor([1.0, -2.0]), "scheme": "int4-sym-per-tensor", "scale": 0.5}
    args.update(kwargs)
    if isinstance(args["scheme"], str) and "-" in args["scheme"]:
        args["scheme"] = qv.parse_scheme(args["scheme"])
    with pytest.raises(ValueError, match=message):
        number_line(**args)
