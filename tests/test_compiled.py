"""The compiled engine gives the NumPy engine's numbers, to 1e-12 of each array's scale.

Every named optimizer x activation x output x schedule, the transforms on their own,
populations with mixed optimizers and diverging members, resuming across engines, callbacks,
Ctrl-C, the seed's table, and the choice ``auto`` makes (with its reason).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from descentlab import compiled
from descentlab._validation import InvalidParameterError
from descentlab.compiled import cache
from descentlab.datasets import load_moons
from descentlab.nn import ACTIVATIONS, MLP
from descentlab.optimizers import (
    EmptyState,
    GradientTransformation,
    adagrad,
    adam,
    adamw,
    chain,
    gd,
    momentum,
    nesterov,
    rmsprop,
    sgd,
    stack_optimizers,
)
from descentlab.optimizers.transforms import (
    add_decayed_weights,
    clip_by_global_norm,
    ema,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)
from descentlab.schedules import (
    constant,
    cosine_decay,
    exponential_decay,
    fixed_interval_decay,
    inverse_time_decay,
    linear_warmup,
    piecewise_constant,
    step_decay,
)
from descentlab.training import EarlyStopping, train

RTOL = 1e-12

RNG = np.random.default_rng(0)
X_SMALL = RNG.normal(size=(2, 40))
Y2 = (X_SMALL[0] * X_SMALL[1] > 0).astype(int)
Y3 = (np.digitize(X_SMALL[0], [-0.4, 0.4])).astype(int)

OPTIMIZERS = {
    "gd": lambda lr: gd(lr),
    "momentum": lambda lr: momentum(lr, beta=0.8),
    "sgd": lambda lr: sgd(lr, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_plain": lambda lr: sgd(lr),
    "nesterov": lambda lr: nesterov(lr, momentum=0.9),
    "rmsprop": lambda lr: rmsprop(lr, momentum=0.5, centered=True, weight_decay=0.01),
    "rmsprop_plain": lambda lr: rmsprop(lr),
    "adagrad": lambda lr: adagrad(lr, initial_accumulator_value=0.1, weight_decay=0.01),
    "adam": lambda lr: adam(lr),
    "adam_amsgrad": lambda lr: adam(lr, eps_root=1e-12, amsgrad=True, weight_decay=0.01),
    "adamw": lambda lr: adamw(lr, amsgrad=True),
}
SCHEDULES = {
    "fixed": lambda lr: lr,
    "constant": lambda lr: constant(lr),
    "inverse_time": lambda lr: inverse_time_decay(lr, decay_rate=0.5, steps_per_epoch=3),
    "fixed_interval": lambda lr: fixed_interval_decay(lr, 1.0, time_interval=2, steps_per_epoch=3),
    "exponential": lambda lr: exponential_decay(lr, gamma=0.9, steps_per_epoch=3),
    "step": lambda lr: step_decay(lr, boundaries=[2, 4], factor=0.5, steps_per_epoch=3),
    "cosine": lambda lr: cosine_decay(lr, decay_steps=20, final_value=lr / 10),
    "piecewise": lambda lr: piecewise_constant([3, 6], [lr, lr / 2, lr / 4], steps_per_epoch=3),
    "warmup": lambda lr: linear_warmup(exponential_decay(lr, gamma=0.95), warmup_steps=5),
}


def assert_same(a, b, *, rtol=RTOL):
    """Two TrainResults agree: every array to ``rtol`` of its own scale, the rest exactly."""
    assert (a.status, a.message) == (b.status, b.message)
    np.testing.assert_array_equal(a.stopped_epoch, b.stopped_epoch)
    np.testing.assert_array_equal(a.diverged, b.diverged)
    for what in ("params", "train_params"):  # train_params: schedule-free's training point
        x, y = getattr(a, what), getattr(b, what)
        assert (x is None) == (y is None), what
        for key in x or {}:
            _close(x[key], y[key], rtol, f"{what}[{key}]")
    for name in ("cost", "last_batch_cost", "learning_rate", "val_cost"):
        _close(getattr(a.history, name), getattr(b.history, name), rtol, name)
    np.testing.assert_array_equal(a.history.eval_epochs, b.history.eval_epochs)
    np.testing.assert_array_equal(a.history.train_accuracy, b.history.train_accuracy)
    np.testing.assert_array_equal(a.history.val_accuracy, b.history.val_accuracy)
    _same_state(a.opt_state, b.opt_state, rtol)


def _close(x, y, rtol, what):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    assert x.shape == y.shape, what
    np.testing.assert_array_equal(np.isfinite(x), np.isfinite(y), err_msg=what)
    finite = np.isfinite(x)
    scale = max(np.max(np.abs(x[finite]), initial=0.0), 1e-300)
    err = np.max(np.abs(x[finite] - y[finite]), initial=0.0) / scale
    assert err <= rtol, f"{what}: relative difference {err:.3g}"


def _same_state(s, t, rtol):
    assert type(s) is type(t)
    if isinstance(s, dict):
        assert s.keys() == t.keys()
        for k in s:
            _close(s[k], t[k], rtol, f"state[{k}]")
    elif isinstance(s, tuple):
        assert len(s) == len(t)
        for u, v in zip(s, t, strict=True):
            _same_state(u, v, rtol)
    elif isinstance(s, np.ndarray | float):
        _close(s, t, rtol, "state value")
    else:
        assert s == t


def both(*args, **kwargs):
    """The same training on each engine."""
    a = train(*args, engine="numpy", **kwargs)
    b = train(*args, engine="compiled", **kwargs)
    assert (a.engine, b.engine) == ("numpy", "compiled")
    return a, b


@pytest.mark.parametrize(
    "opt, activation, classes, schedule",
    list(itertools.product(OPTIMIZERS, ACTIVATIONS, (2, 3), SCHEDULES)),
)
def test_every_optimizer_activation_output_and_schedule_agree(opt, activation, classes, schedule):
    net = MLP((2, 4, 3, 1 if classes == 2 else 3), activation=activation)
    y = Y2 if classes == 2 else Y3
    optimizer = OPTIMIZERS[opt](SCHEDULES[schedule](0.05))
    a, b = both(net, optimizer, X_SMALL, y, epochs=9, batch_size=16, seed=1, eval_every=4,
                validation=(X_SMALL, y))  # fmt: skip
    assert_same(a, b)


TRANSFORMS = {
    "clip+decay+adam": chain(
        clip_by_global_norm(0.5),
        add_decayed_weights(0.1),
        scale_by_adam(),
        scale_by_learning_rate(0.05),
    ),
    "rms debias": chain(scale_by_rms(0.9, debias=True), scale_by_learning_rate(0.01)),
    # (centered *and* debiased RMSProp is left out: its first step divides by
    # sqrt(g**2 - g**2) + eps, so a last-bit difference in g becomes an O(1) difference)
    "trace passthrough": chain(trace(0.0), scale_by_learning_rate(0.1)),
    "ema + adagrad": chain(ema(0.5), scale_by_adagrad(0.1), scale_by_learning_rate(0.1)),
    "two rates": chain(
        scale_by_learning_rate(0.5), scale_by_learning_rate(exponential_decay(0.2, 0.9))
    ),
    "no rate": chain(trace(0.5), add_decayed_weights(0.0)),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_chained_by_hand_agree(name):
    net = MLP((2, 6, 1), activation="tanh")
    a, b = both(net, TRANSFORMS[name], X_SMALL, Y2, epochs=12, batch_size=7, seed=2)
    assert_same(a, b)


def test_population_with_mixed_optimizers_per_member_settings_and_divergence():
    net = MLP((2, 5, 3), activation="leaky_relu", leaky_slope=0.1)
    opt = stack_optimizers(
        [
            gd(np.array([0.1, 1e4])),  # the second member diverges
            adam(exponential_decay(np.array([0.01, 0.02, 0.03]), gamma=np.array([0.9, 1.0, 0.5]))),
            sgd(0.05, momentum=np.array([0.0, 0.9]), nesterov=False),
            chain(
                clip_by_global_norm(np.array([0.1, 1.0]), per_member=True),
                scale_by_learning_rate(0.1),
            ),
        ],
        [2, 3, 2, 2],
    )
    kw = dict(epochs=30, batch_size=8, seed=list(range(9)), data_seed=[1, 2, 1, 2, 1, 2, 1, 2, 3])
    a, b = both(net, opt, X_SMALL, Y3, shuffle="random", **kw)
    assert a.diverged.tolist() == [False, True] + [False] * 7
    assert_same(a, b)
    for k in range(9):
        assert_same(a.member(k), b.member(k))


def test_every_member_diverging_stops_both_engines_at_the_same_epoch():
    a, b = both(MLP((2, 3, 1)), gd(np.array([5e3, 1e4])), X_SMALL, Y2, epochs=50, seed=[1, 2])
    assert a.status == "diverged" and a.history.n_epochs < 50
    assert_same(a, b)


def test_early_stopping_callbacks_and_on_epoch_run_with_the_compiled_engine():
    seen = {"numpy": [], "compiled": []}
    results = {}
    for engine in seen:
        results[engine] = train(
            MLP((2, 4, 1)), adam(0.05), X_SMALL, Y2, epochs=200, seed=[3, 4], batch_size=10,
            callbacks=[EarlyStopping("cost", patience=5, min_delta=1e-3)], engine=engine,
            on_epoch=lambda e, logs, s=seen[engine]: s.append((e, logs["cost"].copy())),
        )  # fmt: skip
    assert_same(results["numpy"], results["compiled"])
    assert [e for e, _ in seen["numpy"]] == [e for e, _ in seen["compiled"]]
    assert results["compiled"].status == "early_stopped"


@pytest.mark.parametrize("first, second", [("numpy", "compiled"), ("compiled", "numpy")])
def test_resuming_across_engines_equals_one_longer_run(first, second):
    net, opt = MLP((2, 4, 1)), adam(exponential_decay(0.05, 0.9, steps_per_epoch=4))
    whole = train(
        net, opt, X_SMALL, Y2, epochs=10, seed=5, batch_size=10, shuffle="none", engine="numpy"
    )
    one = train(
        net, opt, X_SMALL, Y2, epochs=4, seed=5, batch_size=10, shuffle="none", engine=first
    )
    two = train(net, opt, X_SMALL, Y2, epochs=6, batch_size=10, shuffle="none", engine=second,
                params=one.params, opt_state=one.opt_state)  # fmt: skip
    for key in whole.params:
        _close(whole.params[key], two.params[key], RTOL, key)
    _same_state(whole.opt_state, two.opt_state, RTOL)
    _close(whole.history.learning_rate[4:], two.history.learning_rate, RTOL, "lr")


@pytest.mark.slow
def test_the_seed_table_on_the_compiled_engine():
    moons = load_moons()
    net = MLP((2, 5, 2, 1))
    got = []
    for opt in (gd(0.0007), momentum(0.0007, beta=0.9), adam(0.0007)):
        kw = dict(epochs=10000, batch_size=64, seed=3, init="seed", shuffle="seed")
        a, b = both(net, opt, moons.X, moons.y, **kw)
        assert_same(a, b, rtol=1e-10)
        got.append(round(float(b.history.train_accuracy[-1]), 4))
    assert got == [0.7967, 0.7967, 0.94]


class _Custom(GradientTransformation):
    pass


def _custom() -> GradientTransformation:
    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        return {k: -0.1 * g for k, g in grads.items()}, state

    return GradientTransformation(init, update)


@pytest.mark.parametrize(
    "optimizer, reason",
    [
        (_custom(), "a custom transformation"),
        (chain(_custom()), "a custom transformation"),
        (gd(lambda step: 0.1), "a custom learning-rate schedule"),
        (chain(clip_by_global_norm(1.0), scale_by_learning_rate(0.1)), "clip_by_global_norm over"),
    ],
)
def test_auto_falls_back_to_numpy_and_says_why_compiled_refuses(optimizer, reason, monkeypatch):
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS", 0.0)
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)
    seeds = [1, 2] if "over" in reason else 1
    r = train(MLP((2, 3, 1)), optimizer, X_SMALL, Y2, epochs=2, seed=seeds)
    assert r.engine == "numpy"
    assert r.engine_note.startswith("the compiled engine does not support " + reason)
    with pytest.raises(
        InvalidParameterError,
        match="The compiled engine cannot train this configuration: " + reason,
    ):
        train(MLP((2, 3, 1)), optimizer, X_SMALL, Y2, epochs=2, seed=seeds, engine="compiled")


def test_auto_runs_compiled_when_it_can_and_the_kernels_are_compiled(monkeypatch):
    train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=1, seed=1, engine="compiled")
    assert cache.is_warm("serial")  # a compiled run marks its kernel
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS", 0.0)
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)
    r = train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1)
    assert (r.engine, r.engine_note) == ("compiled", "")
    assert r.member(0).engine == "compiled"


def test_auto_trains_a_short_run_with_numpy_without_a_note():
    r = train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1)
    assert (r.engine, r.engine_note) == ("numpy", "")


def test_the_short_run_threshold_is_lower_once_the_kernels_are_loaded(monkeypatch):
    import sys

    train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=1, seed=1, engine="compiled")
    assert "descentlab.compiled.kernels" in sys.modules
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS", 1e9)  # a fresh process: numpy
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)  # this one: compiled
    assert train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1).engine == "compiled"
    monkeypatch.delitem(sys.modules, "descentlab.compiled.kernels")
    assert train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1).engine == "numpy"


def test_the_estimate_grows_with_steps_members_and_parameters():
    base = compiled.numpy_seconds(23, 1, 300, 64, 10000)
    assert 2.5 < base < 4.0  # the seed's Adam run: 3.0-3.4 s measured, above the threshold
    assert 4.5 < compiled.numpy_seconds(23, 3, 300, 64, 10000, blocks=3) < 6.5  # 4.8-5.0 s
    assert compiled.numpy_seconds(23, 1000, 300, 64, 10000) > 3 * base
    assert compiled.numpy_seconds(23, 1, 300, 1, 10000) > 30 * base


@pytest.mark.parametrize("started", [True, False])
def test_auto_on_cold_kernels_trains_with_numpy_and_compiles_in_the_background(
    monkeypatch, started
):
    calls = []
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS", 0.0)
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)
    monkeypatch.setattr(cache, "is_warm", lambda kernel: False)
    monkeypatch.setattr(cache, "warm_in_background", lambda: calls.append(1) or started)
    r = train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1)
    assert (r.engine, calls) == ("numpy", [1])
    assert r.engine_note == (compiled.COMPILING if started else compiled.NOT_COMPILED)
    assert compiled.COMPILING.startswith(compiled.NOT_COMPILED[:-1] + "; it is being compiled")
    monkeypatch.setattr(compiled, "FOREGROUND_COMPILE_SECONDS", 0.0)  # a long run compiles
    assert train(MLP((2, 3, 1)), adam(0.01), X_SMALL, Y2, epochs=2, seed=1).engine == "compiled"


def test_a_bad_engine_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match="'engine' parameter of train"):
        train(MLP((2, 3, 1)), gd(0.1), X_SMALL, Y2, epochs=1, engine="fast")


def test_ctrl_c_right_after_a_compiled_chunk_keeps_that_chunk(monkeypatch):
    from descentlab.compiled import kernels

    real = kernels.run_serial
    calls = []

    def interrupted(*args):
        real(*args)
        calls.append(int(args[-1][0]))
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(kernels, "run_serial", interrupted)
    r = train(MLP((2, 3, 1)), gd(0.1), X_SMALL, Y2, epochs=500, seed=1, engine="compiled")
    assert r.status == "interrupted"
    assert r.history.n_epochs == sum(calls) and sum(calls) >= 2
    assert r.message == f"Interrupted after {sum(calls)} of 500 epochs; the history so far is kept."
    reference = train(
        MLP((2, 3, 1)), gd(0.1), X_SMALL, Y2, epochs=sum(calls), seed=1, engine="numpy"
    )
    for key in r.params:
        _close(reference.params[key], r.params[key], RTOL, key)


def test_chunks_stop_where_python_must_look_and_fit_the_time_budget():
    from descentlab.compiled.loop import CHUNK_SECONDS

    r = train(MLP((2, 3, 1)), gd(0.1), X_SMALL, Y2, epochs=250, seed=1, eval_every=100)
    assert r.history.eval_epochs.tolist() == [0, 99, 199, 249]
    assert 0 < CHUNK_SECONDS <= 0.25


def test_seed_orders_equal_the_legacy_generator():
    from descentlab.batching import seed_order
    from descentlab.compiled.kernels import seed_orders

    for m, seed in [(1, 0), (2, 7), (300, 10), (1000, 2**32 - 3), (4097, 123456789)]:
        drawn = seed_orders(np.asarray([seed], np.int64), 0, 3, m)
        for e in range(3):
            expected = seed_order(m, (seed + e + 1) % 2**32)
            np.testing.assert_array_equal(drawn[e, 0], expected)


def test_a_data_seed_at_the_top_of_the_range_wraps_instead_of_failing():
    a, b = both(MLP((2, 3, 1)), gd(0.1), X_SMALL, Y2, epochs=3, seed=1, shuffle="seed",
                data_seed=2**32 - 2)  # fmt: skip
    assert a.status == "completed"
    assert_same(a, b)


def test_large_population_splits_across_threads_with_the_same_numbers():
    seeds = list(range(40))
    a, b = both(MLP((2, 6, 1)), adam(np.linspace(1e-3, 1e-1, 40)), X_SMALL, Y2, epochs=15, seed=seeds,
                batch_size=12)  # fmt: skip
    assert_same(a, b)


def test_history_learning_rate_is_nan_without_a_rate_transform():
    a, b = both(MLP((2, 3, 1)), chain(trace(0.5)), X_SMALL, Y2, epochs=2, seed=1)
    assert np.isnan(b.history.learning_rate).all()
    assert math.isnan(float(a.history.learning_rate[0]))


@pytest.mark.parametrize("seeds", [0, list(range(8))])
def test_wide_layers_through_blas_and_through_loops_agree(seeds):
    from descentlab.compiled.kernels import BLAS_MIN

    X = RNG.normal(size=(40, 300))
    y = RNG.integers(0, 10, 300)
    net = MLP((40, 30, 10))
    assert 40 * 30 * 100 >= BLAS_MIN  # one network: BLAS; eight: loops on two threads
    a, b = both(net, adam(1e-2), X, y, epochs=3, seed=seeds, batch_size=100)
    assert_same(a, b)


def test_resolve_decides_auto_once_for_work_spread_over_processes(monkeypatch):
    size = dict(n_params=23, m=300, batch_size=64)
    assert compiled.resolve("numpy", members=8, epochs=10**6, **size) == ("numpy", "")
    assert compiled.resolve("compiled", members=1, epochs=1, **size) == ("compiled", "")
    assert compiled.resolve("auto", members=1, epochs=10, **size) == ("numpy", "")  # short
    monkeypatch.setattr(cache, "is_warm", lambda kernel: True)
    assert compiled.resolve("auto", members=100, epochs=1000, **size) == ("compiled", "")
    monkeypatch.setattr(cache, "is_warm", lambda kernel: False)
    monkeypatch.setattr(cache, "warm_in_background", lambda: False)
    engine, why = compiled.resolve("auto", members=100, epochs=1000, **size)
    assert (engine, why) == ("numpy", "the compiled engine is not compiled yet.")


def test_resolve_falls_back_for_what_the_kernels_do_not_cover(monkeypatch):
    from descentlab.optimizers import chain, gd
    from descentlab.optimizers.base import GradientTransformation, identity

    monkeypatch.setattr(cache, "is_warm", lambda kernel: True)
    net = MLP((2, 3, 1))
    size = dict(n_params=net.n_params, m=300, batch_size=64, members=100, epochs=1000)
    assert compiled.resolve("auto", **size, net=net, optimizer=adam(0.1)) == ("compiled", "")
    custom = GradientTransformation(identity().init, lambda g, s, p=None: (g, s))  # no recipe
    engine, why = compiled.resolve("auto", **size, net=net, optimizer=chain(gd(0.1), custom))
    assert engine == "numpy" and why.startswith("the compiled engine does not support ")
    mse = MLP((2, 3, 1), loss="mse")
    engine, why = compiled.resolve("auto", **size, net=mse, optimizer=adam(0.1))
    assert (engine, why) == ("numpy", "the compiled engine does not support an MSE "
                             "(linear-output) network.")  # fmt: skip


def _refused(optimizer, reason, **kwargs):
    with pytest.raises(InvalidParameterError, match=reason):
        train(MLP((2, 3, 1)), optimizer, X_SMALL, Y2, epochs=1, engine="compiled", **kwargs)


def test_states_that_do_not_fit_the_optimizer_are_refused_by_the_compiled_engine():
    from descentlab.optimizers.base import StackedState

    theta = {"theta": np.zeros(13)}
    mismatch = "an optimizer state that does not match the optimizer"
    _refused(adam(0.1), mismatch, seed=1, opt_state=(1, 2))  # a chain of 3, a tuple of 2
    _refused(adam(0.1), mismatch, seed=1, opt_state=sgd(0.1, momentum=0.9).init(theta))
    state = adam(0.1).init(theta)
    wrong_key = (state[0], state[1]._replace(mu={"x": np.zeros(13)}), state[2])
    _refused(adam(0.1), mismatch, seed=1, opt_state=wrong_key)
    wrong_shape = (state[0], state[1]._replace(mu={"theta": np.zeros(12)}), state[2])
    _refused(adam(0.1), mismatch, seed=1, opt_state=wrong_shape)
    stacked = stack_optimizers([gd(0.1), adam(0.1)], [1, 1])
    _refused(stacked, mismatch, seed=[1, 2], opt_state=StackedState((), (1, 1)))
    _refused(
        chain(clip_by_global_norm(1.0, per_member=True), scale_by_learning_rate(0.1)),
        "clip_by_global_norm\\(per_member=True\\) on a single network",
        seed=1,
    )


def test_a_transform_the_kernels_do_not_know_is_refused_by_name():
    from descentlab.optimizers.base import with_recipe

    _refused(with_recipe(_custom(), "mystery"), "the transformation 'mystery'", seed=1)


def test_identity_passes_through_and_its_state_comes_back_as_it_was():
    from descentlab.optimizers.base import identity

    opt = chain(identity(), scale_by_learning_rate(0.1))
    a, b = both(MLP((2, 3, 1)), opt, X_SMALL, Y2, epochs=3, seed=1)
    assert_same(a, b)
    assert b.opt_state[0] == a.opt_state[0] == ()


def test_recipe_of_anything_else_is_none():
    from descentlab.optimizers.base import recipe_of

    class Odd:
        update = 5  # not weak-referenceable

    assert recipe_of(Odd()) is None and recipe_of(None) is None and recipe_of(_custom()) is None


def test_threads_follow_numba_or_its_default_without_importing_it(monkeypatch):
    import sys

    from descentlab.compiled.loop import _threads

    assert _threads(7) == 1  # below 8 members: one thread
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert _threads(16) == 3 and _threads(9) == 3
    monkeypatch.setenv("NUMBA_NUM_THREADS", "64")
    assert _threads(10) == 10  # at most one per member


def test_auto_leaves_networks_whose_products_are_blas_calls_to_numpy(monkeypatch):
    from descentlab.compiled.program import blas_bound

    assert blas_bound((40, 100, 100, 10), 100, 1)  # bench_wide's network: NumPy is faster
    assert blas_bound((40, 100, 100, 10), 100, 24)  # a population: one BLAS call per member
    assert not blas_bound((2, 5, 2, 1), 64, 1)  # the seed's: no product reaches BLAS
    assert not blas_bound((40, 100, 100, 10), 2, 1)  # batches of two: loops
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS", 0.0)
    monkeypatch.setattr(compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)
    monkeypatch.setattr(cache, "is_warm", lambda kernel: True)
    X = RNG.normal(size=(40, 100))
    y = RNG.integers(0, 10, 100)
    wide = train(MLP((40, 100, 10)), adam(0.01), X, y, epochs=1, batch_size=100, seed=0)
    assert (wide.engine, wide.engine_note) == ("numpy", "")
    size = dict(n_params=5110, m=100, batch_size=100, epochs=10**5, members=1)
    assert compiled.resolve("auto", layer_dims=(40, 100, 10), **size) == ("numpy", "")


@pytest.mark.parametrize("value", ["abc", "", "-3", "0", "1e9", "٣", "nan", "inf"])
def test_a_hostile_thread_count_in_the_environment_falls_back_to_the_cpus(monkeypatch, value):
    import os
    import sys

    from descentlab.compiled.loop import _threads

    monkeypatch.delitem(sys.modules, "numba", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", value)
    expected = int(value) if value.isascii() and value.isdigit() and int(value) >= 1 else None
    got = _threads(16)
    assert 1 <= got <= 16
    if expected is None:  # numba ignores a value it cannot read: so does the estimate
        assert got == min(16, os.cpu_count() or 1)
