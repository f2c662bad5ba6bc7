"""The command line: help with examples, one-line errors with exit status 2, train / predict / datasets."""

from __future__ import annotations

import contextlib
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from descentlab.cli import main
from descentlab.datasets import load_csv, load_moons
from descentlab.model_file import load_model

FAST = ["--epochs", "20", "--quiet"]


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command", [[], ["compare"], ["train"], ["predict"], ["report"], ["datasets"]]
)
def test_help_shows_examples(capsys, command):
    rc, out, _ = run_cli(capsys, [*command, "--help"])
    assert rc == 0
    assert "examples:" in out
    assert f"descentlab {command[0] if command else 'compare'}" in out.split("examples:")[1]


def test_top_level_lists_the_commands(capsys):
    rc, out, _ = run_cli(capsys, ["--help"])
    for name in ("compare", "train", "predict", "report", "datasets"):
        assert f"    {name}" in out
    rc, out, _ = run_cli(capsys, [])
    assert rc == 2 and "usage: descentlab" in out
    rc, out, _ = run_cli(capsys, ["--version"])
    assert (rc, out) == (0, "descentlab 0.1.0\n")


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def files(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    good_rows = "".join(f"{i * 0.1},{(i % 7) * 0.3},{'a' if i % 2 else 'b'}\n" for i in range(20))
    return {
        "good": write("good.csv", "x1,x2,label\n" + good_rows),
        "nan": write("nan.csv", "x1,x2,label\n1,2,a\n3,nan,b\n4,5,a\n"),
        "inf": write("inf.csv", "x1,x2,label\n1,2,a\n3,-inf,b\n4,5,a\n"),
        "text": write("text.csv", "x1,x2,label\n1,2,a\n3,high,b\n4,5,a\n"),
        "one_class": write("one.csv", "x1,x2,label\n1,2,a\n3,4,a\n4,5,a\n"),
        "dir": str(tmp_path),
        "missing": str(tmp_path / "missing.csv"),
        "toml_bad": write("bad.toml", "epochs = = 3\n"),
        "toml_unknown": write("unknown.toml", "epoch = 3\n"),
        "not_model": write("not_model.npz", "hello"),
        "tmp": str(tmp_path),
    }


ERROR_CASES = [
    # (argv with {placeholders}, expected text in the one-line message)
    (["compare", "--dataset", "{missing}", "--target", "label"], "No such file: '{missing}'"),
    (["compare", "--dataset", "{dir}/sub.csv", "--target", "label"], "No such file"),
    (
        ["compare", "--dataset", "{nan}", "--target", "label"],
        "Column 'x2' at line 3 of '{nan}' holds 'nan' (NaN or inf)",
    ),
    (
        ["compare", "--dataset", "{inf}", "--target", "label"],
        "Column 'x2' at line 3 of '{inf}' holds '-inf' (NaN or inf)",
    ),
    (
        ["compare", "--dataset", "{text}", "--target", "label"],
        "Column 'x2' at line 3 of '{text}' holds 'high', which is not a number",
    ),
    (
        ["compare", "--dataset", "{good}", "--target", "y"],
        "Target column 'y' not found in '{good}'. Available columns: 'x1', 'x2', 'label'",
    ),
    (["compare", "--dataset", "{one_class}", "--target", "label"], "holds a single class ('a')"),
    (["compare", "--dataset", "{good}"], "needs --target, the name of its label column"),
    (["compare", "--dataset", "nosuchset"], "Unknown dataset 'nosuchset'"),
    (
        ["compare", "--target", "label"],
        "--target applies only to CSV/NPZ files, not to the built-in",
    ),
    (
        ["compare", "--optimizers", "gd,adamm"],
        "Unknown optimizer 'adamm'; the known optimizers are gd, momentum",
    ),
    (
        ["compare", "--optimizers", "adam:b3=0.9"],
        "Unknown hyperparameter 'b3' for optimizer 'adam'",
    ),
    (
        ["compare", "--optimizers", "adam:b1=1.5"],
        "The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead.",
    ),
    (
        ["compare", "--optimizers", "adam:b1=[0.9,0.8]"],
        "The 'b1' setting of 'adam' must be one value, not a list or an array",
    ),
    (
        ["compare", "--optimizers", "gd,lr=0.1"],
        "the setting 'lr=0.1' after 'gd' belongs to no name",
    ),
    (
        ["compare", "--lr", "0"],
        "The 'learning_rate' parameter of the experiment configuration must be a float in the range (0.0, 10000.0]. Got 0.0 instead.",
    ),
    (["compare", "--lr", "-0.5"], "must be a float in the range (0.0, 10000.0]. Got -0.5 instead."),
    (
        ["compare", "--optimizers", "adam:lr=-1"],
        "The 'learning_rate' parameter of adam must be a float in the range (0.0, 10000.0]. "
        "Got -1.0 instead.",
    ),
    (
        ["compare", "--batch-size", "0"],
        "The 'batch_size' parameter of the experiment configuration must be an int in the range [1, 10000000]. Got 0 instead.",
    ),
    (
        ["compare", "--epochs", "0"],
        "The 'epochs' parameter of the experiment configuration must be an int in the range [1, 10000000]. Got 0 instead.",
    ),
    (
        ["compare", "--layers", "5,x"],
        "--layers must be the hidden layer sizes as integers from 1 to 65536 separated by commas (at most 64 layers), e.g. --layers 5,2. Got '5,x' instead.",
    ),
    (["compare", "--layers", "5,,2"], "Got '5,,2' instead."),
    (["compare", "--schedule", "warp:x=1"], "Unknown schedule 'warp'"),
    (["compare", "--schedule", "inverse_time"], "Schedule 'inverse_time' needs 'decay_rate'"),
    (
        ["compare", "--test-size", "1.5"],
        "The 'test_size' parameter of the experiment configuration must be a float in the range (0.0, 1.0)",
    ),
    (["compare", "--config", "{missing}"], "No such file"),
    (["compare", "--config", "{toml_bad}"], "is not valid TOML"),
    (["compare", "--config", "{toml_unknown}"], "Unknown setting 'epoch' in '{toml_unknown}'"),
    (["train", "--optimizer", "gd,adam"], "--optimizer takes one optimizer"),
    (["predict", "{missing}", "{good}"], "No such file: '{missing}'"),
    (["predict", "{not_model}", "{good}"], "is not a descentlab model file"),
    (["report", "{missing}"], "No such run folder"),
    (["report", "{tmp}"], "has no results.json"),
    (
        ["datasets", "--export", "moons", "{tmp}/no/such/dir/m.csv"],
        "Cannot write '{tmp}/no/such/dir/m.csv': the folder '{tmp}/no/such/dir' does not exist",
    ),
    (
        ["datasets", "--export", "{tmp}/data.npz", "{tmp}/copy.csv"],
        "--export takes a built-in dataset name; '{tmp}/data.npz' is a file already.",
    ),
]


@pytest.mark.parametrize(("argv", "message"), ERROR_CASES)
def test_errors_are_one_line_with_status_2(capsys, files, argv, message):
    argv = [a.format(**files) for a in argv]
    rc, _, err = run_cli(capsys, argv)
    assert rc == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("descentlab: error: ")
    assert message.format(**files) in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--epochs", "ten"], "argument --epochs: expected a whole number, got 'ten'"),
        (["compare", "--bogus"], "unrecognized arguments: --bogus"),
        (["nosuchcommand"], "argument COMMAND: invalid choice: 'nosuchcommand'"),
        (["compare", "--init", "zeros"], "argument --init: invalid choice: 'zeros'"),
    ],
)
def test_argparse_usage_errors_are_one_line_with_status_2(capsys, argv, message):
    rc, out, err = run_cli(capsys, argv)
    assert (rc, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"descentlab: error: {message}"), err
    command = "descentlab compare" if argv[0] == "compare" else "descentlab"
    assert err.endswith(f" (see '{command} --help')\n")


def test_predict_input_errors(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert run_cli(capsys, ["train", "--epochs", "5", "--quiet", "--out", str(model)])[0] == 0
    cases = {
        "x1,y\n1,0\n": "lacks the feature column 'x2'; the model needs the columns 'x1', 'x2'",
        "x1,x2\n1,abc\n": "Column 'x2' at line 2 of",
        "x1,x2\n1,nan\n": "holds 'nan' (NaN or inf)",
        "x1,x2\n1,\n": "Column 'x2' at line 2",
        "x1,x2,y\n1,2,7\n": "The label '7' in column 'y'",
        "x1,x2\n": "has a header but no examples",
    }
    for text, message in cases.items():
        path = tmp_path / "in.csv"
        path.write_text(text)
        rc, _, err = run_cli(capsys, ["predict", str(model), str(path)])
        assert rc == 2
        assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--lr", "0"], "descentlab: error: The 'learning_rate' parameter"),
        (["predict", "missing.npz", "x.csv"], "descentlab: error: No such file: 'missing.npz'."),
    ],
)
def test_errors_in_a_real_process_have_no_traceback(tmp_path, argv, message):
    proc = subprocess.run(
        [sys.executable, "-m", "descentlab", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(message), proc.stderr


# ----------------------------------------------------------------------------- train / predict


def test_train_saves_a_model_that_predict_uses(capsys, tmp_path):
    model_path = tmp_path / "model.npz"
    rc, out, _ = run_cli(
        capsys,
        [
            "train",
            "--optimizer",
            "adam:lr=0.01",
            "--epochs",
            "300",
            "--quiet",
            "--out",
            str(model_path),
        ],
    )
    assert rc == 0
    header, row = out.splitlines()[:2]
    assert header.split()[0] == "optimizer" and row.split()[0] == "adam:lr=0.01"
    assert out.splitlines()[3] == f"Model: {model_path}  (layer_dims [2, 5, 2, 1], classes [0, 1])"
    model = load_model(model_path)
    assert model.net.layer_dims == (2, 5, 2, 1)
    assert model.classes == (0, 1) and model.feature_names == ("x1", "x2") and model.target == "y"
    assert model.meta["optimizer"] == "adam:lr=0.01"
    assert model.meta["config"]["epochs"] == 300
    assert model.history["cost"].shape == (300,)
    assert model.history["eval_epochs"].tolist() == [0, 99, 199, 299]
    train_acc = model.meta["summary"]["train_accuracy"]
    moons = load_moons()
    assert model.net.accuracy(model.params, moons.X, moons.y) == pytest.approx(train_acc)
    assert f"{train_acc:.4f}" == row.split()[1]

    # predict on the seed's own training points, exported as CSV
    points = tmp_path / "moons.csv"
    assert run_cli(capsys, ["datasets", "--export", "moons", str(points)])[0] == 0
    preds = tmp_path / "preds.csv"
    rc, out, _ = run_cli(capsys, ["predict", str(model_path), str(points), "--out", str(preds)])
    assert rc == 0
    correct = round(train_acc * 300)
    assert out.splitlines() == [
        f"Wrote 300 predictions to {preds}",
        f"Accuracy on column 'y': {correct / 300:.4f} ({correct}/300)",
    ]
    with preds.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["prediction", "p_0", "p_1"]
    assert len(rows) == 301
    proba = np.array([[float(p) for p in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=2e-6)
    expected = model.net.predict_proba(model.params, moons.X).T
    np.testing.assert_allclose(proba, expected, atol=5e-7)
    assert [int(r[0]) for r in rows[1:]] == model.net.predict(model.params, moons.X).tolist()

    # without --out: CSV on stdout, accuracy on stderr
    rc, out, err = run_cli(capsys, ["predict", str(model_path), str(points)])
    assert rc == 0 and out == preds.read_text()
    assert err == f"Accuracy on column 'y': {correct / 300:.4f} ({correct}/300)\n"


def test_train_and_predict_keep_original_labels_and_standardization(capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2)) * [100.0, 0.01] + [500.0, 3.0]
    labels = np.where((X[:, 0] - 500) / 100 + (X[:, 1] - 3) / 0.01 > 0, "dog", "cat")
    data = tmp_path / "pets.csv"
    data.write_text(
        "w,h,kind\n" + "".join(f"{a},{b},{k}\n" for (a, b), k in zip(X, labels, strict=True))
    )
    model_path = tmp_path / "pets.npz"
    rc, _, _ = run_cli(
        capsys,
        [
            "train",
            "--dataset",
            str(data),
            "--target",
            "kind",
            "--optimizer",
            "adam:lr=0.05",
            "--epochs",
            "100",
            "--quiet",
            "--out",
            str(model_path),
        ],
    )
    assert rc == 0
    model = load_model(model_path)
    assert model.classes == ("cat", "dog") and model.target == "kind"
    # the statistics of the training part of the split (25 % held out, seed 1), not of all rows
    train_part, _ = load_csv(data, "kind").split(0.25, 1)
    np.testing.assert_allclose(model.mean.ravel(), train_part.X.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(model.std.ravel(), train_part.X.std(axis=1), rtol=1e-12)
    assert not np.allclose(model.mean.ravel(), X.mean(axis=0), rtol=1e-6, atol=0)
    new = tmp_path / "new.csv"
    new.write_text("id,h,w\n1,3.02,600\n2,2.98,400\n")  # other column order, an extra column
    rc, out, err = run_cli(capsys, ["predict", str(model_path), str(new)])
    assert rc == 0 and err == ""
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction", "p_cat", "p_dog"]
    assert [r[0] for r in rows[1:]] == ["dog", "cat"]
    # with the label column: text labels are matched to the model's classes
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("w,h,kind\n600,3.02,dog\n400,2.98,dog\n")
    rc, out, err = run_cli(capsys, ["predict", str(model_path), str(labelled)])
    assert rc == 0 and [r.split(",")[0] for r in out.splitlines()[1:]] == ["dog", "cat"]
    assert err == "Accuracy on column 'kind': 0.5000 (1/2)\n"


def test_train_takes_the_one_optimizer_of_a_config_and_says_what_it_trains(capsys, tmp_path):
    config = tmp_path / "one.toml"
    config.write_text(
        'epochs = 20\nlearning_rate = 0.05\n[[optimizers]]\nname = "momentum"\nbeta = 0.8\n'
    )
    model_path = tmp_path / "m.npz"
    rc, out, err = run_cli(capsys, ["train", "--config", str(config), "--out", str(model_path)])
    assert rc == 0
    assert err == "descentlab train: moons, momentum:beta=0.8; 20 epochs, batch 64, lr 0.05\n"
    assert out.splitlines()[1].split()[0] == "momentum:beta=0.8"
    model = load_model(model_path)
    assert model.meta["optimizer"] == "momentum:beta=0.8"
    assert model.meta["config"]["optimizers"] == [
        {"name": "momentum", "label": "momentum:beta=0.8", "beta": 0.8}
    ]


@pytest.fixture
def ctrl_c_at_epoch_4(monkeypatch):
    """Ctrl-C arrives while the engine trains a population, after its epoch 4."""
    from descentlab.experiments import population as population_module

    real = population_module.train

    def interrupt_after_epoch_4(*args, on_epoch=None, **kwargs):
        def hook(epoch, logs):
            if on_epoch is not None:
                on_epoch(epoch, logs)
            if epoch == 4:
                raise KeyboardInterrupt

        return real(*args, on_epoch=hook, **kwargs)

    monkeypatch.setattr(population_module, "train", interrupt_after_epoch_4)


def test_train_interrupted_saves_the_model_so_far_with_status_130(
    capsys, tmp_path, ctrl_c_at_epoch_4
):
    model_path = tmp_path / "m.npz"
    rc, out, err = run_cli(capsys, ["train", "--epochs", "50", "-q", "--out", str(model_path)])
    assert rc == 130
    assert err == f"descentlab: interrupted; the model so far is saved in {model_path}\n"
    assert out.splitlines()[1].split()[-1] == "interrupted"
    model = load_model(model_path)
    assert model.meta["summary"]["status"] == "interrupted"
    assert model.history["cost"].shape == (5,)


def test_train_json_and_default_optimizer(capsys, tmp_path):
    rc, out, _ = run_cli(
        capsys, ["train", "--format", "json", "--out", str(tmp_path / "m.npz"), *FAST]
    )
    assert rc == 0
    result = json.loads(out)
    assert result["optimizer"] == "adam" and result["epochs_run"] == 20
    assert result["hyperparameters"]["eps_root"] == 1e-8  # the seed's Adam
    assert result["model"] == str(tmp_path / "m.npz")


# ----------------------------------------------------------------------------- datasets


def test_datasets_lists_shapes(capsys):
    rc, out, _ = run_cli(capsys, ["datasets"])
    assert rc == 0
    table = {line.split()[0]: line.split()[1:4] for line in out.splitlines()[1:11]}
    assert table == {
        "moons": ["2", "300", "2"],
        "circles": ["2", "300", "2"],
        "blobs": ["2", "300", "3"],
        "spiral": ["2", "300", "3"],
        "xor": ["2", "300", "2"],
        "gaussian_quantiles": ["2", "300", "2"],
        "breast_cancer": ["30", "569", "2"],
        "iris": ["4", "150", "3"],
        "wine": ["13", "178", "3"],
        "digits": ["64", "1797", "10"],
    }
    rc, out, _ = run_cli(capsys, ["datasets", "--format", "json"])
    rows = json.loads(out)
    assert rows[7] == {
        "name": "iris",
        "task": "classification",
        "n_features": 4,
        "n_examples": 150,
        "n_classes": 3,
        "description": "Fisher's iris flowers, three species.",
    }


def test_datasets_export_round_trips(capsys, tmp_path):
    path = tmp_path / "m.csv"
    rc, out, _ = run_cli(capsys, ["datasets", "--export", "moons", str(path)])
    assert (
        rc == 0 and out == f"Wrote moons: 300 examples, 2 features and label column 'y' to {path}\n"
    )
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    moons = load_moons()
    assert rows[0] == ["x1", "x2", "y"]
    np.testing.assert_array_equal(
        np.array([[float(a), float(b)] for a, b, _ in rows[1:]]).T, moons.X
    )
    assert [int(r[2]) for r in rows[1:]] == moons.y.tolist()
    rc, _, _ = run_cli(capsys, ["datasets", "--export", "iris", str(tmp_path / "iris.csv")])
    assert (tmp_path / "iris.csv").read_text().splitlines()[1].endswith(",setosa")


# ----------------------------------------------------------------------------- hostile numbers


def _no_new_files(tmp_path, argv, message, capsys):
    """Run ``argv`` in ``tmp_path``: status 2, one line holding ``message``, nothing written."""
    before = sorted(tmp_path.rglob("*"))
    rc, out, err = run_cli(capsys, argv)
    assert (rc, out) == (2, ""), err
    assert err.count("\n") == 1 and err.startswith("descentlab: error: "), err
    assert message in err, err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "--seeds", "100000000"], "--seeds: a number of seeds must be from 1 to 10000"),
        (["sweep", "--seeds", "1e8"], "--seeds: expected a whole number, got '1e8'"),
        (["sweep", "--seeds", "0..100000000"], "at most 10000 seeds (descentlab.limits.MAX_SEEDS)"),
        (["sweep", "--seeds", "3,5000000000"], "a seed must be from 0 to 4294967295"),
        (["sweep", "--seeds", "9..3"], "expected FIRST..LAST with FIRST <= LAST"),
        (["sweep", "--seeds", ",".join(map(str, range(10_001)))], "expected 1 to 10000 seeds"),
        (["benchmark", "--eval-seeds", "4294967296"], "a number of seeds must be from 1 to 10000"),
        (["benchmark", "--tune-seeds=-1..3"], "a seed must be from 0 to 4294967295"),
        (["sweep", "--lr-points", "100000000"], "--lr-points: the number of values must be from"),
        (["benchmark", "--lr-points", "0"], "--lr-points: the number of values must be from 1"),
        (["sweep", "--batch-size", "32,x"], "--batch-size: expected a whole number, got 'x'"),
        (["sweep", "--test-seed", "-1"], "--test-seed: a seed must be from 0 to 4294967295"),
        (["compare", "--seed", "4294967296"], "--seed: a seed must be from 0 to 4294967295"),
        (["compare", "--seed", "٣"], "--seed: expected a whole number, got '٣'"),
        (["compare", "--epochs", "1e21"], "--epochs: expected a whole number, got '1e21'"),
        (["compare", "--epochs", "1" * 200], "--epochs: expected a whole number"),
        (["compare", "--lr", "nan"], "--lr: expected a finite number, got 'nan'"),
        (["compare", "--lr", "fast"], "--lr: expected a finite number, got 'fast'"),
        (["compare", "--lr", "1e999"], "--lr: expected a finite number, got '1e999'"),
        (["compare", "--test-size", "inf"], "--test-size: expected a fraction like 0.25"),
        (["trajectories", "--seed", "4294967296"], "--seed: a seed must be from 0 to 4294967295"),
    ],
)
def test_absurd_numbers_are_refused_while_parsing(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    _no_new_files(tmp_path, [*argv, "--out", "out"], message, capsys)


@pytest.mark.parametrize("command", ["compare", "train", "sweep", "benchmark"])
def test_a_huge_number_of_epochs_is_refused_up_front(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    argv = [command, "--epochs", "1000000000000000000000", "--out", "out", "-q"]
    _no_new_files(tmp_path, argv, "must be an int in the range [1, 10000000]", capsys)


def test_main_reports_a_bug_in_one_line_with_status_70(capsys, monkeypatch):
    import descentlab.cli.datasets as datasets_cli

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(datasets_cli, "run", broken)
    monkeypatch.delenv("DESCENTLAB_DEBUG", raising=False)
    rc, out, err = run_cli(capsys, ["datasets"])
    assert (rc, out) == (70, "")
    assert err == (
        "descentlab: internal error: ZeroDivisionError: division by zero (please report it; "
        "set DESCENTLAB_DEBUG=1 to see the traceback)\n"
    )
    monkeypatch.setenv("DESCENTLAB_DEBUG", "1")
    rc, _, err = run_cli(capsys, ["datasets"])
    assert rc == 70
    assert err.startswith("Traceback") and err.endswith("see the traceback)\n")


def test_ctrl_c_outside_a_command_s_own_handling_is_status_130(capsys, monkeypatch):
    import descentlab.cli.datasets as datasets_cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets_cli, "run", interrupted)
    assert run_cli(capsys, ["datasets"]) == (130, "", "descentlab: interrupted\n")


def test_sigterm_is_status_143_and_the_previous_handler_comes_back(capsys, monkeypatch):
    import os
    import signal
    import time

    import descentlab.cli.datasets as datasets_cli

    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this at once
        return 0

    monkeypatch.setattr(datasets_cli, "run", terminated)
    before = signal.getsignal(signal.SIGTERM)
    start = time.monotonic()
    assert run_cli(capsys, ["datasets"]) == (143, "", "descentlab: interrupted\n")
    assert time.monotonic() - start < 4
    assert signal.getsignal(signal.SIGTERM) is before


def test_main_runs_outside_the_main_thread(capsys):
    import signal
    import threading

    before = signal.getsignal(signal.SIGTERM)
    status = []
    thread = threading.Thread(target=lambda: status.append(main(["datasets", "--format", "json"])))
    thread.start()
    thread.join(60)
    out, err = capsys.readouterr()
    assert status == [0] and err == ""  # signals can be set in the main thread only
    assert {row["name"] for row in json.loads(out)} >= {"moons", "iris"}
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_closed_pipe_on_stdout_ends_quietly(capsys):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    # redirected inside the test, not monkeypatched: monkeypatch (set up before capsys by an
    # autouse fixture) would put back capsys's stream after capsys has closed it, leaving
    # sys.stdout closed for the rest of the session
    with contextlib.redirect_stdout(ClosedPipe()):
        assert main(["datasets"]) == 0  # e.g. `descentlab datasets | head -1`
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- nothing written


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.npz"
    assert main(["train", "--epochs", "5", "--quiet", "--out", str(path)]) == 0
    return path


def test_predict_writes_nothing_when_a_label_is_unknown(capsys, tmp_path, model):
    capsys.readouterr()
    data = tmp_path / "in.csv"
    data.write_text("x1,x2,y\n0.1,0.2,0\n0.3,0.4,7\n")
    out = tmp_path / "preds.csv"
    before = sorted(tmp_path.iterdir())
    rc, stdout, err = run_cli(capsys, ["predict", str(model), str(data), "--out", str(out)])
    assert (rc, stdout) == (2, "")
    assert err == (
        f"descentlab: error: The label '7' in column 'y' of '{data}' (row 2) is not one of the "
        "model's classes [0, 1].\n"
    )
    assert sorted(tmp_path.iterdir()) == before  # no predictions, no temporary file


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("no/such/dir/p.csv", "Cannot write '{tmp}/no/such/dir/p.csv': the folder"),
        (".", "'{tmp}' is a folder"),
    ],
)
def test_predict_checks_its_output_before_writing(capsys, tmp_path, model, out, message):
    capsys.readouterr()
    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n0.1,0.2\n")
    argv = ["predict", str(model), str(points), "--out", f"{tmp_path}/{out}"]
    _no_new_files(tmp_path, argv, message.format(tmp=tmp_path), capsys)


def _overflowing(model, path):
    """A copy of ``model`` (layer_dims [2, 5, 2, 1]) that overflows to +inf in both hidden
    layers for positive inputs, and whose output adds +inf and -inf: NaN."""
    with np.load(model) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W1"] = np.full((5, 2), 1e300)
    arrays["W2"] = np.full((2, 5), 1e300)
    arrays["W3"] = np.array([[1e300, -1e300]])
    np.savez(path, **arrays)
    return path


def test_predict_refuses_a_model_whose_probabilities_overflow(capsys, tmp_path, model):
    capsys.readouterr()
    huge = _overflowing(model, tmp_path / "huge.npz")
    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n0.5,0.3\n2.0,1.0\n")
    argv = ["predict", str(huge), str(points), "--out", str(tmp_path / "p.csv")]
    _no_new_files(tmp_path, argv, f"no finite probabilities for row 1 of '{points}'", capsys)


def test_train_refuses_to_save_weights_that_are_not_finite(capsys, tmp_path):
    # Adam without any epsilon divides 0 by 0 for a dead ReLU unit: NaN weights.
    out = tmp_path / "sub" / "nan.npz"
    argv = ["train", "--optimizer", "adam:lr=10,eps=0,eps_root=0", "--epochs", "50", "-q"]
    _no_new_files(tmp_path, [*argv, "--out", str(out)], f"Not saving '{out}'", capsys)


def test_train_saves_a_diverged_model_whose_weights_are_finite(capsys, tmp_path):
    out = tmp_path / "m.npz"
    rc, _, err = run_cli(
        capsys, ["train", "--optimizer", "gd:lr=5000", "--epochs", "30", "-q", "--out", str(out)]
    )
    assert rc == 0
    assert err.startswith("descentlab: warning: Training diverged at epoch 0")
    assert load_model(out).meta["summary"]["status"] == "diverged"


def test_datasets_export_checks_the_destination_first(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    _no_new_files(
        tmp_path, ["datasets", "--export", "moons", "taken"], "'taken' is a folder", capsys
    )
    _no_new_files(
        tmp_path,
        ["datasets", "--export", "moons:n_samples=100000000000", "m.csv"],
        "must be an int in the range [2, 10000000]. Got 100000000000",
        capsys,
    )


def test_trajectories_check_both_outputs_before_drawing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.gif").mkdir()  # the GIF's name is taken by a folder: refuse before the PNG
    argv = ["trajectories", "--steps", "3", "--out", "t.png", "--animate", "--quiet"]
    _no_new_files(tmp_path, argv, "'t.gif' is a folder", capsys)
    argv = ["trajectories", "--steps", "3", "--out", "no/t.png", "--quiet"]
    _no_new_files(tmp_path, argv, "Cannot write 'no/t.png'", capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-concurrent", "65"], "--max-concurrent must be an int in the range [1, 64]"),
        (["--max-concurrent", "0"], "--max-concurrent must be an int in the range [1, 64]"),
        (["--port", "70000"], "--port must be an int in the range [1, 65535]. Got 70000"),
        (["--host", "a" * 300], "cannot listen on 'aaaa"),
        (["--host", "x\x00y"], "cannot listen on 'x\\x00y'"),
    ],
)
def test_playground_options_are_checked_before_serving(capsys, argv, message):
    rc, out, err = run_cli(capsys, ["playground", "--no-browser", *argv])
    assert (rc, out) == (2, "")
    assert err.count("\n") == 1 and message in err, err


# ----------------------------------------------------------------------------- shared options


def test_benchmark_takes_the_shared_data_and_training_options():
    from descentlab.cli import benchmark, build_parser
    from descentlab.experiments.specs import DatasetSpec

    argv = "benchmark --dataset iris --test-size 0.2 --test-seed 3 --val-seed 5 --shuffle none"
    spec = benchmark.spec_from_args(build_parser().parse_args(argv.split()))
    assert spec.dataset == DatasetSpec("iris", holdout="split", test_size=0.2, test_seed=3)
    assert (spec.val_seed, spec.shuffle) == (5, "none")
    assert benchmark.spec_from_args(build_parser().parse_args([*argv.split(), "--layers", "8,4"])
                                    ).layers == (8, 4)  # fmt: skip


def test_sweep_takes_a_schedule_and_layers():
    from descentlab.cli import build_parser, sweep
    from descentlab.experiments.specs import ScheduleSpec

    argv = "sweep --out s --schedule inverse_time:decay_rate=0.5 --layers 3 --param schedule.decay_rate=0.1,1"
    spec = sweep.spec_from_args(build_parser().parse_args(argv.split()))
    assert spec.schedule == ScheduleSpec("inverse_time", {"decay_rate": 0.5})
    assert spec.layers == (3,)
    assert [a.name for a in spec.axes] == ["learning_rate", "schedule.decay_rate"]


def test_error_message_is_one_line_naming_the_file():
    from descentlab.cli import error_message

    missing = FileNotFoundError(2, "No such file or directory", "data/x.csv")
    assert error_message(missing) == "No such file or directory: 'data/x.csv'"
    assert error_message(ValueError("two\nlines  and   spaces")) == "two lines and spaces"
    assert error_message(KeyError()) == "KeyError"


def test_train_without_out_saves_under_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, _ = run_cli(capsys, ["train", "--epochs", "3", "-q"])
    assert rc == 0
    (saved,) = (tmp_path / "runs").iterdir()
    assert saved.name.startswith("moons-adam-") and saved.suffix == ".npz"
    assert out.splitlines()[-1].startswith(f"Model: {Path('runs') / saved.name}  (layer_dims")
    assert load_model(saved).history["cost"].shape == (3,)


def test_choices_come_from_the_library_registries(capsys):
    from descentlab.experiments.parallel import BACKENDS
    from descentlab.nn import ACTIVATIONS, INITIALISERS
    from descentlab.training import SHUFFLES

    for command in ("compare", "train", "sweep", "benchmark"):
        _, out, _ = run_cli(capsys, [command, "--help"])
        for names in (ACTIVATIONS, INITIALISERS, SHUFFLES):
            assert "{" + ",".join(names) + "}" in out
    _, out, _ = run_cli(capsys, ["sweep", "--help"])
    assert "{" + ",".join(BACKENDS) + "}" in out


# ----------------------------------------------------------------------------- sweep table


def test_sweep_table_comes_from_the_rows_not_the_summary_file(capsys, tmp_path, monkeypatch):
    from descentlab.experiments import sweep as sweep_module

    row = {
        "run_id": "r0", "config_id": "c0", "optimizer": "adam", "learning_rate": "0.01",
        "val_accuracy": "0.9", "test_accuracy": "0.85", "final_cost": "0.2", "diverged": "false",
    }  # fmt: skip
    rows = [
        row,
        {**row, "run_id": "r1", "config_id": "c1", "learning_rate": "0.1", "val_accuracy": "nan",
         "diverged": "true"},
        {**row, "run_id": "r2", "config_id": "c2", "optimizer": "gd", "val_accuracy": "nan",
         "test_accuracy": "nan", "diverged": "true"},
    ]  # fmt: skip
    (tmp_path / "summary.csv").write_text("garbage\n\x00,,\n")

    def fake_run_sweep(spec, out_dir, **kwargs):
        return sweep_module.SweepResult(Path(out_dir), rows, 3, 3, "completed", 0.1, ["x.csv"])

    monkeypatch.setattr(sweep_module, "run_sweep", fake_run_sweep)
    rc, out, _ = run_cli(capsys, ["sweep", "--out", str(tmp_path), "-q"])
    assert rc == 0
    table = [line.split() for line in out.splitlines()[1:3]]
    assert table == [
        ["adam", "0.01", "0.9000", "0.8500", "0/1"],
        ["gd", "0.01", "nan", "nan", "1/1"],
    ]


def test_sweep_says_what_it_does_and_stops_on_ctrl_c_with_status_130(capsys, tmp_path, monkeypatch):
    argv = ["sweep", "--optimizers", "adam", "--lr", "0.01,0.1", "--seeds", "1", "--epochs", "8"]
    rc, out, err = run_cli(capsys, [*argv, "--no-plots", "--out", str(tmp_path / "done")])
    assert rc == 0 and out.splitlines()[1].split()[0] == "adam"
    assert err.splitlines()[0].startswith("descentlab sweep: 2 runs")
    assert err.splitlines()[-1].startswith(
        "descentlab sweep: completed: 2 of 2 runs in results.csv"
    )

    from descentlab.experiments import population as population_module

    real = population_module.train

    def interrupted(*args, on_epoch=None, **kwargs):
        def hook(epoch, logs):
            raise KeyboardInterrupt

        return real(*args, on_epoch=hook, **kwargs)

    monkeypatch.setattr(population_module, "train", interrupted)
    out_dir = tmp_path / "cut"
    rc, out, err = run_cli(capsys, [*argv, "-q", "--out", str(out_dir)])
    assert (rc, out, err) == (130, "", "")
    assert (out_dir / "results.csv").read_text().count("\n") == 1  # the header, no run finished
    assert not (out_dir / "summary.csv").exists()


# ----------------------------------------------------------------------------- quiet runs


def _quiet_process(tmp_path, *argv):
    return subprocess.run(
        [sys.executable, "-m", "descentlab", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--optimizers", "gd:lr=5000,adam", "--epochs", "30", "-q", "--out", "c"],
        ["train", "--optimizer", "adam:lr=10,eps=0,eps_root=0", "--epochs", "30", "-q"],
        ["trajectories", "--function", "saddle", "--lr", "100", "--quiet", "--out", "t.png"],
        ["trajectories", "--start=1e300,1e300", "--quiet", "--out", "t.png"],
        ["trajectories", "--noise", "--start=1e300,-1e300", "--quiet", "--out", "n.png"],
    ],
    ids=["compare", "train", "trajectories", "trajectories-start", "trajectories-noise"],
)
def test_quiet_runs_print_no_numpy_warnings(tmp_path, argv):
    proc = _quiet_process(tmp_path, *argv)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("descentlab: error:")


def test_predict_with_huge_weights_prints_no_numpy_warnings(tmp_path, model):
    _overflowing(model, tmp_path / "huge.npz")
    (tmp_path / "p.csv").write_text("x1,x2\n0.5,0.25\n")
    proc = _quiet_process(tmp_path, "predict", "huge.npz", "p.csv", "--out", "out.csv")
    assert proc.returncode == 2
    assert "Warning" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "out.csv").exists()
