"""Learning-rate schedules: callables ``step -> alpha``.

``step`` is the number of optimizer updates done so far (0 for the first update), an ``int``
or a NumPy integer array of steps (then the result is an array of that shape). A schedule
that counts *epochs* turns the step into ``epoch = step // steps_per_epoch``; set
``steps_per_epoch`` to the number of mini-batches per epoch to decay once per epoch, as the
exercise's later edition does (its ``epoch_num``).

Every real-valued setting (``learning_rate``, ``decay_rate``, ``gamma``, ``pct_start``,
``power``, ...) may be an array of shape ``(K,)``, one value per population member; the
schedule then returns an array ``(K,)`` for one step, or ``step.shape + (K,)`` for an array of
steps. Whole-number settings (steps, epochs, periods, patience) are one for all members.

Every setting is finite and bounded, so that no step, however late, can give a rate that is
not finite: a starting rate is in (0, :data:`~descentlab.limits.MAX_LEARNING_RATE`], a rate
that may be 0 (a final value, a warm-up's start, a piece, ``decay_rate``) in [0,
MAX_LEARNING_RATE], a decay factor (``gamma``, ``factor``) in (0, 1] — a decay never grows the
rate — a divisor (``div_factor``) >= 1, a share of the steps in [0, 1], and a number of steps
or epochs an int in [1, 2**53].

Pass a schedule as the ``learning_rate`` of any optimizer in :mod:`descentlab.optimizers`.
:func:`reduce_on_plateau` is the exception to ``step -> alpha``: its rate follows a measured
loss (:mod:`descentlab.optimizers.plateau`). docs/schedules.md has every equation.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descentlab._validation import (
    DECAY_FACTOR,
    FLAG,
    LEARNING_RATE,
    NON_NEGATIVE,
    RATE_OR_ZERO,
    STEPS,
    UNIT_CLOSED,
    Interval,
    InvalidParameterError,
    Options,
    check_arguments,
    lookup,
)
from descentlab.optimizers.base import as_hyperparameter
from descentlab.optimizers.plateau import PlateauRule, ReduceOnPlateau
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
    "one_cycle",
    "piecewise_constant",
    "polynomial_decay",
    "reduce_on_plateau",
    "sgdr",
    "step_decay",
    "warmup_stable_decay",
]

Rate = float | np.ndarray
Steps = int | np.ndarray

_WARMUP_STEPS = Interval(0, 2**53, integer=True)
_COUNT_OR_ZERO = _WARMUP_STEPS  # patience, cooldown: an int in [0, 2**53]
_DIVISOR = Interval(1.0, None)  # one_cycle's div_factor, final_div_factor: never raise the rate
_CUT = Interval(0.0, 1.0, closed="neither")  # reduce_on_plateau's factor: a real cut
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
    """The exercise's decay (its later edition's ``update_lr``, :mod:`descentlab.notebook_v2`),
    counted in epochs: ``alpha = alpha0 / (1 + decay_rate * epoch)``.

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
    """The exercise's decay at fixed intervals (epochs; its later edition's
    ``schedule_lr_decay``): ``alpha0 / (1 + decay_rate * floor(epoch / T))``.

    ``T`` = ``time_interval`` epochs; ``epoch = step // steps_per_epoch``. The later
    edition's ``schedule_lr_decay`` uses T = 1000.

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


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    decay_steps=STEPS,
    power=Interval(0.0, None, closed="neither"),
    final_value=RATE_OR_ZERO,
    steps_per_epoch=STEPS,
)
def polynomial_decay(
    learning_rate: Rate,
    decay_steps: int,
    power: Rate = 1.0,
    final_value: Rate = 0.0,
    steps_per_epoch: int = 1,
) -> Schedule:
    """A polynomial from ``alpha0`` down to ``final_value`` over ``decay_steps`` epochs, then flat.

    ``alpha = final + (alpha0 - final) * (1 - min(epoch, T) / T) ** power``, T =
    ``decay_steps``, ``epoch = step // steps_per_epoch`` (with the default 1 it counts steps).
    With ``final_value = 0`` this is PyTorch's ``PolynomialLR(total_iters=T, power=power)``
    stepped once per epoch; ``final_value`` is Optax's ``end_value``.

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        decay_steps: T, epochs (or steps) to reach ``final_value``, an int in [1, 2**53].
        power: the exponent, a float > 0 (1: linear); a number or an array (K,).
        final_value: in [0, 1e4]; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = polynomial_decay(1.0, decay_steps=4, power=2.0)
        >>> [s(t) for t in range(6)]
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    lr0, T, spe = learning_rate, decay_steps, steps_per_epoch

    def fn(step: Steps) -> Rate:
        left = 1.0 - np.minimum(step // spe, T) / T
        # np.power, not **: the same ufunc loop for one step and for an array of steps
        return final_value + (lr0 - final_value) * np.power(left, power)

    text = _text(
        "polynomial_decay",
        learning_rate=lr0,
        decay_steps=T,
        power=power,
        final_value=final_value,
        steps_per_epoch=spe,
    )
    return Schedule(fn, text, _members(lr0, power, final_value))


def _restarts(period: int, mult: int) -> Callable[[Steps], tuple[Steps, Any]]:
    """``position(e) -> (e_cur, T_i)``: epochs since the last restart and the current period.

    Period i lasts ``T_i = period * mult**i`` epochs and starts at epoch
    ``s_i = period * (mult**i - 1) / (mult - 1)`` (``period * i`` for ``mult = 1``).
    """
    if mult == 1:
        return lambda epoch: (epoch % period, float(period))
    starts, lengths = [0], [float(period)]
    while starts[-1] + period * mult ** (len(starts) - 1) <= _MAX_STEP:
        starts.append(starts[-1] + period * mult ** (len(starts) - 1))
        lengths.append(float(period * mult ** (len(starts) - 1)))
    start_array, length_array = np.asarray(starts, dtype=np.int64), np.asarray(lengths)

    def position(epoch: Steps) -> tuple[Steps, Any]:
        if epoch.__class__ is int:
            i = bisect.bisect_right(starts, epoch) - 1
            return epoch - starts[i], lengths[i]
        i = np.searchsorted(start_array, epoch, side="right") - 1
        return epoch - start_array[i], length_array[i]

    return position


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    period=STEPS,
    period_mult=STEPS,
    final_value=RATE_OR_ZERO,
    steps_per_epoch=STEPS,
)
def sgdr(
    learning_rate: Rate,
    period: int,
    period_mult: int = 1,
    final_value: Rate = 0.0,
    steps_per_epoch: int = 1,
) -> Schedule:
    """Cosine annealing with warm restarts (SGDR): half a cosine per period, then back to alpha0.

    With ``T_0`` = ``period``, ``m`` = ``period_mult``, ``epoch = step // steps_per_epoch``::

        T_i    = T_0 * m**i                          (period i, i = 0, 1, ...)
        e_cur  = epoch - T_0 * (m**i - 1) / (m - 1)  (epochs into period i; epoch mod T_0 for m = 1)
        alpha  = final + (alpha0 - final) * (1 + cos(pi * e_cur / T_i)) / 2

    This is PyTorch's ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min=final)`` stepped once
    per epoch (``steps_per_epoch`` = mini-batches per epoch), or once per step with the
    default ``steps_per_epoch = 1``. (PyTorch's fractional epochs, ``step(epoch + i / n)``, are
    not offered: this counts whole epochs or steps.)

    Args:
        learning_rate: alpha0 in (0, 1e4], the rate at every restart; a number or an array (K,).
        period: T_0, epochs (or steps) of the first period, an int in [1, 2**53].
        period_mult: m, how much longer each period is than the last, an int in [1, 2**53].
        final_value: the rate a period ends at, in [0, 1e4]; a number or an array (K,).
        steps_per_epoch: updates per epoch, an int in [1, 2**53].

    Returns:
        The schedule.

    Example:
        >>> s = sgdr(1.0, period=2, period_mult=2)
        >>> [round(s(t), 6) for t in range(8)]
        [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0, 0.96194]

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    """
    lr0, final, spe = learning_rate, final_value, steps_per_epoch
    position = _restarts(period, period_mult)

    def fn(step: Steps) -> Rate:
        e_cur, T_i = position(step // spe)
        return final + (lr0 - final) * (1.0 + np.cos(np.pi * e_cur / T_i)) / 2.0

    text = _text(
        "sgdr",
        learning_rate=lr0,
        period=period,
        period_mult=period_mult,
        final_value=final,
        steps_per_epoch=spe,
    )
    return Schedule(fn, text, _members(lr0, final))


def _total_steps(owner: str, total_steps: Any, epochs: Any, steps_per_epoch: int) -> int:
    """The length T of a schedule given as ``total_steps`` or as ``epochs * steps_per_epoch``."""
    if (total_steps is None) == (epochs is None):
        raise InvalidParameterError(
            f"{owner} needs either 'total_steps' or 'epochs' (then total_steps = epochs * "
            f"steps_per_epoch). Got {'both' if epochs is not None else 'neither'}."
        )
    if total_steps is not None:
        return as_hyperparameter(owner, "total_steps", total_steps, STEPS)
    epochs = as_hyperparameter(owner, "epochs", epochs, STEPS)
    if epochs * steps_per_epoch > STEPS.high:
        raise InvalidParameterError(
            f"The 'epochs' parameter of {owner} times steps_per_epoch must be at most 2**53 "
            f"steps. Got {epochs} * {steps_per_epoch} instead."
        )
    return epochs * steps_per_epoch


def _fraction(t: Steps, begin: Any, end: Any) -> Any:
    """``(t - begin) / (end - begin)``: how far t is through a phase (0 for an empty phase)."""
    length = np.subtract(end, begin)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.divide(np.subtract(t, begin), length)
    return np.where(length == 0, 0.0, p)


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    total_steps=None,
    epochs=None,
    steps_per_epoch=STEPS,
    pct_start=UNIT_CLOSED,
    anneal_strategy=Options(("cos", "linear")),
    div_factor=_DIVISOR,
    final_div_factor=_DIVISOR,
    three_phase=FLAG,
)
def one_cycle(
    learning_rate: Rate,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int = 1,
    pct_start: Rate = 0.3,
    anneal_strategy: str = "cos",
    div_factor: Rate = 25.0,
    final_div_factor: Rate = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy: up from ``alpha0 / div_factor`` to ``alpha0``, then down far below.

    ``alpha0`` = ``learning_rate`` is the peak (PyTorch's ``max_lr``). With T = ``total_steps``
    (or ``epochs * steps_per_epoch``) and p = ``pct_start``::

        a_start = alpha0 / div_factor,   a_end = a_start / final_div_factor
        phases (their last steps, as PyTorch counts them): e_1 = p*T - 1 [, e_2 = 2*p*T - 2], T - 1
        two phases:   a_start -> alpha0 -> a_end;   three phases: a_start -> alpha0 -> a_start -> a_end
        in phase (e_prev, e_i] (e_prev = 0 for the first): f = (t - e_prev) / (e_i - e_prev)
            cos:    alpha = b + (a - b) * (1 + cos(pi * f)) / 2      (from a to b)
            linear: alpha = a + (b - a) * f
        t >= T - 1:  the rate of step T - 1 (a_end)

    Counts steps (one update each). This is PyTorch's ``OneCycleLR(max_lr=alpha0, total_steps,
    pct_start, anneal_strategy, div_factor, final_div_factor, three_phase)`` for the learning
    rate only: PyTorch's also cycles the momentum (``cycle_momentum``); here momentum stays the
    optimizer's. (An empty phase, where PyTorch divides by zero, starts at its first rate;
    after step T - 1, where PyTorch stops, the rate stays.)

    Args:
        learning_rate: alpha0, the peak, in (0, 1e4]; a number or an array (K,).
        total_steps: T, an int in [1, 2**53]; or give ``epochs`` instead.
        epochs: the run's epochs, an int in [1, 2**53]; then T = epochs * steps_per_epoch.
        steps_per_epoch: updates per epoch (used with ``epochs``), an int in [1, 2**53].
        pct_start: p, the share of the steps spent rising, in [0, 1]; a number or (K,).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: alpha0 / a_start, a float >= 1; a number or (K,).
        final_div_factor: a_start / a_end, a float >= 1; a number or (K,).
        three_phase: the paper's three phases (True) or fastai's two (False, PyTorch's default).

    Returns:
        The schedule.

    Example:
        >>> s = one_cycle(1.0, total_steps=5, pct_start=0.6, anneal_strategy="linear",
        ...               div_factor=4.0, final_div_factor=2.0)
        >>> [s(t) for t in range(6)]
        [0.25, 0.625, 1.0, 0.5625, 0.125, 0.125]

    References:
        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates", 2017 (arXiv:1708.07120).
    """
    owner = "one_cycle"
    T = _total_steps(owner, total_steps, epochs, steps_per_epoch)
    peak, p = learning_rate, pct_start
    start = peak / div_factor
    end = start / final_div_factor
    first = p * T - 1.0
    if three_phase:
        ends, rates = (first, 2.0 * p * T - 2.0, T - 1), (start, peak, start, end)
    else:
        ends, rates = (first, T - 1), (start, peak, end)
    begins = (0.0, *ends[:-1])

    def anneal(a: Any, b: Any, f: Any) -> Any:
        if anneal_strategy == "cos":
            return b + (a - b) / 2.0 * (np.cos(np.pi * f) + 1.0)
        return (b - a) * f + a

    def at(t: int) -> float:  # one step, every setting a number: the same operations, faster
        i = next(i for i, e in enumerate(ends) if t <= e or i == len(ends) - 1)
        length = ends[i] - begins[i]
        return anneal(rates[i], rates[i + 1], (t - begins[i]) / length if length else 0.0)

    def fn(step: Steps) -> Rate:
        if step.__class__ is int and size is None:
            return at(min(step, T - 1))
        t = np.minimum(step, T - 1)
        rate = anneal(rates[-2], rates[-1], _fraction(t, begins[-1], ends[-1]))
        for i in reversed(range(len(ends) - 1)):  # the first phase whose end t has not passed
            here = anneal(rates[i], rates[i + 1], _fraction(t, begins[i], ends[i]))
            rate = np.where(t <= ends[i], here, rate)
        return rate

    size = _members(peak, p, div_factor, final_div_factor)
    text = _text(
        owner,
        learning_rate=peak,
        total_steps=T,
        pct_start=p,
        anneal_strategy=anneal_strategy,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        three_phase=three_phase,
    )
    return Schedule(fn, text, size)


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    total_steps=None,
    epochs=None,
    steps_per_epoch=STEPS,
    warmup_steps=_WARMUP_STEPS,
    decay_fraction=UNIT_CLOSED,
    decay_shape=Options(("linear", "sqrt")),
    final_value=RATE_OR_ZERO,
    warmup_init_value=RATE_OR_ZERO,
)
def warmup_stable_decay(
    learning_rate: Rate,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int = 1,
    warmup_steps: int = 0,
    decay_fraction: Rate = 0.2,
    decay_shape: str = "linear",
    final_value: Rate = 0.0,
    warmup_init_value: Rate = 0.0,
) -> Schedule:
    """Warmup-stable-decay (WSD): a linear warm-up, a long constant stretch, a short decay.

    With T = ``total_steps`` (or ``epochs * steps_per_epoch``), W = ``warmup_steps``,
    D = floor(``decay_fraction`` * T) decay steps starting at S = T - D, ``a0`` =
    ``warmup_init_value`` and ``final`` = ``final_value``::

        t < W:         alpha = a0 + (alpha0 - a0) * t / W
        W <= t < S:    alpha = alpha0
        S <= t < T:    f = (t - S) / D
                       linear: alpha = final + (alpha0 - final) * (1 - f)
                       sqrt:   alpha = final + (alpha0 - final) * (1 - sqrt(f))
        t >= T:        alpha = final

    Counts steps. The definition of Hägele et al. (their ``wsd_schedule``: D = int(fraction *
    T), the 1-sqrt cooldown) with the warm-up written as rates; PyTorch and Optax 0.2.8 have no
    such schedule. The warm-up is this schedule's own (it is part of T), not
    :func:`linear_warmup`'s, so ``warmup_steps`` by name reaches it.

    Args:
        learning_rate: alpha0, the stable rate, in (0, 1e4]; a number or an array (K,).
        total_steps: T, an int in [1, 2**53]; or give ``epochs`` instead.
        epochs: the run's epochs, an int in [1, 2**53]; then T = epochs * steps_per_epoch.
        steps_per_epoch: updates per epoch (used with ``epochs``), an int in [1, 2**53].
        warmup_steps: W, an int in [0, 2**53]; W + D <= T.
        decay_fraction: D / T, in [0, 1]; a number or an array (K,).
        decay_shape: ``"linear"`` or ``"sqrt"`` (the 1-sqrt cooldown).
        final_value: in [0, 1e4]; a number or an array (K,).
        warmup_init_value: a0 in [0, 1e4]; a number or an array (K,).

    Returns:
        The schedule.

    Example:
        >>> s = warmup_stable_decay(1.0, total_steps=8, warmup_steps=2, decay_fraction=0.5)
        >>> [s(t) for t in range(9)]
        [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]

    References:
        Hägele, Bakouch, Kosson, Ben Allal, Von Werra & Jaggi, "Scaling Laws and
        Compute-Optimal Training Beyond Fixed Training Durations", NeurIPS 2024; Hu et al.,
        "MiniCPM: Unveiling the Potential of Small Language Models with Scalable Training
        Strategies", 2024.
    """
    owner = "warmup_stable_decay"
    T = _total_steps(owner, total_steps, epochs, steps_per_epoch)
    W, peak, a0, final = warmup_steps, learning_rate, warmup_init_value, final_value
    D = np.floor(np.multiply(decay_fraction, T))
    S = T - D
    if W > np.min(S):
        raise InvalidParameterError(
            f"The 'warmup_steps' parameter of {owner} must leave room for the decay: W + "
            f"floor(decay_fraction * T) <= T. Got W = {W}, decay steps {_shown(D)}, T = {T}."
        )
    shape = (lambda f: 1.0 - f) if decay_shape == "linear" else (lambda f: 1.0 - np.sqrt(f))
    size = _members(peak, decay_fraction, final, a0)

    def at(t: int) -> float:  # one step, every setting a number: the same operations, faster
        if t < W:
            return a0 + (peak - a0) * (t / W)
        if t < S:
            return peak
        return final + (peak - final) * shape((t - S) / (T - S)) if t < T else final

    def fn(step: Steps) -> Rate:
        if step.__class__ is int and size is None:
            return at(step)
        warm = a0 + (peak - a0) * (np.minimum(step, W) / W) if W else peak
        decay = final + (peak - final) * shape(np.clip(_fraction(step, S, T), 0.0, 1.0))
        rate = np.where(step < S, peak, np.where(step < T, decay, final))
        return np.where(step < W, warm, rate)

    text = _text(
        owner,
        learning_rate=peak,
        total_steps=T,
        warmup_steps=W,
        decay_fraction=decay_fraction,
        decay_shape=decay_shape,
        final_value=final,
        warmup_init_value=a0,
    )
    return Schedule(fn, text, size)


def _shown(x: Any) -> Any:
    return np.asarray(x).astype(int).tolist()


@hyperparameter_rules(
    learning_rate=LEARNING_RATE,
    factor=_CUT,
    patience=_COUNT_OR_ZERO,
    threshold=NON_NEGATIVE,
    threshold_mode=Options(("rel", "abs")),
    cooldown=_COUNT_OR_ZERO,
    min_lr=RATE_OR_ZERO,
    eps=NON_NEGATIVE,
)
def reduce_on_plateau(
    learning_rate: Rate,
    factor: Rate = 0.1,
    patience: int = 10,
    threshold: Rate = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: Rate = 0.0,
    eps: Rate = 1e-8,
) -> ReduceOnPlateau:
    """Cut the rate by ``factor`` when the measured loss has stopped improving.

    The rate starts at ``alpha0`` and changes only when a loss ``L`` is observed — after every
    epoch, the validation cost (the epoch's training cost without validation data). With
    ``best`` the lowest loss so far and ``n`` the observations since it last improved::

        improved:  L < best * (1 - threshold)  (rel)   or   L < best - threshold  (abs)
        n > patience:  alpha = max(alpha * factor, min_lr)   (skipped if that lowers alpha by
                       eps or less); then n = 0 and the next ``cooldown`` observations are
                       not counted

    PyTorch's ``ReduceLROnPlateau(mode="min", factor, patience, threshold, threshold_mode,
    cooldown, min_lr, eps)``, stepped with the same losses (a NaN is never an improvement).
    Lower is better: the loop observes a loss. In a population every member keeps its own
    best, counters and rate. The rate is not a function of the step, so this takes no
    warm-up, and the compiled engine does not run it (``engine="auto"`` uses NumPy).
    The state is a :class:`~descentlab.optimizers.plateau.PlateauState`.

    Args:
        learning_rate: alpha0 in (0, 1e4]; a number or an array (K,).
        factor: the cut, in (0, 1); a number or (K,).
        patience: observations without improvement tolerated, an int in [0, 2**53].
        threshold: what counts as an improvement, a float >= 0 (< 1 for "rel"); or (K,).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: observations ignored after a cut, an int in [0, 2**53].
        min_lr: the floor, in [0, 1e4]; a number or (K,).
        eps: the smallest cut made, a float >= 0; a number or (K,).

    Returns:
        The rate to pass as an optimizer's ``learning_rate``.

    Example:
        >>> from descentlab.optimizers import applied_learning_rate, gd
        >>> from descentlab.optimizers.base import observe
        >>> opt = gd(reduce_on_plateau(1.0, factor=0.5, patience=1))
        >>> state = opt.init({"w": np.zeros(2)})
        >>> rates = []
        >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 1.0]:
        ...     state = observe(state, loss)
        ...     rates.append(applied_learning_rate(state))
        >>> rates
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]

    References:
        PyTorch's ``torch.optim.lr_scheduler.ReduceLROnPlateau``; Keras's ``ReduceLROnPlateau``.
    """
    owner = "reduce_on_plateau"
    relative = threshold_mode == "rel"
    if relative and np.any(np.asarray(threshold) >= 1.0):
        raise InvalidParameterError(
            f"The 'threshold' parameter of {owner} must be a float in the range [0.0, 1.0) "
            f"with threshold_mode='rel'. Got {_plain_value(threshold)} instead."
        )
    rule = PlateauRule(factor, patience, threshold, relative, cooldown, min_lr, eps)
    text = _text(
        owner,
        learning_rate=learning_rate,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
        eps=eps,
    )
    size = _members(learning_rate, factor, threshold, min_lr, eps)
    return ReduceOnPlateau(constant(learning_rate), learning_rate, rule, size, text)


def _plain_value(x: Any) -> Any:
    return x.tolist() if isinstance(x, np.ndarray) else x


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
    if isinstance(schedule_or_value, ReduceOnPlateau):
        raise InvalidParameterError(
            "reduce_on_plateau takes no warm-up: its rate follows the measured loss, not the "
            "step (drop 'warmup_steps', or warm up with another schedule)."
        )
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
    "polynomial": polynomial_decay,
    "sgdr": sgdr,
    "one_cycle": one_cycle,
    "wsd": warmup_stable_decay,
    "reduce_on_plateau": reduce_on_plateau,
}
"""The schedules by name, for configs and the command line."""

_WARMUP = ("warmup_steps", "warmup_init_value")


def get_schedule(name: str, **settings: Any) -> Schedule | ReduceOnPlateau:
    """Build a schedule by name: ``get_schedule("exponential", learning_rate=0.1, gamma=0.9)``.

    ``constant`` takes its value as ``learning_rate`` (or ``value``). Two extra settings work for
    every name: ``warmup_steps`` (wrap in :func:`linear_warmup`) and ``warmup_init_value``;
    ``wsd`` takes them as its own (its warm-up is part of its ``total_steps``), and
    ``reduce_on_plateau`` refuses them.

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
    own = inspect.signature(factory).parameters
    warmup = {k: settings.pop(k) for k in _WARMUP if k in settings and k not in own}
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
