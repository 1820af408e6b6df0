"""The true numbers of every step, and each quantity's formula from the quantities before it.

The truth is `Network.train()`: the spec's data, gradient descent with its learning rate. What
a number is checked against is one `Quantity` (role and key as `numeric --json` names them:
forward `s_1`, `z_out`; delta `delta_1`; grad and updated `W_1`; loss `L`; data `x`, `W_1`), at
one step. Besides the values, each computed quantity has its local formula (s_1 from W_1 and x,
delta_1 from delta_2, ...) compiled once, so that diagnosis can recompute any number from the
student's own earlier numbers, and with another activation in place of a layer's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from sympy import Expr, Lambda, preorder_traversal
from sympy.matrices.expressions import MatrixSymbol

from symbackprop import rules
from symbackprop.api import Network
from symbackprop.check.limits import CheckError
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise
from symbackprop.numeric import NotComputable, compile_expression
from symbackprop.spec.model import Activation
from symbackprop.training import TrainingError, TrainingRun

#: Activations tried in place of a layer's own when a number is wrong ("another activation's values").
OTHER_ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid")
#: Roles in the order a step computes them.
ROLES = ("data", "forward", "loss", "delta", "grad", "updated")
#: The key of the per-sample losses (a row of one loss per sample), reported as `L`.
LOSS_PER_SAMPLE = "L/sample"


@dataclass(frozen=True)
class Quantity:
    """One named value of a step: its role, its key (numeric --json's name), the layer it belongs
    to, what kind of value it is, and the symbol its formulas use (y_out where the key is z_out)."""

    role: str  # data | forward | loss | delta | grad | updated
    key: str
    kind: str  # input | target | fixed | weight | bias | pre | act | delta | loss | loss_samples
    layer: str | None
    symbol: str

    @property
    def label(self) -> str:
        """How a message names it: dL/dW_1 for a gradient, W_1 (updated) for an update."""
        if self.role == "grad":
            return f"dL/d{self.key}"
        if self.role == "updated":
            return f"updated {self.key}"
        if self.kind == "loss_samples":
            return "L (per sample)"
        if self.symbol != self.key and self.role == "forward":
            return f"{self.key} ({self.symbol})"
        return self.key

    @property
    def reported(self) -> str:
        """The spec's plain name, as the JSON `quantity` field gives it."""
        return "L" if self.kind == "loss_samples" else self.key


Key = tuple[int | None, str, str]  # (step or None for the given data, role, key)


class Truth:
    """Every true number of a training run on the spec's data, by (step, role, key)."""

    def __init__(self, net: Network, steps: int | None = None) -> None:
        self.net = net
        try:
            self.run: TrainingRun = net.train(steps=steps)
        except (TrainingError, NotComputable) as error:
            raise CheckError(f"the spec cannot give the true numbers: {error}") from None
        self.steps = len(self.run.steps)
        self.learning_rate = self.run.learning_rate
        spec = net.spec
        self.samples_in_columns = spec.convention.samples == "columns"
        graph = net.graph
        self._inputs: dict[tuple[str, str], list[str]] = {}
        first = self.run.data[graph.nodes[0].symbol_name]
        self.n_samples = first.shape[graph.nodes[0].shape.index(BATCH)]
        self.quantities: dict[tuple[str, str], Quantity] = {}
        self.order: list[Quantity] = []  # one step's quantities in the order they are computed
        for node in graph.leaves:
            kind = {"input": "input", "target": "target", "fixed": "fixed"}.get(node.role, node.role)
            self._add(Quantity("data", node.symbol_name, kind, node.layer, node.symbol_name))
        for node in graph.nodes:
            if node.key is None or node.name is None:
                continue  # an op its consumer inlines: no quantity of its own
            if node.role == "preactivation":
                self._add(Quantity("forward", node.key, "pre", node.layer, node.name))
            elif node.role == "activation":
                self._add(Quantity("forward", node.key, "act", node.layer, node.name))
        self._add(Quantity("loss", "L", "loss", None, "L"))
        self._add(Quantity("loss", LOSS_PER_SAMPLE, "loss_samples", None, "L"))
        preactivations = {node.delta_key: node for node in graph.by_role("preactivation")}
        bp = net.derive().backprop
        for key in bp.deltas:
            self._add(Quantity("delta", f"delta_{key}", "delta", preactivations[key].layer, f"delta_{key}"))
        for node in graph.parameters:
            if node.name in bp.gradients:
                self._add(Quantity("grad", node.name, node.role, node.layer, node.name))
        for node in graph.parameters:
            if node.name in bp.gradients:
                self._add(Quantity("updated", node.name, node.role, node.layer, node.name))
        self.parameters = tuple(node.name for node in graph.parameters if node.name in bp.gradients)
        self.values: dict[Key, np.ndarray] = {}
        for name, array in net.data().items():
            if ("data", name) in self.quantities:
                self.values[(None, "data", name)] = np.asarray(array, dtype=float)
        for step in self.run.steps:
            k = step.step
            for key, array in step.forward.items():
                self.values[(k, "forward", key)] = np.asarray(array, dtype=float)
            self.values[(k, "loss", "L")] = np.array([[step.loss]])
            for key, array in step.delta.items():
                self.values[(k, "delta", key)] = np.asarray(array, dtype=float)
            for key, array in step.grad.items():
                self.values[(k, "grad", key)] = np.asarray(array, dtype=float)
                self.values[(k, "updated", key)] = np.asarray(step.updated[key], dtype=float)
            self.values[(k, "loss", LOSS_PER_SAMPLE)] = self.per_sample_loss(self.environment(k))

    def _add(self, quantity: Quantity) -> None:
        self.quantities[(quantity.role, quantity.key)] = quantity
        if quantity.role != "data":
            self.order.append(quantity)

    def value(self, step: int | None, role: str, key: str) -> np.ndarray | None:
        return self.values.get((step, role, key))

    def known(self, step: int | None, role: str, key: str) -> np.ndarray:
        """The true value of a quantity that has one: where a reading is placed (only on those)."""
        return self.values[(step, role, key)]

    def environment(self, step: int) -> dict[str, np.ndarray]:
        """The true values of step `step` by symbol: data, parameters, forward values, deltas."""
        env = {
            q.symbol: self.values[(None, "data", q.key)]
            for q in self.data_quantities
            if (None, "data", q.key) in self.values
        }
        for name in self.parameters:
            env[name] = self.parameter(step, name)
        for quantity in self.order:
            if quantity.role in ("forward", "delta"):
                env[quantity.symbol] = self.values[(step, quantity.role, quantity.key)]
        return env

    @property
    def data_quantities(self) -> list[Quantity]:
        return [q for q in self.quantities.values() if q.role == "data"]

    def parameter(self, step: int, name: str) -> np.ndarray:
        """A parameter's true value at the start of `step`."""
        return self.values[(None, "data", name)] if step == 1 else self.values[(step - 1, "updated", name)]

    # --- local formulas ------------------------------------------------------------------

    @cached_property
    def _formulas(self) -> dict[tuple[str, str], Expr]:
        bp = self.net.derive().backprop
        out: dict[tuple[str, str], Expr] = {}
        for quantity in self.order:
            if quantity.role == "forward":
                out[("forward", quantity.key)] = bp.definitions[quantity.symbol]
            elif quantity.role == "loss" and quantity.kind == "loss":
                out[("loss", "L")] = bp.definitions["L"]
            elif quantity.role == "delta":
                out[("delta", quantity.key)] = bp.deltas[quantity.key[len("delta_") :]]
            elif quantity.role == "grad":
                out[("grad", quantity.key)] = bp.gradients[quantity.key]
        return out

    def inputs(self, quantity: Quantity) -> list[str]:
        """The symbols a quantity's formula reads (s_1 reads W_1 and x)."""
        place = (quantity.role, quantity.key)
        if place not in self._inputs:
            expr = self._formulas.get(place)
            self._inputs[place] = [] if expr is None else sorted(str(m.name) for m in expr.atoms(MatrixSymbol))
        return self._inputs[place]

    @cached_property
    def _compiled(self) -> dict[tuple[str, str], Callable[[Mapping[str, Any], int | None], Any]]:
        return {key: compile_expression(expr) for key, expr in self._formulas.items()}

    def recompute(
        self, quantity: Quantity, env: Mapping[str, np.ndarray], learning_rate: float | None = None
    ) -> np.ndarray:
        """The quantity from the values in `env` (by symbol) through its own formula: what it is
        given the numbers before it. An update needs the parameter and its gradient in `env`
        under the parameter's name and `grad:<name>`."""
        if quantity.role == "updated":
            rate = self.learning_rate if learning_rate is None else learning_rate
            return env[quantity.key] - rate * env["grad:" + quantity.key]
        if quantity.kind == "loss_samples":
            return self.per_sample_loss(env)
        result = self._compiled[(quantity.role, quantity.key)](env, self.n_samples)
        return np.asarray(result, dtype=float).reshape(self.shape(quantity))

    def shape(self, quantity: Quantity) -> tuple[int, int]:
        step_value = self.values.get((1, quantity.role, quantity.key))
        if step_value is None:
            step_value = self.values[(None, "data", quantity.key)]
        return step_value.shape

    def per_sample_loss(self, env: Mapping[str, np.ndarray]) -> np.ndarray:
        """One loss per sample (the loss of each sample alone), as a row (samples in columns)
        or a column (samples in rows); they add up to L, or average to it with reduction mean."""
        formula = self._compiled[("loss", "L")]
        graph = self.net.graph
        loss = graph.nodes[graph.loss]
        names = [graph.nodes[i].symbol_name for i in loss.inputs]
        losses = []
        for n in range(self.n_samples):
            sliced = dict(env)
            for name in names:
                array = np.asarray(env[name])
                sliced[name] = array[:, n : n + 1] if self.samples_in_columns else array[n : n + 1, :]
            losses.append(float(formula(sliced, 1)))
        row = np.array([losses])
        return row if self.samples_in_columns else row.T

    # --- another activation ----------------------------------------------------------------

    @cached_property
    def _mutants(self) -> dict[tuple[str, str], list[tuple[str, Callable[..., Any]]]]:
        """Per forward activation and per delta: the formula with the layer's f (or f') replaced
        by each other activation's, compiled; labelled with that activation's name."""
        spec = self.net.spec
        kinds = {layer.name: layer.activation for layer in spec.layers}
        out: dict[tuple[str, str], list[tuple[str, Callable[..., Any]]]] = {}
        for (role, key), expr in self._formulas.items():
            quantity = self.quantities[(role, key)]
            if quantity.kind not in ("act", "delta") or quantity.layer not in kinds:
                continue
            own = kinds[quantity.layer]
            order = 0 if quantity.kind == "act" else 1
            label = f"f_{quantity.layer}"
            targets = [
                e
                for e in preorder_traversal(expr)
                if isinstance(e, Elementwise) and e.order == order and e.label == label
            ]
            if not targets:
                continue
            variants = []
            for other in OTHER_ACTIVATIONS:
                if other == own.kind:
                    continue
                activation = Activation(other)
                function = (
                    rules.activation_function(activation) if order == 0 else rules.activation_derivative(activation)
                )
                swapped = expr.xreplace(
                    {e: Elementwise(label, order, Lambda(function.variables, function.expr), *e.mats) for e in targets}
                )
                try:
                    variants.append((other, compile_expression(swapped)))
                except (TypeError, ValueError, NotImplementedError):  # nothing printable: no variant
                    continue
            out[(role, key)] = variants
        return out

    def with_other_activations(self, quantity: Quantity, env: Mapping[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        """The quantity from `env` with its layer's activation (for a delta: its derivative)
        replaced by each other activation: [(activation name, value)]."""
        out = []
        for name, function in self._mutants.get((quantity.role, quantity.key), []):
            with np.errstate(all="ignore"):
                value = np.asarray(function(env, self.n_samples), dtype=float).reshape(self.shape(quantity))
            out.append((name, value))
        return out

    def activation_name(self, layer: str | None) -> str:
        for spec_layer in self.net.spec.layers:
            if spec_layer.name == layer:
                activation = spec_layer.activation
                return activation.source or activation.function or activation.kind
        return "?"


def finite(array: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(array)))


def nice(value: float) -> str:
    """A learning rate for a message: 0.2, 0.005."""
    return f"{value:.6g}" if math.isfinite(value) else str(value)
