"""``descentlab sweep``: a grid (or random search) over hyperparameters × seeds.

Compatible configurations (same batch size, epochs, architecture) are trained as ONE
population of networks, several populations in parallel worker processes (``--jobs``) or on
a Dask cluster (``--backend dask --scheduler tcp://HOST:PORT``). Writes results.csv (one
row per configuration and seed), summary.csv and plots; ``--resume`` continues an
interrupted sweep. See :mod:`descentlab.experiments.sweep`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
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
    format_table,
    optimizers_from_args,
    problem_from_args,
    seed,
    whole_number,
)
from descentlab.experiments.sweep_space import SweepSpec

__all__ = ["add_parser", "run", "spec_from_args"]

EPILOG = """\
examples:
  descentlab sweep --out runs/lr-sweep
      gd, momentum, adam × 8 learning rates from 1e-4 to 1e-1 × 10 seeds, 1000 epochs
  descentlab sweep --dataset moons --optimizers gd,momentum,adam --lr 1e-4..1e-1 \\
      --lr-points 8 --seeds 10 --epochs 1000 --jobs 2 --out runs/lr-sweep
  descentlab sweep --optimizers adam --lr 1e-3..1e-1:5 --param b1=0.5,0.8,0.9,0.99 --out DIR
      a 5 x 4 grid: heatmap_adam.png shows the median validation accuracy
  descentlab sweep --optimizers adam,rmsprop --lr 1e-4..1 --random 30 --out DIR
      30 random configurations per optimizer (log-uniform learning rate)
  descentlab sweep --schedule exponential --param schedule.gamma=0.9..0.999:4 --out DIR
  descentlab sweep --problem digits --optimizers sgd:momentum=0.9,adam --seeds 5 --out DIR
      a problem of the suite (descentlab problems): its data, network, batch size, budget
  descentlab sweep --resume --out runs/lr-sweep
      continue an interrupted sweep (finished runs are kept, never recomputed)
  descentlab sweep --backend dask --scheduler tcp://scheduler-host:8786 --out DIR
      the same sweep on a Dask cluster (identical results; see docs/sweep.md)

values: a list 0.001,0.01,0.1 or a range LOW..HIGH[:N][:log|:lin] (geometric when both
  ends are > 0). --param NAME=VALUES searches any hyperparameter of the optimizers that have
  it (OPTIMIZER.NAME for one optimizer, schedule.NAME for the schedule's settings).
validation/test data: fresh samples of a generated dataset (seeds --val-seed and
  --test-seed), or a stratified split of fixed data; the learning rate is chosen on the
  validation data, the test data only reports.
"""

_COPIED = (
    "epochs",
    "activation",
    "init",
    "shuffle",
    "seeds",
    "random",
    "search_seed",
    "val_seed",
    "chunk_size",
)
"""Options whose value is the spec's setting of the same name, as given."""
_SPEC_OPTIONS = (
    *_COPIED,
    "problem",
    "dataset",
    "target",
    "test_size",
    "test_seed",
    "optimizers",
    "lr",
    "lr_points",
    "param",
    "schedule",
    "batch_size",
    "layers",
)
"""Every option that describes the sweep (with --resume, none of them is needed)."""


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The options that define a sweep (every default None: the stored or default value)."""
    defaults = SweepSpec()
    add_data_options(p, holdout_seeds=True, problem=True)
    search = add_optimizer_options(p, grid=True, title="search")
    search.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUES",
        help="search another setting, e.g. b1=0.8,0.9,0.99 or adam.eps=1e-8..1e-4:3 or "
        "schedule.gamma=0.9..0.999:4; may be repeated",
    )
    search.add_argument(
        "--random",
        type=whole_number,
        metavar="N",
        help="random search: N configurations per optimizer instead of the full grid",
    )
    search.add_argument(
        "--search-seed", type=seed, metavar="N", help="seed of --random (default 0)"
    )
    add_network_options(p, defaults)
    training = add_training_options(p, defaults, seeds="many")
    training.add_argument(
        "--chunk-size",
        type=whole_number,
        metavar="N",
        help="at most N runs per population, the unit of parallel work and of --resume "
        f"(default: {defaults.chunk_size})",
    )


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The :class:`~descentlab.experiments.sweep_space.SweepSpec` the options describe
    (``--problem`` sets the data, layers, activation, batch size and epochs; the other
    options given win)."""
    from descentlab.experiments.specs import parse_layers, parse_schedule_spec
    from descentlab.experiments.sweep_space import parse_axis

    base = SweepSpec()
    problem = problem_from_args(args)
    if problem is not None:
        base = dataclasses.replace(
            base,
            dataset=problem.dataset,
            layers=problem.layers,
            activation=problem.activation,
            batch_sizes=(problem.batch_size,),
            epochs=problem.epochs,
        )
    changes: dict[str, Any] = {"dataset": dataset_from_args(args, base.dataset)}
    if args.optimizers:
        changes["optimizers"] = optimizers_from_args(args.optimizers)
    lr_points = 8 if args.lr_points is None else args.lr_points
    lr_text = "1e-4..1e-1" if args.lr is None else args.lr
    fixes_lr = "optimizers" in changes and all(
        "learning_rate" in s for _, s in changes["optimizers"]
    )
    axes = (
        []
        if (args.lr is None and fixes_lr)
        else [parse_axis(f"lr={lr_text}", points=lr_points, what="--lr")]
    )
    axes += [parse_axis(text) for text in args.param or ()]
    changes["axes"] = tuple(axes)
    if args.schedule is not None:
        changes["schedule"] = parse_schedule_spec(args.schedule)
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    if args.batch_size is not None:
        changes["batch_sizes"] = args.batch_size
    for name in _COPIED:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(base, **changes)


SUMMARY = "grid or random search over hyperparameters × seeds, trained as populations"

DESCRIPTION = (
    "Train every configuration of a grid (or a random search) with several seeds. "
    "Compatible configurations form one population trained in lock-step; populations "
    "run in parallel worker processes or on a Dask cluster. Writes results.csv (one "
    "row per configuration and seed), summary.csv and plots; --resume continues an "
    "interrupted sweep."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab sweep``."""
    p = add_command(subparsers, "sweep", SUMMARY, DESCRIPTION, EPILOG, run)
    add_sweep_arguments(p)
    add_parallel_options(p)
    out = add_output_options(p, out="the sweep folder", required=True, formats=False)
    out.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep stored in --out (other options may be left out)",
    )
    out.add_argument("--no-plots", action="store_true", help="skip the plots")


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab sweep``; 0 when done, 130 when interrupted (finished runs are kept)."""
    from descentlab.experiments.sweep import run_sweep

    given = [name for name in _SPEC_OPTIONS if getattr(args, name, None) is not None]
    spec = spec_from_args(args) if (given or not args.resume) else None
    problem = problem_from_args(args)
    check_parallel(args)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = run_sweep(
        spec,
        Path(args.out),
        resume=args.resume,
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        plots=not args.no_plots,
        log=None if args.quiet else log,
        engine=args.engine or "auto",
        problem=None if problem is None else problem.name,
    )
    if result.status == "interrupted":
        return 130
    print(format_table(*_best_per_optimizer(result.rows)))
    print(f"\nSweep folder: {result.out_dir}  ({', '.join(result.files)})")
    return 0


def _best_per_optimizer(rows: Sequence[Mapping[str, str]]) -> tuple[list[str], list[list[str]]]:
    """Per optimizer, the configuration with the best median validation metric
    (:func:`~descentlab.experiments.results.best_configurations`: accuracy, or the validation
    cost for regression), from the rows of a completed sweep; a NaN median is the worst."""
    from descentlab.experiments.results import best_configurations, selection_metric, summarize

    summary = summarize(rows)
    _, accuracy = selection_metric(summary)
    kind, label = ("accuracy", "acc") if accuracy else ("cost", "cost")
    header = ["optimizer", "best lr", f"val {label} (median)", f"test {label} (median)", "diverged"]
    table = [
        [
            name,
            f"{float(e['learning_rate']):.3g}",
            f"{float(e[f'val_{kind}_median']):.4f}",
            f"{float(e[f'test_{kind}_median']):.4f}",
            f"{e['n_diverged']}/{e['n_seeds']}",
        ]
        for name, e in best_configurations(summary).items()
    ]
    return header, table
