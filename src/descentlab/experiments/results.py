"""The results table of sweeps and benchmarks: its columns, rows, CSV text and summary.

``results.csv`` has one row per training run: its identity (``run_id``, ``config_id``), its
settings (the optimizer, every hyperparameter any run has, the schedule and its settings, the
training setup, the seed), then :data:`METRICS`, then ``engine`` (the engine that trained it:
``numpy`` or ``compiled``; files written before the engine switch lack the column, and are
read all the same). Cells are text: numbers in ``repr`` form
(they read back exactly), booleans ``true``/``false``, empty where a setting does not apply;
every line ends with a newline.

:func:`read_results` reads a file back as hostile input. A file that is not this kind of
table — not UTF-8 text, NUL bytes, a line longer than :data:`MAX_LINE` characters, more than
``MAX_RUNS`` rows, a header that is not the expected one — is refused with a one-line
:class:`~descentlab._validation.DataError` naming it. A *row* that does not check out — the
wrong number of cells, a cell that does not parse as its column's type (:data:`METRIC_RULES`),
an unknown ``run_id``, settings that are not that run's, a run listed twice, a last line cut
off before its newline — is dropped (and reported), so that ``--resume`` trains that run
again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from descentlab import limits
from descentlab._validation import DataError, show
from descentlab.experiments.population import Run

__all__ = [
    "ENGINE_COLUMN",
    "MAX_LINE",
    "METRICS",
    "METRIC_RULES",
    "SETTING_COLUMNS",
    "best_configurations",
    "checked_lines",
    "mean_std",
    "read_results",
    "result_columns",
    "result_row",
    "results_csv_text",
    "selection_metric",
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

ENGINE_COLUMN = "engine"
"""The last column: the engine that trained the run (empty in a row kept from an older file)."""


def result_columns(runs: Sequence[Run]) -> list[str]:
    """The ``results.csv`` header for ``runs``: ids, every setting any run has, METRICS, engine."""
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
        ENGINE_COLUMN,
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


def _setting_cells(run: Run) -> dict[str, str]:
    """The cells of ``run``'s identity and settings (the columns before :data:`METRICS`)."""
    out = {"run_id": run.run_id(), "config_id": run.config_id(), "optimizer": run.optimizer}
    out.update({k: _cell(v) for k, v in run.hyperparameters.items()})
    out["schedule"] = run.schedule or ""
    out.update({f"schedule.{k}": _cell(v) for k, v in run.schedule_settings.items()})
    out.update({k: _cell(getattr(run, k)) for k in SETTING_COLUMNS})
    return out


def result_row(run: Run, measured: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    """One ``results.csv`` row (text cells, empty where a setting does not apply): the run's
    settings, then its measurements and the engine that trained it (if ``measured`` says)."""
    out = _setting_cells(run)
    out.update({k: _cell(measured[k]) for k in METRICS})
    out[ENGINE_COLUMN] = _cell(measured.get(ENGINE_COLUMN))
    return {c: out.get(c, "") for c in columns}


def results_csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """``rows`` as CSV text under the header ``columns`` (missing cells empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# ----------------------------------------------------------------------------- reading back

MAX_LINE = 65_536
"""The longest line (in characters) of a results table read back; a row is far shorter."""


def _canonical_float(cell: str) -> float | None:
    """The float a cell holds in ``repr`` form (``0.5``, ``nan``, ``inf``), else None."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if repr(value) == cell else None


def _fraction(cell: str) -> bool:
    """a number in [0, 1] or nan"""  # nan: undefined, a regression run has no accuracy
    value = _canonical_float(cell)
    return value is not None and (math.isnan(value) or 0.0 <= value <= 1.0)


def _cost(cell: str) -> bool:
    """a number >= 0, nan or inf"""
    value = _canonical_float(cell)
    return value is not None and (math.isnan(value) or value >= 0.0)


def _seconds(cell: str) -> bool:
    """a finite number >= 0"""
    value = _canonical_float(cell)
    return value is not None and math.isfinite(value) and value >= 0.0


def _flag(cell: str) -> bool:
    """true or false"""
    return cell in ("true", "false")


def _epoch(cell: str) -> bool:
    """an int >= -1"""
    return re.fullmatch(r"-1|0|[1-9][0-9]{0,17}", cell) is not None


METRIC_RULES: dict[str, Callable[[str], bool]] = {
    "train_accuracy": _fraction,
    "val_accuracy": _fraction,
    "test_accuracy": _fraction,
    "final_cost": _cost,
    "val_cost": _cost,
    "test_cost": _cost,
    "diverged": _flag,
    "stopped_epoch": _epoch,
    "seconds": _seconds,
}
"""What a cell of each metric column must hold (the predicate's docstring says it)."""

_ENGINES_RUN = ("numpy", "compiled")
"""What an ``engine`` cell may hold (empty too: a row kept from a file without the column)."""

_RUN_ID = re.compile(r"(?P<config>[0-9a-f]{12})-s[0-9]{1,10}(?:d[0-9]{1,10})?")


def read_results(
    path: str | Path,
    runs: Sequence[Run] | None = None,
    *,
    on_damaged: Callable[[int, str], None] | None = None,
) -> list[dict[str, str]]:
    """The good rows of a ``results.csv``, as dicts of text cells, in file order.

    Args:
      path: the file; a missing file has no rows.
      runs: the runs the file may hold (a sweep's). Then the header must be
        ``result_columns(runs)`` (or that without its last column, ``engine``: an older file),
        and a row must have a ``run_id`` of ``runs`` and exactly that run's settings. Without
        it the header must start with ``run_id, config_id, optimizer`` and end with
        :data:`METRICS` (and ``engine``, or not).
      on_damaged: called with ``(line number, reason)`` for every row that is dropped.

    Returns:
      the rows whose every cell checks out (see the module docstring); a dropped row is not
      returned (with ``runs``: its run is simply missing, for ``--resume`` to train again).

    Raises:
      DataError: the file is not a results table of this kind (one line, naming the file).
    """
    path = Path(path)
    source = f"'{path}'"
    if not path.exists():
        return []
    expected = None if runs is None else {r.run_id(): r for r in runs}
    columns = None if runs is None else result_columns(runs)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return _read_rows(f, source, expected, columns, on_damaged or (lambda n, why: None))
    except UnicodeDecodeError:
        raise DataError(f"{source} is not a results table: it is not UTF-8 text.") from None
    except csv.Error as exc:
        raise DataError(f"{source} is not a results table: {exc}.") from None
    except OSError as exc:
        raise DataError(f"Cannot read {source}: {exc.strerror or exc}.") from None


def checked_lines(f: IO[str], source: str, ends: list[bool]) -> Iterator[str]:
    """The lines of ``f``, each checked for NUL characters and length; ``ends[0]`` is set to
    whether the last line ended with a newline."""
    number = 0
    while line := f.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise DataError(
                f"{source} is not a results table: line {number} is longer than {MAX_LINE} "
                "characters."
            )
        if "\0" in line:
            raise DataError(f"{source} is not a results table: line {number} holds NUL bytes.")
        if number > limits.MAX_RUNS + 1:
            raise DataError(
                f"{source} is not a results table: it has more than {limits.MAX_RUNS} rows "
                "(descentlab.limits.MAX_RUNS)."
            )
        ends[0] = line.endswith(("\n", "\r"))
        yield line


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "std", "n"}`` of ``values``: mean and (population) standard deviation of the
    finite ones (NaN when none is), and how many values there were in all.

    >>> mean_std([1.0, 3.0, float("nan")])
    {'mean': 2.0, 'std': 1.0, 'n': 3}
    """
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    return {
        "mean": float(finite.mean()) if finite.size else math.nan,
        "std": float(finite.std()) if finite.size else math.nan,
        "n": int(v.size),
    }


def _read_rows(
    f: IO[str],
    source: str,
    expected: Mapping[str, Run] | None,
    columns: Sequence[str] | None,
    on_damaged: Callable[[int, str], None],
) -> list[dict[str, str]]:
    ends = [True]
    reader = csv.reader(checked_lines(f, source, ends))
    header = next(reader, None)
    _check_header(header, columns, source)
    assert header is not None
    rows: dict[str, tuple[int, dict[str, str]]] = {}
    twice: set[str] = set()
    last = None  # the run_id of the row read last, if it was kept
    for cells in reader:
        row, why = _check_row(header, cells, expected)
        last = None
        if row is None:
            on_damaged(reader.line_num, why)
        elif row["run_id"] in rows or row["run_id"] in twice:
            on_damaged(reader.line_num, f"the run {row['run_id']} is listed twice")
            twice.add(row["run_id"])
            rows.pop(row["run_id"], None)
        else:
            last = row["run_id"]
            rows[last] = (reader.line_num, row)
    if not ends[0] and last is not None:  # the file was cut off inside this row
        on_damaged(rows.pop(last)[0], "the file ends in the middle of this row")
    return [row for _, row in rows.values()]


def _check_header(header: list[str] | None, columns: Sequence[str] | None, source: str) -> None:
    if header is None:
        raise DataError(f"{source} is not a results table: it is empty.")
    if columns is not None:
        if header in (list(columns), list(columns[:-1])):  # with or without "engine"
            return
        raise DataError(
            f"{source} is not the results of this sweep: expected the columns "
            f"{show(', '.join(columns))}; found {show(', '.join(header))}."
        )
    n = len(METRICS)
    tail = header[:-1] if header[-1:] == [ENGINE_COLUMN] else header
    if header[:3] != ["run_id", "config_id", "optimizer"] or tuple(tail[-n:]) != METRICS:
        raise DataError(
            f"{source} is not a descentlab results table: its columns must start with run_id, "
            f"config_id, optimizer and end with {', '.join(METRICS)}; found "
            f"{show(', '.join(header))}."
        )


def _check_row(
    header: Sequence[str], cells: Sequence[str], expected: Mapping[str, Run] | None
) -> tuple[dict[str, str] | None, str]:
    """``(row, "")`` for a good row, ``(None, reason)`` for a damaged one."""
    if len(cells) != len(header):
        return None, f"{len(cells)} cells where the header has {len(header)}"
    row = dict(zip(header, cells, strict=True))
    rid = row["run_id"]
    n_settings = len(header) - len(METRICS) - (header[-1] == ENGINE_COLUMN)
    if expected is not None:
        run = expected.get(rid)
        if run is None:
            return None, f"the run_id {show(rid)} is not a run of this sweep"
        settings = _setting_cells(run)
        for c in header[:n_settings]:
            if row[c] != settings.get(c, ""):
                return None, f"the {c!r} cell {show(row[c])} is not that of run {rid}"
    else:
        match = _RUN_ID.fullmatch(rid)
        if match is None or match["config"] != row["config_id"]:
            return None, f"{show(rid)} is not a run_id of config_id {show(row['config_id'])}"
    for metric, rule in METRIC_RULES.items():
        if not rule(row[metric]):
            return None, f"the {metric!r} cell {show(row[metric])} is not {rule.__doc__}"
    if row.get(ENGINE_COLUMN, "") not in ("", *_ENGINES_RUN):
        return None, f"the 'engine' cell {show(row[ENGINE_COLUMN])} is not numpy or compiled"
    if expected is not None and int(row["stopped_epoch"]) >= expected[rid].epochs:
        return None, f"the 'stopped_epoch' {row['stopped_epoch']} is not an epoch of run {rid}"
    return row, ""


# ----------------------------------------------------------------------------- summary


def selection_metric(rows: Sequence[Mapping[str, str]]) -> tuple[str, bool]:
    """The validation metric that chooses among runs, and whether higher is better.

    ``("val_accuracy", True)`` when a row has a finite validation accuracy (classification);
    else ``("val_cost", False)``: the runs of a regression set have no accuracy (every cell
    ``nan``), so the validation cost (lower is better) chooses. ``rows``: ``results.csv`` rows,
    or :func:`summarize` entries (whose ``val_accuracy_median`` decides).

    >>> selection_metric([{"val_accuracy": "nan", "val_cost": "0.5"}])
    ('val_cost', False)
    """
    for r in rows:
        cell = r.get("val_accuracy", r.get("val_accuracy_median", "nan"))
        try:
            if math.isfinite(float(cell)):
                return "val_accuracy", True
        except (TypeError, ValueError):
            continue
    return "val_cost", False


_SUMMARIZED = ("val_accuracy", "test_accuracy", "final_cost", "val_cost", "test_cost")
"""The metrics :func:`summarize` gives statistics of (``<metric>_median``, ...)."""


def summarize(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per configuration (``config_id``): its settings, the number of seeds and diverged runs,
    and for validation/test accuracy, final cost and validation/test cost the median,
    quartiles, mean and std over seeds (NaN values — the costs of diverged runs, the
    accuracies of regression runs — are left out of the statistics; NaN when none is left).

    ``rows``: rows of ``results.csv`` (:func:`read_results`' or :func:`result_row`'s: their
    accuracies and costs are numbers in ``repr`` form).

    ``columns``: the column order of ``results.csv`` (default: the first row's keys)."""
    by_config: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        by_config.setdefault(r["config_id"], []).append(r)
    skip = {"run_id", "seed", *METRICS, ENGINE_COLUMN}
    settings = [c for c in (columns or (list(rows[0]) if rows else [])) if c not in skip]
    out = []
    for group in by_config.values():
        first = group[0]
        entry: dict[str, Any] = {k: first.get(k, "") for k in settings}
        entry["n_seeds"] = len(group)
        entry["n_diverged"] = sum(r["diverged"] == "true" for r in group)
        for metric in _SUMMARIZED:
            v = np.array([float(r.get(metric, "nan")) for r in group])  # absent: none
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


def best_configurations(summary: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Per optimizer (in order of first appearance), the :func:`summarize` entry with the best
    median validation metric: the highest ``val_accuracy_median``, or for regression
    (:func:`selection_metric`) the lowest ``val_cost_median``. A NaN median counts as the
    worst; of equal medians the first entry wins.

    >>> entries = [{"optimizer": "gd", "val_accuracy_median": "nan", "val_cost_median": c}
    ...            for c in ("0.5", "0.25", "nan")]
    >>> best_configurations(entries)["gd"]["val_cost_median"]
    '0.25'
    """
    metric, higher = selection_metric(summary)
    sign = 1.0 if higher else -1.0

    def score(entry: Mapping[str, Any]) -> float:
        value = sign * float(entry[f"{metric}_median"])
        return -math.inf if math.isnan(value) else value

    best: dict[str, Mapping[str, Any]] = {}
    for entry in summary:
        name = entry["optimizer"]
        if name not in best or score(entry) > score(best[name]):
            best[name] = entry
    return best
