"""`symbackprop verify`: what the command prints and returns (cli.py only parses options and calls).

Exit codes: a single answer gives 0 when equivalent, 1 when not, 2 when unreadable, out of
time or the options are bad; a batch gives 0 when every row got a verdict, 2 when the CSV
itself cannot be read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from symbackprop.api import Network, UnknownTarget
from symbackprop.verify.batch import BatchError, grade_table, read_table
from symbackprop.verify.verifier import Verifier


class CommandError(Exception):
    """Options or input the user must fix: exit 2 with this message."""


@dataclass(frozen=True)
class Outcome:
    text: str  # for stdout or -o
    status: int
    messages: tuple[str, ...] = ()  # for stderr


def single(net: Network, target: str | None, answer: str | None, as_json: bool, time_limit: float) -> Outcome:
    """One answer (`-` reads it from stdin)."""
    if answer is None:
        raise CommandError("give --answer A (or --batch FILE.csv)")
    if answer == "-":
        answer = sys.stdin.read().strip()
    try:
        result = Verifier(net, time_limit).verify(target, answer)
    except UnknownTarget as error:
        raise CommandError(f"--target: {error}") from None
    text = result.to_json() + "\n" if as_json else result.text()
    if result.verdict in ("unreadable", "timeout", "error"):
        return Outcome(text, 2, (f"error: {result.verdict} answer: {result.feedback[0]}",))
    return Outcome(text, 0 if result.equivalent else 1)


def batch(net: Network, path: str, workers: int, as_json: bool, progress: bool, time_limit: float) -> Outcome:
    """Every row of a CSV; the summary line goes to stderr."""
    try:
        table = read_table(path)
    except BatchError as error:
        raise CommandError(str(error)) from None
    report = grade_table(Verifier(net, time_limit), table, workers, progress or sys.stderr.isatty())
    return Outcome(report.json() if as_json else report.csv(), 0, (report.summary(),))
