"""Whatever `symbackprop derive` prints is accepted as equivalent: every target, every form,
text and LaTeX, with and without its left side (the index form's right side alone too), for
every spec in specs/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.api import FORMS
from symbackprop.verify import Verifier

SPECS = sorted(
    str(path.relative_to(Path(__file__).resolve().parent.parent))
    for path in (Path(__file__).resolve().parent.parent / "specs").glob("*.yaml")
)


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(spec))


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("form", FORMS)
def test_derive_output_round_trips(spec: str, form: str) -> None:
    v = verifier(spec)
    failures = []
    for target in v.derivation.targets:
        for printed in (target.text(form), target.latex(form)):
            answers = [printed, printed.split(" = ", 1)[1]]
            for answer in answers:
                result = v.verify(target.name, answer)
                if not result.equivalent:
                    failures.append((target.name, answer, result.verdict, result.feedback))
    assert failures == []


def test_the_target_can_come_from_the_left_side() -> None:
    v = verifier("specs/mlp.yaml")
    result = v.verify(None, r"\frac{\partial \mathcal{L}}{\partial W} = x \delta_{1}^{\top}")
    assert result.target == "dL/dW" and result.equivalent
    assert v.verify(None, "delta_out = (y_out - y) ⊙ f_out'(s_out)").target == "delta_out"
    assert v.verify(None, "x delta_1^T").verdict == "unreadable"


def test_a_left_side_naming_another_target_is_a_mistake() -> None:
    result = verifier("specs/mlp.yaml").verify("dL/dW", "dL/dw = z_1 delta_out^T")
    assert result.verdict == "different"
    assert result.feedback == ("the left side is dL/dw, but the target is dL/dW",)


@pytest.mark.parametrize(
    ("spelling", "answer"),
    [
        ("y_out", "(y_out - y) ⊙ f_out'(s_out)"),
        ("y_{out}", r"(y_{out} - y) \odot f_{out}'(s_{out})"),
        ("tanh", r"(y_{out} - y) \odot \tanh'(s_{out})"),
        ("closed form", "(y_out - y) ⊙ (1 - y_out^2)"),
        ("circ power", r"(y_{out} - y) \circ (\mathbf{1} - y_{out}^{\circ 2})"),
        ("bare f", "(y_out - y) ⊙ f'(s_out)"),
        ("through the delta", "delta_out"),
        ("partial", r"\frac{\partial L}{\partial y_{out}} \odot f_{out}'(s_{out})"),
    ],
)
def test_spellings_of_one_answer(spelling: str, answer: str) -> None:
    result = verifier("specs/mlp.yaml").verify("delta_1", f"(w ({answer})) ⊙ [s_1 > 0]")
    assert result.equivalent, (spelling, result.feedback)


def test_a_delta_written_through_itself_is_not_an_answer() -> None:
    result = verifier("specs/mlp.yaml").verify("delta_1", "delta_1")
    assert result.verdict == "different"
    assert "delta_1 itself" in result.feedback[0]


def test_answers_through_named_values_or_substituted_agree() -> None:
    v = verifier("specs/relu_4321.yaml")
    for answer in (
        "delta_2 z_1^T",
        "((W_3^T delta_3) ⊙ [s_2 > 0]) z_1^T",
        "((W_3^T ((h_3 - y) ⊙ f_3'(s_3))) ⊙ relu'(s_2)) relu(s_1)^T",
    ):
        assert v.verify("dL/dW_2", answer).equivalent, answer


@pytest.mark.parametrize(
    ("target", "answer"),
    [
        ("delta_out", r"(y_{out} - y) \odot (1 - \tanh^2(s_{out}))"),
        ("delta_out", r"(y_{out} - y) \odot \operatorname{sech}^2(s_{out})"),
        ("delta_out", r"(y_{out} - y) \odot f'_{out}(s_{out})"),
        ("delta_out", "(y_out - y) ⊙ (1 - y_out²)"),
        ("delta_out", r"(\hat{y} - y) \odot (1 - \hat{y}^{\circ 2})"),
        ("dL/dW", "x delta_1ᵀ"),
        ("dL/dw", r"z_{\text{1}} \delta_{\mathrm{out}}^T"),
        ("delta_1", r"(w \delta_{out}) \odot \mathbb{1}[s_1 > 0]"),
        ("delta_1", r"(w \delta_{out}) \odot \mathbf{1}(s_1 > 0)"),
        ("delta_1", r"(w \delta_{out}) \odot H(s_1)"),
        ("delta_1", r"\operatorname{diag}(f_1'(s_1)) w \delta_{out}"),
        ("delta_1", r"\operatorname{diag}(\mathbb{1}[s_1 > 0]) (w \delta_{out})"),
        ("dL/dW", r"\nabla_{W} L = x \delta_1^T"),
        ("dL/dW", r"\nabla_W \mathcal{L} = x \delta_1^T"),
        ("dL/dW", r"\Delta W = x \delta_1^T"),
        ("dL/dW", "Delta W = x delta_1^T"),
        ("dL/dW", r"\partial W = x \delta_1^T"),
        ("dL/dW", r"\frac{\partial L(\vec{y}; \vec{y}_{out})}{\partial W} = x \delta_1^T"),
        ("dL/dW", r"\frac{\partial l(\theta)}{\partial W} = x \delta_1^T"),
        ("dL/dW", r"\frac{dL(y;x)}{dW} = x \delta_1^T"),
        ("delta_out", r"\delta = (y_{out} - y) \odot (1 - y_{out}^2)"),
        ("delta_out", r"(y_{out} - y) \odot (1 - y_{out} \odot y_{out}) \\"),
        ("delta_1", r"\delta_{1} &= \left(w \delta_{out}\right) \odot f_{1}'\left(s_{1}\right) \\"),
    ],
)
def test_what_students_write(target: str, answer: str) -> None:
    """The spellings issue #11 lists: hats, fonts in subscripts, powers of functions, f'_{out}, Unicode ² and ᵀ,
    indicators, H, diag, the gradient as \\nabla, \\Delta or \\partial, a loss with arguments, align* lines."""
    net = "specs/mlp.yaml" if "hat" not in answer else None
    v = (
        verifier(net)
        if net
        else Verifier(
            sbp.load(
                Path(__file__)
                .resolve()
                .parent.parent.joinpath("specs/mlp.yaml")
                .read_text()
                .replace("output: y_out", "output: y_hat")
            )
        )
    )
    result = v.verify(target, answer)
    assert result.equivalent, result.feedback


def test_entrywise_division_reads_back() -> None:
    v = verifier("specs/mlp.yaml")
    for answer in (
        r"(y_{out} - y) \odot (1 - y_{out}^{\circ 2}) \oslash 1",
        "(y_out - y) ⊙ (1 - y_out ⊙ y_out) ⊘ 1",
        "((y_out - y) ⊙ (1 - y_out ⊙ y_out) ⊙ (2 + y_out)) / (2 + y_out)",
        r"\frac{(y_{out} - y) \odot (1 - y_{out}^2)}{\mathbf{1}}",
    ):
        assert v.verify("delta_out", answer).equivalent, answer


@pytest.mark.parametrize(
    ("spec", "target", "answer", "verdict"),
    [
        # a vector or a value with a sample axis: its power is entry by entry, as 1 - z^2 for tanh' is written
        ("specs/mlp.yaml", "delta_out", "(y_out - y) ⊙ (1 - y_out^2)", "equivalent"),
        ("specs/mlp.yaml", "delta_out", r"(y_{out} - y) \odot (1 - y_{out}^{\circ 2})", "equivalent"),
        (
            "specs/relu_4321.yaml",
            "delta_2",
            "(W_3^T delta_3) ⊙ [s_2 > 0] + 0 s_2^2 + 0 (W_3^T delta_3)^2",
            "equivalent",
        ),
        ("specs/relu_4321.yaml", "dL/dW_3", "(h_3 - y) z_2^T + 0 ⊙ W_3^2", "equivalent"),  # W_3 is 1x2: a row
        # a matrix (every dimension larger than 1): W^2 is W W to an algebra book, W ⊙ W to a formula sheet
        ("specs/mlp.yaml", "dL/dW", "x delta_1^T + 0 W^2", "unreadable"),
        ("specs/mlp.yaml", "dL/dW", "x delta_1^T + 0 W^{\\circ 2}", "equivalent"),
        ("specs/mlp.yaml", "dL/dW", "x delta_1^T + 0 W ⊙ W", "equivalent"),
        ("specs/relu_4321.yaml", "dL/dW_2", "delta_2 z_1^T + 0 (W_2 W_2^T)^2 W_2", "unreadable"),
        ("specs/relu_4321.yaml", "dL/dW_2", "delta_2 z_1^T + 0 (W_2 W_2^T) (W_2 W_2^T) W_2", "equivalent"),
        # a layer written as a superscript is no power
        ("specs/relu_4321_course.yaml", "dl/dW^3", r"\sigma (h^2)^T", "equivalent"),
        ("specs/relu_4321_course.yaml", "dl/dW^2", r"((W^3)^T \sigma \odot [z^2 > 0]) (h^1)^T", "equivalent"),
    ],
)
def test_a_power_of_a_matrix_is_not_guessed(spec: str, target: str, answer: str, verdict: str) -> None:
    result = sbp.load(spec).verify(target, answer)
    assert result.verdict == verdict, result.feedback


def test_the_power_of_a_matrix_says_how_to_write_it() -> None:
    result = sbp.load("specs/mlp.yaml").verify("dL/dW", "W^2")
    assert result.feedback[0].startswith(
        "W^2: W is a 2x3 matrix, and a power of a matrix is ambiguous (the matrix "
        "product or entry by entry): write W ⊙ W for the power entry by entry"
    )
    square = sbp.load("specs/relu_4321.yaml").verify("dL/dW_2", "(W_2 W_2^T)^2")
    assert (
        "write (W_2 W_2^T) ⊙ (W_2 W_2^T) for the power entry by entry, or (W_2 W_2^T) (W_2 W_2^T) for the "
        "matrix product" in square.feedback[0]
    )
    assert "write W_2^{\\circ 3}" in sbp.load("specs/relu_4321.yaml").verify("dL/dW_2", "W_2^3").feedback[0]


def test_a_kronecker_bracket_in_an_index_answer_for_a_delta() -> None:
    """[k = j] picks the term of a sum: proved equal entry by entry; [k != j] leaves out the only one that counts."""
    net = sbp.load("specs/mlp.yaml")
    right = net.verify("delta_1", "delta_1[j,n] = sum_{k=1}^{3}([k = j]*w[k]*delta_out[n]*f_1'(s_1[k,n]))")
    assert (right.verdict, right.method) == ("equivalent", "symbolic")
    assert not net.verify(
        "delta_1", "delta_1[j,n] = sum_{k=1}^{3}([k != j]*w[k]*delta_out[n]*f_1'(s_1[k,n]))"
    ).equivalent
    assert net.verify(
        "delta_1",
        r"\delta^{(1)}_{j,n} = \sum_{k=1}^{3} \left[k = j\right] w_{k} \delta^{(out)}_{n} "
        r"f_1'(s^{(1)}_{k,n})",
    ).equivalent
