"""Grading a CSV of answers (columns id, target, answer, named as the file names them; others carried
through) in worker processes; with a `variant` column, each row against its student's variant.

Each answer is graded in a worker process of its own pool: a worker that crashes or runs past
the hard time limit is killed and replaced, and only its row fails (verdict `error` or
`timeout`). Every input row gets exactly one output row, in input order. Workers are forked
from a parent that has already loaded the network and its targets, so they start warm.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

from symbackprop import budget, cluster
from symbackprop.api import Network, UnknownTarget, load
from symbackprop.cluster import assert_can_fork
from symbackprop.verify.gradescope import results_json
from symbackprop.verify.hints import with_hints
from symbackprop.verify.limits import MAX_LENGTH, Deadline
from symbackprop.verify.result import VERDICTS, VerifyResult
from symbackprop.verify.verifier import Verifier, one_blas_thread

REQUIRED = ("id", "target", "answer")
#: Columns that may be mapped too: the points a row is worth (Gradescope's max_score; default 1), and the
#: student's variant of the exercise the row is graded against (blank: the exercise itself).
OPTIONAL = ("points", "variant")
OUTPUT = ("id", "target", "answer", "verdict", "feedback", "seconds", "score")
#: A worker gets this many CPU seconds beyond the answer's own time limit before it is killed.
GRACE = 5.0
#: ... and this many times the limit in wall-clock time, whatever the CPU time (a worker that waits forever).
WALL_FACTOR = 20.0
#: Most points one row may be worth.
MAX_POINTS = 1e6
#: Largest CSV file read, in bytes. Any cell of it is read, however long: an oversized answer or
#: target is that row's `unreadable` verdict, not the whole batch's failure.
MAX_FILE = 256 * 1024 * 1024
#: Longest target a row may name.
MAX_TARGET = 200
#: What a spreadsheet reads as the start of a formula (=, +, -, @, tab, carriage return): such a
#: cell of the output CSV gets a leading ' (OWASP's advice against CSV injection); JSON is verbatim.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class BatchError(Exception):
    """The CSV file itself cannot be read: exit 2."""


@dataclass(frozen=True)
class Table:
    """The rows of a CSV, keyed by our names (id, target, answer, points) for the mapped columns and
    by the file's own names for the others."""

    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in REQUIRED + OPTIONAL)


def parse_columns(text: str) -> dict[str, str]:
    """`id=student,target=question,answer=response` as {our name: the file's column}; raises BatchError."""
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        ours, equals, theirs = part.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not equals or not theirs or ours not in REQUIRED + OPTIONAL:
            raise BatchError(
                f"--columns: {part!r} is not NAME=COLUMN with NAME one of "
                f"{', '.join(REQUIRED + OPTIONAL)} (e.g. id=student,target=question,answer=response)"
            )
        if ours in mapping:
            raise BatchError(f"--columns: {ours} is mapped twice")
        mapping[ours] = theirs
    return mapping


def read_table(path: str | Path, columns: dict[str, str] | None = None) -> Table:
    """The rows of a CSV with a header holding id, target and answer, or the columns `columns` maps
    them to ({"id": "student", ...}); without an id column the rows are numbered from 1 (one
    student's submission). Raises BatchError."""
    mapping = columns or {}
    try:
        if Path(path).stat().st_size > MAX_FILE:
            raise BatchError(f"{path}: larger than {MAX_FILE // 2**20} MB")
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise BatchError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise BatchError(f"{path}: not UTF-8 text (byte {error.start})") from None
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if not header:
            raise BatchError(f"{path}: empty file (expected a header with {', '.join(REQUIRED)})")
        found = tuple(name.strip() for name in header)
        duplicated = sorted(name for name, count in Counter(found).items() if count > 1)
        if duplicated:
            raise BatchError(f"{path}: column(s) {', '.join(duplicated)} appear more than once")
        ours = {theirs: name for name, theirs in mapping.items()}
        numbered = "id" not in mapping and "id" not in found  # one submission's file: rows numbered from 1
        missing = [
            mapping.get(name, name)
            for name in REQUIRED
            if mapping.get(name, name) not in found and not (name == "id" and numbered)
        ]
        missing += [theirs for name, theirs in mapping.items() if name in OPTIONAL and theirs not in found]
        if missing:
            hint = "" if mapping else "; name yours with --columns id=...,target=...,answer=..."
            raise BatchError(
                f"{path}: missing column(s) {', '.join(missing)} (the header has {', '.join(found) or 'nothing'}{hint})"
            )
        taken = [name for name in found if name in REQUIRED + OPTIONAL and name not in ours and name in mapping]
        if taken:
            raise BatchError(
                f"{path}: column(s) {', '.join(taken)} would be replaced by the column(s) mapped to "
                f"them with --columns; rename or drop one"
            )
        table_columns = tuple(ours.get(name, name) for name in found)
        rows: list[dict[str, str]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(table_columns)}
            if numbered:
                row["id"] = str(len(rows) + 1)
            if "points" in row and _points(row) is None:
                raise BatchError(
                    f"{path}:{reader.line_num}: points {row['points'][:40]!r} is not a number from 0 to {MAX_POINTS:g}"
                )
            rows.append(row)
    except csv.Error as error:
        raise BatchError(f"{path}:{reader.line_num}: {error}") from None
    finally:
        csv.field_size_limit(limit)
    return Table(("id", *table_columns) if numbered else table_columns, tuple(rows))


def _points(row: dict[str, str]) -> float | None:
    """What a row is worth: its points column (blank: 1), or None when that is not a number in range."""
    text = row.get("points", "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_POINTS else None


def grade(verifier: Verifier, target: str, answer: str, hint_level: int = 0) -> dict[str, Any]:
    """One row's verdict as a dict (in a worker), with hints up to `hint_level`; never raises."""
    start = time.monotonic()
    try:
        if not target.strip():
            raise UnknownTarget("the row has no target")
        if len(target) > MAX_TARGET:
            raise UnknownTarget(f"the target is {len(target):,} characters long; the limit is {MAX_TARGET}")
        if len(answer) > MAX_LENGTH:
            return _failed(
                target[:MAX_TARGET],
                "unreadable",
                f"the answer is {len(answer):,} characters long; the limit is {MAX_LENGTH}",
                time.monotonic() - start,
            )
        return with_hints(verifier, verifier.verify(target, answer), hint_level).to_dict()
    except UnknownTarget as error:
        return _failed(target[:MAX_TARGET], "unreadable", str(error), time.monotonic() - start)
    except MemoryError:
        return _failed(
            target,
            "error",
            f"this answer needs more memory than a worker's budget of {budget.WORKER_MB} MB",
            time.monotonic() - start,
        )
    except Exception as error:  # noqa: BLE001 - one bad row must not stop the batch
        return _failed(target, "error", f"internal error: {type(error).__name__}: {error}", time.monotonic() - start)


def _failed(target: str, verdict: str, message: str, seconds: float) -> dict[str, Any]:
    return VerifyResult(target, verdict, "", "", (message,), seconds=seconds).to_dict()


def _one_blas_thread() -> None:
    """Workers share the cores: a multi-threaded BLAS in each oversubscribes them (the full-size
    autoencoder grades 4x slower with 2 workers on 2 cores), so each worker keeps to one BLAS thread."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


#: glibc's mallopt parameters, and the values a grading worker sets when the environment fixed them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20


def _adaptive_heap() -> None:
    """Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (so that long-lived workers give memory
    back); glibc then drops its adaptive thresholds, maps and unmaps every array over 128 kB at each use
    and trims the heap after each free: grading the full-size autoencoder took 2.5 times the CPU time in
    such a process. A grading worker is short-lived and watched by its memory budget, so it sets the
    thresholds glibc's adaptive mode would reach (arrays up to 32 MB from the heap, reused)."""
    if not sys.platform.startswith("linux") or not any(
        name in os.environ for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
    ):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc: its own allocator's settings stand
        pass


#: The signals that stop a batch: the parent handles them, a worker must not (see _serve).
_STOPPING = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
#: Seconds between a waiting worker's checks that its parent is still there.
_ORPHAN_CHECK = 1.0


def _serve(connection: Connection, verifier: Verifier, hint_level: int, parent: int, parent_end: Connection) -> None:
    """A worker: grade each (index, target, answer) received until None, or until the parent is gone.

    Ctrl-C reaches every process of the terminal's group: the parent alone handles it (it stops the
    workers), so a worker ignores SIGINT and dies at once on SIGTERM, printing nothing. The worker
    is forked with these signals held (_hire), so none arrives before it has said so. A worker
    whose parent died (SIGKILL) goes too instead of holding the parent's stdout open: on Linux the
    kernel kills it, elsewhere it notices within _ORPHAN_CHECK seconds."""
    _die_with(parent)
    parent_end.close()  # the fork's copy of the parent's end: with it open, the parent's exit is no EOF here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
    budget.watch(budget.WORKER_MB, lambda: os._exit(budget.MEMORY_EXIT))  # its row says why
    _one_blas_thread()
    _adaptive_heap()
    try:
        while True:
            while not connection.poll(_ORPHAN_CHECK):
                if os.getppid() != parent:
                    return
            job = connection.recv()
            if job is None:
                return
            index, target, answer = job
            connection.send((index, grade(verifier, target, answer, hint_level)))
    except (EOFError, OSError):
        return


def worker_count(requested: int, rows: int) -> int:
    """The workers a batch starts: as asked, but no more than the rows, the cores this process may
    run on, and the workers whose memory budget (budget.WORKER_MB) the free memory holds; at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested, rows, cores, _free_mb() // budget.WORKER_MB))


def _free_mb() -> int:
    """Memory available to new processes, in MB (MemAvailable on Linux; else free pages; else no bound)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        return 2**31


def _die_with(parent: int) -> None:
    """On Linux, ask the kernel to kill this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl here: the orphan check still applies
            pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(0)


class _Worker:
    def __init__(self, context: Any, verifier: Verifier, hint_level: int = 0) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, verifier, hint_level, os.getpid(), self.connection), daemon=True
        )
        self.process.start()
        child.close()
        self.job: int | None = None
        self.started = 0.0
        self.cpu_started: float | None = None

    def give(self, index: int, target: str, answer: str) -> None:
        self.job, self.started = index, time.monotonic()
        self.cpu_started = _cpu_seconds(self.process.pid)
        self.connection.send((index, target, answer))

    def overran(self, limit: float) -> bool:
        """Past the limit in CPU seconds spent on this job (where the system tells them), or far past it in
        wall-clock time: a busy machine slows a worker down but does not make it overrun."""
        wall = time.monotonic() - self.started
        used = _cpu_seconds(self.process.pid)
        if used is None or self.cpu_started is None:
            return wall > limit
        return used - self.cpu_started > limit or wall > WALL_FACTOR * limit

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


def _hire(pool: list[_Worker], position: int | None, context: Any, verifier: Verifier, hint_level: int = 0) -> None:
    """Start a worker and put it in the pool (at `position`, else at the end) with the stopping signals
    held, so that a signal is handled only once the pool knows the worker and can stop it."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        worker = _Worker(context, verifier, hint_level)
        if position is None:
            pool.append(worker)
        else:
            pool[position] = worker
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


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


def grade_rows(
    verifier: Verifier,
    jobs: list[tuple[str, str]],
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
    hint_level: int = 0,
) -> list[dict[str, Any]]:
    """The verdict dict of each (target, answer), in order; each graded in a worker process that is
    replaced if it crashes or overruns the time limit (its row then says `error` or `timeout`)."""
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    if not jobs:
        return []
    context = _context()
    limit = verifier.time_limit + GRACE
    pending = deque(range(len(jobs)))
    pool: list[_Worker] = []
    done = 0
    try:
        for _ in range(worker_count(workers, len(jobs))):
            _hire(pool, None, context, verifier, hint_level)
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
                    if worker.process.exitcode == budget.MEMORY_EXIT:
                        crash = (
                            f"this answer needs more memory than a worker's budget of {budget.WORKER_MB} MB; "
                            "the grader was stopped"
                        )
                    else:
                        crash = f"the grader crashed on this answer (exit code {worker.process.exitcode})"
                    outcome = _failed(jobs[index][0], "error", crash, elapsed)
                elif worker.overran(limit):
                    outcome = _failed(
                        jobs[index][0],
                        "timeout",
                        f"no verdict within {limit:g} s of CPU time; the grader was stopped",
                        elapsed,
                    )
                else:
                    continue
                worker.job = None
                if failed:
                    worker.stop(kill=True)
                    _hire(pool, position, context, verifier, hint_level)
                results[index] = outcome
                done += 1
                if on_progress is not None:
                    on_progress(done)
    finally:
        for worker in pool:
            worker.stop(kill=worker.job is not None)
    return [result for result in results if result is not None]


def _cpu_seconds(pid: int | None) -> float | None:
    """The CPU time (user and system) a process has used, from /proc; None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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


#: Grades (target, answer) jobs in order, calling back with the number done: the local pool, or a cluster.
Executor = Callable[[list[tuple[str, str]], Callable[[int], None]], list[dict[str, Any]]]
#: A student's variant by id: its network and its spec's YAML; raises LookupError (with the message for
#: the row) for an id there is no variant of.
VariantLookup = Callable[[str], tuple[Network, str]]


@dataclass(frozen=True)
class Report:
    table: Table
    results: tuple[dict[str, Any], ...]
    seconds: float
    workers: int
    hints: bool = False  # a hints column in the CSV
    place: str = ""  # where the rows were graded, if not in the local pool

    def rows(self) -> list[dict[str, str]]:
        out = []
        for row, result in zip(self.table.rows, self.results, strict=True):
            line = {
                "id": row["id"],
                "target": row["target"],
                "answer": row["answer"],
                "verdict": result["verdict"],
                "feedback": " | ".join(result["feedback"]),
                "seconds": f"{result['seconds']:.3f}",
                "score": f"{result['score']:g}",
            }
            if "variant" in row:
                line["variant"] = row["variant"]
            if self.hints:
                line["hints"] = " | ".join(f"{hint['level']}: {hint['text']}" for hint in result.get("hints", ()))
            out.append({**line, **{name: row[name] for name in self.table.extra}})
        return out

    @staticmethod
    def inert(cell: str) -> str:
        """A cell a spreadsheet shows as text: one that would start a formula gets a leading '."""
        return "'" + cell if cell.startswith(FORMULA_START) else cell

    def csv(self) -> str:
        buffer = io.StringIO(newline="")
        fields = [
            *OUTPUT,
            *(["variant"] if "variant" in self.table.columns else []),
            *(["hints"] if self.hints else []),
            *self.table.extra,
        ]
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({name: self.inert(cell) for name, cell in row.items()} for row in self.rows())
        return buffer.getvalue()

    def json(self) -> str:
        documents = []
        for row, result in zip(self.table.rows, self.results, strict=True):
            extra = {name: row[name] for name in self.table.extra}
            points = {"points": _points(row)} if "points" in row else {}
            variant = {"variant": row["variant"]} if "variant" in row else {}
            documents.append({"id": row["id"], **variant, **result, **points, **({"columns": extra} if extra else {})})
        return json.dumps(documents, indent=2, ensure_ascii=False) + "\n"

    def gradescope(self) -> str:
        """Gradescope's results.json: one test per row, worth its points (docs/platforms.md)."""
        rows = [(row["id"], row["target"], row["answer"], _points(row) or 0.0) for row in self.table.rows]
        return (
            json.dumps(results_json(rows, self.results, self.seconds, self.summary()), indent=2, ensure_ascii=False)
            + "\n"
        )

    def summary(self) -> str:
        counts = Counter(result["verdict"] for result in self.results)
        parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
        place = self.place or f"with {self.workers} worker(s)"
        return f"verify: {len(self.results)} row(s) in {self.seconds:.1f} s {place}{': ' + parts if parts else ''}"


#: Verifiers a Dask worker keeps, by spec and time limit (the most recently used last).
_VERIFIERS: OrderedDict[tuple[str, float], Verifier] = OrderedDict()
_MAX_VERIFIERS = 16
#: One chunk at a time per Dask worker process: its verifier is warmed and its pool forked alone.
_CHUNK_LOCK = threading.Lock()


def grade_chunk(
    spec_text: str, time_limit: float, hint_level: int, jobs: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """A Dask task: grade `jobs` as the local pool does (a forked process per row, killed and replaced
    on a crash or a time-out), with a verifier built once per worker process for this spec."""
    assert_can_fork()
    with _CHUNK_LOCK:
        key = (hashlib.sha256(spec_text.encode("utf-8")).hexdigest(), time_limit)
        verifier = _VERIFIERS.pop(key, None) or Verifier(load(spec_text), time_limit)
        _VERIFIERS[key] = verifier
        while len(_VERIFIERS) > _MAX_VERIFIERS:
            _VERIFIERS.popitem(last=False)
        warm(verifier, {target for target, _ in jobs})
        return grade_rows(verifier, jobs, workers=1, hint_level=hint_level)


def dask_executor(scheduler: str, spec_text: str, time_limit: float, hint_level: int = 0) -> Executor:
    """Grade on the Dask cluster at `scheduler` (cluster.py); the spec travels as its YAML text."""

    def execute(jobs: list[tuple[str, str]], on_progress: Callable[[int], None]) -> list[dict[str, Any]]:
        return cluster.run(
            scheduler,
            grade_chunk,
            (spec_text, time_limit, hint_level),
            jobs,
            lambda job, message: _failed(job[0], "error", message, 0.0),
            on_progress,
        )

    return execute


def warm(verifier: Verifier, targets: set[str]) -> None:
    """Build each target's explanations (its mutations and their values) once, before forking."""
    for name in targets:
        try:
            case = verifier.case(name)
        except UnknownTarget:
            continue
        verifier.deadline = Deadline(max(verifier.time_limit, 60.0))
        with one_blas_thread():
            _ = case.explainer, case.extra


def grade_table(
    verifier: Verifier,
    table: Table,
    workers: int = 2,
    progress: bool = False,
    hint_level: int = 0,
    executor: Executor | None = None,
    place: str = "",
    variants: VariantLookup | None = None,
    executor_for: Callable[[str], Executor] | None = None,
) -> Report:
    """Grade every row of `table` in the local pool of `workers` processes, or with `executor` (`place`
    says where, for the summary line). With `variants`, a row with a `variant` is graded against that
    variant's network (a verifier built once per variant; `executor_for(spec_text)` grades its rows
    elsewhere); a variant `variants` does not know makes its rows `unreadable`."""
    start = time.monotonic()
    bar = Progress(len(table.rows), sys.stderr if progress else None)
    results: list[dict[str, Any] | None] = [None] * len(table.rows)
    done = 0
    for ident, indices in _by_variant(table, variants is not None).items():
        jobs = [(table.rows[i]["target"], table.rows[i]["answer"]) for i in indices]
        group_verifier, group_executor = verifier, executor
        if ident and variants is not None:
            try:
                net, spec_text = variants(ident)
            except LookupError as error:
                for i, (target, _) in zip(indices, jobs, strict=True):
                    results[i] = _failed(target[:MAX_TARGET], "unreadable", str(error.args[0]), 0.0)
                done += len(indices)
                bar.update(done)
                continue
            group_verifier = Verifier(net, verifier.time_limit)
            group_executor = executor_for(spec_text) if executor_for is not None else None
        offset = done

        def moved(count: int, offset: int = offset) -> None:
            bar.update(offset + count)

        if group_executor is None:
            warm(group_verifier, {target for target, _ in jobs})
            graded = grade_rows(group_verifier, jobs, workers, moved, hint_level)
        else:
            graded = group_executor(jobs, moved)
        for i, result in zip(indices, graded, strict=True):
            results[i] = result
        done += len(indices)
    bar.update(len(table.rows), final=True)
    return Report(
        table,
        tuple(r for r in results if r is not None),
        time.monotonic() - start,
        worker_count(workers, len(table.rows)),
        hints=hint_level > 0,
        place=place,
    )


def _by_variant(table: Table, per_row: bool) -> dict[str, list[int]]:
    """The rows' indices by variant id ("" for the exercise itself), groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(table.rows):
        groups.setdefault(row.get("variant", "").strip() if per_row else "", []).append(index)
    return groups
