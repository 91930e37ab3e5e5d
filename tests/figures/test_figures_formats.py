"""Number formats in the figures: the codes panel, the non-uniform grid over the histogram, the
stored scales, formats as points on the trade-off chart, and the Learn number line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import quantviz as qv
from quantviz.figures import (
    format_number_line,
    histogram_with_grid,
    quantization_heatmaps,
    scales_chart,
    tradeoff_chart,
)
from quantviz.figures.downsample import Window
from quantviz.figures.formats import block_levels, steps_note
from quantviz.figures.learn_formats import power_of_two_cost
from quantviz.presets import PRESETS
from quantviz.sweep import sweep_bits

# The FP4 E2M1 values, written out by hand (OCP MX v1.0, table 5).
FP4 = [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6]
FP4_SCHEME = qv.QuantScheme(bits=4, element_format="fp4_e2m1")


@pytest.fixture
def normal() -> torch.Tensor:
    return torch.randn(64, 96, generator=torch.Generator().manual_seed(0))


def _trace(fig, prefix: str):
    (found,) = [t for t in fig.data if t.name and t.name.startswith(prefix)]
    return found


def _segments(trace) -> np.ndarray:
    return np.unique(np.array([x for x in trace.x if x is not None], dtype=float))


def test_block_levels_are_the_format_values_times_the_scale():
    np.testing.assert_allclose(block_levels(FP4_SCHEME, 0.25, 0.0), 0.25 * np.array(FP4))
    int4 = qv.QuantScheme(bits=4, symmetric=False)
    np.testing.assert_allclose(block_levels(int4, 0.5, 3), 0.5 * (np.arange(-8, 8) - 3))


@pytest.mark.parametrize(
    ("levels", "words"),
    [(np.arange(5.0), "step 1"), (np.array(FP4, dtype=float), "step 0.5 near 0 to 2 at the edge")],
    ids=["uniform", "fp4"],
)
def test_steps_note_says_whether_the_grid_is_uniform(levels, words):
    assert steps_note(levels).startswith(words)


def test_histogram_draws_the_fp4_grid_and_its_clip_points(normal):
    res = qv.quantize(normal, FP4_SCHEME)
    fig = histogram_with_grid(normal, res)
    scale = float(res.scale)
    levels = _segments(_trace(fig, "grid levels"))
    np.testing.assert_allclose(levels, scale * np.array(FP4), rtol=1e-6)
    assert "fp4_e2m1 × scale, 15 values" in _trace(fig, "grid levels").name
    np.testing.assert_allclose(_segments(_trace(fig, "clip points")), [-6 * scale, 6 * scale])
    assert f"step {0.5 * scale:.4g} near 0" in fig.layout.title.subtitle.text


def test_histogram_of_an_integer_scheme_keeps_its_uniform_grid(normal):
    res = qv.quantize(normal, qv.QuantScheme(bits=4))
    levels = _segments(_trace(histogram_with_grid(normal, res), "grid levels"))
    np.testing.assert_allclose(np.diff(levels), float(res.scale), rtol=1e-5)


def test_codes_panel_shows_element_values_with_the_code_in_the_hover():
    x = torch.tensor([[0.3, -1.2, 2.5], [4.0, -0.1, 0.0]])
    res = qv.quantize(x, PRESETS["nvfp4"])
    fig = quantization_heatmaps(x, res)
    panel = next(t for t in fig.data if t.name == "quantized")
    np.testing.assert_array_equal(np.asarray(panel.z), res.element_values().numpy())
    assert set(np.asarray(panel.z).reshape(-1).tolist()) <= set(FP4)
    assert np.asarray(panel.customdata)[..., -1].tolist() == res.q.tolist()
    assert "code %{customdata[0]}" in panel.hovertemplate
    assert (fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax) == (-6, 6)
    assert list(np.asarray(panel.text).reshape(-1)) != []  # small matrix: values in the cells


def test_codes_panel_of_an_integer_scheme_is_its_integers():
    x = torch.tensor([[0.3, -1.2, 2.5], [4.0, -0.1, 0.0]])
    res = qv.quantize(x, qv.QuantScheme(bits=8))
    fig = quantization_heatmaps(x, res)
    panel = next(t for t in fig.data if t.name == "quantized")
    np.testing.assert_array_equal(np.asarray(panel.z), res.q.numpy())
    assert fig.layout.annotations[1].text == "quantized codes (int8 integers: -128 … 127)"


def test_scales_chart_shows_power_of_two_scales_and_says_so(normal):
    res = qv.quantize(normal, PRESETS["mxfp4"])
    fig = scales_chart(res, normal.shape)
    note = fig.layout.title.subtitle.text
    exps = torch.log2(res.scale)
    assert bool((exps == exps.round()).all())
    assert f"e8m0 scales (8 bits, powers of two): 2^{int(exps.min())} … 2^{int(exps.max())}" in note
    assert fig.layout.title.text == f"stored scales of {res.scheme.label()}"


def test_scales_chart_of_a_float_zero_point_keeps_its_fraction():
    x = torch.tensor([[1.0, 1.3, 1.7, 2.0]])
    scheme = qv.QuantScheme(bits=4, symmetric=False, float_zero_point=True)
    res = qv.quantize(x, scheme)
    fig = scales_chart(res, x.shape)
    zp = float(res.zero_point.reshape(-1)[0])
    assert fig.data[1].value == pytest.approx(zp)


def _formats_table(x: torch.Tensor, names: list[str]) -> pd.DataFrame:
    return qv.compare(x, [qv.parse_scheme(n) for n in names])


def test_tradeoff_chart_draws_formats_as_labelled_points(normal):
    sweep = sweep_bits(normal, granularities=["per-tensor"])
    formats = _formats_table(normal, ["mxfp4", "nvfp4", "nf4-g64"])
    fig = tradeoff_chart(sweep, formats=formats, pareto=True)
    points = _trace(fig, "number formats")
    assert list(points.text) == list(formats["scheme"])
    np.testing.assert_allclose(points.x, formats["bits_per_element"])
    np.testing.assert_allclose(points.y, formats["sqnr_db"])
    # The front spans lines and points: a format that beats every integer point at its size
    # lies on it.
    front = _trace(fig, "best for its size")
    both = pd.concat([sweep, formats], ignore_index=True)
    best = both.loc[both["sqnr_db"].idxmax()]
    assert best["scheme"] in list(front.text)


def test_tradeoff_chart_without_formats_is_unchanged(normal):
    sweep = sweep_bits(normal, granularities=["per-tensor"])
    names = [t.name for t in tradeoff_chart(sweep, formats=pd.DataFrame()).data]
    assert "number formats" not in names


def test_format_number_line_draws_the_grid_under_one_stored_scale():
    values = torch.tensor([0.05, -0.2, 0.4, 1.1, -2.9, 3.0])
    fig = format_number_line(values, FP4_SCHEME)
    res = qv.quantize(values, FP4_SCHEME)
    np.testing.assert_allclose(fig.data[0].x, float(res.scale) * np.array(FP4), rtol=1e-6)
    np.testing.assert_allclose(fig.data[1].customdata, res.dequantize().numpy())
    assert "MSE" in fig.layout.title.subtitle.text


def test_a_power_of_two_scale_is_at_best_as_good_as_an_fp32_one():
    # amax 3.0 → fp32 scale 0.5 lands 3.0 on the grid's top; a power-of-two scale cannot.
    cost = power_of_two_cost(torch.tensor([0.05, -0.2, 0.4, 1.1, -2.9, 3.0]), FP4_SCHEME)
    assert cost["scale_fp32"] == pytest.approx(0.5)
    s = cost["scale_e8m0"]
    assert s == 2.0 ** round(np.log2(s))
    assert cost["mse_e8m0"] >= cost["mse_fp32"]


def test_format_number_line_refuses_more_than_one_scale():
    with pytest.raises(ValueError, match="one shared scale"):
        format_number_line(torch.ones(4), qv.QuantScheme(granularity=qv.PerChannel(0)))


def test_histogram_of_q4_0_draws_a_negative_scale_as_a_mirrored_grid():
    # Every block's extreme is positive, so llama.cpp's q4_0 stores negative scales.
    x = torch.cat([torch.linspace(-1, 4, 32), torch.linspace(-1, 2, 32)]).reshape(1, 64)
    res = qv.quantize(x, PRESETS["q4_0"])
    assert bool((res.scale < 0).all())
    for block in (0, 1):
        levels = _segments(_trace(histogram_with_grid(x, res, block=block), "grid levels"))
        s = float(res.scale.reshape(-1)[block])
        np.testing.assert_allclose(levels, np.sort(s * np.arange(-8, 8)), rtol=1e-6)


def test_a_pooled_codes_panel_shows_the_mean_magnitude_of_the_element_values():
    x = torch.randn(300, 1024, generator=torch.Generator().manual_seed(1))
    res = qv.quantize(x, PRESETS["mxfp4"])
    fig = quantization_heatmaps(x, res)
    panel = next(t for t in fig.data if t.name == "quantized")
    z = np.asarray(panel.z, dtype=float)
    step_r, step_c = -(-300 // z.shape[0]), -(-1024 // z.shape[1])
    window = res.element_values().abs()[:step_r, :step_c]
    assert z[0, 0] == pytest.approx(float(window.mean()), rel=1e-5)
    assert fig.layout.coloraxis2.cmin == 0.0
    assert fig.layout.coloraxis2.cmax == 6.0  # FP4 E2M1's largest magnitude


def test_a_zoomed_codes_panel_shows_element_values_with_the_stored_code_in_the_hover():
    x = torch.randn(300, 1024, generator=torch.Generator().manual_seed(1))
    res = qv.quantize(x, PRESETS["mxfp4"])
    window = Window(10, 18, 40, 48)
    fig = quantization_heatmaps(x, res, window=window)
    panel = next(t for t in fig.data if t.name == "quantized")
    np.testing.assert_array_equal(
        np.asarray(panel.z, dtype=float), res.element_values()[10:18, 40:48].numpy()
    )
    data = np.asarray(panel.customdata)
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data[..., -1], res.q.numpy()[10:18, 40:48])
    assert f"code %{{customdata[{data.shape[-1] - 1}]}}" in panel.hovertemplate


def test_power_of_two_scales_name_their_exponent_in_the_hover():
    x = torch.randn(1, 256, generator=torch.Generator().manual_seed(2))
    res = qv.quantize(x, PRESETS["mxfp4"])  # 8 groups of 32 in one row: a bar per scale
    bars = scales_chart(res, x.shape).data[0]
    assert "= 2^%{customdata}" in bars.hovertemplate
    np.testing.assert_array_equal(2.0 ** np.asarray(bars.customdata, dtype=float), bars.y)
