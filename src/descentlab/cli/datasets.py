"""``descentlab datasets``: list the built-in datasets with their shapes, or export one as CSV."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from descentlab.cli.options import add_command

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  descentlab datasets
  descentlab datasets --format json
  descentlab datasets --export moons moons.csv
      the seed's 300 training points as CSV (columns x1, x2, y)
  descentlab datasets --export spiral:n_samples=600,noise=0.2,seed=3 spiral.csv
  descentlab datasets --export noisy_quadratic:n_samples=200 quad.csv
      a regression set: the 100 feature columns, then the real-valued target y
"""


SUMMARY = "list the built-in datasets (features, examples, classes) or export one as CSV"

DESCRIPTION = "List the built-in datasets with their shapes, or export one as a CSV file."


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab datasets``."""
    p = add_command(subparsers, "datasets", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.add_argument(
        "--export",
        nargs=2,
        metavar=("NAME", "FILE.csv"),
        help="write a built-in dataset (generator settings after a colon) as CSV: one row per "
        "example, the feature columns, then the label column y (for regression the target: "
        "y, or y1, y2, ... for several)",
    )


def _export(spec_text: str, path: str) -> int:
    """Write a built-in dataset as CSV: the spec and the destination are checked first (a
    generator's size is capped by ``limits.MAX_EXAMPLES``), then the rows are streamed to a
    temporary file that replaces ``path`` when complete. The last column is the label ``y``
    (the original class label); for a regression set the target(s), numbers in ``repr`` form
    (they read back exactly): ``y``, or ``y1, y2, ...`` for several
    (:func:`~descentlab.model_file.target_columns`)."""
    from descentlab._validation import InvalidParameterError
    from descentlab.datasets import load_dataset
    from descentlab.experiments.specs import parse_dataset_spec
    from descentlab.io import atomic_writer, check_writable
    from descentlab.model_file import target_columns

    spec = parse_dataset_spec(spec_text)
    if spec.is_file:
        raise InvalidParameterError(
            f"--export takes a built-in dataset name; {spec.name!r} is a file already."
        )
    check_writable(path, folder=False, parents=False)
    ds = load_dataset(spec.name, n_samples=spec.n_samples, noise=spec.noise, seed=spec.seed)
    regression = ds.task == "regression"
    targets = target_columns("y", ds.n_targets) if regression else ["y"]
    Y = ds.Y if regression else None  # (n_targets, m)
    with atomic_writer(path, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*ds.feature_names, *targets])
        for i in range(ds.n_examples):
            features = [repr(float(v)) for v in ds.X[:, i]]
            if Y is not None:
                w.writerow([*features, *(repr(float(v)) for v in Y[:, i])])
            else:
                w.writerow([*features, ds.classes[int(ds.y[i])]])
    what = f"target column{'s' if len(targets) > 1 else ''}" if regression else "label column"
    print(
        f"Wrote {ds.name}: {ds.n_examples} examples, {ds.n_features} features and {what} "
        f"{', '.join(repr(t) for t in targets)} to {path}"
    )
    return 0


def _classes_cell(row: dict[str, Any]) -> str:
    """The ``classes`` cell of the table: the number of classes, ``-`` for a regression set
    (the only kind with no class; its description says ``Regression``)."""
    regression = row.get("task") == "regression" or row["n_classes"] == 0
    return "-" if regression else str(row["n_classes"])


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab datasets``."""
    if args.export:
        return _export(*args.export)
    from descentlab.cli.options import format_table
    from descentlab.datasets import describe_datasets

    rows = describe_datasets()
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    table = [
        [
            r["name"],
            str(r["n_features"]),
            str(r["n_examples"]),
            _classes_cell(r),
            r["description"],
        ]
        for r in rows
    ]
    header = ["name", "features", "examples", "classes", "description"]
    print(format_table(header, table, left=(0, 4)))
    print()
    print(
        "Generated sets take settings: --dataset moons:n_samples=1000,noise=0.3,seed=2 "
        "(moons alone is the seed's exact data). Files: --dataset data.csv --target label."
    )
    return 0
