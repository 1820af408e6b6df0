"""Numbers from a derivation: the forward equations, deltas and gradients printed once as
NumPy code (a SymPy printer subclass) and compiled, so a call does no symbolic work.

The printed code is meant to be as fast as hand-written backprop: a product with a ones
matrix becomes broadcasting or a sum over the sample axis, f'(s_k) is written through
z_k = f(s_k) where the activation allows it (tanh' = 1 - z^2), and a matrix expression
needed twice is computed once.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sympy import Abs, Basic, Expr, Heaviside, Lambda, Max, Min, Piecewise, Symbol, preorder_traversal, sign
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanTrue
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Transpose,
)
from sympy.printing.numpy import NumPyPrinter

from symbackprop import rules
from symbackprop.derive import Backprop, N
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise, EntrySum, Indicator, Softmax

HELPERS = '''
def _softmax(s, axis):
    shifted = numpy.exp(s - numpy.max(s, axis=axis, keepdims=True))
    return shifted / numpy.sum(shifted, axis=axis, keepdims=True)
'''


class NotComputable(ValueError):
    """The derivation holds something with no numeric value (a generic activation f_k)."""


def _is_indicator(expr: Basic) -> bool:
    """An Elementwise that is 1 where a condition holds and 0 elsewhere (relu')."""
    if not isinstance(expr, Elementwise):
        return False
    formula = expr.function.expr
    return (isinstance(formula, Piecewise) and len(formula.args) == 2 and formula.args[0].expr == 1
            and formula.args[1].expr == 0 and isinstance(formula.args[1].cond, BooleanTrue))


def _atomic(code: str) -> bool:
    """True when `code` needs no parentheses before `.T` or `.sum(...)`: a name, or a call or
    parenthesized expression whose first parenthesis closes at the end."""
    if code.replace(".", "_").isidentifier():
        return True
    head = code.split("(", 1)[0]
    if not code.endswith(")") or not (head == "" or head.replace(".", "_").isidentifier()):
        return False
    depth = 0
    for i, char in enumerate(code):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and char == ")":
            return i == len(code) - 1
    return False


def _wrap(code: str) -> str:
    return code if _atomic(code) else f"({code})"


def _is_constant(expr: Basic) -> bool:
    return isinstance(expr, Elementwise) and not expr.function.expr.free_symbols


def _ones_split(expr: Basic) -> tuple[Expr, MatrixExpr, int, bool] | None:
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


class NumpyCodePrinter(NumPyPrinter):
    """Prints matrix expressions as NumPy statements over the names in `identifiers`;
    expressions in `shared` are printed as the name of the variable that holds them."""

    def __init__(self, identifiers: Mapping[str, str], shared: Mapping[Basic, str] | None = None) -> None:
        super().__init__({"fully_qualified_modules": True, "strict": True})
        self.identifiers = identifiers
        self.shared = dict(shared or {})
        self._inline: dict[Symbol, str] = {}
        self._defining: Basic | None = None

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if isinstance(expr, Basic) and expr is not self._defining and expr in self.shared:
            return self.shared[expr]
        return super()._print(expr, **kwargs)

    def define(self, expr: Basic) -> str:
        """The code computing `expr` itself, even when it is one of the shared expressions."""
        self._defining = expr
        try:
            return self._print(expr)
        finally:
            self._defining = None

    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
        return self.identifiers[expr.name]

    def _print_Symbol(self, expr: Symbol) -> str:
        if expr in self._inline:
            return self._inline[expr]
        if expr == N:
            return "n_samples"
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol

    def _scaled(self, coeff: Expr, code: str) -> str:
        if coeff == 1:
            return code
        if coeff == -1:
            return f"(-{code})"
        printed = self._print(coeff)
        return f"({printed if coeff.is_Number else _wrap(printed)} * {code})"

    def _ones_product(self, split: tuple[Expr, MatrixExpr, int, bool]) -> str:
        """A 1 is A's row sums (A itself when A is one column), 1 A its column sums, unbroadcast."""
        coeff, mat, axis, _ = split
        if mat.shape[axis] == 1:
            return self._scaled(coeff, self._print(mat))
        return self._scaled(coeff, f"{_wrap(self._print(mat))}.sum(axis={axis}, keepdims=True)")

    def _print_MatMul(self, expr: MatMul) -> str:
        split = _ones_split(expr)
        if split is not None and not split[3]:
            return self._ones_product(split)
        coeff, factors = expr.as_coeff_matrices()
        if len(factors) == 1:
            return self._scaled(coeff, self._print(factors[0]))
        return self._scaled(coeff, "(" + " @ ".join(self._print(f) for f in factors) + ")")

    def _print_MatAdd(self, expr: MatAdd) -> str:
        """Terms that only need broadcasting (b 1^T) are left for NumPy to broadcast, next to a
        full-sized term; negative terms are subtracted."""
        splits = [_ones_split(term) for term in expr.args]
        broadcast_ok = any(split is None or not split[3] for split in splits)
        signed = []
        for term, split in zip(expr.args, splits, strict=True):
            if split is not None and split[3] and broadcast_ok:
                coeff, mat, axis, _ = split
                negative = coeff.is_negative
                signed.append((negative, self._ones_product((-coeff if negative else coeff, mat, axis, False))))
                continue
            coeff, factors = term.as_coeff_matrices() if isinstance(term, MatMul) else (1, [term])
            if getattr(coeff, "is_negative", False) and term not in self.shared:
                signed.append((True, self._print(MatMul(-coeff, *factors))))
            else:
                signed.append((False, self._print(term)))
        signed.sort(key=lambda item: item[0])  # positive terms first, each group in order
        code = signed[0][1] if not signed[0][0] else f"-{signed[0][1]}"
        for negative, part in signed[1:]:
            code += f" - {part}" if negative else f" + {part}"
        return f"({code})"

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        """Factors that are all ones (identity') are dropped; a 0/1 indicator (relu') next to a
        float factor is printed as its boolean condition."""
        factors = [f for f in expr.args if not _is_constant(f) or f.function.expr != 1] or list(expr.args[:1])
        has_float = any(not _is_indicator(f) for f in factors)
        parts = []
        for factor in factors:
            if has_float and _is_indicator(factor) and factor not in self.shared:
                parts.append(self.formula_code(factor, factor.function.expr.args[0].cond))
            else:
                parts.append(self._print(factor))
        return parts[0] if len(parts) == 1 else "(" + " * ".join(parts) + ")"

    def _print_Transpose(self, expr: Transpose) -> str:
        return f"{_wrap(self._print(expr.arg))}.T"

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        rows, cols = (self._print(dim) for dim in expr.shape)
        return f"numpy.ones(({rows}, {cols}), dtype=dtype)"

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:
        if expr.exp == -1:
            return f"1/{_wrap(self._print(expr.base))}"
        return super()._print_Pow(expr, rational=rational)

    def _print_Max(self, expr: Expr) -> str:
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr: Expr) -> str:
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, function: str, args: tuple[Expr, ...]) -> str:
        printed = self._print(args[0])
        for arg in args[1:]:
            printed = f"{function}({printed}, {self._print(arg)})"
        return printed

    def _print_Abs(self, expr: Abs) -> str:
        return f"numpy.abs({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: Heaviside) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else 0.5
        return f"numpy.heaviside({self._print(expr.args[0])}, {self._print(at_zero)})"

    def _print_Relational(self, expr: Relational) -> str:
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_Piecewise(self, expr: Piecewise) -> str:
        """Nested numpy.where, the last piece being the default."""
        if not isinstance(expr.args[-1].cond, BooleanTrue):
            return super()._print_Piecewise(expr)
        code = self._print(expr.args[-1].expr)
        for piece in reversed(expr.args[:-1]):
            code = f"numpy.where({self._print(piece.cond)}, {self._print(piece.expr)}, {code})"
        return code

    def formula_code(self, expr: Elementwise, formula: Basic) -> str:
        """`formula` (in the variables of expr's function: f itself, a part of it such as a
        condition, or a kink argument) with expr's matrices in their place."""
        undefined = formula.atoms(AppliedUndef)
        if undefined:
            name = sorted(str(f.func) for f in undefined)[0]
            raise NotComputable(
                f"the activation {name} is generic; give it a formula (activation: {{expr: ...}}) to compute numbers")
        stand_ins = {}
        for variable, mat in zip(expr.function.variables, expr.mats, strict=True):
            stand_in = Symbol(f"_{variable.name}_{id(mat)}", real=True)
            self._inline[stand_in] = _wrap(self._print(mat))
            stand_ins[variable] = stand_in
        try:
            code = self._print(formula.xreplace(stand_ins))
        finally:
            for stand_in in stand_ins.values():
                del self._inline[stand_in]
        return _wrap(code)

    def _print_Elementwise(self, expr: Elementwise) -> str:
        formula = expr.function.expr
        if not formula.free_symbols:
            rows, cols = (self._print(dim) for dim in expr.shape)
            return f"numpy.full(({rows}, {cols}), {self._print(formula)}, dtype=dtype)"
        code = self.formula_code(expr, formula)
        return f"numpy.asarray({code}, dtype=dtype)" if formula.has(Piecewise) else code

    def _print_Softmax(self, expr: Softmax) -> str:
        return f"_softmax({self._print(expr.arg)}, axis={expr.axis})"

    def _print_Indicator(self, expr: Indicator) -> str:
        relation = "numpy.greater" if expr.strict else "numpy.less_equal"
        return f"{relation}({self._print(expr.arg)}, 0).astype(dtype)"

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        return f"(({self._print(expr.base)}) ** {self._print(expr.exp)})"

    def _print_EntrySum(self, expr: EntrySum) -> str:
        code = self._print(expr.arg)
        return f"numpy.sum{code}" if code.startswith("(") and _atomic(code) else f"numpy.sum({code})"


def _python_name(name: str, fallback: str) -> str:
    """`name` itself if it is a Python identifier, else its runs of other characters as one
    underscore (s_rec^(2) -> s_rec_2), else `fallback`."""
    for candidate in (name, re.sub(r"\W+", "_", name, flags=re.ASCII).strip("_")):
        if candidate.isidentifier() and candidate.isascii() and not keyword.iskeyword(candidate):
            return candidate
    return fallback


class _Names:
    """Python names for the spec's symbols (their own where valid, else a cleaned-up spelling or
    v<i>), for each symbol's gradient (under the key "grad:<name>") and for temporaries, none
    clashing with another."""

    def __init__(self, names: list[str]) -> None:
        self.taken = {"numpy", "n_samples", "dtype", "loss", "_softmax"}
        self.ids: dict[str, str] = {}
        for i, name in enumerate(names):
            self.claim(name, _python_name(name, f"v{i}"))
        for name in names:
            self.claim(f"grad:{name}", f"grad_{self.ids[name]}")

    def claim(self, key: str, candidate: str) -> str:
        while candidate in self.taken:
            candidate = "_" + candidate
        self.ids[key] = candidate
        self.taken.add(candidate)
        return candidate


def _identifiers(names: list[str]) -> dict[str, str]:
    return _Names(names).ids


def _operands(expr: Basic) -> tuple[Basic, ...]:
    """The matrix-valued parts of an expression (never the inside of an entrywise formula)."""
    if isinstance(expr, Elementwise):
        return expr.mats
    if isinstance(expr, Softmax):
        return (expr.arg,)
    if isinstance(expr, (MatrixSymbol, OneMatrix)):
        return ()
    return tuple(a for a in expr.args if isinstance(a, (MatrixExpr, EntrySum))
                 or (isinstance(a, Expr) and a.has(EntrySum)))


def _postorder(expr: Basic) -> Iterator[Basic]:
    for operand in _operands(expr):
        yield from _postorder(operand)
    yield expr


def _worth_sharing(expr: Basic) -> bool:
    if not isinstance(expr, MatrixExpr) or isinstance(expr, (MatrixSymbol, OneMatrix)):
        return False
    if isinstance(expr, Transpose) and isinstance(expr.arg, MatrixSymbol):
        return False  # a free view
    return _ones_split(expr) is None and not _is_constant(expr)


def common_subexpressions(exprs: list[Basic]) -> list[Basic]:
    """Matrix expressions that occur more than once, inner ones before the ones holding them."""
    counts: Counter[Basic] = Counter()
    order: list[Basic] = []

    def visit(expr: Basic) -> None:
        worth = _worth_sharing(expr)
        if worth:
            counts[expr] += 1
            if counts[expr] > 1:
                return  # its parts were counted the first time
        for operand in _operands(expr):
            visit(operand)
        if worth:
            order.append(expr)

    for expr in exprs:
        visit(expr)
    return [expr for expr in order if counts[expr] > 1]


def through_output(bp: Backprop) -> dict[Basic, Basic]:
    """f_k'(s_k) -> the same derivative written through z_k = f_k(s_k), for activations that
    have one (rules.ACTIVATIONS[...].through_output): tanh' = 1 - z^2 saves a tanh per entry."""
    replacements: dict[Basic, Basic] = {}
    graph = bp.graph
    for node in graph.by_role("activation"):
        act = node.attrs["activation"]
        rule = rules.ACTIVATIONS[act.kind]
        if rule.through_output is None:
            continue
        s = bp.symbols[graph.nodes[node.inputs[0]].name]
        prime = Elementwise(node.attrs["label"], 1, rules.activation_derivative(act), s)
        replacements[prime] = Elementwise("", 0, Lambda(rules.x, rule.through_output(rules.x)), bp.symbols[node.name])
    return replacements


def kink_arguments(formula: Expr) -> list[Expr]:
    """Expressions whose sign switches the branch of a formula that is not smooth (max, min,
    abs, a condition): the formula has a kink where one of them is 0."""
    found: list[Expr] = []
    for node in preorder_traversal(formula):
        if isinstance(node, (Max, Min)):
            found += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
        elif isinstance(node, (Abs, sign, Heaviside)):
            found.append(node.args[0])
        elif isinstance(node, Relational):
            found.append(node.lhs - node.rhs)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Program:
    """Generated NumPy source for one network and the function compiled from it."""

    source: str
    arguments: tuple[str, ...]  # spec names, in the order the function takes them
    function: Callable[..., dict[str, Any]]
    kinks: tuple[str, ...] = ()  # what each entry of the result's "kinks" list measures


def function_source(bp: Backprop, name: str = "compute", backward: bool = True, kinks: bool = False,
                    docstring: str | None = None) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Print forward, loss and (with `backward`) deltas and gradients as one NumPy function.

    With `kinks`, the function also returns, for every non-smooth entrywise formula of the
    forward pass (relu, hinge, ...), the values whose sign picks its branch. `docstring` is
    written as it is (codegen escapes spec text first). Returns the source, the spec names of
    the arguments, the Python parameter names and the kink labels.
    """
    graph = bp.graph
    arguments = [node.name for node in graph.leaves]
    names = _Names(list(bp.symbols))
    ids = names.ids
    first = graph.nodes[0]
    statements: list[tuple[str, Basic]] = []
    forward, deltas, grads = [], [], []
    for node in graph.nodes:
        if node.name in bp.definitions and node.role != "loss":
            statements.append((ids[node.name], bp.definitions[node.name]))
            forward.append((node.key, ids[node.name]))
    statements.append(("loss", bp.definitions["L"]))
    kink_exprs: list[tuple[str, Elementwise, Expr]] = []
    if kinks:
        for node in graph.nodes:
            expr = bp.definitions.get(node.name)
            for elementwise in ([] if expr is None else [e for e in preorder_traversal(expr)
                                                         if isinstance(e, Elementwise)]):
                where = f"{elementwise.label or 'loss'}({', '.join(str(m) for m in elementwise.mats)})"
                for argument in kink_arguments(elementwise.function.expr):
                    kink_exprs.append((where, elementwise, argument))
    if backward:
        rewrite = through_output(bp)
        for layer, expr in bp.deltas.items():
            statements.append((ids[f"delta_{layer}"], expr.xreplace(rewrite)))
            deltas.append((f"delta_{layer}", ids[f"delta_{layer}"]))
        for param, expr in bp.gradients.items():
            statements.append((ids["grad:" + param], expr.xreplace(rewrite)))
            grads.append((param, ids["grad:" + param]))

    shared = common_subexpressions([expr for _, expr in statements])
    shared_names = {expr: names.claim(f"shared:{i}", f"common_{i + 1}") for i, expr in enumerate(shared)}
    printer = NumpyCodePrinter(ids, shared_names)
    axis = first.shape.index(BATCH)
    body = [f"n_samples = {ids[first.name]}.shape[{axis}]", f"dtype = {ids[first.name]}.dtype"]
    defined: set[Basic] = set()
    sections = {statements[0][0]: "# forward", "loss": "# loss"}
    if deltas:
        sections[ids[deltas[0][0]]] = "# backward: deltas, from the loss back"
    if grads:
        sections[grads[0][1]] = "# gradients"
    for var, expr in statements:
        if var in sections:
            body.append(sections[var])
        for part in _postorder(expr):
            if part in shared_names and part not in defined:
                body.append(f"{shared_names[part]} = {printer.define(part)}")
                defined.add(part)
        code = printer.doprint(expr)
        body.append(f"loss = float({code})" if var == "loss" else f"{var} = {code}")
    if kink_exprs:
        body.append("# kinks: the sign of each value picks a branch of a formula that is not smooth")
        body.append("kinks = [" + ", ".join(printer.formula_code(e, a) for _, e, a in kink_exprs) + "]")

    def table(pairs: list[tuple[str, str]]) -> str:
        return "{" + ", ".join(f"{key!r}: {var}" for key, var in pairs) + "}"

    result = ["'loss': loss", f"'forward': {table(forward)}"]
    if backward:
        result += [f"'delta': {table(list(reversed(deltas)))}", f"'grad': {table(grads)}"]
    if kinks:
        result.append("'kinks': " + ("kinks" if kink_exprs else "[]"))
    body += ["return {"] + [f"    {item}," for item in result] + ["}"]
    parameters = tuple(ids[arg] for arg in arguments)
    lines = [f"def {name}({', '.join(parameters)}):\n"]
    if docstring:
        lines.append(f'    """{docstring}"""\n')
    lines += [f"    {line}\n" for line in body]
    return "".join(lines), tuple(arguments), parameters, tuple(label for label, _, _ in kink_exprs)


def uses_softmax(source: str) -> bool:
    return "_softmax(" in source


def generate(bp: Backprop, backward: bool = True, kinks: bool = False) -> Program:
    """Print the network's function `compute` (see function_source) and compile it once."""
    function, arguments, _, labels = function_source(bp, backward=backward, kinks=kinks)
    source = "import numpy\n" + (HELPERS if uses_softmax(function) else "") + "\n\n" + function
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop generated>", "exec"), namespace)  # our own printed code, no user text
    return Program(source, arguments, namespace["compute"], labels)


def downstream_loss(bp: Backprop, start: str) -> Callable[[Mapping[str, Any]], tuple[float, list[Any]]]:
    """The loss as a function of the named value `start` (and of whatever else its downstream
    definitions read, taken by name), compiled once: for finite differences by a value that is not a
    leaf (dL/dz_2). The function returns the loss and, as the `kinks` of function_source, the values
    whose sign picks a branch of a formula that is not smooth."""
    graph = bp.graph
    downstream = {graph.named(start).id}
    for node in graph.nodes:
        if any(i in downstream for i in node.inputs):
            downstream.add(node.id)
    statements = [(node.name, bp.definitions[node.name]) for node in graph.nodes
                  if node.id in downstream and node.name in bp.definitions and node.name != start]
    defined = {name for name, _ in statements}
    arguments = sorted({m.name for _, expr in statements for m in expr.atoms(MatrixSymbol)} - defined)
    names = _Names([*arguments, *defined])
    printer = NumpyCodePrinter(names.ids)
    body = ["n_samples = _n_samples", "dtype = numpy.float64"]
    kinks = []
    for name, expr in statements:
        code = printer.doprint(expr)
        body.append(f"loss = float({code})" if name == "L" else f"{names.ids[name]} = {code}")
        for elementwise in (e for e in preorder_traversal(expr) if isinstance(e, Elementwise)):
            kinks += [printer.formula_code(elementwise, argument)
                      for argument in kink_arguments(elementwise.function.expr)]
    body.append("return loss, [" + ", ".join(kinks) + "]")
    parameters = [names.ids[name] for name in arguments]
    source = "import numpy\n" + HELPERS + f"\n\ndef loss_from({', '.join([*parameters, '_n_samples'])}):\n" + \
        "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop downstream>", "exec"), namespace)  # our own printed code
    function = namespace["loss_from"]
    axis = graph.nodes[0].shape.index(BATCH)

    def call(values: Mapping[str, Any]) -> tuple[float, list[Any]]:
        n_samples = np.asarray(values[graph.nodes[0].name]).shape[axis]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return function(*(np.asarray(values[name], dtype=np.float64) for name in arguments), n_samples)

    return call


def evaluate(expr: Expr, values: Mapping[str, Any], n_samples: int | None = None) -> Any:
    """The value of one matrix expression, its symbols taken from `values` by name (for
    cross-checks of one form against another; a whole network uses `generate`)."""
    return compile_expression(expr)(values, n_samples)


def compile_expression(expr: Expr) -> Callable[[Mapping[str, Any], int | None], Any]:
    """One matrix expression printed and compiled once, for many evaluations: the function
    takes its symbols' values by name and the number of samples (None if it does not use N)."""
    names = sorted(str(m.name) for m in expr.atoms(MatrixSymbol))
    ids = _identifiers(names)
    code = NumpyCodePrinter(ids).doprint(expr)
    needs_n = expr.has(N)
    source = "import numpy\n" + HELPERS + f"\n\ndef value(n_samples, {', '.join(ids[n] for n in names)}):\n" \
        f"    dtype = numpy.float64\n    return {code}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop expression>", "exec"), namespace)  # our own printed code
    function = namespace["value"]

    def value(values: Mapping[str, Any], n_samples: int | None = None) -> Any:
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(f"missing values for {', '.join(missing)}")
        if n_samples is None and needs_n:
            raise ValueError("the expression depends on N: give n_samples")
        arrays = [np.asarray(values[name], dtype=np.float64) for name in names]
        with np.errstate(over="ignore", under="ignore"):
            return function(n_samples, *arrays)

    return value


def expected_shapes(bp: Backprop, n_samples: int) -> dict[str, tuple[int, int]]:
    """The shape each argument must have for `n_samples` samples."""
    return {node.name: tuple(n_samples if d == BATCH else d for d in node.shape) for node in bp.graph.leaves}


class GradientFunction:
    """Loss, forward values, deltas and gradients for given arrays, in the spec's orientation.
    With backward=False only the loss and the forward values (what finite differences need)."""

    def __init__(self, bp: Backprop, dtype: Any = np.float64, backward: bool = True, kinks: bool = False) -> None:
        self.program = generate(bp, backward=backward, kinks=kinks)
        self.dtype = np.dtype(dtype)
        self._bp = bp
        self._batch_axis = bp.graph.nodes[0].shape.index(BATCH)
        self._shapes: dict[int, dict[str, tuple[int, int]]] = {}  # per number of samples

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def arguments(self) -> tuple[str, ...]:
        """The names of the arrays a call needs, in the spec's own spelling."""
        return self.program.arguments

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.program.arguments if name not in values]
        if missing:
            raise ValueError(f"missing values for {', '.join(missing)} (needs {', '.join(self.program.arguments)})")
        first = self.program.arguments[0]
        arrays = {name: np.asarray(values[name], dtype=self.dtype) for name in self.program.arguments}
        if arrays[first].ndim != 2:
            raise ValueError(f"{first} must be 2-D, got shape {arrays[first].shape}")
        n_samples = arrays[first].shape[self._batch_axis]
        shapes = self._shapes.get(n_samples) or self._shapes.setdefault(n_samples, expected_shapes(self._bp, n_samples))
        for name, array in arrays.items():
            if array.shape != shapes[name]:
                raise ValueError(f"{name} has shape {array.shape}, expected {shapes[name]}")
        with np.errstate(over="ignore", under="ignore"):
            return self.program.function(*(arrays[name] for name in self.program.arguments))
