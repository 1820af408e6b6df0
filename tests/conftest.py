"""Tests name specs as `specs/<file>` from the project's root, wherever pytest is started.

Hypothesis's profile (tests/profiles.py): `dev` by default, `ci` under HYPOTHESIS_PROFILE=ci
(derandomized, more examples; .ci/run sets it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.profiles import PROFILE

ROOT = Path(__file__).resolve().parent.parent

settings.load_profile(PROFILE)


@pytest.fixture(autouse=True)
def _run_from_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
