"""Trajectories of the modern optimizers: schedule-free paths are the evaluation point x, and
the command line gives each optimizer a default rate of the right kind."""

from __future__ import annotations

import argparse
import io

import numpy as np
import pytest

from descentlab.cli.trajectories import ADAPTIVE, OWN_RATE, add_parser, default_learning_rate, run
from descentlab.optimizers import OPTIMIZERS, get_optimizer
from descentlab.surfaces import SURFACES, Himmelblau, Rosenbrock
from descentlab.trajectories import run_trajectory


def schedule_free_reference(grad, start, steps, lr, b1, base):
    """Defazio et al. 2024 (Algorithm 1), constant rate, averaging weight ``lr**2``: then
    ``c_{t+1} = 1 / (t + 1)``. ``base(g, t)`` is the step direction of ``z`` at step t (from 1).

        y_t = (1 - b1) z_t + b1 x_t
        z_{t+1} = z_t - lr * base(grad(y_t), t + 1)
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}

    Returns the x sequence ``(steps + 1, 2)`` and the y sequence (where the gradients were taken).
    """
    x = z = np.array(start, dtype=float)
    xs, ys = [x], []
    for t in range(steps):
        y = (1 - b1) * z + b1 * x
        ys.append(y)
        z = z - lr * base(grad(y), t + 1)
        c = 1 / (t + 1)
        x = (1 - c) * x + c * z
        xs.append(x)
    return np.array(xs), np.array(ys)


def sgd_direction(g, t):
    return g


def adam_direction(b2=0.999, eps=1e-8):
    """Adam without momentum: ``s = b2 s + (1 - b2) g**2``, ``g / (sqrt(s / (1 - b2**t)) + eps)``."""
    s = np.zeros(2)

    def direction(g, t):
        nonlocal s
        s = b2 * s + (1 - b2) * g * g
        return g / (np.sqrt(s / (1 - b2**t)) + eps)

    return direction


CASES = [
    ("schedule_free_sgd", 0.01, 0.9, lambda: sgd_direction),
    ("schedule_free_adamw", 0.05, 0.9, adam_direction),
]


@pytest.mark.parametrize(("name", "lr", "b1", "base"), CASES, ids=[c[0] for c in CASES])
def test_a_schedule_free_path_is_the_x_sequence_written_by_hand(name, lr, b1, base):
    surface, start, steps = Himmelblau(), (-0.5, -0.5), 150
    traj = run_trajectory(surface, get_optimizer(name, learning_rate=lr), start, steps)
    xs, ys = schedule_free_reference(surface.grad, start, steps, lr, b1, base())
    assert not traj.diverged and traj.n_steps == steps
    np.testing.assert_allclose(traj.path, xs, rtol=0, atol=1e-12 * np.abs(xs).max())
    np.testing.assert_array_equal(traj.losses, surface.f(traj.path))
    # the gradients were taken elsewhere: the drawn path is not the training point's
    assert np.abs(traj.path[1:] - ys).max() > 1e-2


OPTAX_CASES = [
    ("schedule_free_sgd", 0.0005, {"b1": 0.8, "weight_lr_power": 1.0}),
    ("schedule_free_adamw", 0.05, {"b1": 0.95, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.01}),
]


@pytest.mark.parametrize(("name", "lr", "kw"), OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES])
def test_a_schedule_free_path_is_optax_s_evaluation_point_step_by_step(name, lr, kw):
    """On Rosenbrock, 300 float64 steps: each drawn point equals Optax's
    ``schedule_free_eval_params`` after the same step, gradients taken at Optax's y."""
    optax = pytest.importorskip(
        "optax", reason="the schedule-free paths are checked against Optax: install jax and "
        "optax (the 'test' extra)",
    )  # fmt: skip
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    surface, start, steps = Rosenbrock(), (-1.5, 2.0), 300
    reference = getattr(optax.contrib, name)(lr, **kw)
    step = jax.jit(lambda g, state, p: reference.update(g, state, p))
    evaluate = jax.jit(optax.contrib.schedule_free_eval_params)
    params = {"xy": jnp.asarray(start, dtype=jnp.float64)}
    state, xs = reference.init(params), [np.array(start)]
    for _ in range(steps):
        g = {"xy": jnp.asarray(surface.grad(np.asarray(params["xy"])))}
        updates, state = step(g, state, params)
        params = optax.apply_updates(params, updates)
        xs.append(np.asarray(evaluate(state, params)["xy"]))
    traj = run_trajectory(surface, get_optimizer(name, learning_rate=lr, **kw), start, steps)
    np.testing.assert_allclose(traj.path, np.array(xs), rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- default rates

KINDS = {
    "gd": "lr", "momentum": "lr", "sgd": "lr", "nesterov": "lr", "radam": "lr",
    "schedule_free_sgd": "lr",
    "rmsprop": "adaptive", "adagrad": "adaptive", "adam": "adaptive", "adamw": "adaptive",
    "nadam": "adaptive", "nadamw": "adaptive", "adamax": "adaptive", "lion": "adaptive",
    "rprop": "adaptive", "schedule_free_adamw": "adaptive",
    "adadelta": "own",
}  # fmt: skip


def test_every_optimizer_has_a_default_rate_of_its_kind():
    assert set(KINDS) == set(OPTIMIZERS)  # a new optimizer needs a decision here
    assert ADAPTIVE == {name for name, kind in KINDS.items() if kind == "adaptive"}
    assert OWN_RATE == {"adadelta": 1.0}
    surface = SURFACES["rosenbrock"]
    rates = {name: default_learning_rate(name, surface) for name in KINDS}
    expected = {"lr": 0.001, "adaptive": 0.05, "own": 1.0}
    assert rates == {name: expected[kind] for name, kind in KINDS.items()}


def test_the_command_line_gives_the_new_optimizers_their_default_rates(tmp_path):
    parser = argparse.ArgumentParser(prog="descentlab")
    add_parser(parser.add_subparsers(dest="command"))
    names = ["lion", "radam", "adadelta", "rprop", "schedule_free_adamw", "schedule_free_sgd"]
    args = parser.parse_args(["trajectories", "--function", "rosenbrock", "--optimizers",
                              ",".join(names), "--steps", "40", "--out", str(tmp_path / "r.png")])  # fmt: skip
    out = io.StringIO()
    assert run(args, stdout=out) == 0
    rows = out.getvalue().splitlines()[2:]
    surface = Rosenbrock()
    rates = {"lion": 0.05, "radam": 0.001, "adadelta": 1.0, "rprop": 0.05,
             "schedule_free_adamw": 0.05, "schedule_free_sgd": 0.001}  # fmt: skip
    for row, name in zip(rows, names, strict=True):
        traj = run_trajectory(surface, get_optimizer(name, learning_rate=rates[name]), None, 40)
        assert row.split()[:3] == [name, f"{traj.final_loss:.6g}", "40"]
