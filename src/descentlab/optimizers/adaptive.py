"""Adaptive scalings beyond Adam: NAdam, RAdam, Adamax and Adadelta (PyTorch's conventions).

Each transform is a state ``NamedTuple`` and a factory, as in
:mod:`descentlab.optimizers.transforms`: the public factory checks its settings, the private
builder (``_scale_by_nadam``, ...) checks nothing and is what the named optimizers of
:mod:`descentlab.optimizers.aliases` chain. Notation (the seed's): ``g`` the incoming
gradient, ``v`` the first moment, ``s`` the second moment, ``t = count + 1`` the step being
taken (counting from 1). Every hyperparameter may be an array ``(K,)``, one value per
population member; the state's per-member numbers (NAdam's product of momenta) are then
``(K,)`` too. None of these transforms flips the sign: a chain ends with
:func:`~descentlab.optimizers.transforms.scale_by_learning_rate`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from descentlab._validation import NON_NEGATIVE, POSITIVE, UNIT_OPEN
from descentlab.optimizers.base import (
    GradientTransformation,
    Params,
    check_same_structure,
    with_recipe,
)
from descentlab.optimizers.transforms import (
    Hyper,
    _at,
    _check_population,
    _leaf_shaper,
    _size,
    _zeros,
    bias_correction,
    hyperparameter_rules,
    safe_increment,
    update_moment,
)

__all__ = [
    "ScaleByAdadeltaState",
    "ScaleByAdamaxState",
    "ScaleByNadamState",
    "ScaleByRadamState",
    "nadam_momentum",
    "radam_rectification",
    "scale_by_adadelta",
    "scale_by_adamax",
    "scale_by_nadam",
    "scale_by_radam",
]


# ----------------------------------------------------------------------------- NAdam


class ScaleByNadamState(NamedTuple):
    """State of :func:`scale_by_nadam`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # v: first moment (running average of g)
    nu: Params  # s: second moment (running average of g**2), not bias-corrected
    mu_product: Hyper  # mu_1 * ... * mu_t: a float, or (K,) float64 per member (1 at first)


def nadam_momentum(b1: Hyper, momentum_decay: Hyper, t: int) -> Hyper:
    """mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi))  (NAdam's momentum schedule, Dozat 2016)."""
    return b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


@hyperparameter_rules(b1=UNIT_OPEN, b2=UNIT_OPEN, eps=NON_NEGATIVE, momentum_decay=NON_NEGATIVE)
def scale_by_nadam(
    b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8, momentum_decay: Hyper = 4e-3
) -> GradientTransformation:
    """NAdam's direction, PyTorch's form (see :func:`~.aliases.nadam`).

    ``mu_t = b1 * (1 - 0.5 * 0.96**(t * psi))`` (:func:`nadam_momentum`), ``P_t = mu_1 ... mu_t``;
    ``v = b1 * v + (1 - b1) * g``; ``s = b2 * s + (1 - b2) * g**2``;
    ``d = sqrt(s / (1 - b2**t)) + eps``;
    ``u = (1 - mu_t) / (1 - P_t) * g / d + mu_{t+1} / (1 - P_t * mu_{t+1}) * v / d``.
    ``psi`` = ``momentum_decay`` >= 0; ``b1``, ``b2`` in [0, 1); ``eps`` >= 0 outside the root.
    """
    return _scale_by_nadam(b1, b2, eps, momentum_decay)


def _scale_by_nadam(b1: Hyper, b2: Hyper, eps: Hyper, psi: Hyper) -> GradientTransformation:
    owner = "scale_by_nadam"
    size = _size(b1, b2, eps, psi)
    shaped = _leaf_shaper(b1, b2, eps)

    def init(params: Params) -> ScaleByNadamState:
        _check_population(owner, size, params)
        one = 1.0 if size is None else np.ones(size)
        return ScaleByNadamState(count=0, mu=_zeros(params), nu=_zeros(params), mu_product=one)

    def update(grads: Params, state: ScaleByNadamState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.mu)
        del params
        count = safe_increment(state.count)
        mu_t = nadam_momentum(b1, psi, count)
        mu_next = nadam_momentum(b1, psi, count + 1)
        product = state.mu_product * mu_t
        c_grad = (1.0 - mu_t) / (1.0 - product)  # once per update, not per leaf
        c_moment = mu_next / (1.0 - product * mu_next)
        mu, nu, updates = {}, {}, {}
        for k, g in grads.items():
            beta1, beta2, e = shaped(g)
            m = mu[k] = update_moment(g, state.mu[k], beta1, 1)
            s = nu[k] = update_moment(g, state.nu[k], beta2, 2)
            d = np.sqrt(bias_correction(s, beta2, count))
            d += e
            u = _at(c_grad, g) * g
            u /= d
            w = _at(c_moment, g) * m
            w /= d
            u += w
            updates[k] = u
        new = ScaleByNadamState(count=count, mu=mu, nu=nu, mu_product=product)
        return updates, new

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_nadam",
        b1=b1,
        b2=b2,
        eps=eps,
        momentum_decay=psi,
    )


# ----------------------------------------------------------------------------- RAdam


class ScaleByRadamState(NamedTuple):
    """State of :func:`scale_by_radam`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # v: first moment (running average of g)
    nu: Params  # s: second moment (running average of g**2), not bias-corrected


RADAM_THRESHOLD = 5.0
"""RAdam rectifies a step when the length of the approximated SMA ``rho_t`` exceeds this (PyTorch)."""


def radam_rectification(b2: Hyper, t: int) -> tuple[Hyper, Hyper]:
    """``(rectify, r_t)`` of RAdam's step t (Liu et al. 2020, PyTorch's form).

    ``rho_inf = 2 / (1 - b2) - 1``, ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``; the step is
    rectified where ``rho_t > 5``, by
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``
    (``r_t`` is 0 where it is not rectified). Numbers for a number ``b2``, ``(K,)`` arrays for
    an array.
    """
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho_t = rho_inf - 2.0 * t * b2**t / (1.0 - b2**t)
    rectify = rho_t > RADAM_THRESHOLD
    if np.ndim(rectify) == 0:
        if not rectify:
            return False, 0.0
        ratio = (
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
        return True, float(np.sqrt(ratio))
    with np.errstate(divide="ignore", invalid="ignore"):  # the members not rectified
        ratio = (
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
    return rectify, np.sqrt(np.where(rectify, ratio, 0.0))


@hyperparameter_rules(b1=UNIT_OPEN, b2=UNIT_OPEN, eps=NON_NEGATIVE)
def scale_by_radam(b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8) -> GradientTransformation:
    """RAdam's direction, PyTorch's form (see :func:`~.aliases.radam`).

    ``v = b1 * v + (1 - b1) * g``; ``s = b2 * s + (1 - b2) * g**2``;
    ``v_corrected = v / (1 - b1**t)``; where ``rho_t > 5`` (:func:`radam_rectification`)
    ``u = v_corrected * r_t * sqrt(1 - b2**t) / (sqrt(s) + eps)``, else ``u = v_corrected``.
    ``eps`` >= 0 is added to the root of the *uncorrected* s, as PyTorch does.
    """
    return _scale_by_radam(b1, b2, eps)


def _scale_by_radam(b1: Hyper, b2: Hyper, eps: Hyper) -> GradientTransformation:
    owner = "scale_by_radam"
    size = _size(b1, b2, eps)
    shaped = _leaf_shaper(b1, b2, eps)

    def init(params: Params) -> ScaleByRadamState:
        _check_population(owner, size, params)
        return ScaleByRadamState(count=0, mu=_zeros(params), nu=_zeros(params))

    def update(grads: Params, state: ScaleByRadamState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.mu)
        del params
        count = safe_increment(state.count)
        inv1 = bias_correction(1.0, b1, count)
        rectify, r = radam_rectification(b2, count)
        scale = r * np.sqrt(1.0 - b2**count)  # r_t * sqrt(1 - b2**t); 0 where not rectified
        mu, nu, updates = {}, {}, {}
        for k, g in grads.items():
            beta1, beta2, e = shaped(g)
            m = mu[k] = update_moment(g, state.mu[k], beta1, 1)
            s = nu[k] = update_moment(g, state.nu[k], beta2, 2)
            u = _at(inv1, g) * m  # v_corrected
            if rectify is False:
                updates[k] = u
                continue
            d = np.sqrt(s)
            d += e
            rectified = u * _at(scale, g)
            rectified /= d
            updates[k] = rectified if rectify is True else np.where(_at(rectify, g), rectified, u)
        return updates, ScaleByRadamState(count=count, mu=mu, nu=nu)

    return with_recipe(
        GradientTransformation(init, update), "scale_by_radam", b1=b1, b2=b2, eps=eps
    )


# ----------------------------------------------------------------------------- Adamax


class ScaleByAdamaxState(NamedTuple):
    """State of :func:`scale_by_adamax`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    mu: Params  # v: first moment (running average of g)
    nu: Params  # w: exponentially weighted infinity norm of g


@hyperparameter_rules(b1=UNIT_OPEN, b2=UNIT_OPEN, eps=NON_NEGATIVE)
def scale_by_adamax(
    b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8
) -> GradientTransformation:
    """Adamax's direction (see :func:`~.aliases.adamax`).

    ``v = b1 * v + (1 - b1) * g``; ``w = max(b2 * w, |g| + eps)``;
    ``u = (v / (1 - b1**t)) / w``. ``eps`` >= 0 sits inside the max, as in PyTorch and Optax.
    """
    return _scale_by_adamax(b1, b2, eps)


def _scale_by_adamax(b1: Hyper, b2: Hyper, eps: Hyper) -> GradientTransformation:
    owner = "scale_by_adamax"
    size = _size(b1, b2, eps)
    shaped = _leaf_shaper(b1, b2, eps)

    def init(params: Params) -> ScaleByAdamaxState:
        _check_population(owner, size, params)
        return ScaleByAdamaxState(count=0, mu=_zeros(params), nu=_zeros(params))

    def update(grads: Params, state: ScaleByAdamaxState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.mu)
        del params
        count = safe_increment(state.count)
        inv1 = bias_correction(1.0, b1, count)
        mu, nu, updates = {}, {}, {}
        for k, g in grads.items():
            beta1, beta2, e = shaped(g)
            m = mu[k] = update_moment(g, state.mu[k], beta1, 1)
            w = np.abs(g) + e
            w = nu[k] = np.maximum(beta2 * state.nu[k], w)  # NaN propagates, as torch.maximum
            u = _at(inv1, g) * m
            u /= w
            updates[k] = u
        return updates, ScaleByAdamaxState(count=count, mu=mu, nu=nu)

    return with_recipe(
        GradientTransformation(init, update), "scale_by_adamax", b1=b1, b2=b2, eps=eps
    )


# ----------------------------------------------------------------------------- Adadelta


class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`."""

    count: int  # updates done so far: Python int, shape (), one for the whole population
    nu: Params  # s: running average of g**2
    delta_nu: Params  # a: running average of the squared directions u**2


@hyperparameter_rules(decay=UNIT_OPEN, eps=POSITIVE)
def scale_by_adadelta(decay: Hyper = 0.9, eps: Hyper = 1e-6) -> GradientTransformation:
    """Adadelta's direction (see :func:`~.aliases.adadelta`).

    ``s = rho * s + (1 - rho) * g**2``; ``u = sqrt(a + eps) / sqrt(s + eps) * g``;
    ``a = rho * a + (1 - rho) * u**2``. ``rho`` = ``decay`` in [0, 1); ``eps`` > 0 sits inside
    both roots (with ``eps = 0`` the first direction would be 0, and every later one too).
    """
    return _scale_by_adadelta(decay, eps)


def _scale_by_adadelta(rho: Hyper, eps: Hyper) -> GradientTransformation:
    owner = "scale_by_adadelta"
    size = _size(rho, eps)
    shaped = _leaf_shaper(rho, eps)

    def init(params: Params) -> ScaleByAdadeltaState:
        _check_population(owner, size, params)
        return ScaleByAdadeltaState(count=0, nu=_zeros(params), delta_nu=_zeros(params))

    def update(grads: Params, state: ScaleByAdadeltaState, params: Params | None = None):
        if params is None:
            check_same_structure(grads, state.nu)
        del params
        nu, delta_nu, updates = {}, {}, {}
        for k, g in grads.items():
            r, e = shaped(g)
            s = nu[k] = update_moment(g, state.nu[k], r, 2)
            u = np.sqrt(state.delta_nu[k] + e)
            u /= np.sqrt(s + e)
            u *= g
            updates[k] = u
            delta_nu[k] = update_moment(u, state.delta_nu[k], r, 2)
        new = ScaleByAdadeltaState(count=safe_increment(state.count), nu=nu, delta_nu=delta_nu)
        return updates, new

    return with_recipe(
        GradientTransformation(init, update), "scale_by_adadelta", decay=rho, eps=eps
    )
