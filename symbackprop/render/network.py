"""The network part of a worked solution: what it reads and computes, the diagram, the layer
table, the rule of each fixed matrix, and the size of every matrix and vector (with the sums a
layer reads, named by what they add)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symbackprop.api import Network
from symbackprop.graph import Node
from symbackprop.notation import Names, latex_part
from symbackprop.numeric import NotComputable
from symbackprop.printing import to_latex
from symbackprop.render.breaking import estimate
from symbackprop.render.diagram import activation_name, diagram, loss_name
from symbackprop.render.markup import Math, Prose, Text
from symbackprop.spec.model import Layer

_ROLES = {
    "weight": "weight",
    "bias": "bias",
    "fixed": "fixed weight",
    "preactivation": "pre-activation",
    "activation": "activation",
}


def loss_caption(net: Network) -> Prose:
    """The loss by its name, or its formula (L = ...) for a custom loss."""
    der = net.derive()
    loss = dict(der.forward())["L"]
    formula = der.names.loss_latex() + " = " + to_latex(loss, der.names) if net.spec.loss.kind == "expr" else None
    return loss_name(net.spec.loss, formula)


def the(caption: Prose) -> Prose:
    """ "the half squared error", but a formula without an article."""
    return Prose.of("the ", *caption.parts) if isinstance(caption.parts[0], Text) else caption


def _output_of(net: Network, name: str) -> str:
    """What a layer reads from `name`: the input, or that layer's activation (its last cycle's)."""
    spec = net.spec
    names = Names.of(spec)
    if name == spec.input.name:
        return names.latex(name)
    layer = spec.layer(name)
    if layer is spec.layers[-1]:
        return names.latex(spec.output)
    return names.latex(f"z_{name}" + (f"^({layer.cycles})" if layer.cycles > 1 else ""))


def _entries(positions: list[int]) -> tuple[int, int] | None:
    """(a, b) with positions[n] = a n + b for n = 1, 2, ... (from 1), if they follow that rule."""
    if len(positions) == 1:
        return (0, positions[0])
    step = positions[1] - positions[0]
    start = positions[0] - step
    if all(p == step * (n + 1) + start for n, p in enumerate(positions)):
        return (step, start)
    return None


def _index(a: int, b: int) -> str:
    term = "n" if a == 1 else (f"{a}n" if a else "")
    if not term:
        return str(b)
    return term + (f" + {b}" if b > 0 else f" - {-b}" if b < 0 else "")


def fixed_rule(name: str, value: np.ndarray, out_in: bool, names: Names) -> Prose:
    """How a fixed matrix is made: a selection rule where it picks one input per unit
    (K_{n,3n-2} = 1), the identity, or "given in the data"."""
    matrix = np.asarray(value, dtype=float)
    units = matrix if out_in else matrix.T  # row n: unit n
    symbol, element = names.latex(name), names.element_latex(name)
    ones = np.isin(units, (0.0, 1.0)).all() and (units.sum(axis=1) == 1).all()
    if ones:
        rule = _entries([int(np.argmax(row)) + 1 for row in units])
        if rule is not None:
            a, b = rule
            rows, cols = units.shape
            if (a, b) == (1, 0) and rows == cols:
                return Prose.of(Math(f"{symbol} = I_{{{rows}}}"), ", the identity: it passes its input on")
            entry = f"n,{_index(a, b)}" if out_in else f"{_index(a, b)},n"
            return Prose.of(
                Math(f"{element}_{{{entry}}} = 1"),
                " for ",
                Math(rf"1 \le n \le {rows}"),
                " and every other entry 0: unit ",
                Math("n"),
                " takes input ",
                Math(_index(a, b)),
            )
    return Prose.of("given in the data: ", Math(symbol), " is not trained")


def _layer_row(net: Network, layer: Layer, names: Names) -> dict[str, Any]:
    return {
        "name": Text(layer.name),
        "units": layer.units,
        "reads": [Math(_output_of(net, name)) for name in layer.inputs],
        "activation": activation_name(layer.activation, names.function_latex(f"f_{layer.name}")),
        "weight": Math(names.latex(layer.weight)),
        "fixed": layer.fixed,
        "bias": Math(names.latex(layer.bias)) if layer.bias else None,
        "cycles": layer.cycles,
    }


def network_section(net: Network) -> dict[str, Any]:
    """The sentences about the network, its diagram, the layer table and the fixed matrices' rules."""
    spec = net.spec
    names = Names.of(spec)
    try:
        data = net.data()
    except NotComputable:  # random data for a generic activation: none drawn (the worked example says why)
        data = {name: np.array(values, dtype=np.float64) for name, values in spec.data.items()}
    out_in, columns = spec.convention.weights == "out_in", spec.convention.samples == "columns"
    caption = loss_caption(net)
    target = spec.input.name if spec.target_is_input else spec.target.name
    reads = Prose.of(
        "The network reads ",
        Math(names.latex(spec.input.name)),
        f" ({spec.input.size} feature{'s' if spec.input.size != 1 else ''} per sample) and ",
        *(
            ["reconstructs it: the target is the input itself."]
            if spec.target_is_input
            else ["is trained towards the target ", Math(names.latex(target)), "."]
        ),
    )
    named = isinstance(caption.parts[0], Text)
    output = Prose(
        Prose.of(
            "Its output is ",
            Math(names.latex(spec.output)),
            "; the loss ",
            *((Math(names.loss_latex()), " ") if named else ()),
            "is ",
        ).parts
        + the(caption).parts
        + (Text("."),)
    )
    layout = "Each sample is a column: a batch of " if columns else "Each sample is a row: a batch of "
    layout += f"N samples is a matrix with N {'columns' if columns else 'rows'}, and a weight matrix has one "
    layout += (
        "row per unit of its layer (one column per input)."
        if out_in
        else "row per input of its layer (one column per unit)."
    )
    layers = [_layer_row(net, layer, names) for layer in spec.layers]
    fixed = [
        {
            "symbol": Math(names.latex(layer.weight)),
            "layer": Text(layer.name),
            "rule": fixed_rule(layer.weight, data[layer.weight], out_in, names)
            if layer.weight in data
            else Prose.of("given in the data (none given yet)"),
        }
        for layer in spec.layers
        if layer.fixed
    ]
    picture = diagram(spec, caption, names)
    legend = []
    if picture.kind == "neurons":
        legend.append(
            "Each circle is one unit; an arrow carries the weight written on it (or over its bundle)"
            + (", and a 1 node feeds the biases." if any(layer.bias for layer in spec.layers) else ".")
        )
    else:
        legend.append("Arrows show what each layer reads.")
        if any(len(layer.inputs) > 1 for layer in spec.layers):
            legend.append("A layer that reads several outputs reads their sum (+).")
        if fixed:
            legend.append("A dashed arrow enters a layer whose weight is fixed (not trained).")
        if any(layer.cycles > 1 for layer in spec.layers):
            legend.append("A loop marks a recurrent layer with the number of its cycles.")
    return {
        "intro": [reads, output, Prose.of(layout)],
        "legend": Text(" ".join(legend)),
        "diagram": picture,
        "layers": layers,
        "fixed": fixed,
        "show_reads": any(
            layer.inputs != (previous,)
            for layer, previous in zip(
                spec.layers, [spec.input.name] + [layer.name for layer in spec.layers], strict=False
            )
        ),
        "show_cycles": any(layer.cycles > 1 for layer in spec.layers),
        "show_bias": any(layer.bias for layer in spec.layers),
    }


# --- sizes --------------------------------------------------------------------------------


def _describe(net: Network, name: str) -> Text:
    if name.startswith("delta_"):  # described like the pre-activation it belongs to
        key = name.removeprefix("delta_")
        node = next(node for node in net.graph.by_role("preactivation") if node.delta_key == key)
        return Text(f"delta of layer {node.layer}" + (f", cycle {node.cycle}" if node.cycle else ""))
    node = net.graph.named(name)
    if node.role in ("input", "target"):
        return Text("input, also the target" if node.role == "input" and net.spec.target_is_input else node.role)
    what = _ROLES[node.role]
    if node.role == "activation" and name == net.spec.output:
        what = "output"
    cycle = f", cycle {node.cycle}" if node.cycle else ""
    return Text(f"{what} of layer {node.layer}{cycle}")


def layered(names: Names, role: str, index: str) -> str:
    """The symbol of `role` (a layered letter: s, z, delta) for the layer `index`, in the notation's letter
    and layer style: s_{k}, h^{k}, net^{(k)}; z^{(rec+link)} for a named sum."""
    letter = latex_part(names.notation.letter(role))
    style = names.notation.layer
    return letter + (
        "_{" + index + "}"
        if style == "subscript"
        else "^{" + index + "}"
        if style == "superscript"
        else "^{(" + index + ")}"
    )


def _sum_name(net: Network, terms: list[Node], names: Names) -> str | None:
    """The course's name of a sum of layers' outputs: the activation letter with the layers joined by +
    (z^{(rec+link)} for z^{(rec,2)} + z^{(link)}); None where a term is not a layer's final output (the
    input, an earlier cycle of a recurrent layer)."""
    layers = []
    for term in terms:
        if term.role != "activation" or term.layer is None:
            return None
        if term.cycle is not None and term.cycle != net.spec.layer(term.layer).cycles:
            return None
        layers.append(term.layer)
    return layered(names, "activation", "+".join(latex_part(layer) for layer in layers))


def _sums(net: Network) -> dict[str, tuple[str, str, str]]:
    """Pre-activation name -> (the sum it reads, in LaTeX, under its course name where it has one; who
    reads it; its size), for every layer (or cycle) that reads the sum of several outputs."""
    nodes = net.graph.nodes
    names = Names.of(net.spec)
    consumers: dict[int, list[Node]] = {}
    for node in nodes:
        for source in node.inputs:
            consumers.setdefault(source, []).append(node)
    out = {}
    for node in nodes:
        if node.op != "add" or node.name or not all(nodes[i].name for i in node.inputs):
            continue
        reader = node
        while reader.role != "preactivation" and consumers.get(reader.id):
            reader = consumers[reader.id][0]
        if reader.role == "preactivation":
            terms = " + ".join(names.latex(nodes[i].symbol_name) for i in node.inputs)
            named = _sum_name(net, [nodes[i] for i in node.inputs], names)
            terms = f"{named} = {terms}" if named else terms
            who = f"read by layer {reader.layer}" + (f", cycle {reader.cycle}" if reader.cycle else "")
            out[reader.symbol_name] = (terms, who, "x".join(str(dim) for dim in node.shape))
    return out


#: The sizes table is set in two halves side by side when no symbol or size is wider than this (em).
NARROW = 5.0
#: ... and no word of a description is longer than this (characters): a narrow column cannot break it.
NARROW_WORD = 14


def sizes_section(net: Network) -> dict[str, Any]:
    """Every named matrix and vector (Network.shapes()), with what it is; the sum a layer reads
    gets a row of its own, and a layer whose activation is the identity one row for s = z.
    `columns` is 2 where the table fits the page in two halves side by side."""
    sums = _sums(net)
    names = Names.of(net.spec)
    identity = {layer.name for layer in net.spec.layers if layer.activation.kind == "identity"}
    rows: list[dict[str, Any]] = []
    merged: set[str] = set()
    for name, shape in net.shapes().items():
        size = Math(shape.replace("x", r" \times "))
        if name in sums:
            terms, who, shape_of_sum = sums[name]
            rows.append(
                {
                    "symbol": Math(terms),
                    "what": Text(f"sum {who}"),
                    "size": Math(shape_of_sum.replace("x", r" \times ")),
                }
            )
        node = net.graph.named(name) if not name.startswith("delta_") else None
        if node is not None and node.role == "preactivation" and node.layer in identity:
            activation = next(n for n in net.graph.by_role("activation") if n.inputs == (node.id,))
            merged.add(activation.symbol_name)
            cycle = f", cycle {node.cycle}" if node.cycle else ""
            rows.append(
                {
                    "symbol": Math(f"{names.latex(name)} = {names.latex(activation.symbol_name)}"),
                    "what": Text(f"pre-activation and output of layer {node.layer}{cycle} (identity)"),
                    "size": size,
                }
            )
            continue
        if name in merged:
            continue
        rows.append({"symbol": Math(names.latex(name)), "what": _describe(net, name), "size": size})
    narrow = all(estimate(row[key].latex) <= NARROW for row in rows for key in ("symbol", "size")) and all(
        len(word) <= NARROW_WORD for row in rows for word in row["what"].text.split()
    )
    return {"rows": rows, "columns": 2 if narrow and len(rows) > 4 else 1}
