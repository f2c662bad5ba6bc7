"""descentlab — optimization methods for training neural networks, and experiments comparing them.

The pieces, bottom up; a module imports only from the rows below its own::

    cli                                       the descentlab command
    playground                                the live web page
    experiments                               configs, compare, population, sweep, benchmark
    estimator, notebook                       thin adapters (scikit-learn, the exercise)
    training                                  the engine: one network or a population
    nn, schedules, plots, report, trajectories
    optimizers, datasets, batching, surfaces, io
    _validation                               errors and the rules every check uses
    limits, progress                          caps on work and memory; progress bars

Quick use::

    >>> from descentlab import MLP, train, load_moons
    >>> from descentlab.optimizers import adam
    >>> data = load_moons()
    >>> result = train(MLP((2, 5, 2, 1)), adam(0.01), data.X, data.y, epochs=50, seed=0)
    >>> result.status
    'completed'
"""

from descentlab._validation import DataError, DescentLabError, InvalidParameterError
from descentlab.datasets import Dataset, load_dataset, load_moons
from descentlab.nn import MLP, gradient_check
from descentlab.training import EarlyStopping, History, TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "DataError",
    "Dataset",
    "DescentClassifier",
    "DescentLabError",
    "EarlyStopping",
    "History",
    "InvalidParameterError",
    "TrainResult",
    "gradient_check",
    "load_dataset",
    "load_moons",
    "lr_find",
    "train",
]


def __getattr__(name: str):
    # The estimator imports scikit-learn's estimator machinery; load it only when asked for,
    # so `import descentlab` (and the command line) stay quick.
    if name == "DescentClassifier":
        from descentlab.estimator import DescentClassifier

        return DescentClassifier
    if name == "lr_find":  # trains through the experiments' population: loaded when asked for
        from descentlab.experiments.lr_find import lr_find

        return lr_find
    raise AttributeError(f"module 'descentlab' has no attribute {name!r}")
