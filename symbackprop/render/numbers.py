"""Numbers as LaTeX: rounded to a fixed number of decimals (so that output is byte-identical run
after run) and shown without trailing zeros, so whole numbers are integers (-160, not -160.0000)
and 0.88 stays 0.88; matrices as bmatrix, and a note instead of a matrix too large for a page."""

from __future__ import annotations

import math

import numpy as np

#: A matrix with more rows or columns than this is not printed entry by entry.
MAX_PRINTED = 12
#: A value this close to a whole number (relative to its size) is that whole number.
WHOLE = 1e-9
#: Whole numbers up to this size print as integers.
LARGEST_INTEGER = 1e15


def is_whole(value: float) -> bool:
    return (
        math.isfinite(value)
        and abs(value) < LARGEST_INTEGER
        and abs(value - round(value)) <= WHOLE * max(1.0, abs(value))
    )


def number(value: float, digits: int) -> str:
    """Rounded to `digits` decimals, trailing zeros dropped (a whole number is an integer); no "-0";
    infinities and NaN in words a reader understands."""
    value = float(value)
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    if is_whole(value):
        return str(abs(round(value)) if round(value) == 0 else round(value))
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def scientific(value: float) -> str:
    """A small error such as 1.2e-09 as 1.2 \\times 10^{-9}; exactly 0 as 0."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return number(value, 0)
    mantissa, exponent = f"{value:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def fits(value: np.ndarray) -> bool:
    rows, cols = np.shape(value)
    return rows <= MAX_PRINTED and cols <= MAX_PRINTED


def matrix(value: np.ndarray, digits: int) -> str:
    """A bmatrix in the spec's orientation, or a note giving the size when it is too large. A value with
    more axes (a Jacobian per sample) is a row of matrices, one per value of its first index."""
    if np.ndim(value) > 2:
        if len(value) > MAX_PRINTED:
            return r"\text{too large to print } (" + r" \times ".join(map(str, np.shape(value))) + ")"
        return r"\begin{bmatrix} " + " & ".join(matrix(part, digits) for part in value) + r" \end{bmatrix}"
    rows, cols = np.shape(value)
    if not fits(value):
        return rf"\text{{too large to print }} ({rows} \times {cols})"
    body = r" \\ ".join(" & ".join(number(v, digits) for v in row) for row in np.asarray(value, dtype=float).tolist())
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"
