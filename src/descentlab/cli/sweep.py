"""``descentlab sweep``: a grid (or random search) over hyperparameters × seeds.

Compatible configurations (same batch size, epochs, architecture) are trained as ONE
population of networks, several populations in parallel worker processes (``--jobs``) or on
a Dask cluster (``--backend dask --scheduler tcp://HOST:PORT``). Writes results.csv (one
row per configuration and seed), summary.csv and plots; ``--resume`` continues an
interrupted sweep. See :mod:`descentlab.experiments.sweep`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from pathlib import Path
from typing import Any

from descentlab._validation import InvalidParameterError

__all__ = ["add_parser", "run", "spec_from_args"]

EPILOG = """\
examples:
  descentlab sweep --out runs/lr-sweep
      gd, momentum, adam × 8 learning rates from 1e-4 to 1e-1 × 10 seeds, 1000 epochs
  descentlab sweep --dataset moons --optimizers gd,momentum,adam --lr 1e-4..1e-1 \\
      --lr-points 8 --seeds 10 --epochs 1000 --jobs 2 --out runs/lr-sweep
  descentlab sweep --optimizers adam --lr 1e-3..1e-1:5 --param b1=0.5,0.8,0.9,0.99 --out DIR
      a 5 x 4 grid: heatmap_adam.png shows the median validation accuracy
  descentlab sweep --optimizers adam,rmsprop --lr 1e-4..1 --random 30 --out DIR
      30 random configurations per optimizer (log-uniform learning rate)
  descentlab sweep --schedule exponential --param schedule.gamma=0.9..0.999:4 --out DIR
  descentlab sweep --resume --out runs/lr-sweep
      continue an interrupted sweep (finished runs are kept, never recomputed)
  descentlab sweep --backend dask --scheduler tcp://scheduler-host:8786 --out DIR
      the same sweep on a Dask cluster (identical results; see docs/sweep.md)

values: a list 0.001,0.01,0.1 or a range LOW..HIGH[:N][:log|:lin] (geometric when both
  ends are > 0). --param NAME=VALUES searches any hyperparameter of the optimizers that have
  it (OPTIMIZER.NAME for one optimizer, schedule.NAME for the schedule's settings).
validation/test data: fresh samples of a generated dataset (seeds --val-seed and
  --test-seed), or a stratified split of fixed data; the learning rate is chosen on the
  validation data, the test data only reports.
"""

_SPEC_OPTIONS = (
    "dataset",
    "target",
    "test_size",
    "test_seed",
    "val_seed",
    "optimizers",
    "lr",
    "lr_points",
    "param",
    "schedule",
    "batch_size",
    "epochs",
    "layers",
    "activation",
    "init",
    "shuffle",
    "seeds",
    "random",
    "search_seed",
    "chunk_size",
)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
    return values


def _seeds(text: str) -> tuple[int, ...]:
    """``10`` → seeds 0..9; ``3,7,11`` → those seeds; ``100..109`` → 100 to 109."""
    if ".." in text:
        lo, hi = text.split("..", 1)
        try:
            return tuple(range(int(lo), int(hi) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected FIRST..LAST seeds, got {text!r}") from None
    values = _ints(text)
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"expected a number of seeds >= 1, got {text!r}")
        return tuple(range(values[0]))
    return values


def _test_size(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a fraction like 0.25 or a number of examples, got {text!r}"
            ) from None


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The options that define a sweep (every default None: the stored or default value)."""
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", metavar="NAME|FILE", help="as for compare (default: moons, the seed's data)"
    )
    data.add_argument("--target", metavar="COLUMN", help="label column of a CSV file")
    data.add_argument(
        "--test-size",
        type=_test_size,
        metavar="F",
        help="split fixed data: this fraction (or number) is the test set, as many examples "
        "the validation set",
    )
    data.add_argument(
        "--test-seed", type=int, metavar="N", help="seed of the test sample/split (default 1)"
    )
    data.add_argument(
        "--val-seed",
        type=int,
        metavar="N",
        help="seed of the validation sample/split (default: test seed + 1)",
    )
    grid = p.add_argument_group("search")
    grid.add_argument(
        "--optimizers",
        action="append",
        metavar="SPEC",
        help="optimizers with fixed settings, e.g. gd,momentum,adam:b2=0.99 "
        "(default: gd,momentum,adam)",
    )
    grid.add_argument(
        "--lr",
        metavar="VALUES",
        help="learning rates: a list or LOW..HIGH (default: 1e-4..1e-1)",
    )
    grid.add_argument(
        "--lr-points", type=int, metavar="N", help="values in an --lr range (default: 8)"
    )
    grid.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUES",
        help="search another setting, e.g. b1=0.8,0.9,0.99 or adam.eps=1e-8..1e-4:3 or "
        "schedule.gamma=0.9..0.999:4; may be repeated",
    )
    grid.add_argument("--schedule", metavar="SPEC", help="a learning-rate schedule for every run")
    grid.add_argument(
        "--random",
        type=int,
        metavar="N",
        help="random search: N configurations per optimizer instead of the full grid",
    )
    grid.add_argument("--search-seed", type=int, metavar="N", help="seed of --random (default 0)")
    grid.add_argument(
        "--seeds",
        type=_seeds,
        metavar="N|LIST",
        help="seeds per configuration: a count (10: seeds 0..9), a list or FIRST..LAST "
        "(default: 10)",
    )
    net = p.add_argument_group("training")
    net.add_argument(
        "--batch-size", type=_ints, metavar="N[,N]", help="mini-batch size(s) (default: 64)"
    )
    net.add_argument("--epochs", type=int, metavar="N", help="epochs (default: 1000)")
    net.add_argument("--layers", metavar="N,N", help="hidden layer sizes (default: 5,2)")
    net.add_argument(
        "--activation", choices=("relu", "tanh", "leaky_relu", "sigmoid"), help="hidden activation"
    )
    net.add_argument(
        "--init", choices=("he", "xavier", "seed"), help="weight initialisation (default: he)"
    )
    net.add_argument(
        "--shuffle",
        choices=("random", "seed", "none"),
        help="data order (default: random, seeded by the run's seed)",
    )
    net.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="at most N runs per population, the unit of parallel work and of --resume "
        "(default: 128)",
    )


def spec_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~descentlab.experiments.sweep_space.SweepSpec` the options describe."""
    from descentlab.experiments.specs import (
        parse_dataset_spec,
        parse_layers,
        parse_optimizer_spec,
        parse_schedule_spec,
    )
    from descentlab.experiments.sweep_space import SweepSpec, parse_axis

    base = SweepSpec()
    changes: dict[str, Any] = {}
    dataset = base.dataset
    if args.dataset is not None:
        dataset = parse_dataset_spec(args.dataset, target=args.target)
    elif args.target is not None:
        dataset = dataclasses.replace(dataset, target=args.target)
    if args.test_size is not None:
        dataset = dataclasses.replace(dataset, holdout="split", test_size=args.test_size)
    if args.test_seed is not None:
        dataset = dataclasses.replace(dataset, test_seed=args.test_seed)
    changes["dataset"] = dataset
    if args.optimizers:
        changes["optimizers"] = tuple(
            (name, settings)
            for text in args.optimizers
            for name, settings in parse_optimizer_spec(text)
        )
    lr_points = 8 if args.lr_points is None else args.lr_points
    lr_text = "1e-4..1e-1" if args.lr is None else args.lr
    fixes_lr = "optimizers" in changes and all(
        "learning_rate" in s for _, s in changes["optimizers"]
    )
    axes = (
        []
        if (args.lr is None and fixes_lr)
        else [parse_axis(f"lr={lr_text}", points=lr_points, what="--lr")]
    )
    axes += [parse_axis(text) for text in args.param or ()]
    changes["axes"] = tuple(axes)
    if args.schedule is not None:
        changes["schedule"] = parse_schedule_spec(args.schedule)
    if args.layers is not None:
        changes["layers"] = parse_layers(args.layers)
    if args.batch_size is not None:
        changes["batch_sizes"] = args.batch_size
    for name in (
        "epochs",
        "activation",
        "init",
        "shuffle",
        "seeds",
        "random",
        "search_seed",
        "val_seed",
        "chunk_size",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(base, **changes)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab sweep``."""
    p = subparsers.add_parser(
        "sweep",
        help="grid or random search over hyperparameters × seeds, trained as populations",
        description=textwrap.fill(
            "Train every configuration of a grid (or a random search) with several seeds. "
            "Compatible configurations form one population trained in lock-step; populations "
            "run in parallel worker processes or on a Dask cluster. Writes results.csv (one "
            "row per configuration and seed), summary.csv and plots; --resume continues an "
            "interrupted sweep.",
            79,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sweep_arguments(p)
    run_group = p.add_argument_group("running")
    run_group.add_argument("--out", metavar="DIR", required=True, help="the sweep folder")
    run_group.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep stored in --out (other options may be left out)",
    )
    run_group.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="local worker processes (-1: all CPUs)"
    )
    run_group.add_argument(
        "--backend", choices=("local", "dask"), default="local", help="where populations run"
    )
    run_group.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://scheduler-host:8786"
    )
    run_group.add_argument("--no-plots", action="store_true", help="skip the plots")
    run_group.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no messages on stderr"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab sweep``; 0 when done, 130 when interrupted (finished runs are kept)."""
    from descentlab.cli.compare import format_table
    from descentlab.experiments.sweep import run_sweep

    given = [name for name in _SPEC_OPTIONS if getattr(args, name, None) is not None]
    spec = spec_from_args(args) if (given or not args.resume) else None
    if args.backend != "dask" and args.scheduler is not None:
        raise InvalidParameterError("--scheduler applies only to --backend dask.")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = run_sweep(
        spec,
        Path(args.out),
        resume=args.resume,
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        plots=not args.no_plots,
        log=None if args.quiet else log,
    )
    if result.status == "interrupted":
        return 130
    best = _best_per_optimizer(result.out_dir)
    if best:
        print(format_table(*best))
    print(f"\nSweep folder: {result.out_dir}  ({', '.join(result.files)})")
    return 0


def _best_per_optimizer(out: Path) -> tuple[list[str], list[list[str]]] | None:
    """Per optimizer, the configuration with the best median validation accuracy."""
    import csv

    path = out / "summary.csv"
    if not path.exists() or not path.stat().st_size:
        return None
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    best: dict[str, dict[str, str]] = {}
    for r in rows:
        o = r["optimizer"]
        if o not in best or float(r["val_accuracy_median"]) > float(best[o]["val_accuracy_median"]):
            best[o] = r
    header = ["optimizer", "best lr", "val acc (median)", "test acc (median)", "diverged"]
    table = [
        [
            o,
            f"{float(r['learning_rate']):.3g}",
            f"{float(r['val_accuracy_median']):.4f}",
            f"{float(r['test_accuracy_median']):.4f}",
            f"{r['n_diverged']}/{r['n_seeds']}",
        ]
        for o, r in best.items()
    ]
    return header, table
