"""The index form: a matrix formula written entry by entry, with explicit sums over units
and samples (dL/dW_{ji} = sum_n delta_{j,n} z_{i,n}), kept compact as SymPy Sums of
matrix elements, never expanded entry by entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sympy import Add, Expr, Function, Heaviside, Integer, Mul, Sum, Symbol, exp
from sympy.core.symbol import Str
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
)

from symbackprop.derive import N
from symbackprop.matexpr import Elementwise, Indicator, Softmax

#: Names for summation indices over units, tried in order; samples use n, then m.
UNIT_INDICES = ("k", "l", "p", "q", "r", "u", "v")
SAMPLE_INDICES = ("n", "m", "t")


def index_symbol(name: str) -> Symbol:
    return Symbol(name, integer=True)


class EntryFunction(Function):
    """f_1'(s_{1,jn}): a layer's activation (or its derivative) applied to one entry.
    args: (label, order, fn, entry...); `doit` applies fn."""

    @classmethod
    def eval(cls, *args: Any) -> None:  # SymPy's protocol: None leaves the call unevaluated
        return None

    @property
    def label(self) -> str:
        return self.args[0].name

    @property
    def order(self) -> int:
        return int(self.args[1])

    def doit(self, **hints: Any) -> Expr:
        entries = [arg.doit(**hints) for arg in self.args[3:]]
        return self.args[2](*entries)


@dataclass(frozen=True)
class IndexForm:
    """An entry of a matrix formula: lhs indices, their ranges, and the scalar right side."""

    expr: Expr
    indices: tuple[Symbol, ...]  # the free indices of the left side, row first
    ranges: tuple[Expr, ...]  # their upper bounds (indices count from 1)

    @property
    def bounds(self) -> list[tuple[Symbol, Expr]]:
        """(index, upper bound) pairs, in the order of the left side."""
        return list(zip(self.indices, self.ranges, strict=True))


class _Indexer:
    def __init__(self, free: tuple[Symbol, ...], expr: Expr | None = None) -> None:
        self.used = {s.name for s in free}
        self.ranges: dict[str, Expr] = {}  # a closed sum's index, reused only over the same range
        #: names an index must never take: the matrices of the expression (an output named p)
        self.taken = {m.name for m in expr.atoms(MatrixSymbol)} if expr is not None else set()

    def fresh(self, dim: Expr) -> Symbol:
        pool = SAMPLE_INDICES if dim == N else UNIT_INDICES
        names = [*pool, *(f"{pool[0]}{i}" for i in range(1, 10_000))]
        name = next(n for n in names if n not in self.used and n not in self.taken and self.ranges.get(n, dim) == dim)
        self.used.add(name)
        self.ranges[name] = dim
        return index_symbol(name)

    def entry(self, expr: Expr, i: Expr, j: Expr) -> Expr:
        """Entry (i, j) of a matrix expression, as a scalar expression."""
        if isinstance(expr, MatrixSymbol):
            return expr[i, j]
        if isinstance(expr, Transpose):
            return self.entry(expr.arg, j, i)
        if isinstance(expr, MatAdd):
            return Add(*(self.entry(term, i, j) for term in expr.args))
        if isinstance(expr, HadamardProduct):
            return Mul(*(self.entry(factor, i, j) for factor in expr.args))
        if isinstance(expr, HadamardPower):
            return self.entry(expr.base, i, j) ** expr.exp
        if isinstance(expr, OneMatrix):
            return Integer(1)
        if isinstance(expr, MatMul):
            return self._product(expr, i, j)
        if isinstance(expr, Elementwise):
            entries = [self.entry(m, i, j) for m in expr.mats]
            if not expr.label:
                return expr.function(*entries)
            return EntryFunction(Str(expr.label), Integer(expr.order), expr.function, *entries)
        if isinstance(expr, Softmax):
            k = self.fresh(expr.shape[expr.axis])
            other = (k, j) if expr.axis == 0 else (i, k)
            total = Sum(exp(self.entry(expr.arg, *other)), (k, 0, expr.shape[expr.axis] - 1))
            self.used.discard(k.name)
            return exp(self.entry(expr.arg, i, j)) / total
        if isinstance(expr, Indicator):  # [u > 0] as Heaviside(u, 0), which a sum leaves alone (a Piecewise it folds)
            entry = self.entry(expr.arg, i, j)
            return Heaviside(entry, 0) if expr.strict else 1 - Heaviside(entry, 0)
        raise TypeError(f"no index form for {type(expr).__name__}")

    def _product(self, expr: MatMul, i: Expr, j: Expr) -> Expr:
        coeff, factors = expr.as_coeff_matrices()
        if len(factors) == 1:
            return coeff * self.entry(factors[0], i, j)
        left, right = factors[0], MatMul(*factors[1:]) if len(factors) > 2 else factors[1]
        inner = left.shape[1]
        if inner == 1:
            return coeff * self.entry(left, i, Integer(0)) * self.entry(right, Integer(0), j)
        k = self.fresh(inner)
        total = Sum(self.entry(left, i, k) * self.entry(right, k, j), (k, 0, inner - 1))
        self.used.discard(k.name)  # a sum's index is free again once the sum is closed
        return coeff * total


def index_form(expr: Expr, names: tuple[str, str]) -> IndexForm:
    """The (row, col) entry of `expr`, with `names` for the free indices. A dimension of
    size 1 carries no index (a bias is b_j, not b_{j1}); printers leave it out too."""
    shape = expr.shape
    free = tuple(index_symbol(name) for name, dim in zip(names, shape, strict=True) if dim != 1)
    indices = iter(free)
    row, col = (next(indices) if dim != 1 else Integer(0) for dim in shape)
    ranges = tuple(dim for dim in shape if dim != 1)
    return IndexForm(_Indexer(free, expr).entry(expr, row, col), free, ranges)


def entry_form(expr: Expr, entry: tuple[Expr, Expr], free: set[str] | None = None) -> Expr:
    """Entry `entry` (row, column: 0-based numbers or index symbols) of `expr` as a scalar expression;
    summation indices avoid the names in `free`."""
    indexer = _Indexer((), expr)
    indexer.used |= set(free or ())
    return indexer.entry(expr, *entry)
