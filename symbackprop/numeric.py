"""Numbers from a derivation on NumPy: `GradientFunction`, the compiled forward and backward pass
that gradient_fn(), numeric, gradcheck and verify run, and `evaluate` for a single formula.

A network is printed once as an array program (symbackprop.program) by the NumPy backend's
printer (symbackprop.backends.numpy_backend) and compiled, so a call does no symbolic work; a
call checks its arguments' shapes once per shape signature, not every time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sympy import Abs, Basic, Expr, Heaviside, Piecewise, Symbol, preorder_traversal
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

from symbackprop.backends import numpy_backend, runtime
from symbackprop.backends.base import atomic, wrap
from symbackprop.derive import Backprop, N
from symbackprop.graph import BATCH
from symbackprop.matexpr import Diag, Elementwise, EntrySum, Indicator, Softmax
from symbackprop.program import (
    CodeNames,
    NotComputable,
    SelectionIndex,
    build,
    kink_arguments,
    ones_split,
    selection_indices,
    through_output,
)

__all__ = [
    "GradientFunction",
    "NotComputable",
    "Program",
    "evaluate",
    "evaluate_all",
    "generate",
    "kink_arguments",
    "through_output",
]


def _is_indicator(expr: Basic) -> bool:
    """An Elementwise that is 1 where a condition holds and 0 elsewhere (relu')."""
    if not isinstance(expr, Elementwise):
        return False
    formula = expr.function.expr
    return (
        isinstance(formula, Piecewise)
        and len(formula.args) == 2
        and formula.args[0].expr == 1
        and formula.args[1].expr == 0
        and isinstance(formula.args[1].cond, BooleanTrue)
    )


def _is_constant(expr: Basic) -> bool:
    return isinstance(expr, Elementwise) and not expr.function.expr.free_symbols


class NumpyCodePrinter(NumPyPrinter):  # type: ignore[misc]  # SymPy has no py.typed: its classes are Any
    """Prints one matrix expression as NumPy code over the names in `identifiers`: how `evaluate`
    computes a single formula (a form, a student's answer). Whole networks are printed as
    array programs instead (symbackprop.program and symbackprop.backends)."""

    def __init__(self, identifiers: Mapping[str, str]) -> None:
        super().__init__({"fully_qualified_modules": True, "strict": True})
        self.identifiers = identifiers
        self._inline: dict[Symbol, str] = {}

    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
        return self.identifiers[expr.name]

    def _print_Symbol(self, expr: Symbol) -> str:
        if expr in self._inline:
            return self._inline[expr]
        if expr == N:
            return "n_samples"
        return cast(str, super()._print_Symbol(expr))

    _print_Dummy = _print_Symbol

    def _scaled(self, coeff: Expr, code: str) -> str:
        if coeff == 1:
            return code
        if coeff == -1:
            return f"(-{code})"
        printed = self._print(coeff)
        return f"({printed if coeff.is_Number else wrap(printed)} * {code})"

    def _ones_product(self, split: tuple[Expr, MatrixExpr, int, bool]) -> str:
        """A 1 is A's row sums (A itself when A is one column), 1 A its column sums, unbroadcast."""
        coeff, mat, axis, _ = split
        if mat.shape[axis] == 1:
            return self._scaled(coeff, self._print(mat))
        return self._scaled(coeff, f"{wrap(self._print(mat))}.sum(axis={axis}, keepdims=True)")

    def _print_MatMul(self, expr: MatMul) -> str:
        split = ones_split(expr)
        if split is not None and not split[3]:
            return self._ones_product(split)
        coeff, factors = expr.as_coeff_matrices()
        if len(factors) == 1:
            return self._scaled(coeff, self._print(factors[0]))
        return self._scaled(coeff, "(" + " @ ".join(self._print(f) for f in factors) + ")")

    def _print_MatAdd(self, expr: MatAdd) -> str:
        """Terms that only need broadcasting (b 1^T) are left for NumPy to broadcast, next to a
        full-sized term; negative terms are subtracted."""
        splits = [ones_split(term) for term in expr.args]
        broadcast_ok = any(split is None or not split[3] for split in splits)
        signed = []
        for term, split in zip(expr.args, splits, strict=True):
            if split is not None and split[3] and broadcast_ok:
                coeff, mat, axis, _ = split
                negative = coeff.is_negative
                signed.append((negative, self._ones_product((-coeff if negative else coeff, mat, axis, False))))
                continue
            coeff, factors = term.as_coeff_matrices() if isinstance(term, MatMul) else (1, [term])
            if getattr(coeff, "is_negative", False):
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
            if has_float and _is_indicator(factor):
                parts.append(self.formula_code(factor, factor.function.expr.args[0].cond))
            else:
                parts.append(self._print(factor))
        return parts[0] if len(parts) == 1 else "(" + " * ".join(parts) + ")"

    def _print_Transpose(self, expr: Transpose) -> str:
        return f"{wrap(self._print(expr.arg))}.T"

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        rows, cols = (self._print(dim) for dim in expr.shape)
        return f"numpy.ones(({rows}, {cols}), dtype=dtype)"

    def _print_Pow(self, expr: Expr, rational: bool = False) -> str:
        if expr.exp == -1:
            return f"1/{wrap(self._print(expr.base))}"
        return cast(str, super()._print_Pow(expr, rational=rational))

    def _print_Max(self, expr: Expr) -> str:
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr: Expr) -> str:
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, function: str, args: tuple[Expr, ...]) -> str:
        printed: str = self._print(args[0])
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
            return cast(str, super()._print_Piecewise(expr))
        code: str = self._print(expr.args[-1].expr)
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
                f"the activation {name} is generic; give it a formula (activation: {{expr: ...}}) to compute numbers"
            )
        stand_ins = {}
        for variable, mat in zip(expr.function.variables, expr.mats, strict=True):
            stand_in = Symbol(f"_{variable.name}_{len(self._inline)}", real=True)  # unique while nested: f(s, g(s))
            self._inline[stand_in] = wrap(self._print(mat))
            stand_ins[variable] = stand_in
        try:
            code = self._print(formula.xreplace(stand_ins))
        finally:
            for stand_in in stand_ins.values():
                del self._inline[stand_in]
        return wrap(code)

    def _print_Elementwise(self, expr: Elementwise) -> str:
        formula = expr.function.expr
        if not formula.free_symbols:
            rows, cols = (self._print(dim) for dim in expr.shape)
            return f"numpy.full(({rows}, {cols}), {self._print(formula)}, dtype=dtype)"
        code = self.formula_code(expr, formula)
        return f"numpy.asarray({code}, dtype=dtype)" if formula.has(Piecewise) else code

    def _print_Softmax(self, expr: Softmax) -> str:
        return f"_softmax({self._print(expr.arg)}, axis={expr.axis})"

    def _print_Diag(self, expr: Diag) -> str:
        """diag(v) of one sample's v: numpy.squeeze raises for a v of several samples rather than guess one."""
        return f"numpy.diag(numpy.squeeze({self._print(expr.arg)}, axis={1 - expr.axis}))"

    def _print_Indicator(self, expr: Indicator) -> str:
        relation = "numpy.greater" if expr.strict else "numpy.less_equal"
        return f"{relation}({self._print(expr.arg)}, 0).astype(dtype)"

    def _print_HadamardPower(self, expr: HadamardPower) -> str:
        return f"(({self._print(expr.base)}) ** {self._print(expr.exp)})"

    def _print_EntrySum(self, expr: EntrySum) -> str:
        code = self._print(expr.arg)
        return f"numpy.sum{code}" if code.startswith("(") and atomic(code) else f"numpy.sum({code})"


@dataclass(frozen=True)
class Program:
    """Generated NumPy source for one network and the function compiled from it."""

    source: str
    arguments: tuple[str, ...]  # spec names, in the order the function takes them
    function: Callable[..., dict[str, Any]]
    kinks: tuple[str, ...] = ()  # what each entry of the result's "kinks" list measures


def generate(
    bp: Backprop,
    backward: bool = True,
    kinks: bool = False,
    selections: Mapping[str, SelectionIndex] | None = None,
    gradients_only: bool = False,
) -> Program:
    """Print the network's function `compute` (see program.build) and compile it once."""
    program = build(bp, backward=backward, kinks=kinks, selections=selections, interleave=gradients_only)
    helpers, function = numpy_backend.source(program, gradients_only=gradients_only)
    source = "import numpy\n" + helpers + "\n\n" + function
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop generated>", "exec"), namespace)  # our own printed code, no user text
    return Program(source, program.arguments, namespace["compute"], program.kink_labels)


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
    statements = [
        (node.name, bp.definitions[node.name])
        for node in graph.nodes
        if node.id in downstream and node.name in bp.definitions and node.name != start
    ]
    defined = {name for name, _ in statements}
    arguments = sorted({m.name for _, expr in statements for m in expr.atoms(MatrixSymbol)} - defined)
    names = CodeNames([*arguments, *defined])
    printer = NumpyCodePrinter(names.ids)
    body = ["n_samples = _n_samples", "dtype = numpy.float64"]
    kinks = []
    for name, expr in statements:
        code = printer.doprint(expr)
        body.append(f"loss = float({code})" if name == "L" else f"{names.ids[name]} = {code}")
        for elementwise in (e for e in preorder_traversal(expr) if isinstance(e, Elementwise)):
            kinks += [
                printer.formula_code(elementwise, argument) for argument in kink_arguments(elementwise.function.expr)
            ]
    body.append("return loss, [" + ", ".join(kinks) + "]")
    parameters = [names.ids[name] for name in arguments]
    source = (
        "import numpy\n"
        + numpy_backend.HELPERS["_softmax"]
        + f"\n\ndef loss_from({', '.join([*parameters, '_n_samples'])}):\n"
        + "".join(f"    {line}\n" for line in body)
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop downstream>", "exec"), namespace)  # our own printed code
    function = namespace["loss_from"]
    axis = graph.nodes[0].shape.index(BATCH)

    def call(values: Mapping[str, Any]) -> tuple[float, list[Any]]:
        n_samples = np.asarray(values[graph.nodes[0].symbol_name]).shape[axis]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            arrays = (np.asarray(values[name], dtype=np.float64) for name in arguments)
            return cast(tuple[float, list[Any]], function(*arrays, n_samples))

    return call


def evaluate(expr: Expr, values: Mapping[str, Any], n_samples: int | None = None) -> Any:
    """The value of one matrix expression, its symbols taken from `values` by name (for
    cross-checks of one form against another; a whole network uses `generate`)."""
    return compile_expression(expr)(values, n_samples)


def evaluate_all(exprs: Sequence[Expr], values: Mapping[str, Any], n_samples: int | None = None) -> list[Any]:
    """evaluate() of several expressions at once, each part they share computed once."""
    return compile_expressions(exprs)(values, n_samples)


#: Deepest part of an expression printed as one Python expression (in tree levels, each at most a
#: few parentheses): Python's parser refuses more than 200 nested parentheses, which the symbolic
#: form of a 100-layer chain reaches; anything deeper is computed in steps.
MAX_NESTING = 24
#: The key under which CodeNames holds the name of the k-th step (no spec name has a colon).
_STEP = "step:{}"


def _in_steps(exprs: list[Expr]) -> tuple[list[tuple[MatrixSymbol, Expr]], list[Basic], set[Basic]]:
    """`exprs` as assignments to new matrix symbols and last expressions, none of them nested deeper
    than MAX_NESTING: each matrix-valued part that reaches that depth becomes a step of its own,
    computed once however often it occurs (the symbolic forms of a chain's targets share their
    deltas, so their steps are linear in depth); and the matrices and symbols they read. Each
    distinct part is visited once, iteratively, so no depth reaches Python's recursion limit."""
    done: dict[Basic, tuple[Basic, int]] = {}  # part -> (what stands for it, its depth as printed)
    read: set[Basic] = set()
    steps: list[tuple[MatrixSymbol, Expr]] = []
    stack: list[tuple[Basic, bool]] = [(expr, False) for expr in reversed(exprs)]
    while stack:
        node, visited = stack.pop()
        if node in done:
            continue
        if not visited:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in done)
            continue
        if isinstance(node, (MatrixSymbol, Symbol)):
            read.add(node)
        args = [done[arg][0] for arg in node.args]
        depth = 1 + max((done[arg][1] for arg in node.args), default=0)
        rebuilt = node.func(*args) if any(a is not b for a, b in zip(args, node.args, strict=True)) else node
        if depth >= MAX_NESTING and isinstance(node, MatrixExpr) and node.args:
            step = MatrixSymbol(_STEP.format(len(steps)), *node.shape)
            steps.append((step, rebuilt))
            rebuilt, depth = step, 1
        done[node] = (rebuilt, depth)
    return steps, [done[expr][0] for expr in exprs], read


def compile_expressions(exprs: Sequence[Expr]) -> Callable[[Mapping[str, Any], int | None], list[Any]]:
    """Matrix expressions printed and compiled once, together, for many evaluations: the function
    takes their symbols' values by name and the number of samples (None if none uses N) and returns
    their values in order. A deep expression is computed in steps, a part they share once (_in_steps)."""
    exprs = list(exprs)
    steps, lasts, read = _in_steps(exprs)
    names = sorted(str(m.name) for m in read if isinstance(m, MatrixSymbol))
    code_names = CodeNames(names)
    for step, _ in steps:
        code_names.claim(step.name, f"_t{step.name.removeprefix(_STEP.format(''))}")
    ids = code_names.ids
    printer = NumpyCodePrinter(ids)
    body = "".join(f"    {ids[step.name]} = {printer.doprint(part)}\n" for step, part in steps)
    results = ", ".join(printer.doprint(last) for last in lasts)
    needs_n = N in read
    source = (
        "import numpy\n"
        + numpy_backend.HELPERS["_softmax"]
        + f"\n\ndef value(n_samples, {', '.join(ids[n] for n in names)}):\n"
        f"    dtype = numpy.float64\n{body}    return [{results}]\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop expression>", "exec"), namespace)  # our own printed code
    function = namespace["value"]

    def value(values: Mapping[str, Any], n_samples: int | None = None) -> list[Any]:
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(f"missing values for {', '.join(missing)}")
        if n_samples is None and needs_n:
            raise ValueError("the expression depends on N: give n_samples")
        arrays = [np.asarray(values[name], dtype=np.float64) for name in names]
        with np.errstate(over="ignore", under="ignore"):
            return cast(list[Any], function(n_samples, *arrays))

    return value


def compile_expression(expr: Expr) -> Callable[[Mapping[str, Any], int | None], Any]:
    """One matrix expression printed and compiled once, for many evaluations: the function
    takes its symbols' values by name and the number of samples (None if it does not use N)."""
    values = compile_expressions([expr])

    def value(given: Mapping[str, Any], n_samples: int | None = None) -> Any:
        return values(given, n_samples)[0]

    return value


def blas_threads(threads: int) -> Callable[[Callable[..., Any], list[Any]], Any]:
    """A runner that calls a function with NumPy's BLAS limited to `threads` threads, restoring
    the previous number after the call (threadpoolctl's controllers, looked up once)."""
    from threadpoolctl import ThreadpoolController

    libraries = ThreadpoolController().select(user_api="blas").lib_controllers

    def run(function: Callable[..., Any], arrays: list[Any]) -> Any:
        previous = [library.num_threads for library in libraries]
        for library in libraries:
            library.set_num_threads(threads)
        try:
            return function(*arrays)
        finally:
            for library, count in zip(libraries, previous, strict=True):
                library.set_num_threads(count)

    return run


class GradientFunction:
    """Loss, forward values, deltas and gradients for given arrays, in the spec's orientation.

    backward=False: only the loss and the forward values (what finite differences need);
    kinks: also the kink values gradcheck watches; gradients_only: only the loss and the
    gradients, every other array freed as soon as it is used. `selections` maps a fixed matrix's
    name to its value where that is a 0/1 selection: its products are compiled as slices, used
    whenever a call passes that very matrix. `threads` limits NumPy's BLAS threads during a call;
    `quiet` silences NumPy's overflow warnings (numeric, gradcheck and verify want that; a user's
    gradient_fn() keeps NumPy's defaults, as hand-written code would)."""

    def __init__(
        self,
        bp: Backprop,
        dtype: Any = np.float64,
        backward: bool = True,
        kinks: bool = False,
        selections: Mapping[str, Any] | None = None,
        gradients_only: bool = False,
        threads: int | None = None,
        quiet: bool = True,
    ) -> None:
        runtime.check_threads(threads)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype {self.dtype}: expected a floating-point type such as float64 or float32")
        self._bp = bp
        self._options: dict[str, Any] = {"backward": backward, "kinks": kinks, "gradients_only": gradients_only}
        selections = selections or {}
        indices = selection_indices(selections)
        self.program = generate(bp, selections=indices, **self._options)
        self._general: Program | None = None if indices else self.program
        self._names = self.program.arguments
        self._selected = [(self._names.index(name), np.asarray(selections[name], dtype=self.dtype)) for name in indices]
        self._signatures: set[tuple[tuple[int, ...], ...]] = set()
        run = blas_threads(threads) if threads is not None else None
        if quiet:
            inner = run

            def run(function: Callable[..., Any], arrays: list[Any]) -> Any:
                with np.errstate(over="ignore", under="ignore"):
                    return function(*arrays) if inner is None else inner(function, arrays)

        self._run = run  # None: call the generated function directly

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def arguments(self) -> tuple[str, ...]:
        """The names of the arrays a call needs, in the spec's own spelling."""
        return self._names

    def convert(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The arguments as arrays of this function's dtype, converted once: pass the result to
        every call (a float32 function given float64 arrays would convert them at each call)."""
        return {
            name: np.asarray(value, dtype=self.dtype)
            for name, value in zip(self._names, runtime.arguments(values, self._names), strict=True)
        }

    def general(self) -> Program:
        """The program with every fixed matrix multiplied as a matrix (for a call that passes a
        fixed matrix other than the selection it was compiled for)."""
        if self._general is None:
            self._general = generate(self._bp, **self._options)
        return self._general

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            arrays = [values[name] for name in self._names]
        except KeyError:
            arrays = runtime.arguments(values, self._names)  # raises, naming what is missing
        dtype = self.dtype
        for i, array in enumerate(arrays):
            if type(array) is not np.ndarray or array.dtype is not dtype:
                arrays[i] = np.asarray(array, dtype=dtype)
        signature = tuple([array.shape for array in arrays])
        if signature not in self._signatures:
            runtime.check_shapes(self._bp, self._names, arrays)
            self._signatures.add(signature)
        function = self.program.function
        for i, expected in self._selected:
            if arrays[i] is not expected and not np.array_equal(arrays[i], expected):
                function = self.general().function
        if self._run is None:
            return function(*arrays)
        return cast(dict[str, Any], self._run(function, arrays))
