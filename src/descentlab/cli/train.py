"""``descentlab train``: train one network with one optimizer and save it as an NPZ model file.

The model file (:mod:`descentlab.model_file`, read back by ``descentlab predict``) holds the
parameters, a JSON ``meta`` (layer_dims, activation, the class labels, feature names, target
column, the summary and the full configuration), the standardisation if any, and the history.
A run that diverged with finite weights is saved, with a warning; a run whose weights became
NaN or inf is not (one-line error, exit status 2, no file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from descentlab.cli.compare import add_experiment_arguments, config_from_args
from descentlab.cli.options import add_command, add_output_options, format_table
from descentlab.model_file import save_model

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  descentlab train
      the seed's Adam run on moons (10000 epochs; train accuracy 0.9400), saved under runs/
  descentlab train --optimizer adam:lr=0.01 --epochs 2000 --out model.npz
  descentlab train --optimizer sgd:momentum=0.9,nesterov=true --lr 0.05 --epochs 300 \\
      --dataset wine --layers 16 --out wine.npz
  descentlab train --dataset data.csv --target label --optimizer rmsprop --lr 0.001 --out m.npz
  descentlab train --config runs/moons-20250101-120000/config.toml --optimizer gd

Then: descentlab predict model.npz new_points.csv --out predictions.csv
"""


SUMMARY = "train one network with one optimizer and save it (NPZ)"

DESCRIPTION = (
    "Train one network with one optimizer (default: the seed's Adam run on moons), "
    "print its train/test accuracy and save the model, its configuration and its "
    "history as an NPZ file for descentlab predict."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab train``."""
    p = add_command(subparsers, "train", SUMMARY, DESCRIPTION, EPILOG, run)
    add_experiment_arguments(p, single=True)
    add_output_options(
        p, out="model file (default: runs/<name>-<optimizer>-<timestamp>.npz)", metavar="FILE"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab train``; 0 when done, 130 when interrupted (the model so far is saved).

    Steps: check the configuration, the data, the network and the output file; train; save
    the model (refused if its weights are not finite); print the table.
    """
    from descentlab.experiments.compare import comparison_runs, train_optimizers
    from descentlab.experiments.data import load_experiment_data
    from descentlab.experiments.population import Population, engine_message
    from descentlab.experiments.run_folder import default_run_path
    from descentlab.io import check_writable

    config = config_from_args(args, single=True)
    (spec,) = config.optimizers
    data = load_experiment_data(config.dataset)
    population = Population(comparison_runs(config), data)
    if args.out:
        path = check_writable(Path(args.out), folder=False)
    else:
        path = check_writable(
            default_run_path(f"{config.name}-{spec.name}", suffix=".npz"), folder=False
        )
    if not args.quiet:
        print(
            f"descentlab train: {config.name}, {spec.label}; {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {spec.learning_rate(config.learning_rate):g}",
            file=sys.stderr,
        )
    (outcome,) = train_optimizers(
        config, data, population=population, progress=False if args.quiet else None
    )
    if outcome.engine_note and not args.quiet:
        print(f"descentlab: {engine_message(outcome.engine_note)}", file=sys.stderr)
    _save(path, config, data, population.net, outcome)
    return _report(args, path, data, population.net, outcome.summary)


def _save(path: Path, config: Any, data: Any, net: Any, outcome: Any) -> None:
    """The model file: the network, its parameters, history, labels and configuration."""
    (spec,) = config.optimizers
    save_model(
        path,
        net=net,
        params=outcome.params,
        history=outcome.history,
        meta={
            "classes": list(data.train.classes),
            "feature_names": list(data.train.feature_names),
            "target": config.dataset.target or "y",
            "optimizer": spec.label,
            "summary": outcome.summary,
            "dataset": data.summary(),
            "config": config.to_dict(),
        },
        mean=data.mean,
        std=data.std,
    )


def _report(args: argparse.Namespace, path: Path, data: Any, net: Any, s: dict) -> int:
    """Print the run's table (or JSON) and say where the model is; the exit status."""
    from descentlab.experiments.run_folder import results_to_json
    from descentlab.report import table_rows

    if args.format == "json":
        sys.stdout.write(results_to_json({**s, "model": str(path)}))
    else:
        print(format_table(*table_rows({"runs": [s]})))
        print()
        print(
            f"Model: {path}  (layer_dims {list(net.layer_dims)}, classes {list(data.train.classes)})"
        )
    if s["status"] == "interrupted":
        print(f"descentlab: interrupted; the model so far is saved in {path}", file=sys.stderr)
        return 130
    if s["status"] == "diverged":
        print(f"descentlab: warning: {s['message']}", file=sys.stderr)
    return 0
