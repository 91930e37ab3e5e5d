"""The editable number grid shared by Home and Learn: cells as text, so people can type 1e-3 or
−0.5, turned into a tensor by the core's text parser with messages that name the cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from quantviz.inputs import InputError, parse_matrix

GRID_HELP = "A number, e.g. 728.6, -0.5 or 1e-3 (scientific notation is fine)."


def grid_cells(x: torch.Tensor) -> np.ndarray:
    """A matrix's values as the shortest text that reads back to the same float32
    ('728.6', not '728.5999755859375')."""
    return x.detach().to(torch.float32).numpy().astype(str)


def grid_columns(n: int) -> list[str]:
    """Column names of a grid: 'col 1' to 'col n', counting from 1 as every message does."""
    return [f"col {j}" for j in range(1, n + 1)]


def grid_column_config(table: pd.DataFrame) -> dict[str, Any]:
    """One text column per grid column, with the help that says what to type."""
    return {c: st.column_config.TextColumn(c, help=GRID_HELP) for c in table.columns}


def _cell_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""  # a cleared cell, or a cell of an added row never typed in
    return str(value).strip().replace("\u2212", "-")  # typographic minus, as typed text


def _label(value: Any, word: str) -> str:
    """The number a row or column shows ('row 2' -> '2', 2 -> '2')."""
    return str(value).removeprefix(f"{word} ")


def grid_to_tensor(table: pd.DataFrame, *, rows_deletable: bool = True) -> torch.Tensor:
    """The values of an edited grid (text or number cells) as a float32 matrix.

    Args:
        table: the edited grid; cells are named in messages by its row and column labels.
        rows_deletable: whether the message may suggest deleting a row (dynamic grids).

    Raises:
        InputError: an empty grid, an empty cell or one that is not a number (named by the
            row and column the grid shows), or what the core's text parser refuses (non-finite
            values, values beyond float32, too many values).
    """
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InputError("The grid is empty: add at least one row.")
    cells = [[_cell_text(v) for v in row] for row in table.to_numpy(dtype=object).tolist()]
    empty = np.array([[c == "" for c in row] for row in cells])
    if empty.any():
        r, c = (int(i) for i in np.argwhere(empty)[0])
        where = f"Row {_label(table.index[r], 'row')}, column {_label(table.columns[c], 'col')}"
        fix = "type a number there" + (", or delete the row." if rows_deletable else ".")
        raise InputError(
            f"{where} of the grid is empty ({int(empty.sum())} empty cell(s) in all): {fix}"
        )
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                shown = cell if len(cell) <= 40 else cell[:37] + "..."
                raise InputError(
                    f"'{shown}' in row {_label(table.index[r], 'row')}, column "
                    f"{_label(table.columns[c], 'col')} of the grid is not a number. "
                    "Type a number such as 0.5, -12 or 1e-3."
                ) from None
    # Every cell is a number, so the text parser sees no header; its other checks (NaN, inf,
    # float32 range, size) then match typed text exactly.
    return parse_matrix("\n".join("\t".join(row) for row in cells))
