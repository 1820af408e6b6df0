"""Render never fails on a valid spec: any Unicode builds its PDF, a layer named {} renders, user
text never becomes a link or HTML, and formulas that cannot be computed are refused when the spec
is loaded (one message, exit 2), not while a document is half built."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.notation import escape_latex
from symbackprop.render.markup import escape_markdown, markdown_math
from symbackprop.spec import SpecError
from tests.hostile import run
from tests.latex import compile_latex, require_pdflatex

UNICODE = "Réseau 网络 😀 ∀x∈ℝ αβγ Ωmega Жж ǎ ｘ ﬁ \u202eevil\u202c zero\u200bwidth ½ € “quoted” — done"


def spec(name: str = "t", description: str = "d", layer: str = "1", activation: str = "tanh") -> str:
    quoted = [s.replace("\\", "\\\\").replace('"', '\\"') for s in (name, description, layer)]
    first = f'  - {{name: "{quoted[2]}", units: 2, activation: {activation}}}\n'
    return (
        f'name: "{quoted[0]}"\ndescription: "{quoted[1]}"\ninput: {{name: x, size: 2}}\n'
        f"target: {{name: y, size: 1}}\nlayers:\n{first}"
        "  - {name: out, units: 1, activation: identity}\nloss: half_squared_error\n"
        "data:\n  x: [[0.5], [0.2]]\n  y: [[1.0]]\n  W_out: [[0.3, -0.2]]\n  b_out: [[0.1]]\n"
        + (
            f"  W_{quoted[2]}: [[0.1, 0.2], [0.3, 0.4]]\n  b_{quoted[2]}: [[0], [0.1]]\n"
            if re.fullmatch(r"[A-Za-z0-9]+", layer)
            else ""
        )
        + "training: {learning_rate: 0.1, steps: 1}\n"
    )


def test_any_unicode_builds_the_pdf(tmp_path: Path) -> None:
    require_pdflatex()
    (tmp_path / "unicode.yaml").write_text(spec(UNICODE, UNICODE, "网😀"), encoding="utf-8")
    done = run("render", "unicode.yaml", "--pdf", "-o", "unicode.pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "unicode.pdf").read_bytes().startswith(b"%PDF")
    done.within(cpu=300, mb=1024)
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "unicode.pdf", "-"], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout
        assert "[U+7F51]" in text and "[U+1F600]" in text and "[U+202E]" in text and "Réseau" in text


def test_escape_latex_compiles_every_kind_of_character(tmp_path: Path) -> None:
    """One line per block of Unicode that users write: every one compiles in the templates' fonts."""
    samples = [
        "Latin-1 àéîõü ÆØß ¿¡ «» ± × ÷ °",
        "Latin Extended ĀăĐđĞğİıŁłŒœŠšŽžǅǆ",
        "Cyrillic Жжщ",
        "Greek αβγδεζηθικλμνξοπρστυφχψω ΓΔΘΛΞΠΣΦΨΩ",
        "CJK 网络中文 한국어 日本語",
        "emoji 😀🎉👍🏽",
        "math ∀∃∈∉∑∏∂∇∞≤≥≠≈⊙∘⊗ℝℕℤ√∫′⊤",
        "punctuation ‘’“”„–—…•†‡‰€™ ‹›",
        "fullwidth ｘｙｚ１２３ ligatures ﬁﬂ",
        "combining e\u0301 a\u0308",
        "hidden \u202e\u202c\u200b\u200d\ufeff\u2066",
        "brackets [x] ] [ \\\\[2pt]",
        "specials \\ { } $ & # % _ ^ ~ < > |",
    ]
    rows = " \\\\\n".join(escape_latex(sample) for sample in samples)  # a table row may start with [
    names = " ".join(r"$W_{\text{" + escape_latex(sample) + "}}$" for sample in samples)  # as layer names
    log = compile_latex(
        f"\\begin{{tabular}}{{l}}\n{rows}\n\\end{{tabular}}\n\n{rows}\n\n{names}", tmp_path, TEMPLATE_PREAMBLE
    )
    assert "Unicode character" not in log
    assert escape_latex("网") == "{[}U+7F51{]}" and escape_latex("ｘ") == "x"
    assert escape_latex("α") == r"\ensuremath{\alpha}"


def test_a_layer_named_braces_renders(tmp_path: Path) -> None:
    net = sbp.load(spec(layer="{}"))
    markdown = net.render("md")
    assert "W_{\\text{\\{\\}}}" in markdown
    assert net.derive().target("dL/dW_{}").name == "dL/dW_{}"
    (tmp_path / "braces.yaml").write_text(spec(layer="{}"), encoding="utf-8")
    for fmt in ("md", "tex"):
        done = run("render", "braces.yaml", "--format", fmt, "-o", f"out.{fmt}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]


LINKS = (
    "[x](javascript:alert(1)) <a href='javascript:alert(1)'>a</a> https://evil.example www.evil.example me@evil.example"
)
#: The fonts and packages of templates/tex/preamble.tex that user text meets.
TEMPLATE_PREAMBLE = (
    "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
    "\\usepackage{lmodern}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
)


def test_user_text_never_becomes_a_link_or_html() -> None:
    net = sbp.load(spec(LINKS, LINKS, "[x](javascript:alert(1))"))
    markdown = net.render("md")
    assert "<a " not in markdown and "<script" not in markdown.lower()
    for unlinked in ("https://", "www.evil", "@evil"):
        assert unlinked not in markdown, unlinked
    assert not re.search(r"(?<!\\)\]\(javascript", markdown)  # \[x\](...) is text: the brackets are escaped
    assert "https&#58;//evil.example" in markdown and "www&#46;evil.example" in markdown
    assert escape_markdown("see http://a.b") == "see http&#58;//a.b"
    assert markdown_math(r"\text{{[}x{]}(y)} a@b") == r"\text{{[}x{]}(y)} a{@}b"
    assert markdown_math(r"\left[s\right](x)") == r"\left[s\right]{}(x)"


def test_a_link_in_a_name_builds_the_pdf(tmp_path: Path) -> None:
    require_pdflatex()
    (tmp_path / "link.yaml").write_text(spec(LINKS, LINKS, "[x](javascript:alert(1))"), encoding="utf-8")
    done = run("render", "link.yaml", "--pdf", "-o", "link.pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("x/(x-x)", "is undefined for every value"),
        ("log(x-x)", "is undefined for every value"),
        ("x*1e308*1e308", "holds the number 1e+616, beyond what float64 holds"),
        ("x/1e200/1e200", "holds the number 1e-400"),
        ("x + log(x-x+1)*0 + 1/(x-x)", "is undefined"),
    ],
)
def test_a_formula_that_cannot_be_computed_is_refused_when_loaded(formula: str, fragment: str, tmp_path: Path) -> None:
    text = spec(activation=f'{{expr: "{formula}"}}')
    with pytest.raises(SpecError, match=re.escape(fragment)) as caught:
        sbp.load(text)
    assert caught.value.key == "layers[0].activation.expr" and caught.value.line == 6
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    done = run("render", "bad.yaml", "--format", "md", "-o", "out.md", cwd=tmp_path)
    done.failed_cleanly(2, "bad.yaml:6: layers[0].activation.expr: ", fragment)
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.yaml"]


def test_values_that_overflow_while_computing_render_quietly(tmp_path: Path) -> None:
    """exp(100000 x) is a valid activation: its numbers are inf, shown as such, with no NumPy warning."""
    (tmp_path / "exp.yaml").write_text(spec(activation='{expr: "exp(100000*x)"}'), encoding="utf-8")
    done = run("render", "exp.yaml", "--format", "md", "-o", "out.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr and "Traceback" not in done.stderr
    assert "inf" in (tmp_path / "out.md").read_text(encoding="utf-8")


def deep(layers: int, activation: str = "sigmoid", reads_two: bool = False) -> str:
    """A spec of `layers` layers of 2 units; with `reads_two`, each layer reads the two before it."""
    lines = [f"name: deep {layers}", "input: {name: x, size: 2}", "target: {name: y, size: 1}", "layers:"]
    before = ["x", "x"]
    for k in range(1, layers):
        inputs = f"[{before[0]}, {before[1]}]" if reads_two and k > 1 else before[1]
        lines.append(f"  - {{name: h{k}, units: 2, activation: {activation}, inputs: {inputs}}}")
        before = [before[1], f"h{k}"]
    inputs = f"[{before[0]}, {before[1]}]" if reads_two else before[1]
    lines.append(f"  - {{name: out, units: 1, activation: identity, inputs: {inputs}}}")
    return "\n".join([*lines, "loss: half_squared_error", ""])


@pytest.mark.slow
def test_a_100_layer_chain_renders_every_check(tmp_path: Path) -> None:
    """The symbolic form of its first layer nests 100 deltas (300 levels): Python refuses more than
    200 nested parentheses, so the checks compute it in steps."""
    (tmp_path / "chain100.yaml").write_text(deep(100), encoding="utf-8")
    done = run("render", "chain100.yaml", "--format", "md", "-o", "chain100.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    done.within(cpu=200, mb=1024)
    document = (tmp_path / "chain100.md").read_text(encoding="utf-8")
    assert "**FAILS**" not in document and "some check failed" not in document
    checks = document.split("## Checks", 1)[1]
    rows = [line for line in checks.splitlines() if line.startswith("| $")]
    assert len(rows) == 300 and all(row.endswith("| agrees |") for row in rows)
    assert r"| $\partial \mathcal{L} / \partial W_{h1}$ | 4 / 4 |" in document
    assert "written out in full: about 200 terms" in document  # the first layers' chains, past MAX_CHAIN


@pytest.mark.slow
def test_a_99_layer_net_whose_layers_read_the_two_before_renders(tmp_path: Path) -> None:
    """Paths from the loss multiply 1.6 times per layer: the chain and symbolic forms are sized before they
    are built and stand as a sentence past their limits; every check still runs."""
    (tmp_path / "skip99.yaml").write_text(deep(99, "tanh", reads_two=True), encoding="utf-8")
    done = run(
        "render", "skip99.yaml", "--format", "md", "--forms", "chain,symbolic,matrix", "-o", "skip99.md", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    done.within(cpu=200, mb=1024)
    document = (tmp_path / "skip99.md").read_text(encoding="utf-8")
    assert "some check failed" not in document and "**FAILS**" not in document
    assert re.search(r"written out in full: about [\d{},]+ terms", document)
    assert r"| $\partial \mathcal{L} / \partial W_{h1}$ | 4 / 4 |" in document
    assert r"\text{--}" in document and "too large to write out" in document  # the symbolic column's dashes


def test_derive_refuses_a_chain_form_past_its_limit(tmp_path: Path) -> None:
    (tmp_path / "skip99.yaml").write_text(deep(99, "tanh", reads_two=True), encoding="utf-8")
    done = run("derive", "skip99.yaml", "--form", "chain", cwd=tmp_path)
    message = done.failed_cleanly(2, "--form chain: the chain form of ", "partials", "limit of 64", "the matrix form")
    assert "e+" not in message and done.stdout == ""
    done.within(cpu=60, mb=600)
    matrix = run("derive", "skip99.yaml", "--target", "dL/dW_h1", cwd=tmp_path)
    assert matrix.returncode == 0 and matrix.stdout.startswith("dL/dW_h1 = ")
    matrix.within(cpu=60, mb=600)
