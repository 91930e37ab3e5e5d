"""parse_matrix: what people paste, and what they should be told when it is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quantviz.inputs import InputError, parse_matrix, parse_matrix_info
from tests.inputs._helpers import expect_error

NOTEBOOK = torch.tensor(
    [[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]], dtype=torch.float32
)

TORCH_PRINTOUT = """tensor([[191.6000, -13.5000, 728.6000],
        [ 92.1400, 295.5000, -184.0000],
        [  0.0000, 684.6000, 245.5000]])"""

M22 = [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2\n3,4", M22),
        ("1\t2\n3\t4\n", M22),
        ("1;2\n3;4", M22),
        ("1 2\n3 4", M22),
        ("  1   2  \n\n\n 3 4   \n", M22),  # blank lines, stray spaces
        ("1, 2,\n3, 4,", M22),  # a trailing separator on every row
        ("a,b\n1,2\n3,4", M22),  # header row
        ("1,5;2,5\n3;4", [[1.5, 2.5], [3.0, 4.0]]),  # European decimal commas
        ("1, 2; 3, 4", M22),  # one typed line: semicolons end rows
        ("1,2;3,4", M22),
        ("1 2; 3 4;", M22),
        ("1;2;3", [[1.0, 2.0, 3.0]]),  # one value per part: a semicolon-separated row
        ("[[1, 2], [3, 4]]", M22),
        ("[[1, 2], [3, 4],]", M22),
        ("[1, 2]\n[3, 4]", M22),  # one bracketed row per line
        ("[[1. 2.]\n [3. 4.]]", M22),  # print(ndarray)
        ("array([[1., 2.],\n       [3., 4.]], dtype=float32)", M22),
        ("np.array([[1, 2], [3, 4]])", M22),
        ("x = [[1, 2], [3, 4]]", M22),
        ("[1 2; 3 4]", M22),  # MATLAB
        ("Parameter containing:\ntensor([[1., 2.],\n        [3., 4.]], requires_grad=True)", M22),
        ("tensor([[1.0000e+00, 2.0000e+00],\n        [3.0000e+00, 4.0000e+00]])", M22),
        ("1e0 2E+0\n3.0e-0 +4", M22),
        ("1 \u22122", [[1.0, -2.0]]),  # typographic minus
    ],
)
def test_accepts_what_people_paste(text: str, expected: list) -> None:
    t = parse_matrix(text)
    assert t.dtype == torch.float32
    assert t.tolist() == expected


def test_torch_printout_over_several_lines_is_the_notebook_matrix() -> None:
    assert torch.equal(parse_matrix(TORCH_PRINTOUT), NOTEBOOK)


def test_single_row_shapes() -> None:
    assert parse_matrix("1, 2, 3").shape == (1, 3)  # a table is 2-D
    assert parse_matrix("[1, 2, 3]").shape == (3,)  # a list keeps its nesting
    assert parse_matrix("tensor([1.5, -2.0], dtype=torch.float16)").tolist() == [1.5, -2.0]


def test_three_and_four_dims() -> None:
    assert parse_matrix("[[[1,2],[3,4]],[[5,6],[7,8]]]").shape == (2, 2, 2)
    assert parse_matrix("[[[[1, 2]]], [[[3, 4]]]]").shape == (2, 1, 1, 2)


def test_round_trips_numpy_and_torch_printouts() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(np.float32) * 100
    np.set_printoptions(precision=10)
    try:
        assert np.allclose(parse_matrix(repr(a)).numpy(), a, rtol=1e-6)
        assert np.allclose(parse_matrix(str(a)).numpy(), a, rtol=1e-6)
    finally:
        np.set_printoptions(precision=8)
    t = torch.from_numpy(a)
    assert torch.allclose(parse_matrix(repr(t)), t, rtol=1e-3)


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n"])
def test_empty_text(text: str) -> None:
    expect_error("empty", parse_matrix, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\n4,5,6\n7,8", r"Row 3 has 2 values, expected 3"),
        ("1 2 3\n\n4 5", r"^Line 3 \(data row 2\) has 2 values, expected 3 like row 1\."),
        ("a b\n1 2\n3", r"^Line 3 \(data row 2 below the header\) has 1 value, expected 2 "),
        ("1 2;; 3", r"^Row 2 has 1 value, expected 2"),  # one typed line: no blank 'line'
        ("[[1, 2, 3], [4, 5]]", r"Row 2 has 2 values, expected 3"),
        ("[1, 2]\n[3]", r"Row 2 has 1 value, expected 2"),
        ("[[[1,2],[3,4]],[[5,6],[7]]]", r"List \[2\]\[2\].* has 1 value, expected 2"),
    ],
)
def test_ragged_rows_say_which_row(text: str, message: str) -> None:
    expect_error(message, parse_matrix, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3\nabc,5,6", r"'abc' at row 2, column 1 is not a number"),
        ("1 2\n3 x4", r"'x4' at row 2, column 2 is not a number"),
        ("[[1, 2], [3, four]]", r"'four' at row 2, column 2 is not a number"),
        ("[1, 2, zz]", r"'zz' at position 3 is not a number"),
        ("h1,h2\n1,2\n3,oops", r"'oops' at line 3, column 2 \(data row 2 below the header\)"),
        ("hello\nfoo 1\n2 3", r"'foo' at line 2, column 1 \(data row 1 below the header\)"),
        ("1 2\n\nfoo 3", r"'foo' at line 3, column 1 \(data row 2\) is not a number"),
        ("1,,2", r"empty cell at row 1, column 2"),
        ("[1,,2]", r"empty cell at position 2"),
        ("tensor([True, False])", r"'True' at position 1 is not a number"),
    ],
)
def test_non_numeric_cells_say_where(text: str, message: str) -> None:
    expect_error(message, parse_matrix, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1, nan\n3, 4", r"1 value that is NaN or infinite: row 1, column 2 \(nan\)"),
        ("inf 1\n2 -inf", r"2 values that are NaN.*row 1, column 1 \(inf\); row 2, column 2 "),
        ("[NaN, Infinity, 1]", r"2 values.*position 1 \(nan\); position 2 \(inf\)"),
        ("1e39, 1", r"too large for float32.*row 1, column 1"),
        ("1, 2\n3, -1e300", r"1 value is too large for float32.*row 2, column 2: -1e\+300"),
    ],
)
def test_nan_and_inf_are_refused_with_count_and_place(text: str, message: str) -> None:
    expect_error(message, parse_matrix, text)


def test_many_nans_show_first_few_and_count_the_rest() -> None:
    msg = expect_error("NaN", parse_matrix, ", ".join(["nan"] * 20))
    assert "20 values" in msg
    assert "15 more" in msg


@pytest.mark.parametrize("text", ["5", "  -3.5  ", "tensor(5.)", "array(3.5, dtype=float32)"])
def test_a_lone_scalar_is_refused(text: str) -> None:
    expect_error("0-d scalar", parse_matrix, text)


def test_more_than_four_dims_is_refused() -> None:
    expect_error("5 dimensions", parse_matrix, "[[[[[1, 2]]]]]")
    expect_error("more than 4 levels", parse_matrix, "[" * 50 + "1" + "]" * 50)


@pytest.mark.parametrize("text", ["1+2j, 3", "[1j, 2]", "(1-3j) 4"])
def test_complex_numbers_are_refused(text: str) -> None:
    expect_error("complex number", parse_matrix, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2", "brackets do not match"),
        ("1, 2]", "brackets do not match"),
        ("[[1, 2], [3, 4]", "brackets do not match"),
        ("[1, [2, 3]]", "either numbers or lists"),
        ("foo bar([1, 2])", "before the first"),
        ("[1, 2] + 3", "after the last"),
        ("tensor([1., 2., ..., 9.])", "abbreviated"),
        ("[]", "empty"),
    ],
)
def test_malformed_literals(text: str, message: str) -> None:
    expect_error(message, parse_matrix, text)


def test_never_evaluates_code(tmp_path) -> None:
    marker = tmp_path / "ran"
    evil = f"__import__('os').makedirs({str(marker)!r})"
    for text in (evil, f"[{evil}]", f"[[1, 2], [{evil}, 3]]"):
        with pytest.raises(InputError):
            parse_matrix(text)
    assert not marker.exists()


def test_size_bounds_are_checked() -> None:
    expect_error("more than the limit", parse_matrix, "1, 2, 3, 4", max_elements=3)
    expect_error("more than the limit", parse_matrix, "[1, 2, 3, 4]", max_elements=3)
    expect_error("bytes", parse_matrix, "1, 2, 3, 4", max_bytes=5)
    # multi-byte characters count as bytes, not characters
    expect_error("bytes", parse_matrix, "1,2 \u00e9\u00e9\u00e9\u00e9", max_bytes=10)


def test_non_text_is_refused() -> None:
    expect_error("Expected text", parse_matrix, b"1, 2")


def test_large_paste_is_fast_enough() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 400)).astype(np.float32)
    text = "\n".join(",".join(f"{v:.6g}" for v in row) for row in a)
    t = parse_matrix(text)
    assert t.shape == (500, 400)
    assert np.allclose(t.numpy(), a, rtol=1e-5)


@pytest.mark.parametrize(
    ("text", "shape", "note"),
    [
        pytest.param("hello world\n1 2\n3 4", (2, 2), "Line 1 ('hello world')", id="header"),
        pytest.param("x\n1 2", (1, 2), "Line 1 ('x')", id="one-word-header"),
        pytest.param("\n\nh1\th2\n1\t2", (1, 2), "Line 3 ('h1 h2')", id="header-after-blanks"),
    ],
)
def test_a_skipped_header_line_is_reported(text: str, shape: tuple, note: str) -> None:
    t, notes = parse_matrix_info(text)
    assert t.shape == shape
    assert len(notes) == 1
    assert notes[0].startswith(note)
    assert "header" in notes[0]
    assert "skipped" in notes[0]
    assert torch.equal(parse_matrix(text), t)  # the public parse_matrix is unchanged


def test_decimal_commas_are_reported() -> None:
    t, notes = parse_matrix_info("1,5;2,25\n3;4")
    assert t.tolist() == [[1.5, 2.25], [3.0, 4.0]]
    assert notes == [
        "Values are separated by semicolons, so 2 comma(s) between digits were read as decimal "
        "commas (1,5 = 1.5)."
    ]


@pytest.mark.parametrize(
    "text",
    ["1 2\n3 4", "1, 2; 3, 4", "[[1, 2], [3, 4]]", "1;2\n3;4", TORCH_PRINTOUT],
    ids=["spaces", "one-line", "literal", "semicolons-no-commas", "printout"],
)
def test_text_read_as_typed_has_no_notes(text: str) -> None:
    t, notes = parse_matrix_info(text)
    assert notes == []
    assert torch.equal(t, parse_matrix(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1\t2 3", [[1.0, 2.0, 3.0]], id="one-line"),
        pytest.param("1\t2 3\n4 5\t6", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], id="two-lines"),
        pytest.param("1 \t 2\t3\n4\t5\t6", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], id="spaced-tabs"),
    ],
)
def test_tabs_and_spaces_mixed_are_both_separators(text: str, expected: list) -> None:
    assert parse_matrix(text).tolist() == expected


def test_a_tab_separated_header_may_hold_spaces() -> None:
    t, notes = parse_matrix_info("first col\tsecond col\n1\t2")
    assert t.tolist() == [[1.0, 2.0]]
    assert notes[0].startswith("Line 1 ('first col second col')")


@pytest.mark.parametrize(
    ("text", "expected", "example"),
    [
        pytest.param("1,000,2,000", [[1.0, 0.0, 2.0, 0.0]], "'1,000'", id="zero-groups"),
        pytest.param("[1,050, 7]", [1.0, 50.0, 7.0], "'1,050'", id="literal"),
        pytest.param("1,500, 2,500", [[1.0, 500.0, 2.0, 500.0]], "'1,500'", id="mixed-commas"),
        pytest.param("0.5,000", [[0.5, 0.0]], "'0.5,000'", id="decimal-before"),
    ],
)
def test_commas_that_look_like_thousands_are_read_as_today_with_a_note(
    text: str, expected: list, example: str
) -> None:
    t, notes = parse_matrix_info(text)
    assert t.tolist() == expected
    assert len(notes) == 1
    assert "thousands separators" in notes[0]
    assert example in notes[0]


@pytest.mark.parametrize("text", ["1,2,3", "1, 2, 3", "1,234,5", "0.25,0.125", "1,5;2,5"])
def test_plain_comma_lists_get_no_thousands_note(text: str) -> None:
    _, notes = parse_matrix_info(text)
    assert not any("thousands" in n for n in notes)
