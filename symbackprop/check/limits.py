"""The bounds a solution file is held to, the error that makes it unreadable, and the CPU clock.

A solution comes from a student: it is read, never run, and every bound below turns a hostile or
runaway file into one clear message (exit 2) instead of a hung or exhausted process.
"""

from __future__ import annotations

import time

#: Largest solution file, in bytes (a real worked solution is a few tens of kilobytes).
MAX_BYTES = 1_000_000
#: Most matrices written out in one solution.
MAX_MATRICES = 2_000
#: Most entries in one written matrix.
MAX_CELLS = 20_000
#: Most numbers read from one solution (matrix entries and scalars together).
MAX_NUMBERS = 100_000
#: Deepest nesting of braces, brackets and environments inside one formula.
MAX_DEPTH = 100
#: Longest number, in digits.
MAX_DIGITS = 30
#: Largest power of ten written in a number (1.2 \times 10^{-3}, 1e-3).
MAX_EXPONENT = 300
#: Most training steps a solution may refer to ("step 40" in a spec that trains for 3 is read as far as this).
MAX_STEPS = 50
#: CPU seconds one solution may take, reading to findings.
TIME_LIMIT = 30.0


class CheckError(ValueError):
    """A solution that cannot be checked: unreadable, over a bound, or a spec without numbers.
    str() says what, where (the line, from 1) and what was expected."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class Deadline:
    """A CPU-time budget; the long loops of reading and diagnosing call `check()`.
    CPU time, not wall time, so that a loaded machine does not turn a good file into an error."""

    def __init__(self, seconds: float = TIME_LIMIT) -> None:
        self.seconds = seconds
        self.end = time.process_time() + seconds

    def check(self) -> None:
        if time.process_time() > self.end:
            raise CheckError(f"the solution could not be checked within {self.seconds:g} s of CPU time")
