"""The ``descentlab`` command: one subcommand per module of this package.

Each subcommand module ``descentlab.cli.<name>`` has ``add_parser(subparsers)``, which adds its
parser and sets ``func=run`` with ``run(args) -> int``; the options several subcommands
share are defined once in :mod:`descentlab.cli.options`. :func:`main` never shows a traceback:

- a malformed option (argparse's usage errors included) and every error descentlab raises on
  purpose (bad data, bad settings, unreadable files) is one line on stderr,
  ``descentlab: error: <message>``, and exit status 2;
- Ctrl-C stops a command cleanly (partial results kept, exit status 130), and SIGTERM does
  the same (exit status 143): it is turned into the same ``KeyboardInterrupt``;
- anything else is a bug: one line ``descentlab: internal error: <Type>: <message> (please
  report it; ...)`` and exit status 70 (``EX_SOFTWARE``); with ``DESCENTLAB_DEBUG=1`` in the
  environment the traceback is printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import NoReturn

from descentlab import __version__
from descentlab._validation import DescentLabError

__all__ = ["INTERNAL_ERROR", "UsageError", "build_parser", "error_message", "main"]

INTERNAL_ERROR = 70
"""The exit status of a bug (``EX_SOFTWARE`` of BSD's sysexits.h)."""

SUBCOMMANDS = (
    "compare",
    "train",
    "predict",
    "report",
    "datasets",
    "problems",
    "trajectories",
    "landscape",
    "lr_find",
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
  descentlab problems                 the problem suite: data, network, budget, target
  descentlab compare --problem mnist1d --optimizers sgd:momentum=0.9,adam --lr 0.01

Run 'descentlab <command> --help' for a command's options and examples.
"""


class UsageError(Exception):
    """A malformed command line (argparse's usage error), raised instead of exiting."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (:class:`UsageError` for ``main``)
    rather than the usage text and ``sys.exit(2)``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = _Parser(
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

    0 on success, 2 on bad input (one line on stderr), 130 on Ctrl-C, 143 on SIGTERM, 70 on
    a bug (one line; the traceback too with ``DESCENTLAB_DEBUG=1``).
    """
    with _sigterm_as_interrupt() as terminated:
        status = _run(argv)
    return 143 if terminated and status == 130 else status


def _run(argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the subcommand, turning every exception into an exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        return int(args.func(args))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    except UsageError as exc:
        _say(f"error: {error_message(exc)} (see '{_command(exc.prog, argv)} --help')")
        return 2
    except BrokenPipeError:  # e.g. `descentlab datasets | head -1`
        return 0
    except (DescentLabError, OSError) as exc:
        _say(f"error: {error_message(exc)}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:  # a bug: one line, not a traceback (unless asked for)
        if os.environ.get("DESCENTLAB_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        _say(
            f"internal error: {type(exc).__name__}: {error_message(exc)} (please report it; "
            "set DESCENTLAB_DEBUG=1 to see the traceback)"
        )
        return INTERNAL_ERROR


def _command(prog: str, argv: Sequence[str] | None) -> str:
    """The command whose help a usage error points to: the subcommand in ``argv`` if any
    (argparse reports an unknown option of a subcommand as the top-level parser's)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if prog == "descentlab":
        named = [w for w in words if w.replace("-", "_") in SUBCOMMANDS]
        return f"descentlab {named[0]}" if named else prog
    return prog


def _say(text: str) -> None:
    print(f"descentlab: {text}", file=sys.stderr, flush=True)
