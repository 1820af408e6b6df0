"""The square-activation homework of ../shared/examples (a copy in tests/data), checked as it stands:
its two mislabelled gradient entries (w_11 written where w_12 is meant, w_21 where w_22 is) are
the only findings; every other number, forward pass to updates, is right."""

from __future__ import annotations

from pathlib import Path

import symbackprop as sbp

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "tests" / "data" / "exercise-square-activation.md"


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
    text = HOMEWORK.read_text(encoding="utf-8")
    text = text.replace(r"\partial w_{11}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}",
                        r"\partial w_{12}^{(1)}} &= \delta_1^{(1)} \cdot a_2^{(0)}")
    text = text.replace(r"\partial w_{21}^{(1)}} &= \delta_2^{(1)} \cdot a_2^{(0)}",
                        r"\partial w_{22}^{(1)}} &= \delta_2^{(1)} \cdot a_2^{(0)}")
    result = sbp.load(ROOT / "specs" / "square_221.yaml").check(text)
    assert result.ok and result.right == result.numbers == 22
    assert result.summary() == "all 22 numbers right"
