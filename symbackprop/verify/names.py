"""What the names in an answer mean for one network: its symbols in every spelling the
interface allows, its layers' activations, the functions a student may call, and which
named value feeds which (for answers written as chains of partials).

Symbols are the network's own MatrixSymbols, with N = 1 when the network is checked on one
sample (the spec's data has one), so that a one-sample homework can be answered in vectors
and scalars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sympy import Abs as SympyAbs
from sympy import Expr, Integer, Lambda, Max, Min, Piecewise, cos, cosh, exp, log, sech, sign, sin, sinh, sqrt, tanh
from sympy.matrices.expressions import MatrixSymbol

from symbackprop import rules
from symbackprop.derive import Backprop, N, op_attrs
from symbackprop.forms.chain import ChainBuilder
from symbackprop.notation import Names
from symbackprop.spec.model import Activation

#: Functions of one scalar: f and f' (None where an answer may not ask for f').
MATH_FUNCTIONS = {
    "exp": (exp, exp),
    "log": (log, lambda v: 1 / v),
    "ln": (log, lambda v: 1 / v),
    "sqrt": (sqrt, None),
    "abs": (SympyAbs, None),
    "sech": (sech, lambda v: -sech(v) * tanh(v)),
    "cosh": (cosh, sinh),
    "sinh": (sinh, cosh),
    "H": (lambda v: Piecewise((1, v > 0), (0, True)), None),  # H: the step function
    "sin": (sin, cos),
    "cos": (cos, lambda v: -sin(v)),
    "sign": (sign, None),
    "sgn": (sign, None),
}
#: Functions of two scalars.
BINARY_FUNCTIONS = {"max": Max, "min": Min}
#: Activation names an answer may call, and the activation kind each stands for.
ACTIVATION_NAMES = {
    "relu": "relu",
    "ReLU": "relu",
    "tanh": "tanh",
    "sigma": "sigmoid",
    "sigmoid": "sigmoid",
    "identity": "identity",
    "softmax": "softmax",
}


@dataclass(frozen=True)
class LayerInfo:
    """One layer's activation: how formulas name it and the axis softmax normalizes over."""

    name: str
    activation: Activation
    label: str
    axis: int


class Vocabulary:
    """Names, shapes, functions and the wiring of one network, as an answer may use them."""

    def __init__(self, bp: Backprop, n_samples: int) -> None:
        self.bp = bp
        self.n_samples = n_samples
        self.batch = Integer(1) if n_samples == 1 else N
        graph = bp.graph
        #: the spec's notation: what each written name means (notation.py)
        self.names = Names.of(graph.spec)
        self.symbols = {name: self.sized(symbol) for name, symbol in bp.symbols.items()}
        self.aliases = {
            node.key: node.name
            for node in graph.nodes
            if node.name and node.key and node.key != node.name and node.role != "loss"
        }
        self.layers: dict[str, LayerInfo] = {}
        self.layer_of: dict[str, str] = {}  # s_k and z_k -> layer k
        for node in graph.by_role("activation"):
            assert node.layer is not None  # an activation is its layer's
            info = LayerInfo(node.layer, node.attrs["activation"], node.attrs["label"], node.attrs["axis"])
            self.layers.setdefault(node.layer, info)
            self.layer_of[graph.nodes[node.inputs[0]].symbol_name] = self.layer_of[node.symbol_name] = node.layer
        #: delta_<key> -> the pre-activation it is the derivative by (delta_1 -> s_1)
        self.delta_of = {
            f"delta_{node.delta_key}": node.symbol_name
            for node in graph.by_role("preactivation")
            if node.delta_key in bp.deltas
        }
        self.parameters = tuple(node.symbol_name for node in graph.parameters)
        loss = graph.nodes[graph.loss]
        output, target = (bp.symbols[graph.nodes[i].symbol_name] for i in loss.inputs)
        #: the output's name and dL/d(output), the loss's own derivative (y_out - y for half squared error)
        self.output = output.name
        self.loss_gradient = self.sized(rules.vjp("loss", 0)(op_attrs(loss), Integer(1), None, output, target))
        #: a subscript as written -> the layer name, for layer names with signs in them (h{1}): the name
        #: itself, in braces, and as the LaTeX printer writes it (\text{h\{1\}}), so that derive's output reads
        #: (and as a superscript in parentheses, delta^{(h{1})}_{j,n} as the index form prints it: "(h{1})")
        self.spellings: dict[str, str] = {}
        self.odd_layers = {layer for layer in self.layers if not (layer.isascii() and layer.isalnum())}
        for layer in sorted(self.odd_layers):
            printed = self.names.latex(f"delta_{layer}")
            inner = printed[printed.index("_") + 1 :] if "_" in printed else "{" + layer + "}"
            escaped = "{" + inner[len(r"{\text{") : -2] + "}" if inner.startswith(r"{\text{") else inner  # {h\{1\}}
            for spelling, label in (
                (layer, layer),
                ("{" + layer + "}", layer),
                (inner, layer),
                (escaped, layer),
                ("(" + layer + ")", f"({layer})"),
                ("{(" + layer + ")}", f"({layer})"),
                ("{(" + inner[1:-1] + ")}", f"({layer})"),
            ):
                self.spellings.setdefault(spelling, label)
        #: dL/d<value> for a value that is not a pre-activation (z_2, x) as a formula, or None; the verifier
        #: sets it from the derivation (the vocabulary itself knows no targets)
        self.adjoint: Callable[[str], Expr | None] = lambda name: None
        chain = ChainBuilder(bp)
        #: named value -> the named values computed from it directly (the loss is "L")
        self.consumers = {
            node.name: tuple(c.symbol_name for c in chain.consumers[node.id]) for node in graph.nodes if node.name
        }

    def sized(self, symbol: MatrixSymbol) -> MatrixSymbol:
        """The symbol with N = 1 when the network is checked on one sample."""
        return symbol if self.batch == N else symbol.xreplace({N: self.batch})

    def canonical(self, name: str) -> str | None:
        """The network's own spelling of a symbol's name (z_3 -> h_3 for an output alias), or None."""
        if name in self.symbols:
            return name
        return self.aliases.get(name)

    def symbol(self, name: str) -> MatrixSymbol:
        """The symbol a known name stands for (one whose canonical() is not None)."""
        canonical = self.canonical(name)
        if canonical is None:
            raise KeyError(name)
        return self.symbols[canonical]

    def function_names(self) -> list[str]:
        names = set(self.names.function_letters()) | set(MATH_FUNCTIONS) | set(BINARY_FUNCTIONS)
        return sorted(names | {"relu", "tanh", "sigma"})

    def known(self) -> str:
        """Every name an answer may use (in the spec's notation), for messages."""
        spelled = sorted({self.names.text(name) for name in self.symbols if not name.startswith("dL/d")})
        return ", ".join(spelled) + "; functions " + ", ".join(self.function_names())


def activation_lambda(activation: Activation, order: int) -> Lambda:
    """f (order 0) or f' (order 1) of an activation, as a Lambda in rules.x."""
    return rules.activation_function(activation) if order == 0 else rules.activation_derivative(activation)


def math_lambda(name: str, order: int) -> Lambda | None:
    """exp, log, ... as a Lambda in rules.x (order 1: the derivative); None where an answer may not ask for it."""
    function, derivative = MATH_FUNCTIONS[name]
    if order == 0:
        return Lambda(rules.x, function(rules.x))
    return Lambda(rules.x, derivative(rules.x)) if derivative is not None and order == 1 else None


def binary_lambda(name: str) -> Lambda:
    return Lambda((rules.a, rules.t), BINARY_FUNCTIONS[name](rules.a, rules.t))


def relation_lambda(op: str) -> Lambda:
    """[a op b] as a Lambda in two variables: 1 where the relation holds, else 0."""
    a, t = rules.a, rules.t
    relation = {">": a > t, "<": a < t, ">=": a >= t, "<=": a <= t}[op]
    return Lambda((a, t), Piecewise((1, relation), (0, True)))
