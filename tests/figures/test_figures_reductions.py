"""Each panel's reduction on tensors built so the right answer is known, the zoom window, and the
colour range that keeps one outlier from blanking the map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantviz as qv
from quantviz.figures import quantization_heatmaps
from quantviz.figures.downsample import (
    Window,
    display_matrix,
    parse_window,
    pool_values,
    window_around,
)
from quantviz.figures.panel_draw import panel_figure
from quantviz.figures.panels import (
    colour_limits,
    error_panel,
    integer_panel,
    quantization_panels,
    value_panel,
)


def _blocks(values: list[list[float]], step: int) -> torch.Tensor:
    """A matrix of ``step × step`` constant tiles with the given values."""
    t = torch.tensor(values, dtype=torch.float32)
    return t.repeat_interleave(step, 0).repeat_interleave(step, 1)


def test_rms_pooling_gives_each_windows_root_mean_square() -> None:
    # Window (0, 0) holds ±3 in equal numbers: RMS 3, mean 0. Window (0, 1) holds 0 and 4
    # half and half: RMS sqrt(8). Window (1, *) is constant 1 and -2.
    x = _blocks([[0, 0], [1, -2]], 4)
    x[0:4, 0:4] = torch.tensor([3.0, -3.0]).repeat(8).reshape(4, 4)
    x[0:4, 4:8] = torch.tensor([0.0, 4.0]).repeat(8).reshape(4, 4)
    dm = display_matrix(x, (2, 2), reduction="rms")
    np.testing.assert_allclose(dm.values, [[3.0, np.sqrt(8.0)], [1.0, 2.0]], rtol=1e-6)
    assert "RMS pooling" in dm.note
    assert not dm.positions


def test_mean_abs_pooling_and_partial_edge_windows() -> None:
    # 5×5 in 3×3 windows: the edge windows hold 3×2, 2×3 and 2×2 elements, averaged over
    # what they hold (not over padding).
    x = -torch.ones(5, 5)
    x[3:, :] = 5.0
    dm = display_matrix(x, (2, 2), reduction="mean_abs")
    assert (dm.row_step, dm.col_step) == (3, 3)
    np.testing.assert_allclose(dm.values, [[1.0, 1.0], [5.0, 5.0]])


def test_absmax_pooling_keeps_the_spike_and_its_position() -> None:
    x = torch.zeros(64, 64)
    x[37, 5] = -9.0
    dm = display_matrix(x, (8, 8), reduction="absmax")
    assert dm.values[4, 0] == -9.0
    assert (dm.source_rows[4, 0], dm.source_cols[4, 0]) == (37, 5)


@pytest.mark.parametrize("peak", [1e-22, 1e20], ids=["tiny", "huge"])
def test_rms_neither_underflows_nor_overflows(peak: float) -> None:
    x = torch.full((8, 8), peak)
    np.testing.assert_allclose(pool_values(x, 4, 4, "rms").numpy(), peak, rtol=1e-5)


def test_unknown_reduction_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reduction 'median'"):
        display_matrix(torch.ones(4, 4), reduction="median")


def test_integer_panel_pools_mean_code_distance_from_the_zero_point() -> None:
    # Asymmetric int8 on values 0 … 255 (r_min 0 -> z = -128 on a signed grid); the top half of
    # the rows sits at 0 (codes at z: |q − z| = 0), the bottom half at 255 (q = 127: 255).
    x = _blocks([[0.0, 0.0], [255.0, 255.0]], 32)
    res = qv.quantize(x, qv.QuantScheme(bits=8, symmetric=False))
    panel = integer_panel(res, max_cells=(2, 2))
    np.testing.assert_allclose(panel.z, [[0, 0], [255, 255]])
    assert "mean |q − z| per 32×32" in panel.title
    assert (panel.cmin, panel.cmax) == (0.0, 255.0)


def test_integer_panel_at_full_resolution_shows_the_codes() -> None:
    x = torch.randn(6, 5)
    res = qv.quantize(x, qv.parse_scheme("int4-sym-per-row"))
    panel = integer_panel(res)
    np.testing.assert_array_equal(panel.z, res.q.numpy())
    assert (panel.cmin, panel.cmax) == (-8, 7)


def test_error_panel_pools_rms_on_a_sequential_scale_from_zero() -> None:
    err = _blocks([[0.5, -0.5], [0.0, 2.0]], 16)
    err[0:16, 0:16] *= torch.tensor([1.0, -1.0]).repeat(128).reshape(16, 16)  # signs cancel
    panel = error_panel(err, max_cells=(2, 2))
    np.testing.assert_allclose(panel.z, [[0.5, 0.5], [0.0, 2.0]])
    assert panel.cmin == 0.0
    assert panel.cmax == pytest.approx(2.0)
    assert panel.title.startswith("error: RMS per 16×16")


def test_one_outlier_does_not_blank_the_value_panels() -> None:
    """absmax 7.9 against std 0.045: the default colour range (99.9th percentile of the cells)
    ends near the bulk; the outlier's cell is marked beyond it, with at most 0.1% of the cells."""
    x = torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0)) * 0.045
    x[700, 300] = 7.9
    full = value_panel(x, clip=None)
    clipped = value_panel(x)
    assert full.cmax == pytest.approx(7.9)
    assert clipped.cmax < 0.3
    assert 1 <= clipped.clipped.sum() <= 128 * 128 // 1000 + 1
    r, c = np.unravel_index(np.argmax(clipped.z), clipped.z.shape)
    assert clipped.clipped[r, c]
    assert (clipped.dm.source_rows[r, c], clipped.dm.source_cols[r, c]) == (700, 300)
    fig = panel_figure(clipped, (1024, 1024), qv.PerTensor())
    marks = [t for t in fig.data if t.type == "scatter" and t.name == "beyond the colour range"]
    assert len(marks) == 1
    assert len(marks[0].x) == clipped.clipped.sum()
    assert marks[0].customdata[0] == pytest.approx(7.9)  # the farthest beyond comes first
    assert not full.clipped.any()


@pytest.mark.parametrize("n", [3, 16, 31], ids=["3x3", "16x16", "31x31"])
def test_small_matrices_keep_their_full_colour_range(n: int) -> None:
    x = torch.randn(n, n)
    lo, hi = colour_limits(display_matrix(x).values, 99.9)
    m = float(x.abs().max())
    assert (lo, hi) == pytest.approx((-m, m))


def test_colour_limits_of_one_sign_clip_both_ends() -> None:
    values = np.arange(1, 2001, dtype=np.float64)
    assert colour_limits(values, 99.0) == (20.0, 1981.0)
    assert colour_limits(values, None) == (1.0, 2000.0)
    with pytest.raises(ValueError, match="clip must be None or a percentile"):
        colour_limits(values, 30)


def test_dequantized_panel_shares_the_originals_range() -> None:
    x = torch.randn(300, 300)
    x[3, 3] = 40.0
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-row"))
    panels = quantization_panels(x, res)
    assert (panels["dequantized"].cmin, panels["dequantized"].cmax) == (
        panels["original"].cmin,
        panels["original"].cmax,
    )


def test_window_shows_that_part_at_full_resolution_with_its_indices() -> None:
    x = torch.arange(300 * 400, dtype=torch.float32).reshape(300, 400)
    w = Window(100, 110, 250, 262)
    dm = display_matrix(x, window=w)
    assert not dm.downsampled
    np.testing.assert_array_equal(dm.values, x[100:110, 250:262].numpy())
    assert (dm.source_rows[0, 0], dm.source_cols[-1, -1]) == (100, 261)
    assert "zoomed to rows 100–109, columns 250–261" in dm.note
    trace = panel_figure(value_panel(x, window=w), (300, 400), qv.PerTensor()).data[0]
    assert (trace.x0, trace.y0) == (250, 100)
    res = qv.quantize(x, qv.QuantScheme())
    panels = quantization_panels(x, res, window=w)
    np.testing.assert_array_equal(panels["quantized"].z, res.q[100:110, 250:262].numpy())


def test_window_slug_round_trips_and_fits_the_matrix() -> None:
    w = Window(0, 128, 256, 384)
    assert parse_window(w.slug()) == w
    assert Window(4000, 4200, 0, 10).fit(4096, 4096) == Window(3896, 4096, 0, 10)
    assert window_around(5, 4090, (16, 16), 4096, 4096) == Window(0, 16, 4080, 4096)
    with pytest.raises(ValueError, match="row0-row1,col0-col1"):
        parse_window("1:2")
    with pytest.raises(ValueError, match="not a window"):
        Window(5, 5, 0, 1)
    with pytest.raises(ValueError, match="does not fit"):
        display_matrix(torch.ones(4, 4), window=Window(0, 5, 0, 4))


def test_zoomed_boundaries_are_those_inside_the_window() -> None:
    x = torch.randn(64, 64)
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-block-8x8"))
    fig = quantization_heatmaps(x, res, window=Window(4, 20, 4, 20))
    lines = next(t for t in fig.data if t.name == "block boundaries")
    xs = {v for v in lines.x if v is not None}
    assert {7.5, 15.5} <= xs
    assert all(3.5 <= v <= 19.5 for v in xs)


def test_panel_titles_name_their_reduction() -> None:
    x = torch.randn(512, 512)
    res = qv.quantize(x, qv.parse_scheme("int4-sym-per-group-32"))
    titles = [p.title for p in quantization_panels(x, res).values()]
    assert titles[0] == "original (max-|x| per 4×4)"
    assert titles[1].startswith("integers: mean |q − z| per 4×4")
    assert titles[2] == "dequantized (at the original's max-|x| per 4×4)"
    assert titles[3].startswith("error: RMS per 4×4")


def test_dequantized_cells_pair_with_the_originals_elements() -> None:
    """Pooled, each dequantized cell is the reconstruction of the element the original's cell
    shows, so the two panels compare cell for cell; its hover sends no second copy of the
    positions."""
    x = torch.randn(512, 512, generator=torch.Generator().manual_seed(4))
    res = qv.quantize(x, qv.parse_scheme("int4-asym-per-group-64"))
    panels = quantization_panels(x, res)
    orig, deq = panels["original"], panels["dequantized"]
    x_hat = res.dequantize()
    rows, cols = orig.dm.source_rows, orig.dm.source_cols
    np.testing.assert_array_equal(deq.z, x_hat.numpy()[rows, cols])
    np.testing.assert_array_equal(orig.z, x.numpy()[rows, cols])
    heat = panel_figure(deq, (512, 512), res.scheme.granularity).data[0]
    assert heat.customdata is None
    assert "largest |original|" in heat.hovertemplate
    assert panel_figure(orig, (512, 512), res.scheme.granularity).data[0].customdata is not None
