"""``descentlab predict MODEL DATA.csv``: predictions for new examples — classes and their
probabilities, or the targets of a regression model.

The CSV has a header row and one row per example; it must hold every feature column the
model was trained on (by name, in any order). The model's target column, if present, is not
used for prediction: it gives the accuracy (regression: the mean squared error), printed on
stderr. Other columns are ignored. The output CSV has one row per input row:

- classification: ``prediction`` (the original class label) and ``p_<class>`` for each
  class (the probabilities ``predict_proba``, summing to 1);
- regression: the network's linear outputs ``A[L]`` (:meth:`~descentlab.nn.MLP.forward`),
  one column per target: ``prediction`` for one target, ``prediction_1``, ... for several,
  numbers in ``repr`` form (they read back exactly). The error is measured for a one-target
  model whose target column is in the CSV.

Nothing is written unless everything is right: the model file is checked
(:func:`descentlab.model_file.load_model`), the whole CSV is read and checked (the labels
against the model's classes, or as numbers for regression, too), ``--out`` is checked to be writable
and every probability (or predicted value) to be finite; only then are the predictions
written, atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import DataError
from descentlab.cli.options import add_command
from descentlab.datasets import read_csv
from descentlab.io import atomic_write, check_writable
from descentlab.model_file import SavedModel, load_model

__all__ = ["add_parser", "read_features", "run"]

EPILOG = """\
examples:
  descentlab predict model.npz points.csv
      print the predictions as CSV on stdout
  descentlab predict model.npz points.csv --out predictions.csv
      write them to a file; if points.csv has the label column, print the accuracy
  descentlab datasets --export moons:seed=7 points.csv && descentlab predict model.npz points.csv
"""


def read_features(
    path: str | Path, feature_names: tuple[str, ...], target: str | None
) -> tuple[np.ndarray, list[str] | None]:
    """Read the feature columns of a CSV as ``X`` ``(n_features, m)``, plus the target cells.

    The columns are found by name (any order, other columns ignored) by
    :func:`descentlab.datasets.read_csv`; the target cells are None when the CSV has no
    ``target`` column.

    Raises:
      DataError: missing/unreadable file, no header, a missing feature column (the message
        lists what the model needs), a ragged row, an empty, non-numeric, NaN or inf value,
        an empty label, no examples.
    """
    _, X, labels = read_csv(
        path, columns=feature_names, target=target, require_target=False, needed_by="the model"
    )
    if X.shape[0] == 0:
        raise DataError(f"'{path}' has a header but no examples.")
    return X.T, labels


def _label_index(classes: tuple[Any, ...], cells: list[str], path: Path, target: str) -> np.ndarray:
    lookup: dict[Any, int] = {}
    for k, c in enumerate(classes):
        lookup[str(c)] = k
        if isinstance(c, int | float) and not isinstance(c, bool):
            lookup[float(c)] = k
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        k = lookup.get(cell)
        if k is None:
            with contextlib.suppress(ValueError):  # "1.0" finds the class 1
                k = lookup.get(float(cell))
        if k is None:
            raise DataError(
                f"The label {cell!r} in column {target!r} of '{path}' (row {i + 1}) is not one "
                f"of the model's classes {list(classes)!r}."
            )
        out[i] = k
    return out


SUMMARY = "predict classes and probabilities (or regression targets) for the rows of a CSV"

DESCRIPTION = (
    "Apply a model saved by descentlab train to the rows of a CSV file (with the "
    "model's feature columns) and write the predicted class and the probability of "
    "each class as CSV; for a regression model, the predicted target value(s)."
)


def add_parser(subparsers: Any) -> None:
    """Register ``descentlab predict``."""
    p = add_command(subparsers, "predict", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("model", metavar="MODEL", help="model file written by descentlab train (.npz)")
    p.add_argument("data", metavar="DATA.csv", help="CSV with a header and the feature columns")
    p.add_argument("--out", metavar="FILE", help="write the predictions here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Run ``descentlab predict``: check everything, then write the predictions."""
    model = load_model(args.model)
    if model.task == "regression":
        return _run_regression(args, model)
    X, labels = read_features(args.data, model.feature_names, model.target)
    y = None
    if labels is not None:
        y = _label_index(model.classes, labels, Path(args.data), str(model.target))
    if args.out:
        check_writable(args.out, folder=False, parents=False)
    proba = _probabilities(model, X, args.data)
    pred = np.argmax(proba, axis=0)
    text = _predictions_csv(model.classes, pred, proba)
    if args.out:
        atomic_write(args.out, text)
        print(f"Wrote {X.shape[1]} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    if y is not None:
        correct = int(np.sum(pred == y))
        print(
            f"Accuracy on column {model.target!r}: {correct / y.size:.4f} ({correct}/{y.size})",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0


def _run_regression(args: argparse.Namespace, model: SavedModel) -> int:
    """``descentlab predict`` for a regression model: the predicted targets, and the mean
    squared error when the CSV has the target column (one-target models)."""
    target = model.target if model.n_targets == 1 else None
    X, cells = read_features(args.data, model.feature_names, target)
    y = None if cells is None else _target_values(cells, Path(args.data), str(target))
    if args.out:
        check_writable(args.out, folder=False, parents=False)
    A = _outputs(model, X, args.data)
    text = _values_csv(A)
    if args.out:
        atomic_write(args.out, text)
        print(f"Wrote {X.shape[1]} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    if y is not None:
        mse = float(np.mean((A[0] - y) ** 2))
        print(
            f"Mean squared error on column {target!r}: {mse:.6g} (the model's cost "
            f"J = {mse / 2:.6g}, {y.size} rows)",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0


def _target_values(cells: list[str], path: Path, target: str) -> np.ndarray:
    """The target column's cells as finite floats ``(m,)``."""
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            values[i] = float(cell)
        except ValueError:
            values[i] = np.nan
        if not np.isfinite(values[i]):
            raise DataError(
                f"The target {cell!r:.40} in column {target!r} of '{path}' (row {i + 1}) is not "
                "a finite number; a regression model predicts numbers."
            )
    return values


def _outputs(model: SavedModel, X: np.ndarray, data: str) -> np.ndarray:
    """The linear outputs ``A[L]`` ``(n_targets, m)`` of a regression model for the
    (standardised) examples ``X`` ``(n_features, m)``; a row whose output overflows is refused."""
    with np.errstate(all="ignore"):
        X_in = (X - model.mean) / model.std if model.mean is not None else X
        A, _ = model.net.forward(model.params, X_in)
    finite = np.all(np.isfinite(A), axis=0)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DataError(
            f"The model gives no finite prediction for row {row + 1} of '{data}': its values "
            "are too large for this model's weights."
        )
    return A


def _values_csv(A: np.ndarray) -> str:
    """One row per example: its predicted targets ``A[:, i]`` (``prediction``, or
    ``prediction_1``, ... for several)."""
    n = A.shape[0]
    header = ["prediction"] if n == 1 else [f"prediction_{j + 1}" for j in range(n)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([repr(float(v)) for v in column] for column in A.T)
    return buf.getvalue()


def _probabilities(model: SavedModel, X: np.ndarray, data: str) -> np.ndarray:
    """``predict_proba`` of the (standardised) examples ``X`` ``(n_features, m)``: ``(n_classes,
    m)``. Inputs far outside what the model saw can overflow; such a row is refused."""
    with np.errstate(all="ignore"):
        X_in = (X - model.mean) / model.std if model.mean is not None else X
        proba = model.net.predict_proba(model.params, X_in)
    finite = np.all(np.isfinite(proba), axis=0)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DataError(
            f"The model gives no finite probabilities for row {row + 1} of '{data}': its values "
            "are too large for this model's weights."
        )
    return proba


def _predictions_csv(classes: tuple[Any, ...], pred: np.ndarray, proba: np.ndarray) -> str:
    """One row per example: the predicted label, then the probability of each class."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["prediction", *(f"p_{c}" for c in classes)])
    for i in range(proba.shape[1]):
        w.writerow([classes[pred[i]], *(f"{p:.6f}" for p in proba[:, i])])
    return buf.getvalue()
