"""Experiments: configurations, comparisons, populations, sweeps and tuned benchmarks.

One module per concept; import each name from its module:

- :mod:`~descentlab.experiments.specs` — the ``name:key=value`` spec parsers, the optimizer,
  schedule and dataset specs, and the optimizer builders shared by every subcommand;
- :mod:`~descentlab.experiments.config` — :class:`~descentlab.experiments.config.ExperimentConfig`
  (TOML in and out);
- :mod:`~descentlab.experiments.data` — the training, validation and test sets of an experiment;
- :mod:`~descentlab.experiments.population` — runs trained as one population, the one engine
  every experiment trains through;
- :mod:`~descentlab.experiments.compare` — run a comparison and write its run folder;
  :mod:`~descentlab.experiments.run_folder` — the folder's files, written and read back checked;
- :mod:`~descentlab.experiments.sweep_space`, :mod:`~descentlab.experiments.sweep`,
  :mod:`~descentlab.experiments.results`, :mod:`~descentlab.experiments.sweep_plots` — grid or
  random search over hyperparameters × seeds: the search space, the run, its results table,
  its figures;
- :mod:`~descentlab.experiments.benchmark` — the tuned comparison built on sweeps;
- :mod:`~descentlab.experiments.parallel` — local worker processes or a Dask cluster.

Nothing is imported here, so ``import descentlab.experiments.specs`` stays light.
"""
