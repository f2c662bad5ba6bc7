"""The mutation gate's bookkeeping (tools/mutation.py, tools/mutation_plugin.py) without running
mutmut: module names, the score, the equivalents file, the summary and the test selection."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


mutation = _load("mutation")
plugin = _load("mutation_plugin")


def test_every_configured_module_is_a_source_file():
    modules = mutation.configured_modules()
    assert {"nn", "training", "optimizers.transforms", "experiments.sweep", "estimator"} <= set(
        modules
    )
    assert all((ROOT / path).is_file() for path in modules.values())


def test_module_names_select_modules_and_packages():
    known = mutation.configured_modules()
    assert mutation.select_modules([], known) == list(known)
    assert mutation.select_modules(["descentlab.nn", "nn.py"], known) == ["nn"]
    assert mutation.select_modules(["optimizers"], known) == [
        "optimizers.base",
        "optimizers.transforms",
        "optimizers.aliases",
    ]
    with pytest.raises(mutation.UsageError, match="Unknown module 'nnn'"):
        mutation.select_modules(["nnn"], known)


def test_mutant_names_give_the_function():
    assert mutation.function_of("descentlab.nn.xǁMLPǁforward__mutmut_3") == "MLP.forward"
    assert mutation.function_of("descentlab.training.x_train__mutmut_12") == "train"
    assert mutation.function_of("descentlab.schedules.x__as_steps__mutmut_5") == "_as_steps"


def test_score_counts_timeouts_as_detected_and_leaves_equivalents_out():
    mutants = [
        mutation.Mutant(f"m{i}", "nn", "f", status)
        for i, status in enumerate(["killed"] * 6 + ["timeout", "survived", "survived", "no tests"])
    ]
    counts = mutation.count(mutants, equivalent={"m7"})
    assert counts == {
        "mutants": 10,
        "killed": 6,
        "survived": 1,
        "no_tests": 1,
        "timeout": 1,
        "other": 0,
        "equivalent": 1,
    }
    assert mutation.score(counts) == "77.8"  # (6 + 1) / (10 - 1)
    assert mutation.score(dict.fromkeys(mutation.COUNTS, 0)) == ""


def test_the_committed_equivalents_file_is_well_formed_and_names_configured_modules():
    entries = mutation.load_equivalents()
    modules = {f"descentlab.{m}" for m in mutation.configured_modules()}
    assert entries, "the equivalents file lists the mutants no test can kill"
    for entry in entries:
        assert entry["module"] in modules, entry
        assert entry["before"] != entry["after"], entry
    keys = [(e["module"], e["function"], e["before"], e["after"]) for e in entries]
    assert len(keys) == len(set(keys)), "an equivalent mutant is listed twice"


def test_a_malformed_equivalents_entry_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "equivalent_mutants.toml"
    bad.write_text('[[equivalent]]\nmodule = "descentlab.nn"\nfunction = "f"\n')
    monkeypatch.setattr(mutation, "EQUIVALENTS", bad)
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    with pytest.raises(mutation.UsageError, match="entry 1 must have exactly"):
        mutation.load_equivalents()
    bad.write_text("[[equivalent]\n")
    with pytest.raises(mutation.UsageError, match="not valid TOML"):
        mutation.load_equivalents()


def test_the_committed_summary_has_a_row_per_module_and_a_total_that_adds_up():
    with mutation.SUMMARY.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["module"] for row in rows] == [*mutation.configured_modules(), "TOTAL"]
    total = rows[-1]
    for column in mutation.COUNTS:
        assert int(total[column]) == sum(int(row[column]) for row in rows[:-1]), column
    counts = {column: int(total[column]) for column in mutation.COUNTS}
    assert total["score"] == mutation.score(counts)


def test_the_plugin_selects_each_module_s_own_tests():
    assert plugin.module_under_test("descentlab.nn.xǁMLPǁinit__mutmut_3", ["nn"]) == "nn"
    assert plugin.module_under_test("stats", ["nn"]) is None
    assert plugin.module_under_test("descentlab.io.x_f__mutmut_1", ["nn"]) is None
    tests = plugin.tests_of("optimizers.transforms")
    assert tests[:2] == ("tests/test_transforms.py", "src/descentlab/optimizers/transforms.py")
    assert "tests/test_optimizers.py" in tests
    assert "tests/test_hostile_api.py" in tests
    # every test file the plugin names exists (a renamed file would silently select nothing)
    for module in mutation.configured_modules():
        named = [t for t in plugin.OWN_TESTS.get(module, ()) if t.endswith(".py")]
        assert all((ROOT / t).is_file() for t in named), module


def test_the_readme_shows_the_committed_score():
    import re

    with mutation.SUMMARY.open(newline="", encoding="utf-8") as file:
        total = list(csv.DictReader(file))[-1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"\*\*([\d.]+) %\*\* of (\d+) mutants that are not equivalent", readme)
    assert shown, "README's development section shows the mutation score"
    judged = int(total["mutants"]) - int(total["equivalent"])
    assert shown.groups() == (total["score"], str(judged))
    assert f"({total['equivalent']} equivalent mutants" in readme
