"""Edges of the core modules the rest of the suite does not reach: a warm-started per-member
optimizer on the compiled engine, a population that mixes schedule-free with reduce-on-plateau,
members stopped before their diagnostics, EarlyStopping's empty and damaged checkpoint state,
a schedule without ``steps_per_epoch`` in the estimator, landscape files too large or
unreadable, a sweep whose runs all diverge, labels that are not numbers, diagnostics panels
with nothing to draw, and a playground export the library refuses."""

from __future__ import annotations

import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():  # starlette's TestClient warns about httpx; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from descentlab._validation import DataError
from descentlab.cli import main
from descentlab.estimator import DescentClassifier
from descentlab.experiments.compare import landscape_images
from descentlab.experiments.results import read_results
from descentlab.nn import MLP
from descentlab.optimizers import nadam, schedule_free_sgd, sgd, stack_optimizers
from descentlab.playground import create_app
from descentlab.plots import plot_decision_boundaries, plot_diagnostics
from descentlab.schedules import reduce_on_plateau
from descentlab.training import EarlyStopping, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 40))
Y = (X[0] * X[1] > 0).astype(int)
NET = MLP((2, 3, 1))


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


# ----------------------------------------------------------------------------- engines


def test_a_population_warm_started_from_shared_settings_gets_per_member_state_on_both_engines():
    """Two members trained with one nadam b1 (mu_product is one float), then continued with a
    b1 each: both engines give each member its own mu_product, and the same numbers."""
    first = train(NET, nadam(0.05), X, Y, epochs=2, seed=[1, 2], batch_size=10, engine="numpy")
    assert np.ndim(first.opt_state[1].mu_product) == 0
    opt = nadam(0.05, b1=np.array([0.8, 0.95]))
    kw = dict(epochs=3, batch_size=10, shuffle="none", params=first.params,
              opt_state=first.opt_state)  # fmt: skip
    a = train(NET, opt, X, Y, engine="numpy", **kw)
    b = train(NET, opt, X, Y, engine="compiled", **kw)
    assert (a.engine, b.engine) == ("numpy", "compiled")
    mu_a, mu_b = a.opt_state[1].mu_product, b.opt_state[1].mu_product
    assert mu_a.shape == mu_b.shape == (2,) and mu_a[0] != mu_a[1]
    np.testing.assert_allclose(mu_b, mu_a, rtol=1e-12)
    for key in a.params:
        np.testing.assert_allclose(b.params[key], a.params[key], rtol=1e-12, atol=1e-14)


def _mixed():
    return [
        schedule_free_sgd(0.5),
        sgd(reduce_on_plateau(0.5, factor=0.5, patience=1, threshold=0.5)),
    ]


def test_schedule_free_and_reduce_on_plateau_in_one_population_equal_their_lone_runs():
    """The loss reaches only the plateau member's state, the evaluation point moves only the
    schedule-free member's parameters: each member trains as it would alone."""
    kw = dict(epochs=8, batch_size=10, shuffle="none", engine="numpy")
    both = train(NET, stack_optimizers(_mixed(), [1, 1]), X, Y, seed=[1, 2], **kw)
    alone = [train(NET, opt, X, Y, seed=s, **kw) for opt, s in zip(_mixed(), [1, 2], strict=True)]
    for k, lone in enumerate(alone):
        member = both.member(k)
        for key in lone.params:
            np.testing.assert_array_equal(member.params[key], lone.params[key])
            np.testing.assert_array_equal(member.resume_params[key], lone.resume_params[key])
        np.testing.assert_array_equal(member.history.learning_rate, lone.history.learning_rate)
    assert both.member(0).history.learning_rate.tolist() == [0.5] * 8
    assert both.member(1).history.learning_rate[-1] < 0.5  # the plateau did cut the rate


def test_diagnostics_of_a_member_stopped_before_an_evaluation_are_nan():
    def stop_second(epoch, logs):
        return np.array([False, True])  # member 1 stops after epoch 0

    kw = dict(epochs=5, eval_every=2, batch_size=10, engine="numpy", diagnostics=True)
    pop = train(NET, sgd(0.1), X, Y, seed=[1, 2], callbacks=[stop_second], **kw)
    lone = train(NET, sgd(0.1), X, Y, seed=1, **kw)
    assert pop.stopped_epoch.tolist() == [-1, 0]
    assert pop.history.eval_epochs.tolist() == [0, 1, 3, 4]
    d = pop.history.diagnostics
    assert np.isfinite(d["grad_norm"][0]).all()  # epoch 0: both still count
    for key, values in d.items():
        assert np.isnan(values[1:, 1]).all(), key
    for key in ("grad_norm", "noise_G2", "update_ratio_1", "update_ratio_2"):
        np.testing.assert_allclose(d[key][:, 0], lone.history.diagnostics[key], rtol=1e-12)


# ----------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_state_before_any_epoch_is_empty_and_restoring_it_starts_afresh():
    fresh, used = EarlyStopping("cost", patience=2), EarlyStopping("cost", patience=2)
    assert fresh.checkpoint_state() == {}
    assert used(0, {"cost": np.float64(1.0)}) is False
    assert not used(1, {"cost": np.float64(2.0)})  # one epoch without improving
    used.restore_checkpoint_state(fresh.checkpoint_state())
    assert used.best is None and used.wait is None and used.checkpoint_state() == {}
    # a first value again: no stop, whatever it is (the old best 1.0 is forgotten)
    assert used(2, {"cost": np.float64(5.0)}) is False
    assert not used(3, {"cost": np.float64(5.0)}) and used(4, {"cost": np.float64(5.0)})


def test_resuming_a_checkpoint_with_a_damaged_early_stopping_state_is_one_line(tmp_path):
    path, target = tmp_path / "run.npz", tmp_path / "new.npz"
    kw = dict(seed=[1, 2], batch_size=10, engine="numpy")
    train(NET, sgd(0.1), X, Y, epochs=3, checkpoint=path,
          callbacks=[EarlyStopping(patience=50)], **kw)  # fmt: skip
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    assert arrays["callbacks/0/wait"].dtype.kind == "i"
    arrays["callbacks/0/wait"] = np.array([0, -1])  # a negative count
    np.savez(path, **arrays)
    seen = []
    with pytest.raises(DataError) as caught:
        train(NET, sgd(0.1), X, Y, epochs=6, resume=path, checkpoint=target,
              callbacks=[EarlyStopping(patience=50)], on_epoch=lambda e, _: seen.append(e),
              **kw)  # fmt: skip
    assert str(caught.value) == (
        f"Cannot resume from '{path}': callback 0: the state of EarlyStopping must be 'best' "
        "(floats) and 'wait' (counts >= 0) of one shape; found ['best', 'wait']."
    )
    assert seen == [] and not target.exists()


# ----------------------------------------------------------------------------- estimator


def test_the_estimator_builds_a_named_schedule_without_steps_per_epoch_as_given():
    """cosine counts steps and takes no steps_per_epoch (it would refuse one): the estimator
    passes only schedule_params; 20 rows in batches of 8 are 3 steps per epoch."""
    rows = np.column_stack([np.linspace(-1, 1, 20), np.cos(np.arange(20))])
    labels = (rows[:, 0] > 0).astype(int)
    clf = DescentClassifier(hidden_layer_sizes=(3,), learning_rate=0.1, batch_size=8, epochs=3,
                            tol=None, schedule="cosine", schedule_params={"decay_steps": 12},
                            random_state=0)  # fmt: skip
    clf.fit(rows, labels)
    expected = [0.1 * (1 + math.cos(math.pi * t / 12)) / 2 for t in (0, 3, 6)]
    np.testing.assert_allclose(clf.history_.learning_rate, expected, rtol=1e-15)


# ----------------------------------------------------------------------------- run folders


def test_a_landscape_file_larger_than_64_mib_is_refused_unread(tmp_path):
    path = tmp_path / "landscape_slices.png"
    with path.open("wb") as f:  # sparse: no 64 MiB is written
        f.truncate(64 * 2**20 + 1)
    with pytest.raises(DataError) as caught:
        landscape_images(tmp_path)
    assert str(caught.value) == f"'{path}' is larger than 64 MiB: not a landscape."


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs /proc")
def test_a_landscape_file_that_stats_as_a_file_but_cannot_be_read_is_one_line(tmp_path):
    """A link to /proc/self/mem: a regular file of size 0 whose read fails (EIO), even as root."""
    path = tmp_path / "landscape_paths.png"
    path.symlink_to("/proc/self/mem")
    with pytest.raises(DataError) as caught:
        landscape_images(tmp_path)
    assert str(caught.value) == (
        f"Cannot read '{path}': Input/output error. Check that it is a readable file."
    )


# ----------------------------------------------------------------------------- sweep


@pytest.mark.parametrize(("lr", "diverges"), [("10000", True), ("0.01", False)])
def test_the_sweep_bar_shows_a_best_figure_only_when_a_run_has_a_finite_one(
    lr, diverges, tmp_path, monkeypatch, capsys
):
    """noisy-quadratic is a regression: the bar shows the lowest validation cost; with every
    run diverged (NaN costs) it shows none, rather than failing or showing nan."""
    terminal = FakeTTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "sweep"
    rc = main(["sweep", "--problem", "noisy-quadratic", "--optimizers", "gd", "--lr", lr,
               "--batch-size", "8", "--epochs", "1", "--seeds", "1", "--engine", "numpy",
               "--no-plots", "--out", str(out)])  # fmt: skip
    capsys.readouterr()
    assert rc == 0
    (row,) = read_results(out / "results.csv")
    bar = next(line for line in terminal.getvalue().split("\r") if "1/1" in line)
    if diverges:
        assert row["diverged"] == "true" and row["val_cost"] == "nan"
        assert "best_val" not in bar
    else:
        assert f"best_val_cost={float(row['val_cost']):.4g}]" in bar


# ----------------------------------------------------------------------------- plots


def test_decision_boundaries_refuse_labels_that_are_not_numbers():
    def predict(points):
        return (points[0] > 0).astype(int)

    names = np.where(Y == 1, "yes", "no")
    with pytest.raises(DataError) as caught:
        plot_decision_boundaries({"a": predict}, X, names, resolution=5)
    assert str(caught.value) == "y must hold class indices (numbers); got dtype <U3."


def test_diagnostics_panels_with_nothing_to_draw_have_no_legend():
    """Only sharpness and the gradient norm were measured (the rest missing or NaN)."""
    d = {"epoch": np.array([0, 5]), "sharpness": np.array([1.0, 2.0]),
         "grad_norm": np.array([0.3, 0.1]), "noise_scale": np.array([np.nan, np.nan])}  # fmt: skip
    fig = plot_diagnostics({"gd": d})
    sharp, grad, ratio, noise = fig.axes
    assert [t.get_text() for t in sharp.get_legend().get_texts()] == ["gd: sharpness"]
    assert [t.get_text() for t in grad.get_legend().get_texts()] == ["gd"]
    assert ratio.get_legend() is None and noise.get_legend() is None
    assert ratio.get_lines() == [] and noise.get_lines() == []


# ----------------------------------------------------------------------------- playground


def test_exporting_a_pair_the_library_refuses_is_a_one_line_422():
    """build_plan refuses schedule-free under reduce_on_plateau before training; the export
    builds no plan, and the experiment config refuses it instead."""
    body = {"epochs": 3, "schedule": {"name": "reduce_on_plateau"},
            "optimizers": [{"name": "schedule_free_sgd", "learning_rate": 0.1}]}  # fmt: skip
    app = create_app()
    try:
        with TestClient(app) as client:
            response = client.post("/api/export", json=body)
    finally:
        app.state.manager.stop_all("test over")
    assert response.status_code == 422
    error = response.json()
    assert error["field"] == "optimizers" and "\n" not in error["error"]
    assert error["error"] == (
        "optimizers: The 'learning_rate' parameter of schedule_free_sgd cannot be "
        "reduce_on_plateau(learning_rate=0.1, factor=0.1, patience=10, threshold=0.0001, "
        "threshold_mode='rel', cooldown=0, min_lr=0.0, eps=1e-08): the schedule-free average "
        "weights every step by its rate, which reduce_on_plateau does not know in advance. "
        "Use a constant rate or a schedule."
    )
