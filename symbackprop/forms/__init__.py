"""Every form of a derivation, built on demand from the engine's result:

chain       products of partials along each path, the part up to a delta grouped under it
symbolic    every partial evaluated, every delta substituted
simplified  activation derivatives in closed form, through named deltas and activations
matrix      named deltas, transposes and Hadamard products in the spec's orientation
index       entry by entry, with explicit sums over units and samples
"""

from __future__ import annotations

from functools import cached_property

from sympy import Expr

from symbackprop.derive import Backprop
from symbackprop.forms.chain import ChainBuilder
from symbackprop.forms.index import IndexForm, index_form
from symbackprop.forms.simplified import Simplifier
from symbackprop.options import FORMS


class FormBuilder:
    """Computes each form of each target once, when first asked for."""

    def __init__(self, bp: Backprop) -> None:
        self.bp = bp
        self._cache: dict[tuple[str, str, str], Expr | IndexForm] = {}

    @cached_property
    def _substituted(self) -> tuple[dict[str, Expr], dict[str, Expr]]:
        return self.bp.substituted()

    @cached_property
    def _chain(self) -> ChainBuilder:
        return ChainBuilder(self.bp)

    @cached_property
    def _simplifier(self) -> Simplifier:
        return Simplifier(self.bp)

    def _index_names(self, kind: str, key: str) -> tuple[str, str]:
        """j for units, i for a layer's inputs, n for samples, in the spec's orientation."""
        convention = self.bp.graph.spec.convention
        if kind == "delta":
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
        matrix = self.bp.deltas[key] if delta else self.bp.gradients[key]
        if form == "matrix":
            return matrix
        if form == "symbolic":
            deltas, gradients = self._substituted
            return deltas[key] if delta else gradients[key]
        if form == "chain":
            return self._chain.delta(key) if delta else self._chain.gradient(key)
        if form == "simplified":
            return self._simplifier.delta(key) if delta else self._simplifier.simplify(matrix)
        if form == "index":
            return index_form(matrix, self._index_names(kind, key))
        raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
