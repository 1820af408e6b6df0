"""The Python entry points: a loaded Network, its Derivation, and each derived Target."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sympy import Derivative, Expr, Heaviside, Integer, KroneckerDelta, Mul, Piecewise, Symbol, exp, tanh
from sympy.core.function import AppliedUndef
from sympy.core.relational import StrictGreaterThan
from sympy.matrices.expressions import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop import backends, codegen, gradcheck, training
from symbackprop.derive import Backprop, N, backprop, sympy_shape
from symbackprop.forms import FORMS, FormBuilder, FormTooLarge, partial
from symbackprop.forms.chain import Partial
from symbackprop.forms.index import UNIT_INDICES, EntryFunction, IndexForm, index_symbol
from symbackprop.gradcheck import GradcheckResult
from symbackprop.graph import BATCH, Graph, Node, build_graph
from symbackprop.notation import Names, NotationError
from symbackprop.numeric import GradientFunction, compile_expression, evaluate
from symbackprop.printing import to_latex, to_text
from symbackprop.scalar import check_formulas
from symbackprop.spec import NetworkSpec, SpecError, load_spec
from symbackprop.spec.errors import QUOTE, quote
from symbackprop.spec.model import Question
from symbackprop.targetref import Spelling, TargetSyntaxError, fraction_sides, parse_target, plain_name
from symbackprop.training import TrainingRun

if TYPE_CHECKING:
    from symbackprop.check import Checker, CheckResult
    from symbackprop.verify import Verifier, VerifyResult
    from symbackprop.verify.roundtrip import RoundTrip


def _shown(text: str) -> str:
    """A target as written, in a message: whole when short, else cut (spec.errors.quote)."""
    return text if len(text) <= QUOTE else quote(text)


#: Why a bare chain (Target.bare_chain) has no right side.
BARE_CHAIN = "a single partial, one step: the chain rule has nothing to expand; its other forms give its value"


#: How many names an "unknown target" message lists before "...".
KNOWN_LISTED = 10


def _capped(names: list[str]) -> str:
    """The first KNOWN_LISTED names, then how many more: a deep network's message stays one line."""
    if len(names) <= KNOWN_LISTED:
        return ", ".join(names)
    return ", ".join(names[:KNOWN_LISTED]) + f", ... ({len(names)} in all)"


class UnknownTarget(KeyError):
    """A target that names no parameter or layer of the network."""

    def __str__(self) -> str:
        return str(self.args[0])


def _shape_text(shape: tuple[Any, ...]) -> str:
    return "x".join(str(dim) for dim in shape)


class Target:
    """One derived quantity: a gradient dL/dW, a delta, or dL/d<value> for any other named value
    (an activation, the output, the input); each form is computed when first asked for."""

    def __init__(
        self, name: str, kind: str, key: str, symbol: str, shape: tuple[Any, ...], builder: FormBuilder, names: Names
    ) -> None:
        self.name = name  # "dL/dW_1", "delta_1" or "dL/dz_2"
        self.kind = kind  # "gradient", "delta" or "adjoint"
        self.key = key  # the parameter's name, the layer's (delta key) or the value's
        self.symbol = symbol  # the parameter's, the delta's or the value's own symbol
        self.shape = shape
        self._builder = builder
        self.names = names  # the spec's notation: how the formulas are spelt

    @property
    def _indexed(self) -> frozenset[str]:
        """The matrices whose entries the formulas write with both indices: none for a whole target (its index
        form leaves out a dimension of size 1), the weights for an entry or a local partial (W_3[1,2])."""
        return frozenset()

    @property
    def matrices(self) -> frozenset[str]:
        """The weight and fixed matrices: an entry of one is named with both indices (W_3[1,2], W^{3}_{1,2})
        even where it has one row, as the spec declares it a matrix."""
        return frozenset(node.symbol_name for node in self._builder.bp.graph.nodes if node.role in ("weight", "fixed"))

    @property
    def value(self) -> str:
        """The named value this is the derivative by: the parameter, s_k for a delta, the value."""
        return self._builder.value_of(self.kind, self.key)

    def form(self, form: str) -> Expr:
        """The right-hand side in one of FORMS, as a SymPy expression."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
        value = self._builder.form(self.kind, self.key, form)
        return value.expr if isinstance(value, IndexForm) else value

    def index_form(self) -> IndexForm:
        """The index form with its free indices and their ranges."""
        return self._builder.form(self.kind, self.key, "index")

    @property
    def chain(self) -> Expr:
        return self.form("chain")

    @property
    def symbolic(self) -> Expr:
        return self.form("symbolic")

    @property
    def simplified(self) -> Expr:
        return self.form("simplified")

    @property
    def matrix(self) -> Expr:
        return self.form("matrix")

    @property
    def index(self) -> Expr:
        return self.form("index")

    def _element(self, indexed: IndexForm) -> MatrixElement:
        symbol = MatrixSymbol(self.symbol, *(N if dim == BATCH else dim for dim in self.shape))
        names = iter(indexed.indices)
        return symbol[tuple(next(names) if dim != 1 else 0 for dim in self.shape)]

    def _lhs_latex(self, element: str) -> str:
        """The left side for a written element (an entry, or the whole symbol)."""
        if self.kind == "delta":
            return element
        return r"\frac{\partial " + self.names.loss_latex() + r"}{\partial " + element + "}"

    def _lhs_text(self, element: str) -> str:
        return element if self.kind == "delta" else f"d{self.names.loss_text()}/d{element}"

    def lhs_latex(self, form: str = "matrix") -> str:
        """The left side in the spec's notation: \\delta_{1}, \\frac{\\partial \\mathcal{L}}{\\partial W_{1}}."""
        if form == "index":
            return self._lhs_latex(to_latex(self._element(self.index_form()), self.names))
        if self.kind == "delta":
            return self.names.latex(self.symbol)
        return self.names.gradient_latex(self.symbol)

    def lhs_text(self, form: str = "matrix") -> str:
        """The left side in plain text: delta_1, dL/dW_1 (in the notation: sigma^(1), dE/dw^(1))."""
        if form == "index":
            return self._lhs_text(to_text(self._element(self.index_form()), self.names))
        return self.names.text(self.symbol) if self.kind == "delta" else self.names.gradient_text(self.symbol)

    def _bounds(self, form: str, latex: bool) -> str:
        """The ranges of the free indices, after an index form: ` (1 <= j <= 3)` or `   for j = 1..3`."""
        if form != "index":
            return ""
        bounds = self.index_form().bounds
        if not bounds:
            return ""
        if latex:
            return r" \quad (" + r",\ ".join(rf"1 \le {index} \le {to_latex(upper)}" for index, upper in bounds) + ")"
        return "   for " + ", ".join(f"{index} = 1..{upper}" for index, upper in bounds)

    @property
    def bare_chain(self) -> bool:
        """The chain form is the target's own partial, one factor (a local partial between neighbours, dz_2/ds_2;
        the loss by the output, dL/dy_out): there is no chain to expand, so that form is written once, its left
        side alone (text: with BARE_CHAIN), not `lhs = lhs`; documents leave it out and say why."""
        try:
            return isinstance(self.form("chain"), Partial)
        except FormTooLarge:  # many partials along many paths: anything but one
            return False

    def latex(self, form: str = "matrix", transpose: str = r"\top") -> str:
        """`lhs = rhs` in LaTeX, without math delimiters; the index form states its index ranges.
        `transpose` is the superscript of a transpose: \\top (W^{\\top}) or T (W^{T}). A bare chain
        (`bare_chain`) is its left side alone."""
        if form == "chain" and self.bare_chain:
            return self.lhs_latex(form)
        right = to_latex(self.form(form), self.names, transpose, self._indexed)
        return f"{self.lhs_latex(form)} = {right}" + self._bounds(form, True)

    def text(self, form: str = "matrix") -> str:
        """`lhs = rhs` in plain text; the index form states its index ranges. A bare chain (`bare_chain`) is its
        left side and why there is no right side."""
        if form == "chain" and self.bare_chain:
            return f"{self.lhs_text(form)}   ({BARE_CHAIN})"
        return f"{self.lhs_text(form)} = {to_text(self.form(form), self.names, self._indexed)}" + self._bounds(
            form, False
        )

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __repr__(self) -> str:
        return f"<Target {self.text()}>"


class EntryTarget(Target):
    """One entry of a gradient, delta or dL/d<value> (dL/dW_3[1,1]), or one row or column of it
    (delta_1[2,n]: an index letter stays free). Every form but the chain is written entry by
    entry; the chain form ends in the partial by that entry."""

    @property
    def _indexed(self) -> frozenset[str]:
        return self.matrices

    def __init__(self, base: Target, entry: tuple[Expr, Expr]) -> None:
        self.base = base
        self.entry = entry
        shape = tuple(dim if isinstance(index, Symbol) else 1 for dim, index in zip(base.shape, entry, strict=True))
        plain = to_text(self.element(), matrices=base.matrices)
        super().__init__(
            plain if base.kind == "delta" else f"dL/d{plain}",
            "entry",
            base.key,
            base.symbol,
            shape,
            base._builder,
            base.names,
        )

    def element(self) -> MatrixElement:
        """The entry of the base target's own symbol (W_3[0, 0], delta_1[1, n])."""
        symbol = MatrixSymbol(self.base.symbol, *(N if dim == BATCH else dim for dim in self.base.shape))
        return symbol[self.entry]

    @property
    def value(self) -> str:
        return self.base.value

    def form(self, form: str) -> Expr:
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
        return self._builder.entry_form(self.base.kind, self.base.key, form, self.entry)

    def index_form(self) -> IndexForm:
        free = tuple(index for index in self.entry if isinstance(index, Symbol))
        ranges = tuple(
            N if dim == BATCH else Integer(dim)
            for dim, index in zip(self.base.shape, self.entry, strict=True)
            if isinstance(index, Symbol)
        )
        return IndexForm(self.form("index"), free, ranges)

    def lhs_latex(self, form: str = "matrix") -> str:
        return self.base._lhs_latex(to_latex(self.element(), self.names, matrices=self.matrices))

    def lhs_text(self, form: str = "matrix") -> str:
        return self.base._lhs_text(to_text(self.element(), self.names, matrices=self.matrices))

    def _bounds(self, form: str, latex: bool) -> str:
        return super()._bounds("index", latex) if form != "chain" else ""


class PartialTarget(Target):
    """A local partial d(top)/d(bottom) between two named values (dz_2/ds_2, ds_3/dz_2, ds_2/dW_2, dh_2/dh_1),
    either side whole or one entry (dh_2[1,1]/dW_2[1,2], dp_j/ds_k). Its index form is the general entry;
    between two values with a sample axis its matrix form is the Jacobian of one sample (diag(f_2'(s_2)),
    W_3); otherwise (a value by a weight: four indices; or an entry) every form but the chain is written
    entry by entry, and `note` says so. Built by forms.partial from rules.py's vector-Jacobian products."""

    @property
    def _indexed(self) -> frozenset[str]:
        return self.matrices

    def __init__(
        self,
        bp: Backprop,
        top: Node,
        bottom: Node,
        top_entry: tuple[Expr, Expr] | None,
        bottom_entry: tuple[Expr, Expr] | None,
        names: Names,
        builder: FormBuilder,
    ) -> None:
        self.bp = bp
        self.top, self.bottom = top, bottom
        self.top_entry, self.bottom_entry = top_entry, bottom_entry
        self.indices = self._indices()  # (top's, bottom's): the written entries, else letters for each dimension
        super().__init__("", "partial", f"{top.name}/{bottom.name}", top.symbol_name, (), builder, names)
        self.name = f"d{self._plain(top, top_entry)}/d{self._plain(bottom, bottom_entry)}"
        self.shape = self._shape()

    def _plain(self, node: Node, entry: tuple[Expr, Expr] | None) -> str:
        if entry is None:
            return node.symbol_name
        return to_text(
            MatrixSymbol(node.name, *(N if d == BATCH else d for d in node.shape))[entry], matrices=self.matrices
        )

    def _indices(self) -> tuple[tuple[Expr, Expr], tuple[Expr, Expr]]:
        """Letters for the sides written whole: j for the top's units, n for samples (the same n on both
        sides: one sample's Jacobian), i for the bottom's units, k and i for a weight's rows and columns
        (its units and inputs); no letter where a dimension is 1. Written entries are kept as written."""
        used = {str(i) for e in (self.top_entry, self.bottom_entry) if e for i in e if isinstance(i, Symbol)}

        def take(*preferred: str) -> Symbol:
            letter = next(name for name in (*preferred, *UNIT_INDICES) if name not in used)
            used.add(letter)
            return index_symbol(letter)

        sample = next(
            (
                i
                for entry, node in ((self.top_entry, self.top), (self.bottom_entry, self.bottom))
                for i, dim in zip(entry or (), node.shape, strict=False)
                if dim == BATCH and isinstance(i, Symbol)
            ),
            None,
        ) or take("n", "m")  # one sample on both sides

        def letters(node: Node, entry: tuple[Expr, Expr] | None, units: tuple[str, ...]) -> tuple[Expr, Expr]:
            if entry is not None:
                return entry
            weight = node.role in ("weight", "fixed")
            out_in = self.bp.graph.spec.convention.weights == "out_in"
            out = []
            for position, dim in enumerate(node.shape):
                if dim == 1:
                    out.append(Integer(0))
                elif dim == BATCH:
                    out.append(sample)
                elif weight and (position == 0) == out_in:
                    out.append(take("k", "j"))
                else:
                    out.append(take(*units))
            return out[0], out[1]

        top = letters(self.top, self.top_entry, ("j",))
        return top, letters(self.bottom, self.bottom_entry, ("i", "k"))

    def _free(self, indices: tuple[tuple[Expr, Expr], tuple[Expr, Expr]] | None = None) -> list[tuple[Symbol, Expr]]:
        """The free indices of `indices` (default: the target's), in order of appearance, with their ranges."""
        found: dict[Symbol, Expr] = {}
        for node, entry in zip((self.top, self.bottom), indices or self.indices, strict=True):
            for index, dim in zip(entry, node.shape, strict=True):
                if isinstance(index, Symbol) and index not in found:
                    found[index] = N if dim == BATCH else Integer(dim)
        return list(found.items())

    def _shape(self) -> tuple[Any, ...]:
        """One dimension per free index of the index form (BATCH for samples), like the other targets' shapes."""
        free = self._free()
        return tuple(BATCH if dim == N else int(dim) for _, dim in free) if free else (1, 1)

    @property
    def per_sample(self) -> bool:
        """Two whole values with a sample axis: the matrix form is the Jacobian of one sample."""
        return (
            self.top_entry is None
            and self.bottom_entry is None
            and BATCH in self.top.shape
            and BATCH in self.bottom.shape
        )

    @property
    def value(self) -> str:
        return self.bottom.symbol_name

    def note(self, form: str, latex: bool = False) -> str | None:
        """What the reader must know besides the formula (with `latex`, as math): why a form is written entry by
        entry, and which entries the index form leaves out because they are 0."""
        if form == "chain" or (form != "index" and self.per_sample):
            return None

        def text(words: str) -> str:  # LaTeX: words in text mode, the rest in math mode, no nested $
            return r"\text{" + words + "}" if latex else words

        notes = []
        if form != "index" and self.top_entry is None and self.bottom_entry is None:
            top, bottom = (self.names.text(n.symbol_name) for n in (self.top, self.bottom))
            notes.append(
                text(f"no {form} form: entry by entry")
                if latex
                # short: a line of a sheet
                else f"no {form} form: the derivative of {top} by {bottom} has an index for each dimension of "
                f"both, so it is written entry by entry"
            )
        zero = self._written()[2]
        if zero is not None:
            element, moved, kept = zero
            kept = kept + 1 if kept.is_Integer else kept
            if latex:
                notes.append(
                    text("0 for ")
                    + to_latex(element, self.names, matrices=self.matrices)
                    + ", "
                    + f"{to_latex(moved)} \\ne {to_latex(kept)}"
                )
            else:
                notes.append(f"0 for {to_text(element, self.names, matrices=self.matrices)} with {moved} != {kept}")
        if not notes:
            return None
        return text("(") + text("; ").join(notes) + text(")") if latex else "; ".join(notes)

    def _written(self) -> tuple[Expr, tuple[tuple[Expr, Expr], tuple[Expr, Expr]], tuple[Expr, Expr, Expr] | None]:
        """The index form as printed: where it is [j = k] times the rest (k a letter of the bottom only), the
        bottom's k written j and the rest alone, with the sentence that every other entry is 0 (ds_2/dW_2:
        ds_2[j,n]/dW_2[j,i] = z_1[i,n]). The numbers keep every entry (arrange)."""
        key = ("partial", self.name, "written")
        cache = self._builder._cache
        if key not in cache:
            expr = partial.entry(self.bp, self.top, self.bottom, *self.indices)
            top, bottom = self.indices
            shown, zero = self.indices, None
            for factor in Mul.make_args(expr):
                if not isinstance(factor, KroneckerDelta):
                    continue
                kept, moved = factor.args
                if moved in top or moved.is_Integer:
                    kept, moved = moved, kept
                if (
                    moved in bottom
                    and moved not in top
                    and isinstance(moved, Symbol)
                    and (kept in top or kept.is_Integer)
                ):
                    expr = expr.xreplace({factor: Integer(1)}).xreplace({moved: kept})
                    shown = (top, tuple(kept if index == moved else index for index in bottom))
                    other = MatrixSymbol(self.bottom.name, *sympy_shape(self.bottom.shape))[bottom]
                    zero = (other, moved, kept)
                    break
            cache[key] = (expr, shown, zero)
        return cast(
            tuple[Expr, tuple[tuple[Expr, Expr], tuple[Expr, Expr]], tuple[Expr, Expr, Expr] | None], cache[key]
        )  # the builder's cache holds what this method put under its key

    def form(self, form: str) -> Expr:
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
        cache = self._builder._cache
        key = ("partial", self.name, form)
        if key not in cache:
            cache[key] = self._build(form)
        return cache[key]

    def _build(self, form: str) -> Expr:
        bp, top, bottom = self.bp, self.top, self.bottom
        if form == "chain":
            return partial.chain(
                bp, top, bottom, self._side_element(top, self.top_entry), self._side_element(bottom, self.bottom_entry)
            )
        if form != "index" and self.per_sample:
            matrix = partial.per_sample(bp, top, bottom)
            return partial.tidy(self._builder._simplifier.simplify(matrix)) if form == "simplified" else matrix
        written = self._written()[0]
        if form == "simplified":  # f' in closed form where it is short: relu' as [s > 0], identity' as 1, 2 s
            return written.replace(
                lambda e: isinstance(e, EntryFunction) and e.order == 1 and _short(_closed(e)), _closed
            )
        return written

    def _side_element(self, node: Node, entry: tuple[Expr, Expr] | None) -> Expr:
        symbol = self.bp.symbols.get(node.symbol_name) or MatrixSymbol(node.name, *sympy_shape(node.shape))
        return symbol if entry is None else symbol[entry]

    def index_form(self) -> IndexForm:
        free = self._free(self._written()[1])
        return IndexForm(self.form("index"), tuple(i for i, _ in free), tuple(d for _, d in free))

    def _side(self, node: Node, entry: tuple[Expr, Expr], latex: bool) -> str:
        element = self._side_element(node, entry)
        return (
            to_latex(element, self.names, matrices=self.matrices)
            if latex
            else to_text(element, self.names, matrices=self.matrices)
        )

    def _sides(self, form: str, latex: bool) -> tuple[str, str]:
        written = form != "chain" and not (form != "index" and self.per_sample)
        shown = self._written()[1] if written else (self.top_entry, self.bottom_entry)
        top, bottom = shown
        return (
            self._side(self.top, top, latex) if top is not None else self._whole(self.top, latex),
            self._side(self.bottom, bottom, latex) if bottom is not None else self._whole(self.bottom, latex),
        )

    def _whole(self, node: Node, latex: bool) -> str:
        return self.names.latex(node.symbol_name) if latex else self.names.text(node.symbol_name)

    def lhs_latex(self, form: str = "matrix") -> str:
        top, bottom = self._sides(form, True)
        return r"\frac{\partial " + top + r"}{\partial " + bottom + "}"

    def lhs_text(self, form: str = "matrix") -> str:
        top, bottom = self._sides(form, False)
        return f"d{top}/d{bottom}"

    def text(self, form: str = "matrix") -> str:
        note = self.note(form)
        return super().text(form) + (f"   ({note})" if note else "")

    def arrange(self, full: np.ndarray) -> np.ndarray:
        """The value from the whole Jacobian `full` (axes: the top's two, then the bottom's two): the entries the
        target names, a letter on both sides read on its diagonal, laid out by arrange_free."""
        letters: list[Symbol] = []
        picks: list[Any] = []
        for index in (*self.indices[0], *self.indices[1]):
            picks.append(slice(None) if isinstance(index, Symbol) else int(index))
            if isinstance(index, Symbol):
                letters.append(index)
        value = full[tuple(picks)]
        for index in dict.fromkeys(letters):
            axes = [k for k, letter in enumerate(letters) if letter == index]
            if len(axes) == 2:
                value = np.moveaxis(np.diagonal(value, axis1=axes[0], axis2=axes[1]), -1, axes[0])
                del letters[axes[1]]
        return self.arrange_free(value)

    def arrange_free(self, value: np.ndarray) -> np.ndarray:
        """A value with one axis per free index of the index form (in its order) laid out as numeric shows it:
        for two values' per-sample Jacobian the sample axis first (N x rows x columns); a sample axis of
        length 1 dropped; no free index left gives a 1x1 matrix, one gives a row."""
        letters = [index for index, _ in self._free()]
        sample = self._sample()
        if self.per_sample and sample in letters:
            value = np.moveaxis(value, letters.index(sample), 0)
            units = [int(next(d for d in node.shape if d != BATCH)) for node in (self.top, self.bottom)]
            value = value.reshape(value.shape[0], *units)
            return value[0] if value.shape[0] == 1 else value
        if sample is not None and sample in letters and value.shape[letters.index(sample)] == 1:
            value = np.squeeze(value, axis=letters.index(sample))
        return value.reshape(1, -1) if value.ndim < 2 else value

    def _sample(self) -> Symbol | None:
        """The top's sample index, if it is a letter."""
        return next(
            (
                i
                for i, dim in zip(self.indices[0], self.top.shape, strict=True)
                if dim == BATCH and isinstance(i, Symbol)
            ),
            None,
        )

    def free_indices(self) -> list[Symbol]:
        """The free indices of the index form, in its order (the axes arrange_free reads)."""
        return [index for index, _ in self._free()]

    def axes(self, samples: int) -> list[Symbol]:
        """The index letter of each axis of arrange()'s value, on data with `samples` samples."""
        letters = [index for index, _ in self._free()]
        sample = self._sample()
        if sample in letters:
            letters.remove(sample)
            if samples != 1:
                letters.insert(0 if self.per_sample else [i for i, _ in self._free()].index(sample), sample)
        return letters

    def _bounds(self, form: str, latex: bool) -> str:
        if form == "chain" or (form != "index" and self.per_sample):  # LaTeX: the lhs has no index, as read back
            return "   for each sample" if self.per_sample and form != "chain" and not latex else ""
        free = self._free(self._written()[1])
        if not free:
            return ""
        if latex:
            return r" \quad (" + r",\ ".join(rf"1 \le {i} \le {to_latex(d)}" for i, d in free) + ")"
        return "   for " + ", ".join(f"{i} = 1..{d}" for i, d in free)


class Derivation:
    """Every delta and every parameter gradient of a network, found by reverse accumulation; any
    other target (dL/dz_2, an entry) is derived when first asked for."""

    def __init__(self, bp: Backprop) -> None:
        self.backprop = bp
        self.names = Names.of(bp.graph.spec)  # the spec's notation: how every formula is spelt
        self._builder = builder = FormBuilder(bp)
        self._targets: dict[str, Target] = {}
        self._asked: dict[str, Target] = {}  # targets beyond the default ones, by name
        preactivations = {node.delta_key: node for node in bp.graph.by_role("preactivation")}
        last_delta = {preactivations[key].layer: key for key in bp.deltas}  # a recurrent layer's cycle 1
        for key in bp.deltas:
            self._add(
                Target(f"delta_{key}", "delta", key, f"delta_{key}", preactivations[key].shape, builder, self.names)
            )
            layer = preactivations[key].layer
            if last_delta[layer] == key:
                for param in (n for n in bp.graph.parameters if n.layer == layer):
                    self._add(
                        Target(
                            f"dL/d{param.name}",
                            "gradient",
                            param.symbol_name,
                            param.symbol_name,
                            param.shape,
                            builder,
                            self.names,
                        )
                    )

    def _add(self, target: Target) -> None:
        self._targets[target.name] = target

    @property
    def targets(self) -> list[Target]:
        """Deltas and gradients, from the loss backwards, each layer's delta before its gradients."""
        return list(self._targets.values())

    def grad(self, param: str) -> Target:
        return self.target(f"dL/d{param}")

    def delta(self, layer: str) -> Target:
        return self.target(f"delta_{layer}")

    def target(self, name: str) -> Target:
        """A target by any spelling the interface allows: dL/dW_1, \\partial L / \\partial W_1,
        \\frac{\\partial L}{\\partial W_1}, delta_1, \\delta_{1}; dL/d<value> for any other named value
        the loss depends on (dL/dz_2, dL/dy_out, dL/dx; dL/ds_1 is delta_1); one entry of any of these
        (dL/dW_3[1,1], delta_1[2,n], \\frac{\\partial L}{\\partial W^{(3)}_{1,1}}). Raises UnknownTarget."""
        if isinstance(name, str) and name.strip() in self._targets:
            return self._targets[name.strip()]
        if isinstance(name, str) and name.strip() in self._asked:
            return self._asked[name.strip()]
        question = self.question(name) if isinstance(name, str) else None
        if question is not None:
            if len(question.ask) > 1:
                raise UnknownTarget(
                    f"question {question.id} asks {len(question.ask)} targets "
                    f"({', '.join(question.ask)}): name one of them, or write the left side"
                )
            return self.target(question.ask[0])
        found = self._partial(name) if isinstance(name, str) else None  # dz_2/ds_2: a numerator that is a value
        if found is not None:
            return found
        try:  # in the spec's notation first: \frac{\partial l}{\partial h^{2}_{1}}, \sigma^{(1)}
            quantity = self.names.resolve(name)
        except NotationError as error:
            if error.ambiguous:
                raise UnknownTarget(f"target {quote(name)}: {error}") from None
            quantity = None
        if quantity is not None and quantity.role in ("gradient", "delta"):
            base = self._value_target(quantity.symbol, quantity.role == "delta")
            if base is not None and not quantity.entry:
                return base
            if base is not None:
                try:
                    return self._entry(base, quantity.entry, name)
                except UnknownTarget:
                    pass  # W_7 read as an entry of W: see whether it is anything else, else say what is wrong
        try:
            ref = parse_target(name)
        except TargetSyntaxError as error:
            raise UnknownTarget(f"unknown target {quote(name)}: {error}") from None
        if ref.top is not None:
            raise UnknownTarget(
                f"unknown target {quote(name)}: the numerator must be the loss (L, E, l or "
                r"\mathcal{L})"
            )
        for position, spelling in enumerate(ref.bottom):
            base = self._value_target(spelling.name, ref.delta)
            if base is None:
                continue
            if spelling.entry is None:
                return base
            try:
                return self._entry(base, spelling.entry, name)
            except UnknownTarget:
                if position == 0:  # written as an entry (W_1[4,1]): say what is wrong with it
                    raise
        raise UnknownTarget(f"unknown target {quote(name)} ({self._known()})")

    def _partial(self, name: str) -> Target | None:
        """A local partial d(top)/d(bottom) between two named values, either side whole or one entry; None where
        `name` is no fraction or its numerator is the loss or names nothing (the caller says what is wrong)."""
        sides = fraction_sides(name)
        try:
            ref = parse_target(name) if sides is not None else None
        except TargetSyntaxError:
            return None
        if ref is None or ref.top is None or sides is None:
            return None
        try:
            top, top_entry = self._side(sides[0], ref.top, name)
        except UnknownTarget:
            try:
                bottom, bottom_entry = self._side(sides[1], ref.bottom, name)
                top, top_entry = self._side(sides[0], ref.top, name, bottom.layer)
            except UnknownTarget:
                return None  # neither side names a value here: "the numerator must be the loss"
        else:
            bottom, bottom_entry = self._side(sides[1], ref.bottom, name, top.layer)
        if top.role not in ("activation", "preactivation"):
            raise UnknownTarget(
                f"{name}: {top.name} is not computed by the network (a {top.role}), so nothing "
                f"is derived by it; the numerator is the loss or a value s_k, z_k"
            )
        try:
            partial.between(self.backprop, top, bottom)
            target = PartialTarget(self.backprop, top, bottom, top_entry, bottom_entry, self.names, self._builder)
        except partial.NotLocal as error:
            raise UnknownTarget(f"{name}: {error}") from None
        return self._asked.setdefault(target.name, target)

    def _side(
        self, written: str, spellings: tuple[Spelling, ...], name: str, layer: str | None = None
    ) -> tuple[Node, tuple[Expr, Expr] | None]:
        """The named value one side of a local partial means (in the spec's notation first), and its entry. With
        the other side's `layer`, a letter that names no layer is an entry of this layer's value: in dp_j/ds_k
        (p the output of layer out) s_k is entry k of s_out."""
        graph = self.backprop.graph
        found: list[tuple[str, tuple[str, ...] | None]] = []

        def resolve(text: str, entry: tuple[str, ...] | None) -> None:
            try:
                quantity = self.names.resolve(text)
            except NotationError as error:
                if error.ambiguous:
                    raise UnknownTarget(f"target {name!r}: {error}") from None
                return
            found.append((quantity.symbol, quantity.entry or entry))

        resolve(written, None)
        found += [(spelling.name, spelling.entry) for spelling in spellings]
        letter = _LETTER_ENTRY.match(written.replace(" ", ""))
        if letter and layer is not None:
            resolve(f"{letter.group('base')}_{{{layer}}}", (letter.group("index"),))
        for symbol, entry in found:
            node = next((n for n in graph.nodes if n.name == symbol), None) or next(
                (n for n in graph.nodes if n.key == symbol and n.role == "activation"), None
            )
            if node is None or node.role in ("loss", "target"):
                continue
            return node, None if entry is None else entry_indices(node.symbol_name, node.shape, entry, name)
        raise UnknownTarget(f"unknown target {name!r}: {written!r} names no value of the network ({self._known()})")

    def _known(self) -> str:
        values = [
            self.names.text(node.symbol_name)
            for node in self.backprop.graph.nodes
            if node.role in ("activation", "input") and self._builder.reaches_loss(node.symbol_name)
        ]
        last = self.targets[-1]
        entry = last.lhs_text() + "[1,1]" if last.kind != "delta" else self.names.entry_text(last.symbol, ("1", "1"))
        targets = [t.lhs_text() for t in self._targets.values()]
        return (
            f"known: {_capped(targets)}; also d{self.names.loss_text()}/d<value> for {_capped(values)}, and "
            f"entries like {entry}"
        )

    def question(self, name: str) -> Question | None:
        """The spec's question whose id is `name`, if any (a question's id works wherever a target does)."""
        return next((q for q in self.backprop.graph.spec.questions if q.id == name.strip()), None)

    def by_value(self, name: str) -> Target | None:
        """dL/d<name> by the engine's name of a value or parameter (s_2 gives delta_2), whatever the
        spec's notation; None if there is no such target."""
        try:
            return self._value_target(name, False)
        except UnknownTarget:
            return None

    def _value_target(self, name: str, delta: bool) -> Target | None:
        """The whole target a plain name stands for: delta_k (written alone), or dL/d<name>."""
        if delta:
            return self._targets.get(name) if name.startswith("delta_") else None
        if f"dL/d{name}" in self._targets:
            return self._targets[f"dL/d{name}"]
        graph = self.backprop.graph
        node = next((n for n in graph.nodes if n.name == name), None) or next(
            (n for n in graph.nodes if n.key == name and n.role == "activation"), None
        )
        if node is None or node.role not in ("activation", "input", "preactivation"):
            return None
        if node.role == "preactivation":
            if node.delta_key not in self.backprop.deltas:
                return self._adjoint(node)
            return self._targets[f"delta_{node.delta_key}"]
        return self._adjoint(node)

    def _adjoint(self, node: Node) -> Target:
        name = f"dL/d{node.name}"
        if name not in self._asked:
            if not self._builder.reaches_loss(node.symbol_name):
                raise UnknownTarget(f"{name}: the loss does not depend on {node.name}")
            self._asked[name] = Target(
                name, "adjoint", node.symbol_name, node.symbol_name, node.shape, self._builder, self.names
            )
        return self._asked[name]

    def _entry(self, base: Target, written: tuple[str, ...], name: str) -> Target:
        target = EntryTarget(base, entry_indices(base.symbol, base.shape, written, name))
        return self._asked.setdefault(target.name, target)

    def forward(self) -> list[tuple[str, Expr]]:
        """The forward equations of the named values, in order, ending with the loss."""
        return list(self.backprop.definitions.items())

    def forward_latex(self, transpose: str = r"\top") -> list[str]:
        lines = []
        for name, expr in self.forward():
            lhs = self.names.loss_latex() if name == "L" else self.names.latex(name)
            lines.append(f"{lhs} = {to_latex(expr, self.names, transpose)}")
        return lines

    def forward_text(self) -> list[str]:
        return [
            f"{self.names.loss_text() if name == 'L' else self.names.text(name)} = {to_text(expr, self.names)}"
            for name, expr in self.forward()
        ]

    def _repr_latex_(self) -> str:
        lines = self.forward_latex() + [t.latex() for t in self.targets]
        return "$\\begin{aligned}" + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines) + "\\end{aligned}$"


def _short(closed: Expr) -> bool:
    """An activation's derivative worth writing in closed form: no exponential or tanh in it, and no Piecewise
    (which a sum around it would fold over all of its terms)."""
    return (
        not closed.has(exp, tanh, Piecewise, Derivative) and not closed.atoms(AppliedUndef) and closed.count_ops() <= 4
    )


def _closed(entry: EntryFunction) -> Expr:
    """An entry's f' in closed form; relu's step as Heaviside(u, 0), printed [u > 0], which a sum leaves alone."""
    closed = entry.doit()
    if (
        isinstance(closed, Piecewise)
        and len(closed.args) == 2
        and closed.args[0].expr == 1
        and closed.args[1] == (0, True)
        and isinstance(closed.args[0].cond, StrictGreaterThan)
        and closed.args[0].cond.rhs == 0
    ):
        return Heaviside(closed.args[0].cond.lhs, 0)
    return closed


#: A value written with one index letter, s_k or \\sigma_{j}: where no layer has that name, entry k of the value of
#: the other side's layer.
_LETTER_ENTRY = re.compile(r"^\\?(?P<base>[A-Za-z]+)_\{?(?P<index>[a-z])\}?$")


def entry_indices(symbol: str, shape: tuple[Any, ...], written: tuple[str, ...], target: str) -> tuple[Expr, Expr]:
    """The 0-based (row, column) of an entry written with indices from 1 or with index letters (which
    stay free). One index is enough for a vector; for a value with a sample axis it picks the unit
    and the sample index stays free (n). Raises UnknownTarget for an index out of range."""
    dims = [d for d in (0, 1) if shape[d] != 1]
    places = [0, 1]
    if len(written) == 1 and len(dims) == 1:
        places = dims
    elif len(written) == 1 and BATCH in shape and len(dims) == 2:
        sample = "n" if written[0] != "n" else "m"
        written = (written[0], sample) if shape[1] == BATCH else (sample, written[0])
    elif len(written) != 2:
        raise UnknownTarget(
            f"{_shown(target)}: {symbol} is {_shape_text(shape)}, so an entry of it takes "
            f"{max(len(dims), 1)} index(es), not {len(written)}"
        )
    position: list[Expr] = [Integer(0), Integer(0)]
    for part, dim in zip(written, places, strict=True):
        size = shape[dim]
        if part.isdigit():
            if size != BATCH and not 1 <= int(part) <= size:
                raise UnknownTarget(
                    f"{_shown(target)}: index {part} is out of range ({symbol} has {size} "
                    f"{'rows' if dim == 0 else 'columns'})"
                )
            position[dim] = Integer(int(part) - 1)
        else:
            position[dim] = index_symbol(part)
    if position[0] == position[1] and isinstance(position[0], Symbol):
        raise UnknownTarget(f"{_shown(target)}: the row and the column need different index letters")
    return position[0], position[1]


def normalize_target(text: str) -> str:
    """The canonical name of a whole delta or gradient written in any allowed spelling (dL/dW_1 or
    delta_1); values and entries are resolved by Derivation.target, which knows the network."""
    ref = parse_target(text)
    name = plain_name(ref.bottom[0].name)
    return name if ref.delta else f"dL/d{name}"


class Network:
    """A loaded spec, wired into a graph; derivations and numbers come from it."""

    def __init__(self, spec: NetworkSpec) -> None:
        check_formulas(spec)  # x/(x-x) is undefined everywhere: a SpecError, not a crash later
        self.spec = spec
        self.graph: Graph = build_graph(spec)
        if spec.questions:
            self.questions()  # a question asking what the network does not have is a spec error, at its line

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def _derivation(self) -> Derivation:
        return Derivation(backprop(self.graph))

    def derive(self) -> Derivation:
        """Every delta and gradient (computed once, then cached)."""
        return self._derivation

    def gradient_fn(
        self, dtype: Any = None, *, backend: str = "numpy", threads: int | None = None, gradients_only: bool = False
    ) -> Any:
        """The compiled loss, forward values, deltas and gradients: call it with a dict of arrays in
        the spec's orientation (docs/numeric.md). `backend` numpy (default), jax or torch; `dtype`
        float64 by default (float32 for jax unless its x64 mode is on); `threads` limits the
        library's threads during a call; `gradients_only` returns only the loss and gradients."""
        return backends.gradient_function(self, backend, dtype, threads, gradients_only)

    @cached_property
    def _numbers(self) -> GradientFunction:
        return GradientFunction(self.derive().backprop)  # quiet: NumPy's overflow warnings silenced

    def named_values(
        self, values: Mapping[str, Any] | None = None, computed: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Every named value at `values` (the leaves by name) or on the spec's data: the leaves, each s_k
        and z_k (under the name formulas use: the output alias), each delta, and each gradient as
        dL/d<param>; `computed` is gradient_fn's result at those leaves if already at hand. Raises
        ValueError for missing or misshapen leaves, NotComputable for a generic activation."""
        fn = self._numbers
        given = self.data() if values is None else values
        leaves = {name: np.asarray(given[name], dtype=np.float64) for name in fn.arguments if name in given}
        out = fn(leaves) if computed is None else computed
        named = dict(leaves)
        for node in self.graph.nodes:
            if node.name and node.key in out["forward"]:
                named[node.name] = out["forward"][node.key]
        named.update(out["delta"])
        named.update({f"dL/d{name}": grad for name, grad in out["grad"].items()})
        named["L"] = np.asarray(out["loss"])
        return named

    def evaluate(self, target: str | Target, values: Mapping[str, Any] | None = None) -> np.ndarray:
        """The value of a target (any spelling `Derivation.target` reads, or a Target) at `values` (the
        leaves by name) or on the spec's data, as a matrix in the spec's orientation; an entry target
        keeps the rows and columns it selects (1x1 for one entry). Raises UnknownTarget, ValueError
        for missing leaves and numeric.NotComputable for a generic activation."""
        found = self.derive().target(target) if isinstance(target, str) else target
        return self.value_at(found, self.named_values(values))

    def value_at(
        self, target: Target, named: dict[str, np.ndarray], transform: Callable[[Expr], Expr] | None = None
    ) -> np.ndarray:
        """A target's value from named_values(); what it computes is cached in `named`. `transform` rewrites a local
        partial's pulled-back formula before it is compiled (verify puts its stand-ins for generic activations)."""
        found = target
        if isinstance(found, PartialTarget):
            return found.arrange(self._jacobian(found, named, transform))
        base = found.base if isinstance(found, EntryTarget) else found
        key = base.symbol if base.kind == "delta" else f"dL/d{base.key}"
        if key not in named:
            first = self.graph.nodes[0]
            samples = named[first.symbol_name].shape[first.shape.index(BATCH)]
            named[key] = np.asarray(evaluate(base.matrix, named, samples), dtype=np.float64)
        value = named[key]
        if isinstance(found, EntryTarget):
            value = value[
                tuple(slice(None) if isinstance(i, Symbol) else slice(int(i), int(i) + 1) for i in found.entry)
            ]
        return value

    def _jacobian(
        self, target: PartialTarget, named: dict[str, np.ndarray], transform: Callable[[Expr], Expr] | None = None
    ) -> np.ndarray:
        """d top / d bottom for every entry of both (axes: top's, then bottom's), each top entry's row pulled
        back through the compiled vector-Jacobian products; only the top entries the target reads."""
        first = self.graph.nodes[0]
        samples = named[first.symbol_name].shape[first.shape.index(BATCH)]
        key = f"d{target.top.name}/d{target.bottom.name}"
        top_shape = tuple(samples if d == BATCH else d for d in target.top.shape)
        bottom_shape = tuple(samples if d == BATCH else d for d in target.bottom.shape)
        full = named.get(key)
        if full is None:
            full = np.full(top_shape + bottom_shape, np.nan)
            named[key] = full
        wanted = [
            range(size) if isinstance(index, Symbol) else [int(index)]
            for index, size in zip(target.indices[0], top_shape, strict=True)
        ]
        todo = [(r, c) for r in wanted[0] for c in wanted[1] if np.isnan(full[r, c]).all()]
        if todo:
            formula = partial.pullback(
                self.derive().backprop, target.top, target.bottom, partial.seed_symbol(target.top)
            )
            pulled = compile_expression(transform(formula) if transform is not None else formula)
            for row, col in todo:
                seed = np.zeros(top_shape)
                seed[row, col] = 1.0
                full[row, col] = np.broadcast_to(pulled({**named, partial.SEED: seed}, samples), bottom_shape)
        return full

    def train(
        self,
        steps: int | None = None,
        learning_rate: float | None = None,
        targets: Sequence[str] = (),
        seed: int | None = None,
    ) -> TrainingRun:
        """Gradient descent on the spec's data (its `training` section unless overridden): every
        step's forward values, loss (and each sample's), deltas, gradients and updated parameters,
        and the values of `targets` at each step. With `seed`, on data and initial parameters drawn
        from it instead (random_data). Raises TrainingError, UnknownTarget, course.draw.DrawError."""
        if seed is None:
            return training.train(self, steps, learning_rate, targets)
        return training.train(
            self, steps, learning_rate, targets, self.random_data(seed), f"drawn at random, seed {seed}"
        )

    def gradcheck(
        self,
        values: Mapping[str, Any] | None = None,
        seed: int = 0,
        random: bool = False,
        step: float = gradcheck.STEP,
        tolerance: float = gradcheck.TOLERANCE,
        max_entries: int = gradcheck.MAX_ENTRIES,
        targets: list[str] | None = None,
    ) -> GradcheckResult:
        """The symbolic gradients against central finite differences (float64) at `values`, the
        spec's data, or seeded random data, checking at most `max_entries` entries per parameter;
        `.ok` is the verdict, `.report()` the table. `targets` checks those derivatives of the loss
        instead (dL/dz_2, delta_1, dL/dW_3[1,1], ...); a local partial (dz_2/ds_2) is no derivative of the
        loss and raises UnknownTarget."""
        for name in targets or ():
            if isinstance(self.derive().target(name), PartialTarget):
                raise UnknownTarget(
                    f"{name} is a local partial, not a derivative of the loss: gradcheck checks "
                    f"derivatives of the loss (numeric --target shows its value)"
                )
        return gradcheck.check(
            self,
            values,
            seed=seed,
            random=random,
            step=step,
            tolerance=tolerance,
            max_entries=max_entries,
            targets=targets,
        )

    def codegen(self, backend: str = "numpy") -> str:
        """The text of a standalone module computing the loss and gradients with `backend` (numpy,
        jax or torch; it imports that library only)."""
        return codegen.module_source(self, backend)

    def verify(self, target: str | None, answer: str, hint_level: int = 0) -> VerifyResult:
        """Is `answer` (LaTeX or plain math) equal to the true `target` (dL/dW_1, delta_2; None: the
        target its left side names)? The verdict, with feedback naming the mistake (docs/verify.md),
        and for a wrong answer hints up to `hint_level` (1-3; 1 and 2 withhold the true formula).
        Raises UnknownTarget."""
        from symbackprop.verify.hints import with_hints

        return with_hints(self._verifier, self._verifier.verify(target, answer), hint_level)

    def reread(
        self,
        forms: Sequence[str] = FORMS,
        formats: Sequence[str] = ("text", "latex"),
        targets: Sequence[Target | tuple[Target, Sequence[str]]] | None = None,
    ) -> RoundTrip:
        """Every formula `derive` prints (each target in `forms`, as text and as LaTeX) read back by the answer
        parser and compared with what it was printed from: `.ok`, `.summary()`, `.misread` (docs/notation.md).
        `targets` re-reads those instead of every delta and gradient (each a Target, or a Target with forms
        of its own: a question's)."""
        from symbackprop.verify.roundtrip import reread  # the grader is built on this module

        return reread(self, forms, formats, targets=targets)

    @cached_property
    def _verifier(self) -> Verifier:
        from symbackprop.verify import Verifier  # the grader is built on this module

        return Verifier(self)

    def check(self, text: str, source: str | None = None) -> CheckResult:
        """A worked numeric solution (Markdown or LaTeX, as students write it) checked number by
        number against this network's training run: counts, findings with their causes, an
        error-carried-forward score (docs/check.md). Raises symbackprop.check.CheckError for a
        solution that cannot be read."""
        return self._checker.check(text, source)

    @cached_property
    def _checker(self) -> Checker:
        from symbackprop.check import Checker  # the checker is built on this module

        return Checker(self)

    def render(
        self,
        format: str = "md",
        sections: list[str] | None = None,
        forms: list[str] | None = None,
        digits: int | None = None,
        template_dir: str | Path | None = None,
        figure: str | None = None,
    ) -> str:
        """The worked solution as a LaTeX ("tex") or Markdown ("md") document (docs/render.md); options
        not given come from the spec's `render:` section or the defaults. A Markdown document shows its
        diagram from the file `figure` (symbackprop.render.diagram_svg draws it). Raises
        symbackprop.render.RenderError."""
        from symbackprop.render import render  # the renderer builds on this module

        return render(self, format, sections, forms, digits, template_dir, figure)

    def questions(self) -> list[tuple[Question, list[Target]]]:
        """The spec's questions in order, each with its targets read against the network. Raises SpecError
        naming the line of a target the network does not have."""
        der = self.derive()
        answered = []
        for index, question in enumerate(self.spec.questions):
            targets = []
            for k, text in enumerate(question.ask):
                try:
                    targets.append(der.target(text))
                except UnknownTarget as error:
                    key = f"questions[{index}].ask"
                    listed = f"{key}[{k}]"
                    line = self.spec.lines.get(listed) or self.spec.lines.get(key) or question.line or None
                    raise SpecError(
                        str(error), key=listed if listed in self.spec.lines else key, line=line, source=self.spec.source
                    ) from None
            answered.append((question, targets))
        return answered

    def data(self) -> dict[str, np.ndarray]:
        """The spec's numbers as float64 arrays; with `data: {random: {seed, ...}}`, every leaf the spec does
        not give drawn from that seed (the same numbers every time). Raises course.draw.DrawError."""
        return {name: value.copy() for name, value in self._data.items()}

    @cached_property
    def _data(self) -> dict[str, np.ndarray]:
        given = {name: np.array(values, dtype=np.float64) for name, values in self.spec.data.items()}
        if self.spec.random is None:
            return given
        return self.random_data(self.spec.random.seed, keep=given)

    def random_data(self, seed: int, keep: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Every leaf (input, target, parameters) drawn from `seed`, well conditioned and short enough to
        work by hand (course.draw), except those in `keep`; fixed matrices always from the spec. The
        spec's `data: {random: {scale, samples}}` bounds the entries and sets the number of samples."""
        from symbackprop.course.draw import seeded  # the drawing builds on the compiled network

        fixed = {
            name: np.array(values, dtype=np.float64)
            for name, values in self.spec.data.items()
            if self.graph.named(name).role == "fixed"
        }
        settings = self.spec.random
        return seeded(
            self,
            seed,
            {**fixed, **{k: np.asarray(v, dtype=np.float64) for k, v in (keep or {}).items()}},
            settings.scale if settings else None,
            settings.samples if settings else None,
        )

    def shapes(self) -> dict[str, str]:
        """The size of every named matrix and vector, e.g. {'W_1': '3x2', 'x': '2xN'}."""
        shapes = {node.name: _shape_text(node.shape) for node in self.graph.nodes if node.name and node.shape}
        for node in self.graph.by_role("preactivation"):
            if node.delta_key in self.derive().backprop.deltas:
                shapes[f"delta_{node.delta_key}"] = _shape_text(node.shape)
        return shapes

    def __repr__(self) -> str:
        return f"<Network {self.spec.name!r}: {len(self.spec.layers)} layers>"


def load(source: str | Path | dict[str, Any]) -> Network:
    """Load a spec from a path, YAML text or a dict; raises SpecError with file, line and key."""
    return Network(load_spec(source))
