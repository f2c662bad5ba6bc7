"""What a training run keeps, and the loop every engine fills it through.

:class:`History` and :class:`TrainResult` are what :func:`descentlab.training.train` returns;
:class:`FlatParams` holds a population's parameters in one ``(K, P)`` buffer with per-layer
views; :class:`LoopBase` is the part of a training loop both engines share — the records of
finished epochs and evaluations, the stopped and diverged members, evaluation, callbacks and
the result. The engines' loops (``training._Loop``, ``compiled.loop.CompiledLoop``) subclass
it; this module imports neither, so the flow stays one-way: engines → records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from descentlab.nn import MLP
from descentlab.optimizers.base import Params

__all__ = ["Callback", "FlatParams", "History", "LoopBase", "TrainResult"]


@dataclass
class History:
    """What happened, epoch by epoch. Arrays are ``(n_epochs,)``, or ``(n_epochs, K)`` for a population.

    Attributes:
      cost: mean training cost over the epoch's mini-batches, weighted by batch size (the
        average per-example cost seen while training).
      last_batch_cost: the cost of the epoch's last mini-batch (what the seed printed).
      learning_rate: the learning rate the optimizer applied at the epoch's first step, read
        from its state (``nan`` for an optimizer that does not keep one).
      eval_epochs: the epochs (0-based) after which accuracies were measured.
      train_accuracy, val_accuracy: ``(n_evals,)`` or ``(n_evals, K)``; ``val_accuracy`` is
        empty without validation data.
    """

    cost: np.ndarray
    last_batch_cost: np.ndarray
    learning_rate: np.ndarray
    eval_epochs: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray

    @property
    def n_epochs(self) -> int:
        return int(self.cost.shape[0])

    def member(self, k: int) -> History:
        """The history of population member ``k`` alone (1-D arrays; a lone network's as it is)."""

        def pick(a: np.ndarray) -> np.ndarray:
            return a[:, k] if a.ndim == 2 else a

        return History(
            cost=pick(self.cost),
            last_batch_cost=pick(self.last_batch_cost),
            learning_rate=pick(self.learning_rate),
            eval_epochs=self.eval_epochs,
            train_accuracy=pick(self.train_accuracy),
            val_accuracy=pick(self.val_accuracy),
        )

    def head(self, n: int) -> History:
        """The first ``n`` epochs (and the evaluations among them), as copies."""
        keep = int(np.searchsorted(self.eval_epochs, n))
        return History(
            cost=self.cost[:n].copy(),
            last_batch_cost=self.last_batch_cost[:n].copy(),
            learning_rate=self.learning_rate[:n].copy(),
            eval_epochs=self.eval_epochs[:keep].copy(),
            train_accuracy=self.train_accuracy[:keep].copy(),
            val_accuracy=self.val_accuracy[:keep].copy(),
        )


def _diverged_message(epoch: int, max_cost: float) -> str:
    return (
        f"Training diverged at epoch {epoch}: the cost became NaN, inf or larger than "
        f"{max_cost:.3g} (the learning rate may be too large). The history up to there is kept."
    )


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes:
      params: trained parameters (a member that stopped early or diverged keeps the
        parameters it had when it stopped).
      history: see :class:`History`.
      status: ``completed``, ``early_stopped`` (every member), ``diverged`` (every member),
        ``interrupted`` (Ctrl-C: the history so far is kept).
      message: one sentence for people, empty when completed normally.
      seconds: wall time of the loop.
      stopped_epoch: per member, the epoch at which it stopped, or -1 if it ran to the end.
      diverged: per member, whether its cost became NaN/inf.
      opt_state: the optimizer's final state; pass it back as ``train(..., params=result.params,
        opt_state=result.opt_state)`` to continue training where this call stopped.
      max_cost: the cost above which a member counted as diverged.
      engine: the engine that ran, ``numpy`` or ``compiled``.
      engine_note: why ``engine="auto"`` ran ``numpy`` where the compiled engine could have
        paid: a configuration it does not cover, or its code not compiled yet (empty
        otherwise: when it ran ``compiled``, the engine was named, or the run was too short
        for the compiled engine to pay, see :mod:`descentlab.compiled`).
    """

    params: Params
    history: History
    status: str
    message: str
    seconds: float
    stopped_epoch: np.ndarray
    diverged: np.ndarray
    population: int | None = None
    opt_state: Any = None
    max_cost: float = math.inf
    engine: str = "numpy"
    engine_note: str = ""

    def member(self, k: int) -> TrainResult:
        """Population member ``k`` as if it had been trained alone.

        Its parameters, its history up to the epoch it stopped at (divergence or a callback),
        and the status and message a lone run of it gives; ``seconds`` stays the population's.
        """
        if self.population is None:
            return self
        stopped = int(self.stopped_epoch[k])
        history = self.history.member(k)
        history = history.head(stopped + 1 if stopped >= 0 else history.n_epochs)
        if self.diverged[k]:
            status, message = "diverged", _diverged_message(stopped, self.max_cost)
        elif stopped >= 0:
            status, message = "early_stopped", f"Stopped early at epoch {stopped}."
        elif self.status == "interrupted":
            status, message = self.status, self.message
        else:
            status, message = "completed", ""
        return TrainResult(
            params={key: v[k].copy() for key, v in self.params.items()},
            history=history,
            status=status,
            message=message,
            seconds=self.seconds,
            stopped_epoch=self.stopped_epoch[k : k + 1].copy(),
            diverged=self.diverged[k : k + 1].copy(),
            max_cost=self.max_cost,
            engine=self.engine,
            engine_note=self.engine_note,
        )


class Callback(Protocol):
    """Called after every epoch; returns a bool mask ``(K,)`` (or a bool) of members to stop."""

    def __call__(self, epoch: int, logs: dict[str, np.ndarray]) -> np.ndarray | bool: ...


class FlatParams:
    """Parameters (or gradients) as views ``{"W1": ..., "b1": ...}`` into one ``(K, P)`` buffer."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], population: int | None):
        lead = () if population is None else (population,)
        self.flat = np.zeros(lead + (sum(math.prod(s) for s in shapes.values()),))
        self.views: Params = {}
        offset = 0
        for key, shape in shapes.items():
            size = math.prod(shape)
            self.views[key] = self.flat[..., offset : offset + size].reshape(lead + shape)
            offset += size

    def load(self, params: Params) -> None:
        for k, v in self.views.items():
            v[...] = params[k]

    def export(self) -> Params:
        return {k: v.copy() for k, v in self.views.items()}


def _accuracy(
    net: MLP, params: Params, X: np.ndarray, y: np.ndarray, population: int | None
) -> np.ndarray:
    """``net.accuracy`` over blocks of members, so that evaluating a large population on all
    the examples never holds more than about 2**16 activations per unit at once (member k's
    value is the same as in one call)."""
    block = max(1, 2**16 // max(1, X.shape[-1]))
    if population is None or population <= block:
        return net.accuracy(params, X, y)
    return np.concatenate(
        [
            net.accuracy({k: v[a : a + block] for k, v in params.items()}, X, y)
            for a in range(0, population, block)
        ]
    )


def _history(
    epochs_done: list[tuple[Any, Any, Any]],
    evals: list[tuple[int, Any, Any]],
    lead: tuple[int, ...],
    validated: bool,
) -> History:
    """Stack the per-epoch and per-evaluation records into a :class:`History`."""

    def stack(values: list[Any]) -> np.ndarray:
        return np.asarray(values, dtype=float).reshape((len(values), *lead))

    def column(records: list[tuple[Any, Any, Any]], i: int) -> list[Any]:
        return [record[i] for record in records]

    return History(
        cost=stack(column(epochs_done, 0)),
        last_batch_cost=stack(column(epochs_done, 1)),
        learning_rate=stack(column(epochs_done, 2)),
        eval_epochs=np.asarray(column(evals, 0), dtype=int),
        train_accuracy=stack(column(evals, 1)),
        val_accuracy=stack(column(evals, 2) if validated else []),
    )


class LoopBase:
    """What every engine's loop shares: the parameters, the records, the stopped members.

    An engine's loop (:class:`_Loop` here, :class:`descentlab.compiled.loop.CompiledLoop`)
    fills ``theta`` (a :class:`FlatParams`), ``epochs_done`` (one ``(mean cost, last batch
    cost, lr)`` record per finished epoch), ``stopped_epoch`` and ``diverged``, and implements
    :meth:`run` and :meth:`opt_state`; evaluation, callbacks and the result are shared. One
    record per finished epoch and per evaluation is appended in one step each, so Ctrl-C
    anywhere leaves only complete records.
    """

    engine = "numpy"
    checks_divergence = True  # stop_members marks diverged members (else run() does)

    def __init__(
        self,
        net: MLP,
        X: np.ndarray,
        y: np.ndarray,
        params: Params,
        population: int | None,
        validation: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        self.net, self.X, self.y = net, X, y
        self.population, self.validation = population, validation
        self.m = X.shape[1]
        self.lead = () if population is None else (population,)
        self.K = 1 if population is None else population
        self.theta = FlatParams(net.shapes(), population)
        self.theta.load(params)
        self.epochs_done: list[tuple[Any, Any, Any]] = []  # (mean cost, last batch cost, lr)
        self.evals: list[tuple[int, Any, Any]] = []  # (epoch, train acc, validation acc)
        self.stopped_epoch = np.full(self.K, -1)
        self.diverged = np.zeros(self.K, dtype=bool)
        self.snapshots: dict[int, Params] = {}

    def evaluate(self, epoch: int) -> dict[str, np.ndarray]:
        """Training (and validation) accuracy now, recorded for ``epoch``."""
        logs = {
            "train_accuracy": _accuracy(self.net, self.theta.views, self.X, self.y, self.population)
        }
        if self.validation is not None:
            X_val, y_val = self.validation
            logs["val_accuracy"] = _accuracy(
                self.net, self.theta.views, X_val, y_val, self.population
            )
        self.evals.append((epoch, logs["train_accuracy"], logs.get("val_accuracy")))
        return logs

    def stop_members(
        self, epoch: int, logs: dict[str, Any], max_cost: float, callbacks: Sequence[Callback]
    ) -> None:
        """Mark members whose cost is NaN, inf or above ``max_cost`` as diverged, and the members
        a callback asks to stop as stopped; each keeps its parameters of this epoch."""
        cost = logs["cost"]  # () or (K,): either broadcasts against the (K,) masks
        bad = (self.stopped_epoch < 0) & ~(cost <= max_cost)  # NaN compares False
        if self.checks_divergence and bad.any():
            self._freeze(bad, epoch)
            self.diverged |= bad
        for cb in callbacks:
            stop = np.broadcast_to(np.asarray(cb(epoch, logs), dtype=bool), (self.K,))
            newly = stop & (self.stopped_epoch < 0)
            if newly.any():
                self._freeze(newly, epoch)

    def _freeze(self, members: np.ndarray, epoch: int) -> None:
        for k in np.flatnonzero(members):
            self.snapshots[int(k)] = self._member(self.theta, int(k))
        self.stopped_epoch[members] = epoch

    def _member(self, buffer: FlatParams, k: int) -> Params:
        """Member k's parameters in ``buffer`` (laid out as :attr:`theta`), as copies."""
        return {key: (v[k] if self.population else v).copy() for key, v in buffer.views.items()}

    @property
    def all_stopped(self) -> bool:
        return bool((self.stopped_epoch >= 0).all())

    def result(self, interrupted: str | None, seconds: float, max_cost: float) -> TrainResult:
        """The :class:`TrainResult`: stopped members get their frozen parameters back;
        ``interrupted`` is the message of a Ctrl-C, None if there was none."""
        if interrupted is None:
            status, message = self._status(max_cost)
        else:
            status, message = "interrupted", interrupted
        final = self.theta.export()
        for k, snap in self.snapshots.items():
            for key in final:
                if self.population:
                    final[key][k] = snap[key]
                else:
                    final[key] = snap[key]
        return TrainResult(
            params=final,
            history=_history(self.epochs_done, self.evals, self.lead, self.validation is not None),
            status=status,
            message=message,
            seconds=seconds,
            stopped_epoch=self.stopped_epoch,
            diverged=self.diverged,
            population=self.population,
            opt_state=self.opt_state(),
            max_cost=max_cost,
            engine=self.engine,
        )

    def _status(self, max_cost: float) -> tuple[str, str]:
        if self.diverged.all():
            return "diverged", _diverged_message(int(self.stopped_epoch.min()), max_cost)
        if self.all_stopped:
            return "early_stopped", f"Stopped early at epoch {int(self.stopped_epoch.max())}."
        if self.diverged.any():
            return "completed", (
                f"{int(self.diverged.sum())} of {self.K} members diverged "
                f"(cost NaN, inf or > {max_cost:.3g})."
            )
        return "completed", ""

    def run(self, first: int, stop: int, max_cost: float) -> int:
        """Train epochs ``first, first + 1, ..`` up to ``stop`` (exclusive) or until every
        member has stopped; record them and return the epoch after the last one finished."""
        raise NotImplementedError  # pragma: no cover - each engine's loop defines it

    def chunk_end(self, epoch: int, boundary: int) -> int:
        """Where the next :meth:`run` from ``epoch`` should stop, given that Python must see
        epoch ``boundary - 1`` (an evaluation, the callbacks, the last epoch)."""
        del boundary
        return epoch + 1

    def opt_state(self) -> Any:
        """The optimizer state now, in the NumPy engine's form."""
        raise NotImplementedError  # pragma: no cover - each engine's loop defines it

    def settle(self) -> None:
        """Record whatever the engine finished but has not recorded yet (after a Ctrl-C)."""
