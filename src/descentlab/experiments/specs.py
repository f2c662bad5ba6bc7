"""The ``name:key=value`` specs of optimizers, schedules and datasets, and what is built from them.

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

The experiment configuration that holds these specs, and its TOML form, is
:class:`~descentlab.experiments.config.ExperimentConfig`.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    FLAG,
    FRACTION,
    NON_NEGATIVE,
    SEED,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    check_arguments,
    check_param,
    is_integer,
    lookup,
    normalize_name,
    show,
)
from descentlab.optimizers import OPTIMIZERS, GradientTransformation
from descentlab.schedules import SCHEDULES, get_schedule

__all__ = [
    "ALIASES",
    "EXPERIMENT_DEFAULTS",
    "GENERATED_DATASETS",
    "DatasetSpec",
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

GENERATED_DATASETS = (
    "moons",
    "circles",
    "blobs",
    "spiral",
    "xor",
    "gaussian_quantiles",
    "noisy_quadratic",
)
"""Built-in datasets drawn from a distribution: their held-out set is a fresh sample."""

Value = bool | int | float | str | list[Any]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_OWNER = "the experiment configuration"


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

    Sizes are plain decimal numbers (ASCII digits) from 1 to
    :data:`~descentlab.limits.MAX_HIDDEN_UNITS`, at most
    :data:`~descentlab.limits.MAX_HIDDEN_LAYERS` of them.

    >>> parse_layers("16, 8")
    (16, 8)
    """
    stripped = str(text).strip()
    if stripped.lower() in ("", "none", "0"):
        return ()
    parts = [part.strip() for part in stripped.split(",")]
    ok = len(parts) <= limits.MAX_HIDDEN_LAYERS and all(
        part.isascii() and part.isdigit() and 1 <= int(part) <= limits.MAX_HIDDEN_UNITS
        for part in parts
    )
    if not ok:
        raise InvalidParameterError(
            "--layers must be the hidden layer sizes as integers from 1 to "
            f"{limits.MAX_HIDDEN_UNITS} separated by commas (at most {limits.MAX_HIDDEN_LAYERS} "
            f"layers), e.g. --layers 5,2. Got {text!r} instead."
        )
    return tuple(int(part) for part in parts)


# --------------------------------------------------------------------------- optimizers


def _optimizer_name(name: str) -> str:
    return lookup(OPTIMIZERS, "optimizer", name)[0]


def _canonical(settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in settings.items():
        canon = ALIASES.get(key, key)
        if canon in out:
            raise InvalidParameterError(
                f"The setting {canon!r} is given twice (as {given_as[canon]!r} and {key!r})."
            )
        out[canon], given_as[canon] = value, key
    return out


def resolve_hyperparameters(name: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every hyperparameter of optimizer ``name`` except the learning rate, with values.

    Value = ``given`` (aliases allowed), else :data:`EXPERIMENT_DEFAULTS`, else the optimizer's
    own default. ``learning_rate`` is kept only if ``given`` has it. Numbers become floats (a
    flag's value is kept as it is), so the result round-trips through TOML exactly. The values
    themselves are checked where the optimizer is built (:func:`build_optimizer`), once.

    Raises:
      InvalidParameterError: unknown optimizer or hyperparameter.

    >>> resolve_hyperparameters("adam", {"lr": 0.01})
    {'learning_rate': 0.01, 'b1': 0.9, 'b2': 0.999, 'eps': 0.0, 'eps_root': 1e-08, 'amsgrad': False, 'weight_decay': 0.0}
    """
    key, factory = lookup(OPTIMIZERS, "optimizer", name)
    if given is not None and not isinstance(given, Mapping):
        raise InvalidParameterError(
            f"The hyperparameters of {key!r} must be a table of settings. Got {given!r:.80} "
            "instead."
        )
    given = _canonical(given or {})
    check_arguments(
        "optimizer",
        key,
        factory,
        given,
        word="hyperparameter",
        required=False,
        hint=" (lr is short for learning_rate)",
    )
    defaults = EXPERIMENT_DEFAULTS.get(key, {})
    out: dict[str, Any] = {}
    for pname, param in inspect.signature(factory).parameters.items():
        if pname in given:
            out[pname] = _as_float(given[pname], flag=isinstance(param.default, bool))
        elif pname != "learning_rate":
            out[pname] = defaults.get(pname, param.default)
    return out


def _as_float(value: Any, flag: bool) -> Any:
    """A number as a ``float`` (the TOML form); a flag's value, or anything else, as it is."""
    number = isinstance(value, int | float | np.integer | np.floating)
    if flag or not number or isinstance(value, bool):
        return value
    try:
        return float(value)
    except OverflowError:  # an int beyond float range: the optimizer refuses it by name
        return value


def build_learning_rate(
    learning_rate: float | np.ndarray,
    schedule: ScheduleSpec | str | None = None,
    steps_per_epoch: int = 1,
) -> float | np.ndarray | Callable[[int], Any]:
    """The optimizer's ``learning_rate`` argument: the number itself, or the schedule built on it.

    The schedule gets ``learning_rate`` as its starting rate (``alpha0``; one_cycle's peak,
    wsd's stable rate) when it takes one, and ``steps_per_epoch`` (mini-batches per epoch,
    ``ceil(m / batch_size)``) when it counts epochs and the spec does not set it, so
    ``inverse_time:decay_rate=1`` decays once per epoch, as the seed's ``alpha = alpha0 / (1 +
    decay_rate * epoch_num)``, and ``one_cycle:epochs=100`` spans 100 epochs. The numbers are
    checked by the schedule (or, without one, by the optimizer). ``reduce_on_plateau`` gives
    a rate that follows the loss observed after every epoch (not a function of the step).

    >>> lr = build_learning_rate(0.1, "inverse_time:decay_rate=1", steps_per_epoch=5)
    >>> [round(lr(t), 4) for t in (0, 4, 5, 10)]
    [0.1, 0.1, 0.05, 0.0333]
    """
    spec = parse_schedule_spec(schedule) if isinstance(schedule, str) else schedule
    if spec is None:
        return learning_rate
    if not isinstance(spec, ScheduleSpec):
        raise InvalidParameterError(
            f"The schedule must be a ScheduleSpec, its text form or None. Got {schedule!r:.80}."
        )
    accepted = inspect.signature(SCHEDULES[spec.name]).parameters
    settings = dict(spec.settings)
    if "learning_rate" in settings or (spec.name == "constant" and "value" in settings):
        raise InvalidParameterError(
            f"The schedule {spec.name!r} takes its starting learning rate from the optimizer "
            "(--lr or the optimizer's lr=...); remove learning_rate from --schedule."
        )
    if "learning_rate" in accepted or spec.name == "constant":
        settings["learning_rate"] = learning_rate
    if "steps_per_epoch" in accepted and "steps_per_epoch" not in settings:
        settings["steps_per_epoch"] = steps_per_epoch
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
    ``eps_root`` are given). Numbers may be arrays ``(K,)`` for a population. Every value is
    checked once, by the optimizer (and the schedule) it builds.

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
    rate = build_learning_rate(lr, schedule, steps_per_epoch)
    return OPTIMIZERS[key](learning_rate=rate, **settings)


# --------------------------------------------------------------------------- the specs


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
        key = normalize_name(self.name) if isinstance(self.name, str) else self.name
        short = key[: -len("_decay")] if isinstance(key, str) and key.endswith("_decay") else key
        known = isinstance(short, str) and short in SCHEDULES
        key, _ = lookup(SCHEDULES, "schedule", short if known else self.name)
        if not isinstance(self.settings, Mapping):
            raise InvalidParameterError(
                f"The settings of the schedule {key!r} must be a table. Got {self.settings!r:.80}."
            )
        object.__setattr__(self, "name", key)
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
        check_param(_OWNER, "label", self.label, str)
        if not isinstance(self.hyperparameters, Mapping):
            raise InvalidParameterError(
                f"The hyperparameters of {key!r} must be a table of settings. "
                f"Got {self.hyperparameters!r} instead."
            )
        given = _canonical(self.hyperparameters)
        for setting, value in given.items():
            if isinstance(value, list | tuple | np.ndarray):
                raise InvalidParameterError(
                    f"The {setting!r} setting of {key!r} must be one value, not a list or an "
                    "array: an experiment trains each optimizer once (list the optimizer once "
                    f"per value, or search the values with descentlab sweep). Got {show(value)}."
                )
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


def _given() -> tuple[str, ...]:
    """The built-in datasets with their own test set."""
    from descentlab.datasets import GIVEN_SPLITS

    return tuple(GIVEN_SPLITS)


def _spec_text(name: str, settings: Mapping[str, Any]) -> str:
    short = {v: k for k, v in ALIASES.items() if k in ("lr",)}

    def text(v: Any) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        return f"{v:g}" if isinstance(v, float) else str(v)

    if not settings:
        return name
    return name + ":" + ",".join(f"{short.get(k, k)}={text(v)}" for k, v in settings.items())


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
        data (``test_size``, seed ``test_seed``); ``given`` — the dataset's own test set
        (:data:`descentlab.datasets.GIVEN_SPLITS`: MNIST-1D's 1000 test examples). Default:
        ``fresh`` for generated data, ``given`` for a dataset with its own test set,
        ``split`` for other real sets and files.
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
        if self.target is not None and not isinstance(self.target, str):
            raise InvalidParameterError(
                f"The dataset's target must be the name of a column. Got {self.target!r}."
            )
        if self.target is not None and self.is_builtin:
            raise InvalidParameterError(
                f"--target applies only to CSV/NPZ files, not to the built-in dataset {name!r}."
            )
        if self.is_file and Path(name).suffix.lower() == ".csv" and not self.target:
            raise InvalidParameterError(
                f"Reading the CSV file '{name}' needs --target, the name of its label column."
            )
        given = self.has_given_split
        holdout = self.holdout or ("fresh" if generated else "given" if given else "split")
        check_param(_OWNER, "holdout", holdout, Options(("fresh", "split", "given")))
        if holdout == "given" and not given:
            raise InvalidParameterError(
                f"holdout='given' needs a dataset with its own test set ({', '.join(_given())}); "
                f"{name!r} has none: use holdout='split' (--test-size)."
            )
        if holdout == "fresh" and not generated:
            raise InvalidParameterError(
                f"holdout='fresh' needs a generated dataset ({', '.join(GENERATED_DATASETS)}); "
                f"{name!r} is fixed data: use holdout='split' (--test-size)."
            )
        object.__setattr__(self, "holdout", holdout)
        if self.standardize is None:
            object.__setattr__(self, "standardize", not generated)
        check_param(_OWNER, "standardize", self.standardize, FLAG)
        if self.n_samples is not None:
            samples = Interval(2, limits.MAX_EXAMPLES, integer=True)
            object.__setattr__(
                self, "n_samples", as_int(_OWNER, "n_samples", self.n_samples, samples)
            )
        if self.noise is not None:
            check_param(_OWNER, "noise", self.noise, NON_NEGATIVE, allow_array=False)
            object.__setattr__(self, "noise", float(self.noise))
        for key in ("seed", "test_seed"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, as_int(_OWNER, key, value, SEED))
        if is_integer(self.test_size):
            count = Interval(1, limits.MAX_EXAMPLES, integer=True)
            object.__setattr__(
                self, "test_size", as_int(_OWNER, "test_size", self.test_size, count)
            )
        else:
            check_param(_OWNER, "test_size", self.test_size, FRACTION, allow_array=False)
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
    def has_given_split(self) -> bool:
        """Whether the dataset comes with its own test set (``holdout='given'``)."""
        return self.name.strip().lower().replace("-", "_") in _given()

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
