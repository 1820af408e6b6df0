"""Feedback for a wrong answer: which mutation of the true formula it agrees with.

Each mutation's values at the test points are compared with the answer's; so is each
mutation (and the true value) scaled by -1, 2, 1/2, -2, -1/2 and, for a mean, N or 1/N: a
flipped sign or a lost factor 2 can come on top of one other mistake. The match with the
fewest mistakes gives the sentences; every match is reported with its partial credit. When
nothing matches, the sentences say which inputs the answer depends on that the target does
not, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sympy import Expr, MatAdd, MatMul, MatrixSymbol, preorder_traversal

from symbackprop.notation import Names
from symbackprop.printing import to_text
from symbackprop.verify.mutations import CREDIT, Mutation
from symbackprop.verify.points import close, relative_difference
from symbackprop.verify.result import Credit

#: Most partial credits reported.
MAX_CREDITS = 5
_SIGN_FACTOR_CREDIT = 0.5


@dataclass(frozen=True)
class Match:
    mistakes: int
    credit: float
    sentences: tuple[str, ...]
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Scale:
    """A ratio between the answer and some formula, with its sentence and kind: `sentence` blames the
    loss's derivative (for an answer that writes it out), `plain` the answer as a whole."""

    ratio: float
    kind: str
    sentence: str
    plain: str = ""


def ratio_of(answer: list[np.ndarray], values: list[np.ndarray]) -> float | None:
    """c with answer = c * values at every point, or None."""
    a = np.concatenate([v.ravel() for v in answer])
    b = np.concatenate([v.ravel() for v in values])
    norm = float(b @ b)
    if a.shape != b.shape or norm == 0 or not np.isfinite(norm):
        return None
    c = float(a @ b) / norm
    return c if close(a, c * b) else None


class Explainer:
    """Matches answers against one target's mutations; `values(m)` gives a mutation's values per point."""

    def __init__(
        self,
        target: str,
        right: str,
        scales: list[Scale],
        mutations: list[Mutation],
        values: Callable[[int, int], np.ndarray],
        expected: list[np.ndarray],
        loss_names: frozenset[str] = frozenset(),
    ) -> None:
        self.target = target
        self.right = right  # "dL/dW_1 = delta_1 x^T"
        self.scales = scales
        self.mutations = mutations
        self.values = values  # (mutation index, point index) -> array, cached by the caller
        self.expected = expected
        self.loss_names = loss_names  # the output and the target: an answer with both writes the loss's derivative

    def says(self, scale: Scale, written: set[str] | None) -> str:
        """The sentence of a scale for an answer written with these names (None: not known)."""
        blames_loss = written is None or not scale.plain or self.loss_names <= written
        return scale.sentence if blames_loss else scale.plain

    def scale(self, ratio: float) -> Scale | None:
        return next((s for s in self.scales if abs(ratio - s.ratio) <= 1e-6 * abs(s.ratio)), None)

    def matches(
        self,
        answer: list[np.ndarray],
        pick: Callable[[np.ndarray], np.ndarray],
        expected: list[np.ndarray] | None = None,
        written: set[str] | None = None,
    ) -> list[Match]:
        """Every explanation of `answer`, which holds one array per point (the target's values there are
        `expected`, by default those at the first points); `pick` selects the part of a full value that
        the answer is compared with (all of it, or one entry)."""
        found: list[Match] = []
        truth = self.expected if expected is None else expected
        ratio = ratio_of(answer, [pick(e) for e in truth])
        scale = self.scale(ratio) if ratio is not None else None
        if scale is not None:
            found.append(
                Match(1, CREDIT.get(scale.kind, _SIGN_FACTOR_CREDIT), (self.says(scale, written),), (scale.kind,))
            )
        first, expected_first = answer[0], pick(truth[0])
        visible = not close(first, expected_first)  # else the mistake shows only at a later point
        for index, mutation in enumerate(self.mutations):
            candidate = pick(self.values(index, 0))
            if candidate.shape != first.shape or (visible and close(candidate, expected_first)):
                continue  # a mutation that changes nothing at the first point cannot explain a difference there
            exact = close(first, candidate)
            ratio = None if exact else ratio_of([first], [candidate])
            scale = self.scale(ratio) if ratio is not None else None
            if not exact and scale is None:
                continue
            rest = [pick(self.values(index, k)) for k in range(1, len(answer))]
            if exact and all(close(a, r) for a, r in zip(answer[1:], rest, strict=True)):
                found.append(Match(1, CREDIT[mutation.kind], (mutation.sentence,), (mutation.kind,)))
            elif (
                scale is not None
                and (rest_ratio := ratio_of(answer[1:], rest)) is not None
                and self.scale(rest_ratio) == scale
            ):
                found.append(
                    Match(
                        2,
                        CREDIT[mutation.kind] * CREDIT.get(scale.kind, _SIGN_FACTOR_CREDIT),
                        (self.says(scale, written), mutation.sentence),
                        (scale.kind, mutation.kind),
                    )
                )
        found.sort(key=lambda m: (m.mistakes, -m.credit))
        return found

    def explain(
        self,
        answer: list[np.ndarray],
        pick: Callable[[np.ndarray], np.ndarray] = lambda v: v,
        expected: list[np.ndarray] | None = None,
        written: set[str] | None = None,
    ) -> tuple[list[str], list[Credit], float]:
        """(sentences, partial credits, score) for an answer that is not equivalent; `written` holds the
        names the answer uses (a flipped sign is blamed on the loss's derivative only if it writes it)."""
        found = self.matches(answer, pick, expected, written)
        credits: list[Credit] = []
        for match in found:
            credit = Credit("+".join(match.kinds), round(match.credit, 4), " | ".join(match.sentences))
            if credit.feedback not in (c.feedback for c in credits):
                credits.append(credit)
        if found:
            return list(found[0].sentences), credits[:MAX_CREDITS], credits[0].credit
        expected = [pick(e) for e in (self.expected if expected is None else expected)]
        ratio = ratio_of(answer, expected)
        if ratio is not None:
            return [f"your answer is {ratio:.4g} times {self.target}; {self.right}"], [], 0.0
        difference = relative_difference(
            np.concatenate([v.ravel() for v in answer]), np.concatenate([e.ravel() for e in expected])
        )
        return (
            [f"it differs from {self.target} at the test points (relative difference {difference:.2g}); {self.right}"],
            [],
            0.0,
        )


def sign_sentence(
    forms: list[Expr], names: set[str], key: str | None, right: str, spelling: Names | None = None
) -> str:
    """The flipped sign, shown on the output delta (the first of its `forms` where the loss's
    derivative is a difference of `names`, the output and the target), else on the target."""
    for expr in forms:
        for node in preorder_traversal(expr):
            if not isinstance(node, MatAdd) or len(node.args) != 2:
                continue
            negative = [t for t in node.args if t.could_extract_minus_sign()]
            bare = [-t if t in negative else t for t in node.args]
            if len(negative) == 1 and all(isinstance(t, MatrixSymbol) and t.name in names for t in bare):
                positive = next(t for t in node.args if t is not negative[0])
                swapped = expr.xreplace({node: MatAdd(-negative[0], MatMul(-1, positive))})
                delta = spelling.text(f"delta_{key}") if spelling is not None else f"delta_{key}"
                return (
                    f"the sign is flipped: the output delta is {delta} = {to_text(expr, spelling)}, "
                    f"not {to_text(swapped, spelling)}"
                )
    return f"the sign is flipped: {right}, not its negative"


def scales(
    loss: str,
    reduction: str,
    output: str,
    target_name: str,
    n_samples: int,
    sign: str,
    right: str,
    loss_name: str = "L",
) -> list[Scale]:
    """The ratios that name a mistake, with their sentences, for this loss (and plainly, for the target
    `right`); `output` and `target_name` as the spec's notation writes them."""
    difference = f"{output} - {target_name}"
    if loss == "squared_error":
        missing = (
            f"the factor 2 is missing: the squared error sum ({difference})^2 has d{loss_name}/d{output} = "
            f"2 ({difference})"
        )
        extra = "a factor 2 too many"
    elif loss == "half_squared_error":
        missing = "a factor 1/2 too many"
        extra = (
            f"an extra factor 2: the half squared error 1/2 sum ({difference})^2 has "
            f"d{loss_name}/d{output} = {difference}, with no 2"
        )
    else:
        missing, extra = "off by a factor 1/2", "off by a factor 2"
    flipped = f"the sign is flipped: {right}, not its negative"
    half, double = f"a factor 1/2 too many: {right}", f"an extra factor 2: {right}"
    found = [
        Scale(-1.0, "sign", sign, flipped),
        Scale(0.5, "factor", missing, half),
        Scale(2.0, "factor", extra, double),
        Scale(-0.5, "sign+factor", f"{sign}; and {missing}", f"{flipped}; and {half}"),
        Scale(-2.0, "sign+factor", f"{sign}; and {extra}", f"{flipped}; and {double}"),
    ]
    if reduction == "mean" and n_samples > 1:
        found += [
            Scale(float(n_samples), "factor", "the factor 1/N of the mean is missing"),
            Scale(1 / n_samples, "factor", "a factor 1/N too many"),
        ]
    return found


def dependence(
    target: str,
    leaves: list[str],
    answer_moves: Callable[[str], bool],
    target_moves: Callable[[str], bool],
    spell: Callable[[str], str] = str,
) -> list[str]:
    """Which leaves change the answer but not the target, and the other way round; `spell` writes a leaf's
    name in the spec's notation."""
    sentences = []
    for leaf in leaves:
        answer, truth = answer_moves(leaf), target_moves(leaf)
        if truth and not answer:
            sentences.append(f"your answer does not depend on {spell(leaf)}, but {target} does")
        elif answer and not truth:
            sentences.append(f"your answer depends on {spell(leaf)}, but {target} does not")
    return sentences
