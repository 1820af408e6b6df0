"""The walls of docs/architecture.md, checked on the source: spec/ knows no SymPy, render/ and
verify/ do not import each other, nothing imports cli.py, and the engine names no activation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"


def imports(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_spec_layer_knows_no_sympy() -> None:
    for path in files("spec"):
        assert not any(name.split(".")[0] in ("sympy", "numpy") for name in imports(path)), path.name


def test_render_and_verify_do_not_import_each_other() -> None:
    for path in files("render"):
        assert not any(name.startswith("symbackprop.verify") for name in imports(path)), path.name
    for path in files("verify"):
        assert not any(name.startswith("symbackprop.render") for name in imports(path)), path.name


def test_nothing_imports_the_cli() -> None:
    importers = [path.name for path in files() if "symbackprop.cli" in imports(path)]
    assert importers == ["__main__.py"]


def test_engine_names_no_activation_or_loss() -> None:
    """derive.py asks rules.py; adding an activation never touches the engine."""
    source = (PACKAGE / "derive.py").read_text(encoding="utf-8")
    for name in ("relu", "tanh", "sigmoid", "softmax", "leaky", "squared_error", "cross_entropy", "hinge"):
        assert name not in source, name


def test_verify_and_render_do_not_import_check() -> None:
    """check/ builds on the API (and may read with verify's pieces); nothing before it imports it."""
    for folder in ("verify", "render"):
        for path in files(folder):
            assert not any(name.startswith("symbackprop.check") for name in imports(path)), path.name
    for path in files():
        if path.parent.name != "check" and path.name not in ("cli.py", "api.py"):
            assert not any(name.startswith("symbackprop.check") for name in imports(path)), path.name


def test_ci_installs_exactly_the_lower_bound_of_every_runtime_dependency() -> None:
    """pyproject.toml's lower bounds are what .ci/run's second job installs (ci/oldest.txt), and that job
    runs."""
    root = Path(__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    bounds = dict(re.findall(r'"([\w.-]+)>=([\w.]+)"', block))
    pins = dict(re.findall(r"^([\w.-]+)==(\S+)$", (root / "ci" / "oldest.txt").read_text(encoding="utf-8"), re.M))
    assert bounds and all(pins.get(name) in (bound, bound + ".0") for name, bound in bounds.items()), (bounds, pins)
    assert 'pip install -c ci/oldest.txt ".[test]"' in (root / ".ci" / "run").read_text(encoding="utf-8")
