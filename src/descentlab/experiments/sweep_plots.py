"""Figures of a sweep: learning-rate sensitivity (median and inter-quartile band over seeds)
and heatmaps of two-dimensional grids, drawn from ``results.csv`` rows.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``) and saved
atomically with :func:`descentlab.plots.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from descentlab.experiments.results import METRICS, selection_metric
from descentlab.plots import DPI, save_figure

__all__ = ["plot_heatmap", "plot_lr_sensitivity", "sensitivity_curves", "write_sweep_plots"]

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_NOT_SETTINGS = {"run_id", "config_id", "optimizer", "seed", *METRICS}


def _num(cell: str) -> float:
    """A number cell as a float; NaN for a cell that holds no number (a flag: ``true``)."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        return math.nan


def _grid_order(cell: str) -> tuple[bool, float, str]:
    """Sort key of a setting's cells: numbers by value, then texts (``false`` < ``true``)."""
    value = _num(cell)
    return (math.isnan(value), 0.0 if math.isnan(value) else value, cell)


def _tick(cell: str) -> str:
    """A tick label: a number in 3 significant digits, a text (``true``) as it is."""
    value = _num(cell)
    return cell if math.isnan(value) else f"{value:.3g}"


def _configs(rows: Sequence[Mapping[str, str]]) -> dict[str, list[Mapping[str, str]]]:
    out: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        out.setdefault(r["config_id"], []).append(r)
    return out


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return (math.nan,) * 3
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return float(q25), float(med), float(q75)


def sensitivity_curves(
    rows: Sequence[Mapping[str, str]], metric: str = "val_accuracy"
) -> dict[str, dict[str, np.ndarray]]:
    """Per optimizer and learning rate: quartiles of ``metric`` over seeds.

    Where an optimizer has several configurations at one learning rate (other settings
    searched too), the one with the best median validation metric is shown: the highest
    validation accuracy, or for regression the lowest validation cost
    (:func:`~descentlab.experiments.results.selection_metric`).

    Returns:
      optimizer → ``{"lr": (n,), "q25": (n,), "median": (n,), "q75": (n,)}``, sorted by lr.
    """
    chooser, higher = selection_metric(rows)
    best: dict[tuple[str, float], tuple[float, list[Mapping[str, str]]]] = {}
    for group in _configs(rows).values():
        key = (group[0]["optimizer"], _num(group[0]["learning_rate"]))
        score = _quartiles([_num(r[chooser]) for r in group])[1] * (1.0 if higher else -1.0)
        score = -math.inf if math.isnan(score) else score
        if key not in best or score > best[key][0]:
            best[key] = (score, group)
    curves: dict[str, dict[str, list[float]]] = {}
    for (opt, lr), (_, group) in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        q25, med, q75 = _quartiles([_num(r[metric]) for r in group])
        c = curves.setdefault(opt, {"lr": [], "q25": [], "median": [], "q75": []})
        for name, value in zip(("lr", "q25", "median", "q75"), (lr, q25, med, q75), strict=True):
            c[name].append(value)
    order = list(dict.fromkeys(r["optimizer"] for r in rows))
    return {opt: {k: np.asarray(v) for k, v in curves[opt].items()} for opt in order}


def plot_lr_sensitivity(rows: Sequence[Mapping[str, str]], title: str = "") -> Figure:
    """Validation accuracy (left; for regression, which has no accuracy, the validation cost
    on a log scale) and final training cost (right, log scale) against the learning rate (log
    scale), one line per optimizer: the median over seeds, with the band between the 25th and
    75th percentiles. A panel with no finite value to draw (every run diverged) says so
    instead. A 1000 x 450 pixel figure."""
    fig = Figure(figsize=(10, 4.5), dpi=DPI)
    higher = selection_metric(rows)[1]
    panels = (
        ("val_accuracy", "validation accuracy", False)
        if higher
        else ("val_cost", "validation cost (log scale)", True),
        ("final_cost", "final training cost (log scale)", True),
    )
    for p, (metric, label, log_y) in enumerate(panels):
        ax = fig.add_subplot(1, 2, p + 1)
        if _draw_sensitivity(ax, sensitivity_curves(rows, metric), log_y):
            ax.set_xscale("log")
            if log_y:
                ax.set_yscale("log")
            if p == 0:
                ax.legend(loc="best", frameon=True, title="median, IQR over seeds")
        else:
            ax.text(0.5, 0.5, "no finite value to show", ha="center", transform=ax.transAxes)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(title or "Learning-rate sensitivity")
    fig.tight_layout()
    return fig


def _draw_sensitivity(ax: Any, curves: Mapping[str, Mapping[str, np.ndarray]], log_y: bool) -> bool:
    """Draw each optimizer's median line and quartile band; whether any point was finite
    (positive, on a log scale): an axes with nothing to show cannot take a log scale."""
    drawn = False
    for i, (opt, c) in enumerate(curves.items()):
        color = _COLORS[i % len(_COLORS)]
        med, lo, hi = c["median"], c["q25"], c["q75"]
        if log_y:
            med, lo, hi = (np.where(a > 0, a, np.nan) for a in (med, lo, hi))
        ok = np.isfinite(med) & (c["lr"] > 0)
        if not ok.any():
            continue
        drawn = True
        ax.plot(c["lr"], med, marker="o", markersize=3, color=color, label=opt)
        ax.fill_between(c["lr"], lo, hi, color=color, alpha=0.2, linewidth=0)
    return drawn


def varied_settings(rows: Sequence[Mapping[str, str]], optimizer: str) -> list[str]:
    """The settings (columns) that take more than one value among ``optimizer``'s rows (it
    has one at least)."""
    own = [r for r in rows if r["optimizer"] == optimizer]
    keys = [k for k in own[0] if k not in _NOT_SETTINGS]
    return [k for k in keys if len({r[k] for r in own}) > 1]


def plot_heatmap(
    rows: Sequence[Mapping[str, str]], optimizer: str, x: str, y: str, metric: str = "val_accuracy"
) -> Figure:
    """Median ``metric`` over seeds on the grid of settings ``x`` (columns) × ``y`` (rows) of
    ``optimizer``, each cell annotated. A cost (``val_cost``, ...; lower is better) gets the
    reversed colour map, so the best cell is the brightest either way. An 800 x 600 pixel
    figure."""
    own = [r for r in rows if r["optimizer"] == optimizer]
    xs = sorted({r[x] for r in own}, key=_grid_order)
    ys = sorted({r[y] for r in own}, key=_grid_order)
    grid = np.full((len(ys), len(xs)), np.nan)
    for group in _configs(own).values():
        j, i = xs.index(group[0][x]), ys.index(group[0][y])
        grid[i, j] = _quartiles([_num(r[metric]) for r in group])[1]
    fig = Figure(figsize=(8, 6), dpi=DPI)
    ax = fig.add_subplot()
    is_cost = metric.endswith("cost")
    cmap = "viridis_r" if is_cost else "viridis"
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap)
    fig.colorbar(image, ax=ax, label=f"median {metric.replace('_', ' ')}")
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs], rotation=45)
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.4g}" if is_cost else f"{grid[i, j]:.3f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if (grid[i, j] > middle) != is_cost else "white",
                )
    ax.set_title(f"{optimizer}: median {metric.replace('_', ' ')} over seeds")
    fig.tight_layout()
    return fig


def write_sweep_plots(out: Path, rows: Sequence[Mapping[str, str]], spec: Any) -> list[str]:
    """Write ``lr_sensitivity.png`` and, for every optimizer whose grid has exactly two
    varied settings, ``heatmap_<optimizer>.png`` (of the validation metric that chooses:
    accuracy, or the cost for regression); return the file names written. ``rows``: those of
    a completed sweep (one at least)."""
    files = []
    metric = selection_metric(rows)[0]
    n_seeds = len({r["seed"] for r in rows})
    title = f"Learning-rate sensitivity ({n_seeds} seeds, {rows[0]['epochs']} epochs)"
    save_figure(plot_lr_sensitivity(rows, title), out / "lr_sensitivity.png")
    files.append("lr_sensitivity.png")
    if getattr(spec, "random", None) is None:
        for opt in dict.fromkeys(r["optimizer"] for r in rows):
            varied = varied_settings(rows, opt)
            if len(varied) == 2:
                name = f"heatmap_{opt}.png"
                heatmap = plot_heatmap(rows, opt, varied[0], varied[1], metric)
                save_figure(heatmap, out / name)
                files.append(name)
    return files
