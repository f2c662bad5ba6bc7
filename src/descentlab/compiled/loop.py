"""The compiled engine's training loop: chunks of whole epochs run by :mod:`.kernels`.

:class:`CompiledLoop` is :class:`descentlab.records.LoopBase` with a :meth:`~CompiledLoop.run`
that hands whole epochs to numba-compiled code: the data orders and the scheduled learning
rates of the chunk are drawn in Python first (the same draws as the NumPy engine's), then
every mini-batch of every epoch of every member runs without Python in between. Divergence is
checked inside, after every epoch, exactly as the NumPy engine checks it. A chunk ends where
Python must look (an evaluation, the callbacks) and is sized to take about
:data:`CHUNK_SECONDS`, so Ctrl-C and the progress bar answer within that time (within one
epoch when an epoch takes longer).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from descentlab.batching import EpochOrder, batch_slices
from descentlab.compiled import cache, program
from descentlab.compiled.program import build_program
from descentlab.nn import ACTIVATIONS, MLP
from descentlab.optimizers.base import GradientTransformation, Params
from descentlab.records import FlatParams, LoopBase

__all__ = ["CHUNK_SECONDS", "CompiledLoop"]

CHUNK_SECONDS = 0.1
"""The wall time one compiled chunk aims at (Ctrl-C waits at most about this long)."""

_CHUNK_BYTES = 32 * 2**20  # the data orders and rates drawn ahead for one chunk, at most

_ACT = {name: i for i, name in enumerate(ACTIVATIONS)}  # same order as program.ACT_*
_MARKED: set[str] = set()  # the kernels this process has seen run (and marked warm)


class CompiledLoop(LoopBase):
    """One :func:`~descentlab.training.train` call on the compiled engine."""

    engine = "compiled"
    checks_divergence = False  # the kernels freeze diverged members themselves

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
        state = optimizer.init({"theta": self.theta.flat}) if opt_state is None else opt_state
        P = self.theta.flat.shape[-1]
        self.program = build_program(optimizer, state, population, P)
        self.order = order
        self.theta2 = self.theta.flat.reshape(self.K, P)  # a view: (1, P) for one network
        self.frozen = FlatParams(net.shapes(), population)  # the kernels' snapshots
        self.snapshot = self.frozen.flat.reshape(self.K, P)
        self.Xc = np.ascontiguousarray(X)
        self.Yc = np.ascontiguousarray(net.targets(y))
        self.bounds = np.asarray([s.start for s in batch_slices(self.m, batch_size)] + [self.m])
        self.n_batches = len(self.bounds) - 1
        widest_batch = int(np.diff(self.bounds).max())
        dims = np.asarray(net.layer_dims, dtype=np.int64)
        self.net_arrays = _network_arrays(net, dims)
        shape = program.work_shape(dims, widest_batch)
        rows = order.member_rows
        self.order_of = np.zeros(self.K, np.int64) if rows is None else np.asarray(rows, np.int64)
        self.threads = _threads(self.K)
        self.A = np.zeros((self.threads, *shape))
        self.Z = np.zeros((self.threads, *shape))
        self.D = np.zeros((self.threads, 2, shape[1]))
        self.I = np.zeros((self.threads, widest_batch), np.int64)  # the kernels' bit scratch
        self.grad = np.zeros((self.threads, P))
        self.stopped = self.stopped_epoch  # int64 (K,), written by the kernels
        self.per_epoch = 0.0  # measured seconds per epoch of the last chunk
        self.pending: tuple | None = None
        self.kernel = "parallel" if self.threads > 1 else "serial"

    def chunk_end(self, epoch: int, boundary: int) -> int:
        """Up to ``boundary``, as many epochs as fit in :data:`CHUNK_SECONDS` and the memory
        allowed for the orders and rates drawn ahead (at least one)."""
        fit = int(CHUNK_SECONDS / self.per_epoch) if self.per_epoch > 0 else 1
        per_epoch_bytes = 8 * (
            self.m * (1 + int(self.order_of.max()))
            + self.n_batches * max(1, self.program.n_rate_columns)
        )
        fit = min(fit, _CHUNK_BYTES // per_epoch_bytes)
        return max(epoch + 1, min(boundary, epoch + fit))

    def run(self, first: int, stop: int, max_cost: float) -> int:
        from descentlab.compiled import kernels  # numba: imported (and compiled) at first use

        n = stop - first
        if self.order.shuffle == "seed":  # drawn in compiled code: the same orders
            seeds = np.asarray(self.order.seeds, np.int64)
            perms = kernels.seed_orders(seeds, first, n, self.m)
        elif self.order.shuffle == "none":  # one row serves every epoch
            perms = self.order.distinct(first)[None]
        else:
            perms = np.stack([self.order.distinct(e) for e in range(first, stop)])
        rates = self.program.rates(n * self.n_batches)
        cost, last = np.zeros((n, self.K)), np.zeros((n, self.K))
        done = np.zeros(1, np.int64)
        self.pending = (cost, last, done)
        started = time.perf_counter()
        run = kernels.run_parallel if self.kernel == "parallel" else kernels.run_serial
        run(
            n, first, self.theta2, *self.net_arrays, self.Xc, self.Yc, perms, self.order_of,
            self.bounds, self.program.state, self.program.counts, self.program.ops,
            self.program.n_ops, self.program.hp, rates, self.A, self.Z, self.D, self.I, self.grad, cost,
            last,
            max_cost, self.stopped, self.diverged, self.snapshot, done,
        )  # fmt: skip
        if self.kernel not in _MARKED:
            _MARKED.add(self.kernel)
            cache.mark_warm(self.kernel)
        finished = int(done[0])
        self.per_epoch = (time.perf_counter() - started) / max(1, finished)
        self._commit()
        return first + finished

    def settle(self) -> None:
        self._commit()

    def _commit(self) -> None:
        """Record the epochs the last chunk finished (also after a Ctrl-C right after it)."""
        if self.pending is None:
            return
        cost, last, done = self.pending
        self.pending = None
        n = int(done[0])
        steps = (self.program.steps_done + self.n_batches * np.arange(n)).astype(np.int64)
        lr = self.program.first_rates(steps)
        self.program.steps_done += n * self.n_batches
        pick = (lambda a: a) if self.population is not None else (lambda a: a[0])
        for e in range(n):
            self.epochs_done.append((pick(cost[e]), pick(last[e]), pick(lr[e])))
        newly = [int(k) for k in np.flatnonzero(self.diverged) if int(k) not in self.snapshots]
        views = self.eval_views() if newly else None  # a chunk with an eval point ends there
        for k in newly:
            self.snapshots[k] = self._member(self.frozen.views, k)
            if views is not self.theta.views:
                self.eval_snapshots[k] = self._member(views, k)

    def opt_state(self) -> Any:
        self._commit()
        return self.program.export_state()

    def result(self, interrupted: str | None, seconds: float, max_cost: float):
        self._commit()
        return super().result(interrupted, seconds, max_cost)


def _network_arrays(net: MLP, dims: np.ndarray) -> tuple:
    """``(dims, w_off, b_off, act, slope, out)``: the network as the kernels read it.

    Raises:
      program.Unsupported: an MSE network (the kernels compute only cross-entropy).
    """
    if net.output not in ("sigmoid", "softmax"):
        raise program.Unsupported("an MSE (linear-output) network")
    offsets, pos = {}, 0
    for key, shape in net.shapes().items():
        offsets[key] = pos
        pos += int(np.prod(shape))
    L = len(dims) - 1
    w_off = np.asarray([offsets[f"W{l}"] for l in range(1, L + 1)], np.int64)
    b_off = np.asarray([offsets[f"b{l}"] for l in range(1, L + 1)], np.int64)
    out = program.OUT_SIGMOID if net.output == "sigmoid" else program.OUT_SOFTMAX
    return dims, w_off, b_off, _ACT[net.activation], float(net.leaky_slope), out


def _threads(K: int) -> int:
    """Threads for K members: numba's thread count (``NUMBA_NUM_THREADS``, else the CPUs),
    at most one per member; 1 below 8 members (a thread costs more than it saves there)."""
    if K < 8:
        return 1
    numba = sys.modules.get("numba")
    if numba is not None:
        available = numba.get_num_threads()
    else:  # numba's own default, without importing it; a value it cannot read is ignored
        given = os.environ.get("NUMBA_NUM_THREADS", "")
        readable = given.isascii() and given.isdigit() and int(given) >= 1
        available = int(given) if readable else os.cpu_count() or 1
    return max(1, min(available, K))
