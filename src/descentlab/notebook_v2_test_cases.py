"""The later edition's ``testCases``: the inputs its cells hand to the functions they check.

The later edition's notebook imports ``from testCases import *`` (and ``public_tests``) and its
cells begin with calls such as
``parametersi, grads, vi, si, t, learning_rate, beta1, beta2, epsilon =
update_parameters_with_adam_test_case()``. Paste those cells after::

    from descentlab.notebook_v2 import *
    from descentlab.notebook_v2_test_cases import *

and they print the edition's "Expected values" (``tests/test_notebook_editions.py`` checks them).

The recipe is the seed's (:mod:`descentlab.notebook_test_cases`): ``np.random.seed(1)``, then
``randn`` for ``W1, b1, W2, b2`` (and ``dW1, db1, dW2, db2``). The later edition changed
shapes and hyperparameters, case by case:

========================================  ===========  ===========  ==========================
case                                      ``W1``       ``W2``       also returns
========================================  ===========  ===========  ==========================
``update_parameters_with_gd_test_case``   (2, 3)       (3, 2)       ``learning_rate = 0.01``
``initialize_velocity_test_case``         (3, 2)       (3, 3)
``update_parameters_with_momentum_...``   (2, 3)       (3, 2)       ``v`` zeros
``initialize_adam_test_case``             (2, 3)       (3, 2)
``update_parameters_with_adam_test_case`` (2, 3)       (3, 2)       ``v, s`` zeros, ``t = 2``,
                                                                    ``learning_rate = 0.02``,
                                                                    ``beta1 = 0.8``,
                                                                    ``beta2 = 0.888``,
                                                                    ``epsilon = 1e-2``
========================================  ===========  ===========  ==========================

These are the edition's latest revision, whose printed "Expected values" the cells show. An
earlier revision kept the seed's ``W2`` (3, 3) with the same Adam hyperparameters: its arrays
are the seed's :func:`descentlab.notebook_test_cases.update_parameters_with_adam_test_case`.
``random_mini_batches_test_case`` is unchanged (the seed module's own, listed here so that one
import serves the edition).

>>> case = update_parameters_with_adam_test_case()
>>> case[0]["W2"].shape, case[2]["dW2"].shape, case[4:]
((3, 2), (3, 2), (2, 0.02, 0.8, 0.888, 0.01))
"""

from __future__ import annotations

from descentlab.notebook_test_cases import (
    _draw_parameters,
    _draw_parameters_and_grads,
    _zeros_like_grads,
    random_mini_batches_test_case,
)

__all__ = [
    "initialize_adam_test_case",
    "initialize_velocity_test_case",
    "random_mini_batches_test_case",
    "update_parameters_with_adam_test_case",
    "update_parameters_with_gd_test_case",
    "update_parameters_with_momentum_test_case",
]

# (W1 shape, W2 shape) of the update cases and of initialize_adam's.
_SHAPES = ((2, 3), (3, 2))
# initialize_velocity's case alone has W1 (3, 2), W2 (3, 3).
_VELOCITY_SHAPES = ((3, 2), (3, 3))
# Exercise 6's Adam step: t, learning_rate, beta1, beta2, epsilon.
_ADAM_SETTINGS = (2, 0.02, 0.8, 0.888, 1e-2)


def update_parameters_with_gd_test_case():
    """Exercise 1's case: ``parameters, grads, learning_rate`` with ``learning_rate = 0.01``."""
    parameters, grads = _draw_parameters_and_grads(*_SHAPES)
    return parameters, grads, 0.01


def initialize_velocity_test_case():
    """Exercise 3's case: the parameters ``W1`` (3, 2), ``b1`` (3, 1), ``W2`` (3, 3), ``b2`` (3, 1)."""
    return _draw_parameters(*_VELOCITY_SHAPES)


def update_parameters_with_momentum_test_case():
    """Exercise 4's case: ``parameters, grads, v`` with ``v`` all zeros (keys ``dW1, ...``)."""
    parameters, grads = _draw_parameters_and_grads(*_SHAPES)
    return parameters, grads, _zeros_like_grads(parameters)


def initialize_adam_test_case():
    """Exercise 5's case: the parameters ``W1`` (2, 3), ``b1`` (2, 1), ``W2`` (3, 2), ``b2`` (3, 1)."""
    return _draw_parameters(*_SHAPES)


def update_parameters_with_adam_test_case():
    """Exercise 6's case, and the step it takes.

    Returns:
    parameters, grads, v, s, t, learning_rate, beta1, beta2, epsilon -- ``v`` and ``s`` all
    zeros; ``t = 2``, ``learning_rate = 0.02``, ``beta1 = 0.8``, ``beta2 = 0.888``,
    ``epsilon = 1e-2``
    """
    parameters, grads = _draw_parameters_and_grads(*_SHAPES)
    moments = _zeros_like_grads(parameters), _zeros_like_grads(parameters)
    return (parameters, grads, *moments, *_ADAM_SETTINGS)
