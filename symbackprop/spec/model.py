"""The validated spec: frozen dataclasses, free of SymPy, that every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from symbackprop.mathparse import Node
from symbackprop.notation import DEFAULT as DEFAULT_NOTATION
from symbackprop.notation import Notation

#: Activation names a spec may give as a plain string.
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "identity", "softmax", "leaky_relu")
#: Loss names a spec may give as a plain string or as `{type: ...}`.
LOSSES: tuple[str, ...] = (
    "half_squared_error",
    "squared_error",
    "cross_entropy",
    "binary_cross_entropy",
    "hinge",
    "multiclass_hinge",
)
#: Losses with a margin.
MARGIN_LOSSES: tuple[str, ...] = ("hinge", "multiclass_hinge")
#: Losses whose targets are classes, so that `labels: index` may give them as class numbers.
CLASS_LOSSES: tuple[str, ...] = ("cross_entropy", "multiclass_hinge")
#: How a classification loss's targets are written in `data`.
LABELS: tuple[str, ...] = ("one_hot", "index")
WEIGHT_ORIENTATIONS: tuple[str, ...] = ("out_in", "in_out")
SAMPLE_LAYOUTS: tuple[str, ...] = ("columns", "rows")
REDUCTIONS: tuple[str, ...] = ("sum", "mean")


@dataclass(frozen=True)
class Convention:
    """How matrices are laid out: `out_in` means s = W x, `in_out` means s = W^T x;
    `columns` puts samples in columns (features x N), `rows` in rows (N x features)."""

    weights: str = "out_in"
    samples: str = "columns"


@dataclass(frozen=True)
class Activation:
    """One layer's activation.

    kind is a name from ACTIVATIONS, or "expr" (a formula in x, parsed into `expr`),
    or "function" (a generic f whose formulas keep f(s) and f'(s); named by `function`).
    """

    kind: str
    expr: Node | None = None
    source: str | None = None
    function: str | None = None
    alpha: float = 0.01

    @property
    def function_name(self) -> str:
        """The name of a generic `function` activation (the loader sets it for that kind)."""
        if self.function is None:
            raise ValueError(f"a {self.kind} activation has no function name")
        return self.function


@dataclass(frozen=True)
class Loss:
    """The loss summed (or averaged, reduction "mean") over samples, summed over units.

    kind is a name from LOSSES or "expr": a formula in the output alias and the
    target's name, parsed into `expr`.
    """

    kind: str
    reduction: str = "sum"
    margin: float = 1.0
    expr: Node | None = None
    source: str | None = None
    labels: str = "one_hot"  # index: the data gives each sample's class number (from 1), stored one-hot


@dataclass(frozen=True)
class Tensor:
    """A named input or target vector."""

    name: str
    size: int


@dataclass(frozen=True)
class Layer:
    """One dense layer: s = W h + b, z = f(s), where h is the sum of the outputs it reads
    (`inputs`: earlier layers' names or the input's). A `fixed` weight is a constant (given in
    data or generated), not a parameter. A layer with `cycles` > 1 is recurrent: it runs that
    many times with the same W and b, cycle c > 1 reading h + z of cycle c - 1."""

    name: str
    units: int
    activation: Activation
    weight: str
    bias: str | None
    inputs: tuple[str, ...]
    line: int = 0
    fixed: bool = False
    cycles: int = 1


@dataclass(frozen=True)
class Training:
    learning_rate: float = 0.01
    steps: int = 1


@dataclass(frozen=True)
class RenderOptions:
    """The spec's `render:` section: what its worked-solution documents show by default (the
    command line's options override it); None leaves the renderer's default."""

    forms: tuple[str, ...] | None = None
    sections: tuple[str, ...] | None = None
    digits: int | None = None


@dataclass(frozen=True)
class Question:
    """One question of the exercise, in the order it asks them: `ask` holds its targets as written
    (resolved against the network later), `forms` the forms its answer shows (None: the document's)."""

    id: str
    ask: tuple[str, ...]
    forms: tuple[str, ...] | None = None
    text: str = ""
    line: int = 0


@dataclass(frozen=True)
class RandomData:
    """`data: {random: {seed, scale, samples}}`: the leaves `data` does not give are drawn, reproducibly."""

    seed: int = 0
    scale: float | None = None  # the largest magnitude of a drawn input or weight entry
    samples: int | None = None  # samples drawn when no input data gives their number


@dataclass(frozen=True)
class NetworkSpec:
    """A whole validated spec. Matrices in `data` are in the spec's own orientation."""

    name: str
    input: Tensor
    target: Tensor
    target_is_input: bool
    output: str
    layers: tuple[Layer, ...]
    loss: Loss
    convention: Convention = Convention()
    description: str = ""
    data: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)
    training: Training | None = None
    render: RenderOptions = RenderOptions()
    source: str = "<spec>"
    #: Line of each key path ("layers[1].activation", "data.W") in the YAML, for later messages.
    lines: dict[str, int] = field(default_factory=dict)
    #: The course's symbols (the `notation:` block): how formulas are printed and read.
    notation: Notation = DEFAULT_NOTATION
    questions: tuple[Question, ...] = ()
    random: RandomData | None = None

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)
