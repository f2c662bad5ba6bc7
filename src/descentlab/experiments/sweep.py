"""Hyperparameter sweeps: a grid (or random search) over settings × seeds, trained as populations.

A :class:`SweepSpec` names the data, the optimizers, the axes of the search (learning rate and
any other hyperparameter or schedule setting), batch sizes, epochs and seeds.
:func:`expand` turns it into :class:`~descentlab.experiments.population.Run` s, one per
configuration and seed; :func:`plan` groups runs that can share a population (same batch
size, epochs, architecture, initialisation, data order — *any* optimizers, stacked) and cuts
each group into chunks of at most ``chunk_size`` members; :func:`run_sweep` trains the chunks
on a backend (:mod:`~descentlab.experiments.parallel`) and writes the sweep folder::

    <out>/
      sweep.json            the spec and the plan (which runs form which chunk)
      results.csv           one row per configuration and seed, rewritten atomically after
                            every finished chunk (so an interruption never loses one)
      summary.csv           per configuration: median, quartiles, mean, std over seeds
      lr_sensitivity.png    per optimizer, validation accuracy and final cost against the
                            learning rate: median and inter-quartile band over seeds, log x
      heatmap_<opt>.png     for an optimizer with exactly two varied hyperparameters

Validation and test data. The learning rate (and everything else) is chosen on validation data
and reported on test data that played no part in choosing it:

- a *generated* dataset (``moons``, ``circles``, ...): training data as specified (``moons``
  alone is the seed's 300 examples), validation and test sets are fresh samples of the same
  generator, same size and noise, seeds ``val_seed`` (default ``test_seed + 1``) and
  ``test_seed`` (default 1, the test set ``descentlab compare`` uses);
- fixed data (real sets, files): a stratified split into test (``test_size`` of the data,
  seed ``test_seed``), then validation (as many examples, seed ``val_seed``) and training;
  features standardised with the training part's statistics.

Resuming. ``run_sweep(..., resume=True)`` reads ``sweep.json`` and ``results.csv`` and runs
only the chunks whose runs are missing, with the stored plan, so a resumed sweep computes
exactly what the uninterrupted one would have and never repeats a finished run.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import load_dataset
from descentlab.experiments.parallel import map_unordered, resolve_jobs, warm_up
from descentlab.experiments.population import (
    Run,
    SplitData,
    build_run_optimizer,
    train_population,
)
from descentlab.experiments.specs import (
    ALIASES,
    DatasetSpec,
    ScheduleSpec,
    resolve_hyperparameters,
)
from descentlab.io import atomic_write
from descentlab.optimizers import OPTIMIZERS
from descentlab.progress import ProgressBar
from descentlab.schedules import SCHEDULES

__all__ = [
    "METRICS",
    "Axis",
    "SweepResult",
    "SweepSpec",
    "execute",
    "expand",
    "load_split",
    "parse_axis",
    "plan",
    "read_results",
    "run_sweep",
    "summarize",
]

METRICS = (
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "final_cost",
    "val_cost",
    "test_cost",
    "diverged",
    "stopped_epoch",
    "seconds",
)
"""The measured columns of ``results.csv``, after the settings."""

SETTING_COLUMNS = ("batch_size", "epochs", "layers", "activation", "init", "shuffle", "seed")


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
    """Everything a sweep computes; stored in ``sweep.json`` (see the module docstring).

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
        object.__setattr__(self, "optimizers", _canonical_optimizers(self.optimizers))
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


def _canonical_optimizers(
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


# ----------------------------------------------------------------------------- data


def load_split(dataset: DatasetSpec, val_seed: int | None = None) -> SplitData:
    """Training, validation and test data for ``dataset`` (see the module docstring).

    >>> data = load_split(DatasetSpec("moons"))
    >>> data.X_train.shape, data.X_val.shape, data.X_test.shape
    ((2, 300), (2, 300), (2, 300))
    """
    val_seed = dataset.test_seed + 1 if val_seed is None else int(val_seed)
    if dataset.holdout == "fresh":
        train = load_dataset(
            dataset.name, n_samples=dataset.n_samples, noise=dataset.noise, seed=dataset.seed
        )
        if val_seed in (dataset.test_seed, dataset.seed):
            raise InvalidParameterError(
                f"The validation sample's seed {val_seed} is also the seed of the training or "
                "test data; choose another --val-seed."
            )

        def fresh(seed: int):
            return load_dataset(
                dataset.name, n_samples=train.n_examples, noise=dataset.noise, seed=seed
            )

        val, test = fresh(val_seed), fresh(dataset.test_seed)
    else:
        full = load_dataset(
            dataset.name,
            target=dataset.target,
            n_samples=dataset.n_samples,
            noise=dataset.noise,
            seed=dataset.seed,
        )
        rest, test = full.split(dataset.test_size, dataset.test_seed)
        if rest.n_examples - test.n_examples < 2 * rest.n_classes:
            raise DataError(
                f"{full.n_examples} examples are too few for training, validation and test "
                f"sets of this size (test_size={dataset.test_size!r})."
            )
        train, val = rest.split(test.n_examples, val_seed)
        if dataset.standardize:
            train, mean, std = train.standardized()
            val, test = val.standardized(mean, std)[0], test.standardized(mean, std)[0]
    return SplitData(train.X, train.y, val.X, val.y, test.X, test.y, train.n_classes)


# ----------------------------------------------------------------------------- running


def _import_plots() -> None:
    import descentlab.experiments.sweep_plots  # noqa: F401


def _train_chunk(runs: list[Run], shared: tuple[SplitData, float | None, Any]) -> list[dict]:
    data, max_cost, on_epoch = shared
    tick = None if on_epoch is None else (lambda epoch: on_epoch(len(runs), epoch))
    return train_population(runs, data, max_cost=max_cost, on_epoch=tick)


def execute(
    runs: Sequence[Run],
    chunks: Sequence[Sequence[int]],
    data: SplitData,
    *,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    max_cost: float | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Iterable[tuple[list[int], list[dict[str, Any]]]]:
    """Train every chunk (a population) on the backend; yield ``(run indices, rows)`` as each ends.

    The rows are those of :func:`~descentlab.experiments.population.train_population`.
    ``on_epoch(n_runs, epoch)`` is called after every epoch of a chunk of ``n_runs`` runs when
    the chunks run in this process (one local job); elsewhere progress comes per chunk.
    """
    tasks = [[runs[i] for i in chunk] for chunk in chunks]
    here = backend == "local" and (resolve_jobs(jobs) == 1 or len(tasks) <= 1)
    for index, rows in map_unordered(
        _train_chunk,
        tasks,
        shared=(data, max_cost, on_epoch if here else None),
        backend=backend,
        jobs=jobs,
        scheduler=scheduler,
    ):
        yield list(chunks[index]), rows


def _columns(runs: Sequence[Run]) -> list[str]:
    hyper: dict[str, None] = {"learning_rate": None}
    sched: dict[str, None] = {}
    for r in runs:
        hyper.update(dict.fromkeys(r.hyperparameters))
        sched.update(dict.fromkeys(r.schedule_settings))
    return [
        "run_id",
        "config_id",
        "optimizer",
        *hyper,
        "schedule",
        *(f"schedule.{k}" for k in sched),
        *SETTING_COLUMNS,
        *METRICS,
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return (
            "-".join(str(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else json.dumps(value)
        )
    return str(value)


def _row(run: Run, measured: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    """One ``results.csv`` row (text cells, empty where a setting does not apply): the run's
    settings, then its measurements."""
    out = {"run_id": run.run_id(), "config_id": run.config_id(), "optimizer": run.optimizer}
    out.update({k: _cell(v) for k, v in run.hyperparameters.items()})
    out["schedule"] = run.schedule or ""
    out.update({f"schedule.{k}": _cell(v) for k, v in run.schedule_settings.items()})
    out.update({k: _cell(getattr(run, k)) for k in SETTING_COLUMNS})
    out.update({k: _cell(measured[k]) for k in METRICS})
    return {c: out.get(c, "") for c in columns}


def _csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def read_results(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``results.csv`` as dicts of text cells (empty list if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
      out_dir: the sweep folder.
      rows: every row of ``results.csv`` (text cells), in plan order.
      n_runs: runs in the whole sweep; ``n_new``: runs trained by this call.
      status: ``completed`` or ``interrupted``.
      seconds: wall time of this call.
      files: the files written, relative to ``out_dir``.
    """

    out_dir: Path
    rows: list[dict[str, str]]
    n_runs: int
    n_new: int
    status: str
    seconds: float
    files: list[str] = field(default_factory=list)


def run_sweep(
    spec: SweepSpec | None,
    out_dir: str | Path,
    *,
    resume: bool = False,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    progress: bool | None = None,
    plots: bool = True,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or continue) the sweep ``spec`` and write its folder ``out_dir``.

    Args:
      spec: the sweep; None with ``resume`` means the one stored in ``out_dir/sweep.json``.
      out_dir: the sweep folder (created if missing).
      resume: continue the sweep stored in ``out_dir``: only runs missing from its
        ``results.csv`` are trained. Without it, a folder that already holds a sweep is an
        error (nothing is overwritten).
      jobs, backend, scheduler: where the chunks run (:func:`map_unordered`).
      progress: one progress bar for the whole sweep, counting finished runs (None: only
        on a terminal).
      plots: draw the plots at the end.
      log: called with a line of chatter now and then (e.g. print to stderr).

    Returns:
      a :class:`SweepResult`. On Ctrl-C the status is ``interrupted``: every finished chunk is
      already in ``results.csv``; run again with ``resume=True`` to finish.

    Raises:
      InvalidParameterError, DataError: bad settings or data; a folder that holds a different
        sweep; ``resume`` without a stored sweep.
    """
    say = log or (lambda _: None)
    out = Path(out_dir)
    stored_path = out / "sweep.json"
    stored = None
    if stored_path.exists():
        try:
            stored = json.loads(stored_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read '{stored_path}': {exc}.") from None
    if stored is not None and not resume:
        raise InvalidParameterError(
            f"'{out}' already holds a sweep; continue it with --resume or choose another --out."
        )
    if resume:
        if stored is None:
            raise InvalidParameterError(f"Nothing to resume: '{stored_path}' does not exist.")
        stored_spec = SweepSpec.from_dict(stored["spec"])
        if spec is not None and spec != stored_spec:
            raise InvalidParameterError(
                f"'{out}' holds a different sweep than the options given; run --resume with "
                "the same options (or with --out alone) to continue it."
            )
        spec = stored_spec
    assert spec is not None
    runs = expand(spec)
    chunks = plan(runs, spec.chunk_size)
    warm = warm_up(backend, jobs) if len(chunks) > 1 else None
    data = load_split(spec.dataset, spec.val_seed)
    columns = _columns(runs)
    run_ids = [r.run_id() for r in runs]
    position = {rid: i for i, rid in enumerate(run_ids)}
    out.mkdir(parents=True, exist_ok=True)
    if stored is None:
        atomic_write(
            stored_path,
            json.dumps(
                {
                    "spec": spec.to_dict(),
                    "n_runs": len(runs),
                    "chunks": [[run_ids[i] for i in c] for c in chunks],
                },
                indent=1,
            )
            + "\n",
        )
    else:
        chunks = [[position[rid] for rid in c] for c in stored["chunks"]]
    done = {
        row["run_id"]: row for row in read_results(out / "results.csv") if row["run_id"] in position
    }
    pending = [c for c in chunks if any(run_ids[i] not in done for i in c)]
    pending = [[i for i in c if run_ids[i] not in done] for c in pending]
    n_todo = sum(len(c) for c in pending)
    say(
        f"descentlab sweep: {len(runs)} runs ({len(runs) // len(spec.seeds)} configurations × "
        f"{len(spec.seeds)} seeds), {len(chunks)} population{'s' if len(chunks) != 1 else ''}; "
        + (f"{len(done)} already done, " if done else "")
        + f"{n_todo} to train on {backend}"
        + (f" ({jobs} job{'s' if jobs != 1 else ''})" if backend == "local" else "")
        + f"; writing {out}"
    )

    def save() -> list[dict[str, str]]:
        rows = sorted(done.values(), key=lambda r: position[r["run_id"]])
        atomic_write(out / "results.csv", _csv_text(columns, rows))
        return rows

    if warm is not None:
        warm.join()
    if plots:  # import matplotlib while the workers train, not after
        threading.Thread(target=_import_plots, daemon=True).start()
    start = time.perf_counter()
    status = "completed"
    bar = ProgressBar(max(1, n_todo), "sweep", enabled=progress)
    finished = 0
    best = -math.inf

    def tick(n_runs: int, epoch: int) -> None:  # progress inside a chunk (one local job)
        bar.update(finished + (n_runs * (epoch + 1)) // spec.epochs)

    try:
        for indices, measured in execute(
            runs,
            pending,
            data,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            max_cost=spec.max_cost,
            on_epoch=tick if bar.enabled else None,
        ):
            for i, m in zip(indices, measured, strict=True):
                done[run_ids[i]] = _row(runs[i], m, columns)
            save()
            finished += len(indices)
            best = max([best, *(float(m["val_accuracy"]) for m in measured)])
            bar.update(finished, best_val=best)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        bar.close()
    rows = save()
    files = ["sweep.json", "results.csv"]
    if status == "completed":
        summary = summarize(rows, columns)
        header = list(summary[0]) if summary else []
        atomic_write(out / "summary.csv", _csv_text(header, summary))
        files.append("summary.csv")
        if plots:
            from descentlab.experiments.sweep_plots import write_sweep_plots

            files += write_sweep_plots(out, rows, spec)
    seconds = time.perf_counter() - start
    say(
        f"descentlab sweep: {status}: {len(rows)} of {len(runs)} runs in results.csv "
        f"({finished} trained now in {seconds:.1f} s)"
        if status == "completed"
        else f"descentlab sweep: interrupted; {len(rows)} of {len(runs)} runs saved in "
        f"{out / 'results.csv'}. Continue with: descentlab sweep --resume --out {out}"
    )
    return SweepResult(out, rows, len(runs), finished, status, seconds, files)


# ----------------------------------------------------------------------------- summary


def _number(cell: str) -> float:
    if cell in ("", None):
        return math.nan
    if cell in ("true", "false"):
        return float(cell == "true")
    return float(cell)


def summarize(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per configuration (``config_id``): its settings, the number of seeds and diverged runs,
    and for validation/test accuracy and final cost the median, quartiles, mean and std
    over seeds (NaN costs of diverged runs are left out of the cost statistics).

    ``columns``: the column order of ``results.csv`` (default: the first row's keys)."""
    by_config: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        by_config.setdefault(r["config_id"], []).append(r)
    skip = {"run_id", "seed", *METRICS}
    settings = [c for c in (columns or (list(rows[0]) if rows else [])) if c not in skip]
    out = []
    for group in by_config.values():
        first = group[0]
        entry: dict[str, Any] = {k: first.get(k, "") for k in settings}
        entry["n_seeds"] = len(group)
        entry["n_diverged"] = sum(r["diverged"] == "true" for r in group)
        for metric in ("val_accuracy", "test_accuracy", "final_cost"):
            v = np.array([_number(r[metric]) for r in group])
            v = v[np.isfinite(v)]
            stats = (
                (np.median(v), *np.percentile(v, [25, 75]), v.mean(), v.std())
                if v.size
                else (math.nan,) * 5
            )
            for name, s in zip(("median", "q25", "q75", "mean", "std"), stats, strict=True):
                entry[f"{metric}_{name}"] = repr(float(s))
        out.append(entry)
    return out
