"""The worked example: every number of each gradient-descent step on the spec's data, printed
with a fixed number of decimals, or a sentence saying what the spec lacks for it."""

from __future__ import annotations

from typing import Any

import numpy as np

from symbackprop.api import Network
from symbackprop.numeric import NotComputable
from symbackprop.printing import to_latex
from symbackprop.render import numbers
from symbackprop.render.markup import Math, Text
from symbackprop.training import Step, train


def _entry(symbol: str, value: np.ndarray, digits: int, formula: str | None = None) -> dict[str, Math | None]:
    return {"symbol": Math(symbol), "formula": Math(formula) if formula else None,
            "value": Math(numbers.matrix(value, digits))}


def _missing(net: Network) -> list[str]:
    data = net.data()
    return list(dict.fromkeys(node.name for node in net.graph.leaves if node.name not in data))


def _steps(net: Network) -> tuple[list[Step], float | None, dict[str, np.ndarray], dict[str, str]]:
    """The run of the spec's `training` section; without one, the first step's numbers alone."""
    if net.spec.training is not None:
        run = train(net)
        return run.steps, run.learning_rate, run.data, run.aliases
    data = net.data()
    parameters = {node.name: data[node.name] for node in net.graph.parameters}
    out = net.gradient_fn()(data)
    aliases = {node.key: node.name for node in net.graph.by_role("activation") if node.key != node.name}
    fixed = {name: value for name, value in data.items() if name not in parameters}
    return [Step(1, out["loss"], parameters, out["forward"], out["delta"], out["grad"], {})], None, fixed, aliases


def numeric_section(net: Network, digits: int) -> dict[str, Any]:
    """`available` False with a `reason`, or the data and each step's numbers."""
    missing = _missing(net)
    if missing:
        return {"available": False, "reason": Text(
            f"the spec has no data for {', '.join(missing)}; a worked example needs them in its data section.")}
    try:
        steps, rate, data, aliases = _steps(net)
    except NotComputable as error:
        return {"available": False, "reason": Text(f"{error}.")}
    der = net.derive()
    names = der.names
    definitions = {name: to_latex(expr, names) for name, expr in der.forward()}
    first = next(iter(data.values()))
    samples = first.shape[1 if net.spec.convention.samples == "columns" else 0]

    def forward(key: str, value: np.ndarray) -> dict[str, Math | None]:
        name = aliases.get(key, key)
        return _entry(names.latex(name), value, digits, definitions[name])

    def derived(name: str, value: np.ndarray) -> dict[str, Math | None]:
        target = der.target(name)
        return _entry(target.lhs_latex(), value, digits, to_latex(target.simplified, names))

    return {
        "available": True, "reason": None, "samples": samples, "steps": len(steps),
        "learning_rate": Math(f"{rate:g}") if rate is not None else None,
        "data": [_entry(names.latex(name), value, digits) for name, value in data.items()],
        "runs": [{
            "step": step.step,
            "params": [_entry(names.latex(name), value, digits) for name, value in step.params.items()],
            "forward": [forward(key, value) for key, value in step.forward.items()],
            "loss": {"symbol": Math(names.loss_latex()), "formula": Math(definitions["L"]),
                     "value": Math(numbers.number(step.loss, digits))},
            "deltas": [derived(name, value) for name, value in reversed(list(step.delta.items()))],
            "grads": [derived(f"dL/d{name}", value) for name, value in step.grad.items()],
            "updated": [_entry(names.latex(name), value, digits, f"{names.latex(name)} - {rate:g} "
                               f"{der.grad(name).lhs_latex()}") for name, value in step.updated.items()],
        } for step in steps],
    }
