"""Edges of issue 11's code outside the checkpoint and protocol modules: the benchmark
command's log and Ctrl-C, MNIST-1D without its package or with a package that builds other
arrays, hostile regression targets, a prediction that overflows, a selection metric over
cells that do not parse."""

from __future__ import annotations

import signal
from importlib import metadata

import numpy as np
import pytest

from descentlab._validation import DataError
from descentlab.cli import main as cli_main
from descentlab.datasets import Dataset
from descentlab.datasets import mnist1d as mnist1d_module
from descentlab.experiments.population import Population
from descentlab.experiments.results import selection_metric
from descentlab.model_file import save_model
from descentlab.nn import MLP
from test_regression_cli import META, _history

TINY = ["benchmark", "--problems", "seed-moons", "--optimizers", "sgd,adam", "--budget", "2",
        "--seeds", "2", "--epochs", "2", "--engine", "numpy"]  # fmt: skip


# ----------------------------------------------------------------------------- benchmark command


def test_the_benchmark_command_logs_to_stderr_and_exits_130_on_ctrl_c(
    capsys, tmp_path, monkeypatch
):
    """Without -q the plan and the end go to stderr; Ctrl-C during the second population
    ends the command with 130, the first population's rows kept."""
    real = Population.train
    calls = []

    def pressed_in_the_second(self, **kwargs):
        calls.append(1)
        inner = kwargs["on_epoch"]

        def on_epoch(epoch, logs):
            inner(epoch, logs)
            if len(calls) == 2 and epoch == 0:
                signal.raise_signal(signal.SIGINT)

        return real(self, **{**kwargs, "on_epoch": on_epoch})

    monkeypatch.setattr(Population, "train", pressed_in_the_second)
    out = tmp_path / "run"
    rc = cli_main([*TINY, "--chunk-size", "1", "--out", str(out)])
    printed, err = capsys.readouterr()
    assert rc == 130 and printed == ""
    lines = err.splitlines()
    assert lines[0] == (
        "descentlab benchmark: 1 problems × 2 optimizers: 2 trials each, then 2 rerun seeds "
        f"(8 runs); writing {out}"
    )
    assert lines[-1].startswith(f"descentlab benchmark: interrupted; 1 of 8 runs saved in {out}")
    assert len((out / "results.csv").read_text().splitlines()) == 2  # the header and one row


# ----------------------------------------------------------------------------- MNIST-1D


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty cache folder: MNIST-1D is neither in it nor in this process's copy."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_mnist1d_without_its_package_is_one_line(empty_cache, monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    monkeypatch.setitem(__import__("sys").modules, "mnist1d.data", None)
    assert mnist1d_module.mnist1d_cache_path() == empty_cache / "descentlab" / "mnist1d-missing.npz"
    with pytest.raises(DataError) as info:
        mnist1d_module.load_mnist1d()
    assert str(info.value).startswith(
        "MNIST-1D is built by the 'mnist1d' package, which is not installed: pip install mnist1d ("
    )
    assert "\n" not in str(info.value)
    assert list(empty_cache.rglob("*.npz")) == []


def test_mnist1d_arrays_of_other_shapes_are_refused_and_not_cached(empty_cache, monkeypatch):
    import mnist1d.data

    def smaller(*args, **kwargs):
        return {"x": np.zeros((3, 40)), "y": np.zeros(3, int),
                "x_test": np.zeros((2, 40)), "y_test": np.zeros(2, int)}  # fmt: skip

    monkeypatch.setattr(mnist1d.data, "make_dataset", smaller)
    with pytest.raises(DataError) as info:
        mnist1d_module.load_mnist1d()
    version = metadata.version("mnist1d")
    assert str(info.value) == (
        f"The mnist1d package ({version}) built arrays of shapes {{'x': (3, 40), 'y': (3,), "
        "'x_test': (2, 40), 'y_test': (2,)}; descentlab expects {'x': (4000, 40), 'y': (4000,), "
        "'x_test': (1000, 40), 'y_test': (1000,)} with finite features and labels 0-9."
    )
    assert list(empty_cache.rglob("*.npz")) == []


# ----------------------------------------------------------------------------- regression


def test_hostile_regression_targets_are_one_line():
    X = np.zeros((1, 2))
    with pytest.raises(DataError) as info:
        Dataset("d", X, [[1.0, 2.0], [3.0]], task="regression")
    assert str(info.value).startswith("y must be an array of numbers: ")
    assert "inhomogeneous" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError) as info:
        Dataset("d", np.zeros((1, 0)), np.zeros(0), task="regression")
    assert str(info.value) == "A dataset needs at least one example; got X of shape (1, 0)."


def test_an_mse_network_refuses_ragged_labels_in_one_line():
    net = MLP((1, 1), loss="mse")
    with pytest.raises(DataError) as info:
        net.accuracy(net.init(0), np.zeros((1, 2)), [[1.0, 2.0], [3.0]])
    assert str(info.value).startswith("y must ")
    assert "\n" not in str(info.value)


def test_predict_refuses_a_row_the_model_overflows_on(capsys, tmp_path):
    net = MLP((2, 1), loss="mse")
    params = {"W1": np.array([[2.0, 2.0]]), "b1": np.zeros((1, 1))}
    path = save_model(tmp_path / "m.npz", net=net, params=params, history=_history(), meta=META)
    points = tmp_path / "p.csv"
    points.write_text("a,b\n1,2\n1e308,1e308\n")
    out = tmp_path / "o.csv"
    rc = cli_main(["predict", str(path), str(points), "--out", str(out)])
    printed, err = capsys.readouterr()
    assert rc == 2 and printed == "" and not out.exists()
    assert err.strip().endswith(
        f"The model gives no finite prediction for row 2 of '{points}': its values are too "
        "large for this model's weights."
    )
    assert len(err.strip().splitlines()) == 1


def test_the_selection_metric_skips_cells_that_do_not_parse():
    rows = [{"val_accuracy": "high"}, {"val_accuracy": None}, {"val_accuracy": "0.5"}]
    assert selection_metric(rows) == ("val_accuracy", True)
    assert selection_metric(rows[:2]) == ("val_cost", False)
