"""The chain (Leibniz) form: a gradient as the product of partials along each path from the
loss, as a student writes it, with the part that makes up the next delta grouped under it
(the underbrace step: dL/dW_2 = [dL/dy_out . dy_out/ds_2]_{delta_2} . ds_2/dW_2)."""

from __future__ import annotations

from sympy import Basic, Expr, Symbol
from sympy.core.symbol import Str

from symbackprop.derive import Backprop
from symbackprop.graph import Graph, Node

#: The loss as the numerator of the first partial.
LOSS = Symbol("L")


class Partial(Expr):
    """d(numerator)/d(denominator), kept as notation (never evaluated)."""

    is_commutative = False

    def __new__(cls, numerator: Basic, denominator: Basic) -> Partial:
        return Expr.__new__(cls, numerator, denominator)

    @property
    def numerator(self) -> Basic:
        return self.args[0]

    @property
    def denominator(self) -> Basic:
        return self.args[1]


class ChainProduct(Expr):
    """Partials multiplied along one path, in the order a student writes them."""

    is_commutative = False

    def __new__(cls, *factors: Expr) -> Expr:
        flat: list[Expr] = []
        for factor in factors:
            flat.extend(factor.args if isinstance(factor, ChainProduct) else (factor,))
        return flat[0] if len(flat) == 1 else Expr.__new__(cls, *flat)


class ChainSum(Expr):
    """The paths' products added up, where a value feeds several others."""

    is_commutative = False

    def __new__(cls, *terms: Expr) -> Expr:
        return terms[0] if len(terms) == 1 else Expr.__new__(cls, *terms)


class Grouped(Expr):
    """A part of a chain that equals a named delta (printed as an underbrace)."""

    is_commutative = False

    def __new__(cls, inner: Expr, name: str) -> Grouped:
        return Expr.__new__(cls, inner, Str(name))

    @property
    def inner(self) -> Expr:
        return self.args[0]

    @property
    def name(self) -> str:
        return self.args[1].name


class ChainBuilder:
    """Paths between named values of the graph, from each value to the loss."""

    def __init__(self, bp: Backprop) -> None:
        self.bp = bp
        graph: Graph = bp.graph
        self.consumers: dict[int, list[Node]] = {node.id: [] for node in graph.nodes}
        for node in graph.nodes:
            if node.name is not None and node.op != "symbol":
                for source in self._named_inputs(graph, node):
                    self.consumers[source.id].append(node)

    @staticmethod
    def _named_inputs(graph: Graph, node: Node) -> list[Node]:
        found: list[Node] = []
        stack = list(node.inputs)
        while stack:
            source = graph.nodes[stack.pop()]
            if source.name is not None:
                if source not in found:
                    found.append(source)
            elif source.role != "const":
                stack.extend(source.inputs)
        return found

    def _symbol(self, node: Node) -> Basic:
        return LOSS if node.role == "loss" else self.bp.symbols[node.symbol_name]

    def to_loss(self, node: Node, group: bool) -> Expr:
        """dL/d(node) as a chain of partials; with `group`, each path's part up to the first
        pre-activation it meets is grouped as that layer's delta."""
        terms = []
        for consumer in self.consumers[node.id]:
            step = Partial(self._symbol(consumer), self._symbol(node))
            if consumer.role == "loss":
                terms.append(step)
            elif group and consumer.role == "preactivation" and consumer.delta_key in self.bp.deltas:
                upstream = Grouped(self.to_loss(consumer, group=False), f"delta_{consumer.delta_key}")
                terms.append(ChainProduct(upstream, step))
            else:
                terms.append(ChainProduct(self.to_loss(consumer, group), step))
        return ChainSum(*terms)

    def size(self, node: Node) -> int:
        """The number of partials to_loss(node, group=True) holds, counted without building it (paths
        multiply where layers read several earlier layers)."""
        counts: dict[tuple[int, bool], int] = {}

        def count(node: Node, group: bool) -> int:
            key = (node.id, group)
            if key not in counts:
                total = 0
                for consumer in self.consumers[node.id]:
                    if consumer.role == "loss":
                        total += 1
                    elif group and consumer.role == "preactivation" and consumer.delta_key in self.bp.deltas:
                        total += count(consumer, False) + 1
                    else:
                        total += count(consumer, group) + 1
                counts[key] = total
            return counts[key]

        return count(node, True)
