"""A 240-run sweep (3 optimizers × 8 learning rates × 10 seeds, 1000 epochs): ``run_sweep``
against 240 runs of the seed's own loop.

Both sides train the same 240 runs: the seed's initialisation (``RandomState(seed)`` He) and
data order (``RandomState(seed + epoch + 1)``) with seeds 0..9, learning rates 1e-4..1e-1
(8, geometric), gd / momentum (beta 0.9) / Adam (the seed's epsilon), batches of 64 on the
seed's moons. descentlab times one complete ``run_sweep`` call on 2 worker processes (from a
cold start of the workers): planning, training, measuring validation/test accuracy, writing
results.csv, summary.csv and the plot. The baseline times its 240 ``model()`` calls, all of
them by default; ``--baseline-runs N`` times N of them (spread over the grid) and
extrapolates, and then says so. The final training accuracies of the two sides are compared
run by run.

    python benchmarks/bench_sweep.py              (about 80 s: the baseline is the long part)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import seed_baseline as sb
from _common import machine, seed_data, table, timed

from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_space import SweepSpec, expand, parse_axis

SPEC = SweepSpec(
    axes=(parse_axis("lr=1e-4..1e-1", points=8),),
    seeds=tuple(range(10)),
    epochs=1000,
    init="seed",
    shuffle="seed",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the sweep")
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=240,
        help="time this many baseline runs (spread over the grid) and extrapolate to 240",
    )
    args = parser.parse_args()
    X, y, Y = seed_data()
    runs = expand(SPEC)
    print(f"machine: {machine()}")
    print(
        f"workload: {len(runs)} runs = 3 optimizers × 8 learning rates × 10 seeds, "
        f"{SPEC.epochs} epochs each, moons (300), [2, 5, 2, 1], batches of 64\n"
    )

    with tempfile.TemporaryDirectory() as tmp:
        t_sweep, result = timed(
            lambda: run_sweep(SPEC, Path(tmp) / "sweep", jobs=args.jobs, progress=False)
        )
    ours = {r["run_id"]: float(r["train_accuracy"]) for r in result.rows}

    n = min(max(1, args.baseline_runs), len(runs))
    picked = np.unique(np.linspace(0, len(runs) - 1, n).round().astype(int))
    matches, worst = 0, 0.0

    def baseline() -> None:
        nonlocal matches, worst
        for i in picked:
            r = runs[i]
            params, _ = sb.model(
                X,
                Y,
                [2, 5, 2, 1],
                r.optimizer,
                learning_rate=r.learning_rate,
                num_epochs=SPEC.epochs,
                init_seed=r.seed,
                data_seed=r.seed,
            )
            acc = sb.accuracy(X, y, params)
            matches += acc == ours[r.run_id()]
            worst = max(worst, abs(acc - ours[r.run_id()]))

    with np.errstate(divide="ignore", invalid="ignore"):  # the seed's log(0) at lr 0.1
        t_measured, _ = timed(baseline)
    t_base = t_measured * len(runs) / len(picked)
    extrapolated = len(picked) < len(runs)

    label = (
        f"seed's loop, {len(picked)} of 240 runs timed, EXTRAPOLATED to 240"
        if extrapolated
        else "seed's loop, 240 runs one after another"
    )
    rows = [
        [label, f"{t_base:.1f}", "1.0x"],
        [
            f"descentlab run_sweep, {args.jobs} worker processes",
            f"{t_sweep:.2f}",
            f"{t_base / t_sweep:.1f}x",
        ],
    ]
    print(table(["side", "seconds", "speed-up"], rows))
    print(
        f"\ntrain accuracy equal in {matches} of {len(picked)} compared runs "
        f"(largest difference {worst:.4f})"
    )
    note = " (baseline EXTRAPOLATED from a subset)" if extrapolated else ""
    print(f"ratio (baseline / descentlab sweep): {t_base / t_sweep:.1f}x{note}  (target >= 20x)")


if __name__ == "__main__":
    main()
