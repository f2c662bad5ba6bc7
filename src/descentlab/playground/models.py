"""What the playground page may ask for: the request schema, its ranges and the option tables.

Every request is a :class:`RunRequest`: pydantic checks its *shape* (known fields only, the
right types, names from fixed lists, at most four optimizers and four hidden layers, no NaN
or inf); :func:`check_request` checks every *value* against one table of ranges, written in
the shared vocabulary of :mod:`descentlab._validation` (:class:`~descentlab._validation.Interval`,
:func:`~descentlab._validation.check_param`): :data:`RANGES` for the request's own fields,
:data:`OPTIMIZER_HYPERPARAMETERS` and :data:`SCHEDULE_SETTINGS` for the settings of each
optimizer and schedule. ``GET /api/options`` renders the same intervals for the page
(:func:`options`), so what the page shows and what the server accepts cannot drift apart.

The page offers only two-feature data sets (the generated toy sets), because the decision
boundary is drawn in the plane of the two features; the real data sets (iris, digits, ...)
stay with ``descentlab compare``. The data set is a name from :data:`PLAYGROUND_DATASETS`,
never a path, or ``drawn``: the points the page sends as numbers (clicked on the page, or read
from a CSV file by the page), each checked by :func:`check_points` (finite coordinates within
:data:`COORDINATE`, at most :data:`MAX_POINTS`, labels in ``[0, MAX_CLASSES)``, two classes or
more). The network's ``loss`` is one of :data:`LOSSES`.
"""

from __future__ import annotations

import inspect
import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from descentlab import datasets
from descentlab._validation import (
    DECAY_FACTOR,
    FRACTION,
    SEED,
    UNIT_CLOSED,
    UNIT_OPEN,
    Interval,
    InvalidParameterError,
    check_param,
)
from descentlab.experiments.specs import resolve_hyperparameters
from descentlab.nn import ACTIVATIONS
from descentlab.schedules import SCHEDULES

__all__ = [
    "COORDINATE",
    "LIMITS",
    "LOSSES",
    "MAX_CLASSES",
    "MAX_HIDDEN_LAYERS",
    "MAX_OPTIMIZERS",
    "MAX_PIECES",
    "MAX_POINTS",
    "OPTIMIZER_HYPERPARAMETERS",
    "PAGE_DEFAULTS",
    "PLAYGROUND_DATASETS",
    "RANGES",
    "SCHEDULE_FIELDS",
    "SCHEDULE_FORMULAS",
    "SCHEDULE_SETTINGS",
    "STRICT",
    "OptimizerRequest",
    "PointsRequest",
    "RequestError",
    "RunRequest",
    "ScheduleRequest",
    "check_request",
    "check_value",
    "generator_defaults",
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

DRAWN_DESCRIPTION = (
    "Your own points: click on the picture to add a point of the selected class, or load a "
    "CSV file of two feature columns and a label column (read by this page, sent as numbers)."
)
"""The page's sentence for ``dataset = "drawn"``."""

MAX_PIECES = 8
"""Most boundaries of a piecewise schedule."""
MAX_OPTIMIZERS = 4
"""Optimizers of one request (each one is a member of the job's training population)."""
MAX_HIDDEN_LAYERS = 4
"""Hidden layers of the page's network."""
MAX_POINTS = 1000
"""Most points of drawn (or CSV-loaded) data: 1000 points at six significant digits fit the
server's body limit with room to spare."""
MAX_CLASSES = 6
"""Most classes of drawn data (the page has one colour per class)."""
COORDINATE = Interval(-1e4, 1e4)
"""The allowed coordinates of a drawn point."""
LOSSES = ("cross_entropy", "mse")
"""The network's loss: ``cross_entropy`` (sigmoid or softmax output) or ``mse`` (a linear output
fitted to the 0/1 or one-hot targets by half the mean squared error; classes by threshold 0.5
or argmax)."""

RANGES: dict[str, Interval] = {
    "n_samples": Interval(10, 5000, integer=True),
    "noise": Interval(0.0, 2.0),
    "data_seed": SEED,
    "test_fraction": Interval(0.0, 0.5),
    "hidden": Interval(1, 64, integer=True),
    "epochs": Interval(1, 5000, integer=True),
    "batch_size": Interval(1, 5000, integer=True),
    "seed": SEED,
    "pace_seconds": Interval(0.0, 60.0),
    "learning_rate": Interval(0.0, 10.0, closed="right"),
}
"""The allowed values of the request's numbers (``hidden``: the units of each hidden layer;
``learning_rate``: each optimizer's). The per-request work and concurrency caps live in the
server (:func:`~descentlab.playground.server.create_app`)."""

LIMITS: dict[str, float | int] = {
    "max_optimizers": MAX_OPTIMIZERS,
    "min_samples": RANGES["n_samples"].low,
    "max_samples": RANGES["n_samples"].high,
    "max_noise": RANGES["noise"].high,
    "max_test_fraction": RANGES["test_fraction"].high,
    "max_hidden_layers": MAX_HIDDEN_LAYERS,
    "max_hidden_units": RANGES["hidden"].high,
    "max_epochs": RANGES["epochs"].high,
    "max_batch_size": RANGES["batch_size"].high,
    "max_learning_rate": RANGES["learning_rate"].high,
    "max_seed": RANGES["seed"].high,
    "max_pace_seconds": RANGES["pace_seconds"].high,
    "max_points": MAX_POINTS,
    "max_classes": MAX_CLASSES,
    "max_coordinate": COORDINATE.high,
}
"""The bounds of :data:`RANGES` and the list lengths, under the names the page reads."""

_EPS = Interval(0.0, 1.0)
OPTIMIZER_HYPERPARAMETERS: dict[str, dict[str, tuple[Interval, str]]] = {
    "gd": {},
    "momentum": {"beta": (UNIT_OPEN, "decay of the velocity (0 = plain gradient descent)")},
    "nesterov": {"momentum": (Interval(0.0, 1.0, closed="neither"), "momentum coefficient mu")},
    "sgd": {"momentum": (UNIT_OPEN, "momentum coefficient mu (PyTorch's SGD)")},
    "rmsprop": {
        "decay": (UNIT_OPEN, "decay of the average of squared gradients (rho)"),
        "eps": (_EPS, "added to the square root"),
    },
    "adagrad": {"eps": (_EPS, "added to the square root")},
    "adam": {
        "b1": (UNIT_OPEN, "decay of the first moment (beta1)"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2)"),
        "eps": (_EPS, "added outside the square root (the seed: 0, eps_root 1e-8)"),
    },
    "adamw": {
        "b1": (UNIT_OPEN, "decay of the first moment (beta1)"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2)"),
        "eps": (_EPS, "added outside the square root"),
        "weight_decay": (Interval(0.0, 1.0), "decoupled weight decay (lambda)"),
    },
    "nadam": {
        "b1": (UNIT_OPEN, "momentum (beta1), with Nesterov's look-ahead"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2)"),
        "momentum_decay": (Interval(0.0, 1.0), "how fast the momentum rises to beta1 (psi)"),
    },
    "nadamw": {
        "b1": (UNIT_OPEN, "momentum (beta1), with Nesterov's look-ahead"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2)"),
        "weight_decay": (Interval(0.0, 1.0), "decoupled weight decay (lambda)"),
    },
    "radam": {
        "b1": (UNIT_OPEN, "decay of the first moment (beta1)"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2); sets when rectification starts"),
    },
    "adamax": {
        "b1": (UNIT_OPEN, "decay of the first moment (beta1)"),
        "b2": (UNIT_OPEN, "decay of the infinity norm (beta2)"),
    },
    "adadelta": {
        "decay": (UNIT_OPEN, "decay of both running averages (rho)"),
        "eps": (Interval(0.0, 1.0, closed="right"), "inside both square roots"),
    },
    "rprop": {
        "eta_minus": (Interval(0.0, 1.0, closed="neither"), "step-size factor after a sign flip"),
        "eta_plus": (Interval(1.0, 10.0, closed="right"), "step-size factor while the sign holds"),
    },
    "lion": {
        "b1": (UNIT_OPEN, "share of momentum in the signed direction (beta1)"),
        "b2": (UNIT_OPEN, "decay of the momentum (beta2)"),
        "weight_decay": (Interval(0.0, 1.0), "decoupled weight decay (lambda)"),
    },
    "schedule_free_adamw": {
        "b1": (Interval(0.0, 1.0, closed="neither"), "interpolation between z and the average x"),
        "b2": (UNIT_OPEN, "decay of the second moment (beta2)"),
        "weight_decay": (Interval(0.0, 1.0), "decoupled weight decay (lambda)"),
    },
    "schedule_free_sgd": {
        "b1": (Interval(0.0, 1.0, closed="neither"), "interpolation between z and the average x"),
    },
}
"""The hyperparameters the page shows for each optimizer (besides the learning rate): name ->
(allowed values, help). Their defaults are the experiments' (:func:`resolve_hyperparameters`)."""


def _default(schedule: str, setting: str) -> Any:
    """The library's default of ``setting`` for ``schedule`` (:data:`descentlab.schedules.SCHEDULES`)."""
    return inspect.signature(SCHEDULES[schedule]).parameters[setting].default


_EPOCHS = Interval(1, RANGES["epochs"].high, integer=True)  # a number of epochs within one run
_EPOCHS_OR_ZERO = Interval(0, RANGES["epochs"].high, integer=True)  # patience, cooldown
_PAGE_RATE_OR_ZERO = Interval(0.0, RANGES["learning_rate"].high)  # an absolute rate: min_lr

SCHEDULE_SETTINGS: dict[str, dict[str, tuple[Interval, Any, str]]] = {
    "constant": {},
    "inverse_time": {
        "decay_rate": (Interval(0.0, 100.0), 0.01, "alpha = alpha0 / (1 + rate * epoch)")
    },
    "exponential": {"gamma": (DECAY_FACTOR, 0.995, "alpha = alpha0 * gamma^epoch")},
    "fixed_interval": {
        "decay_rate": (Interval(0.0, 100.0), 1.0, "alpha = alpha0 / (1 + rate * floor(epoch / T))"),
        "time_interval": (_EPOCHS, 250, "T: epochs between decays (the seed's exercise: 1000)"),
    },
    "step": {
        "boundaries": (_EPOCHS, 250, "multiply by the factor every this many epochs"),
        "factor": (DECAY_FACTOR, 0.5, "the factor"),
    },
    "cosine": {},
    "polynomial": {
        "power": (
            Interval(0.0, 10.0, closed="right"),
            _default("polynomial", "power"),
            "the exponent (1: a straight line down to 0)",
        ),
    },
    "sgdr": {
        "period": (_EPOCHS, 250, "epochs of the first cosine, before the first restart"),
        "period_mult": (
            Interval(1, 10, integer=True),
            _default("sgdr", "period_mult"),
            "each period is this many times longer than the one before",
        ),
    },
    "one_cycle": {
        "pct_start": (UNIT_CLOSED, _default("one_cycle", "pct_start"), "share of the steps rising"),
        "div_factor": (
            Interval(1.0, 1e4),
            _default("one_cycle", "div_factor"),
            "the rate starts at alpha0 / div_factor",
        ),
        "final_div_factor": (
            Interval(1.0, 1e6),
            _default("one_cycle", "final_div_factor"),
            "and ends div_factor * final_div_factor times below alpha0",
        ),
    },
    "wsd": {
        "warmup_fraction": (
            UNIT_CLOSED,
            0.0,
            "share of the steps before the decay spent warming up from 0",
        ),
        "decay_fraction": (
            UNIT_CLOSED,
            _default("wsd", "decay_fraction"),
            "share of all the steps spent decaying to 0",
        ),
    },
    "piecewise": {
        "piece_boundaries": (
            _EPOCHS,
            [250, 500],
            "epochs where a new piece starts (strictly increasing, comma-separated)",
        ),
        "piece_factors": (
            Interval(0.0, 10.0),
            [0.1, 0.01],
            "alpha = alpha0 * factor on each new piece (one per boundary)",
        ),
    },
    "reduce_on_plateau": {
        "factor": (FRACTION, _default("reduce_on_plateau", "factor"), "the cut"),
        "patience": (
            _EPOCHS_OR_ZERO,
            _default("reduce_on_plateau", "patience"),
            "epochs without improvement tolerated before a cut",
        ),
        "threshold": (
            UNIT_OPEN,
            _default("reduce_on_plateau", "threshold"),
            "relative improvement that counts",
        ),
        "cooldown": (
            _EPOCHS_OR_ZERO,
            _default("reduce_on_plateau", "cooldown"),
            "epochs not counted after a cut",
        ),
        "min_lr": (
            _PAGE_RATE_OR_ZERO,
            _default("reduce_on_plateau", "min_lr"),
            "the rate is never cut below this",
        ),
    },
}
"""The settings of each schedule: name -> (allowed values, default, help); a setting whose
interval is ``integer`` is a whole number, one whose default is a list is a list of at most
:data:`MAX_PIECES` values, each within the interval (piecewise's). Each interval lies within the rule of
:mod:`descentlab.schedules` for that setting (the same interval object where the library's
is already a sensible page range: ``DECAY_FACTOR``, ``UNIT_CLOSED``, ``FRACTION``), and the
defaults are the library's where it has one. The plan fills in the rest from the request
(``plan._schedule``): ``decay_steps`` / ``total_steps`` = epochs x steps per epoch; wsd's
``warmup_fraction`` is the page's own (a share of the steps *before* the decay, so that no
pair of shares can overlap)."""

SCHEDULE_FORMULAS = {
    "constant": "alpha = alpha0 at every step",
    "inverse_time": "alpha = alpha0 / (1 + decay_rate * epoch)",
    "exponential": "alpha = alpha0 * gamma^epoch",
    "piecewise": "alpha = alpha0 until the first boundary, then alpha0 * piece_factors[i] from "
    "piece_boundaries[i] on (epochs)",
    "fixed_interval": "alpha = alpha0 / (1 + decay_rate * floor(epoch / time_interval)) (the "
    "exercise's schedule_lr_decay)",
    "step": "alpha = alpha0 * factor^floor(epoch / boundaries)",
    "cosine": "half a cosine from alpha0 down to 0 over the whole training",
    "polynomial": "alpha = alpha0 * (1 - t / T)^power, t the step, T the steps of the whole "
    "training",
    "sgdr": "half a cosine from alpha0 towards 0 over period epochs, then back to alpha0 (warm "
    "restarts); each period period_mult times longer than the last",
    "one_cycle": "up from alpha0 / div_factor to the peak alpha0 over pct_start of the steps, "
    "then a cosine down to alpha0 / (div_factor * final_div_factor) at the end",
    "wsd": "warm up linearly from 0 to alpha0, hold alpha0, then fall linearly to 0 over the "
    "last decay_fraction of the steps",
    "reduce_on_plateau": "alpha = max(alpha * factor, min_lr) once the training cost has not "
    "improved (by the relative threshold) for more than patience epochs; then cooldown epochs "
    "are not counted",
}
"""One line per schedule for the page (the library's docstrings have the exact equations)."""

_OptimizerName = Literal[tuple(OPTIMIZER_HYPERPARAMETERS)]  # type: ignore[valid-type]
_DatasetName = Literal[(*PLAYGROUND_DATASETS, "drawn")]  # type: ignore[valid-type]
_ScheduleName = Literal[tuple(SCHEDULE_SETTINGS)]  # type: ignore[valid-type]
_ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
"""Every request model's configuration: known fields only, exact types, no NaN or inf."""
_STRICT = STRICT


class OptimizerRequest(BaseModel):
    """One optimizer: its name, learning rate and (some of) its hyperparameters."""

    model_config = _STRICT
    name: _OptimizerName
    learning_rate: float
    hyperparameters: dict[str, float] = Field(default_factory=dict)


class ScheduleRequest(BaseModel):
    """The learning-rate schedule every optimizer uses, starting from its own learning rate."""

    model_config = _STRICT
    name: _ScheduleName = "constant"
    decay_rate: float | None = None
    time_interval: int | None = None
    gamma: float | None = None
    boundaries: int | None = None
    factor: float | None = None
    power: float | None = None
    period: int | None = None
    period_mult: int | None = None
    pct_start: float | None = None
    div_factor: float | None = None
    final_div_factor: float | None = None
    warmup_fraction: float | None = None
    decay_fraction: float | None = None
    patience: int | None = None
    threshold: float | None = None
    cooldown: int | None = None
    min_lr: float | None = None
    piece_boundaries: list[int] | None = Field(default=None, min_length=1, max_length=MAX_PIECES)
    piece_factors: list[float] | None = Field(default=None, min_length=1, max_length=MAX_PIECES)


SCHEDULE_FIELDS = tuple(name for name in ScheduleRequest.model_fields if name != "name")
"""The settings a :class:`ScheduleRequest` may carry: every setting of :data:`SCHEDULE_SETTINGS`."""
if set(SCHEDULE_FIELDS) != {key for table in SCHEDULE_SETTINGS.values() for key in table}:
    raise TypeError("ScheduleRequest must have one field per setting of SCHEDULE_SETTINGS.")


class PointsRequest(BaseModel):
    """Data drawn on the page (or read from a CSV file by the page): point ``i`` is
    ``(x[i], y[i])`` of class ``label[i]``. The schema caps the lists at :data:`MAX_POINTS`;
    :func:`check_points` checks the values."""

    model_config = _STRICT
    x: list[float] = Field(max_length=MAX_POINTS)
    y: list[float] = Field(max_length=MAX_POINTS)
    label: list[int] = Field(max_length=MAX_POINTS)


class RunRequest(BaseModel):
    """``POST /api/runs``: the data, the network, the training loop and the optimizers.

    The schema fixes the types; the values are checked by :func:`check_request`. The data is
    a generated set by name, or ``dataset = "drawn"`` with the ``points`` the page sends
    (never a path: the server reads no file).
    """

    model_config = _STRICT
    dataset: _DatasetName = "moons"
    points: PointsRequest | None = None
    n_samples: int = 300
    noise: float | None = None
    data_seed: int | None = None
    test_fraction: float = 0.2
    hidden: list[int] = Field(default_factory=lambda: [8, 8], max_length=MAX_HIDDEN_LAYERS)
    activation: _ActivationName = "relu"
    loss: Literal[LOSSES] = "cross_entropy"  # type: ignore[valid-type]
    epochs: int = 1000
    batch_size: int = 64
    seed: int = 0
    schedule: ScheduleRequest = Field(default_factory=ScheduleRequest)
    pace_seconds: float = 0.0
    optimizers: list[OptimizerRequest] = Field(min_length=1, max_length=MAX_OPTIMIZERS)


class RequestError(ValueError):
    """A request whose values cannot be run; ``field`` names the culprit (``optimizers.1.b1``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_OWNER = "the playground request"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_value(field: str, owner: str, name: str, value: Any, rule: Interval) -> None:
    """:func:`check_param` of one value, its error raised as a :class:`RequestError` at ``field``."""
    try:  # an integer beyond the float range is outside every interval, as NaN is
        check_param(owner, name, value, rule, allow_array=False)
    except InvalidParameterError as err:
        raise RequestError(field, str(err)) from None


def check_request(req: RunRequest) -> None:
    """Check every value of ``req`` against :data:`RANGES` and the optimizer and schedule tables.

    Raises:
      RequestError: the first value out of range (in the order of the fields), naming its
        field, e.g. ``optimizers.1.hyperparameters.b1``, with ``check_param``'s message.
    """
    for name, rule in RANGES.items():
        if name in ("hidden", "learning_rate"):
            continue
        value = getattr(req, name)
        if value is not None:
            check_value(name, _OWNER, name, value, rule)
    for j, units in enumerate(req.hidden):
        check_value(f"hidden.{j}", _OWNER, f"hidden.{j}", units, RANGES["hidden"])
    for i, opt in enumerate(req.optimizers):
        _check_optimizer(i, opt)
    _check_schedule(req.schedule)
    check_points(req)


def _check_optimizer(i: int, opt: OptimizerRequest) -> None:
    check_value(f"optimizers.{i}.learning_rate", opt.name, "learning_rate", opt.learning_rate,
           RANGES["learning_rate"])  # fmt: skip
    table = OPTIMIZER_HYPERPARAMETERS[opt.name]
    for key, value in opt.hyperparameters.items():
        field = f"optimizers.{i}.hyperparameters.{_short(key)}"
        if key not in table:
            known = ", ".join(table) or "none besides the learning rate"
            raise RequestError(
                field, f"Unknown hyperparameter {_short(key)!r} for {opt.name}; it takes {known}."
            )
        check_value(field, opt.name, key, value, table[key][0])


def check_points(req: RunRequest) -> None:
    """Drawn data iff ``dataset == "drawn"``: as many ``x``, ``y`` and labels, each coordinate
    finite within :data:`COORDINATE`, each label in ``[0, MAX_CLASSES)``, two classes or more.

    Raises:
      RequestError: at ``points`` (or ``points.x.3``, ``points.label.7``, ``dataset``).
    """
    pts = req.points
    if (pts is None) != (req.dataset != "drawn"):
        raise RequestError(
            "dataset" if pts is None else "points",
            "Drawn data needs dataset 'drawn' and its points; got dataset "
            f"{req.dataset!r} {'without' if pts is None else 'with'} points.",
        )
    if pts is None:
        return
    sizes = (len(pts.x), len(pts.y), len(pts.label))
    if len(set(sizes)) > 1:
        raise RequestError(
            "points", f"points.x, points.y and points.label must be as long; got {sizes}."
        )
    for key in ("x", "y"):
        for i, value in enumerate(getattr(pts, key)):
            check_value(f"points.{key}.{i}", "the drawn data", f"{key}[{i}]", value, COORDINATE)
    classes = Interval(0, MAX_CLASSES - 1, integer=True)
    for i, value in enumerate(pts.label):
        check_value(f"points.label.{i}", "the drawn data", f"label[{i}]", value, classes)
    if len(set(pts.label)) < 2:
        raise RequestError(
            "points",
            f"Drawn data needs points of two classes or more; got {len(pts.label)} point(s) of "
            f"{len(set(pts.label))} class(es). Add points of another class.",
        )


def _check_schedule(schedule: ScheduleRequest) -> None:
    settings = SCHEDULE_SETTINGS[schedule.name]
    owner = f"the {schedule.name!r} schedule"
    for key in SCHEDULE_FIELDS:
        value = getattr(schedule, key)
        if value is None:
            continue
        if key not in settings:
            takes = ", ".join(settings) or "no settings"
            raise RequestError(f"schedule.{key}", f"{key!r} does not apply to {owner} ({takes}).")
        if isinstance(value, list):
            for i, item in enumerate(value):
                check_value(f"schedule.{key}.{i}", owner, f"{key}[{i}]", item, settings[key][0])
        else:
            check_value(f"schedule.{key}", owner, key, value, settings[key][0])
    if schedule.name == "piecewise":
        _check_pieces(schedule)


def _check_pieces(schedule: ScheduleRequest) -> None:
    """Piecewise: strictly increasing boundaries, one factor per boundary (defaults if unset)."""
    defaults = SCHEDULE_SETTINGS["piecewise"]
    edges = schedule.piece_boundaries or defaults["piece_boundaries"][1]
    factors = schedule.piece_factors or defaults["piece_factors"][1]
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise RequestError(
            "schedule.piece_boundaries",
            f"The piece boundaries must be strictly increasing epochs; got {edges}.",
        )
    if len(factors) != len(edges):
        raise RequestError(
            "schedule.piece_factors",
            f"Give one factor per piece boundary: {len(edges)} boundaries and "
            f"{len(factors)} factors.",
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


def interval_json(rule: Interval) -> dict[str, Any]:
    """An interval for the page: ``min``, ``max``, ``closed``, ``integer`` and its text."""
    return {
        "min": rule.low,
        "max": rule.high,
        "closed": rule.closed,
        "integer": rule.integer,
        "range": str(rule),
    }


def options() -> dict[str, Any]:
    """``GET /api/options``: data sets, optimizers, schedules, activations, ranges, defaults."""
    optimizers = [
        {
            "name": name,
            "hyperparameters": [
                {"name": key, "default": resolve_hyperparameters(name)[key], **interval_json(rule),
                 "help": help_text}
                for key, (rule, help_text) in table.items()
            ],
        }
        for name, table in OPTIMIZER_HYPERPARAMETERS.items()
    ]  # fmt: skip
    schedules = [
        {
            "name": name,
            "formula": SCHEDULE_FORMULAS[name],
            "settings": [
                {
                    "name": key,
                    "default": default,
                    **interval_json(rule),
                    "help": help_text,
                    "list": isinstance(default, list),
                }
                for key, (rule, default, help_text) in table.items()
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
        "optimizers": optimizers,
        "schedules": schedules,
        "activations": list(ACTIVATIONS),
        "losses": list(LOSSES),
        "drawn": DRAWN_DESCRIPTION,
        "ranges": {name: interval_json(rule) for name, rule in RANGES.items()},
        "limits": dict(LIMITS),
        "defaults": PAGE_DEFAULTS,
    }
