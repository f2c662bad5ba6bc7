"""Data files with one row per example (CSV, NPZ): read, checked, transposed once, here."""

from __future__ import annotations

import csv
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from descentlab._validation import DataError
from descentlab.datasets.container import Dataset, encode_labels

__all__ = ["load_csv", "load_npz", "read_csv"]


def _open_error(path: Path, exc: OSError) -> DataError:
    if isinstance(exc, FileNotFoundError):
        return DataError(f"No such file: '{path}'. Check the path (relative to {Path.cwd()}).")
    reason = exc.strerror or str(exc)
    return DataError(f"Cannot read '{path}': {reason}. Check that it is a readable file.")


def _finalize(
    path: Path,
    name: str | None,
    X: np.ndarray,
    labels: np.ndarray,
    feature_names: Sequence[str],
    target: str,
    standardize: bool,
) -> Dataset:
    """Rows-as-samples ``X`` (m, n) and raw labels → a Dataset (transposed here, once)."""
    m = X.shape[0]
    if m < 2:
        raise DataError(
            f"'{path}' has {m} example{'s' if m != 1 else ''}; at least 2 are needed "
            "(one row per example)."
        )
    y, classes = encode_labels(labels)
    if len(classes) < 2:
        raise DataError(
            f"The target {target!r} in '{path}' holds a single class ({classes[0]!r}); "
            "classification needs at least two. Check the target column."
        )
    ds = Dataset(name or path.stem, X.T, y, classes, tuple(feature_names))
    return ds.standardized()[0] if standardize else ds


def _parse_number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def read_csv(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    target: str | None = None,
    require_target: bool = True,
    delimiter: str = ",",
    needed_by: str | None = None,
) -> tuple[list[str], np.ndarray, list[str] | None]:
    """Read a CSV file with a header row and one row per example: numeric features and labels.

    The feature columns are ``columns`` (by name, in that order; other columns are ignored),
    or, when ``columns`` is None, every column except ``target``. The ``target`` column's
    cells are the labels, kept as text (stripped). Blank lines are skipped. Rows stay rows:
    ``X[i, j]`` is feature ``j`` of the example on the ``i``-th data row; the callers
    transpose (the one transpose, at the boundary).

    Args:
        path: the file (UTF-8, with or without a byte-order mark).
        columns: the feature columns to read, or None for all but ``target``.
        target: the name of the label column (header cell), or None for no labels.
        require_target: raise if ``target`` is not in the header; else ``labels`` is None.
        delimiter: the field separator.
        needed_by: who needs ``columns``, for the message when some are missing
            (``"the model"``: "... the model needs the columns ...").

    Returns:
        ``(feature_names, X, labels)``: ``X`` float64 of shape ``(m, n_features)``;
        ``labels`` the ``m`` target cells, or None when there is no target column.
        ``m`` may be 0 (a header and no rows): the callers say how many they need.

    Raises:
        DataError: missing, unreadable or empty file; a header that looks like data (when
            ``columns`` is None); a column read appearing twice in the header; a missing
            feature column (the message lists what is needed and what was found); no such
            target column (the message lists the columns); only the target column; a ragged
            row; an empty target cell; a non-numeric, empty, NaN or inf feature value
            (named by column and line).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "pets.csv"
    ...     _ = path.write_text("weight,kind,height\\n4.0,cat,25\\n30,dog,60\\n")
    ...     every = read_csv(path, target="kind")
    ...     some = read_csv(path, columns=["height"], target="owner", require_target=False)
    >>> names, X, labels = every
    >>> names, X.tolist(), labels
    (['weight', 'height'], [[4.0, 25.0], [30.0, 60.0]], ['cat', 'dog'])
    >>> some[0], some[1].tolist(), some[2]
    (['height'], [[25.0], [60.0]], None)
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            while header is not None and not any(c.strip() for c in header):
                header = next(reader, None)
            if header is None:
                raise DataError(
                    f"'{path}' is empty; expected a header row naming the columns, "
                    "then one row per example."
                )
            header = [c.strip() for c in header]
            if columns is None and all(_parse_number(c) is not None for c in header):
                raise DataError(
                    f"The first row of '{path}' ({delimiter.join(header[:5])}...) looks like "
                    "data, but a header row naming the columns is required; add one."
                )
            used = set(header) if columns is None else {*columns, target}
            for c in header:
                if c in used and header.count(c) > 1:
                    raise DataError(f"Column {c!r} appears twice in the header of '{path}'.")
            if columns is not None:
                missing = [c for c in columns if c not in header]
                if missing:
                    needs = (
                        f"{needed_by} needs the columns" if needed_by else "the columns needed are"
                    )
                    raise DataError(
                        f"'{path}' lacks the feature column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(map(repr, missing))}; {needs} "
                        f"{', '.join(map(repr, columns))} (found {', '.join(map(repr, header))})."
                    )
            if require_target and target is not None and target not in header:
                available = ", ".join(repr(c) for c in header)
                raise DataError(
                    f"Target column {target!r} not found in '{path}'. Available columns: "
                    f"{available}. Pass one of them as target."
                )
            t = header.index(target) if target in header else None
            if columns is None:
                feature_names = [c for j, c in enumerate(header) if j != t]
                if not feature_names:
                    raise DataError(
                        f"'{path}' has only the target column {target!r}; at least one feature "
                        "column is needed."
                    )
            else:
                feature_names = list(columns)
            cols = [header.index(c) for c in feature_names]
            rows: list[list[float]] = []
            labels: list[str] = []
            for row in reader:
                if not any(c.strip() for c in row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise DataError(
                        f"Line {line} of '{path}' has {len(row)} fields, but the header has "
                        f"{len(header)}. Check the delimiter and quoting."
                    )
                rows.append(
                    [_parse_csv_feature(row[j].strip(), header[j], line, path) for j in cols]
                )
                if t is not None:
                    label = row[t].strip()
                    if not label:
                        raise DataError(
                            f"The target column {target!r} is empty at line {line} of "
                            f"'{path}'; every example needs a label."
                        )
                    labels.append(label)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Cannot read '{path}': it is not UTF-8 text ({exc.reason}). Save it as UTF-8 CSV."
        ) from exc
    except csv.Error as exc:
        raise DataError(f"Cannot read '{path}' as CSV: {exc}.") from exc
    except OSError as exc:
        raise _open_error(path, exc) from exc
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(feature_names))
    return feature_names, X, (labels if t is not None else None)


def _parse_csv_feature(cell: str, column: str, line: int, path: Path) -> float:
    if not cell:
        raise DataError(
            f"Column {column!r} at line {line} of '{path}' is empty (a missing value); "
            "fill it in or drop the row."
        )
    value = _parse_number(cell)
    if value is None:
        raise DataError(
            f"Column {column!r} at line {line} of '{path}' holds {cell!r}, which is not a "
            "number; feature columns must be numeric (encode or drop that column)."
        )
    if not math.isfinite(value):
        raise DataError(
            f"Column {column!r} at line {line} of '{path}' holds {cell!r} (NaN or inf); "
            "fill in or drop that value."
        )
    return value


def load_csv(
    path: str | os.PathLike[str],
    target: str,
    *,
    standardize: bool = False,
    delimiter: str = ",",
    name: str | None = None,
) -> Dataset:
    """Load a CSV file with a header row and one row per example.

    Every column except ``target`` is a numeric feature; the ``target`` column holds the
    labels (strings or numbers), encoded by :func:`encode_labels` (``classes`` sorted).
    The (m, n) table read by :func:`read_csv` becomes ``X`` of shape ``(n, m)`` — the one
    transpose, here.

    Args:
        path: the file.
        target: the name of the label column (header cell).
        standardize: standardise the features with this file's own mean and std
            (to apply a training set's statistics to a test set use
            :meth:`Dataset.standardized`).
        delimiter: the field separator.
        name: the dataset's name; default the file name without extension.

    Raises:
        DataError: missing, unreadable or empty file; no such target column (the message
            lists the columns); a ragged row; a non-numeric, empty, NaN or inf feature
            value (named by column and line); a single class; fewer than 2 rows
            (see :func:`read_csv`).
    """
    path = Path(path)
    feature_names, X, cells = read_csv(path, target=target, delimiter=delimiter)
    labels = cells or []  # never None: the target column is required
    numeric = [_parse_number(s) for s in labels]
    if labels and all(v is not None and math.isfinite(v) for v in numeric):
        label_array = np.array(numeric, dtype=np.float64)
    else:
        label_array = np.array(labels, dtype=str)
    return _finalize(path, name, X, label_array, feature_names, target, standardize)


def load_npz(
    path: str | os.PathLike[str],
    target: str = "y",
    *,
    features: str = "X",
    standardize: bool = False,
    name: str | None = None,
) -> Dataset:
    """Load a NumPy ``.npz`` archive holding ``X`` of shape ``(m, n)`` (one row per example,
    as NumPy users store it) and the labels ``y`` of shape ``(m,)``.

    An optional array ``feature_names`` (n strings) names the features. Labels may be
    numbers or strings; they are encoded by :func:`encode_labels`. ``X`` is transposed
    to ``(n, m)`` here. Pickled (object) arrays are refused.

    Args:
        path: the file.
        target: key of the label array.
        features: key of the feature array.
        standardize: standardise with this file's own mean and std.
        name: the dataset's name; default the file name without extension.

    Raises:
        DataError: missing or unreadable file, missing key (the message lists the keys),
            wrong shapes, NaN or inf (named by feature and row), a single class, fewer
            than 2 rows.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(
                f"'{path}' holds a single array, not an .npz archive; save it with "
                f"np.savez(path, {features}=X, {target}=y)."
            )
        with archive:
            keys = list(archive.files)
            for key, role in ((features, "features"), (target, "target")):
                if key not in keys:
                    raise DataError(
                        f"Array {key!r} not found in '{path}'; it holds: "
                        f"{', '.join(repr(k) for k in keys)}. Pass {role}=... to name the "
                        f"{'feature' if role == 'features' else 'label'} array."
                    )
            X = archive[features]
            labels = archive[target]
            names = archive["feature_names"] if "feature_names" in keys else None
    except DataError:
        raise
    except OSError as exc:
        raise _open_error(path, exc) from exc
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"Cannot read '{path}' as an .npz archive of plain arrays: {exc}. Save it with "
            f"np.savez(path, {features}=X, {target}=y) (no object arrays)."
        ) from exc
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise DataError(
            f"{features!r} in '{path}' must be a 2-D numeric array of shape (m, n_features), "
            f"one row per example; got shape {X.shape} and dtype {X.dtype}."
        )
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
        raise DataError(
            f"Found {X.shape[0]} examples in {features!r} and {labels.shape[0] if labels.ndim else 0}"
            f" in {target!r} of '{path}'; {target!r} must have shape (m,) with one label per row."
        )
    feature_names = (
        [str(v) for v in names.reshape(-1)]
        if names is not None
        else [f"x{j + 1}" for j in range(X.shape[1])]
    )
    if len(feature_names) != X.shape[1]:
        raise DataError(
            f"'{path}' holds {len(feature_names)} feature_names for {X.shape[1]} feature columns."
        )
    X = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise DataError(
            f"Feature {feature_names[j]!r} (column {j}) of {features!r} in '{path}' holds "
            f"{X[i, j]} at row {i}; fill in or drop that value."
        )
    return _finalize(path, name, X, labels, feature_names, target, standardize)
