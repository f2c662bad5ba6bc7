"""The seed's three-optimizer comparison (10000 epochs): descentlab against the seed's own loop.

Baseline: ``seed_baseline.model()`` three times (gd, momentum, adam; alpha = 0.0007, batches
of 64, the seed's initialisation and data order), one after the other, as the notebook does.
descentlab: the same three runs as ONE population of three networks sharing the forward and
backward passes, each with its own optimizer (``experiments.population``); for the record also
three separate ``train()`` calls. Every side must reach the seed's accuracies 0.7967 /
0.7967 / 0.94 (checked), and the final weights agree to ~1e-12.

    python benchmarks/bench_seed_compare.py            (about 20 s)
"""

from __future__ import annotations

import argparse

import numpy as np
import seed_baseline as sb
from _common import machine, seed_data, table, timed

from descentlab.experiments.population import Run, SplitData, train_population
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


def population(X, y, epochs):
    data = SplitData(X, y, X, y, X, y, 2)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10000)
    args = parser.parse_args()
    X, y, Y = seed_data()
    print(f"machine: {machine()}")
    print(f"workload: the seed's comparison, {args.epochs} epochs, moons (300), [2, 5, 2, 1]\n")

    t_base, base = timed(lambda: baseline(X, y, Y, args.epochs))
    t_pop, pop = timed(lambda: population(X, y, args.epochs))
    t_sep, sep = timed(lambda: separate(X, y, args.epochs))

    worst = max(
        float(
            np.max(np.abs(sep[n][0][k] - base[n][0][k]) / np.maximum(np.abs(base[n][0][k]), 1e-12))
        )
        for n in OPTIMIZERS
        for k in base[n][0]
    )
    rows = [
        [
            "seed's loop (baseline)",
            f"{t_base:.2f}",
            "1.00x",
            *(f"{base[n][1]:.4f}" for n in OPTIMIZERS),
        ],
        [
            "descentlab, one population of 3",
            f"{t_pop:.2f}",
            f"{t_base / t_pop:.2f}x",
            *(f"{pop[n]:.4f}" for n in OPTIMIZERS),
        ],
        [
            "descentlab, 3 separate train() calls",
            f"{t_sep:.2f}",
            f"{t_base / t_sep:.2f}x",
            *(f"{sep[n][1]:.4f}" for n in OPTIMIZERS),
        ],
    ]
    print(table(["side", "seconds", "speed-up", "gd acc", "momentum acc", "adam acc"], rows))
    print(f"\nlargest relative difference of the final weights, train() vs baseline: {worst:.1e}")
    if args.epochs == 10000:
        for n in OPTIMIZERS:
            assert base[n][1] == pop[n] == sep[n][1] == SEED_ACCURACY[n], n
        print("all three sides reach the seed's accuracies 0.7967 / 0.7967 / 0.9400")
    print(f"\nratio (baseline / descentlab population): {t_base / t_pop:.2f}x  (target >= 2x)")


if __name__ == "__main__":
    main()
