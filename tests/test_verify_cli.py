"""`symbackprop verify SPEC --target T --answer A`: exit codes, text and JSON, as interface.md section 2 fixes them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.clirun import invoke

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "specs" / "mlp.yaml")


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`symbackprop verify ARGS` (in this process: tests/clirun.py)."""
    return invoke("verify", *args, stdin=stdin, cwd=cwd)


@pytest.mark.parametrize(
    ("answer", "code", "verdict"),
    [
        ("x delta_1^T", 0, "equivalent"),
        (r"x \left(\left(w \delta_{out}\right) \odot [s_1 > 0]\right)^{\top}", 0, "equivalent"),
        ("-x delta_1^T", 1, "different"),
        ("delta_1 x^T", 1, "different"),
        ("x delta_1^T +", 2, "unreadable"),
    ],
)
def test_exit_codes_and_json(answer: str, code: int, verdict: str) -> None:
    done = run(MLP, "--target", "dL/dW", "--answer", answer, "--json")
    assert done.returncode == code, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == verdict and doc["equivalent"] == (code == 0)
    assert doc["target"] == "dL/dW" and doc["expected"] == r"x \delta_{1}^{\top}"
    assert isinstance(doc["feedback"], list) and (doc["feedback"] == []) == (code == 0)


def test_text_report_stdin_and_output_file(tmp_path: Path) -> None:
    done = run(
        MLP,
        "--target",
        r"\frac{\partial L}{\partial W}",
        "--answer",
        "-",
        "-o",
        "out.txt",
        stdin="-x delta_1^T\n",
        cwd=tmp_path,
    )
    assert done.returncode == 1 and done.stdout == ""
    report = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert report.startswith("dL/dW: different\n  - the sign is flipped")
    assert "partial credit: 0.75 (sign)" in report


def test_bad_options_are_exit_2() -> None:
    unknown = run(MLP, "--target", "dL/dW_7", "--answer", "x")
    assert unknown.returncode == 2 and "--target: unknown target 'dL/dW_7'" in unknown.stderr
    missing = run(MLP, "--target", "dL/dW")
    assert missing.returncode == 2 and "give --answer" in missing.stderr
    unreadable = run(MLP, "--target", "dL/dW", "--answer", "x net")
    assert unreadable.returncode == 2
    assert "symbackprop: error: unreadable answer: unknown name 'net' at position 3" in unreadable.stderr
    assert run(str(ROOT / "nope.yaml"), "--answer", "x").returncode == 2
