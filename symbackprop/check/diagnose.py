"""Each number against the truth, and each wrong one's cause, most specific first.

The student's own numbers are replayed in the order a step computes them: every quantity is
recomputed through its formula from the values before it as the student wrote them (where they
wrote them; recomputed where they did not), then the student's values for it take its place.
That replay gives, for every number, what it is *given the student's earlier numbers*; a wrong
number equal to that is `carried_forward`. A second replay from the student's right numbers
only (rounded as written) keeps a number that is off only by that rounding from being called
wrong. The causes, in order: `learning_rate` (every update of the step fits another learning
rate, solved for from the updates), `gradient_as_update`, `carried_forward`, `typo` (a slipped
decimal point, swapped, dropped or doubled digits, or the value of another entry under this
entry's label), `transpose`, `sign`, `activation` (the layer's values with another activation
or its derivative), else `arithmetic`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from symbackprop.check.limits import Deadline
from symbackprop.check.solution import Reading, agrees, exact, tolerance
from symbackprop.check.truth import Quantity, Truth
from symbackprop.check.values import Number

#: The causes, most specific first (interface.md section 2).
CAUSES = (
    "learning_rate",
    "gradient_as_update",
    "carried_forward",
    "typo",
    "transpose",
    "sign",
    "activation",
    "arithmetic",
)
#: Role order within a step.
ROLE_ORDER = {"data": 0, "forward": 1, "loss": 2, "delta": 3, "grad": 4, "updated": 5}


@dataclass(frozen=True)
class Finding:
    """One wrong number (or a matrix written transposed, with no entry)."""

    step: int | None
    role: str
    quantity: str
    entry: tuple[int, int] | None  # 1-based, in the spec's orientation
    got: float | None
    expected: float | None
    cause: str
    message: str
    line: int
    written: str
    order: tuple

    def to_dict(self) -> dict:
        return {
            "step": self.step,
            "role": self.role,
            "quantity": self.quantity,
            "entry": list(self.entry) if self.entry is not None else None,
            "got": self.got,
            "expected": self.expected,
            "cause": self.cause,
            "message": self.message,
            "line": self.line,
            "written": self.written,
        }


@dataclass(frozen=True)
class Verdicts:
    right: int
    carried_forward: int
    wrong: int
    findings: list[Finding]
    learning_rates: dict[int, float]  # step -> the other learning rate its updates use


def _number(value: float) -> float:
    return float(f"{value:.10g}")


def fmt(value: float) -> str:
    """A number for a message: up to 6 significant digits, no -0."""
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


def _entry_text(entry: tuple[int, int]) -> str:
    return f"[{entry[0] + 1},{entry[1] + 1}]"


#: Replays with each rounded number moved within its rounding (half a unit of its last digit),
#: to see how far rounding alone moves a recomputed number. A number that is its value exactly
#: (the given data, a whole number where the value is whole) is not moved: nothing was rounded.
JITTERS = 6
#: How much more than the largest seen move rounding may be allowed.
JITTER_SAFETY = 2.0
#: Rounding may move a recomputed number by at most this share of its value (or one unit of the
#: number written, if more): beyond that it is not rounding.
SPREAD_SHARE = 0.1


Place = tuple[int | None, str, str]


@dataclass
class _Run:
    """One replay: what each quantity is from the numbers before it, and the values the student has."""

    recomputed: dict[Place, np.ndarray]
    student: dict[Place, np.ndarray]
    envs: dict[int, dict[str, np.ndarray]]  # per step: the environment its updates are computed in


class Replay:
    """The student's numbers replayed step by step through the network's formulas: once from all
    of them, once from the right ones only, and each again with the written numbers moved within
    their rounding (`spread`: how far rounding alone can move a recomputed number)."""

    def __init__(self, truth: Truth, readings: list[Reading], deadline: Deadline) -> None:
        self.truth = truth
        self.deadline = deadline
        self.by_place: dict[Place, list[Reading]] = defaultdict(list)
        for reading in readings:
            self.by_place[(reading.step, reading.quantity.role, reading.quantity.key)].append(reading)
        self.right = {id(r): agrees(r.number, float(self._true(r))) for r in readings}
        self.other_rates: dict[int, float] = {}
        run = self._run(only_right=False, detect=True)
        self.recomputed, self.student, self.envs = run.recomputed, run.student, run.envs
        self.recomputed_right = self._run(only_right=True).recomputed
        rng = np.random.default_rng(20240)
        self.spread = self._spread(self.recomputed, [self._run(False, rng) for _ in range(JITTERS)])
        self.spread_right = self._spread(self.recomputed_right, [self._run(True, rng) for _ in range(JITTERS)])

    @staticmethod
    def _spread(base: dict[Place, np.ndarray], runs: list[_Run]) -> dict[Place, np.ndarray]:
        out = {}
        for place, value in base.items():
            with np.errstate(all="ignore"):
                moves = [np.abs(run.recomputed[place] - value) for run in runs]
            out[place] = JITTER_SAFETY * np.nan_to_num(np.max(moves, axis=0), nan=np.inf, posinf=np.inf)
        return out

    def _true(self, reading: Reading) -> float:
        return self.truth.known(reading.step, reading.quantity.role, reading.quantity.key)[reading.entry]

    def _overlay(
        self,
        base: np.ndarray,
        true: np.ndarray,
        readings: list[Reading],
        only_right: bool,
        rng: np.random.Generator | None,
    ) -> np.ndarray:
        """`base` with the student's numbers in place (of several for one entry, one that agrees with
        `base`, else the last), each moved at random within its rounding when `rng` is given, unless
        nothing was rounded: both `base` and the truth `true` end within the digits written there
        (x = 2 of the given data; a whole number where the work is in whole numbers)."""
        out = np.array(base, dtype=float, copy=True)
        chosen: dict[tuple[int, int], Number] = {}
        for reading in readings:
            if only_right and not self.right[id(reading)]:
                continue
            previous = chosen.get(reading.entry)
            if previous is None or not agrees(previous, float(base[reading.entry])):
                chosen[reading.entry] = reading.number
        for where, number in chosen.items():
            rounded = rng is not None and not (exact(number, float(base[where])) and exact(number, float(true[where])))
            out[where] = number.value + (rng.uniform(-0.5, 0.5) * number.unit if rounded and rng is not None else 0.0)
        return out

    def _run(self, only_right: bool, rng: np.random.Generator | None = None, detect: bool = False) -> _Run:
        truth = self.truth
        run = _Run({}, {}, {})
        env: dict[str, np.ndarray] = {}
        for quantity in truth.data_quantities:
            value = truth.value(None, "data", quantity.key)
            if value is None:
                continue
            readings = self.by_place.get((None, "data", quantity.key), [])
            env[quantity.symbol] = run.student[(None, "data", quantity.key)] = self._overlay(
                value, value, readings, only_right, rng
            )
        rate = truth.learning_rate
        for step in range(1, truth.steps + 1):
            self.deadline.check()
            updates: dict[str, np.ndarray] = {}
            for quantity in truth.order:
                place = (step, quantity.role, quantity.key)
                readings = self.by_place.get(place, [])
                if quantity.role == "updated" and step not in run.envs:
                    run.envs[step] = dict(env)
                    if detect:
                        rate = self._rate(step, env, rate)
                    elif not only_right:
                        rate = self.other_rates.get(step, rate)
                with np.errstate(all="ignore"):
                    value = truth.recompute(quantity, env, rate)
                run.recomputed[place] = value
                student = run.student[place] = self._overlay(value, truth.known(*place), readings, only_right, rng)
                if quantity.role == "updated":
                    updates[quantity.key] = student
                elif quantity.role == "grad":
                    env["grad:" + quantity.key] = student
                elif quantity.role in ("forward", "delta"):
                    env[quantity.symbol] = student
            run.envs.setdefault(step, dict(env))
            env.update(updates)
        return run

    def _rate(self, step: int, env: dict[str, np.ndarray], current: float) -> float:
        """The learning rate the student's updates of `step` use: `current` if they fit it (or fit
        nothing consistently), else another one that fits every update of the step."""
        cells = []
        for name in self.truth.parameters:
            for reading in self.by_place.get((step, "updated", name), []):
                param, grad = env[name][reading.entry], env["grad:" + name][reading.entry]
                cells.append((reading.number, float(param), float(grad)))
        if not cells or all(agrees(n, p - current * g) for n, p, g in cells):
            return current
        solved = sorted((p - n.value) / g for n, p, g in cells if abs(g) > 1e-12)
        if not solved:
            return current
        median = solved[len(solved) // 2]
        for digits in (1, 2, 3):
            if not math.isfinite(median) or median <= 0:
                break
            candidate = float(f"{median:.{digits}g}")
            if math.isclose(candidate, current, rel_tol=1e-9):
                continue
            if all(agrees(n, p - candidate * g) for n, p, g in cells):
                if sum(abs(g) > 1e-12 for _, _, g in cells) >= 2 or digits == 1:
                    self.other_rates[step] = candidate
                    return candidate
                break
        return current

    def near(self, number: Number, place: Place, entry: tuple[int, int], right: bool = False) -> bool:
        """Does the number agree with its recomputation, up to what rounding of the numbers before it
        can move that (from all the student's numbers, or with `right` from the right ones only)?"""
        values, spreads = (self.recomputed_right, self.spread_right) if right else (self.recomputed, self.spread)
        value = values.get(place)
        if value is None or not math.isfinite(float(value[entry])):
            return False
        recomputed = float(value[entry])
        slack = min(float(spreads[place][entry]), max(SPREAD_SHARE * abs(recomputed), number.unit))
        return abs(number.value - recomputed) <= tolerance(number, recomputed, certain=slack == 0) + slack


class Diagnosis:
    """The cause of each wrong number."""

    def __init__(self, truth: Truth, replay: Replay) -> None:
        self.truth = truth
        self.replay = replay
        self._symbols = {q.symbol: q for q in truth.order if q.role in ("forward", "delta")}

    def diagnose(self, reading: Reading) -> tuple[str, str]:
        truth, replay = self.truth, self.replay
        quantity, entry, number = reading.quantity, reading.entry, reading.number
        place = (reading.step, quantity.role, quantity.key)
        true = truth.known(*place)
        t = float(true[entry])
        recomputed = replay.recomputed.get(place)
        got = number.value
        if quantity.role == "updated":
            rate = replay.other_rates.get(reading.step) if reading.step is not None else None
            if rate is not None and recomputed is not None and replay.near(number, place, entry):
                return "learning_rate", (
                    f"every update of step {reading.step} uses learning rate {fmt(rate)}, not "
                    f"{fmt(truth.learning_rate)} (with it, this entry is "
                    f"{fmt(float(recomputed[entry]))}; the truth is {fmt(t)})"
                )
            for source, grad in (
                ("the solution's", replay.student.get((reading.step, "grad", quantity.key))),
                ("the true", truth.value(reading.step, "grad", quantity.key)),
            ):
                if grad is not None and agrees(number, float(grad[entry])):
                    return "gradient_as_update", (
                        f"{fmt(got)} is {source} gradient dL/d{quantity.key}"
                        f"{_entry_text(entry)}, written where the updated {quantity.key} "
                        f"belongs ({fmt(t)})"
                    )
        if (
            recomputed is not None
            and replay.near(number, place, entry)
            and not self._as_true(number, float(recomputed[entry]), t)
        ):
            return "carried_forward", (
                f"right given the solution's own earlier numbers "
                f"({self._wrong_inputs(reading)}): from them it is "
                f"{fmt(float(recomputed[entry]))}; the truth is {fmt(t)}"
            )
        references = [true] + ([recomputed] if recomputed is not None else [])
        for reference in references:
            found = typo(number, float(reference[entry]))
            if found:
                return "typo", f"{found} ({number.text} where {fmt(float(reference[entry]))} belongs)"
        for reference in references if reading.labelled and abs(number.value) > number.unit else ():
            other = self._other_entry(number, reference, entry)
            if other is not None:
                return "typo", (
                    f"{number.text} is the value of entry {_entry_text(other)}, written under entry "
                    f"{_entry_text(entry)} ({reading.written}); entry {_entry_text(entry)} is {fmt(t)}"
                )
        for reference in references:
            i, j = entry
            if (
                reference.shape[0] > 1
                and reference.shape[1] > 1
                and i != j
                and j < reference.shape[0]
                and i < reference.shape[1]
                and explains(number, float(reference[j, i]))
                and not agrees(number, float(reference[i, j]))
            ):
                return "transpose", (
                    f"{number.text} is entry {_entry_text((j, i))}: rows and columns swapped "
                    f"(the spec's orientation has {fmt(t)} at {_entry_text(entry)})"
                )
        for reference in references:
            value = float(reference[entry])
            if value != 0 and explains(number, -value) and not agrees(number, value):
                return "sign", f"{number.text} where {fmt(t)} belongs: the opposite sign"
        env = replay.envs.get(reading.step) if reading.step is not None else None
        if env is not None and quantity.kind in ("act", "delta"):
            own = truth.activation_name(quantity.layer)
            for name, changed in truth.with_other_activations(quantity, env):
                if math.isfinite(float(changed[entry])) and explains(number, float(changed[entry])):
                    what = "activation" if quantity.kind == "act" else "activation's derivative"
                    return "activation", (
                        f"{number.text} is what layer {quantity.layer} gives with the {name} "
                        f"{what} in place of its own ({own}): the truth is {fmt(t)}"
                    )
        return "arithmetic", f"{number.text} should be {fmt(t)}"

    @staticmethod
    def _as_true(number: Number, recomputed: float, true: float) -> bool:
        """Do the student's earlier numbers give the truth itself here (up to floating-point noise)?
        Then a wrong number is their own slip at this place, not carried from before, however much
        rounding could have moved it."""
        return abs(recomputed - true) <= 1e-9 * max(abs(true), number.unit)

    def _other_entry(self, number: Number, reference: np.ndarray, entry: tuple[int, int]) -> tuple[int, int] | None:
        """Another entry (not the transposed one) whose value this number is."""
        if number.value == 0 or reference.size < 2:
            return None
        own = float(reference[entry])
        for i in range(reference.shape[0]):
            for j in range(reference.shape[1]):
                if (i, j) in (entry, entry[::-1]):
                    continue
                value = float(reference[i, j])
                if value != own and explains(number, value):
                    return i, j
        return None

    def _wrong_inputs(self, reading: Reading) -> str:
        """The earlier quantities the student has wrong, for the carried_forward message."""
        quantity = reading.quantity
        names: list[str] = []
        if quantity.role == "updated":
            earlier = [r for s, r in self.replay.other_rates.items() if reading.step and s < reading.step]
            if earlier:
                names.append(f"learning rate {fmt(earlier[-1])}")
            candidates = [
                (reading.step - 1, "updated", quantity.key)
                if reading.step and reading.step > 1
                else (None, "data", quantity.key),
                (reading.step, "grad", quantity.key),
            ]
        else:
            symbols = self._inputs(quantity)
            candidates = []
            for symbol in symbols:
                q = self._symbols.get(symbol)
                if q is not None:
                    candidates.append((reading.step, q.role, q.key))
                elif symbol in self.truth.parameters:
                    candidates.append(
                        (reading.step - 1, "updated", symbol)
                        if reading.step and reading.step > 1
                        else (None, "data", symbol)
                    )
                else:
                    candidates.append((None, "data", symbol))
        for place in candidates:
            student = self.replay.student.get(place)
            true = self.truth.value(*place)
            if student is None or true is None:
                continue
            if not np.allclose(student, true, rtol=1e-9, atol=1e-12):
                step, role, key = place
                label = self.truth.quantities[(role, key)].label
                names.append(f"{label}" + (f" of step {step}" if step is not None and step != reading.step else ""))
        return ", ".join(names) if names else "rounded as written"

    def _inputs(self, quantity: Quantity) -> list[str]:
        return self.truth.inputs(quantity)


def explains(number: Number, value: float) -> bool:
    """Does `value` account for the number written, well enough to name a cause? It must agree to the
    digits written, and be given to at least two of them (or be the number itself): a "1" written
    for 0.68 agrees with -(-0.68) to one unit, but says nothing about a sign."""
    if not agrees(number, value):
        return False
    return abs(value) >= 10 * number.unit or abs(number.value - value) <= 1e-9 * max(1.0, abs(value))


def typo(number: Number, reference: float) -> str | None:
    """What slip of the pen turns `reference` into the number written, if one does."""
    if reference == 0 or not math.isfinite(reference):
        return None
    if (number.value < 0) != (reference < 0) and number.value != 0:
        return None
    for shift in (1, -1, 2, -2, 3, -3):
        if explains(number, reference * 10.0**shift):
            return "a slipped decimal point"
    written = _digits(number.text)
    if written is None:
        return None
    decimals = _decimals(number.text)
    for extra in (0, 1, -1):
        places = decimals + extra
        if places < 0:
            continue
        expected = _digits(f"{abs(reference):.{places}f}")
        if expected is None or expected == written:
            continue
        if extra == 0 and len(expected) == len(written) and _swapped(written, expected):
            return "two digits swapped"
        if extra == 1 and len(written) == len(expected) - 1 and _dropped(written, expected):
            return "a digit dropped"
        if extra == -1 and len(written) == len(expected) + 1 and _doubled(expected, written):
            return "a digit doubled"
    return None


def _digits(text: str) -> str | None:
    """The digits of a number's text without sign, point or leading zeros (0.0123 -> 123)."""
    text = text.lstrip("+-")
    if "e" in text.lower():
        return None
    digits = text.replace(".", "").lstrip("0")
    return digits or "0"


def _decimals(text: str) -> int:
    text = text.lstrip("+-")
    return len(text.split(".")[1]) if "." in text else 0


def _swapped(a: str, b: str) -> bool:
    differ = [k for k in range(len(a)) if a[k] != b[k]]
    return (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and a[differ[0]] == b[differ[1]]
        and a[differ[1]] == b[differ[0]]
    )


def _dropped(short: str, long: str) -> bool:
    """`short` is `long` without one of its digits (not the last: that is rounding)."""
    return any(long[:k] + long[k + 1 :] == short for k in range(len(long) - 1))


def _doubled(short: str, long: str) -> bool:
    """`long` is `short` with one of its digits written twice."""
    return any(long[k] == long[k + 1] and long[:k] + long[k + 1 :] == short for k in range(len(long) - 2))


def judge(truth: Truth, readings: list[Reading], deadline: Deadline) -> Verdicts:
    """Every reading judged; findings for the wrong ones, with their causes."""
    replay = Replay(truth, readings, deadline)
    diagnosis = Diagnosis(truth, replay)
    quantity_order = {(q.role, q.key): k for k, q in enumerate(truth.order)}
    right = carried = wrong = 0
    findings: list[Finding] = []
    written: dict[tuple, Reading] = {}  # the first wrong number at each place, in document order
    for reading in sorted(readings, key=lambda r: r.line):
        deadline.check()
        place = (reading.step, reading.quantity.role, reading.quantity.key)
        if replay.right[id(reading)]:
            right += 1
            continue
        if replay.near(reading.number, place, reading.entry, right=True):
            right += 1  # off only through the rounding of the student's own right numbers
            continue
        before = written.setdefault((place, reading.entry), reading)
        if before is not reading and agrees(reading.number, before.number.value) and before.line < reading.line:
            cause, message = (
                "carried_forward",
                (f"the same number as line {before.line} ({before.written}), written again"),
            )
        else:
            cause, message = diagnosis.diagnose(reading)
        if cause == "carried_forward":
            carried += 1
        else:
            wrong += 1
        true = float(truth.known(*place)[reading.entry])
        order = (
            reading.step or 0,
            ROLE_ORDER[reading.quantity.role],
            quantity_order.get((reading.quantity.role, reading.quantity.key), -1),
            reading.entry,
            reading.line,
        )
        findings.append(
            Finding(
                reading.step,
                reading.quantity.role,
                reading.quantity.reported,
                (reading.entry[0] + 1, reading.entry[1] + 1),
                _number(reading.number.value),
                _number(true),
                cause,
                message,
                reading.line,
                reading.written,
                order,
            )
        )
    findings.sort(key=lambda f: f.order)
    return Verdicts(right, carried, wrong, findings, dict(replay.other_rates))
