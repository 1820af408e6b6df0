"""A sheet by questions (render/questions.py): each question of the spec under its own number with its
text, each target it asks in its forms and with its value on the data, nothing asked left out, every
printed formula read back, the PDF within the page with no bad box and on few pages, the Markdown
readable through pandoc."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.render import context, render_pdf
from symbackprop.render.derivation import FORM_TITLES
from tests.latex import require_pdflatex
from tests.test_render_markdown import pandoc_html, split_math
from tests.test_render_pdf import SCALING, overfull

ROOT = Path(__file__).resolve().parent.parent
SHEET = ROOT / "tests" / "data" / "questions_sheet.yaml"
#: Pages of SHEET's PDF, as docs/render.md records them.
PAGES = int(
    re.search(
        r"tests/data/questions_sheet\.yaml[^|\n]*\| (\d+) \|", (ROOT / "docs" / "render.md").read_text(encoding="utf-8")
    ).group(1)
)


@pytest.fixture(scope="module")
def net() -> sbp.Network:
    return sbp.load(SHEET)


def _finite_difference(net: sbp.Network, leaf: str, entry: tuple[int, int]) -> float:
    """dL/d(leaf[entry]) by central differences on the compiled loss, in float64."""
    data = net.data()
    fn = net.gradient_fn()
    h = 1e-6
    plus, minus = {k: v.copy() for k, v in data.items()}, {k: v.copy() for k, v in data.items()}
    plus[leaf][entry] += h
    minus[leaf][entry] -= h
    return (fn(plus)["loss"] - fn(minus)["loss"]) / (2 * h)


def test_every_question_is_answered_in_order_with_every_form_and_its_value(net: sbp.Network) -> None:
    model = context(net)
    assert "questions" in model["sections"] and "derivation" not in model["sections"]
    assert model["sections"][-2:] == ["numeric", "checks"]  # the worked example and the checks still follow
    answered = model["questions"]["questions"]
    asked = net.spec.questions
    assert [q["id"].text for q in answered] == [q.id for q in asked]
    for question, spec in zip(answered, asked, strict=True):
        assert ("".join(part.text for part in question["text"].parts) if question["text"] else "") == spec.text
        assert [t["name"].text for t in question["targets"]] == list(spec.ask)
        for target in question["targets"]:
            shown = [key for line in target["forms"] for key in line["keys"]]
            assert sorted(shown) == sorted(spec.forms or ("chain", "matrix")), (spec.id, shown)
            assert all(line["equation"] is not None for line in target["forms"])
            assert target["value"] is not None and target["value_note"] is None


@pytest.mark.parametrize(
    ("target", "leaf", "entries"),
    [
        ("dL/dx", "x", [(0, 0), (2, 1), (1, 2)]),
        ("dL/dW_1[2,3]", "W_1", [(1, 2)]),
        ("dL/db_2", "b_2", [(0, 0), (1, 0)]),
    ],
)
def test_each_value_on_the_data_is_the_derivative(
    net: sbp.Network, target: str, leaf: str, entries: list[tuple[int, int]]
) -> None:
    """The printed value of an asked derivative against central finite differences of the loss."""
    answers = {
        t["name"].text: t for q in context(net, sections=["questions"])["questions"]["questions"] for t in q["targets"]
    }
    printed = answers[target]["value"].latex
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", printed.split(" = ", 1)[1])]
    full = np.asarray(net.evaluate(target))
    assert np.allclose(numbers, full.ravel(), atol=5e-5)  # rounded to 4 decimals, as printed
    for entry in entries:
        value = full[entry] if full.size > 1 else full.flat[0]
        assert value == pytest.approx(_finite_difference(net, leaf, entry), abs=1e-7)


def test_the_document_shows_each_question_under_its_number(net: sbp.Network) -> None:
    tex, md = net.render("tex"), net.render("md")
    numbers = [q.id for q in net.spec.questions]
    positions = [tex.index(r"\sbpquestion{" + n + "}") for n in numbers]
    assert positions == sorted(positions)
    headings = [md.index("### " + n.replace(".", "\\.") + "\n") for n in numbers]  # Markdown escapes the dot
    assert headings == sorted(headings)
    assert "How does the loss change with the input?" in md and "Backward pass" not in md
    assert md.index("## Questions") < md.index("## Worked example") < md.index("## Checks")
    assert r"#### $\partial \mathcal{L} / \partial W^{(1)}_{2,3}$" in md  # several targets: each labelled
    assert md.count("**On the spec's data**") == sum(len(q.ask) for q in net.spec.questions)


def test_the_checks_read_back_what_the_questions_print(net: sbp.Network) -> None:
    reread = context(net)["checks"]["reread"]
    forward = len(net.derive().forward())
    lines = sum(len(q.ask) * len(q.forms or ("chain", "matrix")) for q in net.spec.questions)
    assert reread["ok"] and reread["checked"] == forward + lines
    both = context(net, sections=["questions", "derivation", "checks"])["checks"]["reread"]
    assert both["checked"] == forward + lines + 2 * len(net.derive().targets)


def test_a_form_a_target_does_not_have_is_said_not_dropped(net: sbp.Network, monkeypatch: pytest.MonkeyPatch) -> None:
    target = net.derive().target("dL/dz_2")
    original = type(target).latex

    def latex(self: sbp.Target, form: str = "matrix", transpose: str = r"\top") -> str:
        if self is target and form == "symbolic":
            raise ValueError("a local partial has no symbolic form")
        return original(self, form, transpose)

    monkeypatch.setattr(type(target), "latex", latex)
    md = net.render("md", sections=["questions"])
    assert f"No {FORM_TITLES['symbolic']} for this target: a local partial has no symbolic form." in md


def test_without_data_the_formulas_are_answered_alone() -> None:
    text = SHEET.read_text(encoding="utf-8")
    net = sbp.load(text[: text.index("data:")])
    md = net.render("md")
    assert "### 4" in md and "On the spec's data" not in md and "## Worked example" not in md


def test_cli_renders_the_sheet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SHEET), "--format", "md", "--sections", "questions", "--forms", "matrix"]) == 0
    out = capsys.readouterr().out
    assert "### 1 a)" in out and r"\delta_{out} \left(z_{1} + z_{2}\right)^{\top}" in out


def test_the_pdf_fits_the_page_on_few_pages(net: sbp.Network) -> None:
    require_pdflatex()
    assert SCALING.search(net.render("tex")) is None
    pdf = render_pdf(net)
    assert overfull(pdf.log) == []
    pages = re.search(r"Output written on document\.pdf \((\d+) pages?", pdf.log)
    assert pages and int(pages.group(1)) == PAGES, "docs/render.md: the questions sheet's page count"


def test_the_markdown_reads_through_pandoc(net: sbp.Network, tmp_path: Path) -> None:
    rest, formulas = split_math(pandoc_html(net.render("md", sections=["questions"]), tmp_path))
    assert "<pre" not in rest and "<code" not in rest
    assert re.search(r"\\[A-Za-z]+", re.sub(r"<[^>]+>", "", rest)) is None
    assert len(formulas) > 20


@pytest.mark.parametrize(
    ("spec", "text", "parts"),
    [
        (
            "specs/relu_4321_exercise.yaml",
            "the weight W^3_{1,1} and h^2, then W^2_{i,j}",
            ["the weight ", "$W^{3}_{1,1}$", " and ", "$h^{2}$", ", then ", "$W^{2}_{i,j}$"],
        ),
        (
            "specs/relu_4321_exercise.yaml",
            "by h^2_1 (one sample), by z^2 and sigma'(x)",  # h^2_1: its n unwritten
            ["by h^2_1 (one sample), by ", "$z^{2}$", " and sigma'(x)"],
        ),
        (
            "specs/softmax_hinge_exercise.yaml",
            "delta_1 = dL/do_1; dp_j/do_k; dL/dW_1[2,1]",
            [
                "$\\delta_{1}$",
                " = ",
                "$\\frac{\\partial \\mathcal{L}}{\\partial o_{1}}$",
                "; ",
                "$\\frac{\\partial p_{j,n}}{\\partial o^{(1)}_{k,n}}$",
                "; dL/dW_1[2,1]",
            ],
        ),
        (
            "specs/square_221_exercise.yaml",
            "sigma(x) = x^2 and dL/dw_{ji} = delta_j a_i",
            ["sigma(x) = x^2 and dL/dw_{ji} = delta_j a_i"],
        ),
        ("specs/softmax_hinge_exercise.yaml", r"q_1 \input{x} W_1} $W_1$ W_1_9 x_{1}}", None),  # hostile: nothing raw
    ],
)
def test_question_text_sets_the_networks_names_as_math_in_its_notation(
    spec: str, text: str, parts: list[str] | None
) -> None:
    """A word naming a value, parameter, delta or derivative is printed from what it names, in the spec's notation;
    every other word stays text and is escaped."""
    from symbackprop.render.markup import Math, Text
    from symbackprop.render.questions import question_text

    prose = question_text(sbp.load(spec).derive(), text)
    shown = [f"${part.latex}$" if isinstance(part, Math) else part.text for part in prose.parts]
    if parts is not None:
        assert shown == parts
    assert (
        "".join(part.text for part in prose.parts if isinstance(part, Text))
        + "".join(part.latex for part in prose.parts if isinstance(part, Math))
        != ""
    )
    for part in prose.parts:  # math only as our printer writes names: no user backslash, dollar or brace soup
        if isinstance(part, Math):
            assert "input" not in part.latex and "$" not in part.latex
