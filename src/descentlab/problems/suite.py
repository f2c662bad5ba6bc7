"""The problems of the suite, and how their budgets and targets were chosen.

=================  =========================  ==============  =====  ===========  ===================
problem            data (train / val / test)  network         batch  budget       target
=================  =========================  ==============  =====  ===========  ===================
seed-moons         the seed's moons 300/300/300  2-5-2-1 relu  64    500 epochs   val accuracy >= 0.90
mnist1d            MNIST-1D 3000/1000/1000    40-100-100-10   100    25 epochs    val accuracy >= 0.58
digits             8x8 digits 897/450/450     64-32-10 relu   64     50 epochs    val accuracy >= 0.95
breast-cancer      WDBC 283/143/143           30-16-1 relu    32     25 epochs    val accuracy >= 0.95
noisy-quadratic    100-d quadratic 1000 each  100-1 (linear)  128    100 epochs   val loss <= 0.6
spiral             3 arms 600/600/600         2-32-32-3 relu  64     150 epochs   val accuracy >= 0.95
=================  =========================  ==============  =====  ===========  ===================

How a budget and a target were chosen. For each problem, Adam, momentum and plain mini-batch
gradient descent (``gd``) were trained at five or so learning rates each (a factor of about 3
apart), five seeds per rate, for twice a candidate budget, with the validation metric
measured after every epoch. The target is a value that the well-tuned rates of every
optimizer reach within the budget in (nearly) every seed, while the badly tuned ones — above
all gd at a small, untuned rate — do not: so the budget separates tuned from untuned, and
the time to the target separates the optimizers. On the classification problems the target
sits a little below the validation accuracy the tuned runs end at, so that a run reaches it
only by training well, not by chance. The tables, per optimizer and rate, how many of the
five seeds reach the target within half the budget, the budget and twice the budget, are in
docs/problems.md, with the command that prints them
(``python benchmarks/problem_targets.py reach``). In short (seeds that reach the target
within the budget, out of 5):

- seed-moons (500 epochs = 2500 steps, accuracy 0.90): Adam lr 0.01 and 0.1: 5/5, lr 0.003
  and 0.03: 4/5; momentum lr 0.1-0.3 and gd lr 0.1-0.3: 4/5, gd lr 1: 5/5; momentum and gd
  lr 0.01: 0/5. The tiny network stalls below the target in some seeds (a dead ReLU unit),
  whatever the optimizer. The seed's 10000 epochs are 20 times this budget.
- mnist1d (25 epochs = 750 steps, accuracy 0.58): Adam lr 0.005-0.02: 5/5; momentum lr 1
  and gd lr 1: 5/5, gd lr 0.3: 3/5; gd lr 0.01: 0/5. The validation accuracy of the reference MLP peaks at
  0.60-0.64 with 3000 training examples (it overfits after that: the reference trains on all
  4000 and reaches 0.68 on the test set after 6000 steps).
- digits (50 epochs = 750 steps, accuracy 0.95): Adam lr 0.01: 5/5; momentum lr 0.3 and gd
  lr 0.3-1: 4-5/5; gd lr 0.01: 0/5.
- breast-cancer (25 epochs = 225 steps, accuracy 0.95): Adam lr >= 0.003 and momentum and
  gd lr >= 0.1: 5/5; momentum and gd lr 0.01: 2/5. The easiest problem: a short budget.
- noisy-quadratic (100 epochs = 800 steps, validation cost 0.6; its floor, the noise, is
  0.5): Adam lr 0.05-0.2: 5/5; momentum lr 0.02-0.03: 5/5; gd lr 0.02-0.03: 5/5; gd and
  momentum lr 0.01: 0/5. Above lr 2/60 (the largest eigenvalue is at most 60) gd diverges.
- spiral (150 epochs = 1500 steps, accuracy 0.95): Adam lr 0.001-0.1: 5/5; momentum and gd
  lr 0.1-1: 5/5; gd and momentum lr 0.01: 0/5.

Seconds per run of the whole budget (Adam, one network, ``OPENBLAS_NUM_THREADS=1``, this
project's shared 2-core machine at load 3-4; ``python benchmarks/problem_targets.py
seconds``), numpy / compiled engine: seed-moons 0.34 / 0.03, mnist1d 0.65 / 0.46, digits
0.17 / 0.08, breast-cancer 0.03 / 0.01, noisy-quadratic 0.08 / not covered (an MSE
network), spiral 0.23 / 0.07.
"""

from __future__ import annotations

from descentlab._validation import InvalidParameterError, show
from descentlab.experiments.specs import DatasetSpec
from descentlab.problems.problem import Problem

__all__ = ["PROBLEMS", "get_problem"]

_SEED = (
    "The seed: the 'Optimization Methods' exercise (its opt_utils.load_dataset and model(); "
    "10000 epochs at lr 0.0007 give train accuracy 0.7967 for gd and momentum, 0.9400 for Adam)."
)
_MNIST1D = (
    "Greydanus & Kobak, 'Scaling down deep learning with MNIST-1D', ICML 2024 "
    "(github.com/greydanus/mnist1d). Its README: logistic regression 32 %, MLP 68 % test "
    "accuracy (MLP 40-100-100-10 ReLU, Adam lr 1e-2, batch 100, 6000-8000 steps, on the 4000 "
    "training examples); descentlab reproduces both within 3 points (tests/test_problems.py)."
)

_SUITE: tuple[Problem, ...] = (
    Problem(
        name="seed-moons",
        summary="The seed's study: its 300 moons examples, layer_dims [2, 5, 2, 1], batch 64.",
        dataset=DatasetSpec("moons"),
        layers=(5, 2),
        activation="relu",
        batch_size=64,
        epochs=500,
        metric="accuracy",
        target=0.90,
        learning_rate=0.01,
        reference=_SEED,
    ),
    Problem(
        name="mnist1d",
        summary="MNIST-1D: 10 digits as 1-D signals of 40 points; the reference MLP.",
        dataset=DatasetSpec("mnist1d", standardize=False),
        layers=(100, 100),
        activation="relu",
        batch_size=100,
        epochs=25,
        metric="accuracy",
        target=0.58,
        learning_rate=0.01,
        reference=_MNIST1D,
    ),
    Problem(
        name="digits",
        summary="scikit-learn's 8x8 handwritten digits (64 features, 10 classes), standardised.",
        dataset=DatasetSpec("digits"),
        layers=(32,),
        activation="relu",
        batch_size=64,
        epochs=50,
        metric="accuracy",
        target=0.95,
        learning_rate=0.01,
        reference="UCI optical recognition of handwritten digits, scikit-learn's load_digits "
        "(1797 examples, 8x8 pixels 0-16).",
    ),
    Problem(
        name="breast-cancer",
        summary="Wisconsin diagnostic breast cancer (30 features, 2 classes), standardised.",
        dataset=DatasetSpec("breast_cancer"),
        layers=(16,),
        activation="relu",
        batch_size=32,
        epochs=25,
        metric="accuracy",
        target=0.95,
        learning_rate=0.01,
        reference="Street, Wolberg & Mangasarian 1993 (UCI WDBC), scikit-learn's "
        "load_breast_cancer (569 examples).",
    ),
    Problem(
        name="noisy-quadratic",
        summary="DeepOBS's noisy 100-d quadratic as a linear regression; target on the loss.",
        dataset=DatasetSpec("noisy_quadratic"),
        layers=(),
        activation="relu",
        batch_size=128,
        epochs=100,
        metric="loss",
        target=0.6,
        learning_rate=0.02,
        reference="Schneider, Balles & Hennig, 'DeepOBS: A Deep Learning Optimizer Benchmark "
        "Suite', ICLR 2019 (quadratic_deep: Hessian eigenvalues 90 in [0, 1], 10 in [30, 60]); "
        "descentlab.datasets.quadratic. The validation cost's floor is 0.5 (the noise).",
        loss="mse",
    ),
    Problem(
        name="spiral",
        summary="Three interleaved spiral arms in 2-D (600 examples, noise 0.05).",
        dataset=DatasetSpec("spiral", n_samples=600, noise=0.05),
        layers=(32, 32),
        activation="relu",
        batch_size=64,
        epochs=150,
        metric="accuracy",
        target=0.95,
        learning_rate=0.01,
        reference="The classic spiral toy problem (descentlab.datasets.make_spiral, 0.75 "
        "turns); a fresh sample for validation (seed 2) and test (seed 1).",
    ),
)
_BY_NAME = {p.name: p for p in _SUITE}

PROBLEMS: tuple[str, ...] = tuple(_BY_NAME)
"""The names of the suite, in listing order."""


def get_problem(name: str) -> Problem:
    """The problem called ``name`` (case is ignored, ``_`` may stand for ``-``).

    >>> get_problem("Seed_Moons").layers
    (5, 2)

    Raises:
      InvalidParameterError: not a problem of the suite (the message lists them).
    """
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    if key not in _BY_NAME:
        raise InvalidParameterError(
            f"Unknown problem {show(name)}. Expected one of {', '.join(PROBLEMS)}."
        )
    return _BY_NAME[key]
