"""Markdown documents as a reader sees them: every spec's document through pandoc to HTML with
MathJax. Outside math no LaTeX macro, dollar sign or code block is left; the diagram is an image;
inside math every macro is one MathJax knows and every line break sits in an environment that
allows it. Under CI=true a missing pandoc fails these tests (.ci/run installs it)."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.render.breaking import MARKDOWN_WIDTH, estimate, markdown_lines
from tests.latex import require_tool

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
#: Macros the documents may use inside math: MathJax 3's TeX input (base, ams) knows each.
MATHJAX = {
    "frac",
    "partial",
    "mathcal",
    "left",
    "right",
    "odot",
    "top",
    "sum",
    "cdot",
    "le",
    "leftarrow",
    "quad",
    "qquad",
    "mathbf",
    "text",
    "operatorname",
    "max",
    "tanh",
    "log",
    "exp",
    "theta",
    "circ",
    "delta",
    "sigma",
    "infty",
    "times",
    "underbrace",
    "mathopen",
    "mathclose",
    "vphantom",
    "begin",
    "end",
    "mathrm",
    "ldots",
    "cdots",
    "alpha",
    "beta",
    "gamma",
    "eta",
    "lambda",
    "mu",
    "rho",
    "tau",
    "phi",
    "psi",
    "omega",
    "epsilon",
    "hat",
    "ge",
    "lt",
    "gt",
    "min",
    "sqrt",
    "textbackslash",
    "textless",
    "textgreater",
    "textasciitilde",
    "textasciicircum",
    "textbar",
    "textasciigrave",
    "oslash",
    "pm",
    "ne",
}
ENVIRONMENTS = {"aligned", "gathered", "bmatrix", "cases"}


def pandoc_html(markdown: str, workdir: Path) -> str:
    require_tool("pandoc", "pandoc")
    (workdir / "doc.md").write_text(markdown, encoding="utf-8")
    return subprocess.run(
        ["pandoc", "-f", "markdown", "-t", "html", "--mathjax", "doc.md"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def split_math(page: str) -> tuple[str, list[str]]:
    """The page without its math spans, and the LaTeX inside them."""
    spans = re.findall(r'<span\s+class="math (?:inline|display)">(.*?)</span>', page, flags=re.S)
    rest = re.sub(r'<span\s+class="math (?:inline|display)">.*?</span>', "", page, flags=re.S)
    return rest, [html.unescape(span)[2:-2] for span in spans]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_markdown_reads_as_text_math_and_a_diagram(spec: Path, tmp_path: Path) -> None:
    markdown = sbp.load(spec).render("md", figure=f"{spec.stem}-network.svg")
    page = pandoc_html(markdown, tmp_path)
    rest, formulas = split_math(page)
    assert f'<img src="{spec.stem}-network.svg"' in rest
    assert "<pre" not in rest and "<code" not in rest  # no raw code where a diagram or formula belongs
    text = html.unescape(re.sub(r"<[^>]+>", "", rest))
    assert re.search(r"\\[A-Za-z]+", text) is None, re.search(r".{40}\\[A-Za-z]+.{40}", text, flags=re.S)
    assert "$" not in text
    assert len(formulas) > 50
    for formula in formulas:
        macros = set(re.findall(r"\\([A-Za-z]+)", formula))
        assert macros <= MATHJAX, (macros - MATHJAX, formula[:200])
        assert set(re.findall(r"\\begin\{(\w+)\}", formula)) <= ENVIRONMENTS, formula[:200]
        assert formula.count("{") == formula.count("}"), formula[:200]
        outside = re.sub(r"\\begin\{(\w+)\}.*?\\end\{\1\}", "", formula, flags=re.S)
        assert "\\\\" not in outside, formula[:200]  # line breaks only inside aligned/gathered/bmatrix


def test_long_formulas_are_broken_into_lines_that_fit() -> None:
    net = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml")
    long = [t.latex("symbolic") for t in net.derive().targets if estimate(t.latex("symbolic")) > MARKDOWN_WIDTH]
    assert long
    for formula in long:
        broken = markdown_lines(formula)
        assert broken.startswith(r"\begin{aligned} & ") and broken.endswith(r" \end{aligned}")
        rows = broken.removeprefix(r"\begin{aligned} & ").removesuffix(r" \end{aligned}").split(r" \\ & \quad ")
        assert len(rows) > 1 and all(estimate(row) <= MARKDOWN_WIDTH for row in rows)
        assert all(row.count(r"\left") == row.count(r"\right") for row in rows)  # each line balanced
    short = net.derive().delta("out").latex("matrix")
    assert markdown_lines(short) == short
