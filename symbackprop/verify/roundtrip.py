"""What is printed is what was computed: every formula the tool prints for a network, read back by
the answer parser and compared with the truth it was printed from.

Each target's line (`lhs = rhs`, as `derive` prints it, in text and in LaTeX) goes through the
same path as a student's answer: parsed, its names resolved in the spec's notation, its value
compared at the test points with the target's (the value every form of it shares), and the
chain form compared path by path. Each forward equation's right side (and the loss) is read the
same way and compared at the test points with the expression it was printed from. A printer that
drops a bracket or misspells a name fails here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sympy import Expr

from symbackprop.forms import FORMS, FormTooLarge
from symbackprop.verify.chain import ChainProblem
from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.limits import Deadline, OutOfTime
from symbackprop.verify.parser import parse
from symbackprop.verify.points import close
from symbackprop.verify.resolve import Resolver
from symbackprop.verify.values import Mat, Scalar, ShapeProblem

if TYPE_CHECKING:
    from symbackprop.api import Network, Target
    from symbackprop.verify.verifier import Verifier

#: The printed notations a formula is re-read in.
FORMATS: tuple[str, ...] = ("text", "latex")


@dataclass(frozen=True)
class Misread:
    """A printed formula that did not read back as what it was printed from."""

    target: str
    form: str
    format: str
    printed: str
    verdict: str
    feedback: tuple[str, ...]

    def __str__(self) -> str:
        why = "; ".join(self.feedback) or self.verdict
        return f"{self.target} ({self.form} form, {self.format}): {self.verdict}: {why}\n  printed: {self.printed}"


@dataclass(frozen=True)
class RoundTrip:
    """How many printed formulas were re-read, and those that did not come back the same."""

    checked: int
    misread: tuple[Misread, ...]

    @property
    def agreed(self) -> int:
        return self.checked - len(self.misread)

    @property
    def ok(self) -> bool:
        return not self.misread

    def summary(self) -> str:
        return f"every printed formula re-read and compared: {self.agreed}/{self.checked}"


def reread(
    net: Network,
    forms: Sequence[str] = FORMS,
    formats: Sequence[str] = FORMATS,
    transpose: str = r"\top",
    forward: bool = True,
    targets: Sequence[Target | tuple[Target, Sequence[str]]] | None = None,
) -> RoundTrip:
    """Print the forward equations (with `forward`) and every target of `net` (or those of `targets`, each
    a Target or a (Target, its own forms) pair) in each of `forms`, in each of `formats` (text, latex); read
    each line back and collect those that do not come back the same."""
    verifier = net._verifier
    der = net.derive()
    checked, misread = 0, []
    if forward:
        for fmt in formats:
            lines = der.forward_text() if fmt == "text" else der.forward_latex(transpose)
            for (name, expr), line in zip(der.forward(), lines, strict=True):
                checked += 1
                problem = _reread_forward(verifier, expr, line.split(" = ", 1)[1])
                if problem is not None:
                    misread.append(Misread("L" if name == "L" else name, "forward", fmt, line, *problem))
    for item in der.targets if targets is None else targets:
        target, shown = item if isinstance(item, tuple) else (item, forms)
        for form in shown:
            if form == "chain" and target.bare_chain:  # its left side alone, no formula: nothing to read back
                continue
            for fmt in formats:
                try:
                    printed = target.text(form) if fmt == "text" else target.latex(form, transpose)
                except FormTooLarge:  # not printed (a document says so in its place): nothing to read back
                    continue
                result = verifier.verify(target.name, printed)
                checked += 1
                if not result.equivalent:
                    misread.append(Misread(target.name, form, fmt, printed, result.verdict, tuple(result.feedback)))
    return RoundTrip(checked, tuple(misread))


def _agree(got: np.ndarray, want: np.ndarray) -> bool:
    """The same values: close where the definition is finite, and the same nan or infinity where it is not
    (a log of a softmax that underflows at a test point is -inf in both)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    finite = np.isfinite(want)
    if not np.array_equal(finite, np.isfinite(got)):
        return False
    if not np.array_equal(got[~finite], want[~finite], equal_nan=True):
        return False
    return close(got[finite], want[finite])


def _reread_forward(verifier: Verifier, expr: Expr, printed: str) -> tuple[str, tuple[str, ...]] | None:
    """(verdict, why) if the printed right side of a forward equation is not the expression it was printed
    from, at the first test points; None if it is."""
    deadline = Deadline(verifier.time_limit)
    try:
        tree = parse(printed, deadline, verifier.vocab.spellings)
        resolver = Resolver(verifier.vocab, printed, deadline)
        value = resolver.as_value(resolver.value(tree.sides[-1]), tree)
        if not isinstance(value, (Mat, Scalar)):
            return "unreadable", ("not a formula",)
        for point in verifier.points.values[:2]:
            got = verifier.points.evaluate(value.expr, point)
            want = verifier.points.evaluate(verifier.vocab.sized(expr), point)
            if not _agree(got, want):
                return "different", (f"it is not its definition at the test points: {got} where {want}",)
    except AnswerSyntaxError as error:
        return "unreadable", (str(error),)
    except (ShapeProblem, ChainProblem) as problem:
        return "different", (str(problem),)
    except OutOfTime as error:
        return "timeout", (str(error),)
    return None
