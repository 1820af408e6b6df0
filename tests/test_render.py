"""Worked-solution documents (symbackprop render): their content in LaTeX and Markdown, escaping of
user text, the numbers against `numeric --json`, stable output, options and template overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.render import RenderError, render
from symbackprop.render.markup import escape_markdown, markdown_math, mermaid_label
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


@pytest.mark.parametrize(("text", "markdown"), [
    ("a_b *c* `d`", r"a\_b \*c\* \`d\`"),
    ("<script>alert(1)</script> & co", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
    ("$x$ | [l](u) #1 ~", r"\$x\$ \| \[l\](u) \#1 \~"),
    (r"\input{/etc/passwd}", r"\\input{/etc/passwd}"),
    ("- not a list", r"\- not a list"),
    ("1. not a list", r"1\. not a list"),
    ("> not a quote\n\n# not a heading", r"&gt; not a quote \# not a heading"),
])
def test_markdown_escaper_shows_text_literally(text: str, markdown: str) -> None:
    assert escape_markdown(text) == markdown


def test_markdown_math_and_mermaid_labels_cannot_open_html() -> None:
    assert markdown_math(r"\text{<script>} > 0") == r"\text{{<}script>} > 0"
    assert mermaid_label('a"b<c>#d_1 (x)') == "a#34;b#60;c#62;#35;d_1 (x)"


def test_numbers_have_fixed_decimals_and_no_negative_zero() -> None:
    assert number(-0.00001, 4) == "0.0000"
    assert number(2.5, 2) == "2.50"
    assert number(float("inf"), 4) == r"\infty"
    assert scientific(1.234e-9) == r"1.2 \times 10^{-9}"
    assert scientific(0.0) == "0"
    assert matrix(np.array([[1.0, -2.0], [0.5, 0.0]]), 1) == r"\begin{bmatrix} 1.0 & -2.0 \\ 0.5 & 0.0 \end{bmatrix}"
    assert matrix(np.zeros((75, 225)), 4) == r"\text{too large to print } (75 \times 225)"


# --- the document -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_renders_markdown_in_document_order(spec: Path) -> None:
    text = sbp.load(spec).render("md")
    headings = ["## The network", "## Sizes", "## Forward pass", "## Loss", "## Backward pass",
                "## Worked example", "## Checks"]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "```mermaid" in text and "| layer | reads |" in text
    assert r"\begin{align" not in text and "\\\\\n" not in text  # no align blocks, no line-break tricks
    for block in re.findall(r"^\$\$.*", text, flags=re.M):
        assert block.endswith("$$") and block.count("$$") == 2, block


def test_every_form_of_every_target_is_shown() -> None:
    net = sbp.load(ROOT / "specs" / "skip_connection.yaml")
    text = net.render("tex")
    for target in net.derive().targets:
        for form in sbp.FORMS:
            assert target.latex(form) in text, (target.name, form)
    for line in net.derive().forward_latex():
        assert line in text


def test_scalar_forward_equations_and_loss() -> None:
    text = sbp.load(ROOT / "specs" / "mlp.yaml").render("md")
    assert r"$$s^{(1)}_{j,n} = \sum_{k=1}^{2} W_{k,j} x_{k,n} \quad (1 \le j \le 3,\ 1 \le n \le N)$$" in text
    assert r"$$y^{(out)}_{n} = f_{out}\left(s^{(out)}_{n}\right) \quad (1 \le n \le N)$$" in text
    assert r"$$\mathcal{L} = \sum_{n=1}^{N} \frac{\left(y^{(out)}_{n} - y_{n}\right)^{2}}{2}$$" in text
    assert r"$$f_{1}(x) = \max\left(0, x\right)$$" in text


def test_sizes_table_like_the_exercise() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md")
    assert r"| $W_{in}$ | weight of layer in | $75 \times 225$ |" in text
    assert r"| $b_{in}$ | bias of layer in | $1 \times 75$ |" in text
    assert r"| $K$ | fixed weight of layer reduce | $75 \times 225$ |" in text
    assert r"| $s_{rec}^{(2)}$ | pre-activation of layer rec, cycle 2 | $N \times 75$ |" in text
    assert r"| $\delta_{rec}^{(1)}$ | delta of layer rec, cycle 1 | $N \times 75$ |" in text


def test_diagram_shows_sums_fixed_weights_and_cycles() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render("md")
    assert 'layer4 -->|"2 cycles"| layer4' in text  # rec, recurrent
    assert "in0 -.-> layer2" in text and "class layer2 fixed" in text  # reduce reads x through fixed K
    assert "layer4 --> sumlayer5" in text and "layer3 --> sumlayer5" in text and "sumlayer5 --> layer5" in text
    tex = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml").render("tex")
    assert r"edge[arrow, loop above, min distance=6mm] node[above] {\footnotesize 2 cycles}" in tex
    assert r"\draw[fixedarrow] (in0) -- (layer2);" in tex


def test_missing_data_is_one_sentence_naming_it() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md", sections=["numeric"])
    assert "No worked example: the spec has no data for x, W\\_in, b\\_in, W\\_link, W\\_rec, b\\_rec, W\\_out, " \
           "b\\_out;" in text
    assert "### Step" not in text


def test_large_matrices_are_not_printed(tmp_path: Path) -> None:
    spec = {"name": "wide", "input": {"name": "x", "size": 13}, "target": {"name": "y", "size": 1},
            "layers": [{"name": "1", "units": 1, "activation": "identity", "bias": False}],
            "loss": "half_squared_error", "training": {"learning_rate": 0.1, "steps": 1},
            "data": {"x": [[0.1]] * 13, "y": [[1.0]], "W_1": [[0.5] * 13]}}
    text = sbp.load(spec).render("md", sections=["numeric"])
    assert r"$$W_{1} = \text{too large to print } (1 \times 13)$$" in text
    assert r"$$\delta_{1} = y_{out} - y = \begin{bmatrix} -0.3500 \end{bmatrix}$$" in text


def test_without_training_one_pass_is_shown_without_an_update() -> None:
    spec = {"name": "no training", "input": {"name": "x", "size": 1}, "target": {"name": "y", "size": 1},
            "layers": [{"name": "1", "units": 1, "activation": "identity", "bias": False}],
            "loss": "half_squared_error", "data": {"x": [[2.0]], "y": [[0.0]], "W_1": [[0.5]]}}
    text = sbp.load(spec).render("md", sections=["numeric"])
    assert "no `training` section (no learning rate)" in text
    assert r"{\partial W_{1}} = \delta_{1} x^{\top} = \begin{bmatrix} 2.0000 \end{bmatrix}$$" in text
    assert "Updated parameters" not in text


def test_generic_activation_has_no_numbers() -> None:
    spec = {"name": "generic", "input": {"name": "x", "size": 1}, "target": {"name": "y", "size": 1},
            "layers": [{"name": "1", "units": 1, "activation": {"function": "g"}, "bias": False}],
            "loss": "half_squared_error", "data": {"x": [[2.0]], "y": [[1.0]], "W_1": [[0.5]]},
            "training": {"learning_rate": 0.1, "steps": 1}}
    text = sbp.load(spec).render("md", sections=["forward", "numeric", "checks"])
    assert "is a generic function" in text
    assert "No worked example: " in text and "No numeric checks: " in text


@pytest.mark.parametrize("spec", WITH_DATA, ids=lambda p: p.stem)
def test_numbers_equal_numeric_json(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["numeric", str(spec), "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    net = sbp.load(spec)
    text = net.render("md", sections=["numeric"], digits=12)
    chunks = re.split(r"^### Step \d+$", text, flags=re.M)[1:]
    assert len(chunks) == len(steps)
    for chunk, step in zip(chunks, steps, strict=True):
        shown = [np.array([[float(v) for v in row.split("&")] for row in body.split(r"\\")])
                 for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", chunk)]
        groups = [step["params"], step["forward"], dict(reversed(step["delta"].items())), step["grad"],
                  step["updated"]]
        wanted = [np.array(value) for group in groups for value in group.values()]
        assert len(shown) == len(wanted)
        for got, want in zip(shown, wanted, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
        symbol = re.escape(net.derive().names.loss_latex())  # \mathcal{L}, or the spec's notation's loss
        loss = re.search(rf"^\$\${symbol} = .* = (-?\d+\.\d+)\$\$$", chunk, flags=re.M)
        assert loss and abs(float(loss.group(1)) - step["loss"]) < 1e-11


def test_checks_state_the_figures_of_this_run() -> None:
    net = sbp.load(ROOT / "specs" / "mlp.yaml")
    text = net.render("md", sections=["checks"])
    result = net.gradcheck()
    assert "What this run verified, at the spec's data; 4 samples." in text
    for p in result.parameters.values():
        mantissa, exponent = f"{p.error:.1e}".split("e")
        assert f"| {p.checked} / {p.total} | 0 | ${mantissa} \\times 10^{{{int(exponent)}}}$ | agrees |" in text
    assert r"| $\delta_{1} = \partial \mathcal{L} / \partial s_{1}$ | 12 / 12 |" in text
    assert "every form agrees with the matrix form" in text


def test_checks_at_random_values_without_data() -> None:
    text = sbp.load(ROOT / "specs" / "recurrent_autoencoder.yaml").render("md", sections=["checks"])
    assert "What this run verified, at random data, seed 0; 3 samples." in text
    assert r"| $\partial \mathcal{L} / \partial W_{in}$ | 1000 / 16875 |" in text
    assert r"| $\partial \mathcal{L} / \partial W_{in}$ | 500 / 16875 |" in text  # index entries compared
    assert "Verdict: every gradient agrees" in text


# --- escaping user text -------------------------------------------------------------------


def test_specials_in_markdown_are_shown_literally() -> None:
    text = sbp.load(NASTY).render("md")
    assert text.startswith(r"# \\input{/etc/passwd} 100% \$x\$ a\_b {c} \#1 \*bold\* "
                           "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\~\n")
    assert r"\- item \\input{/etc/passwd} \| cell \| \`code\` \[link\](http://x) &lt;b&gt;html&lt;/b&gt; &amp;amp; " \
           r"50% \$\$ math \$\$" in text
    assert "<script" not in text.lower() and "<b>" not in text
    assert 'layer2["layer a_b#37;c#36;d#123;e#125;#35;#60;script#62;<br/>' in text
    assert (r"| $W_{\text{a\_b\%c\$d\{e\}\#\textless{}script\textgreater{}}}$ | "
            r"weight of layer a\_b%c\$d{e}\#&lt;script&gt; |") in text


def test_specials_in_latex_are_escaped() -> None:
    text = sbp.load(NASTY).render("tex")
    body = text[text.index(r"\begin{document}"):]
    assert r"\input" not in body
    assert r"\textbackslash{}input\{/etc/passwd\} 100\% \$x\$ a\_b \{c\} \#1 *bold* \textless{}script\textgreater{}" \
           r"alert(1)\textless{}/script\textgreater{} \& \textasciitilde{}" in body


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
    assert "## Sizes" not in text and "## Worked example" not in text
    assert "**Matrix form**" in text and "**Index form**" in text and "**Chain rule**" not in text
    assert text.index("**Matrix form**") < text.index("**Index form**")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sections": ["numbers"]}, "unknown section 'numbers'"),
    ({"forms": ["matrix", "vector"]}, "unknown form 'vector'"),
    ({"forms": []}, "no form chosen"),
    ({"digits": 16}, "digits 16"),
])
def test_bad_options_raise_render_error(kwargs: dict, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(sbp.load(ROOT / "specs" / "mlp.yaml"), "md", **kwargs)


def test_digits_fix_every_number() -> None:
    text = sbp.load(ROOT / "specs" / "square_221.yaml").render("md", sections=["numeric"], digits=1)
    assert r"$$\mathcal{L} = \sum \frac{\left(y - t\right)^{2}}{2} = 2.0$$" in text
    assert r"w_{2} \leftarrow w_{2} - 0.01 \frac{\partial \mathcal{L}}{\partial w_{2}} = " \
           r"\begin{bmatrix} -3.0 & -1.0 \end{bmatrix}" in text


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


def test_cli_writes_markdown_and_latex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "square_221.yaml")
    code, out, _ = cli(capsys, spec, "--format", "md", "--sections", "loss,forward", "--forms", "matrix")
    assert code == 0 and out == sbp.load(spec).render("md", sections=["forward", "loss"], forms=["matrix"])
    code, out, _ = cli(capsys, spec, "--format", "tex", "-o", str(tmp_path / "sheet.tex"), "--digits", "2")
    assert code == 0 and out == ""
    assert (tmp_path / "sheet.tex").read_text(encoding="utf-8") == sbp.load(spec).render("tex", digits=2)


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "md", "--pdf"], "--pdf compiles LaTeX"),
    ([], "--format is required"),
    (["--format", "md", "--template-dir", "/nonexistent/dir"], "not a directory"),
])
def test_cli_bad_options_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, str(ROOT / "specs" / "mlp.yaml"), *args)
    assert code == 2 and out == "" and message in err


def test_cli_unknown_section_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(ROOT / "specs" / "mlp.yaml"), "--format", "md", "--sections", "numeric,foo"])
    assert exit_info.value.code == 2
    assert "expected a comma-separated list of network, sizes" in capsys.readouterr().err

