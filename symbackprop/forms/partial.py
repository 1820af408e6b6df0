"""Local partials d(top)/d(bottom) between named values: dz_2/ds_2, ds_3/dz_2, ds_2/dW_2, dh_2/dh_1,
dp_j/ds_k, with or without entries.

No derivative rule of its own: a seed placed on `top` is pulled back to `bottom` through rules.py's
vector-Jacobian products (as the engine pulls the loss's adjoint back), over the ops between the two
values only. Entry by entry, the seed is the unit matrix at the top's entry, so

    d top[a,b] / d bottom[c,d] = entry (c,d) of pullback(E_ab),

read with explicit sums whose Kronecker deltas are then summed out. Between two values that both have a
sample axis the derivative is also written as a matrix, the Jacobian of one sample (diag(f'(s_2)),
W_3, diag(f'(s_2)) W_2, diag(p) - p p^T): the pullback of the identity, each Hadamard product with the
seed becoming a product with a diagonal matrix.
"""

from __future__ import annotations

from sympy import Add, Expr, Identity, KroneckerDelta, Mul, S, Sum, Symbol, factor_terms
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, OneMatrix, Transpose
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop import rules
from symbackprop.derive import Backprop, node_expressions, op_attrs, sympy_shape
from symbackprop.forms.chain import ChainProduct, Partial
from symbackprop.forms.index import entry_form
from symbackprop.graph import BATCH, Node
from symbackprop.matexpr import Diag

#: The name of the seed matrix placed on the top value (never printed: it is replaced before).
SEED = "partial_seed"


class NotLocal(ValueError):
    """A pair of values with no derivative between them (the top does not depend on the bottom)."""


def between(bp: Backprop, top: Node, bottom: Node) -> list[Node]:
    """The nodes on a path from `bottom` to `top`, in topological order; raises NotLocal if there is none."""
    nodes = bp.graph.nodes
    downstream = {bottom.id}
    for node in nodes:
        if any(i in downstream for i in node.inputs):
            downstream.add(node.id)
    if top.id not in downstream or top.id == bottom.id:
        what = "itself" if top.id == bottom.id else bottom.name
        raise NotLocal(
            f"{top.name} does not depend on {what}"
            if top.id != bottom.id
            else f"{top.name} by {what} is the identity, not a derivative worth asking"
        )
    upstream = {top.id}
    for node in reversed(nodes):
        if node.id in upstream:
            upstream.update(node.inputs)
    return [node for node in nodes if node.id in downstream and node.id in upstream]


def pullback(bp: Backprop, top: Node, bottom: Node, seed: Expr) -> Expr:
    """What `seed` (an adjoint of `top`) sends back to `bottom` through the ops between them (rules.vjp):
    the transposed Jacobian applied to the seed, shaped like `bottom`."""
    path = between(bp, top, bottom)
    inside = {node.id for node in path}
    exprs = node_expressions(bp)
    pending: dict[int, list[Expr]] = {node.id: [] for node in path}
    for node in reversed(path):
        if node.id == top.id:
            value = seed
        else:
            terms = pending[node.id]
            if not terms:
                continue
            value = terms[0] if len(terms) == 1 else MatAdd(*terms)
        if node.id == bottom.id:
            return value
        inputs = [exprs[i] for i in node.inputs]
        for index, source in enumerate(node.inputs):
            if source in inside:
                pending[source].append(rules.vjp(node.op, index)(op_attrs(node), value, exprs[node.id], *inputs))
    raise NotLocal(f"{top.name} does not depend on {bottom.name}")  # pragma: no cover - between() found a path


def seed_symbol(top: Node) -> MatrixSymbol:
    return MatrixSymbol(SEED, *sympy_shape(top.shape))


def entry(bp: Backprop, top: Node, bottom: Node, top_entry: tuple[Expr, Expr], bottom_entry: tuple[Expr, Expr]) -> Expr:
    """d top[top_entry] / d bottom[bottom_entry] as a scalar expression (0-based numbers or index symbols;
    the same symbol on both sides is the same index, so a shared sample index n reads one sample)."""
    seed = seed_symbol(top)
    pulled = pullback(bp, top, bottom, seed)
    letters = {str(i) for i in (*top_entry, *bottom_entry) if isinstance(i, Symbol)}
    scalar = entry_form(pulled, bottom_entry, letters)
    a, b = top_entry
    unit = scalar.replace(
        lambda e: isinstance(e, MatrixElement) and e.parent == seed,
        lambda e: KroneckerDelta(e.i, a) * KroneckerDelta(e.j, b),
    )
    return _in_top_indices(_sum_out(unit), top_entry)


def _in_top_indices(expr: Expr, top_entry: tuple[Expr, Expr]) -> Expr:
    """Where a term holds [j = k] (j the top's index), k written as j in the rest of it, and common factors
    taken out: p_k ([j = k] - p_j) reads p_j ([j = k] - p_k), the softmax Jacobian as a course writes it."""
    if not expr.has(KroneckerDelta):
        return expr
    top = {i for i in top_entry if isinstance(i, Symbol)}
    terms = []
    for term in Add.make_args(expr.expand(deep=False)):
        for factor in Mul.make_args(term):
            if not isinstance(factor, KroneckerDelta) or factor.args[0] == factor.args[1]:
                continue
            first, second = factor.args
            if second.is_Integer or (second in top and first.is_Symbol and first not in top):
                first, second = second, first  # the value kept: a number, else the top's letter
            if second.is_Symbol and (first.is_Integer or first in top):
                term = term.xreplace({factor: S.One}).xreplace({second: first}) * factor
                break
        terms.append(term)
    return factor_terms(Add(*terms))


def _sum_out(expr: Expr) -> Expr:
    """Sums whose terms hold a Kronecker delta in the summation index, summed out: sum_k W[k,i] [k = j] = W[j,i]
    (every written index is within its range)."""
    if not expr.args:
        return expr
    if isinstance(expr, Sum):
        ((index, low, high),) = expr.limits
        total = S.Zero
        for term in Add.make_args(
            _sum_out(expr.function).expand(
                deep=False, mul=True, power_exp=False, power_base=False, log=False, multinomial=False
            )
        ):
            total += _sum_term(term, index, low, high)
        return total
    return expr.func(*(_sum_out(arg) if isinstance(arg, Expr) else arg for arg in expr.args))


def _sum_term(term: Expr, index: Symbol, low: Expr, high: Expr) -> Expr:
    for factor in Mul.make_args(term):
        if isinstance(factor, KroneckerDelta) and index in factor.free_symbols:
            other = factor.args[1] if factor.args[0] == index else factor.args[0]
            if index in other.free_symbols:
                continue
            if other.is_Integer and not (low <= other <= high):
                return S.Zero
            return _sum_out(term.xreplace({factor: S.One}).xreplace({index: other}))
    if not term.has(index):
        return term * (high - low + 1)
    inside = [factor for factor in Mul.make_args(term) if factor.has(index)]
    outside = [factor for factor in Mul.make_args(term) if not factor.has(index)]  # [m = n] out, for the sum over m
    return Mul(*outside) * Sum(Mul(*inside), (index, low, high))


def per_sample(bp: Backprop, top: Node, bottom: Node) -> Expr:
    """The Jacobian of one sample, d top / d bottom (rows: top's units, columns: bottom's), for two values
    that both have a sample axis: the pullback of the identity, each Hadamard product with the seed written
    as a product with the diagonal matrix of the other factor's entries for that sample."""
    columns = top.shape[1] == BATCH
    units = sympy_shape(top.shape)[0 if columns else 1]
    seed = seed_symbol(top)
    transposed = _diagonalized(pullback(bp, top, bottom, seed), seed, Identity(units), columns)
    jacobian = _transpose(transposed) if columns else transposed
    return tidy(jacobian)


def _diagonalized(expr: Expr, seed: MatrixSymbol, identity: Expr, columns: bool) -> Expr:
    if expr == seed:
        return identity
    if not expr.has(seed):
        return expr
    if isinstance(expr, HadamardProduct):
        inner = [arg for arg in expr.args if arg.has(seed)]
        others = [arg for arg in expr.args if not arg.has(seed)]
        if len(inner) != 1:
            raise NotLocal("the seed appears twice in one entrywise product")  # pragma: no cover - linear rules
        rest = _diagonalized(inner[0], seed, identity, columns)
        diag = Diag(others[0] if len(others) == 1 else HadamardProduct(*others), 0 if columns else 1)
        return MatMul(diag, rest) if columns else MatMul(rest, diag)
    if isinstance(expr, MatMul):
        return MatMul(*(_diagonalized(arg, seed, identity, columns) for arg in expr.args))
    if isinstance(expr, MatAdd):
        return MatAdd(*(_diagonalized(arg, seed, identity, columns) for arg in expr.args))
    if isinstance(expr, Transpose):
        return Transpose(_diagonalized(expr.arg, seed, identity, columns))
    raise NotLocal(f"no per-sample Jacobian through {type(expr).__name__}")  # pragma: no cover - rules' vjps


def _transpose(expr: Expr) -> Expr:
    if isinstance(expr, (Diag, Identity)):
        return expr
    if isinstance(expr, Transpose):
        return expr.arg
    if isinstance(expr, MatMul):
        coeff, factors = expr.as_coeff_matrices()
        return MatMul(coeff, *(_transpose(f) for f in reversed(factors)))
    if isinstance(expr, MatAdd):
        return MatAdd(*(_transpose(t) for t in expr.args))
    if isinstance(expr, OneMatrix):
        return OneMatrix(expr.shape[1], expr.shape[0])
    return Transpose(expr)


def tidy(expr: Expr) -> Expr:
    """Products expanded over sums, identities (and diag(1)) dropped, diag(v) 1 1^T diag(w) written v w^T."""
    if isinstance(expr, Diag) and isinstance(expr.arg, OneMatrix):
        return Identity(expr.shape[0])
    if isinstance(expr, MatAdd):
        return MatAdd(*(tidy(t) for t in expr.args)).doit(deep=False)
    if isinstance(expr, MatMul):
        coeff, flat = expr.as_coeff_matrices()
        factors: list[MatrixExpr] = []
        for factor in (tidy(f) for f in flat):  # flattened: diag(p) (-(1 1^T diag(p))) has its coefficient out
            inner_coeff, inner = factor.as_coeff_matrices() if isinstance(factor, MatMul) else (1, [factor])
            coeff, factors = coeff * inner_coeff, [*factors, *inner]
        for k, factor in enumerate(factors):
            if isinstance(factor, MatAdd):  # distribute: diag(p) (I - 1 1^T diag(p)) -> diag(p) - p p^T
                return tidy(MatAdd(*(MatMul(coeff, *factors[:k], term, *factors[k + 1 :]) for term in factor.args)))
        factors = [f for f in factors if not isinstance(f, Identity)] or [factors[0]]
        for k in range(len(factors) - 2):
            left, ones, right = factors[k : k + 3]
            if isinstance(left, Diag) and isinstance(ones, OneMatrix) and isinstance(right, Diag):
                outer = (
                    MatMul(left.arg, _transpose(right.arg))
                    if left.axis == 0
                    else MatMul(_transpose(left.arg), right.arg)
                )
                return tidy(MatMul(coeff, *factors[:k], outer, *factors[k + 3 :]))
        return MatMul(coeff, *factors).doit(deep=False) if coeff != 1 or len(factors) > 1 else factors[0]
    return expr


def chain(bp: Backprop, top: Node, bottom: Node, top_element: Expr, bottom_element: Expr) -> Expr:
    """The partial as a product of partials between the named values on the way, as a student writes it:
    dh_2/dh_1 = dh_2/ds_2 · ds_2/dh_1 (a single partial between neighbours)."""
    named = [node for node in between(bp, top, bottom) if node.name and node.id not in (top.id, bottom.id)]
    steps: list[Expr] = []
    upper = top_element
    on_path = named if _single_path(bp, top, bottom, named) else []
    for node in reversed(on_path):
        symbol = bp.symbols[node.symbol_name]
        steps.append(Partial(upper, symbol))
        upper = symbol
    steps.append(Partial(upper, bottom_element))
    return ChainProduct(*steps)


def _single_path(bp: Backprop, top: Node, bottom: Node, named: list[Node]) -> bool:
    """Whether every path from bottom to top passes through each named value on the way (a plain chain)."""
    return all(_through(bp, top, bottom, node) for node in named)


def _through(bp: Backprop, top: Node, bottom: Node, node: Node) -> bool:
    """Every path from bottom to top passes through `node`: removing it disconnects them."""
    nodes = bp.graph.nodes
    reach = {bottom.id}
    for n in nodes:
        if n.id != node.id and any(i in reach for i in n.inputs):
            reach.add(n.id)
    return top.id not in reach
