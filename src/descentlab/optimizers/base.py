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

import itertools
import math
import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from descentlab._validation import DataError, Interval, InvalidParameterError, Rule, check_param

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "Params",
    "Recipe",
    "StackedState",
    "applied_learning_rate",
    "apply_updates",
    "as_hyperparameter",
    "broadcast_to_leaf",
    "chain",
    "check_same_structure",
    "evaluates_elsewhere",
    "evaluation_params",
    "has_observers",
    "identity",
    "learning_rate_reader",
    "observe",
    "recipe_of",
    "stack_optimizers",
    "with_recipe",
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


class Recipe(NamedTuple):
    """What a built-in transformation computes, in data: how the compiled engine re-creates it.

    ``kind`` names the transform (``"scale_by_adam"``, ``"chain"``, ``"stack"``, ...),
    ``settings`` holds its checked hyperparameters (numbers, ``(K,)`` arrays, flags, a
    schedule) and ``parts`` the recipes of the transformations it is made of (``None`` for a
    part without one). Only :func:`with_recipe` makes them.
    """

    kind: str
    settings: dict[str, Any]
    parts: tuple = ()


_RECIPES: weakref.WeakKeyDictionary[Callable, Recipe] = weakref.WeakKeyDictionary()


def with_recipe(
    transform: GradientTransformation, kind: str, parts: tuple = (), **settings: Any
) -> GradientTransformation:
    """Record ``transform``'s :class:`Recipe` (keyed by its ``update`` function) and return it."""
    _RECIPES[transform.update] = Recipe(kind, settings, parts)
    return transform


def recipe_of(transform: Any) -> Recipe | None:
    """The :class:`Recipe` of a transformation built by descentlab, or ``None`` (a custom one)."""
    update = getattr(transform, "update", None)
    try:
        return _RECIPES.get(update)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


class StackedState(NamedTuple):
    """State of :func:`stack_optimizers`: one inner state per block of members."""

    blocks: tuple  # the blocks' states, in block order
    sizes: tuple[int, ...]  # K_s, the number of members of each block


def check_same_structure(
    grads: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], what: str = "grads"
) -> None:
    """Raise :class:`DataError` unless ``grads`` has exactly the keys and shapes of ``params``."""
    if not (grads.__class__ is dict or isinstance(grads, Mapping)) or not (
        params.__class__ is dict or isinstance(params, Mapping)
    ):  # (the dict test first: an ABC's isinstance costs a microsecond on every update)
        raise DataError(
            f"{what} and params must be dicts of arrays with the same keys; got "
            f"{type(grads).__name__} and {type(params).__name__}."
        )
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


def as_hyperparameter(owner: str, name: str, value: Any, rule: Rule) -> Any:
    """Check one setting against ``rule`` and return it in the type the math uses.

    - a real interval: a ``float``, or a float64 array of shape ``(K,)`` (one value per
      population member; every value must satisfy ``rule``);
    - a whole-number interval (``integer=True``): a Python ``int``, one for the whole population;
    - any other rule (a flag, a set of options): the value itself.

    Raises:
      InvalidParameterError: anything else — text, ``None``, a bool for a number, a nested or
        ragged list, a complex number, an int too large for a float — naming ``owner`` and
        ``name``.

    >>> as_hyperparameter("adam", "b1", [0.9, 0.8], Interval(0.0, 1.0, closed="left")).tolist()
    [0.9, 0.8]
    """
    whole = isinstance(rule, Interval) and rule.integer
    try:
        value = check_param(owner, name, value, rule, allow_array=not whole)
    except InvalidParameterError:
        raise
    except (TypeError, ValueError, OverflowError):
        # NumPy could not even compare the value (an int beyond float range in a list, an
        # array given where a flag belongs): the same message, without NumPy's words.
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {rule}. "
            f"Got {value!r:.80} ({type(value).__name__}) instead."
        ) from None
    if not isinstance(rule, Interval):
        return value
    if whole:
        return int(value)
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

    return with_recipe(GradientTransformation(init, update), "identity")


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Compose transformations left to right: the updates of one are the gradients of the next.

    The state is the tuple of the inner states, in order.
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise InvalidParameterError(
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

    parts = tuple(recipe_of(t) for t in transforms)
    return with_recipe(GradientTransformation(init, update), "chain", parts)


def stack_optimizers(
    optimizers: Sequence[GradientTransformation], sizes: Sequence[int]
) -> GradientTransformation:
    """Different optimizers for consecutive blocks of a population, as one transformation.

    With ``sizes = (K_1, ..., K_S)`` and offsets ``o_s = K_1 + ... + K_{s-1}``, members
    ``o_s .. o_s + K_s - 1`` (the leading axis of every leaf) are updated by ``optimizers[s]``::

        u[o_s : o_s + K_s], state_s = optimizers[s].update(g[o_s : o_s + K_s], state_s, theta[...])

    Each block is a basic slice (a view), so a member's update is computed exactly as if its
    block were trained alone; the state is a :class:`StackedState` holding the blocks' states.

    Args:
      optimizers: one transformation per block (its per-member hyperparameters, if any, have
        length ``K_s``).
      sizes: the block sizes ``K_s >= 1``, in order; every leaf needs a leading axis of their sum.

    Returns:
      the stacked transformation.

    >>> from descentlab.optimizers import adam, gd
    >>> opt = stack_optimizers([gd(0.1), adam(0.1)], [1, 2])
    >>> theta = {"w": np.zeros((3, 2))}
    >>> u, _ = opt.update({"w": np.ones((3, 2))}, opt.init(theta), theta)
    >>> u["w"].round(6).tolist()
    [[-0.1, -0.1], [-0.1, -0.1], [-0.1, -0.1]]
    """
    for i, opt in enumerate(optimizers):
        if not isinstance(opt, GradientTransformation):
            raise InvalidParameterError(
                f"stack_optimizers() optimizer {i} must be a GradientTransformation; got "
                f"{type(opt).__name__}."
            )
    if len(optimizers) != len(sizes) or not optimizers:
        raise InvalidParameterError(
            f"stack_optimizers needs one size per optimizer; got {len(optimizers)} optimizers "
            f"and {len(sizes)} sizes."
        )
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in sizes):
        raise InvalidParameterError(f"The block sizes must be ints >= 1. Got {list(sizes)!r}.")
    sizes = tuple(int(n) for n in sizes)
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    blocks = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    total = bounds[-1]

    def part(tree: Params, block: slice) -> Params:
        return {k: v[block] for k, v in tree.items()}

    def check(tree: Params) -> None:
        for k, v in tree.items():
            if np.ndim(v) == 0 or np.shape(v)[0] != total:
                raise DataError(
                    f"stack_optimizers covers {total} members, but [{k!r}] has shape "
                    f"{np.shape(v)}; every array needs a leading population axis of {total}."
                )

    def init(params: Params) -> StackedState:
        check(params)
        states = tuple(opt.init(part(params, b)) for opt, b in zip(optimizers, blocks, strict=True))
        return StackedState(states, sizes)

    def update(
        grads: Params, state: StackedState, params: Params | None = None
    ) -> tuple[Params, StackedState]:
        out = {}
        for k, g in grads.items():
            if g.ndim == 0 or g.shape[0] != total:
                check(grads)
            out[k] = np.empty(g.shape, dtype=np.result_type(g, np.float64))
        new_state = []
        for opt, b, s in zip(optimizers, blocks, state.blocks, strict=True):
            u, s = opt.update(
                {k: g[b] for k, g in grads.items()},
                s,
                None if params is None else {k: p[b] for k, p in params.items()},
            )
            for k, v in u.items():
                out[k][b] = v
            new_state.append(s)
        return out, StackedState(tuple(new_state), sizes)

    parts = tuple(recipe_of(opt) for opt in optimizers)
    return with_recipe(GradientTransformation(init, update), "stack", parts, sizes=sizes)


def applied_learning_rate(state: Any) -> float | np.ndarray:
    """The learning rate an optimizer applied at its last update, read from its state.

    As Optax's ``inject_hyperparams`` does, the state of
    :func:`~descentlab.optimizers.transforms.scale_by_learning_rate` keeps the rate ``alpha_t``
    it applied (a schedule's value included; before the first update, the rate the first
    update will apply). This finds that state — any ``NamedTuple`` state with a
    ``learning_rate`` field — anywhere in a :func:`chain` (the first one found), and for
    :func:`stack_optimizers` joins the blocks' rates into one array ``(K,)``.

    Returns:
      a float, or an array ``(K,)`` with one rate per population member; NaN (or NaN entries)
      for an optimizer without such a state (a custom transformation).

    >>> from descentlab.optimizers import adam, gd
    >>> from descentlab.schedules import exponential_decay
    >>> opt = gd(exponential_decay(1.0, gamma=0.5))
    >>> theta = {"w": np.zeros(2)}
    >>> _, state = opt.update({"w": np.ones(2)}, opt.init(theta), theta)
    >>> _, state = opt.update({"w": np.ones(2)}, state, theta)
    >>> applied_learning_rate(state)
    0.5
    >>> stacked = stack_optimizers([gd(0.1), adam(np.array([0.2, 0.3]))], [1, 2])
    >>> applied_learning_rate(stacked.init({"w": np.zeros((3, 2))})).tolist()
    [0.1, 0.2, 0.3]
    """
    return learning_rate_reader(state)(state)


Reader = Callable[[Any], Any]


def learning_rate_reader(state: Any) -> Reader:
    """A function reading :func:`applied_learning_rate` from states shaped like ``state``.

    Where the rate sits in a nested state is found once, here; the reader then goes straight
    to it (the training engine reads the rate once per epoch, so the search is not repeated).
    """
    found = _reader(state)
    return found if found is not None else (lambda _state: math.nan)


def _reader(state: Any) -> Reader | None:
    """The reader of the first ``learning_rate`` field in ``state``, or None if there is none."""
    if isinstance(state, StackedState):
        parts = [_reader(s) or (lambda _s: math.nan) for s in state.blocks]
        sizes = np.asarray(state.sizes)

        def stacked(s: StackedState) -> np.ndarray:
            rates = [read(block) for read, block in zip(parts, s.blocks, strict=True)]
            if all(r.__class__ is float for r in rates):
                return np.repeat(np.array(rates), sizes)
            return np.concatenate(
                [np.broadcast_to(r, (n,)) for r, n in zip(rates, sizes, strict=True)]
            )

        return stacked
    if isinstance(state, tuple):
        if "learning_rate" in getattr(state, "_fields", ()):
            return operator.attrgetter("learning_rate")
        for i, inner in enumerate(state):
            found = _reader(inner)
            if found is not None:
                return lambda s, i=i, found=found: found(s[i])
    return None


# ------------------------------------------------------------------ states the loop talks to
#
# Two kinds of optimizer state need more from the training loop than ``update``:
#
# - a state with a method ``eval_params(params) -> params`` evaluates elsewhere than where it
#   takes gradients (schedule-free methods: gradients at ``y``, evaluation at ``x``);
# - a state with a method ``observe(value) -> state`` adapts to a measured loss
#   (reduce-on-plateau): ``value`` is a float, or ``(K,)`` for a population.
#
# The two functions below find such states anywhere in a chain or a stack and call them; a
# state without them is passed through. Both are pure: they return new objects.


def _walk(state: Any, visit: Callable[[Any, slice | None], Any], block: slice | None) -> Any:
    """``state`` with ``visit(s, block)`` applied to every state ``s`` that defines a loop hook
    (``block``: the members a :class:`StackedState` block covers, else None); others unchanged."""
    if isinstance(state, StackedState):
        bounds = np.concatenate([[0], np.cumsum(state.sizes)]).astype(int).tolist()
        blocks = tuple(
            _walk(s, visit, slice(a, b))
            for s, (a, b) in zip(state.blocks, itertools.pairwise(bounds), strict=True)
        )
        return StackedState(blocks, state.sizes)
    if hasattr(state, "observe") or hasattr(state, "eval_params"):
        return visit(state, block)
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return tuple(_walk(s, visit, block) for s in state)
    return state


def _finds(state: Any, method: str) -> bool:
    if isinstance(state, StackedState):
        return any(_finds(s, method) for s in state.blocks)
    if hasattr(state, method):
        return True
    return (
        isinstance(state, tuple)
        and not hasattr(state, "_fields")
        and any(_finds(s, method) for s in state)
    )


def evaluates_elsewhere(state: Any) -> bool:
    """Whether some part of ``state`` is evaluated at another point than it trains (see
    :func:`evaluation_params`)."""
    return _finds(state, "eval_params")


def has_observers(state: Any) -> bool:
    """Whether some part of ``state`` adapts to a measured loss (see :func:`observe`)."""
    return _finds(state, "observe")


def observe(state: Any, value: Any) -> Any:
    """Feed a measured loss to every part of ``state`` that adapts to one (reduce-on-plateau).

    Args:
      state: an optimizer state (a chain's tuple, a :class:`StackedState`, ...).
      value: the loss, a float, or an array ``(K,)`` with one value per population member (a
        stacked block sees its members' slice).

    Returns:
      the new state (``state`` itself when nothing in it observes).
    """
    value = np.asarray(value, dtype=float)

    def visit(s: Any, block: slice | None) -> Any:
        if not hasattr(s, "observe"):
            return s
        return s.observe(value if block is None or value.ndim == 0 else value[block])

    return _walk(state, visit, None) if has_observers(state) else state


def evaluation_params(state: Any, params: Params) -> Params:
    """The parameters to evaluate (cost, accuracy, predictions) given the optimizer ``state``.

    ``params`` themselves, except for a schedule-free optimizer, which takes its gradients at
    one point ``y`` (the parameters it trains) and is evaluated at another, its average ``x``:
    such a state's ``eval_params`` maps ``y`` to ``x``. ``params`` may carry the population axis;
    a stacked block maps its members' slice.
    """
    if not evaluates_elsewhere(state):
        return params
    out = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}

    def visit(s: Any, block: slice | None) -> Any:
        if hasattr(s, "eval_params"):
            part = {k: v if block is None else v[block] for k, v in out.items()}
            for k, v in s.eval_params(part).items():
                if block is None:
                    out[k][...] = v
                else:
                    out[k][block] = v
        return s

    _walk(state, visit, None)
    return out


def apply_updates(params: Params, updates: Params) -> Params:
    """Return new parameters ``theta + u`` for every key (the sign lives in the updates)."""
    check_same_structure(updates, params, what="updates")
    return {k: p + updates[k] for k, p in params.items()}
