"""The PyTorch backend: array programs printed as `torch` code, both as a plain function and as
a `torch.autograd.Function` whose backward is the derived one, and `TorchGradientFunction`,
which compiles them. PyTorch is imported only when a TorchGradientFunction is made.

The autograd Function's forward computes the forward pass and the loss and saves what the
backward pass reads; its backward computes the deltas and the parameters' gradients (scaled
by the incoming gradient of the loss). It derives gradients for the parameters only: an input,
target or fixed matrix that requires grad is refused with a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import _known_functions_math

from symbackprop.backends import runtime
from symbackprop.backends.base import (
    ArrayCodePrinter,
    assignment_lines,
    function_source,
    progression,
    prologue,
    used,
)
from symbackprop.derive import Backprop
from symbackprop.program import Array, ArrayProgram, ShapeOf, build, selection_indices

IMPORTS = "import torch\n"
#: SymPy's names of entrywise functions -> torch's, for those a formula can hold.
FUNCTIONS = {
    **{
        name: f"torch.{torch_name}"
        for name, torch_name in _known_functions_math.items()
        if torch_name not in ("factorial", "gamma")
    },
    "acos": "torch.arccos",
    "acosh": "torch.arccosh",
    "asin": "torch.arcsin",
    "asinh": "torch.arcsinh",
    "atan": "torch.arctan",
    "atan2": "torch.arctan2",
    "atanh": "torch.arctanh",
    "exp2": "torch.exp2",
    "logaddexp": "torch.logaddexp",
    "logaddexp2": "torch.logaddexp2",
}
CONSTANTS = {"Exp1": "torch.e", "Pi": "torch.pi", "NaN": "torch.nan", "Infinity": "torch.inf"}


class TorchArrayPrinter(ArrayCodePrinter, NumPyPrinter):
    module = "torch"
    _module = "torch"
    _kf = FUNCTIONS
    _kc = CONSTANTS

    def axis_sum(self, code: str, axis: int) -> str:
        return f"{code if code.isidentifier() else f'({code})'}.sum(dim={axis}, keepdim=True)"

    def cast(self, code: str) -> str:
        return f"({code}).to(dtype)"

    def filled(self, value: str, rows: str, cols: str) -> str:
        return f"torch.full(({rows}, {cols}), {value}, dtype=dtype, device=device)"

    def broadcast(self, code: str, rows: str, cols: str) -> str:
        return f"torch.broadcast_to({code}, ({rows}, {cols})).clone()"

    def softmax(self, code: str, axis: int, log: bool) -> str:
        return f"torch.{'log_softmax' if log else 'softmax'}({code}, dim={axis})"

    def index_tensor(self, index: tuple[int, ...]) -> str:
        span = progression(index)
        if span is not None:
            return f"torch.arange({span[0]}, {span[1]}, {span[2]}, device=device)"
        return "torch.tensor([" + ", ".join(map(str, index)) + "], device=device)"

    def put(self, code: str, axis: int, index: tuple[int, ...], shape: tuple[str, str]) -> str:
        return (
            f"torch.zeros(({shape[0]}, {shape[1]}), dtype=dtype, device=device)"
            f".index_add({axis}, {self.index_tensor(index)}, {code})"
        )

    def maximum(self, args: list[Any], largest: bool) -> str:
        """torch.maximum takes two tensors; a number bound is a clamp."""
        numbers = [a for a in args if a.is_Number]
        arrays = [a for a in args if not a.is_Number]
        printed = self._print(arrays[0])
        for arg in arrays[1:]:
            printed = f"torch.{'maximum' if largest else 'minimum'}({printed}, {self._print(arg)})"
        if numbers:
            bound = max(numbers) if largest else min(numbers)
            printed = f"torch.clamp({printed}, {'min' if largest else 'max'}={self._print(bound)})"
        return printed

    def _print_Piecewise(self, expr: Any) -> str:
        """torch.where makes a number branch a float32 tensor: the default branch, when it is a
        number, is made a tensor of the working dtype instead, and the others follow it."""
        default = expr.args[-1].expr
        if not default.is_Number:
            return super()._print_Piecewise(expr)
        code = f"torch.tensor({self._print(default)}, dtype=dtype, device=device)"
        for piece in reversed(expr.args[:-1]):
            code = f"torch.where({self._print(piece.cond)}, {self._print(piece.expr)}, {code})"
        return code

    def _print_Heaviside(self, expr: Any) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else 0.5
        return (
            f"torch.heaviside({self._print(expr.args[0])}, "
            f"torch.tensor({self._print(at_zero)}, dtype=dtype, device=device))"
        )


def _extra(program: ArrayProgram) -> tuple[str, ...]:
    return (f"device = {program.batch[0].name}.device",)


def source(
    program: ArrayProgram, name: str = "compute", docstring: str | None = None, gradients_only: bool = False
) -> str:
    """The plain function computing the program with torch (no autograd; the loss a 0-d tensor)."""
    return function_source(
        program, TorchArrayPrinter(ShapeOf(program.shapes)), name, docstring, gradients_only, extra=_extra(program)
    )


def function_class(program: ArrayProgram, name: str = "LossFunction", docstring: str | None = None) -> str:
    """A torch.autograd.Function: forward(ctx, *arguments) -> the loss; backward(ctx, grad_loss) ->
    the derived gradient of every parameter (None for the other arguments)."""
    printer = TorchArrayPrinter(ShapeOf(program.shapes))
    split = next(i for i, a in enumerate(program.assignments) if a.section == "loss") + 1
    forward, backward = program.assignments[:split], program.assignments[split:]
    parameters = [p.name for p in program.parameters]
    defined = {a.target for a in forward} | set(program.parameters)
    needed = sorted(
        {s for a in backward for s in a.value.atoms(Array) if s in defined} | {program.batch[0]},
        key=lambda s: [*parameters, *(a.target.name for a in forward)].index(s.name),
    )
    fixed = [i for i, name in enumerate(program.arguments) if name not in program.trainable]
    gradients = dict((key, var.name) for key, var in program.grad)
    returned = [f"grad_loss * {gradients[name]}" if name in gradients else "None" for name in program.arguments]
    forward_body = []
    if fixed:
        message = (
            f"symbackprop derives the gradients of the parameters only; "
            f"{', '.join(program.arguments[i] for i in fixed)} must not require grad"
        )
        forward_body += [
            f"if any(ctx.needs_input_grad[i] for i in {tuple(fixed)}):",
            f"    raise RuntimeError({message!r})",
        ]
    computed = assignment_lines(forward, printer)
    forward_body += used(prologue(program, "torch") + list(_extra(program)), computed) + computed
    forward_body += [f"ctx.save_for_backward({', '.join(s.name for s in needed)})", f"return {program.loss.name}"]
    computed = assignment_lines(backward, printer)
    backward_body = [f"{', '.join(s.name for s in needed)}, = ctx.saved_tensors"]
    backward_body += used(prologue(program, "torch") + list(_extra(program)), computed) + computed
    backward_body += ["return " + ", ".join(returned)]
    lines = [f"class {name}(torch.autograd.Function):"]
    if docstring:
        lines.append(f'    """{docstring}"""')
        lines.append("")
    lines += ["    @staticmethod", f"    def forward(ctx, {', '.join(parameters)}):"]
    lines += [f"        {line}" for line in forward_body]
    lines += [
        "",
        "    @staticmethod",
        "    @torch.autograd.function.once_differentiable",
        "    def backward(ctx, grad_loss):",
    ]
    lines += [f"        {line}" for line in backward_body]
    return "\n".join(lines) + "\n"


def resolve_dtype(dtype: Any) -> Any:
    """A torch dtype from None (float64), a NumPy dtype or name, or a torch dtype."""
    import torch

    from symbackprop.backends import numpy_dtype

    if not isinstance(dtype, torch.dtype):
        return getattr(torch, numpy_dtype(dtype).name)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype {dtype}: expected a floating-point type such as float64 or float32")
    return dtype


class TorchGradientFunction:
    """The network's loss, forward values, deltas and gradients in PyTorch. A call takes a mapping
    from the spec's names to tensors or arrays (made tensors of `dtype`; tensors keep their device,
    so CUDA tensors compute on the GPU) and returns tensors, computed without autograd.
    `Function` is the torch.autograd.Function whose backward is the derived one; `loss(values)`
    applies it, so that `loss(values).backward()` fills the parameters' `.grad`. A fixed 0/1
    selection in `selections` (name -> matrix) is compiled as a slice; a call that passes another
    matrix under its name runs the general program (compiled then)."""

    def __init__(
        self,
        bp: Backprop,
        dtype: Any,
        threads: int | None = None,
        gradients_only: bool = False,
        selections: Mapping[str, Any] | None = None,
    ) -> None:
        import torch

        self._torch = torch
        self.dtype = dtype
        self._bp = bp
        self._gradients_only = gradients_only
        indices = selection_indices(selections)
        program = build(bp, selections=indices)
        self.source, self.function, self.Function = self._compile(program)
        self.arguments = program.arguments
        self._threads = threads
        self._signatures: set[tuple] = set()
        self._general: tuple[Any, Any] | None = None if indices else (self.function, self.Function)
        self._selections = (
            runtime.Selections(
                self.arguments,
                {n: (selections or {})[n] for n in indices},
                _equal,
                version=lambda given: given._version,
            )
            if indices
            else None
        )

    def _compile(self, program: ArrayProgram) -> tuple[str, Any, Any]:
        text = (
            IMPORTS + "\n\n" + source(program, gradients_only=self._gradients_only) + "\n\n" + function_class(program)
        )
        namespace: dict[str, Any] = {}
        exec(compile(text, "<symbackprop generated torch>", "exec"), namespace)  # our own printed code
        return text, namespace["compute"], namespace["LossFunction"]

    def general(self) -> tuple[Any, Any]:
        """(function, Function) multiplying by every fixed matrix (for a call passing a fixed matrix
        other than the selection it was compiled for)."""
        if self._general is None:
            self._general = self._compile(build(self._bp))[1:]
        return self._general

    def tensors(self, values: Mapping[str, Any]) -> list[Any]:
        """The arguments as tensors of the function's dtype, in order; shapes checked once per signature."""
        given = runtime.arguments(values, self.arguments)
        tensors = [self._torch.as_tensor(value, dtype=self.dtype) for value in given]
        signature = tuple(tuple(t.shape) for t in tensors)
        if signature not in self._signatures:
            runtime.check_shapes(self._bp, self.arguments, tensors)
            self._signatures.add(signature)
        return tensors

    def convert(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as tensors of this function's dtype, converted once."""
        return dict(zip(self.arguments, self.tensors(values), strict=True))

    def _programs(self, tensors: list[Any]) -> tuple[Any, Any]:
        if self._selections is None or self._selections.hold(tensors):
            return self.function, self.Function
        return self.general()

    def _run(self, function: Any, tensors: list[Any]) -> Any:
        if self._threads is None:
            return function(*tensors)
        previous = self._torch.get_num_threads()
        self._torch.set_num_threads(self._threads)
        try:
            return function(*tensors)
        finally:
            self._torch.set_num_threads(previous)

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        tensors = self.tensors(values)
        with self._torch.no_grad():
            return self._run(self._programs(tensors)[0], tensors)

    def loss(self, values: Mapping[str, Any]) -> Any:
        """The loss through the autograd Function: its backward runs the derived gradients."""
        tensors = self.tensors(values)
        return self._run(self._programs(tensors)[1].apply, tensors)


def _equal(given: Any, expected: Any) -> bool:
    """A tensor (on any device) equal to a NumPy matrix."""
    import torch

    return bool(torch.equal(given.detach().cpu().to(torch.float64), torch.from_numpy(expected)))
