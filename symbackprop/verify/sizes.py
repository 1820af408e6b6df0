"""What an answer may make the grader compute: numbers within float64's range, arrays of bounded
size, sums of bounded work; each bound checked before the work it bounds.

A number is checked before SymPy computes it exactly (`((9^{64})^{64})^{64}...` is a billion
digits), an array before NumPy allocates it (five nested sums over the autoencoder's sizes
asked for 477 GiB), a sum before einsum runs it (one C call that no time limit interrupts).
Each refusal is an AnswerSyntaxError: the answer gets the verdict `unreadable` (exit 2) with a
message naming the bound, never a traceback, a hung worker or an exhausted machine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from sympy import Expr, Rational, S
from sympy.matrices.expressions import MatMul, MatrixExpr

from symbackprop.verify.lexer import AnswerSyntaxError

#: Largest power of ten a number in an answer may reach (float64 ends near 1.8e308); as small
#: a number (but not 0) is refused too, since SymPy would compute it just as exactly.
MAX_MAGNITUDE = 300
#: Most numbers in one array the grader builds for an answer (2**24 float64: 128 MB).
MAX_ENTRIES = 2**24
#: Most multiply-adds one sum in index notation may cost.
MAX_WORK = 2 * 10**9


def _log10(number: Rational) -> float:
    """log10 |number|, for any size of numerator and denominator (no float overflow)."""
    return math.log10(abs(int(number.p))) - math.log10(int(number.q))


def power_problem(base: Expr, exponent: Rational) -> str | None:
    """Why `base ** exponent` must not be computed, if so: a number in `base` would go beyond
    10^(+-MAX_MAGNITUDE) (SymPy raises the numbers of a product to the power exactly), or 0 is
    raised to a negative power."""
    numbers = [base] if base.is_Rational else [n for n in base.atoms(Rational) if n not in (S.One, S.NegativeOne)]
    for number in numbers:
        if number == 0:
            if exponent < 0:
                return "is 0 to a negative power: a division by zero"
            continue
        if abs(_log10(number)) * abs(float(exponent)) > MAX_MAGNITUDE:
            return f"would reach 10^{_log10(number) * float(exponent):.0f}, beyond the limit of 10^{MAX_MAGNITUDE}"
    return None


def number_problem(expr: Expr) -> str | None:
    """Why a number (an expression without symbols) cannot stand in an answer, if it cannot."""
    if expr.has(S.NaN, S.ComplexInfinity, S.Infinity, S.NegativeInfinity) or expr.is_finite is False:
        return "is undefined (a division by zero, or the log of 0?)"
    if expr.is_extended_real is False:
        return "is not a real number (a root or a log of a negative number?)"
    if expr.is_Rational and expr != 0 and abs(_log10(expr)) > MAX_MAGNITUDE:
        return f"is beyond the limit of 10^{MAX_MAGNITUDE} in size"
    return None


def _entries(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


def matrix_problem(expr: MatrixExpr, allowed: int) -> str | None:
    """Why the grader must not evaluate a matrix answer, if so: some part of it (a product is
    computed left to right) has more than `allowed` entries."""
    stack = [expr]
    while stack:
        node = stack.pop()
        shapes = [node.shape]
        if isinstance(node, MatMul):  # the partial products, as the printed code computes them
            factors = [arg for arg in node.args if isinstance(arg, MatrixExpr)]
            shapes += [(factors[0].shape[0], factor.shape[1]) for factor in factors[1:]]
        for shape in shapes:
            if all(getattr(d, "is_Integer", False) for d in shape) and _entries(shape) > allowed:
                return (
                    f"computing it needs a {int(shape[0])}x{int(shape[1])} matrix ({_entries(shape):,} numbers, "
                    f"in {_short(node)}), more than the limit of {allowed:,}"
                )
        stack.extend(arg for arg in node.args if isinstance(arg, MatrixExpr))
    return None


def _short(expr: MatrixExpr) -> str:
    text = str(expr)
    return text if len(text) <= 60 else text[:57] + "..."


def check_broadcast(shapes: Sequence[tuple[int, ...]]) -> None:
    """Refuse to combine arrays (one axis per index) whose broadcast result is too large."""
    size = _entries(np.broadcast_shapes(*shapes)) if shapes else 1
    if size > MAX_ENTRIES:
        raise AnswerSyntaxError(
            f"the sums and indices of this answer need an array of {size:,} numbers, more "
            f"than the limit of {MAX_ENTRIES:,}: sum over fewer indices at once",
            0,
        )


_FLOPS = re.compile(r"Optimized FLOP count:\s*([0-9.e+]+)")
_LARGEST = re.compile(r"Largest intermediate:\s*([0-9.e+]+)")


def check_contraction(subscripts: str, arrays: Sequence[np.ndarray]) -> list:
    """The contraction order einsum should follow, once its work and its largest array are known to
    be within the limits."""
    path, report = np.einsum_path(subscripts, *arrays, optimize="greedy")
    flops, largest = _FLOPS.search(report), _LARGEST.search(report)
    work = float(flops.group(1)) if flops else math.inf
    size = float(largest.group(1)) if largest else math.inf
    if size > MAX_ENTRIES or work > MAX_WORK:
        raise AnswerSyntaxError(
            f"the sums of this answer need {work:,.0f} multiplications and an array of "
            f"{size:,.0f} numbers; the limits are {MAX_WORK:,} and {MAX_ENTRIES:,}",
            0,
        )
    return path
