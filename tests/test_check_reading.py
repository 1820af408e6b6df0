"""Reading solutions: documents into math and prose, math into chains, sides into numbers and
matrices (check/document.py, tokens.py, chains.py, values.py)."""

from __future__ import annotations

import pytest

from symbackprop.check.chains import chains
from symbackprop.check.document import read_document
from symbackprop.check.limits import CheckError
from symbackprop.check.tokens import parse
from symbackprop.check.values import number, value


def _value(text: str) -> list[list[float]] | None:
    found = value(parse(text))
    return None if found is None else [[n.value for n in row] for row in found.rows]


def _chains(text: str) -> list[tuple[list[str], list[list[float]] | None]]:
    """Each chain: the text of its sides that are not values, and its last value."""
    out = []
    for chain in chains(parse(text)):
        values = [side.value for side in chain.sides if side.value is not None]
        last = values[-1] if values else None
        out.append(
            (
                [side.text for side in chain.sides if side.value is None],
                None if last is None else [[n.value for n in row] for row in last.rows],
            )
        )
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", [[0.5]]),
        ("-0.96", [[-0.96]]),
        ("+3", [[3.0]]),
        ("(-1)", [[-1.0]]),
        ("\\boxed{0.25}", [[0.25]]),
        ("\\mathbf{-2}", [[-2.0]]),
        ("1.2e-3", [[0.0012]]),
        ("1.2 \\times 10^{-3}", [[0.0012]]),
        ("3\\cdot 10^{2}", [[300.0]]),
        ("0{,}5", [[0.5]]),
        ("5.", [[5.0]]),
        ("0.5 \\text{ (rounded)}", [[0.5]]),
        ("0.5 (rounded)", [[0.5]]),
        ("\\begin{bmatrix} 1 & -2 \\\\ 3 & 4.5 \\end{bmatrix}", [[1, -2], [3, 4.5]]),
        ("\\begin{pmatrix} 2 \\\\ 3 \\end{pmatrix}", [[2], [3]]),
        ("\\left[\\begin{array}{cc} 1 & 2 \\end{array}\\right]", [[1, 2]]),
        ("\\begin{bmatrix} \\phantom{-}1 & -2 \\end{bmatrix}", [[1, -2]]),
        ("{25 \\choose 49}", [[25], [49]]),
        ("\\binom{5}{7}", [[5], [7]]),
        ("[0.5, 0.2]", [[0.5, 0.2]]),
        ("(2, 3)", [[2, 3]]),
        ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]]),
        ("[1 2; 3 4]", [[1, 2], [3, 4]]),
        ("[ 1.0  -2.0 ] [ 3.0  4.0 ]", [[1, -2], [3, 4]]),
        ("\\begin{bmatrix} 1 & 2 \\end{bmatrix}^T", [[1], [2]]),
        ("(2, 3)^\\top", [[2], [3]]),
        ("[1, 2]'", [[1], [2]]),
    ],
)
def test_values_as_students_write_them(text: str, expected: list[list[float]]) -> None:
    assert _value(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x",
        "2x",
        "0.01 \\cdot 100",
        "-2 \\cdot -2",
        "(-1)^2",
        "\\begin{bmatrix} a & 1 \\end{bmatrix}",
        "\\begin{bmatrix} 1 & 2 \\\\ 3 \\end{bmatrix}",
        "[1, x]",
        "\\frac{1}{2}",
        "{5 \\choose 7}^2",
        "\\begin{bmatrix} 1 \\end{bmatrix}\\begin{bmatrix} 2 \\end{bmatrix}",
        "\\vdots",
    ],
)
def test_expressions_are_not_values(text: str) -> None:
    assert _value(text) is None


def test_a_number_knows_the_digits_written() -> None:
    assert number("0.6013").unit == pytest.approx(1e-4)
    assert number("-240").unit == 1
    assert number("1.20", exponent=-3).unit == pytest.approx(1e-5)
    assert number("1.2e-3").unit == pytest.approx(1e-4)
    assert number("5.", 0).unit == 1


def test_a_function_named_in_text_does_not_cut_the_chain() -> None:
    """\\mathrm{ReLU}(Z) is an expression side; \\text{ and } between two equations cuts them."""
    assert _chains(r"A^{[1]} = \mathrm{ReLU}(Z^{[1]}) = \begin{bmatrix} 0 \\ 4 \end{bmatrix}") == [
        (["A^{[1]}", r"\mathrm{ReLU}(Z^{[1]})"], [[0], [4]])
    ]
    assert _chains(r"s_1 = 5 \text{ and } s_2 = 7") == [(["s_1"], [[5]]), (["s_2"], [[7]])]


def test_chains_take_the_last_value_and_every_name() -> None:
    product = r"\begin{bmatrix}1 \\ 2\end{bmatrix}\begin{bmatrix}3\end{bmatrix}"
    assert _chains(
        r"s_1 = W^T x = \begin{bmatrix}1\\2\end{bmatrix}\begin{bmatrix}3\end{bmatrix} = "
        r"\begin{bmatrix}3\\6\end{bmatrix}"
    ) == [(["s_1", "W^T x", product], [[3.0], [6.0]])]
    assert _chains(r"s_{out} = [0.5] = z_{out} = y_{out}")[0] == (["s_{out}", "z_{out}", "y_{out}"], [[0.5]])


def test_align_rows_continue_a_chain_and_separators_start_new_ones() -> None:
    found = _chains(r"\begin{split} d &= W x \\ &= \begin{pmatrix}5\\7\end{pmatrix} \end{split}")
    assert found == [(["d", "W x"], [[5.0], [7.0]])]
    found = _chains(r"s_1 = 5, \quad s_2 = 7 \qquad L \approx 2.5")
    assert [f[0] for f in found] == [["s_1"], ["s_2"], ["L"]]
    assert [f[1] for f in found] == [[[5.0]], [[7.0]], [[2.5]]]


def test_an_array_of_equations_is_layout_not_a_matrix() -> None:
    found = _chains(r"\begin{array}{lll} w_{11} = -2 - 0.01 \cdot 100 & = -3 \\ w_{12} = 1 & = 1 \end{array}")
    assert [f[1] for f in found] == [[[-3.0]], [[1.0]]]


def test_markdown_math_prose_and_code_blocks() -> None:
    text = (
        "# Iteration 1\n\nThe loss is $L = 2$ here.\n\n$$\ns_1 = [1, 2]\n$$\n\\[ z_1 = 3 \\]\n"
        "```\nStep 2\n  W = [ 1.0  2.0 ]\n      [ 3.0  4.0 ]\n```\nL = 0.5\n"
    )
    segments = read_document(text)
    kinds = [(s.kind, s.line) for s in segments]
    assert ("math", 3) in kinds and ("math", 5) in kinds and ("math", 8) in kinds
    assert ("prose", 10) in kinds  # Step 2, inside the code block
    plain = [s for s in segments if s.kind == "plain"]
    assert plain[0].text == "W = [ 1.0  2.0 ]\n[ 3.0  4.0 ]" and plain[0].line == 11
    assert plain[1].text == "L = 0.5"


def test_latex_documents_drop_comments() -> None:
    text = (
        "\\documentclass{article}\n\\begin{document}\n% W = 3\n\\begin{align*} a &= 1 \\end{align*}\n\\end{document}\n"
    )
    segments = read_document(text)
    assert [s.kind for s in segments if s.kind == "math"] == ["math"]
    assert all("W = 3" not in s.text for s in segments)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a\n\\input{other}\n", 2, "\\input"),
        ("a\n\n\\include{chapter}", 3, "\\include"),
        ("x\n\\immediate\\write18{rm -rf /}", 2, "never runs"),
        ("$$\\begin{bmatrix} 1 & 2\n$$", 1, "never closed"),
        ("$$\\begin{bmatrix} 1 \\end{pmatrix}$$", 1, "unbalanced"),
        ("text\n$$ s = 1\n\nmore", 2, "never closed"),
        ("$$ s = {1 $$", 1, "unbalanced"),
        ("$$ s = \\left( 1 $$", 1, "\\left"),
        ("```\ncode\n", 1, "never closed"),
        ("$$" + "{" * 200 + "1" + "}" * 200 + "$$", 1, "nested"),
        ("a\x00b", 1, "NUL"),
    ],
)
def test_unreadable_documents_say_what_and_where(text: str, line: int, words: str) -> None:
    with pytest.raises(CheckError) as caught:
        for segment in read_document(text):
            if segment.kind in ("math", "plain"):
                try:
                    chains(parse(segment.text))
                except CheckError as error:
                    raise CheckError(error.message, segment.line) from None
    assert words in str(caught.value)
    assert caught.value.line == line


def test_unknown_commands_and_characters_are_kept_not_refused() -> None:
    assert _chains(r"x = \weird{1} = 2") == [(["x", r"\weird{1}"], [[2.0]])]
    assert _chains("ä = 3")[0][1] == [[3.0]]


def test_a_documents_own_math_commands_are_read_as_math() -> None:
    text = (
        "\\documentclass{article}\n\\newcommand{\\fiteq}[1]{\\fit{$\\displaystyle #1$}\\smallskip}\n"
        "\\newcommand{\\form}[2]{\\par{\\small\\textsc{#1}}\\fiteq{#2}}\n\\begin{document}\n"
        "\\fiteq{s_1 = 5}\n\\form{Step 1}{z_1 = 7}\nAnd \\$5 is money, \\\\$x = 2$ is math.\n\\end{document}\n"
    )
    segments = read_document(text)
    math = [(s.text, s.line) for s in segments if s.kind == "math"]
    assert ("s_1 = 5", 5) in math and ("z_1 = 7", 6) in math and ("x = 2", 7) in math
    assert any(s.kind == "prose" and "Step 1" in s.text for s in segments)


def test_plain_text_matrices_continue_on_the_next_lines() -> None:
    segments = read_document("Step 1\n    W_1 = [ -2.0000  3.0000 ]\n          [  2.0000  1.0000 ]\n    L = 2.0000\n")
    plain = [s for s in segments if s.kind == "plain"]
    assert [s.text for s in plain] == ["W_1 = [ -2.0000  3.0000 ]\n[  2.0000  1.0000 ]", "L = 2.0000"]
