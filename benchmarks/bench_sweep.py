"""A 240-run sweep (3 optimizers × 8 learning rates × 10 seeds, 1000 epochs): the whole
``descentlab sweep`` command, compiled and NumPy engines, against 240 runs of the seed's loop.

descentlab, timed as a user runs it (a subprocess: Python start-up, imports, planning,
training on 2 worker processes, measuring, writing results.csv, summary.csv and the plot)::

    descentlab sweep --dataset moons --optimizers gd,momentum,adam --lr 1e-4..1e-1 \\
        --lr-points 8 --seeds 10 --epochs 1000 --jobs 2 --out TMP -q --engine compiled

and the same with ``--engine numpy`` (when ``descentlab sweep --help`` lists no ``--engine``,
the script says so and times the command as it is). ``results.csv`` must say that every run
trained on the engine asked for. The compiled command runs once, untimed, with 2 epochs before
the rounds (it fills numba's cache if it is empty; its time is printed). For the record, as
before: ``run_sweep`` called in this process (no start-up) on the seed's initialisation and
order, 2 workers.

The baseline: the seed's loop (``seed_baseline.model``) on the same 240 configurations with
the seed's initialisation (``RandomState(seed)`` He) and data order (``RandomState(seed +
epoch + 1)``), seeds 0..9 — all 240 runs timed by default (``--baseline-runs N`` times N of
them spread over the grid and extrapolates, and then says so). Its runs are split into
``--rounds`` parts that alternate with the descentlab sides. The command's default
initialisation and order (``he``, ``random``) differ from the seed's but cost the same; the
in-process ``run_sweep`` uses the seed's, so its training accuracies are compared with the
baseline's run by run.

    python benchmarks/bench_sweep.py              (about 3-4 minutes: the baseline is most of it)
    python benchmarks/bench_sweep.py --quick      (100 epochs, 24 baseline runs extrapolated)
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import seed_baseline as sb
from _common import UNAVAILABLE, machine, median, seed_data, table, thread_note, verdict

from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_space import SweepSpec, expand, parse_axis

COMMAND = (
    "sweep --dataset moons --optimizers gd,momentum,adam --lr 1e-4..1e-1 --lr-points 8 "
    "--seeds 10 --epochs {epochs} --jobs {jobs}"
)


def descentlab_command() -> list[str]:
    """The installed ``descentlab`` script next to this Python, else ``python -m descentlab``."""
    script = Path(sys.executable).parent / "descentlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "descentlab"]


def has_engine_option() -> bool:
    """Whether ``descentlab sweep --help`` lists ``--engine``."""
    help_text = subprocess.run(
        [*descentlab_command(), "sweep", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return "--engine" in help_text


def sweep_command(epochs: int, jobs: int, engine: str | None, out: Path) -> dict[str, Any]:
    """Run the whole command once: ``seconds``, the ``engines`` results.csv names, or ``note``."""
    argv = [*descentlab_command(), *COMMAND.format(epochs=epochs, jobs=jobs).split()]
    argv += ["--out", str(out), "-q"] + (["--engine", engine] if engine else [])
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])
        return {"note": f"exit {proc.returncode}: {tail}"}
    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    engines = sorted({r.get("engine") or "(no engine column)" for r in rows})
    note = ""
    if engine == "compiled" and engines != ["compiled"]:
        note = f"{UNAVAILABLE} (asked for compiled, results.csv says {', '.join(engines)})"
    return {"seconds": seconds, "engines": engines, "runs": len(rows), "note": note}


def in_process(spec: SweepSpec, jobs: int, out: Path, engine: str) -> dict[str, Any]:
    """``run_sweep`` in this process: ``seconds``, train accuracy per run id, engines."""
    start = time.perf_counter()
    result = run_sweep(spec, out, jobs=jobs, progress=False, engine=engine)
    seconds = time.perf_counter() - start
    accuracy = {r["run_id"]: float(r["train_accuracy"]) for r in result.rows}
    engines = sorted({r.get("engine") or "?" for r in result.rows})
    return {"seconds": seconds, "accuracy": accuracy, "engines": engines}


def baseline_part(X, y, Y, runs, picked, epochs: int) -> tuple[float, dict[str, float]]:
    """Seconds of the seed's loop over ``runs[i] for i in picked``, and each one's accuracy."""
    accuracy = {}
    start = time.perf_counter()
    with np.errstate(divide="ignore", invalid="ignore"):  # the seed's log(0) at lr 0.1
        for i in picked:
            r = runs[i]
            params, _ = sb.model(
                X,
                Y,
                [2, 5, 2, 1],
                r.optimizer,
                learning_rate=r.learning_rate,
                num_epochs=epochs,
                init_seed=r.seed,
                data_seed=r.seed,
            )
            accuracy[r.run_id()] = sb.accuracy(X, y, params)
    return time.perf_counter() - start, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the sweep")
    parser.add_argument("--epochs", type=int, default=None, help="default 1000 (100 --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=None,
        help="time this many baseline runs (spread over the grid) and extrapolate to 240 "
        "(default 240; 24 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    E = args.epochs or (100 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 3)
    spec = SweepSpec(
        axes=(parse_axis("lr=1e-4..1e-1", points=8),),
        seeds=tuple(range(10)),
        epochs=E,
        init="seed",
        shuffle="seed",
    )
    X, y, Y = seed_data()
    runs = expand(spec)
    n = min(max(1, args.baseline_runs or (24 if args.quick else len(runs))), len(runs))
    picked = np.unique(np.linspace(0, len(runs) - 1, n).round().astype(int))
    parts = np.array_split(picked, rounds)
    engine_option = has_engine_option()
    engines: list[str | None] = ["compiled", "numpy"] if engine_option else [None]
    print(f"machine: {machine()}; {thread_note()}")
    print(
        f"workload: {len(runs)} runs = 3 optimizers × 8 learning rates × 10 seeds, {E} epochs "
        f"each, moons (300), [2, 5, 2, 1], batches of 64; {rounds} round(s), medians"
    )
    print(f"command: descentlab {COMMAND.format(epochs=E, jobs=args.jobs)} --out TMP -q")
    if not engine_option:
        print("NOTE: `descentlab sweep --help` lists no --engine: the command runs as it is")
    print()

    got, base_seconds, base_acc = measure(args, spec, engines, (X, y, Y), parts, E)
    print(f"machine after the runs: {machine()}\n")
    t_base = base_seconds * len(runs) / len(picked)
    extrapolated = len(picked) < len(runs)
    label = (
        f"seed's loop, {len(picked)} of {len(runs)} runs timed, EXTRAPOLATED to {len(runs)}"
        if extrapolated
        else f"seed's loop, {len(runs)} runs one after another"
    )
    figures = report(got, engines, label, t_base, args.jobs)
    report_ratios(got, base_acc, figures, t_base, extrapolated, engine_option)


def measure(args, spec, engines, data, parts, E):
    """Warm-ups, then per round: each command, ``run_sweep``, a part of the baseline.

    Returns ``(results per side, baseline seconds, baseline accuracy per run id)``.
    """
    X, y, Y = data
    runs = expand(spec)
    got: dict[str, list[dict[str, Any]]] = {str(e): [] for e in engines}
    got["in-process"] = []
    base_seconds, base_acc = 0.0, {}
    with tempfile.TemporaryDirectory() as tmp:
        if "compiled" in engines:
            warm = sweep_command(2, args.jobs, "compiled", Path(tmp) / "warm-up")
            if "seconds" in warm:
                print(f"warm-up (--engine compiled --epochs 2, untimed): {warm['seconds']:.2f} s")
        short = dataclasses.replace(spec, epochs=2)
        warm_inner = in_process(short, args.jobs, Path(tmp) / "warm-up-in", "auto")
        print(f"warm-up (run_sweep, 2 epochs, untimed): {warm_inner['seconds']:.2f} s")
        for r, part in enumerate(parts):
            for engine in engines:
                out = Path(tmp) / f"cli-{engine}-{r}"
                got[str(engine)].append(sweep_command(E, args.jobs, engine, out))
            got["in-process"].append(in_process(spec, args.jobs, Path(tmp) / f"in-{r}", "auto"))
            seconds, acc = baseline_part(X, y, Y, runs, part, E)
            base_seconds += seconds
            base_acc.update(acc)
    return got, base_seconds, base_acc


def report(got, engines, label: str, t_base: float, jobs: int) -> dict[str, float]:
    """The table; returns the median seconds of each command that ran as asked."""
    rows = [[label, f"{t_base:.1f}", "1.0x", "seed's init and order"]]
    figures: dict[str, float] = {}
    for engine in engines:
        results = got[str(engine)]
        name = f"`descentlab sweep ...{f' --engine {engine}' if engine else ''}`, whole command"
        timed_ = [g for g in results if "seconds" in g and not g["note"]]
        if not timed_:
            note = next((g["note"] for g in results if g.get("note")), "not measured")
            rows.append([name, note, "", ""])
            continue
        figures[str(engine)] = seconds = median([g["seconds"] for g in timed_])
        trained = f"results.csv: {', '.join(timed_[0]['engines'])}; he init, random order"
        rows.append([name, f"{seconds:.2f}", f"{t_base / seconds:.1f}x", trained])
    inner = got["in-process"]
    t_inner = median([g["seconds"] for g in inner])
    rows.append(
        [
            f"run_sweep in this process (engine auto), {jobs} workers",
            f"{t_inner:.2f}",
            f"{t_base / t_inner:.1f}x",
            f"results: {', '.join(inner[0]['engines'])}; seed's init and order",
        ]
    )
    print(table(["side", "seconds", "speed-up", "trained"], rows))
    return figures


def report_ratios(got, base_acc, figures, t_base, extrapolated, engine_option) -> None:
    """Accuracy agreement with the baseline, the ratios and the target."""
    ours = got["in-process"][0]["accuracy"]
    same = sum(base_acc[k] == ours[k] for k in base_acc)
    worst = max(abs(base_acc[k] - ours[k]) for k in base_acc)
    print(
        f"\ntrain accuracy, run_sweep vs the seed's loop: equal in {same} of {len(base_acc)} "
        f"compared runs (largest difference {worst:.4f})"
    )
    note = " (baseline EXTRAPOLATED from a subset)" if extrapolated else ""
    if "compiled" in figures:
        ratio = t_base / figures["compiled"]
        print(
            f"ratio (baseline / whole command, compiled): {ratio:.1f}x{note}  "
            f"(target >= 60x: {verdict(ratio >= 60)})"
        )
    elif engine_option:
        print(f"compiled: {UNAVAILABLE}")
    for engine, seconds in figures.items():
        if engine != "compiled":
            print(f"ratio (baseline / whole command, {engine}): {t_base / seconds:.1f}x{note}")


if __name__ == "__main__":
    main()
