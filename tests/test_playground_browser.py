"""End to end: the real playground server and page in headless Chromium (Debian's, via Playwright).

The browser is Debian's ``chromium`` at /usr/bin/chromium (``make test`` installs it); Playwright
only drives it and never downloads one. Without it the test is skipped, except under CI
(``CI=true``), where a missing browser is a failure. The README's screenshots are taken by
``tools/playground_screenshots.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from descentlab.datasets import Dataset, load_dataset
from descentlab.nn import MLP
from descentlab.optimizers import adam, gd
from descentlab.training import train

CHROMIUM = Path("/usr/bin/chromium")
OPTIMIZER_COLORS = {"gd": (0x7B, 0x3F, 0xA0), "adam": (0xD6, 0x33, 0x6C)}  # app.js, slots 0 and 1

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (install Debian's chromium: make browser)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — the browser test must run in CI")
    pytest.skip(message)


@pytest.fixture(scope="module")
def server_url():
    """The real command, ``descentlab playground --no-browser``, on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = "import sys; from descentlab.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "playground", "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/api/options", timeout=1) as response:
                    assert response.status == 200
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"the playground server did not start:\n{out}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server_url):
    """A fresh tab on the playground, failing the test on any script error."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on(
            "console",
            # A 422 answer is expected where a test submits a bad value on purpose.
            lambda m: errors.append(m.text) if m.type == "error" and "422" not in m.text else None,
        )
        tab.goto(server_url + "/")
        tab.wait_for_selector("body[data-ready='1']", timeout=15000)
        yield tab
        assert errors == []
    finally:
        context.close()


# In the page: how much of a canvas is tinted orange (class 0) or blue (class 1), and how many
# pixels are close to a given colour.
CANVAS_STATS = """([selector, colours]) => {
  const canvas = document.querySelector(selector);
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let orange = 0, blue = 0;
  const near = colours.map(() => 0);
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
    if (r - b > 25) orange++;
    if (b - r > 25) blue++;
    colours.forEach((c, k) => {
      if (Math.abs(r - c[0]) + Math.abs(g - c[1]) + Math.abs(b - c[2]) < 40) near[k]++;
    });
  }
  const n = d.length / 4;
  return {orange: orange / n, blue: blue / n, near: near,
          updates: Number(canvas.dataset.updates || 0)};
}"""


def reference_accuracies(optimizer, epochs: int) -> tuple[str, str]:
    """train()'s accuracies for the page's settings, formatted as the table shows them."""
    tr, te = load_dataset("moons").split(0.2, seed=0)
    net = MLP((2, 8, 8, 1))
    result = train(net, optimizer, tr.X, tr.y, epochs=epochs, batch_size=64, seed=0, data_seed=0)
    return (
        f"{100 * float(net.accuracy(result.params, tr.X, tr.y)):.1f}%",
        f"{100 * float(net.accuracy(result.params, te.X, te.y)):.1f}%",
    )


def fill_form(page, epochs: int, pace: float) -> None:
    page.select_option("#dataset", "moons")
    page.fill("#n_samples", "300")
    page.fill("#noise", "0.2")
    page.fill("#data_seed", "")
    page.fill("#test_fraction", "0.2")
    page.fill("#hidden", "8, 8")
    page.fill("#epochs", str(epochs))
    page.fill("#batch_size", "64")
    page.fill("#seed", "0")
    page.fill("#pace_seconds", str(pace))
    page.select_option("#schedule", "constant")
    rows = page.locator(".opt-row")
    while rows.count() > 2:
        rows.nth(rows.count() - 1).locator(".remove").click()
    while rows.count() < 2:
        page.click("#add-optimizer")
    for i, (name, lr) in enumerate([("gd", "0.05"), ("adam", "0.01")]):
        rows.nth(i).locator(".opt-name").select_option(name)
        rows.nth(i).locator(".opt-lr").fill(lr)


def test_train_gd_and_adam_on_moons_and_watch_both_boundaries_form(page, server_url, tmp_path):
    epochs = 300
    fill_form(page, epochs=epochs, pace=1.5)
    page.click("#train")

    # While training runs: both boundary canvases and both cost curves update.
    page.wait_for_function(
        """() => {
          const cards = document.querySelectorAll("canvas.boundary");
          return cards.length === 2 && [...cards].every((c) => Number(c.dataset.updates) >= 3)
            && !document.body.dataset.runStatus;
        }""",
        timeout=20000,
    )
    colours = [list(OPTIMIZER_COLORS["gd"]), list(OPTIMIZER_COLORS["adam"])]
    live = page.evaluate(CANVAS_STATS, ["#cost-chart", colours])
    assert min(live["near"]) > 30  # both curves drawn already, in their own colours
    page.wait_for_selector("body[data-run-status='completed']", timeout=30000)

    for i in (0, 1):
        stats = page.evaluate(CANVAS_STATS, [f"canvas.boundary[data-optimizer='{i}']", []])
        assert stats["updates"] >= 4
        # The heatmap covers the canvas: both classes' regions are tinted (dots alone cover
        # only a few per cent).
        assert stats["orange"] > 0.15 and stats["blue"] > 0.15, stats
    chart = page.evaluate(CANVAS_STATS, ["#cost-chart", colours])
    assert chart["near"][0] > live["near"][0] and chart["near"][1] > live["near"][1]

    # The table: one row per optimizer, numbers equal to train() with the same settings.
    rows = page.locator("#results-table tbody tr")
    assert rows.count() == 2
    expected = {
        0: ("gd (lr 0.05)", *reference_accuracies(gd(0.05), epochs)),
        1: ("adam (lr 0.01)", *reference_accuracies(adam(0.01, eps=0.0, eps_root=1e-8), epochs)),
    }
    run_id = page.evaluate("document.body.dataset.runId")
    with urllib.request.urlopen(f"{server_url}/api/runs/{run_id}") as response:
        results = json.load(response)["results"]
    for i, (label, train_acc, test_acc) in expected.items():
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0].strip() == label
        assert cells[1] == "completed" and cells[2] == str(epochs)
        assert (cells[4], cells[5]) == (train_acc, test_acc)
        assert cells[4] == f"{100 * results[i]['train_accuracy']:.1f}%"
    assert float(rows.nth(1).locator("td.cost").inner_text()) < float(
        rows.nth(0).locator("td.cost").inner_text()
    )  # adam ends lower than gd
    assert page.inner_text("#status").startswith("Finished in")
    assert page.locator("#train").is_enabled() and page.locator("#stop").is_disabled()

    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20000


def test_stop_then_reset(page):
    fill_form(page, epochs=5000, pace=60)
    page.click("#train")
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas.boundary')].some("
        "(c) => Number(c.dataset.updates) >= 2)",
        timeout=20000,
    )
    page.click("#stop")
    page.wait_for_selector("body[data-run-status='stopped']", timeout=15000)
    assert page.inner_text("#status") == "Training stopped: stopped by the user."
    rows = page.locator("#results-table tbody tr")
    assert rows.count() == 2
    for i in (0, 1):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[1] == "stopped" and 1 <= int(cells[2]) < 5000
    page.click("#reset")
    assert page.locator("canvas.boundary").count() == 0
    assert rows.count() == 0
    assert page.inner_text("#status") == ""


def test_a_bad_value_is_shown_next_to_its_field(page):
    fill_form(page, epochs=10, pace=0)
    page.locator(".opt-row").nth(1).locator(".opt-lr").fill("-1")
    page.click("#train")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("optimizers.1.learning_rate:")
    invalid = page.locator(".invalid")
    assert invalid.count() == 1
    assert invalid.get_attribute("data-field") == "optimizers.1.learning_rate"
    assert page.locator("#train").is_enabled()


def test_closing_the_tab_stops_its_training(page, server_url):
    fill_form(page, epochs=5000, pace=60)
    page.click("#train")
    page.wait_for_function(
        """() => {
          const cards = [...document.querySelectorAll("canvas.boundary")];
          return cards.length === 2 && cards.every((c) => Number(c.dataset.updates) >= 2);
        }""",
        timeout=20000,
    )
    run_id = page.evaluate("document.body.dataset.runId")
    assert run_id
    page.close()
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"{server_url}/api/runs/{run_id}") as response:
            summary = json.load(response)
        if summary["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert summary["status"] == "stopped"
    assert "stopped reading its events" in summary["message"]
    assert all(1 <= r["epochs_run"] < 5000 for r in summary["results"])


# --------------------------------------------------------------------------- the teaching page

# Clicks on the 300 x 300 drawing canvas (window [-2, 2] x [-2, 2]): class 0 on the left half,
# class 1 on the right half.
CLICKS = [(20 + 10 * i, 30 + 23 * (i % 11)) for i in range(12)]


def draw_two_classes(page) -> None:
    page.select_option("#dataset", "drawn")
    canvas = page.locator("#draw-canvas")
    for x, y in CLICKS:
        page.select_option("#draw-class", "0")
        canvas.click(position={"x": x, "y": y})
        page.select_option("#draw-class", "1")
        canvas.click(position={"x": 300 - x, "y": y})


def test_drawn_points_are_sent_and_trained_on(page, server_url):
    page.select_option("#dataset", "drawn")
    assert page.locator("#n_samples").is_hidden() and page.locator("#draw-canvas").is_visible()
    draw_two_classes(page)
    assert page.inner_text("#point-count") == "24 point(s), 2 class(es)"
    page.fill("#epochs", "60")
    page.fill("#pace_seconds", "0")
    page.fill("#test_fraction", "0.25")
    page.click("#train")
    page.wait_for_selector("body[data-run-status='completed']", timeout=30000)
    run_id = page.evaluate("document.body.dataset.runId")
    with urllib.request.urlopen(f"{server_url}/api/runs/{run_id}") as response:
        summary = json.load(response)
    points = summary["settings"]["points"]
    assert summary["settings"]["dataset"] == "drawn" and points["label"] == [0, 1] * 12
    # Each click became a point where it was made: x = -2 + 4 * px / 300, y = 2 - 4 * py / 300.
    for i, (x, y) in enumerate(CLICKS):
        assert points["x"][2 * i] == pytest.approx(-2 + 4 * x / 300, abs=0.02)
        assert points["y"][2 * i] == pytest.approx(2 - 4 * y / 300, abs=0.02)
        assert points["x"][2 * i + 1] == pytest.approx(-points["x"][2 * i], abs=0.03)
    # The table's accuracies are train()'s on the same points, split as the page splits them.
    full = Dataset("drawn", np.array([points["x"], points["y"]]), np.array(points["label"]))
    tr, _ = full.split(0.25, seed=0)
    rows = page.locator("#results-table tbody tr")
    assert rows.count() == 2
    rates = [o["learning_rate"] for o in summary["settings"]["optimizers"]]
    for i, optimizer in enumerate([gd(rates[0]), adam(rates[1], eps=0.0, eps_root=1e-8)]):
        net = MLP((2, 8, 8, 1))
        result = train(net, optimizer, tr.X, tr.y, epochs=60, batch_size=64, seed=0,
                       init="he", shuffle="random", data_seed=0)  # fmt: skip
        accuracy = float(net.accuracy(result.params, tr.X, tr.y))
        assert rows.nth(i).locator("td.train").inner_text() == f"{100 * accuracy:.1f}%"
        assert summary["results"][i]["final_cost"] == result.history.cost[-1]
    assert summary["results"][1]["train_accuracy"] == 1.0  # adam separates the two halves
    page.click("#clear-points")
    assert page.inner_text("#point-count") == "0 point(s), 0 class(es)"


def test_quadratic_mode_shows_the_theory_and_both_curves(page):
    page.click("#mode-quadratic")
    assert page.locator("#controls").is_hidden() and page.locator("#quadratic").is_visible()
    page.wait_for_selector("body[data-quadratic]")
    before = int(page.evaluate("document.body.dataset.quadratic"))
    page.fill("#q-kappa", "100")
    page.wait_for_function(f"() => Number(document.body.dataset.quadratic) > {before}")

    def cells(name: str) -> list[float]:
        row = page.locator(f"#q-theory tr[data-run='{name}'] td")
        return [float(t) for t in row.all_inner_texts()[1:]]

    # kappa = 100: gd's best rate 99/101, momentum's (10 - 1) / (10 + 1) = 9/11.
    lr, beta, rate, measured = cells("gd (optimal)")
    assert (lr, beta) == (pytest.approx(2 / 101, rel=1e-5), 0.0)
    assert rate == pytest.approx(99 / 101, rel=1e-5) and measured == pytest.approx(rate, rel=1e-4)
    lr, beta, rate, _ = cells("momentum (optimal)")
    assert lr == pytest.approx((2 / 11) ** 2, rel=1e-5)
    assert beta == pytest.approx((9 / 11) ** 2, rel=1e-5) and rate == pytest.approx(
        9 / 11, rel=1e-5
    )
    # The page's alpha = 0.1 is past 2 / lambda_max = 0.02: gradient descent diverges.
    assert cells("gd")[2] == pytest.approx(max(abs(1 - 0.1), abs(1 - 0.1 * 100)), rel=1e-5)
    assert "rate 9.000 ≥ 1: it diverges" in page.inner_text("#q-status")
    before = int(page.evaluate("document.body.dataset.quadratic"))
    page.fill("#q-lr", "0.015")
    page.wait_for_function(f"() => Number(document.body.dataset.quadratic) > {before}")
    assert cells("gd")[2] == pytest.approx(1 - 0.015, rel=1e-5)
    colours = [[0x7B, 0x3F, 0xA0], [0xD6, 0x33, 0x6C], [0x11, 0x99, 0x8E], [0xE6, 0x77, 0x00]]
    chart = page.evaluate(CANVAS_STATS, ["#q-chart", colours])
    assert min(chart["near"]) > 100  # every run's curves are drawn
    assert "stable for α < 2 / λmax = 0.02000" in page.inner_text("#q-status")


def test_the_link_restores_the_setup_in_a_fresh_page(page, browser):
    page.select_option("#dataset", "circles")
    page.fill("#noise", "0.1")
    page.fill("#hidden", "5, 3")
    page.select_option("#activation", "tanh")
    page.select_option("#loss", "mse")
    page.select_option("#schedule", "piecewise")
    page.fill("[data-field='schedule.piece_boundaries']", "3, 9")
    page.fill("[data-field='schedule.piece_factors']", "0.5 0.1")
    first = page.locator(".opt-row").nth(0)
    first.locator(".opt-name").select_option("nadam")
    first.locator(".opt-lr").fill("0.02")
    first.locator("[data-name='b1']").fill("0.8")
    page.click("#share")
    link = page.input_value("#share-link")
    assert link == page.url and "#state=" in link
    settings = page.evaluate("JSON.stringify(readSettings())")

    fresh = browser.new_context(viewport={"width": 1360, "height": 1000})
    try:
        other = fresh.new_page()
        other.goto(link)
        other.wait_for_selector("body[data-ready='1']")
        assert other.evaluate("JSON.stringify(readSettings())") == settings
        restored = json.loads(settings)
        assert restored["loss"] == "mse" and restored["schedule"] == {
            "name": "piecewise", "piece_boundaries": [3, 9], "piece_factors": [0.5, 0.1],
        }  # fmt: skip
        assert restored["optimizers"][0] == {
            "name": "nadam", "learning_rate": 0.02,
            "hyperparameters": {"b1": 0.8, "b2": 0.999, "momentum_decay": 0.004},
        }  # fmt: skip

        # Drawn points and the quadratic mode travel in the link too.
        page.select_option("#dataset", "drawn")
        draw_two_classes(page)
        page.click("#mode-quadratic")
        page.fill("#q-kappa", "40")
        page.click("#share")
        other.goto(page.input_value("#share-link"))
        other.reload()
        other.wait_for_selector("body[data-quadratic]")
        assert other.locator("#quadratic").is_visible() and other.input_value("#q-kappa") == "40"
        assert other.evaluate("JSON.stringify(readSettings().points)") == page.evaluate(
            "JSON.stringify(readSettings().points)"
        )
        assert other.inner_text("#point-count") == "24 point(s), 2 class(es)"
    finally:
        fresh.close()


def test_a_hostile_link_falls_back_to_the_defaults(browser, server_url):
    context = browser.new_context()
    try:
        tab = context.new_page()
        state = {"settings": {"dataset": "<img src=x onerror=alert(1)>", "optimizers": "x"}}
        tab.goto(server_url + "/#state=" + urllib.parse.quote(json.dumps(state)))
        tab.wait_for_selector("body[data-ready='1']")
        assert tab.inner_text("#status") == (
            "The link's settings could not be read; the defaults are shown."
        )
        assert tab.input_value("#dataset") == "moons" and tab.locator("img").count() == 0
    finally:
        context.close()


def test_export_downloads_the_config_toml(page):
    fill_form(page, epochs=30, pace=0)
    with page.expect_download() as info:
        page.click("#export")
    text = Path(info.value.path()).read_text()
    config = tomllib.loads(text)
    assert [o["label"] for o in config["optimizers"]] == ["gd (lr 0.05)", "adam (lr 0.01)"]
    assert (config["epochs"], config["layers"], config["dataset"]["test_size"]) == (30, [8, 8], 0.2)
    assert info.value.suggested_filename == "config.toml"
    page.select_option("#loss", "mse")
    page.click("#export")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status").startswith("loss: loss 'mse' cannot be exported")


def test_a_csv_file_is_read_by_the_page(page):
    page.select_option("#dataset", "drawn")
    csv = "feature a,feature b,kind\n0.5,1.25,cat\n-1,2,dog\n3e-1,-0.75,cat\n2,2,bird\n"
    page.set_input_files(
        "#csv-file", files=[{"name": "pets.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.wait_for_function("() => document.querySelector('#draw-canvas').dataset.points === '4'")
    assert page.inner_text("#status") == "Loaded 4 points from pets.csv."
    points = page.evaluate("readSettings().points")
    # Labels that are not class numbers are numbered in order of appearance.
    assert points == {"x": [0.5, -1, 0.3, 2], "y": [1.25, 2, -0.75, 2], "label": [0, 1, 0, 2]}
    bad = "x,y,label\n0,1,0\nnan,2,1\n"
    page.set_input_files(
        "#csv-file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status") == (
        "Cannot use bad.csv: row 2: x and y must be numbers within ±10000; got nan, 2."
    )
    assert page.evaluate("readSettings().points.x") == [0.5, -1, 0.3, 2]  # kept as they were
    # 600 points do not fit in a link: the page says they are not kept there.
    many = "x,y,label\n" + "".join(f"{i / 7:.5f},{-i / 3:.5f},{i % 2}\n" for i in range(600))
    page.set_input_files(
        "#csv-file", files=[{"name": "many.csv", "mimeType": "text/csv", "buffer": many.encode()}]
    )
    page.wait_for_function("() => document.querySelector('#draw-canvas').dataset.points === '600'")
    assert page.inner_text("#link-note").startswith(
        "The 600 drawn points are too many for the link: they are not kept in it"
    )
    assert "points" not in json.loads(urllib.parse.unquote(page.url.split("#state=")[1]))
