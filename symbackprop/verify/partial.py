"""Grading an answer for a local partial (dz_2/ds_2, ds_3/dz_2, dh^{3}/dW^{3}_{1,1}, dp_j/ds_k).

A local partial has no deltas to mutate, so the answer is decided by its values: at every chosen point
and, when they agree, at the further points, against the partial's own value there (Network.value_at:
the vector-Jacobian products pulled back entry by entry, as numeric computes it). An answer may be a
matrix for one sample (W_3, diag(f_2'(s_2)) W_2 on one sample), an entry in index notation with the
target's letters (W_2[j,i] f_2'(s_2[j,n])), a matrix written out, or plain numbers (checked on the
spec's data). The feedback says what size was expected, whether the matrix is transposed, and the
right formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from sympy import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop.api import PartialTarget
from symbackprop.derive import N
from symbackprop.verify.chain import Chain, paths
from symbackprop.verify.entries import EntryEvaluator
from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.points import NUMBER_RTOL, close, with_stand_ins
from symbackprop.verify.values import Explicit, Jacobian, Mat, PartialRef, Scalar, Value, shape_text

if TYPE_CHECKING:
    from symbackprop.verify.resolve import Resolver
    from symbackprop.verify.verifier import Verifier

Array = np.ndarray


def judge(verifier: Verifier, target: PartialTarget, value: Value, resolver: Resolver) -> tuple[bool, list[str], int]:
    """(equivalent, feedback sentences, points compared) for one side of an answer."""
    right = f"the right answer is {target.text(_main_form(target))}"
    name = target.lhs_text("chain")  # as asked, in the spec's notation
    numbers = None
    if isinstance(value, Scalar) and not value.expr.free_symbols and not value.expr.has(MatrixElement):
        numbers = np.asarray(float(value.expr))
    if isinstance(value, Explicit) and all(
        not cell.free_symbols and not cell.has(MatrixElement) for row in value.cells for cell in row
    ):
        numbers = np.array([[float(c) for c in row] for row in value.cells])
    if numbers is not None and verifier.points.data is not None:
        return _on_data(verifier, target, numbers, right)
    # a number with no data to check it on: the formula of a constant partial (ds_1[j,n]/db_1[j] = 1), compared
    # at the test points as any formula
    at = _evaluator(verifier, target, value, resolver)
    points = verifier.points
    expected = [_expected(verifier, target, point) for point in points.values]
    answer = [at(point) for point in points.values]
    shape = expected[0].shape
    if answer[0].shape != shape and answer[0].shape != shape[-2:]:
        got = answer[0].shape
        sentence = f"your answer is {_shape(got)}, but {name} is {_shape(shape)}"
        if got[-2:][::-1] == shape[-2:] and all(
            close(np.broadcast_to(np.swapaxes(a, -1, -2), e.shape), e) for a, e in zip(answer, expected, strict=True)
        ):
            sentence = f"the result is transposed: {sentence}"
        return False, [sentence, right], len(answer)
    if all(close(np.broadcast_to(a, e.shape), e) for a, e in zip(answer, expected, strict=True)):
        extra = points.extra
        if all(
            close(np.broadcast_to(at(point), e.shape), e)
            for point, e in zip(extra, (_expected(verifier, target, p) for p in extra), strict=True)
        ):
            return True, [], len(answer) + len(extra)
    return False, [f"it differs from {name} at the test points", right], len(answer)


def _main_form(target: PartialTarget) -> str:
    return "matrix" if target.per_sample else "index"


def _shape(shape: tuple) -> str:
    return shape_text(shape) if len(shape) == 2 else f"{shape_text(shape[-2:])} for each sample"


def _expected(verifier: Verifier, target: PartialTarget, point: dict[str, Array]) -> Array:
    return verifier.net.value_at(target, dict(point), with_stand_ins)


def _on_data(verifier: Verifier, target: PartialTarget, numbers: Array, right: str) -> tuple[bool, list[str], int]:
    data = verifier.points.data
    assert data is not None  # asked only when the spec has data
    expected = verifier.net.value_at(target, dict(data))
    if numbers.size == 1:  # one number for every entry (0 for a row of zeros)
        numbers = np.full(expected.shape, float(numbers.flat[0]))
    if numbers.size == expected.size and close(
        numbers.reshape(expected.shape), expected, rtol=NUMBER_RTOL, floor=NUMBER_RTOL
    ):
        return True, [], 1
    shown = np.array2string(expected, precision=6)
    return False, [f"on the spec's data {target.lhs_text('chain')} is {shown}", right], 1


def _evaluator(
    verifier: Verifier, target: PartialTarget, value: Value, resolver: Resolver
) -> Callable[[dict[str, Array]], Array]:
    """The answer's value at a point, laid out as the target's value is."""
    samples = verifier.vocab.n_samples
    if isinstance(value, PartialRef):
        raise AnswerSyntaxError(f"{value.text} names a derivative: give its formula", 0)
    if isinstance(value, Mat):
        expr = value.expr
        if target.name in {s.name for s in expr.atoms(MatrixSymbol)}:
            raise AnswerSyntaxError(f"the answer is written through {target.name} itself", 0)
        compiled = verifier.points.compiled(expr)
        return lambda point: np.asarray(compiled(point), dtype=np.float64)
    if isinstance(value, Jacobian):
        return _per_sample(verifier, value)
    if isinstance(value, Scalar):
        expr = with_stand_ins(value.expr)
        order = tuple(target.free_indices())
        loose = resolver.free_indices(expr) - set(order)
        if loose:
            names = ", ".join(sorted(str(i) for i in loose))
            raise AnswerSyntaxError(
                f"the index {names} is free (not summed over, not on the left side): write the "
                f"left side, e.g. {target.lhs_text('index')} = ...",
                0,
            )
        sizes = [int(dim) if dim.is_Integer else samples for _, dim in target._free()]
        counts = {index: size for index, (size, _) in resolver.ranges.items()} | dict(zip(order, sizes, strict=True))

        def entries(point: dict[str, Array]) -> Array:
            raw = EntryEvaluator(point, samples, counts)(expr, order)
            return target.arrange_free(np.broadcast_to(raw, sizes).copy() if sizes else raw)

        return entries
    if isinstance(value, Explicit):
        cells = [with_stand_ins(cell) for row in value.cells for cell in row]
        shape = (len(value.cells), len(value.cells[0]))

        def written(point: dict[str, Array]) -> Array:
            evaluator = EntryEvaluator(point, samples)
            return np.array([evaluator(cell, ()) for cell in cells], dtype=np.float64).reshape(shape)

        return written
    raise AnswerSyntaxError(f"{getattr(value, 'text', 'this')} is not a formula for {target.name}", 0)


def _per_sample(verifier: Verifier, value: Jacobian) -> Callable[[dict[str, Array]], Array]:
    """A Jacobian written for one sample (diag(p) - p p^T, p a column), computed for each sample of a point: its
    values sliced to that sample; N x rows x columns (rows x columns for one sample), as the target's value."""
    compiled = verifier.points.compiled(value.expr)
    samples = verifier.vocab.n_samples
    whole = verifier.vocab.symbols
    axes = {
        m.name: whole[m.name].shape.index(N)
        for m in value.expr.atoms(MatrixSymbol)
        if m.name in whole and N in whole[m.name].shape
    }

    def each(point: dict[str, Array]) -> Array:
        found = [
            np.asarray(
                compiled({**point, **{name: np.take(point[name], [n], axis=axis) for name, axis in axes.items()}}),
                dtype=np.float64,
            )
            for n in range(samples)
        ]
        return found[0] if samples == 1 else np.stack(found)

    return each


def chain_problem(target: PartialTarget, value: Chain, verifier: Verifier) -> str | None:
    """None for the chain of local partials along every path between the target's values (dh^2/dz^2 ·
    dz^2/dh^1), else what is wrong with it."""
    top, bottom = target.top.symbol_name, target.bottom.symbol_name
    if (value.top, value.bottom) != (top, bottom):
        return (
            f"the chain leads from {value.bottom} to {value.top}, but {target.lhs_text('chain')} is of {top} by "
            f"{bottom}"
        )
    if value.paths != paths(verifier.vocab, bottom, top):
        return f"the chain does not follow every path from {bottom} to {top}"
    return None


def restates(target: PartialTarget, value: Value, verifier: Verifier) -> bool:
    """A side that names the target again (dh_2/dh_1 = \\frac{\\partial h^2}{\\partial h^1} = ...)."""
    if not isinstance(value, PartialRef):
        return False
    try:
        named = verifier.derivation.target(value.text)
    except KeyError:
        return False
    return isinstance(named, PartialTarget) and (named.top, named.bottom) == (target.top, target.bottom)


def is_partial_ref(value: Value) -> bool:
    """A left side naming a local partial (its numerator a value, not the loss)."""
    from symbackprop.verify.chain import LOSS

    return isinstance(value, PartialRef) and value.top != LOSS
