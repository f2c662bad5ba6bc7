"""``descentlab trajectories``: draw optimizer paths on a 2-D test function (or the SGD picture).

Examples::

    descentlab trajectories --function rosenbrock --optimizers gd,momentum,adam
    descentlab trajectories --function quadratic:condition_number=50 \\
        --optimizers "gd,adam:lr=0.3,b1=0.8" --steps 80 --start=-9,4 --animate
    descentlab trajectories --noise --lr 0.1 --steps 150

Settings after a name follow the ``name:key=value,key=value`` syntax (:func:`parse_spec`);
``lr`` is short for ``learning_rate``. Bad input raises the errors of
:mod:`descentlab._validation`; the main CLI prints them as one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from descentlab import limits
from descentlab._validation import COUNT, LEARNING_RATE, Interval, InvalidParameterError
from descentlab.cli.options import (
    add_command,
    check_option,
    finite_float,
    format_table,
    seed,
    whole_number,
)
from descentlab.experiments.specs import (
    build_learning_rate,
    parse_optimizer_spec,
    parse_schedule_spec,
    parse_spec,
)
from descentlab.io import check_writable
from descentlab.optimizers import get_optimizer
from descentlab.schedules import SCHEDULES
from descentlab.surfaces import SURFACES, Surface, get_surface

__all__ = ["ADAPTIVE", "OWN_RATE", "add_parser", "default_learning_rate", "parse_point", "run"]

ADAPTIVE = frozenset(
    {"rmsprop", "adagrad", "adam", "adamw", "nadam", "nadamw", "adamax", "lion",
     "schedule_free_adamw", "rprop"}
)  # fmt: skip
"""Optimizers whose step is about ``lr`` per coordinate whatever the gradient's scale; they
get ``surface.adaptive_lr``. Lion's and Rprop's steps are exactly that at first (a sign times
``lr``; the 2-D functions give Rprop the full-batch gradients it needs, and it then adapts
each step size itself); schedule-free AdamW's base step is Adam's.

Not here, by measurement: ``radam``, whose first steps (while ``rho_t <= 5``) are momentum
SGD steps ``lr * v_hat``, so it needs gd's rate ``surface.lr`` (at ``adaptive_lr`` it
diverges on rosenbrock and beale); ``schedule_free_sgd``, whose base step is gd's; and
``adadelta`` (:data:`OWN_RATE`)."""

OWN_RATE = {"adadelta": 1.0}
"""Optimizers whose rate does not follow the function's scale: Adadelta's step is
``sqrt(a + eps) / sqrt(s + eps) * dW`` times ``lr``, unit-free, with the reference rate 1.0
(Zeiler 2012; PyTorch's default)."""


def default_learning_rate(name: str, surface: Surface) -> float:
    """The rate of optimizer ``name`` on ``surface`` when neither ``--lr`` nor its own ``lr=`` is
    given: :data:`OWN_RATE`, else ``surface.adaptive_lr`` for :data:`ADAPTIVE`, else
    ``surface.lr`` (gd's)."""
    if name in OWN_RATE:
        return OWN_RATE[name]
    return surface.adaptive_lr if name in ADAPTIVE else surface.lr


def parse_point(text: str, what: str = "--start") -> tuple[float, float]:
    """Parse ``"X,Y"`` into two finite floats (write ``--start=-1.5,2`` for a negative x).

    >>> parse_point("-1.5, 2")
    (-1.5, 2.0)
    """
    parts = [p.strip() for p in str(text).split(",")]
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        x = y = math.nan
    if len(parts) != 2 or not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidParameterError(
            f"{what} must be two finite numbers X,Y (e.g. {what}=-1.5,2). Got {text!r} instead."
        )
    return (x, y)


EPILOG = """\
examples:
  descentlab trajectories --function rosenbrock
      gd, momentum and adam from (-1.5, 2) on Rosenbrock's valley (trajectories-rosenbrock.png)
  descentlab trajectories --function quadratic:condition_number=50 --optimizers gd,momentum:beta=0.9,nesterov
  descentlab trajectories --function himmelblau --start=-1,-1 --optimizers adam:lr=0.05,rmsprop --animate
  descentlab trajectories --function beale --schedule exponential:gamma=0.995 --steps 3000
  descentlab trajectories --noise --batch-size 8 --out noise.png
      the seed's picture: batch GD, mini-batch GD and SGD on a least-squares cost
"""


SUMMARY = "draw optimizer paths on a 2-D test function"

DESCRIPTION = (
    "Run optimizers from the same start on a 2-D test function and draw their paths "
    "over its contours (PNG, optionally an animated GIF). With --noise, draw the "
    "batch GD / mini-batch GD / SGD paths on a least-squares cost instead."
)


def add_parser(subparsers: Any) -> None:
    """Register the ``trajectories`` subcommand on an ``argparse`` subparsers object."""
    p = add_command(subparsers, "trajectories", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument(
        "--function", default="rosenbrock", metavar="NAME[:key=value,...]",
        help=f"test function, one of {', '.join(SURFACES)} (default rosenbrock); "
        "e.g. quadratic:condition_number=50",
    )  # fmt: skip
    p.add_argument(
        "--optimizers", default="gd,momentum,adam", metavar="SPEC",
        help="comma-separated optimizers with optional settings, e.g. "
        "'gd,momentum:beta=0.8,adam:lr=0.05,b1=0.9' (default gd,momentum,adam)",
    )  # fmt: skip
    p.add_argument(
        "--lr", type=finite_float, default=None,
        help="learning rate for every optimizer without its own lr (default: per function, "
        "larger for the adaptive ones: rmsprop, adagrad, the adam family but radam, lion, "
        "rprop, schedule_free_adamw; 1.0 for adadelta)",
    )  # fmt: skip
    p.add_argument(
        "--steps",
        type=whole_number,
        default=None,
        help=f"steps per optimizer, at most {limits.MAX_STEPS} (default: per function)",
    )
    p.add_argument(
        "--start",
        default=None,
        metavar="X,Y",
        help="start point; write --start=-1.5,2 for negative x",
    )
    p.add_argument(
        "--schedule", default=None, metavar="NAME[:key=value,...]",
        help=f"learning-rate schedule for every optimizer, one of {', '.join(SCHEDULES)}, e.g. "
        "exponential:gamma=0.99; it starts from each optimizer's lr",
    )  # fmt: skip
    p.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="PNG to write (default trajectories-<function>.png)",
    )
    p.add_argument(
        "--animate", action="store_true", help="also write an animated GIF next to the PNG"
    )
    p.add_argument(
        "--noise",
        action="store_true",
        help="the batch GD / mini-batch GD / SGD picture instead (uses --lr, "
        "--steps, --start, --schedule, --batch-size, --seed; ignores --function, --optimizers)",
    )
    p.add_argument(
        "--batch-size",
        type=whole_number,
        default=8,
        help="mini-batch size for --noise, from 1 to 63 (default 8)",
    )
    p.add_argument(
        "--seed", type=seed, default=0, help="data and shuffling seed for --noise (default 0)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")


def _label(name: str, settings: dict[str, Any]) -> str:
    if not settings:
        return name
    shown = {("lr" if k == "learning_rate" else k): v for k, v in settings.items()}
    return f"{name} (" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


def _one(text: str, what: str) -> tuple[str, dict[str, Any]]:
    entries = parse_spec(text, what)
    if len(entries) != 1:
        raise InvalidParameterError(f"{what} takes one name. Got {len(entries)} in {text!r}.")
    return entries[0]


def _table(surface: Surface, paths: dict[str, Any]) -> str:
    header = ["optimizer", "final loss", "steps", "distance to nearest minimum"]
    rows = []
    for label, traj in paths.items():
        dist = float(surface.distance_to_minimum(traj.path[-1]))
        steps = f"{traj.n_steps}" + (" (diverged)" if traj.diverged else "")
        shown = "n/a (no minimum)" if np.isnan(dist) else f"{dist:.4g}"
        rows.append([label, f"{traj.final_loss:.6g}", steps, shown])
    return format_table(header, rows)


def _outputs(args: argparse.Namespace, name: str) -> list[Path]:
    """The files to write (the PNG/SVG/PDF, and the GIF with ``--animate``), checked."""
    out = Path(args.out if args.out is not None else f"trajectories-{name}.png")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InvalidParameterError(
            f"--out must end in .png, .svg or .pdf. Got {str(out)!r} instead."
        )
    outputs = [out, out.with_suffix(".gif")] if args.animate else [out]
    for path in outputs:
        check_writable(path, folder=False, parents=False)
    return outputs


def _check_numbers(args: argparse.Namespace) -> None:
    """The numbers no library object checks before the paths are computed."""
    if args.lr is not None:
        check_option("--lr", args.lr, LEARNING_RATE)
    if args.steps is not None:
        check_option("--steps", args.steps, Interval(1, limits.MAX_STEPS, integer=True))
    check_option("--batch-size", args.batch_size, COUNT)


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Run the subcommand: check the options and the outputs, compute the paths, write the
    PNG (and GIF), print a summary table. Overflow inside a diverging path is reported in the
    table ("diverged"), not as NumPy warnings."""
    from descentlab.trajectories import animate_trajectories, save_figure

    start = None if args.start is None else parse_point(args.start)
    schedule = parse_schedule_spec(args.schedule)
    _check_numbers(args)
    name = "noise" if args.noise else _one(args.function, "--function")[0]
    outputs = _outputs(args, name)
    with np.errstate(all="ignore"):
        compute = _noise_picture if args.noise else _surface_picture
        surface, paths, fig = compute(args, start, schedule)
        written = [save_figure(fig, outputs[0])]
        if args.animate:
            written.append(animate_trajectories(surface, paths, outputs[1]))
    if not args.quiet:
        out_stream = sys.stdout if stdout is None else stdout
        for path in written:
            print(f"wrote {path}", file=out_stream)
        print(_table(surface, paths), file=out_stream)
    return 0


def _noise_picture(
    args: argparse.Namespace, start: tuple[float, float] | None, schedule: Any
) -> tuple[Surface, dict[str, Any], Any]:
    """Batch GD, mini-batch GD and SGD on a least-squares cost: (cost, paths, figure)."""
    from descentlab.trajectories import noise_paths, plot_noise_paths

    lr = 0.1 if args.lr is None else args.lr
    optimizer = get_optimizer("gd", learning_rate=build_learning_rate(lr, schedule))
    noise = noise_paths(
        m=64, batch_size=args.batch_size, steps=150 if args.steps is None else args.steps,
        optimizer=optimizer, start=start, seed=args.seed,
    )  # fmt: skip
    return noise.cost, noise.paths, plot_noise_paths(noise)


def _surface_picture(
    args: argparse.Namespace, start: tuple[float, float] | None, schedule: Any
) -> tuple[Surface, dict[str, Any], Any]:
    """The ``--optimizers`` from one start on the ``--function``: (surface, paths, figure)."""
    from descentlab.trajectories import compare_trajectories, plot_trajectories

    fname, fsettings = _one(args.function, "--function")
    surface = get_surface(fname, **fsettings)
    optimizers = {}
    for opt_name, settings in parse_optimizer_spec(args.optimizers):
        label = _label(opt_name, settings)
        if label in optimizers:
            raise InvalidParameterError(f"--optimizers lists {label!r} twice.")
        default = default_learning_rate(opt_name, surface) if args.lr is None else args.lr
        lr = settings.pop("learning_rate", default)
        if isinstance(lr, bool) or not isinstance(lr, int | float):
            raise InvalidParameterError(
                f"--optimizers: the lr of {opt_name!r} must be a number. Got {lr!r}."
            )
        optimizers[label] = get_optimizer(
            opt_name, learning_rate=build_learning_rate(lr, schedule), **settings
        )
    paths = compare_trajectories(surface, optimizers, start, args.steps)
    return surface, paths, plot_trajectories(surface, paths)
