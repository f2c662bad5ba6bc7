"""The rare paths of the issue-12 tools, each reached the way a user or a hostile input
reaches it: the learning-rate finder when nothing trains (every rate diverged, a loss
infinite from the start, Ctrl-C) and when ``auto`` falls back; ``train``'s diagnostics
table (Adam's columns, JSON and quiet runs) and ``--resume --engine``; landscapes with too
few snapshots or no finite weights; damaged trajectory files; diagnostics of optimizers
without Adam."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import descentlab.compiled
from descentlab import diagnostics as dg
from descentlab.cli import main
from descentlab.datasets import Dataset, load_moons
from descentlab.experiments.compare import load_run_folder
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.lr_find import log_rates, lr_find, population_sweep
from descentlab.experiments.lr_find_plots import plot_lr_find
from descentlab.experiments.population import Run
from descentlab.experiments.run_folder import read_history_csv, write_models
from descentlab.model_file import load_model
from descentlab.nn import MLP
from descentlab.npz import MAX_MEMBERS, open_npz
from descentlab.optimizers import gd, momentum, stack_optimizers
from descentlab.problems import get_problem
from descentlab.training import train
from test_compiled import _custom  # a user's own gradient step (no recipe the library can read)


def run_cli(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------- lr-find


def test_lr_find_says_why_auto_trained_the_population_with_numpy(tmp_path, capsys, monkeypatch):
    """A run long enough for ``auto`` to want the compiled engine (the short-run threshold set
    to 0), on noisy-quadratic's MSE network, which the kernels do not cover: the population
    trains with numpy and stderr says why, in one line after the header."""
    monkeypatch.setattr(descentlab.compiled, "SHORT_RUN_SECONDS", 0.0)
    monkeypatch.setattr(descentlab.compiled, "SHORT_RUN_SECONDS_LOADED", 0.0)
    why = "the compiled engine does not support an MSE (linear-output) network."
    argv = ["lr-find", "--problem", "noisy-quadratic", "--rates", "3", "--epochs", "1",
            "--ramp-steps", "3"]  # fmt: skip
    rc, _, err = run_cli(capsys, [*argv, "--out", str(tmp_path / "lr")])
    assert rc == 0
    lines = err.splitlines()
    assert lines[0].startswith("descentlab lr-find: noisy-quadratic, adam; 3 rates")
    assert lines[1:] == [f"descentlab: engine auto: trained with numpy: {why}"]
    summary = json.loads((tmp_path / "lr" / "lr-find.json").read_text())
    assert (summary["engine"], summary["engine_note"]) == ("numpy", why)


def test_lr_find_prints_no_suggestion_when_every_rate_diverges(tmp_path, capsys):
    """gd at rates 1000 to 10000 on the seed's moons: every member's cost passes the engine's
    divergence bound, so the finder suggests nothing and says why."""
    out = tmp_path / "lr"
    rc, stdout, _ = run_cli(
        capsys,
        ["lr-find", "--optimizer", "gd", "--min-lr", "1000", "--max-lr", "10000", "--rates",
         "3", "--epochs", "2", "--ramp-steps", "10", "--engine", "numpy", "--out", str(out),
         "-q"],
    )  # fmt: skip
    assert rc == 0
    lines = stdout.splitlines()
    assert lines[1].split() == ["population", "none", "minimum", "every", "rate", "diverged:",
                                "try", "smaller", "rates."]  # fmt: skip
    assert "3 diverged" in lines[4]
    assert lines[5] == "suggested learning rate: none (every rate diverged: try smaller rates.)"
    summary = json.loads((out / "lr-find.json").read_text())
    assert summary["suggestion"] == {
        "learning_rate": None,
        "rule": "minimum",
        "description": "every rate diverged: try smaller rates.",
    }
    assert summary["n_diverged"] == 3
    assert (out / "lr-find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _huge_targets(scale: float) -> ExperimentData:
    """Regression targets of size ``scale``: half their mean square overflows to inf at
    once (1e200), or after the first gd step (1e150)."""
    X = np.random.default_rng(0).standard_normal((2, 40))
    return ExperimentData(train=Dataset("huge", X, scale * X[0], task="regression"))


GD_RUN = Run("gd", {"learning_rate": 0.01}, layers=(3,), epochs=2, batch_size=20)
TINY = dict(n_rates=3, ramp_steps=5, min_lr=1e-3, max_lr=0.1, engine="numpy")


def _legend(fig) -> list[str]:
    return fig.axes[0].get_legend_handles_labels()[1]


def test_a_loss_infinite_from_the_start_suggests_nothing_and_the_figure_still_draws():
    data = _huge_targets(1e200)
    found = lr_find(GD_RUN, data, ramp_rule="minimum", **TINY)
    assert found.population.diverged.all()
    assert found.ramp.loss.tolist() == [np.inf]
    assert found.ramp.stopped == "the loss became inf at step 0"
    assert found.suggestion.learning_rate is None
    assert (found.ramp_suggestion.learning_rate, found.ramp_suggestion.description) == (
        None,
        "the ramp recorded no finite loss.",
    )
    steepest = lr_find(GD_RUN, data, **TINY).ramp_suggestion
    assert (steepest.learning_rate, steepest.description) == (
        None,
        "the ramp recorded fewer than two finite losses.",
    )
    fig = plot_lr_find(found)
    assert fig.axes[0].get_ylim() == pytest.approx((0.0, 1.04))  # nothing finite to frame
    assert not [label for label in _legend(fig) if "suggests" in label]  # no rate to mark
    assert _legend(fig)[-1] == "diverged"


def test_a_ramp_with_one_finite_loss_has_no_steepest_fall():
    """Targets of 1e150: the loss at step 0 is finite (1.5e299), the one after the first
    step is inf. ``minimum`` still takes that one point; only the ramp's rate is marked."""
    data = _huge_targets(1e150)
    found = lr_find(GD_RUN, data, **TINY)
    assert found.ramp.stopped == "the loss became inf at step 1"
    assert np.isfinite(found.ramp.loss).tolist() == [True, False]
    assert (found.ramp_suggestion.rule, found.ramp_suggestion.learning_rate) == ("steepest", None)
    assert found.ramp_suggestion.description == "the ramp recorded fewer than two finite losses."
    found = lr_find(GD_RUN, data, ramp_rule="minimum", **TINY)
    assert found.ramp_suggestion.learning_rate == 1e-3 / 10
    fig = plot_lr_find(found)
    assert [label for label in _legend(fig) if "suggests" in label] == [
        "ramp suggests 0.0001 (minimum)"
    ]
    low, high = fig.axes[0].get_ylim()
    assert low < found.ramp.loss[0] < high  # framed by the one finite loss


@pytest.fixture
def ctrl_c_after_the_first_epoch(monkeypatch):
    """Ctrl-C arrives while the population trains, after its epoch 0."""
    from descentlab.experiments import population as population_module

    real = population_module.train

    def interrupted(*args, on_epoch=None, **kwargs):
        def hook(epoch, logs):
            if on_epoch is not None:
                on_epoch(epoch, logs)
            raise KeyboardInterrupt

        return real(*args, on_epoch=hook, **kwargs)

    monkeypatch.setattr(population_module, "train", interrupted)


def test_ctrl_c_during_the_population_stops_the_finder(
    ctrl_c_after_the_first_epoch, tmp_path, capsys
):
    problem = get_problem("seed-moons")
    with pytest.raises(KeyboardInterrupt):
        population_sweep(
            problem.run("adam", {}, seed=0, epochs=5), problem.data(), log_rates(1e-3, 1.0, 3)
        )
    out = tmp_path / "lr"
    rc, stdout, err = run_cli(
        capsys, ["lr-find", "--rates", "3", "--epochs", "5", "--out", str(out), "-q"]
    )
    assert (rc, stdout, err) == (130, "", "descentlab: interrupted\n")
    assert not out.exists()  # the finder keeps nothing


# ----------------------------------------------------------------------------- train


def test_train_diagnostics_table_has_adams_columns(tmp_path, capsys):
    model = tmp_path / "m.npz"
    rc, out, _ = run_cli(
        capsys,
        ["train", "--optimizer", "adam", "--epochs", "4", "--eval-every", "2", "--diagnostics",
         "--out", str(model)],
    )  # fmt: skip
    assert rc == 0
    lines = out.splitlines()
    start = lines.index("") + 3  # the results table, a blank line, the model, a blank line
    header = "epoch  grad norm  sharpness  2/lr  P^-1 H  Adam limit  noise scale  batch"
    assert lines[start] == header
    cols = read_history_csv(tmp_path / "m.history.csv")["adam"]
    evaluated = np.flatnonzero(np.isfinite(cols["diag_grad_norm"]))
    assert evaluated.tolist() == [0, 1, 3]
    keys = ["grad_norm", "sharpness", "sharpness_threshold", "precond_sharpness",
            "precond_threshold", "noise_scale", "suggested_batch"]  # fmt: skip
    for line, i in zip(lines[start + 1 : start + 4], evaluated, strict=True):
        assert line.split() == [str(i), *(f"{cols['diag_' + k][i]:.4g}" for k in keys)]
    assert cols["diag_precond_threshold"][0] == pytest.approx(3.8 / 0.1 / 0.0007)
    history = tmp_path / "m.history.csv"
    assert lines[start + 4] == f"Diagnostics (history with diag_* columns): {history}"


@pytest.mark.parametrize("flag", [["--format", "json"], ["-q"]])
def test_train_diagnostics_are_written_but_not_printed_with_json_or_quiet(tmp_path, capsys, flag):
    model = tmp_path / "m.npz"
    rc, out, _ = run_cli(
        capsys,
        ["train", "--optimizer", "adam", "--epochs", "3", "--diagnostics", *flag, "--out",
         str(model)],
    )  # fmt: skip
    assert rc == 0
    assert "Diagnostics" not in out and "sharpness" not in out
    if flag[0] == "--format":
        assert json.loads(out)["model"] == str(model)  # nothing but the JSON
    cols = read_history_csv(tmp_path / "m.history.csv")["adam"]
    assert np.isfinite(cols["diag_precond_sharpness"][[0, 2]]).all()


def test_resume_with_engine_trains_the_rest_with_that_engine(tmp_path, capsys, monkeypatch):
    """The first 20 epochs ran under ``auto`` (numpy for so short a run); ``--resume
    --engine compiled`` trains the rest compiled and saves that engine in config.toml."""
    monkeypatch.chdir(tmp_path)
    small = ["--epochs", "20", "--eval-every", "15", "--checkpoint-every", "10", "-q"]
    assert run_cli(capsys, ["train", *small, "--out", "B"])[0] == 0
    assert load_model(tmp_path / "B/model.npz").meta["summary"]["engine"] == "numpy"
    assert 'engine = "auto"' in (tmp_path / "B/config.toml").read_text().splitlines()
    rc, _, err = run_cli(
        capsys, ["train", "--resume", "B", "--epochs", "30", "--engine", "compiled", "-q"]
    )
    assert (rc, err) == (0, "")
    summary = load_model(tmp_path / "B/model.npz").meta["summary"]
    assert (summary["engine"], summary["epochs_run"]) == ("compiled", 30)
    assert 'engine = "compiled"' in (tmp_path / "B/config.toml").read_text().splitlines()


# ----------------------------------------------------------------------------- landscapes


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory):
    """The seed's study, 10 epochs, weights saved every 10 epochs: snapshots at 0 and 10."""
    folder = tmp_path_factory.mktemp("edges") / "run"
    argv = ["compare", "--epochs", "10", "--save-trajectory", "10", "--out", str(folder), "-q"]
    assert main(argv) == 0
    return folder


@pytest.fixture
def folder(two_snapshots, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(two_snapshots, copy)
    return copy


def test_landscape_with_two_snapshots_draws_slices_only_and_says_why(folder, capsys):
    rc, out, _ = run_cli(capsys, ["landscape", str(folder), "--grid", "3"])
    assert rc == 0
    lines = out.splitlines()
    assert [line.split()[-2:] for line in lines[1:4]] == [["-", "-"]] * 3  # no snapshots, PCA
    assert lines[4] == (
        "note: trajectory.npz holds 2 snapshots; a PCA plane needs 3 or more (save them more "
        "often): slices only, no paths."
    )
    assert lines[5] == f"Wrote landscape.npz, landscape_slices.png, report.html in {folder}"
    assert not (folder / "landscape_paths.png").exists()
    with open_npz(folder / "landscape.npz") as archive:
        assert "run0/slice_losses" in archive and "run0/path" not in archive


def test_landscape_refuses_a_run_whose_every_optimizer_has_non_finite_weights(folder, capsys):
    (folder / "trajectory.npz").unlink()
    run = load_run_folder(folder)
    nan = {k: np.full_like(v, np.nan) for k, v in run.params["gd"].items()}
    write_models(folder / "models.npz", [(label, nan) for label in run.params])
    before = _snapshot(folder)
    rc, out, err = run_cli(capsys, ["landscape", str(folder), "--grid", "3"])
    assert (rc, out) == (2, "")
    assert err == f"descentlab: error: '{folder}' has no optimizer with finite weights to draw.\n"
    assert _snapshot(folder) == before


SHAPES = "W1 (2, 5, 2), b1 (2, 5, 1), W2 (2, 2, 5), b2 (2, 2, 1), W3 (2, 1, 2), b3 (2, 1, 1)"
DAMAGED = "is damaged: the parameters of {!r} do not fit the network ({})."


def _extra_run(a):
    a["run3/W1"] = a["run0/W1"]  # a fourth optimizer that labels does not name


def _wrong_shape(a):
    a["run1/W2"] = np.zeros((2, 5, 2))


def _integer_weights(a):
    a["run0/b1"] = a["run0/b1"].astype(np.int64)


def _missing_leaf(a):
    del a["run2/b3"]


def _no_epochs(a):
    del a["epochs"]


def _epochs(value):
    def damage(a):
        a["epochs"] = value

    return damage


TRAJECTORY_DAMAGE = [
    (_extra_run, "holds an unknown array 'run3/W1'."),
    (_wrong_shape, DAMAGED.format("momentum", SHAPES)),
    (_integer_weights, DAMAGED.format("gd", SHAPES)),
    (_missing_leaf, DAMAGED.format("adam", SHAPES)),
    (_no_epochs, "is not a descentlab trajectory file (no epochs)."),
    (
        _epochs(np.array([0.0, 10.0])),
        f"is damaged: epochs must be 1 to {MAX_MEMBERS} whole numbers; found float64 of shape (2,).",
    ),
    (
        _epochs(np.zeros((1, 2), np.int64)),
        f"is damaged: epochs must be 1 to {MAX_MEMBERS} whole numbers; found int64 of shape (1, 2).",
    ),
    (
        _epochs(np.zeros(0, np.int64)),
        f"is damaged: epochs must be 1 to {MAX_MEMBERS} whole numbers; found int64 of shape (0,).",
    ),
    (_epochs(np.array([10, 0])), "is damaged: epochs must increase from 0 or more."),
    (_epochs(np.array([0, 0])), "is damaged: epochs must increase from 0 or more."),
    (_epochs(np.array([-10, 10])), "is damaged: epochs must increase from 0 or more."),
]


@pytest.mark.parametrize(("damage", "message"), TRAJECTORY_DAMAGE)
def test_a_damaged_trajectory_is_refused_in_one_line(folder, capsys, damage, message):
    path = folder / "trajectory.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    damage(arrays)
    np.savez(path, **arrays)
    before = _snapshot(folder)
    rc, out, err = run_cli(capsys, ["landscape", str(folder), "--grid", "3"])
    assert (rc, out) == (2, "")
    assert err == f"descentlab: error: '{path}' {message}\n"
    assert _snapshot(folder) == before


# ----------------------------------------------------------------------------- diagnostics


@pytest.fixture(scope="module")
def moons():
    ds = load_moons()
    return ds.X, ds.y


def test_diagnostics_of_a_custom_transformation_have_no_adam_figures(moons):
    X, y = moons
    kw = dict(epochs=3, eval_every=1, seed=1, diagnostics=True, engine="numpy")
    r = train(MLP((2, 5, 2, 1)), _custom(), X, y, **kw)
    assert dg.adam_preconditioner(_custom(), r.opt_state) is None
    d = r.history.diagnostics
    assert np.isnan(d["precond_sharpness"]).all() and np.isnan(d["precond_threshold"]).all()
    assert np.isfinite(d["sharpness"]).all() and np.isfinite(d["grad_norm"]).all()
    # the same gradient step as gd(0.1): the same sharpness, measured at the same weights
    plain = train(MLP((2, 5, 2, 1)), gd(0.1), X, y, **kw).history.diagnostics
    np.testing.assert_allclose(d["sharpness"], plain["sharpness"], rtol=1e-12)


def test_diagnostics_of_a_stack_without_adam_have_no_adam_figures(moons):
    """gd and momentum as one population (what compare trains): no block has Adam."""
    X, y = moons
    opt = stack_optimizers([gd(0.1), momentum(0.1)], [1, 1])
    r = train(MLP((2, 5, 2, 1)), opt, X, y, epochs=3, eval_every=1, seed=[1, 2],
              diagnostics=True, engine="numpy")  # fmt: skip
    assert dg.adam_preconditioner(opt, r.opt_state) is None
    d = r.history.diagnostics
    assert d["precond_sharpness"].shape == (3, 2)
    assert np.isnan(d["precond_sharpness"]).all() and np.isnan(d["precond_threshold"]).all()
    assert np.isfinite(d["sharpness"]).all()
    np.testing.assert_array_equal(d["sharpness_threshold"], np.full((3, 2), 2 / 0.1))
