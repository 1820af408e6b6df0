"""What every backend's compiled function does around the generated code: find its arguments
in the caller's mapping and check their shapes, once per shape signature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symbackprop.derive import Backprop
from symbackprop.graph import BATCH


def expected_shapes(bp: Backprop, n_samples: int) -> dict[str, tuple[int, ...]]:
    """The shape each argument must have for `n_samples` samples."""
    return {node.name: tuple(n_samples if d == BATCH else d for d in node.shape) for node in bp.graph.leaves}


def arguments(values: Mapping[str, Any], names: tuple[str, ...]) -> list[Any]:
    """The values of `names`, in order; ValueError naming every missing one."""
    try:
        return [values[name] for name in names]
    except KeyError:
        missing = [name for name in names if name not in values]
        raise ValueError(f"missing values for {', '.join(missing)} (needs {', '.join(names)})") from None


def check_shapes(bp: Backprop, names: tuple[str, ...], arrays: list[Any]) -> None:
    """ValueError naming the first argument whose shape is not the one its role needs."""
    if len(arrays[0].shape) != 2:
        raise ValueError(f"{names[0]} must be 2-D, got shape {tuple(arrays[0].shape)}")
    expected = expected_shapes(bp, arrays[0].shape[bp.graph.nodes[0].shape.index(BATCH)])
    for name, array in zip(names, arrays, strict=True):
        if tuple(array.shape) != expected[name]:
            raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {expected[name]}")


def check_threads(threads: int | None) -> None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads={threads!r}: expected a positive whole number (or None: the library's default)")
