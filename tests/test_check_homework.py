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

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "tests" / "data" / "exercise-square-activation.md"


def _corrected() -> str:
    """The homework with its two gradient labels corrected: every number right."""
    text = HOMEWORK.read_text(encoding="utf-8")
    for row, wrong, right in (("1", "11", "12"), ("2", "21", "22")):
        text = text.replace(rf"\partial w_{{{wrong}}}^{{(1)}}}} &= \delta_{row}^{{(1)}} \cdot a_2^{{(0)}}",
                            rf"\partial w_{{{right}}}^{{(1)}}}} &= \delta_{row}^{{(1)}} \cdot a_2^{{(0)}}")
    return text


CORRECTED = _corrected()


def test_the_square_activation_homework_as_it_stands() -> None:
    result = sbp.load(ROOT / "specs" / "square_221.yaml").check(HOMEWORK.read_text(encoding="utf-8"), HOMEWORK.name)
    found = [(f.step, f.role, f.quantity, f.entry, f.got, f.expected, f.cause) for f in result.findings]
    assert found == [(1, "grad", "W_1", (1, 1), -240.0, -160.0, "typo"),
                     (1, "grad", "W_1", (2, 1), 168.0, 112.0, "typo")]
    assert "entry [1,2]" in result.findings[0].message and "entry [2,2]" in result.findings[1].message
    # everything else is right: d, a, y, L, the deltas, dL/dw_2, the other dL/dW_1 entries, all six updates
    assert result.numbers == 22 and result.right == 20 and result.carried_forward == 0
    checked = {(f.role, f.quantity) for f in result.findings}
    assert checked == {("grad", "W_1")}
    # the homework's own letters: d for the pre-activation ("drive"), a for the activation
    assert {(m.written, m.quantity.key) for m in result.matches} == {(r"\vec{d}^{(1)}", "s_1"),
                                                                   (r"\vec{a}^{(1)}", "z_1"),
                                                                   ("d^{(2)}", "s_2")}
    assert result.summary().startswith("first mistake: step 1, dL/dW_1 [1,1]: typo: -240 is the value of entry [1,2]")


def test_the_homework_with_its_labels_corrected_is_all_right() -> None:
    result = sbp.load(ROOT / "specs" / "square_221.yaml").check(CORRECTED)
    assert result.ok and result.right == result.numbers == 22
    assert result.summary() == "all 22 numbers right"


# --- mistakes planted in the homework, one at a time ---------------------------------------------------------

COURSE = ROOT / "specs" / "square_221_course.yaml"
#: Each update of the homework as written, and as made with learning rate 0.02.
UPDATES = {r"w_{11}^{(2)} = -2 - 0.01 \cdot 100 & = -3": r"w_{11}^{(2)} = -2 - 0.02 \cdot 100 & = -4",
           r"w_{12}^{(2)} = 1 - 0.01 \cdot 196 & = -0.96": r"w_{12}^{(2)} = 1 - 0.02 \cdot 196 & = -2.92",
           r"w_{11}^{(1)} = -2 - 0.01 \cdot (-160) & = -0.4": r"w_{11}^{(1)} = -2 - 0.02 \cdot (-160) & = 1.2",
           r"w_{12}^{(1)} = 3 - 0.01 \cdot (-240) & = 5.4": r"w_{12}^{(1)} = 3 - 0.02 \cdot (-240) & = 7.8",
           r"w_{21}^{(1)} = 2 - 0.01 \cdot 112 & = 0.88": r"w_{21}^{(1)} = 2 - 0.02 \cdot 112 & = -0.24",
           r"w_{22}^{(1)} = 1 - 0.01 \cdot 168 & = -0.68": r"w_{22}^{(1)} = 1 - 0.02 \cdot 168 & = -2.36"}


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


@pytest.mark.parametrize(("old", "new", "finding"), [
    # one unit off a whole number is wrong when the truth is whole (the audit's plants)
    (r"\frac{1}{2} \cdot 4 = 2$$", r"\frac{1}{2} \cdot 4 = 3$$", (1, "loss", "L", (1, 1), 3, 2, "arithmetic")),
    (r"-2 \cdot -2 = 4$$", r"-2 \cdot -2 = 5$$", (1, "delta", "delta_2", (1, 1), 5, 4, "arithmetic")),
    (r"-2 - 0.01 \cdot 100 & = -3", r"-2 - 0.01 \cdot 100 & = -4", (1, "updated", "w_2", (1, 1), -4, -3, "arithmetic")),
    (r"4 \cdot 49 = 196", r"4 \cdot 49 = 186", (1, "grad", "w_2", (1, 2), 186, 196, "arithmetic")),
    # -60 where the solution's own numbers give -80, the truth: the student's own slip, not carried forward
    (r"10 = -80$$", r"10 = -60$$", (1, "delta", "delta_1", (1, 1), -60, -80, "arithmetic")),
    # the causes other than arithmetic
    (r"4 \cdot 1 \cdot 14 = 56$$", r"4 \cdot 1 \cdot 14 = 65$$", (1, "delta", "delta_1", (2, 1), 65, 56, "typo")),
    (r"-2 \cdot -2 = 4$$", r"-2 \cdot -2 = -4$$", (1, "delta", "delta_2", (1, 1), -4, 4, "sign")),
    (r"-2 \cdot -2 = 4$$", r"-2 \cdot 1 = -2$$", (1, "delta", "delta_2", (1, 1), -2, 4, "activation")),
    (r"w_{11}^{(2)} = -2 - 0.01 \cdot 100 & = -3", r"w_{11}^{(2)} = 100",
     (1, "updated", "w_2", (1, 1), 100, -3, "gradient_as_update")),
    (r"-2 - 0.01 \cdot 100 & = -3", r"-2 - 0.01 \cdot 100 & = -30", (1, "updated", "w_2", (1, 1), -30, -3, "typo")),
    (r"1 - 0.01 \cdot 196 & = -0.96", r"1 - 0.01 \cdot 196 & = -0.97",
     (1, "updated", "w_2", (1, 2), -0.97, -0.96, "arithmetic")),  # the truth ends in the digits written
    (r"-50 + 49 = -1$$", r"-50 + 49 = 1$$",
     (1, "forward", "s_2", (1, 1), 1, -1, "sign")),
])
def test_one_planted_mistake_is_the_only_finding(old: str, new: str, finding: tuple) -> None:
    assert _findings(_plant((old, new))) == [finding]


def test_a_wrong_delta_carried_through_the_gradients_and_updates() -> None:
    """delta_1^(1) = -60 (truth -80), and every number after it computed from -60: the gradients
    -120, -180 and the updates -0.8, 4.8 are carried forward, not new mistakes."""
    text = _plant((r"10 = -80$$", r"10 = -60$$"),
                  (r"-80 \cdot 2 = -160", r"-60 \cdot 2 = -120"), (r"-80 \cdot 3 = -240", r"-60 \cdot 3 = -180"),
                  (r"-2 - 0.01 \cdot (-160) & = -0.4", r"-2 - 0.01 \cdot (-120) & = -0.8"),
                  (r"3 - 0.01 \cdot (-240) & = 5.4", r"3 - 0.01 \cdot (-180) & = 4.8"))
    result = sbp.load(COURSE).check(text)
    assert [(f.role, f.entry, f.got, f.cause) for f in result.findings] == [
        ("delta", (1, 1), -60, "arithmetic"), ("grad", (1, 1), -120, "carried_forward"),
        ("grad", (1, 2), -180, "carried_forward"), ("updated", (1, 1), -0.8, "carried_forward"),
        ("updated", (1, 2), 4.8, "carried_forward")]
    assert result.mistakes == 1 and result.carried_forward == 4
    assert "step 1 is consistent with that (carried forward)" in result.summary()


def test_every_update_with_another_learning_rate() -> None:
    result = sbp.load(COURSE).check(_plant(*UPDATES.items()))
    assert {(f.role, f.cause) for f in result.findings} == {("updated", "learning_rate")}
    assert len(result.findings) == 6 and result.other_rates == {1: 0.02} and result.mistakes == 1
    assert "every update uses learning rate 0.02, not 0.01" in result.summary()


def test_transposed_gradient_labels() -> None:
    text = _plant((r"\partial w_{12}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}",
                   r"\partial w_{21}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}"),
                  (r"\partial w_{21}^{(1)}} &= \delta_2^{(1)} \cdot a_1^{(0)}",
                   r"\partial w_{12}^{(1)}} &= \delta_2^{(1)} \cdot a_1^{(0)}"))
    assert [(f.entry, f.got, f.cause) for f in sbp.load(COURSE).check(text).findings] == [
        ((1, 2), 112, "transpose"), ((2, 1), -240, "transpose")]


def test_an_activation_forgotten_in_the_forward_pass() -> None:
    """a^(1) = (5, 7): the drive without the square, identity's values."""
    text = _plant((r"{5 \choose 7}^2 = {25 \choose 49}$$", r"{5 \choose 7}$$"))
    assert [(f.entry, f.got, f.cause) for f in sbp.load(COURSE).check(text).findings] == [
        ((1, 1), 5, "activation"), ((2, 1), 7, "activation")]


def test_planted_mistakes_from_the_command_line(tmp_path: Path) -> None:
    planted = tmp_path / "planted.md"
    planted.write_text(_plant((r"\frac{1}{2} \cdot 4 = 2$$", r"\frac{1}{2} \cdot 4 = 3$$"),
                              (r"4 \cdot 1 \cdot 14 = 56$$", r"4 \cdot 1 \cdot 14 = 65$$")), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "symbackprop", "check", str(COURSE), str(planted), "--json"],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [(f["quantity"], f["got"], f["cause"]) for f in doc["findings"]] == [("L", 3, "arithmetic"),
                                                                              ("delta_1", 65, "typo")]
    assert doc["right"] == 20 and doc["wrong"] == 2
