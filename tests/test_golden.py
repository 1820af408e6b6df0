"""`symbackprop derive --form all` on every spec, byte for byte against tests/golden/derive/
(regenerate with `python tools/regenerate_golden.py` after a deliberate change, then read the diff)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("regenerate_golden", ROOT / "tools" / "regenerate_golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

SPECS = sorted(path.stem for path in (ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("fmt", sorted(golden.FORMATS))
@pytest.mark.parametrize("stem", SPECS)
def test_derive_output_matches_golden(stem: str, fmt: str) -> None:
    path = golden.GOLDEN / f"{stem}.{golden.FORMATS[fmt]}"
    assert path.exists(), f"no golden file {path.name}: run python tools/regenerate_golden.py"
    assert golden.derive_output(ROOT / "specs" / f"{stem}.yaml", fmt) == path.read_text(encoding="utf-8"), (
        f"{path.name} differs: if the change is deliberate, run python tools/regenerate_golden.py and read the diff"
    )


def test_no_stale_golden_files() -> None:
    expected = {f"{stem}.{suffix}" for stem in SPECS for suffix in golden.FORMATS.values()}
    assert {path.name for path in golden.GOLDEN.iterdir()} == expected
