"""Verdicts that hold on hard networks and odd answers: a dead relu network never accepts a wrong answer
(livelier points, else "undecided"), a non-zero symbolic difference proves "different", a bare number is
not a formula, mixed working (dL/dz_2 with evaluated factors) is read, sizes under ⊙ are repaired, hints
never give the true value away, messages quote at most ~80 characters, and a layer named h{1} is named
as derive prints it."""

from __future__ import annotations

import csv
import io
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.verify import Verifier
from symbackprop.verify.points import POOL, Points, sample_count

ROOT = Path(__file__).resolve().parent.parent
RELU = str(ROOT / "specs" / "relu_4321.yaml")
SQUARE = str(ROOT / "specs" / "square_221.yaml")
MLP = str(ROOT / "specs" / "mlp.yaml")
#: 20 relu layers of 2 units: every one of the pool's random draws has a layer with both units inactive.
DEAD_CHAIN = {
    "name": "20 relu layers",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 2},
    "layers": [{"name": str(k), "units": 2, "activation": "relu"} for k in range(1, 21)],
    "loss": "half_squared_error",
}
#: Layer 2's fixed weights are negative and it has no bias: s_2 <= 0 always, so dL/dW_1 is zero everywhere.
DEAD_EVERYWHERE = {
    "name": "dead by construction",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 1},
    "layers": [
        {"name": "1", "units": 2, "activation": "relu"},
        {"name": "2", "units": 1, "activation": "relu", "weight": "K", "bias": False, "fixed": True},
        {"name": "3", "units": 1, "activation": "identity"},
    ],
    "loss": "half_squared_error",
    "data": {"K": [[-1.0, -2.0]]},
}
BRACES = {
    "name": "braces",
    "input": {"name": "x", "size": 2},
    "target": {"name": "y", "size": 1},
    "layers": [
        {"name": "h{1}", "units": 2, "activation": "tanh"},
        {"name": "out", "units": 1, "activation": "identity"},
    ],
    "loss": "half_squared_error",
}
SPECS = {"dead_chain": DEAD_CHAIN, "dead_everywhere": DEAD_EVERYWHERE, "braces": BRACES}


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(SPECS.get(spec, spec)))


def spec_file(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(SPECS[name]), encoding="utf-8")
    return str(path)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. dead networks -------------------------------------------------------------------------


def test_a_dead_relu_chain_gets_livelier_points() -> None:
    net = sbp.load(DEAD_CHAIN)
    points = Points(net, sample_count(net))
    ordinary = points._pool[:POOL]
    assert not any(points.lively(p) for p in ordinary)  # why the revived draws are needed
    assert points.lively(points.values[0]) and np.any(points.values[0]["dL/dW_1"] != 0)


@pytest.mark.parametrize(
    ("answer", "mistake"), [("-delta_1 x^T", "sign"), ("x delta_1^T", "transpose_result"), ("3 delta_1 x^T", None)]
)
def test_wrong_answers_on_a_dead_relu_chain_are_rejected(answer: str, mistake: str | None) -> None:
    result = verifier("dead_chain").verify("dL/dW_1", answer)
    assert result.verdict == "different", result.feedback
    if mistake is not None:
        assert result.partial_credit[0].mistake == mistake


def test_the_right_answer_on_a_dead_relu_chain_is_proved() -> None:
    result = verifier("dead_chain").verify("dL/dW_1", "delta_1 x^T")
    assert result.verdict == "equivalent" and result.method == "symbolic"


def test_an_answer_agreeing_only_where_the_target_is_zero_is_undecided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = verifier("dead_everywhere")
    result = v.verify("dL/dW_1", "-delta_1 x^T")
    assert result.verdict == "undecided" and not result.equivalent and result.score == 0
    assert result.feedback[0].startswith("not decided: dL/dW_1 is zero at every test point drawn")
    assert v.verify("dL/dW_1", "delta_1 x^T").verdict == "equivalent"  # a proof still decides
    code, out, _ = cli(
        capsys, spec_file(tmp_path, "dead_everywhere"), "--target", "dL/dW_1", "--answer", "-delta_1 x^T", "--json"
    )
    assert code == 1 and json.loads(out)["verdict"] == "undecided"


def test_undecided_rows_in_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "answers.csv"
    rows.write_text("id,target,answer\na,dL/dW_1,-delta_1 x^T\nb,dL/dW_1,delta_1 x^T\n", encoding="utf-8")
    code, out, err = cli(capsys, spec_file(tmp_path, "dead_everywhere"), "--batch", str(rows), "--workers", "1")
    graded = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["verdict"] for r in graded] == ["undecided", "equivalent"]
    assert "1 undecided" in err


# --- 2. proving "different" ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "target", "answer"),
    [
        (RELU, "dL/dW_1", "1.0000000001 delta_1 x^T"),  # within the points' tolerance, but not the formula
        (RELU, "delta_2", r"(W_3^T \delta_3) \odot [s_2 > 0] + 0.000000000001 z_2"),
    ],
)
def test_a_nonzero_difference_is_a_proof_of_different(spec: str, target: str, answer: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "different" and result.method == "symbolic", result
    assert result.proof.startswith("proved different entry by entry at the spec's sizes")
    assert "(not zero)" in result.proof


# --- 3. a bare number -----------------------------------------------------------------------------


def test_a_number_is_not_the_formula() -> None:
    result = verifier(SQUARE).verify(None, r"\delta_1^{(1)} = -80")
    assert result.verdict == "different" and result.score == 0.25
    assert [c.mistake for c in result.partial_credit] == ["number_only"]
    assert "is the value of delta_1 on the spec's data, but the question asks for its formula" in result.feedback[0]
    wrong = verifier(SQUARE).verify(None, r"\delta_1^{(1)} = -88")
    assert wrong.verdict == "different" and wrong.score == 0
    assert wrong.feedback[-1] == "a number alone is not the formula: write delta_1 in symbols"


def test_a_number_after_the_formula_is_still_right() -> None:
    line = (
        r"\delta_{1}^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} w_{k1}^{(2)} f_1'(s_{1}^{(1)}) "
        r"= \delta_{1}^{(2)} w_{11}^{(2)} \cdot 2(5) = 4 \cdot (-2) \cdot 10 = -80"
    )
    assert verifier(SQUARE).verify(None, line).verdict == "equivalent"


# --- 4. mixed notation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "answer"),
    [
        ("delta_2", "delta_2 = dL/dz_2 ⊙ f_2'(s_2)"),
        ("delta_2", r"\delta_2 = \frac{\partial L}{\partial z_2} \odot f_2'(s_2) = (W_3^T \delta_3) \odot [s_2 > 0]"),
        ("dL/dz_2", "W_3^T delta_3"),
        ("dL/dW_2", "(dL/dz_2 ⊙ f_2'(s_2)) z_1^T"),
    ],
)
def test_a_partial_by_a_value_is_its_gradient(target: str, answer: str) -> None:
    result = verifier(RELU).verify(target, answer)
    assert result.verdict == "equivalent", result.feedback


def test_a_dropped_derivative_after_a_partial_is_named() -> None:
    result = verifier(RELU).verify("delta_2", "delta_2 = dL/dz_2")
    assert result.verdict == "different" and result.partial_credit[0].mistake == "fprime_missing"


def test_numbers_in_the_first_side_say_which_side_and_why() -> None:
    result = verifier(SQUARE).verify(None, r"\delta_1^{(1)} = \delta_1^{(2)} w_{11}^{(2)} \cdot 2(5) = -80")
    assert result.verdict == "different"
    assert "has numbers in it before any side gives the formula in symbols" in result.feedback[0]
    assert "it is right on the spec's data, but not at other values" in result.feedback[0]
    assert result.feedback[-1].startswith("the side that is not right: side 1 of 2 after the left side, '")
    assert "relative difference" not in " ".join(result.feedback)
    wrong = verifier(SQUARE).verify(None, r"\delta_1^{(1)} = \delta_1^{(2)} w_{11}^{(2)} \cdot 2(7) = -80")
    assert wrong.verdict == "different" and wrong.feedback[-1].startswith("the side that is not right: side 1 of 2")


# --- 5. repairs under ⊙ ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "target", "answer", "repair"),
    [
        (RELU, "delta_2", "(W_3 delta_3) ⊙ f_2'(s_2)", "did you mean W_3^T in place of 'W_3'?"),
        (MLP, "delta_1", "(w delta_out) ⊙ f_1'(s_1)^T", "did you mean f_1'(s_1) in place of 'f_1'(s_1)^T'?"),
    ],
)
def test_a_size_mismatch_under_hadamard_is_repaired(spec: str, target: str, answer: str, repair: str) -> None:
    result = verifier(spec).verify(target, answer)
    assert result.verdict == "different" and result.feedback[0].endswith(repair), result.feedback


def test_no_repair_is_proposed_when_the_repaired_answer_is_wrong() -> None:
    result = verifier(RELU).verify("delta_2", "(W_3 delta_3) ⊙ f_2(s_2)")
    assert result.verdict == "different" and "did you mean" not in result.feedback[0]
    assert "⊙ needs two matrices of one size" in result.feedback[0]


# --- 6. hints do not give the value away ----------------------------------------------------------


def _value(feedback: tuple[str, ...], target: str) -> str:
    """The true value a level-0 sentence states ('... dL/dw is -0.407931 ...')."""
    found = re.search(rf"{re.escape(target)} is (-?[\d.]+)", " ".join(feedback))
    assert found, feedback
    return found.group(1)


@pytest.mark.parametrize(
    ("spec", "target", "answer", "named"),
    [
        (MLP, "dL/dw[1,1]", "0.5", "dL/dw"),
        (
            SQUARE,
            None,
            r"\delta_1^{(1)} = \sum_{k=1}^{1} \delta_{k}^{(2)} w_{k1}^{(2)} f_1'(s_{1}^{(1)}) = -88",
            "delta_1",
        ),
    ],
)
@pytest.mark.parametrize("level", [1, 2])
def test_hints_withhold_the_true_value(spec: str, target: str | None, answer: str, named: str, level: int) -> None:
    net = sbp.load(spec)
    truth = _value(net.verify(target, answer).feedback, named)
    hinted = net.verify(target, answer, hint_level=level)
    shown = [
        *hinted.feedback,
        *(c.feedback for c in hinted.partial_credit),
        hinted.expected,
        *(h.text for h in hinted.hints),
    ]
    assert hinted.verdict == "different" and hinted.hints
    assert not any(truth in text for text in shown), shown
    assert hinted.expected == ""


def test_batch_hints_withhold_the_true_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = _value(sbp.load(MLP).verify("dL/dw[1,1]", "0.5").feedback, "dL/dw")
    rows = tmp_path / "answers.csv"
    rows.write_text('id,target,answer\na,"dL/dw[1,1]",0.5\n', encoding="utf-8")
    code, out, _ = cli(capsys, MLP, "--batch", str(rows), "--hint-level", "1", "--workers", "1")
    assert code == 0 and truth not in out and "hint" in out.splitlines()[0]


def test_prairielearn_hints_withhold_the_true_value(tmp_path: Path) -> None:
    from tests.test_course_prairielearn import generated, server, submit

    out = tmp_path / "q"
    assert (
        main(
            [
                "export",
                RELU,
                "--to",
                "prairielearn",
                "-o",
                str(out),
                "--hint-level",
                "1",
                "--target",
                "delta_3",
                "--no-worked",
            ]
        )
        == 0
    )
    data = generated(out)
    graded = submit(out, data, {"t1": "0.5"})
    feedback = graded["partial_scores"]["t1"]["feedback"]
    plain = server(out)._network(str(out), data["params"]["student"]).verify("delta_3", "0.5")
    assert plain.verdict == "different" and graded["score"] == 0
    assert _value(plain.feedback, "delta_3") not in feedback and "hint 1: " in feedback


# --- 7. trust: bounded quotes, odd layer names -----------------------------------------------------


def test_a_long_target_is_quoted_cut(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, MLP, "--target", "dL/dW_" + "x" * 3000, "--answer", "0.5")
    assert code == 2 and len(err) < 400 and "(3006 characters)" in err


@pytest.mark.parametrize("answer", ["W_" + "x" * 3000, r"\foo" + "x" * 3000, "dL/dW_" + "x" * 3000 + " = x"])
def test_long_user_text_in_feedback_is_cut(answer: str) -> None:
    result = verifier(MLP).verify("dL/dW", answer)
    assert result.verdict == "unreadable"
    assert all(len(sentence) < 600 for sentence in result.feedback), result.feedback
    assert "x" * 81 not in " ".join(result.feedback)


@pytest.mark.parametrize(
    "answer",
    [
        "delta_h{1} x^T",
        "delta_{h{1}} x^T",
        r"\delta_{\text{h\{1\}}} x^{\top}",
        r"\delta_{h\{1\}} x^\top",
        "dL/dW_h{1} = delta_h{1} x^T",
        r"\frac{\partial L}{\partial W^{(\text{h\{1\}})}_{j,i}} = \sum_{n=1}^{N} "
        r"\delta^{(\text{h\{1\}})}_{j,n} x_{i,n}",
    ],
)
def test_a_layer_named_with_braces_is_named_as_derive_prints_it(answer: str) -> None:
    assert verifier("braces").verify("dL/dW_h{1}", answer).verdict == "equivalent"


def test_a_layer_named_with_braces_reads_back_and_is_graded() -> None:
    net = sbp.load(BRACES)
    assert net.reread().ok
    v = verifier("braces")
    assert v.verify("delta_h{1}", "(W_out^T delta_out) ⊙ f_h{1}'(s_h{1})").verdict == "equivalent"
    assert v.verify("dL/dW_h{1}", "-delta_h{1} x^T").partial_credit[0].mistake == "sign"


@pytest.mark.parametrize("name", ["h{1}", "hidden-2", "a_b", "π", "{}", r"h{1}%\é"])
def test_every_printed_formula_of_an_odd_layer_name_reads_back(name: str) -> None:
    spec = {**BRACES, "layers": [{**BRACES["layers"][0], "name": name}, BRACES["layers"][1]]}
    assert sbp.load(spec).reread().ok
