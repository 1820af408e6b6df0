"""The suite itself: no test reads the wall clock (a busy machine must not fail a test), the
default run leaves out the slow set, and every slow test is listed, with its reason, in
tests/README.md (issue #18)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
#: Clocks that measure wall time; limits count CPU time (time.process_time, os.wait4's rusage).
WALL_CLOCKS = {
    "time",
    "time_ns",
    "perf_counter",
    "perf_counter_ns",
    "monotonic",
    "monotonic_ns",
    "now",
    "utcnow",
    "today",
}


def _sources() -> list[Path]:
    return sorted(TESTS.glob("*.py"))


def test_no_test_reads_the_wall_clock() -> None:
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            owner = node.value if isinstance(node, ast.Attribute) else None
            if (
                owner is not None
                and node.attr in WALL_CLOCKS
                and (
                    (isinstance(owner, ast.Name) and owner.id in ("time", "datetime", "date"))
                    or (isinstance(owner, ast.Attribute) and owner.attr in ("datetime", "date"))
                )
            ):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
                found += [
                    f"{path.name}:{node.lineno}: from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name in WALL_CLOCKS
                ]
    assert found == [], found


def _slow_tests() -> set[str]:
    """Test functions marked slow, or with a parameter marked slow, by name."""
    names = set()
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        whole = any(
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
            and "slow" in ast.unparse(node.value)
            for node in tree.body
        )
        for node in tree.body:
            if (
                isinstance(node, ast.FunctionDef)
                and node.name.startswith("test_")
                and (whole or any("mark.slow" in ast.unparse(d) for d in node.decorator_list))
            ):
                names.add(f"{path.name}::{node.name}")
    return names


def test_every_slow_test_is_listed_with_its_reason() -> None:
    listed = (TESTS / "README.md").read_text(encoding="utf-8")
    slow = _slow_tests()
    assert len(slow) >= 10
    for name in sorted(slow):
        module, function = name.split("::")
        row = next((line for line in listed.splitlines() if line.startswith(f"| {module}")), None)
        assert row is not None and (function in listed or "test_cluster" in module), f"{name}: not in tests/README.md"


def test_the_default_run_leaves_out_the_slow_set_and_ci_runs_it() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib is Python 3.11+)
    assert re.search(r"^addopts = \"-ra -m 'not slow'\"$", pyproject.split("[tool.pytest.ini_options]")[1], re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^pip install \"\.\[test\]\" && HYPOTHESIS_PROFILE=ci python -m pytest -q -n auto$", ci, re.M)
    assert re.search(r"^HYPOTHESIS_PROFILE=ci python -m pytest -q -n auto -m slow$", ci, re.M)
    assert 'pip install ".[test]" && python -m pytest -q -n auto' in (ROOT / "README.md").read_text(encoding="utf-8")
