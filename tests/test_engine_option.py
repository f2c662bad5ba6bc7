"""The engine switch reaches every caller that trains, and descentlab's imports stay lean.

``engine="auto" | "numpy" | "compiled"`` (:data:`descentlab.training.ENGINES`) is a setting of
every command that trains (``--engine``), of the experiment configuration (TOML), of the
estimator (a scikit-learn parameter), and ``auto`` is what the notebook API and the playground
use. The engine call is spied on (wrapping the real :func:`~descentlab.training.train`) to see
what each caller asks for; the run folders record which engine ran. The last tests check in a
fresh interpreter that importing descentlab, or asking for help, imports no plotting library.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import inspect
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import descentlab.estimator as estimator_module
import descentlab.notebook as notebook
from descentlab import compiled
from descentlab._validation import InvalidParameterError
from descentlab.cli import main
from descentlab.estimator import DescentClassifier
from descentlab.experiments import population as population_module
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.population import Run, engine_message
from descentlab.experiments.results import (
    read_results,
    result_columns,
    result_row,
    results_csv_text,
)
from descentlab.experiments.run_folder import read_results_json
from descentlab.training import ENGINES, train

NOTE = "a test says so"
"""The ``engine_note`` of a spied call that pretends ``auto`` fell back to numpy."""

QUICK = {
    "compare": ["compare", "--epochs", "2", "--out", "run"],
    "train": ["train", "--epochs", "2", "--out", "model.npz"],
    "sweep": ["sweep", "--epochs", "2", "--seeds", "1", "--optimizers", "gd", "--lr", "0.1,0.2",
              "--chunk-size", "1",
              "--out", "sweep", "--no-plots"],
    "benchmark": ["benchmark", "--epochs", "2", "--tune-seeds", "1", "--eval-seeds", "7..7",
                  "--lr", "0.1", "--out", "bench"],
}  # fmt: skip
"""Tiny workloads of every command that trains (run in a temporary folder)."""


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every engine call behind :class:`Population` records the ``engine`` it was given."""
    engines: list[str] = []

    def train_spy(*args, **kwargs):
        engines.append(kwargs["engine"])
        return train(*args, **kwargs)

    monkeypatch.setattr(population_module, "train", train_spy)
    return engines


@pytest.fixture
def fell_back(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every engine call trains with numpy and says ``auto`` fell back (:data:`NOTE`)."""
    engines: list[str] = []

    def train_spy(*args, **kwargs):
        engines.append(kwargs["engine"])
        result = train(*args, **{**kwargs, "engine": "numpy"})
        return dataclasses.replace(result, engine="numpy", engine_note=NOTE)

    monkeypatch.setattr(population_module, "train", train_spy)
    # sweeps and benchmarks decide ``auto`` once, before their chunks train
    monkeypatch.setattr(
        compiled,
        "resolve",
        lambda engine, **_: ("numpy", NOTE) if engine == "auto" else (engine, ""),
    )
    return engines


def run_cli(root: Path, argv: list[str]) -> tuple[int, str, str]:
    """``descentlab argv`` in the folder ``root``: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(root),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- the commands


@pytest.mark.parametrize("command", list(QUICK))
@pytest.mark.parametrize("given", [None, "numpy", "auto"])
def test_engine_option_reaches_train(command, given, spy, tmp_path) -> None:
    argv = [*QUICK[command], "-q", *([] if given is None else ["--engine", given])]
    status, _, err = run_cli(tmp_path, argv)
    assert (status, err) == (0, "")
    expected = given or "auto"
    if command in ("sweep", "benchmark") and expected == "auto":
        expected = "numpy"  # decided once for every chunk (compiled.resolve): a short run
    assert spy and set(spy) == {expected}


def test_compare_records_the_engine_asked_for_and_the_engine_that_ran(spy, tmp_path) -> None:
    assert run_cli(tmp_path, [*QUICK["compare"], "-q", "--engine", "numpy"])[0] == 0
    results = read_results_json(tmp_path / "run" / "results.json")
    assert results["config"]["engine"] == "numpy"
    assert [r["engine"] for r in results["runs"]] == ["numpy"] * 3
    assert "engine_note" not in results
    assert ExperimentConfig.from_toml(tmp_path / "run" / "config.toml").engine == "numpy"
    # a rerun of the saved configuration asks for its engine, unless told otherwise
    spy.clear()
    config = str(tmp_path / "run" / "config.toml")
    assert run_cli(tmp_path, ["compare", "--config", config, "--out", "again", "-q"])[0] == 0
    argv = ["compare", "--config", config, "--engine", "auto", "--out", "auto", "-q"]
    assert run_cli(tmp_path, argv)[0] == 0
    assert spy == ["numpy", "auto"]


def test_sweep_and_benchmark_record_the_engine_of_every_run(spy, tmp_path) -> None:
    assert run_cli(tmp_path, [*QUICK["sweep"], "-q", "--engine", "numpy"])[0] == 0
    rows = read_results(tmp_path / "sweep" / "results.csv")
    assert len(rows) == 2 and {r["engine"] for r in rows} == {"numpy"}
    assert run_cli(tmp_path, [*QUICK["benchmark"], "-q", "--engine", "numpy"])[0] == 0
    for name in ("tuning.csv", "evaluation.csv"):
        assert {r["engine"] for r in read_results(tmp_path / "bench" / name)} == {"numpy"}
    document = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert (document["engine"], document["engines"], document["engine_notes"]) == (
        "numpy",
        ["numpy"],
        [],
    )


@pytest.mark.parametrize("command", list(QUICK))
def test_why_auto_fell_back_is_said_once_and_not_in_quiet_mode(command, fell_back, tmp_path):
    status, _, err = run_cli(tmp_path, QUICK[command])
    assert status == 0 and err.count(engine_message(NOTE)) == 1, err
    calls = {"compare": 1, "train": 1, "sweep": 2, "benchmark": 2}[command]
    decided = "numpy" if command in ("sweep", "benchmark") else "auto"  # compiled.resolve
    assert fell_back == [decided] * calls  # said once, however many populations fell back
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    assert run_cli(quiet, [*QUICK[command], "-q"])[::2] == (0, "")


def test_the_fallback_note_is_kept_in_the_run_folder(fell_back, tmp_path) -> None:
    assert run_cli(tmp_path, [*QUICK["compare"], "-q"])[0] == 0
    results = read_results_json(tmp_path / "run" / "results.json")
    assert results["engine_note"] == NOTE and results["config"]["engine"] == "auto"
    assert run_cli(tmp_path, [*QUICK["benchmark"], "-q"])[0] == 0
    document = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert (document["engine"], document["engine_notes"]) == ("auto", [NOTE])


@pytest.mark.parametrize("command", list(QUICK))
@pytest.mark.parametrize("value", ["fast", "", "NUMPY", "numba", "auto "])
def test_a_bad_engine_is_one_line_and_exit_status_2(command, value, spy, tmp_path) -> None:
    status, out, err = run_cli(tmp_path, [*QUICK[command], "--engine", value])
    assert (status, out, spy) == (2, "", [])
    assert err.count("\n") == 1 and err.startswith("descentlab: error: argument --engine:")
    assert "choose from 'auto', 'numpy', 'compiled'" in err
    assert list(tmp_path.iterdir()) == []


def test_every_command_that_trains_documents_the_engine(capsys) -> None:
    for command in QUICK:
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "--engine {auto,numpy,compiled}" in text
        assert (
            "auto: compiled when it covers the configuration and pays, else numpy (says why "
            "where compiled could have paid)" in text
        )
    for command in ("predict", "report", "datasets", "trajectories", "playground"):
        assert main([command, "--help"]) == 0
        assert "--engine" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- configuration


def test_config_engine_setting() -> None:
    assert ExperimentConfig().engine == "auto"
    assert ExperimentConfig.from_toml('engine = "numpy"\n').engine == "numpy"
    assert ExperimentConfig.from_toml("epochs = 5\n").engine == "auto"  # older files
    config = ExperimentConfig(engine="compiled")
    assert ExperimentConfig.from_toml(config.to_toml()) == config
    for text, shown in (("3", "3"), ('"fast"', "'fast'"), ("true", "True"), ("[1]", "[1]")):
        with pytest.raises(InvalidParameterError) as info:
            ExperimentConfig.from_toml(f"engine = {text}\n")
        assert str(info.value) == (
            "The 'engine' parameter of the experiment configuration must be one of 'auto', "
            f"'numpy', 'compiled'. Got {shown} instead."
        )


def test_a_config_file_with_a_bad_engine_is_refused_by_the_cli(spy, tmp_path) -> None:
    (tmp_path / "c.toml").write_text("engine = 3\n")
    status, out, err = run_cli(tmp_path, ["compare", "--config", "c.toml", "--out", "run"])
    assert (status, out, spy) == (2, "", [])
    assert err == (
        "descentlab: error: The 'engine' parameter of the experiment configuration must be one "
        "of 'auto', 'numpy', 'compiled'. Got 3 instead.\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_library_entry_points_refuse_a_bad_engine_before_writing(tmp_path) -> None:
    from descentlab.experiments.benchmark import BenchmarkSpec, run_benchmark
    from descentlab.experiments.sweep import run_sweep
    from descentlab.experiments.sweep_space import SweepSpec

    with pytest.raises(InvalidParameterError, match="'engine' parameter of run_sweep"):
        run_sweep(SweepSpec(epochs=2), tmp_path / "s", engine="fast")
    with pytest.raises(InvalidParameterError, match="'engine' parameter of run_benchmark"):
        run_benchmark(BenchmarkSpec(epochs=2), tmp_path / "b", engine=None)
    assert list(tmp_path.iterdir()) == []


def test_older_run_folders_without_the_engine_are_read(tmp_path) -> None:
    assert run_cli(tmp_path, [*QUICK["compare"], "-q", "--engine", "numpy"])[0] == 0
    path = tmp_path / "run" / "results.json"
    results = json.loads(path.read_text())
    for run in results["runs"]:
        del run["engine"]
    path.write_text(json.dumps(results))
    assert "engine" not in read_results_json(path)["runs"][0]
    results["runs"][0]["engine"] = 5
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"runs\[0\]\.engine must be text or null; found 5"):
        read_results_json(path)


def test_results_csv_without_the_engine_column_is_read(tmp_path) -> None:
    runs = [Run("gd", {"learning_rate": 0.1}, epochs=2, seed=s) for s in (0, 1)]
    columns = result_columns(runs)
    assert columns[-1] == "engine"
    measured = {
        "train_accuracy": 0.5,
        "val_accuracy": 0.5,
        "test_accuracy": 0.5,
        "final_cost": 0.7,
        "val_cost": 0.7,
        "test_cost": 0.7,
        "diverged": False,
        "stopped_epoch": -1,
        "seconds": 0.1,
    }
    rows = [result_row(r, measured, columns) for r in runs]
    old = tmp_path / "old.csv"
    old.write_text(results_csv_text(columns[:-1], [{c: r[c] for c in columns[:-1]} for r in rows]))
    with old.open() as f:
        assert next(csv.reader(f))[-1] == "seconds"
    for expected in (runs, None):
        back = read_results(old, expected)
        assert [r["run_id"] for r in back] == [r.run_id() for r in runs]
        assert "engine" not in back[0]


# ----------------------------------------------------------------------------- library callers


def test_estimator_engine_is_a_scikit_learn_parameter(monkeypatch) -> None:
    clf = DescentClassifier()
    assert clf.get_params()["engine"] == "auto"
    assert clf.set_params(engine="numpy").get_params()["engine"] == "numpy"
    assert clone(clf).engine == "numpy"
    assert "engine" in inspect.signature(DescentClassifier).parameters
    engines = []

    def train_spy(*args, **kwargs):
        engines.append(kwargs["engine"])
        return train(*args, **kwargs)

    monkeypatch.setattr(estimator_module, "train", train_spy)
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    clf.set_params(epochs=2, tol=None, random_state=0).fit(X, y)
    assert (engines, clf.engine_, clf.engine_note_) == (["numpy"], "numpy", "")
    clf.set_params(engine="auto").partial_fit(X, y)
    assert engines == ["numpy", "auto"] and clf.engine_ in ("numpy", "compiled")
    for bad in ("fast", 1, None):
        with pytest.raises(InvalidParameterError) as info:
            DescentClassifier(engine=bad).fit(X, y)
        assert str(info.value) == (
            "The 'engine' parameter of DescentClassifier must be one of 'auto', 'numpy', "
            f"'compiled'. Got {bad!r} instead."
        )
    assert len(engines) == 2  # refused before training


def test_notebook_model_keeps_the_seed_signature_and_trains_with_auto(monkeypatch) -> None:
    assert list(inspect.signature(notebook.model).parameters) == [
        "X",
        "Y",
        "layers_dims",
        "optimizer",
        "learning_rate",
        "mini_batch_size",
        "beta",
        "beta1",
        "beta2",
        "epsilon",
        "num_epochs",
        "print_cost",
    ]
    engines = []

    def train_spy(*args, **kwargs):
        engines.append(kwargs["engine"])
        return train(*args, **kwargs)

    monkeypatch.setattr(notebook, "train", train_spy)
    X = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    notebook.model(X, np.array([[0, 1, 0, 1]]), [2, 3, 1], "adam", num_epochs=2, print_cost=False)
    assert engines == ["auto"]


def test_the_playground_trains_with_auto(spy) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        from descentlab.playground import create_app

    app = create_app()
    body = {"optimizers": [{"name": "gd", "learning_rate": 0.05}], "epochs": 3}
    with TestClient(app) as client:
        response = client.post("/api/runs", json=body)
        assert response.status_code == 201, response.text
        with client.stream("GET", response.json()["events"]) as events:
            assert "event: done" in list(events.iter_lines())
    assert spy == ["auto"]


def test_every_engine_name_is_offered() -> None:
    assert ENGINES == ("auto", "numpy", "compiled")


# ----------------------------------------------------------------------------- lean imports


def _fresh(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy libraries it left imported."""
    probe = (
        f"{code}\nimport sys\n"
        "print(','.join(m for m in ('matplotlib', 'sklearn', 'pandas', 'fastapi', 'scipy.stats',"
        " 'numba') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return [m for m in (done.stdout.strip().splitlines() or [""])[-1].split(",") if m]


def test_importing_descentlab_imports_no_plotting_nor_scikit_learn() -> None:
    assert _fresh("import descentlab, descentlab.cli, descentlab.training") == []


def test_help_imports_no_plotting_nor_scikit_learn() -> None:
    code = (
        "import contextlib, io\nfrom descentlab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0 and main(['compare', '--help']) == 0"
    )
    assert _fresh(code) == []


def test_training_without_plots_imports_no_plotting(tmp_path) -> None:
    """``descentlab train`` on the seed's moons draws nothing: no matplotlib (nor scikit-learn,
    whose ``make_moons`` the seed's data no longer needs)."""
    code = (
        "import contextlib, io, os\nfrom descentlab.cli import main\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['train', '--epochs', '2', '--out', 'm.npz', '-q', '--engine', 'numpy'])"
        " == 0"
    )
    assert _fresh(code) == []


@pytest.mark.parametrize("seed", [0, 3, 12345])
@pytest.mark.parametrize(("n_samples", "noise"), [(300, 0.2), (7, 0.0), (2, 1.5), (1001, 0.2)])
def test_the_seed_moons_are_scikit_learns_number_for_number(seed, n_samples, noise) -> None:
    from sklearn.datasets import make_moons

    from descentlab.datasets.synthetic import _seed_moons, load_moons

    expected = make_moons(n_samples, noise=noise, random_state=np.random.RandomState(seed))
    got = _seed_moons(np.random.RandomState(seed), n_samples, noise)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    # the seed's way: NumPy's global state, seeded with 3 and left after the draws
    np.random.seed(3)
    X, y = make_moons(n_samples=300, noise=0.2)
    after = np.random.rand()
    moons = load_moons(use_global_state=True)
    assert np.array_equal(moons.X, X.T) and np.array_equal(moons.y, y)
    assert np.random.rand() == after
    assert np.array_equal(load_moons().X, X.T)
