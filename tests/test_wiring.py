"""Networks beyond a chain: the spec syntax for inputs, sums, fixed matrices and recurrent
layers, its errors, and gradients against finite differences and PyTorch autograd."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.spec import SpecError, load_spec
from tests.reference import Wired

SKIP = {
    "name": "skip",
    "input": {"name": "x", "size": 3},
    "target": {"name": "y", "size": 2},
    "layers": [
        {"name": "1", "units": 2, "activation": "tanh"},
        {
            "name": "mix",
            "units": 3,
            "inputs": "x",
            "activation": "identity",
            "bias": False,
            "weight": "P",
            "fixed": True,
        },
        {"name": "2", "units": 2, "inputs": "mix", "activation": "sigmoid"},
        {"name": "out", "units": 2, "inputs": ["1", "2"], "activation": "tanh"},
    ],
    "loss": {"type": "half_squared_error", "reduction": "mean"},
}

RECURRENT = {
    "name": "ae",
    "input": {"name": "x", "size": 6},
    "target": "input",
    "output": "y",
    "layers": [
        {"name": "in", "units": 2, "activation": "tanh", "inputs": "x"},
        {
            "name": "reduce",
            "units": 2,
            "inputs": "x",
            "activation": "identity",
            "bias": False,
            "weight": "K",
            "fixed": {"select_every": 3},
        },
        {"name": "link", "units": 2, "inputs": "reduce", "activation": "sigmoid", "bias": False},
        {"name": "rec", "units": 2, "inputs": "in", "activation": "tanh", "recurrent": {"cycles": 3}},
        {"name": "out", "units": 6, "inputs": ["rec", "link"], "activation": "identity"},
    ],
    "loss": "squared_error",
}

CONVENTIONS = [("out_in", "columns"), ("in_out", "columns"), ("out_in", "rows"), ("in_out", "rows")]


def with_convention(spec: dict, weights: str, samples: str) -> dict:
    return {**copy.deepcopy(spec), "convention": {"weights": weights, "samples": samples}}


def random_values(net: sbp.Network, seed: int, n_samples: int = 3) -> dict[str, np.ndarray]:
    """Values of the right shapes for every leaf; fixed matrices from the spec's data when it has them."""
    rng = np.random.default_rng(seed)
    values = {}
    for node in net.graph.leaves:
        shape = tuple(n_samples if d == "N" else d for d in node.shape)
        values[node.name] = rng.normal(scale=0.6, size=shape)
    values.update({k: v for k, v in net.data().items() if k in values})
    return values


# --- spec syntax and its errors ---------------------------------------------------------


def test_skip_spec_wiring() -> None:
    spec = load_spec(SKIP)
    layers = {layer.name: layer for layer in spec.layers}
    assert layers["1"].inputs == ("x",) and layers["mix"].inputs == ("x",) and layers["out"].inputs == ("1", "2")
    assert layers["mix"].fixed and not layers["1"].fixed


def test_selection_matrix_is_generated_in_the_spec_orientation() -> None:
    spec = load_spec(RECURRENT)
    expected = np.zeros((2, 6))
    expected[0, 0] = expected[1, 3] = 1  # K[n, 3n-2] = 1, from 1
    np.testing.assert_array_equal(spec.data["K"], expected)
    rows = load_spec(with_convention(RECURRENT, "in_out", "rows"))
    np.testing.assert_array_equal(rows.data["K"], expected.T)
    assert load_spec(RECURRENT).layers[3].cycles == 3


def error(spec: dict) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    return caught.value


def layer_edit(spec: dict, index: int, **changes: object) -> dict:
    edited = copy.deepcopy(spec)
    edited["layers"][index].update(changes)
    return edited


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        (layer_edit(SKIP, 0, inputs="out"), "layers[0].inputs", "which is not an earlier layer"),
        (layer_edit(SKIP, 0, inputs="1"), "layers[0].inputs", "recurrent: {cycles: k}"),
        (layer_edit(SKIP, 2, inputs="mx"), "layers[2].inputs", "unknown layer or input 'mx'"),
        (layer_edit(SKIP, 3, inputs=["1", "mix"]), "layers[3].inputs", "need one size; got 1 2, mix 3"),
        (layer_edit(SKIP, 3, inputs=["1", "1"]), "layers[3].inputs[1]", "listed twice"),
        (layer_edit(SKIP, 3, inputs=[]), "layers[3].inputs", "non-empty list"),
        (layer_edit(SKIP, 3, inputs="2"), "layers[0]", "feeds no other layer"),
        (layer_edit(RECURRENT, 3, units=3), "layers[3].recurrent", "must equal its input size 2"),
        (layer_edit(RECURRENT, 3, recurrent={"cycles": 1}), "layers[3].recurrent.cycles", "from 2 to 50"),
        (
            layer_edit(RECURRENT, 3, recurrent={"cycles": 2, "feedback": "mul"}),
            "layers[3].recurrent.feedback",
            "unknown feedback",
        ),
        (layer_edit(RECURRENT, 1, fixed={"select_every": 6}), "layers[1].fixed", "needs 7 inputs"),
        (layer_edit(RECURRENT, 1, fixed={"every": 3}), "layers[1].fixed.every", "unknown key"),
        (layer_edit(RECURRENT, 1, fixed="yes"), "layers[1].fixed", "expected true, false or a rule"),
        ({**RECURRENT, "data": {"K": [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]}}, "data.K", "is generated by"),
        ({**SKIP, "data": {"P": [[1, 0], [0, 1]]}}, "data.P", "expected 3x3"),
    ],
)
def test_wiring_errors(spec: dict, key: str, words: str) -> None:
    err = error(spec)
    assert err.key == key, str(err)
    assert words in err.message, str(err)


def test_wiring_error_names_the_line() -> None:
    text = """name: bad
input: {size: 2}
target: {size: 1}
layers:
  - {name: a, units: 2, activation: relu, inputs: b}
  - {name: b, units: 1, activation: relu}
loss: squared_error
"""
    err = error_text(text)
    assert str(err).startswith("<string>:5: layers[0].inputs: layer 'a' reads 'b', which is not an earlier layer")


def error_text(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(text)
    return caught.value


# --- derivations ------------------------------------------------------------------------


def test_recurrent_deltas_per_cycle_and_shared_weight_sums() -> None:
    der = sbp.load(RECURRENT).derive()
    names = [t.name for t in der.targets]
    assert (
        names.index("delta_rec^(3)")
        < names.index("delta_rec^(2)")
        < names.index("delta_rec^(1)")
        < names.index("dL/dW_rec")
    )
    assert der.delta("rec^(2)").text() == "delta_rec^(2) = (W_rec^T delta_rec^(3)) ⊙ f_rec'(s_rec^(2))"
    assert der.grad("W_rec").text() == (
        "dL/dW_rec = delta_rec^(3) (z_in + z_rec^(2))^T + delta_rec^(2) (z_in + z_rec^(1))^T + delta_rec^(1) z_in^T"
    )
    assert der.grad("b_rec").text() == "dL/db_rec = delta_rec^(3) 1_N + delta_rec^(2) 1_N + delta_rec^(1) 1_N"
    assert der.target(r"\delta_{rec}^{(2)}").name == "delta_rec^(2)"
    assert "dL/dK" not in names and "delta_reduce" not in names  # K is fixed, x is data
    latex = der.grad("W_rec").latex()
    assert r"\delta_{rec}^{(3)} \left(z_{in} + z_{rec}^{(2)}\right)^{\top}" in latex
    chain = der.grad("W_rec").text("chain")
    assert chain.count("]_delta_rec^(") == 3  # one path per cycle, each grouped into its delta


def test_skip_sum_gradient_and_fixed_matrix() -> None:
    der = sbp.load(SKIP).derive()
    assert der.grad("W_out").text() == "dL/dW_out = delta_out (z_1 + z_2)^T"
    assert der.grad("W_2").text() == "dL/dW_2 = delta_2 z_mix^T"
    assert [t.name for t in der.targets if t.name.startswith("dL/d")] == [
        "dL/dW_out",
        "dL/db_out",
        "dL/dW_2",
        "dL/db_2",
        "dL/dW_1",
        "dL/db_1",
    ]
    assert der.forward_text()[2] == "s_mix = P x"


@pytest.mark.parametrize(("weights", "samples"), CONVENTIONS)
@pytest.mark.parametrize("spec", [SKIP, RECURRENT], ids=["skip-fixed", "recurrent"])
def test_wired_gradients_match_finite_differences(spec: dict, weights: str, samples: str) -> None:
    spec = with_convention(spec, weights, samples)
    net = sbp.load(spec)
    values = random_values(net, seed=4)
    out = net.gradient_fn()(values)
    reference = Wired(spec)
    assert out["loss"] == pytest.approx(reference.forward(values), rel=1e-12)
    expected = reference.finite_differences(values)
    assert set(out["grad"]) == set(expected)
    for name, grad in expected.items():
        np.testing.assert_allclose(out["grad"][name], grad, rtol=1e-6, atol=1e-8, err_msg=name)


def torch_or_skip():  # noqa: ANN201
    if os.environ.get("CI") == "true":
        import torch
    else:
        torch = pytest.importorskip("torch")
    return torch


@pytest.mark.parametrize(("weights", "samples"), CONVENTIONS)
@pytest.mark.parametrize("spec", [SKIP, RECURRENT], ids=["skip-fixed", "recurrent"])
def test_wired_gradients_match_torch_autograd(spec: dict, weights: str, samples: str) -> None:
    torch = torch_or_skip()
    spec = with_convention(spec, weights, samples)
    net = sbp.load(spec)
    values = random_values(net, seed=8)
    reference = Wired(spec)
    tensors = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=k in reference.parameters()) for k, v in values.items()
    }
    loss = reference.forward(tensors, xp=torch)
    loss.backward()
    out = net.gradient_fn()(values)
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for name in reference.parameters():
        np.testing.assert_allclose(out["grad"][name], tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_specs_in_specs_folder_express_the_wiring() -> None:
    full = sbp.load("specs/recurrent_autoencoder.yaml")
    shapes = full.shapes()
    assert shapes["W_in"] == "75x225" and shapes["K"] == "75x225" and shapes["W_out"] == "225x75"
    assert shapes["W_rec"] == "75x75" and shapes["b_out"] == "1x225" and shapes["x"] == "Nx225"
    assert shapes["delta_rec^(1)"] == shapes["delta_rec^(2)"] == "Nx75"
    small = sbp.load("specs/recurrent_autoencoder_small.yaml")
    out = small.gradient_fn()(small.data())
    reference = Wired(__import__("yaml").safe_load(open("specs/recurrent_autoencoder_small.yaml")))
    assert out["loss"] == pytest.approx(reference.forward(small.data()), rel=1e-12)
