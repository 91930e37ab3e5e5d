"""Typed or pasted numbers -> a float32 tensor, without ``eval``.

Two shapes of text are understood:

* a delimited table: rows on lines, values separated by commas, tabs, semicolons or spaces,
  optionally under a header row of names. A table is always 2-D, so a single row gives (1, n).
* a bracketed literal: ``[[1, 2], [3, 4]]``, NumPy's ``array([[...]], dtype=float32)`` or
  ``print(arr)`` output, PyTorch's ``tensor([[...]])`` printout (over several lines too), or one
  bracketed row per line. The nesting gives the shape, so ``[1, 2, 3]`` is 1-D.

Why parsing takes time linear in the length of the text, whatever the text: it is split by
``str`` methods (``split``, ``strip``, ``find``, ``splitlines``), which each scan once, and by a
walk over the brackets that looks at each character between two brackets once. The regular
expressions left find one character (a bracket, or a comma) with lookarounds of fixed width, so
each position of the text is tried in constant time and never revisited: there is no quantifier
that could backtrack over a run of spaces, newlines or brackets. (Earlier versions matched the
text around a literal with nested unbounded quantifiers, quadratic on a long run of spaces.)
``tests/inputs/test_inputs_text_linear.py`` checks this as a property on adversarial text.
"""

from __future__ import annotations

import bisect
import re

import numpy as np
import torch

from quantviz.inputs._text_scan import (
    MAX_PREFIX,
    is_number,
    is_prefix,
    is_suffix,
    not_a_number,
    split_cells,
    thousands_note,
    wrapped_scalar,
)
from quantviz.inputs.errors import (
    MAX_ELEMENTS,
    MAX_TEXT_BYTES,
    InputError,
    check_bytes,
    check_elements,
    check_finite,
    check_float32_range,
    check_single_shape,
)

# The only regular expressions here and in _text_scan: one character each, with fixed-width
# lookarounds, so each position is tried in constant time.
_BRACKET = re.compile(r"[\[\]]")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SEPARATORS = " \t\r\n,"


def parse_matrix(
    text: str, *, max_elements: int = MAX_ELEMENTS, max_bytes: int = MAX_TEXT_BYTES
) -> torch.Tensor:
    """Parse typed or pasted numbers into a float32 tensor.

    Args:
        text: a delimited table or a Python/NumPy/PyTorch literal (see the module docstring).
        max_elements: refuse more values than this.
        max_bytes: refuse longer text than this (UTF-8 bytes), before parsing.

    Returns:
        A float32 tensor with 1 to 4 dimensions and only finite values.

    Raises:
        InputError: empty text, ragged rows, a cell that is not a number, NaN/inf, a lone
            scalar, too many dimensions or values; the message says where.
    """
    return parse_matrix_info(text, max_elements=max_elements, max_bytes=max_bytes)[0]


def parse_matrix_info(
    text: str, *, max_elements: int = MAX_ELEMENTS, max_bytes: int = MAX_TEXT_BYTES
) -> tuple[torch.Tensor, list[str]]:
    """:func:`parse_matrix`, also saying what it read differently from the text as typed.

    Args:
        text, max_elements, max_bytes: as for :func:`parse_matrix`.

    Returns:
        The tensor, and notes for people (empty when the text was read as it stands), e.g.
        "Line 1 ('hello world') was read as a header of column names and skipped."

    Raises:
        InputError: as :func:`parse_matrix`.
    """
    notes: list[str] = []
    if not isinstance(text, str):
        raise InputError(f"Expected text, got {type(text).__name__}.")
    _check_text_size(text, max_bytes)
    text = text.replace("\u2212", "-").replace("\ufeff", "")  # typographic minus, BOM
    if not text.strip():
        raise InputError("The text is empty: type or paste some numbers, e.g. '1, 2; 3, 4'.")
    if "..." in text or "\u2026" in text:
        raise InputError(
            "The text contains '...', so it is an abbreviated printout and values are missing. "
            "Print the full array: torch.set_printoptions(profile='full') or "
            "numpy.set_printoptions(threshold=sys.maxsize)."
        )
    if "[" in text or "]" in text:
        values, shape = _parse_brackets(text, max_elements, notes)
    else:
        scalar = wrapped_scalar(text)
        if scalar is not None and is_number(scalar):
            raise InputError(
                f"'{text.strip()[:40]}' is a single number (a 0-d scalar). quantviz needs at "
                "least a vector, e.g. tensor([1., 2., 3.])."
            )
        values, shape = _parse_table(text, max_elements, notes)
    check_single_shape(shape, "The matrix")
    arr = np.asarray(values, dtype=np.float64).reshape(shape)
    t = torch.from_numpy(arr)
    check_finite(t, "The matrix", text_style=True)
    check_float32_range(t, "The matrix", text_style=True)
    return t.to(torch.float32), notes


def _check_text_size(text: str, max_bytes: int) -> None:
    # A character is 1 to 4 UTF-8 bytes: only encode when the length alone cannot decide.
    if len(text) > max_bytes:
        check_bytes(len(text), max_bytes, "The text")
    if len(text) * 4 > max_bytes:
        check_bytes(len(text.encode("utf-8", "surrogatepass")), max_bytes, "The text")


def _where(idx1: tuple[int, ...]) -> str:
    """1-based index -> 'row 2, column 3' style."""
    if len(idx1) == 1:
        return f"position {idx1[0]}"
    if len(idx1) == 2:
        return f"row {idx1[0]}, column {idx1[1]}"
    return "index [" + ", ".join(map(str, idx1)) + "]"


def _to_floats(cells: list[str], locate) -> list[float]:
    """Convert cells to floats; on failure name the first bad cell, placed by ``locate(i)``."""
    try:
        return [float(c) for c in cells]
    except ValueError:
        pass
    for i, c in enumerate(cells):
        if not is_number(c):
            raise InputError(not_a_number(c, locate(i)))
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Delimited tables


def _pick_delimiter(text: str) -> str | None:
    for d in ("\t", ";", ","):
        if d in text:
            return d
    return None  # whitespace


def _spaces_inside_tab_cells(text: str) -> bool:
    """Whether a data line has a tab-separated cell with a space inside ('1\t2 3'), so the
    values are separated by whitespace of both kinds. Line 1 is left out when there are more
    lines: a header's names ('first name') may hold spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    data = lines[1:] if len(lines) > 1 else lines
    return any(len(cell.split()) > 1 for line in data for cell in line.split("\t"))


def _split_row(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    cells = [c.strip() for c in line.split(delim)]
    if len(cells) > 1 and cells[-1] == "":
        cells.pop()  # one trailing separator, as spreadsheets and hand-typed rows often have
    return cells


def _values(n: int) -> str:
    return "1 value" if n == 1 else f"{n} values"


def _parse_table(
    text: str, max_elements: int, notes: list[str]
) -> tuple[list[float], tuple[int, ...]]:
    """A delimited table; appends to ``notes`` what it read differently from the text."""
    stripped = text.strip()
    # One typed line like '1, 2; 3, 4' or '1 2; 3 4': semicolons end rows, as in MATLAB.
    # ('1;2;3', one value per part, stays a row of three.)
    if (
        ";" in stripped
        and "\n" not in stripped
        and any(len(split_cells(part.strip())) > 1 for part in stripped.split(";"))
    ):
        # Empty parts ('1 2;; 3 4') are dropped so rows count the same as lines.
        text = "\n".join(part for part in stripped.split(";") if part.strip())
    delim = _pick_delimiter(text)
    if delim == "\t" and _spaces_inside_tab_cells(text):
        delim = None  # '1\t2 3': tabs and spaces both separate values
    if delim == ";":
        # Semicolons usually mean a European spreadsheet: decimal commas, '1,5;2,25'.
        text, n_commas = _DECIMAL_COMMA.subn(".", text)
        if n_commas:
            notes.append(
                f"Values are separated by semicolons, so {n_commas} comma(s) between digits "
                "were read as decimal commas (1,5 = 1.5)."
            )
    if delim == ",":
        note = thousands_note(text)
        if note:
            notes.append(note)
    rows: list[tuple[int, list[str]]] = [
        (line_no, _split_row(line, delim))
        for line_no, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    # A header: a first row of names (none of them a number) above rows of numbers.
    has_header = len(rows) > 1 and not any(is_number(c) for c in rows[0][1])
    if has_header:
        line_no, names = rows.pop(0)
        shown = " ".join(names)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        notes.append(
            f"Line {line_no} ('{shown}') has no numbers, so it was read as a header of column "
            "names and skipped."
        )
    n_cols = len(rows[0][1])
    check_elements(len(rows) * n_cols, max_elements, "The text")
    cells: list[str] = []
    for r, (line_no, row) in enumerate(rows, start=1):
        if len(row) != n_cols:
            raise InputError(
                f"{_row_name(r, line_no, has_header).capitalize()} has {_values(len(row))}, "
                f"expected {n_cols} like {_row_name(1, rows[0][0], has_header)}. "
                "Every row needs the same number of values."
            )
        cells.extend(row)
    if len(cells) == 1 and is_number(cells[0]):
        raise InputError(
            f"'{cells[0][:40]}' is a single number (a 0-d scalar). quantviz needs at least a "
            "vector: type a row of values, e.g. '1, 2, 3'."
        )

    def locate(i: int) -> str:
        r, c = divmod(i, n_cols)
        line_no = rows[r][0]
        if line_no == r + 1:  # the line number is the row number: one name is enough
            return f"row {r + 1}, column {c + 1}"
        return f"line {line_no}, column {c + 1} ({_data_row(r + 1, has_header)})"

    return _to_floats(cells, locate), (len(rows), n_cols)


def _data_row(r: int, has_header: bool) -> str:
    return f"data row {r}" + (" below the header" if has_header else "")


def _row_name(r: int, line_no: int, has_header: bool) -> str:
    """'row 2' when row and line agree, else 'line 3 (data row 2)': never two bare numbers."""
    if line_no == r:
        return f"row {r}"
    return f"line {line_no} ({_data_row(r, has_header)})"


# --------------------------------------------------------------------------------------------
# Bracketed literals


def _parse_brackets(
    text: str, max_elements: int, notes: list[str]
) -> tuple[list[float], tuple[int, ...]]:
    first, last = text.find("["), text.rfind("]")
    if first < 0 or last < first:
        raise InputError("The brackets do not match: a '[' or ']' is missing.")
    prefix, suffix = text[:first], text[last + 1 :]
    # Bound the prefix before matching so a long run of letters cannot make the regex slow.
    if len(prefix) > MAX_PREFIX or not is_prefix(prefix):
        raise InputError(
            f"Unexpected text before the first '[': '{prefix.strip()[:40]}'. Paste only the "
            "numbers, a list like [[1, 2], [3, 4]], or a tensor(...)/array(...) printout."
        )
    if not is_suffix(suffix):
        raise InputError(
            f"Unexpected text after the last ']': '{suffix.strip()[:40]}'. Paste only the "
            "list or the printout."
        )
    body = text[first : last + 1]
    if ";" in body and body.count("[") == 1:
        # MATLAB style: [1 2; 3 4]
        inner = body[1:-1]
        return _parse_table(inner.replace(";", "\n").replace(",", " "), max_elements, notes)
    note = thousands_note(body)
    if note:
        notes.append(note)
    return _parse_nested(body, max_elements)


def _parse_nested(body: str, max_elements: int) -> tuple[list[float], tuple[int, ...]]:
    """Walk the brackets only; each innermost [...] is a row of numbers split in one go.

    The root is implicit, so several top-level lists, one per line, stack into a matrix.
    """
    # A frame per open list: [number of finished children, their common shape, index path].
    stack: list[list] = [[0, None, ()]]
    cells: list[str] = []
    leaves: list[tuple[tuple[int, ...], int]] = []  # (index path, first cell) per innermost list
    pos = 0
    for m in _BRACKET.finditer(body):
        between = body[pos : m.start()]
        pos = m.end()
        top = stack[-1]
        if m.group() == "[":
            if between.strip(_SEPARATORS):
                raise InputError(_mixed(between))
            if len(stack) > 5:  # bounds the stack however deep the brackets go
                raise InputError(
                    "The list is nested more than 4 levels deep; quantviz handles 1 to 4 "
                    "dimensions."
                )
            stack.append([0, None, (*top[2], top[0])])
            continue
        if len(stack) == 1:
            raise InputError("The brackets do not match: there is a ']' without its '['.")
        frame = stack.pop()
        if frame[0] == 0:  # innermost list: its content is the numbers
            content = between.strip()
            row = split_cells(content) if content else []
            if row and row[-1] == "":
                row.pop()  # trailing comma, as Python allows
            leaves.append((frame[2], len(cells)))
            cells.extend(row)
            check_elements(len(cells), max_elements, "The text")
            shape: tuple[int, ...] = (len(row),)
        else:
            if between.strip(_SEPARATORS):
                raise InputError(_mixed(between))
            shape = (frame[0], *frame[1])
        _add_child(stack[-1], shape)
    if len(stack) != 1:
        raise InputError("The brackets do not match: a ']' is missing at the end.")
    n_top, child_shape = stack[0][0], stack[0][1]
    # One top-level list is the matrix itself; several are stacked as its rows.
    drop = 1 if n_top == 1 else 0
    shape = tuple(child_shape) if drop else (n_top, *child_shape)
    if len(shape) > 4:
        raise InputError(
            f"The list has {len(shape)} dimensions; quantviz handles 1 to 4. Paste a slice."
        )
    starts = [first for _, first in leaves]

    def locate(i: int) -> str:
        leaf = bisect.bisect_right(starts, i) - 1
        path, first = leaves[leaf]
        return _where((*(p + 1 for p in path[drop:]), i - first + 1))

    return _to_floats(cells, locate), shape


def _add_child(parent: list, shape: tuple[int, ...]) -> None:
    """Record a finished child list and insist its siblings all have the same shape."""
    if parent[1] is None:
        parent[1] = shape
    elif parent[1] != shape:
        path = [i + 1 for i in parent[2]] + [parent[0] + 1]
        name = _list_name(path)
        got = _values(shape[0]) if len(shape) == 1 else f"shape {shape}"
        want = f"{parent[1][0]}" if len(parent[1]) == 1 else f"shape {parent[1]}"
        raise InputError(
            f"{name} has {got}, expected {want} like the one before it. Every row needs the "
            "same number of values."
        )
    parent[0] += 1


def _list_name(path: list[int]) -> str:
    # Usually the outermost list is the matrix itself and its children are the rows.
    if len(path) <= 2:
        return f"Row {path[-1]}"
    return "List [" + "][".join(map(str, path[1:])) + "] (counting from 1)"


def _mixed(between: str) -> str:
    snippet = between.strip(_SEPARATORS)[:40]
    return (
        f"'{snippet}' stands next to a nested list; a list must hold either numbers or "
        "lists, not both. Check the brackets."
    )
