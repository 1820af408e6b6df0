"""Every form of a derivation, built on demand from the engine's result:

chain       products of partials along each path, the part up to a delta grouped under it
symbolic    every partial evaluated, every delta substituted
simplified  activation derivatives in closed form, through named deltas and activations
matrix      named deltas, transposes and Hadamard products in the spec's orientation
index       entry by entry, with explicit sums over units and samples
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sympy import Expr, Symbol, preorder_traversal
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.derive import Backprop, adjoint, sympy_shape
from symbackprop.forms.chain import ChainBuilder, Partial
from symbackprop.forms.index import IndexForm, entry_form, index_form
from symbackprop.forms.simplified import Simplifier
from symbackprop.options import FORMS

#: Most nodes a symbolic (fully substituted) form may have. Every delta is written out in full
#: wherever it occurs, so the form grows with depth (a 2-unit sigmoid layer adds about 33 nodes)
#: and, where layers read more than one earlier layer, exponentially (layers that each read the
#: two before them: 1.9 times per layer); the matrix form, which names its deltas, never grows.
#: Printed, a node takes about 2.7 characters of LaTeX: past this limit a line is longer than
#: the answer parser reads back (verify.limits, 4,000 characters), and no longer helps a reader.
MAX_SYMBOLIC = 1_200
#: Most partials a chain form may hold. Its grouped part spells out every path from the loss,
#: so a chain of depth d holds about 2d partials per target and layers that read several earlier
#: layers multiply the paths (the two before them: 1.6 times per layer); past this a line is
#: longer than the answer parser reads back (verify.limits) and no longer helps a reader.
MAX_CHAIN = 64


class FormTooLarge(ValueError):
    """A form too large to write out (`size` nodes): the message says how large and what to use instead."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class FormBuilder:
    """Computes each form of each target once, when first asked for."""

    def __init__(self, bp: Backprop) -> None:
        self.bp = bp
        self._cache: dict[tuple[Any, ...], Expr | IndexForm] = {}

    @cached_property
    def _delta_keys(self) -> dict[MatrixSymbol, str]:
        return {self.bp.delta_symbol(key): key for key in self.bp.deltas}

    @cached_property
    def _expanded_sizes(self) -> dict[str, int]:
        """The node count of every delta with every delta in it substituted, counted, not built."""
        sizes: dict[str, int] = {}
        for key, expr in self.bp.deltas.items():  # from the loss backwards
            sizes[key] = self._expanded_size(expr, sizes)
        return sizes

    def _expanded_size(self, expr: Expr, sizes: dict[str, int]) -> int:
        return sum(
            sizes[self._delta_keys[node]] if node in self._delta_keys else 1 for node in preorder_traversal(expr)
        )

    def _substituted(self, expr: Expr) -> Expr:
        """`expr` with every delta replaced by its full expression, each delta built once, on demand
        (as Backprop.substituted does for all at once)."""
        keys = [self._delta_keys[s] for s in expr.atoms(MatrixSymbol) if s in self._delta_keys]
        return expr.xreplace({self.bp.delta_symbol(key): self._full_delta(key) for key in keys})

    def _full_delta(self, key: str) -> Expr:
        if ("delta", key, "symbolic") not in self._cache:
            self._cache[("delta", key, "symbolic")] = self._substituted(self.bp.deltas[key])
        full = self._cache[("delta", key, "symbolic")]
        assert not isinstance(full, IndexForm)  # only the index form is one
        return full

    def _symbolic(self, name: str, matrix: Expr) -> Expr:
        size = self._expanded_size(matrix, self._expanded_sizes)
        if size > MAX_SYMBOLIC:
            raise FormTooLarge(
                f"the symbolic form of {name} would have about {size:,} nodes (every delta written "
                f"out wherever it occurs), more than the limit of {MAX_SYMBOLIC:,}; the matrix form, "
                f"which names the deltas, is the same derivative",
                size,
            )
        return self._substituted(matrix)

    def _chain_form(self, name: str, start: str) -> Expr:
        size = self._chain.size(self.bp.graph.named(start))
        if size > MAX_CHAIN:
            raise FormTooLarge(
                f"the chain form of {name} would multiply about {size:,} partials along its paths "
                f"from the loss, more than the limit of {MAX_CHAIN:,}; the matrix form, which names "
                f"the deltas, is the same derivative",
                size,
            )
        return self._chain.to_loss(self.bp.graph.named(start), group=True)

    @cached_property
    def _chain(self) -> ChainBuilder:
        return ChainBuilder(self.bp)

    @cached_property
    def _simplifier(self) -> Simplifier:
        return Simplifier(self.bp)

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
            return next(node.symbol_name for node in self.bp.graph.by_role("preactivation") if node.delta_key == key)
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
            return self._symbolic(f"delta_{key}" if delta else f"dL/d{key}", matrix)
        if form == "chain":
            return self._chain_form(f"delta_{key}" if delta else f"dL/d{key}", f"s_{key}" if delta else key)
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
                assert not isinstance(chain, IndexForm)  # only the index form is one
                self._cache[cache_key] = chain.replace(
                    lambda e: isinstance(e, Partial) and e.denominator == symbol,
                    lambda e: Partial(e.numerator, element),
                )
            else:
                whole = self.form(kind, key, "matrix" if form == "index" else form)
                self._cache[cache_key] = entry_form(whole, entry, {s.name for s in entry if isinstance(s, Symbol)})
        return self._cache[cache_key]
