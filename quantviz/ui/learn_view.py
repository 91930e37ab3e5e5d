"""The Learn page's pieces: the editable matrix and one granularity's recipe, step by step, with
the formulas filled in with the numbers the core computed."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

import quantviz as qv
from quantviz.explain import ExplainSteps
from quantviz.ui import cache
from quantviz.ui.grid import (
    grid_cells,
    grid_column_config,
    grid_columns,
    grid_to_tensor,
)
from quantviz.ui.session import example_tensor
from quantviz.ui.widgets import show_figure, show_table

MAX_SIDE = 8  # the number line shows at most 64 values
_BASE = "learn_base"
GROUP = 2  # per-group on the Learn page: runs of 2 along each row (a 3-column row: 2 + 1)
# The notebook's three granularities and groups of 2, with how a block is named on this page.
GRANULARITIES = {
    "per-tensor": (qv.PerTensor(), "the whole matrix"),
    "per-row": (qv.PerChannel(0), "row"),
    "per-column": (qv.PerChannel(1), "column"),
    "per-group": (qv.PerGroup(GROUP), "group"),
}


def _rows(n: int) -> list[str]:
    # Counted from 1, like Home's grid and every message about a cell.
    return [f"row {i}" for i in range(1, n + 1)]


def frame(x: torch.Tensor, digits: int | None = None) -> pd.DataFrame:
    """A small matrix as a table with "col 1", "col 2" headers and "row 1", ... as index."""
    m = x.reshape(1, -1) if x.dim() == 1 else x
    df = pd.DataFrame(m.double().numpy(), columns=grid_columns(m.shape[1]), index=_rows(m.shape[0]))
    return df.round(digits) if digits is not None else df


def editor_frame(x: torch.Tensor) -> pd.DataFrame:
    """``x`` as the editor's text cells, each the shortest text of its float32 value."""
    m = x.reshape(1, -1) if x.dim() == 1 else x
    return pd.DataFrame(grid_cells(m), columns=grid_columns(m.shape[1]), index=_rows(m.shape[0]))


def reset_matrix(x: torch.Tensor | None = None) -> None:
    """Put ``x`` (default: the notebook example) into the editor, dropping any edits."""
    st.session_state[_BASE] = editor_frame(example_tensor() if x is None else x)
    st.session_state.pop("learn_grid", None)


def fits(x: torch.Tensor) -> bool:
    """Whether ``x`` is small enough to explain (a matrix up to 8×8)."""
    return x.dim() == 2 and x.shape[0] <= MAX_SIDE and x.shape[1] <= MAX_SIDE


def matrix_editor() -> torch.Tensor:
    """The editable matrix; returns its values.

    Raises:
        ValueError: naming the empty cell, or the core's message for other bad values.
    """
    if _BASE not in st.session_state:
        reset_matrix()
    base: pd.DataFrame = st.session_state[_BASE]
    edited = st.data_editor(
        base,
        key="learn_grid",
        num_rows="fixed",
        width="content",
        column_config=grid_column_config(base),
    )
    return grid_to_tensor(edited, rows_deletable=False)


def _group_span(steps: ExplainSteps, i: int) -> tuple[int, slice]:
    """Row and columns of group ``i`` (groups counted along each row, row after row)."""
    per_row = steps.scale.shape[-1]
    row, g = divmod(i, per_row)
    return row, slice(g * GROUP, min((g + 1) * GROUP, steps.x.shape[-1]))


def block_names(steps: ExplainSteps, block: str) -> list[str]:
    """How each block is named in the tables and the picker, counted from 1: "row 2",
    "row 1, cols 1–2" for a group."""
    n = steps.scale.numel()
    if n == 1:
        return ["all"]
    if block != "group":
        return [f"{block} {i + 1}" for i in range(n)]
    names = []
    for i in range(n):
        row, cols = _group_span(steps, i)
        span = (
            f"col {cols.start + 1}"
            if cols.stop - cols.start == 1
            else (f"cols {cols.start + 1}–{cols.stop}")
        )
        names.append(f"row {row + 1}, {span}")
    return names


def block_values(steps: ExplainSteps, gran: str, i: int) -> torch.Tensor:
    """The values of block ``i`` (in the order of the scales)."""
    x = steps.x
    if gran == "per-tensor":
        return x.reshape(-1)
    if gran == "per-row":
        return x[i]
    if gran == "per-column":
        return x[:, i]
    row, cols = _group_span(steps, i)
    return x.reshape(-1, x.shape[-1])[row, cols]


def _blocks_table(steps: ExplainSteps, block: str) -> pd.DataFrame:
    """One line per block: its range, scale and zero point."""
    names = block_names(steps, block)
    table = {
        "block": names,
        "r_min": steps.r_min.reshape(-1).tolist(),
        "r_max": steps.r_max.reshape(-1).tolist(),
        "scale": steps.scale.reshape(-1).tolist(),
    }
    if not steps.scheme.symmetric:
        table["zero point"] = steps.zero_point.reshape(-1).tolist()
    return pd.DataFrame(table)


def _scale_formula(steps: ExplainSteps) -> str:
    s = steps.scheme
    if s.symmetric:
        general = r"s = \frac{r_{\max}}{q_{\max}}, \qquad r_{\max} = \max |x|"
        if steps.scale.numel() == 1:
            r, sc = float(steps.r_max), float(steps.scale)
            return general + rf" \qquad s = \frac{{{r:.4g}}}{{{s.q_max}}} = {sc:.4f}"
        return general
    general = (
        r"s = \frac{r_{\max} - r_{\min}}{q_{\max} - q_{\min}}, \qquad "
        r"z = \operatorname{round}\left(q_{\min} - \frac{r_{\min}}{s}\right)"
    )
    if steps.scale.numel() == 1:
        lo, hi, sc = float(steps.r_min), float(steps.r_max), float(steps.scale)
        zp = int(steps.zero_point)
        return (
            general
            + rf" \qquad s = \frac{{{hi:.4g} - ({lo:.4g})}}{{{s.q_max} - ({s.q_min})}} = {sc:.4f},"
            + rf"\ z = {zp}"
        )
    return general


def recipe(steps: ExplainSteps, gran: str) -> None:
    """Every step of quantizing the matrix with one granularity, formulas and numbers."""
    s, block = steps.scheme, GRANULARITIES[gran][1]
    key = f"learn_{gran}"
    st.markdown(f"**1. The range and the scale** — one scale for {_per(block)}.")
    st.latex(_scale_formula(steps))
    show_table(
        _blocks_table(steps, block),
        key=f"{key}_scales",
        hide_index=True,
        width="content",
        column_config={"scale": st.column_config.NumberColumn("scale", format="%.4f")},
    )
    # Steps 2-4 and 5-6 side by side, so the eye follows one value from column to column.
    divide, rnd, clamp = st.columns(3)
    with divide:
        st.markdown("**2. Divide** by the scale" + ("" if s.symmetric else ", add z"))
        st.latex(r"\frac{x}{s}" if s.symmetric else r"\frac{x}{s} + z")
        show_table(frame(steps.scaled, 3), key=f"{key}_scaled", width="content")
    with rnd:
        st.markdown("**3. Round** (halves go to the even integer)")
        st.latex(r"\operatorname{round}(\cdot)")
        show_table(frame(steps.rounded, 0), key=f"{key}_rounded", width="content")
    with clamp:
        clipped = int(steps.clipped.sum())
        st.markdown(
            f"**4. Clamp** into [{s.q_min}, {s.q_max}]: "
            + (f"{clipped} clipped" if clipped else "nothing clipped")
        )
        st.latex(rf"q = \operatorname{{clamp}}(\cdot,\ {s.q_min},\ {s.q_max})")
        show_table(frame(steps.q, 0), key=f"{key}_q", width="content")
    deq, err, _ = st.columns(3)
    with deq:
        st.markdown("**5. Dequantize**: back to real numbers")
        st.latex(r"\hat{x} = s\,q" if s.symmetric else r"\hat{x} = s\,(q - z)")
        show_table(frame(steps.dequantized, 3), key=f"{key}_dequantized", width="content")
    with err:
        st.markdown("**6. The error** each value picked up")
        st.latex(r"\hat{x} - x")
        show_table(frame(steps.error, 3), key=f"{key}_error", width="content")
    st.latex(r"\text{MSE} = \frac{1}{n}\sum (\hat{x} - x)^2 = " + f"{steps.mse:.4g}")
    _number_line(steps, gran, block)


def _per(block: str) -> str:
    return block if block.startswith("the") else f"each {block}"


def _number_line(steps: ExplainSteps, gran: str, block: str) -> None:
    st.markdown("**On the number line**: each value moves to the nearest level of its grid.")
    n = steps.scale.numel()
    names = block_names(steps, block)
    i = 0
    if n > 1:
        i = st.selectbox(
            f"Which {block}",
            list(range(n)),
            key=f"learn_{gran}_block",
            format_func=lambda i: names[i].removeprefix(f"{block} "),  # as in the tables
        )
    values = block_values(steps, gran, i)
    scale = float(steps.scale.reshape(-1)[i])
    zp = int(steps.zero_point.reshape(-1)[i])
    fig = cache.figure(
        "number_line",
        f"nl|{values.tolist()}|{steps.scheme!r}|{scale}|{zp}",
        values,
        steps.scheme,
        scale,
        zp,
    )
    show_figure(fig, key=f"learn_{gran}_line")
