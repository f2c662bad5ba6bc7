"""The options several subcommands share, written once, and the plain-text table they print.

Option groups — each adds one titled group to a subcommand's parser and returns it (the
subcommand may add its own options to it). Every default is None, meaning "the value of the
configuration or spec", whose defaults the help shows:

- :func:`add_data_options`: ``--dataset``, ``--target``, ``--test-size`` (and ``--test-seed``,
  ``--val-seed`` where validation data is held out, and ``--problem`` for the commands that
  train); read by :func:`dataset_from_args` and :func:`problem_from_args` (``--problems``, a
  list of problems, is parsed by :func:`problem_names`);
- :func:`add_network_options`: ``--layers``, ``--activation``;
- :func:`add_optimizer_options`: ``--optimizer`` or ``--optimizers`` (read by
  :func:`optimizers_from_args`), ``--lr`` (one rate, or a grid with ``--lr-points``),
  ``--schedule``;
- :func:`add_training_options`: ``--epochs``, ``--batch-size`` (one, or a list),
  ``--init``, ``--shuffle``, ``--seed`` or ``--seeds``, and ``--engine`` (every command
  that trains has it: :func:`add_engine_option`);
- :func:`add_parallel_options`: ``--jobs``, ``--backend``, ``--scheduler``; checked by
  :func:`check_parallel` before anything is written;
- :func:`add_output_options`: ``--out``, ``--format``, ``-q``.

Choices come from the library's registries (``nn.ACTIVATIONS``, ``nn.INITIALISERS``,
``training.SHUFFLES``, ``training.ENGINES``, ``experiments.parallel.BACKENDS``), never from a
copy.

The number parsers (argparse ``type=``) check a value's form — ASCII digits, finite numbers,
lists and ``FIRST..LAST`` ranges — and refuse at once what would be absurd to build: more
than ``limits.MAX_SEEDS`` seeds, a seed outside ``[0, 2**32 - 1]``, more than
``limits.MAX_GRID_POINTS`` values. What a value means in context (epochs against the memory
cap, a test size against the data) is checked by the library object it goes into
(:class:`~descentlab.experiments.config.ExperimentConfig`, the sweep and benchmark specs),
before anything is trained or written. A refused value is a one-line error.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from descentlab import limits
from descentlab._validation import SEED, Interval, InvalidParameterError, show
from descentlab.batching import SHUFFLES
from descentlab.experiments.parallel import BACKENDS, check_backend
from descentlab.experiments.specs import DatasetSpec, parse_dataset_spec, parse_optimizer_spec
from descentlab.nn import ACTIVATIONS, INITIALISERS
from descentlab.problems import PROBLEMS, Problem, get_problem
from descentlab.schedules import SCHEDULES
from descentlab.training import ENGINES

__all__ = [
    "add_command",
    "add_data_options",
    "add_engine_option",
    "add_network_options",
    "add_optimizer_options",
    "add_output_options",
    "add_parallel_options",
    "add_training_options",
    "check_option",
    "check_parallel",
    "dataset_from_args",
    "finite_float",
    "format_table",
    "grid_points",
    "holdout_size",
    "int_list",
    "optimizers_from_args",
    "problem_from_args",
    "problem_names",
    "seed",
    "seed_list",
    "whole_number",
]

Group = argparse._ArgumentGroup
_WHOLE = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 100
"""Longer numbers are refused as text (every cap is far shorter; int() of a huge text is slow)."""


# ----------------------------------------------------------------------------- commands


def add_command(
    subparsers: Any,
    name: str,
    summary: str,
    description: str,
    epilog: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Register the subcommand ``name``: its one line in ``descentlab --help`` (``summary``),
    its ``--help`` page (``description``, wrapped to 79 columns, then the ``epilog`` of
    examples as written) and the function that runs it, ``run(args) -> exit status``."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 79),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)
    return parser


# ----------------------------------------------------------------------------- number parsers


def whole_number(text: str) -> int:
    """An int in ASCII digits (``12``, ``-1``); its range is checked where it is used.

    >>> whole_number(" 42 ")
    42
    """
    stripped = text.strip()
    if not _WHOLE.fullmatch(stripped) or len(stripped) > _MAX_DIGITS:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {show(text)}")
    return int(stripped)


def finite_float(text: str) -> float:
    """A finite number in ASCII (``0.01``, ``1e-3``); not ``inf``, ``nan``, nor ``1e999``.

    >>> finite_float("1e-3")
    0.001
    """
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {show(text)}")
    return value


def _in_range(value: int, low: int, high: int, what: str, text: str) -> int:
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high}; got {show(text)}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number in ``[0, 2**32 - 1]`` (:data:`~descentlab._validation.SEED`)."""
    return _in_range(whole_number(text), 0, int(SEED.high), "a seed", text)


def grid_points(text: str) -> int:
    """A number of grid values, from 1 to ``limits.MAX_GRID_POINTS``."""
    return _in_range(whole_number(text), 1, limits.MAX_GRID_POINTS, "the number of values", text)


def holdout_size(text: str) -> float | int:
    """A test set's size: a fraction like ``0.25`` or a number of examples like ``50``."""
    if _WHOLE.fullmatch(text.strip()):
        return whole_number(text)
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.25 or a number of examples, got {show(text)}"
        ) from None


def _items(text: str, what: str) -> list[str]:
    items = [v.strip() for v in text.split(",")]
    if not any(items) or len(items) > limits.MAX_GRID_POINTS:
        raise argparse.ArgumentTypeError(
            f"expected 1 to {limits.MAX_GRID_POINTS} {what} separated by commas, got {show(text)}"
        )
    return [v for v in items if v]


def int_list(text: str) -> tuple[int, ...]:
    """Whole numbers separated by commas (``32,64``), at most ``limits.MAX_GRID_POINTS``.

    >>> int_list("32, 64")
    (32, 64)
    """
    return tuple(whole_number(v) for v in _items(text, "whole numbers"))


def seed_list(text: str) -> tuple[int, ...]:
    """Seeds: a count ``10`` (seeds 0 to 9), a list ``3,7,11`` or a range ``100..109``.

    At most ``limits.MAX_SEEDS`` of them, each in ``[0, 2**32 - 1]``; the range is checked
    before the seeds are made.

    >>> seed_list("3"), seed_list("4,9"), seed_list("100..102")
    ((0, 1, 2), (4, 9), (100, 101, 102))
    """
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        first, last = seed(first_text), seed(last_text)
        if not 1 <= last - first + 1 <= limits.MAX_SEEDS:
            raise argparse.ArgumentTypeError(
                f"expected FIRST..LAST with FIRST <= LAST and at most {limits.MAX_SEEDS} seeds "
                f"(descentlab.limits.MAX_SEEDS), got {show(text)}"
            )
        return tuple(range(first, last + 1))
    if "," not in text:
        count = whole_number(text)
        _in_range(count, 1, limits.MAX_SEEDS, "a number of seeds", text)
        return tuple(range(count))
    return tuple(seed(v) for v in _items(text, "seeds"))  # at most MAX_GRID_POINTS <= MAX_SEEDS


def check_option(flag: str, value: Any, rule: Interval) -> Any:
    """Check an option's value against a library rule; return it.

    For options that go into no library object that checks them.

    >>> check_option("--steps", 0, Interval(1, 10, integer=True))
    Traceback (most recent call last):
    ...
    descentlab._validation.InvalidParameterError: --steps must be an int in the range [1, 10]. Got 0 instead.
    """
    if not rule.contains(value):
        raise InvalidParameterError(f"{flag} must be {rule}. Got {value!r} instead.")
    return value


# ----------------------------------------------------------------------------- option groups


def _default(defaults: Any, name: str) -> str:
    value = getattr(defaults, name)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_data_options(
    parser: argparse.ArgumentParser, *, holdout_seeds: bool = False, problem: bool = False
) -> Group:
    """``--dataset``, ``--target``, ``--test-size``; with ``holdout_seeds`` also
    ``--test-seed`` and ``--val-seed`` (experiments that hold out validation data); with
    ``problem`` also ``--problem`` (:func:`problem_from_args`)."""
    group = parser.add_argument_group("data")
    if problem:
        group.add_argument(
            "--problem",
            metavar="NAME",
            help=f"a problem of the suite ({', '.join(PROBLEMS)}; see descentlab problems): "
            "its data, and its layers, activation, batch size, epochs and learning rate "
            "unless given; not with --dataset",
        )
    group.add_argument(
        "--dataset",
        metavar="NAME|FILE",
        help="built-in name (settings after a colon: moons:n_samples=500,noise=0.3) or a "
        ".csv/.npz file (default: moons, the seed's data)",
    )
    group.add_argument("--target", metavar="COLUMN", help="label column of a CSV file")
    also = " (and as many as the validation set)" if holdout_seeds else ""
    group.add_argument(
        "--test-size",
        type=holdout_size,
        metavar="F",
        help=f"hold out this fraction (or number) of the examples as the test set{also}, "
        "instead of fresh samples of a generated dataset",
    )
    if holdout_seeds:
        group.add_argument(
            "--test-seed", type=seed, metavar="N", help="seed of the test sample/split (default 1)"
        )
        group.add_argument(
            "--val-seed",
            type=seed,
            metavar="N",
            help="seed of the validation sample/split (default: test seed + 1)",
        )
    return group


_DATA_OPTIONS = (
    ("dataset", "--dataset"),
    ("target", "--target"),
    ("test_size", "--test-size"),
    ("test_seed", "--test-seed"),
    ("val_seed", "--val-seed"),
)
"""The options that describe one's own data: a problem fixes its data, so none goes with it."""


def problem_from_args(args: argparse.Namespace) -> Problem | None:
    """The problem ``--problem`` names, or None without it.

    Raises:
      InvalidParameterError: an unknown name (the message lists the suite); ``--problem``
        with an option that describes one's own data (``--dataset``, ``--target``,
        ``--test-size``, ``--test-seed``, ``--val-seed``).
    """
    name = getattr(args, "problem", None)
    if name is None:
        return None
    problem = get_problem(name)
    given = [flag for attr, flag in _DATA_OPTIONS if getattr(args, attr, None) is not None]
    if given:
        raise InvalidParameterError(
            f"--problem {problem.name} fixes its data; {' and '.join(given)} describe"
            f"{'s' if len(given) == 1 else ''} one's own data (give --problem or --dataset, "
            "not both)."
        )
    return problem


def problem_names(text: str) -> tuple[str, ...]:
    """Problems of the suite separated by commas (``mnist1d,digits``), each once, as the
    suite spells them; ``all`` is the whole suite.

    >>> problem_names("MNIST1D, seed_moons")
    ('mnist1d', 'seed-moons')
    """
    if text.strip().lower() == "all":
        return PROBLEMS
    try:
        names = tuple(get_problem(item).name for item in _items(text, "problems"))
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a problem is listed twice in {show(text)}")
    return names


def dataset_from_args(args: argparse.Namespace, base: DatasetSpec) -> DatasetSpec:
    """``base`` with the data options applied (``--dataset`` replaces it; ``--target``,
    ``--test-size`` and ``--test-seed`` change it)."""
    dataset = base
    if args.dataset is not None:
        dataset = parse_dataset_spec(args.dataset, target=args.target)
    elif args.target is not None:
        dataset = dataclasses.replace(dataset, target=args.target)
    if args.test_size is not None:
        dataset = dataclasses.replace(dataset, holdout="split", test_size=args.test_size)
    if getattr(args, "test_seed", None) is not None:
        dataset = dataclasses.replace(dataset, test_seed=args.test_seed)
    return dataset


def add_network_options(parser: argparse.ArgumentParser, defaults: Any) -> Group:
    """``--layers``, ``--activation`` (one of ``nn.ACTIVATIONS``)."""
    group = parser.add_argument_group("network")
    group.add_argument(
        "--layers",
        metavar="N,N",
        help=f"hidden layer sizes (default: {_default(defaults, 'layers')}); the output layer "
        "is added: 1 sigmoid unit for 2 classes, a softmax over n_classes otherwise",
    )
    group.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        help=f"hidden activation (default: {_default(defaults, 'activation')})",
    )
    return group


def add_optimizer_options(
    parser: argparse.ArgumentParser,
    *,
    single: bool = False,
    grid: bool = False,
    schedule: bool = True,
    title: str = "optimizers",
) -> Group:
    """``--optimizer SPEC`` (``single``) or ``--optimizers SPEC`` (repeatable); ``--lr`` — one
    rate, or with ``grid`` a list or range of rates and ``--lr-points``; ``--schedule``."""
    group = parser.add_argument_group(title)
    if single:
        group.add_argument(
            "--optimizer",
            metavar="SPEC",
            help="the optimizer with its settings, e.g. adam:lr=0.01,b1=0.8 (default: adam)",
        )
    else:
        group.add_argument(
            "--optimizers",
            action="append",
            metavar="SPEC",
            help="comma-separated optimizers with settings, e.g. gd,adam:lr=0.001,b1=0.9 "
            "(default: gd,momentum,adam); may be repeated",
        )
    if grid:
        group.add_argument(
            "--lr",
            metavar="VALUES",
            help="learning rates: a list 0.001,0.01 or a range LOW..HIGH[:N] (default: 1e-4..1e-1)",
        )
        group.add_argument(
            "--lr-points",
            type=grid_points,
            metavar="N",
            help=f"values in an --lr range, at most {limits.MAX_GRID_POINTS} (default: 8)",
        )
    else:
        group.add_argument(
            "--lr",
            type=finite_float,
            metavar="ALPHA",
            help="learning rate of every optimizer without its own lr (default: 0.0007)",
        )
    if schedule:
        group.add_argument(
            "--schedule",
            metavar="SPEC",
            help=f"learning-rate schedule, one of {', '.join(SCHEDULES)}, with settings, e.g. "
            "inverse_time:decay_rate=1 (epoch-based schedules count epochs of this dataset)",
        )
    return group


def optimizers_from_args(texts: Sequence[str]) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The ``(name, settings)`` pairs of every ``--optimizers`` value, in order."""
    return tuple(entry for text in texts for entry in parse_optimizer_spec(text))


def add_training_options(
    parser: argparse.ArgumentParser, defaults: Any, *, seeds: str | None = None
) -> Group:
    """``--epochs``, ``--batch-size`` (a list where ``defaults`` has ``batch_sizes``),
    ``--init``, ``--shuffle``, ``--engine`` and, with ``seeds="one"``, ``--seed N`` or, with
    ``seeds="many"``, ``--seeds N|LIST``."""
    group = parser.add_argument_group("training")
    group.add_argument(
        "--epochs",
        type=whole_number,
        metavar="N",
        help=f"epochs, at most {limits.MAX_EPOCHS} (default: {_default(defaults, 'epochs')})",
    )
    if hasattr(defaults, "batch_sizes"):
        group.add_argument(
            "--batch-size",
            type=int_list,
            metavar="N[,N]",
            help=f"mini-batch size(s), each a population (default: "
            f"{_default(defaults, 'batch_sizes')})",
        )
    else:
        group.add_argument(
            "--batch-size",
            type=whole_number,
            metavar="N",
            help=f"mini-batch size (default: {_default(defaults, 'batch_size')})",
        )
    group.add_argument(
        "--init",
        choices=INITIALISERS,
        help=f"weight initialisation (default: {_default(defaults, 'init')}; seed is the "
        "seed's He initialisation)",
    )
    group.add_argument(
        "--shuffle",
        choices=SHUFFLES,
        help=f"data order each epoch (default: {_default(defaults, 'shuffle')}; seed is the "
        "seed's order)",
    )
    if seeds == "one":
        group.add_argument(
            "--seed",
            type=seed,
            metavar="N",
            help="seed of the initial weights and of the data order (default: the seed's 3 and 10)",
        )
    elif seeds == "many":
        group.add_argument(
            "--seeds",
            type=seed_list,
            metavar="N|LIST",
            help=f"seeds per configuration: a count (10: seeds 0..9), a list or FIRST..LAST, "
            f"at most {limits.MAX_SEEDS} (default: 10)",
        )
    add_engine_option(group)
    return group


def add_engine_option(group: Group | argparse.ArgumentParser) -> None:
    """``--engine`` (one of ``training.ENGINES``; None: the configuration's, else ``auto``).

    The engines give the same numbers (to 1e-12); only the speed differs."""
    group.add_argument(
        "--engine",
        choices=ENGINES,
        help="training engine (default: auto); auto: compiled when it covers the "
        "configuration and pays, else numpy (says why where compiled could have paid)",
    )


def add_diagnostics_option(group: Group | argparse.ArgumentParser) -> None:
    """``--diagnostics``: measure the training diagnostics (:mod:`descentlab.diagnostics`)
    at every evaluation (``--eval-every``)."""
    group.add_argument(
        "--diagnostics",
        action="store_true",
        help="measure training diagnostics at every evaluation (--eval-every): gradient "
        "norm, update/parameter ratio per layer, sharpness against 2/lr (Adam: its "
        "preconditioned threshold), gradient noise scale; extra diag_* columns in history.csv",
    )


def add_parallel_options(parser: argparse.ArgumentParser) -> Group:
    """``--jobs``, ``--backend`` (one of ``experiments.parallel.BACKENDS``), ``--scheduler``."""
    group = parser.add_argument_group("parallel")
    group.add_argument(
        "--jobs",
        type=whole_number,
        default=1,
        metavar="N",
        help="local worker processes (-1: one per CPU; default: 1)",
    )
    group.add_argument("--backend", choices=BACKENDS, default="local", help="where populations run")
    group.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://scheduler-host:8786"
    )
    return group


def check_parallel(args: argparse.Namespace) -> None:
    """Refuse a bad ``--jobs``, ``--backend dask`` without ``--scheduler`` or a scheduler
    without dask, before anything is written."""
    check_backend(args.backend, args.jobs, args.scheduler)


def add_output_options(
    parser: argparse.ArgumentParser,
    *,
    out: str,
    metavar: str = "DIR",
    required: bool = False,
    formats: bool = True,
    title: str = "output",
) -> Group:
    """``--out`` (``out`` is its help, ``metavar`` its placeholder), ``--format table|json``
    (with ``formats``) and ``-q``/``--quiet``."""
    group = parser.add_argument_group(title)
    group.add_argument("--out", metavar=metavar, required=required, help=out)
    if formats:
        group.add_argument(
            "--format",
            choices=("table", "json"),
            default="table",
            help="print a table (default) or the results as JSON on stdout",
        )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no messages on stderr"
    )
    return group


# ----------------------------------------------------------------------------- the table


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)
) -> str:
    """A plain-text table: the columns ``left`` left-aligned, the others (numbers) right-aligned.

    >>> print(format_table(["optimizer", "acc"], [["gd", "0.7967"], ["adam", "0.9400"]]))
    optimizer     acc
    gd         0.7967
    adam       0.9400
    """
    widths = [max(len(str(r[j])) for r in [header, *rows]) for j in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if j in left else str(c).rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
