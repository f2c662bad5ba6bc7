"""The playground and the modern optimizers and schedules: offered, checked, trained as alone.

Every new optimizer and schedule is accepted by ``POST /api/runs`` and trains to the numbers of
``train()`` with the same optimizer built by hand; every hostile setting is a ``422`` naming
its field in one line; a schedule-free optimizer's final picture is its evaluation point x.
"""

from __future__ import annotations

import collections
import inspect
import itertools
import json
import math
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns about httpx; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from descentlab._validation import FRACTION, InvalidParameterError, check_param
from descentlab.datasets import load_dataset
from descentlab.experiments.population import build_run_optimizer
from descentlab.experiments.specs import ScheduleSpec, build_learning_rate
from descentlab.nn import MLP
from descentlab.optimizers import OPTIMIZERS, adam, applied_learning_rate, gd, get_optimizer
from descentlab.playground import create_app
from descentlab.playground.models import (
    OPTIMIZER_HYPERPARAMETERS,
    SCHEDULE_FIELDS,
    SCHEDULE_FORMULAS,
    SCHEDULE_SETTINGS,
    RunRequest,
    ScheduleRequest,
    check_request,
)
from descentlab.playground.plan import GridSpec, _runs, _schedule, build_plan
from descentlab.playground.training_jobs import encode_grid
from descentlab.schedules import (
    SCHEDULES,
    one_cycle,
    polynomial_decay,
    reduce_on_plateau,
    sgdr,
    warmup_stable_decay,
)
from descentlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEW_OPTIMIZERS = ["nadam", "nadamw", "radam", "adamax", "adadelta", "rprop", "lion",
                  "schedule_free_adamw", "schedule_free_sgd"]  # fmt: skip
NEW_SCHEDULES = ["polynomial", "sgdr", "one_cycle", "wsd", "reduce_on_plateau"]
SCHEDULE_FREE = ["schedule_free_adamw", "schedule_free_sgd"]


@pytest.fixture
def client():
    app = create_app()
    with TestClient(app) as c:
        yield c
    app.state.manager.stop_all("test over")
    for job in app.state.manager.running():
        job.wait(5)


def stream_run(client: TestClient, **body) -> list[tuple[str, dict]]:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    events, name = [], None
    with client.stream("GET", response.json()["events"]) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
    assert events[-1][0] == "end"
    return events


def reference(optimizer, *, epochs, seed=0):
    """train() with the playground's defaults: the seed's moons, 80/20 split, [8, 8] relu,
    batches of 64 (240 examples: 4 steps per epoch), He init, a random order from ``seed``."""
    train_part, test_part = load_dataset("moons").split(0.2, seed=0)
    net = MLP((2, 8, 8, 1))
    result = train(net, optimizer, train_part.X, train_part.y, epochs=epochs, batch_size=64,
                   seed=seed, init="he", shuffle="random", data_seed=seed)  # fmt: skip
    return net, train_part, test_part, result


def assert_job_equals(events, i, net, train_part, test_part, ref):
    """Optimizer i of a streamed job has the costs, final picture and results of ``ref``."""
    grid = GridSpec(**events[0][1]["grid"])
    progress = [d for name, d in events if name == "progress" and d["optimizer"] == i]
    costs = [c for d in progress for c in d["cost"]]
    np.testing.assert_allclose(costs, ref.history.cost, rtol=1e-12, atol=0)
    assert progress[-1]["grid"] == encode_grid(net.predict_proba(ref.params, grid.points()))
    done = next(d for name, d in events if name == "done" and d["optimizer"] == i)
    assert done["status"] == "completed"
    assert done["train_accuracy"] == float(net.accuracy(ref.params, train_part.X, train_part.y))
    assert done["test_accuracy"] == float(net.accuracy(ref.params, test_part.X, test_part.y))
    assert done["final_cost"] == pytest.approx(ref.history.cost[-1], rel=1e-12, abs=0)


# --------------------------------------------------------------------------- the option tables


def test_options_offer_every_schedule_with_a_formula_and_the_library_defaults(client):
    options = client.get("/api/options").json()
    rows = {s["name"]: s for s in options["schedules"]}
    assert list(rows) == ["constant", "inverse_time", "exponential", "fixed_interval", "step",
                          "cosine", *NEW_SCHEDULES[:-1], "piecewise", NEW_SCHEDULES[-1]]  # fmt: skip
    assert set(rows) == set(SCHEDULES)
    assert {name: row["formula"] for name, row in rows.items()} == SCHEDULE_FORMULAS
    settings = {
        name: {s["name"]: s["default"] for s in row["settings"]} for name, row in rows.items()
    }
    assert settings["polynomial"] == {"power": 1.0}
    assert settings["sgdr"] == {"period": 250, "period_mult": 1}
    assert settings["one_cycle"] == {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}
    assert settings["wsd"] == {"warmup_fraction": 0.0, "decay_fraction": 0.2}
    assert settings["reduce_on_plateau"] == {
        "factor": 0.1, "patience": 10, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0,
    }  # fmt: skip
    for name in NEW_SCHEDULES:  # the defaults are the library's wherever it has one
        library = inspect.signature(SCHEDULES[name]).parameters
        for key, default in settings[name].items():
            if key in library and library[key].default is not inspect.Parameter.empty:
                assert default == library[key].default, (name, key)
    plateau = next(s for s in rows["reduce_on_plateau"]["settings"] if s["name"] == "factor")
    assert SCHEDULE_SETTINGS["reduce_on_plateau"]["factor"][0] is FRACTION
    assert (plateau["min"], plateau["max"], plateau["closed"]) == (0.0, 1.0, "neither")
    patience = next(s for s in rows["reduce_on_plateau"]["settings"] if s["name"] == "patience")
    assert (patience["min"], patience["max"], patience["integer"]) == (0, 5000, True)


def test_the_schedule_request_has_one_field_per_setting_of_the_right_type():
    assert set(SCHEDULE_FIELDS) == {k for table in SCHEDULE_SETTINGS.values() for k in table}
    for table in SCHEDULE_SETTINGS.values():
        for key, (rule, default, _help) in table.items():
            kind = int if rule.integer else float
            if isinstance(default, list):  # piecewise's lists: each item within the rule
                assert ScheduleRequest.model_fields[key].annotation == list[kind] | None, key
                assert all(isinstance(v, kind) and rule.contains(v) for v in default), key
                continue
            assert ScheduleRequest.model_fields[key].annotation == kind | None, key
            assert isinstance(default, kind) and rule.contains(default), key


def _edges(rule) -> list:
    if rule.integer:
        return [int(rule.low), int(rule.high)]
    low = rule.low if rule.closed in ("both", "left") else math.nextafter(rule.low, math.inf)
    high = rule.high if rule.closed in ("both", "right") else math.nextafter(rule.high, -math.inf)
    return [low, high]


TINY = math.nextafter(0, 1)  # the smallest learning rate the page allows


def test_every_corner_of_the_new_schedules_builds_with_every_optimizer_or_is_named():
    """Whatever the page's intervals allow, at both ends of each, the library builds with
    every optimizer and its rates stay in [0, alpha0] over the whole training, except for
    the pairs it refuses (which build_plan turns into a 422 naming the schedule):
    schedule-free under reduce_on_plateau; rprop, whose first step size must be > 0, under a
    schedule that starts at 0 (wsd's warm-up; one_cycle's alpha0 / 1e4 underflowing)."""
    built, refused = 0, []
    epochs, steps_per_epoch = 5000, 5000  # the longest run the page allows
    for schedule in NEW_SCHEDULES:
        table = SCHEDULE_SETTINGS[schedule]
        for values in itertools.product(*(_edges(rule) for rule, _, _ in table.values())):
            given = dict(zip(table, values, strict=True))
            for optimizer, lr in itertools.product(OPTIMIZERS, [TINY, 10.0]):
                req = RunRequest(schedule={"name": schedule, **given}, epochs=epochs,
                                 optimizers=[{"name": optimizer, "learning_rate": lr}])  # fmt: skip
                check_request(req)
                (run,) = _runs(req, steps_per_epoch)
                try:
                    build_run_optimizer(run, steps_per_epoch)
                except InvalidParameterError:
                    refused.append((schedule, optimizer, given, lr))
                    continue
                built += 1
                if schedule == "reduce_on_plateau":
                    continue
                rate = build_learning_rate(lr, ScheduleSpec(schedule, dict(run.schedule_settings)),
                                           steps_per_epoch)  # fmt: skip
                steps = np.array([0, 1, 2, 12_499_999, 24_999_998, 24_999_999, 25_000_000])
                rates = rate(steps)
                assert np.all(np.isfinite(rates)) and np.all((0 <= rates) & (rates <= lr))
    corners = 2 + 4 + 8 + 4 + 32
    assert built == corners * len(OPTIMIZERS) * 2 - len(refused)
    pairs = collections.Counter((schedule, optimizer) for schedule, optimizer, _, _ in refused)
    assert pairs == {
        ("reduce_on_plateau", "schedule_free_adamw"): 32 * 2,
        ("reduce_on_plateau", "schedule_free_sgd"): 32 * 2,
        ("wsd", "rprop"): 2,
        ("one_cycle", "rprop"): 3,
    }
    assert [(given, lr) for schedule, _, given, lr in refused if schedule == "wsd"] == [
        ({"warmup_fraction": 1.0, "decay_fraction": 0.0}, TINY),
        ({"warmup_fraction": 1.0, "decay_fraction": 0.0}, 10.0),
    ]
    assert {lr for schedule, _, _, lr in refused if schedule == "one_cycle"} == {TINY}


def test_the_plan_fills_the_steps_of_the_whole_training():
    # 240 training examples in batches of 64: 4 steps per epoch; 7 epochs: T = 28 steps
    def settings(**schedule):
        req = RunRequest(
            epochs=7, schedule=schedule, optimizers=[{"name": "gd", "learning_rate": 0.1}]
        )
        return _schedule(req, steps_per_epoch=4)

    assert settings(name="cosine") == ("cosine", {"decay_steps": 28})
    assert settings(name="polynomial", power=2.0) == (
        "polynomial", {"power": 2.0, "decay_steps": 28, "steps_per_epoch": 1},
    )  # fmt: skip
    assert settings(name="one_cycle") == (
        "one_cycle",
        {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4, "total_steps": 28},
    )
    # D = floor(0.5 * 28) = 14 decay steps; W = floor(0.3 * (28 - 14)) = 4 warm-up steps
    assert settings(name="wsd", warmup_fraction=0.3, decay_fraction=0.5) == (
        "wsd", {"decay_fraction": 0.5, "total_steps": 28, "warmup_steps": 4},
    )  # fmt: skip
    assert settings(name="sgdr", period=3) == ("sgdr", {"period": 3, "period_mult": 1})
    assert settings(name="reduce_on_plateau", patience=2) == (
        "reduce_on_plateau",
        {"factor": 0.1, "patience": 2, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0},
    )


# --------------------------------------------------------------------------- trained for real


@pytest.mark.parametrize("name", NEW_OPTIMIZERS)
def test_every_new_optimizer_trains_in_a_job_as_it_does_alone(client, name):
    """Paired with Adam, as one population: each member equals train() with its optimizer."""
    lr = 0.01
    events = stream_run(client, epochs=4, seed=2, optimizers=[
        {"name": name, "learning_rate": lr}, {"name": "adam", "learning_rate": 0.02}])  # fmt: skip
    assert events[0][1]["optimizers"][0]["label"] == f"{name} (lr 0.01)"
    for i, optimizer in enumerate(
        [get_optimizer(name, learning_rate=lr), adam(0.02, eps=0.0, eps_root=1e-8)]
    ):
        assert_job_equals(events, i, *reference(optimizer, epochs=4, seed=2))


# The schedules as the page describes them, against the schedule built by hand: 3 epochs of 4
# steps, T = 12 steps.
SCHEDULE_CASES = [
    ({"name": "polynomial", "power": 2.0}, polynomial_decay(0.02, decay_steps=12, power=2.0)),
    # periods of 1 and 2 epochs: a restart at epoch 1
    ({"name": "sgdr", "period": 1, "period_mult": 2},
     sgdr(0.02, period=1, period_mult=2, steps_per_epoch=4)),
    ({"name": "one_cycle", "pct_start": 0.25, "div_factor": 10.0},
     one_cycle(0.02, total_steps=12, pct_start=0.25, div_factor=10.0)),
    # D = floor(0.5 * 12) = 6, W = floor(0.5 * (12 - 6)) = 3
    ({"name": "wsd", "warmup_fraction": 0.5, "decay_fraction": 0.5},
     warmup_stable_decay(0.02, total_steps=12, warmup_steps=3, decay_fraction=0.5)),
    ({"name": "reduce_on_plateau", "factor": 0.5, "patience": 0, "threshold": 0.2},
     reduce_on_plateau(0.02, factor=0.5, patience=0, threshold=0.2)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "rate"), SCHEDULE_CASES, ids=[s["name"] for s, _ in SCHEDULE_CASES]
)
def test_every_new_schedule_trains_in_a_job_as_it_does_alone(client, schedule, rate):
    events = stream_run(client, epochs=3, schedule=schedule, optimizers=[
        {"name": "gd", "learning_rate": 0.02}, {"name": "lion", "learning_rate": 0.02}])  # fmt: skip
    for i, optimizer in enumerate([gd(rate), get_optimizer("lion", learning_rate=rate)]):
        net, train_part, test_part, ref = reference(optimizer, epochs=3)
        # the rate really moved: it is not the constant 0.02 at the last update
        assert applied_learning_rate(ref.opt_state) != 0.02
        assert_job_equals(events, i, net, train_part, test_part, ref)


def test_reduce_on_plateau_is_fed_the_training_cost_of_every_epoch(client):
    """No validation data in the playground: the plateau watches the epoch's training cost.
    With patience 0 and a threshold of 20 %, each epoch that does not improve the best cost
    by 20 % halves the rate; the job's costs are train()'s, so is its rate."""
    epochs = 6
    schedule = {"name": "reduce_on_plateau", "factor": 0.5, "patience": 0, "threshold": 0.2}
    events = stream_run(client, epochs=epochs, schedule=schedule,
                        optimizers=[{"name": "adam", "learning_rate": 0.05}])  # fmt: skip
    rate = reduce_on_plateau(0.05, factor=0.5, patience=0, threshold=0.2)
    net, train_part, test_part, ref = reference(adam(rate, eps=0.0, eps_root=1e-8), epochs=epochs)
    assert_job_equals(events, 0, net, train_part, test_part, ref)
    cost = ref.history.cost
    best, expected = math.inf, 0.05
    for c in cost:  # the state keeps the rate of the next update: every cut counts
        if c < best * (1 - 0.2):
            best = c
        else:
            expected *= 0.5
    assert applied_learning_rate(ref.opt_state) == expected < 0.05


@pytest.mark.parametrize("name", SCHEDULE_FREE)
def test_a_schedule_free_job_shows_and_scores_the_evaluation_point(client, name):
    """The final picture and the accuracies come from x (``TrainResult.params``), which here
    differs from the training point y (``train_params``)."""
    events = stream_run(client, epochs=5, optimizers=[{"name": name, "learning_rate": 0.05}])
    net, train_part, test_part, ref = reference(get_optimizer(name, learning_rate=0.05), epochs=5)
    grid = GridSpec(**events[0][1]["grid"]).points()
    at_x = encode_grid(net.predict_proba(ref.params, grid))
    at_y = encode_grid(net.predict_proba(ref.train_params, grid))
    assert at_x != at_y
    assert_job_equals(events, 0, net, train_part, test_part, ref)


# --------------------------------------------------------------------------- hostile settings

OK = [{"name": "gd", "learning_rate": 0.1}]

HOSTILE = [
    # (case, schedule or optimizers, field, message after "field: " or None for pydantic's)
    ("power zero", {"name": "polynomial", "power": 0.0}, "schedule.power",
     "The 'power' parameter of the 'polynomial' schedule must be a float in the range "
     "(0.0, 10.0]. Got 0.0 instead."),
    ("power huge", {"name": "polynomial", "power": 1e300}, "schedule.power", None),
    ("period zero", {"name": "sgdr", "period": 0}, "schedule.period",
     "The 'period' parameter of the 'sgdr' schedule must be an int in the range [1, 5000]. "
     "Got 0 instead."),
    ("period beyond the epochs", {"name": "sgdr", "period": 5001}, "schedule.period", None),
    ("period as a float", {"name": "sgdr", "period": 2.5}, "schedule.period", None),
    ("period as text", {"name": "sgdr", "period": "3"}, "schedule.period", None),
    ("period_mult zero", {"name": "sgdr", "period_mult": 0}, "schedule.period_mult", None),
    ("pct_start above 1", {"name": "one_cycle", "pct_start": 1.5}, "schedule.pct_start", None),
    ("pct_start negative", {"name": "one_cycle", "pct_start": -0.1}, "schedule.pct_start", None),
    ("div_factor below 1", {"name": "one_cycle", "div_factor": 0.5}, "schedule.div_factor",
     "The 'div_factor' parameter of the 'one_cycle' schedule must be a float in the range "
     "[1.0, 10000.0]. Got 0.5 instead."),
    ("final_div_factor absurd", {"name": "one_cycle", "final_div_factor": 1e7},
     "schedule.final_div_factor", None),
    ("decay_fraction above 1", {"name": "wsd", "decay_fraction": 1.01}, "schedule.decay_fraction",
     None),
    ("warmup_fraction negative", {"name": "wsd", "warmup_fraction": -0.1},
     "schedule.warmup_fraction", None),
    ("plateau factor 1", {"name": "reduce_on_plateau", "factor": 1.0}, "schedule.factor",
     "The 'factor' parameter of the 'reduce_on_plateau' schedule must be a float in the range "
     "(0.0, 1.0). Got 1.0 instead."),
    ("plateau factor 0", {"name": "reduce_on_plateau", "factor": 0.0}, "schedule.factor", None),
    ("patience negative", {"name": "reduce_on_plateau", "patience": -1}, "schedule.patience",
     None),
    ("patience 2**64", {"name": "reduce_on_plateau", "patience": 2**64}, "schedule.patience",
     None),
    ("threshold 1", {"name": "reduce_on_plateau", "threshold": 1.0}, "schedule.threshold", None),
    ("cooldown as a float", {"name": "reduce_on_plateau", "cooldown": 1.5}, "schedule.cooldown",
     None),
    ("min_lr above the largest rate", {"name": "reduce_on_plateau", "min_lr": 11.0},
     "schedule.min_lr", None),
    ("a setting of another schedule", {"name": "wsd", "period": 3}, "schedule.period",
     "'period' does not apply to the 'wsd' schedule (warmup_fraction, decay_fraction)."),
    ("an unknown setting", {"name": "one_cycle", "three_phase": True}, "schedule.three_phase",
     None),
    ("a wrong name", {"name": "one-cycle"}, "schedule.name", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_hostile_schedule_setting_is_a_one_line_422_naming_it(client, schedule, field, message):
    response = client.post("/api/runs", json={"epochs": 3, "schedule": schedule, "optimizers": OK})
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == field
    assert error["error"].startswith(f"{field}: ") and "\n" not in error["error"]
    if message is not None:
        assert error["error"] == f"{field}: {message}"
    assert client.app.state.manager.running() == []


def test_rprop_under_a_warm_up_from_zero_is_refused_by_name(client):
    body = {"epochs": 3, "schedule": {"name": "wsd", "warmup_fraction": 0.5},
            "optimizers": [{"name": "rprop", "learning_rate": 0.01}]}  # fmt: skip
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422
    assert response.json() == {
        "error": "schedule.name: Optimizer 0 (rprop) cannot train with the 'wsd' schedule: "
        "The 'learning_rate' parameter of rprop is its first step size and must be > 0 at step "
        "0; the schedule gives 0.0 (a warm-up from 0?).",
        "field": "schedule.name",
    }


@pytest.mark.parametrize("name", SCHEDULE_FREE)
def test_a_schedule_free_optimizer_under_reduce_on_plateau_is_refused_by_name(client, name):
    body = {"epochs": 3, "schedule": {"name": "reduce_on_plateau"},
            "optimizers": [*OK, {"name": name, "learning_rate": 0.01}]}  # fmt: skip
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["field"] == "schedule.name" and "\n" not in error["error"]
    assert error["error"].startswith(
        f"schedule.name: Optimizer 1 ({name}) cannot train with the 'reduce_on_plateau' "
        f"schedule: The 'learning_rate' parameter of {name} cannot be reduce_on_plateau("
    )
    assert "reduce_on_plateau does not know in advance" in error["error"]
    assert client.app.state.manager.running() == []


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [("nadam", "momentum_decay", 1.5), ("radam", "b2", 1.0), ("adadelta", "eps", 0.0),
     ("rprop", "eta_minus", 1.0), ("rprop", "eta_plus", 0.9), ("lion", "weight_decay", -1e-3),
     ("schedule_free_adamw", "b1", 0.0), ("schedule_free_sgd", "b1", 1.0),
     ("schedule_free_sgd", "warmup_steps", 10.0)],
)  # fmt: skip
def test_a_hostile_hyperparameter_of_a_new_optimizer_is_a_one_line_422(client, name, key, value):
    body = {"epochs": 3, "optimizers": [{"name": name, "learning_rate": 0.01,
                                         "hyperparameters": {key: value}}]}  # fmt: skip
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422
    field = f"optimizers.0.hyperparameters.{key}"
    error = response.json()
    assert error["field"] == field and "\n" not in error["error"]
    table = OPTIMIZER_HYPERPARAMETERS[name]
    if key in table:
        with pytest.raises(ValueError) as expected:
            check_param(name, key, value, table[key][0])
        assert error["error"] == f"{field}: {expected.value}"
    else:
        assert error["error"] == (
            f"{field}: Unknown hyperparameter {key!r} for {name}; it takes {', '.join(table)}."
        )


def test_build_plan_never_lets_a_library_error_through(monkeypatch):
    """A refusal the tables did not foresee, raised while the population is built, is a
    RequestError (a 422), never a 500."""
    from descentlab.playground import plan as plan_module

    def refuse(runs, data):
        raise InvalidParameterError("The population is too large for memory.")

    monkeypatch.setattr(plan_module, "Population", refuse)
    req = RunRequest(epochs=3, optimizers=OK)
    with pytest.raises(plan_module.RequestError) as err:
        build_plan(req, grid_size=8, max_steps=10**6, max_work=1e12)
    assert (err.value.field, err.value.message) == (
        "optimizers", "The population is too large for memory.",
    )  # fmt: skip
