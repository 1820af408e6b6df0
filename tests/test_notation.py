"""The notation table (symbackprop/notation.py): the `notation:` block of a spec, validated with
line-marked errors; the spelling of every quantity in each layer style; and the reverse, a
written name resolved to the quantity it means, with an error when it is unknown or ambiguous."""

from __future__ import annotations

import textwrap

import pytest

import symbackprop as sbp
from symbackprop.notation import Names, NotationError, Quantity, latex_name
from symbackprop.spec import SpecError, load_spec

SPEC = textwrap.dedent("""\
    name: notation
    input: {name: x, size: 2}
    target: {name: y, size: 1}
    layers:
      - {name: "1", units: 2, activation: relu}
      - {name: "2", units: 1, activation: tanh}
    loss: half_squared_error
    """)


def names(notation: str = "", spec: str = SPEC) -> Names:
    return Names.of(load_spec(spec + (f"notation: {notation}\n" if notation else "")))


def spec_error(notation: str, spec: str = SPEC) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(spec + f"notation: {notation}\n")
    return caught.value


# --- the block ---------------------------------------------------------------------------------


def test_the_block_is_optional_and_defaults_to_the_engine_letters() -> None:
    notation = load_spec(SPEC).notation
    assert (
        notation.preactivation,
        notation.activation,
        notation.delta,
        notation.function,
        notation.loss,
        notation.weight,
        notation.bias,
        notation.layer,
        notation.learning_rate,
    ) == ("s", "z", "delta", "f", "L", "W", "b", "subscript", "alpha")
    assert notation.changed() == {}


def test_the_block_sets_the_default_weight_and_bias_names() -> None:
    spec = load_spec(SPEC + "notation: {weight: w, bias: c}\n")
    assert [(layer.weight, layer.bias) for layer in spec.layers] == [("w_1", "c_1"), ("w_2", "c_2")]


@pytest.mark.parametrize(
    ("notation", "key", "words"),
    [
        ("{preactivation: 3}", "notation.preactivation", ["expected a letter", "got 3"]),
        ("{activation: a_1}", "notation.activation", ["without _", "got 'a_1'"]),
        (
            "{layer: sideways}",
            "notation.layer",
            ["unknown layer style 'sideways'", "subscript or superscript or parenthesized"],
        ),
        ("{layer: superscrpt}", "notation.layer", ["did you mean superscript?"]),
        ("{delta: d}", "notation.delta", ["the d of a derivative"]),
        ("{function: exp}", "notation.function", ["already means a function"]),
        ("{learning_rate: N}", "notation.learning_rate", ["the number of samples"]),
        (
            "{preactivation: z}",
            "notation.preactivation",
            [
                "'z' is already the letter of the activation (its default)",
                "give notation.activation a letter of its own too",
            ],
        ),
        (
            "{preactivation: a, activation: a}",
            "notation.activation",
            ["'a' is already the letter of the preactivation"],
        ),
        ("{colour: red}", "notation.colour", ["unknown key 'colour'", "preactivation, activation"]),
        ("[s, z]", "notation", ["expected a mapping like {preactivation: net"]),
    ],
)
def test_a_bad_block_is_one_clear_error_at_its_line(notation: str, key: str, words: list[str]) -> None:
    error = spec_error(notation)
    assert error.key == key and error.line == 8, str(error)
    for word in words:
        assert word in error.message, error.message


def test_a_spelling_that_is_another_name_of_the_spec_is_refused() -> None:
    spec = SPEC.replace("target: {name: y, size: 1}", "target: {name: a_2, size: 1}")
    error = spec_error("{activation: a}", spec)
    assert error.key == "layers[1].name"
    assert "activation 'a_2' of layer '2' (notation.activation) is already the target's name" in error.message


def test_a_custom_loss_letter_is_reserved_for_the_loss() -> None:
    error = spec_error("{loss: J}", SPEC.replace("target: {name: y", "target: {name: J"))
    assert error.key == "target.name" and "it names the loss (notation.loss)" in error.message


# --- printing ----------------------------------------------------------------------------------


def test_the_default_notation_spells_every_symbol_as_before() -> None:
    table = names()
    for symbol in ("x", "y", "y_out", "s_1", "z_1", "delta_1", "W_1", "b_2", "s_2", "delta_2"):
        assert table.text(symbol) == symbol
        assert table.latex(symbol) == latex_name(symbol)
    assert table.element_latex("W_1") == "W^{(1)}" and table.loss_latex() == r"\mathcal{L}"
    assert table.function_text("f_1") == "f_1" and table.gradient_text("W_1") == "dL/dW_1"


@pytest.mark.parametrize(
    ("style", "text", "latex", "entry_text", "entry_latex"),
    [
        ("subscript", "net_2", "net_{2}", "net_2[1]", "net^{(2)}_{1}"),
        ("superscript", "net^2", "net^{2}", "net^2[1]", "net^{2}_{1}"),
        ("parenthesized", "net^(2)", "net^{(2)}", "net^(2)[1]", "net^{(2)}_{1}"),
    ],
)
def test_each_layer_style(style: str, text: str, latex: str, entry_text: str, entry_latex: str) -> None:
    table = names(f"{{preactivation: net, layer: {style}}}")
    quantity = table.quantity("preactivation", "2")
    assert (table.spell(quantity), table.spell(quantity, "latex")) == (text, latex)
    assert (table.spell(quantity.at("1")), table.spell(quantity.at("1"), "latex")) == (entry_text, entry_latex)


def test_every_named_quantity_has_a_spelling() -> None:
    table = names(
        "{preactivation: net, activation: a, delta: sigma, function: g, loss: E, weight: w, bias: c, "
        "layer: parenthesized, learning_rate: eta}"
    )
    spelled = {
        role: (table.spell(table.quantity(role, layer)), table.spell(table.quantity(role, layer), "latex"))
        for role, layer in (
            ("preactivation", "1"),
            ("activation", "1"),
            ("delta", "2"),
            ("weight", "1"),
            ("bias", "2"),
            ("input", None),
            ("target", None),
            ("output", None),
            ("loss", None),
            ("learning_rate", None),
            ("function", "1"),
        )
    }
    assert spelled == {
        "preactivation": ("net^(1)", "net^{(1)}"),
        "activation": ("a^(1)", "a^{(1)}"),
        "delta": ("sigma^(2)", r"\sigma^{(2)}"),
        "weight": ("w^(1)", "w^{(1)}"),
        "bias": ("c^(2)", "c^{(2)}"),
        "input": ("x", "x"),
        "target": ("y", "y"),
        "output": ("y_out", "y_{out}"),
        "loss": ("E", "E"),
        "learning_rate": ("eta", r"\eta"),
        "function": ("g_1", "g_{1}"),
    }
    weight = table.quantity("weight", "1")
    assert table.spell(Quantity("gradient", weight.symbol, "1")) == "dE/dw^(1)"
    assert (
        table.spell(Quantity("gradient", weight.symbol, "1", entry=("1", "2")), "latex")
        == r"\frac{\partial E}{\partial w^{(1)}_{1,2}}"
    )
    assert table.spell(Quantity("updated", weight.symbol, "1"), "latex") == "{w^{(1)}}'"
    assert table.spell(Quantity("updated", weight.symbol, "1")) == "w^(1)'"


def test_a_function_letter_stands_alone_when_every_layer_has_the_same_activation() -> None:
    uniform = SPEC.replace("activation: tanh", "activation: relu")
    assert names("{function: sigma}", uniform).function_latex("f_1") == r"\sigma"
    assert names("{function: sigma}").function_latex("f_1") == r"\sigma_{1}"
    assert names("", uniform).function_text("f_2") == "f_2"  # the default letter always carries its layer


def test_a_named_output_y_hat_is_printed_with_a_hat() -> None:
    table = names(spec=SPEC + "output: y_hat\n")
    assert table.latex("y_hat") == r"\hat{y}" and table.element_latex("y_hat") == r"\hat{y}"
    assert table.resolve(r"\hat{y}") == Quantity("output", "y_hat", "2")
    der = sbp.load(SPEC + "output: y_hat\n").derive()
    assert r"\left(\hat{y} - y\right)" in der.delta("2").latex("matrix")


def test_an_output_alias_in_the_activation_letter_takes_the_layer_style() -> None:
    table = names("{preactivation: z, activation: h, layer: superscript}", SPEC + "output: h_2\n")
    assert table.text("h_2") == "h^2" and table.latex("h_2") == "h^{2}"


def test_a_generic_function_keeps_its_name_whatever_the_layer_is_called() -> None:
    spec = SPEC.replace("activation: tanh", "activation: {function: f_3}")
    net = sbp.load(spec)
    assert net.derive().delta("2").text("matrix") == "delta_2 = (y_out - y) ⊙ f_3'(s_2)"
    result = net.verify("delta_2", "(y_out - y) ⊙ f_3'(s_2)")
    assert result.verdict == "equivalent", result.feedback


# --- reading -----------------------------------------------------------------------------------

COURSE = "{preactivation: net, activation: a, function: sigma, weight: w, layer: parenthesized, learning_rate: gamma}"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("net^{(2)}_1", Quantity("preactivation", "s_2", "2", entry=("1",))),
        ("net_1^{(2)}", Quantity("preactivation", "s_2", "2", entry=("1",))),
        ("s_2", Quantity("preactivation", "s_2", "2")),  # the default spelling, where it is not ambiguous
        (r"a_i^{(1)}", Quantity("activation", "z_1", "1", entry=("i",))),
        ("a^{(0)}", Quantity("input", "x")),
        ("W^{(1)}", Quantity("weight", "w_1", "1")),  # the letter's case aside
        (r"w_{ji}^{(2)}", Quantity("weight", "w_2", "2", entry=("j", "i"))),
        (r"\mathbf{w}^{(2)}", Quantity("weight", "w_2", "2")),
        (r"w_{\text{2}}", Quantity("weight", "w_2", "2")),
        (r"\delta^{(1)}_{2}", Quantity("delta", "delta_1", "1", entry=("2",))),
        (r"\frac{\partial L}{\partial w^{(2)}_{1,1}}", Quantity("gradient", "w_2", "2", entry=("1", "1"))),
        ("dL/dw^(1)", Quantity("gradient", "w_1", "1")),
        (r"\partial L / \partial W_1", Quantity("gradient", "w_1", "1")),
        (
            r"\frac{\partial L(\vec{t}; \vec{y})}{\partial w_{12}^{(1)}}",
            Quantity("gradient", "w_1", "1", entry=("1", "2")),
        ),
        (r"\nabla_{w^{(1)}} L", Quantity("gradient", "w_1", "1")),
        (r"\Delta w^{(1)}", Quantity("gradient", "w_1", "1")),
        (r"\partial w^{(2)}", Quantity("gradient", "w_2", "2")),
        ("w^{(1)}'", Quantity("updated", "w_1", "1")),
        ("{w^{(1)}}'", Quantity("updated", "w_1", "1")),  # as the tool prints it (Names.spell, LaTeX)
        ("{w^{(2)}_{1}}'", Quantity("updated", "w_2", "2", entry=("1",))),
        ("w^{(1), t+1}", Quantity("updated", "w_1", "1")),
        ("w^{(2),new}", Quantity("updated", "w_2", "2")),
        (r"{w^{(2)}}^{\prime}", Quantity("updated", "w_2", "2")),
        ("net^{(1)}'", None),  # only a parameter has an updated value
        ("w^{(3), t+1}", None),
        ("gamma", Quantity("learning_rate", "gamma")),
        ("L", Quantity("loss", "L")),
        (r"\sigma_1", Quantity("function", "f_1", "1")),
    ],
)
def test_written_names_resolve_to_their_quantity(written: str, expected: Quantity | None) -> None:
    table = names(COURSE, SPEC.replace("target: {name: y", "target: {name: t"))
    if expected is None:
        with pytest.raises(NotationError):
            table.resolve(written)
    else:
        assert table.resolve(written) == expected


def test_updated_parameters_in_the_ways_courses_write_them() -> None:
    table = names()
    for written in ("W_1'", "W_1^{t+1}", "W_1^{new}", "W_{1}^{(t+1)}", "{W_1}'", "{W_{1}}^{t+1}"):
        assert table.resolve(written) == Quantity("updated", "W_1", "1"), written


def test_the_notation_letter_wins_over_the_default_spelling() -> None:
    table = names("{preactivation: z, activation: h}")
    assert table.resolve("z_1").role == "preactivation"  # where z is the pre-activation, z is never an activation
    assert table.resolve("h_1").role == "activation"
    assert table.resolve("s_1").role == "preactivation"  # s names nothing else here


def test_an_ambiguous_name_is_an_error_that_says_so() -> None:
    table = names("{activation: x}")  # x is also the input: x_1 is layer 1's activation or entry 1 of x
    with pytest.raises(NotationError, match="ambiguous") as caught:
        table.resolve("x_1")
    assert caught.value.ambiguous
    assert "the activation of layer 1" in str(caught.value) and "entry (1) of the input x" in str(caught.value)
    assert table.resolve("x^{(1)}").role == "activation"


def test_unknown_names_list_what_the_network_knows() -> None:
    with pytest.raises(NotationError, match=r"unknown name 'q_1'.*net\^\(1\)"):
        names(COURSE).resolve("q_1")


def test_verify_says_when_an_answer_uses_an_ambiguous_name() -> None:
    net = sbp.load(SPEC + "notation: {activation: x}\n")
    result = net.verify("dL/dW_2", "delta_2 x_1^T")
    assert result.verdict == "unreadable" and "ambiguous" in result.feedback[0]
    assert net.verify("dL/dW_2", "delta_2 (x^{(1)})^T").equivalent
