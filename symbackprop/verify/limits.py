"""The bounds every answer is held to, and the clock that enforces the time limit.

A grader reads text from people it cannot trust: each bound turns a hostile or runaway
answer into a clear message instead of a hung or crashed process.
"""

from __future__ import annotations

import time

#: Longest answer, in characters.
MAX_LENGTH = 4000
#: Deepest nesting of brackets, fractions, scripts and signs.
MAX_DEPTH = 50
#: Largest exponent, in size; an exponent must be a plain number (no towers like 9^{9^9}).
MAX_EXPONENT = 64
#: Longest number, in digits.
MAX_DIGITS = 30
#: Most terms and factors in the whole answer.
MAX_TERMS = 400
#: Most cells in a matrix written out with \begin{bmatrix}.
MAX_CELLS = 400
#: Most paths a chain-rule answer may spell out.
MAX_PATHS = 256
#: Seconds one answer may take, parse to feedback.
TIME_LIMIT = 5.0


class OutOfTime(Exception):
    """The answer took longer than its time limit."""


class Deadline:
    """A point in time; the long loops of parsing, resolving and comparing call `check()`."""

    def __init__(self, seconds: float = TIME_LIMIT) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise OutOfTime(f"the answer could not be checked within {self.seconds:g} s")
