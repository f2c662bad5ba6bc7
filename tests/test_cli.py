"""The command line: help with examples, one-line errors with exit status 2, train / predict / datasets."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from descentlab.cli import main
from descentlab.cli.train import load_model
from descentlab.datasets import load_moons

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
        "The 'learning_rate' parameter of adam must be a float > 0.0. Got -1.0 instead.",
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
    (["datasets", "--export", "moons", "{tmp}/no/such/dir/m.csv"], "No such file or directory"),
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


def test_argparse_usage_errors_exit_2(capsys):
    for argv in (
        ["compare", "--epochs", "ten"],
        ["compare", "--bogus"],
        ["nosuchcommand"],
        ["compare", "--init", "zeros"],
    ):
        rc, _, err = run_cli(capsys, argv)
        assert rc == 2
        assert "error:" in err and "Traceback" not in err


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
    np.testing.assert_allclose(model.mean.ravel(), X[: model.mean.size].mean(axis=0), rtol=0.2)
    new = tmp_path / "new.csv"
    new.write_text("id,h,w\n1,3.02,600\n2,2.98,400\n")  # other column order, an extra column
    rc, out, err = run_cli(capsys, ["predict", str(model_path), str(new)])
    assert rc == 0 and err == ""
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction", "p_cat", "p_dog"]
    assert [r[0] for r in rows[1:]] == ["dog", "cat"]


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
