"""What the playground page may ask for: the request schema, its limits and the option tables.

Every request is a :class:`RunRequest` (pydantic, unknown fields rejected, no NaN/inf). The
page offers only two-feature data sets (the generated toy sets), because the decision
boundary is drawn in the plane of the two features; the real data sets (iris, digits, ...)
stay with ``descentlab compare``. The data set is a name from :data:`PLAYGROUND_DATASETS`,
never a path. Bounds on sizes keep one request's work small; :func:`check_request` adds the
checks that involve several fields, raising :class:`RequestError` with the field's name.
"""

from __future__ import annotations

import inspect
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from descentlab import datasets
from descentlab.experiments.specs import resolve_hyperparameters
from descentlab.nn import ACTIVATIONS

__all__ = [
    "LIMITS",
    "OPTIMIZER_HYPERPARAMETERS",
    "PAGE_DEFAULTS",
    "PLAYGROUND_DATASETS",
    "SCHEDULE_SETTINGS",
    "OptimizerRequest",
    "RequestError",
    "RunRequest",
    "ScheduleRequest",
    "check_request",
    "options",
]

PLAYGROUND_DATASETS: dict[str, str] = {
    "moons": "Two interleaving half circles. Size 300, noise 0.2 and no data seed give the "
    "seed's exact training set.",
    "circles": "A ring around a disc: two concentric circles.",
    "xor": "Four squares: class 1 where the two coordinates have opposite signs.",
    "spiral": "Three interleaved spiral arms (three classes).",
    "blobs": "Three Gaussian blobs (three classes).",
    "gaussian_quantiles": "Nested shells of a Gaussian: class by distance from the centre.",
}
"""The data sets the page offers (all with two features), with a sentence for learners."""

LIMITS: dict[str, float | int] = {
    "max_optimizers": 4,
    "min_samples": 10,
    "max_samples": 5000,
    "max_noise": 2.0,
    "max_test_fraction": 0.5,
    "max_hidden_layers": 4,
    "max_hidden_units": 64,
    "max_epochs": 5000,
    "max_batch_size": 5000,
    "max_learning_rate": 10.0,
    "max_seed": 2**32 - 1,
    "max_pace_seconds": 60.0,
}
"""Bounds of single fields (the per-request work and concurrency caps live in the server)."""

# name -> (low, high, closed, help); defaults come from the experiments' resolved defaults.
_UNIT = (0.0, 1.0, "left")
OPTIMIZER_HYPERPARAMETERS: dict[str, dict[str, tuple[float, float, str, str]]] = {
    "gd": {},
    "momentum": {"beta": (*_UNIT, "decay of the velocity (0 = plain gradient descent)")},
    "nesterov": {"momentum": (0.0, 1.0, "neither", "momentum coefficient mu")},
    "sgd": {"momentum": (*_UNIT, "momentum coefficient mu (PyTorch's SGD)")},
    "rmsprop": {
        "decay": (*_UNIT, "decay of the average of squared gradients (rho)"),
        "eps": (0.0, 1.0, "both", "added to the square root"),
    },
    "adagrad": {"eps": (0.0, 1.0, "both", "added to the square root")},
    "adam": {
        "b1": (*_UNIT, "decay of the first moment (beta1)"),
        "b2": (*_UNIT, "decay of the second moment (beta2)"),
        "eps": (0.0, 1.0, "both", "added outside the square root (the seed: 0, eps_root 1e-8)"),
    },
    "adamw": {
        "b1": (*_UNIT, "decay of the first moment (beta1)"),
        "b2": (*_UNIT, "decay of the second moment (beta2)"),
        "eps": (0.0, 1.0, "both", "added outside the square root"),
        "weight_decay": (0.0, 1.0, "both", "decoupled weight decay (lambda)"),
    },
}
"""The hyperparameters the page shows for each optimizer (besides the learning rate)."""

# name -> {setting: (low, high, closed, integer, default, help)}, and a formula per schedule.
SCHEDULE_SETTINGS: dict[str, dict[str, tuple[float, float, str, bool, float, str]]] = {
    "constant": {},
    "inverse_time": {
        "decay_rate": (0.0, 100.0, "both", False, 0.01, "alpha = alpha0 / (1 + rate * epoch)")
    },
    "exponential": {"gamma": (0.0, 1.0, "right", False, 0.995, "alpha = alpha0 * gamma^epoch")},
    "step": {
        "boundaries": (1, 5000, "both", True, 250, "multiply by the factor every this many epochs"),
        "factor": (0.0, 1.0, "right", False, 0.5, "the factor"),
    },
    "cosine": {},
}
SCHEDULE_FORMULAS = {
    "constant": "alpha = alpha0 at every step",
    "inverse_time": "alpha = alpha0 / (1 + decay_rate * epoch)",
    "exponential": "alpha = alpha0 * gamma^epoch",
    "step": "alpha = alpha0 * factor^floor(epoch / boundaries)",
    "cosine": "half a cosine from alpha0 down to 0 over the whole training",
}

_OptimizerName = Literal[tuple(OPTIMIZER_HYPERPARAMETERS)]  # type: ignore[valid-type]
_DatasetName = Literal[tuple(PLAYGROUND_DATASETS)]  # type: ignore[valid-type]
_ScheduleName = Literal[tuple(SCHEDULE_SETTINGS)]  # type: ignore[valid-type]
_ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
_Units = Annotated[int, Field(ge=1, le=LIMITS["max_hidden_units"])]
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class OptimizerRequest(BaseModel):
    """One optimizer: its name, learning rate and (some of) its hyperparameters."""

    model_config = _STRICT
    name: _OptimizerName
    learning_rate: float = Field(gt=0.0, le=LIMITS["max_learning_rate"])
    hyperparameters: dict[str, float] = Field(default_factory=dict)


class ScheduleRequest(BaseModel):
    """The learning-rate schedule every optimizer uses, starting from its own learning rate."""

    model_config = _STRICT
    name: _ScheduleName = "constant"
    decay_rate: float | None = None
    gamma: float | None = None
    boundaries: int | None = None
    factor: float | None = None


class RunRequest(BaseModel):
    """``POST /api/runs``: the data, the network, the training loop and the optimizers."""

    model_config = _STRICT
    dataset: _DatasetName = "moons"
    n_samples: int = Field(300, ge=LIMITS["min_samples"], le=LIMITS["max_samples"])
    noise: float | None = Field(None, ge=0.0, le=LIMITS["max_noise"])
    data_seed: int | None = Field(None, ge=0, le=LIMITS["max_seed"])
    test_fraction: float = Field(0.2, ge=0.0, le=LIMITS["max_test_fraction"])
    hidden: list[_Units] = Field(
        default_factory=lambda: [8, 8], max_length=LIMITS["max_hidden_layers"]
    )
    activation: _ActivationName = "relu"
    epochs: int = Field(1000, ge=1, le=LIMITS["max_epochs"])
    batch_size: int = Field(64, ge=1, le=LIMITS["max_batch_size"])
    seed: int = Field(0, ge=0, le=LIMITS["max_seed"])
    schedule: ScheduleRequest = Field(default_factory=ScheduleRequest)
    pace_seconds: float = Field(0.0, ge=0.0, le=LIMITS["max_pace_seconds"])
    optimizers: list[OptimizerRequest] = Field(min_length=1, max_length=LIMITS["max_optimizers"])


class RequestError(ValueError):
    """A request that passed the schema but cannot be run; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _in_range(value: float, low: float, high: float, closed: str) -> bool:
    above = value >= low if closed in ("both", "left") else value > low
    below = value <= high if closed in ("both", "right") else value < high
    return above and below


def _range_text(low: float, high: float, closed: str) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    return f"{left}{low:g}, {high:g}{right}"


def check_request(req: RunRequest) -> None:
    """The checks the schema cannot express: optimizer hyperparameters and schedule settings.

    Raises:
      RequestError: naming the field, e.g. ``optimizers.1.hyperparameters.b1``.
    """
    for i, opt in enumerate(req.optimizers):
        table = OPTIMIZER_HYPERPARAMETERS[opt.name]
        for key, value in opt.hyperparameters.items():
            field = f"optimizers.{i}.hyperparameters.{key}"
            if key not in table:
                known = ", ".join(table) or "none besides the learning rate"
                raise RequestError(
                    field, f"Unknown hyperparameter {key!r} for {opt.name}; it takes {known}."
                )
            low, high, closed, _ = table[key]
            if not _in_range(value, low, high, closed):
                raise RequestError(
                    field,
                    f"The {key!r} hyperparameter of {opt.name} must be in "
                    f"{_range_text(low, high, closed)}. Got {value!r}.",
                )
    settings = SCHEDULE_SETTINGS[req.schedule.name]
    for key in ("decay_rate", "gamma", "boundaries", "factor"):
        value = getattr(req.schedule, key)
        if value is None:
            continue
        field = f"schedule.{key}"
        if key not in settings:
            takes = ", ".join(settings) or "no settings"
            raise RequestError(
                field, f"{key!r} does not apply to the {req.schedule.name!r} schedule ({takes})."
            )
        low, high, closed, _, _, _ = settings[key]
        if not _in_range(value, low, high, closed):
            raise RequestError(
                field,
                f"The {key!r} setting of the {req.schedule.name!r} schedule must be in "
                f"{_range_text(low, high, closed)}. Got {value!r}.",
            )


def generator_defaults(name: str) -> dict[str, Any]:
    """``n_samples`` and ``noise`` defaults of the generator behind data set ``name``."""
    params = inspect.signature(getattr(datasets, f"make_{name}")).parameters
    return {"n_samples": params["n_samples"].default, "noise": params["noise"].default}


PAGE_DEFAULTS: dict[str, Any] = {
    "dataset": "moons",
    "n_samples": 300,
    "noise": 0.2,
    "data_seed": None,
    "test_fraction": 0.2,
    "hidden": [8, 8],
    "activation": "relu",
    "epochs": 1000,
    "batch_size": 64,
    "seed": 0,
    "schedule": {"name": "constant"},
    "pace_seconds": 4.0,
    "optimizers": [
        {"name": "gd", "learning_rate": 0.01, "hyperparameters": {}},
        {"name": "adam", "learning_rate": 0.01, "hyperparameters": {}},
    ],
}
"""What the page shows first: gd against Adam on the seed's moons, paced to take ~4 s."""


def options() -> dict[str, Any]:
    """``GET /api/options``: data sets, optimizers, schedules, activations, limits, defaults."""
    opt_rows = []
    for name, table in OPTIMIZER_HYPERPARAMETERS.items():
        resolved = resolve_hyperparameters(name)
        opt_rows.append(
            {
                "name": name,
                "hyperparameters": [
                    {
                        "name": key,
                        "default": resolved[key],
                        "min": low,
                        "max": high,
                        "closed": closed,
                        "help": help_text,
                    }
                    for key, (low, high, closed, help_text) in table.items()
                ],
            }
        )
    schedules = [
        {
            "name": name,
            "formula": SCHEDULE_FORMULAS[name],
            "settings": [
                {
                    "name": key,
                    "default": default,
                    "min": low,
                    "max": high,
                    "closed": closed,
                    "integer": integer,
                    "help": help_text,
                }
                for key, (low, high, closed, integer, default, help_text) in table.items()
            ],
        }
        for name, table in SCHEDULE_SETTINGS.items()
    ]
    data_rows = [
        {"name": name, "description": text, **generator_defaults(name)}
        for name, text in PLAYGROUND_DATASETS.items()
    ]
    return {
        "datasets": data_rows,
        "optimizers": opt_rows,
        "schedules": schedules,
        "activations": list(ACTIVATIONS),
        "limits": {k: (v if math.isfinite(v) else None) for k, v in LIMITS.items()},
        "defaults": PAGE_DEFAULTS,
    }
