"""The heatmap builders: what data each panel carries, colour axes, text, boundaries, size."""

from __future__ import annotations

import itertools

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from plotly.colors import get_colorscale

import quantviz as qv
from quantviz.figures import (
    error_heatmaps_grid,
    matrix_heatmap,
    quantization_heatmaps,
    scales_chart,
)
from quantviz.figures._style import VALUES_SEQUENTIAL
from tests.helpers import notebook_tensor

PANELS = ("original", "quantized", "dequantized", "error")


def colors(scale) -> list[str]:
    return [c for _, c in scale]


def heatmaps(fig: go.Figure) -> dict[str, go.Heatmap]:
    return {t.name: t for t in fig.data if t.type == "heatmap"}


def boundary_traces(fig: go.Figure) -> list[go.Scatter]:
    return [t for t in fig.data if t.name == "block boundaries"]


def line_positions(trace: go.Scatter) -> tuple[set[float], set[float]]:
    """(x of vertical lines, y of horizontal lines) in a boundary trace."""
    xs, ys = list(trace.x), list(trace.y)
    vertical, horizontal = set(), set()
    for i in range(0, len(xs), 3):
        if xs[i] == xs[i + 1]:
            vertical.add(xs[i])
        else:
            horizontal.add(ys[i])
    return vertical, horizontal


def _linked_figures() -> dict[str, go.Figure]:
    x = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    sym = qv.quantize(x, qv.parse_scheme("int4-sym-per-group-16"))
    asym = qv.quantize(x, qv.parse_scheme("int4-asym-per-group-16"))
    return {
        "quantization-heatmaps": quantization_heatmaps(x, sym),
        "error-grid-2": error_heatmaps_grid(x, [sym, asym]),
        "error-grid-1": error_heatmaps_grid(x, [sym]),
        "scales-grid-sym": scales_chart(sym, x.shape),
        "scales-grid-asym": scales_chart(asym, x.shape),
    }


@pytest.mark.parametrize("name", list(_linked_figures()))
def test_panels_zoom_together_and_no_axis_matches_itself(name):
    layout = _linked_figures()[name].layout.to_plotly_json()
    axes = {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))}
    # plotly.js ignores, with a console warning, an axis told to match itself.
    for key, axis in axes.items():
        assert axis.get("matches") != key.replace("axis", ""), key
    # Every other subplot still follows the first one's zoom.
    for key, axis in axes.items():
        if key not in ("xaxis", "yaxis"):
            assert axis.get("matches") == key[0], key


@pytest.mark.parametrize(
    "granularity",
    [
        pytest.param(qv.PerTensor(), id="per-tensor"),
        pytest.param(qv.PerChannel(0), id="per-row"),
        pytest.param(qv.PerChannel(1), id="per-column"),
    ],
)
@pytest.mark.parametrize(
    "symmetric", [pytest.param(True, id="sym"), pytest.param(False, id="asym")]
)
def test_four_panels_carry_original_integers_dequantized_and_error(granularity, symmetric):
    x = notebook_tensor()
    res = qv.quantize(x, qv.QuantScheme(bits=8, symmetric=symmetric, granularity=granularity))
    panels = heatmaps(quantization_heatmaps(x, res))
    assert set(panels) == set(PANELS)
    x_hat = res.dequantize()
    np.testing.assert_array_equal(panels["original"].z, x.numpy())
    np.testing.assert_array_equal(panels["quantized"].z, res.q.numpy())
    np.testing.assert_array_equal(panels["dequantized"].z, x_hat.numpy())
    np.testing.assert_array_equal(panels["error"].z, (x_hat - x).numpy())


def test_original_and_dequantized_share_one_colour_axis_centred_at_zero():
    x = notebook_tensor()
    res = qv.quantize(x, qv.parse_scheme("int4-sym-per-tensor"))
    fig = quantization_heatmaps(x, res)
    panels = heatmaps(fig)
    assert panels["original"].coloraxis == panels["dequantized"].coloraxis == "coloraxis"
    axis = fig.layout.coloraxis
    assert axis.cmin == -axis.cmax  # the data straddles 0: symmetric diverging range
    top = max(float(x.abs().max()), float(res.dequantize().abs().max()))
    assert axis.cmax == pytest.approx(top)


def test_error_axis_is_symmetric_around_zero_and_integers_span_the_grid():
    x = torch.randn(20, 30, generator=torch.Generator().manual_seed(1))
    res = qv.quantize(x, qv.parse_scheme("uint4-asym-per-row"))
    fig = quantization_heatmaps(x, res)
    panels = heatmaps(fig)
    err_axis = fig.layout[panels["error"].coloraxis]
    assert err_axis.cmin == -err_axis.cmax
    assert err_axis.cmid == 0
    assert err_axis.cmax == pytest.approx(float((res.dequantize() - x).abs().max()))
    q_axis = fig.layout[panels["quantized"].coloraxis]
    assert (q_axis.cmin, q_axis.cmax) == (0, 15)
    assert len({panels[p].coloraxis for p in PANELS}) == 3


def test_positive_values_get_a_sequential_scale():
    x = torch.rand(5, 5) + 1.0
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    fig = quantization_heatmaps(x, res)
    axis = fig.layout.coloraxis
    # The original's range, shared by the dequantized panel; its cells beyond it are marked.
    assert (axis.cmin, axis.cmax) == (float(x.min()), float(x.max()))
    x_hat = res.dequantize()
    beyond = int(((x_hat < x.min() - 1e-5) | (x_hat > x.max() + 1e-5)).sum())
    marks = [t for t in fig.data if t.name == "beyond the colour range"]
    assert sum(len(t.x) for t in marks) == beyond
    assert colors(axis.colorscale) == colors(get_colorscale(VALUES_SEQUENTIAL))
    assert axis.cmid is None


@pytest.mark.parametrize(
    ("shape", "show_values", "expect_text"),
    [
        pytest.param((16, 16), None, True, id="16x16-auto"),
        pytest.param((17, 16), None, False, id="17x16-auto"),
        pytest.param((3, 40), None, False, id="wide-auto"),
        pytest.param((17, 16), True, True, id="forced-on"),
        pytest.param((4, 4), False, False, id="forced-off"),
    ],
)
def test_cell_values_are_printed_only_on_small_matrices(shape, show_values, expect_text):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    panels = heatmaps(quantization_heatmaps(x, res, show_values=show_values))
    for name in PANELS:
        assert (panels[name].texttemplate is not None) == expect_text, name


@pytest.mark.parametrize(
    ("shape", "granularity", "vertical", "horizontal"),
    [
        pytest.param((4, 6), qv.PerGroup(2), {1.5, 3.5}, set(), id="per-group(2)"),
        pytest.param((4, 6), qv.PerGroup(2, dim=0), set(), {1.5}, id="per-group(2)-dim0"),
        pytest.param((4, 6), qv.PerBlock(2, 3), {2.5}, {1.5}, id="per-block(2x3)"),
        pytest.param((3, 3), qv.PerChannel(0), set(), {0.5, 1.5}, id="per-row"),
        pytest.param((3, 3), qv.PerChannel(1), {0.5, 1.5}, set(), id="per-column"),
        pytest.param((2, 3, 4), qv.PerChannel(1), {3.5, 7.5}, set(), id="3-D-per-channel-dim1"),
        pytest.param((10,), qv.PerGroup(4), {3.5, 7.5}, set(), id="1-D-per-group(4)"),
    ],
)
def test_block_boundaries_are_drawn_on_every_panel(shape, granularity, vertical, horizontal):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    res = qv.quantize(x, qv.QuantScheme(bits=4, granularity=granularity))
    lines = boundary_traces(quantization_heatmaps(x, res))
    assert len(lines) == 4
    for trace in lines:
        assert line_positions(trace) == (vertical, horizontal)


@pytest.mark.parametrize(
    ("shape", "granularity"),
    [
        pytest.param((3, 3), qv.PerTensor(), id="per-tensor"),
        pytest.param((100, 8), qv.PerChannel(0), id="per-row-too-many"),
    ],
)
def test_no_boundaries_without_blocks_or_when_too_dense(shape, granularity):
    x = torch.randn(shape)
    res = qv.quantize(x, qv.QuantScheme(bits=8, granularity=granularity))
    assert boundary_traces(quantization_heatmaps(x, res)) == []


@pytest.fixture(scope="module")
def big_spiky():
    x = torch.randn(4096, 4096, generator=torch.Generator().manual_seed(4))
    x[1234, 2345] = -1e3
    return x, qv.quantize(x, qv.parse_scheme("int4-sym-per-group-128"))


def test_big_matrix_is_downsampled_keeps_the_spike_and_stays_under_a_megabyte(big_spiky):
    x, res = big_spiky
    fig = quantization_heatmaps(x, res)
    panels = heatmaps(fig)
    for name in PANELS:
        assert np.asarray(panels[name].z).shape == (128, 128), name
    original = np.asarray(panels["original"].z)
    assert original.min() == -1e3
    r, c = np.unravel_index(int(original.argmin()), original.shape)
    assert tuple(panels["original"].customdata[r, c]) == (1234, 2345)  # hover: original index
    assert "downsampled 4096×4096 → 128×128" in fig.layout.title.subtitle.text
    assert len(fig.to_json()) < 1_000_000


def test_panels_share_zoom_and_show_rows_top_down():
    x = torch.randn(6, 6)
    fig = quantization_heatmaps(x, qv.quantize(x, qv.parse_scheme("int8-sym-per-row")))
    xaxes = [fig.layout[k] for k in fig.layout if k.startswith("xaxis")]
    yaxes = [fig.layout[k] for k in fig.layout if k.startswith("yaxis")]
    assert len(xaxes) == len(yaxes) == 4
    # The first panel's axes lead (matching themselves would make plotly.js warn); the rest follow.
    assert fig.layout.xaxis.matches is None
    assert fig.layout.yaxis.matches is None
    assert sorted(str(a.matches) for a in xaxes) == ["None", "x", "x", "x"]
    assert sorted(str(a.matches) for a in yaxes) == ["None", "y", "y", "y"]
    assert {a.autorange for a in yaxes} == {"reversed"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda r: quantization_heatmaps(torch.zeros(3, 4), r), "shape", id="shape"),
        pytest.param(
            lambda r: quantization_heatmaps(notebook_tensor(), "r"),
            "QuantResult",
            id="not-a-result",
        ),
        pytest.param(
            lambda r: error_heatmaps_grid(notebook_tensor(), []), "at least one", id="no-results"
        ),
        pytest.param(
            lambda r: error_heatmaps_grid(notebook_tensor(), [r], cols=0), "cols", id="cols-0"
        ),
    ],
)
def test_bad_arguments_get_a_clear_message(call, message):
    res = qv.quantize(notebook_tensor(), qv.parse_scheme("int8-sym-per-tensor"))
    with pytest.raises(ValueError, match=message):
        call(res)


def test_matrix_heatmap_picks_a_scale_and_honours_overrides():
    x = notebook_tensor()
    trace = heatmaps(matrix_heatmap(x, title="example"))["value"]
    assert trace.zmin == -trace.zmax == -float(x.abs().max())
    np.testing.assert_array_equal(trace.z, x.numpy())
    custom = matrix_heatmap(x, colorscale="Greys", zmin=-1.0, zmax=2.0)
    trace = heatmaps(custom)["value"]
    assert (trace.zmin, trace.zmax) == (-1.0, 2.0)
    assert colors(trace.colorscale) == colors(get_colorscale("Greys"))
    assert matrix_heatmap(x, title="example").layout.title.text == "example"


def test_error_grid_puts_every_scheme_on_one_symmetric_scale():
    x = torch.randn(8, 64, generator=torch.Generator().manual_seed(5))
    schemes = [
        "int4-sym-per-tensor",
        "int4-sym-per-row",
        "int4-sym-per-group-16",
        "int8-sym-per-tensor",
    ]
    results = [qv.quantize(x, qv.parse_scheme(s)) for s in schemes]
    fig = error_heatmaps_grid(x, results, cols=3)
    maps = [t for t in fig.data if t.type == "heatmap"]
    assert len(maps) == 4
    assert {t.coloraxis for t in maps} == {"coloraxis"}
    worst = max(float((r.dequantize() - x).abs().max()) for r in results)
    assert fig.layout.coloraxis.cmax == pytest.approx(worst)
    assert fig.layout.coloraxis.cmin == -fig.layout.coloraxis.cmax
    for trace, res in zip(maps, results, strict=True):
        np.testing.assert_array_equal(trace.z, (res.dequantize() - x).numpy())
    # 4 panels in 3 columns: two rows of subplots.
    assert {a.split("axis")[1] or "1" for a in fig.layout if a.startswith("xaxis")} == {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
    }


GRID_SCHEMES = [
    "int8-sym-per-tensor",
    "int8-sym-per-row",
    "int8-sym-per-column",
    "int8-sym-per-group-2",
    "int8-sym-per-block-2x2",
    "int4-sym-per-row",
    "int4-sym-per-group-2",
]
# A two-line subplot title (2 × ~22 px at plotly's 16 px title font) above a row and the tick
# labels under the row before it (~35 px with Streamlit's tick standoff), measured on renders.
MIN_ROW_GAP_PX = 85


@pytest.mark.parametrize("n_schemes", [4, 5, 7], ids=lambda n: f"{n}-schemes")
@pytest.mark.parametrize(
    "shape", [(3, 3), (8, 64), (300, 300)], ids=["notebook-3x3", "wide-8x64", "downsampled"]
)
def test_error_grid_rows_leave_room_for_the_titles_below_the_tick_labels(shape, n_schemes):
    if shape == (3, 3):
        x = notebook_tensor()
    else:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    results = [qv.quantize(x, qv.parse_scheme(s)) for s in GRID_SCHEMES[:n_schemes]]
    fig = error_heatmaps_grid(x, results, cols=3)
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    n_rows = -(-n_schemes // 3)
    rows = [fig.get_subplot(r + 1, 1).yaxis.domain for r in range(n_rows)]
    for upper, lower in itertools.pairwise(rows):
        assert (upper[0] - lower[1]) * plot_px >= MIN_ROW_GAP_PX
    # The titles sit on top of their row's panels, inside that gap.
    titles = [a.y for a in fig.layout.annotations if a.text.startswith("int")]
    assert titles == pytest.approx([rows[i // 3][1] for i in range(n_schemes)])
