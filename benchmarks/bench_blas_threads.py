"""BLAS threads for MNIST-1D-sized networks: one thread (what ``train`` uses) against BLAS's own.

The workload: a population of ``--members`` networks ``40-100-100-10`` (ReLU, softmax), 4000
Gaussian examples of 40 features and 10 classes, mini-batches of 100, Adam at 1e-3, ``--epochs``
epochs, the same initial weights on every side. Sides, alternating in ``--rounds`` rounds
(medians of seconds):

- ``numpy, one BLAS thread``: ``train(..., engine="numpy")`` as it runs (its products are in
  ``training.ONE_BLAS_THREAD``'s range, so ``train`` limits BLAS to one thread);
- ``numpy, BLAS's threads``: the same with that range emptied (BLAS's default thread count);
- ``compiled``: ``engine="compiled"`` (warmed up first), what ``auto`` would run without the
  BLAS-bound rule (``compiled.program.blas_bound``).

The ratio column is each side's seconds over the first side's (above 1: slower).

    python benchmarks/bench_blas_threads.py              (about a minute)
    python benchmarks/bench_blas_threads.py --members 1 --epochs 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import machine, median, table, thread_note

from descentlab import training
from descentlab.nn import MLP
from descentlab.optimizers import adam

NET = MLP((40, 100, 100, 10))


def side(X, y, params, members: int, epochs: int, engine: str) -> float:
    start = time.perf_counter()
    r = training.train(
        NET, adam(1e-3), X, y, epochs=epochs, batch_size=100, params=params,
        data_seed=list(range(members)) if members > 1 else 0, eval_every=epochs, engine=engine,
    )  # fmt: skip
    assert r.engine == engine, (r.engine, engine)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4000))
    y = rng.integers(0, 10, 4000)
    seeds = list(range(args.members)) if args.members > 1 else 0
    params = NET.init(seeds)
    side(X, y, params, args.members, 1, "compiled")  # compile / load the kernels first
    one_thread = training.ONE_BLAS_THREAD
    times: dict[str, list[float]] = {"numpy, one BLAS thread": [], "numpy, BLAS's threads": [],
                                     "compiled": []}  # fmt: skip
    for _ in range(args.rounds):
        times["numpy, one BLAS thread"].append(
            side(X, y, params, args.members, args.epochs, "numpy")
        )
        training.ONE_BLAS_THREAD = (0, 0)
        try:
            times["numpy, BLAS's threads"].append(
                side(X, y, params, args.members, args.epochs, "numpy")
            )
        finally:
            training.ONE_BLAS_THREAD = one_thread
        times["compiled"].append(side(X, y, params, args.members, args.epochs, "compiled"))
    base = median(times["numpy, one BLAS thread"])
    rows = [[name, f"{median(t):.2f}", f"{median(t) / base:.2f}x"] for name, t in times.items()]
    print(f"# {machine()}; {thread_note()}")
    print(f"# {args.members} networks 40-100-100-10, {args.epochs} epochs, {args.rounds} rounds")
    print(table(["side", "seconds (median)", "ratio"], rows))


if __name__ == "__main__":
    main()
