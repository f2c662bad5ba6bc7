"""Shuffle and partition the examples (columns) into mini-batches.

With ``m`` examples and batch size ``b`` there are ``floor(m / b)`` full batches and, when
``b`` does not divide ``m``, one last batch of ``m - b * floor(m / b)`` examples: every example
lands in exactly one batch per epoch. ``b = 1`` is stochastic gradient descent, ``b >= m`` is
batch gradient descent (one batch holding everything).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import SEED, DataError, Interval, Options, as_int, as_seeds, check_param

__all__ = [
    "SEED_DATA_SEED",
    "SHUFFLES",
    "EpochOrder",
    "batch_slices",
    "iterate_mini_batches",
    "random_mini_batches",
    "seed_order",
]

SEED_DATA_SEED = 10
"""The exercise's data seed: its ``model()`` sets ``seed = 10`` and adds one before every epoch,
so epoch ``e`` (from 0) is shuffled by :func:`seed_order` with seed ``10 + e + 1``."""


def _check_xy(X: np.ndarray, Y: np.ndarray) -> int:
    for name, a in (("X", X), ("Y", Y)):
        if not isinstance(a, np.ndarray):
            raise DataError(
                f"{name} must be a NumPy array (features or outputs, m examples as columns); got {type(a).__name__}."
            )
    if np.ndim(X) != 2 or np.ndim(Y) != 2:
        raise DataError(
            f"X and Y must be 2-D (features or outputs, m examples as columns); got shapes "
            f"{np.shape(X)} and {np.shape(Y)}."
        )
    if X.shape[1] != Y.shape[1]:
        raise DataError(f"Found {X.shape[1]} examples in X and {Y.shape[1]} in Y.")
    return X.shape[1]


SHUFFLES = ("seed", "random", "none")
"""The data orders of a training run: the exercise's (``seed``), a Generator's, or none."""


def batch_slices(m: int, batch_size: int) -> list[slice]:
    """Column slices ``[0:b], [b:2b], ..., [b*floor(m/b):m]`` that partition ``m`` examples.

    >>> [(s.start, s.stop) for s in batch_slices(148, 64)]
    [(0, 64), (64, 128), (128, 148)]
    """
    m = as_int("batch_slices", "m", m, Interval(0, limits.MAX_EXAMPLES, integer=True))
    batch_size = as_int("batch_slices", "batch_size", batch_size)
    return [slice(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]


def seed_order(m: int, seed: int, *, generator: np.random.RandomState | None = None) -> np.ndarray:
    """The exercise's shuffle: ``np.random.seed(seed); np.random.permutation(m)``, without global state.

    The legacy ``RandomState`` draws the same permutation as the exercise's global
    ``np.random`` calls. ``generator``, if given, is re-seeded and used instead of a new one
    (it draws the same numbers at a twentieth of the cost; the training engine keeps one).

    >>> seed_order(5, 11).tolist()
    [2, 4, 0, 3, 1]
    """
    rs = np.random.RandomState() if generator is None else generator
    rs.seed(seed)
    return rs.permutation(m)


def random_mini_batches(
    X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The seed's mini-batches: shuffle the columns of ``(X, Y)`` together, then partition.

    ``perm = seed_order(m, seed)``; batch ``k`` holds the shuffled columns
    ``[k*b, min((k+1)*b, m))``. Unlike the original exercise the last batch keeps every
    remaining example (148 examples in batches of 64 give 64, 64 and 20).

    Args:
      X: inputs ``(n_x, m)``.
      Y: targets ``(n_y, m)``.
      mini_batch_size: ``b >= 1``.
      seed: seed of the shuffle.

    Returns:
      a list of ``(X_batch (n_x, b_k), Y_batch (n_y, b_k))``.
    """
    mini_batch_size = as_int("random_mini_batches", "mini_batch_size", mini_batch_size)
    seed = as_int("random_mini_batches", "seed", seed, SEED)
    m = _check_xy(X, Y)
    perm = seed_order(m, seed)
    X_s, Y_s = X[:, perm], Y[:, perm]
    return [(X_s[:, s], Y_s[:, s]) for s in batch_slices(m, mini_batch_size)]


def iterate_mini_batches(
    X: np.ndarray,
    Y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | int | None = None,
    *,
    shuffle: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield one epoch of mini-batches ``(X_batch, Y_batch)``, shuffled by ``rng`` if ``shuffle``.

    The order is ``rng.permutation(m)`` (a fresh permutation on every call), so passing the
    same ``Generator`` epoch after epoch gives a new, reproducible order each epoch.
    """
    batch_size = as_int("iterate_mini_batches", "batch_size", batch_size)
    m = _check_xy(X, Y)
    if shuffle:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        order = gen.permutation(m)
        X, Y = X[:, order], Y[:, order]
    for s in batch_slices(m, batch_size):
        yield X[:, s], Y[:, s]


class EpochOrder:
    """Per epoch, the order of the examples: shared ``(m,)`` or per member ``(K, m)``, or None.

    ``order = EpochOrder(shuffle, data_seed, m)``; ``order(epoch)`` is epoch ``epoch``'s order.
    ``data_seed`` is one seed or a list of K seeds (one order per population member).

    ``seed``: the exercise's order, ``seed_order(m, data_seed + epoch + 1)`` (its ``model()``
    starts at :data:`SEED_DATA_SEED` = 10 and adds one before every epoch), the seed taken
    modulo 2**32 (the legacy generator's range) once the sum passes it.
    ``random``: ``default_rng(data_seed).permutation(m)`` drawn afresh each epoch.
    ``none``: the data's own order every epoch.

    Members that share a data seed share one draw (the orders are computed once per distinct
    seed and repeated), so a population of many configurations over a few seeds pays for a
    few permutations per epoch, not K; when every member has the same seed the order is one
    shared ``(m,)`` array and the data is not copied per member at all.
    """

    def __init__(self, shuffle: str, data_seed: Any, m: int, *, owner: str = "EpochOrder"):
        check_param(owner, "shuffle", shuffle, Options(SHUFFLES))
        self.shuffle, self.m = shuffle, m
        seeds = as_seeds(owner, "data_seed", data_seed)
        self.n_orders = len(seeds) if seeds is not None and shuffle != "none" else None
        if seeds is None:
            seeds = [SEED_DATA_SEED if data_seed is None and shuffle == "seed" else data_seed]
        unique = list(dict.fromkeys(seeds))
        self.distinct_seeds = unique  # what a checkpoint compares (descentlab.checkpoint)
        self.per_member = len(unique) > 1 and shuffle != "none"
        self.repeat = [unique.index(s) for s in seeds] if self.per_member else None
        if shuffle == "seed":
            self.seeds = unique
            self.legacy = np.random.RandomState(0)  # re-seeded: see seed_order
        elif shuffle == "random":
            self.rngs = [np.random.default_rng(s) for s in unique]

    def __call__(self, epoch: int) -> np.ndarray | None:
        if self.shuffle == "none":
            return None
        perms = self._draw(epoch)
        if not self.per_member:
            return perms[0]
        return np.stack(perms)[self.repeat]

    def _draw(self, epoch: int) -> list[np.ndarray]:
        """Epoch ``epoch``'s distinct orders, one per distinct seed (in first-seen order)."""
        if self.shuffle == "seed":  # seeds past 2**32 - 1 wrap around (RandomState's range)
            return [
                seed_order(self.m, (s + epoch + 1) % 2**32, generator=self.legacy)
                for s in self.seeds
            ]
        return [rng.permutation(self.m) for rng in self.rngs]

    def distinct(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s distinct orders as rows ``(n_distinct, m)`` (``arange(m)`` for
        ``none``); member k takes row :attr:`member_rows` ``[k]``. Draws exactly what
        ``order(epoch)`` draws, so the two may be used in turn, epoch after epoch."""
        if self.shuffle == "none":
            return np.arange(self.m)[None]
        return np.stack(self._draw(epoch))

    @property
    def member_rows(self) -> list[int] | None:
        """Per member, its row of :meth:`distinct`; None when every member shares row 0."""
        return self.repeat

    def generator_states(self) -> list[dict[str, Any]] | None:
        """The running generators' states (``random``: one per distinct seed, in first-seen
        order), as NumPy gives them (``bit_generator.state``: plain dicts of ints and text);
        None for ``seed`` and ``none``, whose orders depend on the epoch alone."""
        if self.shuffle != "random":
            return None
        return [rng.bit_generator.state for rng in self.rngs]

    def set_generator_states(self, states: list[dict[str, Any]]) -> None:
        """Put the generators back where :meth:`generator_states` found them, so the next
        epoch draws what it drew then (the states are checked by the caller:
        :mod:`descentlab.checkpoint`)."""
        for rng, state in zip(self.rngs, states, strict=True):
            rng.bit_generator.state = state
