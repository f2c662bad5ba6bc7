"""Figures of an optimizer comparison: cost curves, decision boundaries, confusion matrices.

Every function returns a :class:`matplotlib.figure.Figure` built directly (no ``pyplot``), so
nothing opens a window, nothing blocks and no global figure state is kept; save it with
:func:`save_figure` (atomic PNG) or turn it into PNG bytes with :func:`figure_png`.
Figure sizes are fixed in inches at :data:`DPI` dots per inch, so a PNG's pixel size is
known in advance (e.g. the cost curves are 800 x 500).

Inputs follow the project's conventions: ``X`` is ``(2, m)`` (examples are columns), ``y``
is ``(m,)`` class indices, and a predictor maps points ``(2, n)`` to class indices ``(n,)``.
Decision boundaries and confusion matrices are figures of classification: real-valued
(regression) targets are refused with a :class:`~descentlab._validation.DataError`; a
regression run is shown by its cost curves.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from descentlab._validation import COUNT, DataError, as_int
from descentlab.io import atomic_write

__all__ = [
    "DPI",
    "confusion_matrix",
    "figure_png",
    "plot_confusion_matrices",
    "plot_cost_curves",
    "plot_decision_boundaries",
    "plot_diagnostics",
    "save_figure",
]

DPI = 100
"""Dots per inch of every saved figure."""

# Line colours and styles of the optimizers (in order; the styles keep overlapping curves
# visible) and the class colours (points; the regions are tints of them).
_LINE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_LINE_STYLES = ("-", "--", "-", "-.", ":", "--", "-")
_CLASS_COLORS = (
    "#d7301f",
    "#2166ac",
    "#1a9850",
    "#984ea3",
    "#ff7f00",
    "#a6761d",
    "#e7298a",
    "#666666",
    "#17becf",
    "#bcbd22",
)

Predictor = Callable[[np.ndarray], np.ndarray]


def _tint(color: str, amount: float = 0.72) -> tuple[float, float, float]:
    """Mix ``color`` with white: ``c + amount * (1 - c)``."""
    r, g, b = to_rgb(color)
    return (r + amount * (1 - r), g + amount * (1 - g), b + amount * (1 - b))


def _class_color(k: int) -> str:
    return _CLASS_COLORS[k % len(_CLASS_COLORS)]


def plot_cost_curves(
    costs: Mapping[str, np.ndarray],
    *,
    log_scale: bool = False,
    title: str = "Training cost per epoch",
    ylabel: str = "cost (mean over the epoch's mini-batches)",
) -> Figure:
    """All optimizers' cost curves on one axes: cost ``J`` (y) against the epoch (x, from 0).

    Args:
      costs: label → cost per epoch ``(n_epochs,)``; runs may have different lengths
        (stopped or interrupted ones end early). NaN/inf values are not drawn.
      log_scale: a logarithmic cost axis (differences near the optimum become visible).
      title: the axes title.
      ylabel: the cost axis label.

    Returns:
      an 800 x 500 pixel figure.
    """
    fig = Figure(figsize=(8, 5), dpi=DPI)
    ax = fig.add_subplot()
    for i, (label, cost) in enumerate(costs.items()):
        cost = np.asarray(cost, dtype=float).reshape(-1)
        shown = np.where(np.isfinite(cost), cost, np.nan)
        if log_scale:
            shown = np.where(shown > 0, shown, np.nan)
        ax.plot(
            np.arange(cost.size),
            shown,
            label=f"{label} (final {cost[-1]:.4g})" if cost.size else label,
            color=_LINE_COLORS[i % len(_LINE_COLORS)],
            linestyle=_LINE_STYLES[i % len(_LINE_STYLES)],
            linewidth=1.6,
        )
    if log_scale:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel + (" — log scale" if log_scale else ""))
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if costs:
        ax.legend(loc="best", frameon=True)
    fig.tight_layout()
    return fig


def _grid_limits(X: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    lo, hi = X.min(axis=1), X.max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def plot_decision_boundaries(
    predictors: Mapping[str, Predictor],
    X: np.ndarray,
    y: np.ndarray,
    *,
    titles: Mapping[str, str] | None = None,
    class_names: Sequence[object] | None = None,
    feature_names: Sequence[str] = ("x1", "x2"),
    resolution: int = 250,
    suptitle: str | None = None,
) -> Figure:
    """One panel per optimizer: the predicted class over the plane, the data on top.

    Every panel has the same axes (the data's range plus 10%), so the boundaries compare at a
    glance. The region of class ``k`` is a light tint of class ``k``'s colour; the points
    ``X[:, i]`` are drawn in the full colour with a dark edge.

    Args:
      predictors: label → ``predict(points (2, n)) -> class indices (n,)``.
      X: the points to show, ``(2, m)``.
      y: their class indices, ``(m,)``.
      titles: label → panel title (default: the label).
      class_names: legend names of the classes (default ``0, 1, ...``).
      feature_names: axis labels.
      resolution: grid points per axis.
      suptitle: a title above all panels.

    Returns:
      a figure of ``400 * min(n, 3)`` x ``400 * ceil(n / 3)`` pixels (plus 40 with a
      ``suptitle``) for ``n`` predictors.

    Raises:
      DataError: ``X`` is not ``(2, m)`` or ``y`` does not match it.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[0] != 2:
        raise DataError(
            f"Decision boundaries need 2 features: X must be (2, m); got shape {X.shape}."
        )
    if y.size != X.shape[1]:
        raise DataError(f"Found {X.shape[1]} examples in X and {y.size} labels in y.")
    y = _class_indices("y", y, None)
    n = max(1, len(predictors))
    ncols, nrows = min(n, 3), math.ceil(n / 3)
    extra = 0.4 if suptitle else 0.0
    fig = Figure(figsize=(4 * ncols, 4 * nrows + extra), dpi=DPI)
    x0, x1, y0, y1 = _grid_limits(X)
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    points = np.vstack([gx.ravel(), gy.ravel()])
    n_classes = int(max(y.max(initial=0) + 1, len(class_names or ())))
    names = list(class_names) if class_names is not None else list(range(n_classes))
    region_cmap = ListedColormap([_tint(_class_color(k)) for k in range(n_classes)])
    for i, (label, predict) in enumerate(predictors.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        z = np.asarray(predict(points)).reshape(gx.shape)
        ax.pcolormesh(gx, gy, z, cmap=region_cmap, vmin=-0.5, vmax=n_classes - 0.5, shading="auto")
        if n_classes > 1 and np.unique(z).size > 1:
            ax.contour(
                gx, gy, z, levels=np.arange(n_classes - 1) + 0.5, colors="#333333", linewidths=0.8
            )
        for k in range(n_classes):
            mask = y == k
            if mask.any():
                ax.scatter(
                    X[0, mask],
                    X[1, mask],
                    s=14,
                    color=_class_color(k),
                    edgecolors="#222222",
                    linewidths=0.4,
                    label=str(names[k]),
                    zorder=3,
                )
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title((titles or {}).get(label, label), fontsize=10)
        ax.set_xlabel(feature_names[0])
        ax.set_ylabel(feature_names[1])
        if i == 0:
            ax.legend(
                loc="lower left", fontsize=8, framealpha=0.85, title="class", title_fontsize=8
            )
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` = number of examples of true class ``i`` predicted as class ``j``.

    >>> confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]

    Raises:
      InvalidParameterError: ``n_classes`` is not an int >= 1.
      DataError: labels that are not class indices in ``[0, n_classes)`` (real-valued
        regression targets, say), or not as many predictions as labels.
    """
    n_classes = as_int("confusion_matrix", "n_classes", n_classes, COUNT)
    y_true = _class_indices("y_true", y_true, n_classes)
    y_pred = _class_indices("y_pred", y_pred, n_classes)
    if y_true.shape != y_pred.shape:
        raise DataError(f"Found {y_true.size} true labels and {y_pred.size} predictions.")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes**2).reshape(
        n_classes, n_classes
    )


def _class_indices(name: str, y: np.ndarray, n_classes: int | None) -> np.ndarray:
    """``y`` as int64 ``(m,)`` class indices, checked: whole numbers in ``[0, n_classes)``
    (``>= 0`` when ``n_classes`` is None)."""
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold class indices (numbers); got dtype {y.dtype}.")
    top = np.inf if n_classes is None else n_classes
    bad = ~((y >= 0) & (y < top) & (y == np.round(y)))
    if np.any(bad):
        where = f"[0, {n_classes})" if n_classes is not None else "0, 1, 2, ..."
        raise DataError(
            f"{name} must hold class indices in {where}; found {y[bad][0].item()!r} (real-valued "
            "targets have no classes to draw)."
        )
    return y.astype(np.int64)


def plot_confusion_matrices(
    matrices: Mapping[str, np.ndarray],
    class_names: Sequence[object],
    *,
    titles: Mapping[str, str] | None = None,
    suptitle: str | None = None,
) -> Figure:
    """One confusion matrix per optimizer (rows: true class, columns: predicted), counts written in.

    Args:
      matrices: label → ``(n_classes, n_classes)`` counts (:func:`confusion_matrix`).
      class_names: tick labels.
      titles: label → panel title (default: the label).
      suptitle: a title above all panels.

    Returns:
      a figure of ``400 * min(n, 3)`` x ``400 * ceil(n / 3)`` pixels (plus 40 with a
      ``suptitle``).
    """
    n = max(1, len(matrices))
    ncols, nrows = min(n, 3), math.ceil(n / 3)
    extra = 0.4 if suptitle else 0.0
    fig = Figure(figsize=(4 * ncols, 4 * nrows + extra), dpi=DPI)
    names = [str(c) for c in class_names]
    small = len(names) > 6
    for i, (label, matrix) in enumerate(matrices.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        matrix = np.asarray(matrix)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, int(matrix.max())))
        top = matrix.max() if matrix.size else 0
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(
                c,
                r,
                str(int(v)),
                ha="center",
                va="center",
                fontsize=7 if small else 10,
                color="white" if v > 0.6 * top else "#222222",
            )
        ticks = np.arange(len(names))
        ax.set_xticks(
            ticks,
            names,
            rotation=45 if small or max(map(len, names)) > 6 else 0,
            fontsize=7 if small else 9,
        )
        ax.set_yticks(ticks, names, fontsize=7 if small else 9)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title((titles or {}).get(label, label), fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _positive(values: Any) -> np.ndarray:
    """The values as floats, NaN where they are not finite and > 0 (a log axis)."""
    a = np.asarray(values, dtype=float).reshape(-1)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def _diagnostic(
    ax: Any, d: Mapping[str, np.ndarray], key: str, color: Any, style: str, text: str
) -> None:
    """Draw ``d[key]`` against ``d["epoch"]`` on ``ax`` if it has a value > 0 to show."""
    values = _positive(d.get(key, np.zeros(0)))
    if np.isfinite(values).any():
        x = np.asarray(d["epoch"], dtype=float)
        ax.plot(x, values, style, color=color, label=text, linewidth=1.5)


def plot_diagnostics(diagnostics: Mapping[str, Mapping[str, np.ndarray]]) -> Figure:
    """The training diagnostics of each optimizer (:mod:`descentlab.diagnostics`), four
    log-scale panels against the epoch: the sharpness ``lambda_1(H)`` (solid) with its
    stability threshold ``2 / lr`` (dashed) — and for Adam ``lambda_1(P^-1 H)`` (dash-dot)
    with ``(2 + 2 b1) / ((1 - b1) lr)`` (dotted); the full-batch gradient norm; the update
    ratio ``|d theta_l| / |theta_l|`` of each layer (one line style per layer); the gradient
    noise scale ``B_simple`` (solid) and the batch size it suggests (dashed, clipped to
    ``[1, m]``).

    Args:
      diagnostics: label → ``{"epoch": (n,), "sharpness": (n,), ...}``, the names of
        :class:`~descentlab.diagnostics.Recorder` (missing ones are not drawn).

    Returns:
      a 1100 x 800 pixel figure.
    """
    fig = Figure(figsize=(11, 8), dpi=DPI)
    axes = fig.subplots(2, 2)
    (sharp, grad), (ratio, noise) = axes
    for i, (label, d) in enumerate(diagnostics.items()):
        color = _LINE_COLORS[i % len(_LINE_COLORS)]
        light = _tint(color, 0.35)
        _diagnostic(sharp, d, "sharpness", color, "-", f"{label}: sharpness")
        _diagnostic(sharp, d, "sharpness_threshold", color, "--", f"{label}: 2 / lr")
        _diagnostic(sharp, d, "precond_sharpness", light, "-.", f"{label}: λ1(P⁻¹H)")
        _diagnostic(sharp, d, "precond_threshold", light, ":", f"{label}: (2+2β1)/((1-β1) lr)")
        _diagnostic(grad, d, "grad_norm", color, "-", label)
        layers = sorted(k for k in d if k.startswith("update_ratio_"))
        for j, key in enumerate(layers):
            layer = key.rsplit("_", 1)[-1]
            style = ("-", "--", ":", "-.")[j % 4]
            _diagnostic(ratio, d, key, color, style, f"{label}: layer {layer}")
        _diagnostic(noise, d, "noise_scale", color, "-", f"{label}: B_simple")
        _diagnostic(noise, d, "suggested_batch", light, "--", f"{label}: suggested batch")
    titles = (
        (sharp, "Sharpness (top Hessian eigenvalue) and its stability threshold"),
        (grad, "Full-batch gradient norm |g|"),
        (ratio, "Update ratio |Δθ_l| / |θ_l| per layer, over one epoch"),
        (noise, "Gradient noise scale B_simple = tr(Σ) / |G|²"),
    )
    for ax, title in titles:
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=7, frameon=True)
    fig.tight_layout()
    return fig


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes at :data:`DPI` (its pixel size is ``figsize * DPI``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> bytes:
    """Write the figure as a PNG file atomically; return the PNG bytes (e.g. to embed them)."""
    data = figure_png(fig)
    atomic_write(path, data)
    return data
