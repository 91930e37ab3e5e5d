"""The Learn page's number formats section: why a float grid is non-uniform, and what a
power-of-two shared scale costs, on the same number line as the integer grid."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

import quantviz as qv
from quantviz.figures.learn_formats import shared_view
from quantviz.ui import cache
from quantviz.ui.format_settings import format_bits, format_label
from quantviz.ui.widgets import show_figure, show_table

FLOAT_FORMATS = ("fp4_e2m1", "nf4", "fp6_e2m3", "fp8_e4m3")


def section_schemes(fmt: str) -> dict[str, qv.QuantScheme]:
    """The three schemes the section sets side by side, all with one shared scale: the integer
    grid of the same width, the format with an fp32 scale, and the format with a power-of-two
    (E8M0) scale, as the MX formats store it."""
    bits = format_bits(fmt)
    if bits is None:
        raise ValueError(f"expected a float or lookup format, got {fmt!r}")
    return {
        f"int{bits}, uniform": qv.QuantScheme(bits=bits),
        f"{fmt}, fp32 scale": qv.QuantScheme(bits=bits, element_format=fmt),
        f"{fmt}, power-of-two scale": qv.QuantScheme(
            bits=bits, element_format=fmt, scale_format="e8m0"
        ),
    }


def formats_section(x: torch.Tensor) -> None:
    """Draw the section for the values of ``x`` (the Learn page's matrix, at most 64 values)."""
    st.subheader("Number formats: a grid that is not uniform")
    st.markdown(
        "An integer grid spaces its levels evenly: the step near 0 is the step near the maximum. "
        "A **float** format (FP8, FP6, FP4) stores a sign, an exponent and a few mantissa bits, "
        "so each power of two holds the same number of levels: they crowd near 0 and thin out "
        "near the maximum. **NF4** places its 16 levels where a normal distribution puts its "
        "values. Most weights are small, so a grid dense near 0 often loses less than a uniform "
        "one of the same width, while the few large values pay with a coarse step.\n\n"
        "The **shared scale** is stored too. The MX formats store it as a bare power of two "
        "(E8M0, 8 bits): cheap, but the grid can no longer stretch to fit the block's maximum "
        "exactly, so the top of the grid either overshoots (levels wasted) or falls short "
        "(values saturate)."
    )
    fmt = st.selectbox(
        "Format", list(FLOAT_FORMATS), format_func=format_label, key="learn_fmt_format"
    )
    values = x.reshape(-1)
    schemes = section_schemes(fmt)
    view = shared_view(values, list(schemes.values()))  # one x axis for the three lines
    rows = []
    for name, scheme in schemes.items():
        key = f"lf|{values.tolist()}|{scheme!r}|{view}"
        fig = cache.figure("format_number_line", key, values, scheme, view)
        show_figure(fig, key=f"learn_fmt_{name.split(',')[0]}_{scheme.scale_format}")
        res = qv.quantize(values, scheme)
        m = qv.error_metrics(values, res.dequantize())
        rows.append(
            {
                "grid": name,
                "scale as stored": float(res.scale.reshape(-1)[0]),
                "MSE": m["mse"],
                "max |error|": m["max_abs_error"],
            }
        )
    table = pd.DataFrame(rows)
    show_table(table, key="learn_fmt_table", hide_index=True)
    fp32, pow2 = rows[1], rows[2]
    ratio = pow2["MSE"] / fp32["MSE"] if fp32["MSE"] > 0 else float("nan")
    st.caption(
        f"The power-of-two scale moved from {fp32['scale as stored']:.5g} to "
        f"{pow2['scale as stored']:.5g}: here it costs {ratio:.3g}× the MSE of an fp32 scale "
        "(and saves 24 bits per block)."
        if ratio == ratio
        else "Both scales reconstruct these values exactly."
    )
