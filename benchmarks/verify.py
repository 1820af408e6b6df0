"""How fast answers are graded: a benchmark script, not a test.

Two bounds (exit 1 if one fails):

* a single verdict, warm (the Verifier built, each target's mutations built once): median < 100 ms,
  over a mix of answers (every printed form of every target, and wrong and unreadable ones);
* 1,000 answers of that mix in a CSV graded with `--batch --workers 2`, as one
  `symbackprop verify` process (spec load, forks, the summary): < 60 s wall time.

It also reports the cold costs: a fresh Verifier, and building one target's mutations (what the
first wrong answer for a target pays, once per process).

    python benchmarks/verify.py [--spec specs/relu_4321.yaml] [--answers 1000] [--workers 2]
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
from pathlib import Path

import numpy
import sympy

import symbackprop as sbp
from symbackprop.api import FORMS
from symbackprop.verify import Verifier

SINGLE_BOUND = 0.100  # seconds, median warm verdict
BATCH_BOUND = 60.0  # seconds for the batch
WRONG = ("-({})", "2 ({})", "({})^T", "({}) + 1", "x ({})", "({}) net")


def answers(net: sbp.Network) -> list[tuple[str, str]]:
    """Every printed form of every target (right), and each turned into wrong or unreadable answers."""
    out = []
    for target in net.derive().targets:
        for form in FORMS:
            out += [(target.name, target.text(form)), (target.name, target.latex(form))]
        matrix = target.text("matrix").split(" = ", 1)[1]
        out += [(target.name, pattern.format(matrix)) for pattern in WRONG]
    return out


def single(spec: str) -> dict[str, float]:
    net = sbp.load(spec)
    net.derive()
    start = time.perf_counter()
    verifier = Verifier(net)
    built = time.perf_counter() - start
    mix = answers(net)
    cold = []
    for target in net.derive().targets:  # what the first wrong answer for a target pays, once
        start = time.perf_counter()
        _ = verifier.case(target.name).explainer
        cold.append(time.perf_counter() - start)
    for target, answer in mix:  # warm-up: each answer's own lazy values
        verifier.verify(target, answer)
    times = []
    for target, answer in mix:
        start = time.perf_counter()
        verifier.verify(target, answer)
        times.append(time.perf_counter() - start)
    return {"answers": len(mix), "verifier": built, "mutations of a target (median)": statistics.median(cold),
            "mutations of a target (max)": max(cold), "median": statistics.median(times),
            "p90": sorted(times)[int(0.9 * len(times))], "max": max(times)}


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
        done = subprocess.run([sys.executable, "-m", "symbackprop", "verify", spec, "--batch", str(path),
                               "--workers", str(workers), "-o", str(Path(folder) / "graded.csv")],
                              capture_output=True, text=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"the batch failed: {done.stderr}")
        print(f"  {done.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="specs/relu_4321.yaml")
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {numpy.__version__}, "
          f"{platform.system()} {platform.machine()}, nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    figures = single(args.spec)
    print(f"single verdicts on {args.spec} ({figures['answers']} answers):")
    for name in ("verifier", "mutations of a target (median)", "mutations of a target (max)", "median", "p90", "max"):
        print(f"  {name}: {figures[name] * 1000:.1f} ms")
    elapsed = batch(args.spec, args.answers, args.workers)
    print(f"batch: {args.answers} answers, {args.workers} workers: {elapsed:.1f} s")
    ok_single, ok_batch = figures["median"] < SINGLE_BOUND, elapsed < BATCH_BOUND
    print(f"median warm verdict < {SINGLE_BOUND * 1000:.0f} ms: {'ok' if ok_single else 'FAIL'}")
    print(f"{args.answers} answers with {args.workers} workers < {BATCH_BOUND:.0f} s: {'ok' if ok_batch else 'FAIL'}")
    return 0 if ok_single and ok_batch else 1


if __name__ == "__main__":
    sys.exit(main())
