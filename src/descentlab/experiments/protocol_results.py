"""The results table of the benchmark protocol: ``results.csv``, one row per trial and rerun.

A row is a sweep's row (:mod:`~descentlab.experiments.results`: the run's identity and
settings, :data:`~descentlab.experiments.results.METRICS`, the engine), framed by the
protocol's columns::

    problem, label, phase, trial,  run_id, config_id, optimizer, <hyperparameters>, ...,
    seed, <METRICS>, engine,  steps_to_target, seconds_to_target

``label`` names the optimizer as the benchmark lists it (``adam``, or ``adam:b2=0.99`` with
fixed settings); ``phase`` is ``tuning`` (a random-search trial; ``trial`` is its index) or ``rerun`` (the best
trial's setting on a fresh seed; ``trial`` is the index of that best trial).
``steps_to_target`` is a whole number of steps or ``inf`` (not reached); ``seconds_to_target``
the measured wall time or ``inf`` (see :mod:`~descentlab.experiments.protocol`). A run is
identified by its problem and its ``run_id`` (a run's settings do not name its data).

:func:`read_protocol_rows` reads the file back as hostile input: a file that is not this
table (not UTF-8, NUL bytes, a line longer than ``MAX_LINE`` characters, more than
``MAX_RUNS`` rows, another header) is a one-line :class:`~descentlab._validation.DataError`;
a row that does not check out (a cell that does not parse as its column's type, an unknown
problem or phase, a run listed twice, a last line cut off) is dropped and reported, and
:func:`match_rows` keeps only the rows whose settings are exactly those of an expected run —
so ``--resume`` trains the runs of dropped rows again.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from descentlab._validation import DataError, show
from descentlab.experiments.population import Run
from descentlab.experiments.results import (
    ENGINE_COLUMN,
    METRIC_RULES,
    METRICS,
    checked_lines,
    result_columns,
    result_row,
)

__all__ = [
    "PHASES",
    "PREFIX",
    "SUFFIX",
    "Entry",
    "match_rows",
    "protocol_columns",
    "protocol_row",
    "read_protocol_rows",
]

PHASES = ("tuning", "rerun")
"""The two phases of the protocol, in order."""
PREFIX = ("problem", "label", "phase", "trial")
"""The columns before a sweep's row."""
SUFFIX = ("steps_to_target", "seconds_to_target")
"""The columns after a sweep's row."""

Key = tuple[str, str]
"""A row's identity: ``(problem, run_id)``."""


@dataclass(frozen=True)
class Entry:
    """One run of the protocol: the problem it trains on, the optimizer's label, its phase,
    its trial and its run."""

    problem: str
    label: str
    phase: str
    trial: int
    run: Run

    @property
    def key(self) -> Key:
        return (self.problem, self.run.run_id())


def protocol_columns(runs: Sequence[Run]) -> list[str]:
    """The header of ``results.csv`` for ``runs`` (the trials: the reruns share their settings)."""
    return [*PREFIX, *result_columns(runs), *SUFFIX]


def _target_cell(value: float, integer: bool) -> str:
    if math.isinf(value):
        return "inf"
    return str(int(value)) if integer else repr(float(value))


def protocol_row(
    entry: Entry,
    measured: Mapping[str, Any],
    columns: Sequence[str],
    steps: float,
    seconds: float,
) -> dict[str, str]:
    """One row: ``entry``'s identity, its sweep row (settings and ``measured``), its steps
    and seconds to target (``inf`` when not reached)."""
    inner = [c for c in columns if c not in PREFIX and c not in SUFFIX]
    return {
        "problem": entry.problem,
        "label": entry.label,
        "phase": entry.phase,
        "trial": str(entry.trial),
        **result_row(entry.run, measured, inner),
        "steps_to_target": _target_cell(steps, integer=True),
        "seconds_to_target": _target_cell(seconds, integer=False),
    }


# ----------------------------------------------------------------------------- reading back


def _accuracy(cell: str) -> bool:
    """a number in [0, 1], or nan (a regression problem has no accuracy)"""
    return cell == "nan" or METRIC_RULES["val_accuracy"](cell)


def _steps(cell: str) -> bool:
    """a whole number >= 1, or inf"""
    return cell == "inf" or re.fullmatch(r"[1-9][0-9]{0,17}", cell) is not None


def _seconds(cell: str) -> bool:
    """a finite number > 0, or inf"""
    return cell == "inf" or (METRIC_RULES["seconds"](cell) and float(cell) > 0)


_RULES: dict[str, Callable[[str], bool]] = {
    **METRIC_RULES,
    **{m: _accuracy for m in ("train_accuracy", "val_accuracy", "test_accuracy")},
    "steps_to_target": _steps,
    "seconds_to_target": _seconds,
}
"""What a measured cell must hold (each predicate's docstring says it)."""


def read_protocol_rows(
    path: str | Path,
    columns: Sequence[str] | None,
    problems: Mapping[str, int],
    labels: Collection[str],
    budget: int,
    *,
    on_damaged: Callable[[int, str], None] | None = None,
) -> dict[Key, dict[str, str]]:
    """The good rows of a protocol's ``results.csv`` by ``(problem, run_id)``, in file order.

    Args:
      path: the file; a missing file has no rows.
      columns: the expected header (:func:`protocol_columns`), or None to accept any header of
        the protocol's form (``problem, label, phase, trial, run_id, config_id, optimizer``
        first, ``<METRICS>, engine, steps_to_target, seconds_to_target`` last).
      problems: the benchmark's problems, each with its largest number of steps to target
        (epochs × steps per epoch).
      labels: the optimizers' labels.
      budget: trials per optimizer (``trial`` is below it).
      on_damaged: called with ``(line number, reason)`` for every row that is dropped.

    Raises:
      DataError: the file is not such a table (one line, naming the file).
    """
    path = Path(path)
    source = f"'{path}'"
    if not path.exists():
        return {}
    report = on_damaged or (lambda n, why: None)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return _read(f, source, columns, problems, set(labels), budget, report)
    except UnicodeDecodeError:
        raise DataError(f"{source} is not a results table: it is not UTF-8 text.") from None
    except csv.Error as exc:
        raise DataError(f"{source} is not a results table: {exc}.") from None
    except OSError as exc:
        raise DataError(f"Cannot read {source}: {exc.strerror or exc}.") from None


def _read(
    f: IO[str],
    source: str,
    columns: Sequence[str] | None,
    problems: Mapping[str, int],
    labels: Collection[str],
    budget: int,
    report: Callable[[int, str], None],
) -> dict[Key, dict[str, str]]:
    ends = [True]
    reader = csv.reader(checked_lines(f, source, ends))
    header = next(reader, None)
    _check_header(header, columns, source)
    assert header is not None
    rows: dict[Key, tuple[int, dict[str, str]]] = {}
    twice: set[Key] = set()
    last: Key | None = None
    for cells in reader:
        last = None
        row, why = _check_row(header, cells, problems, labels, budget)
        if row is None:
            report(reader.line_num, why)
            continue
        key = (row["problem"], row["run_id"])
        if key in rows or key in twice:
            report(reader.line_num, f"the run {row['run_id']} of {row['problem']} is listed twice")
            twice.add(key)
            rows.pop(key, None)
            continue
        rows[key] = (reader.line_num, row)
        last = key
    if not ends[0] and last is not None:  # the file was cut off inside this row
        report(rows.pop(last)[0], "the file ends in the middle of this row")
    return {key: row for key, (_, row) in rows.items()}


_HEAD = [*PREFIX, "run_id", "config_id", "optimizer"]
_TAIL = [*METRICS, ENGINE_COLUMN, *SUFFIX]


def _check_header(header: list[str] | None, columns: Sequence[str] | None, source: str) -> None:
    found = "nothing" if header is None else show(", ".join(header))
    if columns is not None and header != list(columns):
        raise DataError(
            f"{source} is not the results of this benchmark: expected the columns "
            f"{show(', '.join(columns))}; found {found}."
        )
    if (
        header is None
        or header[: len(_HEAD)] != _HEAD
        or header[-len(_TAIL) :] != _TAIL
        or len(set(header)) != len(header)
    ):
        raise DataError(
            f"{source} is not the results of a benchmark protocol: its columns must start with "
            f"{', '.join(_HEAD)} and end with {', '.join(_TAIL)}, each once; found {found}."
        )


def _check_row(
    header: Sequence[str],
    cells: Sequence[str],
    problems: Mapping[str, int],
    labels: Collection[str],
    budget: int,
) -> tuple[dict[str, str] | None, str]:
    """``(row, "")`` for a row whose every cell checks out, else ``(None, reason)``."""
    if len(cells) != len(header):
        return None, f"{len(cells)} cells where the header has {len(header)}"
    row = dict(zip(header, cells, strict=True))
    if row["problem"] not in problems:
        return None, f"the problem {show(row['problem'])} is not one of this benchmark"
    if row["label"] not in labels:
        return None, f"the optimizer {show(row['label'])} is not one of this benchmark"
    if row["phase"] not in PHASES:
        return None, f"the phase {show(row['phase'])} is not tuning or rerun"
    trial = row["trial"]
    if not (re.fullmatch(r"0|[1-9][0-9]{0,9}", trial) and int(trial) < budget):
        return None, f"the trial {show(trial)} is not a whole number below {budget}"
    for column, rule in _RULES.items():
        if not rule(row[column]):
            return None, f"the {column!r} cell {show(row[column])} is not {rule.__doc__}"
    if row[ENGINE_COLUMN] not in ("numpy", "compiled"):
        return None, f"the 'engine' cell {show(row[ENGINE_COLUMN])} is not numpy or compiled"
    steps = row["steps_to_target"]
    if steps != "inf" and int(steps) > problems[row["problem"]]:
        return None, f"the steps to target {steps} exceed the problem's budget"
    return row, ""


def match_rows(
    rows: Mapping[Key, Mapping[str, str]],
    expected: Sequence[Entry],
    columns: Sequence[str],
    on_damaged: Callable[[str], None] | None = None,
) -> dict[Key, dict[str, str]]:
    """The rows of ``expected`` runs whose phase, trial and every setting cell are exactly
    those of the run (a row of another run, or with other settings, is left out; those that
    claim an expected run's key are reported)."""
    report = on_damaged or (lambda why: None)
    settings = [c for c in columns if c not in PREFIX and c not in SUFFIX]
    blank = {m: None for m in METRICS}
    measured_columns = {*METRICS, ENGINE_COLUMN}
    out: dict[Key, dict[str, str]] = {}
    for entry in expected:
        row = rows.get(entry.key)
        if row is None:
            continue
        cells = result_row(entry.run, blank, settings)
        wrong = [c for c in settings if c not in measured_columns and row[c] != cells[c]]
        wrong = [c for c in ("label", "phase") if row[c] != getattr(entry, c)] + wrong
        if row["trial"] != str(entry.trial):
            wrong.insert(0, "trial")
        if wrong:
            report(
                f"the row of {entry.problem} run {entry.key[1]} has another {wrong[0]!r} than "
                "that run"
            )
            continue
        out[entry.key] = dict(row)
    return out
