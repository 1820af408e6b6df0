"""Hostile CSVs for `verify --batch`: an oversized cell is that row's verdict, not the batch's
failure; answers a spreadsheet would run as formulas come out inert; workers are capped by the
cores and the memory there are, and a worker that outgrows its memory budget fails its row alone."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop import budget
from symbackprop.verify import Verifier, batch
from tests.hostile import run

ROOT = Path(__file__).resolve().parent.parent
RELU = str(ROOT / "specs" / "relu_4321.yaml")


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "target", "answer"])
        writer.writerows(rows)
    return path


def graded(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_17_megabyte_cell_is_one_unreadable_row(tmp_path: Path) -> None:
    write(
        tmp_path / "answers.csv",
        [
            ("1", "delta_3", "h_3 - y"),
            ("2", "delta_3", "h" * (17 * 2**20)),
            ("3", "d" * 300, "h_3 - y"),
            ("4", "delta_3", "y - h_3"),
        ],
    )
    done = run("verify", RELU, "--batch", "answers.csv", "-o", "graded.csv", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "graded.csv").read_text(encoding="utf-8"))
    assert [row["verdict"] for row in rows] == ["equivalent", "unreadable", "unreadable", "different"]
    assert rows[1]["feedback"] == ["the answer is 17,825,792 characters long; the limit is 4000"]
    assert rows[2]["feedback"] == ["the target is 300 characters long; the limit is 200"]
    done.within(cpu=120, mb=800)  # the file is 17 MB: read, sent to a worker once, written back


def test_answers_that_start_a_formula_are_inert_in_the_csv(tmp_path: Path) -> None:
    answers = ["=1+1", "+h_3 - y", "-y + h_3", "@SUM(A1:A2)", "\tcmd", '=HYPERLINK("http://x")']
    write(tmp_path / "answers.csv", [(f"={i}", "delta_3", answer) for i, answer in enumerate(answers)])
    done = run("verify", RELU, "--batch", "answers.csv", "-o", "graded.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = graded(tmp_path / "graded.csv")
    assert [row["answer"] for row in rows] == ["'" + answer for answer in answers]
    assert [row["id"] for row in rows] == [f"'={i}" for i in range(len(answers))]
    assert all(not cell.startswith(batch.FORMULA_START) for row in rows for cell in row.values())
    assert [row["verdict"] for row in rows][1:3] == ["equivalent", "equivalent"]
    done = run("verify", RELU, "--batch", "answers.csv", "--json", cwd=tmp_path)  # JSON is verbatim
    assert [row["id"] for row in json.loads(done.stdout)] == [f"={i}" for i in range(len(answers))]


def test_workers_are_capped_by_cores_and_memory(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    write(tmp_path / "answers.csv", [(str(i), "delta_3", "h_3 - y") for i in range(80)])
    done = run("verify", RELU, "--batch", "answers.csv", "-o", "graded.csv", "--workers", "64", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"with {batch.worker_count(64, 80)} worker(s)" in done.stderr
    assert batch.worker_count(64, 80) <= cores
    assert batch.worker_count(64, 3) <= 3 and batch.worker_count(0, 3) == 1
    done.within(cpu=300, mb=300 + 300 * min(cores, 64))


def test_worker_count_follows_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "_free_mb", lambda: 3 * budget.WORKER_MB + 10)
    assert batch.worker_count(64, 100) == min(3, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(batch, "_free_mb", lambda: 10)
    assert batch.worker_count(64, 100) == 1


def _hungry(original):  # noqa: ANN001, ANN202 - a stand-in for an answer that outgrows its worker
    def grade(verifier: Verifier, target: str, answer: str, *rest: object) -> dict:
        if answer == "HUNGRY":
            hoard = np.ones(400 * 2**20 // 8)  # 400 MB, every page touched
            hoard += 1
        return original(verifier, target, answer, *rest)

    return grade


def test_a_worker_that_outgrows_its_budget_fails_its_row_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "grade", _hungry(batch.grade))
    monkeypatch.setattr(budget, "WORKER_MB", 100)
    verifier = Verifier(sbp.load(RELU))
    jobs = [("delta_3", "h_3 - y"), ("delta_3", "HUNGRY"), ("delta_3", "y - h_3")]
    results = batch.grade_rows(verifier, jobs, workers=1)
    assert [r["verdict"] for r in results] == ["equivalent", "error", "different"]
    assert results[1]["feedback"] == [
        "this answer needs more memory than a worker's budget of 100 MB; the grader was stopped"
    ]
