"""Data files with one row per example: what the CSV and NPZ readers share.

Everything read is hostile until checked. Before a file is opened it must be a regular file
(a device such as ``/dev/zero`` would be read forever, a pipe would block:
:func:`descentlab.io.check_regular_file`), and what it asks for is capped before it is
allocated (:mod:`descentlab.limits`):

===============================  ===========  ===============================================
cap                              value        what it bounds
===============================  ===========  ===============================================
``limits.MAX_FILE_BYTES``        2 GiB        the size of a CSV or NPZ file
``limits.MAX_LINE_CHARS``        16 Mi        the characters of one CSV line (a header of a
                                              million columns fits)
``limits.MAX_EXAMPLES``          10 000 000   the rows of a CSV file
``limits.MAX_MEMORY_BYTES``      4 GiB        the float64 feature table of a CSV file; each
                                              array of an NPZ archive, and all of them
                                              (read from their headers, before their data:
                                              :mod:`descentlab.npz`)
===============================  ===========  ===============================================

The readers are :mod:`~descentlab.datasets.csv_file` (``read_csv``, ``load_csv``) and
:mod:`~descentlab.datasets.npz_file` (``load_npz``); they transpose the rows to columns once,
in :func:`_finalize`.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from descentlab._validation import DataError
from descentlab.datasets.container import Dataset, Label

__all__: list[str] = []

_LISTED = 50  # the most column names a message lists
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _listing(names: Sequence[str]) -> str:
    """``'a', 'b', ...`` — at most ``_LISTED`` names, then how many more (a header may be huge)."""
    shown = ", ".join(map(repr, names[:_LISTED]))
    return shown if len(names) <= _LISTED else f"{shown}, ... ({len(names) - _LISTED} more)"


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
