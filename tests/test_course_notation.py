"""The three homework courses in their own notation (specs/*_course.yaml, docs/notation.md): each
derives, renders and verifies in its letters, and every right formula the homework solutions in
../shared/examples quote for a target is accepted there as written (wrong ones are rejected)."""

from __future__ import annotations

import re
from functools import cache

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier

SQUARE = "specs/square_221_course.yaml"  # exercise-square-activation.md: net, a, sigma, w^{(K)}, gamma
RELU = "specs/relu_4321_course.yaml"  # exercise-relu-4-3-2-1.md: z (pre-activation), h, sigma (delta), l, W^3
AUTOENCODER = "specs/recurrent_autoencoder_course.yaml"  # exercise-recurrent-autoencoder.md: a, z, w, E


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(spec))


@pytest.mark.parametrize(
    ("spec", "lines"),
    [
        (
            SQUARE,
            [
                "net^(1) = w^(1) x",
                "a^(1) = sigma(net^(1))",
                "delta^(1) = ((w^(2))^T delta^(2)) ⊙ sigma'(net^(1))",
                "dL/dw^(1) = delta^(1) x^T",
                "delta^(2)[n] = (y[n] - t[n])*sigma'(net^(2)[n])   for n = 1..N",
            ],
        ),
        (
            RELU,
            [
                "z^1 = W^1 x + b^1 1_N^T",
                "h^3 = f_3(z^3)",
                "l = sum((h^3 - y)**2/2)",
                "dl/dW^3 = sigma^3 (h^2)^T",
                "sigma^2 = ((W^3)^T sigma^3) ⊙ f_2'(z^2)",
                "sigma^1 = ((W^2)^T sigma^2) ⊙ [z^1 > 0]",
            ],
        ),
        (
            AUTOENCODER,
            [
                "a^(rec,2) = (z^(in) + z^(rec,1)) (w^(rec))^T + 1_N b^(rec)",
                "E = sum((y - x)**2)",
                "dE/dw^(rec) = (delta^(rec,2))^T (z^(in) + z^(rec,1)) + (delta^(rec,1))^T z^(in)",
                "delta^(out) = 2 (y - x) ⊙ [a^(out) > 0]",
            ],
        ),
    ],
)
def test_each_course_derives_in_its_own_letters(spec: str, lines: list[str]) -> None:
    der = sbp.load(spec).derive()
    printed = der.forward_text() + [t.text(form) for form in sbp.FORMS for t in der.targets]
    for line in lines:
        assert line in printed, line


def test_each_course_renders_in_its_own_letters() -> None:
    text = sbp.load(SQUARE).render("md", sections=["forward", "derivation", "numeric", "checks"])
    for piece in (
        r"net^{(1)} = w^{(1)} x",
        r"\sigma'\left(net^{(1)}\right)",
        r"\frac{\partial \mathcal{L}}"
        r"{\partial w^{(2)}}",
        r"a^{(1)} = \sigma\left(net^{(1)}\right) = \begin{bmatrix} 25 \\ "
        r"49 \end{bmatrix}",
        "(13 of 13 agree)",
    ):
        assert piece in text, piece
    relu = sbp.load(RELU).render("tex", sections=["derivation"], forms=["matrix"])
    assert r"\sigma^{2} = ({W^{3}}^{\top} \sigma^{3}) \odot f_{2}'(z^{2})" in re.sub(r"\\penalty\d+ ", "", relu)


RIGHT = [
    # exercise-square-activation.md, 1.3 c), as the solution writes it (numbers and all)
    (
        SQUARE,
        "delta_2",
        r"\delta_{1}^{(2)} = -(t_{1} - y_{1}) \cdot \sigma'(net_{1}^{(2)}) = -(3 - 1) \cdot 2(-1) = "
        r"-2 \cdot -2 = 4",
    ),
    (
        SQUARE,
        "delta_1",
        r"\delta_{1}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{k1}^{(2)} \cdot "
        r"\sigma'(net_{1}^{(1)}) = \delta_{1}^{(2)} \cdot w_{11}^{(2)} \cdot 2(5) "
        r"= 4 \cdot (-2) \cdot 10 = -80",
    ),
    (
        SQUARE,
        "delta_1",
        r"\delta_{2}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{k2}^{(2)} \cdot "
        r"\sigma'(net_{2}^{(1)}) = \delta_{1}^{(2)} \cdot w_{12}^{(2)} \cdot 2(7) "
        r"= 4 \cdot 1 \cdot 14 = 56",
    ),
    (SQUARE, "dL/dw_1", r"\frac{\partial L(\vec{t}; \vec{y})}{\partial w_{ji}^{(1)}} = \delta_j^{(1)} \cdot a_i^{(0)}"),
    (
        SQUARE,
        "dL/dw_2",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{11}^{(2)}} &= \delta_1^{(2)} \cdot a_1^{(1)} "
        r"= 4 \cdot 25 = 100 \\",
    ),
    (
        SQUARE,
        "dL/dw_2",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{12}^{(2)}} &= \delta_1^{(2)} \cdot a_2^{(1)} "
        r"= 4 \cdot 49 = 196 \\",
    ),
    (
        SQUARE,
        "dL/dw_1",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{11}^{(1)}} &= \delta_1^{(1)} \cdot a_1^{(0)} "
        r"= -80 \cdot 2 = -160 \\",
    ),
    (
        SQUARE,
        "dL/dw_1",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{21}^{(1)}} &= \delta_2^{(1)} \cdot a_1^{(0)} "
        r"= 56 \cdot 2 = 112 \\",
    ),
    # exercise-relu-4-3-2-1.md, questions 1 and 2: sigma is the output's delta, h^2_1 an entry of h^2
    (RELU, "dL/dW_3", r"\frac{\partial l(\theta)}{\partial W_{1,1}^3} = h_1^2 \times \sigma"),
    (RELU, "dL/dW_3", r"\frac{\partial l(\theta)}{\partial W_{1,2}^3} = h_2^2 \times \sigma"),
    (
        RELU,
        "dL/dW_3",
        r"\frac{\partial l(\theta)}{\partial W^3} = \begin{bmatrix} h_1^2 \times \sigma & h_2^2 \times "
        r"\sigma \end{bmatrix}",
    ),
    (RELU, "dL/dW_2", r"\frac{\partial l(\theta)}{\partial W_{i,j}^2} = \delta W_{1,i}^3 [z_i^2 > 0] h_j^1"),
    (RELU, "dL/dW_2", r"\frac{\partial l(\theta)}{\partial W^2} = \sigma^2 (h^1)^T"),
    # questions 1 and 4: dl/dh^3 is the output's delta sigma; an entry of dl/dh^2 (h^2_{1,1}: unit 1, sample 1)
    (RELU, "dL/dh_3", r"\frac{\partial l(\theta)}{\partial h^3} = \sigma"),
    (RELU, "dL/dh_2", r"\frac{\partial l(\theta)}{\partial h_{1,1}^2} = W_{1,1}^3 \times \sigma"),
    (RELU, None, r"\frac{\partial l(\theta)}{\partial h_{1,1}^2} = W_{1,1}^3 \times \sigma"),  # the left side says
    # question 14 with the relu' of layer 2 the solution leaves out (docs/examples.md)
    (
        RELU,
        "dL/dh_1",
        r"\frac{\partial l(\theta)}{\partial h^1_{j}} = \sum_{i=1}^{2} \sigma W_{1,i}^3 [z_i^2 > 0] "
        r"W_{i,j}^2",
    ),
    # exercise-recurrent-autoencoder.md in its letters, with the corrections docs/examples.md explains
    (AUTOENCODER, "delta_out", r"\delta^{(out)} = 2 (y - x) \odot f'(a^{(out)})"),
    (
        AUTOENCODER,
        "dL/dw_out",
        r"\frac{\mathrm{d}E}{\mathrm{d}w_{k,j}^{(out)}} = \sum_{n=1}^{N} \delta_{n,k}^{(out)} "
        r"(z_{n,j}^{(rec,2)} + z_{n,j}^{(link)})",
    ),
    (
        AUTOENCODER,
        "dL/db_out",
        r"\frac{\partial E}{\partial b^{(out)}_j} = 2 \sum_{n=1}^{N} (y_{n,j} - x_{n,j}) "
        r"f'(a^{(out)}_{n,j}) * 1",
    ),
    (
        AUTOENCODER,
        "delta_link",
        r"\delta_{n,j}^{link} = \sum_{k} \delta_{n,k}^{out} w_{k,j}^{(out)} "
        r"f'(a_{n,j}^{(link)})",
    ),
    (
        AUTOENCODER,
        "dL/dw_rec",
        r"\frac{dE}{dw^{(rec)}} = {\delta^{(rec,2)}}^T (z^{(in)} + z^{(rec,1)}) + "
        r"{\delta^{(rec,1)}}^T z^{(in)}",
    ),
]

WRONG = [
    # the numbers put into the general formula must be the spec's: net_2^(1) is 7, so sigma' is 2(7), not 2(8)
    (
        SQUARE,
        "delta_1",
        r"\delta_{2}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{k2}^{(2)} \cdot "
        r"\sigma'(net_{2}^{(1)}) = \delta_{1}^{(2)} \cdot w_{12}^{(2)} \cdot 2(8)",
        "is not what the previous one is on the data",
    ),
    (
        SQUARE,
        "dL/dw_1",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{11}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)} "
        r"= -80 \cdot 3 = -240 \\",
        "this is entry (1, 2) of dL/dw^(1), not entry (1, 1)",
    ),
    (
        SQUARE,
        "dL/dw_1",
        r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{21}^{(1)}} &= \delta_2^{(1)} \cdot a_2^{(0)} "
        r"= 56 \cdot 3 = 168",
        "this is entry (2, 2) of dL/dw^(1), not entry (2, 1)",
    ),
    (
        RELU,
        "dL/dh_1",
        r"\frac{\partial l(\theta)}{\partial h_1^{(1,j)}} = \sum_{i=1}^{n_2} \delta W_{(1,i)}^3 "
        r"W_{(i,j)}^2",
        "the activation's derivative f_2'(z^2) is missing",
    ),
    (
        RELU,
        "dL/dh_2",
        r"\frac{\partial l(\theta)}{\partial h^2} = \begin{bmatrix} W_{1,1}^3 \times \sigma & "
        r"W_{1,2}^3 \times \sigma \end{bmatrix}",
        "the matrix written out is 1x2, but dl/dh^2 is 2x1",
    ),
    (
        RELU,
        "dL/dW_2",
        r"\frac{\partial l(\theta)}{\partial W_2} = \begin{bmatrix} \delta W_{(1,1)}^3 h_1^1 & \delta "
        r"W_{(1,1)}^3 h_2^1 & \delta W_{(1,1)}^3 h_3^1 \\ \delta W_{(1,2)}^3 h_1^1 & \delta W_{(1,2)}^3 "
        r"h_2^1 & \delta W_{(1,2)}^3 h_3^1 \end{bmatrix}",
        "the activation's derivative",
    ),
    (AUTOENCODER, "delta_out", r"\delta^{(out)} = 2 (x - y) \odot f'(a^{(out)})", "the sign is flipped"),
    (AUTOENCODER, "delta_link", r"\delta^{link} = \delta^{out} w^{(out)}", "the activation's derivative"),
]


@pytest.mark.parametrize(("spec", "target", "answer"), RIGHT)
def test_right_homework_formulas_are_accepted_in_the_course_notation(spec: str, target: str, answer: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "equivalent", result.feedback


@pytest.mark.parametrize(("spec", "target", "answer", "mistake"), WRONG)
def test_wrong_homework_formulas_are_rejected_in_the_course_notation(
    spec: str, target: str, answer: str, mistake: str
) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "different"
    assert any(mistake in sentence for sentence in result.feedback), result.feedback


def test_the_course_letters_name_the_spec_quantities() -> None:
    names = sbp.load(SQUARE).derive().names
    assert names.resolve("net_1^{(2)}").name == "s_2[1]"
    assert names.resolve("a_i^{(0)}").name == "x[i]"
    assert names.resolve(r"\frac{\partial L(\vec{t};\vec{y})}{\partial w_{ji}^{(2)}}").name == "dL/dw_2[j,i]"
    assert names.resolve("gamma").role == "learning_rate"
    relu = sbp.load(RELU).derive().names
    assert relu.resolve("h_1^2").name == "z_2[1]" and relu.resolve("z^1").name == "s_1"
    assert relu.resolve(r"\sigma").name == "delta_3" and relu.resolve("W^3_{1,1}").name == "W_3[1,1]"


@pytest.mark.parametrize(
    ("spec", "target", "answer"),
    [
        # braceless arguments, as students type them: \vec t, \hat y, \mathbf W, \frac12
        (
            SQUARE,
            "dL/dw_1",
            r"\frac{\partial L(\vec t; \vec y)}{\partial w_{ji}^{(1)}} = \delta_j^{(1)} \cdot a_i^{(0)}",
        ),
        (SQUARE, "dL/dw_2", r"\frac{\partial L}{\partial \mathbf w^{(2)}} = \delta^{(2)} {\mathbf a^{(1)}}^T"),
        (SQUARE, "delta_2", r"\delta^{(2)} = \frac12 \cdot 2 (y - t) \odot \sigma'(net^{(2)})"),
        (SQUARE, "delta_2", r"\delta^{(2)} = \frac{1}2 \cdot 2 (y - t) \odot 2 net^{(2)}"),
        # \prime for the derivative's prime
        (
            SQUARE,
            "delta_1",
            r"\delta_{1}^{(1)} = \delta_{1}^{(2)} \cdot w_{11}^{(2)} \cdot \sigma^\prime(net_{1}^{(1)})",
        ),
        (SQUARE, "delta_2", r"\delta_{1}^{(2)} = -(t_{1} - y_{1}) \cdot \sigma^{\prime}(net_{1}^{(2)})"),
        (RELU, "delta_2", r"\sigma^2 = ((W^3)^T \sigma^3) \odot f_2^{\prime}(z^2)"),
    ],
)
def test_braceless_arguments_and_prime_commands_read_as_written(spec: str, target: str, answer: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "equivalent", result.feedback


def test_targets_and_feedback_are_named_in_the_course_notation() -> None:
    """The target a verdict names and every sentence of its feedback use the course's letters; the engine's
    name stays in `name` (the key of numeric results and of Derivation.target)."""
    relu = verifier(RELU).verify("dL/dh_2", r"\sigma^2")
    assert (relu.target, relu.to_dict()["name"]) == ("dl/dh^2", "dL/dz_2")
    assert relu.feedback[0].startswith("it differs from dl/dh^2 at the test points")
    square = verifier(SQUARE)
    for answer, sentence in [
        (r"x^T \delta^{(1)}", "your answer is 1x1, but dL/dw^(1) is 2x2 (the size of w^(1))"),
        (r"\delta^{(2)}_1 = 1", "the left side is delta^(2) entry (1, 1), but the target is dL/dw^(1)"),
        ("q_1", "(did you mean a^(1)?)"),
        (
            r"\frac{\partial L}{\partial net^{(1)}} \cdot \frac{\partial net^{(2)}}{\partial w^{(1)}}",
            "does not chain: net^(1) is not net^(2)",
        ),
        (
            r"\frac{\partial L}{\partial net^{(2)}} \cdot \frac{\partial net^{(2)}}{\partial w^{(1)}} + "
            r"\frac{\partial L}{\partial net^{(1)}} \cdot \frac{\partial net^{(1)}}{\partial w^{(1)}}",
            "the path w^(1) → net^(1) → a^(1) → net^(2) → y → L is counted 2 times",
        ),
    ]:
        result = square.verify("dL/dw_1", answer)
        assert result.target == "dL/dw^(1)"
        assert any(sentence in told for told in result.feedback), (answer, result.feedback)
        assert not re.search(r"\b(w_1|s_1|z_1|delta_2|dL/dw_1)\b", " ".join(result.feedback)), result.feedback
    hinted = sbp.load(SQUARE).verify("delta_1", "(w^(2))^T delta^(2)", hint_level=1)
    assert hinted.hints[0].text == "in delta^(1): the activation's derivative sigma'(net^(1)) is missing"
    entry = square.verify(None, r"\delta^{(1)} = 5")
    assert "say which entry of delta^(1) this is" in entry.feedback[0]
    default = Verifier(sbp.load("specs/square_221.yaml")).verify("dL/dW_1", r"x^T \delta_1")
    assert default.target == default.name == "dL/dW_1" and "name" not in default.to_dict()  # the names agree


def test_derive_json_keys_targets_by_engine_name_and_prints_them_in_the_notation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from symbackprop.cli import main

    assert main(["derive", RELU, "--target", "dl/dh^2", "--form", "matrix", "--format", "json"]) == 0
    [target] = json.loads(capsys.readouterr().out)["targets"]
    assert target["target"] == "dL/dz_2"  # the key of numeric --json and Derivation.target()
    assert target["forms"]["matrix"]["text"].startswith("dl/dh^2 = ")


def test_gradcheck_and_target_errors_name_things_in_the_course_notation() -> None:
    net = sbp.load(SQUARE)
    report = net.gradcheck().report()
    assert "  w^(1)              4/4" in report and "w_1" not in report
    with pytest.raises(sbp.UnknownTarget) as caught:
        net.derive().target("dL/dq")
    assert "known: delta^(2), dL/dw^(2), delta^(1), dL/dw^(1); also dL/d<value> for x, a^(1), y" in str(caught.value)
    relu = sbp.load(RELU).derive()
    with pytest.raises(sbp.UnknownTarget, match=r"dl/dW\^3, .*also dl/d<value> for x, h\^1, h\^2, h\^3"):
        relu.target("dL/dq")
    assert relu.target("dl/db^1[1,1]").name == "dL/db_1[1]"  # what the message suggests is a target
