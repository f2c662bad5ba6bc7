"""Data files with one row per example: what the CSV and NPZ readers share.

Everything read is hostile until checked. Before a file is opened it must be a regular file
(a device such as ``/dev/zero`` would be read forever, a pipe would block), and what it asks
for is capped before it is allocated (:mod:`descentlab.limits`):

===============================  ===========  ===============================================
cap                              value        what it bounds
===============================  ===========  ===============================================
``limits.MAX_FILE_BYTES``        2 GiB        the size of a CSV file
``limits.MAX_LINE_CHARS``        16 Mi        the characters of one CSV line (a header of a
                                              million columns fits)
``limits.MAX_EXAMPLES``          10 000 000   the rows of a CSV file
``limits.MAX_MEMORY_BYTES``      4 GiB        the float64 feature table of a CSV file; each
                                              array of an NPZ archive (read from its header,
                                              before its data)
===============================  ===========  ===============================================

The readers are :mod:`~descentlab.datasets.csv_file` (``read_csv``, ``load_csv``) and
:mod:`~descentlab.datasets.npz_file` (``load_npz``); they transpose the rows to columns once,
in :func:`_finalize`.
"""

from __future__ import annotations

import codecs
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from descentlab._validation import DataError
from descentlab.datasets.container import Dataset, Label

__all__: list[str] = []

_LISTED = 50  # the most column names a message lists
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


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


# --------------------------------------------------------------------------- the dataset


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
