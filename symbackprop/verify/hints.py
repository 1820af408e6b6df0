"""Progressive hints for a wrong answer, built from the derivation, that do not give the answer away.

Level 1 says which factor or term is wrong (the mistake a mutation of the true formula names, and
in which formula), level 2 writes the next step of the chain rule for the target (its chain form
with the deltas named, and the forward equations of each partial), level 3 is the full solution
(the target's matrix form and that of every delta it goes through). A local partial has no
mutations: its level 1 is what is wrong (size, transpose, values) and how it is laid out, level 2
its chain of local partials with their forward equations, level 3 its formula. Asking for level 1 or 2
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
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.api import PartialTarget, Target, UnknownTarget
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
        found = verifier.derivation.target(name)
        if isinstance(found, PartialTarget):
            return _partial_hints(verifier, result, found, level)
        case = verifier.case(name)
    except UnknownTarget:
        return result
    target = case.target
    first = [_credit_hint(verifier, name, credit) for credit in result.partial_credit]
    values = _true_values(verifier, name)
    safe = [sentence for sentence in result.feedback if not _reveals(sentence, values)]
    level_one = (
        first[0]
        if first
        else "; ".join(safe)
        if safe
        else f"your answer is not {target.lhs_text()} and matches no single common mistake: compare it with the chain "
        f"rule factor by factor"
    )
    hints = [Hint(1, level_one), Hint(2, chain_step(verifier, target)), Hint(3, solution(verifier, target))]
    hints = hints[: min(level, LEVELS)]
    if level >= LEVELS:
        return dataclasses.replace(result, hints=tuple(hints))
    feedback = safe if len(safe) == len(result.feedback) else [*dict.fromkeys([level_one, *safe])]
    credits = tuple(
        Credit(credit.mistake, credit.credit, text) for credit, text in zip(result.partial_credit, first, strict=True)
    )
    return dataclasses.replace(
        result, expected="", feedback=tuple(feedback), partial_credit=credits, hints=tuple(hints)
    )


def _partial_hints(verifier: Verifier, result: VerifyResult, target: PartialTarget, level: int) -> VerifyResult:
    """Hints for a local partial, which has no mutations to name: level 1 what is wrong with the answer (its
    size, a transpose, that its values differ) and what the partial is laid out as, level 2 the chain of local
    partials with the forward equation of each (for neighbours, the one equation to differentiate), level 3
    the solution. Below level 3 no sentence states the partial's formula or its values on the data."""
    values = (
        _shown_values(np.asarray(verifier.net.value_at(target, dict(verifier.points.data)), dtype=np.float64))
        if verifier.points.data is not None
        else set()
    )
    safe = [sentence for sentence in result.feedback if not _reveals(sentence, values)]
    if not safe:  # every sentence gave the formula or a value away
        safe = [f"your answer is not {target.lhs_text('chain')}"]
    level_one = "; ".join([*safe, _layout(target)])
    hints = [
        Hint(1, level_one),
        Hint(2, partial_step(verifier, target)),
        Hint(3, target.text("matrix" if target.per_sample else "index")),
    ][: min(level, LEVELS)]
    if level >= LEVELS:
        return dataclasses.replace(result, hints=tuple(hints))
    return dataclasses.replace(result, expected="", feedback=(*safe, _layout(target)), hints=tuple(hints))


def _layout(target: PartialTarget) -> str:
    """What the partial is, without its formula: one Jacobian per sample, or one number per free index."""
    name, names = target.lhs_text("chain"), target.names
    top, bottom = names.text(target.top.symbol_name), names.text(target.bottom.symbol_name)
    if target.per_sample:
        return f"{name} is a matrix for each sample: one row per unit of {top}, one column per unit of {bottom}"
    free = ", ".join(str(index) for index in target.free_indices())
    return f"{name} is one number per entry ({free})" if free else f"{name} is one number"


def partial_step(verifier: Verifier, target: PartialTarget) -> str:
    """The local partial's chain of partials between the named values on the way, with the forward equation
    of each (`by the chain rule, dz_2/dz_1 = dz_2/ds_2 · ds_2/dz_1, where z_2 = f_2(s_2); s_2 = W_2 z_1 + ...`);
    between neighbours, the one forward equation to differentiate. In the spec's notation."""
    names = target.names
    forward = dict(verifier.derivation.forward())
    where: list[str] = []
    for partial in _partials(target.chain):
        numerator = partial.numerator.parent if isinstance(partial.numerator, MatrixElement) else partial.numerator
        name = getattr(numerator, "name", None)
        if name is not None and name in forward and f"{names.text(name)} = " not in " ".join(where):
            where.append(f"{names.text(name)} = {to_text(forward[name], names)}")
    bottom = names.text(target.bottom.symbol_name)
    if target.bare_chain:
        equation = where[0] if where else names.text(target.top.symbol_name)
        return f"{target.lhs_text('chain')} is one step: differentiate {equation} by {bottom}, entry by entry"
    return f"by the chain rule, {target.text('chain')}" + (f", where {'; '.join(where)}" if where else "")


def _shown_values(value: np.ndarray) -> set[str]:
    """A value as feedback prints it: each entry to 6 digits, and the matrix as NumPy prints it."""
    shown = {f"{float(v):.6g}" for v in value.ravel()}
    shown |= set(_NUMBER.findall(np.array2string(value, precision=6)))
    return shown


def _true_values(verifier: Verifier, target: str) -> set[str]:
    """The target's values on the spec's data as feedback prints them (each entry to 6 digits, and the
    matrix as NumPy prints it): a sentence with one of them in it gives the answer away."""
    data = verifier.points.data
    if data is None:
        return set()
    return _shown_values(np.asarray(verifier.case(target).value_at(data), dtype=np.float64))


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
            parts.append(
                f"the result is transposed: {verifier.case(target).shown} has the size of what it differentiates by"
            )
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
