"""Many training runs as one population: the one way experiments train.

A :class:`Run` is one training run: an optimizer with all its hyperparameters, an optional
learning-rate schedule, the batch size, epochs, architecture, initialisation and the seed.
Runs that share everything that fixes the *shape* of the computation — batch size, epochs,
hidden layers, activation, initialisation method and data order (:meth:`Run.population_key`)
— form a :class:`Population`, trained as ONE population of K networks in lock-step
(:func:`descentlab.training.train`), whatever their optimizers. ``compare`` (the optimizers of
one study), ``train``, ``sweep`` and ``benchmark`` (chunks of runs, :func:`train_population`)
and the playground all train through it:

- members with the same optimizer *structure* (name, flags such as ``amsgrad``, schedule
  name and its integer settings: :meth:`Run.segment_key`) form a segment, built once with
  per-member hyperparameter arrays ``(K_s,)`` (learning rate, betas, eps, weight decay,
  schedule rates);
- :func:`~descentlab.optimizers.stack_optimizers` runs the segments side by side on
  consecutive slices of the population axis, so gd, momentum and Adam members share one forward and backward pass.

Member k's numbers equal training run k alone (tests/test_population.py checks this to 1e-12
relative in float64); a run is identified by :meth:`Run.run_id`, a hash of its settings.
Segments are contiguous on the population axis, so members may come in another order than the
runs: :attr:`Population.position` maps a run to its member, and :meth:`Population.member`
gives run i's result as if it had been trained alone.
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

from descentlab._validation import LEARNING_RATE, InvalidParameterError, check_param, normalize_name
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.specs import ScheduleSpec, build_optimizer, resolve_hyperparameters
from descentlab.nn import MLP
from descentlab.optimizers.base import GradientTransformation, Params, stack_optimizers
from descentlab.training import Callback, TrainResult, check_memory, train

__all__ = [
    "Population",
    "Run",
    "build_run_optimizer",
    "engine_message",
    "evaluate",
    "train_population",
]


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
        try:
            return float(value)
        except OverflowError:  # an absurd int: kept, for the optimizer to refuse by name
            return value
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
        check_param(
            f"Run of {self.optimizer}",
            "learning_rate",
            hyper["learning_rate"],
            LEARNING_RATE,
            allow_array=False,
        )
        object.__setattr__(self, "optimizer", normalize_name(self.optimizer))
        flags = {
            k for k, v in resolve_hyperparameters(self.optimizer).items() if isinstance(v, bool)
        }
        plain = {k: v if k in flags else _plain(v) for k, v in hyper.items()}  # flags stay as given
        object.__setattr__(self, "hyperparameters", plain)
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


_INTEGER_SCHEDULE_SETTINGS = (
    "steps_per_epoch",
    "decay_steps",
    "warmup_steps",
    "boundaries",
    "time_interval",
    "total_steps",
    "epochs",
    "period",
    "period_mult",
    "patience",
    "cooldown",
)


def _is_rate(value: Any, name: str = "") -> bool:
    """A float setting that may differ between the members of one population."""
    return isinstance(value, float) and name not in _INTEGER_SCHEDULE_SETTINGS


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
    # the learning rate is among hyper: build_optimizer takes it from there
    return build_optimizer(
        head.optimizer, hyper, schedule=schedule, steps_per_epoch=steps_per_epoch
    )


def build_run_optimizer(run: Run, steps_per_epoch: int = 1) -> GradientTransformation:
    """The optimizer of one run alone (its hyperparameters as numbers): checks every value.

    Raises:
      InvalidParameterError: a value out of range (e.g. ``b1 = 1.5``) or a bad schedule.
    """
    return _build_segment([run], steps_per_epoch)


class Population:
    """Runs that share one :meth:`Run.population_key`, set up to train as one population.

    Members are grouped into optimizer segments (:meth:`Run.segment_key`) stacked with
    :func:`~descentlab.optimizers.stack_optimizers`; member ``position[i]`` is run ``i``. Every
    member starts from ``init(seed_i)`` and sees the data in the order drawn from its data
    seed, so its numbers equal training run i alone; runs that share a seed share the initial
    weights (and, with one data seed for all, one data order: the data is not copied per
    member).

    Attributes:
      runs: the runs, in the order given.
      data: training (validation, test) data.
      net: the network ``(n_features, *layers, n_out)``; MSE (linear output) for regression
        data, else cross-entropy.
      optimizer: the stacked optimizer of the whole population.
      position: ``position[i]`` is the member (index on the population axis) of ``runs[i]``.

    Raises:
      InvalidParameterError: no runs, or runs that differ in what fixes the population's shape;
        a bad hyperparameter value (the optimizers are built here, before anything trains); a
        population too large for memory (:func:`~descentlab.training.check_memory`).
    """

    def __init__(self, runs: Sequence[Run], data: ExperimentData) -> None:
        if not runs:
            raise InvalidParameterError("A population needs at least one run.")
        keys = {r.population_key() for r in runs}
        if len(keys) > 1:
            raise InvalidParameterError(
                "A population takes runs that share batch size, epochs, layers, activation, "
                f"init and shuffle; got {len(keys)} different combinations."
            )
        self.runs, self.data = list(runs), data
        head = self.runs[0]
        segments: dict[tuple, list[int]] = {}
        for i, r in enumerate(self.runs):
            segments.setdefault(r.segment_key(), []).append(i)
        self.order = [i for members in segments.values() for i in members]
        self.position = [0] * len(self.runs)
        for k, i in enumerate(self.order):
            self.position[i] = k
        steps = max(1, math.ceil(data.train.n_examples / head.batch_size))
        parts = [_build_segment([self.runs[i] for i in m], steps) for m in segments.values()]
        self.optimizer = (
            parts[0]
            if len(parts) == 1
            else stack_optimizers(parts, [len(m) for m in segments.values()])
        )
        self.net = MLP(data.layer_dims(head.layers), head.activation, loss=data.loss)
        check_memory(self.net, len(self.runs), head.batch_size, data.train.n_examples, head.epochs)

    def train(
        self,
        *,
        validation: bool = False,
        eval_every: int | None = None,
        progress: bool | None = False,
        label: str = "",
        on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
        callbacks: Sequence[Callback] = (),
        max_cost: float | None = None,
        engine: str = "auto",
        checkpoint: Any = None,
        checkpoint_every: int | None = None,
        resume: Any = None,
        diagnostics: bool = False,
    ) -> TrainResult:
        """Train the population (:func:`descentlab.training.train`); members in engine order.

        Args:
          validation: measure accuracy on ``data.val`` (else on ``data.test``, if any) every
            ``eval_every`` epochs, beside training accuracy; False measures none.
          eval_every: epochs between accuracy measurements (None: only the first and last).
          progress, label, on_epoch, callbacks, max_cost: as for :func:`train`.
          checkpoint, checkpoint_every, resume: as for :func:`train` (exact checkpoints).
          diagnostics: as for :func:`train` (:mod:`descentlab.diagnostics`).
          engine: ``auto``, ``numpy`` or ``compiled`` (:data:`~descentlab.training.ENGINES`);
            the result's ``engine`` says which ran and ``engine_note`` why ``auto`` fell back.

        Returns:
          the population's :class:`TrainResult` (see :meth:`member` for one run's).
        """
        head = self.runs[0]
        held_out = self.data.val if self.data.val is not None else self.data.test
        members = [self.runs[i] for i in self.order]
        return train(
            self.net,
            self.optimizer,
            self.data.train.X,
            self.data.train.y,
            epochs=head.epochs,
            batch_size=head.batch_size,
            seed=[r.seed for r in members],
            init=head.init,
            shuffle=head.shuffle,
            data_seed=[r.order_seed for r in members] if head.shuffle != "none" else None,
            validation=(held_out.X, held_out.y) if validation and held_out is not None else None,
            eval_every=head.epochs if eval_every is None else eval_every,
            callbacks=callbacks,
            progress=progress,
            label=label,
            on_epoch=on_epoch,
            max_cost=max_cost,
            engine=engine,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
            diagnostics=diagnostics,
        )

    def member(self, result: TrainResult, i: int) -> TrainResult:
        """Run ``i``'s result as if it had been trained alone (see :meth:`TrainResult.member`)."""
        return result.member(self.position[i])


def train_population(
    runs: Sequence[Run],
    data: ExperimentData,
    *,
    max_cost: float | None = None,
    on_epoch: Callable[[int], None] | None = None,
    engine: str = "auto",
) -> list[dict[str, Any]]:
    """Train ``runs`` (all with one :meth:`Run.population_key`) as one :class:`Population`;
    one row of measurements per run, in the order given.

    Args:
      runs: the runs, K >= 1.
      data: training, validation and test data (:func:`~descentlab.experiments.data.load_experiment_data`
        with ``validation=True``).
      max_cost: a member whose epoch cost exceeds it counts as diverged (the engine's default).
      on_epoch: called with the epoch number (from 0) after every epoch, e.g. for a progress bar.
      engine: the training engine (:data:`~descentlab.training.ENGINES`).

    Returns:
      per run: ``run_id``, ``config_id``, ``seed``, ``train_accuracy``, ``val_accuracy``,
      ``test_accuracy`` (fractions), ``final_cost`` (the mean mini-batch cost of its last
      epoch: for a diverged run, the epoch it diverged at, whatever its chunk-mates did),
      ``val_cost``, ``test_cost`` (cross-entropy on those sets), ``diverged`` (bool),
      ``stopped_epoch`` (-1 if it ran to the end), ``seconds`` (the population's wall time
      divided by K), ``status`` (``completed`` or ``diverged``), ``engine`` (the engine that
      ran: ``numpy`` or ``compiled``) and ``engine_note`` (why ``auto`` ran numpy, else empty).

    Raises:
      KeyboardInterrupt: Ctrl-C stopped the training (nothing is returned for it).
    """
    population = Population(runs, data)
    start = time.perf_counter()
    result = population.train(
        max_cost=max_cost,
        on_epoch=None if on_epoch is None else (lambda epoch, logs: on_epoch(epoch)),
        engine=engine,
    )
    if result.status == "interrupted":
        raise KeyboardInterrupt
    metrics = evaluate(population.net, result.params, data)
    seconds = (time.perf_counter() - start) / len(runs)
    # a member's last cost: at the epoch it stopped (diverged), as if trained alone
    last = np.where(result.stopped_epoch >= 0, result.stopped_epoch, result.history.n_epochs - 1)
    final_cost = result.history.cost[last, np.arange(len(last))]
    rows = []
    for i, r in enumerate(population.runs):
        k = population.position[i]
        rows.append(
            {
                "run_id": r.run_id(),
                "config_id": r.config_id(),
                "seed": r.seed,
                **{name: float(v[k]) for name, v in metrics.items()},
                "final_cost": float(final_cost[k]),
                "diverged": bool(result.diverged[k]),
                "stopped_epoch": int(result.stopped_epoch[k]),
                "seconds": seconds,
                "status": "diverged" if result.diverged[k] else "completed",
                "engine": result.engine,
                "engine_note": result.engine_note,
            }
        )
    return rows


def engine_message(note: str) -> str:
    """The one line that says why ``engine="auto"`` trained with numpy (``note`` is the
    :attr:`~descentlab.training.TrainResult.engine_note`).

    >>> engine_message("the compiled engine does not support a custom transformation.")
    'engine auto: trained with numpy: the compiled engine does not support a custom transformation.'
    """
    return f"engine auto: trained with numpy: {note}"


def evaluate(net: MLP, params: Params, data: ExperimentData) -> dict[str, np.ndarray]:
    """Accuracy on every set and cross-entropy on validation and test, per member ``(K,)``.

    Large populations are measured in blocks of members (about 2**16 member-examples at a
    time), so the memory stays small; each member's numbers are those of one call.
    """
    K = net.check_params(params) or 1
    sets = _measured_sets(data)
    block = max(1, 2**16 // max(ds.n_examples for _, ds in sets))
    parts: list[dict[str, np.ndarray]] = []
    for a in range(0, K, block):
        sub = params if K <= block else {k: v[a : a + block] for k, v in params.items()}
        parts.append(_evaluate_block(net, sub, sets))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _measured_sets(data: ExperimentData) -> list[tuple[str, Any]]:
    sets = [("train", data.train), ("val", data.val), ("test", data.test)]
    return [(name, ds) for name, ds in sets if ds is not None]


def _evaluate_block(net: MLP, params: Params, sets: list[tuple[str, Any]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for name, ds in sets:
            out[f"{name}_accuracy"] = np.atleast_1d(net.accuracy(params, ds.X, ds.y))
        for name, ds in sets[1:]:
            out[f"{name}_cost"] = np.atleast_1d(net.cost(params, ds.X, net.targets(ds.y)))
    return out
