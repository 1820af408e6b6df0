"""`symbackprop check SPEC SOLUTION [--json]` and `check SPEC DIR --batch`: exit codes, text, JSON and
the batch report, as interface.md section 2 fixes them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop import cli
from symbackprop.check import Checker
from symbackprop.check.batch import check_file, run_batch, solution_files
from tests import solutions as S

ROOT = Path(__file__).resolve().parent.parent
SQUARE = str(ROOT / "specs" / "square_221.yaml")
HOMEWORK = str(ROOT / "tests" / "data" / "exercise-square-activation.md")


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own (the exit-code contract end to end)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", *args],
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The command in this process (cheaper): returns (exit code, stdout, stderr)."""

    def call(*args: str, stdin: str | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(["check", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def _solutions(tmp_path: Path) -> Path:
    """A directory of square-network solutions: clean, another learning rate, the homework, unreadable."""
    student = S.square()
    (tmp_path / "a_clean.md").write_text(S.markdown(student, S.train(student)), encoding="utf-8")
    (tmp_path / "b_rate.tex").write_text(S.latex(student, S.train(student, S.Mistakes(lr=0.02))), encoding="utf-8")
    (tmp_path / "c_homework.md").write_text(Path(HOMEWORK).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "d_broken.md").write_text("$$ W = \\begin{bmatrix} 1 & 2 $$\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 not a solution")
    return tmp_path


def test_findings_exit_1_with_a_summary() -> None:
    done = run(SQUARE, HOMEWORK)
    assert done.returncode == 1, done.stderr
    assert "first mistake: step 1, dL/dW_1 [1,1]: typo" in done.stdout
    assert "22 numbers: 20 right, 2 wrong, 0 carried forward" in done.stdout


def test_json_and_stdin(main) -> None:  # noqa: ANN001
    code, out, err = main(SQUARE, "-", "--json", stdin=Path(HOMEWORK).read_text(encoding="utf-8"))
    assert code == 1, err
    doc = json.loads(out)
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == 1
    assert [(f["step"], f["role"], f["quantity"], f["entry"], f["cause"]) for f in doc["findings"]] == [
        (1, "grad", "W_1", [1, 1], "typo"),
        (1, "grad", "W_1", [2, 1], "typo"),
    ]
    assert doc["findings"][0]["got"] == -240 and doc["findings"][0]["expected"] == -160


def test_all_right_exits_0_and_writes_the_output_file(main, tmp_path: Path) -> None:  # noqa: ANN001
    student = S.square()
    (tmp_path / "s.md").write_text(S.markdown(student, S.train(student)), encoding="utf-8")
    code, out, err = main(SQUARE, "s.md", "-o", "report.txt", cwd=tmp_path)
    assert code == 0, err
    assert out == "" and "all 22 numbers right" in (tmp_path / "report.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("no math at all\n", "found no number"),
        ("$$ W = \\begin{bmatrix} 1 & 2 $$\n", "never closed"),
        ("\\input{answers}\n", "\\input"),
    ],
)
def test_unreadable_solutions_exit_2(main, tmp_path: Path, content: str, words: str) -> None:  # noqa: ANN001
    (tmp_path / "s.md").write_text(content, encoding="utf-8")
    code, out, err = main(SQUARE, "s.md", "-o", "out.txt", cwd=tmp_path)
    assert code == 2 and words in err and out == ""
    assert not (tmp_path / "out.txt").exists()
    assert err.count("\n") == 1  # one message


def test_a_spec_without_training_data_exits_2(main, tmp_path: Path) -> None:  # noqa: ANN001
    spec = tmp_path / "bare.yaml"
    spec.write_text(
        "name: bare\ninput: {name: x, size: 1}\ntarget: {name: y, size: 1}\n"
        "layers: [{name: '1', units: 1, activation: tanh}]\nloss: half_squared_error\n",
        encoding="utf-8",
    )
    (tmp_path / "s.md").write_text("$$ s_1 = 1 $$\n", encoding="utf-8")
    code, _, err = main(str(spec), str(tmp_path / "s.md"))
    assert code == 2 and "cannot give the true numbers" in err


def test_a_directory_without_batch_and_a_missing_file(main, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = main(SQUARE, str(tmp_path))
    assert code == 2 and "--batch" in err
    code, _, err = main(SQUARE, str(tmp_path / "missing.md"))
    assert code == 2 and "cannot read" in err
    code, _, err = main(SQUARE, str(tmp_path), "--batch")
    assert code == 2 and "no solution files" in err


def test_batch_writes_one_row_per_solution(tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    folder = _solutions(tmp_path / "subs")
    done = run(SQUARE, str(folder), "--batch", "-o", str(tmp_path / "report.csv"))
    assert done.returncode == 0, done.stderr
    assert "checked 4 solutions: 1 all right, 2 with findings, 1 unreadable" in done.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text(encoding="utf-8"))))
    assert [row["file"] for row in rows] == ["a_clean.md", "b_rate.tex", "c_homework.md", "d_broken.md"]
    assert [row["status"] for row in rows] == ["checked", "checked", "checked", "unreadable"]
    assert rows[0]["wrong"] == "0" and rows[0]["score"] == "1.0000"
    assert "learning_rate" in rows[1]["causes"] and "0.02, not 0.01" in rows[1]["summary"]
    assert rows[2]["causes"] == "typo: 2" and rows[2]["right"] == "20"
    assert "never closed" in rows[3]["summary"]


def test_batch_json(main, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _solutions(tmp_path)
    code, out, _ = main(SQUARE, str(folder), "--batch", "--json")
    assert code == 0
    doc = json.loads(out)
    assert all(next(iter(entry)) == "schema_version" for entry in doc)
    assert [entry["status"] for entry in doc] == ["checked", "checked", "checked", "unreadable"]
    assert doc[2]["findings"][0]["cause"] == "typo" and "message" in doc[3]


def test_the_batch_loop_takes_any_map(tmp_path: Path) -> None:
    """Another executor can run the work: check_file is a plain function of (checker, file)."""
    folder = _solutions(tmp_path)
    checker = Checker(sbp.load(SQUARE))
    calls = []

    def recording_map(function, items):  # noqa: ANN001, ANN202 - the shape of any executor's map
        for item in items:
            calls.append(item.name)
            yield function(item)

    rows = run_batch(checker, solution_files(folder), recording_map)
    assert calls == [row.file for row in rows] == ["a_clean.md", "b_rate.tex", "c_homework.md", "d_broken.md"]
    assert check_file(checker, folder / "c_homework.md").result.wrong == 2


def test_net_check_in_python() -> None:
    result = sbp.load(SQUARE).check(Path(HOMEWORK).read_text(encoding="utf-8"))
    assert not result.ok and result.wrong == 2 and json.loads(result.to_json())["mistakes"] == 2
