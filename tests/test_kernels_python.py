"""The compiled kernels read as Python give the NumPy engine's numbers too.

numba runs the kernels as machine code, where neither coverage nor a debugger can see them.
Here the same source is loaded once more with numba's JIT off (every ``@njit`` function stays
a Python function, ``prange`` is ``range``) and put in place of the compiled module: the
compiled engine then trains through the Python reading of its own kernels, line by line, on
small problems that reach every branch (each activation and output, each transform, BLAS and
loops, one and several threads, divergence, the seed's order, the bit tricks of ``exp``).
"""

from __future__ import annotations

import importlib.util
import math
import sys

import numba
import numpy as np
import pytest

import descentlab.compiled
from descentlab.nn import ACTIVATIONS, MLP
from descentlab.optimizers import adam, chain, gd, sgd, stack_optimizers
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
from descentlab.schedules import exponential_decay
from descentlab.training import train

RNG = np.random.default_rng(7)
X = RNG.normal(size=(2, 24))
Y2 = (X[0] > 0).astype(int)
Y3 = np.digitize(X[1], [-0.5, 0.5])


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
    assert not hasattr(module.run_serial, "py_func")  # a plain function, not a dispatcher
    return module


@pytest.fixture
def as_python(python_kernels, monkeypatch):
    monkeypatch.setitem(sys.modules, "descentlab.compiled.kernels", python_kernels)
    monkeypatch.setattr(descentlab.compiled, "kernels", python_kernels, raising=False)
    return python_kernels


def _agree(*args, rtol=1e-12, **kwargs):
    a = train(*args, engine="numpy", **kwargs)
    b = train(*args, engine="compiled", **kwargs)
    assert (a.status, b.engine) == (b.status, "compiled")
    np.testing.assert_array_equal(a.diverged, b.diverged)
    np.testing.assert_array_equal(a.stopped_epoch, b.stopped_epoch)
    for key in a.params:
        x, y = a.params[key], b.params[key]
        finite = np.isfinite(x)
        np.testing.assert_array_equal(finite, np.isfinite(y))
        scale = max(float(np.abs(x[finite]).max(initial=0.0)), 1e-300)
        assert np.abs(x[finite] - y[finite]).max(initial=0.0) <= rtol * scale, key
    np.testing.assert_allclose(a.history.cost, b.history.cost, rtol=1e-12, atol=1e-300)
    return a, b


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("classes", [2, 3])
def test_every_activation_and_output_read_as_python(as_python, activation, classes):
    net = MLP((2, 5, 3, 1 if classes == 2 else 3), activation=activation)
    _agree(net, adam(0.05), X, Y2 if classes == 2 else Y3, epochs=2, batch_size=7, seed=1)


TRANSFORMS = [
    sgd(exponential_decay(0.1, 0.9), momentum=0.9, nesterov=True, weight_decay=0.01),
    chain(trace(0.5, dampening=0.2), scale_by_learning_rate(0.1)),
    chain(trace(0.0), scale_by_learning_rate(0.1)),
    chain(ema(0.5), scale_by_adagrad(0.1), scale_by_learning_rate(0.1)),
    chain(scale_by_rms(0.9, centered=True), scale_by_learning_rate(0.01)),
    chain(scale_by_rms(0.9, debias=True), scale_by_learning_rate(0.01)),
    chain(
        clip_by_global_norm(0.1),
        scale_by_adam(eps_root=1e-10, amsgrad=True),
        add_decayed_weights(0.1),
        scale_by_learning_rate(0.05),
    ),
]


@pytest.mark.parametrize("optimizer", TRANSFORMS)
def test_every_transform_read_as_python(as_python, optimizer):
    _agree(MLP((2, 4, 1)), optimizer, X, Y2, epochs=2, batch_size=10, seed=2, shuffle="seed")


def test_threads_divergence_and_per_member_clipping_read_as_python(as_python):
    opt = stack_optimizers(
        [gd(np.array([0.1, 1e4, 0.2, 0.3])),
         chain(clip_by_global_norm(np.array([0.1, 1.0, 2.0, 3.0, 4.0]), per_member=True),
               scale_by_learning_rate(0.1))],
        [4, 5],
    )  # fmt: skip
    a, _ = _agree(MLP((2, 3, 1)), opt, X, Y2, epochs=3, batch_size=8, seed=list(range(9)),
                  shuffle="random", data_seed=[1, 2] * 4 + [3])  # fmt: skip
    assert a.diverged.tolist() == [False, True] + [False] * 7


def test_every_member_diverging_read_as_python(as_python):
    a, _ = _agree(MLP((2, 3, 1)), gd(np.array([5e3, 1e4])), X, Y2, epochs=30, seed=[1, 2])
    assert a.status == "diverged"


def test_wide_layers_through_blas_read_as_python(as_python):
    Xw = RNG.normal(size=(40, 100))
    yw = RNG.integers(0, 10, 100)
    _agree(MLP((40, 30, 10)), adam(0.01), Xw, yw, epochs=1, batch_size=100, seed=0)


def test_seed_orders_read_as_python(as_python):
    from descentlab.batching import seed_order

    drawn = as_python.seed_orders(np.asarray([10, 2**32 - 2]), 0, 2, 50)
    for e in range(2):
        np.testing.assert_array_equal(drawn[e, 0], seed_order(50, 10 + e + 1))
        np.testing.assert_array_equal(drawn[e, 1], seed_order(50, (2**32 - 2 + e + 1) % 2**32))


def test_exp_and_log1p_in_plain_arithmetic_are_within_two_ulps(python_kernels):
    k = python_kernels
    z = np.concatenate([
        RNG.uniform(-750, 750, 4000), RNG.uniform(-5, 5, 4000), [0.0, -0.0, 1e-300, 708.0,
        709.0, 745.0, 746.0, 800.0, np.inf, -np.inf, np.nan]
    ])  # fmt: skip
    e = np.empty_like(z)
    ibuf = np.zeros(z.size, np.int64)
    k._exp_neg_abs(z, 0, e, 0, z.size, ibuf, ibuf.view(np.float64))
    expected = np.array([math.exp(-abs(v)) if not math.isnan(v) else math.nan for v in z])
    np.testing.assert_array_equal(np.isnan(e), np.isnan(expected))
    ok = ~np.isnan(expected)
    assert np.all(np.abs(e[ok] - expected[ok]) <= 2 * np.spacing(expected[ok]) + 5e-324)
    units = np.concatenate([RNG.uniform(0, 1, 4000), [0.0, 1e-300, 1e-17, 0.5, 1.0]])
    got = np.array([k._log1p_unit(u) for u in units])
    want = np.log1p(units)
    assert np.all(np.abs(got - want) <= 2 * np.spacing(np.maximum(want, 1e-300)))
    assert math.isnan(k._log1p_unit(math.nan))


UPDATES = {
    "rms centered debias": chain(scale_by_rms(0.9, centered=True, debias=True), scale_by_learning_rate(0.1)),
    "amsgrad": chain(scale_by_adam(amsgrad=True), scale_by_learning_rate(0.1)),
    "amsgrad eps_root": chain(scale_by_adam(eps_root=1e-9, amsgrad=True), scale_by_learning_rate(0.1)),
    "eps_root": chain(scale_by_adam(eps_root=1e-9), scale_by_learning_rate(0.1)),
    "clip": chain(clip_by_global_norm(0.5), scale_by_learning_rate(0.1)),
    "clip wide": chain(clip_by_global_norm(100.0), scale_by_learning_rate(0.1)),
    "sgd": sgd(0.1, momentum=0.9, dampening=0.5, weight_decay=0.1),
}  # fmt: skip


@pytest.mark.parametrize("name", UPDATES)
def test_one_update_at_a_time_equals_the_transform(python_kernels, name):
    """The program's ops applied by ``_update`` equal the NumPy transforms on the same
    gradients, step after step (NaN and inf moments included)."""
    from descentlab.compiled.program import build_program

    opt = UPDATES[name]
    theta = RNG.normal(size=(1, 6))
    program = build_program(opt, opt.init({"theta": theta[0]}), None, 6)
    state, mine = opt.init({"theta": theta[0]}), theta.copy()
    grads = [RNG.normal(size=6) for _ in range(4)] + [np.array([np.nan, 1, 2, np.inf, 0, 1.0])]
    grads.append(RNG.normal(size=6))  # after NaN moments
    for step, g in enumerate(grads):
        with np.errstate(all="ignore"):  # NaN and inf on purpose, as train() allows
            u, state = opt.update({"theta": g.copy()}, state, {"theta": mine[0].copy()})
        expected = mine[0] + u["theta"]
        work = g.copy()
        rates = program.rates(step + 1)
        with np.errstate(all="ignore"):
            python_kernels._update(0, step, mine, work, program.state, program.counts,
                                   program.ops, program.n_ops, program.hp, rates)  # fmt: skip
        np.testing.assert_array_equal(np.isnan(mine[0]), np.isnan(expected))
        np.testing.assert_allclose(mine[0], expected, rtol=1e-15, atol=0, equal_nan=True)


def test_every_member_of_a_threaded_population_diverging(as_python):
    a, _ = _agree(MLP((2, 3, 1)), gd(np.full(8, 1e4)), X, Y2, epochs=30, seed=list(range(8)))
    assert a.status == "diverged"


def test_two_wide_hidden_layers_back_through_blas(as_python):
    Xw = RNG.normal(size=(40, 100))
    yw = RNG.integers(0, 10, 100)
    _agree(MLP((40, 30, 30, 10)), adam(0.01), Xw, yw, epochs=1, batch_size=100, seed=0)
