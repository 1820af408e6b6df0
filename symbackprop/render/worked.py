"""The worked example: every number of each gradient-descent step on the spec's data. For a small
network (render/arithmetic.py) the first step is also worked entry by entry: each forward value,
the loss, each delta, gradient and update written out with its numbers. Later steps start from
the previous step's updated parameters, so those are not repeated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sympy import Expr, Sum
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.api import Network
from symbackprop.forms.index import index_form
from symbackprop.matexpr import Elementwise, EntrySum
from symbackprop.notation import Names
from symbackprop.numeric import NotComputable
from symbackprop.printing import to_latex
from symbackprop.render import numbers
from symbackprop.render.arithmetic import Arithmetic, is_small
from symbackprop.render.markup import Math, Prose, Text
from symbackprop.training import Step, train


def _entry(
    symbol: str,
    value: np.ndarray | str,
    digits: int,
    formula: str | None = None,
    work: list[str] | None = None,
    relation: str = "=",
) -> dict[str, Any]:
    """One displayed value: `line` is "symbol = formula = value" (relation \\leftarrow for an update)."""
    shown = value if isinstance(value, str) else numbers.matrix(value, digits)
    line = f"{symbol} {relation} " + (f"{formula} = " if formula else "") + shown
    steps = [Math(w) for w in work or []]
    return {
        "symbol": Math(symbol),
        "formula": Math(formula) if formula else None,
        "value": Math(shown),
        "line": Math(line),
        "work": steps,
        "shown": [Math(line), *steps],
    }


def missing_data(net: Network) -> list[str]:
    """The leaves the spec gives no numbers for; none where numbers are to be drawn (`data: {random: ...}`) but
    cannot be, for a generic activation: the worked example then says that nothing can be computed."""
    try:
        data = net.data()
    except NotComputable:
        return []
    return list(dict.fromkeys(node.symbol_name for node in net.graph.leaves if node.name not in data))


def _steps(net: Network) -> tuple[list[Step], float | None, dict[str, np.ndarray], dict[str, str]]:
    """The run of the spec's `training` section; without one, the first step's numbers alone."""
    if net.spec.training is not None:
        run = train(net)
        return run.steps, run.learning_rate, run.data, run.aliases
    data = net.data()
    parameters = {node.symbol_name: data[node.symbol_name] for node in net.graph.parameters}
    out = net.gradient_fn()(data)
    aliases = {
        node.key: node.symbol_name
        for node in net.graph.by_role("activation")
        if node.key is not None and node.key != node.name
    }
    fixed = {name: value for name, value in data.items() if name not in parameters}
    return [Step(1, out["loss"], parameters, out["forward"], out["delta"], out["grad"], {})], None, fixed, aliases


def _element(name: str, shape: tuple, names: Names, gradient: bool = False) -> Callable[[tuple[int, ...]], str]:
    """The LaTeX of an entry of the matrix `name` in the formulas' own element notation (`gradient`:
    of the loss's gradient with respect to it, written with a slash)."""

    def symbol(position: tuple[int, ...]) -> str:
        entry = to_latex(MatrixSymbol(name, *shape)[position], names)
        return r"\partial " + names.loss_latex() + r" / \partial " + entry if gradient else entry

    return symbol


class _Worker:
    """The worked arithmetic of one step (see render/arithmetic.py)."""

    def __init__(
        self, net: Network, step: Step, data: dict[str, np.ndarray], aliases: dict[str, str], samples: int, digits: int
    ) -> None:
        self.step = step
        forward = {aliases.get(key, key): value for key, value in step.forward.items()}
        self.values = {**data, **step.params, **forward, **step.delta}
        self.arithmetic = Arithmetic(self.values, samples, digits, net.derive().names)
        self.names = net.derive().names

    def _shape(self, value: np.ndarray) -> tuple[int, ...]:
        return tuple(np.shape(value))

    def entries(self, expr: Expr, value: np.ndarray, lhs: Callable[[tuple[int, ...]], str]) -> list[str]:
        try:
            return self.arithmetic.entries(expr, value, lhs)
        except (TypeError, KeyError, ValueError):  # an op the arithmetic does not write out
            return []

    def forward(self, name: str, expr: Expr) -> list[str]:
        """A pre-activation's entries as sums of products; an activation's as its closed form with the
        numbers in place (none for the identity or a function without a formula)."""
        value = self.values[name]
        if isinstance(expr, Elementwise):
            try:
                return self.arithmetic.applied(expr, value, _element(name, expr.shape, self.names))
            except (TypeError, KeyError, ValueError):  # an op the arithmetic does not write out
                return []
        return self.entries(expr, value, _element(name, expr.shape, self.names))

    def loss(self, expr: Expr) -> list[str]:
        def entries(arg: Expr) -> Sum:
            indexed = index_form(arg, ("i", "j"))
            return Sum(indexed.expr, *((index, 0, upper - 1) for index, upper in indexed.bounds))

        try:
            line = self.arithmetic.line(
                self.names.loss_latex(),
                expr.replace(lambda e: isinstance(e, EntrySum), lambda e: entries(e.arg)),
                self.step.loss,
            )
        except (TypeError, KeyError, ValueError):
            return []
        return [line] if line else []

    def delta(self, key: str, expr: Expr) -> list[str]:
        name = f"delta_{key}"
        return self.entries(expr, self.values[name], _element(name, expr.shape, self.names))

    def gradient(self, param: str, expr: Expr) -> list[str]:
        value = self.step.grad[param]
        return self.entries(expr, value, _element(param, expr.shape, self.names, gradient=True))

    def update(self, param: str, rate: float) -> list[str]:
        old, grad, new = self.step.params[param], self.step.grad[param], self.step.updated[param]
        symbol = _element(param, self._shape(old), self.names)
        lines = [
            self.arithmetic.update(symbol(p), float(old[p]), rate, float(grad[p]), float(new[p]))
            for p in np.ndindex(np.shape(old))
        ]
        written = [line for line in lines if line is not None]
        return written if len(written) == len(lines) else []  # all or nothing


def listed(items: list[Text | Math]) -> list[Text | Math]:
    """Items joined as a reader lists them: a, b and c."""
    out: list[Text | Math] = []
    for i, item in enumerate(items):
        if i:
            out.append(Text(" and " if i == len(items) - 1 else ", "))
        out.append(item)
    return out


def not_computable(net: Network, error: NotComputable) -> Prose:
    """Why there are no numbers, in the spec's notation: the activations given as bare functions."""
    names = net.derive().names
    generic = [layer for layer in net.spec.layers if layer.activation.kind == "function"]
    if not generic:
        return Prose.of(f"{error}.")
    symbols: list[Text | Math] = [Math(names.function_latex(layer.activation.function_name)) for layer in generic]
    which = "layer " if len(generic) == 1 else "layers "
    return Prose.of(
        "the activation ",
        *listed(symbols),
        " of ",
        which,
        *listed([Text(layer.name) for layer in generic]),
        " is a function without a formula, so nothing can be computed with numbers"
        if len(generic) == 1
        else " are functions without a formula, so nothing can be computed with numbers",
        " (give it a formula to have them).",
    )


def numeric_section(net: Network, digits: int) -> dict[str, Any]:
    """`available` False with a `reason` (Prose, its symbols in the spec's notation), or the data and each
    step's numbers."""
    missing = missing_data(net)
    if missing:
        names = net.derive().names
        return {
            "available": False,
            "reason": Prose.of(
                "the spec has no data for ",
                *listed([Math(names.latex(name)) for name in missing]),
                "; a worked example needs them in its data section.",
            ),
        }
    try:
        steps, rate, data, aliases = _steps(net)
    except NotComputable as error:
        return {"available": False, "reason": not_computable(net, error)}
    der = net.derive()
    names = der.names
    definitions = dict(der.forward())
    printed = {name: to_latex(expr, names) for name, expr in definitions.items()}
    first = next(iter(data.values()))
    samples = first.shape[1 if net.spec.convention.samples == "columns" else 0]
    sizes = [net.spec.input.size] + [layer.units for layer in net.spec.layers]
    worked = is_small(sizes, samples)

    def run(step: Step) -> dict[str, Any]:
        """One step: its values with their formulas (the first step only; later ones give the values
        alone) and, for a small network's first step, their arithmetic."""
        work = _Worker(net, step, data, aliases, samples, digits) if worked and step.step == 1 else None
        first = step.step == 1

        def formula(latex: str) -> str | None:
            return latex if first else None

        forward = []
        for key, value in step.forward.items():
            name = aliases.get(key, key)
            forward.append(
                _entry(
                    names.latex(name),
                    value,
                    digits,
                    formula(printed[name]),
                    work.forward(name, definitions[name]) if work else None,
                )
            )
        deltas = []
        for name, value in reversed(list(step.delta.items())):
            target = der.target(name)
            deltas.append(
                _entry(
                    target.lhs_latex(),
                    value,
                    digits,
                    formula(to_latex(target.simplified, names)),
                    work.delta(target.key, target.matrix) if work else None,
                )
            )
        grads = []
        for name, value in step.grad.items():
            target = der.grad(name)
            grads.append(
                _entry(
                    target.lhs_latex(),
                    value,
                    digits,
                    formula(to_latex(target.simplified, names)),
                    work.gradient(name, target.matrix) if work else None,
                )
            )
        updated = [
            _entry(
                names.latex(name),
                value,
                digits,
                formula(f"{names.latex(name)} - {rate:g} {der.grad(name).lhs_latex()}"),
                work.update(name, rate) if work else None,
                r"\leftarrow",
            )
            for name, value in step.updated.items()
            if rate is not None
        ]  # no rate: no update
        loss = _entry(
            names.loss_latex(),
            numbers.number(step.loss, digits),
            digits,
            formula(printed["L"]),
            work.loss(definitions["L"]) if work else None,
        )
        groups = [
            ("Forward pass", forward),
            ("Loss", [loss]),
            ("Deltas, from the loss back", deltas),
            ("Gradients", grads),
            ("Updated parameters", updated),
        ]
        params = [_entry(names.latex(name), value, digits) for name, value in step.params.items()] if first else []
        return {
            "step": step.step,
            "previous": step.step - 1,
            "compact": not first,
            "params": params,
            "params_lines": [entry["line"] for entry in params],
            "forward": forward,
            "loss": loss,
            "deltas": deltas,
            "grads": grads,
            "updated": updated,
            "groups": [
                {"title": Text(title), "entries": entries, "lines": [entry["line"] for entry in entries]}
                for title, entries in groups
                if entries
            ],
            "lines": [entry["line"] for _, entries in groups for entry in entries],
        }

    if rate is None:
        intro = Prose.of(
            "The spec has no training section (no learning rate), so this is one "
            f"forward and backward pass without an update, on {samples} sample{'s' * (samples != 1)}."
        )
    else:
        count = len(steps)
        symbol = Math(f"{names.learning_rate_latex()} = {rate:g}")
        intro = Prose.of(
            "Plain gradient descent with learning rate ",
            symbol,
            f" (each parameter minus {rate:g} times its gradient), for {count} step{'s' * (count != 1)} "
            f"on {samples} sample{'s' * (samples != 1)}.",
        )
    shown = [_entry(names.latex(name), value, digits) for name, value in data.items()]
    return {
        "available": True,
        "reason": None,
        "intro": intro,
        "samples": samples,
        "steps": len(steps),
        "learning_rate": Math(f"{rate:g}") if rate is not None else None,
        "worked": worked,
        "data": shown,
        "data_lines": [entry["line"] for entry in shown],
        "runs": [run(step) for step in steps],
    }
