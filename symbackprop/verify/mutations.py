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
from dataclasses import dataclass

from sympy import Basic, Expr, Integer
from sympy.matrices.exceptions import ShapeError
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, Transpose

from symbackprop.api import Target
from symbackprop.derive import Backprop
from symbackprop.matexpr import Elementwise
from symbackprop.printing import to_text
from symbackprop.verify.names import Vocabulary, activation_lambda

#: Partial credit of an answer that made exactly one mistake of each kind.
CREDIT = {
    "sign": 0.75, "factor": 0.75, "fprime_missing": 0.5, "f_for_fprime": 0.5, "variable": 0.5, "layer_index": 0.5,
    "target_output": 0.5, "transpose": 0.5, "transpose_result": 0.5, "term_missing": 0.5, "weight_missing": 0.5,
    "weight_extra": 0.5,
}
#: At most this many mutations per target (the first ones are the likeliest mistakes).
MAX_MUTATIONS = 400


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

    @property
    def sentence(self) -> str:
        """Printed only when the mutation explains an answer: printing every one would cost more than the rest."""
        return f"{self.lead}: {self.name} = {to_text(self.definition)}, not {to_text(self.local)}"


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
        self.labels = {info.label: info for info in vocab.layers.values()}
        graph = bp.graph
        order = {layer.name: i for i, layer in enumerate(graph.spec.layers)}
        #: symbol name -> (kind letter, layer, cycle) for "off by one" sentences; the input is layer "0"
        self.places: dict[str, tuple[str, str, int]] = {graph.spec.input.name: ("z", "0", 0)}
        for node in graph.nodes:
            if node.name and node.layer is not None and node.role in ("preactivation", "activation"):
                kind = "s" if node.role == "preactivation" else "z"
                self.places[node.name] = (kind, node.layer, node.cycle or 0)
                if node.role == "preactivation" and f"delta_{node.delta_key}" in vocab.symbols:
                    self.places[f"delta_{node.delta_key}"] = ("delta", node.layer, node.cycle or 0)
            elif node.role in ("weight", "fixed", "bias"):
                self.places[node.name] = (node.role[0], node.layer, 0)
        self.order = order
        loss = graph.nodes[graph.loss]
        self.output, self.target_name = (graph.nodes[i].name for i in loss.inputs)
        self.weights = [node.name for node in graph.nodes if node.role in ("weight", "fixed")]

    def definitions(self, target: Target) -> list[tuple[str, str, Expr]]:
        """(key, name, matrix form) of the target and of every delta it is written through."""
        own = target.key if target.kind == "delta" else "target"
        found = [(own, target.name, target.matrix)]
        pending = [target.matrix]
        seen = {own}
        while pending:
            for symbol in pending.pop().atoms(MatrixSymbol):
                key = symbol.name[len("delta_"):] if symbol.name in self.vocab.delta_of else None
                if key is not None and key not in seen:
                    seen.add(key)
                    found.append((key, symbol.name, self.bp.deltas[key]))
                    pending.append(self.bp.deltas[key])
        return found

    def mutations(self, target: Target, simplified: dict[str, Expr]) -> list[Mutation]:
        """Every mutation, the likeliest kinds first; `simplified` gives each key's simplified form."""
        out: list[Mutation] = []
        forbidden = target.symbol
        for key, name, expr in self.definitions(target):
            out += self.local(key, name, expr, forbidden, target.kind == "gradient" and key == "target")
            closed = simplified.get(key)
            if closed is not None and closed != expr:
                out += [m for m in self.local(key, name, closed, forbidden, False) if m.kind != "term_missing"]
        return out[:MAX_MUTATIONS]

    def local(self, key: str, name: str, expr: Expr, forbidden: str, whole: bool) -> list[Mutation]:
        """Mutations of one definition `name = expr`."""
        found: list[Mutation] = []

        def add(kind: str, new: Basic, lead: str) -> None:
            found.append(Mutation(kind, lead, key, name, expr, new))

        for path, node in _sites(expr):
            for kind, build, lead in self.node_mutations(node, forbidden):
                try:
                    new = _replace(expr, path, build())
                except (ShapeError, ValueError, TypeError):
                    continue  # a mutation whose sizes do not fit: an answer with it is a shape error
                if new != expr and new.shape == expr.shape and _well_shaped(new):
                    add(kind, new, lead)
        for weight in self.weights:
            symbol = self.vocab.bp.symbols[weight]
            for new in self.inserted(expr, symbol):
                add("weight_extra", new, f"an extra weight factor {weight}")
        if whole and expr.shape[0] == expr.shape[1]:
            add("transpose_result", _t(expr), "the result is transposed")
        return found

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

    def node_mutations(self, node: Basic, forbidden: str) -> Iterator[tuple[str, Callable[[], Basic], str]]:
        """(kind, a function building the mutated node, the sentence's lead) for each mutation of `node`."""
        if isinstance(node, HadamardProduct):
            yield from self.derivative_mutations(node)
        if isinstance(node, MatAdd) and len(node.args) > 1:
            for i, term in enumerate(node.args):
                rest = node.args[:i] + node.args[i + 1:]
                lead = f"a term is missing ({to_text(term)})"
                if any("^(" in s.name for s in term.atoms(MatrixSymbol)):
                    lead += "; a weight shared across cycles collects one term per cycle"
                yield "term_missing", lambda rest=rest: rest[0] if len(rest) == 1 else MatAdd(*rest), lead
        if isinstance(node, MatMul):
            coeff, factors = node.as_coeff_matrices()
            for i, factor in enumerate(factors):
                others = factors[:i] + factors[i + 1:]
                flipped = factors[:i] + [_t(factor)] + factors[i + 1:]
                yield ("transpose", lambda flipped=flipped: self.product(coeff, flipped),
                       f"a transposed factor: {to_text(_t(factor))} where {to_text(factor)} belongs")
                base = _base(factor)
                if base is not None and base.name in self.weights and others:
                    yield ("weight_missing", lambda others=others: self.product(coeff, others),
                           f"the weight factor {to_text(factor)} is missing")
        if isinstance(node, MatrixSymbol):
            for other in self.vocab.bp.symbols.values():
                if other.shape == node.shape and other != node and other.name != forbidden \
                        and not other.name.startswith("dL/d"):
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

    def derivative_mutations(self, node: HadamardProduct) -> Iterator[tuple[str, Callable[[], Basic], str]]:
        for i, factor in enumerate(node.args):
            if not (isinstance(factor, Elementwise) and factor.order == 1 and factor.label in self.labels):
                continue
            rest = node.args[:i] + node.args[i + 1:]
            shown = to_text(factor)
            yield ("fprime_missing", lambda rest=rest: rest[0] if len(rest) == 1 else HadamardProduct(*rest),
                   f"the activation's derivative {shown} is missing")
            info = self.labels[factor.label]
            plain = Elementwise(factor.label, Integer(0), activation_lambda(info.activation, 0), *factor.mats)
            args = list(node.args)
            args[i] = plain
            yield ("f_for_fprime", lambda args=args: HadamardProduct(*args),
                   f"the activation {to_text(plain)} where its derivative {shown} belongs")

    def substitution(self, old: MatrixSymbol, new: MatrixSymbol) -> tuple[str, str]:
        """The kind and lead of writing `new` where `old` belongs."""
        a, b = old.name, new.name
        if {a, b} == {self.output, self.target_name}:
            what = "the target" if b == self.target_name else "the output"
            return "target_output", f"{what} {b} where {'the output' if b == self.target_name else 'the target'} " \
                f"{a} belongs"
        place_a, place_b = self.places.get(a), self.places.get(b)
        if place_a and place_b and place_a[1:] == place_b[1:] and {place_a[0], place_b[0]} == {"s", "z"}:
            kinds = {"s": "pre-activation", "z": "activation"}
            return "variable", f"the {kinds[place_b[0]]} {b} where the {kinds[place_a[0]]} {a} belongs"
        if place_a and place_b and place_a[0] == place_b[0] and self.adjacent(place_a, place_b):
            return "layer_index", f"a layer (or cycle) index is off by one: {b} where {a} belongs"
        return "variable", f"{b} where {a} belongs"


def substituted(bp: Backprop, target: Target, mutation: Mutation | None) -> Expr:
    """The target's fully substituted formula, with `mutation` (if any) in place of its definition."""
    full: dict[MatrixSymbol, Expr] = {}
    for key, expr in bp.deltas.items():  # from the loss backwards
        local = mutation.local if mutation is not None and mutation.key == key else expr
        full[bp.delta_symbol(key)] = local.xreplace(full)
    if target.kind == "delta":
        return full[bp.delta_symbol(target.key)]
    own = mutation.local if mutation is not None and mutation.key == "target" else target.matrix
    return own.xreplace(full)
