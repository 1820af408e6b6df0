"""Numbers as LaTeX: fixed decimals (so that output is byte-identical run after run), matrices
as bmatrix, and a note instead of a matrix too large for a page."""

from __future__ import annotations

import math

import numpy as np

#: A matrix with more rows or columns than this is not printed entry by entry.
MAX_PRINTED = 12


def number(value: float, digits: int) -> str:
    """`digits` decimals; no "-0.0000"; infinities and NaN in words a reader understands."""
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def scientific(value: float) -> str:
    """A small error such as 1.2e-09 as 1.2 \\times 10^{-9}; exactly 0 as 0."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return number(value, 0)
    mantissa, exponent = f"{value:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def matrix(value: np.ndarray, digits: int) -> str:
    """A bmatrix in the spec's orientation, or a note giving the size when it is too large."""
    rows, cols = np.shape(value)
    if rows > MAX_PRINTED or cols > MAX_PRINTED:
        return rf"\text{{too large to print }} ({rows} \times {cols})"
    body = r" \\ ".join(" & ".join(number(v, digits) for v in row) for row in np.asarray(value, dtype=float).tolist())
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"
