"""How the problem suite's budgets and targets were chosen, and what one run of each costs.

    python benchmarks/problem_targets.py reach [PROBLEM ...] [--seeds 5] [--epochs N]
    python benchmarks/problem_targets.py seconds [PROBLEM ...] [--rounds 3]

``reach`` trains, for each problem, a grid of learning rates for Adam, momentum and plain
mini-batch gradient descent (``gd``), each over ``--seeds`` seeds, as one population with a
validation evaluation after every epoch, for ``--epochs`` (default: twice the problem's
budget), and prints per configuration how many seeds reach the problem's target within
fractions of the budget, the median epoch at which they reach it, and the median final and
best validation metric. The grids are :data:`GRIDS`. These tables are in docs/problems.md.

``seconds`` times one run of each problem's budget (Adam at the problem's default learning
rate, seed 0, ``Problem.run``) with ``engine="numpy"`` and ``engine="compiled"`` (warm: the
kernels compiled and loaded before timing), the median of ``--rounds``, with the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

from descentlab._validation import InvalidParameterError
from descentlab.experiments.population import Population, train_population
from descentlab.problems import PROBLEMS, get_problem

GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "seed-moons": {
        "adam": (0.001, 0.003, 0.01, 0.03, 0.1),
        "momentum": (0.003, 0.01, 0.03, 0.1, 0.3),
        "gd": (0.01, 0.03, 0.1, 0.3, 1.0),
    },
    "mnist1d": {
        "adam": (0.002, 0.005, 0.01, 0.02, 0.05),
        "momentum": (0.1, 0.3, 1.0),
        "gd": (0.01, 0.3, 1.0, 3.0),
    },
    "digits": {
        "adam": (0.001, 0.003, 0.01, 0.03, 0.1),
        "momentum": (0.003, 0.01, 0.03, 0.1, 0.3),
        "gd": (0.01, 0.03, 0.1, 0.3, 1.0),
    },
    "breast-cancer": {
        "adam": (0.001, 0.003, 0.01, 0.03, 0.1),
        "momentum": (0.003, 0.01, 0.03, 0.1, 0.3),
        "gd": (0.01, 0.03, 0.1, 0.3, 1.0),
    },
    "noisy-quadratic": {
        "adam": (0.01, 0.05, 0.1, 0.2, 0.3),
        "momentum": (0.003, 0.01, 0.02, 0.03),
        "gd": (0.003, 0.01, 0.02, 0.03),
    },
    "spiral": {
        "adam": (0.001, 0.003, 0.01, 0.03, 0.1),
        "momentum": (0.01, 0.03, 0.1, 0.3, 1.0),
        "gd": (0.01, 0.03, 0.1, 0.3, 1.0),
    },
}
"""The learning rates tried per problem and optimizer."""


def reach(name: str, seeds: int, epochs: int | None) -> None:
    """Print the reach table of one problem (see the module docstring)."""
    p = get_problem(name)
    epochs = epochs or 2 * p.epochs
    configs = [(opt, lr) for opt, rates in GRIDS[name].items() for lr in rates]
    runs = [
        p.run(o, {"learning_rate": lr}, s, epochs=epochs) for o, lr in configs for s in range(seeds)
    ]
    population = Population(runs, p.data())
    start = time.perf_counter()
    result = population.train(validation=True, eval_every=1, engine="numpy")
    seconds = time.perf_counter() - start
    budgets = (p.epochs // 2, p.epochs, epochs)
    print(
        f"\n{p.name}: {p.target_text} within {p.epochs} epochs ({p.steps} steps); "
        f"{len(runs)} runs x {epochs} epochs in {seconds:.0f} s"
    )
    print(
        f"{'optimizer':<9} {'lr':>6}  "
        + "  ".join(f"@{b:<5}" for b in budgets)
        + "  epochs-to-target  final    best"
    )
    for c, (opt, lr) in enumerate(configs):
        hits, finals, bests = [], [], []
        for s in range(seeds):
            history = population.member(result, c * seeds + s).history
            values = history.val_accuracy if p.metric == "accuracy" else history.val_cost
            reached = p.reached(values)
            hits.append(int(history.eval_epochs[np.argmax(reached)]) + 1 if reached.any() else None)
            finals.append(float(values[-1]))
            best = np.nanmax(values) if p.metric == "accuracy" else np.nanmin(values)
            bests.append(float(best))
        counts = [sum(1 for h in hits if h is not None and h <= b) for b in budgets]
        median = np.median([np.inf if h is None else h for h in hits])
        print(
            f"{opt:<9} {lr:>6g}  "
            + "  ".join(f"{n}/{seeds:<4}" for n in counts)
            + f"  {median:>16}  {np.median(finals):.4f}  {np.median(bests):.4f}"
        )


def seconds(name: str, rounds: int) -> None:
    """Print the seconds of one run of the problem's budget, numpy and compiled."""
    p = get_problem(name)
    data = p.data()
    run = p.run("adam", {}, seed=0)
    times: dict[str, list[float]] = {"numpy": [], "compiled": []}
    try:  # compile (or load) the kernels before timing
        train_population([dataclasses.replace(run, epochs=1)], data, engine="compiled")
    except InvalidParameterError:  # a configuration the compiled engine does not cover
        del times["compiled"]
    for _ in range(rounds):
        for engine in times:
            start = time.perf_counter()
            (row,) = train_population([run], data, engine=engine)
            times[engine].append(time.perf_counter() - start)
            assert row["engine"] == engine, row
    shown = {e: f"{np.median(t):7.2f} s" for e, t in times.items()}
    print(
        f"{p.name:<16} {p.epochs:>5} epochs {p.steps:>6} steps  numpy {shown['numpy']}  "
        f"compiled {shown.get('compiled', 'not covered')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("reach", "seconds"))
    parser.add_argument("problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    for name in args.problems:
        if args.what == "reach":
            reach(name, args.seeds, args.epochs)
        else:
            seconds(name, args.rounds)
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
