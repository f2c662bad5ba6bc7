"""``descentlab train``: train one network with one optimizer and save it as an NPZ model file.

The model file (:mod:`descentlab.model_file`, read back by ``descentlab predict``) holds the
parameters, a JSON ``meta`` (layer_dims, activation, the class labels, feature names, target
column, the summary and the full configuration), the standardisation if any, and the history.
A run that diverged with finite weights is saved, with a warning; a run whose weights became
NaN or inf is not (one-line error, exit status 2, no file).

With ``--checkpoint-every N`` the run is a folder (``--out``, default
``runs/<name>-<optimizer>-<timestamp>/``): ``config.toml``, ``model.npz`` and the exact
checkpoint ``checkpoint.npz`` + ``checkpoint.json`` (:mod:`descentlab.checkpoint`), written
every N epochs, at the end and on Ctrl-C. ``--resume RUN_DIR`` continues it bit for bit with
its saved configuration (``--epochs`` extends it; the outputs are then those of one run of
that length).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from descentlab.cli.compare import add_experiment_arguments, config_from_args
from descentlab.cli.options import (
    add_command,
    add_diagnostics_option,
    add_output_options,
    check_option,
    format_table,
    whole_number,
)
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
  descentlab train --epochs 20000 --checkpoint-every 1000 --out runs/long
      a run folder with an exact checkpoint every 1000 epochs (and on Ctrl-C)
  descentlab train --resume runs/long
  descentlab train --resume runs/long --epochs 40000
      continue it, bit for bit (--epochs: the new total)

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
    out = add_output_options(
        p,
        out="model file (default: runs/<name>-<optimizer>-<timestamp>.npz); with "
        "--checkpoint-every, the run folder (default: runs/<name>-<optimizer>-<timestamp>/)",
        metavar="PATH",
    )
    out.add_argument(
        "--checkpoint-every",
        type=whole_number,
        metavar="N",
        help="write an exact checkpoint every N epochs (and at the end and on Ctrl-C) in a "
        "run folder, with model.npz and config.toml",
    )
    out.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (written with --checkpoint-every) with its saved "
        f"configuration; only {', '.join(_RESUME_OPTIONS)} may be given with it",
    )
    add_diagnostics_option(out)


_RESUME_OPTIONS = ("--epochs", "--engine", "--checkpoint-every", "--format", "--quiet")
"""What may change when a run is resumed (the numbers do not depend on them, but --epochs
extends the run)."""


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab train``; 0 when done, 130 when interrupted (the model so far is saved).

    Steps: check the configuration (``--resume``: the run folder's, its checkpoint's form),
    the data, the network and the output file (``--checkpoint-every``: the run folder, its
    ``config.toml`` written); train (the checkpoint is matched to the run before any epoch);
    save the model (refused if its weights are not finite); print the table.
    """
    from descentlab.experiments.compare import comparison_runs, train_optimizers
    from descentlab.experiments.data import load_experiment_data
    from descentlab.experiments.population import Population, engine_message
    from descentlab.experiments.run_folder import default_run_path
    from descentlab.io import atomic_write, check_writable

    _check_diagnostics(args)
    resumed = _resumed(args)  # (config, checkpoint_every, epochs done) of --resume, or None
    config = resumed[0] if resumed else config_from_args(args, single=True)
    (spec,) = config.optimizers
    data = load_experiment_data(config.dataset)
    population = Population(comparison_runs(config), data)
    folder = _run_folder(args, config, spec.name)
    if folder is not None:
        path = check_writable(folder / "model.npz", folder=False)
    elif args.out:
        path = check_writable(Path(args.out), folder=False)
    else:
        path = check_writable(
            default_run_path(f"{config.name}-{spec.name}", suffix=".npz"), folder=False
        )
    diagnostics_csv = None
    if args.diagnostics:
        diagnostics_csv = check_writable(path.with_suffix(".history.csv"), folder=False)
    if not args.quiet:
        print(
            f"descentlab train: {config.name}, {spec.label}; {config.epochs} epochs, "
            f"batch {config.batch_size}, lr {spec.learning_rate(config.learning_rate):g}"
            + (f"; resuming {folder} after epoch {resumed[2]}" if resumed else ""),
            file=sys.stderr,
        )
    checkpoint = {}
    if folder is not None:
        every = resumed[1] if resumed and args.checkpoint_every is None else args.checkpoint_every
        checkpoint = {"checkpoint": folder / "checkpoint.npz", "checkpoint_every": every}
        if resumed:
            checkpoint["resume"] = folder / "checkpoint.npz"
        else:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / "config.toml", config.to_toml())
    (outcome,) = train_optimizers(
        config,
        data,
        population=population,
        progress=False if args.quiet else None,
        diagnostics=args.diagnostics,
        **checkpoint,
    )
    if outcome.engine_note and not args.quiet:
        print(f"descentlab: {engine_message(outcome.engine_note)}", file=sys.stderr)
    if resumed:  # the total it now has (--epochs), as one run of that length would write
        atomic_write(folder / "config.toml", config.to_toml())
    _save(path, config, data, population.net, outcome)
    status = _report(args, path, data, population.net, outcome.summary)
    if diagnostics_csv is not None:
        _report_diagnostics(args, diagnostics_csv, spec.label, outcome.history)
    if folder is not None and not args.quiet:
        verb = "continue" if status == 130 else "extend"
        print(
            f"descentlab: run folder {folder}; {verb} it with: descentlab train --resume "
            f"{folder}{'' if status == 130 else ' --epochs N'}",
            file=sys.stderr,
        )
    return status


def _check_diagnostics(args: argparse.Namespace) -> None:
    """``--diagnostics`` is not given with ``--checkpoint-every`` or ``--resume`` (a checkpoint
    does not keep them)."""
    if args.diagnostics and (args.checkpoint_every is not None or args.resume is not None):
        from descentlab._validation import InvalidParameterError

        raise InvalidParameterError(
            "--diagnostics cannot be used with --checkpoint-every or --resume (a checkpoint "
            "does not keep the diagnostics)."
        )


def _report_diagnostics(args: argparse.Namespace, path: Path, label: str, history: Any) -> None:
    """Write the history with its ``diag_*`` columns to ``path`` and, unless ``--quiet`` or
    ``--format json``, print the diagnostics at each evaluation."""
    import numpy as np

    from descentlab.experiments.run_folder import write_history_csv

    write_history_csv(path, [(label, history)])
    if args.quiet or args.format == "json":
        return
    d = history.diagnostics
    adam = bool(np.isfinite(d["precond_sharpness"]).any())
    header = ["epoch", "grad norm", "sharpness", "2/lr"]
    header += ["P^-1 H", "Adam limit"] if adam else []
    header += ["noise scale", "batch"]
    rows = []
    for i, epoch in enumerate(history.eval_epochs):
        cells = [d["grad_norm"][i], d["sharpness"][i], d["sharpness_threshold"][i]]
        cells += [d["precond_sharpness"][i], d["precond_threshold"][i]] if adam else []
        cells += [d["noise_scale"][i], d["suggested_batch"][i]]
        rows.append([str(int(epoch)), *(f"{float(c):.4g}" for c in cells)])
    print()
    print(format_table(header, rows))
    print(f"Diagnostics (history with diag_* columns): {path}")


def _resumed(args: argparse.Namespace) -> tuple[Any, int | None, int] | None:
    """For ``--resume RUN_DIR``: the run's saved configuration (``--epochs``, ``--engine``
    applied; else the total its checkpoint was aiming at), its ``checkpoint_every`` and the
    epochs its checkpoint holds.

    Raises:
      InvalidParameterError: another option given with ``--resume``.
      DataError: RUN_DIR is not a run folder with a readable checkpoint and config.toml.
    """
    if args.resume is None:
        return None
    from descentlab._validation import DataError, InvalidParameterError
    from descentlab.checkpoint import read_checkpoint_meta
    from descentlab.experiments.config import ExperimentConfig

    allowed = {flag.lstrip("-").replace("-", "_") for flag in _RESUME_OPTIONS} | {"resume"}
    given = [
        k for k, v in vars(args).items() if k not in allowed | {"func"} and v not in (None, False)
    ]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise InvalidParameterError(
            f"{flag} cannot be given with --resume: the run continues with the configuration "
            f"saved in its folder (only {', '.join(_RESUME_OPTIONS)} may be given)."
        )
    folder = Path(args.resume)
    if not folder.is_dir():
        raise DataError(
            f"--resume needs a run folder written by descentlab train --checkpoint-every; "
            f"'{folder}' is not a folder."
        )
    meta = read_checkpoint_meta(folder / "checkpoint.npz")
    config = ExperimentConfig.from_toml(folder / "config.toml")
    changes = {"epochs": meta["epochs"] if args.epochs is None else args.epochs}
    if args.engine is not None:
        changes["engine"] = args.engine
    return config.replace(**changes), meta["checkpoint_every"], meta["epochs_done"]


def _run_folder(args: argparse.Namespace, config: Any, optimizer: str) -> Path | None:
    """The run folder of a checkpointed run (``--checkpoint-every``, ``--resume``), checked;
    None for a plain model file."""
    from descentlab._validation import DataError
    from descentlab.experiments.run_folder import default_run_path
    from descentlab.io import check_writable
    from descentlab.training import EPOCHS

    if args.checkpoint_every is not None:
        check_option("--checkpoint-every", args.checkpoint_every, EPOCHS)
    if args.resume is not None:
        return Path(args.resume)
    if args.checkpoint_every is None:
        return None
    folder = Path(args.out) if args.out else default_run_path(f"{config.name}-{optimizer}")
    if folder.suffix == ".npz":
        raise DataError(
            f"With --checkpoint-every, --out names the run folder (it will hold model.npz, "
            f"config.toml and the checkpoint); got the file name '{folder}'."
        )
    check_writable(folder, folder=True)
    for name in ("checkpoint.npz", "checkpoint.json"):
        if (folder / name).exists():
            raise DataError(
                f"'{folder}' already holds a run's checkpoint ({name}); continue it with "
                f"descentlab train --resume {folder}, or choose another --out."
            )
    return folder


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
        print(format_table(*table_rows({"runs": [s], "dataset": data.summary()})))
        print()
        if data.task == "regression":
            targets = data.train.n_targets
            kind = f"regression, {targets} target{'s' if targets != 1 else ''}"
        else:
            kind = f"classes {list(data.train.classes)}"
        print(f"Model: {path}  (layer_dims {list(net.layer_dims)}, {kind})")
    if s["status"] == "interrupted":
        print(f"descentlab: interrupted; the model so far is saved in {path}", file=sys.stderr)
        return 130
    if s["status"] == "diverged":
        print(f"descentlab: warning: {s['message']}", file=sys.stderr)
    return 0
