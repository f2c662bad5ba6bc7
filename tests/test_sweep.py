"""Sweeps: axes, grid and random expansion, the chunk plan, data splits, results.csv, resume
(for real: a subprocess interrupted with SIGINT or SIGTERM, then resumed), hostile
results.csv and sweep.json files, bounded work, nothing written before the input is checked,
plots, the CLI."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from descentlab import limits
from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli import main as cli_main
from descentlab.cli import sweep as cli_sweep
from descentlab.datasets import load_moons, make_moons
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.population import Run, train_population
from descentlab.experiments.results import (
    METRICS,
    read_results,
    result_columns,
    results_csv_text,
    summarize,
)
from descentlab.experiments.specs import DatasetSpec, ScheduleSpec
from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_space import (
    Axis,
    SweepSpec,
    expand,
    parse_axis,
    plan,
)

SMALL = SweepSpec(
    optimizers=(("gd", {}), ("adam", {})),
    axes=(parse_axis("lr=1e-3..1e-1:3"),),
    seeds=(0, 1),
    epochs=20,
    chunk_size=4,
)


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (temporary files included) and its content."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def start_command(argv: list[str]) -> subprocess.Popen:
    """``python -m descentlab <argv>`` in a session of its own, so that every process it
    starts can be found afterwards (:func:`alive_in_session`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "descentlab", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_rows(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until the CSV file ``path`` holds a row (or the command ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) > 1:
            return
        time.sleep(0.005)


def alive_in_session(sid: int) -> list[int]:
    """The processes of session ``sid`` that are still running (zombies are dead), from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def assert_session_ends(sid: int, seconds: float = 10) -> None:
    """Every process the command started (its loky workers) is gone within ``seconds``."""
    deadline = time.monotonic() + seconds
    while alive_in_session(sid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive_in_session(sid) == [], "worker processes outlived the command"


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


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
    assert list(rows[0])[-len(METRICS) - 1 :] == [*METRICS, "engine"]
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
    """A real interruption: SIGINT to a running `descentlab sweep`, then --resume. (A named
    engine: with auto, the process that resumes may pick the other engine, whose numbers
    agree to 1e-12, not bit for bit; docs/engine.md.)"""
    out = tmp_path / "interrupted"
    args = (
        "--optimizers gd,adam --lr 1e-3..1e-1:3 --seeds 2 --epochs 600 --chunk-size 2 --no-plots -q"
        " --engine numpy"
    ).split()
    proc = start_command(["sweep", *args, "--out", str(out)])
    results = out / "results.csv"
    wait_for_rows(results, proc)
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


@needs_proc
def test_sigterm_stops_the_worker_processes_and_resume_finishes(tmp_path: Path) -> None:
    """SIGTERM to `descentlab sweep --jobs 2` while its workers train: exit status 143, a valid
    results.csv, no worker process left running, and --resume completes it."""
    out = tmp_path / "terminated"
    args = (
        "--optimizers gd,adam --lr 1e-3..1e-1:3 --seeds 2 --epochs 400 --chunk-size 2 --no-plots -q"
        " --engine numpy"
    ).split()
    proc = start_command(["sweep", *args, "--jobs", "2", "--out", str(out)])
    results = out / "results.csv"
    wait_for_rows(results, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert_session_ends(proc.pid)
    runs = expand(cli_sweep.spec_from_args(_args([*args, "--out", "x"])))
    partial = read_results(results, runs)
    assert 0 < len(partial) < len(runs) == 12, "the sweep should have been stopped part-way"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    resume = ["sweep", "--resume", "--out", str(out), "--no-plots", "-q", "--engine", "numpy"]
    assert cli_main(resume) == 0
    rows = read_results(results, runs)
    spec = cli_sweep.spec_from_args(_args([*args, "--out", "x"]))
    straight = run_sweep(spec, tmp_path / "straight", plots=False, engine="numpy")
    assert _without_seconds(rows) == _without_seconds(straight.rows)


# ----------------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the finished sweep SMALL (12 runs in 3 chunks of 4), to copy and damage."""
    out = tmp_path_factory.mktemp("finished") / "s"
    run_sweep(SMALL, out, plots=False)
    return out


def _edit(text: str, row: int, column: str, value: str) -> str:
    """``text`` (results.csv) with the cell ``column`` of data row ``row`` set to ``value``."""
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[row + 1].rstrip("\n").split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells) + "\n"
    return "".join(lines)


def _drop(text: str, row: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[: row + 1] + lines[row + 2 :])


DAMAGED_ROWS: list[tuple[str, Callable[[str], str]]] = [
    ("the last row cut in the middle", lambda t: t[:-40]),
    ("the last row cut inside its last cell", lambda t: t[:-3]),
    ("a metric that is not a number", lambda t: _edit(t, 5, "val_accuracy", "0.9x")),
    ("an empty metric", lambda t: _edit(t, 5, "test_cost", "")),
    ("an accuracy above 1", lambda t: _edit(t, 5, "train_accuracy", "1.5")),
    ("diverged neither true nor false", lambda t: _edit(t, 5, "diverged", "no")),
    ("a setting that is not the run's", lambda t: _edit(t, 2, "learning_rate", "0.5")),
    ("a run_id of another sweep", lambda t: _edit(t, 3, "run_id", "0123456789ab-s0")),
    ("a row lost", lambda t: _drop(t, 7)),
    ("a row listed twice", lambda t: t + _edit(t, 1, "val_accuracy", "0.5").splitlines()[2] + "\n"),
]


@pytest.mark.parametrize("damage", [d for _, d in DAMAGED_ROWS], ids=[n for n, _ in DAMAGED_ROWS])
def test_resume_trains_again_the_chunk_of_a_damaged_row(
    finished: Path, tmp_path: Path, damage: Callable[[str], str]
) -> None:
    out = tmp_path / "s"
    shutil.copytree(finished, out)
    reference = read_results(finished / "results.csv", expand(SMALL))
    (out / "results.csv").write_text(damage((finished / "results.csv").read_text()))
    kept = read_results(out / "results.csv", expand(SMALL))
    assert len(kept) < 12
    result = run_sweep(None, out, resume=True, plots=False)
    assert result.status == "completed" and result.n_new == 4  # one chunk, trained whole
    assert _without_seconds(result.rows) == _without_seconds(reference)
    assert read_results(out / "results.csv") == result.rows
    by_id = {r["run_id"]: r for r in result.rows}
    assert all(by_id[r["run_id"]] == r for r in kept)  # good rows kept as they were


def test_a_lost_row_of_a_diverged_run_is_trained_with_its_whole_chunk(tmp_path: Path) -> None:
    """A population whose members all diverge stops early, so a diverged run trained without
    its chunk's other members ends with another final cost: resume trains the chunk whole."""
    spec = SweepSpec(
        optimizers=(("gd", {}), ("adam", {})),
        axes=(parse_axis("lr=0.01,1000"),),
        seeds=(0, 1),
        epochs=20,
        chunk_size=8,
    )
    reference = run_sweep(spec, tmp_path / "straight", plots=False).rows
    lost = next(i for i, r in enumerate(reference) if r["diverged"] == "true")
    out = tmp_path / "s"
    shutil.copytree(tmp_path / "straight", out)
    (out / "results.csv").write_text(_drop((out / "results.csv").read_text(), lost))
    result = run_sweep(None, out, resume=True, plots=False)
    assert result.n_new == 8
    assert _without_seconds(result.rows) == _without_seconds(reference)


def _header(finished: Path) -> str:
    return (finished / "results.csv").read_text().splitlines()[0]


HOSTILE_RESULTS: list[tuple[str, Callable[[str], bytes], str]] = [
    ("a foreign header", lambda h: b"name,value\nx,1\n", "not the results of this sweep"),
    ("binary garbage", lambda h: bytes(range(256)) * 8, "not UTF-8"),
    ("latin-1 text", lambda h: (h + "\ncaf\xe9\n").encode("latin-1"), "not UTF-8"),
    ("NUL bytes", lambda h: (h + "\n" + "\0" * 10 + "\n").encode(), "NUL"),
    ("a huge line", lambda h: (h + "\n" + "x" * 100_000 + "\n").encode(), "longer than"),
    ("an empty file", lambda h: b"", "empty"),
    ("a header cut short", lambda h: h[:30].encode(), "not the results of this sweep"),
]


@pytest.mark.parametrize(
    ("content", "match"),
    [(c, m) for _, c, m in HOSTILE_RESULTS],
    ids=[n for n, _, _ in HOSTILE_RESULTS],
)
def test_a_hostile_results_csv_is_a_one_line_error(
    finished: Path, tmp_path: Path, content: Callable[[str], bytes], match: str
) -> None:
    out = tmp_path / "s"
    shutil.copytree(finished, out)
    (out / "results.csv").write_bytes(content(_header(finished)))
    before = _files(out)
    with pytest.raises(DataError, match=match) as error:
        run_sweep(None, out, resume=True, plots=False)
    message = str(error.value)
    assert "\n" not in message and str(out / "results.csv") in message and len(message) < 400
    assert _files(out) == before  # nothing written


def test_the_cli_reports_a_binary_results_csv_in_one_line(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    shutil.copytree(finished, out)
    (out / "results.csv").write_bytes(bytes(range(256)) * 8)
    assert cli_main(["sweep", "--resume", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("descentlab: error: ") and err.count("\n") == 1 and "UTF-8" in err


def test_read_results_checks_every_cell_without_the_runs_too(
    finished: Path, tmp_path: Path
) -> None:
    text = (finished / "results.csv").read_text()
    path = tmp_path / "results.csv"
    path.write_text(_edit(_edit(text, 0, "seconds", "-1.0"), 4, "config_id", "abc"))
    damaged: list[tuple[int, str]] = []
    rows = read_results(path, on_damaged=lambda *a: damaged.append(a))
    assert [line for line, _ in damaged] == [2, 6]
    assert "'seconds' cell '-1.0' is not a finite number >= 0" in damaged[0][1]
    assert len(rows) == 10
    path.write_text("run_id,config_id,optimizer,epochs\n")
    with pytest.raises(DataError, match="must start with run_id, config_id, optimizer and end"):
        read_results(path)


def _sweep_json(edit: Callable[[dict], object]) -> Callable[[dict], bytes]:
    def change(doc: dict) -> bytes:
        edit(doc)
        return json.dumps(doc).encode()

    return change


HOSTILE_SWEEP_JSON: list[tuple[str, Callable[[dict], bytes], str]] = [
    ("binary garbage", lambda d: bytes(range(256)) * 8, "Cannot read"),
    ("not JSON", lambda d: b"{spec: 1", "Cannot read"),
    ("nested too deep", lambda d: b"[" * 100_000, "Cannot read"),
    ("a list", lambda d: b"[]", "the document must be a table"),
    ("no chunks", _sweep_json(lambda d: d.pop("chunks")), "has no 'chunks'"),
    ("epochs as text", _sweep_json(lambda d: d["spec"].update(epochs="20")), "spec.epochs"),
    ("a seed as text", _sweep_json(lambda d: d["spec"]["seeds"].append("1")), r"spec.seeds\[2\]"),
    (
        "an unknown key",
        _sweep_json(lambda d: d["spec"].update(colour="red")),
        "unknown key 'colour'",
    ),
    ("an axis without points", _sweep_json(lambda d: d["spec"]["axes"][0].pop("points")), "axes"),
    (
        "an optimizer not a pair",
        _sweep_json(lambda d: d["spec"]["optimizers"].append("gd")),
        r"optimizers\[2\]",
    ),
    ("a dataset key unknown", _sweep_json(lambda d: d["spec"]["dataset"].update(size=3)), "'size'"),
    ("a value out of range", _sweep_json(lambda d: d["spec"].update(epochs=0)), "'epochs'"),
    (
        "a bad hyperparameter",
        _sweep_json(lambda d: d["spec"]["optimizers"][1][1].update(b1=1.5)),
        "'b1'",
    ),
    (
        "an unknown chunk id",
        _sweep_json(lambda d: d["chunks"][0].__setitem__(0, "0123456789ab-s0")),
        "not a run of its spec",
    ),
    (
        "a run in two chunks",
        _sweep_json(lambda d: d["chunks"][1].__setitem__(0, d["chunks"][0][0])),
        "exactly once",
    ),
    ("a run in no chunk", _sweep_json(lambda d: d["chunks"][0].pop()), "exactly once"),
    (
        "a chunk larger than chunk_size",
        _sweep_json(lambda d: d.update(chunks=[[i for c in d["chunks"] for i in c]])),
        "holds 12 runs",
    ),
    ("n_runs wrong", _sweep_json(lambda d: d.update(n_runs=13)), "n_runs is 13"),
]


@pytest.mark.parametrize(
    ("content", "match"),
    [(c, m) for _, c, m in HOSTILE_SWEEP_JSON],
    ids=[n for n, _, _ in HOSTILE_SWEEP_JSON],
)
def test_a_damaged_sweep_json_is_a_one_line_error(
    finished: Path, tmp_path: Path, content: Callable[[dict], bytes], match: str
) -> None:
    out = tmp_path / "s"
    shutil.copytree(finished, out)
    doc = json.loads((out / "sweep.json").read_text())
    (out / "sweep.json").write_bytes(content(doc))
    before = _files(out)
    with pytest.raises(DataError, match=match) as error:
        run_sweep(None, out, resume=True, plots=False)
    message = str(error.value)
    assert "\n" not in message and str(out / "sweep.json") in message and len(message) < 500
    assert _files(out) == before  # nothing written


def test_spec_from_dict_checks_every_field() -> None:
    doc = SMALL.to_dict()
    assert SweepSpec.from_dict(doc) == SMALL
    for key, value in [("epochs", True), ("layers", "5,2"), ("max_cost", "1"), ("axes", {})]:
        with pytest.raises(DataError, match=f"the sweep spec is damaged: {key}"):
            SweepSpec.from_dict({**doc, key: value})
    with pytest.raises(DataError, match="has no 'seeds'"):
        SweepSpec.from_dict({k: v for k, v in doc.items() if k != "seeds"})
    with pytest.raises(DataError, match="must be a table"):
        SweepSpec.from_dict([doc])


# ----------------------------------------------------------------------------- bounded work

FIVE_AXES = tuple(
    parse_axis(f"{name}={low}..{high}:1000:lin")
    for name, low, high in [
        ("lr", 1e-4, 1e-1),
        ("b1", 0.5, 0.9),
        ("b2", 0.9, 0.999),
        ("eps", 0, 1e-8),
        ("eps_root", 0, 1e-8),
    ]
)

UNBOUNDED: list[tuple[str, Callable[[], object], str]] = [
    ("a negative seed", lambda: SweepSpec(seeds=(-1,)), "'seeds'.*range \\[0, 4294967295\\]"),
    ("a seed above 2**32 - 1", lambda: SweepSpec(seeds=(2**32,)), "'seeds'"),
    ("a seed that is a bool", lambda: SweepSpec(seeds=(True,)), "'seeds'"),
    ("a seed twice", lambda: SweepSpec(seeds=(0, 0)), "distinct"),
    ("too many seeds", lambda: SweepSpec(seeds=range(limits.MAX_SEEDS + 1)), "MAX_SEEDS"),
    ("too many epochs", lambda: SweepSpec(epochs=limits.MAX_EPOCHS + 1), "'epochs'"),
    ("fractional epochs", lambda: SweepSpec(epochs=2.5), "'epochs'"),
    ("a huge chunk", lambda: SweepSpec(chunk_size=limits.MAX_CHUNK_SIZE + 1), "'chunk_size'"),
    ("a batch size of 0", lambda: SweepSpec(batch_sizes=(0,)), "'batch_sizes'"),
    ("batch sizes as text", lambda: SweepSpec(batch_sizes="64"), "'batch_sizes'"),
    ("a layer of 0 units", lambda: SweepSpec(layers=(5, 0)), "'layers'"),
    ("an unknown activation", lambda: SweepSpec(activation="relu6"), "'activation'"),
    ("a NaN max_cost", lambda: SweepSpec(max_cost=float("nan")), "'max_cost'"),
    ("no random configurations", lambda: SweepSpec(random=0), "'random'"),
    ("a dataset that is text", lambda: SweepSpec(dataset="moons"), "'dataset'"),
    ("optimizers that are text", lambda: SweepSpec(optimizers="adam"), "optimizers"),
    ("an unknown optimizer", lambda: SweepSpec(optimizers=(("adamx", {}),)), "Unknown optimizer"),
    (
        "an axis of 10**8 points",
        lambda: parse_axis("lr=1e-4..1e-1", points=10**8, what="--lr"),
        "--lr .*'points'.*10000",
    ),
    (
        "five 1000-point axes",
        lambda: SweepSpec(optimizers=(("adam", {}),), axes=FIVE_AXES),
        "10{16} runs.*MAX_RUNS",
    ),
    ("10**9 random configurations", lambda: SweepSpec(random=10**9), "MAX_RUNS"),
    ("a NaN range", lambda: Axis("learning_rate", low=float("nan"), high=1.0), "'low'"),
    ("an infinite range", lambda: Axis("learning_rate", low=1e-3, high=float("inf")), "'high'"),
    ("a NaN value", lambda: Axis("learning_rate", values=(0.1, float("nan"))), "'values'"),
    ("too many values", lambda: parse_axis("lr=" + ",".join(["0.1"] * 10_001)), "number of values"),
    ("a Unicode digit as :N", lambda: parse_axis("lr=1e-3..1e-1:\u00b2"), ":N"),
]


@pytest.mark.parametrize(
    ("make", "match"), [(m, r) for _, m, r in UNBOUNDED], ids=[n for n, _, _ in UNBOUNDED]
)
def test_specs_refuse_unbounded_or_mistyped_settings_up_front(
    make: Callable[[], object], match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match) as error:
        make()
    assert "\n" not in str(error.value) and len(str(error.value)) < 600


def test_cli_refuses_ten_to_the_eight_learning_rates_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    assert cli_main(["sweep", "--lr-points", "100000000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "10000" in err
    assert not out.exists()


# ----------------------------------------------------------------------------- nothing written first


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"spec": dataclasses.replace(SMALL, dataset=DatasetSpec("missing.csv", target="y"))},
            DataError,
        ),
        ({"spec": dataclasses.replace(SMALL, layers=(65536, 65536))}, InvalidParameterError),
        ({"spec": dataclasses.replace(SMALL, val_seed=1)}, InvalidParameterError),
        ({"backend": "dask"}, InvalidParameterError),
        ({"backend": "local", "scheduler": "tcp://127.0.0.1:1"}, InvalidParameterError),
        ({"jobs": 0}, InvalidParameterError),
    ],
    ids=[
        "unreadable data",
        "too large for memory",
        "validation seed = test seed",
        "dask without a scheduler",
        "a scheduler without dask",
        "no jobs",
    ],
)
def test_a_bad_setting_or_bad_data_leaves_no_folder(
    tmp_path: Path, change: dict, error: type[Exception]
) -> None:
    out = tmp_path / "new" / "s"
    kwargs = {"spec": SMALL, "plots": False, **change}
    with pytest.raises(error):
        run_sweep(kwargs.pop("spec"), out, **kwargs)
    assert not (tmp_path / "new").exists()


def test_an_output_under_a_file_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    with pytest.raises(DataError, match="is a file, not a folder"):
        run_sweep(SMALL, tmp_path / "file" / "s", plots=False)
    assert (tmp_path / "file").read_text() == "keep"


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


@pytest.mark.parametrize("jobs", [0, -2, limits.MAX_JOBS + 1, 100_000, 2.0, "2", True])
def test_jobs_are_bounded(jobs) -> None:
    from descentlab.experiments.parallel import resolve_jobs

    with pytest.raises(
        InvalidParameterError, match="'jobs' parameter must be an int from 1 to 256"
    ):
        resolve_jobs(jobs)
    assert resolve_jobs(limits.MAX_JOBS) == limits.MAX_JOBS


# ----------------------------------------------------------------------------- each step, exactly

TINY = SweepSpec(
    optimizers=(("gd", {}),),
    axes=(parse_axis("lr=0.1,0.2"),),
    seeds=(0, 1),
    epochs=2,
    chunk_size=2,
)  # 4 runs in 2 chunks of 2: a few milliseconds


class _Bar:
    """A stand-in for :class:`~descentlab.progress.Progress` that records every call."""

    made: ClassVar[list[list[tuple]]] = []

    def __init__(self, total, label, *, enabled=None, unit="") -> None:
        self.calls = [("new", total, label, enabled, unit)]
        self.enabled = bool(enabled)
        _Bar.made.append(self.calls)

    def update(self, n, **postfix) -> None:
        self.calls.append(("update", repr(n), postfix))

    def close(self) -> None:
        self.calls.append(("close",))


def test_a_sweep_logs_its_plan_and_its_end_and_writes_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "s"  # its parent folders are made too
    lines: list[str] = []
    result = run_sweep(TINY, out, plots=False, log=lines.append)
    assert lines[0] == (
        "descentlab sweep: 4 runs (2 configurations × 2 seeds), 2 populations; "
        f"4 to train on local (1 job); writing {out}"
    )
    assert re.fullmatch(
        r"descentlab sweep: completed: 4 of 4 runs in results\.csv \(4 trained now in \d+\.\d s\)",
        lines[1],
    )
    assert len(lines) == 2
    assert (result.out_dir, result.n_runs, result.n_new, result.status) == (out, 4, 4, "completed")
    assert result.files == ["sweep.json", "results.csv", "summary.csv"]
    assert 0.0 < result.seconds < 60.0
    runs = expand(TINY)
    ids = [r.run_id() for r in runs]
    assert [r["run_id"] for r in result.rows] == ids  # plan order
    columns = result_columns(runs)
    assert (out / "results.csv").read_text() == results_csv_text(columns, result.rows)
    summary = summarize(result.rows, columns)
    assert (out / "summary.csv").read_text() == results_csv_text(list(summary[0]), summary)
    document = {"spec": TINY.to_dict(), "n_runs": 4, "chunks": [[ids[0], ids[2]], [ids[1], ids[3]]]}
    assert (out / "sweep.json").read_text() == json.dumps(document, indent=1) + "\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "summary.csv", "sweep.json"]

    lines.clear()
    compact = json.dumps(document).encode()  # as another version might have written it
    (out / "sweep.json").write_bytes(compact)
    again = run_sweep(None, out, resume=True, plots=False, log=lines.append)
    assert lines[0] == (
        "descentlab sweep: 4 runs (2 configurations × 2 seeds), 2 populations; "
        f"4 already done, 0 to train on local (1 job); writing {out}"
    )
    assert lines[1].startswith("descentlab sweep: completed: 4 of 4 runs in results.csv (0 trained")
    assert (again.n_runs, again.n_new, again.rows) == (4, 0, result.rows)
    assert (out / "sweep.json").read_bytes() == compact  # a stored sweep is not rewritten


def test_a_folder_is_refused_unless_it_holds_this_sweep_and_resume_is_asked(
    tmp_path: Path,
) -> None:
    out = tmp_path / "s"

    def error(spec, **kwargs) -> str:
        with pytest.raises(InvalidParameterError) as caught:
            run_sweep(spec, out, plots=False, **kwargs)
        return str(caught.value)

    assert error(None, resume=True) == (
        f"Nothing to resume: '{out / 'sweep.json'}' does not exist."
    )
    assert error({"epochs": 2}) == (
        "The 'spec' parameter of run_sweep must be a SweepSpec. Got dict."
    )
    (tmp_path / "file").write_text("keep")
    with pytest.raises(DataError) as caught:
        run_sweep(TINY, tmp_path / "file", plots=False)
    assert str(caught.value) == (
        f"'{tmp_path / 'file'}' is a file, not a folder; choose another place to write."
    )
    run_sweep(TINY, out, plots=False)
    assert error(TINY) == (
        f"'{out}' already holds a sweep; continue it with --resume or choose another --out."
    )
    assert error(dataclasses.replace(TINY, epochs=3), resume=True) == (
        f"'{out}' holds a different sweep than the options given; run --resume with the same "
        "options (or with --out alone) to continue it."
    )
    assert run_sweep(TINY, out, resume=True, plots=False).n_new == 0
    (out / "sweep.json").unlink()
    assert error(TINY) == f"'{out}' holds a results.csv but no sweep.json; choose another --out."
    assert error(TINY, resume=True) == (
        f"Nothing to resume: '{out / 'sweep.json'}' does not exist."
    )


def test_resume_reports_the_damaged_rows_it_trains_again(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rows = run_sweep(TINY, out, plots=False).rows
    text = (out / "results.csv").read_text()
    lines: list[str] = []
    (out / "results.csv").write_text(text[:-1])  # the last row cut before its newline
    result = run_sweep(None, out, resume=True, plots=False, log=lines.append)
    assert lines[0] == (
        f"descentlab sweep: 1 damaged row in {out / 'results.csv'} (line 5: the file ends in "
        "the middle of this row); their chunks are trained again"
    )
    assert "; 3 already done, 2 to train on local (1 job); " in lines[1]
    assert (result.n_new, _without_seconds(result.rows)) == (2, _without_seconds(rows))
    lines.clear()
    (out / "results.csv").write_text(_edit(_edit(text, 0, "diverged", "no"), 3, "seed", "7"))
    run_sweep(None, out, resume=True, plots=False, log=lines.append)
    assert lines[0] == (
        f"descentlab sweep: 2 damaged rows in {out / 'results.csv'} (line 2: the 'diverged' "
        "cell 'no' is not true or false); their chunks are trained again"
    )


def test_an_interrupted_sweep_keeps_its_finished_chunks_and_says_how_to_continue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import descentlab.experiments.sweep as sweep_module

    calls: list[int] = []

    def interrupted_second(runs, data, **kwargs):
        calls.append(len(runs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return train_population(runs, data, **kwargs)

    monkeypatch.setattr(sweep_module, "train_population", interrupted_second)
    out = tmp_path / "s"
    lines: list[str] = []
    result = run_sweep(TINY, out, plots=True, log=lines.append)
    assert lines[1] == (
        f"descentlab sweep: interrupted; 2 of 4 runs saved in {out / 'results.csv'}. "
        f"Continue with: descentlab sweep --resume --out {out}"
    )
    assert (result.status, result.n_runs, result.n_new, len(result.rows)) == (
        "interrupted",
        4,
        2,
        2,
    )
    assert result.files == ["sweep.json", "results.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "sweep.json"]
    assert read_results(out / "results.csv", expand(TINY)) == result.rows


def test_the_progress_bar_counts_runs_within_and_after_each_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import descentlab.experiments.sweep as sweep_module

    _Bar.made.clear()
    monkeypatch.setattr(sweep_module, "Progress", _Bar)
    result = run_sweep(TINY, tmp_path / "s", plots=False, progress=True)
    best = [max(float(r["val_accuracy"]) for r in result.rows[i::2]) for i in (0, 1)]
    (calls,) = _Bar.made
    assert calls == [
        ("new", 4, "sweep", True, "run"),
        ("update", "1", {}),  # after epoch 0 of the first chunk: 2 runs * 1/2 epochs
        ("update", "2", {}),
        ("update", "2", {"best_val": best[0]}),
        ("update", "3", {}),
        ("update", "4", {}),
        ("update", "4", {"best_val": max(best)}),
        ("close",),
    ]
    _Bar.made.clear()
    run_sweep(None, tmp_path / "s", resume=True, plots=False, progress=False)
    assert _Bar.made == [[("new", 0, "sweep", False, "run"), ("close",)]]


def test_the_plan_message_names_populations_jobs_and_backend() -> None:
    from types import SimpleNamespace

    from descentlab.experiments.sweep import _plan_message

    runs = expand(TINY)
    sweep = SimpleNamespace(runs=runs, spec=TINY, chunks=[[0, 1, 2, 3]], done={}, out=Path("o"))
    assert _plan_message(sweep, [[0, 1, 2, 3]], "local", 2) == (
        "descentlab sweep: 4 runs (2 configurations × 2 seeds), 1 population; "
        "4 to train on local (2 jobs); writing o"
    )
    sweep.done = {"a": {}}
    sweep.chunks = [[0], [1], [2], [3]]
    assert _plan_message(sweep, [[1], [3]], "dask", 1) == (
        "descentlab sweep: 4 runs (2 configurations × 2 seeds), 4 populations; "
        "1 already done, 2 to train on dask; writing o"
    )


def test_execute_reports_epochs_only_for_chunks_trained_in_this_process() -> None:
    from descentlab.experiments.sweep import execute

    runs = expand(TINY)
    data = load_experiment_data(TINY.dataset, validation=True)
    ticks: list[tuple[int, int]] = []
    out = list(execute(runs, [[0, 2]], data, jobs=2, on_epoch=lambda *a: ticks.append(a)))
    assert [i for i, _ in out] == [[0, 2]]
    assert [r["run_id"] for r in out[0][1]] == [runs[0].run_id(), runs[2].run_id()]
    assert ticks == [(2, 0), (2, 1)]  # one task: trained here even with 2 jobs
    ticks.clear()
    out = list(execute(runs, [[3], [1, 0]], data, on_epoch=lambda *a: ticks.append(a)))
    assert [i for i, _ in out] == [[3], [1, 0]]
    assert ticks == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert [r["run_id"] for r in out[1][1]] == [runs[1].run_id(), runs[0].run_id()]


def test_a_stored_plan_is_checked_chunk_by_chunk() -> None:
    from descentlab.experiments.sweep import _stored_chunks

    runs = expand(TINY)
    ids = [r.run_id() for r in runs]

    def check(chunks, n_runs=4, spec=TINY, runs=runs):
        return _stored_chunks({"n_runs": n_runs, "chunks": chunks}, runs, spec, "'f'")

    def error(*args, **kwargs) -> str:
        with pytest.raises(DataError) as caught:
            check(*args, **kwargs)
        return str(caught.value)

    assert check([[ids[0], ids[2]], [ids[3], ids[1]]]) == [[0, 2], [3, 1]]
    assert check([[i] for i in ids]) == [[0], [1], [2], [3]]
    assert error([], 5) == "'f' is damaged: n_runs is 5, but its spec makes 4 runs."
    assert error([[ids[0]], ["x" * 50, "y"]]) == (
        f"'f' is damaged: chunks[1] names {'x' * 40!r}, not a run of its spec."
    )
    assert error([[ids[0], ids[1], ids[2]], [ids[3]]]) == (
        "'f' is damaged: chunks[0] holds 3 runs; a chunk holds 1 to 2."
    )
    assert error([ids[:2], [], ids[2:]]) == (
        "'f' is damaged: chunks[1] holds 0 runs; a chunk holds 1 to 2."
    )
    assert error([ids[:2], ids[1:3]]) == (
        "'f' is damaged: its chunks do not hold every run exactly once (4 entries for 4 runs)."
    )
    assert error([ids[:2], [ids[3]]]) == (
        "'f' is damaged: its chunks do not hold every run exactly once (3 entries for 4 runs)."
    )
    two = dataclasses.replace(TINY, axes=(parse_axis("lr=0.1"),), seeds=(0,), batch_sizes=(16, 32))
    two_runs = expand(two)
    two_ids = [r.run_id() for r in two_runs]
    assert check([[two_ids[1]], [two_ids[0]]], 2, two, two_runs) == [[1], [0]]
    assert error([[two_ids[0]], two_ids], 2, two, two_runs) == (
        "'f' is damaged: chunks[1] mixes runs of different populations."
    )


def test_a_stored_sweep_json_is_read_or_refused_in_one_exact_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import descentlab.experiments.sweep as sweep_module
    from descentlab.experiments.sweep import _read_stored

    path = tmp_path / "sweep.json"
    src = f"'{path}'"
    assert _read_stored(path) is None
    runs = expand(TINY)
    ids = [r.run_id() for r in runs]
    doc = {"spec": TINY.to_dict(), "n_runs": 4, "chunks": [ids[:2], ids[2:]]}
    path.write_text(json.dumps(doc))
    assert _read_stored(path) == (TINY, runs, [[0, 1], [2, 3]])

    def error(content: bytes | None = None) -> str:
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(DataError) as caught:
            _read_stored(path)
        return str(caught.value)

    size = path.stat().st_size
    monkeypatch.setattr(sweep_module, "MAX_SWEEP_JSON_BYTES", size)
    assert _read_stored(path) == (TINY, runs, [[0, 1], [2, 3]])
    monkeypatch.setattr(sweep_module, "MAX_SWEEP_JSON_BYTES", size - 1)
    assert error() == f"{src} is not a sweep's: it is larger than 64 MiB."
    assert error(b"\xff" * size) == f"{src} is not a sweep's: it is larger than 64 MiB."  # unread
    assert sweep_module.MAX_SWEEP_JSON_BYTES != 64 * 2**20
    monkeypatch.undo()
    assert sweep_module.MAX_SWEEP_JSON_BYTES == 64 * 2**20
    assert error(b"{spec: 1") == (
        f"Cannot read {src} as a sweep: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)."
    )
    assert error(b"\xff") == (
        f"Cannot read {src} as a sweep: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte."
    )
    assert error(b"[" * 100_000).startswith(
        f"Cannot read {src} as a sweep: maximum recursion depth exceeded"
    )
    assert error(json.dumps({**doc, "n_runs": "4"}).encode()) == (
        f"{src} is damaged: n_runs must be an integer; found '4'."
    )
    bad = {**doc, "spec": {**doc["spec"], "epochs": 0}}
    message = error(json.dumps(bad).encode())
    assert message.startswith(f"{src} is damaged: its spec is not valid: The 'epochs' parameter")
    unknown = {**doc, "spec": {**doc["spec"], "colour": 1}}
    assert error(json.dumps(unknown).encode()) == (
        f"{src} is damaged: spec has the unknown key 'colour'; the known keys are activation, "
        "axes, batch_sizes, chunk_size, dataset, epochs, init, layers, max_cost, optimizers, "
        "random, schedule, search_seed, seeds, shuffle, val_seed."
    )
    assert error(json.dumps({**doc, "n_runs": 5}).encode()) == (
        f"{src} is damaged: n_runs is 5, but its spec makes 4 runs."
    )
    # read as UTF-8 whatever the locale's encoding (what open() uses when given none)
    monkeypatch.setattr(io, "text_encoding", lambda encoding, *_: encoding or "latin-1")
    foreign = {**doc, "spec": {**doc["spec"], "col\u00f6ur": 1}}
    message = error(json.dumps(foreign, ensure_ascii=False).encode())
    assert message.startswith(f"{src} is damaged: spec has the unknown key 'col\u00f6ur';")
    path.unlink()
    path.mkdir()
    assert error() == f"Cannot read {src} as a sweep: Is a directory."


def test_execute_passes_the_backend_and_reports_epochs_only_from_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import descentlab.experiments.sweep as sweep_module
    from descentlab.experiments.sweep import execute

    runs = expand(TINY)
    data = load_experiment_data(TINY.dataset, validation=True)
    calls: list[dict] = []

    def fake_map(fn, tasks, *, shared, backend, jobs, scheduler):
        calls.append({"tasks": tasks, "on_epoch": shared[2], "backend": backend, "jobs": jobs})
        calls[-1]["scheduler"] = scheduler
        return [(i, [f"rows {i}"]) for i in reversed(range(len(tasks)))]

    monkeypatch.setattr(sweep_module, "map_unordered", fake_map)

    def tick(n: int, epoch: int) -> None:
        pass

    chunks = [[0], [3, 1]]
    out = list(execute(runs, chunks, data, jobs=2, on_epoch=tick))
    assert out == [([3, 1], ["rows 1"]), ([0], ["rows 0"])]  # as each chunk ends
    assert calls.pop() == {
        "tasks": [[runs[0]], [runs[3], runs[1]]],
        "on_epoch": None,  # two chunks on two worker processes
        "backend": "local",
        "jobs": 2,
        "scheduler": None,
    }
    list(execute(runs, chunks[:1], data, jobs=2, on_epoch=tick))
    assert calls.pop()["on_epoch"] is tick  # one chunk: trained here
    list(execute(runs, chunks, data, on_epoch=tick))
    assert calls.pop()["on_epoch"] is tick  # one job: here
    list(execute(runs, chunks, data, jobs=3, on_epoch=tick))
    assert calls.pop()["on_epoch"] is None
    list(execute(runs, chunks[:1], data, backend="dask", scheduler="tcp://h:1", on_epoch=tick))
    call = calls.pop()
    assert (call["on_epoch"], call["backend"], call["scheduler"]) == (None, "dask", "tcp://h:1")


def test_max_cost_of_the_spec_decides_divergence(tmp_path: Path) -> None:
    from descentlab.experiments.sweep import execute

    spec = dataclasses.replace(TINY, axes=(parse_axis("lr=0.1"),), max_cost=1e-3)
    result = run_sweep(spec, tmp_path / "s", plots=False)  # one configuration, two seeds
    assert [(r["diverged"], r["stopped_epoch"]) for r in result.rows] == [("true", "0")] * 2
    ((entry),) = summarize(result.rows)
    assert (entry["n_seeds"], entry["n_diverged"]) == (2, 2)
    assert (tmp_path / "s" / "summary.csv").read_text() == results_csv_text(list(entry), [entry])
    runs = expand(TINY)
    data = load_experiment_data(TINY.dataset, validation=True)
    ((_, measured),) = execute(runs, [[0]], data, max_cost=1e-3)
    assert measured[0]["diverged"] is True
    ((_, measured),) = execute(runs, [[0]], data)
    assert measured[0]["diverged"] is False


def test_check_populations_builds_the_first_largest_chunk_of_each_population() -> None:
    from descentlab.experiments.sweep import check_populations

    data = load_experiment_data(TINY.dataset, validation=True)
    good = Run("momentum", {"lr": 0.1}, epochs=2)
    bad = Run("momentum", {"lr": 0.1, "beta": 1.5}, epochs=2)  # refused when built
    other = Run("momentum", {"lr": 0.1, "beta": 1.5}, epochs=3)  # another population
    runs = [good, bad, other, good]
    check_populations(runs, [[0], [1]], data)  # only the first of equal size is built
    check_populations(runs, [[0], [1], [0, 3]], data)
    with pytest.raises(InvalidParameterError, match="'beta' parameter of momentum"):
        check_populations(runs, [[1], [0]], data)
    with pytest.raises(InvalidParameterError, match="'beta' parameter of momentum"):
        check_populations(runs, [[0], [1, 3]], data)
    with pytest.raises(InvalidParameterError, match="'beta' parameter of momentum"):
        check_populations(runs, [[0, 3], [2]], data)  # every population is built


def test_train_warms_the_workers_up_and_imports_the_plots_while_the_chunks_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import descentlab.experiments.sweep as sweep_module
    from descentlab.experiments.results import METRICS as metrics
    from descentlab.experiments.sweep import _import_plots, _Sweep, _train

    events: list[tuple] = []

    class Thread:
        def __init__(self, **kwargs) -> None:
            events.append(("thread", kwargs))

        def start(self) -> None:
            events.append(("start",))

        def join(self) -> None:
            events.append(("join",))

    def warm_up(backend: str, jobs: int) -> Thread:
        events.append(("warm_up", backend, jobs))
        return Thread()

    measured = dict.fromkeys(metrics, 0.5) | {"diverged": False, "stopped_epoch": -1}

    def execute(runs, chunks, data, **kwargs):
        events.append(("execute", runs, chunks, data, kwargs))
        for chunk in chunks:
            yield chunk, [measured] * len(chunk)

    monkeypatch.setattr(sweep_module, "threading", SimpleNamespace(Thread=Thread))
    monkeypatch.setattr(sweep_module, "warm_up", warm_up)
    monkeypatch.setattr(sweep_module, "execute", execute)
    spec = dataclasses.replace(TINY, max_cost=5.0)
    runs = expand(spec)
    data = load_experiment_data(spec.dataset, validation=True)
    sweep = _Sweep(spec, tmp_path, runs, [[0, 2], [1, 3]], data, {}, False)
    options = {"jobs": 2, "backend": "local", "scheduler": None, "progress": False}
    assert _train(sweep, sweep.chunks, plots=True, **options) == ("completed", 4)
    assert events == [
        ("warm_up", "local", 2),
        ("thread", {}),
        ("join",),
        ("thread", {"target": _import_plots, "daemon": True}),
        ("start",),
        (
            "execute",
            runs,
            [[0, 2], [1, 3]],
            data,
            {
                "jobs": 2,
                "backend": "local",
                "scheduler": None,
                "max_cost": 5.0,
                "on_epoch": None,
                "engine": "numpy",  # auto, decided once for every chunk: a short run
            },
        ),
    ]
    assert len(sweep.done) == 4
    events.clear()
    options = {"jobs": 3, "backend": "dask", "scheduler": "tcp://h:1", "progress": False}
    assert _train(sweep, [[1, 3]], plots=False, **options) == ("completed", 2)
    ((name, *_, kwargs),) = events  # one chunk: no workers to warm up, no plots to import
    assert (name, kwargs["jobs"], kwargs["backend"], kwargs["scheduler"]) == (
        "execute",
        3,
        "dask",
        "tcp://h:1",
    )
    events.clear()
    monkeypatch.setattr(sweep_module, "Progress", _Bar)
    _train(sweep, [[1, 3]], plots=False, jobs=1, backend="local", scheduler=None, progress=True)
    assert callable(events[0][-1]["on_epoch"])  # a bar drawn: progress within the chunk


def test_a_sweep_on_dask_sends_its_chunks_to_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import descentlab.experiments.sweep as sweep_module

    local = sweep_module.execute
    calls: list[dict] = []

    def execute(runs, chunks, data, **kwargs):  # records where the chunks go, trains them here
        calls.append(kwargs)
        return local(runs, chunks, data)

    monkeypatch.setattr(sweep_module, "execute", execute)
    monkeypatch.setattr(sweep_module, "check_backend", lambda *args: None)  # no Dask needed
    out = tmp_path / "s"
    lines: list[str] = []
    options = {"backend": "dask", "scheduler": "tcp://h:1", "jobs": 3, "progress": True}
    result = run_sweep(TINY, out, plots=False, log=lines.append, **options)
    assert result.n_new == 4 and len(result.rows) == 4
    assert calls == [
        {
            "jobs": 3,
            "backend": "dask",
            "scheduler": "tcp://h:1",
            "max_cost": None,
            "on_epoch": None,
            "engine": "numpy",  # auto, decided once here (compiled.resolve): a short run
        }
    ]  # no per-epoch progress from remote workers
    assert lines[0] == (
        "descentlab sweep: 4 runs (2 configurations × 2 seeds), 2 populations; "
        f"4 to train on dask; writing {out}"
    )


def test_a_completed_sweep_plots_its_rows_and_imports_the_plotting_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import descentlab.experiments.sweep as sweep_module
    import descentlab.experiments.sweep_plots as sweep_plots

    calls: list[tuple] = []
    monkeypatch.setattr(sweep_module, "_import_plots", lambda: calls.append(("import",)))

    def write_sweep_plots(out, rows, spec):
        calls.append(("plot", out, rows, spec))
        return ["a.png"]

    monkeypatch.setattr(sweep_plots, "write_sweep_plots", write_sweep_plots)
    out = tmp_path / "s"
    result = run_sweep(TINY, out)
    deadline = time.monotonic() + 5
    while ("import",) not in calls and time.monotonic() < deadline:  # a background thread
        time.sleep(0.001)
    assert calls == [("import",), ("plot", out, result.rows, TINY)]
    assert result.files == ["sweep.json", "results.csv", "summary.csv", "a.png"]
    calls.clear()
    assert run_sweep(None, out, resume=True, plots=False).files == [
        "sweep.json",
        "results.csv",
        "summary.csv",
    ]
    assert calls == []
