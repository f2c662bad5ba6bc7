"""The noisy quadratic: DeepOBS's ``quadratic_deep`` as a linear-regression data set.

DeepOBS (Schneider, Balles & Hennig 2019) tests optimizers on a 100-dimensional quadratic
whose Hessian ``Q = V diag(lam) V^T`` has 90 eigenvalues in [0, 1] and 10 in [30, 60] (the
shape of the spectra reported for neural networks, Chaudhari et al. 2017) and a random
rotation ``V``; its per-example loss is ``0.5 (theta - x)^T Q (theta - x)`` with data
``x ~ N(0, s^2 I)``, so a mini-batch moves the minimum but every batch has the Hessian ``Q``.

Here the same landscape is a regression problem that the ordinary MLP ``(100, 1)`` with the
MSE loss trains (``W1 = w^T``, ``b1 = b``): features ``z`` in R^100, targets
``y = z^T theta* + eps``, cost ``J = (1/(2m)) sum_i (w^T z_i + b - y_i)^2``. With
``d = w - theta*``::

    J = 0.5 d^T S d + 0.5 b^2 + 0.5 mean(eps^2)
        + b mean(z)^T d - d^T (1/m) Z eps - b mean(eps),     S = (1/m) Z Z^T

The training set is *built* so that every cross term vanishes and ``S = Q`` exactly: ``Z =
sqrt(m) Q^{1/2} U`` and ``eps = sqrt(m) sigma q``, where the 100 rows of ``U`` and the vector
``q`` are orthonormal and orthogonal to the ones vector (:func:`make_noisy_quadratic`). So the
full-batch cost is exactly ``0.5 (w - theta*)^T Q (w - theta*) + 0.5 b^2 + 0.5 sigma^2``: the
weights see DeepOBS's quadratic, the bias decouples (curvature 1), the floor is
``0.5 sigma^2``. The difference from DeepOBS is where the noise enters: a mini-batch of b
examples has the Hessian ``(1/b) sum z_i z_i^T`` (a noisy estimate of ``Q``, not ``Q``
itself) and a gradient shifted by its sampled targets, so both the curvature and the gradient
are noisy, as in a real network.

Held-out sets are fresh i.i.d. draws, ``z ~ N(0, Q)`` and ``eps ~ N(0, sigma^2)``, whose
expected cost is that same function: their cost estimates the expected loss.

References:
  Schneider, Balles & Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite", ICLR 2019
  (test problem ``quadratic_deep``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from descentlab import limits
from descentlab._validation import (
    FLAG,
    NON_NEGATIVE,
    SEED,
    Interval,
    as_int,
    check_param,
)
from descentlab.datasets.container import Dataset, Seed, _rng

__all__ = ["DIM", "QuadraticProblem", "make_noisy_quadratic", "noisy_quadratic_problem"]

DIM = 100
"""Dimension of the quadratic (DeepOBS's ``quadratic_deep``)."""

_SMALL, _LARGE = 90, 10  # eigenvalues drawn from [0, 1] and from [30, 60]
_MIN_EXACT = DIM + 2  # U's 100 rows, the noise direction q, and the ones vector they avoid
# the working arrays (G, its QR factor, Z) hold about 3 m 102 numbers: at most MAX_DATA_VALUES
_MAX_SAMPLES = limits.MAX_DATA_VALUES // (3 * _MIN_EXACT)


class QuadraticProblem(NamedTuple):
    """The fixed landscape of the noisy quadratic (drawn from ``problem_seed``).

    Attributes:
      eigenvalues: ``lam`` ``(100,)``: 90 uniform in [0, 1], then 10 uniform in [30, 60].
      rotation: ``V`` ``(100, 100)``, orthogonal, Haar-distributed.
      theta: the optimum ``theta*`` ``(100,)``, standard normal.
    """

    eigenvalues: np.ndarray
    rotation: np.ndarray
    theta: np.ndarray

    @property
    def hessian(self) -> np.ndarray:
        """``Q = V diag(lam) V^T`` ``(100, 100)``."""
        V = self.rotation
        return (V * self.eigenvalues) @ V.T

    @property
    def root(self) -> np.ndarray:
        """``Q^{1/2} = V diag(sqrt(lam)) V^T``, symmetric."""
        V = self.rotation
        return (V * np.sqrt(self.eigenvalues)) @ V.T

    def expected_cost(self, w: np.ndarray, b: float | np.ndarray, noise: float) -> np.ndarray:
        """``0.5 (w - theta*)^T Q (w - theta*) + 0.5 b^2 + 0.5 noise^2``: the full-batch cost
        of the training set and the expected cost of a fresh example, for ``w`` ``(100,)`` or
        ``(K, 100)`` and ``b`` a float or ``(K,)``."""
        d = np.asarray(w, dtype=np.float64) - self.theta
        quad = np.einsum("...i,ij,...j->...", d, self.hessian, d)
        return 0.5 * quad + 0.5 * np.square(b) + 0.5 * noise**2


def noisy_quadratic_problem(problem_seed: int = 0) -> QuadraticProblem:
    """The landscape for ``problem_seed``: ``default_rng(problem_seed)`` draws, in this order,
    the 90 small and the 10 large eigenvalues, a ``(100, 100)`` standard normal matrix whose QR
    factor (columns' signs fixed by ``R``'s diagonal) is the Haar-random rotation ``V``, and
    ``theta* ~ N(0, I)``."""
    problem_seed = as_int("noisy_quadratic_problem", "problem_seed", problem_seed, SEED)
    rng = np.random.default_rng(problem_seed)
    lam = np.concatenate([rng.uniform(0.0, 1.0, _SMALL), rng.uniform(30.0, 60.0, _LARGE)])
    V, R = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    V = V * np.sign(np.diag(R))  # the QR factor with a positive diagonal of R: Haar on O(100)
    return QuadraticProblem(lam, V, rng.standard_normal(DIM))


def make_noisy_quadratic(
    n_samples: int = 1000,
    *,
    noise: float = 1.0,
    seed: Seed = 0,
    exact: bool = True,
    problem_seed: int = 0,
) -> Dataset:
    """A sample of the noisy quadratic (see the module docstring for the math).

    ``exact=True`` (the training set) builds, with ``sigma = noise``::

        G = standard normal (m, 101), centred per column;   [U^T, q] = the QR factor of G
        Z = sqrt(m) Q^{1/2} U          (100, m)    (1/m) Z Z^T = Q,  Z 1 = 0,  Z q = 0
        eps = sqrt(m) sigma q          (m,)        mean(eps) = 0,  mean(eps^2) = sigma^2
        y = Z^T theta* + eps

    so the cost of a linear MSE network is exactly
    ``0.5 (w - theta*)^T Q (w - theta*) + 0.5 b^2 + 0.5 sigma^2``. ``exact=False`` (held-out
    sets) draws ``z_i = Q^{1/2} g_i`` with ``g_i ~ N(0, I)`` and ``eps_i ~ N(0, sigma^2)``.

    Args:
      n_samples: examples ``m``; at least 102 when ``exact`` (room for U's rows and ``q``
        beside the ones vector), else at least 2.
      noise: ``sigma``, the standard deviation of the target noise (>= 0).
      seed: the sample's seed (an int or a ``numpy.random.Generator``).
      exact: build the training set (True) or draw an i.i.d. sample (False).
      problem_seed: the landscape's seed (:func:`noisy_quadratic_problem`); the same for a
        training set and its held-out sets.

    Returns:
      a regression dataset ``noisy_quadratic``: ``X`` ``(100, m)``, ``y`` ``(m,)``.

    >>> ds = make_noisy_quadratic(200, seed=3)
    >>> Q = noisy_quadratic_problem().hessian
    >>> bool(np.allclose(ds.X @ ds.X.T / 200, Q, atol=1e-12)), ds.task
    (True, 'regression')
    """
    owner = "make_noisy_quadratic"
    check_param(owner, "exact", exact, FLAG)
    low = _MIN_EXACT if exact else 2
    n_samples = as_int(owner, "n_samples", n_samples, Interval(low, _MAX_SAMPLES, integer=True))
    sigma = float(check_param(owner, "noise", noise, NON_NEGATIVE, allow_array=False))
    problem_seed = as_int(owner, "problem_seed", problem_seed, SEED)
    rng = _rng(seed, owner)
    problem = noisy_quadratic_problem(problem_seed)
    if exact:
        G = rng.standard_normal((n_samples, DIM + 1))
        G -= G.mean(axis=0)  # columns orthogonal to the ones vector, and so their QR factor
        basis = np.linalg.qr(G)[0]  # (m, 101), orthonormal columns
        Z = np.sqrt(n_samples) * (problem.root @ basis[:, :DIM].T)
        eps = np.sqrt(n_samples) * sigma * basis[:, DIM]
    else:
        Z = problem.root @ rng.standard_normal((DIM, n_samples))
        eps = sigma * rng.standard_normal(n_samples)
    y = problem.theta @ Z + eps
    return Dataset("noisy_quadratic", Z, y, task="regression")
