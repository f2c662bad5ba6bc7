"""descentlab — optimization methods for training neural networks, and experiments comparing them.

The pieces, bottom up (lower layers never import higher ones)::

    datasets, batching -> nn (MLP) -> optimizers (+ schedules) -> training -> experiments
    -> plots, report -> cli, playground;  estimator and notebook are thin adapters.

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
    "train",
]


def __getattr__(name: str):
    # The estimator imports scikit-learn's estimator machinery; load it only when asked for,
    # so `import descentlab` (and the command line) stay quick.
    if name == "DescentClassifier":
        from descentlab.estimator import DescentClassifier

        return DescentClassifier
    raise AttributeError(f"module 'descentlab' has no attribute {name!r}")
