"""The symbolic part of a worked solution, printed: the layers, the size of every matrix, the
forward equations in vector and scalar form, the loss, and every delta and gradient in the
chosen forms. Every leaf is Text or Math (see markup.py); templates only lay them out."""

from __future__ import annotations

from typing import Any

from sympy import Expr, Integer, Sum
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.api import Network, Target
from symbackprop.forms.index import IndexForm, index_form
from symbackprop.matexpr import EntrySum
from symbackprop.notation import Names
from symbackprop.printing import to_latex
from symbackprop.render.diagram import activation_name, diagram, loss_name
from symbackprop.render.markup import Math, Text
from symbackprop.rules import activation_derivative, activation_function
from symbackprop.spec.model import Layer, NetworkSpec

#: How documents title each form.
FORM_TITLES = {"chain": "Chain rule", "symbolic": "Symbolic", "simplified": "Simplified", "matrix": "Matrix form",
               "index": "Index form"}
_SOFTMAX = r"\frac{e^{s_{j}}}{\sum_{k} e^{s_{k}}} \text{ over each sample's units } j"
_ROLES = {"weight": "weight", "bias": "bias", "fixed": "fixed weight", "preactivation": "pre-activation",
          "activation": "activation"}


def _ranges(indexed: IndexForm) -> str:
    bounds = r",\ ".join(rf"1 \le {index} \le {to_latex(upper)}" for index, upper in indexed.bounds)
    return rf" \quad ({bounds})" if bounds else ""


def _index_names(net: Network) -> tuple[str, str]:
    return ("j", "n") if net.spec.convention.samples == "columns" else ("n", "j")


def _element(name: str, expr: Expr, indexed: IndexForm) -> MatrixSymbol:
    names = iter(indexed.indices)
    return MatrixSymbol(name, *expr.shape)[tuple(next(names) if dim != 1 else Integer(0) for dim in expr.shape)]


def scalar_loss(net: Network, loss: Expr) -> str:
    """L with each sum over entries written as explicit sums over units and samples."""
    def entries(arg: Expr) -> Sum:
        indexed = index_form(arg, _index_names(net))
        return Sum(indexed.expr, *((index, 0, upper - 1) for index, upper in indexed.bounds))
    names = Names.of(net.spec)
    return names.loss_latex() + " = " + to_latex(loss.replace(lambda e: isinstance(e, EntrySum),
                                                              lambda e: entries(e.arg)), names)


def scalar_equation(net: Network, name: str, expr: Expr) -> str:
    """One forward equation entry by entry, with its index ranges."""
    indexed = index_form(expr, _index_names(net))
    names = Names.of(net.spec)
    return f"{to_latex(_element(name, expr, indexed), names)} = {to_latex(indexed.expr, names)}{_ranges(indexed)}"


def _activation(layer: Layer, names: Names) -> dict[str, Any]:
    symbol = names.function_latex(layer.activation.function if layer.activation.kind == "function"
                                  else f"f_{layer.name}")
    kind = layer.activation.kind
    if kind == "softmax":
        formula = Math(f"{symbol}(s)_{{j}} = {_SOFTMAX}")
        derivative = None
    elif kind == "function":
        formula = derivative = None
    else:
        formula = Math(f"{symbol}(x) = {to_latex(activation_function(layer.activation).expr)}")
        derivative = Math(f"{symbol}'(x) = {to_latex(activation_derivative(layer.activation).expr)}")
    return {"layer": Text(layer.name), "symbol": Math(symbol), "name": Text(activation_name(layer.activation)),
            "formula": formula, "derivative": derivative}


def _output_of(spec: NetworkSpec, name: str) -> str:
    """What a layer reads from `name`: the input, or that layer's activation (its last cycle's)."""
    names = Names.of(spec)
    if name == spec.input.name:
        return names.latex(name)
    cycles = spec.layer(name).cycles
    return names.latex(f"z_{name}" + (f"^({cycles})" if cycles > 1 else ""))


def network_section(net: Network) -> dict[str, Any]:
    """The diagram, the layer table and the facts the text around them states."""
    spec = net.spec
    names = Names.of(spec)
    layers = []
    for layer in spec.layers:
        layers.append({
            "name": Text(layer.name), "units": layer.units,
            "reads": [Math(_output_of(spec, name)) for name in layer.inputs],
            "activation": Text(activation_name(layer.activation)), "weight": Math(names.latex(layer.weight)),
            "fixed": layer.fixed, "bias": Math(names.latex(layer.bias)) if layer.bias else None,
            "cycles": layer.cycles})
    return {
        "diagram": diagram(spec), "layers": layers,
        "input": Math(names.latex(spec.input.name)), "input_size": spec.input.size,
        "target": Math(names.latex(spec.input.name if spec.target_is_input else spec.target.name)),
        "autoencoder": spec.target_is_input, "output": Math(names.latex(spec.output)),
        "loss": Text(loss_name(spec.loss)), "out_in": spec.convention.weights == "out_in",
        "columns": spec.convention.samples == "columns",
    }


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
        what = "output (activation)"
    cycle = f", cycle {node.cycle}" if node.cycle else ""
    return Text(f"{what} of layer {node.layer}{cycle}")


def sizes_section(net: Network) -> list[dict[str, Any]]:
    """Every named matrix and vector (Network.shapes()), with what it is."""
    rows = []
    for name, shape in net.shapes().items():
        rows.append({"symbol": Math(Names.of(net.spec).latex(name)), "what": _describe(net, name),
                     "size": Math(shape.replace("x", r" \times "))})
    return rows


def forward_section(net: Network) -> dict[str, Any]:
    """The activations, then the forward equations as matrices and entry by entry."""
    der = net.derive()
    definitions = [(name, expr) for name, expr in der.forward() if name != "L"]
    return {
        "activations": [_activation(layer, der.names) for layer in net.spec.layers],
        "vector": [Math(line) for line in der.forward_latex()[:-1]],
        "scalar": [Math(scalar_equation(net, name, expr)) for name, expr in definitions],
    }


def loss_section(net: Network) -> dict[str, Any]:
    """The loss as a sum over a matrix's entries, and with explicit sums over units and samples."""
    der = net.derive()
    loss = dict(der.forward())["L"]
    return {"name": Text(loss_name(net.spec.loss)), "vector": Math(der.forward_latex()[-1]),
            "scalar": Math(scalar_loss(net, loss)), "output": Math(der.names.latex(net.spec.output))}


def inline_symbol(target: Target) -> str:
    """A target's name for headings and tables: dL/dW written with a slash, delta_k with its meaning."""
    names = target.names
    if target.kind == "gradient":
        return r"\partial " + names.loss_latex() + r" / \partial " + names.latex(target.symbol)
    return rf"{names.latex(target.symbol)} = \partial {names.loss_latex()} / \partial {names.latex('s_' + target.key)}"


def _layer_of(net: Network, target: Target) -> str:
    if target.kind == "gradient":
        return net.graph.named(target.key).layer
    return next(node.layer for node in net.graph.by_role("preactivation") if node.delta_key == target.key)


def derivation_section(net: Network, forms: list[str]) -> dict[str, Any]:
    """Targets grouped by layer, from the loss backwards: each delta, then its layer's gradients."""
    groups: list[dict[str, Any]] = []
    current = None
    for target in net.derive().targets:
        layer = _layer_of(net, target)
        if layer != current:
            groups.append({"name": Text(layer), "targets": []})
            current = layer
        groups[-1]["targets"].append({
            "kind": target.kind, "symbol": Math(inline_symbol(target)),
            "forms": [{"key": form, "title": Text(FORM_TITLES[form]), "equation": Math(target.latex(form))}
                      for form in forms]})
    return {"forms": [{"key": form, "title": Text(FORM_TITLES[form])} for form in forms], "layers": groups}

