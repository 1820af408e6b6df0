"""A solution read into numbers placed on quantities: which step, which quantity, which entry.

Reading goes in four passes. (1) The document's math becomes claims: a chain's names and its
value (the last number or matrix of the chain), with the step marker, the prose context
("updated weights", "gradients") and whether the chain is an update (`W - 0.1 \\cdot dW`).
(2) Names resolve through names.py. (3) Each claim gets its step: from the markers
("Iteration 2", "step 3") when they number training steps, else by order (a forward value
named again after updates starts the next step); markers that number the parts of one step
(forward in "step 1", deltas in "step 2", updates in "step 3") are recognised and ignored.
(4) A name the spec does not know is matched by shape and values to the closest quantity of its
step; a letter matched without doubt is learned (d^{(1)} is s_1, so d^{(2)} is s_2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeGuard

import numpy as np

from symbackprop.check import chains as chain_reader
from symbackprop.check.document import read_document
from symbackprop.check.limits import MAX_MATRICES, MAX_NUMBERS, MAX_STEPS, CheckError, Deadline
from symbackprop.check.names import NameTable, Resolved, entry, resolve
from symbackprop.check.tokens import Group, Tok, parse
from symbackprop.check.truth import LOSS_PER_SAMPLE, Quantity, Truth
from symbackprop.check.values import Number, Value
from symbackprop.check.written import WrittenName, parse_name

#: A numbered heading, `## 2.1 Forward pass` or `\\subsection{2.3 Updates}`: step 2, if the document's
#: numbered headings run over the steps (and no word marks them).
_NUMBERED = re.compile(r"^(?:#{1,6}\s*|\\(?:sub)*section\*?\{\s*|\*\*)?(\d{1,3})\.(\d{1,3})\b")
_MARKER = re.compile(
    r"\b(iteration|iter|epoch|step|round|schritt|durchlauf|update)\s*(?:#|no\.?|number|nr\.?)?"
    r"\s*[:=]?\s*(\d{1,4})\b(?!\.\d)",
    re.IGNORECASE,
)
#: Words of prose that say what the next parameters are, strongest first.
_CONTEXTS = (
    (
        "updated",
        re.compile(
            r"updat|new (?:weight|param|value)|after (?:the|one) (?:step|update)|"
            r"aktualis|neue gewicht",
            re.IGNORECASE,
        ),
    ),
    ("grad", re.compile(r"gradient|partial deriv|derivative|ableitung", re.IGNORECASE)),
    ("delta", re.compile(r"delta|backprop|backward|error signal", re.IGNORECASE)),
    ("loss", re.compile(r"\bloss|\berror\b|\bcost\b|fehler", re.IGNORECASE)),
    ("forward", re.compile(r"forward|activation|output|hidden|drive|vorwärts", re.IGNORECASE)),
    ("data", re.compile(r"initial|given|parameters|weights|data|start", re.IGNORECASE)),
)
#: Learning-rate symbols in an update's formula.
_RATE_SYMBOLS = frozenset({"eta", "alpha", "gamma", "lambda", "epsilon", "lr", "mu"})


@dataclass
class Claim:
    """One chain with a value: its names, where it is, and what the text around it says."""

    order: int
    line: int
    names: list[WrittenName]
    value: Value
    update_like: bool
    marker: int | None
    context: str | None
    numbered: int | None = None  # the step a numbered heading (2.1) would give
    step: int = 1
    resolved: list[Resolved | None] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """One number the student wrote, placed on a quantity at a step (0-based entry in the spec's
    orientation)."""

    step: int | None
    quantity: Quantity
    entry: tuple[int, int]
    number: Number
    line: int
    written: str
    via: str  # name | learned | values
    labelled: bool = False  # one entry, named by its indices (w_{12}), rather than a place in a matrix


@dataclass(frozen=True)
class Match:
    """A name the spec does not know, matched by its values (reported)."""

    written: str
    line: int
    step: int | None
    quantity: Quantity
    how: str  # values | learned


@dataclass
class Solution:
    readings: list[Reading]
    matches: list[Match]
    notes: list[str]  # names or values that could not be placed, for people
    layouts: list[tuple[int, Quantity, int | None, str]]  # a matrix written transposed: line, quantity, step, name


def _is(item: object, kind: str, *texts: str) -> TypeGuard[Tok]:
    return isinstance(item, Tok) and item.kind == kind and (not texts or item.text in texts)


def _update_like(sides: list[chain_reader.Side], learning_rate: float) -> bool:
    """An expression side shaped like an update, `p - lr * g`: a binary minus and a product, or a
    learning-rate symbol or the spec's learning rate."""
    rate_texts = {f"{learning_rate:g}", repr(learning_rate)}
    for side in sides:
        if side.value is not None:
            continue
        flat = list(_flatten(side.items))
        minus = any(_is(item, "op", "-") and k > 0 for k, item in enumerate(flat))
        product = any(_is(item, "cmd", "cdot", "times", "ast") or _is(item, "op", "*") for item in flat)
        rate = any(
            _is(item, "cmd", *_RATE_SYMBOLS)
            or _is(item, "word", "lr", "eta", "alpha")
            or _is(item, "num")
            and item.text in rate_texts
            for item in flat
        )
        if minus and (product or rate):
            return True
    return False


def _flatten(items: tuple) -> list:
    out = []
    for item in items:
        if isinstance(item, Group):
            out.append(Tok("op", item.open, item.pos))
            out += _flatten(tuple(item.items))
        elif isinstance(item, Tok):
            out.append(item)
    return out


def _context(line: str) -> str | None:
    for role, pattern in _CONTEXTS:
        if pattern.search(line):
            return role
    return None


def claims(text: str, truth: Truth, deadline: Deadline, filename: str | None = None) -> list[Claim]:
    """Every chain of the solution that gives a value to at least one name."""
    found: list[Claim] = []
    marker: int | None = None
    numbered: int | None = None
    context: str | None = None
    matrices = numbers = 0
    for segment in read_document(text, filename):
        deadline.check()
        if segment.kind == "prose":
            match = _MARKER.search(segment.text)
            if match:
                marker = int(match.group(2))
                context = None
            heading = _NUMBERED.match(segment.text)
            if heading:
                numbered = int(heading.group(1))
            context = _context(segment.text) or context
            continue
        try:
            items = parse(segment.text)
            chains = chain_reader.chains(items)
        except CheckError as error:
            raise CheckError(error.message, segment.line) from None
        for chain in chains:
            deadline.check()
            value_sides = [side for side in chain.sides if side.value is not None]
            if not value_sides:
                continue
            value = value_sides[-1].value
            assert value is not None  # value_sides holds the sides with a value
            matrices += value.matrix
            numbers += len(value.numbers)
            if matrices > MAX_MATRICES:
                raise CheckError(f"more than {MAX_MATRICES:,} matrices: the limit of one solution", segment.line)
            if numbers > MAX_NUMBERS:
                raise CheckError(f"more than {MAX_NUMBERS:,} numbers: the limit of one solution", segment.line)
            names = [
                name
                for side in chain.sides
                if side.value is None
                for name in [parse_name(list(side.items))]
                if name is not None
            ]
            if not names:
                continue
            line = segment.line + segment.text.count("\n", 0, chain.pos)
            found.append(
                Claim(
                    len(found),
                    line,
                    names,
                    value,
                    _update_like(list(chain.sides), truth.learning_rate),
                    marker,
                    context,
                    numbered,
                )
            )
    return found


class Placer:
    """Puts claims on quantities: resolution, steps, value matching."""

    def __init__(self, truth: Truth, table: NameTable, deadline: Deadline) -> None:
        self.truth = truth
        self.table = table
        self.deadline = deadline
        self.notes: list[str] = []
        self.matches: list[Match] = []
        self.layouts: list[tuple[int, Quantity, int | None, str]] = []

    # --- steps ---------------------------------------------------------------------------

    def _role(self, claim: Claim, resolved: Resolved) -> str:
        if resolved.role in ("updated", "current") or resolved.role is not None:
            return resolved.role
        if claim.update_like or claim.context == "updated":
            return "updated"
        return "current"

    def assign_steps(self, found: list[Claim]) -> None:
        for claim in found:
            claim.resolved = [resolve(name, self.table) for name in claim.names]
        markers = [claim.marker for claim in found if claim.marker is not None]
        if markers and self._markers_are_steps(found):
            for claim in found:
                claim.step = claim.marker if claim.marker is not None else 1
            return
        seen: set[tuple[str, str]]
        step, seen, updated = 1, set(), False
        for claim in found:
            roles = [(self._role(claim, r), r.key) for r in claim.resolved if r is not None]
            repeats = any(role in ("forward", "loss", "delta", "grad") and (role, key) in seen for role, key in roles)
            if repeats and updated and step < self.truth.steps:
                step, seen, updated = step + 1, set(), False
            claim.step = step
            for role, key in roles:
                seen.add((role, key))
                updated = updated or role == "updated"

    def _markers_are_steps(self, found: list[Claim]) -> bool:
        """False when the markers number the parts of one step: each marked block's roles all come
        after the block before's (forward, then deltas, then updates)."""
        order = {"current": 0, "data": 0, "forward": 1, "loss": 2, "delta": 3, "grad": 4, "updated": 5}
        blocks: dict[int, list[int]] = {}
        for claim in found:
            if claim.marker is None:
                continue
            for resolved in claim.resolved:
                if resolved is not None:
                    role = self._role(claim, resolved)
                    blocks.setdefault(claim.marker, []).append(order.get(role, 0))
        keys = sorted(blocks)
        if len(keys) < 2:
            return True
        progressive = all(min(blocks[b]) > max(blocks[a]) for a, b in zip(keys, keys[1:], strict=False))
        return not progressive

    # --- placing -------------------------------------------------------------------------

    def place(self, found: list[Claim]) -> Solution:
        self.assign_steps(found)
        readings: list[Reading] = []
        pending: list[tuple[Claim, WrittenName]] = []
        for claim in found:
            self.deadline.check()
            if claim.step > self.truth.steps:
                self.notes.append(
                    f"line {claim.line}: step {claim.step} is beyond the {self.truth.steps} "
                    f"step(s) the spec trains for; not checked"
                )
                continue
            placed: set[tuple] = set()
            for name, resolved in zip(claim.names, claim.resolved, strict=True):
                if resolved is None:
                    pending.append((claim, name))
                    continue
                target = self._target(claim, resolved)
                if target is None or target[:2] in placed:
                    continue
                placed.add(target[:2])
                found_here = self._readings(claim, name, target, resolved.index, resolved.via)
                if resolved.role is None and name.form == "plain" and not claim.update_like:
                    found_here = self._by_context(claim, name, resolved, found_here)
                readings += found_here
        for claim, name in pending:  # learned letters first, then values
            again = resolve(name, self.table)
            if again is not None:
                target = self._target(claim, again)
                if target is not None:
                    found_again = self._readings(claim, name, target, again.index, again.via)
                    if found_again:
                        self.matches.append(Match(name.text, claim.line, target[0], target[1], again.via))
                    readings += found_again
                    continue
            if self._learning_rate(claim, name):
                continue
            readings += self._by_values(claim, name)
        return Solution(readings, self.matches, self.notes, self.layouts)

    def _learning_rate(self, claim: Claim, name: WrittenName) -> bool:
        """A learning rate stated (`\\alpha = 0.01`, the notation's letter or a usual one): the spec's own
        is no number of the network, and is passed over; another one is noted, not checked."""
        letters = _RATE_SYMBOLS | {self.table.names.notation.learning_rate}
        if (
            name.base not in letters
            or name.sub is not None
            or name.sup is not None
            or name.form != "plain"
            or claim.value.matrix
        ):
            return False
        written = claim.value.numbers[0]
        if not agrees(written, self.truth.learning_rate):
            self.notes.append(
                f"line {claim.line}: {name.text} = {written.text}, but the spec's learning rate is "
                f"{self.truth.learning_rate:g}; not checked"
            )
        return True

    def _by_context(self, claim: Claim, name: WrittenName, resolved: Resolved, chosen: list[Reading]) -> list[Reading]:
        """A parameter named plainly, before or after the step by the prose around it only: if its
        numbers are all wrong there and all right as the other, it is the other (the initial
        weights restated under "weight update")."""
        if not chosen or any(agrees(r.number, float(self._known(r)[r.entry])) for r in chosen):
            return chosen
        flipped = Claim(
            claim.order,
            claim.line,
            claim.names,
            claim.value,
            claim.update_like,
            claim.marker,
            "data" if claim.context == "updated" else "updated",
            claim.numbered,
            claim.step,
        )
        target = self._target(flipped, resolved)
        if target is None:
            return chosen
        other = self._readings(flipped, name, target, resolved.index, resolved.via)
        if other and all(agrees(r.number, float(self._known(r)[r.entry])) for r in other):
            return other
        return chosen

    def _target(self, claim: Claim, resolved: Resolved) -> tuple[int | None, Quantity, Quantity] | None:
        """(step, quantity, where its truth lives) for a resolved name in a claim."""
        role = self._role(claim, resolved)
        step: int | None = claim.step
        if role == "current":
            if claim.step == 1:
                role, step = "data", None
            else:
                role, step = "updated", claim.step - 1
        if role == "data":
            step = None
        quantity = self.truth.quantities.get((role, resolved.key))
        if quantity is None:
            return None
        return step, quantity, quantity

    def _truth(self, step: int | None, quantity: Quantity) -> np.ndarray | None:
        return self.truth.value(step, quantity.role, quantity.key)

    def _known(self, reading: Reading) -> np.ndarray:
        return self.truth.known(reading.step, reading.quantity.role, reading.quantity.key)

    def _readings(
        self,
        claim: Claim,
        name: WrittenName,
        target: tuple[int | None, Quantity, Quantity],
        index: str | None,
        via: str,
    ) -> list[Reading]:
        step, quantity, _ = target
        value = claim.value
        if quantity.kind == "loss" and index is None and len(value.numbers) == self.truth.n_samples > 1:
            quantity = self.truth.quantities[("loss", LOSS_PER_SAMPLE)]  # one loss per sample
        truth = self._truth(step, quantity)
        if truth is None:
            return []
        if name.transposed and value.matrix:
            rows = tuple(zip(*value.rows, strict=True))
            value = Value(rows, True, not value.transposed)
        where = entry(index, truth.shape)
        if where == "formula":
            return []
        if where == "bad":
            self.notes.append(
                f"line {claim.line}: {name.text}: no entry {index} in {quantity.label} "
                f"({truth.shape[0]}x{truth.shape[1]})"
            )
            return []
        placed = self._layout(value, truth, where, quantity)
        if placed is None:
            self.notes.append(
                f"line {claim.line}: {name.text} is {value.shape[0]}x{value.shape[1]}, but "
                f"{quantity.label} is {truth.shape[0]}x{truth.shape[1]}; not checked"
            )
            return []
        cells, transposed = placed
        if transposed:
            self.layouts.append((claim.line, quantity, step, name.text))
        return [
            Reading(step, quantity, position, number, claim.line, name.text, via, where is not None)
            for position, number in cells
        ]

    def _layout(
        self, value: Value, truth: np.ndarray, where: tuple[int, int] | None, quantity: Quantity | None = None
    ) -> tuple[list[tuple[tuple[int, int], Number]], bool] | None:
        """Each written number's 0-based position in the truth's orientation, and whether a
        matrix was written transposed; None if the shapes do not fit. One sample's vector of a
        batch quantity (s_k, z_k, a delta, the input or target) goes to the sample it fits best."""
        rows, cols = truth.shape
        shape = value.shape
        numbers = value.numbers
        if where is not None:
            return ([(where, numbers[0])], False) if len(numbers) == 1 else None
        if shape == (rows, cols):
            return [((i, j), value.rows[i][j]) for i in range(rows) for j in range(cols)], False
        if shape == (cols, rows) and (rows == 1 or cols == 1):  # a vector in the other layout
            return [((i, j), value.rows[j][i]) for i in range(rows) for j in range(cols)], False
        if shape == (cols, rows):
            return [((i, j), value.rows[j][i]) for i in range(rows) for j in range(cols)], True
        batch = (
            quantity is not None
            and quantity.kind in ("pre", "act", "delta", "input", "target")
            and self.truth.n_samples > 1
            and 1 in shape
        )
        if batch and self.truth.samples_in_columns and len(numbers) == rows:
            return self._sample(numbers, truth, axis=1)
        if batch and not self.truth.samples_in_columns and len(numbers) == cols:
            return self._sample(numbers, truth, axis=0)
        return None

    def _sample(
        self, numbers: list[Number], truth: np.ndarray, axis: int
    ) -> tuple[list[tuple[tuple[int, int], Number]], bool] | None:
        """One sample's column (or row) of a batch quantity: the sample that fits best."""
        best, best_n = -1, 0
        for n in range(truth.shape[axis]):
            line = truth[:, n] if axis == 1 else truth[n, :]
            score = sum(agrees(number, float(t)) for number, t in zip(numbers, line, strict=True))
            if score > best:
                best, best_n = score, n
        if best <= 0:
            return None
        if axis == 1:
            return [((i, best_n), number) for i, number in enumerate(numbers)], False
        return [((best_n, j), number) for j, number in enumerate(numbers)], False

    # --- names matched by their values ---------------------------------------------------

    def _candidates(self, claim: Claim, name: WrittenName) -> list[tuple[int | None, Quantity]]:
        step = claim.step
        out: list[tuple[int | None, Quantity]] = []
        roles = {"grad": ("grad", "delta"), "update": ("updated",)}.get(name.form)
        for quantity in self.truth.order:
            if roles is not None and quantity.role not in roles:
                continue
            out.append((step, quantity))
        if roles is None:
            for quantity in self.truth.data_quantities:
                if quantity.kind in ("weight", "bias"):
                    where = (
                        (None, quantity) if step == 1 else (step - 1, self.truth.quantities[("updated", quantity.key)])
                    )
                    out.append(where)
                else:
                    out.append((None, quantity))
        return out

    def _by_values(self, claim: Claim, name: WrittenName) -> list[Reading]:
        layer = self.table.layer_of(name.sup) or self.table.layer_of(name.sub)
        index = name.sub if name.sup is not None and layer is not None and name.sub else None
        best: list[tuple[int, int, int, int, int | None, Quantity, list[tuple[tuple[int, int], Number]]]] = []
        for rank, (step, quantity) in enumerate(self._candidates(claim, name)):
            truth = self._truth(step, quantity)
            if truth is None:
                continue
            where = entry(index, truth.shape)
            if where == "formula" or where == "bad":
                continue
            placed = self._layout(claim.value, truth, where, quantity)
            if placed is None or placed[1]:
                continue
            cells = placed[0]
            score = sum(agrees(number, float(truth[position])) for position, number in cells)
            near = 0 if layer is None or quantity.layer == layer[0] else 1
            context = 0 if claim.context in (quantity.role, None) else 1
            best.append((score, -near, -context, -rank, step, quantity, cells))
        if not best:
            self.notes.append(
                f"line {claim.line}: {name.text} names nothing in this network, and no quantity "
                f"has its size; not checked"
            )
            return []
        best.sort(key=lambda b: b[:4], reverse=True)
        score, _, _, _, step, quantity, cells = best[0]
        if score == 0 or score * 2 < len(cells):
            self.notes.append(
                f"line {claim.line}: {name.text} names nothing in this network, and its values match "
                f"no quantity of step {claim.step}; not checked"
            )
            return []
        exact = score == len(cells)
        ties = [b for b in best if b[0] == score and b[5].kind != quantity.kind]
        if exact and layer is not None and not ties and quantity.layer == layer[0]:
            self.table.learn(name.base, quantity.kind)
        self.matches.append(Match(name.text, claim.line, step, quantity, "values"))
        return [
            Reading(step, quantity, position, number, claim.line, name.text, "values") for position, number in cells
        ]


#: One unit in the last digit is allowed (a truncated number) only up to this share of the value:
#: a number of one significant digit must be rounded (half a unit), `2` is not right for 2.7.
TRUNCATION_SHARE = 0.1


def exact(number: Number, truth: float) -> bool:
    """Does the truth end within the digits written (a whole multiple of the number's last unit:
    `-3` for -3, `0.96` for 0.96)? Then rounding and truncation both leave it as it is, and the
    number written must be the truth itself."""
    if not np.isfinite(truth):
        return False
    units = truth / number.unit
    return abs(units - round(units)) <= _noise(units)


def _noise(units: float) -> float:
    """How far from a whole count of units floating point alone moves a computed truth."""
    return 1e-6 + 1e-11 * abs(units)


def tolerance(number: Number, truth: float, certain: bool = True) -> float:
    """How far the number may be from the truth and still be right to the digits written: nothing
    (but floating-point noise) when the truth ends within those digits and is `certain` (not itself
    recomputed from rounded numbers); else one unit of the last digit (a rounded or truncated
    number), capped at a tenth of the value but never under half a unit (a correctly rounded number
    is always right)."""
    if certain and exact(number, truth):
        return _noise(truth / number.unit) * number.unit + 1e-12 * abs(truth)
    allowed = max(0.5 * number.unit, min(number.unit, TRUNCATION_SHARE * abs(truth)))
    return allowed * (1 + 1e-9) + 1e-12 * abs(truth)


def agrees(number: Number, truth: float) -> bool:
    """Right to the digits written (`tolerance`): exactly when the truth ends within them, else
    within one unit of the last digit (half a unit for a number of one significant digit)."""
    if not np.isfinite(truth):
        return False
    return abs(number.value - truth) <= tolerance(number, truth)


def read_solution(
    text: str, truth: Truth, table: NameTable, deadline: Deadline, filename: str | None = None
) -> Solution:
    """Every number of the solution that names a quantity of the network, placed."""
    found = claims(text, truth, deadline, filename)
    numbered = sorted({claim.numbered for claim in found if claim.numbered is not None})
    if (
        not any(claim.marker is not None for claim in found)
        and len(numbered) > 1
        and numbered == list(range(1, len(numbered) + 1))
        and len(numbered) <= truth.steps
    ):
        for claim in found:  # 1.x, 2.x, 3.x: numbered headings that run over the training steps
            claim.marker = claim.numbered
    for claim in found:
        if claim.marker is not None and claim.marker > MAX_STEPS:
            claim.marker = MAX_STEPS + 1
    return Placer(truth, table, deadline).place(found)
