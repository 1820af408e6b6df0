"""symbackprop's gradients and deltas against PyTorch autograd in float64, for every activation,
every loss and all four conventions. The torch forward pass is written here from the plain
description of tests/reference.py's Chain, in the out_in/columns orientation.

PyTorch is a test extra (pyproject's `test`); under CI=true a missing torch fails the run
instead of skipping these tests."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import symbackprop as sbp
from tests.reference import ALPHA, Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, LOSSES, assert_close, draw_values, output_activation

if os.environ.get("CI") == "true":
    import torch
else:
    torch = pytest.importorskip("torch")


def activation(kind: str, s: torch.Tensor) -> torch.Tensor:
    if kind == "relu":
        return torch.relu(s)
    if kind == "tanh":
        return torch.tanh(s)
    if kind == "sigmoid":
        return torch.sigmoid(s)
    if kind == "identity":
        return s
    if kind == "leaky_relu":
        return torch.nn.functional.leaky_relu(s, negative_slope=ALPHA)
    if kind == "softmax":
        return torch.softmax(s, dim=0)  # one sample per column
    if kind == "cube":
        return s**3 / 3 + s
    raise ValueError(kind)


def loss_entries(kind: str, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if kind == "half_squared_error":
        return (a - t) ** 2 / 2
    if kind == "squared_error":
        return (a - t) ** 2
    if kind == "cross_entropy":
        return -t * torch.log(a)
    if kind == "hinge":
        return torch.clamp(1 - t * a, min=0)
    if kind == "quartic":
        return (a - t) ** 4 / 4 + torch.log(1 + torch.exp(a))
    raise ValueError(kind)


def autograd(chain: Chain, values: dict[str, np.ndarray]) -> tuple[float, dict, dict]:
    """Loss, parameter gradients and deltas dL/ds_k from torch, in the spec's orientation."""
    canonical = {
        name: torch.tensor(chain.to_canonical(name, value), dtype=torch.float64, requires_grad=name not in ("x", "y"))
        for name, value in values.items()
    }
    h = canonical["x"]
    pre = []
    for k, name in enumerate(chain.names):
        s = canonical[f"W_{name}"] @ h
        if chain.bias[k]:
            s = s + canonical[f"b_{name}"]
        s.retain_grad()
        pre.append(s)
        h = activation(chain.activations[k], s)
    loss = loss_entries(chain.loss, h, canonical["y"]).sum()
    if chain.reduction == "mean":
        loss = loss / h.shape[1]
    loss.backward()
    grads = {name: chain.from_canonical(name, t.grad.numpy()) for name, t in canonical.items() if t.requires_grad}
    deltas = {
        f"delta_{name}": chain.from_canonical("s", s.grad.numpy()) for name, s in zip(chain.names, pre, strict=True)
    }
    return loss.item(), grads, deltas


#: Every activation x loss x convention; each convention with one reduction, both reductions in all.
CASES = [
    (a, loss, *convention, reduction)
    for a, loss in itertools.product(ACTIVATIONS, LOSSES)
    for convention, reduction in zip(CONVENTIONS, ["sum", "mean", "mean", "sum"], strict=True)
]


@pytest.mark.parametrize(("activation_kind", "loss", "weights", "samples", "reduction"), CASES)
def test_gradients_equal_torch_autograd(
    activation_kind: str, loss: str, weights: str, samples: str, reduction: str
) -> None:
    chain = Chain(
        [3, 4, 2],
        [activation_kind, output_activation(activation_kind, loss)],
        loss,
        weights,
        samples,
        bias=[True, False],
        reduction=reduction,
    )
    values = draw_values(chain, seed=len(activation_kind) + 3 * len(loss))
    out = sbp.load(chain.spec()).gradient_fn()(values)
    loss_value, grads, deltas = autograd(chain, values)
    assert out["loss"] == pytest.approx(loss_value, rel=1e-12)
    assert_close(out["grad"], grads, rtol=1e-10, atol=1e-12)
    assert_close(out["delta"], deltas, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("weights", "samples"), CONVENTIONS)
def test_a_deeper_chain_with_every_activation(weights: str, samples: str) -> None:
    kinds = ["relu", "tanh", "sigmoid", "leaky_relu", "cube", "identity", "softmax"]
    chain = Chain(
        [4, 5, 4, 5, 3, 4, 3, 3],
        kinds,
        "cross_entropy",
        weights,
        samples,
        bias=[True, False, True, True, False, True, True],
        reduction="mean",
    )
    values = draw_values(chain, seed=21)
    out = sbp.load(chain.spec()).gradient_fn()(values)
    loss_value, grads, deltas = autograd(chain, values)
    assert out["loss"] == pytest.approx(loss_value, rel=1e-12)
    assert_close(out["grad"], grads, rtol=1e-10, atol=1e-12)
    assert_close(out["delta"], deltas, rtol=1e-10, atol=1e-12)
