"""The progress bar: drawn on a terminal only, with position, figures and time left."""

import io
import sys

import pytest

from descentlab import MLP, load_moons, train
from descentlab.optimizers import gd
from descentlab.progress import ProgressBar, format_seconds


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("seconds, text", [(0.4, "0:00"), (75.3, "1:15"), (3725, "1:02:05")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_draws_position_figures_and_eta_on_a_terminal():
    stream = FakeTTY()
    with ProgressBar(10, "adam", stream=stream) as bar:
        bar.update(10, cost=0.25)
    out = stream.getvalue()
    assert out.startswith("\radam [") and out.endswith("\n")
    assert "] 10/10 cost 0.25 " in out
    assert "#" * ProgressBar.width in out


def test_silent_when_not_a_terminal_or_disabled():
    piped = io.StringIO()
    with ProgressBar(5, "gd", stream=piped) as bar:
        bar.update(5, cost=1.0)
    assert piped.getvalue() == ""
    tty = FakeTTY()
    with ProgressBar(5, "gd", stream=tty, enabled=False) as bar:
        bar.update(5)
    assert tty.getvalue() == ""


def test_train_shows_the_bar_on_a_terminal_only(monkeypatch):
    data = load_moons()
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    train(MLP((2, 3, 1)), gd(0.1), data.X, data.y, epochs=3, seed=0, label="gd")
    assert "gd [" in tty.getvalue() and "3/3 cost" in tty.getvalue()
    quiet = FakeTTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    train(MLP((2, 3, 1)), gd(0.1), data.X, data.y, epochs=3, seed=0, progress=False)
    assert quiet.getvalue() == ""
