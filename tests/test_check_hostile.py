"""Hostile solutions: each gets one clear message (exit 2) or a bounded result, and nothing in it
is run, opened or written."""

from __future__ import annotations

from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop import cli
from symbackprop.check import Checker, CheckError
from symbackprop.check.limits import MAX_BYTES, MAX_CELLS, MAX_MATRICES

ROOT = Path(__file__).resolve().parent.parent
SQUARE = ROOT / "specs" / "square_221.yaml"
CLEAN_LINE = "$$ s_1 = \\begin{bmatrix} 5 \\\\ 7 \\end{bmatrix} $$\n"


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(sbp.load(SQUARE))


def _matrix(n: int) -> str:
    row = " & ".join(["1"] * n)
    return "$$ W_1 = \\begin{bmatrix} " + " \\\\ ".join([row] * n) + " \\end{bmatrix} $$\n"


HOSTILE = {
    "10 MB": (CLEAN_LINE * (10_000_000 // len(CLEAN_LINE) + 1), f"the limit is {MAX_BYTES:,} bytes"),
    "10,000 matrices": (
        "$$ W_1 = \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix} $$\n" * 10_000,
        f"more than {MAX_MATRICES:,} matrices",
    ),
    "1000x1000 matrix": (_matrix(1000), "bytes"),
    "200x200 matrix": (_matrix(200), f"the limit is {MAX_CELLS:,}"),
    "unbalanced environments": ("$$ \\begin{bmatrix} 1 \\end{pmatrix} $$\n", "unbalanced"),
    "environment never closed": ("\\begin{align}\ns_1 = 5\n", "never closed"),
    "an \\end alone": ("text \\end{align}\n", "without a \\begin"),
    "\\input": (CLEAN_LINE + "\\input{/etc/passwd}\n", "\\input"),
    "\\include": ("\\include{other}\n" + CLEAN_LINE, "\\include"),
    "shell escape": ("\\immediate\\write18{touch PWNED}\n" + CLEAN_LINE, "never runs"),
    "braces 10,000 deep": ("$$ s_1 = " + "{" * 10_000 + "5" + "}" * 10_000 + " $$\n", "nested"),
    "brackets 10,000 deep": ("$$ s_1 = " + "(" * 10_000 + "5" + ")" * 10_000 + " $$\n", "nested"),
    "a 40-digit number": ("$$ s_1 = " + "9" * 40 + " $$\n", "digits"),
    "a power of ten of a million": ("$$ L = 1e1000000 $$\n", "power of ten"),
    "10^{999999}": ("$$ L = 2 \\times 10^{999999} $$\n", "power of ten"),
    "unclosed $$": ("$$ s_1 = 5\n\nmore text\n", "never closed"),
    "NUL bytes": ("$$ s_1 = 5 $$\x00\n", "NUL"),
    "no numbers at all": ("Just prose, a derivation $\\delta = W^T \\delta$ and no values.\n", "found no number"),
    "python in a name": ("$$ __import__('os').system('touch PWNED') = 5 $$\n", "found no number"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_solutions_are_refused_clearly(
    name: str, checker: Checker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text, words = HOSTILE[name]
    with pytest.raises(CheckError) as caught:
        checker.check(text)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "PWNED").exists()


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.md"
    with big.open("wb") as handle:
        handle.seek(10_000_000)
        handle.write(b"\n")
    assert cli.main(["check", str(SQUARE), str(big)]) == 2
    assert "10,000,001 bytes" in capsys.readouterr().err


def test_the_cpu_time_limit_gives_a_clear_error() -> None:
    slow = Checker(sbp.load(SQUARE), time_limit=0.0)
    with pytest.raises(CheckError, match="within 0 s of CPU time"):
        slow.check(CLEAN_LINE)


def test_many_matrices_under_the_limits_give_a_bounded_result(checker: Checker) -> None:
    """1,500 restated matrices, half with an unknown name: read, placed and judged, every one."""
    text = (
        "$$ W_1 = \\begin{bmatrix} -2 & 3 \\\\ 2 & 1 \\end{bmatrix} $$\n"
        "$$ q_1 = \\begin{bmatrix} 25 \\\\ 49 \\end{bmatrix} $$\n"
    ) * 750
    result = checker.check(text)
    assert result.numbers == 750 * 4 + 750 * 2 and result.ok


def test_prose_and_unknown_commands_are_skipped_not_errors(checker: Checker) -> None:
    text = (
        "# Notes\n\\newcommand{\\R}{\\mathbb{R}}\nSome $\\R^n$ prose with $x \\in \\R$.\n"
        "$$ \\sigma(x) = x^2, \\quad \\sigma'(x) = 2x $$\n" + CLEAN_LINE
    )
    result = checker.check(text)
    assert result.ok and result.numbers == 2
