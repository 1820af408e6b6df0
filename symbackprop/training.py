"""Plain gradient descent on the spec's data, step by step, kept whole so that every number of a
worked solution (forward values, loss, deltas, gradients, updated parameters) can be shown.

theta <- theta - learning_rate * dL/dtheta, with the learning rate and the number of steps
from the spec's `training` section unless the caller gives them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy.matrices.expressions import MatMul, OneMatrix

from symbackprop import budget, rules
from symbackprop.derive import op_attrs
from symbackprop.graph import BATCH
from symbackprop.notation import PLAIN, Spelling
from symbackprop.numeric import compile_expression
from symbackprop.schema import SCHEMA_VERSION, versioned
from symbackprop.spec.loader import MAX_STEPS

if TYPE_CHECKING:
    from symbackprop.api import Network


class TrainingError(ValueError):
    """What numeric needs and the spec does not give: data, a learning rate, a valid step count."""


@dataclass(frozen=True)
class Step:
    """One gradient-descent step; every matrix in the spec's orientation."""

    step: int
    loss: float
    params: dict[str, np.ndarray]  # the values the step started from
    forward: dict[str, np.ndarray]  # s_k and z_k (z of the last layer, not its alias)
    delta: dict[str, np.ndarray]
    grad: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]  # params - learning_rate * grad
    #: each sample's loss (before a `reduction: mean` divides their sum by N), shaped like one row of the output
    loss_per_sample: np.ndarray | None = None
    targets: dict[str, np.ndarray] = field(default_factory=dict)  # asked-for targets' values (numeric --target)


@dataclass(frozen=True)
class TrainingRun:
    """Every step of a run, and what a reader needs to follow it."""

    name: str
    learning_rate: float
    data: dict[str, np.ndarray]  # the input and the target
    steps: list[Step]
    aliases: dict[str, str]  # forward key -> the symbol formulas use for it (z_out -> y_out)
    convention: tuple[str, str]  # (weights, samples)
    mean: bool = False  # the loss averages over samples (reduction: mean)
    origin: str = ""  # where the numbers come from when not from the spec ("random, seed 3")
    #: how the text spells each quantity: the spec's notation (JSON keys stay the engine's names)
    spelling: Spelling = PLAIN
    #: asked-for targets' names as the notation writes them (dl/dh^2 for dL/dz_2)
    target_labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of interface.md section 2; non-finite numbers become null."""
        return versioned(
            {
                "name": self.name,
                "steps": [
                    {
                        "step": s.step,
                        "loss": _number(s.loss),
                        "params": _matrices(s.params),
                        "forward": _matrices(s.forward),
                        "delta": _matrices(s.delta),
                        "grad": _matrices(s.grad),
                        "updated": _matrices(s.updated),
                        **(
                            {"loss_per_sample": [_number(v) for v in np.ravel(s.loss_per_sample)]}
                            if s.loss_per_sample is not None
                            else {}
                        ),
                        **({"targets": _matrices(s.targets)} if s.targets else {}),
                    }
                    for s in self.steps
                ],
            }
        )

    def to_json(self) -> str:
        """to_dict() as JSON, laid out like interface.md: one line per step's group of matrices."""
        doc = self.to_dict()
        steps = []
        for step in doc["steps"]:
            groups = [
                f'   "{key}": {json.dumps(step[key], allow_nan=False)}'
                for key in ("params", "forward", "delta", "grad", "updated", "targets")
                if key in step
            ]
            per_sample = (
                f', "loss_per_sample": {json.dumps(step["loss_per_sample"])}' if "loss_per_sample" in step else ""
            )
            head = f'  {{"step": {step["step"]}, "loss": {json.dumps(step["loss"])}{per_sample},\n'
            steps.append(head + ",\n".join(groups) + "}")
        head = f'{{"schema_version": {SCHEMA_VERSION}, "name": {json.dumps(doc["name"])}, "steps": [\n'
        return head + ",\n".join(steps) + "]}\n"

    def warnings(self) -> list[str]:
        """Sentences for people: a loss that stopped being a number."""
        for s in self.steps:
            if not math.isfinite(s.loss):
                return [
                    f"the loss is {s.loss} from step {s.step} on (written as null in JSON); "
                    f"a smaller learning rate than {self.learning_rate:g} may help"
                ]
        return []

    def to_text(self, digits: int = 4) -> str:
        """A worked solution: per step the parameters, forward values, loss, deltas from the loss
        back, gradients and updated parameters, as aligned matrices with `digits` decimals."""
        names = self.spelling
        rate = f"{self.learning_rate:g}"
        count = len(self.steps)
        samples = next(iter(self.data.values())).shape[1 if self.convention[1] == "columns" else 0]
        by_theta = names.gradient_text("theta")
        letter = names.notation.learning_rate
        named = "learning_rate" in names.notation.changed()  # the course's letter (gamma), then its value
        rule = (
            f"theta <- theta - {letter} * {by_theta} with {letter} = {rate}"
            if named
            else f"theta <- theta - {rate} * {by_theta}"
        )
        lines = [
            self.name,
            f"Gradient descent: {rule}, {count} step{'s' if count != 1 else ''}",
            f"Matrices in the spec's orientation (weights {self.convention[0]}, samples {self.convention[1]}); "
            f"{samples} sample{'s' if samples != 1 else ''}.",
        ]
        if self.origin:
            lines.append(f"Data and initial parameters: {self.origin}.")
        lines += ["", "Data"]
        lines += _block(self._spelt(self.data), digits, "  ")
        loss = names.loss_text()
        for s in self.steps:
            lines += ["", f"Step {s.step}", "  Parameters"]
            lines += _block(self._spelt(s.params), digits)
            lines.append("  Forward")
            lines += _block({_label(key, self.aliases, names): v for key, v in s.forward.items()}, digits)
            lines += ["  Loss", f"    {loss} = {_format(s.loss, digits)}"]
            if s.loss_per_sample is not None and np.size(s.loss_per_sample) > 1:
                how = "their mean" if self.mean else "their sum"
                lines.append(
                    f"    per sample: {', '.join(_format(v, digits) for v in np.ravel(s.loss_per_sample))}"
                    f" ({loss} is {how})"
                )
            lines.append("  Deltas (from the loss back)")
            lines += _block(self._spelt(dict(reversed(list(s.delta.items())))), digits)
            lines.append("  Gradients")
            lines += _block({names.gradient_text(name): v for name, v in s.grad.items()}, digits)
            lines.append(f"  Updated parameters (theta - {letter if named else rate} * {by_theta})")
            lines += _block(self._spelt(s.updated), digits)
            if s.targets:
                lines.append("  Asked for")
                lines += _block({self.target_labels.get(name, name): v for name, v in s.targets.items()}, digits)
        return "\n".join(lines) + "\n"

    def _spelt(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {self.spelling.text(name): value for name, value in arrays.items()}


def _label(key: str, aliases: dict[str, str], names: Spelling) -> str:
    """z_out = y_out: the value and its alias (once where the notation spells them alike: h^3 for output h_3)."""
    shown, alias = names.text(key), names.text(aliases.get(key, key))
    return shown if alias == shown else f"{shown} = {alias}"


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nested(value: Any) -> Any:
    """A nested list of numbers (None for a non-finite one), as deep as the array it came from."""
    return [_nested(v) for v in value] if isinstance(value, list) else _number(value)


def _matrices(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every array as nested lists: a matrix 2-D, a local partial with more axes (a Jacobian per sample,
    a value by a weight) one level per axis."""
    return {name: _nested(np.asarray(a, dtype=float).tolist()) for name, a in arrays.items()}


def _format(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0000"


def format_matrix(label: str, matrix: np.ndarray, digits: int = 4) -> list[str]:
    """`label = [ ... ]`, one line per row, columns right-aligned to a common width."""
    cells = [[_format(v, digits) for v in row] for row in np.asarray(matrix, dtype=float).tolist()]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    rows = [
        "[ " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) + " ]" for row in cells
    ]
    head = f"{label} = "
    return [head + rows[0]] + [" " * len(head) + row for row in rows[1:]]


def _slices(label: str, array: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """An array with more than two axes as its matrices, each labelled by its leading indices from 1
    (`dp/ds_1 [1,:,:]`: the first sample's Jacobian); fewer than two axes as a matrix."""
    array = np.asarray(array, dtype=float)
    if array.ndim <= 2:
        return [(label, np.atleast_2d(array))]
    return [
        (f"{label} [{','.join(str(i + 1) for i in index)},:,:]", array[index])
        for index in np.ndindex(*array.shape[:-2])
    ]


def _block(arrays: dict[str, np.ndarray], digits: int, indent: str = "    ") -> list[str]:
    return [
        indent + line
        for label, array in arrays.items()
        for sliced, matrix in _slices(label, array)
        for line in format_matrix(sliced, matrix, digits)
    ]


def per_sample_loss(net: Network) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """Each sample's loss from the named values (the output and the target), compiled once: summed over
    the output's units, before a `reduction: mean` divides the total by N."""
    graph = net.graph
    loss = graph.nodes[graph.loss]
    symbols = net.derive().backprop.symbols
    yout, y = (symbols[graph.nodes[i].symbol_name] for i in loss.inputs)
    entries = rules.loss_entries(op_attrs(loss), yout, y)
    columns = net.spec.convention.samples == "columns"
    units = entries.shape[0 if columns else 1]
    expr = MatMul(OneMatrix(1, units), entries) if columns else MatMul(entries, OneMatrix(units, 1))
    function = compile_expression(expr)
    axis = graph.nodes[0].shape.index(BATCH)

    def call(named: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(function(named, named[graph.nodes[0].symbol_name].shape[axis]), dtype=np.float64)

    return call


def train(
    net: Network,
    steps: int | None = None,
    learning_rate: float | None = None,
    targets: Sequence[str] = (),
    data: dict[str, np.ndarray] | None = None,
    origin: str = "",
) -> TrainingRun:
    """Run gradient descent on the spec's data; `steps` and `learning_rate` override the spec's
    `training` section; `targets` (dL/dz_2, delta_1[2,n], ...) are evaluated at each step too; `data`
    replaces the spec's numbers (random ones, say, with `origin` saying where they come from).
    Raises TrainingError saying what is missing or invalid, UnknownTarget, and
    numeric.NotComputable for a generic activation."""
    asked = [net.derive().target(name) for name in targets]
    spec = net.spec
    if learning_rate is None:
        if spec.training is None:
            raise TrainingError(
                "no learning rate: the spec has no `training` section; add one, e.g. "
                "training: {learning_rate: 0.05, steps: 3}, or give --learning-rate"
            )
        learning_rate = spec.training.learning_rate
    if steps is None:
        steps = spec.training.steps if spec.training is not None else 1
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise TrainingError(f"learning rate {learning_rate!r}: expected a positive finite number")
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise TrainingError(f"steps {steps!r}: expected a whole number from 1 to {MAX_STEPS}")
    fn = net.gradient_fn()
    data = net.data() if data is None else data
    missing = [name for name in fn.arguments if name not in data]
    if missing:
        raise TrainingError(
            f"the spec has no data for {', '.join(missing)}: numeric needs {', '.join(fn.arguments)} under `data:`"
        )
    samples = np.shape(data[net.graph.nodes[0].symbol_name])[net.graph.nodes[0].shape.index(BATCH)]
    budget.check_training(net, steps, samples)  # every number of every step is kept: bounded before the run
    parameters = [node.symbol_name for node in net.graph.parameters]
    fixed = {name: data[name] for name in fn.arguments if name not in parameters}
    theta = {name: data[name] for name in parameters}
    run = []
    losses = per_sample_loss(net)
    with np.errstate(all="ignore"):  # a diverging run is reported by warnings(), not by NumPy's
        for k in range(1, steps + 1):
            out = fn({**fixed, **theta})
            grad = out["grad"]
            updated = {
                name: value - learning_rate * grad[name] if name in grad else value for name, value in theta.items()
            }
            named = net.named_values({**fixed, **theta}, out)
            values = {target.name: net.value_at(target, named) for target in asked}
            run.append(Step(k, out["loss"], theta, out["forward"], out["delta"], grad, updated, losses(named), values))
            theta = updated
    aliases = {
        node.key: node.symbol_name
        for node in net.graph.by_role("activation")
        if node.key is not None and node.key != node.name
    }
    names = net.derive().names
    return TrainingRun(
        spec.name,
        float(learning_rate),
        fixed,
        run,
        aliases,
        (spec.convention.weights, spec.convention.samples),
        spec.loss.reduction == "mean",
        origin,
        names,
        {target.name: target.lhs_text() for target in asked},
    )
