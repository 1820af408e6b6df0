"""Wiring beyond a chain: which outputs a layer reads (`inputs`, summed), fixed weights and
the rule that can generate one, and recurrent layers unrolled for a number of cycles.
Reads raw layer mappings; every problem goes through the validator's fail()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from symbackprop.spec.errors import quote
from symbackprop.spec.model import Convention, Layer
from symbackprop.spec.yamlsafe import join

MAX_INPUTS = 16
MAX_CYCLES = 50
FIXED_KEYS = ("select_every", "start")
RECURRENT_KEYS = ("cycles", "feedback")


@dataclass(frozen=True)
class Selection:
    """A 0/1 matrix picking every `every`-th input from `start` (1-based): in out_in orientation
    row n (from 1) has its 1 in column every * (n - 1) + start."""

    every: int
    start: int = 1

    def matrix(self, units: int, fan_in: int, conv: Convention) -> tuple[tuple[float, ...], ...]:
        rows = [[0.0] * fan_in for _ in range(units)]
        for n in range(units):
            rows[n][self.every * n + self.start - 1] = 1.0
        if conv.weights == "in_out":
            rows = [list(column) for column in zip(*rows, strict=True)]
        return tuple(tuple(row) for row in rows)


Fail = Callable[[str, str], NoReturn]


def read_inputs(value: Any, path: str, fail: Fail) -> tuple[str, ...]:
    """`inputs: rec` or `inputs: [rec, link]`: names whose outputs are summed into the layer."""
    names = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
    if not isinstance(names, list) or not names:
        fail(path, f"expected a name or a non-empty list of names of earlier layers or the input, got {quote(value)}")
    if len(names) > MAX_INPUTS:
        fail(path, f"{len(names)} inputs is more than the limit of {MAX_INPUTS}")
    out: list[str] = []
    for i, name in enumerate(names):
        if isinstance(name, bool) or not isinstance(name, (str, int)):
            fail(f"{path}[{i}]", f"expected a layer or input name, got {quote(name)}")
        if str(name) in out:
            fail(f"{path}[{i}]", f"{quote(str(name))} is listed twice")
        out.append(str(name))
    return tuple(out)


def read_fixed(value: Any, path: str, fail: Fail) -> tuple[bool, Selection | None]:
    """`fixed: true` (the matrix is given in data) or `fixed: {select_every: 3, start: 1}`."""
    if isinstance(value, bool):
        return value, None
    if not isinstance(value, dict):
        fail(path, f"expected true, false or a rule like {{select_every: 3}}, got {quote(value)}")
    for key in value:
        if key not in FIXED_KEYS:
            fail(join(path, key), f"unknown key {quote(key)} (expected one of: {', '.join(FIXED_KEYS)})")
    if "select_every" not in value:
        fail(join(path, "select_every"), "required key is missing; expected a positive integer")
    numbers = {}
    for key, default in (("select_every", None), ("start", 1)):
        number = value.get(key, default)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            fail(join(path, key), f"expected a positive integer, got {quote(number)}")
        numbers[key] = number
    return True, Selection(numbers["select_every"], numbers["start"])


def read_recurrent(value: Any, path: str, fail: Fail) -> int:
    """`recurrent: {cycles: 2}`: the number of cycles the layer runs with shared weights."""
    if not isinstance(value, dict):
        fail(path, f"expected a mapping like {{cycles: 2}}, got {quote(value)}")
    for key in value:
        if key not in RECURRENT_KEYS:
            fail(join(path, key), f"unknown key {quote(key)} (expected one of: {', '.join(RECURRENT_KEYS)})")
    cycles = value.get("cycles")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 2 <= cycles <= MAX_CYCLES:
        fail(join(path, "cycles"), f"expected a whole number of cycles from 2 to {MAX_CYCLES}, got {quote(cycles)}")
    feedback = value.get("feedback", "add")
    if feedback != "add":
        fail(
            join(path, "feedback"),
            f"unknown feedback {quote(feedback)} (expected add: each cycle after the first "
            "reads its inputs plus the previous cycle's output)",
        )
    return cycles


def check_wiring(
    layers: tuple[Layer, ...], input_name: str, input_size: int, fail: Fail, suggest: Callable[[str, list[str]], str]
) -> dict[str, int]:
    """Every input names the input or an earlier layer, summed outputs agree in size, a recurrent
    layer's output fits its input, and every layer but the last feeds another. Returns each
    layer's fan-in."""
    sizes = {input_name: input_size}
    order = {layer.name: index for index, layer in enumerate(layers)}
    fan_in: dict[str, int] = {}
    used: set[str] = set()
    for index, layer in enumerate(layers):
        path = f"layers[{index}].inputs"
        for name in layer.inputs:
            if name not in sizes:
                if name == layer.name or order.get(name, -1) > index:
                    fail(
                        path,
                        f"layer {layer.name!r} reads {quote(name)}, which is not an earlier layer: layers run "
                        "in the order listed; a layer that feeds itself is declared with recurrent: {cycles: k}",
                    )
                known = list(sizes)
                shown = ", ".join(known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
                fail(path, f"unknown layer or input {quote(name)} (known here: {shown}{suggest(name, known)})")
        widths = {name: sizes[name] for name in layer.inputs}
        if len(set(widths.values())) > 1:
            listed = ", ".join(f"{name} {size}" for name, size in widths.items())
            fail(path, f"the inputs of layer {layer.name!r} are summed, so they need one size; got {listed}")
        fan_in[layer.name] = next(iter(widths.values()))
        if layer.cycles > 1 and layer.units != fan_in[layer.name]:
            fail(
                f"layers[{index}].recurrent",
                f"a recurrent layer adds its output to its input, so its "
                f"{layer.units} units must equal its input size {fan_in[layer.name]}",
            )
        used.update(layer.inputs)
        sizes[layer.name] = layer.units
    for index, layer in enumerate(layers[:-1]):
        if layer.name not in used:
            fail(
                f"layers[{index}]",
                f"layer {layer.name!r} feeds no other layer and is not the output (the last layer is the output)",
            )
    return fan_in
