"""End to end: the real playground server and page in headless Chromium (Debian's, via Playwright).

The browser is Debian's ``chromium`` at /usr/bin/chromium (``make test`` installs it); Playwright
only drives it and never downloads one. Without it the test is skipped, except under CI
(``CI=true``), where a missing browser is a failure. ``DESCENTLAB_UPDATE_SCREENSHOTS=1`` also
copies the screenshot to ``docs/playground.png`` for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from descentlab.datasets import load_dataset
from descentlab.nn import MLP
from descentlab.optimizers import adam, gd
from descentlab.training import train

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
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
    if os.environ.get("DESCENTLAB_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "playground.png")


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
