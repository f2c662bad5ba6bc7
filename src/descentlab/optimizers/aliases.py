"""Named optimizers: short chains of the transforms in :mod:`descentlab.optimizers.transforms`.

Notation (the seed's): ``W`` a parameter array, ``dW`` its gradient, ``alpha`` the learning
rate, ``v`` the first moment or velocity, ``s`` the second moment, ``t`` the step being taken
(counting from 1). Every array may carry a leading population axis of size K, and every
numeric hyperparameter may then be an array of shape ``(K,)`` (one value per member).
``learning_rate`` may also be a schedule ``step -> alpha`` (see :mod:`descentlab.schedules`),
called with the number of updates done so far.

Each optimizer is checked step for step against its PyTorch counterpart
(``tests/test_torch_equivalence.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from descentlab._validation import InvalidParameterError
from descentlab.optimizers.base import GradientTransformation, as_hyperparameter, chain
from descentlab.optimizers.transforms import (
    NON_NEGATIVE,
    POSITIVE,
    UNIT_CLOSED,
    UNIT_OPEN,
    Hyper,
    Schedule,
    _check_flag,
    _check_nesterov,
    add_decayed_weights,
    ema,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)

__all__ = [
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

# Argument text, written once and filled into each docstring's ``Args:`` section.
_ARGS = {
    "learning_rate": "learning_rate: alpha > 0, a number, an array (K,) or a schedule step -> alpha.",
    "beta": "beta: the velocity's decay, in [0, 1); 0 gives plain gradient descent.",
    "momentum": "momentum: mu in [0, 1); 0 switches momentum off.",
    "dampening": "dampening: tau in [0, 1], scales the new gradient by (1 - tau) after step 1.",
    "nesterov": "nesterov: Nesterov momentum (PyTorch's form); needs mu > 0 and tau = 0.",
    "decay": "decay: rho in [0, 1), the decay of the average of squared gradients.",
    "eps": "eps: added to the square root (outside it), >= 0.",
    "eps_root": "eps_root: added to s_corrected inside the square root, >= 0.",
    "centered": "centered: divide by an estimate of the variance instead of s.",
    "initial_accumulator_value": "initial_accumulator_value: G at the start, >= 0.",
    "b1": "b1: beta1 in [0, 1), the decay of the first moment.",
    "b2": "b2: beta2 in [0, 1), the decay of the second moment.",
    "amsgrad": "amsgrad: divide by the running maximum of s (Reddi et al.).",
    "weight_decay": "weight_decay: lambda >= 0.",
}
_RETURNS = "    Returns:\n        A GradientTransformation; its state keeps the step count and the moments.\n"


def _documented(*names: str) -> Callable[[Callable], Callable]:
    """Fill the ``Args:``/``Returns:`` sections of a docstring from the shared texts above."""

    def decorate(fn: Callable) -> Callable:
        lines = "".join(f"        {_ARGS[n]}\n" for n in names)
        fn.__doc__ = fn.__doc__.replace("    Args:\n", "    Args:\n" + lines + "\n" + _RETURNS, 1)
        return fn

    return decorate


def _learning_rate(owner: str, value: Any) -> LearningRate:
    """Check ``learning_rate``: a schedule (any callable), or a number / (K,) array > 0."""
    if callable(value):
        return value
    try:
        return as_hyperparameter(owner, "learning_rate", value, POSITIVE)
    except InvalidParameterError as err:
        raise InvalidParameterError(
            f"{err} A schedule (a callable step -> learning rate) is accepted too."
        ) from None


def _check(owner: str, rules: dict[str, tuple[Any, Any]]) -> None:
    """Check each ``name: (value, rule)`` in the name of optimizer ``owner``."""
    for name, (value, rule) in rules.items():
        as_hyperparameter(owner, name, value, rule)


@_documented("learning_rate")
def gd(learning_rate: LearningRate) -> GradientTransformation:
    """Gradient descent: step against the gradient, seed rule (1)-(2).

    Legend: alpha = learning_rate.

        W = W - alpha * dW

    Stateless apart from the step count (for schedules); same as PyTorch's ``SGD(lr)``.

    Args:
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
    return chain(scale_by_learning_rate(_learning_rate("gd", learning_rate)))


@_documented("learning_rate", "beta")
def momentum(learning_rate: LearningRate, beta: Hyper = 0.9) -> GradientTransformation:
    """Momentum as in the seed, rules (3)-(4): an exponentially weighted average of gradients.

    Legend: alpha = learning_rate, beta = beta; v starts at 0 and is not bias-corrected.

        v = beta * v + (1 - beta) * dW
        W = W - alpha * v

    Momentum comes before the learning rate (v holds no alpha). The defaults match the seed.
    This is not PyTorch's ``SGD(momentum=...)`` (see :func:`sgd`), whose first step is ``v = dW``
    and whose new gradients are not scaled by ``1 - beta``.

    Args:
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
    owner = "momentum"
    lr = _learning_rate(owner, learning_rate)
    _check(owner, {"beta": (beta, UNIT_OPEN)})
    return chain(ema(beta), scale_by_learning_rate(lr))


@_documented("learning_rate", "momentum", "dampening", "nesterov", "weight_decay")
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
    return _sgd("sgd", learning_rate, momentum, dampening, nesterov, weight_decay)


def _sgd(
    owner: str, learning_rate: Any, mu: Any, tau: Any, nesterov: Any, weight_decay: Any
) -> GradientTransformation:
    lr = _learning_rate(owner, learning_rate)
    _check(
        owner,
        {
            "momentum": (mu, UNIT_OPEN),
            "dampening": (tau, UNIT_CLOSED),
            "weight_decay": (weight_decay, NON_NEGATIVE),
        },
    )
    _check_nesterov(owner, mu, tau, nesterov)
    return chain(
        add_decayed_weights(weight_decay),
        trace(mu, dampening=tau, nesterov=nesterov),
        scale_by_learning_rate(lr),
    )


@_documented("learning_rate", "momentum")
def nesterov(learning_rate: LearningRate, momentum: Hyper = 0.9) -> GradientTransformation:
    """Nesterov momentum: :func:`sgd` with ``nesterov=True`` (PyTorch's form).

    Legend: alpha = learning_rate, mu = momentum.

        v = dW  (first step),   v = mu * v + dW  (later steps)
        W = W - alpha * (dW + mu * v)

    Momentum comes before the learning rate. Matches PyTorch's
    ``SGD(lr, momentum, nesterov=True)``.

    Args:
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
    return _sgd("nesterov", learning_rate, momentum, 0.0, True, 0.0)


@_documented("learning_rate", "decay", "eps", "momentum", "centered", "weight_decay")
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
    owner = "rmsprop"
    lr = _learning_rate(owner, learning_rate)
    _check(
        owner,
        {
            "decay": (decay, UNIT_OPEN),
            "eps": (eps, NON_NEGATIVE),
            "momentum": (momentum, UNIT_OPEN),
            "weight_decay": (weight_decay, NON_NEGATIVE),
        },
    )
    centered = _check_flag(owner, "centered", centered)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_rms(decay, eps, centered=centered),
        trace(momentum),
        scale_by_learning_rate(lr),
    )


@_documented("learning_rate", "eps", "initial_accumulator_value", "weight_decay")
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
    owner = "adagrad"
    lr = _learning_rate(owner, learning_rate)
    _check(
        owner,
        {
            "eps": (eps, NON_NEGATIVE),
            "initial_accumulator_value": (initial_accumulator_value, NON_NEGATIVE),
            "weight_decay": (weight_decay, NON_NEGATIVE),
        },
    )
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_adagrad(initial_accumulator_value, eps),
        scale_by_learning_rate(lr),
    )


@_documented("learning_rate", "b1", "b2", "eps", "eps_root", "amsgrad", "weight_decay")
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
    owner = "adam"
    lr = _learning_rate(owner, learning_rate)
    _check_adam(owner, b1, b2, eps, weight_decay, eps_root=eps_root)
    amsgrad = _check_flag(owner, "amsgrad", amsgrad)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_adam(b1, b2, eps, eps_root, amsgrad=amsgrad),
        scale_by_learning_rate(lr),
    )


def _check_adam(owner: str, b1: Any, b2: Any, eps: Any, weight_decay: Any, **more: Any) -> None:
    rules = {"b1": (b1, UNIT_OPEN), "b2": (b2, UNIT_OPEN), "eps": (eps, NON_NEGATIVE)}
    rules.update({name: (v, NON_NEGATIVE) for name, v in more.items()})
    rules["weight_decay"] = (weight_decay, NON_NEGATIVE)
    _check(owner, rules)


@_documented("learning_rate", "b1", "b2", "eps", "weight_decay", "amsgrad")
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
    owner = "adamw"
    lr = _learning_rate(owner, learning_rate)
    _check_adam(owner, b1, b2, eps, weight_decay)
    amsgrad = _check_flag(owner, "amsgrad", amsgrad)
    return chain(
        scale_by_adam(b1, b2, eps, amsgrad=amsgrad),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(lr),
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
            ``rmsprop``, ``adagrad``, ``adam``, ``adamw``).
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
    if name not in OPTIMIZERS:
        raise InvalidParameterError(
            f"Unknown optimizer {name!r}; the known optimizers are {', '.join(OPTIMIZERS)}."
        )
    factory = OPTIMIZERS[name]
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise InvalidParameterError(
            f"Unknown hyperparameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for optimizer {name!r}; it accepts {', '.join(accepted)}."
        )
    missing = [
        p
        for p, spec in accepted.items()
        if spec.default is inspect.Parameter.empty and p not in hyperparameters
    ]
    if missing:
        raise InvalidParameterError(
            f"Optimizer {name!r} needs {', '.join(map(repr, missing))}; it accepts "
            f"{', '.join(accepted)}."
        )
    return factory(**hyperparameters)
