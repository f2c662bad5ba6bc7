"""Generated classification sets: the seed's exact moons and toy generators, reproducible from ``seed``.

- :func:`load_moons` — the seed's exact training set (``opt_utils.load_dataset``).
- Generators, reproducible from ``seed`` (an int in ``[0, 2**32 - 1]`` or a
  ``numpy.random.Generator``): :func:`make_moons`, :func:`make_circles`, :func:`make_blobs`,
  :func:`make_spiral`, :func:`make_xor`, :func:`make_gaussian_quantiles`.

Every generator checks its settings before it allocates anything and raises
:class:`~descentlab._validation.InvalidParameterError` naming the setting: counts are whole
numbers (``300`` or ``300.0``, never ``300.5``, ``"300"`` or ``True``), ``2 <= n_samples <=
limits.MAX_EXAMPLES``, ``2 <= n_classes <= n_samples``, ``n_features >= 1`` with
``n_features * n_samples <= limits.MAX_DATA_VALUES``; ``noise``, ``factor``, ``turns`` and
``center_box`` are finite and in range.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    COUNT,
    NON_NEGATIVE,
    Interval,
    InvalidParameterError,
    Rule,
    as_int,
    check_param,
)
from descentlab.datasets.container import Dataset, Seed, _rng

__all__ = [
    "load_moons",
    "make_blobs",
    "make_circles",
    "make_gaussian_quantiles",
    "make_moons",
    "make_spiral",
    "make_xor",
]


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
    The numbers are scikit-learn's, drawn here (:func:`_seed_moons`) without importing it:
    scikit-learn takes about a second to import, more than the rest of a short run.

    Returns:
        ``Dataset("moons", X (2, 300), y (300,), classes=(0, 1), ("x1", "x2"))``.

    >>> ds = load_moons()
    >>> ds.X.shape, np.bincount(ds.y).tolist()
    ((2, 300), [150, 150])
    """
    if use_global_state:
        np.random.seed(3)  # noqa: NPY002 -- the seed's behaviour, asked for explicitly
        X, y = _seed_moons(np.random)
    else:
        X, y = _seed_moons(np.random.RandomState(3))
    return Dataset("moons", X.T, y, (0, 1), ("x1", "x2"))


def _seed_moons(random: Any, n_samples: int = 300, noise: float = 0.2) -> tuple[np.ndarray, ...]:
    """``sklearn.datasets.make_moons(n_samples, noise=noise, random_state=random)``, number for
    number: ``X (n_samples, 2)`` (rows, as scikit-learn gives them) and ``y (n_samples,)``.

    With ``h = n_samples // 2`` points on the outer half circle (class 0) and the others on
    the inner one (class 1), at angles ``t = linspace(0, pi, h)``::

        outer = (cos t, sin t)        inner = (1 - cos t, 1 - sin t - 0.5)

    then the rows are permuted (``random.shuffle`` of ``arange(n_samples)``) and Gaussian
    noise is added, ``X += random.normal(scale=noise, size=X.shape)``: the same draws, in the
    same order, as scikit-learn's. ``random``: a ``RandomState``, or the ``numpy.random``
    module for NumPy's global state.
    """
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.empty((n_samples, 2))
    X[:n_out, 0], X[:n_out, 1] = np.cos(t_out), np.sin(t_out)
    X[n_out:, 0], X[n_out:, 1] = 1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    order = np.arange(n_samples)
    random.shuffle(order)
    X, y = X[order], y[order]
    X += random.normal(scale=noise, size=X.shape)
    return X, y


# --------------------------------------------------------------------------- generators

"""The most coordinates a generator draws, ``n_features * n_samples`` (640 million)."""


def _is_box(value: Any) -> bool:
    """a pair (low, high) of finite floats with low < high"""
    try:
        low, high = value
    except (TypeError, ValueError):
        return False
    are_numbers = all(
        isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in (low, high)
    )
    return are_numbers and math.isfinite(float(high) - float(low)) and low < high


_RULES: dict[str, Rule] = {
    "n_samples": Interval(2, limits.MAX_EXAMPLES, integer=True),
    "n_classes": Interval(2, limits.MAX_EXAMPLES, integer=True),
    "n_features": COUNT,
    "noise": NON_NEGATIVE,
    "factor": Interval(0.0, 1.0, closed="neither"),
    "turns": Interval(0.0, 100.0, closed="neither"),
    "center_box": _is_box,
}
"""The generators' settings; ``seed`` is checked by ``_rng`` (``SEED`` or a Generator)."""
_COUNTS = ("n_samples", "n_classes", "n_features")


def _check_generator(owner: str, **settings: Any) -> dict[str, Any]:
    """Check ``settings`` against :data:`_RULES` (counts by :func:`as_int`, returned as ints),
    then the sizes against each other: ``n_classes <= n_samples`` (one example per class) and
    ``n_features * n_samples <= limits.MAX_DATA_VALUES``, before anything is allocated."""
    checked = {
        name: (
            as_int(owner, name, value, _RULES[name])
            if name in _COUNTS
            else check_param(owner, name, value, _RULES[name], allow_array=False)
        )
        for name, value in settings.items()
    }
    n_samples, n_classes = checked["n_samples"], checked.get("n_classes", 2)
    if n_samples < n_classes:
        raise InvalidParameterError(
            f"The 'n_samples' parameter of {owner} must be at least n_classes={n_classes} "
            f"(one example per class). Got {n_samples!r} instead."
        )
    n_features = checked.get("n_features", 2)
    if n_features * n_samples > limits.MAX_DATA_VALUES:
        raise InvalidParameterError(
            f"The 'n_features' parameter of {owner} must be at most "
            f"{limits.MAX_DATA_VALUES // n_samples} for n_samples={n_samples} (n_features * n_samples "
            f"<= {limits.MAX_DATA_VALUES}, descentlab.limits.MAX_DATA_VALUES). Got {n_features} instead."
        )
    return checked


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
    n_samples = _check_generator("make_moons", n_samples=n_samples, noise=noise)["n_samples"]
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
    s = _check_generator("make_circles", n_samples=n_samples, noise=noise, factor=factor)
    n_samples = s["n_samples"]
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
    s = _check_generator(
        "make_blobs",
        n_samples=n_samples,
        n_classes=n_classes,
        n_features=n_features,
        noise=noise,
        center_box=center_box,
    )
    n_samples, n_classes, n_features = s["n_samples"], s["n_classes"], s["n_features"]
    low, high = (float(v) for v in center_box)
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
    s = _check_generator(
        "make_spiral", n_samples=n_samples, n_classes=n_classes, noise=noise, turns=turns
    )
    n_samples, n_classes = s["n_samples"], s["n_classes"]
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
    n_samples = _check_generator("make_xor", n_samples=n_samples, noise=noise)["n_samples"]
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
    s = _check_generator(
        "make_gaussian_quantiles",
        n_samples=n_samples,
        n_classes=n_classes,
        n_features=n_features,
        noise=noise,
    )
    n_samples, n_classes, n_features = s["n_samples"], s["n_classes"], s["n_features"]
    rng = _rng(seed, "make_gaussian_quantiles")
    Z = rng.standard_normal((n_features, n_samples))
    rank = np.empty(n_samples, dtype=np.int64)
    rank[np.argsort(np.sum(Z**2, axis=0), kind="stable")] = np.arange(n_samples)
    y = rank * n_classes // n_samples
    X = Z + noise * rng.standard_normal(Z.shape)
    return Dataset("gaussian_quantiles", X, y, tuple(range(n_classes)))
