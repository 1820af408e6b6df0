"""Hostile answers: each gets exit 2 or a verdict within the time limit, and nothing in it runs."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier
from tests.clirun import invoke

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "relu_4321.yaml")

HOSTILE = {
    "python injection": "__import__('os').system('touch PWNED')",
    "python in a name": 'x + eval(\'open("PWNED", "w")\')',
    "latex input": r"\input{/etc/passwd}",
    "latex def": r"\def\x{touch PWNED}\x",
    "latex write": r"\immediate\write18{touch PWNED}",
    "tower": "9^{9^{9^9}}",
    "tower on a matrix": "(delta_1 x^T)^{9^{9^9}}",
    "huge exponent": "x^{99999999999}",
    "20000 terms": " + ".join(["delta_1 x^T"] * 20_000),
    "10000 deep": "(" * 10_000 + "delta_1 x^T" + ")" * 10_000,
    "cyrillic a": "delta_1 x^T + а",
    "fullwidth": "ｄｅｌｔａ_1 x^T",
    "nul byte": "delta_1\x00 x^T",
    "one megabyte": "x" * 1_000_000,
    "many sums": r"\sum_{a=1}^{3}\sum_{b=1}^{3}\sum_{c=1}^{4}\sum_{d=1}^{4} W^{(1)}_{a,c} W^{(1)}_{b,d}",
    "long product": " ".join(["W_2^T W_2"] * 100) + " delta_1 x^T",
    "exp of exp": "exp(exp(exp(exp(exp(exp(s_1)))))) x^T",
}


@cache
def verifier() -> Verifier:
    return Verifier(sbp.load(SPEC))


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_answers_get_a_verdict_in_time(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = verifier().verify("dL/dW_1", HOSTILE[name])
    assert result.verdict in ("unreadable", "different", "timeout")
    assert result.feedback
    assert not (tmp_path / "PWNED").exists()


def test_hostile_answers_on_the_command_line(tmp_path: Path) -> None:
    """From the command line (in this process, tests/clirun.py; tests/test_hostile_answer.py runs them as real
    processes with their CPU and memory measured): a verdict or exit 2, never a traceback."""
    for name in ("python injection", "latex write", "tower", "nul byte", "10000 deep"):
        answer = HOSTILE[name].replace("\x00", "\\x00") if name == "nul byte" else HOSTILE[name]  # argv holds no NUL
        done = invoke("verify", SPEC, "--target", "dL/dW_1", "--answer", answer, cwd=tmp_path)
        assert done.returncode in (1, 2), (name, done.stderr)
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "PWNED").exists()
    done = invoke("verify", SPEC, "--target", "dL/dW_1", "--answer", "-", stdin=HOSTILE["one megabyte"], cwd=tmp_path)
    assert done.returncode == 2 and "limit is 4000" in done.stderr


def test_the_time_limit_is_enforced_inside_the_work() -> None:
    slow = Verifier(sbp.load(SPEC), time_limit=0.0)
    result = slow.verify("dL/dW_1", "delta_1 x^T")
    assert result.verdict == "timeout"
    assert "could not be checked within 0 s" in result.feedback[0]
