"""CSV files with a header row and one row per example: :func:`read_csv` and :func:`load_csv`."""

from __future__ import annotations

import csv
import io
import itertools
import math
import operator
import os
import stat
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from descentlab import limits
from descentlab._validation import DataError, check_param
from descentlab.datasets.container import Dataset, Label, encode_labels
from descentlab.datasets.files import (
    _UTF16_BOMS,
    _check_examples,
    _finalize,
    _listing,
)
from descentlab.io import check_regular_file, open_error

__all__ = ["load_csv", "read_csv"]


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


def _is_columns(value: Any) -> bool:
    """None, or a non-empty list of column names (str)"""
    return value is None or (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(c, str) for c in value)
    )


def _open_csv(path: Path) -> IO[str]:
    """The file as UTF-8 text (a byte-order mark is skipped), after the checks that need no
    reading: a regular file of at most :data:`~descentlab.limits.MAX_FILE_BYTES`, not UTF-16."""
    size = check_regular_file(path)
    if size > limits.MAX_FILE_BYTES:
        raise DataError(
            f"'{path}' is {size / 2**30:.1f} GiB; CSV files larger than "
            f"{limits.MAX_FILE_BYTES / 2**30:g} GiB (descentlab.limits.MAX_FILE_BYTES) are "
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
    a line longer than :data:`~descentlab.limits.MAX_LINE_CHARS` or holding a NUL character (binary data, or
    UTF-16 without a byte-order mark) is refused."""
    for number in itertools.count(1):
        line = f.readline(limits.MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > limits.MAX_LINE_CHARS:
            raise DataError(
                f"Line {number} of '{path}' is longer than {limits.MAX_LINE_CHARS} characters "
                "(descentlab.limits.MAX_LINE_CHARS); a CSV file has one row per line."
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
        InvalidParameterError: ``delimiter`` is not one character; ``columns`` is not None
            nor a non-empty list of names.
        DataError: missing, unreadable or empty file; not a regular file; larger than
            :data:`~descentlab.limits.MAX_FILE_BYTES`; not UTF-8 text (UTF-16, a NUL character, binary data); a
            line longer than :data:`~descentlab.limits.MAX_LINE_CHARS`; a header that looks like data (when
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
    check_param("read_csv", "columns", columns, _is_columns)
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
        raise open_error(path, exc) from exc
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
