"""The resolved configuration of an experiment and its TOML form.

One :class:`ExperimentConfig` says everything a run needs — data, architecture, optimizers
with all their hyperparameters, learning rate, schedule, batch size, epochs, seeds — so that
``descentlab compare --config config.toml`` reruns a saved study exactly. Its defaults are the
seed's study: the seed's moons, ``layer_dims = [2, 5, 2, 1]``, gd / momentum / adam with
``alpha = 0.0007``, mini-batches of 64, 10000 epochs, the seed's He initialisation
(``np.random.seed(3)``) and data order (shuffle seed 10, plus one each epoch).

Its optimizers, schedule and dataset are the specs of :mod:`~descentlab.experiments.specs`
(written ``name:key=value,...`` on the command line).

A configuration may name a problem of the suite (:mod:`descentlab.problems`):
:meth:`ExperimentConfig.with_problem` (``--problem NAME``) and the TOML key
``problem = "mnist1d"`` take the dataset, layers, activation, batch size, epochs, learning
rate and evaluation interval from the problem; keys given beside it win, except that the
dataset is the problem's (a ``[dataset]`` table that differs from it is refused).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from descentlab import limits
from descentlab._validation import (
    COUNT,
    FLAG,
    LEARNING_RATE,
    SEED,
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    check_param,
)
from descentlab.batching import SHUFFLES
from descentlab.experiments.specs import (
    _OWNER,
    DatasetSpec,
    OptimizerSpec,
    ScheduleSpec,
    parse_layers,
)
from descentlab.io import check_regular_file, open_error
from descentlab.nn import ACTIVATIONS, INITIALISERS
from descentlab.training import ENGINES, EPOCHS

__all__ = ["ExperimentConfig"]

_INLINE_NUMBERS = re.compile(r"\[\n((?:[ ]+[-+0-9.eE]+,\n)+)\]")


SEED_OPTIMIZERS: tuple[OptimizerSpec, ...] = (
    OptimizerSpec("gd"),
    OptimizerSpec("momentum"),
    OptimizerSpec("adam"),
)


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
      engine: the training engine, ``auto`` (compiled when it covers the configuration and
        pays, else numpy), ``numpy`` or ``compiled`` (:data:`~descentlab.training.ENGINES`);
        the numbers are the same (to 1e-12), only the speed differs.
      problem: the name of the problem of the suite whose setup this is
        (:func:`descentlab.problems.get_problem`; its dataset must be ``dataset``), or None.
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
    engine: str = "auto"
    problem: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetSpec):
            raise InvalidParameterError(
                f"The 'dataset' of {_OWNER} must be a DatasetSpec. Got {self.dataset!r}."
            )
        if self.problem is not None:
            object.__setattr__(self, "problem", _check_problem(self.problem, self.dataset))
        name = self.name or _derived_name(self.dataset, self.problem)
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise InvalidParameterError(
                f"The 'name' of {_OWNER} is used in folder names and may hold letters, digits, "
                f"'_', '-' and '.'. Got {name!r} instead."
            )
        object.__setattr__(self, "name", name)
        layers = self.layers
        if (
            isinstance(layers, str)
            or not isinstance(layers, Sequence)
            or not all(isinstance(size, int) and not isinstance(size, bool) for size in layers)
        ):
            raise InvalidParameterError(
                f"The 'layers' parameter of {_OWNER} must be a list of hidden layer sizes "
                f"(positive ints), e.g. [5, 2]. Got {layers!r} instead."
            )
        object.__setattr__(self, "layers", parse_layers(",".join(map(str, layers)) or "none"))
        check_param(_OWNER, "activation", self.activation, Options(ACTIVATIONS))
        check_param(_OWNER, "init", self.init, Options(INITIALISERS))
        check_param(_OWNER, "shuffle", self.shuffle, Options(SHUFFLES))
        check_param(_OWNER, "learning_rate", self.learning_rate, LEARNING_RATE, allow_array=False)
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        batch = Interval(1, limits.MAX_EXAMPLES, integer=True)
        for key, rule in (
            ("batch_size", batch),
            ("epochs", EPOCHS),
            ("eval_every", COUNT),
            ("seed", SEED),
            ("data_seed", SEED),
        ):
            object.__setattr__(self, key, as_int(_OWNER, key, getattr(self, key), rule))
        check_param(_OWNER, "log_scale", self.log_scale, FLAG)
        check_param(_OWNER, "engine", self.engine, Options(ENGINES))
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
        """A copy with ``changes`` applied (and validated); a name derived from the data (or
        the problem) follows a new dataset (or problem)."""
        if (
            ("dataset" in changes or "problem" in changes)
            and changes.get("name") is None
            and self.name == _derived_name(self.dataset, self.problem)
        ):
            changes.setdefault("name", "")
        return dataclasses.replace(self, **changes)

    def with_problem(self, problem: str, **changes: Any) -> ExperimentConfig:
        """This configuration on the problem ``problem`` of the suite, then ``changes``.

        The problem sets ``dataset``, ``layers``, ``activation``, ``batch_size``, ``epochs``,
        ``learning_rate`` and ``eval_every`` (about 100 evaluations in the budget:
        ``max(1, epochs // 100)``); ``changes`` win over it (but not over its dataset).

        Raises:
          InvalidParameterError: an unknown problem (the message lists the suite); a bad
            value in ``changes``.

        >>> config = ExperimentConfig().with_problem("digits", epochs=5)
        >>> config.name, config.problem, config.dataset.name, config.epochs
        ('digits', 'digits', 'digits', 5)
        """
        return self.replace(**{**_problem_settings(problem), **changes})

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
            "engine": self.engine,
            "dataset": data,
        }
        if self.problem is not None:
            out = {"problem": self.problem, **out}
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
        if "problem" in data:  # the problem's settings, then the keys given beside it
            kwargs = {**_problem_settings(data["problem"]), **kwargs}
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
            if check_regular_file(path) > limits.MAX_CONFIG_BYTES:
                raise DataError(
                    f"{source} is larger than {limits.MAX_CONFIG_BYTES // 1024} KiB "
                    "(descentlab.limits.MAX_CONFIG_BYTES); it is not a configuration file."
                )
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise open_error(path, exc) from None
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"Cannot read '{path}': it is not UTF-8 text ({exc.reason})."
                ) from None
        try:
            data = tomllib.loads(str(text))
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{source} is not valid TOML: {exc}.") from None
        except RecursionError:
            raise DataError(f"{source} is not a configuration: it nests too deeply.") from None
        return cls.from_dict(data, source)


def _derived_name(dataset: DatasetSpec, problem: str | None = None) -> str:
    """The default run name: the problem's name, else the dataset's short name, made safe
    for folder names."""
    text = problem if isinstance(problem, str) else dataset.short_name
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._") or "data"


def _problem_settings(name: Any) -> dict[str, Any]:
    """What the problem ``name`` sets in a configuration (see :meth:`ExperimentConfig.with_problem`)."""
    from descentlab.problems import get_problem

    p = get_problem(name)
    return {
        "problem": p.name,
        "dataset": p.dataset,
        "layers": p.layers,
        "activation": p.activation,
        "batch_size": p.batch_size,
        "epochs": p.epochs,
        "learning_rate": p.learning_rate,
        "eval_every": max(1, p.epochs // 100),
    }


def _check_problem(name: Any, dataset: DatasetSpec) -> str:
    """The problem's name as the suite spells it; its dataset must be ``dataset``."""
    from descentlab.problems import get_problem

    p = get_problem(name)
    if p.dataset != dataset:
        raise InvalidParameterError(
            f"The problem {p.name!r} of {_OWNER} fixes its data ({p.dataset.short_name}); the "
            f"dataset {dataset.short_name!r} given beside it differs. Give a problem or a "
            "dataset, not both."
        )
    return p.name


def _check_keys(data: Mapping[str, Any], known: set[str], source: str, section: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"[{section}] of {source}" if section else source
        raise InvalidParameterError(
            f"Unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"in {where}; the known settings are {', '.join(sorted(known))}."
        )
