"""The search space of a sweep: its axes and spec, the runs they make, and the plan.

:class:`Axis` (read by :func:`parse_axis`) is one searched setting, :class:`SweepSpec` the
whole sweep; :func:`expand` lists its runs and :func:`plan` groups them into populations.
Running the chunks and writing the sweep folder is :mod:`~descentlab.experiments.sweep`,
whose docstring describes a sweep from end to end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from descentlab._validation import InvalidParameterError
from descentlab.experiments.population import Run, build_run_optimizer
from descentlab.experiments.specs import (
    ALIASES,
    DatasetSpec,
    ScheduleSpec,
    resolve_hyperparameters,
)
from descentlab.optimizers import OPTIMIZERS
from descentlab.schedules import SCHEDULES

__all__ = [
    "Axis",
    "SweepSpec",
    "canonical_optimizers",
    "expand",
    "parse_axis",
    "plan",
]


# ----------------------------------------------------------------------------- axes


@dataclass(frozen=True)
class Axis:
    """One searched setting: ``values`` (a grid), or a range ``low..high`` with ``points``.

    Attributes:
      name: a hyperparameter (``learning_rate``, ``b1``, ...; aliases such as ``lr`` allowed)
        or ``schedule.<setting>``.
      optimizer: apply only to this optimizer (``adam.b1=...``), or None: to every optimizer
        that has the setting.
      values: explicit values, or empty for a range.
      low, high, points: the range, with ``points`` grid values.
      log: geometric spacing (and log-uniform random draws) rather than even spacing.
    """

    name: str
    optimizer: str | None = None
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    points: int = 5
    log: bool = True

    @property
    def is_schedule(self) -> bool:
        return self.name.startswith("schedule.")

    @property
    def setting(self) -> str:
        """The setting's name without a ``schedule.`` prefix."""
        return self.name.split(".", 1)[1] if self.is_schedule else self.name

    def grid(self) -> list[Any]:
        """The grid values: ``values``, or ``points`` values from ``low`` to ``high``."""
        if self.values:
            return list(self.values)
        assert self.low is not None and self.high is not None
        if self.points == 1:
            return [self.low]
        space = np.geomspace if self.log else np.linspace
        return [float(v) for v in space(self.low, self.high, self.points)]

    def draw(self, rng: np.random.Generator) -> Any:
        """One random value: uniform over ``values``, or log-uniform / uniform over the range."""
        if self.values:
            return self.values[int(rng.integers(len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Axis:
        return cls(**{**data, "values": tuple(data.get("values", ()))})


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text) if low.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text.strip()


def parse_axis(text: str, *, points: int | None = None, what: str = "--param") -> Axis:
    """Parse ``NAME=SPEC``: ``lr=0.001,0.01,0.1``, ``b1=0.8..0.99:4``, ``adam.eps=1e-8..1e-4:3``.

    ``NAME`` is a hyperparameter (aliases allowed), ``OPTIMIZER.NAME`` to apply it to one
    optimizer only, or ``schedule.NAME``. ``SPEC`` is a comma-separated list, or a range
    ``LOW..HIGH[:N][:log|:lin]``: N values (default ``points``, else 5), geometric when both
    ends are > 0 (add ``:lin`` for even spacing).

    >>> parse_axis("lr=1e-3..1e-1:3").grid()
    [0.001, 0.01, 0.1]
    >>> parse_axis("adam.beta1=0.8,0.9").optimizer, parse_axis("adam.beta1=0.8,0.9").name
    ('adam', 'b1')
    """
    name, eq, spec = (s.strip() for s in str(text).partition("="))
    if not eq or not name or not spec:
        raise InvalidParameterError(
            f"{what} must look like NAME=VALUES, e.g. lr=0.001,0.01 or b1=0.8..0.99:5. "
            f"Got {text!r} instead."
        )
    optimizer = None
    if "." in name:
        head, name = name.split(".", 1)
        if head.lower() != "schedule":
            optimizer = head.strip().lower().replace("-", "_")
            if optimizer not in OPTIMIZERS:
                raise InvalidParameterError(
                    f"{what} {text!r}: unknown optimizer {head!r}; the known optimizers are "
                    f"{', '.join(OPTIMIZERS)}."
                )
        else:
            name = "schedule." + ALIASES.get(name, name)
    if not name.startswith("schedule."):
        name = ALIASES.get(name, name)
    if ".." not in spec:
        values = tuple(_value(v) for v in spec.split(",") if v.strip())
        if not values:
            raise InvalidParameterError(f"{what} {text!r} lists no values.")
        return Axis(name, optimizer, values=values)
    bounds, *options = spec.split(":")
    lo_text, hi_text = bounds.split("..", 1)
    try:
        low, high = float(lo_text), float(hi_text)
    except ValueError:
        raise InvalidParameterError(
            f"{what} {text!r}: the range must be LOW..HIGH with two numbers."
        ) from None
    n = points if points is not None else 5
    log = low > 0 and high > 0
    for opt in options:
        opt = opt.strip().lower()
        if opt in ("log", "lin"):
            log = opt == "log"
        elif opt.isdigit() and int(opt) >= 1:
            n = int(opt)
        else:
            raise InvalidParameterError(
                f"{what} {text!r}: after the range come :N (number of values) and :log or "
                f":lin. Got {opt!r}."
            )
    if log and (low <= 0 or high <= 0):
        raise InvalidParameterError(
            f"{what} {text!r}: a log-spaced range needs LOW and HIGH > 0; add :lin."
        )
    if low > high or not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidParameterError(f"{what} {text!r}: the range needs LOW <= HIGH, finite.")
    if n < 1:
        raise InvalidParameterError(f"{what} {text!r}: the number of values must be >= 1.")
    return Axis(name, optimizer, low=low, high=high, points=n, log=log)


# ----------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep computes; stored in ``sweep.json`` (see the sweep module's docstring).

    Attributes:
      dataset: where the data comes from (:class:`DatasetSpec`; its ``test_seed`` and
        ``test_size`` make the test set).
      optimizers: ``(name, fixed settings)`` pairs, e.g. ``(("adam", {"b2": 0.99}),)``.
      axes: the searched settings; a learning-rate axis is needed unless every optimizer
        fixes its learning rate.
      schedule: a schedule applied to every run (its settings may also be axes), or None.
      batch_sizes: each is a separate population.
      epochs, layers, activation, init, shuffle: as in :class:`Run`.
      seeds: the seeds; each configuration is trained once per seed (init and data order).
      random: None for the full grid, or N random configurations per optimizer.
      search_seed: seed of the random search.
      val_seed: seed of the validation sample / split (None: ``test_seed + 1``).
      chunk_size: the most runs trained in one population (one task for a worker).
      max_cost: a run whose epoch cost exceeds it counts as diverged (None: the engine's).
    """

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    optimizers: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("gd", {}),
        ("momentum", {}),
        ("adam", {}),
    )
    axes: tuple[Axis, ...] = (Axis("learning_rate", low=1e-4, high=1e-1, points=8),)
    schedule: ScheduleSpec | None = None
    batch_sizes: tuple[int, ...] = (64,)
    epochs: int = 1000
    layers: tuple[int, ...] = (5, 2)
    activation: str = "relu"
    init: str = "he"
    shuffle: str = "random"
    seeds: tuple[int, ...] = tuple(range(10))
    random: int | None = None
    search_seed: int = 0
    val_seed: int | None = None
    chunk_size: int = 128
    max_cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "chunk_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(
                    f"The {name!r} of a sweep must be an int >= 1. Got {value!r} instead."
                )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise InvalidParameterError(
                f"A sweep needs one or more distinct seeds. Got {list(self.seeds)!r}."
            )
        if not self.batch_sizes or any(
            isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in self.batch_sizes
        ):
            raise InvalidParameterError(
                f"The batch sizes must be ints >= 1. Got {list(self.batch_sizes)!r}."
            )
        if self.random is not None and (
            isinstance(self.random, bool) or not isinstance(self.random, int) or self.random < 1
        ):
            raise InvalidParameterError(
                f"--random must be a number of configurations >= 1. Got {self.random!r}."
            )
        if not self.optimizers:
            raise InvalidParameterError("A sweep needs at least one optimizer.")
        object.__setattr__(self, "optimizers", canonical_optimizers(self.optimizers))
        names = [a.name if a.optimizer is None else f"{a.optimizer}.{a.name}" for a in self.axes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidParameterError(f"The setting(s) {', '.join(dupes)} are searched twice.")

    @property
    def validation_seed(self) -> int:
        return self.dataset.test_seed + 1 if self.val_seed is None else self.val_seed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict; :meth:`from_dict` rebuilds an equal spec."""
        return {
            "dataset": {k: v for k, v in asdict(self.dataset).items() if v is not None},
            "optimizers": [[n, dict(s)] for n, s in self.optimizers],
            "axes": [a.to_dict() for a in self.axes],
            "schedule": None
            if self.schedule is None
            else {"name": self.schedule.name, "settings": dict(self.schedule.settings)},
            "batch_sizes": list(self.batch_sizes),
            "epochs": self.epochs,
            "layers": list(self.layers),
            "activation": self.activation,
            "init": self.init,
            "shuffle": self.shuffle,
            "seeds": list(self.seeds),
            "random": self.random,
            "search_seed": self.search_seed,
            "val_seed": self.val_seed,
            "chunk_size": self.chunk_size,
            "max_cost": self.max_cost,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        d = dict(data)
        sched = d.get("schedule")
        return cls(
            dataset=DatasetSpec(**d["dataset"]),
            optimizers=tuple((n, dict(s)) for n, s in d["optimizers"]),
            axes=tuple(Axis.from_dict(a) for a in d["axes"]),
            schedule=None if sched is None else ScheduleSpec(sched["name"], sched["settings"]),
            batch_sizes=tuple(d["batch_sizes"]),
            epochs=d["epochs"],
            layers=tuple(d["layers"]),
            activation=d["activation"],
            init=d["init"],
            shuffle=d["shuffle"],
            seeds=tuple(d["seeds"]),
            random=d["random"],
            search_seed=d["search_seed"],
            val_seed=d["val_seed"],
            chunk_size=d["chunk_size"],
            max_cost=d["max_cost"],
        )


def canonical_optimizers(
    optimizers: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``(name, settings)`` pairs with lower-case names and aliases resolved (``lr`` ->
    ``learning_rate``), so that fixed settings and searched axes meet under one name."""
    out = []
    for name, settings in optimizers:
        canon = {ALIASES.get(k, k): v for k, v in dict(settings).items()}
        if len(canon) != len(settings):
            raise InvalidParameterError(f"A setting of {name!r} is given twice (alias and name).")
        out.append((str(name).strip().lower().replace("-", "_"), canon))
    return tuple(out)


def _accepts(optimizer: str, axis: Axis, schedule: ScheduleSpec | None) -> bool:
    if axis.is_schedule:
        if schedule is None:
            raise InvalidParameterError(
                f"The axis {axis.name!r} searches a schedule setting, but the sweep has no "
                "--schedule."
            )
        import inspect

        return axis.setting in inspect.signature(SCHEDULES[schedule.name]).parameters
    if axis.optimizer is not None and axis.optimizer != optimizer:
        return False
    return axis.name == "learning_rate" or axis.name in resolve_hyperparameters(optimizer)


def expand(spec: SweepSpec) -> list[Run]:
    """Every run of the sweep: per optimizer, the grid (or ``random`` draws) × batch sizes × seeds.

    An axis applies to the optimizers that have its setting (``OPT.NAME`` to one optimizer),
    except where ``--optimizers`` fixes that setting (``adam:lr=0.01`` is not searched over
    ``--lr``); an axis no optimizer has is an error. Runs come in a fixed order: optimizer, then
    configuration, then seed.

    Raises:
      InvalidParameterError: an axis that applies to nothing, a missing learning rate, a bad
        value (checked by building every configuration's optimizer).
    """
    used = {a: False for a in spec.axes}
    runs: list[Run] = []
    rng = np.random.default_rng(spec.search_seed)
    seen: set[str] = set()
    for name, fixed in spec.optimizers:
        axes = []
        for a in spec.axes:
            if not _accepts(name, a, spec.schedule):
                continue
            used[a] = True
            if not a.is_schedule and a.setting in fixed:  # a fixed setting is not searched
                if a.optimizer == name:
                    raise InvalidParameterError(
                        f"{name}'s {a.setting!r} is both fixed in --optimizers and searched "
                        f"with {name}.{a.setting}=...; keep one of them."
                    )
                continue
            axes.append(a)
        if spec.random is None:
            combos: Iterable[tuple] = itertools.product(*(a.grid() for a in axes))
        else:
            combos = [tuple(a.draw(rng) for a in axes) for _ in range(spec.random)]
        for combo in combos:
            hyper = dict(fixed)
            sched = dict(spec.schedule.settings) if spec.schedule else {}
            for a, v in zip(axes, combo, strict=True):
                (sched if a.is_schedule else hyper)[a.setting] = v
            if "learning_rate" not in hyper:
                raise InvalidParameterError(
                    f"Optimizer {name!r} has no learning rate: give --lr (a value, list or "
                    f"range) or {name}:lr=... in --optimizers."
                )
            for batch in spec.batch_sizes:
                base = Run(
                    name,
                    hyper,
                    spec.schedule.name if spec.schedule else None,
                    sched,
                    batch,
                    spec.epochs,
                    spec.layers,
                    spec.activation,
                    spec.init,
                    spec.shuffle,
                    spec.seeds[0],
                )
                if base.config_id() in seen:
                    continue
                seen.add(base.config_id())
                build_run_optimizer(base)  # a bad value fails here, before anything runs
                for s in spec.seeds:
                    runs.append(Run.from_dict({**base.to_dict(), "seed": s}))
    unused = [a.name for a, ok in used.items() if not ok]
    if unused:
        raise InvalidParameterError(
            f"No optimizer of the sweep has the setting(s) {', '.join(map(repr, unused))}."
        )
    return runs


def plan(runs: Sequence[Run], chunk_size: int) -> list[list[int]]:
    """Chunks of run indices: runs that can share a population, at most ``chunk_size`` each.

    Runs are grouped by :meth:`Run.population_key` (order of first appearance); a group of n
    runs becomes ``c = ceil(n / chunk_size)`` chunks, but at least two once n >= 64 (so two
    workers have work), dealt round-robin (chunk j holds the group's runs j, j + c, j + 2c,
    ...): every chunk gets the same mix of optimizers and learning rates, and the chunks take
    about the same time. The plan depends on the runs and ``chunk_size`` only, never on the
    backend or the number of jobs.

    >>> [len(c) for c in plan([Run("gd", {"lr": 0.1}, seed=s) for s in range(10)], 4)]
    [4, 3, 3]
    >>> [len(c) for c in plan([Run("gd", {"lr": 0.1}, seed=s) for s in range(100)], 128)]
    [50, 50]
    """
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(runs):
        groups.setdefault(r.population_key(), []).append(i)
    chunks: list[list[int]] = []
    for members in groups.values():
        n_chunks = max(math.ceil(len(members) / chunk_size), min(2, len(members) // 32))
        chunks += [members[j::n_chunks] for j in range(n_chunks)]
    return chunks
