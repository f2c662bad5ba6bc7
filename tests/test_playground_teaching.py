"""The playground that teaches: drawn data, the MSE loss, the quadratic mode's theory against its
simulation, every schedule, and the config.toml export that ``descentlab compare`` reruns."""

from __future__ import annotations

import base64
import itertools
import json
import math
import tomllib
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns about httpx; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from descentlab.cli import main
from descentlab.datasets import Dataset, load_dataset
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.population import build_run_optimizer
from descentlab.experiments.specs import ScheduleSpec, build_learning_rate
from descentlab.nn import MLP
from descentlab.optimizers import OPTIMIZERS, adam, gd
from descentlab.playground import create_app
from descentlab.playground.models import MAX_POINTS, SCHEDULE_SETTINGS, RunRequest, check_request
from descentlab.playground.plan import GridSpec, _runs
from descentlab.playground.quadratic import (
    QuadraticRequest,
    hessian,
    iteration_matrix,
    predicted_errors,
    quadratic_report,
    simulated_errors,
)
from descentlab.playground.training_jobs import encode_grid
from descentlab.schedules import SCHEDULES, fixed_interval_decay, piecewise_constant
from descentlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GD_ADAM = [
    {"name": "gd", "learning_rate": 0.05, "hyperparameters": {}},
    {"name": "adam", "learning_rate": 0.01, "hyperparameters": {}},
]
SEED_ADAM = {"eps": 0.0, "eps_root": 1e-8}  # the playground's (and the experiments') Adam


@pytest.fixture
def client():
    app = create_app()
    with TestClient(app) as c:
        yield c
    app.state.manager.stop_all("test over")
    for job in app.state.manager.running():
        job.wait(5)


def run_events(client: TestClient, **body) -> list[tuple[str, dict]]:
    """POST the run, read its events to the end."""
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


def done_events(events) -> dict[int, dict]:
    return {d["optimizer"]: d for name, d in events if name == "done"}


def two_blobs(n: int = 40, seed: int = 4) -> dict[str, list]:
    """Drawn-looking data: two clusters of n points, classes 0 (left) and 2 (right)."""
    rng = np.random.default_rng(seed)
    left = rng.normal([-1.0, 0.0], 0.4, size=(n, 2))
    right = rng.normal([1.0, 0.5], 0.4, size=(n, 2))
    pts = np.round(np.concatenate([left, right]), 4)
    return {"x": pts[:, 0].tolist(), "y": pts[:, 1].tolist(), "label": [0] * n + [2] * n}


# --------------------------------------------------------------------------- drawn data


def test_drawn_points_train_to_the_numbers_of_train(client):
    points = two_blobs()
    epochs = 15
    events = run_events(
        client, dataset="drawn", points=points, test_fraction=0.25, hidden=[6], epochs=epochs,
        batch_size=16, optimizers=GD_ADAM,
    )  # fmt: skip
    begin = events[0][1]["dataset"]
    # Labels 0 and 2: classes 0..2 (class 1 has no point), a softmax over 3 units.
    assert begin["name"] == "drawn" and begin["n_classes"] == 3
    assert begin["layer_dims"] == [2, 6, 3] and (begin["n_train"], begin["n_test"]) == (60, 20)
    full = Dataset("drawn", np.array([points["x"], points["y"]]), np.array(points["label"]))
    tr, te = full.split(0.25, seed=0)
    assert begin["train"]["x"] == np.round(tr.X[0], 4).tolist()
    done = done_events(events)
    for i, opt in enumerate([gd(0.05), adam(0.01, **SEED_ADAM)]):
        net = MLP((2, 6, 3))
        result = train(net, opt, tr.X, tr.y, epochs=epochs, batch_size=16, seed=0, init="he",
                       shuffle="random", data_seed=0)  # fmt: skip
        assert done[i]["final_cost"] == result.history.cost[-1]
        assert done[i]["train_accuracy"] == float(net.accuracy(result.params, tr.X, tr.y))
        assert done[i]["test_accuracy"] == float(net.accuracy(result.params, te.X, te.y))
    assert done[1]["train_accuracy"] == 1.0  # two separated clusters


def _body(points, **changes) -> dict:
    return {"dataset": "drawn", "points": points, "optimizers": GD_ADAM[:1], "epochs": 2, **changes}


def _with(**pts) -> dict:
    return {**two_blobs(3), **pts}


HOSTILE_POINTS = [
    # (case, body, field named in the 422)
    ("x beyond the bound", _body(_with(x=[1e5, 0, 0, 0, 0, 0])), "points.x.0"),
    ("y beyond the bound", _body(_with(y=[0, 0, -2e4, 0, 0, 0])),
     "points.y.2"),
    ("label out of range", _body(_with(label=[0, 0, 0, 1, 1, 6])), "points.label.5"),
    ("negative label", _body(_with(label=[-1, 0, 0, 1, 1, 1])), "points.label.0"),
    ("label not an int", _body(_with(label=[0, 0, 0, 1, 1, 0.5])), "points.label.5"),
    ("label a bool", _body(_with(label=[True, 0, 0, 1, 1, 1])), "points.label.0"),
    ("one class", _body(_with(label=[1] * 6)), "points"),
    ("lengths differ", _body(_with(y=[0.0] * 5)), "points"),
    ("too many points", _body({"x": [0.0] * (MAX_POINTS + 1), "y": [0.0], "label": [0]}),
     "points.x"),
    ("a string coordinate", _body(_with(x=["1", 0, 0, 0, 0, 0])), "points.x.0"),
    ("an unknown key", _body({**_with(), "path": "/etc/passwd"}), "points.path"),
    ("points with a built-in set", {**_body(_with()), "dataset": "moons"}, "points"),
    ("drawn without points", {**_body(_with()), "points": None}, "dataset"),
    ("too few for the split", _body({"x": [0.0, 1.0], "y": [0.0, 1.0], "label": [0, 1]}),
     "test_fraction"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "body", "field"), HOSTILE_POINTS, ids=[c[0] for c in HOSTILE_POINTS]
)
def test_hostile_points_are_refused_with_one_line_naming_the_field(client, case, body, field):
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == field
    assert error["error"].startswith(field + ":") and "\n" not in error["error"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinates_sent_as_json_literals_are_refused(client, literal):
    body = json.dumps(_body(_with())).replace('"x": [', f'"x": [{literal}, ', 1)
    body = body.replace('"y": [', '"y": [0, ', 1).replace('"label": [', '"label": [0, ', 1)
    response = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["field"] == "points.x.0"


# --------------------------------------------------------------------------- MSE


def test_mse_with_integer_labels_trains_through_the_job_path_like_train(client):
    epochs = 12
    events = run_events(client, loss="mse", optimizers=GD_ADAM[1:], epochs=epochs)
    data = load_dataset("moons")
    tr, te = data.split(0.2, seed=0)
    net = MLP((2, 8, 8, 1), loss="mse")
    result = train(net, adam(0.01, **SEED_ADAM), tr.X, tr.y, epochs=epochs, batch_size=64,
                   seed=0, init="he", shuffle="random", data_seed=0)  # fmt: skip
    begin, done = events[0][1], done_events(events)[0]
    assert begin["dataset"]["loss"] == "mse"
    costs = [c for name, d in events if name == "progress" for c in d["cost"]]
    np.testing.assert_array_equal(costs, result.history.cost)
    # Half the mean squared error to the 0/1 targets, not a cross-entropy.
    A, _ = net.forward(result.params, tr.X)
    assert done["final_cost"] == result.history.cost[-1]
    last = net.cost(result.params, tr.X, net.targets(tr.y))
    assert last == pytest.approx(0.5 * np.mean((A[0] - tr.y) ** 2))
    assert done["train_accuracy"] == float(np.mean((A[0] > 0.5) == tr.y))
    assert done["test_accuracy"] == float(net.accuracy(result.params, te.X, te.y))
    # The picture: classes by A > 0.5, confidence max(A, 1 - A) clipped to [0, 1].
    grid = GridSpec(**begin["grid"])
    out, _ = net.forward(result.params, grid.points())
    p = np.clip(out[0], 0, 1)
    last_picture = [d for name, d in events if name == "progress"][-1]["grid"]
    assert last_picture == encode_grid(np.stack([1 - p, p]))
    classes = np.frombuffer(base64.b64decode(last_picture["classes"]), np.uint8)
    np.testing.assert_array_equal(classes, net.predict(result.params, grid.points()))


def test_mse_on_three_classes_draws_the_argmax_of_the_outputs(client):
    events = run_events(
        client, dataset="blobs", n_samples=60, loss="mse", hidden=[5], epochs=3,
        optimizers=[{"name": "gd", "learning_rate": 0.1}],
    )  # fmt: skip
    begin = events[0][1]
    assert begin["dataset"]["layer_dims"] == [2, 5, 3]
    picture = [d for name, d in events if name == "progress"][-1]["grid"]
    classes = np.frombuffer(base64.b64decode(picture["classes"]), np.uint8)
    confidence = np.frombuffer(base64.b64decode(picture["confidence"]), np.uint8)
    assert set(classes) <= {0, 1, 2} and classes.size == 3600 and confidence.max() <= 255


def test_an_unknown_loss_is_refused(client):
    response = client.post("/api/runs", json={"optimizers": GD_ADAM, "loss": "hinge"})
    assert response.status_code == 422 and response.json()["field"] == "loss"


# --------------------------------------------------------------------------- schedules


def test_every_schedule_of_the_library_is_offered(client):
    rows = {s["name"]: s for s in client.get("/api/options").json()["schedules"]}
    assert set(rows) == set(SCHEDULES) == set(SCHEDULE_SETTINGS)
    pieces = {s["name"]: (s["default"], s["list"]) for s in rows["piecewise"]["settings"]}
    assert pieces == {"piece_boundaries": ([250, 500], True), "piece_factors": ([0.1, 0.01], True)}
    assert not any(s["list"] for s in rows["step"]["settings"])


def test_piecewise_factors_scale_each_optimizers_own_rate(client):
    body = {
        "optimizers": [
            {"name": "gd", "learning_rate": 0.4},
            {"name": "adam", "learning_rate": 0.02},
        ],
        "epochs": 8,
        "schedule": {"name": "piecewise", "piece_boundaries": [2, 5], "piece_factors": [0.5, 0.1]},
    }
    done = done_events(run_events(client, **body))
    tr = load_dataset("moons").split(0.2, seed=0)[0]
    for i, (make, lr, extra) in enumerate([(gd, 0.4, {}), (adam, 0.02, SEED_ADAM)]):
        # 4 steps per epoch: lr until epoch 2, lr / 2 until epoch 5, lr / 10 after.
        schedule = piecewise_constant([2, 5], [lr, lr * 0.5, lr * 0.1], steps_per_epoch=4)
        assert [schedule(t) for t in (7, 8, 19, 20)] == [lr, lr * 0.5, lr * 0.5, lr * 0.1]
        result = train(MLP((2, 8, 8, 1)), make(schedule, **extra), tr.X, tr.y, epochs=8,
                       batch_size=64, seed=0, init="he", shuffle="random", data_seed=0)  # fmt: skip
        assert done[i]["final_cost"] == result.history.cost[-1]


BAD_PIECES = [
    ({"piece_boundaries": [5, 5]}, "schedule.piece_boundaries", "strictly increasing"),
    ({"piece_boundaries": [4, 2]}, "schedule.piece_boundaries", "strictly increasing"),
    ({"piece_boundaries": [2], "piece_factors": [0.5, 0.1]}, "schedule.piece_factors",
     "1 boundaries and 2 factors"),
    ({"piece_factors": [-0.5, 0.1]}, "schedule.piece_factors.0", "piece_factors[0]"),
    ({"piece_boundaries": [0, 3]}, "schedule.piece_boundaries.0", "piece_boundaries[0]"),
    ({"piece_boundaries": list(range(1, 10))}, "schedule.piece_boundaries", "at most 8"),
    ({"piece_boundaries": []}, "schedule.piece_boundaries", "at least 1"),
    ({"piece_boundaries": [1.5, 3]}, "schedule.piece_boundaries.0", "integer"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "field", "words"), BAD_PIECES)
def test_bad_pieces_are_refused_naming_the_setting(client, settings, field, words):
    body = {"optimizers": GD_ADAM, "schedule": {"name": "piecewise", **settings}}
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and words in response.json()["error"]
    other = {"optimizers": GD_ADAM, "schedule": {"name": "step", "piece_factors": [0.5]}}
    response = client.post("/api/runs", json=other)
    assert response.status_code == 422 and response.json()["field"] == "schedule.piece_factors"


def test_piecewise_exports_absolute_rates_when_the_optimizers_share_one_rate(client):
    schedule = {"name": "piecewise", "piece_boundaries": [3, 6], "piece_factors": [0.5, 0.25]}
    same = [{"name": "gd", "learning_rate": 0.2}, {"name": "momentum", "learning_rate": 0.2}]
    parsed = tomllib.loads(client.post("/api/export", json={"optimizers": same,
                                                            "schedule": schedule}).text)  # fmt: skip
    assert parsed["schedule"] == {"name": "piecewise", "boundaries": [3, 6],
                                  "values": [0.2, 0.1, 0.05]}  # fmt: skip
    response = client.post("/api/export", json={"optimizers": GD_ADAM, "schedule": schedule})
    assert response.status_code == 422 and response.json()["field"] == "schedule.name"
    assert "give the optimizers one learning rate" in response.json()["error"]


def test_fixed_interval_schedule_trains_like_the_exercise_decay(client):
    events = run_events(
        client, optimizers=[{"name": "gd", "learning_rate": 0.3}], epochs=9,
        schedule={"name": "fixed_interval", "decay_rate": 1.0, "time_interval": 3},
    )  # fmt: skip
    tr = load_dataset("moons").split(0.2, seed=0)[0]
    # 240 examples in batches of 64: 4 steps per epoch; the rate halves after epoch 3, ...
    schedule = fixed_interval_decay(0.3, decay_rate=1.0, time_interval=3, steps_per_epoch=4)
    assert [schedule(t) for t in (0, 11, 12, 24)] == [0.3, 0.3, 0.15, 0.3 / 3]
    result = train(MLP((2, 8, 8, 1)), gd(schedule), tr.X, tr.y, epochs=9, batch_size=64, seed=0,
                   init="he", shuffle="random", data_seed=0)  # fmt: skip
    assert done_events(events)[0]["final_cost"] == result.history.cost[-1]
    bad = {"optimizers": GD_ADAM, "schedule": {"name": "fixed_interval", "time_interval": 0}}
    response = client.post("/api/runs", json=bad)
    assert response.status_code == 422 and response.json()["field"] == "schedule.time_interval"


# --------------------------------------------------------------------------- quadratic


def test_theory_is_the_closed_forms():
    for kappa in (1.0, 10.0, 100.0):
        t = quadratic_report(QuadraticRequest(kappa=kappa, learning_rate=0.01, beta=0.3))["theory"]
        root = math.sqrt(kappa)
        assert t["gd_best_learning_rate"] == pytest.approx(2 / (1 + kappa), rel=1e-15)
        assert t["gd_best_rate"] == pytest.approx((kappa - 1) / (kappa + 1), abs=1e-15)
        assert t["momentum_best_learning_rate"] == pytest.approx((2 / (root + 1)) ** 2, rel=1e-15)
        assert t["momentum_best_beta"] == pytest.approx(((root - 1) / (root + 1)) ** 2, abs=1e-15)
        assert t["momentum_best_rate"] == pytest.approx((root - 1) / (root + 1), abs=1e-15)
        assert t["gd_rate"] == pytest.approx(max(abs(1 - 0.01), abs(1 - 0.01 * kappa)))
    t = quadratic_report(QuadraticRequest(kappa=10.0))["theory"]
    assert (round(t["gd_best_rate"], 6), round(t["momentum_best_rate"], 6)) == (0.818182, 0.519494)


def test_gd_rate_is_the_spectral_radius_of_its_iteration_matrix():
    for lam, alpha in [(1.0, 0.1), (10.0, 0.1), (10.0, 0.25)]:
        eig = sorted(np.abs(np.linalg.eigvals(iteration_matrix(lam, alpha, 0.0))))
        assert eig == pytest.approx([0.0, abs(1 - alpha * lam)])


@pytest.mark.parametrize(
    ("kappa", "angle", "lr", "beta"),
    [(10.0, 0.0, 0.1, 0.0), (50.0, 30.0, 0.03, 0.0), (10.0, -45.0, 0.1, 0.5), (100.0, 60.0, 0.015,
     0.9), (20.0, 15.0, 0.12, 0.05)],
)  # fmt: skip
def test_the_library_optimizer_follows_the_predicted_curve(kappa, angle, lr, beta):
    H, Q, lambdas = hessian(kappa, angle)
    x0 = np.array([0.7, -1.3])
    simulated = simulated_errors(H, x0, lr, beta, 300)
    predicted = predicted_errors(lambdas, Q.T @ x0, lr, beta, 300)
    np.testing.assert_allclose(simulated, predicted, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("kappa", "lr", "beta"),
    [(10.0, 0.1, 0.0), (10.0, 2 / 11, 0.0), (100.0, 0.015, 0.0), (10.0, 0.05, 0.1), (50.0, 0.02,
     0.2)],
)  # fmt: skip
def test_simulated_error_decays_at_the_predicted_rate(kappa, lr, beta):
    """Real eigenvalues (no oscillation): e_{k+n} / e_k -> rate^n."""
    report = quadratic_report(
        QuadraticRequest(kappa=kappa, angle=20.0, learning_rate=lr, beta=beta, steps=400)
    )
    run = report["runs"][0 if beta == 0 else 1]
    errors = np.array(run["simulated"])
    ratio = errors[400] / errors[200]
    assert ratio == pytest.approx(run["rate"] ** 200, rel=0.02)
    assert run["measured_rate"] == pytest.approx(run["rate"], rel=1e-4)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_optimal_settings_reach_the_optimal_rates(kappa):
    report = quadratic_report(QuadraticRequest(kappa=kappa, angle=-30.0, steps=400))
    theory = report["theory"]
    gd_best, momentum_best = report["runs"][2], report["runs"][3]
    assert gd_best["measured_rate"] == pytest.approx(theory["gd_best_rate"], rel=1e-6)
    # Critical damping: e_k ~ (a + b k) rate^k, so over steps 200..400 the measured per-step
    # decay exceeds the rate by at most the factor 2^(1/200) of the linear term.
    measured = momentum_best["measured_rate"]
    assert theory["momentum_best_rate"] < measured < theory["momentum_best_rate"] * 2 ** (1 / 200)
    assert measured < 0.9 * gd_best["measured_rate"]  # momentum is faster


def test_an_unstable_rate_diverges_in_the_simulation_too():
    report = quadratic_report(QuadraticRequest(kappa=10.0, learning_rate=0.25, beta=0.0, steps=50))
    gd_run = report["runs"][0]
    assert gd_run["rate"] == pytest.approx(1.5)
    assert gd_run["simulated"][50] == pytest.approx(gd_run["predicted"][50], rel=1e-9)
    assert gd_run["simulated"][50] > 1e7


def test_quadratic_endpoint_answers_the_report(client):
    body = {"kappa": 25.0, "angle": 10.0, "learning_rate": 0.05, "beta": 0.6, "steps": 80}
    response = client.post("/api/quadratic", json=body)
    assert response.status_code == 200
    expected = quadratic_report(QuadraticRequest(**body))
    assert response.json() == json.loads(json.dumps(expected))
    assert [r["name"] for r in expected["runs"]] == [
        "gd", "momentum", "gd (optimal)", "momentum (optimal)",
    ]  # fmt: skip


BAD_QUADRATIC = [
    ({"kappa": 0.5}, "kappa"),
    ({"kappa": 1e5}, "kappa"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"beta": 1.0}, "beta"),
    ({"steps": 10**9}, "steps"),
    ({"steps": 2.5}, "steps"),
    ({"x0": [0.0, 0.0]}, "x0"),
    ({"x0": [1.0, 2.0, 3.0]}, "x0"),
    ({"x0": [1e3, 0.0]}, "x0.0"),
    ({"angle": "90"}, "angle"),
    ({"hessian": [[1, 0], [0, 1]]}, "hessian"),
]


@pytest.mark.parametrize(("body", "field"), BAD_QUADRATIC, ids=[f for _, f in BAD_QUADRATIC])
def test_hostile_quadratic_requests_are_refused(client, body, field):
    response = client.post("/api/quadratic", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and "\n" not in response.json()["error"]


def test_nan_kappa_is_refused(client):
    response = client.post(
        "/api/quadratic", content='{"kappa": NaN}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["field"] == "kappa"


# --------------------------------------------------------------------------- export


def test_exported_config_reruns_the_same_training_with_compare(client, tmp_path, capsys):
    body = {"optimizers": GD_ADAM, "epochs": 20, "seed": 5, "data_seed": 7, "n_samples": 200,
            "noise": 0.25, "test_fraction": 0.3, "hidden": [6, 4], "activation": "tanh",
            "schedule": {"name": "cosine"}}  # fmt: skip
    response = client.post("/api/export", json=body)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="config.toml"'
    toml = response.text
    parsed = tomllib.loads(toml)
    assert parsed["dataset"] == {"name": "moons", "n_samples": 200, "noise": 0.25, "seed": 7,
                                 "holdout": "split", "test_size": 0.3, "test_seed": 7,
                                 "standardize": False}  # fmt: skip
    assert parsed["schedule"] == {"name": "cosine", "decay_steps": 20 * 3}  # 140 / 64: 3 steps
    assert (parsed["seed"], parsed["data_seed"], parsed["init"], parsed["shuffle"]) == (
        5, 5, "he", "random",
    )  # fmt: skip
    done = done_events(run_events(client, **body))
    path = tmp_path / "config.toml"
    path.write_text(toml)
    code = main(["compare", "--config", str(path), "--format", "json", "--quiet",
                 "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results["layer_dims"] == [2, 6, 4, 1] and results["dataset"]["n_train"] == 140
    assert [r["label"] for r in results["runs"]] == ["gd (lr 0.05)", "adam (lr 0.01)"]
    for i, row in enumerate(results["runs"]):
        assert row["final_cost"] == done[i]["final_cost"]
        assert row["train_accuracy"] == done[i]["train_accuracy"]
        assert row["test_accuracy"] == done[i]["test_accuracy"]
    assert ExperimentConfig.from_toml(toml).to_toml() in toml


def test_export_without_test_share_keeps_the_training_set(client):
    body = {"optimizers": GD_ADAM + GD_ADAM[:1], "test_fraction": 0.0, "data_seed": 3}
    parsed = tomllib.loads(client.post("/api/export", json=body).text)
    assert parsed["dataset"] == {"name": "moons", "seed": 3, "holdout": "fresh", "test_seed": 4,
                                 "test_size": 0.25, "standardize": False}  # fmt: skip
    labels = [o["label"] for o in parsed["optimizers"]]
    assert labels == ["gd (lr 0.05)", "adam (lr 0.01)", "gd (lr 0.05) #2"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"dataset": "drawn", "points": two_blobs(5)}, "dataset", "Download the points as CSV"),
        ({"loss": "mse"}, "loss", "cross-entropy classifiers only"),
        ({"epochs": 0}, "epochs", "epochs"),
    ],
)
def test_unexportable_setups_are_refused_with_the_reason(client, changes, field, words):
    response = client.post("/api/export", json={"optimizers": GD_ADAM, **changes})
    assert response.status_code == 422
    assert response.json()["field"] == field and words in response.json()["error"]


def test_piecewise_corners_build_with_every_optimizer():
    """Factors 0 and 10, boundaries 1 and 5000, rates from the smallest to 10: every optimizer
    builds (its pieces are lr * [1, f1, f2]) and the rates stay in [0, 10 lr]."""
    tiny = math.nextafter(0, 1)
    for optimizer, lr, factors in itertools.product(
        OPTIMIZERS, [tiny, 10.0], [[0.0, 10.0], [10.0, 0.0]]
    ):
        req = RunRequest(
            epochs=5000,
            optimizers=[{"name": optimizer, "learning_rate": lr}],
            schedule={"name": "piecewise", "piece_boundaries": [1, 5000], "piece_factors": factors},
        )
        check_request(req)
        (run,) = _runs(req, 5000)
        assert run.schedule_settings == {
            "boundaries": [1, 5000],
            "values": [lr, lr * factors[0], lr * factors[1]],
        }
        build_run_optimizer(run, 5000)
        rate = build_learning_rate(lr, ScheduleSpec("piecewise", dict(run.schedule_settings)), 5000)
        rates = rate(np.array([0, 4999, 5000, 24_999_999, 25_000_000]))
        assert rates.tolist() == [lr, lr, lr * factors[0], lr * factors[0], lr * factors[1]]


def test_the_new_endpoints_take_only_one_json_document(client):
    for path in ("/api/quadratic", "/api/export"):
        text = client.post(path, content="kappa=10", headers={"content-type": "text/plain"})
        assert text.status_code == 415 and text.json()["field"] == "body"
        broken = client.post(path, content="{", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.json()["error"].startswith("The request body")
        twice = client.post(
            path, content='{"steps": 1, "steps": 2}', headers={"content-type": "application/json"}
        )
        assert twice.status_code == 400 and "twice" in twice.json()["error"]
        assert client.get(path).status_code == 405
