"""Reduce-on-plateau: a learning rate cut by a factor when a measured loss stops improving.

Unlike a schedule, this rate is not a function of the step: it is state. The object built by
:func:`descentlab.schedules.reduce_on_plateau` (a :class:`ReduceOnPlateau`) is passed as an
optimizer's ``learning_rate``; :func:`~descentlab.optimizers.transforms.scale_by_learning_rate`
then keeps a :class:`PlateauState`, whose ``observe(value)`` the training loop calls after every
epoch with the validation cost (the epoch's training cost without validation data; see
:func:`descentlab.optimizers.base.observe`). The rules are PyTorch's ``ReduceLROnPlateau``
(mode ``min``), for one network or per member of a population.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from descentlab._validation import DataError

__all__ = ["PlateauRule", "PlateauState", "ReduceOnPlateau"]

Hyper = float | np.ndarray
"""A number, or an array ``(K,)`` with one value per population member."""


class PlateauRule(NamedTuple):
    """The checked settings of :func:`~descentlab.schedules.reduce_on_plateau` (see there)."""

    factor: Hyper  # in (0, 1)
    patience: int  # bad observations tolerated before a cut, >= 0
    threshold: Hyper  # >= 0 (< 1 when relative)
    relative: bool  # threshold_mode == "rel"
    cooldown: int  # observations ignored after a cut, >= 0
    min_lr: Hyper  # the floor, >= 0
    eps: Hyper  # a cut smaller than this is skipped, >= 0


class PlateauState(NamedTuple):
    """State of ``scale_by_learning_rate`` with a :class:`ReduceOnPlateau` rate.

    ``learning_rate`` is the rate the next update applies (so the history's learning rate shows
    each cut from the epoch after it); it starts at ``alpha0``. ``best``, ``bad_epochs`` and
    ``cooldown_left`` are PyTorch's ``best``, ``num_bad_epochs`` and ``cooldown_counter``. For
    a single network they are a float and ints; for a population, arrays ``(K,)`` (from the
    start when a setting is per member, else from the first observation of ``(K,)`` losses).
    """

    count: int  # updates done so far: Python int, shape (), one for the whole population
    learning_rate: Hyper  # alpha: a float, or (K,) float64 per member
    best: Hyper  # the lowest loss observed (inf before the first): float or (K,) float64
    bad_epochs: int | np.ndarray  # observations since the last improvement: int or (K,) int64
    cooldown_left: int | np.ndarray  # observations left in the cooldown: int or (K,) int64
    rule: PlateauRule  # the settings, read by observe

    def observe(self, value: Any) -> PlateauState:
        """The state after one measured loss ``value`` (a float, or ``(K,)`` per member).

        With ``b`` = best, ``n`` = bad_epochs, ``c`` = cooldown_left, ``L`` = value::

            improved = L < b * (1 - threshold)   (rel)   or   L < b - threshold   (abs)
            b = L if improved;  n = 0 if improved else n + 1
            if c > 0:  c = c - 1;  n = 0
            if n > patience:
                alpha = max(alpha * factor, min_lr)   unless alpha - that <= eps
                c = cooldown;  n = 0

        NaN (a diverged member) is never an improvement, as in PyTorch.

        Raises:
          DataError: ``value`` is not a number or an array ``(K,)`` matching the population.
        """
        L = _loss(value, np.shape(self.learning_rate))
        rule = self.rule
        lr, best = np.asarray(self.learning_rate), np.asarray(self.best)
        bad, cool = np.asarray(self.bad_epochs), np.asarray(self.cooldown_left)
        bar = best * (1.0 - rule.threshold) if rule.relative else best - rule.threshold
        improved = L < bar
        best = np.where(improved, L, best)
        bad = np.where(improved, 0, bad + 1)
        cooling = cool > 0
        cool = np.where(cooling, cool - 1, cool)
        bad = np.where(cooling, 0, bad)
        cut = bad > rule.patience
        lower = np.maximum(lr * rule.factor, rule.min_lr)
        lr = np.where(cut & (lr - lower > rule.eps), lower, lr)
        cool = np.where(cut, rule.cooldown, cool)
        bad = np.where(cut, 0, bad)
        if lr.ndim == 0:
            return self._replace(
                learning_rate=float(lr),
                best=float(best),
                bad_epochs=int(bad),
                cooldown_left=int(cool),
            )
        shape = lr.shape
        return self._replace(
            learning_rate=lr.astype(np.float64),
            best=np.broadcast_to(best, shape).astype(np.float64),
            bad_epochs=np.broadcast_to(bad, shape).astype(np.int64),
            cooldown_left=np.broadcast_to(cool, shape).astype(np.int64),
        )


def _loss(value: Any, members: tuple[int, ...]) -> np.ndarray:
    """``value`` as float64, shape ``()`` or ``(K,)``; ``members`` is the state's shape."""
    try:
        L = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        L = None
    if L is None or L.ndim > 1 or L.size == 0 or (L.ndim == 1 and members not in ((), L.shape)):
        shown = f"shape {np.shape(value)}" if L is not None else f"{value!r:.60}"
        expected = "a number" + (f" or an array of shape {members}" if members else " or (K,)")
        raise DataError(
            f"reduce_on_plateau observes one loss per member: {expected}. Got {shown} instead."
        )
    return L


class ReduceOnPlateau:
    """The learning rate of :func:`~descentlab.schedules.reduce_on_plateau`: pass it as an
    optimizer's ``learning_rate``.

    Called with a step it returns the starting rate ``alpha0`` (its value before any loss is
    observed): the rate it applies later depends on the losses, and lives in
    :class:`PlateauState`. ``size`` is K when a setting is per member, else ``None``.
    """

    __slots__ = ("_start", "_text", "learning_rate", "rule", "size")

    def __init__(
        self,
        start: Callable[[Any], Any],
        learning_rate: Hyper,
        rule: PlateauRule,
        size: int | None,
        text: str,
    ) -> None:
        self._start, self.learning_rate, self.rule = start, learning_rate, rule
        self.size, self._text = size, text

    def __call__(self, step: Any) -> Any:
        return self._start(step)

    def __repr__(self) -> str:
        return self._text

    def init_state(self) -> PlateauState:
        """The state before any update or observation."""
        lr = self.learning_rate
        if self.size is None:
            return PlateauState(0, float(lr), np.inf, 0, 0, self.rule)
        K = self.size
        return PlateauState(
            count=0,
            learning_rate=np.broadcast_to(np.asarray(lr, dtype=np.float64), (K,)).copy(),
            best=np.full(K, np.inf),
            bad_epochs=np.zeros(K, dtype=np.int64),
            cooldown_left=np.zeros(K, dtype=np.int64),
            rule=self.rule,
        )
