"""Hostile checkpoints refused with one line, and before anything is trained or written: the
refusals of descentlab.checkpoint that tests/test_checkpoint.py does not reach (a damaged run
description, optimizer state layout, token, history, snapshots and callbacks' arrays)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.checkpoint import checkpoint_files, read_checkpoint_meta
from descentlab.checkpoint.identity import _setting, run_difference
from descentlab.nn import MLP
from descentlab.npz import MAX_MEMBERS
from descentlab.optimizers import GradientTransformation, adam
from descentlab.schedules import reduce_on_plateau
from descentlab.training import EarlyStopping, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 40))
Y = (X[0] * X[1] > 0).astype(int)
X_VAL = RNG.normal(size=(2, 20))
Y_VAL = (X_VAL[0] * X_VAL[1] > 0).astype(int)
NET = MLP((2, 4, 1))
BASE = {"seed": [1, 2], "engine": "numpy", "batch_size": 16, "progress": False}


def _train(opt, epochs, **kwargs):
    return train(NET, opt, X, Y, epochs=epochs, **{**BASE, **kwargs})


def _saved(tmp_path, opt=None, epochs=10, **kwargs) -> Path:
    path = tmp_path / "run.npz"
    _train(opt or adam(0.01), epochs, checkpoint=path, **kwargs)
    return path


def _refused(path, opt=None, error=DataError, **kwargs) -> str:
    """Resume ``path``; the one-line message, with the file's name replaced by ``P``. Asserts
    no epoch was trained and no file written."""
    seen, target = [], path.parent / "new.npz"
    before = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(error) as info:
        _train(opt or adam(0.01), 20, resume=path, checkpoint=target,
               on_epoch=lambda e, _: seen.append(e), **kwargs)  # fmt: skip
    assert seen == [] and sorted(p.name for p in path.parent.iterdir()) == before
    message = str(info.value)
    assert "\n" not in message
    return message.replace(f"'{path}'", "P").replace(f"'{checkpoint_files(path)[1]}'", "J")


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


def _entry(meta, path):
    return next(e for e in meta["opt_state"] if e["path"] == path)


def _part(meta, i):
    return meta["run"]["optimizer"]["parts"][i]


# ----------------------------------------------------------------------------- run description

RUN_DAMAGE = [
    (lambda r: r.update(order="random"), "the data order is 'random' in the checkpoint, shuffle='random' with data seeds [1, 2] for this run"),
    (lambda r: r["order"].update(seeds=5), "the data order is shuffle='random' with data seeds {'seeds': 5, 'member_rows': [0, 1]} in the checkpoint, shuffle='random' with data seeds [1, 2] for this run"),
    (lambda r: r["order"].update(member_rows=[0, 7]), "the data order is shuffle='random' with data seeds {'seeds': [1, 2], 'member_rows': [0, 7]} in the checkpoint, shuffle='random' with data seeds [1, 2] for this run"),
    (lambda r: r.update(network="mlp"), "the network's description is 'mlp' in the checkpoint"),
    (lambda r: r["network"].update(colour="red"), "the network's description has other entries than this run's"),
    (lambda r: r.update(data=[1]), "its data description is not a table"),
    (lambda r: r["data"].update(X="x"), "its description of X is 'x'"),
    (lambda r: r["data"].update(Z=None), "its data description has other entries than this run's"),
    (lambda r: r["optimizer"].update(kind="sgd"), "the optimizer differs: 'sgd' in the checkpoint, 'chain' for this run"),
    (lambda r: r.update(optimizer=None), "the optimizer differs: a custom transformation in the checkpoint, 'chain' for this run"),
    (lambda r: r.update(optimizer=[1]), "the optimizer differs: [1] in the checkpoint, 'chain' for this run"),
    (lambda r: r["optimizer"]["parts"].__setitem__(2, 5), "the optimizer differs: chain[2] 5 in the checkpoint, 'scale_by_learning_rate' for this run"),
    (lambda r: r["optimizer"]["parts"][2]["settings"].update(colour=1), "the optimizer differs: chain[2] (scale_by_learning_rate) has other settings than this run's"),
    (lambda r: r["optimizer"].update(settings=[]), "the optimizer differs: chain has other settings than this run's"),
    (lambda r: r["optimizer"]["parts"][2]["settings"].update(learning_rate={"array_sha256": "0123456789abcdef", "shape": [9]}), "the optimizer differs: chain[2] (scale_by_learning_rate) learning_rate is an array of shape [9] (SHA-256 0123456789ab...) in the checkpoint, 0.01 for this run"),
    (lambda r: r["optimizer"]["parts"][2]["settings"].update(learning_rate={"array": [0.01, 0.02], "shape": [2]}), "the optimizer differs: chain[2] (scale_by_learning_rate) learning_rate is [0.01, 0.02] in the checkpoint, 0.01 for this run"),
    (lambda r: r["optimizer"]["parts"][2]["settings"].update(learning_rate={"schedule": "exponential_decay(0.01)"}), "the optimizer differs: chain[2] (scale_by_learning_rate) learning_rate is 'exponential_decay(0.01)' in the checkpoint, 0.01 for this run"),
]  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint of 10 epochs of a population of 2 (adam, shuffle='random')."""
    return _saved(tmp_path_factory.mktemp("saved"))


def _copy(source, tmp_path):
    target = tmp_path / "copy.npz"
    for src, dst in zip(checkpoint_files(source), checkpoint_files(target), strict=True):
        shutil.copy(src, dst)
    return target


@pytest.mark.parametrize(("change", "expected"), RUN_DAMAGE)
def test_a_damaged_run_description_is_refused_naming_what_differs(
    saved, tmp_path, change, expected
):
    path = _copy(saved, tmp_path)
    _edit_json(path, lambda m: change(m["run"]))
    assert _refused(path) == f"Cannot resume from P: {expected}."


def test_a_custom_optimizer_is_not_the_checkpoints_named_one(saved, tmp_path):
    """A transformation without a recipe is described as None (a custom one)."""
    custom = GradientTransformation(lambda params: (), lambda g, s, p=None: (g, s))
    assert _refused(_copy(saved, tmp_path), custom) == (
        "Cannot resume from P: the optimizer differs: 'chain' in the checkpoint, a custom "
        "transformation for this run."
    )


def test_run_difference_refuses_a_description_that_is_not_a_table():
    assert run_difference([1, 2], {"batch_size": 16}) == "its run description is not a table"
    assert run_difference({"batch_size": 16}, {"batch_size": 16}) is None


def test_settings_equal_exactly_when_their_values_do():
    """A NumPy bool is a bool; more than 8 values, or any non-number, is kept as a hash; a
    long text as its head and hash; anything else by its type."""
    assert _setting(np.bool_(True)) is True
    big = np.arange(9.0)
    digest = hashlib.sha256(big.view(np.uint8)).hexdigest()
    assert _setting(big) == {"array_sha256": digest, "shape": [9]}
    texts = np.array(["a", "b"])
    assert _setting(texts) == {
        "array_sha256": hashlib.sha256(texts.reshape(-1).view(np.uint8)).hexdigest(),
        "shape": [2],
    }
    long = "x" * 1001
    assert _setting(long) == f"{'x' * 60}... (sha256 {hashlib.sha256(long.encode()).hexdigest()})"
    assert _setting(object()) == {"object": "object"}
    assert _setting(np.array([1, 2])) == {"array": [1, 2], "shape": [2]}


# ----------------------------------------------------------------------------- optimizer state

LAYOUT_DAMAGE = [
    (lambda m: _entry(m, "opt_state[1].count").update(path="opt_state[1].step"), "the optimizer state differs: 'opt_state[1].step' in the checkpoint where this run has opt_state[1].count"),
    (lambda m: _entry(m, "opt_state[1].count").update(kind="float"), "opt_state[1].count is a float in the checkpoint, an int for this run"),
    (lambda m: _entry(m, "opt_state[1]").update(kind="tuple"), "opt_state[1] is a tuple in the checkpoint, a 'ScaleByAdamState' for this run"),
    (lambda m: _entry(m, "opt_state[1].count").update(kind="namedtuple", type="Step"), "opt_state[1].count is a 'Step' in the checkpoint, an int for this run"),
    (lambda m: _entry(m, "opt_state[1].mu['theta']").update(colour=1), "opt_state[1].mu['theta'] is described with other entries than this run's"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), LAYOUT_DAMAGE)
def test_a_damaged_state_layout_is_refused(saved, tmp_path, change, expected):
    path = _copy(saved, tmp_path)
    _edit_json(path, change)
    assert _refused(path) == f"Cannot resume from P: {expected}."


def test_a_state_of_too_many_parts_is_refused_before_training(tmp_path):
    n = MAX_MEMBERS // 2
    huge = GradientTransformation(lambda params: (None,) * n, lambda g, s, p=None: (g, s))
    with pytest.raises(InvalidParameterError) as info:
        _train(huge, 2, checkpoint=tmp_path / "c.npz")
    assert str(info.value) == (
        f"This optimizer state has {n + 1} parts; a checkpoint holds at most {n} "
        "(descentlab.npz.MAX_MEMBERS). Train fewer different optimizers at once."
    )
    assert list(tmp_path.iterdir()) == []


def _tagged():
    """A custom transformation whose state holds a text: it is kept in the JSON."""
    return GradientTransformation(lambda params: ("tag",), lambda g, s, p=None: (g, s))


def test_a_text_leaf_round_trips_and_a_damaged_one_is_refused(tmp_path):
    path = _saved(tmp_path, _tagged(), epochs=3)
    assert _entry(read_checkpoint_meta(path), "opt_state[0]") == {
        "path": "opt_state[0]", "kind": "str", "value": "tag",
    }  # fmt: skip
    assert _train(_tagged(), 5, resume=path).opt_state == ("tag",)
    _edit_json(path, lambda m: _entry(m, "opt_state[0]").update(value=5))
    assert _refused(path, _tagged()) == "P is damaged: opt_state[0] must be a text; found 5."


def test_a_per_member_number_must_stay_finite(tmp_path):
    """reduce-on-plateau keeps one rate per member from its first observation on: a NaN
    there is damage."""
    opt = lambda: adam(reduce_on_plateau(0.05, patience=20))  # noqa: E731
    path = _saved(tmp_path, opt(), epochs=3)
    assert _entry(read_checkpoint_meta(path), "opt_state[2].learning_rate")["kind"] == "array"
    index = [e["path"] for e in read_checkpoint_meta(path)["opt_state"]].index(
        "opt_state[2].learning_rate"
    )
    _edit_npz(path, lambda a: a.__setitem__(f"opt_state/{index}", np.array([0.05, np.nan])))
    assert _refused(path, opt()) == (
        "P is damaged: opt_state[2].learning_rate holds nan, where this optimizer keeps finite "
        "numbers."
    )


def test_an_optimizer_moment_of_another_float_dtype_is_refused(saved, tmp_path):
    path = _copy(saved, tmp_path)
    _edit_npz(path, lambda a: a.__setitem__("opt_state/5", a["opt_state/5"].astype(np.float32)))
    assert _refused(path) == (
        "Cannot resume from P: opt_state[1].mu['theta']: float32 in the checkpoint, float64 "
        "for this run."
    )


# ----------------------------------------------------------------------------- the archive


def _no(key):
    return lambda a: a.pop(key)


def _set(key, value):
    return lambda a: a.__setitem__(key, value)


def _diverged_at_a_fine_cost(a):
    a["stopped_epoch"], a["diverged"] = np.array([4, -1]), np.array([True, False])


ARCHIVE_DAMAGE = [
    (_no("token"), "P is damaged: it has no token."),
    (_set("token", np.array(5)), "P is damaged: its token is not a short text."),
    (_set("token", np.array("x" * 65)), "P is damaged: its token is not a short text."),
    (_no("history/eval_epochs"), "P is damaged: it has no array 'history/eval_epochs'."),
    (_set("snapshots/W1", np.zeros((1, 2, 4, 2))), "P is damaged: it holds snapshots but no member has stopped."),
    (_set("eval_snapshots/b1", np.zeros((1, 2, 4, 1))), "P is damaged: it holds eval_snapshots but no member has stopped."),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), ARCHIVE_DAMAGE)
def test_a_damaged_archive_is_refused(saved, tmp_path, change, expected):
    path = _copy(saved, tmp_path)
    _edit_npz(path, change)
    assert _refused(path) == expected


def test_a_diverged_member_must_have_diverged(saved, tmp_path):
    path = _copy(saved, tmp_path)
    with np.load(path) as archive:
        cost = float(archive["history/cost"][4, 0])
    _edit_npz(path, _diverged_at_a_fine_cost)
    assert _refused(path) == (
        f"P is damaged: member 0 is marked diverged at epoch 4, where its cost {cost!r} was at "
        "most max_cost."
    )


def test_a_negative_validation_cost_is_refused(tmp_path):
    path = _saved(tmp_path, validation=(X_VAL, Y_VAL), eval_every=5)
    _edit_npz(path, lambda a: a.__setitem__("history/val_cost", -a["history/val_cost"]))
    assert _refused(path, validation=(X_VAL, Y_VAL), eval_every=5) == (
        "P is damaged: history/val_cost must hold costs >= 0."
    )


def test_generators_must_be_null_without_random_order(tmp_path):
    path = _saved(tmp_path, shuffle="none")
    _edit_json(path, lambda m: m.update(generators=[]))
    assert _refused(path, shuffle="none") == (
        "P is damaged: generators must be null for shuffle='none'."
    )


# ----------------------------------------------------------------------------- callbacks


class Silent:
    """A callback that keeps no state (so the checkpoint keeps None for it)."""

    def __call__(self, epoch, logs):
        return False


def _with_callbacks(tmp_path):
    path = _saved(tmp_path, callbacks=[Silent(), EarlyStopping(patience=50)])
    meta = read_checkpoint_meta(path)
    assert meta["callbacks"] == [{"index": 1, "arrays": ["best", "wait"]}]
    return path, "best"


def test_callback_arrays_round_trip_and_damaged_ones_are_refused(tmp_path):
    path, name = _with_callbacks(tmp_path)
    kwargs = {"callbacks": [Silent(), EarlyStopping(patience=50)]}
    assert _train(adam(0.01), 12, resume=path, **kwargs).history.n_epochs == 12
    _edit_json(path, lambda m: m["callbacks"][0].update(arrays=["../x"]))
    assert _refused(path, **kwargs) == (
        "P is damaged: a callback's arrays must be a list of names; found ['../x']."
    )
    _edit_json(path, lambda m: m["callbacks"][0].update(arrays=[name]))
    _edit_npz(path, _set(f"callbacks/1/{name}", np.zeros(3)))
    assert _refused(path, **kwargs) == (
        f"P is damaged: callbacks/1/{name} must have shape () or (2,); found (3,)."
    )
    _edit_npz(path, _no(f"callbacks/1/{name}"))
    assert _refused(path, **kwargs) == f"P is damaged: it has no array 'callbacks/1/{name}'."


def test_a_json_that_cannot_be_read_after_its_check_is_one_line(saved, tmp_path, monkeypatch):
    """The file is checked, then read: an error in between (removed, unreadable) is one line."""
    path = _copy(saved, tmp_path)

    def unreadable(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    message = _refused(path)
    assert "Permission denied" in message and "J" in message
