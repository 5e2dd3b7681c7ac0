"""The campaign's hypothesis profiles: CI (fixed seed, bounded examples) unless OCFKIT_CAMPAIGN=long.

CI: derandomized (each test's examples are a fixed function of the test, the same on every run:
the campaign's fixed seed), no example database, a bounded number of examples per test. Long mode
(OCFKIT_CAMPAIGN=long): random examples (pytest --hypothesis-seed=N replays a run), 1000 examples
per test unless OCFKIT_CAMPAIGN_EXAMPLES says otherwise. OCFKIT_CAMPAIGN_EXAMPLES also overrides CI.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("OCFKIT_CAMPAIGN", "").lower() == "long"
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
             HealthCheck.function_scoped_fixture, HealthCheck.large_base_example]
_OVERRIDE = os.environ.get("OCFKIT_CAMPAIGN_EXAMPLES", "")

PROFILE = settings(derandomize=not LONG, database=None, deadline=None, print_blob=True,
                   suppress_health_check=_SUPPRESS)


def examples(ci: int) -> int:
    """Examples for one test: ci in CI, 1000 in long mode; OCFKIT_CAMPAIGN_EXAMPLES overrides both."""
    if _OVERRIDE:
        return int(_OVERRIDE)
    return 1000 if LONG else ci
