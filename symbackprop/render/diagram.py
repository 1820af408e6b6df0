"""The network as a diagram: nodes at positions and the arrows between them, computed here so
that a template only draws them (TikZ; Markdown shows the same TikZ compiled to SVG).

Two kinds of drawing:

- **Neurons**, for a small chain (every layer and the input at most MAX_NEURONS units, each
  layer reading the one before): a circle per unit, an arrow per weight labelled with its entry
  (w_{ji} in the spec's orientation), a `1` node per layer with a bias and its arrows labelled b_j,
  the output unit's arrow into the loss.
- **Layers**, otherwise: a box per layer (units, activation, weight and bias), a `+` node where a
  layer reads the sum of several outputs, dashed arrows into a layer whose weight is fixed, a loop
  with the number of cycles on a recurrent layer. Columns are depths: the input is column 0 and a
  layer sits one column right of the deepest layer it reads; within a column a layer is level
  with the mean of its sources, then pushed apart so that no two boxes overlap. A drawing wider
  than the page runs top to bottom instead.

Every box has a fixed text width (its text wraps), so positions computed here hold in TeX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sympy.matrices.expressions import MatrixSymbol

from symbackprop.forms.index import index_symbol
from symbackprop.notation import Names
from symbackprop.printing import to_latex
from symbackprop.render.breaking import estimate
from symbackprop.render.markup import Math, Prose, Text
from symbackprop.rules import activation_function
from symbackprop.spec import NetworkSpec
from symbackprop.spec.model import Activation, Layer, Loss

#: Widths of the boxes (their text wraps inside), in cm.
INPUT_WIDTH = 1.8
LAYER_WIDTH = 2.6
LOSS_WIDTH = 2.6
#: Room between neighbouring columns, before a layer for its sum node, and between two boxes of
#: a column (centre to centre), in cm.
GAP = 0.7
SUM_ROOM = 0.9
ROW = 2.3
#: A layer-level drawing wider than this (cm) runs top to bottom; boxes are then this far apart.
MAX_WIDTH = 16.0
DOWN = 2.4
#: Neuron drawings: at most this many units per layer; column and unit spacing in cm.
MAX_NEURONS = 4
NEURON_COLUMN = 3.4
NEURON_ROW = 1.4
#: A layer with more arrows than this gets its weight's name over them instead of a label on each.
MAX_LABELLED = 4
#: Radii of a unit's circle and a bias node's (diagram.tex: minimum size 0.95cm and 0.6cm), in cm.
NEURON_RADIUS = 0.475
BIAS_RADIUS = 0.3
#: An arrow's label (\scriptsize, diagram.tex, an entry such as w^{(1)}_{2,1}): its width, LABEL_EM cm per
#: em of breaking.estimate of the letter and its wider script plus LABEL_BASE (fitted to the compiled
#: labels, an upper bound), its height, and the room kept around it.
LABEL_EM = 0.33
LABEL_BASE = 0.21
LABEL_HEIGHT = 0.43
LABEL_ROOM = 0.03
_ENTRY = re.compile(r"(.+?)(?:\^\{(.*?)\})?(?:_\{(.*?)\})?")
#: Where on an arrow a label may sit, in the order tried: a level arrow's in the middle, a slanted one's
#: near either end (arrows cross in the middle), alternating.
LEVEL_POSITIONS = (0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85)
SLANTED_POSITIONS = (0.25, 0.75, 0.2, 0.8, 0.3, 0.7, 0.15, 0.85, 0.35, 0.65, 0.1, 0.9, 0.4, 0.6, 0.5)


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # input | layer | sum | loss | neuron | bias | caption
    x: str  # cm, printed
    y: str
    lines: tuple[Prose, ...] = ()  # the node's text, line by line (the first is its title)
    fixed: bool = False  # a layer whose weight is a constant matrix, not a trained parameter
    cycles: int = 1  # more than 1 for a recurrent layer
    loop: str = "above"  # where a recurrent layer's loop goes


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    fixed: bool = False  # into a layer whose weight is fixed
    label: Math | None = None
    pos: str = "0.5"  # where on the arrow its label sits (0 at the source), chosen so that no label covers
    # another, a unit or an arrow (render/diagram.py: place_labels)
    id: str = ""  # the label's TikZ name (the diagram logs where TeX put it)


@dataclass(frozen=True)
class Diagram:
    kind: str  # neurons | layers
    nodes: list[Node]
    edges: list[Edge]


def activation_name(activation: Activation, symbol: str = "f", names: Names | None = None) -> Prose:
    """How the diagram and the layer table name an activation; a formula is math."""
    if activation.kind == "expr":
        return Prose.of(Math(f"{symbol}(x) = {to_latex(activation_function(activation).expr)}"))
    if activation.kind == "function":
        return Prose.of(
            Math(names.function_latex(activation.function_name) if names else activation.function_name), " (generic)"
        )
    if activation.kind == "leaky_relu":
        return Prose.of(f"leaky relu ({activation.alpha:g})")
    return Prose.of(activation.kind)


def loss_name(loss: Loss, formula: str | None = None) -> Prose:
    """How the diagram and the text name a loss; a custom loss is its formula (`formula`, LaTeX)."""
    if loss.kind == "expr":
        parts: list[str | Math] = [Math(formula or "")] if formula else ["a custom loss"]
    else:
        parts = [loss.kind.replace("_", " ")]
    if loss.kind == "hinge":
        parts.append(f" (margin {loss.margin:g})")
    if loss.reduction == "mean":
        parts.append(", mean over samples")
    return Prose.of(*parts)


def _cm(value: float) -> str:
    return f"{value:.2f}"


def _spread(desired: list[float]) -> list[float]:
    """Positions close to `desired` (top first), at least ROW apart, centred like the wishes."""
    placed: list[float] = []
    for wish in desired:
        placed.append(min(wish, placed[-1] - ROW) if placed else wish)
    shift = (sum(desired) - sum(placed)) / len(placed)
    return [y + shift for y in placed]


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


def _layer_lines(layer: Layer, names: Names) -> tuple[Prose, ...]:
    parameters: list[str | Math] = [Math(names.latex(layer.weight))]
    if layer.fixed:
        parameters.append(" (fixed)")
    if layer.bias:
        parameters += [", ", Math(names.latex(layer.bias))]
    units = f"{layer.units} unit{'s' if layer.units != 1 else ''}, "
    caption = activation_name(layer.activation, names.function_latex(f"f_{layer.name}"), names)
    return (Prose.of(f"layer {layer.name}"), Prose((Text(units), *caption.parts)), Prose.of(*parameters))


def layer_diagram(spec: NetworkSpec, loss_caption: Prose, names: Names) -> Diagram:
    """Boxes for the input, each layer and the loss, `+` nodes for summed inputs, arrows."""
    depth = _depths(spec)
    y = _heights(spec, depth)
    last_column = max(depth.values()) + 1  # the loss
    summed = {depth[layer.name] for layer in spec.layers if len(layer.inputs) > 1}
    widths = [INPUT_WIDTH] + [LAYER_WIDTH] * (last_column - 1) + [LOSS_WIDTH]
    x = [0.0]
    for column in range(1, last_column + 1):
        x.append(x[-1] + widths[column - 1] / 2 + GAP + SUM_ROOM * (column in summed) + widths[column] / 2)
    across = x[-1] + (INPUT_WIDTH + LOSS_WIDTH) / 2 <= MAX_WIDTH

    def place(column: float, row: float) -> tuple[str, str]:
        """(x, y) of a point in the drawing's direction: across the page, or down it."""
        return (_cm(column), _cm(row)) if across else (_cm(-row), _cm(-column / (x[1] or 1) * DOWN))

    ids = {spec.input.name: "in0", **{layer.name: f"layer{i}" for i, layer in enumerate(spec.layers, start=1)}}
    features = f"{spec.input.size} feature{'s' if spec.input.size != 1 else ''}"
    nodes = [
        Node(
            "in0",
            "input",
            *place(0.0, 0.0),
            (Prose.of("input ", Math(names.latex(spec.input.name))), Prose.of(features)),
        )
    ]
    edges: list[Edge] = []
    for layer in spec.layers:
        column, layer_id = depth[layer.name], ids[layer.name]
        source = ids[layer.inputs[0]]
        if len(layer.inputs) > 1:
            source = f"sum{layer_id}"
            sum_x = x[column] - widths[column] / 2 - SUM_ROOM / 2 - GAP / 4
            nodes.append(Node(source, "sum", *place(sum_x, y[layer.name])))
            edges += [Edge(ids[name], source) for name in layer.inputs]
        edges.append(Edge(source, layer_id, fixed=layer.fixed))
        nodes.append(
            Node(
                layer_id,
                "layer",
                *place(x[column], y[layer.name]),
                _layer_lines(layer, names),
                layer.fixed,
                layer.cycles,
                "above" if across else "right",
            )
        )
    last = spec.layers[-1]
    nodes.append(
        Node(
            "loss",
            "loss",
            *place(x[last_column], y[last.name]),
            (Prose.of("loss ", Math(names.loss_latex())), loss_caption),
        )
    )
    edges.append(Edge(ids[last.name], "loss", label=Math(names.latex(spec.output))))
    return Diagram("layers", nodes, edges)


def is_small_chain(spec: NetworkSpec) -> bool:
    """A chain whose every layer (and the input) has at most MAX_NEURONS units: drawn neuron by neuron."""
    previous = spec.input.name
    for layer in spec.layers:
        if layer.inputs != (previous,) or layer.cycles > 1 or layer.units > MAX_NEURONS:
            return False
        previous = layer.name
    return spec.input.size <= MAX_NEURONS


def neuron_diagram(spec: NetworkSpec, loss_caption: Prose, names: Names) -> Diagram:
    """A circle per unit, weights on the arrows, a `1` node feeding each layer's biases. A layer's weights
    (or biases) whose labels would cover each other are named once over their bundle instead."""
    bundled: set[str] = set()
    while True:
        nodes, edges, groups = _neurons(spec, loss_caption, names, bundled)
        placed, crowded = place_labels(nodes, edges)
        more = {groups[number] for number in crowded} - bundled
        if not more:
            return Diagram("neurons", nodes, placed)
        bundled |= more


def _neurons(
    spec: NetworkSpec, loss_caption: Prose, names: Names, bundled: set[str]
) -> tuple[list[Node], list[Edge], dict[int, str]]:
    """The drawing's nodes and arrows, and which labelled arrow belongs to which group (`w<k>`: layer k's
    weights, `b<k>`: its biases); a group in `bundled`, or with more than MAX_LABELLED arrows (biases:
    half as many), gets one caption instead of a label per arrow."""
    out_in = spec.convention.weights == "out_in"
    sizes = [spec.input.size] + [layer.units for layer in spec.layers]

    def _entry(name: str, shape: tuple[int, int], row: int, col: int) -> Math:
        return Math(to_latex(MatrixSymbol(name, *shape)[row, col], names))

    def row(index: int, count: int) -> float:
        return ((count - 1) / 2 - index) * NEURON_ROW

    nodes: list[Node] = []
    edges: list[Edge] = []
    groups: dict[int, str] = {}
    columns = [[f"x{i}" for i in range(spec.input.size)]]
    for i, node_id in enumerate(columns[0]):
        nodes.append(
            Node(
                node_id,
                "neuron",
                _cm(0),
                _cm(row(i, spec.input.size)),
                (Prose.of(_entry(spec.input.name, (spec.input.size, 1), i, 0)),),
            )
        )
    bottom = -(max(sizes) - 1) / 2 * NEURON_ROW - NEURON_ROW
    for k, layer in enumerate(spec.layers, start=1):
        x = k * NEURON_COLUMN
        name = spec.output if k == len(spec.layers) else f"z_{layer.name}"
        ids = [f"u{k}x{j}" for j in range(layer.units)]
        for j, node_id in enumerate(ids):
            nodes.append(
                Node(
                    node_id,
                    "neuron",
                    _cm(x),
                    _cm(row(j, layer.units)),
                    (Prose.of(_entry(name, (layer.units, 1), j, 0)),),
                    layer.fixed,
                )
            )
        fan_in = sizes[k - 1]
        shape = (layer.units, fan_in) if out_in else (fan_in, layer.units)
        labelled = fan_in * layer.units <= MAX_LABELLED and f"w{k}" not in bundled
        for j, target in enumerate(ids):
            for i, source in enumerate(columns[-1]):
                label = _entry(layer.weight, shape, j, i) if out_in else _entry(layer.weight, shape, i, j)
                groups[len(edges)] = f"w{k}"
                edges.append(Edge(source, target, layer.fixed, label if labelled else None))
        if not labelled:
            top = max(row(0, fan_in), row(0, layer.units)) + NEURON_ROW * 0.6
            j, i = index_symbol("j"), index_symbol("i")
            entry = to_latex(MatrixSymbol(layer.weight, *shape)[(j, i) if out_in else (i, j)], names)
            nodes.append(
                Node(
                    f"w{k}",
                    "caption",
                    _cm(x - NEURON_COLUMN / 2),
                    _cm(top),
                    (Prose.of(Math(entry), " from unit ", Math("i"), " to ", Math("j")),),
                )
            )
        if layer.bias:
            bias_id = f"b{k}"
            nodes.append(Node(bias_id, "bias", _cm(x - NEURON_COLUMN), _cm(bottom), (Prose.of(Math("1")),)))
            bias_shape = (layer.units, 1) if spec.convention.samples == "columns" else (1, layer.units)
            labelled = layer.units <= MAX_LABELLED // 2 and bias_id not in bundled
            for j, target in enumerate(ids):
                index = (j, 0) if bias_shape[1] == 1 else (0, j)
                groups[len(edges)] = bias_id
                edges.append(Edge(bias_id, target, False, _entry(layer.bias, bias_shape, *index) if labelled else None))
            if not labelled:
                j = index_symbol("j")
                entry = to_latex(MatrixSymbol(layer.bias, *bias_shape)[(j, 0) if bias_shape[1] == 1 else (0, j)], names)
                nodes.append(
                    Node(
                        f"c{bias_id}",
                        "caption",
                        _cm(x - NEURON_COLUMN),
                        _cm(bottom - 0.55),
                        (Prose.of(Math(entry), " to unit ", Math("j")),),
                    )
                )
        columns.append(ids)
    last = len(spec.layers) * NEURON_COLUMN + NEURON_COLUMN * 0.9
    nodes.append(Node("loss", "loss", _cm(last), _cm(0), (Prose.of("loss ", Math(names.loss_latex())), loss_caption)))
    for node_id in columns[-1]:
        edges.append(Edge(node_id, "loss"))
    return nodes, edges, groups


# --- where the labels of a neuron drawing go -------------------------------------------------

Point = tuple[float, float]


def _axes(polygon: list[Point]) -> list[Point]:
    return [(b[1] - a[1], a[0] - b[0]) for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True)]


def _apart(p: list[Point], q: list[Point]) -> bool:
    """Two convex polygons (a segment is one with two corners) do not overlap: an axis separates them."""
    for ax, ay in _axes(p) + _axes(q):
        if ax == 0 and ay == 0:
            continue
        a = [x * ax + y * ay for x, y in p]
        b = [x * ax + y * ay for x, y in q]
        if max(a) <= min(b) or max(b) <= min(a):
            return True
    return False


def _clear_of_circle(polygon: list[Point], centre: Point, radius: float) -> bool:
    """A convex polygon keeps out of a circle."""

    def distance(a: Point, b: Point) -> float:
        dx, dy = b[0] - a[0], b[1] - a[1]
        t = max(0.0, min(1.0, ((centre[0] - a[0]) * dx + (centre[1] - a[1]) * dy) / (dx * dx + dy * dy or 1.0)))
        return ((a[0] + t * dx - centre[0]) ** 2 + (a[1] + t * dy - centre[1]) ** 2) ** 0.5

    inside = all(
        ax * (centre[0] - a[0]) + ay * (centre[1] - a[1]) <= 0
        for (ax, ay), a in zip(_axes(polygon), polygon, strict=True)
    )
    return not inside and min(distance(a, b) for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True)) > radius


def label_box(start: Point, end: Point, pos: float, width: float, height: float) -> list[Point]:
    """The corners of a label set along the arrow start -> end at `pos` (0 at the start), turned with it."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    cx, cy = start[0] + pos * dx, start[1] + pos * dy
    a, b = width / 2, height / 2
    return [
        (cx + sx * a * ux - sy * b * uy, cy + sx * a * uy + sy * b * ux)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]


def _crowding(
    box: list[Point], labels: list[list[Point]], circles: list[tuple[Point, float]], arrows: list[list[Point]]
) -> tuple[int, int]:
    """(labels and units a label's box covers, other arrows it covers): the first must be 0, the second
    should be."""
    return (
        sum(not _apart(box, other) for other in labels)
        + sum(not _clear_of_circle(box, centre, radius) for centre, radius in circles),
        sum(not _apart(box, arrow) for arrow in arrows),
    )


def label_width(latex: str) -> float:
    """The width of an arrow's label in cm: its letter and the wider of its scripts (set one above the other)."""
    match = _ENTRY.fullmatch(latex)
    if match is None:
        return estimate(latex) * LABEL_EM + LABEL_BASE
    letter, upper, lower = match.groups()
    scripts = [estimate("x^{" + script + "}") - estimate("x") for script in (upper, lower) if script]
    return (estimate(letter) + max(scripts, default=0.0)) * LABEL_EM + LABEL_BASE


def place_labels(nodes: list[Node], edges: list[Edge]) -> tuple[list[Edge], set[int]]:
    """Each labelled arrow's label where it covers no other label and no unit, and where it can, no other
    arrow: the first such position of LEVEL_POSITIONS or SLANTED_POSITIONS (else the least crowded),
    along the visible part of the arrow (TikZ measures `pos` between the nodes' borders). Also the arrows
    (by number) whose label has no place clear of the other labels and the units."""
    circles = {
        node.id: ((float(node.x), float(node.y)), NEURON_RADIUS if node.kind == "neuron" else BIAS_RADIUS)
        for node in nodes
        if node.kind in ("neuron", "bias")
    }
    segments = [
        [circles[e.source][0], circles[e.target][0]] for e in edges if e.source in circles and e.target in circles
    ]
    placed: list[list[Point]] = []
    out = list(edges)
    crowded: set[int] = set()

    def level(edge: Edge) -> bool:
        return abs(circles[edge.source][0][1] - circles[edge.target][0][1]) < 0.05

    labelled = [n for n, e in enumerate(edges) if e.label is not None and e.source in circles and e.target in circles]
    for number in sorted(labelled, key=lambda n: not level(edges[n])):  # level arrows first: fewer places
        edge = edges[number]
        assert edge.label is not None  # in `labelled`
        (s, rs), (t, rt) = circles[edge.source], circles[edge.target]
        length = ((t[0] - s[0]) ** 2 + (t[1] - s[1]) ** 2) ** 0.5
        ux, uy = (t[0] - s[0]) / length, (t[1] - s[1]) / length
        start, end = (s[0] + rs * ux, s[1] + rs * uy), (t[0] - rt * ux, t[1] - rt * uy)
        width = label_width(edge.label.latex) + 2 * LABEL_ROOM
        height = LABEL_HEIGHT + 2 * LABEL_ROOM
        own = [s, t]

        positions = LEVEL_POSITIONS if level(edge) else SLANTED_POSITIONS
        scores = {
            pos: _crowding(
                label_box(start, end, pos, width, height),
                placed,
                list(circles.values()),
                [segment for segment in segments if segment != own],
            )
            for pos in positions
        }
        pos = min(positions, key=scores.__getitem__)  # the first of the least crowded
        if scores[pos][0]:
            crowded.add(number)
        placed.append(label_box(start, end, pos, width, height))
        out[number] = Edge(edge.source, edge.target, edge.fixed, edge.label, f"{pos:g}", f"label{number}")
    return out, crowded


def diagram(spec: NetworkSpec, loss_caption: Prose, names: Names) -> Diagram:
    """Neuron by neuron for a small chain, layer by layer otherwise, in the spec's notation."""
    draw = neuron_diagram if is_small_chain(spec) else layer_diagram
    return draw(spec, loss_caption, names)
