"""Worked numeric solutions for tests of `check`: an independent NumPy student who trains a dense
chain by hand (no symbackprop code), can make the mistakes students make, and writes the
solution in the styles of the homework examples.

The student works in the out_in/columns orientation and converts at the edges; a mistake is
planted where it is made and the student carries on with the wrong number, as a real one does.
Writers format every number with a given count of decimals (rounded, as by hand).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ACT = {
    "relu": (lambda s: np.maximum(s, 0), lambda s: (s > 0).astype(float)),
    "tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2),
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda s: np.exp(-s) / (1 + np.exp(-s)) ** 2),
    "identity": (lambda s: s, lambda s: np.ones_like(s)),
    "square": (lambda s: s**2, lambda s: 2 * s),
}


@dataclass
class Layer:
    name: str
    act: str
    weight: str
    bias: str | None


@dataclass
class Net:
    """A dense chain as the student sees it; `values` in the spec's orientation."""

    layers: list[Layer]
    x: str
    t: str
    output: str  # the output alias
    loss: str  # half_squared_error | squared_error
    weights: str  # out_in | in_out
    samples: str  # columns | rows
    lr: float
    steps: int
    data: dict[str, np.ndarray]

    def spec(self) -> dict:
        """The same network as a symbackprop spec (a dict)."""
        acts = {"square": {"expr": "x**2"}}
        n_in = self.data[self.x].shape[0 if self.samples == "columns" else 1]
        n_out = self.data[self.t].shape[0 if self.samples == "columns" else 1]
        return {
            "name": "test network",
            "convention": {"weights": self.weights, "samples": self.samples},
            "input": {"name": self.x, "size": n_in},
            "target": {"name": self.t, "size": n_out},
            "output": self.output,
            "layers": [
                {
                    "name": layer.name,
                    "units": self._units(layer),
                    "activation": acts.get(layer.act, layer.act),
                    "weight": layer.weight,
                    "bias": bool(layer.bias),
                }
                for layer in self.layers
            ],
            "loss": self.loss,
            "data": {k: v.tolist() for k, v in self.data.items()},
            "training": {"learning_rate": self.lr, "steps": self.steps},
        }

    def _units(self, layer: Layer) -> int:
        w = self.data[layer.weight]
        return w.shape[0] if self.weights == "out_in" else w.shape[1]


@dataclass
class Mistakes:
    """What the student gets wrong. `tamper(step, role, key, value)` may change any value as it
    is computed (the student carries on with what it returns)."""

    lr: float | None = None  # another learning rate for every update
    gradient_as_update: bool = False
    activation: dict[str, str] = field(default_factory=dict)  # layer -> activation used instead (f and f')
    derivative: dict[str, str] = field(default_factory=dict)  # layer -> only f' from this activation
    sign_of_error: bool = False  # (t - y) instead of (y - t)
    tamper: Callable[[int, str, str, np.ndarray], np.ndarray] | None = None


@dataclass
class StepValues:
    step: int
    params: dict[str, np.ndarray]
    forward: dict[str, np.ndarray]  # s_k, z_k (z of the last layer under the key z_<name>)
    loss: float
    delta: dict[str, np.ndarray]
    grad: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]


def _in(net: Net, name: str, value: np.ndarray, kind: str) -> np.ndarray:
    """From the spec's orientation to out_in/columns."""
    if kind == "weight":
        return value if net.weights == "out_in" else value.T
    if kind == "bias":
        return value if net.samples == "columns" else value.T
    return value if net.samples == "columns" else value.T


def _out(net: Net, value: np.ndarray, kind: str) -> np.ndarray:
    if kind == "weight":
        return value if net.weights == "out_in" else value.T
    return value if net.samples == "columns" else value.T


def train(net: Net, mistakes: Mistakes | None = None) -> list[StepValues]:
    """The student's numbers, step by step, in the spec's orientation."""
    m = mistakes or Mistakes()

    def tamper(step: int, role: str, key: str, value: np.ndarray) -> np.ndarray:
        return m.tamper(step, role, key, value) if m.tamper else value

    x = _in(net, net.x, net.data[net.x], "batch")
    t = _in(net, net.t, net.data[net.t], "batch")
    params = {}
    for layer in net.layers:
        params[layer.weight] = _in(net, layer.weight, net.data[layer.weight], "weight")
        if layer.bias:
            params[layer.bias] = _in(net, layer.bias, net.data[layer.bias], "bias")
    out = []
    for step in range(1, net.steps + 1):
        forward, s, z = {}, {}, {}
        h = x
        for layer in net.layers:
            s_k = params[layer.weight] @ h + (params[layer.bias] if layer.bias else 0)
            s_k = tamper(step, "forward", f"s_{layer.name}", s_k)
            f = ACT[m.activation.get(layer.name, layer.act)][0]
            z_k = tamper(step, "forward", f"z_{layer.name}", f(s_k))
            s[layer.name], z[layer.name] = s_k, z_k
            forward[f"s_{layer.name}"], forward[f"z_{layer.name}"] = s_k, z_k
            h = z_k
        y = h
        scale = 0.5 if net.loss == "half_squared_error" else 1.0
        loss = float(np.sum(scale * (y - t) ** 2))
        loss = float(tamper(step, "loss", "L", np.array([[loss]]))[0, 0])
        error = 2 * scale * ((t - y) if m.sign_of_error else (y - t))
        delta = {}
        upstream = error
        for k in range(len(net.layers) - 1, -1, -1):
            layer = net.layers[k]
            kind = m.derivative.get(layer.name, m.activation.get(layer.name, layer.act))
            d = upstream * ACT[kind][1](s[layer.name])
            d = tamper(step, "delta", f"delta_{layer.name}", d)
            delta[f"delta_{layer.name}"] = d
            upstream = params[layer.weight].T @ d
        grad = {}
        for k, layer in enumerate(net.layers):
            below = x if k == 0 else z[net.layers[k - 1].name]
            d = delta[f"delta_{layer.name}"]
            grad[layer.weight] = tamper(step, "grad", layer.weight, d @ below.T)
            if layer.bias:
                grad[layer.bias] = tamper(step, "grad", layer.bias, d.sum(axis=1, keepdims=True))
        rate = m.lr if m.lr is not None else net.lr
        updated = {}
        for name, value in params.items():
            new = grad[name] if m.gradient_as_update else value - rate * grad[name]
            updated[name] = tamper(step, "updated", name, new)
        kinds = {layer.weight: "weight" for layer in net.layers}
        out.append(
            StepValues(
                step,
                {k: _out(net, v, kinds.get(k, "bias")) for k, v in params.items()},
                {k: _out(net, v, "batch") for k, v in forward.items()},
                loss,
                {k: _out(net, v, "batch") for k, v in delta.items()},
                {k: _out(net, v, kinds.get(k, "bias")) for k, v in grad.items()},
                {k: _out(net, v, kinds.get(k, "bias")) for k, v in updated.items()},
            )
        )
        params = updated
    return out


# --- writers ---------------------------------------------------------------------------------


def num(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return "0" + "." + "0" * digits if float(text) == 0 and digits else ("0" if float(text) == 0 else text)


def bmatrix(value: np.ndarray, digits: int, env: str = "bmatrix") -> str:
    rows = " \\\\ ".join(" & ".join(num(v, digits) for v in row) for row in value)
    return f"\\begin{{{env}}} {rows} \\end{{{env}}}"


def array(value: np.ndarray, digits: int) -> str:
    rows = " \\\\ ".join(" & ".join(num(v, digits) for v in row) for row in value)
    return f"\\left[\\begin{{array}}{{{'c' * value.shape[1]}}} {rows} \\end{{array}}\\right]"


def latex_name(name: str) -> str:
    """W_1 -> W_{1}, delta_out -> \\delta_{out}, y_out -> y_{out}."""
    head, _, tail = name.partition("_")
    head = "\\delta" if head == "delta" else head
    return f"{head}_{{{tail}}}" if tail else head


def markdown(net: Net, steps: list[StepValues], digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """Markdown with $$ display math and bmatrix, an `## Iteration k` heading per step, updates written
    W^{(t+1)} = W - lr dL/dW = [..]; chains as students write them."""
    lines = [f"# Solution: {len(steps)} steps of gradient descent", ""]
    last = net.layers[-1].name
    for sv in steps:
        lines += [f"## Iteration {sv.step}", "", "### Forward pass", ""]
        for layer in net.layers:
            s, z = f"s_{layer.name}", f"z_{layer.name}"
            lines.append(f"$$s_{{{layer.name}}} = {latex_name(layer.weight)} h = {bmatrix(sv.forward[s], digits)}$$")
            alias = latex_name(net.output) if layer.name == last else latex_name(z)
            lines.append(f"$${alias} = f(s_{{{layer.name}}}) = {bmatrix(sv.forward[z], digits)}$$")
            lines.append("")
        lines += [f"The loss is $$L = {num(sv.loss, digits)}$$", "", "### Backward pass", ""]
        for key, value in sv.delta.items():
            lines.append(f"$${latex_name(key)} = {bmatrix(value, digits)}$$")
        lines += ["", "Gradients:", ""]
        for key, value in sv.grad.items():
            lines.append(f"$$\\frac{{\\partial L}}{{\\partial {latex_name(key)}}} = {bmatrix(value, digits)}$$")
        lines += ["", "### Update", ""]
        for key, value in sv.updated.items():
            name = latex_name(key)
            lines.append(
                f"$${name}^{{(t+1)}} = {name} - {net.lr:g} \\cdot \\frac{{\\partial L}}{{\\partial {name}}}"
                f" = {bmatrix(value, digits)}$$"
            )
        lines.append("")
    text = "\n".join(lines) + "\n"
    return edit(text) if edit else text


def latex(net: Net, steps: list[StepValues], digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """A LaTeX document: align* environments with pmatrix and arrays, \\section*{Step k}, gradients
    as \\nabla_{W} L, updates as W', the loss per sample as a row, then its total."""
    out = [
        "\\documentclass{article}",
        "\\usepackage{amsmath}",
        "\\begin{document}",
        "% a comment: W = 3",
        "\\section*{Backpropagation by hand}",
    ]
    last = net.layers[-1].name
    for sv in steps:
        out += [f"\\section*{{Step {sv.step}}}", "\\begin{align*}"]
        rows = []
        for layer in net.layers:
            s, z = f"s_{layer.name}", f"z_{layer.name}"
            rows.append(f"s_{{{layer.name}}} &= {latex_name(layer.weight)}\\, z \\\\ &= {array(sv.forward[s], digits)}")
            alias = latex_name(net.output) if layer.name == last else f"z_{{{layer.name}}}"
            rows.append(f"{alias} &= {bmatrix(sv.forward[z], digits, 'pmatrix')}")
        rows.append(f"\\mathcal{{L}} &= {num(sv.loss, digits)}")
        for key, value in sv.delta.items():
            rows.append(f"{latex_name(key)} &= {bmatrix(value, digits, 'pmatrix')}")
        for key, value in sv.grad.items():
            rows.append(f"\\nabla_{{{latex_name(key)}}} L &= {bmatrix(value, digits, 'pmatrix')}")
        for key, value in sv.updated.items():
            rows.append(
                f"{latex_name(key)}' &= {latex_name(key)} - \\eta \\nabla_{{{latex_name(key)}}} L = "
                f"{bmatrix(value, digits, 'pmatrix')}"
            )
        out.append(" \\\\\n".join(rows))
        out += ["\\end{align*}"]
    out.append("\\end{document}")
    text = "\n".join(out) + "\n"
    return edit(text) if edit else text


def entries(net: Net, steps: list[StepValues], digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """The square-activation homework's style: layers as superscripts, pre-activations called
    net and activations a (names the spec does not know), every delta, gradient and update entry
    by entry (\\delta_1^{(2)}, \\frac{\\partial E}{\\partial w_{12}^{(1)}}), updates in an array."""
    numbers = {layer.name: k + 1 for k, layer in enumerate(net.layers)}
    out = ["HW: MLP & Backpropagation", ""]
    for sv in steps:
        out += [f"Iteration {sv.step}", "", "Forward pass:", ""]
        for layer in net.layers:
            k = numbers[layer.name]
            out.append(
                f"$$\\vec{{net}}^{{({k})}} = W^{{({k})}} \\cdot \\vec{{a}}^{{({k - 1})}} = "
                f"{bmatrix(sv.forward[f's_{layer.name}'], digits, 'pmatrix')}$$"
            )
            out.append(
                f"$$\\vec{{a}}^{{({k})}} = \\sigma(\\vec{{net}}^{{({k})}}) = "
                f"{bmatrix(sv.forward[f'z_{layer.name}'], digits, 'pmatrix')}$$"
            )
        out += [
            "",
            "Error:",
            "",
            f"$$E = \\frac{{1}}{{2}}(t - y)^2 = {num(sv.loss, digits)}$$",
            "",
            "Backpropagation:",
            "",
        ]
        for layer in reversed(net.layers):
            k = numbers[layer.name]
            d = sv.delta[f"delta_{layer.name}"]
            for i in range(d.shape[0]):
                out.append(
                    f"$$\\delta_{{{i + 1}}}^{{({k})}} = \\sum_k \\delta_k w_{{k{i + 1}}} = {num(d[i, 0], digits)}$$"
                )
        out += ["", "Partial derivatives:", "", "$$\\begin{split}"]
        rows = []
        for layer in reversed(net.layers):
            k = numbers[layer.name]
            g = sv.grad[layer.weight]
            for i in range(g.shape[0]):
                for j in range(g.shape[1]):
                    rows.append(
                        f"\\frac{{\\partial E}}{{\\partial w_{{{i + 1}{j + 1}}}^{{({k})}}}} &= "
                        f"\\delta_{{{i + 1}}}^{{({k})}} a_{{{j + 1}}}^{{({k - 1})}} = {num(g[i, j], digits)}"
                    )
        out += [" \\\\ ".join(rows), "\\end{split}$$", "", "Weight updates:", "", "$$\\begin{array}{lll}"]
        rows = []
        for layer in reversed(net.layers):
            k = numbers[layer.name]
            p, u = sv.params[layer.weight], sv.updated[layer.weight]
            for i in range(u.shape[0]):
                for j in range(u.shape[1]):
                    rows.append(
                        f"w_{{{i + 1}{j + 1}}}^{{({k})}} = {num(p[i, j], digits)} - {net.lr:g} \\cdot "
                        f"{num(sv.grad[layer.weight][i, j], digits)} & = {num(u[i, j], digits)}"
                    )
        out += [" \\\\ ".join(rows), "\\end{array}$$", ""]
    text = "\n".join(out) + "\n"
    return edit(text) if edit else text


def plain_text(net: Net, steps: list[StepValues], digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """`symbackprop numeric`'s text layout in a Markdown code block: rows in brackets."""

    def block(label: str, value: np.ndarray) -> list[str]:
        cells = [[num(v, digits) for v in row] for row in value]
        width = max(len(c) for row in cells for c in row)
        rows = ["[ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells]
        return [f"    {label} = {rows[0]}"] + [" " * (len(label) + 7) + row for row in rows[1:]]

    out = ["Worked solution", "", "```"]
    for sv in steps:
        out += [f"Step {sv.step}", "  Parameters"]
        for key, value in sv.params.items():
            out += block(key, value)
        out.append("  Forward")
        for key, value in sv.forward.items():
            out += block(key, value)
        out += ["  Loss", f"    L = {num(sv.loss, digits)}", "  Deltas"]
        for key, value in sv.delta.items():
            out += block(key, value)
        out.append("  Gradients")
        for key, value in sv.grad.items():
            out += block(f"dL/d{key}", value)
        out.append(f"  Updated parameters (theta - {net.lr:g} * dL/dtheta)")
        for key, value in sv.updated.items():
            out += block(key, value)
    out.append("```")
    text = "\n".join(out) + "\n"
    return edit(text) if edit else text


def course(net: Net, steps: list[StepValues], digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """The 4-3-2-1 homework's notation (specs/relu_4321_course.yaml): z^k the pre-activation, h^k the
    activation, l the loss, layers as plain superscripts, W^3_{1,1} for entries, updates with \\leftarrow."""
    numbers = {layer.name: k + 1 for k, layer in enumerate(net.layers)}
    out = ["CS 1678 Homework 3 (Back prop), with numbers", ""]
    for sv in steps:
        out += [f"Question {sv.step}: iteration {sv.step} of gradient descent", ""]
        for layer in net.layers:
            k = numbers[layer.name]
            out.append(
                f"$$z^{{{k}}} = W^{{{k}}} h^{{{k - 1}}} + b^{{{k}}} = "
                f"{bmatrix(sv.forward[f's_{layer.name}'], digits)}$$"
            )
            out.append(f"$$h^{{{k}}} = \\sigma(z^{{{k}}}) = {bmatrix(sv.forward[f'z_{layer.name}'], digits)}$$")
        out += ["", f"$$l(\\theta) = \\frac{{1}}{{2}}(h^{{{len(net.layers)}}} - y)^2 = {num(sv.loss, digits)}$$", ""]
        for layer in reversed(net.layers):
            k = numbers[layer.name]
            out.append(f"$$\\delta^{{{k}}} = {bmatrix(sv.delta[f'delta_{layer.name}'], digits)}$$")
        for layer in reversed(net.layers):
            k = numbers[layer.name]
            g = sv.grad[layer.weight]
            out.append(
                f"$$\\frac{{\\partial l(\\theta)}}{{\\partial W^{{{k}}}}} = {bmatrix(g, digits)}, \\quad "
                f"\\frac{{\\partial l(\\theta)}}{{\\partial W_{{1,1}}^{{{k}}}}} = {num(g[0, 0], digits)}$$"
            )
            if layer.bias:
                out.append(
                    f"$$\\frac{{\\partial l(\\theta)}}{{\\partial b^{{{k}}}}} = "
                    f"{bmatrix(sv.grad[layer.bias], digits)}$$"
                )
        out.append("")
        for layer in net.layers:
            k = numbers[layer.name]
            out.append(
                f"$$W^{{{k}}} \\leftarrow W^{{{k}}} - {net.lr:g} \\frac{{\\partial l}}{{\\partial W^{{{k}}}}} = "
                f"{bmatrix(sv.updated[layer.weight], digits)}$$"
            )
            if layer.bias:
                out.append(
                    f"$$b^{{{k}}} \\leftarrow b^{{{k}}} - {net.lr:g} \\frac{{\\partial l}}"
                    f"{{\\partial b^{{{k}}}}} = {bmatrix(sv.updated[layer.bias], digits)}$$"
                )
        out.append("")
    text = "\n".join(out) + "\n"
    return edit(text) if edit else text


STYLES = {"markdown": markdown, "latex": latex, "entries": entries, "plain": plain_text, "course": course}


# --- networks ----------------------------------------------------------------------------------


def mlp(samples: str = "columns", weights: str = "in_out", steps: int = 3) -> Net:
    """specs/mlp.yaml's network (2-3-1, relu then tanh, four samples), in any orientation."""
    x = np.array([[0.75, 0.2, -0.75, 0.2], [0.8, 0.05, 0.8, -0.05]])
    y = np.array([[1.0, 1.0, -1.0, -1.0]])
    w1 = np.array([[0.6, 0.7, 0.0], [0.01, 0.43, 0.88]])  # in_out
    w2 = np.array([[0.02], [0.03], [0.09]])
    if weights == "out_in":
        w1, w2 = w1.T, w2.T
    if samples == "rows":
        x, y = x.T, y.T
    return Net(
        [Layer("1", "relu", "W", None), Layer("out", "tanh", "w", None)],
        "x",
        "y",
        "y_out",
        "half_squared_error",
        weights,
        samples,
        0.05,
        steps,
        {"x": x, "y": y, "W": w1, "w": w2},
    )


def square() -> Net:
    """specs/square_221.yaml: 2-2-1, square activation, one sample, learning rate 0.01."""
    return Net(
        [Layer("1", "square", "W_1", None), Layer("2", "square", "w_2", None)],
        "x",
        "t",
        "y",
        "half_squared_error",
        "out_in",
        "columns",
        0.01,
        1,
        {
            "x": np.array([[2.0], [3.0]]),
            "t": np.array([[3.0]]),
            "W_1": np.array([[-2.0, 3.0], [2.0, 1.0]]),
            "w_2": np.array([[-2.0, 1.0]]),
        },
    )


def relu_course() -> Net:
    """specs/relu_4321_course.yaml: 4-3-2-1, relu, relu, identity, biases, one sample, two steps."""
    data = {
        "x": np.array([[1.0], [-0.5], [0.25], [2.0]]),
        "y": np.array([[1.0]]),
        "W_1": np.array([[0.1, -0.2, 0.3, 0.05], [0.4, 0.1, -0.3, 0.2], [-0.1, 0.3, 0.2, 0.1]]),
        "b_1": np.array([[0.1], [0.0], [0.2]]),
        "W_2": np.array([[0.5, -0.4, 0.3], [0.2, 0.6, -0.1]]),
        "b_2": np.array([[0.05], [-0.05]]),
        "W_3": np.array([[0.7, -0.3]]),
        "b_3": np.array([[0.1]]),
    }
    layers = [Layer("1", "relu", "W_1", "b_1"), Layer("2", "relu", "W_2", "b_2"), Layer("3", "identity", "W_3", "b_3")]
    return Net(layers, "x", "y", "h_3", "half_squared_error", "out_in", "columns", 0.1, 2, data)


def biased(samples: str = "columns", steps: int = 2) -> Net:
    """A 3-2-2 network with biases, sigmoid then identity, squared error, two samples."""
    x = np.array([[0.5, -0.3], [0.1, 0.8], [-0.7, 0.2]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    w1 = np.array([[0.3, -0.2, 0.4], [0.1, 0.5, -0.3]])
    b1 = np.array([[0.1], [-0.1]])
    w2 = np.array([[0.6, -0.4], [0.2, 0.7]])
    b2 = np.array([[0.05], [0.0]])
    if samples == "rows":
        x, t, b1, b2 = x.T, t.T, b1.T, b2.T
    return Net(
        [Layer("1", "sigmoid", "W_1", "b_1"), Layer("2", "identity", "W_2", "b_2")],
        "x",
        "t",
        "y_out",
        "squared_error",
        "out_in",
        samples,
        0.1,
        steps,
        {"x": x, "t": t, "W_1": w1, "b_1": b1, "W_2": w2, "b_2": b2},
    )


def autoencoder(run: object, digits: int = 4, edit: Callable[[str], str] | None = None) -> str:
    """The recurrent-autoencoder exercise's style (exercise-recurrent-autoencoder.md) with the numbers of
    a training run of specs/recurrent_autoencoder_small.yaml or its course variant: samples in rows,
    `A_{in} = X W_{in}^T + b_{in}`, `Z_{in} = ReLU(A_{in})`, cycles as `A_{rec(1)}`, E for the loss,
    `\\delta^{out}`, `\\frac{dE}{dw^{(out)}}`, updates as `w^{(out)}_{new}`."""
    layer_of = {"s": "A", "z": "Z"}
    out = ["Deep Learning", "", "3.3 Numbers", ""]
    for step in run.steps:
        out += [f"Iteration {step.step}", ""]
        for key, value in step.forward.items():
            letter, _, rest = key.partition("_")
            layer, _, cycle = rest.partition("^")
            name = f"{layer_of[letter]}_{{{layer}{cycle}}}"
            out.append(f"$${name} = {bmatrix(value, digits)}$$")
        out += ["", f"$$E(w) = \\sum_{{n=1}}^{{N}} (x_n - y_n)^2 = {num(step.loss, digits)}$$", ""]
        for key, value in step.delta.items():
            layer = key.partition("_")[2]
            base, _, cycle = layer.partition("^")
            stars = {"(1)": "*", "(2)": "**"}.get(cycle, "")
            out.append(
                f"$$\\delta^{{{base}{stars}}} = {bmatrix(value, digits)}$$"
                if not stars
                else f"$$\\delta_{{{base}}}^{{{cycle}}} = {bmatrix(value, digits)}$$"
            )
        for key, value in step.grad.items():
            letter, _, layer = key.partition("_")
            derivative = f"\\frac{{\\mathrm{{d}}E}}{{\\mathrm{{d}}{letter}^{{({layer})}}}}"
            out.append(f"$${derivative} = {bmatrix(value, digits)}$$")
        for key, value in step.updated.items():
            letter, _, layer = key.partition("_")
            out.append(f"$${letter}^{{({layer})}}_{{new}} = {bmatrix(value, digits)}$$")
        out.append("")
    text = "\n".join(out) + "\n"
    return edit(text) if edit else text
