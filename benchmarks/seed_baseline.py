"""The baseline every speed claim is measured against: the seed's notebook, as it is written.

A plain dict-of-arrays NumPy loop in the style of the "Optimization Methods" exercise and its
``opt_utils`` helpers: ``initialize_parameters`` (He init after ``np.random.seed(3)``),
``forward_propagation`` / ``compute_cost`` / ``backward_propagation`` for the 3-layer
``LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID`` network, ``random_mini_batches``,
``update_parameters_with_gd`` / ``_with_momentum`` / ``_with_adam``, and ``model()`` running
the epochs. One deliberate difference from the exercise: the last mini-batch keeps every
remaining example (``shuffled_X[:, k * b : m]``, not the exercise's ``: -1``), so the baseline
trains on exactly the data descentlab trains on and the two give the same numbers.

Nothing here is imported by descentlab; ``bench_*.py`` time it against the engine.
"""

from __future__ import annotations

import math

import numpy as np


def initialize_parameters(layers_dims, seed=3):
    """He initialisation as the seed: ``np.random.seed(3)``, ``W = randn * sqrt(2 / n_prev)``."""
    np.random.seed(seed)
    parameters = {}
    L = len(layers_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(
            2 / layers_dims[l - 1]
        )
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def forward_propagation(X, parameters):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, returning ``a3`` and the cache."""
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)
    cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    return a3, cache


def compute_cost(a3, Y):
    """Mean cross-entropy ``-(1/m) sum(Y log a3 + (1 - Y) log(1 - a3))``."""
    m = Y.shape[1]
    logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.sum(logprobs)


def backward_propagation(X, Y, cache):
    """Gradients ``dW1 ... db3`` of the mean cross-entropy."""
    m = X.shape[1]
    (_z1, a1, _W1, _b1, _z2, a2, W2, _b2, _z3, a3, W3, _b3) = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {"dz3": dz3, "dW3": dW3, "db3": db3, "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
            "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}  # fmt: skip


def predict(X, parameters):
    """Class 1 where ``a3 > 0.5``; returns ``(1, m)`` 0/1 predictions."""
    a3, _ = forward_propagation(X, parameters)
    return (a3 > 0.5).astype(int)


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffle with ``np.random.seed(seed)``, then partition (last batch keeps the remainder)."""
    np.random.seed(seed)
    m = X.shape[1]
    mini_batches = []
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    for k in range(0, num_complete_minibatches):
        mini_batch_X = shuffled_X[:, k * mini_batch_size : (k + 1) * mini_batch_size]
        mini_batch_Y = shuffled_Y[:, k * mini_batch_size : (k + 1) * mini_batch_size]
        mini_batches.append((mini_batch_X, mini_batch_Y))
    if m % mini_batch_size != 0:
        mini_batch_X = shuffled_X[:, num_complete_minibatches * mini_batch_size : m]
        mini_batch_Y = shuffled_Y[:, num_complete_minibatches * mini_batch_size : m]
        mini_batches.append((mini_batch_X, mini_batch_Y))
    return mini_batches


def update_parameters_with_gd(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = (
            parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        )
        parameters["b" + str(l + 1)] = (
            parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
        )
    return parameters


def initialize_velocity(parameters):
    L = len(parameters) // 2
    v = {}
    for l in range(L):
        v["dW" + str(l + 1)] = np.zeros(parameters["W" + str(l + 1)].shape)
        v["db" + str(l + 1)] = np.zeros(parameters["b" + str(l + 1)].shape)
    return v


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    L = len(parameters) // 2
    for l in range(L):
        v["dW" + str(l + 1)] = beta * v["dW" + str(l + 1)] + (1 - beta) * grads["dW" + str(l + 1)]
        v["db" + str(l + 1)] = beta * v["db" + str(l + 1)] + (1 - beta) * grads["db" + str(l + 1)]
        parameters["W" + str(l + 1)] = (
            parameters["W" + str(l + 1)] - learning_rate * v["dW" + str(l + 1)]
        )
        parameters["b" + str(l + 1)] = (
            parameters["b" + str(l + 1)] - learning_rate * v["db" + str(l + 1)]
        )
    return parameters, v


def initialize_adam(parameters):
    L = len(parameters) // 2
    v = {}
    s = {}
    for l in range(L):
        v["dW" + str(l + 1)] = np.zeros(parameters["W" + str(l + 1)].shape)
        v["db" + str(l + 1)] = np.zeros(parameters["b" + str(l + 1)].shape)
        s["dW" + str(l + 1)] = np.zeros(parameters["W" + str(l + 1)].shape)
        s["db" + str(l + 1)] = np.zeros(parameters["b" + str(l + 1)].shape)
    return v, s


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9,
                                beta2=0.999, epsilon=1e-8):  # fmt: skip
    L = len(parameters) // 2
    v_corrected = {}
    s_corrected = {}
    for l in range(L):
        v["dW" + str(l + 1)] = beta1 * v["dW" + str(l + 1)] + (1 - beta1) * grads["dW" + str(l + 1)]
        v["db" + str(l + 1)] = beta1 * v["db" + str(l + 1)] + (1 - beta1) * grads["db" + str(l + 1)]
        v_corrected["dW" + str(l + 1)] = v["dW" + str(l + 1)] / (1 - beta1**t)
        v_corrected["db" + str(l + 1)] = v["db" + str(l + 1)] / (1 - beta1**t)
        s["dW" + str(l + 1)] = beta2 * s["dW" + str(l + 1)] + (1 - beta2) * np.square(
            grads["dW" + str(l + 1)]
        )
        s["db" + str(l + 1)] = beta2 * s["db" + str(l + 1)] + (1 - beta2) * np.square(
            grads["db" + str(l + 1)]
        )
        s_corrected["dW" + str(l + 1)] = s["dW" + str(l + 1)] / (1 - beta2**t)
        s_corrected["db" + str(l + 1)] = s["db" + str(l + 1)] / (1 - beta2**t)
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * (
            v_corrected["dW" + str(l + 1)] / ((s_corrected["dW" + str(l + 1)] + epsilon) ** 0.5)
        )
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * (
            v_corrected["db" + str(l + 1)] / ((s_corrected["db" + str(l + 1)] + epsilon) ** 0.5)
        )
    return parameters, v, s


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=10000, print_cost=False,
          init_seed=3, data_seed=10):  # fmt: skip
    """The seed's ``model()``: ``init_seed`` and ``data_seed`` are its hard-coded 3 and 10.

    Returns ``(parameters, costs)`` where ``costs`` holds the last mini-batch cost of every
    100th epoch, as the seed records it.
    """
    costs = []
    t = 0
    seed = data_seed
    parameters = initialize_parameters(layers_dims, init_seed)
    if optimizer == "gd":
        pass
    elif optimizer == "momentum":
        v = initialize_velocity(parameters)
    elif optimizer == "adam":
        v, s = initialize_adam(parameters)
    for i in range(num_epochs):
        seed = seed + 1
        minibatches = random_mini_batches(X, Y, mini_batch_size, seed)
        for minibatch in minibatches:
            (minibatch_X, minibatch_Y) = minibatch
            a3, caches = forward_propagation(minibatch_X, parameters)
            cost = compute_cost(a3, minibatch_Y)
            grads = backward_propagation(minibatch_X, minibatch_Y, caches)
            if optimizer == "gd":
                parameters = update_parameters_with_gd(parameters, grads, learning_rate)
            elif optimizer == "momentum":
                parameters, v = update_parameters_with_momentum(
                    parameters, grads, v, beta, learning_rate
                )
            elif optimizer == "adam":
                t = t + 1
                parameters, v, s = update_parameters_with_adam(
                    parameters, grads, v, s, t, learning_rate, beta1, beta2, epsilon
                )
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost))  # noqa: UP031
        if i % 100 == 0:
            costs.append(cost)
    return parameters, costs


def accuracy(X, y, parameters):
    """Fraction of correct predictions; ``y`` is ``(m,)`` or ``(1, m)`` 0/1."""
    return float(np.mean(predict(X, parameters)[0] == np.asarray(y).reshape(-1)))
