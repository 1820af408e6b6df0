"""`symbackprop verify`: what the command prints and returns (cli.py only parses options and calls).

Exit codes: a single answer gives 0 when equivalent, 1 when not, 2 when unreadable, out of
time or the options are bad; a batch gives 0 when every row got a verdict, 2 when the CSV
itself cannot be read (or the cluster cannot be reached).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from symbackprop.api import Network, UnknownTarget
from symbackprop.cluster import ClusterError
from symbackprop.verify.batch import (
    BatchError,
    Executor,
    VariantLookup,
    dask_executor,
    grade_table,
    parse_columns,
    read_table,
)
from symbackprop.verify.hints import with_hints
from symbackprop.verify.limits import TIME_LIMIT
from symbackprop.verify.verifier import Verifier

#: What --batch can write.
BATCH_FORMATS = ("csv", "json", "gradescope")
#: Where --batch grades.
EXECUTORS = ("local", "dask")


class CommandError(Exception):
    """Options or input the user must fix: exit 2 with this message."""


@dataclass(frozen=True)
class Options:
    """How to grade and what to write; the batch fields matter only with --batch."""

    as_json: bool = False
    time_limit: float = TIME_LIMIT
    hint_level: int = 0
    workers: int = 2
    progress: bool = False
    format: str = "csv"  # csv | json | gradescope
    columns: str | None = None  # id=student,target=question,answer=response
    executor: str = "local"  # local | dask
    scheduler: str | None = None  # the Dask scheduler's address
    spec_text: str | None = None  # the spec's YAML, sent to the Dask workers
    variants: VariantLookup | None = None  # each row's variant by the CSV's variant column
    variant: str | None = None  # --variant ID: every row against this one variant


@dataclass(frozen=True)
class Outcome:
    text: str  # for stdout or -o
    status: int
    messages: tuple[str, ...] = ()  # for stderr


def single(net: Network, target: str | None, answer: str | None, options: Options) -> Outcome:
    """One answer (`-` reads it from stdin)."""
    if answer is None:
        raise CommandError("give --answer A (or --batch FILE.csv)")
    if answer == "-":
        answer = sys.stdin.read().strip()
    verifier = Verifier(net, options.time_limit)
    try:
        result = with_hints(verifier, verifier.verify(target, answer), options.hint_level)
    except UnknownTarget as error:
        raise CommandError(f"--target: {error}") from None
    text = result.to_json() + "\n" if options.as_json else result.text()
    if result.verdict in ("unreadable", "timeout", "error"):
        return Outcome(text, 2, (f"error: {result.verdict} answer: {result.feedback[0]}",))
    return Outcome(text, 0 if result.equivalent else 1)


def batch(net: Network, path: str, options: Options) -> Outcome:
    """Every row of a CSV; the summary line goes to stderr."""
    if options.executor == "dask" and not options.scheduler:
        raise CommandError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    if options.scheduler and options.executor != "dask":
        raise CommandError("--scheduler is for --executor dask")
    try:
        table = read_table(path, parse_columns(options.columns) if options.columns else None)
    except BatchError as error:
        raise CommandError(str(error)) from None
    if "variant" in table.columns and options.variant is not None:
        raise CommandError(
            f"--variant {options.variant} grades every row against one variant, but {path} has a "
            f"variant column (each row's own): drop one"
        )
    executor, place, executor_for = None, "", None
    if options.executor == "dask":
        place = f"on the Dask cluster at {options.scheduler}"
        executor = dask_executor(
            options.scheduler or "", options.spec_text or "", options.time_limit, options.hint_level
        )

        def executor_for(spec_text: str) -> Executor:
            return dask_executor(options.scheduler or "", spec_text, options.time_limit, options.hint_level)

    try:
        report = grade_table(
            Verifier(net, options.time_limit),
            table,
            options.workers,
            options.progress or sys.stderr.isatty(),
            options.hint_level,
            executor,
            place,
            options.variants if "variant" in table.columns else None,
            executor_for,
        )
    except ClusterError as error:
        raise CommandError(str(error)) from None
    text = {"csv": report.csv, "json": report.json, "gradescope": report.gradescope}[options.format]()
    return Outcome(text, 0, (report.summary(),))
