"""Loss landscapes of a trained network: filter-normalised 2-D slices and PCA training paths.

Around the final weights ``theta*`` of each optimizer of a comparison's run folder:

- **a random slice** (Li, Xu, Taylor, Studer & Goldstein 2018, section 4): two Gaussian
  directions ``d1``, ``d2`` with every row of every ``W[l]`` (the incoming weights of one unit,
  the MLP's "filter") rescaled to the norm of that row of ``theta*``,
  ``d[i, :] <- d[i, :] * ||theta*[i, :]|| / ||d[i, :]||``; the biases are 0 in both
  directions (the paper's choice for biases), so the slice moves the weights only. Then
  ``f(a, b) = J(theta* + a d1 + b d2)`` on the training data over a G x G grid of
  ``a, b in [-span, span]`` whose centre ``(0, 0)`` is ``theta*`` itself. Every optimizer's
  directions come from the same Gaussian draws (one ``seed``), each rescaled to its own
  weights, so the slices of different optimizers are alike in scale;
- **the training path** (section 7): with the weight snapshots ``theta_0, ..., theta_n =
  theta*`` of ``trajectory.npz`` (``descentlab compare --save-trajectory N``), the top two
  principal directions ``u1, u2`` of the rows ``theta_i - theta*`` (centred PCA, by SVD),
  the path's coordinates ``(u1 . (theta_i - theta*), u2 . (theta_i - theta*))`` (the last
  one is exactly ``(0, 0)``), and the loss ``J(theta* + a u1 + b u2)`` on a grid that covers
  the path. Without a trajectory the slice is drawn alone.

The grid is evaluated as a population: the G*G points are the members of one batch of
networks, ``params[k] = theta* + a_k d1 + b_k d2`` of shape ``(B, n_l, n_{l-1})``, and
:meth:`~descentlab.nn.MLP.cost` does one forward pass for a block of ``B`` points (blocks
bounded by :data:`BLOCK_BYTES`), the same numbers as a loop over the points.

Files written in the run folder (:data:`~descentlab.experiments.run_folder.LANDSCAPE_FILES`):
``landscape_slices.png`` and ``landscape_paths.png`` (a panel per optimizer), the numbers in
``landscape.npz``, and ``report.html`` rewritten with a "Loss landscapes" section.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    SEED,
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    check_param,
)
from descentlab.nn import MLP
from descentlab.optimizers.base import Params

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from descentlab.experiments.compare import SavedRun

__all__ = [
    "BLOCK_BYTES",
    "MAX_GRID",
    "MAX_SPAN",
    "Landscape",
    "check_settings",
    "filter_normalize",
    "grid_axis",
    "landscape_run",
    "network_landscape",
    "pca_directions",
    "plane_losses",
    "plot_landscapes",
    "project_path",
    "random_directions",
]

BLOCK_BYTES = 4 * 2**20
"""Memory of one block of grid points evaluated together (parameters and activations): small
enough to stay in cache. On the seed's network and data a 41 x 41 grid took 49 ms in blocks
of 4 MiB, 84 ms in blocks of 64 MiB and 202 ms as a loop over the points (2 shared cores)."""
MAX_GRID = math.isqrt(limits.MAX_GRID_POINTS) // 2 * 2 - 1
"""The largest grid side G: odd, with G * G <= ``limits.MAX_GRID_POINTS`` (99)."""
MAX_SPAN = 100.0
"""The largest ``span`` (in units of the filter-normalised directions: the weights' norms)."""
_GRID = Interval(3, MAX_GRID, integer=True)
_SPAN = Interval(0.0, MAX_SPAN, closed="right")


# ----------------------------------------------------------------------------- directions


def filter_normalize(direction: Params, weights: Params) -> Params:
    """Rescale each row of each ``W[l]`` of ``direction`` to the norm of that row of ``weights``.

    ``d[l][i, :] <- d[l][i, :] * ||W[l][i, :]|| / ||d[l][i, :]||`` (a row of zeros in either
    stays zeros); biases ``b[l]`` become 0 (the slice moves the weights only).

    Args:
      direction: ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``.
      weights: the same keys and shapes.

    Returns:
      the normalised direction, same keys and shapes.
    """
    out: Params = {}
    for key, d in direction.items():
        if key.startswith("b"):
            out[key] = np.zeros_like(d)
            continue
        target = np.linalg.norm(weights[key], axis=-1, keepdims=True)
        norm = np.linalg.norm(d, axis=-1, keepdims=True)
        out[key] = d * np.divide(target, norm, out=np.zeros_like(norm), where=norm > 0)
    return out


def random_directions(weights: Params, seed: int) -> tuple[Params, Params]:
    """Two filter-normalised Gaussian directions ``(d1, d2)`` for ``weights``.

    ``d1`` then ``d2`` are drawn key by key, ``standard_normal(shape)`` from
    ``default_rng(seed)``, and normalised by :func:`filter_normalize`; the same seed gives the
    same draws for every network of one architecture.
    """
    rng = np.random.default_rng(seed)
    draws = [{k: rng.standard_normal(np.shape(v)) for k, v in weights.items()} for _ in "12"]
    return filter_normalize(draws[0], weights), filter_normalize(draws[1], weights)


# ----------------------------------------------------------------------------- the grid


def grid_axis(span: float, n: int) -> np.ndarray:
    """``n`` (odd) values from ``-span`` to ``span``, ``span * (i - h) / h`` with ``h = (n-1)/2``:
    the middle one is exactly 0.

    >>> grid_axis(1.0, 5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    h = (n - 1) // 2
    return span * (np.arange(n) - h) / h


def plane_losses(
    net: MLP,
    centre: Params,
    d1: Params,
    d2: Params,
    alphas: np.ndarray,
    betas: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    block_bytes: int = BLOCK_BYTES,
) -> np.ndarray:
    """``f[j, i] = J(centre + alphas[i] d1 + betas[j] d2)`` on ``(X, Y)``, as populations.

    The points are taken row by row (``betas`` outer) in blocks of ``B`` members: ``params[k]
    = centre + a_k d1 + b_k d2`` of shape ``(B, n_l, n_{l-1})`` and one :meth:`MLP.cost` per
    block, with ``B`` such that the block's parameters and activations (about
    ``8 (P + 3 m U)`` bytes a point: ``P`` parameters, ``m`` examples, ``U`` units) fit in
    ``block_bytes``.

    Args:
      net: the network; ``centre``, ``d1``, ``d2`` are parameters of it (no population axis).
      alphas, betas: the grid's coordinates along ``d1`` ``(G_a,)`` and ``d2`` ``(G_b,)``.
      X, Y: inputs ``(n_0, m)`` and targets ``(n_L, m)`` (:meth:`MLP.targets`).
      block_bytes: the memory of one block.

    Returns:
      ``(G_b, G_a)`` costs (rows along ``betas``: what ``contour(alphas, betas, f)`` draws).
    """
    a, b = (v.ravel() for v in np.meshgrid(alphas, betas))
    per_point = 8 * (net.n_params + 3 * X.shape[-1] * sum(net.layer_dims[1:]))
    size = max(1, block_bytes // per_point)
    out = np.empty(a.size)
    for start in range(0, a.size, size):
        ak = a[start : start + size, None, None]
        bk = b[start : start + size, None, None]
        block = {k: centre[k] + ak * d1[k] + bk * d2[k] for k in centre}
        out[start : start + size] = net.cost(block, X, Y)
    return out.reshape(len(betas), len(alphas))


# ----------------------------------------------------------------------------- PCA of a path


def pca_directions(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top two principal directions of a weight path and the share of variance of each.

    With ``M`` the rows ``theta_i - theta_n`` of ``path`` ``(S, P)`` (``theta_n`` its last
    row), the directions are the first two right singular vectors of ``M - mean(M)`` (PCA);
    each is signed so its largest entry in absolute value is positive.

    Returns:
      ``U`` ``(2, P)`` orthonormal rows and ``explained`` ``(2,)``: ``s_k**2 / sum(s**2)``.

    Raises:
      DataError: fewer than 3 snapshots (two points make one direction only).
    """
    path = np.asarray(path, dtype=float)
    if path.ndim != 2 or path.shape[0] < 3:
        raise DataError(
            f"A training path needs at least 3 weight snapshots for two PCA directions; got "
            f"shape {path.shape}."
        )
    M = path - path[-1]
    _, s, vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
    U = vt[:2]
    U = U * np.sign(U[np.arange(2), np.argmax(np.abs(U), axis=1)])[:, None]
    total = float(np.sum(s**2))
    explained = s[:2] ** 2 / total if total > 0 else np.zeros(2)
    return U, explained


def project_path(path: np.ndarray, U: np.ndarray) -> np.ndarray:
    """The path's coordinates in the plane of ``U``: ``(theta_i - theta_n) @ U.T``, ``(S, 2)``;
    the last point is ``(0, 0)``."""
    path = np.asarray(path, dtype=float)
    return (path - path[-1]) @ U.T


def _flat(params: Params, keys: Sequence[str], lead: tuple[int, ...] = ()) -> np.ndarray:
    """Parameters as one vector ``(P,)`` (or ``(S, P)`` with ``lead = (S,)``), keys in order."""
    return np.concatenate([np.reshape(params[k], (*lead, -1)) for k in keys], axis=-1)


def _unflat(vector: np.ndarray, shapes: Mapping[str, tuple[int, ...]]) -> Params:
    """The inverse of :func:`_flat` for one vector."""
    out, start = {}, 0
    for k, shape in shapes.items():
        size = math.prod(shape)
        out[k] = vector[start : start + size].reshape(shape)
        start += size
    return out


# ----------------------------------------------------------------------------- one network


@dataclass
class Landscape:
    """One optimizer's landscape.

    Attributes:
      label: the optimizer's label in the run folder.
      centre_loss: ``J(theta*)`` on the training data (the slice's centre).
      alphas, slice_losses: the random slice's axis ``(G,)`` (the same along both directions)
        and its costs ``(G, G)`` (:func:`plane_losses`).
      epochs: the snapshots' epochs ``(S,)``, or None without a trajectory.
      path: the path's PCA coordinates ``(S, 2)`` (last ``(0, 0)``), or None.
      explained: the share of variance of the two PCA directions ``(2,)``, or None.
      pca_alphas, pca_betas, pca_losses: the PCA plane's grid ``(G,)``, ``(G,)`` and costs
        ``(G, G)``, or None.
    """

    label: str
    centre_loss: float
    alphas: np.ndarray
    slice_losses: np.ndarray
    epochs: np.ndarray | None = None
    path: np.ndarray | None = None
    explained: np.ndarray | None = None
    pca_alphas: np.ndarray | None = None
    pca_betas: np.ndarray | None = None
    pca_losses: np.ndarray | None = None


def network_landscape(
    net: MLP,
    label: str,
    final: Params,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    grid: int,
    span: float,
    seed: int,
    path: Params | None = None,
    epochs: np.ndarray | None = None,
) -> Landscape:
    """The slice (and with ``path`` — snapshots ``(S, *shape)`` ending at ``final`` — the PCA
    plane and path) of one network; see the module's text."""
    centre = float(net.cost(final, X, Y))
    d1, d2 = random_directions(final, seed)
    alphas = grid_axis(span, grid)
    out = Landscape(label, centre, alphas, plane_losses(net, final, d1, d2, alphas, alphas, X, Y))
    if path is None or epochs is None or len(epochs) < 3:
        return out
    shapes = net.shapes()
    flat = _flat(path, list(shapes), (len(epochs),))
    U, explained = pca_directions(flat)
    coords = project_path(flat, U)
    axes = [_cover(coords[:, i], grid) for i in (0, 1)]
    u1, u2 = _unflat(U[0], shapes), _unflat(U[1], shapes)
    out.epochs, out.path, out.explained = np.asarray(epochs), coords, explained
    out.pca_alphas, out.pca_betas = axes
    out.pca_losses = plane_losses(net, final, u1, u2, axes[0], axes[1], X, Y)
    return out


def _cover(values: np.ndarray, n: int) -> np.ndarray:
    """``n`` values over ``[min, max]`` of ``values`` widened by 20 % on each side (by 1 if the
    values are all equal)."""
    lo, hi = float(values.min()), float(values.max())
    pad = 0.2 * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)


# ----------------------------------------------------------------------------- the run folder


def check_settings(grid: Any, span: Any, seed: Any) -> tuple[int, float, int]:
    """``grid`` an odd int in [3, :data:`MAX_GRID`], ``span`` a float in (0, :data:`MAX_SPAN`],
    ``seed`` in [0, 2**32 - 1]; raises :class:`~descentlab._validation.InvalidParameterError`."""
    grid = as_int("landscape", "grid", grid, _GRID)
    if grid % 2 == 0:
        raise InvalidParameterError(
            f"The 'grid' parameter of landscape must be odd, so that the final weights are "
            f"the grid's centre. Got {grid} instead."
        )
    span = float(check_param("landscape", "span", span, _SPAN, allow_array=False))
    return grid, span, as_int("landscape", "seed", seed, SEED)


def landscape_run(
    run_dir: str | Path,
    *,
    grid: int = 41,
    span: float = 1.0,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Draw the landscapes of every optimizer of a ``descentlab compare`` run folder.

    Steps: check the settings and the folder (``results.json``, ``config.toml``,
    ``models.npz``, ``trajectory.npz`` if any, ending at the final weights) and reload the
    data; compute each finite network's :class:`Landscape`; write ``landscape.npz``,
    ``landscape_slices.png``, ``landscape_paths.png`` (with a trajectory) and rewrite
    ``report.html``.

    Args:
      run_dir: a folder written by ``descentlab compare``.
      grid: the grid's side G (odd, so that ``theta*`` is its centre), in [3, :data:`MAX_GRID`].
      span: the slice covers ``[-span, span]`` along each direction, in (0, :data:`MAX_SPAN`].
      seed: the seed of the random directions.
      log: called with one line of chatter per step, or None.

    Returns:
      ``{"run_dir", "landscapes": [Landscape, ...], "skipped": {label: why}, "files": [...],
      "note": text}`` (``note`` says why there are no paths, else empty).

    Raises:
      DataError, InvalidParameterError: bad settings, a missing or damaged run folder, a
        trajectory of other weights (before anything is written).
    """
    from descentlab.experiments.compare import load_run_folder
    from descentlab.io import check_writable

    say = log or (lambda _: None)
    grid, span, seed = check_settings(grid, span, seed)
    run = load_run_folder(run_dir)
    check_writable(run.dir, folder=True)
    if run.net is None or run.data is None:
        raise DataError(f"'{run.dir}' has no models.npz: the landscapes need the trained weights.")
    net, data = run.net, run.data
    paths, epochs, note = _trajectory(run, net)
    X, Y = data.train.X, net.targets(data.train.y)
    landscapes, skipped = [], {}
    for label, final in run.params.items():
        if not all(np.all(np.isfinite(v)) for v in final.values()):
            skipped[label] = "its weights are not finite (diverged)"
            continue
        say(f"[{label}] {grid} x {grid} grid{'s' if paths else ''} ...")
        with np.errstate(all="ignore"):
            landscapes.append(
                network_landscape(
                    net,
                    label,
                    final,
                    X,
                    Y,
                    grid=grid,
                    span=span,
                    seed=seed,
                    path=paths.get(label),
                    epochs=epochs,
                )
            )
    if not landscapes:
        raise DataError(f"'{run.dir}' has no optimizer with finite weights to draw.")
    files = _write(run, landscapes, span, seed)
    return {
        "run_dir": str(run.dir),
        "landscapes": landscapes,
        "skipped": skipped,
        "files": files,
        "note": note,
    }


def _trajectory(run: SavedRun, net: MLP) -> tuple[dict[str, Params], np.ndarray | None, str]:
    """The run's weight paths (label → snapshots), their epochs and, without them, why."""
    from descentlab.experiments.run_folder import TRAJECTORY_FILE, read_trajectory

    path = run.dir / TRAJECTORY_FILE
    if not path.exists():
        return (
            {},
            None,
            (
                f"no {TRAJECTORY_FILE} in the run folder (run descentlab compare with "
                "--save-trajectory N to save the weights every N epochs): slices only, no paths."
            ),
        )
    epochs, paths = read_trajectory(path, net.shapes())
    for label, final in run.params.items():
        snaps = paths.get(label)
        if snaps is None or any(
            not np.array_equal(snaps[k][-1], v, equal_nan=True) for k, v in final.items()
        ):
            raise DataError(
                f"'{path}' does not end at the weights of {label!r:.80} in models.npz; "
                "it belongs to another run (rerun descentlab compare --save-trajectory N)."
            )
    if len(epochs) < 3:
        return (
            {},
            None,
            (
                f"{TRAJECTORY_FILE} holds {len(epochs)} snapshots; a PCA plane needs 3 or more "
                "(save them more often): slices only, no paths."
            ),
        )
    return paths, epochs, ""


def _write(run: SavedRun, landscapes: list[Landscape], span: float, seed: int) -> list[str]:
    """``landscape.npz``, the figures and the report; the names of the files written."""
    from descentlab.experiments.compare import rebuild_outputs
    from descentlab.experiments.run_folder import LANDSCAPE_FILES
    from descentlab.io import atomic_writer
    from descentlab.plots import save_figure

    npz, slices, paths = LANDSCAPE_FILES
    arrays: dict[str, np.ndarray] = {
        "labels": np.array([ls.label for ls in landscapes], dtype=str),
        "span": np.float64(span),
        "seed": np.int64(seed),
    }
    for i, ls in enumerate(landscapes):
        for field in (
            "centre_loss",
            "alphas",
            "slice_losses",
            "epochs",
            "path",
            "explained",
            "pca_alphas",
            "pca_betas",
            "pca_losses",
        ):
            value = getattr(ls, field)
            if value is not None:
                arrays[f"run{i}/{field}"] = np.asarray(value)
    with atomic_writer(run.dir / npz, "wb") as f:
        np.savez(f, **arrays)
    name = run.config.name
    save_figure(plot_landscapes(landscapes, "slices", name), run.dir / slices)
    written = [npz, slices]
    if any(ls.path is not None for ls in landscapes):
        save_figure(plot_landscapes(landscapes, "paths", name), run.dir / paths)
        written.append(paths)
    else:
        (run.dir / paths).unlink(missing_ok=True)  # an earlier one would be of other settings
    rebuild_outputs(run.dir)
    return [*written, "report.html"]


# ----------------------------------------------------------------------------- figures


def plot_landscapes(landscapes: Sequence[Landscape], kind: str, name: str = "") -> Figure:
    """One panel per optimizer: filled contours of the loss (log-spaced levels, :func:`_levels`)
    with the centre ``theta*`` marked; ``kind="slices"`` the random slice, ``"paths"`` the PCA
    plane with the training path (optimizers without a path are left out). ``name`` (the
    run's) ends the title. Save it with :func:`descentlab.plots.save_figure`.

    Raises:
      InvalidParameterError: an unknown ``kind``, or nothing to draw.
    """
    from matplotlib.figure import Figure

    check_param("plot_landscapes", "kind", kind, Options(("slices", "paths")))
    shown = [ls for ls in landscapes if kind == "slices" or ls.path is not None]
    if not shown:
        raise InvalidParameterError(f"plot_landscapes has no landscape with {kind} to draw.")
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig = Figure(figsize=(4.6 * cols, 4.2 * rows + 0.5))
    for n, ls in enumerate(shown):
        _panel(fig, fig.add_subplot(rows, cols, n + 1), ls, kind)
    what = (
        "Filter-normalised random slice around the final weights"
        if kind == "slices"
        else "Training path on the top two PCA directions of the weights"
    )
    fig.suptitle(f"{what}{' — ' + name if name else ''}")
    fig.tight_layout()
    return fig


def _panel(fig: Figure, ax: Axes, ls: Landscape, kind: str) -> None:
    """One optimizer's contours, colour bar, centre and (``kind="paths"``) path."""
    from matplotlib.colors import LogNorm

    if kind == "slices":
        xs, ys, Z = ls.alphas, ls.alphas, ls.slice_losses
        ax.set_xlabel("α (direction 1)")
        ax.set_ylabel("β (direction 2)")
    else:
        xs, ys, Z = ls.pca_alphas, ls.pca_betas, ls.pca_losses
        ax.set_xlabel(f"1st PCA direction ({ls.explained[0]:.1%} of variance)")
        ax.set_ylabel(f"2nd PCA direction ({ls.explained[1]:.1%})")
    Z = np.ma.masked_invalid(Z)
    levels = _levels(Z)
    norm = LogNorm(levels[0], levels[-1])
    filled = ax.contourf(xs, ys, Z, levels=levels, norm=norm, cmap="viridis", extend="max")
    ax.contour(xs, ys, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(filled, ax=ax, label="training loss J", format="%.3g")
    if kind == "paths":
        x, y = ls.path[:, 0], ls.path[:, 1]
        label = f"path, epochs 0-{int(ls.epochs[-1])}"
        ax.plot(x, y, "-o", color="#d62728", ms=2.5, lw=1.2, label=label)
        ax.plot(x[0], y[0], "s", color="white", mec="black", ms=7, label="start")
    ax.plot(0, 0, "*", color="white", mec="black", ms=13, label="final weights")
    ax.legend(loc="best", fontsize=7, framealpha=0.8)
    ax.set_title(f"{ls.label}: J(θ*) = {ls.centre_loss:.4g}", fontsize=10)


def _levels(Z: np.ma.MaskedArray, n: int = 16) -> np.ndarray:
    """``n`` log-spaced contour levels from the grid's lowest positive loss to its highest,
    capped at 1000 times the lowest (higher losses are drawn in the top colour)."""
    positive = Z.compressed()[Z.compressed() > 0]
    lo = float(positive.min()) if positive.size else 1e-12
    hi = min(float(positive.max()) if positive.size else 1.0, 1e3 * lo)
    return np.geomspace(lo, hi if hi > lo else lo * 10, n)
