"""Classification data sets with examples as columns: the seed's moons, toy 2-D sets, files.

A :class:`Dataset` holds ``X`` of shape ``(n_features, m)`` (one column per example, the
seed's convention) and ``y`` of shape ``(m,)`` with class indices in ``[0, n_classes)``;
``classes[k]`` is the original label of class ``k``. ``Dataset.Y`` is the network target:
``(1, m)`` 0/1 for two classes, one-hot ``(n_classes, m)`` for more.

Sources:

- :func:`load_moons` — the seed's exact training set (``opt_utils.load_dataset``).
- Generators, reproducible from ``seed`` (an int or a ``numpy.random.Generator``):
  :func:`make_moons`, :func:`make_circles`, :func:`make_blobs`, :func:`make_spiral`,
  :func:`make_xor`, :func:`make_gaussian_quantiles`.
- scikit-learn's bundled real sets (no download): :func:`load_breast_cancer`,
  :func:`load_iris`, :func:`load_wine`, :func:`load_digits`.
- Files with one row per example: :func:`load_csv`, :func:`load_npz`. They transpose once,
  here, at the boundary.
- :func:`load_dataset` resolves a built-in name or a file path (the CLI's entry point);
  :data:`BUILTIN_DATASETS` and :func:`describe_datasets` list the built-in names.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import (
    DataError,
    Interval,
    InvalidParameterError,
    check_finite_array,
    check_params,
    is_integer,
)

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "describe_datasets",
    "encode_labels",
    "load_breast_cancer",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_iris",
    "load_moons",
    "load_npz",
    "load_wine",
    "make_blobs",
    "make_circles",
    "make_gaussian_quantiles",
    "make_moons",
    "make_spiral",
    "make_xor",
]

Seed = int | np.random.Generator
Label = str | int | float | bool


# --------------------------------------------------------------------------- the container


def encode_labels(labels: Iterable[Any] | np.ndarray) -> tuple[np.ndarray, tuple[Label, ...]]:
    """Map labels to class indices: ``classes = sorted(set(labels))``, ``y[i] = classes.index(labels[i])``.

    Numbers or strings (not a mix). Float labels that are whole numbers become ints.

    Returns:
        ``(y, classes)``: ``y`` int64 of shape ``(m,)``, ``classes`` a tuple of Python scalars.

    >>> y, classes = encode_labels(["dog", "cat", "dog"])
    >>> y.tolist(), classes
    ([1, 0, 1], ('cat', 'dog'))
    """
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise DataError(f"labels must be a 1-D sequence of length m; got shape {arr.shape}.")
    if arr.dtype.kind == "f":
        check_finite_array("labels", arr)
        if np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
    elif arr.dtype.kind == "S":
        arr = arr.astype(str)
    elif arr.dtype.kind not in "biuU":
        raise DataError(
            "labels must be numbers or strings (not a mix); "
            f"got an array of dtype {arr.dtype}. Convert them with str() or float() first."
        )
    classes, y = np.unique(arr, return_inverse=True)
    return y.astype(np.int64).reshape(-1), tuple(c.item() for c in classes)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled classification data set, examples as columns.

    Attributes:
        name: a short name shown in reports.
        X: ``(n_features, m)`` float64, read-only; column ``i`` is example ``i``.
        y: ``(m,)`` int64, read-only; class indices in ``[0, n_classes)``.
        classes: ``classes[k]`` is the original label of class index ``k`` (sorted when
            encoded from raw labels); default ``(0, 1, ..., max(y))``.
        feature_names: one name per row of ``X``; default ``("x1", "x2", ...)``.

    The arrays are copied and made read-only, so a ``Dataset`` never changes.

    >>> ds = Dataset("toy", np.array([[0.0, 1.0, 2.0]]), np.array([0, 1, 1]))
    >>> ds.n_features, ds.n_examples, ds.n_classes, ds.classes, ds.feature_names
    (1, 3, 2, (0, 1), ('x1',))
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[Label, ...] | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"X must hold numbers; got an array of dtype {X.dtype}.")
        if X.ndim != 2:
            raise DataError(
                "X must be a 2-D array of shape (n_features, m), one column per example; "
                f"got shape {X.shape}."
            )
        y = np.asarray(self.y)
        if y.ndim == 2 and y.shape[0] == 1:  # the seed's (1, m) label row
            y = y[0]
        if y.ndim != 1:
            raise DataError(f"y must be a 1-D array of m class indices; got shape {y.shape}.")
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        if y.dtype.kind not in "biu":
            raise DataError(
                f"y must hold integer class indices; got dtype {y.dtype}. "
                "Use Dataset.from_labels to encode raw labels."
            )
        if X.shape[1] != y.shape[0]:
            raise DataError(
                f"Found {X.shape[1]} examples in X and {y.shape[0]} in y; "
                "X must be (n_features, m) with one column per example."
            )
        if y.shape[0] == 0:
            raise DataError(f"A dataset needs at least one example; got X of shape {X.shape}.")
        X = np.array(X, dtype=np.float64)
        check_finite_array("X", X)
        y = np.array(y, dtype=np.int64)
        if self.classes is None:
            classes: tuple[Label, ...] = tuple(range(max(int(y.max()) + 1, 1)))
        else:
            classes = tuple(c.item() if isinstance(c, np.generic) else c for c in self.classes)
        if len(classes) < 2:
            raise DataError(
                f"A classification dataset needs at least two classes; got {len(classes)} "
                f"(classes={classes!r})."
            )
        if len(set(classes)) != len(classes):
            raise DataError(f"classes must be distinct; got {classes!r}.")
        bad = np.flatnonzero((y < 0) | (y >= len(classes)))
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"y holds class indices in [0, {len(classes)}); found {int(y[i])} at example {i}."
            )
        if self.feature_names is None or len(self.feature_names) == 0:
            names = tuple(f"x{j + 1}" for j in range(X.shape[0]))
        else:
            names = tuple(str(f) for f in self.feature_names)
        if len(names) != X.shape[0]:
            raise DataError(
                f"Got {len(names)} feature names for {X.shape[0]} features (rows of X)."
            )
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "feature_names", names)

    @classmethod
    def from_labels(
        cls,
        name: str,
        X: np.ndarray,
        labels: Iterable[Any] | np.ndarray,
        feature_names: Sequence[str] | None = None,
    ) -> Dataset:
        """Build a dataset from raw labels (strings or numbers), encoded by :func:`encode_labels`.

        ``X`` is ``(n_features, m)``; ``labels`` has length ``m``.

        >>> Dataset.from_labels("pets", np.zeros((2, 3)), ["dog", "cat", "dog"]).y.tolist()
        [1, 0, 1]
        """
        y, classes = encode_labels(labels)
        names = None if feature_names is None else tuple(feature_names)
        return cls(name, X, y, classes, names)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n_features={self.n_features}, "
            f"n_examples={self.n_examples}, classes={self.classes!r})"
        )

    @property
    def n_features(self) -> int:
        """Number of rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def n_examples(self) -> int:
        """Number of examples ``m`` (columns of ``X``)."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes, ``len(classes)`` (some may be absent from a subset)."""
        return len(self.classes)

    @property
    def Y(self) -> np.ndarray:
        """The network target, float64: ``(1, m)`` with ``Y[0, i] = y[i]`` for two classes,
        else one-hot ``(n_classes, m)`` with ``Y[k, i] = 1`` iff ``y[i] == k``.

        >>> Dataset("t", np.zeros((1, 3)), np.array([2, 0, 1])).Y
        array([[0., 1., 0.],
               [0., 0., 1.],
               [1., 0., 0.]])
        """
        if self.n_classes == 2:
            return self.y[np.newaxis, :].astype(np.float64)
        return (np.arange(self.n_classes)[:, np.newaxis] == self.y).astype(np.float64)

    def subset(self, idx: np.ndarray | Sequence[int]) -> Dataset:
        """The examples ``idx`` (integer indices or a boolean mask of length m), same classes.

        ``X[:, idx]`` and ``y[idx]``; the name, classes and feature names are kept.
        """
        idx = np.asarray(idx)
        if idx.dtype.kind == "b":
            if idx.shape != (self.n_examples,):
                raise DataError(
                    f"A boolean mask for subset must have shape ({self.n_examples},); "
                    f"got {idx.shape}."
                )
        elif idx.dtype.kind not in "iu" and idx.size:
            raise DataError(f"subset takes integer indices or a boolean mask; got {idx.dtype}.")
        else:
            idx = idx.astype(np.int64).reshape(-1)
            out = idx[(idx < -self.n_examples) | (idx >= self.n_examples)]
            if out.size:
                raise DataError(
                    f"subset index {int(out[0])} is out of range for {self.n_examples} examples."
                )
        return Dataset(self.name, self.X[:, idx], self.y[idx], self.classes, self.feature_names)

    def split(self, test_size: float | int, seed: Seed) -> tuple[Dataset, Dataset]:
        """Stratified random split into ``(train, test)``.

        ``n_test = ceil(test_size * m)`` for a float in (0, 1), or ``test_size`` itself for an
        int in [1, m - 1]. Class ``k`` with ``m_k`` examples gets ``t_k`` test examples,
        ``t_k`` as close to ``n_test * m_k / m`` as possible (largest remainders) with
        ``1 <= t_k <= m_k - 1``, so every class present appears in both parts. Within a class
        the test examples are drawn by ``rng.permutation``; both parts keep the original order.

        Args:
            test_size: fraction in (0, 1) or number of test examples.
            seed: an int or a ``numpy.random.Generator``.

        Returns:
            ``(train, test)``, two datasets with the classes of this one.

        Raises:
            InvalidParameterError: ``test_size`` out of range, or a bad ``seed``.
            DataError: a class with one example, or a test (or training) part with fewer
                examples than classes, so that some class would be left empty.
        """
        m = self.n_examples
        n_test = _n_test(test_size, m)
        rng = _rng(seed, "Dataset.split")
        counts = np.bincount(self.y, minlength=self.n_classes)
        present = counts > 0
        if np.any(counts == 1):
            k = int(np.flatnonzero(counts == 1)[0])
            raise DataError(
                f"Class {self.classes[k]!r} has only 1 example in {self.name!r}; a stratified "
                "split needs at least 2 examples of every class (one for each part)."
            )
        n_present = int(present.sum())
        if n_test < n_present or m - n_test < n_present:
            raise DataError(
                f"test_size={test_size!r} puts {n_test} of {m} examples in the test set and "
                f"{m - n_test} in the training set, which would leave a class empty: each part "
                f"needs at least {n_present} examples (one per class). Choose test_size between "
                f"{n_present} and {m - n_present} examples."
            )
        quota = n_test * counts / m
        t = np.where(present, np.clip(np.floor(quota), 1, counts - 1), 0).astype(np.int64)
        while t.sum() < n_test:  # give one more to the class furthest below its quota
            room = present & (t < counts - 1)
            t[np.flatnonzero(room)[np.argmax((quota - t)[room])]] += 1
        while t.sum() > n_test:  # take one from the class furthest above its quota
            room = present & (t > 1)
            t[np.flatnonzero(room)[np.argmin((quota - t)[room])]] -= 1
        test_idx = np.concatenate(
            [rng.permutation(np.flatnonzero(self.y == k))[: t[k]] for k in range(self.n_classes)]
        )
        is_test = np.zeros(m, dtype=bool)
        is_test[test_idx] = True
        return self.subset(~is_test), self.subset(is_test)

    def standardized(
        self, mean: np.ndarray | None = None, std: np.ndarray | None = None
    ) -> tuple[Dataset, np.ndarray, np.ndarray]:
        """Standardise every feature: ``X_std = (X - mean) / std``.

        Without arguments ``mean`` and ``std`` are this dataset's per-feature mean and
        (population) standard deviation, each ``(n_features, 1)``; a constant feature gets
        ``mean`` = its value and ``std = 1``, so it becomes exactly 0 (no division by zero).
        Pass the training set's ``mean, std`` to standardise a test set the same way.

        Returns:
            ``(dataset, mean, std)`` with ``mean`` and ``std`` of shape ``(n_features, 1)``.

        >>> train = Dataset("t", np.array([[1.0, 3.0], [5.0, 5.0]]), np.array([0, 1]))
        >>> std_train, mean, std = train.standardized()
        >>> std_train.X.tolist(), mean.ravel().tolist(), std.ravel().tolist()
        ([[-1.0, 1.0], [0.0, 0.0]], [2.0, 5.0], [1.0, 1.0])
        """
        if (mean is None) != (std is None):
            raise InvalidParameterError(
                "Dataset.standardized takes both 'mean' and 'std' (e.g. the training set's) "
                "or neither."
            )
        if mean is None or std is None:
            X = self.X
            constant = np.all(X == X[:, :1], axis=1, keepdims=True)
            mean = np.where(constant, X[:, :1], X.mean(axis=1, keepdims=True))
            std = np.where(constant, 1.0, X.std(axis=1, keepdims=True))
        else:
            mean = self._feature_column("mean", mean)
            std = self._feature_column("std", std)
            bad = np.flatnonzero(std[:, 0] <= 0)
            if bad.size:
                j = int(bad[0])
                raise DataError(
                    f"std must be positive; feature {self.feature_names[j]!r} has std "
                    f"{float(std[j, 0])!r}. Pass the std returned by standardized(), which replaces "
                    "zeros by 1."
                )
        ds = Dataset(self.name, (self.X - mean) / std, self.y, self.classes, self.feature_names)
        return ds, mean, std

    def _feature_column(self, what: str, v: np.ndarray) -> np.ndarray:
        arr = np.asarray(v, dtype=np.float64)
        if arr.shape not in ((self.n_features,), (self.n_features, 1)):
            raise DataError(
                f"{what} must have shape ({self.n_features}, 1) or ({self.n_features},), one "
                f"value per feature; got shape {arr.shape}."
            )
        arr = arr.reshape(self.n_features, 1)
        check_finite_array(what, arr)
        return arr


def _n_test(test_size: float | int, m: int) -> int:
    """Validate ``test_size`` against ``m`` examples and return the number of test examples."""
    expected = f"a float in the range (0.0, 1.0) or an int in the range [1, {m - 1}]"
    if is_integer(test_size):
        if 1 <= test_size <= m - 1:
            return int(test_size)
    elif isinstance(test_size, float | np.floating) and 0.0 < test_size < 1.0:
        n_test = math.ceil(float(test_size) * m - 1e-9)  # 1e-9: 0.1 * 30 is 3.0000000000000004
        if 1 <= n_test <= m - 1:
            return n_test
        raise InvalidParameterError(
            f"The 'test_size' parameter of Dataset.split must be {expected}. Got {test_size!r}, "
            f"which leaves {m - n_test} of {m} examples for training."
        )
    raise InvalidParameterError(
        f"The 'test_size' parameter of Dataset.split must be {expected}. Got {test_size!r} instead."
    )


def _rng(seed: Seed, owner: str) -> np.random.Generator:
    """``seed`` as a Generator: a Generator is used as is, an int seeds ``default_rng``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if is_integer(seed) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise InvalidParameterError(
        f"The 'seed' parameter of {owner} must be a non-negative int or a numpy.random.Generator. "
        f"Got {seed!r} ({type(seed).__name__}) instead."
    )


# --------------------------------------------------------------------------- the seed's data


def load_moons(*, use_global_state: bool = False) -> Dataset:
    """The seed's training set, exactly: 300 noisy "moons" points, 150 of each class.

    The seed (``opt_utils.load_dataset``) runs::

        np.random.seed(3)
        train_X, train_Y = sklearn.datasets.make_moons(n_samples=300, noise=.2)
        train_X = train_X.T                                   # (2, 300)

    By default this draws the same numbers from a private ``RandomState(3)`` and leaves
    NumPy's global random state untouched. With ``use_global_state=True`` it does what the
    seed does, seeding the global state and leaving it after the draws (for the notebook API).

    Returns:
        ``Dataset("moons", X (2, 300), y (300,), classes=(0, 1), ("x1", "x2"))``.

    >>> ds = load_moons()
    >>> ds.X.shape, np.bincount(ds.y).tolist()
    ((2, 300), [150, 150])
    """
    from sklearn.datasets import make_moons as sk_make_moons

    if use_global_state:
        np.random.seed(3)  # noqa: NPY002 -- the seed's behaviour, asked for explicitly
        X, y = sk_make_moons(n_samples=300, noise=0.2)
    else:
        X, y = sk_make_moons(n_samples=300, noise=0.2, random_state=np.random.RandomState(3))
    return Dataset("moons", X.T, y.astype(np.int64), (0, 1), ("x1", "x2"))


# --------------------------------------------------------------------------- generators

_COUNT = Interval(1, None, integer=True)
_NOISE = Interval(0.0, None)


def _check_generator(owner: str, n_samples: int, n_classes: int, **values: Any) -> None:
    values = {"n_samples": n_samples, "n_classes": n_classes, **values}
    rules: dict[str, Interval] = {
        "n_samples": Interval(2, None, integer=True),
        "n_classes": Interval(2, None, integer=True),
        "n_features": _COUNT,
        "noise": _NOISE,
    }
    for name in ("n_samples", "n_classes", "n_features"):
        if name in values and not is_integer(values[name]):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rules[name]}. "
                f"Got {values[name]!r} ({type(values[name]).__name__}) instead."
            )
    check_params(owner, values, rules)
    if n_samples < n_classes:
        raise InvalidParameterError(
            f"The 'n_samples' parameter of {owner} must be at least n_classes={n_classes} "
            f"(one example per class). Got {n_samples!r} instead."
        )


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """``n_samples // n_classes`` examples of each class, the first ``n_samples % n_classes``
    classes one more; sorted by class."""
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    return np.repeat(np.arange(n_classes), counts)


def _two_classes(n_samples: int) -> np.ndarray:
    """``n_samples // 2`` zeros then the rest ones (class 0 is the outer moon / circle)."""
    return np.repeat([0, 1], [n_samples // 2, n_samples - n_samples // 2])


def _shuffled_noisy(
    name: str, X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator
) -> Dataset:
    """Shuffle the columns, then add ``noise * N(0, 1)`` to every coordinate."""
    perm = rng.permutation(y.size)
    X = X[:, perm] + noise * rng.standard_normal(X.shape)
    return Dataset(name, X, y[perm], tuple(range(int(y.max()) + 1)))


def make_moons(n_samples: int = 300, *, noise: float = 0.2, seed: Seed = 0) -> Dataset:
    """Two interleaving half circles, the distribution of the seed's data.

    Class 0 (``n_samples // 2`` points) lies on ``(cos t, sin t)``, class 1 on
    ``(1 - cos t, 1/2 - sin t)``, ``t`` evenly spaced in ``[0, pi]``; the columns are
    shuffled and ``noise * N(0, 1)`` is added to each coordinate. A held-out sample like the
    seed's training set: ``make_moons(300, noise=0.2, seed=...)``.

    Args:
        n_samples: number of examples ``m``.
        noise: standard deviation of the Gaussian noise on each coordinate.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(2, m)`` and classes ``(0, 1)``.

    >>> np.bincount(make_moons(301, seed=1).y).tolist()
    [150, 151]
    """
    _check_generator("make_moons", n_samples, 2, noise=noise)
    rng = _rng(seed, "make_moons")
    y = _two_classes(n_samples)
    t = np.concatenate([np.linspace(0.0, np.pi, np.sum(y == k)) for k in (0, 1)])
    X = np.where(y == 0, [np.cos(t), np.sin(t)], [1.0 - np.cos(t), 0.5 - np.sin(t)])
    return _shuffled_noisy("moons", X, y, noise, rng)


def make_circles(
    n_samples: int = 300, *, noise: float = 0.1, factor: float = 0.5, seed: Seed = 0
) -> Dataset:
    """Two concentric circles: class 0 on the unit circle, class 1 on radius ``factor``.

    Angles are evenly spaced in ``[0, 2 pi)``; columns shuffled, then ``noise * N(0, 1)``
    added to each coordinate.

    Args:
        n_samples: number of examples ``m`` (class 0 gets ``m // 2``).
        noise: standard deviation of the Gaussian noise on each coordinate.
        factor: radius of the inner circle, in (0, 1).
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(2, m)`` and classes ``(0, 1)``.
    """
    _check_generator("make_circles", n_samples, 2, noise=noise)
    check_params("make_circles", {"factor": factor}, {"factor": Interval(0.0, 1.0, "neither")})
    rng = _rng(seed, "make_circles")
    y = _two_classes(n_samples)
    t = np.concatenate(
        [np.linspace(0.0, 2 * np.pi, np.sum(y == k), endpoint=False) for k in (0, 1)]
    )
    r = np.where(y == 0, 1.0, factor)
    return _shuffled_noisy("circles", r * np.array([np.cos(t), np.sin(t)]), y, noise, rng)


def make_blobs(
    n_samples: int = 300,
    *,
    n_classes: int = 3,
    n_features: int = 2,
    noise: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    seed: Seed = 0,
) -> Dataset:
    """Isotropic Gaussian blobs, one per class: ``x = c_k + noise * N(0, I)``.

    The centres ``c_k`` are drawn uniformly from ``center_box`` in each coordinate; the
    classes are balanced (sizes differ by at most one) and the columns shuffled.

    Args:
        n_samples: number of examples ``m``.
        n_classes: number of blobs (classes).
        n_features: dimension of each example.
        noise: standard deviation of each blob.
        center_box: ``(low, high)`` bounds of the centre coordinates.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(n_features, m)`` and classes ``(0, ..., n_classes - 1)``.
    """
    _check_generator("make_blobs", n_samples, n_classes, n_features=n_features, noise=noise)
    low, high = center_box
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InvalidParameterError(
            "The 'center_box' parameter of make_blobs must be (low, high) with finite "
            f"low < high. Got {center_box!r} instead."
        )
    rng = _rng(seed, "make_blobs")
    centers = rng.uniform(low, high, size=(n_features, n_classes))
    y = _balanced_labels(n_samples, n_classes)
    return _shuffled_noisy("blobs", centers[:, y], y, noise, rng)


def make_spiral(
    n_samples: int = 300,
    *,
    n_classes: int = 3,
    noise: float = 0.1,
    turns: float = 0.75,
    seed: Seed = 0,
) -> Dataset:
    """Interleaved spiral arms, one per class (the classic "spiral" toy problem).

    Arm ``k`` holds points ``r * (sin a, cos a)`` with ``r`` evenly spaced in ``(0, 1]``
    and ``a = 2 pi k / n_classes + 2 pi * turns * r``; columns shuffled, then
    ``noise * N(0, 1)`` added to each coordinate.

    Args:
        n_samples: number of examples ``m`` (balanced over the arms).
        n_classes: number of arms.
        noise: standard deviation of the Gaussian noise on each coordinate.
        turns: how many full turns an arm makes from the centre to radius 1.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(2, m)`` and classes ``(0, ..., n_classes - 1)``.
    """
    _check_generator("make_spiral", n_samples, n_classes, noise=noise)
    check_params("make_spiral", {"turns": turns}, {"turns": Interval(0.0, 100.0, "neither")})
    rng = _rng(seed, "make_spiral")
    y = _balanced_labels(n_samples, n_classes)
    counts = np.bincount(y)
    r = np.concatenate([np.arange(1, c + 1) / c for c in counts])
    a = 2 * np.pi * y / n_classes + 2 * np.pi * turns * r
    return _shuffled_noisy("spiral", r * np.array([np.sin(a), np.cos(a)]), y, noise, rng)


def make_xor(n_samples: int = 300, *, noise: float = 0.1, seed: Seed = 0) -> Dataset:
    """The XOR problem: class 1 iff the two coordinates have opposite signs.

    Example ``i`` falls in quadrant ``i % 4`` — (+,+), (+,-), (-,-), (-,+) — uniformly
    within the unit square of that quadrant, so the classes are balanced; columns
    shuffled, then ``noise * N(0, 1)`` added to each coordinate (blurring the axes).

    Args:
        n_samples: number of examples ``m``.
        noise: standard deviation of the Gaussian noise on each coordinate.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(2, m)`` and classes ``(0, 1)``.
    """
    _check_generator("make_xor", n_samples, 2, noise=noise)
    rng = _rng(seed, "make_xor")
    quadrant = np.arange(n_samples) % 4
    signs = np.array([[1, 1, -1, -1], [1, -1, -1, 1]])[:, quadrant]
    X = signs * rng.uniform(0.0, 1.0, size=(2, n_samples))
    y = (signs[0] != signs[1]).astype(np.int64)
    return _shuffled_noisy("xor", X, y, noise, rng)


def make_gaussian_quantiles(
    n_samples: int = 300,
    *,
    n_classes: int = 2,
    n_features: int = 2,
    noise: float = 0.0,
    seed: Seed = 0,
) -> Dataset:
    """Nested shells of a standard Gaussian: classes by quantiles of the distance to 0.

    ``z ~ N(0, I)``; the example with distance rank ``j`` (0 = nearest) gets class
    ``floor(j * n_classes / m)``, so the classes are balanced; then ``noise * N(0, 1)`` is
    added to each coordinate.

    Args:
        n_samples: number of examples ``m``.
        n_classes: number of shells.
        n_features: dimension of each example.
        noise: standard deviation of the Gaussian noise added after labelling.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a dataset with ``X`` of shape ``(n_features, m)`` and classes ``(0, ..., n_classes - 1)``.
    """
    _check_generator(
        "make_gaussian_quantiles", n_samples, n_classes, n_features=n_features, noise=noise
    )
    rng = _rng(seed, "make_gaussian_quantiles")
    Z = rng.standard_normal((n_features, n_samples))
    rank = np.empty(n_samples, dtype=np.int64)
    rank[np.argsort(np.sum(Z**2, axis=0), kind="stable")] = np.arange(n_samples)
    y = rank * n_classes // n_samples
    X = Z + noise * rng.standard_normal(Z.shape)
    return Dataset("gaussian_quantiles", X, y, tuple(range(n_classes)))


# --------------------------------------------------------------------------- bundled real sets


def _from_sklearn(name: str, loader_name: str) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    return Dataset(
        name,
        bunch.data.T,
        bunch.target.astype(np.int64),
        tuple(bunch.target_names),
        tuple(str(f) for f in bunch.feature_names),
    )


def load_breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer (scikit-learn's copy): X (30, 569), classes
    ``("malignant", "benign")``."""
    return _from_sklearn("breast_cancer", "load_breast_cancer")


def load_iris() -> Dataset:
    """Fisher's iris (scikit-learn's copy): X (4, 150), classes
    ``("setosa", "versicolor", "virginica")``."""
    return _from_sklearn("iris", "load_iris")


def load_wine() -> Dataset:
    """UCI wine recognition (scikit-learn's copy): X (13, 178), classes
    ``("class_0", "class_1", "class_2")``."""
    return _from_sklearn("wine", "load_wine")


def load_digits() -> Dataset:
    """8x8 handwritten digits (scikit-learn's copy): X (64, 1797) pixel values 0..16,
    classes ``(0, ..., 9)``."""
    return _from_sklearn("digits", "load_digits")


# --------------------------------------------------------------------------- files


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
    The (m, n) table becomes ``X`` of shape ``(n, m)`` — the one transpose, here.

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
            value (named by column and line); a single class; fewer than 2 rows.
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
            if all(_parse_number(c) is not None for c in header):
                raise DataError(
                    f"The first row of '{path}' ({delimiter.join(header[:5])}...) looks like "
                    "data, but a header row naming the columns is required; add one."
                )
            for c in header:
                if header.count(c) > 1:
                    raise DataError(f"Column {c!r} appears twice in the header of '{path}'.")
            if target not in header:
                available = ", ".join(repr(c) for c in header)
                raise DataError(
                    f"Target column {target!r} not found in '{path}'. Available columns: "
                    f"{available}. Pass one of them as target."
                )
            t = header.index(target)
            feature_names = [c for j, c in enumerate(header) if j != t]
            if not feature_names:
                raise DataError(
                    f"'{path}' has only the target column {target!r}; at least one feature "
                    "column is needed."
                )
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
                values = []
                for j, cell in enumerate(row):
                    cell = cell.strip()
                    if j == t:
                        if not cell:
                            raise DataError(
                                f"The target column {target!r} is empty at line {line} of "
                                f"'{path}'; every example needs a label."
                            )
                        labels.append(cell)
                        continue
                    values.append(_parse_csv_feature(cell, header[j], line, path))
                rows.append(values)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Cannot read '{path}': it is not UTF-8 text ({exc.reason}). Save it as UTF-8 CSV."
        ) from exc
    except csv.Error as exc:
        raise DataError(f"Cannot read '{path}' as CSV: {exc}.") from exc
    except OSError as exc:
        raise _open_error(path, exc) from exc
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(feature_names))
    numeric = [_parse_number(s) for s in labels]
    if labels and all(v is not None and math.isfinite(v) for v in numeric):
        label_array = np.array(numeric, dtype=np.float64)
    else:
        label_array = np.array(labels, dtype=str)
    return _finalize(path, name, X, label_array, feature_names, target, standardize)


def _parse_csv_feature(cell: str, column: str, line: int, path: Path) -> float:
    if not cell:
        raise DataError(
            f"Column {column!r} is empty at line {line} of '{path}' (a missing value); "
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


# --------------------------------------------------------------------------- registry


def _builtin_moons(
    n_samples: int | None = None, noise: float | None = None, seed: Seed | None = None
) -> Dataset:
    """The seed's exact moons when called without arguments, else :func:`make_moons`."""
    if n_samples is None and noise is None and seed is None:
        return load_moons()
    return make_moons(
        300 if n_samples is None else n_samples,
        noise=0.2 if noise is None else noise,
        seed=0 if seed is None else seed,
    )


BUILTIN_DATASETS: dict[str, Callable[..., Dataset]] = {
    "moons": _builtin_moons,
    "circles": make_circles,
    "blobs": make_blobs,
    "spiral": make_spiral,
    "xor": make_xor,
    "gaussian_quantiles": make_gaussian_quantiles,
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
}
"""Built-in name → loader. Generators take optional ``n_samples``, ``noise``, ``seed``;
the real sets take no arguments; ``moons`` without arguments is the seed's exact data."""

_DESCRIPTIONS = {
    "moons": "The seed's training set: two noisy interleaving half circles (seed-exact).",
    "circles": "Two noisy concentric circles.",
    "blobs": "Isotropic Gaussian blobs, one per class.",
    "spiral": "Interleaved spiral arms, one per class.",
    "xor": "XOR: class 1 where the two coordinates have opposite signs.",
    "gaussian_quantiles": "Nested shells of a standard Gaussian, by distance quantile.",
    "breast_cancer": "Wisconsin diagnostic breast cancer (malignant / benign).",
    "iris": "Fisher's iris flowers, three species.",
    "wine": "UCI wine recognition, three cultivars.",
    "digits": "8x8 images of handwritten digits 0-9.",
}


def load_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    target: str | None = None,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: Seed | None = None,
) -> Dataset:
    """A built-in dataset by name, or a ``.csv`` / ``.npz`` file by path (the CLI's loader).

    Built-in names are the keys of :data:`BUILTIN_DATASETS` (``-`` may stand for ``_``,
    case is ignored); ``n_samples``, ``noise`` and ``seed`` go to the generators and
    default to each generator's own defaults (``moons`` with none of them is the seed's
    exact data). A path ending in ``.csv`` needs ``target`` (the label column); for
    ``.npz`` ``target`` defaults to ``"y"``.

    >>> load_dataset("moons").X.shape
    (2, 300)

    Raises:
        InvalidParameterError: unknown name (the message lists the built-in names), a
            parameter that does not apply, or a CSV path without ``target``.
        DataError: the file cannot be used (see :func:`load_csv`, :func:`load_npz`).
    """
    given = {"n_samples": n_samples, "noise": noise, "seed": seed}
    given = {k: v for k, v in given.items() if v is not None}
    text = os.fspath(name_or_path)
    suffix = Path(text).suffix.lower()
    if suffix in (".csv", ".npz"):
        if given:
            raise InvalidParameterError(
                f"The {', '.join(repr(k) for k in given)} parameter(s) of load_dataset apply "
                f"only to generated datasets, not to the file '{text}'."
            )
        if suffix == ".csv":
            if target is None:
                raise InvalidParameterError(
                    f"load_dataset needs target=... (the label column) to read the CSV file "
                    f"'{text}'."
                )
            return load_csv(text, target)
        return load_npz(text, "y" if target is None else target)
    key = text.strip().lower().replace("-", "_")
    if key not in BUILTIN_DATASETS or not isinstance(name_or_path, str):
        names = ", ".join(BUILTIN_DATASETS)
        raise InvalidParameterError(
            f"Unknown dataset {text!r}. Expected one of the built-in names {names}, "
            "or a path to a .csv or .npz file."
        )
    if target is not None:
        raise InvalidParameterError(
            f"The 'target' parameter of load_dataset applies only to CSV/NPZ files, not to "
            f"the built-in dataset {key!r}."
        )
    loader = BUILTIN_DATASETS[key]
    accepted = inspect.signature(loader).parameters
    for param in given:
        if param not in accepted:
            raise InvalidParameterError(
                f"The {param!r} parameter of load_dataset does not apply to the built-in "
                f"dataset {key!r}, which is fixed."
            )
    return loader(**given)


def describe_datasets() -> list[dict[str, Any]]:
    """One row per built-in dataset (default parameters): ``name``, ``n_features``,
    ``n_examples``, ``n_classes``, ``description``."""
    rows = []
    for name, loader in BUILTIN_DATASETS.items():
        ds = loader()
        rows.append(
            {
                "name": name,
                "n_features": ds.n_features,
                "n_examples": ds.n_examples,
                "n_classes": ds.n_classes,
                "description": _DESCRIPTIONS[name],
            }
        )
    return rows
