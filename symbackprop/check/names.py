"""What a written name means in one network: `resolve(name, table)`, the one place where a
solution's names meet the spec's.

A name resolves first through the spec's notation table (notation.py: the course's letters and
layer style, `net^{(1)}`, `h^2`, `W^3_{1,1}`, and the default spellings where they are not
ambiguous), then by the spec's own symbols (`W_1`, `s_out`, `delta_1`, the input, target and
output names, `y_{out}`), a layer written as a subscript, a superscript or in parentheses
(`W^{(2)}`, `s^{(rec,2)}`; what is left of the subscript is an entry, `w_{12}^{(1)}`), a word
with its layer run on (`W1`), the usual letters of each kind of quantity that the notation
leaves free (`s` pre-activation, `z` activation, `delta`, `W`/`w` weight, `b` bias; `L`, `E`,
`J`, `\\mathcal{L}` and the notation's letter for the loss), and letters learned from this
solution: once `d^{(1)}` has been matched by its values to s_1, `d^{(2)}` is s_2. A name that
resolves to nothing is matched by its values instead (solution.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from symbackprop.check.truth import LOSS_PER_SAMPLE, Truth
from symbackprop.check.written import LOSS_BASES, WrittenName
from symbackprop.notation import Names, NotationError
from symbackprop.notation import Quantity as Named

#: Default letters of each kind of quantity.
LETTERS = {"s": "pre", "z": "act", "delta": "delta", "W": "weight", "w": "weight", "b": "bias"}
#: A label that is an entry's indices, not a layer: digits, commas, parentheses.
_INDEX = re.compile(r"^\(?\d+(?:,\d+)?\)?$|^\[?\d+(?:,\d+)?\]?$")


@dataclass(frozen=True)
class Resolved:
    """A written name's quantity: `role` None for a parameter named plainly (its value before or
    after the step, decided by context), `index` the label of one entry, if any."""

    role: str | None
    key: str
    index: str | None
    via: str  # "name" (spelled as the spec does or by a usual letter) | "learned" (a letter learned here)


class NameTable:
    """The network's names: symbols, layers (with cycles) and the letters of each kind."""

    def __init__(self, truth: Truth) -> None:
        self.truth = truth
        self.symbols: dict[str, tuple[str | None, str]] = {}
        self.layers: dict[tuple[str, str | None], dict[str, str]] = {}
        for quantity in truth.quantities.values():
            if quantity.role in ("grad", "updated") or quantity.kind == "loss_samples":
                continue
            role = None if quantity.kind in ("weight", "bias") else quantity.role
            self.symbols[quantity.symbol] = (role, quantity.key)
            self.symbols.setdefault(quantity.key, (role, quantity.key))
            if quantity.layer is not None:
                cycle = _cycle(quantity.key) if quantity.kind in ("pre", "act", "delta") else None
                self.layers.setdefault((quantity.layer, cycle), {})[quantity.kind] = quantity.key
                if quantity.kind in ("weight", "bias", "fixed"):
                    for (layer, _), kinds in list(self.layers.items()):
                        if layer == quantity.layer:
                            kinds[quantity.kind] = quantity.key
        for (layer, cycle), kinds in self.layers.items():
            if cycle is not None:
                shared = self.layers.get((layer, None), {})
                for kind in ("weight", "bias", "fixed"):
                    if kind in shared:
                        kinds[kind] = shared[kind]
        spec = truth.net.spec
        self.names = Names.of(spec)
        self.input = spec.input.name
        self.output = next(q.key for q in truth.order if q.kind == "act" and q.symbol == spec.output)
        self.target = spec.input.name if spec.target_is_input else spec.target.name
        self.cycles = {layer.name: layer.cycles for layer in spec.layers}
        notation = self.names.notation
        own = {
            notation.preactivation: "pre",
            notation.activation: "act",
            notation.delta: "delta",
            notation.weight: "weight",
            notation.bias: "bias",
        }
        #: the notation's letters, then the default ones it leaves free
        self.letters = {**{k: v for k, v in LETTERS.items() if k not in own}, **own}
        self.own_letters = own
        self.losses = frozenset(LOSS_BASES | self.names.loss_names())
        self.learned: dict[str, str] = {}

    def learn(self, letter: str, kind: str) -> None:
        """A letter this solution uses for a kind of quantity (d for pre-activations)."""
        if letter not in self.letters and letter not in self.symbols and letter not in self.losses:
            self.learned.setdefault(letter, kind)

    def notation_lookup(
        self, base: str, sub: str | None, sup: str | None
    ) -> tuple[tuple[str | None, str], str | None] | None:
        """((role, key), entry label) of a name read through the spec's notation table; None when the
        table knows no such name or finds it ambiguous (then the other readings, and values, decide)."""
        try:
            found = self.names.lookup(base, sub, sup)
        except NotationError:
            return None
        if found is None or (sup is not None and not found[1]):
            return None
        named: Named = found[0]
        index = ",".join(named.entry) if named.entry else None
        role = named.role
        if role == "output":
            return ("forward", self.output), index
        if role in ("preactivation", "activation"):
            return ("forward", named.symbol), index
        if role == "delta":
            return ("delta", named.symbol), index
        if role in ("weight", "bias"):
            return (None, named.symbol), index
        if role in ("input", "target", "fixed"):
            return ("data", named.symbol), index
        if role == "loss":
            return ("loss", "L"), None
        return None

    def layer_of(self, label: str | None) -> tuple[str, str | None] | None:
        """(layer, cycle) of a label: 2, (2), out, {out}, (rec,2), rec(2), rec^(2); None if no layer."""
        if label is None:
            return None
        text = label.strip()
        if len(text) > 2 and text[0] in "([" and text[-1] in ")]":
            text = text[1:-1]
        if (text, None) in self.layers:
            return text, None
        match = re.fullmatch(r"([A-Za-z0-9]+)\s*(?:,|\^?\(|\^)\s*\(?(\d+)\)?\)?", text)
        if match and (match.group(1), match.group(2)) in self.layers:
            return match.group(1), match.group(2)
        return None

    def _by_kind(self, kind: str, place: tuple[str, str | None] | None) -> str | None:
        if place is None:
            keys = {kinds[kind] for kinds in self.layers.values() if kind in kinds}
            return keys.pop() if len(keys) == 1 else None
        return self.layers.get(place, {}).get(kind)

    def _symbol(
        self, base: str, place: tuple[str, str | None] | None, raw: str | None
    ) -> tuple[str | None, str] | None:
        """The symbol a base names at a layer or with a raw subscript, spelled as the spec does
        (letter case aside, when that is not ambiguous)."""
        names = []
        if place is not None:
            layer, cycle = place
            names.append(f"{base}_{layer}" + (f"^({cycle})" if cycle else ""))
        if raw is not None:
            names.append(f"{base}_{raw}")
        if place is None and raw is None:
            names.append(base)
        for name in names:
            if name in self.symbols:
                return self.symbols[name]
        for name in names:
            matches = {self.symbols[symbol] for symbol in self.symbols if symbol.lower() == name.lower()}
            if len(matches) == 1:
                return matches.pop()
        return None

    def renamed(self, base: str, found: tuple[str | None, str]) -> bool:
        """Does the notation give this letter to another kind of quantity than the spec symbol it
        spells? (`z^{[1]}` under `preactivation: z` is the pre-activation, not the spec's z_1.)"""
        kind = self.own_letters.get(base)
        if kind is None and base.lower() != base and base.lower() not in self.symbols:
            kind = self.own_letters.get(base.lower())
        role, key = found
        quantity = self.truth.quantities.get(("data" if role is None else role, key))
        return kind is not None and quantity is not None and quantity.kind != kind

    def _letter(self, base: str, place: tuple[str, str | None] | None) -> tuple[tuple[str | None, str], str] | None:
        kind = self.letters.get(base)
        if kind is None and base.lower() != base and base.lower() not in self.symbols:
            kind = self.letters.get(base.lower())  # A_{in} where the notation says a
        via = "name"
        if kind is None and base in self.learned:
            kind, via = self.learned[base], "learned"
        if kind is None:
            return None
        if kind == "act" and place is not None and place[0] == "0":
            return ("data", self.input), via
        key = self._by_kind(kind, place)
        if key is None:
            return None
        role = {"pre": "forward", "act": "forward", "delta": "delta"}.get(kind)
        return (role, key), via


def _cycle(key: str) -> str | None:
    match = re.search(r"\^\((\d+)\)$", key)
    return match.group(1) if match else None


def resolve(name: WrittenName, table: NameTable) -> Resolved | None:
    """The quantity a written name stands for, or None (then it is matched by its values)."""
    found = _plain(name, table)
    if found is None:
        return None
    (role, key), index, via = found
    if name.form == "grad":
        if role is None:
            return Resolved("grad", key, index, via)
        quantity = table.truth.quantities.get((role, key))
        if quantity is not None and quantity.kind == "pre":
            return Resolved("delta", "delta_" + quantity.key[2:], index, via)
        return None  # dL/dz and the like: no number of a step holds them
    if name.form in ("update", "current"):
        if role is not None:
            return None
        return Resolved("updated" if name.form == "update" else "current", key, index, via)
    return Resolved(role, key, index, via)


def _plain(name: WrittenName, table: NameTable) -> tuple[tuple[str | None, str], str | None, str] | None:
    base, sub, sup = name.base, name.sub, name.sup
    if name.accent == "hat" and base in (table.target, table.truth.net.spec.output.split("_")[0]):
        return ("forward", table.output), sub, "name"
    if name.accent is not None:
        return None
    if base in table.losses or base.lower() == "loss":
        if sup is not None:
            return None
        if sub is None or sub.lower() in ("total", "tot", "sum", "all"):
            return ("loss", "L"), None, "name"
        if sub.isdigit() and table.truth.n_samples > 1:
            return ("loss", LOSS_PER_SAMPLE), sub, "name"
        return None
    through_notation = table.notation_lookup(base, sub, sup)
    if through_notation is not None and through_notation[0] in table.symbols.values():
        return through_notation[0], through_notation[1], "name"
    readings: list[tuple[str, tuple[str, str | None] | None, str | None, str | None]] = []  # base, place, index, raw
    sup_place = table.layer_of(sup)
    cycle_place = table.layer_of(f"{sub},{sup.strip('()')}") if sub is not None and sup is not None else None
    if cycle_place is not None:  # s_{rec}^{(2)}: the layer below, the cycle above
        readings.append((base, cycle_place, None, None))
    elif sup is not None and sup_place is None:
        return None
    if sup_place is not None:
        readings.append((base, sup_place, sub, None))
    elif sub is not None:
        readings.append((base, table.layer_of(sub), None, sub))
        if _INDEX.match(sub):
            readings.append((base, None, sub, None))
    else:
        readings.append((base, None, None, None))
        head = base.rstrip("0123456789")
        place = table.layer_of(base[len(head) :]) if head and head != base else None
        if place is not None:
            readings.append((head, place, None, None))  # W1 is W_1
    for written, place, index, raw in readings:
        found = table._symbol(written, place, raw)
        if found is not None and not table.renamed(written, found):
            return found, index, "name"
        if place is None and raw is not None:
            continue  # a subscript that names no layer: only the spec's own spelling counts
        by_letter = table._letter(written, place)
        if by_letter is not None:
            return by_letter[0], index, by_letter[1]
    return None


def entry(index: str | None, shape: tuple[int, int]) -> tuple[int, int] | None | Literal["formula", "bad"]:
    """The 0-based (row, column) an index label names in a quantity of `shape`: `12` or `1,2` in a
    matrix, `3` in a vector; None for no label; "formula" for letters (w_{ji}: a general rule,
    no number); "bad" for indices outside the shape."""
    if index is None:
        return None
    text = index.strip().strip("()[]{}").replace(" ", "")
    if re.search("[A-Za-z]", text):
        return "formula"
    rows, cols = shape
    parts = text.split(",")
    if not all(part.isdigit() for part in parts) or not parts:
        return "formula"
    if len(parts) == 2:
        i, j = int(parts[0]) - 1, int(parts[1]) - 1
    elif rows == 1 or cols == 1:
        k = int(parts[0]) - 1
        if 0 <= k < rows * cols:
            i, j = (k, 0) if cols == 1 else (0, k)
        elif len(parts[0]) == 2:
            i, j = int(parts[0][0]) - 1, int(parts[0][1]) - 1
        else:
            return "bad"
    elif len(parts[0]) == 2:
        i, j = int(parts[0][0]) - 1, int(parts[0][1]) - 1
    else:
        return "bad"
    return (i, j) if 0 <= i < rows and 0 <= j < cols else "bad"
