"""The compiled NumPy code: its speed-minded shapes (broadcasting instead of ones matrices, f'
through the activation's output, shared subexpressions), its values against an unoptimised
evaluation of the same formulas, float32, and the kink values gradcheck relies on."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import rules
from symbackprop.numeric import GradientFunction, common_subexpressions, evaluate, kink_arguments
from tests.reference import Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, LOSSES, output_activation


def backward_code(source: str) -> str:
    return source.split("# backward", 1)[1]


def test_bias_is_broadcast_and_its_gradient_is_a_sum_over_samples() -> None:
    source = sbp.load("specs/relu_4321.yaml").gradient_fn().source
    assert "numpy.ones" not in source
    assert "s_1 = ((W_1 @ x) + b_1)" in source
    assert "grad_b_1 = delta_1.sum(axis=1, keepdims=True)" in source
    rows = Chain([3, 2, 2], ["tanh", "identity"], "half_squared_error", "in_out", "rows")
    source = sbp.load(rows.spec()).gradient_fn().source
    assert "numpy.ones" not in source
    assert "s_1 = ((x @ W_1) + b_1)" in source
    assert "grad_b_1 = delta_1.sum(axis=0, keepdims=True)" in source


@pytest.mark.parametrize(("activation", "function", "through"), [
    ("tanh", "numpy.tanh(", "(1 - z_1**2)"), ("sigmoid", "numpy.exp(", "(z_1*(1 - z_1))")])
def test_derivative_is_written_through_the_activation_output(activation: str, function: str, through: str) -> None:
    """f'(s_k) reuses z_k (tanh' = 1 - z^2) instead of computing f again from s_k."""
    chain = Chain([2, 3, 1], [activation, "identity"], "half_squared_error")
    source = sbp.load(chain.spec()).gradient_fn().source
    assert source.count(function) == 1  # the forward pass only
    assert through in backward_code(source)
    assert "s_1" not in backward_code(source).split("return", 1)[0]


@pytest.mark.parametrize("kind", [k for k, rule in rules.ACTIVATIONS.items() if rule.through_output])
def test_every_through_output_rule_agrees_with_the_derivative(kind: str) -> None:
    act = sbp.load(Chain([1, 1], [kind], "half_squared_error").spec()).spec.layers[0].activation
    f = rules.activation_function(act)(rules.x)
    through = rules.ACTIVATIONS[kind].through_output(f)
    assert sp.simplify(through - rules.activation_derivative(act)(rules.x)) == 0


def test_identity_derivative_and_relu_indicator_cost_nothing_extra() -> None:
    source = sbp.load("specs/relu_4321.yaml").gradient_fn().source
    assert "delta_3 = (h_3 - y)" in source  # no "* 1"
    assert "delta_2 = ((W_3.T @ delta_3) * (s_2 > 0))" in source  # a boolean mask, no numpy.select


def test_a_product_needed_twice_is_computed_once() -> None:
    """softmax's vector-Jacobian product uses W^T delta twice: one matmul, one shared name."""
    chain = Chain([3, 4, 2], ["softmax", "tanh"], "half_squared_error")
    source = sbp.load(chain.spec()).gradient_fn().source
    assert source.count("(W_2.T @ delta_2)") == 1
    assert re.search(r"common_1 = \(W_2\.T @ delta_2\)", source)
    assert "delta_1 = (z_1 * (common_1 - (common_1 * z_1).sum(axis=0, keepdims=True)))" in source


def test_common_subexpressions_puts_inner_ones_first() -> None:
    a, b = sp.MatrixSymbol("a", 2, 2), sp.MatrixSymbol("b", 2, 2)
    inner = a * b
    outer = sp.HadamardProduct(inner, a + b)
    found = common_subexpressions([outer, outer + inner, inner.T])
    assert found == [inner, outer]


CASES = list(itertools.product(["softmax", "sigmoid", "tanh", "relu"], CONVENTIONS))


@pytest.mark.parametrize(("activation", "convention"), CASES)
def test_optimised_code_equals_the_plain_formulas(activation: str, convention: tuple[str, str]) -> None:
    """gradient_fn (broadcasting, f' through z, shared subexpressions) against each delta and
    gradient evaluated term by term from the substituted formulas, with none of that."""
    chain = Chain([3, 4, 2, 2], [activation, "sigmoid", "softmax"], "cross_entropy", *convention,
                  bias=[True, False, True], reduction="mean")
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(7), n_samples=5)
    out = net.gradient_fn()(values)
    env = {**values, **{name: out["forward"][key] for name, key in
                        [(n.name, n.key) for n in net.graph.nodes if n.role in ("preactivation", "activation")]}}
    deltas, gradients = net.derive().backprop.substituted()
    for layer, expr in deltas.items():
        np.testing.assert_allclose(out["delta"][f"delta_{layer}"], evaluate(expr, env, 5), rtol=1e-12, atol=1e-15)
    for name, expr in gradients.items():
        np.testing.assert_allclose(out["grad"][name], evaluate(expr, env, 5), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("activation", "loss"), list(itertools.product(ACTIVATIONS, LOSSES)))
def test_float32_in_float32_out(activation: str, loss: str) -> None:
    chain = Chain([2, 3, 2], [activation, output_activation(activation, loss)], loss, "in_out", "rows")
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(1), n_samples=3)
    wide, narrow = net.gradient_fn()(values), net.gradient_fn(dtype=np.float32)(values)
    for part in ("forward", "delta", "grad"):
        for name, array in narrow[part].items():
            assert array.dtype == np.float32, (part, name)
            np.testing.assert_allclose(array, wide[part][name], rtol=2e-3, atol=2e-4, err_msg=name)
    assert narrow["loss"] == pytest.approx(wide["loss"], rel=1e-3, abs=1e-4)


def test_a_constant_derivative_keeps_its_shape() -> None:
    """dL/dy_out of the loss `y_out` is 1 everywhere: an N-column matrix of ones, not a scalar."""
    net = sbp.load({"name": "sum", "input": {"size": 2}, "target": {"size": 1}, "loss": {"expr": "y_out"},
                    "layers": [{"name": "1", "units": 1, "activation": "identity"}]})
    x = np.arange(6.0).reshape(2, 3)
    out = net.gradient_fn()({"x": x, "y": np.zeros((1, 3)), "W_1": np.ones((1, 2)), "b_1": np.zeros((1, 1))})
    np.testing.assert_array_equal(out["delta"]["delta_1"], np.ones((1, 3)))
    np.testing.assert_array_equal(out["grad"]["W_1"], x.sum(axis=1, keepdims=True).T)


def test_names_that_clash_with_the_generated_code() -> None:
    """Spec symbols named like the code's own variables (n_samples, loss, common_1) get other names."""
    spec = {"name": "clash", "input": {"name": "n_samples", "size": 3}, "target": {"name": "common_1", "size": 2},
            "loss": "cross_entropy", "layers": [
                {"name": "dtype", "units": 4, "activation": "softmax", "weight": "loss"},
                {"name": "2", "units": 2, "activation": "softmax"}]}
    chain = Chain([3, 4, 2], ["softmax", "softmax"], "cross_entropy")
    values = chain.random_values(np.random.default_rng(3), n_samples=4)
    renamed = {"n_samples": values["x"], "common_1": values["y"], "loss": values["W_1"], "b_dtype": values["b_1"],
               "W_2": values["W_2"], "b_2": values["b_2"]}
    out = sbp.load(spec).gradient_fn()(renamed)
    expected = sbp.load(chain.spec()).gradient_fn()(values)
    np.testing.assert_allclose(out["grad"]["loss"], expected["grad"]["W_1"], rtol=1e-13)
    assert out["loss"] == pytest.approx(expected["loss"], rel=1e-13)


def test_kink_values_for_relu_and_hinge() -> None:
    """backward=False, kinks=True: the loss and forward values, plus the values whose sign picks a
    branch (s_1 for relu, 1 - y * y_out for the hinge); gradcheck watches them."""
    chain = Chain([2, 3, 1], ["relu", "tanh"], "hinge")
    net = sbp.load(chain.spec())
    fn = GradientFunction(net.derive().backprop, backward=False, kinks=True)
    assert fn.program.kinks == ("f_1(s_1)", "loss(y_out, y)")
    values = chain.random_values(np.random.default_rng(0), n_samples=4)
    out = fn(values)
    assert set(out) == {"loss", "forward", "kinks"}
    s_1, y_out = out["forward"]["s_1"], out["forward"]["z_2"]
    relu, hinge = out["kinks"]
    np.testing.assert_array_equal(np.abs(relu), np.abs(s_1))
    np.testing.assert_allclose(np.abs(hinge), np.abs(1 - values["y"] * y_out))


def test_kink_arguments_of_formulas() -> None:
    x, a, t = rules.x, rules.a, rules.t
    assert kink_arguments(sp.Max(0, x)) == [-x]
    assert kink_arguments(sp.Piecewise((x, x > 0), (x / 100, True))) == [x]
    assert kink_arguments(sp.Abs(x - 1) + x**2) == [x - 1]
    assert kink_arguments(sp.Max(0, 1 - t * a)) == [t * a - 1]
    assert kink_arguments(sp.tanh(x)) == []


def test_symbols_that_are_not_python_names() -> None:
    """A layer called a%b gives W_a%b in the spec and W_a_b in the code; a gradient_fn call still
    takes and returns the spec's names."""
    spec = {"name": "odd names", "input": {"size": 2}, "target": {"size": 1}, "loss": "half_squared_error",
            "layers": [{"name": "a%b", "units": 2, "activation": "tanh"},
                       {"name": "lambda", "units": 1, "activation": "identity"}]}
    fn = sbp.load(spec).gradient_fn()
    assert "def compute(x, W_a_b, b_a_b, W_lambda, b_lambda, y):" in fn.source
    assert fn.arguments == ("x", "W_a%b", "b_a%b", "W_lambda", "b_lambda", "y")
    chain = Chain([2, 2, 1], ["tanh", "identity"], "half_squared_error")
    values = chain.random_values(np.random.default_rng(2), n_samples=3)
    renamed = {"x": values["x"], "y": values["y"], "W_a%b": values["W_1"], "b_a%b": values["b_1"],
               "W_lambda": values["W_2"], "b_lambda": values["b_2"]}
    out = fn(renamed)
    expected = sbp.load(chain.spec()).gradient_fn()(values)
    np.testing.assert_allclose(out["grad"]["W_a%b"], expected["grad"]["W_1"], rtol=1e-14)
    assert set(out["delta"]) == {"delta_a%b", "delta_lambda"}
