"""Symbolic gradients against central finite differences of the loss, in float64.

A derivation is only trusted once its numbers agree with independent ones. The finite
differences perturb one parameter entry at a time by +-step and difference the loss of the
compiled forward pass (no derivative involved). Where a pre-activation or a hinge argument
sits on or next to a kink (relu, leaky relu, hinge, max/min/abs in a formula), the
difference quotient says nothing about the derivative: such points are avoided when drawing
random data, and on given data the entries whose perturbation crosses a kink are reported as
skipped instead of being counted as a mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sympy import Integer

from symbackprop import budget
from symbackprop.graph import BATCH, LEAF_ROLES
from symbackprop.notation import PLAIN, Spelling
from symbackprop.numeric import GradientFunction, downstream_loss
from symbackprop.options import GRADCHECK_MAX_ENTRIES, GRADCHECK_STEP, GRADCHECK_TOLERANCE

if TYPE_CHECKING:
    from symbackprop.api import EntryTarget, Network

#: Default step of the central differences.
STEP = GRADCHECK_STEP
#: Default largest relative error still counted as agreement.
TOLERANCE = GRADCHECK_TOLERANCE
#: Random data is redrawn while some kink argument is within MARGIN * step of its kink.
MARGIN = 100.0
#: Entries checked per parameter at most (a seeded random choice beyond that).
MAX_ENTRIES = GRADCHECK_MAX_ENTRIES
#: Samples in random data.
RANDOM_SAMPLES = 3
DRAWS = 100


@dataclass(frozen=True)
class ParameterCheck:
    """The comparison for one parameter. `error` is the largest relative error over the entries
    checked, |symbolic - numeric| / max(|symbolic|, |numeric|, floor), and `worst` its entry."""

    name: str
    error: float
    worst: tuple[int, ...] | None
    symbolic: float  # at the worst entry
    numeric: float
    checked: int
    total: int
    kinks: tuple[tuple[int, ...], ...]  # entries skipped: their perturbation crossed a kink
    ok: bool


@dataclass(frozen=True)
class GradcheckResult:
    """Every parameter's comparison and how the point was chosen."""

    name: str
    data: str  # where the values came from
    values: dict[str, np.ndarray]
    parameters: dict[str, ParameterCheck]
    step: float
    tolerance: float
    floor: float
    spelling: Spelling = PLAIN  # how the report names parameters: the spec's notation (w^(1) for w_1)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters.values())

    def report(self, title: str | None = None) -> str:
        """A table: per parameter the entries checked, the largest relative error and a verdict."""
        lines = [
            f"{title}: {self.name}" if title else self.name,
            f"  data: {self.data}; central differences, step {self.step:g}, tolerance {self.tolerance:g}",
        ]
        shown = {name: self.spelling.text(name) for name in self.parameters}
        width = max(len("parameter"), *(len(name) for name in shown.values()))
        lines.append(f"  {'parameter'.ljust(width)}  {'entries':>11}  {'max rel. error':>14}  verdict")
        for p in self.parameters.values():
            entries = f"{p.checked}/{p.total}"
            verdict = (
                "ok"
                if p.ok
                else (f"MISMATCH at {list(p.worst or ())}: symbolic {p.symbolic:.10g}, numeric {p.numeric:.10g}")
            )
            if p.kinks:
                at_kinks = ", ".join(str(list(k)) for k in p.kinks[:5]) + (", ..." if len(p.kinks) > 5 else "")
                verdict += f"; {len(p.kinks)} at a kink, skipped: {at_kinks}"
            lines.append(f"  {self.spelling.text(p.name).ljust(width)}  {entries:>11}  {p.error:>14.2e}  {verdict}")
        bad = [self.spelling.text(p.name) for p in self.parameters.values() if not p.ok]
        checked = sum(p.checked for p in self.parameters.values())
        skipped = sum(len(p.kinks) for p in self.parameters.values())
        note = f", {skipped} skipped at a kink" if skipped else ""
        lines.append(
            f"  verdict: mismatch in {', '.join(bad)}" if bad else f"  verdict: ok ({checked} entries agree{note})"
        )
        return "\n".join(lines) + "\n"


def random_values(
    net: Network, rng: np.random.Generator, n_samples: int = RANDOM_SAMPLES, names: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Values of the right sizes: inputs N(0, 1), weights (and fixed matrices the spec does not
    give) N(0, 1/fan_in), biases N(0, 0.3^2), targets that suit the loss (a distribution per
    sample for cross entropy, +-1 for hinge, one-hot for the multiclass hinge, in (0, 1) for binary
    cross-entropy)."""
    spec = net.spec
    out_in = spec.convention.weights == "out_in"
    loss = spec.loss.kind
    values: dict[str, np.ndarray] = {}
    for node in net.graph.nodes:
        if node.role not in LEAF_ROLES or (names is not None and node.name not in names):
            continue
        assert node.name is not None  # leaves are named
        shape = tuple(n_samples if d == BATCH else d for d in node.shape)
        if node.role in ("weight", "fixed"):
            fan_in = shape[1] if out_in else shape[0]
            values[node.name] = rng.normal(scale=1 / math.sqrt(fan_in), size=shape)
        elif node.role == "bias":
            values[node.name] = rng.normal(scale=0.3, size=shape)
        elif node.role == "target" and loss == "cross_entropy":
            units_axis = 1 - node.shape.index(BATCH)
            y = rng.uniform(0.1, 1.0, size=shape)
            values[node.name] = y / y.sum(axis=units_axis, keepdims=True)
        elif node.role == "target" and loss == "hinge":
            values[node.name] = rng.choice([-1.0, 1.0], size=shape)
        elif node.role == "target" and loss == "multiclass_hinge":
            units_axis = 1 - node.shape.index(BATCH)
            onehot = np.eye(shape[units_axis])[rng.integers(0, shape[units_axis], size=shape[1 - units_axis])]
            values[node.name] = onehot if units_axis == 1 else onehot.T
        elif node.role == "target" and loss == "binary_cross_entropy":
            values[node.name] = rng.uniform(0.05, 0.95, size=shape)
        else:
            values[node.name] = rng.normal(size=shape)
    return values


def _signs(out: dict[str, Any]) -> list[np.ndarray]:
    return [np.sign(k) for k in out["kinks"]]


def _distance_to_kink(out: dict[str, Any]) -> float:
    return min((float(np.min(np.abs(k))) for k in out["kinks"] if np.size(k)), default=math.inf)


def check(
    net: Network,
    values: Mapping[str, Any] | None = None,
    seed: int = 0,
    random: bool = False,
    step: float = STEP,
    tolerance: float = TOLERANCE,
    max_entries: int = MAX_ENTRIES,
    targets: Sequence[str] | None = None,
) -> GradcheckResult:
    """Compare net's symbolic gradients with central differences at one point: `values` if given,
    else the spec's data, with whatever it lacks (everything, with `random`) drawn from a seeded
    generator, redrawn while a kink is nearer than MARGIN * step. With `targets`, those derivatives
    of the loss are checked instead of every parameter's gradient: any gradient, delta or
    dL/d<value>, or entries of them (a delta or dL/dz_2 by perturbing that value in the forward
    pass after it); raises UnknownTarget."""
    wanted = [net.derive().target(name) for name in targets] if targets else None
    bp = net.derive().backprop
    gradients = GradientFunction(bp)
    forward = GradientFunction(bp, backward=False, kinks=True)
    rng = np.random.default_rng(seed)
    if values is not None:
        point = {name: np.array(values[name], dtype=np.float64) for name in gradients.arguments if name in values}
        origin = "the given values"
        drawn: list[str] = []
    else:  # fixed matrices are part of the network: taken from the spec even with `random`
        fixed = {node.name for node in net.graph.leaves if node.role == "fixed"}
        point = {k: v for k, v in net.data().items() if k in gradients.arguments and (not random or k in fixed)}
        drawn = [name for name in gradients.arguments if name not in point]
        origin = (
            "the spec's data"
            if not drawn
            else (
                f"random data, seed {seed}"
                if set(drawn) >= set(gradients.arguments) - fixed
                else f"the spec's data, with random {', '.join(drawn)} (seed {seed})"
            )
        )
    missing = [name for name in gradients.arguments if name not in point and name not in drawn]
    if missing:
        raise ValueError(f"missing values for {', '.join(missing)}")
    samples = RANDOM_SAMPLES
    for name, value in point.items():  # keep the number of samples of what the spec gives
        node = net.graph.named(name)
        if BATCH in node.shape:
            samples = value.shape[node.shape.index(BATCH)]
    budget.check_gradcheck(net, max_entries, samples)  # two forward passes per entry: bounded before any
    if drawn:
        for _ in range(DRAWS):
            candidate = {**point, **random_values(net, rng, samples, drawn)}
            base = forward(candidate)
            if math.isfinite(base["loss"]) and _distance_to_kink(base) >= MARGIN * step:
                break
        point = candidate
    base = forward(point)
    symbolic = gradients(point)["grad"]
    floor = 1e-4 * max(1.0, abs(base["loss"]))
    base_signs = _signs(base)
    results = {}
    for name in (node.symbol_name for node in net.graph.parameters) if wanted is None else ():
        if name not in symbolic:
            continue
        results[name] = _check_parameter(
            name, point, symbolic[name], forward, base_signs, step, tolerance, floor, max_entries, rng
        )
    for target in wanted or ():
        whole = getattr(target, "base", target)  # an entry's whole target (EntryTarget.base), else itself
        entries = (
            None
            if whole is target
            else [
                tuple(int(i) for i in position)
                for position in np.ndindex(*net.evaluate(whole, point).shape)
                if _selected(position, cast("EntryTarget", target).entry)
            ]
        )
        if whole.kind == "gradient":
            results[target.name] = _check_parameter(
                whole.key,
                point,
                symbolic[whole.key],
                forward,
                base_signs,
                step,
                tolerance,
                floor,
                max_entries,
                rng,
                entries,
                target.name,
            )
        else:
            results[target.name] = _check_value(
                net, whole, point, step, tolerance, floor, max_entries, rng, entries, target.name
            )
    count = point[gradients.arguments[0]].shape[net.graph.nodes[0].shape.index(BATCH)]
    data = f"{origin}; {count} sample{'s' if count != 1 else ''}"
    return GradcheckResult(net.name, data, point, results, step, tolerance, floor, net.derive().names)


def _selected(position: tuple[int, ...], entry: tuple[Any, ...]) -> bool:
    return all(not isinstance(index, Integer) or int(index) == p for p, index in zip(position, entry, strict=True))


def _check_value(
    net: Network,
    target: Any,
    point: dict[str, np.ndarray],
    step: float,
    tolerance: float,
    floor: float,
    max_entries: int,
    rng: np.random.Generator,
    entries: list[tuple[int, ...]] | None,
    label: str,
) -> ParameterCheck:
    """dL/d<value> (a delta: dL/ds_k) against central differences of the loss computed from that value on."""
    name = target.value
    named = net.named_values(point)
    symbolic = net.evaluate(target, point)
    loss_from = downstream_loss(net.derive().backprop, name)
    base_signs = [np.sign(k) for k in loss_from(named)[1]]
    value = named[name].copy()
    values = {**named, name: value}

    def forward(changed: dict[str, np.ndarray]) -> dict[str, Any]:
        loss, kinks = loss_from(changed)
        return {"loss": loss, "kinks": kinks}

    return _compare_entries(
        label, value, values, symbolic, forward, base_signs, step, tolerance, floor, max_entries, rng, entries
    )


def _check_parameter(
    name: str,
    point: dict[str, np.ndarray],
    symbolic: np.ndarray,
    forward: GradientFunction,
    base_signs: list[np.ndarray],
    step: float,
    tolerance: float,
    floor: float,
    max_entries: int,
    rng: np.random.Generator,
    entries: list[tuple[int, ...]] | None = None,
    label: str | None = None,
) -> ParameterCheck:
    value = point[name].copy()
    values = {**point, name: value}
    return _compare_entries(
        label or name, value, values, symbolic, forward, base_signs, step, tolerance, floor, max_entries, rng, entries
    )


def _compare_entries(
    name: str,
    value: np.ndarray,
    values: dict[str, np.ndarray],
    symbolic: np.ndarray,
    forward: Callable[[dict[str, np.ndarray]], dict[str, Any]],
    base_signs: list[np.ndarray],
    step: float,
    tolerance: float,
    floor: float,
    max_entries: int,
    rng: np.random.Generator,
    entries: list[tuple[int, ...]] | None,
) -> ParameterCheck:
    """Each entry of `value` (the array inside `values` that `forward` reads) moved by +-step: the central
    difference of the loss against `symbolic` at that entry."""
    if entries is None and value.size > max_entries:  # the seeded choice from a list of every index, without it
        chosen = rng.choice(value.size, size=max_entries, replace=False)
        indices = [tuple(int(i) for i in np.unravel_index(flat, value.shape)) for flat in sorted(chosen)]
    else:
        indices = list(np.ndindex(value.shape)) if entries is None else entries
        if len(indices) > max_entries:
            chosen = rng.choice(len(indices), size=max_entries, replace=False)
            indices = [indices[i] for i in sorted(chosen)]
    worst: tuple[int, ...] | None = None
    error, at_worst = 0.0, (0.0, 0.0)
    kinks = []
    for index in indices:
        original = value[index]
        value[index] = original + step
        plus = forward(values)
        high = value[index]
        value[index] = original - step
        minus = forward(values)
        low = value[index]
        value[index] = original
        crossed = any(
            not np.array_equal(s, b) for out in (plus, minus) for s, b in zip(_signs(out), base_signs, strict=True)
        )
        if crossed:
            kinks.append(tuple(int(i) for i in index))
            continue
        numeric = (plus["loss"] - minus["loss"]) / (high - low)
        exact = float(symbolic[index])
        entry_error = abs(exact - numeric) / max(abs(exact), abs(numeric), floor)
        if math.isnan(entry_error):
            entry_error = math.inf  # a NaN on either side is a mismatch
        if worst is None or entry_error > error:
            error, worst, at_worst = entry_error, tuple(int(i) for i in index), (exact, numeric)
    ok = error <= tolerance
    return ParameterCheck(
        name,
        error,
        worst,
        at_worst[0],
        at_worst[1],
        len(indices) - len(kinks),
        value.size if entries is None else len(entries),
        tuple(kinks),
        ok,
    )
