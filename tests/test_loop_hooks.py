"""The training loop's hooks into optimizer states: a measured loss fed to ``observe`` and the
evaluation point of ``eval_params`` (descentlab.optimizers.base)."""

from typing import NamedTuple

import numpy as np
import pytest

from descentlab.nn import MLP
from descentlab.optimizers import gd
from descentlab.optimizers.base import (
    EmptyState,
    GradientTransformation,
    StackedState,
    chain,
    evaluation_params,
    has_observers,
    observe,
    stack_optimizers,
)
from descentlab.training import train

NET = MLP((2, 3, 1))
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 20))
Y = (X[0] > 0).astype(int)
X_VAL = RNG.normal(size=(2, 10))
Y_VAL = (X_VAL[0] > 0).astype(int)


class Seen(NamedTuple):
    values: tuple

    def observe(self, value):
        return Seen(self.values + (np.array(value, copy=True),))


def watcher() -> GradientTransformation:
    return GradientTransformation(lambda p: Seen(()), lambda g, s, p=None: (g, s))


class Shifted(NamedTuple):
    shift: float

    def eval_params(self, params):
        return {k: v + self.shift for k, v in params.items()}


def shifter(shift: float) -> GradientTransformation:
    return GradientTransformation(lambda p: Shifted(shift), lambda g, s, p=None: (g, s))


def test_observe_feeds_every_part_and_each_block_its_members():
    state = (EmptyState(), Seen(()))
    assert has_observers(state) and not has_observers((EmptyState(),))
    new = observe(state, 0.5)
    assert float(new[1].values[0]) == 0.5 and new[0] == EmptyState()
    assert observe((EmptyState(),), 1.0) == (EmptyState(),)
    stacked = StackedState((Seen(()), EmptyState(), Seen(())), (2, 1, 3))
    out = observe(stacked, np.arange(6.0))
    assert out.blocks[0].values[0].tolist() == [0.0, 1.0]
    assert out.blocks[2].values[0].tolist() == [3.0, 4.0, 5.0]


def test_evaluation_params_moves_only_the_blocks_that_evaluate_elsewhere():
    params = {"w": np.zeros((3, 2))}
    assert evaluation_params((EmptyState(),), params) is params
    stacked = StackedState((EmptyState(), Shifted(1.5)), (1, 2))
    out = evaluation_params(stacked, params)
    assert out["w"].tolist() == [[0, 0], [1.5, 1.5], [1.5, 1.5]]
    assert params["w"].sum() == 0  # not changed in place


@pytest.mark.parametrize("validated", [True, False])
def test_the_loop_feeds_the_validation_cost_else_the_training_cost_after_every_epoch(validated):
    opt = chain(gd(0.1), watcher())
    val = (X_VAL, Y_VAL) if validated else None
    r = train(NET, opt, X, Y, epochs=4, seed=1, validation=val, eval_every=2,
              engine="auto", shuffle="none")  # fmt: skip
    assert r.engine == "numpy"  # a transform without a recipe: the NumPy loop
    seen = np.array([float(v) for v in r.opt_state[1].values])
    assert seen.shape == (4,)
    if not validated:
        np.testing.assert_array_equal(seen, r.history.cost)
    else:  # at the evaluations, the recorded validation cost; between them, the same measure
        np.testing.assert_array_equal(seen[r.history.eval_epochs], r.history.val_cost)
        again = train(NET, gd(0.1), X, Y, epochs=2, seed=1, shuffle="none")
        expected = NET.cost(again.params, X_VAL, NET.targets(Y_VAL))
        assert seen[1] == pytest.approx(float(expected), rel=1e-12)


def test_the_loop_evaluates_and_returns_the_evaluation_point_and_keeps_the_trained_one():
    opt = stack_optimizers([gd(0.1), chain(gd(0.1), shifter(0.25))], [1, 1])
    r = train(NET, opt, X, Y, epochs=3, seed=[1, 1], shuffle="none", validation=(X_VAL, Y_VAL))
    plain = train(NET, gd(0.1), X, Y, epochs=3, seed=1, shuffle="none")
    for key, v in plain.params.items():
        np.testing.assert_array_equal(r.train_params[key][0], v)
        np.testing.assert_array_equal(r.train_params[key][1], v)
        np.testing.assert_array_equal(r.params[key][0], v)
        np.testing.assert_array_equal(r.params[key][1], v + 0.25)
    shifted = {k: v + 0.25 for k, v in plain.params.items()}
    expected = NET.cost(shifted, X_VAL, NET.targets(Y_VAL))
    assert r.history.val_cost[-1, 1] == pytest.approx(float(expected), rel=1e-12)
    assert r.resume_params is r.train_params
    assert r.member(1).params["b2"] == pytest.approx(plain.params["b2"] + 0.25)
    assert plain.train_params is None and plain.resume_params is plain.params


def test_blas_runs_one_thread_for_products_in_the_measured_range(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    from descentlab import training

    def blas_threads():
        return {i["user_api"]: i["num_threads"] for i in threadpool_info()}.get("blas")

    seen = []

    def look(epoch, logs):
        seen.append(blas_threads())

    wide = MLP((40, 100, 10))  # 100 * 40 * 100 = 400000 multiply-adds per product
    Xw = RNG.normal(size=(40, 200))
    yw = RNG.integers(0, 10, 200)
    run = dict(epochs=2, batch_size=100, seed=0, on_epoch=look, engine="numpy")
    with threadpool_limits(limits=2, user_api="blas"):
        train(wide, gd(0.1), Xw, yw, **run)
        assert seen == [1, 1] and blas_threads() == 2
        seen.clear()  # products outside the range are left to BLAS's threads
        monkeypatch.setattr(training, "ONE_BLAS_THREAD", (2**15, 2**16))
        train(wide, gd(0.1), Xw, yw, **run)
        assert seen == [2, 2]


def test_on_epoch_sees_the_evaluation_point():
    seen = []
    opt = chain(gd(0.1), shifter(0.25))
    r = train(NET, opt, X, Y, epochs=2, seed=1, shuffle="none",
              on_epoch=lambda e, logs: seen.append(logs["params"]["b2"].copy()))  # fmt: skip
    np.testing.assert_array_equal(seen[-1], r.params["b2"])
    np.testing.assert_array_equal(seen[-1], r.train_params["b2"] + 0.25)
