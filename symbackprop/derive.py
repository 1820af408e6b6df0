"""Reverse accumulation over the graph, at the level of whole matrices.

Every pre-activation s_k gets a named delta_k = dL/ds_k; what flows further back is
written through delta_k, never its expansion, so the work is linear in depth. Each
parameter's gradient is the sum of what its consumers send back. The engine knows no
op by name: it asks rules.py for forwards and vector-Jacobian products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sympy import Expr, Integer, MatAdd, S, Symbol
from sympy.matrices.expressions import MatrixSymbol

from symbackprop import rules
from symbackprop.graph import BATCH, PARAMETER_ROLES, Graph, Node

#: The number of samples, as it appears in shapes and in `reduction: mean`.
N = Symbol(BATCH, integer=True, positive=True)


def sympy_shape(shape: tuple[Any, ...]) -> tuple[Expr, ...]:
    return tuple(N if dim == BATCH else Integer(dim) for dim in shape)


@dataclass(frozen=True)
class Backprop:
    """What reverse accumulation found, all in SymPy.

    definitions: forward equations of named values (s_1 -> W_1 x + b_1 1^T, L -> ...);
    deltas: delta key (the layer, or "rec^(2)" for a recurrent layer's cycle) -> delta written
        through the next deltas, from the loss backwards;
    gradients: parameter name -> dL/dparam written through deltas;
    symbols: every named value's MatrixSymbol (delta symbols under "delta_<layer>").
    """

    graph: Graph
    symbols: dict[str, MatrixSymbol]
    definitions: dict[str, Expr]
    deltas: dict[str, Expr]
    gradients: dict[str, Expr]

    def delta_symbol(self, key: str) -> MatrixSymbol:
        return self.symbols[f"delta_{key}"]

    def substituted(self) -> tuple[dict[str, Expr], dict[str, Expr]]:
        """Deltas and gradients with every delta replaced by its full expression
        (each delta is substituted once, from the loss backwards: still linear)."""
        full: dict[MatrixSymbol, Expr] = {}
        deltas: dict[str, Expr] = {}
        for layer, expr in self.deltas.items():  # from the loss backwards
            deltas[layer] = full[self.delta_symbol(layer)] = expr.xreplace(full)
        gradients = {name: expr.xreplace(full) for name, expr in self.gradients.items()}
        return deltas, gradients


def op_attrs(node: Node) -> dict[str, Any]:
    """A node's attributes as rules see them: with its SymPy shape and the batch size N."""
    return {**node.attrs, "shape": sympy_shape(node.shape), "batch": N}


def backprop(graph: Graph) -> Backprop:
    """Forward expressions, then adjoints from the loss back to every parameter."""
    symbols: dict[str, MatrixSymbol] = {}
    exprs: dict[int, Expr] = {}  # what a consumer writes for each node
    definitions: dict[str, Expr] = {}
    for node in graph.nodes:
        if node.op == "symbol":
            exprs[node.id] = symbols[node.symbol_name] = MatrixSymbol(node.name, *sympy_shape(node.shape))
            continue
        value = rules.OPS[node.op].forward(op_attrs(node), *(exprs[i] for i in node.inputs))
        if node.name is None:
            exprs[node.id] = value
        elif node.role == "loss":
            definitions[node.name] = exprs[node.id] = value
        else:
            definitions[node.name] = value
            exprs[node.id] = symbols[node.name] = MatrixSymbol(node.name, *sympy_shape(node.shape))

    needed = depends_on_parameters(graph)
    fused = _fused_output_delta(graph, symbols)
    pending: dict[int, list[Expr]] = {node.id: [] for node in graph.nodes}
    deltas: dict[str, Expr] = {}
    gradients: dict[str, Expr] = {}
    for node in reversed(graph.nodes):
        if node.id not in needed:
            continue
        if node.id == graph.loss:
            adjoint: Expr = S.One
        else:
            terms = pending[node.id]
            if not terms:
                continue
            adjoint = terms[0] if len(terms) == 1 else MatAdd(*terms)
        if node.role in PARAMETER_ROLES:
            gradients[node.symbol_name] = adjoint
            continue
        if node.role == "preactivation":
            deltas[node.delta_key] = fused.get(node.id, adjoint)
            name = f"delta_{node.delta_key}"
            adjoint = symbols[name] = MatrixSymbol(name, *sympy_shape(node.shape))
        inputs = [exprs[i] for i in node.inputs]
        for index, source in enumerate(node.inputs):
            if source in needed:
                pending[source].append(rules.vjp(node.op, index)(op_attrs(node), adjoint, exprs[node.id], *inputs))
    order = [p.name for p in graph.parameters]
    return Backprop(graph, symbols, definitions, deltas, {name: gradients[name] for name in order if name in gradients})


def node_expressions(bp: Backprop) -> dict[int, Expr]:
    """What a consumer writes for each node: a named value's symbol (the loss: its definition),
    an unnamed op's forward expression inlined."""
    exprs: dict[int, Expr] = {}
    for node in bp.graph.nodes:
        if node.role == "loss":
            exprs[node.id] = bp.definitions[node.symbol_name]
        elif node.name is not None:
            exprs[node.id] = bp.symbols[node.name]
        else:
            exprs[node.id] = rules.OPS[node.op].forward(op_attrs(node), *(exprs[i] for i in node.inputs))
    return exprs


def adjoint(bp: Backprop, name: str) -> Expr:
    """dL/d(name) for any named value the loss depends on (an activation, the output, the input, a
    pre-activation), written through the deltas of the pre-activations after it: one more reverse
    pass over the nodes downstream of it, so still linear in depth. Raises ValueError when the
    loss does not depend on `name`."""
    graph = bp.graph
    start = graph.named(name)
    downstream = {start.id}
    for node in graph.nodes:  # topological order
        if any(i in downstream for i in node.inputs):
            downstream.add(node.id)
    if graph.loss not in downstream:
        raise ValueError(f"the loss does not depend on {name}")
    exprs = node_expressions(bp)
    pending: dict[int, list[Expr]] = {i: [] for i in downstream}
    for node in reversed(graph.nodes):
        if node.id not in downstream:
            continue
        if node.id == graph.loss:
            value: Expr = S.One
        else:
            terms = pending[node.id]
            if not terms:
                continue
            value = terms[0] if len(terms) == 1 else MatAdd(*terms)
        if node.id == start.id:
            return value
        if node.role == "preactivation" and node.delta_key in bp.deltas:
            value = bp.delta_symbol(node.delta_key)
        inputs = [exprs[i] for i in node.inputs]
        for index, source in enumerate(node.inputs):
            if source in downstream:
                pending[source].append(rules.vjp(node.op, index)(op_attrs(node), value, exprs[node.id], *inputs))
    raise ValueError(f"the loss does not depend on {name}")  # pragma: no cover - the loss is downstream


def _fused_output_delta(graph: Graph, symbols: dict[str, MatrixSymbol]) -> dict[int, Expr]:
    """The output pre-activation's delta in the closed form rules.py gives where the output activation and
    the loss cancel (rules.FUSED_OUTPUT_DELTAS: y_out - y, scaled by the reduction), keyed by the
    pre-activation's node."""
    loss = graph.nodes[graph.loss]
    output, target = (graph.nodes[i] for i in loss.inputs)
    if output.role != "activation" or sum(output.id in node.inputs for node in graph.nodes) != 1:
        return {}
    delta = rules.fused_output_delta(
        output.attrs["activation"], op_attrs(loss), symbols[output.symbol_name], symbols[target.symbol_name]
    )
    return {} if delta is None else {output.inputs[0]: delta}


def depends_on_parameters(graph: Graph) -> set[int]:
    """Nodes on a path from a parameter to the loss: the only ones worth an adjoint."""
    reaches: set[int] = set()
    for node in graph.nodes:
        if node.role in PARAMETER_ROLES or any(i in reaches for i in node.inputs):
            reaches.add(node.id)
    return reaches
