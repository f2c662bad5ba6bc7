"""The results table of sweeps and benchmarks: its columns, rows, CSV text and summary.

``results.csv`` has one row per training run: its identity (``run_id``, ``config_id``), its
settings (the optimizer, every hyperparameter any run has, the schedule and its settings, the
training setup, the seed), then :data:`METRICS`. Cells are text: numbers in ``repr`` form
(they read back exactly), booleans ``true``/``false``, empty where a setting does not apply.
:func:`read_results` reads a file back with every cell checked, so a damaged, truncated or
foreign file is either refused with a one-line error or, row by row, left for ``--resume`` to
recompute.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.experiments.population import Run

__all__ = [
    "METRICS",
    "SETTING_COLUMNS",
    "read_results",
    "result_columns",
    "result_row",
    "results_csv_text",
    "summarize",
]

METRICS = (
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "final_cost",
    "val_cost",
    "test_cost",
    "diverged",
    "stopped_epoch",
    "seconds",
)
"""The measured columns of ``results.csv``, after the settings."""

SETTING_COLUMNS = ("batch_size", "epochs", "layers", "activation", "init", "shuffle", "seed")


def result_columns(runs: Sequence[Run]) -> list[str]:
    """The ``results.csv`` header for ``runs``: ids, every setting any run has, then METRICS."""
    hyper: dict[str, None] = {"learning_rate": None}
    sched: dict[str, None] = {}
    for r in runs:
        hyper.update(dict.fromkeys(r.hyperparameters))
        sched.update(dict.fromkeys(r.schedule_settings))
    return [
        "run_id",
        "config_id",
        "optimizer",
        *hyper,
        "schedule",
        *(f"schedule.{k}" for k in sched),
        *SETTING_COLUMNS,
        *METRICS,
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return (
            "-".join(str(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else json.dumps(value)
        )
    return str(value)


def result_row(run: Run, measured: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    """One ``results.csv`` row (text cells, empty where a setting does not apply): the run's
    settings, then its measurements."""
    out = {"run_id": run.run_id(), "config_id": run.config_id(), "optimizer": run.optimizer}
    out.update({k: _cell(v) for k, v in run.hyperparameters.items()})
    out["schedule"] = run.schedule or ""
    out.update({f"schedule.{k}": _cell(v) for k, v in run.schedule_settings.items()})
    out.update({k: _cell(getattr(run, k)) for k in SETTING_COLUMNS})
    out.update({k: _cell(measured[k]) for k in METRICS})
    return {c: out.get(c, "") for c in columns}


def results_csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """``rows`` as CSV text under the header ``columns`` (missing cells empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def read_results(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``results.csv`` as dicts of text cells (empty list if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- summary


def _number(cell: str) -> float:
    if cell in ("", None):
        return math.nan
    if cell in ("true", "false"):
        return float(cell == "true")
    return float(cell)


def summarize(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per configuration (``config_id``): its settings, the number of seeds and diverged runs,
    and for validation/test accuracy and final cost the median, quartiles, mean and std
    over seeds (NaN costs of diverged runs are left out of the cost statistics).

    ``columns``: the column order of ``results.csv`` (default: the first row's keys)."""
    by_config: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        by_config.setdefault(r["config_id"], []).append(r)
    skip = {"run_id", "seed", *METRICS}
    settings = [c for c in (columns or (list(rows[0]) if rows else [])) if c not in skip]
    out = []
    for group in by_config.values():
        first = group[0]
        entry: dict[str, Any] = {k: first.get(k, "") for k in settings}
        entry["n_seeds"] = len(group)
        entry["n_diverged"] = sum(r["diverged"] == "true" for r in group)
        for metric in ("val_accuracy", "test_accuracy", "final_cost"):
            v = np.array([_number(r[metric]) for r in group])
            v = v[np.isfinite(v)]
            stats = (
                (np.median(v), *np.percentile(v, [25, 75]), v.mean(), v.std())
                if v.size
                else (math.nan,) * 5
            )
            for name, s in zip(("median", "q25", "q75", "mean", "std"), stats, strict=True):
                entry[f"{metric}_{name}"] = repr(float(s))
        out.append(entry)
    return out
