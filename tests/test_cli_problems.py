"""``descentlab problems`` and ``--problem`` on every command that trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from descentlab.cli import main
from descentlab.experiments.config import ExperimentConfig
from descentlab.model_file import load_model
from descentlab.problems import PROBLEMS, get_problem

LISTING = """\
problem          data (train/val/test)           network             loss           batch  budget                   target
seed-moons       moons 300/300/300               2-5-2-1 relu        cross-entropy     64  2500 steps (500 epochs)  val accuracy >= 0.9
mnist1d          mnist1d 3000/1000/1000          40-100-100-10 relu  cross-entropy    100  750 steps (25 epochs)    val accuracy >= 0.58
digits           digits 897/450/450              64-32-10 relu       cross-entropy     64  750 steps (50 epochs)    val accuracy >= 0.95
breast-cancer    breast_cancer 283/143/143       30-16-1 relu        cross-entropy     32  225 steps (25 epochs)    val accuracy >= 0.95
noisy-quadratic  noisy_quadratic 1000/1000/1000  100-1               squared error    128  800 steps (100 epochs)   val loss <= 0.6
spiral           spiral 600/600/600              2-32-32-3 relu      cross-entropy     64  1500 steps (150 epochs)  val accuracy >= 0.95

Train on one with --problem NAME (compare, train, sweep, benchmark); details: descentlab problems describe NAME.
"""

DESCRIBE_SEED_MOONS = """\
problem        seed-moons
summary        The seed's study: its 300 moons examples, layer_dims [2, 5, 2, 1], batch 64.
data           name=moons, holdout=fresh, test_seed=1, standardize=False
examples       300 training, 300 validation, 300 test; 2 features, 1 output units
network        layer_dims [2, 5, 2, 1], relu hidden units
loss           cross-entropy
batch size     64
budget         500 epochs x 5 steps = 2500 steps
target         val accuracy >= 0.9
learning rate  0.01 (default of compare/train --problem)
reference      The seed: the 'Optimization Methods' exercise (its opt_utils.load_dataset and model(); 10000 epochs at lr 0.0007 give train accuracy 0.7967 for gd and momentum, 0.9400 for Adam).
"""


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, argv, match: str) -> None:
    rc, out, err = run_cli(capsys, argv)
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("descentlab: error:"), err
    assert match in lines[0], lines[0]


# ----------------------------------------------------------------------------- descentlab problems


def test_list(capsys) -> None:
    assert run_cli(capsys, ["problems"]) == (0, LISTING, "")
    assert run_cli(capsys, ["problems", "list"]) == (0, LISTING, "")


def test_describe(capsys) -> None:
    assert run_cli(capsys, ["problems", "describe", "seed_moons"]) == (0, DESCRIBE_SEED_MOONS, "")
    rc, out, _ = run_cli(capsys, ["problems", "describe", "noisy-quadratic"])
    assert rc == 0
    assert "network        layer_dims [100, 1], no hidden layer\n" in out
    assert "data           name=noisy_quadratic, holdout=fresh, test_seed=1" in out


def test_json(capsys) -> None:
    rc, out, _ = run_cli(capsys, ["problems", "--json"])
    assert rc == 0
    expected = [get_problem(name).describe() for name in PROBLEMS]
    assert json.loads(out) == json.loads(json.dumps(expected))
    rc, out, _ = run_cli(capsys, ["problems", "describe", "mnist1d", "--json"])
    assert rc == 0
    assert json.loads(out) == json.loads(json.dumps(get_problem("mnist1d").describe()))


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["problems", "describe", "imagenet"], "Unknown problem 'imagenet'. Expected one of"),
        (["problems", "describe"], "needs a problem name"),
        (["problems", "list", "mnist1d"], "descentlab problems describe mnist1d"),
        (["problems", "show"], "invalid choice: 'show'"),
    ],
)
def test_bad_arguments_are_one_line(capsys, argv, match) -> None:
    refused(capsys, argv, match)


# ----------------------------------------------------------------------------- --problem


def test_compare_with_a_problem(capsys, tmp_path: Path) -> None:
    out = tmp_path / "run"
    rc, _, err = run_cli(
        capsys, ["compare", "--problem", "digits", "--epochs", "2", "--out", str(out), "-q"]
    )
    assert rc == 0, err
    results = json.loads((out / "results.json").read_text())
    p = get_problem("digits")
    assert results["problem"] == "digits" and results["name"] == "digits"
    assert results["layer_dims"] == [64, 32, 10]
    config = ExperimentConfig.from_toml(out / "config.toml")
    assert config == ExperimentConfig().with_problem("digits", epochs=2)
    assert (config.dataset, config.batch_size, config.learning_rate) == (
        p.dataset,
        p.batch_size,
        p.learning_rate,
    )
    assert results["config"]["problem"] == "digits"


def test_explicit_options_win_over_the_problem(capsys, tmp_path: Path) -> None:
    argv = ["compare", "--problem", "spiral", "--layers", "8", "--batch-size", "16",
            "--activation", "tanh", "--lr", "0.05", "--epochs", "1", "--out",
            str(tmp_path / "r"), "-q", "--format", "json"]  # fmt: skip
    rc, out, err = run_cli(capsys, argv)
    assert rc == 0, err
    config = json.loads(out)["config"]
    assert (config["layers"], config["batch_size"], config["activation"]) == ([8], 16, "tanh")
    assert (config["learning_rate"], config["epochs"], config["problem"]) == (0.05, 1, "spiral")
    assert config["dataset"]["noise"] == 0.05  # the problem's data


def test_train_with_a_problem(capsys, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    argv = ["train", "--problem", "breast-cancer", "--epochs", "2", "--out", str(path), "-q"]
    rc, _, err = run_cli(capsys, argv)
    assert rc == 0, err
    model = load_model(path)
    assert model.net.layer_dims == (30, 16, 1)
    assert model.meta["config"]["problem"] == "breast-cancer"
    assert model.meta["config"]["batch_size"] == 32


def test_sweep_with_a_problem_records_it(capsys, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--problem", "seed-moons", "--epochs", "2", "--seeds", "1", "--lr", "0.1",
            "--optimizers", "adam", "--out", str(out), "-q", "--no-plots"]  # fmt: skip
    rc, _, err = run_cli(capsys, argv)
    assert rc == 0, err
    document = json.loads((out / "sweep.json").read_text())
    p = get_problem("seed-moons")
    assert document["problem"] == "seed-moons"
    spec = document["spec"]
    assert (spec["layers"], spec["batch_sizes"], spec["epochs"]) == ([5, 2], [p.batch_size], 2)
    assert spec["dataset"]["name"] == "moons"
    # resuming the finished sweep with the same options trains nothing and keeps the record
    rc, _, err = run_cli(capsys, [*argv, "--resume"])
    assert rc == 0, err
    assert json.loads((out / "sweep.json").read_text())["problem"] == "seed-moons"


def test_sweep_with_a_problem_trains_its_data(capsys, tmp_path: Path) -> None:
    """The sweep's rows are those of the problem's runs trained on the problem's data."""
    from descentlab.experiments.population import train_population

    out = tmp_path / "sweep"
    argv = ["sweep", "--problem", "breast-cancer", "--epochs", "3", "--seeds", "2", "--lr",
            "0.01", "--optimizers", "adam", "--out", str(out), "-q", "--no-plots"]  # fmt: skip
    rc, _, err = run_cli(capsys, argv)
    assert rc == 0, err
    rows = (out / "results.csv").read_text().splitlines()
    header = rows[0].split(",")
    got = [float(r.split(",")[header.index("val_accuracy")]) for r in rows[1:]]
    p = get_problem("breast-cancer")
    runs = [p.run("adam", {"lr": 0.01}, seed=s, epochs=3) for s in (0, 1)]
    expected = [row["val_accuracy"] for row in train_population(runs, p.data(), engine="numpy")]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("command", ["compare", "train", "sweep"])
@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--dataset", "iris"], "--dataset"),
        (["--target", "y"], "--target"),
        (["--test-size", "0.2"], "--test-size"),
    ],
)
def test_problem_with_own_data_options_is_refused(capsys, tmp_path, command, extra, flag) -> None:
    out = tmp_path / ("m.npz" if command == "train" else "out")
    refused(
        capsys,
        [command, "--problem", "digits", *extra, "--epochs", "1", "--out", str(out), "-q"],
        f"--problem digits fixes its data; {flag} describes one's own data",
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["compare", "train", "sweep"])
def test_unknown_problem_is_one_line(capsys, tmp_path, command) -> None:
    out = tmp_path / "out"
    refused(
        capsys,
        [command, "--problem", "mnist", "--epochs", "1", "--out", str(out), "-q"],
        "Unknown problem 'mnist'. Expected one of seed-moons, mnist1d, digits",
    )
    assert not out.exists()


def test_sweep_refuses_val_seed_with_a_problem(capsys, tmp_path) -> None:
    argv = ["sweep", "--problem", "digits", "--val-seed", "5", "--out", str(tmp_path / "s")]
    refused(capsys, argv, "--val-seed describes one's own data")


def test_problem_names_for_a_list_option() -> None:
    import argparse

    from descentlab.cli.options import problem_names

    assert problem_names("mnist1d, DIGITS,seed_moons") == ("mnist1d", "digits", "seed-moons")
    assert problem_names("all") == PROBLEMS
    for bad, match in (("mnist1d,mnist1d", "twice"), ("nope", "Unknown problem"), (",", "1 to")):
        with pytest.raises(argparse.ArgumentTypeError, match=match):
            problem_names(bad)
