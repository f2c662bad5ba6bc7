"""The problem suite: workloads on which optimizers are compared, each with a budget and a target.

A problem names its data, network, loss, batch size, step budget and a validation target
(:class:`Problem`); the suite (:data:`PROBLEMS`, :func:`get_problem`) holds

- ``seed-moons``: the seed's study (its 300 moons examples, ``[2, 5, 2, 1]``, batch 64);
- ``mnist1d``: MNIST-1D (Greydanus & Kobak 2024) with its reference MLP 40-100-100-10;
- ``digits`` and ``breast-cancer``: scikit-learn's bundled real sets;
- ``noisy-quadratic``: DeepOBS's 100-dimensional noisy quadratic, as a linear regression
  whose metric is the validation loss;
- ``spiral``: three interleaved spiral arms in 2-D.

Every command that trains takes ``--problem NAME``; ``descentlab problems`` lists the suite.
How each budget and target was measured is in :mod:`descentlab.problems.suite` and
docs/problems.md.

>>> p = get_problem("seed-moons")
>>> p.steps_per_epoch, p.steps, p.target_text
(5, 2500, 'val accuracy >= 0.9')
"""

from descentlab.problems.problem import METRICS, Problem
from descentlab.problems.suite import PROBLEMS, get_problem

__all__ = ["METRICS", "PROBLEMS", "Problem", "get_problem"]
