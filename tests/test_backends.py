"""gradient_fn on every backend: JAX and PyTorch give the NumPy backend's numbers and torch
autograd's on every spec in specs/ and every activation x loss x convention; softmax with
cross-entropy stays finite where logits saturate; the torch backend's autograd Function passes
torch.autograd.gradcheck; no backend library is imported unless asked for.

JAX and PyTorch are test extras; under CI=true a missing one fails the run instead of skipping."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symbackprop as sbp
from tests.autograd import autograd, torch
from tests.reference import Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, LOSSES, output_activation

if os.environ.get("CI") == "true":
    import jax
else:
    jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)  # this worker compares in float64

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
OTHERS = ("jax", "torch")


def plain(value: Any) -> Any:
    """NumPy arrays and floats from a result of any backend."""
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    return float(array) if array.ndim == 0 else array


def assert_same(actual: dict, expected: dict, rtol: float = 1e-12) -> None:
    assert actual["loss"] == pytest.approx(expected["loss"], rel=rtol, abs=1e-300)
    for part in ("forward", "delta", "grad"):
        if part in expected:
            assert list(actual[part]) == list(expected[part]), part
            for name in expected[part]:
                np.testing.assert_allclose(
                    actual[part][name], expected[part][name], rtol=rtol, atol=1e-13, err_msg=f"{part} {name}"
                )


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_spec_on_every_backend_equals_numpy_and_autograd(path: Path) -> None:
    net = sbp.load(path)
    values = net.gradcheck().values  # the spec's data, completed at random where it has none
    expected = net.gradient_fn()(values)
    loss, grads, deltas = autograd(net, values)
    assert expected["loss"] == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(expected["grad"][name], grad, rtol=1e-10, atol=1e-12, err_msg=name)
    for name, delta in deltas.items():
        np.testing.assert_allclose(expected["delta"][name], delta, rtol=1e-10, atol=1e-12, err_msg=name)
    for backend in OTHERS:
        assert_same(plain(net.gradient_fn(backend=backend)(values)), expected, rtol=1e-11)


CASES = [(a, loss, *c) for (a, loss), c in zip(itertools.product(ACTIVATIONS, LOSSES), itertools.cycle(CONVENTIONS))]


@pytest.mark.parametrize(("activation", "loss", "weights", "samples"), CASES)
def test_every_activation_loss_and_convention(activation: str, loss: str, weights: str, samples: str) -> None:
    chain = Chain(
        [3, 4, 2],
        [activation, output_activation(activation, loss)],
        loss,
        weights,
        samples,
        bias=[True, False],
        reduction="mean",
    )
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(5), n_samples=3)
    expected = net.gradient_fn()(values)
    for backend in OTHERS:
        assert_same(plain(net.gradient_fn(backend=backend)(values)), expected, rtol=1e-11)


def saturated() -> tuple[sbp.Network, dict[str, np.ndarray]]:
    """A tanh-softmax network under cross-entropy whose logits are so far apart that softmax
    outputs underflow to exactly 0 (log of them would be -inf, y/y_out a division by 0)."""
    chain = Chain([3, 4, 5], ["tanh", "softmax"], "cross_entropy", bias=[True, True], reduction="mean")
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(11), n_samples=6)
    values["W_2"] = values["W_2"] * 2000.0
    return net, values


def test_saturated_softmax_cross_entropy_is_finite_and_equals_torch_on_every_backend() -> None:
    net, values = saturated()
    expected = net.gradient_fn()(values)
    assert np.count_nonzero(expected["forward"]["z_2"] == 0.0) > 0  # the premise: outputs exactly 0
    loss, grads, deltas = autograd(net, values)  # torch: log_softmax, as its cross_entropy does
    assert np.isfinite(loss) and expected["loss"] == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        assert np.all(np.isfinite(expected["grad"][name]))
        np.testing.assert_allclose(expected["grad"][name], grad, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(expected["delta"]["delta_2"], deltas["delta_2"], rtol=1e-10, atol=1e-14)
    for backend in OTHERS:
        assert_same(plain(net.gradient_fn(backend=backend)(values)), expected, rtol=1e-11)
    narrow = net.gradient_fn(np.float32)(values)
    assert np.isfinite(narrow["loss"]) and all(np.all(np.isfinite(g)) for g in narrow["grad"].values())


def test_a_log_of_the_output_in_a_custom_loss_is_stable_too() -> None:
    _, values = saturated()
    spec = {
        **Chain([3, 4, 5], ["tanh", "softmax"], "cross_entropy", bias=[True, True]).spec(),
        "loss": {"expr": "-y*log(y_out) + y_out**2/2"},
    }
    custom = sbp.load(spec)
    out = custom.gradient_fn()(values)
    assert "_log_softmax(" in custom.gradient_fn().source
    t = {name: torch.tensor(v, requires_grad=name not in ("x", "y")) for name, v in values.items()}
    s_2 = t["W_2"] @ torch.tanh(t["W_1"] @ t["x"] + t["b_1"]) + t["b_2"]
    loss = (-t["y"] * torch.log_softmax(s_2, dim=0) + torch.softmax(s_2, dim=0) ** 2 / 2).sum()
    loss.backward()
    assert np.isfinite(out["loss"]) and out["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for name in ("W_1", "b_1", "W_2", "b_2"):
        np.testing.assert_allclose(out["grad"][name], t[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    for backend in OTHERS:
        assert_same(plain(custom.gradient_fn(backend=backend)(values)), out, rtol=1e-11)


GRADCHECK_SPECS = ["mlp.yaml", "recurrent_autoencoder_small.yaml", "skip_connection.yaml", "square_221.yaml"]


@pytest.mark.parametrize("name", GRADCHECK_SPECS)
def test_the_torch_autograd_function_passes_torch_gradcheck(name: str) -> None:
    net = sbp.load(ROOT / "specs" / name)
    fn = net.gradient_fn(backend="torch")
    values = net.gradcheck(random=True).values  # away from relu's kinks
    parameters = {node.name for node in net.graph.parameters}
    tensors = [torch.tensor(values[n], dtype=torch.float64, requires_grad=n in parameters) for n in fn.arguments]
    assert torch.autograd.gradcheck(fn.Function.apply, tuple(tensors), eps=1e-6, atol=1e-7, rtol=1e-5)
    leaves = {n: t for n, t in zip(fn.arguments, tensors, strict=True)}
    fn.loss(leaves).backward()
    expected = net.gradient_fn()(values)["grad"]
    for parameter in parameters:
        np.testing.assert_allclose(leaves[parameter].grad.numpy(), expected[parameter], rtol=1e-12, atol=1e-14)


def test_the_torch_function_refuses_a_gradient_it_does_not_derive() -> None:
    net = sbp.load("specs/mlp.yaml")
    fn = net.gradient_fn(backend="torch")
    values = {n: torch.tensor(v, requires_grad=n == "x") for n, v in net.data().items()}
    with pytest.raises(RuntimeError, match="parameters only; x, y must not require grad"):
        fn.loss(values)


def test_results_keep_the_backends_types_and_dtypes() -> None:
    net = sbp.load("specs/relu_4321.yaml")
    data = net.data()
    out = net.gradient_fn(backend="torch", dtype=np.float32)(data)
    assert out["grad"]["W_1"].dtype == torch.float32 and out["loss"].dtype == torch.float32
    assert net.gradient_fn(backend="torch", dtype=torch.float64)(data)["grad"]["W_1"].dtype == torch.float64
    out = net.gradient_fn(backend="jax")(data)  # x64 mode is on in this worker: float64 by default
    assert isinstance(out["grad"]["W_1"], jax.Array) and out["grad"]["W_1"].dtype == np.float64
    assert net.gradient_fn(backend="jax", dtype=np.float32)(data)["grad"]["W_1"].dtype == np.float32
    for backend in ("numpy", *OTHERS):
        lean = plain(net.gradient_fn(backend=backend, gradients_only=True)(data))
        assert set(lean) == {"loss", "grad"}
        np.testing.assert_allclose(lean["grad"]["W_1"], net.gradient_fn()(data)["grad"]["W_1"], rtol=1e-12)
        with pytest.raises(ValueError, match=r"b_1 has shape \(2, 1\), expected \(3, 1\)"):
            net.gradient_fn(backend=backend)({**data, "b_1": np.zeros((2, 1))})
        with pytest.raises(ValueError, match="missing values for y"):
            net.gradient_fn(backend=backend)({k: v for k, v in data.items() if k != "y"})
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        net.gradient_fn(backend="tensorflow")


def test_a_fixed_selection_is_a_slice_on_every_backend_and_another_matrix_is_multiplied() -> None:
    net = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml")
    values = net.gradcheck().values
    other = {**values, "K": values["K"] * 2.0}  # not the spec's selection: must be multiplied, not sliced
    expected, expected_other = net.gradient_fn()(values), net.gradient_fn()(other)
    assert expected_other["loss"] != pytest.approx(expected["loss"])
    functions = {backend: net.gradient_fn(backend=backend) for backend in OTHERS}
    for backend, fn in functions.items():
        assert "x[:, 0:" in fn.source and "@ K" not in fn.source and "K.T" not in fn.source, backend
        assert_same(plain(fn(values)), expected, rtol=1e-11)
        assert_same(plain(fn(other)), expected_other, rtol=1e-11)
        assert_same(plain(fn(values)), expected, rtol=1e-11)  # and back to the slice
    arrays = {k: jax.numpy.asarray(v) for k, v in values.items()}  # immutable: compared once, then known
    fn = functions["jax"]
    assert_same(plain(fn(arrays)), expected, rtol=1e-11)
    assert_same(plain(fn(arrays)), expected, rtol=1e-11)
    mutable = {k: np.array(v) for k, v in values.items()}  # a NumPy K changed in place is seen
    assert_same(plain(fn(mutable)), expected, rtol=1e-11)
    mutable["K"] *= 2.0
    assert_same(plain(fn(mutable)), expected_other, rtol=1e-11)
    tensors = {k: torch.tensor(v) for k, v in values.items()}  # so is a tensor changed in place
    fn = functions["torch"]
    assert_same(plain(fn(tensors)), expected, rtol=1e-11)
    tensors["K"].mul_(2.0)
    assert_same(plain(fn(tensors)), expected_other, rtol=1e-11)


def test_jax_checks_shapes_once_per_signature_and_returns_plain_dicts_in_order(monkeypatch: Any) -> None:
    from symbackprop.backends import runtime

    net = sbp.load("specs/relu_4321.yaml")
    data = net.data()
    wider = {k: np.concatenate([v, v], axis=1) if k in ("x", "y") else v for k, v in data.items()}
    narrow = {k: v.astype(np.float32) for k, v in data.items()}
    expected, more, from_narrow = (net.gradient_fn()(d) for d in (data, wider, narrow))
    checks = []
    original = runtime.check_shapes
    monkeypatch.setattr(runtime, "check_shapes", lambda *args: (checks.append(args[2][0].shape), original(*args)))
    fn = net.gradient_fn(backend="jax")
    for _ in range(3):
        out = fn(data)
    assert len(checks) == 1  # JAX traced once; the shapes were checked then
    assert type(out) is dict and all(type(out[part]) is dict for part in ("forward", "delta", "grad"))
    assert_same(plain(out), expected, rtol=1e-12)
    assert_same(plain(fn(wider)), more, rtol=1e-12)
    assert len(checks) == 2  # a new batch size: traced and checked again
    assert_same(plain(fn({k: v.tolist() for k, v in data.items()})), expected, rtol=1e-12)  # lists are arrays
    assert_same(plain(fn(narrow)), from_narrow, rtol=1e-12)  # float32 in, float64 inside


def test_threads_on_torch_and_jax() -> None:
    net = sbp.load("specs/mlp.yaml")
    before = torch.get_num_threads()
    out = plain(net.gradient_fn(backend="torch", threads=1)(net.data()))
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(out["grad"]["W"], net.gradient_fn()(net.data())["grad"]["W"], rtol=1e-12)
    with pytest.raises(ValueError, match="XLA_FLAGS"):
        net.gradient_fn(backend="jax", threads=1)


PROBE = r"""
import json, sys
import symbackprop as sbp
net = sbp.load("specs/skip_connection.yaml")
out = net.gradient_fn()(net.gradcheck().values)
texts = [net.codegen(backend) for backend in ("numpy", "jax", "torch")]
report = {"after numpy and codegen": sorted(m for m in ("jax", "torch") if m in sys.modules)}
fn = net.gradient_fn(backend="jax")
report["jax dtype"] = str(fn(net.gradcheck().values)["grad"]["W_1"].dtype)
try:
    net.gradient_fn(backend="jax", dtype="float64")
except ValueError as error:
    report["jax float64"] = str(error)
report["after jax"] = sorted(m for m in ("jax", "torch") if m in sys.modules)
print(json.dumps(report))
"""


def test_no_backend_is_imported_unless_asked_and_jax_float64_is_opt_in() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True, env=env
    )
    report = json.loads(done.stdout)
    assert report["after numpy and codegen"] == []
    assert report["jax dtype"] == "float32"
    assert "jax_enable_x64" in report["jax float64"]
    assert report["after jax"] == ["jax"]
