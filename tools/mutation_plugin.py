"""pytest plugin for the mutation runs (``-p tools.mutation_plugin`` in ``[tool.mutmut]``): the
mutants of a module are tested only by that module's own tests.

mutmut already runs, for each mutant, only the tests that call the mutated function. In this
package that is not enough: a function of ``optimizers`` or ``nn`` is called by almost every
test — the command-line runs, the scikit-learn estimator checks, the sweeps — so a mutant that
survives would run hundreds of slow end-to-end tests (a full run was measured at about 20 hours
of CPU on 2 cores). Here each module's mutants run only the tests that call the function *and*
belong to the module: its test file ``tests/test_<name>.py``, its doctests, the files listed
in :data:`OWN_TESTS` and the shared API test files (:data:`SHARED_TESTS`). A mutant that none of those tests calls is reported as "no tests".

Outside a mutant's run (mutmut's first, instrumented run that records which tests call which
function; its clean run; its check that a failing mutant is seen) the plugin keeps the tests
of every module, and drops the others, which could never be used.

:data:`OWN_TESTS` is keyed by the module's name below ``descentlab`` (as in
``tools/mutation.py --list``); a module not in it gets only its own test file and doctests.
"""

from __future__ import annotations

import gc
import os
from pathlib import PurePosixPath

import pytest

PACKAGE = "descentlab"

# Test files (node-id prefixes, relative to the repository root) that test a module besides
# tests/test_<name>.py. Keep these to tests written *for* the module: an end-to-end test that
# only passes through it makes every surviving mutant slow to confirm.
OPTIMIZER_TESTS = (
    "tests/test_optimizers.py",
    "tests/test_torch_equivalence.py",
    "src/descentlab/optimizers/",  # the doctests of every optimizer run through all three modules
)
OWN_TESTS: dict[str, tuple[str, ...]] = {
    "optimizers.base": OPTIMIZER_TESTS,
    "optimizers.transforms": OPTIMIZER_TESTS,
    "optimizers.aliases": OPTIMIZER_TESTS,
    "schedules": ("tests/test_torch_equivalence.py",),
    "nn": ("tests/test_training.py", "tests/test_torch_equivalence.py"),
    "experiments.results": ("tests/test_sweep.py", "tests/test_benchmark.py"),
    "datasets.csv_file": ("tests/test_dataset_files.py", "tests/test_datasets.py"),
    "datasets.npz_file": (
        "tests/test_dataset_files.py",
        "tests/test_datasets.py",
        "tests/test_npz.py",
    ),
    "npz": ("tests/test_model_file.py", "tests/test_dataset_files.py"),
}

# Tests of the public API as a whole (hostile arguments to every public function): cheap, and
# the only tests of some refusals, so they may kill the mutants of any module.
SHARED_TESTS: tuple[str, ...] = ("tests/test_hostile_api.py",)


def tests_of(module: str) -> tuple[str, ...]:
    """Node-id prefixes of the tests that may kill the mutants of ``module`` (e.g. ``nn``):
    ``tests/test_<name>.py``, the module's doctests, :data:`OWN_TESTS` and :data:`SHARED_TESTS`."""
    path = PurePosixPath("src", PACKAGE, *module.split("."))
    return (
        f"tests/test_{path.name}.py",
        f"{path}.py",
        *OWN_TESTS.get(module, ()),
        *SHARED_TESTS,
    )


def module_under_test(mutant: str, modules: list[str]) -> str | None:
    """The module (e.g. ``nn``) of mutmut's mutant name, e.g. ``descentlab.nn.xǁMLPǁinit__mutmut_3``;
    None outside a mutant's run (``stats``, ``fail``, ``""``, ...)."""
    if "__mutmut_" not in mutant:
        return None
    dotted = mutant.partition("__mutmut_")[0].rpartition(".")[0].removeprefix(f"{PACKAGE}.")
    return dotted if dotted in modules else None


def configured_modules(config: pytest.Config) -> list[str]:
    """The mutated modules, from ``only_mutate`` in ``[tool.mutmut]`` of pyproject.toml."""
    import tomllib

    with open(config.rootpath / "pyproject.toml", "rb") as file:
        patterns = tomllib.load(file)["tool"]["mutmut"]["only_mutate"]
    return [".".join(PurePosixPath(p).with_suffix("").parts[2:]) for p in patterns]


def pytest_configure(config: pytest.Config) -> None:
    """In a mutant's process, leave the objects inherited from mutmut's fork server (every test
    module, NumPy, torch, scikit-learn) out of garbage collection: otherwise each collection
    walks them all, a large share of a short run."""
    if module_under_test(os.environ.get("MUTANT_UNDER_TEST", ""), configured_modules(config)):
        gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests of the module under test (of every module outside a mutant's run), and each
    doctest once."""
    modules = configured_modules(config)
    module = module_under_test(os.environ.get("MUTANT_UNDER_TEST", ""), modules)
    chosen = [module] if module else modules
    prefixes = tuple(prefix for m in chosen for prefix in tests_of(m))
    kept, dropped = [], []
    for item in items:
        # A doctest is collected once per copy mutmut makes of its function: keep the original.
        own = item.nodeid.startswith(prefixes) and "__mutmut_" not in item.nodeid
        (kept if own else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
