"""The data of an experiment: training, validation and test sets made from a dataset spec.

:func:`load_experiment_data` is the one path from a :class:`~descentlab.experiments.specs.DatasetSpec`
to the sets every experiment trains and measures on (``compare``, ``train``, ``sweep``,
``benchmark``); :class:`ExperimentData` holds them.

- A *generated* dataset (``moons``, ``circles``, ...; ``holdout = "fresh"``): the training data
  as specified (``moons`` alone is the seed's 300 examples); the test set a fresh sample of the
  same generator, same size and noise, seed ``test_seed`` (default 1: for the seed's study
  ``make_moons(300, noise=0.2, seed=1)``); with ``validation``, a validation set, another fresh
  sample, seed ``val_seed`` (default ``test_seed + 1``). ``noisy_quadratic`` builds its training
  set (exact second moment) but draws its held-out sets i.i.d. (``exact=False``).
- Fixed data (real sets, files; ``holdout = "split"``): a stratified split into test
  (``test_size`` of the data, seed ``test_seed``) and the rest; with ``validation``, the rest
  is split again into validation (as many examples as the test set, seed ``val_seed``) and
  training.
- A dataset with its own test set (``holdout = "given"``: MNIST-1D,
  :data:`descentlab.datasets.GIVEN_SPLITS`): that test set, and the rest split as above.

Then, with ``standardize``, every part is standardised with the training part's mean and
standard deviation. The validation data chooses (learning rates, stopping); the test data only
reports, so it never plays a part in a choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import GIVEN_SPLITS, Dataset, load_dataset, make_noisy_quadratic
from descentlab.experiments.specs import DatasetSpec

__all__ = ["ExperimentData", "load_experiment_data"]


@dataclass(frozen=True)
class ExperimentData:
    """Training, optional validation, and test data (examples as columns), same classes (or,
    for regression, the same targets).

    Attributes:
      train: the training set.
      test: the held-out test set (None only where a caller made none, e.g. the playground
        with no test fraction).
      val: the validation set, or None.
      mean, std: ``(n_features, 1)`` statistics of the training part applied to every part
        (``X_std = (X - mean) / std``), or None without standardisation.
      holdout: how the held-out sets were made, ``fresh`` or ``split``.
    """

    train: Dataset
    test: Dataset | None = None
    val: Dataset | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    holdout: str = "fresh"

    @property
    def n_features(self) -> int:
        return self.train.n_features

    @property
    def n_classes(self) -> int:
        return self.train.n_classes

    @property
    def task(self) -> str:
        """``classification`` or ``regression`` (the training set's)."""
        return self.train.task

    @property
    def loss(self) -> str:
        """The network's loss for this data: ``mse`` for regression, else ``cross_entropy``."""
        return "mse" if self.task == "regression" else "cross_entropy"

    def layer_dims(self, layers: Sequence[int]) -> tuple[int, ...]:
        """``(n_features, *layers, 1)`` for two classes (one sigmoid unit), else
        ``(n_features, *layers, n_classes)`` (a softmax); a classification dataset has two
        classes or more. Regression: ``(n_features, *layers, n_targets)`` (linear units)."""
        return (self.n_features, *layers, self.train.n_outputs)

    def summary(self) -> dict[str, Any]:
        """The ``dataset`` entry of results files: name, shapes, classes, how it was held out."""
        out: dict[str, Any] = {
            "name": self.train.name,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "classes": list(self.train.classes),
            "feature_names": list(self.train.feature_names),
            "n_train": self.train.n_examples,
        }
        if self.val is not None:
            out["n_val"] = self.val.n_examples
        out["n_test"] = 0 if self.test is None else self.test.n_examples
        out["holdout"] = self.holdout
        out["standardized"] = self.mean is not None
        if self.task == "regression":  # classification results files stay as they were
            out["task"] = self.task
            out["n_targets"] = self.train.n_targets
        return out


def load_experiment_data(
    spec: DatasetSpec, *, validation: bool = False, val_seed: int | None = None
) -> ExperimentData:
    """Load ``spec``'s data and make its held-out sets (see the module docstring).

    Args:
      spec: the dataset and how its test set is made.
      validation: also make a validation set.
      val_seed: its seed (None: ``spec.test_seed + 1``).

    Raises:
      DataError, InvalidParameterError: the data cannot be loaded or split; a validation seed
        that is also the training or test data's seed.

    >>> data = load_experiment_data(DatasetSpec("moons"), validation=True)
    >>> data.train.X.shape, data.val.X.shape, data.test.X.shape
    ((2, 300), (2, 300), (2, 300))
    """
    val_seed = spec.test_seed + 1 if val_seed is None else int(val_seed)
    val = None
    if spec.holdout == "fresh":
        train = load_dataset(spec.name, n_samples=spec.n_samples, noise=spec.noise, seed=spec.seed)

        def fresh(seed: int) -> Dataset:
            if spec.name == "noisy_quadratic":  # held out: i.i.d. draws, not the built set
                noise = {} if spec.noise is None else {"noise": spec.noise}
                return make_noisy_quadratic(train.n_examples, seed=seed, exact=False, **noise)
            return load_dataset(spec.name, n_samples=train.n_examples, noise=spec.noise, seed=seed)

        if validation:
            if val_seed in (spec.test_seed, spec.seed):
                raise InvalidParameterError(
                    f"The validation sample's seed {val_seed} is also the seed of the training "
                    "or test data; choose another --val-seed."
                )
            val = fresh(val_seed)
        test = fresh(spec.test_seed)
    else:
        if spec.holdout == "given":
            train, test = GIVEN_SPLITS[spec.name]()
        else:
            full = load_dataset(
                spec.name,
                target=spec.target,
                n_samples=spec.n_samples,
                noise=spec.noise,
                seed=spec.seed,
            )
            train, test = full.split(spec.test_size, spec.test_seed)
        if validation:
            if train.n_examples - test.n_examples < 2 * max(train.n_classes, 1):
                raise DataError(
                    f"{train.n_examples + test.n_examples} examples are too few for training, "
                    f"validation and test sets of this size (test_size={spec.test_size!r})."
                )
            train, val = train.split(test.n_examples, val_seed)
    if not spec.standardize:
        return ExperimentData(train, test, val, holdout=spec.holdout)
    train, mean, std = train.standardized()
    test = test.standardized(mean, std)[0]
    val = None if val is None else val.standardized(mean, std)[0]
    return ExperimentData(train, test, val, mean, std, spec.holdout)
