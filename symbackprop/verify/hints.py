"""Progressive hints for a wrong answer, built from the derivation, that do not give the answer away.

Level 1 says which factor or term is wrong (the mistake a mutation of the true formula names, and
in which formula), level 2 writes the next step of the chain rule for the target (its chain form
with the deltas named, and the forward equations of each partial), level 3 is the full solution
(the target's matrix form and that of every delta it goes through). Asking for level 1 or 2
withholds every sentence that states the true formula or a true value, and the expected formula
itself: a sentence with an equation (" = ") or with one of the target's values on the spec's data
in it is replaced by the level-1 hints.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

import numpy as np
from sympy.matrices.expressions import MatrixSymbol

from symbackprop.api import Target, UnknownTarget
from symbackprop.forms.chain import LOSS, Grouped, Partial
from symbackprop.printing import to_text
from symbackprop.verify.result import Credit, Hint, VerifyResult

if TYPE_CHECKING:
    from symbackprop.verify.verifier import Verifier

#: The highest level: the full solution.
LEVELS = 3
#: A sentence with this in it states a formula, so it gives the answer away below level 3.
_EQUATION = " = "
#: A number as feedback prints one (-80, 0.677801, 1.2e-05, 3.).
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")
#: Level-1 hints for the mistakes found by a ratio rather than by a mutation.
_SCALE_HINTS = {
    "sign": "the sign is flipped somewhere: check which way round the loss's derivative subtracts the output "
            "and the target",
    "factor": "a constant factor is off: differentiate the loss again (its 1/2, the square's 2, a mean's 1/N)",
    "number_only": "a number is not the formula: write the target in symbols, through the deltas",
}


def with_hints(verifier: Verifier, result: VerifyResult, level: int) -> VerifyResult:
    """`result` with hints up to `level` (0: unchanged). Below level 3, nothing in it states the true
    formula: revealing sentences become level-1 hints and `expected` is left empty."""
    if level <= 0 or result.verdict != "different":
        return result
    name = result.name or result.target  # the engine's name (result.target is in the spec's notation)
    try:
        case = verifier.case(name)
    except UnknownTarget:
        return result
    target = case.target
    first = [_credit_hint(verifier, name, credit) for credit in result.partial_credit]
    values = _true_values(verifier, name)
    safe = [sentence for sentence in result.feedback if not _reveals(sentence, values)]
    level_one = first[0] if first else "; ".join(safe) if safe else \
        f"your answer is not {target.lhs_text()} and matches no single common mistake: compare it with the chain " \
        f"rule factor by factor"
    hints = [Hint(1, level_one), Hint(2, chain_step(verifier, target)), Hint(3, solution(verifier, target))]
    hints = hints[:min(level, LEVELS)]
    if level >= LEVELS:
        return dataclasses.replace(result, hints=tuple(hints))
    feedback = safe if len(safe) == len(result.feedback) else [*dict.fromkeys([level_one, *safe])]
    credits = tuple(Credit(credit.mistake, credit.credit, text) for credit, text in zip(result.partial_credit, first,
                                                                                      strict=True))
    return dataclasses.replace(result, expected="", feedback=tuple(feedback), partial_credit=credits,
                               hints=tuple(hints))


def _true_values(verifier: Verifier, target: str) -> set[str]:
    """The target's values on the spec's data as feedback prints them (each entry to 6 digits, and the
    matrix as NumPy prints it): a sentence with one of them in it gives the answer away."""
    data = verifier.points.data
    if data is None:
        return set()
    value = np.asarray(verifier.case(target).value_at(data), dtype=np.float64)
    shown = {f"{float(v):.6g}" for v in value.ravel()}
    shown |= set(_NUMBER.findall(np.array2string(value, precision=6)))
    return shown


def _reveals(sentence: str, values: set[str]) -> bool:
    """A sentence that states the true formula (an equation) or a true value on the data."""
    return _EQUATION in sentence or any(number in values for number in _NUMBER.findall(sentence))


def _credit_hint(verifier: Verifier, target: str, credit: Credit) -> str:
    """Which factor or term a partial credit's mistakes are about, without the true formula."""
    sentences = credit.feedback.split(" | ")
    mutations = verifier.case(target).explainer.mutations
    parts = []
    for kind in credit.mistake.split("+"):
        if kind in _SCALE_HINTS:
            parts.append(_SCALE_HINTS[kind])
            continue
        found = next((m for m in mutations if m.kind == kind and m.sentence in sentences), None)
        if found is not None:
            parts.append(f"in {found.shown_name}: {found.lead}")
        elif kind == "transpose_result":
            parts.append(f"the result is transposed: {verifier.case(target).shown} has the size of what it "
                         f"differentiates by")
        else:
            parts.append(kind.replace("_", " "))
    return "; and ".join(parts)


def chain_step(verifier: Verifier, target: Target) -> str:
    """The target's chain form one step back, each delta named, and the forward equation of each
    partial, in the spec's notation: `dL/dW_1 = delta_1 · ds_1/dW_1, where delta_1 = dL/ds_1;
    s_1 = W_1 x + b_1 1_N^T`."""
    names = target.names
    step = target.chain.replace(lambda e: isinstance(e, Grouped), lambda e: MatrixSymbol(e.name, 1, 1))
    forward = dict(verifier.derivation.forward())
    where: list[str] = []
    for node in sorted(step.atoms(MatrixSymbol), key=str):
        name = str(node)
        if name in verifier.vocab.delta_of:
            where.append(f"{names.text(name)} = {names.gradient_text(verifier.vocab.delta_of[name])}")
    seen: set[str] = set()
    for partial in _partials(step):
        name = "L" if partial.numerator == LOSS else getattr(partial.numerator, "name", str(partial.numerator))
        if name in forward and name not in seen:
            seen.add(name)
            lhs = names.loss_text() if name == "L" else names.text(name)
            where.append(f"{lhs} = {to_text(forward[name], names)}")
    line = f"by the chain rule, {target.lhs_text()} = {to_text(step, names)}"
    return line + (f", where {'; '.join(where)}" if where else "")


def _partials(expr: object) -> list[Partial]:
    found: list[Partial] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Partial):
            found.append(node)
        else:
            stack.extend(reversed(getattr(node, "args", ())))
    return found


def solution(verifier: Verifier, target: Target) -> str:
    """The target's matrix form, then that of every delta it is written through, from the target back
    to the loss."""
    lines = [target.text("matrix")]
    pending, seen = [target.matrix], {target.name}
    while pending:
        for symbol in sorted(pending.pop(0).atoms(MatrixSymbol), key=lambda s: s.name):
            if symbol.name in verifier.vocab.delta_of and symbol.name not in seen:
                seen.add(symbol.name)
                delta = verifier.derivation.target(symbol.name)
                lines.append(delta.text("matrix"))
                pending.append(delta.matrix)
    return "; ".join(lines)
