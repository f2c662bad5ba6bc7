"""The run folder's helpers: default paths that never collide, signals held while the final
files are written, and results and history files read back checked."""

from __future__ import annotations

import datetime
import json
import os
import signal
import threading
import types

import pytest

from descentlab._validation import DataError
from descentlab.experiments import run_folder
from descentlab.experiments.run_folder import (
    HISTORY_COLUMNS,
    default_run_path,
    deferred_interrupts,
    read_history_csv,
    read_results_json,
    results_to_json,
)


class _Noon(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2025, 1, 2, 12, 0, 5)


def test_a_default_path_that_is_taken_gets_a_number(tmp_path, monkeypatch):
    monkeypatch.setattr(run_folder, "_dt", types.SimpleNamespace(datetime=_Noon))
    first = default_run_path("moons", root=tmp_path)
    assert first == tmp_path / "moons-20250102-120005"
    first.mkdir()
    second = default_run_path("moons", root=tmp_path)
    assert second == tmp_path / "moons-20250102-120005-2"
    second.mkdir()
    assert default_run_path("moons", root=tmp_path).name == "moons-20250102-120005-3"
    (tmp_path / "moons-adam-20250102-120005.npz").write_text("taken")
    model = default_run_path("moons-adam", suffix=".npz", root=tmp_path)
    assert model.name == "moons-adam-20250102-120005-2.npz"


def test_signals_are_held_in_the_main_thread_and_left_alone_elsewhere():
    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupts() as caught:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the final files are written
        os.kill(os.getpid(), signal.SIGTERM)
    assert caught == [signal.SIGINT, signal.SIGTERM]  # held, not raised
    assert signal.getsignal(signal.SIGINT) is before

    seen = []

    def in_a_thread():
        with deferred_interrupts() as held:  # signal.signal would raise outside the main thread
            seen.append((held, signal.getsignal(signal.SIGINT)))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    assert seen == [([], before)]


def _results(**changes) -> dict:
    run = {
        "optimizer": "adam", "label": "adam", "hyperparameters": {"learning_rate": 0.01},
        "status": "completed", "message": "", "epochs_run": 3, "train_accuracy": 0.9,
        "test_accuracy": 0.8, "final_cost": 0.3, "seconds": 0.1,
    }  # fmt: skip
    dataset = {
        "name": "moons", "n_features": 2, "n_classes": 2, "classes": [0, 1],
        "feature_names": ["x1", "x2"], "n_train": 300, "n_test": 300,
    }  # fmt: skip
    doc = {"name": "moons", "partial": False, "layer_dims": [2, 5, 1], "dataset": dataset}
    return {**doc, "runs": [run], **changes}


def test_results_read_back_are_checked(tmp_path):
    path = tmp_path / "results.json"
    with pytest.raises(DataError) as caught:
        read_results_json(path)
    assert str(caught.value) == f"No such file: '{path}'."
    path.write_text(results_to_json(_results()))
    assert read_results_json(path) == _results()
    for changes, damage in [
        ({"layer_dims": [2]}, "layer_dims must be at least two sizes >= 1"),
        ({"layer_dims": [2, 0, 1]}, "layer_dims must be at least two sizes >= 1"),
        ({"runs": _results()["runs"] * 2}, "a label appears twice in runs"),
    ]:
        path.write_text(json.dumps(_results(**changes)))
        with pytest.raises(DataError) as caught:
            read_results_json(path)
        assert str(caught.value) == f"'{path}' is damaged: {damage}."


def test_a_history_read_back_is_checked(tmp_path):
    path = tmp_path / "history.csv"
    with pytest.raises(DataError) as caught:
        read_history_csv(path)
    assert str(caught.value) == f"No such file: '{path}'."
    path.write_text(
        ",".join(HISTORY_COLUMNS) + "\nadam,0,0.5,0.5,0.01,0.8,0.7,0.4\nadam,1,0.4,0.4,0.01\n"
    )
    with pytest.raises(DataError) as caught:
        read_history_csv(path)
    assert str(caught.value) == f"Line 3 of '{path}' has 5 fields; a history row has 8."


def test_files_that_are_not_results_or_histories_are_refused(tmp_path):
    results = tmp_path / "results.json"
    results.write_text("not json")
    with pytest.raises(DataError) as caught:
        read_results_json(results)
    assert str(caught.value) == (
        f"Cannot read '{results}' as a descentlab results file: "
        "Expecting value: line 1 column 1 (char 0)."
    )
    history = tmp_path / "history.csv"
    history.write_text("label,epoch,cost\n")
    with pytest.raises(DataError) as caught:
        read_history_csv(history)
    assert str(caught.value) == (
        f"'{history}' is not a descentlab history: expected the columns {', '.join(HISTORY_COLUMNS)}."
    )
    history.write_text(",".join(HISTORY_COLUMNS) + "\nadam,0,low,0.5,0.01,,,\n")
    with pytest.raises(DataError) as caught:
        read_history_csv(history)
    assert str(caught.value) == (
        f"Cannot read '{history}' as a descentlab history: could not convert string to float: "
        "'low'."
    )
