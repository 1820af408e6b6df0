"""The notation a document uses, explained once: every symbol and operator that appears in its
formulas (found in the printed LaTeX of the document model), and nothing it does not use. The
network's own symbols are spelt in the spec's notation (net^{(k)}, a^{(k)}, sigma, E: whatever the
course writes); a generic layer is written k."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from symbackprop.notation import Names, latex_part
from symbackprop.render.markup import Math, Prose
from symbackprop.render.network import layered

#: Operators and conventions: (pattern in the printed LaTeX, symbol, meaning), in the order a
#: glossary lists them (after the network's own symbols).
OPERATORS: tuple[tuple[str, str, tuple[str | Math, ...]], ...] = (
    (r"\^\{\\top\}|\^\{T\}", r"A^{\top}", ("the transpose of ", Math("A"))),
    (r"\\odot", r"A \odot B", ("entrywise (Hadamard) product",)),
    (r"\\circ \d", r"A^{\circ 2}", ("entrywise square",)),
    (
        r"\\mathbf\{1\}_\{",
        r"\mathbf{1}_N",
        ("a column of ", Math("N"), " ones (", Math(r"b \mathbf{1}_N^{\top}"), ": ", Math("b"), " once per sample)"),
    ),
    (r"\\mathbf\{1\}(?!_)", r"\mathbf{1}", ("a matrix of ones",)),
    (r"> 0\\right\]|\\le 0\\right\]", r"[x > 0]", ("1 where it holds, 0 where not, entrywise",)),
    (r"\\theta\\left\(", r"\theta(x)", ("step function: 1 for ", Math("x > 0"), ", 0 for ", Math("x < 0"))),
    (r"\\operatorname\{softmax\}", r"\operatorname{softmax}", ("softmax over each sample's units",)),
    (r"\\sum_\{", r"\sum_{k=1}^{K}", ("sum over an index; indices count from 1",)),
    (r"\\underbrace", r"\underbrace{\cdots}_{\delta}", ("the braced factors make up the delta named under them",)),
    (r"\\leftarrow", r"A \leftarrow \ldots", ("the new value after one gradient-descent step",)),
)


def _latex(value: Any) -> list[str]:
    """Every LaTeX string inside a document model (Math leaves, also within Prose and diagrams)."""
    if isinstance(value, Math):
        return [value.latex]
    if isinstance(value, Prose):
        return [part.latex for part in value.parts if isinstance(part, Math)]
    if isinstance(value, dict):
        return [latex for item in value.values() for latex in _latex(item)]
    if isinstance(value, (list, tuple)):
        return [latex for item in value for latex in _latex(item)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [latex for f in dataclasses.fields(value) for latex in _latex(getattr(value, f.name))]
    return []


def _network_rows(names: Names, text: str) -> list[tuple[str, tuple[str | Math, ...]]]:
    """The network's own symbols the document uses, in its notation."""
    spec = names.spec
    layers = [layer.name for layer in spec.layers]
    loss = names.loss_latex()
    s, z, delta = (layered(names, role, "k") for role in ("preactivation", "activation", "delta"))
    weight = latex_part(names.notation.weight)
    function = names.function_latex(f"f_{layers[0]}")  # sigma alone when every layer has the same one
    generic_function = function if "_" not in function else latex_part(names.notation.function) + "_{k}"
    rows: list[tuple[bool, str, tuple[str | Math, ...]]] = [
        (loss in text, loss, ("the loss, a number",)),
        (
            any(names.latex(f"s_{name}") in text for name in layers),
            s,
            ("pre-activation of layer ", Math("k"), ": weighted input plus bias"),
        ),
        (
            any(names.latex(f"z_{name}") in text for name in layers[:-1]),
            z,
            ("activation (output) of layer ", Math("k"), ": ", Math(f"{z} = {generic_function}({s})")),
        ),
        (
            any(
                names.function_latex(f"f_{name}") + "'" in text or names.function_latex(f"f_{name}") + r"\left" in text
                for name in layers
            ),
            f"{generic_function}, {generic_function}'",
            ("activation function of layer ", Math("k"), " and its derivative, entrywise"),
        ),
        (
            any(names.latex(f"delta_{name}") in text for name in layers),
            delta,
            ("delta of layer ", Math("k"), ": ", Math(rf"\partial {loss} / \partial {s}"), ", the size of ", Math(s)),
        ),
        (
            rf"\partial {loss}" in text,
            rf"\partial {loss} / \partial {weight}",
            ("gradient of the loss with respect to a weight ", Math(weight), ", the size of ", Math(weight)),
        ),
    ]
    recurrent = [layer for layer in spec.layers if layer.cycles > 1]
    if recurrent:
        cycle = names.latex(f"s_{recurrent[0].name}^(2)")
        rows.append((cycle in text, cycle, ("a recurrent layer's value in cycle 2 (cycles count from 1)",)))
    first = spec.layers[0].weight
    element = names.element_latex(first) + "_{j,i}"
    if names.element_latex(first) + "_{" in text or any(
        names.element_latex(f"s_{name}") + "_{" in text for name in layers
    ):
        rows.append(
            (
                True,
                element,
                ("entry ", Math("(j, i)"), " of ", Math(names.latex(first)), " (no index where a size is 1)"),
            )
        )
    return [(symbol, meaning) for used, symbol, meaning in rows if used]


def glossary(model: dict[str, Any], names: Names) -> list[dict[str, Any]]:
    """The rows of the notation table for a document model: {symbol Math, meaning Prose}."""
    text = "\n".join(_latex(model))
    rows = _network_rows(names, text)
    rows += [(symbol, meaning) for pattern, symbol, meaning in OPERATORS if re.search(pattern, text)]
    return [{"symbol": Math(symbol), "meaning": Prose.of(*meaning)} for symbol, meaning in rows]
