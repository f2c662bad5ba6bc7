"""Population training: member k of a population equals training it alone (float64, 1e-12).

Covers per-member init seeds, data orders, hyperparameters (learning rate, betas, eps, weight
decay, momentum, decay) and schedule parameters, for every named optimizer; mixed
populations (different optimizers stacked on one population axis); the sweep's
``train_population``; and the memory a population of 1000 networks with Adam adds.
"""

from __future__ import annotations

import tracemalloc
import warnings

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
from descentlab.optimizers.base import StackedState
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
        # the NumPy engine's temporaries (the compiled engine keeps none per step)
        result = train(
            NET, optimizer, data.X, data.y, epochs=2, seed=list(range(K)), engine="numpy"
        )
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


# ----------------------------------------------------------------------------- bookkeeping, exactly


def test_run_settings_are_plain_numbers_and_its_ids_are_stable() -> None:
    """Settings given as NumPy scalars, ints or aliases name the same configuration; the ids
    are those stored in every results file (changing them breaks --resume of old sweeps)."""
    run = Run(
        "Adam",
        {
            "lr": np.float32(0.5),
            "b1": np.int64(0),
            "amsgrad": 1,
            "eps": np.bool_(False),
            "b2": True,
        },
        schedule="Exponential",
        schedule_settings={"decay_rate": np.float64(0.5), "decay_steps": np.int64(10)},
        layers=[np.int64(3)],
        batch_size=16.0,
        epochs=np.int64(5),
        seed=np.int64(3),
        data_seed=np.int64(7),
    )
    hyper = {
        "learning_rate": 0.5,
        "b1": 0.0,
        "b2": True,
        "eps": False,  # a bool stays a bool (and is refused by the optimizer, by name)
        "eps_root": 1e-8,
        "amsgrad": 1,  # a flag stays as given
        "weight_decay": 0.0,
    }
    assert run.hyperparameters == hyper
    assert [type(v) for v in run.hyperparameters.values()] == [
        float, float, bool, bool, float, int, float
    ]  # fmt: skip
    assert run.schedule_settings == {"decay_rate": 0.5, "decay_steps": 10}
    assert [type(v) for v in run.schedule_settings.values()] == [float, int]
    assert (run.optimizer, run.schedule, run.layers) == ("adam", "exponential", (3,))
    assert [type(v) for v in (run.batch_size, run.epochs, run.seed, run.data_seed)] == [int] * 4
    assert type(run.layers[0]) is int
    assert (run.learning_rate, run.order_seed) == (0.5, 7)
    settings = {
        "optimizer": "adam",
        "hyperparameters": hyper,
        "schedule": "exponential",
        "schedule_settings": {"decay_rate": 0.5, "decay_steps": 10},
        "batch_size": 16,
        "epochs": 5,
        "layers": [3],
        "activation": "relu",
        "init": "he",
        "shuffle": "random",
    }
    assert run.settings() == settings and list(run.settings()) == list(settings)
    assert run.to_dict() == {**settings, "seed": 3, "data_seed": 7}
    assert Run.from_dict(run.to_dict()) == run
    assert run.config_id() == "6997ee543f5c"
    assert run.run_id() == "6997ee543f5c-s3d7"
    assert run.population_key() == (16, 5, (3,), "relu", "he", "random")
    assert run.segment_key() == (
        "adam",
        (("b2", "true"), ("eps", "false"), ("amsgrad", "1")),
        "exponential",
        (("decay_steps", "10"),),
    )

    piecewise = Run(
        "gd",
        {"lr": 1},
        schedule="piecewise",
        schedule_settings={"boundaries": (2, np.int64(4)), "scales": [1, 0.1]},
    )
    assert piecewise.hyperparameters == {"learning_rate": 1.0}
    assert piecewise.schedule_settings == {"boundaries": [2, 4], "scales": [1.0, 0.1]}
    assert [type(b) for b in piecewise.schedule_settings["boundaries"]] == [int, int]
    assert [type(b) for b in piecewise.schedule_settings["scales"]] == [float, float]
    assert (piecewise.data_seed, piecewise.order_seed, piecewise.layers) == (None, 0, (5, 2))
    assert piecewise.run_id() == "9ee89819f144-s0"
    assert piecewise.segment_key() == (
        "gd",
        (),
        "piecewise",
        (("boundaries", "[2, 4]"), ("scales", "[1.0, 0.1]")),
    )
    data = piecewise.to_dict()
    del data["layers"]
    assert Run.from_dict(data) == piecewise  # the default architecture
    # a rate of a schedule differs between members; its integer settings do not
    cosine = Run("gd", {"lr": 0.1}, schedule="cosine", schedule_settings={"decay_steps": 7})
    assert cosine.segment_key() == ("gd", (), "cosine", (("decay_steps", "7"),))
    cosine = Run("gd", {"lr": 0.1}, schedule="cosine", schedule_settings={"decay_steps": 7.0})
    assert cosine.segment_key() == ("gd", (), "cosine", (("decay_steps", "7.0"),))
    huge = Run("adam", {"lr": 0.1, "b1": 10**400})
    assert huge.hyperparameters["b1"] == 10**400  # too large for a float: kept as given


def test_run_refuses_a_missing_or_bad_learning_rate_in_one_exact_line() -> None:
    def error(*args, **kwargs) -> str:
        with pytest.raises(InvalidParameterError) as caught:
            Run(*args, **kwargs)
        return str(caught.value)

    assert error("adam", {}) == "Run of 'adam' needs a learning_rate among its hyperparameters."
    assert error("Adam", {"lr": -1}) == (
        "The 'learning_rate' parameter of Run of Adam must be a float in the range "
        "(0.0, 10000.0]. Got -1.0 instead."
    )
    assert error("adam", {"lr": [0.1, 0.2]}) == (
        "The 'learning_rate' parameter of Run of adam must be a float in the range "
        "(0.0, 10000.0]. Got [0.1, 0.2] (list) instead."
    )
    assert error("adam", {"lr": 0.1}, schedule_settings={"gamma": 0.5}) == (
        "schedule_settings given without a schedule."
    )


def test_member_values_share_one_scalar_or_stack_an_array() -> None:
    from descentlab.experiments.population import _member_values

    shared = _member_values([0.25, 0.25, 0.25])
    assert shared == 0.25 and type(shared) is float
    stacked = _member_values([0.25, 0.5, 0.25])
    assert stacked.dtype == np.float64 and stacked.tolist() == [0.25, 0.5, 0.25]
    assert _member_values([0.5]) == 0.5
    assert _member_values([True, True]) is True
    assert _member_values([3, 4]) == 3  # not a rate: one value for the whole segment
    assert _member_values(["x", "x"]) == "x"


def test_population_groups_members_by_optimizer_structure() -> None:
    runs = [
        Run("adam", {"lr": 0.01}, batch_size=16, epochs=2, seed=1),
        Run("gd", {"lr": 0.1}, batch_size=16, epochs=2, seed=2),
        Run("adam", {"lr": 0.02, "amsgrad": True}, batch_size=16, epochs=2, seed=3),
        Run("adam", {"lr": 0.03, "b1": 0.5}, batch_size=16, epochs=2, seed=4),
        Run("gd", {"lr": 0.2}, batch_size=16, epochs=2, seed=5),
    ]
    population = Population(runs, SPLIT)
    assert population.runs == runs and population.data is SPLIT
    assert population.order == [0, 3, 1, 4, 2]
    assert population.position == [0, 2, 4, 1, 3]
    assert population.net.layer_dims == (2, 5, 2, 1)
    assert population.net.activation == "relu"
    params = population.net.init(seed=[0, 1, 2, 3, 4])
    state = population.optimizer.init(params)
    assert isinstance(state, StackedState) and state.sizes == (2, 2, 1)
    # one optimizer structure: its own optimizer and state, per-member rates, no stacking
    gds = Population([runs[1], runs[4]], SPLIT)
    (rate,) = gds.optimizer.init(population.net.init(seed=[0, 1]))
    assert not isinstance(rate, StackedState) and rate.learning_rate.tolist() == [0.1, 0.2]
    single = Population(runs[:1], SPLIT)
    assert single.order == [0] and single.position == [0]
    with pytest.raises(InvalidParameterError) as error:
        Population([runs[0], Run("gd", {"lr": 0.1}, batch_size=16, epochs=3)], SPLIT)
    assert str(error.value) == (
        "A population takes runs that share batch size, epochs, layers, activation, init and "
        "shuffle; got 2 different combinations."
    )
    with pytest.raises(InvalidParameterError) as error:
        Population([], SPLIT)
    assert str(error.value) == "A population needs at least one run."


def test_population_train_measures_what_it_is_asked_to(capsys) -> None:
    runs = [Run("gd", {"lr": 0.1}, batch_size=16, epochs=3, seed=s) for s in (1, 2)]
    population = Population(runs, SPLIT)
    plain = population.train()
    assert plain.history.eval_epochs.tolist() == [0, 2]  # the first and the last epoch
    assert plain.history.val_accuracy.size == 0  # no validation unless asked
    assert capsys.readouterr() == ("", "")  # no progress bar unless asked
    every = population.train(validation=True, eval_every=1)
    assert every.history.eval_epochs.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(every.history.cost, plain.history.cost)
    net, params = population.net, every.params
    np.testing.assert_array_equal(
        every.history.val_accuracy[-1], net.accuracy(params, SPLIT.val.X, SPLIT.val.y)
    )
    # without validation data the held-out accuracy is the test set's
    no_val = Population(runs, ExperimentData(train=DATA, val=None, test=SPLIT.test))
    result = no_val.train(validation=True)
    np.testing.assert_array_equal(
        result.history.val_accuracy[-1], net.accuracy(result.params, SPLIT.test.X, SPLIT.test.y)
    )
    assert (
        Population(runs, ExperimentData(train=DATA))
        .train(validation=True)
        .history.val_accuracy.size
        == 0
    )
    epochs: list[int] = []
    population.train(on_epoch=lambda epoch, logs: epochs.append(epoch))
    assert epochs == [0, 1, 2]


def test_train_population_rows_are_plain_values_and_ctrl_c_stops_it() -> None:
    runs = [
        Run("gd", {"lr": 0.1}, batch_size=16, epochs=3, seed=1),
        Run("adam", {"lr": 0.01}, batch_size=16, epochs=3, seed=2, data_seed=9),
    ]
    epochs: list[int] = []
    rows = train_population(runs, SPLIT, on_epoch=epochs.append)
    assert epochs == [0, 1, 2]
    assert [list(r) for r in rows] == [
        [
            "run_id",
            "config_id",
            "seed",
            "train_accuracy",
            "val_accuracy",
            "test_accuracy",
            "val_cost",
            "test_cost",
            "final_cost",
            "diverged",
            "stopped_epoch",
            "seconds",
            "status",
            "engine",
            "engine_note",
        ]
    ] * 2
    assert [(r["run_id"], r["config_id"], r["seed"]) for r in rows] == [
        (run.run_id(), run.config_id(), run.seed) for run in runs
    ]
    for row in rows:
        assert [type(row[k]) for k in ("diverged", "stopped_epoch", "seed")] == [bool, int, int]
        assert (row["diverged"], row["stopped_epoch"], row["status"]) == (False, -1, "completed")
        assert all(type(row[k]) is float for k in ("val_cost", "test_cost", "final_cost"))
    assert rows[0]["seconds"] == rows[1]["seconds"]
    assert 0.0 < rows[0]["seconds"] < 30.0
    diverged = train_population([Run("gd", {"lr": 1e4}, batch_size=16, epochs=3)], SPLIT)
    assert (diverged[0]["diverged"], diverged[0]["status"]) == (True, "diverged")
    assert 0 <= diverged[0]["stopped_epoch"] < 3

    def interrupt(epoch: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_population(runs, SPLIT, on_epoch=interrupt)


def test_evaluate_measures_members_in_blocks_as_in_one_call() -> None:
    big = make_moons(2**15, noise=0.25, seed=3)  # blocks of 2 members
    data = ExperimentData(train=DATA, val=big, test=SPLIT.test)
    params = NET.init(seed=[0, 1, 2, 3, 4])
    measured = evaluate(NET, params, data)
    assert list(measured) == [
        "train_accuracy",
        "val_accuracy",
        "test_accuracy",
        "val_cost",
        "test_cost",
    ]
    for k in range(5):
        alone = {name: v[k] for name, v in params.items()}
        for name, ds in (("train", DATA), ("val", big), ("test", SPLIT.test)):
            assert measured[f"{name}_accuracy"][k] == NET.accuracy(alone, ds.X, ds.y)
        for name, ds in (("val", big), ("test", SPLIT.test)):
            assert measured[f"{name}_cost"][k] == NET.cost(alone, ds.X, NET.targets(ds.y))
    assert all(v.shape == (5,) for v in measured.values())
    # one network (no population axis): arrays of one member
    one = evaluate(NET, {name: v[0] for name, v in params.items()}, ExperimentData(train=DATA))
    assert list(one) == ["train_accuracy"] and one["train_accuracy"].shape == (1,)
    # a diverged network is measured without warnings: inf weights, or weights so large that
    # the products overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        broken = {name: np.full_like(v, np.inf) for name, v in params.items()}
        assert np.isnan(evaluate(NET, broken, SPLIT)["val_cost"]).all()
        huge = {name: v * 1e150 for name, v in params.items()}
        assert np.isnan(evaluate(NET, huge, SPLIT)["val_cost"]).all()


def test_evaluate_blocks_hold_about_2_to_the_16_member_examples(monkeypatch) -> None:
    import descentlab.experiments.population as population_module

    sizes: list[int] = []
    measure = population_module._evaluate_block

    def spy(net, params, sets):
        sizes.append(net.check_params(params) or 0)
        return measure(net, params, sets)

    monkeypatch.setattr(population_module, "_evaluate_block", spy)
    params = NET.init(seed=[0, 1, 2, 3, 4])
    for n, blocks in [(16, [5]), (2**14, [4, 1]), (2**15, [2, 2, 1]), (2**15 + 1, [1] * 5)]:
        sizes.clear()
        evaluate(NET, params, ExperimentData(train=make_moons(n, seed=0)))
        assert sizes == blocks, n
    # one network (no population axis) on more than 2**16 examples: one block
    sizes.clear()
    big = make_moons(2**16 + 1, seed=0)
    alone = {name: v[0] for name, v in params.items()}
    measured = evaluate(NET, alone, ExperimentData(train=big))
    assert sizes == [0] and measured["train_accuracy"] == NET.accuracy(alone, big.X, big.y)


def test_population_checks_its_memory_before_anything_trains(monkeypatch) -> None:
    from descentlab import limits

    runs = [Run("gd", {"lr": 0.1}, batch_size=16, epochs=2, seed=s) for s in (1, 2, 3)]
    need = limits.population_bytes((2, 5, 2, 1), 3, 16, 44, 2)
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", need)
    Population(runs, SPLIT)  # at the limit
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", need - 1)
    with pytest.raises(InvalidParameterError) as error:
        Population(runs, SPLIT)
    assert str(error.value) == (
        f"This training would need about {need / 2**30:.3g} GiB (3 networks of 30 parameters, "
        f"44 examples, batches of 16, 2 epochs); the limit is {(need - 1) / 2**30:g} GiB "
        "(descentlab.limits.MAX_MEMORY_BYTES). Train fewer networks or epochs at once, or a "
        "smaller network."
    )


def test_population_train_passes_progress_callbacks_and_max_cost_on(monkeypatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    runs = [Run("gd", {"lr": 0.1}, batch_size=16, epochs=3, seed=s) for s in (1, 2)]
    population = Population(runs, SPLIT)
    population.train()
    assert terminal.getvalue() == ""  # no bar unless asked, even on a terminal
    population.train(progress=True, label="the population")
    assert "the population" in terminal.getvalue()
    stopped = population.train(callbacks=[lambda epoch, logs: True])
    assert (stopped.status, stopped.history.n_epochs) == ("early_stopped", 1)
    assert stopped.stopped_epoch.tolist() == [0, 0]
    diverged = population.train(max_cost=1e-3)
    assert diverged.status == "diverged" and diverged.diverged.tolist() == [True, True]
    rows = train_population(runs, SPLIT, max_cost=1e-3)
    assert [(r["diverged"], r["stopped_epoch"], r["status"]) for r in rows] == [
        (True, 0, "diverged")
    ] * 2


def test_without_shuffling_the_data_seed_plays_no_part() -> None:
    def rows(data_seed):
        run = Run("gd", {"lr": 0.1}, batch_size=16, epochs=2, shuffle="none", data_seed=data_seed)
        (row,) = train_population([run], SPLIT)
        return {k: v for k, v in row.items() if k not in ("run_id", "seconds")}

    assert rows(None) == rows(5) == rows(2**40)  # not even looked at


def test_build_run_optimizer_counts_epochs_in_steps() -> None:
    run = Run("gd", {"lr": 1.0}, schedule="exponential", schedule_settings={"gamma": 0.5})

    def steps(optimizer) -> list[float]:
        params = {"x": np.zeros(1)}
        state = optimizer.init(params)
        out = []
        for _ in range(4):
            updates, state = optimizer.update({"x": np.ones(1)}, state, params)
            out.append(float(updates["x"][0]))
        return out

    assert steps(build_run_optimizer(run)) == [-1.0, -0.5, -0.25, -0.125]  # an epoch a step
    assert steps(build_run_optimizer(run, 2)) == [-1.0, -1.0, -0.5, -0.5]


def test_a_batch_larger_than_the_data_is_one_step_an_epoch_for_the_schedule() -> None:
    run = Run(
        "gd",
        {"lr": 0.5},
        schedule="exponential",
        schedule_settings={"gamma": 0.5},
        batch_size=64,  # > 44 examples
        epochs=3,
        seed=1,
    )
    (row,) = train_population([run], SPLIT)
    assert row["final_cost"] == pytest.approx(_alone(run)["final_cost"], rel=RTOL, abs=0)


def test_the_runs_network_initialisation_and_order_reach_the_engine() -> None:
    """tanh, Xavier and an unshuffled order (none of them the defaults) train exactly as
    :func:`train` does with them."""
    run = Run(
        "adam", {"lr": 0.01}, batch_size=16, epochs=4, seed=3,
        activation="tanh", init="xavier", shuffle="none",
    )  # fmt: skip
    population = Population([run], SPLIT)
    assert population.net.activation == "tanh"
    got = population.member(population.train(), 0)
    net = MLP(SPLIT.layer_dims(run.layers), "tanh")
    alone = train(
        net, build_optimizer("adam", {}, 0.01, None, 5), SPLIT.train.X, SPLIT.train.y,
        epochs=4, batch_size=16, seed=3, init="xavier", shuffle="none",
    )  # fmt: skip
    assert got.params.keys() == alone.params.keys()
    for key in alone.params:
        np.testing.assert_array_equal(got.params[key], alone.params[key])
