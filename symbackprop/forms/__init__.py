"""Every form of a derivation, built on demand from the engine's result:

chain       products of partials along each path, the part up to a delta grouped under it
symbolic    every partial evaluated, every delta substituted
simplified  activation derivatives in closed form, through named deltas and activations
matrix      named deltas, transposes and Hadamard products in the spec's orientation
index       entry by entry, with explicit sums over units and samples
"""

from __future__ import annotations

from functools import cached_property

from sympy import Expr, Symbol
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.derive import Backprop, adjoint, sympy_shape
from symbackprop.forms.chain import ChainBuilder, Partial
from symbackprop.forms.index import IndexForm, entry_form, index_form
from symbackprop.forms.simplified import Simplifier
from symbackprop.options import FORMS


class FormBuilder:
    """Computes each form of each target once, when first asked for."""

    def __init__(self, bp: Backprop) -> None:
        self.bp = bp
        self._cache: dict[tuple, Expr | IndexForm] = {}

    @cached_property
    def _substituted(self) -> tuple[dict[str, Expr], dict[str, Expr]]:
        return self.bp.substituted()

    @cached_property
    def _chain(self) -> ChainBuilder:
        return ChainBuilder(self.bp)

    @cached_property
    def _simplifier(self) -> Simplifier:
        return Simplifier(self.bp)

    @cached_property
    def _full_deltas(self) -> dict[MatrixSymbol, Expr]:
        deltas, _ = self._substituted
        return {self.bp.delta_symbol(key): expr for key, expr in deltas.items()}

    def adjoint(self, name: str) -> Expr:
        """dL/d(name) in matrix form, through deltas; raises ValueError when the loss does not depend on it."""
        cache_key = ("adjoint", name, "matrix")
        if cache_key not in self._cache:
            self._cache[cache_key] = adjoint(self.bp, name)
        return self._cache[cache_key]

    def reaches_loss(self, name: str) -> bool:
        try:
            self.adjoint(name)
        except ValueError:
            return False
        return True

    def value_of(self, kind: str, key: str) -> str:
        """The named value a target differentiates by: the parameter, s_k for a delta, the value itself."""
        if kind == "delta":
            return next(node.name for node in self.bp.graph.by_role("preactivation") if node.delta_key == key)
        return key

    def _index_names(self, kind: str, key: str) -> tuple[str, str]:
        """j for units, i for a layer's inputs, n for samples, in the spec's orientation."""
        convention = self.bp.graph.spec.convention
        if kind in ("delta", "adjoint"):
            return ("j", "n") if convention.samples == "columns" else ("n", "j")
        role = self.bp.graph.named(key).role
        if role == "bias":
            return ("j", "i") if convention.samples == "columns" else ("i", "j")
        return ("j", "i") if convention.weights == "out_in" else ("i", "j")

    def form(self, kind: str, key: str, form: str) -> Expr | IndexForm:
        """Form `form` of the delta of layer `key` (kind "delta") or of dL/d`key` ("gradient")."""
        cache_key = (kind, key, form)
        if cache_key not in self._cache:
            self._cache[cache_key] = self._build(kind, key, form)
        return self._cache[cache_key]

    def _build(self, kind: str, key: str, form: str) -> Expr | IndexForm:
        delta = kind == "delta"
        matrix = self.bp.deltas[key] if delta else self.adjoint(key) if kind == "adjoint" else self.bp.gradients[key]
        if form == "matrix":
            return matrix
        if form == "symbolic":
            if kind == "adjoint":
                return matrix.xreplace(self._full_deltas)
            deltas, gradients = self._substituted
            return deltas[key] if delta else gradients[key]
        if form == "chain":
            return self._chain.delta(key) if delta else self._chain.gradient(key)
        if form == "simplified":
            return self._simplifier.delta(key) if delta else self._simplifier.simplify(matrix)
        if form == "index":
            return index_form(matrix, self._index_names(kind, key))
        raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")

    def entry_form(self, kind: str, key: str, form: str, entry: tuple[Expr, Expr]) -> Expr:
        """Form `form` of one entry (row, column; 0-based numbers or free index letters) of a target:
        the chain ends in the partial by that entry, every other form is written entry by entry (the
        index form is the matrix form's entry)."""
        cache_key = (kind, key, form, entry)
        if cache_key not in self._cache:
            if form == "chain":
                name = self.value_of(kind, key)
                node = self.bp.graph.named(name)
                symbol = self.bp.symbols.get(name) or MatrixSymbol(name, *sympy_shape(node.shape))
                element = symbol[entry]
                chain = self.form(kind, key, "chain")
                self._cache[cache_key] = chain.replace(
                    lambda e: isinstance(e, Partial) and e.denominator == symbol,
                    lambda e: Partial(e.numerator, element))
            else:
                whole = self.form(kind, key, "matrix" if form == "index" else form)
                self._cache[cache_key] = entry_form(whole, entry, {s.name for s in entry if isinstance(s, Symbol)})
        return self._cache[cache_key]
