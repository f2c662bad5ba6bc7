"""The compiled engine runs the modern optimizers with the NumPy engine's numbers.

NAdam(W), RAdam, Adamax, Adadelta, Rprop, Lion and schedule-free AdamW / SGD, alone and in
populations (per-member settings, mixed optimizers, diverging members, early stopping), with
and without schedules, resumed across engines: every parameter (the evaluation point x and
the training point y of schedule-free), cost, learning rate and optimizer state agrees to
1e-12 of each array's scale (the pattern of ``tests/test_compiled.py``). Then the same runs
through the kernels read as Python (numba's JIT off), so that coverage sees every line of
the new opcodes.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys

import numba
import numpy as np
import pytest

import descentlab.compiled
from descentlab.compiled.program import Unsupported, build_program
from descentlab.nn import MLP
from descentlab.optimizers import (
    adadelta,
    adamax,
    chain,
    lion,
    nadam,
    nadamw,
    radam,
    rprop,
    scale_by_lion,
    scale_by_rprop,
    scale_by_schedule_free,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
    sgd,
    stack_optimizers,
)
from descentlab.optimizers.transforms import scale_by_learning_rate
from descentlab.schedules import exponential_decay, linear_warmup
from descentlab.training import EarlyStopping, train
from test_compiled import _close, _same_state, assert_same, both

RTOL = 1e-12
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 40))
Y2 = (X[0] * X[1] > 0).astype(int)
Y3 = np.digitize(X[0], [-0.4, 0.4]).astype(int)

# name -> (the optimizer of a rate or schedule, its starting rate)
OPTIMIZERS = {
    "nadam": (lambda lr: nadam(lr, weight_decay=0.01), 0.05),
    "nadamw": (lambda lr: nadamw(lr, momentum_decay=0.05), 0.05),
    "radam": (lambda lr: radam(lr, b2=0.9, weight_decay=0.01), 0.05),
    "radam_decoupled": (lambda lr: radam(lr, weight_decay=0.1, decoupled_weight_decay=True), 0.05),
    "adamax": (lambda lr: adamax(lr, weight_decay=0.01), 0.05),
    "adadelta": (lambda lr: adadelta(lr, decay=0.8, weight_decay=0.01), 1.0),
    "rprop": (lambda lr: rprop(lr, max_step_size=0.05), 0.01),
    "lion": (lambda lr: lion(lr, weight_decay=0.1), 0.01),
    "schedule_free_adamw": (lambda lr: schedule_free_adamw(lr, warmup_steps=4, weight_decay=0.01),
                            0.05),
    "schedule_free_sgd": (lambda lr: schedule_free_sgd(lr, b1=0.8, weight_decay=0.01), 0.2),
}  # fmt: skip
SCHEDULES = {
    "fixed": lambda lr: lr,
    "exponential": lambda lr: exponential_decay(lr, gamma=0.9, steps_per_epoch=3),
    "warmup": lambda lr: linear_warmup(
        exponential_decay(lr, gamma=0.95), warmup_steps=5, init_value=lr / 10
    ),
}


@pytest.mark.parametrize(
    ("opt", "classes", "schedule"), list(itertools.product(OPTIMIZERS, (2, 3), SCHEDULES))
)
def test_every_new_optimizer_output_and_schedule_agree(opt, classes, schedule):
    net = MLP((2, 4, 3, 1 if classes == 2 else 3), activation="tanh")
    y = Y2 if classes == 2 else Y3
    make, lr = OPTIMIZERS[opt]
    a, b = both(net, make(SCHEDULES[schedule](lr)), X, y, epochs=9, batch_size=16, seed=1,
                eval_every=4, validation=(X, y))  # fmt: skip
    assert_same(a, b)
    assert (a.train_params is not None) == opt.startswith("schedule_free")


def test_population_with_per_member_settings_mixed_optimizers_and_divergence():
    """Blocks of new optimizers with per-member settings; a schedule-free member and an Rprop
    member diverge: every member's x and y, frozen at the epoch it diverged, agree."""
    net = MLP((2, 5, 3), activation="leaky_relu", leaky_slope=0.1)
    opt = stack_optimizers(
        [
            nadam(np.array([0.01, 0.03]), b1=np.array([0.9, 0.5]),
                  momentum_decay=np.array([4e-3, 0.1])),
            radam(0.02, b2=np.array([0.999, 0.8])),
            schedule_free_sgd(np.array([0.1, 3e3]), b1=np.array([0.9, 0.5]),
                              weight_lr_power=np.array([2.0, 1.0])),
            rprop(np.array([0.01, 2e3]), max_step_size=np.array([50.0, 1e4])),
            lion(exponential_decay(np.array([0.003, 0.01]), gamma=0.9)),
            schedule_free_adamw(exponential_decay(np.array([0.01, 0.02]), gamma=0.95)),
            adadelta(1.0, decay=np.array([0.9, 0.5])),
        ],
        [2, 2, 2, 2, 2, 2, 2],
    )  # fmt: skip
    seeds = list(range(14))
    a, b = both(net, opt, X, Y3, epochs=25, batch_size=8, seed=seeds, shuffle="random",
                data_seed=[1, 2] * 7, validation=(X, Y3), eval_every=5)  # fmt: skip
    assert a.diverged.tolist() == [False] * 5 + [True, False, True] + [False] * 6
    assert_same(a, b)
    for k in range(14):
        assert_same(a.member(k), b.member(k))
    moved = a.params["W1"][4] - a.train_params["W1"][4]  # schedule-free: x differs from y
    assert np.max(np.abs(moved)) > 1e-6


def test_a_diverged_schedule_free_member_keeps_the_evaluation_point_of_its_epoch(monkeypatch):
    """The compiled chunk ends after the epoch a schedule-free member diverges in (epoch 2,
    inside a chunk of 29 epochs), so that its x of that epoch is kept, as the NumPy engine
    keeps it; a chunk running on would report a later x (the diverged member's later costs
    and state are not compared: they are chaotic)."""
    from descentlab.compiled import loop

    monkeypatch.setattr(loop, "CHUNK_SECONDS", 100.0)  # one chunk after the first epoch
    net = MLP((2, 4, 1), activation="tanh")
    opt = schedule_free_sgd(np.array([0.2, 50.0, 0.1]))
    kw = dict(epochs=30, batch_size=10, seed=[3, 4, 5], shuffle="none", max_cost=7.0)
    a, b = both(net, opt, X, Y2, **kw)
    assert a.stopped_epoch.tolist() == [-1, 2, -1]
    for k in range(3):
        assert_same(a.member(k), b.member(k))
    alone = {**kw, "seed": None, "params": {k: v[1] for k, v in net.init([3, 4, 5]).items()}}
    lone = train(net, schedule_free_sgd(50.0), X, Y2, engine="compiled", **alone)
    assert lone.status == "diverged"
    for k in lone.params:
        _close(b.member(1).params[k], lone.params[k], RTOL, k)
        _close(b.member(1).train_params[k], lone.train_params[k], RTOL, k)


def test_early_stopping_freezes_the_evaluation_point_in_both_engines():
    net = MLP((2, 6, 1), activation="relu")
    opt = stack_optimizers([schedule_free_adamw(np.array([0.05, 0.01])), nadamw(0.02)], [2, 1])
    a, b = (
        train(net, opt, X, Y2, epochs=40, batch_size=8, seed=[0, 1, 2], validation=(X, Y2),
              eval_every=1, callbacks=[EarlyStopping("val_accuracy", patience=2)], engine=engine)
        for engine in ("numpy", "compiled")
    )  # fmt: skip
    assert a.stopped_epoch.tolist() == [2, 5, 3]
    assert_same(a, b)


@pytest.mark.parametrize("first", ["numpy", "compiled"])
def test_a_run_resumes_exactly_in_the_other_engine(first):
    net = MLP((2, 5, 1), activation="tanh")
    opt = stack_optimizers(
        [schedule_free_adamw(exponential_decay(0.05, gamma=0.9, steps_per_epoch=3)),
         nadam(np.array([0.02, 0.05])), rprop(0.01), lion(0.005)],
        [1, 2, 1, 1],
    )  # fmt: skip
    kw = dict(batch_size=16, shuffle="none")
    params = net.init([0, 1, 2, 3, 4])
    whole = train(net, opt, X, Y2, epochs=12, params=params, engine="numpy", **kw)
    second = "numpy" if first == "compiled" else "compiled"
    half = train(net, opt, X, Y2, epochs=6, params=params, engine=first, **kw)
    rest = train(net, opt, X, Y2, epochs=6, params=half.resume_params, opt_state=half.opt_state,
                 engine=second, **kw)  # fmt: skip
    for key in whole.params:
        _close(rest.params[key], whole.params[key], RTOL, key)
        _close(rest.train_params[key], whole.train_params[key], RTOL, key)
    _same_state(rest.opt_state, whole.opt_state, RTOL)
    _close(rest.history.cost, whole.history.cost[6:], RTOL, "cost")


def test_transforms_chained_by_hand_and_the_schedule_free_wrapper_agree():
    net = MLP((2, 6, 1), activation="sigmoid")
    for opt in [
        chain(scale_by_lion(0.5, 0.9), scale_by_learning_rate(0.01)),
        chain(scale_by_rprop(0.4, 1.3, 0.1, 20.0), scale_by_learning_rate(0.005)),
        schedule_free(sgd(0.05, momentum=0.5), 0.05, b1=0.7),
        chain(sgd(0.1), scale_by_schedule_free(linear_warmup(0.1, 7), weight_lr_power=0.5)),
    ]:
        a, b = both(net, opt, X, Y2, epochs=10, batch_size=7, seed=2)
        assert_same(a, b)


def test_a_state_that_does_not_match_is_unsupported():
    opt = nadam(0.1)
    state = opt.init({"theta": np.zeros(5)})
    bad = (state[0], state[1]._replace(mu_product=np.ones((2, 2))), state[2])
    with pytest.raises(Unsupported, match="does not match"):
        build_program(opt, bad, None, 5)
    with pytest.raises(Unsupported, match="does not match"):
        build_program(opt, (state[0], state[1]._replace(mu_product="x"), state[2]), None, 5)


# ----------------------------------------------------------------------------- as Python


@pytest.fixture(scope="module")
def python_kernels():
    """``descentlab.compiled.kernels`` as Python (numba's JIT off while it is loaded)."""
    path = descentlab.compiled.__path__[0] + "/kernels.py"
    spec = importlib.util.spec_from_file_location("descentlab.compiled.kernels", path)
    module = importlib.util.module_from_spec(spec)
    saved = numba.config.DISABLE_JIT
    numba.config.DISABLE_JIT = True
    try:
        spec.loader.exec_module(module)
    finally:
        numba.config.DISABLE_JIT = saved
    assert not hasattr(module.run_serial, "py_func")
    return module


@pytest.fixture
def as_python(python_kernels, monkeypatch):
    monkeypatch.setitem(sys.modules, "descentlab.compiled.kernels", python_kernels)
    monkeypatch.setattr(descentlab.compiled, "kernels", python_kernels, raising=False)
    return python_kernels


def test_the_new_kernels_read_as_python_agree(as_python):
    """Every branch of the new opcodes: each optimizer, rectified and not, a sign flip and
    both Rprop bounds, NaN through Adamax's max, schedule-free with a schedule, a diverging
    schedule-free member (serial) and eight members (the threaded kernel)."""
    net = MLP((2, 3, 1), activation="tanh")
    x, y = X[:, :12], Y2[:12]
    for opt in [
        nadam(0.05), radam(0.05, b2=0.9), radam(0.05), adamax(0.05), adadelta(1.0),
        rprop(0.05, min_step_size=0.02, max_step_size=0.06), lion(0.01),
        schedule_free_adamw(exponential_decay(0.05, 0.9)), schedule_free_sgd(0.1),
    ]:  # fmt: skip
        a, b = both(net, opt, x, y, epochs=4, batch_size=4, seed=1)
        assert_same(a, b)
    a, b = both(net, schedule_free_sgd(np.array([0.1, 5e3])), x, y, epochs=6, batch_size=4,
                seed=[1, 2])  # fmt: skip
    assert a.diverged.tolist() == [False, True]
    assert_same(a, b)
    a, b = both(net, adamax(np.array([0.05, 1e4])), x, y, epochs=3, batch_size=4, seed=[1, 2])
    assert a.diverged.tolist() == [False, True]
    assert_same(a, b)
    eight = stack_optimizers([schedule_free_sgd(np.array([0.1] * 7 + [5e3])), lion(0.01)], [8, 1])
    a, b = both(net, eight, x, y, epochs=4, batch_size=6, seed=list(range(9)))
    assert a.diverged[7] and not a.diverged[8]
    assert_same(a, b)


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, 1e-300, -2.0, 3.0, -0.5])
ONE_STEP = {
    "nadam": nadam(0.1, weight_decay=0.1),
    "radam": radam(0.1, b2=0.9),
    "adamax": adamax(0.1),
    "adadelta": adadelta(1.0),
    "rprop": rprop(0.1, min_step_size=0.01, max_step_size=0.3),
    "lion": lion(0.1),
    "schedule_free_adamw": schedule_free_adamw(exponential_decay(0.1, 0.9)),
}


def _one_update(kernels, name):
    """One kernel update of member 0 from a state after 12 NumPy steps, with gradients NaN,
    +-inf, 0, tiny and of either sign, against the NumPy transform's update."""
    opt, rng = ONE_STEP[name], np.random.default_rng(5)
    theta = {"theta": rng.standard_normal(8)}
    state = opt.init(theta)
    for _ in range(12):
        updates, state = opt.update({"theta": rng.standard_normal(8)}, state, theta)
        theta = {"theta": theta["theta"] + updates["theta"]}
    program = build_program(opt, state, None, 8)
    with np.errstate(all="ignore"):
        updates, expected = opt.update({"theta": SPECIAL.copy()}, state, theta)
    flat = theta["theta"][None].copy()
    with np.errstate(all="ignore"):  # read as Python, the kernels' scalars are NumPy's
        kernels._update(0, 0, flat, SPECIAL.copy(), program.state, program.counts, program.ops,
                        program.n_ops, program.hp, program.rates(1))  # fmt: skip
    np.testing.assert_array_equal(flat[0], theta["theta"] + updates["theta"])
    _same_state(program.export_state(), expected, 0.0)


@pytest.mark.parametrize("name", list(ONE_STEP))
def test_special_gradients_through_each_new_opcode(name):
    from descentlab.compiled import kernels

    _one_update(kernels, name)


@pytest.mark.parametrize("name", list(ONE_STEP))
def test_special_gradients_through_each_new_opcode_as_python(as_python, name):
    _one_update(as_python, name)
