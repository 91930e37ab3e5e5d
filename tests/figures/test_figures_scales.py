"""scales_chart: the right chart for each granularity, carrying the result's scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.figures import scales_chart
from quantviz.figures.scales import MAX_POINTS


@pytest.fixture(scope="module")
def w() -> torch.Tensor:
    return torch.randn(12, 96, generator=torch.Generator().manual_seed(0)) * torch.linspace(
        0.1, 2, 96
    )


def named(fig, name):
    (t,) = [t for t in fig.data if t.name == name]
    return t


def test_per_row_scales_are_bars_with_zero_points_on_a_second_axis(w):
    res = qv.quantize(w, qv.parse_scheme("int8-asym-per-row"))
    fig = scales_chart(res, w.shape)
    scale = named(fig, "scale")
    assert scale.type == "bar"
    np.testing.assert_array_equal(scale.x, np.arange(12))
    np.testing.assert_array_equal(scale.y, res.scale.flatten().numpy())
    zp = named(fig, "zero point")
    np.testing.assert_array_equal(zp.y, res.zero_point.flatten().numpy())
    assert zp.yaxis == "y2"
    assert fig.layout.xaxis.title.text == "row"


def test_symmetric_scheme_has_no_zero_point_trace(w):
    res = qv.quantize(w, qv.parse_scheme("int8-sym-per-column"))
    fig = scales_chart(res, w.shape)
    assert [t.name for t in fig.data] == ["scale"]
    assert fig.data[0].type == "scatter"  # 96 columns: a line reads better than bars
    assert fig.layout.xaxis.title.text == "column"


def test_per_group_grid_is_a_heatmap_of_scales(w):
    res = qv.quantize(w, qv.parse_scheme("int4-asym-per-group-32"))
    fig = scales_chart(res, w.shape)
    scale = named(fig, "scale")
    assert scale.type == "heatmap"
    np.testing.assert_array_equal(scale.z, res.scale.numpy())
    zp = named(fig, "zero point")
    np.testing.assert_array_equal(zp.z, res.zero_point.numpy())
    assert "36 scales" in fig.layout.title.subtitle.text


def test_per_tensor_shows_the_numbers(w):
    res = qv.quantize(w, qv.parse_scheme("int8-asym-per-tensor"))
    fig = scales_chart(res, w.shape)
    values = [t.value for t in fig.data if t.type == "indicator"]
    assert values == [pytest.approx(float(res.scale)), int(res.zero_point)]
    s, zp = float(res.scale), int(res.zero_point)
    assert f"covers [{s * (-128 - zp):.4g}, {s * (127 - zp):.4g}]" in fig.layout.title.subtitle.text


def test_per_tensor_panel_is_compact_and_labels_stay_below_the_title(w):
    fig = scales_chart(qv.quantize(w, qv.parse_scheme("int8-sym-per-tensor")), w.shape)
    assert fig.layout.height <= 200
    # Each number's label is drawn above its domain: the domain must leave room under the title.
    assert all(t.domain.y[1] <= 0.75 for t in fig.data)


def test_many_channels_are_max_pooled():
    x = torch.randn(3 * MAX_POINTS, 2)
    x[1000, 0] = 50.0  # one channel with a huge scale must stay visible
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-row"))
    line = scales_chart(res, x.shape).data[0]
    assert len(line.y) <= MAX_POINTS
    assert max(line.y) == float(res.scale.max())
    assert 1000 in list(line.x)


def test_shape_mismatch_is_refused(w):
    res = qv.quantize(w, qv.parse_scheme("int8-sym-per-row"))
    with pytest.raises(ValueError, match="shape mismatch"):
        scales_chart(res, (12, 95))


def test_a_long_subtitle_breaks_into_lines_that_fit_a_half_width_chart():
    # 30522 rows: the max-pooling note joins the spread of the scales. On one line the subtitle
    # ran past the edge of a half-width column (about 90 characters) and was cut off.
    x = torch.randn(30522, 8, generator=torch.Generator().manual_seed(0))
    fig = scales_chart(qv.quantize(x, qv.parse_scheme("int8-asym-per-row")), x.shape)
    lines = fig.layout.title.subtitle.text.split("<br>")
    assert len(lines) == 2
    assert lines[1].startswith("max-pooled 30,522 scales")
    assert max(len(line) for line in lines) <= 90
    assert fig.layout.margin.t >= 90 + 18  # room for the second line
