"""Take the README's playground screenshots with Playwright and Debian's chromium.

Starts ``descentlab playground --no-browser`` on a free loopback port, then in headless
chromium (``/usr/bin/chromium``; ``make browser`` installs it):

- ``docs/playground.png``: drawn data (two interleaved arcs clicked onto the drawing canvas),
  trained with gd, momentum and Adam; the page once training has finished;
- ``docs/playground-quadratic.png``: the quadratic mode at kappa = 50 with the user's
  alpha = 0.03 and beta = 0.7 beside the optimal settings.

Usage::

    python tools/playground_screenshots.py            # writes both files under docs/
    python tools/playground_screenshots.py --out /tmp # elsewhere
"""

from __future__ import annotations

import argparse
import math
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def playground() -> Iterator[str]:
    """The real command on a free loopback port; yields its URL and stops it afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = "import sys; from descentlab.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "playground", "--no-browser", "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/api/options", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the playground server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def arcs(n: int = 18) -> list[tuple[int, int, int]]:
    """Two interleaved half circles in canvas pixels (300 x 300): ``(x, y, class)``."""
    points = []
    for i in range(n):
        t = math.pi * i / (n - 1)
        points.append((int(110 + 70 * math.cos(t)), int(160 - 70 * math.sin(t)), 0))
        points.append((int(190 - 70 * math.cos(t)), int(140 + 70 * math.sin(t)), 1))
    return points


def network_shot(page: Page, path: Path) -> None:
    """Drawn arcs trained with gd, momentum and Adam; the page when training has finished."""
    page.select_option("#dataset", "drawn")
    canvas = page.locator("#draw-canvas")
    for x, y, label in arcs():
        page.select_option("#draw-class", str(label))
        canvas.click(position={"x": x, "y": y})
    page.fill("#hidden", "16, 16")
    page.fill("#epochs", "600")
    page.fill("#batch_size", "16")
    page.fill("#pace_seconds", "0")
    page.fill("#test_fraction", "0.2")
    page.click("#add-optimizer")
    rows = page.locator(".opt-row")
    for i, (name, lr) in enumerate([("gd", "0.05"), ("momentum", "0.05"), ("adam", "0.01")]):
        rows.nth(i).locator(".opt-name").select_option(name)
        rows.nth(i).locator(".opt-lr").fill(lr)
    page.click("#train")
    page.wait_for_selector("body[data-run-status='completed']", timeout=60000)
    page.check("#log-scale")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)


def quadratic_shot(page: Page, path: Path) -> None:
    """The quadratic mode: kappa 50, the user's alpha 0.03 and beta 0.7, 150 steps."""
    page.click("#mode-quadratic")
    for field, value in [("#q-kappa", "50"), ("#q-lr", "0.03"), ("#q-beta", "0.7"),
                         ("#q-steps", "150"), ("#q-angle", "30")]:  # fmt: skip
        page.fill(field, value)
    page.wait_for_timeout(800)  # the page asks the server 250 ms after the last change
    page.screenshot(path=str(path), full_page=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder (default: docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with playground() as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            network_shot(page, args.out / "playground.png")
            quadratic_shot(page, args.out / "playground-quadratic.png")
        finally:
            browser.close()
    print(f"wrote {args.out / 'playground.png'} and {args.out / 'playground-quadratic.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
