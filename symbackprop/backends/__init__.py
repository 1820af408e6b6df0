"""One printer per array library for the same array program (symbackprop.program), and the
compiled gradient functions built on them. A backend's library is imported only when a
gradient function for it is made: printing code for it (codegen) needs none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from symbackprop.options import BACKENDS
from symbackprop.program import selection_index

if TYPE_CHECKING:
    from symbackprop.api import Network

__all__ = ["BACKENDS", "check_backend", "gradient_function", "numpy_dtype"]


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (available: {', '.join(BACKENDS)})")


def numpy_dtype(dtype: Any) -> np.dtype:
    """A floating-point NumPy dtype from None (float64), a type or a name; ValueError otherwise."""
    try:
        resolved = np.dtype(np.float64 if dtype is None else dtype)
    except TypeError:
        raise ValueError(
            f"dtype {dtype!r}: expected a floating-point type such as float64 or float32 "
            f"(the backend is chosen with backend=...)"
        ) from None
    if resolved.kind != "f":
        raise ValueError(f"dtype {resolved}: expected a floating-point type such as float64 or float32")
    return resolved


def gradient_function(
    net: Network, backend: str = "numpy", dtype: Any = None, threads: int | None = None, gradients_only: bool = False
) -> Any:
    """net's compiled gradient function on `backend` (see Network.gradient_fn)."""
    from symbackprop.backends import runtime

    check_backend(backend)
    runtime.check_threads(threads)
    bp = net.derive().backprop
    if backend == "jax":
        from symbackprop.backends.jax_backend import JaxGradientFunction, resolve_dtype

        if threads is not None:
            raise ValueError(
                "threads= is not available on jax: XLA sizes its thread pool when JAX starts; "
                "set XLA_FLAGS before importing jax (docs/numeric.md)"
            )
        return JaxGradientFunction(
            bp, resolve_dtype(None if dtype is None else numpy_dtype(dtype)), gradients_only, fixed_selections(net)
        )
    if backend == "torch":
        from symbackprop.backends.torch_backend import TorchGradientFunction, resolve_dtype

        return TorchGradientFunction(bp, resolve_dtype(dtype), threads, gradients_only, fixed_selections(net))
    from symbackprop.numeric import GradientFunction

    return GradientFunction(
        bp,
        numpy_dtype(dtype),
        selections=fixed_selections(net),
        gradients_only=gradients_only,
        threads=threads,
        quiet=False,
    )


def fixed_selections(net: Network) -> dict[str, Any]:
    """The spec's fixed matrices that are 0/1 selections (one 1 in every row or every column), by name:
    their products are compiled as slices."""
    data = net.spec.data
    return {
        node.name: data[node.name]
        for node in net.graph.leaves
        if node.role == "fixed" and node.name in data and selection_index(data[node.name]) is not None
    }
