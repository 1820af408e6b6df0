"""The points at which answers are compared numerically, with every named value computed consistently.

At each point the leaves (inputs, targets, weights, biases) are seeded random matrices of the
spec's sizes and fixed matrices come from the spec's data; the network's own compiled
gradient function then gives every s_k, z_k, delta and gradient from them, so an answer
written through delta_2 or z_1 is compared with their true values put in. A generic
activation ({function: g}) gets a random smooth stand-in g(x) = a tanh(b x + c) + d x, and
its derivative everywhere g' is written, so both sides use one consistent function.

The points are chosen, not just drawn: from a pool of seeded draws, points are taken until
every branch of every unit that has one (a relu unit active and inactive) is exercised, and
every pair of such units in each of their four combinations, so that an answer that drops
relu' for one unit cannot agree by luck. Values are compared entry by entry relative to
their own size (no absolute tolerance), so a gradient that vanishes through 100 layers is
compared as strictly as one of size 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy import Add, Basic, Float, Function, Integer, Lambda, diff, tanh
from sympy.core.function import AppliedUndef

from symbackprop import rules
from symbackprop.derive import Backprop
from symbackprop.forms.index import EntryFunction
from symbackprop.gradcheck import random_values
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise
from symbackprop.numeric import GradientFunction, NotComputable, compile_expression

if TYPE_CHECKING:
    from symbackprop.api import Network

#: The fewest points an answer is compared at.
POINTS = 3
#: The most points taken to cover every branch (and pair of branches) of the units with kinks.
MAX_POINTS = 12
#: Further points, compared when the symbolic procedure could not decide (a second opinion).
EXTRA_POINTS = 12
#: Seeded draws the points are chosen from (point k of the pool uses seed SEED + k).
POOL = 40
#: Seed of the first draw.
SEED = 20240
#: Revived draws added to the pool when fewer than POINTS of its draws are lively (a network whose
#: random draws all have a dead relu layer): inputs, weights and biases made positive (every relu unit
#: active) or biases shifted up, by turns.
REVIVED = 24
#: Samples at a random point when the spec's data does not say.
SAMPLES = 3
#: Units with kinks beyond which only single branches, not pairs, are covered.
PAIRED_UNITS = 64
#: Two values agree when, entry by entry, |a - b| <= RTOL * max(|a|, |b|) + FLOOR * (the largest
#: entry of either): relative to the entry, with a floor relative to the whole matrix's size (never
#: an absolute one, so vanishing values are compared as strictly as large ones).
RTOL = 1e-8
FLOOR = 1e-10
#: A plain number (checked on the spec's data) agrees within this relative tolerance.
NUMBER_RTOL = 1e-3
#: Compiled answers kept per network.
COMPILED = 4096
#: The key of a point's kink values (not a symbol: no name has a "#").
KINKS = "#kinks"


def close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, floor: float = FLOOR) -> bool:
    """Equal within the tolerance, entry by entry (both finite)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    size = np.maximum(np.abs(a), np.abs(b))
    scale = float(np.max(size, initial=0.0))
    return bool(np.all(np.abs(a - b) <= rtol * size + floor * scale))


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference relative to the larger of the two values' sizes (for messages)."""
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    difference = float(np.max(np.abs(a - b), initial=0.0))
    return difference / scale if scale > 0 else difference


#: A difference computed at a point is taken as non-zero (a certificate) when it is larger than this
#: share of the sum of its terms' sizes: far above float64 rounding in the named values, which agree
#: with their definitions only to rounding.
CERTAIN = 1e-9


def difference_at(
    difference: Basic, where: dict[Basic, tuple[str, int, int]], point: dict[str, np.ndarray], n_samples: int
) -> tuple[float, float] | None:
    """An exact difference (a normal form over entries of named values) computed at a point, term by
    term in 30 digits: (its value, the sum of its terms' sizes); None when it cannot be computed."""
    values: dict[Basic, Basic] = {}
    for symbol in difference.free_symbols:
        if symbol.name == "N":
            values[symbol] = Integer(n_samples)
            continue
        found = where.get(symbol)
        if found is None or found[0] not in point:
            return None
        name, i, j = found
        array = np.asarray(point[name])
        if i >= array.shape[0] or j >= array.shape[1]:
            return None
        values[symbol] = Float(float(array[i, j]), 30)
    total, scale = Float(0, 30), 0.0
    for term in Add.make_args(difference):
        computed = _generic_stand_ins(term.xreplace(values)).evalf(30)
        if not computed.is_Number or not computed.is_finite or not computed.is_real:
            return None
        total += computed
        scale += abs(float(computed))
    return float(total), scale


def _generic_stand_ins(expr: Basic) -> Basic:
    """A generic f(u) and its f'(u) (symbolic.derivative_function) replaced by the stand-in and its derivative."""

    def replace(applied: AppliedUndef) -> Basic:
        name = applied.func.__name__
        if name.endswith("'"):
            function = stand_in(name[:-1])
            return diff(function.expr, rules.x).xreplace({rules.x: applied.args[0]})
        return stand_in(name)(applied.args[0])

    return expr.replace(lambda e: isinstance(e, AppliedUndef) and len(e.args) == 1, replace)


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

    return dataclasses.replace(
        bp, definitions=each(bp.definitions), deltas=each(bp.deltas), gradients=each(bp.gradients)
    )


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


class Compiled:
    """One matrix expression printed as NumPy code and compiled once, then computed at any point."""

    def __init__(self, expr: Basic, n_samples: int) -> None:
        self.function = compile_expression(expr)  # our own printed code, no user text
        self.n_samples = n_samples

    def __call__(self, point: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):  # a log of a negative number is a NaN the comparison reports
            return np.asarray(self.function(point, self.n_samples), dtype=np.float64)


class Points:
    """The chosen points of one network (each a dict from symbol name to its value there), and more
    on demand."""

    def __init__(self, net: Network, n_samples: int) -> None:
        self.net = net
        self.n_samples = n_samples
        bp = _backprop_with_stand_ins(net.derive().backprop)
        self.function = GradientFunction(bp, kinks=True)
        given = _data(net)
        self.fixed = (
            {name: value for name, value in given.items() if net.graph.named(name).role == "fixed"}
            if net.spec.data
            else {}
        )
        self._batch_axis = net.graph.nodes[0].shape.index(BATCH)
        self._compiled: dict[Basic, Compiled] = {}
        self._pool = [self.complete(self.draw(SEED + k)) for k in range(POOL)]
        if sum(self.lively(point) for point in self._pool) < POINTS:
            self._pool += self.revived()
        chosen = self.choose(self._pool, list(range(len(self._pool))), MAX_POINTS)
        self._chosen = sorted(chosen, key=lambda k: not self.lively(self._pool[k]))  # the first point is lively
        self.values = [self._pool[k] for k in self._chosen]
        self._extra: list[dict[str, np.ndarray]] | None = None
        data = given
        self.data = self.complete(data) if all(name in data for name in self.function.arguments) else None

    # --- choosing the points ------------------------------------------------------------

    @property
    def checked(self) -> list[str]:
        bp = self.net.derive().backprop
        return [f"delta_{key}" for key in bp.deltas] + [f"dL/d{name}" for name in bp.gradients]

    def lively(self, point: dict[str, np.ndarray]) -> bool:
        """No delta and no gradient all zero (a dead relu layer makes every answer with its derivative
        agree there) and every value finite."""
        return all(np.any(point[name] != 0) for name in self.checked) and all(
            np.all(np.isfinite(value)) for name, value in point.items() if name != KINKS
        )

    def revived(self) -> list[dict[str, np.ndarray]]:
        """Livelier draws for a network whose random draws are dead (a deep relu chain of few units has a
        layer with every unit inactive at almost every draw): by turns, inputs, weights and biases made
        positive (a relu unit fed positive values by positive weights is active) and biases shifted by +1;
        up to REVIVED of them, stopping once POINTS are lively."""
        roles = {node.name: node.role for node in self.net.graph.leaves}
        found: list[dict[str, np.ndarray]] = []
        for k in range(REVIVED):
            drawn = self.draw(SEED + POOL + k)
            for name, value in drawn.items():
                if name in self.fixed:
                    continue
                role = roles.get(name)
                if k % 2 == 0 and role in ("input", "weight", "bias"):
                    drawn[name] = np.abs(value) + (0.5 if role == "bias" else 0.0)
                elif k % 2 == 1 and role == "bias":
                    drawn[name] = value + 1.0
            point = self.complete(drawn)
            found.append(point)
            if sum(self.lively(p) for p in found) >= POINTS:
                break
        return found

    def branches(self, point: dict[str, Any]) -> np.ndarray:
        """One row per sample: for each unit with a kink, whether its value is past the kink (> 0)."""
        kinks = point.get(KINKS, [])
        if not kinks:
            return np.zeros((self.n_samples, 0), dtype=bool)
        rows = [np.moveaxis(np.asarray(k), self._batch_axis, 0).reshape(self.n_samples, -1) for k in kinks]
        return np.concatenate(rows, axis=1) > 0

    def choose(self, pool: list[dict[str, np.ndarray]], among: list[int], most: int) -> list[int]:
        """Indices (from `among`) of the points taken: greedily, the one that exercises most branches (and
        pairs of branches) not yet exercised, until all that these draws exercise are, then lively points
        (no delta or gradient all zero) up to POINTS of them; at most `most`, the last places kept for the
        lively points when coverage would take them all. A point where a relu unit is
        inactive may kill the deltas below it, and is taken all the same: it is where an answer that drops
        relu' differs."""
        signs = {k: self.branches(pool[k]) for k in among}
        lively = {k: self.lively(pool[k]) for k in among}
        units = next(iter(signs.values())).shape[1] if signs else 0
        paired = units <= PAIRED_UNITS

        def items(k: int) -> np.ndarray:
            on = signs[k].astype(np.int64)
            off = 1 - on
            single = np.concatenate([on.any(axis=0), off.any(axis=0)])
            if not paired:
                return single
            pairs = [(a.T @ b) > 0 for a in (on, off) for b in (on, off)]
            return np.concatenate([single, *(p.ravel() for p in pairs)])

        covers = {k: items(k) for k in among}
        covered = np.zeros_like(next(iter(covers.values()))) if covers else np.zeros(0, dtype=bool)
        chosen: list[int] = []
        wanted = min(POINTS, sum(lively.values()))
        while len(chosen) < min(most, len(among)):
            short = wanted - sum(lively[k] for k in chosen)  # the last places are kept for lively points
            only_lively = short > 0 and most - len(chosen) <= short
            gain, alive, best = max(
                (int(np.sum(covers[k] & ~covered)), lively[k], -k)
                for k in among
                if k not in chosen and (lively[k] or not only_lively)
            )
            if gain == 0 and sum(lively[k] for k in chosen) >= wanted and len(chosen) >= min(POINTS, most):
                break
            chosen.append(-best)
            covered |= covers[-best]
        return sorted(chosen)

    @property
    def extra(self) -> list[dict[str, np.ndarray]]:
        """EXTRA_POINTS further points, chosen as the first ones were from the rest of the pool (a second
        opinion that exercises every branch again), then lively ones."""
        if self._extra is None:
            taken = set(self._chosen)
            rest = [k for k in range(len(self._pool)) if k not in taken]
            chosen = self.choose(self._pool, rest, EXTRA_POINTS)
            others = [k for k in rest if k not in chosen]
            chosen += sorted(others, key=lambda k: not self.lively(self._pool[k]))[: EXTRA_POINTS - len(chosen)]
            self._extra = [self._pool[k] for k in chosen]
        return self._extra

    # --- computing values ---------------------------------------------------------------

    def draw(self, seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        drawn = random_values(
            self.net, rng, self.n_samples, [name for name in self.function.arguments if name not in self.fixed]
        )
        return {**drawn, **self.fixed}

    def complete(self, leaves: dict[str, Any]) -> dict[str, np.ndarray]:
        """The leaves plus every named value computed from them: s_k, z_k, deltas, and gradients as dL/d<param>
        (and, under KINKS, the values whose signs pick the branches of relu and the like)."""
        leaves = {name: np.asarray(leaves[name], dtype=np.float64) for name in self.function.arguments}
        out = self.function(leaves)
        values: dict[str, Any] = dict(leaves)
        for node in self.net.graph.nodes:
            if node.name and node.key in out["forward"]:
                values[node.name] = out["forward"][node.key]
        values.update(out["delta"])
        values.update({f"dL/d{name}": grad for name, grad in out["grad"].items()})
        values[KINKS] = out.get("kinks", [])
        return values

    def perturbed(self, name: str, seed: int) -> dict[str, np.ndarray]:
        """The first point with one leaf redrawn, and everything computed from it again."""
        redrawn = self.draw(seed)
        leaves = {arg: self.values[0][arg] for arg in self.function.arguments}
        return self.complete({**leaves, name: redrawn[name]})

    def compiled(self, expr: Basic) -> Compiled:
        """The expression compiled once (with the stand-ins of generic activations), kept for reuse."""
        found = self._compiled.get(expr)
        if found is None:
            if len(self._compiled) >= COMPILED:
                self._compiled.clear()
            found = self._compiled[expr] = Compiled(with_stand_ins(expr), self.n_samples)
        return found

    def evaluate(self, expr: Basic, point: dict[str, np.ndarray]) -> np.ndarray:
        """A matrix expression's value at a point."""
        return self.compiled(expr)(point)

    def each(
        self, compute: Callable[[dict[str, np.ndarray]], np.ndarray], points: list[dict[str, np.ndarray]] | None = None
    ) -> list[np.ndarray]:
        return [compute(point) for point in (self.values if points is None else points)]


def _data(net: Network) -> dict[str, np.ndarray]:
    """The spec's numbers; where `data: {random: ...}` asks for numbers that cannot be drawn (a generic
    activation: drawing needs the forward pass), only those the spec writes out."""
    try:
        return net.data()
    except NotComputable:
        return {name: np.array(values, dtype=np.float64) for name, values in net.spec.data.items()}
