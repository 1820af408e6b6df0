"""Deciding equivalence symbolically: a proof that an answer equals the target, or no decision.

Both sides become canonical SymPy expressions whose difference is tested for zero; when it
is zero, the answer is proved equal. Two algebras, tried in turn:

* **matrices** (valid for every size): a matrix expression is an entrywise polynomial (with
  kinks and functions as atoms) over *products*: each distinct product of matrices (W_2^T
  delta_2, delta_1 x^T) is one opaque variable, transposes are pushed down to the symbols
  ((A B)^T = B^T A^T), products distribute over sums, and an entrywise formula (⊙, f, f',
  [s > 0], powers) is ordinary commutative algebra over those variables;
* **entries** (at the spec's sizes, N samples as the points have): every entry of both sides
  written out as a scalar expression in the entries of the named values; index notation
  (sums, entries with indices) and matrices written out by hand are read this way.

Named values (s_k, z_k, delta_k, dL/dW) start opaque, so an answer written through delta_2
is compared with a target written through delta_2 at no cost; while the two differ, the
named value defined last (the one nearest the answer's own level) is replaced by its
definition on both sides, until the difference is zero, nothing named is left, or the
budget is spent. relu' and indicators become Step(u) = [u > 0] (with Step(-u) = 1 - Step(u):
the kink itself, a set of measure zero, is not distinguished, as the numeric check never
lands on it), max/min/abs/piecewise formulas are written through Step, a generic f_k and
its derivative f_k' are independent undefined functions, and tanh, exp, log stay as they
are (a rational function of exponentials is put over one denominator when plain expansion
does not decide).

A zero difference is a proof. A difference that is not zero in normal form is no decision by
itself (the atoms may be related in ways expansion does not see), but it is an exact formula:
computed at a test point, a value clearly above rounding proves the answer different
(verifier.py calls that the certificate); else verifier.py relies on its numeric points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import comb, prod
from typing import Any

from sympy import (
    Abs,
    Add,
    Basic,
    Derivative,
    Expr,
    Function,
    Heaviside,
    Integer,
    Lambda,
    Max,
    Min,
    Mul,
    Piecewise,
    Pow,
    Rational,
    Sum,
    Symbol,
    exp,
    expand_power_exp,
    fraction,
    sign,
    tanh,
    together,
)
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.core.sorting import default_sort_key
from sympy.logic.boolalg import And, BooleanFalse, BooleanTrue, Not, Or
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    Identity,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.polys.domains import QQ
from sympy.polys.orderings import lex
from sympy.polys.rings import PolyElement, PolyRing

from symbackprop.derive import Backprop, N
from symbackprop.forms.index import EntryFunction
from symbackprop.matexpr import Elementwise, Indicator, Softmax
from symbackprop.verify.limits import Deadline

#: Most terms in any expanded expression (an answer past it gets a numeric verdict).
MAX_TERMS = 4000
#: Most entries written out (both sides' entries, at the spec's sizes).
MAX_ENTRIES = 400
#: Most named values replaced by their definitions in one decision.
MAX_ROUNDS = 40
#: Longest range a sum over an index may be written out over.
MAX_RANGE = 1000
#: Largest expression (in operations) put over one denominator to decide a rational function.
MAX_RATIONAL_OPS = 300
#: Entries of a non-zero difference kept to be computed at the points (a certificate needs one).
CERTIFIED = 4


class Undecided(Exception):
    """The algebra cannot decide this (an unknown construct, or past the budget)."""


class Step(Function):
    """[u > 0]: 1 where u is positive, else 0 (relu' with relu'(0) = 0). Canonical: its argument is
    expanded with its positive content divided out, and Step(-u) is 1 - Step(u)."""

    @classmethod
    def eval(cls, u: Expr) -> Expr | None:
        if u.is_number:
            if u.is_extended_positive:
                return Integer(1)
            if u.is_extended_nonpositive:
                return Integer(0)
            return None
        expanded = _NORMAL(u)
        if expanded != u:
            return cls(expanded)
        content, primitive = u.as_content_primitive()
        if content.is_positive and content != 1:
            return cls(primitive)
        if u.could_extract_minus_sign() and not (-u).could_extract_minus_sign():
            return 1 - cls(-u)
        return None


def derivative_function(name: str) -> type[Function]:
    """f' of a generic activation f, as a function of its own (independent of f)."""
    return Function(f"{name}'")


def _indicator(cond: Basic) -> Expr:
    """1 where a condition holds, else 0, through Step."""
    if isinstance(cond, BooleanTrue):
        return Integer(1)
    if isinstance(cond, BooleanFalse):
        return Integer(0)
    if isinstance(cond, And):
        return Mul(*(_indicator(c) for c in cond.args))
    if isinstance(cond, Or):
        return 1 - Mul(*(1 - _indicator(c) for c in cond.args))
    if isinstance(cond, Not):
        return 1 - _indicator(cond.args[0])
    if isinstance(cond, Relational):
        lhs, rhs = canonical(cond.lhs), canonical(cond.rhs)
        if cond.rel_op in (">", ">="):
            return Step(lhs - rhs)
        if cond.rel_op in ("<", "<="):
            return Step(rhs - lhs)
    raise Undecided(f"a condition {cond}")


def _max(args: list[Expr]) -> Expr:
    result = args[0]
    for other in args[1:]:
        result = other + (result - other) * Step(result - other)
    return result


def canonical(expr: Basic) -> Expr:
    """A scalar formula with every kink written through Step (max, min, abs, sign, Heaviside,
    piecewise, conditions) and a generic f'(x) as the function f'; other functions kept."""
    if expr.is_Atom:
        return expr
    if isinstance(expr, Piecewise):
        result: Expr = Integer(0)
        rest: Expr = Integer(1)
        for piece in expr.args:
            held = _indicator(piece.cond)
            result += rest * held * canonical(piece.expr)
            rest *= 1 - held
        return result
    if isinstance(expr, Derivative):
        inner = expr.expr
        if (
            isinstance(inner, AppliedUndef)
            and len(inner.args) == 1
            and expr.variables == inner.args
            and expr.derivative_count == 1
        ):
            return derivative_function(inner.func.__name__)(canonical(inner.args[0]))
        raise Undecided(f"a derivative {expr}")
    if isinstance(expr, (Relational, And, Or, Not)):
        return _indicator(expr)
    args = [canonical(arg) for arg in expr.args]
    if isinstance(expr, Max):
        return _max(args)
    if isinstance(expr, Min):
        return Add(*args) - _max(args) if len(args) == 2 else -_max([-a for a in args])
    if isinstance(expr, Abs):
        return args[0] * (2 * Step(args[0]) - 1)
    if isinstance(expr, sign):
        return 2 * Step(args[0]) - 1
    if isinstance(expr, Heaviside):
        return Step(args[0])
    if isinstance(expr, (Sum, Lambda)):
        raise Undecided(f"a {type(expr).__name__} inside a formula")
    return expr.func(*args)


def _estimate(expr: Basic) -> int:
    """An upper bound on the number of terms `expr` expands into (functions count as one)."""
    if isinstance(expr, Add):
        return sum(_estimate(arg) for arg in expr.args)
    if isinstance(expr, Mul):
        return prod(_estimate(arg) for arg in expr.args)
    if isinstance(expr, Pow) and expr.exp.is_Integer and expr.exp > 1:
        terms = _estimate(expr.base)
        return comb(terms + int(expr.exp) - 1, int(expr.exp)) if terms < MAX_TERMS else MAX_TERMS + 1
    return 1


def _is_atom(expr: Basic) -> bool:
    """A function application (Step, tanh, f_1, exp ...) or a power that is no polynomial (1/N, 1/(1 + e)):
    a variable of the polynomial around it."""
    return isinstance(expr, Function) or isinstance(expr, Pow) and not (expr.exp.is_Integer and expr.exp > 0)


def outer_atoms(expr: Basic) -> set[Basic]:
    """The atoms and symbols of an expression, not looking inside atoms (not the Step inside a Step)."""
    found: set[Basic] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if _is_atom(node) or node.is_Atom and not node.is_Rational:
            found.add(node)
        elif not node.is_Atom:
            stack.extend(node.args)
    return found


class _Normal:
    """Expansion into a polynomial (SymPy's sparse polynomials, much faster than expand) over symbols and
    atoms, the atoms' arguments put in normal form first (once each: normal atoms are kept), so that
    nested kinks (Step of a sum with Steps in it) cost little. Step(u)^k is Step(u)."""

    def __init__(self) -> None:
        self.atoms: dict[Basic, Basic] = {}

    def atom(self, expr: Basic) -> Basic:
        if not _is_atom(expr):
            return expr
        found = self.atoms.get(expr)
        if found is None:
            args = [arg if arg.is_Atom else self(arg) for arg in expr.args]
            found = expr.func(*args) if args != list(expr.args) else expr
            self.atoms[expr] = self.atoms[found] = found
        return found

    def poly(self, expr: Basic) -> PolyElement:
        if _estimate(expr) > MAX_TERMS:
            raise Undecided("too many terms")
        variables = {item: self.atom(item) for item in outer_atoms(expr)}
        gens = sorted(set(variables.values()), key=default_sort_key)
        ring = PolyRing(gens, QQ, lex) if gens else PolyRing([Symbol("_one")], QQ, lex)
        of = dict(zip(gens, ring.gens, strict=False))
        steps = [i for i, gen in enumerate(gens) if isinstance(gen, Step)]

        def convert(node: Basic) -> PolyElement:
            if node in variables:
                return of[variables[node]]
            if node.is_Rational:
                return ring(QQ(int(node.p), int(node.q)))
            if isinstance(node, Add):
                return ring.add(*(convert(arg) for arg in node.args))
            if isinstance(node, Mul):
                out = ring.one
                for arg in node.args:
                    out *= convert(arg)
                    if len(out) > MAX_TERMS:
                        raise Undecided("too many terms")
                return out
            if isinstance(node, Pow):
                return convert(node.base) ** int(node.exp)
            if node.is_Float:
                return ring(QQ(*Rational(node).as_numer_denom()))
            raise Undecided(f"a {type(node).__name__}")

        result = convert(expr)
        if steps and any(monomial[i] > 1 for monomial in result for i in steps):
            reduced: dict[tuple[int, ...], Any] = {}
            for monomial, coeff in result.items():
                key = tuple(min(e, 1) if i in steps else e for i, e in enumerate(monomial))
                reduced[key] = reduced.get(key, QQ.zero) + coeff
            result = ring.from_dict({k: c for k, c in reduced.items() if c})
        if len(result) > MAX_TERMS:
            raise Undecided("too many terms")
        return result

    def __call__(self, expr: Basic) -> Basic:
        if expr.is_Atom:
            return expr
        if _is_atom(expr):
            return self.atom(expr)
        return self.poly(expr).as_expr()


_NORMAL = _Normal()


def finish(expr: Expr) -> Expr:
    """The normal form: expanded over atoms whose arguments are in normal form, Step(u)^k = Step(u);
    raises Undecided past MAX_TERMS."""
    if len(_NORMAL.atoms) > 100_000:
        _NORMAL.atoms.clear()
    return _NORMAL(expr)


def is_zero(difference: Expr) -> bool:
    """Whether a difference is zero in normal form; one with exponentials or tanh is also put over one
    denominator (sigma' written as z (1 - z) against the derivative SymPy gives)."""
    if not _NORMAL.poly(difference):
        return True
    if (
        not any(isinstance(a, (exp, tanh)) or isinstance(a, Pow) and a.exp.is_negative for a in outer_atoms(difference))
        or difference.count_ops() > MAX_RATIONAL_OPS
    ):
        return False
    return not _NORMAL.poly(fraction(together(_exponentials(finish(difference))))[0])


def _exponentials(expr: Expr) -> Expr:
    """tanh and exp written through one variable per exponent: exp(-2u) is E_u^-2, so that a rational
    function of exponentials is a rational function of those variables."""
    expr = expand_power_exp(expr.rewrite(exp))
    variables: dict[Expr, Symbol] = {}

    def power(node: exp) -> Expr:
        coeff, rest = node.args[0].as_coeff_Mul()
        if not coeff.is_Integer:
            coeff, rest = Integer(1), node.args[0]
        variable = variables.setdefault(rest, Symbol(f"_e{len(variables)}"))
        return variable**coeff

    return expr.replace(lambda node: isinstance(node, exp), power)


def _body(function: Lambda, cache: dict[Lambda, Lambda]) -> Lambda:
    found = cache.get(function)
    if found is None:
        found = cache[function] = Lambda(function.variables, canonical(function.expr))
    return found


def _apply(function: Lambda, args: Iterable[Expr]) -> Expr:
    return function.expr.xreplace(dict(zip(function.variables, args, strict=True)))


# --- the two algebras --------------------------------------------------------------------


class MatrixAlgebra:
    """Matrix expressions as entrywise polynomials over opaque products (valid for every size).

    A value is a scalar SymPy expression whose variables stand for products of matrices; the
    expression 1 stands for the all-ones matrix of the value's shape."""

    def __init__(self) -> None:
        self._factors: dict[Symbol, tuple] = {}  # variable -> its product's factors
        self._variables: dict[tuple, Symbol] = {}
        self._memo: dict[Basic, Expr] = {}
        self._bodies: dict[Lambda, Lambda] = {}

    def variable(self, factors: tuple) -> Symbol:
        found = self._variables.get(factors)
        if found is None:
            found = self._variables[factors] = Symbol(f"_p{len(self._variables)}")
            self._factors[found] = factors
        return found

    def owners(self, value: Expr) -> set[str]:
        return {f[1] for v in value.free_symbols if v in self._factors for f in self._factors[v] if f[0] == "sym"}

    def value(self, expr: Basic) -> Expr:
        found = self._memo.get(expr)
        if found is None:
            found = self._memo[expr] = self._value(expr)
        return found

    def _value(self, expr: Basic) -> Expr:
        if isinstance(expr, MatrixSymbol):
            return self.variable((("sym", expr.name, False),))
        if isinstance(expr, OneMatrix) or isinstance(expr, Identity) and expr.shape == (1, 1):
            return Integer(1)
        if isinstance(expr, ZeroMatrix):
            return Integer(0)
        if isinstance(expr, Transpose):
            return self.transpose(self.value(expr.arg))
        if isinstance(expr, MatAdd):
            return Add(*(self.value(arg) for arg in expr.args))
        if isinstance(expr, HadamardProduct):
            return finish(Mul(*(self.value(arg) for arg in expr.args)))
        if isinstance(expr, HadamardPower):
            return finish(self.value(expr.base) ** expr.exp)
        if isinstance(expr, MatMul):
            coeff, factors = expr.as_coeff_matrices()
            if coeff.has(MatrixElement):
                raise Undecided("an entry as a coefficient")
            value, shape = self.value(factors[0]), factors[0].shape
            for factor in factors[1:]:
                value = self.product(value, shape, self.value(factor), factor.shape)
                shape = (shape[0], factor.shape[1])
            return coeff * value
        if isinstance(expr, Elementwise):
            return finish(_apply(_body(expr.function, self._bodies), (self.value(m) for m in expr.mats)))
        if isinstance(expr, Indicator):
            step = Step(finish(self.value(expr.arg)))
            return step if expr.strict else 1 - step
        if isinstance(expr, Softmax):
            return self.variable((("softmax", finish(self.value(expr.arg)), expr.axis),))
        raise Undecided(f"a {type(expr).__name__}")

    def terms(self, value: Expr, shape: tuple) -> list[tuple[Expr, tuple]]:
        """(scalar coefficient, factors of the product) of each term of a value used as a factor."""
        out = []
        for term in Add.make_args(finish(value)):
            scalar: list[Expr] = []
            matrix: list[Expr] = []
            for factor in Mul.make_args(term):
                (matrix if factor.free_symbols & self._factors.keys() else scalar).append(factor)
            part = Mul(*matrix)
            if part == 1:
                factors: tuple = (("ones", shape),)
            elif part in self._factors:
                factors = self._factors[part]
            else:
                factors = (("region", part),)
            out.append((Mul(*scalar), factors))
        return out

    def product(self, left: Expr, left_shape: tuple, right: Expr, right_shape: tuple) -> Expr:
        return Add(
            *(
                a * b * self.variable(f + g)
                for a, f in self.terms(left, left_shape)
                for b, g in self.terms(right, right_shape)
            )
        )

    def transpose(self, value: Expr) -> Expr:
        return value.xreplace(
            {
                v: self.variable(tuple(self._transposed(f) for f in reversed(self._factors[v])))
                for v in value.free_symbols
                if v in self._factors
            }
        )

    def _transposed(self, factor: tuple) -> tuple:
        kind = factor[0]
        if kind == "sym":
            return ("sym", factor[1], not factor[2])
        if kind == "ones":
            return ("ones", (factor[1][1], factor[1][0]))
        if kind == "region":
            return ("region", self.transpose(factor[1]))
        return ("softmax", self.transpose(factor[1]), 1 - factor[2])


class EntryAlgebra:
    """Matrix expressions entry by entry at the spec's sizes (N given), over the entries of the
    named values; and index-notation formulas with their indices given numbers."""

    def __init__(self, n_samples: int) -> None:
        self.n_samples = n_samples
        self._symbols: dict[tuple[str, int, int], Symbol] = {}
        self.owner: dict[Symbol, str] = {}
        self.where: dict[Symbol, tuple[str, int, int]] = {}  # an entry's symbol -> (name, row, column)
        self._memo: dict[Basic, tuple[tuple[Expr, ...], ...]] = {}
        self._bodies: dict[Lambda, Lambda] = {}

    def size(self, dim: Expr) -> int:
        value = dim.xreplace({N: Integer(self.n_samples)}) if isinstance(dim, Basic) else dim
        if not (isinstance(value, int) or getattr(value, "is_Integer", False)):
            raise Undecided(f"a size {dim}")
        return int(value)

    def shape(self, expr: MatrixExpr) -> tuple[int, int]:
        rows, cols = (self.size(d) for d in expr.shape)
        if rows * cols > MAX_ENTRIES:
            raise Undecided("too many entries")
        return rows, cols

    def entry(self, name: str, i: int, j: int) -> Symbol:
        found = self._symbols.get((name, i, j))
        if found is None:
            found = self._symbols[(name, i, j)] = Symbol(f"{name}[{i},{j}]")
            self.owner[found] = name
            self.where[found] = (name, i, j)
        return found

    def owners(self, values: Iterable[Expr]) -> set[str]:
        return {self.owner[s] for value in values for s in value.free_symbols if s in self.owner}

    def grid(self, expr: Basic) -> tuple[tuple[Expr, ...], ...]:
        found = self._memo.get(expr)
        if found is None:
            found = self._memo[expr] = self._grid(expr)
        return found

    def _grid(self, expr: Basic) -> tuple[tuple[Expr, ...], ...]:
        rows, cols = self.shape(expr)

        def each(compute) -> tuple[tuple[Expr, ...], ...]:  # noqa: ANN001
            return tuple(tuple(compute(i, j) for j in range(cols)) for i in range(rows))

        if isinstance(expr, MatrixSymbol):
            return each(lambda i, j: self.entry(expr.name, i, j))
        if isinstance(expr, (OneMatrix, ZeroMatrix, Identity)):
            return each(lambda i, j: expr._entry(i, j))
        if isinstance(expr, Transpose):
            inner = self.grid(expr.arg)
            return each(lambda i, j: inner[j][i])
        if isinstance(expr, (MatAdd, HadamardProduct)):
            parts = [self.grid(arg) for arg in expr.args]
            combine = Add if isinstance(expr, MatAdd) else Mul
            return each(lambda i, j: combine(*(p[i][j] for p in parts)))
        if isinstance(expr, HadamardPower):
            base = self.grid(expr.base)
            return each(lambda i, j: base[i][j] ** expr.exp)
        if isinstance(expr, MatMul):
            coeff, factors = expr.as_coeff_matrices()
            scalar = self.scalar(coeff, {})
            value = self.grid(factors[0])
            for factor in factors[1:]:
                right = self.grid(factor)
                value = tuple(
                    tuple(Add(*(row[k] * right[k][j] for k in range(len(row)))) for j in range(len(right[0])))
                    for row in value
                )
            return each(lambda i, j: scalar * value[i][j])
        if isinstance(expr, Elementwise):
            body = _body(expr.function, self._bodies)
            parts = [self.grid(m) for m in expr.mats]
            return each(lambda i, j: _apply(body, (p[i][j] for p in parts)))
        if isinstance(expr, Indicator):
            inner = self.grid(expr.arg)
            return each(lambda i, j: Step(inner[i][j]) if expr.strict else 1 - Step(inner[i][j]))
        if isinstance(expr, Softmax):
            inner = self.grid(expr.arg)

            def softmax(i: int, j: int) -> Expr:
                others = [inner[k][j] for k in range(rows)] if expr.axis == 0 else list(inner[i])
                return exp(inner[i][j]) / Add(*(exp(o) for o in others))

            return each(softmax)
        raise Undecided(f"a {type(expr).__name__}")

    def scalar(self, expr: Basic, indices: dict[Symbol, int]) -> Expr:
        """An index-notation formula with its indices given numbers, over the named values' entries."""
        return canonical(self._numbered(expr, indices))

    def _numbered(self, expr: Basic, indices: dict[Symbol, int]) -> Expr:
        if expr.is_Atom:
            if isinstance(expr, Symbol) and expr in indices:
                return Integer(indices[expr])
            if isinstance(expr, Symbol) and expr != N:
                raise Undecided(f"a free index {expr}")
            return expr
        if isinstance(expr, MatrixElement):
            i, j = (self._numbered(k, indices) for k in (expr.i, expr.j))
            if not (i.is_Integer and j.is_Integer):
                raise Undecided("an entry without numbers")
            if isinstance(expr.parent, MatrixSymbol):
                rows, cols = (self.size(d) for d in expr.parent.shape)
                if not (0 <= int(i) < rows and 0 <= int(j) < cols):
                    raise Undecided("an entry out of range")
                return self.entry(expr.parent.name, int(i), int(j))
            return self.grid(expr.parent)[int(i)][int(j)]
        if isinstance(expr, Sum):
            body, (index, low, high) = expr.function, expr.limits[0]
            low, high = self._numbered(low, indices), self._numbered(high, indices)
            if not (low.is_Integer and high.is_Integer) or int(high) - int(low) > MAX_RANGE:
                raise Undecided("a sum without a short range")
            inner = Sum(body, *expr.limits[1:]) if len(expr.limits) > 1 else body
            return Add(*(self._numbered(inner, {**indices, index: k}) for k in range(int(low), int(high) + 1)))
        if isinstance(expr, EntryFunction):
            body = _body(expr.args[2], self._bodies)
            return _apply(body, (self.scalar(a, indices) for a in expr.args[3:]))
        return expr.func(*(self._numbered(arg, indices) for arg in expr.args))


# --- deciding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """How an answer was proved equal: in the matrix algebra (every size) or entry by entry at the
    spec's sizes with `samples` samples, after replacing `expanded` named values by their definitions."""

    level: str  # "matrices" | "entries"
    samples: int | None
    expanded: tuple[str, ...]

    def describe(self) -> str:
        where = (
            "as matrices, for every size"
            if self.level == "matrices"
            else f"entry by entry at the spec's sizes with N = {self.samples}"
        )
        through = f", through the definitions of {', '.join(self.expanded)}" if self.expanded else ""
        return f"proved equal {where}{through}"


@dataclass(frozen=True)
class Difference:
    """No proof: entries of the answer minus the target (positions in the lists compared, and their
    normal forms) that are not zero in normal form after replacing `expanded` named values. Each is an
    exact formula over the named values' entries: computed at a test point (where the named values are
    consistent) and found clearly non-zero there, it proves the answer different (the certificate)."""

    pending: tuple[tuple[int, Expr], ...]
    samples: int
    expanded: tuple[str, ...]


class Definitions:
    """The named values' definitions (forward values, deltas, gradients), and the order in which they
    are replaced: the one defined last first."""

    def __init__(self, bp: Backprop, sized: Callable[[Basic], Basic]) -> None:
        table: dict[str, Expr] = {}
        for name, expr in bp.definitions.items():
            if name != "L":
                table[name] = sized(expr)
        for key, expr in bp.deltas.items():
            table[f"delta_{key}"] = sized(expr)
        for name, expr in bp.gradients.items():
            table[f"dL/d{name}"] = sized(expr)
        self.table = table
        self.rank = {name: k for k, name in enumerate(table)}
        self.uses = {name: {s.name for s in expr.atoms(MatrixSymbol)} for name, expr in table.items()}

    def pick(self, left: set[str], right: set[str]) -> str | None:
        """The named value to replace next: the latest defined among those only one side has and those
        whose definition names something either side has (replacing a value by the same formula on both
        sides helps only when that formula relates to the rest); None when there is none."""
        present = left | right
        named = [
            n for n in present if n in self.rank and (n not in left or n not in right or self.uses[n] & (present - {n}))
        ]
        return max(named, key=self.rank.__getitem__, default=None)


class Decider:
    """Proofs for one network's answers; its algebras keep what they computed for the next answer."""

    def __init__(self, definitions: Definitions, n_samples: int) -> None:
        self.definitions = definitions
        self.matrices = MatrixAlgebra()
        self.entries = EntryAlgebra(n_samples)
        self.n_samples = n_samples

    def _substitute(self, expr: Basic, name: str) -> Basic:
        symbol = next((s for s in expr.atoms(MatrixSymbol) if s.name == name), None)
        return expr if symbol is None else expr.xreplace({symbol: self.definitions.table[name]})

    def matrix(self, answer: MatrixExpr, truth: MatrixExpr, deadline: Deadline) -> Proof | None:
        """A proof in the matrix algebra that two matrix expressions are equal, or None."""
        expanded: list[str] = []
        try:
            for _ in range(MAX_ROUNDS):
                deadline.check()
                a, t = self.matrices.value(answer), self.matrices.value(truth)
                if is_zero(a - t):
                    return Proof("matrices", None, tuple(expanded))
                name = self.definitions.pick(self._names(answer), self._names(truth))
                if name is None:
                    return None
                expanded.append(name)
                answer, truth = self._substitute(answer, name), self._substitute(truth, name)
        except Undecided:
            return None
        return None

    def entrywise(self, answer: list[Expr], truth: list[Expr], deadline: Deadline) -> Proof | Difference | None:
        """A proof that two lists of entries (scalar expressions over the named values' entries) are equal;
        else the entries whose difference is not zero in normal form (a Difference), or None (undecided)."""
        expanded: list[str] = []
        positions = list(range(len(answer)))
        try:
            for _ in range(MAX_ROUNDS):
                pending = []
                for k, a, t in zip(positions, answer, truth, strict=True):
                    deadline.check()
                    if not is_zero(a - t):
                        pending.append((k, a, t))
                if not pending:
                    return Proof("entries", self.n_samples, tuple(expanded))
                positions = [k for k, _, _ in pending]
                answer, truth = [a for _, a, _ in pending], [t for _, _, t in pending]
                name = self.definitions.pick(self.entries.owners(answer), self.entries.owners(truth))
                if name is None:
                    return Difference(
                        tuple((k, finish(a - t)) for k, a, t in pending[:CERTIFIED]), self.n_samples, tuple(expanded)
                    )
                expanded.append(name)
                definition = self.entries.grid(self.definitions.table[name])
                replace = {
                    self.entries.entry(name, i, j): value
                    for i, row in enumerate(definition)
                    for j, value in enumerate(row)
                }
                answer, truth = [a.xreplace(replace) for a in answer], [t.xreplace(replace) for t in truth]
        except Undecided:
            return None
        return None

    @staticmethod
    def _names(expr: Basic) -> set[str]:
        return {s.name for s in expr.atoms(MatrixSymbol)}

    # --- the sides, entry by entry --------------------------------------------------------

    def grid_entries(self, expr: MatrixExpr) -> list[Expr]:
        return [value for row in self.entries.grid(expr) for value in row]

    def decide_matrix(self, answer: MatrixExpr, truth: MatrixExpr, deadline: Deadline) -> Proof | Difference | None:
        """Matrix algebra first, then entry by entry (within the budget)."""
        proof = self.matrix(answer, truth, deadline)
        if proof is not None:
            return proof
        try:
            return self.entrywise(self.grid_entries(answer), self.grid_entries(truth), deadline)
        except Undecided:
            return None
