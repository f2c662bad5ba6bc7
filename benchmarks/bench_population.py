"""A population of 1000 seed networks: microseconds per network-epoch, NumPy against compiled.

The workload: K = 1000 networks ``[2, 5, 2, 1]`` (ReLU + sigmoid) in lock-step, init seeds
0..999 with the seed's He initialisation (``init="seed"``: ``np.random.seed(k)``), the seed's
300 moons in the seed's data order (``shuffle="seed"``, data seed 10, shared by every member),
Adam at alpha = 0.0007 with the seed's epsilon (inside the square root), batches of 64, 200
epochs, float64: one ``train(..., seed=range(1000), engine=...)`` call per side.

The two engines alternate for ``--rounds`` rounds; the table gives the median wall time, the
microseconds per network-epoch (seconds / (K x epochs)) and the ratio. The compiled side is
warmed up first (one short call: compilation or loading numba's cache is not timed here; see
``bench_engine.py`` for cold times). The two engines' final parameters are compared (they must
agree to about 1e-12 relative to each array's scale).

    python benchmarks/bench_population.py             (about 30 s)
    python benchmarks/bench_population.py --quick     (20 epochs, one round)
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from _common import UNAVAILABLE, machine, median, seed_data, table, thread_note, verdict

from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.training import train

LR = 0.0007
NET = MLP((2, 5, 2, 1))


def population(X, y, K: int, epochs: int, engine: str) -> dict[str, Any]:
    """One ``train()`` of K seed networks: ``seconds``, ``params``, ``accuracy`` or a ``note``."""
    try:
        start = time.perf_counter()
        r = train(
            NET,
            adam(LR, eps=0.0, eps_root=1e-8),
            X,
            y,
            epochs=epochs,
            seed=list(range(K)),
            init="seed",
            shuffle="seed",
            data_seed=10,
            engine=engine,
        )
        seconds = time.perf_counter() - start
    except Exception as exc:
        if engine != "compiled":
            raise
        return {"note": f"{UNAVAILABLE} ({type(exc).__name__}: {exc})"}
    if r.engine != engine:
        return {"note": f"{UNAVAILABLE} (asked for {engine}, {r.engine} ran)"}
    accuracy = NET.accuracy(r.params, X, y)
    return {"seconds": seconds, "params": r.params, "accuracy": accuracy, "note": ""}


def largest_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest ``|a - b|`` relative to the scale ``max |a|`` of each member's array."""
    worst = 0.0
    for key in a:
        axes = tuple(range(1, a[key].ndim))
        scale = np.maximum(np.max(np.abs(a[key]), axis=axes, keepdims=True), 1e-300)
        worst = max(worst, float(np.max(np.abs(a[key] - b[key]) / scale)))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=None, help="default 200 (20 --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="20 epochs, one round")
    args = parser.parse_args()
    E = args.epochs or (20 if args.quick else 200)
    rounds = args.rounds or (1 if args.quick else 3)
    K = args.networks
    X, y, _ = seed_data()
    print(f"machine: {machine()}; {thread_note()}")
    print(
        f"workload: {K} seed networks [2, 5, 2, 1], adam lr {LR}, batch 64, the seed's data "
        f"and order, {E} epochs, float64; {rounds} round(s), medians\n"
    )
    engines = ["numpy", "compiled"]
    warm = population(X, y, K, 2, "compiled")  # compile or load the cache, untimed
    missing = warm["note"]
    if missing:
        engines.remove("compiled")
    got: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(rounds):
        for engine in engines:
            got[engine].append(population(X, y, K, E, engine))
    print(f"machine after the runs: {machine()}")
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        print(
            "(glibc returns the NumPy side's large temporaries to the system after every step "
            "and page-faults them in again; with MALLOC_TRIM_THRESHOLD_=4000000000 "
            "MALLOC_MMAP_THRESHOLD_=1000000000 it runs about twice as fast: README, Scaling)"
        )
    print()

    def per_epoch(engine: str) -> float:
        return median([g["seconds"] for g in got[engine]]) / (K * E) * 1e6

    rows = []
    for engine in ("numpy", "compiled"):
        if engine not in got:
            rows.append([f"train(), engine={engine!r}", missing, "", "", ""])
            continue
        seconds = median([g["seconds"] for g in got[engine]])
        accuracy = got[engine][0]["accuracy"]
        rows.append(
            [
                f"train(), engine={engine!r}",
                f"{seconds:.3f}",
                f"{per_epoch(engine):.2f}",
                f"{per_epoch('numpy') / per_epoch(engine):.1f}x",
                f"{accuracy.mean():.4f} ({accuracy.min():.4f}..{accuracy.max():.4f})",
            ]
        )
    header = ["side", "seconds", "µs per network-epoch", "vs numpy", "train accuracy (mean, range)"]
    print(table(header, rows))
    print()
    if missing:
        print(f"compiled: {missing}")
        print(f"numpy: {per_epoch('numpy'):.2f} µs per network-epoch")
        return
    diff = largest_difference(got["numpy"][0]["params"], got["compiled"][0]["params"])
    same = np.array_equal(got["numpy"][0]["accuracy"], got["compiled"][0]["accuracy"])
    print(
        f"final parameters, compiled vs numpy: largest difference {diff:.1e} of each array's "
        f"scale; train accuracies {'equal' if same else 'DIFFERENT'} for every network"
    )
    ours = per_epoch("compiled")
    print(
        f"compiled: {ours:.2f} µs per network-epoch (target <= 5: {verdict(ours <= 5)}); "
        f"numpy / compiled = {per_epoch('numpy') / ours:.1f}x"
    )


if __name__ == "__main__":
    main()
