"""``descentlab report RUN_DIR``: redraw the plots and rebuild report.html of a run folder.

Uses only the folder's saved files (results.json, history.csv, config.toml, and models.npz
with the data reloaded from the configuration for the decision boundaries), so a report can
be restyled or redrawn on a log scale without training again.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from descentlab.cli.options import add_command

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  descentlab report runs/moons-20250101-120000
  descentlab report runs/moons-20250101-120000 --log-scale
"""


SUMMARY = "rebuild the plots and report.html of a run folder from its saved results"

DESCRIPTION = (
    "Redraw cost_curves.png, the decision boundaries (or confusion matrices) and "
    "report.html of a folder written by descentlab compare, from its results.json, "
    "history.csv, config.toml and models.npz."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab report``."""
    p = add_command(subparsers, "report", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by descentlab compare")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument(
        "--log-scale",
        dest="log_scale",
        action="store_true",
        default=None,
        help="log-scaled cost axis",
    )
    scale.add_argument(
        "--linear-scale", dest="log_scale", action="store_false", help="linear cost axis"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab report``."""
    from descentlab.experiments.compare import rebuild_outputs

    written = rebuild_outputs(args.run_dir, log_scale=args.log_scale)
    run_dir = Path(args.run_dir)
    print(f"Rebuilt {', '.join(written)} in {run_dir}")
    print(f"Report: {run_dir / 'report.html'}")
    return 0
