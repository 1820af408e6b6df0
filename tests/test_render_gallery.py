"""docs/gallery/ is current (python tools/gallery.py regenerates it), and an installed wheel finds its
templates and renders from outside the source tree."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _gallery_tool():  # noqa: ANN202 - a module loaded from tools/
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "tools" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # every spec's document rendered again: about 10 s of CPU
def test_gallery_is_current() -> None:
    gallery = _gallery_tool()
    assert gallery.stale() == [], "docs/gallery/ is not current: run python tools/gallery.py"
    folder = ROOT / "docs" / "gallery"
    pages = {path.stem for path in folder.glob("*.md")} - {"README"}
    assert pages == {path.stem for path in (ROOT / "specs").glob("*.yaml")}
    for stem in pages:  # each page shows its diagram; the index shows each first page
        assert f"]({stem}-network.svg)" in (folder / f"{stem}.md").read_text(encoding="utf-8")
        assert (folder / f"{stem}-network.svg").read_bytes().startswith(b"<?xml")
        assert (folder / f"{stem}-page1.png").read_bytes().startswith(b"\x89PNG")
        assert f"({stem}-page1.png)" in (folder / "README.md").read_text(encoding="utf-8")


def test_gallery_check_ignores_only_machine_dependent_figures() -> None:
    gallery = _gallery_tool()
    text = "## Worked example\n$$x = 1.0$$\n\n## Checks\n| $1.1 \\times 10^{-9}$ | $0$ | 6 / 6 |\n"
    assert gallery.comparable(text) == "## Worked example\n$$x = 1.0$$\n\n## Checks\n| $E$ | $E$ | 6 / 6 |\n"
    assert gallery.comparable(text.replace("1.0$$", "1.1$$")) != gallery.comparable(text)


@pytest.mark.slow  # pip builds and installs a wheel: about 5 s of CPU
def test_installed_wheel_renders(tmp_path: Path) -> None:
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True, timeout=600, capture_output=True
    )
    wheel = next(wheels.glob("symbackprop-*.whl"))
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    code = (
        "import symbackprop, symbackprop.render.templates as t; "
        f"net = symbackprop.load({str(ROOT / 'specs' / 'square_221.yaml')!r}); "
        "print(symbackprop.__file__); print(t.builtin_templates()); "
        "print(net.render('md', sections=['loss'])); print(net.render('tex', sections=['loss'])[:14])"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str(target / "symbackprop" / "__init__.py")
    assert lines[1] == str(target / "symbackprop" / "templates")
    assert "# 2-2-1 network with square activation" in lines and "## Loss" in lines
    assert lines[-1] == r"\documentclass"
