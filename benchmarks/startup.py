"""How fast the command line answers what needs no SymPy: a benchmark script, not a test.

Runs `python -m symbackprop` as a child of this process, --runs times each (default 7), for
`--version`, `--help`, every subcommand's `--help`, an option error and a spec with a typo in
an activation (exit 2 before any SymPy import), and prints the median wall time and the median
CPU time (user + system, read from the kernel's accounting of the child by os.wait4) of each.
For comparison it times the interpreter alone (`python -c pass`) and a process that imports
what a derivation needs (`import symbackprop.api`: SymPy, NumPy, the engine): what every one of
the commands above cost before the command line imported lazily.

CPU time is the figure to compare across machines and loads: on a busy machine wall time grows
while CPU time stays. tests/test_startup.py pins what makes start-up fast (the modules a run
loads), never a time.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAD_SPEC = (
    "name: bad\ninput: {name: x, size: 2}\ntarget: {name: y, size: 1}\n"
    "layers:\n  - {name: '1', units: 1, activation: rleu}\nloss: half_squared_error\n"
)


def commands() -> list[str]:
    """The subcommands, read from the parser (importing symbackprop.cli loads no SymPy)."""
    sys.path.insert(0, str(ROOT))
    from symbackprop.cli import build_parser

    parser = build_parser()
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return sorted(choices)


def measure(argv: list[str], cwd: Path, runs: int) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds, exit code) of `argv` run `runs` times as a child."""
    walls, cpus, codes = [], [], set()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        codes.add(os.waitstatus_to_exitcode(status))
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    return statistics.median(walls), statistics.median(cpus), max(codes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (the median is reported)")
    args = parser.parse_args(argv)
    python = [sys.executable]
    cli = [*python, "-m", "symbackprop"]
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        (cwd / "bad.yaml").write_text(BAD_SPEC, encoding="utf-8")
        cases = [
            ("`python -c pass` (the interpreter alone)", [*python, "-c", "pass"]),
            (
                "`python -c 'import symbackprop.api'` (SymPy, NumPy, the engine)",
                [*python, "-c", "import symbackprop.api"],
            ),
            ("`symbackprop --version`", [*cli, "--version"]),
            ("`symbackprop --help`", [*cli, "--help"]),
            *((f"`symbackprop {name} --help`", [*cli, name, "--help"]) for name in commands()),
            ("`symbackprop derive --form nope x` (an option error)", [*cli, "derive", "--form", "nope", "x"]),
            ("`symbackprop derive bad.yaml` (a typo in an activation)", [*cli, "derive", "bad.yaml"]),
        ]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {load:.2f}; median of {args.runs} runs each\n"
        )
        print("| command | wall | CPU | exit |")
        print("| --- | ---: | ---: | ---: |")
        for label, command in cases:
            wall, cpu, code = measure(command, cwd, args.runs)
            print(f"| {label} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {code} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
