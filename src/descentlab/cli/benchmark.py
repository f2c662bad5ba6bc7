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
import textwrap
from pathlib import Path
from typing import Any

from descentlab.cli.sweep import _seeds

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


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab benchmark``."""
    p = subparsers.add_parser(
        "benchmark",
        help="tuned comparison: best learning rate per optimizer, mean ± std over fresh seeds",
        description=textwrap.fill(
            "Tune each optimizer's learning rate on validation data (grid × tuning seeds), "
            "then report its test accuracy and cost as mean ± std over fresh seeds, beside "
            "the untuned seed setting (lr 0.0007). Default: the seed's problem. Prints a "
            "table and writes a folder with report.html.",
            79,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", metavar="NAME|FILE", help="as for compare (default: moons)")
    p.add_argument("--target", metavar="COLUMN", help="label column of a CSV file")
    p.add_argument(
        "--optimizers",
        action="append",
        metavar="SPEC",
        help="optimizers with fixed settings (default: gd,momentum,adam)",
    )
    p.add_argument(
        "--lr", metavar="VALUES", help="the tuning grid: a list or LOW..HIGH (default 1e-4..1e-1)"
    )
    p.add_argument("--lr-points", type=int, metavar="N", help="values in an --lr range (default 8)")
    p.add_argument(
        "--untuned-lr",
        type=float,
        metavar="ALPHA",
        help="the untuned setting measured beside (default: the seed's 0.0007)",
    )
    p.add_argument(
        "--tune-seeds", type=_seeds, metavar="N|LIST", help="tuning seeds (default: 5, i.e. 0..4)"
    )
    p.add_argument(
        "--eval-seeds",
        type=_seeds,
        metavar="LIST",
        help="fresh seeds for the measurement (default: 100..109)",
    )
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default: 10000)")
    p.add_argument("--batch-size", type=int, metavar="N", help="mini-batch size (default: 64)")
    p.add_argument("--layers", metavar="N,N", help="hidden layer sizes (default: 5,2)")
    p.add_argument("--activation", choices=("relu", "tanh", "leaky_relu", "sigmoid"))
    p.add_argument("--init", choices=("he", "xavier", "seed"), help="default: he")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/benchmark-<time>)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="local worker processes")
    p.add_argument("--backend", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no messages")
    p.set_defaults(func=run)


def spec_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~descentlab.experiments.benchmark.BenchmarkSpec` the options describe."""
    from descentlab.experiments.benchmark import BenchmarkSpec
    from descentlab.experiments.specs import (
        parse_dataset_spec,
        parse_layers,
        parse_optimizer_spec,
    )
    from descentlab.experiments.sweep_space import parse_axis

    changes: dict[str, Any] = {}
    if args.dataset is not None:
        changes["dataset"] = parse_dataset_spec(args.dataset, target=args.target)
    if args.optimizers:
        changes["optimizers"] = tuple(
            (name, settings)
            for text in args.optimizers
            for name, settings in parse_optimizer_spec(text)
        )
    if args.lr is not None or args.lr_points is not None:
        text = "1e-4..1e-1" if args.lr is None else args.lr
        points = 8 if args.lr_points is None else args.lr_points
        changes["learning_rates"] = parse_axis(f"lr={text}", points=points, what="--lr")
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    simple = {
        "untuned_lr": "untuned_lr",
        "tune_seeds": "tune_seeds",
        "eval_seeds": "eval_seeds",
        "epochs": "epochs",
        "batch_size": "batch_size",
        "activation": "activation",
        "init": "init",
    }
    for arg, key in simple.items():
        value = getattr(args, arg)
        if value is not None:
            changes[key] = value
    return dataclasses.replace(BenchmarkSpec(), **changes)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab benchmark``; 0 when done, 130 when interrupted."""
    from descentlab.cli.compare import format_table
    from descentlab.experiments.benchmark import run_benchmark, table
    from descentlab.experiments.run_folder import default_run_path

    spec = spec_from_args(args)
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
