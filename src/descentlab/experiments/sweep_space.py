"""The search space of a sweep: its axes and spec, the runs they make, and the plan.

:class:`Axis` (read by :func:`parse_axis`) is one searched setting, :class:`SweepSpec` the
whole sweep; :func:`expand` lists its runs and :func:`plan` groups them into populations.
Running the chunks and writing the sweep folder is :mod:`~descentlab.experiments.sweep`,
whose docstring describes a sweep from end to end.

Bounded work: a spec is refused when it is built (before anything is expanded, trained or
written) if it asks for more than the caps of :mod:`descentlab.limits` allow — more than
``MAX_SEEDS`` seeds, an axis of more than ``MAX_GRID_POINTS`` values, more than
``MAX_RUNS`` runs in all (:func:`count_runs`, computed from the sizes alone), more epochs than
``training.EPOCHS`` allows, or chunks larger than :data:`~descentlab.limits.MAX_CHUNK_SIZE`. The training setup
it shares with the benchmark is checked by :func:`check_training_setup`.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    FLAG,
    POSITIVE,
    SEED,
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    check_json,
    check_param,
    lookup,
    show,
)
from descentlab.batching import SHUFFLES
from descentlab.experiments.population import Run, build_run_optimizer
from descentlab.experiments.specs import (
    ALIASES,
    DatasetSpec,
    ScheduleSpec,
    resolve_hyperparameters,
)
from descentlab.nn import ACTIVATIONS, INITIALISERS
from descentlab.optimizers import OPTIMIZERS
from descentlab.schedules import SCHEDULES
from descentlab.training import EPOCHS

__all__ = [
    "AXIS_SCHEMA",
    "BATCH_SIZE",
    "CHUNK_SIZE",
    "GRID_POINTS",
    "SETUP_SCHEMA",
    "SWEEP_SPEC_SCHEMA",
    "Axis",
    "SweepSpec",
    "canonical_optimizers",
    "check_document",
    "check_run_count",
    "check_seeds",
    "check_training_setup",
    "count_runs",
    "expand",
    "parse_axis",
    "plan",
    "spec_from_document",
]

GRID_POINTS = Interval(1, limits.MAX_GRID_POINTS, integer=True)
"""The number of values of one axis: an int in ``[1, MAX_GRID_POINTS]``."""
BATCH_SIZE = Interval(1, limits.MAX_EXAMPLES, integer=True)
"""A mini-batch size: an int in ``[1, MAX_EXAMPLES]``."""
HIDDEN_UNITS = Interval(1, limits.MAX_HIDDEN_UNITS, integer=True)
"""The size of one hidden layer."""
CHUNK_SIZE = Interval(1, limits.MAX_CHUNK_SIZE, integer=True)
"""The ``chunk_size`` of a sweep or benchmark."""

_NONE = type(None)


# ----------------------------------------------------------------------------- axes


def _is_value(v: Any) -> bool:
    """a bool, an int, a finite float or a text"""
    if isinstance(v, float):
        return math.isfinite(v)
    return isinstance(v, bool | int | str)


@dataclass(frozen=True)
class Axis:
    """One searched setting: ``values`` (a grid), or a range ``low..high`` with ``points``.

    Attributes:
      name: a hyperparameter (``learning_rate``, ``b1``, ...; aliases such as ``lr`` allowed)
        or ``schedule.<setting>``.
      optimizer: apply only to this optimizer (``adam.b1=...``), or None: to every optimizer
        that has the setting.
      values: explicit values (bools, ints, finite floats or texts), or empty for a range.
      low, high, points: the range (finite, ``low <= high``), with ``points`` grid values
        (at most ``MAX_GRID_POINTS``, as ``values``).
      log: geometric spacing (and log-uniform random draws) rather than even spacing; needs
        ``low > 0``.

    Raises:
      InvalidParameterError: any of the above not met.
    """

    name: str
    optimizer: str | None = None
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    points: int = 5
    log: bool = True

    def __post_init__(self) -> None:
        check_param("a sweep axis", "name", self.name, _is_setting_name)
        prefix, _, setting = self.name.strip().rpartition(".")
        name = (prefix + "." if prefix else "") + ALIASES.get(setting, setting)
        object.__setattr__(self, "name", name)
        owner = f"the sweep axis {name!r}"
        if self.optimizer is not None:
            object.__setattr__(
                self, "optimizer", lookup(OPTIMIZERS, "optimizer", self.optimizer)[0]
            )
        if isinstance(self.values, str) or not isinstance(self.values, Sequence):
            raise InvalidParameterError(
                f"The 'values' of {owner} must be a list. Got {show(self.values)} instead."
            )
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "points", as_int(owner, "points", self.points, GRID_POINTS))
        check_param(owner, "log", self.log, FLAG)
        if self.values:
            as_int(owner, "number of values", len(self.values), GRID_POINTS)
            for v in self.values:
                check_param(owner, "values", v, _is_value)
            return
        for key in ("low", "high"):
            value = getattr(self, key)
            check_param(owner, key, value, Interval(None, None), allow_array=False)
            object.__setattr__(self, key, float(value))
        assert self.low is not None and self.high is not None
        if self.low > self.high:
            raise InvalidParameterError(
                f"The range of {owner} needs low <= high. Got {self.low!r}..{self.high!r}."
            )
        if self.log and self.low <= 0:
            raise InvalidParameterError(
                f"The log-spaced range of {owner} needs low > 0. Got {self.low!r}."
            )

    @property
    def is_schedule(self) -> bool:
        return self.name.startswith("schedule.")

    @property
    def setting(self) -> str:
        """The setting's name without a ``schedule.`` prefix."""
        return self.name.split(".", 1)[1] if self.is_schedule else self.name

    @property
    def size(self) -> int:
        """The number of grid values, known without building the grid."""
        return len(self.values) if self.values else self.points

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
    def from_dict(cls, data: Any, source: str = "the axis", where: str = "") -> Axis:
        """The axis of :meth:`to_dict`'s form, every field type-checked.

        Raises:
          DataError: a missing, unknown or mistyped field (naming ``source`` and ``where``).
          InvalidParameterError: a value out of range.
        """
        check_document(data, AXIS_SCHEMA, source, where)
        return cls(**{**data, "values": tuple(data["values"])})


def _is_setting_name(name: Any) -> bool:
    """a setting's name (text)"""
    return isinstance(name, str) and bool(name.strip())


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
    ends are > 0 (add ``:lin`` for even spacing). Ranges are finite and lists and ranges hold
    at most ``MAX_GRID_POINTS`` values.

    >>> parse_axis("lr=1e-3..1e-1:3").grid()
    [0.001, 0.01, 0.1]
    >>> parse_axis("adam.beta1=0.8,0.9").optimizer, parse_axis("adam.beta1=0.8,0.9").name
    ('adam', 'b1')
    """
    name, eq, spec = (s.strip() for s in str(text).partition("="))
    shown = show(text)
    if not eq or not name or not spec:
        raise InvalidParameterError(
            f"{what} must look like NAME=VALUES, e.g. lr=0.001,0.01 or b1=0.8..0.99:5. "
            f"Got {shown} instead."
        )
    optimizer = None
    if "." in name:
        head, name = name.split(".", 1)
        if head.lower() != "schedule":
            optimizer = head.strip().lower().replace("-", "_")
            if optimizer not in OPTIMIZERS:
                raise InvalidParameterError(
                    f"{what} {shown}: unknown optimizer {head!r}; the known optimizers are "
                    f"{', '.join(OPTIMIZERS)}."
                )
        else:
            name = "schedule." + ALIASES.get(name, name)
    if not name.startswith("schedule."):
        name = ALIASES.get(name, name)
    if ".." not in spec:
        values = tuple(_value(v) for v in spec.split(",") if v.strip())
        if not values:
            raise InvalidParameterError(f"{what} {shown} lists no values.")
        return _axis(what, shown, name, optimizer, values=values)
    bounds, *options = spec.split(":")
    lo_text, hi_text = bounds.split("..", 1)
    try:
        low, high = float(lo_text), float(hi_text)
    except ValueError:
        raise InvalidParameterError(
            f"{what} {shown}: the range must be LOW..HIGH with two numbers."
        ) from None
    n = points if points is not None else 5
    log = low > 0 and high > 0
    for opt in options:
        opt = opt.strip().lower()
        if opt in ("log", "lin"):
            log = opt == "log"
        elif opt.isascii() and opt.isdigit() and int(opt) >= 1:
            n = int(opt)
        else:
            raise InvalidParameterError(
                f"{what} {shown}: after the range come :N (number of values) and :log or "
                f":lin. Got {show(opt)}."
            )
    if log and (low <= 0 or high <= 0):
        raise InvalidParameterError(
            f"{what} {shown}: a log-spaced range needs LOW and HIGH > 0; add :lin."
        )
    if low > high or not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidParameterError(f"{what} {shown}: the range needs LOW <= HIGH, finite.")
    return _axis(what, shown, name, optimizer, low=low, high=high, points=n, log=log)


def _axis(what: str, shown: str, *args: Any, **kwargs: Any) -> Axis:
    """``Axis(*args, **kwargs)``, its errors prefixed with the option they come from."""
    try:
        return Axis(*args, **kwargs)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{what} {shown}: {exc}") from None


# ----------------------------------------------------------------------------- documents


def check_document(value: Any, schema: Mapping[str, Any], source: str, where: str) -> None:
    """:func:`~descentlab._validation.check_json` for a table whose keys must all be known
    (the keys of ``schema``, a ``?`` marking an optional one).

    Raises:
      DataError: "<source> is damaged: <where>.<key> must be ...", or an unknown key.
    """
    check_json(value, dict(schema), source, where)
    known = {k.rstrip("?") for k in schema}
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise DataError(
            f"{source} is damaged: {where or 'the document'} has the unknown key"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(map(show, unknown))}; the known "
            f"keys are {', '.join(sorted(known))}."
        )


AXIS_SCHEMA: dict[str, Any] = {
    "name": str,
    "optimizer": (str, _NONE),
    "values": [(bool, int, float, str)],
    "low": (float, _NONE),
    "high": (float, _NONE),
    "points": int,
    "log": bool,
}
"""The fields of an :class:`Axis` in a document (``sweep.json``, ``benchmark.json``)."""

SCHEDULE_SCHEMA: dict[str, Any] = {"name": str, "settings": dict}

_DATASET_KEYS = tuple(f.name for f in dataclasses.fields(DatasetSpec))


def spec_from_document(
    cls: type, data: Any, schema: Mapping[str, Any], source: str, where: str
) -> Any:
    """Build ``cls`` (:class:`SweepSpec` or the benchmark's spec) from its ``to_dict`` form.

    Every field is type-checked against ``schema`` first (:func:`check_document`); the
    ``dataset``, ``optimizers``, ``axes``, ``learning_rates`` and ``schedule`` fields are
    rebuilt as their objects and lists become tuples; the constructor then checks the values.

    Raises:
      DataError: a missing, unknown or mistyped field.
      InvalidParameterError: a value out of range (the constructor's checks).
    """
    check_document(data, schema, source, where)
    at = f"{where}." if where else ""
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "dataset":
            check_document(value, {f"{k}?": object for k in _DATASET_KEYS}, source, at + key)
            value = DatasetSpec(**value)
        elif key == "optimizers":
            value = tuple(
                _optimizer_entry(o, source, f"{at}{key}[{i}]") for i, o in enumerate(value)
            )
        elif key == "axes":
            value = tuple(Axis.from_dict(a, source, f"{at}{key}[{i}]") for i, a in enumerate(value))
        elif key == "learning_rates":
            value = Axis.from_dict(value, source, at + key)
        elif key == "schedule" and value is not None:
            check_document(value, SCHEDULE_SCHEMA, source, at + key)
            value = ScheduleSpec(value["name"], value["settings"])
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def _optimizer_entry(entry: Any, source: str, where: str) -> tuple[str, dict[str, Any]]:
    if not _is_optimizer_pair(entry):
        raise DataError(
            f"{source} is damaged: {where} must be a pair [name, {{settings}}]; found "
            f"{show(entry)}."
        )
    return entry[0], dict(entry[1])


def _is_optimizer_pair(entry: Any) -> bool:
    """a pair (name, settings)"""
    return (
        isinstance(entry, Sequence)
        and not isinstance(entry, str)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], Mapping)
    )


# ----------------------------------------------------------------------------- shared checks


def check_seeds(owner: str, name: str, seeds: Any) -> tuple[int, ...]:
    """``seeds`` as a tuple of ints: one or more, at most ``MAX_SEEDS``, distinct, each in
    ``[0, 2**32 - 1]`` (:data:`~descentlab._validation.SEED`).

    >>> check_seeds("a sweep", "seeds", range(3))
    (0, 1, 2)
    """
    if isinstance(seeds, str) or not isinstance(seeds, Sequence) or not seeds:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a list of one or more seeds. "
            f"Got {show(seeds)} instead."
        )
    if len(seeds) > limits.MAX_SEEDS:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} holds {len(seeds)} seeds; the limit is "
            f"{limits.MAX_SEEDS} (descentlab.limits.MAX_SEEDS)."
        )
    out = tuple(as_int(owner, name, s, SEED) for s in seeds)
    if len(set(out)) != len(out):
        twice = sorted({s for s in out if out.count(s) > 1})
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must hold distinct seeds; {show(twice)} "
            "appear more than once."
        )
    return out


def _int_tuple(owner: str, name: str, values: Any, rule: Interval, most: int) -> tuple[int, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) > most:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a list of at most {most} ints. "
            f"Got {show(values)} instead."
        )
    return tuple(as_int(owner, name, v, rule) for v in values)


def check_training_setup(spec: Any, owner: str) -> None:
    """Check, and store normalised, the fields a sweep and a benchmark share: ``dataset``,
    ``optimizers``, ``epochs``, ``layers``, ``activation``, ``init``, ``shuffle``,
    ``val_seed`` and ``chunk_size`` of the frozen dataclass ``spec``.

    Raises:
      InvalidParameterError: a field of the wrong type or out of its range, naming it.
    """

    def store(name: str, value: Any) -> None:
        object.__setattr__(spec, name, value)

    check_param(owner, "dataset", spec.dataset, DatasetSpec)
    store("optimizers", canonical_optimizers(spec.optimizers))
    if not spec.optimizers:
        raise InvalidParameterError(f"{owner.capitalize()} needs at least one optimizer.")
    store("epochs", as_int(owner, "epochs", spec.epochs, EPOCHS))
    store(
        "layers",
        _int_tuple(owner, "layers", spec.layers, HIDDEN_UNITS, limits.MAX_HIDDEN_LAYERS),
    )
    check_param(owner, "activation", spec.activation, Options(ACTIVATIONS))
    check_param(owner, "init", spec.init, Options(INITIALISERS))
    check_param(owner, "shuffle", spec.shuffle, Options(SHUFFLES))
    if spec.val_seed is not None:
        store("val_seed", as_int(owner, "val_seed", spec.val_seed, SEED))
    store("chunk_size", as_int(owner, "chunk_size", spec.chunk_size, CHUNK_SIZE))


SETUP_SCHEMA: dict[str, Any] = {
    "dataset": dict,
    "optimizers": [list],
    "epochs": int,
    "layers": [int],
    "activation": str,
    "init": str,
    "shuffle": str,
    "val_seed": (int, _NONE),
    "chunk_size": int,
}
"""The document types of the fields :func:`check_training_setup` checks."""


def check_run_count(owner: str, n_runs: int, parts: str) -> None:
    """Refuse ``n_runs`` above :data:`~descentlab.limits.MAX_RUNS`; ``parts`` says how the
    number is made (for the message)."""
    if n_runs > limits.MAX_RUNS:
        raise InvalidParameterError(
            f"{owner.capitalize()} would train {n_runs} runs ({parts}); the limit is "
            f"{limits.MAX_RUNS} (descentlab.limits.MAX_RUNS). Search fewer values, seeds or "
            "optimizers."
        )


# ----------------------------------------------------------------------------- the spec

_OWNER = "a sweep"


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

    Raises:
      InvalidParameterError: a field of the wrong type or out of range; an axis no optimizer
        has, or searched twice; an optimizer without a learning rate; more runs in all than
        ``MAX_RUNS`` (:func:`count_runs`, before anything is expanded).
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
        check_training_setup(self, _OWNER)
        if isinstance(self.axes, str) or not isinstance(self.axes, Sequence):
            raise InvalidParameterError("The 'axes' of a sweep must be a list of Axis objects.")
        for a in self.axes:
            check_param(_OWNER, "axes", a, Axis)
        object.__setattr__(self, "axes", tuple(self.axes))
        if self.schedule is not None:
            check_param(_OWNER, "schedule", self.schedule, ScheduleSpec)
        batches = _int_tuple(
            _OWNER, "batch_sizes", self.batch_sizes, BATCH_SIZE, limits.MAX_GRID_POINTS
        )
        if not batches or len(set(batches)) != len(batches):
            raise InvalidParameterError(
                f"The batch sizes of a sweep must be one or more distinct ints. Got {show(list(batches))}."
            )
        object.__setattr__(self, "batch_sizes", batches)
        object.__setattr__(self, "seeds", check_seeds(_OWNER, "seeds", self.seeds))
        if self.random is not None:
            object.__setattr__(self, "random", as_int(_OWNER, "random", self.random))
        object.__setattr__(
            self, "search_seed", as_int(_OWNER, "search_seed", self.search_seed, SEED)
        )
        if self.max_cost is not None:
            check_param(_OWNER, "max_cost", self.max_cost, POSITIVE, allow_array=False)
            object.__setattr__(self, "max_cost", float(self.max_cost))
        names = [a.name if a.optimizer is None else f"{a.optimizer}.{a.name}" for a in self.axes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidParameterError(f"The setting(s) {', '.join(dupes)} are searched twice.")
        count_runs(self)

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
    def from_dict(cls, data: Any, source: str = "the sweep spec", where: str = "") -> SweepSpec:
        """The spec of :meth:`to_dict`'s form (e.g. read from ``sweep.json``), every field
        type-checked.

        Raises:
          DataError: a missing, unknown or mistyped field, naming ``source`` and the field.
          InvalidParameterError: a value out of range.
        """
        return spec_from_document(cls, data, SWEEP_SPEC_SCHEMA, source, where)


SWEEP_SPEC_SCHEMA: dict[str, Any] = {
    **SETUP_SCHEMA,
    "axes": [dict],
    "schedule": (dict, _NONE),
    "batch_sizes": [int],
    "seeds": [int],
    "random": (int, _NONE),
    "search_seed": int,
    "max_cost": (float, _NONE),
}
"""The fields of :meth:`SweepSpec.to_dict` and their types."""


def canonical_optimizers(optimizers: Any) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``(name, settings)`` pairs with lower-case names and aliases resolved (``lr`` ->
    ``learning_rate``), so that fixed settings and searched axes meet under one name.

    Raises:
      InvalidParameterError: not a list of ``(name, settings)`` pairs; an unknown optimizer;
        a setting given twice.
    """
    if isinstance(optimizers, str) or not isinstance(optimizers, Sequence):
        raise InvalidParameterError(
            f"The optimizers must be a list of (name, settings) pairs. Got {show(optimizers)}."
        )
    out = []
    for entry in optimizers:
        if not _is_optimizer_pair(entry):
            raise InvalidParameterError(
                f"Each optimizer must be a (name, settings) pair. Got {show(entry)} instead."
            )
        name, settings = entry
        canon = {ALIASES.get(k, k): v for k, v in dict(settings).items()}
        if len(canon) != len(settings):
            raise InvalidParameterError(f"A setting of {name!r} is given twice (alias and name).")
        out.append((lookup(OPTIMIZERS, "optimizer", name)[0], canon))
    return tuple(out)


def _accepts(optimizer: str, axis: Axis, schedule: ScheduleSpec | None) -> bool:
    if axis.is_schedule:
        if schedule is None:
            raise InvalidParameterError(
                f"The axis {axis.name!r} searches a schedule setting, but the sweep has no "
                "--schedule."
            )
        return axis.setting in inspect.signature(SCHEDULES[schedule.name]).parameters
    if axis.optimizer is not None and axis.optimizer != optimizer:
        return False
    return axis.name == "learning_rate" or axis.name in resolve_hyperparameters(optimizer)


def _searched_axes(spec: SweepSpec, name: str, fixed: Mapping[str, Any]) -> list[Axis]:
    """The axes searched for optimizer ``name``: those that apply to it, except a setting
    ``--optimizers`` fixes (``adam:lr=0.01`` is not searched over ``--lr``).

    Raises:
      InvalidParameterError: a setting both fixed and searched for this optimizer alone; no
        learning rate at all.
    """
    axes = []
    for a in spec.axes:
        if not _accepts(name, a, spec.schedule):
            continue
        if not a.is_schedule and a.setting in fixed:
            if a.optimizer == name:
                raise InvalidParameterError(
                    f"{name}'s {a.setting!r} is both fixed in --optimizers and searched "
                    f"with {name}.{a.setting}=...; keep one of them."
                )
            continue
        axes.append(a)
    if "learning_rate" not in fixed and not any(a.name == "learning_rate" for a in axes):
        raise InvalidParameterError(
            f"Optimizer {name!r} has no learning rate: give --lr (a value, list or "
            f"range) or {name}:lr=... in --optimizers."
        )
    return axes


def count_runs(spec: SweepSpec) -> int:
    """The number of runs of ``spec``, from the sizes alone (nothing is expanded): per
    optimizer, the product of its searched axes' sizes (or ``random``), × batch sizes × seeds.
    (:func:`expand` may make fewer: a configuration listed twice is trained once.)

    Raises:
      InvalidParameterError: more than ``MAX_RUNS``; an axis that applies to no optimizer;
        an optimizer without a learning rate.
    """
    used: set[Axis] = set()
    total, parts = 0, []
    for name, fixed in spec.optimizers:
        axes = _searched_axes(spec, name, fixed)
        used.update(a for a in spec.axes if _accepts(name, a, spec.schedule))
        configs = spec.random if spec.random is not None else math.prod(a.size for a in axes)
        total += configs * len(spec.batch_sizes) * len(spec.seeds)
        parts.append(f"{name}: {configs} configurations")
    unused = [a.name for a in spec.axes if a not in used]
    if unused:
        raise InvalidParameterError(
            f"No optimizer of the sweep has the setting(s) {', '.join(map(repr, unused))}."
        )
    check_run_count(
        _OWNER,
        total,
        f"{'; '.join(parts)}; × {len(spec.batch_sizes)} batch sizes × {len(spec.seeds)} seeds",
    )
    return total


def expand(spec: SweepSpec) -> list[Run]:
    """Every run of the sweep: per optimizer, the grid (or ``random`` draws) × batch sizes × seeds.

    An axis applies to the optimizers that have its setting (``OPT.NAME`` to one optimizer),
    except where ``--optimizers`` fixes that setting (``adam:lr=0.01`` is not searched over
    ``--lr``); an axis no optimizer has is an error. Runs come in a fixed order: optimizer, then
    configuration, then seed. Their number is bounded by :func:`count_runs`, checked when the
    spec was built.

    Raises:
      InvalidParameterError: a bad value (checked by building every configuration's optimizer).
    """
    runs: list[Run] = []
    rng = np.random.default_rng(spec.search_seed)
    seen: set[str] = set()
    for name, fixed in spec.optimizers:
        axes = _searched_axes(spec, name, fixed)
        if spec.random is None:
            combos: Iterable[tuple] = itertools.product(*(a.grid() for a in axes))
        else:
            combos = [tuple(a.draw(rng) for a in axes) for _ in range(spec.random)]
        for combo in combos:
            hyper = dict(fixed)
            sched = dict(spec.schedule.settings) if spec.schedule else {}
            for a, v in zip(axes, combo, strict=True):
                (sched if a.is_schedule else hyper)[a.setting] = v
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
