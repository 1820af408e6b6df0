"""LaTeX to PDF in a throw-away directory, locked down: no shell escape, files read and
written only in that directory (openin_any=p, openout_any=p), no rc files, no terminal
input, and a deadline. A missing engine or a LaTeX error is one sentence for people."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Debian packages that provide what the templates use.
TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-pictures lmodern"
#: Seconds the whole compilation may take.
TIMEOUT = 120.0
#: pdflatex runs at most (cross-references in a course's own templates settle on a later run).
MAX_RUNS = 3
FLAGS = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error"]


class PdfError(Exception):
    """No engine, a LaTeX error or a timeout; the message says which and what to do."""


@dataclass(frozen=True)
class Pdf:
    data: bytes
    log: str  # the last run's log, for checks such as overfull boxes


def first_error(log: str) -> str:
    """The engine's first error line, with the source line it points at when the log gives one."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            where = next(
                (lines[k].strip() for k in range(i + 1, min(i + 12, len(lines))) if lines[k].startswith("l.")), ""
            )
            return line.strip() + (f" ({where})" if where else "")
    return "no error line in the log"


def _commands() -> tuple[list[str], int]:
    """The command line, and how many times to run it (latexmk reruns by itself)."""
    latexmk, pdflatex = shutil.which("latexmk"), shutil.which("pdflatex")
    if pdflatex is None:
        raise PdfError(
            f"no TeX engine: pdflatex was not found on PATH; install it with "
            f"`apt-get install {TEX_PACKAGES}` (and optionally latexmk)"
        )
    if latexmk is not None:
        engine = " ".join([pdflatex, *FLAGS, "%O", "%S"])
        return [latexmk, "-norc", "-pdf", "-silent", f"-pdflatex={engine}", "document.tex"], 1
    return [pdflatex, *FLAGS, "document.tex"], MAX_RUNS


def compile_pdf(tex: str, timeout: float = TIMEOUT) -> Pdf:
    """Compile a whole LaTeX document; raises PdfError."""
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="symbackprop-") as tmp:
        workdir = Path(tmp)
        command, runs = _commands()
        (workdir / "document.tex").write_text(tex, encoding="utf-8")
        env = {
            **os.environ,
            "openin_any": "p",
            "openout_any": "p",
            "shell_escape": "f",
            "SOURCE_DATE_EPOCH": "0",
            "FORCE_SOURCE_DATE": "1",
        }  # no date in the PDF: the same bytes each run
        log_path = workdir / "document.log"
        for _ in range(runs):
            try:
                result = subprocess.run(
                    command,
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=max(deadline - time.monotonic(), 0.1),
                )
            except subprocess.TimeoutExpired:
                raise PdfError(f"LaTeX did not finish within {timeout:g} s") from None
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            if result.returncode != 0 or not (workdir / "document.pdf").exists():
                raise PdfError(f"LaTeX failed: {first_error(log)}")
            if "Rerun" not in log:
                break
        return Pdf((workdir / "document.pdf").read_bytes(), log)
