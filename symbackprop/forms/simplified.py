"""The simplified form: the matrix form with each activation derivative in closed form
(tanh' = 1 - z^2, sigmoid' = z (1 - z), relu' = [s > 0], (x^2)' = 2 s), still written through
named deltas and activations so that it stays short. (Cancellations between an output
activation and its loss, softmax + cross-entropy = y_out - y, are the engine's: derive.py.)"""

from __future__ import annotations

from sympy import Expr
from sympy.matrices.expressions import HadamardProduct, OneMatrix

from symbackprop import rules
from symbackprop.derive import Backprop
from symbackprop.matexpr import Elementwise


def _drop_ones(expr: Expr) -> Expr:
    """x ⊙ 1 = x: an identity's derivative leaves no factor behind."""

    def is_ones_product(e: Expr) -> bool:
        return isinstance(e, HadamardProduct) and any(isinstance(a, OneMatrix) for a in e.args)

    def without_ones(e: HadamardProduct) -> Expr:
        rest = [a for a in e.args if not isinstance(a, OneMatrix)]
        return rest[0] if len(rest) == 1 else HadamardProduct(*rest)

    return expr.replace(is_ones_product, without_ones)


class Simplifier:
    """Rewrites derivatives f_k'(s_k) of the graph's activations into their closed forms."""

    def __init__(self, bp: Backprop) -> None:
        self.bp = bp
        self.closed: dict[Expr, Expr] = {}
        graph = bp.graph
        for node in graph.by_role("activation"):
            act = node.attrs["activation"]
            s, z = bp.symbols[graph.nodes[node.inputs[0]].symbol_name], bp.symbols[node.symbol_name]
            rule = rules.ACTIVATIONS[act.kind]
            if rule.function is not None and rule.closed_form is not None:
                derivative = Elementwise(node.attrs["label"], 1, rules.activation_derivative(act), s)
                closed = rule.closed_form(act, s, z)
                if closed is not None:
                    self.closed[derivative] = closed

    def delta(self, layer: str) -> Expr:
        return self.simplify(self.bp.deltas[layer])

    def simplify(self, expr: Expr) -> Expr:
        return _drop_ones(expr.xreplace(self.closed))
