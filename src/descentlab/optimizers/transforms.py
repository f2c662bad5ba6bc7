"""Gradient transformations: the building blocks every named optimizer is chained from.

Each transform is a state ``NamedTuple`` plus a factory that returns a
:class:`~descentlab.optimizers.base.GradientTransformation`. ``update`` builds new arrays and
a new state; nothing is changed in place. Only :func:`scale_by_learning_rate` flips the sign,
so a chain ends with it and :func:`~descentlab.optimizers.base.apply_updates` just adds.

Every hyperparameter may be a number or an array of shape ``(K,)``, one value per member of
a population whose arrays carry a leading axis of size K. The step count is one Python int
for the whole population (the members move in lock-step). The update rules and the
conventions they follow are documented with the named optimizers in
:mod:`descentlab.optimizers.aliases`.

Checking happens once, where a value is given. A public factory (``scale_by_adam``, ...)
checks its arguments against its rule table (:func:`hyperparameter_rules`, with its own name
in the messages) and builds through a private builder (``_scale_by_adam``, ...) that checks
nothing; the named optimizers check their own arguments the same way and call the builders.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from descentlab._validation import (
    FLAG,
    LEARNING_RATE,
    NON_NEGATIVE,
    POSITIVE,
    RATE_OR_ZERO,
    UNIT_CLOSED,
    UNIT_OPEN,
    DataError,
    InvalidParameterError,
    Rule,
)
from descentlab.optimizers.base import (
    EmptyState,
    GradientTransformation,
    Params,
    as_hyperparameter,
    broadcast_to_leaf,
    check_same_structure,
    with_recipe,
)
from descentlab.optimizers.plateau import ReduceOnPlateau

__all__ = [
    "RATE_OR_SCHEDULE",
    "EmaState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLearningRateState",
    "ScaleByRmsState",
    "TraceState",
    "add_decayed_weights",
    "bias_correction",
    "check_hyperparameters",
    "clip_by_global_norm",
    "ema",
    "hyperparameter_rules",
    "safe_increment",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scheduled_rate",
    "trace",
    "update_moment",
]

Hyper = float | np.ndarray
"""A hyperparameter: a number, or an array of shape ``(K,)`` with one value per member."""

Schedule = Callable[[int], Any]
"""A learning-rate schedule: ``step -> learning rate`` (a number or an array ``(K,)``)."""

_COUNT_MAX = int(np.iinfo(np.int64).max)


# ----------------------------------------------------------------------------- checking

_MAX_RATE = RATE_OR_ZERO.high


class _RateOrSchedule:
    """The rule of a ``learning_rate`` argument: a rate in ``LEARNING_RATE`` or a schedule."""

    def __str__(self) -> str:
        return f"{LEARNING_RATE} or a schedule (a callable step -> learning rate)"


RATE_OR_SCHEDULE = _RateOrSchedule()
"""The rule of an optimizer's ``learning_rate``: a float in (0, MAX_LEARNING_RATE] (or an array
``(K,)`` of them), or any callable ``step -> rate`` (checked at every step by
:func:`scheduled_rate`)."""


def check_hyperparameters(
    owner: str, values: Mapping[str, Any], rules: Mapping[str, Rule | None]
) -> dict[str, Any]:
    """Check every ``values[name]`` against ``rules[name]`` and return the values ready to use.

    A number comes back as a ``float`` (an array as float64 ``(K,)``), a whole-number rule's
    value as an ``int``, a flag as itself, a schedule (rule :data:`RATE_OR_SCHEDULE`) as
    itself; a rule of ``None`` means the caller checks that value and it is passed through.
    The per-member arrays must all have the same length K.

    Raises:
      InvalidParameterError: a value outside its rule (the message names ``owner`` and the
        argument), or per-member arrays of different lengths.

    >>> check_hyperparameters("adam", {"b1": 0.9, "amsgrad": False}, {"b1": UNIT_OPEN, "amsgrad": FLAG})
    {'b1': 0.9, 'amsgrad': False}
    """
    checked = {}
    for name, rule in rules.items():
        value = values[name]
        if rule is None:
            checked[name] = value
        elif rule is RATE_OR_SCHEDULE:
            checked[name] = value if callable(value) else _rate(owner, name, value)
        else:
            checked[name] = as_hyperparameter(owner, name, value, rule)
    _population_size(owner, **{n: v for n, v in checked.items() if rules[n] is not None})
    return checked


def _rate(owner: str, name: str, value: Any) -> Hyper:
    try:
        return as_hyperparameter(owner, name, value, LEARNING_RATE)
    except InvalidParameterError as err:
        raise InvalidParameterError(
            f"{err} A schedule (a callable step -> learning rate) is accepted too."
        ) from None


def hyperparameter_rules(
    table: Mapping[str, Rule | None] | None = None, /, **rules: Rule | None
) -> Callable[[Callable], Callable]:
    """Decorate a factory so its arguments are checked by :func:`check_hyperparameters` first.

    Each argument's rule is ``rules[name]``, else ``table[name]`` (a table shared by several
    factories, by argument name); every argument needs one (``None`` for an argument the
    factory checks itself). The factory is then called with the checked values, and messages
    name it ("The 'b1' parameter of adam must be ...").

    >>> @hyperparameter_rules(decay=UNIT_OPEN)
    ... def smooth(decay=0.9):
    ...     return decay
    >>> smooth(0)  # an int comes back as a float
    0.0
    >>> smooth(decay=2.0)
    Traceback (most recent call last):
    ...
    descentlab._validation.InvalidParameterError: The 'decay' parameter of smooth must be a float in the range [0.0, 1.0). Got 2.0 instead.
    """
    known = {**(table or {}), **rules}

    def decorate(factory: Callable) -> Callable:
        signature = inspect.signature(factory)
        names = list(signature.parameters)
        if not set(names) <= set(known) or not set(rules) <= set(names):
            raise TypeError(  # a mistake in the library, found at import time
                f"The rules of {factory.__name__} must name exactly its arguments {names}; "
                f"got {sorted(set(rules) | (set(known) & set(names)))}."
            )
        owner, own = factory.__name__, {name: known[name] for name in names}

        @functools.wraps(factory)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return factory(**check_hyperparameters(owner, bound.arguments, own))

        return checked

    return decorate


def _population_size(owner: str, **hypers: Any) -> None:
    """Check that every per-member hyperparameter has the same length K."""
    sizes = {name: v.shape[0] for name, v in hypers.items() if isinstance(v, np.ndarray)}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{n!r} has {k}" for n, k in sizes.items())
        raise InvalidParameterError(
            f"The per-member hyperparameters of {owner} must all have the same length K "
            f"(one value per population member); {shown}."
        )


def _check_nesterov(owner: str, mu: Hyper, tau: Hyper, nesterov: bool) -> None:
    """Nesterov momentum needs momentum > 0 and zero dampening (PyTorch's rule)."""
    if nesterov and (np.any(np.asarray(mu) <= 0.0) or np.any(np.asarray(tau) != 0.0)):
        raise InvalidParameterError(
            f"nesterov=True in {owner} needs 'momentum' > 0 and 'dampening' == 0 "
            f"(for every member). Got momentum={show(mu)} and dampening={show(tau)}."
        )


def show(h: Hyper) -> Any:
    return h.tolist() if isinstance(h, np.ndarray) else h


# ----------------------------------------------------------------------------- shared math


def update_moment(g: np.ndarray, m: np.ndarray, decay: Hyper, order: int) -> np.ndarray:
    """m = decay * m + (1 - decay) * g**order  (exponentially weighted average of g**order)."""
    # Same floating-point operations as the formula, with in-place work on fresh temporaries
    # only (fewer allocations for large population arrays); the inputs are never changed.
    if order == 1:
        term = (1.0 - decay) * g
    else:
        term = _as_float(g * g if order == 2 else g**order)
        term *= 1.0 - decay
    new = decay * m
    new += term
    return new


def bias_correction(m: Any, decay: Hyper, count: int) -> Any:
    """m_corrected = m / (1 - decay**count)  (``count`` >= 1 is the step being taken)."""
    return m / (1.0 - decay**count)


def _as_float(x: np.ndarray) -> np.ndarray:
    """``x`` itself if it is a float array, else a float64 copy (so in-place float ops work)."""
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def safe_increment(count: int) -> int:
    """count + 1, saturating at the int64 maximum so the count always fits an int64."""
    return count + 1 if count < _COUNT_MAX else _COUNT_MAX


# ----------------------------------------------------------------------------- helpers


def _leaf_shaper(*values: Hyper) -> Callable[[np.ndarray], tuple]:
    """Return ``shaped(leaf)``: the values, each ``(K,)`` array as ``(K, 1, ..., 1)`` for that leaf.

    The reshaped arrays are cached by leaf rank, so the per-update cost is one dict lookup.
    """
    if all(not isinstance(v, np.ndarray) for v in values):
        fixed = tuple(values)
        return lambda leaf: fixed
    cache: dict[int, tuple] = {}

    def shaped(leaf: np.ndarray) -> tuple:
        found = cache.get(leaf.ndim)
        if found is None:
            found = cache[leaf.ndim] = tuple(broadcast_to_leaf(v, leaf) for v in values)
        return found

    return shaped


def _size(*values: Any) -> int | None:
    """K, the length of the per-member arrays among ``values`` (``None`` if all are numbers)."""
    return next((v.shape[0] for v in values if isinstance(v, np.ndarray)), None)


def _check_population(owner: str, size: int | None, params: Params) -> None:
    """Raise :class:`DataError` unless every leaf has a leading population axis of ``size``."""
    if size is None:
        return
    for k, p in params.items():
        if np.ndim(p) == 0 or np.shape(p)[0] != size:
            raise DataError(
                f"{owner} has per-member hyperparameters for K = {size} members, but "
                f"params[{k!r}] has shape {np.shape(p)}; every array needs a leading "
                f"population axis of size {size}."
            )


def _zeros(params: Params) -> Params:
    """Float zeros shaped like each leaf: ``float64``, or a wider type of the leaf's (long double,
    complex), as ``np.result_type(leaf, np.float64)`` gives."""
    return {
        k: np.zeros(np.shape(p), dtype=np.result_type(p, np.float64)) for k, p in params.items()
    }


def _at(h: Hyper, leaf: np.ndarray) -> Hyper:
    """A per-update number as it is; a per-update ``(K,)`` array shaped for ``leaf``."""
    return h if h.__class__ is float else broadcast_to_leaf(h, leaf)


def _describe(fn: Callable) -> str:
    if isinstance(fn, types.FunctionType | types.BuiltinFunctionType):
        return fn.__qualname__
    return repr(fn)


# ----------------------------------------------------------------------------- learning rate


class ScaleByLearningRateState(NamedTuple):
    """State of :func:`scale_by_learning_rate`: the step count and the rate it applied.

    ``learning_rate`` is ``alpha_t`` of the last update (before the first update, the rate the
    first update will apply), as Optax's ``inject_hyperparams`` keeps it: the one place a
    schedule's value is read back (:func:`~descentlab.optimizers.base.applied_learning_rate`).
    """

    count: int  # updates done so far: Python int, shape (), one for the whole population
    learning_rate: Hyper  # alpha of the last update: a float, or (K,) float64 per member


@hyperparameter_rules(learning_rate=RATE_OR_SCHEDULE)
def scale_by_learning_rate(learning_rate: Hyper | Schedule) -> GradientTransformation:
    """Step against the direction: ``u = -alpha_t * g`` (the only transform that flips the sign).

    ``alpha_t`` is ``learning_rate`` itself (a number in (0, MAX_LEARNING_RATE] or an array
    ``(K,)``), or ``learning_rate(t)`` for a schedule, where ``t`` = number of updates done so
    far (0 first); a schedule's value is checked at every step (:func:`scheduled_rate`).
    The state keeps ``alpha_t`` (:class:`ScaleByLearningRateState`). A
    :func:`~descentlab.schedules.reduce_on_plateau` rate is state, not a function of ``t``:
    the state is then a :class:`~descentlab.optimizers.plateau.PlateauState`, whose
    ``learning_rate`` the measured losses lower (``observe``).
    """
    return _scale_by_learning_rate(learning_rate)


def _scale_by_learning_rate(learning_rate: Hyper | Schedule) -> GradientTransformation:
    owner = "scale_by_learning_rate"
    plateau = learning_rate if isinstance(learning_rate, ReduceOnPlateau) else None
    if callable(learning_rate):
        schedule, fixed = learning_rate, None
    else:
        schedule, fixed = None, learning_rate
        size = _size(fixed)
        neg = _leaf_shaper(-fixed)
        neg_scalar = -fixed if size is None else None

    def init(params: Params) -> ScaleByLearningRateState:
        if fixed is not None:
            _check_population(owner, size, params)
            return ScaleByLearningRateState(count=0, learning_rate=fixed)
        if plateau is not None:
            _check_population(owner, plateau.size, params)
            return plateau.init_state()
        return ScaleByLearningRateState(count=0, learning_rate=scheduled_rate(schedule, 0))

    def update(grads: Params, state: ScaleByLearningRateState, params: Params | None = None):
        del params
        count = state.count
        if schedule is None:
            rate = fixed
            if neg_scalar is not None:
                updates = {k: neg_scalar * g for k, g in grads.items()}
            else:
                updates = {k: neg(g)[0] * g for k, g in grads.items()}
        else:
            rate = scheduled_rate(schedule, count) if plateau is None else state.learning_rate
            if rate.__class__ is float:
                lr = -rate
                updates = {k: lr * g for k, g in grads.items()}
            else:
                lr = -rate
                updates = {k: _leading(lr, g, k) * g for k, g in grads.items()}
        if plateau is not None:
            return updates, state._replace(count=safe_increment(count))
        return updates, ScaleByLearningRateState(count=safe_increment(count), learning_rate=rate)

    return with_recipe(
        GradientTransformation(init, update), "scale_by_learning_rate", learning_rate=learning_rate
    )


def scheduled_rate(schedule: Schedule, step: int) -> Hyper:
    """``schedule(step)`` as a float or a ``(K,)`` array, checked to lie in :data:`RATE_OR_ZERO`.

    Raises:
      InvalidParameterError: the schedule returned something else (NaN, inf, a negative or
        huge rate, text, an array of another shape), naming the schedule and the step.

    >>> scheduled_rate(lambda step: 0.5 / (1 + step), 4)
    0.1
    """
    given = lr = schedule(step)
    if lr.__class__ is not float:
        lr = _as_real_array(lr)
        if lr is not None and lr.ndim == 0:
            lr = float(lr)
    if lr.__class__ is float:
        if 0.0 <= lr <= _MAX_RATE:  # False for NaN
            return lr
    elif lr is not None and lr.ndim == 1 and lr.size and np.all((lr >= 0.0) & (lr <= _MAX_RATE)):
        return lr
    raise _bad_rate(schedule, step, given if lr is None else lr)


def _as_real_array(x: Any) -> np.ndarray | None:
    """``x`` as a float64 array if it is a real number or an array of them (not bools), else None.

    Text is None too: NumPy makes it an array of kind ``U`` or ``S``."""
    try:
        arr = np.asarray(x)
    except ValueError:  # a ragged nest of lists
        return None
    return arr.astype(np.float64, copy=False) if arr.dtype.kind in "iuf" else None


def _bad_rate(schedule: Schedule, step: int, lr: Any) -> InvalidParameterError:
    if isinstance(lr, np.ndarray):
        shown = repr(lr.tolist()) if lr.size <= 10 else f"an array of shape {lr.shape}"
    else:
        shown = repr(lr) if isinstance(lr, float) else f"{lr!r:.80} ({type(lr).__name__})"
    return InvalidParameterError(
        f"The learning-rate schedule {_describe(schedule)} returned {shown} at step {step}; "
        f"a learning rate must be {RATE_OR_ZERO} (or an array of shape (K,) of them)."
    )


def _leading(h: np.ndarray, leaf: np.ndarray, key: str) -> np.ndarray:
    """A per-update ``(K,)`` array shaped for ``leaf``, checking the leaf's leading axis is K."""
    if leaf.ndim == 0 or leaf.shape[0] != h.shape[0]:
        raise DataError(
            f"The learning-rate schedule returned {h.shape[0]} values (one per member), but "
            f"grads[{key!r}] has shape {leaf.shape}; it needs a leading population axis of "
            f"size {h.shape[0]}."
        )
    return broadcast_to_leaf(h, leaf)


# ----------------------------------------------------------------------------- momentum


class TraceState(NamedTuple):
    """State of :func:`trace`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    trace: Params  # the momentum buffer b, shaped like params


@hyperparameter_rules(decay=UNIT_OPEN, dampening=UNIT_CLOSED, nesterov=FLAG)
def trace(
    decay: Hyper, *, dampening: Hyper = 0.0, nesterov: bool = False
) -> GradientTransformation:
    """Heavy-ball momentum with PyTorch SGD's conventions (see :func:`~.aliases.sgd`).

    First step ``b = g``; later ``b = mu * b + (1 - tau) * g``; ``u = g + mu * b`` (Nesterov)
    or ``u = b``. ``mu`` = ``decay`` in [0, 1), ``tau`` = ``dampening`` in [0, 1]; as in
    PyTorch, dampening acts only where ``mu > 0`` (a member with ``mu = 0`` gets ``u = g``),
    and ``nesterov`` needs ``mu > 0`` and ``tau = 0``.
    """
    _check_nesterov("trace", decay, dampening, nesterov)
    return _trace(decay, dampening, nesterov)


def _trace(mu: Hyper, tau: Hyper, nesterov: bool) -> GradientTransformation:
    owner = "trace"
    size = _size(mu, tau)
    # Dampening is ignored where mu = 0, so those members see plain gradients (PyTorch's rule).
    keep = np.where(np.asarray(mu) == 0.0, 1.0, 1.0 - np.asarray(tau))
    keep = float(keep) if keep.ndim == 0 else keep
    shaped = _leaf_shaper(mu, keep)
    passthrough = mu.__class__ is float and mu == 0.0

    def init(params: Params) -> TraceState:
        _check_population(owner, size, params)
        return TraceState(count=0, trace=_zeros(params))

    def update(grads: Params, state: TraceState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.trace)
        del params
        count = safe_increment(state.count)
        if passthrough:
            return grads, TraceState(count=count, trace=grads)
        if state.count == 0:
            buf = grads
        else:
            buf = {}
            for k, g in grads.items():
                m, c = shaped(g)
                buf[k] = m * state.trace[k] + (g if c.__class__ is float and c == 1.0 else c * g)
        if nesterov:
            updates = {k: g + shaped(g)[0] * buf[k] for k, g in grads.items()}
        else:
            updates = buf
        return updates, TraceState(count=count, trace=buf)

    return with_recipe(
        GradientTransformation(init, update),
        "trace",
        decay=mu,
        keep=keep,
        nesterov=nesterov,
        passthrough=passthrough,
    )


class EmaState(NamedTuple):
    """State of :func:`ema`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    ema: Params  # the velocity v, shaped like params


@hyperparameter_rules(decay=UNIT_OPEN)
def ema(decay: Hyper) -> GradientTransformation:
    """The seed's momentum velocity: ``v = beta * v + (1 - beta) * g``; ``u = v`` (from v = 0).

    ``beta`` = ``decay`` in [0, 1); no bias correction (see :func:`~.aliases.momentum`).
    """
    return _ema(decay)


def _ema(beta: Hyper) -> GradientTransformation:
    owner = "ema"
    size = _size(beta)
    shaped = _leaf_shaper(beta)

    def init(params: Params) -> EmaState:
        _check_population(owner, size, params)
        return EmaState(count=0, ema=_zeros(params))

    def update(grads: Params, state: EmaState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.ema)
        del params
        v = {k: update_moment(g, state.ema[k], shaped(g)[0], 1) for k, g in grads.items()}
        return v, EmaState(count=safe_increment(state.count), ema=v)

    return with_recipe(GradientTransformation(init, update), "ema", decay=beta)


# ----------------------------------------------------------------------------- adaptive scaling


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    nu: Params  # s: running average of g**2
    mu: Params | None = None  # running average of g (centered only, else None)


@hyperparameter_rules(decay=UNIT_OPEN, eps=NON_NEGATIVE, centered=FLAG, debias=FLAG)
def scale_by_rms(
    decay: Hyper = 0.99, eps: Hyper = 1e-8, *, centered: bool = False, debias: bool = False
) -> GradientTransformation:
    """RMSProp scaling with PyTorch's conventions (see :func:`~.aliases.rmsprop`).

    ``s = rho * s + (1 - rho) * g**2``; centered also ``m = rho * m + (1 - rho) * g`` and
    ``s - m**2`` in place of ``s``; ``u = g / (sqrt(s) + eps)`` with eps outside the root.
    ``rho`` = ``decay`` in [0, 1), ``eps`` >= 0. ``debias=True`` divides each average by
    ``1 - rho**t`` (t counts from 1): then this equals :func:`scale_by_adam` with ``b1 = 0``.
    """
    return _scale_by_rms(decay, eps, centered, debias)


def _scale_by_rms(rho: Hyper, eps: Hyper, centered: bool, debias: bool) -> GradientTransformation:
    owner = "scale_by_rms"
    size = _size(rho, eps)
    shaped = _leaf_shaper(rho, eps)

    def init(params: Params) -> ScaleByRmsState:
        _check_population(owner, size, params)
        return ScaleByRmsState(count=0, nu=_zeros(params), mu=_zeros(params) if centered else None)

    def update(grads: Params, state: ScaleByRmsState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.nu)
        del params
        count = safe_increment(state.count)
        inv = bias_correction(1.0, rho, count)  # used only with debias
        nu, mu, updates = {}, ({} if centered else None), {}
        for k, g in grads.items():
            r, e = shaped(g)
            s = nu[k] = update_moment(g, state.nu[k], r, 2)
            if debias:
                s = _at(inv, g) * s
            if centered:
                m = mu[k] = update_moment(g, state.mu[k], r, 1)
                if debias:
                    m = _at(inv, g) * m
                s = np.maximum(s - m * m, 0.0)  # >= 0 in exact arithmetic; guard rounding
            d = np.sqrt(s)  # a new array: s may be the state's nu
            d += e
            updates[k] = np.divide(g, d, out=d)
        return updates, ScaleByRmsState(count=count, nu=nu, mu=mu)

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_rms",
        decay=rho,
        eps=eps,
        centered=centered,
        debias=debias,
    )


class ScaleByAdagradState(NamedTuple):
    """State of :func:`scale_by_adagrad`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    sum_of_squares: Params  # G: initial value + sum of every g**2 so far


@hyperparameter_rules(initial_accumulator_value=NON_NEGATIVE, eps=NON_NEGATIVE)
def scale_by_adagrad(
    initial_accumulator_value: Hyper = 0.0, eps: Hyper = 1e-10
) -> GradientTransformation:
    """Adagrad scaling with PyTorch's conventions (see :func:`~.aliases.adagrad`).

    ``G = G + g**2`` (G starts at ``initial_accumulator_value`` >= 0);
    ``u = g / (sqrt(G) + eps)`` with ``eps`` >= 0.
    """
    return _scale_by_adagrad(initial_accumulator_value, eps)


def _scale_by_adagrad(g0: Hyper, eps: Hyper) -> GradientTransformation:
    owner = "scale_by_adagrad"
    size = _size(g0, eps)
    shaped = _leaf_shaper(g0, eps)

    def init(params: Params) -> ScaleByAdagradState:
        _check_population(owner, size, params)
        zeros = _zeros(params)
        return ScaleByAdagradState(
            count=0, sum_of_squares={k: z + shaped(z)[0] for k, z in zeros.items()}
        )

    def update(grads: Params, state: ScaleByAdagradState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.sum_of_squares)
        del params
        acc, updates = {}, {}
        for k, g in grads.items():
            G = _as_float(g * g)
            G += state.sum_of_squares[k]
            acc[k] = G
            d = np.sqrt(G)
            d += shaped(g)[1]
            updates[k] = np.divide(g, d, out=d)
        return updates, ScaleByAdagradState(count=safe_increment(state.count), sum_of_squares=acc)

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_adagrad",
        initial_accumulator_value=g0,
        eps=eps,
    )


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # v: first moment (running average of g)
    nu: Params  # s: second moment (running average of g**2), not bias-corrected
    nu_max: Params | None = None  # running max of s (amsgrad only, else None)


@hyperparameter_rules(
    b1=UNIT_OPEN, b2=UNIT_OPEN, eps=NON_NEGATIVE, eps_root=NON_NEGATIVE, amsgrad=FLAG
)
def scale_by_adam(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    eps_root: Hyper = 0.0,
    *,
    amsgrad: bool = False,
) -> GradientTransformation:
    """Adam's direction (see :func:`~.aliases.adam`).

    ``v = b1 * v + (1 - b1) * g``; ``s = b2 * s + (1 - b2) * g**2``; amsgrad uses
    ``s_max = max(s_max, s)`` in place of ``s``; with ``t = count + 1`` (t counts from 1),
    ``u = (v / (1 - b1**t)) / (sqrt(s / (1 - b2**t) + eps_root) + eps)``. ``b1``, ``b2`` in
    [0, 1); ``eps``, ``eps_root`` >= 0.
    """
    return _scale_by_adam(b1, b2, eps, eps_root, amsgrad)


def _scale_by_adam(
    b1: Hyper, b2: Hyper, eps: Hyper, eps_root: Hyper, amsgrad: bool
) -> GradientTransformation:
    owner = "scale_by_adam"
    size = _size(b1, b2, eps, eps_root)
    shaped = _leaf_shaper(b1, b2, eps, eps_root)
    no_root = eps_root.__class__ is float and eps_root == 0.0

    def init(params: Params) -> ScaleByAdamState:
        _check_population(owner, size, params)
        return ScaleByAdamState(
            count=0,
            mu=_zeros(params),
            nu=_zeros(params),
            nu_max=_zeros(params) if amsgrad else None,
        )

    def update(grads: Params, state: ScaleByAdamState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.mu)
        del params
        count = safe_increment(state.count)
        inv1 = bias_correction(1.0, b1, count)  # once per update, not per leaf
        inv2 = bias_correction(1.0, b2, count)
        mu, nu, nu_max, updates = {}, {}, ({} if amsgrad else None), {}
        for k, g in grads.items():
            beta1, beta2, e, e_root = shaped(g)
            m = mu[k] = update_moment(g, state.mu[k], beta1, 1)
            s = nu[k] = update_moment(g, state.nu[k], beta2, 2)
            if amsgrad:
                previous = None if state.nu_max is None else state.nu_max[k]
                s = nu_max[k] = s if previous is None else np.maximum(previous, s)
            d = _at(inv2, g) * s  # s_corrected, a new array (s is kept in the state)
            if not no_root:
                d += e_root
            np.sqrt(d, out=d)
            d += e
            u = _at(inv1, g) * m
            u /= d
            updates[k] = u
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu, nu_max=nu_max)

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_adam",
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
        amsgrad=amsgrad,
        no_root=no_root,
    )


# ----------------------------------------------------------------------------- weight decay, clipping


@hyperparameter_rules(weight_decay=NON_NEGATIVE)
def add_decayed_weights(weight_decay: Hyper) -> GradientTransformation:
    """Weight decay: ``u = g + lambda * W`` (``lambda`` = ``weight_decay`` >= 0; needs params).

    Placed first in a chain it is PyTorch's coupled ``weight_decay`` (the decay term goes
    through the adaptive scaling, L2 regularisation); placed after the scaling and before
    the learning rate it is AdamW's decoupled decay (Loshchilov & Hutter). With
    ``weight_decay = 0`` the gradients pass through untouched.
    """
    return _add_decayed_weights(weight_decay)


def _add_decayed_weights(lam: Hyper) -> GradientTransformation:
    owner = "add_decayed_weights"
    size = _size(lam)
    shaped = _leaf_shaper(lam)
    passthrough = lam.__class__ is float and lam == 0.0

    def init(params: Params) -> EmptyState:
        _check_population(owner, size, params)
        return EmptyState()

    def update(grads: Params, state: EmptyState, params: Params | None = None):
        if passthrough:
            return grads, state
        if params is None:
            raise DataError(
                "add_decayed_weights needs the current params to compute weight decay; "
                "call update(grads, state, params)."
            )
        return {k: g + shaped(g)[0] * params[k] for k, g in grads.items()}, state

    return with_recipe(
        GradientTransformation(init, update),
        "add_decayed_weights",
        weight_decay=lam,
        passthrough=passthrough,
    )


@hyperparameter_rules(max_norm=POSITIVE, per_member=FLAG)
def clip_by_global_norm(max_norm: Hyper, *, per_member: bool = False) -> GradientTransformation:
    """Rescale so the global norm is at most ``c`` = ``max_norm``: ``u = g * min(1, c / ||g||)``.

    ``||g||`` is the Euclidean norm over every element of every leaf. With ``per_member=True``
    it is taken per population member (over all axes but the leading one), giving one norm and
    one scale per member, and ``max_norm`` may be an array ``(K,)``. Unlike PyTorch's
    ``clip_grad_norm_`` there is no ``1e-6`` added to the norm.
    """
    if isinstance(max_norm, np.ndarray) and not per_member:
        raise InvalidParameterError(
            "The 'max_norm' parameter of clip_by_global_norm may be an array (one value per "
            "member) only with per_member=True; the global norm is one number for the whole "
            "population."
        )
    return _clip_by_global_norm(max_norm, per_member)


def _clip_by_global_norm(c: Hyper, per_member: bool) -> GradientTransformation:
    owner = "clip_by_global_norm"
    size = _size(c)

    def init(params: Params) -> EmptyState:
        _check_population(owner, size, params)
        return EmptyState()

    def update(grads: Params, state: EmptyState, params: Params | None = None):
        del params
        if not per_member:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
            if norm <= c:
                return grads, state
            scale = c / norm
            return {k: scale * g for k, g in grads.items()}, state
        sq = None
        for k, g in grads.items():
            if g.ndim == 0 or (sq is not None and g.shape[0] != sq.shape[0]):
                raise DataError(
                    f"clip_by_global_norm(per_member=True) needs a leading population axis of "
                    f"the same size on every leaf; grads[{k!r}] has shape {g.shape}."
                )
            flat = g.reshape(g.shape[0], -1)
            term = np.einsum("ij,ij->i", flat, flat)
            sq = term if sq is None else sq + term
        if sq is None:
            return grads, state
        norm = np.sqrt(sq)
        scale = np.where(norm > c, c / np.where(norm > 0.0, norm, 1.0), 1.0)
        return {k: broadcast_to_leaf(scale, g) * g for k, g in grads.items()}, state

    return with_recipe(
        GradientTransformation(init, update),
        "clip_by_global_norm",
        max_norm=c,
        per_member=per_member,
    )
