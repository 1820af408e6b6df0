"""Grading an answer for one network: parse, resolve, decide, explain.

The decision, for each side of an answer: the sizes first; then the values at the chosen
points (points.py), which find a wrong answer quickly and at once give the feedback; then,
for an answer that agrees at every point, a proof (symbolic.py): the answer is "equivalent"
by method "symbolic" when SymPy proves it equal, and by method "numeric" only when the proof
is out of reach and further points agree as well.

A Verifier is built once per network and keeps, per target, the expected values at the
points, the mutations and their values (built on first need) and the proof machinery's
work, so that a batch pays for them once per process.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sympy import Expr, Integer, Symbol
from sympy.matrices import ImmutableMatrix
from sympy.matrices.expressions import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement
from threadpoolctl import ThreadpoolController

from symbackprop.api import EntryTarget, PartialTarget, Target, UnknownTarget
from symbackprop.graph import BATCH
from symbackprop.matexpr import Elementwise, Indicator
from symbackprop.printing import escape_latex, to_latex, to_text
from symbackprop.spec.errors import QUOTE
from symbackprop.verify import chain as chains
from symbackprop.verify import partial as partials
from symbackprop.verify import sizes
from symbackprop.verify.chain import Chain, ChainProblem
from symbackprop.verify.entries import EntryEvaluator
from symbackprop.verify.feedback import Explainer, dependence, scales, sign_sentence
from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.limits import TIME_LIMIT, Deadline, OutOfTime
from symbackprop.verify.mutations import CREDIT, Mutation, Mutator
from symbackprop.verify.names import Vocabulary, activation_lambda
from symbackprop.verify.parser import Name, Node, Num, Script, SumOver, parse
from symbackprop.verify.points import (
    CERTAIN,
    KINKS,
    NUMBER_RTOL,
    Points,
    close,
    difference_at,
    relative_difference,
    sample_count,
    with_stand_ins,
)
from symbackprop.verify.resolve import Resolver
from symbackprop.verify.result import Credit, VerifyResult
from symbackprop.verify.symbolic import Decider, Definitions, Difference, Proof
from symbackprop.verify.values import (
    Diagonal,
    Explicit,
    Jacobian,
    Mat,
    PartialRef,
    Scalar,
    ShapeProblem,
    Value,
    shape_text,
)

if TYPE_CHECKING:
    from symbackprop.api import Network
    from symbackprop.spec.model import Question

Entry = tuple[Expr, Expr]  # the (row, column) an answer in index notation gives: an index or a number
Array = np.ndarray
Pick = Callable[[Array], Array]

#: CPU seconds at most spent on a proof (a share of what the answer has left).
PROOF_SECONDS = 1.0
#: A disagreement at the points smaller than this (relative) may be rounding: a proof is sought first.
NEAR_MISS = 1e-6
#: Layers of at most this many units are searched for a relu' dropped for some units only.
PER_UNIT = 32
#: Rows (entries at points) the per-unit search solves on; its solution is checked on all of them.
ROWS = 4000
#: The credit of a right number given where the formula is asked for (the value shows the computation,
#: not the derivation).
NUMBER_CREDIT = 0.25


def number_sentence(target: str) -> str:
    """What a right value given for a formula target is told."""
    return (
        f"this number is the value of {target} on the spec's data, but the question asks for its formula: "
        f"write {target} in symbols (a number alone does not show the derivation)"
    )


@dataclass(frozen=True)
class Judgement:
    """The verdict on one side of an answer and how it was reached."""

    equivalent: bool
    sentences: tuple[str, ...] = ()
    credits: tuple[Credit, ...] = ()
    score: float = 0.0
    method: str = "symbolic"  # "symbolic": decided exactly (a proof, sizes, paths); "numeric": by the points
    points: int = 0
    proof: str | None = None
    undecided: bool = False  # agreeing only where the target is zero everywhere, and not proved: no verdict


def _wrong(
    sentences: list[str] | tuple[str, ...],
    credits: list[Credit] | tuple[Credit, ...] = (),
    score: float = 0.0,
    method: str = "symbolic",
    points: int = 0,
) -> Judgement:
    return Judgement(False, tuple(sentences), tuple(credits), score, method, points)


class Case:
    """One target: its formula, its expected values at the points, its mutations and their values (built
    on first need)."""

    def __init__(self, verifier: Verifier, target: Target) -> None:
        self.verifier = verifier
        self.target = target
        self.key = target.symbol if target.kind == "delta" else f"dL/d{target.key}"
        owner = verifier.vocab.bp.symbols.get(target.symbol if target.kind == "delta" else target.key)
        shape = owner.shape if owner is not None else target.matrix.shape
        self.symbol = verifier.vocab.sized(MatrixSymbol(self.key, *shape))
        self.truth = verifier.vocab.sized(target.matrix)
        self.expected = [self.value_at(point) for point in verifier.points.values]
        self._extra: list[Array] | None = None
        self.right = target.text("matrix")
        self.shown = target.lhs_text()  # the target's name as the spec's notation writes it, for sentences
        self._values: dict[tuple[int, int], Array] = {}
        self._moves: dict[str, bool] = {}
        self._mutations: list[Mutation] = []
        self._built = 0
        self._explainer: Explainer | None = None

    def value_at(self, point: dict[str, Array]) -> Array:
        if self.key in point:
            return point[self.key]
        return self.verifier.points.evaluate(self.truth, point)

    @property
    def extra(self) -> list[Array]:
        """The expected values at the further points."""
        if self._extra is None:
            self._extra = [self.value_at(point) for point in self.verifier.points.extra]
        return self._extra

    @cached_property
    def latex(self) -> str:
        return to_latex(self.target.matrix, self.verifier.names)

    @cached_property
    def candidates(self) -> list[Mutation]:
        v = self.verifier
        simplified = {key: v.derivation.delta(key).simplified for key in v.vocab.bp.deltas}
        simplified["target"] = self.target.simplified
        return v.mutator.mutations(self.target, simplified)

    @property
    def explainer(self) -> Explainer:
        """The mutations with their values at the first point, computed once per process; a build that runs
        out of time resumes where it stopped at the next call."""
        v = self.verifier
        candidates = self.candidates
        while self._built < len(candidates):  # all kept: two that agree at one point may differ at the next
            v.deadline.check()
            mutation = candidates[self._built]
            value = self.evaluate(mutation, 0)
            if value is not None:
                self._values[(len(self._mutations), 0)] = value
                self._mutations.append(mutation)
            self._built += 1
        if self._explainer is None:
            bp = v.vocab.bp
            output = next(iter(bp.deltas), None)
            loss = bp.graph.spec.loss
            forms = [bp.deltas[output], v.derivation.delta(output).simplified] if output is not None else []
            spelling = v.vocab.names
            sign = sign_sentence(forms, {v.mutator.output, v.mutator.target_name}, output, self.right, spelling)
            ratios = scales(
                loss.kind,
                loss.reduction,
                spelling.text(v.mutator.output),
                spelling.text(v.mutator.target_name),
                v.vocab.n_samples,
                sign,
                self.right,
                spelling.loss_text(),
            )
            self._explainer = Explainer(
                self.shown,
                self.right,
                ratios,
                self._mutations,
                self.value,
                self.expected,
                frozenset({v.mutator.output, v.mutator.target_name}),
            )
        return self._explainer

    def evaluate(self, mutation: Mutation, point: int) -> Array | None:
        """A mutation's value at a point: its own formula there, then every delta after it (from the loss
        back) recomputed from the changed one, then the target; no formula is substituted into another."""
        v = self.verifier
        values = v.point(point)
        if mutation.key == "target":
            value = v.points.evaluate(v.sized(mutation.local), values)
        else:
            value = self.propagated(values, mutation.key, v.points.evaluate(v.sized(mutation.local), values))
        return value if value.shape == self.expected[0].shape and np.all(np.isfinite(value)) else None

    def propagated(self, point: dict[str, Array], key: str, delta: Array) -> Array:
        """The target's value at a point where delta_<key> has the value `delta`."""
        v = self.verifier
        values = dict(point)
        values[f"delta_{key}"] = delta
        keys = list(v.vocab.bp.deltas)
        for later in keys[keys.index(key) + 1 :]:
            if later in self.through:
                values[f"delta_{later}"] = v.points.evaluate(v.sized(v.vocab.bp.deltas[later]), values)
        return values[self.key] if self.target.kind == "delta" else v.points.evaluate(self.truth, values)

    def dropped_units(self, answer: list[Array], pick: Pick) -> tuple[Mutation, list[int]] | None:
        """For an answer that drops a relu' for some units only (or is one entry of such a thing): the
        mutation dropping it everywhere and the units (from 1) where the answer drops it."""
        v = self.verifier
        count = len(answer)
        wrong = np.concatenate([(a - pick(self.expected_at(k))).ravel() for k, a in enumerate(answer)])
        for mutation in self._mutations:
            if mutation.layer is None or v.units(mutation) > PER_UNIT:
                continue
            columns = []
            for k in range(count):
                point = v.point(k)
                name = f"delta_{mutation.key}"
                true = point[name]
                dropped = v.points.evaluate(v.sized(mutation.local), point)
                axis = 1 - v.vocab.bp.graph.named(v.vocab.delta_of[name]).shape.index(BATCH)
                per_unit = []
                for unit in range(true.shape[axis]):
                    mask = np.zeros_like(true)
                    np.moveaxis(mask, axis, 0)[unit] = 1
                    per_unit.append(
                        (
                            pick(self.propagated(point, mutation.key, true + (dropped - true) * mask))
                            - pick(self.expected_at(k))
                        ).ravel()
                    )
                columns.append(np.stack(per_unit, axis=1))
            basis = np.concatenate(columns, axis=0)
            if not np.all(np.isfinite(basis)):
                continue
            rows = np.flatnonzero(np.any(basis != 0, axis=1) | (wrong != 0))[:ROWS]  # enough to solve; checked on all
            weights = np.linalg.lstsq(basis[rows], wrong[rows], rcond=None)[0]
            units = [u for u, w in enumerate(weights) if abs(w - 1) < 1e-6]
            if (
                units
                and all(abs(w) < 1e-6 or abs(w - 1) < 1e-6 for w in weights)
                and close(basis @ np.round(weights), wrong)
            ):
                return mutation, [u + 1 for u in units]
        return None

    def expected_at(self, index: int) -> Array:
        main = self.expected
        return main[index] if index < len(main) else self.extra[index - len(main)]

    @cached_property
    def through(self) -> set[str]:
        """The keys of the deltas the target is written through, directly or not."""
        return {key for key, _, _ in self.verifier.mutator.definitions(self.target)}

    def value(self, index: int, point: int) -> Array:
        if (index, point) not in self._values:
            self.verifier.deadline.check()
            value = self.evaluate(self._mutations[index], point)
            self._values[(index, point)] = value if value is not None else np.full_like(self.expected[0], np.nan)
        return self._values[(index, point)]

    def moves(self, leaf: str) -> bool:
        """Whether the target's value changes with `leaf`."""
        if leaf not in self._moves:
            self._moves[leaf] = not close(self.value_at(self.verifier.perturbed(leaf)), self.expected[0])
        return self._moves[leaf]


class Verifier:
    """Grades answers for one network (see verify())."""

    def __init__(self, net: Network, time_limit: float = TIME_LIMIT) -> None:
        self.net = net
        self.time_limit = time_limit
        self.derivation = net.derive()
        bp = self.derivation.backprop
        n_samples = sample_count(net)
        self.vocab = Vocabulary(bp, n_samples)
        self.vocab.adjoint = self.adjoint
        self.points = Points(net, n_samples)
        self.mutator = Mutator(self.vocab, bp)
        self.decider = Decider(Definitions(bp, self.vocab.sized), n_samples)
        self.names = self.derivation.names  # the spec's notation, for `expected` and the answer's LaTeX
        self.cases: dict[str, Case] = {}
        self._perturbed: dict[str, dict[str, Array]] = {}
        self._sized: dict[Expr, Expr] = {}
        self.deadline = Deadline(time_limit)

    def adjoint(self, name: str, vocab: Vocabulary | None = None) -> Expr | None:
        """dL/d<name> for a value (an activation, the input) as its matrix form, or None."""
        found = self.derivation.by_value(name)
        return None if found is None or found.kind != "adjoint" else (vocab or self.vocab).sized(found.matrix)

    @cached_property
    def sample_vocab(self) -> Vocabulary:
        """The names with N = 1, for a per-sample Jacobian: in dp/ds = diag(p) - p p^T, p is one sample's column."""
        if self.vocab.n_samples == 1:
            return self.vocab
        vocab = Vocabulary(self.derivation.backprop, 1)
        vocab.adjoint = lambda name: self.adjoint(name, vocab)
        return vocab

    def case(self, target: str) -> Case:
        """The case of a target in any spelling (of the whole target an entry belongs to); raises UnknownTarget,
        also for a local partial."""
        found = self.derivation.target(target)
        if isinstance(found, PartialTarget):  # graded by its values alone (verify/partial.py)
            raise UnknownTarget(f"{target}: a local partial has no mutations to explain by")
        if isinstance(found, EntryTarget):
            found = found.base
        if found.name not in self.cases:
            self.cases[found.name] = Case(self, found)
        return self.cases[found.name]

    def sized(self, expr: Expr) -> Expr:
        """A formula of the derivation with N = 1 where the network is checked on one sample (kept)."""
        found = self._sized.get(expr)
        if found is None:
            found = self._sized[expr] = self.vocab.sized(expr)
        return found

    def point(self, index: int) -> dict[str, Array]:
        """The points in order, then the further ones."""
        main = self.points.values
        return main[index] if index < len(main) else self.points.extra[index - len(main)]

    def perturbed(self, leaf: str) -> dict[str, Array]:
        """The first point with `leaf` redrawn (for the dependence sentences)."""
        self.deadline.check()
        if leaf not in self._perturbed:
            self._perturbed[leaf] = self.points.perturbed(leaf, seed=7919 + len(self._perturbed))
        return self._perturbed[leaf]

    # --- the whole verdict -------------------------------------------------------------

    def verify(self, target: str | None, answer: str) -> VerifyResult:
        """The verdict on `answer` for `target` (None: the target the answer's left side names), within
        the time limit in CPU seconds. Raises UnknownTarget for a target the network does not have."""
        start = time.monotonic()
        self.deadline = Deadline(self.time_limit)
        question = self.derivation.question(target) if isinstance(target, str) else None
        choices = None  # a question asking several targets: the left side says which one this answers
        if question is not None and len(question.ask) > 1:
            choices = [self.derivation.target(text) for text in question.ask]
            target = None
        asked = self.derivation.target(target) if target is not None else None
        if isinstance(asked, PartialTarget) or (choices and all(isinstance(c, PartialTarget) for c in choices)):
            partial = asked if isinstance(asked, PartialTarget) else None  # else no target: the choices
            return self._timed(start, lambda shown: self._verify_partial(partial, answer, shown, choices))
        case = self.case(target) if target is not None else None
        entry = asked.entry if isinstance(asked, EntryTarget) else None  # one entry of the case's target
        shown = r"\text{" + escape_latex(answer if isinstance(answer, str) else "") + "}"
        grading = _Grading(case, asked, entry, target, question, choices)
        try:
            with self.deadline.enforced(), one_blas_thread():
                outcome = self._verify(grading, answer, shown)
        except OutOfTime as error:
            outcome = dataclasses.replace(
                self._blank(grading, shown), verdict="timeout", feedback=(bounded(str(error), (answer,)),)
            )
        return dataclasses.replace(outcome, seconds=time.monotonic() - start)

    def _timed(self, start: float, grade: Callable[[str], VerifyResult]) -> VerifyResult:
        shown = ""
        try:
            with self.deadline.enforced(), one_blas_thread():
                outcome = grade(shown)
        except OutOfTime as error:
            outcome = VerifyResult("", "timeout", "", shown, feedback=(str(error),))
        return dataclasses.replace(outcome, seconds=time.monotonic() - start)

    def _verify_partial(
        self, asked: PartialTarget | None, answer: str, shown: str, choices: list[Target] | None = None
    ) -> VerifyResult:
        """An answer for a local partial (verify/partial.py), its left side naming it or one of `choices`."""
        shown = r"\text{" + escape_latex(answer if isinstance(answer, str) else "") + "}"

        def result(
            target: PartialTarget | None,
            verdict: str,
            sentences: list[str],
            latex: str = shown,
            points: int = 0,
            position: int | None = None,
        ) -> VerifyResult:
            # target: as the course writes it (dh^2/dh^1); name: the engine's (dz_2/dz_1), as for other targets
            shown_name = target.lhs_text("chain") if target is not None else ""
            expected = (
                to_latex(target.form("matrix" if target.per_sample else "index"), self.names, matrices=target.matrices)
                if target is not None
                else ""
            )
            return VerifyResult(
                shown_name,
                verdict,
                expected,
                latex,
                tuple(sentences),
                score=1.0 if verdict == "equivalent" else 0.0,
                position=position,
                method="numeric" if verdict in ("equivalent", "different") and points else None,
                points=points,
                name=target.name if target is not None else None,
            )

        try:
            tree = parse(answer, self.deadline, self.vocab.spellings)
            resolver = Resolver(self.vocab, answer, self.deadline)
            jacobians = Resolver(self.sample_vocab, answer, self.deadline, jacobian=True)
            sides = list(tree.sides)
            if len(sides) > 1:
                first = resolver.value(sides[0])
                if partials.is_partial_ref(first):
                    try:
                        named = self.derivation.target(first.text)
                    except UnknownTarget as error:
                        return result(asked, "different", [f"the left side: {error}"])
                    wanted = (
                        [asked]
                        if asked is not None
                        else [c for c in choices or [named] if isinstance(c, PartialTarget)]
                    )
                    match = next(
                        (
                            c
                            for c in wanted
                            if isinstance(named, PartialTarget)
                            and (c.top, c.bottom) == (named.top, named.bottom)
                            and c.top_entry in (None, named.top_entry)
                            and c.bottom_entry in (None, named.bottom_entry)
                        ),
                        None,
                    )
                    if match is None:
                        asks = " or ".join(c.name for c in wanted)
                        return result(asked, "different", [f"the left side is {named.name}, but the target is {asks}"])
                    asked = named if isinstance(named, PartialTarget) else match
                    sides = sides[1:]
            if asked is None:
                raise AnswerSyntaxError(
                    f"no target: give one, or write the left side ("
                    f"{choices[0].name if choices else 'dz_2/ds_2'} = ...)",
                    0,
                )
            read: list[str] = []
            points, chained = 0, False
            for node in sides:
                value, used = self._partial_side(asked, node, resolver, jacobians)
                read.append(self.latex(value, answer))
                if partials.restates(asked, value, self):  # a definition chain: another side must give the formula
                    continue
                if isinstance(value, Chain):  # the chain form: its partials, checked by their paths
                    problem = partials.chain_problem(asked, value, self)
                    if problem is not None:
                        return result(asked, "different", [problem], " = ".join(read))
                    chained = True
                    continue
                same, sentences, count = partials.judge(self, asked, value, used)
                points = max(points, count)
                if not same:
                    return result(asked, "different", [*used.notes, *sentences], " = ".join(read), points)
            if not points and not chained:
                return result(asked, "different", [f"give a formula for {asked.lhs_text('chain')}"], " = ".join(read))
            return result(asked, "equivalent", [], " = ".join(read), points)
        except AnswerSyntaxError as error:
            return result(asked, "unreadable", [str(error)], position=error.position)
        except (ShapeProblem, ChainProblem, ValueError) as problem:
            return result(asked, "different", [str(problem)])

    @staticmethod
    def _partial_side(
        asked: PartialTarget, node: Node, resolver: Resolver, jacobians: Resolver
    ) -> tuple[Value, Resolver]:
        """One side of an answer for a local partial, and the resolver that read it. For a per-sample Jacobian a
        matrix formula is read for one sample (diag(p) - p p^T, diag(f'(s_2)) W_2), entries and chains as they are."""
        try:
            value = resolver.value(node)
        except (AnswerSyntaxError, ShapeProblem):
            if not asked.per_sample:
                raise
        else:
            if not (asked.per_sample and isinstance(value, (Mat, Diagonal))):
                return value, resolver
        matrix = jacobians.as_value(jacobians.value(node), node)
        if not isinstance(matrix, Mat):
            return matrix, jacobians
        return Jacobian(matrix.expr, matrix.text), jacobians

    def _blank(self, grading: _Grading, shown: str) -> VerifyResult:
        case, asked = grading.case, grading.asked
        name = (
            asked.lhs_text()
            if asked is not None
            else grading.question.id
            if grading.question is not None
            else (grading.written or "")
        )
        expected = (
            ""
            if case is None
            else case.latex
            if grading.entry is None or asked is None
            else to_latex(asked.matrix, self.names)
        )  # asked is set with the case
        return VerifyResult(name, "different", expected, shown, name=asked.name if asked is not None else None)

    def _verify(self, grading: _Grading, answer: str, shown: str) -> VerifyResult:
        typed = (answer, " ".join(answer.split()), grading.written or "")

        def result(
            verdict: str,
            sentences: list[str] | tuple[str, ...],
            judged: Judgement | None = None,
            latex: str = shown,
            position: int | None = None,
        ) -> VerifyResult:
            base = self._blank(grading, latex)
            sentences = tuple(bounded(sentence, typed) for sentence in sentences)
            if judged is None:
                return dataclasses.replace(base, verdict=verdict, feedback=tuple(sentences), position=position)
            method = "numeric" if judged.method == "data" else judged.method
            return dataclasses.replace(
                base,
                verdict=verdict,
                feedback=tuple(sentences),
                partial_credit=judged.credits,
                score=judged.score,
                method=method,
                points=judged.points,
                proof=judged.proof,
            )

        try:
            tree = parse(answer, self.deadline, self.vocab.spellings)
            resolver = Resolver(self.vocab, answer, self.deadline)
            try:
                first = resolver.value(tree.sides[0]) if len(tree.sides) > 1 else None
            except ShapeProblem as problem:
                told = (
                    self.shape_feedback(grading.case, problem, answer, tree.sides[0]) if grading.case else str(problem)
                )
                return result("different", [told], _wrong([]))
            lhs = self.left_side([first], resolver) if first is not None else None
            if grading.case is None and lhs is None and first is not None and partials.is_partial_ref(first):
                return self._verify_partial(None, answer, shown, grading.choices)
            if grading.case is None:
                if lhs is None:
                    asks = (
                        f"question {grading.question.id} asks {', '.join(grading.question.ask)}: "
                        if grading.choices and grading.question is not None
                        else ""
                    )
                    raise AnswerSyntaxError(f"no target: {asks}give one, or write the left side (dL/dW_1 = ...)", 0)
                grading.case = self.case(lhs[0])
                grading.asked, grading.entry = grading.case.target, lhs[1]
                if grading.choices is not None:
                    chosen = self.chosen(grading.choices, grading.case, lhs[1])
                    if chosen is None:
                        assert grading.question is not None  # choices come from a question
                        left = self.derivation.target(lhs[0]).lhs_text()
                        return result(
                            "different",
                            [
                                f"the left side is {left}, but question {grading.question.id} "
                                f"asks {', '.join(t.lhs_text() for t in grading.choices)}"
                            ],
                            _wrong([]),
                        )
                    grading.asked = chosen
                    grading.entry = chosen.entry if isinstance(chosen, EntryTarget) else lhs[1]
            case, entry = grading.case, grading.entry
            assert grading.asked is not None  # set with the case
            if lhs is not None and (lhs[0] != case.target.name or not _same_entry(lhs[1], entry, case.symbol.shape)):
                left = self.derivation.target(lhs[0]).lhs_text()
                written = left if lhs[1] is None else f"{left} entry ({', '.join(_shown(i) for i in lhs[1])})"
                return result(
                    "different",
                    [f"the left side is {written}, but the target is {grading.asked.lhs_text()}"],
                    _wrong([]),
                )
            if lhs is not None and lhs[1] is not None:
                entry = lhs[1]
            nodes = tree.sides[1:] if lhs else tree.sides
            judged: list[Judgement] = []
            shown_sides: list[str] = []
            formula_right = False
            for node in nodes:
                try:
                    value = resolver.value(node) if node is not tree.sides[0] or first is None else first
                except ShapeProblem as problem:
                    return result(
                        "different",
                        [self.shape_feedback(case, problem, answer, node)],
                        _wrong([]),
                        latex=" = ".join([*shown_sides, shown]) if shown_sides else shown,
                    )
                shown_sides.append(self.latex(value, answer))
                if self.restates(case, value, resolver):  # a definition chain; some other side must give the formula
                    continue
                side = self.judge(case, value, resolver, entry)
                if (
                    not side.equivalent
                    and _has_number(node)
                    and self.points.data is not None
                    and (formula_right or not _has_name(node))
                ):
                    side = self.judge_on_data(case, value, entry, formula_right) or side
                elif (
                    not side.equivalent
                    and not side.undecided
                    and len(nodes) > 1
                    and _has_number(node)
                    and _has_name(node)
                ):
                    side = self.numbers_first(case, value, entry, side, resolver.text(node))
                if not side.equivalent and not side.undecided:
                    sentences = [*resolver.notes, *side.sentences]
                    if len(nodes) > 1:
                        sentences.append(
                            f"the side that is not right: side {nodes.index(node) + 1} of {len(nodes)} "
                            f"after the left side, {_cut(resolver.text(node))}"
                        )
                    if not any(_has_name(n) for n in nodes):
                        sentences.append(f"a number alone is not the formula: write {grading.asked.name} in symbols")
                    return result("different", sentences, side, " = ".join(shown_sides))
                formula_right = formula_right or (side.method != "data" and not side.undecided)
                judged.append(side)
            if not judged:
                return result(
                    "different",
                    [f"the answer is written through {case.shown} itself: give its formula"],
                    _wrong([]),
                    " = ".join(shown_sides),
                )
            undecided = next((side for side in judged if side.undecided), None)
            if undecided is not None:
                return result("undecided", undecided.sentences, undecided, " = ".join(shown_sides))
            if not any(_has_name(node) for node in nodes):  # numbers only: the value, not the formula
                sentence = number_sentence(grading.asked.name)
                return result(
                    "different",
                    [sentence],
                    _wrong([sentence], [Credit("number_only", NUMBER_CREDIT, sentence)], NUMBER_CREDIT, "numeric", 1),
                    " = ".join(shown_sides),
                )
            return result("equivalent", [], _combined(judged), " = ".join(shown_sides))
        except AnswerSyntaxError as error:
            return result("unreadable", [str(error)], position=error.position)
        except (ShapeProblem, ChainProblem) as problem:
            return result("different", [str(problem)], _wrong([]))

    def left_side(self, values: list[Value], resolver: Resolver) -> tuple[str, Entry | None] | None:
        """The target a left side names (dL/dW_1, delta_2, delta_2[n], dL/dW_{ji}) and its entry, if any."""
        first = values[0]
        if isinstance(first, PartialRef) and first.top == chains.LOSS:
            name = self.designated(first.bottom)
            if name is None:
                return None
            if first.entry is None:
                return name, None
            symbol = self.case(name).symbol
            element = resolver.element(symbol, list(first.entry), _Span(0, 0, first.text))
            return name, (element.expr.i, element.expr.j)
        if isinstance(first, Mat) and isinstance(first.expr, MatrixSymbol) and first.expr.name in self.vocab.delta_of:
            return first.expr.name, None
        if (
            isinstance(first, Scalar)
            and isinstance(first.expr, MatrixElement)
            and first.expr.parent.name in self.vocab.delta_of
        ):
            return first.expr.parent.name, (first.expr.i, first.expr.j)
        return None

    def chosen(self, choices: list[Target], case: Case, written: Entry | None) -> Target | None:
        """Which of a question's targets a left side names: the whole target for a left side naming the whole
        matrix, the entry it names for an entry; failing that, a whole target whose entry the left side names,
        or an entry asked alone (then graded as that entry)."""
        same = [
            (choice, choice.entry if isinstance(choice, EntryTarget) else None)
            for choice in choices
            if (choice.base if isinstance(choice, EntryTarget) else choice).name == case.target.name
        ]
        shape = case.symbol.shape
        exact = next(
            (
                choice
                for choice, entry in same
                if (entry is None) == (written is None) and (entry is None or _same_entry(written, entry, shape))
            ),
            None,
        )
        if exact is not None:
            return exact
        return next((choice for choice, entry in same if entry is None or _same_entry(written, entry, shape)), None)

    def designated(self, bottom: str) -> str | None:
        if bottom in self.vocab.parameters:
            return f"dL/d{bottom}"
        delta = next((d for d, s in self.vocab.delta_of.items() if s == bottom), None)
        if delta is not None:
            return delta
        found = self.derivation.by_value(bottom)  # dL/d<value>: an activation, the output, the input
        return found.name if found is not None else None

    def restates(self, case: Case, value: Value, resolver: Resolver) -> bool:
        """A side that only names the target again (delta_2 = dL/ds_2 = ...): a definition chain, right.
        (dL/dy_out names a formula, the loss's derivative, and is judged as one, unless it is the target
        itself: dL/dy_out = dL/dy_out gives no formula.)"""
        if isinstance(value, PartialRef) and value.entry is None and self._names_target(case, value):
            return True
        if isinstance(value, PartialRef) and value.top == chains.LOSS and value.entry is None:
            try:
                value = resolver.as_value(value, _Span(0, 0, value.text))
            except AnswerSyntaxError:
                return False
        return isinstance(value, Mat) and isinstance(value.expr, MatrixSymbol) and value.expr.name == case.key

    def _names_target(self, case: Case, value: PartialRef) -> bool:
        """The derivative a side names is the one asked (dL/dh^3 for dL/dh^3): a restatement, not its formula."""
        try:
            return self.derivation.target(value.text).name == case.target.name
        except KeyError:
            return False

    def latex(self, value: Value, source: str) -> str:
        if isinstance(value, (Mat, Scalar, Jacobian)):
            return to_latex(value.expr, self.names)
        if isinstance(value, Explicit):
            return to_latex(ImmutableMatrix(value.cells), self.names)
        return r"\text{" + escape_latex(source) + "}"

    # --- one side ----------------------------------------------------------------------

    def judge(self, case: Case, value: Value, resolver: Resolver, entry: Entry | None) -> Judgement:
        if isinstance(value, Chain):
            bottom = self.vocab.delta_of[case.target.symbol] if case.target.kind == "delta" else case.target.key
            sentences = chains.compare(self.vocab, value, bottom, case.shown)
            return _wrong(sentences) if sentences else Judgement(True, score=1.0)
        if isinstance(value, PartialRef):
            return self.judge(case, resolver.as_value(value, _Span(0, 0, value.text)), resolver, entry)
        if entry is not None and isinstance(value, (Mat, Explicit)):
            return self.judge_entry(case, value, entry)
        if isinstance(value, Mat):
            return self.judge_matrix(case, value)
        if isinstance(value, Explicit):
            return self.judge_explicit(case, value)
        if isinstance(value, Scalar):
            return self.judge_scalar(case, value, resolver, entry)
        raise AnswerSyntaxError(f"{getattr(value, 'text', 'this')} is not a formula for {case.shown}", 0)

    def decide(
        self,
        case: Case,
        answer: list[Array],
        pick: Pick,
        prove: Callable[[Deadline], Proof | Difference | None],
        more: Callable[[], list[Array]],
        moves: Callable[[str], bool] | None,
        written: set[str],
    ) -> Judgement:
        """The verdict on values at the points: agreeing everywhere, proved (symbolic) or, when no proof can be
        had, agreeing at further points too (numeric); else different, with the feedback. `written`: the
        names the answer uses."""
        full = list(case.expected)
        expected = [pick(e) for e in full]
        count = len(answer)
        agree = all(close(a, e) for a, e in zip(answer, expected, strict=True))
        if agree or self.near_miss(answer, expected):
            proof = self.prove(prove)
            if isinstance(proof, Proof):
                return Judgement(True, score=1.0, method="symbolic", points=count, proof=proof.describe())
            certificate = self.certificate(case, proof, pick) if isinstance(proof, Difference) else None
            if certificate is not None:
                judged = (
                    self.explain(case, answer, full, pick, moves, written)
                    if not agree
                    else _wrong(
                        [
                            f"your answer is not {case.target.name}, though it comes within rounding of it at the "
                            f"test points; {case.right}"
                        ],
                        points=count,
                    )
                )
                return dataclasses.replace(judged, method="symbolic", proof=certificate)
        if agree:
            further = more()
            if all(close(a, pick(e)) for a, e in zip(further, case.extra, strict=True)):
                if not any(np.any(pick(e) != 0) for e in full + case.extra):
                    return self.undecided(case, count + len(further), proof)
                return Judgement(True, score=1.0, method="numeric", points=count + len(further))
            answer, full = answer + further, full + case.extra
        return self.explain(case, answer, full, pick, moves, written)

    def certificate(self, case: Case, difference: Difference, pick: Pick) -> str | None:
        """Proof that an answer is different: an entry of its exact difference from the target (in normal
        form) computed at a test point and found clearly non-zero there; None if no point shows it."""
        where = self.decider.entries.where
        points = [*self.points.values, *self.points.extra]
        for position, expr in difference.pending:
            for k, point in enumerate(points):
                self.deadline.check()
                found = difference_at(expr, where, point, self.vocab.n_samples)
                if found is None:
                    break
                value, scale = found
                if scale > 0 and abs(value) > CERTAIN * scale:
                    through = (
                        f", through the definitions of {', '.join(difference.expanded)}" if difference.expanded else ""
                    )
                    shape = np.asarray(pick(case.expected[0])).shape
                    where_text = (
                        f"entry ({', '.join(str(i + 1) for i in np.unravel_index(position, shape))}) "
                        if shape and position < int(np.prod(shape))
                        else "an entry "
                    )
                    return (
                        f"proved different entry by entry at the spec's sizes with N = {difference.samples}"
                        f"{through}: {where_text}of the answer minus {case.target.name}, computed exactly, "
                        f"is {value:.3g} at test point {k + 1} (not zero)"
                    )
        return None

    def undecided(self, case: Case, points: int, difference: Proof | Difference | None) -> Judgement:
        """An answer that agrees only where the target is zero everywhere (a dead network at every point
        drawn): the numbers cannot tell, and no proof was found."""
        why = (
            " (its difference from the target is not zero as a formula, but zero at every point drawn)"
            if isinstance(difference, Difference)
            else ""
        )
        return Judgement(
            False,
            (
                f"not decided: {case.target.name} is zero at every test point drawn (a relu "
                f"layer inactive everywhere), so the values cannot tell a right answer from a "
                f"wrong one, and no proof was found{why}",
            ),
            method="numeric",
            points=points,
            undecided=True,
        )

    @staticmethod
    def near_miss(answer: list[Array], expected: list[Array]) -> bool:
        """Values that differ only in the last digits somewhere: rounding, or a slightly wrong answer."""
        return (
            all(np.all(np.isfinite(a)) and a.shape == e.shape for a, e in zip(answer, expected, strict=True))
            and relative_difference(
                np.concatenate([a.ravel() for a in answer]), np.concatenate([e.ravel() for e in expected])
            )
            < NEAR_MISS
        )

    def prove(self, prove: Callable[[Deadline], Proof | Difference | None]) -> Proof | Difference | None:
        """A proof within its own share of the time limit; None when there is none within it."""
        budget = Deadline(min(PROOF_SECONDS, max(self.deadline.left() / 2, 0.0)))
        try:
            with budget.enforced():
                return prove(budget)
        except OutOfTime as error:
            if error.deadline is not budget:
                raise
            return None
        except Exception:  # noqa: BLE001 - no proof (Undecided, or SymPy failing on a hostile answer)
            return None

    def explain(
        self,
        case: Case,
        answer: list[Array],
        expected: list[Array],
        pick: Pick,
        moves: Callable[[str], bool] | None,
        written: set[str],
    ) -> Judgement:
        """Feedback for values that differ from the `expected` (full) values at the first points, within a
        share of the time left (past it, the plain sentence: the answer is wrong, the verdict is known)."""
        count = len(answer)
        if not all(np.all(np.isfinite(a)) for a in answer):
            return _wrong(
                [f"your answer is not finite at the test points (a log or a division by zero?); {case.right}"],
                method="numeric",
                points=count,
            )
        budget = Deadline(max(self.deadline.left() * 0.8, 0.0))
        try:
            with budget.enforced():
                sentences, credits, score = case.explainer.explain(answer, pick, expected, written)
                if not credits or credits[0].mistake == "fprime_missing":
                    found = case.dropped_units(answer, pick)
                    if found is not None and (len(found[1]) < self.units(found[0]) or not credits):
                        sentences = [self.units_sentence(*found)]
                        credits, score = (
                            [Credit("fprime_missing", CREDIT["fprime_missing"], sentences[0])],
                            CREDIT["fprime_missing"],
                        )
                if not credits and moves is not None:
                    sentences = (
                        dependence(case.shown, self.leaves(case, written), moves, case.moves, self.names.text)
                        + sentences
                    )
        except OutOfTime as error:
            if error.deadline is not budget:
                raise
            difference = relative_difference(
                np.concatenate([a.ravel() for a in answer]), np.concatenate([pick(e).ravel() for e in expected[:count]])
            )
            sentences, credits, score = (
                [
                    f"it differs from {case.shown} at the test points (relative "
                    f"difference {difference:.2g}); {case.right}"
                ],
                [],
                0.0,
            )
        return _wrong(sentences, credits, score, "numeric", count)

    def units_sentence(self, mutation: Mutation, units: list[int]) -> str:
        """relu' missing for some units of a layer, in the spec's notation."""
        s = self.vocab.symbols[self.vocab.delta_of[f"delta_{mutation.key}"]]
        assert mutation.layer is not None  # an f' missing by unit names its layer
        layer = self.vocab.layers[mutation.layer]
        derivative = Elementwise(layer.label, 1, activation_lambda(layer.activation, 1), s)
        which = f"unit{'s' if len(units) > 1 else ''} {', '.join(map(str, units))}"
        return (
            f"the activation's derivative {to_text(derivative, self.names)} is missing for {which} of layer "
            f"{mutation.layer} ({to_text(Indicator(s), self.names)} is 0 where a unit is inactive): "
            f"{mutation.shown_name} = {to_text(mutation.definition, self.names)}"
        )

    def units(self, mutation: Mutation) -> int:
        """The number of units of the layer whose delta a mutation changes."""
        node = self.vocab.bp.graph.named(self.vocab.delta_of[f"delta_{mutation.key}"])
        return int(node.shape[1 - node.shape.index(BATCH)])

    def leaves(self, case: Case, written: set[str]) -> list[str]:
        """The leaves worth a dependence sentence: the input, the target and those either formula names."""
        spec = self.vocab.bp.graph.spec
        named = written | {s.name for s in case.truth.atoms(MatrixSymbol)} | {spec.input.name, spec.target.name}
        return [node.symbol_name for node in self.vocab.bp.graph.leaves if node.role != "fixed" and node.name in named]

    @cached_property
    def largest_part(self) -> int:
        """Most entries a part of a matrix answer may have: sizes.MAX_ENTRIES, or four times the
        network's own largest matrix (x x^T on a 10,000-wide input would be 800 MB)."""
        return max(
            sizes.MAX_ENTRIES, 4 * max(np.size(value) for key, value in self.points.values[0].items() if key != KINKS)
        )

    def judge_matrix(self, case: Case, value: Mat) -> Judgement:
        expr = value.expr
        problem = sizes.matrix_problem(expr, self.largest_part)
        if problem:
            raise AnswerSyntaxError(f"{value.text}: {problem}", 0)
        if case.key in {s.name for s in expr.atoms(MatrixSymbol)}:
            return _wrong([f"the answer is written through {case.shown} itself"])
        if expr.shape != case.symbol.shape:
            return self.wrong_shape(case, expr)
        compiled = self.points.compiled(expr)
        answer = self.points.each(compiled)

        def moves(leaf: str) -> bool:
            return not close(compiled(self.perturbed(leaf)), answer[0])

        return self.decide(
            case,
            answer,
            lambda v: v,
            lambda budget: self.decider.decide_matrix(expr, case.truth, budget),
            lambda: self.points.each(compiled, self.points.extra),
            moves,
            {s.name for s in expr.atoms(MatrixSymbol)},
        )

    def wrong_shape(self, case: Case, expr: Expr) -> Judgement:
        shape, wanted = expr.shape, case.symbol.shape
        owner = case.target.key if case.target.kind == "gradient" else case.target.symbol
        sentence = (
            f"your answer is {shape_text(shape)}, but {case.shown} is {shape_text(wanted)} "
            f"(the size of {self.names.text(owner)})"
        )
        if shape == (wanted[1], wanted[0]):
            answer = self.points.each(self.points.compiled(expr))
            if all(close(a.T, e) for a, e in zip(answer, case.expected, strict=True)):
                return _wrong(
                    [f"the result is transposed: {sentence}; {case.right}"],
                    [Credit("transpose_result", 0.5, "the result is transposed")],
                    0.5,
                    "numeric",
                    len(answer),
                )
        return _wrong([sentence])

    def judge_entry(self, case: Case, value: Mat | Explicit, entry: Entry) -> Judgement:
        """A matrix (or a matrix written out) given for one entry, row or column of the case's target."""
        picks = tuple(slice(None) if isinstance(i, Symbol) else int(i) for i in entry)
        wanted = np.asarray(case.expected[0][picks]).shape
        if isinstance(value, Explicit):
            raw = [cell for row in value.cells for cell in row]
            cells = [with_stand_ins(cell) for cell in raw]
            shape = (len(value.cells), len(value.cells[0]))

            def at(point: dict[str, Array]) -> Array:
                evaluator = EntryEvaluator(point, self.vocab.n_samples)
                return np.array([evaluator(cell, ()) for cell in cells], dtype=np.float64).reshape(shape)

            def entries() -> list[Expr]:
                return [self.decider.entries.scalar(cell, {}) for cell in raw]

            written = _entry_names(raw)
        else:
            shape = value.expr.shape
            compiled = self.points.compiled(value.expr)

            def at(point: dict[str, Array]) -> Array:
                return compiled(point)

            def entries() -> list[Expr]:
                return self.decider.grid_entries(value.expr)

            written = {s.name for s in value.expr.atoms(MatrixSymbol)}
        if int(np.prod(shape)) != int(np.prod(wanted)) or len([d for d in shape if d != 1]) > len(wanted):
            return _wrong(
                [
                    f"your answer is {shape_text(shape)}, but this entry of {case.shown} is "
                    f"{shape_text(wanted or (1, 1))}"
                ]
            )

        def prove(budget: Deadline) -> Proof | Difference | None:
            grid = self.decider.entries.grid(case.truth)
            rows, cols = (
                range(len(grid)) if isinstance(picks[0], slice) else [picks[0]],
                range(len(grid[0])) if isinstance(picks[1], slice) else [picks[1]],
            )
            return self.decider.entrywise(entries(), [grid[i][j] for i in rows for j in cols], budget)

        def values(points: list[dict[str, Array]] | None = None) -> list[Array]:
            return self.points.each(lambda point: at(point).reshape(wanted), points)

        return self.decide(
            case,
            values(),
            lambda full: np.asarray(full[picks]),
            prove,
            lambda: values(self.points.extra),
            None,
            written,
        )

    def judge_explicit(self, case: Case, value: Explicit) -> Judgement:
        rows, cols = len(value.cells), len(value.cells[0])
        if (rows, cols) != tuple(int(d) for d in case.symbol.shape):
            return _wrong(
                [f"the matrix written out is {rows}x{cols}, but {case.shown} is {shape_text(case.symbol.shape)}"]
            )
        raw = [cell for row in value.cells for cell in row]
        cells = [with_stand_ins(cell) for cell in raw]
        if all(not cell.free_symbols and not cell.has(MatrixElement) for cell in cells):
            return self.judge_numbers(case, np.array([float(c) for c in cells]).reshape(rows, cols), lambda v: v)

        def at(point: dict[str, Array]) -> Array:
            evaluator = EntryEvaluator(point, self.vocab.n_samples)
            return np.array([evaluator(cell, ()) for cell in cells], dtype=np.float64).reshape(rows, cols)

        def prove(budget: Deadline) -> Proof | Difference | None:
            answer = [self.decider.entries.scalar(cell, {}) for cell in raw]
            return self.decider.entrywise(answer, self.decider.grid_entries(case.truth), budget)

        return self.decide(
            case,
            self.points.each(at),
            lambda v: v,
            prove,
            lambda: self.points.each(at, self.points.extra),
            None,
            _entry_names(raw),
        )

    def judge_numbers(self, case: Case, answer: Array, pick: Pick) -> Judgement:
        """Plain numbers: checked against the target's value on the spec's data."""
        if self.points.data is None:
            raise AnswerSyntaxError(
                "a number can only be checked on the spec's data, and this spec has none "
                "for every leaf: write a formula",
                0,
            )
        expected = pick(case.value_at(self.points.data))
        if close(answer, expected, rtol=NUMBER_RTOL, floor=NUMBER_RTOL):
            return Judgement(True, score=1.0, method="data", points=1)
        return _wrong(
            [f"on the spec's data {case.shown} is {_numbers(expected)}, not {_numbers(answer)}"],
            method="data",
            points=1,
        )

    def judge_on_data(self, case: Case, value: Value, entry: Entry | None, after: bool) -> Judgement | None:
        """A side with numbers put in for some values, checked on the spec's data; None if it cannot be."""
        data = self.points.data
        if data is None:  # the caller asks only when the spec has data
            return None
        picks = tuple(int(i) if not isinstance(i, Symbol) else slice(None) for i in entry) if entry else None
        try:
            if isinstance(value, Mat) and value.expr.shape == case.symbol.shape:
                got = self.points.evaluate(value.expr, data)
            elif isinstance(value, Scalar) and picks is not None and all(isinstance(p, int) for p in picks):
                got = np.asarray(EntryEvaluator(data, self.vocab.n_samples)(with_stand_ins(value.expr), ()))
            else:
                return None
        except (ValueError, KeyError, TypeError):
            return None
        expected = case.value_at(data)
        expected = np.asarray(expected[picks]) if picks is not None and got.ndim == 0 else expected
        if close(got, expected, rtol=NUMBER_RTOL, floor=NUMBER_RTOL):
            return Judgement(True, score=1.0, method="data", points=1)
        shown, truth = _numbers(got), _numbers(expected)
        lead = (
            "this side is not what the previous one is on the data"
            if after
            else "this side is not right on the spec's data"
        )
        return _wrong(
            [f"{lead}: it is {shown} there, but {case.shown} is {truth}; {case.right}"], method="data", points=1
        )

    def numbers_first(self, case: Case, value: Value, entry: Entry | None, side: Judgement, text: str) -> Judgement:
        """A side of a worked line with some of the spec's numbers put in, judged as a formula because no side
        before it gives the formula in symbols: when it is right on the data, say so, and why that is not
        enough."""
        on_data = self.judge_on_data(case, value, entry, False) if self.points.data is not None else None
        if on_data is not None and on_data.equivalent:
            sentence = (
                f"{_cut(text)} has numbers in it before any side gives the formula in symbols, so it is "
                f"judged as a formula: it is right on the spec's data, but not at other values (a number "
                f"stands for a value only on the data); write the formula in symbols first, then put the "
                f"numbers in ({case.target.name} = formula = numbers)"
            )
            return dataclasses.replace(side, sentences=(sentence,))
        return side

    def judge_scalar(self, case: Case, value: Scalar, resolver: Resolver, entry: Entry | None) -> Judgement:
        expr = with_stand_ins(value.expr)
        free = resolver.free_indices(expr)
        rows, cols = case.symbol.shape
        if entry is None:
            entry = self.default_entry(case, free, resolver)
        loose = free - {i for i in entry if isinstance(i, Symbol)}
        if loose:
            names = ", ".join(sorted(str(i) for i in loose))
            raise AnswerSyntaxError(
                f"the index {names} is free (not summed over, not on the left side): write the "
                f"left side, e.g. {case.shown}[j,i] = ...",
                0,
            )
        picks = tuple(slice(None) if isinstance(i, Symbol) else int(i) for i in entry)
        order = tuple(i for i in entry if isinstance(i, Symbol))

        def pick(full: Array) -> Array:
            return np.asarray(full[picks])

        if not expr.free_symbols and not expr.has(MatrixElement):
            if order:
                raise ShapeProblem(f"a single number, but {case.shown} is {shape_text((rows, cols))}")
            return self.judge_numbers(case, np.asarray(float(expr)), pick)

        shape = pick(case.expected[0]).shape

        counts = {index: size for index, (size, _) in resolver.ranges.items()}

        def at(point: dict[str, Array]) -> Array:  # an index the formula does not use: constant along it
            return cast(
                Array, np.broadcast_to(EntryEvaluator(point, self.vocab.n_samples, counts)(expr, order), shape).copy()
            )

        def prove(budget: Deadline) -> Proof | Difference | None:
            truth = self.decider.entries.grid(case.truth)
            ranges = [range(resolver.ranges[i][0]) for i in order]
            answers, truths = [], []
            for numbers in itertools.product(*ranges):
                given = dict(zip(order, numbers, strict=True))
                row, col = (given[i] if isinstance(i, Symbol) else int(i) for i in entry)
                answers.append(self.decider.entries.scalar(value.expr, given))
                truths.append(truth[row][col])
            return self.decider.entrywise(answers, truths, budget)

        answer = self.points.each(at)

        def moves(leaf: str) -> bool:
            return not close(at(self.perturbed(leaf)), answer[0])

        judged = self.decide(
            case,
            answer,
            pick,
            prove,
            lambda: self.points.each(at, self.points.extra),
            moves,
            _entry_names([value.expr]),
        )
        sentences = list(judged.sentences)
        if not judged.equivalent and not order:
            other = self.other_entry(case, answer, picks)
            sentences = [other, *sentences] if other is not None else sentences
        unused = [
            str(index)
            for index, size in zip(entry, case.symbol.shape, strict=True)  # size 1: one value
            if isinstance(index, Symbol) and index not in expr.free_symbols and size != 1
        ]
        if not judged.equivalent and unused:
            sentences = [
                f"the index {', '.join(unused)} of the left side does not appear on the right: every entry "
                f"along it would be the same, but not in {case.shown}",
                *sentences,
            ]
        return dataclasses.replace(judged, sentences=tuple(sentences))

    def default_entry(self, case: Case, free: set[Symbol], resolver: Resolver) -> Entry:
        """Free indices named as the index form names them (j, i, n ...); none for a 1x1 target."""
        names = iter(case.target.index_form().indices)
        symbolic = case.target.shape
        entry: list[Expr] = []
        for dim, size in zip(symbolic, case.symbol.shape, strict=True):
            name = next(names) if dim != 1 else None
            symbol = Symbol(str(name), integer=True) if name is not None else None
            count = int(size) if size.is_Integer else self.vocab.n_samples  # N: the test points' samples
            if symbol is not None and symbol in free:
                given = resolver.ranges[symbol][0]
                if given != count:
                    raise ShapeProblem(
                        f"the index {symbol} runs over {given} values, but in {case.shown} it counts {count}"
                    )
                entry.append(symbol)
            elif count == 1:
                entry.append(Integer(0))
            else:
                raise AnswerSyntaxError(
                    f"say which entry of {case.shown} this is: write the left side "
                    f"({case.target.text('index').split(' = ')[0]} = ...)",
                    0,
                )
        return entry[0], entry[1]

    @staticmethod
    def other_entry(case: Case, answer: list[Array], picks: tuple[Any, ...]) -> str | None:
        """When one entry was asked for: the entry of the target the answer is, if another."""
        hits = [
            index
            for index in np.ndindex(case.expected[0].shape)
            if all(close(a, np.asarray(e[index])) for a, e in zip(answer, case.expected, strict=True))
        ]
        if not hits:
            return None
        shown = ", ".join(str(i + 1) for i in hits[0])
        asked = ", ".join(str(i + 1) for i in picks)
        return f"this is entry ({shown}) of {case.shown}, not entry ({asked})"

    # --- sizes that do not fit -----------------------------------------------------------

    def shape_feedback(self, case: Case, problem: ShapeProblem, answer: str, node: Node) -> str:
        """The size problem, with a repair proposed only when the repaired answer is the right one."""
        for fixed, span in zip(problem.fixes, problem.spans, strict=True):
            try:
                resolver = Resolver(self.vocab, answer, self.deadline, {span: fixed})
                value = resolver.value(node)
                if (
                    isinstance(value, Mat)
                    and value.expr.shape == case.symbol.shape
                    and self.judge_matrix(case, value).equivalent
                ):
                    repaired = to_text(fixed.expr, self.names)
                    if span == problem.span:
                        return f"{problem}; did you mean {repaired}?"
                    return f"{problem}; did you mean {repaired} in place of {_cut(answer[span[0] : span[1]])}?"
            except (ShapeProblem, ChainProblem, AnswerSyntaxError, ValueError):
                continue
        return str(problem)


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """NumPy's BLAS on one thread while answers are graded: their matrices are small, and a second thread
    mostly waits (on a busy machine, spinning: ten to twenty times the CPU time of one thread)."""
    return cast(AbstractContextManager[Any], _threadpools().limit(limits=1))  # threadpoolctl has no types


@dataclass
class _Grading:
    """What one answer is graded against: the case, the target as asked (maybe one entry of the case's
    target) and that entry, and the target as written (for messages before it is known)."""

    case: Case | None
    asked: Target | EntryTarget | None
    entry: Entry | None
    written: str | None
    question: Question | None = None  # the question id the answer was given for
    choices: list[Target] | None = None  # a question asking several targets: the left side says which


def _same_entry(written: Entry | None, asked: Entry | None, shape: tuple[Any, ...]) -> bool:
    """A left side's entry against the one the target asks for (None: the whole target, whose left side may
    name any entry): the same numbers, index letters where it has letters (any letters). A dimension of
    size 1 takes any index."""
    if written is None or asked is None:  # a whole target's left side may name one entry: that entry is graded
        return written is None or asked is None
    return all(
        size == 1 or (isinstance(w, Symbol) and isinstance(a, Symbol)) or w == a
        for w, a, size in zip(written, asked, shape, strict=True)
    )


def _shown(index: Expr) -> str:
    return str(index) if isinstance(index, Symbol) else str(int(index) + 1)


def _combined(judged: list[Judgement]) -> Judgement:
    """One judgement for all sides: symbolic only if every side was decided exactly."""
    methods = {j.method for j in judged}
    method = "numeric" if methods & {"numeric", "data"} else "symbolic"
    proofs = list(dict.fromkeys(j.proof for j in judged if j.proof))
    return Judgement(
        True,
        score=1.0,
        method=method,
        points=max((j.points for j in judged), default=0),
        proof="; ".join(proofs) if method == "symbolic" and proofs else None,
    )


def _numbers(value: Array) -> str:
    """A number as people write it (-80, 0.333333); a matrix as NumPy prints it."""
    value = np.asarray(value)
    return f"{float(value):.6g}" if value.size == 1 else np.array2string(value, precision=6)


def bounded(sentence: str, typed: tuple[str, ...], limit: int = QUOTE) -> str:
    """A message with every run of more than `limit` characters of what the user typed cut to about
    `limit` (docs/security.md: messages quote at most ~80 characters of input)."""
    if len(sentence) <= limit + 20:
        return sentence
    sources = [text for text in typed if len(text) > limit]
    out: list[str] = []
    i = 0
    while i < len(sentence):
        if any(sentence[i : i + limit + 1] in text for text in sources) and i + limit < len(sentence):
            end = i + limit + 1
            while end < len(sentence) and any(sentence[i : end + 1] in text for text in sources):
                end += 1
            out.append(f"{sentence[i : i + limit - 3]}... ({end - i} characters)")
            i = end
        else:
            out.append(sentence[i])
            i += 1
    return "".join(out)


def _cut(text: str, limit: int = QUOTE) -> str:
    """User text quoted in a message, cut to about `limit` characters."""
    text = " ".join(text.split())
    return f"'{text}'" if len(text) <= limit else f"'{text[: limit - 3]}...' ({len(text)} characters)"


def _entry_names(exprs: list[Expr]) -> set[str]:
    return {e.parent.name for expr in exprs for e in expr.atoms(MatrixElement) if isinstance(e.parent, MatrixSymbol)}


def _has_number(node: Node) -> bool:
    """A number written as a value (4, 2(5)), not as an index, a layer or an exponent (W^{(3)}_{1,1}, z^2)."""
    bounds = {id(b) for n in _nodes(node) if isinstance(n, SumOver) for b in (n.lower, n.upper) if b is not None}
    return any(isinstance(n, Num) and id(n) not in bounds for n in _nodes(node, skip=(Script,)))


def _has_name(node: Node) -> bool:
    return any(isinstance(n, Name) for n in _nodes(node))


def _nodes(node: object, skip: tuple[type, ...] = ()) -> list[Node]:
    """Every syntax node under `node` (itself included), not looking into nodes of the types `skip`."""
    found: list[Node] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, skip):
            continue
        if isinstance(item, Node):
            found.append(item)
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, tuple):
            stack.extend(item)
    return found


@dataclass(frozen=True)
class _Span(Node):
    """Stands for a syntax node in messages that have no position of their own (at 0, empty)."""

    text: str = ""
