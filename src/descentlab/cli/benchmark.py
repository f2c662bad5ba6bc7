"""``descentlab benchmark``: the tuned comparison — each optimizer at its best learning rate.

For each optimizer: pick the learning rate with the best mean validation accuracy over the
tuning seeds, then report test accuracy and cost as mean ± std over fresh seeds, beside the
untuned seed setting (alpha = 0.0007). Default: the seed's problem. Writes a table and a
folder with report.html (see :mod:`descentlab.experiments.benchmark`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from descentlab.cli.options import (
    add_command,
    add_data_options,
    add_network_options,
    add_optimizer_options,
    add_output_options,
    add_parallel_options,
    add_training_options,
    check_parallel,
    dataset_from_args,
    finite_float,
    format_table,
    optimizers_from_args,
    seed_list,
)
from descentlab.experiments.benchmark import BenchmarkSpec

__all__ = ["add_parser", "run", "spec_from_args"]

EPILOG = """\
examples:
  descentlab benchmark
      the seed's problem (moons, [2, 5, 2, 1], batches of 64, 10000 epochs): gd, momentum
      and adam, each tuned over 8 learning rates from 1e-4 to 1e-1 on 5 seeds, then measured
      on 10 fresh seeds beside the untuned lr 0.0007
  descentlab benchmark --epochs 2000 --jobs 2 --out runs/bench
  descentlab benchmark --optimizers sgd:momentum=0.9,nesterov=true,rmsprop,adam \\
      --lr 1e-4..1:9 --tune-seeds 5 --eval-seeds 100..119
  descentlab benchmark --dataset breast_cancer --layers 16 --epochs 300
  descentlab benchmark --backend dask --scheduler tcp://scheduler-host:8786
"""


SUMMARY = "tuned comparison: best learning rate per optimizer, mean ± std over fresh seeds"

DESCRIPTION = (
    "Tune each optimizer's learning rate on validation data (grid × tuning seeds), "
    "then report its test accuracy and cost as mean ± std over fresh seeds, beside "
    "the untuned seed setting (lr 0.0007). Default: the seed's problem. Prints a "
    "table and writes a folder with report.html."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab benchmark``."""
    p = add_command(subparsers, "benchmark", SUMMARY, DESCRIPTION, EPILOG, run)
    defaults = BenchmarkSpec()
    add_data_options(p, holdout_seeds=True)
    tuning = add_optimizer_options(p, grid=True, schedule=False, title="tuning")
    tuning.add_argument(
        "--untuned-lr",
        type=finite_float,
        metavar="ALPHA",
        help=f"the untuned setting measured beside (default: the seed's {defaults.untuned_lr})",
    )
    tuning.add_argument(
        "--tune-seeds",
        type=seed_list,
        metavar="N|LIST",
        help="tuning seeds (default: 5, i.e. 0..4)",
    )
    tuning.add_argument(
        "--eval-seeds",
        type=seed_list,
        metavar="LIST",
        help="fresh seeds for the measurement (default: 100..109)",
    )
    add_network_options(p, defaults)
    add_training_options(p, defaults)
    add_parallel_options(p)
    add_output_options(p, out="output folder (default: runs/benchmark-<time>)")


def spec_from_args(args: argparse.Namespace) -> BenchmarkSpec:
    """The :class:`~descentlab.experiments.benchmark.BenchmarkSpec` the options describe."""
    from descentlab.experiments.specs import parse_layers
    from descentlab.experiments.sweep_space import parse_axis

    base = BenchmarkSpec()
    changes: dict[str, Any] = {"dataset": dataset_from_args(args, base.dataset)}
    if args.optimizers:
        changes["optimizers"] = optimizers_from_args(args.optimizers)
    if args.lr is not None or args.lr_points is not None:
        text = "1e-4..1e-1" if args.lr is None else args.lr
        points = 8 if args.lr_points is None else args.lr_points
        changes["learning_rates"] = parse_axis(f"lr={text}", points=points, what="--lr")
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    copied = (
        "untuned_lr",
        "tune_seeds",
        "eval_seeds",
        "epochs",
        "batch_size",
        "activation",
        "init",
        "shuffle",
        "val_seed",
    )
    for name in copied:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab benchmark``; 0 when done, 130 when interrupted."""
    from descentlab.experiments.benchmark import run_benchmark, table
    from descentlab.experiments.run_folder import default_run_path

    spec = spec_from_args(args)
    check_parallel(args)
    out = Path(args.out) if args.out else default_run_path("benchmark")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results = run_benchmark(
        spec,
        out,
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        log=None if args.quiet else log,
        engine=args.engine or "auto",
    )
    if args.format == "json":
        sys.stdout.write(json.dumps({**results, "report": str(out / "report.html")}, indent=2))
        sys.stdout.write("\n")
        return 0
    ds = results["dataset"]
    print(
        f"{ds['name']}: {ds['n_train']} training / {ds['n_val']} validation / {ds['n_test']} "
        f"test examples, layer_dims {results['layer_dims']}, {spec.epochs} epochs; test "
        f"metrics are mean ± std over {len(spec.eval_seeds)} fresh seeds"
    )
    print()
    print(format_table(*table(results)))
    print()
    print(f"Report: {out / 'report.html'}")
    return 0
