"""The symbolic part of a worked solution, printed: the forward equations in vector and scalar
form, the loss, and every delta and gradient in the chosen forms, a form that prints the same as
another shown once under both titles. Every leaf is Text, Math or Prose (see markup.py);
templates only lay them out."""

from __future__ import annotations

from typing import Any

from sympy import Expr, Integer, Sum
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.api import EntryTarget, Network, Target
from symbackprop.forms import FormTooLarge
from symbackprop.forms.index import IndexForm, index_form
from symbackprop.matexpr import EntrySum
from symbackprop.notation import Names
from symbackprop.printing import to_latex
from symbackprop.render.diagram import activation_name
from symbackprop.render.markup import Math, Prose, Text
from symbackprop.render.network import loss_caption, the
from symbackprop.rules import activation_derivative, activation_function
from symbackprop.spec.model import Layer

#: How documents title each form.
FORM_TITLES = {
    "chain": "chain rule",
    "symbolic": "symbolic",
    "simplified": "simplified",
    "matrix": "matrix form",
    "index": "index form",
}
#: What each form is, for the sentence before the derivation.
FORM_MEANINGS = {
    "chain": "partial derivatives along each path from the loss; the factors that make up a delta are braced "
    "(or bracketed, on a line too short for them) with its name",
    "symbolic": "every partial evaluated and every delta written out in full",
    "simplified": "activation derivatives in closed form, through the named deltas",
    "matrix": "named deltas, transposes and Hadamard products; each delta through the next one",
    "index": "entry by entry, with explicit sums (indices from 1)",
}
_SOFTMAX = r"\frac{e^{s_{j}}}{\sum_{k} e^{s_{k}}} \text{ over each sample's units } j"


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
    return (
        names.loss_latex()
        + " = "
        + to_latex(loss.replace(lambda e: isinstance(e, EntrySum), lambda e: entries(e.arg)), names)
    )


def scalar_equation(net: Network, name: str, expr: Expr) -> str:
    """One forward equation entry by entry, with its index ranges."""
    indexed = index_form(expr, _index_names(net))
    names = Names.of(net.spec)
    return f"{to_latex(_element(name, expr, indexed), names)} = {to_latex(indexed.expr, names)}{_ranges(indexed)}"


def _activation(layer: Layer, names: Names) -> dict[str, Any]:
    symbol = names.function_latex(
        layer.activation.function_name if layer.activation.kind == "function" else f"f_{layer.name}"
    )
    kind = layer.activation.kind
    formula: Math | None
    derivative: Math | None
    if kind == "softmax":
        formula = Math(f"{symbol}(s)_{{j}} = {_SOFTMAX}")
        derivative = None
    elif kind == "function":
        formula = derivative = None
    else:
        formula = Math(f"{symbol}(x) = {to_latex(activation_function(layer.activation).expr)}")
        derivative = Math(f"{symbol}'(x) = {to_latex(activation_derivative(layer.activation).expr)}")
    name = activation_name(layer.activation) if kind not in ("expr", "function") else None
    return {
        "layer": Text(layer.name),
        "symbol": Math(symbol),
        "name": name,
        "formula": formula,
        "derivative": derivative,
    }


def forward_section(net: Network) -> dict[str, Any]:
    """The activations, then the forward equations as matrices and entry by entry."""
    der = net.derive()
    definitions = [(name, expr) for name, expr in der.forward() if name != "L"]
    activations = [_activation(layer, der.names) for layer in net.spec.layers]
    formulas = [f for act in activations for f in (act["formula"], act["derivative"]) if f is not None]
    return {
        "activations": activations,
        "formulas": formulas,
        "generic": [act for act in activations if act["formula"] is None],
        "vector": [Math(line) for line in der.forward_latex()[:-1]],
        "scalar": [Math(scalar_equation(net, name, expr)) for name, expr in definitions],
    }


def loss_section(net: Network) -> dict[str, Any]:
    """The loss as a sum over a matrix's entries, and with explicit sums over units and samples (and
    both as one equation)."""
    der = net.derive()
    loss = dict(der.forward())["L"]
    names = der.names
    vector, scalar = der.forward_latex()[-1], scalar_loss(net, loss)
    output = Math(names.latex(net.spec.output))
    if net.spec.loss.kind == "expr":
        target = net.spec.input.name if net.spec.target_is_input else net.spec.target.name
        sentence = Prose.of(
            "The loss is the spec's own formula of the output ",
            output,
            " and the target ",
            Math(names.latex(target)),
            ", summed over output units and samples",
        )
    else:
        sentence = Prose.of(
            "The loss is ",
            *the(loss_caption(net)).parts,
            ", summed over output units and samples, of the output ",
            output,
        )
    return {
        "name": the(loss_caption(net)),
        "sentence": sentence,
        "vector": Math(vector),
        "scalar": Math(scalar),
        "equation": Math(vector + " = " + scalar.removeprefix(names.loss_latex() + " = ")),
        "output": output,
    }


def inline_symbol(target: Target) -> str:
    """A target's name for headings and tables: dL/dW written with a slash, delta_k with its meaning."""
    names = target.names
    if target.kind == "gradient":
        return r"\partial " + names.loss_latex() + r" / \partial " + names.latex(target.symbol)
    return rf"{names.latex(target.symbol)} = \partial {names.loss_latex()} / \partial {names.latex('s_' + target.key)}"


def target_label(target: Target) -> str:
    """A target's name on one line, for a label: dL/dW written with a slash, a delta (or an entry of
    it) as itself."""
    base = target.base if isinstance(target, EntryTarget) else target
    element = target.element() if isinstance(target, EntryTarget) else None
    names = target.names
    symbol = names.latex(base.symbol) if element is None else to_latex(element, names, matrices=target.matrices)
    if base.kind == "delta":
        return symbol
    if base.kind in ("gradient", "adjoint"):
        return rf"\partial {names.loss_latex()} / \partial {symbol}"
    return target.lhs_latex()


def _layer_of(net: Network, target: Target) -> str:
    if target.kind == "gradient":
        layer = net.graph.named(target.key).layer
    else:
        layer = next(node.layer for node in net.graph.by_role("preactivation") if node.delta_key == target.key)
    assert layer is not None  # parameters and pre-activations belong to their layer
    return layer


def target_forms(target: Target, forms: list[str]) -> list[dict[str, Any]]:
    """The target's equations: the forms that share a left side chained into one line
    (dL/dW = chain = matrix), a form that prints the same as another given once, its title naming
    both ("chain rule; symbolic = matrix form"); the index form, with an entry on the left, on a
    line of its own. A bare chain (Target.bare_chain: a single partial) is left out."""
    lines: dict[str, dict[str, list[str]]] = {}  # left side -> right side -> forms
    for form in forms:
        if form == "chain" and target.bare_chain:  # one partial: no chain, nothing to write after `lhs =`
            continue
        lhs = target.lhs_latex(form)
        try:
            rhs = target.latex(form).removeprefix(lhs + " = ")
        except FormTooLarge as error:
            rhs = _too_large(error)
        lines.setdefault(lhs, {}).setdefault(rhs, []).append(form)
    return [
        {
            "keys": [key for keys in sides.values() for key in keys],
            "title": Text("; ".join(" = ".join(FORM_TITLES[key] for key in keys) for keys in sides.values())),
            "equation": Math(" = ".join([lhs, *sides])),
        }
        for lhs, sides in lines.items()
    ]


def derivation_section(net: Network, forms: list[str]) -> dict[str, Any]:
    """Targets grouped by layer, from the loss backwards: each delta, then its layer's gradients."""
    groups: list[dict[str, Any]] = []
    current = None
    for target in net.derive().targets:
        layer = _layer_of(net, target)
        if layer != current:
            groups.append({"name": Text(layer), "targets": []})
            current = layer
        groups[-1]["targets"].append(
            {"kind": target.kind, "symbol": Math(inline_symbol(target)), "forms": target_forms(target, forms)}
        )
    usual = "; ".join(FORM_TITLES[form] for form in forms if form != "index")
    return {
        "forms": [
            {"key": form, "title": Text(FORM_TITLES[form]), "meaning": Text(FORM_MEANINGS[form])} for form in forms
        ],
        "layers": groups,
        "usual": Text(usual),
    }


def _too_large(error: FormTooLarge) -> str:
    """What stands where a form too large to write out (forms.FormTooLarge) would be."""
    size = f"{error.size:,}".replace(",", "{,}")
    return f"\\text{{(written out in full: about {size} terms; the matrix form is the same derivative)}}"
