"""The seed's three-optimizer comparison (10000 epochs): descentlab against the seed's own loop.

Baseline: ``seed_baseline.model()`` three times (gd, momentum, adam; alpha = 0.0007, batches
of 64, the seed's initialisation and data order), one after the other, as the notebook does.

descentlab, the entry point users run: ``run_comparison(ExperimentConfig())`` — what
``descentlab compare`` and ``make demo`` do — timed whole: loading the data, training the three
optimizers as ONE population (one forward and backward pass per mini-batch for all three,
each member updated by its own optimizer), test accuracy every 100 epochs, and writing the run
folder into a temporary directory: results.json, history.csv (30000 rows), models.npz, the two
plots (matplotlib is imported inside the timed call, as in a fresh ``descentlab compare``) and
report.html. Plots INCLUDED. The seed data (and scikit-learn, which makes them) are loaded
before any clock starts, for the baseline; the baseline does no test evaluation and writes
nothing, so the comparison is conservative.

For the record: the same entry point once per optimizer (three comparisons of one optimizer
each, one after another), the bare population (``experiments.population.train_population``)
and three separate ``train()`` calls. Every side must reach the seed's accuracies 0.7967 /
0.7967 / 0.94 (checked), the ``run_comparison`` sides must agree on every number but the
seconds (checked), and the final weights agree with the baseline's to ~1e-14.

    python benchmarks/bench_seed_compare.py            (about 35 s)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import seed_baseline as sb
from _common import machine, seed_data, table, timed

from descentlab.datasets import Dataset
from descentlab.experiments.compare import run_comparison
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Run, train_population
from descentlab.nn import MLP
from descentlab.optimizers import adam, gd, momentum
from descentlab.training import train

OPTIMIZERS = ("gd", "momentum", "adam")
SEED_ACCURACY = {"gd": 0.7966666666666666, "momentum": 0.7966666666666666, "adam": 0.94}


def baseline(X, y, Y, epochs):
    out = {}
    for name in OPTIMIZERS:
        params, _ = sb.model(X, Y, [2, 5, 2, 1], name, num_epochs=epochs)
        out[name] = (params, sb.accuracy(X, y, params))
    return out


def compare(epochs, out_dir):
    """``run_comparison`` of the seed's study: (train accuracies, results.json, training loop s)."""
    run_comparison(ExperimentConfig(epochs=epochs), out_dir, progress=False)
    saved = json.loads((Path(out_dir) / "results.json").read_text())
    accuracy = {r["label"]: r["train_accuracy"] for r in saved["runs"]}
    loop = saved["runs"][0]["seconds"]  # every run's seconds is the population's wall time
    return accuracy, saved, loop


def one_by_one(epochs, out_dir):
    """The seed's study as three comparisons of one optimizer each, one after another."""
    config = ExperimentConfig(epochs=epochs)
    runs, history, loop = [], [], 0.0
    for spec in config.optimizers:
        folder = Path(out_dir) / spec.name
        run_comparison(config.replace(optimizers=(spec,)), folder, progress=False)
        saved = json.loads((folder / "results.json").read_text())
        runs += saved["runs"]
        history += (folder / "history.csv").read_text().splitlines()[1:]
        loop += saved["runs"][0]["seconds"]
    return {r["label"]: r["train_accuracy"] for r in runs}, {"runs": runs}, loop, history


def population(X, y, epochs):
    moons = Dataset("moons", X, y)
    data = ExperimentData(train=moons, val=moons, test=moons)
    runs = [
        Run(name, {"lr": 0.0007}, epochs=epochs, init="seed", shuffle="seed", seed=3, data_seed=10)
        for name in OPTIMIZERS
    ]
    rows = train_population(runs, data)
    return {name: r["train_accuracy"] for name, r in zip(OPTIMIZERS, rows, strict=True)}


def separate(X, y, epochs):
    net = MLP((2, 5, 2, 1))
    opts = {
        "gd": gd(0.0007),
        "momentum": momentum(0.0007, 0.9),
        "adam": adam(0.0007, eps=0.0, eps_root=1e-8),
    }
    out = {}
    for name, opt in opts.items():
        r = train(net, opt, X, y, epochs=epochs, init="seed", shuffle="seed", data_seed=10)
        out[name] = (r.params, float(net.accuracy(r.params, X, y)))
    return out


def _numbers(results):
    """Every run's numbers in results.json but the times."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in results["runs"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10000)
    args = parser.parse_args()
    X, y, Y = seed_data()
    print(f"machine: {machine()}")
    print(f"workload: the seed's comparison, {args.epochs} epochs, moons (300), [2, 5, 2, 1]\n")

    with tempfile.TemporaryDirectory() as tmp:
        t_base, base = timed(lambda: baseline(X, y, Y, args.epochs))
        t_cmp, (cmp, cmp_json, cmp_loop) = timed(
            lambda: compare(args.epochs, Path(tmp) / "together")
        )
        t_one, (one, one_json, one_loop, one_history) = timed(
            lambda: one_by_one(args.epochs, Path(tmp) / "one-by-one")
        )
        t_pop, pop = timed(lambda: population(X, y, args.epochs))
        t_sep, sep = timed(lambda: separate(X, y, args.epochs))
        history = (Path(tmp) / "together" / "history.csv").read_text().splitlines()[1:]
        same_files = history == one_history

    worst = max(
        float(
            np.max(np.abs(sep[n][0][k] - base[n][0][k]) / np.maximum(np.abs(base[n][0][k]), 1e-12))
        )
        for n in OPTIMIZERS
        for k in base[n][0]
    )

    def row(side, seconds, acc):
        return [
            side,
            f"{seconds:.2f}",
            f"{t_base / seconds:.2f}x",
            *(f"{acc[n]:.4f}" for n in OPTIMIZERS),
        ]

    rows = [
        row("seed's loop (baseline)", t_base, {n: base[n][1] for n in OPTIMIZERS}),
        row("run_comparison(ExperimentConfig()), together", t_cmp, cmp),
        row("run_comparison once per optimizer", t_one, one),
        row("population of 3 (train_population)", t_pop, pop),
        row("3 separate train() calls", t_sep, {n: sep[n][1] for n in OPTIMIZERS}),
    ]
    print(table(["side", "seconds", "speed-up", "gd acc", "momentum acc", "adam acc"], rows))
    print(
        f"\nrun_comparison, together: training loop {cmp_loop:.2f} s, the rest (data, evaluation, "
        f"files, plots, report) {t_cmp - cmp_loop:.2f} s"
    )
    print(
        f"run_comparison once per optimizer: training loops {one_loop:.2f} s, the rest "
        f"{t_one - one_loop:.2f} s"
    )
    print(f"largest relative difference of the final weights, train() vs baseline: {worst:.1e}")
    assert _numbers(cmp_json) == _numbers(one_json) and same_files
    print(
        "run_comparison together and once per optimizer: every number in results.json and "
        "history.csv equal"
    )
    if args.epochs == 10000:
        for n in OPTIMIZERS:
            assert base[n][1] == cmp[n] == one[n] == pop[n] == sep[n][1] == SEED_ACCURACY[n], n
        print("every side reaches the seed's accuracies 0.7967 / 0.7967 / 0.9400")
    print(
        f"\nratio (baseline / run_comparison, plots included): {t_base / t_cmp:.2f}x  "
        "(target >= 2x)"
    )


if __name__ == "__main__":
    main()
