"""A wider network: seconds per epoch of descentlab (NumPy, compiled), PyTorch CPU and JAX + Optax.

The workload (MNIST-1D shaped): ``40-100-100-10`` with ReLU and a softmax output, 4000 training
examples of 40 features and 10 classes, mini-batches of 100 (40 steps an epoch) in a fresh
random order every epoch, Adam at alpha = 1e-3 (b1 0.9, b2 0.999, epsilon 1e-8), float64 on
every side, the same initial weights (descentlab's He initialisation, seed 0). The data come
from ``mnist1d`` when it is importable (it is not a dependency), else they are Gaussian
features (``default_rng(0)``) labelled by a fixed random ReLU teacher network (learnable, so
the accuracies say that every side trains).

Sides, each training from the same start for ``--epochs`` epochs per measurement, alternating
in ``--rounds`` rounds (medians of seconds per epoch):

- descentlab ``train(..., engine="numpy")`` and ``engine="compiled"`` (one call each);
- PyTorch CPU, float64, a plain loop (``zero_grad``, forward, ``cross_entropy``, ``backward``,
  ``step``), with ``torch.set_num_threads(1)`` and with the default number of threads;
- JAX + Optax, x64: one jitted function per epoch that gathers the epoch's batches and runs
  them with ``lax.scan`` (``optax.adam``: epsilon outside the square root, as PyTorch's and
  descentlab's ``adam``).

Compilation (numba's and XLA's) and PyTorch's first steps are warmed up before any clock runs.
The ratio column is each side's time per epoch over descentlab compiled's (above 1: slower
than descentlab compiled).

    python benchmarks/bench_wide.py            (about 1-2 minutes)
    python benchmarks/bench_wide.py --quick    (3 epochs, one round)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import UNAVAILABLE, machine, median, run_worker, table, thread_note, verdict

from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.training import train

LAYERS = (40, 100, 100, 10)
LR = 1e-3
BATCH = 100
NET = MLP(LAYERS)
SCRIPT = str(Path(__file__).resolve())


def wide_data() -> tuple[np.ndarray, np.ndarray, str]:
    """``X (40, 4000)``, ``y (4000,)`` and where they come from."""
    try:
        import mnist1d  # type: ignore[import-not-found]

        data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
        X = np.asarray(data["x"][:4000], dtype=np.float64).T
        return np.ascontiguousarray(X), np.asarray(data["y"][:4000]), "mnist1d"
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4000))
    teacher = MLP((40, 32, 10))
    y = teacher.predict(teacher.init(12345), X)
    return X, y, "Gaussian features, labels of a random ReLU teacher 40-32-10"


def epoch_orders(epochs: int, m: int, seed: int = 0) -> np.ndarray:
    """A fresh random order per epoch, ``(epochs, m)``, for the PyTorch and JAX sides."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(m) for _ in range(epochs)])


# ---------------------------------------------------------------- descentlab


def descentlab_side(X, y, init, epochs: int, engine: str) -> dict[str, Any]:
    """``train()`` for ``epochs`` epochs: ``seconds``, ``accuracy`` or a ``note``."""
    try:
        start = time.perf_counter()
        r = train(
            NET,
            adam(LR),
            X,
            y,
            epochs=epochs,
            batch_size=BATCH,
            params=init,
            shuffle="random",
            data_seed=0,
            eval_every=epochs,
            engine=engine,
        )
        seconds = time.perf_counter() - start
    except Exception as exc:
        if engine != "compiled":
            raise
        return {"note": f"{UNAVAILABLE} ({type(exc).__name__}: {exc})"}
    if r.engine != engine:
        return {"note": f"{UNAVAILABLE} (asked for {engine}, {r.engine} ran)"}
    return {"seconds": seconds, "accuracy": float(NET.accuracy(r.params, X, y)), "note": ""}


# ---------------------------------------------------------------- PyTorch


def torch_side(X, y, init) -> Callable[[int, int], dict[str, Any]]:
    """A function ``(epochs, threads) -> result``: a plain PyTorch loop, float64."""
    import torch

    Xt = torch.from_numpy(np.ascontiguousarray(X.T))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    default_threads = torch.get_num_threads()

    def run(epochs: int, threads: int) -> dict[str, Any]:
        torch.set_num_threads(threads or default_threads)
        layers = []
        for l in range(1, len(LAYERS)):
            linear = torch.nn.Linear(LAYERS[l - 1], LAYERS[l], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(init[f"W{l}"]))
                linear.bias.copy_(torch.from_numpy(init[f"b{l}"][:, 0]))
            layers += [linear, torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        orders = torch.from_numpy(epoch_orders(epochs, Xt.shape[0]))
        start = time.perf_counter()
        for e in range(epochs):
            for a in range(0, Xt.shape[0], BATCH):
                idx = orders[e, a : a + BATCH]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        seconds = time.perf_counter() - start
        with torch.no_grad():
            accuracy = float((model(Xt).argmax(1) == yt).double().mean())
        return {"seconds": seconds, "accuracy": accuracy, "note": ""}

    run.default_threads = default_threads  # type: ignore[attr-defined]
    return run


# ---------------------------------------------------------------- JAX + Optax


def jax_side(X, y, init) -> Callable[[int], dict[str, Any]]:
    """A function ``epochs -> result``: one jitted, scanned epoch per call, x64."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    Xj = jnp.asarray(np.ascontiguousarray(X.T))
    yj = jnp.asarray(np.asarray(y, dtype=np.int64))
    n_layers = len(LAYERS) - 1
    params0 = {k: jnp.asarray(v[:, 0] if k.startswith("b") else v.T) for k, v in init.items()}
    opt = optax.adam(LR)

    def loss(p, xb, yb):
        a = xb
        for l in range(1, n_layers):
            a = jax.nn.relu(a @ p[f"W{l}"] + p[f"b{l}"])
        logits = a @ p[f"W{n_layers}"] + p[f"b{n_layers}"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    grad = jax.grad(loss)

    @jax.jit
    def epoch(p, s, order):
        def step(carry, idx):
            p, s = carry
            u, s = opt.update(grad(p, Xj[idx], yj[idx]), s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (p, s), order.reshape(-1, BATCH))
        return p, s

    def run(epochs: int) -> dict[str, Any]:
        orders = jnp.asarray(epoch_orders(epochs, X.shape[1]))
        p, s = params0, opt.init(params0)
        start = time.perf_counter()
        for e in range(epochs):
            p, s = epoch(p, s, orders[e])
        jax.block_until_ready(p)
        seconds = time.perf_counter() - start
        logits = Xj
        for l in range(1, n_layers + 1):
            logits = logits @ p[f"W{l}"] + p[f"b{l}"]
            logits = jax.nn.relu(logits) if l < n_layers else logits
        accuracy = float(jnp.mean(jnp.argmax(logits, axis=1) == yj))
        return {"seconds": seconds, "accuracy": accuracy, "note": ""}

    run.version = f"JAX {jax.__version__}, Optax {optax.__version__}"  # type: ignore[attr-defined]
    return run


# ---------------------------------------------------------------- the report


SIDES = {
    "numpy": ("descentlab, numpy", {}),
    "numpy-blas1": ("descentlab, numpy, OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"}),
    "compiled": ("descentlab, compiled", {}),
    "torch-1": ("PyTorch CPU, 1 thread", {}),
    "torch": ("PyTorch CPU, default threads", {}),
    "jax": ("JAX + Optax (jit + scan per epoch)", {}),
}
"""Worker name: (row label, extra environment of its process)."""


def worker(side: str, epochs: int) -> dict[str, Any]:
    """In a fresh process: build one side, train 1 epoch untimed (compile, caches), then time."""
    X, y, _ = wide_data()
    init = NET.init(0)
    try:
        if side in ("numpy", "numpy-blas1", "compiled"):
            engine = "numpy" if side.startswith("numpy") else "compiled"

            def run(E: int) -> dict[str, Any]:
                return descentlab_side(X, y, init, E, engine)

        elif side.startswith("torch"):
            torch_run = torch_side(X, y, init)
            threads = 1 if side == "torch-1" else 0

            def run(E: int) -> dict[str, Any]:
                return torch_run(E, threads)

        else:
            run = jax_side(X, y, init)
    except ImportError as exc:
        return {"note": f"not available ({exc})"}
    first = run(1)
    if "seconds" not in first:
        return first
    result = run(epochs)
    if side == "torch":
        result["detail"] = f"{torch_run.default_threads} threads"  # type: ignore[attr-defined]
    result["version"] = getattr(run, "version", "")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="per measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, one round")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    E = args.epochs or (3 if args.quick else 10)
    rounds = args.rounds or (1 if args.quick else 3)
    if args.worker:
        print(json.dumps(worker(args.worker, E)))
        return
    X, _, source = wide_data()
    print(f"machine: {machine()}; {thread_note()}")
    print(
        f"workload: {'-'.join(map(str, LAYERS))} ReLU + softmax, {X.shape[1]} examples "
        f"({source}), batch {BATCH}, adam lr {LR}, float64, {E} epochs per measurement, each "
        f"side in a fresh process per round; {rounds} round(s), medians\n"
    )
    got: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for r in range(rounds):
        for side, (label, env) in SIDES.items():
            print(f"  ... round {r + 1}/{rounds}: {label}", file=sys.stderr, flush=True)
            got[side].append(run_worker([SCRIPT, "--worker", side, "--epochs", str(E)], env))
    print(f"machine after the runs: {machine()}\n")
    report(got, E)


def report(got: dict[str, list[dict[str, Any]]], E: int) -> None:
    """The table of milliseconds per epoch and ratios to descentlab compiled, and the target."""
    per_epoch: dict[str, float] = {}
    for side, results in got.items():
        timed_ = [r["seconds"] for r in results if "seconds" in r]
        if timed_:
            per_epoch[side] = median(timed_) / E
    ours = per_epoch.get("compiled")
    rows = []
    for side, results in got.items():
        label = SIDES[side][0]
        if results[0].get("detail"):
            label += f" ({results[0]['detail']})"
        if side not in per_epoch:
            note = results[0].get("note") or results[0].get("error") or "not measured"
            rows.append([label, note, "", ""])
            continue
        ratio = f"{per_epoch[side] / ours:.2f}" if ours else ""
        accuracy = next(r["accuracy"] for r in results if "accuracy" in r)
        rows.append([label, f"{per_epoch[side] * 1e3:.1f}", ratio, f"{accuracy:.4f}"])
    print(table(["side", "ms per epoch", "vs descentlab compiled", "train accuracy"], rows))
    versions = {r["version"] for rs in got.values() for r in rs if r.get("version")}
    for version in versions:
        print(f"\n{version}")
    if ours is None:
        note = got["compiled"][0].get("note") or got["compiled"][0].get("error")
        print(f"\ndescentlab compiled: {note}")
        return
    peers = {s: t for s, t in per_epoch.items() if s.startswith(("torch", "jax"))}
    if peers:
        fastest = min(peers, key=peers.__getitem__)
        print(
            f"\ncompiled vs the fastest peer ({SIDES[fastest][0]}): "
            f"{peers[fastest] / ours:.2f}x its speed  "
            f"(target: at least on par: {verdict(ours <= peers[fastest])})"
        )


if __name__ == "__main__":
    main()
