"""The text printed in heatmap cells (``_common.cell_text``): numbers as a person writes them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import quantviz as qv
from quantviz.figures import matrix_heatmap, quantization_heatmaps
from quantviz.figures._common import cell_text, cell_texts, number_text
from tests.helpers import notebook_tensor

# A plain decimal without trailing zeros ("-13.5", "0.01234", "7291"), or a mantissa of up to 4
# significant digits with an exponent that has no "+" ("1.2e-05", "-1.235e7").
DECIMAL = r"-?(0|[1-9]\d*)(\.\d*[1-9])?"
SCIENTIFIC = r"-?[1-9](\.\d{0,2}[1-9])?e(-\d{2,3}|[1-9]\d{0,2})"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(-537.4, "-537.4", id="hundreds-negative"),
        pytest.param(728.6, "728.6", id="hundreds-short-decimal-exact"),
        pytest.param(191.6, "191.6", id="notebook-original"),
        pytest.param(189.321, "189.3", id="notebook-dequantized"),
        pytest.param(-2.27899, "-2.279", id="notebook-error"),
        pytest.param(100.0, "100", id="hundred"),
        pytest.param(9999.6, "10000", id="rounds-into-ten-thousands"),
        pytest.param(12345.6, "12346", id="ten-thousands-whole"),
        pytest.param(999_999.4, "999999", id="just-under-a-million"),
        pytest.param(-13.5, "-13.5", id="tens"),
        pytest.param(12.3456, "12.35", id="four-significant"),
        pytest.param(0.5, "0.5", id="half"),
        pytest.param(2.0, "2", id="whole-small"),
        pytest.param(0.012345, "0.01235", id="hundredths"),
        pytest.param(0.001, "0.001", id="thousandth"),
        pytest.param(0.00099996, "0.001", id="rounds-up-to-a-thousandth"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(-0.0, "0", id="negative-zero"),
        pytest.param(1e-7, "1e-07", id="tiny"),
        pytest.param(1.2e-5, "1.2e-05", id="tiny-mantissa"),
        pytest.param(9.994e-4, "9.994e-04", id="just-under-a-thousandth"),
        pytest.param(999_999.7, "1e6", id="rounds-to-a-million"),
        pytest.param(-1.2345e7, "-1.234e7", id="big-negative"),
        pytest.param(3.4e38, "3.4e38", id="float32-max"),
        pytest.param(math.inf, "∞", id="inf"),
        pytest.param(-math.inf, "−∞", id="minus-inf"),
        pytest.param(math.nan, "NaN", id="nan"),
    ],
)
def test_cell_text_writes_numbers_like_a_person(value: float, text: str) -> None:
    assert cell_text(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))  # what heatmaps hold
def test_cell_text_is_short_close_and_tidy(value: float) -> None:
    text = cell_text(value)
    assert len(text) <= 10, text
    assert "+" not in text
    assert re.fullmatch(DECIMAL, text) or re.fullmatch(SCIENTIFIC, text), text
    assert ("e" in text) == (value != 0 and not 1e-3 <= float(f"{abs(value):.4g}") < 999_999.5)
    back = float(text)
    if "e" not in text and abs(value) >= 9999.5:
        assert abs(back - value) <= 0.5  # a whole number
    else:
        assert back == pytest.approx(value, rel=5e-4, abs=0.0)  # 4 significant digits


@given(st.integers(-(2**15), 2**15 - 1))
def test_integers_print_as_integers(value: int) -> None:
    # The quantized-integer panel uses the same helper: -128 is "-128", 5 is "5".
    assert cell_text(float(value)) == str(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(1024, "1,024", id="int-thousands"),
        pytest.param(np.int64(-5), "-5", id="numpy-int"),
        pytest.param(4.125, "4.125", id="short-decimal"),
        pytest.param(8.0625, "8.062", id="four-digits-half-even"),
    ],
)
def test_number_text_is_the_one_format_of_cards_and_figures(value, text) -> None:
    from quantviz.figures._style import fmt as figure_fmt
    from quantviz.ui.widgets import fmt as card_fmt

    assert number_text(value) == text
    assert figure_fmt(value) == card_fmt(value) == text


def test_printed_cells_let_a_learner_check_the_error() -> None:
    """The notebook's 191.6 → 189.3 (int8 per-row): original − dequantized as printed matches
    the printed error to the printed precision."""
    x = notebook_tensor()
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-row"))
    panels = {t.name: t for t in quantization_heatmaps(x, res).data if t.type == "heatmap"}
    orig, deq, err = (
        np.array(panels[n].text, dtype=object) for n in ("original", "dequantized", "error")
    )
    assert (orig[0, 0], deq[0, 0]) == ("191.6", "189.3")
    assert float(err[0, 0]) == pytest.approx(float(deq[0, 0]) - float(orig[0, 0]), abs=0.06)
    for o, d, e in zip(orig.ravel(), deq.ravel(), err.ravel(), strict=True):
        assert abs(float(d) - float(o) - float(e)) <= 0.05 + 1e-3 * abs(float(o)), (o, d, e)


def test_cell_texts_keeps_the_shape() -> None:
    texts = cell_texts(np.array([[-537.4, 0.5], [0.0, 1e-7]], dtype=np.float32))
    assert texts.shape == (2, 2)
    assert texts.tolist() == [["-537.4", "0.5"], ["0", "1e-07"]]


def cells(trace) -> list[list[str]]:
    assert trace.texttemplate == "%{text}"
    return [list(row) for row in trace.text]


def test_every_heatmap_prints_cells_with_the_helper() -> None:
    x = torch.tensor([[-537.4, 728.6, 0.5], [191.6, -13.5, 2.0], [1e-7, 0.0, 100.0]])
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    panels = {t.name: t for t in quantization_heatmaps(x, res).data if t.type == "heatmap"}
    want = [["-537.4", "728.6", "0.5"], ["191.6", "-13.5", "2"], ["1e-07", "0", "100"]]
    assert cells(panels["original"]) == want
    assert cells(matrix_heatmap(x).data[0]) == want
    assert cells(panels["quantized"]) == [[str(int(q)) for q in row] for row in res.q.tolist()]
    for name, source in (("dequantized", res.dequantize()), ("error", res.dequantize() - x)):
        want = [[cell_text(v) for v in row] for row in source.tolist()]
        assert cells(panels[name]) == want, name
    # Errors of a few units print as such, not as d3's ".2g" "-5.4e+2"-style text.
    assert not any("e+" in t for p in panels.values() for row in p.text for t in row)


def test_hover_trims_trailing_zeros() -> None:
    x = notebook_tensor()
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    panels = {t.name: t for t in quantization_heatmaps(x, res).data if t.type == "heatmap"}
    for name in ("original", "dequantized", "error"):
        # "~" after the precision: "-537.4", not "-537.40"; "2", not "2.0000".
        assert re.search(r"%\{z:\.[4-6]~g\}", panels[name].hovertemplate), name
    assert "%{z:.0f}" in panels["quantized"].hovertemplate
