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
    return (
        any(" = " in text for text in texts)
        or bool(result.expected)
        or any(truth in h.text for h in result.hints if h.level == 2)
    )


@pytest.mark.parametrize(
    ("spec", "target", "answer", "first"),
    [
        ("relu_4321.yaml", "delta_2", "W_3^T delta_3", "in delta_2: the activation's derivative f_2'(s_2) is missing"),
        ("mlp.yaml", "dL/dW", "x (w delta_out)^T", "in delta_1: the activation's derivative f_1'(s_1) is missing"),
        ("mlp.yaml", "delta_out", "(y - y_out) ⊙ f_out'(s_out)", "the sign is flipped somewhere"),
        ("relu_4321.yaml", "dL/dW_1", "2 delta_1 x^T", "a constant factor is off"),
        (
            "relu_4321.yaml",
            "dL/dW_2",
            "delta_2 s_1^T",
            "in dL/dW_2: the pre-activation s_1 where the activation z_1 belongs",
        ),
        ("relu_4321.yaml", "dL/dW_1", "delta_1 x^T + 1", "your answer is not dL/dW_1 and matches no single"),
    ],
)
def test_levels_build_on_each_other_and_withhold_the_answer(spec: str, target: str, answer: str, first: str) -> None:
    v = verifier(spec)
    plain = v.verify(target, answer)
    assert plain.verdict == "different" and plain.hints == ()
    one, two, three = (with_hints(v, plain, level) for level in (1, 2, 3))
    assert [h.level for h in one.hints] == [1] and one.hints[0].text.startswith(first)
    assert [h.level for h in two.hints] == [1, 2] and two.hints[0] == one.hints[0]
    assert two.hints[1].text.startswith(f"by the chain rule, {target} = ")
    truth = v.derivation.target(target).text("matrix")
    assert not reveals(one, truth) and not reveals(two, truth.split(" = ", 1)[1])
    assert one.score == plain.score and [c.mistake for c in one.partial_credit] == [
        c.mistake for c in plain.partial_credit
    ]
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
    assert step == (
        "by the chain rule, delta_2 = delta_3 · ds_3/dz_2 · dz_2/ds_2, where delta_3 = dL/ds_3; "
        "s_3 = W_3 z_2 + b_3 1_N^T; z_2 = f_2(s_2)"
    )
    assert solution(v, v.derivation.target("dL/dW_2")) == (
        "dL/dW_2 = delta_2 z_1^T; delta_2 = (W_3^T delta_3) ⊙ f_2'(s_2); delta_3 = (h_3 - y) ⊙ f_3'(s_3)"
    )


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
        {"level": 1, "text": "in delta_1: the activation's derivative f_1'(s_1) is missing"}
    ]


#: A wrong answer for each kind of target, in a course notation (the 4-3-2-1 exercise: z the pre-activation,
#: h the activation, sigma the delta, l the loss) and for the softmax + multiclass hinge exercise.
KINDS = [
    ("relu_4321_exercise.yaml", "delta_2", r"(W^3)^T \sigma^3"),  # the relu' factor dropped
    ("relu_4321_exercise.yaml", "dL/dW_2", r"\sigma^2 (z^1)^T"),  # s where h belongs
    ("relu_4321_exercise.yaml", "dL/dz_2", r"W^3 \sigma^3"),  # dl/dh^2, transposed
    ("relu_4321_exercise.yaml", "dL/dW_3[1,1]", r"\sigma^3 h^2_2"),  # another entry
    ("relu_4321_exercise.yaml", "dh_2/dz_2", "diag(h^2)"),  # diag(f'): f where f' belongs
    ("relu_4321_exercise.yaml", "dz_3/dh_2", "(W^3)^T"),  # W, transposed
    ("relu_4321_exercise.yaml", "dh_2/dh_1", "W^2"),  # two steps
    ("relu_4321_exercise.yaml", r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,2}}", "0.6"),  # an entry, a number
    ("softmax_hinge_exercise.yaml", "dp/do_1", "diag(p)"),  # the softmax Jacobian (o: the pre-activation)
    ("softmax_hinge_exercise.yaml", "dp_j/do_k", r"\frac{\partial p_{j,n}}{\partial o^{(1)}_{k,n}} = p_{j,n}"),
]


def _revealed(v: Verifier, result: sbp.VerifyResult, target: str) -> list[str]:
    """What below level 3 states the true formula: `expected`, a sentence with the true right side, "the right
    answer", or one of the target's values on the data."""
    found = v.derivation.target(target)
    form = "matrix" if not isinstance(found, sbp.api.PartialTarget) or found.per_sample else "index"
    truth = found.text(form).split("   ")[0]  # without index ranges and notes
    rhs = truth.split(" = ", 1)[1]
    value = sbp.load(v.net.spec.source).evaluate(found) if v.points.data is not None else None
    numbers = {f"{float(x):.6g}" for x in value.ravel()} - {"0", "1", "-1"} if value is not None else set()
    texts = [*result.feedback, *(h.text for h in result.hints if h.level < 3)]
    bad = [result.expected] if result.expected else []
    bad += [t for t in texts if truth in t or "the right answer" in t or any(n in t.split() for n in numbers)]
    bad += [t for h in result.hints if h.level == 1 for t in [h.text] if f" = {rhs}" in t]
    if "W" not in rhs:  # ds_3/dz_2 = W_3 is in the forward equation level 2 names, as it must be
        bad += [t for t in texts if rhs in t]
    return bad


@pytest.mark.parametrize(("spec", "target", "answer"), KINDS)
def test_levels_one_and_two_withhold_the_answer_for_every_kind_of_target(spec: str, target: str, answer: str) -> None:
    v = verifier(spec)
    plain = v.verify(target, answer)
    assert plain.verdict == "different", plain.feedback
    one, two, three = (with_hints(v, plain, level) for level in (1, 2, 3))
    assert [h.level for h in one.hints] == [1] and [h.level for h in two.hints] == [1, 2]
    assert [h.level for h in three.hints] == [1, 2, 3]
    assert _revealed(v, one, target) == [] and _revealed(v, two, target) == []
    assert one.feedback and two.hints[1].text and one.hints[0] == two.hints[0] == three.hints[0]
    found = v.derivation.target(target)
    form = "matrix" if not isinstance(found, sbp.api.PartialTarget) or found.per_sample else "index"
    solved = found.base if isinstance(found, sbp.api.EntryTarget) else found  # an entry: its whole target's
    assert three.hints[2].text.startswith(solved.text(form).split("   ")[0])  # only level 3 shows the solution
    assert three.expected == plain.expected and three.feedback == plain.feedback
    assert one.target == plain.target  # in the spec's notation


def test_local_partial_hints_name_the_step_in_the_course_notation() -> None:
    v = verifier("relu_4321_exercise.yaml")
    two = with_hints(v, v.verify("dh_2/dz_2", "diag(h^2)"), 2)
    assert two.hints[0].text == (
        "it differs from dh^2/dz^2 at the test points; dh^2/dz^2 is a matrix for each "
        "sample: one row per unit of h^2, one column per unit of z^2"
    )
    assert two.hints[1].text == "dh^2/dz^2 is one step: differentiate h^2 = f_2(z^2) by z^2, entry by entry"
    two = with_hints(v, v.verify("dh_2/dh_1", "W^2"), 2)
    assert two.hints[1].text == (
        "by the chain rule, dh^2/dh^1 = dh^2/dz^2 · dz^2/dh^1, where h^2 = f_2(z^2); z^2 = W^2 h^1 + b^2 1_N^T"
    )
    one = with_hints(v, v.verify(r"\frac{\partial h^2_{1,1}}{\partial W^2_{1,2}}", "0.6"), 1)
    assert one.feedback == ("your answer is not dh^2[1,1]/dW^2[1,2]", "dh^2[1,1]/dW^2[1,2] is one number")


@pytest.mark.parametrize(("spec", "target", "answer"), [KINDS[4], KINDS[8], KINDS[1]])
def test_hint_levels_for_local_partials_on_the_command_line(
    spec: str, target: str, answer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(ROOT / "specs" / spec)
    found = verifier(spec).derivation.target(target)
    truth = found.text("matrix").split("   ")[0]
    for level in (1, 2, 3):
        assert main(["verify", path, "--target", target, "--answer", answer, "--hint-level", str(level), "--json"]) == 1
        doc = json.loads(capsys.readouterr().out)
        assert [h["level"] for h in doc["hints"]] == list(range(1, level + 1))
        shown = json.dumps({k: doc[k] for k in ("feedback", "expected", "hints")}, ensure_ascii=False)
        assert (truth in shown) == (level == 3) and (doc["expected"] != "") == (level == 3)
        assert main(["verify", path, "--target", target, "--answer", answer, "--hint-level", str(level)]) == 1
        text = capsys.readouterr().out
        assert (truth in text) == (level == 3) and f"hint {level}: " in text
