"""The learning-rate finder's figure: both curves against the rate, the suggestions marked.

Built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``); save it with
:func:`descentlab.plots.save_figure` (atomic PNG).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from descentlab.experiments.lr_find import LRFindResult, Suggestion
from descentlab.plots import DPI

__all__ = ["plot_lr_find"]

_POPULATION, _RAMP = "#1f77b4", "#ff7f0e"


def plot_lr_find(result: LRFindResult, title: str = "") -> Figure:
    """One axes, log-scaled rate on x: the population's loss after the budget per rate
    (dots joined; a member that diverged is an ``x`` at the top), the ramp's raw mini-batch
    loss (faint) and smoothed loss (line), and each suggestion as a dashed vertical line in
    its curve's colour. The y range runs from just under the lowest loss to 1.5 times the
    loss at the smallest rates (the start), so an explosion leaves the frame rather than
    flattening the rest. A 900 x 520 pixel figure."""
    pop, ramp = result.population, result.ramp
    fig = Figure(figsize=(9, 5.2), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    ok = ~pop.diverged & np.isfinite(pop.loss)
    ax.plot(
        pop.rates[ok],
        pop.loss[ok],
        "o-",
        color=_POPULATION,
        ms=4,
        label=f"population: loss after {pop.epochs} epochs ({pop.steps} steps), K = "
        f"{pop.rates.size}",
    )
    ax.plot(ramp.rates, ramp.loss, "-", color=_RAMP, alpha=0.25, lw=0.8)
    ax.plot(ramp.rates, ramp.smoothed, "-", color=_RAMP, lw=2, label="ramp: smoothed loss, one run")
    low, high = _y_range(result)
    if (~ok).any():
        ax.plot(
            pop.rates[~ok], np.full((~ok).sum(), high), "x", color=_POPULATION, label="diverged"
        )
    for suggestion, color, who in (
        (result.suggestion, _POPULATION, "population"),
        (result.ramp_suggestion, _RAMP, "ramp"),
    ):
        _mark(ax, suggestion, color, who)
    ax.set_xscale("log")
    ax.set_ylim(low, high * 1.04)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=True)
    ax.set_title(title or f"learning-rate finder: {result.settings['optimizer']}", fontsize=11)
    fig.tight_layout()
    return fig


def _mark(ax: object, suggestion: Suggestion, color: str, who: str) -> None:
    if suggestion.learning_rate is None:
        return
    ax.axvline(  # type: ignore[attr-defined]
        suggestion.learning_rate,
        color=color,
        ls="--",
        lw=1.2,
        label=f"{who} suggests {suggestion.learning_rate:.3g} ({suggestion.rule})",
    )


def _y_range(result: LRFindResult) -> tuple[float, float]:
    """From just under the lowest finite loss to 1.5 times the loss at the start."""
    pop, ramp = result.population, result.ramp
    finite = np.concatenate([pop.loss[~pop.diverged], ramp.smoothed, ramp.loss])
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 0.0, 1.0
    starts = [v for v in (pop.loss[0], ramp.smoothed[0] if ramp.smoothed.size else np.nan)]
    start = max((float(v) for v in starts if np.isfinite(v)), default=float(finite.max()))
    low = float(finite.min())
    high = max(1.5 * start, low + 1e-12)
    return max(0.0, low - 0.05 * (high - low)), high
