"""Matrix expressions SymPy lacks: an entrywise function (f(S), f'(S), or a formula in
several same-shaped matrices), a softmax over one axis, and the sum of all entries."""

from __future__ import annotations

from sympy import Basic, Expr, Integer, Lambda, Piecewise, exp, false, true
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr, OneMatrix


class Elementwise(MatrixExpr):
    """`fn` applied entry by entry to same-shaped matrices.

    `label` names the function for printing ("f_1", "\\tanh"); `order` 1 marks it as the
    derivative of that function, so printers write f_1'(s_1). An empty label means the
    formula itself is printed with the matrices in place of its variables.
    """

    def __new__(cls, label: str | Str, order: int | Integer, fn: Lambda, *mats: MatrixExpr) -> Elementwise:
        label = label if isinstance(label, Str) else Str(label)
        if len(fn.variables) != len(mats) or not mats:
            raise ValueError("Elementwise: the function takes one variable per matrix")
        shapes = {m.shape for m in mats}
        if len(shapes) != 1:
            raise ValueError(f"Elementwise: matrices of different shapes {sorted(map(str, shapes))}")
        return Basic.__new__(cls, label, Integer(order), fn, *mats)

    @property
    def label(self) -> str:
        return self.args[0].name

    @property
    def order(self) -> int:
        return int(self.args[1])

    @property
    def function(self) -> Lambda:
        return self.args[2]

    @property
    def mats(self) -> tuple[MatrixExpr, ...]:
        return self.args[3:]

    @property
    def shape(self) -> tuple:
        return self.mats[0].shape

    def _entry(self, i, j, **kwargs):  # noqa: ANN001 - SymPy's protocol
        return self.function(*(m._entry(i, j, **kwargs) for m in self.mats))


class AxisMatrixExpr(MatrixExpr):
    """A matrix expression of one argument and the axis its samples run along (0: each column is a
    sample, 1: each row is): softmax, log-softmax, a per-sample diag."""

    def __new__(cls, arg: MatrixExpr, axis: int | Integer) -> AxisMatrixExpr:
        return Basic.__new__(cls, arg, Integer(axis))

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])


class Softmax(AxisMatrixExpr):
    """softmax over axis 0 (each column is one sample) or axis 1 (each row is one sample)."""

    @property
    def shape(self) -> tuple:
        return self.arg.shape

    def _entry(self, i, j, **kwargs):  # noqa: ANN001 - SymPy's protocol
        rows, cols = self.shape
        if self.axis == 0:
            total = sum(exp(self.arg._entry(k, j, **kwargs)) for k in range(rows))
        else:
            total = sum(exp(self.arg._entry(i, k, **kwargs)) for k in range(cols))
        return exp(self.arg._entry(i, j, **kwargs)) / total


class EntrySum(Expr):
    """The scalar sum of every entry of a matrix: how a loss adds over units and samples."""

    def __new__(cls, arg: MatrixExpr) -> EntrySum:
        return Expr.__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    def doit(self, **hints):  # noqa: ANN003
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        rows, cols = arg.shape
        if isinstance(rows, (int, Integer)) and isinstance(cols, (int, Integer)):
            return sum((arg._entry(i, j) for i in range(rows) for j in range(cols)), Integer(0))
        return EntrySum(arg)


class Ones(OneMatrix):
    """The all-ones matrix of another matrix's shape, as in 1 - z ⊙ z (printed as a plain 1),
    unlike OneMatrix's broadcast vectors 1_N."""


class Indicator(MatrixExpr):
    """[s > 0] entry by entry (1 where it holds, else 0): relu' in closed form.
    `strict` False gives [s <= 0], the other side of the kink."""

    def __new__(cls, arg: MatrixExpr, strict: bool = True) -> Indicator:
        return Basic.__new__(cls, arg, true if strict else false)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def strict(self) -> bool:
        return bool(self.args[1])

    @property
    def shape(self) -> tuple:
        return self.arg.shape

    def _entry(self, i, j, **kwargs):  # noqa: ANN001 - SymPy's protocol
        entry = self.arg._entry(i, j, **kwargs)
        return Piecewise((1, entry > 0), (0, True)) if self.strict else Piecewise((1, entry <= 0), (0, True))


class Diag(AxisMatrixExpr):
    """diag(v): the diagonal matrix of one sample's entries of v (a column of v when samples are columns,
    axis 0; a row when they are rows, axis 1), as a per-sample Jacobian writes it: diag(f'(s_2))."""

    @property
    def shape(self) -> tuple:
        units = self.arg.shape[self.axis]
        return (units, units)
