"""Scanners for :mod:`quantviz.inputs.text`: small checks and splits that each read the text once.

Nothing here backtracks: names are checked character by character, cells are split with
``str.split``, and the one regular expression finds a comma by looking at a fixed number of
characters around it. Each function is linear in the length of its input.
"""

from __future__ import annotations

import re

MAX_PREFIX = 200
"""Longest text accepted before a literal's first '[' ('Parameter containing:\ntensor(')."""

# A comma between digits followed by exactly three digits: '1,000' may be a thousands group.
_GROUP_COMMA = re.compile(r"(?<=\d),(?=\d\d\d(?![\d.eE]))")


def is_name(s: str, dots: bool) -> bool:
    """A Python-like name ('x', 'np.array' when ``dots``), checked character by character."""
    if not s or not (s[0].isascii() and (s[0].isalpha() or s[0] == "_")):
        return False
    return all(c.isalnum() or c == "_" or (dots and c == ".") for c in s)


def split_cells(s: str) -> list[str]:
    """Cells separated by commas (with any spaces around them) or by runs of whitespace.

    '1, 2 3' -> ['1', '2', '3']; '1,,2' -> ['1', '', '2'] (an empty cell, reported as such).
    """
    return [cell for part in s.split(",") for cell in (part.split() or [""])]


def wrapped_scalar(text: str) -> str | None:
    """The number in 'tensor(5.)' or 'array(3.5, dtype=float32)', or None for anything else."""
    s = text.strip()
    open_ = s.find("(")
    if open_ < 0 or not s.endswith(")") or not is_name(s[:open_], dots=True):
        return None
    inner = s[open_ + 1 : -1]
    if "(" in inner or ")" in inner:
        return None
    first = inner.split(",", 1)[0].strip()
    return first if 1 <= len(first) <= 60 else None


def is_prefix(prefix: str) -> bool:
    """What may stand before the first '[': 'tensor(', 'np.array(', 'x = ',
    'Parameter containing:' (each optional, in that order), with any spaces around them."""
    s = prefix.strip()
    s = s.removeprefix("Parameter containing:").lstrip()
    eq = s.find("=")
    if eq >= 0:
        if not is_name(s[:eq].strip(), dots=False):
            return False
        s = s[eq + 1 :].lstrip()
    return not s or (s.endswith("(") and is_name(s[:-1].rstrip(), dots=True))


def is_suffix(suffix: str) -> bool:
    """What may follow the last ']': ', dtype=float32)', ', requires_grad=True)', ')' or
    nothing. After a comma anything but brackets may follow (keyword arguments)."""
    s = suffix.strip()
    return s in ("", ")") or (s.startswith(",") and "[" not in s and "]" not in s)


def thousands_note(text: str) -> str | None:
    """A note when commas that separate values look like thousands separators ('1,000')."""
    groups = list(_GROUP_COMMA.finditer(text))
    if not groups:
        return None
    # A group starting with 0 ('1,050') is never how a list of numbers is written; a comma
    # without a space next to commas with one ('1,500, 2,500') mixes two kinds of comma.
    zero_group = any(text[m.end()] == "0" for m in groups)
    mixed = ", " in text or ",\t" in text
    if not (zero_group or mixed):
        return None
    m = groups[0]
    left = m.start()
    while (
        left > 0 and left > m.start() - 20 and (text[left - 1].isdigit() or text[left - 1] == ".")
    ):
        left -= 1
    example = text[left : m.end() + 3]
    return (
        f"{len(groups)} comma(s) between digits look like thousands separators (e.g. "
        f"'{example}'), but commas separate values here, so '{example}' was read as two "
        f"values, {text[left : m.start()]} and {text[m.end() : m.end() + 3]}. If you meant one "
        "number, remove the thousands separators."
    )


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def not_a_number(cell: str, pos: str) -> str:
    shown = cell if len(cell) <= 40 else cell[:37] + "..."
    if cell == "":
        return f"There is an empty cell at {pos}: fill it in or remove the extra separator."
    if "j" in cell.lower():
        try:
            complex(cell.replace(" ", ""))
        except ValueError:
            pass
        else:
            return (
                f"'{shown}' at {pos} is a complex number; quantviz works on real numbers only. "
                "Take the real part or the magnitude first."
            )
    return f"'{shown}' at {pos} is not a number."
