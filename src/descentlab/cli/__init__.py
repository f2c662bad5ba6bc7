"""The ``descentlab`` command: one subcommand per module of this package.

Each subcommand module ``descentlab.cli.<name>`` has ``add_parser(subparsers)``, which adds its
parser and sets ``func=run`` with ``run(args) -> int``. :func:`main` turns every error that
descentlab raises on purpose (bad data, bad settings, unreadable files) into one line on
stderr, ``descentlab: error: <message>``, and exit status 2 — never a traceback. Ctrl-C
stops a command cleanly (partial results kept, exit status 130), and SIGTERM does the same
(exit status 143): it is turned into the same ``KeyboardInterrupt``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

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
"""Subcommand modules, in help order: each ``cli/<name>.py`` registers itself with
``add_parser``."""

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


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled exactly like Ctrl-C (partial results kept, workers stopped)."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[list[int]]:
    """While a command runs, SIGTERM raises :class:`Terminated` in the main thread."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_sigterm(signum: int, frame: object) -> None:
        received.append(signum)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``descentlab`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success, 2 on bad input (one line on stderr), 130 on Ctrl-C, 143 on SIGTERM.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (status 2)
        return int(exc.code or 0)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    with _sigterm_as_interrupt() as terminated:
        try:
            status = int(args.func(args))
        except BrokenPipeError:  # e.g. `descentlab datasets | head -1`
            return 0
        except (DescentLabError, OSError) as exc:
            print(f"descentlab: error: {error_message(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("descentlab: interrupted", file=sys.stderr)
            status = 130
    return 143 if terminated and status == 130 else status
