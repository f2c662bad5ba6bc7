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
        "nadam", "nadamw", "radam", "adamax", "adadelta", "rprop", "lion",
        "schedule_free_adamw", "schedule_free_sgd",
    }  # fmt: skip
    assert_same_path(get_optimizer("adam", learning_rate=0.01, b1=0.8), adam(0.01, b1=0.8))
    with pytest.raises(InvalidParameterError, match=r"Unknown optimizer 'adabelief'.*gd, momentum"):
        get_optimizer("adabelief", learning_rate=0.1)
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


# ----------------------------------------------------------------------------- the protocol (base)

from types import MappingProxyType  # noqa: E402

from descentlab.optimizers import StackedState, identity, stack_optimizers  # noqa: E402
from descentlab.optimizers.base import (  # noqa: E402
    as_hyperparameter,
    broadcast_to_leaf,
    check_same_structure,
    learning_rate_reader,
)


def raised(call, kind=Exception):
    """The message of the error ``call()`` raises (of type ``kind``)."""
    with pytest.raises(kind) as info:
        call()
    assert type(info.value) is kind or kind is Exception
    return str(info.value)


def test_identity_passes_gradients_and_state_through():
    opt = identity()
    assert isinstance(opt, GradientTransformation)
    assert opt.init(P) == EmptyState() and isinstance(opt.init(P), EmptyState)
    state = EmptyState()
    updates, new = opt.update(G, state, P)
    assert updates is G and new is state
    assert opt.update(G, state)[0] is G


def test_check_same_structure_messages():
    z2, z21 = np.zeros(2), np.zeros((2, 1))
    assert raised(lambda: check_same_structure([z2], {"a": z2}), DataError) == (
        "grads and params must be dicts of arrays with the same keys; got list and dict."
    )
    assert raised(lambda: check_same_structure({"a": z2}, (z2,)), DataError) == (
        "grads and params must be dicts of arrays with the same keys; got dict and tuple."
    )
    mismatch = ({"a": z2, "c": z2, "x": z2}, {"d": z2, "b": z2, "x": z2})
    assert raised(lambda: check_same_structure(*mismatch), DataError) == (
        "grads must have the same keys as params; missing ['b', 'd'], unexpected ['a', 'c']."
    )
    assert raised(lambda: check_same_structure({"a": z2}, {"a": z21}), DataError) == (
        "grads['a'] has shape (2,), but params['a'] has shape (2, 1); they must match."
    )
    assert raised(lambda: check_same_structure({"a": z2}, {"a": z21}, "moments"), DataError) == (
        "moments['a'] has shape (2,), but params['a'] has shape (2, 1); they must match."
    )
    assert raised(lambda: apply_updates({"a": z21}, {"a": z2}), DataError) == (
        "updates['a'] has shape (2,), but params['a'] has shape (2, 1); they must match."
    )
    # Any mapping with the same keys and shapes passes (dict or not); scalars have shape ().
    assert check_same_structure(MappingProxyType({"a": z2}), MappingProxyType({"a": z2})) is None
    assert check_same_structure({"a": z2, "s": 1.0}, {"a": z2, "s": 2.0}) is None


def test_apply_updates_adds_every_leaf():
    new = apply_updates(
        {"a": np.array([1.0, 2.0]), "b": 3.0}, {"a": np.array([0.5, -4.0]), "b": 1.0}
    )
    assert new.keys() == {"a", "b"}
    np.testing.assert_array_equal(new["a"], [1.5, -2.0])
    assert new["b"] == 4.0


def test_broadcast_to_leaf_shapes():
    leaf = np.zeros((3, 4, 5))
    assert broadcast_to_leaf(0.5, leaf) == 0.5 and type(broadcast_to_leaf(0.5, leaf)) is float
    zero_d = np.array(0.25)
    assert broadcast_to_leaf(zero_d, leaf) is zero_d
    h = np.array([1.0, 2.0, 3.0])
    assert broadcast_to_leaf(h, leaf).shape == (3, 1, 1)
    assert broadcast_to_leaf([1.0, 2.0, 3.0], leaf).shape == (3, 1, 1)
    assert broadcast_to_leaf(h, np.zeros(3)).shape == (3,)
    assert broadcast_to_leaf(h, np.zeros((3, 2))).tolist() == [[1.0], [2.0], [3.0]]


def test_as_hyperparameter_returns_the_type_the_math_uses():
    from descentlab._validation import FLAG, NON_NEGATIVE, STEPS

    for value in (0, 0.5, np.float64(0.5), np.int64(0)):
        out = as_hyperparameter("o", "n", value, UNIT_OPEN)
        assert type(out) is float and out == float(value)
    for numbers in ([0, 1], np.array([0, 1]), np.array([0, 1], dtype=np.float32)):
        out = as_hyperparameter("o", "n", numbers, NON_NEGATIVE)
        assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0]
    out = as_hyperparameter("o", "n", np.array([0.5]), UNIT_OPEN)  # K = 1 is a population
    assert out.dtype == np.float64 and out.shape == (1,)
    for value in (3, 3.0, np.int64(3)):
        out = as_hyperparameter("o", "n", value, STEPS)
        assert type(out) is int and out == 3
    assert as_hyperparameter("o", "n", True, FLAG) is True
    assert as_hyperparameter("o", "n", False, FLAG) is False
    shape_message = (
        "The 'n' parameter of o must be a number or an array of shape (K,), one value per "
        "population member. Got an array of shape {} instead."
    )
    for bad, shape in (
        (np.array([[0.5]]), "(1, 1)"),
        (np.array([]), "(0,)"),
        ([[0.1, 0.2]], "(1, 2)"),
    ):
        message = raised(lambda bad=bad: as_hyperparameter("o", "n", bad, UNIT_OPEN))
        assert message == shape_message.format(shape)
    # A whole-number setting is one int for the whole population: no arrays.
    assert raised(lambda: as_hyperparameter("o", "n", np.array([1, 2]), STEPS)) == (
        "The 'n' parameter of o must be an int in the range [1, 9007199254740992]. "
        "Got array([1, 2]) (ndarray) instead."
    )


def test_as_hyperparameter_turns_numpy_errors_into_a_named_refusal(monkeypatch):
    from descentlab.optimizers import base

    for error in (TypeError, ValueError, OverflowError):

        def failing(*args, error=error, **kwargs):
            raise error("NumPy's words")

        monkeypatch.setattr(base, "check_param", failing)
        message = raised(
            lambda: as_hyperparameter("adam", "b1", "x" * 100, UNIT_OPEN), InvalidParameterError
        )
        assert message == (
            "The 'b1' parameter of adam must be a float in the range [0.0, 1.0). "
            f"Got {repr('x' * 100)[:80]} (str) instead."
        )


def test_chain_composes_left_to_right_and_checks_structure():
    assert raised(lambda: chain(gd(0.1), 1), InvalidParameterError) == (
        "chain() argument 1 must be a GradientTransformation; got int."
    )
    assert raised(lambda: chain("adam"), InvalidParameterError) == (
        "chain() argument 0 must be a GradientTransformation; got str."
    )
    params = {"w": np.array([1.0, -2.0])}
    grads = {"w": np.array([0.5, 0.5])}
    opt = chain(add_decayed_weights(0.5), scale_by_learning_rate(0.1))
    state = opt.init(params)
    assert state == (EmptyState(), ScaleByLearningRateState(0, 0.1))
    updates, state = opt.update(grads, state, params)  # params reach every transform
    np.testing.assert_allclose(updates["w"], [-0.1, 0.05], rtol=1e-15)
    assert state == (EmptyState(), ScaleByLearningRateState(1, 0.1))
    # Without params nothing is checked against them; with params they must match.
    lr_only = chain(identity(), scale_by_learning_rate(0.5))
    updates, state = lr_only.update(grads, lr_only.init(params))
    assert updates["w"].tolist() == [-0.25, -0.25] and state[1].count == 1
    assert raised(lambda: lr_only.update(grads, state, {"v": np.zeros(2)}), DataError) == (
        "grads must have the same keys as params; missing ['v'], unexpected ['w']."
    )
    # A state with fewer parts than the chain is refused, not silently shortened.
    with pytest.raises(ValueError, match="zip"):
        chain(identity(), scale_by_learning_rate(0.5)).update(grads, (EmptyState(),), params)
    assert chain().init(params) == () and chain().update(grads, (), params) == (grads, ())


def test_stack_optimizers_refusals():
    assert raised(lambda: stack_optimizers([gd(0.1), "x"], [1, 1]), InvalidParameterError) == (
        "stack_optimizers() optimizer 1 must be a GradientTransformation; got str."
    )
    assert raised(lambda: stack_optimizers([gd(0.1), gd(0.1)], [1]), InvalidParameterError) == (
        "stack_optimizers needs one size per optimizer; got 2 optimizers and 1 sizes."
    )
    assert raised(lambda: stack_optimizers([], []), InvalidParameterError) == (
        "stack_optimizers needs one size per optimizer; got 0 optimizers and 0 sizes."
    )
    for sizes in ([1, 0], [1.0], [2, -1], [True]):
        message = raised(lambda s=sizes: stack_optimizers([gd(0.1)] * len(s), s))
        assert message == f"The block sizes must be ints >= 1. Got {list(sizes)!r}."
    opt = stack_optimizers([gd(0.1)], [2])
    state = opt.init({"w": np.zeros(2)})
    for leaf, shape in ((np.zeros((3, 2)), "(3, 2)"), (np.float64(1.0), "()")):
        expected = (
            f"stack_optimizers covers 2 members, but ['w'] has shape {shape}; every array needs "
            "a leading population axis of 2."
        )
        assert raised(lambda leaf=leaf: opt.init({"w": leaf}), DataError) == expected
        assert raised(lambda leaf=leaf: opt.update({"w": leaf}, state), DataError) == expected


def test_stack_optimizers_updates_each_block_with_its_own_optimizer():
    decayed = chain(add_decayed_weights(1.0), scale_by_learning_rate(0.5))  # needs params
    opt = stack_optimizers([gd(0.1), decayed, identity()], [1, np.int64(2), 1])
    theta = {"w": np.array([[1.0], [2.0], [3.0], [4.0]]), "s": np.array([10.0, 20.0, 30.0, 40.0])}
    grads = {"w": np.full((4, 1), 2.0), "s": np.ones(4)}
    state = opt.init(theta)
    assert state == StackedState(
        ((ScaleByLearningRateState(0, 0.1),), (EmptyState(), ScaleByLearningRateState(0, 0.5)),
         EmptyState()),
        (1, 2, 1),
    )  # fmt: skip
    assert all(type(n) is int for n in state.sizes)
    updates, state = opt.update(grads, state, theta)
    assert updates["w"].tolist() == [[-0.2], [-2.0], [-2.5], [2.0]]
    assert updates["s"].tolist() == [-0.1, -10.5, -15.5, 1.0]
    assert updates["w"].dtype == np.float64
    assert state == StackedState(
        ((ScaleByLearningRateState(1, 0.1),), (EmptyState(), ScaleByLearningRateState(1, 0.5)),
         EmptyState()),
        (1, 2, 1),
    )  # fmt: skip
    assert applied_learning_rate(state).tolist()[:3] == [0.1, 0.5, 0.5]
    assert np.isnan(applied_learning_rate(state)[3])
    # Without params: each block gets None (a transformation needing them says so).
    with pytest.raises(DataError, match="needs the current params"):
        opt.update(grads, state)
    plain = stack_optimizers([gd(0.1), gd(0.5)], [1, 1])
    updates, _ = plain.update({"w": np.ones(2)}, plain.init({"w": np.zeros(2)}))
    assert updates["w"].tolist() == [-0.1, -0.5]


def test_stack_optimizers_keeps_a_wider_float_dtype():
    opt = stack_optimizers([gd(0.5), gd(0.25)], [1, 1])
    theta = {"w": np.zeros(2, dtype=np.longdouble)}
    updates, _ = opt.update({"w": np.ones(2, dtype=np.longdouble)}, opt.init(theta), theta)
    assert updates["w"].dtype == np.result_type(np.longdouble, np.float64)
    updates, _ = opt.update({"w": np.ones(2, dtype=np.int64)}, opt.init(theta), theta)
    assert updates["w"].dtype == np.float64 and updates["w"].tolist() == [-0.5, -0.25]


def test_applied_learning_rate_finds_the_first_rate_anywhere_in_the_state():
    lr = ScaleByLearningRateState
    assert applied_learning_rate(lr(3, 0.25)) == 0.25
    assert applied_learning_rate((EmptyState(), (TraceState(0, {}), lr(0, 0.5)))) == 0.5
    assert applied_learning_rate((lr(0, 0.1), lr(0, 0.2))) == 0.1  # the first one found
    assert applied_learning_rate((EmptyState(), lr(0, 0.3), lr(0, 0.2))) == 0.3
    for state in (EmptyState(), (), (EmptyState(), TraceState(0, {})), None, 0.5):
        assert np.isnan(applied_learning_rate(state))
    # The reader found once reads later states of the same shape.
    read = learning_rate_reader((EmptyState(), (TraceState(0, {}), lr(0, 0.5))))
    assert read((EmptyState(), (TraceState(1, {}), lr(1, 0.125)))) == 0.125
    assert np.isnan(learning_rate_reader(EmptyState())(EmptyState()))


def test_applied_learning_rate_of_stacked_blocks_is_one_rate_per_member():
    def stacked(*blocks, sizes):
        return StackedState(tuple(blocks), tuple(sizes))

    lr = ScaleByLearningRateState
    rates = applied_learning_rate(stacked((lr(0, 0.1),), (lr(0, 0.2),), sizes=[1, 2]))
    assert rates.dtype == np.float64 and rates.tolist() == [0.1, 0.2, 0.2]
    mixed = stacked((lr(0, 0.1),), lr(0, np.array([0.2, 0.3])), sizes=[2, 2])
    assert applied_learning_rate(mixed).tolist() == [0.1, 0.1, 0.2, 0.3]
    arrays = stacked(lr(0, np.array([0.4])), (lr(0, np.array([0.2, 0.3])),), sizes=[1, 2])
    assert applied_learning_rate(arrays).tolist() == [0.4, 0.2, 0.3]
    custom = applied_learning_rate(stacked(EmptyState(), (lr(0, 0.5),), sizes=[2, 1]))
    assert np.isnan(custom[:2]).all() and custom[2] == 0.5 and custom.shape == (3,)
    read = learning_rate_reader(stacked((lr(0, 0.1),), EmptyState(), sizes=[1, 1]))
    later = read(stacked((lr(5, 0.05),), EmptyState(), sizes=[1, 1]))
    assert later[0] == 0.05 and np.isnan(later[1])


# ----------------------------------------------------------------------------- transforms: messages

from descentlab.optimizers import scheduled_rate  # noqa: E402

RATE_RULE = "a float in the range [0.0, 10000.0] (or an array of shape (K,) of them)."


def test_nesterov_refusal_shows_per_member_values_as_lists():
    assert raised(lambda: sgd(0.1, momentum=np.array([0.0, 0.9]), nesterov=True)) == (
        "nesterov=True in sgd needs 'momentum' > 0 and 'dampening' == 0 (for every member). "
        "Got momentum=[0.0, 0.9] and dampening=0.0."
    )
    make = lambda: trace(np.array([0.5, 0.9]), dampening=np.array([0.0, 0.1]), nesterov=True)  # noqa: E731
    assert raised(make, InvalidParameterError) == (
        "nesterov=True in trace needs 'momentum' > 0 and 'dampening' == 0 (for every member). "
        "Got momentum=[0.5, 0.9] and dampening=[0.0, 0.1]."
    )


def test_a_bad_scheduled_rate_is_shown_exactly():
    import operator

    def bad(value):
        return lambda step: value

    where = "test_a_bad_scheduled_rate_is_shown_exactly.<locals>.bad.<locals>.<lambda>"
    cases = [
        (bad(np.full(10, -1.0)), 0, f"{where} returned {[-1.0] * 10!r} at step 0"),
        (bad(np.full(11, -1.0)), 0, f"{where} returned an array of shape (11,) at step 0"),
        (bad(np.full((2, 1), 0.5)), 1, f"{where} returned [[0.5], [0.5]] at step 1"),
        (bad(None), 0, f"{where} returned None (NoneType) at step 0"),
        (bad("0.1"), 2, f"{where} returned '0.1' (str) at step 2"),
        (bad(np.float32(-1.0)), 0, f"{where} returned -1.0 at step 0"),
        (bad("x" * 100), 0, f"{where} returned {repr('x' * 100)[:80]} (str) at step 0"),
        (operator.neg, 3, "neg returned -3.0 at step 3"),
    ]

    class Schedule:
        def __call__(self, step):
            return [0.1, "x"]

        def __repr__(self):
            return "Schedule()"

    cases.append((Schedule(), 4, "Schedule() returned [0.1, 'x'] (list) at step 4"))
    ragged = [[0.1], [0.2, 0.3]]
    cases.append((bad(ragged), 5, f"{where} returned {ragged!r} (list) at step 5"))
    cases.append((bad(b"0.1"), 0, f"{where} returned b'0.1' (bytes) at step 0"))
    for schedule, step, shown in cases:
        message = raised(lambda s=schedule, t=step: scheduled_rate(s, t), InvalidParameterError)
        assert message == f"The learning-rate schedule {shown}; a learning rate must be {RATE_RULE}"
    assert scheduled_rate(bad(np.full(11, 0.5)), 0).tolist() == [0.5] * 11


def test_hyperparameter_rules_names_the_rules_it_was_given():
    from descentlab.optimizers import HYPERPARAMETER_RULES as RULES

    def rate_only(learning_rate):
        return learning_rate

    def two(a, b):
        return a, b

    assert raised(lambda: hyperparameter_rules(RULES, typo=UNIT_OPEN)(rate_only), TypeError) == (
        "The rules of rate_only must name exactly its arguments ['learning_rate']; "
        "got ['learning_rate', 'typo']."
    )
    assert raised(lambda: hyperparameter_rules(a=UNIT_OPEN)(two), TypeError) == (
        "The rules of two must name exactly its arguments ['a', 'b']; got ['a']."
    )
    assert raised(lambda: hyperparameter_rules({"b": UNIT_OPEN}, c=UNIT_OPEN)(two), TypeError) == (
        "The rules of two must name exactly its arguments ['a', 'b']; got ['b', 'c']."
    )


def test_clip_by_global_norm_checks_the_population():
    clip = clip_by_global_norm(np.array([1.0, 2.0]), per_member=True)
    assert raised(lambda: clip.init({"w": np.zeros((3, 2))}), DataError) == (
        "clip_by_global_norm has per-member hyperparameters for K = 2 members, but "
        "params['w'] has shape (3, 2); every array needs a leading population axis of size 2."
    )
    assert clip.init({"w": np.zeros((2, 3))}) == EmptyState()
    assert clip_by_global_norm(1.0).init({"w": np.float64(1.0)}) == EmptyState()
    per_member = clip_by_global_norm(1.0, per_member=True)
    prefix = (
        "clip_by_global_norm(per_member=True) needs a leading population axis of the same size "
        "on every leaf; "
    )
    for grads, key, shape in (
        ({"w": np.float64(3.0)}, "w", "()"),
        ({"w": np.ones((2, 2)), "b": np.ones((3, 1))}, "b", "(3, 1)"),
        ({"w": np.ones((2, 2)), "b": np.ones((1, 1))}, "b", "(1, 1)"),
    ):
        message = raised(lambda g=grads: per_member.update(g, EmptyState()), DataError)
        assert message == prefix + f"grads[{key!r}] has shape {shape}."


def test_clip_by_global_norm_at_and_around_the_threshold():
    import warnings

    grads = {"w": np.array([3.0, 4.0])}  # norm exactly 5
    assert clip_by_global_norm(5.0).update(grads, EmptyState())[0] is grads
    assert clip_by_global_norm(2.5).update(grads, EmptyState())[0]["w"].tolist() == [1.5, 2.0]
    # Per member: a 1-D leaf is one number per member; a norm between c and 1 is scaled by c/norm.
    per_member = clip_by_global_norm(np.array([0.25, 0.5, 5.0, 1.0]), per_member=True)
    leaves = {
        "w": np.array([[0.3, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 0.0]]),
        "b": np.array([0.4, 0.0, 4.0, 0.0]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a member with zero gradients divides by nothing
        out, state = per_member.update(leaves, EmptyState())
    assert state == EmptyState()
    np.testing.assert_allclose(out["w"], [[0.15, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(out["b"], [0.2, 0.0, 4.0, 0.0], rtol=1e-15)
    assert clip_by_global_norm(1.0, per_member=True).update({}, EmptyState()) == ({}, EmptyState())


def test_a_per_member_schedule_needs_a_matching_leading_axis():
    rates = np.array([0.1, 0.2])
    opt = gd(lambda step: rates)
    state = opt.init({"w": np.ones(2)})
    for leaf, shape in ((np.ones((3, 2)), "(3, 2)"), (np.float64(1.0), "()")):
        assert raised(lambda leaf=leaf: opt.update({"w": leaf}, state), DataError) == (
            "The learning-rate schedule returned 2 values (one per member), but grads['w'] has "
            f"shape {shape}; it needs a leading population axis of size 2."
        )
    updates, state = opt.update({"w": np.ones(2), "m": np.ones((2, 1, 3))}, state)
    assert updates["w"].tolist() == [-0.1, -0.2]
    assert updates["m"].tolist() == [[[-0.1] * 3], [[-0.2] * 3]]
    assert state[0].count == 1 and state[0].learning_rate is rates


def test_a_float64_schedule_value_is_used_as_it_is():
    rates = np.array([0.1, 0.2])
    assert scheduled_rate(lambda step: rates, 0) is rates
    ints = scheduled_rate(lambda step: np.array([1, 2]), 0)
    assert ints.dtype == np.float64 and ints.tolist() == [1.0, 2.0]
    assert scheduled_rate(lambda step: np.array([1, 2], dtype=np.uint8), 0).tolist() == [1.0, 2.0]
    assert type(scheduled_rate(lambda step: np.float32(0.5), 0)) is float
    assert type(scheduled_rate(lambda step: 2, 0)) is float


# (a transform with one per-member hyperparameter of length 2, its name)
PER_MEMBER_TRANSFORMS = [
    (lambda h: scale_by_learning_rate(h), "scale_by_learning_rate"),
    (lambda h: trace(h), "trace"),
    (lambda h: trace(0.5, dampening=h), "trace"),
    (lambda h: ema(h), "ema"),
    (lambda h: scale_by_rms(h), "scale_by_rms"),
    (lambda h: scale_by_rms(eps=h), "scale_by_rms"),
    (lambda h: scale_by_adagrad(h), "scale_by_adagrad"),
    (lambda h: scale_by_adagrad(eps=h), "scale_by_adagrad"),
    (lambda h: scale_by_adam(b1=h), "scale_by_adam"),
    (lambda h: scale_by_adam(b2=h), "scale_by_adam"),
    (lambda h: scale_by_adam(eps=h), "scale_by_adam"),
    (lambda h: scale_by_adam(eps_root=h), "scale_by_adam"),
    (lambda h: add_decayed_weights(h), "add_decayed_weights"),
    (lambda h: clip_by_global_norm(h, per_member=True), "clip_by_global_norm"),
]


@pytest.mark.parametrize(("make", "owner"), PER_MEMBER_TRANSFORMS)
def test_every_transform_checks_the_population_axis_at_init(make, owner):
    transform = make(np.array([0.5, 0.25]))
    for leaf, shape in ((np.zeros((3, 2)), "(3, 2)"), (np.float64(0.0), "()")):
        message = raised(lambda leaf=leaf: transform.init({"b": np.zeros((2, 1)), "w": leaf}))
        assert message == (
            f"{owner} has per-member hyperparameters for K = 2 members, but params['w'] has "
            f"shape {shape}; every array needs a leading population axis of size 2."
        )
    transform.init({"b": np.zeros((2, 1)), "w": np.zeros(2)})  # K = 2: accepted
    make(0.5).init({"w": np.float64(0.0)})  # numbers: any shape


def test_check_hyperparameters_converts_checks_and_passes_through():
    from descentlab.optimizers import RATE_OR_SCHEDULE, check_hyperparameters

    rules = {"a": None, "lr": RATE_OR_SCHEDULE, "b": UNIT_OPEN, "c": None, "d": RATE_OR_SCHEDULE}
    values = {"a": "x", "lr": abs, "b": [0.1, 0.2], "c": np.array([1, 2, 3]), "d": 1}
    checked = check_hyperparameters("o", values, rules)
    assert list(checked) == ["a", "lr", "b", "c", "d"]
    assert checked["a"] == "x" and checked["lr"] is abs and checked["c"] is values["c"]
    assert checked["b"].tolist() == [0.1, 0.2] and type(checked["d"]) is float
    # Only the checked values must share one K ("c", passed through, has 3): the caller's.
    message = raised(
        lambda: adam(np.array([0.1, 0.2]), b1=np.full(3, 0.9), eps=np.full(4, 1e-8)),
        InvalidParameterError,
    )
    assert message == (
        "The per-member hyperparameters of adam must all have the same length K (one value per "
        "population member); 'learning_rate' has 2, 'b1' has 3, 'eps' has 4."
    )
    adam(np.array([0.1, 0.2]), b1=np.full(2, 0.9), eps=1e-8)  # one K: accepted


def test_a_learning_rate_refusal_mentions_schedules():
    for value, shown in ((0.0, "0.0"), ("fast", "'fast' (str)")):
        assert raised(lambda v=value: gd(v), InvalidParameterError) == (
            "The 'learning_rate' parameter of gd must be a float in the range (0.0, 10000.0]. "
            f"Got {shown} instead. A schedule (a callable step -> learning rate) is accepted too."
        )


def test_hyperparameter_rules_prefers_its_own_rules_and_checks_defaults():
    from descentlab._validation import NON_NEGATIVE

    @hyperparameter_rules({"a": UNIT_OPEN, "b": UNIT_OPEN}, a=NON_NEGATIVE)
    def factory(a, b=0):
        return a, b

    assert factory.__name__ == "factory"
    out = factory(2)  # a's own rule (>= 0) wins over the table's
    assert out == (2.0, 0.0) and all(type(v) is float for v in out)
    assert factory(b=0.5, a=1).__repr__() == "(1.0, 0.5)"
    assert raised(lambda: factory(0.5, 1.5), InvalidParameterError) == (
        "The 'b' parameter of factory must be a float in the range [0.0, 1.0). Got 1.5 instead."
    )

    @hyperparameter_rules(b=UNIT_OPEN)
    def bad_default(b=2.0):
        return b

    with pytest.raises(InvalidParameterError, match="'b' parameter of bad_default"):
        bad_default()


def test_transform_factory_refusals_are_exact():
    assert raised(lambda: clip_by_global_norm(np.array([1.0, 2.0])), InvalidParameterError) == (
        "The 'max_norm' parameter of clip_by_global_norm may be an array (one value per member) "
        "only with per_member=True; the global norm is one number for the whole population."
    )
    assert raised(lambda: add_decayed_weights(0.1).update(G, EmptyState()), DataError) == (
        "add_decayed_weights needs the current params to compute weight decay; "
        "call update(grads, state, params)."
    )


def test_scheduled_rate_bounds_are_inclusive():
    for value in (0.0, 10_000.0, 0, 10_000):
        out = scheduled_rate(lambda step, v=value: v, 0)
        assert out == value and type(out) is float
    assert scheduled_rate(lambda step: np.array([0.0, 10_000.0]), 0).tolist() == [0.0, 10_000.0]
    for bad in (-1e-300, 10_000.000001, np.array([0.0, 10_000.000001]), np.array([-1e-300, 0.5])):
        with pytest.raises(InvalidParameterError, match="returned"):
            scheduled_rate(lambda step, v=bad: v, 0)
    schedule_state = scale_by_learning_rate(lambda step: 0.0).init(G)
    assert schedule_state == ScaleByLearningRateState(0, 0.0)
    updates, state = scale_by_learning_rate(lambda step: 2.0 * step).update(G, schedule_state)
    assert state == ScaleByLearningRateState(1, 0.0)
    assert all(np.all(u == 0.0) for u in updates.values())


# ----------------------------------------------------------------------------- transforms: math


def test_update_moment_of_any_order_and_integer_gradients():
    g, m = np.array([2.0, -1.0]), np.array([1.0, 1.0])
    np.testing.assert_allclose(update_moment(g, m, 0.5, 3), 0.5 * m + 0.5 * g**3, rtol=1e-15)
    ints = np.array([2, -1])
    for order in (1, 2, 3):
        out = update_moment(ints, m, 0.75, order)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, update_moment(ints.astype(float), m, 0.75, order))
    assert update_moment(g, m, 0.75, 2).tolist() == [0.75 + 0.25 * 4.0, 0.75 + 0.25 * 1.0]
    assert g.tolist() == [2.0, -1.0] and m.tolist() == [1.0, 1.0]  # inputs untouched


def test_integer_gradients_give_the_float_updates():
    ints = {"w": np.array([[1, -2], [3, 0]])}
    floats = {"w": ints["w"].astype(np.float64)}
    theta = {"w": np.ones((2, 2))}
    for transform in (scale_by_adagrad(0.1), scale_by_rms(0.9), scale_by_adam(), ema(0.5)):
        a, sa = transform.update(ints, transform.init(theta), theta)
        b, sb = transform.update(floats, transform.init(theta), theta)
        assert a["w"].dtype == np.float64
        np.testing.assert_array_equal(a["w"], b["w"])
        for moment in (f for f in sa._fields if isinstance(getattr(sa, f), dict)):
            np.testing.assert_array_equal(getattr(sa, moment)["w"], getattr(sb, moment)["w"])


def test_zero_momentum_passes_gradients_through_untouched():
    updates, state = trace(0.0).update(G, TraceState(count=4, trace=M))
    assert updates is G and state.trace is G and state.count == 5
    updates, _ = trace(0.5).update(G, TraceState(count=4, trace=M))
    assert updates is not G


def test_amsgrad_without_a_running_max_in_the_state_starts_from_the_second_moment():
    transform = scale_by_adam(0.8, 0.99, eps=1e-3, amsgrad=True)
    _, fresh = transform.update(G, ScaleByAdamState(count=4, mu=M, nu=S))  # nu_max=None
    assert_tree(fresh.nu_max, fresh.nu)
    _, plain = scale_by_adam(0.8, 0.99, eps=1e-3).update(G, ScaleByAdamState(4, M, S, S_MAX))
    assert plain.nu_max is None


def test_adam_without_eps_root_and_eps_root_zero_array_agree():
    # eps_root = 0 is skipped (a number) or added (an array): the same updates either way.
    state = ScaleByAdamState(count=2, mu=M, nu=S)
    a, _ = scale_by_adam(eps_root=0.0).update(G, state)
    b, _ = scale_by_adam(eps_root=np.zeros(3)).update(G, state)
    assert_tree(a, b, rtol=0)
    c, _ = scale_by_adam(eps_root=1e-3).update(G, state)
    assert not np.allclose(c["W"], a["W"], rtol=1e-9, atol=0)


def population_matches_members(make_population, make_member, K=3, steps=3, seed=5):
    """The population transform's updates equal each member's alone, step for step."""
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((K, 3, 2)), "b": rng.standard_normal((K, 2))}
    stream = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(steps)]
    together = make_population()
    state = together.init(params)
    outs = []
    for g in stream:
        u, state = together.update(g, state, params)
        outs.append(u)
    for k in range(K):
        alone = make_member(k)
        member = {n: p[k] for n, p in params.items()}
        s = alone.init(member)
        for g, u in zip(stream, outs, strict=True):
            mine, s = alone.update({n: v[k] for n, v in g.items()}, s, member)
            for n in params:
                np.testing.assert_allclose(u[n][k], mine[n], rtol=1e-13, atol=0)


RHO, TAU, MU = np.array([0.5, 0.9, 0.99]), np.array([0.0, 0.3, 1.0]), np.array([0.0, 0.5, 0.9])


@pytest.mark.parametrize("centered", [False, True])
def test_per_member_rms_with_bias_correction_equals_separate_members(centered):
    population_matches_members(
        lambda: scale_by_rms(RHO, np.array([1e-8, 1e-3, 0.1]), centered=centered, debias=True),
        lambda k: scale_by_rms(RHO[k], [1e-8, 1e-3, 0.1][k], centered=centered, debias=True),
    )


def test_per_member_trace_ema_and_adam_equal_separate_members():
    population_matches_members(
        lambda: trace(MU, dampening=TAU), lambda k: trace(MU[k], dampening=TAU[k])
    )
    population_matches_members(lambda: trace(MU), lambda k: trace(MU[k]))
    population_matches_members(
        lambda: trace(MU + 0.05, nesterov=True), lambda k: trace(MU[k] + 0.05, nesterov=True)
    )
    population_matches_members(lambda: ema(RHO), lambda k: ema(RHO[k]))
    population_matches_members(
        lambda: scale_by_adam(RHO, 1 - RHO / 10, eps=RHO / 100, eps_root=TAU, amsgrad=True),
        lambda k: scale_by_adam(RHO[k], 1 - RHO[k] / 10, eps=RHO[k] / 100, eps_root=TAU[k],
                                amsgrad=True),
    )  # fmt: skip
    population_matches_members(
        lambda: scale_by_adagrad(TAU, eps=RHO), lambda k: scale_by_adagrad(TAU[k], eps=RHO[k])
    )
    population_matches_members(
        lambda: add_decayed_weights(TAU), lambda k: add_decayed_weights(TAU[k])
    )


# (a transform, the fields of its state that hold a moment per leaf)
STATEFUL_TRANSFORMS = [
    (lambda: trace(0.9), TraceState, ("trace",)),
    (lambda: trace(0.9, nesterov=True), TraceState, ("trace",)),
    (lambda: ema(0.9), EmaState, ("ema",)),
    (lambda: scale_by_rms(0.9), ScaleByRmsState, ("nu",)),
    (lambda: scale_by_rms(0.9, centered=True), ScaleByRmsState, ("nu", "mu")),
    (lambda: scale_by_adagrad(0.0), ScaleByAdagradState, ("sum_of_squares",)),
    (lambda: scale_by_adam(), ScaleByAdamState, ("mu", "nu")),
    (lambda: scale_by_adam(amsgrad=True), ScaleByAdamState, ("mu", "nu", "nu_max")),
]


@pytest.mark.parametrize(("make", "kind", "moments"), STATEFUL_TRANSFORMS)
def test_transform_state_bookkeeping(make, kind, moments):
    transform = make()
    theta = {"W": np.ones((3, 2)), "b": np.ones((3, 1), dtype=np.float32), "n": np.ones(2, int)}
    state = transform.init(theta)
    assert type(state) is kind and state.count == 0
    for field in kind._fields[1:]:
        value = getattr(state, field)
        if field not in moments:
            assert value is None
            continue
        assert value.keys() == theta.keys()
        for k, p in theta.items():
            assert value[k].shape == p.shape and value[k].dtype == np.float64
            assert not value[k].any()
    grads = {k: np.full(p.shape, 0.5) for k, p in theta.items()}
    _, state = transform.update(grads, state)  # without params: the state's moments are the check
    assert state.count == 1
    _, state = transform.update(grads, state._replace(count=41), theta)
    assert state.count == 42
    assert all(getattr(state, f).keys() == theta.keys() for f in moments)
    short = {"W": grads["W"], "n": grads["n"]}
    assert raised(lambda: transform.update(short, state), DataError) == (
        "grads must have the same keys as params; missing ['b'], unexpected []."
    )
    wrong = {**grads, "b": np.zeros((1, 3))}
    assert raised(lambda: transform.update(wrong, state), DataError) == (
        "grads['b'] has shape (1, 3), but params['b'] has shape (3, 1); they must match."
    )


def test_stateless_transforms_keep_the_state_they_are_given():
    theta = {"W": np.ones((3, 2))}
    for transform in (add_decayed_weights(0.1), add_decayed_weights(0.0), clip_by_global_norm(1.0),
                      clip_by_global_norm(1.0, per_member=True), identity()):  # fmt: skip
        state = transform.init(theta)
        assert state == EmptyState() and type(state) is EmptyState
        assert transform.update(theta, state, theta)[1] is state
    state = scale_by_learning_rate(0.5).init(theta)
    assert type(state) is ScaleByLearningRateState and state == (0, 0.5)
    assert scale_by_learning_rate(0.5).update(theta, state)[1] == (1, 0.5)


@pytest.mark.parametrize(("make", "kind", "moments"), STATEFUL_TRANSFORMS)
def test_moments_of_a_wider_float_keep_its_precision(make, kind, moments):
    wide = np.result_type(np.longdouble, np.float64)  # float128 where the platform has it
    state = make().init({"x": np.ones(2, dtype=np.longdouble)})
    assert all(getattr(state, f)["x"].dtype == wide for f in moments)


# ----------------------------------------------------------------------------- named optimizers


def test_named_optimizer_refusals_are_exact():
    assert raised(lambda: nesterov(0.1, momentum=0.0), InvalidParameterError) == (
        "nesterov=True in nesterov needs 'momentum' > 0 and 'dampening' == 0 (for every member). "
        "Got momentum=0.0 and dampening=0.0."
    )
    assert raised(lambda: sgd(0.1, momentum=0.9, dampening=0.5, nesterov=True)) == (
        "nesterov=True in sgd needs 'momentum' > 0 and 'dampening' == 0 (for every member). "
        "Got momentum=0.9 and dampening=0.5."
    )
    known = (
        "gd, momentum, sgd, nesterov, rmsprop, adagrad, adam, adamw, nadam, nadamw, radam, "
        "adamax, adadelta, rprop, lion, schedule_free_adamw, schedule_free_sgd"
    )
    assert raised(lambda: get_optimizer("adabelief", learning_rate=0.1)) == (
        f"Unknown optimizer 'adabelief'; the known optimizers are {known}."
    )
    assert raised(lambda: get_optimizer("sgd", learning_rate=0.1, beta1=0.9)) == (
        "Unknown hyperparameter 'beta1' for optimizer 'sgd'; it accepts learning_rate, "
        "momentum, dampening, nesterov, weight_decay."
    )
    assert raised(lambda: get_optimizer("adam")) == (
        "Optimizer 'adam' needs 'learning_rate'; it accepts learning_rate, b1, b2, eps, "
        "eps_root, amsgrad, weight_decay."
    )
    assert_same_path(get_optimizer("RMSProp", learning_rate=0.01), rmsprop(0.01))


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("gd", [ScaleByLearningRateState]),
        ("momentum", [EmaState, ScaleByLearningRateState]),
        ("sgd", [EmptyState, TraceState, ScaleByLearningRateState]),
        ("nesterov", [EmptyState, TraceState, ScaleByLearningRateState]),
        ("rmsprop", [EmptyState, ScaleByRmsState, TraceState, ScaleByLearningRateState]),
        ("adagrad", [EmptyState, ScaleByAdagradState, ScaleByLearningRateState]),
        ("adam", [EmptyState, ScaleByAdamState, ScaleByLearningRateState]),
        ("adamw", [ScaleByAdamState, EmptyState, ScaleByLearningRateState]),
    ],
)
def test_named_optimizer_state_is_its_documented_chain(name, kinds):
    state = get_optimizer(name, learning_rate=0.25).init(PARAMS)
    assert [type(s) for s in state] == kinds
    assert state[-1] == ScaleByLearningRateState(0, 0.25)


def test_stack_optimizers_refuses_a_state_with_other_blocks():
    opt = stack_optimizers([gd(0.1), gd(0.2)], [1, 1])
    theta = {"w": np.zeros(2)}
    state = opt.init(theta)
    with pytest.raises(ValueError, match="zip"):
        opt.update({"w": np.ones(2)}, state._replace(blocks=state.blocks[:1]), theta)


def test_per_member_and_shared_hyperparameters_mix():
    population_matches_members(lambda: scale_by_adam(b1=RHO), lambda k: scale_by_adam(b1=RHO[k]))
    population_matches_members(
        lambda: scale_by_adam(eps_root=TAU), lambda k: scale_by_adam(eps_root=TAU[k])
    )
    population_matches_members(lambda: scale_by_rms(0.9, RHO), lambda k: scale_by_rms(0.9, RHO[k]))
    population_matches_members(
        lambda: scale_by_adagrad(0.1, eps=RHO), lambda k: scale_by_adagrad(0.1, eps=RHO[k])
    )
    population_matches_members(
        lambda: trace(0.9, dampening=TAU), lambda k: trace(0.9, dampening=TAU[k])
    )


def test_float_temporaries_are_reused_and_others_made_float64():
    from descentlab.optimizers.transforms import _as_float

    for dtype in (np.float16, np.float32, np.float64, np.longdouble):
        x = np.ones(3, dtype=dtype)
        assert _as_float(x) is x
    for x in (np.arange(3), np.arange(3, dtype=np.uint8), np.array([True, False])):
        out = _as_float(x)
        assert out.dtype == np.float64 and out.tolist() == x.astype(float).tolist()


def test_the_learning_rate_rule_reads_as_a_rate_or_a_schedule():
    from descentlab.optimizers import RATE_OR_SCHEDULE

    assert str(RATE_OR_SCHEDULE) == (
        "a float in the range (0.0, 10000.0] or a schedule (a callable step -> learning rate)"
    )


def test_stack_optimizers_gives_each_block_only_its_members():
    opt = stack_optimizers([gd(np.array([0.1, 0.2])), gd(0.5), gd(np.array([0.25]))], [2, 1, 1])
    theta = {"w": np.zeros((4, 2))}
    updates, state = opt.update({"w": np.ones((4, 2))}, opt.init(theta), theta)
    assert updates["w"].tolist() == [[-0.1] * 2, [-0.2] * 2, [-0.5] * 2, [-0.25] * 2]
    assert applied_learning_rate(state).tolist() == [0.1, 0.2, 0.5, 0.25]


def test_a_learning_rate_reader_refuses_states_of_another_shape():
    lr = ScaleByLearningRateState
    two = StackedState((lr(0, np.array([0.1])), lr(0, 0.2)), (1, 1))
    read = learning_rate_reader(two)
    assert read(two).tolist() == [0.1, 0.2]
    for blocks in (two.blocks[:1], (*two.blocks, lr(0, 0.3))):
        with pytest.raises(ValueError, match="zip"):
            read(StackedState(blocks, (1,) * len(blocks)))
    with pytest.raises(ValueError, match="zip"):
        applied_learning_rate(StackedState(two.blocks, (1,)))  # fewer sizes than blocks


def test_trace_of_float32_gradients_stays_float32():
    g32 = {k: v.astype(np.float32) for k, v in G.items()}
    transform = trace(0.9, dampening=0.25)
    state = transform.init(P)
    for _ in range(3):
        updates, state = transform.update(g32, state)
    for k in G:
        assert updates[k].dtype == np.float32 and state.trace[k].dtype == np.float32
    b = {k: v.copy() for k, v in g32.items()}  # the first step's buffer
    for _ in range(2):
        b = {k: 0.9 * b[k] + 0.75 * g32[k] for k in G}  # float32 arithmetic throughout
    assert_tree(updates, b, rtol=0)


def test_adam_with_eps_root_one_adds_it_inside_the_root():
    state = ScaleByAdamState(count=0, mu=M, nu=S)
    updates, new = scale_by_adam(0.5, 0.75, eps=0.0, eps_root=1.0).update(G, state)
    expected = {k: (new.mu[k] / (1 - 0.5)) / np.sqrt(new.nu[k] / (1 - 0.75) + 1.0) for k in G}
    assert_tree(updates, expected, rtol=1e-15)
