"""The seed exercise's functions, with its exact names, signatures and behaviour.

"Optimization Methods" (the exercise descentlab grew from) builds gradient descent, mini-batches,
momentum and Adam by hand, with helpers from ``opt_utils``. This module offers the same
functions as thin adapters over descentlab's core (``optimizers``, ``batching``, ``nn``,
``datasets``, ``training``): no second copy of the math. Only here do gradients use the seed's
keys (``"dW1"``, ``"db1"``, ...) and do functions use NumPy's global random state
(``np.random.seed``), because the seed's expected outputs depend on both.

Like the seed, the update functions write the new arrays into the dicts they are given and
return them. The seed's ``testCases`` helpers, which its checking cells call, are
:mod:`descentlab.notebook_test_cases` (``from descentlab.notebook_test_cases import *``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab import batching, datasets
from descentlab._validation import Interval, InvalidParameterError, check_param
from descentlab.batching import SEED_DATA_SEED
from descentlab.nn import MLP
from descentlab.optimizers import adam, apply_updates, gd, momentum
from descentlab.optimizers.transforms import EmaState, ScaleByAdamState
from descentlab.training import train

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
    "update_parameters_with_adam",
    "update_parameters_with_gd",
    "update_parameters_with_momentum",
]


# ----------------------------------------------------------------------------- key conversion
def _core(grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Seed keys ``dW1``/``db1`` -> core keys ``W1``/``b1`` (only the parameter gradients)."""
    return {k[1:]: v for k, v in grads.items() if k[:2] in ("dW", "db")}


def _seed(tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Core keys ``W1``/``b1`` -> seed keys ``dW1``/``db1``."""
    return {"d" + k: v for k, v in tree.items()}


def _layer_keys(parameters: dict[str, np.ndarray]) -> list[str]:
    L = len(parameters) // 2
    return [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]


def _params(parameters: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: parameters[k] for k in _layer_keys(parameters)}


def _write_back(
    target: dict[str, np.ndarray], new: dict[str, np.ndarray], prefix: str = ""
) -> None:
    for k, v in new.items():
        target[prefix + k] = v


def _replace_state(state: tuple, kind: type, **fields: Any) -> tuple:
    """The chain state with the inner state of type ``kind`` given new ``fields``."""
    return tuple(s._replace(**fields) if isinstance(s, kind) else s for s in state)


def _find_state(state: tuple, kind: type) -> Any:
    return next(s for s in state if isinstance(s, kind))


_STEP_T = Interval(1, 2**53, integer=True)  # Adam's t: the step being taken, from 1


# ----------------------------------------------------------------------------- 1 - gradient descent
def update_parameters_with_gd(parameters, grads, learning_rate):
    """One step of gradient descent, seed rules (1)-(2): ``W = W - alpha * dW``, ``b = b - alpha * db``.

    Arguments:
    parameters -- dict with ``W1, b1, ..., WL, bL``
    grads -- dict with ``dW1, db1, ..., dWL, dbL``
    learning_rate -- alpha, a scalar

    Returns:
    parameters -- the same dict, holding the updated arrays
    """
    params = _params(parameters)
    opt = gd(learning_rate)
    updates, _ = opt.update(_core(grads), opt.init(params), params)
    _write_back(parameters, apply_updates(params, updates))
    return parameters


# ----------------------------------------------------------------------------- 2 - mini-batches
def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle ``(X, Y)`` with ``np.random.seed(seed)`` and partition into mini-batches.

    As the seed's, with the correct last batch: ``m - b * floor(m / b)`` examples (148 in
    batches of 64 give 64, 64, 20). Sets NumPy's global seed, as the seed did.

    Arguments:
    X -- input data, of shape (input size, number of examples)
    Y -- true "label" vector, of shape (1, number of examples)
    mini_batch_size -- size of the mini-batches, integer
    seed -- seed of the shuffle

    Returns:
    mini_batches -- list of synchronous (mini_batch_X, mini_batch_Y)
    """
    np.random.seed(seed)
    return batching.random_mini_batches(X, Y, mini_batch_size, seed)


# ----------------------------------------------------------------------------- 3 - momentum
def initialize_velocity(parameters):
    """``v["dW1"], v["db1"], ...``: zeros shaped like ``W1, b1, ...``."""
    return _seed(momentum(1.0).init(_params(parameters))[0].ema)


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """One step of momentum, seed rules (3)-(4).

    ``v_dW = beta * v_dW + (1 - beta) * dW``, ``W = W - alpha * v_dW`` (and the same for b).

    Returns:
    parameters -- the same dict, updated
    v -- the same velocity dict, updated
    """
    params = _params(parameters)
    opt = momentum(learning_rate, beta)
    state = _replace_state(opt.init(params), EmaState, ema=_core(v))
    updates, state = opt.update(_core(grads), state, params)
    _write_back(parameters, apply_updates(params, updates))
    _write_back(v, _find_state(state, EmaState).ema, prefix="d")
    return parameters, v


# ----------------------------------------------------------------------------- 4 - Adam
def initialize_adam(parameters):
    """``v`` and ``s``: zeros shaped like the parameters, with the seed's keys ``dW1, db1, ...``."""
    state = _find_state(adam(1.0).init(_params(parameters)), ScaleByAdamState)
    return _seed(state.mu), _seed(state.nu)


def update_parameters_with_adam(
    parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8
):
    """One Adam step ``t`` (counting from 1), the seed's form with epsilon inside the root.

    ``v = beta1 v + (1 - beta1) dW``, ``v_corrected = v / (1 - beta1^t)``,
    ``s = beta2 s + (1 - beta2) dW^2``, ``s_corrected = s / (1 - beta2^t)``,
    ``W = W - alpha * v_corrected / sqrt(s_corrected + epsilon)``.
    This is ``descentlab.optimizers.adam(alpha, beta1, beta2, eps=0, eps_root=epsilon)``.

    Returns:
    parameters, v, s -- the same dicts, updated
    """
    opt = adam(learning_rate, b1=beta1, b2=beta2, eps=0.0, eps_root=epsilon)
    _adam_step(parameters, grads, v, s, t, opt)
    return parameters, v, s


def _adam_step(parameters, grads, v, s, t, opt) -> ScaleByAdamState:
    """Apply ``opt`` (an ``adam(...)`` chain) as Adam step ``t``, writing into the seed's dicts.

    ``v`` and ``s`` (keys ``dW1, db1, ...``) become the moments after the step and
    ``parameters`` the stepped weights; returns the inner Adam state (count ``t``).
    Shared by every edition's ``update_parameters_with_adam``.

    Raises:
      InvalidParameterError: ``t`` is not a whole number >= 1 (``1 - beta^t`` would be 0 or
        the moments' correction meaningless).
    """
    t = check_param("update_parameters_with_adam", "t", t, _STEP_T, allow_array=False)
    params = _params(parameters)
    state = _replace_state(
        opt.init(params), ScaleByAdamState, count=int(t) - 1, mu=_core(v), nu=_core(s)
    )
    updates, state = opt.update(_core(grads), state, params)
    adam_state = _find_state(state, ScaleByAdamState)
    _write_back(parameters, apply_updates(params, updates))
    _write_back(v, adam_state.mu, prefix="d")
    _write_back(s, adam_state.nu, prefix="d")
    return adam_state


# ----------------------------------------------------------------------------- opt_utils helpers
def load_params_and_grads(seed=1):
    """The seed's test inputs: ``np.random.seed(seed)`` then W1, b1, W2, b2, dW1, db1, dW2, db2 ~ randn."""
    np.random.seed(seed)
    shapes = [(2, 3), (2, 1), (3, 3), (3, 1)] * 2
    return tuple(np.random.randn(*shape) for shape in shapes)


def initialize_parameters(layer_dims):
    """He initialisation as the seed: ``np.random.seed(3)``, ``W = randn * sqrt(2 / n_prev)``, ``b = 0``."""
    np.random.seed(3)
    return MLP(tuple(layer_dims)).init(3, method="seed")


def _net(parameters) -> MLP:
    L = len(parameters) // 2
    dims = [parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, L + 1)]
    return MLP(tuple(dims))


def forward_propagation(X, parameters):
    """LINEAR -> RELU -> ... -> LINEAR -> SIGMOID.

    Returns:
    aL -- the output probabilities, (1, m)
    cache -- the seed's tuple ``(z1, a1, W1, b1, ..., zL, aL, WL, bL)``
    """
    params = _params(parameters)
    aL, layers = _net(params).forward(params, X)
    cache: list[np.ndarray] = []
    for l, (_, Z, A) in enumerate(layers, start=1):
        cache += [Z, A, params[f"W{l}"], params[f"b{l}"]]
    return aL, tuple(cache)


def backward_propagation(X, Y, cache):
    """Gradients of the cost, from the seed's ``cache``: ``{"dW1": ..., "db1": ..., ...}``.

    Only the parameter gradients are returned (the seed also listed its intermediate
    ``dz``/``da`` arrays, which nothing uses).
    """
    L = len(cache) // 4
    params, layers, A_prev = {}, [], X
    for l in range(1, L + 1):
        Z, A, W, b = cache[4 * (l - 1) : 4 * l]
        params[f"W{l}"], params[f"b{l}"] = W, b
        layers.append((A_prev, Z, A))
        A_prev = A
    return _seed(_net(params).backward(params, layers, Y))


def _example_costs(a3, Y):
    """Per-example cross-entropy ``-(Y log(a3) + (1 - Y) log(1 - a3))``, shaped like ``a3``.

    Probabilities are clipped to ``[tiny, 1 - eps/2]`` so that an output of exactly 0 or 1
    gives a large finite cost instead of NaN. Every edition's ``compute_cost`` reduces these.
    """
    tiny = np.finfo(float).tiny
    p = np.clip(a3, tiny, 1.0)
    q = np.clip(1.0 - a3, tiny, 1.0)
    return -(Y * np.log(p) + (1 - Y) * np.log(q))


def compute_cost(a3, Y):
    """Mean cross-entropy ``-(1/m) sum(Y log(a3) + (1 - Y) log(1 - a3))``, finite when saturated
    (see :func:`_example_costs`)."""
    return float(np.mean(_example_costs(a3, Y)))


def predict(X, y, parameters):
    """Predict 0/1 with threshold 0.5, print the accuracy as the seed, return ``p`` (1, m)."""
    params = _params(parameters)
    p = _net(params).predict(params, X)[None, :]
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


def predict_dec(parameters, X):
    """Boolean predictions ``a3 > 0.5``, (1, m) — used to draw the decision boundary."""
    a3, _ = forward_propagation(X, parameters)
    return a3 > 0.5


def _show() -> None:
    """``plt.show()`` where it displays something; never blocks on a headless backend."""
    import matplotlib
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template"):
        plt.show()


def plot_decision_boundary(model, X, y):
    """Fill the plane by ``model`` (rows-as-points -> labels) and scatter ``X`` coloured by ``y``."""
    import matplotlib.pyplot as plt

    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    h = 0.01
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(model(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    plt.ylabel("x2")
    plt.xlabel("x1")
    plt.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral)
    _show()


def load_dataset():
    """The seed's moons: ``np.random.seed(3)``, ``make_moons(300, noise=0.2)``; X (2, 300), Y (1, 300)."""
    import matplotlib.pyplot as plt

    data = datasets.load_moons(use_global_state=True)
    train_X, train_Y = data.X, data.y.reshape(1, -1)
    plt.scatter(train_X[0, :], train_X[1, :], c=train_Y[0], s=40, cmap=plt.cm.Spectral)
    return train_X, train_Y


# ----------------------------------------------------------------------------- 5 - the model
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
    num_epochs=10000,
    print_cost=True,
):
    """The seed's 3-layer model trained with ``"gd"``, ``"momentum"`` or ``"adam"``.

    The seed's setup exactly: ``initialize_parameters`` (He, ``np.random.seed(3)``), mini-batches
    reshuffled each epoch with seeds 11, 12, ... (``seed = 10`` incremented before each epoch),
    Adam's counter ``t`` advanced per mini-batch. A thin call of
    :func:`descentlab.training.train` (engine ``auto``: compiled when it can, the same
    numbers). Prints the last mini-batch's cost every 1000 epochs (as the seed) and plots the
    cost every 100 epochs.

    Returns:
    parameters -- the trained parameters
    """
    opt = _named_optimizer(optimizer, learning_rate, beta, beta1, beta2, eps=0.0, eps_root=epsilon)

    def report(epoch: int, logs: dict) -> None:
        if print_cost and epoch % 1000 == 0:
            print(f"Cost after epoch {epoch}: {logs['last_batch_cost']:f}")

    result = _fit(X, Y, layers_dims, opt, mini_batch_size, num_epochs, report)
    if print_cost:
        _plot_costs(result.history.last_batch_cost[::100], learning_rate)
    return result.params


# ----------------------------------------------------------------------------- shared by the editions
_OPTIMIZERS = ("gd", "momentum", "adam")


def _named_optimizer(optimizer, learning_rate, beta, beta1, beta2, *, eps, eps_root):
    """The exercise's ``optimizer`` name as a descentlab optimizer.

    ``"gd"``: ``gd(alpha)``; ``"momentum"``: ``momentum(alpha, beta)``; ``"adam"``:
    ``adam(alpha, beta1, beta2, eps, eps_root)`` — the editions differ only in where epsilon
    sits (the seed: ``eps_root``; the later edition: ``eps``). ``learning_rate`` may be a
    schedule.
    """
    if not (isinstance(optimizer, str) and optimizer in _OPTIMIZERS):
        raise InvalidParameterError(
            f"The 'optimizer' parameter of model must be one of 'gd', 'momentum', 'adam'. "
            f"Got {optimizer!r:.80} instead."
        )
    if optimizer == "gd":
        return gd(learning_rate)
    if optimizer == "momentum":
        return momentum(learning_rate, beta)
    return adam(learning_rate, b1=beta1, b2=beta2, eps=eps, eps_root=eps_root)


def _fit(X, Y, layers_dims, opt, mini_batch_size, num_epochs, on_epoch):
    """Train the exercise's network as every edition's ``model`` does; a :class:`TrainResult`.

    ``initialize_parameters`` (He, ``np.random.seed(3)``), mini-batches reshuffled each epoch
    with seeds 11, 12, ... (``seed = 10`` incremented before each epoch), the optimizer's
    step counter advanced per mini-batch; :func:`descentlab.training.train` with engine
    ``auto`` (compiled when it can, the same numbers). ``on_epoch(epoch, logs)`` runs after
    each epoch (``logs["cost"]``: the epoch's mean cost, ``logs["last_batch_cost"]``).
    """
    return train(
        MLP(tuple(layers_dims)),
        opt,
        X,
        np.asarray(Y).reshape(-1),
        epochs=num_epochs,
        batch_size=mini_batch_size,
        params=initialize_parameters(layers_dims),
        shuffle="seed",
        data_seed=SEED_DATA_SEED,
        eval_every=num_epochs,
        on_epoch=on_epoch,
        progress=False,
        engine="auto",
    )


def _plot_costs(costs, learning_rate) -> None:
    """The exercise's cost curve: ``costs`` (one per 100 epochs) titled by the learning rate."""
    import matplotlib.pyplot as plt

    plt.plot(costs)
    plt.ylabel("cost")
    plt.xlabel("epochs (per 100)")
    plt.title("Learning rate = " + str(learning_rate))
    _show()
