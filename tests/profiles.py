"""Hypothesis profiles for the suite, chosen by HYPOTHESIS_PROFILE (default `dev`).

Both run without Hypothesis's wall-clock deadline and too-slow health check (a busy machine must
not fail a test). `ci` (set by .ci/run) is derandomized with no example database, so that CI's
verdict is the same on every run, and runs more examples: each property sizes its examples with
`examples(default, ci)` to what one example costs, so the default run stays short (tests/README.md)
and CI explores further. `dev` (the README's test command) is derandomized too under CI=true.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: How many times more examples a property runs under the `ci` profile unless it says.
CI_FACTOR = 3

_CI = os.environ.get("CI") == "true"
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", derandomize=_CI, **({"database": None} if _CI else {}), **_COMMON)
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")


def examples(default: int, ci: int | None = None) -> int:
    """A property's max_examples: `default` in the default run, `ci` (default: CI_FACTOR times as many)
    under the `ci` profile."""
    if PROFILE != "ci":
        return default
    return default * CI_FACTOR if ci is None else ci
