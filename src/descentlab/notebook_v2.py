"""The exercise's later edition: "Optimization Methods" as revised after the seed.

descentlab knows two editions of the exercise (the Deep Learning Specialization's
"Optimization Methods" assignment, course 2, week 2):

- the seed's (:mod:`descentlab.notebook`): helpers from ``opt_utils``, ``model`` trains 10000
  epochs and prints the last mini-batch's cost, Adam's epsilon sits inside the square root;
- the later edition (this module): helpers from ``opt_utils_v1a``, tests from
  ``testCases``/``public_tests``, and a section 7 "Learning Rate Decay and Scheduling". It adds
  :func:`update_lr` and :func:`schedule_lr_decay`, and ``model(..., decay=None, decay_rate=1)``
  trains 5000 epochs by default and prints each epoch's average cost. Its
  :func:`update_parameters_with_adam` puts epsilon outside the square root and also returns
  the bias-corrected moments; its :func:`compute_cost` sums over the batch; its
  :func:`backward_propagation` also returns the intermediate ``dz``/``da`` arrays.

Pick the edition by the import line of your notebook: ``from opt_utils import ...`` is the
seed's (``from descentlab.notebook import ...``), ``from opt_utils_v1a import ...`` the later
one (``from descentlab.notebook_v2 import ...``). The functions the later edition left
unchanged (mini-batches, momentum, initialisation, forward pass, prediction, data, plots)
are the seed module's own functions, listed here so that one import serves the edition.
Edition revisions differ only in their test cases (e.g. the ``W2`` of the Adam test case is
``(3, 3)`` in one revision, ``(3, 2)`` in a later one); the functions are the same. The
edition's ``testCases`` helpers are :mod:`descentlab.notebook_v2_test_cases`
(``from descentlab.notebook_v2_test_cases import *``).

Sources (read, not copied): the edition's notebook ``Optimization_methods.ipynb``, its
``opt_utils_v1a.py`` (e.g. github.com/nguyenlinhvn512/Optimization-Methods), ``testCases.py``
and ``public_tests.py``, as published in public copies of the course's repository; the
printed outputs and tables that ``tests/test_notebook_editions.py`` reproduces are quoted
there with their sections.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from descentlab import limits
from descentlab import notebook as _seed_edition
from descentlab._validation import (
    LEARNING_RATE,
    RATE_OR_ZERO,
    STEPS,
    Interval,
    InvalidParameterError,
    check_param,
)
from descentlab.notebook import (
    _adam_step,
    _example_costs,
    _fit,
    _named_optimizer,
    _plot_costs,
    _seed,
    forward_propagation,
    initialize_adam,
    initialize_parameters,
    initialize_velocity,
    load_dataset,
    load_params_and_grads,
    plot_decision_boundary,
    predict,
    predict_dec,
    random_mini_batches,
    update_parameters_with_gd,
    update_parameters_with_momentum,
)
from descentlab.optimizers import adam
from descentlab.optimizers.transforms import bias_correction
from descentlab.schedules import Schedule, fixed_interval_decay, inverse_time_decay

__all__ = [
    "backward_propagation",
    "compute_cost",
    "forward_propagation",
    "initialize_adam",
    "initialize_parameters",
    "initialize_velocity",
    "load_dataset",
    "load_params_and_grads",
    "model",
    "plot_decision_boundary",
    "predict",
    "predict_dec",
    "random_mini_batches",
    "schedule_lr_decay",
    "update_lr",
    "update_parameters_with_adam",
    "update_parameters_with_gd",
    "update_parameters_with_momentum",
]

_EPOCH_NUM = Interval(0, 2**53, integer=True)
_EPOCHS = Interval(1, limits.MAX_EPOCHS, integer=True)


# ----------------------------------------------------------------------------- 5 - Adam
def update_parameters_with_adam(
    parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8
):
    """One Adam step ``t`` (counting from 1), the later edition's form: epsilon outside the root.

    ``v = beta1 v + (1 - beta1) dW``, ``v_corrected = v / (1 - beta1^t)``,
    ``s = beta2 s + (1 - beta2) dW^2``, ``s_corrected = s / (1 - beta2^t)``,
    ``W = W - alpha * v_corrected / (sqrt(s_corrected) + epsilon)`` (and the same for b).
    This is ``descentlab.optimizers.adam(alpha, beta1, beta2, eps=epsilon, eps_root=0)`` —
    PyTorch's and Kingma & Ba's placement; the seed's edition has ``sqrt(s_corrected + epsilon)``.

    Arguments:
    parameters -- dict with ``W1, b1, ..., WL, bL``
    grads -- dict with ``dW1, db1, ..., dWL, dbL``
    v, s -- the moments, dicts keyed like ``grads`` (from :func:`initialize_adam`)
    t -- the step being taken, an int >= 1

    Returns:
    parameters, v, s -- the same dicts, updated
    v_corrected, s_corrected -- new dicts keyed like ``grads``: the bias-corrected moments
    """
    opt = adam(learning_rate, b1=beta1, b2=beta2, eps=epsilon, eps_root=0.0)
    state = _adam_step(parameters, grads, v, s, t, opt)
    v_corrected = _seed({k: bias_correction(m, beta1, state.count) for k, m in state.mu.items()})
    s_corrected = _seed({k: bias_correction(m, beta2, state.count) for k, m in state.nu.items()})
    return parameters, v, s, v_corrected, s_corrected


# ----------------------------------------------------------------------------- opt_utils_v1a
def compute_cost(a3, Y):
    """The SUM of the batch's cross-entropies, ``-sum(Y log(a3) + (1 - Y) log(1 - a3))``.

    Not divided by the batch size: ``model`` adds the mini-batches' sums over an epoch and
    divides by m once. Finite when an output saturates at 0 or 1 (probabilities clipped as in
    the seed's ``compute_cost``, which takes the mean instead).
    """
    return float(np.sum(_example_costs(a3, Y)))


def backward_propagation(X, Y, cache):
    """Gradients of the mean cost from the ``cache`` of :func:`forward_propagation`.

    As ``opt_utils_v1a`` returns them: the parameter gradients ``dW1, db1, ..., dWL, dbL``
    (descentlab's backward pass) and the intermediate arrays of the chain, for a network of
    L layers with outputs ``a1, ..., aL`` (ReLU hidden layers, sigmoid output) and m examples::

        dzL = (aL - Y) / m
        da_l = W_{l+1}.T @ dz_{l+1},   dz_l = da_l * (a_l > 0)     for l = L-1, ..., 1

    so ``dW_l = dz_l @ a_{l-1}.T`` and ``db_l = sum(dz_l, axis=1)``. Keys for the exercise's
    3 layers: ``dz3, dW3, db3, da2, dz2, dW2, db2, da1, dz1, dW1, db1``; shapes: ``dz_l`` and
    ``da_l`` are ``(n_l, m)``.
    """
    grads = _seed_edition.backward_propagation(X, Y, cache)
    L = len(cache) // 4
    a = [cache[4 * l + 1] for l in range(L)]  # a1, ..., aL
    dz = (a[L - 1] - Y) / np.shape(X)[-1]
    out = {f"dz{L}": dz, f"dW{L}": grads[f"dW{L}"], f"db{L}": grads[f"db{L}"]}
    for l in range(L - 1, 0, -1):
        W_next = cache[4 * l + 2]  # W_{l+1}
        da = W_next.T @ dz
        dz = da * (a[l - 1] > 0)
        out |= {f"da{l}": da, f"dz{l}": dz, f"dW{l}": grads[f"dW{l}"], f"db{l}": grads[f"db{l}"]}
    return out


# ----------------------------------------------------------------------------- 7 - learning-rate decay
def update_lr(learning_rate0, epoch_num, decay_rate):
    """Decay at every epoch: ``alpha = alpha0 / (1 + decay_rate * epoch_num)``.

    :func:`descentlab.schedules.inverse_time_decay` at step ``epoch_num``.

    Arguments:
    learning_rate0 -- alpha0, a float in (0, 1e4]
    epoch_num -- the epoch, an int >= 0
    decay_rate -- a float in [0, 1e4]

    Returns:
    learning_rate -- a float

    >>> update_lr(0.5, 2, 1)
    0.16666666666666666
    """
    lr0, epoch, rate = _decay_arguments("update_lr", learning_rate0, epoch_num, decay_rate)
    return inverse_time_decay(lr0, rate)(epoch)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """Decay every ``time_interval`` epochs: ``alpha0 / (1 + decay_rate * floor(epoch_num / T))``.

    :func:`descentlab.schedules.fixed_interval_decay` at step ``epoch_num``; the rate is
    constant over windows of T = ``time_interval`` epochs.

    Arguments:
    learning_rate0 -- alpha0, a float in (0, 1e4]
    epoch_num -- the epoch, an int >= 0
    decay_rate -- a float in [0, 1e4]
    time_interval -- T, an int >= 1

    Returns:
    learning_rate -- a float

    >>> schedule_lr_decay(0.5, 100, 0.3, time_interval=100)
    0.3846153846153846
    """
    owner = "schedule_lr_decay"
    lr0, epoch, rate = _decay_arguments(owner, learning_rate0, epoch_num, decay_rate)
    interval = int(check_param(owner, "time_interval", time_interval, STEPS, allow_array=False))
    return fixed_interval_decay(lr0, rate, interval)(epoch)


def _decay_arguments(owner: str, learning_rate0, epoch_num, decay_rate) -> tuple:
    """The decay functions' arguments, checked, as ``(float, int, float)``."""
    lr0 = check_param(owner, "learning_rate0", learning_rate0, LEARNING_RATE, allow_array=False)
    epoch = check_param(owner, "epoch_num", epoch_num, _EPOCH_NUM, allow_array=False)
    rate = check_param(owner, "decay_rate", decay_rate, RATE_OR_ZERO, allow_array=False)
    return float(lr0), int(epoch), float(rate)


# ----------------------------------------------------------------------------- 7 - the model
def model(
    X,
    Y,
    layers_dims,
    optimizer,
    learning_rate=0.0007,
    mini_batch_size=64,
    beta=0.9,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    num_epochs=5000,
    print_cost=True,
    decay=None,
    decay_rate=1,
):
    """The later edition's 3-layer model: ``"gd"``, ``"momentum"`` or ``"adam"``, with decay.

    The seed's setup (init, mini-batch order, Adam's counter per mini-batch; see
    :func:`descentlab.notebook.model`) with the later edition's changes:

    - 5000 epochs by default; Adam with epsilon outside the root (as
      :func:`update_parameters_with_adam`);
    - the cost printed every 1000 epochs (and plotted every 100) is the epoch's average
      ``cost_avg = (sum over mini-batches of compute_cost) / m``, each mini-batch's cost taken
      before its update;
    - with ``decay`` (e.g. :func:`update_lr` or :func:`schedule_lr_decay`, or any function of
      ``(learning_rate0, epoch_num, decay_rate)``), the rate changes once per epoch: epoch 0
      trains at ``learning_rate0 = learning_rate`` and epoch ``i + 1`` at
      ``decay(learning_rate0, i, decay_rate)``; every 1000 epochs it also prints
      ``learning rate after epoch i``, that next rate.

    The rates of every epoch are computed before training (``decay`` called once per epoch;
    :func:`update_lr` and :func:`schedule_lr_decay` in one call) and become a schedule
    (``descentlab.schedules.Schedule``) of the optimizer, so the compiled engine can run it.

    Returns:
    parameters -- the trained parameters

    Raises:
    InvalidParameterError -- an unknown optimizer, a ``decay`` that is not callable or that
        returns something other than a rate in (0, 1e4], a bad ``num_epochs`` — before
        anything is trained.
    """
    learning_rate0 = check_param(
        "model", "learning_rate", learning_rate, LEARNING_RATE, allow_array=False
    )
    epochs = int(check_param("model", "num_epochs", num_epochs, _EPOCHS, allow_array=False))
    after = _decayed_rates(decay, learning_rate0, decay_rate, epochs)
    rate = (
        learning_rate0 if after is None else _per_epoch(learning_rate0, after, X, mini_batch_size)
    )
    opt = _named_optimizer(optimizer, rate, beta, beta1, beta2, eps=epsilon, eps_root=0.0)

    def report(epoch: int, logs: dict) -> None:
        if print_cost and epoch % 1000 == 0:
            print(f"Cost after epoch {epoch}: {logs['cost']:f}")
            if after is not None:
                print(f"learning rate after epoch {epoch}: {after[epoch]:f}")

    result = _fit(X, Y, layers_dims, opt, mini_batch_size, epochs, report)
    if print_cost:
        final_rate = learning_rate0 if after is None else float(after[-1])
        _plot_costs(result.history.cost[::100], final_rate)
    return result.params


def _decayed_rates(decay, learning_rate0, decay_rate, epochs: int) -> np.ndarray | None:
    """``after[i] = decay(learning_rate0, i, decay_rate)`` for each epoch i, checked; None
    without decay."""
    if decay is None:
        return None
    if not callable(decay):
        raise InvalidParameterError(
            "The 'decay' parameter of model must be None or a function "
            f"(learning_rate0, epoch_num, decay_rate) -> learning_rate. Got {decay!r:.80} instead."
        )
    table = next((whole for f, whole in _TABLES.items() if decay is f), None)
    if table is not None:  # one of ours: its arguments checked once, the rates in one call
        decay(learning_rate0, 0, decay_rate)
        return table(learning_rate0, decay_rate)(np.arange(epochs))
    after = np.empty(epochs)
    for i in range(epochs):
        value = decay(learning_rate0, i, decay_rate)
        if not _is_rate(value):
            raise InvalidParameterError(
                f"The 'decay' parameter of model must return a learning rate, {LEARNING_RATE}, "
                f"at every epoch. decay({learning_rate0!r}, {i}, {decay_rate!r}) returned "
                f"{value!r:.80} instead."
            )
        after[i] = value
    return after


# update_lr and schedule_lr_decay as whole schedules: the same values, computed for every
# epoch at once (tests/test_notebook_editions.py checks them against the one-epoch calls).
_TABLES = {
    update_lr: inverse_time_decay,
    schedule_lr_decay: lambda lr0, rate: fixed_interval_decay(lr0, rate, 1000),
}


def _is_rate(value) -> bool:
    """A real number (not a bool, not an array) in (0, MAX_LEARNING_RATE]."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    return real and LEARNING_RATE.contains(value)


def _per_epoch(learning_rate0, after: np.ndarray, X, mini_batch_size) -> Schedule:
    """The schedule ``step -> rate of the step's epoch``: epoch 0 at ``learning_rate0``, epoch
    ``e >= 1`` at ``after[e - 1]``; ``epoch = step // ceil(m / mini_batch_size)``."""
    rates = np.concatenate(([learning_rate0], after[:-1]))
    per_epoch = _steps_per_epoch(X, mini_batch_size)
    last = len(rates) - 1

    def rate(step):
        return rates[np.minimum(step // per_epoch, last)]

    text = f"per_epoch(learning_rate={learning_rate0!r}, epochs={len(rates)})"
    return Schedule(rate, text, None)


def _steps_per_epoch(X, mini_batch_size) -> int:
    """``ceil(m / mini_batch_size)``, the mini-batches of an epoch; 1 for data or a batch size
    that :func:`descentlab.training.train` refuses (it does so before the first step)."""
    try:
        m = np.shape(X)[-1] if np.ndim(X) == 2 else 0
    except (TypeError, ValueError):  # ragged nested lists: train names the problem
        m = 0
    ok = isinstance(mini_batch_size, int | np.integer) and mini_batch_size >= 1 and m >= 1
    return max(1, math.ceil(m / int(mini_batch_size))) if ok else 1
