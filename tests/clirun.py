"""`symbackprop ARGS` in this process, seen as a subprocess would see it.

A real `python -m symbackprop` process costs about a second of CPU, most of it importing SymPy
and NumPy; `invoke` calls `symbackprop.cli.main` (what the console script and `python -m` call)
with its own stdin, stdout, stderr, working directory and environment, and returns what
`subprocess.run(..., capture_output=True, text=True)` would: the exit code (argparse's SystemExit
included), stdout and stderr as text. What only a process shows (the console script, start-up
imports, signals, resource bounds measured by the kernel) stays tested with real processes:
tests/hostile.py, test_startup.py, test_hostile_output.py and a few tests in each CLI file.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None, write_through=True)


def invoke(
    *args: str, stdin: str | bytes | None = None, cwd: Path | str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line `symbackprop *args` in this process; `env` replaces os.environ for the call."""
    from symbackprop.cli import main

    given = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
    streams = sys.stdin, sys.stdout, sys.stderr
    out, err = _stream(), _stream()
    where = os.getcwd()
    environment = dict(os.environ)
    sys.stdin, sys.stdout, sys.stderr = _stream(given), out, err
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse: --help, --version, usage errors
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
            if exit.code is not None and not isinstance(exit.code, int):
                print(exit.code, file=sys.stderr)
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        os.chdir(where)
        if env is not None:
            os.environ.clear()
            os.environ.update(environment)
    return subprocess.CompletedProcess(["symbackprop", *args], code, _text(out), _text(err))


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
