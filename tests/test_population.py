"""Population training: member k of a population equals training it alone (float64, 1e-12).

Covers per-member init seeds, data orders, hyperparameters (learning rate, betas, eps, weight
decay, momentum, decay) and schedule parameters, for every named optimizer; mixed
populations (different optimizers stacked on one population axis); the sweep's
``train_population``; and the memory a population of 1000 networks with Adam adds.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import make_moons
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import (
    Population,
    Run,
    build_run_optimizer,
    evaluate,
    train_population,
)
from descentlab.experiments.specs import build_optimizer
from descentlab.nn import MLP
from descentlab.optimizers import adam, gd, get_optimizer, momentum, stack_optimizers
from descentlab.schedules import get_schedule
from descentlab.training import train

RTOL = 1e-12
DATA = make_moons(44, noise=0.25, seed=7)  # 44 examples in batches of 16: 16, 16, 12
NET = MLP((2, 5, 2, 1))
EPOCHS = 4

lr = st.floats(1e-3, 0.3)
unit = st.floats(0.0, 0.99)
beta2 = st.floats(0.9, 0.9999)
small = st.floats(0.0, 1e-3)

# optimizer name -> (fixed settings, strategies of the per-member hyperparameters)
CASES = {
    "gd": ({}, {"learning_rate": lr}),
    "momentum": ({}, {"learning_rate": lr, "beta": unit}),
    "sgd-nesterov": (
        {"nesterov": True},
        {"learning_rate": lr, "momentum": st.floats(0.05, 0.99), "weight_decay": small},
    ),
    "sgd-dampening": ({}, {"learning_rate": lr, "momentum": unit, "dampening": unit}),
    "nesterov": ({}, {"learning_rate": lr, "momentum": st.floats(0.05, 0.99)}),
    "rmsprop": ({}, {"learning_rate": lr, "decay": unit, "eps": small, "momentum": unit}),
    "rmsprop-centered": ({"centered": True}, {"learning_rate": lr, "decay": unit, "eps": small}),
    "adagrad": ({}, {"learning_rate": lr, "eps": small, "initial_accumulator_value": small}),
    "adam": (
        {},
        {
            "learning_rate": lr,
            "b1": unit,
            "b2": beta2,
            "eps": small,
            "eps_root": small,
            "weight_decay": small,
        },
    ),
    "adam-amsgrad": ({"amsgrad": True}, {"learning_rate": lr, "b1": unit, "b2": beta2}),
    "adamw": ({}, {"learning_rate": lr, "b1": unit, "b2": beta2, "weight_decay": small}),
}

SETTINGS = settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _name(case: str) -> str:
    return case.split("-")[0] if case.split("-")[0] in ("sgd", "rmsprop", "adam") else case


def _assert_member_equal(pop, k: int, alone) -> None:
    """``pop.member(k)`` (member k as if trained alone) equals the lone run ``alone``."""
    member = pop.member(k)
    assert (member.status, member.message) == (alone.status, alone.message)
    # Relative to each array's scale: a matrix product may round differently (fused
    # multiply-add or not) for a batch of K than for one network, and a one-ulp difference
    # in an entry that has crossed zero is no larger than that in absolute terms.
    for key, value in alone.params.items():
        finite = np.abs(value[np.isfinite(value)])
        scale = RTOL * finite.max() if finite.size else 0.0  # NaN equals NaN in assert_allclose
        np.testing.assert_allclose(member.params[key], value, rtol=RTOL, atol=scale, err_msg=key)
    np.testing.assert_allclose(member.history.cost, alone.history.cost, rtol=RTOL, atol=0)
    np.testing.assert_array_equal(member.history.eval_epochs, alone.history.eval_epochs)
    np.testing.assert_array_equal(member.history.train_accuracy, alone.history.train_accuracy)


def _members(draw, strategies: dict, K: int) -> list[dict]:
    return [{name: draw(s) for name, s in strategies.items()} for _ in range(K)]


@pytest.mark.parametrize("case", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_member_equals_training_alone(case: str, data) -> None:
    fixed, strategies = CASES[case]
    K = 3
    members = _members(data.draw, strategies, K)
    seeds = data.draw(st.lists(st.integers(0, 2**31), min_size=K, max_size=K))
    # Data seeds may repeat: members that share one also share the drawn order.
    data_seeds = data.draw(st.lists(st.integers(0, 3), min_size=K, max_size=K))
    per_member = {name: np.array([m[name] for m in members]) for name in strategies}
    name = _name(case)
    pop = train(
        NET,
        get_optimizer(name, **fixed, **per_member),
        DATA.X,
        DATA.y,
        epochs=EPOCHS,
        batch_size=16,
        seed=seeds,
        data_seed=data_seeds,
        eval_every=2,
    )
    assert pop.population == K
    for k in range(K):
        alone = train(
            NET,
            get_optimizer(name, **fixed, **members[k]),
            DATA.X,
            DATA.y,
            epochs=EPOCHS,
            batch_size=16,
            seed=seeds[k],
            data_seed=data_seeds[k],
            eval_every=2,
        )
        assert alone.population is None
        _assert_member_equal(pop, k, alone)


SCHEDULE_CASES = {
    "exponential": {"gamma": st.floats(0.5, 0.999)},
    "inverse_time": {"decay_rate": st.floats(0.0, 2.0)},
    "cosine": {"final_value": st.floats(0.0, 1e-3)},
    "step": {"factor": st.floats(0.1, 0.9)},
}
SCHEDULE_FIXED = {
    "exponential": {"steps_per_epoch": 3},
    "inverse_time": {"steps_per_epoch": 3},
    "cosine": {"decay_steps": 7},
    "step": {"boundaries": 4},
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULE_CASES))
@SETTINGS
@given(data=st.data())
def test_per_member_schedule_parameters(schedule: str, data) -> None:
    K = 3
    members = _members(data.draw, {"lr": lr, **SCHEDULE_CASES[schedule]}, K)
    seeds = data.draw(st.lists(st.integers(0, 1000), min_size=K, max_size=K, unique=True))

    def schedule_for(values: dict):
        rest = {k: v for k, v in values.items() if k != "lr"}
        return get_schedule(
            schedule, learning_rate=values["lr"], **rest, **SCHEDULE_FIXED[schedule]
        )

    arrays = {name: np.array([m[name] for m in members]) for name in members[0]}
    pop = train(
        NET, adam(schedule_for(arrays)), DATA.X, DATA.y, epochs=EPOCHS, batch_size=16, seed=seeds
    )
    for k in range(K):
        alone = train(
            NET,
            adam(schedule_for(members[k])),
            DATA.X,
            DATA.y,
            epochs=EPOCHS,
            batch_size=16,
            seed=seeds[k],
        )
        _assert_member_equal(pop, k, alone)


def test_population_of_one_and_shared_data_order() -> None:
    """K networks sharing one data seed equal K runs with that data seed."""
    lrs = np.array([0.01, 0.05, 0.2])
    pop = train(NET, momentum(lrs), DATA.X, DATA.y, epochs=EPOCHS, seed=[1, 2, 3], data_seed=9)
    for k, s in enumerate([1, 2, 3]):
        alone = train(NET, momentum(lrs[k]), DATA.X, DATA.y, epochs=EPOCHS, seed=s, data_seed=9)
        _assert_member_equal(pop, k, alone)


def test_seed_order_population_matches_seed_runs() -> None:
    """The seed's data order (RandomState(data_seed + epoch + 1)) per member, init="seed"."""
    pop = train(
        NET,
        gd(np.array([0.1, 0.2])),
        DATA.X,
        DATA.y,
        epochs=EPOCHS,
        init="seed",
        seed=[3, 3],
        shuffle="seed",
        data_seed=[10, 20],
    )
    for k, (rate, d) in enumerate([(0.1, 10), (0.2, 20)]):
        alone = train(
            NET, gd(rate), DATA.X, DATA.y, epochs=EPOCHS, init="seed", seed=3, shuffle="seed",
            data_seed=d,
        )  # fmt: skip
        _assert_member_equal(pop, k, alone)


# ----------------------------------------------------------------------------- mixed populations


def test_stacked_optimizers_equal_each_alone() -> None:
    blocks = [
        (gd(np.array([0.05, 0.1])), [("gd", 0.05), ("gd", 0.1)]),
        (adam(0.01, eps=0.0, eps_root=1e-8), [("adam", 0.01)]),
        (momentum(np.array([0.02, 0.3]), beta=np.array([0.9, 0.5])), None),
    ]
    opt = stack_optimizers([b[0] for b in blocks], [2, 1, 2])
    seeds = [4, 5, 6, 7, 8]
    pop = train(NET, opt, DATA.X, DATA.y, epochs=EPOCHS, batch_size=16, seed=seeds)
    singles = [
        gd(0.05),
        gd(0.1),
        adam(0.01, eps=0.0, eps_root=1e-8),
        momentum(0.02, beta=0.9),
        momentum(0.3, beta=0.5),
    ]
    for k, single in enumerate(singles):
        alone = train(NET, single, DATA.X, DATA.y, epochs=EPOCHS, batch_size=16, seed=seeds[k])
        _assert_member_equal(pop, k, alone)


def test_stack_optimizers_rejects_bad_sizes_and_shapes() -> None:
    with pytest.raises(InvalidParameterError, match="one size per optimizer"):
        stack_optimizers([gd(0.1)], [1, 2])
    with pytest.raises(InvalidParameterError, match="ints >= 1"):
        stack_optimizers([gd(0.1), gd(0.2)], [1, 0])
    opt = stack_optimizers([gd(0.1), gd(0.2)], [1, 2])
    with pytest.raises(DataError, match="leading population axis of 3"):
        opt.init({"theta": np.zeros((4, 5))})


SPLIT = ExperimentData(
    train=DATA,
    val=make_moons(30, noise=0.25, seed=8),
    test=make_moons(30, noise=0.25, seed=9),
)


def _alone(run: Run) -> dict:
    """Train one Run with the plain engine (no population) and measure it as the sweep does."""
    net = MLP(SPLIT.layer_dims(run.layers), run.activation)
    hyper = dict(run.hyperparameters)
    rate = hyper.pop("learning_rate")
    schedule = None
    if run.schedule is not None:
        from descentlab.experiments.specs import ScheduleSpec

        schedule = ScheduleSpec(run.schedule, run.schedule_settings)
    steps = int(np.ceil(SPLIT.train.n_examples / run.batch_size))
    result = train(
        net,
        build_optimizer(run.optimizer, hyper, rate, schedule, steps),
        SPLIT.train.X,
        SPLIT.train.y,
        epochs=run.epochs,
        batch_size=run.batch_size,
        seed=run.seed,
        init=run.init,
        shuffle=run.shuffle,
        data_seed=run.order_seed,
    )
    metrics = {k: float(v[0]) for k, v in evaluate(net, result.params, SPLIT).items()}
    return {**metrics, "final_cost": float(result.history.cost[-1])}


def test_train_population_rows_equal_runs_alone() -> None:
    runs = [
        Run("gd", {"lr": 0.1}, batch_size=16, epochs=EPOCHS, seed=1),
        Run("adam", {"lr": 0.01}, batch_size=16, epochs=EPOCHS, seed=1),
        Run("momentum", {"lr": 0.05, "beta": 0.8}, batch_size=16, epochs=EPOCHS, seed=2),
        Run("adam", {"lr": 0.003, "b1": 0.5}, batch_size=16, epochs=EPOCHS, seed=3),
        Run("gd", {"lr": 0.2}, batch_size=16, epochs=EPOCHS, seed=2, data_seed=11),
        Run(
            "adam",
            {"lr": 0.02},
            schedule="exponential",
            schedule_settings={"gamma": 0.9},
            batch_size=16,
            epochs=EPOCHS,
            seed=5,
        ),
        Run("adam", {"lr": 0.02, "amsgrad": True}, batch_size=16, epochs=EPOCHS, seed=5),
    ]
    rows = train_population(runs, SPLIT)
    assert [r["run_id"] for r in rows] == [run.run_id() for run in runs]
    for run, row in zip(runs, rows, strict=True):
        expected = _alone(run)
        for key, value in expected.items():
            np.testing.assert_allclose(row[key], value, rtol=RTOL, atol=0, err_msg=key)
        assert row["diverged"] is False and row["stopped_epoch"] == -1


def test_train_population_flags_divergence_per_member() -> None:
    runs = [
        Run("gd", {"lr": 1e4}, batch_size=16, epochs=EPOCHS, seed=1),
        Run("gd", {"lr": 0.1}, batch_size=16, epochs=EPOCHS, seed=1),
    ]
    rows = train_population(runs, SPLIT)
    assert [r["diverged"] for r in rows] == [True, False]
    assert rows[0]["stopped_epoch"] >= 0 and rows[1]["stopped_epoch"] == -1
    assert rows[1]["final_cost"] == pytest.approx(_alone(runs[1])["final_cost"], rel=RTOL)
    # the diverged run's row is its own: its cost at the epoch it diverged, as when alone
    assert rows[0]["final_cost"] == pytest.approx(_alone(runs[0])["final_cost"], rel=RTOL)


def test_train_population_rejects_incompatible_runs() -> None:
    runs = [Run("gd", {"lr": 0.1}, batch_size=16), Run("gd", {"lr": 0.1}, batch_size=32)]
    with pytest.raises(InvalidParameterError, match="share batch size"):
        train_population(runs, SPLIT)
    with pytest.raises(InvalidParameterError, match="at least one run"):
        Population([], SPLIT)


def test_population_positions_map_runs_to_members() -> None:
    """Runs of one optimizer structure are contiguous on the population axis, whatever the
    order given; position maps each run to its member and member(i) is run i alone."""
    runs = [
        Run("adam", {"lr": 0.01}, batch_size=16, epochs=EPOCHS, seed=1),
        Run("gd", {"lr": 0.1}, batch_size=16, epochs=EPOCHS, seed=2),
        Run("adam", {"lr": 0.02}, batch_size=16, epochs=EPOCHS, seed=3),
    ]
    population = Population(runs, SPLIT)
    assert population.position == [0, 2, 1]
    result = population.train()
    for i, run in enumerate(runs):
        alone = population.member(result, i)
        np.testing.assert_allclose(
            alone.history.cost[-1], _alone(run)["final_cost"], rtol=RTOL, atol=0
        )


def test_run_identity() -> None:
    a = Run("adam", {"lr": 1}, seed=0)
    b = Run("Adam", {"learning_rate": 1.0, "eps": 0.0}, seed=5)
    assert a.config_id() == b.config_id()  # aliases, 1 == 1.0, the seed's eps default
    assert a.run_id() != b.run_id()
    assert a.hyperparameters == {
        "learning_rate": 1.0,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 0.0,
        "eps_root": 1e-8,
        "amsgrad": False,
        "weight_decay": 0.0,
    }
    assert Run("adam", {"lr": 0.1, "amsgrad": True}).segment_key() != a.segment_key()
    assert Run("adam", {"lr": 0.5, "b1": 0.1}).segment_key() == a.segment_key()
    assert Run.from_dict(b.to_dict()) == b
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        Run("adam", {})


# ----------------------------------------------------------------------------- memory


def test_population_of_1000_with_adam_adds_well_under_100_MB() -> None:
    K = 1000
    data = make_moons(300, noise=0.2, seed=0)
    optimizer = adam(np.geomspace(1e-4, 1e-1, K))
    theta = {"theta": np.zeros((K, NET.n_params))}
    state = optimizer.init(theta)
    state_bytes = sum(
        leaf.nbytes
        for part in state
        for field in part
        if isinstance(field, dict)
        for leaf in field.values()
    )
    assert state_bytes == 2 * K * NET.n_params * 8  # mu and nu: 368 kB in all

    tracemalloc.start()
    try:
        result = train(NET, optimizer, data.X, data.y, epochs=2, seed=list(range(K)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.population == K and np.isfinite(result.history.cost).all()
    assert peak < 50 * 2**20, f"training 1000 networks peaked at {peak / 2**20:.1f} MiB"
    # Accuracy is measured in blocks of members; it equals one call over all of them.
    np.testing.assert_array_equal(
        result.history.train_accuracy[-1], NET.accuracy(result.params, data.X, data.y)
    )


def test_hostile_run_settings_are_refused_by_name() -> None:
    # an int too large for a float is kept and refused by the optimizer, by name
    with pytest.raises(InvalidParameterError, match="'b1' parameter of adam"):
        build_run_optimizer(Run("adam", {"lr": 0.1, "b1": 10**400}))
    # a flag given as 1 is refused as given, not as 1.0
    with pytest.raises(InvalidParameterError, match=r"'amsgrad' parameter of adam .* Got 1 "):
        build_run_optimizer(Run("adam", {"lr": 0.1, "amsgrad": 1}))
    with pytest.raises(InvalidParameterError, match="optimizer 0 must be a GradientTransformation"):
        stack_optimizers([1], [1])
