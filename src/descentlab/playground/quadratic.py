"""The playground's quadratic mode: gradient descent and momentum on a 2-D quadratic, theory beside
simulation (Goh 2017, "Why Momentum Really Works").

The problem is ``f(x) = 1/2 x^T H x`` with ``H = Q diag(lambda_min, lambda_max) Q^T``,
``lambda_min = 1``, ``lambda_max = kappa`` (the condition number) and ``Q`` the rotation by
``angle`` degrees; its minimum is ``x* = 0``. Momentum is the heavy ball in Goh's form, which is
PyTorch's ``SGD(momentum=beta)`` and the library's :func:`~descentlab.optimizers.sgd`::

    z = beta * z + grad f(x),   x = x - alpha * z        (beta = 0: gradient descent)

In the eigenbasis every coordinate ``i`` (eigenvalue ``lambda_i``) evolves alone by the 2x2
iteration matrix ``R_i = [[beta, lambda_i], [-alpha * beta, 1 - alpha * lambda_i]]`` acting on
``(z_i, x_i)``; the error after ``k`` steps is ``|| (R_i^k (0, x0_i))_x ||`` over ``i``, and it
decays as ``rate^k`` with ``rate = max_i rho(R_i)`` (the spectral radius). Closed forms:

- gradient descent: ``rate(alpha) = max(|1 - alpha lambda_min|, |1 - alpha lambda_max|)``,
  best at ``alpha = 2 / (lambda_min + lambda_max)`` with rate ``(kappa - 1) / (kappa + 1)``;
- momentum: best at ``alpha = (2 / (sqrt(lambda_max) + sqrt(lambda_min)))^2`` and
  ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``, with rate ``(sqrt(kappa) - 1) /
  (sqrt(kappa) + 1)``.

:func:`quadratic_report` computes the theory and the predicted error curves from the 2x2
matrices, and simulates the same runs with the library's optimizers
(:func:`~descentlab.optimizers.gd`, :func:`~descentlab.optimizers.sgd`) in the original
(rotated) coordinates.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from descentlab._validation import Interval
from descentlab.optimizers import apply_updates, gd, sgd
from descentlab.playground.models import STRICT, RequestError, check_value

__all__ = [
    "QUADRATIC_RANGES",
    "QuadraticRequest",
    "gd_rate",
    "iteration_matrix",
    "measured_rate",
    "momentum_optimum",
    "predicted_errors",
    "quadratic_report",
    "simulated_errors",
    "spectral_radius",
]

QUADRATIC_RANGES: dict[str, Interval] = {
    "kappa": Interval(1.0, 1e4),
    "angle": Interval(-180.0, 180.0),
    "learning_rate": Interval(0.0, 10.0, closed="right"),
    "beta": Interval(0.0, 1.0, closed="left"),
    "steps": Interval(1, 2000, integer=True),
    "x0": Interval(-100.0, 100.0),
}
"""The allowed values of a :class:`QuadraticRequest` (``x0``: each starting coordinate)."""


class QuadraticRequest(BaseModel):
    """``POST /api/quadratic``: the problem (``kappa``, ``angle``), the user's ``learning_rate``
    and ``beta``, the number of ``steps`` and the starting point ``x0``."""

    model_config = STRICT
    kappa: float = 10.0
    angle: float = 0.0
    learning_rate: float = 0.1
    beta: float = 0.5
    steps: int = 100
    x0: list[float] = Field(default_factory=lambda: [1.0, 1.0], min_length=2, max_length=2)


def check_quadratic(req: QuadraticRequest) -> None:
    """Every value of ``req`` within :data:`QUADRATIC_RANGES`; :class:`RequestError` names it."""
    for name, rule in QUADRATIC_RANGES.items():
        if name == "x0":
            for i, value in enumerate(req.x0):
                check_value(f"x0.{i}", "the quadratic", f"x0[{i}]", value, rule)
        else:
            check_value(name, "the quadratic", name, getattr(req, name), rule)
    if req.x0 == [0.0, 0.0]:
        raise RequestError("x0", "x0 is the minimum itself; start anywhere else.")


def hessian(kappa: float, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(H, Q, lambdas)``: ``H = Q diag(1, kappa) Q^T``, ``Q`` the rotation by ``angle``
    degrees (columns: the eigenvectors), ``lambdas = (1, kappa)``."""
    t = math.radians(angle)
    Q = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    lambdas = np.array([1.0, float(kappa)])
    return Q @ np.diag(lambdas) @ Q.T, Q, lambdas


def iteration_matrix(lam: float, alpha: float, beta: float) -> np.ndarray:
    """``R = [[beta, lam], [-alpha beta, 1 - alpha lam]]``: ``(z, x) -> (z', x')`` of the heavy
    ball on the eigen-direction with eigenvalue ``lam``."""
    return np.array([[beta, lam], [-alpha * beta, 1.0 - alpha * lam]])


def spectral_radius(M: np.ndarray) -> float:
    """``max |sigma|`` over the eigenvalues ``sigma`` of ``M``."""
    return float(np.max(np.abs(np.linalg.eigvals(M))))


def gd_rate(alpha: float, lambdas: np.ndarray) -> float:
    """``max_i |1 - alpha lambda_i|``: gradient descent's convergence rate."""
    return float(np.max(np.abs(1.0 - alpha * np.asarray(lambdas))))


def momentum_optimum(lambda_min: float, lambda_max: float) -> dict[str, float]:
    """Goh's optimal heavy ball: ``alpha = (2 / (sqrt(l_max) + sqrt(l_min)))^2``, ``beta =
    ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``, ``rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)``."""
    root = math.sqrt(lambda_max / lambda_min)
    rate = (root - 1.0) / (root + 1.0)
    alpha = (2.0 / (math.sqrt(lambda_max) + math.sqrt(lambda_min))) ** 2
    return {"learning_rate": alpha, "beta": rate**2, "rate": rate}


def predicted_errors(
    lambdas: np.ndarray, x0_eigen: np.ndarray, alpha: float, beta: float, steps: int
) -> np.ndarray:
    """``||x_k||`` for ``k = 0..steps`` from the 2x2 iteration matrices alone: coordinate ``i``
    (in the eigenbasis) is ``(R_i^k (0, x0_i))_x``. Shape ``(steps + 1,)``; a value past ``1e150``
    ends the run (inf after)."""
    states = [np.array([0.0, x]) for x in x0_eigen]
    mats = [iteration_matrix(lam, alpha, beta) for lam in lambdas]
    out = np.full(steps + 1, np.inf)
    for k in range(steps + 1):
        out[k] = math.hypot(*(s[1] for s in states))
        if not out[k] < 1e150:  # diverged: inf from here on, as the simulation
            break
        states = [R @ s for R, s in zip(mats, states, strict=True)]
    return out


def simulated_errors(
    H: np.ndarray, x0: np.ndarray, alpha: float, beta: float, steps: int
) -> np.ndarray:
    """``||x_k||`` for ``k = 0..steps`` of the library's optimizer on ``f(x) = 1/2 x^T H x``:
    :func:`~descentlab.optimizers.gd` when ``beta = 0``, else ``sgd(alpha, momentum=beta)``
    (the heavy ball). Shape ``(steps + 1,)``; a value past ``1e150`` ends the run (inf after)."""
    opt = gd(alpha) if beta == 0 else sgd(alpha, momentum=beta)
    params = {"x": np.asarray(x0, dtype=float).reshape(2, 1)}
    state = opt.init(params)
    out = np.full(steps + 1, np.inf)
    for k in range(steps + 1):
        out[k] = float(np.linalg.norm(params["x"]))
        if not out[k] < 1e150 or k == steps:
            break
        grads = {"x": H @ params["x"]}
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
    return out


def measured_rate(errors: np.ndarray) -> float | None:
    """The per-step decay over the second half of a run: ``(e_K / e_{K//2})^(1 / (K - K//2))``
    (None when an error there is 0, inf or NaN)."""
    K = len(errors) - 1
    first, last = errors[K // 2], errors[K]
    if K < 1 or not (0 < first < np.inf and 0 < last < np.inf):
        return None
    return float((last / first) ** (1.0 / (K - K // 2)))


def _curve(values: np.ndarray) -> list[float | None]:
    """JSON-safe: ``None`` where not finite or past ``1e150``."""
    return [float(v) if math.isfinite(v) and v < 1e150 else None for v in values]


def _method(
    name: str, H: np.ndarray, lambdas: np.ndarray, Q: np.ndarray, x0: np.ndarray,
    alpha: float, beta: float, steps: int,
) -> dict[str, Any]:  # fmt: skip
    """One method's settings, predicted rate, predicted and simulated error curves."""
    rate = max(spectral_radius(iteration_matrix(lam, alpha, beta)) for lam in lambdas)
    simulated = simulated_errors(H, x0, alpha, beta, steps)
    return {
        "name": name,
        "learning_rate": alpha,
        "beta": beta,
        "rate": rate,
        "measured_rate": measured_rate(simulated),
        "predicted": _curve(predicted_errors(lambdas, Q.T @ x0, alpha, beta, steps)),
        "simulated": _curve(simulated),
    }


def quadratic_report(req: QuadraticRequest) -> dict[str, Any]:
    """``POST /api/quadratic``'s answer: the theory and four runs, predicted and simulated.

    ``theory``: ``kappa``, the eigenvalues, gradient descent's best ``learning_rate``
    ``2 / (l_min + l_max)`` and ``rate`` ``(kappa - 1) / (kappa + 1)``, momentum's optimal
    ``learning_rate``, ``beta`` and ``rate`` (:func:`momentum_optimum`), and the user's rates:
    ``gd_rate`` at their learning rate and ``momentum_rate`` at their learning rate and beta.
    ``runs``: gradient descent and momentum at the user's settings and at the optimal ones,
    each with its predicted rate, the rate measured on the simulation (:func:`measured_rate`)
    and the predicted and simulated error ``||x_k - x*||``.

    Raises:
      RequestError: a value out of :data:`QUADRATIC_RANGES`, or ``x0 = 0``.
    """
    check_quadratic(req)
    H, Q, lambdas = hessian(req.kappa, req.angle)
    x0 = np.asarray(req.x0, dtype=float)
    lo, hi = float(lambdas.min()), float(lambdas.max())
    best_gd = 2.0 / (lo + hi)
    best_momentum = momentum_optimum(lo, hi)
    kappa = hi / lo
    runs = [
        _method("gd", H, lambdas, Q, x0, req.learning_rate, 0.0, req.steps),
        _method("momentum", H, lambdas, Q, x0, req.learning_rate, req.beta, req.steps),
        _method("gd (optimal)", H, lambdas, Q, x0, best_gd, 0.0, req.steps),
        _method(
            "momentum (optimal)",
            H,
            lambdas,
            Q,
            x0,
            best_momentum["learning_rate"],
            best_momentum["beta"],
            req.steps,
        ),
    ]
    return {
        "theory": {
            "kappa": kappa,
            "lambda_min": lo,
            "lambda_max": hi,
            "gd_best_learning_rate": best_gd,
            "gd_best_rate": (kappa - 1.0) / (kappa + 1.0),
            "momentum_best_learning_rate": best_momentum["learning_rate"],
            "momentum_best_beta": best_momentum["beta"],
            "momentum_best_rate": best_momentum["rate"],
            "gd_rate": gd_rate(req.learning_rate, lambdas),
            "momentum_rate": runs[1]["rate"],
            "gd_stable_below": 2.0 / hi,
        },
        "runs": runs,
        "settings": req.model_dump(),
    }
