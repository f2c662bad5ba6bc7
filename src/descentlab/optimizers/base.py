"""The optimizer protocol: pure gradient transformations over dicts of arrays (Optax's shape).

A :class:`GradientTransformation` is a pair of pure functions::

    state = init(params)
    updates, state = update(grads, state, params)
    params = apply_updates(params, updates)

``params``, ``grads`` and ``updates`` are dicts of NumPy arrays with the same keys and shapes
(``{"W1": (n1, n0), "b1": (n1, 1), ...}``); any array may carry a leading population axis of
size K. Nothing is changed in place: ``update`` returns a new state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np

from descentlab._validation import DataError, InvalidParameterError, Rule, check_param

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "Params",
    "apply_updates",
    "as_hyperparameter",
    "broadcast_to_leaf",
    "chain",
    "check_same_structure",
    "identity",
    "tree_map",
    "tree_zeros_like",
]

Params = dict[str, np.ndarray]
"""A dict of arrays: parameters, gradients, updates or one moment of an optimizer state."""


class InitFn(Protocol):
    def __call__(self, params: Params) -> Any: ...


class UpdateFn(Protocol):
    def __call__(
        self, grads: Params, state: Any, params: Params | None = None
    ) -> tuple[Params, Any]: ...


class GradientTransformation(NamedTuple):
    """A pure optimizer: ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``."""

    init: InitFn
    update: UpdateFn


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


def tree_map(
    fn: Callable[..., np.ndarray], tree: Mapping[str, Any], *rest: Mapping[str, Any]
) -> Params:
    """Apply ``fn`` leaf by leaf: ``{k: fn(tree[k], rest[0][k], ...)}`` (keys of ``tree`` lead)."""
    return {k: fn(v, *(r[k] for r in rest)) for k, v in tree.items()}


def tree_zeros_like(tree: Mapping[str, np.ndarray]) -> Params:
    """A dict of float zeros with the keys and shapes of ``tree``."""
    return {k: np.zeros(np.shape(v), dtype=np.result_type(v, np.float64)) for k, v in tree.items()}


def check_same_structure(
    grads: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], what: str = "grads"
) -> None:
    """Raise :class:`DataError` unless ``grads`` has exactly the keys and shapes of ``params``."""
    if grads.keys() != params.keys():
        missing = sorted(set(params) - set(grads))
        extra = sorted(set(grads) - set(params))
        raise DataError(
            f"{what} must have the same keys as params; missing {missing}, unexpected {extra}."
        )
    for k, p in params.items():
        if np.shape(grads[k]) != np.shape(p):
            raise DataError(
                f"{what}[{k!r}] has shape {np.shape(grads[k])}, but params[{k!r}] has shape "
                f"{np.shape(p)}; they must match."
            )


def broadcast_to_leaf(h: Any, leaf: np.ndarray) -> Any:
    """Shape a per-model hyperparameter so it broadcasts over one leaf.

    A scalar is returned as it is. An array of shape ``(K,)`` (one value per population member)
    becomes ``(K, 1, ..., 1)`` with ``leaf.ndim`` axes, so it scales member k's slice.
    """
    if np.ndim(h) == 0:
        return h
    h = np.asarray(h)
    return h.reshape(h.shape + (1,) * (np.ndim(leaf) - h.ndim))


def as_hyperparameter(owner: str, name: str, value: Any, rule: Rule) -> float | np.ndarray:
    """Check one numeric setting and return it as a ``float`` or a float64 array of shape ``(K,)``.

    An array holds one value per population member; every value must satisfy ``rule``.
    """
    value = check_param(owner, name, value, rule)
    if np.ndim(value) == 0:
        return float(value)
    value = np.asarray(value, dtype=np.float64)
    if value.ndim != 1 or value.size == 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a number or an array of shape (K,), "
            f"one value per population member. Got an array of shape {value.shape} instead."
        )
    return value


def identity() -> GradientTransformation:
    """The transformation that passes gradients through unchanged: ``u = g``."""

    def init(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update(grads: Params, state: EmptyState, params: Params | None = None):
        del params
        return grads, state

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Compose transformations left to right: the updates of one are the gradients of the next.

    The state is the tuple of the inner states, in order.
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(
                f"chain() argument {i} must be a GradientTransformation; got {type(t).__name__}."
            )

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(grads: Params, state: tuple, params: Params | None = None):
        if params is not None:
            check_same_structure(grads, params)
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params: Params, updates: Params) -> Params:
    """Return new parameters ``theta + u`` for every key (the sign lives in the updates)."""
    check_same_structure(updates, params, what="updates")
    return {k: p + updates[k] for k, p in params.items()}
