"""The seed study on every engine: the seed's loop, descentlab (NumPy and compiled), JAX + Optax.

The workload: the seed's 300 moons, ``[2, 5, 2, 1]`` ReLU + sigmoid, gd / momentum (beta 0.9) /
Adam (b1 0.9, b2 0.999, epsilon 1e-8 inside the square root, as the seed) at alpha = 0.0007,
batches of 64 in the seed's data order (``RandomState(10 + epoch + 1)``), the seed's He
initialisation (``np.random.seed(3)``), 10000 epochs, float64 everywhere.

Sides, all measured in this one run, alternating in rounds (``--rounds``; medians):

- the seed's loop (``seed_baseline.model``), the three optimizers one after another;
- descentlab, the three optimizers as ONE population (``train_population``), with
  ``engine="numpy"`` and ``engine="compiled"``;
- descentlab, one ``train()`` of the seed's Adam run, both engines, against one run of the
  seed's loop;
- JAX + Optax: the whole training in one jitted function (``lax.scan`` over the epochs, the
  five mini-batches of an epoch unrolled inside; the seed's data orders precomputed as an
  index array ``(epochs, 300)`` and gathered inside), one function per optimizer, x64.
  ``optax.sgd``, ``optax.chain(optax.ema(0.9, debias=False), optax.scale(-lr))`` (the seed's
  ``v = 0.9 v + 0.1 dW``) and ``optax.adam(lr, eps=0, eps_root=1e-8)`` (epsilon inside the
  root: the seed's exact Adam). Cold = the first calls in a fresh process (tracing and XLA
  compilation included, jit cache empty), warm = later calls in that process.

The compiled engine's cold time is its first call in a fresh process whose ``NUMBA_CACHE_DIR``
is a new empty folder (everything compiled); "new process, cache filled" is a second process
on that folder (what every later ``descentlab`` command pays); "warm" is a further call in
the same process. Sides that run the seed's exact math must reach the seed's table
(gd 0.7967 / momentum 0.7967 / adam 0.94, or the seed loop's own accuracies with
``--epochs``): the ``= seed`` column says so.

    python benchmarks/bench_engine.py            (about 2-3 minutes)
    python benchmarks/bench_engine.py --quick    (1000 epochs, one round: a smoke run)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import seed_baseline as sb
from _common import (
    UNAVAILABLE,
    machine,
    median,
    ran_as_asked,
    run_worker,
    seed_data,
    table,
    thread_note,
    verdict,
)

OPTIMIZERS = ("gd", "momentum", "adam")
LR = 0.0007
SEED_ACCURACY = {"gd": 0.7966666666666666, "momentum": 0.7966666666666666, "adam": 0.94}
SCRIPT = str(Path(__file__).resolve())


# ---------------------------------------------------------------- the seed's loop


def seed_loop(X, y, Y, epochs: int) -> dict[str, tuple[float, float]]:
    """``{optimizer: (seconds, train accuracy)}``: ``seed_baseline.model`` once per optimizer."""
    out = {}
    for name in OPTIMIZERS:
        start = time.perf_counter()
        params, _ = sb.model(X, Y, [2, 5, 2, 1], name, learning_rate=LR, num_epochs=epochs)
        out[name] = (time.perf_counter() - start, sb.accuracy(X, y, params))
    return out


# ---------------------------------------------------------------- descentlab


def seed_runs(epochs: int) -> list[Any]:
    from descentlab.experiments.population import Run

    return [
        Run(name, {"lr": LR}, epochs=epochs, init="seed", shuffle="seed", seed=3, data_seed=10)
        for name in OPTIMIZERS
    ]


def population(X, y, epochs: int, engine: str) -> dict[str, Any]:
    """The three optimizers as one population through ``train_population(..., engine=)``.

    Returns ``seconds``, ``accuracy`` per optimizer and ``note`` (non-empty when the engine
    asked for did not run: then the row is not a measurement of it).
    """
    from descentlab.datasets import Dataset
    from descentlab.experiments.data import ExperimentData
    from descentlab.experiments.population import train_population

    moons = Dataset("moons", X, y)
    data = ExperimentData(train=moons, val=moons, test=moons)
    runs = seed_runs(epochs)
    try:
        start = time.perf_counter()
        rows = train_population(runs, data, engine=engine)
        seconds = time.perf_counter() - start
    except Exception as exc:
        if engine != "compiled":
            raise
        return {"note": f"{UNAVAILABLE} ({type(exc).__name__}: {exc})"}
    accuracy = {n: r["train_accuracy"] for n, r in zip(OPTIMIZERS, rows, strict=True)}
    ran = [r["engine"] for r in rows]  # each row says which engine trained it
    return {"seconds": seconds, "accuracy": accuracy, "note": ran_as_asked(engine, ran)}


def single(X, y, epochs: int, engine: str) -> dict[str, Any]:
    """One ``train()`` of the seed's Adam run (epsilon inside the root, as the seed)."""
    from descentlab.nn import MLP
    from descentlab.optimizers import adam
    from descentlab.training import train

    net = MLP((2, 5, 2, 1))
    try:
        start = time.perf_counter()
        r = train(
            net,
            adam(LR, eps=0.0, eps_root=1e-8),
            X,
            y,
            epochs=epochs,
            init="seed",
            seed=3,
            shuffle="seed",
            data_seed=10,
            engine=engine,
        )
        seconds = time.perf_counter() - start
    except Exception as exc:
        if engine != "compiled":
            raise
        return {"note": f"{UNAVAILABLE} ({type(exc).__name__}: {exc})"}
    accuracy = {"adam": float(net.accuracy(r.params, X, y))}
    return {"seconds": seconds, "accuracy": accuracy, "note": ran_as_asked(engine, [r.engine])}


def compiled_probe(X, y) -> str:
    """Empty when ``train(engine="compiled")`` runs the compiled engine, else why not."""
    return single(X[:, :64], y[:64], 1, "compiled")["note"]


def compiled_worker(task: str, epochs: int, repeats: int) -> dict[str, Any]:
    """In a fresh process: the first compiled call (cold or from the cache), then warm ones."""
    start = time.perf_counter()
    import descentlab.experiments.population
    import descentlab.training  # noqa: F401

    imported = time.perf_counter() - start
    X, y, _ = seed_data()
    side = population if task == "population" else single
    first = side(X, y, epochs, "compiled")
    if "seconds" not in first or first["note"]:
        return {"note": first["note"]}
    warm = [side(X, y, epochs, "compiled")["seconds"] for _ in range(repeats)]
    return {
        "import": imported,
        "first": first["seconds"],
        "warm": median(warm) if warm else math.nan,
        "accuracy": first["accuracy"],
        "note": "",
    }


# ---------------------------------------------------------------- JAX + Optax


def seed_orders(m: int, epochs: int) -> np.ndarray:
    """The seed's data order of every epoch, ``(epochs, m)``: ``RandomState(10 + e + 1)``."""
    rs = np.random.RandomState()
    orders = np.empty((epochs, m), dtype=np.int32)
    for e in range(epochs):
        rs.seed(10 + e + 1)
        orders[e] = rs.permutation(m)
    return orders


def jax_worker(epochs: int, repeats: int) -> dict[str, Any]:
    """In a fresh process: each optimizer's first (cold) and warm whole-training call."""
    start = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    imported = time.perf_counter() - start
    X, y, Y = seed_data()
    m = X.shape[1]
    bounds = [(a, min(a + 64, m)) for a in range(0, m, 64)]
    init = sb.initialize_parameters([2, 5, 2, 1], 3)
    params0 = {k: jnp.asarray(v) for k, v in init.items()}
    Xj, Yj, orders = jnp.asarray(X), jnp.asarray(Y), jnp.asarray(seed_orders(m, epochs))

    def loss(p, xb, yb):
        a1 = jax.nn.relu(p["W1"] @ xb + p["b1"])
        a2 = jax.nn.relu(p["W2"] @ a1 + p["b2"])
        z = p["W3"] @ a2 + p["b3"]
        return jnp.mean(jax.nn.softplus(z) - yb * z)  # the seed's cross-entropy, from logits

    grad = jax.grad(loss)

    def make(opt):
        def run(params, Xj, Yj, orders):
            def epoch(carry, order):
                p, s = carry
                for a, b in bounds:  # the epoch's mini-batches, unrolled
                    idx = order[a:b]
                    u, s = opt.update(grad(p, Xj[:, idx], Yj[:, idx]), s, p)
                    p = optax.apply_updates(p, u)
                return (p, s), None

            (p, _), _ = jax.lax.scan(epoch, (params, opt.init(params)), orders)
            return p

        return jax.jit(run)

    optimizers = {
        "gd": optax.sgd(LR),
        "momentum": optax.chain(optax.ema(0.9, debias=False), optax.scale(-LR)),
        "adam": optax.adam(LR, b1=0.9, b2=0.999, eps=0.0, eps_root=1e-8),
    }
    cold, warm, accuracy = {}, {}, {}
    fns = {name: make(opt) for name, opt in optimizers.items()}
    for name, fn in fns.items():
        start = time.perf_counter()
        p = jax.block_until_ready(fn(params0, Xj, Yj, orders))
        cold[name] = time.perf_counter() - start
        accuracy[name] = sb.accuracy(X, y, {k: np.asarray(v) for k, v in p.items()})
    totals, per = [], {name: [] for name in fns}
    for _ in range(repeats):
        total = 0.0
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(params0, Xj, Yj, orders))
            per[name].append(time.perf_counter() - start)
            total += per[name][-1]
        totals.append(total)
    warm = {name: median(v) for name, v in per.items()}
    return {
        "import": imported,
        "cold": cold,
        "cold_total": sum(cold.values()),
        "warm": warm,
        "warm_total": median(totals),
        "accuracy": accuracy,
        "version": f"JAX {jax.__version__}, Optax {optax.__version__}",
        "note": "",
    }


# ---------------------------------------------------------------- the report


def fmt_acc(acc: dict[str, float] | None, names=OPTIMIZERS) -> list[str]:
    return [f"{acc[n]:.4f}" if acc and n in acc else "" for n in names]


def matches(acc: dict[str, float] | None, expected: dict[str, float]) -> str:
    if not acc:
        return ""
    return "yes" if all(acc[n] == expected[n] for n in acc) else "NO"


class Report:
    """Rows of ``side, seconds, speed-up, accuracies, = seed`` against one baseline time."""

    def __init__(self, base: float, expected: dict[str, float], names=OPTIMIZERS) -> None:
        self.base, self.expected, self.names, self.rows = base, expected, names, []

    def add(self, side: str, seconds: float | None, acc=None, note: str = "") -> None:
        if note or seconds is None or not math.isfinite(seconds):
            self.rows.append([side, note or "not measured", "", *([""] * len(self.names)), ""])
            return
        cells = fmt_acc(acc, self.names)
        speed = f"{self.base / seconds:.1f}x"
        self.rows.append([side, f"{seconds:.3f}", speed, *cells, matches(acc, self.expected)])

    def print(self) -> None:
        print(table(["side", "seconds", "vs seed loop", *self.names, "= seed"], self.rows))


def rounds_of(X, y, Y, args, log, missing: str) -> dict[str, list[Any]]:
    """Every in-process side and one JAX process per round, alternating.

    ``missing``: why the compiled engine cannot run (its sides are then skipped), or empty.
    """
    got: dict[str, list[Any]] = {k: [] for k in ("seed", "pop", "one", "jax")}
    if missing:
        got["pop"].append(("compiled", {"note": missing}))
        got["one"].append(("compiled", {"note": missing}))
    engines = ("numpy",) if missing else ("numpy", "compiled")
    for r in range(args.rounds):
        log(f"round {r + 1}/{args.rounds}: the seed's loop")
        got["seed"].append(seed_loop(X, y, Y, args.epochs))
        for engine in engines:
            log(f"round {r + 1}/{args.rounds}: population of 3, {engine}")
            got["pop"].append((engine, population(X, y, args.epochs, engine)))
        log(f"round {r + 1}/{args.rounds}: JAX + Optax (fresh process)")
        got["jax"].append(run_worker([SCRIPT, "--worker", "jax", *args.worker_args]))
        for engine in engines:
            log(f"round {r + 1}/{args.rounds}: one train(), {engine}")
            got["one"].append((engine, single(X, y, args.epochs, engine)))
    return got


def compiled_processes(args, log, missing: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Per task, the first compiled call with an empty numba cache, then with that cache."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task in ("population", "train"):
        if missing:
            out[task] = {"cold": {"note": missing}, "cached": {"note": missing}}
            continue
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            worker = [SCRIPT, "--worker", f"compiled-{task}", *args.worker_args]
            log(f"compiled {task}: fresh process, empty numba cache")
            cold = run_worker(worker, env)
            filled = cache_files(cache)
            log(f"compiled {task}: fresh process, the cache it filled ({len(filled)} files)")
            cached = run_worker(worker, env) if "first" in cold else {}
            cold["cache_unused"] = "first" in cold and not filled
            cached["rewrote"] = cache_files(cache) != filled
            out[task] = {"cold": cold, "cached": cached}
    return out


def cache_files(folder: str) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file in a numba cache folder."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in Path(folder).rglob("*")
        if p.is_file()
    }


def medians(pairs, engine: str) -> dict[str, Any]:
    """Median seconds (and the first accuracies) of one side's rounds; its note if it failed."""
    got = [g for e, g in pairs if e == engine]
    timed_ = [g for g in got if "seconds" in g and not g["note"]]
    if not timed_:
        return {"note": next((g["note"] for g in got if g.get("note")), "not measured")}
    return {
        "seconds": median([g["seconds"] for g in timed_]),
        "accuracy": timed_[0]["accuracy"],
        "note": "",
    }


def worker_note(result: dict[str, Any]) -> str:
    return result.get("note") or result.get("error") or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 10000 (1000 --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="default 2 (1 with --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="warm calls per fresh process")
    parser.add_argument("--quick", action="store_true", help="1000 epochs, one round")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.epochs = args.epochs or (1000 if args.quick else 10000)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.worker_args = ["--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    if args.worker:
        task = args.worker
        if task == "jax":
            result = jax_worker(args.epochs, args.repeats)
        else:
            result = compiled_worker(task.removeprefix("compiled-"), args.epochs, args.repeats)
        print(json.dumps(result))
        return

    def log(text: str) -> None:
        print(f"  ... {text}", file=sys.stderr, flush=True)

    X, y, Y = seed_data()
    E = args.epochs
    print(f"machine: {machine()}; {thread_note()}")
    print(
        f"workload: the seed study, {E} epochs, moons (300), [2, 5, 2, 1], gd / momentum / "
        f"adam at lr {LR}, batch 64, the seed's order, float64; {args.rounds} round(s), "
        "medians\n"
    )
    missing = compiled_probe(X, y)
    if missing:
        print(f"{missing}: its rows are skipped\n")
    else:
        log("warming up the compiled engine in this process (its default cache)")
        population(X, y, E, "compiled")
        single(X, y, E, "compiled")
    compiled = compiled_processes(args, log, missing)
    got = rounds_of(X, y, Y, args, log, missing)
    print(f"machine after the runs: {machine()}\n")

    figures = summarise(got, E)
    report_three(figures, compiled, E)
    report_single(figures, compiled, E)
    report_targets(figures)
    if E != 10000:
        print(f"\n(--epochs {E}: '= seed' compares with the seed loop's own accuracies)")


def summarise(got: dict[str, list[Any]], E: int) -> dict[str, Any]:
    """The medians of the rounds, side by side."""
    seed_acc = {n: got["seed"][0][n][1] for n in OPTIMIZERS}
    jax_runs = [j for j in got["jax"] if "warm_total" in j]

    def jax(pick) -> float | None:
        return median([pick(j) for j in jax_runs]) if jax_runs else None

    return {
        "seed": {n: median([g[n][0] for g in got["seed"]]) for n in OPTIMIZERS},
        "seed_total": median([sum(g[n][0] for n in OPTIMIZERS) for g in got["seed"]]),
        "seed_acc": seed_acc,
        "expected": SEED_ACCURACY if E == 10000 else seed_acc,
        "pop": {e: medians(got["pop"], e) for e in ("numpy", "compiled")},
        "one": {e: medians(got["one"], e) for e in ("numpy", "compiled")},
        "jax_note": "" if jax_runs else worker_note(got["jax"][0]) or "JAX not available",
        "jax_warm": jax(lambda j: j["warm_total"]),
        "jax_cold": jax(lambda j: j["cold_total"]),
        "jax_adam_warm": jax(lambda j: j["warm"]["adam"]),
        "jax_adam_cold": jax(lambda j: j["cold"]["adam"]),
        "jax_import": jax(lambda j: j["import"]),
        "jax_acc": jax_runs[0]["accuracy"] if jax_runs else None,
        "jax_version": jax_runs[0]["version"] if jax_runs else "",
    }


def add_compiled_processes(report: Report, result: dict[str, Any], what: str) -> list[str]:
    """The cold and cache-filled rows of one task; notes on how the cache behaved."""
    cold, cached = result["cold"], result["cached"]
    note = worker_note(cold)
    report.add(
        f"{what}, compiled: new process, empty cache (cold)",
        cold.get("first"),
        cold.get("accuracy"),
        note,
    )
    report.add(
        f"{what}, compiled: new process, cache filled",
        cached.get("first"),
        cached.get("accuracy"),
        note or worker_note(cached),
    )
    notes = []
    if cold.get("cache_unused"):
        notes.append(
            f"NOTE ({what}): NUMBA_CACHE_DIR stayed empty: the engine caches "
            "elsewhere, so the 'cold' row may have loaded a cache"
        )
    if cached.get("rewrote"):
        notes.append(
            f"NOTE ({what}): the second process wrote to the cache (it compiled "
            "again: did the sources change between the two processes?)"
        )
    return notes


def add_side(report: Report, side: str, result: dict[str, Any]) -> None:
    report.add(side, result.get("seconds"), result.get("accuracy"), result["note"])


def report_three(f: dict[str, Any], compiled: dict[str, Any], E: int) -> None:
    print(f"## 3 optimizers x {E} epochs (the seed's comparison)\n")
    three = Report(f["seed_total"], f["expected"])
    three.add("seed's loop, 3 runs one after another", f["seed_total"], f["seed_acc"])
    add_side(three, "descentlab population of 3, numpy", f["pop"]["numpy"])
    add_side(three, "descentlab population of 3, compiled (warm)", f["pop"]["compiled"])
    notes = add_compiled_processes(three, compiled["population"], "population of 3")
    three.add("JAX + Optax, 3 jitted trainings, warm", f["jax_warm"], f["jax_acc"], f["jax_note"])
    three.add(
        "JAX + Optax, 3 jitted trainings, cold (new process)",
        f["jax_cold"],
        f["jax_acc"],
        f["jax_note"],
    )
    three.print()
    for note in notes:
        print(note)
    if f["jax_version"]:
        print(f"\n{f['jax_version']}; import {f['jax_import']:.2f} s (not in the cold time)")


def report_single(f: dict[str, Any], compiled: dict[str, Any], E: int) -> None:
    print(f"\n## one train() of the seed's Adam run ({E} epochs)\n")
    one = Report(f["seed"]["adam"], {"adam": f["expected"]["adam"]}, names=("adam",))
    one.add("seed's loop, one run (adam)", f["seed"]["adam"], {"adam": f["seed_acc"]["adam"]})
    add_side(one, "descentlab train(), numpy", f["one"]["numpy"])
    add_side(one, "descentlab train(), compiled (warm)", f["one"]["compiled"])
    notes = add_compiled_processes(one, compiled["train"], "train()")
    acc = {"adam": f["jax_acc"]["adam"]} if f["jax_acc"] else None
    one.add("JAX + Optax, adam alone, warm", f["jax_adam_warm"], acc, f["jax_note"])
    one.add("JAX + Optax, adam alone, cold (new process)", f["jax_adam_cold"], acc, f["jax_note"])
    one.print()
    for note in notes:
        print(note)


def report_targets(f: dict[str, Any]) -> None:
    print("\n## targets\n")
    seed_total, seed_adam = f["seed_total"], f["seed"]["adam"]
    ours = f["pop"]["compiled"].get("seconds")
    if ours is None:
        print(
            f"3 optimizers: {f['pop']['compiled']['note']} (numpy population: "
            f"{seed_total / f['pop']['numpy']['seconds']:.1f}x the seed loop)"
        )
    else:
        print(
            f"3 optimizers, compiled vs the seed loop: {seed_total / ours:.1f}x  "
            f"(target >= 16x: {verdict(seed_total / ours >= 16)})"
        )
        if f["jax_warm"] is not None:
            ratio = f["jax_warm"] / ours
            print(
                f"3 optimizers, compiled vs JAX warm: JAX / compiled = {ratio:.2f}  "
                f"(target > 1: {verdict(ratio > 1)}; stretch >= 2: {verdict(ratio >= 2)})"
            )
    mine = f["one"]["compiled"].get("seconds")
    if mine is None:
        print(
            f"one train(): {f['one']['compiled']['note']} (numpy train(): "
            f"{seed_adam / f['one']['numpy']['seconds']:.1f}x one seed-loop run)"
        )
    else:
        print(
            f"one train(), compiled vs one seed-loop run: {seed_adam / mine:.1f}x  "
            f"(target >= 15x: {verdict(seed_adam / mine >= 15)})"
        )


if __name__ == "__main__":
    main()
