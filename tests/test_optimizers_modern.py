"""The modern optimizers of issue 11 against their references, and in the training loop.

NAdam(W), RAdam, Adamax, Adadelta and Rprop equal PyTorch's ``torch.optim`` and Lion and
schedule-free AdamW / SGD equal Optax's, for 200 float64 steps of random gradients on a dict
of three arrays of different scales (every step within 1e-10 of each array's largest
entry), alone and as a population with per-member hyperparameters. Then: each transform one
step from a non-trivial state against a NumPy line, equivalences, convergence, refusals,
and schedule-free training (evaluated at x, resumed exactly from y).
"""

from __future__ import annotations

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments.specs import build_optimizer, resolve_hyperparameters
from descentlab.nn import MLP
from descentlab.optimizers import (
    OPTIMIZERS,
    ScaleByAdadeltaState,
    ScaleByAdamaxState,
    ScaleByLearningRateState,
    ScaleByLionState,
    ScaleByNadamState,
    ScaleByRadamState,
    ScaleByRmsState,
    ScaleByRpropState,
    ScheduleFreeState,
    adadelta,
    adamax,
    apply_updates,
    evaluation_params,
    get_optimizer,
    lion,
    nadam,
    nadamw,
    radam,
    rprop,
    scale_by_adadelta,
    scale_by_adamax,
    scale_by_lion,
    scale_by_nadam,
    scale_by_radam,
    scale_by_rprop,
    scale_by_schedule_free,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
    sgd,
    stack_optimizers,
)
from descentlab.optimizers.adaptive import nadam_momentum, radam_rectification
from descentlab.schedules import exponential_decay, linear_warmup
from descentlab.training import train

N_STEPS = 200
RTOL = 1e-10
SHAPES = {"W1": (4, 3), "b1": (4, 1), "W2": (2, 4)}
GRAD_SCALES = {"W1": 1.0, "b1": 1e-3, "W2": 30.0}  # exercise eps in every regime
NEW = ("nadam", "nadamw", "radam", "adamax", "adadelta", "rprop", "lion",
       "schedule_free_adamw", "schedule_free_sgd")  # fmt: skip


def gradient_stream(seed: int, K: int | None = None, bias: float = 0.0):
    """``N_STEPS`` random gradient dicts (leading axis K when given); ``bias`` is added to
    every entry, so that signs persist (Rprop's step sizes then grow as well as shrink)."""
    rng = np.random.default_rng(seed)
    lead = () if K is None else (K,)
    return [
        {k: GRAD_SCALES[k] * (bias + rng.standard_normal(lead + s)) for k, s in SHAPES.items()}
        for _ in range(N_STEPS)
    ]


def start(seed: int, K: int | None = None):
    rng = np.random.default_rng(seed + 100)
    lead = () if K is None else (K,)
    return {k: rng.standard_normal(lead + s) for k, s in SHAPES.items()}


def assert_close(ours, theirs, step, what="params"):
    for key, p in ours.items():
        ref = np.asarray(theirs[key])
        err = np.max(np.abs(p - ref))
        assert err <= RTOL * np.max(np.abs(ref)), (what, key, step, err)


def run_ours(opt, params, stream, check):
    """Step ``opt`` through ``stream``; after every step call ``check(step, params, state)``."""
    state = opt.init(params)
    for step, grads in enumerate(stream):
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        check(step, params, state)
    return params, state


# ============================================================================= PyTorch


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype: NAdam keeps its product of momenta (and every
    optimizer its step count) in the default dtype, which must be float64 here."""
    torch = pytest.importorskip("torch", reason="the PyTorch references need torch")
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(saved)


def torch_optimizer(torch, name, tensors, lr, kw):
    """The torch.optim counterpart of ``get_optimizer(name, learning_rate=lr, **kw)``."""
    optim, kw = torch.optim, dict(kw)
    betas = (kw.pop("b1", 0.9), kw.pop("b2", 0.999))
    if name in ("nadam", "nadamw"):
        kw.setdefault("weight_decay", 0.01 if name == "nadamw" else 0.0)
        return optim.NAdam(tensors, lr=lr, betas=betas, decoupled_weight_decay=name == "nadamw",
                           **kw)  # fmt: skip
    if name == "radam":
        return optim.RAdam(tensors, lr=lr, betas=betas, **kw)
    if name == "adamax":
        return optim.Adamax(tensors, lr=lr, betas=betas, **kw)
    if name == "adadelta":
        return optim.Adadelta(tensors, lr=lr, rho=kw.pop("decay", 0.9), **kw)
    if name == "rprop":
        etas = (kw.pop("eta_minus", 0.5), kw.pop("eta_plus", 1.2))
        sizes = (kw.pop("min_step_size", 1e-6), kw.pop("max_step_size", 50.0))
        return optim.Rprop(tensors, lr=lr, etas=etas, step_sizes=sizes, **kw)
    raise AssertionError(name)


# (name, kwargs, learning rate, gradient bias)
TORCH_CASES = [
    ("nadam", {}, 0.01, 0.0),
    ("nadam", {"b1": 0.8, "b2": 0.99, "eps": 1e-6, "momentum_decay": 0.01}, 0.01, 0.0),
    ("nadam", {"weight_decay": 0.1, "momentum_decay": 0.0}, 0.01, 0.0),
    ("nadamw", {}, 0.01, 0.0),
    ("nadamw", {"weight_decay": 0.1, "b1": 0.5, "momentum_decay": 0.1}, 0.01, 0.0),
    ("radam", {}, 0.01, 0.0),  # rectified from step 6 on
    ("radam", {"b2": 0.9, "weight_decay": 0.1}, 0.01, 0.0),  # rho_inf = 19
    ("radam", {"b2": 0.6}, 0.01, 0.0),  # rho_inf = 4: never rectified
    ("radam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-3}, 0.01, 0.0),
    ("adamax", {}, 0.01, 0.0),
    ("adamax", {"b1": 0.5, "b2": 0.9, "eps": 1e-3, "weight_decay": 0.1}, 0.01, 0.0),
    ("adadelta", {}, 1.0, 0.0),
    ("adadelta", {"decay": 0.5, "eps": 1e-4, "weight_decay": 0.1}, 0.5, 0.0),
    ("rprop", {}, 0.01, 1.0),
    ("rprop", {}, 0.01, 0.0),
    (
        "rprop",
        {"eta_minus": 0.3, "eta_plus": 1.5, "min_step_size": 1e-3, "max_step_size": 0.05},
        0.01,
        1.0,
    ),
]


@pytest.mark.parametrize(
    ("name", "kw", "lr", "bias"), TORCH_CASES, ids=[f"{n}-{k}" for n, k, _, _ in TORCH_CASES]
)
def test_matches_torch_step_for_step(torch64, name, kw, lr, bias):
    torch = torch64
    params = start(0)
    stream = gradient_stream(0, bias=bias)
    tensors = [torch.tensor(p.copy()) for p in params.values()]
    reference = torch_optimizer(torch, name, tensors, lr, kw)

    def check(step, ours, state):
        for t, g in zip(tensors, stream[step].values(), strict=True):
            t.grad = torch.from_numpy(g.copy())
        reference.step()
        assert_close(ours, {k: t.detach().numpy() for k, t in zip(ours, tensors, strict=True)},
                     step)  # fmt: skip

    final, _ = run_ours(get_optimizer(name, learning_rate=lr, **kw), params, stream, check)
    moved = max(np.max(np.abs(final[k] - p)) for k, p in params.items())
    assert moved > 1e-3  # the optimizer really moved


# name -> per-member settings of a population of 3 (torch gets each member's values)
TORCH_POPULATION = {
    "nadam": {"learning_rate": [0.01, 0.02, 0.005], "b1": [0.9, 0.8, 0.0],
              "momentum_decay": [4e-3, 0.0, 0.05], "weight_decay": [0.0, 0.1, 0.01]},
    "nadamw": {"learning_rate": [0.01, 0.02, 0.005], "b2": [0.999, 0.9, 0.99],
               "weight_decay": [0.01, 0.1, 0.0]},
    "radam": {"learning_rate": [0.01, 0.02, 0.005], "b2": [0.999, 0.7, 0.9],
              "eps": [1e-8, 1e-3, 1e-6]},
    "adamax": {"learning_rate": [0.01, 0.02, 0.005], "b1": [0.9, 0.0, 0.5],
               "eps": [1e-8, 1e-3, 0.0]},
    "adadelta": {"learning_rate": [1.0, 0.5, 2.0], "decay": [0.9, 0.5, 0.99],
                 "eps": [1e-6, 1e-3, 1e-8]},
    "rprop": {"learning_rate": [0.01, 0.1, 0.001], "eta_plus": [1.2, 1.5, 1.1],
              "min_step_size": [1e-6, 1e-2, 0.0], "max_step_size": [50.0, 0.2, 1e-2]},
}  # fmt: skip


@pytest.mark.parametrize("name", list(TORCH_POPULATION))
def test_population_matches_one_torch_optimizer_per_member(torch64, name):
    torch, K = torch64, 3
    space = TORCH_POPULATION[name]
    params = start(1, K)
    stream = gradient_stream(1, K, bias=1.0 if name == "rprop" else 0.0)
    references = []
    for k in range(K):
        tensors = [torch.tensor(p[k].copy()) for p in params.values()]
        kw = {h: v[k] for h, v in space.items() if h != "learning_rate"}
        references.append(
            (tensors, torch_optimizer(torch, name, tensors, space["learning_rate"][k], kw))
        )

    def check(step, ours, state):
        for k, (tensors, reference) in enumerate(references):
            for t, g in zip(tensors, stream[step].values(), strict=True):
                t.grad = torch.from_numpy(g[k].copy())
            reference.step()
            assert_close({key: v[k] for key, v in ours.items()},
                         {key: t.detach().numpy() for key, t in zip(ours, tensors, strict=True)},
                         step, f"member {k}")  # fmt: skip

    opt = get_optimizer(name, **{h: np.array(v) for h, v in space.items()})
    run_ours(opt, params, stream, check)


def test_a_schedule_matches_torch_lr_schedulers(torch64):
    torch = torch64
    params, stream = start(2), gradient_stream(2)
    for name, kw, lr in [("nadamw", {"weight_decay": 0.1}, 0.01), ("radam", {}, 0.01),
                         ("adadelta", {}, 1.0)]:  # fmt: skip
        tensors = [torch.tensor(p.copy()) for p in params.values()]
        reference = torch_optimizer(torch, name, tensors, lr, kw)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(reference, gamma=0.98)

        def check(
            step, ours, state, tensors=tensors, reference=reference, scheduler=scheduler, name=name
        ):
            for t, g in zip(tensors, stream[step].values(), strict=True):
                t.grad = torch.from_numpy(g.copy())
            reference.step()
            scheduler.step()
            assert_close(ours, {k: t.detach().numpy() for k, t in zip(ours, tensors, strict=True)},
                         step, name)  # fmt: skip

        opt = get_optimizer(name, learning_rate=exponential_decay(lr, gamma=0.98), **kw)
        run_ours(opt, params, stream, check)


# ============================================================================= Optax


@pytest.fixture(scope="module")
def optax64():
    """Optax with JAX in float64."""
    optax = pytest.importorskip(
        "optax",
        reason="Lion and schedule-free are checked against Optax: install jax and optax "
        "(the 'test' extra)",
    )
    import jax

    jax.config.update("jax_enable_x64", True)
    return optax


def float64_warmup(lr: float, W: int):
    """Optax's ``warmup_constant_schedule(0, lr, W)`` computed in float64 (Optax's own
    computes it in float32 even with x64 on: ``test_linear_warmup_is_optax_warmup``)."""
    import jax.numpy as jnp

    return lambda count: lr * (jnp.minimum(count, W).astype(jnp.float64) / W)


def optax_reference(optax, name, lr, kw):
    """The Optax counterpart of ``get_optimizer(name, learning_rate=lr, **kw)``."""
    kw = dict(kw)
    if name == "lion":
        return optax.lion(lr, **kw)
    W = kw.pop("warmup_steps", 0)
    rate = float64_warmup(lr, W) if W else lr
    if name == "schedule_free_adamw":
        return optax.contrib.schedule_free_adamw(rate, **kw)
    return optax.contrib.schedule_free_sgd(rate, **kw)


OPTAX_CASES = [
    ("lion", {}, 0.01),
    ("lion", {"b1": 0.5, "b2": 0.9, "weight_decay": 0.1}, 0.01),
    ("schedule_free_adamw", {}, 0.01),
    (
        "schedule_free_adamw",
        {
            "warmup_steps": 20,
            "b1": 0.95,
            "b2": 0.99,
            "eps": 1e-6,
            "weight_decay": 0.1,
            "weight_lr_power": 1.0,
        },
        0.01,
    ),
    ("schedule_free_sgd", {}, 0.01),
    (
        "schedule_free_sgd",
        {"warmup_steps": 10, "b1": 0.8, "weight_decay": 0.01, "weight_lr_power": 3.0},
        0.005,
    ),
]


def run_against_optax(optax, ours, reference, params, stream, members=None):
    """Step both; after every step compare the params and, for schedule-free, the evaluation
    points (Optax's ``schedule_free_eval_params``). ``members``: compare member k of ours
    with ``reference[k]`` (a population against one Optax run per member). Optax's steps
    are compiled by ``jax.jit``."""
    import jax
    import jax.numpy as jnp

    refs = [reference] if members is None else reference
    pick = (lambda tree, k: tree) if members is None else (lambda tree, k: {
        n: v[k] for n, v in tree.items()})  # fmt: skip
    jparams = [{n: jnp.asarray(v) for n, v in pick(params, k).items()} for k in range(len(refs))]
    jstates = [r.init(p) for r, p in zip(refs, jparams, strict=True)]
    averaging = isinstance(jstates[0], optax.contrib.ScheduleFreeState)

    def stepper(r):
        def step(grads, state, params):
            u, state = r.update(grads, state, params)
            return optax.apply_updates(params, u), state

        return jax.jit(step)

    steps = [stepper(r) for r in refs]
    evaluate = jax.jit(optax.contrib.schedule_free_eval_params)

    def check(step, mine, state):
        for k in range(len(refs)):
            grads = {n: jnp.asarray(g) for n, g in pick(stream[step], k).items()}
            jparams[k], jstates[k] = steps[k](grads, jstates[k], jparams[k])
            assert_close(pick(mine, k), jparams[k], step, f"y of member {k}")
            if averaging:
                x = evaluate(jstates[k], jparams[k])
                assert_close(pick(evaluation_params(state, mine), k), x, step, f"x {k}")

    return run_ours(ours, params, stream, check)


@pytest.mark.parametrize(
    ("name", "kw", "lr"), OPTAX_CASES, ids=[f"{n}-{k}" for n, k, _ in OPTAX_CASES]
)
def test_matches_optax_step_for_step(optax64, name, kw, lr):
    final, _ = run_against_optax(
        optax64, get_optimizer(name, learning_rate=lr, **kw), optax_reference(optax64, name, lr, kw),
        start(3), gradient_stream(3),
    )  # fmt: skip
    assert max(np.max(np.abs(final[k] - p)) for k, p in start(3).items()) > 10 * lr


OPTAX_POPULATION = {
    "lion": {"learning_rate": [0.01, 0.003, 0.03], "b1": [0.9, 0.5, 0.0],
             "b2": [0.99, 0.9, 0.5], "weight_decay": [1e-3, 0.1, 0.0]},
    "schedule_free_adamw": {"learning_rate": [0.01, 0.02, 0.005], "b1": [0.9, 0.5, 0.98],
                            "b2": [0.999, 0.9, 0.99], "weight_decay": [0.0, 0.1, 0.01],
                            "weight_lr_power": [2.0, 0.0, 4.0]},
    "schedule_free_sgd": {"learning_rate": [0.01, 0.02, 0.005], "b1": [0.9, 0.5, 0.98],
                          "weight_decay": [0.0, 0.1, 0.01], "weight_lr_power": [2.0, 1.0, 0.5]},
}  # fmt: skip


@pytest.mark.parametrize("name", list(OPTAX_POPULATION))
def test_population_matches_one_optax_run_per_member(optax64, name):
    space, K = OPTAX_POPULATION[name], 3
    references = [
        optax_reference(optax64, name, space["learning_rate"][k],
                        {h: v[k] for h, v in space.items() if h != "learning_rate"})
        for k in range(K)
    ]  # fmt: skip
    ours = get_optimizer(name, **{h: np.array(v) for h, v in space.items()})
    run_against_optax(optax64, ours, references, start(4, K), gradient_stream(4, K), members=K)


def test_schedule_free_reads_a_schedule_as_optax_does(optax64):
    """A schedule is called with the step count by the base step and one step ahead by the
    averaging weight, in both (Optax's side: the same exponential decay in float64)."""
    import jax.numpy as jnp

    ours = exponential_decay(0.02, gamma=0.97)
    theirs = lambda count: 0.02 * 0.97 ** count.astype(jnp.float64)  # noqa: E731
    assert [ours(t) for t in range(3)] == [float(theirs(jnp.asarray(t))) for t in range(3)]
    for mine, reference in [
        (schedule_free_sgd(ours, weight_lr_power=3.0),
         optax64.contrib.schedule_free_sgd(theirs, weight_lr_power=3.0)),
        (schedule_free_adamw(ours), optax64.contrib.schedule_free_adamw(theirs)),
        (lion(ours), optax64.lion(theirs)),
    ]:  # fmt: skip
        run_against_optax(optax64, mine, reference, start(5), gradient_stream(5))


def test_linear_warmup_is_optax_warmup(optax64):
    """``warmup_steps`` is descentlab's ``linear_warmup``; Optax's ``warmup_steps`` builds
    ``warmup_constant_schedule``, the same ramp (in float32: to 1e-6 here)."""
    reference = optax64.warmup_constant_schedule(0.0, 0.01, 10)
    ours = linear_warmup(0.01, 10)
    values = [float(reference(t)) for t in range(15)]
    np.testing.assert_allclose([ours(t) for t in range(15)], values, rtol=1e-6, atol=0)
    lr = lambda o: [float(s.learning_rate) for s in [o.init(start(0))[2]]]  # noqa: E731
    assert lr(schedule_free_adamw(0.01, warmup_steps=10)) == [0.0]


# ============================================================================= by hand

RNG = np.random.default_rng(11)
G = RNG.standard_normal((3, 2))
M = RNG.standard_normal((3, 2))
S = RNG.random((3, 2))
W = RNG.standard_normal((3, 2))


def one_step(transform, state_fields, g=G, params=None):
    """The update of ``transform`` from its init state with ``state_fields`` replaced."""
    state = transform.init({"w": W})._replace(**state_fields)
    return transform.update({"w": g}, state, {"w": W} if params is None else params)


def test_nadam_one_step_from_a_nontrivial_state():
    b1, b2, eps, psi, t = 0.8, 0.9, 1e-3, 0.1, 7
    u, state = one_step(scale_by_nadam(b1, b2, eps, psi),
                        {"count": t - 1, "mu": {"w": M}, "nu": {"w": S}, "mu_product": 0.3})  # fmt: skip
    mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_n = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    v, s = b1 * M + (1 - b1) * G, b2 * S + (1 - b2) * G**2
    d = np.sqrt(s / (1 - b2**t)) + eps
    expected = (1 - mu_t) / (1 - 0.3 * mu_t) * G / d + mu_n / (1 - 0.3 * mu_t * mu_n) * v / d
    np.testing.assert_allclose(u["w"], expected, rtol=1e-14)
    assert state.mu_product == pytest.approx(0.3 * mu_t, rel=1e-15)
    assert nadam_momentum(b1, psi, t) == mu_t
    np.testing.assert_allclose(state.nu["w"], s, rtol=1e-15)


@pytest.mark.parametrize("t", [3, 40])
def test_radam_one_step_from_a_nontrivial_state(t):
    b1, b2, eps = 0.8, 0.9, 1e-3
    u, _ = one_step(scale_by_radam(b1, b2, eps), {"count": t - 1, "mu": {"w": M}, "nu": {"w": S}})
    v, s = b1 * M + (1 - b1) * G, b2 * S + (1 - b2) * G**2
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    v_hat = v / (1 - b1**t)
    if rho > 5:
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        expected = v_hat * r * np.sqrt(1 - b2**t) / (np.sqrt(s) + eps)
    else:
        expected = v_hat
    assert radam_rectification(b2, t)[0] == (t == 40)
    np.testing.assert_allclose(u["w"], expected, rtol=1e-14)


def test_radam_rectifies_each_member_by_its_own_rho():
    rectify, r = radam_rectification(np.array([0.9, 0.6, 0.999]), 10)
    assert rectify.tolist() == [True, False, True]
    assert r[0] == pytest.approx(radam_rectification(0.9, 10)[1], rel=1e-15) and r[1] == 0.0


def test_adamax_one_step_from_a_nontrivial_state():
    b1, b2, eps, t = 0.8, 0.9, 1e-3, 5
    u, state = one_step(scale_by_adamax(b1, b2, eps),
                        {"count": t - 1, "mu": {"w": M}, "nu": {"w": S}})  # fmt: skip
    v, w = b1 * M + (1 - b1) * G, np.maximum(b2 * S, np.abs(G) + eps)
    np.testing.assert_allclose(u["w"], v / (1 - b1**t) / w, rtol=1e-15)
    np.testing.assert_array_equal(state.nu["w"], w)


def test_adadelta_one_step_from_a_nontrivial_state():
    rho, eps = 0.7, 1e-3
    u, state = one_step(scale_by_adadelta(rho, eps), {"nu": {"w": S}, "delta_nu": {"w": S[::-1]}})
    s = rho * S + (1 - rho) * G**2
    d = np.sqrt(S[::-1] + eps) / np.sqrt(s + eps) * G
    np.testing.assert_allclose(u["w"], d, rtol=1e-15)
    np.testing.assert_allclose(state.delta_nu["w"], rho * S[::-1] + (1 - rho) * d**2, rtol=1e-15)


def test_lion_one_step_from_a_nontrivial_state():
    u, state = one_step(scale_by_lion(0.7, 0.9), {"mu": {"w": M}})
    np.testing.assert_array_equal(u["w"], np.sign(0.7 * M + 0.3 * G))
    np.testing.assert_allclose(state.mu["w"], 0.9 * M + 0.1 * G, rtol=1e-15)


def test_rprop_one_step_from_a_nontrivial_state():
    prev = np.array([[1.0, -1.0], [0.0, 2.0], [-3.0, 0.5]])
    g = np.array([[2.0, 3.0], [1.0, 0.5], [-1.0, 0.0]])
    r = np.array([[1.0, 2.0], [3.0, 0.01], [100.0, 4.0]])
    u, state = one_step(scale_by_rprop(0.5, 1.2, 0.05, 110.0),
                        {"prev": {"w": prev}, "scale": {"w": r}}, g=g)  # fmt: skip
    # signs of g * prev: +, -, 0, +, +, 0 -> factors 1.2, 0.5, 1, 1.2, 1.2, 1 (then clipped)
    expected_r = np.array([[1.2, 1.0], [3.0, 0.05], [110.0, 4.0]])
    np.testing.assert_allclose(state.scale["w"], expected_r, rtol=1e-15)
    np.testing.assert_array_equal(state.prev["w"], [[2.0, 0.0], [1.0, 0.5], [-1.0, 0.0]])
    np.testing.assert_allclose(u["w"], [[1.2, 0.0], [3.0, 0.05], [-110.0, 0.0]], rtol=1e-15)


def test_schedule_free_one_step_from_a_nontrivial_state():
    b1, lr, p = 0.8, 0.5, 2.0
    Z, U = M, G  # z and the base step
    u, state = one_step(scale_by_schedule_free(lr, b1, p),
                        {"count": 3, "weight_sum": 0.75, "max_lr": 0.5, "z": {"w": Z}}, g=U)  # fmt: skip
    c = 0.25 / 1.0
    x = (W - (1 - b1) * Z) / b1
    z = Z + U
    x = (1 - c) * x + c * z
    np.testing.assert_allclose(u["w"], b1 * x + (1 - b1) * z - W, rtol=1e-13)
    np.testing.assert_allclose(state.z["w"], z, rtol=1e-15)
    np.testing.assert_allclose(state.eval_params({"w": W + u["w"]})["w"], x, rtol=1e-12)
    assert (state.weight_sum, state.count) == (1.0, 4)


# ============================================================================= equivalences


def path(opt, steps=30, seed=6):
    params, grads = start(seed), gradient_stream(seed)[:steps]
    return run_ours(opt, params, grads, lambda *a: None)[0]


def test_equivalences_between_the_new_optimizers():
    for a, b in [
        (nadamw(0.01, weight_decay=0.0), nadam(0.01)),
        (radam(0.01, decoupled_weight_decay=True), radam(0.01)),
        (schedule_free(sgd(0.01), 0.01, b1=0.8), schedule_free_sgd(0.01, b1=0.8)),
    ]:
        pa, pb = path(a), path(b)
        for k, v in pa.items():
            np.testing.assert_array_equal(v, pb[k])
    # RAdam is never rectified while rho_inf = 2 / (1 - b2) - 1 <= 5: bias-corrected momentum
    # SGD, whatever b2 is
    pa, pb = path(radam(0.01, b2=0.5)), path(radam(0.01, b2=0.6))
    for k, v in pa.items():
        np.testing.assert_array_equal(v, pb[k])


def test_schedule_free_sgd_at_a_constant_rate_evaluates_at_the_average_of_z():
    opt = schedule_free_sgd(0.05, b1=0.7)
    params, stream = start(7), gradient_stream(7)[:25]
    zs = []
    final, state = run_ours(opt, params, stream, lambda step, p, s: zs.append(s[-1].z))
    x = evaluation_params(state, final)
    for k in params:
        np.testing.assert_allclose(x[k], np.mean([z[k] for z in zs], axis=0), rtol=1e-12)


PARABOLA = [
    (nadam(0.1), 300), (nadamw(0.1, weight_decay=0.0), 300), (radam(0.1), 300),
    (adamax(0.1), 300), (adadelta(1.0, eps=1e-4), 2000), (rprop(0.1), 100),
    (lion(0.01, weight_decay=0.0), 800), (schedule_free_adamw(0.1), 400),
    (schedule_free_sgd(0.1), 300),
]  # fmt: skip


@pytest.mark.parametrize(("opt", "steps"), PARABOLA, ids=[n for n in NEW])
def test_converges_on_a_parabola(opt, steps):
    """f(x) = sum(x**2) from (1, -2): the evaluation point ends within 0.02 of 0."""
    params = {"x": np.array([1.0, -2.0])}
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update({"x": 2 * params["x"]}, state, params)
        params = apply_updates(params, updates)
    assert np.max(np.abs(evaluation_params(state, params)["x"])) < 0.02


# ============================================================================= population


PER_MEMBER = {
    "nadam": {"b1": [0.9, 0.0], "momentum_decay": [4e-3, 1.0]},
    "nadamw": {"weight_decay": [0.0, 0.3], "eps": [1e-8, 1e-2]},
    "radam": {"b2": [0.999, 0.8], "weight_decay": [0.1, 0.0]},
    "adamax": {"b2": [0.999, 0.5], "eps": [1e-8, 1e-2]},
    "adadelta": {"decay": [0.9, 0.3], "eps": [1e-6, 1e-2]},
    "rprop": {"eta_minus": [0.5, 0.1], "max_step_size": [50.0, 0.02]},
    "lion": {"b1": [0.9, 0.1], "b2": [0.99, 0.5]},
    "schedule_free_adamw": {"b1": [0.9, 0.2], "weight_lr_power": [2.0, 0.0]},
    "schedule_free_sgd": {"b1": [0.9, 0.2], "weight_decay": [0.0, 0.5]},
}


@pytest.mark.parametrize("name", NEW)
def test_per_member_hyperparameters_and_stacking_equal_separate_runs(name):
    """A population of 2 with per-member settings, and the same optimizer as two blocks of
    ``stack_optimizers`` beside plain SGD, equal each member trained alone (with the member's
    evaluation point)."""
    space = PER_MEMBER[name]
    lr = np.array([0.02, 0.05])
    together = get_optimizer(name, learning_rate=lr, **{h: np.array(v) for h, v in space.items()})
    alone = [get_optimizer(name, learning_rate=lr[k], **{h: v[k] for h, v in space.items()})
             for k in range(2)]  # fmt: skip
    stacked = stack_optimizers([sgd(0.1), alone[0], alone[1]], [1, 1, 1])
    params, stream = start(9, 3), gradient_stream(9, 3)[:15]
    mine, state = run_ours(together, {k: v[1:] for k, v in params.items()},
                           [{k: v[1:] for k, v in g.items()} for g in stream], lambda *a: None)  # fmt: skip
    both, stack_state = run_ours(stacked, params, stream, lambda *a: None)
    x, x_stacked = evaluation_params(state, mine), evaluation_params(stack_state, both)
    for k in range(2):
        solo, solo_state = run_ours(alone[k], {n: v[k + 1] for n, v in params.items()},
                                    [{n: v[k + 1] for n, v in g.items()} for g in stream],
                                    lambda *a: None)  # fmt: skip
        solo_x = evaluation_params(solo_state, solo)
        for n in params:
            np.testing.assert_allclose(mine[n][k], solo[n], rtol=1e-13, atol=1e-300)
            np.testing.assert_array_equal(both[n][k + 1], solo[n])
            np.testing.assert_allclose(x[n][k], solo_x[n], rtol=1e-13, atol=1e-300)
            np.testing.assert_array_equal(x_stacked[n][k + 1], solo_x[n])
    for n in params:  # the SGD block is evaluated where it trains
        np.testing.assert_array_equal(x_stacked[n][0], both[n][0])


def layout_of(tree):
    """The types and shapes of every leaf of an optimizer state, in order."""
    if isinstance(tree, dict):
        return [(k, layout_of(v)) for k, v in tree.items()]
    if isinstance(tree, tuple):
        return [type(tree).__name__] + [layout_of(v) for v in tree]
    return (type(tree).__name__, np.shape(tree))


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("rate", ["number", "array", "schedule"])
def test_a_state_keeps_its_layout_as_it_updates(name, rate):
    """What ``init`` gives has the types and shapes of every later state (a checkpoint
    rebuilds a state from ``init``), with per-member settings or a per-member schedule."""
    lr = {"number": 0.01, "array": np.array([0.01, 0.02, 0.03]),
          "schedule": exponential_decay(np.array([0.01, 0.02, 0.03]), gamma=0.9)}[rate]  # fmt: skip
    opt = get_optimizer(name, learning_rate=lr)
    params, stream = start(10, 3), gradient_stream(10, 3)[:3]
    first = layout_of(opt.init(params))
    _, state = run_ours(opt, params, stream, lambda *a: None)
    assert layout_of(state) == first


# ============================================================================= refusals


def raised(build, kind=InvalidParameterError) -> str:
    with pytest.raises(kind) as info:
        build()
    return str(info.value)


def test_refusals_name_the_argument_in_one_line():
    cases = [
        (lambda: nadam(0.1, momentum_decay=-1.0),
         "The 'momentum_decay' parameter of nadam must be a float >= 0.0. Got -1.0 instead."),
        (lambda: schedule_free_sgd(0.1, b1=0.0),
         "The 'b1' parameter of schedule_free_sgd must be a float in the range (0.0, 1.0). "
         "Got 0.0 instead."),
        (lambda: rprop(0.1, eta_plus=1.0),
         "The 'eta_plus' parameter of rprop must be a float > 1.0. Got 1.0 instead."),
        (lambda: rprop(0.1, eta_minus=np.array([0.5, 1.0])),
         "The 'eta_minus' parameter of rprop must be a float in the range (0.0, 1.0). "
         "Got [0.5, 1.0] instead."),
        (lambda: rprop(0.1, min_step_size=1.0, max_step_size=0.5),
         "The 'min_step_size' parameter of rprop must be at most 'max_step_size' (for every "
         "member). Got min_step_size=1.0 and max_step_size=0.5."),
        (lambda: rprop(linear_warmup(0.1, 5)),
         "The 'learning_rate' parameter of rprop is its first step size and must be > 0 at "
         "step 0; the schedule gives 0.0 (a warm-up from 0?)."),
        (lambda: adadelta(1.0, eps=0.0),
         "The 'eps' parameter of adadelta must be a float > 0.0. Got 0.0 instead."),
        (lambda: schedule_free_adamw(0.1, warmup_steps=1.5),
         "The 'warmup_steps' parameter of schedule_free_adamw must be an int in the range "
         "[0, 9007199254740992]. Got 1.5 instead."),
        (lambda: schedule_free_adamw(0.1, weight_lr_power=17),
         "The 'weight_lr_power' parameter of schedule_free_adamw must be a float in the range "
         "[0.0, 16.0]. Got 17 instead."),
        (lambda: radam(0.1, decoupled_weight_decay=1),
         "The 'decoupled_weight_decay' parameter of radam must be one of True, False. "
         "Got 1 instead."),
        (lambda: lion(0.1, b1=np.array([0.9, 0.8]), b2=np.array([0.9, 0.8, 0.7])),
         "The per-member hyperparameters of lion must all have the same length K (one value "
         "per population member); 'b1' has 2, 'b2' has 3."),
        (lambda: schedule_free("adam", 0.1),
         "The 'base_optimizer' parameter of schedule_free must be a GradientTransformation "
         "(e.g. descentlab.optimizers.sgd(0.1)). Got str instead."),
        (lambda: scale_by_rprop(min_scale=2.0, max_scale=1.0),
         "The 'min_scale' parameter of scale_by_rprop must be at most 'max_scale' (for every "
         "member). Got min_scale=2.0 and max_scale=1.0."),
    ]  # fmt: skip
    for build, message in cases:
        assert raised(build) == message


def test_schedule_free_refuses_reduce_on_plateau_by_name():
    from descentlab.schedules import reduce_on_plateau

    for build in (schedule_free_adamw, lambda r: schedule_free_sgd(r, warmup_steps=3)):
        message = raised(lambda build=build: build(reduce_on_plateau(0.1)))
        assert message.startswith("The 'learning_rate' parameter of schedule_free_")
        assert "cannot be reduce_on_plateau(learning_rate=0.1" in message


def test_schedule_free_needs_the_params_it_trains():
    opt = scale_by_schedule_free(0.1)
    state = opt.init({"w": W})
    assert "needs the current params" in raised(lambda: opt.update({"w": G}, state), DataError)
    with pytest.raises(DataError, match="leading population axis of size 2"):
        scale_by_schedule_free(np.array([0.1, 0.2])).init({"w": W})


@pytest.mark.parametrize(
    "make",
    [scale_by_nadam, scale_by_radam, scale_by_adamax, scale_by_adadelta, scale_by_lion,
     scale_by_rprop],
)  # fmt: skip
def test_transforms_refuse_gradients_shaped_unlike_their_state(make):
    opt = make()
    state = opt.init({"w": W})
    with pytest.raises(DataError, match=r"missing \['w'\], unexpected \['v'\]"):
        opt.update({"v": G}, state)
    u, _ = opt.update({"w": G}, state)  # params are not needed
    assert u["w"].shape == G.shape


def test_schedule_free_evaluation_needs_params_shaped_like_z():
    state = schedule_free_sgd(0.1).init({"w": W})[-1]
    message = raised(lambda: state.eval_params({"W1": W}), DataError)
    assert message == (
        "schedule-free eval_params needs params shaped like the optimizer state's z, "
        "{'w': (3, 2)}; got {'W1': (3, 2)}."
    )
    with pytest.raises(DataError, match="shaped like"):
        state.eval_params({"w": W[:1]})


def test_registry_specs_and_states():
    assert set(NEW) <= set(OPTIMIZERS)
    build_optimizer("adadelta", {"rho": 0.95}, 1.0)  # rho is short for decay, as for rmsprop
    assert resolve_hyperparameters("schedule_free_adamw") == {
        "warmup_steps": 0, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
        "weight_lr_power": 2.0,
    }  # fmt: skip
    kinds = {
        "nadam": ScaleByNadamState, "nadamw": ScaleByNadamState, "radam": ScaleByRadamState,
        "adamax": ScaleByAdamaxState, "adadelta": ScaleByAdadeltaState,
        "rprop": ScaleByRpropState, "lion": ScaleByLionState,
        "schedule_free_adamw": ScaleByRmsState, "schedule_free_sgd": ScheduleFreeState,
    }  # fmt: skip
    for name, kind in kinds.items():
        state = get_optimizer(name.upper(), learning_rate=0.25).init({"w": W})
        assert any(isinstance(s, kind) for s in state)
        rates = [s for s in state if isinstance(s, ScaleByLearningRateState)]
        assert rates == [ScaleByLearningRateState(0, 0.25)]


# ============================================================================= training

RNG_DATA = np.random.default_rng(12)
X = RNG_DATA.normal(size=(2, 48))
Y = (X[0] * X[1] > 0).astype(int)
NET = MLP((2, 6, 1), activation="tanh")


def test_training_reports_the_optax_evaluation_point_of_the_same_steps(optax64):
    """Full-batch training with ``engine="numpy"``: ``result.params`` are Optax's
    ``schedule_free_eval_params`` after the same steps, ``result.train_params`` its y."""
    import jax
    import jax.numpy as jnp

    params0 = NET.init(3)
    result = train(NET, schedule_free_adamw(0.05, warmup_steps=5, weight_decay=0.01), X, Y,
                   epochs=40, batch_size=48, params=params0, engine="numpy")  # fmt: skip
    reference = optax64.contrib.schedule_free_adamw(float64_warmup(0.05, 5), weight_decay=0.01)
    y = {k: jnp.asarray(v) for k, v in params0.items()}
    state = reference.init(y)
    targets = NET.targets(Y)
    step = jax.jit(reference.update)
    for _ in range(40):
        _, grads = NET.loss_and_grads({k: np.asarray(v) for k, v in y.items()}, X, targets)
        updates, state = step({k: jnp.asarray(g) for k, g in grads.items()}, state, y)
        y = optax64.apply_updates(y, updates)
    assert_close(result.train_params, y, 40, "y")
    assert_close(result.params, optax64.contrib.schedule_free_eval_params(state, y), 40, "x")
    assert np.max(np.abs(result.params["W1"] - result.train_params["W1"])) > 1e-3
    assert result.history.train_accuracy[-1] == NET.accuracy(result.params, X, Y)


def test_training_evaluates_at_x_and_resumes_exactly_from_y():
    opt = schedule_free_sgd(0.2, b1=0.8, weight_decay=1e-3)
    kw = dict(batch_size=16, shuffle="none", engine="numpy", validation=(X, Y), eval_every=5)
    whole = train(NET, opt, X, Y, epochs=20, params=NET.init(4), **kw)
    # the loop's optimizer state covers the parameters as one flat vector "theta"
    flat = {"theta": np.concatenate([v.ravel() for v in whole.train_params.values()])}
    x = np.split(evaluation_params(whole.opt_state, flat)["theta"], [12, 18, 24])
    for k, v in zip(whole.params, x, strict=True):
        np.testing.assert_array_equal(whole.params[k].ravel(), v)
    assert whole.resume_params is whole.train_params
    assert whole.history.val_accuracy[-1] == NET.accuracy(whole.params, X, Y)
    assert whole.history.val_cost[-1] == NET.cost(whole.params, X, NET.targets(Y))
    half = train(NET, opt, X, Y, epochs=10, params=NET.init(4), **kw)
    rest = train(NET, opt, X, Y, epochs=10, params=half.resume_params, opt_state=half.opt_state,
                 **kw)  # fmt: skip
    wrong = train(NET, opt, X, Y, epochs=10, params=half.params, opt_state=half.opt_state, **kw)
    for k in whole.params:
        np.testing.assert_array_equal(rest.params[k], whole.params[k])
        np.testing.assert_array_equal(rest.train_params[k], whole.train_params[k])
        assert not np.array_equal(wrong.params[k], whole.params[k])  # x is not where to resume
    np.testing.assert_array_equal(rest.history.cost, whole.history.cost[10:])


def test_a_diverged_member_keeps_its_evaluation_point_of_the_epoch_it_diverged():
    opt = schedule_free_sgd(np.array([0.1, 5e3]))
    params = NET.init([1, 2])
    kw = dict(epochs=12, batch_size=16, shuffle="none", engine="numpy")
    result = train(NET, opt, X, Y, params=params, **kw)
    assert result.diverged.tolist() == [False, True]
    lone = train(NET, schedule_free_sgd(5e3), X, Y, params={k: v[1] for k, v in params.items()},
                 **kw)  # fmt: skip
    member = result.member(1)
    assert (member.status, lone.status) == ("diverged", "diverged")
    for k in lone.params:
        np.testing.assert_array_equal(member.params[k], lone.params[k])
        np.testing.assert_array_equal(member.train_params[k], lone.train_params[k])


def test_the_estimator_continues_a_schedule_free_run_from_y_and_predicts_with_x():
    """``partial_fit`` twice equals ``fit`` for two epochs: the warm start takes the training
    point y (``resume_params``), while ``params_`` (what predicts) is the evaluation point x."""
    from descentlab.estimator import DescentClassifier

    kw = dict(hidden_layer_sizes=(4,), optimizer="schedule_free_sgd", learning_rate=0.3,
              batch_size=16, shuffle=False, tol=None, random_state=0, engine="numpy")  # fmt: skip
    whole = DescentClassifier(epochs=2, **kw).fit(X.T, Y)
    steps = DescentClassifier(**kw)
    steps.partial_fit(X.T, Y, classes=[0, 1]).partial_fit(X.T, Y)
    for k, v in whole.params_.items():
        np.testing.assert_array_equal(steps.params_[k], v)
    np.testing.assert_array_equal(whole.predict_proba(X.T), steps.predict_proba(X.T))
