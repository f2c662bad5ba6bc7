"""The seed exercise's ``testCases``: the inputs its cells hand to the functions they check.

The seed's notebook starts with ``from testCases import *`` and its checking cells begin with
a call such as ``parameters, grads, learning_rate = update_parameters_with_gd_test_case()``.
Paste those cells after::

    from descentlab.notebook import *
    from descentlab.notebook_test_cases import *

and they print the seed's "Expected Output" blocks (``tests/test_notebook_cells.py`` runs them).
The later edition's revisions are :mod:`descentlab.notebook_v2_test_cases`.

Every case is one recipe: ``np.random.seed(1)`` (NumPy's global state, as the exercise), then
``randn`` draws in the exercise's order ``W1, b1, W2, b2`` and, for the update cases, the
gradients ``dW1, db1, dW2, db2`` of the same shapes. In the seed every case uses
``W1`` (2, 3), ``b1`` (2, 1), ``W2`` (3, 3), ``b2`` (3, 1). Each call draws afresh: a cell run
twice gets the same arrays, and no case shares an array with another.

>>> parameters, grads, learning_rate = update_parameters_with_gd_test_case()
>>> parameters["W2"].shape, grads["db2"].shape, learning_rate
((3, 3), (3, 1), 0.01)
>>> float(parameters["W1"][0, 0])  # the first draw after np.random.seed(1)
1.6243453636632417
"""

# The cases draw from NumPy's global state, as the exercise's: its printed outputs depend on it.

from __future__ import annotations

import numpy as np

__all__ = [
    "initialize_adam_test_case",
    "initialize_velocity_test_case",
    "random_mini_batches_test_case",
    "update_parameters_with_adam_test_case",
    "update_parameters_with_gd_test_case",
    "update_parameters_with_momentum_test_case",
]

_SEED = 1
# (W1 shape, W2 shape) of the seed's cases; b1 and b2 are (rows of W, 1).
_SEED_SHAPES = ((2, 3), (3, 3))


# ----------------------------------------------------------------------------- the recipe
def _layer_shapes(w1_shape, w2_shape) -> dict[str, tuple[int, int]]:
    """``{"W1": w1_shape, "b1": (w1_shape[0], 1), "W2": w2_shape, "b2": (w2_shape[0], 1)}``."""
    return {"W1": w1_shape, "b1": (w1_shape[0], 1), "W2": w2_shape, "b2": (w2_shape[0], 1)}


def _draw_parameters(w1_shape, w2_shape) -> dict[str, np.ndarray]:
    """``np.random.seed(1)``, then ``W1, b1, W2, b2 ~ randn`` of the given shapes."""
    np.random.seed(_SEED)
    return {k: np.random.randn(*shape) for k, shape in _layer_shapes(w1_shape, w2_shape).items()}


def _draw_parameters_and_grads(w1_shape, w2_shape):
    """``np.random.seed(1)``, then ``W1, b1, W2, b2`` and ``dW1, db1, dW2, db2 ~ randn``.

    Returns:
    parameters -- ``{"W1", "b1", "W2", "b2"}``
    grads -- ``{"dW1", "db1", "dW2", "db2"}``, shaped like the parameters
    """
    parameters = _draw_parameters(w1_shape, w2_shape)
    grads = {"d" + k: np.random.randn(*a.shape) for k, a in parameters.items()}
    return parameters, grads


def _zeros_like_grads(parameters) -> dict[str, np.ndarray]:
    """``{"dW1": zeros like W1, "db1": ..., ...}``: the cases' literal zero moments."""
    return {"d" + k: np.zeros(a.shape) for k, a in parameters.items()}


# ----------------------------------------------------------------------------- the seed's cases
def update_parameters_with_gd_test_case():
    """Section 1's case: ``parameters, grads, learning_rate`` with ``learning_rate = 0.01``."""
    parameters, grads = _draw_parameters_and_grads(*_SEED_SHAPES)
    return parameters, grads, 0.01


def random_mini_batches_test_case():
    """Section 2's case: ``np.random.seed(1)``, ``X ~ randn(12288, 148)``,
    ``Y = randn(1, 148) < 0.5`` (booleans) and ``mini_batch_size = 64``.

    Returns:
    X_assess, Y_assess, mini_batch_size
    """
    np.random.seed(_SEED)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    return X, Y, 64


def initialize_velocity_test_case():
    """Section 3's first case: the parameters ``W1, b1, W2, b2`` alone."""
    return _draw_parameters(*_SEED_SHAPES)


def update_parameters_with_momentum_test_case():
    """Section 3's second case: ``parameters, grads, v`` with ``v`` all zeros (keys ``dW1, ...``)."""
    parameters, grads = _draw_parameters_and_grads(*_SEED_SHAPES)
    return parameters, grads, _zeros_like_grads(parameters)


def initialize_adam_test_case():
    """Section 4's first case: the parameters ``W1, b1, W2, b2`` alone."""
    return _draw_parameters(*_SEED_SHAPES)


def update_parameters_with_adam_test_case():
    """Section 4's second case: ``parameters, grads, v, s`` with ``v`` and ``s`` all zeros.

    The cell then takes step ``t = 2`` with the default hyperparameters.
    """
    parameters, grads = _draw_parameters_and_grads(*_SEED_SHAPES)
    return parameters, grads, _zeros_like_grads(parameters), _zeros_like_grads(parameters)
