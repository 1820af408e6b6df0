"""A standalone Python module computing a network's loss and gradients, for NumPy, JAX or
PyTorch: the same array program gradient_fn compiles, written out with docstrings so it can be
read, copied and imported without symbackprop (it imports its array library only).

Spec text (the network's name, its symbol names) reaches the module only inside docstrings,
escaped so that it reads back as itself and cannot end the docstring.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import TYPE_CHECKING

from symbackprop import program as programs
from symbackprop.backends import check_backend, fixed_selections, jax_backend, numpy_backend, torch_backend
from symbackprop.graph import BATCH
from symbackprop.options import BACKENDS

if TYPE_CHECKING:
    from symbackprop.api import Network

__all__ = ["BACKENDS", "FUNCTION", "docstring_text", "module_source"]

#: The name of the generated function.
FUNCTION = "loss_and_gradients"
#: The torch module's autograd Function and the function applying it.
AUTOGRAD_CLASS = "LossFunction"
AUTOGRAD_FUNCTION = "loss"
LIBRARIES = {"numpy": "NumPy", "jax": "JAX", "torch": "PyTorch"}
FUNCTION_DOC = "Loss, forward values, deltas and gradients of one batch (see the module's text)."


def docstring_text(text: str) -> str:
    """`text` as the inside of a triple-quoted docstring: backslashes and quotes escaped,
    characters that are not printable (newlines, line separators, controls) as escapes."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _usage(backend: str, call: str) -> list[str]:
    """How to call the module's function(s) on `backend`, as paragraphs."""
    returns = (
        "it returns {'loss': ..., 'forward': {s_k, z_k}, 'delta': {delta_k}, 'grad': {parameter: "
        "dL/dparameter}}, each gradient shaped like its parameter."
    )
    if backend == "numpy":
        return [
            f"Call {call} with float64 or float32 arrays of those shapes (not checked here); {returns} "
            "The loss is a float."
        ]
    if backend == "jax":
        return [
            f"Call {call} with jax.numpy (or NumPy) arrays of those shapes (not checked here); {returns} "
            f"It is a pure function, ready for jax.jit: fast = jax.jit({FUNCTION}). JAX computes in float32 "
            "unless its x64 mode is on: jax.config.update('jax_enable_x64', True) before making any array."
        ]
    return [
        f"Call {call} with tensors of those shapes (not checked here); {returns} It runs no autograd.",
        f"{AUTOGRAD_CLASS} is a torch.autograd.Function whose backward is the derived backward pass: "
        f"{AUTOGRAD_FUNCTION}(...) with the same arguments returns the loss, and .backward() on it fills each "
        "parameter's .grad (only parameters may require grad).",
    ]


def _program(net: Network) -> tuple[programs.ArrayProgram, list[str]]:
    """The array program as gradient_fn compiles it, a product with a fixed selection (the spec's data)
    computed as a slice; such a matrix, no longer read, is dropped from the arguments (its names returned)."""
    selections = programs.selection_indices(fixed_selections(net))
    program = programs.build(net.derive().backprop, selections=selections)
    read = set().union(*(a.value.free_symbols for a in program.assignments))
    built_in = [
        name
        for name, variable in zip(program.arguments, program.parameters, strict=True)
        if name in selections and variable not in read
    ]
    kept = [k for k, name in enumerate(program.arguments) if name not in built_in]
    return dataclasses.replace(
        program,
        arguments=tuple(program.arguments[k] for k in kept),
        parameters=tuple(program.parameters[k] for k in kept),
    ), built_in


def module_source(net: Network, backend: str = "numpy") -> str:
    """The module's text: a docstring naming the spec and its arrays, then `loss_and_gradients`
    (and for torch the autograd Function `LossFunction` and `loss`)."""
    check_backend(backend)
    spec = net.spec
    nodes = {node.name: node for node in net.graph.nodes if node.name}
    program, built_in = _program(net)
    parameters = [p.name for p in program.parameters]
    if backend == "numpy":
        helpers, function = numpy_backend.source(program, name=FUNCTION, docstring=FUNCTION_DOC)
        code = f"import numpy\n{helpers}\n\n{function}"
    elif backend == "jax":
        code = f"{jax_backend.IMPORTS}\n\n{jax_backend.source(program, name=FUNCTION, docstring=FUNCTION_DOC)}"
    else:
        autograd_doc = "Forward: the loss. Backward: the derived gradient of every parameter, times grad_loss."
        apply = (
            f"def {AUTOGRAD_FUNCTION}({', '.join(parameters)}):\n"
            f'    """The loss through {AUTOGRAD_CLASS}: .backward() runs the derived backward pass."""\n'
            f"    return {AUTOGRAD_CLASS}.apply({', '.join(parameters)})\n"
        )
        code = (
            f"{torch_backend.IMPORTS}\n\n{torch_backend.source(program, name=FUNCTION, docstring=FUNCTION_DOC)}"
            f"\n\n{torch_backend.function_class(program, AUTOGRAD_CLASS, autograd_doc)}\n\n{apply}"
        )
    shapes = []
    for name, parameter in zip(program.arguments, parameters, strict=True):
        node = nodes[name]
        shape = " x ".join(str(d) for d in node.shape)
        renamed = "" if name == parameter else f", the spec's {docstring_text(name)}"
        shapes.append(f"    {parameter}: {shape} ({node.role}{renamed})")
    for name in built_in:
        node = nodes[name]
        shape = " x ".join(str(d) for d in node.shape)
        shapes.append(
            f"    {docstring_text(name)}: {shape} (a fixed 0/1 selection, built in: its products are slices, "
            f"so it is not an argument)"
        )
    samples = "columns" if spec.convention.samples == "columns" else "rows"
    call = f"{FUNCTION}({', '.join(f'{p}=...' for p in parameters)})"
    usage = [
        textwrap.fill(paragraph, width=96, break_long_words=False, break_on_hyphens=False)
        for paragraph in _usage(backend, call)
    ]
    docstring = "\n".join(
        [
            f'Loss and gradients of the network "{docstring_text(spec.name)}".',
            "",
            f"Generated by symbackprop (codegen --backend {backend}) from its spec; standalone: it needs "
            f"{LIBRARIES[backend]} only.",
            f"Arrays are in the spec's orientation: weights {spec.convention.weights}, one sample per "
            f"{samples[:-1]} ({BATCH} samples):",
            "",
            *shapes,
            "",
            "\n\n".join(usage),
        ]
    )
    return f'"""{docstring}\n"""\n\n{code}'
