"""The package's top level: the estimator loaded on first use, and ``python -m descentlab``."""

from __future__ import annotations

import runpy
import sys

import pytest

import descentlab


def test_the_estimator_is_loaded_on_first_use():
    from descentlab.estimator import DescentClassifier

    assert descentlab.DescentClassifier is DescentClassifier
    assert "DescentClassifier" in descentlab.__all__


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'descentlab' has no attribute 'Adam'"):
        descentlab.Adam  # noqa: B018
    assert not hasattr(descentlab, "DescentClassifierr")


def test_python_dash_m_runs_the_command(monkeypatch, capsys):
    # as a fresh `python -m`: runpy warns when another test has imported the module already
    monkeypatch.delitem(sys.modules, "descentlab.__main__", raising=False)
    monkeypatch.setattr(sys, "argv", ["descentlab", "--version"])
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("descentlab", run_name="__main__")
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"descentlab {descentlab.__version__}\n"
    monkeypatch.setattr(sys, "argv", ["descentlab", "compare", "--lr", "0"])
    with pytest.raises(SystemExit) as caught:
        runpy.run_module("descentlab", run_name="__main__")
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("descentlab: error: The 'learning_rate' parameter")


def test_importing_the_entry_module_runs_nothing(capsys):
    import importlib

    from descentlab.cli import main

    entry = importlib.import_module("descentlab.__main__")
    assert entry.main is main
    assert capsys.readouterr() == ("", "")
