"""``descentlab train``: train one network with one optimizer and save it as an NPZ model file.

The model file (read back by :func:`load_model`, used by ``descentlab predict``) is a NumPy
``.npz`` archive without pickled objects:

- ``W1``, ``b1``, ... — the parameters (``W{l}`` is ``(n_l, n_{l-1})``, ``b{l}`` is ``(n_l, 1)``);
- ``meta`` — a JSON string: format and version, ``layer_dims``, ``activation``, ``classes``
  (the original labels, so predictions come out as labels), ``feature_names``, ``target``
  (the label column name), ``optimizer`` (its label), ``summary`` (accuracies, final cost,
  seconds, status) and ``config`` (the full experiment configuration);
- ``mean``, ``std`` — ``(n_features, 1)`` standardisation of the inputs, if used;
- ``history_cost``, ``history_last_batch_cost``, ``history_learning_rate`` (per epoch),
  ``history_eval_epochs``, ``history_train_accuracy``, ``history_test_accuracy``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import DataError
from descentlab.cli.compare import add_experiment_arguments, config_from_args, format_table
from descentlab.io import atomic_writer
from descentlab.nn import MLP
from descentlab.optimizers.base import Params

__all__ = ["MODEL_FORMAT", "SavedModel", "add_parser", "load_model", "run", "save_model"]

MODEL_FORMAT = "descentlab-model"
MODEL_VERSION = 1

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


@dataclass(frozen=True)
class SavedModel:
    """A model file's content: the network, its parameters and what predict needs."""

    net: MLP
    params: Params
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]
    target: str | None
    mean: np.ndarray | None
    std: np.ndarray | None
    meta: dict[str, Any]
    history: dict[str, np.ndarray]


def save_model(
    path: str | Path,
    *,
    net: MLP,
    params: Params,
    history: Any,
    meta: dict[str, Any],
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> None:
    """Write a model file atomically (see the module docstring for its layout)."""
    arrays: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in params.items()}
    full_meta = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "layer_dims": list(net.layer_dims),
        "activation": net.activation,
        **meta,
    }
    arrays["meta"] = np.array(json.dumps(full_meta))
    if mean is not None and std is not None:
        arrays["mean"], arrays["std"] = np.asarray(mean), np.asarray(std)
    arrays["history_cost"] = history.cost
    arrays["history_last_batch_cost"] = history.last_batch_cost
    arrays["history_learning_rate"] = history.learning_rate
    arrays["history_eval_epochs"] = history.eval_epochs
    arrays["history_train_accuracy"] = history.train_accuracy
    arrays["history_test_accuracy"] = history.val_accuracy
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)


def load_model(path: str | Path) -> SavedModel:
    """Read a model file written by ``descentlab train``.

    Raises:
      DataError: missing or unreadable file, or not a descentlab model.
    """
    path = Path(path)
    not_model = f"'{path}' is not a descentlab model file (write one with descentlab train)."
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile) or "meta" not in z.files:
                raise DataError(not_model)
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != MODEL_FORMAT:
                raise DataError(not_model)
            net = MLP(tuple(meta["layer_dims"]), meta["activation"])
            params = {k: z[k] for k in net.shapes()}
            mean = z["mean"] if "mean" in z.files else None
            std = z["std"] if "std" in z.files else None
            history = {k[8:]: z[k] for k in z.files if k.startswith("history_")}
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"No such file: '{path}'.") from None
    except OSError as exc:
        raise DataError(f"Cannot read '{path}': {exc.strerror or exc}.") from None
    except (ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError, TypeError):
        raise DataError(not_model) from None
    net.check_params(params)
    return SavedModel(
        net=net,
        params=params,
        classes=tuple(meta["classes"]),
        feature_names=tuple(meta["feature_names"]),
        target=meta.get("target"),
        mean=mean,
        std=std,
        meta=meta,
        history=history,
    )


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab train``."""
    p = subparsers.add_parser(
        "train",
        help="train one network with one optimizer and save it (NPZ)",
        description=textwrap.fill(
            (
                "Train one network with one optimizer (default: the seed's Adam run on moons), "
                "print its train/test accuracy and save the model, its configuration and its "
                "history as an NPZ file for descentlab predict."
            ),
            79,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_experiment_arguments(p, single=True)
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="FILE",
        help="model file (default: runs/<name>-<optimizer>-<timestamp>.npz)",
    )
    out.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab train``; 0 when done, 130 when interrupted (the model so far is saved)."""
    from descentlab.experiments.compare import comparison_runs, train_optimizers
    from descentlab.experiments.data import load_experiment_data
    from descentlab.experiments.population import Population
    from descentlab.experiments.run_folder import (
        check_writable,
        default_run_path,
        results_to_json,
    )

    config = config_from_args(args, single=True)
    (spec,) = config.optimizers
    data = load_experiment_data(config.dataset)
    population = Population(comparison_runs(config), data)
    path = (
        Path(args.out)
        if args.out
        else default_run_path(f"{config.name}-{spec.name}", suffix=".npz")
    )
    check_writable(path, folder=False)
    if not args.quiet:
        print(
            f"descentlab train: {config.name}, {spec.label}; {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {spec.learning_rate(config.learning_rate):g}",
            file=sys.stderr,
        )
    (outcome,) = train_optimizers(
        config, data, population=population, progress=False if args.quiet else None
    )
    net = population.net
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = config.dataset
    target = ds.target if ds.target else "y"
    save_model(
        path,
        net=net,
        params=outcome.params,
        history=outcome.history,
        meta={
            "classes": list(data.train.classes),
            "feature_names": list(data.train.feature_names),
            "target": target,
            "optimizer": spec.label,
            "summary": outcome.summary,
            "dataset": data.summary(),
            "config": config.to_dict(),
        },
        mean=data.mean,
        std=data.std,
    )
    s = outcome.summary
    if args.format == "json":
        sys.stdout.write(results_to_json({**s, "model": str(path)}))
    else:
        from descentlab.report import table_rows

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
