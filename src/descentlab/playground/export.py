"""The page's setup as the ``config.toml`` that ``descentlab compare --config`` reruns.

:func:`experiment_config` maps a :class:`~descentlab.playground.models.RunRequest` onto an
:class:`~descentlab.experiments.config.ExperimentConfig` that trains the same networks:

- data: the generated set with the page's ``n_samples``, ``noise`` and ``data_seed`` (only
  those that differ from the generator's defaults, as the page loads it), split as the page
  splits it (``holdout = "split"``, ``test_size = test_fraction``, ``test_seed = data_seed``
  or 0, no standardisation); with a test share of 0 the page holds nothing out, and the
  export keeps the same training set and tests on a fresh sample (``holdout = "fresh"``,
  ``test_seed = data_seed + 1``);
- network and loop: ``layers``, ``activation``, ``batch_size``, ``epochs``; ``seed`` and
  ``data_seed`` both the page's init seed, ``init = "he"``, ``shuffle = "random"`` (the page's
  :class:`~descentlab.experiments.population.Run`);
- optimizers: each with its learning rate and hyperparameters, labelled as on the page; the
  schedule with the settings the page derives from the length of the training
  (:func:`~descentlab.playground.plan._schedule`: cosine's ``decay_steps``, one_cycle's
  ``total_steps``, ...).

So the exported comparison trains the same members to the same numbers, with one difference:
``reduce_on_plateau`` observes the test cost in ``compare`` (its held-out set) and the
training cost on the page. ``pace_seconds`` (slow motion) has no meaning there and is dropped.

Two setups cannot be exported, and are refused (``422`` with the reason): drawn data (it is no
built-in dataset and the server writes no files; the page offers the points as a CSV to run
with ``descentlab compare --dataset points.csv --target label``) and ``loss = "mse"``
(``compare`` trains cross-entropy classifiers). A piecewise schedule is exported when every
optimizer has the same learning rate (``compare``'s pieces are absolute rates shared by all).
"""

from __future__ import annotations

import math
from typing import Any

from descentlab._validation import DescentLabError
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.specs import DatasetSpec, OptimizerSpec, ScheduleSpec
from descentlab.playground.models import (
    RequestError,
    RunRequest,
    check_request,
    generator_defaults,
)
from descentlab.playground.plan import _label, _load_data, _schedule

__all__ = ["experiment_config", "export_toml"]


def _refuse_unexportable(req: RunRequest) -> None:
    """:class:`RequestError` for drawn data and for the MSE loss (see the module docstring)."""
    if req.dataset == "drawn":
        raise RequestError(
            "dataset",
            "Drawn data cannot be exported as config.toml: it is not a built-in dataset. "
            "Download the points as CSV and run descentlab compare --dataset points.csv "
            "--target label.",
        )
    if req.loss != "cross_entropy":
        raise RequestError(
            "loss",
            f"loss {req.loss!r} cannot be exported: descentlab compare trains cross-entropy "
            "classifiers only.",
        )


def _dataset(req: RunRequest) -> DatasetSpec:
    """The page's data and split as a :class:`DatasetSpec` (see the module docstring)."""
    given: dict[str, Any] = {}
    defaults = generator_defaults(req.dataset)
    if req.n_samples != defaults["n_samples"]:
        given["n_samples"] = req.n_samples
    if req.noise is not None and req.noise != defaults["noise"]:
        given["noise"] = req.noise
    if req.data_seed is not None:
        given["seed"] = req.data_seed
    if req.test_fraction == 0:
        return DatasetSpec(req.dataset, holdout="fresh", test_seed=(req.data_seed or 0) + 1,
                           standardize=False, **given)  # fmt: skip
    return DatasetSpec(req.dataset, holdout="split", test_size=req.test_fraction,
                       test_seed=req.data_seed or 0, standardize=False, **given)  # fmt: skip


def _absolute_pieces(req: RunRequest, settings: dict[str, Any]) -> dict[str, Any]:
    """Piecewise's relative values as the absolute rates ``compare`` takes: one schedule
    serves every optimizer there, so they must share one learning rate."""
    rates = sorted({o.learning_rate for o in req.optimizers})
    if len(rates) > 1:
        raise RequestError(
            "schedule.name",
            "A piecewise schedule sets absolute rates in descentlab compare, one schedule for "
            f"every optimizer; give the optimizers one learning rate to export it (got {rates}).",
        )
    return {**settings, "values": [rates[0] * v for v in settings["values"]]}


def _unique(labels: list[str]) -> list[str]:
    """Labels made unique by a ``#2``, ``#3`` suffix (the config refuses a label twice)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def experiment_config(req: RunRequest) -> ExperimentConfig:
    """The :class:`ExperimentConfig` that reruns ``req`` with ``descentlab compare``.

    Raises:
      RequestError: a value out of range (as for a run), drawn data, or ``loss = "mse"``.
    """
    check_request(req)
    _refuse_unexportable(req)
    m_train = _load_data(req).train.n_examples
    name, settings = _schedule(req, math.ceil(m_train / req.batch_size))
    if name == "piecewise":
        settings = _absolute_pieces(req, settings)
    labels = _unique([_label(o.name, o.learning_rate, o.hyperparameters) for o in req.optimizers])
    try:
        return ExperimentConfig(
            name="playground",
            dataset=_dataset(req),
            layers=tuple(req.hidden),
            activation=req.activation,
            optimizers=tuple(
                OptimizerSpec(o.name, {"learning_rate": o.learning_rate, **o.hyperparameters}, lab)
                for o, lab in zip(req.optimizers, labels, strict=True)
            ),
            learning_rate=req.optimizers[0].learning_rate,
            schedule=None if name is None else ScheduleSpec(name, settings),
            batch_size=req.batch_size,
            epochs=req.epochs,
            seed=req.seed,
            init="he",
            shuffle="random",
            data_seed=req.seed,
            eval_every=req.epochs,
        )
    except DescentLabError as err:  # a pair the library refuses (as build_plan finds)
        raise RequestError("optimizers", str(err)) from None


def export_toml(req: RunRequest) -> str:
    """``POST /api/export``'s text: :meth:`ExperimentConfig.to_toml` of :func:`experiment_config`,
    with a first line saying where it came from."""
    return "# Exported from the descentlab playground.\n" + experiment_config(req).to_toml()
