"""Learning-rate schedules: callables ``step -> alpha``.

``step`` is the number of optimizer updates done so far (0 for the first update), an ``int``
or a NumPy integer array of steps (then the result is an array of that shape). A schedule
that counts *epochs* turns the step into ``epoch = step // steps_per_epoch``; set
``steps_per_epoch`` to the number of mini-batches per epoch to decay once per epoch, as the
seed does (its ``epoch_num``).

Every rate-like hyperparameter (``learning_rate``, ``decay_rate``, ``gamma``, ...) may be an
array of shape ``(K,)``, one value per population member; the schedule then returns an array
``(K,)`` for one step, or ``step.shape + (K,)`` for an array of steps.

Pass a schedule as the ``learning_rate`` of any optimizer in :mod:`descentlab.optimizers`.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descentlab._validation import Interval, InvalidParameterError, check_param
from descentlab.optimizers.base import as_hyperparameter

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

_POSITIVE = Interval(0.0, None, closed="neither")
_NON_NEGATIVE = Interval(0.0, None, closed="left")


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
        if step.__class__ is int and step >= 0:
            out = self._fn(step)
            return float(out) if self.size is None else np.asarray(out, dtype=np.float64)
        steps = np.asarray(step)
        if steps.dtype.kind not in "iu" or (steps.size and steps.min() < 0):
            raise InvalidParameterError(
                f"The step given to the schedule {self._text} must be an integer >= 0 or an "
                f"array of them. Got {step!r} instead."
            )
        if steps.ndim == 0:
            return self(int(steps))
        if self.size is not None:
            steps = steps[..., None]
        return np.asarray(self._fn(steps), dtype=np.float64)

    def __repr__(self) -> str:
        return self._text


def _text(name: str, **settings: Any) -> str:
    shown = ", ".join(
        f"{k}={v.tolist() if isinstance(v, np.ndarray) else v!r}" for k, v in settings.items()
    )
    return f"{name}({shown})"


def _size(owner: str, **hypers: Any) -> int | None:
    sizes = {n: np.shape(v)[-1] for n, v in hypers.items() if np.ndim(v) > 0}
    if len(set(sizes.values())) > 1:
        raise InvalidParameterError(
            f"The per-member hyperparameters of {owner} must all have the same length K; got "
            + ", ".join(f"{n!r} with {k}" for n, k in sizes.items())
            + "."
        )
    return next(iter(sizes.values()), None)


def _whole(owner: str, name: str, value: Any, low: int) -> int:
    """Check an integer setting (one for the whole population) and return it as an ``int``."""
    rule = Interval(low, None, closed="left", integer=True)
    return int(check_param(owner, name, value, rule, allow_array=False))


def constant(value: Rate) -> Schedule:
    """The same rate at every step: ``alpha_t = value``.

    Args:
        value: alpha > 0, a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> constant(0.1)(7)
        0.1
    """
    owner = "constant"
    value = as_hyperparameter(owner, "value", value, _POSITIVE)
    size = _size(owner, value=value)

    def fn(step: Steps) -> Rate:
        return value if step.__class__ is int else value + np.zeros(np.shape(step))

    return Schedule(fn, _text(owner, value=value), size)


def inverse_time_decay(learning_rate: Rate, decay_rate: Rate, steps_per_epoch: int = 1) -> Schedule:
    """The seed's decay, counted in epochs: ``alpha = alpha0 / (1 + decay_rate * epoch)``.

    ``epoch = step // steps_per_epoch`` (with the default 1 it counts steps).

    Args:
        learning_rate: alpha0 > 0, the rate at epoch 0; a number or an array (K,).
        decay_rate: >= 0; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int >= 1.

    Returns:
        The schedule.

    Example:
        >>> s = inverse_time_decay(0.5, decay_rate=1.0)
        >>> [s(t) for t in range(4)]
        [0.5, 0.25, 0.16666666666666666, 0.125]
    """
    owner = "inverse_time_decay"
    lr0 = as_hyperparameter(owner, "learning_rate", learning_rate, _POSITIVE)
    rate = as_hyperparameter(owner, "decay_rate", decay_rate, _NON_NEGATIVE)
    spe = _whole(owner, "steps_per_epoch", steps_per_epoch, 1)
    size = _size(owner, learning_rate=lr0, decay_rate=rate)

    def fn(step: Steps) -> Rate:
        return lr0 / (1.0 + rate * (step // spe))

    text = _text(owner, learning_rate=lr0, decay_rate=rate, steps_per_epoch=spe)
    return Schedule(fn, text, size)


def fixed_interval_decay(
    learning_rate: Rate, decay_rate: Rate, time_interval: int, steps_per_epoch: int = 1
) -> Schedule:
    """The seed's decay at fixed intervals (epochs): ``alpha0 / (1 + decay_rate * floor(epoch / T))``.

    ``T`` = ``time_interval`` epochs; ``epoch = step // steps_per_epoch``. The seed's
    ``schedule_lr_decay`` uses T = 1000.

    Args:
        learning_rate: alpha0 > 0; a number or an array (K,).
        decay_rate: >= 0; a number or an array (K,).
        time_interval: T, epochs between decays, an int >= 1.
        steps_per_epoch: updates per epoch, an int >= 1.

    Returns:
        The schedule.

    Example:
        >>> s = fixed_interval_decay(0.3, decay_rate=1.0, time_interval=2)
        >>> [s(t) for t in range(5)]
        [0.3, 0.3, 0.15, 0.15, 0.09999999999999999]
    """
    owner = "fixed_interval_decay"
    lr0 = as_hyperparameter(owner, "learning_rate", learning_rate, _POSITIVE)
    rate = as_hyperparameter(owner, "decay_rate", decay_rate, _NON_NEGATIVE)
    interval = _whole(owner, "time_interval", time_interval, 1)
    spe = _whole(owner, "steps_per_epoch", steps_per_epoch, 1)
    size = _size(owner, learning_rate=lr0, decay_rate=rate)

    def fn(step: Steps) -> Rate:
        return lr0 / (1.0 + rate * (step // spe // interval))

    text = _text(
        owner, learning_rate=lr0, decay_rate=rate, time_interval=interval, steps_per_epoch=spe
    )
    return Schedule(fn, text, size)


def exponential_decay(learning_rate: Rate, gamma: Rate, steps_per_epoch: int = 1) -> Schedule:
    """Multiply by ``gamma`` every epoch: ``alpha = alpha0 * gamma**epoch``.

    ``epoch = step // steps_per_epoch``. Matches PyTorch's ``ExponentialLR`` stepped once per
    epoch.

    Args:
        learning_rate: alpha0 > 0; a number or an array (K,).
        gamma: > 0 (< 1 decays); a number or an array (K,).
        steps_per_epoch: updates per epoch, an int >= 1.

    Returns:
        The schedule.

    Example:
        >>> s = exponential_decay(1.0, gamma=0.5)
        >>> [s(t) for t in range(4)]
        [1.0, 0.5, 0.25, 0.125]
    """
    owner = "exponential_decay"
    lr0 = as_hyperparameter(owner, "learning_rate", learning_rate, _POSITIVE)
    gamma = as_hyperparameter(owner, "gamma", gamma, _POSITIVE)
    spe = _whole(owner, "steps_per_epoch", steps_per_epoch, 1)
    size = _size(owner, learning_rate=lr0, gamma=gamma)

    def fn(step: Steps) -> Rate:
        return lr0 * gamma ** (step // spe)

    return Schedule(fn, _text(owner, learning_rate=lr0, gamma=gamma, steps_per_epoch=spe), size)


def _boundaries(owner: str, boundaries: Any) -> list[int]:
    values = list(boundaries) if isinstance(boundaries, Sequence | np.ndarray) else None
    ok = values is not None and all(
        isinstance(b, int | np.integer) and not isinstance(b, bool) and b > 0 for b in values
    )
    if not ok or any(b >= c for b, c in itertools.pairwise(values)):
        raise InvalidParameterError(
            f"The 'boundaries' parameter of {owner} must be a strictly increasing sequence of "
            f"ints > 0. Got {boundaries!r} instead."
        )
    return [int(b) for b in values]


def step_decay(
    learning_rate: Rate,
    boundaries: int | Sequence[int],
    factor: Rate = 0.1,
    steps_per_epoch: int = 1,
) -> Schedule:
    """Multiply by ``factor`` at each boundary (epochs): ``alpha = alpha0 * factor**n``.

    ``n`` = number of boundaries ``<= epoch``, ``epoch = step // steps_per_epoch``. An int
    ``boundaries = B`` means every B epochs (``n = epoch // B``, PyTorch's ``StepLR``); a
    sequence gives the epochs themselves (PyTorch's ``MultiStepLR``).

    Args:
        learning_rate: alpha0 > 0; a number or an array (K,).
        boundaries: an int >= 1, or a strictly increasing sequence of ints > 0.
        factor: > 0; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int >= 1.

    Returns:
        The schedule.

    Example:
        >>> s = step_decay(1.0, boundaries=[2, 3], factor=0.5)
        >>> [s(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.25, 0.25]
    """
    owner = "step_decay"
    lr0 = as_hyperparameter(owner, "learning_rate", learning_rate, _POSITIVE)
    factor = as_hyperparameter(owner, "factor", factor, _POSITIVE)
    spe = _whole(owner, "steps_per_epoch", steps_per_epoch, 1)
    size = _size(owner, learning_rate=lr0, factor=factor)
    if isinstance(boundaries, int | np.integer) and not isinstance(boundaries, bool):
        every = _whole(owner, "boundaries", boundaries, 1)

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
    return Schedule(fn, text, size)


def piecewise_constant(
    boundaries: Sequence[int], values: Sequence[float] | np.ndarray, steps_per_epoch: int = 1
) -> Schedule:
    """Constant pieces (epochs): ``alpha = values[i]`` for ``boundaries[i-1] <= epoch < boundaries[i]``.

    ``epoch = step // steps_per_epoch``.

    Args:
        boundaries: strictly increasing ints > 0 (n of them).
        values: n + 1 rates >= 0, shape (n + 1,), or (n + 1, K) for one column per member.
        steps_per_epoch: updates per epoch, an int >= 1.

    Returns:
        The schedule.

    Example:
        >>> s = piecewise_constant([2, 4], [0.1, 0.01, 0.001])
        >>> [s(t) for t in range(5)]
        [0.1, 0.1, 0.01, 0.01, 0.001]
    """
    owner = "piecewise_constant"
    edges = _boundaries(owner, boundaries)
    vals = np.asarray(check_param(owner, "values", np.asarray(values), _NON_NEGATIVE), float)
    if vals.ndim not in (1, 2) or vals.shape[0] != len(edges) + 1:
        raise InvalidParameterError(
            f"The 'values' parameter of {owner} must have one more entry than 'boundaries' "
            f"({len(edges) + 1}), shape ({len(edges) + 1},) or ({len(edges) + 1}, K). Got "
            f"shape {vals.shape} instead."
        )
    spe = _whole(owner, "steps_per_epoch", steps_per_epoch, 1)
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


def cosine_decay(learning_rate: Rate, decay_steps: int, final_value: Rate = 0.0) -> Schedule:
    """Half a cosine from ``alpha0`` down to ``final_value`` over ``decay_steps`` steps, then flat.

    ``alpha = final + (alpha0 - final) * (1 + cos(pi * min(step, T) / T)) / 2``, T =
    ``decay_steps``. Counts steps. Matches PyTorch's ``CosineAnnealingLR(T_max=T,
    eta_min=final)`` for ``step <= T`` (PyTorch's rises again afterwards; this one stays).

    Args:
        learning_rate: alpha0 > 0; a number or an array (K,).
        decay_steps: T, an int >= 1.
        final_value: >= 0; a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> s = cosine_decay(1.0, decay_steps=4)
        >>> [round(s(t), 6) for t in range(6)]
        [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """
    owner = "cosine_decay"
    lr0 = as_hyperparameter(owner, "learning_rate", learning_rate, _POSITIVE)
    T = _whole(owner, "decay_steps", decay_steps, 1)
    final = as_hyperparameter(owner, "final_value", final_value, _NON_NEGATIVE)
    size = _size(owner, learning_rate=lr0, final_value=final)

    def fn(step: Steps) -> Rate:
        return final + (lr0 - final) * (1.0 + np.cos(np.pi * (np.minimum(step, T) / T))) / 2.0

    return Schedule(fn, _text(owner, learning_rate=lr0, decay_steps=T, final_value=final), size)


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
        schedule_or_value: the schedule to warm up into, or a rate > 0 (a number or (K,)).
        warmup_steps: W, an int >= 0 (0 means no warm-up).
        init_value: a0 >= 0; a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> s = linear_warmup(exponential_decay(1.0, gamma=0.5), warmup_steps=4)
        >>> [s(t) for t in range(7)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """
    owner = "linear_warmup"
    inner = schedule_or_value if callable(schedule_or_value) else constant(schedule_or_value)
    W = _whole(owner, "warmup_steps", warmup_steps, 0)
    a0 = as_hyperparameter(owner, "init_value", init_value, _NON_NEGATIVE)
    peak = inner(0)
    if np.ndim(peak) > 1 or not np.all(np.isfinite(peak)) or np.any(np.asarray(peak) < 0):
        raise InvalidParameterError(
            f"The schedule given to {owner} must return a finite rate >= 0 (or an array (K,) "
            f"of them); at step 0 it returned {peak!r}."
        )
    peak = peak if np.ndim(peak) else float(peak)
    size = _size(owner, init_value=a0, **{"schedule_or_value(0)": peak})
    text = _text(owner, schedule=inner, warmup_steps=W, init_value=a0)
    if W == 0:
        return inner

    def fn(step: Steps) -> Rate:
        if step.__class__ is int:
            return a0 + (peak - a0) * (step / W) if step < W else inner(step - W)
        plain = step[..., 0] if size is not None else step
        after = np.asarray(inner(np.maximum(plain - W, 0)), dtype=np.float64)
        if size is not None and after.ndim == plain.ndim:
            after = after[..., None]
        warm = a0 + (peak - a0) * (np.minimum(step, W) / W)
        return np.where(step < W, warm, after)

    return Schedule(fn, text, size)


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


def get_schedule(name: str, **settings: Any) -> Schedule:
    """Build a schedule by name: ``get_schedule("exponential", learning_rate=0.1, gamma=0.9)``.

    ``constant`` takes its value as ``learning_rate`` (or ``value``). Two extra settings work for
    every name: ``warmup_steps`` (wrap in :func:`linear_warmup`) and ``warmup_init_value``.

    Args:
        name: a key of :data:`SCHEDULES`.
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
    if name not in SCHEDULES:
        raise InvalidParameterError(
            f"Unknown schedule {name!r}; the known schedules are {', '.join(SCHEDULES)}."
        )
    settings = dict(settings)
    warmup = {k: settings.pop(k) for k in ("warmup_steps", "warmup_init_value") if k in settings}
    if name == "constant" and "learning_rate" in settings and "value" not in settings:
        settings["value"] = settings.pop("learning_rate")
    factory = SCHEDULES[name]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(settings) - set(accepted))
    extras = ["warmup_steps", "warmup_init_value"]
    if unknown:
        raise InvalidParameterError(
            f"Unknown setting {', '.join(map(repr, unknown))} for schedule {name!r}; it accepts "
            f"{', '.join([*accepted, *extras])}."
        )
    missing = [
        p
        for p, spec in accepted.items()
        if spec.default is inspect.Parameter.empty and p not in settings
    ]
    if missing:
        raise InvalidParameterError(
            f"Schedule {name!r} needs {', '.join(map(repr, missing))}; it accepts "
            f"{', '.join([*accepted, *extras])}."
        )
    schedule = factory(**settings)
    if "warmup_init_value" in warmup and "warmup_steps" not in warmup:
        raise InvalidParameterError(
            "The 'warmup_init_value' setting of get_schedule needs 'warmup_steps' too."
        )
    if "warmup_steps" in warmup:
        schedule = linear_warmup(
            schedule, warmup["warmup_steps"], warmup.get("warmup_init_value", 0.0)
        )
    return schedule
