"""The JAX backend: array programs printed as a pure `jax.numpy` function (a subclass of SymPy's
JaxPrinter), ready for `jax.jit`, and `JaxGradientFunction`, which jit-compiles it.

JAX computes in float32 unless its x64 mode is on (`jax.config.update("jax_enable_x64", True)`
before any array is made, or JAX_ENABLE_X64=1); float64 is asked for explicitly and refused
with that advice when the mode is off. JAX is imported only when a JaxGradientFunction is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sympy.printing.numpy import JaxPrinter

from symbackprop.backends import runtime
from symbackprop.backends.base import ArrayCodePrinter, function_source, progression
from symbackprop.derive import Backprop
from symbackprop.program import ArrayProgram, ShapeOf, build

IMPORTS = "import jax\nimport jax.numpy as jnp\n"


class JaxArrayPrinter(ArrayCodePrinter, JaxPrinter):
    module = "jnp"

    def _module_format(self, fqn: str, register: bool = True) -> str:
        if fqn.startswith("jax.numpy."):
            fqn = "jnp." + fqn[len("jax.numpy."):]
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


def source(program: ArrayProgram, name: str = "compute", docstring: str | None = None,
           gradients_only: bool = False) -> str:
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
        raise ValueError("float64 on JAX needs its x64 mode: call jax.config.update('jax_enable_x64', True) "
                         "before making any array (or set JAX_ENABLE_X64=1), or use dtype=float32")
    return resolved


class JaxGradientFunction:
    """The network's loss, forward values, deltas and gradients as a jitted JAX function. A call
    takes a mapping from the spec's names to arrays (NumPy or JAX) in the spec's orientation and
    returns JAX arrays (the loss a 0-d array) under the keys of the NumPy backend, in its order;
    shapes are checked once per shape signature.
    `function` is the pure function itself, for jax.jit, vmap or grad of your own."""

    def __init__(self, bp: Backprop, dtype: np.dtype, gradients_only: bool = False) -> None:
        import jax
        import jax.numpy as jnp

        self.dtype = dtype
        program = build(bp)
        self.source = IMPORTS + "\n\n" + source(program, gradients_only=gradients_only)
        namespace: dict[str, Any] = {}
        exec(compile(self.source, "<symbackprop generated jax>", "exec"), namespace)  # our own printed code
        self.function = namespace["compute"]
        self.arguments = program.arguments
        self._jitted = jax.jit(self.function)
        self._jnp = jnp
        self._native = type(jnp.zeros((), dtype=dtype))  # arrays of this type and dtype pass as they are
        self._bp = bp
        self._order = {"forward": [key for key, _ in program.forward], "delta": [key for key, _ in program.delta],
                       "grad": [key for key, _ in program.grad]}
        self._signatures: set[tuple] = set()

    def convert(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as JAX arrays of this function's dtype (on the default device), converted once."""
        return {name: self._jnp.asarray(value, dtype=self.dtype)
                for name, value in zip(self.arguments, runtime.arguments(values, self.arguments), strict=True)}

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            arrays = [values[name] for name in self.arguments]
        except KeyError:
            arrays = runtime.arguments(values, self.arguments)  # raises, naming what is missing
        dtype, native = self.dtype, self._native
        for i, array in enumerate(arrays):
            if type(array) is not native or array.dtype != dtype:
                arrays[i] = self._jnp.asarray(array, dtype=dtype)
        signature = tuple([array.shape for array in arrays])
        if signature not in self._signatures:
            runtime.check_shapes(self._bp, self.arguments, arrays)
            self._signatures.add(signature)
        out = self._jitted(*arrays)
        for part, table in out.items():  # jit returns dicts with sorted keys: back to the program's order
            if part in self._order:
                out[part] = {key: table[key] for key in self._order[part]}
        return out
