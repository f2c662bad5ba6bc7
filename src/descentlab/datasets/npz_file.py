"""NumPy ``.npz`` data sets: :func:`load_npz`, which reads the archive through
:func:`descentlab.npz.open_npz` (every array's header checked before its data) and checks
what the arrays must mean: ``X`` 2-D numbers, one label per row, feature names."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from descentlab._validation import DataError
from descentlab.datasets.container import Dataset, encode_labels
from descentlab.datasets.files import _check_examples, _finalize, _listing
from descentlab.npz import NpzError, open_npz

__all__ = ["load_npz"]


# --------------------------------------------------------------------------- NPZ


def _read_npz(
    path: Path, features: str, target: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X, labels, feature_names or None)`` from the archive, each array checked as read."""
    try:
        with open_npz(path) as archive:
            for key, argument, what in (
                (features, "features", "feature"),
                (target, "target", "label"),
            ):
                if key not in archive:
                    raise DataError(
                        f"Array {key!r} not found in '{path}'; it holds: "
                        f"{_listing(sorted(archive.names)) or 'nothing'}. Pass {argument}=... "
                        f"to name the {what} array."
                    )
            X = archive.read(features)
            labels = archive.read(target)
            names = archive.read("feature_names") if "feature_names" in archive else None
    except NpzError as exc:
        raise DataError(
            f"Cannot read '{path}' as an .npz archive of plain arrays: {exc.reason}. Save it "
            f"with np.savez(path, {features}=X, {target}=y) (no object arrays)."
        ) from None
    return X, labels, names


def _check_npz_features(X: np.ndarray, path: Path, features: str) -> None:
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise DataError(
            f"{features!r} in '{path}' must be a 2-D numeric array of shape (m, n_features), "
            f"one row per example; got shape {X.shape} and dtype {X.dtype}."
        )
    if X.shape[1] == 0:
        raise DataError(
            f"{features!r} in '{path}' has no feature columns (shape {X.shape}); it must be "
            "(m, n_features) with at least one feature."
        )


def _npz_labels(labels: np.ndarray, path: Path, target: str, features: str, m: int) -> np.ndarray:
    """The labels as ``(m,)`` numbers or text: a ``(m, 1)`` or ``(1, m)`` array is flattened;
    other shapes, other dtypes and NaN or inf are refused."""
    if labels.dtype.kind not in "biufUS":
        raise DataError(
            f"{target!r} in '{path}' must hold numbers or strings, one label per row; got "
            f"dtype {labels.dtype}."
        )
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1:
        raise DataError(
            f"{target!r} in '{path}' must have shape (m,), one label per row of {features!r}; "
            f"got shape {labels.shape}."
        )
    if labels.shape[0] != m:
        raise DataError(
            f"Found {m} examples in {features!r} and {labels.shape[0]} in {target!r} of "
            f"'{path}'; {target!r} must have shape (m,) with one label per row."
        )
    if labels.dtype.kind == "S":
        try:
            labels = np.char.decode(labels, "utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{target!r} in '{path}' holds bytes that are not UTF-8 text; save the labels "
                "as numbers or str."
            ) from exc
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        i = int(np.flatnonzero(~np.isfinite(labels))[0])
        raise DataError(
            f"{target!r} in '{path}' holds {labels[i]} at row {i}; every example needs a "
            "finite label: fill it in or drop the row."
        )
    return labels


def _npz_feature_names(names: np.ndarray | None, path: Path, n: int) -> list[str]:
    """The ``n`` feature names: a 1-D array of strings, or ``x1 ... xn`` when absent."""
    if names is None:
        return [f"x{j + 1}" for j in range(n)]
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(
            f"'feature_names' in '{path}' must be a 1-D array of {n} strings, one per feature "
            f"column; got shape {names.shape} and dtype {names.dtype}."
        )
    if names.shape[0] != n:
        raise DataError(f"'{path}' holds {names.shape[0]} feature_names for {n} feature columns.")
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in names.tolist()]
    except UnicodeDecodeError as exc:
        raise DataError(f"'feature_names' in '{path}' are bytes that are not UTF-8 text.") from exc


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
    to ``(n, m)`` here. Only plain arrays are read: each member's header is checked before
    its data (pickled object arrays are never loaded; arrays above
    ``limits.MAX_MEMORY_BYTES`` are refused).

    Args:
        path: the file.
        target: key of the label array.
        features: key of the feature array.
        standardize: standardise with this file's own mean and std.
        name: the dataset's name; default the file name without extension.

    Raises:
        DataError: what :func:`descentlab.npz.open_npz` refuses (a missing, unreadable or
            non-regular file; empty, not a zip, a single ``.npy`` array, a damaged or truncated
            archive; a member that is not an array or whose header is garbled, an object
            array, one too large); missing key (the message lists the keys); ``X``
            not 2-D numbers with at least one column; labels not numbers or strings of shape
            ``(m,)``, or holding NaN or inf; ``feature_names`` not ``n`` strings; NaN or inf
            in ``X`` (named by feature and row); a single class; fewer than 2 rows.
    """
    path = Path(path)
    X, labels, names = _read_npz(path, features, target)
    _check_npz_features(X, path, features)
    labels = _npz_labels(labels, path, target, features, X.shape[0])
    feature_names = _npz_feature_names(names, path, X.shape[1])
    X = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise DataError(
            f"Feature {feature_names[j]!r} (column {j}) of {features!r} in '{path}' holds "
            f"{X[i, j]} at row {i}; fill in or drop that value."
        )
    _check_examples(path, X.shape[0])
    y, classes = encode_labels(labels)
    return _finalize(path, name, X, y, classes, feature_names, target, standardize)
