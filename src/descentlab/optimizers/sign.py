"""Sign-based transforms: Lion and Rprop take the sign of a gradient, not its size.

As in :mod:`descentlab.optimizers.transforms`, each is a state ``NamedTuple`` and a factory
(the public one checks its settings; the private builder, chained by the named optimizers of
:mod:`descentlab.optimizers.aliases`, checks nothing). Every hyperparameter may be an array
``(K,)``, one value per population member. Neither flips the sign of the step: a chain ends
with :func:`~descentlab.optimizers.transforms.scale_by_learning_rate`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from descentlab._validation import (
    NON_NEGATIVE,
    POSITIVE,
    UNIT_OPEN,
    Interval,
    InvalidParameterError,
)
from descentlab.optimizers.base import (
    GradientTransformation,
    Params,
    check_same_structure,
    with_recipe,
)
from descentlab.optimizers.transforms import (
    Hyper,
    _check_population,
    _leaf_shaper,
    _size,
    _zeros,
    hyperparameter_rules,
    safe_increment,
    show,
    update_moment,
)

__all__ = [
    "ETA_MINUS",
    "ETA_PLUS",
    "ScaleByLionState",
    "ScaleByRpropState",
    "scale_by_lion",
    "scale_by_rprop",
]

ETA_MINUS = Interval(0.0, 1.0, closed="neither")
"""(0, 1): what Rprop multiplies a step size by when the gradient changes sign."""
ETA_PLUS = Interval(1.0, None, closed="neither")
"""> 1: what Rprop multiplies a step size by when the gradient keeps its sign."""


# ----------------------------------------------------------------------------- Lion


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # m: running average of g (with decay b2)


@hyperparameter_rules(b1=UNIT_OPEN, b2=UNIT_OPEN)
def scale_by_lion(b1: Hyper = 0.9, b2: Hyper = 0.99) -> GradientTransformation:
    """Lion's direction (see :func:`~.aliases.lion`).

    ``u = sign(b1 * m + (1 - b1) * g)``, then ``m = b2 * m + (1 - b2) * g`` (the direction
    interpolates with ``b1``, the momentum decays with ``b2``); ``sign(0) = 0``.
    """
    return _scale_by_lion(b1, b2)


def _scale_by_lion(b1: Hyper, b2: Hyper) -> GradientTransformation:
    owner = "scale_by_lion"
    size = _size(b1, b2)
    shaped = _leaf_shaper(b1, b2)

    def init(params: Params) -> ScaleByLionState:
        _check_population(owner, size, params)
        return ScaleByLionState(count=0, mu=_zeros(params))

    def update(grads: Params, state: ScaleByLionState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.mu)
        del params
        mu, updates = {}, {}
        for k, g in grads.items():
            beta1, beta2 = shaped(g)
            c = (1.0 - beta1) * g
            c += beta1 * state.mu[k]
            updates[k] = np.sign(c, out=c)
            mu[k] = update_moment(g, state.mu[k], beta2, 1)
        return updates, ScaleByLionState(count=safe_increment(state.count), mu=mu)

    return with_recipe(GradientTransformation(init, update), "scale_by_lion", b1=b1, b2=b2)


# ----------------------------------------------------------------------------- Rprop


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    prev: Params  # g' of the previous step (0 where the gradient had changed sign)
    scale: Params  # r: each parameter's step size relative to the learning rate (1 at first)


@hyperparameter_rules(
    eta_minus=ETA_MINUS, eta_plus=ETA_PLUS, min_scale=NON_NEGATIVE, max_scale=POSITIVE
)
def scale_by_rprop(
    eta_minus: Hyper = 0.5,
    eta_plus: Hyper = 1.2,
    min_scale: Hyper = 1e-4,
    max_scale: Hyper = 5e3,
) -> GradientTransformation:
    """Rprop's direction, in step sizes relative to the learning rate (see :func:`~.aliases.rprop`).

    Per element, with ``p`` the previous ``g'`` (0 at first) and ``r`` the relative step size
    (1 at first)::

        eta = eta_plus if g * p > 0,  eta_minus if g * p < 0,  1 if g * p = 0
        r = clip(r * eta, min_scale, max_scale)
        g' = 0 if g * p < 0 else g          (no step right after a sign change)
        u = sign(g') * r;   p = g'

    ``eta_minus`` in (0, 1), ``eta_plus`` > 1, ``0 <= min_scale <= max_scale``.
    """
    _check_bounds("scale_by_rprop", "min_scale", min_scale, "max_scale", max_scale)
    return _scale_by_rprop(eta_minus, eta_plus, min_scale, max_scale)


def _check_bounds(owner: str, low_name: str, low: Hyper, high_name: str, high: Hyper) -> None:
    """Refuse ``low > high`` (for any member), naming the lower bound."""
    if np.any(np.asarray(low) > np.asarray(high)):
        raise InvalidParameterError(
            f"The {low_name!r} parameter of {owner} must be at most {high_name!r} (for every "
            f"member). Got {low_name}={show(low)} and {high_name}={show(high)}."
        )


def _scale_by_rprop(
    eta_minus: Hyper, eta_plus: Hyper, min_scale: Hyper, max_scale: Hyper
) -> GradientTransformation:
    owner = "scale_by_rprop"
    size = _size(eta_minus, eta_plus, min_scale, max_scale)
    shaped = _leaf_shaper(eta_minus, eta_plus, min_scale, max_scale)

    def init(params: Params) -> ScaleByRpropState:
        _check_population(owner, size, params)
        zeros = _zeros(params)
        return ScaleByRpropState(count=0, prev=zeros, scale={k: z + 1.0 for k, z in zeros.items()})

    def update(grads: Params, state: ScaleByRpropState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.prev)
        del params
        prev, scale, updates = {}, {}, {}
        for k, g in grads.items():
            down, up, low, high = shaped(g)
            turn = np.sign(g * state.prev[k])
            eta = np.where(turn > 0, up, np.where(turn < 0, down, 1.0))
            r = scale[k] = np.clip(state.scale[k] * eta, low, high)
            step = prev[k] = np.where(turn < 0, 0.0, g)
            updates[k] = np.sign(step) * r
        return updates, ScaleByRpropState(count=safe_increment(state.count), prev=prev, scale=scale)

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_rprop",
        eta_minus=eta_minus,
        eta_plus=eta_plus,
        min_scale=min_scale,
        max_scale=max_scale,
    )
