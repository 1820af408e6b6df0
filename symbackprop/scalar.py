"""Turn a parsed user formula (mathparse tree) into a SymPy expression, with no eval."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sympy import Abs, Expr, Max, Min, Rational, Symbol, cos, cosh, exp, log, sin, sinh, sqrt, tanh

from symbackprop.mathparse import Call, Name, Neg, Node, Num


def sigmoid(arg: Expr) -> Expr:
    return 1 / (1 + exp(-arg))


def relu(arg: Expr) -> Expr:
    return Max(0, arg)


_FUNCTIONS: dict[str, Callable[..., Expr]] = {
    "exp": exp, "log": log, "sqrt": sqrt, "abs": Abs, "tanh": tanh, "sinh": sinh, "cosh": cosh,
    "sin": sin, "cos": cos, "sigmoid": sigmoid, "relu": relu, "max": Max, "min": Min,
}


def to_sympy(node: Node, symbols: Mapping[str, Symbol]) -> Expr:
    """Build the SymPy expression of `node`; names resolve through `symbols` only."""
    if isinstance(node, Num):
        return Rational(node.text)
    if isinstance(node, Name):
        return symbols[node.id]
    if isinstance(node, Neg):
        return -to_sympy(node.operand, symbols)
    if isinstance(node, Call):
        return _FUNCTIONS[node.func](*(to_sympy(arg, symbols) for arg in node.args))
    left, right = to_sympy(node.left, symbols), to_sympy(node.right, symbols)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right
    return left**right
