"""Gradient transformations: the building blocks every named optimizer is chained from.

Each transform is a state ``NamedTuple`` plus a factory that checks its settings once and
returns a :class:`~descentlab.optimizers.base.GradientTransformation`. ``update`` builds new
arrays and a new state; nothing is changed in place. Only :func:`scale_by_learning_rate`
flips the sign, so a chain ends with it and :func:`~descentlab.optimizers.base.apply_updates`
just adds.

Every hyperparameter may be a number or an array of shape ``(K,)``, one value per member of
a population whose arrays carry a leading axis of size K. The step count is one Python int
for the whole population (the members move in lock-step). The update rules and the
conventions they follow are documented with the named optimizers in
:mod:`descentlab.optimizers.aliases`.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from descentlab._validation import (
    FLAG,
    NON_NEGATIVE,
    POSITIVE,
    UNIT_CLOSED,
    UNIT_OPEN,
    DataError,
    InvalidParameterError,
    check_param,
)
from descentlab.optimizers.base import (
    EmptyState,
    GradientTransformation,
    Params,
    as_hyperparameter,
    broadcast_to_leaf,
    check_same_structure,
)

__all__ = [
    "EmaState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLearningRateState",
    "ScaleByRmsState",
    "TraceState",
    "add_decayed_weights",
    "bias_correction",
    "clip_by_global_norm",
    "ema",
    "safe_increment",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "trace",
    "update_moment",
]

Hyper = float | np.ndarray
"""A hyperparameter: a number, or an array of shape ``(K,)`` with one value per member."""

Schedule = Callable[[int], Any]
"""A learning-rate schedule: ``step -> learning rate`` (a number or an array ``(K,)``)."""

_COUNT_MAX = int(np.iinfo(np.int64).max)


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


def _population_size(owner: str, **hypers: Hyper) -> int | None:
    """The K shared by every per-member hyperparameter (``None`` if all are numbers)."""
    sizes = {name: v.shape[0] for name, v in hypers.items() if isinstance(v, np.ndarray)}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{n!r} has {k}" for n, k in sizes.items())
        raise InvalidParameterError(
            f"The per-member hyperparameters of {owner} must all have the same length K "
            f"(one value per population member); {shown}."
        )
    return next(iter(sizes.values()), None)


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
    """Float zeros shaped like each leaf (``float64`` unless the leaf is already a float)."""
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


def scale_by_learning_rate(learning_rate: Hyper | Schedule) -> GradientTransformation:
    """Step against the direction: ``u = -alpha_t * g`` (the only transform that flips the sign).

    ``alpha_t`` is ``learning_rate`` itself (a number > 0 or an array ``(K,)``), or
    ``learning_rate(t)`` for a schedule, where ``t`` = number of updates done so far (0 first).
    A schedule value that is not finite or is negative raises :class:`InvalidParameterError`.
    The state keeps ``alpha_t`` (:class:`ScaleByLearningRateState`).
    """
    owner = "scale_by_learning_rate"
    if callable(learning_rate):
        schedule, fixed = learning_rate, None
    else:
        schedule, fixed = None, as_hyperparameter(owner, "learning_rate", learning_rate, POSITIVE)
        size = _population_size(owner, learning_rate=fixed)
        neg = _leaf_shaper(-fixed)
        neg_scalar = -fixed if size is None else None

    def init(params: Params) -> ScaleByLearningRateState:
        if fixed is not None:
            _check_population(owner, size, params)
            return ScaleByLearningRateState(count=0, learning_rate=fixed)
        return ScaleByLearningRateState(count=0, learning_rate=_scheduled_rate(schedule, 0))

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
            rate = _scheduled_rate(schedule, count)
            if rate.__class__ is float:
                lr = -rate
                updates = {k: lr * g for k, g in grads.items()}
            else:
                lr = -rate
                updates = {k: _leading(lr, g, k) * g for k, g in grads.items()}
        return updates, ScaleByLearningRateState(count=safe_increment(count), learning_rate=rate)

    return GradientTransformation(init, update)


def _scheduled_rate(schedule: Schedule, count: int) -> Hyper:
    """``schedule(count)`` as a float or a ``(K,)`` array; raise if not finite or negative."""
    lr = schedule(count)
    if lr.__class__ is not float:
        lr = np.asarray(lr, dtype=np.float64)
        if lr.ndim == 0:
            lr = float(lr)
    if lr.__class__ is float:
        if math.isfinite(lr) and lr >= 0.0:
            return lr
        shown = lr
    else:
        if lr.ndim == 1 and np.all(np.isfinite(lr)) and np.all(lr >= 0.0):
            return lr
        shown = lr.tolist() if lr.size <= 10 else f"an array of shape {lr.shape}"
    raise InvalidParameterError(
        f"The learning-rate schedule {_describe(schedule)} returned {shown!r} at step {count}; "
        "a learning rate must be a finite number >= 0 (or an array of shape (K,) of them)."
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


def trace(
    decay: Hyper, *, dampening: Hyper = 0.0, nesterov: bool = False
) -> GradientTransformation:
    """Heavy-ball momentum with PyTorch SGD's conventions (see :func:`~.aliases.sgd`).

    First step ``b = g``; later ``b = mu * b + (1 - tau) * g``; ``u = g + mu * b`` (Nesterov)
    or ``u = b``. ``mu`` = ``decay``, ``tau`` = ``dampening``; as in PyTorch, dampening acts
    only where ``mu > 0`` (a member with ``mu = 0`` gets ``u = g``).
    """
    owner = "trace"
    mu = as_hyperparameter(owner, "decay", decay, UNIT_OPEN)
    tau = as_hyperparameter(owner, "dampening", dampening, UNIT_CLOSED)
    nesterov = _check_nesterov(owner, mu, tau, nesterov)
    size = _population_size(owner, decay=mu, dampening=tau)
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

    return GradientTransformation(init, update)


def _check_nesterov(owner: str, mu: Hyper, tau: Hyper, nesterov: Any) -> bool:
    """Check the ``nesterov`` flag: it needs momentum > 0 and zero dampening (PyTorch's rule)."""
    check_param(owner, "nesterov", nesterov, FLAG)
    if nesterov and (np.any(np.asarray(mu) <= 0.0) or np.any(np.asarray(tau) != 0.0)):
        raise InvalidParameterError(
            f"nesterov=True in {owner} needs 'momentum' > 0 and 'dampening' == 0 "
            f"(for every member). Got momentum={_show(mu)} and dampening={_show(tau)}."
        )
    return bool(nesterov)


def _show(h: Hyper) -> Any:
    return h.tolist() if isinstance(h, np.ndarray) else h


class EmaState(NamedTuple):
    """State of :func:`ema`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    ema: Params  # the velocity v, shaped like params


def ema(decay: Hyper) -> GradientTransformation:
    """The seed's momentum velocity: ``v = beta * v + (1 - beta) * g``; ``u = v`` (from v = 0).

    ``beta`` = ``decay``; no bias correction (see :func:`~.aliases.momentum`).
    """
    owner = "ema"
    beta = as_hyperparameter(owner, "decay", decay, UNIT_OPEN)
    size = _population_size(owner, decay=beta)
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

    return GradientTransformation(init, update)


# ----------------------------------------------------------------------------- adaptive scaling


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    nu: Params  # s: running average of g**2
    mu: Params | None = None  # running average of g (centered only, else None)


def scale_by_rms(
    decay: Hyper = 0.99, eps: Hyper = 1e-8, *, centered: bool = False, debias: bool = False
) -> GradientTransformation:
    """RMSProp scaling with PyTorch's conventions (see :func:`~.aliases.rmsprop`).

    ``s = rho * s + (1 - rho) * g**2``; centered also ``m = rho * m + (1 - rho) * g`` and
    ``s - m**2`` in place of ``s``; ``u = g / (sqrt(s) + eps)`` with eps outside the root.
    ``debias=True`` divides each average by ``1 - rho**t`` (t counts from 1): then this equals
    :func:`scale_by_adam` with ``b1 = 0``.
    """
    owner = "scale_by_rms"
    rho = as_hyperparameter(owner, "decay", decay, UNIT_OPEN)
    eps = as_hyperparameter(owner, "eps", eps, NON_NEGATIVE)
    centered = _check_flag(owner, "centered", centered)
    debias = _check_flag(owner, "debias", debias)
    size = _population_size(owner, decay=rho, eps=eps)
    shaped = _leaf_shaper(rho, eps)

    def init(params: Params) -> ScaleByRmsState:
        _check_population(owner, size, params)
        return ScaleByRmsState(count=0, nu=_zeros(params), mu=_zeros(params) if centered else None)

    def update(grads: Params, state: ScaleByRmsState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.nu)
        del params
        count = safe_increment(state.count)
        inv = bias_correction(1.0, rho, count) if debias else 1.0
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

    return GradientTransformation(init, update)


class ScaleByAdagradState(NamedTuple):
    """State of :func:`scale_by_adagrad`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    sum_of_squares: Params  # G: initial value + sum of every g**2 so far


def scale_by_adagrad(
    initial_accumulator_value: Hyper = 0.0, eps: Hyper = 1e-10
) -> GradientTransformation:
    """Adagrad scaling with PyTorch's conventions (see :func:`~.aliases.adagrad`).

    ``G = G + g**2`` (G starts at ``initial_accumulator_value``); ``u = g / (sqrt(G) + eps)``.
    """
    owner = "scale_by_adagrad"
    g0 = as_hyperparameter(
        owner, "initial_accumulator_value", initial_accumulator_value, NON_NEGATIVE
    )
    eps = as_hyperparameter(owner, "eps", eps, NON_NEGATIVE)
    size = _population_size(owner, initial_accumulator_value=g0, eps=eps)
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

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # v: first moment (running average of g)
    nu: Params  # s: second moment (running average of g**2), not bias-corrected
    nu_max: Params | None = None  # running max of s (amsgrad only, else None)


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
    ``u = (v / (1 - b1**t)) / (sqrt(s / (1 - b2**t) + eps_root) + eps)``.
    """
    owner = "scale_by_adam"
    b1 = as_hyperparameter(owner, "b1", b1, UNIT_OPEN)
    b2 = as_hyperparameter(owner, "b2", b2, UNIT_OPEN)
    eps = as_hyperparameter(owner, "eps", eps, NON_NEGATIVE)
    eps_root = as_hyperparameter(owner, "eps_root", eps_root, NON_NEGATIVE)
    amsgrad = _check_flag(owner, "amsgrad", amsgrad)
    size = _population_size(owner, b1=b1, b2=b2, eps=eps, eps_root=eps_root)
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

    return GradientTransformation(init, update)


def _check_flag(owner: str, name: str, value: Any) -> bool:
    """Check a boolean setting (``True`` or ``False``, nothing else) and return it."""
    return bool(check_param(owner, name, value, FLAG))


# ----------------------------------------------------------------------------- weight decay, clipping


def add_decayed_weights(weight_decay: Hyper) -> GradientTransformation:
    """Weight decay: ``u = g + lambda * W`` (``lambda`` = ``weight_decay``; needs params).

    Placed first in a chain it is PyTorch's coupled ``weight_decay`` (the decay term goes
    through the adaptive scaling, L2 regularisation); placed after the scaling and before
    the learning rate it is AdamW's decoupled decay (Loshchilov & Hutter). With
    ``weight_decay = 0`` the gradients pass through untouched.
    """
    owner = "add_decayed_weights"
    lam = as_hyperparameter(owner, "weight_decay", weight_decay, NON_NEGATIVE)
    size = _population_size(owner, weight_decay=lam)
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

    return GradientTransformation(init, update)


def clip_by_global_norm(max_norm: Hyper, *, per_member: bool = False) -> GradientTransformation:
    """Rescale so the global norm is at most ``c`` = ``max_norm``: ``u = g * min(1, c / ||g||)``.

    ``||g||`` is the Euclidean norm over every element of every leaf. With ``per_member=True``
    it is taken per population member (over all axes but the leading one), giving one norm and
    one scale per member, and ``max_norm`` may be an array ``(K,)``. Unlike PyTorch's
    ``clip_grad_norm_`` there is no ``1e-6`` added to the norm.
    """
    owner = "clip_by_global_norm"
    c = as_hyperparameter(owner, "max_norm", max_norm, POSITIVE)
    per_member = _check_flag(owner, "per_member", per_member)
    size = _population_size(owner, max_norm=c)
    if size is not None and not per_member:
        raise InvalidParameterError(
            f"The 'max_norm' parameter of {owner} may be an array (one value per member) only "
            "with per_member=True; the global norm is one number for the whole population."
        )

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

    return GradientTransformation(init, update)
