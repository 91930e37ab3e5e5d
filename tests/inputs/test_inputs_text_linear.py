"""parse_matrix runs in time linear in the length of the text, whatever the text.

Measured as a ratio, so a busy machine does not make it flaky: the time for 64 KB of an
adversarial family of text may be at most SLACK times the size ratio (8) times the time for
8 KB of the same family. A quadratic parser would take 64 times as long; the parser this
replaced took about 20 s for "a(" + 4,000 spaces + "1" alone.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quantviz.inputs import InputError, load_tensors, parse_matrix

SMALL, BIG = 8 * 1024, 64 * 1024
SLACK = 4  # a per-character cost that grows 4x is already far from linear; quadratic is 8x


def _fill(head: str, run: str, tail: str) -> Callable[[int], str]:
    """A family: head, then ``run`` repeated to make ``n`` characters in all, then tail."""

    def make(n: int) -> str:
        k = max(1, (n - len(head) - len(tail)) // len(run))
        return head + run * k + tail

    return make


# The reproducers first, then runs of every character the parser treats specially.
FAMILIES: dict[str, Callable[[int], str]] = {
    "call-paren-spaces": _fill("a(", " ", "1"),
    "call-paren-newlines": _fill("f(", "\n", "1"),
    "spaces-between-lists": _fill("[1, 2],", " ", "["),
    "spaces-before-suffix": _fill("[1, 2]", " ", ", dtype=float32)"),
    "spaces-in-prefix": _fill("x = tensor(", " ", "[1, 2])"),
    "parameter-spaces": _fill("Parameter containing:", " \n", "tensor([1., 2.])"),
    "open-brackets": _fill("", "[", "1"),
    "close-brackets": _fill("1", "]", ""),
    "open-parens": _fill("", "(", "1)"),
    "paren-commas": _fill("tensor(", "1,", ")"),
    "commas": _fill("1", ",", "2"),
    "comma-spaces": _fill("1", " , ", "2"),
    "semicolons": _fill("1 2", ";", "3 4"),
    "tabs-and-spaces": _fill("", "1\t2 ", "3"),
    "newlines-then-junk": _fill("1 2\n", "\n", "x y"),
    "thousands": _fill("", "1,000,", "2"),
    "equals": _fill("", "x = ", "[1]"),
    "mixed-junk": _fill("np.array(", " \t\n,;()[]x=", "1"),
    "long-number": _fill("[1, ", "9", "]"),
    "long-row": _fill("[", "1.5, ", "2]"),
    "long-table": _fill("", "1 2\n", "3 4"),
    "nested-rows": _fill("[", "[1, 2], ", "[3, 4]]"),
}


def _cpu_time(text: str, parse: Callable[[str], object]) -> float:
    # CPU time of this process, not wall time: being descheduled on a busy machine is free.
    start = time.process_time()
    with contextlib.suppress(InputError):
        parse(text)
    return time.process_time() - start


def _check_ratio(family: str, parse: Callable[[str], object] = parse_matrix) -> None:
    make = FAMILIES[family]
    small, big = make(SMALL), make(BIG)
    ratio = len(big) / len(small)
    bound = SLACK * ratio
    seen = []
    # Best of several interleaved runs, and up to three tries: noise only ever adds time, and
    # a parser that is really super-linear fails every try. The floor keeps timer resolution
    # from deciding the ratio of sub-millisecond parses.
    for _ in range(3):
        t_small = max(min(_cpu_time(small, parse) for _ in range(7)), 5e-4)
        t_big = min(_cpu_time(big, parse) for _ in range(3))
        seen.append(t_big / t_small)
        if t_big <= bound * t_small:
            return
    pytest.fail(
        f"{family}: {len(big):,} chars took {', '.join(f'{r:.1f}' for r in seen)} times as "
        f"long as {len(small):,} chars in three tries (a linear parser: about {ratio:.0f}x; "
        f"allowed {bound:.0f}x)"
    )


@pytest.mark.parametrize("family", list(FAMILIES), ids=list(FAMILIES))
def test_time_grows_linearly_with_adversarial_text(family: str) -> None:
    _check_ratio(family)


# Runs of the characters that matter, each up to a few thousand long, in any order.
PIECES = [" ", "\n", "\t", "[", "]", "(", ")", ",", ";", "1", "1, ", "[1, 2],", "a(", "f(", "x"]
RUNS = st.lists(st.tuples(st.sampled_from(PIECES), st.integers(1, 3000)), min_size=1, max_size=4)

LINEAR_FUZZ = settings(
    max_examples=int(os.environ.get("QV_FUZZ_EXAMPLES", "200")) // 4,
    # Generous for a shared machine: a linear parse of these takes milliseconds, while the
    # backtracking parser took seconds at 2,000 characters.
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@LINEAR_FUZZ
@given(RUNS)
@example([("a(", 1), (" ", 2000), ("1", 1)])
@example([("f(", 1), ("\n", 2000), ("1", 1)])
@example([("[1, 2],", 1), (" ", 3000), ("[", 1)])
def test_runs_of_separators_parse_within_the_deadline(runs: list[tuple[str, int]]) -> None:
    text = "".join(piece * k for piece, k in runs)
    try:
        t = parse_matrix(text)
    except InputError:
        return
    assert 1 <= t.ndim <= 4


@pytest.mark.parametrize(
    "family", ["call-paren-spaces", "call-paren-newlines", "spaces-between-lists"]
)
def test_a_csv_upload_of_the_reproducers_is_linear_too(family: str) -> None:
    """The same text as a .csv upload goes through the same parser."""
    with pytest.raises(InputError):
        load_tensors(FAMILIES[family](SMALL).encode(), "paste.csv")
    _check_ratio(family, lambda text: load_tensors(text.encode(), "paste.csv"))
