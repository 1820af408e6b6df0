"""What is printed is what was computed: every formula `derive` prints, in every form and in text and
LaTeX, read back by the answer parser (in the spec's notation) and compared with what it was printed
from; over every spec in specs/ and over random specs in random notations; and the line the
Checks section of a rendered document reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop import printing

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(f"specs/{path.name}" for path in (ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS)
def test_every_printed_formula_of_every_spec_reads_back(spec: str) -> None:
    result = sbp.load(spec).reread()
    assert result.ok, "\n".join(map(str, result.misread))
    der = sbp.load(spec).derive()
    assert result.checked == 2 * (len(sbp.FORMS) * len(der.targets) + len(der.forward()))


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
    failures = [(line, result.feedback) for line in lines
                if not (result := net.verify(None, line)).equivalent]
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
    spec = {"name": "generic", "input": {"size": 2}, "target": {"size": 1}, "loss": "half_squared_error",
            "layers": [{"name": "1", "units": 2, "activation": {"function": "g"}},
                       {"name": "2", "units": 1, "activation": "sigmoid", "bias": False}]}
    text = sbp.load(spec).render("md", sections=["checks"], forms=["matrix"])
    assert "No numeric checks: " in text
    assert "(10 of 10 agree)." in text  # 5 forward equations, 5 targets


# --- random specs in random notations -----------------------------------------------------------

LETTERS = {"preactivation": ["s", "a", "net", "z", "h", "u"], "activation": ["z", "a", "h", "o", "out"],
           "delta": ["delta", "sigma", "d2", "g"], "function": ["f", "sigma", "g", "phi"],
           "loss": ["L", "E", "J", "l"], "weight": ["W", "w", "theta", "V"], "bias": ["b", "c", "beta"],
           "learning_rate": ["alpha", "eta", "gamma", "lr"]}
HIDDEN = ["relu", "tanh", "sigmoid", "identity", "leaky_relu", {"expr": "x**2"}, {"expr": "x**3 + x"},
          {"function": "act"}]


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


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random network: a chain, a skip sum or a recurrent layer; any activations and loss; any convention."""
    depth = draw(st.integers(1, 3))
    wiring = draw(st.sampled_from(["chain", "skip", "recurrent"] if depth >= 2 else ["chain"]))
    names = draw(st.sampled_from([["1", "2", "3"], ["in", "hid", "out"]]))[:depth]
    loss = draw(st.sampled_from(["half_squared_error", "squared_error", "cross_entropy", "hinge", "expr"]))
    autoencoder = loss in ("half_squared_error", "squared_error") and draw(st.booleans())
    size_in = draw(st.integers(1, 3))
    out_units = size_in if autoencoder else (1 if loss == "hinge" else draw(st.integers(1 if loss != "cross_entropy"
                                                                                        else 2, 3)))
    layers: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        last = index == depth - 1
        activation = draw(st.sampled_from(HIDDEN))
        if last and loss == "cross_entropy":
            activation = "softmax"
        if isinstance(activation, dict) and "function" in activation:
            activation = {"function": f"act_{name}"}
        layer: dict[str, Any] = {"name": name, "units": out_units if last else draw(st.integers(1, 3)),
                                 "activation": activation, "bias": draw(st.booleans())}
        if wiring == "skip" and last and depth == 3:
            layer["inputs"] = names[:2]
            layers[1]["units"] = layers[0]["units"]
        if wiring == "recurrent" and index == depth - 2:
            layer["recurrent"] = {"cycles": 2}
            layer["units"] = size_in if index == 0 else layers[-1]["units"]
        layers.append(layer)
    output = draw(st.sampled_from([None, "y_hat", "yout"]))
    target_name = draw(st.sampled_from(["y", "t"]))
    spec: dict[str, Any] = {
        "name": "random", "input": {"name": "x", "size": size_in},
        "target": "input" if autoencoder else {"name": target_name, "size": out_units}, "layers": layers,
        "convention": {"weights": draw(st.sampled_from(["out_in", "in_out"])),
                       "samples": draw(st.sampled_from(["columns", "rows"]))},
    }
    if output:
        spec["output"] = output
    reduction = draw(st.sampled_from(["sum", "mean"]))
    if loss == "expr":
        target = "x" if autoencoder else target_name
        spec["loss"] = {"expr": f"({output or 'y_out'} - {target})**2", "reduction": reduction}
    else:
        spec["loss"] = {"type": loss, "reduction": reduction}
    return spec


@pytest.mark.slow
@settings(max_examples=30)
@given(spec=specs(), notation=notations())
def test_random_specs_in_random_notations_read_back(spec: dict[str, Any], notation: dict[str, str]) -> None:
    net = sbp.load({**spec, "notation": notation})
    result = net.reread()
    assert result.ok, "\n".join(map(str, result.misread))
