"""Experiments: the resolved configuration of a study and the optimizer comparison.

:mod:`~descentlab.experiments.config` holds :class:`ExperimentConfig` (TOML in and out) and the
``name:key=value`` spec parsers shared by every subcommand; :mod:`~descentlab.experiments.compare`
runs a comparison and writes its run folder.
"""

from descentlab.experiments.config import (
    DatasetSpec,
    ExperimentConfig,
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
