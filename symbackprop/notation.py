"""The course's notation: one table that printers and readers share.

A spec's `notation:` block (docs/notation.md) says which letter a course writes for each
quantity of a network and how it attaches the layer: `W_1`, `W^{1}` or `W^{(1)}`. `Notation`
is that block; `Names` is its table for one network, in both directions:

    names = Names.of(spec)
    names.text("s_2"), names.latex("s_2")          # net^(2), net^{(2)}: a symbol by its engine name
    names.spell(names.quantity("delta", "1"))       # the spelling of a named quantity
    names.gradient_latex("W_1"), names.entry_text("W_1", ("1", "2"))
    names.resolve(r"\\frac{\\partial E}{\\partial w^{(2)}_{1,1}}")   # a written name -> its Quantity
    names.lookup("net", "1", "(2)")                 # the answer parser's structured form of the same

The engine keeps its own names (s_1, z_1, delta_1, the spec's weight and bias names, f_1, L):
numeric results and JSON keys use them, and every spelling here is a view of them. The
default notation spells every symbol exactly as before (latex_name), so default output is
unchanged byte for byte. No SymPy here: spec/ validates the block with this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from symbackprop.textchars import latex_char

if TYPE_CHECKING:
    from symbackprop.spec.model import Layer, NetworkSpec

#: How a layer is attached to a letter: W_1, W^{1} or W^{(1)}.
LAYER_STYLES: tuple[str, ...] = ("subscript", "superscript", "parenthesized")
#: The letter keys of a `notation:` block (every key but `layer`).
LETTER_KEYS: tuple[str, ...] = (
    "preactivation",
    "activation",
    "delta",
    "function",
    "loss",
    "weight",
    "bias",
    "learning_rate",
)
#: A letter: a name without `_` (the underscore starts the layer's subscript).
LETTER = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
#: Letters that already mean something in every formula, so no notation key may take them.
RESERVED_LETTERS: dict[str, str] = {
    "N": "the number of samples",
    "e": "Euler's number (e^x)",
    "d": "the d of a derivative (dL/dW)",
    "T": "the transpose (W^T)",
    "sum": "a sum",
    "for": "the index ranges of the index form",
    "exp": "a function",
    "log": "a function",
    "ln": "a function",
    "sqrt": "a function",
    "abs": "a function",
    "max": "a function",
    "min": "a function",
    "sin": "a function",
    "cos": "a function",
    "sinh": "a function",
    "cosh": "a function",
    "sign": "a function",
    "sgn": "a function",
    "relu": "an activation",
    "ReLU": "an activation",
    "tanh": "an activation",
    "sigmoid": "an activation",
    "softmax": "an activation",
    "identity": "an activation",
    "leaky_relu": "an activation",
    "partial": "the partial sign",
    "nabla": "the gradient sign",
}
GREEK = frozenset(
    {
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "pi",
        "rho",
        "sigma",
        "tau",
        "phi",
        "chi",
        "psi",
        "omega",
        "Gamma",
        "Delta",
        "Theta",
        "Lambda",
        "Xi",
        "Pi",
        "Sigma",
        "Phi",
        "Psi",
        "Omega",
    }
)
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "`": r"\textasciigrave{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "[": "{[}",
    "]": "{]}",  # after \\ a [ would be read as the line break's length
}
_CYCLE = re.compile(r"(.+)\^\((\d+)\)")
_SIMPLE_SCRIPT = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")


@dataclass(frozen=True)
class Notation:
    """A spec's `notation:` block; the defaults are the tool's own symbols."""

    preactivation: str = "s"
    activation: str = "z"
    delta: str = "delta"
    function: str = "f"
    loss: str = "L"
    weight: str = "W"
    bias: str = "b"
    layer: str = "subscript"
    learning_rate: str = "alpha"

    def letter(self, role: str) -> str:
        """The letter of a quantity role (preactivation, activation, delta, weight, bias, ...)."""
        return str(getattr(self, role))

    def changed(self) -> dict[str, str]:
        """The keys that differ from the defaults."""
        default = Notation()
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)
        }


DEFAULT = Notation()


# --- LaTeX spellings of plain names ---------------------------------------------------------


def escape_latex(text: str) -> str:
    """User text as LaTeX that prints it literally and runs nothing; any Unicode character builds
    (a character the fonts lack is a math symbol, transliterated or its code point: textchars.py)."""
    return "".join(latex_char(char, _LATEX_SPECIALS) for char in text)


def latex_part(text: str) -> str:
    """One letter or label: a Greek name as its command, letters and digits as they are, anything else as text."""
    if text in GREEK:
        return "\\" + text
    if re.fullmatch(r"[A-Za-z0-9]+", text):
        return text
    return r"\text{" + escape_latex(text) + "}"


def latex_name(name: str) -> str:
    """`delta_out` -> `\\delta_{out}`; the first underscore starts the subscript, and a recurrent
    layer's cycle is a superscript (`s_rec^(2)` -> `s_{rec}^{(2)}`)."""
    cycle = _CYCLE.fullmatch(name)
    if cycle:
        return latex_name(cycle.group(1)) + "^{(" + cycle.group(2) + ")}"
    base, _, sub = name.partition("_")
    if not base:
        return latex_part(name)
    return latex_part(base) + ("_{" + latex_part(sub) + "}" if sub else "")


def latex_element_base(name: str) -> str:
    """`W_1` -> `W^{(1)}`, `delta_out` -> `\\delta^{(out)}`, `s_rec^(2)` -> `s^{(rec,2)}`: an entry's own
    indices take the subscript."""
    cycle = _CYCLE.fullmatch(name)
    name, suffix = (cycle.group(1), "," + cycle.group(2)) if cycle else (name, "")
    base, _, sub = name.partition("_")
    if not base:
        return latex_part(name)
    return latex_part(base) + ("^{(" + latex_part(sub) + suffix + ")}" if sub else "")


def _hat(name: str) -> str | None:
    """`y_hat` -> `y`: a one-letter name with a hat (printed \\hat{y})."""
    base, _, sub = name.partition("_")
    return base if sub == "hat" and re.fullmatch(r"[A-Za-z]", base) else None


# --- quantities -----------------------------------------------------------------------------

#: Roles of the quantities a name can mean.
ROLES: tuple[str, ...] = (
    "preactivation",
    "activation",
    "delta",
    "weight",
    "bias",
    "fixed",
    "input",
    "target",
    "output",
    "loss",
    "learning_rate",
    "gradient",
    "updated",
    "function",
)
#: Roles whose symbols carry their layer in their name.
LAYER_ROLES = ("preactivation", "activation", "delta")
#: The engine's (and the default notation's) letter of each layered role.
ENGINE_LETTERS = {"preactivation": "s", "activation": "z", "delta": "delta"}


@dataclass(frozen=True)
class Quantity:
    """One quantity of a network, or an entry of one.

    `symbol` is the engine's name of the symbol (s_1, z_rec^(2), delta_out, W_1, x, y_out, L, f_1); for a
    gradient and an updated parameter it is the parameter's (or value's) name. `entry` holds the
    indices as written, counted from 1 ("1", "2", or letters such as "j").
    """

    role: str
    symbol: str
    layer: str | None = None
    cycle: int | None = None
    entry: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The engine's plain name: s_1, dL/dW_1, W_1' (updated), W_1[1,2] (an entry)."""
        name = {"gradient": f"dL/d{self.symbol}", "updated": f"{self.symbol}'"}.get(self.role, self.symbol)
        return name + (f"[{','.join(self.entry)}]" if self.entry else "")

    def at(self, *indices: str) -> Quantity:
        """The entry at `indices` (from 1)."""
        return Quantity(self.role, self.symbol, self.layer, self.cycle, tuple(str(i) for i in indices))

    def whole(self) -> Quantity:
        return Quantity(self.role, self.symbol, self.layer, self.cycle)

    def describe(self) -> str:
        """In words, for messages: "the pre-activation of layer 1", "the gradient of W_1"."""
        words = {
            "preactivation": "the pre-activation",
            "activation": "the activation",
            "delta": "the delta",
            "weight": "the weight",
            "bias": "the bias",
            "fixed": "the fixed matrix",
            "input": "the input",
            "target": "the target",
            "output": "the output",
            "loss": "the loss",
            "learning_rate": "the learning rate",
            "function": "the activation function",
        }
        if self.role in ("gradient", "updated"):
            text = f"{'the gradient' if self.role == 'gradient' else 'the updated value'} of {self.symbol}"
        else:
            text = words[self.role]
            if self.layer is not None and self.role in (*LAYER_ROLES, "function", "weight", "bias", "fixed"):
                text += f" of layer {self.layer}" + (f", cycle {self.cycle}" if self.cycle else "")
            if self.role in ("weight", "bias", "fixed", "input", "target", "output"):
                text += f" {self.symbol}"
        return (f"entry ({', '.join(self.entry)}) of " if self.entry else "") + text


class NotationError(ValueError):
    """A written name that names nothing in this network, or more than one thing."""

    def __init__(self, message: str, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class _Spelling:
    text: str
    latex: str
    element_text: str  # an entry's base: the indices follow in [..]
    element_latex: str  # an entry's base: the indices follow as a subscript


#: The priority of a reading that is a course's shorthand rather than a name (a^{(0)} for the input, δ alone).
CONVENIENCE = 2


@dataclass(frozen=True)
class _Entry:
    quantity: Quantity
    priority: int  # 0: the spec's notation and names; 1: the default letters; 2: conveniences (a^{(0)} = x)
    custom: bool  # registered under a notation letter that is not the default one


# --- spellings ---------------------------------------------------------------------------


class Spelling:
    """How printers spell symbols. This base spells every symbol as the engine names it (the default
    notation, with no network); `Names` spells a network's symbols in its spec's notation."""

    notation: Notation = DEFAULT

    def __init__(self) -> None:
        self._spellings: dict[str, _Spelling] = {}
        self._default_labels: dict[str, str] = {}  # f_<layer> -> layer, for layers whose label is the default
        self._uniform = False  # every layer has the same activation

    def text(self, symbol: str) -> str:
        """How plain text writes the symbol the engine calls `symbol`."""
        spelling = self._spellings.get(symbol)
        return spelling.text if spelling else symbol

    def latex(self, symbol: str) -> str:
        spelling = self._spellings.get(symbol)
        return spelling.latex if spelling else latex_name(symbol)

    def element_text(self, symbol: str) -> str:
        """An entry's base in text; the indices follow in brackets: W_1[1,2], w^(2)[1,1]."""
        spelling = self._spellings.get(symbol)
        return spelling.element_text if spelling else symbol

    def element_latex(self, symbol: str) -> str:
        """An entry's base in LaTeX; the indices follow as a subscript: W^{(1)}_{1,2}, h^{2}_{1}."""
        spelling = self._spellings.get(symbol)
        return spelling.element_latex if spelling else latex_element_base(symbol)

    def entry_text(self, symbol: str, indices: tuple[str, ...] = ()) -> str:
        return self.element_text(symbol) + f"[{','.join(indices)}]" if indices else self.text(symbol)

    def entry_latex(self, symbol: str, indices: tuple[str, ...] = ()) -> str:
        return self.element_latex(symbol) + "_{" + ",".join(indices) + "}" if indices else self.latex(symbol)

    def loss_text(self) -> str:
        return self.notation.loss

    def loss_latex(self) -> str:
        loss = self.notation.loss
        return r"\mathcal{L}" if loss == "L" else latex_part(loss)

    def learning_rate_latex(self) -> str:
        rate = self.notation.learning_rate
        return latex_part(rate) if rate in GREEK or len(rate) == 1 else r"\mathrm{" + rate + "}"

    def _derivative(self, of: str, latex: bool) -> str:
        if latex:
            return r"\frac{\partial " + self.loss_latex() + r"}{\partial " + of + "}"
        return f"d{self.loss_text()}/d{of}"

    def gradient_text(self, symbol: str, indices: tuple[str, ...] = ()) -> str:
        """dL/dW_1 in the notation (dE/dw^(1)); with indices, of that entry."""
        return self._derivative(self.entry_text(symbol, indices), latex=False)

    def gradient_latex(self, symbol: str, indices: tuple[str, ...] = ()) -> str:
        return self._derivative(self.entry_latex(symbol, indices), latex=True)

    def function_text(self, label: str) -> str:
        """A layer's activation function: f_1 by default; the notation's letter (sigma) alone when every
        layer has the same activation, else with the layer (sigma_1); a `{function: g}` label as it is."""
        layer = self._default_labels.get(label)
        if layer is None or self.notation.function == "f":
            return label
        return self.notation.function if self._uniform else f"{self.notation.function}_{layer}"

    def function_latex(self, label: str) -> str:
        layer = self._default_labels.get(label)
        if layer is None or self.notation.function == "f":
            return latex_name(label)
        return latex_part(self.notation.function) if self._uniform else latex_name(f"{self.notation.function}_{layer}")


PLAIN = Spelling()


# --- the table for one network --------------------------------------------------------------


class Names(Spelling):
    """Every quantity of one network: how it is printed, and what a written name means."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        self.notation = getattr(spec, "notation", DEFAULT)
        self.quantities: dict[str, Quantity] = {}  # engine symbol name -> quantity
        self._keys: dict[tuple[str, str | None, str | None], list[_Entry]] = {}
        self._functions: dict[str, str] = {}  # function label -> layer
        self._build()

    @classmethod
    def of(cls, spec: NetworkSpec) -> Names:
        """The table of a spec (built once per spec object)."""
        cached = _CACHE.get(id(spec))
        if cached is not None and cached.spec is spec:
            return cached
        names = cls(spec)
        _CACHE[id(spec)] = names
        if len(_CACHE) > 256:
            _CACHE.pop(next(iter(_CACHE)))
        return names

    # --- building ----------------------------------------------------------------------

    def _build(self) -> None:
        spec, notation = self.spec, self.notation
        self._tensor(Quantity("input", spec.input.name))
        if not spec.target_is_input:
            self._tensor(Quantity("target", spec.target.name))
        last = spec.layers[-1]
        for layer in spec.layers:
            self._parameters(layer)
            cycles = range(1, layer.cycles + 1) if layer.cycles > 1 else (None,)
            for cycle in cycles:
                suffix = f"^({cycle})" if cycle is not None else ""
                for role in LAYER_ROLES:
                    if role == "activation" and layer is last and cycle in (None, layer.cycles):
                        continue
                    self._layered(Quantity(role, f"{ENGINE_LETTERS[role]}_{layer.name}{suffix}", layer.name, cycle))
            label = layer.activation.function if layer.activation.kind == "function" else f"f_{layer.name}"
            assert label is not None  # the loader names every `function` activation
            self._functions[label] = layer.name
            if layer.activation.kind != "function":
                self._default_labels[label] = layer.name
        self._output(Quantity("output", spec.output, last.name, last.cycles if last.cycles > 1 else None))
        if all(layer.name != "0" for layer in spec.layers):  # a^{(0)}: the input as layer 0's activation
            for letter in dict.fromkeys((notation.activation, "z")):
                self._key((letter, "0", None), Quantity("input", spec.input.name), CONVENIENCE, False)
        output_delta = next(
            q
            for q in reversed(self.quantities.values())
            if q.role == "delta" and q.layer == last.name and q.cycle in (None, last.cycles)
        )
        for letter in dict.fromkeys((notation.delta, "delta")):  # δ alone: the output's delta, as courses write it
            self._key((letter, None, None), output_delta, CONVENIENCE, False)
        kinds = [layer.activation for layer in spec.layers if layer.activation.kind != "function"]
        self._uniform = len(kinds) == len(spec.layers) and len(set(kinds)) == 1

    def _key(self, key: tuple[str, str | None, str | None], quantity: Quantity, priority: int, custom: bool) -> None:
        entries = self._keys.setdefault(key, [])
        if not any(e.quantity == quantity and e.priority <= priority for e in entries):
            entries.append(_Entry(quantity, priority, custom))

    def _name_keys(self, name: str, quantity: Quantity) -> None:
        """A name as written in the spec: whole, and split at its first underscore (y_out as y with _out)."""
        self._key((name, None, None), quantity, 0, False)
        base, _, sub = name.partition("_")
        if base and sub:
            self._key((base, sub, None), quantity, 0, False)
        hat = _hat(name)
        if hat:
            self._key((f"{hat}_hat", None, None), quantity, 0, False)

    def _tensor(self, quantity: Quantity) -> None:
        name = quantity.symbol
        self.quantities[name] = quantity
        hat = _hat(name)
        latex = r"\hat{" + hat + "}" if hat else latex_name(name)
        element = r"\hat{" + hat + "}" if hat else latex_element_base(name)
        self._spellings[name] = _Spelling(name, latex, name, element)
        self._name_keys(name, quantity)

    def _output(self, quantity: Quantity) -> None:
        letter = self.notation.activation
        layer, cycle = quantity.layer, quantity.cycle
        assert layer is not None  # the output is the last layer's
        if quantity.symbol == f"{letter}_{layer}" and cycle is None:
            self.quantities[quantity.symbol] = quantity
            self._spellings[quantity.symbol] = self._tagged(letter, layer, None)
            self._name_keys(quantity.symbol, quantity)
        else:
            self._tensor(quantity)
        engine = f"z_{layer}" + (f"^({cycle})" if cycle is not None else "")  # the value behind the alias
        self._spellings.setdefault(engine, self._tagged(letter, layer, cycle))
        cycle_text = None if cycle is None else str(cycle)
        self._key((letter, layer, cycle_text), quantity, 0, letter != "z")
        if letter != "z":
            self._key(("z", layer, cycle_text), quantity, 1, False)

    def _layered(self, quantity: Quantity) -> None:
        role, layer, cycle = quantity.role, quantity.layer, quantity.cycle
        assert layer is not None  # a layered quantity belongs to its layer
        letter = self.notation.letter(role)
        self.quantities[quantity.symbol] = quantity
        self._spellings[quantity.symbol] = self._tagged(letter, layer, cycle)
        cycle_text = None if cycle is None else str(cycle)
        self._key((letter, layer, cycle_text), quantity, 0, letter != ENGINE_LETTERS[role])
        if letter != ENGINE_LETTERS[role]:
            self._key((ENGINE_LETTERS[role], layer, cycle_text), quantity, 1, False)

    def _parameters(self, layer: Layer) -> None:
        for name, role, letter, default in (
            (layer.weight, "fixed" if layer.fixed else "weight", self.notation.weight, "W"),
            (layer.bias, "bias", self.notation.bias, "b"),
        ):
            if name is None:
                continue
            quantity = Quantity(role, name, layer.name)
            self.quantities[name] = quantity
            base = name[: -len(layer.name) - 1] if name.endswith("_" + layer.name) else None
            if base and "_" not in base:
                self._spellings[name] = self._tagged(base, layer.name, None)
                self._key((base, layer.name, None), quantity, 0, False)
                self._key((name, None, None), quantity, 0, False)
            else:
                self._spellings[name] = _Spelling(name, latex_name(name), name, latex_element_base(name))
                self._name_keys(name, quantity)
            if letter != default and base == letter:
                self._key((default, layer.name, None), quantity, 1, False)

    def _tagged(self, letter: str, layer: str, cycle: int | None) -> _Spelling:
        """The spelling of `letter` of `layer` (and cycle) in the notation's layer style."""
        style = self.notation.layer
        if style == "subscript":
            text = f"{letter}_{layer}" + (f"^({cycle})" if cycle is not None else "")
            return _Spelling(text, latex_name(text), text, latex_element_base(text))
        head = latex_part(letter)
        tag = latex_part(layer)
        if style == "superscript":
            simple = cycle is None and _SIMPLE_SCRIPT.fullmatch(layer) is not None
            text_tag = layer if simple else "{" + layer + (f",({cycle})" if cycle is not None else "") + "}"
            latex = head + "^{" + tag + (f",({cycle})" if cycle is not None else "") + "}"
            return _Spelling(f"{letter}^{text_tag}", latex, f"{letter}^{text_tag}", latex)
        inner = layer + (f",{cycle}" if cycle is not None else "")
        latex = head + "^{(" + tag + (f",{cycle}" if cycle is not None else "") + ")}"
        return _Spelling(f"{letter}^({inner})", latex, f"{letter}^({inner})", latex)

    # --- printing -------------------------------------------------------------------------

    def quantity(self, role: str, layer: str | None = None, cycle: int | None = None) -> Quantity:
        """The quantity of `role` (of `layer`, and `cycle` for a recurrent layer's pre-activation, activation
        or delta). Roles without a layer: input, target, output, loss, learning_rate. Raises KeyError."""
        if role in ("input", "target", "output"):
            name = {"input": self.spec.input.name, "target": self.spec.target.name, "output": self.spec.output}[role]
            return self.quantities[name]
        if role == "loss":
            return Quantity("loss", "L")
        if role == "learning_rate":
            return Quantity("learning_rate", self.notation.learning_rate)
        if role == "function":
            label = next(label for label, owner in self._functions.items() if owner == layer)
            return Quantity("function", label, layer)
        for quantity in self.quantities.values():
            if quantity.role == role and quantity.layer == layer and quantity.cycle == cycle:
                return quantity
        if role == "activation" and layer == self.spec.layers[-1].name:
            return self.quantities[self.spec.output]
        raise KeyError(f"no {role} of layer {layer!r}" + (f" cycle {cycle}" if cycle else ""))

    def generic_latex(self, role: str) -> str:
        """Layer k's pre-activation, activation, delta or activation function in LaTeX, for sentences about
        every layer: s_k, \\delta_k, f_k by default; net^{(k)}, \\sigma in a course's notation."""
        if role == "function":
            letter = self.notation.function
            if letter != "f" and self._uniform:
                return latex_part(letter)
            return latex_part(letter) + "_k"
        head = latex_part(self.notation.letter(role))
        return head + {"subscript": "_k", "superscript": "^{k}", "parenthesized": "^{(k)}"}[self.notation.layer]

    def spell(self, quantity: Quantity, fmt: str = "text") -> str:
        """The printed spelling of a quantity (or an entry of one) in "text" or "latex"."""
        latex = fmt == "latex"
        role, symbol = quantity.role, quantity.symbol
        if role == "loss":
            return self.loss_latex() if latex else self.loss_text()
        if role == "learning_rate":
            return self.learning_rate_latex() if latex else self.notation.learning_rate
        if role == "function":
            return self.function_latex(symbol) if latex else self.function_text(symbol)
        if role == "gradient":
            of = self.entry_latex(symbol, quantity.entry) if latex else self.entry_text(symbol, quantity.entry)
            return self._derivative(of, latex)
        if role == "updated":
            base = self.latex(symbol) if latex else self.text(symbol)
            base = "{" + base + "}" if latex and "^" in base else base
            if not quantity.entry:
                return base + "'"
            indices = ",".join(quantity.entry)
            return base + "'" + ("_{" + indices + "}" if latex else f"[{indices}]")
        if quantity.entry:
            return self.entry_latex(symbol, quantity.entry) if latex else self.entry_text(symbol, quantity.entry)
        return self.latex(symbol) if latex else self.text(symbol)

    # --- reading -------------------------------------------------------------------------

    def loss_names(self) -> frozenset[str]:
        """Letters that name the loss in a derivative's numerator: L, E, l, J and the notation's."""
        names = {"L", "E", "l", "J", self.notation.loss}
        return frozenset(name for name in names if not self._taken(name))

    def _taken(self, letter: str) -> bool:
        return (letter, None, None) in self._keys

    def is_learning_rate(self, base: str) -> bool:
        return base in (self.notation.learning_rate, "alpha", "eta", "gamma", "lr") and not self._taken(base)

    def lookup(self, base: str, sub: str | None = None, sup: str | None = None) -> tuple[Quantity, bool] | None:
        """The quantity a written name means, and whether its superscript was part of the name (a layer or
        a cycle, rather than a power). `base` is the letter (a Greek letter by its name: delta), `sub` and
        `sup` the scripts' text without braces ("1", "out", "n,i", "(2)"); a transpose is not passed.
        Indices left over become the quantity's entry. None if it names nothing; raises NotationError
        when it names two things under this notation."""
        readings = self._readings(base, _clean(sub), _clean(sup))
        for conveniences in (False, True):  # δ alone for the output's delta only when nothing else reads
            for index, (key, indices, used_sup) in enumerate(readings):
                found = self._find(key, base)
                shorthand = found is not None and found.priority == CONVENIENCE and key[1] is None
                if found is None or shorthand != conveniences or (shorthand and (indices or used_sup)):
                    continue  # δ alone is the output's delta; δ_9 is no entry of it
                if indices is not None and not _indices(indices):
                    continue
                quantity = found.quantity if indices is None else found.quantity.at(*_indices(indices))
                if found.custom and key[1] is not None and indices is None and key[2] is None:
                    self._check_index_reading(readings[index + 1 :], quantity, base, sub)
                return quantity, used_sup
        for key, indices, used_sup in readings:  # w_{ji}^{(2)} for W_2: the letter's case aside
            folded = [
                q
                for (b, layer, cycle), entries in self._keys.items()
                if b.lower() == key[0].lower() and b != key[0] and (layer, cycle) == key[1:]
                for q in self._best(entries)
            ]
            if len({q.quantity for q in folded}) == 1 and (indices is None or _indices(indices)):
                quantity = folded[0].quantity
                return (quantity if indices is None else quantity.at(*_indices(indices))), used_sup
        return None

    def _check_index_reading(self, rest: list, quantity: Quantity, base: str, sub: str | None) -> None:
        """x_1 where the notation's letter x tags layer 1 and x is also a name: say both, and how to write each."""
        for key, indices, _ in rest:
            if key[1] is None and indices is not None:
                other = self._find(key, base)
                if other is not None and other.priority != CONVENIENCE and other.quantity != quantity.whole():
                    entry = other.quantity.at(*_indices(indices))
                    tagged = (
                        self.spell(quantity) if self.notation.layer != "subscript" else f"{base}^({quantity.layer})"
                    )
                    raise NotationError(
                        f"{base}_{sub} is ambiguous under this spec's notation: {quantity.describe()} or "
                        f"{entry.describe()}; write {tagged} or {self.spell(entry)}",
                        ambiguous=True,
                    )
                return

    def _best(self, entries: list[_Entry]) -> list[_Entry]:
        best = min(e.priority for e in entries)
        return [e for e in entries if e.priority == best]

    def _find(self, key: tuple[str, str | None, str | None], written: str) -> _Entry | None:
        entries = self._keys.get(key)
        if not entries:
            return None
        best = self._best(entries)
        if len({e.quantity for e in best}) > 1:
            meanings = " or ".join(f"{e.quantity.describe()}" for e in best)
            raise NotationError(
                f"{written} is ambiguous under this spec's notation: it may be {meanings}", ambiguous=True
            )
        return best[0]

    def _readings(self, base: str, sub: str | None, sup: str | None) -> list[tuple[tuple, str | None, bool]]:
        """The ways to read base_sub^sup, in the order the notation prefers them: (key, indices, sup used)."""
        out: list[tuple[tuple, str | None, bool]] = []
        paren = sup is not None and sup.startswith("(") and sup.endswith(")")
        tag, cycle = _tag(sup[1:-1] if paren else sup) if sup is not None else (None, None)
        superscript_first = self.notation.layer == "superscript" and sup is not None and not paren
        if paren and sup is not None:
            if sub:
                out.append(((base, sub, sup[1:-1]), None, True))  # s_rec^(2): a cycle
            out.append(((base, tag, cycle), sub or None, True))  # W^{(1)}_{ji}, s^{(rec,2)}
        elif superscript_first:
            out.append(((base, tag, cycle), sub or None, True))  # h^2_1 in a superscript course
        if sub:
            out.append(((base, sub, None), None, False))
            if sup is not None and not paren and not superscript_first:
                out.append(((base, tag, cycle), sub, True))  # W^3_{1,1}
            if "," in sub or len(sub.strip("()")) <= 2:
                out.append(((base, None, None), sub, False))  # x_{n,i}, w_{ji}
        else:
            out.append(((base, None, None), None, False))
            if sup is not None and not paren and not superscript_first:
                out.append(((base, tag, cycle), None, True))  # W^3 where W alone names nothing
            head = base.rstrip("0123456789")
            if head and head != base:
                out.append(((head, base[len(head) :], None), None, False))  # W1 -> W_1
        return out

    def function(self, base: str, sub: str | None = None) -> tuple[str, str | None] | None:
        """A written function name: ("layer", layer) for one layer's activation (f_1, sigma_1, a `{function:
        f_3}` label), ("bare", None) for the letter alone (f, or the notation's), None if it is no function
        name. Raises NotationError for the letter with a layer that does not exist."""
        sub = _clean(sub)
        written = f"{base}_{sub}" if sub else base
        if written in self._functions:
            return "layer", self._functions[written]
        letters = dict.fromkeys((self.notation.function, "f"))
        if base in letters and sub is None:
            return "bare", None
        if base in letters and sub is not None:
            if any(layer.name == sub for layer in self.spec.layers):
                return "layer", sub
            shown = ", ".join(self.function_text(label) for label in self._functions)
            raise NotationError(f"{written}: there is no layer {sub!r} (activations: {shown})")
        return None

    def _label_of(self, layer: str) -> str:
        return next(label for label, owner in self._functions.items() if owner == layer)

    def function_letters(self) -> list[str]:
        """The function names this network's answers may use, for messages."""
        return sorted(
            {*(self.function_text(label) for label in self._functions), *self._functions, self.notation.function, "f"}
        )

    def resolve(self, written: str) -> Quantity:
        """The quantity a written name means: a symbol in the spec's notation or the default spelling
        (net^{(2)}_1, W^{(1)}, a^{(0)}, \\hat{y}), a gradient (dL/dW_1, \\frac{\\partial E}{\\partial w^{(2)}_{1,1}},
        \\nabla_W L, \\Delta W_1, \\partial W_1), an updated parameter (W', W^{t+1}, W^{new}), the loss or the
        learning rate. Raises NotationError saying what is unknown or ambiguous."""
        text = " ".join(written.replace("$", " ").split())
        if not text or len(text) > 300:
            raise NotationError(f"cannot read the name {written[:40]!r}")
        gradient = _gradient_of(text, self.loss_names())
        if gradient is not None:
            of = self.resolve(gradient)
            if of.role in ("loss", "learning_rate", "function", "gradient", "updated"):
                raise NotationError(f"{written}: a derivative of the loss by {of.describe()}")
            return Quantity("gradient", of.symbol, of.layer, of.cycle, of.entry)
        parsed = _parse_name(text)
        if parsed is None:
            raise NotationError(f"cannot read {written!r} as a name")
        base, sub, sup, primes, index = parsed
        if base in self.loss_names() and not (sub or sup or primes or index):
            return Quantity("loss", "L")
        if self.is_learning_rate(base) and not (sub or sup or primes or index):
            return Quantity("learning_rate", self.notation.learning_rate)
        updated = primes > 0 or _is_update_mark(sup) or _is_update_mark(sub)
        sub = None if _is_update_mark(sub) else sub
        sup = None if _is_update_mark(sup) else sup
        found = self.lookup(base, sub, sup)
        if found is None or (sup is not None and not found[1]):
            function = self.function(base, sub) if not sup and not index else None
            if function is not None and function[0] == "layer" and function[1] is not None:
                return Quantity("function", self._label_of(function[1]), function[1])
            raise NotationError(f"unknown name {written!r}; this network knows {self.known()}")
        quantity = found[0]
        if index:
            if quantity.entry:
                raise NotationError(f"{written}: indices given twice")
            quantity = quantity.at(*index)
        if updated:
            if quantity.role not in ("weight", "bias"):
                raise NotationError(f"{written}: only a parameter has an updated value, not {quantity.describe()}")
            return Quantity("updated", quantity.symbol, quantity.layer, None, quantity.entry)
        return quantity

    def known(self) -> str:
        """Every symbol in the notation's spelling, for messages."""
        return ", ".join(self.text(name) for name in self.quantities)


_CACHE: dict[int, Names] = {}


# --- reading helpers --------------------------------------------------------------------------

_FONT = re.compile(
    r"\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit|mathsf|text|textrm|operatorname|mathcal)\s*"
    r"\{([^{}]*)\}"
)
_HAT = re.compile(r"\\(?:hat|widehat)\s*\{\s*([A-Za-z])\s*\}|\\(?:hat|widehat)\s+([A-Za-z])")
_UPDATE_MARKS = frozenset({"t+1", "(t+1)", "new", "+", "next"})


def _clean(script: str | None) -> str | None:
    """A script's text without fonts, braces and spaces: _{\\text{out}} -> out."""
    if script is None:
        return None
    previous = None
    while previous != script:
        previous, script = script, _FONT.sub(r"\1", script)
    script = script.replace("{", "").replace("}", "").replace(" ", "").replace("\\", "")
    return script or None


def _tag(text: str | None) -> tuple[str | None, str | None]:
    """A superscript's layer and cycle: "2" -> (2, None); "rec,2" and "rec,(2)" -> (rec, 2)."""
    if text is None:
        return None, None
    layer, comma, cycle = text.partition(",")
    cycle = cycle.strip("()")
    if comma and cycle.isdigit():
        return layer, cycle
    return text, None


def _indices(text: str) -> tuple[str, ...]:
    """ "n,i" -> (n, i); "ji" -> (j, i); "12" -> (1, 2); "(1,2)" -> (1, 2). Empty if these are no indices."""
    text = text.strip("()")
    parts = [p for p in text.split(",")] if "," in text else list(text) if len(text) <= 2 else []
    if not parts or not all(p.isdigit() or (p.isalpha() and len(p) == 1) for p in parts):
        return ()
    return tuple(parts)


def _is_update_mark(script: str | None) -> bool:
    return _clean(script) in _UPDATE_MARKS if script is not None else False


def _split_top(text: str, sep: str) -> list[str]:
    depth, parts, start = 0, [], 0
    for i, char in enumerate(text):
        depth += char in "{(["
        depth -= char in "})]"
        if char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The text inside the braces opening at `start`, and the position after them."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        depth += text[i] == "{"
        depth -= text[i] == "}"
        if depth == 0:
            return text[start + 1 : i], i + 1
    return None


def _loss_part(text: str, losses: frozenset[str]) -> bool:
    """Whether `text` is the loss after its d or \\partial: L, E, \\mathcal{L}, l(\\theta), L(\\vec t; \\vec y)."""
    text = _FONT.sub(r"\1", text).strip()
    text = re.sub(r"\(.*\)\Z", "", text).strip()
    return text in losses


def _differential(text: str) -> str | None:
    """X in "\\partial X", "dX", "\\mathrm{d}X", "d X"."""
    text = text.strip()
    for mark in (r"\partial", r"\mathrm{d}", r"\text{d}", r"\mathrm d", "d"):
        if text.startswith(mark):
            rest = text[len(mark) :].strip()
            return rest or None
    return None


def _gradient_of(text: str, losses: frozenset[str]) -> str | None:
    """The name a gradient is taken by, if `text` writes one; None otherwise."""
    frac = re.match(r"\\[dt]?frac\s*", text)
    if frac:
        top = _braced(text, frac.end())
        bottom = _braced(text, top[1]) if top else None
        if top and bottom and bottom[1] == len(text):
            upper, lower = _differential(top[0]), _differential(bottom[0])
            if upper is not None and lower is not None and _loss_part(upper, losses):
                return lower
        return None
    parts = _split_top(text, "/")
    if len(parts) == 2:
        upper, lower = _differential(parts[0]), _differential(parts[1])
        if upper is not None and lower is not None and _loss_part(upper, losses):
            return lower
        return None
    nabla = re.match(r"\\nabla\s*_\s*", text)
    if nabla:
        rest = text[nabla.end() :]
        braced = _braced(rest, 0)
        of, after = (braced[0], rest[braced[1] :]) if braced else (rest[:1], rest[1:])
        if _loss_part(after, losses) or not after.strip():
            return of
        return None
    for mark in (r"\Delta", "Delta", "Δ", r"\partial", "∂"):
        if text.startswith(mark) and len(text) > len(mark) and not text[len(mark)].isalnum():
            return text[len(mark) :].strip() or None
    return None


def _parse_name(text: str) -> tuple[str, str | None, str | None, int, tuple[str, ...]] | None:
    """A written name as (base, subscript, superscript, primes, [indices]); None if it is not one name."""
    text = _HAT.sub(lambda m: (m.group(1) or m.group(2)) + "_hat", text)
    previous = None
    while previous != text:
        previous, text = text, _FONT.sub(r"\1", text)
    text = text.replace("\\left", "").replace("\\right", "").strip()
    while text.startswith("{"):  # {w^{(1)}}': the braces only keep the prime off the layer's superscript
        braced = _braced(text, 0)
        if braced is None:
            return None
        text = braced[0].strip() + text[braced[1] :]
    match = re.match(r"\\?([A-Za-z][A-Za-z0-9]*|[α-ωΔ])", text)
    if not match:
        return None
    base = UNICODE_GREEK.get(match.group(1), match.group(1))
    pos = match.end()
    if base.endswith("_hat") is False and text.startswith("_hat", pos):
        base, pos = base + "_hat", pos + 4
    sub = sup = None
    primes = 0
    index: tuple[str, ...] = ()
    while pos < len(text):
        char = text[pos]
        if char in "_^":
            pos += 1
            braced = _braced(text, pos)
            if braced:
                script, pos = braced
            elif pos < len(text) and text[pos] == "(":
                close = text.find(")", pos)
                if close < 0:
                    return None
                script, pos = text[pos : close + 1], close + 1
            else:
                word = re.match(r"[A-Za-z0-9]+|\\[A-Za-z]+|\S", text[pos:])
                if not word:
                    return None
                script, pos = word.group(), pos + word.end()
            marks = _split_top(_clean(script) or "", ",")
            if char == "^" and (_clean(script) in ("prime", "'") or _is_update_mark(script)):
                primes += 1  # W^{\prime}, {W^{(1)}}^{t+1}: the updated value, as W' is
                continue
            if char == "^" and len(marks) > 1 and _is_update_mark(marks[-1]):
                primes, script = primes + 1, ",".join(marks[:-1])  # w^{(2),t+1}: layer 2, updated
            if char == "_":
                if sub is not None:
                    return None
                sub = script
            else:
                if sup is not None:
                    return None
                sup = script
        elif char in "'′":
            primes, pos = primes + 1, pos + 1
        elif char == "[":
            close = text.find("]", pos)
            if close < 0:
                return None
            index = tuple(part.strip() for part in text[pos + 1 : close].split(","))
            pos = close + 1
        elif char == " ":
            pos += 1
        else:
            return None
    return base, sub, sup, primes, index


#: Greek letters as Unicode characters -> their LaTeX command names: the printer's names and the
#: answer lexer's (verify/lexer.py) reading of a typed α.
UNICODE_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "η": "eta",
    "θ": "theta",
    "λ": "lambda",
    "μ": "mu",
    "σ": "sigma",
    "τ": "tau",
    "φ": "phi",
    "ψ": "psi",
    "ω": "omega",
    "Δ": "Delta",
}
