"""What a playground request becomes before it trains: the data, the population, the grid.

:func:`build_plan` turns a validated :class:`~descentlab.playground.models.RunRequest` into a
:class:`RunPlan`: the data set and its split (an
:class:`~descentlab.experiments.data.ExperimentData`, ``test`` None when ``test_fraction`` is
0), one :class:`~descentlab.experiments.population.Run` per optimizer (all with the request's
seed, ``init="he"``, ``shuffle="random"``) built into one
:class:`~descentlab.experiments.population.Population`, the work caps checked, and the
:class:`GridSpec` the decision boundary is drawn on. The jobs that train a plan are
:mod:`~descentlab.playground.training_jobs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descentlab._validation import DescentLabError
from descentlab.datasets import Dataset, load_dataset
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Population, Run, build_run_optimizer
from descentlab.experiments.specs import resolve_hyperparameters
from descentlab.nn import MLP
from descentlab.playground.models import (
    DRAWN_DESCRIPTION,
    PLAYGROUND_DATASETS,
    SCHEDULE_SETTINGS,
    RequestError,
    RunRequest,
    check_request,
    generator_defaults,
)

__all__ = ["GridSpec", "OptimizerRun", "RunPlan", "build_plan"]


@dataclass(frozen=True)
class GridSpec:
    """A ``size x size`` grid over ``[x_min, x_max] x [y_min, y_max]`` for the decision boundary."""

    size: int
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    @classmethod
    def around(cls, X: np.ndarray, size: int, margin: float = 0.1) -> GridSpec:
        """A square window around the points ``X`` (2, m): both axes get the longer range.

        A square window keeps shapes undistorted on a square canvas: with ``r`` the larger
        of the two coordinate ranges, each axis spans ``r * (1 + 2 * margin)`` around the
        centre of its points.
        """
        lo, hi = X.min(axis=1), X.max(axis=1)
        half = max(float((hi - lo).max()), 1e-9) * (0.5 + margin)
        cx, cy = (lo + hi) / 2
        return cls(size, cx - half, cx + half, cy - half, cy + half)

    def points(self) -> np.ndarray:
        """The cell centres, ``(2, size * size)``, row by row from the top (``y_max``) down."""
        n = self.size
        xs = self.x_min + (np.arange(n) + 0.5) * (self.x_max - self.x_min) / n
        ys = self.y_max - (np.arange(n) + 0.5) * (self.y_max - self.y_min) / n
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()])

    def to_json(self) -> dict[str, float | int]:
        return {
            "size": self.size,
            "x_min": self.x_min,
            "x_max": self.x_max,
            "y_min": self.y_min,
            "y_max": self.y_max,
        }


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class OptimizerRun:
    """One optimizer of a job as the page sees it: its label and settings (echoed back)."""

    label: str
    name: str
    settings: dict[str, Any]


@dataclass
class RunPlan:
    """Everything a job needs, already validated: the population, the labels, the loop settings.

    Attributes:
      population: the optimizers as one population (its ``data`` has the playground's split:
        ``test`` is None when ``test_fraction`` is 0).
      runs: per optimizer (request order), its label and settings.
      epochs: epochs of every member.
      grid: where the decision boundary is drawn.
      pace_seconds: slow motion: epoch ``e`` ends no sooner than ``pace * (e + 1) / epochs``
        seconds after the start.
      settings: the request, echoed in the job's summary.
      dataset_info: the ``dataset`` entry of the ``start`` event.
    """

    population: Population
    runs: list[OptimizerRun]
    epochs: int
    grid: GridSpec
    pace_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    dataset_info: dict[str, Any] = field(default_factory=dict)

    @property
    def net(self) -> MLP:
        return self.population.net

    @property
    def data(self) -> ExperimentData:
        return self.population.data


def _points(ds: Dataset) -> dict[str, list]:
    return {
        "x": np.round(ds.X[0], 4).tolist(),
        "y": np.round(ds.X[1], 4).tolist(),
        "label": ds.y.astype(int).tolist(),
    }


def _label(name: str, learning_rate: float, hyperparameters: dict[str, float]) -> str:
    """``adam (lr 0.01, b1 0.8)``: the learning rate and the settings that differ from the defaults."""
    defaults = resolve_hyperparameters(name)
    changed = [f"{k} {v:g}" for k, v in hyperparameters.items() if v != defaults.get(k)]
    return f"{name} ({', '.join([f'lr {learning_rate:g}', *changed])})"


def _drawn(req: RunRequest) -> Dataset:
    """The drawn points as a :class:`Dataset` ``drawn``: ``X = [x; y]`` ``(2, m)``, labels as
    given (classes ``0..max(label)``; the page's colour k is class k)."""
    pts = req.points
    assert pts is not None  # check_request: dataset "drawn" comes with points
    X = np.array([pts.x, pts.y], dtype=np.float64)
    return Dataset("drawn", X, np.array(pts.label, dtype=np.int64))


def _load_data(req: RunRequest) -> ExperimentData:
    """The request's data set and its stratified split (seed ``data_seed`` or 0).

    Only the generator settings that differ from its defaults are passed, so ``moons`` at
    300 / 0.2 without a data seed is the seed's exact set. Drawn data is the points sent
    (``n_samples`` and ``noise`` do not apply).
    """
    if req.dataset == "drawn":
        return _split(req, _drawn(req))
    defaults = generator_defaults(req.dataset)
    given: dict[str, Any] = {}
    if req.n_samples != defaults["n_samples"]:
        given["n_samples"] = req.n_samples
    if req.noise is not None and req.noise != defaults["noise"]:
        given["noise"] = req.noise
    if req.data_seed is not None:
        given["seed"] = req.data_seed
    return _split(req, load_dataset(req.dataset, **given))  # RANGES lie within the generators'


def _split(req: RunRequest, data: Dataset) -> ExperimentData:
    """``data`` split into training and test sets by ``test_fraction`` (none when it is 0)."""
    if req.test_fraction == 0:
        return ExperimentData(data, None, holdout="split")
    try:
        train, test = data.split(req.test_fraction, seed=req.data_seed or 0)
    except DescentLabError as err:
        raise RequestError("test_fraction", str(err)) from None
    return ExperimentData(train, test, holdout="split")


def _schedule(req: RunRequest, steps_per_epoch: int) -> tuple[str | None, dict[str, Any]]:
    """The schedule's name and settings for :class:`Run` (None: a constant rate).

    The page's settings (:data:`SCHEDULE_SETTINGS`, their defaults where not given), then what
    the request's length fixes, with ``T = epochs * steps_per_epoch`` steps in all:

    - ``cosine``: ``decay_steps = T``; ``polynomial``: ``decay_steps = T`` counted in steps
      (``steps_per_epoch = 1``: the rate falls at every step and reaches 0 after the last);
    - ``one_cycle``: ``total_steps = T``;
    - ``wsd``: ``total_steps = T``, ``D = floor(decay_fraction * T)`` decay steps (the
      schedule's own D) and ``warmup_steps = floor(warmup_fraction * (T - D))``, so the
      warm-up ends before the decay starts;
    - ``piecewise``: ``boundaries`` the piece boundaries (epochs) and ``values`` the factors
      ``[1, *piece_factors]``, relative to the starting rate (:func:`_runs` multiplies them by
      each optimizer's learning rate: the library's pieces are absolute rates);
    - the others count epochs: :class:`Run` gives them ``steps_per_epoch``.
    """
    name = req.schedule.name
    if name == "constant":
        return None, {}
    settings: dict[str, Any] = {}
    for key, (rule, default, _help) in SCHEDULE_SETTINGS[name].items():
        value = getattr(req.schedule, key)
        value = default if value is None else value
        cast = int if rule.integer else float
        settings[key] = [cast(v) for v in value] if isinstance(value, list) else cast(value)
    if name == "piecewise":  # relative factors; _runs scales them by each optimizer's rate
        factors = settings.pop("piece_factors")
        return name, {"boundaries": settings.pop("piece_boundaries"), "values": [1.0, *factors]}
    total = req.epochs * steps_per_epoch
    if name == "cosine":
        settings["decay_steps"] = total
    elif name == "polynomial":
        settings.update(decay_steps=total, steps_per_epoch=1)
    elif name == "one_cycle":
        settings["total_steps"] = total
    elif name == "wsd":
        decay = math.floor(settings["decay_fraction"] * total)
        warmup = math.floor(settings.pop("warmup_fraction") * (total - decay))
        settings.update(total_steps=total, warmup_steps=warmup)
    return name, settings


def _check_work(req: RunRequest, net: MLP, m: int, *, max_steps: int, max_work: float) -> None:
    """``epochs * ceil(m / batch_size) * K <= max_steps`` and ``epochs * m * P * K <= max_work``."""
    n_opt = len(req.optimizers)
    steps = req.epochs * math.ceil(m / req.batch_size) * n_opt
    if steps > max_steps:
        raise RequestError(
            "epochs",
            f"This run would take {steps:,} gradient steps (epochs x batches per epoch x "
            f"optimizers); the limit is {max_steps:,}. Lower the epochs or raise the batch size.",
        )
    work = req.epochs * m * net.n_params * n_opt
    if work > max_work:
        raise RequestError(
            "epochs",
            f"This run is too large ({work:.3g} example-parameter passes; the limit is "
            f"{max_work:.3g}). Lower the epochs, the number of examples or the hidden units.",
        )


def _scaled(settings: dict[str, Any], learning_rate: float) -> dict[str, Any]:
    """Piecewise's relative ``values`` times ``learning_rate`` (other settings unchanged)."""
    if "values" not in settings:
        return settings
    return {**settings, "values": [learning_rate * v for v in settings["values"]]}


def _runs(req: RunRequest, steps_per_epoch: int) -> list[Run]:
    """One :class:`Run` per optimizer. Every value was checked against the page's tables
    (:func:`check_request`), which lie within the optimizers' and schedules' own rules."""
    schedule, schedule_settings = _schedule(req, steps_per_epoch)
    return [
        Run(
            optimizer=opt.name,
            hyperparameters={"learning_rate": opt.learning_rate, **opt.hyperparameters},
            schedule=schedule,
            schedule_settings=_scaled(schedule_settings, opt.learning_rate),
            batch_size=req.batch_size,
            epochs=req.epochs,
            layers=tuple(req.hidden),
            activation=req.activation,
            init="he",
            shuffle="random",
            seed=req.seed,
        )
        for opt in req.optimizers
    ]


def _check_pairs(req: RunRequest, runs: list[Run], steps_per_epoch: int) -> None:
    """Build each optimizer with its schedule, as training will.

    The page's tables check each value alone; this finds the pairs the library refuses: a
    schedule-free optimizer under ``reduce_on_plateau`` (its average weights every step by a
    rate that must be known in advance).

    Raises:
      RequestError: at ``schedule.name`` (``optimizers.i.name`` without a schedule), with the
        library's message.
    """
    for i, run in enumerate(runs):
        try:
            build_run_optimizer(run, steps_per_epoch)
        except DescentLabError as err:
            if run.schedule is None:
                raise RequestError(f"optimizers.{i}.name", str(err)) from None
            raise RequestError(
                "schedule.name",
                f"Optimizer {i} ({run.optimizer}) cannot train with the {req.schedule.name!r} "
                f"schedule: {err}",
            ) from None


def build_plan(req: RunRequest, *, grid_size: int, max_steps: int, max_work: float) -> RunPlan:
    """Turn a request into a :class:`RunPlan`: check it, load the data, build the population.

    The data: ``load_dataset(name, ...)`` or the drawn points, split with ``test_fraction``
    (:func:`_load_data`). The network: ``(2, *hidden, 1)`` for two classes, else
    ``(2, *hidden, n_classes)``, with the request's ``loss``: ``cross_entropy`` (a sigmoid or
    softmax output) or ``mse`` (a linear output fitted to the 0/1 or one-hot targets by half
    the mean squared error, classes by ``A > 0.5`` or argmax). The
    optimizers: one :class:`Run` each (``build_optimizer`` of the experiments, so ``adam`` is
    the seed's Adam, ``eps = 0, eps_root = 1e-8``; the schedule counts epochs of
    ``ceil(m_train / batch_size)`` steps, :func:`_schedule`), trained as one
    :class:`Population`. The page trains without validation data, so ``reduce_on_plateau``
    observes each epoch's training cost (the mean mini-batch cost, per member), never the
    test set; a pair the library refuses (a schedule-free optimizer under
    ``reduce_on_plateau``) is refused here (:func:`_check_pairs`).

    Work caps: ``epochs * ceil(m_train / batch_size) * n_optimizers <= max_steps`` and
    ``epochs * m_train * n_params * n_optimizers <= max_work``.

    Raises:
      RequestError: naming the field that makes the request impossible or too large.
    """
    check_request(req)
    data = _load_data(req)
    m = data.train.n_examples
    net = MLP(data.layer_dims(req.hidden), activation=req.activation, loss=req.loss)
    _check_work(req, net, m, max_steps=max_steps, max_work=max_work)
    steps_per_epoch = math.ceil(m / req.batch_size)
    runs = _runs(req, steps_per_epoch)
    _check_pairs(req, runs, steps_per_epoch)
    # at most 4 members of 4 x 64 units on 5000 examples: far below the engine's memory cap
    try:
        population = Population(runs, data)
    except DescentLabError as err:  # not expected after the checks above; never a 500
        raise RequestError("optimizers", str(err)) from None
    population.net = net  # the data's loss is cross-entropy; the request may ask for mse
    sets = [data.train] if data.test is None else [data.train, data.test]
    return RunPlan(
        population=population,
        runs=[
            OptimizerRun(
                label=_label(opt.name, opt.learning_rate, opt.hyperparameters),
                name=opt.name,
                settings={"learning_rate": opt.learning_rate, **opt.hyperparameters},
            )
            for opt in req.optimizers
        ],
        epochs=req.epochs,
        grid=GridSpec.around(np.concatenate([ds.X for ds in sets], axis=1), grid_size),
        pace_seconds=req.pace_seconds,
        settings=req.model_dump(),
        dataset_info={
            "name": req.dataset,
            "description": PLAYGROUND_DATASETS.get(req.dataset, DRAWN_DESCRIPTION),
            "loss": req.loss,
            "n_classes": data.n_classes,
            "classes": [str(c) for c in data.train.classes],
            "n_train": m,
            "n_test": 0 if data.test is None else data.test.n_examples,
            "layer_dims": list(net.layer_dims),
            "train": _points(data.train),
            "test": None if data.test is None else _points(data.test),
        },
    )
