"""The line breaker of long displayed formulas (render/breaking.py): where lines may end, how deep in
brackets, that the glyphs are the printed ones, and the widths Markdown breaks by."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.render.breaking import breakable_tex, estimate, markdown_lines, read

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def glyphs(latex: str) -> str:
    """What TeX draws, roughly: the formula without break points, bracket halves and spacing."""
    latex = re.sub(r"\\penalty\d+ ", "", latex)
    latex = re.sub(r"\\mathopen\{\\left(.)\\vphantom\{.*?\}\\right\.\}", r"\1", latex)
    latex = re.sub(r"\\mathclose\{\\left\.\\vphantom\{.*?\}\\right(.)\}", r"\1", latex)
    latex = latex.replace(r"\left(", "(").replace(r"\right)", ")")
    return re.sub(r"\s+", "", _unbrace(latex))


def _unbrace(latex: str) -> str:
    r"""\sbpbrace{body}{label} written back as \underbrace{body}_{label}, whatever the label (delta, sigma)."""
    start = latex.find(r"\sbpbrace{")
    while start >= 0:
        depth, i = 0, start + len(r"\sbpbrace")
        while True:
            depth += {"{": 1, "}": -1}.get(latex[i], 0)
            if depth == 0:
                break
            i += 1
        latex = latex[:start] + r"\underbrace" + latex[start + len(r"\sbpbrace") : i + 1] + "_" + latex[i + 1 :]
        start = latex.find(r"\sbpbrace{")
    return latex


def test_lines_end_after_operators_and_between_factors_dearer_in_brackets() -> None:
    tex = breakable_tex(r"a = b + \left(c \odot d\right) W^{\top} \quad (1 \le j \le 2)")
    assert tex == (
        r"a = \penalty0 b + \penalty100 (c \odot \penalty500 d) \penalty400 W^{\top} \penalty0 "
        r"\quad (1 \le \penalty400 j \le \penalty400 2)"
    )  # a product between (c ⊙ d) and W
    assert breakable_tex("-x + y").startswith("-x + \\penalty100 ")  # a sign is not an operator


def test_brackets_open_into_halves_as_high_as_their_content() -> None:
    tex = breakable_tex(r"\left(\frac{a}{b} + c\right)^{\top} x")
    assert tex == (
        r"\mathopen{\left(\vphantom{\frac{a}{b}}\right.}\frac{a}{b} + \penalty500 c"
        r"\mathclose{\left.\vphantom{\frac{a}{b}}\right)}^{\top} \penalty400 x"
    )
    assert breakable_tex(r"\left(a + b\right)") == r"(a + \penalty500 b)"  # no tall content: plain brackets


def test_an_underbrace_becomes_a_macro_that_may_bracket_it() -> None:
    tex = breakable_tex(r"\underbrace{a \cdot b}_{\delta_{1}} \cdot c")
    assert tex == r"\sbpbrace{a \cdot \penalty500 b}{\delta_{1}} \cdot \penalty100 c"
    assert breakable_tex(r"\underbrace{a}_{\delta^{(in)}}") == r"\sbpbrace{a}{\delta^{(in)}}"  # a label with a script
    assert breakable_tex(r"\underbrace{a}_{x}^{y} + b").startswith(r"\underbrace{a}_{x}^{y} + ")  # more than a label


def test_unbalanced_math_is_left_alone() -> None:
    for latex in (r"\left( a", r"a }", r"\frac{a"):
        assert breakable_tex(latex) == latex
        assert markdown_lines(latex * 40) == latex * 40


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_breaking_keeps_every_glyph_of_every_printed_formula(spec: Path) -> None:
    der = sbp.load(spec).derive()
    for target in der.targets:
        for form in sbp.FORMS:
            latex = target.latex(form)
            assert glyphs(breakable_tex(latex)) == glyphs(latex), (target.name, form)


def test_estimated_widths() -> None:
    assert estimate("x") == pytest.approx(0.5)
    assert estimate(r"\frac{a}{bcd}") == pytest.approx(1.8)  # the wider part, and a little
    assert estimate("x_{12}") == pytest.approx(0.5 + 0.7)  # scripts smaller
    matrix = estimate(r"\begin{bmatrix} 1 & 2 \\ 3 & 44 \end{bmatrix}")
    assert matrix == pytest.approx(0.5 + 1.0 + 3.0)  # columns as wide as their widest entry, and gaps
    assert len(read(r"a + \left(b\right)")) == 3
