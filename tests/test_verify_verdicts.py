"""Sound verdicts: wrong answers that agree at lucky points are rejected, right working written as a
chain of sides is accepted, and every verdict says how it was reached (a proof, or the points)."""

from __future__ import annotations

import json
from functools import cache

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier

RELU = "specs/relu_4321.yaml"  # one sample in its data: every point is one sample
SQUARE = "specs/square_221.yaml"
DEEP = {
    "name": "100 sigmoid layers",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 2},
    "layers": [{"name": str(k), "units": 2, "activation": "sigmoid"} for k in range(1, 101)],
    "loss": "half_squared_error",
}


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(DEEP if spec == "deep" else spec))


def _dropped_relu() -> list[tuple[str, str, str, str, int]]:
    """(target, wrong answer with one unit's relu' dropped, the same with it, the missing derivative, the
    unit) for every unit of both relu layers of the 4-3-2-1 network, in the homework's index notation."""
    cases = []
    for j in (1, 2):
        cases.append(
            (
                "delta_2",
                rf"\delta^{{(2)}}_{j} = W^{{(3)}}_{{1,{j}}} \delta_3",
                rf"\delta^{{(2)}}_{j} = W^{{(3)}}_{{1,{j}}} \delta_3 [s^{{(2)}}_{j} > 0]",
                "f_2'(s_2)",
                j,
            )
        )
        for i in (1, 2, 3):
            lhs = rf"\frac{{\partial l}}{{\partial W^{{(2)}}_{{{j},{i}}}}}"
            cases.append(
                (
                    "dL/dW_2",
                    rf"{lhs} = \delta_3 W^{{(3)}}_{{1,{j}}} z^{{(1)}}_{i}",
                    rf"{lhs} = \delta_3 W^{{(3)}}_{{1,{j}}} [s^{{(2)}}_{j} > 0] z^{{(1)}}_{i}",
                    "f_2'(s_2)",
                    j,
                )
            )
    for j in (1, 2, 3):
        cases.append(
            (
                "delta_1",
                rf"\delta^{{(1)}}_{j} = \sum_k W^{{(2)}}_{{k,{j}}} \delta^{{(2)}}_k",
                rf"\delta^{{(1)}}_{j} = \sum_k W^{{(2)}}_{{k,{j}}} \delta^{{(2)}}_k \, [s^{{(1)}}_{j} > 0]",
                "f_1'(s_1)",
                j,
            )
        )
        cases.append(
            (
                "dL/dW_1",
                rf"\frac{{\partial l}}{{\partial W^{{(1)}}_{{{j},2}}}} = \sum_k W^{{(2)}}_{{k,{j}}} "
                rf"\delta^{{(2)}}_k x_2",
                rf"\frac{{\partial l}}{{\partial W^{{(1)}}_{{{j},2}}}} = \sum_k W^{{(2)}}_{{k,{j}}} "
                rf"\delta^{{(2)}}_k x_2 \operatorname{{ReLU}}'(s^{{(1)}}_{j})",
                "f_1'(s_1)",
                j,
            )
        )
    return cases


@pytest.mark.parametrize(("target", "wrong", "right", "missing", "unit"), _dropped_relu())
def test_a_dropped_relu_derivative_is_rejected_for_every_unit(
    target: str, wrong: str, right: str, missing: str, unit: int
) -> None:
    v = verifier(RELU)
    result = v.verify(target, wrong)
    assert result.verdict == "different", result.feedback
    assert result.feedback[0].startswith(
        f"the activation's derivative {missing} is missing for unit {unit} of layer"
    ), result.feedback
    fixed = v.verify(target, right)
    assert fixed.verdict == "equivalent", fixed.feedback
    assert fixed.method == "symbolic" and "proved equal" in fixed.proof


def test_the_points_exercise_both_branches_of_every_relu_unit() -> None:
    points = verifier(RELU).points
    seen = [row for point in points.values for row in points.branches(point)]
    layer = [1, 1, 1, 2, 2]  # the units of s_1, then of s_2
    assert len(seen[0]) == len(layer)
    for unit in range(len(layer)):
        assert {bool(row[unit]) for row in seen} == {True, False}, unit
        for other in range(len(layer)):  # a unit of layer 1 and one of layer 2: all four combinations
            if layer[unit] != layer[other]:
                assert len({(bool(row[unit]), bool(row[other])) for row in seen}) == 4, (unit, other)


@pytest.mark.parametrize(
    "answer",
    [
        "-delta_1 x^T",
        "1000 delta_1 x^T",
        "1.001 delta_1 x^T",
        "-((W_2^T delta_2) ⊙ f_1'(s_1)) x^T",
        "(W_2^T delta_2) x^T",
    ],
)
def test_vanishing_values_are_compared_at_their_own_scale(answer: str) -> None:
    v = verifier("deep")
    assert 0 < abs(v.points.values[0]["dL/dW_1"]).max() < 1e-30  # the gradient vanishes through 100 layers
    result = v.verify("dL/dW_1", answer)
    assert result.verdict == "different", answer
    assert result.method == "numeric"


def test_a_deep_chain_is_proved_through_its_named_deltas() -> None:
    v = verifier("deep")
    for answer in ("delta_1 x^T", "((W_2^T delta_2) ⊙ f_1'(s_1)) x^T", "((W_2^T delta_2) ⊙ z_1 ⊙ (1 - z_1)) x^T"):
        result = v.verify("dL/dW_1", answer)
        assert result.equivalent and result.method == "symbolic", answer
    assert (
        v.verify("dL/dW_1", "-delta_1 x^T").feedback[0]
        == "the sign is flipped: dL/dW_1 = delta_1 x^T, not its negative"
    )  # not blamed on delta_100's loss term


def test_a_line_with_the_spec_numbers_substituted() -> None:
    v = verifier(SQUARE)
    line = (
        r"\delta_{1}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{k1}^{(2)} \cdot f_1'(s_{1}^{(1)}) "
        r"= \delta_{1}^{(2)} \cdot w_{11}^{(2)} \cdot 2(5) = 4 \cdot (-2) \cdot 10 = -80"
    )
    result = v.verify("delta_1", line)
    assert result.verdict == "equivalent", result.feedback
    assert result.method == "numeric"  # some sides were checked on the data only
    wrong = v.verify("delta_1", line.replace(r"2(5) = 4 \cdot (-2) \cdot 10 = -80", r"2(5) = 4 \cdot (-2) \cdot 11"))
    assert wrong.verdict == "different"
    assert wrong.feedback[0].startswith("this side is not what the previous one is on the data: it is -88")
    mixed = v.verify("delta_1", line.replace(r"2(5)", r"2(7)"))
    assert mixed.verdict == "different" and "not what the previous one is on the data" in mixed.feedback[0]


def test_the_homework_lines_in_the_course_notation() -> None:
    """The lines of ../shared/examples/exercise-square-activation.md as the homework writes them."""
    v = verifier("specs/square_221_course.yaml")
    for line in (
        r"\delta_{1}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} \cdot w_{k1}^{(2)} \cdot \sigma'(net_{1}^{(1)}) "
        r"= \delta_{1}^{(2)} \cdot w_{11}^{(2)} \cdot 2(5) = 4 \cdot (-2) \cdot 10 = -80",
        r"\delta_{1}^{(2)} = -(t_{1} - y_{1}) \cdot \sigma'(net_{1}^{(2)}) = -(3 - 1) \cdot 2(-1) "
        r"= -2 \cdot -2 = 4",
    ):
        result = v.verify(None, line)
        assert result.verdict == "equivalent", (line, result.feedback)
    relu = verifier("specs/relu_4321_course.yaml")
    result = relu.verify(None, r"\frac{\partial l}{\partial W^{(2)}_{1,1}} = \delta_3 W^{(3)}_{1,1} h^{(1)}_1")
    assert result.verdict == "different"
    assert result.feedback[0].startswith(
        "the activation's derivative f_2'(z^2) is missing for unit 1 of layer 2 "
        "([z^2 > 0] is 0 where a unit is inactive)"
    )


def test_a_side_with_numbers_needs_a_right_formula_before_it() -> None:
    v = verifier(RELU)  # on the spec's data every relu unit is active: dropping relu' changes no number there
    wrong = r"\delta^{(1)}_1 = 1 \cdot \sum_k W^{(2)}_{k,1} \delta^{(2)}_k"
    assert v.verify("delta_1", wrong).verdict == "different"


def test_a_definition_chain_through_the_target_itself() -> None:
    v = verifier(SQUARE)
    for line in (
        r"\delta_2 = \frac{\partial L}{\partial s_2} = (y - t) \cdot f_2'(s_2)",
        r"\frac{\partial L}{\partial s_2} = \delta_2 = (y - t) \cdot 2 s_2",
    ):
        result = v.verify("delta_2", line)
        assert result.verdict == "equivalent", (line, result.feedback)
    alone = v.verify("delta_2", r"\delta_2 = \frac{\partial L}{\partial s_2}")
    assert alone.verdict == "different" and "itself" in alone.feedback[0]


def test_the_certificate_in_json_and_text() -> None:
    v = verifier("specs/mlp.yaml")
    proved = json.loads(
        v.verify("dL/dW", r"x \left(\left(w \delta_{out}\right) \odot [s_1 > 0]\right)^{\top}").to_json()
    )
    assert proved["method"] == "symbolic" and proved["points"] >= 3
    assert proved["proof"] == "proved equal as matrices, for every size, through the definitions of delta_1"
    wrong = v.verify("dL/dW", "-x delta_1^T")
    assert wrong.method == "numeric" and wrong.points >= 3
    assert "method: numeric" in wrong.text()
    unreadable = json.loads(v.verify("dL/dW", "x +").to_json())
    assert "method" not in unreadable


def test_the_full_size_autoencoder_is_proved_as_matrices() -> None:
    v = verifier("specs/recurrent_autoencoder.yaml")
    result = v.verify("dL/dW_rec", r"{\delta_{rec}^{(2)}}^T (z_{in} + z_{rec}^{(1)}) + {\delta_{rec}^{(1)}}^T z_{in}")
    assert result.equivalent and result.method == "symbolic" and "every size" in result.proof


def test_a_wrong_activation_derivative_names_both() -> None:
    result = verifier("specs/mlp.yaml").verify("delta_1", r"(w \delta_{out}) \odot (1 - z_1^2)")
    assert result.verdict == "different"
    assert result.feedback[0].startswith("tanh' where relu' belongs"), result.feedback
    assert result.partial_credit[0].mistake == "wrong_derivative"


def test_no_doubled_transposes_in_feedback() -> None:
    v = verifier("specs/mlp.yaml")
    for answer in ("w^T delta_1", "x^T delta_1", "delta_1^T x^T", "z_1^T delta_1"):  # the old hints said w^T^T
        result = v.verify("dL/dW", answer)
        assert not any("^T^T" in s or "T)^T" in s for s in result.feedback), result.feedback
