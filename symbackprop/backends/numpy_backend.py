"""The NumPy backend: array programs printed as NumPy code (a subclass of SymPy's NumPyPrinter).

The code is what one writes by hand: `b 1_N^T` is broadcasting, `delta 1_N` a row sum, relu' a
boolean mask, a product with a fixed selection matrix a slice, and nothing computed twice.
"""

from __future__ import annotations

from sympy.printing.numpy import NumPyPrinter

from symbackprop.backends.base import ArrayCodePrinter, function_source, progression
from symbackprop.program import ArrayProgram, ShapeOf

#: Module-level helpers the generated code may call, each printed only when used.
HELPERS = {
    "_softmax": """
def _softmax(s, axis):
    shifted = numpy.exp(s - numpy.max(s, axis=axis, keepdims=True))
    return shifted / numpy.sum(shifted, axis=axis, keepdims=True)
""",
    "_log_softmax": """
def _log_softmax(s, axis):
    shifted = s - numpy.max(s, axis=axis, keepdims=True)
    return shifted - numpy.log(numpy.sum(numpy.exp(shifted), axis=axis, keepdims=True))
""",
    "_put": '''
def _put(a, axis, index, size, unique):
    """Zeros of `size` along `axis`, with slice k of `a` added at index[k]."""
    shape = list(a.shape)
    shape[axis] = size
    out = numpy.zeros(shape, dtype=a.dtype)
    where = (index,) if axis == 0 else (slice(None), index)
    if unique:
        out[where] = a
    else:
        numpy.add.at(out, where, a)
    return out
''',
}


class NumpyArrayPrinter(ArrayCodePrinter, NumPyPrinter):
    module = "numpy"

    def softmax(self, code: str, axis: int, log: bool) -> str:
        return f"{'_log_softmax' if log else '_softmax'}({code}, axis={axis})"

    def put(self, code: str, axis: int, index: tuple[int, ...], shape: tuple[str, str]) -> str:
        span = progression(index)
        where = f"slice{span}" if span else "[" + ", ".join(map(str, index)) + "]"
        return f"_put({code}, {axis}, {where}, {shape[axis]}, {len(set(index)) == len(index)})"


def helpers(function: str) -> str:
    """The helpers `function`'s text calls."""
    return "".join(text for name, text in HELPERS.items() if f"{name}(" in function)


def source(
    program: ArrayProgram, name: str = "compute", docstring: str | None = None, gradients_only: bool = False
) -> tuple[str, str]:
    """(helpers, function): the function computing the program in NumPy, and the module-level
    helpers it needs. With `gradients_only`, it returns the loss and the gradients only and frees
    every other array after its last use."""
    printer = NumpyArrayPrinter(ShapeOf(program.shapes))
    function = function_source(program, printer, name, docstring, gradients_only, free=gradients_only, loss="float({})")
    return helpers(function), function
