"""-o FILE and signals: a device or FIFO is written through, a symlink's target is replaced, an
unwritable destination is one exit-2 message, and a signal ends a batch cleanly (workers gone,
nothing written, one line on stderr). Where no resource bound is asserted and no signal sent, the
command line runs in this process (tests/clirun.py): the same writer, without a second of start-up."""

from __future__ import annotations

import csv
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.clirun import invoke
from tests.hostile import run

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "square_221.yaml")
RELU = str(ROOT / "specs" / "relu_4321.yaml")


def test_dev_null_stays_a_device(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    done = invoke("derive", SPEC, "-o", "/dev/null", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    done = invoke("derive", SPEC, "-o", str(fifo), cwd=tmp_path)
    reader.join(timeout=600)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received and b"dL/dW_1" in received[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_symlink_keeps_pointing_at_its_replaced_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    (tmp_path / "link.txt").symlink_to(target)
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "real" / "new.txt")
    assert invoke("derive", SPEC, "-o", "link.txt", cwd=tmp_path).returncode == 0
    assert invoke("derive", SPEC, "-o", "dangling.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "dangling.txt").is_symlink()
    assert "dL/dW_1" in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an existing file keeps its permissions
    assert "dL/dW_1" in (tmp_path / "real" / "new.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["new.txt", "out.txt"]


@pytest.mark.parametrize(
    ("destination", "fragment"),
    [
        ("no/such/dir/out.txt", "cannot write there (No such file or directory)"),
        ("/dev/full", "cannot write there (No space left on device)"),
        ("/proc/version", "cannot write there"),
        (".", "is a directory, not a file"),
    ],
)
def test_an_unwritable_destination_is_one_message(destination: str, fragment: str, tmp_path: Path) -> None:
    done = run("derive", SPEC, "-o", destination, cwd=tmp_path)
    done.failed_cleanly(2, f"-o {destination}: {fragment}")
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
    done.within(cpu=60, mb=600)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running or asleep (a zombie waiting for its reaper is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_workers(process: subprocess.Popen[bytes]) -> set[int]:
    """Wait (polling, no assertion on time) until the batch has forked its workers."""
    event = threading.Event()
    while not event.wait(0.05):
        workers = _children(process.pid)
        if len(workers) >= 2 or process.poll() is not None:
            return workers
    return set()


def _start_batch(tmp_path: Path) -> subprocess.Popen[bytes]:
    with (tmp_path / "answers.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "target", "answer"])
        writer.writerows([(str(i), "dL/dW_1", f"{i + 2} delta_1 x^T") for i in range(5000)])
    (tmp_path / "graded.csv").write_text("previous\n", encoding="utf-8")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "symbackprop",
            "verify",
            RELU,
            "--batch",
            "answers.csv",
            "-o",
            "graded.csv",
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_in_a_terminal,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def _as_in_a_terminal() -> None:
    """SIGINT as a foreground job has it: a test run in the background (`&`) ignores SIGINT, and the
    batch would inherit that and never see the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the group", "SIGHUP"])
def test_a_signal_ends_a_batch_cleanly(how: str, tmp_path: Path) -> None:
    process = _start_batch(tmp_path)
    workers = _wait_for_workers(process)
    assert len(workers) == 2, process.communicate()
    if how == "SIGINT to the group":  # what Ctrl-C in a terminal does
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(getattr(signal, how))
    out, err = process.communicate(timeout=600)
    signum = signal.SIGINT if how.startswith("SIGINT") else getattr(signal, how)
    assert process.returncode == 128 + signum, err
    lines = err.decode().splitlines()
    assert lines == ["symbackprop: interrupted" if signum == signal.SIGINT else f"symbackprop: stopped by {how}"]
    assert (tmp_path / "graded.csv").read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv", "graded.csv"]
    assert not any(_alive(pid) for pid in workers)


def test_workers_do_not_outlive_a_killed_batch(tmp_path: Path) -> None:
    """SIGKILL cannot be handled: the workers go by themselves (the kernel kills them on Linux)."""
    process = _start_batch(tmp_path)
    workers = _wait_for_workers(process)
    assert len(workers) == 2, process.communicate()
    process.kill()
    process.communicate(timeout=600)  # returns once no worker holds its stdout and stderr open
    gone = threading.Event()
    for _ in range(600):  # synchronisation, not a bound: a worker that stays fails the test below
        if not any(_alive(pid) for pid in workers):
            break
        gone.wait(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert (tmp_path / "graded.csv").read_text(encoding="utf-8") == "previous\n"
