"""Training jobs for the playground: worker threads that train and stream events.

One *job* is one press of "Train": one network trained from the same initial parameters with
up to four optimizers, each in its own worker thread (so their pictures move side by side).
Each thread calls :func:`descentlab.training.train` with an ``on_epoch`` hook that, at most
``updates_per_second`` times a second (and after the first epoch), queues a ``progress``
event for the page::

    {"optimizer": i, "first_epoch": e0, "epoch": e, "cost": [J(e0), ..., J(e)],
     "train_accuracy": a, "test_accuracy": a_test or None,
     "grid": {"classes": base64(uint8 argmax_c P(c | x)), "confidence": base64(uint8 255 max_c P)}}

``cost`` holds every epoch's cost since the previous event (``None`` where it was NaN/inf),
so the page draws the whole curve; ``grid`` is the decision boundary on a ``size x size``
grid of points (row 0 at the top, ``y_max``; column 0 at the left, ``x_min``), computed from
``predict_proba`` of the current parameters. After training each thread queues a final
``progress`` event (the rest of the curve and the final boundary) and a ``done`` event
with its results; the job then queues one ``end`` event.

Stopping (the Stop button, a closed page, the time limit) sets a flag that a training
callback turns into "stop every member" — the engine's own early-stopping path — so the
result keeps the parameters reached so far.
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

from descentlab.nn import MLP
from descentlab.optimizers.base import GradientTransformation, Params
from descentlab.training import TrainResult, train

__all__ = [
    "CapacityError",
    "GridSpec",
    "JobManager",
    "OptimizerRun",
    "RunPlan",
    "TrainingJob",
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


@dataclass
class OptimizerRun:
    """One optimizer of a job: its label, settings (echoed to the page) and the transformation."""

    label: str
    name: str
    settings: dict[str, Any]
    optimizer: GradientTransformation
    learning_rate: Any


@dataclass
class RunPlan:
    """Everything a job needs, already validated: data, network, optimizers, loop settings."""

    net: MLP
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    runs: list[OptimizerRun]
    epochs: int
    batch_size: int
    seed: int
    grid: GridSpec
    pace_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    dataset_info: dict[str, Any] = field(default_factory=dict)

    def train_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~descentlab.training.train` every run uses."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "init": "he",
            "shuffle": "random",
            "data_seed": self.seed,
        }


class CapacityError(Exception):
    """Raised by :meth:`JobManager.submit` when the maximum number of jobs is running."""


class TrainingJob:
    """One request's training: a thread per optimizer, an event queue, a stop flag.

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
        self._remaining = len(plan.runs)
        self._threads: list[threading.Thread] = []
        self._grid_points = plan.grid.points()
        self.started = time.monotonic()

    # -------------------------------------------------------------- control
    def start(self) -> None:
        """Queue the ``start`` event and start one worker thread per optimizer."""
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
        for i in range(len(plan.runs)):
            thread = threading.Thread(
                target=self._work, args=(i,), name=f"playground-{self.id}-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, reason: str = "stopped by the user") -> None:
        """Ask every worker to stop after its current epoch (no-op once finished)."""
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
        """Block until every worker is done (or ``timeout`` seconds); True if finished."""
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

    # -------------------------------------------------------------- workers
    def _emit(self, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append((name, data))

    def _should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        now = time.monotonic()
        if now - self.started > self.max_seconds:
            self.stop(f"the time limit of {self.max_seconds:g} s was reached")
        elif not self.subscribed and now - self.started > self.connect_timeout:
            self.stop("no page was reading the events")
        return self._stop.is_set()

    def _accuracies(self, params: Params) -> tuple[float | None, float | None]:
        """Train and test accuracy of ``params`` (test None without a test set)."""
        plan = self.plan
        with np.errstate(all="ignore"):  # a diverged network may overflow; its numbers are moot
            train_acc = _finite(plan.net.accuracy(params, plan.X, plan.y))
            if plan.X_test is None:
                return train_acc, None
            return train_acc, _finite(plan.net.accuracy(params, plan.X_test, plan.y_test))

    def _progress(self, i: int, first: int, costs: list[float], params: Params) -> None:
        train_acc, test_acc = self._accuracies(params)
        with np.errstate(all="ignore"):
            proba = self.plan.net.predict_proba(params, self._grid_points)
        self._emit(
            "progress",
            {
                "optimizer": i,
                "first_epoch": first,
                "epoch": first + len(costs) - 1,
                "cost": [_finite(c) for c in costs],
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "grid": encode_grid(proba),
            },
        )

    def _work(self, i: int) -> None:
        plan, run = self.plan, self.plan.runs[i]
        pending: list[float] = []
        state = {"first": 0, "last_emit": -math.inf}
        start = time.monotonic()

        def stop_callback(epoch: int, logs: dict[str, np.ndarray]) -> bool:
            return self._should_stop()

        def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
            pending.append(float(logs["cost"]))
            self.epochs_done[i] = epoch + 1
            now = time.monotonic()
            if epoch == 0 or now - state["last_emit"] >= self.interval:
                self._progress(i, state["first"], pending, logs["params"])
                state["first"] = epoch + 1
                state["last_emit"] = now
                pending.clear()
            if plan.pace_seconds > 0:  # slow motion: epoch e ends no sooner than pace * e / E
                delay = start + plan.pace_seconds * (epoch + 1) / plan.epochs - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)

        try:
            result = train(
                plan.net,
                run.optimizer,
                plan.X,
                plan.y,
                **plan.train_kwargs(),
                eval_every=plan.epochs,
                callbacks=(stop_callback,),
                on_epoch=on_epoch,
                label=run.label,
                progress=False,
            )
            self._progress(i, state["first"], pending, result.params)
            self.results[i] = self._result(i, result)
            self._emit("done", self.results[i])
        except Exception as exc:  # a worker must always report, whatever happened
            self.results[i] = {
                "optimizer": i,
                "label": run.label,
                "status": "failed",
                "message": f"{type(exc).__name__}: {exc}",
            }
            self._emit("done", self.results[i])
        finally:
            self._worker_done()

    def _result(self, i: int, result: TrainResult) -> dict[str, Any]:
        plan = self.plan
        n = result.history.n_epochs
        status = result.status
        message = result.message
        if status == "early_stopped":  # only our stop callback stops members
            status, message = "stopped", f"Stopped after {n} of {plan.epochs} epochs."
        train_acc, test_acc = self._accuracies(result.params)
        return {
            "optimizer": i,
            "label": plan.runs[i].label,
            "status": status,
            "message": message,
            "epochs_run": n,
            "final_cost": _finite(result.history.cost[-1]) if n else None,
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "seconds": round(result.seconds, 3),
        }

    def _worker_done(self) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if not last:
            return
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
