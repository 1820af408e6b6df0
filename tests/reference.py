"""Independent references for gradients: a hand-written NumPy forward pass (for central
finite differences) and a SymPy forward pass on explicit scalar entries (for SymPy's own
diff of the fully expanded loss). Neither uses symbackprop's graph, rules or printers;
both work in the out_in/columns orientation and convert at the edges."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

ALPHA = 0.01


def np_activation(kind: str, s: np.ndarray) -> np.ndarray:
    """f(s) in the canonical orientation: one sample per column (softmax runs down each column)."""
    if kind == "relu":
        return np.maximum(s, 0)
    if kind == "tanh":
        return np.tanh(s)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-s))
    if kind == "identity":
        return s
    if kind == "leaky_relu":
        return np.where(s > 0, s, ALPHA * s)
    if kind == "softmax":
        e = np.exp(s - s.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    if kind == "cube":  # the custom {expr: "x**3/3 + x"} used in tests
        return s**3 / 3 + s
    raise ValueError(kind)


def sp_activation(kind: str, s: sp.Matrix) -> sp.Matrix:
    if kind == "softmax":
        out = sp.zeros(*s.shape)
        for j in range(s.shape[1]):
            total = sum(sp.exp(s[k, j]) for k in range(s.shape[0]))
            for i in range(s.shape[0]):
                out[i, j] = sp.exp(s[i, j]) / total
        return out
    table = {
        "relu": lambda v: sp.Max(0, v),
        "tanh": sp.tanh,
        "sigmoid": lambda v: 1 / (1 + sp.exp(-v)),
        "identity": lambda v: v,
        "leaky_relu": lambda v: sp.Piecewise((v, v > 0), (sp.Rational(1, 100) * v, True)),
        "cube": lambda v: v**3 / 3 + v,
    }
    return s.applyfunc(table[kind])


def np_loss_entries(kind: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return {
        "half_squared_error": lambda: 0.5 * (a - t) ** 2,
        "squared_error": lambda: (a - t) ** 2,
        "cross_entropy": lambda: -t * np.log(a),
        "hinge": lambda: np.maximum(0, 1 - t * a),
        "quartic": lambda: (a - t) ** 4 / 4 + np.log(1 + np.exp(a)),
    }[kind]()


def sp_loss_entry(kind: str, a: sp.Expr, t: sp.Expr) -> sp.Expr:
    return {
        "half_squared_error": lambda: (a - t) ** 2 / 2,
        "squared_error": lambda: (a - t) ** 2,
        "cross_entropy": lambda: -t * sp.log(a),
        "hinge": lambda: sp.Max(0, 1 - t * a),
        "quartic": lambda: (a - t) ** 4 / 4 + sp.log(1 + sp.exp(a)),
    }[kind]()


def _at(expr: sp.Expr, point: dict) -> float:
    """The value of expr at point, by exact substitution (xreplace), then 20-digit evaluation."""
    return float(expr.xreplace(point).evalf(20))


class Chain:
    """A chain network described plainly: per layer (name, units, activation kind, bias)."""

    def __init__(
        self,
        sizes: list[int],
        activations: list[str],
        loss: str,
        weights: str = "out_in",
        samples: str = "columns",
        bias: list[bool] | None = None,
        reduction: str = "sum",
    ) -> None:
        self.sizes = sizes
        # softmax over one unit is the constant 1, which a spec may not ask for (docs/spec.md): random chains
        # that draw it get sigmoid there
        self.activations = [
            "sigmoid" if kind == "softmax" and units == 1 else kind
            for kind, units in zip(activations, sizes[1:], strict=True)
        ]
        self.loss = loss
        self.weights = weights
        self.samples = samples
        self.bias = bias or [True] * len(activations)
        self.reduction = reduction
        self.names = [str(k + 1) for k in range(len(activations))]

    # --- the spec for symbackprop ---
    def spec(self) -> dict[str, Any]:
        def activation(kind: str) -> Any:
            return {"expr": "x**3/3 + x"} if kind == "cube" else kind

        loss: Any = {"type": self.loss, "reduction": self.reduction}
        if self.loss == "quartic":
            loss = {"expr": "(y_out - y)**4/4 + log(1 + exp(y_out))", "reduction": self.reduction}
        return {
            "name": "reference chain",
            "convention": {"weights": self.weights, "samples": self.samples},
            "input": {"name": "x", "size": self.sizes[0]},
            "target": {"name": "y", "size": self.sizes[-1]},
            "layers": [
                {"name": name, "units": units, "activation": activation(kind), "bias": bias}
                for name, units, kind, bias in zip(self.names, self.sizes[1:], self.activations, self.bias, strict=True)
            ],
            "loss": loss,
        }

    # --- orientation at the edges ---
    def to_canonical(self, name: str, value: np.ndarray) -> np.ndarray:
        if name.startswith("W_"):
            return value if self.weights == "out_in" else value.T
        return value if self.samples == "columns" else value.T

    def from_canonical(self, name: str, value: np.ndarray) -> np.ndarray:
        return self.to_canonical(name, value)  # both are a transpose or nothing

    def random_values(self, rng: np.random.Generator, n_samples: int = 2) -> dict[str, np.ndarray]:
        canonical = {"x": rng.normal(scale=0.7, size=(self.sizes[0], n_samples))}
        for k, name in enumerate(self.names):
            canonical[f"W_{name}"] = rng.normal(scale=0.6, size=(self.sizes[k + 1], self.sizes[k]))
            if self.bias[k]:
                canonical[f"b_{name}"] = rng.normal(scale=0.3, size=(self.sizes[k + 1], 1))
        if self.loss == "cross_entropy":
            y = rng.uniform(0.1, 1.0, size=(self.sizes[-1], n_samples))
            canonical["y"] = y / y.sum(axis=0, keepdims=True)
        elif self.loss == "hinge":
            canonical["y"] = rng.choice([-1.0, 1.0], size=(self.sizes[-1], n_samples))
        else:
            canonical["y"] = rng.normal(size=(self.sizes[-1], n_samples))
        return {name: self.from_canonical(name, value) for name, value in canonical.items()}

    # --- NumPy reference ---
    def np_forward(self, values: dict[str, np.ndarray]) -> tuple[float, list[np.ndarray]]:
        """Loss and the pre-activations (canonical orientation)."""
        h = self.to_canonical("x", values["x"])
        pre = []
        for k, name in enumerate(self.names):
            s = self.to_canonical(f"W_{name}", values[f"W_{name}"]) @ h
            if self.bias[k]:
                s = s + self.to_canonical(f"b_{name}", values[f"b_{name}"])
            pre.append(s)
            h = np_activation(self.activations[k], s)
        y = self.to_canonical("y", values["y"])
        total = float(np.sum(np_loss_entries(self.loss, h, y)))
        return (total / y.shape[1] if self.reduction == "mean" else total), pre

    def np_loss_from(self, k: int, s: np.ndarray, values: dict[str, np.ndarray]) -> float:
        """The loss as a function of layer k's pre-activation (canonical)."""
        h = np_activation(self.activations[k], s)
        for j in range(k + 1, len(self.names)):
            name = self.names[j]
            s = self.to_canonical(f"W_{name}", values[f"W_{name}"]) @ h
            if self.bias[j]:
                s = s + self.to_canonical(f"b_{name}", values[f"b_{name}"])
            h = np_activation(self.activations[j], s)
        y = self.to_canonical("y", values["y"])
        total = float(np.sum(np_loss_entries(self.loss, h, y)))
        return total / y.shape[1] if self.reduction == "mean" else total

    # --- SymPy reference: every entry a symbol, the loss fully expanded ---
    def sympy_gradients(self, values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """dL/dparam and delta_k (spec orientation) by SymPy's diff of the expanded scalar loss."""
        canonical = {name: self.to_canonical(name, v) for name, v in values.items()}
        symbols = {
            name: sp.Matrix(*v.shape, lambda i, j, n=name: sp.Symbol(f"{n}[{i},{j}]", real=True))
            for name, v in canonical.items()
            if name not in ("x", "y")
        }
        point = {
            symbols[name][i, j]: sp.Float(v[i, j], 30)
            for name, v in canonical.items()
            if name in symbols
            for i in range(v.shape[0])
            for j in range(v.shape[1])
        }
        x, y = sp.Matrix(canonical["x"]), sp.Matrix(canonical["y"])
        n_samples = x.shape[1]
        scale = sp.Rational(1, n_samples) if self.reduction == "mean" else 1

        def tail(k: int, s: sp.Matrix) -> sp.Expr:
            h = sp_activation(self.activations[k], s)
            for j in range(k + 1, len(self.names)):
                name = self.names[j]
                s = symbols[f"W_{name}"] * h
                if self.bias[j]:
                    s = s + symbols[f"b_{name}"] * sp.ones(1, n_samples)
                h = sp_activation(self.activations[j], s)
            return scale * sum(
                sp_loss_entry(self.loss, h[i, j], y[i, j]) for i in range(h.shape[0]) for j in range(h.shape[1])
            )

        h: sp.Matrix = x
        pre_values: list[sp.Matrix] = []
        first = None
        for k, name in enumerate(self.names):
            s = symbols[f"W_{name}"] * h
            if self.bias[k]:
                s = s + symbols[f"b_{name}"] * sp.ones(1, n_samples)
            if first is None:
                first = tail(k, s)
            pre_values.append(s.subs(point))
            h = sp_activation(self.activations[k], s)
        loss = first
        grads = {}
        for name, mat in symbols.items():
            grad = np.array(
                [[_at(sp.diff(loss, mat[i, j]), point) for j in range(mat.shape[1])] for i in range(mat.shape[0])]
            )
            grads[name] = self.from_canonical(name, grad)
        deltas = {}
        for k, name in enumerate(self.names):
            s_sym = sp.Matrix(*pre_values[k].shape, lambda i, j: sp.Symbol(f"s[{i},{j}]", real=True))
            at = {s_sym[i, j]: pre_values[k][i, j] for i in range(s_sym.shape[0]) for j in range(s_sym.shape[1])}
            loss_k = tail(k, s_sym)
            delta = np.array(
                [
                    [_at(sp.diff(loss_k, s_sym[i, j]), {**at, **point}) for j in range(s_sym.shape[1])]
                    for i in range(s_sym.shape[0])
                ]
            )
            deltas[f"delta_{name}"] = self.from_canonical("s", delta)
        return grads, deltas

    # --- central finite differences ---
    def finite_differences(self, values: dict[str, np.ndarray], step: float = 1e-6) -> dict[str, np.ndarray]:
        grads = {}
        for name, value in values.items():
            if name in ("x", "y"):
                continue
            grad = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                plus, minus = dict(values), dict(values)
                plus[name], minus[name] = value.copy(), value.copy()
                plus[name][index] += step
                minus[name][index] -= step
                grad[index] = (self.np_forward(plus)[0] - self.np_forward(minus)[0]) / (2 * step)
            grads[name] = grad
        return grads

    def finite_difference_deltas(self, values: dict[str, np.ndarray], step: float = 1e-6) -> dict[str, np.ndarray]:
        _, pre = self.np_forward(values)
        deltas = {}
        for k, name in enumerate(self.names):
            grad = np.zeros_like(pre[k])
            for index in np.ndindex(pre[k].shape):
                plus, minus = pre[k].copy(), pre[k].copy()
                plus[index] += step
                minus[index] -= step
                grad[index] = (self.np_loss_from(k, plus, values) - self.np_loss_from(k, minus, values)) / (2 * step)
            deltas[f"delta_{name}"] = self.from_canonical("s", grad)
        return deltas

    def tame(self, values: dict[str, np.ndarray], bound: float = 20.0) -> bool:
        """True when every pre-activation and the output stay within +-bound and the loss is finite.

        Random draws through several cubes (x**3/3 + x) or the quartic loss's exp can reach 1e12 and
        beyond, where float64 finite differences are noise or NaN: property tests skip such draws
        instead of failing on them intermittently."""
        with np.errstate(all="ignore"):
            loss, pre = self.np_forward(values)
            output = np_activation(self.activations[-1], pre[-1])
        return bool(np.isfinite(loss)) and all(bool(np.all(np.abs(s) <= bound)) for s in [*pre, output])

    def near_kink(self, values: dict[str, np.ndarray], margin: float = 1e-4) -> bool:
        """True when a relu-like pre-activation or a hinge argument sits too close to its kink."""
        _, pre = self.np_forward(values)
        for kind, s in zip(self.activations, pre, strict=True):
            if kind in ("relu", "leaky_relu") and np.min(np.abs(s)) < margin:
                return True
        if self.loss == "hinge":
            h = pre[-1]
            out = np_activation(self.activations[-1], h)
            y = self.to_canonical("y", values["y"])
            if np.min(np.abs(1 - y * out)) < margin:
                return True
        return False


class Wired:
    """A network with arbitrary wiring (inputs, sums, fixed weights, recurrent cycles), run by a
    hand-written forward pass over plain dicts: the independent reference for non-chain specs.
    Works in any convention; `xp` is numpy or torch, so the same pass gives autograd too."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        convention = spec.get("convention", {})
        self.columns = convention.get("samples", "columns") == "columns"
        self.out_in = convention.get("weights", "out_in") == "out_in"
        self.input = spec["input"].get("name", "x")
        target = spec["target"]
        self.target = self.input if target == "input" else target.get("name", "y")

    def layers(self) -> list[dict[str, Any]]:
        out, previous = [], self.input
        for layer in self.spec["layers"]:
            name = str(layer["name"])
            inputs = layer.get("inputs", previous)
            inputs = [str(i) for i in (inputs if isinstance(inputs, list) else [inputs])]
            cycles = layer.get("recurrent", {}).get("cycles", 1) if layer.get("recurrent") else 1
            out.append(
                {
                    **layer,
                    "name": name,
                    "inputs": inputs,
                    "cycles": cycles,
                    "weight": layer.get("weight", f"W_{name}"),
                    "bias": f"b_{name}" if layer.get("bias", True) else None,
                }
            )
            previous = name
        return out

    def parameters(self) -> list[str]:
        names = []
        for layer in self.layers():
            if not layer.get("fixed"):
                names.append(layer["weight"])
            if layer["bias"]:
                names.append(layer["bias"])
        return names

    def forward(self, values: dict[str, Any], xp: Any = np) -> Any:
        def act(kind: Any, s: Any) -> Any:
            if kind == "relu":
                return s * (s > 0)
            if kind == "tanh":
                return xp.tanh(s)
            if kind == "sigmoid":
                return 1 / (1 + xp.exp(-s))
            if kind == "identity":
                return s
            raise ValueError(kind)

        outputs = {self.input: values[self.input]}
        for layer in self.layers():
            h = sum(outputs[name] for name in layer["inputs"])
            weight = values[layer["weight"]]
            z = None
            for _ in range(layer["cycles"]):
                fed = h if z is None else h + z
                if self.columns:
                    s = (weight if self.out_in else weight.T) @ fed
                else:
                    s = fed @ (weight.T if self.out_in else weight)
                if layer["bias"]:
                    s = s + values[layer["bias"]]
                z = act(layer["activation"], s)
            outputs[layer["name"]] = z
        y_out, y = outputs[self.layers()[-1]["name"]], values[self.target]
        loss = self.spec["loss"]
        kind = loss if isinstance(loss, str) else loss["type"]
        entries = {
            "half_squared_error": lambda: 0.5 * (y_out - y) ** 2,
            "squared_error": lambda: (y_out - y) ** 2,
            "cross_entropy": lambda: -y * xp.log(y_out),
        }[kind]()
        total = entries.sum()
        if not isinstance(loss, str) and loss.get("reduction") == "mean":
            total = total / y.shape[1 if self.columns else 0]
        return total

    def finite_differences(self, values: dict[str, np.ndarray], step: float = 1e-6) -> dict[str, np.ndarray]:
        grads = {}
        for name in self.parameters():
            value = values[name]
            grad = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                plus, minus = dict(values), dict(values)
                plus[name], minus[name] = value.copy(), value.copy()
                plus[name][index] += step
                minus[name][index] -= step
                grad[index] = (self.forward(plus) - self.forward(minus)) / (2 * step)
            grads[name] = grad
        return grads
