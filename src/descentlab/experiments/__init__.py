"""Experiments: configurations, comparisons, populations, sweeps and tuned benchmarks.

- :mod:`~descentlab.experiments.specs` — the ``name:key=value`` spec parsers, the optimizer,
  schedule and dataset specs, and the optimizer builders shared by every subcommand;
- :mod:`~descentlab.experiments.config` — :class:`ExperimentConfig` (TOML in and out);
- :mod:`~descentlab.experiments.compare` — run a comparison and write its run folder;
- :mod:`~descentlab.experiments.population` — different optimizers and hyperparameters
  stacked on one population axis;
- :mod:`~descentlab.experiments.sweep`, :mod:`~descentlab.experiments.benchmark` — grid or
  random search over hyperparameters × seeds, and the tuned comparison built on it;
- :mod:`~descentlab.experiments.parallel` — local worker processes or a Dask cluster.

Only the configuration and the specs are imported here, so the light modules stay light;
import the others from their modules.
"""

from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.specs import (
    DatasetSpec,
    OptimizerSpec,
    ScheduleSpec,
    build_learning_rate,
    build_optimizer,
    parse_dataset_spec,
    parse_layers,
    parse_optimizer_spec,
    parse_schedule_spec,
    parse_spec,
    resolve_hyperparameters,
)

__all__ = [
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
