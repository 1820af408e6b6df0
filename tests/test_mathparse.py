"""The bounded formula parser (symbackprop/mathparse.py): trees of valid formulas, every error,
and a property test that arbitrary text either parses or raises MathSyntaxError, quickly."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import mathparse
from symbackprop.mathparse import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NUMBER_DIGITS,
    BinOp,
    Call,
    MathSyntaxError,
    Name,
    Neg,
    Num,
    parse,
)

X = frozenset({"x"})
XY = frozenset({"x", "y"})
x, y = Name("x"), Name("y")


def _error(text: str, names: frozenset[str] | set[str] = XY) -> MathSyntaxError:
    with pytest.raises(MathSyntaxError) as info:
        parse(text, names)
    error = info.value
    assert isinstance(error, ValueError)  # callers may catch ValueError
    assert isinstance(error.position, int) and 0 <= error.position <= max(len(text), MAX_LENGTH)
    return error


# -- valid formulas --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("x", x),
        ("  x  ", x),
        ("(x)", x),
        ("((x))", x),
        ("+x", x),
        ("2", Num("2")),
        ("2.5", Num("2.5")),
        (".5", Num(".5")),
        ("3.", Num("3.")),
        ("1e-3", Num("1e-3")),
        ("2.5E+4", Num("2.5E+4")),
        ("-x", Neg(x)),
        ("--x", Neg(Neg(x))),
        ("x - -y", BinOp("-", x, Neg(y))),
        ("x**2", BinOp("^", x, Num("2"))),
        ("x^2", BinOp("^", x, Num("2"))),
        ("x ** 2", BinOp("^", x, Num("2"))),
        ("x^y", BinOp("^", x, y)),
        ("x^-1", BinOp("^", x, Neg(Num("1")))),
        ("x^(2)", BinOp("^", x, Num("2"))),
        ("x^(-2)", BinOp("^", x, Neg(Num("2")))),
        (f"x^{MAX_EXPONENT}", BinOp("^", x, Num(str(MAX_EXPONENT)))),
        (f"x^-{MAX_EXPONENT}", BinOp("^", x, Neg(Num(str(MAX_EXPONENT))))),
        # precedence: unary minus binds looser than ^, so -x^2 is -(x^2)
        ("-x^2", Neg(BinOp("^", x, Num("2")))),
        ("2*x^2", BinOp("*", Num("2"), BinOp("^", x, Num("2")))),
        ("x + y*2", BinOp("+", x, BinOp("*", y, Num("2")))),
        ("(x + y)*2", BinOp("*", BinOp("+", x, y), Num("2"))),
        # left associativity of + - * /
        ("x - y - 1", BinOp("-", BinOp("-", x, y), Num("1"))),
        ("x / y / 2", BinOp("/", BinOp("/", x, y), Num("2"))),
        ("x * y / 2", BinOp("/", BinOp("*", x, y), Num("2"))),
        ("x*-y", BinOp("*", x, Neg(y))),
        ("exp(x)", Call("exp", (x,))),
        ("ln(x)", Call("log", (x,))),  # ln is log
        ("log(x)", Call("log", (x,))),
        ("max(x, 0)", Call("max", (x, Num("0")))),
        ("min(x,y)", Call("min", (x, y))),
        ("1/(1+exp(-x))", BinOp("/", Num("1"), BinOp("+", Num("1"), Call("exp", (Neg(x),))))),
        ("x**3/3 + x", BinOp("+", BinOp("/", BinOp("^", x, Num("3")), Num("3")), x)),
        ("(y - x)^2 / 2", BinOp("/", BinOp("^", BinOp("-", y, x), Num("2")), Num("2"))),
        ("\tx\n+\r\ny ", BinOp("+", x, y)),
    ],
)
def test_valid_formula_trees(text: str, tree: mathparse.Node) -> None:
    assert parse(text, XY) == tree


@pytest.mark.parametrize("func", sorted(FUNCTIONS))
def test_every_function_with_its_arity(func: str) -> None:
    arity = FUNCTIONS[func]
    args = ", ".join(["x"] * arity)
    node = parse(f"{func}({args})", X)
    assert node == Call("log" if func == "ln" else func, (x,) * arity)


def test_names_may_be_any_iterable_of_strings() -> None:
    assert parse("y_out - y", {"y_out", "y"}) == BinOp("-", Name("y_out"), Name("y"))
    assert parse("h_3", ["h_3"]) == Name("h_3")


def test_limits_are_inclusive() -> None:
    parse("x" + " " * (MAX_LENGTH - 1), X)
    parse("1" * MAX_NUMBER_DIGITS + "*x", X)
    parse("(" * 20 + "x" + ")" * 20, X)


def test_trees_are_hashable_values() -> None:
    assert hash(parse("exp(-x)", X)) == hash(parse(" exp( - x ) ", X))
    with pytest.raises(AttributeError):
        parse("x", X).id = "y"  # type: ignore[misc]


# -- errors ----------------------------------------------------------------------------------


def test_unknown_name() -> None:
    error = _error("x + z")
    assert "unknown name 'z'" in str(error)
    assert "known: x, y" in str(error)
    assert error.position == 4


def test_unknown_name_with_no_names_allowed() -> None:
    assert "known: none" in str(_error("x", frozenset()))


def test_function_name_alone_is_not_a_name() -> None:
    assert "unknown name 'exp'" in str(_error("exp + x"))


@pytest.mark.parametrize("text", ["foo(x)", "__import__(x)", "eval(x)", "Exp(x)"])
def test_unknown_function(text: str) -> None:
    error = _error(text)
    assert "unknown function" in str(error)
    assert "exp" in str(error) and "tanh" in str(error)  # lists the known ones
    assert error.position == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exp(x, y)", "exp() takes 1 argument(s), got 2"),
        ("max(x)", "max() takes 2 argument(s), got 1"),
        ("min(x, y, 1)", "min() takes 2 argument(s), got 3"),
    ],
)
def test_wrong_arity(text: str, message: str) -> None:
    assert message in str(_error(text))


def test_call_without_arguments() -> None:
    assert "found ')'" in str(_error("exp()"))


def test_too_long() -> None:
    error = _error("x" + " " * MAX_LENGTH)
    assert f"longer than {MAX_LENGTH} characters" in str(error)
    assert "longer than" in str(_error("x+" * MAX_LENGTH + "x"))


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 1) + "x",
        "exp(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
        "x^" * (MAX_DEPTH + 1) + "x",
        "(" * 1500,
        "-" * 1999 + "x",
    ],
)
def test_too_deep(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in str(_error(text))


@pytest.mark.parametrize("text", [f"x^{MAX_EXPONENT + 1}", f"x**-{MAX_EXPONENT + 1}", "x^1e9", "x^1e999", "2^100.5"])
def test_exponent_too_big(text: str) -> None:
    error = _error(text)
    assert f"larger than {MAX_EXPONENT}" in str(error)


@pytest.mark.parametrize("text", ["x^(x+1)", "x^exp(x)", "2^3^2"])
def test_exponent_must_be_a_number_or_a_name(text: str) -> None:
    assert "must be a number or a name" in str(_error(text))


def test_number_too_long() -> None:
    assert "number too long" in str(_error("1" * (MAX_NUMBER_DIGITS + 1)))


@pytest.mark.parametrize(("text", "position"), [("xé", 1), ("x + y²", 5), ("x\u00a0+ y", 1), ("σ(x)", 0), ("x − y", 2)])
def test_non_ascii(text: str, position: int) -> None:
    error = _error(text)
    assert "non-ASCII character" in str(error)
    assert error.position == position
    assert f"position {position + 1}" in str(error)


@pytest.mark.parametrize("text", ["", " ", "\t\n  "])
def test_empty(text: str) -> None:
    assert "empty formula" in str(_error(text))


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("x y", "unexpected 'y' at position 3", 2),
        ("x)", "unexpected ')' at position 2", 1),
        ("x,", "unexpected ',' at position 2", 1),
        ("(x))", "unexpected ')' at position 4", 3),
        ("2 x", "unexpected 'x'", 2),
    ],
)
def test_trailing_garbage(text: str, message: str, position: int) -> None:
    error = _error(text)
    assert message in str(error)
    assert error.position == position


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x**", "found the end of the formula"),
        ("x +", "found the end of the formula"),
        ("(x", "expected ')'"),
        ("exp(x", "expected ')'"),
        ("*x", "expected a number, a name or '('"),
        ("x + * y", "expected a number, a name or '('"),
        ("x.y", "unexpected character '.'"),
        ("x; y", "unexpected character ';'"),
        ("__import__('os')", "unexpected character"),
        ("x = 1", "unexpected character '='"),
        ("x[0]", "unexpected character '['"),
        ("x @ y", "unexpected character '@'"),
        ("lambda: x", "unexpected character ':'"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    assert message in str(_error(text))


@pytest.mark.parametrize("value", [None, 2, b"x", ["x"]])
def test_not_a_string(value: object) -> None:
    with pytest.raises(MathSyntaxError, match="must be a string"):
        parse(value, X)  # type: ignore[arg-type]


def test_worst_cases_are_quick() -> None:
    for text in [
        "(" * MAX_LENGTH,
        "x+" * (MAX_LENGTH // 2 - 1) + "x",
        "-" * (MAX_LENGTH - 1) + "x",
        "x" + "*x" * (MAX_LENGTH // 2 - 1),
        "exp(" * (MAX_LENGTH // 4),
        " " * MAX_LENGTH,
        "9" * MAX_LENGTH,
        "x^" * (MAX_LENGTH // 2 - 1) + "x",
    ]:
        start = time.process_time()
        try:
            parse(text, X)
        except MathSyntaxError:
            pass
        assert time.process_time() - start < 0.5, text[:20]  # CPU seconds: linear work, not a machine's speed


# -- property: any text either parses or raises MathSyntaxError ------------------------------

_FORMULA_ALPHABET = st.sampled_from(
    [
        "x",
        "y",
        "z",
        "1",
        "2.5",
        "1e3",
        ".",
        "e",
        "(",
        ")",
        "+",
        "-",
        "*",
        "**",
        "/",
        "^",
        ",",
        " ",
        "\t",
        "exp",
        "max",
        "ln",
        "_",
        "é",
        "\x00",
        "\x1c",
    ]
)


def _check_total(text: str, names: frozenset[str]) -> None:
    start = time.process_time()
    try:
        node = parse(text, names)
    except MathSyntaxError as error:
        assert isinstance(error.position, int)
        assert str(error)
    else:
        assert isinstance(node, (Num, Name, Neg, BinOp, Call))
    assert time.process_time() - start < 0.5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_parses_or_raises_math_syntax_error(text: str) -> None:
    _check_total(text, XY)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_FORMULA_ALPHABET, max_size=60).map("".join),
    st.frozensets(st.sampled_from(["x", "y", "y_out", "exp"]), max_size=3),
)
def test_formula_like_text_parses_or_raises_math_syntax_error(text: str, names: frozenset[str]) -> None:
    _check_total(text, names)


def test_each_parenthesis_is_one_nesting_level() -> None:
    from symbackprop.mathparse import MAX_DEPTH

    deep = "(" * (MAX_DEPTH - 2) + "x" + ")" * (MAX_DEPTH - 2)
    assert parse(deep, {"x"}) == Name("x")
    with pytest.raises(MathSyntaxError, match="nested deeper"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), {"x"})


def test_negative_exponent_message_keeps_its_sign() -> None:
    with pytest.raises(MathSyntaxError, match=r"exponent -65 at position 2"):
        parse("x^-65", {"x"})
