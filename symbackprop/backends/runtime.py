"""What every backend's compiled function does around the generated code: find its arguments
in the caller's mapping and check their shapes, once per shape signature."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from symbackprop.derive import Backprop
from symbackprop.graph import BATCH


def expected_shapes(bp: Backprop, n_samples: int) -> dict[str, tuple[int, ...]]:
    """The shape each argument must have for `n_samples` samples."""
    return {node.symbol_name: tuple(n_samples if d == BATCH else d for d in node.shape) for node in bp.graph.leaves}


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


class Selections:
    """The fixed 0/1 selections a program was compiled for, their products computed as slices: a call
    may use that program only when it passes these very matrices (else the general program, which
    multiplies). `equal(given, expected)` compares one argument with its selection (a NumPy array);
    `immutable(given)` says whether an array can never change, so that one found equal is not
    compared again; `version(given)` is a counter that changes when it is written to in place
    (torch's `_version`), or None."""

    def __init__(
        self,
        names: tuple[str, ...],
        selections: Mapping[str, Any],
        equal: Callable[[Any, Any], bool],
        immutable: Callable[[Any], bool] = lambda given: False,
        version: Callable[[Any], Any] = lambda given: None,
    ) -> None:
        self.checks = [(names.index(name), np.asarray(matrix, dtype=np.float64)) for name, matrix in selections.items()]
        self._equal, self._immutable, self._version = equal, immutable, version
        self._known: dict[int, tuple[Any, Any]] = {}  # argument index -> (an array found equal, its version)

    def hold(self, arrays: list[Any]) -> bool:
        """Whether every selection is passed as it was compiled."""
        for i, expected in self.checks:
            given = arrays[i]
            known = self._known.get(i)
            if known is not None and given is known[0] and (known[1] is _IMMUTABLE or known[1] == self._version(given)):
                continue
            if tuple(getattr(given, "shape", ())) != expected.shape or not self._equal(given, expected):
                return False
            version = _IMMUTABLE if self._immutable(given) else self._version(given)
            if version is None:
                self._known.pop(i, None)
            else:
                self._known[i] = (given, version)
        return True


_IMMUTABLE = object()
