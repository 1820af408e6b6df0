"""The Python entry points: a loaded Network, its Derivation, and each derived Target."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy import Expr
from sympy.matrices.expressions import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop import codegen, gradcheck, training
from symbackprop.derive import Backprop, N, backprop
from symbackprop.forms import FORMS, FormBuilder
from symbackprop.forms.index import IndexForm
from symbackprop.gradcheck import GradcheckResult
from symbackprop.graph import BATCH, Graph, build_graph
from symbackprop.notation import Names
from symbackprop.numeric import GradientFunction
from symbackprop.printing import to_latex, to_text
from symbackprop.spec import NetworkSpec, load_spec
from symbackprop.training import TrainingRun

if TYPE_CHECKING:
    from symbackprop.check import Checker, CheckResult
    from symbackprop.verify import Verifier, VerifyResult


class UnknownTarget(KeyError):
    """A target that names no parameter or layer of the network."""

    def __str__(self) -> str:
        return str(self.args[0])


def _shape_text(shape: tuple) -> str:
    return "x".join(str(dim) for dim in shape)


class Target:
    """One derived quantity (a gradient dL/dW or a delta); each form is computed when first asked for."""

    def __init__(self, name: str, kind: str, key: str, symbol: str, shape: tuple, builder: FormBuilder,
                 names: Names) -> None:
        self.name = name  # "dL/dW_1" or "delta_1"
        self.kind = kind  # "gradient" or "delta"
        self.key = key  # the parameter's name, or the layer's
        self.symbol = symbol  # the parameter's or the delta's own symbol
        self.shape = shape
        self._builder = builder
        self.names = names  # the spec's notation: how the formulas are spelt

    def form(self, form: str) -> Expr:
        """The right-hand side in one of FORMS, as a SymPy expression."""
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
        value = self._builder.form(self.kind, self.key, form)
        return value.expr if isinstance(value, IndexForm) else value

    def index_form(self) -> IndexForm:
        """The index form with its free indices and their ranges."""
        return self._builder.form(self.kind, self.key, "index")

    @property
    def chain(self) -> Expr:
        return self.form("chain")

    @property
    def symbolic(self) -> Expr:
        return self.form("symbolic")

    @property
    def simplified(self) -> Expr:
        return self.form("simplified")

    @property
    def matrix(self) -> Expr:
        return self.form("matrix")

    @property
    def index(self) -> Expr:
        return self.form("index")

    def _element(self, indexed: IndexForm) -> MatrixElement:
        symbol = MatrixSymbol(self.symbol, *(N if dim == BATCH else dim for dim in self.shape))
        names = iter(indexed.indices)
        return symbol[tuple(next(names) if dim != 1 else 0 for dim in self.shape)]

    def lhs_latex(self, form: str = "matrix") -> str:
        """The left side in the spec's notation: \\delta_{1}, \\frac{\\partial \\mathcal{L}}{\\partial W_{1}}."""
        if form == "index":
            element = to_latex(self._element(self.index_form()), self.names)
            if self.kind == "delta":
                return element
            return r"\frac{\partial " + self.names.loss_latex() + r"}{\partial " + element + "}"
        if self.kind == "delta":
            return self.names.latex(self.symbol)
        return self.names.gradient_latex(self.symbol)

    def lhs_text(self, form: str = "matrix") -> str:
        """The left side in plain text: delta_1, dL/dW_1 (in the notation: sigma^(1), dE/dw^(1))."""
        if form == "index":
            element = to_text(self._element(self.index_form()), self.names)
            return element if self.kind == "delta" else f"d{self.names.loss_text()}/d{element}"
        return self.names.text(self.symbol) if self.kind == "delta" else self.names.gradient_text(self.symbol)

    def latex(self, form: str = "matrix", transpose: str = r"\top") -> str:
        """`lhs = rhs` in LaTeX, without math delimiters; the index form states its index ranges.
        `transpose` is the superscript of a transpose: \\top (W^{\\top}) or T (W^{T})."""
        line = f"{self.lhs_latex(form)} = {to_latex(self.form(form), self.names, transpose)}"
        if form == "index":
            indexed = self.index_form()
            bounds = r",\ ".join(rf"1 \le {index} \le {to_latex(upper)}" for index, upper in indexed.bounds)
            line += rf" \quad ({bounds})" if bounds else ""
        return line

    def text(self, form: str = "matrix") -> str:
        """`lhs = rhs` in plain text; the index form states its index ranges."""
        if form != "index":
            return f"{self.lhs_text(form)} = {to_text(self.form(form), self.names)}"
        indexed = self.index_form()
        bounds = ", ".join(f"{index} = 1..{upper}" for index, upper in indexed.bounds)
        return f"{self.lhs_text(form)} = {to_text(indexed.expr, self.names)}" + (f"   for {bounds}" if bounds else "")

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __repr__(self) -> str:
        return f"<Target {self.text()}>"


class Derivation:
    """Every delta and every parameter gradient of a network, found by reverse accumulation."""

    def __init__(self, bp: Backprop) -> None:
        self.backprop = bp
        self.names = Names.of(bp.graph.spec)  # the spec's notation: how every formula is spelt
        builder = FormBuilder(bp)
        self._targets: dict[str, Target] = {}
        preactivations = {node.delta_key: node for node in bp.graph.by_role("preactivation")}
        last_delta = {preactivations[key].layer: key for key in bp.deltas}  # a recurrent layer's cycle 1
        for key in bp.deltas:
            self._add(Target(f"delta_{key}", "delta", key, f"delta_{key}", preactivations[key].shape, builder,
                             self.names))
            layer = preactivations[key].layer
            if last_delta[layer] == key:
                for param in (n for n in bp.graph.parameters if n.layer == layer):
                    self._add(Target(f"dL/d{param.name}", "gradient", param.name, param.name, param.shape,
                                     builder, self.names))

    def _add(self, target: Target) -> None:
        self._targets[target.name] = target

    @property
    def targets(self) -> list[Target]:
        """Deltas and gradients, from the loss backwards, each layer's delta before its gradients."""
        return list(self._targets.values())

    def grad(self, param: str) -> Target:
        return self.target(f"dL/d{param}")

    def delta(self, layer: str) -> Target:
        return self.target(f"delta_{layer}")

    def target(self, name: str) -> Target:
        """A target by any spelling the interface allows: dL/dW_1, \\partial L / \\partial W_1,
        \\frac{\\partial L}{\\partial W_1}, delta_1, \\delta_{1}."""
        key = normalize_target(name)
        if key not in self._targets:
            known = ", ".join(self._targets)
            raise UnknownTarget(f"unknown target {name!r} (known: {known})")
        return self._targets[key]

    def forward(self) -> list[tuple[str, Expr]]:
        """The forward equations of the named values, in order, ending with the loss."""
        return list(self.backprop.definitions.items())

    def forward_latex(self, transpose: str = r"\top") -> list[str]:
        lines = []
        for name, expr in self.forward():
            lhs = self.names.loss_latex() if name == "L" else self.names.latex(name)
            lines.append(f"{lhs} = {to_latex(expr, self.names, transpose)}")
        return lines

    def forward_text(self) -> list[str]:
        return [f"{self.names.loss_text() if name == 'L' else self.names.text(name)} = {to_text(expr, self.names)}"
                for name, expr in self.forward()]

    def _repr_latex_(self) -> str:
        lines = self.forward_latex() + [t.latex() for t in self.targets]
        return "$\\begin{aligned}" + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines) + \
            "\\end{aligned}$"


_LOSS = r"(?:L|E|\\mathcal\{L\}|\\mathcal L)"
_PATTERNS = (
    re.compile(rf"^d{_LOSS}\s*/\s*d\s*(?P<name>.+)$"),
    re.compile(rf"^\\partial\s*{_LOSS}\s*/\s*\\partial\s*(?P<name>.+)$"),
    re.compile(rf"^\\frac\{{\s*\\partial\s*{_LOSS}\s*\}}\{{\s*\\partial\s*(?P<name>.+)\}}$"),
)


def _plain_name(text: str) -> str:
    """W_{1} -> W_1, \\delta_{out} -> delta_out, y_{out} -> y_out."""
    text = text.strip().lstrip("\\")
    text = re.sub(r"\^\{(\(\d+\))\}", r"^\1", text)  # delta_{rec}^{(2)} -> delta_{rec}^(2)
    return re.sub(r"_\{([^{}]*)\}", r"_\1", text).replace(" ", "")


def normalize_target(text: str) -> str:
    """The canonical name (dL/dW_1 or delta_1) of a target written in any allowed spelling."""
    text = text.strip()
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return "dL/d" + _plain_name(match.group("name"))
    return _plain_name(text)


class Network:
    """A loaded spec, wired into a graph; derivations and numbers come from it."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.graph: Graph = build_graph(spec)

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def _derivation(self) -> Derivation:
        return Derivation(backprop(self.graph))

    def derive(self) -> Derivation:
        """Every delta and gradient (computed once, then cached)."""
        return self._derivation

    def gradient_fn(self, dtype: Any = np.float64) -> GradientFunction:
        """Compiled NumPy: call it with a dict of arrays in the spec's orientation."""
        return GradientFunction(self.derive().backprop, dtype)

    def train(self, steps: int | None = None, learning_rate: float | None = None) -> TrainingRun:
        """Gradient descent on the spec's data (its `training` section unless overridden): every
        step's forward values, loss, deltas, gradients and updated parameters. Raises TrainingError."""
        return training.train(self, steps, learning_rate)

    def gradcheck(self, values: Mapping[str, Any] | None = None, seed: int = 0, random: bool = False,
                  step: float = gradcheck.STEP, tolerance: float = gradcheck.TOLERANCE,
                  max_entries: int = gradcheck.MAX_ENTRIES) -> GradcheckResult:
        """The symbolic gradients against central finite differences (float64) at `values`, the
        spec's data, or seeded random data, checking at most `max_entries` entries per parameter;
        `.ok` is the verdict, `.report()` the table."""
        return gradcheck.check(self, values, seed=seed, random=random, step=step, tolerance=tolerance,
                               max_entries=max_entries)

    def codegen(self, backend: str = "numpy") -> str:
        """The text of a standalone module computing the loss and gradients (imports NumPy only)."""
        return codegen.module_source(self, backend)

    def verify(self, target: str | None, answer: str, hint_level: int = 0) -> VerifyResult:
        """Is `answer` (LaTeX or plain math) equal to the true `target` (dL/dW_1, delta_2; None: the
        target its left side names)? The verdict, with feedback naming the mistake (docs/verify.md),
        and for a wrong answer hints up to `hint_level` (1-3; 1 and 2 withhold the true formula).
        Raises UnknownTarget."""
        from symbackprop.verify.hints import with_hints

        return with_hints(self._verifier, self._verifier.verify(target, answer), hint_level)

    @cached_property
    def _verifier(self) -> Verifier:
        from symbackprop.verify import Verifier  # the grader is built on this module

        return Verifier(self)

    def check(self, text: str, source: str | None = None) -> CheckResult:
        """A worked numeric solution (Markdown or LaTeX, as students write it) checked number by
        number against this network's training run: counts, findings with their causes, an
        error-carried-forward score (docs/check.md). Raises symbackprop.check.CheckError for a
        solution that cannot be read."""
        return self._checker.check(text, source)

    @cached_property
    def _checker(self) -> Checker:
        from symbackprop.check import Checker  # the checker is built on this module

        return Checker(self)

    def render(self, format: str = "md", sections: list[str] | None = None, forms: list[str] | None = None,
               digits: int = 4, template_dir: str | Path | None = None) -> str:
        """The worked solution as a LaTeX ("tex") or Markdown ("md") document (docs/render.md);
        raises symbackprop.render.RenderError."""
        from symbackprop.render import render  # the renderer builds on this module

        return render(self, format, sections, forms, digits, template_dir)

    def data(self) -> dict[str, np.ndarray]:
        """The spec's numbers as float64 arrays."""
        return {name: np.array(values, dtype=np.float64) for name, values in self.spec.data.items()}

    def shapes(self) -> dict[str, str]:
        """The size of every named matrix and vector, e.g. {'W_1': '3x2', 'x': '2xN'}."""
        shapes = {node.name: _shape_text(node.shape) for node in self.graph.nodes if node.name and node.shape}
        for node in self.graph.by_role("preactivation"):
            if node.delta_key in self.derive().backprop.deltas:
                shapes[f"delta_{node.delta_key}"] = _shape_text(node.shape)
        return shapes

    def __repr__(self) -> str:
        return f"<Network {self.spec.name!r}: {len(self.spec.layers)} layers>"


def load(source: str | Path | Mapping[str, Any]) -> Network:
    """Load a spec from a path, YAML text or a dict; raises SpecError with file, line and key."""
    return Network(load_spec(source))


