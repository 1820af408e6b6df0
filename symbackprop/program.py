"""The backward pass as a program of array assignments, the same for every backend.

A derivation holds matrix expressions; code works on arrays. This module translates the
forward equations, the loss, the deltas and the gradients once into assignments whose
right-hand sides are ordinary SymPy expressions over array variables (`Array` symbols):
entrywise arithmetic and functions stay SymPy's own Add, Mul, Pow, tanh, Piecewise, ...,
so that `sympy.cse` sees through an entrywise formula (the loss's `y_out - y` is the delta's
`y_out - y`), and what is not entrywise becomes one of the `ArrayOp` functions below (a
matrix product, a transpose, a sum over one axis, a softmax, a gather). Each backend's
printer (symbackprop/backends/) prints the same program, so they share its common
subexpressions and its numeric rewrites:

* f'(s_k) through z_k where the activation allows it (tanh' = 1 - z^2);
* a loss that takes the log of a softmax output takes log-softmax instead, and the output
  delta is fused (y_out * sum(y) - y, which is y_out - y for targets that sum to 1), so
  saturated logits give finite numbers (`stable_output`);
* a product with a ones matrix is a broadcast or a sum over one axis;
* a product with a fixed 0/1 selection matrix is a gather (or a scatter), when the caller
  says which fixed matrices are selections (`selection_index`).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sympy import (
    Abs,
    Basic,
    Dummy,
    Expr,
    Function,
    Heaviside,
    Integer,
    Lambda,
    Max,
    Min,
    Number,
    NumberSymbol,
    Piecewise,
    Symbol,
    Tuple,
    cancel,
    cse,
    expand_log,
    log,
    preorder_traversal,
    sign,
)
from sympy.core.function import AppliedUndef
from sympy.core.parameters import distribute
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)

from symbackprop import rules
from symbackprop.derive import Backprop, N
from symbackprop.graph import BATCH
from symbackprop.matexpr import AxisMatrixExpr, Elementwise, EntrySum, Indicator, Ones, Softmax


class NotComputable(ValueError):
    """The derivation holds something with no numeric value (a generic activation f_k)."""


# --- the vocabulary of array programs ---------------------------------------------------


class Array(Symbol):
    """A variable of the generated code: an argument, a named value, a temporary, or the number
    of samples. A class of its own, so that an array called x is never the formula variable x."""


class LogSoftmax(AxisMatrixExpr):
    """log(softmax(s)) over one axis, computed without forming softmax(s): what a loss that takes
    the log of a softmax output evaluates, so that an output that underflows to 0 costs no NaN."""

    @property
    def shape(self) -> tuple:
        return self.arg.shape

    def _entry(self, i, j, **kwargs):  # noqa: ANN001 - SymPy's protocol
        return log(Softmax(self.arg, self.axis)._entry(i, j, **kwargs))


class ArrayOp(Function):
    """An operation on whole arrays that is not entrywise; each backend prints it its own way."""

    def _eval_is_extended_real(self) -> bool:
        return True


class MatProd(ArrayOp):
    """The matrix product a @ b."""

    nargs = 2


class Transposed(ArrayOp):
    nargs = 1


class _Reduction(ArrayOp):
    """A sum, with a number factor pulled out so that it scales the (smaller) result."""

    @classmethod
    def eval(cls, arg: Expr, *rest: Expr) -> Expr | None:
        coeff, term = arg.as_coeff_Mul()
        if coeff != 1 and coeff.is_Number:
            return coeff * cls(term, *rest)
        return None


class AxisSum(_Reduction):
    """The sum over one axis (0: down each column, 1: along each row), keeping both dimensions."""

    nargs = 2


class Total(_Reduction):
    """The sum of every entry: a number."""

    nargs = 1


class SoftmaxOf(ArrayOp):
    nargs = 2


class LogSoftmaxOf(ArrayOp):
    nargs = 2


class Filled(ArrayOp):
    """An array of the given shape (rows, cols) with one value everywhere."""

    nargs = 3


class BroadcastTo(ArrayOp):
    """An array broadcast to the full shape (rows, cols) of the value it stands for."""

    nargs = 3


class Take(ArrayOp):
    """Take(a, axis, (i_1, ..., i_m)): the rows (axis 0) or columns (axis 1) i_1 .. i_m of a,
    what a product with a 0/1 selection matrix computes."""

    nargs = 3


class Put(ArrayOp):
    """Put(a, axis, (i_1, ..., i_m), size): zeros of `size` along the axis, with row (or column)
    k of a added at i_k: the product with the transpose of a selection matrix."""

    nargs = 4


Shape = tuple[Expr, ...]  # () for a number, (rows, cols) for an array


# --- names -------------------------------------------------------------------------------


def python_name(name: str, fallback: str) -> str:
    """`name` itself if it is a Python identifier, else its runs of other characters as one
    underscore (s_rec^(2) -> s_rec_2), else `fallback`."""
    for candidate in (name, re.sub(r"\W+", "_", name, flags=re.ASCII).strip("_")):
        if candidate.isidentifier() and candidate.isascii() and not keyword.iskeyword(candidate):
            return candidate
    return fallback


#: Names the generated code uses for itself, never given to a spec's symbol.
RESERVED = (
    "numpy",
    "jax",
    "jnp",
    "torch",
    "n_samples",
    "dtype",
    "device",
    "loss",
    "kinks",
    "ctx",
    "grad_loss",
    "compute",
    "loss_and_gradients",
    "LossFunction",
    "_softmax",
    "_log_softmax",
    "_put",
)


class CodeNames:
    """Python names for the spec's symbols (their own where valid, else a cleaned-up spelling or
    v<i>), for each symbol's gradient (under the key "grad:<name>") and for temporaries, none
    clashing with another."""

    def __init__(self, names: list[str]) -> None:
        self.taken = set(RESERVED)
        self.ids: dict[str, str] = {}
        for i, name in enumerate(names):
            self.claim(name, python_name(name, f"v{i}"))
        for name in names:
            self.claim(f"grad:{name}", f"grad_{self.ids[name]}")

    def claim(self, key: str, candidate: str) -> str:
        while candidate in self.taken:
            candidate = "_" + candidate
        self.ids[key] = candidate
        self.taken.add(candidate)
        return candidate


# --- selections --------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectionIndex:
    """Where the 1s of a 0/1 matrix M are: `rows[i]` is the column of row i's only 1 (when every
    row has exactly one), `cols[j]` the row of column j's only 1 (when every column has one)."""

    rows: tuple[int, ...] | None
    cols: tuple[int, ...] | None

    def transposed(self) -> SelectionIndex:
        return SelectionIndex(self.cols, self.rows)


def selection_index(matrix: Any) -> SelectionIndex | None:
    """The SelectionIndex of a matrix whose entries are all 0 or 1 with exactly one 1 in every
    row or in every column (a fixed selection such as `fixed: {select_every: 3}`), else None."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.size == 0 or not np.all((m == 0) | (m == 1)):
        return None
    rows = tuple(int(i) for i in m.argmax(axis=1)) if np.all(m.sum(axis=1) == 1) else None
    cols = tuple(int(i) for i in m.argmax(axis=0)) if np.all(m.sum(axis=0) == 1) else None
    return None if rows is None and cols is None else SelectionIndex(rows, cols)


def selection_indices(selections: Mapping[str, Any] | None) -> dict[str, SelectionIndex]:
    """The SelectionIndex of each matrix of `selections` that is a selection, by name (the others left out):
    what every backend compiles as a slice."""
    indices = {name: selection_index(matrix) for name, matrix in (selections or {}).items()}
    return {name: index for name, index in indices.items() if index is not None}


# --- numeric rewrites of the derivation --------------------------------------------------


def through_output(bp: Backprop) -> dict[Basic, Basic]:
    """f_k'(s_k) -> the same derivative written through z_k = f_k(s_k), for activations that
    have one (rules.ACTIVATIONS[...].through_output): tanh' = 1 - z^2 saves a tanh per entry."""
    replacements: dict[Basic, Basic] = {}
    graph = bp.graph
    derivatives: dict[Any, tuple[Lambda, Lambda]] = {}  # per activation: f' and f' through z
    for node in graph.by_role("activation"):
        act = node.attrs["activation"]
        rule = rules.ACTIVATIONS[act.kind]
        if rule.through_output is None:
            continue
        if act not in derivatives:
            derivatives[act] = (rules.activation_derivative(act), Lambda(rules.x, rule.through_output(rules.x)))
        prime, through = derivatives[act]
        s = bp.symbols[graph.nodes[node.inputs[0]].symbol_name]
        replacements[Elementwise(node.attrs["label"], 1, prime, s)] = Elementwise(
            "", 0, through, bp.symbols[node.symbol_name]
        )
    return replacements


def _negative_power_of(formula: Expr, variable: Symbol) -> bool:
    """Does `formula` divide by an expression in `variable` (-t/a does, a - t does not)?"""
    return any(p.is_Pow and p.exp.is_negative and p.base.has(variable) for p in preorder_traversal(formula))


def stable_output(bp: Backprop) -> tuple[Expr, dict[str, Expr]]:
    """The loss and output delta to compute when the output layer is a softmax and the loss takes
    the log of its output (cross-entropy, or a custom formula with log(y_out)).

    The loss reads log(y_out) as log-softmax(s_out), never log of an underflowed 0; the delta
    z ⊙ (g - 1 1^T (z ⊙ g)) of the softmax's Jacobian product, with g = dL/dy_out = -y/y_out, is
    written through P = y_out ⊙ g cancelled entry by entry (P = -y): P - z ⊙ (1 1^T P), i.e.
    y_out * sum(y) - y, no division by y_out. Both equal the derivation's wherever that is finite.
    Returns the loss and {delta key: delta} to use instead (unchanged loss and {} otherwise)."""
    graph = bp.graph
    loss_node = graph.nodes[graph.loss]
    loss = bp.definitions["L"]
    out = graph.nodes[loss_node.inputs[0]]
    if (
        out.role != "activation"
        or out.attrs["activation"].kind != "softmax"
        or any(out.id in node.inputs for node in graph.nodes if node.id != loss_node.id)
    ):
        return loss, {}
    s_node = graph.nodes[out.inputs[0]]
    z, s, axis = bp.symbols[out.symbol_name], bp.symbols[s_node.symbol_name], out.attrs["axis"]
    terms = [e for e in preorder_traversal(loss) if isinstance(e, Elementwise) and z in e.mats]
    if len(terms) != 1:
        return loss, {}
    term = terms[0]
    position = term.mats.index(z)
    a = term.function.variables[position]
    formula = expand_log(term.function.expr, force=True)
    log_a = Dummy("log_a", real=True)
    stable = formula.xreplace({log(a): log_a})
    if not stable.has(log_a):
        return loss, {}
    variables, mats = list(term.function.variables), list(term.mats)
    variables.append(log_a)
    mats.append(LogSoftmax(s, axis))
    new_loss = loss.xreplace({term: Elementwise(term.label, term.order, Lambda(tuple(variables), stable), *mats)})

    deltas: dict[str, Expr] = {}
    scale = loss.as_independent(EntrySum, as_Add=False)[0]
    gradient = term.function.expr.diff(a)
    fused = cancel(a * gradient)
    if loss == scale * EntrySum(term) and _negative_power_of(gradient, a) and not _negative_power_of(fused, a):
        units = z.shape[axis]
        p = Elementwise("", 0, Lambda(term.function.variables, fused), *term.mats)
        spread = OneMatrix(units, units) * p if axis == 0 else p * OneMatrix(units, units)
        delta = MatAdd(p, -HadamardProduct(z, spread))
        deltas[s_node.delta_key] = delta if scale == 1 else MatMul(scale, delta)
    return new_loss, deltas


def kink_arguments(formula: Expr) -> list[Expr]:
    """Expressions whose sign switches the branch of a formula that is not smooth (max, min,
    abs, a condition): the formula has a kink where one of them is 0."""
    found: list[Expr] = []
    for node in preorder_traversal(formula):
        if isinstance(node, (Max, Min)):
            found += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1 :]]
        elif isinstance(node, (Abs, sign, Heaviside)):
            found.append(node.args[0])
        elif isinstance(node, Relational):
            found.append(node.lhs - node.rhs)
    return list(dict.fromkeys(found))


# --- from matrix expressions to array expressions ----------------------------------------


def ones_split(expr: Basic) -> tuple[Expr, MatrixExpr, int, bool] | None:
    """For `c * A 1` or `c * 1 A` (one factor a ones matrix): the coefficient, A, the axis of A
    that the product sums over (1 for A 1, 0 for 1 A) and whether the result must be broadcast
    to its full shape; None for any other expression."""
    if not isinstance(expr, MatMul):
        return None
    coeff, factors = expr.as_coeff_matrices()
    if len(factors) != 2 or [isinstance(f, OneMatrix) for f in factors].count(True) != 1:
        return None
    left, right = factors
    if isinstance(right, OneMatrix):
        return coeff, left, 1, right.shape[1] != 1
    return coeff, right, 0, left.shape[0] != 1


def _broadcast(shapes: list[Shape]) -> Shape:
    arrays = [s for s in shapes if s]
    if not arrays:
        return ()
    dims = []
    for sizes in zip(*arrays, strict=True):
        wide = [d for d in sizes if d != 1]
        dims.append(wide[0] if wide else Integer(1))
    return tuple(dims)


class ShapeOf:
    """The shape an array expression evaluates to, broadcasting included: (rows, cols), or ()
    for a number. Knows each variable's shape from `variables`."""

    def __init__(self, variables: Mapping[Array, Shape]) -> None:
        self.variables = dict(variables)
        self._memo: dict[Basic, Shape] = {}

    def __call__(self, expr: Basic) -> Shape:
        if expr not in self._memo:
            self._memo[expr] = self._shape(expr)
        return self._memo[expr]

    def _shape(self, expr: Basic) -> Shape:
        if isinstance(expr, Array):
            return self.variables.get(expr, ())
        if isinstance(expr, (Number, NumberSymbol, BooleanAtom)) or not expr.args:
            return ()
        args = expr.args
        if isinstance(expr, MatProd):
            return (self(args[0])[0], self(args[1])[1])
        if isinstance(expr, Transposed):
            return tuple(reversed(self(args[0])))
        if isinstance(expr, AxisSum):
            rows, cols = self(args[0])
            return (Integer(1), cols) if args[1] == 0 else (rows, Integer(1))
        if isinstance(expr, Total):
            return ()
        if isinstance(expr, (Filled, BroadcastTo)):
            return (args[1], args[2])
        if isinstance(expr, Take):
            shape = list(self(args[0]))
            shape[int(args[1])] = Integer(len(args[2]))
            return tuple(shape)
        if isinstance(expr, Put):
            shape = list(self(args[0]))
            shape[int(args[1])] = args[3]
            return tuple(shape)
        return _broadcast([self(a) for a in args])


class ToArrays:
    """Translates matrix expressions into array expressions over `variables` (spec name -> Array).
    `selections` names the fixed 0/1 matrices whose products become gathers."""

    def __init__(
        self,
        variables: Mapping[str, Array],
        shapes: ShapeOf,
        selections: Mapping[str, SelectionIndex] | None = None,
        n_samples: Array | None = None,
    ) -> None:
        self.variables = variables
        self.shape_of = shapes
        self.selections = dict(selections or {})
        self.n_samples = n_samples
        self._memo: dict[Basic, Expr] = {}

    def dims(self, shape: tuple) -> Shape:
        return tuple(self.n_samples if d is N or isinstance(d, str) else Integer(d) for d in shape)

    def full(self, code: Expr, shape: tuple) -> Expr:
        """`code` broadcast to the full `shape` of the matrix it stands for, where it is smaller."""
        target = self.dims(shape)
        actual = self.shape_of(code)
        if actual == target:
            return code
        return Filled(code, *target) if actual == () else BroadcastTo(code, *target)

    def __call__(self, expr: Basic) -> Expr:
        if expr not in self._memo:
            self._memo[expr] = self._convert(expr)
        return self._memo[expr]

    def _convert(self, expr: Basic) -> Expr:  # noqa: C901 - one case per kind of expression
        if isinstance(expr, MatrixSymbol):
            return self.variables[expr.name]
        if isinstance(expr, Ones):
            return Integer(1)
        if isinstance(expr, OneMatrix):
            return Filled(Integer(1), *self.dims(expr.shape))
        if isinstance(expr, ZeroMatrix):
            return Integer(0)
        if isinstance(expr, MatMul):
            return self._product(expr)
        if isinstance(expr, MatAdd):
            return sum((self(term) for term in expr.args[1:]), self(expr.args[0]))
        if isinstance(expr, HadamardProduct):
            product: Expr = Integer(1)
            for factor in expr.args:
                product = product * self(factor)
            return product
        if isinstance(expr, HadamardPower):
            return self(expr.base) ** self(expr.exp)
        if isinstance(expr, Transpose):
            return Transposed(self.full(self(expr.arg), expr.arg.shape))
        if isinstance(expr, Elementwise):
            return self._entrywise(expr)
        if isinstance(expr, Softmax):
            return SoftmaxOf(self.full(self(expr.arg), expr.arg.shape), expr.axis)
        if isinstance(expr, LogSoftmax):
            return LogSoftmaxOf(self.full(self(expr.arg), expr.arg.shape), expr.axis)
        if isinstance(expr, Indicator):
            arg = self(expr.arg)
            return Piecewise((1, arg > 0 if expr.strict else arg <= 0), (0, True))
        if isinstance(expr, EntrySum):
            return Total(self.full(self(expr.arg), expr.arg.shape))
        if expr == N:
            return self.n_samples
        if isinstance(expr, MatrixExpr):
            raise NotImplementedError(f"no array code for {type(expr).__name__}")
        if isinstance(expr, Expr) and expr.args:
            return expr.func(*(self(arg) for arg in expr.args))
        return expr

    def _entrywise(self, expr: Elementwise) -> Expr:
        formula = expr.function.expr
        undefined = formula.atoms(AppliedUndef)
        if undefined:
            name = sorted(str(f.func) for f in undefined)[0]
            raise NotComputable(
                f"the activation {name} is generic; give it a formula (activation: {{expr: ...}}) to compute numbers"
            )
        return formula.xreplace(dict(zip(expr.function.variables, (self(m) for m in expr.mats), strict=True)))

    def _selection(self, factor: MatrixExpr) -> SelectionIndex | None:
        if isinstance(factor, MatrixSymbol) and factor.name in self.selections:
            return self.selections[factor.name]
        if (
            isinstance(factor, Transpose)
            and isinstance(factor.arg, MatrixSymbol)
            and factor.arg.name in self.selections
        ):
            return self.selections[factor.arg.name].transposed()
        return None

    def _product(self, expr: MatMul) -> Expr:
        split = ones_split(expr)
        if split is not None:
            coeff, mat, axis, _ = split
            inner = self(mat)
            return self(coeff) * (inner if mat.shape[axis] == 1 else AxisSum(self.full(inner, mat.shape), axis))
        coeff, factors = expr.as_coeff_matrices()
        code: Expr | None = None
        shape: tuple = ()
        pending: tuple[SelectionIndex, tuple] | None = None  # a selection waiting for its right operand
        for factor in factors:
            index = self._selection(factor)
            if code is None and pending is None and index is not None:
                pending = (index, factor.shape)
                continue
            operand = self.full(self(factor), factor.shape)
            if pending is not None:
                code, shape = self._select_left(pending[0], pending[1], operand), (pending[1][0], factor.shape[1])
                pending = None
            elif code is None:
                code, shape = operand, factor.shape
            elif index is not None:
                code, shape = self._select_right(code, index, factor.shape), (shape[0], factor.shape[1])
            else:
                code, shape = MatProd(code, operand), (shape[0], factor.shape[1])
        if pending is not None:  # a selection alone
            code = (
                self.variables[factors[-1].name]
                if isinstance(factors[-1], MatrixSymbol)
                else Transposed(self.variables[factors[-1].arg.name])
            )
        return self(coeff) * code

    @staticmethod
    def _select_left(index: SelectionIndex, shape: tuple, operand: Expr) -> Expr:
        """E @ A for a selection E of `shape`: rows of A (E has one 1 per row), or A's rows added
        into the rows their column's 1 names (one 1 per column)."""
        if index.rows is not None:
            return Take(operand, 0, Tuple(*index.rows))
        assert index.cols is not None  # a selection has one 1 per row or one per column
        return Put(operand, 0, Tuple(*index.cols), Integer(shape[0]))

    @staticmethod
    def _select_right(code: Expr, index: SelectionIndex, shape: tuple) -> Expr:
        """A @ E: columns of A (E has one 1 per column), or A's columns added into columns."""
        if index.cols is not None:
            return Take(code, 1, Tuple(*index.cols))
        assert index.rows is not None  # a selection has one 1 per row or one per column
        return Put(code, 1, Tuple(*index.rows), Integer(shape[1]))


# --- the program -------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """`target = value` in one section of the program: forward, loss, delta, grad (or backward for
    both, interleaved), kinks, or common (a subexpression needed more than once)."""

    target: Array
    value: Expr
    section: str


@dataclass(frozen=True)
class ArrayProgram:
    """What a backend prints: the arguments, the assignments in order, and what is returned.

    `forward`, `delta` and `grad` pair each result key (the spec's name: s_1, delta_1, W_1) with
    the variable holding it; `kinks` lists the kink values (with kink labels in `kink_labels`)."""

    arguments: tuple[str, ...]  # spec names, in the order the function takes them
    parameters: tuple[Array, ...]  # their variables
    batch: tuple[Array, int]  # an argument with a sample axis, and that axis
    assignments: tuple[Assignment, ...]
    loss: Array
    forward: tuple[tuple[str, Array], ...]
    delta: tuple[tuple[str, Array], ...]
    grad: tuple[tuple[str, Array], ...]
    kinks: tuple[Array, ...] = ()
    kink_labels: tuple[str, ...] = ()
    trainable: tuple[str, ...] = ()  # the arguments that are parameters
    shapes: dict[Array, Shape] = field(default_factory=dict)
    backward: bool = True  # deltas and gradients computed
    with_kinks: bool = False  # kink values computed (possibly none)


def _is_trivial(expr: Expr, shapes: ShapeOf) -> bool:
    """Common subexpressions not worth a variable: a number that needs no array (1/N), a negated
    or scaled variable, a transposed variable (a view)."""
    if shapes(expr) == () and not expr.has(ArrayOp):
        return True
    if isinstance(expr, Transposed) and isinstance(expr.args[0], Array):
        return True
    if not isinstance(expr, Expr):
        return False
    coeff, rest = expr.as_coeff_Mul()
    return coeff != 1 and isinstance(rest, Array)


def _subexpressions(
    exprs: list[Expr], shapes: ShapeOf, names: CodeNames
) -> tuple[list[tuple[Array, Expr]], list[Expr]]:
    """sympy.cse over every right-hand side, keeping the subexpressions worth a variable
    (common_1, common_2, ... in order) and putting the others back in place."""
    replacements, reduced = cse(exprs, symbols=(Dummy(f"c{i}") for i in range(10**9)), optimizations=[], order="none")
    inline: dict[Basic, Expr] = {}
    kept: list[tuple[Array, Expr]] = []
    for symbol, expr in replacements:
        expr = expr.xreplace(inline)
        if _is_trivial(expr, shapes):
            inline[symbol] = expr
            continue
        var = Array(names.claim(f"common:{len(kept)}", f"common_{len(kept) + 1}"), real=True)
        shapes.variables[var] = shapes(expr)
        inline[symbol] = var
        kept.append((var, expr))
    return kept, [expr.xreplace(inline) for expr in reduced]


def build(
    bp: Backprop,
    backward: bool = True,
    kinks: bool = False,
    selections: Mapping[str, SelectionIndex] | None = None,
    interleave: bool = False,
) -> ArrayProgram:
    """The program computing the forward values and the loss, and with `backward` the deltas and
    gradients. With `kinks`, also the values whose sign picks a branch of every formula of the
    forward pass that is not smooth (relu, hinge, ...), for gradcheck. `selections` names fixed
    0/1 matrices (with their SelectionIndex) whose products become gathers. With `interleave`,
    each gradient follows the last delta it reads (so that a delta can be freed early) instead of
    all gradients following all deltas.

    SymPy would distribute a number over a sum (2 (y - x) -> 2 y - 2 x: two array products, and
    no `y - x` left to share with the loss); the program is built with that turned off."""
    loss_expr, stable_deltas = stable_output(bp)
    with distribute(False):
        return _build(bp, backward, kinks, selections, interleave, loss_expr, stable_deltas)


def _build(
    bp: Backprop,
    backward: bool,
    kinks: bool,
    selections: Mapping[str, SelectionIndex] | None,
    interleave: bool,
    loss_expr: Expr,
    stable_deltas: dict[str, Expr],
) -> ArrayProgram:
    graph = bp.graph
    names = CodeNames(list(bp.symbols))
    variables = {name: Array(names.ids[name], real=True) for name in bp.symbols}
    n_samples = Array("n_samples", integer=True, positive=True)
    shapes = ShapeOf({})
    convert = ToArrays(variables, shapes, selections, n_samples)
    for name, symbol in bp.symbols.items():
        shapes.variables[variables[name]] = convert.dims(symbol.shape)

    planned: list[tuple[Array, Expr, tuple, str]] = []  # target, matrix expression, its shape, section
    forward: list[tuple[str, Array]] = []
    for node in graph.nodes:
        if node.name in bp.definitions and node.role != "loss":
            planned.append((variables[node.symbol_name], bp.definitions[node.symbol_name], node.shape, "forward"))
            assert node.key is not None  # graph.py keys every s_k and z_k
            forward.append((node.key, variables[node.symbol_name]))
    loss_var = Array("loss", real=True)
    planned.append((loss_var, loss_expr, (), "loss"))
    delta, grad = [], []
    if backward:
        rewrite = through_output(bp)
        gradients = []
        for param, expr in bp.gradients.items():
            var = Array(names.ids["grad:" + param], real=True)
            section = "backward" if interleave else "grad"
            gradients.append((var, expr.xreplace(rewrite), bp.symbols[param].shape, section))
            grad.append((param, var))
        known: set[Basic] = set()
        for key, expr in bp.deltas.items():
            var = variables[f"delta_{key}"]
            planned.append(
                (
                    var,
                    stable_deltas.get(key, expr).xreplace(rewrite),
                    bp.symbols[f"delta_{key}"].shape,
                    "backward" if interleave else "delta",
                )
            )
            delta.append((f"delta_{key}", var))
            known.add(bp.symbols[f"delta_{key}"])
            ready = [
                g
                for g in gradients
                if interleave and {m for m in g[1].atoms(MatrixSymbol) if m.name.startswith("delta_")} <= known
            ]
            planned += ready
            gradients = [g for g in gradients if g not in ready]
        planned += gradients
    kink_vars: list[Array] = []
    labels: list[str] = []
    if kinks:
        for node in graph.nodes:
            expr = bp.definitions.get(node.name) if node.name is not None else None
            for elementwise in (
                [] if expr is None else [e for e in preorder_traversal(expr) if isinstance(e, Elementwise)]
            ):
                where = f"{elementwise.label or 'loss'}({', '.join(str(m) for m in elementwise.mats)})"
                for argument in kink_arguments(elementwise.function.expr):
                    var = Array(names.claim(f"kink:{len(kink_vars)}", f"kink_{len(kink_vars) + 1}"), real=True)
                    value = Elementwise("", 0, Lambda(elementwise.function.variables, argument), *elementwise.mats)
                    planned.append((var, value, elementwise.shape, "kinks"))
                    kink_vars.append(var)
                    labels.append(where)

    values = []
    for target, expr, shape, _ in planned:
        code = convert(expr)
        values.append(code if shape == () else convert.full(code, shape))
        shapes.variables.setdefault(target, convert.dims(shape))
    common, reduced = _subexpressions(values, shapes, names)
    assignments = _ordered(
        common, [(target, value, section) for (target, _, _, section), value in zip(planned, reduced, strict=True)]
    )
    arguments = [node.symbol_name for node in graph.leaves]
    first = graph.nodes[0]
    return ArrayProgram(
        arguments=tuple(arguments),
        parameters=tuple(variables[name] for name in arguments),
        batch=(variables[first.symbol_name], first.shape.index(BATCH)),
        assignments=tuple(assignments),
        loss=loss_var,
        forward=tuple(forward),
        delta=tuple(reversed(delta)),
        grad=tuple(grad),
        kinks=tuple(kink_vars),
        kink_labels=tuple(labels),
        trainable=tuple(node.symbol_name for node in graph.parameters),
        shapes=dict(shapes.variables),
        backward=backward,
        with_kinks=kinks,
    )


def _ordered(common: list[tuple[Array, Expr]], statements: list[tuple[Array, Expr, str]]) -> list[Assignment]:
    """The statements in order, each common subexpression just before the first one that reads it."""
    definitions = dict(common)
    position = {symbol: i for i, (symbol, _) in enumerate(common)}
    done: set[Array] = set()
    out: list[Assignment] = []

    def define(expr: Expr) -> Iterator[Assignment]:
        for symbol in sorted((s for s in expr.atoms(Array) if s in position), key=position.__getitem__):
            if symbol in definitions and symbol not in done:
                done.add(symbol)
                yield from define(definitions[symbol])
                yield Assignment(symbol, definitions[symbol], "common")

    for target, value, section in statements:
        out.extend(define(value))
        out.append(Assignment(target, value, section))
    return out
