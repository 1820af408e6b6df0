"""Batch grading at scale: N answers (default 20,000) on the full-size autoencoder, graded by
`symbackprop verify --batch` with the local pool and on a Dask LocalCluster. A benchmark script,
not a test: it prints answers per second for each and checks that both gave the same verdicts.

    python benchmarks/batch_scale.py [--spec specs/recurrent_autoencoder.yaml] [--answers 20000] [--workers 2]

The answers are the mix of benchmarks/verify.py (every printed form of every target, right, and
each turned wrong, of the wrong size, or unreadable), repeated. Each run is one
`python -m symbackprop verify ...` process, start-up, spec load and summary included; the Dask
cluster (N single-threaded worker processes that may start grading processes) is started before
the clock starts, as a standing cluster would be.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import numpy
import sympy
from dask.distributed import LocalCluster

import symbackprop as sbp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verify import answers  # noqa: E402  (benchmarks/verify.py: the same mix of answers)


def run(spec: str, rows: Path, out: Path, *extra: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "symbackprop", "verify", spec, "--batch", str(rows), "-o", str(out),
                           *extra], capture_output=True, text=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the batch failed: {done.stderr}")
    return elapsed, done.stderr.strip()


def verdicts(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8") as handle:
        return [(r["id"], r["verdict"], r["feedback"], r["score"]) for r in csv.DictReader(handle)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="specs/recurrent_autoencoder.yaml")
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, SymPy {sympy.__version__}, NumPy {numpy.__version__}, Dask "
          f"{dask.__version__}, {platform.system()} {platform.machine()}, nproc {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}")
    mix = answers(sbp.load(args.spec))
    with tempfile.TemporaryDirectory() as folder:
        rows = Path(folder) / "answers.csv"
        with rows.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "target", "answer"])
            for i in range(args.answers):
                writer.writerow([i, *mix[i % len(mix)]])
        local, summary = run(args.spec, rows, Path(folder) / "local.csv", "--workers", str(args.workers))
        print(f"local pool, {args.workers} workers: {local:.1f} s, {args.answers / local:.0f} answers/s\n  {summary}")
        with dask.config.set({"distributed.worker.daemon": False}), \
                LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0") as cluster:
            remote, summary = run(args.spec, rows, Path(folder) / "dask.csv", "--executor", "dask",
                                  "--scheduler", cluster.scheduler_address)
        print(f"Dask LocalCluster, {args.workers} workers: {remote:.1f} s, {args.answers / remote:.0f} answers/s\n"
              f"  {summary}")
        same = verdicts(Path(folder) / "local.csv") == verdicts(Path(folder) / "dask.csv")
        print(f"the same verdicts, feedback and scores in the same order: {'yes' if same else 'NO'}")
        print(f"load average after the runs: {os.getloadavg()[0]:.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
