"""Checkpoints: a run resumed from one equals the run trained in one go, bit for bit; a damaged
or mismatched checkpoint is refused in one line before anything is trained or written."""

from __future__ import annotations

import json
import shutil
import signal

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.checkpoint import checkpoint_files, read_checkpoint_meta
from descentlab.checkpoint.tree import layout
from descentlab.nn import MLP
from descentlab.optimizers import (
    OPTIMIZERS,
    GradientTransformation,
    adam,
    gd,
    get_optimizer,
    momentum,
    nesterov,
    schedule_free_adamw,
    stack_optimizers,
)
from descentlab.schedules import exponential_decay, reduce_on_plateau
from descentlab.training import EarlyStopping, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 40))
Y = (X[0] * X[1] > 0).astype(int)
X_VAL = RNG.normal(size=(2, 20))
Y_VAL = (X_VAL[0] * X_VAL[1] > 0).astype(int)
NET = MLP((2, 4, 1))
HISTORY = ("cost", "last_batch_cost", "learning_rate", "eval_epochs", "train_accuracy",
           "val_accuracy", "val_cost")  # fmt: skip

# name -> (optimizer factory, train arguments): the runs resumed bit for bit, in both engines
RUNS = {
    "adam-schedule-random": (
        lambda: adam(exponential_decay(0.02, gamma=0.999, steps_per_epoch=3)),
        {"seed": 1, "shuffle": "random", "validation": (X_VAL, Y_VAL)},
    ),
    "population-data-seeds-random": (
        lambda: stack_optimizers(
            [gd(0.1), momentum(0.05), adam(np.array([0.01, 0.03]))], [1, 1, 2]
        ),
        {"seed": [1, 2, 3, 4], "data_seed": [5, 6, 5, 7], "shuffle": "random"},
    ),
    "population-seed-order": (
        lambda: adam(np.array([0.005, 0.01, 0.02])),
        {"seed": [3, 3, 4], "data_seed": [10, 11, 12], "shuffle": "seed"},
    ),
    "nesterov-no-shuffle": (lambda: nesterov(0.05), {"seed": 3, "shuffle": "none"}),
}


def _train(opt, epochs, **kwargs):
    kwargs.setdefault("batch_size", 16)
    kwargs.setdefault("eval_every", 100)
    return train(NET, opt, X, Y, epochs=epochs, progress=False, **kwargs)


def assert_same_run(one, two):
    """Equal arrays, bit for bit: parameters, history, stopped members, optimizer state."""
    assert one.status == two.status and one.message == two.message
    for a, b in ((one.params, two.params), (one.resume_params, two.resume_params)):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    for field in HISTORY:
        np.testing.assert_array_equal(getattr(one.history, field), getattr(two.history, field))
    np.testing.assert_array_equal(one.stopped_epoch, two.stopped_epoch)
    np.testing.assert_array_equal(one.diverged, two.diverged)
    a, b = list(layout(one.opt_state)), list(layout(two.opt_state))
    assert [e for e, _ in a] == [e for e, _ in b]
    for (entry, x), (_, y) in zip(a, b, strict=True):
        assert type(x) is type(y), entry["path"]
        np.testing.assert_array_equal(x, y, err_msg=entry["path"])


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("name", RUNS)
def test_1000_epochs_equal_500_and_a_resumed_500(tmp_path, name, engine):
    make, kwargs = RUNS[name]
    kwargs = {**kwargs, "engine": engine}
    path = tmp_path / "run.npz"
    one = _train(make(), 1000, **kwargs)
    half = _train(make(), 500, checkpoint=path, **kwargs)
    assert read_checkpoint_meta(path)["epochs_done"] == 500 and half.history.n_epochs == 500
    two = _train(make(), 1000, checkpoint=path, resume=path, **kwargs)
    assert (one.engine, two.engine) == (engine, engine)
    assert_same_run(one, two)
    assert read_checkpoint_meta(path)["epochs_done"] == 1000


def test_a_periodic_checkpoint_resumes_to_the_same_run(tmp_path):
    """checkpoint_every=300 writes after epochs 300, 600, 900 and the last; the one of epoch 300
    (copied while the run went on) resumes to the one-go run, on the compiled engine, whose
    chunks end at the checkpoints."""
    make, kwargs = RUNS["population-data-seeds-random"]
    path, copy = tmp_path / "run.npz", tmp_path / "copy.npz"
    seen = []

    def keep_first(epoch, logs):
        if path.exists() and not seen:
            seen.append(read_checkpoint_meta(path)["epochs_done"])
            for src, dst in zip(checkpoint_files(path), checkpoint_files(copy), strict=True):
                shutil.copy(src, dst)

    one = _train(make(), 1000, engine="compiled", **kwargs)
    _train(make(), 1000, engine="compiled", checkpoint=path, checkpoint_every=300,
           on_epoch=keep_first, **kwargs)  # fmt: skip
    assert seen == [300]
    two = _train(make(), 1000, engine="compiled", resume=copy, **kwargs)
    assert_same_run(one, two)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_checkpoints_are_due_every_n_epochs_and_at_the_end(tmp_path, monkeypatch, engine):
    """Without callbacks the compiled engine runs chunks of many epochs: they end at the
    checkpoints, which hold epochs 300, 600, 900 and 1000."""
    import descentlab.training as training

    written = []
    real = training.write_checkpoint

    def spy(path, run, state, **kwargs):
        written.append((state.epochs_done, kwargs["checkpoint_every"]))
        real(path, run, state, **kwargs)

    monkeypatch.setattr(training, "write_checkpoint", spy)
    make, kwargs = RUNS["population-seed-order"]
    _train(make(), 1000, engine=engine, checkpoint=tmp_path / "c.npz", checkpoint_every=300,
           eval_every=1000, **kwargs)  # fmt: skip
    assert written == [(300, 300), (600, 300), (900, 300), (1000, 300)]


def test_ctrl_c_stops_after_the_epoch_with_a_checkpoint(tmp_path):
    """The first Ctrl-C ends the run after its epoch, with a checkpoint there; resuming it
    gives the one-go run. A second Ctrl-C interrupts at once, keeping the last checkpoint."""
    make, kwargs = RUNS["adam-schedule-random"]
    path = tmp_path / "run.npz"

    def press(times, at):
        def on_epoch(epoch, logs):
            if epoch == at:
                for _ in range(times):
                    signal.raise_signal(signal.SIGINT)

        return on_epoch

    one = _train(make(), 1000, engine="numpy", **kwargs)
    cut = _train(make(), 1000, engine="numpy", checkpoint=path, on_epoch=press(1, 449), **kwargs)
    assert cut.status == "interrupted" and cut.history.n_epochs == 450
    assert cut.message == (
        f"Interrupted after 450 of 1000 epochs; the history so far is kept. The checkpoint "
        f"'{path}' holds 450 epochs."
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert read_checkpoint_meta(path)["epochs_done"] == 450
    two = _train(make(), 1000, engine="numpy", resume=path, **kwargs)
    assert_same_run(one, two)
    hard = _train(make(), 1000, engine="numpy", checkpoint=path, checkpoint_every=100,
                  on_epoch=press(2, 449), **kwargs)  # fmt: skip
    assert hard.status == "interrupted" and hard.history.n_epochs == 450
    assert hard.message.endswith(f"The checkpoint '{path}' holds 400 epochs.")
    assert read_checkpoint_meta(path)["epochs_done"] == 400


def test_extending_a_finished_run_leaves_out_its_last_evaluation(tmp_path):
    """A 500-epoch run evaluates its last epoch (499); a 1000-epoch run with eval_every=300
    does not: the extended history is the one-go history."""
    make, kwargs = RUNS["adam-schedule-random"]
    path = tmp_path / "run.npz"
    one = _train(make(), 1000, engine="numpy", **{**kwargs, "eval_every": 300})
    half = _train(make(), 500, engine="numpy", checkpoint=path, **{**kwargs, "eval_every": 300})
    assert half.history.eval_epochs.tolist() == [0, 299, 499]
    two = _train(make(), 1000, engine="numpy", resume=path, **{**kwargs, "eval_every": 300})
    assert two.history.eval_epochs.tolist() == [0, 299, 599, 899, 999]
    assert_same_run(one, two)


def test_resuming_a_finished_run_to_its_own_length_returns_it(tmp_path):
    make, kwargs = RUNS["nesterov-no-shuffle"]
    path = tmp_path / "run.npz"
    one = _train(make(), 300, engine="numpy", checkpoint=path, **kwargs)
    seen = []
    two = _train(make(), 300, engine="numpy", resume=path, on_epoch=lambda e, _: seen.append(e),
                 **kwargs)  # fmt: skip
    assert seen == []
    assert_same_run(one, two)


def test_diverged_and_early_stopped_members_resume_exactly(tmp_path):
    """A member that diverged before the checkpoint keeps its frozen parameters; EarlyStopping's
    own state (best, wait) carries on: member 1, 11 epochs into its patience of 20 at the
    checkpoint (epoch 470), still stops at 479."""
    opt = lambda: gd(np.array([0.05, 0.2, 5000.0, 0.1]))  # noqa: E731
    stop = lambda: [EarlyStopping("cost", patience=20, min_delta=1e-3)]  # noqa: E731
    kwargs = {"seed": [1, 2, 3, 4], "shuffle": "random", "engine": "numpy"}
    path = tmp_path / "run.npz"
    one = _train(opt(), 1000, callbacks=stop(), **kwargs)
    _train(opt(), 470, checkpoint=path, callbacks=stop(), **kwargs)
    two = _train(opt(), 1000, resume=path, callbacks=stop(), **kwargs)
    assert one.stopped_epoch.tolist() == [-1, 479, 0, 989]
    assert one.diverged.tolist() == [False, False, True, False]
    assert_same_run(one, two)


def test_a_diverged_schedule_free_member_keeps_both_its_points(tmp_path):
    """Schedule-free evaluates at x and trains at y: a member that diverged before the
    checkpoint keeps both frozen (``eval_snapshots`` beside ``snapshots``)."""
    opt = lambda: schedule_free_adamw(np.array([0.01, 50.0, 0.02]))  # noqa: E731
    kwargs = {"seed": [1, 2, 3], "engine": "numpy", "validation": (X_VAL, Y_VAL), "eval_every": 7}
    path = tmp_path / "run.npz"
    one = _train(opt(), 300, **kwargs)
    _train(opt(), 150, checkpoint=path, **kwargs)
    with np.load(path, allow_pickle=False) as archive:
        assert archive["eval_snapshots/W1"].shape == archive["snapshots/W1"].shape == (1, 4, 2)
    assert one.diverged.tolist() == [False, True, False] and one.stopped_epoch[1] == 0
    assert_same_run(one, _train(opt(), 300, resume=path, **kwargs))


def test_a_regression_network_resumes_exactly(tmp_path):
    """An MSE network on real-valued targets (its accuracies are NaN, as they should be)."""
    net, y = MLP((2, 4, 1), loss="mse"), X[0] * 0.5 + X[1] ** 2
    kwargs = {"seed": 1, "engine": "numpy", "validation": (X_VAL, X_VAL[0]), "progress": False}
    path = tmp_path / "run.npz"
    one = train(net, adam(0.01), X, y, epochs=200, **kwargs)
    train(net, adam(0.01), X, y, epochs=100, checkpoint=path, **kwargs)
    two = train(net, adam(0.01), X, y, epochs=200, resume=path, **kwargs)
    assert np.isnan(one.history.train_accuracy).all()
    assert_same_run(one, two)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_named_optimizer_state_round_trips(tmp_path, name):
    """A population with one learning rate per member (some states then keep one number per
    member) resumes exactly, whatever the optimizer; 60 epochs split at 30."""
    lr = np.array([0.001, 0.003, 0.01])
    opt = lambda: get_optimizer(name, learning_rate=lr)  # noqa: E731
    kwargs = {"seed": [1, 2, 3], "engine": "numpy", "validation": (X_VAL, Y_VAL), "eval_every": 7}
    path = tmp_path / "run.npz"
    one = _train(opt(), 60, **kwargs)
    _train(opt(), 30, checkpoint=path, **kwargs)
    assert_same_run(one, _train(opt(), 60, resume=path, **kwargs))


@pytest.mark.parametrize("population", [False, True])
def test_reduce_on_plateau_and_schedule_free_resume_exactly(tmp_path, population):
    """Their states observe the validation cost (reduce-on-plateau: cuts before and after the
    checkpoint) and evaluate elsewhere than they train (schedule-free)."""
    seed = [1, 2] if population else 1
    plateau = lambda: adam(reduce_on_plateau(0.05, factor=0.5, patience=20))  # noqa: E731
    free = lambda: schedule_free_adamw(0.02)  # noqa: E731
    kwargs = {"seed": seed, "engine": "numpy", "validation": (X_VAL, Y_VAL)}
    runs = {}
    for name, make in (("plateau", plateau), ("free", free)):
        path = tmp_path / f"{name}.npz"
        runs[name] = one = _train(make(), 200, **kwargs)
        _train(make(), 100, checkpoint=path, **kwargs)
        assert_same_run(one, _train(make(), 200, resume=path, **kwargs))
    rates = runs["plateau"].history.learning_rate  # cut on both sides of epoch 100
    assert len(np.unique(rates[:100])) > 1 and len(np.unique(rates[100:])) > 1
    free = runs["free"]  # evaluated at x, trained at y
    assert not np.array_equal(free.params["W1"], free.resume_params["W1"])


# ----------------------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint of 50 epochs of a population of 2 with validation data."""
    path = tmp_path_factory.mktemp("saved") / "run.npz"
    _train(adam(0.01), 50, checkpoint=path, **BASE)
    return path


BASE = {"seed": [1, 2], "engine": "numpy", "validation": (X_VAL, Y_VAL), "eval_every": 10}


def _refused(tmp_path, source, *, opt=None, net=NET, X_=X, Y_=Y, epochs=100, **changes):
    """Resume ``source`` with ``changes``; the DataError's message. Asserts nothing was trained
    (no epoch seen) and nothing written (the new checkpoint path does not exist)."""
    seen, target = [], tmp_path / "new.npz"
    kwargs = {**BASE, **changes}
    with pytest.raises((DataError, InvalidParameterError)) as info:
        train(net, opt or adam(0.01), X_, Y_, epochs=epochs, batch_size=16, progress=False,
              checkpoint=target, resume=source, on_epoch=lambda e, _: seen.append(e), **kwargs)  # fmt: skip
    assert seen == [] and not target.exists() and not target.with_suffix(".json").exists()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_saved_checkpoint_resumes(saved, tmp_path):
    copy = _copy(saved, tmp_path)
    result = train(NET, adam(0.01), X, Y, epochs=60, batch_size=16, progress=False,
                   resume=copy, **BASE)  # fmt: skip
    assert result.history.n_epochs == 60


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"net": MLP((2, 5, 1))}, "the network's layer_dims is [2, 4, 1] in the checkpoint, [2, 5, 1] for this run"),
        ({"net": MLP((2, 4, 1), "tanh")}, "the network's activation is 'relu' in the checkpoint, 'tanh' for this run"),
        ({"opt": adam(0.02)}, "the optimizer differs: chain[2] (scale_by_learning_rate) learning_rate is 0.01 in the checkpoint, 0.02 for this run"),
        ({"opt": momentum(0.01)}, "the optimizer differs: chain has 3 parts in the checkpoint, 2 for this run"),
        ({"seed": [1, 2, 3]}, "the population is 2 networks in the checkpoint, 3 networks for this run"),
        ({"seed": 1}, "the population is 2 networks in the checkpoint, one network for this run"),
        ({"X_": X + np.eye(2, 40) * 1e-9}, "X holds other values than the data the checkpoint was trained on (SHA-256 33bd2076bad4... in the checkpoint, f63bab19fcd6... for this run)"),
        ({"Y_": 1 - Y}, "y holds other values than the data the checkpoint was trained on (SHA-256 cf65eae4053b... in the checkpoint, 5a4f9c85124a... for this run)"),
        ({"X_": X[:, :30], "Y_": Y[:30]}, "X is '<f8' of shape [2, 40] in the checkpoint, '<f8' of shape [2, 30] for this run"),
        ({"validation": None}, "the checkpoint was trained with validation data (X_val), this run has none"),
        ({"batch_size": 8}, "batch_size is 16 in the checkpoint, 8 for this run"),
        ({"eval_every": 5}, "eval_every is 10 in the checkpoint, 5 for this run"),
        ({"max_cost": 5.0}, "max_cost is 69.31471805599453 in the checkpoint, 5.0 for this run"),
        ({"data_seed": [1, 3]}, "the data order is shuffle='random' with data seeds [1, 2] in the checkpoint, shuffle='random' with data seeds [1, 3] for this run"),
        ({"shuffle": "seed"}, "the data order is shuffle='random' with data seeds [1, 2] in the checkpoint, shuffle='seed' with data seeds [10] for this run"),
        ({"epochs": 40}, "it has 50 epochs done and this run asks for epochs=40 (the total, counted from the start); give epochs >= 50"),
        ({"callbacks": [EarlyStopping()]}, "it holds the state of the callbacks at positions [], and this run's callbacks that keep a state are at [0]; give the same callbacks"),
    ],
)  # fmt: skip
def test_a_checkpoint_of_another_run_is_refused(saved, tmp_path, changes, expected):
    if "batch_size" in changes:
        changes = {**changes}
        batch = changes.pop("batch_size")
        seen = []
        with pytest.raises(DataError) as info:
            train(NET, adam(0.01), X, Y, epochs=100, batch_size=batch, progress=False,
                  resume=saved, on_epoch=lambda e, _: seen.append(e), **BASE)  # fmt: skip
        message = str(info.value)
        assert seen == []
    else:
        message = _refused(tmp_path, saved, **changes)
    assert message == f"Cannot resume from '{saved}': {expected}."


def test_resume_refuses_params_opt_state_and_bad_paths(saved, tmp_path):
    with pytest.raises(InvalidParameterError, match="do not give 'params' or 'opt_state'"):
        train(NET, adam(0.01), X, Y, epochs=60, params=NET.init(1), resume=saved)
    with pytest.raises(
        InvalidParameterError, match="'checkpoint_every' parameter of train needs checkpoint=PATH"
    ):
        train(NET, adam(0.01), X, Y, epochs=60, checkpoint_every=10)
    for bad in (0, -1, 2.5, "10", True):
        with pytest.raises(InvalidParameterError, match="checkpoint_every"):
            train(
                NET,
                adam(0.01),
                X,
                Y,
                epochs=60,
                checkpoint=tmp_path / "c.npz",
                checkpoint_every=bad,
            )
    with pytest.raises(InvalidParameterError, match=r"must be the path of a \.npz file"):
        train(NET, adam(0.01), X, Y, epochs=60, checkpoint=tmp_path / "c.json")
    with pytest.raises(InvalidParameterError, match=r"must be the path of a checkpoint's \.npz"):
        train(NET, adam(0.01), X, Y, epochs=60, resume=3)
    with pytest.raises(DataError, match="No such file"):
        train(NET, adam(0.01), X, Y, epochs=60, resume=tmp_path / "missing.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        train(NET, adam(0.01), X, Y, epochs=60, checkpoint=tmp_path / "dir.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz"]


def test_a_state_a_checkpoint_cannot_hold_is_refused_before_training(tmp_path):
    class Box:
        pass

    custom = GradientTransformation(lambda params: (Box(),), lambda g, s, p=None: (g, s))
    with pytest.raises(
        InvalidParameterError, match=r"^opt_state\[0\] is Box .*, which a checkpoint cannot hold"
    ):
        train(NET, custom, X, Y, epochs=5, checkpoint=tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- damaged files


def _copy(source, tmp_path, name="copy.npz"):
    target = tmp_path / name
    for src, dst in zip(checkpoint_files(source), checkpoint_files(target), strict=True):
        shutil.copy(src, dst)
    return target


def _edit_json(path, change):
    meta_path = checkpoint_files(path)[1]
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))


def _edit_npz(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    change(arrays)
    np.savez(path, **arrays)


def _set(arrays, key, value):
    arrays[key] = value


def _nan_cost(arrays):
    arrays["history/cost"] = arrays["history/cost"].copy()
    arrays["history/cost"][20, 1] = np.nan


def _entry(meta, path):
    return next(e for e in meta["opt_state"] if e["path"] == path)


NPZ_DAMAGE = [
    (lambda a: a.pop("params/W1"), "is damaged: it has no array 'params/W1'"),
    (lambda a: _set(a, "params/W1", np.zeros((2, 3, 2))), "Cannot resume from '{p}': params['W1']: float64 of shape (2, 3, 2) in the checkpoint, floats of shape (2, 4, 2) for this run"),
    (lambda a: _set(a, "params/W1", np.zeros((2, 4, 2), np.int64)), "params['W1']: int64 of shape (2, 4, 2) in the checkpoint, floats of shape (2, 4, 2)"),
    (lambda a: _set(a, "opt_state/5", np.zeros((3, 17))), "Cannot resume from '{p}': opt_state[1].mu['theta']: float64 of shape (3, 17) in the checkpoint, floats of shape (2, 17) for this run"),
    (lambda a: _set(a, "opt_state/11", np.array(np.nan)), "is damaged: opt_state[2].learning_rate is nan, where this optimizer keeps a finite number"),
    (_nan_cost, "is damaged: history/cost is nan at epoch 20 for member 1, which had not stopped there (a running member's cost is finite, at most max_cost)"),
    (lambda a: _set(a, "history/cost", np.zeros((49, 2))), "history/cost: float64 of shape (49, 2) in the checkpoint, floats of shape (50, 2)"),
    (lambda a: _set(a, "history/eval_epochs", np.array([0, 9, 9, 19, 29, 39, 49])), "history/eval_epochs must be increasing epochs in [0, 49]"),
    (lambda a: _set(a, "history/eval_epochs", np.arange(10**5)), "history/eval_epochs must list at most 50 epochs; found shape (100000,)"),
    (lambda a: _set(a, "history/train_accuracy", a["history/train_accuracy"] + 2), "history/train_accuracy must hold fractions in [0, 1]"),
    (lambda a: _set(a, "history/learning_rate", -a["history/learning_rate"]), "history/learning_rate must hold rates >= 0"),
    (lambda a: _set(a, "stopped_epoch", np.array([60, -1])), "stopped_epoch must be -1 or an epoch in [0, 49]"),
    (lambda a: _set(a, "diverged", np.array([True, False])), "a member is marked diverged but not stopped"),
    (lambda a: _set(a, "token", np.array("another")), "it and its .json come from two different saves (their tokens differ)"),
    (lambda a: _set(a, "params/W1", np.array([object()] * 16, dtype=object).reshape(2, 4, 2)), "Cannot resume from '{p}': params['W1']: object of shape (2, 4, 2) in the checkpoint, floats of shape (2, 4, 2) for this run"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), NPZ_DAMAGE)
def test_a_damaged_archive_is_refused(saved, tmp_path, change, expected):
    path = _copy(saved, tmp_path)
    _edit_npz(path, change)  # (np.savez pickles an object array: refused by its header)
    assert expected.format(p=path) in _refused(tmp_path, path)


def test_a_truncated_or_foreign_archive_is_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "is not a descentlab checkpoint (the zip archive is damaged or truncated" in _refused(
        tmp_path, path
    )
    path.write_bytes(b"not a zip at all")
    assert "is not a descentlab checkpoint (it is not a zip archive" in _refused(tmp_path, path)
    path.unlink()
    assert "No such file" in _refused(tmp_path, path)


JSON_DAMAGE = [
    (lambda m: m.update(format="other"), "is not a descentlab checkpoint (no format 'descentlab-checkpoint')"),
    (lambda m: m.update(version=2), "is a checkpoint of version 2; this descentlab reads version 1"),
    (lambda m: m.update(epochs_done=10**12), "epochs_done (1000000000000) and epochs (50) must satisfy 1 <= epochs_done <= epochs <= 10000000"),
    (lambda m: m.update(epochs_done=0), "must satisfy 1 <= epochs_done"),
    (lambda m: m.update(epochs_done=50.0), "is damaged: epochs_done must be an integer; found 50.0"),
    (lambda m: m.update(checkpoint_every=0), "checkpoint_every must be in [1, 10000000] or null; found 0"),
    (lambda m: m.pop("run"), "is damaged: the document has no 'run'"),
    (lambda m: m.update(run=[1, 2]), "is damaged: run must be a table"),
    (lambda m: _entry(m, "opt_state[1].count").update(value=2.5), "is damaged: opt_state[1].count must be an int; found 2.5"),
    (lambda m: _entry(m, "opt_state[1].count").update(value=-3), "is damaged: opt_state[1].count (a step count) is -3, below 0"),
    (lambda m: _entry(m, "opt_state[1].count").update(value=10**30), "is damaged: opt_state[1].count is 1000000000000000000000000000000, outside the 64-bit integers"),
    (lambda m: _entry(m, "opt_state[1]").update(type="TraceState"), "Cannot resume from '{p}': opt_state[1]: type 'TraceState' in the checkpoint, 'ScaleByAdamState' for this run"),
    (lambda m: _entry(m, "opt_state[1].mu").update(keys=["W1"]), "opt_state[1].mu: keys ['W1'] in the checkpoint, ['theta'] for this run"),
    (lambda m: m["opt_state"].pop(), "its optimizer state ends before opt_state[2].learning_rate (it has 11 parts, this run's 12); the optimizer differs"),
    (lambda m: m["opt_state"].append({"path": "x", "kind": "none"}), "its optimizer state has 13 parts, this run's 12"),
    (lambda m: m["generators"][0]["state"].update(inc=2), "generators[0] is not a PCG64 generator state"),
    (lambda m: m["generators"][1].update(bit_generator="MT19937"), "generators[1] is not a PCG64 generator state"),
    (lambda m: m.update(generators=m["generators"][:1]), "generators must list 2 generator state(s), one per distinct data seed"),
    (lambda m: m["run"]["network"].update(layer_dims="x" * 10**4), "the network's layer_dims is 'xxxxxxxx"),
    (lambda m: m.update(token="other"), "it and its .json come from two different saves"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), JSON_DAMAGE)
def test_a_damaged_json_is_refused(saved, tmp_path, change, expected):
    path = _copy(saved, tmp_path)
    _edit_json(path, change)
    message = _refused(tmp_path, path)
    assert expected.format(p=path) in message and len(message) < 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", "not strict JSON"),
        (b"\xff\xfe", "not strict JSON"),
        (b'{"format": NaN}', "not strict JSON (NaN is not a number in strict JSON)"),
        (b"[" * 100000 + b"]" * 100000, "not strict JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not strict JSON"),
        (b"[1, 2]", "is not a descentlab checkpoint (no format"),
    ],
)
def test_hostile_json_text_is_refused(saved, tmp_path, text, expected):
    path = _copy(saved, tmp_path)
    checkpoint_files(path)[1].write_bytes(text)
    assert expected in _refused(tmp_path, path)


def test_a_huge_json_is_refused_unread(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with open(checkpoint_files(path)[1], "wb") as f:
        f.truncate(17 * 2**20)
    assert "is 17.0 MiB; a checkpoint's JSON is at most 16 MiB" in _refused(tmp_path, path)


def test_the_checkpoint_files_are_written_atomically(saved):
    """Only the two files, no temporary file left; the JSON is strict and names the format."""
    assert sorted(p.name for p in saved.parent.iterdir()) == ["run.json", "run.npz"]
    meta = read_checkpoint_meta(saved)
    assert (meta["format"], meta["version"], meta["epochs_done"]) == (
        "descentlab-checkpoint",
        1,
        50,
    )
    with np.load(saved, allow_pickle=False) as archive:
        assert str(archive["token"]) == meta["token"]
        assert archive["params/W1"].shape == (2, 4, 2)
