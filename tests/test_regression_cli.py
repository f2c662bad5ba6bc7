"""Regression data end to end: results files with undefined accuracies, the model file's loss
and task, predict's target values, the exported targets, sweeps and reports that choose and
show by the validation cost, early stopping, and the playground's refusal."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli import main
from descentlab.cli.predict import read_features
from descentlab.datasets import Dataset, load_dataset
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.results import (
    best_configurations,
    read_results,
    results_csv_text,
    selection_metric,
    summarize,
)
from descentlab.experiments.run_folder import (
    HISTORY_COLUMNS,
    read_history_csv,
    read_models,
    read_results_json,
    results_to_json,
    write_history_csv,
)
from descentlab.experiments.specs import DatasetSpec
from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_plots import plot_lr_sensitivity, sensitivity_curves
from descentlab.experiments.sweep_space import SweepSpec, parse_axis
from descentlab.model_file import load_model, save_model, target_columns
from descentlab.nn import MLP
from descentlab.optimizers import gd
from descentlab.plots import confusion_matrix, plot_decision_boundaries
from descentlab.report import describe_results, render_report, table_rows
from descentlab.training import EarlyStopping, History, train

QUAD = "noisy_quadratic:n_samples=200"


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _history(n: int = 3, evals=(0, 2), val_cost=(2.5, 1.25)) -> History:
    return History(
        cost=np.linspace(3.0, 1.0, n),
        last_batch_cost=np.linspace(3.5, 0.5, n),
        learning_rate=np.full(n, 0.01),
        eval_epochs=np.array(evals),
        train_accuracy=np.full(len(evals), np.nan),
        val_accuracy=np.full(len(evals), np.nan),
        val_cost=np.array(val_cost),
    )


# ----------------------------------------------------------------------------- results files


def test_results_json_writes_undefined_numbers_as_null_and_reads_them_back(tmp_path):
    run = {
        "optimizer": "gd", "label": "gd", "hyperparameters": {"learning_rate": 0.1},
        "status": "completed", "message": "", "epochs_run": 3,
        "train_accuracy": float("nan"), "test_accuracy": np.float64("nan"),
        "final_cost": 1.5, "seconds": 0.25, "costs": np.array([np.inf, 2.0]),
    }  # fmt: skip
    dataset = {"name": "q", "n_features": 2, "n_classes": 0, "classes": [],
               "feature_names": ["a", "b"], "n_train": 5, "n_test": 5}  # fmt: skip
    doc = {"name": "q", "partial": False, "layer_dims": [2, 1], "dataset": dataset, "runs": [run]}
    text = results_to_json(doc)
    assert "NaN" not in text and "Infinity" not in text
    path = tmp_path / "results.json"
    path.write_text(text)
    back = read_results_json(path)["runs"][0]
    assert (back["train_accuracy"], back["test_accuracy"], back["costs"]) == (
        None,
        None,
        [None, 2.0],
    )
    assert (back["final_cost"], back["seconds"]) == (1.5, 0.25)


def test_history_csv_keeps_the_test_cost_and_reads_files_without_it(tmp_path):
    path = tmp_path / "history.csv"
    write_history_csv(path, [("gd", _history())])
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(HISTORY_COLUMNS) and HISTORY_COLUMNS[-1] == "test_cost"
    assert rows[1][5:] == ["nan", "nan", "2.5"]  # evaluated: accuracy undefined, cost measured
    assert rows[2][5:] == ["", "", ""]  # not evaluated
    assert rows[3][5:] == ["nan", "nan", "1.25"]
    gd_cols = read_history_csv(path)["gd"]
    np.testing.assert_array_equal(gd_cols["test_cost"], [2.5, np.nan, 1.25])
    np.testing.assert_array_equal(gd_cols["cost"], [3.0, 2.0, 1.0])
    old = tmp_path / "old.csv"  # written before test_cost existed
    old.write_text(",".join(HISTORY_COLUMNS[:-1]) + "\nadam,0,0.5,0.4,0.01,0.75,0.5\n")
    adam = read_history_csv(old)["adam"]
    assert (adam["test_accuracy"][0], math.isnan(adam["test_cost"][0])) == (0.5, True)
    old.write_text(",".join(HISTORY_COLUMNS[:-1]) + "\nadam,0,0.5,0.4,0.01,0.75,0.5,1.0\n")
    with pytest.raises(DataError, match="has 8 fields; a history row has 7"):
        read_history_csv(old)


def _row(config: str, lr: str, seed: int, val_cost: str, final_cost: str = "1.0") -> dict:
    return {
        "run_id": f"{config}-s{seed}", "config_id": config, "optimizer": "gd",
        "learning_rate": lr, "seed": str(seed), "train_accuracy": "nan", "val_accuracy": "nan",
        "test_accuracy": "nan", "final_cost": final_cost, "val_cost": val_cost,
        "test_cost": val_cost, "diverged": "false", "stopped_epoch": "-1", "seconds": "0.5",
        "engine": "numpy",
    }  # fmt: skip


def test_results_csv_rows_without_accuracy_are_kept_when_read_back(tmp_path):
    rows = [_row("aaaaaaaaaaaa", "0.1", 0, "2.0"), _row("bbbbbbbbbbbb", "0.01", 0, "1.0")]
    path = tmp_path / "results.csv"
    path.write_text(results_csv_text(list(rows[0]), rows))
    damaged = []
    assert read_results(path, on_damaged=lambda n, why: damaged.append(why)) == rows
    assert damaged == []


def test_regression_summaries_choose_the_lowest_validation_cost():
    rows = [
        _row("aaaaaaaaaaaa", "0.1", 0, "3.0"),
        _row("aaaaaaaaaaaa", "0.1", 1, "5.0"),
        _row("bbbbbbbbbbbb", "0.1", 0, "1.0"),
        _row("bbbbbbbbbbbb", "0.1", 1, "2.0"),
        _row("cccccccccccc", "0.01", 0, "nan"),
        _row("cccccccccccc", "0.01", 1, "nan"),
    ]
    assert selection_metric(rows) == ("val_cost", False)
    assert selection_metric([{**rows[0], "val_accuracy": "0.5"}]) == ("val_accuracy", True)
    summary = summarize(rows)
    assert [e["val_cost_median"] for e in summary] == ["4.0", "1.5", "nan"]
    assert [e["val_cost_q25"] for e in summary] == ["3.5", "1.25", "nan"]
    assert [e["val_accuracy_median"] for e in summary] == ["nan"] * 3
    assert best_configurations(summary)["gd"]["config_id"] == "bbbbbbbbbbbb"
    curves = sensitivity_curves(rows, "val_cost")  # at lr 0.1: the better of two configurations
    np.testing.assert_array_equal(curves["gd"]["lr"], [0.01, 0.1])
    np.testing.assert_array_equal(curves["gd"]["median"], [np.nan, 1.5])


def test_the_sensitivity_plot_of_regression_draws_costs_and_survives_empty_panels():
    rows = [_row("aaaaaaaaaaaa", "0.1", 0, "3.0"), _row("bbbbbbbbbbbb", "0.01", 0, "1.0")]
    fig = plot_lr_sensitivity(rows)
    left, right = fig.axes
    assert left.get_ylabel() == "validation cost (log scale)" and left.get_yscale() == "log"
    np.testing.assert_array_equal(left.lines[0].get_ydata(), [1.0, 3.0])
    diverged = [{**r, "final_cost": "nan"} for r in rows]  # nothing finite on the right
    right = plot_lr_sensitivity(diverged).axes[1]
    assert [t.get_text() for t in right.texts] == ["no finite value to show"]
    assert len(right.lines) == 0 and right.get_xscale() == "linear"


# ----------------------------------------------------------------------------- model file

NET = MLP((2, 3, 2), "tanh", loss="mse")
META = {"classes": [], "feature_names": ["a", "b"], "target": "y"}


def _saved(tmp_path: Path, net: MLP = NET, meta: dict | None = None) -> Path:
    return save_model(tmp_path / "m.npz", net=net, params=net.init(0), history=_history(),
                      meta=META if meta is None else meta)  # fmt: skip


def _rewrite(path: Path, **changes) -> Path:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    out = path.with_name("changed.npz")
    np.savez(out, **arrays)
    return out


def test_a_regression_model_keeps_its_loss_and_task(tmp_path):
    model = load_model(_saved(tmp_path))
    assert (model.task, model.net, model.classes, model.n_targets) == ("regression", NET, (), 2)
    assert (model.meta["version"], model.meta["loss"]) == (2, "mse")
    np.testing.assert_array_equal(model.history["test_cost"], [2.5, 1.25])
    classifier = MLP((2, 3, 1))
    meta = {**META, "classes": ["no", "yes"]}
    model = load_model(_saved(tmp_path, classifier, meta))
    assert (model.task, model.net.loss, model.meta["version"]) == (
        "classification", "cross_entropy", 1)  # fmt: skip
    squared = load_model(_saved(tmp_path, MLP((2, 3, 1), loss="mse"), meta))  # MSE on classes
    assert (squared.task, squared.net.output, squared.meta["version"]) == (
        "classification", "linear", 2)  # fmt: skip


def test_a_model_file_of_the_old_format_reads_as_a_cross_entropy_classifier(tmp_path):
    meta = {**META, "classes": ["no", "yes"]}
    new = _saved(tmp_path, MLP((2, 3, 1), "tanh"), meta)
    old = _rewrite(new, loss=None, task=None, version=1)  # as written before loss and task
    model = load_model(old)
    assert (model.task, model.net, model.classes) == ("classification", MLP((2, 3, 1), "tanh"),
                                                      ("no", "yes"))  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loss": "l2"}, "'loss' parameter of MLP must be one of 'cross_entropy', 'mse'"),
        ({"loss": ["mse"]}, "'loss' parameter of MLP"),
        ({"task": "ranking"}, "task must be one of classification, regression; found 'ranking'"),
        ({"task": {"a": 1}}, "task must be one of classification, regression"),
        ({"task": None, "loss": None}, "classes must be 2 distinct labels"),
        ({"loss": "cross_entropy"}, "a regression model has loss 'mse'; found 'cross_entropy'"),
        ({"classes": ["a", "b"]}, "a regression model has no classes (an empty list)"),
        ({"classes": None}, "a regression model has no classes"),
        ({"version": 1}, "a version-1 model is a cross-entropy classifier; found loss 'mse'"),
        ({"version": 3}, "of version 3; this descentlab reads versions 1 to 2"),
        ({"version": True}, "of version True"),
    ],
)
def test_hostile_loss_and_task_are_refused_in_one_line(tmp_path, changes, message):
    path = _rewrite(_saved(tmp_path), **changes)
    with pytest.raises(DataError) as exc:
        load_model(path)
    assert message in str(exc.value) and str(exc.value).startswith(f"'{path}' ")


def test_target_columns():
    assert target_columns("price", 1) == ["price"]
    assert target_columns("y", 2) == ["y1", "y2"]


# ----------------------------------------------------------------------------- datasets


def test_datasets_exports_the_targets_as_numbers_and_lists_no_classes(capsys, tmp_path):
    path = tmp_path / "q.csv"
    rc, out, _ = run_cli(capsys, ["datasets", "--export", QUAD, str(path)])
    assert rc == 0
    assert (
        out
        == f"Wrote noisy_quadratic: 200 examples, 100 features and target column 'y' to {path}\n"
    )
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    ds = load_dataset("noisy_quadratic", n_samples=200)
    assert rows[0] == [f"x{j + 1}" for j in range(100)] + ["y"]
    values = np.array([[float(c) for c in r] for r in rows[1:]])
    np.testing.assert_array_equal(values[:, :100].T, ds.X)
    np.testing.assert_array_equal(values[:, 100], ds.y)


def test_the_datasets_table_shows_no_class_count_for_regression(monkeypatch, capsys):
    import descentlab.datasets as datasets

    small = {"moons": datasets.load_moons,
             "noisy_quadratic": lambda: datasets.make_noisy_quadratic(200)}  # fmt: skip
    monkeypatch.setattr(datasets, "BUILTIN_DATASETS", small)
    rc, out, _ = run_cli(capsys, ["datasets"])
    assert rc == 0
    assert [line.split()[:4] for line in out.splitlines()[1:3]] == [
        ["moons", "2", "300", "2"],
        ["noisy_quadratic", "100", "200", "-"],
    ]


def test_export_writes_one_column_per_target(monkeypatch, capsys, tmp_path):
    import descentlab.datasets as datasets

    two = Dataset("two", np.array([[0.5, 1.5]]), np.array([[1.0, 2.0], [3.0, 4.25]]),
                  task="regression")  # fmt: skip
    monkeypatch.setitem(datasets.BUILTIN_DATASETS, "two", lambda **_: two)
    path = tmp_path / "two.csv"
    rc, out, _ = run_cli(capsys, ["datasets", "--export", "two", str(path)])
    assert rc == 0 and "target columns 'y1', 'y2'" in out
    assert path.read_text() == "x1,y1,y2\n0.5,1.0,3.0\n1.5,2.0,4.25\n"


# ----------------------------------------------------------------------------- compare


def test_compare_on_regression_writes_costs_and_a_report_without_accuracy(capsys, tmp_path):
    out = tmp_path / "run"
    argv = ["compare", "--dataset", QUAD, "--optimizers", "gd,adam", "--layers", "4",
            "--epochs", "3", "--eval-every", "1", "--quiet", "--out", str(out)]  # fmt: skip
    rc, text, err = run_cli(capsys, argv)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml", "cost_curves.png", "history.csv", "models.npz", "report.html",
        "results.json"]  # fmt: skip
    results = read_results_json(out / "results.json")
    history = read_history_csv(out / "history.csv")
    config = ExperimentConfig.from_toml(out / "config.toml")
    data = load_experiment_data(config.dataset)
    net = MLP(tuple(results["layer_dims"]), config.activation, loss="mse")
    models = read_models(out / "models.npz", net.shapes())
    assert results["dataset"]["task"] == "regression" and results["layer_dims"] == [100, 4, 1]
    for run in results["runs"]:
        cols = history[run["label"]]
        assert (run["train_accuracy"], run["test_accuracy"]) == (None, None)
        assert run["final_cost"] == cols["cost"][-1] and len(cols["cost"]) == 3
        test_cost = net.cost(models[run["label"]], data.test.X, data.test.Y)
        assert cols["test_cost"][-1] == pytest.approx(test_cost, rel=1e-12)
        assert np.isnan(cols["test_accuracy"]).all()
    assert "train accuracy" not in text and text.splitlines()[2].split()[0] == "optimizer"
    html = re.sub(r"data:image/png;base64,[^\"]*", "", (out / "report.html").read_text())
    assert "nan" not in html.lower()
    assert "<th>final cost</th>" in html and "accuracy</th>" not in html
    assert "regression, 1 target" in html
    rc, _, err = run_cli(capsys, ["report", str(out)])  # rebuilt from the saved files
    assert rc == 0, err


# ----------------------------------------------------------------------------- train, predict


def test_train_then_predict_gives_the_saved_network_s_outputs(capsys, tmp_path):
    model_path, points = tmp_path / "m.npz", tmp_path / "points.csv"
    argv = ["train", "--dataset", QUAD, "--layers", "4", "--epochs", "3", "--quiet",
            "--out", str(model_path)]  # fmt: skip
    assert run_cli(capsys, argv)[0] == 0
    assert run_cli(capsys, ["datasets", "--export", "noisy_quadratic:n_samples=150,seed=9",
                            str(points)])[0] == 0  # fmt: skip
    model = load_model(model_path)
    assert (model.task, model.net.loss, model.classes, model.target) == (
        "regression",
        "mse",
        (),
        "y",
    )
    rc, out, err = run_cli(capsys, ["predict", str(model_path), str(points)])
    assert rc == 0
    ds = load_dataset("noisy_quadratic", n_samples=150, seed=9)
    X, _ = read_features(points, model.feature_names, None)  # as predict reads them
    np.testing.assert_array_equal(X, ds.X)
    A, _ = model.net.forward(model.params, X)
    lines = out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 151
    np.testing.assert_array_equal([float(v) for v in lines[1:]], A[0])
    mse = np.mean((A[0] - ds.y) ** 2)
    assert err == (
        f"Mean squared error on column 'y': {mse:.6g} (the model's cost J = {mse / 2:.6g}, "
        "150 rows)\n"
    )


def test_predict_standardizes_and_writes_a_column_per_target(capsys, tmp_path):
    net = MLP((2, 3, 2), "tanh", loss="mse")
    mean, std = np.array([[1.0], [-2.0]]), np.array([[2.0], [0.5]])
    path = save_model(tmp_path / "m.npz", net=net, params=net.init(3), history=_history(),
                      meta={**META, "target": "t"}, mean=mean, std=std)  # fmt: skip
    points = tmp_path / "p.csv"
    points.write_text("b,a,t1\n0.5,3.0,9\n-1.0,2.0,9\n")  # columns by name; t1 ignored
    out_file = tmp_path / "pred.csv"
    rc, out, _ = run_cli(capsys, ["predict", str(path), str(points), "--out", str(out_file)])
    assert rc == 0 and out == f"Wrote 2 predictions to {out_file}\n"
    X = np.array([[3.0, 2.0], [0.5, -1.0]])
    A, _ = net.forward(net.init(3), (X - mean) / std)
    with out_file.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["prediction_1", "prediction_2"]
    np.testing.assert_array_equal(np.array(rows[1:], dtype=float).T, A)


def test_predict_refuses_a_target_that_is_not_a_number(capsys, tmp_path):
    net = MLP((2, 1), loss="mse")
    path = save_model(tmp_path / "m.npz", net=net, params=net.init(0), history=_history(),
                      meta=META)  # fmt: skip
    points = tmp_path / "p.csv"
    points.write_text("a,b,y\n1,2,0.5\n3,4,high\n")
    rc, out, err = run_cli(capsys, ["predict", str(path), str(points), "--out",
                                    str(tmp_path / "o.csv")])  # fmt: skip
    assert rc == 2 and out == "" and not (tmp_path / "o.csv").exists()
    assert err.strip().endswith(
        f"The target 'high' in column 'y' of '{points}' (row 2) is not a finite number; a "
        "regression model predicts numbers."
    )


# ----------------------------------------------------------------------------- sweep


def test_a_regression_sweep_chooses_by_validation_cost_and_resumes_nothing(tmp_path):
    spec = SweepSpec(
        dataset=DatasetSpec("noisy_quadratic", n_samples=120),
        optimizers=(("gd", {}), ("adam", {})),
        axes=(parse_axis("lr=0.001,0.01"),),
        seeds=(0, 1),
        epochs=2,
        layers=(),
    )
    result = run_sweep(spec, tmp_path / "s")
    assert result.status == "completed" and "lr_sensitivity.png" in result.files
    assert {r["val_accuracy"] for r in result.rows} == {"nan"}
    data = load_experiment_data(spec.dataset, validation=True)
    assert all(math.isfinite(float(r["val_cost"])) for r in result.rows)
    assert read_results(tmp_path / "s" / "results.csv", None) == result.rows
    again = run_sweep(None, tmp_path / "s", resume=True, plots=False)
    assert (again.n_new, again.rows) == (0, result.rows)  # no row dropped, nothing retrained
    summary = summarize(result.rows)
    for entry in summary:
        mine = [float(r["val_cost"]) for r in result.rows if r["config_id"] == entry["config_id"]]
        assert float(entry["val_cost_median"]) == np.median(mine)
    best = best_configurations(summary)
    for name in ("gd", "adam"):
        own = [e for e in summary if e["optimizer"] == name]
        assert best[name] is min(own, key=lambda e: float(e["val_cost_median"]))
    assert data.task == "regression"


def test_the_sweep_progress_shows_the_lowest_validation_cost(tmp_path, monkeypatch):
    import descentlab.experiments.sweep as sweep_module

    figures = []

    class Bar:
        enabled = True

        def __init__(self, *args, **kwargs):
            pass

        def update(self, done, **shown):
            if shown:
                figures.append(shown)

        def close(self):
            pass

    monkeypatch.setattr(sweep_module, "Progress", Bar)
    spec = SweepSpec(dataset=DatasetSpec("noisy_quadratic", n_samples=120),
                     optimizers=(("gd", {}),), axes=(parse_axis("lr=0.001,0.01"),), seeds=(0,),
                     epochs=1, layers=(), chunk_size=1)  # fmt: skip
    result = run_sweep(spec, tmp_path / "s", plots=False, progress=True)
    costs = [float(r["val_cost"]) for r in result.rows]
    assert figures == [{"best_val_cost": costs[0]}, {"best_val_cost": min(costs)}]


# ----------------------------------------------------------------------------- early stopping


def test_early_stopping_on_the_validation_cost_counts_evaluations():
    stop = EarlyStopping("val_cost", patience=2)
    seen = [stop(e, logs) for e, logs in enumerate([
        {"val_cost": np.array([1.0, 4.0])}, {"cost": 9.0}, {"val_cost": np.array([0.5, 5.0])},
        {"val_cost": np.array([0.6, 3.0])}, {"val_cost": np.array([0.7, 3.5])},
    ])]  # fmt: skip
    assert [np.asarray(s).tolist() for s in seen] == [
        False, False, [False, False], [False, False], [True, False]]  # fmt: skip


def test_early_stopping_on_accuracy_refuses_a_regression_network():
    rng = np.random.default_rng(0)
    X, Xv = rng.standard_normal((2, 8)), rng.standard_normal((2, 4))
    y, yv = rng.standard_normal(8), rng.standard_normal(4)
    with pytest.raises(InvalidParameterError) as exc:
        train(MLP((2, 1), loss="mse"), gd(0.1), X, y, epochs=5, validation=(Xv, yv),
              callbacks=[EarlyStopping("val_accuracy", patience=1)])  # fmt: skip
    assert str(exc.value) == (
        "EarlyStopping(monitor='val_accuracy') cannot watch a regression network: its accuracy "
        "is undefined (NaN). Monitor 'val_cost' (or 'cost') instead."
    )


# ----------------------------------------------------------------------------- report


def _regression_results(test_cost: bool) -> dict:
    runs = [
        {"label": "gd", "status": "completed", "train_accuracy": None, "test_accuracy": None,
         "final_cost": 2.0, "seconds": 1.0},
        {"label": "adam", "status": "completed", "train_accuracy": float("nan"),
         "test_accuracy": float("nan"), "final_cost": 0.5, "seconds": 1.0},
    ]  # fmt: skip
    if test_cost:
        runs[0]["test_cost"], runs[1]["test_cost"] = 1.0, 1.5
    return {"dataset": {"name": "q", "task": "regression", "n_targets": 1}, "runs": runs}


def test_the_report_of_regression_shows_and_ranks_costs():
    header, rows = table_rows(_regression_results(test_cost=True))
    assert header == ["optimizer", "final cost", "test cost", "seconds"]
    assert rows == [["gd", "2.0000", "1.0000", "1.0"], ["adam", "0.5000", "1.5000", "1.0"]]
    lines = describe_results(_regression_results(test_cost=True))
    assert lines[0] == "gd reached the lowest test cost, 1.0000: 0.5000 less than adam (1.5000)."
    assert lines[1].startswith("adam ended with the lowest cost, 0.5 (4 times lower than gd's 2)")
    header, rows = table_rows(_regression_results(test_cost=False))
    assert header == ["optimizer", "final cost", "seconds"]
    lines = describe_results(_regression_results(test_cost=False))
    assert lines == [
        "adam reached the lowest final training cost, 0.5000: 1.5000 less than gd (2.0000)."
    ]
    html = render_report(_regression_results(test_cost=True), {}, "")
    assert "nan" not in html and '<tr class="best"><td>gd</td>' in html


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: confusion_matrix([0.5, 1.0], [0, 1], 2), DataError,
         "y_true must hold class indices in [0, 2); found 0.5 (real-valued targets have no "
         "classes to draw)."),
        (lambda: confusion_matrix([0, 1], [0, 2], 2), DataError,
         "y_pred must hold class indices in [0, 2); found 2 (real-valued"),
        (lambda: confusion_matrix([0, 1], [0, 1], 0), InvalidParameterError,
         "The 'n_classes' parameter of confusion_matrix must be an int >= 1. Got 0 instead."),
        (lambda: plot_decision_boundaries({}, np.zeros((2, 2)), np.array([0.25, -1.0])),
         DataError, "y must hold class indices in 0, 1, 2, ...; found 0.25"),
    ],
)  # fmt: skip
def test_class_figures_refuse_real_valued_targets(call, error, message):
    with pytest.raises(error) as exc:
        call()
    assert str(exc.value).startswith(message)


# ----------------------------------------------------------------------------- playground


def test_the_playground_does_not_offer_regression_data():
    from pydantic import ValidationError

    from descentlab.playground.models import PLAYGROUND_DATASETS, RunRequest

    assert "noisy_quadratic" not in PLAYGROUND_DATASETS
    for name in PLAYGROUND_DATASETS:  # the page draws decision boundaries: 2-D classes only
        ds = load_dataset(name)
        assert (ds.task, ds.n_features) == ("classification", 2)
    with pytest.raises(ValidationError, match="dataset"):
        RunRequest(dataset="noisy_quadratic", optimizers=[{"name": "gd", "learning_rate": 0.1}])


def test_the_sweep_command_prints_each_optimizers_lowest_validation_cost(tmp_path, capsys):
    out = tmp_path / "s"
    rc, printed, _ = run_cli(capsys, ["sweep", "--dataset", "noisy_quadratic:n_samples=120",
                                      "--layers", "none", "--optimizers", "gd,adam",
                                      "--lr", "0.001,0.01", "--epochs", "2", "--seeds", "2",
                                      "--out", str(out), "--quiet"])  # fmt: skip
    assert rc == 0
    lines = printed.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("optimizer"))
    assert lines[head].split() == ["optimizer", "best", "lr", "val", "cost", "(median)", "test",
                                   "cost", "(median)", "diverged"]  # fmt: skip
    summary = summarize(read_results(out / "results.csv", None))
    for line in lines[head + 1 : head + 3]:
        name, lr, val, test, _ = line.split()
        best = min((e for e in summary if e["optimizer"] == name),
                   key=lambda e: float(e["val_cost_median"]))  # fmt: skip
        assert float(lr) == pytest.approx(float(best["learning_rate"]), rel=1e-3)
        assert float(val) == pytest.approx(float(best["val_cost_median"]), abs=1e-4)
        assert float(test) == pytest.approx(float(best["test_cost_median"]), abs=1e-4)


def test_train_prints_the_test_cost_and_says_regression(tmp_path, capsys):
    path = tmp_path / "m.npz"
    rc, printed, _ = run_cli(capsys, ["train", "--dataset", "noisy_quadratic:n_samples=120",
                                      "--layers", "none", "--optimizer", "gd", "--lr", "0.01",
                                      "--epochs", "3", "--out", str(path), "--quiet"])  # fmt: skip
    assert rc == 0
    lines = printed.splitlines()
    assert lines[0].split() == ["optimizer", "final", "cost", "test", "cost", "seconds"]
    assert lines[-1].endswith("(layer_dims [100, 1], regression, 1 target)")
    model = load_model(path)
    data = load_experiment_data(DatasetSpec("noisy_quadratic", n_samples=120))
    expected = model.net.cost(model.params, data.test.X, model.net.targets(data.test.y))
    assert float(lines[1].split()[2]) == pytest.approx(float(expected), abs=1e-4)
