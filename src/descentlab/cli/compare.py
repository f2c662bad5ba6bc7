"""``descentlab compare``: train the same network with several optimizers and compare them.

Without arguments it is the seed's study (moons, layer_dims [2, 5, 2, 1], gd / momentum /
adam, alpha = 0.0007, batches of 64, 10000 epochs, the seed's initialisation and data order).
The optimizers are trained together as one population (one forward and backward pass per
mini-batch for all of them; the same numbers as one after another), so the table's
``seconds`` is the population's wall time, the same for every optimizer, and a line under the
table says so. It prints the table and writes a run folder with config.toml, results.json,
history.csv, the plots and report.html (see :mod:`descentlab.experiments.compare`).

The options that define an experiment, shared with ``descentlab train``, are put together
here from the groups of :mod:`descentlab.cli.options` by :func:`add_experiment_arguments` and
read by :func:`config_from_args`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from descentlab._validation import STEPS, InvalidParameterError
from descentlab.cli.options import (
    add_command,
    add_data_options,
    add_diagnostics_option,
    add_network_options,
    add_optimizer_options,
    add_output_options,
    add_training_options,
    check_option,
    dataset_from_args,
    format_table,
    optimizers_from_args,
    problem_from_args,
    whole_number,
)
from descentlab.datasets import BUILTIN_DATASETS
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.specs import (
    GENERATED_DATASETS,
    OptimizerSpec,
    parse_layers,
    parse_optimizer_spec,
    parse_schedule_spec,
)
from descentlab.optimizers import OPTIMIZERS
from descentlab.schedules import SCHEDULES

__all__ = ["add_experiment_arguments", "add_parser", "config_from_args", "run"]

EPILOG = f"""\
examples:
  descentlab compare
      the seed's study; prints train accuracies 0.7967 / 0.7967 / 0.9400
  descentlab compare --optimizers gd,momentum:beta=0.95,adam:lr=0.01,b1=0.8 --epochs 3000
      per-optimizer settings after a colon (lr is short for learning_rate)
  descentlab compare --optimizers sgd:momentum=0.9,nesterov=true,rmsprop,adam --lr 0.005 --log-scale
  descentlab compare --schedule fixed_interval:decay_rate=1,time_interval=1000 --lr 0.1 --epochs 5000
      the seed's decay: alpha = alpha0 / (1 + decay_rate * floor(epoch / time_interval))
  descentlab compare --schedule inverse_time:decay_rate=0.01 --lr 0.05
      alpha = alpha0 / (1 + decay_rate * epoch), once per epoch of this dataset
  descentlab compare --dataset spiral:n_samples=600 --layers 32,16 --lr 0.01 --epochs 1000
  descentlab compare --dataset iris --layers 16 --lr 0.01 --epochs 500 --init he --shuffle random
  descentlab compare --dataset data.csv --target label --test-size 0.2
  descentlab compare --problem mnist1d --optimizers sgd:momentum=0.9,adam --lr 0.01
      a problem of the suite (descentlab problems): its data, network, batch size, budget
  descentlab compare --config runs/moons-20250101-120000/config.toml
      rerun a saved study exactly (other options override its settings)
  descentlab compare --epochs 500 --format json --quiet > results.json
  descentlab compare --save-trajectory 100 --out runs/moons && descentlab landscape runs/moons
      save the weights every 100 epochs (trajectory.npz), then draw the loss landscapes
  descentlab compare --optimizers gd --lr 0.6 --batch-size 300 --epochs 1000 --eval-every 10 --diagnostics
      sharpness, gradient norm, update ratios and noise scale every 10 epochs: history.csv
      (diag_* columns) and report.html (sharpness against 2/lr: the edge of stability)

datasets: {", ".join(GENERATED_DATASETS)}
  (generators: name:n_samples=N,noise=S,seed=K; moons alone is the seed's data; tested on a
  fresh sample), {", ".join(d for d in BUILTIN_DATASETS if d not in GENERATED_DATASETS)}
  (split with --test-size), or a .csv/.npz file.
optimizers: {", ".join(OPTIMIZERS)}. In experiments adam
  defaults to the seed's epsilon (eps=0, eps_root=1e-8); adam:eps=1e-8,eps_root=0 is PyTorch's.
schedules: {", ".join(SCHEDULES)}.
"""


def add_experiment_arguments(parser: argparse.ArgumentParser, *, single: bool = False) -> None:
    """Add the options that define an experiment (``single``: one ``--optimizer``, for train).

    Every default is None, meaning "the configuration's value" (the seed's study, or the file
    given with ``--config``).
    """
    parser.add_argument(
        "--config", metavar="FILE", help="start from a saved config.toml (rerun it exactly)"
    )
    parser.add_argument("--name", help="name of the run (default: the dataset's name)")
    defaults = ExperimentConfig()
    add_data_options(parser, problem=True)
    add_network_options(parser, defaults)
    add_optimizer_options(parser, single=single)
    training = add_training_options(parser, defaults, seeds="one")
    training.add_argument(
        "--eval-every",
        type=whole_number,
        metavar="N",
        help=f"measure accuracies every N epochs (default: {defaults.eval_every})",
    )


def config_from_args(args: argparse.Namespace, *, single: bool = False) -> ExperimentConfig:
    """The configuration: ``--config`` (or the seed's study), then ``--problem``'s setup,
    then the other options given.

    Raises:
      InvalidParameterError, DataError: a malformed option or an invalid setting;
        ``--problem`` with ``--dataset`` (:func:`~descentlab.cli.options.problem_from_args`).
    """
    base = ExperimentConfig.from_toml(Path(args.config)) if args.config else ExperimentConfig()
    problem = problem_from_args(args)
    if problem is not None:
        base = base.with_problem(problem.name)
    changes: dict[str, Any] = {}
    dataset = dataset_from_args(args, base.dataset)
    if dataset != base.dataset:
        changes["dataset"] = dataset
        changes["problem"] = None  # one's own data: no longer the problem of a --config
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    if single:
        if args.optimizer is not None:
            entries = parse_optimizer_spec(args.optimizer)
            if len(entries) != 1:
                raise InvalidParameterError(
                    f"--optimizer takes one optimizer (use descentlab compare for several). "
                    f"Got {args.optimizer!r}."
                )
            changes["optimizers"] = (OptimizerSpec(*entries[0]),)
        elif len(base.optimizers) != 1:
            pick = [o for o in base.optimizers if o.name == "adam"] or list(base.optimizers[-1:])
            changes["optimizers"] = (pick[0],)
    elif args.optimizers:
        entries = optimizers_from_args(args.optimizers)
        changes["optimizers"] = tuple(OptimizerSpec(name, hp) for name, hp in entries)
    if args.schedule is not None:
        changes["schedule"] = parse_schedule_spec(args.schedule)
    simple = {
        "lr": "learning_rate",
        "batch_size": "batch_size",
        "epochs": "epochs",
        "init": "init",
        "shuffle": "shuffle",
        "eval_every": "eval_every",
        "activation": "activation",
        "name": "name",
        "engine": "engine",
    }
    for arg, key in simple.items():
        value = getattr(args, arg, None)
        if value is not None:
            changes[key] = value
    if getattr(args, "log_scale", None):
        changes["log_scale"] = True
    if args.seed is not None:
        changes["seed"] = changes["data_seed"] = args.seed
    return base.replace(**changes) if changes else base


SUMMARY = "compare optimizers on one network and dataset (default: the seed's study)"

DESCRIPTION = (
    "Train the same network (same initial weights, same data order) with each "
    "optimizer, all at once as one population; print train/test accuracy, final "
    "cost and time; write a run folder "
    "with config.toml, results.json, history.csv, plots and a self-contained "
    "report.html."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab compare``."""
    p = add_command(subparsers, "compare", SUMMARY, DESCRIPTION, EPILOG, run)
    add_experiment_arguments(p)
    out = add_output_options(p, out="run folder (default: runs/<name>-<timestamp>/)")
    out.add_argument(
        "--log-scale", action="store_true", default=None, help="log-scaled cost axis in the plot"
    )
    out.add_argument(
        "--save-trajectory",
        type=whole_number,
        metavar="N",
        help="save the weights every N epochs in trajectory.npz (with the initial and final "
        "ones), for the training paths of 'descentlab landscape'",
    )
    add_diagnostics_option(out)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab compare``; 0 when done, 130 when interrupted (partial results kept)."""
    from descentlab.experiments.compare import run_comparison
    from descentlab.experiments.run_folder import default_run_path, results_to_json
    from descentlab.report import table_rows

    config = config_from_args(args)
    if args.save_trajectory is not None:
        check_option("--save-trajectory", args.save_trajectory, STEPS)
    out_dir = Path(args.out) if args.out else default_run_path(config.name)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    quiet = args.quiet
    results = run_comparison(
        config,
        out_dir,
        progress=False if quiet else None,
        log=None if quiet else log,
        save_trajectory=args.save_trajectory,
        diagnostics=args.diagnostics,
    )
    report = Path(results["run_dir"]) / "report.html"
    if args.format == "json":
        sys.stdout.write(results_to_json({**results, "report": str(report)}))
    else:
        ds = results["dataset"]
        print(
            f"{config.name}: {ds['n_train']} training and {ds['n_test']} test examples, "
            f"layer_dims {results['layer_dims']}, {config.epochs} epochs"
        )
        print()
        print(format_table(*table_rows(results)))
        runs = results["runs"]
        if results.get("trained_together") and runs and runs[0]["seconds"] is not None:
            print(
                f"trained together as one population of {len(runs)}: "
                f"{runs[0]['seconds']:.1f} s in all"
            )
        print()
        print(f"Run folder: {results['run_dir']}")
        print(f"Report:     {report}")
    if results["interrupted"]:
        print(
            f"descentlab: interrupted; partial results saved in {results['run_dir']}",
            file=sys.stderr,
        )
        return 130
    return 0
