"""Numbers from a derivation: the forward equations, deltas and gradients printed once as
NumPy code (a SymPy printer subclass) and compiled, so a call does no symbolic work."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sympy import Expr, Symbol
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose
from sympy.printing.numpy import NumPyPrinter

from symbackprop.derive import Backprop, N
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise, EntrySum, Softmax

HELPERS = '''
def _softmax(s, axis):
    shifted = numpy.exp(s - numpy.max(s, axis=axis, keepdims=True))
    return shifted / numpy.sum(shifted, axis=axis, keepdims=True)
'''


class NotComputable(ValueError):
    """The derivation holds something with no numeric value (a generic activation f_k)."""


class NumpyCodePrinter(NumPyPrinter):
    """Prints matrix expressions as NumPy statements over the names in `identifiers`."""

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
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol

    def _print_MatMul(self, expr: MatMul) -> str:
        coeff, factors = expr.as_coeff_matrices()
        product = "(" + " @ ".join(self._print(f) for f in factors) + ")"
        return product if coeff == 1 else f"({self._print(coeff)} * {product})"

    def _print_Max(self, expr: Expr) -> str:
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr: Expr) -> str:
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, function: str, args: tuple[Expr, ...]) -> str:
        printed = self._print(args[0])
        for arg in args[1:]:
            printed = f"{function}({printed}, {self._print(arg)})"
        return printed

    def _print_MatAdd(self, expr: MatAdd) -> str:
        return "(" + " + ".join(self._print(term) for term in expr.args) + ")"

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        return "(" + " * ".join(self._print(arg) for arg in expr.args) + ")"

    def _print_Transpose(self, expr: Transpose) -> str:
        return f"({self._print(expr.arg)}).T"

    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        rows, cols = (self._print(dim) for dim in expr.shape)
        return f"numpy.ones(({rows}, {cols}), dtype=dtype)"

    def _print_Elementwise(self, expr: Elementwise) -> str:
        formula = expr.function.expr
        undefined = formula.atoms(AppliedUndef)
        if undefined:
            name = sorted(str(f.func) for f in undefined)[0]
            raise NotComputable(
                f"the activation {name} is generic; give it a formula (activation: {{expr: ...}}) to compute numbers")
        stand_ins = {}
        for variable, mat in zip(expr.function.variables, expr.mats, strict=True):
            stand_in = Symbol(f"_{variable.name}_{id(mat)}", real=True)
            self._inline[stand_in] = f"({self._print(mat)})"
            stand_ins[variable] = stand_in
        try:
            return f"numpy.asarray({self._print(formula.xreplace(stand_ins))}, dtype=dtype)"
        finally:
            for stand_in in stand_ins.values():
                del self._inline[stand_in]

    def _print_Softmax(self, expr: Softmax) -> str:
        return f"_softmax({self._print(expr.arg)}, axis={expr.axis})"

    def _print_EntrySum(self, expr: EntrySum) -> str:
        return f"numpy.sum({self._print(expr.arg)})"


def _identifiers(names: list[str]) -> dict[str, str]:
    """Python names for the spec's symbols (their own where valid, else v<i>) and for each
    symbol's gradient (under the key "grad:<name>"), none clashing with another."""
    taken = {"numpy", "n_samples", "dtype", "loss", "_softmax"}
    ids: dict[str, str] = {}

    def claim(key: str, candidate: str) -> None:
        while candidate in taken:
            candidate = "_" + candidate
        ids[key] = candidate
        taken.add(candidate)

    for i, name in enumerate(names):
        claim(name, name if name.isidentifier() and not keyword.iskeyword(name) else f"v{i}")
    for name in names:
        claim(f"grad:{name}", f"grad_{ids[name]}")
    return ids


@dataclass(frozen=True)
class Program:
    """Generated NumPy source for one network and the function compiled from it."""

    source: str
    arguments: tuple[str, ...]  # spec names, in the order the function takes them
    function: Callable[..., dict[str, Any]]


def generate(bp: Backprop) -> Program:
    """Print forward, loss, deltas and gradients as one NumPy function `compute`."""
    graph = bp.graph
    arguments = [node.name for node in graph.nodes if node.role in ("input", "target", "weight", "bias")]
    ids = _identifiers(list(bp.symbols))
    printer = NumpyCodePrinter(ids)
    first = graph.nodes[0]
    axis = first.shape.index(BATCH)
    body = [f"n_samples = {ids[first.name]}.shape[{axis}]", f"dtype = {ids[first.name]}.dtype"]
    forward, deltas = [], []
    for node in graph.nodes:
        if node.name in bp.definitions and node.role != "loss":
            body.append(f"{ids[node.name]} = {printer.doprint(bp.definitions[node.name])}")
            forward.append((node.key, ids[node.name]))
    body.append(f"loss = float({printer.doprint(bp.definitions['L'])})")
    for layer, expr in bp.deltas.items():
        name = f"delta_{layer}"
        body.append(f"{ids[name]} = {printer.doprint(expr)}")
        deltas.append((name, ids[name]))
    grads = []
    for param, expr in bp.gradients.items():
        body.append(f"{ids['grad:' + param]} = {printer.doprint(expr)}")
        grads.append((param, ids["grad:" + param]))

    def table(pairs: list[tuple[str, str]]) -> str:
        return "{" + ", ".join(f"{key!r}: {var}" for key, var in pairs) + "}"

    body.append(f"return {{'loss': loss, 'forward': {table(forward)}, "
                f"'delta': {table(list(reversed(deltas)))}, 'grad': {table(grads)}}}")
    signature = ", ".join(ids[name] for name in arguments)
    source = "import numpy\n" + HELPERS + f"\n\ndef compute({signature}):\n" + "".join(f"    {line}\n" for line in body)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop generated>", "exec"), namespace)  # our own printed code, no user text
    return Program(source, tuple(arguments), namespace["compute"])


def evaluate(expr: Expr, values: Mapping[str, Any], n_samples: int | None = None) -> Any:
    """The value of one matrix expression, its symbols taken from `values` by name (for
    cross-checks of one form against another; a whole network uses `generate`)."""
    names = sorted(str(m.name) for m in expr.atoms(MatrixSymbol))
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"missing values for {', '.join(missing)}")
    ids = _identifiers(names)
    code = NumpyCodePrinter(ids).doprint(expr)
    arrays = {ids[name]: np.asarray(values[name], dtype=np.float64) for name in names}
    if n_samples is None and expr.has(N):
        raise ValueError("the expression depends on N: give n_samples")
    source = "import numpy\n" + HELPERS + f"\n\ndef value({', '.join(arrays)}):\n" \
        f"    n_samples = {n_samples}\n    dtype = numpy.float64\n    return {code}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<symbackprop expression>", "exec"), namespace)  # our own printed code
    with np.errstate(over="ignore", under="ignore"):
        return namespace["value"](**arrays)


def expected_shapes(bp: Backprop, n_samples: int) -> dict[str, tuple[int, int]]:
    """The shape each argument must have for `n_samples` samples."""
    shapes = {}
    for node in bp.graph.nodes:
        if node.role in ("input", "target", "weight", "bias"):
            shapes[node.name] = tuple(n_samples if d == BATCH else d for d in node.shape)
    return shapes


class GradientFunction:
    """Loss, forward values, deltas and gradients for given arrays, in the spec's orientation."""

    def __init__(self, bp: Backprop, dtype: Any = np.float64) -> None:
        self.program = generate(bp)
        self.dtype = np.dtype(dtype)
        self._bp = bp
        self._batch_axis = bp.graph.nodes[0].shape.index(BATCH)

    @property
    def source(self) -> str:
        return self.program.source

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.program.arguments if name not in values]
        if missing:
            raise ValueError(f"missing values for {', '.join(missing)} (needs {', '.join(self.program.arguments)})")
        first = self.program.arguments[0]
        arrays = {name: np.asarray(values[name], dtype=self.dtype) for name in self.program.arguments}
        if arrays[first].ndim != 2:
            raise ValueError(f"{first} must be 2-D, got shape {arrays[first].shape}")
        shapes = expected_shapes(self._bp, arrays[first].shape[self._batch_axis])
        for name, array in arrays.items():
            if array.shape != shapes[name]:
                raise ValueError(f"{name} has shape {array.shape}, expected {shapes[name]}")
        with np.errstate(over="ignore", under="ignore"):
            return self.program.function(*(arrays[name] for name in self.program.arguments))
