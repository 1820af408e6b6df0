"""The network as a diagram: nodes at grid positions and the arrows between them, computed
here so that a template only draws (TikZ in LaTeX, mermaid in Markdown).

Columns are depths: the input is column 0 and a layer sits one column right of the deepest
layer it reads; a column is as wide as its widest label. Within a column a layer is placed
level with the mean of its sources, then pushed apart so that no two nodes overlap. A layer
that reads several outputs gets a sum node just before it; fixed weights are marked so that
templates can draw them differently, and a recurrent layer carries the number of its cycles
for a loop arrow.
"""

from __future__ import annotations

from dataclasses import dataclass

from symbackprop.notation import Names
from symbackprop.render.markup import Math, Text
from symbackprop.spec import NetworkSpec
from symbackprop.spec.model import Activation, Layer, Loss

#: Least distance between the centres of two nodes of a column, in cm.
ROW = 2.8
#: Room between the boxes of neighbouring columns, and before a layer for its sum node, in cm.
GAP = 1.1
SUM_ROOM = 1.0
#: A node's width: its longest line of text at about CHAR cm per character, at least MIN_WIDTH.
CHAR = 0.18
MIN_WIDTH = 2.4
#: The loss node's width: its text wraps (templates give it this text width, less a margin).
LOSS_WIDTH = 3.0


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # input | layer | sum | loss
    x: str  # cm, printed
    y: str
    name: Text | None = None  # the input's or the layer's name
    units: int | None = None
    caption: Text | None = None  # the layer's activation, or the loss
    weight: Math | None = None
    bias: Math | None = None
    weight_text: Text | None = None  # the same names in plain text, for mermaid
    bias_text: Text | None = None
    fixed: bool = False  # the weight is a constant matrix, not a trained parameter
    cycles: int = 1  # more than 1 for a recurrent layer


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    fixed: bool = False  # into a layer whose weight is fixed
    label: Math | None = None  # the output's name, on the arrow into the loss
    label_text: Text | None = None


@dataclass(frozen=True)
class Diagram:
    nodes: list[Node]
    edges: list[Edge]


def activation_name(activation: Activation) -> str:
    """How the diagram and the layer table name an activation."""
    if activation.kind == "expr":
        return f"f(x) = {activation.source}"
    if activation.kind == "function":
        return f"{activation.function} (generic)"
    if activation.kind == "leaky_relu":
        return f"leaky relu ({activation.alpha:g})"
    return activation.kind


def loss_name(loss: Loss) -> str:
    """How the diagram and the text name a loss."""
    name = f"L = {loss.source}" if loss.kind == "expr" else loss.kind.replace("_", " ")
    if loss.kind == "hinge":
        name += f" (margin {loss.margin:g})"
    return name + (", mean over samples" if loss.reduction == "mean" else "")


def _cm(value: float) -> str:
    return f"{value:.2f}"


def _spread(desired: list[float]) -> list[float]:
    """Positions close to `desired` (top first), at least ROW apart, centred like the wishes."""
    placed: list[float] = []
    for wish in desired:
        placed.append(min(wish, placed[-1] - ROW) if placed else wish)
    shift = (sum(desired) - sum(placed)) / len(placed)
    return [y + shift for y in placed]


def _width(*lines: str, small: str = "") -> float:
    """The width of a node whose text has these lines, and a line of `small` print (subscripts)."""
    return max(MIN_WIDTH, CHAR * max(len(line) for line in lines) + 0.6, 0.6 * CHAR * len(small) + 0.6)


def _depths(spec: NetworkSpec) -> dict[str, int]:
    """The input is at depth 0; a layer one deeper than the deepest output it reads."""
    depth = {spec.input.name: 0}
    for layer in spec.layers:
        depth[layer.name] = 1 + max(depth[source] for source in layer.inputs)
    return depth


def _heights(spec: NetworkSpec, depth: dict[str, int]) -> dict[str, float]:
    """Each layer level with the mean of its sources, its column spread so that nothing overlaps."""
    y = {spec.input.name: 0.0}
    columns: dict[int, list[str]] = {}
    for layer in spec.layers:
        columns.setdefault(depth[layer.name], []).append(layer.name)
    for column in sorted(columns):  # column by column, so that sources are placed first
        names = columns[column]
        wishes = {name: sum(y[s] for s in spec.layer(name).inputs) / len(spec.layer(name).inputs) for name in names}
        order = sorted(names, key=lambda name: -wishes[name])
        y.update(zip(order, _spread([wishes[name] for name in order]), strict=True))
    return y


def _layer_width(layer: Layer) -> float:
    return _width(f"layer {layer.name}", f"{layer.units} units, {activation_name(layer.activation)}",
                  small=f"{layer.weight} (fixed), {layer.bias or ''}")


def diagram(spec: NetworkSpec) -> Diagram:
    """Nodes (input, layers, sums, loss) and arrows of the spec's wiring."""
    depth, loss_caption = _depths(spec), loss_name(spec.loss)
    names = Names.of(spec)
    y = _heights(spec, depth)
    last_column = max(depth.values()) + 1  # the loss
    widths = {0: _width(f"input {spec.input.name}", f"{spec.input.size} features"),
              last_column: LOSS_WIDTH}
    summed = set()
    for layer in spec.layers:
        widths[depth[layer.name]] = max(widths.get(depth[layer.name], 0.0), _layer_width(layer))
        summed |= {depth[layer.name]} if len(layer.inputs) > 1 else set()
    x = [0.0]
    for column in range(1, last_column + 1):
        x.append(x[-1] + widths[column - 1] / 2 + GAP + SUM_ROOM * (column in summed) + widths[column] / 2)

    ids = {spec.input.name: "in0", **{layer.name: f"layer{i}" for i, layer in enumerate(spec.layers, start=1)}}
    nodes = [Node("in0", "input", _cm(0), _cm(0), Text(spec.input.name), spec.input.size)]
    edges: list[Edge] = []
    for layer in spec.layers:
        column, layer_id = depth[layer.name], ids[layer.name]
        source = ids[layer.inputs[0]]
        if len(layer.inputs) > 1:
            source = f"sum{layer_id}"
            sum_x = x[column] - widths[column] / 2 - SUM_ROOM / 2 - GAP / 4
            nodes.append(Node(source, "sum", _cm(sum_x), _cm(y[layer.name])))
            edges += [Edge(ids[name], source) for name in layer.inputs]
        edges.append(Edge(source, layer_id, fixed=layer.fixed))
        nodes.append(Node(
            layer_id, "layer", _cm(x[column]), _cm(y[layer.name]), Text(layer.name), layer.units,
            Text(activation_name(layer.activation)), Math(names.latex(layer.weight)),
            Math(names.latex(layer.bias)) if layer.bias else None, Text(layer.weight),
            Text(layer.bias) if layer.bias else None, layer.fixed, layer.cycles))
    last = spec.layers[-1]
    nodes.append(Node("loss", "loss", _cm(x[last_column]), _cm(y[last.name]), caption=Text(loss_caption)))
    edges.append(Edge(ids[last.name], "loss", label=Math(names.latex(spec.output)), label_text=Text(spec.output)))
    return Diagram(nodes, edges)
