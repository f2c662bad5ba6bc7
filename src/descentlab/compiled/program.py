"""An optimizer as data for the compiled loops: an opcode table per member, and its state.

A built-in optimizer records its :class:`~descentlab.optimizers.base.Recipe` (the transforms
it chains and their checked hyperparameters). :func:`build_program` turns it into:

- ``ops[k, i, :]``: member k's i-th transform: its opcode (``kernels.OP_*``), the state slots
  it uses, where its hyperparameters sit in ``hp[k, :]``, the column of its learning rate in
  the chunk's rate table (-1 for a fixed rate) and two flags;
- ``hp[k, :]``: member k's hyperparameters (a ``(K,)`` setting gives each member its value),
  :data:`HP_WIDTH` columns per transform; the per-member numbers a transform keeps in its
  state (NAdam's product of momenta, schedule-free's weight sum and largest rate) sit in
  the columns after its hyperparameters and are updated there in place;
- ``state[s, k, :]``: slot s of member k's state (a moment, a momentum buffer), ``(P,)``;
- ``counts[k, i]``: the step count of member k's i-th transform.

The state comes from the NumPy engine's own state (``optimizer.init`` or a resumed
``opt_state``) and goes back into it (:meth:`Program.export_state`), so a run can carry on in
either engine. Anything the compiled loops do not cover (a custom transformation or schedule,
clipping by a norm shared across a population) gives a reason instead of a program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descentlab.optimizers.adaptive import (
    ScaleByAdadeltaState,
    ScaleByAdamaxState,
    ScaleByNadamState,
    ScaleByRadamState,
)
from descentlab.optimizers.base import Recipe, StackedState, recipe_of
from descentlab.optimizers.plateau import ReduceOnPlateau
from descentlab.optimizers.schedule_free import ScheduleFreeState
from descentlab.optimizers.sign import ScaleByLionState, ScaleByRpropState
from descentlab.optimizers.transforms import (
    EmaState,
    ScaleByAdagradState,
    ScaleByAdamState,
    ScaleByLearningRateState,
    ScaleByRmsState,
    TraceState,
    scheduled_rate,
)
from descentlab.schedules import Schedule

__all__ = [
    "BLAS_MIN",
    "HP_WIDTH",
    "Program",
    "Unsupported",
    "blas_bound",
    "build_program",
    "work_shape",
]

# Opcodes of the optimizer program (read by descentlab.compiled.kernels).
OP_LEARNING_RATE = 0
OP_TRACE = 1
OP_EMA = 2
OP_RMS = 3
OP_ADAGRAD = 4
OP_ADAM = 5
OP_DECAY = 6
OP_CLIP = 7
OP_NADAM = 8
OP_RADAM = 9
OP_ADAMAX = 10
OP_ADADELTA = 11
OP_LION = 12
OP_RPROP = 13
OP_SCHEDULE_FREE = 14
# Columns of an op's row in the program table ``ops[k, i, :]``.
COL_CODE, COL_A, COL_B, COL_C, COL_HP, COL_RATE, COL_FLAG1, COL_FLAG2 = range(8)
OP_WIDTH = 8
HP_WIDTH = 6
"""Columns of ``hp[k, :]`` per transform: its hyperparameters, then its per-member numbers."""

ACT_RELU, ACT_TANH, ACT_LEAKY, ACT_SIGMOID = range(4)

BLAS_MIN = 32768
"""A product of at least this many multiply-adds goes to BLAS (``np.dot``; SciPy's BLAS,
multi-threaded) in the serial kernel; smaller ones run as loops over the batch in SIMD."""


def blas_bound(layer_dims: tuple[int, ...], batch_size: int, members: int) -> bool:
    """Whether most of a step's multiply-adds are products large enough for BLAS: then the
    NumPy engine, whose products are BLAS calls (one per member of a population), is as fast
    or faster than the kernels' loops, and ``auto`` keeps it. Measured with one BLAS thread
    (``benchmarks/bench_wide.py``): 40-100-100-10, batch 100, one network 17 against 24 ms
    per epoch; a population of 24 on two threads, 2.8-3.3 s against 5.7-6.9 s for 3 epochs."""
    del members  # the products are per member in both engines
    products = [a * b * batch_size for a, b in zip(layer_dims[1:], layer_dims[:-1], strict=False)]
    return bool(products) and 2 * sum(p for p in products if p >= BLAS_MIN) >= sum(products)


OUT_SIGMOID, OUT_SOFTMAX = range(2)


def work_shape(dims: np.ndarray, batch: int) -> tuple[int, int]:
    """The shape ``(L + 1, widest layer * batch)`` of one thread's activation buffers: one
    flat row per layer, read as ``(n_l, B)`` for a batch of B <= ``batch``."""
    return (len(dims), int(max(dims)) * int(batch))


class Unsupported(Exception):
    """The compiled engine cannot run this configuration; ``str()`` says why."""


# kind -> (opcode, hyperparameter names in hp order, state fields as slots, flags)
_OPS: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "scale_by_learning_rate": (OP_LEARNING_RATE, (), ()),
    "trace": (OP_TRACE, ("decay", "keep"), ("trace",)),
    "ema": (OP_EMA, ("decay",), ("ema",)),
    "scale_by_rms": (OP_RMS, ("decay", "eps"), ("nu", "mu")),
    "scale_by_adagrad": (OP_ADAGRAD, ("eps",), ("sum_of_squares",)),
    "scale_by_adam": (OP_ADAM, ("b1", "b2", "eps", "eps_root"), ("mu", "nu", "nu_max")),
    "add_decayed_weights": (OP_DECAY, ("weight_decay",), ()),
    "clip_by_global_norm": (OP_CLIP, ("max_norm",), ()),
    "scale_by_nadam": (OP_NADAM, ("b1", "b2", "eps", "momentum_decay"), ("mu", "nu")),
    "scale_by_radam": (OP_RADAM, ("b1", "b2", "eps"), ("mu", "nu")),
    "scale_by_adamax": (OP_ADAMAX, ("b1", "b2", "eps"), ("mu", "nu")),
    "scale_by_adadelta": (OP_ADADELTA, ("decay", "eps"), ("nu", "delta_nu")),
    "scale_by_lion": (OP_LION, ("b1", "b2"), ("mu",)),
    "scale_by_rprop": (
        OP_RPROP,
        ("eta_minus", "eta_plus", "min_scale", "max_scale"),
        ("prev", "scale"),
    ),
    "scale_by_schedule_free": (OP_SCHEDULE_FREE, ("b1", "weight_lr_power"), ("z",)),
}
# kind -> the per-member numbers of its state: (field, hp column after the op's first, the
# settings that make it one number per member in the NumPy state)
_SCALARS: dict[str, tuple[tuple[str, int, tuple[str, ...]], ...]] = {
    "scale_by_nadam": (("mu_product", 4, ("b1", "momentum_decay")),),
    "scale_by_schedule_free": (
        ("weight_sum", 2, ("learning_rate", "weight_lr_power")),
        ("max_lr", 3, ("learning_rate",)),
    ),
}
_RATE_COLUMN = {"scale_by_learning_rate": 0, "scale_by_schedule_free": 4}
"""The hp column of a fixed rate (a schedule gets a column of the chunk's rate table)."""
_RATE_AHEAD = {"scale_by_learning_rate": 0, "scale_by_schedule_free": 1}
"""The step a transform reads its schedule at, after its count (schedule-free reads t + 1)."""
_FLAGS = {
    "trace": ("nesterov", "passthrough"),
    "scale_by_rms": ("centered", "debias"),
    "scale_by_adam": ("amsgrad", "no_root"),
    "add_decayed_weights": (None, "passthrough"),
    "clip_by_global_norm": ("per_member", None),
}
_STATES = {
    "scale_by_learning_rate": ScaleByLearningRateState,
    "trace": TraceState,
    "ema": EmaState,
    "scale_by_rms": ScaleByRmsState,
    "scale_by_adagrad": ScaleByAdagradState,
    "scale_by_adam": ScaleByAdamState,
    "scale_by_nadam": ScaleByNadamState,
    "scale_by_radam": ScaleByRadamState,
    "scale_by_adamax": ScaleByAdamaxState,
    "scale_by_adadelta": ScaleByAdadeltaState,
    "scale_by_lion": ScaleByLionState,
    "scale_by_rprop": ScaleByRpropState,
    "scale_by_schedule_free": ScheduleFreeState,
}


@dataclass
class _Op:
    """One transform of the block of members ``members`` (a slice of the population)."""

    kind: str
    settings: dict[str, Any]
    members: slice
    block: int | None  # the block's population size, None for a single network
    index: int  # its position i in the members' programs
    slots: tuple[int, ...]  # one state slot per state field
    state: Any  # its NumPy state, as imported
    first_count: int = 0


@dataclass
class Program:
    """The compiled form of one optimizer for ``K`` networks of ``P`` parameters each."""

    K: int
    P: int
    ops: np.ndarray  # (K, n_max, OP_WIDTH) int64
    n_ops: np.ndarray  # (K,) int64
    hp: np.ndarray  # (K, HP_WIDTH * n_max) float64
    state: np.ndarray  # (S, K, P) float64
    counts: np.ndarray  # (K, n_max) int64
    transforms: list[_Op]
    layout: Any  # the NumPy state's structure, rebuilt by export_state
    schedules: list[tuple[Schedule, _Op, np.ndarray, int]] = field(default_factory=list)
    n_rate_columns: int = 0
    steps_done: int = 0

    def rates(self, n_steps: int) -> np.ndarray:
        """The scheduled rates of the next ``n_steps`` updates, ``(n_steps, columns)``.

        A schedule is called with its transform's own step count, as
        :func:`~descentlab.optimizers.transforms.scale_by_learning_rate` calls it (its values
        for an array of steps are those of one step at a time: ``tests/test_schedules.py``),
        plus one for schedule-free averaging (it reads the rate one step ahead).
        """
        table = np.zeros((n_steps, max(1, self.n_rate_columns)))
        for schedule, op, columns, ahead in self.schedules:
            first = op.first_count + self.steps_done + ahead
            steps = np.arange(first, first + n_steps, dtype=np.int64)
            values = np.asarray(schedule(steps), dtype=np.float64)
            table[:, columns] = values.reshape(n_steps, -1)
        return table

    def first_rates(self, epoch_steps: np.ndarray) -> np.ndarray:
        """Per member, the rate applied at each of the given steps (from the start of this
        run): the first learning-rate transform of its chain, NaN if it has none —
        what :func:`~descentlab.optimizers.base.applied_learning_rate` reads. ``(n, K)``."""
        out = np.full((len(epoch_steps), self.K), np.nan)
        seen = np.zeros(self.K, dtype=bool)
        for op in self.transforms:
            rows = op.members
            if op.kind != "scale_by_learning_rate" or seen[rows].all():
                continue
            seen[rows] = True
            rate = op.settings["learning_rate"]
            if callable(rate):
                values = np.asarray(rate(op.first_count + epoch_steps), dtype=np.float64)
                out[:, rows] = values.reshape(len(epoch_steps), -1)
            else:
                out[:, rows] = rate
        return out

    def export_state(self) -> Any:
        """The optimizer state in the NumPy engine's form (``TrainResult.opt_state``)."""
        return _export(self.layout, self)


def build_program(optimizer: Any, opt_state: Any, population: int | None, P: int) -> Program:
    """The program of ``optimizer`` for ``population`` networks (None: one) of P parameters,
    starting from ``opt_state`` (the NumPy engine's state: ``optimizer.init`` or a resumed one).

    Raises:
      Unsupported: a part without a recipe (a custom transformation), a schedule that is not a
        :class:`~descentlab.schedules.Schedule`, a norm clipped across members, or a state
        that does not have the optimizer's structure.
    """
    K = population or 1
    ops: list[_Op] = []
    layout = _walk(recipe_of(optimizer), opt_state, slice(0, K), population, ops)
    n_max = 1 + max((op.index for op in ops), default=0)
    table = np.zeros((K, n_max, OP_WIDTH), np.int64)
    table[:, :, COL_RATE] = -1
    n_slots = 1 + max((max(op.slots, default=-1) for op in ops), default=-1)
    program = Program(
        K=K,
        P=P,
        ops=table,
        n_ops=np.zeros(K, np.int64),
        hp=np.zeros((K, HP_WIDTH * n_max)),
        state=np.zeros((max(n_slots, 1), K, P)),
        counts=np.zeros((K, n_max), np.int64),
        transforms=ops,
        layout=layout,
    )
    for op in ops:
        _place(program, op)
    return program


def _walk(
    recipe: Recipe | None, state: Any, members: slice, population: int | None, ops: list[_Op]
) -> Any:
    """Collect the ops of ``recipe`` for ``members`` in order; return the state's layout."""
    if recipe is None:
        raise Unsupported("a custom transformation (one not built by descentlab.optimizers)")
    if recipe.kind == "identity":
        return ("keep", state)
    if recipe.kind == "chain":
        if not isinstance(state, tuple) or len(state) != len(recipe.parts):
            raise Unsupported("an optimizer state that does not match the optimizer")
        parts = zip(recipe.parts, state, strict=True)
        return ("chain", [_walk(part, s, members, population, ops) for part, s in parts])
    if recipe.kind == "stack":
        if not isinstance(state, StackedState) or len(state.blocks) != len(recipe.parts):
            raise Unsupported("an optimizer state that does not match the optimizer")
        offset, blocks = members.start, []
        for part, size, s in zip(recipe.parts, recipe.settings["sizes"], state.blocks, strict=True):
            blocks.append(_walk(part, s, slice(offset, offset + size), size, ops))
            offset += size
        return ("stack", blocks, state.sizes)
    _check_supported(recipe, state, population)
    before = [op for op in ops if op.members == members]
    slot_base = sum(len(_OPS[op.kind][2]) for op in before)
    n_fields = len(_OPS[recipe.kind][2])
    op = _Op(
        kind=recipe.kind,
        settings=recipe.settings,
        members=members,
        block=population,
        index=len(before),
        slots=tuple(range(slot_base, slot_base + n_fields)),
        state=state,
    )
    ops.append(op)
    return ("op", op)


def _check_supported(recipe: Recipe, state: Any, population: int | None) -> None:
    if isinstance(recipe.settings.get("learning_rate"), ReduceOnPlateau):
        raise Unsupported(
            "the reduce_on_plateau schedule (it needs the validation loss after every epoch)"
        )
    if recipe.kind not in _OPS:
        raise Unsupported(f"the transformation {recipe.kind!r}")
    if recipe.kind == "clip_by_global_norm":
        per_member = recipe.settings["per_member"]
        if population is not None and not per_member:
            raise Unsupported(
                "clip_by_global_norm over a whole population (one norm for all members; "
                "per_member=True clips each member alone)"
            )
        if population is None and per_member:
            raise Unsupported("clip_by_global_norm(per_member=True) on a single network")
    expected = _STATES.get(recipe.kind)
    if expected is not None and not isinstance(state, expected):
        raise Unsupported("an optimizer state that does not match the optimizer")
    rate = recipe.settings.get("learning_rate")
    if callable(rate) and not isinstance(rate, Schedule):
        raise Unsupported("a custom learning-rate schedule (one not from descentlab.schedules)")


def _place(program: Program, op: _Op) -> None:
    """Write ``op`` into the program's tables for its members and import its state."""
    code, hp_names, fields = _OPS[op.kind]
    rows, i = op.members, op.index
    program.ops[rows, i, COL_CODE] = code
    for col, slot in zip((COL_A, COL_B, COL_C), op.slots, strict=False):
        program.ops[rows, i, col] = slot
    h = HP_WIDTH * i
    program.ops[rows, i, COL_HP] = h
    for j, name in enumerate(hp_names):
        program.hp[rows, h + j] = op.settings[name]
    for col, name in zip((COL_FLAG1, COL_FLAG2), _FLAGS.get(op.kind, (None, None)), strict=True):
        if name is not None:
            program.ops[rows, i, col] = int(bool(op.settings[name]))
    program.n_ops[rows] = np.maximum(program.n_ops[rows], i + 1)
    op.first_count = int(op.state.count) if op.kind in _STATES else 0
    program.counts[rows, i] = op.first_count
    for slot, name in zip(op.slots, fields, strict=True):
        moment = getattr(op.state, name)
        if moment is not None:
            program.state[slot, rows] = _as_rows(moment, op.block, program.P)
    for name, column, _ in _SCALARS.get(op.kind, ()):
        program.hp[rows, h + column] = _as_member_numbers(getattr(op.state, name), op.block)
    if op.kind in _RATE_COLUMN:
        rate = op.settings["learning_rate"]
        if callable(rate):
            n = rows.stop - rows.start
            columns = np.arange(program.n_rate_columns, program.n_rate_columns + n)
            program.n_rate_columns += n
            program.ops[rows, i, COL_RATE] = columns
            program.schedules.append((rate, op, columns, _RATE_AHEAD[op.kind]))
        else:
            program.hp[rows, h + _RATE_COLUMN[op.kind]] = rate


def _as_member_numbers(value: Any, block: int | None) -> Any:
    """A NumPy state's per-member number: a float, or ``(K_block,)`` floats."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (block,)):
        raise Unsupported("an optimizer state that does not match the optimizer")
    return arr.astype(np.float64, copy=False)


def _as_rows(moment: Any, block: int | None, P: int) -> np.ndarray:
    """A NumPy state's moment ``{"theta": (K_block, P) or (P,)}`` as rows ``(K_block, P)``."""
    if not isinstance(moment, dict) or set(moment) != {"theta"}:
        raise Unsupported("an optimizer state that does not match the optimizer")
    arr = np.asarray(moment["theta"])
    expected = (P,) if block is None else (block, P)
    if arr.shape != expected or arr.dtype.kind != "f":
        raise Unsupported("an optimizer state that does not match the optimizer")
    return arr.astype(np.float64, copy=False)


def _export(layout: Any, program: Program) -> Any:
    kind = layout[0]
    if kind == "keep":
        return layout[1]
    if kind == "chain":
        return tuple(_export(part, program) for part in layout[1])
    if kind == "stack":
        return StackedState(tuple(_export(part, program) for part in layout[1]), layout[2])
    op: _Op = layout[1]
    if op.kind not in _STATES:
        return op.state  # EmptyState
    first = op.members.start
    count = int(program.counts[first, op.index])
    changes: dict[str, Any] = {"count": count}
    for slot, name in zip(op.slots, _OPS[op.kind][2], strict=True):
        if getattr(op.state, name) is not None:
            rows = program.state[slot, op.members]
            changes[name] = {"theta": rows.copy() if op.block is not None else rows[0].copy()}
    if op.kind == "scale_by_learning_rate" and count > op.first_count:
        rate = op.settings["learning_rate"]
        changes["learning_rate"] = scheduled_rate(rate, count - 1) if callable(rate) else rate
    h = HP_WIDTH * op.index
    for name, column, settings in _SCALARS.get(op.kind, ()):
        if count > op.first_count:
            values = program.hp[op.members, h + column]
            changes[name] = values.copy() if _per_member(op, name, settings) else float(values[0])
    return op.state._replace(**changes)


def _per_member(op: _Op, name: str, settings: tuple[str, ...]) -> bool:
    """Whether the NumPy state keeps ``name`` as ``(K,)`` numbers after an update: it was one
    already, or one of ``settings`` is per member (an array, or a schedule of arrays)."""
    if np.ndim(getattr(op.state, name)) > 0:
        return True
    for setting in settings:
        value = op.settings[setting]
        if isinstance(value, np.ndarray) or getattr(value, "size", None) is not None:
            return True
    return False
