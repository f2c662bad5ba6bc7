"""How training time grows with epochs, population size (1 to 1000) and data size (300 to 100 000).

Each point is one ``train()`` call (Adam, ``[2, 5, 2, 1]``, batches of 64, moons data), timed
by wall clock on one core:

- epochs: one network, 250 to 8000 epochs of the seed's 300 examples;
- population: K = 1 to 1000 networks in lock-step (per-member learning rates, K init seeds,
  10 data orders), 200 epochs;
- data: one network, 300 to 100 000 examples (``make_moons``), 20 epochs.

Prints a table (also written as ``scaling.csv``) and draws ``scaling.png`` (log-log, three
panels) into ``--out`` (default: this folder).

    python benchmarks/bench_scaling.py              (about 1 minute)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from _common import HERE, machine, table, timed
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from descentlab.datasets import load_moons, make_moons
from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.training import train

NET = MLP((2, 5, 2, 1))


def run(X, y, epochs: int, K: int | None) -> float:
    if K is None:
        seconds, _ = timed(lambda: train(NET, adam(0.01), X, y, epochs=epochs, seed=0))
    else:
        lr = np.geomspace(1e-4, 1e-1, K)
        seeds = list(range(K))
        orders = [k % 10 for k in range(K)]
        seconds, _ = timed(
            lambda: train(NET, adam(lr), X, y, epochs=epochs, seed=seeds, data_seed=orders)
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller points")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    moons = load_moons()
    rows = []
    epochs_axis = [250, 500, 1000, 2000] if args.quick else [250, 500, 1000, 2000, 4000, 8000]
    for E in epochs_axis:
        s = run(moons.X, moons.y, E, None)
        rows.append(["epochs", E, 1, 300, E, f"{s:.3f}", f"{s / E * 1e3:.3f}"])
    pop_axis = [1, 3, 10, 30, 100, 300, 1000] if not args.quick else [1, 10, 100]
    for K in pop_axis:
        E = 200
        s = run(moons.X, moons.y, E, K)
        rows.append(["population", K, K, 300, E, f"{s:.3f}", f"{s / E / K * 1e3:.4f}"])
    data_axis = [300, 1000, 3000, 10000, 30000, 100000] if not args.quick else [300, 3000]
    for m in data_axis:
        E = 20
        ds = make_moons(m, noise=0.2, seed=0)
        s = run(ds.X, ds.y, E, None)
        rows.append(["data", m, 1, m, E, f"{s:.3f}", f"{s / E * 1e3:.3f}"])
    header = ["axis", "value", "K", "examples", "epochs", "seconds", "ms per member-epoch"]
    print(table(header, rows))
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "scaling.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)

    fig = Figure(figsize=(13, 4), dpi=100)
    panels = (
        ("epochs", "epochs (one network, 300 examples)"),
        ("population", "population size K (200 epochs)"),
        ("data", "training examples (one network, 20 epochs)"),
    )
    for i, (axis, label) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        pts = [(float(r[1]), float(r[5])) for r in rows if r[0] == axis]
        x, t = np.array(pts).T
        ax.loglog(x, t, "o-", label="measured")
        ax.loglog(x, t[0] * x / x[0], ":", color="gray", label="linear from the first point")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label)
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left")
    fig.suptitle("Training time (Adam, [2, 5, 2, 1], batches of 64, one core)")
    fig.tight_layout()
    fig.savefig(args.out / "scaling.png")
    print(f"\nwrote {args.out / 'scaling.csv'} and {args.out / 'scaling.png'}")


if __name__ == "__main__":
    main()
