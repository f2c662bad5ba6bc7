"""Every named optimizer equals its torch.optim counterpart, step for step, in float64.

Both sides see the same stream of random gradients (NumPy, set as ``param.grad``; no autograd)
for 200 steps on a dict of three arrays of different shapes and scales. After every 50 steps
each leaf must agree within 1e-10 relative to its largest entry:
``max|ours - torch| <= 1e-10 * max|torch|``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler  # noqa: E402

from descentlab import schedules  # noqa: E402
from descentlab.optimizers import apply_updates, get_optimizer  # noqa: E402

N_STEPS = 200
SHAPES = {"W1": (4, 3), "b1": (4, 1), "W2": (2, 4)}
GRAD_SCALES = {"W1": 1.0, "b1": 1e-3, "W2": 30.0}  # exercise eps in every regime
LEARNING_RATES = {
    "gd": 0.05,
    "sgd": 0.05,
    "nesterov": 0.05,
    "rmsprop": 0.01,
    "adagrad": 0.1,
    "adam": 0.01,
    "adamw": 0.01,
}

CASES = [
    ("gd", {}),
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "dampening": 0.1}),
    ("sgd", {"momentum": 0.9, "dampening": 1.0}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.5, "weight_decay": 0.01}),
    ("sgd", {"dampening": 0.5, "weight_decay": 0.1}),  # dampening is ignored without momentum
    ("sgd", {"momentum": 0.99, "nesterov": True, "weight_decay": 0.001}),
    ("nesterov", {}),
    ("nesterov", {"momentum": 0.5}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"decay": 0.9, "eps": 1e-6, "weight_decay": 0.01}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("adagrad", {}),
    ("adagrad", {"initial_accumulator_value": 0.1}),
    ("adagrad", {"eps": 1e-6, "weight_decay": 0.01}),
    ("adagrad", {"initial_accumulator_value": 0.5, "weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"weight_decay": 0.01}),
    ("adam", {"b1": 0.5, "b2": 0.9, "eps": 1e-6}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1, "b1": 0.0, "b2": 0.99}),
    ("adamw", {}),
    ("adamw", {"amsgrad": True}),
    ("adamw", {"weight_decay": 0.1, "b1": 0.8, "eps": 1e-6}),
    ("adamw", {"weight_decay": 0.0, "amsgrad": True}),
]


def torch_optimizer(name: str, tensors: list, lr: float, kw: dict):
    """The torch.optim counterpart of ``get_optimizer(name, learning_rate=lr, **kw)``."""
    optim = torch.optim
    betas = (kw.get("b1", 0.9), kw.get("b2", 0.999))
    if name == "gd":
        return optim.SGD(tensors, lr=lr)
    if name == "sgd":
        return optim.SGD(tensors, lr=lr, **kw)
    if name == "nesterov":
        return optim.SGD(tensors, lr=lr, momentum=kw.get("momentum", 0.9), nesterov=True)
    if name == "rmsprop":
        kw = dict(kw)
        return optim.RMSprop(tensors, lr=lr, alpha=kw.pop("decay", 0.99), **kw)
    if name == "adagrad":
        return optim.Adagrad(tensors, lr=lr, **kw)
    rest = {k: v for k, v in kw.items() if k not in ("b1", "b2")}
    if name == "adam":
        return optim.Adam(tensors, lr=lr, betas=betas, **rest)
    if name == "adamw":
        return optim.AdamW(tensors, lr=lr, betas=betas, **rest)
    raise AssertionError(name)


def assert_close(ours: dict, tensors: list, step: int) -> None:
    for (key, p), t in zip(ours.items(), tensors, strict=True):
        theirs = t.detach().numpy()
        err = np.max(np.abs(p - theirs))
        assert err <= 1e-10 * np.max(np.abs(theirs)), (key, step, err)


def run_both(name, kw, learning_rate, make_torch_scheduler=None, torch_lr=None, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    tensors = [torch.tensor(p.copy(), dtype=torch.float64) for p in params.values()]
    topt = torch_optimizer(name, tensors, torch_lr or learning_rate, kw)
    tsched = make_torch_scheduler(topt) if make_torch_scheduler else None
    opt = get_optimizer(name, learning_rate=learning_rate, **kw)
    state = opt.init(params)
    for step in range(N_STEPS):
        grads = {k: GRAD_SCALES[k] * rng.standard_normal(s) for k, s in SHAPES.items()}
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        for t, g in zip(tensors, grads.values(), strict=True):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
        if tsched is not None:
            tsched.step()
        if step % 50 == 49:
            assert_close(params, tensors, step)
    return params


@pytest.mark.parametrize(("name", "kw"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_torch_step_for_step(name, kw):
    params = run_both(name, kw, LEARNING_RATES[name])
    assert all(np.all(np.isfinite(p)) for p in params.values())


# (optimizer, kwargs, our schedule, torch's base lr, torch scheduler on that optimizer)
SCHEDULE_CASES = [
    (
        "adam",
        {},
        schedules.exponential_decay(0.01, gamma=0.99),
        0.01,
        lambda o: lr_scheduler.ExponentialLR(o, gamma=0.99),
    ),
    (
        "sgd",
        {"momentum": 0.9},
        schedules.step_decay(0.05, boundaries=30, factor=0.5),
        0.05,
        lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.5),
    ),
    (
        "adamw",
        {"weight_decay": 0.1},
        schedules.step_decay(0.01, boundaries=[50, 120], factor=0.1),
        0.01,
        lambda o: lr_scheduler.MultiStepLR(o, milestones=[50, 120], gamma=0.1),
    ),
    (
        "rmsprop",
        {"momentum": 0.9, "centered": True},
        schedules.cosine_decay(0.01, decay_steps=N_STEPS, final_value=1e-4),
        0.01,
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=N_STEPS, eta_min=1e-4),
    ),
    (
        "adam",
        {"amsgrad": True},
        schedules.linear_warmup(schedules.exponential_decay(0.01, 0.995), 25, init_value=0.001),
        0.01,
        lambda o: lr_scheduler.SequentialLR(
            o,
            [
                lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=25),
                lr_scheduler.ExponentialLR(o, gamma=0.995),
            ],
            milestones=[25],
        ),
    ),
    (
        "adagrad",
        {},
        schedules.inverse_time_decay(0.1, decay_rate=0.5, steps_per_epoch=10),
        0.1,
        lambda o: lr_scheduler.LambdaLR(o, lambda t: 1.0 / (1.0 + 0.5 * (t // 10))),
    ),
]


@pytest.mark.parametrize(
    ("name", "kw", "schedule", "base_lr", "make"),
    SCHEDULE_CASES,
    ids=[repr(c[2]) for c in SCHEDULE_CASES],
)
def test_scheduled_learning_rate_matches_torch_lr_scheduler(name, kw, schedule, base_lr, make):
    run_both(name, kw, schedule, make_torch_scheduler=make, torch_lr=base_lr, seed=1)
