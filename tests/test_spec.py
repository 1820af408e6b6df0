"""Tests for symbackprop.spec: loading, validation rules and the exact shape of every error."""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from symbackprop.mathparse import parse
from symbackprop.spec import (
    Activation,
    Convention,
    Layer,
    Loss,
    NetworkSpec,
    SpecError,
    Tensor,
    Training,
    load_spec,
)
from symbackprop.spec.loader import MAX_LAYERS, MAX_STEPS, MAX_UNITS
from symbackprop.spec.yamlsafe import MAX_BYTES, MAX_DEPTH, MAX_NODES

# The public example of interface.md section 1, with the data's own orientation (W is 2x3: in_out).
EXAMPLE = textwrap.dedent("""\
    name: Two-layer ReLU/tanh network        # title of rendered documents
    description: optional free text            # user text: escaped wherever it is rendered
    convention:                                # optional; defaults shown
      weights: in_out
      samples: columns
    input:  {name: x, size: 2}
    target: {name: y, size: 1}
    output: y_out
    layers:
      - name: "1"
        units: 3
        activation: relu
        bias: false
        weight: W
      - name: out
        units: 1
        activation: tanh
        bias: false
        weight: w
    loss: half_squared_error
    data:
      x: [[0.75, 0.2, -0.75, 0.2], [0.8, 0.05, 0.8, -0.05]]
      y: [[1, 1, -1, -1]]
      W: [[0.6, 0.7, 0.0], [0.01, 0.43, 0.88]]
      w: [[0.02], [0.03], [0.09]]
    training: {learning_rate: 0.05, steps: 3}
    """)

MINIMAL = textwrap.dedent("""\
    name: minimal
    input: {size: 2}
    target: {size: 1}
    layers:
      - name: 1
        units: 1
        activation: sigmoid
    loss: squared_error
    """)


def line_of(text: str, snippet: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `snippet`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if snippet in line]
    return hits[nth - 1]


def error(source) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(source)
    return info.value


def check(err: SpecError, key: str, line: int | None, *words: str, source: str = "<string>") -> None:
    """The error names `key`, `line` and `source`, says every one of `words`, and prints as file:line: key: msg."""
    assert (err.key, err.line, err.source) == (key, line, source), str(err)
    for word in words:
        assert word in err.message, f"{word!r} not in {err.message!r}"
    where = source if line is None else f"{source}:{line}"
    assert str(err) == (f"{where}: {key}: {err.message}" if key else f"{where}: {err.message}")


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- the public example and defaults ---------------------------------------------------------------


def test_public_example_loads_with_in_out() -> None:
    spec = load_spec(EXAMPLE)
    assert isinstance(spec, NetworkSpec)
    assert spec.name == "Two-layer ReLU/tanh network"
    assert spec.description == "optional free text"
    assert spec.convention == Convention(weights="in_out", samples="columns")
    assert spec.input == Tensor("x", 2) and spec.target == Tensor("y", 1) and not spec.target_is_input
    assert spec.output == "y_out"
    first, last = spec.layers
    assert first == Layer(
        name="1",
        units=3,
        activation=Activation("relu"),
        weight="W",
        bias=None,
        inputs=("x",),
        line=line_of(EXAMPLE, '- name: "1"'),
    )
    assert last == Layer(
        name="out",
        units=1,
        activation=Activation("tanh"),
        weight="w",
        bias=None,
        inputs=("1",),
        line=line_of(EXAMPLE, "- name: out"),
    )
    assert spec.loss == Loss("half_squared_error", reduction="sum", margin=1.0)
    assert spec.data["W"] == ((0.6, 0.7, 0.0), (0.01, 0.43, 0.88))
    assert spec.data["y"] == ((1.0, 1.0, -1.0, -1.0),)
    assert all(type(v) is float for rows in spec.data.values() for row in rows for v in row)
    assert list(spec.data) == ["x", "y", "W", "w"]
    assert spec.training == Training(learning_rate=0.05, steps=3)
    assert spec.source == "<string>"
    assert spec.layer("out") is last
    with pytest.raises(FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_public_example_lines() -> None:
    lines = load_spec(EXAMPLE).lines
    assert lines["name"] == 1
    assert lines["convention.weights"] == 4
    assert lines["layers[1]"] == 15
    assert lines["layers[1].activation"] == 17
    assert lines["loss"] == 20
    assert lines["data.W"] == 24
    assert lines["training.steps"] == 26
    assert "data.W[0][0]" not in lines  # single numbers are not kept


def test_public_example_with_default_out_in_fails_with_hint() -> None:
    text = replace(EXAMPLE, "  weights: in_out\n", "")
    err = error(text)
    check(err, "data.W", line_of(text, "  W: "))
    assert err.message == (
        "shape 2x3 does not match layer '1' (3 units, 2 inputs): expected 3x2 under weights: "
        "out_in; it fits weights: in_out — set convention.weights"
    )


def test_defaults() -> None:
    spec = load_spec(MINIMAL)
    assert spec.input == Tensor("x", 2) and spec.target == Tensor("y", 1)
    assert spec.output == "y_out" and spec.description == ""
    assert spec.convention == Convention("out_in", "columns")
    (layer,) = spec.layers
    assert layer.name == "1" and layer.weight == "W_1" and layer.bias == "b_1" and layer.inputs == ("x",)
    assert layer.line == 5
    assert spec.loss == Loss("squared_error", "sum", 1.0)
    assert spec.data == {} and spec.training is None


def test_null_optional_sections_mean_defaults() -> None:
    spec = load_spec(MINIMAL + "description:\nconvention:\ndata:\ntraining:\noutput:\n")
    assert spec.convention == Convention() and spec.data == {} and spec.training is None
    assert spec.description == "" and spec.output == "y_out"


def test_training_default_steps_and_yaml12_floats() -> None:
    spec = load_spec(MINIMAL + "training: {learning_rate: 1e-3}\n")
    assert spec.training == Training(learning_rate=0.001, steps=1)


def test_quoted_number_stays_a_string() -> None:
    text = MINIMAL + "training: {learning_rate: '1e-3'}\n"
    check(error(text), "training.learning_rate", 9, "expected a positive number, got '1e-3'")


def test_merge_keys_work() -> None:
    text = textwrap.dedent("""\
        name: merged
        input: {size: 2}
        target: {size: 1}
        layers:
          - &hidden {name: h, units: 1, activation: relu, bias: false}
          - <<: *hidden
            name: o
            activation: tanh
        loss: squared_error
        """)
    hidden, out = load_spec(text).layers
    assert (out.name, out.units, out.activation.kind, out.bias, out.inputs) == ("o", 1, "tanh", None, ("h",))


# -- unknown keys, with suggestions -----------------------------------------------------------------


def test_unknown_layer_key_exact_message() -> None:
    text = replace(MINIMAL, "    activation: sigmoid", "    activaton: sigmoid")
    err = error(text)
    check(err, "layers[0].activaton", 7)
    assert err.message == (
        "unknown key 'activaton' (expected one of: name, units, activation, bias, weight, "
        "inputs, fixed, recurrent; "
        "did you mean activation?)"
    )


@pytest.mark.parametrize(
    "old, new, key, suggestion",
    [
        ("name: minimal", "nme: minimal", "nme", "did you mean name?"),
        ("input: {size: 2}", "input: {size: 2, nme: x}", "input.nme", "did you mean name?"),
        ("target: {size: 1}", "target: {size: 1, sise: 1}", "target.sise", "did you mean size?"),
        (
            "loss: squared_error",
            "loss: {type: squared_error, reduktion: mean}",
            "loss.reduktion",
            "did you mean reduction?",
        ),
        (
            "activation: sigmoid",
            "activation: {type: leaky_relu, alfa: 0.1}",
            "layers[0].activation.alfa",
            "did you mean alpha?",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\nconvention: {weight: in_out}",
            "convention.weight",
            "did you mean weights?",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {learning_rate: 1, step: 2}",
            "training.step",
            "did you mean steps?",
        ),
        ("loss: squared_error", "loss: squared_error\ndata: {W_l: [[1, 2]]}", "data.W_l", "did you mean W_1?"),
    ],
)
def test_unknown_keys_everywhere(old: str, new: str, key: str, suggestion: str) -> None:
    text = replace(MINIMAL, old, new)
    bad = key.rsplit(".", 1)[-1]
    check(error(text), key, line_of(text, bad), f"unknown key {bad!r}", "expected one of:", suggestion)


def test_unknown_key_without_close_match_has_no_suggestion() -> None:
    err = error(MINIMAL + "zzzzz: 1\n")
    check(err, "zzzzz", 9, "unknown key 'zzzzz' (expected one of: name, description, convention, input")
    assert "did you mean" not in err.message


def test_unknown_data_name_lists_the_allowed_names() -> None:
    err = error(MINIMAL + "data: {q: [[1]]}\n")
    check(err, "data.q", 9, "expected one of: x, y, W_1, b_1")


# -- missing keys and wrong types -----------------------------------------------------------------


@pytest.mark.parametrize(
    "drop, key, line",
    [
        ("name: minimal\n", "name", 1),
        ("input: {size: 2}\n", "input", 1),
        ("loss: squared_error\n", "loss", 1),
        ("    units: 1\n", "layers[0].units", 5),
        ("    activation: sigmoid\n", "layers[0].activation", 5),
    ],
)
def test_missing_required_keys(drop: str, key: str, line: int) -> None:
    check(error(replace(MINIMAL, drop, "")), key, line, "required key is missing", "expected")


def test_missing_size_in_input() -> None:
    check(
        error(replace(MINIMAL, "input: {size: 2}", "input: {name: x}")),
        "input.size",
        2,
        "required key is missing; expected a positive integer",
    )


@pytest.mark.parametrize(
    "value, got",
    [
        ("three", "'three'"),
        ("true", "true"),
        ("0", "0"),
        ("-2", "-2"),
        ("2.5", "2.5"),
        ("null", "null"),
        ("[1]", "a list"),
    ],
)
def test_units_must_be_a_positive_integer(value: str, got: str) -> None:
    check(
        error(replace(MINIMAL, "units: 1", f"units: {value}")),
        "layers[0].units",
        6,
        f"expected a positive integer, got {got}",
    )


def test_units_limit() -> None:
    check(
        error(replace(MINIMAL, "units: 1", f"units: {MAX_UNITS + 1}")),
        "layers[0].units",
        6,
        f"more than the limit of {MAX_UNITS}",
    )


def test_size_must_be_a_positive_integer() -> None:
    check(
        error(replace(MINIMAL, "input: {size: 2}", "input: {size: false}")),
        "input.size",
        2,
        "expected a positive integer, got false",
    )


@pytest.mark.parametrize(
    "old, new, key, line, words",
    [
        ("name: minimal", "name: [a]", "name", 1, "expected a string, got a list"),
        ("name: minimal", "name: minimal\ndescription: 3", "description", 2, "expected a string, got 3"),
        (
            "    activation: sigmoid",
            "    activation: sigmoid\n    bias: maybe",
            "layers[0].bias",
            8,
            "expected true or false, got 'maybe'",
        ),
        (
            "    activation: sigmoid",
            "    activation: sigmoid\n    weight: 1W",
            "layers[0].weight",
            8,
            "expected a weight name made of letters, digits and _ starting with a letter (like W_1), got '1W'",
        ),
        ("input: {size: 2}", "input: {name: x y, size: 2}", "input.name", 2, "expected a name made of letters"),
        ("loss: squared_error", "loss: squared_error\noutput: y-out", "output", 9, "got 'y-out'"),
        ("input: {size: 2}", "input: 2", "input", 2, "expected a mapping like {name: x, size: 2}, got 2"),
        (
            "    activation: sigmoid",
            "    activation: 3",
            "layers[0].activation",
            7,
            "expected an activation (relu, tanh",
        ),
        ("loss: squared_error", "loss: [1]", "loss", 8, "expected a loss (half_squared_error"),
        ("  - name: 1", "  - name: 1.5", "layers[0].name", 5, "expected a string or an integer, got 1.5"),
        ("  - name: 1", "  - name: true", "layers[0].name", 5, "expected a string or an integer, got true"),
        ("  - name: 1", "  - name: ''", "layers[0].name", 5, "a layer name cannot be empty"),
        ("  - name: 1", "  - name: 'a b'", "layers[0].name", 5, "cannot contain spaces or control characters"),
        ("  - name: 1", '  - name: "a\\tb"', "layers[0].name", 5, "cannot contain spaces or control characters"),
        ("  - name: 1", '  - name: "a\\x07"', "layers[0].name", 5, "control characters"),
        ("  - name: 1", f"  - name: {'n' * 41}", "layers[0].name", 5, "at most 40 characters, got 41"),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {learning_rate: -1}",
            "training.learning_rate",
            9,
            "expected a positive number, got -1",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {learning_rate: fast}",
            "training.learning_rate",
            9,
            "expected a positive number, got 'fast'",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {learning_rate: .inf}",
            "training.learning_rate",
            9,
            "expected a finite number, got inf",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {learning_rate: 0.1, steps: 0}",
            "training.steps",
            9,
            "expected a positive integer, got 0",
        ),
        (
            "loss: squared_error",
            f"loss: squared_error\ntraining: {{learning_rate: 0.1, steps: {MAX_STEPS + 1}}}",
            "training.steps",
            9,
            f"{MAX_STEPS + 1} is more than the limit of {MAX_STEPS}",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\ntraining: {steps: 2}",
            "training.learning_rate",
            9,
            "required key is missing; expected a positive number",
        ),
        (
            "loss: squared_error",
            "loss: squared_error\nconvention: [out_in]",
            "convention",
            9,
            "expected a mapping like {weights: out_in, samples: columns}, got a list",
        ),
    ],
)
def test_wrong_types(old: str, new: str, key: str, line: int, words: str) -> None:
    check(error(replace(MINIMAL, old, new)), key, line, words)


def test_layers_must_be_a_non_empty_list() -> None:
    text = "name: n\ninput: {size: 1}\ntarget: {size: 1}\nlayers: []\nloss: squared_error\n"
    check(error(text), "layers", 4, "expected a non-empty list of layers, got a list")
    check(error(text.replace("[]", "{a: 1}")), "layers", 4, "expected a non-empty list of layers, got a mapping")


def test_layer_name_int_is_stored_as_string() -> None:
    assert load_spec(replace(MINIMAL, "name: 1", "name: 7")).layers[0].name == "7"


def test_layer_name_any_other_characters_allowed() -> None:
    spec = load_spec(replace(MINIMAL, "  - name: 1", "  - name: 'h{1}%\\\\é'"))
    assert spec.layers[0].name == "h{1}%\\\\é" and spec.layers[0].weight == "W_h{1}%\\\\é"


def test_layer_name_cannot_hold_a_caret() -> None:
    with pytest.raises(SpecError, match=r"cannot contain \^"):
        load_spec(replace(MINIMAL, "  - name: 1", "  - name: 'a^b'"))


def test_layer_item_must_be_a_mapping() -> None:
    text = replace(MINIMAL, "  - name: 1\n    units: 1\n    activation: sigmoid\n", "  - relu\n")
    check(error(text), "layers[0]", 5, "expected a mapping like {name: '1', units: 3, activation: relu}, got 'relu'")


def test_too_many_layers() -> None:
    layers = "".join(f"  - {{name: l{i}, units: 1, activation: relu}}\n" for i in range(MAX_LAYERS + 1))
    text = f"name: big\ninput: {{size: 1}}\ntarget: {{size: 1}}\nlayers:\n{layers}loss: squared_error\n"
    check(error(text), "layers", 4, f"more than the limit of {MAX_LAYERS}")


def test_top_level_must_be_a_mapping() -> None:
    check(error("- a\n- b\n"), "", 1, "the top level must be a mapping", "got a list")
    check(error("just words"), "", 1, "got 'just words'")


def test_not_a_source_type() -> None:
    err = error(42)
    assert "expected a path, YAML text or a dict, got int" in str(err)


# -- convention, activations, losses ------------------------------------------------------------------


def test_convention_values_with_suggestions() -> None:
    text = MINIMAL + "convention: {weights: outin}\n"
    check(
        error(text),
        "convention.weights",
        9,
        "unknown weights 'outin' (expected out_in or in_out",
        "did you mean out_in?",
    )
    text = MINIMAL + "convention: {samples: row}\n"
    check(error(text), "convention.samples", 9, "unknown samples 'row'", "did you mean rows?")


def test_unknown_activation_exact_message() -> None:
    text = replace(MINIMAL, "activation: sigmoid", "activation: rlu")
    err = error(text)
    check(err, "layers[0].activation", 7)
    assert err.message == (
        "unknown activation 'rlu' (expected relu, tanh, sigmoid, identity, softmax, leaky_relu, "
        "{expr: ...} or {function: ...}; did you mean relu?)"
    )


def test_softmax_over_one_unit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """softmax of one unit is the constant 1: its Jacobian is 0 and nothing before it learns; refused with the way out
    (exit 2 on the command line)."""
    from symbackprop.cli import main

    path = tmp_path / "one.yaml"
    path.write_text(replace(MINIMAL, "activation: sigmoid", "activation: softmax"))
    assert main(["derive", str(path)]) == 2
    assert f"{path}:7: layers[0].activation: softmax over 1 unit is the constant 1" in capsys.readouterr().err
    three = replace(replace(MINIMAL, "units: 1", "units: 3"), "target: {size: 1}", "target: {size: 3}")
    assert load_spec(replace(three, "activation: sigmoid", "activation: softmax")).layers[0].activation == Activation(
        "softmax"
    )
    for value in ("softmax", "{type: softmax}"):
        err = error(replace(MINIMAL, "activation: sigmoid", f"activation: {value}"))
        check(err, "layers[0].activation", 7, "softmax over 1 unit is the constant 1", "use sigmoid for one unit")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("leaky_relu", Activation("leaky_relu", alpha=0.01)),
        ("{type: leaky_relu, alpha: 0.2}", Activation("leaky_relu", alpha=0.2)),
        ("{type: leaky_relu}", Activation("leaky_relu", alpha=0.01)),
        ("{type: tanh}", Activation("tanh")),
        ("{function: f_1}", Activation("function", function="f_1")),
        ("{function: g}", Activation("function", function="g")),
        ("{expr: 'x**2'}", Activation("expr", expr=parse("x**2", {"x"}), source="x**2")),
    ],
)
def test_activation_forms(value: str, expected: Activation) -> None:
    assert load_spec(replace(MINIMAL, "activation: sigmoid", f"activation: {value}")).layers[0].activation == expected


@pytest.mark.parametrize(
    "value, key, words",
    [
        ("{expr: 'x**2', function: f}", "layers[0].activation", "give exactly one of type, expr or function"),
        ("{alpha: 0.1}", "layers[0].activation", "give exactly one of type, expr or function, got none"),
        ("{type: relu, alpha: 0.1}", "layers[0].activation.alpha", "alpha applies only"),
        ("{type: leaky_relu, alpha: .nan}", "layers[0].activation.alpha", "expected a finite number, got nan"),
        ("{type: tanhh}", "layers[0].activation.type", "did you mean tanh?"),
        ("{function: 2f}", "layers[0].activation.function", "expected a function name"),
        ("{function: relu}", "layers[0].activation.function", "function name 'relu' is reserved"),
        ("{expr: 'x**'}", "layers[0].activation.expr", "cannot read the formula 'x**'"),
        ("{expr: 'x + y'}", "layers[0].activation.expr", "unknown name 'y' at position 5 (known: x)"),
        ("{expr: 'foo(x)'}", "layers[0].activation.expr", "unknown function 'foo'"),
        ("{expr: ''}", "layers[0].activation.expr", "empty formula (at position 1)"),
        ("{expr: '2'}", "layers[0].activation.expr", "does not use x"),
        ("{expr: 2}", "layers[0].activation.expr", "expected a formula as a string, got 2"),
        ("{expr: '__import__(x)'}", "layers[0].activation.expr", "unknown function '__import__'"),
        ("{expr: 'x.__class__'}", "layers[0].activation.expr", "unexpected character '.'"),
    ],
)
def test_bad_activations(value: str, key: str, words: str) -> None:
    text = replace(MINIMAL, "activation: sigmoid", f"activation: {value}")
    check(error(text), key, 7, words)


def test_bad_activations_more_words() -> None:
    text = replace(MINIMAL, "activation: sigmoid", "activation: {type: tanhh}")
    check(error(text), "layers[0].activation.type", 7, "unknown activation 'tanhh'", "did you mean tanh?")
    text = replace(MINIMAL, "activation: sigmoid", "activation: {expr: 'x**'}")
    check(error(text), "layers[0].activation.expr", 7, "cannot read the formula 'x**'", "position 4")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("hinge", Loss("hinge")),
        ("{type: hinge, margin: 2}", Loss("hinge", margin=2.0)),
        ("{type: cross_entropy, reduction: mean}", Loss("cross_entropy", reduction="mean")),
        (
            "{expr: '(y_out - y)^2 / 2', reduction: mean}",
            Loss("expr", reduction="mean", expr=parse("(y_out - y)^2 / 2", {"y_out", "y"}), source="(y_out - y)^2 / 2"),
        ),
    ],
)
def test_loss_forms(value: str, expected: Loss) -> None:
    assert load_spec(replace(MINIMAL, "loss: squared_error", f"loss: {value}")).loss == expected


@pytest.mark.parametrize(
    "value, key, words",
    [
        (
            "cross_entropie",
            "loss",
            (
                "unknown loss 'cross_entropie' (expected half_squared_error, squared_error, "
                "cross_entropy, binary_cross_entropy, hinge, multiclass_hinge or {expr: ...}; "
                "did you mean cross_entropy?)",
            ),
        ),
        ("{type: hing}", "loss.type", ("unknown loss 'hing'", "did you mean hinge?")),
        ("{type: squared_error, reduction: avg}", "loss.reduction", ("unknown reduction 'avg' (expected sum or mean",)),
        ("{type: squared_error, margin: 2}", "loss.margin", ("margin applies only to {type: hinge}",)),
        ("{type: hinge, margin: 0}", "loss.margin", ("expected a positive number, got 0",)),
        ("{type: hinge, expr: 'y_out'}", "loss", ("give exactly one of type or expr",)),
        ("{reduction: mean}", "loss", ("give exactly one of type or expr, got none",)),
        ("{expr: 'y_out - t'}", "loss.expr", ("unknown name 't' at position 9", "known: y, y_out")),
        ("{expr: 'y**2'}", "loss.expr", ("does not use y_out",)),
        ("{expr: '(y_out - y'}", "loss.expr", ("cannot read the formula", "expected ')'")),
    ],
)
def test_bad_losses(value: str, key: str, words: tuple[str, ...]) -> None:
    text = replace(MINIMAL, "loss: squared_error", f"loss: {value}")
    check(error(text), key, 8, *words)


def test_loss_expr_uses_custom_names() -> None:
    text = replace(
        replace(MINIMAL, "target: {size: 1}", "target: {name: t, size: 1}"),
        "loss: squared_error",
        "loss: {expr: 'log(1 + exp(-t * out))'}\noutput: out",
    )
    spec = load_spec(text)
    assert spec.loss.kind == "expr" and spec.loss.expr == parse("log(1 + exp(-t * out))", {"t", "out"})


# -- target and autoencoder -----------------------------------------------------------------------


def test_autoencoder_target_is_input() -> None:
    text = replace(replace(MINIMAL, "target: {size: 1}", "target: input"), "units: 1", "units: 2")
    text = replace(text, "loss: squared_error", "loss: {expr: '(y_out - x)^2'}")
    spec = load_spec(text + "data: {x: [[1, 2], [3, 4]]}\n")
    assert spec.target_is_input and spec.target == spec.input == Tensor("x", 2)
    assert spec.loss.expr == parse("(y_out - x)^2", {"y_out", "x"})


def test_autoencoder_rules() -> None:
    text = replace(MINIMAL, "target: {size: 1}", "target: input")
    check(
        error(text),
        "layers[0].units",
        6,
        "the last layer has 1 unit but the target (the input 'x') has size 2; they must match",
    )
    text = replace(text, "units: 1", "units: 2")
    check(error(text + "data: {y: [[1]]}\n"), "data.y", 9, "unknown key 'y' (expected one of: x, W_1, b_1")
    check(error(replace(text, "loss: squared_error", "loss: {expr: 'y_out - y'}")), "loss.expr", 8, "unknown name 'y'")


def test_target_word_other_than_input() -> None:
    check(
        error(replace(MINIMAL, "target: {size: 1}", "target: inptu")),
        "target",
        3,
        "expected a mapping like {name: y, size: 1} or the word input, got 'inptu'",
        "did you mean input?",
    )


def test_last_layer_units_must_match_target() -> None:
    check(
        error(replace(MINIMAL, "units: 1", "units: 2")),
        "layers[0].units",
        6,
        "the last layer has 2 units but the target 'y' has size 1; they must match",
    )


# -- symbols ------------------------------------------------------------------------------------


TWO = textwrap.dedent("""\
    name: two
    input: {name: x, size: 2}
    target: {name: y, size: 1}
    layers:
      - name: "1"
        units: 3
        activation: relu
      - name: "2"
        units: 1
        activation: tanh
    loss: half_squared_error
    """)


def test_duplicate_layer_names_name_the_second() -> None:
    text = replace(TWO, 'name: "2"', 'name: "1"')
    check(error(text), "layers[1].name", 8, "duplicate layer name '1' (already used by layers[0] at line 5)")


def test_duplicate_layer_names_int_and_string() -> None:
    check(error(replace(TWO, 'name: "2"', "name: 1")), "layers[1].name", 8, "duplicate layer name '1'")


@pytest.mark.parametrize(
    "old, new, key, line, message",
    [
        (
            "    activation: relu",
            "    activation: relu\n    weight: x",
            "layers[0].weight",
            8,
            "weight name 'x' is already the input's name",
        ),
        (
            "target: {name: y, size: 1}",
            "target: {name: x, size: 1}",
            "target.name",
            3,
            "target name 'x' is already the input's name",
        ),
        (
            "loss: half_squared_error",
            "loss: half_squared_error\noutput: y",
            "output",
            12,
            "output alias 'y' is already the target's name",
        ),
        (
            "    activation: relu",
            "    activation: relu\n    weight: W_2",
            "layers[1].name",
            9,
            "weight name 'W_2' (the default of layer '2') is already the weight of layer '1'",
        ),
        (
            "    activation: tanh",
            "    activation: tanh\n    weight: W_1",
            "layers[1].weight",
            11,
            "weight name 'W_1' is already the weight of layer '1'",
        ),
        (
            "    activation: relu",
            "    activation: relu\n    weight: b_1",
            "layers[0].name",
            5,
            "bias name 'b_1' of layer '1' is already the weight of layer '1'",
        ),
        (
            "input: {name: x, size: 2}",
            "input: {name: z_1, size: 2}",
            "layers[0].name",
            5,
            "activation 'z_1' of layer '1' is already the input's name",
        ),
        (
            "input: {name: x, size: 2}",
            "input: {name: delta_2, size: 2}",
            "layers[1].name",
            8,
            "delta 'delta_2' of layer '2' is already the input's name",
        ),
        (
            "loss: half_squared_error",
            "loss: half_squared_error\noutput: s_1",
            "layers[0].name",
            5,
            "pre-activation 's_1' of layer '1' is already the output alias",
        ),
        (
            "    activation: tanh",
            "    activation: tanh\n    weight: f_1",
            "layers[1].weight",
            11,
            "weight name 'f_1' is already the activation function of layer '1'",
        ),
        ('  - name: "1"', "  - name: x", "layers[0].name", 5, "layer name 'x' is already the input's name"),
        (
            "input: {name: x, size: 2}",
            "input: {name: L, size: 2}",
            "input.name",
            2,
            "input name 'L' is reserved: it names the loss",
        ),
        (
            "    activation: relu",
            "    activation: relu\n    weight: exp",
            "layers[0].weight",
            8,
            "weight name 'exp' is reserved: it is a function name",
        ),
        (
            "    activation: relu",
            "    activation: {function: x}",
            "layers[0].activation.function",
            7,
            "function name 'x' is already the input's name",
        ),
        (
            "    activation: relu",
            "    activation: {function: f_2}",
            "layers[0].activation.function",
            7,
            "function name 'f_2' is already the activation function of layer '2'",
        ),
    ],
)
def test_symbol_clashes(old: str, new: str, key: str, line: int, message: str) -> None:
    check(error(replace(TWO, old, new)), key, line, message)


def test_shared_generic_function_is_allowed() -> None:
    text = replace(
        replace(TWO, "activation: relu", "activation: {function: g}"), "activation: tanh", "activation: {function: g}"
    )
    assert [layer.activation.function for layer in load_spec(text).layers] == ["g", "g"]


def test_bias_false_frees_the_bias_name() -> None:
    text = replace(TWO, "    activation: relu", "    activation: relu\n    bias: false\n    weight: b_1")
    assert load_spec(text).layers[0].bias is None


# -- data and shapes in the four conventions --------------------------------------------------


def matrix(rows: int, cols: int) -> list[list[float]]:
    return [[round(0.1 * (i + 1) + 0.01 * j, 3) for j in range(cols)] for i in range(rows)]


def shapes_for(weights: str, samples: str, n: int = 4) -> dict[str, tuple[int, int]]:
    """Correct shapes for TWO-like net with biases: input 2, layer '1' 3 units, layer '2' 1 unit."""

    def w(units: int, fan_in: int) -> tuple[int, int]:
        return (units, fan_in) if weights == "out_in" else (fan_in, units)

    def batch(size: int) -> tuple[int, int]:
        return (size, n) if samples == "columns" else (n, size)

    bias = (lambda u: (u, 1)) if samples == "columns" else (lambda u: (1, u))
    return {"x": batch(2), "y": batch(1), "W_1": w(3, 2), "b_1": bias(3), "W_2": w(1, 3), "b_2": bias(1)}


def with_data(weights: str, samples: str, shapes: dict[str, tuple[int, int]]) -> str:
    data = "".join(f"  {name}: {json.dumps(matrix(*shape))}\n" for name, shape in shapes.items())
    return TWO + f"convention: {{weights: {weights}, samples: {samples}}}\ndata:\n{data}"


CONVENTIONS = [("out_in", "columns"), ("out_in", "rows"), ("in_out", "columns"), ("in_out", "rows")]


def flip(convention: str) -> str:
    return {"out_in": "in_out", "in_out": "out_in", "columns": "rows", "rows": "columns"}[convention]


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_shapes_load_in_every_convention(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, samples)
    spec = load_spec(with_data(weights, samples, shapes))
    assert {name: (len(m), len(m[0])) for name, m in spec.data.items()} == shapes
    assert spec.data["W_1"] == tuple(tuple(row) for row in matrix(*shapes["W_1"]))


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_all_weights_transposed_hint_the_other_orientation(weights: str, samples: str) -> None:
    shapes = shapes_for(flip(weights), samples)
    text = with_data(weights, samples, shapes)
    r, c = shapes["W_1"]
    check(
        error(text),
        "data.W_1",
        line_of(text, "  W_1:"),
        f"shape {r}x{c} does not match layer '1' (3 units, 2 inputs): expected {c}x{r} under weights: {weights}; "
        f"it fits weights: {flip(weights)} — set convention.weights",
    )


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_all_samples_transposed_hint_the_other_layout(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, flip(samples))
    text = with_data(weights, samples, shapes)
    r, c = shapes["x"]
    expected = "2xN" if samples == "columns" else "Nx2"
    check(
        error(text),
        "data.x",
        line_of(text, "  x:"),
        f"shape {r}x{c} does not match input 'x' (size 2): expected {expected} (N samples) under samples: "
        f"{samples}; it fits samples: {flip(samples)} — set convention.samples",
    )


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_one_transposed_weight_looks_transposed(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, samples)
    shapes["W_1"] = shapes["W_1"][::-1]
    text = with_data(weights, samples, shapes)
    err = error(text)
    check(err, "data.W_1", line_of(text, "  W_1:"), f"under weights: {weights}; it looks transposed")
    assert "set convention" not in err.message


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_bias_shape(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, samples)
    shapes["b_1"] = (2, 2)
    text = with_data(weights, samples, shapes)
    expected = "3x1" if samples == "columns" else "1x3"
    check(
        error(text),
        "data.b_1",
        line_of(text, "  b_1:"),
        f"shape 2x2 does not match layer '1' (3 units): expected {expected} under samples: {samples}",
    )


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_target_must_have_the_inputs_sample_count(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, samples)
    shapes["y"] = (1, 3) if samples == "columns" else (3, 1)
    text = with_data(weights, samples, shapes)
    expected = "1x4" if samples == "columns" else "4x1"
    check(
        error(text),
        "data.y",
        line_of(text, "  y:"),
        f"does not match target 'y' (size 1, 4 samples in data.x): expected {expected} under samples: {samples}",
    )


@pytest.mark.parametrize("weights, samples", CONVENTIONS)
def test_wrong_weight_size(weights: str, samples: str) -> None:
    shapes = shapes_for(weights, samples)
    shapes["W_2"] = (2, 2)
    text = with_data(weights, samples, shapes)
    expected = "1x3" if weights == "out_in" else "3x1"
    err = error(text)
    check(
        err,
        "data.W_2",
        line_of(text, "  W_2:"),
        f"shape 2x2 does not match layer '2' (1 unit, 3 inputs): expected {expected} under weights: {weights}",
    )
    assert "transposed" not in err.message and "set convention" not in err.message


def test_target_alone_sets_the_sample_count() -> None:
    text = TWO + "data:\n  y: [[1, 2, 3]]\n"
    assert load_spec(text).data["y"] == ((1.0, 2.0, 3.0),)


def test_partial_data_is_fine() -> None:
    assert set(load_spec(TWO + "data: {W_2: [[1, 2, 3]]}\n").data) == {"W_2"}


@pytest.mark.parametrize(
    "value, key, words",
    [
        ("[1, 2]", "data.W_2", ("give a 2-D list, e.g. [[1], [2]] for a column", "flat list")),
        ("[[1, 2], 3]", "data.W_2", ("give a 2-D list, e.g. [[1], [2]] for a column",)),
        ("3", "data.W_2", ("expected a matrix as a 2-D list of numbers, got 3",)),
        ("[]", "data.W_2", ("expected a matrix", "got a list")),
        ("[[]]", "data.W_2[0]", ("row 0 is empty",)),
        ("[[1, 2, 3], [1, 2]]", "data.W_2[1]", ("row 1 has 2 numbers but row 0 has 3",)),
        ("[[1, .nan, 3]]", "data.W_2[0][1]", ("expected a finite number, got nan",)),
        ("[[1, .inf, 3]]", "data.W_2[0][1]", ("expected a finite number, got inf",)),
        ("[[1, -.Inf, 3]]", "data.W_2[0][1]", ("expected a finite number, got -inf",)),
        ("[[1, true, 3]]", "data.W_2[0][1]", ("expected a number, got true",)),
        ("[[1, '2', 3]]", "data.W_2[0][1]", ("expected a number, got '2'",)),
        ("[[1, null, 3]]", "data.W_2[0][1]", ("expected a number, got null",)),
    ],
)
def test_bad_matrices(value: str, key: str, words: tuple[str, ...]) -> None:
    text = TWO + f"data:\n  W_2: {value}\n"
    check(error(text), key, 13, *words)


def test_matrix_rows_on_their_own_lines() -> None:
    text = TWO + "data:\n  W_2:\n    - [1, 2, 3]\n    - [4, 5]\n"
    check(error(text), "data.W_2[1]", 15, "row 1 has 2 numbers")


def test_huge_number_in_dict_data() -> None:
    spec = yaml_dict(TWO)
    spec["data"] = {"W_2": [[1, 10**400, 3]]}
    check(error(spec), "data.W_2[0][1]", None, "expected a finite number", source="<dict>")


# -- YAML safety ------------------------------------------------------------------------------


def test_python_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = MINIMAL + f"description: !!python/object/apply:os.system ['touch {marker}']\n"
    check(error(text), "description", 9, "tag '!!python/object/apply:os.system' is not allowed")
    assert not marker.exists()


@pytest.mark.parametrize(
    "value, tag",
    [
        ("!!python/name:os.system ''", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!custom thing", "!custom"),
        ("!!python/tuple [1, 2]", "!!python/tuple"),
    ],
)
def test_non_standard_tags_are_refused(value: str, tag: str) -> None:
    check(error(MINIMAL + f"description: {value}\n"), "description", 9, f"tag {tag!r} is not allowed")


def test_tagged_key_is_refused() -> None:
    check(error("!!python/str name: x\n"), "", 1, "is not allowed")


def test_standard_explicit_tags_are_fine() -> None:
    assert load_spec(MINIMAL + "description: !!str 42\n").description == "42"


def test_alias_bomb_is_bounded() -> None:
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        bomb.append(f"{level}: &{level} [{', '.join(['*' + prev] * 9)}]")
    text = "\n".join(bomb) + "\nname: boom\n"
    start = time.process_time()
    err = error(text)
    assert time.process_time() - start < 5  # CPU seconds: the node count stops the expansion early
    assert f"more than {MAX_NODES} YAML values" in err.message and err.line is not None


def test_recursive_alias_is_refused() -> None:
    err = error("name: &a [*a]\n")
    assert f"nested more than {MAX_DEPTH} levels" in err.message and err.line == 1


def test_deep_nesting_is_refused_quickly() -> None:
    err = error("name: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested more than" in err.message


def test_oversized_text_and_file(tmp_path: Path) -> None:
    big = "# " + "x" * MAX_BYTES + "\n" + MINIMAL
    assert "larger than 5 MB" in error(big).message
    path = tmp_path / "big.yaml"
    path.write_text(big)
    err = error(path)
    assert "larger than 5 MB" in err.message and err.source == str(path)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_spec(text: str) -> None:
    check(error(text), "", 1, "empty spec")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    check(error(path), "", 1, "empty spec", source=str(path))


def test_yaml_syntax_error_names_the_line() -> None:
    text = "name: x\ninput: {size: 2}\nlayers: [1, 2\nloss: y\n"
    err = error(text)
    assert err.message.startswith("YAML syntax error") and err.line in (3, 4), str(err)
    err = error("name: x\n  bad: indent\n")
    check(err, "", 2, "YAML syntax error")
    err = error("name: x\ninput:\n\t- tab\n")
    check(err, "", 3, "YAML syntax error")


def test_multiple_documents_are_refused() -> None:
    check(error(MINIMAL + "---\nname: other\n"), "", 9, "YAML syntax error", "single document")


def test_undefined_alias() -> None:
    check(error("name: *nope\n"), "", 1, "YAML syntax error", "undefined alias")


@pytest.mark.parametrize(
    "text, key, line, first",
    [
        ("name: a\nname: b\n", "name", 2, 1),
        (MINIMAL.replace("    units: 1\n", "    units: 1\n    units: 2\n"), "layers[0].units", 7, 6),
    ],
)
def test_duplicate_keys(text: str, key: str, line: int, first: int) -> None:
    check(error(text), key, line, f"duplicate key {key.rsplit('.', 1)[-1]!r} (first given at line {first})")


def test_non_scalar_key() -> None:
    check(error("? [a, b]\n: 1\n"), "", 1, "a key must be a plain name")


# -- sources ----------------------------------------------------------------------------------


def yaml_dict(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


def test_dict_source_loads_without_lines() -> None:
    spec = load_spec(yaml_dict(EXAMPLE))
    assert spec.source == "<dict>" and spec.lines == {} and spec.layers[0].line == 0
    assert spec == load_spec(yaml_dict(EXAMPLE))
    assert spec.data == load_spec(EXAMPLE).data


def test_dict_source_errors_have_no_line() -> None:
    spec = yaml_dict(MINIMAL)
    spec["layers"][0]["units"] = "three"
    err = error(spec)
    check(err, "layers[0].units", None, "expected a positive integer, got 'three'", source="<dict>")
    assert str(err) == "<dict>: layers[0].units: expected a positive integer, got 'three'"


def test_dict_source_accepts_tuples_and_arrays() -> None:
    spec = yaml_dict(TWO)
    spec["layers"] = tuple(spec["layers"])
    spec["data"] = {"W_2": ((1, 2, 3),)}
    try:
        import numpy as np

        spec["data"]["W_1"] = np.zeros((3, 2))
    except ImportError:  # pragma: no cover
        pass
    loaded = load_spec(spec)
    assert loaded.data["W_2"] == ((1.0, 2.0, 3.0),)


def test_self_referencing_dict_is_refused() -> None:
    spec = yaml_dict(MINIMAL)
    spec["data"] = {}
    spec["data"]["x"] = spec
    assert "nested more than" in error(spec).message


def test_dict_source_is_not_modified() -> None:
    spec = yaml_dict(MINIMAL)
    before = json.dumps(spec, sort_keys=True)
    load_spec(spec)
    assert json.dumps(spec, sort_keys=True) == before


def test_path_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(EXAMPLE)
    assert load_spec(path).source == str(path)
    assert load_spec(str(path)).source == str(path)
    monkeypatch.chdir(tmp_path)
    assert load_spec("net.yaml").source == "net.yaml"
    other = tmp_path / "spec.txt"  # any existing file, whatever its extension
    other.write_text(MINIMAL)
    assert load_spec("spec.txt").name == "minimal"


def test_path_source_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    text = replace(EXAMPLE, "activation: relu", "activation: rlu")
    path.write_text(text)
    err = error(path)
    check(err, "layers[0].activation", 12, "unknown activation 'rlu'", source=str(path))
    assert str(err).startswith(f"{path}:12: layers[0].activation: unknown activation 'rlu'")


def test_missing_files(tmp_path: Path) -> None:
    check(error("missing.yaml"), "", None, "file not found", source="missing.yaml")
    check(error("also/missing.YML"), "", None, "file not found", source="also/missing.YML")
    check(error(tmp_path / "nope.yaml"), "", None, "file not found", source=str(tmp_path / "nope.yaml"))
    check(error(tmp_path), "", None, "is a directory", source=str(tmp_path))


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    check(error(path), "", 2, "not UTF-8", source=str(path))


def test_string_that_is_not_a_path_is_yaml() -> None:
    # One line, no .yaml ending: YAML text, so the error is about the spec's content.
    check(error("name: only"), "input", 1, "required key is missing")


def test_every_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)
