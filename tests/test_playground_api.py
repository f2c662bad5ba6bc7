"""The playground's HTTP API: every endpoint, every kind of bad input, streamed runs, caps, stopping."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import itertools
import json
import math
import socket
import threading
import time
import types
import warnings
import webbrowser
from importlib import resources

import httpx
import numpy as np
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns about httpx; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from descentlab._validation import UNIT_OPEN, check_param
from descentlab.cli import main
from descentlab.cli import playground as playground_cli
from descentlab.datasets import BUILTIN_DATASETS, load_dataset
from descentlab.experiments import population as population_module
from descentlab.nn import MLP
from descentlab.optimizers import OPTIMIZERS, adam, gd, momentum, rmsprop
from descentlab.playground import create_app
from descentlab.playground import server as playground_server
from descentlab.playground.models import (
    OPTIMIZER_HYPERPARAMETERS,
    PAGE_DEFAULTS,
    RANGES,
    RequestError,
    RunRequest,
    check_request,
)
from descentlab.playground.plan import GridSpec
from descentlab.playground.training_jobs import encode_grid
from descentlab.schedules import SCHEDULES, exponential_decay
from descentlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GD_ADAM = [
    {"name": "gd", "learning_rate": 0.05, "hyperparameters": {}},
    {"name": "adam", "learning_rate": 0.01, "hyperparameters": {}},
]
# Long enough to still be running while a test looks at it: 5000 epochs spread over 60 s.
SLOW = {"optimizers": [GD_ADAM[0]], "epochs": 5000, "pace_seconds": 60.0}


def make_client(**kwargs) -> TestClient:
    return TestClient(create_app(**kwargs))


@pytest.fixture
def client():
    app = create_app()
    with TestClient(app) as c:
        yield c
    app.state.manager.stop_all("test over")
    for job in app.state.manager.running():
        job.wait(5)


def read_events(response_or_lines, until: str | None = None) -> list[tuple[str, dict]]:
    """Parse Server-Sent Events from a streaming response or its line iterator.

    Stops after the event ``until`` (or at the end of the stream).
    """
    lines = getattr(response_or_lines, "iter_lines", lambda: response_or_lines)()
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
            if until is not None and name == until:
                break
    return events


def start(client: TestClient, **body) -> str:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["events"] == f"/api/runs/{data['id']}/events"
    return data["id"]


def wait_status(client: TestClient, run_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = client.get(f"/api/runs/{run_id}").json()
        if summary["status"] != "running":
            return summary
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


def reference(optimizer, *, epochs, hidden=(8, 8), batch_size=64, seed=0, test_fraction=0.2):
    """What train() gives for the playground's settings on the seed's moons."""
    data = load_dataset("moons")
    tr, te = data.split(test_fraction, seed=0) if test_fraction else (data, None)
    net = MLP((2, *hidden, 1))
    result = train(
        net,
        optimizer,
        tr.X,
        tr.y,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        init="he",
        shuffle="random",
        data_seed=seed,
    )
    return net, tr, te, result


# --------------------------------------------------------------------------- page and options


def test_page_and_static_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<canvas id="cost-chart"' in page.text and "/static/app.js" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "EventSource" in script.text
    assert "javascript" in script.headers["content-type"]
    assert client.get("/static/style.css").status_code == 200
    # Nothing is fetched from the internet: no absolute URLs in the page or its script.
    for text in (page.text, script.text, client.get("/static/style.css").text):
        assert "http://" not in text and "https://" not in text
    files = {p.name for p in (resources.files("descentlab.playground") / "static").iterdir()}
    assert {"index.html", "app.js", "style.css"} <= files


def test_options_list_two_feature_datasets_every_optimizer_and_the_limits(client):
    options = client.get("/api/options").json()
    names = [d["name"] for d in options["datasets"]]
    assert names == ["moons", "circles", "xor", "spiral", "blobs", "gaussian_quantiles"]
    for name in names:
        assert name in BUILTIN_DATASETS
        assert load_dataset(name).n_features == 2
    moons = options["datasets"][0]
    assert (moons["n_samples"], moons["noise"]) == (300, 0.2)
    listed = ["gd", "momentum", "nesterov", "sgd", "rmsprop", "adagrad", "adam", "adamw",
              "nadam", "nadamw", "radam", "adamax", "adadelta", "rprop", "lion",
              "schedule_free_adamw", "schedule_free_sgd"]  # fmt: skip
    assert [o["name"] for o in options["optimizers"]] == listed
    assert {o["name"] for o in options["optimizers"]} == set(OPTIMIZERS)
    adam_row = next(o for o in options["optimizers"] if o["name"] == "adam")
    defaults = {h["name"]: h["default"] for h in adam_row["hyperparameters"]}
    assert defaults == {"b1": 0.9, "b2": 0.999, "eps": 0.0}  # the seed's Adam (eps_root 1e-8)
    assert {s["name"] for s in options["schedules"]} <= set(SCHEDULES)
    limits = options["limits"]
    assert limits["max_optimizers"] == 4 and limits["max_samples"] == 5000
    assert limits["max_epochs"] == 5000 and limits["max_hidden_units"] == 64
    assert limits["max_hidden_layers"] == 4 and limits["max_concurrent"] == 2
    assert limits["grid_size"] == 60
    assert (
        RunRequest.model_validate(options["defaults"]).model_dump()["optimizers"]
        == (PAGE_DEFAULTS["optimizers"])
    )


def test_grid_window_and_encoding():
    spec = GridSpec.around(np.array([[0.0, 2.0], [0.0, 1.0]]), size=4, margin=0.1)
    # The longer range (2) plus 10 % each side, centred on each axis: a square window.
    assert spec.x_min == pytest.approx(-0.2) and spec.x_max == pytest.approx(2.2)
    assert spec.y_min == pytest.approx(-0.7) and spec.y_max == pytest.approx(1.7)
    points = spec.points()
    assert points.shape == (2, 16)
    np.testing.assert_allclose(points[:, 0], [-0.2 + 0.3, 1.7 - 0.3])  # top-left cell centre
    np.testing.assert_allclose(points[:, 5], [-0.2 + 0.9, 1.7 - 0.9])  # row 1, column 1
    grid = encode_grid(np.array([[0.1, 0.5, np.nan], [0.9, 0.5, np.nan]]))
    assert list(base64.b64decode(grid["classes"])) == [1, 0, 0]
    assert list(base64.b64decode(grid["confidence"])) == [230, 128, 0]


# --------------------------------------------------------------------------- bad input

VALID = {"optimizers": GD_ADAM, "epochs": 5}

BAD_BODIES = [
    # (case, body changes, expected status, field named in the error)
    ("missing optimizers", {"optimizers": None}, 422, "optimizers"),
    ("no optimizer", {"optimizers": []}, 422, "optimizers"),
    ("five optimizers", {"optimizers": GD_ADAM * 2 + GD_ADAM[:1]}, 422, "optimizers"),
    ("unknown optimizer", {"optimizers": [{"name": "adabelief", "learning_rate": 0.1}]}, 422,
     "optimizers.0.name"),
    ("lr zero", {"optimizers": [{"name": "gd", "learning_rate": 0.0}]}, 422,
     "optimizers.0.learning_rate"),
    ("lr negative", {"optimizers": [GD_ADAM[0], {"name": "adam", "learning_rate": -0.1}]}, 422,
     "optimizers.1.learning_rate"),
    ("lr absurd", {"optimizers": [{"name": "gd", "learning_rate": 11.0}]}, 422,
     "optimizers.0.learning_rate"),
    ("lr as text", {"optimizers": [{"name": "gd", "learning_rate": "0.1"}]}, 422,
     "optimizers.0.learning_rate"),
    ("unknown hyperparameter",
     {"optimizers": [{"name": "adam", "learning_rate": 0.1, "hyperparameters": {"beta": 0.9}}]},
     422, "optimizers.0.hyperparameters.beta"),
    ("b1 out of range",
     {"optimizers": [{"name": "adam", "learning_rate": 0.1, "hyperparameters": {"b1": 1.5}}]},
     422, "optimizers.0.hyperparameters.b1"),
    ("unknown optimizer field", {"optimizers": [{"name": "gd", "learning_rate": 0.1, "x": 1}]},
     422, "optimizers.0.x"),
    ("too many examples", {"n_samples": 5001}, 422, "n_samples"),
    ("too few examples", {"n_samples": 5}, 422, "n_samples"),
    ("too many epochs", {"epochs": 5001}, 422, "epochs"),
    ("zero epochs", {"epochs": 0}, 422, "epochs"),
    ("epochs as bool", {"epochs": True}, 422, "epochs"),
    ("zero batch", {"batch_size": 0}, 422, "batch_size"),
    ("huge batch", {"batch_size": 5001}, 422, "batch_size"),
    ("too many units", {"hidden": [8, 65]}, 422, "hidden.1"),
    ("zero units", {"hidden": [0]}, 422, "hidden.0"),
    ("too many layers", {"hidden": [4, 4, 4, 4, 4]}, 422, "hidden"),
    ("a path as dataset", {"dataset": "/etc/passwd"}, 422, "dataset"),
    ("a csv as dataset", {"dataset": "data.csv"}, 422, "dataset"),
    ("a real set (not 2-D)", {"dataset": "iris"}, 422, "dataset"),
    ("a path field", {"path": "/tmp/data.csv"}, 422, "path"),
    ("negative noise", {"noise": -0.1}, 422, "noise"),
    ("absurd noise", {"noise": 3.0}, 422, "noise"),
    ("test share too large", {"test_fraction": 0.9}, 422, "test_fraction"),
    ("split leaves a class empty", {"dataset": "spiral", "n_samples": 12, "test_fraction": 0.1},
     422, "test_fraction"),
    ("negative seed", {"seed": -1}, 422, "seed"),
    ("unknown activation", {"activation": "softmax"}, 422, "activation"),
    ("unknown schedule", {"schedule": {"name": "cyclic"}}, 422, "schedule.name"),
    ("setting of another schedule", {"schedule": {"name": "constant", "gamma": 0.9}}, 422,
     "schedule.gamma"),
    ("gamma out of range", {"schedule": {"name": "exponential", "gamma": 1.5}}, 422,
     "schedule.gamma"),
    ("too slow", {"pace_seconds": 61.0}, 422, "pace_seconds"),
    ("too many steps", {"epochs": 5000, "batch_size": 1}, 422, "epochs"),
    ("too much work",
     {"n_samples": 5000, "hidden": [64, 64, 64, 64], "epochs": 5000, "batch_size": 5000,
      "test_fraction": 0.0},
     422, "epochs"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_request_is_a_json_error_naming_the_field(client, changes, status, field):
    body = {**VALID, **changes}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/api/runs", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["field"] == field
    assert error["error"].startswith(f"{field}: ")
    assert client.app.state.manager.running() == []


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        (b'{"optimizers": [', 400, "body"),
        (b"not json at all", 400, "body"),
        (b'{"optimizers": [{"name": "gd", "learning_rate": NaN}]}', 422,
         "optimizers.0.learning_rate"),
        (b'{"optimizers": [{"name": "gd", "learning_rate": Infinity}]}', 422,
         "optimizers.0.learning_rate"),
        (b"[1, 2]", 422, "body"),
        (b"", 422, "body"),
    ],
)  # fmt: skip
def test_body_that_is_not_a_request_object(client, content, status, field):
    response = client.post(
        "/api/runs", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


GD = '{"name": "gd", "learning_rate": 0.1}'


def body_with(**fields: str) -> bytes:
    """A request body written by hand, so it can hold what ``json.dumps`` never writes."""
    fields.setdefault("optimizers", f"[{GD}]")
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


HOSTILE_BODIES = [
    # (case, raw body, expected status, field named in the error)
    ("nested 20000 deep", body_with(x="[" * 20000 + "]" * 20000), 400, "body"),
    ("nested beyond the depth limit",
     body_with(optimizers='[{"name": "adam", "learning_rate": 0.1, "hyperparameters": '
               '{"b1": [[[[[[[0.9]]]]]]]}}]'), 400, "body"),
    ("a 5000-digit integer", body_with(seed="1" * 5000), 400, "body"),
    ("a 400-digit integer", body_with(seed="9" * 400), 422, "seed"),
    ("1e308 as a learning rate", body_with(optimizers='[{"name": "gd", "learning_rate": 1e308}]'),
     422, "optimizers.0.learning_rate"),
    ("1e400 (inf) as noise", body_with(noise="1e400"), 422, "noise"),
    ("-0.0 as a learning rate", body_with(optimizers='[{"name": "gd", "learning_rate": -0.0}]'),
     422, "optimizers.0.learning_rate"),
    ("1e-320 as the test share", body_with(test_fraction="1e-320"), 422, "test_fraction"),
    ("1e308 as a count", body_with(n_samples="1e308"), 422, "n_samples"),
    ("2**64 as a seed", body_with(seed=str(2**64)), 422, "seed"),
    ("-Infinity", body_with(pace_seconds="-Infinity"), 422, "pace_seconds"),
    ("a very long name", body_with(dataset='"' + "m" * 60000 + '"'), 422, "dataset"),
    ("a very long key", body_with(**{"k" * 60000: "1"}), 422, "k" * 197 + "..."),
    ("unicode in a name", body_with(optimizers='[{"name": "\u00e4dam", "learning_rate": 0.1}]'),
     422, "optimizers.0.name"),
    ("unicode key", body_with(**{"\u00fcber": "1"}), 422, "\u00fcber"),
    ("a lone surrogate as a hyperparameter",
     body_with(optimizers='[{"name": "adam", "learning_rate": 0.1, '
               '"hyperparameters": {"\\ud800": 0.9}}]'), 422,
     "optimizers.0.hyperparameters.\ud800"),
    ("a key given twice", b'{"epochs": 5, "optimizers": [], "epochs": 6}', 400, "body"),
    ("a nested key given twice",
     body_with(optimizers='[{"name": "gd", "name": "adam", "learning_rate": 0.1}]'), 400, "body"),
    ("optimizers as an object", body_with(optimizers='{"0": ' + GD + "}"), 422, "optimizers"),
    ("an optimizer as a list", body_with(optimizers='[["gd", 0.1]]'), 422, "optimizers.0"),
    ("schedule as a list", body_with(schedule='["step"]'), 422, "schedule"),
    ("hyperparameters as a list",
     body_with(optimizers='[{"name": "gd", "learning_rate": 0.1, "hyperparameters": [0.9]}]'),
     422, "optimizers.0.hyperparameters"),
    ("10 000 optimizers", body_with(optimizers="[" + ", ".join(["{}"] * 10000) + "]"), 422,
     "optimizers"),
    ("a hidden layer of 10**9 units", body_with(hidden="[1000000000]"), 422, "hidden.0"),
    ("20 000 hidden layers", body_with(hidden="[" + ", ".join(["1"] * 20000) + "]"), 422, "hidden"),
    ("not UTF-8", b'{"dataset": "\xff\xfe"}', 400, "body"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [case[1:] for case in HOSTILE_BODIES],
    ids=[case[0] for case in HOSTILE_BODIES],
)
def test_a_hostile_body_is_refused_as_json_quickly(client, content, status, field):
    began = time.monotonic()
    response = client.post(
        "/api/runs", content=content, headers={"content-type": "application/json"}
    )
    assert time.monotonic() - began < 5.0
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content.isascii()  # every character escaped: nothing breaks the encoding
    error = response.json()
    assert error["field"] == field
    assert len(error["error"]) < 2100 and "Traceback" not in error["error"]
    assert client.app.state.manager.running() == []


def test_a_key_given_twice_is_named():
    doc = b'{"epochs": 5, "optimizers": [], "epochs": 6}'
    with make_client() as c:
        response = c.post("/api/runs", content=doc, headers={"content-type": "application/json"})
    assert response.json() == {"error": "The request body gives the key 'epochs' twice.",
                               "field": "body"}  # fmt: skip


def test_ranges_come_from_one_table_of_intervals(client):
    options = client.get("/api/options").json()
    lr = RANGES["learning_rate"]
    assert options["ranges"]["learning_rate"] == {
        "min": 0.0, "max": 10.0, "closed": "right", "integer": False, "range": str(lr),
    }  # fmt: skip
    assert options["limits"]["max_learning_rate"] == lr.high == 10.0
    assert options["limits"]["max_samples"] == RANGES["n_samples"].high == 5000
    adam_row = next(o for o in options["optimizers"] if o["name"] == "adam")
    b1 = next(h for h in adam_row["hyperparameters"] if h["name"] == "b1")
    assert OPTIMIZER_HYPERPARAMETERS["adam"]["b1"][0] is UNIT_OPEN
    assert (b1["min"], b1["max"], b1["closed"], b1["range"]) == (0.0, 1.0, "left", str(UNIT_OPEN))
    step = next(s for s in options["schedules"] if s["name"] == "step")
    assert [(s["name"], s["integer"]) for s in step["settings"]] == [
        ("boundaries", True), ("factor", False),
    ]  # fmt: skip


def _edges(rule) -> list[float]:
    """The smallest and largest values an interval admits (open ends just inside)."""
    if rule.integer:
        return [int(rule.low), int(rule.high)]
    low = rule.low if rule.closed in ("both", "left") else math.nextafter(rule.low, math.inf)
    high = rule.high if rule.closed in ("both", "right") else math.nextafter(rule.high, -math.inf)
    return [low, high]


def _corners(table: dict) -> list[dict]:
    """Every combination of the edges of a table's intervals (the first item of each entry)."""
    names = list(table)
    edges = [_edges(entry[0]) for entry in table.values()]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*edges)]


def test_every_value_the_page_allows_builds_its_data_optimizers_and_schedule():
    """The plan catches no error from the library: the page's ranges must lie within the
    generators', the optimizers' and the schedules' rules. Checked at every corner."""
    from descentlab.experiments.population import build_run_optimizer
    from descentlab.playground.models import PLAYGROUND_DATASETS, SCHEDULE_SETTINGS
    from descentlab.playground.plan import _load_data, _runs

    for name in PLAYGROUND_DATASETS:
        for n, noise in itertools.product(_edges(RANGES["n_samples"]), _edges(RANGES["noise"])):
            req = RunRequest(dataset=name, n_samples=n, noise=noise, data_seed=2**32 - 1,
                             test_fraction=0.0, optimizers=GD_ADAM)  # fmt: skip
            assert _load_data(req).train.n_examples == n
    built = 0
    # the newer schedules, and the pairs the library refuses: test_playground_modern.py
    for schedule in ("constant", "inverse_time", "exponential", "step", "cosine"):
        settings = SCHEDULE_SETTINGS[schedule]
        for schedule_values in _corners(settings):
            for optimizer, table in OPTIMIZER_HYPERPARAMETERS.items():
                for hyper in _corners(table):
                    optimizers = [
                        {"name": optimizer, "learning_rate": lr, "hyperparameters": hyper}
                        for lr in _edges(RANGES["learning_rate"])
                    ]
                    req = RunRequest(schedule={"name": schedule, **schedule_values},
                                     optimizers=optimizers, epochs=5000)  # fmt: skip
                    check_request(req)
                    for run in _runs(req, steps_per_epoch=5000):
                        build_run_optimizer(run, steps_per_epoch=5000)
                        built += 1
    # 2 rates x 10 schedule corners x the corners of gd, momentum, nesterov, sgd, rmsprop,
    # adagrad, adam and adamw, then nadam, nadamw, radam, adamax, adadelta, rprop, lion,
    # schedule_free_adamw and schedule_free_sgd
    assert built == 2 * 10 * (1 + 2 + 2 + 2 + 4 + 2 + 8 + 16 + 8 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 2)


def test_a_noise_of_its_own_and_the_cosine_schedule_reach_the_plan():
    from descentlab.playground.plan import build_plan

    req = RunRequest(noise=0.1, epochs=7, schedule={"name": "cosine"}, optimizers=GD_ADAM)
    plan = build_plan(req, grid_size=8, max_steps=10**6, max_work=1e12)
    train_part, _ = load_dataset("moons", noise=0.1).split(0.2, seed=0)
    np.testing.assert_array_equal(plan.data.train.X, train_part.X)
    # 240 training examples, batches of 64: 4 steps per epoch, 28 steps to decay over
    assert [(r.schedule, dict(r.schedule_settings)) for r in plan.population.runs] == [
        ("cosine", {"decay_steps": 28}),
        ("cosine", {"decay_steps": 28}),
    ]


def test_a_value_out_of_range_gets_the_shared_message(client):
    body = {**VALID, "optimizers": [{"name": "adam", "learning_rate": 0.1,
                                     "hyperparameters": {"b1": 1.5}}]}  # fmt: skip
    response = client.post("/api/runs", json=body)
    assert response.status_code == 422
    with pytest.raises(ValueError) as expected:
        check_param("adam", "b1", 1.5, UNIT_OPEN)
    assert response.json() == {
        "error": f"optimizers.0.hyperparameters.b1: {expected.value}",
        "field": "optimizers.0.hyperparameters.b1",
    }
    assert str(expected.value) == (
        "The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead."
    )


def outside(rule) -> list:
    """A value just below and one just above an interval (whole numbers for an integer one)."""
    values = []
    if rule.low is not None:
        values.append(rule.low if rule.closed in ("right", "neither") else rule.low - 1)
    if rule.high is not None:
        values.append(rule.high if rule.closed in ("left", "neither") else rule.high + 1)
    return [int(v) if rule.integer else float(v) for v in values]


TOP_LEVEL = [name for name in RANGES if name not in ("hidden", "learning_rate")]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_range_of_the_request_is_checked_at_its_bounds(name):
    rule = RANGES[name]
    assert rule.closed == "both"
    for bound in (rule.low, rule.high):  # the bounds themselves are accepted
        value = int(bound) if rule.integer else float(bound)
        check_request(RunRequest.model_validate({**VALID, name: value}))
    for value in outside(rule):
        req = RunRequest.model_validate({**VALID, name: value})
        with pytest.raises(RequestError) as err:
            check_request(req)
        assert err.value.field == name
        assert err.value.message == (
            f"The {name!r} parameter of the playground request must be {rule}. Got {value!r} instead."
        )


def test_a_huge_body_is_refused_before_parsing(client):
    body = {**VALID, "padding": "x" * 70000}
    response = client.post("/api/runs", json=body)
    assert response.status_code == 413
    assert response.json() == {
        "error": "The request body is too large (limit 65536 bytes).",
        "field": "body",
    }


@pytest.fixture(scope="module")
def live_url():
    """The app served by a real uvicorn on a free loopback port (streamed bodies need one)."""
    import uvicorn

    app = create_app()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="critical")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(10)


TOO_LARGE = {"error": "The request body is too large (limit 65536 bytes).", "field": "body"}


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(live_url):
    chunk = b" " * 65536
    sent = []

    def hundred_megabytes():  # no Content-Length: httpx sends it chunked
        for _ in range(1600):
            sent.append(len(chunk))
            yield chunk

    with httpx.Client(timeout=20) as http:
        response = http.post(
            live_url + "/api/runs", content=hundred_megabytes(),
            headers={"content-type": "application/json"},
        )  # fmt: skip
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert len(sent) < 400  # the server stopped reading long before the 100 MB were sent


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def raw_post(url: str, parts: list[bytes], *, finish: bool) -> bytes:
    """POST ``parts`` chunked over a raw socket (the terminating chunk only if ``finish``);
    return what the server answers within 5 s."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(chunked(p) for p in parts)
            + (b"0\r\n\r\n" if finish else b"")
        )  # fmt: skip
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except TimeoutError:
            pass
    return answer


def test_a_chunked_body_over_the_limit_is_answered_before_it_ends(live_url):
    # 80 KiB sent, the end of the body never: the answer comes anyway, from what was counted.
    answer = raw_post(live_url, [b" " * 16384] * 5, finish=False)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body.split(b"\r\n")[-3] if b"chunked" in head.lower() else body) == TOO_LARGE


def test_a_chunked_body_under_the_limit_is_read_whole(live_url):
    document = json.dumps({**VALID, "epochs": 1}).encode()
    answer = raw_post(live_url, [document[:10], document[10:]], finish=True)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), answer[:300]
    run = json.loads(body)
    # one epoch may be over before the answer is written (seen once on a busy machine)
    assert run["status"] in ("running", "completed"), run
    assert run["events"] == f"/api/runs/{run['id']}/events", run


def test_a_cross_site_form_post_is_not_a_request(client):
    # A plain-text POST (what another web site could send without CORS) is never parsed as JSON.
    response = client.post(
        "/api/runs", content=json.dumps(VALID).encode(), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json() == {
        "error": "Send the request as JSON (Content-Type: application/json); got 'text/plain'.",
        "field": "body",
    }
    assert client.app.state.manager.running() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/runs/0123456789abcdef"), ("get", "/api/runs/nope/events"),
     ("post", "/api/runs/../../etc/stop")],
)  # fmt: skip
def test_unknown_run_is_404_json(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert "error" in response.json()


def test_unknown_run_names_the_run_id(client):
    response = client.post("/api/runs/0123456789abcdef/stop")
    assert response.status_code == 404
    assert response.json() == {
        "error": "No run with id '0123456789abcdef' (it may have been forgotten).",
        "field": "run_id",
    }


def test_wrong_method_and_unknown_route_are_json(client):
    response = client.get("/api/runs")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json() == {"error": "GET is not allowed on '/api/runs'.", "field": None}
    response = client.options("/api/options")
    assert response.status_code == 405
    assert response.json() == {"error": "OPTIONS is not allowed on '/api/options'.", "field": None}
    for path in ("/api/nothing", "/static/nothing.js"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": f"Nothing here: {path!r}.", "field": None}


def test_only_allowed_hosts_when_asked():
    with make_client(allowed_hosts=["127.0.0.1", "localhost", "::1"]) as c:
        for host in ("127.0.0.1:8765", "LOCALHOST", "[::1]:8765"):
            assert c.get("/api/options", headers={"host": host}).status_code == 200, host
        for host in ("attacker.example", "attacker.example:8765", "127.0.0.1.evil", ""):
            response = c.post("/api/runs", json=VALID, headers={"host": host})
            assert response.status_code == 400, host
            assert response.json() == {
                "error": f"This server does not answer to the host {host.split(':')[0]!r}; "
                "open it as http://127.0.0.1:<port>/ instead.",
                "field": "host",
            }
        assert c.app.state.manager.running() == []


def test_an_unexpected_error_is_a_json_500_without_traceback(monkeypatch):
    def broken():
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(playground_server, "options", broken)
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        response = c.get("/api/options")
    assert response.status_code == 500
    assert response.json() == {
        "error": "The server failed to handle this request; the details are in its log.",
        "field": None,
    }
    assert "Traceback" not in response.text and "secret" not in response.text


# --------------------------------------------------------------------------- a real run


def test_gd_and_adam_on_moons_streamed_to_completion_equal_train(client):
    epochs = 40
    run_id = start(client, optimizers=GD_ADAM, epochs=epochs)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)

    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "end"
    assert names.count("done") == 2 and names.count("end") == 1
    begin = events[0][1]
    assert begin["epochs"] == epochs
    assert [o["label"] for o in begin["optimizers"]] == ["gd (lr 0.05)", "adam (lr 0.01)"]
    dataset = begin["dataset"]
    assert (dataset["name"], dataset["n_train"], dataset["n_test"]) == ("moons", 240, 60)
    assert dataset["layer_dims"] == [2, 8, 8, 1]
    assert len(dataset["train"]["x"]) == 240 and sorted(set(dataset["train"]["label"])) == [0, 1]
    grid = GridSpec(**begin["grid"])
    assert grid.size == 60

    references = {
        0: reference(gd(0.05), epochs=epochs),
        1: reference(adam(0.01, eps=0.0, eps_root=1e-8), epochs=epochs),
    }
    done = {data["optimizer"]: data for name, data in events if name == "done"}
    for i, (net, tr, te, result) in references.items():
        progress = [d for name, d in events if name == "progress" and d["optimizer"] == i]
        assert progress[0]["first_epoch"] == 0 and progress[0]["epoch"] == 0
        # Every epoch's cost arrives exactly once, in order, and equals train()'s history.
        costs = [c for d in progress for c in d["cost"]]
        firsts = [d["first_epoch"] for d in progress]
        assert firsts == sorted(firsts) and len(costs) == epochs
        np.testing.assert_array_equal(costs, result.history.cost)
        assert all(math.isfinite(c) for c in costs)
        for d in progress:
            assert len(base64.b64decode(d["grid"]["classes"])) == 60 * 60
            assert len(base64.b64decode(d["grid"]["confidence"])) == 60 * 60
            assert set(base64.b64decode(d["grid"]["classes"])) <= {0, 1}
        # The last picture is the trained network's boundary.
        expected = encode_grid(net.predict_proba(result.params, grid.points()))
        assert progress[-1]["grid"] == expected
        assert done[i]["status"] == "completed" and done[i]["epochs_run"] == epochs
        assert done[i]["train_accuracy"] == float(net.accuracy(result.params, tr.X, tr.y))
        assert done[i]["test_accuracy"] == float(net.accuracy(result.params, te.X, te.y))
        assert done[i]["final_cost"] == result.history.cost[-1]
    adam_costs = references[1][3].history.cost
    assert adam_costs[-5:].mean() < 0.6 * adam_costs[:5].mean()  # decreasing overall
    assert np.mean(np.diff(adam_costs) < 0) > 0.8

    summary = client.get(f"/api/runs/{run_id}").json()
    assert summary["status"] == "completed"
    assert summary["results"] == events[-1][1]["results"] == [done[0], done[1]]
    assert summary["epochs_done"] == [epochs, epochs]


def test_schedule_counts_epochs_like_train(client):
    run_id = start(
        client,
        optimizers=[{"name": "adam", "learning_rate": 0.02}],
        epochs=12,
        schedule={"name": "exponential", "gamma": 0.8},
    )
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = read_events(response)
    # 240 training examples in batches of 64: 4 steps per epoch.
    optimizer = adam(exponential_decay(0.02, 0.8, steps_per_epoch=4), eps=0.0, eps_root=1e-8)
    net, tr, _, result = reference(optimizer, epochs=12)
    done = next(d for name, d in events if name == "done")
    assert done["train_accuracy"] == float(net.accuracy(result.params, tr.X, tr.y))
    assert done["final_cost"] == result.history.cost[-1]


def test_three_classes_give_a_softmax_network_and_three_colours(client):
    run_id = start(
        client,
        dataset="spiral",
        n_samples=90,
        data_seed=3,
        hidden=[16],
        optimizers=[{"name": "adam", "learning_rate": 0.05}],
        epochs=30,
    )
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = read_events(response)
    begin = events[0][1]
    assert begin["dataset"]["n_classes"] == 3 and begin["dataset"]["layer_dims"] == [2, 16, 3]
    assert begin["dataset"]["n_train"] + begin["dataset"]["n_test"] == 90
    last = [d for name, d in events if name == "progress"][-1]
    assert set(base64.b64decode(last["grid"]["classes"])) == {0, 1, 2}


def test_a_diverging_optimizer_is_reported_with_json_safe_numbers(client):
    run_id = start(
        client, optimizers=[{"name": "gd", "learning_rate": 10.0}], hidden=[64, 64], epochs=20
    )
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = read_events(response)
    done = next(d for name, d in events if name == "done")
    assert done["status"] == "diverged"
    assert "diverged" in done["message"] and done["epochs_run"] < 20
    assert events[-1][0] == "end"


def stream_run(client: TestClient, **body) -> list[tuple[str, dict]]:
    run_id = start(client, **body)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        return read_events(response)


def test_a_job_trains_its_optimizers_as_one_population_in_one_thread(client, monkeypatch):
    calls = []

    def spy(*args, **kwargs):  # the engine call behind Population.train
        calls.append((threading.current_thread().name, kwargs["seed"]))
        return train(*args, **kwargs)

    monkeypatch.setattr(population_module, "train", spy)
    optimizers = [*GD_ADAM, {"name": "gd", "learning_rate": 0.2}]
    events = stream_run(client, optimizers=optimizers, epochs=3, seed=7)
    assert [name for name, _ in events].count("done") == 3
    ((thread, seeds),) = calls  # one call: ONE population of three members, all from seed 7
    assert seeds == [7, 7, 7]
    assert thread == f"playground-{events[0][1]['id']}"


PAIRS = [
    # (optimizers of the request, the same optimizers for train() alone, test share)
    (GD_ADAM, [gd(0.05), adam(0.01, eps=0.0, eps_root=1e-8)], 0.2),
    ([{"name": "adam", "learning_rate": 0.01, "hyperparameters": {"b1": 0.8}},
      {"name": "adam", "learning_rate": 0.03}],
     [adam(0.01, b1=0.8, eps=0.0, eps_root=1e-8), adam(0.03, eps=0.0, eps_root=1e-8)], 0.2),
    ([{"name": "momentum", "learning_rate": 0.1, "hyperparameters": {"beta": 0.5}},
      {"name": "rmsprop", "learning_rate": 0.005}],
     [momentum(0.1, beta=0.5), rmsprop(0.005)], 0.0),
]  # fmt: skip


@pytest.mark.parametrize(("optimizers", "alone", "test_fraction"), PAIRS)
def test_each_optimizer_of_the_population_equals_training_it_alone(
    client, optimizers, alone, test_fraction
):
    epochs = 25
    events = stream_run(
        client, optimizers=optimizers, epochs=epochs, seed=3, test_fraction=test_fraction
    )
    grid = GridSpec(**events[0][1]["grid"])
    done = {d["optimizer"]: d for name, d in events if name == "done"}
    for i, optimizer in enumerate(alone):
        net, tr, te, ref = reference(optimizer, epochs=epochs, seed=3, test_fraction=test_fraction)
        progress = [d for name, d in events if name == "progress" and d["optimizer"] == i]
        costs = [c for d in progress for c in d["cost"]]
        np.testing.assert_allclose(costs, ref.history.cost, rtol=1e-12, atol=0)
        assert progress[-1]["grid"] == encode_grid(net.predict_proba(ref.params, grid.points()))
        assert done[i]["status"] == "completed" and done[i]["epochs_run"] == epochs
        assert done[i]["final_cost"] == pytest.approx(ref.history.cost[-1], rel=1e-12, abs=0)
        assert done[i]["train_accuracy"] == float(net.accuracy(ref.params, tr.X, tr.y))
        if te is None:
            assert done[i]["test_accuracy"] is None and progress[-1]["test_accuracy"] is None
        else:
            assert done[i]["test_accuracy"] == float(net.accuracy(ref.params, te.X, te.y))
    assert events[0][1]["dataset"]["n_test"] == (0 if test_fraction == 0 else 60)


def test_a_diverging_member_stops_while_the_others_go_on(client):
    epochs = 20
    events = stream_run(
        client, optimizers=[{"name": "gd", "learning_rate": 10.0}, GD_ADAM[1]],
        hidden=[64, 64], epochs=epochs,
    )  # fmt: skip
    done = {d["optimizer"]: d for name, d in events if name == "done"}
    assert done[0]["status"] == "diverged" and "diverged" in done[0]["message"]
    n = done[0]["epochs_run"]
    assert n < epochs
    progress = [d for name, d in events if name == "progress" and d["optimizer"] == 0]
    assert len([c for d in progress for c in d["cost"]]) == n  # nothing after it diverged
    last = progress[-1]["cost"][-1]  # NaN/inf (sent as null) or above the engine's max_cost
    assert progress[-1]["epoch"] == n - 1 and (last is None or last > 100 * math.log(2))
    # The other member trains to the end, with the numbers it has alone.
    net, tr, _, ref = reference(adam(0.01, eps=0.0, eps_root=1e-8), epochs=epochs, hidden=(64, 64))
    assert done[1]["status"] == "completed" and done[1]["epochs_run"] == epochs
    assert done[1]["train_accuracy"] == float(net.accuracy(ref.params, tr.X, tr.y))
    assert done[1]["final_cost"] == pytest.approx(ref.history.cost[-1], rel=1e-12, abs=0)
    assert events[-1][0] == "end" and events[-1][1]["status"] == "completed"


# --------------------------------------------------------------------------- caps and stopping


def test_concurrency_cap_then_stop_frees_a_slot():
    app = create_app(max_concurrent=1)
    with TestClient(app) as c:
        first = start(c, **SLOW)
        response = c.post("/api/runs", json=SLOW)
        assert response.status_code == 429
        assert response.json()["field"] is None
        assert "the limit is 1" in response.json()["error"]
        stopped = c.post(f"/api/runs/{first}/stop")
        assert stopped.status_code == 200
        summary = stopped.json()
        assert summary["status"] == "stopped"
        assert summary["message"] == "Training stopped: stopped by the user."
        assert summary["results"][0]["status"] == "stopped"
        assert summary["results"][0]["epochs_run"] < 5000
        second = start(c, **SLOW)
        assert c.post(f"/api/runs/{second}/stop").json()["status"] == "stopped"


def test_stop_keeps_the_parameters_reached(client):
    run_id = start(client, optimizers=GD_ADAM, epochs=5000, pace_seconds=60.0)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        lines = response.iter_lines()
        seen = 0
        for line in lines:  # let a few epochs pass
            if line == "event: progress":
                seen += 1
                if seen == 3:
                    break
        assert client.post(f"/api/runs/{run_id}/stop").json()["status"] == "stopped"
        events = read_events(lines)
    assert events[-1][0] == "end" and events[-1][1]["status"] == "stopped"
    results = events[-1][1]["results"]
    n = results[0]["epochs_run"]
    assert 1 <= n < 5000 and results[1]["epochs_run"] == n  # every member stops together
    # Stopping after n epochs leaves exactly what training for n epochs gives.
    for result, optimizer in zip(
        results, [gd(0.05), adam(0.01, eps=0.0, eps_root=1e-8)], strict=True
    ):
        assert result["status"] == "stopped"
        assert result["message"] == f"Stopped after {n} of 5000 epochs."
        net, tr, _, ref = reference(optimizer, epochs=n)
        assert result["train_accuracy"] == float(net.accuracy(ref.params, tr.X, tr.y))
        assert result["final_cost"] == pytest.approx(ref.history.cost[-1], rel=1e-12, abs=0)


def test_closing_the_stream_stops_the_training(client):
    run_id = start(client, **SLOW)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert read_events(response, until="progress")[-1][0] == "progress"
    summary = wait_status(client, run_id)
    assert summary["status"] == "stopped"
    assert "stopped reading its events" in summary["message"]
    assert summary["results"][0]["epochs_run"] < 5000
    assert client.app.state.manager.running() == []


def _plan(**body):
    from descentlab.playground.plan import build_plan

    return build_plan(RunRequest(**body), grid_size=8, max_steps=10**7, max_work=1e13)


def test_a_quiet_stream_sends_keep_alive_comments_until_the_end():
    import asyncio

    class QuietJob:
        def __init__(self):
            self.stopped = []
            self.queue = [[], [], [("end", {"id": "q"})]]

        def drain(self):
            return self.queue.pop(0)

        def stop(self, reason):
            self.stopped.append(reason)

    async def read(job):
        return [text async for text in playground_server._event_stream(job, keep_alive=-1.0)]

    job = QuietJob()
    assert asyncio.run(read(job)) == [
        ": keep-alive\n\n",
        ": keep-alive\n\n",
        'event: end\ndata: {"id":"q"}\n\n',
    ]
    assert job.stopped == []  # the stream ended with the job, not before it


def test_a_worker_that_fails_reports_every_optimizer_failed(monkeypatch):
    from descentlab.playground.training_jobs import TrainingJob

    plan = _plan(optimizers=GD_ADAM, epochs=3)

    def out_of_memory(**kwargs):
        raise MemoryError("cannot allocate 4.0 GiB")

    monkeypatch.setattr(plan.population, "train", out_of_memory)
    job = TrainingJob("j1", plan)
    job.start()
    assert job.wait(10)
    failed = {"status": "failed", "message": "MemoryError: cannot allocate 4.0 GiB"}
    assert job.results == [
        {"optimizer": 0, "label": "gd (lr 0.05)", **failed},
        {"optimizer": 1, "label": "adam (lr 0.01)", **failed},
    ]
    assert (job.status, job.message) == (
        "failed",
        "At least one optimizer failed; see its message.",
    )
    assert [name for name, _ in job.drain()] == ["start", "done", "done", "end"]


def test_a_second_stop_keeps_the_first_reason():
    from descentlab.playground.training_jobs import TrainingJob

    job = TrainingJob("j2", _plan(**SLOW))
    job.start()
    job.stop("the Stop button")
    job.stop("the page closed")
    assert job.wait(10)
    assert (job.status, job.message) == ("stopped", "Training stopped: the Stop button.")


def test_the_manager_forgets_old_finished_jobs_and_stops_running_ones_on_shutdown():
    from descentlab.playground.training_jobs import JobManager

    manager = JobManager(2, keep=1)
    quick = _plan(optimizers=GD_ADAM, epochs=2)
    first = manager.submit(quick)
    assert first.wait(10)
    second = manager.submit(quick)
    assert second.wait(10)
    slow = manager.submit(_plan(**SLOW))
    assert manager.get(first.id) is None  # only the last finished one is remembered
    assert manager.get(second.id) is second and manager.get(slow.id) is slow
    manager.stop_all()
    assert slow.wait(10)
    assert (slow.status, slow.message) == (
        "stopped",
        "Training stopped: the server is shutting down.",
    )
    assert manager.running() == []


def test_one_reader_per_run(client):
    run_id = start(client, **SLOW)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        read_events(response, until="start")
        second = client.get(f"/api/runs/{run_id}/events")
        assert second.status_code == 409
        assert second.json()["field"] == "run_id"
    assert wait_status(client, run_id)["status"] == "stopped"


def test_a_run_nobody_reads_is_stopped():
    with make_client(connect_timeout=0.2) as c:
        run_id = start(c, **SLOW)
        summary = wait_status(c, run_id)
        assert summary["status"] == "stopped"
        assert summary["message"] == "Training stopped: no page was reading the events."


def test_time_limit_stops_a_run():
    with make_client(max_seconds=0.3) as c:
        run_id = start(c, **SLOW)
        with c.stream("GET", f"/api/runs/{run_id}/events") as response:
            events = read_events(response)
        assert events[-1][1]["status"] == "stopped"
        assert events[-1][1]["message"] == "Training stopped: the time limit of 0.3 s was reached."


def test_pace_spreads_the_training_over_the_time_asked(client):
    began = time.monotonic()  # before the request: the pace's clock starts when the run does
    run_id = start(client, optimizers=GD_ADAM, epochs=20, pace_seconds=0.5)
    with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        events = read_events(response)
    elapsed = time.monotonic() - began
    assert 0.5 <= elapsed < 5.0
    for i in (0, 1):  # at most ~10 updates a second per optimizer, plus the first and last
        progress = [d for name, d in events if name == "progress" and d["optimizer"] == i]
        assert 3 <= len(progress) <= 12
        assert [c for d in progress for c in d["cost"]] == pytest.approx(
            reference([gd(0.05), adam(0.01, eps=0.0, eps_root=1e-8)][i], epochs=20)[3].history.cost
        )


# --------------------------------------------------------------------------- the command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    playground_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_cli_defaults_are_loopback_port_8765_with_a_browser():
    args = parse(["playground"])
    assert (args.host, args.port, args.no_browser, args.max_concurrent) == (
        "127.0.0.1",
        8765,
        False,
        2,
    )
    assert args.func is playground_cli.run


@pytest.mark.parametrize("no_browser", [False, True])
def test_cli_serves_and_opens_the_browser_unless_told_not_to(monkeypatch, no_browser):
    import uvicorn

    served, opened = [], []

    def fake_run(server):  # stands in for uvicorn's loop: "started", then returns
        served.append(server.config)
        server.started = True
        # the opener thread polls every 0.1 s; on a loaded machine it may take longer to run,
        # so wait for it (up to 10 s) rather than a fixed time: a late opener would otherwise
        # call the real webbrowser.open after the test
        deadline = time.monotonic() + (0.3 if no_browser else 10.0)
        while time.monotonic() < deadline and not opened:
            time.sleep(0.01)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.setattr(webbrowser, "open", opened.append)
    port = free_port()
    argv = ["playground", "--port", str(port)] + (["--no-browser"] if no_browser else [])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert playground_cli.run(parse(argv)) == 0
    config = served[0]
    assert (config.host, config.port) == ("127.0.0.1", port)
    assert opened == ([] if no_browser else [f"http://127.0.0.1:{port}/"])
    assert f"http://127.0.0.1:{port}/" in printed.getvalue()
    with TestClient(config.app) as c:  # loopback only: other Host headers are refused
        assert c.get("/api/options", headers={"host": "127.0.0.1"}).status_code == 200
        assert c.get("/api/options", headers={"host": "evil.example"}).status_code == 400


def _served(monkeypatch, argv: list[str]):
    """Run ``descentlab playground`` with uvicorn's loop replaced; the config it would serve."""
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: served.append(server.config))
    assert playground_cli.run(parse(["playground", "--no-browser", *argv])) == 0
    return served[0]


def test_cli_on_all_interfaces_warns_and_accepts_any_host(monkeypatch, capsys):
    port = free_port()
    config = _served(monkeypatch, ["--host", "0.0.0.0", "--port", str(port)])
    assert capsys.readouterr().out.splitlines() == [
        f"descentlab playground: http://127.0.0.1:{port}/  (Ctrl-C to stop)",
        "warning: listening on 0.0.0.0, so other machines can reach the playground.",
    ]
    with TestClient(config.app) as c:  # reachable by other names: no Host check
        assert c.get("/api/options", headers={"host": "lab.example"}).status_code == 200


def test_cli_leaves_the_processs_logging_handlers_open(monkeypatch, capsys):
    """uvicorn's default logging set-up (``dictConfig``) closes every handler of the process:
    run in-process, the playground closed absl's handler, and with it the test runner's
    captured stderr (the whole session crashed)."""
    import logging

    class Handler(logging.Handler):
        closed = False

        def emit(self, record):
            pass

        def close(self):
            type(self).closed = True
            super().close()

    handler = Handler()
    logging.getLogger("descentlab-test").addHandler(handler)
    try:
        _served(monkeypatch, ["--port", str(free_port())])
    finally:
        logging.getLogger("descentlab-test").removeHandler(handler)
    assert not Handler.closed
    assert logging.getLogger("uvicorn.error").level == logging.WARNING
    capsys.readouterr()


def test_cli_on_ipv6_loopback_shows_the_address_in_brackets(monkeypatch, capsys):
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
            port = sock.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    config = _served(monkeypatch, ["--host", "::1", "--port", str(port)])
    assert capsys.readouterr().out == (
        f"descentlab playground: http://[::1]:{port}/  (Ctrl-C to stop)\n"
    )
    assert config.host == "::1"


def test_the_browser_opens_once_the_server_has_started_or_never(monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    never = types.SimpleNamespace(started=False)  # a server that failed to start
    start = time.monotonic()
    assert playground_cli.open_when_started(never, "http://127.0.0.1:1/", timeout=0.3) is False
    assert 0.3 <= time.monotonic() - start < 2 and opened == []
    late = types.SimpleNamespace(started=False)
    threading.Timer(0.2, lambda: setattr(late, "started", True)).start()
    assert playground_cli.open_when_started(late, "http://127.0.0.1:2/") is True
    assert opened == ["http://127.0.0.1:2/"]


def test_cli_port_in_use_is_one_line_and_status_2(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        status = main(["playground", "--no-browser", "--port", str(port)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"descentlab: error: cannot listen on 127.0.0.1:{port}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host, loopback):
    assert playground_cli.is_loopback(host) is loopback
