"""``descentlab benchmark``: the tuned comparison — each optimizer at its best setting.

Two protocols, selected by ``--problems``:

- without it, one dataset (default: the seed's problem): pick the learning rate with the best
  mean validation accuracy over the tuning seeds, then report test accuracy and cost as mean ±
  std over fresh seeds, beside the untuned seed setting (alpha = 0.0007)
  (:mod:`descentlab.experiments.benchmark`);
- with ``--problems``, the field's protocol on problems of the suite: random-search tuning
  budgets, reruns on fresh seeds, time to target and performance profiles
  (:mod:`descentlab.experiments.protocol`); ``--resume`` continues one, ``--replot DIR``
  redraws one from its files.

Both print a table and write a folder with report.html.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from descentlab import limits
from descentlab._validation import InvalidParameterError
from descentlab.cli.options import (
    add_command,
    add_data_options,
    add_network_options,
    add_optimizer_options,
    add_output_options,
    add_parallel_options,
    add_training_options,
    check_parallel,
    dataset_from_args,
    finite_float,
    format_table,
    optimizers_from_args,
    problem_names,
    seed,
    seed_list,
    whole_number,
)
from descentlab.experiments.benchmark import BenchmarkSpec

if TYPE_CHECKING:
    from descentlab.experiments.protocol_spec import ProtocolSpec

__all__ = ["add_parser", "protocol_spec_from_args", "rerun_seeds", "run", "spec_from_args"]

EPILOG = """\
examples:
  descentlab benchmark
      the seed's problem (moons, [2, 5, 2, 1], batches of 64, 10000 epochs): gd, momentum
      and adam, each tuned over 8 learning rates from 1e-4 to 1e-1 on 5 seeds, then measured
      on 10 fresh seeds beside the untuned lr 0.0007
  descentlab benchmark --epochs 2000 --jobs 2 --out runs/bench
  descentlab benchmark --optimizers sgd:momentum=0.9,nesterov=true,rmsprop,adam \\
      --lr 1e-4..1:9 --tune-seeds 5 --eval-seeds 100..119
  descentlab benchmark --dataset breast_cancer --layers 16 --epochs 300
  descentlab benchmark --backend dask --scheduler tcp://scheduler-host:8786

the protocol (--problems; see docs/benchmark.md):
  descentlab benchmark --problems mnist1d,digits,seed-moons --out runs/protocol
      sgd, momentum and adam, 8 random-search trials each per problem (Crowded Valley search
      spaces), the best rerun on 3 fresh seeds; time to target and performance profiles
  descentlab benchmark --problems all --optimizers sgd,momentum,nesterov,adam,adamw \\
      --budget 20 --seeds 10 --jobs 2 --out runs/protocol
  descentlab benchmark --resume --out runs/protocol
      continue an interrupted protocol (finished populations are kept)
  descentlab benchmark --replot runs/protocol
      redraw the table, plots and report from results.csv (nothing is trained)
"""


SUMMARY = "tuned comparison: best setting per optimizer, mean ± std over fresh seeds"

DESCRIPTION = (
    "Tune each optimizer's learning rate on validation data (grid × tuning seeds), "
    "then report its test accuracy and cost as mean ± std over fresh seeds, beside "
    "the untuned seed setting (lr 0.0007). Default: the seed's problem. With --problems, "
    "the benchmark protocol on problems of the suite instead: random-search tuning "
    "budgets, reruns of the best setting on fresh seeds, time to each problem's "
    "validation target and performance profiles across problems. Prints a table and "
    "writes a folder with report.html."
)

_SINGLE_ONLY = (
    ("dataset", "--dataset"),
    ("target", "--target"),
    ("test_size", "--test-size"),
    ("test_seed", "--test-seed"),
    ("val_seed", "--val-seed"),
    ("lr", "--lr"),
    ("lr_points", "--lr-points"),
    ("untuned_lr", "--untuned-lr"),
    ("tune_seeds", "--tune-seeds"),
    ("eval_seeds", "--eval-seeds"),
    ("layers", "--layers"),
    ("activation", "--activation"),
    ("batch_size", "--batch-size"),
    ("init", "--init"),
    ("shuffle", "--shuffle"),
)
"""Options of the single-dataset benchmark that the protocol's problems fix."""

_PROTOCOL_SPEC = (
    ("problems", "--problems"),
    ("optimizers", "--optimizers"),
    ("budget", "--budget"),
    ("seeds", "--seeds"),
    ("seed", "--seed"),
    ("epochs", "--epochs"),
    ("chunk_size", "--chunk-size"),
)
"""The options that describe a protocol (with --resume, none of them is needed)."""


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab benchmark``."""
    p = add_command(subparsers, "benchmark", SUMMARY, DESCRIPTION, EPILOG, run)
    defaults = BenchmarkSpec()
    add_data_options(p, holdout_seeds=True)
    tuning = add_optimizer_options(p, grid=True, schedule=False, title="tuning")
    tuning.add_argument(
        "--untuned-lr",
        type=finite_float,
        metavar="ALPHA",
        help=f"the untuned setting measured beside (default: the seed's {defaults.untuned_lr})",
    )
    tuning.add_argument(
        "--tune-seeds",
        type=seed_list,
        metavar="N|LIST",
        help="tuning seeds (default: 5, i.e. 0..4)",
    )
    tuning.add_argument(
        "--eval-seeds",
        type=seed_list,
        metavar="LIST",
        help="fresh seeds for the measurement (default: 100..109)",
    )
    add_network_options(p, defaults)
    add_training_options(p, defaults)
    add_protocol_options(p)
    add_parallel_options(p)
    add_output_options(p, out="output folder (default: runs/benchmark-<time>)")


def rerun_seeds(text: str) -> int | tuple[int, ...]:
    """``--seeds``: a count ``N`` (the N seeds right after the tuning seeds), or the seeds
    themselves, a list ``100,101`` or a range ``100..109`` (``42..42`` for one seed).

    >>> rerun_seeds("3"), rerun_seeds("100..102")
    (3, (100, 101, 102))
    """
    if "," in text or ".." in text:
        return seed_list(text)
    count = whole_number(text)
    if not 1 <= count <= limits.MAX_SEEDS:
        raise argparse.ArgumentTypeError(
            f"a number of seeds must be from 1 to {limits.MAX_SEEDS}; got {text!r:.40}"
        )
    return count


def add_protocol_options(parser: argparse.ArgumentParser) -> None:
    """The options of the benchmark protocol (``--problems`` selects it)."""
    from descentlab.experiments.protocol_spec import (
        DEFAULT_BUDGET,
        DEFAULT_OPTIMIZERS,
        DEFAULT_SEEDS,
    )

    group = parser.add_argument_group("protocol (the problem suite)")
    group.add_argument(
        "--problems",
        type=problem_names,
        metavar="NAMES",
        help="run the benchmark protocol on these problems of the suite, e.g. "
        "mnist1d,digits,seed-moons (all: every problem; see descentlab problems); optimizers "
        f"default to {','.join(n for n, _ in DEFAULT_OPTIMIZERS)}",
    )
    group.add_argument(
        "--budget",
        type=whole_number,
        metavar="N",
        help=f"random-search trials per optimizer and problem (default: {DEFAULT_BUDGET})",
    )
    group.add_argument(
        "--seeds",
        type=rerun_seeds,
        metavar="N|LIST",
        help=f"rerun seeds of the best setting: a count (the seeds after the tuning seeds; "
        f"default {DEFAULT_SEEDS}) or FIRST..LAST or a list, apart from the tuning seeds",
    )
    group.add_argument(
        "--seed",
        type=seed,
        metavar="N",
        help="seed of the search's draws; trial i trains with seed N + i (default: 0)",
    )
    group.add_argument(
        "--chunk-size",
        type=whole_number,
        metavar="N",
        help="at most N trials per population (default: 64)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the protocol stored in --out (other options may be left out)",
    )
    group.add_argument(
        "--replot",
        metavar="DIR",
        help="redraw the table, plots and report of the finished protocol in DIR from its "
        "results.csv (nothing is trained)",
    )


def spec_from_args(args: argparse.Namespace) -> BenchmarkSpec:
    """The :class:`~descentlab.experiments.benchmark.BenchmarkSpec` the options describe."""
    from descentlab.experiments.specs import parse_layers
    from descentlab.experiments.sweep_space import parse_axis

    base = BenchmarkSpec()
    changes: dict[str, Any] = {"dataset": dataset_from_args(args, base.dataset)}
    if args.optimizers:
        changes["optimizers"] = optimizers_from_args(args.optimizers)
    if args.lr is not None or args.lr_points is not None:
        text = "1e-4..1e-1" if args.lr is None else args.lr
        points = 8 if args.lr_points is None else args.lr_points
        changes["learning_rates"] = parse_axis(f"lr={text}", points=points, what="--lr")
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    copied = (
        "untuned_lr",
        "tune_seeds",
        "eval_seeds",
        "epochs",
        "batch_size",
        "activation",
        "init",
        "shuffle",
        "val_seed",
    )
    for name in copied:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab benchmark``; 0 when done, 130 when interrupted."""
    if args.replot is not None:
        return _replot(args)
    given = [flag for name, flag in _PROTOCOL_SPEC[2:] if getattr(args, name) is not None]
    if args.problems is not None or args.resume:
        return _protocol(args)
    if [f for f in given if f != "--epochs"] or args.chunk_size is not None:
        flag = next(f for f in [*given, "--chunk-size"] if f != "--epochs")
        raise InvalidParameterError(
            f"{flag} belongs to the benchmark protocol: give --problems too (or --resume)."
        )
    return _single(args)


def _single(args: argparse.Namespace) -> int:
    """The single-dataset benchmark (no ``--problems``)."""
    from descentlab.experiments.benchmark import run_benchmark, table
    from descentlab.experiments.run_folder import default_run_path

    spec = spec_from_args(args)
    check_parallel(args)
    out = Path(args.out) if args.out else default_run_path("benchmark")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    results = run_benchmark(
        spec,
        out,
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        log=None if args.quiet else log,
        engine=args.engine or "auto",
    )
    if args.format == "json":
        sys.stdout.write(json.dumps({**results, "report": str(out / "report.html")}, indent=2))
        sys.stdout.write("\n")
        return 0
    ds = results["dataset"]
    print(
        f"{ds['name']}: {ds['n_train']} training / {ds['n_val']} validation / {ds['n_test']} "
        f"test examples, layer_dims {results['layer_dims']}, {spec.epochs} epochs; test "
        f"metrics are mean ± std over {len(spec.eval_seeds)} fresh seeds"
    )
    print()
    print(format_table(*table(results)))
    print()
    print(f"Report: {out / 'report.html'}")
    return 0


# ----------------------------------------------------------------------------- the protocol


def protocol_spec_from_args(args: argparse.Namespace) -> ProtocolSpec | None:
    """The :class:`~descentlab.experiments.protocol_spec.ProtocolSpec` the options describe;
    None for ``--resume`` without any of them (the stored spec).

    Raises:
      InvalidParameterError: an option of the single-dataset benchmark (the problems fix
        data, network, batch size and budget).
    """
    from descentlab.experiments.protocol_spec import ProtocolSpec

    wrong = [flag for name, flag in _SINGLE_ONLY if getattr(args, name, None) is not None]
    if wrong:
        raise InvalidParameterError(
            f"{wrong[0]} does not apply to the benchmark protocol (--problems): each problem "
            "fixes its data, network, batch size and budget."
        )
    given = {name: getattr(args, name) for name, _ in _PROTOCOL_SPEC}
    given = {k: v for k, v in given.items() if v is not None}
    if args.resume and not given:
        return None
    if "optimizers" in given:
        given["optimizers"] = optimizers_from_args(given["optimizers"])
    return ProtocolSpec(**given)


def _protocol(args: argparse.Namespace) -> int:
    """Run (or resume) the benchmark protocol; print its tables."""
    from descentlab.experiments.protocol import run_protocol
    from descentlab.experiments.run_folder import default_run_path

    if args.resume and not args.out:
        raise InvalidParameterError(
            "--resume needs --out: the folder of the benchmark to continue."
        )
    spec = protocol_spec_from_args(args)
    check_parallel(args)
    out = Path(args.out) if args.out else default_run_path("benchmark")
    result = run_protocol(
        spec,
        out,
        resume=args.resume,
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        log=None if args.quiet else _log,
        engine=args.engine or "auto",
    )
    if result.status == "interrupted":
        return 130
    assert result.summary is not None
    _print_protocol(args, result.summary, result.out_dir)
    return 0


def _replot(args: argparse.Namespace) -> int:
    """Redraw a finished protocol's outputs from its files."""
    from descentlab.experiments.protocol_report import replot

    given = [
        flag
        for name, flag in (*_PROTOCOL_SPEC, *_SINGLE_ONLY)
        if getattr(args, name, None) is not None
    ]
    given += [f for f, on in (("--resume", args.resume), ("--out", args.out)) if on]
    if given:
        raise InvalidParameterError(
            f"--replot redraws a finished benchmark from its files; {given[0]} does not apply."
        )
    summary, _ = replot(args.replot)
    _print_protocol(args, summary, Path(args.replot))
    return 0


def _print_protocol(args: argparse.Namespace, summary: dict[str, Any], out: Path) -> None:
    from descentlab.experiments.protocol_report import jsonable, scores_table, table

    if args.format == "json":
        report = str(out / "report.html")
        sys.stdout.write(json.dumps({**jsonable(summary), "report": report}, indent=2) + "\n")
        return
    print(format_table(*table(summary), left=(0, 1, 2)))
    print()
    print(format_table(*scores_table(summary)))
    print()
    print(f"Report: {out / 'report.html'}")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
