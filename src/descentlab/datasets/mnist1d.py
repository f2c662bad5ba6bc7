"""MNIST-1D (Greydanus & Kobak 2024), built offline by the ``mnist1d`` package, cached as NPZ.

MNIST-1D turns the ten digits into ten 1-D templates of 12 points each; every example is a
template padded, stretched, scaled, translated, sheared, blurred with correlated noise and
sampled at 40 points. The default dataset has 5000 examples: the first 4000 (in the
package's shuffled order) are the training set, the last 1000 the test set; 10 classes, about
500 examples each. The package centres the whole array and scales it to standard deviation 1
(one mean and one deviation for all 40 features), which is what the reference results of its
README were trained on, so the data here is left as the package makes it.

Where the arrays come from, in this order:

1. this process's copy (the arrays are built or read once per process);
2. the cache file ``<user cache dir>/mnist1d-<package version>.npz``
   (``$XDG_CACHE_HOME/descentlab/`` else ``~/.cache/descentlab/``,
   :func:`descentlab.io.user_cache_dir`), read with
   :func:`descentlab.npz.open_npz` and checked: the four arrays ``x (4000, 40)``,
   ``y (4000,)``, ``x_test (1000, 40)``, ``y_test (1000,)``, float64 features that are all
   finite, int64 labels in ``[0, 10)``. A missing, damaged or foreign file is built again;
3. ``mnist1d.data.make_dataset()`` with the package's default arguments
   (``get_dataset_args()``: 5000 examples, 80 % training, seed 42), about 2 s. It never
   downloads anything (the package's ``get_dataset`` would: it is never called). It seeds
   NumPy's and Python's global random generators: both are saved before and restored after,
   so building MNIST-1D changes no one else's random numbers. The arrays are then written to
   the cache file atomically (:func:`descentlab.io.atomic_writer`); a cache folder that
   cannot be written is skipped silently, the arrays are still used.

The arrays are stored as the package gives them, one row per example, and transposed once,
here, into :class:`~descentlab.datasets.Dataset` s with examples as columns.

References:
  Greydanus, S. and Kobak, D. "Scaling down deep learning with MNIST-1D." ICML 2024
  (arXiv:2011.14439, 2020). https://github.com/greydanus/mnist1d
"""

from __future__ import annotations

import contextlib
import random
from importlib import metadata
from pathlib import Path

import numpy as np

from descentlab._validation import DataError
from descentlab.datasets.container import Dataset

__all__ = [
    "MNIST1D_SHAPES",
    "load_mnist1d",
    "load_mnist1d_split",
    "mnist1d_cache_path",
]

MNIST1D_SHAPES: dict[str, tuple[int, ...]] = {
    "x": (4000, 40),
    "y": (4000,),
    "x_test": (1000, 40),
    "y_test": (1000,),
}
"""The arrays of the default MNIST-1D and their shapes (rows are examples, as the package
gives them)."""

_N_CLASSES = 10
_FEATURES = tuple(f"t{j}" for j in range(MNIST1D_SHAPES["x"][1]))
_ARRAYS: dict[str, dict[str, np.ndarray]] = {}
"""This process's copy of the arrays, by cache file path."""


def mnist1d_cache_path() -> Path:
    """The cache file: ``<user cache dir>/mnist1d-<mnist1d version>.npz`` (another version of
    the package may build other numbers, so it gets its own file)."""
    from descentlab.io import user_cache_dir

    return user_cache_dir() / f"mnist1d-{_package_version()}.npz"


def _package_version() -> str:
    try:
        return metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        return "missing"


def load_mnist1d_split() -> tuple[Dataset, Dataset]:
    """MNIST-1D's own training and test sets: ``(train, test)`` with X ``(40, 4000)`` and
    ``(40, 1000)``, classes ``(0, ..., 9)``.

    Raises:
      DataError: the ``mnist1d`` package is not installed (and no cache file holds the data).
    """
    arrays = _arrays()
    train = Dataset("mnist1d", arrays["x"].T, arrays["y"], None, _FEATURES)
    test = Dataset("mnist1d", arrays["x_test"].T, arrays["y_test"], None, _FEATURES)
    return train, test


def load_mnist1d() -> Dataset:
    """All 5000 examples of MNIST-1D, the 4000 training examples first, then the 1000 test
    examples: X ``(40, 5000)``, classes ``(0, ..., 9)`` (see :func:`load_mnist1d_split` for
    the package's own split, which ``--dataset mnist1d`` uses as its test set)."""
    arrays = _arrays()
    X = np.concatenate([arrays["x"], arrays["x_test"]]).T
    y = np.concatenate([arrays["y"], arrays["y_test"]])
    return Dataset("mnist1d", X, y, None, _FEATURES)


def _arrays() -> dict[str, np.ndarray]:
    """The checked arrays: this process's copy, else the cache file, else built (and cached)."""
    path = mnist1d_cache_path()
    key = str(path)
    if key not in _ARRAYS:
        arrays = _read_cache(path)
        if arrays is None:
            arrays = _generate()
            _write_cache(path, arrays)
        _ARRAYS[key] = arrays
    return _ARRAYS[key]


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of the cache file, or None when it is missing or does not check out."""
    from descentlab.npz import open_npz

    if not path.is_file():
        return None
    try:
        with open_npz(path) as archive:
            if set(archive.names) != set(MNIST1D_SHAPES):
                return None
            arrays = {name: archive.read(name) for name in MNIST1D_SHAPES}
        return _checked(arrays)
    except (DataError, OSError):
        return None


def _checked(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """``arrays`` if every array has its shape, dtype (float64 features, int64 labels) and
    values (finite features, labels in ``[0, 10)``), else None."""
    for name, shape in MNIST1D_SHAPES.items():
        a = arrays[name]
        kind = np.float64 if name.startswith("x") else np.int64
        if a.shape != shape or a.dtype != kind:
            return None
        if kind is np.float64 and not np.all(np.isfinite(a)):
            return None
        if kind is np.int64 and (a.min() < 0 or a.max() >= _N_CLASSES):
            return None
    return arrays


def _generate() -> dict[str, np.ndarray]:
    """``mnist1d.data.make_dataset()`` with its default arguments; the global random states of
    NumPy and Python are restored afterwards (the package seeds both).

    Raises:
      DataError: the ``mnist1d`` package is missing.
    """
    try:
        from mnist1d.data import make_dataset
    except ImportError as exc:
        raise DataError(
            "MNIST-1D is built by the 'mnist1d' package, which is not installed: "
            f"pip install mnist1d ({exc})."
        ) from None
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002 -- restored
    try:
        made = make_dataset()
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002 -- the package seeds it
        random.setstate(python_state)
    arrays = {
        name: np.ascontiguousarray(made[name], dtype=np.float64 if name[0] == "x" else np.int64)
        for name in MNIST1D_SHAPES
    }
    checked = _checked(arrays)
    if checked is None:
        shapes = {name: a.shape for name, a in arrays.items()}
        raise DataError(
            f"The mnist1d package ({_package_version()}) built arrays of shapes {shapes}; "
            f"descentlab expects {MNIST1D_SHAPES} with finite features and labels 0-9."
        )
    return checked


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache file atomically; nothing happens when its folder cannot be written."""
    from descentlab.io import atomic_writer, can_create_in

    if not can_create_in(path.parent):
        return
    with contextlib.suppress(OSError), atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)
