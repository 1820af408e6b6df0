"""The homework networks of ../shared/examples as specs in specs/, checked against the
hand-worked parts of those solutions."""

from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sbp


def test_square_activation_homework_numbers() -> None:
    """exercise-square-activation.md: d1 = (5, 7), a1 = (25, 49), y = 1, L = 2, delta_2 = 4,
    delta_1 = (-80, 56), dL/dw2 = (100, 196), dL/dW1 = [[-160, -240], [112, 168]]."""
    net = sbp.load("specs/square_221.yaml")
    out = net.gradient_fn()(net.data())
    np.testing.assert_array_equal(out["forward"]["s_1"], [[5], [7]])
    np.testing.assert_array_equal(out["forward"]["z_1"], [[25], [49]])
    np.testing.assert_array_equal(out["forward"]["z_2"], [[1]])
    assert out["loss"] == 2
    np.testing.assert_array_equal(out["delta"]["delta_2"], [[4]])
    np.testing.assert_array_equal(out["delta"]["delta_1"], [[-80], [56]])
    np.testing.assert_array_equal(out["grad"]["w_2"], [[100, 196]])
    np.testing.assert_array_equal(out["grad"]["W_1"], [[-160, -240], [112, 168]])
    lr = net.spec.training.learning_rate
    updated = {name: net.data()[name] - lr * out["grad"][name] for name in ("W_1", "w_2")}
    np.testing.assert_allclose(updated["w_2"], [[-3, -0.96]])
    np.testing.assert_allclose(updated["W_1"], [[-0.4, 5.4], [0.88, -0.68]])


def test_square_activation_homework_formulas() -> None:
    """The solution's rule: dL/dw_ji = delta_j a_i, delta^(K) = -(t - y) sigma'(net) at the output,
    delta_j = sum_k delta_k w_kj sigma'(net_j) inside; sigma'(x) = 2x."""
    der = sbp.load("specs/square_221.yaml").derive()
    assert der.delta("2").text() == "delta_2 = (y - t) ⊙ f_2'(s_2)"
    assert der.delta("1").text() == "delta_1 = (w_2^T delta_2) ⊙ f_1'(s_1)"
    assert der.grad("w_2").text() == "dL/dw_2 = delta_2 z_1^T"
    assert der.grad("W_1").text() == "dL/dW_1 = delta_1 x^T"
    prime = der.delta("1").matrix.args[1]  # f_1'(s_1) as an Elementwise
    assert str(prime.function.expr) == "2*x"


def test_relu_4321_homework_formulas() -> None:
    """exercise-relu-4-3-2-1.md: dl/dW^3 = [h_1^2 delta, h_2^2 delta] (delta = dl/dh^3 for a linear
    output), dl/dh^2 = W^3^T delta (items 4-5), relu' = [x > 0] (item 6), and dl/dW^2 through
    dl/dh^2 and the layer's input h^1 (items 10-11; the solution drops relu'(s_2), we keep it)."""
    net = sbp.load("specs/relu_4321.yaml")
    der = net.derive()
    assert der.grad("W_3").text() == "dL/dW_3 = delta_3 z_2^T"
    assert der.delta("3").text() == "delta_3 = (h_3 - y) ⊙ f_3'(s_3)"
    assert der.delta("2").text() == "delta_2 = (W_3^T delta_3) ⊙ f_2'(s_2)"
    assert der.grad("W_2").text() == "dL/dW_2 = delta_2 z_1^T"
    relu_prime = der.delta("2").matrix.args[1].function
    assert [relu_prime(v) for v in (-1, 0, 2)] == [0, 0, 1]
    out = net.gradient_fn()(net.data())
    delta3 = out["delta"]["delta_3"]
    np.testing.assert_allclose(out["grad"]["W_3"], delta3 @ out["forward"]["z_2"].T)
    np.testing.assert_allclose(out["grad"]["W_3"][0], [delta3[0, 0] * h for h in out["forward"]["z_2"][:, 0]])


def test_interface_example_loss() -> None:
    """interface.md's numeric example: the first step's loss is 1.9666."""
    net = sbp.load("specs/mlp.yaml")
    assert net.gradient_fn()(net.data())["loss"] == pytest.approx(1.9666, abs=5e-5)
