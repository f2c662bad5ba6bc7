"""Optimizer trajectories on 2-D loss surfaces: run them, compare them, draw and animate them.

The parameters of a trajectory are one point ``theta = (x, y)``, held as ``{"xy": array (2,)}``
so any :class:`~descentlab.optimizers.base.GradientTransformation` can move it::

    g = grad f(theta_t)
    u, state = optimizer.update({"xy": g}, state, {"xy": theta_t})
    theta_{t+1} = theta_t + u
    p_{t+1} = evaluation_params(state, theta_{t+1})     (the point drawn; theta itself for most)

A schedule-free optimizer takes its gradients at one point (``theta``, its ``y``) and is
evaluated at another (its average ``x``): the path drawn, and its losses, are those of the
evaluation point (:func:`~descentlab.optimizers.base.evaluation_params`), as training reports.

:func:`noise_paths` draws the seed's Figures 1-2 for real: batch gradient descent, stochastic
gradient descent (batch size 1) and mini-batch gradient descent on the least-squares cost of a
small synthetic regression problem.

Figures are built with the object-oriented Matplotlib API on the Agg canvas (never pyplot, never
``show()``); files are written atomically (a temporary file in the same folder, then
``os.replace``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from descentlab import limits
from descentlab._validation import (
    SEED,
    DataError,
    Interval,
    InvalidParameterError,
    as_int,
    check_param,
)
from descentlab.batching import batch_slices
from descentlab.io import atomic_path, atomic_writer, check_writable
from descentlab.optimizers import gd
from descentlab.optimizers.base import GradientTransformation, apply_updates, evaluation_params
from descentlab.surfaces import LinearRegressionCost, Surface

__all__ = [
    "NoisePaths",
    "Trajectory",
    "animate_trajectories",
    "compare_trajectories",
    "default_figsize",
    "make_regression_data",
    "noise_paths",
    "plot_noise_paths",
    "plot_trajectories",
    "run_trajectory",
    "save_figure",
]

GradFn = Callable[[int, np.ndarray], np.ndarray]


class Trajectory(NamedTuple):
    """The points an optimizer visited and the loss at each.

    ``path`` has shape ``(n + 1, 2)`` (the start, then one point per step taken), ``losses``
    shape ``(n + 1,)``. Each point is where the optimizer is *evaluated*: for a schedule-free
    optimizer its average ``x``, not the point ``y`` its gradients were taken at. ``diverged``
    is True when the run stopped early because the next point, its loss or the gradient was
    NaN or infinite; ``path`` then ends at the last finite point.
    """

    path: np.ndarray
    losses: np.ndarray
    diverged: bool

    @property
    def n_steps(self) -> int:
        """The number of steps taken, ``len(path) - 1``."""
        return len(self.path) - 1

    @property
    def final_loss(self) -> float:
        """The loss at the last point."""
        return float(self.losses[-1])


def _check_start(start: Any, surface: Surface) -> np.ndarray:
    x0 = np.array(surface.start if start is None else start, dtype=float)
    if x0.shape != (2,) or not np.all(np.isfinite(x0)):
        raise DataError(f"start must be two finite numbers (x, y). Got {start!r} instead.")
    return x0


def run_trajectory(
    surface: Surface,
    optimizer: GradientTransformation,
    start: Any = None,
    steps: int | None = None,
    *,
    grad_fn: GradFn | None = None,
) -> Trajectory:
    """Follow ``optimizer`` on ``surface`` from ``start`` for ``steps`` steps.

    Each step: ``g = grad f(theta_t)`` (or ``grad_fn(t, theta_t)``, e.g. a mini-batch gradient),
    ``u, state = optimizer.update({"xy": g}, state, {"xy": theta_t})``,
    ``theta_{t+1} = theta_t + u``; the point recorded is the evaluation point
    ``p_{t+1} = evaluation_params(state, theta_{t+1})`` (``theta_{t+1}`` itself, except for a
    schedule-free optimizer: its average ``x``, while ``theta`` is its ``y``), and the loss
    recorded is ``f(p_t)``. The first point is ``start`` (where ``x = y``).

    The run stops early, with ``diverged=True``, as soon as a gradient, a point or a loss is
    NaN or infinite; the path up to the last finite point is kept.

    Args:
        surface: the function to minimise.
        optimizer: any gradient transformation (``descentlab.optimizers.adam(0.05)``, ...).
        start: the first point ``(x, y)``; ``surface.start`` if None.
        steps: the number of steps, an int in ``[0, MAX_STEPS]``; ``surface.steps`` if None.
        grad_fn: ``(t, theta) -> g`` replacing ``surface.grad`` (t counts from 0).

    Returns:
        A :class:`Trajectory` with ``path`` ``(n + 1, 2)`` and ``losses`` ``(n + 1,)``.

    >>> from descentlab.surfaces import IllConditionedQuadratic
    >>> from descentlab.optimizers.base import GradientTransformation, EmptyState
    >>> plain = GradientTransformation(
    ...     lambda p: EmptyState(), lambda g, s, p=None: ({"xy": -0.5 * g["xy"]}, s))
    >>> run_trajectory(IllConditionedQuadratic(2.0), plain, (4.0, 1.0), 2).path.tolist()
    [[4.0, 1.0], [2.0, 0.0], [1.0, 0.0]]
    """
    if not isinstance(optimizer, GradientTransformation):
        raise InvalidParameterError(
            "The 'optimizer' parameter of run_trajectory must be a GradientTransformation "
            f"(e.g. descentlab.optimizers.adam(0.05)). Got {type(optimizer).__name__} instead."
        )
    steps = surface.steps if steps is None else steps
    steps = as_int("run_trajectory", "steps", steps, Interval(0, limits.MAX_STEPS, integer=True))
    x0 = _check_start(start, surface)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported as such below
        loss0 = float(surface.f(x0))
    if not math.isfinite(loss0):
        raise DataError(f"The loss at start {x0.tolist()} is {loss0}; choose a finite point.")
    grad = (lambda t, xy: surface.grad(xy)) if grad_fn is None else grad_fn

    points, losses, diverged = [x0], [loss0], False
    params = {"xy": x0.copy()}
    state = optimizer.init(params)
    # Divergence is an outcome here, not an error: silence overflow warnings and test finiteness.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for t in range(int(steps)):
            g = np.asarray(grad(t, params["xy"]), dtype=float)
            if not np.all(np.isfinite(g)):
                diverged = True
                break
            updates, state = optimizer.update({"xy": g}, state, params)
            params = apply_updates(params, updates)
            xy = np.asarray(evaluation_params(state, params)["xy"], dtype=float)
            loss = float(surface.f(xy)) if np.all(np.isfinite(xy)) else math.nan
            if not math.isfinite(loss):
                diverged = True
                break
            points.append(xy.copy())
            losses.append(loss)
    return Trajectory(np.array(points), np.array(losses), diverged)


def compare_trajectories(
    surface: Surface,
    optimizers: Mapping[str, GradientTransformation],
    start: Any = None,
    steps: int | None = None,
) -> dict[str, Trajectory]:
    """Run every optimizer of ``{label: optimizer}`` from the same start; ``{label: Trajectory}``."""
    if not optimizers:
        raise InvalidParameterError("compare_trajectories needs at least one optimizer.")
    return {label: run_trajectory(surface, opt, start, steps) for label, opt in optimizers.items()}


# ---------------------------------------------------------------------------------------------
# Drawing


def _as_trajectory(surface: Surface, label: str, path: Trajectory | np.ndarray) -> Trajectory:
    if isinstance(path, Trajectory):
        return path
    arr = np.asarray(path, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise DataError(f"The path {label!r} must have shape (n + 1, 2). Got {arr.shape} instead.")
    return Trajectory(arr, surface.f(arr), False)


def _contour_values(surface: Surface, Z: np.ndarray) -> np.ndarray:
    """What the contours are drawn of: ``Z`` itself, or for ``levels == "log"``
    ``log10(Z - min Z + d)`` with ``d`` the grid's 0.5th percentile of ``Z - min Z`` (at least
    ``1e-9`` of its range), so evenly spaced levels of it are log-spaced levels of ``Z``."""
    if surface.levels != "log":
        return Z
    above = Z - np.min(Z)
    d = max(float(np.percentile(above, 0.5)), float(np.max(above)) * 1e-9, 1e-300)
    return np.log10(above + d)


def default_figsize(surface: Surface, width: float = 7.0) -> tuple[float, float]:
    """``(width, 1.9 + (width - 1.6) * r)`` inches, ``r`` the window's height/width ratio
    clipped to [0.4, 1.5]: room for the equal-aspect axes plus the title and legend."""
    x_min, x_max, y_min, y_max = surface.window
    r = min(max((y_max - y_min) / (x_max - x_min), 0.4), 1.5)
    return (width, round(1.9 + (width - 1.6) * r, 2))


def _path_label(label: str, traj: Trajectory) -> str:
    text = f"{label}: loss {traj.final_loss:.3g}, {traj.n_steps} steps"
    return text + " (diverged)" if traj.diverged else text


def _draw(
    surface: Surface,
    paths: Mapping[str, Trajectory | np.ndarray],
    *,
    title: str | None,
    figsize: tuple[float, float] | None,
    dpi: int,
    resolution: int,
    n_levels: int,
) -> tuple[Figure, Any, list[tuple[Trajectory, Any, Any]]]:
    """The figure, its axes and, per path, ``(trajectory, line artist, end-marker artist)``."""
    trajs = {label: _as_trajectory(surface, label, p) for label, p in paths.items()}
    fig = Figure(figsize=figsize or default_figsize(surface), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x_min, x_max, y_min, y_max = surface.window
    gx, gy = np.meshgrid(
        np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution)
    )
    Z = surface.f(np.stack([gx, gy], axis=-1))
    V = _contour_values(surface, Z)
    ax.contourf(gx, gy, V, levels=n_levels, cmap="viridis", alpha=0.3)
    ax.contour(gx, gy, V, levels=n_levels, cmap="viridis", linewidths=0.7, alpha=0.8)

    colours = ["#d62728", "#1f77b4", "#ff7f0e", "#9467bd", "#2ca02c", "#e377c2", "#8c564b",
               "#17becf", "#bcbd22", "#7f7f7f"]  # fmt: skip
    drawn = []
    for i, (label, traj) in enumerate(trajs.items()):
        c = colours[i % len(colours)]
        p = traj.path
        (line,) = ax.plot(
            p[:, 0], p[:, 1], "-", color=c, lw=max(1.0, 3.0 - 0.6 * i), marker="o", ms=2.2,
            zorder=3,
            label=_path_label(label, traj),
        )  # fmt: skip
        (end,) = ax.plot(p[-1, 0], p[-1, 1], "s", color=c, ms=6, mec="black", mew=0.8, zorder=4)
        drawn.append((traj, line, end))
    if drawn:
        starts = np.unique(np.array([t.path[0] for t, _, _ in drawn]), axis=0)
        ax.plot(
            starts[:, 0], starts[:, 1], "o", color="white", ms=10, mec="black", mew=1.5,
            zorder=5, ls="none", label="start",
        )  # fmt: skip
    if len(surface.minima):
        ax.plot(
            surface.minima[:, 0], surface.minima[:, 1], "*", color="gold", ms=16, mec="black",
            mew=1.0, zorder=5, ls="none", label=f"minimum (f = {surface.min_value:.3g})",
        )  # fmt: skip
    if len(surface.saddle_points):
        ax.plot(
            surface.saddle_points[:, 0], surface.saddle_points[:, 1], "X", color="white",
            ms=11, mec="black", zorder=5, ls="none", label="saddle point",
        )  # fmt: skip
    # The window clips paths that leave it (the saddle's, divergent ones).
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x" if not isinstance(surface, LinearRegressionCost) else "w")
    ax.set_ylabel("y" if not isinstance(surface, LinearRegressionCost) else "b")
    scale = "log-spaced contours" if surface.levels == "log" else "evenly spaced contours"
    ax.set_title(
        title if title is not None else f"{surface.name}: {surface.formula}\n({scale})",
        fontsize=11,
    )
    # Below the axes, so it never hides a path.
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, markerscale=0.8, frameon=False)
    return fig, ax, drawn


def plot_trajectories(
    surface: Surface,
    paths: Mapping[str, Trajectory | np.ndarray],
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
    resolution: int = 300,
    n_levels: int = 25,
) -> Figure:
    """Draw optimizer paths over the contours of ``surface``.

    The contours are log-spaced above the minimum when ``surface.levels == "log"`` (values that
    span decades, e.g. Rosenbrock's valley), linear otherwise. Each path gets its own colour
    (and a thinner line than the one before, so overlapping paths stay visible) and a square at
    its end; start points are white circles, minima gold stars, saddle points white crosses.
    The legend, below the axes, gives each path's final loss and number of steps. The axes
    show ``surface.window`` only: paths that leave it are clipped. ``paths`` may be empty
    (just the surface).

    Args:
        surface: the loss surface.
        paths: ``{label: Trajectory}`` (or ``{label: array (n + 1, 2)}``; losses are then
            computed with ``surface.f``).
        title: the axes title; by default the surface's name and formula.
        figsize: the figure size in inches; :func:`default_figsize` if None.
        dpi: dots per inch (the PNG has ``figsize * dpi`` pixels).
        resolution: grid points per axis for the contours.
        n_levels: the number of contour levels.

    Returns:
        A Matplotlib :class:`~matplotlib.figure.Figure` on the Agg canvas; save it with
        :func:`save_figure`.
    """
    fig, _, _ = _draw(
        surface, paths, title=title, figsize=figsize, dpi=dpi, resolution=resolution,
        n_levels=n_levels,
    )  # fmt: skip
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`descentlab.io.atomic_writer`).

    The format follows the suffix (.png, .svg, .pdf); the image has ``figsize * dpi`` pixels
    (``fig.dpi`` by default). Raises :class:`DataError` if the folder does not exist.
    """
    target = check_writable(path, folder=False, parents=False)
    fmt = target.suffix.lstrip(".").lower() or "png"
    with atomic_writer(target, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi or fig.dpi)
    return target


def animate_trajectories(
    surface: Surface,
    paths: Mapping[str, Trajectory | np.ndarray],
    out: str | os.PathLike[str],
    *,
    fps: int = 15,
    max_frames: int = 60,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 70,
    resolution: int = 200,
    n_levels: int = 25,
) -> Path:
    """Write a GIF of the paths growing step by step (Matplotlib's ``PillowWriter``).

    With ``n`` the length of the longest path (its steps + 1), the GIF has
    ``min(n, max_frames)`` frames showing steps ``round(linspace(0, n - 1, frames))``; a path
    that ended earlier stays at its last point. The legend already shows final losses.

    Returns:
        The path of the GIF, written atomically.
    """
    check_param(
        "animate_trajectories", "fps", fps, Interval(1, None, integer=True), allow_array=False
    )
    check_param(
        "animate_trajectories", "max_frames", max_frames, Interval(1, None, integer=True),
        allow_array=False,
    )  # fmt: skip
    fig, ax, drawn = _draw(
        surface, paths, title=title, figsize=figsize, dpi=dpi, resolution=resolution,
        n_levels=n_levels,
    )  # fmt: skip
    n = max(len(traj.path) for traj, _, _ in drawn)
    frames = np.round(np.linspace(0, n - 1, min(n, int(max_frames)))).astype(int)
    counter = ax.text(
        0.98, 0.02, "", transform=ax.transAxes, ha="right", va="bottom", fontsize=10,
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85},
    )  # fmt: skip

    target = check_writable(out, folder=False, parents=False)
    with atomic_path(target, keep_suffix=True) as tmp:  # PillowWriter wants a .gif name
        writer = PillowWriter(fps=int(fps))
        with writer.saving(fig, tmp, dpi):
            for k in frames:
                for traj, line, end in drawn:
                    shown = traj.path[: k + 1]
                    line.set_data(shown[:, 0], shown[:, 1])
                    end.set_data(shown[-1:, 0], shown[-1:, 1])
                counter.set_text(f"step {k}")
                writer.grab_frame()
    return target


# ---------------------------------------------------------------------------------------------
# The seed's Figures 1-2: batch GD vs SGD vs mini-batch GD


class NoisePaths(NamedTuple):
    """The cost surface and ``{label: Trajectory}`` for batch GD, mini-batch GD and SGD."""

    cost: LinearRegressionCost
    paths: dict[str, Trajectory]
    batch_sizes: dict[str, int]


def make_regression_data(
    m: int = 64, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic one-feature regression data, examples as columns: ``X, Y`` of shape ``(1, m)``.

    ``x ~ N(1, 1)``, ``y = 2 x - 1 + e`` with ``e ~ N(0, 0.5^2)``. The mean of x is not 0, so the
    cost's contours are tilted ellipses (w and b are correlated), as in the seed's pictures.
    """
    m = as_int("make_regression_data", "m", m, Interval(2, limits.MAX_EXAMPLES, integer=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 1.0, size=(1, int(m)))
    y = 2.0 * x - 1.0 + rng.normal(0.0, 0.5, size=(1, int(m)))
    return x, y


def _batch_grad_fn(cost: LinearRegressionCost, batch_size: int, rng: np.random.Generator) -> GradFn:
    """Mini-batch gradients in order: each epoch shuffles the examples and splits them into
    batches of ``batch_size`` (the last may be smaller); step t uses the next batch."""
    batches: list[np.ndarray] = []

    def grad(t: int, xy: np.ndarray) -> np.ndarray:
        while len(batches) <= t:
            perm = rng.permutation(cost.m)
            batches.extend(perm[s] for s in batch_slices(cost.m, batch_size))
        return cost.grad_on(xy, batches[t])

    return grad


def noise_paths(
    *,
    m: int = 64,
    batch_size: int = 8,
    steps: int = 60,
    learning_rate: float = 0.1,
    optimizer: GradientTransformation | None = None,
    start: Any = None,
    seed: int = 0,
) -> NoisePaths:
    """Batch GD, mini-batch GD and SGD on the same least-squares cost, the same number of steps.

    The cost is :class:`~descentlab.surfaces.LinearRegressionCost` of
    :func:`make_regression_data` ``(m, seed)``. Every method takes ``steps`` updates from
    ``start`` with the same ``optimizer`` (plain ``gd(learning_rate)`` if None):

    - batch GD: the gradient over all ``m`` examples — a smooth path;
    - mini-batch GD: over ``batch_size`` examples, reshuffled every epoch;
    - SGD: over 1 example — the path "oscillates toward the minimum" (the seed's Figure 1).

    The recorded losses are the full cost ``J``. Shuffles use generators spawned from ``seed``.
    """
    check_param(
        "noise_paths", "batch_size", batch_size, Interval(1, None, integer=True), allow_array=False
    )
    check_param("noise_paths", "seed", seed, SEED, allow_array=False)
    if batch_size >= m:
        raise InvalidParameterError(
            f"The 'batch_size' parameter of noise_paths must be smaller than m={m} (the batch "
            f"GD path already uses all examples). Got {batch_size} instead."
        )
    X, Y = make_regression_data(m, seed)
    cost = LinearRegressionCost(X, Y)
    opt = gd(learning_rate) if optimizer is None else optimizer
    rng_mini, rng_sgd = np.random.default_rng(seed).spawn(2)
    sizes = {"batch GD": m, f"mini-batch GD (B={batch_size})": batch_size, "SGD (B=1)": 1}
    paths = {
        "batch GD": run_trajectory(cost, opt, start, steps),
        f"mini-batch GD (B={batch_size})": run_trajectory(
            cost, opt, start, steps, grad_fn=_batch_grad_fn(cost, batch_size, rng_mini)
        ),
        "SGD (B=1)": run_trajectory(
            cost, opt, start, steps, grad_fn=_batch_grad_fn(cost, 1, rng_sgd)
        ),
    }
    return NoisePaths(cost, paths, sizes)


def plot_noise_paths(noise: NoisePaths, **kwargs: Any) -> Figure:
    """:func:`plot_trajectories` for :func:`noise_paths`, titled like the seed's figures."""
    kwargs.setdefault(
        "title",
        f"SGD vs mini-batch vs batch GD on {noise.cost.formula}\n"
        f"(m = {noise.cost.m}, same number of steps; the star is the minimum)",
    )
    return plot_trajectories(noise.cost, noise.paths, **kwargs)
