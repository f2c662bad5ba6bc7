"""NumPy ``.npz`` archives of plain arrays: :func:`load_npz`, read member by member, every
array's header checked before its data."""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from descentlab import limits
from descentlab._validation import DataError
from descentlab.datasets.container import Dataset, encode_labels
from descentlab.datasets.files import (
    _check_examples,
    _check_regular_file,
    _finalize,
    _listing,
    _one_line,
    _open_error,
)

__all__ = ["load_npz"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_NPY_ERRORS = (ValueError, EOFError, OSError, RuntimeError, NotImplementedError, zlib.error)
"""What reading a damaged zip member or ``.npy`` header raises, besides ``zipfile.BadZipFile``."""


# --------------------------------------------------------------------------- NPZ


def _npz_error(path: Path, reason: str, features: str, target: str) -> DataError:
    return DataError(
        f"Cannot read '{path}' as an .npz archive of plain arrays: {reason}. Save it with "
        f"np.savez(path, {features}=X, {target}=y) (no object arrays)."
    )


def _check_npz_start(f: IO[bytes], path: Path, features: str, target: str) -> None:
    """Refuse, from its first bytes, a file that is not a zip archive (empty, a single
    ``.npy`` array, anything else)."""
    head = f.read(len(_NPY_MAGIC))
    f.seek(0)
    if head.startswith(_NPY_MAGIC):
        raise DataError(
            f"'{path}' holds a single array, not an .npz archive; save it with "
            f"np.savez(path, {features}=X, {target}=y)."
        )
    if not head:
        raise _npz_error(path, "the file is empty", features, target)
    if not head.startswith(_ZIP_MAGIC):
        raise _npz_error(
            path, "it is not a zip archive (an .npz file is a zip of .npy arrays)", features, target
        )


def _npz_member(names: set[str], key: str) -> str | None:
    """The zip member holding ``key``, as ``np.load`` finds it: ``key`` itself or ``key.npy``."""
    if key in names:
        return key
    return key + ".npy" if key + ".npy" in names else None


def _read_member(archive: zipfile.ZipFile, member: str, path: Path, key: str) -> np.ndarray:
    """One array of the archive. Its ``.npy`` header is read first: an object (pickled) array,
    or one larger than ``limits.MAX_MEMORY_BYTES`` or than the member's data, is refused
    before any data is read."""
    info = archive.getinfo(member)
    try:
        with archive.open(info) as fp:
            if fp.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                raise DataError(
                    f"{key!r} in '{path}' is not a NumPy array (no .npy header); save the "
                    "arrays with np.savez."
                )
            version = tuple(fp.read(2))
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unknown .npy format version {version}")
        _check_member_header(path, key, shape, dtype, info.file_size)
        with archive.open(info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except DataError:
        raise
    except (*_NPY_ERRORS, zipfile.BadZipFile) as exc:
        raise DataError(
            f"Cannot read '{path}' as an .npz archive of plain arrays: the array {key!r} is "
            f"damaged ({_one_line(exc)})."
        ) from exc


def _check_member_header(
    path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype, stored: int
) -> None:
    if dtype.hasobject:
        raise DataError(
            f"Cannot read '{path}' as an .npz archive of plain arrays: {key!r} is an object "
            "array (pickled Python objects), which descentlab never loads (unpickling can run "
            "code). Save numbers or strings."
        )
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > limits.MAX_MEMORY_BYTES:
        raise DataError(
            f"{key!r} in '{path}' has shape {shape} and dtype {dtype}: {nbytes} bytes, more than "
            f"the {limits.MAX_MEMORY_BYTES / 2**30:g} GiB descentlab loads "
            "(descentlab.limits.MAX_MEMORY_BYTES)."
        )
    if nbytes > stored:
        raise DataError(
            f"Cannot read '{path}' as an .npz archive of plain arrays: the array {key!r} is "
            f"truncated (its header announces {nbytes} bytes, the member holds {stored})."
        )


def _read_npz(
    path: Path, features: str, target: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X, labels, feature_names or None)`` from the archive, each member checked as read."""
    _check_regular_file(path)
    try:
        with path.open("rb") as f:
            _check_npz_start(f, path, features, target)
            with zipfile.ZipFile(f) as archive:
                names = set(archive.namelist())
                members = {}
                for key, role in ((features, "features"), (target, "target")):
                    members[key] = _npz_member(names, key)
                    if members[key] is None:
                        keys = sorted(n.removesuffix(".npy") for n in names)
                        raise DataError(
                            f"Array {key!r} not found in '{path}'; it holds: "
                            f"{_listing(keys) or 'nothing'}. Pass {role}=... to name the "
                            f"{'feature' if role == 'features' else 'label'} array."
                        )
                X = _read_member(archive, members[features], path, features)
                labels = _read_member(archive, members[target], path, target)
                names_member = _npz_member(names, "feature_names")
                feature_names = (
                    None
                    if names_member is None
                    else _read_member(archive, names_member, path, "feature_names")
                )
    except DataError:
        raise
    except zipfile.BadZipFile as exc:
        reason = f"the zip archive is damaged or truncated ({_one_line(exc)})"
        raise _npz_error(path, reason, features, target) from exc
    except OSError as exc:
        raise _open_error(path, exc) from exc
    except _NPY_ERRORS as exc:
        raise _npz_error(path, _one_line(exc), features, target) from exc
    return X, labels, feature_names


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
        DataError: missing or unreadable file; not a regular file; empty, not a zip, a single
            ``.npy`` array, a damaged or truncated archive; missing key (the message lists
            the keys); a member that is not an array, an object array, one too large; ``X``
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
