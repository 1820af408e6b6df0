"""Tests name specs as `specs/<file>` from the project's root, wherever pytest is started.

Hypothesis runs without its wall-clock deadline and too-slow health check (a busy machine must
not fail a test), and under CI=true derandomized, so that CI's verdict is the same on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

CI = os.environ.get("CI") == "true"
settings.register_profile("symbackprop", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=CI, **({"database": None} if CI else {}))
settings.load_profile("symbackprop")


@pytest.fixture(autouse=True)
def _run_from_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
