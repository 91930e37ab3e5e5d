"""histogram_with_grid and error_histogram: counts, grid levels, clip points, bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.figures import error_histogram, histogram_with_grid


def trace(fig, prefix: str):
    (found,) = [t for t in fig.data if t.name and t.name.startswith(prefix)]
    return found


def vertical_lines(scatter) -> list[float]:
    return list(scatter.x[::3])


@pytest.fixture(scope="module")
def normal() -> torch.Tensor:
    return torch.randn(64, 256, generator=torch.Generator().manual_seed(0))


def test_per_tensor_levels_are_the_exact_grid(normal):
    res = qv.quantize(normal, qv.parse_scheme("int4-asym-per-tensor"))
    fig = histogram_with_grid(normal, res)
    levels = vertical_lines(trace(fig, "grid levels"))
    scale, zp = float(res.scale), int(res.zero_point)
    expected = [scale * (q - zp) for q in range(-8, 8)]
    np.testing.assert_allclose(levels, expected, rtol=1e-6)
    clip = vertical_lines(trace(fig, "clip points"))
    np.testing.assert_allclose(clip, [expected[0], expected[-1]], rtol=1e-6)


def test_counts_cover_every_value(normal):
    res = qv.quantize(normal, qv.parse_scheme("int8-sym-per-tensor"))
    bars = trace(histogram_with_grid(normal, res, bins=37), "values")
    assert len(bars.y) == 37
    assert sum(bars.y) == normal.numel()


def test_finer_granularity_defaults_to_the_block_with_the_most_error(normal):
    x = normal.clone()
    x[17, 3] = 40.0  # row 17's grid is 40/127 wide: its rounding error dwarfs the others'
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-row"))
    fig = histogram_with_grid(x, res)
    levels = trace(fig, "grid levels")
    assert "row 17 (most error)" in levels.name
    assert fig.layout.title.text.startswith("values of block 17 ")
    assert "every 4th of 256" in levels.name  # 256 levels thinned to at most 64 lines
    np.testing.assert_allclose(np.diff(vertical_lines(levels)), 4 * float(res.scale[17]), rtol=1e-5)
    assert sum(trace(fig, "values").y) == 256  # that row's values only


@pytest.mark.parametrize(
    "slug",
    ["int4-sym-per-group-32", "int4-asym-per-group-16-dim0", "int8-sym-per-block-16x32"],
    ids=["groups-along-rows", "groups-down-columns", "tiles"],
)
def test_a_picked_block_draws_its_own_grid_over_its_own_values(normal, slug):
    res = qv.quantize(normal, qv.parse_scheme(slug))
    idx = res.num_scales // 2 + 1
    fig = histogram_with_grid(normal, res, block=idx)
    scale = float(res.scale.reshape(-1)[idx])
    zp = int(res.zero_point.reshape(-1)[idx])
    s = res.scheme
    np.testing.assert_allclose(
        vertical_lines(trace(fig, "clip points")),
        [scale * (s.q_min - zp), scale * (s.q_max - zp)],
        rtol=1e-6,
    )
    assert sum(trace(fig, "values").y) == normal.numel() // res.num_scales
    with pytest.raises(
        ValueError, match=f"block must be an integer from 0 to {res.num_scales - 1}"
    ):
        histogram_with_grid(normal, res, block=res.num_scales)


def test_clipped_values_are_drawn_outside_the_clip_points(normal):
    x = normal.clone()
    x[5, :4] = torch.tensor([9.0, -9.0, 8.5, 7.0])
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-row-p99"))
    fig = histogram_with_grid(x, res, block=5)
    red = trace(fig, "clipped")
    lo, hi = vertical_lines(trace(fig, "clip points"))
    mask = qv.clipped_mask(x, res)[5]
    assert sum(red.y) == int(mask.sum()) > 0
    centres = np.asarray(red.x)[np.asarray(red.y) > 0]
    assert np.all((centres < lo) | (centres > hi))


def test_clipped_share_is_reported(normal):
    res = qv.quantize(normal, qv.parse_scheme("int4-sym-per-tensor-p99"))
    n = int(qv.clipped_mask(normal, res).sum())
    assert n > 0
    fig = histogram_with_grid(normal, res)
    assert f"{n:,} of {normal.numel():,} values clipped" in fig.layout.title.subtitle.text
    assert len(fig.layout.shapes) == 2  # shaded clipped regions on both sides


def test_log_counts_option(normal):
    res = qv.quantize(normal, qv.parse_scheme("int8-sym-per-tensor"))
    assert histogram_with_grid(normal, res, log_y=True).layout.yaxis.type == "log"


def count_ticks(fig) -> list[float]:
    """The tick values plotly will draw on the count axis."""
    ax = fig.layout.yaxis
    if ax.type == "log":
        return list(ax.tickvals)
    assert ax.tickmode == "linear"
    return list(np.arange(ax.tick0, ax.range[1] + 1e-9, ax.dtick))


@pytest.mark.parametrize("log_y", [False, True], ids=["linear", "log"])
@pytest.mark.parametrize("n", [3, 40, 1000], ids=["9-values", "120-values", "1M-values"])
@pytest.mark.parametrize("chart", ["values", "error"])
def test_count_axis_ticks_are_whole_numbers(n, log_y, chart):
    x = torch.randn(n, n if n == 1000 else 3, generator=torch.Generator().manual_seed(n))
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    if chart == "values":
        fig = histogram_with_grid(x, res, log_y=log_y)
    else:
        fig = error_histogram(x, res.dequantize(), result=res, log_y=log_y)
    ticks = count_ticks(fig)
    assert len(ticks) >= 1
    assert all(float(t).is_integer() for t in ticks), ticks
    assert len(ticks) <= 15  # readable, not one per count


@pytest.mark.parametrize(
    ("bins", "message"),
    [pytest.param(0, "bins", id="zero"), pytest.param(2.5, "bins", id="float")],
)
def test_bad_bins_are_refused(normal, bins, message):
    res = qv.quantize(normal, qv.parse_scheme("int8-sym-per-tensor"))
    with pytest.raises(ValueError, match=message):
        histogram_with_grid(normal, res, bins=bins)


def test_error_histogram_counts_and_rounding_bound(normal):
    res = qv.quantize(normal, qv.parse_scheme("int4-sym-per-tensor"))
    x_hat = res.dequantize()
    fig = error_histogram(normal, x_hat, bins=50, result=res)
    bars = trace(fig, "error")
    assert sum(bars.y) == normal.numel()
    half = float(res.scale) / 2
    bound = trace(fig, "±scale/2")
    np.testing.assert_allclose(vertical_lines(bound), [-half, half], rtol=1e-6)
    # Symmetric absmax never clips, so every error lies within the bound.
    assert float((x_hat - normal).abs().max()) <= half * (1 + 1e-6)
    lo, hi = fig.layout.xaxis.range
    assert lo == -hi


def test_error_histogram_without_result_has_no_bound(normal):
    x_hat = qv.quantize(normal, qv.parse_scheme("int8-sym-per-row")).dequantize()
    names = [t.name for t in error_histogram(normal, x_hat).data]
    assert names == ["error"]


def test_error_histogram_refuses_mismatched_shapes(normal):
    with pytest.raises(ValueError, match="shape mismatch"):
        error_histogram(normal, normal[:, :-1])
