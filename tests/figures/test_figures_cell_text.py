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
from quantviz.figures._common import cell_text, cell_texts
from tests.helpers import notebook_tensor

# A plain decimal without trailing zeros ("-13.5", "0.0123", "729"), or a mantissa of up to 3
# significant digits with an exponent that has no "+" ("1.2e-05", "-1.23e7").
DECIMAL = r"-?(0|[1-9]\d*)(\.\d*[1-9])?"
SCIENTIFIC = r"-?[1-9](\.\d?[1-9])?e(-\d{2,3}|[1-9]\d{0,2})"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(-537.4, "-537", id="hundreds-negative"),
        pytest.param(728.6, "729", id="hundreds-rounds-up"),
        pytest.param(191.6, "192", id="hundreds"),
        pytest.param(100.0, "100", id="hundred"),
        pytest.param(99.96, "100", id="rounds-into-hundreds"),
        pytest.param(999_999.4, "999999", id="just-under-a-million"),
        pytest.param(-13.5, "-13.5", id="tens"),
        pytest.param(12.34, "12.3", id="three-significant"),
        pytest.param(0.5, "0.5", id="half"),
        pytest.param(2.0, "2", id="whole-small"),
        pytest.param(0.01234, "0.0123", id="hundredths"),
        pytest.param(0.001, "0.001", id="thousandth"),
        pytest.param(0.0009996, "0.001", id="rounds-up-to-a-thousandth"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(-0.0, "0", id="negative-zero"),
        pytest.param(1e-7, "1e-07", id="tiny"),
        pytest.param(1.2e-5, "1.2e-05", id="tiny-mantissa"),
        pytest.param(9.994e-4, "9.99e-04", id="just-under-a-thousandth"),
        pytest.param(999_999.7, "1e6", id="rounds-to-a-million"),
        pytest.param(-1.234e7, "-1.23e7", id="big-negative"),
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
    assert len(text) <= 9, text
    assert "+" not in text
    assert re.fullmatch(DECIMAL, text) or re.fullmatch(SCIENTIFIC, text), text
    assert ("e" in text) == (value != 0 and not 1e-3 <= float(f"{abs(value):.3g}") < 999_999.5)
    back = float(text)
    if "e" not in text and abs(value) >= 99.95:
        assert abs(back - value) <= 0.5  # a whole number
    else:
        assert back == pytest.approx(value, rel=5e-3, abs=0.0)  # 3 significant digits


@given(st.integers(-(2**15), 2**15 - 1))
def test_integers_print_as_integers(value: int) -> None:
    # The quantized-integer panel uses the same helper: -128 is "-128", 5 is "5".
    assert cell_text(float(value)) == str(value)


def test_cell_texts_keeps_the_shape() -> None:
    texts = cell_texts(np.array([[-537.4, 0.5], [0.0, 1e-7]], dtype=np.float32))
    assert texts.shape == (2, 2)
    assert texts.tolist() == [["-537", "0.5"], ["0", "1e-07"]]


def cells(trace) -> list[list[str]]:
    assert trace.texttemplate == "%{text}"
    return [list(row) for row in trace.text]


def test_every_heatmap_prints_cells_with_the_helper() -> None:
    x = torch.tensor([[-537.4, 728.6, 0.5], [191.6, -13.5, 2.0], [1e-7, 0.0, 100.0]])
    res = qv.quantize(x, qv.parse_scheme("int8-sym-per-tensor"))
    panels = {t.name: t for t in quantization_heatmaps(x, res).data if t.type == "heatmap"}
    want = [["-537", "729", "0.5"], ["192", "-13.5", "2"], ["1e-07", "0", "100"]]
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
