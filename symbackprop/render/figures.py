"""Pictures made from the LaTeX documents: the network's diagram as SVG (the same TikZ as the PDF,
compiled on a page of its own size and converted by pdftocairo), which Markdown documents show,
and PNG previews of PDF pages (pdftoppm). Both converters come with poppler-utils."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from symbackprop.render.pdf import PdfError

#: Debian package of pdftocairo and pdftoppm.
POPPLER_PACKAGE = "poppler-utils"
TIMEOUT = 60.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PdfError(f"{name} was not found on PATH; install it with `apt-get install {POPPLER_PACKAGE}`")
    return path


def _convert(command: list[str], pdf: bytes, produced: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="symbackprop-") as tmp:
        workdir = Path(tmp)
        (workdir / "in.pdf").write_bytes(pdf)
        try:
            result = subprocess.run(
                command, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"{command[0]} did not finish within {TIMEOUT:g} s") from None
        out = workdir / produced
        if result.returncode != 0 or not out.exists():
            message = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PdfError(f"{Path(command[0]).name} failed: {message[0] if message else 'no output'}")
        return out.read_bytes()


def pdf_to_svg(pdf: bytes) -> bytes:
    """The first page of a PDF as SVG (text as outlines, so it shows the same everywhere)."""
    return _convert([_tool("pdftocairo"), "-svg", "-f", "1", "-l", "1", "in.pdf", "out.svg"], pdf, "out.svg")


def pdf_to_png(pdf: bytes, page: int = 1, dpi: int = 60) -> bytes:
    """One page of a PDF as a PNG preview."""
    return _convert(
        [_tool("pdftoppm"), "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", "in.pdf", "out"],
        pdf,
        "out.png",
    )
