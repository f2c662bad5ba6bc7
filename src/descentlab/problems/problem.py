"""One problem of the suite: data, network, loss, batch size, step budget and validation target.

A :class:`Problem` fixes everything but the optimizer: where the data comes from (a
:class:`~descentlab.experiments.specs.DatasetSpec`, loaded with training, validation and test
sets), the network (hidden layers and activation: the net is ``data.layer_dims(layers)``), the
batch size, the budget in epochs (``steps = epochs * ceil(n_train / batch_size)``) and a
target on a validation metric. An optimizer *reaches* the problem when its validation metric
crosses the target within the budget:

    accuracy:  reached = val_accuracy >= target      (higher is better)
    loss:      reached = val_cost     <= target      (lower is better)

and a NaN (a diverged run) never reaches it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    SEED,
    InvalidParameterError,
    Options,
    as_int,
    check_param,
    show,
)
from descentlab.experiments.data import ExperimentData, load_experiment_data
from descentlab.experiments.population import Run
from descentlab.experiments.specs import DatasetSpec, resolve_hyperparameters
from descentlab.nn import ACTIVATIONS
from descentlab.training import EPOCHS

__all__ = ["METRICS", "Problem"]

METRICS = ("accuracy", "loss")
"""Validation metrics a target may be set on: ``accuracy`` (``History.val_accuracy``, higher
is better) and ``loss`` (``History.val_cost``, lower is better)."""

_LOSSES = ("cross_entropy", "mse")
_DATA: dict[Problem, ExperimentData] = {}
"""Each problem's data, loaded once per process."""


@dataclass(frozen=True)
class Problem:
    """A workload of the suite: everything but the optimizer.

    Attributes:
      name: the problem's name, e.g. ``"mnist1d"``.
      summary: one line for ``descentlab problems``.
      dataset: what :func:`~descentlab.experiments.data.load_experiment_data` loads (with a
        validation set, always).
      layers: hidden layer sizes; the network is ``data.layer_dims(layers)``.
      activation: hidden activation (:data:`descentlab.nn.ACTIVATIONS`).
      batch_size: examples per mini-batch.
      epochs: the step budget in epochs: ``steps = epochs * steps_per_epoch``.
      metric: ``accuracy`` or ``loss`` (:data:`METRICS`), measured on the validation set.
      target: the value of ``metric`` an optimizer must reach within the budget.
      learning_rate: a sensible default learning rate (``compare --problem`` / ``train
        --problem`` use it unless ``--lr`` is given).
      reference: where the problem and its reference figures come from.
      loss: the training loss, ``cross_entropy`` (sigmoid or softmax output) or ``mse`` (a
        linear output: regression).
    """

    name: str
    summary: str
    dataset: DatasetSpec
    layers: tuple[int, ...]
    activation: str
    batch_size: int
    epochs: int
    metric: str
    target: float
    learning_rate: float
    reference: str
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        owner = f"Problem {self.name!r}"
        check_param(owner, "dataset", self.dataset, DatasetSpec)
        check_param(owner, "activation", self.activation, Options(ACTIVATIONS))
        check_param(owner, "metric", self.metric, Options(METRICS))
        check_param(owner, "loss", self.loss, Options(_LOSSES))
        object.__setattr__(self, "layers", tuple(int(n) for n in self.layers))
        for key, high in (("batch_size", limits.MAX_EXAMPLES), ("epochs", limits.MAX_EPOCHS)):
            value = getattr(self, key)
            if not (isinstance(value, int) and 1 <= value <= high):
                raise InvalidParameterError(
                    f"The {key!r} of {owner} must be an int in [1, {high}]. Got {show(value)}."
                )
        for key in ("target", "learning_rate"):
            value = float(getattr(self, key))
            if not math.isfinite(value) or (key == "learning_rate" and value <= 0):
                raise InvalidParameterError(
                    f"The {key!r} of {owner} must be a finite number"
                    f"{' > 0' if key == 'learning_rate' else ''}. Got {show(value)}."
                )
            object.__setattr__(self, key, value)

    # ------------------------------------------------------------------ data and runs
    def data(self) -> ExperimentData:
        """Training, validation and test sets (loaded once per process and kept)."""
        if self not in _DATA:
            _DATA[self] = load_experiment_data(self.dataset, validation=True)
        return _DATA[self]

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch: ``ceil(n_train / batch_size)``."""
        return -(-self.data().train.n_examples // self.batch_size)

    @property
    def steps(self) -> int:
        """The budget in steps: ``epochs * steps_per_epoch``."""
        return self.epochs * self.steps_per_epoch

    def run(
        self,
        optimizer: str,
        hyperparameters: Mapping[str, Any],
        seed: int,
        *,
        schedule: str | None = None,
        schedule_settings: Mapping[str, Any] | None = None,
        epochs: int | None = None,
    ) -> Run:
        """A :class:`~descentlab.experiments.population.Run` of ``optimizer`` on this problem.

        The run has the problem's batch size, budget (``epochs`` overrides it), layers and
        activation, He initialisation and a random data order, both from ``seed``.
        ``hyperparameters`` may leave out the learning rate: the problem's default is used.

        Raises:
          InvalidParameterError: unknown optimizer or hyperparameter, a bad value; a seed
            outside ``[0, 2**32 - 1]``; ``epochs`` outside ``[1, MAX_EPOCHS]``.

        >>> from descentlab.problems import get_problem
        >>> run = get_problem("seed-moons").run("adam", {"lr": 0.01}, seed=3)
        >>> run.learning_rate, run.batch_size, run.layers
        (0.01, 64, (5, 2))
        """
        owner = f"Problem.run of {self.name!r}"
        seed = as_int(owner, "seed", seed, SEED)
        epochs = self.epochs if epochs is None else as_int(owner, "epochs", epochs, EPOCHS)
        hyper = resolve_hyperparameters(optimizer, hyperparameters)
        hyper.setdefault("learning_rate", self.learning_rate)
        return Run(
            optimizer,
            hyper,
            schedule=schedule,
            schedule_settings=dict(schedule_settings or {}),
            batch_size=self.batch_size,
            epochs=epochs,
            layers=self.layers,
            activation=self.activation,
            init="he",
            shuffle="random",
            seed=seed,
        )

    def reached(self, value: Any) -> np.ndarray:
        """Whether each value of the validation metric reaches the target (NaN never does).

        >>> from descentlab.problems import get_problem
        >>> get_problem("digits").reached([0.5, 0.99, float("nan")]).tolist()
        [False, True, False]
        """
        v = np.asarray(value, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.asarray(v >= self.target if self.metric == "accuracy" else v <= self.target)

    # ------------------------------------------------------------------ describing
    @property
    def target_text(self) -> str:
        """E.g. ``"val accuracy >= 0.9"``, ``"val loss <= 0.05"``."""
        sign = ">=" if self.metric == "accuracy" else "<="
        return f"val {self.metric} {sign} {self.target:g}"

    def describe(self) -> dict[str, Any]:
        """Every field and what the data makes of it, JSON-friendly.

        Keys: the fields (``dataset`` as a table of its settings), ``layer_dims``,
        ``n_train``, ``n_val``, ``n_test``, ``n_features``, ``n_outputs``,
        ``steps_per_epoch`` and ``steps``.
        """
        data = self.data()
        dims = data.layer_dims(self.layers)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        dataset = {k: v for k, v in dataclasses.asdict(self.dataset).items() if v is not None}
        return {
            **fields,
            "dataset": dataset,
            "layers": list(self.layers),
            "layer_dims": list(dims),
            "n_train": data.train.n_examples,
            "n_val": 0 if data.val is None else data.val.n_examples,
            "n_test": 0 if data.test is None else data.test.n_examples,
            "n_features": dims[0],
            "n_outputs": dims[-1],
            "steps_per_epoch": self.steps_per_epoch,
            "steps": self.steps,
        }
