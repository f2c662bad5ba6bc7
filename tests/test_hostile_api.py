"""The library's public functions against wrong-typed and absurd arguments: every refusal is one
of descentlab's ``ValueError`` subclasses (never a ``TypeError``, an ``AttributeError`` or a
NumPy error), and none runs away (an absurd size is refused before any work)."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab import MLP, EarlyStopping, gradient_check, load_moons, train
from descentlab._validation import DescentLabError
from descentlab.batching import EpochOrder, batch_slices, iterate_mini_batches, random_mini_batches
from descentlab.experiments.population import Run
from descentlab.optimizers import apply_updates, chain, gd, stack_optimizers

DATA = load_moons()
NET = MLP((2, 3, 1))
PARAMS = NET.init(0)

HOSTILE = [
    "abc",
    [1, 2],
    [[1, "a"]],
    None,
    {"a": 1},
    float("nan"),
    float("inf"),
    -1,
    10**30,
    True,
    1.5,
    (),
    np.array(["x"]),
    object(),
]

CALLS = {
    "MLP(layer_dims)": lambda v: MLP(v),
    "MLP(activation)": lambda v: MLP((2, 3, 1), v),
    "MLP.init(seed)": lambda v: NET.init(v),
    "MLP.init(method)": lambda v: NET.init(0, method=v),
    "MLP.check_params": lambda v: NET.check_params(v),
    "MLP.forward(params)": lambda v: NET.forward(v, DATA.X),
    "MLP.forward(X)": lambda v: NET.forward(PARAMS, v),
    "MLP.cost(Y)": lambda v: NET.cost(PARAMS, DATA.X, v),
    "MLP.predict(X)": lambda v: NET.predict(PARAMS, v),
    "MLP.accuracy(y)": lambda v: NET.accuracy(PARAMS, DATA.X, v),
    "MLP.targets(y)": lambda v: NET.targets(v),
    "gradient_check(params)": lambda v: gradient_check(NET, v, DATA.X, DATA.Y),
    "train(net)": lambda v: train(v, gd(0.1), DATA.X, DATA.y, epochs=1),
    "train(optimizer)": lambda v: train(NET, v, DATA.X, DATA.y, epochs=1),
    "train(X)": lambda v: train(NET, gd(0.1), v, DATA.y, epochs=1),
    "train(y)": lambda v: train(NET, gd(0.1), DATA.X, v, epochs=1),
    "train(epochs)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=v),
    "train(batch_size)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, batch_size=v),
    "train(params)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, params=v),
    "train(seed)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, seed=v),
    "train(data_seed)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, data_seed=v),
    "train(shuffle)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, shuffle=v),
    "train(init)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, init=v),
    "train(validation)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, validation=v),
    "train(eval_every)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, eval_every=v),
    "train(callbacks)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, callbacks=v),
    "train(max_cost)": lambda v: train(NET, gd(0.1), DATA.X, DATA.y, epochs=1, max_cost=v),
    "EarlyStopping(patience)": lambda v: EarlyStopping(patience=v),
    "EarlyStopping(monitor)": lambda v: EarlyStopping(monitor=v),
    "EarlyStopping(min_delta)": lambda v: EarlyStopping(min_delta=v),
    "batch_slices(m)": lambda v: batch_slices(v, 3),
    "batch_slices(batch_size)": lambda v: batch_slices(10, v),
    "random_mini_batches(X)": lambda v: random_mini_batches(v, DATA.Y),
    "random_mini_batches(seed)": lambda v: random_mini_batches(DATA.X, DATA.Y, 64, v),
    "iterate_mini_batches(Y)": lambda v: list(iterate_mini_batches(DATA.X, v, 64)),
    "EpochOrder(data_seed)": lambda v: EpochOrder("random", v, 10),
    "chain(...)": lambda v: chain(gd(0.1), v),
    "stack_optimizers(...)": lambda v: stack_optimizers([v], [1]),
    "apply_updates(updates)": lambda v: apply_updates({"a": np.zeros(2)}, v),
    "Run(optimizer)": lambda v: Run(v, {"lr": 0.1}),
    "Run(hyperparameters)": lambda v: Run("adam", v),
    "Run(lr)": lambda v: Run("adam", {"lr": v}).learning_rate and _build(Run("adam", {"lr": v})),
}


def _build(run: Run) -> None:
    from descentlab.experiments.population import build_run_optimizer

    build_run_optimizer(run)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("call", list(CALLS))
def test_hostile_arguments_raise_the_library_errors(call: str) -> None:
    for value in HOSTILE:
        try:
            with np.errstate(all="ignore"):
                CALLS[call](value)
        except DescentLabError as err:
            message = str(err)
            assert message and "\n" not in message, (call, value, message)
        except Exception as err:  # anything else is a bug: say which argument and value
            pytest.fail(f"{call} with {value!r:.40} raised {type(err).__name__}: {err}")
