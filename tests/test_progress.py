"""The progress bar (tqdm): drawn on a terminal only, with position, figures and time left."""

import io
import sys

from descentlab import MLP, load_moons, train
from descentlab.optimizers import gd
from descentlab.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_draws_position_figures_and_eta_on_a_terminal():
    stream = FakeTTY()
    with Progress(10, "adam", stream=stream) as bar:
        assert bar.enabled
        bar.update(3, cost=0.5)
        bar.update(10, cost=0.25)
    out = stream.getvalue()
    assert out.startswith("\radam:") and out.endswith("\n")
    assert "10/10" in out and "cost=0.25" in out and "epoch/s" in out


def test_figures_are_refreshed_at_most_ten_times_a_second():
    stream = FakeTTY()
    with Progress(1000, "gd", stream=stream) as bar:
        for done in range(1, 1000):
            bar.update(done, cost=1.0 / done)
        drawn_before_the_end = stream.getvalue().count("\r")
    assert drawn_before_the_end < 10  # a tight loop of 999 updates redraws a few times only


def test_silent_when_not_a_terminal_or_disabled():
    piped = io.StringIO()
    with Progress(5, "gd", stream=piped) as bar:
        assert not bar.enabled
        bar.update(5, cost=1.0)
    assert piped.getvalue() == ""
    tty = FakeTTY()
    with Progress(5, "gd", stream=tty, enabled=False) as bar:
        bar.update(5)
    assert tty.getvalue() == ""


def test_total_can_grow_while_running():
    stream = FakeTTY()
    with Progress(4, "benchmark", stream=stream, unit="run") as bar:
        bar.total = 8
        bar.update(8)
    assert bar.total == 8 and "8/8" in stream.getvalue()


def test_train_shows_the_bar_on_a_terminal_only(monkeypatch):
    data = load_moons()
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    train(MLP((2, 3, 1)), gd(0.1), data.X, data.y, epochs=3, seed=0, label="gd")
    assert "gd:" in tty.getvalue() and "3/3" in tty.getvalue() and "cost=" in tty.getvalue()
    quiet = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    train(MLP((2, 3, 1)), gd(0.1), data.X, data.y, epochs=3, seed=0, progress=False)
    assert quiet.getvalue() == ""


def test_tqdm_is_not_even_imported_when_nothing_is_drawn():
    import subprocess

    code = (
        "import io, sys; from descentlab.progress import Progress; "
        "bar = Progress(5, stream=io.StringIO()); bar.update(5); bar.close(); "
        "Progress(5, enabled=False).close(); print('tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_in_a_kernel_a_stream_that_is_not_a_terminal_gets_no_bar(monkeypatch):
    import types

    # inside Jupyter, ipykernel is loaded: the bar may be drawn there, but tqdm itself still
    # declines a plain stream that is not a terminal (outside a notebook front end)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    log = io.StringIO()
    with Progress(5, "gd", stream=log) as bar:
        assert not bar.enabled
        bar.update(5, cost=1.0)
    assert log.getvalue() == ""
