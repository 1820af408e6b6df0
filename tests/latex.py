"""Compile LaTeX with a real engine, for tests: pdflatex without shell escape, in a
temporary directory, under a timeout. Under CI=true a missing engine fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PREAMBLE = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\usepackage{lmodern}\n\\begin{document}\n"


def require_pdflatex() -> str:
    engine = shutil.which("pdflatex")
    if engine is None:
        message = (
            "pdflatex is missing: apt-get install texlive-latex-base texlive-latex-recommended texlive-pictures lmodern"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


def require_tool(name: str, package: str) -> str:
    """A system tool a test needs (pdftocairo, pandoc): skipped without it, failed under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing: apt-get install {package}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def compile_latex(body: str, workdir: Path, preamble: str = PREAMBLE) -> str:
    """Compile `body` inside a minimal document; returns the log, fails the test on an error."""
    engine = require_pdflatex()
    (workdir / "doc.tex").write_text(preamble + body + "\n\\end{document}\n", encoding="utf-8")
    result = subprocess.run(
        [engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "openin_any": "p", "openout_any": "p"},
    )
    log = (workdir / "doc.log").read_text(encoding="utf-8", errors="replace") if (workdir / "doc.log").exists() else ""
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, f"LaTeX failed: {errors or result.stdout[-2000:]}"
    assert (workdir / "doc.pdf").exists()
    return log
