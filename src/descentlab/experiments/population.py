"""Many training runs as one population: the unit of work of sweeps and benchmarks.

A :class:`Run` is one training run: an optimizer with all its hyperparameters, an optional
learning-rate schedule, the batch size, epochs, architecture, initialisation and the seed.
Runs that share everything that fixes the *shape* of the computation — batch size, epochs,
hidden layers, activation, initialisation method and data order (:meth:`Run.population_key`)
— are trained together by :func:`train_population` as ONE population of K networks in
lock-step (:func:`descentlab.training.train`), whatever their optimizers:

- members with the same optimizer *structure* (name, flags such as ``amsgrad``, schedule
  name and its integer settings: :meth:`Run.segment_key`) form a segment, built once with
  per-member hyperparameter arrays ``(K_s,)`` (learning rate, betas, eps, weight decay,
  schedule rates);
- :func:`~descentlab.optimizers.stack_optimizers` runs the segments side by side on
  consecutive slices of the population axis, so gd, momentum and Adam members share one forward and backward pass.

Member k's numbers equal training run k alone (tests/test_population.py checks this to 1e-12
relative in float64); a run is identified by :meth:`Run.run_id`, a hash of its settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descentlab._validation import InvalidParameterError
from descentlab.experiments.specs import ScheduleSpec, build_optimizer, resolve_hyperparameters
from descentlab.nn import MLP
from descentlab.optimizers.base import GradientTransformation, Params, stack_optimizers
from descentlab.training import train

__all__ = [
    "Run",
    "SplitData",
    "build_run_optimizer",
    "evaluate",
    "train_population",
]


# ----------------------------------------------------------------------------- stacking


# ----------------------------------------------------------------------------- runs


def _plain(value: Any, name: str = "") -> Any:
    """A JSON- and hash-stable value: bools stay bools, lists become lists, the integer
    schedule settings (``steps_per_epoch``, ``decay_steps``, ...) become ints and every
    other number a float (so ``1`` and ``1.0`` name the same configuration)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if isinstance(value, int | np.integer) and name in _INTEGER_SCHEDULE_SETTINGS:
        return int(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return value


@dataclass(frozen=True)
class Run:
    """One training run: what to train, how, and from which seed.

    Attributes:
      optimizer: a key of :data:`descentlab.optimizers.OPTIMIZERS`.
      hyperparameters: every hyperparameter of the optimizer, ``learning_rate`` included
        (completed from the experiment defaults by :func:`resolve_hyperparameters`).
      schedule: a schedule name (:data:`descentlab.schedules.SCHEDULES`) or None (constant).
      schedule_settings: the schedule's settings except the starting rate (the run's
        learning rate) and ``steps_per_epoch`` (mini-batches per epoch unless given).
      batch_size, epochs: mini-batch size and number of epochs.
      layers: hidden layer sizes; the network is ``(n_features, *layers, n_out)``.
      activation: hidden activation.
      init: ``he``, ``xavier`` or ``seed``.
      shuffle: ``random`` (data order from ``default_rng(seed)``), ``seed`` or ``none``.
      seed: the init seed.
      data_seed: the data-order seed; None (the default) uses ``seed``, so one number fixes
        the run (the seed's own run is ``init="seed", seed=3, shuffle="seed", data_seed=10``).
    """

    optimizer: str
    hyperparameters: Mapping[str, Any]
    schedule: str | None = None
    schedule_settings: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    epochs: int = 1000
    layers: tuple[int, ...] = (5, 2)
    activation: str = "relu"
    init: str = "he"
    shuffle: str = "random"
    seed: int = 0
    data_seed: int | None = None

    def __post_init__(self) -> None:
        hyper = resolve_hyperparameters(self.optimizer, self.hyperparameters)
        if "learning_rate" not in hyper:
            raise InvalidParameterError(
                f"Run of {self.optimizer!r} needs a learning_rate among its hyperparameters."
            )
        object.__setattr__(self, "optimizer", self.optimizer.strip().lower().replace("-", "_"))
        object.__setattr__(self, "hyperparameters", {k: _plain(v) for k, v in hyper.items()})
        if self.schedule is not None:
            spec = ScheduleSpec(self.schedule, dict(self.schedule_settings))
            object.__setattr__(self, "schedule", spec.name)
            object.__setattr__(
                self, "schedule_settings", {k: _plain(v, k) for k, v in spec.settings.items()}
            )
        elif self.schedule_settings:
            raise InvalidParameterError("schedule_settings given without a schedule.")
        object.__setattr__(self, "layers", tuple(int(n) for n in self.layers))
        for name in ("batch_size", "epochs", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.data_seed is not None:
            object.__setattr__(self, "data_seed", int(self.data_seed))

    @property
    def learning_rate(self) -> float:
        return float(self.hyperparameters["learning_rate"])

    def settings(self) -> dict[str, Any]:
        """Everything but the seed, as a plain JSON-friendly dict (fixed key order)."""
        return {
            "optimizer": self.optimizer,
            "hyperparameters": dict(self.hyperparameters),
            "schedule": self.schedule,
            "schedule_settings": dict(self.schedule_settings),
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "layers": list(self.layers),
            "activation": self.activation,
            "init": self.init,
            "shuffle": self.shuffle,
        }

    def config_id(self) -> str:
        """A 12-hex-digit hash of :meth:`settings`: the same configuration, any seed."""
        text = json.dumps(self.settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def order_seed(self) -> int:
        """The seed of the data order: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed

    def run_id(self) -> str:
        """``<config_id>-s<seed>`` (``-s<seed>d<data_seed>`` with a separate data seed): the
        identity of this run in results files."""
        tail = "" if self.data_seed is None else f"d{self.data_seed}"
        return f"{self.config_id()}-s{self.seed}{tail}"

    def population_key(self) -> tuple:
        """Runs with equal keys can be trained in one population."""
        return (self.batch_size, self.epochs, self.layers, self.activation, self.init, self.shuffle)

    def segment_key(self) -> tuple:
        """Runs with equal keys share one optimizer built with per-member arrays: the same
        optimizer, flags and other non-numeric settings, schedule and integer schedule settings."""
        fixed = tuple(
            (k, json.dumps(v)) for k, v in self.hyperparameters.items() if not _is_rate(v)
        )
        sched = tuple(
            (k, json.dumps(v)) for k, v in self.schedule_settings.items() if not _is_rate(v, k)
        )
        return (self.optimizer, fixed, self.schedule, sched)

    def to_dict(self) -> dict[str, Any]:
        return {**self.settings(), "seed": self.seed, "data_seed": self.data_seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        data = dict(data)
        data["layers"] = tuple(data.get("layers", (5, 2)))
        return cls(**data)


_INTEGER_SCHEDULE_SETTINGS = ("steps_per_epoch", "decay_steps", "warmup_steps", "boundaries")


def _is_rate(value: Any, name: str = "") -> bool:
    """A float setting that may differ between the members of one population."""
    return (
        isinstance(value, float)
        and not isinstance(value, bool)
        and name not in _INTEGER_SCHEDULE_SETTINGS
    )


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SplitData:
    """Training, validation and test data; ``X`` arrays are ``(n_features, m)``, ``y`` ``(m,)``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[0])

    def layer_dims(self, layers: Sequence[int]) -> tuple[int, ...]:
        """``(n_features, *layers, 1)`` for two classes, ``(..., n_classes)`` for more."""
        return (self.n_features, *layers, 1 if self.n_classes == 2 else self.n_classes)


# ----------------------------------------------------------------------------- training


def _member_values(values: list[Any]) -> Any:
    """One float for the whole block if every member has the same value, else an array (K,).

    A shared value stays a Python float so the transforms take their scalar fast paths (and
    skip work such as weight decay 0 entirely), exactly as a run trained alone does.
    """
    first = values[0]
    if all(v == first for v in values) or not isinstance(first, float):
        return first
    return np.asarray(values, dtype=np.float64)


def _build_segment(runs: Sequence[Run], steps_per_epoch: int) -> GradientTransformation:
    head = runs[0]
    hyper = {k: _member_values([r.hyperparameters[k] for r in runs]) for k in head.hyperparameters}
    schedule = None
    if head.schedule is not None:
        settings = {
            k: _member_values([r.schedule_settings[k] for r in runs])
            for k in head.schedule_settings
        }
        schedule = ScheduleSpec(head.schedule, settings)
    lr = hyper.pop("learning_rate")
    return build_optimizer(head.optimizer, hyper, lr, schedule, steps_per_epoch)


def build_run_optimizer(run: Run, steps_per_epoch: int = 1) -> GradientTransformation:
    """The optimizer of one run alone (its hyperparameters as numbers): checks every value.

    Raises:
      InvalidParameterError: a value out of range (e.g. ``b1 = 1.5``) or a bad schedule.
    """
    return _build_segment([run], steps_per_epoch)


def train_population(
    runs: Sequence[Run],
    data: SplitData,
    *,
    max_cost: float | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``runs`` (all with one :meth:`Run.population_key`) as one population; one row each.

    Members are grouped into optimizer segments (:meth:`Run.segment_key`) stacked with
    :func:`~descentlab.optimizers.stack_optimizers`; member k starts from ``init(seed_k)`` and sees the data in the
    order drawn from ``seed_k``, so its numbers equal training run k alone.

    Args:
      runs: the runs, K >= 1.
      data: training, validation and test data.
      max_cost: a member whose epoch cost exceeds it counts as diverged (the engine's default).
      on_epoch: called with the epoch number (from 0) after every epoch, e.g. for a progress bar.

    Returns:
      per run, in the order given: ``run_id``, ``config_id``, ``seed``, ``train_accuracy``,
      ``val_accuracy``, ``test_accuracy`` (fractions), ``final_cost`` (the last epoch's mean
      mini-batch cost), ``val_cost``, ``test_cost`` (cross-entropy on those sets),
      ``diverged`` (bool), ``stopped_epoch`` (-1 if it ran to the end), ``seconds`` (the
      population's wall time divided by K) and ``status`` (the engine's status).
    """
    if not runs:
        raise InvalidParameterError("train_population needs at least one run.")
    keys = {r.population_key() for r in runs}
    if len(keys) > 1:
        raise InvalidParameterError(
            "train_population takes runs that share batch size, epochs, layers, activation, "
            f"init and shuffle; got {len(keys)} different combinations."
        )
    head = runs[0]
    segments: dict[tuple, list[int]] = {}
    for i, r in enumerate(runs):
        segments.setdefault(r.segment_key(), []).append(i)
    order = [i for members in segments.values() for i in members]
    ordered = [runs[i] for i in order]
    steps = max(1, math.ceil(data.X_train.shape[1] / head.batch_size))
    parts = [_build_segment([runs[i] for i in m], steps) for m in segments.values()]
    optimizer = (
        parts[0]
        if len(parts) == 1
        else stack_optimizers(parts, [len(m) for m in segments.values()])
    )
    net = MLP(data.layer_dims(head.layers), head.activation)
    seeds = [r.seed for r in ordered]
    data_seeds = [r.order_seed for r in ordered]
    start = time.perf_counter()
    result = train(
        net,
        optimizer,
        data.X_train,
        data.y_train,
        epochs=head.epochs,
        batch_size=head.batch_size,
        seed=seeds,
        init=head.init,
        shuffle=head.shuffle,
        data_seed=data_seeds if head.shuffle != "none" else None,
        eval_every=head.epochs,
        progress=False,
        max_cost=max_cost,
        on_epoch=None if on_epoch is None else (lambda epoch, logs: on_epoch(epoch)),
    )
    if result.status == "interrupted":
        raise KeyboardInterrupt
    metrics = evaluate(net, result.params, data)
    seconds = (time.perf_counter() - start) / len(runs)
    final_cost = result.history.cost[-1]
    rows: list[dict[str, Any]] = [{} for _ in runs]
    for k, i in enumerate(order):
        r = runs[i]
        rows[i] = {
            "run_id": r.run_id(),
            "config_id": r.config_id(),
            "seed": r.seed,
            **{name: float(v[k]) for name, v in metrics.items()},
            "final_cost": float(final_cost[k]),
            "diverged": bool(result.diverged[k]),
            "stopped_epoch": int(result.stopped_epoch[k]),
            "seconds": seconds,
            "status": "diverged" if result.diverged[k] else "completed",
        }
    return rows


def evaluate(net: MLP, params: Params, data: SplitData) -> dict[str, np.ndarray]:
    """Accuracy on the three sets and cross-entropy on validation and test, per member ``(K,)``.

    Large populations are measured in blocks of members (about 2**16 member-examples at a
    time), so the memory stays small; each member's numbers are those of one call.
    """
    K = net.check_params(params) or 1
    block = max(
        1, 2**16 // max(1, data.X_train.shape[1], data.X_val.shape[1], data.X_test.shape[1])
    )
    parts: list[dict[str, np.ndarray]] = []
    for a in range(0, K, block):
        sub = params if K <= block else {k: v[a : a + block] for k, v in params.items()}
        parts.append(_evaluate_block(net, sub, data))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _evaluate_block(net: MLP, params: Params, data: SplitData) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for name, X, y in (
            ("train", data.X_train, data.y_train),
            ("val", data.X_val, data.y_val),
            ("test", data.X_test, data.y_test),
        ):
            out[f"{name}_accuracy"] = np.atleast_1d(net.accuracy(params, X, y))
        out["val_cost"] = np.atleast_1d(net.cost(params, data.X_val, net.targets(data.y_val)))
        out["test_cost"] = np.atleast_1d(net.cost(params, data.X_test, net.targets(data.y_test)))
    return out
