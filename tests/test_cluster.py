"""`verify --batch --executor dask` on a LocalCluster of two worker processes: the same verdicts as the
local pool, in input order, with a crashing or hanging answer failing its row alone."""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from symbackprop import cluster
from symbackprop.cli import main

if os.environ.get("CI") != "true":  # CI installs the test extra, which has dask: there a missing dask fails
    pytest.importorskip("dask.distributed", reason='pip install "symbackprop[dask]"')
import dask  # noqa: E402
from dask.distributed import LocalCluster, WorkerPlugin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "relu_4321.yaml")
ANSWERS = [
    ("r1", "dL/dW_1", "delta_1 x^T"),
    ("r2", "dL/dW_1", "x delta_1^T"),
    ("r3", "delta_2", "W_3^T delta_3"),
    ("r4", "delta_2", r"(W_3^\top \delta_3) \odot [s_2 > 0]"),
    ("r5", "delta_3", "net x"),
    ("r6", "dL/dW_9", "x"),
    ("r7", "delta_3", "__import__('os').system('touch PWNED')"),
    ("r8", "delta_3", "y - h_3"),
    ("r9", "dL/db_2", "delta_2 1_N"),
    ("r10", "dL/dW_3", "2 delta_3 z_2^T"),
    ("r11", "delta_1", "9^{9^{9}}"),
    ("r12", "delta_3", "h_3 - y"),
]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of two single-threaded worker processes that may start grading processes."""
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
    ):
        yield local.scheduler_address


def write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("id", "target", "answer"))
        writer.writerows(rows)
    return path


def graded(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[dict[str, str]], str]:
    code = main(["verify", SPEC, *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out))), err


@pytest.mark.slow  # Dask worker processes start and import SymPy: seconds of CPU
def test_the_same_verdicts_as_the_local_pool(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "answers.csv", ANSWERS * 3)
    local, _ = graded(capsys, "--batch", str(path), "--workers", "2", "--hint-level", "2")
    remote, err = graded(
        capsys, "--batch", str(path), "--executor", "dask", "--scheduler", scheduler, "--hint-level", "2"
    )
    assert "36 row(s) in " in err and f"on the Dask cluster at {scheduler}" in err
    for rows in (local, remote):
        for row in rows:
            del row["seconds"]
    assert remote == local
    assert [row["id"] for row in remote] == [a[0] for a in ANSWERS * 3]
    assert {row["verdict"] for row in remote} == {"equivalent", "different", "unreadable"}
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


class CrashOrHang(WorkerPlugin):
    """In each Dask worker: the answer CRASH kills its grading process, HANG never returns."""

    def setup(self, worker: object) -> None:
        from symbackprop.verify import batch

        original = batch.grade

        def grade(verifier: object, target: str, answer: str, hint_level: int = 0) -> dict:
            if answer == "CRASH":
                os._exit(3)
            if answer == "HANG":
                time.sleep(60)
            return original(verifier, target, answer, hint_level)

        batch.grade = grade
        batch.GRACE = 1.0


@pytest.mark.slow  # Dask worker processes start and import SymPy: seconds of CPU
def test_a_crashing_or_hanging_row_fails_alone(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cloudpickle
    from dask.distributed import Client

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    with Client(scheduler) as client:
        client.register_plugin(CrashOrHang())  # stays: no other test's answer is CRASH or HANG
    rows = [
        ("a", "delta_3", "h_3 - y"),
        ("b", "delta_3", "CRASH"),
        ("c", "delta_3", "y - h_3"),
        ("d", "delta_3", "HANG"),
        ("e", "delta_3", "h_3 - y"),
        ("f", "dL/dW_1", "delta_1 x^T"),
    ]
    result, _ = graded(
        capsys,
        "--batch",
        str(write(tmp_path / "answers.csv", rows)),
        "--executor",
        "dask",
        "--scheduler",
        scheduler,
        "--time-limit",
        "1",
    )
    assert [r["verdict"] for r in result] == ["equivalent", "error", "different", "timeout", "equivalent", "equivalent"]
    assert "crashed on this answer (exit code 3)" in result[1]["feedback"]
    assert "no verdict within 2 s" in result[3]["feedback"]


@pytest.mark.slow  # Dask worker processes start and import SymPy: seconds of CPU
def test_daemonic_workers_are_told_how_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (
        dask.config.set({"distributed.worker.daemon": True}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
    ):
        code = main(
            [
                "verify",
                SPEC,
                "--batch",
                str(write(tmp_path / "a.csv", ANSWERS[:2])),
                "--executor",
                "dask",
                "--scheduler",
                local.scheduler_address,
            ]
        )
    err = capsys.readouterr().err
    assert code == 2 and "DASK_DISTRIBUTED__WORKER__DAEMON=False" in err and "Traceback" not in err


def test_an_unreachable_scheduler_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    code = main(
        [
            "verify",
            SPEC,
            "--batch",
            str(write(tmp_path / "a.csv", ANSWERS[:1])),
            "--executor",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there" in err


def test_chunks_cover_every_row_once_in_order() -> None:
    for count in (0, 1, 7, 100, 20_000):
        for threads in (1, 2, 16):
            pieces = cluster.chunks(count, threads)
            assert [i for piece in pieces for i in piece] == list(range(count))
            assert all(len(piece) <= cluster.MAX_CHUNK for piece in pieces)


@pytest.mark.slow  # Dask worker processes start and import SymPy: seconds of CPU
def test_check_batch_on_the_cluster_matches_the_local_batch(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --batch --executor dask`: the same report, in file order; the files travel as text."""
    import symbackprop as sbp

    square = str(ROOT / "specs" / "square_221.yaml")
    step = sbp.load(square).train().to_dict()["steps"][0]
    right = "\n\n".join(
        f"$$ {name} = {value[0][0]:g} $$"
        for name, value in step["forward"].items()
        if len(value) == 1 and len(value[0]) == 1
    )
    folder = tmp_path / "solutions"
    folder.mkdir()
    (folder / "a.md").write_text(right, encoding="utf-8")
    (folder / "b.md").write_text(right.replace("= -1 $$", "= 1 $$"), encoding="utf-8")
    (folder / "c.md").write_text("no numbers here", encoding="utf-8")
    (folder / "d.tex").write_bytes(b"\xff\xfe not utf-8")
    reports = []
    for extra in ((), ("--executor", "dask", "--scheduler", scheduler)):
        code = main(["check", square, str(folder), "--batch", *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        reports.append(out)
    assert reports[0] == reports[1]
    assert [line.split(",")[:2] for line in reports[0].splitlines()[1:]] == [
        ["a.md", "checked"],
        ["b.md", "checked"],
        ["c.md", "unreadable"],
        ["d.tex", "unreadable"],
    ]


@pytest.mark.slow  # Dask worker processes start and import SymPy: seconds of CPU
def test_a_class_with_variants_on_the_cluster(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --batch --variants DIR` and `verify --batch` with a variant column on the cluster: the
    same reports as here, each file or row graded against its own variant."""
    from symbackprop.course import variants

    square = str(ROOT / "specs" / "square_221.yaml")
    course = tmp_path / "hw"
    variants.write(square, variants.numbered(2), 7, course, fmt="md")
    folder = tmp_path / "solutions"
    folder.mkdir()
    for student, name in (("01", "01.md"), ("02", "02_hw.md"), ("02", "01-late.md")):
        (folder / name).write_text((course / student / "solution.md").read_text(encoding="utf-8"), encoding="utf-8")
    answers = tmp_path / "answers.csv"
    answers.write_text(
        "id,variant,target,answer\ns1,01,dL/dw_2,delta_2 z_1^T\ns2,02,delta_2,(y - t) \\odot 2 s_2\ns3,07,delta_1,x\n",
        encoding="utf-8",
    )
    reports = []
    for extra in ((), ("--executor", "dask", "--scheduler", scheduler)):
        code = main(["check", square, str(folder), "--batch", "--variants", str(course), *extra])
        checked, err = capsys.readouterr()
        assert code == 0, err
        code = main(["verify", square, "--batch", str(answers), "--variants", str(course), *extra])
        graded, err = capsys.readouterr()
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(graded)))
        for row in rows:
            del row["seconds"]
        reports.append((checked, rows))
    assert reports[0] == reports[1]
    assert [(row["id"], row["variant"], row["verdict"]) for row in reports[1][1]] == [
        ("s1", "01", "equivalent"),
        ("s2", "02", "equivalent"),
        ("s3", "07", "unreadable"),
    ]
    assert [line.split(",")[:3] for line in reports[0][0].splitlines()[1:]] == [
        ["01-late.md", "01", "checked"],
        ["01.md", "01", "checked"],
        ["02_hw.md", "02", "checked"],
    ]
