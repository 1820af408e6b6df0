"""How fast answers are graded: a benchmark script, not a test.

For every shipped spec (specs/*.yaml) and a generic chain (f_1, f_2, f_3 as unknown functions):

* single verdicts, warm: the Verifier built and each target's mutations built once (what a batch
  does before its workers start), then every answer graded once, as a new answer: every printed
  form of every target, in text and LaTeX (right), and each matrix form turned wrong six ways
  (a flipped sign, a factor, a transpose, an added constant, an extra factor, an unknown name).
  Median and p99 in CPU time (of the grading thread: while the verifier's CPU-time limit is armed,
  Linux counts the process's CPU time only at each clock tick, 4 ms here; NumPy's BLAS runs on that
  one thread while answers are graded), right and wrong separately, with how they were decided;
* the cold costs: a fresh Verifier, and building one target's mutations (what the first wrong
  answer for a target pays, once per process).

Bounds (exit 1 if one fails): median warm verdict < 100 ms and p99 < 1 s, right and wrong, on
every spec; and 1,000 answers of the 4-3-2-1 mix in a CSV graded with `--batch --workers 2`, as
one `symbackprop verify` process, < 60 s wall time.

    python benchmarks/verify.py [--spec specs/relu_4321.yaml ...] [--answers 1000 (0: no batch)] [--workers 2]
                                [--markdown]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy
import sympy

import symbackprop as sbp
from symbackprop.verify import Verifier

ROOT = Path(__file__).resolve().parent.parent
FORMS = ("chain", "symbolic", "simplified", "matrix", "index")
MEDIAN_BOUND = 0.100  # seconds, median warm verdict
P99_BOUND = 1.0  # seconds, 99th percentile warm verdict
BATCH_BOUND = 60.0  # seconds for the batch
BATCH_SPEC = "specs/relu_4321.yaml"
WRONG = ("-({})", "2 ({})", "({})^T", "({}) + 1", "x ({})", "({}) net")
GENERIC_CHAIN: dict[str, Any] = {
    "name": "generic chain f_1, f_2, f_3",
    "input": {"name": "x", "size": 3},
    "target": {"name": "y", "size": 2},
    "layers": [
        {"name": "1", "units": 3, "activation": {"function": "f_1"}},
        {"name": "2", "units": 3, "activation": {"function": "f_2"}},
        {"name": "3", "units": 2, "activation": {"function": "f_3"}},
    ],
    "loss": "half_squared_error",
}


def answers(net: sbp.Network) -> list[tuple[str, str]]:
    """The whole mix, right answers then wrong ones (benchmarks/batch_scale.py grades it too)."""
    right, wrong = answer_mix(net)
    return right + wrong


def answer_mix(net: sbp.Network) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(right, wrong): every printed form of every target, and each matrix form turned wrong."""
    right, wrong = [], []
    for target in net.derive().targets:
        for form in FORMS:
            right += [(target.name, target.text(form)), (target.name, target.latex(form))]
        matrix = target.text("matrix").split(" = ", 1)[1]
        wrong += [(target.name, pattern.format(matrix)) for pattern in WRONG]
    return right, wrong


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def single(spec: str | dict[str, Any]) -> dict[str, Any]:
    """Cold costs, then each answer graded once on a warm Verifier (CPU seconds)."""
    net = sbp.load(spec)
    net.derive()
    start = time.thread_time()
    verifier = Verifier(net)
    built = time.thread_time() - start
    cold = []
    for target in net.derive().targets:  # what the first wrong answer for a target pays, once per process
        start = time.thread_time()
        _ = verifier.case(target.name).explainer
        cold.append(time.thread_time() - start)
    right, wrong = answer_mix(net)
    figures: dict[str, Any] = {
        "verifier": built,
        "mutations (median)": statistics.median(cold),
        "mutations (max)": max(cold),
    }
    for label, mix in (("right", right), ("wrong", wrong)):
        times, verdicts, methods = [], Counter(), Counter()
        for target, answer in mix:
            start = time.thread_time()
            result = verifier.verify(target, answer)
            times.append(time.thread_time() - start)
            verdicts[result.verdict] += 1
            methods[result.method or "-"] += 1
        figures[label] = {
            "answers": len(mix),
            "median": statistics.median(times),
            "p99": percentile(times, 0.99),
            "max": max(times),
            "verdicts": dict(verdicts),
            "methods": dict(methods),
        }
    return figures


def batch(spec: str, count: int, workers: int) -> float:
    mix = answers(sbp.load(spec))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "target", "answer"])
            for i in range(count):
                writer.writerow([i, *mix[i % len(mix)]])
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "symbackprop",
                "verify",
                spec,
                "--batch",
                str(path),
                "--workers",
                str(workers),
                "-o",
                str(Path(folder) / "graded.csv"),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"the batch failed: {done.stderr}")
        print(f"  {done.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--spec", action="append", help="a spec (repeatable); default: every shipped spec and the generic chain"
    )
    parser.add_argument("--answers", type=int, default=1000, help="answers in the batch run (0: no batch run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/performance.md")
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {numpy.__version__}, "
        f"{platform.system()} {platform.machine()}, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    specs: list[tuple[str, str | dict[str, Any]]] = (
        [(s, s) for s in args.spec]
        if args.spec
        else [(str(p.relative_to(ROOT)), str(p)) for p in sorted((ROOT / "specs").glob("*.yaml"))]
        + [("generic chain (3-3-3-2)", GENERIC_CHAIN)]
    )
    ok = True
    rows = []
    for name, spec in specs:
        figures = single(spec)
        print(
            f"{name}: verifier {figures['verifier'] * 1000:.0f} ms, mutations of a target "
            f"{figures['mutations (median)'] * 1000:.0f} ms (max {figures['mutations (max)'] * 1000:.0f} ms)"
        )
        for label in ("right", "wrong"):
            f = figures[label]
            good = f["median"] < MEDIAN_BOUND and f["p99"] < P99_BOUND
            ok = ok and good
            print(
                f"  {label}: {f['answers']} answers, median {f['median'] * 1000:.1f} ms, "
                f"p99 {f['p99'] * 1000:.1f} ms, max {f['max'] * 1000:.1f} ms; verdicts {f['verdicts']}; "
                f"methods {f['methods']}{'' if good else '  FAIL'}"
            )
            rows.append((name, label, f))
    ok_batch = True
    if args.answers:
        elapsed = batch(BATCH_SPEC, args.answers, args.workers)
        ok_batch = elapsed < BATCH_BOUND
        print(
            f"batch: {args.answers} answers of {BATCH_SPEC}, {args.workers} workers: {elapsed:.1f} s "
            f"(< {BATCH_BOUND:.0f} s: {'ok' if ok_batch else 'FAIL'})"
        )
    if args.markdown:
        print("\n| spec | answers | n | median | p99 | max | decided by |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
        for name, label, f in rows:
            methods = ", ".join(f"{m} {c}" for m, c in sorted(f["methods"].items()))
            print(
                f"| {name} | {label} | {f['answers']} | {f['median'] * 1000:.1f} ms | {f['p99'] * 1000:.0f} ms | "
                f"{f['max'] * 1000:.0f} ms | {methods} |"
            )
    return 0 if ok and ok_batch else 1


if __name__ == "__main__":
    sys.exit(main())
