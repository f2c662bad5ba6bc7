"""``descentlab problems``: list the problem suite, or describe one problem.

``descentlab problems`` prints one row per problem (name, data, network, loss, batch size,
budget, target); ``descentlab problems describe NAME`` prints every setting of one problem
and what its data makes of them (set sizes, layer_dims, steps). ``--json`` prints the same
as JSON (:meth:`descentlab.problems.Problem.describe`, one object per problem). An unknown
name is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from descentlab._validation import InvalidParameterError
from descentlab.cli.options import add_command, format_table

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  descentlab problems
  descentlab problems describe mnist1d
  descentlab problems --json
  descentlab compare --problem mnist1d --optimizers sgd:momentum=0.9,adam --lr 0.01
  descentlab sweep --problem digits --optimizers adam --seeds 5 --out runs/digits-adam

Every command that trains takes --problem NAME: the problem's data, and its layers,
activation, batch size, epochs and learning rate unless given. See docs/problems.md.
"""

SUMMARY = "list the problem suite (data, network, budget, target) or describe one problem"

DESCRIPTION = (
    "List the problems of the suite: each names its data, network, loss, batch size, "
    "step budget and validation target. 'describe NAME' prints everything about one "
    "problem."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab problems``."""
    p = add_command(subparsers, "problems", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument(
        "action",
        nargs="?",
        choices=("list", "describe"),
        default="list",
        help="list the suite (default) or describe one problem",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the problem to describe")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab problems``."""
    from descentlab.problems import PROBLEMS, get_problem

    if args.action == "describe":
        if args.name is None:
            raise InvalidParameterError(
                f"descentlab problems describe needs a problem name: one of {', '.join(PROBLEMS)}."
            )
        entries = [get_problem(args.name).describe()]
    elif args.name is not None:
        raise InvalidParameterError(
            f"descentlab problems lists the whole suite; to see one problem write "
            f"descentlab problems describe {args.name}."
        )
    else:
        entries = [get_problem(name).describe() for name in PROBLEMS]
    if args.json:
        document: Any = entries[0] if args.action == "describe" else entries
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif args.action == "describe":
        print(_description(entries[0]))
    else:
        print(_table(entries))
    return 0


def _data_text(entry: dict[str, Any]) -> str:
    """``mnist1d 3000/1000/1000`` (training / validation / test examples)."""
    sizes = f"{entry['n_train']}/{entry['n_val']}/{entry['n_test']}"
    return f"{entry['dataset']['name']} {sizes}"


def _network_text(entry: dict[str, Any]) -> str:
    """``40-100-100-10 relu`` (no activation without a hidden layer)."""
    dims = "-".join(map(str, entry["layer_dims"]))
    return f"{dims} {entry['activation']}" if entry["layers"] else dims


def _budget_text(entry: dict[str, Any]) -> str:
    """``750 steps (25 epochs)``."""
    return f"{entry['steps']} steps ({entry['epochs']} epochs)"


def _loss_text(entry: dict[str, Any]) -> str:
    return {"cross_entropy": "cross-entropy", "mse": "squared error"}.get(entry["loss"], "?")


def _target_text(entry: dict[str, Any]) -> str:
    """``val accuracy >= 0.58`` (:attr:`Problem.target_text`)."""
    from descentlab.problems import get_problem

    return get_problem(entry["name"]).target_text


def _table(entries: list[dict[str, Any]]) -> str:
    """The suite as a table, with a line that says what the data column holds."""
    header = ["problem", "data (train/val/test)", "network", "loss", "batch", "budget", "target"]
    rows = [
        [
            e["name"],
            _data_text(e),
            _network_text(e),
            _loss_text(e),
            str(e["batch_size"]),
            _budget_text(e),
            _target_text(e),
        ]
        for e in entries
    ]
    return (
        format_table(header, rows, left=(0, 1, 2, 3, 5, 6))
        + "\n\nTrain on one with --problem NAME (compare, train, sweep, benchmark); "
        "details: descentlab problems describe NAME."
    )


def _description(entry: dict[str, Any]) -> str:
    """One problem, a setting per line."""
    hidden = f"{entry['activation']} hidden units" if entry["layers"] else "no hidden layer"
    split_only = () if entry["dataset"].get("holdout") == "split" else ("test_size",)
    dataset = ", ".join(f"{k}={v}" for k, v in entry["dataset"].items() if k not in split_only)
    lines = [
        ("problem", entry["name"]),
        ("summary", entry["summary"]),
        ("data", f"{dataset}"),
        (
            "examples",
            f"{entry['n_train']} training, {entry['n_val']} validation, {entry['n_test']} test; "
            f"{entry['n_features']} features, {entry['n_outputs']} output units",
        ),
        ("network", f"layer_dims {entry['layer_dims']}, {hidden}"),
        ("loss", _loss_text(entry)),
        ("batch size", str(entry["batch_size"])),
        (
            "budget",
            f"{entry['epochs']} epochs x {entry['steps_per_epoch']} steps = {entry['steps']} steps",
        ),
        ("target", _target_text(entry)),
        ("learning rate", f"{entry['learning_rate']:g} (default of compare/train --problem)"),
        ("reference", entry["reference"]),
    ]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)
