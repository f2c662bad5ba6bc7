"""Random-search tuning: the search spaces, the trials' draws, the best trial, and the
tuning-budget curve (the expected best validation metric after n random trials).

Search spaces. Every searched hyperparameter is drawn log-uniformly,
``value = low * (high / low) ** u`` with ``u`` uniform in ``[0, 1)``, from the ranges of
Crowded Valley (Schmidt, Schneider & Hennig, "Descending through a Crowded Valley —
Benchmarking Deep Learning Optimizers", ICML 2021):

=====================  =====================  ===================================================
dimension              range                  searched as
=====================  =====================  ===================================================
``learning_rate``      LU(1e-4, 1)            every optimizer's learning rate (adaptive ones too)
``rho``                LU(1e-3, 1)            ``momentum``'s ``beta``, ``nesterov``'s
                                              ``momentum``, ``rmsprop``'s ``decay``
``b1``                 LU(0.5, 0.999)         ``b1`` of Adam and its relatives
``b2``                 LU(0.8, 0.999)         ``b2`` of Adam and its relatives
=====================  =====================  ===================================================

The ranges are read off the paper's published runs (``SirRob1997/Crowded-Valley---Results``):
every sampled value of those optimizers lies in them, and one trial's draws of different
optimizers are the same uniform numbers mapped through them (the trial that gives Adam
``b1 = 0.879`` gives Momentum ``rho = 0.2795``: ``u = 0.815`` in both). The paper samples the
momentum itself (not ``1 - momentum``) log-uniformly, and uses the same learning-rate range
for SGD and for Adam. Everything else (``eps``, weight decay, ...) stays at the optimizer's
(experiment) default, as in the paper; ``sgd`` and ``adagrad`` search their learning rate only
(the paper's SGD has no momentum). :data:`SEARCH_SPACES` lists the named optimizers; an
optimizer not in it (:data:`~descentlab.optimizers.OPTIMIZERS` grows) searches its learning
rate and, where it has them, ``b1`` and ``b2`` (:func:`search_space`).

Draws. Trial ``i`` takes, for each dimension, the ``i``-th number of a uniform stream seeded by
``(seed, dimension)`` (:func:`uniform_draws`): one ``seed`` fixes every draw, trial ``i`` of
two optimizers shares its numbers (common random numbers, as in the paper), and a larger budget
extends a smaller one (its first trials are the same).

The tuning-budget curve. With N trials observed and their validation metrics
``v_(1) <= ... <= v_(N)`` sorted, the best of the first n trials of a uniformly random
ordering is the maximum of n values drawn without replacement, and (counting tied values as
distinct items)::

    P(max = v_(k)) = C(k - 1, n - 1) / C(N, n)          k = n, ..., N
    E_n = sum_k v_(k) * (F_k - F_{k-1}),   F_k = C(k, n) / C(N, n) = P(max <= v_(k))

computed exactly by :func:`expected_best_so_far` (``F_N = 1``, ``F_{k-1} = F_k (k - n) / k``).
For a loss (lower is better) the same holds for the minimum.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab._validation import InvalidParameterError
from descentlab.experiments.specs import ALIASES, resolve_hyperparameters

__all__ = [
    "B1",
    "B2",
    "LEARNING_RATE",
    "RHO",
    "SEARCH_SPACES",
    "Dimension",
    "best_trial",
    "draw_trials",
    "expected_best_so_far",
    "search_space",
    "uniform_draws",
]


@dataclass(frozen=True)
class Dimension:
    """One searched dimension: a log-uniform range ``[low, high)`` and the name of its stream
    of uniform numbers (dimensions with one ``stream`` take the same numbers in one trial).

    >>> Dimension("b1", 0.5, 0.999).value(0.0)
    0.5
    """

    stream: str
    low: float
    high: float

    def value(self, u: float) -> float:
        """``low * (high / low) ** u``, for ``u`` in ``[0, 1)``."""
        return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))

    def __str__(self) -> str:
        return f"LU({self.low:g}, {self.high:g})"


LEARNING_RATE = Dimension("learning_rate", 1e-4, 1.0)
"""Crowded Valley's learning-rate range, for every optimizer."""
RHO = Dimension("rho", 1e-3, 1.0)
"""Crowded Valley's range of a momentum or a decay of squared gradients (the value itself)."""
B1 = Dimension("b1", 0.5, 0.999)
"""Crowded Valley's range of Adam's ``beta1``."""
B2 = Dimension("b2", 0.8, 0.999)
"""Crowded Valley's range of Adam's ``beta2``."""

SEARCH_SPACES: dict[str, dict[str, Dimension]] = {
    "gd": {"learning_rate": LEARNING_RATE},
    "sgd": {"learning_rate": LEARNING_RATE},
    "momentum": {"learning_rate": LEARNING_RATE, "beta": RHO},
    "nesterov": {"learning_rate": LEARNING_RATE, "momentum": RHO},
    "rmsprop": {"learning_rate": LEARNING_RATE, "decay": RHO},
    "adagrad": {"learning_rate": LEARNING_RATE},
    "adam": {"learning_rate": LEARNING_RATE, "b1": B1, "b2": B2},
    "adamw": {"learning_rate": LEARNING_RATE, "b1": B1, "b2": B2},
}
"""The searched hyperparameters of each named optimizer and their ranges (module docstring)."""

_DEFAULT_RULE = {"learning_rate": LEARNING_RATE, "b1": B1, "b2": B2}
"""What an optimizer outside :data:`SEARCH_SPACES` searches, of the settings it has."""


def search_space(optimizer: str, fixed: Mapping[str, Any] | None = None) -> dict[str, Dimension]:
    """The dimensions searched for ``optimizer``: its entry of :data:`SEARCH_SPACES` (else the
    learning rate, ``b1`` and ``b2`` where it has them), less the settings ``fixed`` gives.

    >>> sorted(search_space("adam", {"b2": 0.99}))
    ['b1', 'learning_rate']

    Raises:
      InvalidParameterError: an unknown optimizer or setting.
    """
    own = resolve_hyperparameters(optimizer)  # every setting but the learning rate
    fixed = {ALIASES.get(k, k) for k in fixed or {}}
    rule = SEARCH_SPACES.get(optimizer, _DEFAULT_RULE)
    return {
        name: dim
        for name, dim in rule.items()
        if (name == "learning_rate" or name in own) and name not in fixed
    }


def uniform_draws(seed: int, stream: str, n: int) -> np.ndarray:
    """The first ``n`` numbers, uniform in ``[0, 1)``, of the stream ``(seed, stream)``; the
    first ``k`` are the same for every ``n >= k``."""
    rng = np.random.default_rng([seed, zlib.crc32(stream.encode())])
    return rng.random(n)


def draw_trials(
    optimizer: str, fixed: Mapping[str, Any], budget: int, seed: int
) -> list[dict[str, Any]]:
    """The hyperparameters of ``budget`` random-search trials of ``optimizer``: ``fixed``, then
    every dimension of :func:`search_space` drawn from its stream (see the module docstring).

    >>> [round(t["learning_rate"], 6) for t in draw_trials("gd", {}, 2, seed=0)]
    [0.019039, 0.000148]
    """
    space = search_space(optimizer, fixed)
    columns = {name: uniform_draws(seed, dim.stream, budget) for name, dim in space.items()}
    return [
        {**fixed, **{name: space[name].value(float(u[i])) for name, u in columns.items()}}
        for i in range(budget)
    ]


def best_trial(
    metric: Sequence[float],
    cost: Sequence[float],
    diverged: Sequence[bool],
    *,
    higher_is_better: bool,
) -> int:
    """The index of the best trial: the best ``metric`` (highest, or lowest for a loss), ties
    to the lower validation ``cost``, then to the earlier trial. A diverged trial, or one whose
    metric is NaN, is the worst.

    >>> best_trial([0.9, 0.95, 0.95], [0.3, 0.2, 0.1], [False, False, False], higher_is_better=True)
    2
    """
    metric = np.asarray(metric, dtype=float)
    if metric.size == 0:
        raise InvalidParameterError("best_trial needs at least one trial.")
    sign = -1.0 if higher_is_better else 1.0

    def key(i: int) -> tuple[bool, float, float, int]:
        bad = bool(diverged[i]) or math.isnan(metric[i])
        c = float(cost[i])
        return (bad, 0.0 if bad else sign * metric[i], c if math.isfinite(c) else math.inf, i)

    return min(range(metric.size), key=key)


def expected_best_so_far(values: Sequence[float], *, higher_is_better: bool = True) -> np.ndarray:
    """``E_n`` for n = 1..N: the expected best of the first n of the N ``values`` in a
    uniformly random order (without replacement), exactly (see the module docstring).

    ``values`` are numbers or ``±inf`` (a caller gives a diverged trial the worst value it
    chooses); NaN is refused. ``E_N`` is the best value and ``E_1`` the mean.

    >>> expected_best_so_far([0.2, 0.5, 0.8]).round(4).tolist()
    [0.5, 0.7, 0.8]
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0 or np.isnan(v).any():
        raise InvalidParameterError(
            "expected_best_so_far needs one or more values, none of them NaN; got "
            f"{v.size} values{' with NaN' if v.size and np.isnan(v).any() else ''}."
        )
    v = np.sort(v if higher_is_better else -v)
    N = v.size
    k = np.arange(1, N + 1, dtype=float)
    out = np.empty(N)
    for n in range(1, N + 1):
        ratio = np.clip(k - n, 0.0, None) / k  # F_{k-1} / F_k
        F = np.ones(N)  # F[k-1] = P(max <= v_(k))
        F[:-1] = np.cumprod(ratio[:0:-1])[::-1]
        weights = np.diff(F, prepend=0.0)
        used = weights > 0
        out[n - 1] = float(np.sum(weights[used] * v[used]))
    return out if higher_is_better else -out
