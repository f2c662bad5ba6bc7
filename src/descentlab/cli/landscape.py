"""``descentlab landscape RUN_DIR``: the loss landscapes of a comparison's trained networks.

For each optimizer of a folder written by ``descentlab compare``: the training loss on a
filter-normalised random plane through its final weights, and (when the folder has
``trajectory.npz``, from ``compare --save-trajectory N``) its training path on the top two PCA
directions of the weight snapshots (:mod:`descentlab.landscape`). Writes
``landscape_slices.png``, ``landscape_paths.png``, ``landscape.npz`` and adds a "Loss
landscapes" section to ``report.html``; prints one row per optimizer.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from descentlab.cli.options import (
    add_command,
    finite_float,
    format_table,
    seed,
    whole_number,
)
from descentlab.landscape import MAX_GRID, MAX_SPAN

__all__ = ["add_parser", "run"]

EPILOG = f"""\
examples:
  descentlab compare --save-trajectory 100 --out runs/moons
  descentlab landscape runs/moons
      slices and training paths of gd, momentum and adam; report.html gets a section
  descentlab landscape runs/moons --grid 61 --span 0.5 --seed 1
      a finer grid over a smaller plane, other random directions

The grid is G x G points (G odd, at most {MAX_GRID}), evaluated as populations of networks.
--span S covers [-S, S] along each direction (at most {MAX_SPAN:g}); the directions'
rows have the norms of the final weights' rows, so S = 1 moves each unit's weights by
their own norm. Without trajectory.npz only the slices are drawn, and a line says so.
"""

SUMMARY = "loss landscapes around each optimizer's final weights (slices, PCA paths)"

DESCRIPTION = (
    "Draw the training loss on a filter-normalised random plane around each optimizer's "
    "final weights (Li et al. 2018) and, when the run folder has trajectory.npz, the "
    "training path on the top two PCA directions of the weights; write the PNGs and "
    "landscape.npz in the run folder and add them to its report.html."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab landscape``."""
    p = add_command(subparsers, "landscape", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by descentlab compare")
    p.add_argument(
        "--grid",
        type=whole_number,
        default=41,
        metavar="G",
        help=f"grid points per side, odd, 3 to {MAX_GRID} (default: 41)",
    )
    p.add_argument(
        "--span",
        type=finite_float,
        default=1.0,
        metavar="S",
        help="the slice covers [-S, S] along each direction (default: 1)",
    )
    p.add_argument(
        "--seed", type=seed, default=0, help="seed of the random directions (default: 0)"
    )
    out = p.add_argument_group("output (in RUN_DIR)")
    out.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="print a table (default) or the numbers as JSON on stdout",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")


def _rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["optimizer", "J(theta*)", "slice min", "slice max", "snapshots", "PCA variance"]
    rows = []
    for ls in result["landscapes"]:
        explained = (
            "-" if ls.explained is None else f"{ls.explained[0]:.1%} + {ls.explained[1]:.1%}"
        )
        rows.append(
            [
                ls.label,
                f"{ls.centre_loss:.4g}",
                f"{float(_finite(ls.slice_losses).min()):.4g}",
                f"{float(_finite(ls.slice_losses).max()):.4g}",
                "-" if ls.epochs is None else str(len(ls.epochs)),
                explained,
            ]
        )
    return header, rows


def _finite(values: Any) -> Any:
    import numpy as np

    finite = values[np.isfinite(values)]
    return finite if finite.size else np.array([np.nan])


def _json(result: dict[str, Any]) -> str:
    from descentlab.experiments.run_folder import results_to_json

    return results_to_json(
        {
            **{k: result[k] for k in ("run_dir", "skipped", "files", "note")},
            "landscapes": [
                {
                    "label": ls.label,
                    "centre_loss": ls.centre_loss,
                    "slice_min": float(_finite(ls.slice_losses).min()),
                    "slice_max": float(_finite(ls.slice_losses).max()),
                    "snapshots": None if ls.epochs is None else len(ls.epochs),
                    "explained": ls.explained,
                }
                for ls in result["landscapes"]
            ],
        }
    )


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab landscape``."""
    from descentlab.landscape import landscape_run

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = landscape_run(
        args.run_dir,
        grid=args.grid,
        span=args.span,
        seed=args.seed,
        log=None if args.quiet else log,
    )
    if args.format == "json":
        sys.stdout.write(_json(result))
        return 0
    print(format_table(*_rows(result)))
    for label, why in result["skipped"].items():
        print(f"{label}: not drawn, {why}")
    if result["note"]:
        print(f"note: {result['note']}")
    print(f"Wrote {', '.join(result['files'])} in {result['run_dir']}")
    return 0
