"""Sweeps: axes, grid and random expansion, the chunk plan, data splits, results.csv, resume
(for real: a subprocess interrupted with SIGINT, then resumed), plots, the CLI."""

from __future__ import annotations

import argparse
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from descentlab._validation import InvalidParameterError
from descentlab.cli import main as cli_main
from descentlab.cli import sweep as cli_sweep
from descentlab.datasets import load_moons, make_moons
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.population import Run, train_population
from descentlab.experiments.results import METRICS, read_results, summarize
from descentlab.experiments.specs import DatasetSpec, ScheduleSpec
from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_space import Axis, SweepSpec, expand, parse_axis, plan

SMALL = SweepSpec(
    optimizers=(("gd", {}), ("adam", {})),
    axes=(parse_axis("lr=1e-3..1e-1:3"),),
    seeds=(0, 1),
    epochs=20,
    chunk_size=4,
)


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# ----------------------------------------------------------------------------- axes


def test_parse_axis_lists_ranges_and_scopes() -> None:
    assert parse_axis("lr=0.001,0.01").grid() == [0.001, 0.01]
    assert parse_axis("lr=0.001,0.01").name == "learning_rate"
    assert parse_axis("lr=1e-4..1e-1", points=4).grid() == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert parse_axis("b1=0.5..0.9:3:lin").grid() == pytest.approx([0.5, 0.7, 0.9])
    assert parse_axis("wd=0..0.1:3").grid() == pytest.approx([0.0, 0.05, 0.1])  # 0: linear
    axis = parse_axis("adam.beta2=0.99,0.999")
    assert (axis.optimizer, axis.name, axis.values) == ("adam", "b2", (0.99, 0.999))
    sched = parse_axis("schedule.gamma=0.9,0.99")
    assert sched.is_schedule and sched.setting == "gamma"
    assert parse_axis("amsgrad=true,false").values == (True, False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lr", "NAME=VALUES"),
        ("lr=", "NAME=VALUES"),
        ("lr=1e-3..x", "two numbers"),
        ("lr=0..1:log", "LOW and HIGH > 0"),
        ("lr=1..0.1", "LOW <= HIGH"),
        ("lr=1e-3..1e-1:fast", ":N"),
        ("adamx.b1=0.9", "unknown optimizer 'adamx'"),
    ],
)
def test_parse_axis_errors(text: str, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        parse_axis(text)


def test_random_draws_stay_in_range_and_are_log_uniform() -> None:
    rng = np.random.default_rng(0)
    axis = parse_axis("lr=1e-4..1e-0")
    draws = np.array([axis.draw(rng) for _ in range(4000)])
    assert draws.min() >= 1e-4 and draws.max() <= 1.0
    # log-uniform: each decade gets a quarter of the draws
    counts = np.histogram(np.log10(draws), bins=[-4, -3, -2, -1, 0])[0]
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)


# ----------------------------------------------------------------------------- expansion and plan


def test_expand_the_issue_sweep_gives_240_runs() -> None:
    spec = SweepSpec(axes=(parse_axis("lr=1e-4..1e-1", points=8),))
    runs = expand(spec)
    assert len(runs) == 3 * 8 * 10
    assert [r.optimizer for r in runs[::80]] == ["gd", "momentum", "adam"]
    assert sorted({r.learning_rate for r in runs}) == pytest.approx(np.geomspace(1e-4, 1e-1, 8))
    assert [r.seed for r in runs[:10]] == list(range(10))
    assert len({r.run_id() for r in runs}) == 240
    assert len({r.config_id() for r in runs}) == 24
    # one population key: 240 runs in ceil(240 / 64) = 4 chunks of 60
    assert [len(c) for c in plan(runs, 64)] == [60, 60, 60, 60]
    assert sorted(i for c in plan(runs, 64) for i in c) == list(range(240))


def test_axes_apply_to_the_optimizers_that_have_them() -> None:
    spec = SweepSpec(
        optimizers=(("gd", {}), ("adam", {"b2": 0.99})),
        axes=(parse_axis("lr=0.01,0.1"), parse_axis("b1=0.5,0.9"), parse_axis("adam.eps=0,1e-8")),
        seeds=(3,),
    )
    runs = expand(spec)
    assert len(runs) == 2 + 2 * 2 * 2
    adam = [r for r in runs if r.optimizer == "adam"]
    assert {(r.hyperparameters["b1"], r.hyperparameters["eps"]) for r in adam} == {
        (0.5, 0.0),
        (0.5, 1e-8),
        (0.9, 0.0),
        (0.9, 1e-8),
    }
    assert all(r.hyperparameters["b2"] == 0.99 for r in adam)
    with pytest.raises(InvalidParameterError, match="'b1'"):
        expand(
            SweepSpec(optimizers=(("gd", {}),), axes=(parse_axis("lr=0.1"), parse_axis("b1=0.9")))
        )
    fixed = expand(
        SweepSpec(optimizers=(("gd", {}), ("adam", {"lr": 0.05})), axes=(parse_axis("lr=0.1,0.2"),))
    )
    assert sorted({(r.optimizer, r.learning_rate) for r in fixed}) == [
        ("adam", 0.05),
        ("gd", 0.1),
        ("gd", 0.2),
    ]
    with pytest.raises(InvalidParameterError, match="both fixed in --optimizers and searched"):
        expand(
            SweepSpec(
                optimizers=(("adam", {"b1": 0.5}),),
                axes=(parse_axis("lr=0.1"), parse_axis("adam.b1=0.9")),
            )
        )
    with pytest.raises(InvalidParameterError, match="no learning rate"):
        expand(SweepSpec(axes=()))
    with pytest.raises(InvalidParameterError, match="no --schedule"):
        expand(SweepSpec(axes=(parse_axis("lr=0.1"), parse_axis("schedule.gamma=0.9"))))


def test_schedule_axes_batch_sizes_and_plan() -> None:
    spec = SweepSpec(
        optimizers=(("momentum", {}),),
        axes=(parse_axis("lr=0.1"), parse_axis("schedule.gamma=0.9,0.99")),
        schedule=ScheduleSpec("exponential", {}),
        batch_sizes=(32, 64),
        seeds=(0, 1, 2),
        chunk_size=4,
    )
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 3
    assert {r.schedule_settings["gamma"] for r in runs} == {0.9, 0.99}
    chunks = plan(runs, 4)
    # two populations (batch 32 and 64) of 6 runs, each in 2 chunks of 3
    assert [len(c) for c in chunks] == [3, 3, 3, 3]
    for c in chunks:
        assert len({runs[i].batch_size for i in c}) == 1


def test_plan_keeps_two_chunks_from_64_runs_and_chunking_does_not_change_results() -> None:
    runs = expand(SweepSpec(seeds=tuple(range(8)), axes=(parse_axis("lr=0.01,0.1"),)))
    assert len(runs) == 48 and len(plan(runs, 128)) == 1
    runs64 = expand(SweepSpec(seeds=tuple(range(8)), axes=(parse_axis("lr=0.01,0.1,0.3"),)))
    assert [len(c) for c in plan(runs64, 128)] == [36, 36]
    # Members are independent: any chunking gives the same numbers, bit for bit.
    data = load_experiment_data(SMALL.dataset, validation=True)
    runs = expand(SMALL)
    rows = {}
    for size in (12, 5, 1):
        out = {}
        for chunk in plan(runs, size):
            for i, row in zip(chunk, train_population([runs[i] for i in chunk], data), strict=True):
                out[i] = {k: v for k, v in row.items() if k != "seconds"}
        rows[size] = out
    assert rows[5] == rows[12] and rows[1] == rows[12]


def test_random_search_is_reproducible_and_per_optimizer() -> None:
    spec = SweepSpec(random=5, seeds=(0, 1), search_seed=4)
    a, b = expand(spec), expand(spec)
    assert [r.run_id() for r in a] == [r.run_id() for r in b]
    assert len(a) == 3 * 5 * 2
    lrs = {r.learning_rate for r in a}
    assert len(lrs) == 15 and all(1e-4 <= v <= 1e-1 for v in lrs)
    other = expand(SweepSpec(random=5, seeds=(0, 1), search_seed=5))
    assert {r.learning_rate for r in other} != lrs


def test_spec_round_trips_through_json() -> None:
    spec = SweepSpec(
        dataset=DatasetSpec("circles", noise=0.1),
        optimizers=(("adam", {"b2": 0.99}),),
        axes=(parse_axis("lr=1e-3..1e-1:3"), parse_axis("adam.b1=0.5,0.9")),
        schedule=ScheduleSpec("inverse_time", {"decay_rate": 1.0}),
        random=4,
    )
    again = SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert Axis.from_dict(spec.axes[1].to_dict()) == spec.axes[1]


# ----------------------------------------------------------------------------- data


def test_generated_data_uses_fresh_validation_and_test_samples() -> None:
    data = load_experiment_data(DatasetSpec("moons"), validation=True)
    np.testing.assert_array_equal(data.train.X, load_moons().X)  # the seed's 300 examples
    np.testing.assert_array_equal(data.test.X, make_moons(300, noise=0.2, seed=1).X)
    np.testing.assert_array_equal(data.val.X, make_moons(300, noise=0.2, seed=2).X)
    assert (
        load_experiment_data(DatasetSpec("moons"), validation=True, val_seed=7).val.X[0, 0]
        == make_moons(300, noise=0.2, seed=7).X[0, 0]
    )
    with pytest.raises(InvalidParameterError, match="val-seed"):
        load_experiment_data(DatasetSpec("moons"), validation=True, val_seed=1)


def test_fixed_data_is_split_three_ways_and_standardised_on_training_part() -> None:
    data = load_experiment_data(DatasetSpec("iris", test_size=0.2), validation=True)
    n_train, n_val, n_test = (a.shape[1] for a in (data.train.X, data.val.X, data.test.X))
    assert (n_train, n_val, n_test) == (90, 30, 30)
    np.testing.assert_allclose(data.train.X.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.train.X.std(axis=1), 1.0, atol=1e-12)
    assert data.n_classes == 3
    for y in (data.train.y, data.val.y, data.test.y):
        assert set(np.unique(y)) == {0, 1, 2}


# ----------------------------------------------------------------------------- running


def test_sweep_writes_rows_equal_to_population_training(tmp_path: Path) -> None:
    result = run_sweep(SMALL, tmp_path / "s")
    assert result.status == "completed" and result.n_runs == 12 and result.n_new == 12
    rows = read_results(tmp_path / "s" / "results.csv")
    assert rows == result.rows and len(rows) == 12
    assert list(rows[0])[:4] == ["run_id", "config_id", "optimizer", "learning_rate"]
    assert list(rows[0])[-len(METRICS) :] == list(METRICS)
    runs = expand(SMALL)
    assert [r["run_id"] for r in rows] == [r.run_id() for r in runs]
    data = load_experiment_data(SMALL.dataset, validation=True)
    for chunk in plan(runs, SMALL.chunk_size):
        expected = train_population([runs[i] for i in chunk], data)
        for i, e in zip(chunk, expected, strict=True):
            for key in ("train_accuracy", "val_accuracy", "test_accuracy", "final_cost"):
                assert float(rows[i][key]) == e[key]
            assert rows[i]["diverged"] == "false"
    assert {r["optimizer"] for r in rows} == {"gd", "adam"}
    assert rows[0]["b1"] == "" and rows[-1]["b1"] == "0.9" and rows[-1]["eps"] == "0.0"
    stored = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert SweepSpec.from_dict(stored["spec"]) == SMALL
    assert stored["chunks"] == [[rows[i]["run_id"] for i in c] for c in plan(runs, 4)]
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]


def test_summary_statistics_and_plots(tmp_path: Path) -> None:
    spec = SweepSpec(
        optimizers=(("adam", {}),),
        axes=(parse_axis("lr=0.01,0.1"), parse_axis("b1=0.5,0.9")),
        seeds=(0, 1, 2),
        epochs=10,
    )
    result = run_sweep(spec, tmp_path / "s")
    assert set(result.files) == {
        "sweep.json",
        "results.csv",
        "summary.csv",
        "lr_sensitivity.png",
        "heatmap_adam.png",
    }
    with (tmp_path / "s" / "summary.csv").open(newline="") as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4 and all(s["n_seeds"] == "3" for s in summary)
    rows = read_results(tmp_path / "s" / "results.csv")
    first = [r for r in rows if r["config_id"] == summary[0]["config_id"]]
    vals = np.array([float(r["val_accuracy"]) for r in first])
    assert float(summary[0]["val_accuracy_median"]) == np.median(vals)
    assert float(summary[0]["val_accuracy_q25"]) == np.percentile(vals, 25)
    assert float(summary[0]["val_accuracy_std"]) == vals.std()
    assert [{k: str(v) for k, v in e.items()} for e in summarize(rows)] == summary
    assert Image.open(tmp_path / "s" / "lr_sensitivity.png").size == (1000, 450)
    assert Image.open(tmp_path / "s" / "heatmap_adam.png").size == (800, 600)


def test_parallel_jobs_give_identical_rows(tmp_path: Path) -> None:
    serial = run_sweep(SMALL, tmp_path / "a", plots=False)
    parallel = run_sweep(SMALL, tmp_path / "b", jobs=2, plots=False)
    assert _without_seconds(parallel.rows) == _without_seconds(serial.rows)


def test_existing_folder_needs_resume_and_the_same_spec(tmp_path: Path) -> None:
    run_sweep(SMALL, tmp_path / "s", plots=False)
    with pytest.raises(InvalidParameterError, match="already holds a sweep"):
        run_sweep(SMALL, tmp_path / "s")
    other = SweepSpec(**{**SMALL.__dict__, "epochs": 21})
    with pytest.raises(InvalidParameterError, match="different sweep"):
        run_sweep(other, tmp_path / "s", resume=True)
    with pytest.raises(InvalidParameterError, match="Nothing to resume"):
        run_sweep(None, tmp_path / "missing", resume=True)
    again = run_sweep(None, tmp_path / "s", resume=True, plots=False)
    assert again.n_new == 0 and len(again.rows) == 12


def test_resume_after_sigint_finishes_without_duplicates(tmp_path: Path) -> None:
    """A real interruption: SIGINT to a running `descentlab sweep`, then --resume."""
    out = tmp_path / "interrupted"
    args = (
        "--optimizers gd,adam --lr 1e-3..1e-1:3 --seeds 2 --epochs 600 --chunk-size 2 --no-plots -q"
    ).split()
    proc = subprocess.Popen(
        [sys.executable, "-m", "descentlab", "sweep", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = out / "results.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) > 1:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    partial = read_results(results)
    assert 0 < len(partial) < 12, "the sweep should have been stopped part-way"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files

    resumed = cli_main(["sweep", *args, "--out", str(out), "--resume"])
    assert resumed == 0
    rows = read_results(results)
    ids = [r["run_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 12
    for p in partial:  # finished runs were kept as they were, not recomputed
        assert next(r for r in rows if r["run_id"] == p["run_id"]) == p

    reference = cli_main(["sweep", *args, "--out", str(tmp_path / "straight")])
    assert reference == 0
    assert _without_seconds(rows) == _without_seconds(
        read_results(tmp_path / "straight" / "results.csv")
    )


# ----------------------------------------------------------------------------- CLI


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_sweep.add_parser(parser.add_subparsers())
    return parser.parse_args(["sweep", *argv])


def test_cli_options_build_the_spec() -> None:
    args = _args(
        "--dataset circles:noise=0.1 --optimizers gd,adam:b2=0.99 --lr 1e-3..1e-1 "
        "--lr-points 3 --param adam.b1=0.5,0.9 --seeds 100..102 --epochs 50 --batch-size 32,64 "
        "--layers 8 --out x".split()
    )
    spec = cli_sweep.spec_from_args(args)
    assert spec.dataset == DatasetSpec("circles", noise=0.1)
    assert spec.optimizers == (("gd", {}), ("adam", {"b2": 0.99}))
    assert spec.axes[0].grid() == pytest.approx([1e-3, 1e-2, 1e-1])
    assert spec.axes[1] == Axis("b1", "adam", values=(0.5, 0.9))
    assert spec.seeds == (100, 101, 102) and spec.batch_sizes == (32, 64)
    assert spec.layers == (8,) and spec.epochs == 50
    assert cli_sweep.spec_from_args(_args(["--out", "x"])) == SweepSpec(
        axes=(parse_axis("lr=1e-4..1e-1", points=8),)
    )
    assert cli_sweep.spec_from_args(_args("--seeds 3 --out x".split())).seeds == (0, 1, 2)
    assert cli_sweep.spec_from_args(_args("--seeds 4,9 --out x".split())).seeds == (4, 9)


def test_cli_reports_bad_options_in_one_line(tmp_path: Path, capsys) -> None:
    code = cli_main(["sweep", "--param", "b1", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("descentlab: error: --param must look like NAME=VALUES")
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists()
    # a value out of range is caught before the sweep folder is made
    code = cli_main(["sweep", "--param", "b1=0.5,1.5", "--out", str(tmp_path / "y")])
    assert code == 2
    err = capsys.readouterr().err
    assert "'b1'" in err and "1.5" in err and err.count("\n") == 1
    assert not (tmp_path / "y").exists()


def test_cli_prints_the_best_configuration(tmp_path: Path, capsys) -> None:
    code = cli_main(
        "sweep --optimizers adam --lr 0.01,0.1 --seeds 2 --epochs 30 -q --out".split()
        + [str(tmp_path / "s")]
    )
    assert code == 0
    out = capsys.readouterr().out
    summary = list(csv.DictReader((tmp_path / "s" / "summary.csv").open(newline="")))
    best = max(summary, key=lambda s: float(s["val_accuracy_median"]))
    assert f"{float(best['val_accuracy_median']):.4f}" in out
    header = "optimizer best lr val acc (median) test acc (median) diverged"
    assert out.splitlines()[0].split() == header.split()


def test_run_ids_do_not_depend_on_the_other_runs() -> None:
    runs = expand(SMALL)
    alone = Run("adam", {"lr": runs[-1].learning_rate}, epochs=20, seed=1)
    assert alone.run_id() == runs[-1].run_id()
