"""The answer parser: what it reads, where it stops, and that arbitrary text never breaks it."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.verify.lexer import AnswerSyntaxError, tokenize
from symbackprop.verify.limits import MAX_DEPTH, MAX_LENGTH, MAX_TERMS
from symbackprop.verify.parser import (
    BinOp,
    Call,
    Group,
    MatrixLit,
    Name,
    Neg,
    Relation,
    Scripted,
    SumOver,
    parse,
)


def rhs(text: str):
    return parse(text).sides[-1]


def test_hadamard_binds_looser_than_a_product() -> None:
    node = rhs(r"W_2^T \delta_2 \odot f_1'(s_1)")
    assert isinstance(node, BinOp) and node.op == "⊙"
    assert isinstance(node.left, BinOp) and node.left.op == "*"
    assert isinstance(node.right, Call) and node.right.func.primes == 1


@pytest.mark.parametrize(
    "text", [r"\delta_1 \cdot x^T", r"\delta_1 \times x^T", "delta_1 * x^T", "delta_1 x^T", "delta_1 · x^T"]
)
def test_every_product_sign_is_a_product(text: str) -> None:
    node = rhs(text)
    assert isinstance(node, BinOp) and node.op == "*"


@pytest.mark.parametrize("text", ["W^T", r"W^\top", r"W^{\top}", "W'", "Wᵀ", r"W^{\intercal}", r"W^{\mathsf{T}}"])
def test_transposes(text: str) -> None:
    node = rhs(text)
    assert isinstance(node, Scripted)
    assert (node.sup is not None and node.sup.transpose) or node.primes == 1


def test_names_keep_their_scripts_and_indices() -> None:
    node = rhs(r"w_{ji}^{(1)}")
    assert isinstance(node, Scripted) and node.base == Name(0, 1, "w")
    assert node.sub.label == "ji" and node.sup.label == "(1)"
    assert rhs("z_rec^(2)[n,i]").index == ("n", "i")
    assert rhs(r"\delta_{rec}^{(2)}").base.text == "delta"
    assert rhs(r"\mathcal{L}").font == "mathcal"


def test_sums_fractions_indicators_and_groups() -> None:
    node = rhs(r"\sum_{k=1}^{n_2} \delta^{(2)}_k w_{kj}^{(2)}")
    assert isinstance(node, SumOver) and node.index == "k" and isinstance(node.body, BinOp)
    assert isinstance(rhs("sum_{n=1}^{N}(delta_1[j,n]*x[i,n])"), SumOver)
    frac = rhs(r"\frac{\partial \mathcal{L}}{\partial W_{1}}")
    assert isinstance(frac, BinOp) and frac.frac
    assert isinstance(rhs(r"\left[s_{1} > 0\right]"), Relation)
    assert isinstance(rhs("[dL/dy · dy/ds_2]_delta_2 · ds_2/dw_2").left, Group)
    assert isinstance(rhs(r"\underbrace{\frac{\partial L}{\partial y}}_{\delta_{2}}"), Group)
    assert isinstance(rhs(r"\begin{bmatrix} a & b \\ c & d \end{bmatrix}"), MatrixLit)
    assert isinstance(rhs("-(t - y)"), Neg)


def test_equations_and_index_ranges() -> None:
    answer = parse("dL/dW_1[j,i] = sum_{n=1}^{N}(delta_1[j,n]*x[i,n])   for j = 1..3, i = 1..4")
    assert len(answer.sides) == 2
    latex = parse(r"\delta^{(1)}_{j,n} &= \delta^{(2)}_{n} w^{(2)}_{j} \quad (1 \le j \le 2,\ 1 \le n \le N)")
    assert len(latex.sides) == 2


@pytest.mark.parametrize(
    "text",
    [
        "ds_2[j,n]/dW_2[j,i] = z_1[i,n]   for j = 1..2, n = 1..N, i = 1..3   (0 for W_2[k,i] with k != j)",
        "dh^2[j,n]/dz^2[j,n] = f_2'(z^2[j,n])   for j = 1..2, n = 1..N   (0 for z^2[i,n] with i != j)",
        "ds_1[j,n]/dW_1[j,i] = x[i,n]   for j = 1..3, n = 1..N, i = 1..2   (no matrix form: the derivative of s_1 "
        "by W_1 has an index for each dimension of both, so it is written entry by entry; 0 for W_1[k,i] with k != j)",
        "dp/ds_1 = diag(p) - p p^T   for each sample",
        "ds_2^(2)[1]/ds_1[1] = W_2[1,1]*(W_2[1,1] + 1)   (0 for s_1[n] with n != 1)",  # no free index: no ranges
        "dz_2[1,1]/dW_2[1,2] = z_1[2,1]   (no matrix form: entry by entry)",
    ],
)
def test_the_note_derive_prints_after_the_ranges_is_read_aside(text: str) -> None:
    """derive's text line for a local partial ends in its ranges and a note in brackets: both left aside."""
    assert len(parse(text).sides) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x[i,n]   for i = 1..2 (0 for W[k,i] with k != j) + b", "after the note"),
        ("x[i,n]   for i = 1..2 (0 for W[k,i] with k != j", "'(' is never closed"),
        (r"x[i,n]   for i = 1..2 (0 for \input{W})", "unsupported command"),
        (r"x[i,n]   for i = 1..2 (0 + W)", "in the note"),
    ],
)
def test_a_note_is_words_in_brackets_and_the_last_thing(text: str, message: str) -> None:
    with pytest.raises(AnswerSyntaxError, match=re.escape(message)):
        parse(text)


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("[i = j]", "="),
        (r"\left[i = j\right]", "="),
        ("[j != k]", "!="),
        (r"[j \ne k]", "!="),
        (r"[j \neq k]", "!="),
        ("[j ≠ k]", "!="),
        ("[j = 2]", "="),
    ],
)
def test_kronecker_brackets(text: str, op: str) -> None:
    """[j = k], Iverson's bracket of two indices (the softmax Jacobian's index form), and its negation."""
    side = parse(text).sides[0]
    assert isinstance(side, Relation) and side.op == op


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("delta_1 x^T)", "unexpected ')'", 11),
        ("(delta_1 x^T", "expected ')'", 12),
        (r"\input{/etc/passwd}", r"unsupported command \input", 0),
        (r"\def\x{}", r"unsupported command \def", 0),
        ("x\x00", "U+0000", 1),
        ("delta_1 х", "CYRILLIC SMALL LETTER HA", 8),
        ("ｘ", "FULLWIDTH LATIN SMALL LETTER X", 0),
        ("1" * 31, "longer than 30 digits", 0),
        ("", "empty", 0),
        ("x |y", "expected '|'", 4),  # |..| is abs(..); one left open is an error
        (r"\begin{cases} 1 \end{cases}", "unsupported environment", 7),
    ],
)
def test_unreadable_text_says_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(AnswerSyntaxError, match=re.escape(message)) as caught:
        parse(text)
    assert caught.value.position == position


def test_bounds() -> None:
    with pytest.raises(AnswerSyntaxError, match=f"limit is {MAX_LENGTH}"):
        parse("x" * (MAX_LENGTH + 1))
    with pytest.raises(AnswerSyntaxError, match=f"deeper than {MAX_DEPTH}"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    parse("(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1))
    with pytest.raises(AnswerSyntaxError, match=f"more than {MAX_TERMS}"):
        parse("+".join(["x"] * (MAX_TERMS + 1)))
    with pytest.raises(AnswerSyntaxError, match="deeper"):
        parse("-" * 60 + "x")


def test_tokens_carry_positions_and_unicode_operators() -> None:
    tokens = tokenize("δ_1 ⊙ σ′(s) − x")
    assert [(t.kind, t.text) for t in tokens[:3]] == [("cmd", "delta"), ("op", "_"), ("num", "1")]
    assert ("cmd", "odot") in [(t.kind, t.text) for t in tokens]
    assert ("op", "'") in [(t.kind, t.text) for t in tokens]
    assert tokens[-1].kind == "end" and tokens[-1].pos == len("δ_1 ⊙ σ′(s) − x")


@pytest.mark.parametrize(
    ("text", "top", "bottom"),
    [(r"\frac12", "1", "2"), (r"\frac1N", "1", "N"), (r"\frac{1}2", "1", "2"), (r"\dfrac ab", "a", "b")],
)
def test_braceless_fraction_arguments_are_one_character_each(text: str, top: str, bottom: str) -> None:
    """As TeX reads them: \\frac12 is 1/2 (not 12/...), \\frac ab is a/b."""
    node = rhs(text)
    assert isinstance(node, BinOp) and node.op == "/" and node.frac
    assert [getattr(node.left, "text", None), getattr(node.right, "text", None)] == [top, bottom]
    product = rhs(r"\frac12 x")
    assert isinstance(product, BinOp) and product.op == "*" and product.right.text == "x"


def test_braceless_accents_and_fonts_take_one_letter() -> None:
    assert rhs(r"\hat y") == Name(0, 6, "y_hat") and rhs(r"\hat{y}").text == "y_hat"
    assert rhs(r"\vec t").text == "t" and rhs(r"\vec t").font == "vec"
    assert rhs(r"\mathbf W").text == "W" and rhs(r"\mathbf W").font == "mathbf"
    bold_w_x = rhs(r"\mathbf Wx")  # TeX: a bold W, then x
    assert isinstance(bold_w_x, BinOp) and bold_w_x.left.text == "W" and bold_w_x.right.text == "x"
    loss = rhs(r"\frac{\partial L(\vec t; \vec y)}{\partial w_{ji}^{(1)}}").left.operand
    assert isinstance(loss, Call) and [arg.text for arg in loss.args] == ["t", "y"]
    assert rhs(r"\sqrt2 x").left.args[0].text == "2"
    with pytest.raises(AnswerSyntaxError, match="one letter or digit"):
        parse(r"\hat +")


@pytest.mark.parametrize(
    ("text", "primes"),
    [
        (r"\sigma^\prime(z)", 1),
        (r"\sigma_2^{\prime}(z^2)", 1),
        (r"f^{\prime\prime}(s)", 2),
        (r"f_{out}^{'}(s)", 1),
        (r"\sigma'(z)", 1),
    ],
)
def test_primes_written_as_superscripts(text: str, primes: int) -> None:
    node = rhs(text)
    assert isinstance(node, Call) and isinstance(node.func, Scripted)
    assert node.func.primes == primes and node.func.sup is None


def test_bars_are_absolute_values() -> None:
    node = rhs(r"\left|p - t\right| |p|")
    assert isinstance(node, BinOp) and node.op == "*"
    assert all(isinstance(side, Call) and side.func.text == "abs" for side in (node.left, node.right))
    nested = rhs("|p - |t||")
    assert isinstance(nested, Call) and isinstance(nested.args[0].right, Call)


_ALPHABET = st.sampled_from(
    list("xyzWstδσ_^{}()[]'+-*/=<>,.&|!0123456789 ⊙·×\\")
    + [
        r"\frac",
        r"\sum",
        r"\partial",
        r"\left(",
        r"\right)",
        r"\odot",
        r"\cdot",
        r"\top",
        r"\begin{bmatrix}",
        r"\end{bmatrix}",
        r"\\",
        r"\delta",
        r"\mathbf{1}",
        "_{",
        "^{(",
        "delta_",
        "f_1'(",
        "1_N",
        "sum_{n=1}^{N}",
        "dL/d",
        r"\underbrace{",
        r"\sqrt",
        r"\hat",
        r"\vec",
        r"\prime",
        r"\frac12",
        "|",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_fuzz_grammar_fragments_raise_only_parse_errors(text: str) -> None:
    try:
        parse(text)
    except AnswerSyntaxError as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text_raises_only_parse_errors(text: str) -> None:
    try:
        parse(text)
    except AnswerSyntaxError as error:
        assert 0 <= error.position <= max(len(text), MAX_LENGTH)
