"""The :class:`Dataset` container (examples as columns), label encoding, split and standardise.

A :class:`Dataset` holds ``X`` of shape ``(n_features, m)`` (one column per example, the
seed's convention) and ``y`` of shape ``(m,)`` with class indices in ``[0, n_classes)``;
``classes[k]`` is the original label of class ``k``. ``Dataset.Y`` is the network target:
``(1, m)`` 0/1 for two classes, one-hot ``(n_classes, m)`` for more.

A regression dataset (``task="regression"``) holds real-valued float64 targets instead:
``y`` is ``(m,)`` for one target or ``(n_targets, m)`` for several, ``classes`` is empty and
``Dataset.Y`` is ``(n_targets, m)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab._validation import (
    SEED,
    DataError,
    InvalidParameterError,
    Options,
    check_finite_array,
    check_param,
    is_integer,
    show,
)

__all__ = ["TASKS", "Dataset", "encode_labels"]

TASKS = ("classification", "regression")

Seed = int | np.random.Generator
Label = str | int | float | bool


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
        try:
            arr = np.char.decode(arr, "utf-8")
        except UnicodeDecodeError as exc:
            raise DataError("labels are bytes that are not UTF-8 text; decode them first.") from exc
    elif arr.dtype.kind not in "biuU":
        raise DataError(
            "labels must be numbers or strings (not a mix); "
            f"got an array of dtype {arr.dtype}. Convert them with str() or float() first."
        )
    classes, y = np.unique(arr, return_inverse=True)
    return y.astype(np.int64).reshape(-1), tuple(c.item() for c in classes)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled data set, examples as columns: classification (default) or regression.

    Attributes:
        name: a short name shown in reports.
        X: ``(n_features, m)`` float64, read-only, finite, ``n_features >= 1`` and ``m >= 1``;
            column ``i`` is example ``i``.
        y: classification: ``(m,)`` int64, read-only; class indices in ``[0, n_classes)``.
            Regression: float64, read-only, finite; ``(m,)`` for one target (a ``(1, m)`` row
            is read as that), ``(n_targets, m)`` for several.
        classes: ``classes[k]`` is the original label of class index ``k`` (sorted when
            encoded from raw labels); default ``(0, 1, ..., max(y))``. Regression: ``()``.
        feature_names: one name per row of ``X``; default ``("x1", "x2", ...)``.
        task: ``classification`` or ``regression``.

    The arrays are copied and made read-only, so a ``Dataset`` never changes.

    >>> ds = Dataset("toy", np.array([[0.0, 1.0, 2.0]]), np.array([0, 1, 1]))
    >>> ds.n_features, ds.n_examples, ds.n_classes, ds.classes, ds.feature_names
    (1, 3, 2, (0, 1), ('x1',))
    >>> reg = Dataset("line", np.array([[0.0, 1.0, 2.0]]), [1.0, 3.0, 5.0], task="regression")
    >>> reg.n_targets, reg.n_outputs, reg.n_classes, reg.Y.tolist()
    (1, 1, 0, [[1.0, 3.0, 5.0]])
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[Label, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    task: str = "classification"

    def __post_init__(self) -> None:
        check_param("Dataset", "task", self.task, Options(TASKS))
        X = np.asarray(self.X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"X must hold numbers; got an array of dtype {X.dtype}.")
        if X.ndim != 2:
            raise DataError(
                "X must be a 2-D array of shape (n_features, m), one column per example; "
                f"got shape {X.shape}."
            )
        if X.shape[0] == 0:
            raise DataError(
                f"A dataset needs at least one feature (a row of X); got X of shape {X.shape}."
            )
        if self.task == "regression":
            self._set_regression(X)
            return
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
        self._freeze(X, y, classes)

    def _set_regression(self, X: np.ndarray) -> None:
        """``__post_init__`` for real-valued targets: ``y`` ``(m,)`` or ``(n_targets, m)``."""
        try:
            y = np.asarray(self.y)
        except (TypeError, ValueError) as exc:
            raise DataError(f"y must be an array of numbers: {exc}.") from None
        if y.dtype.kind not in "biuf":
            raise DataError(f"y must hold real-valued targets (numbers); got dtype {y.dtype}.")
        if y.ndim == 2 and y.shape[0] == 1:  # one target as a row
            y = y[0]
        if X.shape[1] == 0:
            raise DataError(f"A dataset needs at least one example; got X of shape {X.shape}.")
        if y.ndim not in (1, 2) or y.shape[-1] != X.shape[1] or y.shape[0] == 0:
            raise DataError(
                f"y must hold the targets of the {X.shape[1]} examples (columns of X) as "
                f"(m,) or (n_targets, m); got shape {y.shape}."
            )
        if self.classes is not None and len(self.classes) != 0:
            raise DataError(
                f"A regression dataset has no classes; got classes={tuple(self.classes)!r}."
            )
        X = np.array(X, dtype=np.float64)
        check_finite_array("X", X)
        y = np.array(y, dtype=np.float64)
        check_finite_array("y", y)
        self._freeze(X, y, ())

    def _freeze(self, X: np.ndarray, y: np.ndarray, classes: tuple[Label, ...]) -> None:
        """Check the feature names, then store the arrays read-only."""
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
        if self.task == "regression":
            return (
                f"Dataset(name={self.name!r}, n_features={self.n_features}, "
                f"n_examples={self.n_examples}, task='regression', n_targets={self.n_targets})"
            )
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
        """Number of classes, ``len(classes)`` (some may be absent from a subset); 0 for
        regression."""
        return len(self.classes)

    @property
    def n_targets(self) -> int:
        """Number of real-valued targets per example (regression); 1 for classification
        (one label per example)."""
        return int(self.y.shape[0]) if self.y.ndim == 2 else 1

    @property
    def n_outputs(self) -> int:
        """Output units of a network for this data: ``n_targets`` for regression (linear
        units), 1 for two classes (a sigmoid), ``n_classes`` for more (a softmax)."""
        if self.task == "regression":
            return self.n_targets
        return 1 if self.n_classes == 2 else self.n_classes

    @property
    def Y(self) -> np.ndarray:
        """The network target, float64: ``(1, m)`` with ``Y[0, i] = y[i]`` for two classes,
        else one-hot ``(n_classes, m)`` with ``Y[k, i] = 1`` iff ``y[i] == k``; for regression
        the targets as ``(n_targets, m)``.

        >>> Dataset("t", np.zeros((1, 3)), np.array([2, 0, 1])).Y
        array([[0., 1., 0.],
               [0., 0., 1.],
               [1., 0., 0.]])
        """
        if self.task == "regression":
            return self.y.reshape(self.n_targets, self.n_examples).copy()
        if self.n_classes == 2:
            return self.y[np.newaxis, :].astype(np.float64)
        return (np.arange(self.n_classes)[:, np.newaxis] == self.y).astype(np.float64)

    def subset(self, idx: np.ndarray | Sequence[int]) -> Dataset:
        """The examples ``idx`` (integer indices or a boolean mask of length m), same classes.

        ``X[:, idx]`` and ``y[idx]`` (``y[:, idx]`` for several regression targets); the name,
        classes, feature names and task are kept.
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
        return self._with(self.X[:, idx], self.y[..., idx])

    def _with(self, X: np.ndarray, y: np.ndarray) -> Dataset:
        """This dataset with other examples: same name, classes, feature names and task."""
        return Dataset(self.name, X, y, self.classes, self.feature_names, self.task)

    def split(self, test_size: float | int, seed: Seed) -> tuple[Dataset, Dataset]:
        """Stratified random split into ``(train, test)`` (for regression: a plain random one).

        ``n_test = ceil(test_size * m)`` for a float in (0, 1), or ``test_size`` itself for an
        int in [1, m - 1]. Class ``k`` with ``m_k`` examples gets ``t_k`` test examples,
        ``t_k`` as close to ``n_test * m_k / m`` as possible (largest remainders) with
        ``1 <= t_k <= m_k - 1``, so every class present appears in both parts. Within a class
        the test examples are drawn by ``rng.permutation``; both parts keep the original order.
        A regression dataset has no classes: its ``n_test`` test examples are the first
        ``n_test`` of ``rng.permutation(m)``.

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
        if self.task == "regression":
            is_test = np.zeros(m, dtype=bool)
            is_test[rng.permutation(m)[:n_test]] = True
            return self.subset(~is_test), self.subset(is_test)
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
        """Standardise every feature: ``X_std = (X - mean) / std`` (never the targets).

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
            mean, std = _mean_std(self.X)
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
        with np.errstate(over="ignore", invalid="ignore"):
            X = (self.X - mean) / std
        bad = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
        if bad.size:  # only values near the float64 limit (1.8e308) get here
            j = int(bad[0])
            raise DataError(
                f"Feature {self.feature_names[j]!r} cannot be standardised: its values (largest "
                f"|x| = {float(np.max(np.abs(self.X[j]))):.3g}) against mean "
                f"{float(mean[j, 0]):.3g} and std {float(std[j, 0]):.3g} overflow float64. "
                "Rescale that column first."
            )
        return self._with(X, self.y), mean, std

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


def _mean_std(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and population std, ``(n_features, 1)`` each; a constant feature
    gets its value and 1. Finite for any finite ``X``: where the plain sums overflow (values
    past ~1e154 square to inf) or underflow, the feature is divided by a power of two near its
    largest magnitude first (exact), and the figures multiplied back."""
    constant = np.all(X == X[:, :1], axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        mean, std = X.mean(axis=1, keepdims=True), X.std(axis=1, keepdims=True)
        redo = ~constant & ~(np.isfinite(mean) & np.isfinite(std) & (std > 0))
        if redo.any():
            rows = np.flatnonzero(redo[:, 0])
            _, exponent = np.frexp(np.max(np.abs(X[rows]), axis=1, keepdims=True))
            scale = np.ldexp(1.0, exponent - 1)  # <= the largest |x|: no overflow dividing
            scaled = X[rows] / scale
            mean[rows] = scaled.mean(axis=1, keepdims=True) * scale
            std[rows] = scaled.std(axis=1, keepdims=True) * scale
    return np.where(constant, X[:, :1], mean), np.where(constant, 1.0, std)


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
    """``seed`` as a Generator: a Generator is used as is, an int in ``SEED``'s range
    ``[0, 2**32 - 1]`` seeds ``default_rng`` (a float, even a whole one, is refused)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if is_integer(seed) and SEED.contains(seed):
        return np.random.default_rng(int(seed))
    raise InvalidParameterError(
        f"The 'seed' parameter of {owner} must be {SEED} or a numpy.random.Generator. "
        f"Got {show(seed)} ({type(seed).__name__}) instead."
    )
