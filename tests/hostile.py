"""Run `python -m symbackprop ...` as an attacker would, and measure what it cost.

Each hostile test asserts three things of a run: its exit code, its one message, and a resource
bound: the CPU seconds and the peak resident memory of the process (its children included), read
from the kernel's accounting (os.wait4), never from a wall clock. The bounds are generous (about
ten times what a run needs), so a slow or busy machine passes and only a runaway fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

#: A run may use at most this many CPU seconds before the kernel stops it (a hang guard, not a bound).
CPU_GUARD = 300
#: A run still going after this many seconds is killed: only a process asleep forever gets here.
WALL_GUARD = 900.0
#: Resident memory of a process that imported SymPy and NumPy and did little else, in MB (for bounds).
BASELINE_MB = 150


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    cpu: float  # user + system seconds of the process and the children it waited for
    peak_mb: float  # largest resident set of the process or one of those children

    @property
    def message(self) -> str:
        """The one `symbackprop: error: ...` line (asserting there is exactly one)."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("symbackprop: error: ")]
        assert len(lines) == 1, self.stderr
        return lines[0].removeprefix("symbackprop: error: ")

    def failed_cleanly(self, code: int = 2, *fragments: str, longest: int = 400) -> str:
        """Exit `code`, no traceback, one short error line holding every fragment; returns it."""
        assert self.returncode == code, (self.returncode, self.stderr[-2000:])
        assert "Traceback" not in self.stderr, self.stderr[-2000:]
        message = self.message
        assert len(message) <= longest, message
        for fragment in fragments:
            assert fragment in message, (fragment, message)
        return message

    def within(self, cpu: float, mb: float) -> None:
        assert self.cpu <= cpu, f"{self.cpu:.1f} CPU seconds, bound {cpu}"
        assert self.peak_mb <= mb, f"{self.peak_mb:.0f} MB resident, bound {mb}"


# The command is started by a small launcher process, which waits for it and reports its usage:
# the kernel's peak-memory figure of a process counts the memory of the process it was forked
# from (here pytest, with SymPy loaded), so the command must be forked from something small.
_LAUNCHER = r"""
import json, os, resource, subprocess, sys
limit, report = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))
child = subprocess.Popen(sys.argv[3:])
_, status, usage = os.wait4(child.pid, 0)
with open(report, "w", encoding="utf-8") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime,
               "peak": usage.ru_maxrss}, out)
"""


def run(*args: str, cwd: Path, stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """`python -m symbackprop *args` in `cwd`, its output and its cost."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "usage.json"
        given = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(CPU_GUARD), str(report), sys.executable, "-m", "symbackprop", *args],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        )
        guard = threading.Timer(WALL_GUARD, process.kill)
        guard.start()
        try:
            out, err = process.communicate(given)
        finally:
            guard.cancel()
        usage = json.loads(report.read_text(encoding="utf-8"))
        return Run(
            usage["code"],
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            usage["cpu"],
            usage["peak"] / 1024,
        )
