"""Grading an answer for one network: parse, resolve, compare at the test points, explain.

A Verifier is built once per network and keeps, per target, the expected values at the
points and (from the first wrong answer on) the mutations and their values, so that a
batch pays for them once per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from sympy import Expr, Integer, Symbol
from sympy.matrices import ImmutableMatrix
from sympy.matrices.expressions import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.api import EntryTarget, Target
from symbackprop.printing import escape_latex, to_latex
from symbackprop.verify import chain as chains
from symbackprop.verify.chain import Chain, ChainProblem
from symbackprop.verify.entries import EntryEvaluator
from symbackprop.verify.feedback import Explainer, dependence, scales, sign_sentence
from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.limits import TIME_LIMIT, Deadline, OutOfTime
from symbackprop.verify.mutations import Mutator, substituted
from symbackprop.verify.names import Vocabulary
from symbackprop.verify.parser import parse
from symbackprop.verify.points import NUMBER_RTOL, Points, close, sample_count, with_stand_ins
from symbackprop.verify.resolve import Resolver
from symbackprop.verify.result import Credit, VerifyResult
from symbackprop.verify.values import Explicit, Mat, PartialRef, Scalar, ShapeProblem, Value, shape_text

if TYPE_CHECKING:
    from symbackprop.api import Network

Entry = tuple[Expr, Expr]  # the (row, column) an answer in index notation gives: an index or a number
Judgement = tuple[bool, list[str], list[Credit], float]


class Case:
    """One target: its expected values at the points, its mutations and their values (built on first need)."""

    def __init__(self, verifier: Verifier, target: Target) -> None:
        self.verifier = verifier
        self.target = target
        self.key = target.symbol if target.kind == "delta" else f"dL/d{target.key}"
        self.symbol = verifier.vocab.sized(MatrixSymbol(self.key, *verifier.vocab.bp.symbols[
            target.symbol if target.kind == "delta" else target.key].shape))
        self.expected = [self.truth(point) for point in verifier.points.values]
        self.right = target.text("matrix")
        self._values: dict[tuple[int, int], np.ndarray] = {}
        self._moves: dict[str, bool] = {}

    @cached_property
    def latex(self) -> str:
        return to_latex(self.target.matrix, self.verifier.names)

    def truth(self, point: dict[str, np.ndarray]) -> np.ndarray:
        """The target's value at a point; a dL/d<value> is computed there from its matrix form (through the
        point's deltas) when first asked for."""
        if self.key not in point:
            point[self.key] = self.verifier.points.evaluate(self.verifier.vocab.sized(self.target.matrix), point)
        return point[self.key]

    @cached_property
    def explainer(self) -> Explainer:
        v = self.verifier
        bp = v.vocab.bp
        simplified = {key: v.derivation.delta(key).simplified for key in bp.deltas}
        simplified["target"] = self.target.simplified
        candidates = v.mutator.mutations(self.target, simplified)
        kept = []
        for mutation in candidates:  # all kept: two that agree at one point may differ at the next
            v.deadline.check()
            value = self.evaluate(mutation, 0)
            if value is not None:
                self._values[(len(kept), 0)] = value
                kept.append(mutation)
        self._mutations = kept
        output = next(iter(bp.deltas), None)
        loss = bp.graph.spec.loss
        forms = [bp.deltas[output], v.derivation.delta(output).simplified] if output is not None else []
        sign = sign_sentence(forms, {v.mutator.output, v.mutator.target_name}, output, self.right)
        ratios = scales(loss.kind, loss.reduction, v.mutator.output, v.mutator.target_name, v.vocab.n_samples, sign)
        return Explainer(self.target.name, self.right, ratios, kept, self.value, self.expected)

    def evaluate(self, mutation: object, point: int) -> np.ndarray | None:
        v = self.verifier
        expr = v.vocab.sized(substituted(v.vocab.bp, self.target, mutation))
        value = v.points.evaluate(expr, v.points.values[point])
        return value if value.shape == self.expected[0].shape and np.all(np.isfinite(value)) else None

    def value(self, index: int, point: int) -> np.ndarray:
        if (index, point) not in self._values:
            self.verifier.deadline.check()
            value = self.evaluate(self._mutations[index], point)
            self._values[(index, point)] = value if value is not None else np.full_like(self.expected[0], np.nan)
        return self._values[(index, point)]

    def moves(self, leaf: str) -> bool:
        """Whether the target's value changes with `leaf`."""
        if leaf not in self._moves:
            self._moves[leaf] = not close(self.truth(self.verifier.perturbed(leaf)), self.expected[0])
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
        self.points = Points(net, n_samples)
        self.mutator = Mutator(self.vocab, bp)
        self.names = self.derivation.names  # the spec's notation, for `expected` and the answer's LaTeX
        self.cases: dict[str, Case] = {}
        self._perturbed: dict[str, dict[str, np.ndarray]] = {}
        self.deadline = Deadline(time_limit)

    def case(self, target: str) -> Case:
        """The case of a target in any spelling (of the whole target an entry belongs to); raises UnknownTarget."""
        found = self.derivation.target(target)
        if isinstance(found, EntryTarget):
            found = found.base
        if found.name not in self.cases:
            self.cases[found.name] = Case(self, found)
        return self.cases[found.name]

    def perturbed(self, leaf: str) -> dict[str, np.ndarray]:
        """The first point with `leaf` redrawn (for the dependence sentences)."""
        self.deadline.check()
        if leaf not in self._perturbed:
            self._perturbed[leaf] = self.points.perturbed(leaf, seed=7919 + len(self._perturbed))
        return self._perturbed[leaf]

    # --- the whole verdict -------------------------------------------------------------

    def verify(self, target: str | None, answer: str) -> VerifyResult:
        """The verdict on `answer` for `target` (None: the target the answer's left side names).
        Raises UnknownTarget for a target the network does not have."""
        start = time.monotonic()
        self.deadline = Deadline(self.time_limit)
        asked = self.derivation.target(target) if target is not None else None
        case = self.case(target) if target is not None else None
        entry = asked.entry if isinstance(asked, EntryTarget) else None  # one entry of the case's target
        shown = r"\text{" + escape_latex(answer if isinstance(answer, str) else "") + "}"

        def result(verdict: str, sentences: list[str], credits: list[Credit] = (), score: float = 0.0,
                   latex: str = shown, position: int | None = None) -> VerifyResult:
            name = asked.name if asked else (target or "")
            expected = "" if case is None else case.latex if entry is None else to_latex(asked.matrix, self.names)
            return VerifyResult(name, verdict, expected, latex, tuple(sentences), tuple(credits), score,
                                time.monotonic() - start, position)

        try:
            tree = parse(answer, self.deadline)
            resolver = Resolver(self.vocab, answer, self.deadline)
            values = [resolver.value(side) for side in tree.sides]
            lhs = self.left_side(values, resolver) if len(values) > 1 else None
            if case is None:
                if lhs is None:
                    raise AnswerSyntaxError("no target: give one, or write the left side (dL/dW_1 = ...)", 0)
                case = self.case(lhs[0])
                asked, entry = case.target, lhs[1]
            latex = " = ".join(self.latex(value, answer) for value in (values[1:] if lhs else values))
            if lhs is not None and (lhs[0] != case.target.name or not _same_entry(lhs[1], entry, case.symbol.shape)):
                written = lhs[0] if lhs[1] is None else f"{lhs[0]} entry ({', '.join(_shown(i) for i in lhs[1])})"
                return result("different", [f"the left side is {written}, but the target is {asked.name}"],
                              latex=latex)
            if lhs is not None and lhs[1] is not None:
                entry = lhs[1]
            for value in values[1:] if lhs else values:
                equivalent, sentences, credits, score = self.judge(case, value, resolver, entry)
                if not equivalent:
                    return result("different", [*resolver.notes, *sentences], credits, score, latex)
            return result("equivalent", [], [], 1.0, latex)
        except AnswerSyntaxError as error:
            return result("unreadable", [str(error)], position=error.position)
        except (ShapeProblem, ChainProblem) as problem:
            return result("different", [str(problem)])
        except OutOfTime as error:
            return result("timeout", [str(error)])

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
            element = resolver.element(symbol, list(first.entry), _Span(first.text))
            return name, (element.expr.i, element.expr.j)
        if isinstance(first, Mat) and isinstance(first.expr, MatrixSymbol) and first.expr.name in self.vocab.delta_of:
            return first.expr.name, None
        if isinstance(first, Scalar) and isinstance(first.expr, MatrixElement) and \
                first.expr.parent.name in self.vocab.delta_of:
            return first.expr.parent.name, (first.expr.i, first.expr.j)
        return None

    def designated(self, bottom: str) -> str | None:
        if bottom in self.vocab.parameters:
            return f"dL/d{bottom}"
        delta = next((d for d, s in self.vocab.delta_of.items() if s == bottom), None)
        if delta is not None:
            return delta
        found = self.derivation.by_value(bottom)  # dL/d<value>: an activation, the output, the input
        return found.name if found is not None else None

    def latex(self, value: Value, source: str) -> str:
        if isinstance(value, (Mat, Scalar)):
            return to_latex(value.expr, self.names)
        if isinstance(value, Explicit):
            return to_latex(ImmutableMatrix(value.cells), self.names)
        return r"\text{" + escape_latex(source) + "}"

    # --- one side ----------------------------------------------------------------------

    def judge(self, case: Case, value: Value, resolver: Resolver, entry: Entry | None) -> Judgement:
        if isinstance(value, Chain):
            bottom = self.vocab.delta_of[case.target.symbol] if case.target.kind == "delta" else case.target.key
            sentences = chains.compare(self.vocab, value, bottom, case.target.name)
            return not sentences, sentences, [], 0.0 if sentences else 1.0
        if isinstance(value, PartialRef):
            return self.judge(case, resolver.as_value(value, _Span(value.text)), resolver, entry)
        if entry is not None and isinstance(value, (Mat, Explicit)):
            return self.judge_entry(case, value, entry)
        if isinstance(value, Mat):
            return self.judge_matrix(case, value)
        if isinstance(value, Explicit):
            return self.judge_explicit(case, value)
        if isinstance(value, Scalar):
            return self.judge_scalar(case, value, resolver, entry)
        raise AnswerSyntaxError(f"{getattr(value, 'text', 'this')} is not a formula for {case.target.name}", 0)

    def compare(self, case: Case, answer: list[np.ndarray], pick: Callable[[np.ndarray], np.ndarray],
                moves: Callable[[str], bool] | None) -> Judgement:
        if all(close(a, pick(e)) for a, e in zip(answer, case.expected, strict=True)):
            return True, [], [], 1.0
        if not all(np.all(np.isfinite(a)) for a in answer):
            return False, [f"your answer is not finite at the test points (a log or a division by zero?); "
                           f"{case.right}"], [], 0.0
        sentences, credits, score = case.explainer.explain(answer, pick)
        if not credits and moves is not None:
            leaves = [node.name for node in self.vocab.bp.graph.leaves if node.role != "fixed"]
            sentences = dependence(case.target.name, leaves, moves, case.moves) + sentences
        return False, sentences, credits, score

    def judge_matrix(self, case: Case, value: Mat) -> Judgement:
        expr = value.expr
        if case.key in {s.name for s in expr.atoms(MatrixSymbol)}:
            return False, [f"the answer is written through {case.target.name} itself"], [], 0.0
        if expr.shape != case.symbol.shape:
            return self.wrong_shape(case, expr)
        answer = self.points.each(lambda point: self.points.evaluate(expr, point))

        def moves(leaf: str) -> bool:
            return not close(self.points.evaluate(expr, self.perturbed(leaf)), answer[0])

        return self.compare(case, answer, lambda v: v, moves)

    def wrong_shape(self, case: Case, expr: Expr) -> Judgement:
        shape, wanted = expr.shape, case.symbol.shape
        owner = case.target.key if case.target.kind == "gradient" else case.target.symbol
        sentence = f"your answer is {shape_text(shape)}, but {case.target.name} is {shape_text(wanted)} " \
                   f"(the size of {owner})"
        if shape == (wanted[1], wanted[0]):
            answer = self.points.each(lambda point: self.points.evaluate(expr, point))
            if all(close(a.T, e) for a, e in zip(answer, case.expected, strict=True)):
                return False, [f"the result is transposed: {sentence}; {case.right}"], [
                    Credit("transpose_result", 0.5, "the result is transposed")], 0.5
            return False, [f"{sentence}: transposed?"], [], 0.0
        return False, [sentence], [], 0.0

    def judge_entry(self, case: Case, value: Mat | Explicit, entry: Entry) -> Judgement:
        """A matrix (or a matrix written out) given for one entry, row or column of the case's target."""
        picks = tuple(slice(None) if isinstance(i, Symbol) else int(i) for i in entry)
        wanted = np.asarray(case.expected[0][picks]).shape
        if isinstance(value, Explicit):
            cells = [with_stand_ins(cell) for row in value.cells for cell in row]
            shape = (len(value.cells), len(value.cells[0]))

            def at(point: dict[str, np.ndarray]) -> np.ndarray:
                evaluator = EntryEvaluator(point, self.vocab.n_samples)
                return np.array([evaluator(cell, ()) for cell in cells], dtype=np.float64).reshape(shape)
        else:
            shape = value.expr.shape

            def at(point: dict[str, np.ndarray]) -> np.ndarray:
                return self.points.evaluate(value.expr, point)
        if int(np.prod(shape)) != int(np.prod(wanted)) or len([d for d in shape if d != 1]) > len(wanted):
            return False, [f"your answer is {shape_text(shape)}, but this entry of {case.target.name} is "
                           f"{shape_text(wanted or (1, 1))}"], [], 0.0
        answer = self.points.each(lambda point: at(point).reshape(wanted))
        return self.compare(case, answer, lambda full: np.asarray(full[picks]), None)

    def judge_explicit(self, case: Case, value: Explicit) -> Judgement:
        rows, cols = len(value.cells), len(value.cells[0])
        if (rows, cols) != tuple(int(d) for d in case.symbol.shape):
            return False, [f"the matrix written out is {rows}x{cols}, but {case.target.name} is "
                           f"{shape_text(case.symbol.shape)}"], [], 0.0
        cells = [with_stand_ins(cell) for row in value.cells for cell in row]
        if all(not cell.free_symbols for cell in cells):
            return self.judge_numbers(case, np.array([float(c) for c in cells]).reshape(rows, cols), lambda v: v)

        def at(point: dict[str, np.ndarray]) -> np.ndarray:
            evaluator = EntryEvaluator(point, self.vocab.n_samples)
            return np.array([evaluator(cell, ()) for cell in cells], dtype=np.float64).reshape(rows, cols)

        return self.compare(case, self.points.each(at), lambda v: v, None)

    def judge_numbers(self, case: Case, answer: np.ndarray, pick: Callable[[np.ndarray], np.ndarray]) -> Judgement:
        """Plain numbers: checked against the target's value on the spec's data."""
        if self.points.data is None:
            raise AnswerSyntaxError("a number can only be checked on the spec's data, and this spec has none "
                                    "for every leaf: write a formula", 0)
        expected = pick(case.truth(self.points.data))
        if close(answer, expected, rtol=NUMBER_RTOL):
            return True, [], [], 1.0
        return False, [f"on the spec's data {case.target.name} is {np.array2string(expected, precision=6)}, "
                       f"not {np.array2string(answer, precision=6)}"], [], 0.0

    def judge_scalar(self, case: Case, value: Scalar, resolver: Resolver, entry: Entry | None) -> Judgement:
        expr = with_stand_ins(value.expr)
        free = resolver.free_indices(expr)
        rows, cols = case.symbol.shape
        if entry is None:
            entry = self.default_entry(case, free, resolver)
        loose = free - {i for i in entry if isinstance(i, Symbol)}
        if loose:
            names = ", ".join(sorted(str(i) for i in loose))
            raise AnswerSyntaxError(f"the index {names} is free (not summed over, not on the left side): write the "
                                    f"left side, e.g. {case.target.name}[j,i] = ...", 0)
        picks = tuple(slice(None) if isinstance(i, Symbol) else int(i) for i in entry)
        order = tuple(i for i in entry if isinstance(i, Symbol))

        def pick(full: np.ndarray) -> np.ndarray:
            return np.asarray(full[picks])

        if not expr.free_symbols and not expr.has(MatrixElement):
            if order:
                raise ShapeProblem(f"a single number, but {case.target.name} is {shape_text((rows, cols))}")
            return self.judge_numbers(case, np.asarray(float(expr)), pick)

        shape = pick(case.expected[0]).shape

        def at(point: dict[str, np.ndarray]) -> np.ndarray:  # an index the formula does not use: constant along it
            return np.broadcast_to(EntryEvaluator(point, self.vocab.n_samples)(expr, order), shape).copy()

        answer = self.points.each(at)

        def moves(leaf: str) -> bool:
            return not close(at(self.perturbed(leaf)), answer[0])

        equivalent, sentences, credits, score = self.compare(case, answer, pick, moves)
        if not equivalent and not order:
            other = self.other_entry(case, answer, picks)
            sentences = [other, *sentences] if other is not None else sentences
        unused = [str(index) for index, size in zip(entry, case.symbol.shape, strict=True)  # size 1: one value
                  if isinstance(index, Symbol) and index not in expr.free_symbols and size != 1]
        if not equivalent and unused:
            sentences = [f"the index {', '.join(unused)} of the left side does not appear on the right: every entry "
                         f"along it would be the same, but not in {case.target.name}", *sentences]
        return equivalent, sentences, credits, score

    def default_entry(self, case: Case, free: set[Symbol], resolver: Resolver) -> Entry:
        """Free indices named as the index form names them (j, i, n ...); none for a 1x1 target."""
        names = iter(case.target.index_form().indices)
        symbolic = case.target.shape
        entry: list[Expr] = []
        for dim, size in zip(symbolic, case.symbol.shape, strict=True):
            name = next(names) if dim != 1 else None
            symbol = Symbol(str(name), integer=True) if name is not None else None
            if symbol is not None and symbol in free:
                given = resolver.ranges[symbol][0]
                if given != int(size):
                    raise ShapeProblem(f"the index {symbol} runs over {given} values, but in {case.target.name} "
                                       f"it counts {int(size)}")
                entry.append(symbol)
            elif int(size) == 1:
                entry.append(Integer(0))
            else:
                raise AnswerSyntaxError(f"say which entry of {case.target.name} this is: write the left side "
                                        f"({case.target.text('index').split(' = ')[0]} = ...)", 0)
        return entry[0], entry[1]

    @staticmethod
    def other_entry(case: Case, answer: list[np.ndarray], picks: tuple) -> str | None:
        """When one entry was asked for: the entry of the target the answer is, if another."""
        hits = [index for index in np.ndindex(case.expected[0].shape)
                if all(close(a, np.asarray(e[index])) for a, e in zip(answer, case.expected, strict=True))]
        if not hits:
            return None
        shown = ", ".join(str(i + 1) for i in hits[0])
        asked = ", ".join(str(i + 1) for i in picks)
        return f"this is entry ({shown}) of {case.target.name}, not entry ({asked})"


def _same_entry(written: Entry | None, asked: Entry | None, shape: tuple) -> bool:
    """A left side's entry against the one the target asks for (None: the whole target, whose left side may
    name any entry): the same numbers, index letters where it has letters (any letters). A dimension of
    size 1 takes any index."""
    if written is None or asked is None:  # a whole target's left side may name one entry: that entry is graded
        return written is None or asked is None
    return all(size == 1 or (isinstance(w, Symbol) and isinstance(a, Symbol)) or w == a
               for w, a, size in zip(written, asked, shape, strict=True))


def _shown(index: Expr) -> str:
    return str(index) if isinstance(index, Symbol) else str(int(index) + 1)


class _Span:
    """Stands for a syntax node in messages that have no position of their own."""

    start = 0
    end = 0

    def __init__(self, text: str) -> None:
        self.text = text
