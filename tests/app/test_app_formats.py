"""Number formats end to end in the app: pick nvfp4 on Quantize and see its codes and its
non-uniform grid; compare the 4-bit formats in one click; formats as points on Bit width; the
Learn section; scan a checkpoint with mxfp4 on Model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_bytes

import quantviz as qv
from quantviz.figures._common import number_text
from quantviz.formats import element_grid
from quantviz.presets import PRESET_GROUPS, PRESETS
from quantviz.ui.session import EXAMPLE
from tests.app._helpers import (
    BIT_WIDTH,
    COMPARE,
    LEARN,
    QUANTIZE,
    array,
    assert_ok,
    charts,
    metrics,
    shown_table,
    start,
)
from tests.scan._helpers import mixed_state_dict

EXAMPLE_T = torch.tensor(EXAMPLE)
FP4 = sorted({0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0} | {-v for v in (0.5, 1, 1.5, 2, 3, 4, 6)})
MODEL = "pages/5_Model.py"


def _trace(fig: dict, prefix: str) -> dict:
    (found,) = [t for t in fig["data"] if str(t.get("name", "")).startswith(prefix)]
    return found


def _segments(trace: dict) -> np.ndarray:
    """The x of each vertical segment of a ``vertical_segments`` trace."""
    xs = [x for x in trace["x"] if x is not None]
    return np.unique(np.asarray(xs, dtype=float))


def test_picking_nvfp4_shows_its_codes_and_its_non_uniform_grid(app):
    at = app(QUANTIZE)
    at.selectbox(key="q_preset").set_value("nvfp4").run()
    assert_ok(at)
    # The controls show the preset's fields; the bits are the format's and cannot be changed.
    assert at.selectbox(key="q_fmt").value == "fp4_e2m1"
    assert at.selectbox(key="q_bits").value == 4
    assert at.selectbox(key="q_bits").disabled
    assert at.selectbox(key="q_sfmt").value == PRESETS["nvfp4"].scale_format
    assert at.query_params["scheme"] == PRESETS["nvfp4"].slug()
    # What each code means is written out, so every cell can be checked by hand.
    meaning = "FP4 E2M1 codes mean 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 × the scale."
    assert meaning in [c.value for c in at.caption]
    res = qv.quantize(EXAMPLE_T, PRESETS["nvfp4"])
    expected = qv.error_metrics(EXAMPLE_T, res.dequantize())
    assert float(metrics(at)["MSE"]) == pytest.approx(expected["mse"], rel=1e-3)
    bits = qv.bits_per_element(EXAMPLE_T.shape, PRESETS["nvfp4"])
    assert metrics(at)["Bits / element"] == number_text(bits)
    figs = charts(at)
    # Codes panel: each cell is the FP4 element value its code means; the code is in the hover.
    heat = figs["q_heat_quantized"]
    codes = next(t for t in heat["data"] if t.get("name") == "quantized")
    z = array(codes["z"])
    np.testing.assert_array_equal(z, res.element_values().numpy())
    assert set(z.reshape(-1).tolist()) <= set(FP4)
    assert "code %{customdata" in codes["hovertemplate"]
    assert array(codes["customdata"]).reshape(-1).tolist() == res.q.reshape(-1).tolist()
    assert heat["layout"]["title"]["text"].startswith("quantized codes (fp4_e2m1")
    # Histogram: the FP4 grid times the scale of the block with the most error (each row is one
    # block of 16 here), unevenly spaced, clipped at ±6·s.
    hist = figs["q_hist"]
    levels = _segments(_trace(hist, "grid levels"))
    worst_row = int((res.dequantize() - EXAMPLE_T).square().sum(dim=1).argmax())
    scale = float(res.scale.reshape(-1)[worst_row])
    np.testing.assert_allclose(levels, np.float32(scale) * np.array(FP4, dtype=np.float32))
    steps = np.diff(levels)
    assert steps.max() / steps.min() == pytest.approx(4.0, rel=1e-5)  # 0.5 near 0, 2 near 6
    clip = _segments(_trace(hist, "clip points"))
    np.testing.assert_allclose(clip, [-6 * scale, 6 * scale], rtol=1e-6)
    # Scales: the stored ones, and the chart says how they are stored.
    scales = figs["q_scales"]
    assert scales["layout"]["title"]["text"].startswith("stored scales of")
    assert "fp8_e4m3 scales (8 bits)" in scales["layout"]["title"]["subtitle"]["text"]


def test_a_preset_in_the_url_opens_with_its_controls_and_a_change_makes_it_custom(app):
    at = app(QUANTIZE, query={"scheme": "mxfp4"})
    assert_ok(at)
    assert at.selectbox(key="q_preset").value == "mxfp4"
    assert at.selectbox(key="q_sfmt").value == "e8m0"
    assert at.query_params["scheme"] == "mxfp4"
    at.selectbox(key="q_sfmt").set_value("fp16").run()
    assert_ok(at)
    assert at.selectbox(key="q_preset").value == "custom"
    scheme = qv.parse_scheme(at.query_params["scheme"])
    assert (scheme.element_format, scheme.scale_format, scheme.preset) == (
        "fp4_e2m1",
        "fp16",
        None,
    )


@pytest.mark.parametrize("fmt", ["fp8_e4m3", "nf4"], ids=["fp8-e4m3", "nf4"])
def test_an_element_format_with_a_scale_format_round_trips_through_the_url(app, fmt):
    at = app(QUANTIZE)
    at.selectbox(key="q_fmt").set_value(fmt).run()
    at.selectbox(key="q_sfmt").set_value("bf16").run()
    assert_ok(at)
    scheme = qv.parse_scheme(at.query_params["scheme"])
    assert (scheme.element_format, scheme.scale_format) == (fmt, "bf16")
    assert scheme.bits == at.selectbox(key="q_bits").value
    again = start(QUANTIZE, query={"scheme": at.query_params["scheme"]})
    assert again.selectbox(key="q_fmt").value == fmt
    assert again.selectbox(key="q_sfmt").value == "bf16"


def test_compare_runs_the_4_bit_formats_in_one_click(app):
    at = app(COMPARE)
    at.button(key="cmp_set_4-bit_formats").click().run()
    assert_ok(at)
    names = PRESET_GROUPS["4-bit formats"]
    assert at.multiselect(key="cmp_formats").value == names
    table = shown_table(at, "cmp_table")
    schemes = [qv.parse_scheme(n) for n in names]
    rows = table.iloc[len(table) - len(schemes) :]
    want = qv.compare(EXAMPLE_T, schemes)
    assert list(rows["Scheme"]) == list(want["scheme"])
    formats = dict(zip(rows["Scheme"], rows["Format"], strict=True))
    assert formats["mxfp4"] == "fp4_e2m1 · e8m0 scales"
    assert formats["nvfp4"] == "fp4_e2m1 · fp8_e4m3 scales"
    assert rows["Bits / element"].tolist() == pytest.approx(want["bits_per_element"].tolist())
    assert rows["MSE"].tolist() == pytest.approx(want["mse"].tolist())
    bars = charts(at)["cmp_bar"]["data"][0]
    assert [str(s) for s in want["scheme"]] == list(bars["y"])[-len(schemes) :]


def test_compare_rows_take_the_element_and_scale_format(app):
    at = app(COMPARE)
    at.selectbox(key="cmp_fmt").set_value("fp4_e2m1").run()
    at.selectbox(key="cmp_sfmt").set_value("e8m0").run()
    assert_ok(at)
    table = shown_table(at, "cmp_table")
    per_tensor = qv.QuantScheme(bits=4, element_format="fp4_e2m1", scale_format="e8m0")
    want = qv.compare(EXAMPLE_T, [per_tensor])
    assert table["MSE"].iloc[0] == pytest.approx(want["mse"].iloc[0])
    assert table["Bits / element"].iloc[0] == pytest.approx(want["bits_per_element"].iloc[0])


def test_bit_width_draws_every_format_as_a_point_with_the_pareto_front(app):
    at = app(BIT_WIDTH)
    assert_ok(at)
    names = at.multiselect(key="bw_formats").value
    assert set(PRESET_GROUPS["4-bit formats"]) <= set(names)
    fig = charts(at)["bw_chart"]
    points = _trace(fig, "number formats")
    want = qv.compare(EXAMPLE_T, [qv.parse_scheme(n) for n in names])
    assert list(points["text"]) == list(want["scheme"])
    assert array(points["x"]).tolist() == pytest.approx(want["bits_per_element"].tolist())
    assert array(points["y"]).tolist() == pytest.approx(want["sqnr_db"].tolist())
    assert _trace(fig, "best for its size")
    at.multiselect(key="bw_formats").set_value([]).run()
    assert not [t for t in charts(at)["bw_chart"]["data"] if t.get("name") == "number formats"]


def test_learn_sets_a_float_grid_and_a_power_of_two_scale_beside_the_integers(app):
    at = app(LEARN)
    assert_ok(at)
    figs = charts(at)
    keys = ["learn_fmt_int4_fp32", "learn_fmt_fp4_e2m1_fp32", "learn_fmt_fp4_e2m1_e8m0"]
    assert set(keys) <= set(figs)
    # One x axis for the three lines, so the grids compare by eye.
    ranges = {tuple(figs[k]["layout"]["xaxis"]["range"]) for k in keys}
    assert len(ranges) == 1
    flat = EXAMPLE_T.reshape(-1)
    fp4 = qv.QuantScheme(bits=4, element_format="fp4_e2m1")
    scale = float(qv.quantize(flat, fp4).scale)
    levels = array(figs["learn_fmt_fp4_e2m1_fp32"]["data"][0]["x"])
    np.testing.assert_allclose(levels, scale * element_grid("fp4_e2m1").numpy(), rtol=1e-6)
    pow2 = array(figs["learn_fmt_fp4_e2m1_e8m0"]["data"][0]["x"])
    s2 = pow2.max() / 6.0
    assert s2 == 2.0 ** round(np.log2(s2))  # the shared scale is a power of two
    table = shown_table(at, "learn_fmt_table")
    want = [
        qv.error_metrics(flat, qv.quantize(flat, s).dequantize())["mse"]
        for s in (
            qv.QuantScheme(bits=4),
            fp4,
            qv.QuantScheme(bits=4, element_format="fp4_e2m1", scale_format="e8m0"),
        )
    ]
    assert table["MSE"].tolist() == pytest.approx(want)


def test_model_scans_a_checkpoint_with_mxfp4():
    sd = mixed_state_dict()
    at = start(MODEL)
    at.file_uploader(key="model_upload").upload("model.safetensors", save_bytes(sd)).run()
    assert "mxfp4" in at.multiselect(key="model_schemes").options
    at.multiselect(key="model_schemes").set_value(["mxfp4", "int4-sym-per-group-128"])
    at.button(key="model_scan").click().run()
    assert_ok(at)
    label = PRESETS["mxfp4"].label()
    layers = shown_table(at, "model_layers")
    assert label in layers.columns
    want = qv.scan(save_bytes(sd), ["mxfp4"], filename="m.safetensors")
    by_name = want.set_index("name")["sqnr_db"]
    got = layers.set_index("name")[label]
    assert got.to_dict() == pytest.approx(by_name.loc[got.index].to_dict())


def test_a_scanned_mxfp4_layer_opens_on_quantize_with_the_preset():
    at = start(MODEL)
    at.file_uploader(key="model_upload").upload("m.safetensors", save_bytes(mixed_state_dict()))
    at.run()
    at.multiselect(key="model_schemes").set_value(["mxfp4"])
    at.button(key="model_scan").click().run()
    at.button(key="model_send_quantize").click().run()
    assert_ok(at)
    assert at.title[0].value == "Quantize"
    assert at.selectbox(key="q_preset").value == "mxfp4"
    assert at.query_params["scheme"] == "mxfp4"


@pytest.mark.parametrize(
    ("mapping", "box", "flag", "token"),
    [
        ("symmetric", "q_fgrid", "full_grid", "full"),
        ("asymmetric", "q_fzp", "float_zero_point", "fzp"),
    ],
    ids=["full-grid", "float-zero-point"],
)
def test_integer_grid_variants_are_one_tick_away(app, mapping, box, flag, token):
    at = app(QUANTIZE)
    at.selectbox(key="q_bits").set_value(4).run()
    at.radio(key="q_sym").set_value(mapping).run()
    at.checkbox(key=box).check().run()
    assert_ok(at)
    scheme = qv.parse_scheme(at.query_params["scheme"])
    assert getattr(scheme, flag)
    assert at.query_params["scheme"].endswith(token)
    want = qv.error_metrics(EXAMPLE_T, qv.quantize(EXAMPLE_T, scheme).dequantize())
    assert float(metrics(at)["MSE"]) == pytest.approx(want["mse"], rel=1e-3)


def test_a_change_on_compare_ends_the_preset_everywhere(app):
    at = app(QUANTIZE, query={"scheme": "nvfp4"})
    at.switch_page(COMPARE).run()
    assert at.query_params["scheme"] == "nvfp4"  # Compare's own controls left it alone
    at.selectbox(key="cmp_sfmt").set_value("fp16").run()
    assert_ok(at)
    assert at.query_params["scheme"] != "nvfp4"
    at.switch_page(QUANTIZE).run()
    assert at.selectbox(key="q_preset").value == "custom"
    assert at.selectbox(key="q_sfmt").value == "fp16"


@pytest.mark.parametrize(("page", "key"), [(COMPARE, "cmp_set_8-bit_formats"), (BIT_WIDTH, None)])
def test_a_format_that_does_not_fit_a_1d_tensor_is_left_out_not_an_error(app, page, key):
    at = app(page, query={"src": "gen", "kind": "normal", "shape": "300", "seed": "0"})
    if key:
        at.button(key=key).click().run()
    assert_ok(at)
    notes = [c.value for c in at.caption if c.value.startswith("Left out")]
    assert len(notes) == 1
    assert "fp8-e4m3-block128" in notes[0]
    table = shown_table(at, "cmp_table" if key else "bw_formats_table")
    schemes = table["Scheme" if key else "scheme"].tolist()
    assert "fp8-e4m3-per-tensor" in schemes
    assert "fp8-e4m3-block128" not in schemes
