"""``descentlab train --checkpoint-every`` and ``--resume``: a run interrupted (or stopped short)
and resumed writes the same run folder as one run in one go; anything else is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from descentlab.checkpoint import read_checkpoint_meta
from descentlab.cli import main
from descentlab.model_file import load_model

SMALL = ["--epochs", "40", "--eval-every", "15", "--checkpoint-every", "10", "-q"]


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def _same_model(a: Path, b: Path) -> None:
    one, two = load_model(a), load_model(b)
    for key in one.params:
        np.testing.assert_array_equal(one.params[key], two.params[key])
    assert one.history.keys() == two.history.keys()
    for key in one.history:
        np.testing.assert_array_equal(one.history[key], two.history[key])
    strip = lambda meta: {**meta, "summary": {**meta["summary"], "seconds": None}}  # noqa: E731
    assert strip(one.meta) == strip(two.meta)


@pytest.fixture
def runs(tmp_path, monkeypatch, capsys):
    """A one-go run of 40 epochs (A) and a run stopped after 20 epochs (B)."""
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, ["train", *SMALL, "--out", "A"])[0] == 0
    short = [*SMALL]
    short[1] = "20"
    rc, _, err = run_cli(capsys, ["train", *short, "--out", "B"])
    assert (rc, err) == (0, "")
    return tmp_path / "A", tmp_path / "B"


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_a_resumed_run_folder_equals_the_one_go_folder(tmp_path, monkeypatch, capsys, engine):
    monkeypatch.chdir(tmp_path)
    small = [*SMALL, "--engine", engine]
    assert run_cli(capsys, ["train", *small, "--out", "A"])[0] == 0
    short = [*small]
    short[1] = "20"
    assert run_cli(capsys, ["train", *short, "--out", "B"])[0] == 0
    assert load_model(tmp_path / "B/model.npz").history["eval_epochs"].tolist() == [0, 14, 19]
    rc, out, err = run_cli(capsys, ["train", "--resume", "B", "--epochs", "40"])
    assert rc == 0, err
    assert "Model: B/model.npz" in out
    assert err.splitlines()[-1] == (
        "descentlab: run folder B; extend it with: descentlab train --resume B --epochs N"
    )
    _same_model(tmp_path / "A/model.npz", tmp_path / "B/model.npz")
    assert load_model(tmp_path / "B/model.npz").history["eval_epochs"].tolist() == [0, 14, 29, 39]
    assert (tmp_path / "A/config.toml").read_text() == (tmp_path / "B/config.toml").read_text()
    assert read_checkpoint_meta(tmp_path / "B/checkpoint.npz")["epochs_done"] == 40
    assert sorted(p.name for p in (tmp_path / "B").iterdir()) == [
        "checkpoint.json",
        "checkpoint.npz",
        "config.toml",
        "model.npz",
    ]


def test_resume_without_epochs_continues_to_the_saved_total(runs, capsys):
    """A run stopped by Ctrl-C keeps the total it was asked for: --resume alone finishes it.
    (Simulated: the checkpoint of epoch 20 of a 40-epoch run.)"""
    a, b = runs
    meta_path = b / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    meta["epochs"] = 40
    meta_path.write_text(json.dumps(meta))
    rc, _, err = run_cli(capsys, ["train", "--resume", str(b), "-q"])
    assert (rc, err) == (0, "")
    _same_model(a / "model.npz", b / "model.npz")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--lr", "0.1"], "--lr cannot be given with --resume: the run continues with the configuration saved in its folder (only --epochs, --engine, --checkpoint-every, --format, --quiet may be given)."),
        (["--out", "C"], "--out cannot be given with --resume"),
        (["--dataset", "iris"], "--dataset cannot be given with --resume"),
        (["--epochs", "10"], "it has 20 epochs done and this run asks for epochs=10 (the total, counted from the start); give epochs >= 20."),
        (["--epochs", "0"], "The 'epochs' parameter of the experiment configuration must be an int in the range [1, 10000000]. Got 0 instead."),
        (["--checkpoint-every", "0"], "--checkpoint-every must be an int in the range [1, 10000000]. Got 0 instead."),
    ],
)  # fmt: skip
def test_resume_refusals_are_one_line_and_change_nothing(runs, capsys, extra, expected):
    _, b = runs
    before = _files(b)
    rc, out, err = run_cli(capsys, ["train", "--resume", str(b), "-q", *extra])
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and expected in err, err
    assert _files(b) == before


def test_a_damaged_or_foreign_run_folder_is_refused(runs, capsys, tmp_path):
    a, b = runs
    cases = []
    (b / "checkpoint.json").write_text("{not json")
    cases.append((b, "'B/checkpoint.json' is not a descentlab checkpoint: not strict JSON"))
    (a / "config.toml").write_text((a / "config.toml").read_text().replace("0.0007", "0.001"))
    cases.append((a, "the optimizer differs: chain[2] (scale_by_learning_rate) learning_rate is 0.0007 in the checkpoint, 0.001 for this run"))  # fmt: skip
    (tmp_path / "empty").mkdir()
    cases.append((tmp_path / "empty", "No such file: 'empty/checkpoint.json'"))
    cases.append((tmp_path / "missing", "'missing' is not a folder"))
    for folder, expected in cases:
        before = _files(tmp_path)
        rc, out, err = run_cli(capsys, ["train", "--resume", folder.name, "-q"])
        assert rc == 2 and out == "" and len(err.splitlines()) == 1
        assert expected in err, err
        assert _files(tmp_path) == before


def test_checkpoint_every_refuses_a_file_name_and_an_existing_run(runs, capsys):
    _, b = runs
    for argv, expected in (
        (["--out", "m.npz"], "With --checkpoint-every, --out names the run folder"),
        (["--out", "B"], "'B' already holds a run's checkpoint (checkpoint.npz); continue it with descentlab train --resume B"),
        (["--checkpoint-every", "-5", "--out", "C"], "--checkpoint-every must be an int in the range [1, 10000000]. Got -5 instead."),
    ):  # fmt: skip
        before = _files(b.parent)
        rc, _, err = run_cli(capsys, ["train", *SMALL, *argv])
        assert rc == 2 and len(err.splitlines()) == 1 and expected in err, err
        assert _files(b.parent) == before
