"""What a checkpoint costs: capture and write, for a population of 1000 seed networks.

The workload: the seed's 300 moons, ``[2, 5, 2, 1]``, Adam at per-member learning rates
(1e-4 .. 1e-1), batches of 64, 1000 members (seeds 0..999, one shared data order),
``shuffle="random"``, a checkpoint every ``--every`` epochs. For each engine the time spent in
checkpoints is measured where it is spent (``training._run_state``: the history and optimizer
state gathered; ``training.write_checkpoint``: the two files written, fsync included), beside
the time per epoch of the same run. A checkpoint's size grows with the history it holds:
``3 * K * 8`` bytes per epoch (24 KB for K = 1000), so the last one costs the most.

    python benchmarks/bench_checkpoint.py                  (about a minute on 2 cores)
    python benchmarks/bench_checkpoint.py --epochs 200 --every 50
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import descentlab.training as training
from descentlab.checkpoint import checkpoint_files
from descentlab.datasets import load_moons
from descentlab.nn import MLP
from descentlab.optimizers import adam


def _timed(name: str, spent: list[float]) -> None:
    real = getattr(training, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    setattr(training, name, wrapper)


def measure(engine: str, K: int, epochs: int, every: int, folder: Path) -> dict[str, float]:
    """Train once with checkpoints; the seconds per epoch and per checkpoint, and its size."""
    data = load_moons()
    net, lr = MLP((2, 5, 2, 1)), np.geomspace(1e-4, 1e-1, K)
    kwargs = dict(batch_size=64, seed=list(range(K)), data_seed=7, shuffle="random",
                  engine=engine, progress=False)  # fmt: skip
    training.train(net, adam(lr), data.X, data.y, epochs=2, **kwargs)  # warm (compiled: load)
    capture, write = [], []
    real = training._run_state, training.write_checkpoint
    _timed("_run_state", capture)
    _timed("write_checkpoint", write)
    try:
        start = time.perf_counter()
        training.train(net, adam(lr), data.X, data.y, epochs=epochs, eval_every=epochs,
                       checkpoint=folder / f"{engine}.npz", checkpoint_every=every, **kwargs)  # fmt: skip
        total = time.perf_counter() - start
    finally:
        training._run_state, training.write_checkpoint = real
    spent = sum(capture) + sum(write)
    size = sum(f.stat().st_size for f in checkpoint_files(folder / f"{engine}.npz"))
    return {
        "epoch_ms": 1000 * (total - spent) / epochs,
        "checkpoint_ms": 1000 * spent / len(write),
        "last_ms": 1000 * (capture[-1] + write[-1]),
        "share": spent / total,
        "mb": size / 2**20,
        "n": len(write),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    print(f"{args.members} members, {args.epochs} epochs, a checkpoint every {args.every}")
    print("engine    ms/epoch  checkpoints  ms/checkpoint (mean, last)  share  last MB")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("numpy", "compiled"):
            r = measure(engine, args.members, args.epochs, args.every, Path(tmp))
            print(f"{engine:8}  {r['epoch_ms']:8.1f}  {r['n']:11d}  {r['checkpoint_ms']:14.1f}, "
                  f"{r['last_ms']:6.1f}      {100 * r['share']:4.1f}%  {r['mb']:7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
