"""``descentlab lr-find``: a learning-rate finder, as a population and as the classic ramp.

K log-spaced rates are trained from the same initial weights for a short budget as one
population, and one run ramps its rate up exponentially every step (Smith 2017; fastai);
both curves go into one figure, and the finder prints the rate it suggests and the rule
that chose it (:mod:`descentlab.experiments.lr_find`). Writes ``lr-find.png``,
``lr-find.csv`` (both curves) and ``lr-find.json`` (the settings and the suggestions) to
``--out``, atomically, after every setting has been checked.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from descentlab._validation import InvalidParameterError
from descentlab.cli.options import (
    add_command,
    add_data_options,
    add_network_options,
    add_output_options,
    add_training_options,
    dataset_from_args,
    finite_float,
    format_table,
    problem_from_args,
    whole_number,
)
from descentlab.experiments.lr_find import (
    DEFAULT_STEPS,
    POPULATION_RULES,
    RAMP_RULES,
)

__all__ = ["add_parser", "run"]

FILES = ("lr-find.png", "lr-find.csv", "lr-find.json")
"""What ``--out`` receives."""
COLUMNS = ("curve", "index", "learning_rate", "loss", "smoothed_loss", "val_loss", "diverged")
"""The columns of ``lr-find.csv`` (:meth:`~descentlab.experiments.lr_find.LRFindResult.rows`)."""

EPILOG = """\
examples:
  descentlab lr-find --problem seed-moons --out runs/lr-find
      Adam on the seed's problem: 32 rates from 1e-6 to 10, 40 epochs each, and the ramp
  descentlab lr-find --problem mnist1d --optimizer sgd:momentum=0.9 --out DIR
  descentlab lr-find --dataset spiral --layers 32,32 --optimizer gd --rates 16 \\
      --min-lr 1e-3 --max-lr 30 --epochs 50 --out DIR
  descentlab lr-find --problem digits --rule within --tolerance 0.05 --out DIR

rules: population minimum (the rate with the lowest loss after the budget, divided by
  --factor, default 2) or within (the largest rate whose loss is within --tolerance of the
  lowest); ramp steepest (where the smoothed loss falls fastest) or minimum (the rate of the
  lowest smoothed loss, divided by 10).
"""

SUMMARY = "find a learning rate: K rates as one population, beside the one-run ramp"

DESCRIPTION = (
    "Train K log-spaced learning rates from the same initial weights for a short budget as "
    "one population (loss after the budget against the rate), and run the classic "
    "exponential ramp (one run, the rate growing every step, smoothed loss against the "
    "rate; Smith 2017, fastai). Print the suggested rate and the rule that chose it; write "
    "the figure (PNG), both curves (CSV) and a summary (JSON) to --out."
)


class _Defaults:
    """What the shared option groups show as defaults."""

    layers = "5,2 (the problem's with --problem)"
    activation = "relu (the problem's with --problem)"
    epochs = f"enough for {DEFAULT_STEPS} mini-batch steps"
    batch_size = "64 (the problem's with --problem)"
    init = "seed (he with --problem)"
    shuffle = "seed (random with --problem)"


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab lr-find``."""
    p = add_command(subparsers, "lr-find", SUMMARY, DESCRIPTION, EPILOG, run)
    add_data_options(p, problem=True)
    add_network_options(p, _Defaults)
    p.add_argument_group("optimizer").add_argument(
        "--optimizer",
        metavar="SPEC",
        help="the optimizer and its settings but the rate, e.g. adam:b1=0.9 or "
        "sgd:momentum=0.9 (default: adam)",
    )
    add_training_options(p, _Defaults, seeds="one")
    finder = p.add_argument_group("finder")
    finder.add_argument("--min-lr", type=finite_float, default=1e-6, metavar="LR",
                        help="smallest rate (default: 1e-6)")  # fmt: skip
    finder.add_argument("--max-lr", type=finite_float, default=10.0, metavar="LR",
                        help="largest rate (default: 10)")  # fmt: skip
    finder.add_argument("--rates", type=whole_number, default=32, metavar="K",
                        help="log-spaced rates in the population (default: 32)")  # fmt: skip
    finder.add_argument("--ramp-steps", type=whole_number, default=100, metavar="T",
                        help="steps of the ramp (default: 100)")  # fmt: skip
    finder.add_argument("--rule", choices=POPULATION_RULES, default="minimum",
                        help="the population's rule (default: minimum)")  # fmt: skip
    finder.add_argument("--factor", type=finite_float, default=2.0, metavar="F",
                        help="rule minimum: divide the best rate by F (default: 2)")  # fmt: skip
    finder.add_argument("--tolerance", type=finite_float, default=0.1, metavar="X",
                        help="rule within: a loss within X (a fraction) of the lowest "
                        "(default: 0.1)")  # fmt: skip
    finder.add_argument("--ramp-rule", choices=RAMP_RULES, default="steepest",
                        help="the ramp's rule (default: steepest)")  # fmt: skip
    finder.add_argument("--smoothing", type=finite_float, default=0.98, metavar="BETA",
                        help="the ramp's moving-average factor (default: 0.98)")  # fmt: skip
    finder.add_argument("--stop-factor", type=finite_float, default=4.0, metavar="F",
                        help="stop the ramp when its smoothed loss passes F times its lowest "
                        "(default: 4)")  # fmt: skip
    add_output_options(p, out="output folder (default: runs/lr-find-<name>-<timestamp>/)")


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab lr-find``: check everything, train, write the files, print.

    Steps: the setup (data, network, optimizer, budget) and every finder setting are checked
    and the output folder made writable before anything trains; then the population and the
    ramp; then the three files, each written atomically; then the suggestion is printed.
    """
    from descentlab.experiments.lr_find import check_settings, lr_find
    from descentlab.experiments.population import engine_message
    from descentlab.experiments.run_folder import default_run_path
    from descentlab.io import check_writable

    name, template, data = _setup(args)
    settings = _finder_settings(args)
    check_settings(template, data, **settings)
    out_dir = Path(args.out) if args.out else default_run_path(f"lr-find-{name}")
    check_writable(out_dir, folder=True)
    if not args.quiet:
        print(
            f"descentlab lr-find: {name}, {template.optimizer}; {settings['n_rates']} rates "
            f"from {settings['min_lr']:g} to {settings['max_lr']:g}, {template.epochs} epochs "
            f"each, as one population; the ramp: {settings['ramp_steps']} steps",
            file=sys.stderr,
        )
    result = lr_find(template, data, progress=False if args.quiet else None, **settings)
    if result.population.engine_note and not args.quiet:
        print(f"descentlab: {engine_message(result.population.engine_note)}", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"name": name, **result.summary(), "files": [str(out_dir / f) for f in FILES]}
    _write(out_dir, result, summary, name)
    _report(args, summary)
    return 0


def _setup(args: argparse.Namespace) -> tuple[str, Any, Any]:
    """The name, the template run (its rate unused; ``epochs`` the budget) and the data.

    Without ``--problem``: the seed's setup (moons, 2-5-2-1, batch 64, its init and data
    order) with the options given. With it: the problem's data, network and batch size,
    He initialisation and a random data order from ``--seed`` (default 0), as
    :meth:`~descentlab.problems.Problem.run`.
    """
    from descentlab.experiments.compare import comparison_runs
    from descentlab.experiments.config import ExperimentConfig
    from descentlab.experiments.data import load_experiment_data
    from descentlab.experiments.lr_find import budget_epochs
    from descentlab.experiments.specs import parse_layers

    optimizer = _optimizer(args.optimizer)
    config = ExperimentConfig(optimizers=(optimizer,))
    problem = problem_from_args(args)
    if problem is not None:
        seed = 0 if args.seed is None else args.seed
        config = config.with_problem(
            problem.name, init="he", shuffle="random", seed=seed, data_seed=seed
        )
    changes: dict[str, Any] = {"dataset": dataset_from_args(args, config.dataset)}
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    for key in ("activation", "batch_size", "init", "shuffle", "epochs"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.seed is not None:
        changes["seed"] = changes["data_seed"] = args.seed
    config = config.replace(**changes)
    data = problem.data() if problem is not None else load_experiment_data(config.dataset)
    epochs = args.epochs if args.epochs is not None else budget_epochs(data, config.batch_size)
    (template,) = comparison_runs(config)
    return config.name, dataclasses.replace(template, epochs=epochs), data


def _optimizer(text: str | None) -> Any:
    """``--optimizer``'s one optimizer; a learning rate in it is refused (the finder sets it)."""
    from descentlab.experiments.specs import OptimizerSpec, parse_optimizer_spec

    if text is None:
        return OptimizerSpec("adam")
    entries = parse_optimizer_spec(text)
    if len(entries) != 1:
        raise InvalidParameterError(f"--optimizer takes one optimizer. Got {text!r}.")
    name, settings = entries[0]
    if "learning_rate" in settings:
        raise InvalidParameterError(
            f"--optimizer {text!r} sets a learning rate; the finder tries the rates from "
            "--min-lr to --max-lr itself: remove lr from it."
        )
    return OptimizerSpec(name, settings)


def _finder_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "min_lr": args.min_lr,
        "max_lr": args.max_lr,
        "n_rates": args.rates,
        "ramp_steps": args.ramp_steps,
        "rule": args.rule,
        "ramp_rule": args.ramp_rule,
        "factor": args.factor,
        "tolerance": args.tolerance,
        "smoothing": args.smoothing,
        "stop_factor": args.stop_factor,
        "engine": args.engine or "auto",
    }


def _write(out_dir: Path, result: Any, summary: dict[str, Any], name: str) -> None:
    """The figure, the curves and the summary, each written atomically."""
    from descentlab.experiments.lr_find_plots import plot_lr_find
    from descentlab.io import atomic_write, atomic_writer, json_default
    from descentlab.plots import save_figure

    save_figure(
        plot_lr_find(result, f"learning-rate finder: {name}, {result.settings['optimizer']}"),
        out_dir / FILES[0],
    )
    with atomic_writer(out_dir / FILES[1], newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in result.rows():
            writer.writerow({k: _cell(v) for k, v in row.items()})
    text = json.dumps(summary, indent=2, default=json_default, allow_nan=False)
    atomic_write(out_dir / FILES[2], text + "\n")


def _cell(value: Any) -> str:
    """A CSV cell: empty for None, ``true``/``false``, numbers in full (``repr``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _report(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    """Print both suggestions as a table and the finder's answer (or the summary as JSON)."""
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        return
    rows = []
    for curve, key in (("population", "suggestion"), ("ramp", "ramp_suggestion")):
        s = summary[key]
        rate = "none" if s["learning_rate"] is None else f"{s['learning_rate']:.3g}"
        rows.append([curve, rate, s["rule"], s["description"]])
    print(format_table(["curve", "suggests", "rule", "how"], rows, left=(0, 2, 3)))
    stopped = summary["ramp_stopped"]
    print(
        f"\npopulation: {summary['n_rates']} rates from {summary['min_lr']:g} to "
        f"{summary['max_lr']:g}, {summary['epochs']} epochs ({summary['steps']} steps) each from "
        f"the same weights, {summary['n_diverged']} diverged; ramp: "
        f"{summary['ramp_steps_done']} of {summary['ramp_steps']} steps"
        + (f", stopped: {stopped}" if stopped else "")
    )
    answer = summary["suggestion"]
    if answer["learning_rate"] is None:
        print(f"suggested learning rate: none ({answer['description']})")
    else:
        print(f"suggested learning rate: {answer['learning_rate']:.3g} (rule {answer['rule']})")
    print(f"files: {', '.join(summary['files'])}")
