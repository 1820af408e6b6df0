"""The Python entry points: a loaded Network, its Derivation, and each derived Target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sympy import Expr, Integer, Symbol
from sympy.matrices.expressions import MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from symbackprop import backends, codegen, gradcheck, training
from symbackprop.derive import Backprop, N, backprop
from symbackprop.forms import FORMS, FormBuilder
from symbackprop.forms.index import IndexForm, index_symbol
from symbackprop.gradcheck import GradcheckResult
from symbackprop.graph import BATCH, Graph, Node, build_graph
from symbackprop.notation import Names, NotationError
from symbackprop.numeric import GradientFunction, evaluate
from symbackprop.printing import to_latex, to_text
from symbackprop.scalar import check_formulas
from symbackprop.spec import NetworkSpec, SpecError, load_spec
from symbackprop.spec.model import Question
from symbackprop.targetref import TargetSyntaxError, parse_target, plain_name
from symbackprop.training import TrainingRun

if TYPE_CHECKING:
    from symbackprop.check import Checker, CheckResult
    from symbackprop.verify import Verifier, VerifyResult
    from symbackprop.verify.roundtrip import RoundTrip


class UnknownTarget(KeyError):
    """A target that names no parameter or layer of the network."""

    def __str__(self) -> str:
        return str(self.args[0])


def _shape_text(shape: tuple) -> str:
    return "x".join(str(dim) for dim in shape)


class Target:
    """One derived quantity: a gradient dL/dW, a delta, or dL/d<value> for any other named value
    (an activation, the output, the input); each form is computed when first asked for."""

    def __init__(self, name: str, kind: str, key: str, symbol: str, shape: tuple, builder: FormBuilder,
                 names: Names) -> None:
        self.name = name  # "dL/dW_1", "delta_1" or "dL/dz_2"
        self.kind = kind  # "gradient", "delta" or "adjoint"
        self.key = key  # the parameter's name, the layer's (delta key) or the value's
        self.symbol = symbol  # the parameter's, the delta's or the value's own symbol
        self.shape = shape
        self._builder = builder
        self.names = names  # the spec's notation: how the formulas are spelt

    @property
    def value(self) -> str:
        """The named value this is the derivative by: the parameter, s_k for a delta, the value."""
        return self._builder.value_of(self.kind, self.key)

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

    def _lhs_latex(self, element: str) -> str:
        """The left side for a written element (an entry, or the whole symbol)."""
        if self.kind == "delta":
            return element
        return r"\frac{\partial " + self.names.loss_latex() + r"}{\partial " + element + "}"

    def _lhs_text(self, element: str) -> str:
        return element if self.kind == "delta" else f"d{self.names.loss_text()}/d{element}"

    def lhs_latex(self, form: str = "matrix") -> str:
        """The left side in the spec's notation: \\delta_{1}, \\frac{\\partial \\mathcal{L}}{\\partial W_{1}}."""
        if form == "index":
            return self._lhs_latex(to_latex(self._element(self.index_form()), self.names))
        if self.kind == "delta":
            return self.names.latex(self.symbol)
        return self.names.gradient_latex(self.symbol)

    def lhs_text(self, form: str = "matrix") -> str:
        """The left side in plain text: delta_1, dL/dW_1 (in the notation: sigma^(1), dE/dw^(1))."""
        if form == "index":
            return self._lhs_text(to_text(self._element(self.index_form()), self.names))
        return self.names.text(self.symbol) if self.kind == "delta" else self.names.gradient_text(self.symbol)

    def _bounds(self, form: str, latex: bool) -> str:
        """The ranges of the free indices, after an index form: ` (1 <= j <= 3)` or `   for j = 1..3`."""
        if form != "index":
            return ""
        bounds = self.index_form().bounds
        if not bounds:
            return ""
        if latex:
            return r" \quad (" + r",\ ".join(rf"1 \le {index} \le {to_latex(upper)}" for index, upper in bounds) + ")"
        return "   for " + ", ".join(f"{index} = 1..{upper}" for index, upper in bounds)

    def latex(self, form: str = "matrix", transpose: str = r"\top") -> str:
        """`lhs = rhs` in LaTeX, without math delimiters; the index form states its index ranges.
        `transpose` is the superscript of a transpose: \\top (W^{\\top}) or T (W^{T})."""
        return f"{self.lhs_latex(form)} = {to_latex(self.form(form), self.names, transpose)}" + self._bounds(form, True)

    def text(self, form: str = "matrix") -> str:
        """`lhs = rhs` in plain text; the index form states its index ranges."""
        return f"{self.lhs_text(form)} = {to_text(self.form(form), self.names)}" + self._bounds(form, False)

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __repr__(self) -> str:
        return f"<Target {self.text()}>"


class EntryTarget(Target):
    """One entry of a gradient, delta or dL/d<value> (dL/dW_3[1,1]), or one row or column of it
    (delta_1[2,n]: an index letter stays free). Every form but the chain is written entry by
    entry; the chain form ends in the partial by that entry."""

    def __init__(self, base: Target, entry: tuple[Expr, Expr]) -> None:
        self.base = base
        self.entry = entry
        shape = tuple(dim if isinstance(index, Symbol) else 1 for dim, index in zip(base.shape, entry, strict=True))
        plain = to_text(self.element())
        super().__init__(plain if base.kind == "delta" else f"dL/d{plain}", "entry", base.key, base.symbol, shape,
                         base._builder, base.names)

    def element(self) -> MatrixElement:
        """The entry of the base target's own symbol (W_3[0, 0], delta_1[1, n])."""
        symbol = MatrixSymbol(self.base.symbol, *(N if dim == BATCH else dim for dim in self.base.shape))
        return symbol[self.entry]

    @property
    def value(self) -> str:
        return self.base.value

    def form(self, form: str) -> Expr:
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r} (expected one of {', '.join(FORMS)})")
        return self._builder.entry_form(self.base.kind, self.base.key, form, self.entry)

    def index_form(self) -> IndexForm:
        free = tuple(index for index in self.entry if isinstance(index, Symbol))
        ranges = tuple(N if dim == BATCH else Integer(dim)
                       for dim, index in zip(self.base.shape, self.entry, strict=True) if isinstance(index, Symbol))
        return IndexForm(self.form("index"), free, ranges)

    def lhs_latex(self, form: str = "matrix") -> str:
        return self.base._lhs_latex(to_latex(self.element(), self.names))

    def lhs_text(self, form: str = "matrix") -> str:
        return self.base._lhs_text(to_text(self.element(), self.names))

    def _bounds(self, form: str, latex: bool) -> str:
        return super()._bounds("index", latex) if form != "chain" else ""


class Derivation:
    """Every delta and every parameter gradient of a network, found by reverse accumulation; any
    other target (dL/dz_2, an entry) is derived when first asked for."""

    def __init__(self, bp: Backprop) -> None:
        self.backprop = bp
        self.names = Names.of(bp.graph.spec)  # the spec's notation: how every formula is spelt
        self._builder = builder = FormBuilder(bp)
        self._targets: dict[str, Target] = {}
        self._asked: dict[str, Target] = {}  # targets beyond the default ones, by name
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
        \\frac{\\partial L}{\\partial W_1}, delta_1, \\delta_{1}; dL/d<value> for any other named value
        the loss depends on (dL/dz_2, dL/dy_out, dL/dx; dL/ds_1 is delta_1); one entry of any of these
        (dL/dW_3[1,1], delta_1[2,n], \\frac{\\partial L}{\\partial W^{(3)}_{1,1}}). Raises UnknownTarget."""
        if isinstance(name, str) and name.strip() in self._targets:
            return self._targets[name.strip()]
        if isinstance(name, str) and name.strip() in self._asked:
            return self._asked[name.strip()]
        question = self.question(name) if isinstance(name, str) else None
        if question is not None:
            if len(question.ask) > 1:
                raise UnknownTarget(f"question {question.id} asks {len(question.ask)} targets "
                                    f"({', '.join(question.ask)}): name one of them, or write the left side")
            return self.target(question.ask[0])
        try:  # in the spec's notation first: \frac{\partial l}{\partial h^{2}_{1}}, \sigma^{(1)}
            quantity = self.names.resolve(name)
        except NotationError as error:
            if error.ambiguous:
                raise UnknownTarget(f"target {name!r}: {error}") from None
            quantity = None
        if quantity is not None and quantity.role in ("gradient", "delta"):
            base = self._value_target(quantity.symbol, quantity.role == "delta")
            if base is not None and not quantity.entry:
                return base
            if base is not None:
                try:
                    return self._entry(base, quantity.entry, name)
                except UnknownTarget:
                    pass  # W_7 read as an entry of W: see whether it is anything else, else say what is wrong
        try:
            ref = parse_target(name)
        except TargetSyntaxError as error:
            raise UnknownTarget(f"unknown target {name!r}: {error}") from None
        if ref.top is not None:
            raise UnknownTarget(f"unknown target {name!r}: the numerator must be the loss (L, E, l or "
                                r"\mathcal{L})")
        for position, spelling in enumerate(ref.bottom):
            base = self._value_target(spelling.name, ref.delta)
            if base is None:
                continue
            if spelling.entry is None:
                return base
            try:
                return self._entry(base, spelling.entry, name)
            except UnknownTarget:
                if position == 0:  # written as an entry (W_1[4,1]): say what is wrong with it
                    raise
        raise UnknownTarget(f"unknown target {name!r} ({self._known()})")

    def _known(self) -> str:
        values = [self.names.text(node.name) for node in self.backprop.graph.nodes
                  if node.role in ("activation", "input") and self._builder.reaches_loss(node.name)]
        last = self.targets[-1]
        entry = last.lhs_text() + "[1,1]" if last.kind != "delta" else self.names.entry_text(last.symbol, ("1", "1"))
        return f"known: {', '.join(t.lhs_text() for t in self._targets.values())}; also " \
               f"d{self.names.loss_text()}/d<value> for {', '.join(values)}, and entries like {entry}"

    def question(self, name: str) -> Question | None:
        """The spec's question whose id is `name`, if any (a question's id works wherever a target does)."""
        return next((q for q in self.backprop.graph.spec.questions if q.id == name.strip()), None)

    def by_value(self, name: str) -> Target | None:
        """dL/d<name> by the engine's name of a value or parameter (s_2 gives delta_2), whatever the
        spec's notation; None if there is no such target."""
        try:
            return self._value_target(name, False)
        except UnknownTarget:
            return None

    def _value_target(self, name: str, delta: bool) -> Target | None:
        """The whole target a plain name stands for: delta_k (written alone), or dL/d<name>."""
        if delta:
            return self._targets.get(name) if name.startswith("delta_") else None
        if f"dL/d{name}" in self._targets:
            return self._targets[f"dL/d{name}"]
        graph = self.backprop.graph
        node = next((n for n in graph.nodes if n.name == name), None) or next(
            (n for n in graph.nodes if n.key == name and n.role == "activation"), None)
        if node is None or node.role not in ("activation", "input", "preactivation"):
            return None
        if node.role == "preactivation":
            if node.delta_key not in self.backprop.deltas:
                return self._adjoint(node)
            return self._targets[f"delta_{node.delta_key}"]
        return self._adjoint(node)

    def _adjoint(self, node: Node) -> Target:
        name = f"dL/d{node.name}"
        if name not in self._asked:
            if not self._builder.reaches_loss(node.name):
                raise UnknownTarget(f"{name}: the loss does not depend on {node.name}")
            self._asked[name] = Target(name, "adjoint", node.name, node.name, node.shape, self._builder, self.names)
        return self._asked[name]

    def _entry(self, base: Target, written: tuple[str, ...], name: str) -> EntryTarget:
        target = EntryTarget(base, entry_indices(base.symbol, base.shape, written, name))
        return self._asked.setdefault(target.name, target)

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


def entry_indices(symbol: str, shape: tuple, written: tuple[str, ...], target: str) -> tuple[Expr, Expr]:
    """The 0-based (row, column) of an entry written with indices from 1 or with index letters (which
    stay free). One index is enough for a vector; for a value with a sample axis it picks the unit
    and the sample index stays free (n). Raises UnknownTarget for an index out of range."""
    dims = [d for d in (0, 1) if shape[d] != 1]
    places = [0, 1]
    if len(written) == 1 and len(dims) == 1:
        places = dims
    elif len(written) == 1 and BATCH in shape and len(dims) == 2:
        sample = "n" if written[0] != "n" else "m"
        written = (written[0], sample) if shape[1] == BATCH else (sample, written[0])
    elif len(written) != 2:
        raise UnknownTarget(f"{target}: {symbol} is {_shape_text(shape)}, so an entry of it takes "
                            f"{max(len(dims), 1)} index(es), not {len(written)}")
    position: list[Expr] = [Integer(0), Integer(0)]
    for part, dim in zip(written, places, strict=True):
        size = shape[dim]
        if part.isdigit():
            if size != BATCH and not 1 <= int(part) <= size:
                raise UnknownTarget(f"{target}: index {part} is out of range ({symbol} has {size} "
                                    f"{'rows' if dim == 0 else 'columns'})")
            position[dim] = Integer(int(part) - 1)
        else:
            position[dim] = index_symbol(part)
    if position[0] == position[1] and isinstance(position[0], Symbol):
        raise UnknownTarget(f"{target}: the row and the column need different index letters")
    return position[0], position[1]


def normalize_target(text: str) -> str:
    """The canonical name of a whole delta or gradient written in any allowed spelling (dL/dW_1 or
    delta_1); values and entries are resolved by Derivation.target, which knows the network."""
    ref = parse_target(text)
    name = plain_name(ref.bottom[0].name)
    return name if ref.delta else f"dL/d{name}"


class Network:
    """A loaded spec, wired into a graph; derivations and numbers come from it."""

    def __init__(self, spec: NetworkSpec) -> None:
        check_formulas(spec)  # x/(x-x) is undefined everywhere: a SpecError, not a crash later
        self.spec = spec
        self.graph: Graph = build_graph(spec)
        if spec.questions:
            self.questions()  # a question asking what the network does not have is a spec error, at its line

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def _derivation(self) -> Derivation:
        return Derivation(backprop(self.graph))

    def derive(self) -> Derivation:
        """Every delta and gradient (computed once, then cached)."""
        return self._derivation

    def gradient_fn(self, dtype: Any = None, *, backend: str = "numpy", threads: int | None = None,
                    gradients_only: bool = False) -> Any:
        """The compiled loss, forward values, deltas and gradients: call it with a dict of arrays in
        the spec's orientation (docs/numeric.md). `backend` numpy (default), jax or torch; `dtype`
        float64 by default (float32 for jax unless its x64 mode is on); `threads` limits the
        library's threads during a call; `gradients_only` returns only the loss and gradients."""
        return backends.gradient_function(self, backend, dtype, threads, gradients_only)

    @cached_property
    def _numbers(self) -> GradientFunction:
        return GradientFunction(self.derive().backprop)  # quiet: NumPy's overflow warnings silenced

    def named_values(self, values: Mapping[str, Any] | None = None,
                     computed: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Every named value at `values` (the leaves by name) or on the spec's data: the leaves, each s_k
        and z_k (under the name formulas use: the output alias), each delta, and each gradient as
        dL/d<param>; `computed` is gradient_fn's result at those leaves if already at hand. Raises
        ValueError for missing or misshapen leaves, NotComputable for a generic activation."""
        fn = self._numbers
        given = self.data() if values is None else values
        leaves = {name: np.asarray(given[name], dtype=np.float64) for name in fn.arguments if name in given}
        out = fn(leaves) if computed is None else computed
        named = dict(leaves)
        for node in self.graph.nodes:
            if node.name and node.key in out["forward"]:
                named[node.name] = out["forward"][node.key]
        named.update(out["delta"])
        named.update({f"dL/d{name}": grad for name, grad in out["grad"].items()})
        named["L"] = np.asarray(out["loss"])
        return named

    def evaluate(self, target: str | Target, values: Mapping[str, Any] | None = None) -> np.ndarray:
        """The value of a target (any spelling `Derivation.target` reads, or a Target) at `values` (the
        leaves by name) or on the spec's data, as a matrix in the spec's orientation; an entry target
        keeps the rows and columns it selects (1x1 for one entry). Raises UnknownTarget, ValueError
        for missing leaves and numeric.NotComputable for a generic activation."""
        found = self.derive().target(target) if isinstance(target, str) else target
        return self.value_at(found, self.named_values(values))

    def value_at(self, target: Target, named: dict[str, np.ndarray]) -> np.ndarray:
        """A target's value from named_values(); what it computes is cached in `named`."""
        found = target
        base = found.base if isinstance(found, EntryTarget) else found
        key = base.symbol if base.kind == "delta" else f"dL/d{base.key}"
        if key not in named:
            first = self.graph.nodes[0]
            samples = named[first.name].shape[first.shape.index(BATCH)]
            named[key] = np.asarray(evaluate(base.matrix, named, samples), dtype=np.float64)
        value = named[key]
        if isinstance(found, EntryTarget):
            value = value[tuple(slice(None) if isinstance(i, Symbol) else slice(int(i), int(i) + 1)
                                for i in found.entry)]
        return value

    def train(self, steps: int | None = None, learning_rate: float | None = None,
              targets: Sequence[str] = (), seed: int | None = None) -> TrainingRun:
        """Gradient descent on the spec's data (its `training` section unless overridden): every
        step's forward values, loss (and each sample's), deltas, gradients and updated parameters,
        and the values of `targets` at each step. With `seed`, on data and initial parameters drawn
        from it instead (random_data). Raises TrainingError, UnknownTarget, course.draw.DrawError."""
        if seed is None:
            return training.train(self, steps, learning_rate, targets)
        return training.train(self, steps, learning_rate, targets, self.random_data(seed), f"drawn at random, seed "
                              f"{seed}")

    def gradcheck(self, values: Mapping[str, Any] | None = None, seed: int = 0, random: bool = False,
                  step: float = gradcheck.STEP, tolerance: float = gradcheck.TOLERANCE,
                  max_entries: int = gradcheck.MAX_ENTRIES, targets: list[str] | None = None) -> GradcheckResult:
        """The symbolic gradients against central finite differences (float64) at `values`, the
        spec's data, or seeded random data, checking at most `max_entries` entries per parameter;
        `.ok` is the verdict, `.report()` the table. `targets` checks those derivatives of the loss
        instead (dL/dz_2, delta_1, dL/dW_3[1,1], ...)."""
        return gradcheck.check(self, values, seed=seed, random=random, step=step, tolerance=tolerance,
                               max_entries=max_entries, targets=targets)

    def codegen(self, backend: str = "numpy") -> str:
        """The text of a standalone module computing the loss and gradients with `backend` (numpy,
        jax or torch; it imports that library only)."""
        return codegen.module_source(self, backend)

    def verify(self, target: str | None, answer: str, hint_level: int = 0) -> VerifyResult:
        """Is `answer` (LaTeX or plain math) equal to the true `target` (dL/dW_1, delta_2; None: the
        target its left side names)? The verdict, with feedback naming the mistake (docs/verify.md),
        and for a wrong answer hints up to `hint_level` (1-3; 1 and 2 withhold the true formula).
        Raises UnknownTarget."""
        from symbackprop.verify.hints import with_hints

        return with_hints(self._verifier, self._verifier.verify(target, answer), hint_level)

    def reread(self, forms: Sequence[str] = FORMS, formats: Sequence[str] = ("text", "latex"),
               targets: Sequence[Target | tuple[Target, Sequence[str]]] | None = None) -> RoundTrip:
        """Every formula `derive` prints (each target in `forms`, as text and as LaTeX) read back by the answer
        parser and compared with what it was printed from: `.ok`, `.summary()`, `.misread` (docs/notation.md).
        `targets` re-reads those instead of every delta and gradient (each a Target, or a Target with forms
        of its own: a question's)."""
        from symbackprop.verify.roundtrip import reread  # the grader is built on this module

        return reread(self, forms, formats, targets=targets)

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
               digits: int | None = None, template_dir: str | Path | None = None, figure: str | None = None) -> str:
        """The worked solution as a LaTeX ("tex") or Markdown ("md") document (docs/render.md); options
        not given come from the spec's `render:` section or the defaults. A Markdown document shows its
        diagram from the file `figure` (symbackprop.render.diagram_svg draws it). Raises
        symbackprop.render.RenderError."""
        from symbackprop.render import render  # the renderer builds on this module

        return render(self, format, sections, forms, digits, template_dir, figure)

    def questions(self) -> list[tuple[Question, list[Target]]]:
        """The spec's questions in order, each with its targets read against the network. Raises SpecError
        naming the line of a target the network does not have."""
        der = self.derive()
        answered = []
        for index, question in enumerate(self.spec.questions):
            targets = []
            for k, text in enumerate(question.ask):
                try:
                    targets.append(der.target(text))
                except UnknownTarget as error:
                    key = f"questions[{index}].ask"
                    listed = f"{key}[{k}]"
                    line = self.spec.lines.get(listed) or self.spec.lines.get(key) or question.line or None
                    raise SpecError(str(error), key=listed if listed in self.spec.lines else key, line=line,
                                    source=self.spec.source) from None
            answered.append((question, targets))
        return answered

    def data(self) -> dict[str, np.ndarray]:
        """The spec's numbers as float64 arrays; with `data: {random: {seed, ...}}`, every leaf the spec does
        not give drawn from that seed (the same numbers every time). Raises course.draw.DrawError."""
        return {name: value.copy() for name, value in self._data.items()}

    @cached_property
    def _data(self) -> dict[str, np.ndarray]:
        given = {name: np.array(values, dtype=np.float64) for name, values in self.spec.data.items()}
        if self.spec.random is None:
            return given
        return self.random_data(self.spec.random.seed, keep=given)

    def random_data(self, seed: int, keep: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Every leaf (input, target, parameters) drawn from `seed`, well conditioned and short enough to
        work by hand (course.draw), except those in `keep`; fixed matrices always from the spec. The
        spec's `data: {random: {scale, samples}}` bounds the entries and sets the number of samples."""
        from symbackprop.course.draw import seeded  # the drawing builds on the compiled network

        fixed = {name: np.array(values, dtype=np.float64) for name, values in self.spec.data.items()
                 if self.graph.named(name).role == "fixed"}
        settings = self.spec.random
        return seeded(self, seed, {**fixed, **{k: np.asarray(v, dtype=np.float64) for k, v in (keep or {}).items()}},
                      settings.scale if settings else None, settings.samples if settings else None)

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


