"""Block boundary lines: drawn only where they leave the data readable, named in the note when
left out."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
import torch

import quantviz as qv
from quantviz.figures import error_heatmaps_grid, quantization_heatmaps
from quantviz.figures._layout import (
    MIN_LINE_GAP_CELLS,
    MIN_LINE_GAP_PX,
    plan_boundaries,
)


def boundary_traces(fig: go.Figure) -> list[go.Scatter]:
    return [t for t in fig.data if t.name == "block boundaries"]


def vertical_lines(trace: go.Scatter) -> set[float]:
    xs = list(trace.x)
    return {xs[i] for i in range(0, len(xs), 3) if xs[i] == xs[i + 1]}


def note_of(fig: go.Figure) -> str:
    return fig.layout.title.subtitle.text or ""


@pytest.fixture(scope="module")
def big() -> torch.Tensor:
    return torch.randn(2048, 2048, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("scheme", "note"),
    [
        pytest.param("int4-sym-per-group-32", "group boundaries every 32 columns", id="group-32"),
        pytest.param("int4-sym-per-block-64x64", "64×64 block boundaries", id="block-64x64"),
        pytest.param("int8-sym-per-row", "row boundaries (one scale per row)", id="per-row"),
    ],
)
def test_dense_boundaries_on_a_big_matrix_are_left_out_and_named(big, scheme, note):
    fig = quantization_heatmaps(big, qv.quantize(big, qv.parse_scheme(scheme)))
    assert boundary_traces(fig) == []
    lines = note_of(fig).split("<br>")
    assert lines[0].startswith("downsampled 2048×2048")  # the pooling note stays first
    assert lines[1] == f"{note}: too dense to draw at this size"


def test_coarse_groups_on_a_big_matrix_are_still_drawn(big):
    fig = quantization_heatmaps(big, qv.quantize(big, qv.parse_scheme("int4-sym-per-group-256")))
    lines = boundary_traces(fig)
    assert len(lines) == 4
    assert vertical_lines(lines[0]) == {c - 0.5 for c in range(256, 2048, 256)}
    assert "too dense" not in note_of(fig)


def test_the_note_line_adds_height_without_shrinking_the_panels(big):
    fine = quantization_heatmaps(big, qv.quantize(big, qv.parse_scheme("int4-sym-per-group-32")))
    coarse = quantization_heatmaps(big, qv.quantize(big, qv.parse_scheme("int4-sym-per-group-256")))
    extra = fine.layout.height - coarse.layout.height
    assert extra > 0
    assert fine.layout.margin.t - coarse.layout.margin.t == extra


def test_error_grid_draws_what_fits_and_lists_what_does_not(big):
    x = big[:1024]
    names = ["int4-sym-per-group-32", "int4-sym-per-group-512", "int4-sym-per-block-64x64"]
    fig = error_heatmaps_grid(x, [qv.quantize(x, qv.parse_scheme(s)) for s in names])
    (lines,) = boundary_traces(fig)  # only per-group(512) is coarse enough
    assert vertical_lines(lines) == {511.5, 1023.5, 1535.5}
    last = note_of(fig).split("<br>")[-1]
    assert last == "block boundaries not drawn at this size: per-group(32), per-block(64x64)"


def test_small_matrices_keep_every_line():
    x = torch.randn(16, 16, generator=torch.Generator().manual_seed(1))
    fig = quantization_heatmaps(x, qv.quantize(x, qv.parse_scheme("int8-sym-per-column")))
    lines = boundary_traces(fig)
    assert len(lines) == 4
    assert vertical_lines(lines[0]) == {c - 0.5 for c in range(1, 16)}
    assert "too dense" not in note_of(fig)


@pytest.mark.parametrize(
    ("shape", "granularity", "display", "panel_px", "drawn"),
    [
        # Not pooled: only the pixel spacing counts (4 columns of 64 over 400 px = 25 px).
        pytest.param((64, 64), qv.PerGroup(4), (64, 64), (400, 300), True, id="25px"),
        pytest.param((64, 64), qv.PerGroup(4), (64, 64), (160, 300), False, id="10px"),
        # Pooled 2:1: groups of 4 are 2 display cells apart however wide the panel.
        pytest.param((256, 256), qv.PerGroup(4), (128, 128), (4000, 300), False, id="2-cells"),
        pytest.param((256, 256), qv.PerGroup(8), (128, 128), (4000, 300), True, id="4-cells"),
        # Tiles are all or nothing: columns would fit, rows (3 px apart) would not.
        pytest.param((2048, 64), qv.PerBlock(64, 8), (128, 64), (400, 100), False, id="tiles"),
        # One line has no neighbour to crowd.
        pytest.param((4, 2048), qv.PerGroup(1024), (4, 128), (100, 90), True, id="one-line"),
    ],
)
def test_plan_draws_only_lines_far_enough_apart(shape, granularity, display, panel_px, drawn):
    plan = plan_boundaries(shape, granularity, display, panel_px)
    assert bool(plan.cols or plan.rows) == drawn
    assert bool(plan.note) == (not drawn)


def test_thresholds_are_the_documented_ones():
    # A line every MIN_LINE_GAP_PX pixels is the closest drawn; one pixel less is not.
    at = plan_boundaries((10, 100), qv.PerGroup(10), (10, 100), (10 * MIN_LINE_GAP_PX, 50))
    below = plan_boundaries((10, 100), qv.PerGroup(10), (10, 100), (10 * MIN_LINE_GAP_PX - 1, 50))
    assert at.cols == list(range(10, 100, 10))
    assert (below.cols, below.rows) == ([], [])
    gap = MIN_LINE_GAP_CELLS * 2  # 2:1 pooling: MIN_LINE_GAP_CELLS display cells
    assert plan_boundaries((8, 64), qv.PerGroup(gap), (8, 32), (10_000, 50)).cols
    assert not plan_boundaries((8, 64), qv.PerGroup(gap - 2), (8, 32), (10_000, 50)).cols


def test_huge_one_dimensional_per_channel_is_refused_without_listing_every_line():
    plan = plan_boundaries((10**8,), qv.PerChannel(0), (1, 128), (400, 90))
    assert (plan.cols, plan.rows) == ([], [])
    assert plan.note == "value boundaries (one scale per value): too dense to draw at this size"


def test_too_big_to_trace_says_so():
    plan = plan_boundaries((64, 256, 512), qv.PerChannel(1), (64, 128), (400, 300))
    assert (plan.cols, plan.rows) == ([], [])
    assert plan.note == "block boundaries not drawn: tensor too big to trace them"
