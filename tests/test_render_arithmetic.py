"""The worked arithmetic of a small network's first step (render/arithmetic.py): every kind of entry
written out with its numbers for every activation, loss and convention, and each line's numbers
give the value the run computed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.render import context
from symbackprop.render.arithmetic import Arithmetic

ACTIVATIONS = ["relu", "tanh", "sigmoid", "identity", "leaky_relu", {"expr": "x**3 + x"}]
LOSSES = [
    "half_squared_error",
    "squared_error",
    {"type": "hinge"},
    {"type": "half_squared_error", "reduction": "mean"},
    {"expr": "(y_out - y)**2"},
]
CONVENTIONS = [{"weights": "out_in", "samples": "columns"}, {"weights": "in_out", "samples": "rows"}]


def small_spec(activation: object, loss: object, convention: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    columns, out_in = convention["samples"] == "columns", convention["weights"] == "out_in"
    data = {
        "x": rng.normal(size=(2, 3) if columns else (3, 2)),
        "y": rng.normal(size=(1, 3) if columns else (3, 1)),
        "W_1": rng.normal(size=(2, 2)),
        "b_1": rng.normal(size=(2, 1) if columns else (1, 2)),
        "W_2": rng.normal(size=(1, 2) if out_in else (2, 1)),
        "b_2": rng.normal(size=(1, 1)),
    }
    return {
        "name": "small",
        "convention": convention,
        "input": {"name": "x", "size": 2},
        "target": {"name": "y", "size": 1},
        "loss": loss,
        "training": {"learning_rate": 0.1, "steps": 1},
        "layers": [
            {"name": "1", "units": 2, "activation": activation},
            {"name": "2", "units": 1, "activation": "tanh"},
        ],
        "data": {name: value.round(3).tolist() for name, value in data.items()},
    }


CASES = list(enumerate(itertools.product(ACTIVATIONS, LOSSES)))


@pytest.mark.parametrize(
    ("case", "activation", "loss"),
    [(i, a, b) for i, (a, b) in CASES],
    ids=lambda v: v if isinstance(v, str) else str(v) if isinstance(v, int) else str(list(v.values())[0]),
)
def test_every_entry_of_the_first_step_is_written_out(case: int, activation: object, loss: object) -> None:
    net = sbp.load(small_spec(activation, loss, CONVENTIONS[case % 2], seed=case))
    run = context(net, sections=["numeric"])["numeric"]["runs"][0]
    work = {
        group["title"].text: [w.latex for entry in group["entries"] for w in entry["work"]] for group in run["groups"]
    }
    s_1, z_1, s_2, y_out = ([w.latex for w in entry["work"]] for entry in run["forward"])
    assert len(s_1) == 2 * 3 and len(s_2) == 1 * 3  # the pre-activations' entries (3 samples)
    # the activations' entries in closed form with the numbers in place, re-evaluated; none for the identity
    assert len(z_1) == (0 if activation == "identity" else 2 * 3) and len(y_out) == 3
    assert all(r"\tanh(" in line for line in y_out)
    shown = (
        {"relu": r"\max(0, ", "tanh": r"\tanh(", "sigmoid": r"\frac{1}{1 + e^{", "leaky_relu": "", "identity": ""}.get(
            activation, "^{3} + "
        )
        if isinstance(activation, str)
        else "^{3} + "
    )
    assert all(shown in line and line.count(" = ") <= 2 for line in z_1), z_1
    assert len(work["Loss"]) == 1
    assert len(work["Deltas, from the loss back"]) == 3 + 6
    assert len(work["Gradients"]) == 4 + 2 + 2 + 1
    assert len(work["Updated parameters"]) == 4 + 2 + 2 + 1
    for line in s_1 + s_2 + work["Gradients"]:
        assert r"\cdot" in line or "+" in line, line


def test_activations_are_worked_as_the_homework_works_them() -> None:
    """exercise-square-activation.md: (5, 7)^2 = (25, 49) and (-1)^2 = 1; a leaky ReLU's branch that holds."""
    run = context(sbp.load("specs/square_221_course.yaml"), sections=["numeric"])["numeric"]["runs"][0]
    work = {entry["symbol"].latex: [w.latex for w in entry["work"]] for entry in run["forward"]}
    assert work["a^{(1)}"] == ["a^{(1)}_{1,1} = 5^{2} = 25", "a^{(1)}_{2,1} = 7^{2} = 49"]
    assert work["y"] == ["y_{1} = (-1)^{2} = 1"]
    spec = {
        "name": "leaky",
        "input": {"name": "x", "size": 1},
        "target": {"name": "y", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": "leaky_relu", "bias": False}],
        "loss": "half_squared_error",
        "data": {"x": [[2.0, -4.0]], "y": [[1, 1]], "W_1": [[0.5]]},
    }
    run = context(sbp.load(spec), sections=["numeric"])["numeric"]["runs"][0]
    assert [w.latex for w in run["forward"][1]["work"]] == [
        r"y^{(out)}_{1} = 1",
        r"y^{(out)}_{2} = \frac{1}{100} \cdot (-2) = -0.02",
    ]


def test_a_written_entry_that_would_not_give_the_computed_value_is_not_shown() -> None:
    from sympy import MatrixSymbol

    a = MatrixSymbol("a", 1, 2)
    arithmetic = Arithmetic({"a": np.array([[2.0, -3.0]])}, samples=1, digits=4)
    assert arithmetic.line("s", a[0, 0] * a[0, 1], -6.0) == "s = 2 \\cdot (-3) = -6"
    assert arithmetic.line("s", a[0, 0] * a[0, 1], -5.0) is None
    assert arithmetic.update("w", 1.0, 0.5, 2.0, 0.0) == "w \\leftarrow 1 - 0.5 \\cdot 2 = 0"
    assert arithmetic.update("w", 1.0, 0.5, 2.0, 0.1) is None


def test_a_mean_and_a_hinge_are_written_out() -> None:
    net = sbp.load("specs/skip_connection.yaml")
    loss = context(net, sections=["numeric"])["numeric"]["runs"][0]["loss"]["work"][0].latex
    assert loss.startswith(r"\mathcal{L} = \frac{1}{3} \cdot (\frac{1}{2} \cdot (0.4263 - 1)^{2} + ")
    spec = {
        "name": "hinge",
        "input": {"name": "x", "size": 1},
        "target": {"name": "y", "size": 1},
        "layers": [{"name": "1", "units": 1, "activation": "identity"}],
        "loss": {"type": "hinge"},
        "training": {"learning_rate": 0.1, "steps": 1},
        "data": {"x": [[1.0, -2.0]], "y": [[1, -1]], "W_1": [[0.5]], "b_1": [[0.1]]},
    }
    run = context(sbp.load(spec), sections=["numeric"])["numeric"]["runs"][0]
    assert run["loss"]["work"][0].latex == (
        r"\mathcal{L} = \max(0, 1 - 1 \cdot 0.6) + "
        r"\max(0, 1 - (-1) \cdot (-0.9)) = 0.5"
    )
