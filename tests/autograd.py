"""PyTorch autograd as an independent reference for any spec: the network's forward pass built in
torch straight from its graph's nodes (matmul, transpose, add, ones, activation, loss), each
activation and loss written here in torch, and custom formulas evaluated from their parse trees.
Nothing of symbackprop's derivation, rules or printers is used.

PyTorch is a test extra; under CI=true a missing torch fails the run instead of skipping."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from symbackprop.mathparse import BinOp, Call, Name, Neg, Node, Num

if os.environ.get("CI") == "true":
    import torch
else:
    torch = pytest.importorskip("torch")

FUNCTIONS = {
    "exp": torch.exp,
    "log": torch.log,
    "ln": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "sin": torch.sin,
    "cos": torch.cos,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "max": torch.maximum,
    "min": torch.minimum,
}


def formula(node: Node, names: dict[str, Any]) -> Any:
    """A parsed user formula evaluated entry by entry on tensors."""
    if isinstance(node, Num):
        return float(node.text)
    if isinstance(node, Name):
        return names[node.id]
    if isinstance(node, Neg):
        return -formula(node.operand, names)
    if isinstance(node, Call):
        args = [formula(arg, names) for arg in node.args]
        args = [a if torch.is_tensor(a) else torch.tensor(a, dtype=torch.float64) for a in args]
        return FUNCTIONS[node.func](*args)
    assert isinstance(node, BinOp)
    left, right = formula(node.left, names), formula(node.right, names)
    return {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
        "^": lambda: left**right,
    }[node.op]()


def activation(attrs: dict[str, Any], s: Any) -> Any:
    act, axis = attrs["activation"], attrs["axis"]
    kind = act.kind
    if kind == "relu":
        return torch.relu(s)
    if kind == "tanh":
        return torch.tanh(s)
    if kind == "sigmoid":
        return torch.sigmoid(s)
    if kind == "identity":
        return s
    if kind == "leaky_relu":
        return torch.nn.functional.leaky_relu(s, negative_slope=act.alpha)
    if kind == "softmax":
        return torch.softmax(s, dim=axis)
    if kind == "expr":
        return formula(act.expr, {"x": s})
    raise ValueError(f"no torch reference for activation {kind}")


def loss_entries(attrs: dict[str, Any], a: Any, t: Any, logits: Any) -> Any:
    """The loss's entries; cross-entropy after a softmax reads log-softmax of the logits, as
    torch's own cross_entropy does."""
    loss = attrs["loss"]
    kind = loss.kind
    if kind == "half_squared_error":
        return (a - t) ** 2 / 2
    if kind == "squared_error":
        return (a - t) ** 2
    if kind == "cross_entropy":
        return -t * (torch.log_softmax(logits[0], dim=logits[1]) if logits is not None else torch.log(a))
    if kind == "hinge":
        return torch.clamp(loss.margin - t * a, min=0)
    if kind == "multiclass_hinge":  # one-hot t: every other unit's violation of the margin over the class's score
        score = (a * t).sum(dim=attrs["axis"], keepdim=True)
        return (1 - t) * torch.clamp(a - score + loss.margin, min=0)
    if kind == "expr":
        return formula(loss.expr, {attrs["output_name"]: a, attrs["target_name"]: t})
    raise ValueError(f"no torch reference for loss {kind}")


def autograd(net: Any, values: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Loss, parameter gradients and deltas dL/ds (by the delta's name) from torch autograd, float64."""
    graph = net.graph
    tensors: dict[int, Any] = {}
    leaves: dict[str, Any] = {}
    preactivations: dict[str, Any] = {}
    samples = None
    for node in graph.nodes:
        if node.op == "symbol":
            value = torch.tensor(
                np.asarray(values[node.name], dtype=np.float64),
                dtype=torch.float64,
                requires_grad=node.role in ("weight", "bias"),
            )
            if "N" in node.shape:
                samples = value.shape[node.shape.index("N")]
            tensors[node.id] = leaves[node.name] = value
            continue
        inputs = [tensors[i] for i in node.inputs]
        if node.op == "matmul":
            out = inputs[0] @ inputs[1]
        elif node.op == "transpose":
            out = inputs[0].T
        elif node.op == "add":
            out = inputs[0]
            for term in inputs[1:]:
                out = out + term
        elif node.op == "ones":
            out = torch.ones(tuple(samples if d == "N" else d for d in node.shape), dtype=torch.float64)
        elif node.op == "activation":
            out = activation(node.attrs, inputs[0])
        elif node.op == "loss":
            source = graph.nodes[node.inputs[0]]
            logits = None
            if source.op == "activation" and source.attrs["activation"].kind == "softmax":
                logits = (tensors[source.inputs[0]], source.attrs["axis"])
            out = loss_entries(node.attrs, inputs[0], inputs[1], logits).sum()
            if node.attrs["loss"].reduction == "mean":
                out = out / samples
        else:
            raise ValueError(f"no torch reference for op {node.op}")
        if node.role == "preactivation" and out.requires_grad:  # not a fixed layer's product of data
            out.retain_grad()
            preactivations[node.delta_key] = out
        tensors[node.id] = out
    loss = tensors[graph.loss]
    loss.backward()
    grads = {name: t.grad.numpy() for name, t in leaves.items() if t.requires_grad}
    deltas = {f"delta_{key}": s.grad.numpy() for key, s in preactivations.items() if s.grad is not None}
    return loss.item(), grads, deltas
