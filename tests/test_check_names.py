"""Names as students write them, and what they mean in a network (check/written.py, names.py)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.check.names import NameTable, entry, resolve
from symbackprop.check.tokens import parse
from symbackprop.check.truth import Truth
from symbackprop.check.written import parse_name

SPECS = Path(__file__).resolve().parent.parent / "specs"


@cache
def table(spec: str) -> NameTable:
    return NameTable(Truth(sbp.load(SPECS / spec)))


def meaning(spec: str, text: str) -> tuple | None:
    name = parse_name(parse(text))
    assert name is not None, text
    found = resolve(name, table(spec))
    return None if found is None else (found.role, found.key, found.index)


@pytest.mark.parametrize(
    ("text", "form", "base"),
    [
        ("W_1", "plain", "W"),
        (r"\Delta W_1", "grad", "W"),
        (r"\partial W", "grad", "W"),
        ("dW_1", "grad", "W"),
        (r"\nabla_{W_1} L", "grad", "W"),
        (r"\nabla_W E", "grad", "W"),
        (r"\frac{\partial L}{\partial W_1}", "grad", "W"),
        (r"\frac{dL}{dW}", "grad", "W"),
        (r"\frac{\mathrm{d}E}{\mathrm{d}w_{2}}", "grad", "w"),
        ("dL/dW_1", "grad", "W"),
        (r"\partial L / \partial W", "grad", "W"),
        (r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{11}^{(2)}}", "grad", "w"),
        (r"\delta W", "grad", "W"),
        ("W'", "update", "W"),
        ("W^{t+1}", "update", "W"),
        ("W^{(t+1)}", "update", "W"),
        (r"W_{new}", "update", "W"),
        (r"W_{\text{new}}^{(1)}", "update", "W"),
        ("W^{new}", "update", "W"),
        ("W^{+}", "update", "W"),
        ("W^{(t)}", "current", "W"),
        ("W_{old}", "current", "W"),
        (r"\vec{a}^{(1)}", "plain", "a"),
        (r"\mathbf{W}^{(2)}", "plain", "W"),
        (r"\mathcal{L}", "plain", "mathcal{L}"),
        ("L(t;y)", "plain", "L"),
        (r"\delta_1^{(2)}", "plain", "delta"),
        ("net_1^{(2)}", "plain", "net"),
    ],
)
def test_decorations(text: str, form: str, base: str) -> None:
    name = parse_name(parse(text))
    assert name is not None and (name.form, name.base) == (form, base)


@pytest.mark.parametrize(
    "text", [r"\sigma(x)", "W x", r"\frac{\partial s_2}{\partial W_2}", "2", "f'(s)", r"\sum_k \delta_k", "W_1 + 1"]
)
def test_what_is_not_a_name(text: str) -> None:
    assert parse_name(parse(text)) is None


def test_transpose_marks() -> None:
    assert parse_name(parse("W^T")).transposed and parse_name(parse(r"W_1^{\top}")).transposed


@pytest.mark.parametrize(
    ("spec", "text", "meant"),
    [
        ("square_221.yaml", "W_1", (None, "W_1", None)),
        ("square_221.yaml", "W^{(1)}", (None, "W_1", None)),
        ("square_221.yaml", "w^{(1)}_{12}", (None, "W_1", "1,2")),
        ("square_221.yaml", "w_{11}^{(2)}", (None, "w_2", "1,1")),
        ("square_221.yaml", "W1", (None, "W_1", None)),
        ("square_221.yaml", r"\frac{\partial E}{\partial w_{21}^{(1)}}", ("grad", "W_1", "2,1")),
        ("square_221.yaml", r"w_2'", ("updated", "w_2", None)),
        ("square_221.yaml", r"\delta_1^{(2)}", ("delta", "delta_2", "1")),
        ("square_221.yaml", r"\delta_{2}", ("delta", "delta_2", None)),
        ("square_221.yaml", "s_1", ("forward", "s_1", None)),
        ("square_221.yaml", "z^{(1)}_2", ("forward", "z_1", "2")),
        ("square_221.yaml", "y", ("forward", "z_2", None)),
        ("square_221.yaml", "z_2", ("forward", "z_2", None)),
        ("square_221.yaml", "t", ("data", "t", None)),
        ("square_221.yaml", r"\vec{x}", ("data", "x", None)),
        ("square_221.yaml", "L", ("loss", "L", None)),
        ("square_221.yaml", r"\mathcal{L}", ("loss", "L", None)),
        ("square_221.yaml", r"E(w)", ("loss", "L", None)),
        ("square_221.yaml", r"\frac{\partial L}{\partial s_1}", ("delta", "delta_1", None)),
        ("mlp.yaml", "W", (None, "W", None)),
        ("mlp.yaml", "w", (None, "w", None)),
        ("mlp.yaml", "y_{out}", ("forward", "z_out", None)),
        ("mlp.yaml", r"\hat{y}", ("forward", "z_out", None)),
        ("mlp.yaml", r"\delta_{out}", ("delta", "delta_out", None)),
        ("mlp.yaml", "W_{out}", (None, "w", None)),
        ("mlp.yaml", "dw", ("grad", "w", None)),
        ("relu_4321.yaml", "W^3_{1,1}", (None, "W_3", "1,1")),
        ("relu_4321.yaml", "b^{(2)}", (None, "b_2", None)),
        ("relu_4321.yaml", "h_3", ("forward", "z_3", None)),
        ("recurrent_autoencoder_small.yaml", r"s_{rec}^{(2)}", ("forward", "s_rec^(2)", None)),
        ("recurrent_autoencoder_small.yaml", r"s^{(rec,1)}", ("forward", "s_rec^(1)", None)),
        ("recurrent_autoencoder_small.yaml", r"Z_{in}", ("forward", "z_in", None)),
        ("recurrent_autoencoder_small.yaml", "X", ("data", "x", None)),
        ("recurrent_autoencoder_small.yaml", r"\delta_{rec}^{(1)}", ("delta", "delta_rec^(1)", None)),
        ("recurrent_autoencoder_small.yaml", r"\nabla_{W_{rec}} E", ("grad", "W_rec", None)),
        # the spec's notation: block decides (a course where z is the pre-activation and h the activation)
        ("relu_4321_course.yaml", "z^2", ("forward", "s_2", None)),
        ("relu_4321_course.yaml", "h^2_1", ("forward", "z_2", "1")),
        ("relu_4321_course.yaml", "h_3", ("forward", "z_3", None)),
        ("relu_4321_course.yaml", r"\frac{\partial l(\theta)}{\partial W_{1,2}^3}", ("grad", "W_3", "1,2")),
        ("relu_4321_course.yaml", "l", ("loss", "L", None)),
        ("square_221_course.yaml", r"\vec{net}^{(1)}", ("forward", "s_1", None)),
        ("square_221_course.yaml", r"a^{(1)}_2", ("forward", "z_1", "2")),
        ("square_221_course.yaml", r"a^{(0)}", ("data", "x", None)),
        ("square_221_course.yaml", r"w_{12}^{(1)}", (None, "w_1", "1,2")),
        # the tool's own spellings of an updated parameter (notation.Names.spell, docs/notation.md)
        ("square_221_course.yaml", r"{w^{(1)}}'", ("updated", "w_1", None)),
        ("square_221_course.yaml", r"{w^{(1)}_{12}}'", ("updated", "w_1", "1,2")),
        ("square_221_course.yaml", r"w^{(2),t+1}", ("updated", "w_2", None)),
        ("square_221_course.yaml", r"{w^{(2)}}^{\prime}", ("updated", "w_2", None)),
        ("relu_4321_course.yaml", r"{W^{3}}'", ("updated", "W_3", None)),
        ("relu_4321_course.yaml", r"{W^{3}}^{(t+1)}", ("updated", "W_3", None)),
        ("mlp.yaml", r"W^{(t+1)}", ("updated", "W", None)),
    ],
)
def test_names_resolve_in_the_spec(spec: str, text: str, meant: tuple) -> None:
    assert meaning(spec, text) == meant


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("square_221.yaml", "d^{(1)}"),
        ("square_221.yaml", r"\vec{a}^{(1)}"),
        ("mlp.yaml", "z"),
        ("relu_4321.yaml", "W"),
        ("square_221.yaml", r"\sigma_1"),
        ("square_221.yaml", "s_{layer1}"),
        ("square_221.yaml", r"\frac{\partial L}{\partial z_1}"),
        ("square_221.yaml", r"\theta_{new}"),
    ],
)
def test_unknown_or_ambiguous_names_resolve_to_nothing(spec: str, text: str) -> None:
    assert meaning(spec, text) is None


def test_a_learned_letter_resolves() -> None:
    names = NameTable(Truth(sbp.load(SPECS / "square_221.yaml")))
    name = parse_name(parse("d^{(2)}"))
    assert resolve(name, names) is None
    names.learn("d", "pre")
    found = resolve(name, names)
    assert (found.role, found.key, found.via) == ("forward", "s_2", "learned")


@pytest.mark.parametrize(
    ("index", "shape", "where"),
    [
        (None, (2, 2), None),
        ("12", (2, 2), (0, 1)),
        ("1,2", (2, 3), (0, 1)),
        ("(2,1)", (2, 3), (1, 0)),
        ("2", (3, 1), (1, 0)),
        ("3", (1, 4), (0, 2)),
        ("11", (2, 1), (0, 0)),
        ("1", (1, 1), (0, 0)),
        ("ji", (2, 2), "formula"),
        ("k,n", (2, 2), "formula"),
        ("3,1", (2, 2), "bad"),
        ("7", (3, 1), "bad"),
    ],
)
def test_entries_in_the_spec_orientation(index: str | None, shape: tuple, where: object) -> None:
    assert entry(index, shape) == where


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("Z^{[1]}", ("forward", "s_1", None)),
        ("z^{[2]}", ("forward", "s_2", None)),
        ("A^{[1]}", ("forward", "z_1", None)),
        ("dZ^{[2]}", ("delta", "delta_2", None)),
        ("dW^{[1]}", ("grad", "W_1", None)),
        ("db^{[2]}", ("grad", "b_2", None)),
    ],
)
def test_the_notation_letters_win_over_the_spec_symbols_they_spell(text: str, meant: tuple) -> None:
    """Under `preactivation: z, activation: a`, z^{[1]} is the pre-activation, not the spec's own z_1
    (its activation), in any layer style."""
    spec = Path(__file__).resolve().parent / "data" / "relu_321_whole.yaml"
    name = parse_name(parse(text))
    assert name is not None
    found = resolve(name, NameTable(Truth(sbp.load(spec))))
    assert found is not None and (found.role, found.key, found.index) == meant


def test_a_solution_that_writes_updates_as_the_tool_prints_them_is_checked_by_name() -> None:
    """{w^{(1)}}' (the LaTeX the tool prints for the updated w^{(1)}) and w^{(2),t+1} name the updated
    weights: their numbers are checked against them, a wrong one found at its entry."""
    from symbackprop.check import Checker

    solution = (
        "$$\n{w^{(1)}}' = \\begin{bmatrix} -0.4 & 5.4 \\\\ 0.88 & -0.75 \\end{bmatrix}\n$$\n\n"
        "$$\nw^{(2),t+1} = \\begin{bmatrix} -3 & -0.96 \\end{bmatrix}\n$$\n"
    )
    result = Checker(sbp.load(SPECS / "square_221_course.yaml")).check(solution, "solution.md")
    assert (result.numbers, result.right) == (6, 5)
    [finding] = result.findings
    assert (finding.step, finding.role, finding.quantity, finding.entry, finding.written) == (
        1,
        "updated",
        "w_1",
        (2, 2),
        "{w^{(1)}}'",
    )
