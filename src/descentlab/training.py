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

Two engines run that loop (``engine=``, :data:`ENGINES`): :class:`_Loop` here, one NumPy call
at a time — the readable reference — and :mod:`descentlab.compiled`, whole epochs in
numba-compiled code with the same numbers to 1e-12. Both share :class:`LoopBase`
(evaluation, callbacks, stopping, the result); :func:`_drive` hands the engine as many epochs
as it may run before Python must look (an evaluation, the callbacks).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from descentlab import limits
from descentlab._validation import (
    COUNT,
    NON_NEGATIVE,
    POSITIVE,
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    as_seeds,
    check_finite_array,
    check_param,
    show,
)
from descentlab.batching import SHUFFLES, EpochOrder, batch_slices
from descentlab.checkpoint import (
    RunState,
    check_checkpoint_path,
    check_state_layout,
    read_checkpoint,
    run_identity,
    write_checkpoint,
)
from descentlab.diagnostics import Recorder
from descentlab.nn import INITIALISERS, MLP
from descentlab.optimizers.base import (
    GradientTransformation,
    Params,
    has_observers,
    learning_rate_reader,
    observe,
)
from descentlab.progress import Progress
from descentlab.records import Callback, FlatParams, History, LoopBase, TrainResult

__all__ = [
    "ENGINES",
    "EPOCHS",
    "SHUFFLES",
    "Callback",
    "EarlyStopping",
    "History",
    "TrainResult",
    "check_memory",
    "train",
]

Shuffle = Literal["seed", "random", "none"]
Engine = Literal["auto", "numpy", "compiled"]
ENGINES = ("auto", "numpy", "compiled")
"""The training engines: ``numpy`` (the readable reference loop), ``compiled`` (whole epochs in
numba-compiled code, the same numbers to 1e-12) and ``auto`` (compiled when it covers the
configuration and pays — its code compiled, the run not too short — else numpy;
:attr:`TrainResult.engine_note` says why where it could have paid; see
:mod:`descentlab.compiled`)."""
EPOCHS = Interval(1, limits.MAX_EPOCHS, integer=True)
"""The allowed number of epochs: an int in ``[1, MAX_EPOCHS]``."""


class EarlyStopping:
    """Stop a member when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor`` is ``"cost"`` (lower is better), ``"val_cost"`` (the validation cost, lower is
    better) or ``"val_accuracy"`` (higher is better); the validation figures only change on
    evaluation epochs, so patience counts evaluations there. Works per member of a population.

    A regression network (``loss="mse"`` on real-valued targets) has no accuracy (NaN):
    monitoring ``val_accuracy`` there is refused at the first evaluation, with an
    :class:`~descentlab._validation.InvalidParameterError` that says to monitor ``val_cost``.
    """

    def __init__(self, monitor: str = "cost", patience: int = 100, min_delta: float = 0.0):
        check_param(
            "EarlyStopping", "monitor", monitor, Options(("cost", "val_cost", "val_accuracy"))
        )
        patience = as_int("EarlyStopping", "patience", patience, COUNT)
        check_param("EarlyStopping", "min_delta", min_delta, NON_NEGATIVE, allow_array=False)
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.best: np.ndarray | None = None
        self.wait: np.ndarray | None = None

    def __call__(self, epoch: int, logs: dict[str, np.ndarray]) -> np.ndarray | bool:
        value = logs.get(self.monitor)
        if value is None:
            return False
        value = np.asarray(value, dtype=float)
        if self.monitor == "val_accuracy" and np.all(np.isnan(value)):
            raise InvalidParameterError(
                "EarlyStopping(monitor='val_accuracy') cannot watch a regression network: its "
                "accuracy is undefined (NaN). Monitor 'val_cost' (or 'cost') instead."
            )
        sign = -1.0 if self.monitor == "val_accuracy" else 1.0
        if self.best is None:
            self.best = sign * value
            self.wait = np.zeros(value.shape, dtype=int)
            return False
        improved = sign * value < self.best - self.min_delta
        self.best = np.where(improved, sign * value, self.best)
        self.wait = np.where(improved, 0, self.wait + 1)
        return self.wait >= self.patience

    def checkpoint_state(self) -> dict[str, np.ndarray]:
        """What a checkpoint keeps of this callback (:func:`train`'s ``checkpoint``): ``best``
        (the best value so far, signed so that lower is better) and ``wait`` (evaluations
        without improvement), ``()`` or ``(K,)``; nothing before the first epoch."""
        if self.best is None:
            return {}
        return {"best": np.asarray(self.best, dtype=float), "wait": np.asarray(self.wait)}

    def restore_checkpoint_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Carry on from :meth:`checkpoint_state`'s arrays (``train(..., resume=...)``).

        Raises:
          DataError: arrays other than ``best`` (floats) and ``wait`` (counts >= 0) of one shape.
        """
        if not arrays:
            self.best = self.wait = None
            return
        best, wait = arrays.get("best"), arrays.get("wait")
        if (
            set(arrays) != {"best", "wait"}
            or best.shape != wait.shape
            or best.dtype.kind != "f"
            or wait.dtype.kind not in "iu"
            or np.any(wait < 0)
        ):
            raise DataError(
                "the state of EarlyStopping must be 'best' (floats) and 'wait' (counts >= 0) of "
                f"one shape; found {sorted(arrays)}."
            )
        self.best, self.wait = best.astype(float), wait.astype(np.int64)


def _gather(AT: np.ndarray, perm: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The examples in the order ``perm`` as columns: ``AT[perm]`` transposed to ``(..., n, m)``.

    ``AT`` is ``(m, n)`` (examples as rows) and ``perm`` is ``(m,)`` or ``(K, m)``; the rows are
    taken into the preallocated ``out`` (``(m, n)`` or ``(K, m, n)``) with ``np.take``, several
    times faster than fancy indexing, and the result is the same transposed view as before.
    """
    np.take(AT, perm, axis=0, out=out)
    return out.swapaxes(-1, -2)


def _check_data(net: MLP, X: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as float64 ``(n_features, m)`` and ``y`` as int64 class indices ``(m,)``, checked
    (for an MSE network a float ``y`` holds real values: returned as targets ``(n_L, m)``)."""
    try:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be an array of numbers: {exc}.") from None
    net.check_inputs(X)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_features, m); got shape {X.shape}.")
    check_finite_array(name, X)
    if net.loss == "mse" and y.dtype.kind == "f":  # real-valued targets (nn.MLP.targets)
        Y = net.targets(y)
        net.check_inputs(X, Y)
        return X, Y
    y = y.ravel()
    if y.size != X.shape[1]:
        raise DataError(f"Found {X.shape[1]} examples in {name} and {y.size} labels in y.")
    if y.dtype.kind not in "biuf":
        raise DataError(f"Labels must be class indices (numbers); got an array of dtype {y.dtype}.")
    valid = (y >= 0) & (y < net.n_classes) & (y == np.round(y))
    if not np.all(valid):
        raise DataError(
            f"Labels must be class indices in [0, {net.n_classes - 1}] for this network; "
            f"found {y[~valid][0]!r}."
        )
    return X, y.astype(np.int64)


def check_memory(net: MLP, members: int, batch_size: int, m: int, epochs: int) -> None:
    """Refuse a population too large for memory (:data:`~descentlab.limits.MAX_MEMORY_BYTES`).

    The estimate is :func:`descentlab.limits.population_bytes`; :func:`train` checks it before
    it allocates anything, and experiments check it before they create their folders.

    Raises:
      InvalidParameterError: the estimate, what it is made of, and the limit.
    """
    need = limits.population_bytes(net.layer_dims, members, batch_size, m, epochs)
    if need > limits.MAX_MEMORY_BYTES:
        raise InvalidParameterError(
            f"This training would need about {need / 2**30:.3g} GiB ({members} network"
            f"{'s' if members > 1 else ''} of {net.n_params} parameters, {m} examples, "
            f"batches of {min(batch_size, m)}, {epochs} epochs); the limit is "
            f"{limits.MAX_MEMORY_BYTES / 2**30:g} GiB (descentlab.limits.MAX_MEMORY_BYTES). "
            "Train fewer networks or epochs at once, or a smaller network."
        )


class _Loop(LoopBase):
    """The NumPy engine: :meth:`epoch` runs one pass over the data, one NumPy call at a time."""

    def __init__(
        self,
        net: MLP,
        optimizer: GradientTransformation,
        X: np.ndarray,
        y: np.ndarray,
        params: Params,
        population: int | None,
        order: EpochOrder,
        batch_size: int,
        validation: tuple[np.ndarray, np.ndarray] | None,
        opt_state: Any,
    ) -> None:
        super().__init__(net, X, y, params, population, validation)
        self.optimizer, self.order = optimizer, order
        self.grad = FlatParams(net.shapes(), population)
        self.tree = {"theta": self.theta.flat}
        self.state = optimizer.init(self.tree) if opt_state is None else opt_state
        self.read_rate = learning_rate_reader(self.state)
        self.Y = net.targets(y)
        self.XT, self.YT = np.ascontiguousarray(X.T), np.ascontiguousarray(self.Y.T)
        orders = (order.n_orders,) if order.per_member else ()
        self.XT_buf, self.YT_buf = (
            np.empty(orders + self.XT.shape),
            np.empty(orders + self.YT.shape),
        )
        self.slices = batch_slices(self.m, batch_size)

    def run(self, first: int, stop: int, max_cost: float) -> int:
        del stop, max_cost  # one epoch at a time; stop_members checks divergence
        self.epoch(first)
        return first + 1

    def opt_state(self) -> Any:
        return self.state

    def observe(self, value: np.ndarray) -> None:
        self.state = observe(self.state, value)

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """One pass over the data; records and returns ``(mean cost, last batch cost)``.

        ``lr`` recorded is the rate the optimizer applied at the epoch's first step, read from
        its state (:func:`~descentlab.optimizers.base.applied_learning_rate`).
        """
        perm = self.order(epoch)
        if perm is None:
            Xe, Ye = self.X, self.Y
        else:  # (n, m), or (K, n, m) with one order per member
            Xe, Ye = _gather(self.XT, perm, self.XT_buf), _gather(self.YT, perm, self.YT_buf)
        total, lr = np.zeros(self.lead), None
        for s in self.slices:
            cost, _ = self.net.loss_and_grads(
                self.theta.views, Xe[..., s], Ye[..., s], out=self.grad.views
            )
            updates, self.state = self.optimizer.update(
                {"theta": self.grad.flat.copy()}, self.state, self.tree
            )
            self.theta.flat += updates["theta"]
            total += cost * (s.stop - s.start)
            if lr is None:
                lr = np.broadcast_to(self.read_rate(self.state), self.lead).copy()
        epoch_cost = total / self.m
        self.epochs_done.append((epoch_cost, cost, lr))
        return epoch_cost, cost


def _prepare(
    net: MLP,
    X: Any,
    y: Any,
    *,
    optimizer: Any,
    callbacks: Any,
    epochs: Any,
    batch_size: Any,
    params: Params | None,
    seed: Any,
    init: str,
    shuffle: str,
    data_seed: Any,
    validation: tuple[Any, Any] | None,
    eval_every: Any,
    max_cost: float | None,
) -> dict[str, Any]:
    """Check every input of :func:`train` before anything is allocated; return them ready."""
    if not isinstance(net, MLP):
        raise InvalidParameterError(
            f"The 'net' parameter of train must be an MLP. Got {type(net).__name__} instead."
        )
    if not isinstance(optimizer, GradientTransformation):
        raise InvalidParameterError(
            "The 'optimizer' parameter of train must be a GradientTransformation (e.g. "
            f"descentlab.optimizers.adam(0.001)). Got {type(optimizer).__name__} instead."
        )
    if isinstance(callbacks, str | bytes) or not all(
        callable(cb) for cb in (callbacks if isinstance(callbacks, Sequence) else [None])
    ):
        raise InvalidParameterError(
            "The 'callbacks' parameter of train must be a sequence of callables "
            f"(epoch, logs) -> stop. Got {show(callbacks)} instead."
        )
    epochs = as_int("train", "epochs", epochs, EPOCHS)
    batch_size = as_int("train", "batch_size", batch_size)
    check_param("train", "shuffle", shuffle, Options(SHUFFLES))
    check_param("train", "init", init, Options(INITIALISERS))
    eval_every = as_int("train", "eval_every", eval_every)
    if max_cost is None:  # MSE costs have no natural scale: 1e8 is far above any sane start
        max_cost = 1e8 if net.loss == "mse" else 100 * math.log(net.n_classes)
    check_param("train", "max_cost", max_cost, POSITIVE, allow_array=False)
    X, y = _check_data(net, X, y, "X")
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise InvalidParameterError(
                "The 'validation' parameter of train must be a pair (X_val, y_val)."
            )
        validation = _check_data(net, validation[0], validation[1], "X_val")
    if data_seed is None and shuffle == "random":
        data_seed = seed  # one seed makes the whole run reproducible
    order = EpochOrder(shuffle, data_seed, X.shape[1], owner="train")
    seeds = as_seeds("train", "seed", seed)
    if params is not None:
        population = net.check_params(params)
    else:
        population = None if seeds is None else len(seeds)
    if order.n_orders is not None and population is not None and order.n_orders != population:
        raise DataError(
            f"Got {order.n_orders} data seeds for a population of {population} networks; "
            "give one data seed per member or a single shared one."
        )
    check_memory(net, population or order.n_orders or 1, batch_size, X.shape[1], epochs)
    if params is None:
        params = net.init(seed, method=init)  # one seed, or the K seeds checked above
    if population is None and order.n_orders is not None:
        # one init, K data orders: K copies of the network
        params = {k: np.repeat(v[None], order.n_orders, axis=0) for k, v in params.items()}
        population = order.n_orders
    return {
        "X": X,
        "y": y,
        "epochs": epochs,
        "batch_size": batch_size,
        "eval_every": eval_every,
        "max_cost": float(max_cost),
        "validation": validation,
        "order": order,
        "params": params,
        "population": population,
    }


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
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    eval_every: int = 100,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    label: str = "",
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    opt_state: Any = None,
    max_cost: float | None = None,
    engine: Engine = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: str | os.PathLike[str] | None = None,
    diagnostics: bool = False,
) -> TrainResult:
    """Train ``net`` with ``optimizer`` by mini-batch gradient descent for ``epochs`` epochs.

    Per mini-batch step ``t``: ``J, grads = loss_and_grads(params, X_batch, Y_batch)``,
    ``updates, state = optimizer.update(grads, state, params)``, ``params = params + updates``.

    Args:
      net: the architecture.
      optimizer: any gradient transformation (e.g. ``adam(0.0007)``); for a population its
        hyperparameters may be arrays ``(K,)``. The history's learning rate is the one its
        state says it applied (:func:`~descentlab.optimizers.base.applied_learning_rate`).
      X: inputs ``(n_features, m)``.
      y: class indices ``(m,)`` (for one sigmoid output: 0/1).
      epochs: number of passes over the data, in ``[1, MAX_EPOCHS]``.
      batch_size: examples per step; 1 is SGD, ``>= m`` is batch GD.
      params: starting parameters (copied); if None they are initialised with ``seed``.
      seed: init seed, or a sequence of K seeds for a population of K networks (seeds are
        ints in ``[0, 2**32 - 1]``).
      init: ``he``, ``xavier`` or ``seed`` (the seed's ``np.random.seed(3)`` He init).
      shuffle: ``random`` (a Generator seeded by ``data_seed``), ``seed`` (the exercise's
        order, ``batching.seed_order(m, data_seed + epoch + 1)``, ``data_seed`` defaulting to
        ``batching.SEED_DATA_SEED`` = 10) or ``none``.
      data_seed: seed of the data order, or K seeds (one order per member); with
        ``shuffle="random"`` it defaults to ``seed``, so one seed fixes the whole run.
      validation: ``(X_val (n_features, m_val), y_val (m_val,))`` for validation accuracy.
      eval_every: measure accuracies after every ``eval_every`` epochs, the first and the last.
      callbacks: called after each epoch; see :class:`EarlyStopping`.
      progress: draw a progress bar (None: only on a terminal or in a notebook).
      label: shown before the progress bar.
      on_epoch: called after each epoch with the epoch's logs (for live displays); its logs
        also hold ``"params"``, the current parameters as views into the engine's buffers
        (read them during the call; copy them to keep them), and ``"stopped"``, a bool array
        ``(K,)`` (``(1,)`` for one network): the members that have diverged or were stopped
        by a callback so far (a member's parameters no longer change once it is stopped).
      opt_state: resume from this optimizer state (``TrainResult.opt_state`` of an earlier call
        with the same network, optimizer and population) instead of ``optimizer.init``; the
        step count and moments then carry on. Give the matching ``params`` with it.
      max_cost: a member whose epoch cost exceeds it (or is NaN or inf) has diverged;
        default ``100 * ln(n_classes)`` (``1e8`` for an MSE network).
      engine: ``auto`` (default), ``numpy`` or ``compiled`` (see :data:`ENGINES`); the
        result says which ran (``TrainResult.engine``) and, for ``auto``, why it fell back.
      checkpoint: write the run's checkpoint to this ``.npz`` path (and its ``.json`` beside
        it; :mod:`descentlab.checkpoint`) after every ``checkpoint_every`` epochs, after the
        last epoch, when every member has stopped, and on Ctrl-C — which then stops the run
        at the end of the epoch it arrived in (a second Ctrl-C stops at once, keeping the
        last checkpoint written).
      checkpoint_every: epochs between checkpoints (counted from the run's start); None:
        only at the end and on Ctrl-C. Needs ``checkpoint``.
      resume: continue the run saved in this checkpoint, bit for bit (same engine): give
        the same arguments as the run that wrote it, ``epochs`` being the total (at least
        the epochs it has done), and neither ``params`` nor ``opt_state``. Its parameters,
        optimizer state (schedule step included), data order, stopped members, the state of
        callbacks that keep one (:class:`EarlyStopping`) and history carry on; the returned
        history starts at epoch 0. A checkpoint of another run (network, optimizer or its
        settings, population, data, data order, batch size, ``eval_every``, ``max_cost``)
        or a damaged one is refused before anything is trained or written. Usually the same
        path as ``checkpoint``.
      diagnostics: measure the training diagnostics (:mod:`descentlab.diagnostics`: gradient
        norm, update-to-parameter ratio per layer over the epoch, sharpness against its
        stability threshold, gradient noise scale) after every evaluation epoch
        (``eval_every``, the first, the last; ``eval_every=1`` for every epoch), at the
        parameters the optimizer trains, into ``History.diagnostics``. They cost about
        ``2 * POWER_ITERS + 1`` full-batch gradients per evaluation and do not change the
        training. Not with ``checkpoint`` or ``resume``.

    Returns:
      a :class:`TrainResult`. Training stops early when every member has diverged (the message
      says so and the history up to then is kept), when every member was stopped by a
      callback, or on Ctrl-C (status ``interrupted``).

    Raises:
      InvalidParameterError, DataError: a bad setting or bad data, a population larger
        than :data:`~descentlab.limits.MAX_MEMORY_BYTES`, a checkpoint that cannot be
        written or resumed — before anything is trained.
    """
    check_param("train", "engine", engine, Options(ENGINES))
    _check_diagnostics(diagnostics, checkpoint, resume)
    ready = _prepare(
        net,
        X,
        y,
        optimizer=optimizer,
        callbacks=callbacks,
        epochs=epochs,
        batch_size=batch_size,
        params=params,
        seed=seed,
        init=init,
        shuffle=shuffle,
        data_seed=data_seed,
        validation=validation,
        eval_every=eval_every,
        max_cost=max_cost,
    )
    epochs, every, max_cost = ready["epochs"], ready["eval_every"], ready["max_cost"]
    saver, saved = _checkpointing(
        net,
        optimizer,
        ready,
        callbacks,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        given=(params, opt_state),
    )
    if saved is not None:
        ready["params"], opt_state = saved.params, saved.opt_state
    first = 0 if saved is None else saved.epochs_done
    loop, note = _make_loop(engine, net, optimizer, ready, opt_state, epochs - first)
    if saved is not None:
        _restore(loop, ready["order"], callbacks, saved, epochs, every, resume)
    recorder = None
    if diagnostics:
        recorder = Recorder(net, optimizer, ready["X"], ready["y"], ready["batch_size"])
    interrupted: str | None = None  # the message of a Ctrl-C
    start = time.perf_counter()
    with Progress(epochs, label, enabled=progress) as bar, _held_interrupts(saver):
        try:
            with (
                np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
                _one_blas_thread(net, ready["batch_size"], ready["X"].shape[1]),
            ):
                _drive(loop, epochs, every, max_cost, callbacks, on_epoch, bar, saver, recorder)
        except KeyboardInterrupt:
            loop.settle()
            done = len(loop.epochs_done)
            interrupted = (
                f"Interrupted after {done} of {epochs} epochs; the history so far is kept."
            )
            if saver is not None and saver.saved_at:
                interrupted += f" The checkpoint '{saver.path}' holds {saver.saved_at} epochs."
    result = loop.result(interrupted, time.perf_counter() - start, max_cost)
    result.engine_note = note
    return result


def _check_diagnostics(diagnostics: Any, checkpoint: Any, resume: Any) -> None:
    """``diagnostics`` is a bool, and not asked for with a checkpoint."""
    if not isinstance(diagnostics, bool | np.bool_):
        raise InvalidParameterError(
            "The 'diagnostics' parameter of train must be True or False. "
            f"Got {show(diagnostics)} instead."
        )
    if diagnostics and (checkpoint is not None or resume is not None):
        raise InvalidParameterError(
            "train(diagnostics=True) cannot be checkpointed or resumed yet (a checkpoint does "
            "not keep the diagnostics); drop 'checkpoint'/'resume' or the diagnostics."
        )


def _make_loop(
    engine: str,
    net: MLP,
    optimizer: GradientTransformation,
    ready: dict[str, Any],
    opt_state: Any,
    epochs: int,
) -> tuple[LoopBase, str]:
    """The loop of the chosen engine, and for ``auto`` the reason it fell back to NumPy."""
    args = (
        net,
        optimizer,
        ready["X"],
        ready["y"],
        ready["params"],
        ready["population"],
        ready["order"],
        ready["batch_size"],
        ready["validation"],
        opt_state,
    )
    if engine != "numpy":
        from descentlab.compiled import compiled_loop  # numba is imported only here

        loop, note = compiled_loop(args, epochs=epochs, required=engine == "compiled")
        if loop is not None:
            return loop, ""
        return _Loop(*args), note
    return _Loop(*args), ""


def _is_evaluation(epoch: int, epochs: int, every: int) -> bool:
    """Whether accuracies are measured after ``epoch``: every ``every``, the first, the last."""
    return epoch % every == every - 1 or epoch == epochs - 1 or epoch == 0


def _next_visit(epoch: int, epochs: int, every: int, each_epoch: bool) -> int:
    """One past the first epoch from ``epoch`` on that Python must see after it ends."""
    if each_epoch or epoch == 0:
        return epoch + 1
    return min(epoch + (every - 1 - epoch % every), epochs - 1) + 1


ONE_BLAS_THREAD = (2**15, 2**26)
"""Products (multiply-adds of one member's layer on one mini-batch) in this range run on one
BLAS thread: several threads cost several times the work there (they wait for each other; on
a busy machine, for a core). Measured on the project's two-core machine under load, NumPy
engine, 3 epochs: 40-100-100-10, batch 100, one network 0.12-0.15 s on one thread against
2.0-3.0 s on two, 8 networks 0.84-1.27 s against 3.5-6.2 s; 40-400-400-10, batch 256,
0.77-1.03 s against 3.8-5.7 s. Smaller products never reach BLAS's threads; larger ones may
gain from them."""


@contextlib.contextmanager
def _one_blas_thread(net: MLP, batch_size: int, m: int) -> Iterator[None]:
    """BLAS limited to one thread while training ``net`` on batches of ``batch_size`` (of
    ``m`` examples), when its largest product is in :data:`ONE_BLAS_THREAD`'s range."""
    dims = net.layer_dims
    largest = min(batch_size, m) * max(a * b for a, b in zip(dims[1:], dims[:-1], strict=False))
    low, high = ONE_BLAS_THREAD
    if not low <= largest < high:
        yield
        return
    from threadpoolctl import threadpool_limits  # imported only where it matters

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _drive(
    loop: LoopBase,
    epochs: int,
    every: int,
    max_cost: float,
    callbacks: Sequence[Callback],
    on_epoch: Callable[[int, dict[str, Any]], None] | None,
    bar: Progress,
    saver: _Saver | None = None,
    recorder: Recorder | None = None,
) -> None:
    """Run ``loop`` to the end, from the epochs it has done (0, or a checkpoint's): the
    engine trains up to the next epoch Python must see (an evaluation, a checkpoint, or every
    epoch when there are callbacks or ``on_epoch``), then Python evaluates, calls the
    callbacks and ``on_epoch``, moves the bar and writes the checkpoint if one is due.

    An optimizer that adapts to a measured loss (reduce-on-plateau,
    :func:`~descentlab.optimizers.base.observe`) is fed one after every epoch: the validation
    cost with validation data, else the epoch's training cost.

    With a diagnostics ``recorder``, Python also sees the epoch before each evaluation (the
    parameters at the evaluation epoch's start, for the update ratio) and the diagnostics are
    measured after each evaluation."""
    observes = has_observers(loop.opt_state())
    each_epoch = bool(callbacks) or on_epoch is not None or observes
    epoch = len(loop.epochs_done)
    while epoch < epochs and not loop.all_stopped:
        boundary = _next_visit(epoch, epochs, every, each_epoch)
        if saver is not None:
            boundary = min(boundary, saver.next_due(epoch))
        if recorder is not None:
            if boundary - 1 > epoch and _is_evaluation(boundary - 1, epochs, every):
                boundary -= 1  # see the evaluation epoch's start, for the update ratio
            recorder.start(loop.theta.flat)
        stop = loop.chunk_end(epoch, boundary)
        epoch = loop.run(epoch, stop, max_cost)
        last = epoch - 1
        cost, last_cost = loop.epochs_done[-1][:2]
        logs: dict[str, Any] = {"cost": cost, "last_batch_cost": last_cost}
        if _is_evaluation(last, epochs, every):
            logs.update(loop.evaluate(last))
            if recorder is not None:
                measured = recorder.measure(last, loop.theta.flat, loop.opt_state())
                loop.record_diagnostics(last, measured)
                logs.update(measured)
        if observes:
            measured = logs.get("val_cost")
            if measured is None:
                measured = cost if loop.validation is None else loop.validation_cost()
            loop.observe(measured)
        loop.stop_members(last, logs, max_cost, callbacks)
        if on_epoch is not None:
            stopped = loop.stopped_epoch >= 0
            on_epoch(last, {**logs, "params": loop.eval_views(), "stopped": stopped})
        if bar.enabled:
            flat = np.ravel(cost)
            finite = flat[np.isfinite(flat)]
            bar.update(epoch, cost=float(finite.mean()) if finite.size else math.nan)
        if saver is not None:
            saver.after_epoch(loop, epoch, epochs)


# ----------------------------------------------------------------------------- checkpoints


class _Saver:
    """Writes a run's checkpoint (:mod:`descentlab.checkpoint`) after the epochs it is due:
    every ``every`` epochs, the last one, when every member has stopped, and the epoch a
    Ctrl-C arrived in (``requested``, set by :func:`_held_interrupts`), then stops the run."""

    def __init__(
        self,
        path: Any,
        every: int | None,
        run: dict[str, Any],
        order: EpochOrder,
        callbacks: Sequence[Callback],
    ) -> None:
        self.path, self.every, self.run = path, every, run
        self.order, self.callbacks = order, callbacks
        self.requested = False  # a Ctrl-C arrived: stop after the current epoch
        self.saved_at = 0  # the epochs the last checkpoint written holds

    def next_due(self, epoch: int) -> int:
        """One past the next epoch from ``epoch`` on after which a checkpoint is due."""
        return (epoch // self.every + 1) * self.every if self.every else limits.MAX_EPOCHS + 1

    def after_epoch(self, loop: LoopBase, done: int, epochs: int) -> None:
        """``done`` epochs are finished (and evaluated, the callbacks called): write the
        checkpoint if it is due; raise ``KeyboardInterrupt`` if a Ctrl-C asked to stop."""
        finished = done >= epochs or loop.all_stopped
        due = finished or self.requested or (self.every is not None and done % self.every == 0)
        if due:
            write_checkpoint(
                self.path,
                self.run,
                _run_state(loop, self.order, self.callbacks, epochs),
                checkpoint_every=self.every,
            )
            self.saved_at = done
        if self.requested and not finished:
            raise KeyboardInterrupt


def _run_state(
    loop: LoopBase, order: EpochOrder, callbacks: Sequence[Callback], epochs: int
) -> RunState:
    """What the loop carries to its next epoch, for a checkpoint."""
    opt_state = loop.opt_state()  # first: the compiled engine records its last chunk here
    return RunState(
        epochs_done=len(loop.epochs_done),
        epochs=epochs,
        params=loop.theta.views,
        opt_state=opt_state,
        generators=order.generator_states(),
        history=loop.history(),
        stopped_epoch=loop.stopped_epoch,
        diverged=loop.diverged,
        snapshots=loop.snapshots,
        eval_snapshots=loop.eval_snapshots,
        callbacks=[
            cb.checkpoint_state() if hasattr(cb, "checkpoint_state") else None for cb in callbacks
        ],
    )


@contextlib.contextmanager
def _held_interrupts(saver: _Saver | None) -> Iterator[None]:
    """While a checkpointed run trains, the first Ctrl-C only asks it to stop after the
    current epoch (with a checkpoint there); a second one interrupts at once. Only where
    Python's own Ctrl-C handler is in place, in the main thread; elsewhere nothing changes."""
    if (
        saver is None
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        if saver.requested:
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt
        saver.requested = True

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _checkpointing(
    net: MLP,
    optimizer: GradientTransformation,
    ready: dict[str, Any],
    callbacks: Sequence[Callback],
    *,
    checkpoint: Any,
    checkpoint_every: Any,
    resume: Any,
    given: tuple[Any, Any],
) -> tuple[_Saver | None, RunState | None]:
    """Check :func:`train`'s checkpoint arguments; the saver (None without ``checkpoint``)
    and the checkpoint to resume from (None without ``resume``), read and checked."""
    if checkpoint_every is not None:
        if checkpoint is None:
            raise InvalidParameterError(
                "The 'checkpoint_every' parameter of train needs checkpoint=PATH (where to "
                "write the checkpoints)."
            )
        checkpoint_every = as_int("train", "checkpoint_every", checkpoint_every, EPOCHS)
    if checkpoint is None and resume is None:
        return None, None
    if resume is not None and any(g is not None for g in given):
        raise InvalidParameterError(
            "train(resume=...) continues from the checkpoint's parameters and optimizer "
            "state; do not give 'params' or 'opt_state' with it."
        )
    path = source = None
    if checkpoint is not None:
        path = check_checkpoint_path("train", "checkpoint", checkpoint, writable=True)
    if resume is not None:
        source = check_checkpoint_path("train", "resume", resume, writable=False)
    population = ready["population"]
    lead = () if population is None else (population,)
    template = optimizer.init({"theta": np.zeros((*lead, net.n_params))})
    check_state_layout(template)
    validation = ready["validation"] or (None, None)
    run = run_identity(
        net,
        optimizer,
        {"X": ready["X"], "y": ready["y"], "X_val": validation[0], "y_val": validation[1]},
        population=population,
        order=ready["order"],
        batch_size=ready["batch_size"],
        eval_every=ready["eval_every"],
        max_cost=ready["max_cost"],
    )
    saved = None
    if source is not None:
        saved = read_checkpoint(
            source, run, net=net, template=template, epochs=ready["epochs"], callbacks=callbacks
        )
    saver = None if path is None else _Saver(path, checkpoint_every, run, ready["order"], callbacks)
    return saver, saved


def _restore(
    loop: LoopBase,
    order: EpochOrder,
    callbacks: Sequence[Callback],
    saved: RunState,
    epochs: int,
    every: int,
    source: Any,
) -> None:
    """Put the checkpoint's records, data order and callbacks' state into the new loop.

    An evaluation the checkpoint holds only because the run that wrote it ended there (its
    last epoch, not an evaluation epoch of this longer run) is left out, so the history is
    the one a single run of ``epochs`` records."""
    history = saved.history
    last = saved.epochs_done - 1
    evals = history.eval_epochs
    if evals.size and evals[-1] == last and not _is_evaluation(last, epochs, every):
        history = History(
            cost=history.cost,
            last_batch_cost=history.last_batch_cost,
            learning_rate=history.learning_rate,
            eval_epochs=evals[:-1],
            train_accuracy=history.train_accuracy[:-1],
            val_accuracy=history.val_accuracy[:-1],
            val_cost=history.val_cost[:-1],
        )
    loop.resume(history, saved.stopped_epoch, saved.diverged, saved.snapshots, saved.eval_snapshots)
    if saved.generators is not None:
        order.set_generator_states(saved.generators)
    for i, (cb, arrays) in enumerate(zip(callbacks, saved.callbacks, strict=True)):
        if arrays is None:
            continue
        try:
            cb.restore_checkpoint_state(arrays)
        except ValueError as exc:
            raise DataError(f"Cannot resume from '{source}': callback {i}: {exc}") from None
