"""Schedule-free averaging (Defazio et al. 2024): train at one point, evaluate at another.

A schedule-free optimizer keeps three sequences: ``z``, where a base optimizer takes its steps;
``x``, a weighted average of the ``z`` (where the model is *evaluated*); and ``y``, between the
two, where the gradients are *taken* (the parameters the training loop holds)::

    y = (1 - beta1) * z + beta1 * x

:func:`scale_by_schedule_free` goes at the end of a chain whose earlier transforms compute the
base step on ``z`` (with the learning rate); it keeps ``z`` and turns that step into the step
of ``y``. Its state's :meth:`~ScheduleFreeState.eval_params` maps ``y`` to ``x``, so the
training loop evaluates, reports and returns ``x``
(:func:`~descentlab.optimizers.base.evaluation_params`). :func:`schedule_free` wraps any base
optimizer, as Optax's ``optax.contrib.schedule_free`` does; the named optimizers
``schedule_free_adamw`` and ``schedule_free_sgd`` are in :mod:`descentlab.optimizers.aliases`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from descentlab._validation import DataError, Interval, InvalidParameterError
from descentlab.optimizers.base import (
    GradientTransformation,
    Params,
    broadcast_to_leaf,
    chain,
    check_same_structure,
    with_recipe,
)
from descentlab.optimizers.plateau import ReduceOnPlateau
from descentlab.optimizers.transforms import (
    RATE_OR_SCHEDULE,
    Hyper,
    Schedule,
    _at,
    _check_population,
    _size,
    _zeros,
    hyperparameter_rules,
    safe_increment,
    scheduled_rate,
)

__all__ = [
    "AVERAGING_B1",
    "WEIGHT_LR_POWER",
    "ScheduleFreeState",
    "scale_by_schedule_free",
    "schedule_free",
    "schedule_free_eval_point",
]

AVERAGING_B1 = Interval(0.0, 1.0, closed="neither")
"""(0, 1): schedule-free's interpolation ``beta1`` (``x`` is recovered by dividing by it)."""
WEIGHT_LR_POWER = Interval(0.0, 16.0)
"""[0, 16]: the power of the rate in the averaging weights; at most 16 keeps ``rate**power``
finite for every rate up to :data:`~descentlab.limits.MAX_LEARNING_RATE`."""


def schedule_free_eval_point(y: np.ndarray, z: np.ndarray, b1: Hyper) -> np.ndarray:
    """x = (y - (1 - beta1) * z) / beta1  (the evaluation point, from y and z)."""
    x = y - (1.0 - b1) * z
    x /= b1
    return x


class ScheduleFreeState(NamedTuple):
    """State of :func:`scale_by_schedule_free`: ``z``, the averaging weights, and ``beta1``.

    :meth:`eval_params` maps the training point ``y`` (the parameters) to the evaluation point
    ``x``; the training loop calls it (:func:`~descentlab.optimizers.base.evaluation_params`).
    """

    count: int  # updates done so far: Python int, shape (), one for the whole population
    weight_sum: Hyper  # sum of the averaging weights so far: a float, or (K,) per member
    max_lr: Hyper  # the largest rate seen so far (0 at first): a float, or (K,) per member
    z: Params  # the base optimizer's sequence, shaped like params (params themselves at first)
    b1: Hyper  # beta1, kept so that x can be recovered from y and z: a float, or (K,)

    def eval_params(self, params: Params) -> Params:
        """``x = (y - (1 - beta1) * z) / beta1`` for every leaf ``y`` of ``params``.

        Raises:
          DataError: ``params`` do not have the keys and shapes of ``z`` (the training loop's
            state covers its parameters as one flat vector ``{"theta": (..., P)}``).
        """
        if (
            not isinstance(params, dict)
            or params.keys() != self.z.keys()
            or any(np.shape(y) != np.shape(self.z[k]) for k, y in params.items())
        ):
            shown = (
                {k: np.shape(v) for k, v in params.items()} if isinstance(params, dict) else params
            )
            raise DataError(
                "schedule-free eval_params needs params shaped like the optimizer state's z, "
                f"{ {k: np.shape(v) for k, v in self.z.items()} }; got {shown!r:.120}."
            )
        return {
            k: schedule_free_eval_point(y, self.z[k], broadcast_to_leaf(self.b1, y))
            for k, y in params.items()
        }


@hyperparameter_rules(
    learning_rate=RATE_OR_SCHEDULE, b1=AVERAGING_B1, weight_lr_power=WEIGHT_LR_POWER
)
def scale_by_schedule_free(
    learning_rate: Hyper | Schedule, b1: Hyper = 0.9, weight_lr_power: Hyper = 2.0
) -> GradientTransformation:
    """Schedule-free averaging of a base step (Defazio et al. 2024, Optax's arithmetic).

    Legend: ``u`` = the incoming update (the base optimizer's step of ``z``, learning rate and
    sign included), ``y`` = params, ``beta1`` = ``b1``, ``p`` = ``weight_lr_power``,
    ``alpha_t`` = ``learning_rate`` (a schedule is read at ``t + 1``, ``t`` = updates done,
    as Optax's ``schedule_free`` reads it: one step ahead of the base optimizer's rate; with
    a constant rate there is no difference)::

        alpha_max = max(alpha_max, alpha_t)             (0 at first)
        w = alpha_max**p;   W = W + w;   c = w / W      (c = 0 while W = 0)
        x = (y - (1 - beta1) * z) / beta1               (the evaluation point)
        z = z + u
        x = (1 - c) * x + c * z
        y_new = beta1 * x + (1 - beta1) * z;   output y_new - y

    ``z`` starts at the parameters (then ``x = y = z``). With a constant rate ``c = 1 / t``: x
    is the plain average of the z's. Needs ``params`` at every update.

    Args:
      learning_rate: the base optimizer's rate (a number, an array (K,) or a schedule).
      b1: beta1 in (0, 1).
      weight_lr_power: p in [0, 16].

    Returns:
      the transformation; its state is a :class:`ScheduleFreeState`.
    """
    return _scale_by_schedule_free(learning_rate, b1, weight_lr_power)


def _scale_by_schedule_free(
    learning_rate: Hyper | Schedule, b1: Hyper, power: Hyper, owner: str = "scale_by_schedule_free"
) -> GradientTransformation:
    if isinstance(learning_rate, ReduceOnPlateau):
        raise InvalidParameterError(
            f"The 'learning_rate' parameter of {owner} cannot be {learning_rate!r}: the "
            "schedule-free average weights every step by its rate, which reduce_on_plateau "
            "does not know in advance. Use a constant rate or a schedule."
        )
    schedule = learning_rate if callable(learning_rate) else None
    size = _size(b1, power, None if schedule is not None else learning_rate)

    def init(params: Params) -> ScheduleFreeState:
        _check_population(owner, size, params)
        z = {k: z0 + p for (k, z0), p in zip(_zeros(params).items(), params.values(), strict=True)}
        # the weights' numbers have from the start the shape their updates give them (one per
        # member when the rate or the power is per member), so a state keeps its layout
        rate = learning_rate if schedule is None else scheduled_rate(schedule, 1)
        return ScheduleFreeState(
            count=0, weight_sum=_zero_like(rate, power), max_lr=_zero_like(rate), z=z, b1=b1
        )

    def update(grads: Params, state: ScheduleFreeState, params: Params | None = None):
        if params is None:
            raise _needs_params()
        check_same_structure(grads, state.z)
        rate = learning_rate if schedule is None else scheduled_rate(schedule, state.count + 1)
        max_lr = np.maximum(state.max_lr, rate)
        weight = max_lr**power
        weight_sum = state.weight_sum + weight
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(weight_sum > 0.0, weight / weight_sum, 0.0)  # Optax: 0/0 gives 0
        if np.ndim(c) == 0:
            c, max_lr, weight_sum = float(c), float(max_lr), float(weight_sum)
        z, updates = {}, {}
        for k, u in grads.items():
            y, beta1, ck = params[k], broadcast_to_leaf(b1, u), _at(c, u)
            x = schedule_free_eval_point(y, state.z[k], beta1)
            zk = z[k] = state.z[k] + u
            x *= 1.0 - ck
            x += ck * zk
            y_new = beta1 * x
            y_new += (1.0 - beta1) * zk
            y_new -= y
            updates[k] = y_new
        new = ScheduleFreeState(
            count=safe_increment(state.count), weight_sum=weight_sum, max_lr=max_lr, z=z, b1=b1
        )
        return updates, new

    return with_recipe(
        GradientTransformation(init, update),
        "scale_by_schedule_free",
        learning_rate=learning_rate,
        b1=b1,
        weight_lr_power=power,
    )


def _zero_like(*values: Hyper) -> Hyper:
    """0.0, or zeros ``(K,)`` when one of ``values`` is an array ``(K,)``."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    return 0.0 if shape == () else np.zeros(shape)


def _needs_params() -> DataError:
    return DataError(
        "scale_by_schedule_free needs the current params (the point y the gradients were "
        "taken at); call update(grads, state, params)."
    )


@hyperparameter_rules(
    base_optimizer=None,
    learning_rate=RATE_OR_SCHEDULE,
    b1=AVERAGING_B1,
    weight_lr_power=WEIGHT_LR_POWER,
)
def schedule_free(
    base_optimizer: GradientTransformation,
    learning_rate: Hyper | Schedule,
    b1: Hyper = 0.9,
    weight_lr_power: Hyper = 2.0,
) -> GradientTransformation:
    """Make ``base_optimizer`` schedule-free: ``chain(base_optimizer, scale_by_schedule_free(...))``.

    The base optimizer's updates (with its learning rate) become the steps of ``z``
    (:func:`scale_by_schedule_free`); ``learning_rate`` must be the base optimizer's rate (it
    weights the average). Switch the base optimizer's own momentum off (``adam(lr, b1=0)``,
    ``sgd(lr)``): the averaging takes its place.

    Raises:
      InvalidParameterError: ``base_optimizer`` is not a GradientTransformation, or a bad
        setting (naming it).
    """
    if not isinstance(base_optimizer, GradientTransformation):
        raise InvalidParameterError(
            "The 'base_optimizer' parameter of schedule_free must be a GradientTransformation "
            f"(e.g. descentlab.optimizers.sgd(0.1)). Got {type(base_optimizer).__name__} instead."
        )
    averaging = _scale_by_schedule_free(learning_rate, b1, weight_lr_power, "schedule_free")
    return chain(base_optimizer, averaging)
