"""The resolved configuration of an experiment, its TOML form, and the optimizer/schedule specs.

One :class:`ExperimentConfig` says everything a run needs — data, architecture, optimizers
with all their hyperparameters, learning rate, schedule, batch size, epochs, seeds — so that
``descentlab compare --config config.toml`` reruns a saved study exactly. Its defaults are the
seed's study: the seed's moons, ``layer_dims = [2, 5, 2, 1]``, gd / momentum / adam with
``alpha = 0.0007``, mini-batches of 64, 10000 epochs, the seed's He initialisation
(``np.random.seed(3)``) and data order (shuffle seed 10, plus one each epoch).

The command line describes optimizers, schedules and datasets with one small syntax,
``name:key=value,key=value`` (:func:`parse_spec`)::

    gd,momentum:beta=0.8,adam:lr=0.001,b1=0.9     -> three optimizers
    inverse_time:decay_rate=1                     -> a schedule
    moons:n_samples=1000,noise=0.3                -> a dataset

Short names are accepted for settings (:data:`ALIASES`: ``lr`` = ``learning_rate``, ``beta1``
= ``b1``, ``epsilon`` = ``eps``, ``wd`` = ``weight_decay``, ...).

Adam in experiments. The optimizers keep PyTorch's defaults (``adam``: ``eps = 1e-8`` outside
the square root), but an experiment's ``adam`` defaults to the seed's placement,
``eps = 0, eps_root = 1e-8`` (:data:`EXPERIMENT_DEFAULTS`), so that ``descentlab compare``,
with or without ``--optimizers adam``, reproduces the seed. Write ``adam:eps=1e-8,eps_root=0``
for PyTorch's Adam. The saved configuration always lists every hyperparameter explicitly.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from descentlab._validation import (
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    check_param,
    is_integer,
)
from descentlab.nn import ACTIVATIONS, INITIALISERS
from descentlab.optimizers import OPTIMIZERS, GradientTransformation, get_optimizer
from descentlab.schedules import SCHEDULES, get_schedule

__all__ = [
    "ALIASES",
    "EXPERIMENT_DEFAULTS",
    "GENERATED_DATASETS",
    "DatasetSpec",
    "ExperimentConfig",
    "OptimizerSpec",
    "ScheduleSpec",
    "build_learning_rate",
    "build_optimizer",
    "parse_dataset_spec",
    "parse_layers",
    "parse_optimizer_spec",
    "parse_schedule_spec",
    "parse_spec",
    "resolve_hyperparameters",
]

ALIASES: dict[str, str] = {
    "lr": "learning_rate",
    "alpha": "learning_rate",
    "beta1": "b1",
    "beta2": "b2",
    "epsilon": "eps",
    "wd": "weight_decay",
    "rho": "decay",
    "mu": "momentum",
}
"""Short setting names accepted in specs and configs, and the names they stand for."""

EXPERIMENT_DEFAULTS: dict[str, dict[str, Any]] = {"adam": {"eps": 0.0, "eps_root": 1e-8}}
"""Where an experiment's default differs from the optimizer's own: the seed's Adam epsilon."""

GENERATED_DATASETS = ("moons", "circles", "blobs", "spiral", "xor", "gaussian_quantiles")
"""Built-in datasets drawn from a distribution: their held-out set is a fresh sample."""

Value = bool | int | float | str | list[Any]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_OWNER = "the experiment configuration"
_INLINE_NUMBERS = re.compile(r"\[\n((?:[ ]+[-+0-9.eE]+,\n)+)\]")


# --------------------------------------------------------------------------- the spec syntax


def _parse_value(text: str) -> Value:
    """``true``/``false`` → bool, then int, then float, ``[a,b]`` → list, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_parse_value(v.strip()) for v in re.split(r"[,;\s]+", inner)] if inner else []
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _split_items(text: str) -> list[str]:
    """Split on commas that are not inside ``[...]``."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def parse_spec(text: str, what: str = "--optimizers") -> list[tuple[str, dict[str, Value]]]:
    """Parse ``name[:key=value,key=value],name,...`` into ``[(name, {key: value}), ...]``.

    Items are split on commas (not inside ``[...]``); an item without ``=`` starts a new entry
    (``name`` or ``name:key=value``); an item ``key=value`` adds a setting to the entry before
    it, which must have opened its settings with ``:``. Values become bool (``true`` /
    ``false``), int, float, a list (``[100,200]``) or stay text. Keys in :data:`ALIASES` are
    renamed (``lr`` → ``learning_rate``).

    Args:
      text: the spec, e.g. ``"gd,adam:lr=0.05,b1=0.9"``.
      what: the option being parsed, named in error messages.

    Returns:
      the entries in order, each ``(name, settings)``.

    Raises:
      InvalidParameterError: an empty item, a setting that belongs to no name, a malformed
        ``key=value``, a key given twice.

    >>> parse_spec("gd,adam:lr=0.05,b1=0.9,amsgrad=true")
    [('gd', {}), ('adam', {'learning_rate': 0.05, 'b1': 0.9, 'amsgrad': True})]
    >>> parse_spec("step:boundaries=[100,200],factor=0.5", "--schedule")
    [('step', {'boundaries': [100, 200], 'factor': 0.5})]
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(f"{what} must name at least one item. Got {text!r} instead.")
    entries: list[tuple[str, dict[str, Value]]] = []
    open_settings = False
    for raw in _split_items(text):
        item = raw.strip()
        if not item:
            raise InvalidParameterError(f"{what} has an empty item in {text!r} (two commas?).")
        head, colon, rest = item.partition(":")
        if "=" in head:  # "key=value" continuing the previous entry
            if not entries or not open_settings:
                prev = f" after {entries[-1][0]!r}" if entries else ""
                raise InvalidParameterError(
                    f"{what}: the setting {item!r}{prev} belongs to no name; write "
                    f"name:{item} (settings follow the name after a colon)."
                )
            setting = item
        else:
            name = head.strip()
            if not _NAME.fullmatch(name):
                raise InvalidParameterError(
                    f"{what}: {name!r} is not a valid name (letters, digits, '_' and '-')."
                )
            entries.append((name, {}))
            open_settings = bool(colon)
            if not colon:
                continue
            setting = rest.strip()
            if not setting:
                raise InvalidParameterError(
                    f"{what}: {item!r} has a colon but no key=value setting after it."
                )
        key, eq, value = (s.strip() for s in setting.partition("="))
        if not eq or not _NAME.fullmatch(key) or not value:
            raise InvalidParameterError(
                f"{what}: cannot read the setting {setting!r} of {entries[-1][0]!r}; "
                "expected key=value (e.g. lr=0.05)."
            )
        key = ALIASES.get(key, key)
        settings = entries[-1][1]
        if key in settings:
            raise InvalidParameterError(
                f"{what}: the setting {key!r} of {entries[-1][0]!r} is given twice."
            )
        settings[key] = _parse_value(value)
    return entries


def parse_optimizer_spec(text: str) -> list[tuple[str, dict[str, Value]]]:
    """Parse an ``--optimizers`` value: ``gd,momentum:beta=0.8,adam:lr=0.001,b1=0.9``.

    The syntax of :func:`parse_spec`. Names are checked against the optimizer registry
    (case-insensitive); settings are checked when the optimizer is built
    (:func:`build_optimizer`).

    Returns:
      ``[(optimizer name, {hyperparameter: value}), ...]``.

    >>> parse_optimizer_spec("gd:lr=0.1,Momentum,adam:beta1=0.8")
    [('gd', {'learning_rate': 0.1}), ('momentum', {}), ('adam', {'b1': 0.8})]
    """
    entries = parse_spec(text, "--optimizers")
    out = []
    for name, settings in entries:
        key = _optimizer_name(name)
        out.append((key, settings))
    return out


def parse_schedule_spec(text: str | None) -> ScheduleSpec | None:
    """Parse a ``--schedule`` value such as ``inverse_time:decay_rate=1``; None/"constant"/"none" → None.

    The schedule's names are the keys of :data:`descentlab.schedules.SCHEDULES` (the suffix
    ``_decay`` is accepted: ``inverse_time_decay`` = ``inverse_time``).

    >>> parse_schedule_spec("exponential_decay:gamma=0.99")
    ScheduleSpec(name='exponential', settings={'gamma': 0.99})
    """
    if text is None or text.strip().lower() in ("", "none", "constant"):
        return None
    entries = parse_spec(text, "--schedule")
    if len(entries) != 1:
        raise InvalidParameterError(
            f"--schedule takes one schedule (name:key=value,...). Got {len(entries)} in {text!r}."
        )
    name, settings = entries[0]
    return ScheduleSpec(name, settings)


def parse_dataset_spec(text: str, target: str | None = None) -> DatasetSpec:
    """Parse a ``--dataset`` value: a built-in name with optional generator settings, or a path.

    ``moons``, ``moons:n_samples=1000,noise=0.3,seed=2``, ``data/iris.csv`` (with ``target``,
    the label column), ``data/xy.npz``.

    >>> parse_dataset_spec("circles:noise=0.05")
    DatasetSpec(name='circles', target=None, n_samples=None, noise=0.05, seed=None, holdout='fresh', test_size=0.25, test_seed=1, standardize=False)
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(f"--dataset must be a built-in name or a path. Got {text!r}.")
    text = text.strip()
    if Path(text).suffix.lower() in (".csv", ".npz") or os.sep in text or "/" in text:
        return DatasetSpec(name=text, target=target)
    entries = parse_spec(text, "--dataset")
    if len(entries) != 1:
        raise InvalidParameterError(f"--dataset takes one dataset. Got {text!r}.")
    ((name, settings),) = entries
    unknown = sorted(set(settings) - {"n_samples", "noise", "seed"})
    if unknown:
        raise InvalidParameterError(
            f"--dataset: unknown setting {', '.join(map(repr, unknown))} for {name!r}; "
            "built-in generators accept n_samples, noise and seed."
        )
    return DatasetSpec(name=name, target=target, **settings)  # type: ignore[arg-type]


def parse_layers(text: str) -> tuple[int, ...]:
    """Parse ``--layers``: hidden layer sizes ``5,2`` → ``(5, 2)``; ``""`` or ``none`` → ``()``.

    >>> parse_layers("16, 8")
    (16, 8)
    """
    stripped = text.strip()
    if stripped.lower() in ("", "none", "0"):
        return ()
    sizes = []
    for part in stripped.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InvalidParameterError(
                "--layers must be the hidden layer sizes as positive integers separated by "
                f"commas, e.g. --layers 5,2. Got {text!r} instead."
            )
        sizes.append(int(part))
    return tuple(sizes)


# --------------------------------------------------------------------------- optimizers


def _optimizer_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    if key not in OPTIMIZERS:
        raise InvalidParameterError(
            f"Unknown optimizer {name!r}; the known optimizers are {', '.join(OPTIMIZERS)}."
        )
    return key


def _canonical(settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        canon = ALIASES.get(key, key)
        if canon in out:
            raise InvalidParameterError(f"The setting {canon!r} is given twice (as {key!r}).")
        out[canon] = value
    return out


def resolve_hyperparameters(name: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every hyperparameter of optimizer ``name`` except the learning rate, with values.

    Value = ``given`` (aliases allowed), else :data:`EXPERIMENT_DEFAULTS`, else the optimizer's
    own default. ``learning_rate`` is kept only if ``given`` has it. Numbers become floats and
    flags stay bools, so the result round-trips through TOML exactly.

    Raises:
      InvalidParameterError: unknown optimizer or hyperparameter.

    >>> resolve_hyperparameters("adam", {"lr": 0.01})
    {'learning_rate': 0.01, 'b1': 0.9, 'b2': 0.999, 'eps': 0.0, 'eps_root': 1e-08, 'amsgrad': False, 'weight_decay': 0.0}
    """
    key = _optimizer_name(name)
    given = _canonical(given or {})
    accepted = inspect.signature(OPTIMIZERS[key]).parameters
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise InvalidParameterError(
            f"Unknown hyperparameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} for optimizer {key!r}; it accepts "
            f"{', '.join(accepted)} (lr is short for learning_rate)."
        )
    defaults = EXPERIMENT_DEFAULTS.get(key, {})
    out: dict[str, Any] = {}
    for pname, param in accepted.items():
        if pname in given:
            value = given[pname]
        elif pname == "learning_rate":
            continue
        elif pname in defaults:
            value = defaults[pname]
        else:
            value = param.default
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            if isinstance(param.default, bool):
                raise InvalidParameterError(
                    f"The {pname!r} parameter of {key} must be true or false. Got {value!r} instead."
                )
            value = float(value)
        out[pname] = value
    return out


def build_learning_rate(
    learning_rate: float | np.ndarray,
    schedule: ScheduleSpec | str | None = None,
    steps_per_epoch: int = 1,
) -> float | np.ndarray | Callable[[int], Any]:
    """The optimizer's ``learning_rate`` argument: the number itself, or the schedule built on it.

    The schedule gets ``learning_rate`` as its starting rate (``alpha0``) when it takes one,
    and ``steps_per_epoch`` (mini-batches per epoch, ``ceil(m / batch_size)``) when it counts
    epochs and the spec does not set it, so ``inverse_time:decay_rate=1`` decays once per
    epoch, as the seed's ``alpha = alpha0 / (1 + decay_rate * epoch_num)``.

    >>> lr = build_learning_rate(0.1, "inverse_time:decay_rate=1", steps_per_epoch=5)
    >>> [round(lr(t), 4) for t in (0, 4, 5, 10)]
    [0.1, 0.1, 0.05, 0.0333]
    """
    spec = parse_schedule_spec(schedule) if isinstance(schedule, str) else schedule
    if spec is None:
        return learning_rate
    factory = SCHEDULES[spec.name]
    accepted = inspect.signature(factory).parameters
    settings = dict(spec.settings)
    if "learning_rate" in settings or (spec.name == "constant" and "value" in settings):
        raise InvalidParameterError(
            f"The schedule {spec.name!r} takes its starting learning rate from the optimizer "
            "(--lr or the optimizer's lr=...); remove learning_rate from --schedule."
        )
    if "learning_rate" in accepted or spec.name == "constant":
        settings["learning_rate"] = learning_rate
    if "steps_per_epoch" in accepted and "steps_per_epoch" not in settings:
        settings["steps_per_epoch"] = int(steps_per_epoch)
    return get_schedule(spec.name, **settings)


def build_optimizer(
    name: str,
    hyperparameters: Mapping[str, Any] | None = None,
    learning_rate: float | np.ndarray | None = None,
    schedule: ScheduleSpec | str | None = None,
    steps_per_epoch: int = 1,
) -> GradientTransformation:
    """Build a named optimizer for an experiment.

    ``alpha`` = ``hyperparameters["learning_rate"]`` if set (aliases such as ``lr`` allowed),
    else ``learning_rate``; with a schedule, ``alpha_t = schedule(t)`` starting from that
    value (:func:`build_learning_rate`). The other hyperparameters are
    :func:`resolve_hyperparameters` (so ``adam`` is the seed's Adam unless ``eps`` /
    ``eps_root`` are given). Numbers may be arrays ``(K,)`` for a population.

    Args:
      name: a key of :data:`descentlab.optimizers.OPTIMIZERS` (case-insensitive).
      hyperparameters: the optimizer's settings, e.g. ``{"b1": 0.8}``.
      learning_rate: the default learning rate (``--lr``).
      schedule: a :class:`ScheduleSpec`, its text form, or None (constant rate).
      steps_per_epoch: mini-batches per epoch, for schedules that count epochs.

    Returns:
      the GradientTransformation.

    Raises:
      InvalidParameterError: unknown optimizer, hyperparameter or schedule, a bad value
        (e.g. a learning rate <= 0), or no learning rate at all.

    >>> import numpy as np
    >>> opt = build_optimizer("adam", {"lr": 0.1})
    >>> state = opt.init({"x": np.zeros(2)})
    >>> updates, _ = opt.update({"x": np.array([1.0, -1.0])}, state)
    >>> updates["x"].round(6).tolist()
    [-0.1, 0.1]
    """
    key = _optimizer_name(name)
    settings = resolve_hyperparameters(key, hyperparameters)
    lr = settings.pop("learning_rate", learning_rate)
    if lr is None:
        raise InvalidParameterError(
            f"Optimizer {key!r} needs a learning rate: give --lr or {key}:lr=..."
        )
    if not callable(lr):
        check_param(key, "learning_rate", lr, Interval(0.0, None, closed="neither"))
    rate = build_learning_rate(lr, schedule, steps_per_epoch)
    return get_optimizer(key, learning_rate=rate, **settings)


# --------------------------------------------------------------------------- the config


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule by name: ``ScheduleSpec("inverse_time", {"decay_rate": 1.0})``.

    ``name`` is a key of :data:`descentlab.schedules.SCHEDULES` (``_decay`` suffix accepted);
    the starting learning rate and ``steps_per_epoch`` are filled in when it is built
    (:func:`build_learning_rate`).
    """

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = str(self.name).strip().lower().replace("-", "_")
        if name not in SCHEDULES and name.endswith("_decay") and name[:-6] in SCHEDULES:
            name = name[:-6]
        if name not in SCHEDULES:
            raise InvalidParameterError(
                f"Unknown schedule {self.name!r}; the known schedules are {', '.join(SCHEDULES)}."
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "settings", _canonical(self.settings))

    def text(self) -> str:
        """The ``name:key=value,...`` form."""
        return _spec_text(self.name, self.settings)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of a comparison: name, hyperparameters and the label shown in tables.

    After construction ``hyperparameters`` holds every hyperparameter explicitly
    (:func:`resolve_hyperparameters`); ``learning_rate`` appears there only when this optimizer
    overrides the experiment's. ``label`` defaults to the spec as written,
    e.g. ``adam:lr=0.001``.
    """

    name: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        key = _optimizer_name(self.name)
        given = _canonical(self.hyperparameters)
        if not self.label:
            object.__setattr__(self, "label", _spec_text(key, given))
        object.__setattr__(self, "name", key)
        object.__setattr__(self, "hyperparameters", resolve_hyperparameters(key, given))

    def learning_rate(self, default: float) -> float:
        """This optimizer's learning rate: its own, else ``default``."""
        return float(self.hyperparameters.get("learning_rate", default))

    def effective_hyperparameters(self, default_learning_rate: float) -> dict[str, Any]:
        """All hyperparameters with the learning rate first (for results and reports)."""
        rest = {k: v for k, v in self.hyperparameters.items() if k != "learning_rate"}
        return {"learning_rate": self.learning_rate(default_learning_rate), **rest}

    def build(
        self,
        learning_rate: float,
        schedule: ScheduleSpec | None = None,
        steps_per_epoch: int = 1,
    ) -> GradientTransformation:
        """:func:`build_optimizer` for this spec."""
        return build_optimizer(
            self.name, self.hyperparameters, learning_rate, schedule, steps_per_epoch
        )


def _spec_text(name: str, settings: Mapping[str, Any]) -> str:
    short = {v: k for k, v in ALIASES.items() if k in ("lr",)}

    def show(v: Any) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, list | tuple):
            return "[" + ",".join(show(x) for x in v) + "]"
        return f"{v:g}" if isinstance(v, float) else str(v)

    if not settings:
        return name
    return name + ":" + ",".join(f"{short.get(k, k)}={show(v)}" for k, v in settings.items())


SEED_OPTIMIZERS: tuple[OptimizerSpec, ...] = (
    OptimizerSpec("gd"),
    OptimizerSpec("momentum"),
    OptimizerSpec("adam"),
)


@dataclass(frozen=True)
class DatasetSpec:
    """Where the data comes from and how the held-out test set is made.

    Attributes:
      name: a built-in name (:data:`descentlab.datasets.BUILTIN_DATASETS`) or a path to a
        ``.csv`` / ``.npz`` file.
      target: the label column of a CSV (label array of an NPZ, default ``y``).
      n_samples, noise, seed: settings of a built-in generator (None: its default; ``moons``
        with none of them is the seed's exact data).
      holdout: ``fresh`` — the test set is a new sample of the same generator (same
        ``n_samples`` and ``noise``, seed ``test_seed``); ``split`` — a stratified split of the
        data (``test_size``, seed ``test_seed``). Default: ``fresh`` for generated data,
        ``split`` for real sets and files.
      test_size: fraction in (0, 1) or count of test examples, for ``split``.
      test_seed: seed of the fresh sample or of the split.
      standardize: standardise the features with the training part's mean and standard
        deviation (the test set uses the same ones). Default: False for generated data,
        True for real sets and files.
    """

    name: str = "moons"
    target: str | None = None
    n_samples: int | None = None
    noise: float | None = None
    seed: int | None = None
    holdout: str | None = None
    test_size: float | int = 0.25
    test_seed: int = 1
    standardize: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidParameterError(
                f"The dataset must be a built-in name or a file path. Got {self.name!r}."
            )
        generated = self.is_generated
        name = self.name.strip()
        if self.is_builtin:
            name = name.lower().replace("-", "_")
        object.__setattr__(self, "name", name)
        if not generated:
            for key in ("n_samples", "noise", "seed"):
                if getattr(self, key) is not None:
                    raise InvalidParameterError(
                        f"The dataset setting {key!r} applies only to generated datasets "
                        f"({', '.join(GENERATED_DATASETS)}), not to {self.name!r}."
                    )
        if self.target is not None and self.is_builtin:
            raise InvalidParameterError(
                f"--target applies only to CSV/NPZ files, not to the built-in dataset {name!r}."
            )
        if self.is_file and Path(name).suffix.lower() == ".csv" and not self.target:
            raise InvalidParameterError(
                f"Reading the CSV file '{name}' needs --target, the name of its label column."
            )
        holdout = self.holdout or ("fresh" if generated else "split")
        check_param(_OWNER, "holdout", holdout, Options(("fresh", "split")))
        if holdout == "fresh" and not generated:
            raise InvalidParameterError(
                f"holdout='fresh' needs a generated dataset ({', '.join(GENERATED_DATASETS)}); "
                f"{name!r} is fixed data: use holdout='split' (--test-size)."
            )
        object.__setattr__(self, "holdout", holdout)
        if self.standardize is None:
            object.__setattr__(self, "standardize", not generated)
        check_param(_OWNER, "standardize", self.standardize, Options((True, False)))
        if self.n_samples is not None:
            check_param(_OWNER, "n_samples", self.n_samples, Interval(2, None, integer=True))
            object.__setattr__(self, "n_samples", int(self.n_samples))
        if self.noise is not None:
            check_param(_OWNER, "noise", self.noise, Interval(0.0, None))
            object.__setattr__(self, "noise", float(self.noise))
        for key in ("seed", "test_seed"):
            value = getattr(self, key)
            if value is not None:
                check_param(_OWNER, key, value, Interval(0, None, integer=True), allow_array=False)
                object.__setattr__(self, key, int(value))
        if is_integer(self.test_size):
            check_param(_OWNER, "test_size", self.test_size, Interval(1, None, integer=True))
        else:
            check_param(
                _OWNER,
                "test_size",
                self.test_size,
                Interval(0.0, 1.0, "neither"),
                allow_array=False,
            )
            object.__setattr__(self, "test_size", float(self.test_size))
        if holdout == "fresh" and self.seed is not None and self.seed == self.test_seed:
            raise InvalidParameterError(
                f"The held-out sample would be the training data itself: the dataset seed and "
                f"test_seed are both {self.seed}. Choose a different test_seed."
            )

    @property
    def is_builtin(self) -> bool:
        from descentlab.datasets import BUILTIN_DATASETS

        return self.name.strip().lower().replace("-", "_") in BUILTIN_DATASETS

    @property
    def is_generated(self) -> bool:
        return self.name.strip().lower().replace("-", "_") in GENERATED_DATASETS

    @property
    def is_file(self) -> bool:
        return not self.is_builtin

    @property
    def short_name(self) -> str:
        """The name for run folders and titles: the built-in name or the file's stem."""
        return self.name if self.is_builtin else Path(self.name).stem


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a comparison (or a single training run) needs; the defaults are the seed's study.

    Attributes:
      name: the run's name (run folders are ``runs/<name>-<timestamp>``); default: the
        dataset's short name.
      dataset: see :class:`DatasetSpec`.
      layers: hidden layer sizes; the network is ``(n_features, *layers, n_out)`` with
        ``n_out = 1`` (sigmoid) for two classes and ``n_classes`` (softmax) for more.
      activation: hidden activation (``relu``, ``tanh``, ``leaky_relu``, ``sigmoid``).
      optimizers: the optimizers compared, each with all its hyperparameters.
      learning_rate: alpha for every optimizer that does not set its own, > 0.
      schedule: a learning-rate schedule applied to every optimizer's alpha, or None.
      batch_size: examples per mini-batch, >= 1.
      epochs: passes over the training data, >= 1.
      seed: initialisation seed (``init="seed"``: ``RandomState(seed)``, the seed uses 3).
      init: ``seed`` (the seed's He init), ``he`` or ``xavier``.
      shuffle: data order: ``seed`` (the seed's: ``RandomState(data_seed + epoch + 1)``),
        ``random`` (a Generator seeded by ``data_seed``) or ``none``.
      data_seed: seed of the data order (the seed uses 10).
      eval_every: measure train/test accuracy every this many epochs (and after the last).
      log_scale: draw the cost curves on a log scale.
    """

    name: str = ""
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    layers: tuple[int, ...] = (5, 2)
    activation: str = "relu"
    optimizers: tuple[OptimizerSpec, ...] = SEED_OPTIMIZERS
    learning_rate: float = 0.0007
    schedule: ScheduleSpec | None = None
    batch_size: int = 64
    epochs: int = 10000
    seed: int = 3
    init: str = "seed"
    shuffle: str = "seed"
    data_seed: int = 10
    eval_every: int = 100
    log_scale: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise InvalidParameterError(
                f"The 'dataset' of {_OWNER} must be a DatasetSpec. Got {self.dataset!r}."
            )
        name = self.name or _derived_name(self.dataset)
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise InvalidParameterError(
                f"The 'name' of {_OWNER} is used in folder names and may hold letters, digits, "
                f"'_', '-' and '.'. Got {name!r} instead."
            )
        object.__setattr__(self, "name", name)
        layers = self.layers
        if isinstance(layers, str) or not isinstance(layers, Sequence):
            raise InvalidParameterError(
                f"The 'layers' parameter of {_OWNER} must be a list of hidden layer sizes "
                f"(positive ints), e.g. [5, 2]. Got {layers!r} instead."
            )
        for size in layers:
            if not is_integer(size) or size < 1:
                raise InvalidParameterError(
                    f"The 'layers' parameter of {_OWNER} must be a list of hidden layer sizes "
                    f"(positive ints), e.g. [5, 2]. Got {list(layers)!r} instead."
                )
        object.__setattr__(self, "layers", tuple(int(s) for s in layers))
        check_param(_OWNER, "activation", self.activation, Options(ACTIVATIONS))
        check_param(_OWNER, "init", self.init, Options(INITIALISERS))
        check_param(_OWNER, "shuffle", self.shuffle, Options(("seed", "random", "none")))
        positive = Interval(0.0, None, closed="neither")
        check_param(_OWNER, "learning_rate", self.learning_rate, positive, allow_array=False)
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        for key in ("batch_size", "epochs", "eval_every"):
            rule = Interval(1, None, integer=True)
            object.__setattr__(
                self,
                key,
                int(check_param(_OWNER, key, getattr(self, key), rule, allow_array=False)),
            )
        for key in ("seed", "data_seed"):
            rule = Interval(0, None, integer=True)
            object.__setattr__(
                self,
                key,
                int(check_param(_OWNER, key, getattr(self, key), rule, allow_array=False)),
            )
        check_param(_OWNER, "log_scale", self.log_scale, Options((True, False)))
        optimizers = tuple(self.optimizers)
        if not optimizers or not all(isinstance(o, OptimizerSpec) for o in optimizers):
            raise InvalidParameterError(
                f"The 'optimizers' of {_OWNER} must be a non-empty list of OptimizerSpec. "
                f"Got {self.optimizers!r} instead."
            )
        labels = [o.label for o in optimizers]
        for label in labels:
            if labels.count(label) > 1:
                raise InvalidParameterError(
                    f"The optimizer {label!r} is listed twice; give each optimizer different "
                    "settings or a different label."
                )
        object.__setattr__(self, "optimizers", optimizers)
        if self.schedule is not None and not isinstance(self.schedule, ScheduleSpec):
            raise InvalidParameterError(
                f"The 'schedule' of {_OWNER} must be a ScheduleSpec or None. Got {self.schedule!r}."
            )
        for opt in optimizers:  # every optimizer (and the schedule) must build
            opt.build(self.learning_rate, self.schedule, 1)

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with ``changes`` applied (and validated)."""
        if (
            "dataset" in changes
            and changes.get("name") is None
            and self.name == _derived_name(self.dataset)
        ):
            changes.setdefault("name", "")
        return dataclasses.replace(self, **changes)

    def layer_dims(self, n_features: int, n_classes: int) -> tuple[int, ...]:
        """``(n_features, *layers, 1)`` for two classes, ``(..., n_classes)`` (softmax) for more."""
        if n_classes < 2:
            raise DataError(f"Classification needs at least two classes; got {n_classes}.")
        return (n_features, *self.layers, 1 if n_classes == 2 else n_classes)

    def steps_per_epoch(self, n_train: int) -> int:
        """Mini-batches per epoch: ``ceil(n_train / batch_size)``."""
        return max(1, math.ceil(n_train / self.batch_size))

    # ------------------------------------------------------------------ dict / TOML
    def to_dict(self) -> dict[str, Any]:
        """A plain dict (TOML/JSON friendly; None values are left out)."""
        data = {k: v for k, v in dataclasses.asdict(self.dataset).items() if v is not None}
        out: dict[str, Any] = {
            "name": self.name,
            "layers": list(self.layers),
            "activation": self.activation,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "seed": self.seed,
            "init": self.init,
            "shuffle": self.shuffle,
            "data_seed": self.data_seed,
            "eval_every": self.eval_every,
            "log_scale": self.log_scale,
            "dataset": data,
        }
        if self.schedule is not None:
            out["schedule"] = {"name": self.schedule.name, **dict(self.schedule.settings)}
        out["optimizers"] = [
            {"name": o.name, "label": o.label, **dict(o.hyperparameters)} for o in self.optimizers
        ]
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "the configuration"
    ) -> ExperimentConfig:
        """Build (and validate) a config from :meth:`to_dict`'s form; missing keys take defaults.

        Raises:
          InvalidParameterError: unknown keys (named, with the known ones), bad values.
        """
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"{source} must be a table of settings.")
        top = {f.name for f in dataclasses.fields(cls)}
        _check_keys(data, top, source, "")
        kwargs: dict[str, Any] = {
            k: v for k, v in data.items() if k not in ("dataset", "schedule", "optimizers")
        }
        if "layers" in kwargs and isinstance(kwargs["layers"], list):
            kwargs["layers"] = tuple(kwargs["layers"])
        if "dataset" in data:
            ds = data["dataset"]
            if not isinstance(ds, Mapping):
                raise InvalidParameterError(f"[dataset] in {source} must be a table.")
            _check_keys(ds, {f.name for f in dataclasses.fields(DatasetSpec)}, source, "dataset")
            kwargs["dataset"] = DatasetSpec(**ds)
        if "schedule" in data:
            sch = data["schedule"]
            if not isinstance(sch, Mapping) or "name" not in sch:
                raise InvalidParameterError(
                    f"[schedule] in {source} must be a table with a 'name' (e.g. name = "
                    '"inverse_time") and the schedule\'s settings.'
                )
            kwargs["schedule"] = ScheduleSpec(
                sch["name"], {k: v for k, v in sch.items() if k != "name"}
            )
        if "optimizers" in data:
            opts = data["optimizers"]
            if not isinstance(opts, list) or not all(isinstance(o, Mapping) for o in opts):
                raise InvalidParameterError(
                    f"'optimizers' in {source} must be a list of [[optimizers]] tables."
                )
            specs = []
            for o in opts:
                if "name" not in o:
                    raise InvalidParameterError(
                        f"Every [[optimizers]] table in {source} needs a 'name' (e.g. \"adam\")."
                    )
                hyper = {k: v for k, v in o.items() if k not in ("name", "label")}
                specs.append(OptimizerSpec(o["name"], hyper, o.get("label", "")))
            kwargs["optimizers"] = tuple(specs)
        return cls(**kwargs)

    def to_toml(self) -> str:
        """The configuration as TOML text; :meth:`from_toml` reads it back to an equal config."""
        header = (
            "# descentlab experiment configuration (every setting, resolved).\n"
            "# Rerun it exactly with: descentlab compare --config config.toml\n\n"
        )
        text = tomli_w.dumps(self.to_dict())
        # Short arrays of numbers on one line (layers = [5, 2]) instead of one item per line.
        return header + _INLINE_NUMBERS.sub(
            lambda m: "[" + ", ".join(v.strip().rstrip(",") for v in m[1].splitlines()) + "]",
            text,
        )

    @classmethod
    def from_toml(cls, text_or_path: str | os.PathLike[str]) -> ExperimentConfig:
        """Read a configuration from TOML text or from a ``.toml`` file path.

        Raises:
          DataError: missing or unreadable file, invalid TOML (with the line).
          InvalidParameterError: unknown keys, bad values.
        """
        source = "the configuration"
        text = text_or_path
        if isinstance(text_or_path, os.PathLike) or (
            isinstance(text_or_path, str)
            and "\n" not in text_or_path
            and text_or_path.endswith(".toml")
        ):
            path = Path(text_or_path)
            source = f"'{path}'"
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise DataError(f"No such file: '{path}'.") from None
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise DataError(f"Cannot read '{path}': {reason}.") from None
        try:
            data = tomllib.loads(str(text))
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{source} is not valid TOML: {exc}.") from None
        return cls.from_dict(data, source)


def _derived_name(dataset: DatasetSpec) -> str:
    """The default run name: the dataset's short name, made safe for folder names."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", dataset.short_name).strip("._") or "data"


def _check_keys(data: Mapping[str, Any], known: set[str], source: str, section: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"[{section}] of {source}" if section else source
        raise InvalidParameterError(
            f"Unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"in {where}; the known settings are {', '.join(sorted(known))}."
        )
