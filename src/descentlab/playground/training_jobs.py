"""Training jobs for the playground: one population per request, trained in a worker thread.

One *job* is one press of "Train": one network trained from the same initial parameters with
up to four optimizers. :func:`~descentlab.playground.plan.build_plan` turns the request into a
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
``end`` event. The final boundary and the results are those of ``TrainResult.params``, the
parameters a model is evaluated at: for a schedule-free optimizer its average ``x``, not the
point ``y`` it took its gradients at (``train_params``); the live pictures use the
``"params"`` the engine's ``on_epoch`` gives.

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

from descentlab.nn import MLP
from descentlab.optimizers.base import Params
from descentlab.playground.plan import RunPlan
from descentlab.training import TrainResult

__all__ = ["CapacityError", "JobManager", "TrainingJob", "encode_grid", "output_picture"]


def encode_grid(proba: np.ndarray) -> dict[str, str]:
    """Pack class probabilities ``(n_classes, N)`` as two base64 strings of ``N`` bytes.

    ``classes[i] = argmax_c P(c | x_i)`` and ``confidence[i] = round(255 * max_c P(c | x_i))``
    (NaN probabilities, from a diverged network, give class 0 with confidence 0).

    >>> grid = encode_grid(np.array([[0.9, 0.2], [0.1, 0.8]]))
    >>> list(base64.b64decode(grid["classes"])), list(base64.b64decode(grid["confidence"]))
    ([0, 1], [230, 204])
    """
    proba = np.nan_to_num(np.asarray(proba, dtype=float), nan=0.0)
    return _pack(proba.argmax(axis=0), proba.max(axis=0))


def _pack(classes: np.ndarray, confidence: np.ndarray) -> dict[str, str]:
    """Class indices ``(N,)`` and confidences in [0, 1] ``(N,)`` as base64 bytes (0..255)."""
    confidence = np.rint(255 * np.clip(confidence, 0.0, 1.0)).astype(np.uint8)
    return {
        "classes": base64.b64encode(classes.astype(np.uint8).tobytes()).decode("ascii"),
        "confidence": base64.b64encode(confidence.tobytes()).decode("ascii"),
    }


def output_picture(net: MLP, params: Params, points: np.ndarray) -> dict[str, str]:
    """The decision-boundary picture of one network on ``points`` (2, N), :func:`encode_grid`'s form.

    A cross-entropy network gives its class probabilities. An MSE network's linear outputs
    ``A`` (n_L, N) are not probabilities: its classes are :meth:`MLP.predict`'s (``A > 0.5``
    for one unit, argmax otherwise) and its confidence is the output clipped to [0, 1]
    (``max(A, 1 - A)`` for one unit, the largest unit otherwise).
    """
    with np.errstate(all="ignore"):  # a diverged network may overflow; its picture is moot
        if net.loss != "mse":
            return encode_grid(net.predict_proba(params, points))
        A, _ = net.forward(params, points)
    A = np.nan_to_num(A, nan=0.0)
    if A.shape[0] == 1:
        p = np.clip(A[0], 0.0, 1.0)
        return encode_grid(np.stack([1.0 - p, p]))
    return _pack(A.argmax(axis=0), A.max(axis=0))


def _finite(x: Any) -> float | None:
    """A JSON-safe float: ``None`` for NaN or inf."""
    x = float(x)
    return x if math.isfinite(x) else None


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
                engine="auto",
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
            self._stop.wait(max(0.0, delay))  # behind the pace already: no wait

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
        self._emit(
            "progress",
            {
                "optimizer": i,
                "first_epoch": stream.first,
                "epoch": stream.first + len(stream.costs) - 1,
                "cost": [_finite(c) for c in stream.costs],
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "grid": output_picture(self.plan.net, params, self._grid_points),
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
