"""Turn a parsed user formula (mathparse tree) into a SymPy expression, with no eval."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from sympy import Abs, Expr, Max, Min, Rational, S, Symbol, cos, cosh, exp, log, sin, sinh, sqrt, tanh

from symbackprop.mathparse import Call, Name, Neg, Node, Num
from symbackprop.spec.errors import SpecError, quote
from symbackprop.spec.model import Activation, Loss, NetworkSpec

#: A constant of a formula must lie within float64's range (1.8e308), with margin, to be computed.
MAX_MAGNITUDE = 300


def sigmoid(arg: Expr) -> Expr:
    return 1 / (1 + exp(-arg))


def relu(arg: Expr) -> Expr:
    return Max(0, arg)


_FUNCTIONS: dict[str, Callable[..., Expr]] = {
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": Abs,
    "tanh": tanh,
    "sinh": sinh,
    "cosh": cosh,
    "sin": sin,
    "cos": cos,
    "sigmoid": sigmoid,
    "relu": relu,
    "max": Max,
    "min": Min,
}


def formula_tree(owner: Activation | Loss) -> Node:
    """The parsed formula of an `expr` activation or loss (the loader sets it for that kind)."""
    if owner.expr is None:
        raise ValueError(f"a {owner.kind} {type(owner).__name__.lower()} has no formula")
    return owner.expr


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


def formula_problem(expr: Expr, variable: Symbol) -> str | None:
    """Why a formula (or its derivative) cannot be computed anywhere, if so: it is undefined
    everywhere (x/(x-x), log(x-x)), or it holds a constant beyond float64's range (x*1e308*1e308)."""
    for form, what in ((expr, ""), (expr.diff(variable), "its derivative ")):
        if form.has(S.ComplexInfinity, S.NaN, S.Infinity, S.NegativeInfinity):
            return f"{what}is undefined for every value (a division by zero or a log of 0)"
        for number in form.atoms(Rational):
            exponent = math.log10(abs(int(number.p))) - math.log10(int(number.q)) if number != 0 else 0.0
            if abs(exponent) > MAX_MAGNITUDE:
                return f"{what}holds the number 1e{exponent:+.0f}, beyond what float64 holds (1e-308 to 1e+308)"
    return None


def check_formulas(spec: NetworkSpec) -> None:
    """Raise SpecError (key and line) for an expr activation or loss that formula_problem refuses."""
    x = Symbol("x")
    formulas = [
        (f"layers[{index}].activation.expr", formula_tree(layer.activation), layer.activation.source, {"x": x}, x)
        for index, layer in enumerate(spec.layers)
        if layer.activation.kind == "expr"
    ]
    if spec.loss.kind == "expr":
        output, target = Symbol(spec.output), Symbol(spec.target.name)
        formulas.append(
            (
                "loss.expr",
                formula_tree(spec.loss),
                spec.loss.source,
                {spec.output: output, spec.target.name: target},
                output,
            )
        )
    for key, tree, source, symbols, variable in formulas:
        problem = formula_problem(to_sympy(tree, symbols), variable)
        if problem:
            raise SpecError(
                f"the formula {quote(source)} {problem}", key=key, line=spec.lines.get(key), source=spec.source
            )
