"""Learning-rate schedules: callables ``step -> alpha``.

``step`` is the number of optimizer updates done so far (0 for the first update), an ``int``
or a NumPy integer array of steps (then the result is an array of that shape). A schedule
that counts *epochs* turns the step into ``epoch = step // steps_per_epoch``; set
``steps_per_epoch`` to the number of mini-batches per epoch to decay once per epoch, as the
seed does (its ``epoch_num``).

Every rate-like hyperparameter (``learning_rate``, ``decay_rate``, ``gamma``, ...) may be an
array of shape ``(K,)``, one value per population member; the schedule then returns an array
``(K,)`` for one step, or ``step.shape + (K,)`` for an array of steps.

Every setting is finite and bounded, so that no step, however late, can give a rate that is
not finite: a starting rate is in (0, :data:`~descentlab.limits.MAX_LEARNING_RATE`], a rate
that may be 0 (a final value, a warm-up's start, a piece, ``decay_rate``) in [0,
MAX_LEARNING_RATE], a decay factor (``gamma``, ``factor``) in (0, 1] — a decay never grows the
rate — and a number of steps or epochs an int in [1, 2**53].

Pass a schedule as the ``learning_rate`` of any optimizer in :mod:`descentlab.optimizers`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descentlab._validation import (
    DECAY_FACTOR,
    LEARNING_RATE,
    RATE_OR_ZERO,
    STEPS,
    Interval,
    InvalidParameterError,
    check_arguments,
    lookup,
)
from descentlab.optimizers.base import as_hyperparameter
from descentlab.optimizers.transforms import (
    check_hyperparameters,
    hyperparameter_rules,
    scheduled_rate,
)

__all__ = [
    "SCHEDULES",
    "Schedule",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "fixed_interval_decay",
    "get_schedule",
    "inverse_time_decay",
    "linear_warmup",
    "piecewise_constant",
    "step_decay",
]

Rate = float | np.ndarray
Steps = int | np.ndarray

_WARMUP_STEPS = Interval(0, 2**53, integer=True)
_MAX_STEP = 2**63 - 1  # the optimizer's step count saturates here (safe_increment)


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> alpha``; its ``repr`` shows its settings.

    ``size`` is K when the schedule has per-member hyperparameters, else ``None``.
    """

    __slots__ = ("_fn", "_text", "size")

    def __init__(self, fn: Callable[[Steps], Any], text: str, size: int | None) -> None:
        self._fn = fn
        self._text = text
        self.size = size

    def __call__(self, step: Steps) -> Rate:
        if step.__class__ is int and 0 <= step <= _MAX_STEP:
            out = self._fn(step)
            return float(out) if self.size is None else np.asarray(out, dtype=np.float64)
        steps = _as_steps(step)
        if steps is None:
            raise InvalidParameterError(
                f"The step given to the schedule {self._text} must be an integer >= 0 (at most "
                f"2**63 - 1) or an array of them. Got {step!r:.80} instead."
            )
        if steps.ndim == 0:
            return self(int(steps))
        if self.size is not None:
            steps = steps[..., None]
        return np.asarray(self._fn(steps), dtype=np.float64)

    def __repr__(self) -> str:
        return self._text


def _as_steps(step: Any) -> np.ndarray | None:
    """``step`` as an integer array if it is one of steps >= 0, else None (a bool, an int out
    of range, a float, text, a ragged list)."""
    if isinstance(step, int | str | bytes):  # ints in range took the fast path
        return None
    try:
        steps = np.asarray(step)
    except ValueError:
        return None
    if steps.dtype.kind not in "iu" or (steps.size and steps.min() < 0):
        return None
    return steps


def _text(name: str, **settings: Any) -> str:
    shown = ", ".join(
        f"{k}={v.tolist() if isinstance(v, np.ndarray) else v!r}" for k, v in settings.items()
    )
    return f"{name}({shown})"


def _members(*values: Any) -> int | None:
    """K, the length of the per-member arrays among ``values`` (``None`` if all are numbers)."""
    return next((np.shape(v)[-1] for v in values if isinstance(v, np.ndarray)), None)


@hyperparameter_rules(value=LEARNING_RATE)
def constant(value: Rate) -> Schedule:
    """The same rate at every step: ``alpha_t = value``.

    Args:
        value: alpha in (0, 1e4], a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> constant(0.1)(7)
        0.1
    """

    def fn(step: Steps) -> Rate:
        return value if step.__class__ is int else value + np.zeros(np.shape(step))

    return Schedule(fn, _text("constant", value=value), _members(value))


@hyperparameter_rules(learning_rate=LEARNING_RATE, decay_rate=RATE_OR_ZERO, steps_per_epoch=STEPS)
def inverse_time_decay(learning_rate: Rate, decay_rate: Rate, steps_per_epoch: int = 1) -> Schedule:
    """The seed's decay, counted in epochs: ``alpha = alpha0 / (1 + decay_rate * epoch)``.

    ``epoch = step // steps_per_epoch`` (with the default 1 it counts steps).

    Args:
        learning_rate: alpha0 in (0, 1e4], the rate at epoch 0; a number or an array (K,).
        decay_rate: in [0, 1e4]; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = inverse_time_decay(0.5, decay_rate=1.0)
        >>> [s(t) for t in range(4)]
        [0.5, 0.25, 0.16666666666666666, 0.125]
    """
    lr0, rate, spe = learning_rate, decay_rate, steps_per_epoch

    def fn(step: Steps) -> Rate:
        return lr0 / (1.0 + rate * (step // spe))

    text = _text("inverse_time_decay", learning_rate=lr0, decay_rate=rate, steps_per_epoch=spe)
    return Schedule(fn, text, _members(lr0, rate))


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    decay_rate=RATE_OR_ZERO,
    time_interval=STEPS,
    steps_per_epoch=STEPS,
)
def fixed_interval_decay(
    learning_rate: Rate, decay_rate: Rate, time_interval: int, steps_per_epoch: int = 1
) -> Schedule:
    """The seed's decay at fixed intervals (epochs): ``alpha0 / (1 + decay_rate * floor(epoch / T))``.

    ``T`` = ``time_interval`` epochs; ``epoch = step // steps_per_epoch``. The seed's
    ``schedule_lr_decay`` uses T = 1000.

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        decay_rate: in [0, 1e4]; a number or an array (K,).
        time_interval: T, epochs between decays, an int in [1, 2**53].
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = fixed_interval_decay(0.3, decay_rate=1.0, time_interval=2)
        >>> [s(t) for t in range(5)]
        [0.3, 0.3, 0.15, 0.15, 0.09999999999999999]
    """
    lr0, rate, interval, spe = learning_rate, decay_rate, time_interval, steps_per_epoch

    def fn(step: Steps) -> Rate:
        return lr0 / (1.0 + rate * (step // spe // interval))

    text = _text(
        "fixed_interval_decay",
        learning_rate=lr0,
        decay_rate=rate,
        time_interval=interval,
        steps_per_epoch=spe,
    )
    return Schedule(fn, text, _members(lr0, rate))


@hyperparameter_rules(learning_rate=LEARNING_RATE, gamma=DECAY_FACTOR, steps_per_epoch=STEPS)
def exponential_decay(learning_rate: Rate, gamma: Rate, steps_per_epoch: int = 1) -> Schedule:
    """Multiply by ``gamma`` every epoch: ``alpha = alpha0 * gamma**epoch``.

    ``epoch = step // steps_per_epoch``. Matches PyTorch's ``ExponentialLR`` stepped once per
    epoch. ``gamma`` is a decay, in (0, 1]: the rate never grows (a growing rate would leave
    every bound after enough epochs).

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        gamma: in (0, 1] (1 keeps the rate); a number or an array (K,).
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = exponential_decay(1.0, gamma=0.5)
        >>> [s(t) for t in range(4)]
        [1.0, 0.5, 0.25, 0.125]
    """
    lr0, spe = learning_rate, steps_per_epoch

    def fn(step: Steps) -> Rate:
        return lr0 * gamma ** (step // spe)

    text = _text("exponential_decay", learning_rate=lr0, gamma=gamma, steps_per_epoch=spe)
    return Schedule(fn, text, _members(lr0, gamma))


def _boundaries(owner: str, boundaries: Any) -> list[int]:
    """Check a strictly increasing sequence of epochs, each an int in :data:`STEPS`."""
    if isinstance(boundaries, np.ndarray) and boundaries.ndim == 1:
        values = boundaries.tolist()
    elif isinstance(boundaries, Sequence) and not isinstance(boundaries, str):
        values = list(boundaries)
    else:
        values = None
    ok = values is not None and all(
        isinstance(b, int | np.integer) and not isinstance(b, bool) and STEPS.contains(b)
        for b in values
    )
    if not ok or any(b >= c for b, c in itertools.pairwise(values)):
        raise InvalidParameterError(
            f"The 'boundaries' parameter of {owner} must be a strictly increasing sequence of "
            f"ints, each {STEPS}. Got {boundaries!r:.80} instead."
        )
    return [int(b) for b in values]


@hyperparameter_rules(
    learning_rate=LEARNING_RATE, boundaries=None, factor=DECAY_FACTOR, steps_per_epoch=STEPS
)
def step_decay(
    learning_rate: Rate,
    boundaries: int | Sequence[int],
    factor: Rate = 0.1,
    steps_per_epoch: int = 1,
) -> Schedule:
    """Multiply by ``factor`` at each boundary (epochs): ``alpha = alpha0 * factor**n``.

    ``n`` = number of boundaries ``<= epoch``, ``epoch = step // steps_per_epoch``. An int
    ``boundaries = B`` means every B epochs (``n = epoch // B``, PyTorch's ``StepLR``); a
    sequence gives the epochs themselves (PyTorch's ``MultiStepLR``). ``factor`` is a decay,
    in (0, 1].

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        boundaries: an int in [1, 2**53], or a strictly increasing sequence of them.
        factor: in (0, 1]; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = step_decay(1.0, boundaries=[2, 3], factor=0.5)
        >>> [s(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.25, 0.25]
    """
    owner = "step_decay"
    lr0, spe = learning_rate, steps_per_epoch
    if isinstance(boundaries, int | np.integer) and not isinstance(boundaries, bool):
        every = as_hyperparameter(owner, "boundaries", boundaries, STEPS)

        def count(epoch: Steps) -> Steps:
            return epoch // every

        shown: Any = every
    else:
        edges = _boundaries(owner, boundaries)
        edge_array = np.asarray(edges)

        def count(epoch: Steps) -> Steps:
            if epoch.__class__ is int:
                return bisect.bisect_right(edges, epoch)
            return np.searchsorted(edge_array, epoch, side="right")

        shown = edges

    def fn(step: Steps) -> Rate:
        return lr0 * factor ** count(step // spe)

    text = _text(owner, learning_rate=lr0, boundaries=shown, factor=factor, steps_per_epoch=spe)
    return Schedule(fn, text, _members(lr0, factor))


def _piece_values(owner: str, values: Any, n: int) -> np.ndarray:
    """The n rates of a piecewise schedule as an array ``(n,)``, or ``(n, K)`` per member."""
    if (isinstance(values, np.ndarray) and values.ndim >= 1) or (
        isinstance(values, Sequence) and not isinstance(values, str)
    ):
        if len(values) == n:
            names = [f"values[{i}]" for i in range(n)]
            pieces = check_hyperparameters(
                owner, dict(zip(names, values, strict=True)), dict.fromkeys(names, RATE_OR_ZERO)
            )
            return np.stack(np.broadcast_arrays(*pieces.values())).astype(np.float64)
    raise InvalidParameterError(
        f"The 'values' parameter of {owner} must have one more entry than 'boundaries' ({n}), "
        f"each a rate {RATE_OR_ZERO} (or an array (K,) of them): shape ({n},) or ({n}, K). "
        f"Got {values!r:.80} instead."
    )


@hyperparameter_rules(boundaries=None, values=None, steps_per_epoch=STEPS)
def piecewise_constant(
    boundaries: Sequence[int], values: Sequence[float] | np.ndarray, steps_per_epoch: int = 1
) -> Schedule:
    """Constant pieces (epochs): ``alpha = values[i]`` for ``boundaries[i-1] <= epoch < boundaries[i]``.

    ``epoch = step // steps_per_epoch``.

    Args:
        boundaries: strictly increasing ints in [1, 2**53] (n of them).
        values: n + 1 rates in [0, 1e4], shape (n + 1,), or (n + 1, K) for one column per
            member.
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = piecewise_constant([2, 4], [0.1, 0.01, 0.001])
        >>> [s(t) for t in range(5)]
        [0.1, 0.1, 0.01, 0.01, 0.001]
    """
    owner = "piecewise_constant"
    edges = _boundaries(owner, boundaries)
    vals = _piece_values(owner, values, len(edges) + 1)
    spe = steps_per_epoch
    size = vals.shape[1] if vals.ndim == 2 else None
    by_member = vals.T  # (K, n + 1) when per member
    members = np.arange(size) if size is not None else None
    edge_array = np.asarray(edges)

    def fn(step: Steps) -> Rate:
        epoch = step // spe
        if epoch.__class__ is int:
            piece = bisect.bisect_right(edges, epoch)
            return vals[piece].copy() if size is not None else vals[piece]
        piece = np.searchsorted(edge_array, epoch, side="right")
        return by_member[members, piece] if size is not None else vals[piece]

    text = _text(owner, boundaries=edges, values=vals, steps_per_epoch=spe)
    return Schedule(fn, text, size)


@hyperparameter_rules(learning_rate=LEARNING_RATE, decay_steps=STEPS, final_value=RATE_OR_ZERO)
def cosine_decay(learning_rate: Rate, decay_steps: int, final_value: Rate = 0.0) -> Schedule:
    """Half a cosine from ``alpha0`` down to ``final_value`` over ``decay_steps`` steps, then flat.

    ``alpha = final + (alpha0 - final) * (1 + cos(pi * min(step, T) / T)) / 2``, T =
    ``decay_steps``. Counts steps. Matches PyTorch's ``CosineAnnealingLR(T_max=T,
    eta_min=final)`` for ``step <= T`` (PyTorch's rises again afterwards; this one stays).

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        decay_steps: T, an int in [1, 2**53].
        final_value: in [0, 1e4]; a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> s = cosine_decay(1.0, decay_steps=4)
        >>> [round(s(t), 6) for t in range(6)]
        [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """
    lr0, T, final = learning_rate, decay_steps, final_value

    def fn(step: Steps) -> Rate:
        return final + (lr0 - final) * (1.0 + np.cos(np.pi * (np.minimum(step, T) / T))) / 2.0

    text = _text("cosine_decay", learning_rate=lr0, decay_steps=T, final_value=final)
    return Schedule(fn, text, _members(lr0, final))


def linear_warmup(
    schedule_or_value: Schedule | Callable[[Steps], Rate] | Rate,
    warmup_steps: int,
    init_value: Rate = 0.0,
) -> Schedule:
    """Ramp linearly from ``init_value`` to the schedule's start, then run the schedule.

    With W = ``warmup_steps``, ``a0`` = ``init_value`` and ``s`` the inner schedule (a number
    is a constant schedule)::

        alpha_t = a0 + (s(0) - a0) * t / W      for t < W
        alpha_t = s(t - W)                      for t >= W

    Counts steps; the inner schedule is called with the steps *after* the warm-up, so it
    starts at its own step 0 (an epoch-based inner schedule counts epochs from the end of the
    warm-up). This is PyTorch's ``SequentialLR([LinearLR(start_factor=a0/s(0),
    total_iters=W), inner], milestones=[W])``.

    Args:
        schedule_or_value: the schedule to warm up into (its rate at step 0 must be in
            [0, 1e4]), or a rate in (0, 1e4] (a number or (K,)).
        warmup_steps: W, an int in [0, 2**53] (0 means no warm-up).
        init_value: a0 in [0, 1e4]; a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> s = linear_warmup(exponential_decay(1.0, gamma=0.5), warmup_steps=4)
        >>> [s(t) for t in range(7)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """
    owner = "linear_warmup"
    inner = schedule_or_value if callable(schedule_or_value) else constant(schedule_or_value)
    checked = check_hyperparameters(
        owner,
        {"warmup_steps": warmup_steps, "init_value": init_value, "s(0)": scheduled_rate(inner, 0)},
        {"warmup_steps": _WARMUP_STEPS, "init_value": RATE_OR_ZERO, "s(0)": RATE_OR_ZERO},
    )
    W, a0, peak = checked["warmup_steps"], checked["init_value"], checked["s(0)"]
    if W == 0:
        return inner
    size = _members(a0, peak)

    def fn(step: Steps) -> Rate:
        if step.__class__ is int:
            return a0 + (peak - a0) * (step / W) if step < W else inner(step - W)
        plain = step[..., 0] if size is not None else step
        after = np.asarray(inner(np.maximum(plain - W, 0)), dtype=np.float64)
        if size is not None and after.ndim == plain.ndim:
            after = after[..., None]
        warm = a0 + (peak - a0) * (np.minimum(step, W) / W)
        return np.where(step < W, warm, after)

    return Schedule(fn, _text(owner, schedule=inner, warmup_steps=W, init_value=a0), size)


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "inverse_time": inverse_time_decay,
    "fixed_interval": fixed_interval_decay,
    "exponential": exponential_decay,
    "step": step_decay,
    "cosine": cosine_decay,
    "piecewise": piecewise_constant,
}
"""The schedules by name, for configs and the command line."""

_WARMUP = ("warmup_steps", "warmup_init_value")


def get_schedule(name: str, **settings: Any) -> Schedule:
    """Build a schedule by name: ``get_schedule("exponential", learning_rate=0.1, gamma=0.9)``.

    ``constant`` takes its value as ``learning_rate`` (or ``value``). Two extra settings work for
    every name: ``warmup_steps`` (wrap in :func:`linear_warmup`) and ``warmup_init_value``.

    Args:
        name: a key of :data:`SCHEDULES`; case and ``-``/``_`` are forgiven.
        **settings: the schedule's arguments.

    Returns:
        The schedule.

    Raises:
        InvalidParameterError: unknown name, unknown or missing setting, bad value.

    Example:
        >>> s = get_schedule("step", learning_rate=1.0, boundaries=2, factor=0.5, warmup_steps=2)
        >>> [s(t) for t in range(6)]
        [0.0, 0.5, 1.0, 1.0, 0.5, 0.5]
    """
    key, factory = lookup(SCHEDULES, "schedule", name)
    settings = dict(settings)
    warmup = {k: settings.pop(k) for k in _WARMUP if k in settings}
    if key == "constant" and "learning_rate" in settings and "value" not in settings:
        settings["value"] = settings.pop("learning_rate")
    check_arguments("schedule", key, factory, settings, extra=_WARMUP)
    if "warmup_init_value" in warmup and "warmup_steps" not in warmup:
        raise InvalidParameterError(
            "The 'warmup_init_value' setting of get_schedule needs 'warmup_steps' too."
        )
    schedule = factory(**settings)
    if "warmup_steps" in warmup:
        schedule = linear_warmup(
            schedule, warmup["warmup_steps"], warmup.get("warmup_init_value", 0.0)
        )
    return schedule
