"""The random points at which answers are compared, with every named value computed consistently.

At each point the leaves (inputs, targets, weights, biases) are seeded random matrices of the
spec's sizes and fixed matrices come from the spec's data; the network's own compiled
gradient function then gives every s_k, z_k, delta and gradient from them, so an answer
written through delta_2 or z_1 is compared with their true values put in. A generic
activation ({function: g}) gets a random smooth stand-in g(x) = a tanh(b x + c) + d x, and
its derivative everywhere g' is written, so both sides use one consistent function.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy import Basic, Float, Function, Lambda, tanh
from sympy.core.function import AppliedUndef

from symbackprop import rules
from symbackprop.derive import Backprop
from symbackprop.forms.index import EntryFunction
from symbackprop.gradcheck import random_values
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise
from symbackprop.numeric import GradientFunction, evaluate

if TYPE_CHECKING:
    from symbackprop.api import Network

#: Points each answer is compared at.
POINTS = 3
#: Seed of the first point; point k uses SEED + k.
SEED = 20240
#: Seeds tried for each point before one where every delta and gradient is alive.
DRAWS = 60
#: Samples at a random point when the spec's data does not say.
SAMPLES = 3
#: Two values agree when max |a - b| <= RTOL * max(max |a|, max |b|) + ATOL.
RTOL = 1e-8
ATOL = 1e-12
#: A plain number (checked on the spec's data) agrees within this relative tolerance.
NUMBER_RTOL = 1e-3


def close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL) -> bool:
    """Equal within the tolerance, relative to the larger of the two (both finite)."""
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale + ATOL


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), ATOL)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def _coefficients(name: str) -> tuple[float, float, float, float]:
    """Seeded by the function's name, so every process draws the same stand-in."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    a, b, c, d = np.random.default_rng(seed).uniform(0.5, 1.5, size=4)
    return round(a, 6), round(b, 6), round(c - 1.0, 6), round(d / 2, 6)


def stand_in(name: str) -> Lambda:
    """The smooth function standing for the generic activation `name`."""
    a, b, c, d = (Float(v) for v in _coefficients(name))
    return Lambda(rules.x, a * tanh(b * rules.x + c) + d * rules.x)


def with_stand_ins(expr: Basic) -> Basic:
    """Every generic f(x) and f'(x) inside `expr` replaced by its stand-in (and its derivative)."""
    def generic(e: Basic) -> bool:
        return isinstance(e, (Elementwise, EntryFunction)) and e.args[2].expr.has(AppliedUndef)

    def replace(e: Basic) -> Basic:
        function = e.args[2]
        body = function.expr
        for applied in body.atoms(AppliedUndef):
            body = body.subs(Function(applied.func.__name__), stand_in(applied.func.__name__))
        return e.func(*e.args[:2], Lambda(function.variables, body.doit()), *e.args[3:])

    return expr.replace(generic, replace) if expr.has(AppliedUndef) else expr


def _backprop_with_stand_ins(bp: Backprop) -> Backprop:
    def each(table: dict) -> dict:
        return {key: with_stand_ins(value) for key, value in table.items()}

    return dataclasses.replace(bp, definitions=each(bp.definitions), deltas=each(bp.deltas),
                               gradients=each(bp.gradients))


def sample_count(net: Network) -> int:
    """The number of samples in the spec's data for the input; else 1 for a chain of scalars (every size
    1: answers are written in scalars), else SAMPLES."""
    spec = net.spec
    data = spec.data.get(spec.input.name)
    if data is None:
        scalar = spec.input.size == spec.target.size == 1 and all(layer.units == 1 for layer in spec.layers)
        return 1 if scalar else SAMPLES
    axis = net.graph.nodes[0].shape.index(BATCH)
    return len(data) if axis == 0 else len(data[0])


class Points:
    """The seeded points of one network: each a dict from symbol name to its value there."""

    def __init__(self, net: Network, n_samples: int, count: int = POINTS) -> None:
        self.net = net
        self.n_samples = n_samples
        bp = _backprop_with_stand_ins(net.derive().backprop)
        self.function = GradientFunction(bp)
        self.fixed = {name: value for name, value in net.data().items()
                      if net.graph.named(name).role == "fixed"} if net.spec.data else {}
        seeds = iter(range(SEED, SEED + DRAWS))
        self.values = [self.lively(seeds) for _ in range(count)]
        data = net.data()
        self.data = self.complete(data) if all(name in data for name in self.function.arguments) else None

    def lively(self, seeds: Iterator[int]) -> dict[str, np.ndarray]:
        """The next point at which no delta and no gradient is all zero (a dead relu layer would make
        every answer with its derivative agree), else the last one drawn."""
        point: dict[str, np.ndarray] = {}
        for seed in seeds:
            point = self.complete(self.draw(seed))
            if all(np.any(point[name] != 0) for name in self.checked) and \
                    all(np.all(np.isfinite(value)) for value in point.values()):
                return point
        return point

    @property
    def checked(self) -> list[str]:
        bp = self.net.derive().backprop
        return [f"delta_{key}" for key in bp.deltas] + [f"dL/d{name}" for name in bp.gradients]

    def draw(self, seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        drawn = random_values(self.net, rng, self.n_samples,
                              [name for name in self.function.arguments if name not in self.fixed])
        return {**drawn, **self.fixed}

    def complete(self, leaves: dict[str, Any]) -> dict[str, np.ndarray]:
        """The leaves plus every named value computed from them: s_k, z_k, deltas, and gradients as dL/d<param>."""
        leaves = {name: np.asarray(leaves[name], dtype=np.float64) for name in self.function.arguments}
        out = self.function(leaves)
        values = dict(leaves)
        for node in self.net.graph.nodes:
            if node.name and node.key in out["forward"]:
                values[node.name] = out["forward"][node.key]
        values.update(out["delta"])
        values.update({f"dL/d{name}": grad for name, grad in out["grad"].items()})
        return values

    def perturbed(self, name: str, seed: int) -> dict[str, np.ndarray]:
        """The first point with one leaf redrawn, and everything computed from it again."""
        redrawn = self.draw(seed)
        leaves = {arg: self.values[0][arg] for arg in self.function.arguments}
        return self.complete({**leaves, name: redrawn[name]})

    def evaluate(self, expr: Basic, point: dict[str, np.ndarray]) -> np.ndarray:
        """A matrix expression's value at a point (numeric.evaluate, after the stand-ins)."""
        with np.errstate(all="ignore"):  # a log of a negative number is a NaN the comparison reports
            value = evaluate(with_stand_ins(expr), point, self.n_samples)
            return np.asarray(value, dtype=np.float64)

    def each(self, compute: Callable[[dict[str, np.ndarray]], np.ndarray]) -> list[np.ndarray]:
        return [compute(point) for point in self.values]

