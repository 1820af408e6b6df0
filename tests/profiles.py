"""Hypothesis profiles for the suite, chosen by HYPOTHESIS_PROFILE (default `dev`).

Both run without Hypothesis's wall-clock deadline and too-slow health check (a busy machine must
not fail a test). `ci` (set by .ci/run) is derandomized with no example database, so that CI's
verdict is the same on every run, and runs `CI_FACTOR` times the examples each property asks for
through `examples(n)`. `dev` (the README's test command) runs `n`, and under CI=true is
derandomized too.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: How many times more examples a property runs under the `ci` profile.
CI_FACTOR = 3

_CI = os.environ.get("CI") == "true"
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", derandomize=_CI, **({"database": None} if _CI else {}), **_COMMON)
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")


def examples(n: int) -> int:
    """How many examples a property sized at `n` for the default run runs under this profile."""
    return n * CI_FACTOR if PROFILE == "ci" else n
