"""Grading a CSV of answers (columns id, target, answer; others carried through) in worker processes.

Each answer is graded in a worker process of its own pool: a worker that crashes or runs past
the hard time limit is killed and replaced, and only its row fails (verdict `error` or
`timeout`). Every input row gets exactly one output row, in input order. Workers are forked
from a parent that has already loaded the network and its targets, so they start warm.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

from symbackprop.api import UnknownTarget
from symbackprop.schema import versioned
from symbackprop.verify.limits import Deadline
from symbackprop.verify.result import VERDICTS
from symbackprop.verify.verifier import Verifier

REQUIRED = ("id", "target", "answer")
OUTPUT = ("id", "target", "answer", "verdict", "feedback", "seconds")
#: A worker gets this many seconds beyond the answer's own time limit before it is killed.
GRACE = 5.0
#: Largest CSV cell read (an oversized answer is graded as unreadable, not lost).
MAX_CELL = 16 * 1024 * 1024


class BatchError(Exception):
    """The CSV file itself cannot be read: exit 2."""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in REQUIRED)


def read_table(path: str | Path) -> Table:
    """The rows of a CSV with a header holding id, target and answer; raises BatchError."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise BatchError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise BatchError(f"{path}: not UTF-8 text (byte {error.start})") from None
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if not header:
            raise BatchError(f"{path}: empty file (expected a header with {', '.join(REQUIRED)})")
        columns = tuple(name.strip() for name in header)
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise BatchError(f"{path}: missing column(s) {', '.join(missing)} (the header has "
                             f"{', '.join(columns) or 'nothing'})")
        duplicated = sorted(name for name, count in Counter(columns).items() if count > 1)
        if duplicated:
            raise BatchError(f"{path}: column(s) {', '.join(duplicated)} appear more than once")
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            rows.append({name: cells[i] if i < len(cells) else "" for i, name in enumerate(columns)})
    except csv.Error as error:
        raise BatchError(f"{path}:{reader.line_num}: {error}") from None
    finally:
        csv.field_size_limit(limit)
    return Table(columns, tuple(rows))


def grade(verifier: Verifier, target: str, answer: str) -> dict[str, Any]:
    """One row's verdict as a dict (in a worker); never raises."""
    start = time.monotonic()
    try:
        if not target.strip():
            raise UnknownTarget("the row has no target")
        return verifier.verify(target, answer).to_dict()
    except UnknownTarget as error:
        return _failed(target, "unreadable", str(error), time.monotonic() - start)
    except Exception as error:  # noqa: BLE001 - one bad row must not stop the batch
        return _failed(target, "error", f"internal error: {type(error).__name__}: {error}", time.monotonic() - start)


def _failed(target: str, verdict: str, message: str, seconds: float) -> dict[str, Any]:
    return versioned({"target": target, "equivalent": False, "verdict": verdict, "expected": "", "answer": "",
                      "feedback": [message], "score": 0.0, "partial_credit": [], "seconds": round(seconds, 4)})


def _one_blas_thread() -> None:
    """Workers share the cores: a multi-threaded BLAS in each oversubscribes them (the full-size
    autoencoder grades 4x slower with 2 workers on 2 cores), so each worker keeps to one BLAS thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _serve(connection: Connection, verifier: Verifier) -> None:
    """A worker: grade each (index, target, answer) received until None."""
    _one_blas_thread()
    while True:
        job = connection.recv()
        if job is None:
            return
        index, target, answer = job
        connection.send((index, grade(verifier, target, answer)))


class _Worker:
    def __init__(self, context: Any, verifier: Verifier) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, verifier), daemon=True)
        self.process.start()
        child.close()
        self.job: int | None = None
        self.started = 0.0

    def give(self, index: int, target: str, answer: str) -> None:
        self.job, self.started = index, time.monotonic()
        self.connection.send((index, target, answer))

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.connection.send(None)
            except OSError:
                self.process.kill()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class Progress:
    """A progress bar on stderr, redrawn at most five times a second."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.start = time.monotonic()
        self.shown = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.stream is None or (not final and now - self.shown < 0.2):
            return
        self.shown = now
        filled = int(30 * done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} rows  {now - self.start:.1f} s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _context() -> Any:
    """Fork where there is one: workers inherit the warm verifier instead of rebuilding it."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def grade_rows(verifier: Verifier, jobs: list[tuple[str, str]], workers: int = 2,
               on_progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """The verdict dict of each (target, answer), in order; each graded in a worker process that is
    replaced if it crashes or overruns the time limit (its row then says `error` or `timeout`)."""
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    if not jobs:
        return []
    context = _context()
    limit = verifier.time_limit + GRACE
    pending = deque(range(len(jobs)))
    pool = [_Worker(context, verifier) for _ in range(max(1, min(workers, len(jobs))))]
    done = 0
    try:
        while done < len(jobs):
            for worker in pool:
                if worker.job is None and pending:
                    index = pending.popleft()
                    worker.give(index, *jobs[index])
            busy = [w for w in pool if w.job is not None]
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout=0.2)
            for position, worker in enumerate(pool):
                if worker.job is None:
                    continue
                index, elapsed = worker.job, time.monotonic() - worker.started
                outcome, failed = _received(worker), True
                if outcome is not None:
                    failed = False
                elif _dead(worker):
                    outcome = _failed(jobs[index][0], "error", "the grader crashed on this answer (exit code "
                                      f"{worker.process.exitcode})", elapsed)
                elif elapsed > limit:
                    outcome = _failed(jobs[index][0], "timeout", f"no verdict within {limit:g} s; the grader was "
                                      "stopped", elapsed)
                else:
                    continue
                worker.job = None
                if failed:
                    worker.stop(kill=True)
                    pool[position] = _Worker(context, verifier)
                results[index] = outcome
                done += 1
                if on_progress is not None:
                    on_progress(done)
    finally:
        for worker in pool:
            worker.stop(kill=worker.job is not None)
    return [result for result in results if result is not None]


def _received(worker: _Worker) -> dict[str, Any] | None:
    """The worker's verdict on its job, if it has sent one."""
    try:
        if worker.connection.poll():
            return worker.connection.recv()[1]
    except (EOFError, OSError):
        return None
    return None


def _dead(worker: _Worker) -> bool:
    worker.process.join(timeout=0)
    return worker.process.exitcode is not None


@dataclass(frozen=True)
class Report:
    table: Table
    results: tuple[dict[str, Any], ...]
    seconds: float
    workers: int

    def rows(self) -> list[dict[str, str]]:
        out = []
        for row, result in zip(self.table.rows, self.results, strict=True):
            line = {"id": row["id"], "target": row["target"], "answer": row["answer"], "verdict": result["verdict"],
                    "feedback": " | ".join(result["feedback"]), "seconds": f"{result['seconds']:.3f}"}
            out.append({**line, **{name: row[name] for name in self.table.extra}})
        return out

    def csv(self) -> str:
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=[*OUTPUT, *self.table.extra], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return buffer.getvalue()

    def json(self) -> str:
        documents = []
        for row, result in zip(self.table.rows, self.results, strict=True):
            extra = {name: row[name] for name in self.table.extra}
            documents.append({"id": row["id"], **result, **({"columns": extra} if extra else {})})
        return json.dumps(documents, indent=2, ensure_ascii=False) + "\n"

    def summary(self) -> str:
        counts = Counter(result["verdict"] for result in self.results)
        parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
        return (f"verify: {len(self.results)} row(s) in {self.seconds:.1f} s with {self.workers} worker(s)"
                f"{': ' + parts if parts else ''}")


def grade_table(verifier: Verifier, table: Table, workers: int = 2, progress: bool = False) -> Report:
    """Grade every row of `table`; the explanations of each target are built once, before forking."""
    start = time.monotonic()
    for name in {row["target"] for row in table.rows}:
        try:
            case = verifier.case(name)
        except UnknownTarget:
            continue
        verifier.deadline = Deadline(max(verifier.time_limit, 60.0))
        _ = case.explainer
    bar = Progress(len(table.rows), sys.stderr if progress else None)
    jobs = [(row["target"], row["answer"]) for row in table.rows]
    results = grade_rows(verifier, jobs, workers, bar.update)
    bar.update(len(jobs), final=True)
    return Report(table, tuple(results), time.monotonic() - start, max(1, min(workers, len(jobs) or 1)))

