"""For the record: PyTorch (CPU) and scikit-learn's MLPClassifier on the seed's workload.

The workload: the seed's 300 moons examples, ``[2, 5, 2, 1]`` with ReLU and a sigmoid output,
mini-batches of 64 (the last one 44), 10000 epochs, gd / momentum / Adam at alpha = 0.0007.

- descentlab: the three runs as one population (as ``bench_seed_compare.py``), and one run
  with ``train()``.
- PyTorch: the same initial weights and the seed's data order; ``SGD(lr)``,
  ``SGD(lr, momentum=0.9, dampening=0.9)`` (the seed's ``v = 0.9 v + 0.1 dW``, except that
  PyTorch's first step takes ``v = dW``) and ``Adam(lr)`` (epsilon outside the square root,
  the seed's is inside); one thread (``torch.set_num_threads(1)``: faster for tensors this
  small). A plain training loop, as a PyTorch user writes it.
- scikit-learn: ``MLPClassifier(hidden_layer_sizes=(5, 2), solver="sgd" | "adam",
  batch_size=64, max_iter=10000, alpha=0, tol=0)`` — its own initialisation, shuffling and
  momentum form (``v = 0.9 v - lr dW``), so its accuracies differ; it runs every epoch.

    python benchmarks/bench_frameworks.py           (about 1-2 minutes)
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import machine, seed_data, table, timed

from descentlab.datasets import Dataset
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Run, train_population
from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.training import train

LR = 0.0007


def descentlab_population(X, y, epochs):
    moons = Dataset("moons", X, y)
    data = ExperimentData(train=moons, val=moons, test=moons)
    runs = [
        Run(name, {"lr": LR}, epochs=epochs, init="seed", shuffle="seed", seed=3, data_seed=10)
        for name in ("gd", "momentum", "adam")
    ]
    return [r["train_accuracy"] for r in train_population(runs, data)]


def descentlab_adam(X, y, epochs):
    net = MLP((2, 5, 2, 1))
    r = train(
        net,
        adam(LR, eps=0.0, eps_root=1e-8),
        X,
        y,
        epochs=epochs,
        init="seed",
        shuffle="seed",
        data_seed=10,
    )
    return float(net.accuracy(r.params, X, y))


def pytorch(X, y, epochs, name):
    import torch

    torch.set_num_threads(1)
    init = MLP((2, 5, 2, 1)).init(3, method="seed")
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 2),
        torch.nn.ReLU(),
        torch.nn.Linear(2, 1),
    )
    with torch.no_grad():
        for l, layer in enumerate([model[0], model[2], model[4]], start=1):
            layer.weight.copy_(torch.from_numpy(init[f"W{l}"]))
            layer.bias.copy_(torch.from_numpy(init[f"b{l}"][:, 0]))
    model = model.double()
    if name == "gd":
        opt = torch.optim.SGD(model.parameters(), lr=LR)
    elif name == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, dampening=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    Xt = torch.from_numpy(np.array(X.T, order="C", copy=True))
    yt = torch.from_numpy(y.astype(np.float64))[:, None]
    m = Xt.shape[0]
    rs = np.random.RandomState(0)
    for epoch in range(epochs):
        rs.seed(10 + epoch + 1)  # the seed's order
        perm = torch.from_numpy(rs.permutation(m))
        for start in range(0, m, 64):
            idx = perm[start : start + 64]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float(((model(Xt) > 0).double() == yt).double().mean())


def sklearn_mlp(X, y, epochs, name):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    settings = {
        "gd": {"solver": "sgd", "momentum": 0.0},
        "momentum": {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False},
        "adam": {"solver": "adam"},
    }[name]
    clf = MLPClassifier(
        hidden_layer_sizes=(5, 2),
        activation="relu",
        learning_rate_init=LR,
        batch_size=64,
        max_iter=epochs,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=3,
        **settings,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.T, y)
    return float(clf.score(X.T, y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10000)
    args = parser.parse_args()
    X, y, _ = seed_data()
    E = args.epochs
    print(f"machine: {machine()}")
    print(f"workload: gd, momentum, adam at lr {LR}, {E} epochs, moons (300), [2, 5, 2, 1]\n")
    rows = []
    t_pop, accs = timed(lambda: descentlab_population(X, y, E))
    rows.append(
        [
            "descentlab (one population of 3)",
            "all three",
            f"{t_pop:.2f}",
            " / ".join(f"{a:.4f}" for a in accs),
        ]
    )
    t, acc = timed(lambda: descentlab_adam(X, y, E))
    rows.append(["descentlab train()", "adam", f"{t:.2f}", f"{acc:.4f}"])
    pytorch(X, y, 5, "adam")  # import torch and warm it up outside the timings
    sklearn_mlp(X, y, 5, "adam")
    totals = {}
    for framework, fn in (
        ("PyTorch CPU (1 thread)", pytorch),
        ("scikit-learn MLPClassifier", sklearn_mlp),
    ):
        total = 0.0
        for name in ("gd", "momentum", "adam"):
            t, acc = timed(lambda fn=fn, name=name: fn(X, y, E, name))
            total += t
            rows.append([framework, name, f"{t:.2f}", f"{acc:.4f}"])
        totals[framework] = total
        rows.append([framework, "all three", f"{total:.2f}", ""])
    print(table(["framework", "optimizer", "seconds", "train accuracy"], rows))
    print()
    for framework, total in totals.items():
        print(f"ratio ({framework}, three runs / descentlab population): {total / t_pop:.2f}x")


if __name__ == "__main__":
    main()
