"""Test-wide settings: Hypothesis draws the same examples on every CI run (no flaky CI), and
random ones locally (so new examples keep being tried); no test starts the background
compilation of the compiled engine (the tests that check it ask for it)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

os.environ["DESCENTLAB_NO_BACKGROUND_COMPILE"] = "1"  # inherited by the CLI subprocesses too


@pytest.fixture(autouse=True)
def _same_engine_whatever_ran_before(monkeypatch):
    """``auto`` lowers its short-run threshold once the kernels are loaded in the process; in
    the tests that would make a test's engine depend on the tests that ran before it (the
    order is random), so the threshold stays the fresh process's unless a test sets it."""
    import descentlab.compiled

    monkeypatch.setattr(
        descentlab.compiled, "SHORT_RUN_SECONDS_LOADED", descentlab.compiled.SHORT_RUN_SECONDS
    )


def _say_the_order(config) -> None:
    """Print the random order's seed (pytest-randomly shows it only in the header, which ``-q``
    hides), so that a failure that depends on the order can be replayed."""
    seed = getattr(config.option, "randomly_seed", None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if isinstance(seed, int) and reporter and config.pluginmanager.hasplugin("randomly"):
        reporter.write_line(f"Test order: --randomly-seed={seed} replays it.")


def pytest_sessionstart(session) -> None:
    """The seed first too: a run that dies before its summary still names its order."""
    _say_the_order(session.config)


def pytest_terminal_summary(terminalreporter, config) -> None:
    _say_the_order(config)
