"""The network as a DAG of matrix-level ops, built from a validated spec.

A chain is just the default wiring: each layer names the layers (or the input) it reads,
several inputs are summed, so skip connections and other DAGs need no engine change.
Shapes hold ints and "N", the number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symbackprop.spec.model import Layer, NetworkSpec

BATCH = "N"
Shape = tuple[Any, ...]
#: Roles of the values that are trained.
PARAMETER_ROLES = ("weight", "bias")
#: Roles of the values a numeric evaluation is given: data, fixed matrices and parameters.
LEAF_ROLES = ("input", "target", "fixed", "weight", "bias")


@dataclass(frozen=True)
class Node:
    """One value of the network. Named nodes (inputs, parameters, s_k, z_k) are written as
    their symbol in formulas; unnamed ones are inlined into their consumer's expression."""

    id: int
    op: str  # "symbol" for named leaves, else a key of rules.OPS
    inputs: tuple[int, ...]
    shape: Shape
    name: str | None = None
    role: str = "op"  # input | target | weight | bias | const | preactivation | activation | loss | op
    layer: str | None = None
    key: str | None = None  # how numeric results name it (z_out where formulas say y_out)
    attrs: dict[str, Any] = field(default_factory=dict)
    cycle: int | None = None  # which cycle of a recurrent layer, from 1

    @property
    def symbol_name(self) -> str:
        """The name of a named node (a leaf, s_k, z_k, the loss), for code that reads only those."""
        if self.name is None:
            raise ValueError(f"node {self.id} ({self.op}) is unnamed: its consumers inline it")
        return self.name

    @property
    def delta_key(self) -> str:
        """What names this pre-activation's delta: the layer, with the cycle for a recurrent one
        ("1", "rec^(2)"); the delta itself is delta_<key>."""
        if self.layer is None:
            raise ValueError(f"node {self.name or self.id} belongs to no layer; it has no delta")
        return self.layer if self.cycle is None else f"{self.layer}^({self.cycle})"


def cycle_name(name: str, cycle: int | None) -> str:
    """s_rec with cycle 2 is s_rec^(2)."""
    return name if cycle is None else f"{name}^({cycle})"


@dataclass(frozen=True)
class Graph:
    spec: NetworkSpec
    nodes: tuple[Node, ...]  # in topological order
    loss: int

    def named(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def by_role(self, role: str) -> list[Node]:
        return [node for node in self.nodes if node.role == role]

    @property
    def parameters(self) -> list[Node]:
        return [node for node in self.nodes if node.role in PARAMETER_ROLES]

    @property
    def leaves(self) -> list[Node]:
        """The values a numeric evaluation takes as arguments, in graph order."""
        return [node for node in self.nodes if node.role in LEAF_ROLES]


class _Builder:
    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.nodes: list[Node] = []
        self.columns = spec.convention.samples == "columns"
        self.out_in = spec.convention.weights == "out_in"

    def add(self, op: str, inputs: tuple[int, ...], shape: Shape, **fields: Any) -> int:
        node = Node(len(self.nodes), op, inputs, shape, **fields)
        self.nodes.append(node)
        return node.id

    def batch_shape(self, units: int) -> Shape:
        return (units, BATCH) if self.columns else (BATCH, units)

    def matmul(self, left: int, right: int) -> int:
        shape = (self.nodes[left].shape[0], self.nodes[right].shape[1])
        return self.add("matmul", (left, right), shape)

    def transpose(self, node: int) -> int:
        return self.add("transpose", (node,), tuple(reversed(self.nodes[node].shape)))

    def parameters(self, layer: Layer, fan_in: int) -> tuple[int, int | None]:
        """The layer's weight (a constant when fixed) and bias nodes, shared by all its cycles."""
        units = layer.units
        weight_shape = (units, fan_in) if self.out_in else (fan_in, units)
        weight = self.add(
            "symbol",
            (),
            weight_shape,
            name=layer.weight,
            role="fixed" if layer.fixed else "weight",
            layer=layer.name,
            key=layer.weight,
        )
        bias = None
        if layer.bias:
            bias = self.add(
                "symbol",
                (),
                (units, 1) if self.columns else (1, units),
                name=layer.bias,
                role="bias",
                layer=layer.name,
                key=layer.bias,
            )
        return weight, bias

    def preactivation(self, layer: Layer, weight: int, bias: int | None, source: int, cycle: int | None) -> int:
        """s = W h (+ b) in the spec's orientation; returns the id of s."""
        oriented = weight if self.out_in == self.columns else self.transpose(weight)
        product = self.matmul(oriented, source) if self.columns else self.matmul(source, oriented)
        terms = [product]
        if bias is not None:
            shape = (1, BATCH) if self.columns else (BATCH, 1)
            ones = self.add("ones", (), shape, role="const", attrs={"shape": shape})
            terms.append(self.matmul(bias, ones) if self.columns else self.matmul(ones, bias))
        name = cycle_name(f"s_{layer.name}", cycle)
        return self.add(
            "add",
            tuple(terms),
            self.batch_shape(layer.units),
            name=name,
            role="preactivation",
            layer=layer.name,
            key=name,
            cycle=cycle,
        )

    def activation(self, layer: Layer, s: int, name: str, key: str, cycle: int | None) -> int:
        label = layer.activation.function if layer.activation.kind == "function" else f"f_{layer.name}"
        return self.add(
            "activation",
            (s,),
            self.batch_shape(layer.units),
            name=name,
            role="activation",
            layer=layer.name,
            key=key,
            cycle=cycle,
            attrs={"activation": layer.activation, "label": label, "axis": 0 if self.columns else 1},
        )


def build_graph(spec: NetworkSpec) -> Graph:
    """Wire the spec's layers into a graph ending in the loss."""
    b = _Builder(spec)
    x = b.add("symbol", (), b.batch_shape(spec.input.size), name=spec.input.name, role="input", key=spec.input.name)
    outputs: dict[str, tuple[int, int]] = {spec.input.name: (x, spec.input.size)}
    last = spec.layers[-1]
    for layer in spec.layers:
        sources = [outputs[name] for name in layer.inputs]
        fan_in = sources[0][1]
        source = (
            sources[0][0]
            if len(sources) == 1
            else b.add("add", tuple(node for node, _ in sources), b.batch_shape(fan_in))
        )
        weight, bias = b.parameters(layer, fan_in)
        z = None
        for cycle in range(1, layer.cycles + 1) if layer.cycles > 1 else (None,):
            fed = source if z is None else b.add("add", (source, z), b.batch_shape(fan_in))
            s = b.preactivation(layer, weight, bias, fed, cycle)
            key = cycle_name(f"z_{layer.name}", cycle)
            name = spec.output if layer is last and cycle in (None, layer.cycles) else key
            z = b.activation(layer, s, name, key, cycle)
        assert z is not None  # a layer has at least one cycle
        outputs[layer.name] = (z, layer.units)
    if spec.target_is_input:
        target = x
    else:
        target = b.add(
            "symbol", (), b.batch_shape(spec.target.size), name=spec.target.name, role="target", key=spec.target.name
        )
    loss = b.add(
        "loss",
        (outputs[last.name][0], target),
        (),
        name="L",
        role="loss",
        key="loss",
        attrs={
            "loss": spec.loss,
            "output_name": spec.output,
            "axis": 0 if b.columns else 1,
            "target_name": spec.input.name if spec.target_is_input else spec.target.name,
        },
    )
    return Graph(spec, tuple(b.nodes), loss)
