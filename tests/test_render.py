"""Worked-solution documents (symbackprop render): their content in LaTeX and Markdown, escaping of
user text, the numbers against `numeric --json`, the worked arithmetic, stable output, options
(command line and the spec's `render:` section) and template overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.render import RenderError, context, render
from symbackprop.render.markup import escape_markdown, markdown_math
from symbackprop.render.numbers import matrix, number, scientific

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
WITH_DATA = [spec for spec in SPECS if sbp.load(spec).spec.training is not None]
NASTY = r"""
name: '\input{/etc/passwd} 100% $x$ a_b {c} #1 *bold* <script>alert(1)</script> & ~'
description: "- item \\input{/etc/passwd} | cell | `code` [link](http://x) <b>html</b> &amp; 50% $$ math $$"
input: {name: x, size: 2}
target: {name: y, size: 1}
layers:
  - {name: '\input{/etc/passwd}', units: 2, activation: tanh}
  - {name: 'a_b%c$d{e}#<script>', units: 1, activation: sigmoid}
loss: half_squared_error
data:
  x: [[0.5], [-0.25]]
  y: [[1]]
  'W_\input{/etc/passwd}': [[0.1, 0.2], [0.3, -0.4]]
  'b_\input{/etc/passwd}': [[0.0], [0.1]]
  'W_a_b%c$d{e}#<script>': [[0.5, -0.5]]
  'b_a_b%c$d{e}#<script>': [[0.2]]
training: {learning_rate: 0.1, steps: 1}
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["render", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- escaping and number formatting -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("a_b *c* `d`", r"a\_b \*c\* \`d\`"),
        ("<script>alert(1)</script> & co", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        ("$x$ | [l](u) #1 ~", r"\$x\$ \| \[l\](u) \#1 \~"),
        (r"\input{/etc/passwd}", r"\\input{/etc/passwd}"),
        ("- not a list", r"\- not a list"),
        ("1. not a list", r"1\. not a list"),
        ("> not a quote\n\n# not a heading", r"&gt; not a quote \# not a heading"),
    ],
)
def test_markdown_escaper_shows_text_literally(text: str, markdown: str) -> None:
    assert escape_markdown(text) == markdown


def test_markdown_math_cannot_open_html() -> None:
    assert markdown_math(r"\text{<script>} > 0") == r"\text{{<}script>} > 0"


def test_numbers_are_rounded_whole_numbers_are_integers_and_there_is_no_negative_zero() -> None:
    assert number(-160.0, 4) == "-160" and number(5.0000000000001, 4) == "5" and number(0.0, 4) == "0"
    assert number(-0.00001, 4) == "0" and number(-0.00004, 4) == "0"
    assert number(0.88, 4) == "0.88" and number(-0.96, 4) == "-0.96"  # rounded, no trailing zeros
    assert number(0.123456, 4) == "0.1235" and number(2.5, 0) == "2" and number(1e20, 2) == "100000000000000000000"
    assert number(float("inf"), 4) == r"\infty" and number(float("nan"), 4) == r"\mathrm{NaN}"
    assert scientific(1.234e-9) == r"1.2 \times 10^{-9}"
    assert scientific(0.0) == "0"
    assert matrix(np.array([[1.0, -2.0], [0.5, 0.0]]), 1) == r"\begin{bmatrix} 1 & -2 \\ 0.5 & 0 \end{bmatrix}"
    assert matrix(np.zeros((75, 225)), 4) == r"\text{too large to print } (75 \times 225)"


# --- the document -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_renders_markdown_in_document_order(spec: Path) -> None:
    net = sbp.load(spec)
    text = net.render("md", figure="diagram.svg")
    last = "## Questions" if net.spec.questions else "## Backward pass"  # a sheet with questions follows them
    headings = ["## The network", "## Notation", "## Sizes", "## Forward pass", "## Loss", last]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "![The network: " in text and "](diagram.svg)" in text and "```" not in text  # no mermaid, no code
    assert "| layer |" in text and "stepson" not in text
    assert r"\begin{align}" not in text and r"\begin{align*}" not in text and "\\\\\n" not in text  # one line each
    for block in re.findall(r"^\$\$.*", text, flags=re.M):
        assert block.endswith("$$") and block.count("$$") == 2, block
    for heading in re.findall(r"^## (.*)$", text, flags=re.M):  # no empty sections
        body = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
        assert body.strip(), heading


def _equations(model: dict) -> list[str]:
    return [
        form["equation"].latex
        for layer in model["derivation"]["layers"]
        for target in layer["targets"]
        for form in target["forms"]
    ]


def test_default_forms_are_chain_rule_and_matrix_form_chained_into_one_equation() -> None:
    net = sbp.load(ROOT / "specs" / "square_221.yaml")
    equations = _equations(context(net))
    assert equations == [
        target.latex("chain") + " = " + target.latex("matrix").split(" = ", 1)[1] for target in net.derive().targets
    ]
    text = net.render("tex")
    assert r"\textsc{chain rule} (" in text and r"\textsc{matrix form} (" in text


def test_every_chosen_form_of_every_target_is_shown() -> None:
    net = sbp.load(ROOT / "specs" / "skip_connection.yaml")
    model = context(net, forms=list(sbp.FORMS))
    equations = "\n".join(_equations(model))
    for target in net.derive().targets:
        for form in sbp.FORMS:
            assert target.latex(form).split(" = ", 1)[1] in equations, (target.name, form)
        assert target.latex("index") in equations
    assert [m.latex for m in model["forward"]["vector"]] == net.derive().forward_latex()[:-1]


def test_identical_forms_are_printed_once_under_both_names() -> None:
    net = sbp.load(ROOT / "specs" / "square_221.yaml")
    delta = net.derive().delta("2")
    assert delta.latex("symbolic") == delta.latex("matrix")
    text = render(net, "md", sections=["derivation"], forms=["symbolic", "matrix"])
    assert "**symbolic = matrix form**" in text
    assert text.count(delta.latex("matrix")) == 1
    grad = net.derive().grad("W_1")
    assert grad.latex("symbolic") != grad.latex("matrix")
    assert f"$${grad.latex('symbolic')} = {grad.latex('matrix').split(' = ', 1)[1]}$$" in text


def test_forms_chosen_in_the_specs_render_section_and_overridden_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = (ROOT / "specs" / "square_221.yaml").read_text(
        encoding="utf-8"
    ) + "render: {forms: [index], sections: [derivation], digits: 2}\n"
    net = sbp.load(spec)
    text = net.render("md")
    assert "**index form**" in text and "chain rule" not in text and "## Loss" not in text
    assert "**matrix form**" in net.render("md", forms=["matrix"])
    assert net.render("md", sections=["numeric"]).count("0.88") == 2  # digits 2 from the spec; 0.88 exact
    assert "0.8800" not in net.render("md", sections=["numeric"], digits=4)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{forms: [chain, vector]}", "render.forms[1]: unknown form 'vector'"),
        ("{forms: []}", "render.forms: expected a non-empty list"),
        ("{sections: numeric}", "render.sections: expected a non-empty list"),
        ("{digits: 16}", "render.digits: expected a whole number from 0 to 15, got 16"),
        ("{colour: red}", "render.colour: unknown key 'colour'"),
    ],
)
def test_a_bad_render_section_is_a_spec_error_naming_its_key(section: str, message: str) -> None:
    with pytest.raises(sbp.SpecError, match=re.escape(message)):
        sbp.load((ROOT / "specs" / "mlp.yaml").read_text(encoding="utf-8") + f"render: {section}\n")


def test_scalar_forward_equations_and_loss() -> None:
    text = sbp.load(ROOT / "specs" / "mlp.yaml").render("md")
    assert r"s^{(1)}_{j,n} = \sum_{k=1}^{2} W_{k,j} x_{k,n} \quad (1 \le j \le 3,\ 1 \le n \le N)" in text
    assert r"y^{(out)}_{n} = f_{out}\left(s^{(out)}_{n}\right) \quad (1 \le n \le N)" in text
    assert (
        r"$$\mathcal{L} = \sum \frac{\left(y_{out} - y\right)^{2}}{2} = \sum_{n=1}^{N} "
        r"\frac{\left(y^{(out)}_{n} - y_{n}\right)^{2}}{2}$$" in text
    )
    assert r"f_{1}(x) = \max\left(0, x\right)" in text


def test_sizes_table_names_sums_and_merges_identity_layers() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md")
    assert r"| $W_{in}$ | weight of layer in | $75 \times 225$ |" in text
    assert r"| $b_{in}$ | bias of layer in | $1 \times 75$ |" in text
    assert r"| $K$ | fixed weight of layer reduce | $75 \times 225$ |" in text
    assert r"| $s_{rec}^{(2)}$ | pre-activation of layer rec, cycle 2 | $N \times 75$ |" in text
    assert r"| $\delta_{rec}^{(1)}$ | delta of layer rec, cycle 1 | $N \times 75$ |" in text
    assert r"| $z_{rec+link} = z_{rec}^{(2)} + z_{link}$ | sum read by layer out | $N \times 75$ |" in text
    assert r"| $z_{in} + z_{rec}^{(1)}$ | sum read by layer rec, cycle 2 | $N \times 75$ |" in text
    assert (
        r"| $s_{reduce} = z_{reduce}$ | pre-activation and output of layer reduce (identity) | "
        r"$N \times 75$ |"
    ) in text
    assert r"| $z_{reduce}$ |" not in text.split("## Sizes")[1].split("## Forward")[0]


@pytest.mark.parametrize(
    ("spec", "row"),
    [
        # the exercise's own name: z^{(rec+link)}, in its notation (parenthesized layers)
        (
            "recurrent_autoencoder_course",
            r"| $z^{(rec+link)} = z^{(rec,2)} + z^{(link)}$ | sum read by layer out | "
            r"$N \times 2$ |",
        ),
        ("skip_connection", r"| $z_{1+2} = z_{1} + z_{2}$ | sum read by layer out | $2 \times N$ |"),
        # a sum with an earlier cycle in it is not a sum of layers' outputs: no name of its own
        (
            "recurrent_autoencoder_course",
            r"| $z^{(in)} + z^{(rec,1)}$ | sum read by layer rec, cycle 2 | $N \times 2$ |",
        ),
    ],
)
def test_a_sum_of_layers_outputs_has_the_courses_name_and_its_own_size(spec: str, row: str) -> None:
    assert row in sbp.load(ROOT / "specs" / f"{spec}.yaml").render("md", sections=["sizes"])


def test_fixed_matrices_state_their_rule() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md", sections=["network"])
    assert r"Fixed matrix $K$ of layer reduce: $K_{n,3n - 2} = 1$ for $1 \le n \le 75$ and every other entry 0" in text
    text = sbp.load(ROOT / "specs" / "skip_connection.yaml").render("md", sections=["network"])
    assert "Fixed matrix $P$ of layer mix: given in the data: $P$ is not trained." in text
    spec = {
        "name": "in_out",
        "convention": {"weights": "in_out"},
        "input": {"name": "x", "size": 4},
        "target": {"name": "y", "size": 2},
        "layers": [
            {
                "name": "r",
                "units": 2,
                "activation": "identity",
                "bias": False,
                "weight": "K",
                "fixed": {"select_every": 2, "start": 2},
            }
        ],
        "loss": "half_squared_error",
    }
    assert r"$K_{2n,n} = 1$ for $1 \le n \le 2$" in sbp.load(spec).render("md", sections=["network"])


def test_prose_formulas_are_math_not_source_text() -> None:
    text = sbp.load(ROOT / "specs" / "square_221.yaml").render("md")
    assert "x\\*\\*2" not in text and "x**2" not in text
    assert "| 1 | 2 | $f_{1}(x) = x^{2}$ | $W_{1}$ |" in text
    spec = {
        "name": "custom",
        "input": {"name": "x", "size": 1},
        "target": {"name": "t", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": {"expr": "x**2"}, "bias": False}],
        "loss": {"expr": "(t - y_out)**2 / 2"},
    }
    for fmt in ("md", "tex"):
        text = sbp.load(spec).render(fmt)
        assert "(t - y_out)" not in text and "x**2" not in text and ")**2" not in text
        assert r"the loss is $\mathcal{L} = \sum \frac{\left(t - y_{out}\right)^{2}}{2}$." in text
        assert "The loss is the spec's own formula of the output $y_{out}$ and the target $t$" in text


def test_glossary_explains_exactly_the_notation_used() -> None:
    square = sbp.load(ROOT / "specs" / "square_221.yaml").render("md")
    glossary = square.split("## Notation")[1].split("## Sizes")[0]
    assert r"| $A \odot B$ |" in glossary and r"| $A^{\top}$ |" in glossary
    assert r"\mathbf{1}_N" not in glossary  # no bias, so no column of ones
    assert r"[x > 0]" not in glossary and r"^{(2)}" not in glossary
    assert r"| $s_{k}$ | pre-activation of layer $k$: weighted input plus bias |" in glossary
    assert r"| $f_{k}, f_{k}'$ |" in glossary and r"| $W^{(1)}_{j,i}$ | entry $(j, i)$ of $W_{1}$" in glossary
    mlp = sbp.load(ROOT / "specs" / "mlp.yaml").render("md")
    assert r"| $[x > 0]$ |" in mlp and r"| $A^{\circ 2}$ |" in mlp  # relu' and tanh' in closed form
    recurrent = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render("md")
    assert r"| $\mathbf{1}_N$ |" in recurrent and r"| $s_{rec}^{(2)}$ |" in recurrent
    course = sbp.load(ROOT / "specs" / "square_221_course.yaml").render("md")  # the course's own letters
    glossary = course.split("## Notation")[1].split("## Sizes")[0]
    assert r"| $net^{(k)}$ | pre-activation of layer $k$" in glossary and r"| $a^{(k)}$ |" in glossary
    assert r"| $\sigma, \sigma'$ |" in glossary and "s_{k}" not in glossary


def test_diagram_shows_sums_fixed_weights_and_cycles() -> None:
    tex = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render("tex")
    assert r"edge[arrow, loop above, min distance=6mm] node[above] {\footnotesize 2 cycles}" in tex
    assert r"\draw[fixedarrow] (in0) -- (layer2);" in tex
    assert r"\draw[arrow] (layer4) -- (sumlayer5);" in tex and r"\draw[arrow] (sumlayer5) -- (layer5);" in tex
    assert r"\node[neuron]" not in tex


def test_small_chains_are_drawn_neuron_by_neuron_with_weights_on_the_arrows() -> None:
    tex = sbp.load(ROOT / "specs" / "square_221.yaml").render("tex")
    for unit in ("x0", "x1", "u1x0", "u1x1", "u2x0"):
        assert rf"\node[neuron] ({unit})" in tex
    assert r"\draw[thin arrow] (x1) -- node[weight, pos=0.25] (label1) {$W^{(1)}_{1,2}$} (u1x0);" in tex
    assert r"\draw[thin arrow] (x0) -- node[weight, pos=0.75] (label2) {$W^{(1)}_{2,1}$} (u1x1);" in tex
    assert r"\draw[thin arrow] (u1x1) -- node[weight, pos=0.25] (label5) {$w^{(2)}_{2}$} (u2x0);" in tex
    tex = sbp.load(ROOT / "specs" / "relu_4321.yaml").render("tex", sections=["network"])
    assert r"\node[bias] (b1)" in tex and r"{$W^{(1)}_{j,i}$ from unit $i$ to $j$}" in tex  # 12 arrows: one label
    assert r"\draw[thin arrow] (u2x0) -- node[weight, pos=0.25] (label23) {$W^{(3)}_{1}$} (u3x0);" in tex


def test_missing_data_is_one_sentence_and_no_empty_section() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md")
    assert (
        "No worked example: the spec has no data for $x$, $W_{in}$, $b_{in}$, $W_{link}$, $W_{rec}$, $b_{rec}$, "
        "$W_{out}$ and $b_{out}$; a worked example needs them in its data section."
    ) in text
    spec = yaml.safe_load((ROOT / "specs" / "recurrent_autoencoder_course.yaml").read_text(encoding="utf-8"))
    del spec["data"]
    course = sbp.load(spec).render("tex", sections=["numeric", "loss"])
    assert "no data for $x$, $w^{(in)}$, $b^{(in)}$, $w^{(link)}$," in course  # in the spec's notation
    assert "## Worked example" not in text and "### Step" not in text and "## Checks" in text


@pytest.mark.parametrize("activation", [{"function": "g"}, {"expr": "x**2"}])
def test_random_data_with_a_generic_activation_renders(
    activation: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data: {random: ...}` cannot be drawn for a generic activation (drawing needs the forward pass): the
    document says no numbers can be computed, and verify still grades; a formula activation draws them."""
    spec = {
        "name": "drawn",
        "input": {"name": "x", "size": 2},
        "target": {"name": "y", "size": 1},
        "layers": [
            {"name": "1", "units": 2, "activation": activation},
            {"name": "2", "units": 1, "activation": "identity"},
        ],
        "loss": "half_squared_error",
        "data": {"random": {"seed": 3}},
        "training": {"learning_rate": 0.1},
    }
    path = tmp_path / "drawn.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["render", str(path), "--format", "md", "-o", str(tmp_path / "drawn.md")]) == 0
    text = (tmp_path / "drawn.md").read_text(encoding="utf-8")
    generic = "function" in activation
    assert ("No worked example: the activation $g$ of layer 1 is a function without a formula" in text) == generic
    assert ("### Step 1" in text) != generic and "## Checks" in text
    assert sbp.load(path).verify("delta_2", "y_out - y").verdict == "equivalent"
    if generic:
        assert main(["numeric", str(path)]) == 2
        assert "the activation g is generic" in capsys.readouterr().err


def test_large_matrices_are_not_printed(tmp_path: Path) -> None:
    spec = {
        "name": "wide",
        "input": {"name": "x", "size": 13},
        "target": {"name": "y", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": "identity", "bias": False}],
        "loss": "half_squared_error",
        "training": {"learning_rate": 0.1, "steps": 1},
        "data": {"x": [[0.1]] * 13, "y": [[1.0]], "W_1": [[0.5] * 13]},
    }
    text = sbp.load(spec).render("md", sections=["numeric"])
    assert r"W_{1} = \text{too large to print } (1 \times 13)" in text
    assert r"$$\delta_{1} = y_{out} - y = \begin{bmatrix} -0.35 \end{bmatrix}$$" in text


def test_without_training_one_pass_is_shown_without_an_update() -> None:
    spec = {
        "name": "no training",
        "input": {"name": "x", "size": 1},
        "target": {"name": "y", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": "identity", "bias": False}],
        "loss": "half_squared_error",
        "data": {"x": [[2.0]], "y": [[0.0]], "W_1": [[0.5]]},
    }
    text = sbp.load(spec).render("md", sections=["numeric"])
    assert "no training section (no learning rate)" in text
    assert r"{\partial W_{1}} = \delta_{1} x^{\top} = \begin{bmatrix} 2 \end{bmatrix}$$" in text
    assert "Updated parameters" not in text and r"\leftarrow" not in text


def test_generic_activation_has_no_numbers_and_no_empty_sections() -> None:
    spec = {
        "name": "generic",
        "input": {"name": "x", "size": 1},
        "target": {"name": "y", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": {"function": "g"}, "bias": False}],
        "loss": "half_squared_error",
        "data": {"x": [[2.0]], "y": [[1.0]], "W_1": [[0.5]]},
        "training": {"learning_rate": 0.1, "steps": 1},
    }
    text = sbp.load(spec).render("md")
    assert "is a generic function" in text
    assert (
        "No worked example: the activation $g$ of layer 1 is a function without a formula, so nothing can be "
        "computed with numbers"
    ) in text and "No numeric checks: the activation $g$" in text
    assert "{expr" not in text  # no spec syntax in prose
    assert "## Worked example" not in text
    checks = text.split("## Checks", 1)[1]  # only the printed formulas read back: no empty table
    assert "finite differences" not in checks and "(7 of 7 agree)." in checks


def test_training_sentence_has_no_swallowed_newline() -> None:
    for name in ("mlp", "square_221"):
        tex = sbp.load(ROOT / "specs" / f"{name}.yaml").render("tex", sections=["numeric"])
        assert re.search(r"steps?on", tex) is None
    assert "for 3 steps on 4 samples." in sbp.load(ROOT / "specs" / "mlp.yaml").render("md", sections=["numeric"])
    course = sbp.load(ROOT / "specs" / "square_221_course.yaml").render("md", sections=["numeric"])
    assert r"learning rate $\gamma = 0.01$ (each parameter minus 0.01 times its gradient)" in course


@pytest.mark.parametrize("spec", WITH_DATA, ids=lambda p: p.stem)
def test_numbers_equal_numeric_json(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["numeric", str(spec), "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    net = sbp.load(spec)
    text = net.render("md", sections=["numeric"], digits=12)
    chunks = re.split(r"^### Step \d+$", text, flags=re.M)[1:]
    assert len(chunks) == len(steps)
    for chunk, step in zip(chunks, steps, strict=True):
        shown = [
            np.array([[float(v) for v in row.split("&")] for row in body.split(r"\\")])
            for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", chunk)
        ]
        groups = [step["params"]] if step["step"] == 1 else []  # later steps start from the last update
        groups += [step["forward"], dict(reversed(step["delta"].items())), step["grad"], step["updated"]]
        wanted = [np.array(value) for group in groups for value in group.values()]
        assert len(shown) == len(wanted)
        for got, want in zip(shown, wanted, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
        symbol = re.escape(net.derive().names.loss_latex())  # \mathcal{L}, or the spec's notation's loss
        loss = re.search(rf"{symbol} = (?:[^$]* = )?(-?\d+(?:\.\d+)?)(?: \\qquad|\$\$| \\\\)", chunk)
        assert loss and abs(float(loss.group(1)) - step["loss"]) < 1e-11


def test_small_networks_first_step_is_worked_entry_by_entry() -> None:
    text = sbp.load(ROOT / "specs" / "square_221.yaml").render("md", sections=["numeric"])
    step = text.split("### Step 1")[1]
    for line in [
        r"s^{(1)}_{1,1} = (-2) \cdot 2 + 3 \cdot 3 = 5",
        r"s^{(1)}_{2,1} = 2 \cdot 2 + 1 \cdot 3 = 7",
        r"s^{(2)}_{1} = (-2) \cdot 25 + 1 \cdot 49 = -1",
        r"\mathcal{L} = \frac{1}{2} \cdot (1 - 3)^{2} = 2",
        r"\delta^{(2)}_{1} = (1 - 3) \cdot (-2) = 4",
        r"\delta^{(1)}_{1,1} = 4 \cdot (-2) \cdot 10 = -80",
        r"\delta^{(1)}_{2,1} = 4 \cdot 1 \cdot 14 = 56",
        r"\partial \mathcal{L} / \partial W^{(1)}_{1,1} = (-80) \cdot 2 = -160",
        r"\partial \mathcal{L} / \partial w^{(2)}_{2} = 4 \cdot 49 = 196",
        r"W^{(1)}_{1,1} \leftarrow -2 - 0.01 \cdot (-160) = -0.4",
        r"w^{(2)}_{1} \leftarrow -2 - 0.01 \cdot 100 = -3",
        r"w^{(2)}_{2} \leftarrow 1 - 0.01 \cdot 196 = -0.96",
    ]:
        assert line in step, line
    assert r"\begin{bmatrix} -160 & -240 \\ 112 & 168 \end{bmatrix}" in step and ".0000" not in text


def test_worked_arithmetic_only_for_small_networks_and_the_first_step() -> None:
    mlp = sbp.load(ROOT / "specs" / "mlp.yaml").render("md", sections=["numeric"])
    first, later = mlp.split("### Step 2")
    assert r"s^{(1)}_{1,1} = 0.6 \cdot 0.75 + 0.01 \cdot 0.8 = 0.458" in first
    assert r"\cdot" not in later and "From the previous updates" in later  # no "step 1" a reader takes for this one
    big = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render("md", sections=["numeric"])
    assert r"\cdot" not in big  # six inputs: matrices only


def test_worked_arithmetic_reproduces_every_entry() -> None:
    """Each written-out entry, evaluated from the numbers it shows, gives the value the run computed
    (to the rounding of the numbers shown)."""
    text = sbp.load(ROOT / "specs" / "relu_4321.yaml").render("md", sections=["numeric"], digits=12)
    step = text.split("### Step 1")[1].split("### Step 2")[0]
    lines = [
        line
        for block in re.findall(r"^\$\$(.*)\$\$$", step, flags=re.M)
        for line in re.split(
            r" \\qquad | \\\\ ", block.removeprefix(r"\begin{gathered} ").removesuffix(r" \end{gathered}")
        )
        if r"\cdot" in line
    ]
    assert len(lines) >= 3 + 2 + 1 + 3 + 2 + 1 + 12 + 6 + 2
    for line in lines:
        *_, arithmetic, result = re.split(r" = | \\leftarrow ", line)
        expression = re.sub(r"\\frac\{(\d+)\}\{(\d+)\}", r"(\1/\2)", arithmetic)
        expression = expression.replace(r"\cdot", "*").replace("{", "(").replace("}", ")").replace("^", "**")
        assert abs(eval(expression) - float(result)) < 1e-9 * max(1.0, abs(float(result))), line  # noqa: S307


def test_checks_state_the_figures_of_this_run() -> None:
    net = sbp.load(ROOT / "specs" / "mlp.yaml")
    text = net.render("md", sections=["checks"])
    result = net.gradcheck()
    assert "What this run verified, at the spec's data; 4 samples:" in text
    for p in result.parameters.values():
        mantissa, exponent = f"{p.error:.1e}".split("e")
        assert f"| {p.checked} / {p.total} | ${mantissa} \\times 10^{{{int(exponent)}}}$ |" in text
    assert r"| $\delta_{1}$ |  |  | 12 / 12 |" in text
    assert "Verdict: all agree" in text


def test_checks_at_random_values_without_data() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md", sections=["checks"])
    assert "What this run verified, at random data, seed 0; 3 samples:" in text
    assert r"| $\partial \mathcal{L} / \partial W_{in}$ | 1000 / 16875 |" in text
    assert r"| 500 / 16875 |" in text  # index entries compared
    assert "Verdict: all agree" in text


# --- escaping user text -------------------------------------------------------------------


def test_specials_in_markdown_are_shown_literally() -> None:
    text = sbp.load(NASTY).render("md")
    assert text.startswith(
        r"# \\input{/etc/passwd} 100% \$x\$ a\_b {c} \#1 \*bold\* "
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\~\n"
    )
    assert (
        r"\- item \\input{/etc/passwd} \| cell \| \`code\` \[link\](http&#58;//x) &lt;b&gt;html&lt;/b&gt; "
        r"&amp;amp; 50% \$\$ math \$\$" in text
    )
    assert "<script" not in text.lower() and "<b>" not in text
    assert (
        r"| $W_{\text{a\_b\%c\$d\{e\}\#\textless{}script\textgreater{}}}$ | "
        r"weight of layer a\_b%c\$d{e}\#&lt;script&gt; |"
    ) in text


def test_specials_in_latex_are_escaped() -> None:
    text = sbp.load(NASTY).render("tex")
    body = text[text.index(r"\begin{document}") :]
    assert r"\input" not in body
    assert "\na\\_b\\%c\\$d\\{e\\}\\#\\textless{}script\\textgreater{} & 1 & sigmoid" in body  # the layer table
    assert (
        r"\textbackslash{}input\{/etc/passwd\} 100\% \$x\$ a\_b \{c\} \#1 *bold* \textless{}script\textgreater{}"
        r"alert(1)\textless{}/script\textgreater{} \& \textasciitilde{}" in body
    )


# --- options ------------------------------------------------------------------------------


def test_output_is_byte_identical_run_after_run() -> None:
    for fmt in ("tex", "md"):
        first = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render(fmt)
        assert sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render(fmt) == first


def test_sections_and_forms_choose_what_is_shown() -> None:
    net = sbp.load(ROOT / "specs" / "square_221.yaml")
    text = render(net, "md", sections=["derivation", "loss"], forms=["index", "matrix"])
    assert "## Loss" in text and "## Backward pass" in text
    assert text.index("## Loss") < text.index("## Backward pass")  # document order, whatever was asked
    assert "## Sizes" not in text and "## Worked example" not in text and "## Notation" not in text
    assert "**matrix form**" in text and "**index form**" in text and "chain rule" not in text
    assert text.index("**matrix form**") < text.index("**index form**")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sections": ["numbers"]}, "unknown section 'numbers'"),
        ({"forms": ["matrix", "vector"]}, "unknown form 'vector'"),
        ({"forms": []}, "no form chosen"),
        ({"digits": 16}, "digits 16"),
    ],
)
def test_bad_options_raise_render_error(kwargs: dict, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(sbp.load(ROOT / "specs" / "mlp.yaml"), "md", **kwargs)


def test_digits_round_every_number() -> None:
    text = sbp.load(ROOT / "specs" / "square_221.yaml").render("md", sections=["numeric"], digits=1)
    assert r"$$\mathcal{L} = \sum \frac{\left(y - t\right)^{2}}{2} = 2$$" in text
    assert (
        r"w_{2} \leftarrow w_{2} - 0.01 \frac{\partial \mathcal{L}}{\partial w_{2}} = "
        r"\begin{bmatrix} -3 & -1 \end{bmatrix}" in text
    )


def test_template_dir_overrides_a_template_by_name(tmp_path: Path) -> None:
    (tmp_path / "title.md").write_text("# Course sheet: {{ title }}\n", encoding="utf-8")
    (tmp_path / "title.tex").write_text(r"\section*{Course sheet: \VAR{title}}" + "\n", encoding="utf-8")
    net = sbp.load(ROOT / "specs" / "mlp.yaml")
    md = net.render("md", sections=["loss"], template_dir=tmp_path)
    assert md.startswith("# Course sheet: Two-layer ReLU/tanh network\n") and "## Loss" in md
    tex = net.render("tex", sections=["loss"], template_dir=tmp_path)
    assert r"\section*{Course sheet: Two-layer ReLU/tanh network}" in tex and r"\section{Loss}" in tex


def test_template_errors_are_render_errors(tmp_path: Path) -> None:
    net = sbp.load(ROOT / "specs" / "mlp.yaml")
    (tmp_path / "title.md").write_text("{{ titel }}\n", encoding="utf-8")
    with pytest.raises(RenderError, match="'titel' is undefined"):
        net.render("md", sections=["loss"], template_dir=tmp_path)
    (tmp_path / "title.md").write_text("{% for x in %}\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"title.md:1"):
        net.render("md", sections=["loss"], template_dir=tmp_path)
    (tmp_path / "title.md").write_text("{{ network }}\n", encoding="utf-8")
    with pytest.raises(RenderError, match="a template printed dict"):
        net.render("md", sections=["network"], template_dir=tmp_path)
    with pytest.raises(RenderError, match="not a directory"):
        net.render("md", template_dir=tmp_path / "missing")


# --- the command line ---------------------------------------------------------------------


def test_cli_forms_all_shows_every_form(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys, str(ROOT / "specs" / "mlp.yaml"), "--format", "md", "--sections", "derivation", "--forms", "all"
    )
    assert code == 0 and out == sbp.load(ROOT / "specs" / "mlp.yaml").render(
        "md", sections=["derivation"], forms=list(sbp.FORMS)
    )
    assert "**index form**" in out


def test_cli_writes_markdown_and_latex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "square_221.yaml")
    code, out, _ = cli(capsys, spec, "--format", "md", "--sections", "loss,forward", "--forms", "matrix")
    assert code == 0 and out == sbp.load(spec).render("md", sections=["forward", "loss"], forms=["matrix"])
    code, out, _ = cli(capsys, spec, "--format", "tex", "-o", str(tmp_path / "sheet.tex"), "--digits", "2")
    assert code == 0 and out == ""
    assert (tmp_path / "sheet.tex").read_text(encoding="utf-8") == sbp.load(spec).render("tex", digits=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "md", "--pdf"], "--pdf compiles LaTeX"),
        ([], "--format is required"),
        (["--format", "md", "--template-dir", "/nonexistent/dir"], "not a directory"),
    ],
)
def test_cli_bad_options_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, str(ROOT / "specs" / "mlp.yaml"), *args)
    assert code == 2 and out == "" and message in err


def test_cli_unknown_section_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(ROOT / "specs" / "mlp.yaml"), "--format", "md", "--sections", "numeric,foo"])
    assert exit_info.value.code == 2
    assert "expected a comma-separated list of network, glossary, sizes" in capsys.readouterr().err
