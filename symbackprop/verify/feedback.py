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
    """A ratio between the answer and some formula, with its sentence and kind."""

    ratio: float
    kind: str
    sentence: str


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

    def __init__(self, target: str, right: str, scales: list[Scale], mutations: list[Mutation],
                 values: Callable[[int, int], np.ndarray], expected: list[np.ndarray]) -> None:
        self.target = target
        self.right = right  # "dL/dW_1 = delta_1 x^T"
        self.scales = scales
        self.mutations = mutations
        self.values = values  # (mutation index, point index) -> array, cached by the caller
        self.expected = expected

    def scale(self, ratio: float) -> Scale | None:
        return next((s for s in self.scales if abs(ratio - s.ratio) <= 1e-6 * abs(s.ratio)), None)

    def matches(self, answer: list[np.ndarray], pick: Callable[[np.ndarray], np.ndarray]) -> list[Match]:
        """Every explanation of `answer`, which holds one array per point; `pick` selects the part of
        a full value that the answer is compared with (all of it, or one entry)."""
        found: list[Match] = []
        ratio = ratio_of(answer, [pick(e) for e in self.expected])
        scale = self.scale(ratio) if ratio is not None else None
        if scale is not None:
            found.append(Match(1, CREDIT.get(scale.kind, _SIGN_FACTOR_CREDIT), (scale.sentence,), (scale.kind,)))
        first, expected = answer[0], pick(self.expected[0])
        visible = not close(first, expected)  # else the mistake shows only at a later point
        for index, mutation in enumerate(self.mutations):
            candidate = pick(self.values(index, 0))
            if candidate.shape != first.shape or (visible and close(candidate, expected)):
                continue  # a mutation that changes nothing at the first point cannot explain a difference there
            exact = close(first, candidate)
            ratio = None if exact else ratio_of([first], [candidate])
            scale = self.scale(ratio) if ratio is not None else None
            if not exact and scale is None:
                continue
            rest = [pick(self.values(index, k)) for k in range(1, len(answer))]
            if exact and all(close(a, r) for a, r in zip(answer[1:], rest, strict=True)):
                found.append(Match(1, CREDIT[mutation.kind], (mutation.sentence,), (mutation.kind,)))
            elif scale is not None and ratio_of(answer[1:], rest) is not None and \
                    self.scale(ratio_of(answer[1:], rest)) == scale:
                found.append(Match(2, CREDIT[mutation.kind] * CREDIT.get(scale.kind, _SIGN_FACTOR_CREDIT),
                                   (scale.sentence, mutation.sentence), (scale.kind, mutation.kind)))
        found.sort(key=lambda m: (m.mistakes, -m.credit))
        return found

    def explain(self, answer: list[np.ndarray], pick: Callable[[np.ndarray], np.ndarray] = lambda v: v
                ) -> tuple[list[str], list[Credit], float]:
        """(sentences, partial credits, score) for an answer that is not equivalent."""
        found = self.matches(answer, pick)
        credits: list[Credit] = []
        for match in found:
            credit = Credit("+".join(match.kinds), round(match.credit, 4), " | ".join(match.sentences))
            if credit.feedback not in (c.feedback for c in credits):
                credits.append(credit)
        if found:
            return list(found[0].sentences), credits[:MAX_CREDITS], credits[0].credit
        expected = [pick(e) for e in self.expected]
        ratio = ratio_of(answer, expected)
        if ratio is not None:
            return [f"your answer is {ratio:.4g} times {self.target}; {self.right}"], [], 0.0
        difference = relative_difference(np.concatenate([v.ravel() for v in answer]),
                                         np.concatenate([e.ravel() for e in expected]))
        return [f"it differs from {self.target} at the test points (relative difference {difference:.2g}); "
                f"{self.right}"], [], 0.0


def sign_sentence(forms: list[Expr], names: set[str], key: str | None, right: str) -> str:
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
                return (f"the sign is flipped: the output delta is delta_{key} = {to_text(expr)}, "
                        f"not {to_text(swapped)}")
    return f"the sign is flipped: {right}, not its negative"


def scales(loss: str, reduction: str, output: str, target_name: str, n_samples: int,
           sign: str) -> list[Scale]:
    """The ratios that name a mistake, with their sentences, for this loss."""
    difference = f"{output} - {target_name}"
    if loss == "squared_error":
        missing = f"the factor 2 is missing: the squared error sum ({difference})^2 has dL/d{output} = 2 ({difference})"
        extra = "a factor 2 too many"
    elif loss == "half_squared_error":
        missing = "a factor 1/2 too many"
        extra = (f"an extra factor 2: the half squared error 1/2 sum ({difference})^2 has "
                 f"dL/d{output} = {difference}, with no 2")
    else:
        missing, extra = "off by a factor 1/2", "off by a factor 2"
    found = [Scale(-1.0, "sign", sign), Scale(0.5, "factor", missing), Scale(2.0, "factor", extra),
             Scale(-0.5, "sign+factor", f"{sign}; and {missing}"), Scale(-2.0, "sign+factor", f"{sign}; and {extra}")]
    if reduction == "mean" and n_samples > 1:
        found += [Scale(float(n_samples), "factor", "the factor 1/N of the mean is missing"),
                  Scale(1 / n_samples, "factor", "a factor 1/N too many")]
    return found


def dependence(target: str, leaves: list[str], answer_moves: Callable[[str], bool],
               target_moves: Callable[[str], bool]) -> list[str]:
    """Which leaves change the answer but not the target, and the other way round."""
    sentences = []
    for leaf in leaves:
        answer, truth = answer_moves(leaf), target_moves(leaf)
        if truth and not answer:
            sentences.append(f"your answer does not depend on {leaf}, but {target} does")
        elif answer and not truth:
            sentences.append(f"your answer depends on {leaf}, but {target} does not")
    return sentences
