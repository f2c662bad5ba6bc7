"""The training engine: one loop behind the notebook's ``model()``, the CLI, the estimator and sweeps.

``train`` runs mini-batch training of an :class:`~descentlab.nn.MLP` with any
:class:`~descentlab.optimizers.GradientTransformation` and returns the parameters and a
:class:`History`. It trains a *population* of K networks in lock-step when given K init seeds
(and optionally K data-order seeds and optimizer hyperparameters of shape ``(K,)``): member k's
result equals training it alone.

Per mini-batch step ``t`` (counting from 0 over all epochs)::

    J, grads = loss_and_grads(params, X_batch, Y_batch)
    updates, state = optimizer.update(grads, state, params)
    params = params + updates

Speed: the parameters and gradients live in two flat buffers of shape ``(K, P)`` (``(P,)`` for
one network), and the optimizer sees them as one leaf ``{"theta": ...}``. Every optimizer
transform is elementwise (clipping by global norm is per member over the whole vector), so
this gives the same numbers as the dict of ``W``/``b`` arrays with one NumPy call per
transform instead of one per layer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from descentlab._validation import (
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    check_finite_array,
    check_param,
    is_integer,
)
from descentlab.batching import batch_slices
from descentlab.nn import MLP
from descentlab.optimizers.base import GradientTransformation, Params
from descentlab.progress import ProgressBar

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "TrainResult",
    "train",
]

Shuffle = Literal["seed", "random", "none"]
LearningRate = float | np.ndarray | Callable[[int], Any]


@dataclass
class History:
    """What happened, epoch by epoch. Arrays are ``(n_epochs,)``, or ``(n_epochs, K)`` for a population.

    Attributes:
      cost: mean training cost over the epoch's mini-batches, weighted by batch size (the
        average per-example cost seen while training).
      last_batch_cost: the cost of the epoch's last mini-batch (what the seed printed).
      learning_rate: the learning rate at the epoch's first step (``nan`` if unknown).
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
        """The history of population member ``k`` alone (1-D arrays)."""
        pick = (lambda a: a[:, k] if a.ndim == 2 else a) if self.cost.ndim == 2 else (lambda a: a)
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
        )


class Callback(Protocol):
    """Called after every epoch; returns a bool mask ``(K,)`` (or a bool) of members to stop."""

    def __call__(self, epoch: int, logs: dict[str, np.ndarray]) -> np.ndarray | bool: ...


class EarlyStopping:
    """Stop a member when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor`` is ``"cost"`` (lower is better) or ``"val_accuracy"`` (higher is better; it only
    changes on evaluation epochs, so patience counts evaluations there). Works per member of a
    population.
    """

    def __init__(self, monitor: str = "cost", patience: int = 100, min_delta: float = 0.0):
        check_param("EarlyStopping", "monitor", monitor, Options(("cost", "val_accuracy")))
        check_param("EarlyStopping", "patience", patience, Interval(1, None, integer=True))
        check_param("EarlyStopping", "min_delta", min_delta, Interval(0, None))
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.best: np.ndarray | None = None
        self.wait: np.ndarray | None = None

    def __call__(self, epoch: int, logs: dict[str, np.ndarray]) -> np.ndarray | bool:
        value = logs.get(self.monitor)
        if value is None:
            return False
        value = np.asarray(value, dtype=float)
        sign = 1.0 if self.monitor == "cost" else -1.0
        if self.best is None:
            self.best = sign * value
            self.wait = np.zeros(value.shape, dtype=int)
            return False
        improved = sign * value < self.best - self.min_delta
        self.best = np.where(improved, sign * value, self.best)
        self.wait = np.where(improved, 0, self.wait + 1)
        return self.wait >= self.patience


class _FlatParams:
    """Parameters (or gradients) as views ``{"W1": ..., "b1": ...}`` into one ``(K, P)`` buffer."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], population: int | None):
        sizes = [math.prod(s) for s in shapes.values()]
        lead = () if population is None else (population,)
        self.flat = np.zeros(lead + (sum(sizes),))
        self.views: Params = {}
        offset = 0
        for (key, shape), size in zip(shapes.items(), sizes, strict=True):
            self.views[key] = self.flat[..., offset : offset + size].reshape(lead + shape)
            offset += size

    def load(self, params: Params) -> None:
        for k, v in self.views.items():
            v[...] = params[k]

    def export(self) -> Params:
        return {k: v.copy() for k, v in self.views.items()}


def _as_seed_list(seed: Any, name: str) -> list[int] | None:
    if seed is None or is_integer(seed):
        return None
    if isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str):
        seeds = [int(s) for s in seed]
        if not seeds:
            raise InvalidParameterError(f"The {name!r} parameter of train must not be empty.")
        return seeds
    raise InvalidParameterError(
        f"The {name!r} parameter of train must be an int, a sequence of ints or None. "
        f"Got {seed!r} instead."
    )


class _DataOrder:
    """Per epoch, the order of the examples: shared ``(m,)`` or per member ``(K, m)``, or None.

    ``seed``: the seed's order, ``RandomState(data_seed + epoch + 1).permutation(m)``
    (the seed's ``model()`` starts at 10 and adds one before every epoch).
    ``random``: ``default_rng(data_seed).permutation(m)`` drawn afresh each epoch.
    ``none``: the data's own order every epoch.

    Members that share a data seed share one draw (the orders are computed once per distinct
    seed and repeated), so a population of many configurations over a few seeds pays for a
    few permutations per epoch, not K.
    """

    def __init__(self, shuffle: str, data_seed: Any, m: int):
        self.shuffle, self.m = shuffle, m
        seeds = _as_seed_list(data_seed, "data_seed")
        self.per_member = seeds is not None and shuffle != "none"
        self.n_orders = len(seeds) if self.per_member else None
        if seeds is None:
            seeds = [10 if data_seed is None and shuffle == "seed" else data_seed]
        unique = list(dict.fromkeys(seeds))
        self.repeat = None if len(unique) == len(seeds) else [unique.index(s) for s in seeds]
        if shuffle == "seed":
            self.seeds = unique
            # Re-seeding one legacy generator draws what a fresh RandomState(seed) draws
            # (batching.seed_permutation) at a twentieth of the cost.
            self.legacy = np.random.RandomState(0)
        elif shuffle == "random":
            self.rngs = [np.random.default_rng(s) for s in unique]

    def __call__(self, epoch: int) -> np.ndarray | None:
        if self.shuffle == "none":
            return None
        if self.shuffle == "seed":
            perms = []
            for s in self.seeds:
                self.legacy.seed(s + epoch + 1)
                perms.append(self.legacy.permutation(self.m))
        else:
            perms = [rng.permutation(self.m) for rng in self.rngs]
        if not self.per_member:
            return perms[0]
        stacked = np.stack(perms)
        return stacked if self.repeat is None else stacked[self.repeat]


def _gather(AT: np.ndarray, perm: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The examples in the order ``perm`` as columns: ``AT[perm]`` transposed to ``(..., n, m)``.

    ``AT`` is ``(m, n)`` (examples as rows) and ``perm`` is ``(m,)`` or ``(K, m)``; the rows are
    taken into the preallocated ``out`` (``(m, n)`` or ``(K, m, n)``) with ``np.take``, several
    times faster than fancy indexing, and the result is the same transposed view as before.
    """
    np.take(AT, perm, axis=0, out=out)
    return out.swapaxes(-1, -2)


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


def _learning_rate_at(learning_rate: LearningRate | None, step: int) -> np.ndarray | float:
    if learning_rate is None:
        return math.nan
    if callable(learning_rate):
        return learning_rate(step)
    return learning_rate


def _check_data(net: MLP, X: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    net.check_inputs(X)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_features, m); got shape {X.shape}.")
    check_finite_array(name, X)
    y = y.reshape(-1)
    if y.size != X.shape[1]:
        raise DataError(f"Found {X.shape[1]} examples in {name} and {y.size} labels in y.")
    if y.size and (y.min() < 0 or y.max() >= net.n_classes or np.any(y != np.round(y))):
        bad = y[(y < 0) | (y >= net.n_classes) | (y != np.round(y))][0]
        raise DataError(
            f"Labels must be class indices in [0, {net.n_classes - 1}] for this network; "
            f"found {bad!r}."
        )
    return X


def _history(
    epochs_done: list[tuple[Any, Any, Any]],
    evals: list[tuple[int, Any, Any]],
    lead: tuple[int, ...],
    validated: bool,
) -> History:
    """Stack the per-epoch and per-evaluation records into a :class:`History`."""

    def stack(values: list[Any]) -> np.ndarray:
        return np.asarray(values, dtype=float).reshape((len(values), *lead))

    costs, last, lrs = zip(*epochs_done, strict=True) if epochs_done else ((), (), ())
    at, train_acc, val_acc = zip(*evals, strict=True) if evals else ((), (), ())
    return History(
        cost=stack(list(costs)),
        last_batch_cost=stack(list(last)),
        learning_rate=stack(list(lrs)),
        eval_epochs=np.asarray(at, dtype=int),
        train_accuracy=stack(list(train_acc)),
        val_accuracy=stack(list(val_acc) if validated else []),
    )


def train(
    net: MLP,
    optimizer: GradientTransformation,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    params: Params | None = None,
    seed: int | Sequence[int] | None = None,
    init: str = "he",
    shuffle: Shuffle = "random",
    data_seed: int | Sequence[int] | None = None,
    learning_rate: LearningRate | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    eval_every: int = 100,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    label: str = "",
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    opt_state: Any = None,
    max_cost: float | None = None,
) -> TrainResult:
    """Train ``net`` with ``optimizer`` by mini-batch gradient descent for ``epochs`` epochs.

    Args:
      net: the architecture.
      optimizer: any gradient transformation (e.g. ``adam(0.0007)``); for a population its
        hyperparameters may be arrays ``(K,)``.
      X: inputs ``(n_features, m)``.
      y: class indices ``(m,)`` (for one sigmoid output: 0/1).
      epochs: number of passes over the data (``>= 1``).
      batch_size: examples per step; 1 is SGD, ``>= m`` is batch GD.
      params: starting parameters (copied); if None they are initialised with ``seed``.
      seed: init seed, or a sequence of K seeds for a population of K networks.
      init: ``he``, ``xavier`` or ``seed`` (the seed's ``np.random.seed(3)`` He init).
      shuffle: ``random`` (a Generator seeded by ``data_seed``), ``seed`` (the seed's order:
        ``np.random.seed(data_seed + epoch + 1)``, ``data_seed`` defaulting to 10) or ``none``.
      data_seed: seed of the data order, or K seeds (one order per member); with
        ``shuffle="random"`` it defaults to ``seed``, so one seed fixes the whole run.
      learning_rate: the optimizer's learning rate or schedule, only to record it in the history.
      validation: ``(X_val (n_features, m_val), y_val (m_val,))`` for validation accuracy.
      eval_every: measure accuracies after every ``eval_every`` epochs and after the last.
      callbacks: called after each epoch; see :class:`EarlyStopping`.
      progress: draw a progress bar (None: only on a terminal).
      label: shown before the progress bar.
      on_epoch: called after each epoch with the epoch's logs (for live displays); its logs
        also hold ``"params"``, the current parameters as views into the engine's buffers
        (read them during the call; copy them to keep them).
      opt_state: resume from this optimizer state (``TrainResult.opt_state`` of an earlier call
        with the same network, optimizer and population) instead of ``optimizer.init``; the
        step count and moments then carry on. Give the matching ``params`` with it.

    Returns:
      a :class:`TrainResult`. Training stops early when every member has diverged (the cost
      became NaN or inf or exceeded ``max_cost``: the message says so and the history up to then is kept), when every
      member was stopped by a callback, or on Ctrl-C (status ``interrupted``).
    """
    check_param("train", "epochs", epochs, Interval(1, None, integer=True), allow_array=False)
    if not is_integer(batch_size) or batch_size < 1:
        raise InvalidParameterError(
            f"The 'batch_size' parameter of train must be an int >= 1. Got {batch_size!r} instead."
        )
    check_param("train", "shuffle", shuffle, Options(("seed", "random", "none")))
    check_param("train", "eval_every", eval_every, Interval(1, None, integer=True))
    if max_cost is None:
        max_cost = 100 * math.log(net.n_classes)
    check_param("train", "max_cost", max_cost, Interval(0, None, "neither"))
    X = _check_data(net, X, y, "X")
    y = np.asarray(y).reshape(-1).astype(np.int64)
    m = X.shape[1]
    if validation is not None:
        X_val = _check_data(net, validation[0], validation[1], "X_val")
        y_val = np.asarray(validation[1]).reshape(-1).astype(np.int64)

    # Parameters: given, or one network per init seed.
    if params is None:
        seeds = _as_seed_list(seed, "seed")
        params = net.init(seeds if seeds is not None else seed, method=init)
    population = net.check_params(params)
    if data_seed is None and shuffle == "random":
        data_seed = seed  # one seed makes the whole run reproducible
    order = _DataOrder(shuffle, data_seed, m)
    if order.n_orders is not None:
        if population is None:  # one init, K data orders: K copies of the network
            params = {k: np.repeat(v[None], order.n_orders, axis=0) for k, v in params.items()}
            population = order.n_orders
        if order.n_orders != population:
            raise DataError(
                f"Got {order.n_orders} data seeds for a population of {population} networks; "
                "give one data seed per member or a single shared one."
            )

    theta = _FlatParams(net.shapes(), population)
    theta.load(params)
    grad = _FlatParams(net.shapes(), population)
    tree_theta = {"theta": theta.flat}
    state = optimizer.init(tree_theta) if opt_state is None else opt_state

    Y = net.targets(y)
    XT, YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
    orders = () if order.n_orders is None else (order.n_orders,)
    XT_buf, YT_buf = np.empty(orders + XT.shape), np.empty(orders + YT.shape)
    slices = batch_slices(m, batch_size)
    lead = () if population is None else (population,)
    K = 1 if population is None else population

    # One tuple per finished epoch and per evaluation, appended in one step each, so that
    # Ctrl-C anywhere leaves only complete records.
    epochs_done: list[tuple[Any, Any, Any]] = []  # (mean cost, last batch cost, lr)
    evals: list[tuple[int, Any, Any]] = []  # (epoch, train accuracy, validation accuracy)
    stopped_epoch = np.full(K, -1)
    diverged = np.zeros(K, dtype=bool)
    snapshots: dict[int, Params] = {}
    status, message = "completed", ""
    step = 0
    start = time.perf_counter()
    bar = ProgressBar(epochs, label, enabled=progress)

    def snapshot(members: np.ndarray) -> None:
        for k in np.flatnonzero(members):
            snapshots[int(k)] = {
                key: (v[k] if population else v).copy() for key, v in theta.views.items()
            }

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(epochs):
                perm = order(epoch)
                if perm is None:
                    Xe, Ye = X, Y
                else:  # (n, m), or (K, n, m) with one order per member
                    Xe, Ye = _gather(XT, perm, XT_buf), _gather(YT, perm, YT_buf)
                lr = np.broadcast_to(_learning_rate_at(learning_rate, step), lead).copy()
                total = np.zeros(lead)
                for s in slices:
                    cost, _ = net.loss_and_grads(
                        theta.views, Xe[..., s], Ye[..., s], out=grad.views
                    )
                    updates, state = optimizer.update(
                        {"theta": grad.flat.copy()}, state, tree_theta
                    )
                    theta.flat += updates["theta"]
                    total += cost * (s.stop - s.start)
                    step += 1
                epoch_cost = total / m
                epochs_done.append((epoch_cost, cost, lr))
                logs: dict[str, Any] = {"cost": epoch_cost, "last_batch_cost": cost}

                if epoch % eval_every == eval_every - 1 or epoch == epochs - 1 or epoch == 0:
                    logs["train_accuracy"] = _accuracy(net, theta.views, X, y, population)
                    if validation is not None:
                        logs["val_accuracy"] = _accuracy(net, theta.views, X_val, y_val, population)
                    evals.append((epoch, logs["train_accuracy"], logs.get("val_accuracy")))

                active = stopped_epoch < 0
                flat_cost = np.reshape(epoch_cost, K)
                bad = active & ~(flat_cost <= max_cost)  # NaN compares False
                if bad.any():
                    snapshot(bad)
                    diverged |= bad
                    stopped_epoch[bad] = epoch
                for cb in callbacks:
                    stop = np.broadcast_to(np.asarray(cb(epoch, logs), dtype=bool), (K,))
                    newly = stop & (stopped_epoch < 0)
                    if newly.any():
                        snapshot(newly)
                        stopped_epoch[newly] = epoch
                if on_epoch is not None:
                    on_epoch(epoch, {**logs, "params": theta.views})
                if bar.enabled:
                    finite = flat_cost[np.isfinite(flat_cost)]
                    bar.update(epoch + 1, cost=float(finite.mean()) if finite.size else math.nan)
                if (stopped_epoch >= 0).all():
                    break
    except KeyboardInterrupt:
        status = "interrupted"
        message = (
            f"Interrupted after {len(epochs_done)} of {epochs} epochs; the history so far is kept."
        )
    finally:
        bar.close()
    seconds = time.perf_counter() - start

    if status != "interrupted":
        if diverged.all():
            first = int(stopped_epoch.min())
            status, message = "diverged", _diverged_message(first, max_cost)
        elif (stopped_epoch >= 0).all():
            status, message = "early_stopped", f"Stopped early at epoch {int(stopped_epoch.max())}."
        elif diverged.any():
            message = f"{int(diverged.sum())} of {K} members diverged (cost NaN, inf or > {max_cost:.3g})."

    final = theta.export()
    for k, snap in snapshots.items():
        for key in final:
            if population:
                final[key][k] = snap[key]
            else:
                final[key] = snap[key]
    history = _history(epochs_done, evals, lead, validation is not None)
    return TrainResult(
        params=final,
        history=history,
        status=status,
        message=message,
        seconds=seconds,
        stopped_epoch=stopped_epoch,
        diverged=diverged,
        population=population,
        opt_state=state,
        max_cost=max_cost,
    )
