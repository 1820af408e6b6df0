"""The JAX backend: array programs printed as a pure `jax.numpy` function (a subclass of SymPy's
JaxPrinter), ready for `jax.jit`, and `JaxGradientFunction`, which jit-compiles it.

JAX computes in float32 unless its x64 mode is on (`jax.config.update("jax_enable_x64", True)`
before any array is made, or JAX_ENABLE_X64=1); float64 is asked for explicitly and refused
with that advice when the mode is off. JAX is imported only when a JaxGradientFunction is made.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy.printing.numpy import JaxPrinter

from symbackprop.backends import runtime
from symbackprop.backends.base import ArrayCodePrinter, function_source, progression
from symbackprop.derive import Backprop
from symbackprop.program import ArrayProgram, ShapeOf, build, selection_indices

IMPORTS = "import jax\nimport jax.numpy as jnp\n"


class JaxArrayPrinter(ArrayCodePrinter, JaxPrinter):
    module = "jnp"

    def _module_format(self, fqn: str, register: bool = True) -> str:
        if fqn.startswith("jax.numpy."):
            fqn = "jnp." + fqn[len("jax.numpy.") :]
        return super()._module_format(fqn, register)

    def broadcast(self, code: str, rows: str, cols: str) -> str:
        return f"jnp.broadcast_to({code}, ({rows}, {cols}))"

    def softmax(self, code: str, axis: int, log: bool) -> str:
        return f"jax.nn.{'log_softmax' if log else 'softmax'}({code}, axis={axis})"

    def index_code(self, index: tuple[int, ...]) -> str:
        if progression(index) is None:
            return "jnp.array([" + ", ".join(map(str, index)) + "])"
        return super().index_code(index)

    def put(self, code: str, axis: int, index: tuple[int, ...], shape: tuple[str, str]) -> str:
        where = self.index_code(index) if axis == 0 else f":, {self.index_code(index)}"
        return f"jnp.zeros(({shape[0]}, {shape[1]}), dtype=dtype).at[{where}].add({code})"


def source(
    program: ArrayProgram, name: str = "compute", docstring: str | None = None, gradients_only: bool = False
) -> str:
    """The pure function computing the program with jax.numpy (the loss a 0-d array)."""
    return function_source(program, JaxArrayPrinter(ShapeOf(program.shapes)), name, docstring, gradients_only)


def resolve_dtype(dtype: Any) -> np.dtype:
    """The working dtype: float32 by default, float64 by default or on request in x64 mode."""
    import jax

    wide = bool(jax.config.read("jax_enable_x64"))
    if dtype is None:
        return np.dtype(np.float64 if wide else np.float32)
    resolved = np.dtype(dtype)
    if resolved == np.float64 and not wide:
        raise ValueError(
            "float64 on JAX needs its x64 mode: call jax.config.update('jax_enable_x64', True) "
            "before making any array (or set JAX_ENABLE_X64=1), or use dtype=float32"
        )
    return resolved


class JaxGradientFunction:
    """The network's loss, forward values, deltas and gradients as a jitted JAX function. A call
    takes a mapping from the spec's names to arrays (NumPy or JAX) in the spec's orientation and
    returns JAX arrays (the loss a 0-d array) under the keys of the NumPy backend, in its order.
    `function` is the pure function itself, for jax.jit, vmap or grad of your own.

    A call costs what a hand-written jitted function costs: the arrays go to the one jitted
    function as they are; the conversion to the working dtype is inside it (free when the dtype
    is already right) and the shapes are checked while JAX traces it, once per shape and dtype
    signature. A fixed 0/1 selection in `selections` (name -> matrix) is compiled as a slice; a
    call that passes another matrix under its name runs the general program (compiled then)."""

    def __init__(
        self, bp: Backprop, dtype: np.dtype, gradients_only: bool = False, selections: Mapping[str, Any] | None = None
    ) -> None:
        import jax
        import jax.numpy as jnp

        self.dtype = dtype
        self._bp = bp
        self._gradients_only = gradients_only
        indices = selection_indices(selections)
        program = build(bp, selections=indices)
        self.source, self.function = self._compile(program)
        self.arguments = program.arguments
        self._jnp = jnp
        self._types = (jax.Array, np.ndarray)
        self._pack: Any = None  # the flat tuple the jitted function returns -> the result's dicts
        self._jitted = self._jit(self.function)
        self._general: Any = None if indices else self._jitted
        self._selections = (
            runtime.Selections(
                self.arguments,
                {n: (selections or {})[n] for n in indices},
                _equal,
                lambda given: isinstance(given, jax.Array),
            )
            if indices
            else None
        )

    def _compile(self, program: ArrayProgram) -> tuple[str, Any]:
        text = IMPORTS + "\n\n" + source(program, gradients_only=self._gradients_only)
        namespace: dict[str, Any] = {}
        exec(compile(text, "<symbackprop generated jax>", "exec"), namespace)  # our own printed code
        return text, namespace["compute"]

    def _jit(self, function: Any) -> Any:
        import jax

        jnp, dtype, bp, names = self._jnp, self.dtype, self._bp, self.arguments

        def traced(*arrays: Any) -> tuple[Any, ...]:
            arrays = tuple(jnp.asarray(array, dtype=dtype) for array in arrays)  # no-op when already `dtype`
            runtime.check_shapes(bp, names, list(arrays))  # runs when JAX traces: once per signature
            out = function(*arrays)
            if self._pack is None:
                self._pack = packer(out)
            return tuple(leaves(out))  # a flat tuple: JAX would give a dict back with its keys sorted

        return jax.jit(traced)

    def general(self) -> Any:
        """The jitted program that multiplies by every fixed matrix (for a call passing a fixed matrix
        other than the selection it was compiled for)."""
        if self._general is None:
            self._general = self._jit(self._compile(build(self._bp))[1])
        return self._general

    def convert(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as JAX arrays of this function's dtype (on the default device), converted once."""
        return {
            name: self._jnp.asarray(value, dtype=self.dtype)
            for name, value in zip(self.arguments, runtime.arguments(values, self.arguments), strict=True)
        }

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            arrays = [values[name] for name in self.arguments]
        except KeyError:
            arrays = runtime.arguments(values, self.arguments)  # raises, naming what is missing
        jitted = self._jitted
        if self._selections is not None and not self._selections.hold(arrays):
            jitted = self.general()
        try:
            out = jitted(*arrays)
        except TypeError:
            if all(isinstance(array, self._types) for array in arrays):
                raise
            out = jitted(*[self._jnp.asarray(array) for array in arrays])  # lists, scalars: arrays first
        return self._pack(out)


def _equal(given: Any, expected: np.ndarray) -> bool:
    return bool(np.array_equal(np.asarray(given), expected))


def leaves(out: dict[str, Any]) -> list[Any]:
    """The result's arrays in its order: the loss, then each part's values."""
    found: list[Any] = []
    for value in out.values():
        found += value.values() if isinstance(value, dict) else [value]
    return found


def packer(out: dict[str, Any]) -> Any:
    """A function making the flat tuple of `leaves(out)` a result shaped as `out` again: one dict display
    with the keys as constants, compiled once (a dict built key by key costs a tenth of a tiny net's call)."""
    constants: dict[str, str] = {}
    position = itertools.count()

    def key(text: str) -> str:
        constants[f"k{len(constants)}"] = text
        return f"k{len(constants) - 1}"

    parts = []
    for part, value in out.items():
        if isinstance(value, dict):
            entries = ", ".join(f"{key(name)}: o[{next(position)}]" for name in value)
            parts.append(f"{key(part)}: {{{entries}}}")
        else:
            parts.append(f"{key(part)}: o[{next(position)}]")
    return eval(f"lambda o: {{{', '.join(parts)}}}", constants)  # noqa: S307 - our own text; keys are constants
