"""Test-wide settings: Hypothesis draws the same examples on every CI run (no flaky CI), and
random ones locally (so new examples keep being tried)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
