"""What is printed is what was computed: every formula `derive` prints, in every form and in text and
LaTeX, read back by the answer parser (in the spec's notation) and compared with what it was printed
from; over every spec in specs/ and over random specs in random notations; and the line the
Checks section of a rendered document reports."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sympy import Integer, Lambda, Max, Rational, exp, log, symbols
from sympy.matrices.expressions import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr, Transpose

import symbackprop as sbp
from symbackprop import printing
from symbackprop.matexpr import Elementwise
from symbackprop.spec import load_spec
from symbackprop.verify.roundtrip import _reread_forward
from tests.profiles import examples

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(f"specs/{path.name}" for path in (ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS)
def test_every_printed_formula_of_every_spec_reads_back(spec: str) -> None:
    result = sbp.load(spec).reread()
    assert result.ok, "\n".join(map(str, result.misread))
    der = sbp.load(spec).derive()
    assert result.checked == 2 * (len(sbp.FORMS) * len(der.targets) + len(der.forward()))


QUESTIONS = [spec for spec in SPECS if load_spec(ROOT / spec).questions] + ["tests/data/softmax_3.yaml"]


@pytest.mark.slow
@pytest.mark.parametrize("spec", QUESTIONS)
def test_every_form_of_every_question_reads_back(spec: str) -> None:
    """The targets the questions ask (local partials: diag(f'(s)) per sample, W, the index form x_i of ds/dW, the
    Kronecker bracket of the softmax Jacobian; entries; dL/d<value>), in every form, text and LaTeX."""
    net = sbp.load(spec)
    targets = [target for _, asked in net.questions() for target in asked]
    assert any(target.kind == "partial" for target in targets)
    result = net.reread(targets=targets)
    assert result.ok, "\n".join(map(str, result.misread))
    bare = sum(target.bare_chain for target in targets)  # a single partial's chain form is a note, not a formula
    assert result.checked == 2 * (len(sbp.FORMS) * len(targets) - bare + len(net.derive().forward()))


def test_the_checks_section_counts_the_questions_partials() -> None:
    net = sbp.load("tests/data/softmax_3.yaml")
    text = net.render("md", sections=["questions", "checks"], forms=["matrix", "index"])
    asked = sum(len(targets) * len(question.forms or ["matrix", "index"]) for question, targets in net.questions())
    checked = asked + len(net.derive().forward())
    assert f"({checked} of {checked} agree)." in text and asked == 8


@pytest.mark.parametrize("spec", ["specs/relu_4321_course.yaml", "specs/recurrent_autoencoder_small.yaml"])
def test_lines_copied_from_derive_latex_read_back(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`derive --format latex` prints align* blocks: `lhs &= rhs \\\\` lines read back as they are."""
    from symbackprop.cli import main

    assert main(["derive", spec, "--form", "all", "--format", "latex"]) == 0
    net = sbp.load(spec)
    blocks = capsys.readouterr().out.split(r"\begin{align*}")[2:]  # the forms (the first is the forward pass)
    lines = [line for block in blocks for line in block.split(r"\end{align*}")[0].strip().splitlines()]
    assert len(lines) == len(sbp.FORMS) * len(net.derive().targets)
    assert any(line.endswith(r" \\") for line in lines) and all(" &= " in line for line in lines)
    failures = [(line, result.feedback) for line in lines if not (result := net.verify(None, line)).equivalent]
    assert failures == []


def test_forward_equations_read_back_as_their_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sbp.load("specs/skip_connection.yaml")
    assert net.reread(forms=[]).ok  # s_out = W_out (z_1 + z_2) + b_out 1_N^T, L = sum(..)/N
    monkeypatch.setattr(printing.TextPrinter, "_bracket", lambda self, printed: printed)
    misread = sbp.load("specs/skip_connection.yaml").reread(forms=[], formats=["text"]).misread
    assert [m.target for m in misread] == ["s_out"] and misread[0].form == "forward"


def test_a_printer_that_drops_a_bracket_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing.TextPrinter, "_bracket", lambda self, printed: printed)
    monkeypatch.setattr(printing.LatexPrinter, "_bracket", lambda self, printed: printed)
    result = sbp.load("specs/mlp.yaml").reread(forms=["matrix", "symbolic"])
    assert not result.ok
    misread = {(m.target, m.form, m.format) for m in result.misread}
    assert ("delta_out", "matrix", "text") in misread and ("delta_out", "matrix", "latex") in misread
    assert result.summary() == f"every printed formula re-read and compared: {result.agreed}/26"  # 5 forward lines too


def test_the_checks_section_reports_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sbp.load("specs/square_221_course.yaml")
    text = net.render("md", sections=["checks"], forms=["matrix", "index"])
    assert "(13 of 13 agree)." in text  # 5 forward equations, 4 targets x 2 forms
    assert "every printed formula reads back as what it was printed from" in text
    monkeypatch.setattr(printing.LatexPrinter, "_bracket", lambda self, printed: printed)
    broken = sbp.load("specs/square_221_course.yaml").render("md", sections=["checks"], forms=["matrix"])
    assert "(8 of 9 agree)." in broken
    assert "Verdict: **some check failed**" in broken
    assert r"- $\delta^{(2)} = \partial \mathcal{L} / \partial net^{(2)}$, matrix form: **different**" in broken


def test_formulas_are_reread_where_there_are_no_numbers() -> None:
    spec = {
        "name": "generic",
        "input": {"size": 2},
        "target": {"size": 1},
        "loss": "half_squared_error",
        "layers": [
            {"name": "1", "units": 2, "activation": {"function": "g"}},
            {"name": "2", "units": 1, "activation": "sigmoid", "bias": False},
        ],
    }
    text = sbp.load(spec).render("md", sections=["checks"], forms=["matrix"])
    assert "No numeric checks: " in text
    assert "(10 of 10 agree)." in text  # 5 forward equations, 5 targets


def _classifier(loss: dict[str, Any], activation: Any, units: int = 3) -> dict[str, Any]:
    return {
        "name": "loss",
        "input": {"name": "x", "size": 2},
        "target": {"name": "y", "size": units},
        "output": "p",
        "loss": loss,
        "layers": [
            {"name": "1", "units": 2, "activation": "tanh"},
            {"name": "out", "units": units, "activation": activation},
        ],
    }


def test_binary_cross_entropy_prints_its_sum_bracketed_and_reads_back() -> None:
    """dL/dp of binary cross-entropy is a sum: as an operand of ⊙ it is bracketed in every form and
    format (without the brackets it is another formula), and what is printed reads back."""
    net = sbp.load(_classifier({"type": "binary_cross_entropy", "reduction": "mean"}, {"expr": "sigmoid(x)"}))
    delta = net.derive().delta("out")
    bracketed = "((1 - y) ⊘ (1 - p) - y ⊘ p) ⊙ f_out'(s_out)"
    assert delta.text("symbolic") == delta.text("matrix") == f"delta_out = (1/N) {bracketed}"
    assert r"\left(\left(1 - y\right) \oslash \left(1 - p\right) - y \oslash p\right) \odot f_{out}'" in delta.latex(
        "matrix"
    )
    assert delta.text("index").startswith("delta_out[j,n] = ((1 - y[j,n])/(1 - p[j,n]) - y[j,n]/p[j,n])*f_out'")
    markdown = net.render("md", forms=["matrix"])
    assert r"\left(\left(1 - y\right) \oslash \left(1 - p\right) - y \oslash p\right) \odot" in markdown
    for written in (
        "(1/N) ((1 - y)/(1 - p) - y/p) ⊙ f_out'(s_out)",  # / between matrices of one size: ⊘
        r"\frac{1}{N} \left(\frac{1-y}{1-p} - \frac{y}{p}\right) \odot f_{out}'(s_{out})",
        "(p - y)/N",
    ):  # the sigmoid written as an expr still cancels
        assert net.verify("delta_out", written).equivalent, written
    unbracketed = net.verify("delta_out", "(1/N) (1 - y)/(1 - p) - y/p ⊙ f_out'(s_out)")
    assert not unbracketed.equivalent
    assert net.reread(forms=["symbolic", "matrix", "index"]).ok


@pytest.mark.parametrize(
    "loss",
    [
        "half_squared_error",
        "squared_error",
        "cross_entropy",
        "binary_cross_entropy",
        "hinge",
        pytest.param("multiclass_hinge", marks=pytest.mark.slow),  # 7 s of CPU
        "(p - y)**2/2 + abs(p - y)",
    ],
)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_every_loss_reads_back(loss: str, reduction: str) -> None:
    """Every loss, each reduction, after an output activation it does not cancel with (tanh; for the
    losses with logs, a sigmoid written as an expr or softmax): the loss line and every target's."""
    activation: Any = {"binary_cross_entropy": {"expr": "1/(1 + exp(-x))"}, "cross_entropy": "softmax"}.get(
        loss, "tanh"
    )
    kind = {"expr": loss} if "(" in loss else {"type": loss}
    net = sbp.load(_classifier({**kind, "reduction": reduction}, activation, 1 if loss == "hinge" else 3))
    result = net.reread(forms=["symbolic", "matrix", "index"])
    assert result.ok, "\n".join(map(str, result.misread))


def test_the_multiclass_hinge_loss_line_reads_back_with_max_entrywise() -> None:
    """sum((1 - y) ⊙ max(0, p + 1 - ..)): max(0, M) of a matrix is entrywise; \\sum covers the whole product."""
    net = sbp.load(_classifier({"type": "multiclass_hinge"}, "softmax"))
    [text] = [line for line in net.derive().forward_text() if line.startswith("L = ")]
    [latex] = [line for line in net.derive().forward_latex() if line.startswith(r"\mathcal{L} = ")]
    assert text.startswith("L = sum((1 - y) ⊙ max(0, p + 1 - ")
    assert latex.startswith(r"\mathcal{L} = \sum \left(\left(1 - y\right) \odot \max\left(0, ")
    assert net.reread(forms=[]).ok


# --- random matrix formulas: every operator's bracketing -------------------------------------------

_A, _B = symbols("a b", real=True)
#: Entrywise formulas printed inline (with the matrices in place of a and b): a quotient, a product with a
#: sum, a power of a sum, a function of a sum, a leading minus.
FORMULAS = [
    Lambda((_A, _B), _A / (1 - _B)),
    Lambda((_A, _B), (_A - _B) * _B),
    Lambda((_A, _B), (_A + _B) ** 2),
    Lambda((_A, _B), exp(_A - _B)),
    Lambda((_A, _B), -_A * log(1 + _B**2)),
    Lambda((_A, _B), Max(0, 1 - _A * _B)),
    Lambda((_A, _B), _A - _B / (_A**2 + 1)),
]


@st.composite
def formulas(draw: st.DrawFn, leaves: tuple[Any, ...], square: Any, depth: int = 3) -> Any:
    """A random same-shaped matrix formula over `leaves`: sums, differences, Hadamard products and
    quotients, scalar multiples, entrywise powers, inline entrywise formulas and products with the
    square matrix `square` or its transpose, nested."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(leaves))
    left, right = draw(formulas(leaves, square, depth - 1)), draw(formulas(leaves, square, depth - 1))
    kind = draw(
        st.sampled_from(["add", "sub", "hadamard", "scaled", "power", "formula", "neg", "product", "transposed"])
    )
    if kind == "product":
        return MatMul(square, left)
    if kind == "transposed":
        return MatMul(Transpose(square), left)
    if kind in ("add", "sub"):
        total = MatAdd(left, right if kind == "add" else MatMul(Integer(-1), right))
        return left if total.doit().is_ZeroMatrix else total  # s - s: the number 0, compared as rounding noise
    if kind == "hadamard":
        return HadamardProduct(left, right)
    if kind == "scaled":
        return MatMul(draw(st.sampled_from([Integer(2), Rational(1, 2), Integer(-3)])), left)  # W W stays no W**2
    if kind == "power":
        return HadamardPower(left, 2)
    if kind == "neg":
        return MatMul(Integer(-1), left)
    return Elementwise("", 0, draw(st.sampled_from(FORMULAS)), left, right)


@settings(max_examples=examples(60, 300))  # 20 ms an example
@given(data=st.data())
def test_random_formulas_print_with_the_brackets_they_need(data: st.DataObject) -> None:
    """Text and LaTeX of any nesting of the operators the forms use read back as the formula printed: a
    sum is bracketed as an operand of ⊙, ⊘, a product, a power or a formula; nothing more is needed."""
    net = _formula_net()
    symbols_ = net.derive().backprop.symbols
    leaves = tuple(symbols_[name] for name in ("s_1", "z_1", "delta_1"))
    expr = data.draw(formulas(leaves, symbols_["W_out"]))
    assume(isinstance(expr, MatrixExpr) and not expr.doit().is_ZeroMatrix)  # s - s is 0: rounding noise only
    verifier = net._verifier
    values = [verifier.points.evaluate(verifier.vocab.sized(expr), point) for point in verifier.points.values[:2]]
    # (s - z) + (z - s) is 0 too, up to 1e-33: a value that cancels to rounding noise compares noise with noise
    assume(all(np.all(np.isfinite(v)) and np.all((np.abs(v) > 1e-9) & (np.abs(v) < 1e9)) for v in values))
    names = net.derive().names
    for printed in (printing.to_text(expr, names), printing.to_latex(expr, names)):
        assert _reread_forward(net._verifier, expr, printed) is None, printed


@cache
def _formula_net() -> sbp.Network:
    return sbp.load(
        _classifier({"type": "half_squared_error"}, "tanh", 3)
        | {
            "layers": [
                {"name": "1", "units": 3, "activation": "tanh"},
                {"name": "out", "units": 3, "activation": "tanh"},
            ]
        }
    )


# --- random specs in random notations -----------------------------------------------------------

LETTERS = {
    "preactivation": ["s", "a", "net", "z", "h", "u"],
    "activation": ["z", "a", "h", "o", "out"],
    "delta": ["delta", "sigma", "d2", "g"],
    "function": ["f", "sigma", "g", "phi"],
    "loss": ["L", "E", "J", "l"],
    "weight": ["W", "w", "theta", "V"],
    "bias": ["b", "c", "beta"],
    "learning_rate": ["alpha", "eta", "gamma", "lr"],
}
HIDDEN = [
    "relu",
    "tanh",
    "sigmoid",
    "identity",
    "leaky_relu",
    "softmax",
    {"expr": "x**2"},
    {"expr": "x**3 + x"},
    {"expr": "exp(x) - 1"},
    {"expr": "log(1 + exp(x))"},
    {"expr": "max(0, x) + 0.1*min(0, x)"},
    {"expr": "sin(x)*cosh(x)"},
    {"function": "act"},
]
LOSSES = [
    "half_squared_error",
    "squared_error",
    "cross_entropy",
    "binary_cross_entropy",
    "hinge",
    "multiclass_hinge",
    "expr",
]
#: Custom losses, in the output `{out}` and the target `{t}`.
EXPR_LOSSES = [
    "({out} - {t})**2",
    "abs({out} - {t})",
    "log(1 + exp(-{t}*{out}))",
    "{out}**4/4 - {t}*{out}",
    "max(0, 1 - {t}*{out})",
]


@st.composite
def notations(draw: st.DrawFn) -> dict[str, str]:
    """A `notation:` block with every quantity its own letter."""
    notation: dict[str, str] = {}
    used: set[str] = set()
    for key, pool in LETTERS.items():
        letter = draw(st.sampled_from([letter for letter in pool if letter not in used]))
        used.add(letter)
        notation[key] = letter
    notation["layer"] = draw(st.sampled_from(["subscript", "superscript", "parenthesized"]))
    for key in draw(st.lists(st.sampled_from(sorted(LETTERS)), unique=True)):  # left out: its default letter
        default = LETTERS[key][0]
        if all(letter != default for other, letter in notation.items() if other != key):
            del notation[key]
    return notation


def _activation(draw: st.DrawFn, name: str) -> Any:
    activation = draw(st.sampled_from(HIDDEN))
    if isinstance(activation, dict) and "function" in activation:
        return {"function": f"act_{name}"}
    return activation


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random network: a chain, a skip sum, a layer reading the input and a layer (summed), a fixed matrix or
    a recurrent layer; any activations (softmax anywhere), any loss (multiclass hinge, binary cross-entropy,
    custom), either reduction, either convention."""
    depth = draw(st.integers(1, 3))
    wiring = draw(
        st.sampled_from(
            ["chain", "skip", "recurrent", "fixed", "with_input"] if depth >= 2 else ["chain", "fixed", "with_input"]
        )
    )
    names = draw(st.sampled_from([["1", "2", "3"], ["in", "hid", "out"]]))[:depth]
    loss = draw(st.sampled_from(LOSSES))
    autoencoder = loss in ("half_squared_error", "squared_error") and draw(st.booleans())
    size_in = draw(st.integers(1, 3))
    out_units = (
        size_in
        if autoencoder
        else (1 if loss == "hinge" else draw(st.integers(2 if loss in ("cross_entropy", "multiclass_hinge") else 1, 3)))
    )
    layers: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    if wiring == "fixed":  # a constant mixing matrix before the first layer: given in data, or a selection rule
        rule = draw(st.sampled_from(["data", "select"]))
        fixed: dict[str, Any] = {
            "name": "mix",
            "units": size_in,
            "activation": "identity",
            "bias": False,
            "weight": "P",
            "fixed": True if rule == "data" else {"select_every": 1},
        }
        layers.append(fixed)
        if rule == "data":
            data["P"] = [[0.5 * (i == j) + 0.25 * (i + j) for j in range(size_in)] for i in range(size_in)]
    for index, name in enumerate(names):
        last = index == depth - 1
        activation = _activation(draw, name)
        if last and loss == "cross_entropy":
            activation = "softmax"
        if last and loss == "binary_cross_entropy":
            activation = draw(st.sampled_from(["sigmoid", {"expr": "sigmoid(x)"}, {"expr": "1/(1 + exp(-2*x))"}]))
        layer: dict[str, Any] = {
            "name": name,
            "units": out_units if last else draw(st.integers(1, 3)),
            "activation": activation,
            "bias": draw(st.booleans()),
        }
        if wiring == "skip" and last and depth == 3:
            layer["inputs"] = names[:2]
            layers[-1]["units"] = layers[-2]["units"]
        if wiring == "with_input" and last:  # reads the input and the layer before it, summed
            previous = layers[-1]["name"] if layers else None
            if previous is not None:
                layer["inputs"] = ["x", previous]
                layers[-1]["units"] = size_in
        if wiring == "recurrent" and index == depth - 2:
            layer["recurrent"] = {"cycles": 2}
            layer["units"] = size_in if index == 0 else layers[-1]["units"]
        layers.append(layer)
    for layer in layers:  # softmax over one unit is the constant 1, which a spec may not ask for (docs/spec.md)
        if layer["activation"] == "softmax" and layer["units"] == 1:
            layer["activation"] = "sigmoid"
    output = draw(st.sampled_from([None, "y_hat", "yout", "p"]))
    target_name = draw(st.sampled_from(["y", "t"]))
    spec: dict[str, Any] = {
        "name": "random",
        "input": {"name": "x", "size": size_in},
        "target": "input" if autoencoder else {"name": target_name, "size": out_units},
        "layers": layers,
        "convention": {
            "weights": draw(st.sampled_from(["out_in", "in_out"])),
            "samples": draw(st.sampled_from(["columns", "rows"])),
        },
    }
    if output:
        spec["output"] = output
    reduction = draw(st.sampled_from(["sum", "mean"]))
    if loss == "expr":
        target = "x" if autoencoder else target_name
        formula = draw(st.sampled_from(EXPR_LOSSES))
        spec["loss"] = {"expr": formula.format(out=output or "y_out", t=target), "reduction": reduction}
    else:
        spec["loss"] = {"type": loss, "reduction": reduction}
    if data:
        spec["data"] = data
    return spec


def _partials(net: sbp.Network) -> list[tuple[str, str]]:
    """Every (top, bottom) pair of named values with a local partial between them: a computed value by one it
    depends on (a value, the input, a parameter)."""
    from symbackprop.forms.partial import NotLocal, between

    bp = net.derive().backprop
    named = [
        node
        for node in bp.graph.nodes
        if node.name and node.role in ("preactivation", "activation", "input", "weight", "bias", "fixed")
    ]
    pairs = []
    for top in (node for node in named if node.role in ("preactivation", "activation")):
        for bottom in named:
            try:
                between(bp, top, bottom)
            except NotLocal:
                continue
            pairs.append((top.name, bottom.name))
    return pairs


@pytest.mark.slow
@settings(max_examples=15)
@given(spec=specs(), notation=notations(), data=st.data())
def test_random_local_partials_in_random_notations_read_back(
    spec: dict[str, Any], notation: dict[str, str], data: st.DataObject
) -> None:
    """Local partials of random networks (a per-sample Jacobian through softmax, relu, a skip sum, a recurrent
    layer; a value by a weight; an entry by a row): every form, text and LaTeX, read back in the notation."""
    net = sbp.load({**spec, "notation": notation})
    pairs = data.draw(st.lists(st.sampled_from(_partials(net)), min_size=1, max_size=2, unique=True))
    der = net.derive()
    targets = [der.target(f"d{top}/d{bottom}") for top, bottom in pairs]
    top, bottom = pairs[0]
    if net.graph.named(top).shape[0] != 1 and data.draw(st.booleans()):  # an entry of the top by the whole bottom
        targets.append(der.target(f"d{top}[1]/d{bottom}"))
    if data.draw(st.booleans()):  # the whole top by a row of a value with samples, or by one weight
        targets.append(
            der.target(f"d{top}/d{bottom}[1]" if "N" in net.graph.named(bottom).shape else f"d{top}/d{bottom}[1,1]")
        )
    result = net.reread(targets=targets)
    assert result.ok, "\n".join(map(str, result.misread))


@pytest.mark.slow  # 3.5 s of CPU an example
@settings(max_examples=30)
@given(spec=specs(), notation=notations())
def test_random_specs_in_random_notations_read_back(spec: dict[str, Any], notation: dict[str, str]) -> None:
    net = sbp.load({**spec, "notation": notation})
    result = net.reread()
    assert result.ok, "\n".join(map(str, result.misread))
