"""The square-activation homework of ../shared/examples (a copy in tests/data), checked as it stands:
its two mislabelled gradient entries (w_11 written where w_12 is meant, w_21 where w_22 is) are
the only findings; every other number, forward pass to updates, is right. Then mistakes of every
cause planted in it, one at a time: in whole-number work one unit off is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.check import CheckResult

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "tests" / "data" / "exercise-square-activation.md"


def _corrected() -> str:
    """The homework with its two gradient labels corrected: every number right."""
    text = HOMEWORK.read_text(encoding="utf-8")
    for row, wrong, right in (("1", "11", "12"), ("2", "21", "22")):
        text = text.replace(
            rf"\partial w_{{{wrong}}}^{{(1)}}}} &= \delta_{row}^{{(1)}} \cdot a_2^{{(0)}}",
            rf"\partial w_{{{right}}}^{{(1)}}}} &= \delta_{row}^{{(1)}} \cdot a_2^{{(0)}}",
        )
    return text


CORRECTED = _corrected()


def test_the_square_activation_homework_as_it_stands() -> None:
    result = sbp.load(ROOT / "specs" / "square_221.yaml").check(HOMEWORK.read_text(encoding="utf-8"), HOMEWORK.name)
    found = [(f.step, f.role, f.quantity, f.entry, f.got, f.expected, f.cause) for f in result.findings]
    assert found == [
        (1, "grad", "W_1", (1, 1), -240.0, -160.0, "typo"),
        (1, "grad", "W_1", (2, 1), 168.0, 112.0, "typo"),
    ]
    assert "entry [1,2]" in result.findings[0].message and "entry [2,2]" in result.findings[1].message
    # everything else is right: d, a, y, L, the deltas, dL/dw_2, the other dL/dW_1 entries, all six updates
    assert result.numbers == 22 and result.right == 20 and result.carried_forward == 0
    checked = {(f.role, f.quantity) for f in result.findings}
    assert checked == {("grad", "W_1")}
    # the homework's own letters: d for the pre-activation ("drive"), a for the activation
    assert {(m.written, m.quantity.key) for m in result.matches} == {
        (r"\vec{d}^{(1)}", "s_1"),
        (r"\vec{a}^{(1)}", "z_1"),
        ("d^{(2)}", "s_2"),
    }
    assert result.summary().startswith("first mistake: step 1, dL/dW_1 [1,1]: typo: -240 is the value of entry [1,2]")


def test_the_homework_with_its_labels_corrected_is_all_right() -> None:
    result = sbp.load(ROOT / "specs" / "square_221.yaml").check(CORRECTED)
    assert result.ok and result.right == result.numbers == 22
    assert result.summary() == "all 22 numbers right"


# --- mistakes planted in the homework, one at a time ---------------------------------------------------------

COURSE = ROOT / "specs" / "square_221_course.yaml"
#: Each update of the homework as written, and as made with learning rate 0.02.
UPDATES = {
    r"w_{11}^{(2)} = -2 - 0.01 \cdot 100 & = -3": r"w_{11}^{(2)} = -2 - 0.02 \cdot 100 & = -4",
    r"w_{12}^{(2)} = 1 - 0.01 \cdot 196 & = -0.96": r"w_{12}^{(2)} = 1 - 0.02 \cdot 196 & = -2.92",
    r"w_{11}^{(1)} = -2 - 0.01 \cdot (-160) & = -0.4": r"w_{11}^{(1)} = -2 - 0.02 \cdot (-160) & = 1.2",
    r"w_{12}^{(1)} = 3 - 0.01 \cdot (-240) & = 5.4": r"w_{12}^{(1)} = 3 - 0.02 \cdot (-240) & = 7.8",
    r"w_{21}^{(1)} = 2 - 0.01 \cdot 112 & = 0.88": r"w_{21}^{(1)} = 2 - 0.02 \cdot 112 & = -0.24",
    r"w_{22}^{(1)} = 1 - 0.01 \cdot 168 & = -0.68": r"w_{22}^{(1)} = 1 - 0.02 \cdot 168 & = -2.36",
}


def _plant(*edits: tuple[str, str]) -> str:
    text = CORRECTED
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _findings(text: str) -> list[tuple]:
    result = sbp.load(COURSE).check(text)
    return [(f.step, f.role, f.quantity, f.entry, f.got, f.expected, f.cause) for f in result.findings]


def test_the_corrected_homework_is_all_right_under_the_course_notation() -> None:
    result = sbp.load(COURSE).check(CORRECTED)
    assert result.ok and result.right == result.numbers == 22


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        # one unit off a whole number is wrong when the truth is whole (the audit's plants)
        (r"\frac{1}{2} \cdot 4 = 2$$", r"\frac{1}{2} \cdot 4 = 3$$", (1, "loss", "L", (1, 1), 3, 2, "arithmetic")),
        (r"-2 \cdot -2 = 4$$", r"-2 \cdot -2 = 5$$", (1, "delta", "delta_2", (1, 1), 5, 4, "arithmetic")),
        (
            r"-2 - 0.01 \cdot 100 & = -3",
            r"-2 - 0.01 \cdot 100 & = -4",
            (1, "updated", "w_2", (1, 1), -4, -3, "arithmetic"),
        ),
        (r"4 \cdot 49 = 196", r"4 \cdot 49 = 186", (1, "grad", "w_2", (1, 2), 186, 196, "arithmetic")),
        # -60 where the solution's own numbers give -80, the truth: the student's own slip, not carried forward
        (r"10 = -80$$", r"10 = -60$$", (1, "delta", "delta_1", (1, 1), -60, -80, "arithmetic")),
        # the causes other than arithmetic
        (r"4 \cdot 1 \cdot 14 = 56$$", r"4 \cdot 1 \cdot 14 = 65$$", (1, "delta", "delta_1", (2, 1), 65, 56, "typo")),
        (r"-2 \cdot -2 = 4$$", r"-2 \cdot -2 = -4$$", (1, "delta", "delta_2", (1, 1), -4, 4, "sign")),
        (r"-2 \cdot -2 = 4$$", r"-2 \cdot 1 = -2$$", (1, "delta", "delta_2", (1, 1), -2, 4, "activation")),
        (
            r"w_{11}^{(2)} = -2 - 0.01 \cdot 100 & = -3",
            r"w_{11}^{(2)} = 100",
            (1, "updated", "w_2", (1, 1), 100, -3, "gradient_as_update"),
        ),
        (r"-2 - 0.01 \cdot 100 & = -3", r"-2 - 0.01 \cdot 100 & = -30", (1, "updated", "w_2", (1, 1), -30, -3, "typo")),
        (
            r"1 - 0.01 \cdot 196 & = -0.96",
            r"1 - 0.01 \cdot 196 & = -0.97",
            (1, "updated", "w_2", (1, 2), -0.97, -0.96, "arithmetic"),
        ),  # the truth ends in the digits written
        (r"-50 + 49 = -1$$", r"-50 + 49 = 1$$", (1, "forward", "s_2", (1, 1), 1, -1, "sign")),
    ],
)
def test_one_planted_mistake_is_the_only_finding(old: str, new: str, finding: tuple) -> None:
    assert _findings(_plant((old, new))) == [finding]


def test_a_wrong_delta_carried_through_the_gradients_and_updates() -> None:
    """delta_1^(1) = -60 (truth -80), and every number after it computed from -60: the gradients
    -120, -180 and the updates -0.8, 4.8 are carried forward, not new mistakes."""
    text = _plant(
        (r"10 = -80$$", r"10 = -60$$"),
        (r"-80 \cdot 2 = -160", r"-60 \cdot 2 = -120"),
        (r"-80 \cdot 3 = -240", r"-60 \cdot 3 = -180"),
        (r"-2 - 0.01 \cdot (-160) & = -0.4", r"-2 - 0.01 \cdot (-120) & = -0.8"),
        (r"3 - 0.01 \cdot (-240) & = 5.4", r"3 - 0.01 \cdot (-180) & = 4.8"),
    )
    result = sbp.load(COURSE).check(text)
    assert [(f.role, f.entry, f.got, f.cause) for f in result.findings] == [
        ("delta", (1, 1), -60, "arithmetic"),
        ("grad", (1, 1), -120, "carried_forward"),
        ("grad", (1, 2), -180, "carried_forward"),
        ("updated", (1, 1), -0.8, "carried_forward"),
        ("updated", (1, 2), 4.8, "carried_forward"),
    ]
    assert result.mistakes == 1 and result.carried_forward == 4
    assert "step 1 is consistent with that (carried forward)" in result.summary()


def test_every_update_with_another_learning_rate() -> None:
    result = sbp.load(COURSE).check(_plant(*UPDATES.items()))
    assert {(f.role, f.cause) for f in result.findings} == {("updated", "learning_rate")}
    assert len(result.findings) == 6 and result.other_rates == {1: 0.02} and result.mistakes == 1
    assert "every update uses learning rate 0.02, not 0.01" in result.summary()


def test_transposed_gradient_labels() -> None:
    text = _plant(
        (
            r"\partial w_{12}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}",
            r"\partial w_{21}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}",
        ),
        (
            r"\partial w_{21}^{(1)}} &= \delta_2^{(1)} \cdot a_1^{(0)}",
            r"\partial w_{12}^{(1)}} &= \delta_2^{(1)} \cdot a_1^{(0)}",
        ),
    )
    assert [(f.entry, f.got, f.cause) for f in sbp.load(COURSE).check(text).findings] == [
        ((1, 2), 112, "transpose"),
        ((2, 1), -240, "transpose"),
    ]


def test_an_activation_forgotten_in_the_forward_pass() -> None:
    """a^(1) = (5, 7): the drive without the square, identity's values."""
    text = _plant((r"{5 \choose 7}^2 = {25 \choose 49}$$", r"{5 \choose 7}$$"))
    assert [(f.entry, f.got, f.cause) for f in sbp.load(COURSE).check(text).findings] == [
        ((1, 1), 5, "activation"),
        ((2, 1), 7, "activation"),
    ]


def test_planted_mistakes_from_the_command_line(tmp_path: Path) -> None:
    planted = tmp_path / "planted.md"
    planted.write_text(
        _plant(
            (r"\frac{1}{2} \cdot 4 = 2$$", r"\frac{1}{2} \cdot 4 = 3$$"),
            (r"4 \cdot 1 \cdot 14 = 56$$", r"4 \cdot 1 \cdot 14 = 65$$"),
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", str(COURSE), str(planted), "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [(f["quantity"], f["got"], f["cause"]) for f in doc["findings"]] == [
        ("L", 3, "arithmetic"),
        ("delta_1", 65, "typo"),
    ]
    assert doc["right"] == 20 and doc["wrong"] == 2


# --- a second whole-number solution: a 3-2-1 ReLU network in Andrew Ng's notation ----------------------------

RELU = ROOT / "tests" / "data" / "relu_321_whole.yaml"
RELU_SOLUTION = (ROOT / "tests" / "data" / "whole-number-relu.md").read_text(encoding="utf-8")


def _relu(*edits: tuple[str, str], text: str = RELU_SOLUTION) -> CheckResult:
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return sbp.load(RELU).check(text)


def test_the_whole_number_relu_solution_is_all_right() -> None:
    """Z^{[1]}, A^{[1]}, dZ, dW, db and := updates (Z the pre-activation by the spec's notation); step 1
    in whole numbers and short decimals, step 2 rounded to 4 decimals."""
    result = _relu()
    assert result.ok and result.right == result.numbers == 81
    assert {(m.written, m.quantity.key) for m in result.matches} == set()  # every name read by its letter


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        (r"\frac{1}{2}(-8)^2 = 32", r"\frac{1}{2}(-8)^2 = 31", (1, "loss", "L", (1, 1), 31, 32, "arithmetic")),
        (
            r"dZ^{[2]} = \hat{y} - t = -8$$",
            r"dZ^{[2]} = \hat{y} - t = -7$$",
            (1, "delta", "delta_2", (1, 1), -7, -8, "arithmetic"),
        ),
        (
            r"dZ^{[2]} = \hat{y} - t = -8$$",
            r"dZ^{[2]} = \hat{y} - t = 8$$",
            (1, "delta", "delta_2", (1, 1), 8, -8, "sign"),
        ),
        (r"16 & 32 & -16", r"16 & 23 & -16", (1, "grad", "W_1", (2, 2), 23, 32, "typo")),
        (r"16 & 32 & -16", r"1.6 & 32 & -16", (1, "grad", "W_1", (2, 1), 1.6, 16, "typo")),
        (
            r"\mathrm{ReLU}(Z^{[1]}) = \begin{bmatrix} 0 \\ 4",
            r"\mathrm{ReLU}(Z^{[1]}) = \begin{bmatrix} -2 \\ 4",
            (1, "forward", "z_1", (1, 1), -2, 0, "activation"),
        ),
        (r"db^{[2]} = 1.08$$", r"db^{[2]} = -8$$", (1, "updated", "b_2", (1, 1), -8, 1.08, "gradient_as_update")),
        (r"db^{[2]} = 1.08$$", r"db^{[2]} = 1.07$$", (1, "updated", "b_2", (1, 1), 1.07, 1.08, "arithmetic")),
        (r"\approx 11.3212", r"\approx 11.3214", (2, "loss", "L", (1, 1), 11.3214, 11.32118528, "arithmetic")),
    ],
)
def test_one_planted_mistake_in_the_relu_solution(old: str, new: str, finding: tuple) -> None:
    assert [(f.step, f.role, f.quantity, f.entry, f.got, f.expected, f.cause) for f in _relu((old, new)).findings] == [
        finding
    ]


def test_a_rounded_number_may_be_cut_where_a_whole_one_may_not() -> None:
    """1.1276 for 1.127584 is cut, not wrong (the truth has more digits); 1.07 for 1.08 is wrong."""
    assert _relu((r"\approx 1.1276$$", r"\approx 1.1275$$")).ok
    assert not _relu((r"db^{[2]} = 1.08$$", r"db^{[2]} = 1.07$$")).ok


def test_the_relu_solution_with_another_learning_rate() -> None:
    result = _relu(
        (r"1.84 & 0.68 & -0.84", r"1.68 & 0.36 & -0.68"),
        (r"1 \\ -1.16", r"1 \\ -1.32"),
        (r"3 & -1.68", r"3 & -1.36"),
        (r"db^{[2]} = 1.08$$", r"db^{[2]} = 1.16$$"),
        text=RELU_SOLUTION.split("## Iteration 2")[0],
    )
    assert {(f.step, f.role, f.cause) for f in result.findings} == {(1, "updated", "learning_rate")}
    assert result.other_rates == {1: 0.02} and len(result.findings) == 6 and result.mistakes == 1


def test_a_whole_number_slip_carried_through_the_step() -> None:
    """Z^{[1]}_2 = 5 (2 + 2 + 1 - 1 is 4), and every number after it computed from 5."""
    slipped = [
        (r"\begin{bmatrix} -2 \\ 4 \end{bmatrix}$$", r"\begin{bmatrix} -2 \\ 5 \end{bmatrix}$$"),
        (r"= \begin{bmatrix} 0 \\ 4 \end{bmatrix}$$", r"= \begin{bmatrix} 0 \\ 5 \end{bmatrix}$$"),
        (
            r"(-2) \cdot 4 + 1 = -7, \qquad \hat{y} = A^{[2]} = Z^{[2]} = -7",
            r"(-2) \cdot 5 + 1 = -9, \qquad \hat{y} = A^{[2]} = Z^{[2]} = -9",
        ),
        (r"\frac{1}{2}(-8)^2 = 32", r"\frac{1}{2}(-10)^2 = 50"),
        (r"\hat{y} - t = -8$$", r"\hat{y} - t = -10$$"),
        (
            r"\begin{bmatrix} 0 & -32 \end{bmatrix}, \qquad db^{[2]} = dZ^{[2]} = -8",
            r"\begin{bmatrix} 0 & -50 \end{bmatrix}, \qquad db^{[2]} = dZ^{[2]} = -10",
        ),
        (
            r"(-2) \cdot (-8) \cdot 1 \end{bmatrix} = \begin{bmatrix} 0 \\ 16",
            r"(-2) \cdot (-10) \cdot 1 \end{bmatrix} = \begin{bmatrix} 0 \\ 20",
        ),
        (r"16 & 32 & -16", r"20 & 40 & -20"),
        (r"db^{[1]} = \begin{bmatrix} 0 \\ 16", r"db^{[1]} = \begin{bmatrix} 0 \\ 20"),
        (r"1.84 & 0.68 & -0.84", r"1.8 & 0.6 & -0.8"),
        (r"1 \\ -1.16", r"1 \\ -1.2"),
        (r"3 & -1.68", r"3 & -1.5"),
        (r"db^{[2]} = 1.08$$", r"db^{[2]} = 1.1$$"),
    ]
    result = _relu(*slipped, text=RELU_SOLUTION.split("## Iteration 2")[0])
    first = result.first_mistake
    assert (first.step, first.role, first.quantity, first.entry, first.got, first.cause) == (
        1,
        "forward",
        "s_1",
        (2, 1),
        5,
        "arithmetic",
    )
    assert {f.cause for f in result.findings if f is not first} == {"carried_forward"}
    # 1.8, -0.8, -1.2 and 1.1 (from 5) are also the truth (1.84, -0.84, -1.16, 1.08) rounded to the
    # digits written: right; 0.6 for 0.68 and -1.5 for -1.68 are not
    assert result.mistakes == 1 and result.carried_forward == 16 and result.right == 32
    assert {(f.role, f.quantity, f.entry) for f in result.findings if f.role == "updated"} == {
        ("updated", "W_1", (2, 2)),
        ("updated", "W_2", (1, 2)),
    }
    assert "step 1 is consistent with that (carried forward)" in result.summary()


def test_a_stated_learning_rate_is_no_number_of_the_network() -> None:
    """`\\alpha = 0.01` (the spec's rate) is passed over; another rate is noted, not checked."""
    assert _relu().notes == []
    assert _relu((r"$\alpha = 0.01$", r"$\alpha = 0.1$")).notes == [
        r"line 3: \alpha = 0.1, but the spec's learning rate is 0.01; not checked"
    ]
