"""A whole class with variants graded in one command: `verify --batch` with a per-row `variant`
column, `check --batch --variants DIR` with each file's variant from its name, and `--variant ID`
checked against the variants directory's index.csv (docs/course.md)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from symbackprop.check import batch
from symbackprop.cli import main
from symbackprop.course import variants
from symbackprop.course.variants import VariantError, VariantSource

ROOT = Path(__file__).resolve().parent.parent
SQUARE = str(ROOT / "specs" / "square_221.yaml")
SEED = 7


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Variants 01 and 02 of the square network (whole numbers), as `variants` writes them."""
    out = tmp_path_factory.mktemp("course") / "hw"
    variants.write(SQUARE, variants.numbered(2), SEED, out, fmt="md")
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _grad(course: Path, student: str) -> float:
    """dL/dw_2[1,1] of the student's own numbers, from their key."""
    key = json.loads((course / student / "key.json").read_text(encoding="utf-8"))
    return key["numeric"]["steps"][0]["grad"]["w_2"][0][0]


# --- --variant ID against the directory ----------------------------------------------------------------------


def test_a_variant_the_directory_does_not_list_is_exit_2(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    solution = str(course / "01" / "solution.md")
    code, _, err = run(capsys, "check", SQUARE, solution, "--variant", "03", "--variants", str(course))
    assert code == 2 and f"no variant '03' in {course / 'index.csv'}" in err
    code, _, err = run(
        capsys,
        "verify",
        SQUARE,
        "--target",
        "dL/dw_2",
        "--answer",
        "delta_2 z_1^T",
        "--variant",
        "x9",
        "--variants",
        str(course),
    )
    assert code == 2 and "no variant 'x9'" in err


def test_a_listed_variant_is_graded_against_its_own_numbers(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own, other = str(course / "01" / "solution.md"), str(course / "02" / "solution.md")
    assert run(capsys, "check", SQUARE, own, "--variant", "01", "--variants", str(course))[0] == 0
    assert run(capsys, "check", SQUARE, other, "--variant", "01", "--variants", str(course))[0] == 1
    answer = f"{_grad(course, '02'):g}"
    scores = {}
    for student in ("02", "01"):
        code, out, _ = run(
            capsys,
            "verify",
            SQUARE,
            "--target",
            "dL/dw_2[1,1]",
            "--answer",
            answer,
            "--variant",
            student,
            "--variants",
            str(course),
            "--json",
        )
        assert code in (0, 1)
        scores[student] = json.loads(out)["score"]
    assert scores["02"] > scores["01"] == 0  # 02's number: right (credit for a number) for 02 only


def test_the_directory_must_hold_this_exercises_variants(
    course: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "check",
        str(ROOT / "specs" / "mlp.yaml"),
        str(course / "01" / "solution.md"),
        "--variant",
        "01",
        "--variants",
        str(course),
    )
    assert code == 2 and "not a variant of" in err
    code, _, err = run(
        capsys, "check", SQUARE, str(course / "01" / "solution.md"), "--variant", "01", "--variants", str(tmp_path)
    )
    assert code == 2 and "no index.csv" in err
    code, _, err = run(capsys, "check", SQUARE, str(course / "01" / "solution.md"), "--variants", str(course))
    assert code == 2 and "give --variant ID (or --batch" in err


def test_without_a_directory_the_variant_is_drawn_again(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(capsys, "check", SQUARE, str(course / "02" / "solution.md"), "--variant", "02", "--seed", str(SEED))[0] == 0
    )


# --- a class in one command ----------------------------------------------------------------------------------


def test_check_batch_takes_each_files_variant_from_its_name(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(course / "01" / "solution.md", submissions / "01.md")
    shutil.copy(course / "02" / "solution.md", submissions / "02_hw3.md")
    shutil.copy(course / "02" / "solution.md", submissions / "01-copied.md")  # 02's numbers handed in by 01
    shutil.copy(course / "01" / "solution.md", submissions / "someone.md")
    code, out, err = run(capsys, "check", SQUARE, str(submissions), "--batch", "--variants", str(course))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["file", "variant", *batch.COLUMNS[1:]]
    assert [(r["file"], r["variant"], r["status"]) for r in rows] == [
        ("01-copied.md", "01", "checked"),
        ("01.md", "01", "checked"),
        ("02_hw3.md", "02", "checked"),
        ("someone.md", "", "unreadable"),
    ]
    assert [r["wrong"] != "0" for r in rows[:3]] == [True, False, False]
    assert "matches its name" in rows[3]["summary"]
    code, out, _ = run(capsys, "check", SQUARE, str(submissions), "--batch", "--variants", str(course), "--json")
    assert [(d["file"], d.get("variant")) for d in json.loads(out)][:3] == [
        ("01-copied.md", "01"),
        ("01.md", "01"),
        ("02_hw3.md", "02"),
    ]


def _answers(course: Path, path: Path) -> Path:
    """Each student answers dL/dw_2[1,1] with their own number; s3 copies 01's; s4 has no variant 09;
    s5's row has no variant (a formula: the exercise itself)."""
    rows = [
        ("s1", "01", "dL/dw_2[1,1]", f"{_grad(course, '01'):g}"),
        ("s2", "02", "dL/dw_2[1,1]", f"{_grad(course, '02'):g}"),
        ("s3", "02", "dL/dw_2[1,1]", f"{_grad(course, '01'):g}"),
        ("s4", "09", "dL/dw_2[1,1]", "1"),
        ("s5", "", "dL/dw_2", "delta_2 z_1^T"),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("student", "version", "question", "response"))
        writer.writerows(rows)
    return path


def test_verify_batch_grades_each_row_against_its_variant(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = str(_answers(course, tmp_path / "answers.csv"))
    columns = "id=student,variant=version,target=question,answer=response"
    code, out, err = run(
        capsys, "verify", SQUARE, "--batch", answers, "--columns", columns, "--variants", str(course), "--workers", "1"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    # a number is credited only where it is the student's own variant's (s3 gives 01's number as 02)
    assert [(r["id"], r["variant"], float(r["score"]) > 0) for r in rows] == [
        ("s1", "01", True),
        ("s2", "02", True),
        ("s3", "02", False),
        ("s4", "09", False),
        ("s5", "", True),
    ]
    assert [r["verdict"] for r in rows][2:] == ["different", "unreadable", "equivalent"]
    assert f"no variant '09' in {course / 'index.csv'}" in rows[3]["feedback"]
    # without the directory each row's variant is drawn again from SPEC and --seed: the same scores for 01, 02
    code, out, _ = run(
        capsys,
        "verify",
        SQUARE,
        "--batch",
        answers,
        "--columns",
        columns,
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--json",
    )
    assert [(d["id"], d["variant"], d["score"]) for d in json.loads(out)][:3] == [
        (r["id"], r["variant"], float(r["score"])) for r in rows[:3]
    ]


def test_one_variant_for_all_and_a_variant_column_disagree(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = str(_answers(course, tmp_path / "answers.csv"))
    code, _, err = run(
        capsys,
        "verify",
        SQUARE,
        "--batch",
        answers,
        "--columns",
        "id=student,variant=version,target=question,answer=response",
        "--variant",
        "01",
        "--variants",
        str(course),
    )
    assert code == 2 and "has a variant column" in err


# --- the Python pieces ---------------------------------------------------------------------------------------


def test_a_files_name_gives_its_variant(course: Path) -> None:
    source = VariantSource(SQUARE, SEED, course)
    assert [source.match(stem) for stem in ("01", "01_hw3", "02-final", "02.v2", "02 copy", "02x", "1", "3")] == [
        "01",
        "01",
        "02",
        "02",
        "02",
        None,
        None,
        None,
    ]
    assert VariantSource(SQUARE, SEED).match("01") is None  # without the index, no name is known to be an id
    with pytest.raises(LookupError, match="no variant '7'"):
        source.lookup("7")
    with pytest.raises(VariantError, match="outside"):
        (course.parent / "evil").mkdir(exist_ok=True)
        shutil.copytree(course, course.parent / "evil", dirs_exist_ok=True)
        index = course.parent / "evil" / "index.csv"
        index.write_text(
            index.read_text(encoding="utf-8").replace("01/spec.yaml", "../hw/01/spec.yaml"), encoding="utf-8"
        )
        VariantSource(SQUARE, SEED, course.parent / "evil").text("01")
