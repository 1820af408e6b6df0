"""The bounds every answer is held to, and the clock that enforces the time limit.

A grader reads text from people it cannot trust: each bound turns a hostile or runaway
answer into a clear message instead of a hung or crashed process.

The time limit counts CPU time (`time.process_time`), not wall-clock time: a busy machine
slows every answer down but cannot turn a right answer into a timeout, and the same answer
gets the same verdict on any machine load. Long loops call `Deadline.check()`; work that
never does (one big SymPy call) is stopped by `Deadline.enforced()`, a CPU-time timer
(SIGPROF) armed around the whole verdict in the main thread.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

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
#: CPU seconds one answer may take, parse to feedback.
TIME_LIMIT = 5.0


class OutOfTime(Exception):
    """The answer took more CPU time than its limit; `deadline` is the budget that ran out."""

    def __init__(self, message: str, deadline: Deadline | None = None) -> None:
        super().__init__(message)
        self.deadline = deadline


class Deadline:
    """A budget of CPU seconds, counted from its creation; `check()` raises OutOfTime once spent."""

    def __init__(self, seconds: float = TIME_LIMIT) -> None:
        self.seconds = seconds
        self.end = time.process_time() + seconds

    def left(self) -> float:
        """CPU seconds still to spend (negative once spent)."""
        return self.end - time.process_time()

    def check(self) -> None:
        if time.process_time() > self.end:
            raise self.spent()

    def spent(self) -> OutOfTime:
        return OutOfTime(f"the answer could not be checked within {self.seconds:g} s of CPU time", self)

    @contextmanager
    def enforced(self) -> Iterator[Deadline]:
        """Stop the work inside once the budget is spent, even where nothing calls check(): a CPU
        timer raises OutOfTime in the main thread. Nests (an inner, smaller budget gives back the
        outer one's timer when it ends); elsewhere than the main thread only check() counts."""
        if not _can_arm():
            yield self
            return
        outer = list(_ARMED)
        previous = signal.signal(signal.SIGPROF, _expired) if not outer else None
        _ARMED.append(self)
        _arm()
        try:
            yield self
        finally:
            _ARMED.pop()
            if outer:
                _arm()
            else:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.signal(signal.SIGPROF, previous if previous is not None else signal.SIG_DFL)


#: Deadlines enforced now, outermost first (main thread only).
_ARMED: list[Deadline] = []


def _can_arm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    """The timer set for the nearest end among the enforced deadlines (at least a millisecond away)."""
    left = min(deadline.left() for deadline in _ARMED)
    signal.setitimer(signal.ITIMER_PROF, max(left, 0.001))


def _expired(signum: int, frame: FrameType | None) -> None:
    spent = [deadline for deadline in _ARMED if deadline.left() <= 0]
    if not spent:  # the timer's granularity: not yet
        _arm()
        return
    raise spent[-1].spent()  # the innermost spent budget
