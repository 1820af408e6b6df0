"""Worked arithmetic: each entry of a forward value, the loss, a delta, a gradient and an update
written out with the numbers, as a student does by hand: s_1 = (-2)·2 + 3·3 = 5.

An entry's formula is its index form (symbackprop.forms.index) with the entry's indices put in;
its sums are written out term by term, in the order of the summation index, and every matrix
entry is replaced by its value. A function of an entry (f_1'(s_{1,1}), a step, an exponential)
shows its value. The result is the number the run computed, and the written-out numbers are
evaluated again here and must agree with it: an entry whose arithmetic does not check is not
shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
from sympy import Add, Expr, Float, Function, Integer, Max, Min, Mul, Piecewise, Pow, Rational, Sum, exp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.derive import N
from symbackprop.forms.index import EntryFunction, IndexForm, index_form
from symbackprop.matexpr import Elementwise
from symbackprop.notation import PLAIN, Spelling
from symbackprop.printing import to_latex
from symbackprop.render.numbers import number

#: A layer, the input or the batch larger than this gets no worked arithmetic.
MAX_UNITS = 4
MAX_SAMPLES = 4
#: Written-out numbers must give the computed value to this relative accuracy.
AGREEMENT = 1e-9


class Arithmetic:
    """Entries of matrix formulas written out with the numbers of `values` (matrix name -> array in
    the spec's orientation), `samples` being the batch size."""

    def __init__(self, values: Mapping[str, np.ndarray], samples: int, digits: int, names: Spelling = PLAIN) -> None:
        self.values = values
        self.samples = samples
        self.digits = digits
        self.names = names
        self._closed = False  # writing an activation's closed form: functions, e^x and 1/x as written

    # -- numbers ----------------------------------------------------------------------------

    def _element(self, expr: MatrixElement) -> float:
        return float(np.asarray(self.values[expr.parent.name])[int(expr.i), int(expr.j)])

    def value(self, expr: Expr) -> float:
        """The entry's value from the numbers (sums over their concrete ranges)."""
        expr = expr.replace(lambda e: isinstance(e, Sum), lambda e: Add(*self._terms(e)))
        elements = {e: Float(self._element(e), 30) for e in expr.atoms(MatrixElement)}
        return float(expr.xreplace(elements).xreplace({N: Integer(self.samples)}).doit())

    def _number(self, value: float) -> str:
        return number(value, self.digits)

    def _signed(self, value: float) -> str:
        """A number inside a product or after an operator: negative ones in brackets."""
        text = self._number(value)
        return f"({text})" if text.startswith("-") else text

    # -- writing out ------------------------------------------------------------------------

    def _terms(self, expr: Sum) -> list[Expr]:
        """A sum over concrete ranges, term by term in the order of its indices."""
        terms = [expr.function]
        for index, lower, upper in expr.limits:
            lower, upper = (int(bound.xreplace({N: Integer(self.samples)})) for bound in (lower, upper))
            terms = [term.xreplace({index: Integer(v)}) for term in terms for v in range(lower, upper + 1)]
        return terms

    def _joined(self, terms: list[Expr]) -> str:
        """Terms of a sum: positive ones first (y - t, as the formulas write it), a negative number
        after the first term in brackets."""
        terms = sorted(terms, key=lambda t: t.could_extract_minus_sign() and not t.is_number)
        out = ""
        for i, term in enumerate(terms):
            if i and term.could_extract_minus_sign() and not term.is_number:
                out += " - " + self._factor(-term)
            else:
                out += (" + " if i else "") + self._factor(term, lead=not i)
        return out

    def _factor(self, expr: Expr, lead: bool = False) -> str:
        """`expr` where it stands as a term or factor: a sum in brackets, a negative number in
        brackets unless it leads (`lead`) and stands alone."""
        text = self.written(expr)
        if isinstance(expr, (Add, Sum)) and not lead:
            return "(" + text + ")"
        if text.startswith("-") and (not lead or not (expr.is_number or isinstance(expr, MatrixElement))):
            return "(" + text + ")" if not isinstance(expr, Mul) else text
        return text

    def written(self, expr: Expr, top: bool = False) -> str:
        """The arithmetic of `expr`: its numbers in place of its matrix entries (`top`: the whole
        formula, where a function of an entry is shown applied rather than as its value)."""
        if isinstance(expr, MatrixElement):
            return self._number(self._element(expr))
        if isinstance(expr, Sum):
            return self._joined(self._terms(expr))
        if isinstance(expr, Add):
            return self._joined(list(expr.as_ordered_terms()))
        if isinstance(expr, Mul):
            coeff, rest = expr.as_coeff_Mul()
            factors = list(Mul.make_args(rest))
            head = ""
            if coeff == -1:
                head = "-"
            elif isinstance(coeff, Rational) and not coeff.is_Integer:
                factors.insert(0, coeff)
            elif coeff != 1:
                factors.insert(0, coeff)
            if len(factors) == 1:
                return head + self._factor(factors[0], lead=not head)
            return head + r" \cdot ".join(self._factor(f) for f in factors)
        if isinstance(expr, Pow) and self._closed and expr.exp == -1:
            return r"\frac{1}{" + self.written(expr.base) + "}"
        if isinstance(expr, exp) and self._closed:
            return "e^{" + self.written(expr.args[0]) + "}"
        if isinstance(expr, Pow):
            base = self.written(expr.base)
            if isinstance(expr.base, (Add, Mul, Pow, Sum)) or base.startswith("-"):
                base = "(" + base + ")"
            return base + "^{" + to_latex(expr.exp) + "}"
        if isinstance(expr, Rational) and not expr.is_Integer:
            return (
                r"\frac{" + str(abs(expr.p)) + "}{" + str(expr.q) + "}"
                if expr.p > 0
                else r"-\frac{" + str(-expr.p) + "}{" + str(expr.q) + "}"
            )
        if expr.is_number:
            return self._number(float(expr))
        if isinstance(expr, (Max, Min)):  # a hinge: max(0, margin - ...)
            name = r"\max" if isinstance(expr, Max) else r"\min"
            return name + "(" + ", ".join(self._factor(a, lead=True) for a in expr.args) + ")"
        if isinstance(expr, Piecewise) and self._closed and top:  # the branch that holds, as a student picks it
            for branch, condition in expr.args:
                values = {e: Float(self._element(e), 30) for e in condition.atoms(MatrixElement)}
                if bool(condition.xreplace(values)):
                    return self.written(branch, top=True)
        if isinstance(expr, Function) and self._closed and top and len(expr.args) == 1:
            return _function_latex(expr) + "(" + self.written(expr.args[0]) + ")"
        if isinstance(expr, EntryFunction) and top:
            arguments = ", ".join(self.written(a) for a in expr.args[3:])
            return self.names.function_latex(expr.label) + "'" * expr.order + "(" + arguments + ")"
        if isinstance(expr, (EntryFunction, Function, Piecewise)):
            return self._number(self.value(expr))
        raise TypeError(f"no worked arithmetic for {type(expr).__name__}")

    def entries(self, expr: Expr, expected: np.ndarray, symbol: Callable[[tuple[int, ...]], str]) -> list[str]:
        """Every entry of the matrix `expr` as `symbol(entry) = arithmetic = value`; an empty list
        when an entry's written-out numbers do not give its value in `expected`."""
        indexed = index_form(expr, ("i", "j"))
        shape = tuple(self.samples if dim == N else int(dim) for dim in expr.shape)
        out = []
        for position in np.ndindex(shape):
            line = self.line(symbol(position), self._at(indexed, position, expr.shape), float(expected[position]))
            if line is None:
                return []
            out.append(line)
        return out

    def applied(self, expr: Elementwise, expected: np.ndarray, symbol: Callable[[tuple[int, ...]], str]) -> list[str]:
        """An activation entry by entry, its closed form with the entry's numbers in place
        (`a_1 = 5^{2} = 25`, `\tanh(0.28) = 0.2729`); an empty list where the form shows nothing
        beyond the value (the identity, a function without a formula) or does not give `expected`."""
        shape = tuple(self.samples if dim == N else int(dim) for dim in expr.shape)
        self._closed = True
        try:
            out, worked = [], False
            for position in np.ndindex(shape):
                entry = expr.function(*(m[position] for m in expr.mats))
                if not entry.atoms(MatrixElement) or entry.atoms(AppliedUndef):
                    return []
                line = self.line(symbol(position), entry, float(expected[position]))
                if line is None:
                    return []
                worked = worked or line.count(" = ") > 1  # more than the value itself
                out.append(line)
            return out if worked else []
        finally:
            self._closed = False

    def _at(self, indexed: IndexForm, position: tuple[int, ...], shape: tuple) -> Expr:
        free = iter(indexed.indices)
        replacements = {next(free): Integer(p) for p, dim in zip(position, shape, strict=True) if dim != 1}
        return indexed.expr.xreplace(replacements)

    def line(self, symbol: str, entry: Expr, expected: float) -> str | None:
        """`symbol = arithmetic = value`, or None when the arithmetic does not give `expected`."""
        entry = entry.xreplace({N: Integer(self.samples)})  # a mean's 1/N is the batch's size
        value = self.value(entry)
        if not _close(value, expected):
            return None
        written = self.written(entry, top=True)
        result = self._number(value)
        return f"{symbol} = {written}" + ("" if written == result else f" = {result}")

    def update(self, symbol: str, old: float, rate: float, gradient: float, new: float) -> str | None:
        """`W_{1,1} \\leftarrow -2 - 0.01 \\cdot (-160) = -0.4`: one entry of a gradient-descent step."""
        if not _close(old - rate * gradient, new):
            return None
        return (
            f"{symbol} \\leftarrow {self._number(old)} - {rate:g} \\cdot {self._signed(gradient)} = {self._number(new)}"
        )


def _function_latex(expr: Function) -> str:
    """\\tanh, \\log, ... for a function SymPy's LaTeX printer writes as a command; else its name upright."""
    name = type(expr).__name__
    return "\\" + name if name in _COMMANDS else r"\operatorname{" + name + "}"


#: Functions LaTeX writes as a command of their own name.
_COMMANDS = {"tanh", "sinh", "cosh", "log", "sin", "cos", "tan", "exp"}


def _close(value: float, expected: float) -> bool:
    if not (math.isfinite(value) and math.isfinite(expected)):
        return False
    return abs(value - expected) <= AGREEMENT * max(1.0, abs(expected))


def is_small(sizes: list[int], samples: int) -> bool:
    """Small enough to work every entry by hand: at most MAX_UNITS per layer (and input), at most
    MAX_SAMPLES samples."""
    return max(sizes) <= MAX_UNITS and samples <= MAX_SAMPLES
