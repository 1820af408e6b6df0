"""`check`: solutions written in the homework examples' styles, clean and with planted mistakes of
every cause; each mistake found at its step, quantity and entry, with its cause, and what
follows from it carried forward.

The solutions come from tests/solutions.py: an independent NumPy student (no symbackprop code)
whose numbers are first checked against `Network.train()`.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.check import CAUSES, Checker, CheckResult
from tests import solutions as S

NETS: dict[str, Callable[[], S.Net]] = {
    "mlp": S.mlp,
    "mlp_rows": lambda: S.mlp("rows", "out_in"),
    "mlp_rows_in_out": lambda: S.mlp("rows", "in_out"),
    "square": S.square,
    "biased": S.biased,
    "biased_rows": lambda: S.biased("rows"),
    "relu_course": S.relu_course,
}
#: Networks checked against a spec file of specs/ (with its notation: block) rather than the student's own spec.
SPEC_FILES = {"relu_course": Path(__file__).resolve().parent.parent / "specs" / "relu_4321_course.yaml"}
SUFFIX = {
    "latex": "solution.tex",
    "markdown": "solution.md",
    "entries": "solution.md",
    "plain": "solution.md",
    "course": "solution.md",
}
#: Which styles each network is written in (entries: one sample; course: the course's notation).
WRITTEN = {
    net: [
        style
        for style in S.STYLES
        if (style != "entries" or net == "square") and (style == "course") == (net == "relu_course")
    ]
    for net in NETS
}


@cache
def checker(net: str) -> Checker:
    return Checker(sbp.load(SPEC_FILES.get(net) or NETS[net]().spec()))


def run(
    net: str, style: str, mistakes: S.Mistakes | None = None, digits: int = 4, edit: Callable[[str], str] | None = None
) -> CheckResult:
    student = NETS[net]()
    text = S.STYLES[style](student, S.train(student, mistakes), digits, edit)
    return checker(net).check(text, SUFFIX[style])


def bump(step: int, role: str, key: str, at: tuple[int, int], by: float) -> Callable:
    def tamper(s: int, r: str, k: str, value: np.ndarray) -> np.ndarray:
        if (s, r, k) == (step, role, key):
            value = value.copy()
            value[at] += by
        return value

    return tamper


def first(result: CheckResult) -> tuple:
    f = result.first_mistake
    return f.step, f.role, f.quantity, f.entry, f.cause


def restated(finding: object) -> bool:
    """A wrong number written again where it was written before (numeric's text restates each step's
    parameters): carried forward, not a second mistake."""
    return "written again" in finding.message


def later_causes(result: CheckResult) -> Counter:
    return Counter(f.cause for f in result.findings if f is not result.first_mistake)


# --- the student is right -----------------------------------------------------------------------


@pytest.mark.parametrize("net", NETS)
def test_the_independent_student_agrees_with_train(net: str) -> None:
    student = NETS[net]()
    steps = S.train(student)
    run_ = checker(net).truth.run
    for mine, theirs in zip(steps, run_.steps, strict=True):
        assert mine.loss == pytest.approx(theirs.loss, rel=1e-12)
        for group in ("forward", "delta", "grad", "updated"):
            for key, value in getattr(mine, group).items():
                np.testing.assert_allclose(value, getattr(theirs, group)[key], rtol=1e-12, atol=1e-14)


CLEAN = [(net, style, digits) for net in NETS for style in WRITTEN[net] for digits in (3, 4, 6)]


@pytest.mark.parametrize(("net", "style", "digits"), CLEAN)
def test_clean_solutions_have_no_findings(net: str, style: str, digits: int) -> None:
    result = run(net, style, digits=digits)
    assert result.findings == [], result.text()
    assert result.notes == []
    assert result.right == result.numbers > 0
    assert result.score == 1.0 and result.ok


# --- one mistake of each cause --------------------------------------------------------------------


STYLES = ("markdown", "latex", "plain")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", ["mlp", "mlp_rows"])
def test_another_learning_rate(net: str, style: str) -> None:
    result = run(net, style, S.Mistakes(lr=0.1))
    assert first(result)[:2] == (1, "updated") and first(result)[4] == "learning_rate"
    assert "0.1, not 0.05" in result.summary()
    assert {f.cause for f in result.findings if f.step == 1 and not restated(f)} == {"learning_rate"}
    assert {f.cause for f in result.findings if f.step > 1 or restated(f)} == {"carried_forward"}
    assert re.search(r"steps [12]-3 are consistent with that \(carried forward\)", result.summary())
    assert result.mistakes == 1
    assert result.other_rates == {1: 0.1}


@pytest.mark.parametrize("style", STYLES)
def test_gradient_written_as_update(style: str) -> None:
    result = run("biased", style, S.Mistakes(gradient_as_update=True))
    assert first(result) == (1, "updated", "W_1", (1, 1), "gradient_as_update")
    assert {f.cause for f in result.findings if f.role == "updated" and not restated(f)} == {"gradient_as_update"}
    assert {f.cause for f in result.findings if f.role != "updated" or restated(f)} == {"carried_forward"}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", ["mlp", "mlp_rows"])
def test_a_wrong_number_is_carried_forward(net: str, style: str) -> None:
    entry = (2, 1) if net == "mlp_rows" else (1, 2)  # the second sample's output delta, in the spec's layout
    result = run(net, style, S.Mistakes(tamper=bump(1, "delta", "delta_out", (0, 1), 0.3)))
    assert first(result) == (1, "delta", "delta_out", entry, "arithmetic")
    assert set(later_causes(result)) == {"carried_forward"}
    assert result.carried_forward > 20
    assert result.score == pytest.approx((result.numbers - 1) / result.numbers)


@pytest.mark.parametrize("style", STYLES + ("entries",))
def test_a_forward_mistake_is_carried_through_the_step(style: str) -> None:
    result = run("square", style, S.Mistakes(tamper=bump(1, "forward", "s_1", (1, 0), 1.0)))
    assert first(result) == (1, "forward", "s_1", (2, 1), "arithmetic")
    assert set(later_causes(result)) == {"carried_forward"}
    assert "step 1 is consistent with that (carried forward)" in result.summary()


@pytest.mark.parametrize("style", STYLES)
def test_one_wrong_entry_in_an_update(style: str) -> None:
    result = run("biased", style, S.Mistakes(tamper=bump(1, "updated", "W_2", (1, 0), 0.05)))
    assert first(result) == (1, "updated", "W_2", (2, 1), "arithmetic")
    assert {f.cause for f in result.findings if f is not result.first_mistake} == {"carried_forward"}
    assert {f.step for f in result.findings if f is not result.first_mistake and not restated(f)} == {2}


def _edit(anchor: str, index: int, new: str) -> Callable[[str], str]:
    """Replace the index-th number of the first line starting with `anchor` (a slip of the pen:
    the student's own numbers stay right)."""

    def edit(text: str) -> str:
        lines = text.split("\n")
        k = next(i for i, line in enumerate(lines) if line.lstrip().startswith(anchor))
        matches = list(re.finditer(r"-?\d+\.\d+", lines[k]))
        m = matches[index]
        lines[k] = lines[k][: m.start()] + new + lines[k][m.end() :]
        return "\n".join(lines)

    return edit


@pytest.mark.parametrize(
    ("anchor", "index", "new", "where", "what"),
    [
        ("$$\\delta_{1} =", 4, "-0.268", (1, "delta", "delta_1", (2, 1)), "slipped decimal point"),
        ("$$s_{1} =", 4, "0.8960", (1, "forward", "s_1", (2, 1)), "swapped"),
        ("$$s_{1} =", 5, "0.115", (1, "forward", "s_1", (2, 2)), "dropped"),
        ("$$\\frac{\\partial L}{\\partial W}", 1, "-0.0020", (1, "grad", "W", (1, 2)), "slipped decimal point"),
    ],
)
def test_typos_are_typos_and_are_not_carried(anchor: str, index: int, new: str, where: tuple, what: str) -> None:
    result = run("mlp", "markdown", edit=_edit(anchor, index, new))
    assert len(result.findings) == 1
    assert first(result) == (*where, "typo")
    assert what in result.findings[0].message


def test_mislabelled_entries_are_typos() -> None:
    def relabel(text: str) -> str:  # the homework's slip: w_11 written where w_12 is meant
        return text.replace("\\partial w_{12}^{(1)}}", "\\partial w_{11}^{(1)}}", 1)

    result = run("square", "entries", edit=relabel)
    assert [(f.quantity, f.entry, f.cause) for f in result.findings] == [("W_1", (1, 1), "typo")]
    assert "entry [1,2]" in result.findings[0].message


def test_transposed_labels_are_transposes() -> None:
    def swap(text: str) -> str:
        text = text.replace("\\partial w_{12}^{(1)}}", "\\partial w_{XX}^{(1)}}", 1)
        text = text.replace("\\partial w_{21}^{(1)}}", "\\partial w_{12}^{(1)}}", 1)
        return text.replace("\\partial w_{XX}^{(1)}}", "\\partial w_{21}^{(1)}}", 1)

    result = run("square", "entries", edit=swap)
    assert [(f.quantity, f.entry, f.cause) for f in result.findings] == [
        ("W_1", (1, 2), "transpose"),
        ("W_1", (2, 1), "transpose"),
    ]


@pytest.mark.parametrize("style", STYLES)
def test_a_transposed_square_gradient(style: str) -> None:
    def transpose(s: int, r: str, k: str, value: np.ndarray) -> np.ndarray:
        return value.T.copy() if (s, r, k) == (1, "grad", "W_2") else value

    result = run("biased", style, S.Mistakes(tamper=transpose))
    assert first(result) == (1, "grad", "W_2", (1, 2), "transpose")
    assert [(f.entry, f.cause) for f in result.findings if f.step == 1 and f.role == "grad"] == [
        ((1, 2), "transpose"),
        ((2, 1), "transpose"),
    ]
    assert {f.cause for f in result.findings if f.role == "updated"} <= {"carried_forward"}


def test_a_matrix_written_transposed_is_one_layout_finding() -> None:
    def transposed(text: str) -> str:  # dL/dW (2x3) written as its 3x2 transpose
        student = S.mlp()
        grad = S.train(student)[0].grad["W"]
        return text.replace(S.bmatrix(grad, 4), S.bmatrix(grad.T, 4), 1)

    result = run("mlp", "markdown", edit=transposed)
    assert [(f.step, f.role, f.quantity, f.entry, f.cause) for f in result.findings] == [
        (1, "grad", "W", None, "transpose")
    ]
    assert result.right == result.numbers


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", ["mlp", "mlp_rows"])
def test_a_sign_error(net: str, style: str) -> None:
    result = run(net, style, S.Mistakes(sign_of_error=True))
    assert first(result)[1:3] == ("delta", "delta_out") and first(result)[4] == "sign"
    assert set(later_causes(result)) == {"sign", "carried_forward"}  # the same slip at every step


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", ["mlp", "mlp_rows"])
def test_the_output_without_its_activation(net: str, style: str) -> None:
    result = run(net, style, S.Mistakes(activation={"out": "identity"}))
    assert first(result) == (1, "forward", "z_out", (1, 1), "activation")
    assert "identity activation in place of its own (tanh)" in result.first_mistake.message
    assert set(later_causes(result)) == {"activation", "carried_forward"}


@pytest.mark.parametrize("style", STYLES)
def test_a_delta_without_the_activation_derivative(style: str) -> None:
    result = run("mlp", style, S.Mistakes(derivative={"out": "identity"}))
    assert first(result) == (1, "delta", "delta_out", (1, 1), "activation")
    assert "derivative" in result.first_mistake.message
    assert set(later_causes(result)) == {"activation", "carried_forward"}


@pytest.mark.parametrize(
    ("mistakes", "where", "cause"),
    [
        (S.Mistakes(lr=0.2), (1, "updated", "W_1", (1, 1)), "learning_rate"),
        (S.Mistakes(sign_of_error=True), (1, "delta", "delta_3", (1, 1)), "sign"),
        (S.Mistakes(tamper=bump(1, "forward", "s_2", (1, 0), -0.5)), (1, "forward", "s_2", (2, 1)), "arithmetic"),
    ],
)
def test_the_course_notation_of_the_relu_homework(mistakes: S.Mistakes, where: tuple, cause: str) -> None:
    """z^k the pre-activation, h^k the activation, l the loss (specs/relu_4321_course.yaml's notation)."""
    result = run("relu_course", "course", mistakes)
    assert first(result) == (*where, cause)
    assert set(later_causes(result)) <= {cause, "carried_forward"}


def test_every_cause_is_named_by_some_test() -> None:
    causes = {
        "learning_rate",
        "gradient_as_update",
        "carried_forward",
        "typo",
        "transpose",
        "sign",
        "activation",
        "arithmetic",
    }
    assert set(CAUSES) == causes


# --- what the result says ---------------------------------------------------------------------------


def test_the_json_finding_has_the_interface_fields() -> None:
    result = run("mlp", "markdown", S.Mistakes(lr=0.1))
    doc = result.to_dict()
    finding = doc["findings"][0]
    assert {"step", "role", "quantity", "entry", "got", "expected", "cause", "message"} <= set(finding)
    assert (finding["step"], finding["role"], finding["quantity"], finding["entry"], finding["cause"]) == (
        1,
        "updated",
        "W",
        [1, 1],
        "learning_rate",
    )
    truth = sbp.load(S.mlp().spec()).train().steps[0].updated["W"][0, 0]
    assert finding["expected"] == pytest.approx(truth, rel=1e-9)
    assert finding["got"] == pytest.approx(
        0.6 - 0.1 * sbp.load(S.mlp().spec()).train().steps[0].grad["W"][0, 0], abs=1e-4
    )
    assert doc["numbers"] == doc["right"] + doc["wrong"] + doc["carried_forward"]


def test_names_matched_by_values_are_reported() -> None:
    result = run("square", "entries")
    assert {(m.written, m.quantity.key) for m in result.matches} >= {
        (r"\vec{net}^{(1)}", "s_1"),
        (r"\vec{a}^{(1)}", "z_1"),
    }


def test_a_name_with_wrong_values_is_still_read_through_a_learned_letter() -> None:
    result = run("square", "entries", S.Mistakes(tamper=bump(1, "forward", "s_2", (0, 0), 1.5)))
    assert first(result) == (1, "forward", "s_2", (1, 1), "arithmetic")


@given(
    st.sampled_from(["forward", "delta", "grad"]), st.integers(0, 11), st.floats(0.05, 3.0), st.sampled_from([-1, 1])
)
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_a_planted_mistake_is_the_first_finding(role: str, position: int, size: float, sign: int) -> None:
    """Wherever one number is changed, the first finding is that number, and nothing before it."""
    student = S.biased()
    values = S.train(student)[0]
    group = getattr(values, role)
    key = sorted(group)[position % len(group)]
    shape = group[key].shape
    at = np.unravel_index(position % (shape[0] * shape[1]), shape)
    result = run("biased", "markdown", S.Mistakes(tamper=bump(1, role, key, at, sign * size)))
    found = result.first_mistake
    assert found is not None
    assert (found.step, found.role, found.quantity, found.entry) == (1, role, key, (at[0] + 1, at[1] + 1))
    assert found.cause != "carried_forward"


# --- steps, samples and losses ------------------------------------------------------------------------


def _without_iteration_headings(text: str) -> str:
    return re.sub(r"^## Iteration \d+\n", "", text, flags=re.M)


def test_steps_without_markers_follow_the_order_of_the_work() -> None:
    """A forward value named again after updates starts the next step."""
    assert run("mlp", "markdown", edit=_without_iteration_headings).ok
    result = run("mlp", "markdown", S.Mistakes(lr=0.1), edit=_without_iteration_headings)
    assert first(result)[4] == "learning_rate" and "steps 2-3 are consistent" in result.summary()


def test_markers_that_number_the_parts_of_one_step_are_not_steps() -> None:
    def parts(text: str) -> str:  # one iteration, its stages called "Step 1", "Step 2", "Step 3"
        text = text.split("## Iteration 2")[0]
        text = _without_iteration_headings(text)
        for old, new in (
            ("### Forward pass", "Step 1: the forward pass"),
            ("### Backward pass", "Step 2: backward"),
            ("### Update", "Step 3: the update"),
        ):
            text = text.replace(old, new)
        return text

    result = run("mlp", "markdown", edit=parts)
    assert result.ok and result.numbers == 67


def test_numbered_headings_that_run_over_the_steps_mark_them() -> None:
    def updates_only(text: str) -> str:  # only the updates, under "k.1 Update"
        out = []
        for k, chunk in enumerate(text.split("## Iteration ")[1:], 1):
            out.append(f"## {k}.1 Update")
            out += [
                line for line in chunk.split("\n") if line.startswith("$$W^{(t+1)}") or line.startswith("$$w^{(t+1)}")
            ]
        return "\n".join(out) + "\n"

    assert run("mlp", "markdown", edit=updates_only).ok
    result = run("mlp", "markdown", S.Mistakes(lr=0.1), edit=updates_only)
    assert first(result)[:2] == (1, "updated") and result.other_rates == {1: 0.1}
    assert {f.cause for f in result.findings if f.step > 1} == {"carried_forward"}


def test_a_row_of_per_sample_losses() -> None:
    student = S.mlp()
    steps = S.train(student)
    y, t = steps[0].forward["z_out"], student.data["y"]
    per_sample = 0.5 * (y - t) ** 2

    def losses(row: np.ndarray) -> Callable[[str], str]:
        return lambda text: text.replace(f"$$L = {S.num(steps[0].loss, 4)}$$", f"$$L = {S.bmatrix(row, 4)}$$", 1)

    result = run("mlp", "markdown", edit=losses(per_sample))
    assert result.ok
    wrong = per_sample.copy()
    wrong[0, 1] += 0.25
    result = run("mlp", "markdown", edit=losses(wrong))
    assert [(f.step, f.role, f.quantity, f.entry) for f in result.findings] == [(1, "loss", "L", (1, 2))]


def test_one_sample_of_a_batch() -> None:
    student = S.mlp()
    s1 = S.train(student)[0].forward["s_1"]

    def sample(column: np.ndarray) -> Callable[[str], str]:
        line = f"For sample 2 alone: $$s_1 = {S.bmatrix(column, 4)}$$\n\n"
        return lambda text: text.replace("### Backward pass", line + "### Backward pass", 1)

    assert run("mlp", "markdown", edit=sample(s1[:, 1:2])).ok
    wrong = s1[:, 1:2].copy()
    wrong[2, 0] = 0.5
    result = run("mlp", "markdown", edit=sample(wrong))
    assert [(f.quantity, f.entry) for f in result.findings] == [("s_1", (3, 2))]


def test_a_plain_parameter_is_read_before_or_after_the_step_by_its_context() -> None:
    net = sbp.load(S.square().spec())
    before = r"\begin{bmatrix} -2 & 3 \\ 2 & 1 \end{bmatrix}"
    after = r"\begin{bmatrix} -0.4 & 5.4 \\ 0.88 & -0.68 \end{bmatrix}"
    text = f"## Weight update\nBefore the update: $$W_1 = {before}$$\nAfter it: $$W_1 = {after}$$\n"
    result = net.check(text)
    assert result.ok and result.numbers == 8
    result = net.check(f"## Weight update\n$$W_1 = {after.replace('5.4', '5.2')}$$\n")  # wrong: read as the update
    assert [(f.step, f.role, f.quantity, f.entry) for f in result.findings] == [(1, "updated", "W_1", (1, 2))]
    result = net.check(f"$$W_1 = W_1 - 0.01 \\cdot \\nabla_{{W_1}} L = {before}$$\n")  # an update, whatever it holds
    assert {(f.role, f.cause) for f in result.findings} == {("updated", "arithmetic")}


# --- the recurrent-autoencoder exercise's style (samples in rows, A and Z, cycles) ----------------------


@pytest.mark.parametrize("spec", ["recurrent_autoencoder_small.yaml", "recurrent_autoencoder_course.yaml"])
def test_the_autoencoder_style_in_rows(spec: str) -> None:
    net = sbp.load(Path(__file__).resolve().parent.parent / "specs" / spec)
    run_ = net.train()
    assert net.check(S.autoencoder(run_)).ok
    # the second step's updates made with learning rate 0.2 instead of 0.1
    last = run_.steps[-1]
    updated = {name: last.params[name] - 0.2 * last.grad[name] for name in last.grad}
    slipped = dataclasses.replace(run_, steps=[*run_.steps[:-1], dataclasses.replace(last, updated=updated)])
    result = net.check(S.autoencoder(slipped))
    assert first(result)[:2] == (2, "updated") and first(result)[4] == "learning_rate"
    assert result.other_rates == {2: 0.2} and {f.cause for f in result.findings} == {"learning_rate"}
    # one entry of the second cycle's pre-activation with its digits swapped: 0.4319 written 0.4391
    text = S.autoencoder(run_).replace("0.4319", "0.4391", 1)
    result = net.check(text)
    assert [(f.step, f.role, f.quantity, f.entry, f.cause) for f in result.findings] == [
        (1, "forward", "s_rec^(2)", (2, 1), "typo")
    ]


def test_ten_significant_digits() -> None:
    assert run("mlp", "latex", digits=10).ok
    result = run("mlp", "latex", S.Mistakes(tamper=bump(1, "forward", "z_1", (0, 0), 1e-7)), digits=10)
    assert first(result) == (1, "forward", "z_1", (1, 1), "arithmetic")


def test_names_the_spec_does_not_know_are_matched_and_reported() -> None:
    def rename(text: str) -> str:  # s_{layer1} for s_1, \sigma_1 for delta_1
        return text.replace("$$s_{1} =", "$$s_{layer1} =").replace("$$\\delta_{1} =", "$$\\sigma_{1} =")

    result = run("mlp", "markdown", edit=rename)
    assert result.ok
    assert {(m.written, m.quantity.key, m.how) for m in result.matches} >= {
        ("s_{layer1}", "s_1", "values"),
        (r"\sigma_{1}", "delta_1", "values"),
    }
    wrong = run("mlp", "markdown", S.Mistakes(tamper=bump(1, "delta", "delta_1", (2, 2), 0.5)), edit=rename)
    assert first(wrong) == (1, "delta", "delta_1", (3, 3), "arithmetic")
