"""The schedules of issue 11: one_cycle, sgdr, polynomial, wsd and reduce_on_plateau.

Each against its reference over every step of a run (PyTorch's lr_scheduler, float64, 1e-12
relative; WSD against Hägele et al.'s definition), hand-listed values, arrays of steps equal to
one step at a time, per-member settings, errors, and reduce_on_plateau fed by a loss: against
PyTorch's ReduceLROnPlateau, in ``train`` with validation data, in populations, and refused by
the compiled engine (which runs the step schedules with the NumPy engine's numbers).
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab._validation import DataError, InvalidParameterError
from descentlab.compiled.program import Unsupported, build_program
from descentlab.datasets import make_moons
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Population, Run
from descentlab.experiments.specs import ScheduleSpec, build_learning_rate, build_optimizer
from descentlab.nn import MLP
from descentlab.optimizers import adam, applied_learning_rate, gd, momentum, stack_optimizers
from descentlab.optimizers.base import observe
from descentlab.optimizers.plateau import PlateauState, ReduceOnPlateau
from descentlab.schedules import (
    SCHEDULES,
    Schedule,
    get_schedule,
    linear_warmup,
    one_cycle,
    polynomial_decay,
    reduce_on_plateau,
    sgdr,
    warmup_stable_decay,
)
from descentlab.training import train
from test_compiled import assert_same, both  # the engines' agreement, as test_compiled checks it
from test_optimizers import hostile_values

NEW = ["polynomial", "sgdr", "one_cycle", "wsd", "reduce_on_plateau"]

# ----------------------------------------------------------------------------- hand-listed values

# (schedule, its values at steps 0, 1, 2, ...), each worked out by hand from the docstring.
HAND_CASES = [
    (polynomial_decay(1.0, decay_steps=4), [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]),
    (polynomial_decay(1.0, decay_steps=2, power=2.0, final_value=0.5), [1.0, 0.625, 0.5, 0.5]),
    (polynomial_decay(1.0, 2, steps_per_epoch=2), [1.0, 1.0, 0.5, 0.5, 0.0]),
    (sgdr(1.0, period=2), [1.0, 0.5, 1.0, 0.5, 1.0]),
    (
        sgdr(1.0, period=1, period_mult=2, final_value=0.5),
        [1.0, 1.0, 0.75, 1.0, 0.5 + 0.25 * (1 + math.sqrt(0.5))],
    ),
    (sgdr(1.0, period=2, steps_per_epoch=2), [1.0, 1.0, 0.5, 0.5, 1.0, 1.0]),
    # T = 5, p = 0.6: phase ends 2 and 4; 0.25 -> 1 -> 0.125 (div 4, final div 2)
    (
        one_cycle(
            1.0, 5, pct_start=0.6, anneal_strategy="linear", div_factor=4.0, final_div_factor=2.0
        ),
        [0.25, 0.625, 1.0, 0.5625, 0.125, 0.125, 0.125],
    ),
    # T = 8, p = 3/8: phases end 2, 4, 7; 0.25 -> 1 -> 0.25 -> 0.125 along cosines
    (
        one_cycle(1.0, 8, pct_start=0.375, div_factor=4.0, final_div_factor=2.0, three_phase=True),
        [0.25, 0.625, 1.0, 0.625, 0.25, 0.21875, 0.15625, 0.125, 0.125],
    ),
    (
        one_cycle(1.0, epochs=2, steps_per_epoch=2, pct_start=0.75, div_factor=2.0),
        [0.5, 0.75, 1.0, 5e-5, 5e-5],
    ),
    (
        warmup_stable_decay(
            1.0, 8, warmup_steps=2, decay_fraction=0.5, final_value=0.2, warmup_init_value=0.5
        ),
        [0.5, 0.75, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2],
    ),
    (
        warmup_stable_decay(1.0, 5, decay_fraction=0.8, decay_shape="sqrt"),
        [1.0, 1.0, 0.5, 1 - math.sqrt(0.5), 1 - math.sqrt(0.75), 0.0],
    ),
    (warmup_stable_decay(1.0, 4, decay_fraction=0.0), [1.0, 1.0, 1.0, 1.0, 0.0]),
    (reduce_on_plateau(0.3), [0.3, 0.3, 0.3]),
]


@pytest.mark.parametrize(("schedule", "expected"), HAND_CASES, ids=[repr(c[0]) for c in HAND_CASES])
def test_values_by_hand(schedule, expected):
    got = [schedule(t) for t in range(len(expected))]
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-16)


# ----------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler  # noqa: E402

N_STEPS = 300


def torch_rates(make, n_steps, base_lr, every=1):
    """The lr PyTorch applies at each of ``n_steps`` optimizer steps, its scheduler stepped
    after every ``every`` of them (once per epoch), float64; not after the run's last step
    (OneCycleLR refuses a step past its cycle)."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    rates = []
    for t in range(n_steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if t % every == every - 1 and t < n_steps - 1:
            sched.step()
    return np.array(rates)


def _one_cycle_case(strategy, three, pct):
    return (
        f"OneCycleLR {strategy} three_phase={three} pct_start={pct}",
        one_cycle(0.1, N_STEPS, pct_start=pct, anneal_strategy=strategy, three_phase=three),
        lambda o: lr_scheduler.OneCycleLR(
            o,
            0.1,
            total_steps=N_STEPS,
            pct_start=pct,
            anneal_strategy=strategy,
            three_phase=three,
            cycle_momentum=False,
        ),
        1,
    )


TORCH_CASES = [
    *(
        _one_cycle_case(strategy, three, pct)
        for strategy in ("cos", "linear")
        for three in (False, True)
        for pct in (0.3, 0.0, 0.45, 0.8, 1.0)
    ),
    (
        "OneCycleLR epochs x steps_per_epoch, div factors",
        one_cycle(0.5, epochs=20, steps_per_epoch=15, div_factor=10.0, final_div_factor=50.0),
        lambda o: lr_scheduler.OneCycleLR(
            o,
            0.5,
            epochs=20,
            steps_per_epoch=15,
            div_factor=10.0,
            final_div_factor=50.0,
            cycle_momentum=False,
        ),
        1,
    ),
    *(
        (
            f"CosineAnnealingWarmRestarts T_0={t0} T_mult={mult} every {every}",
            sgdr(0.1, t0, mult, final_value=1e-3, steps_per_epoch=every),
            lambda o, t0=t0, mult=mult: lr_scheduler.CosineAnnealingWarmRestarts(
                o, T_0=t0, T_mult=mult, eta_min=1e-3
            ),
            every,
        )
        for t0, mult in ((10, 1), (7, 2), (3, 3), (1, 2))
        for every in (1, 7)
    ),
    *(
        (
            f"PolynomialLR total_iters={T} power={power} every {every}",
            polynomial_decay(0.1, T, power, steps_per_epoch=every),
            lambda o, T=T, power=power: lr_scheduler.PolynomialLR(o, total_iters=T, power=power),
            every,
        )
        for T, power, every in ((200, 1.0, 1), (N_STEPS, 2.0, 1), (150, 0.5, 1), (30, 0.9, 5))
    ),
]


@pytest.mark.parametrize(
    ("label", "ours", "make", "every"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES]
)
def test_matches_torch_lr_scheduler_at_every_step(label, ours, make, every):
    theirs = torch_rates(make, N_STEPS, ours(0) if "OneCycle" not in label else 0.1, every)
    mine = ours(np.arange(N_STEPS))
    # PolynomialLR multiplies its rate step by step (a few ulps per step); the others compute
    # each rate afresh. Where both are 0 the relative test passes exactly.
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=0)
    assert [ours(t) for t in range(N_STEPS)] == mine.tolist()


# ----------------------------------------------------------------------------- WSD's definition


def hagele_wsd(step, total, warmup, init_div, fraction, shape, final_factor):
    """The WSD factor of Hägele et al. (2024), as their ``wsd_schedule`` defines it: a
    warm-up from 1 / init_div, 1, then a cooldown over the last int(fraction * T) steps."""
    n_anneal = int(fraction * total)
    n_hold = total - n_anneal
    if step < warmup:
        return step / warmup + (1 - step / warmup) / init_div
    if step < n_hold:
        return 1.0
    if step < total:
        f = (step - n_hold) / n_anneal
        cut = 1 - f if shape == "linear" else 1 - math.sqrt(f)
        return final_factor + (1 - final_factor) * cut
    return final_factor


@pytest.mark.parametrize("shape", ["linear", "sqrt"])
@pytest.mark.parametrize(
    ("total", "warmup", "fraction", "final_factor"),
    [(300, 30, 0.2, 0.0), (257, 0, 0.1, 0.01), (100, 10, 0.333, 0.1), (50, 5, 0.9, 0.0)],
)
def test_wsd_matches_hagele_et_al_definition(shape, total, warmup, fraction, final_factor):
    peak, init_div = 0.3, 100.0
    ours = warmup_stable_decay(
        peak,
        total,
        warmup_steps=warmup,
        decay_fraction=fraction,
        decay_shape=shape,
        final_value=peak * final_factor,
        warmup_init_value=peak / init_div,
    )
    steps = range(total + 20)
    theirs = [
        peak * hagele_wsd(t, total, warmup, init_div, fraction, shape, final_factor) for t in steps
    ]
    np.testing.assert_allclose(ours(np.arange(total + 20)), theirs, rtol=1e-12, atol=1e-18)
    assert [ours(t) for t in steps] == ours(np.arange(total + 20)).tolist()


# ----------------------------------------------------------------------------- arrays of steps


STEP_SCHEDULES = [
    one_cycle(0.3, 1777, pct_start=0.37),
    one_cycle(0.3, 1777, three_phase=True, anneal_strategy="linear"),
    sgdr(0.2, 13, 3, final_value=1e-3, steps_per_epoch=3),
    sgdr(0.2, 7, final_value=1e-3),
    polynomial_decay(0.5, 1500, 0.7, final_value=0.01),
    warmup_stable_decay(
        0.5,
        1900,
        warmup_steps=111,
        decay_fraction=0.33,
        decay_shape="sqrt",
        final_value=0.01,
        warmup_init_value=0.02,
    ),
]


@pytest.mark.parametrize("schedule", STEP_SCHEDULES, ids=repr)
@settings(max_examples=25, deadline=None)
@given(steps=st.lists(st.integers(0, 2**63 - 1) | st.integers(0, 3000), min_size=1, max_size=30))
def test_array_of_steps_equals_one_step_at_a_time(schedule, steps):
    together = schedule(np.array(steps, dtype=np.int64))
    assert together.tolist() == [schedule(t) for t in steps]
    assert np.all((together >= 0) & (together <= 0.5))
    assert schedule(np.array(steps).reshape(1, -1)).shape == (1, len(steps))


# ----------------------------------------------------------------------------- per member

PER_MEMBER = [
    (
        polynomial_decay,
        {"learning_rate": [0.1, 0.2], "power": [1.0, 2.5], "final_value": [0.0, 0.05]},
        {"decay_steps": 7, "steps_per_epoch": 2},
    ),
    (
        sgdr,
        {"learning_rate": [0.1, 0.2], "final_value": [0.0, 0.05]},
        {"period": 3, "period_mult": 2},
    ),
    (
        one_cycle,
        {
            "learning_rate": [0.1, 0.2],
            "pct_start": [0.2, 0.5],
            "div_factor": [25.0, 5.0],
            "final_div_factor": [1e4, 3.0],
        },
        {"total_steps": 17, "three_phase": True},
    ),
    (
        warmup_stable_decay,
        {
            "learning_rate": [0.1, 0.2],
            "decay_fraction": [0.2, 0.45],
            "final_value": [0.0, 0.01],
            "warmup_init_value": [0.0, 0.1],
        },
        {"total_steps": 20, "warmup_steps": 3},
    ),
]


@pytest.mark.parametrize(
    ("factory", "arrays", "shared"), PER_MEMBER, ids=[c[0].__name__ for c in PER_MEMBER]
)
def test_per_member_settings_equal_separate_schedules(factory, arrays, shared):
    together = factory(**{k: np.array(v) for k, v in arrays.items()}, **shared)
    alone = [factory(**{k: v[i] for k, v in arrays.items()}, **shared) for i in range(2)]
    assert together.size == 2
    steps = np.arange(25)
    table = together(steps)
    assert table.shape == (25, 2)
    assert table.tolist() == np.stack([s(steps) for s in alone], axis=-1).tolist()
    assert [together(int(t)).tolist() for t in steps] == table.tolist()


# ----------------------------------------------------------------------------- by name

SPEC_CASES = [
    ("polynomial:decay_steps=2,power=2", [0.4, 0.4, 0.4, 0.1, 0.1, 0.1, 0.0]),
    ("polynomial_decay:decay_steps=2,power=2", [0.4, 0.4, 0.4, 0.1, 0.1, 0.1, 0.0]),
    ("sgdr:period=2", [0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.4]),
    (
        "one_cycle:epochs=2,pct_start=0.5,anneal_strategy=linear,div_factor=4,final_div_factor=1",
        [0.1, 0.25, 0.4, 0.3, 0.2, 0.1, 0.1],
    ),
    (
        "wsd:total_steps=6,warmup_steps=2,decay_fraction=0.5",
        [0.0, 0.2, 0.4, 0.4, 0.4 * 2 / 3, 0.4 / 3, 0.0],
    ),
    ("wsd:epochs=2,decay_fraction=0.5", [0.4, 0.4, 0.4, 0.4, 0.4 * 2 / 3, 0.4 / 3, 0.0]),
    ("reduce_on_plateau:patience=3", [0.4] * 7),
]


@pytest.mark.parametrize(("spec", "expected"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_built_from_a_spec_with_the_optimizers_rate_and_steps_per_epoch(spec, expected):
    rate = build_learning_rate(0.4, spec, steps_per_epoch=3)
    np.testing.assert_allclose([rate(t) for t in range(7)], expected, rtol=1e-15, atol=1e-17)


def test_registered_by_name_and_named_in_errors():
    assert list(SCHEDULES)[-5:] == NEW
    assert ScheduleSpec("One-Cycle").name == "one_cycle"
    with pytest.raises(InvalidParameterError, match="polynomial, sgdr, one_cycle, wsd, reduce_on"):
        get_schedule("cyclic", learning_rate=0.1)
    assert isinstance(get_schedule("sgdr", learning_rate=0.1, period=3), Schedule)
    assert isinstance(get_schedule("reduce_on_plateau", learning_rate=0.1), ReduceOnPlateau)


def test_wsd_takes_its_own_warmup_by_name_and_plateau_refuses_one():
    by_name = get_schedule(
        "wsd",
        learning_rate=1.0,
        total_steps=4,
        warmup_steps=2,
        warmup_init_value=0.5,
        decay_fraction=0.25,
    )
    # the warm-up is inside the 4 steps (not linear_warmup's 2 more in front)
    assert [by_name(t) for t in range(5)] == [0.5, 0.75, 1.0, 1.0, 0.0]
    # another schedule is wrapped in linear_warmup, which shifts it
    shifted = get_schedule("polynomial", learning_rate=1.0, decay_steps=2, warmup_steps=2)
    assert [shifted(t) for t in range(5)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    message = "reduce_on_plateau takes no warm-up: its rate follows the measured loss"
    with pytest.raises(InvalidParameterError, match=message):
        get_schedule("reduce_on_plateau", learning_rate=0.1, warmup_steps=3)
    with pytest.raises(InvalidParameterError, match=message):
        linear_warmup(reduce_on_plateau(0.1), 3)


# ----------------------------------------------------------------------------- errors

INVALID = [
    (polynomial_decay, {"learning_rate": 0.1, "decay_steps": 0}, "'decay_steps' parameter"),
    (polynomial_decay, {"learning_rate": 0.1, "decay_steps": 5, "power": 0.0}, "'power' param"),
    (polynomial_decay, {"learning_rate": 0.1, "decay_steps": 5, "power": -1.0}, "'power' param"),
    (sgdr, {"learning_rate": 0.1, "period": 2.5}, "'period' parameter"),
    (sgdr, {"learning_rate": 0.1, "period": 2, "period_mult": 0}, "'period_mult' parameter"),
    (sgdr, {"learning_rate": 0.1, "period": 2, "final_value": -0.1}, "'final_value' parameter"),
    (
        one_cycle,
        {"learning_rate": 0.1},
        "one_cycle needs either 'total_steps' or 'epochs'.*neither",
    ),
    (one_cycle, {"learning_rate": 0.1, "total_steps": 5, "epochs": 2}, "Got both"),
    (one_cycle, {"learning_rate": 0.1, "total_steps": 0}, "'total_steps' parameter"),
    (one_cycle, {"learning_rate": 0.1, "epochs": True}, "'epochs' parameter"),
    (
        one_cycle,
        {"learning_rate": 0.1, "epochs": 2**40, "steps_per_epoch": 2**20},
        r"'epochs' parameter of one_cycle times steps_per_epoch must be at most 2\*\*53",
    ),
    (one_cycle, {"learning_rate": 0.1, "total_steps": 9, "pct_start": 1.5}, "'pct_start' param"),
    (
        one_cycle,
        {"learning_rate": 0.1, "total_steps": 9, "anneal_strategy": "cosine"},
        "'anneal_strategy' parameter of one_cycle must be one of 'cos', 'linear'",
    ),
    (one_cycle, {"learning_rate": 0.1, "total_steps": 9, "div_factor": 0.5}, "'div_factor' p"),
    (
        one_cycle,
        {"learning_rate": 0.1, "total_steps": 9, "final_div_factor": np.nan},
        "'final_div_factor' parameter",
    ),
    (one_cycle, {"learning_rate": 0.1, "total_steps": 9, "three_phase": 1}, "'three_phase' p"),
    (
        warmup_stable_decay,
        {"learning_rate": 0.1, "total_steps": 10, "warmup_steps": 9},
        r"'warmup_steps' parameter of warmup_stable_decay must leave room for the decay: W \+ "
        r"floor\(decay_fraction \* T\) <= T. Got W = 9, decay steps 2, T = 10.",
    ),
    (
        warmup_stable_decay,
        {
            "learning_rate": 0.1,
            "total_steps": 10,
            "warmup_steps": 5,
            "decay_fraction": np.array([0.1, 0.6]),
        },
        r"decay steps \[1, 6\]",
    ),
    (
        warmup_stable_decay,
        {"learning_rate": 0.1, "total_steps": 10, "decay_shape": "cos"},
        "'decay_shape' parameter",
    ),
    (
        warmup_stable_decay,
        {"learning_rate": 0.1, "epochs": 3, "decay_fraction": 1.1},
        "'decay_fraction' parameter",
    ),
    (reduce_on_plateau, {"learning_rate": 0.1, "factor": 1.0}, r"'factor' .* \(0.0, 1.0\)"),
    (reduce_on_plateau, {"learning_rate": 0.1, "patience": -1}, "'patience' parameter"),
    (reduce_on_plateau, {"learning_rate": 0.1, "cooldown": 0.5}, "'cooldown' parameter"),
    (
        reduce_on_plateau,
        {"learning_rate": 0.1, "threshold": 1.0},
        r"'threshold' parameter of reduce_on_plateau must be a float in the range \[0.0, 1.0\) "
        "with threshold_mode='rel'. Got 1.0 instead.",
    ),
    (reduce_on_plateau, {"learning_rate": 0.1, "threshold_mode": "max"}, "'threshold_mode' p"),
    (reduce_on_plateau, {"learning_rate": 0.1, "min_lr": np.inf}, "'min_lr' parameter"),
    (reduce_on_plateau, {"learning_rate": 0.1, "eps": -1e-8}, "'eps' parameter"),
    (
        reduce_on_plateau,
        {"learning_rate": np.array([0.1, 0.2]), "factor": np.array([0.5] * 3)},
        "must all have the same length K",
    ),
]


@pytest.mark.parametrize(
    ("factory", "kw", "match"), INVALID, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(INVALID)]
)
def test_invalid_settings_raise_one_line_naming_the_argument(factory, kw, match):
    with pytest.raises(InvalidParameterError, match=match) as caught:
        factory(**kw)
    assert "\n" not in str(caught.value)


def test_a_large_absolute_threshold_is_allowed():
    assert reduce_on_plateau(0.1, threshold=5.0, threshold_mode="abs").rule.threshold == 5.0


# Settings near and beyond their bounds: valid ones up to the extremes, and any number at all,
# which each schedule must refuse by name or turn into finite rates in [0, 1e4] at every step.
ANY_FINITE = st.floats(allow_nan=False, allow_infinity=False)
ANY_WHOLE = st.integers(-(2**70), 2**70)
SETTINGS = {
    "learning_rate": st.floats(0.0, 1e4, exclude_min=True) | ANY_FINITE,
    "decay_steps": st.integers(1, 2**53) | ANY_WHOLE,
    "power": st.floats(0.0, 1e3, exclude_min=True) | ANY_FINITE,
    "final_value": st.floats(0.0, 1e4) | ANY_FINITE,
    "steps_per_epoch": st.integers(1, 2**53) | ANY_WHOLE,
    "period": st.integers(1, 2**53) | ANY_WHOLE,
    "period_mult": st.integers(1, 2**53) | ANY_WHOLE,
    "total_steps": st.none() | st.integers(1, 2**53) | ANY_WHOLE,
    "epochs": st.none() | st.integers(1, 2**53) | ANY_WHOLE,
    "pct_start": st.floats(0.0, 1.0) | ANY_FINITE,
    "anneal_strategy": st.sampled_from(["cos", "linear", "cosine"]),
    "div_factor": st.floats(1.0, 1e300) | ANY_FINITE,
    "final_div_factor": st.floats(1.0, 1e300) | ANY_FINITE,
    "three_phase": st.booleans(),
    "warmup_steps": st.integers(0, 2**53) | ANY_WHOLE,
    "decay_fraction": st.floats(0.0, 1.0) | ANY_FINITE,
    "decay_shape": st.sampled_from(["linear", "sqrt"]),
    "warmup_init_value": st.floats(0.0, 1e4) | ANY_FINITE,
    "factor": st.floats(0.0, 1.0, exclude_min=True, exclude_max=True) | ANY_FINITE,
    "patience": st.integers(0, 2**53) | ANY_WHOLE,
    "threshold": st.floats(0.0, 1.0, exclude_max=True) | ANY_FINITE,
    "threshold_mode": st.sampled_from(["rel", "abs"]),
    "cooldown": st.integers(0, 2**53) | ANY_WHOLE,
    "min_lr": st.floats(0.0, 1e4) | ANY_FINITE,
    "eps": st.floats(0.0, 1e300) | ANY_FINITE,
}
STEPS_TO_TRY = [0, 1, 7, 10**6, 2**53, 2**62, 2**63 - 1]


@pytest.mark.parametrize("name", NEW)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_finite_settings_are_refused_or_give_finite_rates_at_every_step(name, data):
    factory = SCHEDULES[name]
    kwargs = {p: data.draw(SETTINGS[p], label=p) for p in inspect.signature(factory).parameters}
    try:
        schedule = factory(**kwargs)
    except InvalidParameterError:
        return
    rates = [schedule(t) for t in STEPS_TO_TRY] + list(schedule(np.array(STEPS_TO_TRY)))
    assert all(np.isfinite(r) and 0.0 <= r <= 1e4 for r in rates), rates


@pytest.mark.parametrize("name", NEW)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hostile_settings_raise_invalid_parameter_error_naming_them_or_build(name, data):
    factory = SCHEDULES[name]
    kwargs = {"learning_rate": 0.1, "decay_steps": 5, "period": 3, "total_steps": 10}
    accepted = inspect.signature(factory).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    argument = data.draw(st.sampled_from([a for a in accepted if a != "epochs"]))
    kwargs[argument] = data.draw(hostile_values(), label=argument)
    try:
        schedule = factory(**kwargs)
    except InvalidParameterError as err:
        assert f"'{argument}" in str(err) or (argument == "total_steps" and "'epochs'" in str(err))
        return
    rates = [schedule(t) for t in (0, 1, 100)] + [schedule(np.arange(3))]
    assert all(np.all(np.isfinite(r) & (r >= 0.0) & (r <= 1e4)) for r in rates), rates


# ----------------------------------------------------------------------------- reduce_on_plateau

INF, NAN = math.inf, math.nan
# A loss with plateaus, a rise, a tie, tiny improvements (inside and beyond the threshold),
# NaN and inf (never an improvement, as in PyTorch), and a long flat tail.
LOSSES = [
    1.0,
    0.9,
    0.9,
    0.9,
    0.9,
    0.8,
    0.85,
    0.85,
    0.85,
    0.85,
    0.79995,
    0.7999,
    0.7,
    NAN,
    NAN,
    NAN,
    0.69,
    INF,
    0.69,
    0.69,
    0.69,
    0.5,
    0.5,
    0.4999,
    0.4999,
    0.4999,
    0.4999,
    0.4999,
    0.3,
    *([0.3] * 25),
]

PLATEAU_SETTINGS = [
    {},
    {"factor": 0.5, "patience": 2},
    {"factor": 0.5, "patience": 0},
    {"factor": 0.3, "patience": 1, "cooldown": 2},
    {"factor": 0.5, "patience": 1, "threshold": 0.01},
    {"factor": 0.5, "patience": 1, "threshold": 0.005, "threshold_mode": "abs"},
    {"factor": 0.5, "patience": 1, "threshold": 0.0, "threshold_mode": "abs"},
    {"factor": 0.5, "patience": 1, "min_lr": 0.01},
    {"factor": 0.99, "patience": 0, "eps": 2e-3},  # cuts of 1e-3 are skipped
    {"factor": 0.1, "patience": 3, "cooldown": 1, "min_lr": 1e-4},
]


def torch_plateau(losses, lr, **settings):
    """The lr PyTorch's ReduceLROnPlateau (mode min) leaves after each loss it is stepped with."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="min", **settings)
    rates = []
    for loss in losses:
        sched.step(loss)
        rates.append(opt.param_groups[0]["lr"])
    return rates


def ours_plateau(losses, lr, **settings):
    opt = momentum(reduce_on_plateau(lr, **settings), beta=0.9)
    state = opt.init({"w": np.zeros(3)})
    rates = []
    for loss in losses:
        state = observe(state, loss)
        rates.append(applied_learning_rate(state))
    return rates


@pytest.mark.parametrize("settings_", PLATEAU_SETTINGS, ids=repr)
def test_plateau_matches_torch_reduce_lr_on_plateau(settings_):
    theirs = torch_plateau(LOSSES, 0.1, **settings_)
    mine = ours_plateau(LOSSES, 0.1, **settings_)
    assert mine == theirs
    if settings_.get("eps") != 2e-3:
        assert min(theirs) < 0.1  # the sequence does cut the rate: the test can fail


def test_plateau_member_by_member_equals_separate_torch_schedulers():
    """Per-member settings and losses (K, ): each member its own best, counters and rate."""
    rng = np.random.default_rng(4)
    losses = np.round(rng.uniform(0.5, 1.0, size=(60, 3)), 2)  # ties and plateaus
    losses[20:30, 1] = np.nan
    lrs, factors, patience = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.2, 0.9]), 2
    rate = reduce_on_plateau(lrs, factor=factors, patience=patience, min_lr=np.array([0, 0.01, 0]))
    opt = adam(rate)
    state = opt.init({"theta": np.zeros((3, 4))})
    rows = []
    for loss in losses:
        state = observe(state, loss)
        rows.append(applied_learning_rate(state).tolist())
    for k in range(3):
        theirs = torch_plateau(
            losses[:, k].tolist(),
            lrs[k],
            factor=factors[k],
            patience=patience,
            min_lr=[0, 0.01, 0][k],
        )
        assert [r[k] for r in rows] == theirs
    assert len({tuple(r) for r in rows}) > 3  # the members were cut, at different times


def test_shared_settings_become_per_member_at_the_first_population_loss():
    opt = gd(reduce_on_plateau(0.1, factor=0.5, patience=0))
    state = opt.init({"theta": np.zeros((2, 3))})
    assert applied_learning_rate(state) == 0.1
    state = observe(state, np.array([1.0, 1.0]))
    state = observe(state, np.array([0.5, 2.0]))
    assert applied_learning_rate(state).tolist() == [0.1, 0.05]
    updates, state = opt.update({"theta": np.ones((2, 3))}, state)
    assert updates["theta"].tolist() == [[-0.1] * 3, [-0.05] * 3]
    assert state[-1].count == 1
    with pytest.raises(DataError, match=r"an array of shape \(2,\). Got shape \(3,\)"):
        observe(state, np.zeros(3))


@pytest.mark.parametrize("value", [np.zeros((2, 2)), "low", np.zeros(0), [[1.0]]], ids=repr)
def test_plateau_observes_only_a_number_or_one_loss_per_member(value):
    state = reduce_on_plateau(0.1).init_state()
    with pytest.raises(DataError, match="reduce_on_plateau observes one loss per member"):
        state.observe(value)


def test_plateau_state_scales_the_update_and_keeps_its_fields():
    opt = gd(reduce_on_plateau(0.5, factor=0.5, patience=0))
    params = {"w": np.array([1.0, 2.0])}
    state = opt.init(params)
    (inner,) = [s for s in state if isinstance(s, PlateauState)]
    assert inner[:5] == (0, 0.5, INF, 0, 0)
    state = observe(observe(state, 2.0), 3.0)
    updates, state = opt.update({"w": np.array([1.0, -1.0])}, state)
    assert updates["w"].tolist() == [-0.25, 0.25]
    (inner,) = [s for s in state if isinstance(s, PlateauState)]
    assert (inner.count, inner.learning_rate, inner.best, inner.bad_epochs) == (1, 0.25, 2.0, 0)
    assert type(inner.learning_rate) is float


# ----------------------------------------------------------------------------- in training

X_TRAIN, Y_TRAIN = (make_moons(60, noise=0.3, seed=1).X, make_moons(60, noise=0.3, seed=1).y)
VAL = make_moons(40, noise=0.3, seed=2)
NET = MLP((2, 6, 1))


def test_train_cuts_the_rate_exactly_where_the_validation_cost_plateaus():
    settings_ = {"factor": 0.5, "patience": 2, "threshold": 1e-3}
    result = train(
        NET,
        adam(reduce_on_plateau(0.05, **settings_)),
        X_TRAIN,
        Y_TRAIN,
        epochs=60,
        batch_size=16,
        seed=1,
        validation=(VAL.X, VAL.y),
        eval_every=1,
        engine="numpy",
    )
    val_cost, lr = result.history.val_cost, result.history.learning_rate
    assert val_cost.shape == lr.shape == (60,)
    # epoch e + 1 trains with the rate left by the validation costs of epochs 0..e
    expected = [0.05, *torch_plateau(val_cost[:-1].tolist(), 0.05, **settings_)]
    assert lr.tolist() == expected
    assert lr[-1] < 0.05


def test_train_feeds_the_training_cost_without_validation_data():
    settings_ = {"factor": 0.5, "patience": 1, "threshold": 0.01}
    result = train(
        NET,
        gd(reduce_on_plateau(2.0, **settings_)),
        X_TRAIN,
        Y_TRAIN,
        epochs=40,
        batch_size=60,
        seed=1,
        engine="numpy",
    )
    cost, lr = result.history.cost, result.history.learning_rate
    assert lr.tolist() == [2.0, *torch_plateau(cost[:-1].tolist(), 2.0, **settings_)]
    assert lr[-1] < 2.0


def test_population_members_plateau_each_on_their_own_validation_cost():
    rate = reduce_on_plateau(np.array([0.05, 0.2, 0.05]), factor=0.5, patience=1)
    result = train(
        NET,
        adam(rate),
        X_TRAIN,
        Y_TRAIN,
        epochs=40,
        batch_size=16,
        seed=[1, 2, 3],
        validation=(VAL.X, VAL.y),
        eval_every=1,
        engine="numpy",
    )
    val_cost, lr = result.history.val_cost, result.history.learning_rate
    assert lr.shape == (40, 3)
    for k in range(3):
        expected = [
            rate.learning_rate[k],
            *torch_plateau(
                val_cost[:-1, k].tolist(), rate.learning_rate[k], factor=0.5, patience=1
            ),
        ]
        assert lr[:, k].tolist() == expected
    assert len({tuple(lr[:, k]) for k in range(3)}) == 3


def test_experiment_runs_differing_in_a_plateau_setting_share_one_population():
    runs = [
        Run(
            "adam",
            {"learning_rate": 0.05},
            schedule="reduce_on_plateau",
            schedule_settings={"factor": f, "patience": 1},
            batch_size=16,
            epochs=30,
            seed=s,
        )
        for f, s in ((0.5, 0), (0.1, 0), (0.5, 1))
    ]
    assert runs[0].schedule_settings == {"factor": 0.5, "patience": 1}
    assert type(runs[0].schedule_settings["patience"]) is int
    assert runs[0].segment_key() == runs[1].segment_key()
    data = ExperimentData(train=make_moons(60, noise=0.3, seed=1), val=VAL, test=VAL)
    population = Population(runs, data)
    result = population.train(validation=True, eval_every=1, engine="numpy")
    for run, k in zip(runs, population.position, strict=True):
        lr, val_cost = result.history.learning_rate[:, k], result.history.val_cost[:, k]
        factor = run.schedule_settings["factor"]
        expected = [0.05, *torch_plateau(val_cost[:-1].tolist(), 0.05, factor=factor, patience=1)]
        assert lr.tolist() == expected
    assert result.history.learning_rate[-1].min() < 0.05


def test_stacked_block_with_a_plateau_sees_its_members_losses():
    opt = stack_optimizers([gd(0.1), gd(reduce_on_plateau(0.4, factor=0.5, patience=0))], [1, 2])
    state = opt.init({"theta": np.zeros((3, 2))})
    for loss in ([1.0, 1.0, 1.0], [2.0, 0.5, 2.0], [3.0, 0.4, 3.0]):
        state = observe(state, np.array(loss))
    assert applied_learning_rate(state).tolist() == [0.1, 0.4, 0.1]


def test_integer_settings_of_the_new_schedules_stay_whole_numbers_in_runs():
    run = Run(
        "gd",
        {"learning_rate": 0.1},
        schedule="one_cycle",
        schedule_settings={"total_steps": 40, "pct_start": 0.25, "three_phase": True},
    )
    assert run.schedule_settings == {"total_steps": 40, "pct_start": 0.25, "three_phase": True}
    assert type(run.schedule_settings["total_steps"]) is int
    other = Run(
        "gd",
        {"learning_rate": 0.1},
        schedule="one_cycle",
        schedule_settings={"total_steps": 40, "pct_start": 0.5, "three_phase": True},
    )
    longer = Run(
        "gd",
        {"learning_rate": 0.1},
        schedule="one_cycle",
        schedule_settings={"total_steps": 50, "pct_start": 0.25, "three_phase": True},
    )
    assert run.segment_key() == other.segment_key() != longer.segment_key()
    for name in ("epochs", "period", "period_mult", "patience", "cooldown"):
        assert (
            type(
                Run(
                    "gd",
                    {"learning_rate": 0.1},
                    schedule="sgdr",
                    schedule_settings={"period": 3, name: 2},
                ).schedule_settings[name]
            )
            is int
        )


# ----------------------------------------------------------------------------- compiled engine

X_SMALL = np.random.default_rng(3).normal(size=(2, 40))
Y_SMALL = (X_SMALL[0] * X_SMALL[1] > 0).astype(int)

COMPILED_SCHEDULES = {
    "one_cycle": lambda lr: one_cycle(lr, epochs=9, steps_per_epoch=3, three_phase=True),
    "one_cycle linear": lambda lr: one_cycle(lr, 27, pct_start=0.4, anneal_strategy="linear"),
    "sgdr": lambda lr: sgdr(lr, period=2, period_mult=2, final_value=lr / 10, steps_per_epoch=3),
    "polynomial": lambda lr: polynomial_decay(lr, 20, power=2.0, final_value=lr / 100),
    "wsd": lambda lr: warmup_stable_decay(
        lr, 27, warmup_steps=5, decay_fraction=0.3, decay_shape="sqrt"
    ),
    "per member": lambda lr: one_cycle(np.array([lr, 2 * lr]), 27, pct_start=np.array([0.2, 0.6])),
}


@pytest.mark.parametrize("name", COMPILED_SCHEDULES)
def test_the_compiled_engine_runs_the_step_schedules_with_numpys_numbers(name):
    population = [1, 2] if name == "per member" else None
    optimizer = adam(COMPILED_SCHEDULES[name](0.05))
    a, b = both(
        NET,
        optimizer,
        X_SMALL,
        Y_SMALL,
        epochs=9,
        batch_size=16,
        seed=population or 1,
        eval_every=4,
        validation=(X_SMALL, Y_SMALL),
    )
    assert_same(a, b)
    assert len(np.unique(a.history.learning_rate)) > 3


def test_the_compiled_engine_refuses_reduce_on_plateau_with_its_reason():
    optimizer = adam(reduce_on_plateau(0.05))
    reason = "the reduce_on_plateau schedule (it needs the validation loss after every epoch)"
    with pytest.raises(Unsupported) as caught:
        build_program(optimizer, optimizer.init({"theta": np.zeros(25)}), None, 25)
    assert str(caught.value) == reason
    with pytest.raises(InvalidParameterError, match=re.escape(f"configuration: {reason}. Use")):
        train(NET, optimizer, X_SMALL, Y_SMALL, epochs=2, engine="compiled")
    result = train(NET, optimizer, X_SMALL, Y_SMALL, epochs=2, engine="auto")
    assert result.engine == "numpy"


def test_build_optimizer_passes_the_plateau_to_any_optimizer():
    opt = build_optimizer(
        "momentum", {"lr": 0.2}, schedule="reduce_on_plateau:factor=0.5,patience=0"
    )
    state = observe(observe(opt.init({"w": np.zeros(2)}), 1.0), 1.0)
    assert applied_learning_rate(state) == 0.1
