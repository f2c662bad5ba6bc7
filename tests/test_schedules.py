"""Learning-rate schedules: hand-listed values, PyTorch's lr_scheduler, per-member arrays, errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab._validation import InvalidParameterError
from descentlab.experiments.specs import ScheduleSpec, build_learning_rate
from descentlab.schedules import (
    SCHEDULES,
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    fixed_interval_decay,
    get_schedule,
    inverse_time_decay,
    linear_warmup,
    piecewise_constant,
    step_decay,
)
from test_optimizers import hostile_values  # the same hostile values as for the optimizers

# ----------------------------------------------------------------------------- hand-listed values

# (schedule, values at steps 0, 1, 2, ...), each worked out by hand from the formula.
HAND_CASES = [
    (constant(0.3), [0.3, 0.3, 0.3]),
    (inverse_time_decay(1.0, decay_rate=1.0), [1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5]),
    (inverse_time_decay(0.6, decay_rate=0.5, steps_per_epoch=2), [0.6, 0.6, 0.4, 0.4, 0.3, 0.3]),
    (fixed_interval_decay(1.0, decay_rate=1.0, time_interval=2), [1.0, 1.0, 1 / 2, 1 / 2, 1 / 3]),
    (
        fixed_interval_decay(1.0, decay_rate=2.0, time_interval=2, steps_per_epoch=2),
        [1.0, 1.0, 1.0, 1.0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 5],
    ),
    (exponential_decay(2.0, gamma=0.5), [2.0, 1.0, 0.5, 0.25]),
    (exponential_decay(2.0, gamma=0.5, steps_per_epoch=3), [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5]),
    (step_decay(1.0, boundaries=2, factor=0.1), [1.0, 1.0, 0.1, 0.1, 0.1 * 0.1]),
    (step_decay(1.0, boundaries=[1, 4], factor=0.5), [1.0, 0.5, 0.5, 0.5, 0.25, 0.25]),
    (step_decay(1.0, boundaries=[1], factor=0.5, steps_per_epoch=2), [1.0, 1.0, 0.5, 0.5]),
    (piecewise_constant([2, 3], [0.3, 0.2, 0.1]), [0.3, 0.3, 0.2, 0.1, 0.1]),
    (cosine_decay(1.0, decay_steps=2), [1.0, 0.5, 0.0, 0.0]),
    (cosine_decay(3.0, decay_steps=3, final_value=1.0), [3.0, 2.5, 1.5, 1.0, 1.0]),
    (linear_warmup(0.4, warmup_steps=4), [0.0, 0.1, 0.2, 0.3, 0.4, 0.4]),
    (linear_warmup(0.4, warmup_steps=2, init_value=0.2), [0.2, 0.3, 0.4, 0.4]),
    (linear_warmup(exponential_decay(1.0, 0.5), warmup_steps=2), [0.0, 0.5, 1.0, 0.5, 0.25]),
    (linear_warmup(exponential_decay(1.0, 0.5), warmup_steps=0), [1.0, 0.5, 0.25]),
]


@pytest.mark.parametrize(("schedule", "expected"), HAND_CASES, ids=[repr(c[0]) for c in HAND_CASES])
def test_values_by_hand(schedule, expected):
    got = [schedule(t) for t in range(len(expected))]
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-16)
    # An array of steps gives the same numbers, elementwise (NumPy's vectorised pow may
    # differ from Python's in the last bit).
    np.testing.assert_allclose(schedule(np.arange(len(expected))), got, rtol=1e-15, atol=0)


def test_array_of_steps_keeps_its_shape():
    s = exponential_decay(1.0, 0.5)
    steps = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(s(steps), [[1.0, 0.5], [0.25, 0.125]])
    assert s(np.int64(2)) == 0.25


# ----------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler  # noqa: E402

N_STEPS = 400


def torch_rates(make, n_steps, base_lr, epochs_every=1):
    """The lr PyTorch's scheduler gives each optimizer step (scheduler stepped every
    ``epochs_every`` optimizer steps, i.e. once per epoch)."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    rates = []
    for t in range(n_steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if t % epochs_every == epochs_every - 1:
            sched.step()
    return np.array(rates)


TORCH_CASES = [
    ("StepLR", step_decay(0.1, 30, 0.5), lambda o: lr_scheduler.StepLR(o, 30, gamma=0.5), 1),
    (
        "StepLR per epoch",
        step_decay(0.1, 3, 0.5, steps_per_epoch=7),
        lambda o: lr_scheduler.StepLR(o, 3, gamma=0.5),
        7,
    ),
    (
        "MultiStepLR",
        step_decay(0.1, [50, 120, 300], 0.2),
        lambda o: lr_scheduler.MultiStepLR(o, [50, 120, 300], gamma=0.2),
        1,
    ),
    (
        "ExponentialLR",
        exponential_decay(0.1, 0.99),
        lambda o: lr_scheduler.ExponentialLR(o, 0.99),
        1,
    ),
    (
        "ExponentialLR per epoch",
        exponential_decay(0.1, 0.9, steps_per_epoch=5),
        lambda o: lr_scheduler.ExponentialLR(o, 0.9),
        5,
    ),
    (
        "CosineAnnealingLR",
        cosine_decay(0.1, N_STEPS, final_value=1e-3),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=N_STEPS, eta_min=1e-3),
        1,
    ),
    (
        "LinearLR+SequentialLR(ExponentialLR)",
        linear_warmup(exponential_decay(0.1, 0.99), 40, init_value=0.025),
        lambda o: lr_scheduler.SequentialLR(
            o,
            [
                lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=40),
                lr_scheduler.ExponentialLR(o, 0.99),
            ],
            milestones=[40],
        ),
        1,
    ),
    (
        "LinearLR+SequentialLR(CosineAnnealingLR)",
        linear_warmup(cosine_decay(0.1, N_STEPS - 50), 50, init_value=0.001),
        lambda o: lr_scheduler.SequentialLR(
            o,
            [
                lr_scheduler.LinearLR(o, start_factor=0.01, total_iters=50),
                lr_scheduler.CosineAnnealingLR(o, T_max=N_STEPS - 50),
            ],
            milestones=[50],
        ),
        1,
    ),
    (
        "LambdaLR (the seed's inverse time decay)",
        inverse_time_decay(0.1, 0.3),
        lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + 0.3 * e)),
        1,
    ),
]


@pytest.mark.parametrize(
    ("label", "ours", "make", "every"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES]
)
def test_matches_torch_lr_scheduler(label, ours, make, every):
    theirs = torch_rates(make, N_STEPS, 0.1, epochs_every=every)
    mine = ours(np.arange(N_STEPS))
    # PyTorch updates most rates recursively, so allow a few ulps per step (and an absolute
    # floor for the cosine's final zero).
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- per member

PER_MEMBER = [
    (constant, {"value": [0.1, 0.2]}, {}),
    (inverse_time_decay, {"learning_rate": [0.1, 0.2], "decay_rate": [0.0, 1.0]}, {}),
    (
        fixed_interval_decay,
        {"learning_rate": [0.1, 0.2], "decay_rate": [0.5, 1.0]},
        {"time_interval": 3},
    ),
    (exponential_decay, {"learning_rate": [0.1, 0.2], "gamma": [0.9, 0.5]}, {"steps_per_epoch": 2}),
    (step_decay, {"learning_rate": [0.1, 0.2], "factor": [0.5, 0.1]}, {"boundaries": [2, 5]}),
    (cosine_decay, {"learning_rate": [0.1, 0.2], "final_value": [0.0, 0.01]}, {"decay_steps": 6}),
]


@pytest.mark.parametrize(
    ("factory", "arrays", "shared"), PER_MEMBER, ids=[c[0].__name__ for c in PER_MEMBER]
)
def test_per_member_hyperparameters_equal_separate_schedules(factory, arrays, shared):
    together = factory(**{k: np.array(v) for k, v in arrays.items()}, **shared)
    alone = [factory(**{k: v[i] for k, v in arrays.items()}, **shared) for i in range(2)]
    steps = np.arange(10)
    for t in steps:
        np.testing.assert_allclose(together(int(t)), [s(int(t)) for s in alone], rtol=1e-15, atol=0)
    table = together(steps)
    assert table.shape == (10, 2)
    np.testing.assert_allclose(
        table, np.stack([s(steps) for s in alone], axis=-1), rtol=1e-15, atol=0
    )


def test_per_member_piecewise_and_warmup():
    pw = piecewise_constant([2], np.array([[0.1, 0.2], [0.01, 0.02]]))
    np.testing.assert_array_equal(
        pw(np.arange(4)), [[0.1, 0.2], [0.1, 0.2], [0.01, 0.02], [0.01, 0.02]]
    )
    np.testing.assert_array_equal(pw(3), [0.01, 0.02])
    inner = exponential_decay(np.array([1.0, 2.0]), 0.5)
    warm = linear_warmup(inner, 2, init_value=np.array([0.0, 1.0]))
    expected = [[0.0, 1.0], [0.5, 1.5], [1.0, 2.0], [0.5, 1.0], [0.25, 0.5]]
    np.testing.assert_array_equal(warm(np.arange(5)), expected)
    np.testing.assert_array_equal([warm(t) for t in range(5)], expected)
    # Per-member warm-up start into a shared schedule.
    warm = linear_warmup(exponential_decay(1.0, 0.5), 2, init_value=np.array([0.0, 0.5]))
    np.testing.assert_array_equal(
        warm(np.arange(4)), [[0.0, 0.5], [0.5, 0.75], [1.0, 1.0], [0.5, 0.5]]
    )


@settings(max_examples=30, deadline=None)
@given(
    steps=st.lists(st.integers(0, 10_000), min_size=1, max_size=20),
    lr=st.floats(1e-4, 1.0),
    gamma=st.floats(0.5, 1.0),
    warmup=st.integers(0, 50),
)
def test_array_steps_equal_scalar_steps(steps, lr, gamma, warmup):
    s = linear_warmup(exponential_decay(lr, gamma, steps_per_epoch=7), warmup, init_value=lr / 10)
    np.testing.assert_allclose(s(np.array(steps)), [s(t) for t in steps], rtol=1e-15, atol=0)


# ----------------------------------------------------------------------------- errors

INVALID = [
    (constant, {"value": 0.0}, "value"),
    (constant, {"value": np.array([0.1, -0.1])}, "value"),
    (inverse_time_decay, {"learning_rate": -1.0, "decay_rate": 1.0}, "learning_rate"),
    (inverse_time_decay, {"learning_rate": 1.0, "decay_rate": -1.0}, "decay_rate"),
    (
        inverse_time_decay,
        {"learning_rate": 1.0, "decay_rate": 1.0, "steps_per_epoch": 0},
        "steps_per_epoch",
    ),
    (
        inverse_time_decay,
        {"learning_rate": 1.0, "decay_rate": 1.0, "steps_per_epoch": 1.5},
        "steps_per_epoch",
    ),
    (
        fixed_interval_decay,
        {"learning_rate": 1.0, "decay_rate": 1.0, "time_interval": 0},
        "time_interval",
    ),
    (exponential_decay, {"learning_rate": 1.0, "gamma": 0.0}, "gamma"),
    (exponential_decay, {"learning_rate": np.nan, "gamma": 0.5}, "learning_rate"),
    (step_decay, {"learning_rate": 1.0, "boundaries": 0}, "boundaries"),
    (step_decay, {"learning_rate": 1.0, "boundaries": [5, 3]}, "boundaries"),
    (step_decay, {"learning_rate": 1.0, "boundaries": [0, 3]}, "boundaries"),
    (step_decay, {"learning_rate": 1.0, "boundaries": [2], "factor": -0.1}, "factor"),
    (piecewise_constant, {"boundaries": [2], "values": [0.1]}, "values"),
    (piecewise_constant, {"boundaries": [2], "values": [0.1, -0.1]}, "values[1]"),
    (cosine_decay, {"learning_rate": 1.0, "decay_steps": 0}, "decay_steps"),
    (cosine_decay, {"learning_rate": 1.0, "decay_steps": 10, "final_value": -1.0}, "final_value"),
    (linear_warmup, {"schedule_or_value": 0.1, "warmup_steps": -1}, "warmup_steps"),
    (
        linear_warmup,
        {"schedule_or_value": 0.1, "warmup_steps": 5, "init_value": -1.0},
        "init_value",
    ),
    (linear_warmup, {"schedule_or_value": -0.1, "warmup_steps": 5}, "value"),
    (
        exponential_decay,
        {"learning_rate": np.array([0.1, 0.2]), "gamma": np.array([0.9, 0.9, 0.9])},
        "gamma",
    ),
]


@pytest.mark.parametrize(
    ("factory", "kw", "arg"),
    INVALID,
    ids=[f"{f.__name__}-{a}-{i}" for i, (f, _, a) in enumerate(INVALID)],
)
def test_invalid_settings_raise_naming_the_argument(factory, kw, arg):
    with pytest.raises(InvalidParameterError) as info:
        factory(**kw)
    assert f"'{arg}'" in str(info.value)


def test_warmup_into_a_schedule_that_returns_a_bad_rate():
    with pytest.raises(InvalidParameterError, match="returned nan at step 0"):
        linear_warmup(lambda step: float("nan"), 5)


@pytest.mark.parametrize(
    "step",
    [-1, 1.5, True, np.array([0, -2]), np.array([0.5]), 2**63, 10**400, "3", [[1], [2, 3]]],
    ids=repr,
)
def test_invalid_steps_raise(step):
    with pytest.raises(InvalidParameterError, match="must be an integer >= 0"):
        exponential_decay(0.1, 0.5)(step)


def test_get_schedule():
    assert set(SCHEDULES) >= {
        "constant",
        "inverse_time",
        "fixed_interval",
        "exponential",
        "step",
        "cosine",
    }
    s = get_schedule("inverse_time", learning_rate=0.5, decay_rate=1.0, steps_per_epoch=2)
    assert isinstance(s, Schedule)
    assert [s(t) for t in range(4)] == [0.5, 0.5, 0.25, 0.25]
    assert get_schedule("constant", learning_rate=0.2)(9) == 0.2
    warm = get_schedule(
        "cosine", learning_rate=1.0, decay_steps=2, warmup_steps=2, warmup_init_value=0.5
    )
    assert [warm(t) for t in range(5)] == [0.5, 0.75, 1.0, 0.5, 0.0]
    with pytest.raises(
        InvalidParameterError, match=r"Unknown schedule 'linear'.*constant, inverse_time"
    ):
        get_schedule("linear", learning_rate=0.1)
    with pytest.raises(
        InvalidParameterError, match=r"Unknown setting 'rate' .*learning_rate, gamma"
    ):
        get_schedule("exponential", learning_rate=0.1, rate=0.5)
    with pytest.raises(InvalidParameterError, match="needs 'gamma'"):
        get_schedule("exponential", learning_rate=0.1)
    with pytest.raises(InvalidParameterError, match=r"'warmup_init_value'.*needs 'warmup_steps'"):
        get_schedule("constant", learning_rate=0.1, warmup_init_value=0.0)


def test_repr_names_the_settings():
    assert repr(exponential_decay(0.1, 0.5)) == (
        "exponential_decay(learning_rate=0.1, gamma=0.5, steps_per_epoch=1)"
    )


# ----------------------------------------------------------------------------- hostile input

# (factory, the other settings, the rate-like argument): every starting or final rate.
RATE_ARGUMENTS = [
    (constant, {}, "value"),
    (inverse_time_decay, {"decay_rate": 1.0}, "learning_rate"),
    (fixed_interval_decay, {"decay_rate": 1.0, "time_interval": 2}, "learning_rate"),
    (exponential_decay, {"gamma": 0.5}, "learning_rate"),
    (step_decay, {"boundaries": 2}, "learning_rate"),
    (cosine_decay, {"decay_steps": 5}, "learning_rate"),
    (cosine_decay, {"learning_rate": 0.1, "decay_steps": 5}, "final_value"),
    (linear_warmup, {"schedule_or_value": 0.1, "warmup_steps": 3}, "init_value"),
]


@pytest.mark.parametrize(
    ("factory", "others", "arg"),
    RATE_ARGUMENTS,
    ids=[f"{f.__name__}-{a}" for f, _, a in RATE_ARGUMENTS],
)
@pytest.mark.parametrize("rate", [np.inf, np.nan, 1e308, 10_000.5], ids=repr)
def test_rates_must_be_finite_and_at_most_the_cap(factory, others, arg, rate):
    with pytest.raises(InvalidParameterError, match=rf"'{arg}' parameter of {factory.__name__}"):
        factory(**others, **{arg: rate})
    with pytest.raises(InvalidParameterError, match=r"'values\[1\]' parameter of piecewise"):
        piecewise_constant([2], [0.1, rate])
    with pytest.raises(InvalidParameterError, match="'value' parameter of constant"):
        linear_warmup(rate, 3)
    factory(**others, **{arg: 10_000.0})  # the cap itself is allowed


@pytest.mark.parametrize(
    ("make", "arg"),
    [
        (lambda v: exponential_decay(0.1, gamma=v), "gamma"),
        (lambda v: step_decay(0.1, 2, factor=v), "factor"),
        (lambda v: step_decay(0.1, [2, 5], factor=np.array([0.5, v])), "factor"),
    ],
)
@pytest.mark.parametrize("factor", [1.0 + 1e-12, 2.0, 1e308, 0.0])
def test_decay_factors_lie_in_0_1(make, arg, factor):
    # A factor > 1 would grow the rate without bound: gamma = 1e308 gave inf after one step
    # and training stopped mid-run with an error; now it is refused up front.
    with pytest.raises(InvalidParameterError, match=rf"'{arg}' parameter .* \(0.0, 1.0\]"):
        make(factor)
    assert np.all(make(1.0)(10**6) <= 0.1)


@pytest.mark.parametrize("bad", [2**63, 2**54, 1e308, 0])
def test_counts_of_steps_are_bounded(bad):
    for make in (
        lambda: exponential_decay(0.1, 0.5, steps_per_epoch=bad),
        lambda: fixed_interval_decay(0.1, 1.0, time_interval=bad),
        lambda: cosine_decay(0.1, decay_steps=bad),
        lambda: step_decay(0.1, boundaries=bad),
        lambda: step_decay(0.1, boundaries=[1, bad]),
        lambda: piecewise_constant([bad], [0.1, 0.2]),
    ):
        with pytest.raises(InvalidParameterError):
            make()
    step_decay(0.1, boundaries=[1, 2**53])(np.array([0, 2**62]))  # the largest allowed


# Settings near and beyond their bounds: the valid ones up to the extremes, and any finite
# number at all (which the schedule must either refuse or turn into finite rates).
ANY_FINITE = st.floats(allow_nan=False, allow_infinity=False)
ANY_WHOLE = st.integers(-(2**70), 2**70)
SETTINGS = {
    "learning_rate": st.floats(0.0, 1e4, exclude_min=True) | ANY_FINITE,
    "value": st.floats(0.0, 1e4, exclude_min=True) | ANY_FINITE,
    "decay_rate": st.floats(0.0, 1e4) | ANY_FINITE,
    "gamma": st.floats(0.0, 1.0, exclude_min=True) | ANY_FINITE,
    "factor": st.floats(0.0, 1.0, exclude_min=True) | ANY_FINITE,
    "final_value": st.floats(0.0, 1e4) | ANY_FINITE,
    "steps_per_epoch": st.integers(1, 2**53) | ANY_WHOLE,
    "time_interval": st.integers(1, 2**53) | ANY_WHOLE,
    "decay_steps": st.integers(1, 2**53) | ANY_WHOLE,
    "boundaries": st.integers(1, 2**53)
    | st.lists(st.integers(1, 2**53), min_size=1, max_size=4, unique=True).map(sorted)
    | st.lists(ANY_WHOLE, min_size=1, max_size=3),
}
STEPS_TO_TRY = [0, 1, 7, 10**6, 2**53, 2**62, 2**63 - 1]
# The schedules these tables cover; one_cycle, sgdr, polynomial, wsd and reduce_on_plateau
# have the same two properties, with their own tables, in test_schedules_modern.py.
CLASSIC = [
    "constant",
    "inverse_time",
    "fixed_interval",
    "exponential",
    "step",
    "cosine",
    "piecewise",
]


@pytest.mark.parametrize("name", [n for n in CLASSIC if n != "piecewise"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_finite_settings_are_refused_or_give_finite_rates_at_every_step(name, data):
    # gamma = 1e308 used to be accepted and gave inf after one step, failing training mid-run.
    factory = SCHEDULES[name]
    kwargs = {p: data.draw(SETTINGS[p], label=p) for p in inspect.signature(factory).parameters}
    try:
        schedule = factory(**kwargs)
        if data.draw(st.booleans(), label="warm-up"):
            steps, start = data.draw(ANY_WHOLE), data.draw(SETTINGS["final_value"])
            schedule = linear_warmup(schedule, steps, start)
    except InvalidParameterError:
        return
    rates = [schedule(t) for t in STEPS_TO_TRY] + list(schedule(np.array(STEPS_TO_TRY)))
    assert all(np.isfinite(r) and 0.0 <= r <= 1e4 for r in rates), rates


@pytest.mark.parametrize("name", CLASSIC)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hostile_settings_raise_invalid_parameter_error_or_build(name, data):
    factory = SCHEDULES[name]
    defaults = {
        "learning_rate": 0.1, "value": 0.1, "decay_rate": 1.0, "gamma": 0.5, "time_interval": 2,
        "boundaries": [2], "decay_steps": 5, "values": [0.1, 0.2],
    }  # fmt: skip
    kwargs = {p: defaults[p] for p, spec in inspect.signature(factory).parameters.items()
              if spec.default is inspect.Parameter.empty}  # fmt: skip
    argument = data.draw(st.sampled_from(list(inspect.signature(factory).parameters)))
    kwargs[argument] = data.draw(hostile_values(), label=argument)
    try:
        schedule = factory(**kwargs)
    except InvalidParameterError as err:
        assert f"'{argument}" in str(err)
        return
    rates = [schedule(t) for t in (0, 1, 100)] + [schedule(np.arange(3))]
    assert all(np.all(np.isfinite(r) & (r >= 0.0) & (r <= 1e4)) for r in rates), rates


def test_get_schedule_forgives_case_and_dashes_and_names_the_accepted_settings():
    assert get_schedule("Inverse-Time", learning_rate=0.5, decay_rate=1.0)(1) == 0.25
    with pytest.raises(InvalidParameterError, match=r"Unknown schedule \['step'\]"):
        get_schedule(["step"], learning_rate=0.1)
    with pytest.raises(InvalidParameterError, match="needs 'decay_rate'; it accepts learning_rate"):
        get_schedule("inverse_time", learning_rate=0.1)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ScheduleSpec(["step"]), r"Unknown schedule \['step'\]; the known schedules"),
        (lambda: ScheduleSpec(None), "Unknown schedule None"),
        (lambda: ScheduleSpec("step", [1]), "settings of the schedule 'step' must be a table"),
        (lambda: build_learning_rate(0.1, "cosine:decay_steps=1e400"), "'decay_steps' parameter"),
        (lambda: build_learning_rate(0.1, "exponential:gamma=2"), "'gamma' parameter"),
        (lambda: build_learning_rate(0.1, "step:boundaries=2", "x"), "'steps_per_epoch' param"),
    ],
)
def test_schedule_specs_refuse_hostile_settings_by_name(build, match):
    with pytest.raises(InvalidParameterError, match=match):
        build()


# ------------------------------------------------------------- cases found by mutation testing


def test_get_schedule_messages_name_the_schedule_and_every_accepted_setting():
    with pytest.raises(InvalidParameterError) as caught:
        get_schedule("exponential", learning_rate=0.1, gamma=0.5, rate=0.5)
    assert str(caught.value) == (
        "Unknown setting 'rate' for schedule 'exponential'; it accepts learning_rate, gamma, "
        "steps_per_epoch, warmup_steps, warmup_init_value."
    )
    with pytest.raises(InvalidParameterError) as caught:
        get_schedule("constant", learning_rate=0.1, warmup_init_value=0.0)
    assert str(caught.value) == (
        "The 'warmup_init_value' setting of get_schedule needs 'warmup_steps' too."
    )


def test_constant_by_name_takes_its_value_once():
    """``learning_rate`` stands for ``value`` only when ``value`` is not given as well."""
    assert get_schedule("constant", value=0.3)(5) == 0.3
    with pytest.raises(InvalidParameterError, match="Unknown setting 'learning_rate'"):
        get_schedule("constant", learning_rate=0.1, value=0.2)


def test_repr_shows_per_member_settings_as_lists_and_the_warmup_settings():
    assert repr(constant(np.array([0.1, 0.2]))) == "constant(value=[0.1, 0.2])"
    assert repr(linear_warmup(exponential_decay(0.5, gamma=0.5), 3, init_value=0.1)) == (
        "linear_warmup(schedule=exponential_decay(learning_rate=0.5, gamma=0.5, "
        "steps_per_epoch=1), warmup_steps=3, init_value=0.1)"
    )


def test_boundaries_as_a_one_dimensional_array_and_repeated_boundaries():
    from_array = step_decay(1.0, boundaries=np.array([2, 3]), factor=0.5)
    assert [from_array(t) for t in range(5)] == [1.0, 1.0, 0.5, 0.25, 0.25]
    with pytest.raises(InvalidParameterError, match="strictly increasing"):
        step_decay(1.0, boundaries=[2, 2])


def test_piecewise_values_as_a_one_dimensional_array():
    s = piecewise_constant(boundaries=[2], values=np.array([1.0, 0.5]))
    assert [s(t) for t in range(4)] == [1.0, 1.0, 0.5, 0.5]
    assert s.size is None


def test_warmup_from_a_number_into_a_per_member_schedule():
    """The members' count comes from the inner schedule when ``init_value`` is a number."""
    s = linear_warmup(constant(np.array([1.0, 2.0])), warmup_steps=2)
    assert s.size == 2
    np.testing.assert_array_equal(s(np.arange(4)), [[0, 0], [0.5, 1], [1, 2], [1, 2]])


def test_warmup_hands_over_to_the_inner_schedule_at_step_w_exactly():
    """At step W the rate is the inner schedule's step 0, not the ramp's end
    ``a0 + (s(0) - a0) * W / W`` (which rounds: 0.1 + (0.45 - 0.1) is 0.44999999999999996)."""
    s = linear_warmup(constant(0.45), warmup_steps=4, init_value=0.1)
    assert s(4) == 0.45
    assert s(np.array([4]))[0] == 0.45
