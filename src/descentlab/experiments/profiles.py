"""Time to target and performance profiles: how fast each optimizer reaches a problem's
validation target, and how it fares across problems (MLCommons AlgoPerf).

Time to target. A run is evaluated on the validation data after every epoch; its steps to
target are ``(e + 1) * steps_per_epoch`` for the first epoch ``e`` whose validation metric
reaches the target (:func:`first_reached`), and infinite when no epoch does ("not reached"
stays a value, never a gap). Per problem and optimizer, the time to target ``t[p, o]`` is the
median over seeds (:func:`median_to_target`): infinite when the median seed did not reach it
(with an even number of seeds the median is the mean of the two middle ones, so it is infinite
when either of them did not).

Performance profiles (Dolan & Moré, "Benchmarking optimization software with performance
profiles", Math. Programming 2002; used by Dahl et al., "Benchmarking Neural Network Training
Algorithms" (AlgoPerf), 2023). With P problems::

    r[p, o]   = t[p, o] / min_o' t[p, o']                 (inf when t[p, o] is; inf for every
                                                           optimizer when none reached p)
    rho_o(tau) = #{p : r[p, o] <= tau} / P                 the fraction of problems solved
                                                           within tau times the fastest time
    score_o   = (1 / (tau_max - 1)) * integral_1^tau_max rho_o(tau) dtau
              = (1 / (P (tau_max - 1))) * sum_p max(0, tau_max - r[p, o])

with ``tau_max = 4`` (:data:`TAU_MAX`): 1 for an optimizer that is the fastest on every
problem, 0 for one that never comes within 4 times the fastest. ``rho`` is a right-continuous
step function, so the integral is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from descentlab._validation import InvalidParameterError

__all__ = [
    "TAU_MAX",
    "first_reached",
    "median_to_target",
    "performance_profile",
    "performance_ratios",
    "profile_score",
]

TAU_MAX = 4.0
"""The largest ratio to the fastest time a profile counts (AlgoPerf's 4)."""


def first_reached(reached: Sequence[bool]) -> int | None:
    """The first index where ``reached`` is true (an epoch), or None if it never is.

    >>> first_reached([False, False, True, True]), first_reached([False])
    (2, None)
    """
    hits = np.flatnonzero(np.asarray(reached, dtype=bool))
    return int(hits[0]) if hits.size else None


def median_to_target(values: Sequence[float]) -> float:
    """The median over seeds of the times (or steps) to target; ``inf`` marks a seed that did
    not reach it and propagates when the median seed is one (see the module docstring).

    >>> median_to_target([3.0, math.inf, 1.0]), median_to_target([1.0, math.inf])
    (3.0, inf)
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.isnan(v).any() or (v <= 0).any():
        raise InvalidParameterError(
            "Times to target must be one or more numbers > 0 (inf for not reached); got "
            f"{v.tolist()[:10]}."
        )
    return float(np.median(v))


def performance_ratios(times: np.ndarray) -> np.ndarray:
    """``r[p, o] = t[p, o] / min_o t[p, o]`` of the ``(P, O)`` times to target (``> 0``, inf
    for not reached); inf where ``t`` is inf, and for every optimizer of a problem none reached.

    >>> performance_ratios(np.array([[2.0, 4.0], [math.inf, 3.0]])).tolist()
    [[1.0, 2.0], [inf, 1.0]]
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 2 or t.size == 0 or np.isnan(t).any() or (t <= 0).any():
        raise InvalidParameterError(
            "performance_ratios needs a (problems, optimizers) array of times > 0 (inf for not "
            f"reached); got shape {t.shape}."
        )
    fastest = t.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        r = t / fastest
    r[~np.isfinite(t) | ~np.isfinite(np.broadcast_to(fastest, t.shape))] = math.inf
    return r


def performance_profile(ratios: np.ndarray, taus: Sequence[float]) -> np.ndarray:
    """``rho[i, o]``: the fraction of problems with ``r[p, o] <= taus[i]``; ``(len(taus), O)``.

    >>> performance_profile(np.array([[1.0, 2.0], [math.inf, 1.0]]), [1.0, 2.0]).tolist()
    [[0.5, 0.5], [0.5, 1.0]]
    """
    r = np.asarray(ratios, dtype=float)
    tau = np.asarray(taus, dtype=float)
    return (r[None, :, :] <= tau[:, None, None]).mean(axis=1)


def profile_score(ratios: np.ndarray, tau_max: float = TAU_MAX) -> np.ndarray:
    """Per optimizer, the area under its profile over ``[1, tau_max]`` divided by
    ``tau_max - 1`` (exact: ``mean_p max(0, tau_max - r[p, o]) / (tau_max - 1)``); ``(O,)``.

    >>> profile_score(np.array([[1.0, 2.0], [math.inf, 1.0]])).tolist()
    [0.5, 0.8333333333333334]
    """
    r = np.asarray(ratios, dtype=float)
    return np.clip(tau_max - r, 0.0, None).mean(axis=0) / (tau_max - 1.0)
