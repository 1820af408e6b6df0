"""The registry: one entry per activation, loss and op, and what each entry promises."""

from __future__ import annotations

import pytest
from sympy import Symbol, diff, simplify

from symbackprop import rules
from symbackprop.spec.model import ACTIVATIONS, LOSSES, Activation, Loss


def test_every_spec_name_has_an_entry() -> None:
    assert set(rules.ACTIVATIONS) == {*ACTIVATIONS, "expr", "function"}
    assert set(rules.LOSSES) == {*LOSSES, "expr"}


@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
def test_derivative_through_output_agrees(kind: str) -> None:
    rule = rules.ACTIVATIONS[kind]
    f = rule.function(Activation(kind))
    assert simplify(diff(f, rules.x) - rule.through_output(f)) == 0


def test_relu_derivative_is_zero_at_the_kink() -> None:
    prime = rules.activation_derivative(Activation("relu"))
    assert [prime(v) for v in (-1, 0, 1)] == [0, 0, 1]


def test_leaky_relu_uses_its_slope() -> None:
    act = Activation("leaky_relu", alpha=0.2)
    assert rules.activation_function(act)(-2) == rules.Rational("-0.4")
    assert rules.activation_derivative(act)(-1) == rules.Rational("0.2")


def test_generic_function_keeps_its_name() -> None:
    prime = rules.activation_derivative(Activation("function", function="f_1"))
    assert "f_1" in str(prime.expr) and prime.expr.is_Derivative


@pytest.mark.parametrize(
    ("kind", "entry"),
    [
        ("half_squared_error", (rules.a - rules.t) ** 2 / 2),
        ("squared_error", (rules.a - rules.t) ** 2),
    ],
)
def test_loss_entries(kind: str, entry) -> None:
    assert simplify(rules.loss_entry(Loss(kind), {}).expr - entry) == 0


def test_hinge_margin() -> None:
    entry = rules.loss_entry(Loss("hinge", margin=2.0), {})
    assert entry(Symbol("q"), 1).subs(Symbol("q"), 0) == 2


def test_variadic_add_sends_the_adjoint_to_every_term() -> None:
    g = Symbol("g")
    assert all(rules.vjp("add", k)({}, g, None) == g for k in range(5))
