"""The tuned benchmark: the learning rate picked on validation data, test statistics over fresh
seeds equal to the saved runs, the untuned seed setting beside, files, report and CLI; the spec
checked field by field and bounded, nothing written before the input is checked, SIGTERM."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import signal
from pathlib import Path

import numpy as np
import pytest

from descentlab import limits
from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli import benchmark as cli_benchmark
from descentlab.cli import main as cli_main
from descentlab.experiments.benchmark import (
    BenchmarkSpec,
    describe,
    pick_learning_rate,
    run_benchmark,
    table,
)
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.population import Run, train_population
from descentlab.experiments.results import read_results
from descentlab.experiments.specs import DatasetSpec
from descentlab.experiments.sweep_space import Axis, parse_axis
from test_sweep import assert_session_ends, needs_proc, start_command, wait_for_rows

SPEC = BenchmarkSpec(
    optimizers=(("gd", {}), ("adam", {})),
    learning_rates=parse_axis("lr=0.0007,0.01,0.3"),
    tune_seeds=(0, 1),
    eval_seeds=(10, 11, 12),
    epochs=40,
)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_pick_learning_rate_by_mean_validation_accuracy_then_cost() -> None:
    rows = [
        {"learning_rate": lr, "val_accuracy": acc, "val_cost": cost}
        for lr, acc, cost in [
            (0.1, 1.0, 0.30),
            (0.1, 0.75, 0.40),  # mean 0.875
            (0.01, 0.875, 0.20),
            (0.01, 0.875, 0.25),  # mean 0.875 too, lower cost: wins the tie
            (0.001, 1.0, 0.1),
            (0.001, 0.5, 0.9),  # mean 0.75
        ]
    ]
    best, curve = pick_learning_rate(rows)
    assert best == 0.01
    assert curve == {0.001: 0.75, 0.01: 0.875, 0.1: 0.875}
    # a diverged run (NaN cost) loses a tie on accuracy
    rows2 = [
        {"learning_rate": 1.0, "val_accuracy": 0.5, "val_cost": float("nan")},
        {"learning_rate": 0.1, "val_accuracy": 0.5, "val_cost": 5.0},
    ]
    assert pick_learning_rate(rows2)[0] == 0.1


def test_benchmark_tunes_on_validation_and_reports_fresh_seeds(tmp_path: Path) -> None:
    results = run_benchmark(SPEC, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "benchmark.json",
        "evaluation.csv",
        "lr_sensitivity.png",
        "report.html",
        "test_accuracy.png",
        "tuning.csv",
    ]
    tuning = _read(tmp_path / "tuning.csv")
    assert len(tuning) == 2 * 3 * 2
    evaluation = _read(tmp_path / "evaluation.csv")
    assert {int(r["seed"]) for r in evaluation} == {10, 11, 12}
    for entry in results["optimizers"]:
        name = entry["name"]
        own = [r for r in tuning if r["optimizer"] == name]
        means = {}
        for lr in {float(r["learning_rate"]) for r in own}:
            vals = [float(r["val_accuracy"]) for r in own if float(r["learning_rate"]) == lr]
            means[lr] = np.mean(vals)
        assert entry["tuning"] == pytest.approx(means)
        assert means[entry["tuned_lr"]] == max(means.values())
        for key, lr in (("tuned", entry["tuned_lr"]), ("untuned", 0.0007)):
            rows = [
                r for r in evaluation if r["optimizer"] == name and float(r["learning_rate"]) == lr
            ]
            assert len(rows) == 3
            acc = np.array([float(r["test_accuracy"]) for r in rows])
            cost = np.array([float(r["test_cost"]) for r in rows])
            assert entry[key]["lr"] == lr
            assert entry[key]["test_accuracy"]["mean"] == pytest.approx(acc.mean(), rel=1e-15)
            assert entry[key]["test_accuracy"]["std"] == pytest.approx(acc.std(), rel=1e-12)
            assert entry[key]["test_cost"]["mean"] == pytest.approx(cost.mean(), rel=1e-15)
            assert entry[key]["diverged"] == sum(r["diverged"] == "true" for r in rows)
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["optimizers"][0]["tuned_lr"] == results["optimizers"][0]["tuned_lr"]
    assert saved["dataset"] == {
        "name": "moons",
        "n_train": 300,
        "n_val": 300,
        "n_test": 300,
        "n_features": 2,
        "n_classes": 2,
        "classes": [0, 1],
        "feature_names": ["x1", "x2"],
        "holdout": "fresh",
        "standardized": False,
    }


def test_measured_runs_are_the_populations_numbers(tmp_path: Path) -> None:
    results = run_benchmark(SPEC, tmp_path)
    entry = results["optimizers"][1]  # adam
    data = load_experiment_data(DatasetSpec(), validation=True)
    runs = [SPEC.run("adam", {}, entry["tuned_lr"], s) for s in SPEC.eval_seeds]
    rows = train_population(runs, data)
    acc = np.array([r["test_accuracy"] for r in rows])
    assert entry["tuned"]["test_accuracy"]["mean"] == pytest.approx(acc.mean(), rel=1e-15)
    alone = train_population([Run("adam", {"lr": entry["tuned_lr"]}, epochs=40, seed=11)], data)
    assert alone[0]["test_accuracy"] == rows[1]["test_accuracy"]


def test_table_report_and_reading(tmp_path: Path) -> None:
    results = run_benchmark(SPEC, tmp_path)
    header, rows = table(results)
    assert header[0] == "optimizer" and header[4] == "test acc (lr 0.0007)"
    gd = results["optimizers"][0]
    t = gd["tuned"]["test_accuracy"]
    assert rows[0][2] == f"{t['mean']:.4f} ± {t['std']:.4f}"
    page = (tmp_path / "report.html").read_text()
    assert rows[0][2] in page and rows[1][4] in page
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page
    for sentence in describe(results):
        assert sentence.replace(">", "&gt;") in page
    assert describe(results)[0].startswith("Tuned, ")


def _measured(acc: float, std: float, cost: float, diverged: int) -> dict:
    stats = {"mean": acc, "std": std, "n": 3}
    return {"test_accuracy": stats, "test_cost": {"mean": cost, "std": 0.0, "n": 3},
            "diverged": diverged}  # fmt: skip


def test_reading_of_divergence_a_clear_lead_and_a_changed_ranking() -> None:
    results = {
        "spec": {"untuned_lr": 0.0007, "eval_seeds": [5, 6, 7]},
        "optimizers": [
            {"name": "gd", "settings": {}, "tuned_lr": 0.3,
             "tuned": _measured(0.90, 0.01, 0.25, 0), "untuned": _measured(0.80, 0.0, 0.5, 0)},
            {"name": "adam", "settings": {"b1": 0.5}, "tuned_lr": 0.01,
             "tuned": _measured(0.85, 0.02, 0.3, 1),
             "untuned": _measured(0.88, 0.01, float("nan"), 3)},
        ],
    }  # fmt: skip
    assert describe(results) == [
        "Tuned, gd reached the best mean test accuracy, 0.9000 ± 0.0100 (learning rate 0.3).",
        # a lead of 0.05 over a spread of 0.02: no call for more seeds
        "gd: tuning the learning rate from 0.0007 to 0.3 changed its mean test accuracy by +0.1000.",
        "adam:b1=0.5: tuning the learning rate from 0.0007 to 0.01 changed its mean test accuracy "
        "by -0.0300.",
        "adam:b1=0.5 diverged in 1 of 3 tuned runs.",
        "adam:b1=0.5 diverged in 3 of 3 untuned runs.",
        "Tuning changes the ranking: untuned adam:b1=0.5 > gd; tuned gd > adam:b1=0.5.",
    ]
    _, rows = table(results)
    assert rows == [
        ["gd", "0.3", "0.9000 ± 0.0100", "0.2500 ± 0.0000", "0.8000 ± 0.0000", "0.5000 ± 0.0000"],
        ["adam:b1=0.5", "0.01", "0.8500 ± 0.0200", "0.3000 ± 0.0000", "0.8800 ± 0.0100", "-"],
    ]


def test_spec_checks_fresh_seeds() -> None:
    with pytest.raises(InvalidParameterError, match=r"fresh .* \[1\]"):
        BenchmarkSpec(tune_seeds=(0, 1), eval_seeds=(1, 2))
    with pytest.raises(InvalidParameterError, match="learning rate only"):
        BenchmarkSpec(learning_rates=Axis("b1", values=(0.9,)))


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_benchmark.add_parser(parser.add_subparsers())
    return parser.parse_args(["benchmark", *argv])


def test_cli_defaults_are_the_seeds_problem() -> None:
    spec = cli_benchmark.spec_from_args(_args([]))
    assert spec == BenchmarkSpec()
    assert (spec.epochs, spec.batch_size, spec.layers, spec.untuned_lr) == (
        10000,
        64,
        (5, 2),
        0.0007,
    )
    assert spec.dataset == DatasetSpec("moons")
    assert [name for name, _ in spec.optimizers] == ["gd", "momentum", "adam"]
    assert spec.learning_rates.grid() == pytest.approx(np.geomspace(1e-4, 1e-1, 8))
    custom = cli_benchmark.spec_from_args(
        _args("--optimizers adam:b1=0.5 --lr 0.01,0.1 --tune-seeds 3 --eval-seeds 50..51".split())
    )
    assert custom.optimizers == (("adam", {"b1": 0.5}),)
    assert custom.learning_rates.grid() == [0.01, 0.1]
    assert (custom.tune_seeds, custom.eval_seeds) == ((0, 1, 2), (50, 51))


def test_cli_prints_the_table(tmp_path: Path, capsys) -> None:
    argv = "--optimizers adam --lr 0.01,0.1 --tune-seeds 2 --eval-seeds 5,6 --epochs 20 -q"
    assert cli_main(["benchmark", *argv.split(), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "benchmark.json").read_text())
    tuned = results["optimizers"][0]["tuned"]["test_accuracy"]
    assert f"{tuned['mean']:.4f} ± {tuned['std']:.4f}" in out
    assert f"Report: {tmp_path / 'report.html'}" in out
    assert (
        cli_main(["benchmark", *argv.split(), "--eval-seeds", "0,1", "--out", str(tmp_path)]) == 2
    )
    bad = ["--optimizers", "adam:b2=2", "--out", str(tmp_path / "bad")]
    assert cli_main(["benchmark", *bad]) == 2
    assert "'b2'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_json_format_and_progress_lines(tmp_path: Path, capsys) -> None:
    argv = "--optimizers adam --lr 0.01,0.1 --tune-seeds 2 --eval-seeds 7..7 --epochs 10"
    assert cli_main(["benchmark", *argv.split(), "--format", "json", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    printed = json.loads(out)
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert printed == {**saved, "report": str(tmp_path / "report.html")}
    assert err.splitlines() == [
        "descentlab benchmark: tuning 1 optimizers over 2 learning rates × 2 seeds (4 runs, "
        "10 epochs), then up to 2 runs on 1 fresh seeds",
        f"descentlab benchmark: tuned learning rates adam {saved['optimizers'][0]['tuned_lr']:.3g}",
        f"descentlab benchmark: done in {saved['seconds']:.1f} s; report {tmp_path / 'report.html'}",
    ]


# ----------------------------------------------------------------------------- checked input


def test_spec_round_trips_and_from_dict_checks_every_field() -> None:
    doc = json.loads(json.dumps(SPEC.to_dict()))
    assert BenchmarkSpec.from_dict(doc) == SPEC
    assert BenchmarkSpec.from_dict(BenchmarkSpec().to_dict()) == BenchmarkSpec()
    for key, value in [("epochs", "40"), ("tune_seeds", [0, 1.5]), ("untuned_lr", None)]:
        with pytest.raises(DataError, match=f"the benchmark spec is damaged: {key}"):
            BenchmarkSpec.from_dict({**doc, key: value})
    with pytest.raises(DataError, match="learning_rates has no 'points'"):
        lrs = {k: v for k, v in doc["learning_rates"].items() if k != "points"}
        BenchmarkSpec.from_dict({**doc, "learning_rates": lrs})
    with pytest.raises(DataError, match="unknown key 'speed'"):
        BenchmarkSpec.from_dict({**doc, "speed": 2})


BAD_SPECS: list[tuple[str, dict, str]] = [
    ("a tuning seed above 2**32 - 1", {"tune_seeds": (2**32,)}, "'tune_seeds'"),
    (
        "too many evaluation seeds",
        {"eval_seeds": range(200, 200 + limits.MAX_SEEDS + 1)},
        "MAX_SEEDS",
    ),
    ("a NaN untuned rate", {"untuned_lr": float("nan")}, "'untuned_lr'"),
    ("an untuned rate of 0", {"untuned_lr": 0.0}, "'untuned_lr'"),
    ("too many epochs", {"epochs": limits.MAX_EPOCHS + 1}, "'epochs'"),
    ("a batch size that is a bool", {"batch_size": True}, "'batch_size'"),
    ("a grid that is a list", {"learning_rates": [0.1]}, "'learning_rates'"),
    ("a huge chunk", {"chunk_size": 10**6}, "'chunk_size'"),
    ("a layer of 0 units", {"layers": (0,)}, "'layers'"),
    ("optimizers that are text", {"optimizers": "adam"}, "optimizers"),
    (
        "more runs than MAX_RUNS",
        {
            "learning_rates": Axis("learning_rate", low=1e-4, high=1.0, points=10_000),
            "tune_seeds": range(5),
        },
        "MAX_RUNS",
    ),
]


@pytest.mark.parametrize(
    ("change", "match"), [(c, m) for _, c, m in BAD_SPECS], ids=[n for n, _, _ in BAD_SPECS]
)
def test_spec_refuses_unbounded_or_mistyped_settings(change: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match) as error:
        dataclasses.replace(SPEC, **change)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"spec": dataclasses.replace(SPEC, dataset=DatasetSpec("missing.npz"))}, DataError),
        ({"spec": dataclasses.replace(SPEC, layers=(65536, 65536))}, InvalidParameterError),
        ({"spec": dataclasses.replace(SPEC, val_seed=1)}, InvalidParameterError),
        ({"backend": "dask"}, InvalidParameterError),
        ({"jobs": -2}, InvalidParameterError),
    ],
    ids=[
        "unreadable data",
        "too large for memory",
        "validation seed = test seed",
        "dask without a scheduler",
        "bad jobs",
    ],
)
def test_a_bad_setting_or_bad_data_leaves_no_folder(
    tmp_path: Path, change: dict, error: type[Exception]
) -> None:
    out = tmp_path / "new" / "bench"
    kwargs = {"spec": SPEC, **change}
    with pytest.raises(error):
        run_benchmark(kwargs.pop("spec"), out, **kwargs)
    assert not (tmp_path / "new").exists()


def test_an_output_under_a_file_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    with pytest.raises(DataError, match="is a file"):
        run_benchmark(SPEC, tmp_path / "file" / "bench")
    assert (tmp_path / "file").read_text() == "keep"


@needs_proc
def test_sigterm_stops_the_workers_and_keeps_the_finished_runs(tmp_path: Path) -> None:
    """SIGTERM to `descentlab benchmark --jobs 2` while its workers tune: exit status 143, the
    tuning runs finished so far in a valid tuning.csv, no worker process left running."""
    argv = (
        "--optimizers gd,adam --lr 1e-3..1e-1:3 --tune-seeds 12 --eval-seeds 20,21 --epochs 500 -q"
    )
    proc = start_command(["benchmark", *argv.split(), "--jobs", "2", "--out", str(tmp_path)])
    wait_for_rows(tmp_path / "tuning.csv", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert_session_ends(proc.pid)
    spec = cli_benchmark.spec_from_args(_args(argv.split()))
    tune_runs = [
        spec.run(name, settings, lr, seed)
        for name, settings in spec.optimizers
        for lr in spec.learning_rates.grid()
        for seed in spec.tune_seeds
    ]
    rows = read_results(tmp_path / "tuning.csv", tune_runs)
    assert 0 < len(rows) < len(tune_runs) == 72 and len(rows) % 24 == 0  # whole chunks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tuning.csv"]  # no temporary files
