"""Batch grading at scale: N answers (default 20,000) on the full-size autoencoder, graded by
`symbackprop verify --batch` with the local pool and on a Dask LocalCluster. A benchmark script,
not a test: it prints answers per second for each and checks that both gave the same results.

    nice -n 5 python benchmarks/batch_scale.py [--spec specs/recurrent_autoencoder.yaml] [--answers 20000]
                                               [--workers 2] [--seed 0] [--executors local,dask]

The answers are a class's worth of submissions over every target of the spec, drawn with a seeded
random generator (the same seed gives the same CSV, byte for byte):

* right (50 %): any printed form of the target (chain, symbolic, simplified, matrix, index), in
  plain text or LaTeX;
* mutated (25 %): one of the verifier's catalogue of mistakes (f' missing, f for f', another
  activation's derivative, a wrong variable, an index off by one, a missing term, an extra weight),
  written as a student would: the target's matrix form with the mistake in it, or with the wrong
  definition of one of its deltas written in place of that delta;
* wrong (15 %): the matrix form with a flipped sign, a factor 2, transposed, plus 1, or times x;
* unreadable (10 %): an unknown name, a truncated formula, unbalanced brackets, unclosed LaTeX, a
  sentence, code, an empty cell, an answer longer than the limit.

Each run is one `python -m symbackprop verify ...` process, start-up, spec load and summary
included; the Dask cluster (N single-threaded worker processes, which fork a grading process per
answer as the local pool does) is started before the clock starts, as a standing cluster would be.
Both runs must give the same verdict, feedback and score for every row, in input order (exit 1 if
not). Each run reports its wall time and its CPU time: the verify process and the grading processes
it forked (os.wait4), plus for Dask the cluster's processes during the run (psutil). The load average
is printed before and after each run: on a shared machine it says how much of the two cores the run
had, and answers per CPU second is the figure that does not depend on it.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy
import sympy
from sympy.matrices.expressions import MatrixSymbol

import symbackprop as sbp
from symbackprop.printing import to_text
from symbackprop.verify import Verifier
from symbackprop.verify.limits import MAX_LENGTH

FORMS = ("chain", "symbolic", "simplified", "matrix", "index")
#: Share of each kind of answer in the mix.
KINDS = {"right": 0.50, "mutated": 0.25, "wrong": 0.15, "unreadable": 0.10}
WRONG = ("-({})", "2 ({})", "({})^T", "({}) + 1", "x ({})")
#: At most this many of each target's mutations (the verifier lists the likeliest first).
MUTATIONS_PER_TARGET = 12


def pools(net: sbp.Network) -> dict[str, dict[str, list[str]]]:
    """{kind: {target: the distinct answers of that kind}}, every list in a fixed order."""
    verifier = Verifier(net)
    out: dict[str, dict[str, list[str]]] = {kind: {} for kind in KINDS}
    for target in net.derive().targets:
        right = []
        for form in FORMS:
            right += [target.text(form), target.latex(form)]
        matrix = target.text("matrix").split(" = ", 1)[1]
        mutated = []
        symbols = {s.name: s for s in target.matrix.atoms(MatrixSymbol)}
        for mutation in verifier.case(target.name).candidates:
            if mutation.key == "target" or mutation.name == target.name:
                formula = mutation.local
            elif mutation.name in symbols:  # a delta's wrong definition written where the delta stands
                formula = target.matrix.xreplace({symbols[mutation.name]: mutation.local})
            else:
                continue
            text = to_text(formula, verifier.names)
            if text not in mutated:
                mutated.append(text)
            if len(mutated) == MUTATIONS_PER_TARGET:
                break
        half = matrix[: len(matrix) // 2]
        unreadable = [
            f"({matrix}) net",
            half + " +",
            f"(({matrix})",
            r"\frac{" + target.latex("matrix"),
            "I don't know",
            "__import__('os').system('true')",
            "",
            "x " * (MAX_LENGTH // 2 + 1),
            f"{matrix} ^^ 2",
        ]
        out["right"][target.name] = right
        out["mutated"][target.name] = mutated
        out["wrong"][target.name] = [pattern.format(matrix) for pattern in WRONG]
        out["unreadable"][target.name] = unreadable
    return out


def mix(net: sbp.Network, count: int, seed: int) -> list[tuple[str, str, str]]:
    """`count` rows (kind, target, answer), drawn reproducibly from `seed`."""
    answers = pools(net)
    targets = [t.name for t in net.derive().targets]
    draw = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    rows = []
    for _ in range(count):
        kind = draw.choices(kinds, weights)[0]
        target = draw.choice([t for t in targets if answers[kind][t]])
        rows.append((kind, target, draw.choice(answers[kind][target])))
    return rows


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def run(spec: str, rows: Path, out: Path, *extra: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the verify process and the grading processes it forked, summary)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink, tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "symbackprop", "verify", spec, "--batch", str(rows), "-o", str(out), *extra],
            stdout=sink,
            stderr=errors,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace").strip()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: some answers were not right, as expected
        sys.exit(f"the batch failed (exit {code}): {stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime, stderr.splitlines()[-1] if stderr else ""


def tree_cpu(pid: int) -> float:
    """CPU seconds of the processes under `pid` (not itself): the running ones' own, and those of the
    children they have reaped (a Dask worker's grading processes)."""
    import psutil

    total = 0.0
    for process in psutil.Process(pid).children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def results(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8") as handle:
        return [(r["id"], r["verdict"], r["feedback"], r["score"]) for r in csv.DictReader(handle)]


def dask_run(spec: str, rows: Path, out: Path, workers: int) -> tuple[float, float, str]:
    """As run(), on a LocalCluster started before the clock; the CPU seconds add the cluster's (its
    nannies, workers and their grading processes) during the run."""
    import dask
    from dask.distributed import LocalCluster

    with (
        dask.config.set({"distributed.worker.daemon": False}),
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
    ):
        before = tree_cpu(os.getpid())
        elapsed, cpu, summary = run(spec, rows, out, "--executor", "dask", "--scheduler", cluster.scheduler_address)
        return elapsed, cpu + tree_cpu(os.getpid()) - before, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="specs/recurrent_autoencoder.yaml")
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--executors", default="local,dask", help="which runs, in order (local, dask)")
    parser.add_argument("--keep", type=Path, help="also copy the answers and both graded CSVs into this folder")
    args = parser.parse_args()
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    try:
        import dask

        dask_version = dask.__version__
    except ImportError:
        dask_version = "not installed"
    print(
        f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {numpy.__version__}, Dask "
        f"{dask_version}, {platform.system()} {platform.machine()}, nproc {os.cpu_count()}, {load()}",
        flush=True,
    )
    net = sbp.load(args.spec)
    rows = mix(net, args.answers, args.seed)
    kinds = Counter(kind for kind, _, _ in rows)
    print(
        f"{args.answers} answers over {len(net.derive().targets)} targets of {args.spec} (seed {args.seed}, "
        f"{len(set(rows))} distinct): " + ", ".join(f"{kinds[k]} {k}" for k in KINDS),
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        answers = Path(folder) / "answers.csv"
        with answers.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "target", "answer"])
            writer.writerows([i, target, answer] for i, (_, target, answer) in enumerate(rows))
        graded = {}
        for executor in executors:
            out = Path(folder) / f"{executor}.csv"
            before = load()
            if executor == "local":
                elapsed, cpu, summary = run(args.spec, answers, out, "--workers", str(args.workers))
                label = f"local pool, {args.workers} workers"
            elif executor == "dask":
                elapsed, cpu, summary = dask_run(args.spec, answers, out, args.workers)
                label = f"Dask LocalCluster, {args.workers} single-threaded workers"
            else:
                sys.exit(f"--executors: unknown executor {executor!r} (local, dask)")
            print(
                f"{label}: {elapsed:.1f} s, {args.answers / elapsed:.1f} answers/s; {cpu:.1f} CPU seconds, "
                f"{args.answers / cpu:.1f} answers per CPU second ({before} before, {load()} after)\n  {summary}",
                flush=True,
            )
            graded[executor] = results(out)
        first = graded[executors[0]]
        verdicts = Counter((kind, verdict) for (kind, _, _), (_, verdict, _, _) in zip(rows, first, strict=True))
        for kind in KINDS:
            print(f"  {kind}: " + ", ".join(f"{n} {v}" for (k, v), n in sorted(verdicts.items()) if k == kind))
        same = all(graded[e] == first for e in executors)
        if len(executors) > 1:
            print(f"the same verdicts, feedback and scores in the same order: {'yes' if same else 'NO'}")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in Path(folder).glob("*.csv"):
                (args.keep / path.name).write_bytes(path.read_bytes())
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
