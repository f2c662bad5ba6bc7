"""Named optimizers: short chains of the transforms in :mod:`descentlab.optimizers.transforms`.

Notation (the seed's): ``W`` a parameter array, ``dW`` its gradient, ``alpha`` the learning
rate, ``v`` the first moment or velocity, ``s`` the second moment, ``t`` the step being taken
(counting from 1). Every array may carry a leading population axis of size K, and every
numeric hyperparameter may then be an array of shape ``(K,)`` (one value per member).
``learning_rate`` is at most :data:`~descentlab.limits.MAX_LEARNING_RATE`, or a schedule
``step -> alpha`` (see :mod:`descentlab.schedules`), called with the number of updates done
so far.

Each optimizer checks its arguments once, against :data:`HYPERPARAMETER_RULES` (by the
decorator :func:`~descentlab.optimizers.transforms.hyperparameter_rules`, so messages say
"of adam"), and then builds its chain from the transforms' private builders, which check
nothing again.
Each is checked step for step against its PyTorch counterpart
(``tests/test_torch_equivalence.py``, ``tests/test_optimizers_modern.py``), or Optax's for
those PyTorch lacks (``lion``, ``schedule_free_adamw``, ``schedule_free_sgd``).
docs/optimizers.md lists them all with their equations and references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from descentlab._validation import (
    FLAG,
    LEARNING_RATE,
    NON_NEGATIVE,
    POSITIVE,
    RATE_OR_ZERO,
    UNIT_CLOSED,
    UNIT_OPEN,
    Interval,
    InvalidParameterError,
    Rule,
    call_registered,
)
from descentlab.optimizers.adaptive import (
    _scale_by_adadelta,
    _scale_by_adamax,
    _scale_by_nadam,
    _scale_by_radam,
)
from descentlab.optimizers.base import GradientTransformation, chain
from descentlab.optimizers.plateau import ReduceOnPlateau
from descentlab.optimizers.schedule_free import (
    AVERAGING_B1,
    WEIGHT_LR_POWER,
    _scale_by_schedule_free,
)
from descentlab.optimizers.sign import (
    ETA_MINUS,
    ETA_PLUS,
    _check_bounds,
    _scale_by_lion,
    _scale_by_rprop,
)
from descentlab.optimizers.transforms import (
    RATE_OR_SCHEDULE,
    Hyper,
    Schedule,
    _add_decayed_weights,
    _check_nesterov,
    _ema,
    _scale_by_adagrad,
    _scale_by_adam,
    _scale_by_learning_rate,
    _scale_by_rms,
    _trace,
    hyperparameter_rules,
    scheduled_rate,
    show,
)

__all__ = [
    "HYPERPARAMETER_RULES",
    "OPTIMIZERS",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "gd",
    "get_optimizer",
    "lion",
    "momentum",
    "nadam",
    "nadamw",
    "nesterov",
    "radam",
    "rmsprop",
    "rprop",
    "schedule_free_adamw",
    "schedule_free_sgd",
    "sgd",
]

LearningRate = Hyper | Schedule

HYPERPARAMETER_RULES: dict[str, Rule] = {
    "learning_rate": RATE_OR_SCHEDULE,
    "beta": UNIT_OPEN,
    "momentum": UNIT_OPEN,
    "dampening": UNIT_CLOSED,
    "nesterov": FLAG,
    "decay": UNIT_OPEN,
    "b1": UNIT_OPEN,
    "b2": UNIT_OPEN,
    "eps": NON_NEGATIVE,
    "eps_root": NON_NEGATIVE,
    "initial_accumulator_value": NON_NEGATIVE,
    "weight_decay": NON_NEGATIVE,
    "centered": FLAG,
    "amsgrad": FLAG,
    "momentum_decay": NON_NEGATIVE,
    "decoupled_weight_decay": FLAG,
    "eta_minus": ETA_MINUS,
    "eta_plus": ETA_PLUS,
    "min_step_size": RATE_OR_ZERO,
    "max_step_size": LEARNING_RATE,
    "warmup_steps": Interval(0, 2**53, integer=True),
    "weight_lr_power": WEIGHT_LR_POWER,
}
"""The rule of every hyperparameter of the named optimizers, by name: a name means the same
thing in every optimizer (``eps`` >= 0, ``momentum`` in [0, 1), ...). Each optimizer checks
its own arguments against it, once, with its own name in the messages."""


@hyperparameter_rules(HYPERPARAMETER_RULES)
def gd(learning_rate: LearningRate) -> GradientTransformation:
    """Gradient descent: step against the gradient, seed rule (1)-(2).

    Legend: alpha = learning_rate.

        W = W - alpha * dW

    Stateless apart from the step count (for schedules); same as PyTorch's ``SGD(lr)``.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.

    Returns:
        A GradientTransformation; its state is ``(ScaleByLearningRateState,)``: the step
        count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, gd
        >>> opt = gd(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.512, -1.024])

    References:
        Cauchy, "Méthode générale pour la résolution des systèmes d'équations simultanées", 1847.
    """
    return chain(_scale_by_learning_rate(learning_rate))


@hyperparameter_rules(HYPERPARAMETER_RULES)
def momentum(learning_rate: LearningRate, beta: Hyper = 0.9) -> GradientTransformation:
    """Momentum as in the seed, rules (3)-(4): an exponentially weighted average of gradients.

    Legend: alpha = learning_rate, beta = beta; v starts at 0 and is not bias-corrected.

        v = beta * v + (1 - beta) * dW
        W = W - alpha * v

    Momentum comes before the learning rate (v holds no alpha). The defaults match the seed.
    This is not PyTorch's ``SGD(momentum=...)`` (see :func:`sgd`), whose first step is ``v = dW``
    and whose new gradients are not scaled by ``1 - beta``.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        beta: the velocity's decay, in [0, 1); 0 gives plain gradient descent.

    Returns:
        A GradientTransformation; its state is ``(EmaState, ScaleByLearningRateState)``: the
        velocity v, then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, momentum
        >>> opt = momentum(learning_rate=0.1, beta=0.9)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.8897, -1.7794])

    References:
        Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
        Ng, "Improving Deep Neural Networks" (Coursera), exercise "Optimization Methods", 2017.
    """
    return chain(_ema(beta), _scale_by_learning_rate(learning_rate))


@hyperparameter_rules(HYPERPARAMETER_RULES)
def sgd(
    learning_rate: LearningRate,
    momentum: Hyper = 0.0,
    dampening: Hyper = 0.0,
    nesterov: bool = False,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """Stochastic gradient descent with PyTorch's momentum, Nesterov and weight decay.

    Legend: alpha = learning_rate, mu = momentum, tau = dampening, lambda = weight_decay.

        dW = dW + lambda * W                    (coupled weight decay, L2)
        v = dW                                  (first step; when mu > 0)
        v = mu * v + (1 - tau) * dW             (later steps)
        d = dW + mu * v   (nesterov)   or   d = v
        W = W - alpha * d

    Momentum comes before the learning rate: v holds no alpha, so a schedule rescales the
    whole step at once. With ``mu = 0`` this is :func:`gd` (tau is then ignored). The
    defaults and every formula match PyTorch's ``torch.optim.SGD``.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        momentum: mu in [0, 1); 0 switches momentum off.
        dampening: tau in [0, 1], scales the new gradient by (1 - tau) after the first step.
        nesterov: True for Nesterov momentum (PyTorch's form); needs mu > 0 and tau = 0.
        weight_decay: lambda >= 0.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, TraceState,
        ScaleByLearningRateState)``: nothing for the weight decay, the momentum buffer v,
        then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, sgd
        >>> opt = sgd(learning_rate=0.1, momentum=0.9)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.062, -0.124])

    References:
        Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
        Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and momentum
        in deep learning", 2013.
    """
    _check_nesterov("sgd", momentum, dampening, nesterov)
    return _sgd(learning_rate, momentum, dampening, nesterov, weight_decay)


def _sgd(
    lr: LearningRate, mu: Hyper, tau: Hyper, nesterov: bool, lam: Hyper
) -> GradientTransformation:
    """The chain of :func:`sgd` and :func:`nesterov` from checked values."""
    return chain(_add_decayed_weights(lam), _trace(mu, tau, nesterov), _scale_by_learning_rate(lr))


@hyperparameter_rules(HYPERPARAMETER_RULES)
def nesterov(learning_rate: LearningRate, momentum: Hyper = 0.9) -> GradientTransformation:
    """Nesterov momentum: :func:`sgd` with ``nesterov=True`` (PyTorch's form).

    Legend: alpha = learning_rate, mu = momentum.

        v = dW  (first step),   v = mu * v + dW  (later steps)
        W = W - alpha * (dW + mu * v)

    Momentum comes before the learning rate. Matches PyTorch's
    ``SGD(lr, momentum, nesterov=True)``.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        momentum: mu in (0, 1) (Nesterov's look-ahead needs mu > 0).

    Returns:
        A GradientTransformation; its state is that of :func:`sgd`: ``(EmptyState,
        TraceState, ScaleByLearningRateState)``.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, nesterov
        >>> opt = nesterov(learning_rate=0.1, momentum=0.9)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([-0.1084,  0.2167])

    References:
        Nesterov, "A method for solving the convex programming problem with convergence
        rate O(1/k^2)", 1983. Sutskever et al., "On the importance of initialization and
        momentum in deep learning", 2013.
    """
    _check_nesterov("nesterov", momentum, 0.0, True)
    return _sgd(learning_rate, momentum, 0.0, True, 0.0)


@hyperparameter_rules(HYPERPARAMETER_RULES)
def rmsprop(
    learning_rate: LearningRate,
    decay: Hyper = 0.99,
    eps: Hyper = 1e-8,
    momentum: Hyper = 0.0,
    centered: bool = False,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """RMSProp: divide the gradient by a running root mean square of recent gradients.

    Legend: alpha = learning_rate, rho = decay, eps = eps, mu = momentum,
    lambda = weight_decay.

        dW = dW + lambda * W                    (coupled weight decay, L2)
        s = rho * s + (1 - rho) * dW**2
        m = rho * m + (1 - rho) * dW;  s' = s - m**2      (centered; else s' = s)
        d = dW / (sqrt(s') + eps)               (eps outside the square root)
        v = mu * v + d;  d = v                  (when mu > 0)
        W = W - alpha * d

    Momentum comes before the learning rate (v holds no alpha), as in PyTorch. No bias
    correction. The defaults (rho = 0.99, eps = 1e-8) and formulas match PyTorch's
    ``torch.optim.RMSprop`` (whose ``alpha`` is our ``decay``).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        decay: rho in [0, 1), the decay of the average of squared gradients.
        eps: >= 0, added to the square root (outside it).
        momentum: mu in [0, 1); 0 switches momentum off.
        centered: True to divide by an estimate of the variance (s - m**2) instead of s.
        weight_decay: lambda >= 0.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByRmsState, TraceState,
        ScaleByLearningRateState)``: nothing for the weight decay, s (and m when centered),
        the momentum buffer v, then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, rmsprop
        >>> opt = rmsprop(learning_rate=0.05)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.1548, -0.9814])

    References:
        Tieleman and Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for Machine
        Learning, 2012. Graves, "Generating sequences with recurrent neural networks" (the
        centered form), 2013.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_rms(decay, eps, centered, False),
        _trace(momentum, 0.0, False),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES)
def adagrad(
    learning_rate: LearningRate,
    eps: Hyper = 1e-10,
    initial_accumulator_value: Hyper = 0.0,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """Adagrad: divide by the root of the sum of all squared gradients so far.

    Legend: alpha = learning_rate, eps = eps, G0 = initial_accumulator_value,
    lambda = weight_decay.

        dW = dW + lambda * W                    (coupled weight decay, L2)
        G = G + dW**2                           (G starts at G0)
        W = W - alpha * dW / (sqrt(G) + eps)    (eps outside the square root)

    The defaults and formulas match PyTorch's ``torch.optim.Adagrad`` with ``lr_decay = 0``
    (use a schedule for decay).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        eps: >= 0, added to the square root (outside it).
        initial_accumulator_value: G0 >= 0, the value G starts from.
        weight_decay: lambda >= 0.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByAdagradState,
        ScaleByLearningRateState)``: nothing for the weight decay, the sum G, then the step
        count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import adagrad, apply_updates
        >>> opt = adagrad(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.7805, -1.7758])

    References:
        Duchi, Hazan, Singer, "Adaptive subgradient methods for online learning and
        stochastic optimization", 2011.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_adagrad(initial_accumulator_value, eps),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES)
def adam(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    eps_root: Hyper = 0.0,
    amsgrad: bool = False,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """Adam: momentum on the gradient, scaled by a running root mean square, both bias-corrected.

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, epsilon = eps (outside the root),
    eps_root (inside it), lambda = weight_decay, t = the step being taken, counting from 1.

        dW = dW + lambda * W                    (coupled weight decay, L2; see adamw)
        v = beta1 * v + (1 - beta1) * dW
        s = beta2 * s + (1 - beta2) * dW**2
        s_max = max(s_max, s);  use s_max for s below      (amsgrad; the max of the
                                                            uncorrected s, as PyTorch)
        v_corrected = v / (1 - beta1**t)
        s_corrected = s / (1 - beta2**t)
        W = W - alpha * v_corrected / (sqrt(s_corrected + eps_root) + epsilon)

    The learning rate multiplies the finished direction (v, s hold no alpha). The defaults
    match PyTorch's ``torch.optim.Adam`` and Kingma & Ba's Algorithm 1 (eps outside the root,
    ``eps_root = 0``). The seed's ``sqrt(s_corrected + epsilon)`` is ``eps=0, eps_root=1e-8``.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), the decay of the first moment v.
        b2: beta2 in [0, 1), the decay of the second moment s.
        eps: epsilon >= 0, added to the square root (outside it).
        eps_root: >= 0, added to s_corrected inside the square root.
        amsgrad: True to divide by the running maximum of s (Reddi et al.).
        weight_decay: lambda >= 0, coupled (added to the gradient before the moments).

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByAdamState,
        ScaleByLearningRateState)``: nothing for the weight decay, the step count and the
        moments v, s (and s_max), then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import adam, apply_updates
        >>> opt = adam(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.7016, -1.7006])

    References:
        Kingma and Ba, "Adam: A method for stochastic optimization", 2015.
        Reddi, Kale, Kumar, "On the convergence of Adam and beyond" (AMSGrad), 2018.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_adam(b1, b2, eps, eps_root, amsgrad),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES)
def adamw(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.01,
    amsgrad: bool = False,
) -> GradientTransformation:
    """AdamW: Adam with weight decay decoupled from the adaptive scaling.

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, epsilon = eps,
    lambda = weight_decay, t = the step being taken, counting from 1.

        v = beta1 * v + (1 - beta1) * dW
        s = beta2 * s + (1 - beta2) * dW**2     (s_max = max(s_max, s) with amsgrad)
        v_corrected = v / (1 - beta1**t)
        s_corrected = s / (1 - beta2**t)
        W = W - alpha * (v_corrected / (sqrt(s_corrected) + epsilon) + lambda * W)

    The decay term is added after the scaling and multiplied by the (scheduled) learning
    rate, as in PyTorch's ``torch.optim.AdamW``, whose defaults (lambda = 0.01) these match.
    With ``weight_decay = 0`` this is :func:`adam`.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), the decay of the first moment v.
        b2: beta2 in [0, 1), the decay of the second moment s.
        eps: epsilon >= 0, added to the square root (outside it).
        weight_decay: lambda >= 0, decoupled (added after the scaling, times alpha).
        amsgrad: True to divide by the running maximum of s (Reddi et al.).

    Returns:
        A GradientTransformation; its state is ``(ScaleByAdamState, EmptyState,
        ScaleByLearningRateState)``: the step count and the moments v, s (and s_max),
        nothing for the weight decay, then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import adamw, apply_updates
        >>> opt = adamw(learning_rate=0.1, weight_decay=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.6751, -1.6444])

    References:
        Loshchilov and Hutter, "Decoupled weight decay regularization", 2019.
        Kingma and Ba, "Adam: A method for stochastic optimization", 2015.
    """
    return chain(
        _scale_by_adam(b1, b2, eps, 0.0, amsgrad),
        _add_decayed_weights(weight_decay),
        _scale_by_learning_rate(learning_rate),
    )


# ----------------------------------------------------------------------------- Adam's relatives


@hyperparameter_rules(HYPERPARAMETER_RULES)
def nadam(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.0,
    momentum_decay: Hyper = 4e-3,
) -> GradientTransformation:
    """NAdam: Adam with Nesterov momentum and Dozat's momentum schedule (PyTorch's ``NAdam``).

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, epsilon = eps (outside the root),
    psi = momentum_decay, lambda = weight_decay, t = the step being taken, counting from 1.

        dW = dW + lambda * W                    (coupled weight decay, L2; see nadamw)
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi));   P_t = mu_1 * ... * mu_t
        v = beta1 * v + (1 - beta1) * dW
        s = beta2 * s + (1 - beta2) * dW**2
        d = sqrt(s / (1 - beta2**t)) + epsilon
        W = W - alpha * ((1 - mu_t) / (1 - P_t) * dW / d
                         + mu_{t+1} / (1 - P_t * mu_{t+1}) * v / d)

    The learning rate multiplies the finished direction. Every formula and default matches
    PyTorch's ``torch.optim.NAdam`` (whose product ``P_t`` is kept in the default float
    dtype: set ``torch.set_default_dtype(torch.float64)`` to compare in float64). Optax's
    ``nadam`` is a different, simpler form (Adam with ``nesterov=True``, no ``psi``).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), the momentum (the mu_t approach it as t grows).
        b2: beta2 in [0, 1), the decay of the second moment s.
        eps: epsilon >= 0, added to the square root (outside it).
        weight_decay: lambda >= 0, coupled (added to the gradient before the moments).
        momentum_decay: psi >= 0, how fast mu_t rises from beta1 / 2 to beta1.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByNadamState,
        ScaleByLearningRateState)``: nothing for the weight decay, the moments v, s and the
        product P_t, then the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, nadam
        >>> opt = nadam(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.7527, -1.7475])

    References:
        Dozat, "Incorporating Nesterov momentum into Adam", ICLR workshop, 2016.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_nadam(b1, b2, eps, momentum_decay),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES)
def nadamw(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.01,
    momentum_decay: Hyper = 4e-3,
) -> GradientTransformation:
    """NAdamW: :func:`nadam` with weight decay decoupled from the scaling, as AdamW.

    Legend: as :func:`nadam`; the direction ``n`` is NAdam's (the bracket of its last line).

        W = W - alpha * (n + lambda * W)

    The decay term is added after the scaling and multiplied by the (scheduled) learning
    rate: PyTorch's ``NAdam(decoupled_weight_decay=True)``. The default lambda = 0.01 is
    :func:`adamw`'s (PyTorch's ``AdamW``'s); with ``weight_decay = 0`` this is :func:`nadam`.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1).
        b2: beta2 in [0, 1).
        eps: epsilon >= 0, added to the square root (outside it).
        weight_decay: lambda >= 0, decoupled (added after the scaling, times alpha).
        momentum_decay: psi >= 0.

    Returns:
        A GradientTransformation; its state is ``(ScaleByNadamState, EmptyState,
        ScaleByLearningRateState)``.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, nadamw
        >>> opt = nadamw(learning_rate=0.1, weight_decay=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.727, -1.692])

    References:
        Dozat, "Incorporating Nesterov momentum into Adam", 2016.
        Loshchilov and Hutter, "Decoupled weight decay regularization", 2019.
    """
    return chain(
        _scale_by_nadam(b1, b2, eps, momentum_decay),
        _add_decayed_weights(weight_decay),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES)
def radam(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.0,
    decoupled_weight_decay: bool = False,
) -> GradientTransformation:
    """RAdam: Adam whose adaptive step is switched on, and rectified, once its variance is tame.

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, epsilon = eps, lambda =
    weight_decay, t = the step being taken, counting from 1.

        dW = dW + lambda * W                    (coupled weight decay; not when decoupled)
        v = beta1 * v + (1 - beta1) * dW
        s = beta2 * s + (1 - beta2) * dW**2
        v_corrected = v / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:                           (the rectification switch)
            r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            n = v_corrected * r_t * sqrt(1 - beta2**t) / (sqrt(s) + epsilon)
        else:
            n = v_corrected                     (momentum SGD for the first steps)
        W = W - alpha * n                       (coupled)
        W = W - alpha * (n + lambda * W)        (decoupled_weight_decay=True)

    Every formula and default matches PyTorch's ``torch.optim.RAdam`` (its threshold 5, and
    epsilon added to the root of the uncorrected s). With beta2 = 0.999 the first five steps
    are not rectified.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), the decay of the first moment v.
        b2: beta2 in [0, 1), the decay of the second moment s.
        eps: epsilon >= 0, added to the square root (outside it).
        weight_decay: lambda >= 0.
        decoupled_weight_decay: True for AdamW's decoupled decay (PyTorch's flag of that name).

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByRadamState,
        ScaleByLearningRateState)`` (``(ScaleByRadamState, EmptyState, ...)`` when
        decoupled).

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, radam
        >>> opt = radam(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.4623, -0.9246])

    References:
        Liu, Jiang, He, Chen, Liu, Gao, Han, "On the variance of the adaptive learning rate
        and beyond", ICLR 2020.
    """
    direction = _scale_by_radam(b1, b2, eps)
    decay = _add_decayed_weights(weight_decay)
    parts = (direction, decay) if decoupled_weight_decay else (decay, direction)
    return chain(*parts, _scale_by_learning_rate(learning_rate))


@hyperparameter_rules(HYPERPARAMETER_RULES)
def adamax(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """Adamax: Adam with the infinity norm in place of the root mean square.

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, epsilon = eps, lambda =
    weight_decay, t = the step being taken, counting from 1.

        dW = dW + lambda * W                    (coupled weight decay, L2)
        v = beta1 * v + (1 - beta1) * dW
        u = max(beta2 * u, |dW| + epsilon)      (epsilon inside the max)
        W = W - alpha * (v / (1 - beta1**t)) / u

    Every formula and default matches PyTorch's ``torch.optim.Adamax`` (Optax's ``adamax``
    has the same step, without weight decay).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), the decay of the first moment v.
        b2: beta2 in [0, 1), the decay of the infinity norm u.
        eps: epsilon >= 0, added to |dW| inside the max.
        weight_decay: lambda >= 0, coupled.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByAdamaxState,
        ScaleByLearningRateState)``.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import adamax, apply_updates
        >>> opt = adamax(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.7155, -1.7076])

    References:
        Kingma and Ba, "Adam: A method for stochastic optimization" (section 7.1), 2015.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_adamax(b1, b2, eps),
        _scale_by_learning_rate(learning_rate),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES, eps=POSITIVE)
def adadelta(
    learning_rate: LearningRate,
    decay: Hyper = 0.9,
    eps: Hyper = 1e-6,
    weight_decay: Hyper = 0.0,
) -> GradientTransformation:
    """Adadelta: scale each step by the ratio of two running root mean squares.

    Legend: alpha = learning_rate, rho = decay, eps = eps (inside both roots),
    lambda = weight_decay.

        dW = dW + lambda * W                    (coupled weight decay, L2)
        s = rho * s + (1 - rho) * dW**2
        d = sqrt(a + eps) / sqrt(s + eps) * dW
        a = rho * a + (1 - rho) * d**2
        W = W - alpha * d

    Every formula and default matches PyTorch's ``torch.optim.Adadelta`` (whose ``rho`` is
    our ``decay``, as for :func:`rmsprop`; ``rho=`` is accepted in specs). Zeiler's method
    has no learning rate: PyTorch's default alpha = 1.0 is his.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha (1.0 is Zeiler's method).
        decay: rho in [0, 1), the decay of both running averages.
        eps: > 0, inside both square roots (it sets the size of the first steps).
        weight_decay: lambda >= 0, coupled.

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByAdadeltaState,
        ScaleByLearningRateState)``: nothing for the weight decay, s and a, then the step
        count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import adadelta, apply_updates
        >>> opt = adadelta(learning_rate=1.0)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.9903, -1.9903])

    References:
        Zeiler, "ADADELTA: An adaptive learning rate method", 2012.
    """
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_adadelta(decay, eps),
        _scale_by_learning_rate(learning_rate),
    )


# ----------------------------------------------------------------------------- sign-based


@hyperparameter_rules(HYPERPARAMETER_RULES)
def rprop(
    learning_rate: LearningRate,
    eta_minus: Hyper = 0.5,
    eta_plus: Hyper = 1.2,
    min_step_size: Hyper = 1e-6,
    max_step_size: Hyper = 50.0,
) -> GradientTransformation:
    """Rprop: a step size per parameter, grown while the gradient keeps its sign, cut when it flips.

    Legend: alpha = learning_rate (the first step size), eta-, eta+ = eta_minus, eta_plus;
    per parameter, Delta = its step size (alpha at first) and p = the previous dW' (0 at first).

        eta = eta+ if dW * p > 0,  eta- if dW * p < 0,  1 if dW * p = 0
        Delta = clip(Delta * eta, min_step_size, max_step_size)
        dW' = 0 if dW * p < 0 else dW           (no step right after a sign change)
        W = W - Delta * sign(dW');   p = dW'

    Rprop is a **full-batch** method: it reads only the signs of successive gradients, and
    mini-batch noise flips them at random, which shrinks every step size. Train it with
    ``batch_size`` at least the number of examples. Every formula and default matches
    PyTorch's ``torch.optim.Rprop`` (Rprop without weight backtracking, "Rprop-").

    As a chain the step sizes are kept relative to alpha: ``Delta = alpha_t * r`` with
    ``r`` from :func:`~descentlab.optimizers.sign.scale_by_rprop` (bounds
    ``min_step_size / alpha_0`` and ``max_step_size / alpha_0``, alpha_0 the first rate), so
    the history's learning rate is alpha, and a schedule multiplies every step size by
    ``alpha_t / alpha_0`` (with a constant rate this is PyTorch's Rprop exactly).

    Args:
        learning_rate: alpha, the first step size: a float in (0, 1e4], an array (K,) of
            them, or a schedule step -> alpha (its first rate must be > 0).
        eta_minus: eta- in (0, 1), the factor after a sign change.
        eta_plus: eta+ > 1, the factor while the sign holds.
        min_step_size: the smallest step size, in [0, 1e4].
        max_step_size: the largest step size, in (0, 1e4], at least ``min_step_size``.

    Returns:
        A GradientTransformation; its state is ``(ScaleByRpropState,
        ScaleByLearningRateState)``: the previous dW' and the relative step sizes r, then
        the step count and the rate applied last.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, rprop
        >>> opt = rprop(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.636, -1.636])

    References:
        Riedmiller and Braun, "A direct adaptive method for faster backpropagation learning:
        the RPROP algorithm", 1993. Igel and Hüsken, "Improving the Rprop learning
        algorithm", 2000.
    """
    _check_bounds("rprop", "min_step_size", min_step_size, "max_step_size", max_step_size)
    first = scheduled_rate(learning_rate, 0) if callable(learning_rate) else learning_rate
    low, high = _relative(first, min_step_size), _relative(first, max_step_size)
    return chain(
        _scale_by_rprop(eta_minus, eta_plus, low, high),
        _scale_by_learning_rate(learning_rate),
    )


def _relative(first: Hyper, step_size: Hyper) -> Hyper:
    """``step_size / alpha_0``, a bound of Rprop's relative step sizes.

    Capped at the largest float (a first step size below ``step_size / 1.8e308``, far below
    any useful rate, then takes steps smaller than ``min_step_size``, never infinite ones).

    Raises:
      InvalidParameterError: a first rate of 0 (a schedule warming up from 0).
    """
    if np.any(np.asarray(first) <= 0.0):
        raise InvalidParameterError(
            "The 'learning_rate' parameter of rprop is its first step size and must be > 0 at "
            f"step 0; the schedule gives {show(first)} (a warm-up from 0?)."
        )
    with np.errstate(over="ignore"):
        ratio = np.minimum(np.divide(step_size, first), np.finfo(np.float64).max)
    return float(ratio) if np.ndim(ratio) == 0 else ratio


@hyperparameter_rules(HYPERPARAMETER_RULES)
def lion(
    learning_rate: LearningRate,
    b1: Hyper = 0.9,
    b2: Hyper = 0.99,
    weight_decay: Hyper = 1e-3,
) -> GradientTransformation:
    """Lion: step by the sign of an interpolated momentum (Optax's ``lion``).

    Legend: alpha = learning_rate, beta1 = b1, beta2 = b2, lambda = weight_decay.

        c = beta1 * v + (1 - beta1) * dW
        W = W - alpha * (sign(c) + lambda * W)  (decoupled weight decay)
        v = beta2 * v + (1 - beta2) * dW

    Every step has size alpha in every coordinate, so Lion's learning rate is typically
    3-10 times smaller than AdamW's (and its weight decay as much larger). The defaults and
    formulas match Optax's ``optax.lion`` (Chen et al. 2023).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha.
        b1: beta1 in [0, 1), how much momentum goes into the direction.
        b2: beta2 in [0, 1), the decay of the momentum v.
        weight_decay: lambda >= 0, decoupled (added after the sign, times alpha).

    Returns:
        A GradientTransformation; its state is ``(ScaleByLionState, EmptyState,
        ScaleByLearningRateState)``.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, lion
        >>> opt = lion(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4)
        array([ 0.6997, -1.6994])

    References:
        Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu, Le, "Symbolic discovery
        of optimization algorithms", NeurIPS 2023.
    """
    return chain(
        _scale_by_lion(b1, b2),
        _add_decayed_weights(weight_decay),
        _scale_by_learning_rate(learning_rate),
    )


# ----------------------------------------------------------------------------- schedule-free


def _warmed(learning_rate: LearningRate, warmup_steps: int) -> LearningRate:
    """``learning_rate`` after a linear warm-up from 0 over ``warmup_steps`` steps (none for 0;
    none for reduce_on_plateau either, which the schedule-free averaging refuses by name)."""
    if warmup_steps == 0 or isinstance(learning_rate, ReduceOnPlateau):
        return learning_rate
    from descentlab.schedules import linear_warmup  # schedules imports this package

    return linear_warmup(learning_rate, warmup_steps)


@hyperparameter_rules(HYPERPARAMETER_RULES, b1=AVERAGING_B1)
def schedule_free_adamw(
    learning_rate: LearningRate,
    warmup_steps: int = 0,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.0,
    weight_lr_power: Hyper = 2.0,
) -> GradientTransformation:
    """Schedule-free AdamW: no decaying schedule; train at y, evaluate at the average x.

    Legend: alpha_t = learning_rate (after the warm-up), beta1 = b1, beta2 = b2, epsilon =
    eps, lambda = weight_decay, p = weight_lr_power, t = the step being taken (from 1).
    The gradients dW are taken at y (the parameters the training loop holds); z starts at
    the parameters, x is recovered from y and z.

        s = beta2 * s + (1 - beta2) * dW**2
        z = z - alpha_t * (dW / (sqrt(s / (1 - beta2**t)) + epsilon) + lambda * y)
        c = alpha_max**p / (sum of alpha_max**p so far),  alpha_max = max(alpha_1, ...)
        x = (1 - c) * x + c * z                 (with a constant rate, the average of the z's)
        y = (1 - beta1) * z + beta1 * x

    Evaluate at x: the training loop does (``TrainResult.params`` is x,
    ``TrainResult.train_params`` is y; resume from ``TrainResult.resume_params``). The
    defaults and arithmetic match Optax's ``optax.contrib.schedule_free_adamw``: its averaging
    weight reads a schedule one step ahead of the base step (alpha_{t+1}); with a constant
    rate that makes no difference. ``warmup_steps`` W ramps the rate linearly from 0
    (``alpha_t = alpha * t / W`` for t < W, counting from 0), as Optax's.

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha (Optax's default is 0.0025).
        warmup_steps: W, an int in [0, 2**53]; 0 for no warm-up.
        b1: beta1 in (0, 1), the interpolation between z and x (0 is not allowed: x is
            recovered by dividing by it).
        b2: beta2 in [0, 1), the decay of the second moment s.
        eps: epsilon >= 0, added to the square root (outside it).
        weight_decay: lambda >= 0, decoupled (evaluated at y, times alpha).
        weight_lr_power: p in [0, 16]; larger p weights later (post-warm-up) steps more.

    Returns:
        A GradientTransformation; its state is ``(ScaleByRmsState, EmptyState,
        ScaleByLearningRateState, ScheduleFreeState)``: s, nothing for the weight decay, the
        step count and rate, then z and the averaging weights (its ``eval_params`` gives x).

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, evaluation_params
        >>> from descentlab.optimizers import schedule_free_adamw
        >>> opt = schedule_free_adamw(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4), evaluation_params(state, params)["x"].round(4)
        (array([ 0.7968, -1.7933]), array([ 0.8061, -1.8029]))

    References:
        Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The road less scheduled",
        NeurIPS 2024.
    """
    rate = _warmed(learning_rate, warmup_steps)
    return chain(
        _scale_by_rms(b2, eps, False, True),
        _add_decayed_weights(weight_decay),
        _scale_by_learning_rate(rate),
        _scale_by_schedule_free(rate, b1, weight_lr_power, "schedule_free_adamw"),
    )


@hyperparameter_rules(HYPERPARAMETER_RULES, b1=AVERAGING_B1)
def schedule_free_sgd(
    learning_rate: LearningRate,
    warmup_steps: int = 0,
    b1: Hyper = 0.9,
    weight_decay: Hyper = 0.0,
    weight_lr_power: Hyper = 2.0,
) -> GradientTransformation:
    """Schedule-free SGD: gradient steps on z, evaluated at their weighted average x.

    Legend: as :func:`schedule_free_adamw`.

        z = z - alpha_t * (dW + lambda * y)     (coupled weight decay, at y)
        c = alpha_max**p / (sum of alpha_max**p so far)
        x = (1 - c) * x + c * z
        y = (1 - beta1) * z + beta1 * x

    Evaluate at x (the training loop does; see :func:`schedule_free_adamw`). The defaults
    and arithmetic match Optax's ``optax.contrib.schedule_free_sgd`` (whose
    ``weight_decay=None`` is our 0).

    Args:
        learning_rate: alpha, a float in (0, 1e4], an array (K,) of them, or a schedule
            step -> alpha (Optax's default is 1.0).
        warmup_steps: W, an int in [0, 2**53]; 0 for no warm-up.
        b1: beta1 in (0, 1), the interpolation between z and x.
        weight_decay: lambda >= 0.
        weight_lr_power: p in [0, 16].

    Returns:
        A GradientTransformation; its state is ``(EmptyState, ScaleByLearningRateState,
        ScheduleFreeState)``.

    Example:
        >>> import numpy as np
        >>> from descentlab.optimizers import apply_updates, evaluation_params
        >>> from descentlab.optimizers import schedule_free_sgd
        >>> opt = schedule_free_sgd(learning_rate=0.1)
        >>> params = {"x": np.array([1.0, -2.0])}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["x"].round(4), evaluation_params(state, params)["x"].round(4)
        (array([ 0.631 , -1.2621]), array([ 0.6459, -1.2917]))

    References:
        Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The road less scheduled",
        NeurIPS 2024.
    """
    rate = _warmed(learning_rate, warmup_steps)
    return chain(
        _add_decayed_weights(weight_decay),
        _scale_by_learning_rate(rate),
        _scale_by_schedule_free(rate, b1, weight_lr_power, "schedule_free_sgd"),
    )


OPTIMIZERS: dict[str, Callable[..., GradientTransformation]] = {
    "gd": gd,
    "momentum": momentum,
    "sgd": sgd,
    "nesterov": nesterov,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adam": adam,
    "adamw": adamw,
    "nadam": nadam,
    "nadamw": nadamw,
    "radam": radam,
    "adamax": adamax,
    "adadelta": adadelta,
    "rprop": rprop,
    "lion": lion,
    "schedule_free_adamw": schedule_free_adamw,
    "schedule_free_sgd": schedule_free_sgd,
}
"""The named optimizers by name, for configs and the command line."""


def get_optimizer(name: str, **hyperparameters: Any) -> GradientTransformation:
    """Build the named optimizer: ``get_optimizer("adam", learning_rate=0.01, b1=0.8)``.

    Args:
        name: a key of :data:`OPTIMIZERS` (``gd``, ``momentum``, ``sgd``, ``nesterov``,
            ``rmsprop``, ``adagrad``, ``adam``, ``adamw``, ``nadam``, ``nadamw``, ``radam``,
            ``adamax``, ``adadelta``, ``rprop``, ``lion``, ``schedule_free_adamw``,
            ``schedule_free_sgd``); case and ``-``/``_`` are forgiven.
        **hyperparameters: the optimizer's arguments; ``learning_rate`` is required.

    Returns:
        The optimizer's GradientTransformation.

    Raises:
        InvalidParameterError: unknown name, unknown or missing hyperparameter, bad value.

    Example:
        >>> import numpy as np
        >>> get_optimizer("adam", learning_rate=0.01).init({"W1": np.zeros((2, 3))})[1].count
        0
    """
    return call_registered(OPTIMIZERS, "optimizer", name, hyperparameters, word="hyperparameter")
