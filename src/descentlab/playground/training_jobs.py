"""Training jobs for the playground: one population per request, trained in a worker thread.

One *job* is one press of "Train": one network trained from the same initial parameters with
up to four optimizers. :func:`build_plan` turns the request into a
:class:`~descentlab.experiments.population.Population` — one
:class:`~descentlab.experiments.population.Run` per optimizer, all with the request's seed,
``init="he"`` and ``shuffle="random"`` — so the optimizers train side by side as ONE
population of K networks in lock-step, through the engine every experiment uses; member
``position[i]`` is optimizer ``i`` and its numbers equal training optimizer ``i`` alone.

The job's one worker thread trains the population with an ``on_epoch`` hook that, at most
``updates_per_second`` times a second (and after the first epoch), queues a ``progress``
event per optimizer for the page::

    {"optimizer": i, "first_epoch": e0, "epoch": e, "cost": [J(e0), ..., J(e)],
     "train_accuracy": a, "test_accuracy": a_test or None,
     "grid": {"classes": base64(uint8 argmax_c P(c | x)), "confidence": base64(uint8 255 max_c P)}}

``cost`` holds every epoch's cost since the previous event (``None`` where it was NaN/inf),
so the page draws the whole curve; ``grid`` is the decision boundary on a ``size x size``
grid of points (row 0 at the top, ``y_max``; column 0 at the left, ``x_min``), computed from
``predict_proba`` of the member's current parameters. A member that diverges (the engine's
rule: its cost became NaN, inf or too large) is frozen by the engine, its last ``progress``
event is queued at once and the others go on. After training, each optimizer still running gets a
final ``progress`` event (the rest of its curve and its final boundary), then every
optimizer a ``done`` event with its results (:meth:`Population.member`), then the job one
``end`` event.

Stopping (the Stop button, a closed page, the time limit) sets a flag that a training
callback turns into "stop every member" — the engine's own early-stopping path — so the
results keep the parameters reached so far.
"""

from __future__ import annotations

import base64
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descentlab._validation import DescentLabError
from descentlab.datasets import Dataset, load_dataset
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Population, Run, build_run_optimizer
from descentlab.experiments.specs import resolve_hyperparameters
from descentlab.nn import MLP
from descentlab.optimizers.base import Params
from descentlab.playground.models import (
    PLAYGROUND_DATASETS,
    SCHEDULE_SETTINGS,
    RequestError,
    RunRequest,
    check_request,
    generator_defaults,
)
from descentlab.training import TrainResult

__all__ = [
    "CapacityError",
    "GridSpec",
    "JobManager",
    "OptimizerRun",
    "RunPlan",
    "TrainingJob",
    "build_plan",
    "encode_grid",
]


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


def encode_grid(proba: np.ndarray) -> dict[str, str]:
    """Pack class probabilities ``(n_classes, N)`` as two base64 strings of ``N`` bytes.

    ``classes[i] = argmax_c P(c | x_i)`` and ``confidence[i] = round(255 * max_c P(c | x_i))``
    (NaN probabilities, from a diverged network, give class 0 with confidence 0).

    >>> grid = encode_grid(np.array([[0.9, 0.2], [0.1, 0.8]]))
    >>> list(base64.b64decode(grid["classes"])), list(base64.b64decode(grid["confidence"]))
    ([0, 1], [230, 204])
    """
    proba = np.nan_to_num(np.asarray(proba, dtype=float), nan=0.0)
    classes = proba.argmax(axis=0).astype(np.uint8)
    confidence = np.rint(255 * np.clip(proba.max(axis=0), 0.0, 1.0)).astype(np.uint8)
    return {
        "classes": base64.b64encode(classes.tobytes()).decode("ascii"),
        "confidence": base64.b64encode(confidence.tobytes()).decode("ascii"),
    }


def _finite(x: Any) -> float | None:
    """A JSON-safe float: ``None`` for NaN or inf."""
    x = float(x)
    return x if math.isfinite(x) else None


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


def _load_data(req: RunRequest) -> ExperimentData:
    """The request's data set and its stratified split (seed ``data_seed`` or 0).

    Only the generator settings that differ from its defaults are passed, so ``moons`` at
    300 / 0.2 without a data seed is the seed's exact set.
    """
    defaults = generator_defaults(req.dataset)
    given: dict[str, Any] = {}
    if req.n_samples != defaults["n_samples"]:
        given["n_samples"] = req.n_samples
    if req.noise is not None and req.noise != defaults["noise"]:
        given["noise"] = req.noise
    if req.data_seed is not None:
        given["seed"] = req.data_seed
    try:
        data = load_dataset(req.dataset, **given)
    except DescentLabError as err:
        raise RequestError("dataset", str(err)) from None
    if req.test_fraction == 0:
        return ExperimentData(data, None, holdout="split")
    try:
        train, test = data.split(req.test_fraction, seed=req.data_seed or 0)
    except DescentLabError as err:
        raise RequestError("test_fraction", str(err)) from None
    return ExperimentData(train, test, holdout="split")


def _schedule(req: RunRequest, steps_per_epoch: int) -> tuple[str | None, dict[str, Any]]:
    """The schedule's name and settings for :class:`Run` (None: a constant rate); the cosine
    decays over the whole training, ``epochs * steps_per_epoch`` steps."""
    name = req.schedule.name
    if name == "constant":
        return None, {}
    if name == "cosine":
        return "cosine", {"decay_steps": req.epochs * steps_per_epoch}
    settings = {}
    for key, (rule, default, _help) in SCHEDULE_SETTINGS[name].items():
        value = getattr(req.schedule, key)
        value = default if value is None else value
        settings[key] = int(value) if rule.integer else float(value)
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


def _runs(req: RunRequest, steps_per_epoch: int) -> list[Run]:
    """One :class:`Run` per optimizer, each checked alone so an error names its optimizer."""
    schedule, schedule_settings = _schedule(req, steps_per_epoch)
    runs = []
    for i, opt in enumerate(req.optimizers):
        try:
            run = Run(
                optimizer=opt.name,
                hyperparameters={"learning_rate": opt.learning_rate, **opt.hyperparameters},
                schedule=schedule,
                schedule_settings=schedule_settings,
                batch_size=req.batch_size,
                epochs=req.epochs,
                layers=tuple(req.hidden),
                activation=req.activation,
                init="he",
                shuffle="random",
                seed=req.seed,
            )
            build_run_optimizer(run, steps_per_epoch)
        except DescentLabError as err:
            raise RequestError(f"optimizers.{i}", str(err)) from None
        runs.append(run)
    return runs


def build_plan(req: RunRequest, *, grid_size: int, max_steps: int, max_work: float) -> RunPlan:
    """Turn a request into a :class:`RunPlan`: check it, load the data, build the population.

    The data: ``load_dataset(name, ...)`` split with ``test_fraction`` (:func:`_load_data`).
    The network: ``(2, *hidden, 1)`` for two classes, else ``(2, *hidden, n_classes)``. The
    optimizers: one :class:`Run` each (``build_optimizer`` of the experiments, so ``adam`` is
    the seed's Adam, ``eps = 0, eps_root = 1e-8``; the schedule counts epochs of
    ``ceil(m_train / batch_size)`` steps), trained as one :class:`Population`.

    Work caps: ``epochs * ceil(m_train / batch_size) * n_optimizers <= max_steps`` and
    ``epochs * m_train * n_params * n_optimizers <= max_work``.

    Raises:
      RequestError: naming the field that makes the request impossible or too large.
    """
    check_request(req)
    data = _load_data(req)
    m = data.train.n_examples
    net = MLP(data.layer_dims(req.hidden), activation=req.activation)
    _check_work(req, net, m, max_steps=max_steps, max_work=max_work)
    try:
        population = Population(_runs(req, math.ceil(m / req.batch_size)), data)
    except DescentLabError as err:  # a population too large for memory
        raise RequestError("optimizers", str(err)) from None
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
            "description": PLAYGROUND_DATASETS[req.dataset],
            "n_classes": data.n_classes,
            "classes": [str(c) for c in data.train.classes],
            "n_train": m,
            "n_test": 0 if data.test is None else data.test.n_examples,
            "layer_dims": list(net.layer_dims),
            "train": _points(data.train),
            "test": None if data.test is None else _points(data.test),
        },
    )


# ----------------------------------------------------------------------------- jobs


class CapacityError(Exception):
    """Raised by :meth:`JobManager.submit` when the maximum number of jobs is running."""


@dataclass
class _Stream:
    """The events of one optimizer not sent yet: the costs since epoch ``first``; ``open``
    until the member has diverged or the training has ended."""

    first: int = 0
    costs: list[float] = field(default_factory=list)
    open: bool = True


def _member(params: Params, k: int) -> Params:
    """Member ``k``'s parameters (views) from the population's ``(K, ...)`` arrays."""
    return {key: value[k] for key, value in params.items()}


class TrainingJob:
    """One request's training: a worker thread for the population, an event queue, a stop flag.

    Args:
      run_id: the job's id.
      plan: what to train.
      updates_per_second: the most ``progress`` events per second per optimizer.
      max_seconds: wall-time limit of the whole job; training stops when it is reached.
      connect_timeout: stop if no one has started reading the events after this many seconds.
    """

    def __init__(
        self,
        run_id: str,
        plan: RunPlan,
        *,
        updates_per_second: float = 10.0,
        max_seconds: float = 300.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self.id = run_id
        self.plan = plan
        self.interval = 1.0 / updates_per_second
        self.max_seconds = max_seconds
        self.connect_timeout = connect_timeout
        self.status = "running"
        self.message = ""
        self.results: list[dict[str, Any] | None] = [None] * len(plan.runs)
        self.epochs_done = [0] * len(plan.runs)
        self.subscribed = False
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._stop_reason = ""
        self._streams = [_Stream() for _ in plan.runs]
        self._last_emit = -math.inf
        self._grid_points = plan.grid.points()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()

    # -------------------------------------------------------------- control
    def start(self) -> None:
        """Queue the ``start`` event and start the worker thread."""
        plan = self.plan
        self._emit(
            "start",
            {
                "id": self.id,
                "epochs": plan.epochs,
                "grid": plan.grid.to_json(),
                "dataset": plan.dataset_info,
                "optimizers": [
                    {"index": i, "label": r.label, "name": r.name, "settings": r.settings}
                    for i, r in enumerate(plan.runs)
                ],
            },
        )
        self._thread = threading.Thread(
            target=self._work, name=f"playground-{self.id}", daemon=True
        )
        self._thread.start()

    def stop(self, reason: str = "stopped by the user") -> None:
        """Ask the worker to stop every member after the current epoch (no-op once finished)."""
        if not self._finished.is_set() and not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker is done (or ``timeout`` seconds); True if finished."""
        return self._finished.wait(timeout)

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        """Take every queued event ``(name, data)``, oldest first."""
        with self._lock:
            events, self._events = self._events, []
        return events

    def summary(self) -> dict[str, Any]:
        """The job as JSON: status, settings and each optimizer's results (None while running)."""
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "settings": self.plan.settings,
            "epochs": self.plan.epochs,
            "optimizers": [r.label for r in self.plan.runs],
            "epochs_done": list(self.epochs_done),
            "results": list(self.results),
        }

    # -------------------------------------------------------------- the worker
    def _emit(self, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append((name, data))

    def _work(self) -> None:
        """Train the population, then report every optimizer (whatever happened) and end."""
        plan = self.plan
        start = time.monotonic()
        try:
            result = plan.population.train(
                on_epoch=lambda epoch, logs: self._on_epoch(epoch, logs, start),
                callbacks=(self._stop_callback,),
            )
            self._report(result)
        except Exception as exc:  # the worker must always report, whatever happened
            for i, run in enumerate(plan.runs):
                self.results[i] = {
                    "optimizer": i,
                    "label": run.label,
                    "status": "failed",
                    "message": f"{type(exc).__name__}: {exc}",
                }
                self._emit("done", self.results[i])
        finally:
            self._end()

    def _stop_callback(self, epoch: int, logs: dict[str, Any]) -> bool:
        """Stop every member when asked to, or past the time limit, or when nobody reads."""
        if not self._stop.is_set():
            elapsed = time.monotonic() - self.started
            if elapsed > self.max_seconds:
                self.stop(f"the time limit of {self.max_seconds:g} s was reached")
            elif not self.subscribed and elapsed > self.connect_timeout:
                self.stop("no page was reading the events")
        return self._stop.is_set()

    def _on_epoch(self, epoch: int, logs: dict[str, Any], start: float) -> None:
        """Record each running member's cost; send its ``progress`` when due or diverged."""
        plan = self.plan
        cost, stopped = np.reshape(logs["cost"], -1), logs["stopped"]
        now = time.monotonic()
        due = epoch == 0 or now - self._last_emit >= self.interval
        for i, stream in enumerate(self._streams):
            if not stream.open:
                continue
            k = plan.population.position[i]
            stream.costs.append(float(cost[k]))
            self.epochs_done[i] = epoch + 1
            if due or stopped[k]:  # a stopped member's last picture, at once
                self._progress(i, _member(logs["params"], k))
            stream.open = not stopped[k]
        if due:
            self._last_emit = now
        if plan.pace_seconds > 0:  # slow motion: epoch e ends no sooner than pace * (e+1) / E
            delay = start + plan.pace_seconds * (epoch + 1) / plan.epochs - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def _accuracies(self, params: Params) -> tuple[float | None, float | None]:
        """Train and test accuracy of one network's ``params`` (test None without a test set)."""
        net, data = self.plan.net, self.plan.data
        with np.errstate(all="ignore"):  # a diverged network may overflow; its numbers are moot
            train_acc = _finite(net.accuracy(params, data.train.X, data.train.y))
            if data.test is None:
                return train_acc, None
            return train_acc, _finite(net.accuracy(params, data.test.X, data.test.y))

    def _progress(self, i: int, params: Params) -> None:
        """Queue optimizer ``i``'s ``progress`` event: its pending costs and its picture now."""
        stream = self._streams[i]
        train_acc, test_acc = self._accuracies(params)
        with np.errstate(all="ignore"):
            proba = self.plan.net.predict_proba(params, self._grid_points)
        self._emit(
            "progress",
            {
                "optimizer": i,
                "first_epoch": stream.first,
                "epoch": stream.first + len(stream.costs) - 1,
                "cost": [_finite(c) for c in stream.costs],
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "grid": encode_grid(proba),
            },
        )
        stream.first += len(stream.costs)
        stream.costs = []

    def _report(self, result: TrainResult) -> None:
        """After training: the last ``progress`` of each member still open, then every ``done``."""
        members = [self.plan.population.member(result, i) for i in range(len(self.plan.runs))]
        for i, member in enumerate(members):
            if self._streams[i].open:
                self._progress(i, member.params)
                self._streams[i].open = False
        for i, member in enumerate(members):
            self.results[i] = self._result(i, member)
            self._emit("done", self.results[i])

    def _result(self, i: int, member: TrainResult) -> dict[str, Any]:
        """Optimizer ``i``'s results; ``seconds`` is the population's wall time."""
        n = member.history.n_epochs
        status, message = member.status, member.message
        if status == "early_stopped":  # only our stop callback stops members
            status, message = "stopped", f"Stopped after {n} of {self.plan.epochs} epochs."
        train_acc, test_acc = self._accuracies(member.params)
        return {
            "optimizer": i,
            "label": self.plan.runs[i].label,
            "status": status,
            "message": message,
            "epochs_run": n,
            "final_cost": _finite(member.history.cost[-1]) if n else None,
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "seconds": round(member.seconds, 3),
        }

    def _end(self) -> None:
        """The job's status from its results and the stop flag; queue ``end``; mark finished."""
        statuses = [r["status"] if r else "failed" for r in self.results]
        if "failed" in statuses:
            self.status = "failed"
            self.message = "At least one optimizer failed; see its message."
        elif self._stop.is_set():
            self.status, self.message = "stopped", f"Training stopped: {self._stop_reason}."
        else:
            self.status = "completed"
        self._emit(
            "end",
            {
                "id": self.id,
                "status": self.status,
                "message": self.message,
                "results": self.results,
            },
        )
        self._finished.set()


class JobManager:
    """The jobs of one server: at most ``max_concurrent`` running, the last ``keep`` remembered.

    Args:
      max_concurrent: how many jobs may run at once; :meth:`submit` raises
        :class:`CapacityError` beyond that.
      keep: how many finished jobs to remember for ``GET /api/runs/{id}``.
      job_factory: builds a job from ``(run_id, plan)`` (the server passes its limits).
    """

    def __init__(
        self,
        max_concurrent: int,
        *,
        keep: int = 50,
        job_factory: Callable[[str, RunPlan], TrainingJob] = TrainingJob,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.keep = keep
        self.job_factory = job_factory
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def submit(self, plan: RunPlan) -> TrainingJob:
        """Start a job for ``plan`` and return it; :class:`CapacityError` if too many run."""
        with self._lock:
            running = sum(not job.finished for job in self._jobs.values())
            if running >= self.max_concurrent:
                raise CapacityError(
                    f"{running} trainings are already running (the limit is "
                    f"{self.max_concurrent}); stop one or wait for it to finish."
                )
            job = self.job_factory(secrets.token_hex(8), plan)
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.finished]
            for k in finished[: max(0, len(finished) - self.keep)]:
                del self._jobs[k]
        job.start()
        return job

    def get(self, run_id: str) -> TrainingJob | None:
        return self._jobs.get(run_id)

    def running(self) -> list[TrainingJob]:
        return [job for job in list(self._jobs.values()) if not job.finished]

    def stop_all(self, reason: str = "the server is shutting down") -> None:
        for job in self.running():
            job.stop(reason)
