"""Worked solutions compiled to PDF with a real engine: every spec compiles with no LaTeX error, no
overfull or underfull box and no scaled formula (long formulas are broken into lines), user text
stays text, the engine is locked down, failures are one clear line, and the Markdown diagram is
the same TikZ as SVG. Under CI=true a missing pdflatex fails these tests (tests/latex.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop import render
from symbackprop.cli import main
from symbackprop.render import PdfError, render_pdf
from symbackprop.render.pdf import compile_pdf
from tests.latex import require_pdflatex, require_tool
from tests.test_render import NASTY

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
#: Overfull boxes up to this many points are TeX's rounding, not a formula off the page.
SLACK_PT = 1.0


def overfull(log: str) -> list[str]:
    """Log lines reporting a box wider or higher than its room by more than SLACK_PT, or an underfull
    box (TeX reports those by badness: any is a line or page stretched out of shape)."""
    return [
        line
        for line in log.splitlines()
        if ((m := re.match(r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too", line)) and float(m.group(1)) > SLACK_PT)
        or line.startswith("Underfull")
    ]


#: A command that scales what it holds: a formula or diagram so set is shrunk, not broken.
SCALING = re.compile(r"\\(resizebox|scalebox|fit|adjustbox)\b|scale=")


def pdf_text(data: bytes, workdir: Path) -> str | None:
    """The PDF's text through pdftotext, or None where poppler-utils is not installed (under CI=true
    its absence fails the test: .ci/run installs it)."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing: apt-get install poppler-utils")
        return None
    (workdir / "doc.pdf").write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", "doc.pdf", "-"], cwd=workdir, capture_output=True, text=True, check=True, timeout=60
    ).stdout


#: Specs compiled by the default run: one of each kind of document (a chain, course notation, an exercise
#: sheet, sums, a recurrent net with a fixed selection); the others (1.3 to 4 s of CPU each, pdflatex
#: included) compile in the slow set.
DEFAULT_PDFS = {"mlp", "square_221_course", "square_221_exercise", "skip_connection", "recurrent_autoencoder_small"}


@pytest.mark.parametrize(
    "spec",
    [pytest.param(spec, id=spec.stem, marks=() if spec.stem in DEFAULT_PDFS else pytest.mark.slow) for spec in SPECS],
)
def test_every_spec_compiles_without_errors_bad_boxes_or_scaling(spec: Path) -> None:
    require_pdflatex()
    net = sbp.load(spec)
    assert SCALING.search(net.render("tex")) is None
    pdf = render_pdf(net)
    assert pdf.data.startswith(b"%PDF")
    assert not [line for line in pdf.log.splitlines() if line.startswith("!")]
    assert overfull(pdf.log) == []
    pages = re.search(r"Output written on document\.pdf \((\d+) pages?", pdf.log)
    recorded = re.search(rf"^\| {spec.stem} \(.*\) \| \d+ \| (\d+) \|$", PAGE_COUNTS, flags=re.M)
    assert pages and recorded and pages.group(1) == recorded.group(1), "docs/render.md: page counts"


#: The table of page counts in docs/render.md ("before" and "after" per spec).
PAGE_COUNTS = (ROOT / "docs" / "render.md").read_text(encoding="utf-8").split("### Page counts")[1]


@pytest.mark.slow
def test_every_form_of_a_deep_network_fits_the_page() -> None:
    """Symbolic forms grow with depth: ten tanh layers, every form, broken into lines within the page."""
    require_pdflatex()
    layers = [{"name": str(k), "units": 3, "activation": "tanh"} for k in range(1, 10)]
    spec = {
        "name": "deep",
        "input": {"name": "x", "size": 3},
        "target": {"name": "y", "size": 2},
        "layers": [*layers, {"name": "out", "units": 2, "activation": "sigmoid"}],
        "loss": {"type": "half_squared_error", "reduction": "mean"},
    }
    net = sbp.load(spec)
    longest = max(len(t.latex("symbolic")) for t in net.derive().targets)
    assert longest > 700  # several lines' worth
    pdf = render_pdf(net, sections=["derivation"], forms=list(sbp.FORMS))
    assert overfull(pdf.log) == []


def test_overfull_and_underfull_boxes_are_caught() -> None:
    log = (
        "Overfull \\hbox (0.5pt too wide) in paragraph\nOverfull \\hbox (12.3pt too wide) in alignment\n"
        "Underfull \\hbox (badness 10000) in paragraph\n"
    )
    assert overfull(log) == [
        "Overfull \\hbox (12.3pt too wide) in alignment",
        "Underfull \\hbox (badness 10000) in paragraph",
    ]
    assert SCALING.search(r"\resizebox{\linewidth}{!}{x}") and SCALING.search(r"\begin{tikzpicture}[scale=0.7]")


def test_pdf_is_byte_identical_run_after_run() -> None:
    require_pdflatex()
    net = sbp.load(ROOT / "specs" / "square_221.yaml")
    assert render_pdf(net).data == render_pdf(net).data


def test_specials_are_printed_literally_and_nothing_is_read(tmp_path: Path) -> None:
    require_pdflatex()
    net = sbp.load(NASTY)
    pdf = render_pdf(net)
    assert overfull(pdf.log) == []
    text = pdf_text(pdf.data, tmp_path)
    if text is not None:
        flat = " ".join(text.split())
        assert r"\input{/etc/passwd} 100% $x$ a_b {c} #1 *bold* <script>alert(1)</script> & ~" in flat
        assert "layer a_b%c$d{e}#<script>" in flat
        assert "root:" not in text
    tex = net.render("tex")
    assert r"\input{" not in tex[tex.index(r"\begin{document}") :]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (r"\input{/etc/passwd}", "LaTeX failed: ! LaTeX Error: File `/etc/passwd.tex' not found."),
        (r"\newwrite\f\immediate\openout\f=/tmp/symbackprop-escape.tex", "LaTeX failed: ! I can't write on file"),
        (r"\undefinedmacro", "LaTeX failed: ! Undefined control sequence. (l.1"),
    ],
)
def test_engine_reads_and_writes_only_its_directory(body: str, message: str) -> None:
    require_pdflatex()
    with pytest.raises(PdfError) as error:
        compile_pdf(r"\documentclass{article}\begin{document}" + body + r" text\end{document}")
    assert str(error.value).startswith(message)
    assert not Path("/tmp/symbackprop-escape.tex").exists()


def test_shell_escape_is_off(tmp_path: Path) -> None:
    require_pdflatex()
    marker = tmp_path / "ran"
    compile_pdf(
        r"\documentclass{article}\begin{document}\immediate\write18{touch " + str(marker) + r"} x"
        r"\end{document}"
    )
    assert not marker.exists()


def test_a_run_away_document_is_stopped() -> None:
    require_pdflatex()
    with pytest.raises(PdfError, match="did not finish within 3 s"):
        compile_pdf(r"\documentclass{article}\begin{document}\def\x{\x}\x\end{document}", timeout=3)


def test_cli_pdf_default_name_and_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_pdflatex()
    monkeypatch.chdir(tmp_path)
    spec = str(ROOT / "specs" / "square_221.yaml")
    assert main(["render", spec, "--pdf", "--sections", "numeric"]) == 0
    assert (tmp_path / "square_221.pdf").read_bytes().startswith(b"%PDF")
    assert "wrote square_221.pdf" in capsys.readouterr().err
    assert main(["render", spec, "--format", "tex", "--pdf", "-o", "sheet.pdf", "--forms", "matrix"]) == 0
    assert (tmp_path / "sheet.pdf").read_bytes().startswith(b"%PDF")


def test_cli_latex_failure_shows_the_first_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_pdflatex()
    (tmp_path / "title.tex").write_text("\\undefinedmacro\n", encoding="utf-8")
    code = main(
        [
            "render",
            str(ROOT / "specs" / "mlp.yaml"),
            "--pdf",
            "--template-dir",
            str(tmp_path),
            "-o",
            str(tmp_path / "out.pdf"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "symbackprop: error: LaTeX failed: ! Undefined control sequence. (l." in err and "\\undefinedmacro" in err
    assert not (tmp_path / "out.pdf").exists()


def test_cli_missing_engine_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdflatex, no latexmk
    code = main(["render", str(ROOT / "specs" / "mlp.yaml"), "--pdf", "-o", str(tmp_path / "out.pdf")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "symbackprop: error: no TeX engine: pdflatex was not found on PATH; install it with "
        "`apt-get install texlive-latex-base texlive-latex-recommended texlive-pictures lmodern` "
        "(and optionally latexmk)"
    )
    assert not (tmp_path / "out.pdf").exists()


def test_markdown_diagram_is_the_tikz_as_svg_written_next_to_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_pdflatex()
    require_tool("pdftocairo", "poppler-utils")
    spec = str(ROOT / "specs" / "square_221.yaml")
    assert main(["render", spec, "--format", "md", "-o", str(tmp_path / "sheet.md")]) == 0
    assert f"wrote {tmp_path / 'sheet-network.svg'}" in capsys.readouterr().err
    text = (tmp_path / "sheet.md").read_text(encoding="utf-8")
    assert "](sheet-network.svg)" in text
    svg = (tmp_path / "sheet-network.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg and "<path" in svg
    assert svg == render.diagram_svg(sbp.load(spec)).decode("utf-8")  # the same bytes every time


def test_markdown_without_a_network_section_writes_no_diagram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no TeX needed
    monkeypatch.chdir(tmp_path)
    assert main(["render", str(ROOT / "specs" / "mlp.yaml"), "--format", "md", "--sections", "loss"]) == 0
    assert "## Loss" in capsys.readouterr().out and list(tmp_path.iterdir()) == []


def test_markdown_diagram_without_tex_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code = main(["render", str(ROOT / "specs" / "mlp.yaml"), "--format", "md", "-o", str(tmp_path / "out.md")])
    assert code == 2 and "no TeX engine" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_pdf_in_a_real_process(tmp_path: Path) -> None:
    require_pdflatex()
    result = subprocess.run(
        [sys.executable, "-m", "symbackprop", "render", str(ROOT / "specs" / "mlp.yaml"), "--pdf", "-o", "mlp.pdf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and (tmp_path / "mlp.pdf").read_bytes().startswith(b"%PDF")
