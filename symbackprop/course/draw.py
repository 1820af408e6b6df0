"""A student's own numbers: data and initial weights drawn from the student's id and a seed, well
conditioned and short enough to compute by hand.

Each leaf is drawn on a grid in the style of the spec's own numbers: integers if the spec's are
integers (in their range), else one decimal (two for a weight whose layer has a wide fan-in);
targets from the values the spec uses when it uses a few (+-1 labels, one-hot rows), else suited
to the loss and the output's range. A draw is kept only if, at that initial point:

- no relu layer is dead: every delta and every gradient has a non-zero entry (and, preferably, in
  a layer small enough to work by hand (HAND_ENTRIES), with several samples, every relu unit is
  active for some sample: the first PREFERRED_DRAWS draws must have that too);
- no relu pre-activation sits within KINK_MARGIN of the kink (in a hand-sized layer; in a larger
  one, none exactly on it);
- no tanh is saturated (|s| <= TANH_LIMIT), no sigmoid either (|s| <= SIGMOID_LIMIT), and softmax
  logits stay within SOFTMAX_SPREAD of each other;
- the loss is not ~0, and every number is finite and at most MAX_MAGNITUDE.

Otherwise the next draw of the same stream is tried. The stream is seeded by sha256(seed,
student id), so a variant is the same on every machine and does not depend on the other
students of the roster.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from symbackprop.graph import BATCH

if TYPE_CHECKING:
    from symbackprop.api import Network
    from symbackprop.graph import Node

#: Draws tried per student before giving up, and how many of them must also keep every hand-sized
#: relu unit alive (deep relu nets make that unlikely; then a dead unit, never a dead layer, is allowed).
MAX_DRAWS = 2000
PREFERRED_DRAWS = 500
#: Samples drawn when the spec's data does not say.
SAMPLES = 2
#: No relu or leaky relu pre-activation closer than this to its kink, in a layer small enough to work
#: by hand (at most HAND_ENTRIES pre-activations); in a larger one, none exactly on it.
KINK_MARGIN = 0.05
HAND_ENTRIES = 40
#: Largest |s| of a tanh unit (tanh'(2) = 0.07) and of a sigmoid unit (sigmoid'(4) = 0.018).
TANH_LIMIT = 2.0
SIGMOID_LIMIT = 4.0
#: Largest spread of one sample's softmax logits.
SOFTMAX_SPREAD = 4.0
#: Largest magnitude of any forward value, delta or gradient at the initial point.
MAX_MAGNITUDE = 1000.0
#: The smallest loss kept (below it there is nothing to learn).
MIN_LOSS = 1e-3


class DrawError(Exception):
    """No well-conditioned draw was found: the spec (its sizes, activations or data) makes one unlikely."""


@dataclass(frozen=True, eq=False)
class Grid:
    """Values k * step for integers k with |k * step| <= bound, without 0 unless `zero`."""

    step: float
    bound: float
    zero: bool = False

    @property
    def decimals(self) -> int:
        return max(0, -math.floor(math.log10(self.step) + 1e-9))

    @functools.cached_property
    def values(self) -> np.ndarray:
        top = max(1, round(self.bound / self.step))
        steps = np.array([k for k in range(-top, top + 1) if k != 0 or self.zero], dtype=np.float64)
        return np.round(steps * self.step, self.decimals) + 0.0  # no -0.0

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return rng.choice(self.values, size=shape)


def stream(student: str, seed: int) -> np.random.Generator:
    """The student's own random stream."""
    digest = hashlib.sha256(f"symbackprop variant\0{seed}\0{student}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _decimals(values: np.ndarray) -> int:
    """How many decimals the spec's own numbers use (at most 2)."""
    for decimals in range(3):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9):
            return decimals
    return 2


def _style(given: np.ndarray | None, default: Grid, zero: bool) -> Grid:
    """A grid like the spec's own numbers for a leaf (integers stay integers), else `default`."""
    if given is None or given.size == 0 or not np.all(np.isfinite(given)):
        return default
    decimals = max(_decimals(given), 0 if _decimals(given) == 0 else default.decimals)
    step = 10.0**-decimals
    bound = max(step, min(float(np.max(np.abs(given))), 5.0 if decimals == 0 else default.bound * 2))
    return Grid(step, bound, zero)


class Drawer:
    """Draws and checks one network's variants."""

    def __init__(self, net: Network, scale: float | None = None, samples: int | None = None) -> None:
        self.net = net
        spec = net.spec
        self.scale = scale  # the largest |entry| of a drawn input or weight, instead of the spec's style
        self.data = {name: np.array(values, dtype=np.float64) for name, values in spec.data.items()}
        self.function = net.gradient_fn()
        self.leaves = [node for node in net.graph.nodes if node.name in self.function.arguments]
        batch_axis = net.graph.nodes[0].shape.index(BATCH)
        given = self.data.get(spec.input.name)
        self.samples = given.shape[batch_axis] if given is not None else samples or SAMPLES
        self.preferred: list[Callable[..., bool]] = []
        self.checks = self._checks()
        self.grids = {node.name: self.grid(node) for node in self.leaves if node.role in ("input", "weight", "bias")}

    def shape(self, node: Node) -> tuple[int, ...]:
        return tuple(self.samples if dim == BATCH else int(dim) for dim in node.shape)

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One candidate: every leaf but the fixed matrices, which keep the spec's values."""
        values: dict[str, np.ndarray] = {}
        for node in self.leaves:
            assert node.name is not None  # leaves are named
            if node.role == "fixed":
                values[node.name] = self.data[node.name]
            elif node.role == "target":
                values[node.name] = self.target(node, rng)
            else:
                values[node.name] = self.grids[node.name].draw(rng, self.shape(node))
        return values

    def grid(self, node: Node) -> Grid:
        if self.scale is not None:
            step = 0.1 if self.scale >= 0.5 else 0.01
            bound = max(step, self.scale if node.role != "bias" else self.scale / 2)
            return Grid(step, bound, zero=node.role == "bias")
        given = self.data.get(node.symbol_name)
        if node.role == "weight":
            out_in = self.net.spec.convention.weights == "out_in"
            fan_in = self.shape(node)[1 if out_in else 0]
            scale = min(1.0, 2.0 / math.sqrt(fan_in))
            default = Grid(0.1, scale) if scale >= 0.25 else Grid(0.01, round(scale, 2))
            return _style(given, default, zero=False)
        if node.role == "bias":
            return _style(given, Grid(0.1, 0.5, zero=True), zero=True)
        return _style(given, Grid(0.1, 1.0), zero=False)  # the input

    def target(self, node: Node, rng: np.random.Generator) -> np.ndarray:
        """Targets of the kinds the spec uses, else suited to the loss and the output's range."""
        shape = self.shape(node)
        loss = self.net.spec.loss.kind
        units_axis = 1 - node.shape.index(BATCH)
        given = self.data.get(node.symbol_name)
        if loss in ("cross_entropy", "multiclass_hinge"):
            classes = rng.integers(0, shape[units_axis], size=self.samples)
            onehot = np.eye(shape[units_axis])[classes]
            return onehot if units_axis == 1 else onehot.T
        if loss == "hinge":
            return rng.choice([-1.0, 1.0], size=shape)
        if given is not None and given.size and len(np.unique(given)) <= 3 and given.size > len(np.unique(given)):
            return rng.choice(np.unique(given), size=shape)
        output = self.net.spec.layers[-1].activation.kind
        if output == "sigmoid":
            return Grid(0.1, 0.9, zero=True).draw(rng, shape) / 2 + 0.5
        if output == "tanh":
            return Grid(0.1, 0.9, zero=True).draw(rng, shape)
        return _style(given, Grid(0.1, 1.0, zero=True), zero=True).draw(rng, shape)

    def _checks(self) -> list[Callable[..., bool]]:
        """The conditions a draw must meet, one per activation that has a condition."""
        checks: list[Callable[..., bool]] = []  # each called with the outputs; `...`: lambdas bind key=key
        for node in self.net.graph.by_role("preactivation"):
            assert node.layer is not None  # a pre-activation is its layer's
            kind = self.net.spec.layer(node.layer).activation.kind
            key = node.key or node.name
            if kind in ("relu", "leaky_relu"):
                hand = math.prod(self.shape(node)) <= HAND_ENTRIES
                margin = KINK_MARGIN if hand else 1e-9
                checks.append(lambda out, key=key, margin=margin: bool(np.min(np.abs(out["forward"][key])) >= margin))
                if kind == "relu" and hand and self.samples > 1:  # every unit active for some sample
                    axis = node.shape.index(BATCH)
                    self.preferred.append(
                        lambda out, key=key, axis=axis: bool(np.all(np.any(out["forward"][key] > 0, axis=axis)))
                    )
            elif kind == "tanh":
                checks.append(lambda out, key=key: bool(np.max(np.abs(out["forward"][key])) <= TANH_LIMIT))
            elif kind == "sigmoid":
                checks.append(lambda out, key=key: bool(np.max(np.abs(out["forward"][key])) <= SIGMOID_LIMIT))
            elif kind == "softmax":
                axis = 1 - node.shape.index(BATCH)
                checks.append(
                    lambda out, key=key, axis=axis: bool(
                        np.max(np.ptp(out["forward"][key], axis=axis)) <= SOFTMAX_SPREAD
                    )
                )
        return checks

    def acceptable(self, values: dict[str, np.ndarray], preferred: bool = False) -> bool:
        """Well conditioned at this initial point (module docstring); with `preferred`, every hand-sized
        relu unit alive too."""
        out = self.function(values)
        arrays = [*out["forward"].values(), *out["delta"].values(), *out["grad"].values()]
        if not all(np.all(np.isfinite(a)) and np.max(np.abs(a), initial=0.0) <= MAX_MAGNITUDE for a in arrays):
            return False
        if not math.isfinite(out["loss"]) or out["loss"] < MIN_LOSS:
            return False
        if not all(np.any(a != 0) for a in [*out["delta"].values(), *out["grad"].values()]):
            return False  # a dead relu layer (or a unit that stops every gradient)
        return all(check(out) for check in [*self.checks, *(self.preferred if preferred else [])])

    def variant(self, student: str, seed: int) -> dict[str, np.ndarray]:
        """The student's numbers: the first acceptable draw of their stream; raises DrawError."""
        rng = stream(student, seed)
        for attempt in range(MAX_DRAWS):
            values = self.draw(rng)
            with np.errstate(all="ignore"):
                if self.acceptable(values, preferred=attempt < PREFERRED_DRAWS):
                    return values
        raise DrawError(
            f"no well-conditioned draw for {student!r} in {MAX_DRAWS} tries: at the drawn points some "
            f"relu layer is dead, a unit saturates or a number exceeds {MAX_MAGNITUDE:g} (docs/course.md "
            f"lists the conditions; fewer or wider layers, biases or smaller data help)"
        )


def seeded(
    net: Network,
    seed: int,
    keep: dict[str, np.ndarray] | None = None,
    scale: float | None = None,
    samples: int | None = None,
) -> dict[str, np.ndarray]:
    """Every leaf (input, target, parameters; fixed matrices from the spec) drawn from `seed` alone,
    well conditioned as a variant is, except those in `keep`, which stay as given: the numbers of a
    spec's `data: {random: ...}` and of `numeric --random`. `scale` bounds the drawn inputs and
    weights (default: in the style of the spec's own numbers); `samples` is the number of samples
    when nothing kept gives it. Raises DrawError."""
    keep = keep or {}
    for node in net.graph.leaves:  # a kept input or target says how many samples there are
        if node.name in keep and BATCH in node.shape:
            samples = np.shape(keep[node.name])[node.shape.index(BATCH)]
    drawer = Drawer(net, scale, samples)
    rng = np.random.default_rng(seed)
    for attempt in range(MAX_DRAWS):
        values = {**drawer.draw(rng), **keep}
        with np.errstate(all="ignore"):
            if drawer.acceptable(values, preferred=attempt < PREFERRED_DRAWS):
                return values
    raise DrawError(
        f"no well-conditioned draw from seed {seed} in {MAX_DRAWS} tries: at the drawn points some "
        f"relu layer is dead, a unit saturates or a number exceeds {MAX_MAGNITUDE:g} (docs/course.md "
        f"lists the conditions; another seed, a smaller scale or fewer layers help)"
    )
