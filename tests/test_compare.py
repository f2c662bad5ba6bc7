"""``descentlab compare`` and its run folder: the seed's study, reruns, partial results, Ctrl-C."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from descentlab.cli import main
from descentlab.compiled import COMPILING, NOT_COMPILED
from descentlab.experiments import population as population_module
from descentlab.experiments.compare import rebuild_outputs, run_comparison
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.population import engine_message
from descentlab.experiments.run_folder import HISTORY_COLUMNS, read_history_csv
from descentlab.experiments.specs import (
    DatasetSpec,
    OptimizerSpec,
    ScheduleSpec,
)

SEED_TRAIN = {"gd": 239 / 300, "momentum": 239 / 300, "adam": 282 / 300}
SEED_TEST = {"gd": 244 / 300, "momentum": 244 / 300, "adam": 289 / 300}  # make_moons(300, seed=1)


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    """The seed's full study (3 x 10000 epochs), run once through the command line."""
    run_dir = tmp_path_factory.mktemp("seed") / "run"
    rc, out, err = _main(["compare", "--out", str(run_dir)])
    return rc, out, err, run_dir


@pytest.mark.slow
def test_seed_study_table(seed_run):
    rc, out, err, run_dir = seed_run
    assert rc == 0
    lines = out.splitlines()
    assert (
        lines[0]
        == "moons: 300 training and 300 test examples, layer_dims [2, 5, 2, 1], 10000 epochs"
    )
    assert lines[2].split() == [
        "optimizer",
        "train",
        "accuracy",
        "test",
        "accuracy",
        "final",
        "cost",
        "seconds",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:6]}
    assert [r[:2] for r in rows.values()] == [
        ["0.7967", "0.8133"],
        ["0.7967", "0.8133"],
        ["0.9400", "0.9633"],
    ]
    assert list(rows) == ["gd", "momentum", "adam"]
    assert rows["adam"][2] == "0.1288"
    seconds = float(rows["gd"][3])
    assert rows["momentum"][3] == rows["adam"][3] == rows["gd"][3]  # one shared wall time
    assert lines[6] == f"trained together as one population of 3: {seconds:.1f} s in all"
    assert lines[-2] == f"Run folder: {run_dir}"
    assert lines[-1] == f"Report:     {run_dir / 'report.html'}"
    # the chatter goes to stderr: one line to start the population, one when it is done
    chatter = err.strip().splitlines()
    assert (
        chatter[1]
        == "[gd, momentum, adam] training 10000 epochs together (one population of 3) ..."
    )
    assert chatter[2].startswith("[gd, momentum, adam] completed in ")
    # then, on a fresh installation (the compiled engine not compiled yet), why auto ran numpy
    assert chatter[3:] in ([], [engine_message(NOT_COMPILED)], [engine_message(COMPILING)])


@pytest.mark.slow
def test_seed_study_results_json(seed_run):
    _, _, _, run_dir = seed_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["partial"] is False
    assert results["trained_together"] is True
    assert len({r["seconds"] for r in results["runs"]}) == 1
    assert results["layer_dims"] == [2, 5, 2, 1]
    assert results["dataset"] == {
        "name": "moons",
        "n_features": 2,
        "n_classes": 2,
        "classes": [0, 1],
        "feature_names": ["x1", "x2"],
        "n_train": 300,
        "n_test": 300,
        "holdout": "fresh",
        "standardized": False,
    }
    runs = {r["label"]: r for r in results["runs"]}
    for label in ("gd", "momentum", "adam"):
        assert runs[label]["train_accuracy"] == pytest.approx(SEED_TRAIN[label], abs=1e-12)
        assert runs[label]["test_accuracy"] == pytest.approx(SEED_TEST[label], abs=1e-12)
        assert runs[label]["status"] == "completed" and runs[label]["epochs_run"] == 10000
        assert runs[label]["seconds"] > 0
    assert runs["adam"]["hyperparameters"] == {
        "learning_rate": 0.0007,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 0.0,
        "eps_root": 1e-8,
        "amsgrad": False,
        "weight_decay": 0.0,
    }
    assert runs["momentum"]["hyperparameters"] == {"learning_rate": 0.0007, "beta": 0.9}
    assert runs["adam"]["final_cost"] == pytest.approx(0.1288, abs=5e-5)
    assert runs["gd"]["final_cost"] == pytest.approx(0.4333, abs=5e-5)
    assert ExperimentConfig.from_dict(results["config"]) == ExperimentConfig()
    assert ExperimentConfig.from_toml(run_dir / "config.toml") == ExperimentConfig()


@pytest.mark.slow
def test_seed_study_history_and_files(seed_run):
    _, _, _, run_dir = seed_run
    with (run_dir / "history.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert len(rows) == 1 + 3 * 10000
    history = read_history_csv(run_dir / "history.csv")
    assert list(history) == ["gd", "momentum", "adam"]
    adam = history["adam"]
    np.testing.assert_array_equal(adam["epoch"], np.arange(10000))
    assert np.all(adam["learning_rate"] == 0.0007)
    measured = np.flatnonzero(~np.isnan(adam["train_accuracy"]))
    assert measured.tolist() == [0, *range(99, 10000, 100)]
    assert adam["train_accuracy"][-1] == pytest.approx(0.94)
    assert adam["test_accuracy"][-1] == pytest.approx(SEED_TEST["adam"])
    assert adam["cost"][-1] == pytest.approx(0.1288, abs=5e-5)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.toml",
        "cost_curves.png",
        "decision_boundaries.png",
        "history.csv",
        "models.npz",
        "report.html",
        "results.json",
    ]
    with Image.open(run_dir / "cost_curves.png") as im:
        assert im.size == (800, 500)
    with Image.open(run_dir / "decision_boundaries.png") as im:
        assert im.size == (1200, 440)
    report = (run_dir / "report.html").read_text()
    for number in ("0.7967", "0.8133", "0.9400", "0.9633", "0.1288"):
        assert f"<td>{number}</td>" in report
    assert report.count('src="data:image/png;base64,') == 2
    assert "http://" not in report and "https://" not in report
    assert (
        "adam reached the best test accuracy, 0.9633: 0.1500 more than gd and momentum (0.8133)."
        in report
    )


# ----------------------------------------------------------------------------- small runs

SMALL = ["--epochs", "30", "--quiet"]


def test_rerun_from_config_is_identical(tmp_path):
    argv = [
        "compare",
        "--dataset", "circles:n_samples=120,noise=0.1",
        "--layers", "6",
        "--optimizers", "momentum:beta=0.8,adam:lr=0.01,b1=0.85",
        "--optimizers", "rmsprop",
        "--lr", "0.05",
        "--schedule", "inverse_time:decay_rate=0.5",
        "--batch-size", "32",
        "--seed", "4",
        "--init", "he",
        "--shuffle", "random",
        "--eval-every", "10",
        "--name", "trial",
        "--log-scale",
        *SMALL,
    ]  # fmt: skip
    rc, _, _ = _main([*argv, "--out", str(tmp_path / "a")])
    assert rc == 0
    rc, _, _ = _main(
        [
            "compare",
            "--config",
            str(tmp_path / "a" / "config.toml"),
            "--out",
            str(tmp_path / "b"),
            "-q",
        ]
    )
    assert rc == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    for r in a["runs"] + b["runs"]:
        assert r.pop("seconds") > 0
    a.pop("created"), b.pop("created")
    assert a == b
    assert [r["label"] for r in a["runs"]] == [
        "momentum:beta=0.8",
        "adam:lr=0.01,b1=0.85",
        "rmsprop",
    ]
    assert a["config"]["schedule"] == {"name": "inverse_time", "decay_rate": 0.5}
    assert a["config"]["log_scale"] is True
    assert a["layer_dims"] == [2, 6, 1] and a["dataset"]["n_train"] == 120
    # the schedule decays once per epoch of ceil(120 / 32) = 4 steps
    history = read_history_csv(tmp_path / "a" / "history.csv")
    lr = history["rmsprop"]["learning_rate"]
    np.testing.assert_allclose(lr[:3], [0.05, 0.05 / 1.5, 0.05 / 2.0])
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv"
    ).read_text()


def test_json_format_multiclass_softmax(tmp_path):
    rc, out, _ = _main(
        [
            "compare",
            "--dataset",
            "blobs",
            "--optimizers",
            "adam:lr=0.01",
            "--format",
            "json",
            "--out",
            str(tmp_path),
            *SMALL,
        ]
    )
    assert rc == 0
    results = json.loads(out)
    assert results["layer_dims"] == [2, 5, 2, 3]
    assert results["run_dir"] == str(tmp_path)
    assert results["report"] == str(tmp_path / "report.html")
    assert results["interrupted"] is False
    assert json.loads((tmp_path / "results.json").read_text())["runs"] == results["runs"]
    assert (tmp_path / "decision_boundaries.png").is_file()


def test_many_features_get_confusion_matrices(tmp_path):
    rc, _, _ = _main(
        ["compare", "--dataset", "iris", "--lr", "0.01", "--out", str(tmp_path), *SMALL]
    )
    assert rc == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["layer_dims"] == [4, 5, 2, 3]
    assert results["dataset"]["n_train"] == 112 and results["dataset"]["n_test"] == 38
    assert results["dataset"]["standardized"] is True
    assert (tmp_path / "confusion_matrices.png").is_file()
    assert not (tmp_path / "decision_boundaries.png").exists()
    with Image.open(tmp_path / "confusion_matrices.png") as im:
        assert im.size == (1200, 440)


def test_csv_dataset_with_target_and_split(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / "data.csv"
    path.write_text(
        "a,b,label,c\n"
        + "".join(f"{x[0]},{x[1]},{lab},{x[2]}\n" for x, lab in zip(X, labels, strict=True))
    )
    rc, _, _ = _main(
        [
            "compare",
            "--dataset",
            str(path),
            "--target",
            "label",
            "--test-size",
            "20",
            "--optimizers",
            "adam:lr=0.05",
            "--out",
            str(tmp_path / "run"),
            *SMALL,
        ]
    )
    assert rc == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["name"] == "data"
    assert results["dataset"]["classes"] == ["no", "yes"]
    assert results["dataset"]["feature_names"] == ["a", "b", "c"]
    assert (results["dataset"]["n_train"], results["dataset"]["n_test"]) == (60, 20)
    assert results["runs"][0]["test_accuracy"] >= 0.85


def test_diverged_run_is_reported(tmp_path):
    rc, out, _ = _main(
        ["compare", "--optimizers", "gd:lr=1000,adam", "--out", str(tmp_path), *SMALL]
    )
    assert rc == 0
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert runs[0]["status"] == "diverged" and runs[0]["epochs_run"] == 1
    assert runs[0]["message"].startswith("Training diverged at epoch 0")
    assert runs[1]["status"] == "completed" and runs[1]["epochs_run"] == 30
    assert "status" in out.splitlines()[2]
    assert out.splitlines()[3].split()[-1] == "diverged"
    assert "gd:lr=1000: Training diverged at epoch 0" in (tmp_path / "report.html").read_text()


def test_report_rebuild_is_identical(tmp_path):
    rc, _, _ = _main(["compare", "--out", str(tmp_path), *SMALL])
    assert rc == 0
    before = {
        p: (tmp_path / p).read_bytes()
        for p in ("cost_curves.png", "decision_boundaries.png", "report.html")
    }
    for p in before:
        (tmp_path / p).unlink()
    rc, out, _ = _main(["report", str(tmp_path)])
    assert rc == 0
    assert (
        out.splitlines()[0]
        == f"Rebuilt cost_curves.png, decision_boundaries.png, report.html in {tmp_path}"
    )
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    assert rebuild_outputs(tmp_path, log_scale=True) == [
        "cost_curves.png",
        "decision_boundaries.png",
        "report.html",
    ]
    assert (tmp_path / "cost_curves.png").read_bytes() != before["cost_curves.png"]


def _strip_times(results: dict) -> dict:
    """The results without what may differ between two runs: times, dates, folder."""
    out = {k: v for k, v in results.items() if k not in ("created", "run_dir", "trained_together")}
    out["runs"] = [{k: v for k, v in r.items() if k != "seconds"} for r in results["runs"]]
    return out


TOGETHER_CASES = {
    # gd at lr 500 diverges at epoch 6 with finite weights, adam at lr 9 at epoch 0 (NaN-free
    # but huge cost); the others train on.
    "seed data, two diverge": ExperimentConfig(
        optimizers=tuple(
            OptimizerSpec(n, h)
            for n, h in [("gd", {"lr": 500}), ("momentum", {}), ("adam", {"lr": 9}), ("adam", {})]
        ),
        epochs=25,
        eval_every=4,
    ),
    "softmax, schedule, random order": ExperimentConfig(
        dataset=DatasetSpec("blobs", n_samples=150),
        layers=(8, 4),
        activation="tanh",
        optimizers=tuple(
            OptimizerSpec(n, h)
            for n, h in [
                ("gd", {}),
                ("momentum", {"beta": 0.8}),
                ("nesterov", {}),
                ("rmsprop", {"lr": 0.005}),
                ("adam", {"b1": 0.85, "eps": 1e-8, "eps_root": 0.0}),
                ("adamw", {"weight_decay": 0.01}),
            ]
        ),
        learning_rate=0.05,
        schedule=ScheduleSpec("inverse_time", {"decay_rate": 0.3}),
        batch_size=32,
        epochs=20,
        init="he",
        shuffle="random",
        seed=5,
        data_seed=6,
        eval_every=3,
    ),
}


def _alone(config: ExperimentConfig, out) -> dict:
    """Each optimizer of ``config`` in a comparison of its own; the results merged in order."""
    merged: dict = {"runs": [], "history": [], "models": {}}
    for k, spec in enumerate(config.optimizers):
        folder = out / str(k)
        r = run_comparison(config.replace(optimizers=(spec,)), folder, progress=False)
        merged["runs"] += r["runs"]
        merged["history"] += (folder / "history.csv").read_text().splitlines()[1:]
        with np.load(folder / "models.npz") as z:
            merged["models"].update({spec.label + key[4:]: z[key] for key in z.files if "/" in key})
        merged["results"] = r
    return merged


@pytest.mark.parametrize("case", list(TOGETHER_CASES))
def test_trained_together_equals_each_alone(tmp_path, case):
    config = TOGETHER_CASES[case]
    a = run_comparison(config, tmp_path / "together", progress=False)
    b = _alone(config, tmp_path / "alone")
    assert a["trained_together"] is True
    assert len({r["seconds"] for r in a["runs"]}) == 1 and a["runs"][0]["seconds"] > 0
    # every number, status and message is the same, bit for bit
    assert _strip_times(a)["runs"] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in b["runs"]
    ]
    assert json.loads((tmp_path / "together" / "results.json").read_text())["partial"] is False
    assert (tmp_path / "together" / "history.csv").read_text().splitlines()[1:] == b["history"]
    with np.load(tmp_path / "together" / "models.npz") as za:
        labels = [str(v) for v in za["labels"]]
        together = {labels[int(key[3])] + key[4:]: za[key] for key in za.files if "/" in key}
    assert sorted(together) == sorted(b["models"])
    for key, value in together.items():
        np.testing.assert_array_equal(value, b["models"][key], err_msg=key)
    statuses = [(r["label"], r["status"], r["epochs_run"]) for r in a["runs"]]
    if case == "seed data, two diverge":
        assert statuses == [
            ("gd:lr=500", "diverged", 7),
            ("momentum", "completed", 25),
            ("adam:lr=9", "diverged", 1),
            ("adam", "completed", 25),
        ]
        assert a["runs"][0]["message"].startswith("Training diverged at epoch 6: the cost")
        assert a["runs"][0]["train_accuracy"] == 0.5  # measured on its weights of epoch 6
        history = read_history_csv(tmp_path / "together" / "history.csv")
        assert len(history["gd:lr=500"]["cost"]) == 7 and history["gd:lr=500"]["cost"][6] > 69.3
        assert np.flatnonzero(~np.isnan(history["gd:lr=500"]["train_accuracy"])).tolist() == [
            0,
            3,
        ]
    else:
        assert {s for _, s, _ in statuses} == {"completed"}
        assert a["layer_dims"] == [2, 8, 4, 3]


def test_interrupt_stops_the_population_at_one_epoch(tmp_path, monkeypatch):
    real = population_module.train

    def interrupt_after_epoch_4(*args, on_epoch=None, **kwargs):
        def hook(epoch, logs):
            if on_epoch is not None:
                on_epoch(epoch, logs)
            if epoch == 4:
                raise KeyboardInterrupt

        return real(*args, on_epoch=hook, **kwargs)

    monkeypatch.setattr(population_module, "train", interrupt_after_epoch_4)
    config = ExperimentConfig(
        optimizers=(OptimizerSpec("gd", {"lr": 800}), *ExperimentConfig().optimizers),
        epochs=20,
    )
    results = run_comparison(config, tmp_path, progress=False)
    assert results["interrupted"] is True
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["partial"] is True and saved["trained_together"] is True
    assert [(r["label"], r["status"], r["epochs_run"]) for r in saved["runs"]] == [
        ("gd:lr=800", "diverged", 1),  # diverged before Ctrl-C: stays diverged
        ("gd", "interrupted", 5),
        ("momentum", "interrupted", 5),
        ("adam", "interrupted", 5),
    ]
    assert saved["runs"][0]["message"].startswith("Training diverged at epoch 0")
    for r in saved["runs"][1:]:
        assert r["message"] == "Interrupted after 5 of 20 epochs; the history so far is kept."
        assert 0.4 < r["train_accuracy"] < 1 and 0.4 < r["test_accuracy"] < 1
    # the interrupted members equal 5 epochs trained each alone
    monkeypatch.undo()
    alone = _alone(config.replace(epochs=5), tmp_path / "alone")
    for r, s in zip(saved["runs"][1:], alone["runs"][1:], strict=True):
        assert (r["train_accuracy"], r["test_accuracy"], r["final_cost"]) == (
            s["train_accuracy"],
            s["test_accuracy"],
            s["final_cost"],
        )
    history = read_history_csv(tmp_path / "history.csv")
    assert [len(h["cost"]) for h in history.values()] == [1, 5, 5, 5]
    assert (
        "This run was interrupted after 5 epochs: 0 of 4 optimizer runs finished"
        in (tmp_path / "report.html").read_text()
    )
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_before_the_training_starts_leaves_a_folder_of_runs_not_run(tmp_path, monkeypatch):
    from descentlab.experiments import compare as compare_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "train_optimizers", interrupted)
    rc, out, err = _main(["compare", "--epochs", "20", "-q", "--out", str(tmp_path)])
    assert rc == 130
    assert err == f"descentlab: interrupted; partial results saved in {tmp_path}\n"
    rows = [line.split() for line in out.splitlines()[3:6]]
    assert rows == [[name, "-", "-", "-", "-", "not_run"] for name in ("gd", "momentum", "adam")]
    assert "trained together" not in out  # no training time to report
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["partial"] is True
    assert {(r["status"], r["message"]) for r in saved["runs"]} == {
        ("not_run", "Not run: the comparison was interrupted before it.")
    }
    assert (tmp_path / "history.csv").read_text().splitlines() == [",".join(HISTORY_COLUMNS)]
    # no model to draw: the cost plot (empty, without a legend) and the report only
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.toml",
        "cost_curves.png",
        "history.csv",
        "models.npz",
        "report.html",
        "results.json",
    ]
    assert "0 of 3 optimizer runs finished" in (tmp_path / "report.html").read_text()


def test_rebuild_without_models_draws_the_costs_and_checks_the_config(tmp_path):
    rc, _, _ = _main(["compare", "--epochs", "10", "-q", "--out", str(tmp_path)])
    assert rc == 0
    config = (tmp_path / "config.toml").read_text()
    (tmp_path / "config.toml").write_text(config.replace("layers = [5, 2]", "layers = [4]"))
    with pytest.raises(ValueError) as caught:
        rebuild_outputs(tmp_path)
    assert str(caught.value) == (
        f"'{tmp_path / 'results.json'}' does not match its config.toml: layer_dims "
        "[2, 5, 2, 1] against [2, 4, 1]."
    )
    (tmp_path / "models.npz").unlink()  # without the models: no decision boundaries to draw
    (tmp_path / "decision_boundaries.png").unlink()
    assert rebuild_outputs(tmp_path) == ["cost_curves.png", "report.html"]
    assert not (tmp_path / "decision_boundaries.png").exists()
    assert "decision_boundaries" not in (tmp_path / "report.html").read_text()


def test_bad_data_writes_nothing(tmp_path):
    config = ExperimentConfig(dataset=DatasetSpec(str(tmp_path / "missing.csv"), target="y"))
    with pytest.raises(ValueError, match="No such file"):
        run_comparison(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_load_experiment_data_fresh_and_split():
    data = load_experiment_data(ExperimentConfig().dataset)
    assert data.train.X.shape == (2, 300) and data.test.X.shape == (2, 300)
    assert data.mean is None
    assert not np.array_equal(data.train.X, data.test.X)
    iris = load_experiment_data(DatasetSpec("iris", test_size=30))
    assert (iris.train.n_examples, iris.test.n_examples) == (120, 30)
    np.testing.assert_allclose(iris.train.X.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(iris.train.X.std(axis=1), 1)
    assert iris.mean.shape == (4, 1)
    spec = OptimizerSpec("adam")
    assert spec.label == "adam"


# ----------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_ctrl_c_or_sigterm_leaves_a_valid_partial_run_folder(tmp_path, signum, status, engine):
    """(The compiled engine may still be compiling when the signal comes, on a fresh
    installation: then no epoch has finished, and the folder is just as valid.)"""
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "descentlab",
            "compare",
            "--epochs",
            "100000",
            "--out",
            str(run_dir),
            "--quiet",
            "--engine",
            engine,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (run_dir / "results.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.7)  # well inside the population's training loop
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.strip().splitlines() == [
        f"descentlab: interrupted; partial results saved in {run_dir}"
    ]
    assert "Traceback" not in err
    results = json.loads((run_dir / "results.json").read_text())
    assert results["partial"] is True and results["trained_together"] is True
    runs = results["runs"]
    assert [(r["label"], r["status"]) for r in runs] == [
        ("gd", "interrupted"),
        ("momentum", "interrupted"),
        ("adam", "interrupted"),
    ]
    # the three trained together: all stopped at the same epoch, with the same message
    n = runs[0]["epochs_run"]
    assert (0 if engine == "compiled" else 1) <= n < 100000
    assert [r["epochs_run"] for r in runs] == [n, n, n]
    assert {r["message"] for r in runs} == {
        f"Interrupted after {n} of 100000 epochs; the history so far is kept."
    }
    assert all(r["train_accuracy"] is not None for r in runs)
    history = read_history_csv(run_dir / "history.csv")
    assert [len(h["cost"]) for h in history.values()] == ([n, n, n] if n else [])
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert {"config.toml", "report.html", "cost_curves.png", "models.npz"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert "Partial results" in (run_dir / "report.html").read_text()
    assert "gd" in out and "interrupted" in out  # the partial table is printed
    assert "trained together as one population of 3:" in out
