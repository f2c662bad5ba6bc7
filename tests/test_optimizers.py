"""Named optimizers and transforms: the seed's expected outputs, one step against hand-written
NumPy, equivalences, convergence, errors, and the population axis (K members = K runs)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab import schedules
from descentlab._validation import UNIT_OPEN, DataError, InvalidParameterError
from descentlab.experiments.specs import build_optimizer
from descentlab.optimizers import (
    HYPERPARAMETER_RULES,
    OPTIMIZERS,
    EmaState,
    EmptyState,
    GradientTransformation,
    ScaleByAdagradState,
    ScaleByAdamState,
    ScaleByLearningRateState,
    ScaleByRmsState,
    TraceState,
    adagrad,
    adam,
    adamw,
    add_decayed_weights,
    applied_learning_rate,
    apply_updates,
    bias_correction,
    chain,
    clip_by_global_norm,
    ema,
    gd,
    get_optimizer,
    hyperparameter_rules,
    momentum,
    nesterov,
    rmsprop,
    safe_increment,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    sgd,
    trace,
    update_moment,
)

# ----------------------------------------------------------------------------- helpers


def run(opt, grad_fn, params, n_steps):
    """Run ``n_steps`` of ``opt`` with gradients ``grad_fn(params)``; return the params."""
    state = opt.init(params)
    for _ in range(n_steps):
        updates, state = opt.update(grad_fn(params), state, params)
        params = apply_updates(params, updates)
    return params


def run_stream(opt, params, grads_list):
    """Apply ``opt`` to a fixed list of gradient dicts; return the params after each step."""
    state = opt.init(params)
    out = []
    for grads in grads_list:
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        out.append(params)
    return out


def assert_printed(actual: np.ndarray, printed: str) -> None:
    """``actual`` shows as ``printed`` (NumPy's print): every digit, to half a unit of the last."""
    tokens = re.findall(r"-?\d+\.\d*(?:e[+-]\d+)?", printed)
    expected = np.array([float(t) for t in tokens]).reshape(actual.shape)
    decimals = max(len(t.split("e")[0].split(".")[1]) for t in tokens)
    exponents = np.array([int(t.split("e")[1]) if "e" in t else 0 for t in tokens])
    tolerance = 0.5 * 10.0 ** (exponents.reshape(actual.shape) - decimals) * (1 + 1e-9)
    assert np.all(np.abs(actual - expected) <= tolerance), (actual, expected)


def seed_case():
    """The seed's test case: np.random.seed(1), then W1, b1, W2, b2, dW1, db1, dW2, db2."""
    np.random.seed(1)
    W1, b1 = np.random.randn(2, 3), np.random.randn(2, 1)
    W2, b2 = np.random.randn(3, 3), np.random.randn(3, 1)
    dW1, db1 = np.random.randn(2, 3), np.random.randn(2, 1)
    dW2, db2 = np.random.randn(3, 3), np.random.randn(3, 1)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# ----------------------------------------------------------------------------- the seed's numbers

SEED_GD = {
    "W1": "[[ 1.63535156 -0.62320365 -0.53718766] [-1.07799357  0.85639907 -2.29470142]]",
    "b1": "[[ 1.74604067] [-0.75184921]]",
    "W2": "[[ 0.32171798 -0.25467393  1.46902454] [-2.05617317 -0.31554548 -0.3756023 ]"
    " [ 1.1404819  -1.09976462 -0.1612551 ]]",
    "b2": "[[-0.88020257] [ 0.02561572] [ 0.57539477]]",
}
SEED_MOMENTUM = {
    "W1": "[[ 1.62544598 -0.61290114 -0.52907334] [-1.07347112  0.86450677 -2.30085497]]",
    "b1": "[[ 1.74493465] [-0.76027113]]",
    "W2": "[[ 0.31930698 -0.24990073  1.4627996 ] [-2.05974396 -0.32173003 -0.38320915]"
    " [ 1.13444069 -1.0998786  -0.1713109 ]]",
    "b2": "[[-0.87809283] [ 0.04055394] [ 0.58207317]]",
}
SEED_VELOCITY = {
    "W1": "[[-0.11006192  0.11447237  0.09015907] [ 0.05024943  0.09008559 -0.06837279]]",
    "b1": "[[-0.01228902] [-0.09357694]]",
    "W2": "[[-0.02678881  0.05303555 -0.06916608] [-0.03967535 -0.06871727 -0.08452056]"
    " [-0.06712461 -0.00126646 -0.11173103]]",
    "b2": "[[ 0.02344157] [ 0.16598022] [ 0.07420442]]",
}
SEED_ADAM = {
    "W1": "[[ 1.63178673 -0.61919778 -0.53561312] [-1.08040999  0.85796626 -2.29409733]]",
    "b1": "[[ 1.75225313] [-0.75376553]]",
    "W2": "[[ 0.32648046 -0.25681174  1.46954931] [-2.05269934 -0.31497584 -0.37661299]"
    " [ 1.14121081 -1.09245036 -0.16498684]]",
    "b2": "[[-0.88529978] [ 0.03477238] [ 0.57537385]]",
}
SEED_ADAM_S = {
    "W1": "[[ 0.00121136  0.00131039  0.00081287] [ 0.0002525   0.00081154  0.00046748]]",
    "b1": "[[ 1.51020075e-05] [ 8.75664434e-04]]",
    "W2": "[[ 7.17640232e-05  2.81276921e-04  4.78394595e-04]"
    " [ 1.57413361e-04  4.72206320e-04  7.14372576e-04]"
    " [ 4.50571368e-04  1.60392066e-07  1.24838242e-03]]",
    "b2": "[[ 5.49507194e-05] [ 2.75494327e-03] [ 5.50629536e-04]]",
}


def test_gd_reproduces_the_seed_expected_output():
    params, grads = seed_case()
    opt = gd(0.01)
    updates, _ = opt.update(grads, opt.init(params), params)
    new = apply_updates(params, updates)
    for key, printed in SEED_GD.items():
        assert_printed(new[key], printed)


def test_momentum_reproduces_the_seed_expected_output():
    params, grads = seed_case()
    opt = momentum(0.01, beta=0.9)
    updates, state = opt.update(grads, opt.init(params), params)
    new = apply_updates(params, updates)
    for key in params:
        assert_printed(new[key], SEED_MOMENTUM[key])
        assert_printed(state[0].ema[key], SEED_VELOCITY[key])


def test_adam_reproduces_the_seed_expected_output_at_t_2():
    # The seed calls its update with t = 2 on zero moments: our count (steps done) is 1.
    params, grads = seed_case()
    opt = adam(0.01, eps=0.0, eps_root=1e-8)
    wd_state, adam_state, lr_state = opt.init(params)
    state = (wd_state, adam_state._replace(count=1), lr_state)
    updates, state = opt.update(grads, state, params)
    new = apply_updates(params, updates)
    for key in params:
        assert_printed(new[key], SEED_ADAM[key])
        assert_printed(state[1].mu[key], SEED_VELOCITY[key])  # v equals momentum's velocity
        assert_printed(state[1].nu[key], SEED_ADAM_S[key])
    assert state[1].count == 2


# ----------------------------------------------------------------------------- one step by hand

RNG = np.random.default_rng(42)
G = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal((3, 1))}
P = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal((3, 1))}
M = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal((3, 1))}  # a first moment
S = {k: RNG.random(v.shape) for k, v in G.items()}  # a second moment (>= 0)
S_MAX = {k: v + RNG.random(v.shape) * (RNG.random(v.shape) < 0.5) for k, v in S.items()}


def one_step(transform, state, params=P):
    updates, new_state = transform.update(G, state, params)
    return updates, new_state


def assert_tree(actual, expected, rtol=1e-14):
    assert actual.keys() == expected.keys()
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], rtol=rtol, atol=0)


@pytest.mark.parametrize("nesterov_", [False, True])
def test_trace_one_step_from_a_nontrivial_state(nesterov_):
    tau = 0.0 if nesterov_ else 0.25
    updates, state = one_step(
        trace(0.9, dampening=tau, nesterov=nesterov_), TraceState(count=3, trace=M)
    )
    b = {k: 0.9 * M[k] + (1 - tau) * G[k] for k in G}
    assert_tree(state.trace, b)
    assert_tree(updates, {k: G[k] + 0.9 * b[k] for k in G} if nesterov_ else b)
    assert state.count == 4


def test_trace_first_step_takes_the_gradient_as_the_buffer():
    updates, state = one_step(trace(0.9, dampening=0.5), TraceState(count=0, trace=M))
    assert_tree(state.trace, G)
    assert_tree(updates, G)


def test_ema_one_step_from_a_nontrivial_state():
    updates, state = one_step(ema(0.8), EmaState(count=7, ema=M))
    v = {k: 0.8 * M[k] + (1 - 0.8) * G[k] for k in G}
    assert_tree(updates, v)
    assert_tree(state.ema, v)
    assert state.count == 8


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("debias", [False, True])
def test_scale_by_rms_one_step_from_a_nontrivial_state(centered, debias):
    state = ScaleByRmsState(count=3, nu=S, mu=M if centered else None)
    updates, new = one_step(scale_by_rms(0.9, 1e-3, centered=centered, debias=debias), state)
    nu = {k: 0.9 * S[k] + (1 - 0.9) * G[k] ** 2 for k in G}
    mu = {k: 0.9 * M[k] + (1 - 0.9) * G[k] for k in G}
    c = 1 - 0.9**4 if debias else 1.0  # t = count + 1 = 4
    if centered:
        denom = {k: np.sqrt(np.maximum(nu[k] / c - (mu[k] / c) ** 2, 0)) + 1e-3 for k in G}
    else:
        denom = {k: np.sqrt(nu[k] / c) + 1e-3 for k in G}
    assert_tree(updates, {k: G[k] / denom[k] for k in G}, rtol=1e-13)
    assert_tree(new.nu, nu)
    if centered:
        assert_tree(new.mu, mu)
    else:
        assert new.mu is None


def test_scale_by_adagrad_one_step_from_a_nontrivial_state():
    updates, state = one_step(
        scale_by_adagrad(0.1, eps=1e-3), ScaleByAdagradState(count=5, sum_of_squares=S)
    )
    acc = {k: S[k] + G[k] ** 2 for k in G}
    assert_tree(state.sum_of_squares, acc)
    assert_tree(updates, {k: G[k] / (np.sqrt(acc[k]) + 1e-3) for k in G})


def test_scale_by_adagrad_starts_from_the_initial_accumulator_value():
    state = scale_by_adagrad(0.25).init(P)
    assert_tree(state.sum_of_squares, {k: np.full(v.shape, 0.25) for k, v in P.items()})


@pytest.mark.parametrize("amsgrad", [False, True])
def test_scale_by_adam_one_step_from_a_nontrivial_state(amsgrad):
    state = ScaleByAdamState(count=4, mu=M, nu=S, nu_max=S_MAX if amsgrad else None)
    transform = scale_by_adam(0.8, 0.99, eps=1e-3, eps_root=1e-4, amsgrad=amsgrad)
    updates, new = one_step(transform, state)
    m = {k: 0.8 * M[k] + (1 - 0.8) * G[k] for k in G}
    s = {k: 0.99 * S[k] + (1 - 0.99) * G[k] ** 2 for k in G}
    s_used = {k: np.maximum(S_MAX[k], s[k]) for k in G} if amsgrad else s
    t = 5
    expected = {
        k: (m[k] / (1 - 0.8**t)) / (np.sqrt(s_used[k] / (1 - 0.99**t) + 1e-4) + 1e-3) for k in G
    }
    assert_tree(updates, expected, rtol=1e-13)
    assert_tree(new.mu, m)
    assert_tree(new.nu, s)
    if amsgrad:
        assert_tree(new.nu_max, s_used)
    assert new.count == 5


def test_add_decayed_weights_one_step():
    updates, _ = one_step(add_decayed_weights(0.1), add_decayed_weights(0.1).init(P))
    assert_tree(updates, {k: G[k] + 0.1 * P[k] for k in G})


def test_add_decayed_weights_needs_params_unless_zero():
    with pytest.raises(DataError, match="needs the current params"):
        add_decayed_weights(0.1).update(G, (), None)
    assert add_decayed_weights(0.0).update(G, (), None)[0] is G


def test_scale_by_learning_rate_number_array_and_schedule():
    updates, state = scale_by_learning_rate(0.3).update(G, ScaleByLearningRateState(2, 0.3))
    assert_tree(updates, {k: -0.3 * v for k, v in G.items()})
    assert state == (3, 0.3)

    lr = np.array([0.1, 0.2, 0.3])  # the (3, ...) leaves read as a population of 3
    updates, state = scale_by_learning_rate(lr).update(G, ScaleByLearningRateState(0, lr))
    assert_tree(updates, {k: -lr.reshape(3, 1) * v for k, v in G.items()})
    np.testing.assert_array_equal(state.learning_rate, lr)

    # The state keeps the rate the last update applied (at init: the first update's rate).
    schedule = schedules.exponential_decay(0.5, gamma=0.5)
    assert scale_by_learning_rate(schedule).init(G) == (0, 0.5)
    updates, state = scale_by_learning_rate(schedule).update(G, ScaleByLearningRateState(4, 0.0))
    assert_tree(updates, {k: -(0.5 * 0.5**4) * v for k, v in G.items()})
    assert state == (5, 0.5 * 0.5**4)
    assert applied_learning_rate((EmptyState(), state)) == 0.5 * 0.5**4
    assert np.isnan(applied_learning_rate(trace(0.9).init(G)))  # no learning rate in it


def test_clip_by_global_norm_one_step():
    norm = np.sqrt(sum(np.sum(g**2) for g in G.values()))
    updates, _ = clip_by_global_norm(norm / 4).update(G, ())
    assert_tree(updates, {k: g / 4 for k, g in G.items()})
    updates, _ = clip_by_global_norm(norm * 2).update(G, ())
    assert updates is G  # below the threshold: untouched


def test_shared_math_helpers():
    g, m = np.array([2.0, -1.0]), np.array([1.0, 1.0])
    np.testing.assert_allclose(update_moment(g, m, 0.9, 1), 0.9 * m + (1 - 0.9) * g)
    np.testing.assert_allclose(update_moment(g, m, 0.9, 2), 0.9 * m + (1 - 0.9) * g**2)
    assert bias_correction(0.19, 0.9, 2) == pytest.approx(1.0, rel=1e-15)
    assert safe_increment(3) == 4
    top = int(np.iinfo(np.int64).max)
    assert safe_increment(top) == top


# ----------------------------------------------------------------------------- equivalences

STREAM_RNG = np.random.default_rng(7)
PARAMS = {"W1": STREAM_RNG.standard_normal((4, 3)), "b1": STREAM_RNG.standard_normal((4, 1))}
STREAM = [{k: STREAM_RNG.standard_normal(v.shape) for k, v in PARAMS.items()} for _ in range(30)]


def assert_same_path(opt_a, opt_b, rtol=0.0):
    for a, b in zip(
        run_stream(opt_a, PARAMS, STREAM), run_stream(opt_b, PARAMS, STREAM), strict=True
    ):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=0)


def test_rms_scaling_with_bias_correction_equals_adam_with_b1_zero():
    from descentlab.optimizers import chain

    rms = chain(scale_by_rms(0.95, 1e-6, debias=True), scale_by_learning_rate(0.01))
    assert_same_path(rms, adam(0.01, b1=0.0, b2=0.95, eps=1e-6), rtol=1e-13)


def test_adamw_with_zero_weight_decay_equals_adam():
    assert_same_path(adamw(0.01, weight_decay=0.0), adam(0.01))
    assert_same_path(adamw(0.01, weight_decay=0.0, amsgrad=True), adam(0.01, amsgrad=True))


def test_momentum_with_beta_zero_equals_gd():
    assert_same_path(momentum(0.05, beta=0.0), gd(0.05))


def test_sgd_without_momentum_equals_gd_and_ignores_dampening():
    assert_same_path(sgd(0.05), gd(0.05))
    assert_same_path(sgd(0.05, dampening=0.7), gd(0.05))


def test_nesterov_equals_sgd_with_nesterov():
    assert_same_path(nesterov(0.05, 0.8), sgd(0.05, momentum=0.8, nesterov=True))


def test_one_flat_leaf_equals_the_dict_of_leaves():
    # The engine hands the optimizer one flat (K, P) buffer; every transform is elementwise.
    flat = {"theta": np.concatenate([v.ravel() for v in PARAMS.values()])}
    flat_stream = [{"theta": np.concatenate([g[k].ravel() for k in PARAMS])} for g in STREAM]
    for name in OPTIMIZERS:
        kw = {"momentum": 0.9} if name == "sgd" else {}
        by_leaf = run_stream(get_optimizer(name, learning_rate=0.01, **kw), PARAMS, STREAM)[-1]
        by_flat = run_stream(get_optimizer(name, learning_rate=0.01, **kw), flat, flat_stream)[-1]
        np.testing.assert_array_equal(
            by_flat["theta"], np.concatenate([by_leaf[k].ravel() for k in PARAMS])
        )


# ----------------------------------------------------------------------------- convergence

CURVATURE = np.array([1.0, 10.0])

# (optimizer, steps): each drives f(x) = 0.5 * sum(a * x**2), a = (1, 10), from (1, -2) to
# within 1e-6 of the minimum at 0.
PARABOLA_CASES = [
    (gd(0.1), 200),
    (momentum(0.05, 0.9), 300),
    (sgd(0.05, momentum=0.9), 300),
    (nesterov(0.05, 0.9), 200),
    (rmsprop(0.01), 500),
    (adagrad(0.5), 300),
    (adam(0.1), 500),
    (adamw(0.1, weight_decay=0.01), 500),
]


@pytest.mark.parametrize(("opt", "steps"), PARABOLA_CASES)
def test_converges_on_a_parabola(opt, steps):
    x = run(opt, lambda p: {"x": CURVATURE * p["x"]}, {"x": np.array([1.0, -2.0])}, steps)["x"]
    assert np.max(np.abs(x)) < 1e-6


def rosenbrock_grad(p):
    x, y = p["x"]
    return {"x": np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])}


# (optimizer, steps, tolerance): from (-1.2, 1) to within `tolerance` of the minimum (1, 1).
ROSENBROCK_CASES = [
    (adam(0.02), 5000, 1e-6),
    (nesterov(5e-4, 0.9), 5000, 1e-4),
    (rmsprop(1e-3, momentum=0.9), 5000, 1e-3),
]


@pytest.mark.parametrize(("opt", "steps", "tol"), ROSENBROCK_CASES)
def test_converges_on_rosenbrock(opt, steps, tol):
    x = run(opt, rosenbrock_grad, {"x": np.array([-1.2, 1.0])}, steps)["x"]
    assert np.max(np.abs(x - 1.0)) < tol


# ----------------------------------------------------------------------------- errors

# (factory, kwargs, the argument the message must name)
INVALID = [
    (gd, {"learning_rate": 0.0}, "learning_rate"),
    (gd, {"learning_rate": -0.1}, "learning_rate"),
    (gd, {"learning_rate": np.nan}, "learning_rate"),
    (gd, {"learning_rate": "0.1"}, "learning_rate"),
    (gd, {"learning_rate": np.array([0.1, -0.1])}, "learning_rate"),
    (momentum, {"learning_rate": 0.1, "beta": 1.0}, "beta"),
    (momentum, {"learning_rate": 0.1, "beta": -0.1}, "beta"),
    (sgd, {"learning_rate": -1.0}, "learning_rate"),
    (sgd, {"learning_rate": 0.1, "momentum": 1.0}, "momentum"),
    (sgd, {"learning_rate": 0.1, "momentum": -0.5}, "momentum"),
    (sgd, {"learning_rate": 0.1, "dampening": 1.5}, "dampening"),
    (sgd, {"learning_rate": 0.1, "dampening": -0.1}, "dampening"),
    (sgd, {"learning_rate": 0.1, "weight_decay": -1e-4}, "weight_decay"),
    (sgd, {"learning_rate": 0.1, "nesterov": "yes"}, "nesterov"),
    (sgd, {"learning_rate": 0.1, "nesterov": True}, "momentum"),
    (sgd, {"learning_rate": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "dampening"),
    (nesterov, {"learning_rate": 0.0}, "learning_rate"),
    (nesterov, {"learning_rate": 0.1, "momentum": 0.0}, "momentum"),
    (nesterov, {"learning_rate": 0.1, "momentum": 1.0}, "momentum"),
    (rmsprop, {"learning_rate": 0.0}, "learning_rate"),
    (rmsprop, {"learning_rate": 0.1, "decay": 1.0}, "decay"),
    (rmsprop, {"learning_rate": 0.1, "decay": -0.1}, "decay"),
    (rmsprop, {"learning_rate": 0.1, "eps": -1e-8}, "eps"),
    (rmsprop, {"learning_rate": 0.1, "momentum": 1.0}, "momentum"),
    (rmsprop, {"learning_rate": 0.1, "centered": 1}, "centered"),
    (rmsprop, {"learning_rate": 0.1, "weight_decay": -1.0}, "weight_decay"),
    (adagrad, {"learning_rate": -0.1}, "learning_rate"),
    (adagrad, {"learning_rate": 0.1, "eps": -1.0}, "eps"),
    (
        adagrad,
        {"learning_rate": 0.1, "initial_accumulator_value": -0.1},
        "initial_accumulator_value",
    ),
    (adagrad, {"learning_rate": 0.1, "weight_decay": -0.1}, "weight_decay"),
    (adam, {"learning_rate": 0.0}, "learning_rate"),
    (adam, {"learning_rate": 0.1, "b1": 1.0}, "b1"),
    (adam, {"learning_rate": 0.1, "b1": -0.1}, "b1"),
    (adam, {"learning_rate": 0.1, "b2": 1.0}, "b2"),
    (adam, {"learning_rate": 0.1, "b2": 2.0}, "b2"),
    (adam, {"learning_rate": 0.1, "eps": -1e-8}, "eps"),
    (adam, {"learning_rate": 0.1, "eps_root": -1e-8}, "eps_root"),
    (adam, {"learning_rate": 0.1, "amsgrad": "no"}, "amsgrad"),
    (adam, {"learning_rate": 0.1, "weight_decay": -0.01}, "weight_decay"),
    (adam, {"learning_rate": 0.1, "b1": np.array([0.9, 1.2])}, "b1"),
    (adam, {"learning_rate": 0.1, "b1": np.full((2, 2), 0.5)}, "b1"),
    (adamw, {"learning_rate": -0.1}, "learning_rate"),
    (adamw, {"learning_rate": 0.1, "b1": 1.0}, "b1"),
    (adamw, {"learning_rate": 0.1, "b2": -0.5}, "b2"),
    (adamw, {"learning_rate": 0.1, "eps": -1.0}, "eps"),
    (adamw, {"learning_rate": 0.1, "weight_decay": -0.01}, "weight_decay"),
    (adamw, {"learning_rate": 0.1, "amsgrad": None}, "amsgrad"),
]


@pytest.mark.parametrize(
    ("factory", "kw", "arg"),
    INVALID,
    ids=[f"{f.__name__}-{a}-{i}" for i, (f, _, a) in enumerate(INVALID)],
)
def test_invalid_hyperparameter_names_the_argument_and_the_optimizer(factory, kw, arg):
    with pytest.raises(InvalidParameterError) as info:
        factory(**kw)
    message = str(info.value)
    assert f"'{arg}'" in message
    assert factory.__name__ in message


def test_error_message_shape():
    with pytest.raises(InvalidParameterError) as info:
        adam(0.1, b1=1.5)
    assert str(info.value) == (
        "The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead."
    )


INVALID_TRANSFORMS = [
    (lambda: scale_by_adam(b1=1.0), "scale_by_adam", "b1"),
    (lambda: scale_by_rms(decay=1.0), "scale_by_rms", "decay"),
    (lambda: scale_by_rms(debias="yes"), "scale_by_rms", "debias"),
    (lambda: scale_by_adagrad(eps=-1.0), "scale_by_adagrad", "eps"),
    (lambda: trace(0.0, nesterov=True), "trace", "momentum"),
    (lambda: ema(1.0), "ema", "decay"),
    (lambda: add_decayed_weights(-1.0), "add_decayed_weights", "weight_decay"),
    (lambda: scale_by_learning_rate(0.0), "scale_by_learning_rate", "learning_rate"),
    (lambda: clip_by_global_norm(0.0), "clip_by_global_norm", "max_norm"),
    (lambda: clip_by_global_norm(np.array([1.0, 2.0])), "clip_by_global_norm", "max_norm"),
    (lambda: scale_by_adam(b1=np.full(2, 0.9), b2=np.full(3, 0.99)), "scale_by_adam", "b2"),
]


@pytest.mark.parametrize(("make", "owner", "arg"), INVALID_TRANSFORMS)
def test_invalid_transform_settings(make, owner, arg):
    with pytest.raises(InvalidParameterError) as info:
        make()
    assert owner in str(info.value) and f"'{arg}'" in str(info.value)


def test_get_optimizer_registry():
    assert set(OPTIMIZERS) == {
        "gd", "momentum", "sgd", "nesterov", "rmsprop", "adagrad", "adam", "adamw",
    }  # fmt: skip
    assert_same_path(get_optimizer("adam", learning_rate=0.01, b1=0.8), adam(0.01, b1=0.8))
    with pytest.raises(InvalidParameterError, match=r"Unknown optimizer 'adamax'.*gd, momentum"):
        get_optimizer("adamax", learning_rate=0.1)
    with pytest.raises(InvalidParameterError) as info:
        get_optimizer("sgd", learning_rate=0.1, beta1=0.9)
    assert "'beta1'" in str(info.value)
    assert "learning_rate, momentum, dampening, nesterov, weight_decay" in str(info.value)
    with pytest.raises(InvalidParameterError, match="needs 'learning_rate'"):
        get_optimizer("adam")


def test_grads_that_do_not_match_params_raise_data_error():
    opt = adam(0.1)
    state = opt.init(PARAMS)
    with pytest.raises(DataError, match="missing \\['b1'\\]"):
        opt.update({"W1": PARAMS["W1"]}, state, PARAMS)
    bad = {"W1": PARAMS["W1"], "b1": np.zeros((1, 4))}
    with pytest.raises(DataError, match=r"grads\['b1'\] has shape \(1, 4\)"):
        opt.update(bad, state, PARAMS)
    with pytest.raises(DataError, match=r"grads\['b1'\] has shape \(1, 4\)"):
        opt.update(bad, state)  # without params: checked against the moments in the state
    for name in ("momentum", "sgd", "rmsprop", "adagrad"):
        opt = get_optimizer(name, learning_rate=0.1, **({"momentum": 0.9} if name == "sgd" else {}))
        with pytest.raises(DataError):
            opt.update({"W1": PARAMS["W1"]}, opt.init(PARAMS))


def test_schedule_returning_a_bad_rate_raises_naming_the_schedule_and_the_step():
    def flaky(step):
        return 0.1 if step < 3 else float("nan")

    opt = adam(flaky)
    state = opt.init(PARAMS)
    for _ in range(3):
        _, state = opt.update(STREAM[0], state, PARAMS)
    with pytest.raises(InvalidParameterError, match=r"schedule .*flaky returned nan at step 3"):
        opt.update(STREAM[0], state, PARAMS)
    with pytest.raises(InvalidParameterError, match=r"returned -0.5 at step 0"):
        gd(lambda step: -0.5).update(STREAM[0], gd(0.1).init(PARAMS), PARAMS)


def test_per_member_hyperparameters_need_a_matching_population_axis():
    with pytest.raises(DataError, match="leading population axis of size 3"):
        adam(0.1, b1=np.array([0.9, 0.8, 0.7])).init({"W": np.zeros((2, 5))})


# ----------------------------------------------------------------------------- hostile input

BAD_RATES = [np.inf, -np.inf, np.nan, 1e308, 10_000.5, np.array([0.1, np.inf])]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("rate", BAD_RATES, ids=repr)
def test_every_optimizer_refuses_a_learning_rate_that_is_not_finite_or_too_large(name, rate):
    with pytest.raises(InvalidParameterError, match=rf"'learning_rate' parameter of {name} must"):
        get_optimizer(name, learning_rate=rate)
    with pytest.raises(InvalidParameterError, match="of scale_by_learning_rate must be"):
        scale_by_learning_rate(rate)
    get_optimizer(name, learning_rate=10_000.0)  # the cap itself is allowed


@pytest.mark.parametrize(
    "returned",
    [1e308, np.inf, "0.1", None, [0.1, "x"], np.array([[0.1]]), np.array([]), True],
    ids=repr,
)
def test_a_schedule_returning_a_rate_out_of_range_or_not_a_number_raises(returned):
    opt = gd(lambda step: returned)
    with pytest.raises(InvalidParameterError, match=r"returned .* at step 0; a learning rate must"):
        opt.init(PARAMS)


def test_a_rate_too_large_for_a_float_in_a_list_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match=r"'b1' parameter of adam must be a float"):
        adam(0.1, b1=[0.5, 10**400])
    with pytest.raises(InvalidParameterError, match=r"'amsgrad' parameter of adam must be one of"):
        adam(0.1, amsgrad=np.array([True, False]))


def test_chain_refuses_what_is_not_a_transformation():
    for bad in (1, None, "adam", (gd(0.1),), adam):
        with pytest.raises(InvalidParameterError, match="must be a GradientTransformation"):
            chain(gd(0.1), bad)


def test_per_member_hyperparameters_of_one_optimizer_share_one_k():
    # Refused when the optimizer is built, naming it, not later as a shape error at init.
    with pytest.raises(InvalidParameterError, match=r"adam .* 'learning_rate' has 2, 'b1' has 3"):
        adam(np.array([0.1, 0.2]), b1=np.array([0.9, 0.8, 0.7]))


def hostile_values():
    """Values of the wrong type or out of every range, as a careless or hostile caller gives."""
    huge = st.integers(min_value=2**1024, max_value=2**1100)
    number = st.floats(allow_nan=True, allow_infinity=True) | huge | st.integers(-5, 5)
    return st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=4),
        st.binary(max_size=2),
        number,
        huge.map(lambda n: -n),
        st.complex_numbers(max_magnitude=2.0),
        st.lists(number | st.none() | st.text(max_size=2), max_size=3),
        st.lists(st.lists(st.floats(0.0, 0.5), max_size=3), max_size=3),  # nested, ragged
        st.dictionaries(st.text(max_size=2), st.floats(0.0, 0.5), max_size=2),
        st.sampled_from([np.array([]), np.array(["a"]), np.array([1 + 1j]), np.array([True]),
                         np.zeros((2, 2)), np.array(0.5), np.float64(np.nan), object(), {0.5}]),
    )  # fmt: skip


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hostile_hyperparameters_raise_invalid_parameter_error_or_build(name, data):
    factory = OPTIMIZERS[name]
    argument = data.draw(st.sampled_from(list(inspect.signature(factory).parameters)))
    value = data.draw(hostile_values(), label=argument)
    settings_ = {"learning_rate": 0.1, argument: value}
    try:
        opt = factory(**settings_)
    except InvalidParameterError as err:
        assert f"'{argument}'" in str(err) or "nesterov=True" in str(err)
        return
    # Accepted: a valid optimizer that takes finite steps from unit gradients (a list of K
    # values is per member). The parameters are 0: a huge weight decay times large weights is
    # divergence, which the training engine reports, not a bad setting.
    assert isinstance(opt, GradientTransformation)
    K = len(value) if isinstance(value, list) or np.ndim(value) == 1 else 3
    params = {"W": np.zeros((K, 2)), "b": np.zeros((K, 1))}
    updates, _ = opt.update(
        {k: np.ones_like(p) for k, p in params.items()}, opt.init(params), params
    )
    assert all(np.all(np.isfinite(u)) for u in updates.values())


def test_each_hyperparameter_is_checked_once(monkeypatch):
    from descentlab.experiments import specs
    from descentlab.optimizers import base

    seen = []

    def counting(check):
        def wrapper(owner, name, value, rule, **kw):
            seen.append(name)
            return check(owner, name, value, rule, **kw)

        return wrapper

    monkeypatch.setattr(base, "check_param", counting(base.check_param))
    monkeypatch.setattr(specs, "check_param", counting(specs.check_param))
    cases = [
        (lambda: momentum(0.1, 0.9), ["learning_rate", "beta"]),
        (lambda: adamw(0.1), ["learning_rate", "b1", "b2", "eps", "weight_decay", "amsgrad"]),
        (
            lambda: specs.build_optimizer("sgd", {"momentum": 0.9, "nesterov": True}, 0.1),
            ["learning_rate", "momentum", "dampening", "nesterov", "weight_decay"],
        ),
    ]
    for build, names in cases:
        seen.clear()
        build()
        assert sorted(seen) == sorted(names)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: build_optimizer("adam", [("b1", 0.9)], 0.1), "must be a table of settings"),
        (lambda: build_optimizer(["adam"], {}, 0.1), r"Unknown optimizer \['adam'\]"),
        (lambda: build_optimizer("adam", {5: 1}, 0.1), "Unknown hyperparameter 5 for optimizer"),
        (lambda: build_optimizer("adam", {"b1": 10**400}, 0.1), "'b1' parameter of adam"),
        (lambda: build_optimizer("Adam", {}, np.inf), "'learning_rate' parameter of adam"),
        (lambda: build_optimizer("gd", {}, "0.1"), "'learning_rate' parameter of gd"),
        (lambda: build_optimizer("gd", {}, 0.1, schedule=5), "must be a ScheduleSpec"),
    ],
)
def test_experiment_optimizers_refuse_hostile_settings_by_name(build, match):
    with pytest.raises(InvalidParameterError, match=match):
        build()


# ----------------------------------------------------------------------------- population axis

# name -> {hyperparameter: candidate values per member}, flags (shared by all members)
POPULATION_SPACE = {
    "gd": {"learning_rate": [0.01, 0.1, 0.3]},
    "momentum": {"learning_rate": [0.01, 0.1], "beta": [0.0, 0.5, 0.9]},
    "sgd": {
        "learning_rate": [0.01, 0.1],
        "momentum": [0.0, 0.5, 0.9],
        "dampening": [0.0, 0.3],
        "weight_decay": [0.0, 0.01],
    },
    "nesterov": {"learning_rate": [0.01, 0.1], "momentum": [0.5, 0.9]},
    "rmsprop": {
        "learning_rate": [0.001, 0.01],
        "decay": [0.9, 0.99],
        "eps": [1e-8, 1e-3],
        "momentum": [0.0, 0.9],
        "weight_decay": [0.0, 0.1],
    },
    "adagrad": {
        "learning_rate": [0.01, 0.1],
        "eps": [1e-10, 1e-3],
        "initial_accumulator_value": [0.0, 0.1],
        "weight_decay": [0.0, 0.1],
    },
    "adam": {
        "learning_rate": [0.001, 0.01],
        "b1": [0.0, 0.9],
        "b2": [0.9, 0.999],
        "eps": [1e-8, 1e-3],
        "eps_root": [0.0, 1e-8],
        "weight_decay": [0.0, 0.01],
    },
    "adamw": {
        "learning_rate": [0.001, 0.01],
        "b1": [0.5, 0.9],
        "b2": [0.9, 0.999],
        "weight_decay": [0.0, 0.1],
    },
}
FLAGS = {"rmsprop": ["centered"], "adam": ["amsgrad"], "adamw": ["amsgrad"]}


@pytest.mark.parametrize("name", list(POPULATION_SPACE))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_population_with_per_member_hyperparameters_equals_separate_runs(name, data):
    K = data.draw(st.integers(1, 4), label="K")
    space = POPULATION_SPACE[name]
    values = {
        h: data.draw(st.lists(st.sampled_from(c), min_size=K, max_size=K), label=h)
        for h, c in space.items()
    }
    flags = {f: data.draw(st.booleans(), label=f) for f in FLAGS.get(name, [])}
    if name == "sgd" and data.draw(st.booleans(), label="nesterov"):
        flags["nesterov"] = True
        values["momentum"] = [0.5] * K
        values["dampening"] = [0.0] * K
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    params = {"W": rng.standard_normal((K, 3, 2)), "b": rng.standard_normal((K, 3, 1))}
    stream = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]

    together = get_optimizer(name, **{h: np.array(v) for h, v in values.items()}, **flags)
    population = run_stream(together, params, stream)[-1]
    for k in range(K):
        alone = get_optimizer(name, **{h: v[k] for h, v in values.items()}, **flags)
        member = run_stream(
            alone,
            {n: p[k] for n, p in params.items()},
            [{n: g[k] for n, g in s.items()} for s in stream],
        )[-1]
        for n in params:
            np.testing.assert_allclose(population[n][k], member[n], rtol=1e-12, atol=0)


@settings(max_examples=20, deadline=None)
@given(K=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_population_with_a_per_member_schedule_equals_separate_runs(K, seed):
    rng = np.random.default_rng(seed)
    lr0, gamma = rng.uniform(0.001, 0.1, K), rng.uniform(0.5, 1.0, K)
    params = {"W": rng.standard_normal((K, 2, 2))}
    stream = [{"W": rng.standard_normal((K, 2, 2))} for _ in range(5)]
    population = run_stream(adam(schedules.exponential_decay(lr0, gamma)), params, stream)[-1]
    for k in range(K):
        member = run_stream(
            adam(schedules.exponential_decay(lr0[k], gamma[k])),
            {"W": params["W"][k]},
            [{"W": g["W"][k]} for g in stream],
        )[-1]
        np.testing.assert_allclose(population["W"][k], member["W"], rtol=1e-12, atol=0)


@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), per_member_norm=st.booleans())
def test_clip_by_global_norm_per_member_equals_clipping_each_member(K, seed, per_member_norm):
    rng = np.random.default_rng(seed)
    grads = {
        "W": rng.standard_normal((K, 3, 2)) * rng.uniform(0.1, 3.0, (K, 1, 1)),
        "b": rng.standard_normal((K, 3, 1)),
    }
    max_norm = rng.uniform(0.5, 4.0, K) if per_member_norm else 2.0
    clipped, _ = clip_by_global_norm(max_norm, per_member=True).update(grads, ())
    for k in range(K):
        c = max_norm[k] if per_member_norm else max_norm
        alone, _ = clip_by_global_norm(c).update({n: g[k] for n, g in grads.items()}, ())
        norm_in = np.sqrt(sum(np.sum(g[k] ** 2) for g in grads.values()))
        norm_out = np.sqrt(sum(np.sum(g[k] ** 2) for g in clipped.values()))
        assert norm_out == pytest.approx(min(norm_in, c), rel=1e-12)
        for n in grads:
            np.testing.assert_allclose(clipped[n][k], alone[n], rtol=1e-14, atol=0)


def test_hyperparameter_rules_must_name_every_argument():
    # A factory with an argument that no rule covers would go unchecked: refused when defined.
    with pytest.raises(TypeError, match=r"must name exactly its arguments \['a', 'b'\]"):
        hyperparameter_rules(a=UNIT_OPEN)(lambda a, b: None)
    with pytest.raises(TypeError, match="must name exactly its arguments"):
        hyperparameter_rules(HYPERPARAMETER_RULES, typo=UNIT_OPEN)(lambda learning_rate: None)
    assert set(HYPERPARAMETER_RULES) == {
        p for f in OPTIMIZERS.values() for p in inspect.signature(f).parameters
    }
