"""Progressive hints: level 1 names the wrong factor or term, level 2 the next chain-rule step, level 3
the solution; levels 1 and 2 never state the true formula, and what the hints print reads back."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.verify import Verifier
from symbackprop.verify.hints import chain_step, solution, with_hints

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


@cache
def verifier(spec: str) -> Verifier:
    return Verifier(sbp.load(ROOT / "specs" / spec))


def reveals(result: sbp.VerifyResult, truth: str) -> bool:
    """Whether anything shown to the student states a formula (level 2 states the chain rule's step,
    never the true right side)."""
    texts = [*result.feedback, *(c.feedback for c in result.partial_credit), result.expected]
    texts += [h.text for h in result.hints if h.level == 1]
    return any(" = " in text for text in texts) or bool(result.expected) or \
        any(truth in h.text for h in result.hints if h.level == 2)


@pytest.mark.parametrize(("spec", "target", "answer", "first"), [
    ("relu_4321.yaml", "delta_2", "W_3^T delta_3", "in delta_2: the activation's derivative f_2'(s_2) is missing"),
    ("mlp.yaml", "dL/dW", "x (w delta_out)^T", "in delta_1: the activation's derivative f_1'(s_1) is missing"),
    ("mlp.yaml", "delta_out", "(y - y_out) ⊙ f_out'(s_out)", "the sign is flipped somewhere"),
    ("relu_4321.yaml", "dL/dW_1", "2 delta_1 x^T", "a constant factor is off"),
    ("relu_4321.yaml", "dL/dW_2", "delta_2 s_1^T", "in dL/dW_2: the pre-activation s_1 where the activation z_1 "
                                                    "belongs"),
    ("relu_4321.yaml", "dL/dW_1", "delta_1 x^T + 1", "your answer is not dL/dW_1 and matches no single"),
])
def test_levels_build_on_each_other_and_withhold_the_answer(spec: str, target: str, answer: str,
                                                            first: str) -> None:
    v = verifier(spec)
    plain = v.verify(target, answer)
    assert plain.verdict == "different" and plain.hints == ()
    one, two, three = (with_hints(v, plain, level) for level in (1, 2, 3))
    assert [h.level for h in one.hints] == [1] and one.hints[0].text.startswith(first)
    assert [h.level for h in two.hints] == [1, 2] and two.hints[0] == one.hints[0]
    assert two.hints[1].text.startswith(f"by the chain rule, {target} = ")
    truth = v.derivation.target(target).text("matrix")
    assert not reveals(one, truth) and not reveals(two, truth.split(" = ", 1)[1])
    assert one.score == plain.score and [c.mistake for c in one.partial_credit] == \
        [c.mistake for c in plain.partial_credit]
    assert one.feedback and one.feedback[0] == one.hints[0].text or not plain.partial_credit
    # level 3 gives everything: the full feedback and the solution
    assert three.feedback == plain.feedback and three.expected == plain.expected
    assert three.hints[2].text.startswith(truth)


def test_right_and_unreadable_answers_get_no_hints() -> None:
    v = verifier("relu_4321.yaml")
    for answer in ("(W_3^T delta_3) ⊙ f_2'(s_2)", "W_3^T delta_3 ⊙ ⊙"):
        result = v.verify("delta_2", answer)
        assert with_hints(v, result, 3) == result


def test_level_two_names_the_deltas_and_the_forward_equations() -> None:
    v = verifier("relu_4321.yaml")
    step = chain_step(v, v.derivation.target("delta_2"))
    assert step == ("by the chain rule, delta_2 = delta_3 · ds_3/dz_2 · dz_2/ds_2, where delta_3 = dL/ds_3; "
                    "s_3 = W_3 z_2 + b_3 1_N^T; z_2 = f_2(s_2)")
    assert solution(v, v.derivation.target("dL/dW_2")) == (
        "dL/dW_2 = delta_2 z_1^T; delta_2 = (W_3^T delta_3) ⊙ f_2'(s_2); delta_3 = (h_3 - y) ⊙ f_3'(s_3)")


@pytest.mark.parametrize("spec", [path.name for path in SPECS])
def test_what_the_hints_print_reads_back_as_the_truth(spec: str) -> None:
    """Level 2's chain and every line of level 3 are equivalent to what they name (verify reads them)."""
    v = verifier(spec)
    for target in v.derivation.targets:
        formula = chain_step(v, target).split(", where ")[0].removeprefix("by the chain rule, ")
        assert v.verify(None, formula).verdict == "equivalent", formula
        for line in solution(v, target).split("; "):
            assert v.verify(None, line).verdict == "equivalent", line


def test_hint_level_on_the_command_line_and_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "relu_4321.yaml")
    code = main(["verify", spec, "--target", "delta_2", "--answer", "W_3^T delta_3", "--hint-level", "2", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and [h["level"] for h in doc["hints"]] == [1, 2] and doc["expected"] == ""
    assert main(["verify", spec, "--target", "delta_2", "--answer", "W_3^T delta_3", "--hint-level", "3"]) == 1
    text = capsys.readouterr().out
    assert "hint 1: in delta_2" in text and "hint 3: delta_2 = (W_3^T delta_3) ⊙ f_2'(s_2)" in text
    with pytest.raises(SystemExit) as exit:
        main(["verify", spec, "--target", "delta_2", "--answer", "x", "--hint-level", "4"])
    assert exit.value.code == 2 and "invalid choice: 4" in capsys.readouterr().err
    code = main(["verify", spec, "--target", "delta_2", "--answer", "W_3^T delta_3", "--json"])
    assert json.loads(capsys.readouterr().out)["hints"] == []


def test_python_api() -> None:
    net = sbp.load(ROOT / "specs" / "mlp.yaml")
    result = net.verify("dL/dW", "x (w delta_out)^T", hint_level=1)
    assert [h.to_dict() for h in result.hints] == [
        {"level": 1, "text": "in delta_1: the activation's derivative f_1'(s_1) is missing"}]
