"""The classification losses beyond cross-entropy: the multiclass hinge (margin, one-hot targets or
class numbers, the subgradient at a tie) and binary cross-entropy after a sigmoid (its fused delta),
each against PyTorch autograd (test-only), and the spec's errors for them."""

from __future__ import annotations

import os

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.spec import SpecError

if os.environ.get("CI") == "true":
    import torch
else:
    torch = pytest.importorskip("torch")


def _classifier(output: str, loss: dict, samples: str = "columns", hidden: int = 4) -> dict:
    return {
        "name": "classifier",
        "convention": {"samples": samples},
        "input": {"name": "x", "size": 3},
        "target": {"name": "y", "size": 3},
        "output": "p",
        "loss": loss,
        "layers": [
            {"name": "1", "units": hidden, "activation": "tanh"},
            {"name": "2", "units": 3, "activation": output},
        ],
    }


def _one_hot(classes: np.ndarray, units: int, columns: bool) -> np.ndarray:
    hot = np.eye(units)[classes]
    return hot.T if columns else hot


def _torch_gradients(values: dict[str, np.ndarray], output: str, columns: bool, loss_of) -> tuple[float, dict]:
    """Loss and gradients by autograd, written plainly in the out_in/columns orientation."""
    canon = {
        name: torch.tensor(
            value if columns or name.startswith("W") else value.T,
            dtype=torch.float64,
            requires_grad=name not in ("x", "y"),
        )
        for name, value in values.items()
    }
    hidden = torch.tanh(canon["W_1"] @ canon["x"] + canon["b_1"])
    scores = canon["W_2"] @ hidden + canon["b_2"]
    out = (
        torch.softmax(scores, dim=0)
        if output == "softmax"
        else torch.sigmoid(scores)
        if output == "sigmoid"
        else scores
    )
    loss = loss_of(out, canon["y"])
    loss.backward()
    grads = {
        name: (t.grad.numpy() if columns or name.startswith("W") else t.grad.numpy().T)
        for name, t in canon.items()
        if t.requires_grad
    }
    return loss.item(), grads


def _multi_margin(margin: float):
    def loss_of(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        classes = y.argmax(dim=0)
        # torch divides each sample's sum by the number of classes; the spec's loss does not
        per_sample = torch.nn.MultiMarginLoss(margin=margin, reduction="sum")(scores.T, classes)
        return per_sample * scores.shape[0]

    return loss_of


def _draw(net: sbp.Network, seed: int, columns: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for node in net.graph.leaves:
        shape = tuple(5 if d == "N" else d for d in node.shape)
        values[node.name] = rng.normal(size=shape)
    values["y"] = _one_hot(rng.integers(0, 3, size=5), 3, columns)
    return values


@pytest.mark.parametrize(
    ("output", "samples", "margin"),
    [("softmax", "columns", 1.0), ("identity", "rows", 1.0), ("identity", "columns", 0.5), ("softmax", "rows", 2.0)],
)
def test_multiclass_hinge_gradients_equal_torch_multimarginloss(output: str, samples: str, margin: float) -> None:
    net = sbp.load(_classifier(output, {"type": "multiclass_hinge", "margin": margin}, samples))
    columns = samples == "columns"
    values = _draw(net, 11, columns)
    out = net.gradient_fn()(values)
    loss, grads = _torch_gradients(values, output, columns, _multi_margin(margin))
    assert out["loss"] == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(out["grad"][name], grad, rtol=1e-10, atol=1e-12)


def test_a_tie_on_the_margin_counts_zero_like_torch() -> None:
    """Scores b (x = 0), class 2 (score 1), margin 1: unit 1 sits exactly on the margin (0 - 1 + 1 = 0) and
    counts nothing; unit 3 violates it by 0.5 and counts 1; the class's own unit gets minus their count."""
    spec = {
        "name": "tie",
        "input": {"size": 2},
        "target": {"size": 3},
        "loss": {"type": "multiclass_hinge"},
        "layers": [{"name": "1", "units": 3, "activation": "identity"}],
    }
    net = sbp.load(spec)
    values = {
        "x": np.zeros((2, 1)),
        "W_1": np.ones((3, 2)),
        "b_1": np.array([[0.0], [1.0], [0.5]]),
        "y": np.array([[0.0], [1.0], [0.0]]),
    }
    out = net.gradient_fn()(values)
    np.testing.assert_array_equal(out["grad"]["b_1"], [[0.0], [-1.0], [1.0]])
    assert out["loss"] == 0.5
    b = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    torch.nn.MultiMarginLoss(margin=1.0, reduction="sum")(b[None, :], torch.tensor([1])).backward()
    np.testing.assert_array_equal(out["grad"]["b_1"][:, 0], b.grad.numpy() * 3)
    report = net.gradcheck(values).report()
    assert "at a kink, skipped" in report  # the tie is a kink: no finite difference is taken there


def test_multiclass_hinge_gradcheck_passes_away_from_kinks() -> None:
    for seed, output in ((0, "softmax"), (3, "identity")):
        result = sbp.load(_classifier(output, {"type": "multiclass_hinge", "margin": 1})).gradcheck(
            random=True, seed=seed
        )
        assert result.ok, result.report()


def test_class_numbers_are_one_hot_targets() -> None:
    by_number = _classifier("softmax", {"type": "multiclass_hinge", "labels": "index"})
    by_number["data"] = {"y": [[2, 3, 1]]}
    one_hot = _classifier("softmax", {"type": "multiclass_hinge"})
    one_hot["data"] = {"y": [[0, 0, 1], [1, 0, 0], [0, 1, 0]]}
    assert sbp.load(by_number).spec.data["y"] == sbp.load(one_hot).spec.data["y"]
    rows = _classifier("softmax", {"type": "cross_entropy", "labels": "index"}, samples="rows")
    rows["data"] = {"y": [[2], [3]]}
    assert sbp.load(rows).spec.data["y"] == ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def test_the_multiclass_hinge_reads_as_the_course_writes_it() -> None:
    der = sbp.load(_classifier("softmax", {"type": "multiclass_hinge"})).derive()
    assert der.forward_text()[-1] == "L = sum((1 - y) ⊙ max(0, p + 1 - (1_3 1_3^T (y ⊙ p))))"
    assert der.target("dL/dp").text("index") == (
        "dL/dp[j,n] = (1 - y[j,n])*[p[j,n] + 1 - sum_{k=1}^{3}(p[k,n]*y[k,n]) > 0] - "
        "y[j,n]*sum_{k=1}^{3}((1 - y[k,n])*[p[k,n] + 1 - sum_{l=1}^{3}(p[l,n]*y[l,n]) > 0])   for j = 1..3, n = 1..N"
    )


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_binary_cross_entropy_after_sigmoid_equals_torch_and_fuses(reduction: str) -> None:
    spec = _classifier("sigmoid", {"type": "binary_cross_entropy", "reduction": reduction})
    net = sbp.load(spec)
    rng = np.random.default_rng(4)
    values = {
        name: rng.normal(size=tuple(5 if d == "N" else d for d in node.shape))
        for node in net.graph.leaves
        for name in [node.name]
    }
    values["y"] = rng.uniform(0, 1, size=(3, 5))
    out = net.gradient_fn()(values)

    def loss_of(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy(p, y, reduction="sum") / (5 if reduction == "mean" else 1)

    loss, grads = _torch_gradients(values, "sigmoid", True, loss_of)
    assert out["loss"] == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(out["grad"][name], grad, rtol=1e-9, atol=1e-12)
    delta = net.derive().delta("2")
    assert delta.text("simplified") == ("delta_2 = (1/N) (p - y)" if reduction == "mean" else "delta_2 = p - y")
    named = net.named_values(values)
    np.testing.assert_allclose(
        named["delta_2"], (named["p"] - values["y"]) / (5 if reduction == "mean" else 1), rtol=1e-10
    )


@pytest.mark.parametrize(
    ("loss", "data", "key", "message"),
    [
        ({"type": "hinge", "labels": "index"}, None, "loss.labels", "labels applies only to {type: cross_entropy}"),
        ({"type": "squared_error", "margin": 2}, None, "loss.margin", "margin applies only to {type: hinge} and"),
        ({"type": "multiclass_hinge", "labels": "numbers"}, None, "loss.labels", "unknown labels 'numbers'"),
        (
            {"type": "multiclass_hinge", "labels": "index"},
            {"y": [[1, 4]]},
            "data.y[0][1]",
            "a class number is a whole number from 1 to 3, got 4",
        ),
        ({"type": "multiclass_hinge", "labels": "index"}, {"y": [[1.5]]}, "data.y[0][0]", "got 1.5"),
        (
            {"type": "cross_entropy", "labels": "index"},
            {"y": [[1], [2]]},
            "data.y",
            "one class number per sample: expected 1xN (one row) under samples: columns, got 2x1",
        ),
    ],
)
def test_loss_spec_errors(loss: dict, data: dict | None, key: str, message: str) -> None:
    spec = _classifier("softmax", loss)
    if data:
        spec["data"] = data
    with pytest.raises(SpecError) as error:
        sbp.load(spec)
    assert error.value.key == key and message in error.value.message, str(error.value)
