"""Data files with one row per example (CSV, NPZ): read, checked, transposed once, here.

Everything read is hostile until checked. Before a file is opened it must be a regular file
(a device such as ``/dev/zero`` would be read forever, a pipe would block), and what it asks
for is capped before it is allocated:

==========================  ===========  ====================================================
cap                         value        what it bounds
==========================  ===========  ====================================================
:data:`MAX_CSV_BYTES`       2 GiB        the size of a CSV file
:data:`MAX_LINE_CHARS`      16 Mi        the characters of one CSV line (a header of a
                                         million columns fits)
``limits.MAX_EXAMPLES``     10 000 000   the rows of a CSV file
``limits.MAX_MEMORY_BYTES`` 4 GiB        the float64 feature table of a CSV file; each
                                         array of an NPZ archive (read from its header,
                                         before its data)
==========================  ===========  ====================================================
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import math
import operator
import os
import stat
import zipfile
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from descentlab import limits
from descentlab._validation import DataError, check_param
from descentlab.datasets.container import Dataset, Label, encode_labels

__all__ = ["MAX_CSV_BYTES", "MAX_LINE_CHARS", "load_csv", "load_npz", "read_csv"]

MAX_CSV_BYTES = 2 * 2**30
"""The largest CSV file read, in bytes (2 GiB); larger files are refused before they are opened."""
MAX_LINE_CHARS = 16 * 2**20
"""The longest line of a CSV file, in characters (16 Mi); a longer line is refused as it is read."""

_LISTED = 50  # the most column names a message lists
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NPY_ERRORS = (ValueError, EOFError, OSError, RuntimeError, NotImplementedError, zlib.error)
"""What reading a damaged zip member or ``.npy`` header raises, besides ``zipfile.BadZipFile``."""


# --------------------------------------------------------------------------- opening a file


def _open_error(path: Path, exc: OSError) -> DataError:
    if isinstance(exc, FileNotFoundError):
        return DataError(f"No such file: '{path}'. Check the path (relative to {Path.cwd()}).")
    reason = exc.strerror or str(exc)
    return DataError(f"Cannot read '{path}': {reason}. Check that it is a readable file.")


def _check_regular_file(path: Path) -> int:
    """Refuse anything but a regular file, before opening it; return its size in bytes.

    A directory, a device (``/dev/zero`` never ends), a pipe (opening it blocks) or a socket
    is a :class:`DataError`, as is a path that cannot be looked up.
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise _open_error(path, exc) from exc
    except ValueError as exc:  # an embedded NUL character in the path
        raise DataError(f"Cannot read {str(path)!r}: {exc}. Check the path.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"Cannot read '{path}': Is a directory. Check that it is a readable file.")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"Cannot read '{path}': it is not a regular file (a device, pipe or socket). "
            "Pass the path of a data file."
        )
    return info.st_size


def _listing(names: Sequence[str]) -> str:
    """``'a', 'b', ...`` — at most ``_LISTED`` names, then how many more (a header may be huge)."""
    shown = ", ".join(map(repr, names[:_LISTED]))
    return shown if len(names) <= _LISTED else f"{shown}, ... ({len(names) - _LISTED} more)"


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line, cut to 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- CSV


class _Columns(NamedTuple):
    """Where :func:`read_csv` finds what it reads in each row."""

    width: int  # fields in the header, so in every row
    names: list[str]  # the feature columns, in the order read
    positions: list[int]  # their fields
    target: int | None  # the target's field, or None when there is no target column


def _is_delimiter(value: Any) -> bool:
    """one character, not a quote, a line break or NUL"""
    return isinstance(value, str) and len(value) == 1 and value not in '"\r\n\0'


def _open_csv(path: Path) -> IO[str]:
    """The file as UTF-8 text (a byte-order mark is skipped), after the checks that need no
    reading: a regular file of at most :data:`MAX_CSV_BYTES`, not UTF-16."""
    size = _check_regular_file(path)
    if size > MAX_CSV_BYTES:
        raise DataError(
            f"'{path}' is {size / 2**30:.1f} GiB; CSV files larger than "
            f"{MAX_CSV_BYTES / 2**30:g} GiB (descentlab.datasets.files.MAX_CSV_BYTES) are "
            "refused. Read a sample of it, or save the arrays as .npz."
        )
    raw = path.open("rb")
    try:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode):  # replaced since the check
            raise DataError(f"Cannot read '{path}': it is not a regular file.")
        if raw.read(2) in _UTF16_BOMS:
            raise DataError(
                f"Cannot read '{path}': it is not UTF-8 text (it starts with a UTF-16 "
                "byte-order mark). Save it as UTF-8 CSV."
            )
        raw.seek(0)
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except BaseException:
        raw.close()
        raise


def _lines(f: IO[str], path: Path) -> Iterator[str]:
    """The lines of ``f`` (ends kept, for :mod:`csv`), each read with a bounded ``readline``:
    a line longer than :data:`MAX_LINE_CHARS` or holding a NUL character (binary data, or
    UTF-16 without a byte-order mark) is refused."""
    for number in itertools.count(1):
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS:
            raise DataError(
                f"Line {number} of '{path}' is longer than {MAX_LINE_CHARS} characters "
                "(descentlab.datasets.files.MAX_LINE_CHARS); a CSV file has one row per line."
            )
        if "\0" in line:
            raise DataError(
                f"Cannot read '{path}': line {number} holds a NUL character, so it is not UTF-8 "
                "text (binary data, or UTF-16 without a byte-order mark). Save it as UTF-8 CSV."
            )
        yield line


def _read_header(
    reader: Iterator[list[str]], path: Path, columns: Sequence[str] | None, delimiter: str
) -> list[str]:
    """The first non-blank row, its cells stripped; refused when there is none, or, when every
    column is read (``columns`` is None), when every cell is a number (a row of data)."""
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
    return header


def _resolve_columns(
    header: list[str],
    path: Path,
    columns: Sequence[str] | None,
    target: str | None,
    require_target: bool,
    needed_by: str | None,
) -> _Columns:
    """The feature and target positions in ``header``, found through one dict (linear time
    in the width of the header).

    Refused: an unnamed feature column (when every column is read), a column read that is
    named twice, a missing feature column, a missing target (when ``require_target``), a
    header holding only the target.
    """
    # Built from the right, so the first occurrence of a name wins (as header.index(c)).
    position = dict(zip(reversed(header), range(len(header) - 1, -1, -1), strict=True))
    if columns is None and "" in position and target != "":
        raise DataError(
            f"Column {position[''] + 1} of the header of '{path}' has no name; name every "
            "column (an unnamed first column is often an index written by pandas: save it "
            "with to_csv(..., index=False))."
        )
    if len(position) < len(header):  # some name appears twice: is it one that is read?
        counts = Counter(header)
        used = counts.keys() if columns is None else {*columns, target}
        twice = next((c for c in header if counts[c] > 1 and c in used), None)
        if twice is not None:
            raise DataError(f"Column {twice!r} appears twice in the header of '{path}'.")
    if columns is not None:
        missing = [c for c in columns if c not in position]
        if missing:
            needs = f"{needed_by} needs the columns" if needed_by else "the columns needed are"
            raise DataError(
                f"'{path}' lacks the feature column{'s' if len(missing) > 1 else ''} "
                f"{_listing(missing)}; {needs} {_listing(columns)} (found {_listing(header)})."
            )
    if require_target and target is not None and target not in position:
        raise DataError(
            f"Target column {target!r} not found in '{path}'. Available columns: "
            f"{_listing(header)}. Pass one of them as target."
        )
    t = position.get(target) if target is not None else None
    if columns is None:
        names = list(header) if t is None else header[:t] + header[t + 1 :]
        if not names:
            raise DataError(
                f"'{path}' has only the target column {target!r}; at least one feature "
                "column is needed."
            )
        width = len(header)
        positions = list(range(width)) if t is None else [*range(t), *range(t + 1, width)]
        return _Columns(width, names, positions, t)
    names = list(columns)
    return _Columns(len(header), names, [position[c] for c in names], t)


def _picker(positions: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """``row -> [row[j] for j in positions]``, at C speed."""
    if len(positions) == 1:
        (j,) = positions
        return lambda row: (row[j],)
    return operator.itemgetter(*positions)


def _parse_rows(
    reader: Any, path: Path, header: list[str], layout: _Columns, target: str | None
) -> tuple[np.ndarray, list[str] | None]:
    """The non-blank rows after the header: ``X`` float64 ``(m, n_features)`` and the target
    cells (stripped), or None when there is no target column.

    Each row's features are converted in one pass (``float`` on every cell); only a row that
    fails (a non-number, an empty cell, NaN or inf) is parsed again cell by cell, for the
    message. The table grows in a compact ``array('d')``, at most ``limits.MAX_EXAMPLES`` rows
    and ``limits.MAX_MEMORY_BYTES`` bytes.
    """
    values = array("d")
    labels: list[str] = []
    pick = _picker(layout.positions)
    n = len(layout.names)
    m = 0
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        line = reader.line_num
        if len(row) != layout.width:
            raise DataError(
                f"Line {line} of '{path}' has {len(row)} fields, but the header has "
                f"{layout.width}. Check the delimiter and quoting."
            )
        m += 1
        _check_table_size(path, m, n, line)
        values.extend(_parse_features(row, pick, header, layout.positions, line, path))
        if layout.target is not None:
            labels.append(_parse_label(row[layout.target], target, line, path))
    X = np.frombuffer(values, dtype=np.float64).reshape(m, n)
    return X, (labels if layout.target is not None else None)


def _check_table_size(path: Path, m: int, n: int, line: int) -> None:
    """Refuse the ``m``-th row when it takes the table past the caps."""
    if m > limits.MAX_EXAMPLES:
        raise DataError(
            f"'{path}' has more than {limits.MAX_EXAMPLES} examples (rows), the most "
            "descentlab reads (descentlab.limits.MAX_EXAMPLES); read a sample of it."
        )
    if 8 * m * n > limits.MAX_MEMORY_BYTES:
        raise DataError(
            f"The features of '{path}' take more than {limits.MAX_MEMORY_BYTES / 2**30:g} GiB "
            f"(descentlab.limits.MAX_MEMORY_BYTES) at line {line} ({m} rows of {n} features); "
            "read a sample of it or fewer columns."
        )


def _parse_features(
    row: list[str],
    pick: Callable[[list[str]], Sequence[str]],
    header: list[str],
    positions: list[int],
    line: int,
    path: Path,
) -> list[float]:
    """The feature cells of one row as floats; the first bad cell (in column order) is named."""
    try:
        values = list(map(float, pick(row)))
    except ValueError:
        values = None
    # A sum is non-finite when a term is (or on overflow: then the check below finds nothing).
    if values is None or not math.isfinite(sum(values)):
        values = [_parse_csv_feature(row[j].strip(), header[j], line, path) for j in positions]
    return values


def _parse_label(cell: str, target: str | None, line: int, path: Path) -> str:
    label = cell.strip()
    if not label:
        raise DataError(
            f"The target column {target!r} is empty at line {line} of "
            f"'{path}'; every example needs a label."
        )
    return label


def _parse_number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


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
    transpose (the one transpose, at the boundary). Time is linear in the size of the file,
    however wide the header.

    Args:
        path: the file (UTF-8, with or without a byte-order mark; lines may end in ``\\n``,
            ``\\r\\n`` or ``\\r``).
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
        InvalidParameterError: ``delimiter`` is not one character.
        DataError: missing, unreadable or empty file; not a regular file; larger than
            :data:`MAX_CSV_BYTES`; not UTF-8 text (UTF-16, a NUL character, binary data); a
            line longer than :data:`MAX_LINE_CHARS`; a header that looks like data (when
            ``columns`` is None); an unnamed feature column (when ``columns`` is None); a
            column read appearing twice in the header; a missing feature column (the message
            lists what is needed and what was found); no such target column (the message
            lists the columns); only the target column; a ragged row; an empty target cell;
            a non-numeric, empty, NaN or inf feature value (named by column and line); more
            than ``limits.MAX_EXAMPLES`` rows or ``limits.MAX_MEMORY_BYTES`` of features.

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
    check_param("read_csv", "delimiter", delimiter, _is_delimiter)
    path = Path(path)
    try:
        with _open_csv(path) as f:
            reader = csv.reader(_lines(f, path), delimiter=delimiter)
            header = _read_header(reader, path, columns, delimiter)
            layout = _resolve_columns(header, path, columns, target, require_target, needed_by)
            X, labels = _parse_rows(reader, path, header, layout, target)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Cannot read '{path}': it is not UTF-8 text ({exc.reason}). Save it as UTF-8 CSV."
        ) from exc
    except csv.Error as exc:
        raise DataError(f"Cannot read '{path}' as CSV: {exc}.") from exc
    except OSError as exc:
        raise _open_error(path, exc) from exc
    return layout.names, X, labels


def _csv_labels(cells: list[str], path: Path, target: str) -> tuple[np.ndarray, tuple[Label, ...]]:
    """Encode the target cells: numbers when every cell is one, else text (``classes``
    sorted either way).

    Numeric labels must be finite: a ``nan`` or ``inf`` among numbers is a missing label,
    refused. Text labels are encoded without a fixed-width array (one long label among
    millions would make ``np.array(cells, dtype=str)`` huge).
    """
    numbers = [_parse_number(s) for s in cells]
    if cells and all(v is not None for v in numbers):
        bad = next((i for i, v in enumerate(numbers) if not math.isfinite(v)), None)
        if bad is not None:
            raise DataError(
                f"The target column {target!r} of '{path}' holds {cells[bad]!r} (NaN or inf) "
                f"in data row {bad + 1}, among numeric labels; every example needs a finite "
                "label: fill it in or drop the row."
            )
        return encode_labels(np.array(numbers, dtype=np.float64))
    classes = sorted(set(cells))
    index = {c: k for k, c in enumerate(classes)}
    y = np.fromiter((index[c] for c in cells), dtype=np.int64, count=len(cells))
    return y, tuple(classes)


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
    Labels are numbers when every one is a number; then ``nan`` or ``inf`` is refused.
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
        DataError: everything :func:`read_csv` refuses; NaN or inf among numeric labels; a
            single class; fewer than 2 rows.
    """
    path = Path(path)
    feature_names, X, cells = read_csv(path, target=target, delimiter=delimiter)
    labels = cells or []  # never None: the target column is required
    _check_examples(path, X.shape[0])
    y, classes = _csv_labels(labels, path, target)
    return _finalize(path, name, X, y, classes, feature_names, target, standardize)


# --------------------------------------------------------------------------- both


def _check_examples(path: Path, m: int) -> None:
    if m < 2:
        raise DataError(
            f"'{path}' has {m} example{'s' if m != 1 else ''}; at least 2 are needed "
            "(one row per example)."
        )


def _finalize(
    path: Path,
    name: str | None,
    X: np.ndarray,
    y: np.ndarray,
    classes: tuple[Label, ...],
    feature_names: Sequence[str],
    target: str,
    standardize: bool,
) -> Dataset:
    """Rows-as-samples ``X`` (m, n) and encoded labels → a Dataset (transposed here, once)."""
    if len(classes) < 2:
        raise DataError(
            f"The target {target!r} in '{path}' holds a single class ({classes[0]!r}); "
            "classification needs at least two. Check the target column."
        )
    ds = Dataset(name or path.stem, X.T, y, classes, tuple(feature_names))
    return ds.standardized()[0] if standardize else ds


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
