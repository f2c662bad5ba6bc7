"""The ``descentlab`` command: one subcommand per module of this package.

Each subcommand module ``descentlab.cli.<name>`` has ``add_parser(subparsers)``, which adds its
parser and sets ``func=run`` with ``run(args) -> int``. :func:`main` turns every error that
descentlab raises on purpose (bad data, bad settings, unreadable files) into one line on
stderr, ``descentlab: error: <message>``, and exit status 2 — never a traceback; Ctrl-C
exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from descentlab import __version__
from descentlab._validation import DescentLabError

__all__ = ["build_parser", "error_message", "main"]

SUBCOMMANDS = (
    "compare",
    "train",
    "predict",
    "report",
    "datasets",
    "trajectories",
    "sweep",
    "benchmark",
    "playground",
)
"""Subcommand modules, in help order. A module that is not (yet) in the package is skipped,
so each lands by adding its file ``cli/<name>.py``; no other registration is needed."""

EPILOG = """\
examples:
  descentlab compare                  the seed's study: gd, momentum, adam on moons
  descentlab compare --optimizers gd,momentum:beta=0.95,adam:lr=0.01 --epochs 2000
  descentlab compare --dataset iris --layers 16 --lr 0.01 --epochs 500
  descentlab compare --config runs/moons-20250101-120000/config.toml
  descentlab train --optimizer adam --epochs 2000 --out model.npz
  descentlab predict model.npz points.csv --out predictions.csv
  descentlab report runs/moons-20250101-120000
  descentlab datasets

Run 'descentlab <command> --help' for a command's options and examples.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="descentlab",
        description=(
            "Optimization methods for training neural networks (gradient descent, momentum,\n"
            "RMSProp, Adam, schedules) and the experiments that compare them."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"descentlab {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"descentlab.cli.{name}").add_parser(subparsers)
    return parser


def error_message(exc: BaseException) -> str:
    """One line for people: the exception's message with newlines folded."""
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or exc}: '{exc.filename}'"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``descentlab`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success, 2 on bad input (one line on stderr), 130 on Ctrl-C.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (status 2)
        return int(exc.code or 0)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `descentlab datasets | head -1`
        return 0
    except (DescentLabError, OSError) as exc:
        print(f"descentlab: error: {error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("descentlab: interrupted", file=sys.stderr)
        return 130
