"""The values an answer's parts resolve to: a matrix expression, a scalar (a number or one entry
in index notation), a matrix written out, a function, or a derivative; and the builders that
keep long sums and products flat."""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr, Integer, Symbol
from sympy.matrices.expressions import MatMul, MatrixExpr

from symbackprop.spec.model import Activation
from symbackprop.verify.chain import Chain
from symbackprop.verify.names import LayerInfo


class ShapeProblem(Exception):
    """A readable answer whose sizes do not fit: the message is feedback for the student. `fixes` are
    repairs of the part between `span` (start, end) that make its sizes fit (a transpose, another
    order), for the grader to propose only where the repaired answer is right."""

    def __init__(
        self,
        message: str,
        fixes: tuple[Mat, ...] = (),
        span: tuple[int, int] | None = None,
        spans: tuple[tuple[int, int], ...] | None = None,
    ) -> None:
        super().__init__(message)
        self.fixes = fixes
        self.span = span
        #: the span each fix replaces, when they differ (a transposed factor inside a ⊙'s operand)
        self.spans = spans if spans is not None else tuple(span for _ in fixes) if span is not None else ()


@dataclass(frozen=True)
class Mat:
    expr: MatrixExpr
    text: str


@dataclass(frozen=True)
class Scalar:
    """A number, or one entry of a matrix formula written with indices (index notation)."""

    expr: Expr
    text: str


@dataclass(frozen=True)
class Explicit:
    """A matrix written out entry by entry (\\begin{bmatrix} .. \\end{bmatrix})."""

    cells: tuple[tuple[Expr, ...], ...]
    text: str


@dataclass(frozen=True)
class Func:
    """A function an answer calls: a layer's activation (`layer`), a named activation (`activation`)
    or a math function (`math`); `order` 1 is its derivative."""

    text: str
    label: str
    order: int
    layer: LayerInfo | None = None
    activation: Activation | None = None
    math: str | None = None
    bare: bool = False  # plain `f`: the layer comes from the argument


@dataclass(frozen=True)
class PartialRef:
    """d(top)/d(bottom), written with \\frac{\\partial ..}{\\partial ..} or d../d..;
    `entry` holds the indices of an entry written on the bottom (dL/dW_{ji})."""

    top: str
    bottom: str
    text: str
    entry: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Diagonal:
    """diag(v), the diagonal matrix of v's entries: it only multiplies (diag(f'(s)) v = f'(s) ⊙ v). `then` holds
    the factors after it while their product is not yet v's size (diag(f'(s_1)) W_2^T delta_2)."""

    expr: MatrixExpr
    text: str
    then: MatrixExpr | None = None


@dataclass(frozen=True)
class Jacobian:
    """A per-sample Jacobian (dp/ds = diag(p) - p p^T): a matrix formula read in the names of one sample (p a
    column), computed for each sample of a point in turn."""

    expr: MatrixExpr
    text: str


Value = Mat | Scalar | Explicit | Func | PartialRef | Chain | Diagonal | Jacobian


def shape_text(shape: tuple) -> str:
    return "x".join(str(dim) for dim in shape)


def flat(kind: type[MatrixExpr], left: MatrixExpr, right: MatrixExpr) -> MatrixExpr:
    """a + b + c as one sum (one Hadamard product), not nested pairs: long answers stay shallow."""
    return kind(
        *(left.args if isinstance(left, kind) else (left,)), *(right.args if isinstance(right, kind) else (right,))
    )


def matmul(left: MatrixExpr, right: MatrixExpr) -> MatrixExpr:
    """A product of products as one product, its scalar factors in front."""
    coeff = Integer(1)
    factors: list[MatrixExpr] = []
    for part in (left, right):
        c, mats = part.as_coeff_matrices() if isinstance(part, MatMul) else (Integer(1), [part])
        coeff, factors = coeff * c, factors + list(mats)
    return MatMul(coeff, *factors) if coeff != 1 else MatMul(*factors)


def index_symbol(name: str) -> Symbol:
    return Symbol(name, integer=True)


def split_indices(label: str) -> list[str]:
    """ "n,i" -> [n, i]; "ji" -> [j, i]; "(1,1)" -> [1, 1]; "11" -> [1, 1]."""
    label = label.strip("()")
    if "," in label:
        return [part for part in label.split(",") if part]
    return list(label)
