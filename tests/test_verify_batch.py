"""Batch grading: every row gets one verdict in input order, extra columns are carried through, and
a row that crashes or hangs its worker fails alone."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.verify import Verifier, batch
from tests.clirun import invoke

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "relu_4321.yaml")

ROWS = [
    ("a1", "dL/dW_1", "delta_1 x^T", "ann", "equivalent"),
    ("a2", "dL/dW_1", "x delta_1^T", "bob", "different"),
    ("a3", "delta_2", r"(W_3^\top \delta_3) \odot [s_2 > 0]", "cid", "equivalent"),
    ("a4", "delta_2", "W_3^T delta_3", "dan", "different"),
    ("a5", "delta_2", "net x", "eve", "unreadable"),
    ("a6", "dL/dW_9", "x", "fay", "unreadable"),
    ("a7", "delta_3", "__import__('os').system('touch PWNED')", "gus", "unreadable"),
    ("a8", "delta_3", "h_3 - y,\n with a comma and a line break", "hal", "unreadable"),
    ("a9", "delta_3", "h_3 - y", "ida", "equivalent"),
]


def write_csv(
    path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = ("id", "target", "answer", "student")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(row[: len(header)] for row in rows)
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`symbackprop verify SPEC ARGS` in this process (tests/clirun.py)."""
    return invoke("verify", SPEC, *args, cwd=cwd)


def spawn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The same in a process of its own: the batch's worker processes are its children."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", "verify", SPEC, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_batch_on_the_command_line(tmp_path: Path) -> None:
    answers = write_csv(tmp_path / "answers.csv", ROWS)
    done = spawn("--batch", str(answers), "-o", "graded.csv", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "verify: 9 row(s)" in done.stderr and "3 equivalent, 2 different, 4 unreadable" in done.stderr
    graded = list(csv.DictReader(io.StringIO((tmp_path / "graded.csv").read_text(encoding="utf-8"))))
    assert list(graded[0]) == ["id", "target", "answer", "verdict", "feedback", "seconds", "score", "student"]
    assert [(g["id"], g["answer"], g["verdict"], g["student"]) for g in graded] == [
        (r[0], r[2], r[4], r[3]) for r in ROWS
    ]
    assert "the activation's derivative f_2'(s_2) is missing" in graded[3]["feedback"]
    assert "unknown target 'dL/dW_9'" in graded[5]["feedback"]
    assert all(float(g["seconds"]) >= 0 for g in graded)
    assert [graded[i]["score"] for i in (0, 3, 4)] == ["1", "0.5", "0"]
    assert not (tmp_path / "PWNED").exists()


def test_batch_json(tmp_path: Path) -> None:
    answers = write_csv(tmp_path / "answers.csv", ROWS[:3])
    done = run("--batch", str(answers), "--json", cwd=tmp_path)
    assert done.returncode == 0
    documents = json.loads(done.stdout)
    assert [d["id"] for d in documents] == ["a1", "a2", "a3"]
    assert documents[1]["verdict"] == "different" and documents[1]["columns"] == {"student": "bob"}
    assert {"target", "equivalent", "expected", "answer", "feedback"} <= set(documents[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,answer\n1,x\n", "missing column(s) target"),
        ("", "empty file"),
        ("id,target,answer,id\n1,delta_3,x,2\n", "column(s) id appear more than once"),
        ('id,target,answer\n1,delta_3,"x\n', "unexpected end of data"),
    ],
)
def test_an_unreadable_file_is_exit_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "bad.csv").write_text(content, encoding="utf-8")
    done = run("--batch", "bad.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr


def test_missing_file_and_conflicting_options(tmp_path: Path) -> None:
    assert "cannot read" in run("--batch", "nope.csv", cwd=tmp_path).stderr
    answers = write_csv(tmp_path / "answers.csv", ROWS[:1])
    done = run("--batch", str(answers), "--answer", "x", cwd=tmp_path)
    assert done.returncode == 2 and "drop --target/--answer" in done.stderr


def _crash_or_hang(original):  # noqa: ANN001, ANN202 - wraps batch.grade in the forked workers
    def grade(verifier: Verifier, target: str, answer: str, hint_level: int = 0) -> dict:
        if answer == "CRASH":
            os._exit(3)
        if answer == "HANG":  # waits without using the CPU: stopped by the wall-clock backstop
            time.sleep(60)
        if answer == "SPIN":  # busy outside the verifier's own clock: stopped when its CPU time runs out
            while True:
                pass
        return original(verifier, target, answer, hint_level)

    return grade


def test_a_crashing_or_hanging_row_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "grade", _crash_or_hang(batch.grade))
    monkeypatch.setattr(batch, "GRACE", 0.5)
    monkeypatch.setattr(batch, "WALL_FACTOR", 2.0)
    verifier = Verifier(sbp.load(SPEC), time_limit=1.0)
    jobs = [
        ("delta_3", "h_3 - y"),
        ("delta_3", "CRASH"),
        ("delta_3", "y - h_3"),
        ("delta_3", "HANG"),
        ("delta_3", "h_3 - y"),
        ("delta_3", "CRASH"),
        ("dL/dW_1", "delta_1 x^T"),
        ("delta_3", "SPIN"),
    ]
    results = batch.grade_rows(verifier, jobs, workers=2)
    assert [r["verdict"] for r in results] == [
        "equivalent",
        "error",
        "different",
        "timeout",
        "equivalent",
        "error",
        "equivalent",
        "timeout",
    ]
    assert "crashed on this answer (exit code 3)" in results[1]["feedback"][0]
    assert "no verdict within 1.5 s of CPU time" in results[3]["feedback"][0]
    assert "no verdict within 1.5 s of CPU time" in results[7]["feedback"][0]


def test_an_internal_error_fails_its_row_only(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = Verifier(sbp.load(SPEC))

    def broken(target: str | None, answer: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(verifier, "verify", broken)
    result = batch.grade(verifier, "delta_3", "x")
    assert result["verdict"] == "error" and result["feedback"] == ["internal error: RuntimeError: boom"]


def test_report_summary_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = batch.read_table(write_csv(tmp_path / "answers.csv", ROWS[:4]))
    report = batch.grade_table(Verifier(sbp.load(SPEC)), table, workers=1, progress=True)
    assert report.summary().startswith("verify: 4 row(s) in ")
    assert report.summary().endswith("with 1 worker(s): 2 equivalent, 2 different")
    assert "4/4 rows" in capsys.readouterr().err
    assert report.csv().splitlines()[0] == "id,target,answer,verdict,feedback,seconds,score,student"


# -- column names, scores and Gradescope ------------------------------------------------------

PLATFORM = [
    ("student", "question", "response", "weight"),
    ("ann", "dL/dW_1", "delta_1 x^T", "2"),
    ("ann", "delta_2", "W_3^T delta_3", "2"),
    ("ann", "delta_3", "y - h_3", "1"),
    ("ann", "delta_3", "h_3 +", ""),
]
MAPPING = "id=student,target=question,answer=response,points=weight"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", SPEC, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_columns_map_the_files_own_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "answers.csv", PLATFORM[1:], header=PLATFORM[0])
    code, out, err = cli(capsys, "--batch", str(path), "--columns", MAPPING, "--workers", "1")
    assert code == 0, err
    graded = list(csv.DictReader(io.StringIO(out)))
    assert list(graded[0]) == ["id", "target", "answer", "verdict", "feedback", "seconds", "score"]
    assert [(g["id"], g["target"], g["verdict"], g["score"]) for g in graded] == [
        ("ann", "dL/dW_1", "equivalent", "1"),
        ("ann", "delta_2", "different", "0.5"),
        ("ann", "delta_3", "different", "0.75"),
        ("ann", "delta_3", "unreadable", "0"),
    ]
    code, _, err = cli(capsys, "--batch", str(path))
    assert (
        code == 2
        and "missing column(s) target, answer (the header has student, question, response, "
        "weight; name yours with --columns"
        in err
    )


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("id=student,target=question", "missing column(s) answer"),
        ("id=student,target=question,answer=nope", "missing column(s) nope"),
        ("id=student,question", "'question' is not NAME=COLUMN"),
        ("who=student", "'who=student' is not NAME=COLUMN"),
        ("id=student,id=question", "id is mapped twice"),
    ],
)
def test_bad_columns_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str, message: str) -> None:
    path = write_csv(tmp_path / "answers.csv", PLATFORM[1:], header=PLATFORM[0])
    code, out, err = cli(capsys, "--batch", str(path), "--columns", columns)
    assert code == 2 and out == "" and message in err


def test_a_mapped_column_may_not_hide_one_of_ours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(
        tmp_path / "answers.csv", [("1", "ann", "delta_3", "h_3 - y")], header=("id", "student", "target", "answer")
    )
    code, _, err = cli(capsys, "--batch", str(path), "--columns", "id=student")
    assert code == 2 and "column(s) id would be replaced" in err


def test_bad_points_are_exit_2_with_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [PLATFORM[1], ("bob", "delta_3", "h_3 - y", "-1")]
    path = write_csv(tmp_path / "answers.csv", rows, header=PLATFORM[0])
    code, _, err = cli(capsys, "--batch", str(path), "--columns", MAPPING)
    assert code == 2 and "answers.csv:3: points '-1' is not a number from 0" in err


def test_gradescope_results_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One test per row, worth its points; a total; plain-text fields; our schema in extra_data."""
    path = write_csv(tmp_path / "answers.csv", PLATFORM[1:], header=PLATFORM[0])
    code, out, err = cli(capsys, "--batch", str(path), "--columns", MAPPING, "--format", "gradescope", "--workers", "1")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["extra_data"] == {"schema_version": 1}
    assert doc["output_format"] == doc["test_output_format"] == doc["test_name_format"] == "text"
    tests = doc["tests"]
    assert [t["name"] for t in tests] == ["dL/dW_1", "delta_2", "delta_3", "delta_3"]  # one student: no id
    assert [(t["score"], t["max_score"], t["status"]) for t in tests] == [
        (2.0, 2.0, "passed"),
        (1.0, 2.0, "failed"),
        (0.75, 1.0, "failed"),
        (0.0, 1.0, "failed"),
    ]
    assert doc["score"] == 3.75
    assert tests[1]["output"].startswith("delta_2: different\n- the activation's derivative f_2'(s_2) is missing")
    assert tests[3]["extra_data"] == {"id": "ann", "verdict": "unreadable"}


def test_gradescope_names_tests_by_id_when_there_are_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "answers.csv", ROWS[:2])
    code, out, _ = cli(capsys, "--batch", str(path), "--format", "gradescope", "--hint-level", "1")
    tests = json.loads(out)["tests"]
    assert [t["name"] for t in tests] == ["a1: dL/dW_1", "a2: dL/dW_1"] and code == 0
    assert "hint 1: " in tests[1]["output"] and " = " not in tests[1]["output"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "delta_3", "--answer", "x", "--format", "csv"), "--format is for --batch"),
        (("--batch", "a.csv", "--json", "--format", "gradescope"), "--json and --format gradescope disagree"),
        (("--target", "delta_3", "--answer", "x", "--columns", "id=a"), "--columns: only with --batch"),
        (("--batch", "a.csv", "--executor", "dask"), "--executor dask needs --scheduler"),
        (("--batch", "a.csv", "--scheduler", "tcp://x:1"), "--scheduler is for --executor dask"),
    ],
)
def test_batch_option_mistakes_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    write_csv(tmp_path / "a.csv", ROWS[:1])
    code, _, err = cli(capsys, *(str(tmp_path / a) if a == "a.csv" else a for a in args))
    assert code == 2 and message in err


def test_without_an_id_column_rows_are_numbered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One student's submission for Gradescope: target and answer only."""
    path = write_csv(
        tmp_path / "answers.csv", [("delta_3", "h_3 - y"), ("delta_2", "W_3^T delta_3")], header=("target", "answer")
    )
    code, out, _ = cli(capsys, "--batch", str(path), "--workers", "1")
    assert code == 0
    assert [(g["id"], g["verdict"]) for g in csv.DictReader(io.StringIO(out))] == [
        ("1", "equivalent"),
        ("2", "different"),
    ]


HEAP_PROBE = """
import resource
import numpy as np
from symbackprop.verify.batch import _adaptive_heap

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        a = np.ones(200_000)  # 1.6 MB, as the full-size autoencoder's arrays
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults()
before = faults()
_adaptive_heap()  # what a grading worker does first
faults()
print(before, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds: Linux only")
def test_a_grading_worker_undoes_dasks_fixed_malloc_thresholds() -> None:
    """Dask workers run with MALLOC_TRIM_THRESHOLD_=65536: every 1.6 MB array was mapped afresh (400 page
    faults each, 2.5x the CPU time per answer on the full-size autoencoder); a grading worker reuses them."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", HEAP_PROBE], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    before, after = map(int, done.stdout.split())
    assert before > 50 * 300 and after < 50 * 10, (before, after)
