"""load_spec: read a spec from a path, YAML text or a dict and validate it into a NetworkSpec.

Every problem raises SpecError naming the source, the line and the key path, and says what
was expected. Nothing is returned until the whole spec is valid, so later stages never see
a half-checked spec. This module knows nothing of SymPy: formulas go through mathparse.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import unicodedata
from pathlib import Path
from typing import Any, NoReturn

from symbackprop.mathparse import FUNCTIONS, BinOp, Call, MathSyntaxError, Name, Neg, Node, parse
from symbackprop.notation import ENGINE_LETTERS, LAYER_STYLES, LETTER, LETTER_KEYS, RESERVED_LETTERS, Notation
from symbackprop.options import FORMS, MAX_DIGITS, SECTIONS
from symbackprop.spec.errors import SpecError, quote
from symbackprop.spec.model import (
    ACTIVATIONS,
    CLASS_LOSSES,
    LABELS,
    LOSSES,
    MARGIN_LOSSES,
    REDUCTIONS,
    SAMPLE_LAYOUTS,
    WEIGHT_ORIENTATIONS,
    Activation,
    Convention,
    Layer,
    Loss,
    NetworkSpec,
    Question,
    RandomData,
    RenderOptions,
    Tensor,
    Training,
)
from symbackprop.spec.wiring import Selection, check_wiring, read_fixed, read_inputs, read_recurrent
from symbackprop.spec.yamlsafe import MAX_BYTES, join, load_yaml, plain

MAX_LAYERS = 100
MAX_UNITS = 10_000
MAX_STEPS = 10_000
MAX_LAYER_NAME = 40
#: Longest name of an input, a target, a weight or a function.
MAX_NAME = 40
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DATA_ENTRY = re.compile(r"^data\..*\]\[\d+\]\Z")  # data.x[0][1]: one number; too many to keep in spec.lines

TOP_KEYS = (
    "name",
    "description",
    "convention",
    "input",
    "target",
    "output",
    "layers",
    "loss",
    "data",
    "training",
    "notation",
    "questions",
    "render",
)
QUESTION_KEYS = ("id", "ask", "forms", "text")
RANDOM_KEYS = ("seed", "scale", "samples")
MAX_QUESTIONS = 200
MAX_TARGET_TEXT = 300
MAX_SAMPLES = 10_000
LAYER_KEYS = ("name", "units", "activation", "bias", "weight", "inputs", "fixed", "recurrent")
#: Names that already mean something in formulas, so no tensor may take them.
RESERVED: dict[str, str] = {
    "L": "it names the loss",
    "E": "it names the loss",
    "sigma": "it names sigmoid",
    "random": "it is the key of random numbers under data",
    **{name: "it is a function name" for name in FUNCTIONS},
    **{name: "it is an activation name" for name in ACTIVATIONS},
}
_EXPECT = {
    "name": "a string",
    "input": "a mapping like {name: x, size: 2}",
    "target": "a mapping like {name: y, size: 1} or the word input",
    "layers": "a list of layers",
    "loss": "a loss, e.g. half_squared_error",
    "size": "a positive integer",
    "units": "a positive integer",
    "activation": "an activation, e.g. relu",
    "learning_rate": "a positive number",
}


def load_spec(source: str | os.PathLike[str] | dict[str, Any]) -> NetworkSpec:
    """Load and validate a spec.

    `source` is a path (Path or str naming an existing file), YAML text (any other str) or an
    already-parsed dict. A one-line str ending in .yaml/.yml that names no file is "file not found".
    """
    if isinstance(source, dict):
        return _Validator("<dict>", {}, from_yaml=False).spec(plain(source))
    if isinstance(source, os.PathLike):
        return _load_file(Path(source), os.fspath(source))
    if isinstance(source, str):
        one_line = "\n" not in source and source.strip() != ""
        if one_line and os.path.isfile(source):
            return _load_file(Path(source), source)
        if one_line and source.strip().lower().endswith((".yaml", ".yml")):
            return _load_file(Path(source.strip()), source.strip())
        return _load_text(source, "<string>")
    raise SpecError(
        f"expected a path, YAML text or a dict, got {type(source).__name__}", key="", line=None, source="<spec>"
    )


def _load_file(path: Path, name: str) -> NetworkSpec:
    try:
        if path.is_dir():
            raise SpecError("is a directory, not a spec file", key="", line=None, source=name)
        if path.stat().st_size > MAX_BYTES:
            raise SpecError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", key="", line=None, source=name)
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("file not found", key="", line=None, source=name) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", key="", line=None, source=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError(f"not UTF-8 text (byte {exc.start})", key="", line=line, source=name) from None
    return _load_text(text, name)


def _load_text(text: str, name: str) -> NetworkSpec:
    if text.strip() == "":
        raise SpecError("empty spec", key="", line=1, source=name)
    raw, lines = load_yaml(text, name)
    return _Validator(name, lines).spec(raw)


def _show(value: Any) -> str:
    """A value as a user wrote it, for "got ..." in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return quote(value)


def _suggest(word: Any, options: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _names_in(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.id}
    if isinstance(node, Neg):
        return _names_in(node.operand)
    if isinstance(node, BinOp):
        return _names_in(node.left) | _names_in(node.right)
    if isinstance(node, Call):
        return set().union(*(_names_in(arg) for arg in node.args))
    return set()


class _Validator:
    """Checks one raw spec; every error goes through fail() so it names source, line and key."""

    def __init__(self, source: str, lines: dict[str, int], from_yaml: bool = True) -> None:
        self.source = source
        self.lines = lines
        self.from_yaml = from_yaml
        self.selections: dict[str, tuple[int, Selection]] = {}  # generated fixed weights
        self.fan_in: dict[str, int] = {}

    # -- error reporting and small typed readers -------------------------------------------

    def line(self, path: str) -> int | None:
        """The line of `path`, or of its nearest parent that has one (a missing key: its mapping)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return 1 if self.from_yaml else None

    def fail(self, path: str, message: str) -> NoReturn:
        raise SpecError(message, key=path, line=self.line(path), source=self.source)

    def mapping(
        self, value: Any, path: str, keys: tuple[str, ...], required: tuple[str, ...] = (), expected: str = "a mapping"
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected {expected}, got {_show(value)}")
        for key in value:
            if key not in keys:
                self.fail(
                    join(path, key),
                    f"unknown key {quote(key)} (expected one of: {', '.join(keys)}{_suggest(key, keys)})",
                )
        for key in required:
            if key not in value:
                self.fail(join(path, key), f"required key is missing; expected {_EXPECT.get(key, 'a value')}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_show(value)}")
        return value

    def positive_int(self, value: Any, path: str, limit: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(path, f"expected a positive integer, got {_show(value)}")
        if value > limit:
            self.fail(path, f"{_show(value)} is more than the limit of {limit}")
        return value

    def number(self, value: Any, path: str, positive: bool = False) -> float:
        kind = "a positive number" if positive else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected {kind}, got {_show(value)}")
        try:
            result = float(value)
        except OverflowError:
            self.fail(path, "expected a finite number, got a number too large for float64")
        if not math.isfinite(result):
            self.fail(path, f"expected a finite number, got {_show(value)}")
        if positive and result <= 0:
            self.fail(path, f"expected {kind}, got {_show(value)}")
        return result

    def identifier(self, value: Any, path: str, what: str) -> str:
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            self.fail(
                path,
                f"expected a {what} made of letters, digits and _ starting with a letter (like W_1), "
                f"got {_show(value)}",
            )
        if len(value) > MAX_NAME:
            self.fail(path, f"a {what} is at most {MAX_NAME} characters, got {len(value)}")
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...], what: str) -> str:
        if value not in choices:
            self.fail(
                path, f"unknown {what} {_show(value)} (expected {' or '.join(choices)}{_suggest(value, choices)})"
            )
        return value

    def formula(self, value: Any, path: str, names: set[str], must_use: str) -> tuple[Node, str]:
        if not isinstance(value, str):
            self.fail(path, f"expected a formula as a string, got {_show(value)}")
        try:
            node = parse(value, names)
        except MathSyntaxError as exc:
            where = "" if "position" in str(exc) else f" (at position {exc.position + 1})"
            self.fail(path, f"cannot read the formula {quote(value)}: {exc}{where}")
        if must_use not in _names_in(node):
            self.fail(path, f"the formula {quote(value)} does not use {must_use}, so its derivative would be zero")
        return node, value

    # -- the sections ------------------------------------------------------------------------

    def spec(self, raw: Any) -> NetworkSpec:
        if not isinstance(raw, dict):
            self.fail(
                "",
                f"the top level must be a mapping of keys (name, input, target, layers, loss, ...), got {_show(raw)}",
            )
        top = self.mapping(raw, "", TOP_KEYS, required=("name", "input", "target", "layers", "loss"))
        name = self.text(top["name"], "name")
        description = "" if top.get("description") is None else self.text(top["description"], "description")
        convention = self.convention(top.get("convention"))
        notation = self.notation(top.get("notation"))
        inp = self.tensor(top["input"], "input", "x")
        target, target_is_input = self.target(top["target"], inp)
        output = "y_out" if top.get("output") is None else self.identifier(top["output"], "output", "name")
        layers = self.layers(top["layers"], inp, notation)
        self.symbols(inp, target, target_is_input, output, layers, top["layers"], notation)
        last = layers[-1]
        if last.units != target.size:
            owner = f"the target (the input {inp.name!r})" if target_is_input else f"the target {target.name!r}"
            self.fail(
                f"layers[{len(layers) - 1}].units",
                f"the last layer has {_plural(last.units, 'unit')} but {owner} has size {target.size}; they must match",
            )
        loss = self.loss(top["loss"], output, target.name)
        data = self.generated(
            convention, layers, self.data(top.get("data"), convention, inp, target, target_is_input, layers, loss)
        )
        training = self.training(top.get("training"))
        render = self.render(top.get("render"))
        questions = self.questions(top.get("questions"))
        random = self.random(top.get("data"))
        return NetworkSpec(
            name=name,
            input=inp,
            target=target,
            target_is_input=target_is_input,
            output=output,
            layers=layers,
            loss=loss,
            convention=convention,
            description=description,
            data=data,
            training=training,
            render=render,
            source=self.source,
            lines={k: v for k, v in self.lines.items() if not _DATA_ENTRY.match(k)},
            notation=notation,
            questions=questions,
            random=random,
        )

    def convention(self, value: Any) -> Convention:
        if value is None:
            return Convention()
        conv = self.mapping(
            value, "convention", ("weights", "samples"), expected="a mapping like {weights: out_in, samples: columns}"
        )
        weights = self.choice(conv.get("weights", "out_in"), "convention.weights", WEIGHT_ORIENTATIONS, "weights")
        samples = self.choice(conv.get("samples", "columns"), "convention.samples", SAMPLE_LAYOUTS, "samples")
        return Convention(weights=weights, samples=samples)

    def notation(self, value: Any) -> Notation:
        """The `notation:` block: one letter per quantity, each its own, and a layer style."""
        if value is None:
            return Notation()
        spec = self.mapping(
            value,
            "notation",
            (*LETTER_KEYS[:-1], "layer", LETTER_KEYS[-1]),
            expected="a mapping like {preactivation: net, activation: a, layer: parenthesized}",
        )
        letters: dict[str, str] = {}
        for key in LETTER_KEYS:
            if key not in spec:
                continue
            letter = spec[key]
            path = f"notation.{key}"
            if not isinstance(letter, str) or not LETTER.match(letter):
                self.fail(
                    path,
                    f"expected a letter or a name made of letters and digits, without _ (like a, net or "
                    f"sigma), got {_show(letter)}",
                )
            if letter in RESERVED_LETTERS:
                self.fail(
                    path,
                    f"{quote(letter)} cannot be the {key.replace('_', ' ')}'s letter: it already means "
                    f"{RESERVED_LETTERS[letter]}",
                )
            letters[key] = letter
        layer = self.choice(spec.get("layer", "subscript"), "notation.layer", LAYER_STYLES, "layer style")
        notation = Notation(**letters, layer=layer)
        owners: dict[str, str] = {}
        for key in LETTER_KEYS:
            letter = notation.letter(key)
            if letter in owners:
                other = owners[letter]
                given, partner = (key, other) if key in letters else (other, key)
                default = partner not in letters
                hint = f"; give notation.{partner} a letter of its own too" if default else ""
                self.fail(
                    f"notation.{given}",
                    f"{letter!r} is already the letter of the {partner.replace('_', ' ')}"
                    f"{' (its default)' if default else ''}: every quantity needs its own "
                    f"letter{hint}",
                )
            owners[letter] = key
        return notation

    def tensor(self, value: Any, path: str, default: str) -> Tensor:
        spec = self.mapping(
            value, path, ("name", "size"), required=("size",), expected=f"a mapping like {{name: {default}, size: 2}}"
        )
        name = self.identifier(spec.get("name", default), join(path, "name"), "name")
        return Tensor(name, self.positive_int(spec["size"], join(path, "size"), MAX_UNITS))

    def target(self, value: Any, inp: Tensor) -> tuple[Tensor, bool]:
        if value == "input":
            return inp, True
        if isinstance(value, str):
            self.fail(
                "target",
                f"expected a mapping like {{name: y, size: 1}} or the word input, got {_show(value)}"
                f"{_suggest(value, ['input'])}",
            )
        return self.tensor(value, "target", "y"), False

    def layers(self, value: Any, inp: Tensor, notation: Notation) -> tuple[Layer, ...]:
        if not isinstance(value, list) or not value:
            self.fail("layers", f"expected a non-empty list of layers, got {_show(value)}")
        if len(value) > MAX_LAYERS:
            self.fail("layers", f"{len(value)} layers is more than the limit of {MAX_LAYERS}")
        layers: list[Layer] = []
        seen: dict[str, int] = {}
        previous = inp.name
        for index, item in enumerate(value):
            path = f"layers[{index}]"
            spec = self.mapping(
                item,
                path,
                LAYER_KEYS,
                required=("name", "units", "activation"),
                expected="a mapping like {name: '1', units: 3, activation: relu}",
            )
            name = self.layer_name(spec["name"], join(path, "name"))
            if name in seen:
                self.fail(
                    join(path, "name"),
                    f"duplicate layer name {name!r} (already used by layers[{seen[name]}]"
                    f"{self.at(f'layers[{seen[name]}]')})",
                )
            if name == inp.name:
                self.fail(join(path, "name"), f"layer name {name!r} is already the input's name")
            seen[name] = index
            units = self.positive_int(spec["units"], join(path, "units"), MAX_UNITS)
            activation = self.activation(spec["activation"], join(path, "activation"))
            if activation.kind == "softmax" and units == 1:
                self.fail(
                    join(path, "activation"),
                    f"softmax over 1 unit is the constant 1 (its derivative is 0: "
                    f"nothing before layer {name!r} would learn); use sigmoid for "
                    f"one unit, or give the layer 2 or more units",
                )
            bias = spec.get("bias", True)
            if not isinstance(bias, bool):
                self.fail(join(path, "bias"), f"expected true or false, got {_show(bias)}")
            weight = (
                self.identifier(spec["weight"], join(path, "weight"), "weight name")
                if "weight" in spec
                else f"{notation.weight}_{name}"
            )
            inputs = read_inputs(spec["inputs"], join(path, "inputs"), self.fail) if "inputs" in spec else (previous,)
            fixed, selection = read_fixed(spec.get("fixed", False), join(path, "fixed"), self.fail)
            cycles = (
                read_recurrent(spec["recurrent"], join(path, "recurrent"), self.fail)
                if spec.get("recurrent") is not None
                else 1
            )
            if selection is not None:
                self.selections[weight] = (index, selection)
            layers.append(
                Layer(
                    name=name,
                    units=units,
                    activation=activation,
                    weight=weight,
                    bias=f"{notation.bias}_{name}" if bias else None,
                    inputs=inputs,
                    line=self.lines.get(path, 0),
                    fixed=fixed,
                    cycles=cycles,
                )
            )
            previous = name
        self.fan_in = check_wiring(tuple(layers), inp.name, inp.size, self.fail, _suggest)
        for index, selection in self.selections.values():
            layer = layers[index]
            reach = selection.every * (layer.units - 1) + selection.start
            if reach > self.fan_in[layer.name]:
                self.fail(
                    f"layers[{index}].fixed",
                    f"selecting every {selection.every} input(s) from input "
                    f"{selection.start} for {layer.units} units needs {reach} "
                    f"inputs, but layer {layer.name!r} has {self.fan_in[layer.name]}",
                )
        return tuple(layers)

    def generated(
        self, conv: Convention, layers: tuple[Layer, ...], data: dict[str, tuple[tuple[float, ...], ...]]
    ) -> dict[str, tuple[tuple[float, ...], ...]]:
        """Fixed weights made by their rule, placed into the data; giving them there as well is an error."""
        made = {}
        for weight, (index, selection) in self.selections.items():
            if weight in data:
                self.fail(
                    f"data.{weight}",
                    f"{weight!r} is generated by layers[{index}].fixed; remove it from data or give fixed: true",
                )
            layer = layers[index]
            made[weight] = selection.matrix(layer.units, self.fan_in[layer.name], conv)
        return {**data, **made}

    def at(self, path: str) -> str:
        return f" at line {self.lines[path]}" if path in self.lines else ""

    def layer_name(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail(path, f"expected a string or an integer, got {_show(value)}")
        name = str(value)
        if not name:
            self.fail(path, "a layer name cannot be empty")
        if len(name) > MAX_LAYER_NAME:
            self.fail(path, f"a layer name is at most {MAX_LAYER_NAME} characters, got {len(name)}")
        if any(c.isspace() or unicodedata.category(c).startswith("C") for c in name):
            self.fail(path, f"a layer name cannot contain spaces or control characters, got {name!r}")
        if "^" in name:
            self.fail(path, f"a layer name cannot contain ^ (it marks a recurrent layer's cycle), got {name!r}")
        return name

    def activation(self, value: Any, path: str) -> Activation:
        expected = "relu, tanh, sigmoid, identity, softmax, leaky_relu, {expr: ...} or {function: ...}"
        if not isinstance(value, (str, dict)):
            self.fail(path, f"expected an activation ({expected}), got {_show(value)}")
        if isinstance(value, str):
            if value not in ACTIVATIONS:
                self.fail(path, f"unknown activation {value!r} (expected {expected}{_suggest(value, ACTIVATIONS)})")
            return Activation(kind=value)
        spec = self.mapping(value, path, ("type", "expr", "function", "alpha"))
        forms = [key for key in ("type", "expr", "function") if key in spec]
        if len(forms) != 1:
            self.fail(path, f"give exactly one of type, expr or function, got {', '.join(forms) or 'none'}")
        if "alpha" in spec and spec.get("type") != "leaky_relu":
            self.fail(join(path, "alpha"), "alpha applies only to {type: leaky_relu}")
        if "expr" in spec:
            node, text = self.formula(spec["expr"], join(path, "expr"), {"x"}, "x")
            return Activation(kind="expr", expr=node, source=text)
        if "function" in spec:
            return Activation(
                kind="function", function=self.identifier(spec["function"], join(path, "function"), "function name")
            )
        kind = spec["type"]
        if kind not in ACTIVATIONS:
            self.fail(
                join(path, "type"),
                f"unknown activation {_show(kind)} (expected {', '.join(ACTIVATIONS)}"
                f"{_suggest(kind, ACTIVATIONS) if isinstance(kind, str) else ''})",
            )
        alpha = self.number(spec.get("alpha", 0.01), join(path, "alpha"))
        return Activation(kind=kind, alpha=alpha)

    def symbols(
        self,
        inp: Tensor,
        target: Tensor,
        target_is_input: bool,
        output: str,
        layers: tuple[Layer, ...],
        raw_layers: list[dict[str, Any]],
        notation: Notation,
    ) -> None:
        """Every symbol names one thing: tensors, weights, biases and each layer's s, z, delta, f, in the
        engine's letters and in the notation's."""
        owners: dict[str, str] = {}
        reserved = dict(RESERVED)
        for key, letter in notation.changed().items():
            if key in ("loss", "function", "learning_rate"):
                reserved.setdefault(letter, f"it names the {key.replace('_', ' ')} (notation.{key})")

        def claim(symbol: str, label: str, owner: str, path: str) -> None:
            if symbol in reserved:
                self.fail(path, f"{label} is reserved: {reserved[symbol]}")
            if symbol in owners:
                self.fail(path, f"{label} is already {owners[symbol]}")
            owners[symbol] = owner

        claim(inp.name, f"input name {inp.name!r}", "the input's name", "input.name")
        if not target_is_input:
            claim(target.name, f"target name {target.name!r}", "the target's name", "target.name")
        claim(output, f"output alias {output!r}", "the output alias", "output")
        for index, layer in enumerate(layers):
            path = f"layers[{index}]"
            of = f"of layer {layer.name!r}"
            explicit = "weight" in raw_layers[index]
            weight_label = f"weight name {layer.weight!r}" + ("" if explicit else f" (the default {of})")
            claim(layer.weight, weight_label, f"the weight {of}", join(path, "weight" if explicit else "name"))
            if layer.bias:
                claim(layer.bias, f"bias name {layer.bias!r} {of}", f"the bias {of}", join(path, "name"))
            for prefix, role in (
                ("s", "pre-activation"),
                ("z", "activation"),
                ("delta", "delta"),
                ("f", "activation function"),
            ):
                symbol = f"{prefix}_{layer.name}"
                claim(symbol, f"{role} {symbol!r} {of}", f"the {role} {of}", join(path, "name"))
        named = {inp.name: "the input's name", target.name: "the target's name", output: "the output alias"}
        for layer in layers:  # the notation's spellings must not be names the spec gives to something else
            named.update(
                {
                    name: f"the {what} of layer {layer.name!r}"
                    for name, what in ((layer.weight, "weight"), (layer.bias, "bias"))
                    if name
                }
            )
        for index, layer in enumerate(layers):
            for key, role in (
                ("preactivation", "pre-activation"),
                ("activation", "activation"),
                ("delta", "delta"),
                ("function", "activation function"),
            ):
                letter = notation.letter(key)
                symbol = f"{letter}_{layer.name}"
                if (
                    letter == ENGINE_LETTERS.get(key, "f")
                    or symbol not in named
                    or (key == "activation" and symbol == output and layer is layers[-1])
                ):
                    continue
                self.fail(
                    f"layers[{index}].name",
                    f"{role} {symbol!r} of layer {layer.name!r} (notation.{key}) is already {named[symbol]}",
                )
        spelled = {
            f"{notation.letter(key)}_{layer.name}": f"the {role} of layer {layer.name!r} (notation.{key})"
            for layer in layers
            for key, role in (("preactivation", "pre-activation"), ("activation", "activation"), ("delta", "delta"))
        }
        for index, layer in enumerate(layers):
            function = layer.activation.function
            if function is None or function == f"f_{layer.name}":
                continue
            path = f"layers[{index}].activation.function"
            if function in RESERVED:
                self.fail(path, f"function name {function!r} is reserved: {RESERVED[function]}")
            if function in spelled:
                self.fail(path, f"function name {function!r} is already {spelled[function]}; give it a name of its own")
            owner = owners.get(function)
            if owner:
                self.fail(
                    path,
                    f"function name {function!r} is already {owner}; name it f_{layer.name} "
                    "or give it a name of its own",
                )

    def loss(self, value: Any, output: str, target_name: str) -> Loss:
        expected = f"{', '.join(LOSSES[:-1])}, {LOSSES[-1]} or {{expr: ...}}"
        if not isinstance(value, (str, dict)):
            self.fail("loss", f"expected a loss ({expected}), got {_show(value)}")
        if isinstance(value, str):
            if value not in LOSSES:
                self.fail("loss", f"unknown loss {value!r} (expected {expected}{_suggest(value, LOSSES)})")
            return Loss(kind=value)
        spec = self.mapping(value, "loss", ("type", "expr", "reduction", "margin", "labels"))
        forms = [key for key in ("type", "expr") if key in spec]
        if len(forms) != 1:
            self.fail("loss", f"give exactly one of type or expr, got {', '.join(forms) or 'none'}")
        reduction = self.choice(spec.get("reduction", "sum"), "loss.reduction", REDUCTIONS, "reduction")
        if "margin" in spec and spec.get("type") not in MARGIN_LOSSES:
            self.fail("loss.margin", f"margin applies only to {' and '.join(f'{{type: {k}}}' for k in MARGIN_LOSSES)}")
        if "labels" in spec and spec.get("type") not in CLASS_LOSSES:
            self.fail("loss.labels", f"labels applies only to {' and '.join(f'{{type: {k}}}' for k in CLASS_LOSSES)}")
        labels = self.choice(spec.get("labels", "one_hot"), "loss.labels", LABELS, "labels")
        if "expr" in spec:
            node, text = self.formula(spec["expr"], "loss.expr", {output, target_name}, output)
            return Loss(kind="expr", reduction=reduction, expr=node, source=text)
        kind = spec["type"]
        if kind not in LOSSES:
            self.fail(
                "loss.type",
                f"unknown loss {_show(kind)} (expected {expected}"
                f"{_suggest(kind, LOSSES) if isinstance(kind, str) else ''})",
            )
        margin = self.number(spec.get("margin", 1.0), "loss.margin", positive=True)
        return Loss(kind=kind, reduction=reduction, margin=margin, labels=labels)

    def questions(self, value: Any) -> tuple[Question, ...]:
        """The exercise's questions, in order: each an id, the target(s) it asks, optional forms and text. The
        targets are read against the network later (Network.questions), which cites these lines."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(
                "questions", f"expected a list of questions like [{{id: '1.1', ask: dL/dW_1}}], got {_show(value)}"
            )
        if len(value) > MAX_QUESTIONS:
            self.fail("questions", f"{len(value)} questions is more than the limit of {MAX_QUESTIONS}")
        questions: list[Question] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            path = f"questions[{index}]"
            spec = self.mapping(
                item,
                path,
                QUESTION_KEYS,
                required=("id", "ask"),
                expected="a mapping like {id: '1.1', ask: dL/dW_1, text: ...}",
            )
            raw_id = spec["id"]
            if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int, float)) or not str(raw_id).strip():
                self.fail(join(path, "id"), f"expected a question id like '1.1', got {_show(raw_id)}")
            if isinstance(raw_id, float):  # only from a dict: YAML keeps an unquoted id as written
                self.fail(
                    join(path, "id"),
                    f"the question id {raw_id!r} is a number, which loses its trailing "
                    f"zeros (1.10 reads as 1.1): write the id as text, e.g. '{raw_id}'",
                )
            qid = str(raw_id).strip()
            if len(qid) > MAX_LAYER_NAME or any(unicodedata.category(c).startswith("C") for c in qid):
                self.fail(join(path, "id"), f"a question id is at most {MAX_LAYER_NAME} printable characters")
            if qid in seen:
                self.fail(
                    join(path, "id"),
                    f"duplicate question id {qid!r} (already used by questions[{seen[qid]}]"
                    f"{self.at(f'questions[{seen[qid]}]')})",
                )
            seen[qid] = index
            asked = spec["ask"] if isinstance(spec["ask"], list) else [spec["ask"]]
            if not asked:
                self.fail(join(path, "ask"), "expected a target or a list of targets, got an empty list")
            targets = []
            for k, target in enumerate(asked):
                where = join(path, "ask") + (f"[{k}]" if isinstance(spec["ask"], list) else "")
                if not isinstance(target, str) or not target.strip():
                    self.fail(where, f"expected a target like dL/dW_1 or delta_2, got {_show(target)}")
                if len(target) > MAX_TARGET_TEXT:
                    self.fail(where, f"a target is at most {MAX_TARGET_TEXT} characters")
                targets.append(target.strip())
            forms = None
            if spec.get("forms") is not None:
                raw = spec["forms"] if isinstance(spec["forms"], list) else [spec["forms"]]
                forms = tuple(self.choice(form, join(path, "forms"), FORMS, "form") for form in raw)
            text = "" if spec.get("text") is None else self.text(spec["text"], join(path, "text"))
            questions.append(Question(qid, tuple(targets), forms, text, self.lines.get(path, 0)))
        return tuple(questions)

    def random(self, value: Any) -> RandomData | None:
        """`data: {random: {seed, scale, samples}}` (the rest of `data` is read by data())."""
        if not isinstance(value, dict) or value.get("random") is None:
            return None
        spec = self.mapping(
            value["random"], "data.random", RANDOM_KEYS, expected="a mapping like {seed: 1, scale: 1.0}"
        )
        seed = spec.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            self.fail("data.random.seed", f"expected a whole number from 0, got {_show(seed)}")
        scale = self.number(spec["scale"], "data.random.scale", positive=True) if "scale" in spec else None
        samples = self.positive_int(spec["samples"], "data.random.samples", MAX_SAMPLES) if "samples" in spec else None
        return RandomData(seed, scale, samples)

    def training(self, value: Any) -> Training | None:
        if value is None:
            return None
        spec = self.mapping(
            value,
            "training",
            ("learning_rate", "steps"),
            required=("learning_rate",),
            expected="a mapping like {learning_rate: 0.05, steps: 3}",
        )
        rate = self.number(spec["learning_rate"], "training.learning_rate", positive=True)
        steps = self.positive_int(spec.get("steps", 1), "training.steps", MAX_STEPS)
        return Training(learning_rate=rate, steps=steps)

    def render(self, value: Any) -> RenderOptions:
        """`render: {forms: [chain, matrix], sections: [...], digits: 3}`: the documents' defaults."""
        if value is None:
            return RenderOptions()
        spec = self.mapping(
            value,
            "render",
            ("forms", "sections", "digits"),
            expected="a mapping like {forms: [chain, matrix], digits: 3}",
        )
        chosen = {}
        for key, known in (("forms", FORMS), ("sections", SECTIONS)):
            if key not in spec:
                continue
            names = spec[key]
            if not isinstance(names, list) or not names:
                self.fail(f"render.{key}", f"expected a non-empty list of {', '.join(known)}, got {_show(names)}")
            for i, name in enumerate(names):
                self.choice(name, f"render.{key}[{i}]", known, key[:-1])
            chosen[key] = tuple(dict.fromkeys(names))
        digits = None
        if "digits" in spec:
            digits = spec["digits"]
            if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= MAX_DIGITS:
                self.fail("render.digits", f"expected a whole number from 0 to {MAX_DIGITS}, got {_show(digits)}")
        return RenderOptions(forms=chosen.get("forms"), sections=chosen.get("sections"), digits=digits)

    # -- data --------------------------------------------------------------------------------

    def data(
        self,
        value: Any,
        conv: Convention,
        inp: Tensor,
        target: Tensor,
        target_is_input: bool,
        layers: tuple[Layer, ...],
        loss: Loss,
    ) -> dict[str, tuple[tuple[float, ...], ...]]:
        if value is None:
            return {}
        names = [inp.name] + ([] if target_is_input else [target.name])
        names += [layer.weight for layer in layers] + [layer.bias for layer in layers if layer.bias]
        spec = self.mapping(value, "data", (*names, "random"), expected="a mapping of names to matrices")
        matrices = {name: self.matrix(spec[name], f"data.{name}") for name in spec if name != "random"}
        if loss.labels == "index" and target.name in matrices and not target_is_input:
            matrices[target.name] = self.one_hot(matrices[target.name], f"data.{target.name}", target.size, conv)
        _DataShapes(self, conv, inp, target, target_is_input, layers, self.fan_in).check(matrices)
        return matrices

    def one_hot(
        self, classes: tuple[tuple[float, ...], ...], path: str, size: int, conv: Convention
    ) -> tuple[tuple[float, ...], ...]:
        """Class numbers (from 1), one per sample, as one-hot targets in the spec's orientation."""
        columns = conv.samples == "columns"
        shape = f"{len(classes)}x{len(classes[0])}"
        if (len(classes) if columns else len(classes[0])) != 1:
            self.fail(
                path,
                f"with labels: index the target is one class number per sample: expected "
                f"{'1xN (one row)' if columns else 'Nx1 (one column)'} under samples: {conv.samples}, "
                f"got {shape}",
            )
        numbers = classes[0] if columns else tuple(row[0] for row in classes)
        for n, number in enumerate(numbers):
            if number != int(number) or not 1 <= number <= size:
                where = f"{path}[0][{n}]" if columns else f"{path}[{n}][0]"
                self.fail(where, f"a class number is a whole number from 1 to {size}, got {number:g}")
        hot = [[1.0 if int(number) == k + 1 else 0.0 for number in numbers] for k in range(size)]
        return tuple(tuple(row) for row in (hot if columns else list(zip(*hot, strict=True))))

    def matrix(self, value: Any, path: str) -> tuple[tuple[float, ...], ...]:
        example = "give a 2-D list, e.g. [[1], [2]] for a column or [[1, 2]] for a row"
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a matrix as a 2-D list of numbers, got {_show(value)}; {example}")
        if not all(isinstance(row, list) for row in value):
            self.fail(path, f"expected a 2-D list (a list of rows), got a flat list; {example}")
        width = len(value[0])
        rows = []
        for i, row in enumerate(value):
            if not row:
                self.fail(f"{path}[{i}]", f"row {i} is empty; {example}")
            if len(row) != width:
                self.fail(
                    f"{path}[{i}]",
                    f"row {i} has {len(row)} numbers but row 0 has {width}; every row must have the same length",
                )
            rows.append(tuple(self.number(item, f"{path}[{i}][{j}]") for j, item in enumerate(row)))
        return tuple(rows)


class _DataShapes:
    """Checks each matrix's shape against the network and the convention, with a hint when it fits the other."""

    def __init__(
        self,
        checker: _Validator,
        conv: Convention,
        inp: Tensor,
        target: Tensor,
        target_is_input: bool,
        layers: tuple[Layer, ...],
        fan_in: dict[str, int],
    ) -> None:
        self.checker, self.conv = checker, conv
        self.inp, self.target, self.target_is_input, self.layers = inp, target, target_is_input, layers
        self.fan_in = fan_in

    def wants(self, conv: Convention, shapes: dict[str, tuple[int, int]]) -> dict[str, tuple[Any, ...]]:
        """name -> (rows or None, cols or None, description, group) under `conv`."""
        columns = conv.samples == "columns"
        tensors = [self.inp] + ([] if self.target_is_input else [self.target])
        count, count_from = None, ""
        for tensor in tensors:
            if tensor.name in shapes:
                count, count_from = shapes[tensor.name][1 if columns else 0], tensor.name
                break
        wants: dict[str, tuple[Any, ...]] = {}
        for role, tensor in zip(("input", "target"), tensors, strict=False):
            samples = count if tensor.name != count_from else None
            note = f", {count} samples in data.{count_from}" if samples is not None else ""
            shape = (tensor.size, samples) if columns else (samples, tensor.size)
            wants[tensor.name] = (*shape, f"{role} {tensor.name!r} (size {tensor.size}{note})", "samples")
        for layer in self.layers:
            fan_in = self.fan_in[layer.name]
            units = _plural(layer.units, "unit")
            shape = (layer.units, fan_in) if conv.weights == "out_in" else (fan_in, layer.units)
            wants[layer.weight] = (*shape, f"layer {layer.name!r} ({units}, {_plural(fan_in, 'input')})", "weights")
            if layer.bias:
                shape = (layer.units, 1) if columns else (1, layer.units)
                wants[layer.bias] = (*shape, f"layer {layer.name!r} ({units})", "samples")
        return wants

    @staticmethod
    def fits(want: tuple[Any, ...], shape: tuple[int, int]) -> bool:
        return all(w is None or w == s for w, s in zip(want[:2], shape, strict=True))

    def check(self, matrices: dict[str, tuple[tuple[float, ...], ...]]) -> None:
        shapes = {name: (len(rows), len(rows[0])) for name, rows in matrices.items()}
        wants = self.wants(self.conv, shapes)
        first = [n for n in dict.fromkeys((self.inp.name, self.target.name)) if n in shapes]
        for name in first + [n for n in shapes if n not in first]:
            want, shape = wants[name], shapes[name]
            if self.fits(want, shape):
                continue
            group = want[3]
            setting = self.conv.weights if group == "weights" else self.conv.samples
            options = WEIGHT_ORIENTATIONS if group == "weights" else SAMPLE_LAYOUTS
            other = next(o for o in options if o != setting)
            alt = Convention(**{**vars(self.conv), group: other})
            alt_wants = self.wants(alt, shapes)
            expected = "x".join("N" if w is None else str(w) for w in want[:2])
            message = (
                f"shape {shape[0]}x{shape[1]} does not match {want[2]}: expected {expected}"
                f"{' (N samples)' if None in want[:2] else ''} under {group}: {setting}"
            )
            if all(self.fits(alt_wants[n], shapes[n]) for n in shapes if alt_wants[n][3] == group):
                message += f"; it fits {group}: {other} — set convention.{group}"
            elif self.fits(want, shape[::-1]):
                message += "; it looks transposed"
            self.checker.fail(f"data.{name}", message)
