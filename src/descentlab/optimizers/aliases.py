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
(``tests/test_torch_equivalence.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from descentlab._validation import (
    FLAG,
    NON_NEGATIVE,
    UNIT_CLOSED,
    UNIT_OPEN,
    Rule,
    call_registered,
)
from descentlab.optimizers.base import GradientTransformation, chain
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
)

__all__ = [
    "HYPERPARAMETER_RULES",
    "OPTIMIZERS",
    "adagrad",
    "adam",
    "adamw",
    "gd",
    "get_optimizer",
    "momentum",
    "nesterov",
    "rmsprop",
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


OPTIMIZERS: dict[str, Callable[..., GradientTransformation]] = {
    "gd": gd,
    "momentum": momentum,
    "sgd": sgd,
    "nesterov": nesterov,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "adam": adam,
    "adamw": adamw,
}
"""The named optimizers by name, for configs and the command line."""


def get_optimizer(name: str, **hyperparameters: Any) -> GradientTransformation:
    """Build the named optimizer: ``get_optimizer("adam", learning_rate=0.01, b1=0.8)``.

    Args:
        name: a key of :data:`OPTIMIZERS` (``gd``, ``momentum``, ``sgd``, ``nesterov``,
            ``rmsprop``, ``adagrad``, ``adam``, ``adamw``); case and ``-``/``_`` are forgiven.
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
