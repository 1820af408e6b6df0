"""Mistakes made on purpose: mutations of a target's true formula, each with the sentence that
names it. An answer that agrees with a mutation at every test point made that mistake.

The mutations are generated from the target's matrix form and from the matrix (and
simplified) forms of every delta it is written through, then carried through the deltas
that depend on them, so they are mutations of the symbolic (fully substituted) form too:
an answer matches whichever way it is written. The kinds: f' missing, f in place of f', a
wrong variable (s for z, the target for the output, a layer index off by one), a transposed
factor or result, a missing term, a missing or extra weight factor. A flipped sign and a
factor 2, 1/2 or 1/N are found by ratio (feedback.py) and may come on top of one of these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sympy import Basic, Expr, Integer
from sympy.matrices.exceptions import ShapeError
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, Transpose

from symbackprop.api import Target
from symbackprop.derive import Backprop
from symbackprop.matexpr import Elementwise, Indicator, Ones
from symbackprop.notation import Names
from symbackprop.printing import to_text
from symbackprop.spec.model import Activation
from symbackprop.verify.names import Vocabulary, activation_lambda

#: Partial credit of an answer that made exactly one mistake of each kind.
CREDIT = {
    "sign": 0.75,
    "factor": 0.75,
    "fprime_missing": 0.5,
    "f_for_fprime": 0.5,
    "variable": 0.5,
    "layer_index": 0.5,
    "target_output": 0.5,
    "transpose": 0.5,
    "transpose_result": 0.5,
    "term_missing": 0.5,
    "weight_missing": 0.5,
    "weight_extra": 0.5,
    "wrong_derivative": 0.5,
}
#: The activations whose derivatives people write by heart, and so put in the wrong place.
_NAMED = ("relu", "tanh", "sigmoid", "identity")
#: At most this many mutations per target (the first ones are the likeliest mistakes).
MAX_MUTATIONS = 400
#: Deltas further than this many steps from the target are not mutated (a long chain's far end).
DEPTH = 3
#: Up to this many candidates, every symbol of the right size may stand for another (and every weight be
#: inserted); beyond it only the plausible ones do: the same layer, a neighbouring one, output and target.
FEW = 8


@dataclass(frozen=True)
class Mutation:
    """One mistake: `local` replaces `definition`, the formula of `name` (whose key is a delta's key,
    or "target"); `lead` says what the mistake is."""

    kind: str
    lead: str
    key: str
    name: str
    definition: Expr
    local: Expr
    layer: str | None = None  # for a missing f': the layer, when its f' is 0 or 1 by unit (relu)
    spelling: Names | None = field(default=None, compare=False, repr=False)  # the spec's notation

    @property
    def sentence(self) -> str:
        """Printed only when the mutation explains an answer: printing every one would cost more than the rest."""
        return (
            f"{self.lead}: {self.shown_name} = {to_text(self.definition, self.spelling)}, not "
            f"{to_text(self.local, self.spelling)}"
        )

    @property
    def shown_name(self) -> str:
        """The name of what the mutation changes (a target or a delta), in the spec's notation."""
        if self.spelling is None:
            return self.name
        if self.name.startswith("dL/d"):
            return self.spelling.gradient_text(self.name[len("dL/d") :])
        return self.spelling.text(self.name)


def _children(expr: Basic) -> Iterator[tuple[int, Basic]]:
    """The matrix-valued arguments of a node, never the inside of an entrywise formula."""
    for position, arg in enumerate(expr.args):
        if isinstance(arg, MatrixExpr):
            yield position, arg


def _sites(expr: Basic, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Basic]]:
    yield path, expr
    if isinstance(expr, MatrixSymbol):
        return
    for position, arg in _children(expr):
        yield from _sites(arg, path + (position,))


def _replace(expr: Basic, path: tuple[int, ...], new: Basic) -> Basic:
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = _replace(args[path[0]], path[1:], new)
    return expr.func(*args)


def _well_shaped(expr: Basic) -> bool:
    """Every product's inner sizes equal as written (SymPy lets N x 75 pass for N might be 75)."""
    for _, node in _sites(expr):
        if isinstance(node, MatMul):
            factors = node.as_coeff_matrices()[1]
            if any(a.shape[1] != b.shape[0] for a, b in zip(factors, factors[1:], strict=False)):
                return False
        elif isinstance(node, (MatAdd, HadamardProduct)) and len({a.shape for a in node.args}) > 1:
            return False
    return True


def _t(expr: MatrixExpr) -> MatrixExpr:
    return expr.arg if isinstance(expr, Transpose) else Transpose(expr)


def _base(expr: Basic) -> MatrixSymbol | None:
    inner = expr.arg if isinstance(expr, Transpose) else expr
    return inner if isinstance(inner, MatrixSymbol) else None


class Mutator:
    """Every mutation of one target's formulas, with a sentence in the course's notation."""

    def __init__(self, vocab: Vocabulary, bp: Backprop) -> None:
        self.vocab = vocab
        self.bp = bp
        self.spelling = vocab.names
        self.labels = {info.label: info for info in vocab.layers.values()}
        graph = bp.graph
        order = {layer.name: i for i, layer in enumerate(graph.spec.layers)}
        #: symbol name -> (kind letter, layer, cycle) for "off by one" sentences; the input is layer "0"
        self.places: dict[str, tuple[str, str, int]] = {graph.spec.input.name: ("z", "0", 0)}
        for node in graph.nodes:
            if node.name is None or node.layer is None:
                continue  # an op its consumer inlines, or a value of no layer (the input, target, loss)
            if node.role in ("preactivation", "activation"):
                kind = "s" if node.role == "preactivation" else "z"
                self.places[node.name] = (kind, node.layer, node.cycle or 0)
                if node.role == "preactivation" and f"delta_{node.delta_key}" in vocab.symbols:
                    self.places[f"delta_{node.delta_key}"] = ("delta", node.layer, node.cycle or 0)
            elif node.role in ("weight", "fixed", "bias"):
                self.places[node.name] = (node.role[0], node.layer, 0)
        self.order = order
        loss = graph.nodes[graph.loss]
        self.output, self.target_name = (graph.nodes[i].symbol_name for i in loss.inputs)
        self.weights = [node.symbol_name for node in graph.nodes if node.role in ("weight", "fixed")]
        #: each pre-activation's activation (s_1 -> z_1)
        self.outputs = {
            graph.nodes[node.inputs[0]].symbol_name: node.symbol_name for node in graph.by_role("activation")
        }

    def definitions(self, target: Target, depth: int | None = None) -> list[tuple[str, str, Expr]]:
        """(key, name, matrix form) of the target and of every delta it is written through (within `depth`
        steps, nearest first)."""
        own = target.key if target.kind == "delta" else "target"
        found = [(own, target.name, target.matrix)]
        level = [target.matrix]
        seen = {own}
        steps = 0
        while level and (depth is None or steps < depth):
            steps += 1
            following = []
            for expr in level:
                for symbol in sorted(expr.atoms(MatrixSymbol), key=lambda s: s.name):
                    key = symbol.name[len("delta_") :] if symbol.name in self.vocab.delta_of else None
                    if key is not None and key not in seen:
                        seen.add(key)
                        found.append((key, symbol.name, self.bp.deltas[key]))
                        following.append(self.bp.deltas[key])
            level = following
        return found

    def mutations(self, target: Target, simplified: dict[str, Expr]) -> list[Mutation]:
        """The mutations, the likeliest first (the target's own formula, then the nearest deltas'), at most
        MAX_MUTATIONS; `simplified` gives each key's simplified form."""
        out: list[Mutation] = []
        forbidden = target.symbol
        for key, name, expr in self.definitions(target, DEPTH):
            found = list(self.local(key, name, expr, forbidden, target.kind == "gradient" and key == "target"))
            closed = simplified.get(key)
            if closed is not None and closed != expr:
                found += [m for m in self.local(key, name, closed, forbidden, False) if m.kind != "term_missing"]
            out += found
            if len(out) >= MAX_MUTATIONS:
                break
        return out[:MAX_MUTATIONS]

    def local(self, key: str, name: str, expr: Expr, forbidden: str, whole: bool) -> Iterator[Mutation]:
        """Mutations of one definition `name = expr`."""
        for path, node in _sites(expr):
            for kind, build, lead in self.node_mutations(node, forbidden):
                try:
                    new = _replace(expr, path, build())
                except (ShapeError, ValueError, TypeError):
                    continue  # a mutation whose sizes do not fit: an answer with it is a shape error
                if new != expr and new.shape == expr.shape and _well_shaped(new):
                    yield Mutation(
                        kind,
                        lead,
                        key,
                        name,
                        expr,
                        new,
                        self.kinked(node) if kind == "fprime_missing" else None,
                        self.spelling,
                    )
        layers = {self.places[s.name][1] for s in expr.atoms(MatrixSymbol) if s.name in self.places}
        for weight in self.weights:
            if len(self.weights) > FEW and not any(self.near(self.places[weight][1], layer) for layer in layers):
                continue
            symbol = self.vocab.bp.symbols[weight]
            for new in self.inserted(expr, symbol):
                yield Mutation(
                    "weight_extra",
                    f"an extra weight factor {self.spelling.text(weight)}",
                    key,
                    name,
                    expr,
                    new,
                    spelling=self.spelling,
                )
        if whole and expr.shape[0] == expr.shape[1]:
            yield Mutation(
                "transpose_result", "the result is transposed", key, name, expr, _t(expr), spelling=self.spelling
            )

    def near(self, a: str, b: str) -> bool:
        """Layers that are the same or next to each other."""
        return a == b or self.adjacent(("", a, 0), ("", b, 0))

    def plausible(self, old: str, new: str) -> bool:
        """Whether writing `new` where `old` belongs is a mistake people make: the output for the target (or
        the other way round), the same layer's other value, the same kind of value of a neighbouring layer."""
        if {old, new} == {self.output, self.target_name}:
            return True
        a, b = self.places.get(old), self.places.get(new)
        return a is not None and b is not None and (a[1:] == b[1:] or a[0] == b[0] and self.adjacent(a, b))

    @staticmethod
    def inserted(expr: Expr, weight: MatrixSymbol) -> Iterator[Expr]:
        for factor in (weight, Transpose(weight)):
            for new in ((factor, expr), (expr, factor)):
                try:
                    product = MatMul(*new)
                except ShapeError:
                    continue
                if product.shape == expr.shape and _well_shaped(product):
                    yield product

    def node_mutations(self, node: Basic, forbidden: str) -> Iterator[tuple[str, Callable[..., Basic], str]]:
        """(kind, a function building the mutated node, the sentence's lead) for each mutation of `node`
        (called with no argument; `...` because each lambda binds its loop variable as a default)."""
        if isinstance(node, HadamardProduct):
            yield from self.derivative_mutations(node)
        if isinstance(node, MatAdd) and len(node.args) > 1:
            for i, term in enumerate(node.args):
                rest = node.args[:i] + node.args[i + 1 :]
                lead = f"a term is missing ({self.text(term)})"
                if any("^(" in s.name for s in term.atoms(MatrixSymbol)):
                    lead += "; a weight shared across cycles collects one term per cycle"
                yield "term_missing", lambda rest=rest: rest[0] if len(rest) == 1 else MatAdd(*rest), lead
        if isinstance(node, MatMul):
            coeff, factors = node.as_coeff_matrices()
            for i, factor in enumerate(factors):
                others = factors[:i] + factors[i + 1 :]
                flipped = factors[:i] + [_t(factor)] + factors[i + 1 :]
                yield (
                    "transpose",
                    lambda flipped=flipped: self.product(coeff, flipped),
                    f"a transposed factor: {self.text(_t(factor))} where {self.text(factor)} belongs",
                )
                base = _base(factor)
                if base is not None and base.name in self.weights and others:
                    yield (
                        "weight_missing",
                        lambda others=others: self.product(coeff, others),
                        f"the weight factor {self.text(factor)} is missing",
                    )
        if isinstance(node, MatrixSymbol):
            others = [
                other
                for other in self.vocab.bp.symbols.values()
                if other.shape == node.shape
                and other != node
                and other.name != forbidden
                and not other.name.startswith("dL/d")
            ]
            for other in others:
                if len(others) <= FEW or self.plausible(node.name, other.name):
                    kind, lead = self.substitution(node, other)
                    yield kind, lambda other=other: other, lead

    def adjacent(self, a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
        """Next to each other: layers numbered k and k +- 1 (the input is 0), cycles c and c +- 1 of one
        layer, or layers with names next to each other in the spec."""
        (_, layer_a, cycle_a), (_, layer_b, cycle_b) = a, b
        if layer_a == layer_b:
            return abs(cycle_a - cycle_b) == 1
        if layer_a.isdigit() and layer_b.isdigit():
            return abs(int(layer_a) - int(layer_b)) == 1
        position = {**self.order, "0": -1}
        return layer_a in position and layer_b in position and abs(position[layer_a] - position[layer_b]) == 1

    @staticmethod
    def product(coeff: Expr, factors: list[MatrixExpr]) -> MatrixExpr:
        if len(factors) == 1 and coeff == 1:
            return factors[0]
        return MatMul(coeff, *factors) if coeff != 1 else MatMul(*factors)

    def derivative_mutations(self, node: HadamardProduct) -> Iterator[tuple[str, Callable[..., Basic], str]]:
        for i, factor in enumerate(node.args):
            if not (isinstance(factor, Elementwise) and factor.order == 1 and factor.label in self.labels):
                continue
            rest = node.args[:i] + node.args[i + 1 :]
            shown = self.text(factor)
            yield (
                "fprime_missing",
                lambda rest=rest: rest[0] if len(rest) == 1 else HadamardProduct(*rest),
                f"the activation's derivative {shown} is missing",
            )
            info = self.labels[factor.label]
            plain = Elementwise(factor.label, Integer(0), activation_lambda(info.activation, 0), *factor.mats)
            args = list(node.args)
            args[i] = plain
            yield (
                "f_for_fprime",
                lambda args=args: HadamardProduct(*args),
                f"the activation {self.text(plain)} where its derivative {shown} belongs",
            )
            for other, wrong in self.other_derivatives(info.activation, factor.mats[0]):
                args = list(node.args)
                args[i] = wrong
                own = info.activation.kind if info.activation.kind in _NAMED else info.label
                yield (
                    "wrong_derivative",
                    lambda args=args: HadamardProduct(*args),
                    f"{other}' where {own}' belongs (layer {info.name}'s activation is {own})",
                )

    def text(self, expr: Basic) -> str:
        return to_text(expr, self.spelling)

    def kinked(self, node: Basic) -> str | None:
        """The layer of the relu (or leaky relu) derivative that is a factor of `node`, if one is."""
        for factor in node.args:
            if isinstance(factor, Elementwise) and factor.order == 1 and factor.label in self.labels:
                info = self.labels[factor.label]
                if info.activation.kind in ("relu", "leaky_relu"):
                    return info.name
        return None

    def other_derivatives(self, own: Activation, s: MatrixExpr) -> Iterator[tuple[str, MatrixExpr]]:
        """The derivatives of the other usual activations, at s and written through z = f(s) as people do
        (1 - z^2 for tanh', z (1 - z) for sigma', [s > 0] for relu')."""
        z = self.outputs.get(s.name) if isinstance(s, MatrixSymbol) else None
        for kind in _NAMED:
            if kind == own.kind or kind == "identity":
                continue
            if kind == "relu":
                yield kind, Indicator(s)
            elif z is not None:
                symbol = self.vocab.bp.symbols[z]
                ones = Ones(*symbol.shape)
                yield (
                    kind,
                    ones - HadamardProduct(symbol, symbol)
                    if kind == "tanh"
                    else HadamardProduct(symbol, ones - symbol),
                )
            yield kind, Elementwise(kind, Integer(1), activation_lambda(Activation(kind), 1), s)

    def substitution(self, old: MatrixSymbol, new: MatrixSymbol) -> tuple[str, str]:
        """The kind and lead of writing `new` where `old` belongs."""
        a, b = old.name, new.name
        shown_a, shown_b = self.spelling.text(a), self.spelling.text(b)
        if {a, b} == {self.output, self.target_name}:
            what = "the target" if b == self.target_name else "the output"
            return (
                "target_output",
                f"{what} {shown_b} where {'the output' if b == self.target_name else 'the target'} {shown_a} belongs",
            )
        place_a, place_b = self.places.get(a), self.places.get(b)
        if place_a and place_b and place_a[1:] == place_b[1:] and {place_a[0], place_b[0]} == {"s", "z"}:
            kinds = {"s": "pre-activation", "z": "activation"}
            return "variable", f"the {kinds[place_b[0]]} {shown_b} where the {kinds[place_a[0]]} {shown_a} belongs"
        if place_a and place_b and place_a[0] == place_b[0] and self.adjacent(place_a, place_b):
            return "layer_index", f"a layer (or cycle) index is off by one: {shown_b} where {shown_a} belongs"
        return "variable", f"{shown_b} where {shown_a} belongs"
