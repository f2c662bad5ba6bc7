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
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from descentlab.nn import MLP
from descentlab.optimizers.base import Params, evaluates_elsewhere, evaluation_params

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
      val_cost: the validation cost at each evaluation, shaped as ``val_accuracy`` (empty
        without validation data).
      diagnostics: with ``train(..., diagnostics=True)``, the training diagnostics at each
        evaluation, name -> ``(n_evals,)`` or ``(n_evals, K)`` (see
        :class:`descentlab.diagnostics.Recorder` for the names); empty otherwise.
    """

    cost: np.ndarray
    last_batch_cost: np.ndarray
    learning_rate: np.ndarray
    eval_epochs: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    val_cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)

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
            val_cost=pick(self.val_cost),
            diagnostics={k: pick(v) for k, v in self.diagnostics.items()},
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
            val_cost=self.val_cost[:keep].copy(),
            diagnostics={k: v[:keep].copy() for k, v in self.diagnostics.items()},
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
        parameters it had when it stopped) — the ones to evaluate and predict with: for a
        schedule-free optimizer its average ``x`` (see
        :func:`~descentlab.optimizers.base.evaluation_params`).
      train_params: the parameters the optimizer took its gradients at, where they differ from
        ``params`` (schedule-free: ``y``), else None; :attr:`resume_params` picks the right one.
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
    train_params: Params | None = None

    @property
    def resume_params(self) -> Params:
        """The parameters to continue from: ``train(..., params=result.resume_params,
        opt_state=result.opt_state)`` carries on exactly where this run stopped."""
        return self.params if self.train_params is None else self.train_params

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
            train_params=None
            if self.train_params is None
            else {key: v[k].copy() for key, v in self.train_params.items()},
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


def _blocks(
    measure: Any, params: Params, X: np.ndarray, y: np.ndarray, population: int | None
) -> np.ndarray:
    """``measure(params, X, y)`` (``net.accuracy``, ``net.cost``) over blocks of members, so
    that evaluating a large population on all the examples never holds more than about 2**16
    activations per unit at once (member k's value is the same as in one call)."""
    block = max(1, 2**16 // max(1, X.shape[-1]))
    if population is None or population <= block:
        return measure(params, X, y)
    return np.concatenate(
        [
            measure({k: v[a : a + block] for k, v in params.items()}, X, y)
            for a in range(0, population, block)
        ]
    )


def _accuracy(
    net: MLP, params: Params, X: np.ndarray, y: np.ndarray, population: int | None
) -> np.ndarray:
    """``net.accuracy`` over blocks of members (see :func:`_blocks`)."""
    return _blocks(net.accuracy, params, X, y, population)


def _history(
    epochs_done: list[tuple[Any, Any, Any]],
    evals: list[tuple[int, Any, Any, Any]],
    lead: tuple[int, ...],
    validated: bool,
    diagnostics: list[dict[str, Any]] | None = None,
) -> History:
    """Stack the per-epoch and per-evaluation records into a :class:`History` (the
    diagnostics of an evaluation a Ctrl-C cut short are NaN)."""

    def stack(values: list[Any]) -> np.ndarray:
        return np.asarray(values, dtype=float).reshape((len(values), *lead))

    def column(records: list[tuple[Any, ...]], i: int) -> list[Any]:
        return [record[i] for record in records]

    return History(
        cost=stack(column(epochs_done, 0)),
        last_batch_cost=stack(column(epochs_done, 1)),
        learning_rate=stack(column(epochs_done, 2)),
        eval_epochs=np.asarray(column(evals, 0), dtype=int),
        train_accuracy=stack(column(evals, 1)),
        val_accuracy=stack(column(evals, 2) if validated else []),
        val_cost=stack(column(evals, 3) if validated else []),
        diagnostics=_stack_diagnostics(diagnostics or [], len(evals), lead),
    )


def _stack_diagnostics(
    records: list[dict[str, Any]], n_evals: int, lead: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """One ``(n_evals, *lead)`` array per diagnostic name, NaN where a record is missing."""
    if not records:
        return {}
    out = {}
    for key in records[0]:
        values = np.full((n_evals, *lead), np.nan)
        for i, record in enumerate(records[:n_evals]):
            values[i] = record[key]
        out[key] = values
    return out


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
        # (epoch, train accuracy, validation accuracy, validation cost)
        self.evals: list[tuple[int, Any, Any, Any]] = []
        self.diagnostics: list[dict[str, Any]] = []  # one per evaluation, when measured
        self._eval: FlatParams | None = None  # the evaluation point, if it differs
        self._moves: bool | None = None  # whether it differs (evaluates_elsewhere)
        self._Y_val: np.ndarray | None = None
        self.stopped_epoch = np.full(self.K, -1)
        self.diverged = np.zeros(self.K, dtype=bool)
        self.snapshots: dict[int, Params] = {}
        self.eval_snapshots: dict[int, Params] = {}  # where the evaluation point differs

    def history(self) -> History:
        """The :class:`History` of the epochs and evaluations recorded so far."""
        return _history(
            self.epochs_done, self.evals, self.lead, self.validation is not None, self.diagnostics
        )

    def resume(
        self,
        history: History,
        stopped_epoch: np.ndarray,
        diverged: np.ndarray,
        snapshots: dict[int, Params],
        eval_snapshots: dict[int, Params],
    ) -> None:
        """Carry on a run from a checkpoint (:mod:`descentlab.checkpoint`): its history
        becomes this loop's first records, and its stopped members stay stopped with the
        parameters they froze. The arrays are written in place (an engine may hold views)."""
        self.epochs_done = list(
            zip(history.cost, history.last_batch_cost, history.learning_rate, strict=True)
        )
        validated = self.validation is not None
        self.evals = [
            (
                int(epoch),
                history.train_accuracy[i],
                history.val_accuracy[i] if validated else None,
                history.val_cost[i] if validated else None,
            )
            for i, epoch in enumerate(history.eval_epochs)
        ]
        self.stopped_epoch[...] = stopped_epoch
        self.diverged[...] = diverged
        self.snapshots = dict(snapshots)
        self.eval_snapshots = dict(eval_snapshots)

    def evaluate(self, epoch: int) -> dict[str, np.ndarray]:
        """Training (and validation) accuracy, and the validation cost, now, recorded for
        ``epoch`` — at the optimizer's evaluation point (:meth:`eval_views`)."""
        views = self.eval_views()
        logs = {"train_accuracy": _accuracy(self.net, views, self.X, self.y, self.population)}
        if self.validation is not None:
            X_val, y_val = self.validation
            logs["val_accuracy"] = _accuracy(self.net, views, X_val, y_val, self.population)
            logs["val_cost"] = self.validation_cost(views)
        self.evals.append(
            (epoch, logs["train_accuracy"], logs.get("val_accuracy"), logs.get("val_cost"))
        )
        return logs

    def record_diagnostics(self, epoch: int, values: dict[str, np.ndarray]) -> None:
        """Keep the diagnostics measured after evaluation ``epoch``; a member stopped before
        it gets NaN (its parameters no longer count)."""
        gone = (self.stopped_epoch >= 0) & (self.stopped_epoch < epoch)
        record = {}
        for key, v in values.items():
            v = np.array(v, dtype=float)
            if self.population is not None and gone.any():
                v[gone] = np.nan
            record[key] = v
        self.diagnostics.append(record)

    def validation_cost(self, views: Params | None = None) -> np.ndarray:
        """The cost on the validation data at ``views`` (default: the evaluation point)."""
        X_val, y_val = self.validation
        if self._Y_val is None:
            self._Y_val = self.net.targets(y_val)
        views = self.eval_views() if views is None else views
        return _blocks(self.net.cost, views, X_val, self._Y_val, self.population)

    def eval_views(self) -> Params:
        """The parameters to evaluate: :attr:`theta`'s views, or for an optimizer that
        evaluates elsewhere (schedule-free) its evaluation point, in a second buffer."""
        if self._moves is None:  # the state's structure, found once
            self._moves = evaluates_elsewhere(self.opt_state())
        if not self._moves:
            return self.theta.views
        moved = evaluation_params(self.opt_state(), {"theta": self.theta.flat})["theta"]
        if self._eval is None:
            self._eval = FlatParams(self.net.shapes(), self.population)
        self._eval.flat[...] = moved
        return self._eval.views

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
        views = self.eval_views()
        for k in np.flatnonzero(members):
            self.snapshots[int(k)] = self._member(self.theta.views, int(k))
            if views is not self.theta.views:
                self.eval_snapshots[int(k)] = self._member(views, int(k))
        self.stopped_epoch[members] = epoch

    def _member(self, views: Params, k: int) -> Params:
        """Member k's parameters in ``views`` (laid out as :attr:`theta`'s), as copies."""
        return {key: (v[k] if self.population else v).copy() for key, v in views.items()}

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
        final = self._with_snapshots(self.theta.views, self.snapshots)
        views = self.eval_views()
        evaluated = (
            None if views is self.theta.views else self._with_snapshots(views, self.eval_snapshots)
        )
        return TrainResult(
            params=final if evaluated is None else evaluated,
            train_params=None if evaluated is None else final,
            history=self.history(),
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

    def _with_snapshots(self, views: Params, snapshots: dict[int, Params]) -> Params:
        """Copies of ``views`` with each stopped member's frozen parameters put back."""
        final = {k: v.copy() for k, v in views.items()}
        for k, snap in snapshots.items():
            for key in final:
                if self.population:
                    final[key][k] = snap[key]
                else:
                    final[key] = snap[key]
        return final

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

    def observe(self, value: np.ndarray) -> None:
        """Feed a measured loss to the optimizer (:func:`~descentlab.optimizers.base.observe`)."""
        raise NotImplementedError  # pragma: no cover - each engine's loop defines it

    def settle(self) -> None:
        """Record whatever the engine finished but has not recorded yet (after a Ctrl-C)."""
