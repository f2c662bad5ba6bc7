"""Run folders and output files: where results go, checked before any work, written atomically.

- :func:`default_run_path` — the one maker of default output paths,
  ``runs/<name>-<YYYYmmdd-HHMMSS><suffix>`` (``-2``, ``-3``, ... when taken); whatever the
  path, callers check it with :func:`descentlab.io.check_writable` before any training;
- the files of a comparison's run folder, written atomically and read back with every field
  checked (a damaged or foreign file is a one-line :class:`~descentlab._validation.DataError`):
  ``results.json`` (:func:`results_to_json`, :func:`read_results_json`), ``history.csv``
  (:func:`write_history_csv`, :func:`read_history_csv`), ``models.npz``
  (:func:`write_models`, :func:`read_models`) and, with ``compare --save-trajectory N``,
  ``trajectory.npz`` (:func:`write_trajectory`, :func:`read_trajectory`);
- :func:`deferred_interrupts` — hold Ctrl-C and SIGTERM while the final files are written.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import math
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import DataError, check_json
from descentlab.io import atomic_writer, json_default
from descentlab.npz import MAX_MEMBERS, NpzArchive, open_npz
from descentlab.optimizers.base import Params
from descentlab.training import History

__all__ = [
    "DIAGNOSTIC_PREFIX",
    "HISTORY_COLUMNS",
    "LANDSCAPE_FILES",
    "RESULTS_SCHEMA",
    "TRAJECTORY_FILE",
    "default_run_path",
    "deferred_interrupts",
    "history_diagnostics",
    "read_history_csv",
    "read_models",
    "read_results_json",
    "read_trajectory",
    "results_to_json",
    "write_history_csv",
    "write_models",
    "write_trajectory",
]

TRAJECTORY_FILE = "trajectory.npz"
"""The weight snapshots of ``descentlab compare --save-trajectory N`` (:func:`write_trajectory`)."""
LANDSCAPE_FILES = ("landscape.npz", "landscape_slices.png", "landscape_paths.png")
"""What ``descentlab landscape`` writes in a run folder (:mod:`descentlab.landscape`); a new
comparison in the same folder removes them with ``trajectory.npz``, since they describe the
weights of the run before."""

HISTORY_COLUMNS = (
    "optimizer",
    "epoch",
    "cost",
    "last_batch_cost",
    "learning_rate",
    "train_accuracy",
    "test_accuracy",
    "test_cost",
)
"""Columns of ``history.csv``. The accuracies and the test cost are measured on evaluation
epochs only (empty cells elsewhere); an accuracy is ``nan`` where it is undefined (a
regression run). Files written before ``test_cost`` existed lack that column and are read
all the same. A run with training diagnostics (``compare --diagnostics``) adds one column
``diag_<name>`` per diagnostic after these (:data:`DIAGNOSTIC_PREFIX`), filled on evaluation
epochs."""
DIAGNOSTIC_PREFIX = "diag_"
"""Prefix of ``history.csv``'s diagnostics columns (:class:`descentlab.diagnostics.Recorder`'s
names: ``diag_grad_norm``, ``diag_sharpness``, ...)."""

_NUMBER_OR_NULL = (float, type(None))
RESULTS_SCHEMA: dict[str, Any] = {
    "name": str,
    "partial": bool,
    "layer_dims": [int],
    "dataset": {
        "name": str,
        "n_features": int,
        "n_classes": int,
        "classes": [(str, int, float, bool)],
        "feature_names": [str],
        "n_train": int,
        "n_test": int,
    },
    "runs": [
        {
            "optimizer": str,
            "label": str,
            "hyperparameters": dict,
            "status": str,
            "message": str,
            "epochs_run": int,
            "train_accuracy": _NUMBER_OR_NULL,
            "test_accuracy": _NUMBER_OR_NULL,
            "final_cost": _NUMBER_OR_NULL,
            "seconds": _NUMBER_OR_NULL,
            "engine?": (str, type(None)),
        }
    ],
    "engine_note?": str,
}
"""What ``results.json`` must hold (the fields its readers use); other fields are allowed.
A key ending in ``?`` may be absent (``engine``, ``engine_note``: files written before the
engine switch have neither)."""


# ----------------------------------------------------------------------------- paths


def default_run_path(name: str, *, suffix: str = "", root: str | Path = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS><suffix>``, with ``-2``, ``-3``, ... if that path is taken.

    >>> default_run_path("moons").parent.name
    'runs'
    """
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    path, n = Path(root) / f"{base}{suffix}", 1
    while path.exists():
        n += 1
        path = Path(root) / f"{base}-{n}{suffix}"
    return path


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Hold Ctrl-C (SIGINT) and SIGTERM while the final files are written; yields the signals
    that arrived meanwhile. Only the main thread can hold signals; elsewhere it does nothing."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda number, _frame: caught.append(number)) for s in held}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# ----------------------------------------------------------------------------- results.json


def results_to_json(results: Mapping[str, Any]) -> str:
    """``results`` as strict JSON text: a number that is not finite (NaN, inf: the accuracy of
    a regression run, the cost of a diverged one) is written ``null``, at any depth, NumPy
    scalars and arrays included.

    >>> print(results_to_json({"acc": float("nan"), "costs": np.array([0.5, np.inf])}), end="")
    {
      "acc": null,
      "costs": [
        0.5,
        null
      ]
    }
    """
    return json.dumps(_finite_or_null(results), indent=2, default=json_default) + "\n"


def _finite_or_null(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (tables and lists walked,
    NumPy values turned into Python ones)."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def read_results_json(path: str | Path) -> dict[str, Any]:
    """Read a run folder's ``results.json``, checked against :data:`RESULTS_SCHEMA`.

    Raises:
      DataError: missing, unreadable, not JSON, or not a descentlab results file.
    """
    path = Path(path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"No such file: '{path}'.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"Cannot read '{path}' as a descentlab results file: {exc}.") from None
    check_json(results, RESULTS_SCHEMA, f"'{path}'")
    if len(results["layer_dims"]) < 2 or min(results["layer_dims"]) < 1:
        raise DataError(f"'{path}' is damaged: layer_dims must be at least two sizes >= 1.")
    labels = [r["label"] for r in results["runs"]]
    if len(set(labels)) != len(labels):
        raise DataError(f"'{path}' is damaged: a label appears twice in runs.")
    return results


# ----------------------------------------------------------------------------- history.csv


def write_history_csv(path: Path, histories: Sequence[tuple[str, History]]) -> None:
    """One row per optimizer (its label) and epoch: :data:`HISTORY_COLUMNS`; ``test_accuracy``
    and ``test_cost`` are the history's ``val_accuracy`` and ``val_cost`` (a comparison
    evaluates on its test data), then a ``diag_<name>`` column per diagnostic any history
    holds (empty cells for a history without it)."""
    names = list(dict.fromkeys(k for _, h in histories for k in h.diagnostics))
    with atomic_writer(path, newline="") as f:
        w = csv.writer(f)
        w.writerow([*HISTORY_COLUMNS, *(DIAGNOSTIC_PREFIX + k for k in names)])
        for label, h in histories:
            diagnostics = [h.diagnostics.get(k, np.zeros(0)) for k in names]
            evals = {int(e): i for i, e in enumerate(h.eval_epochs)}
            for epoch in range(h.n_epochs):
                i = evals.get(epoch)
                w.writerow(
                    [
                        label,
                        epoch,
                        repr(float(h.cost[epoch])),
                        repr(float(h.last_batch_cost[epoch])),
                        repr(float(h.learning_rate[epoch])),
                        _evaluated(h.train_accuracy, i),
                        _evaluated(h.val_accuracy, i),
                        _evaluated(h.val_cost, i),
                        *(_evaluated(values, i) for values in diagnostics),
                    ]
                )


def _evaluated(values: np.ndarray, i: int | None) -> str:
    """The cell of evaluation ``i`` (``repr`` of the number), empty on an epoch that was not
    evaluated or when nothing was measured."""
    return repr(float(values[i])) if i is not None and i < values.size else ""


def _history_header(header: Sequence[str]) -> bool:
    """Whether ``header`` is a history's: :data:`HISTORY_COLUMNS` (or without ``test_cost``),
    then only distinct ``diag_*`` columns."""
    if tuple(header) == HISTORY_COLUMNS[:-1]:
        return True
    extra = header[len(HISTORY_COLUMNS) :]
    return (
        tuple(header[: len(HISTORY_COLUMNS)]) == HISTORY_COLUMNS
        and all(c.startswith(DIAGNOSTIC_PREFIX) and len(c) > len(DIAGNOSTIC_PREFIX) for c in extra)
        and len(set(extra)) == len(extra)
    )


def read_history_csv(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read ``history.csv``: label → column → array (empty cells are NaN), in file order.
    A file without the last column, ``test_cost`` (written before it existed), reads with
    that column all NaN; ``diag_*`` columns after :data:`HISTORY_COLUMNS` are read as well.

    Raises:
      DataError: missing or unreadable file, not a descentlab history, a row of the wrong
        length or with a cell that is not a number.
    """
    path = Path(path)
    out: dict[str, dict[str, list[float]]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or not _history_header(header):
                raise DataError(
                    f"'{path}' is not a descentlab history: expected the columns "
                    f"{', '.join(HISTORY_COLUMNS)}."
                )
            for row in reader:
                if len(row) != len(header):
                    raise DataError(
                        f"Line {reader.line_num} of '{path}' has {len(row)} fields; a history "
                        f"row has {len(header)}."
                    )
                names = [*HISTORY_COLUMNS[1:], *header[len(HISTORY_COLUMNS) :]]
                cols = out.setdefault(row[0], {c: [] for c in names})
                cells = [*row[1:], ""] if len(header) < len(HISTORY_COLUMNS) else row[1:]
                for c, v in zip(names, cells, strict=True):
                    cols[c].append(float(v) if v != "" else math.nan)
    except FileNotFoundError:
        raise DataError(f"No such file: '{path}'.") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"Cannot read '{path}' as a descentlab history: {exc}.") from None
    return {k: {c: np.asarray(v) for c, v in cols.items()} for k, cols in out.items()}


def history_diagnostics(
    history: Mapping[str, Mapping[str, np.ndarray]],
) -> dict[str, dict[str, np.ndarray]]:
    """The diagnostics in :func:`read_history_csv`'s columns: label → ``{"epoch": (n,),
    name: (n,), ...}`` on the epochs they were measured (``diag_grad_norm`` is a number),
    names without the ``diag_`` prefix; labels without diagnostics are left out."""
    out = {}
    for label, cols in history.items():
        names = [c for c in cols if c.startswith(DIAGNOSTIC_PREFIX)]
        measured = ~np.isnan(cols.get(DIAGNOSTIC_PREFIX + "grad_norm", np.zeros(0)))
        if not names or not measured.any():
            continue
        out[label] = {"epoch": cols["epoch"][measured]}
        out[label].update({c[len(DIAGNOSTIC_PREFIX) :]: cols[c][measured] for c in names})
    return out


# ----------------------------------------------------------------------------- models.npz


def write_models(path: Path, models: Sequence[tuple[str, Params]]) -> None:
    """The trained parameters of each optimizer (its label): ``run<i>/<key>`` arrays + ``labels``."""
    arrays = {f"run{i}/{k}": v for i, (_, p) in enumerate(models) for k, v in p.items()}
    arrays["labels"] = np.array([label for label, _ in models], dtype=str)
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)


def read_models(path: str | Path, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Params]:
    """Read ``models.npz``: label → parameters, each checked against ``shapes`` (the network's).

    The archive is read through :func:`descentlab.npz.open_npz`; each parameter's header is
    checked against ``shapes`` before its data is read.

    Raises:
      DataError: what :func:`~descentlab.npz.open_npz` refuses (missing, unreadable, not an
        archive of plain arrays, a damaged array); no ``labels``, or labels that are not
        distinct texts; an array of no run; parameters that do not fit the network
        (missing, extra, wrong shape or not floats).
    """
    path = Path(path)
    with open_npz(path) as archive:
        runs = {f"run{i}": label for i, label in enumerate(_model_labels(archive, path))}
        out: dict[str, Params] = {label: {} for label in runs.values()}
        for key in archive.names:
            if key == "labels":
                continue
            run, _, name = key.partition("/")
            if run not in runs:
                raise DataError(f"'{path}' holds an unknown array {key!r:.80}.")
            shape, dtype = archive.header(key)
            if shapes.get(name) != shape or dtype.kind != "f":
                raise _misfit(path, runs[run], shapes)
            out[runs[run]][name] = archive.read(key)
    for label, params in out.items():
        if set(params) != set(shapes):
            raise _misfit(path, label, shapes)
    return out


def _model_labels(archive: NpzArchive, path: Path) -> list[str]:
    """The labels of the runs, in run order: distinct texts."""
    if "labels" not in archive:
        raise DataError(f"'{path}' is not a descentlab models file.")
    shape, dtype = archive.header("labels")
    if len(shape) != 1 or shape[0] > MAX_MEMBERS or dtype.kind != "U":
        raise DataError(
            f"'{path}' is damaged: labels must be a list of texts, one per run; found "
            f"{dtype} of shape {shape}."
        )
    labels = [str(s) for s in archive.read("labels")]
    if len(set(labels)) != len(labels):
        raise DataError(f"'{path}' is damaged: a label appears twice in labels.")
    return labels


def _misfit(path: Path, label: str, shapes: Mapping[str, tuple[int, ...]]) -> DataError:
    return DataError(
        f"'{path}' is damaged: the parameters of {label!r:.80} do not fit the network "
        f"({', '.join(f'{k} {s}' for k, s in shapes.items())})."
    )


# ----------------------------------------------------------------------------- trajectory.npz


def write_trajectory(
    path: Path, epochs: Sequence[int], models: Sequence[tuple[str, Params]]
) -> None:
    """Weight snapshots of each optimizer (its label): ``run<i>/<key>`` arrays ``(S, *shape)``
    (snapshot s of ``W1`` is ``run<i>/W1[s]``), ``epochs`` ``(S,)`` (the epochs done at each
    snapshot: 0 is the initial weights, the last one the final weights of ``models.npz``) and
    ``labels``. NPZ of plain arrays (no pickle), written atomically."""
    arrays = {f"run{i}/{k}": v for i, (_, p) in enumerate(models) for k, v in p.items()}
    arrays["labels"] = np.array([label for label, _ in models], dtype=str)
    arrays["epochs"] = np.asarray(epochs, dtype=np.int64)
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)


def read_trajectory(
    path: str | Path, shapes: Mapping[str, tuple[int, ...]]
) -> tuple[np.ndarray, dict[str, Params]]:
    """Read ``trajectory.npz``: ``(epochs (S,), label → parameters (S, *shape))``.

    Every header is checked before data is read: ``epochs`` strictly increasing whole numbers
    from 0, each parameter ``(S, *shapes[key])`` of floats.

    Raises:
      DataError: what :func:`~descentlab.npz.open_npz` refuses; no ``labels`` or ``epochs``,
        or ones that are damaged; parameters that do not fit the network.
    """
    path = Path(path)
    with open_npz(path) as archive:
        runs = {f"run{i}": label for i, label in enumerate(_model_labels(archive, path))}
        epochs = _snapshot_epochs(archive, path)
        stacked = {k: (len(epochs), *s) for k, s in shapes.items()}
        out: dict[str, Params] = {label: {} for label in runs.values()}
        for key in archive.names:
            if key in ("labels", "epochs"):
                continue
            run, _, name = key.partition("/")
            if run not in runs:
                raise DataError(f"'{path}' holds an unknown array {key!r:.80}.")
            shape, dtype = archive.header(key)
            if stacked.get(name) != shape or dtype.kind != "f":
                raise _misfit(path, runs[run], stacked)
            out[runs[run]][name] = archive.read(key)
    for label, params in out.items():
        if set(params) != set(shapes):
            raise _misfit(path, label, stacked)
    return epochs, out


def _snapshot_epochs(archive: NpzArchive, path: Path) -> np.ndarray:
    """The ``epochs`` of a trajectory: ``(S,)`` ints, ``0 <= e_0 < e_1 < ...``."""
    if "epochs" not in archive:
        raise DataError(f"'{path}' is not a descentlab trajectory file (no epochs).")
    shape, dtype = archive.header("epochs")
    if len(shape) != 1 or not 1 <= shape[0] <= MAX_MEMBERS or dtype.kind not in "iu":
        raise DataError(
            f"'{path}' is damaged: epochs must be 1 to {MAX_MEMBERS} whole numbers; found "
            f"{dtype} of shape {shape}."
        )
    epochs = archive.read("epochs").astype(np.int64)
    if epochs[0] < 0 or np.any(np.diff(epochs) <= 0):
        raise DataError(f"'{path}' is damaged: epochs must increase from 0 or more.")
    return epochs
