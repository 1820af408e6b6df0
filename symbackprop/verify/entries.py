"""Numbers for answers in index notation: a scalar formula of matrix entries, indices and sums.

Each index letter gets an array axis, so `sum_k W_2[k,j] delta_2[k,n]` is computed for every
j and n at once by broadcasting, never entry by entry in Python. Only the node types the
resolver builds are known here; anything else is an error, not a guess.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sympy import (
    Abs,
    Add,
    Basic,
    Expr,
    Float,
    Heaviside,
    Integer,
    KroneckerDelta,
    Max,
    Min,
    Mul,
    Piecewise,
    Pow,
    Rational,
    Sum,
    Symbol,
    cos,
    cosh,
    exp,
    log,
    sech,
    sign,
    sin,
    sinh,
    tanh,
)
from sympy.core.relational import Relational
from sympy.logic.boolalg import And, BooleanFalse, BooleanTrue, Not, Or
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.derive import N
from symbackprop.forms.index import EntryFunction
from symbackprop.verify import sizes
from symbackprop.verify.lexer import AnswerSyntaxError

Axes = tuple[Symbol, ...]
_UNARY: dict[Any, Callable[..., Any]] = {
    exp: np.exp,
    log: np.log,
    tanh: np.tanh,
    Abs: np.abs,
    sin: np.sin,
    cos: np.cos,
    sinh: np.sinh,
    cosh: np.cosh,
    sech: lambda v: 1 / np.cosh(v),
    sign: np.sign,
}
_RELATIONS = {
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class EntryEvaluator:
    """Values of index-notation formulas at one point, as arrays with one axis per free index."""

    def __init__(
        self, point: Mapping[str, np.ndarray], n_samples: int, sizes: Mapping[Symbol, int] | None = None
    ) -> None:
        self.point = point
        self.n_samples = n_samples
        #: how many values each free index letter takes (for a Kronecker bracket [j = k], whose letters count
        #: the units of what else they index); a summed letter's comes from its sum
        self.sizes = dict(sizes or {})

    def __call__(self, expr: Expr, order: Axes) -> np.ndarray:
        """The value of `expr` with its free indices as axes in `order`."""
        with np.errstate(all="ignore"):
            value, axes = self.value(expr, {})
            return self.arrange(value, axes, order)

    @staticmethod
    def arrange(value: np.ndarray, axes: Axes, order: Axes) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        missing = [axis for axis in axes if axis not in order]
        if missing:
            raise ValueError(f"free index {missing[0]} has no place")
        value = np.transpose(value, [axes.index(axis) for axis in order if axis in axes]) if axes else value
        return value.reshape(
            [value.shape[[a for a in order if a in axes].index(axis)] if axis in axes else 1 for axis in order]
        )

    def combine(self, parts: list[tuple[np.ndarray, Axes]]) -> tuple[list[np.ndarray], Axes]:
        axes: list[Symbol] = []
        for _, part_axes in parts:
            axes += [axis for axis in part_axes if axis not in axes]
        order = tuple(axes)
        arranged = [self.arrange(value, part_axes, order) for value, part_axes in parts]
        sizes.check_broadcast([value.shape for value in arranged])
        return arranged, order

    def value(self, expr: Basic, bound: dict[Symbol, tuple[np.ndarray, Axes]]) -> tuple[np.ndarray, Axes]:
        if isinstance(expr, (Integer, Rational, Float)):
            return np.asarray(float(expr)), ()
        if isinstance(expr, Symbol):
            if expr in bound:
                return bound[expr]
            if expr == N:
                return np.asarray(float(self.n_samples)), ()
            raise ValueError(f"the index {expr} is used as a number")
        if isinstance(expr, MatrixElement):
            return self.element(expr)
        if isinstance(expr, (Add, Mul)):
            values, axes = self.combine([self.value(arg, bound) for arg in expr.args])
            result = values[0]
            for other in values[1:]:
                result = result + other if isinstance(expr, Add) else result * other
            return result, axes
        if isinstance(expr, Pow):
            (base, power), axes = self.combine([self.value(expr.base, bound), self.value(expr.exp, bound)])
            return base**power, axes
        if isinstance(expr, Sum):
            return self.total(expr, bound)
        if isinstance(expr, EntryFunction):
            function = expr.args[2]
            arguments = dict(zip(function.variables, (self.value(a, bound) for a in expr.args[3:]), strict=True))
            return self.value(function.expr, {**bound, **arguments})
        if isinstance(expr, (Max, Min)):
            values, axes = self.combine([self.value(arg, bound) for arg in expr.args])
            fold = np.maximum if isinstance(expr, Max) else np.minimum
            result = values[0]
            for other in values[1:]:
                result = fold(result, other)
            return result, axes
        if isinstance(expr, Piecewise):
            return self.piecewise(expr, bound)
        if isinstance(expr, Relational):
            (left, right), axes = self.combine([self.value(expr.lhs, bound), self.value(expr.rhs, bound)])
            return _RELATIONS[expr.rel_op](left, right).astype(np.float64), axes
        if isinstance(expr, Heaviside):  # the step, relu' of an entry in a custom activation's derivative
            value, axes = self.value(expr.args[0], bound)
            at_zero = float(expr.args[1]) if len(expr.args) > 1 else 0.5
            return np.heaviside(value, at_zero), axes
        if isinstance(expr, (And, Or)):  # a sum folds the conditions of the Piecewise terms in it together
            values, axes = self.combine([self.value(arg, bound) for arg in expr.args])
            logical = np.logical_and if isinstance(expr, And) else np.logical_or
            result = values[0] != 0
            for other in values[1:]:
                result = logical(result, other != 0)
            return result.astype(np.float64), axes
        if isinstance(expr, Not):
            value, axes = self.value(expr.args[0], bound)
            return (value == 0).astype(np.float64), axes
        if isinstance(expr, KroneckerDelta):
            return self.kronecker(expr)
        if isinstance(expr, (BooleanTrue, BooleanFalse)):
            return np.asarray(float(bool(expr))), ()
        function = _UNARY.get(type(expr))
        if function is not None:
            value, axes = self.value(expr.args[0], bound)
            return function(value), axes
        raise ValueError(f"cannot compute {type(expr).__name__} entry by entry")

    def element(self, expr: MatrixElement) -> tuple[np.ndarray, Axes]:
        array = np.asarray(self.point[expr.parent.name], dtype=np.float64)
        axes: list[Symbol] = []
        picks: list[slice | int] = []
        for index in (expr.i, expr.j):
            if isinstance(index, Symbol):
                picks.append(slice(None))
                axes.append(index)
            else:
                picks.append(int(index))
        value = array[tuple(picks)]
        if len(axes) == 2 and axes[0] == axes[1]:
            return np.diagonal(value).copy(), (axes[0],)
        return value, tuple(axes)

    def kronecker(self, expr: KroneckerDelta) -> tuple[np.ndarray, Axes]:
        """[j = k]: 1 where the two indices are equal, an axis for each letter (0-based numbers stay numbers)."""
        parts: list[tuple[np.ndarray, Axes]] = []
        for index in expr.args:
            if index.is_Integer:
                parts.append((np.asarray(int(index)), ()))
            elif isinstance(index, Symbol) and index in self.sizes:
                parts.append((np.arange(self.sizes[index]), (index,)))
            else:
                raise ValueError(f"the index {index} of [{expr.args[0]} = {expr.args[1]}] counts nothing")
        (first, second), axes = self.combine(parts)
        return np.equal(first, second).astype(np.float64), axes

    def total(self, expr: Sum, bound: dict[Symbol, tuple[np.ndarray, Axes]]) -> tuple[np.ndarray, Axes]:
        """Sums of a product as one einsum, contracted pairwise in an order that never builds the whole
        product (four nested sums over a 225 x 75 network stay small); its work bounded first."""
        indices: list[Symbol] = []
        body: Basic = expr
        while isinstance(body, Sum):
            indices += [index for index, _, _ in body.limits]
            for index, low, high in body.limits:
                if (high - low).is_Integer:
                    self.sizes[index] = int(high - low) + 1
            body = body.function
        parts = [self.value(factor, bound) for factor in (body.args if isinstance(body, Mul) else (body,))]
        letters: dict[Symbol, str] = {}
        for _, axes in parts:
            for axis in axes:
                if axis not in letters and len(letters) == len(string.ascii_letters):
                    raise AnswerSyntaxError(f"more than {len(letters)} indices in one sum", 0)
                letters.setdefault(axis, string.ascii_letters[len(letters)])
        kept = tuple(axis for axis in letters if axis not in indices)
        subscripts = (
            ",".join("".join(letters[axis] for axis in axes) for _, axes in parts)
            + "->"
            + "".join(letters[axis] for axis in kept)
        )
        arrays = [np.asarray(value, dtype=np.float64) for value, _ in parts]
        return np.einsum(subscripts, *arrays, optimize=sizes.check_contraction(subscripts, arrays)), kept

    def piecewise(self, expr: Piecewise, bound: dict[Symbol, tuple[np.ndarray, Axes]]) -> tuple[np.ndarray, Axes]:
        parts = []
        for piece in expr.args:
            parts += [self.value(piece.expr, bound), self.value(piece.cond, bound)]
        values, axes = self.combine(parts)
        result = values[-2]
        for k in range(len(values) - 4, -1, -2):
            result = np.where(values[k + 1] != 0, values[k], result)
        return result, axes
