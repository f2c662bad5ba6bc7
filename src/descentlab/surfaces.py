"""Two-dimensional test functions for watching optimizers move: ``f(x, y)`` with analytic gradients.

Every surface is a small frozen object with

- ``name`` and ``formula`` (the math, as text),
- ``f(xy)`` of shape ``(...)`` and ``grad(xy)`` of shape ``(..., 2)`` for points ``xy`` of shape
  ``(..., 2)`` — vectorised, so one call evaluates a contour grid ``(ny, nx, 2)`` or a population
  of points ``(K, 2)``,
- ``minima`` (shape ``(n, 2)``) and ``min_value`` (the value of ``f`` at every listed minimum),
- ``window = (x_min, x_max, y_min, y_max)`` for plots, a default ``start`` point, and suggested
  settings for a trajectory: ``lr`` (plain gradient steps: gd, momentum, sgd, nesterov),
  ``adaptive_lr`` (the adaptive methods: ``descentlab.cli.trajectories.ADAPTIVE``) and
  ``steps``,
- ``levels``: ``"log"`` when the values span decades (contours are log-spaced), else ``"linear"``.

``SURFACES`` holds one default instance of each; :func:`get_surface` looks one up by name.
:class:`LinearRegressionCost` is the least-squares cost of a one-feature linear model over its
two parameters ``(w, b)`` — the surface behind the seed's SGD-vs-GD pictures.

>>> s = get_surface("rosenbrock")
>>> float(s.f(np.array([1.0, 1.0]))), s.grad(np.array([[0.0, 0.0], [1.0, 2.0]])).tolist()
(0.0, [[-2.0, 0.0], [-400.0, 200.0]])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from descentlab._validation import (
    POSITIVE,
    DataError,
    Interval,
    check_arguments,
    check_finite_array,
    check_param,
    lookup,
)

__all__ = [
    "SURFACES",
    "Beale",
    "Himmelblau",
    "IllConditionedQuadratic",
    "LinearRegressionCost",
    "Rastrigin",
    "Rosenbrock",
    "Saddle",
    "Surface",
    "get_surface",
]


def _as_points(xy: Any, owner: str) -> np.ndarray:
    """``xy`` as a float array whose last axis has length 2 (raises :class:`DataError` otherwise)."""
    arr = np.asarray(xy, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise DataError(
            f"The points given to {owner} must have shape (..., 2) (x and y on the last axis). "
            f"Got shape {arr.shape} instead."
        )
    return arr


class Surface(ABC):
    """A function of two variables ``f(x, y)`` with its gradient, minima and plotting defaults.

    Subclasses set the class constants below and implement :meth:`_f` and :meth:`_grad`
    on the unpacked coordinates ``x = xy[..., 0]``, ``y = xy[..., 1]``.
    """

    name: ClassVar[str]
    formula: ClassVar[str]
    window: ClassVar[tuple[float, float, float, float]]
    start: ClassVar[tuple[float, float]]
    lr: ClassVar[float]
    adaptive_lr: ClassVar[float]
    steps: ClassVar[int]
    levels: ClassVar[str] = "log"
    bounded_below: ClassVar[bool] = True

    @property
    @abstractmethod
    def minima(self) -> np.ndarray:
        """The global minima, shape ``(n, 2)`` (``n = 0`` if ``f`` is unbounded below)."""

    @property
    def min_value(self) -> float:
        """``f`` at every listed minimum (``-inf`` if ``f`` is unbounded below)."""
        return 0.0

    @property
    def saddle_points(self) -> np.ndarray:
        """Saddle points worth marking on a plot, shape ``(n, 2)`` (none by default)."""
        return np.empty((0, 2))

    @abstractmethod
    def _f(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def f(self, xy: np.ndarray) -> np.ndarray:
        """The value ``f(x, y)`` at points ``xy`` of shape ``(..., 2)``; returns shape ``(...)``."""
        p = _as_points(xy, f"{self.name}.f")
        return np.asarray(self._f(p[..., 0], p[..., 1]), dtype=float)

    def grad(self, xy: np.ndarray) -> np.ndarray:
        """The gradient ``(df/dx, df/dy)`` at points ``xy`` of shape ``(..., 2)``; same shape back."""
        p = _as_points(xy, f"{self.name}.grad")
        gx, gy = self._grad(p[..., 0], p[..., 1])
        return np.stack(np.broadcast_arrays(gx, gy), axis=-1).astype(float)

    def distance_to_minimum(self, xy: np.ndarray) -> np.ndarray:
        """Euclidean distance from each point ``(..., 2)`` to the nearest listed minimum (``nan`` if none)."""
        p = _as_points(xy, f"{self.name}.distance_to_minimum")
        mins = self.minima
        if len(mins) == 0:
            return np.full(p.shape[:-1], np.nan)
        return np.min(np.linalg.norm(p[..., None, :] - mins, axis=-1), axis=-1)


@dataclass(frozen=True)
class IllConditionedQuadratic(Surface):
    """An axis-aligned elliptic bowl whose Hessian has condition number ``kappa``.

    ``f(x, y) = (x^2 + kappa * y^2) / 2``, ``grad f = (x, kappa * y)``; minimum ``f(0, 0) = 0``.

    The Hessian is ``diag(1, kappa)``, so gradient descent with step ``alpha`` multiplies each
    coordinate by ``(1 - alpha * lambda)`` per step: ``x_t = (1 - alpha)^t x_0`` and
    ``y_t = (1 - alpha * kappa)^t y_0``. It converges only for ``alpha < 2 / kappa`` and zig-zags
    across the valley when ``alpha > 1 / kappa`` — the case momentum and Adam were made for.

    Args:
        condition_number: ``kappa >= 1``, the ratio of the largest to the smallest curvature.
    """

    condition_number: float = 10.0
    name: ClassVar[str] = "quadratic"
    formula: ClassVar[str] = "f(x, y) = (x^2 + kappa*y^2) / 2"
    window: ClassVar[tuple[float, float, float, float]] = (-10.0, 10.0, -5.0, 5.0)
    start: ClassVar[tuple[float, float]] = (-9.0, 4.0)
    adaptive_lr: ClassVar[float] = 0.5
    steps: ClassVar[int] = 60

    def __post_init__(self) -> None:
        check_param(
            "IllConditionedQuadratic",
            "condition_number",
            self.condition_number,
            Interval(1.0, None),
            allow_array=False,
        )

    @property
    def lr(self) -> float:  # type: ignore[override]
        """``1.7 / kappa``: stable, and large enough to show the zig-zag across the valley."""
        return 1.7 / self.condition_number

    @property
    def minima(self) -> np.ndarray:
        return np.zeros((1, 2))

    def _f(self, x, y):
        return 0.5 * (x * x + self.condition_number * y * y)

    def _grad(self, x, y):
        return x, self.condition_number * y


@dataclass(frozen=True)
class Rosenbrock(Surface):
    """Rosenbrock's banana valley: easy to find, slow to follow.

    ``f(x, y) = (a - x)^2 + b * (y - x^2)^2``; minimum ``f(a, a^2) = 0`` (``(1, 1)`` by default).

    ``df/dx = -2 (a - x) - 4 b x (y - x^2)``, ``df/dy = 2 b (y - x^2)``.

    References:
        H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
        function", The Computer Journal 3(3), 1960.
    """

    a: float = 1.0
    b: float = 100.0
    name: ClassVar[str] = "rosenbrock"
    formula: ClassVar[str] = "f(x, y) = (a - x)^2 + b*(y - x^2)^2"
    window: ClassVar[tuple[float, float, float, float]] = (-2.0, 2.0, -1.0, 3.0)
    start: ClassVar[tuple[float, float]] = (-1.5, 2.0)
    lr: ClassVar[float] = 1e-3
    adaptive_lr: ClassVar[float] = 0.05
    steps: ClassVar[int] = 1000

    def __post_init__(self) -> None:
        check_param("Rosenbrock", "a", self.a, Interval(None, None), allow_array=False)
        check_param("Rosenbrock", "b", self.b, POSITIVE, allow_array=False)

    @property
    def minima(self) -> np.ndarray:
        return np.array([[self.a, self.a**2]], dtype=float)

    def _f(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def _grad(self, x, y):
        r = y - x * x
        return -2.0 * (self.a - x) - 4.0 * self.b * x * r, 2.0 * self.b * r


@dataclass(frozen=True)
class Beale(Surface):
    """Beale's function: flat plateaus and sharp ridges around one minimum.

    ``f(x, y) = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2``;
    minimum ``f(3, 0.5) = 0``. With ``t_k = c_k - x + x y^k`` (``c = 1.5, 2.25, 2.625``):
    ``df/dx = sum_k 2 t_k (y^k - 1)``, ``df/dy = sum_k 2 t_k k x y^(k-1)``.
    """

    name: ClassVar[str] = "beale"
    formula: ClassVar[str] = (
        "f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2"
    )
    window: ClassVar[tuple[float, float, float, float]] = (-4.5, 4.5, -4.5, 4.5)
    start: ClassVar[tuple[float, float]] = (1.0, 1.5)
    lr: ClassVar[float] = 1e-3
    adaptive_lr: ClassVar[float] = 0.05
    steps: ClassVar[int] = 1000

    @property
    def minima(self) -> np.ndarray:
        return np.array([[3.0, 0.5]])

    def _terms(self, x, y):
        return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3

    def _f(self, x, y):
        t1, t2, t3 = self._terms(x, y)
        return t1 * t1 + t2 * t2 + t3 * t3

    def _grad(self, x, y):
        t1, t2, t3 = self._terms(x, y)
        gx = 2.0 * (t1 * (y - 1.0) + t2 * (y * y - 1.0) + t3 * (y**3 - 1.0))
        gy = 2.0 * x * (t1 + 2.0 * t2 * y + 3.0 * t3 * y * y)
        return gx, gy


@dataclass(frozen=True)
class Himmelblau(Surface):
    """Himmelblau's function: four global minima, so the start decides where you end up.

    ``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``; ``f = 0`` at ``(3, 2)``,
    ``(-2.805118, 3.131313)``, ``(-3.779310, -3.283186)`` and ``(3.584428, -1.848127)``.
    ``df/dx = 4 x (x^2 + y - 11) + 2 (x + y^2 - 7)``, ``df/dy = 2 (x^2 + y - 11) + 4 y (x + y^2 - 7)``.

    References:
        D. M. Himmelblau, "Applied Nonlinear Programming", McGraw-Hill, 1972.
    """

    name: ClassVar[str] = "himmelblau"
    formula: ClassVar[str] = "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2"
    window: ClassVar[tuple[float, float, float, float]] = (-5.0, 5.0, -5.0, 5.0)
    start: ClassVar[tuple[float, float]] = (-0.5, -0.5)
    lr: ClassVar[float] = 0.01
    adaptive_lr: ClassVar[float] = 0.1
    steps: ClassVar[int] = 200

    @property
    def minima(self) -> np.ndarray:
        # The three irrational minima solved with Newton's method to machine precision.
        return np.array(
            [
                [3.0, 2.0],
                [-2.805118086952745, 3.131312518250573],
                [-3.779310253377747, -3.2831859912861696],
                [3.5844283403304917, -1.8481265269644036],
            ]
        )

    def _f(self, x, y):
        return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2

    def _grad(self, x, y):
        u, v = x * x + y - 11.0, x + y * y - 7.0
        return 4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v


@dataclass(frozen=True)
class Saddle(Surface):
    """The saddle ``f(x, y) = x^2 - y^2``: a minimum along x, a maximum along y.

    ``grad f = (2x, -2y)``. **Unbounded below**: there is no minimum (``minima`` is empty and
    ``min_value`` is ``-inf``); the only stationary point, ``(0, 0)``, is a saddle. Gradient
    descent started a hair off the x axis first slides towards the saddle, then escapes along y
    with ``y_t = (1 + 2 alpha)^t y_0`` and runs off to ``-inf``; plots clip the paths to
    ``window``.
    """

    name: ClassVar[str] = "saddle"
    formula: ClassVar[str] = "f(x, y) = x^2 - y^2  (unbounded below)"
    window: ClassVar[tuple[float, float, float, float]] = (-2.0, 2.0, -2.0, 2.0)
    start: ClassVar[tuple[float, float]] = (-1.8, 0.01)
    lr: ClassVar[float] = 0.05
    adaptive_lr: ClassVar[float] = 0.05
    steps: ClassVar[int] = 60
    levels: ClassVar[str] = "linear"
    bounded_below: ClassVar[bool] = False

    @property
    def minima(self) -> np.ndarray:
        return np.empty((0, 2))

    @property
    def min_value(self) -> float:
        return -np.inf

    @property
    def saddle_points(self) -> np.ndarray:
        return np.zeros((1, 2))

    def _f(self, x, y):
        return x * x - y * y

    def _grad(self, x, y):
        return 2.0 * x, -2.0 * y


@dataclass(frozen=True)
class Rastrigin(Surface):
    """Rastrigin's function: a bowl covered in a regular grid of local minima.

    ``f(x, y) = 2A + (x^2 - A cos(2 pi x)) + (y^2 - A cos(2 pi y))``; global minimum
    ``f(0, 0) = 0``, with local minima near every integer point.
    ``df/dx = 2x + 2 pi A sin(2 pi x)`` (and the same in y).

    Args:
        A: the height of the ripples, ``A > 0`` (10 in the usual form).
    """

    A: float = 10.0
    name: ClassVar[str] = "rastrigin"
    formula: ClassVar[str] = "f(x, y) = 2A + x^2 - A cos(2 pi x) + y^2 - A cos(2 pi y)"
    window: ClassVar[tuple[float, float, float, float]] = (-5.12, 5.12, -5.12, 5.12)
    start: ClassVar[tuple[float, float]] = (3.7, 2.4)
    lr: ClassVar[float] = 2e-3
    adaptive_lr: ClassVar[float] = 0.1
    steps: ClassVar[int] = 200
    levels: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        check_param("Rastrigin", "A", self.A, POSITIVE, allow_array=False)

    @property
    def minima(self) -> np.ndarray:
        return np.zeros((1, 2))

    def _f(self, x, y):
        two_pi = 2.0 * np.pi
        return (
            2.0 * self.A + x * x - self.A * np.cos(two_pi * x) + y * y - self.A * np.cos(two_pi * y)
        )

    def _grad(self, x, y):
        two_pi = 2.0 * np.pi
        return (
            2.0 * x + two_pi * self.A * np.sin(two_pi * x),
            2.0 * y + two_pi * self.A * np.sin(two_pi * y),
        )


@dataclass(frozen=True, eq=False)
class LinearRegressionCost(Surface):
    """The least-squares cost of ``y ~ w x + b`` as a surface over the parameters ``(w, b)``.

    With ``m`` examples as columns, ``X`` and ``Y`` of shape ``(1, m)`` and residuals
    ``r_i = w x_i + b - y_i``::

        J(w, b) = 1/(2m) * sum_i r_i^2
        dJ/dw = 1/m * sum_i r_i x_i,   dJ/db = 1/m * sum_i r_i

    :meth:`grad_on` is the same gradient over a subset of the examples (a mini-batch). The one
    minimum is the least-squares solution. ``window`` and ``start`` are placed around it.
    """

    X: np.ndarray
    Y: np.ndarray
    _x: np.ndarray = field(init=False, repr=False)
    _y: np.ndarray = field(init=False, repr=False)
    _solution: np.ndarray = field(init=False, repr=False)
    name: ClassVar[str] = "least-squares"
    formula: ClassVar[str] = "J(w, b) = 1/(2m) sum_i (w x_i + b - y_i)^2"
    lr: ClassVar[float] = 0.05
    adaptive_lr: ClassVar[float] = 0.05
    steps: ClassVar[int] = 100
    levels: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=float)
        Y = np.asarray(self.Y, dtype=float)
        if X.ndim != 2 or X.shape[0] != 1 or Y.shape != X.shape:
            raise DataError(
                "LinearRegressionCost needs X and Y of shape (1, m) (one feature, examples as "
                f"columns) with the same m. Got X {X.shape} and Y {Y.shape} instead."
            )
        if X.shape[1] < 2 or np.ptp(X) == 0:
            raise DataError("LinearRegressionCost needs at least two distinct x values.")
        check_finite_array("X", X)
        check_finite_array("Y", Y)
        A = np.stack([X[0], np.ones(X.shape[1])], axis=-1)
        solution = np.linalg.lstsq(A, Y[0], rcond=None)[0]
        object.__setattr__(self, "_x", X[0])
        object.__setattr__(self, "_y", Y[0])
        object.__setattr__(self, "_solution", solution)

    @property
    def m(self) -> int:
        """The number of examples."""
        return int(self._x.size)

    @property
    def minima(self) -> np.ndarray:
        return self._solution[None, :].copy()

    @property
    def min_value(self) -> float:
        return float(self.f(self._solution))

    @property
    def window(self) -> tuple[float, float, float, float]:  # type: ignore[override]
        """A square of half-width 3 around the solution ``(w*, b*)``."""
        w, b = self._solution
        return (float(w - 3.0), float(w + 3.0), float(b - 3.0), float(b + 3.0))

    @property
    def start(self) -> tuple[float, float]:  # type: ignore[override]
        """``(w* - 2, b* - 2.5)``: off the valley's axis, so the paths bend."""
        w, b = self._solution
        return (float(w - 2.0), float(b - 2.5))

    def _residuals(self, x, y, examples=None):
        xs = self._x if examples is None else self._x[examples]
        ys = self._y if examples is None else self._y[examples]
        return np.asarray(x)[..., None] * xs + np.asarray(y)[..., None] - ys, xs

    def _f(self, x, y):
        r, _ = self._residuals(x, y)
        return 0.5 * np.mean(r * r, axis=-1)

    def _grad(self, x, y):
        r, xs = self._residuals(x, y)
        return np.mean(r * xs, axis=-1), np.mean(r, axis=-1)

    def grad_on(self, xy: np.ndarray, examples: np.ndarray) -> np.ndarray:
        """The gradient of the cost over the examples ``examples`` only (integer indices, ``(B,)``).

        ``dJ_B/dw = 1/B * sum_{i in B} r_i x_i``, ``dJ_B/db = 1/B * sum_{i in B} r_i``;
        ``xy`` has shape ``(..., 2)`` and so does the result.
        """
        p = _as_points(xy, f"{self.name}.grad_on")
        examples = np.asarray(examples)
        if examples.ndim != 1 or examples.size == 0:
            raise DataError(
                f"examples must be a non-empty 1-D array of indices. Got shape {examples.shape}."
            )
        r, xs = self._residuals(p[..., 0], p[..., 1], examples)
        return np.stack([np.mean(r * xs, axis=-1), np.mean(r, axis=-1)], axis=-1)


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        IllConditionedQuadratic(),
        Rosenbrock(),
        Beale(),
        Himmelblau(),
        Saddle(),
        Rastrigin(),
    )
}
"""One default instance of each named test function, by name."""


def get_surface(name: str, **params: Any) -> Surface:
    """The surface called ``name``, optionally with its parameters changed.

    ``get_surface("quadratic", condition_number=50)`` builds ``IllConditionedQuadratic(50)``.
    Raises :class:`InvalidParameterError` for an unknown name (listing the known ones), a
    parameter the surface does not have, or a bad value.

    >>> get_surface("quadratic", condition_number=4.0).grad(np.array([1.0, 1.0])).tolist()
    [1.0, 4.0]
    """
    key, base = lookup(SURFACES, "surface", name)
    if not params:
        return base
    check_arguments("surface", key, type(base), params, word="parameter", required=False)
    return type(base)(**params)
