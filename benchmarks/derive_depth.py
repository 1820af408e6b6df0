"""How derive() scales with depth: a benchmark script, not a test.

Builds chain specs as dicts (layers of 4 units, activations tanh, relu, sigmoid in turn), times
`symbackprop.load(d).derive()` at 10, 80 and 100 layers, and checks two bounds:

* linear in depth: time(80 layers) / time(10 layers) <= 10 (8x the layers, allowing fixed costs);
* fast: time(100 layers) < 1 s.

It also times what `symbackprop derive SPEC` does on a 100-layer spec (print every target in
text), in-process and as a fresh process, and, for information, the other forms and formats.

Each run loads a fresh network (derive() caches its result) and, unless --warm, clears SymPy's
global cache first, so every run is as cold as a new `symbackprop` process. Reported times are
the median of --runs runs. Exit 0 when both bounds hold, 1 otherwise.

    python benchmarks/derive_depth.py [--runs 7] [--warm] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sympy
import yaml
from sympy.core.cache import clear_cache

import symbackprop
from symbackprop.cli import main as cli_main

ACTIVATIONS = ("tanh", "relu", "sigmoid")
UNITS = 4
RATIO_BOUND = 10.0
DEEP_BOUND = 1.0  # seconds for 100 layers


def chain_spec(layers: int, units: int = UNITS) -> dict[str, Any]:
    """A chain x -> 1 -> 2 -> ... -> layers, every layer `units` wide with a bias."""
    return {
        "name": f"{layers}-layer chain",
        "input": {"name": "x", "size": units},
        "target": {"name": "y", "size": units},
        "layers": [
            {"name": str(k), "units": units, "activation": ACTIVATIONS[(k - 1) % len(ACTIVATIONS)]}
            for k in range(1, layers + 1)
        ],
        "loss": "half_squared_error",
    }


def median_time(work: Callable[[Any], object], runs: int, warm: bool, setup: Callable[[], Any] = lambda: None) -> float:
    """Median wall time of `work(setup())` over `runs` runs; `setup` is not timed."""
    times = []
    for _ in range(runs):
        if not warm:
            clear_cache()
        arg = setup()
        start = time.perf_counter()
        work(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_load_derive(layers: int, runs: int, warm: bool) -> dict[str, float]:
    spec = chain_spec(layers)
    total = median_time(lambda _: symbackprop.load(spec).derive(), runs, warm)
    derive_only = median_time(lambda net: net.derive(), runs, warm, setup=lambda: symbackprop.load(spec))
    return {"layers": layers, "load+derive": total, "derive": derive_only}


def run_cli_in_process(argv: list[str]) -> tuple[int, str]:
    """Run `symbackprop ARGV` in this process; return (exit code, the last line of stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except Exception as error:  # a crash is a result here: report it, keep measuring
            code, err = 1, io.StringIO(f"{type(error).__name__}: {str(error)[:200]}")
    lines = err.getvalue().strip().splitlines()
    return code, (lines[-1] if lines else "")


def time_cli(spec_path: Path, extra: list[str], runs: int, warm: bool) -> dict[str, Any]:
    argv = ["derive", str(spec_path), *extra]
    codes: list[tuple[int, str]] = []

    in_process = median_time(lambda _: codes.append(run_cli_in_process(argv)), runs, warm)
    process_times = []
    for _ in range(max(1, runs // 2)):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "symbackprop", *argv], capture_output=True, text=True)
        process_times.append(time.perf_counter() - start)
        codes.append((result.returncode, (result.stderr.strip().splitlines() or [""])[-1]))
    failures = sorted({f"exit {code}: {message}" for code, message in codes if code != 0})
    return {
        "command": "symbackprop " + " ".join(["derive", "chain100.yaml", *extra]),
        "in_process": in_process,
        "process": statistics.median(process_times),
        "failures": failures,
    }


def profile_derive(layers: int) -> str:
    spec = chain_spec(layers)
    clear_cache()
    profiler = cProfile.Profile()
    profiler.enable()
    symbackprop.load(spec).derive()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    return text.getvalue()


def machine() -> str:
    return (
        f"{platform.platform()}; nproc {os.cpu_count()}; Python {platform.python_version()}; "
        f"SymPy {sympy.__version__}; symbackprop {symbackprop.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (median reported)")
    parser.add_argument("--warm", action="store_true", help="keep SymPy's cache between runs")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of derive() on 100 layers")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    print(f"runs: median of {args.runs}, SymPy cache {'kept' if args.warm else 'cleared before each run'}\n")

    # warm-up: imports and first-call costs are not what this measures
    symbackprop.load(chain_spec(3)).derive()

    rows = [time_load_derive(n, args.runs, args.warm) for n in (10, 80, 100)]
    print(f"{'layers':>6}  {'load+derive':>12}  {'derive':>9}")
    for row in rows:
        print(f"{row['layers']:>6}  {row['load+derive'] * 1000:>9.1f} ms  {row['derive'] * 1000:>6.1f} ms")
    t10, t80, t100 = (row["load+derive"] for row in rows)
    ratio = t80 / t10
    ratio_ok, deep_ok = ratio <= RATIO_BOUND, t100 < DEEP_BOUND
    print(f"\n80/10 ratio: {ratio:.2f} (bound <= {RATIO_BOUND:g}): {'ok' if ratio_ok else 'FAIL'}")
    print(f"100 layers: {t100 * 1000:.1f} ms (bound < {DEEP_BOUND * 1000:g} ms): {'ok' if deep_ok else 'FAIL'}")

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "chain100.yaml"
        spec_path.write_text(yaml.safe_dump(chain_spec(100), sort_keys=False), encoding="utf-8")
        print("\nsymbackprop derive on 100 layers (output to a file; in-process, then a fresh process)")
        required = time_cli(spec_path, ["-o", os.devnull], args.runs, args.warm)
        informational = [
            time_cli(spec_path, extra + ["-o", os.devnull], max(3, args.runs // 2), args.warm)
            for extra in (
                ["--format", "latex"],
                ["--format", "json"],
                ["--form", "symbolic"],
                ["--form", "all", "--format", "json"],
            )
        ]
        for row in [required, *informational]:
            status = "ok" if not row["failures"] else "FAILED: " + "; ".join(row["failures"])
            print(
                f"  {row['command'].replace(' -o ' + os.devnull, ''):<58} {row['in_process'] * 1000:>7.1f} ms"
                f"  {row['process'] * 1000:>7.1f} ms  {status}"
            )
    cli_ok = not required["failures"]

    if args.profile or not (ratio_ok and deep_ok):
        print("\ncProfile of load(100 layers).derive(), by cumulative time:")
        print(profile_derive(100))
    return 0 if ratio_ok and deep_ok and cli_ok else 1


if __name__ == "__main__":
    sys.exit(main())
