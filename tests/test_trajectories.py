"""Optimizer trajectories: closed forms, convergence, divergence, pictures, the SGD picture, CLI."""

import argparse
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli.trajectories import (
    add_parser,
    parse_optimizer_spec,
    parse_point,
    parse_spec,
    run,
)
from descentlab.optimizers import adam, gd, momentum
from descentlab.optimizers.base import EmptyState, GradientTransformation
from descentlab.schedules import get_schedule
from descentlab.surfaces import (
    SURFACES,
    Himmelblau,
    IllConditionedQuadratic,
    LinearRegressionCost,
    Rosenbrock,
    Saddle,
)
from descentlab.trajectories import (
    _batch_grad_fn,
    animate_trajectories,
    compare_trajectories,
    default_figsize,
    make_regression_data,
    noise_paths,
    plot_noise_paths,
    plot_trajectories,
    run_trajectory,
    save_figure,
)

SMALL = {"figsize": (3.0, 3.5), "dpi": 40, "resolution": 60}  # fast pictures for tests


def total_variation(path):
    """The length of the polyline: sum_t ||theta_{t+1} - theta_t||."""
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


# --------------------------------------------------------------------------------- trajectories


def test_gd_on_the_quadratic_is_the_closed_form_bit_for_bit():
    """kappa = 2, lr = 0.5: x_t = (1 - 0.5)^t x_0 (exact halvings), y_t = (1 - 1)^t y_0 = 0."""
    traj = run_trajectory(IllConditionedQuadratic(2.0), gd(0.5), (-8.0, 3.0), 40)
    t = np.arange(41)
    expected = np.stack([-8.0 * 0.5**t, np.where(t == 0, 3.0, 0.0)], axis=-1)
    np.testing.assert_array_equal(traj.path, expected)
    np.testing.assert_array_equal(
        traj.losses, 0.5 * (expected[:, 0] ** 2 + 2 * expected[:, 1] ** 2)
    )
    assert traj.n_steps == 40 and not traj.diverged


@pytest.mark.parametrize(("kappa", "lr"), [(10.0, 0.17), (10.0, 0.05), (100.0, 0.0199), (1.0, 1.3)])
def test_gd_on_the_quadratic_matches_x_t_equals_1_minus_lr_lambda_to_the_t(kappa, lr):
    x0 = np.array([-9.0, 4.0])
    traj = run_trajectory(IllConditionedQuadratic(kappa), gd(lr), x0, 60)
    t = np.arange(61)[:, None]
    expected = (1.0 - lr * np.array([1.0, kappa])) ** t * x0
    np.testing.assert_allclose(traj.path, expected, rtol=1e-12, atol=1e-300)
    if lr * kappa > 1:  # the zig-zag: y changes sign at every step
        assert np.all(np.sign(traj.path[1:, 1]) == -np.sign(traj.path[:-1, 1]))


def test_adam_reaches_rosenbrocks_minimum():
    """Adam, lr = 0.05, 2000 steps from (-1.5, 2): within 1e-4 of (1, 1), loss below 1e-9."""
    s = Rosenbrock()
    traj = run_trajectory(s, adam(0.05), (-1.5, 2.0), 2000)
    assert np.linalg.norm(traj.path[-1] - [1.0, 1.0]) < 1e-4
    assert traj.final_loss < 1e-9
    assert not traj.diverged
    # ... where plain gd with its largest stable rate is still far away: the point of the picture.
    assert run_trajectory(s, gd(1e-3), (-1.5, 2.0), 2000).final_loss > 0.1


def test_divergence_stops_early_and_keeps_the_finite_path():
    """lr = 0.5 > 2 / kappa: y_t = (1 - 5)^t y_0 overflows; the run stops there, no warning."""
    q = IllConditionedQuadratic(10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = run_trajectory(q, gd(0.5), (1.0, 1.0), 1000)
    assert traj.diverged
    n = traj.n_steps
    assert 200 < n < 1000
    assert np.all(np.isfinite(traj.path)) and np.all(np.isfinite(traj.losses))
    t = np.arange(n + 1)
    np.testing.assert_allclose(traj.path[:, 1], (-4.0) ** t, rtol=1e-12)
    # The kept path ends at the last point whose loss is finite.
    with np.errstate(over="ignore"):
        assert np.isinf(q.f(np.array([0.5 ** (n + 1), (-4.0) ** (n + 1)])))


def test_saddle_escape_to_minus_infinity_is_divergence():
    traj = run_trajectory(Saddle(), gd(0.5), (-1.0, 1e-3), 5000)
    assert traj.diverged and traj.n_steps < 5000
    assert traj.losses[-1] < -1e300 and np.all(np.diff(traj.losses[1:]) < 0)


def test_non_finite_gradient_is_divergence():
    q = IllConditionedQuadratic()
    traj = run_trajectory(
        q,
        gd(0.1),
        (2.0, 0.0),
        10,
        grad_fn=lambda t, xy: q.grad(xy) if t < 3 else np.array([np.nan, 0]),
    )
    assert traj.diverged and traj.n_steps == 3
    np.testing.assert_allclose(traj.path[:, 0], 2.0 * 0.9 ** np.arange(4), rtol=1e-14)


def test_params_given_to_the_optimizer_are_a_dict_with_xy():
    seen = []

    def update(grads, state, params=None):
        seen.append((sorted(grads), grads["xy"].shape, sorted(params), params["xy"].shape))
        return {"xy": -0.25 * grads["xy"]}, state

    spy = GradientTransformation(lambda p: EmptyState(), update)
    traj = run_trajectory(Himmelblau(), spy, (0.0, 0.0), 2)
    assert seen == [(["xy"], (2,), ["xy"], (2,))] * 2
    np.testing.assert_allclose(traj.path[1], [0.0, 0.0] - 0.25 * Himmelblau().grad(np.zeros(2)))


def test_zero_steps_and_defaults():
    s = SURFACES["beale"]
    traj = run_trajectory(s, gd(0.01), steps=0)
    assert traj.path.shape == (1, 2) and traj.path[0].tolist() == list(s.start)
    assert traj.losses.tolist() == [float(s.f(np.array(s.start)))]
    assert run_trajectory(s, gd(1e-3)).n_steps == s.steps


def test_compare_runs_each_optimizer_from_the_same_start():
    s = Himmelblau()
    opts = {"gd": gd(0.01), "momentum": momentum(0.01), "adam": adam(0.1)}
    paths = compare_trajectories(s, opts, (0.5, -0.5), 40)
    assert list(paths) == ["gd", "momentum", "adam"]
    for name, opt in opts.items():
        single = run_trajectory(s, opt, (0.5, -0.5), 40)
        np.testing.assert_array_equal(paths[name].path, single.path)
        assert paths[name].path[0].tolist() == [0.5, -0.5]


def test_a_schedule_as_learning_rate():
    """Exponential decay on the quadratic: x_{t+1} = (1 - alpha_0 gamma^t) x_t."""
    sched = get_schedule("exponential", learning_rate=0.5, gamma=0.5)
    traj = run_trajectory(IllConditionedQuadratic(1.0), gd(sched), (1.0, 2.0), 5)
    factors = np.cumprod([1.0, *(1.0 - 0.5 * 0.5 ** np.arange(5))])
    np.testing.assert_allclose(traj.path, factors[:, None] * [1.0, 2.0], rtol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "adam"}, InvalidParameterError, "must be a GradientTransformation"),
        ({"steps": -1}, InvalidParameterError, r"'steps' parameter of run_trajectory"),
        ({"steps": 2.5}, InvalidParameterError, "'steps'"),
        ({"start": (1.0, 2.0, 3.0)}, DataError, r"start must be two finite numbers"),
        ({"start": (np.nan, 0.0)}, DataError, "start must be two finite numbers"),
    ],
)
def test_run_trajectory_errors(kwargs, error, match):
    args = {"surface": Rosenbrock(), "optimizer": gd(0.1), "start": None, "steps": 3, **kwargs}
    with pytest.raises(error, match=match):
        run_trajectory(**args)


# --------------------------------------------------------------------------------- pictures


def _legend_texts(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_plot_writes_a_png_of_the_expected_size(tmp_path):
    s = Himmelblau()
    paths = compare_trajectories(s, {"gd": gd(0.01), "adam": adam(0.1)}, None, 30)
    fig = plot_trajectories(s, paths, figsize=(6.0, 5.0), dpi=50, resolution=80)
    out = save_figure(fig, tmp_path / "h.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (300, 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.png"]  # no temporary left
    texts = _legend_texts(fig)
    assert texts[0] == f"gd: loss {paths['gd'].final_loss:.3g}, 30 steps"
    assert texts[1] == f"adam: loss {paths['adam'].final_loss:.3g}, 30 steps"
    assert texts[2:] == ["start", "minimum (f = 0)"]
    ax = fig.axes[0]
    assert ax.get_xlim() == (-5.0, 5.0) and ax.get_ylim() == (-5.0, 5.0)
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert len(stars) == 1
    np.testing.assert_array_equal(np.c_[stars[0].get_xdata(), stars[0].get_ydata()], s.minima)
    np.testing.assert_array_equal(ax.get_lines()[0].get_xydata(), paths["gd"].path)


def test_default_figure_size_follows_the_window(tmp_path):
    q = IllConditionedQuadratic()
    assert default_figsize(q) == (7.0, 1.9 + 5.4 * 0.5)
    path = run_trajectory(q, gd(q.lr), steps=5)
    out = save_figure(plot_trajectories(q, {"gd": path.path}, resolution=40), tmp_path / "q.png")
    with Image.open(out) as im:
        assert im.size == (700, round(100 * (1.9 + 2.7)))


def test_plot_marks_diverged_paths_and_saddle_points():
    s = Saddle()
    paths = {"gd": run_trajectory(s, gd(0.5), (-1.0, 1e-3), 5000)}
    fig = plot_trajectories(s, paths, **SMALL)
    texts = _legend_texts(fig)
    assert texts[0].endswith("(diverged)") and texts[-1] == "saddle point"
    assert fig.axes[0].get_xlim() == (-2.0, 2.0)  # the escaping path is clipped


def test_plot_errors(tmp_path):
    s = Rosenbrock()
    with pytest.raises(DataError, match=r"The path 'x' must have shape \(n \+ 1, 2\)"):
        plot_trajectories(s, {"x": np.zeros((4, 3))})
    fig = plot_trajectories(s, {"x": np.zeros((2, 2))}, **SMALL)
    with pytest.raises(DataError, match="does not exist"):
        save_figure(fig, tmp_path / "missing" / "a.png")


def test_gif_has_the_expected_number_of_frames(tmp_path):
    s = Himmelblau()
    paths = compare_trajectories(s, {"gd": gd(0.01), "adam": adam(0.1)}, None, 29)
    out = animate_trajectories(s, paths, tmp_path / "a.gif", max_frames=12, **SMALL)
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 12 and im.size == (120, 140)
    short = {"gd": run_trajectory(s, gd(0.01), None, 4)}  # 5 points < max_frames
    with Image.open(animate_trajectories(s, short, tmp_path / "b.gif", **SMALL)) as im:
        assert im.n_frames == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "b.gif"]


# --------------------------------------------------------------------------------- SGD picture


def test_sgd_oscillates_more_than_mini_batch_more_than_batch_gd():
    noise = noise_paths(m=64, batch_size=8, steps=150, learning_rate=0.1, seed=0)
    tv = {k: total_variation(t.path) for k, t in noise.paths.items()}
    batch, mini, sgd = tv["batch GD"], tv["mini-batch GD (B=8)"], tv["SGD (B=1)"]
    assert sgd > 1.5 * mini > 1.5 * batch  # measured: 13.1, 6.7, 3.7
    # Batch GD is the deterministic full-gradient path and gets closest to the minimum.
    cost = noise.cost
    np.testing.assert_array_equal(
        noise.paths["batch GD"].path, run_trajectory(cost, gd(0.1), None, 150).path
    )
    final = {k: float(cost.distance_to_minimum(t.path[-1])) for k, t in noise.paths.items()}
    assert final["batch GD"] < 0.02 and final["SGD (B=1)"] < 0.5
    assert noise.batch_sizes == {"batch GD": 64, "mini-batch GD (B=8)": 8, "SGD (B=1)": 1}


def test_noise_paths_are_reproducible_from_the_seed():
    a, b = noise_paths(steps=20, seed=3), noise_paths(steps=20, seed=3)
    c = noise_paths(steps=20, seed=4)
    for k in a.paths:
        np.testing.assert_array_equal(a.paths[k].path, b.paths[k].path)
    assert not np.array_equal(a.paths["SGD (B=1)"].path, c.paths["SGD (B=1)"].path)
    X, Y = make_regression_data(64, 3)
    assert X.shape == Y.shape == (1, 64)
    np.testing.assert_array_equal(a.cost.X, X)


def test_each_epoch_of_mini_batches_covers_every_example_once():
    X, Y = make_regression_data(20, 1)
    cost = LinearRegressionCost(X, Y)
    used = []

    class Spy(LinearRegressionCost):
        def grad_on(self, xy, examples):
            used.append(np.asarray(examples))
            return super().grad_on(xy, examples)

    grad = _batch_grad_fn(Spy(X, Y), 6, np.random.default_rng(0))
    for t in range(12):  # 3 epochs of batches 6, 6, 6, 2
        grad(t, np.zeros(2))
    assert [len(u) for u in used] == [6, 6, 6, 2] * 3
    for e in range(3):
        assert sorted(np.concatenate(used[4 * e : 4 * e + 4]).tolist()) == list(range(20))
    assert cost.m == 20


def test_noise_picture_and_errors(tmp_path):
    noise = noise_paths(steps=30)
    fig = plot_noise_paths(noise, **SMALL)
    assert [t.split(":")[0] for t in _legend_texts(fig)[:3]] == [
        "batch GD", "mini-batch GD (B=8)", "SGD (B=1)",
    ]  # fmt: skip
    assert fig.axes[0].get_xlabel() == "w" and fig.axes[0].get_ylabel() == "b"
    with pytest.raises(InvalidParameterError, match=r"'batch_size'.*smaller than m=64"):
        noise_paths(batch_size=64)
    with pytest.raises(InvalidParameterError, match="'batch_size'"):
        noise_paths(batch_size=0)


# --------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gd,momentum,adam", [("gd", {}), ("momentum", {}), ("adam", {})]),
        ("adam:lr=0.05,b1=0.9", [("adam", {"learning_rate": 0.05, "b1": 0.9})]),
        (
            " gd:lr=1 , adam:learning_rate=1e-3,amsgrad=true,b2=0.99, sgd:momentum=0.9,nesterov=False",
            [
                ("gd", {"learning_rate": 1}),
                ("adam", {"learning_rate": 1e-3, "amsgrad": True, "b2": 0.99}),
                ("sgd", {"momentum": 0.9, "nesterov": False}),
            ],
        ),
        ("momentum:beta=0.8,rmsprop", [("momentum", {"beta": 0.8}), ("rmsprop", {})]),
    ],
)
def test_parse_optimizer_spec(text, expected):
    parsed = parse_optimizer_spec(text)
    assert parsed == expected
    for (_, got), (_, want) in zip(parsed, expected, strict=True):
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "must name at least one item"),
        ("gd,,adam", r"empty item in 'gd,,adam' \(two commas\?\)"),
        ("lr=0.1", "the setting 'lr=0.1' belongs to no name"),
        ("gd,lr=0.1", r"'lr=0.1' after 'gd' belongs to no name; write name:lr=0.1"),
        ("adam:", "has a colon but no key=value"),
        ("adam:lr", r"cannot read the setting 'lr' of 'adam'; expected key=value"),
        ("adam:lr=", "cannot read the setting 'lr=' of 'adam'"),
        ("adam:lr=0.1,learning_rate=0.2", "'learning_rate' of 'adam' is given twice"),
        ("9x", "'9x' is not a valid name"),
    ],
)
def test_parse_optimizer_spec_errors(text, match):
    with pytest.raises(InvalidParameterError, match=f"^--optimizers.*{match}" if text else match):
        parse_optimizer_spec(text)


def test_parse_point_and_spec_for_other_options():
    assert parse_point("-1.5,2") == (-1.5, 2.0)
    assert parse_point(" 3 , 4e-1 ") == (3.0, 0.4)
    for bad in ("1", "1,2,3", "a,b", "nan,1", "1,inf"):
        with pytest.raises(InvalidParameterError, match=r"--start must be two finite numbers X,Y"):
            parse_point(bad)
    assert parse_spec("quadratic:condition_number=50", "--function") == [
        ("quadratic", {"condition_number": 50})
    ]


def _parser():
    parser = argparse.ArgumentParser(prog="descentlab")
    add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_add_parser_defaults_and_options():
    args = _parser().parse_args(["trajectories"])
    assert (args.function, args.optimizers, args.lr, args.steps, args.start) == (
        "rosenbrock", "gd,momentum,adam", None, None, None,
    )  # fmt: skip
    assert (args.schedule, args.out, args.animate, args.noise, args.quiet) == (
        None, None, False, False, False,
    )  # fmt: skip
    assert args.func is run
    args = _parser().parse_args(
        ["trajectories", "--function", "beale", "--optimizers", "adam:lr=0.05,b1=0.9", "--lr",
         "0.01", "--steps", "20", "--start=-1.5,2", "--schedule", "exponential:gamma=0.9",
         "--out", "x.png", "--animate", "--noise", "--quiet"]
    )  # fmt: skip
    assert (args.function, args.optimizers, args.lr, args.steps, args.start) == (
        "beale", "adam:lr=0.05,b1=0.9", 0.01, 20, "-1.5,2",
    )  # fmt: skip
    assert (args.schedule, args.out, args.animate, args.noise, args.quiet) == (
        "exponential:gamma=0.9", "x.png", True, True, True,
    )  # fmt: skip


def _run(argv):
    out = io.StringIO()
    assert run(_parser().parse_args(["trajectories", *argv]), stdout=out) == 0
    return out.getvalue()


def test_cli_writes_png_gif_and_a_table(tmp_path):
    png = tmp_path / "h.png"
    text = _run(
        ["--function", "himmelblau", "--optimizers", "gd,adam:lr=0.1", "--steps", "12",
         "--start=0.5,-0.5", "--out", str(png), "--animate"]
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[:2] == [f"wrote {png}", f"wrote {png.with_suffix('.gif')}"]
    assert lines[2].split() == "optimizer final loss steps distance to nearest minimum".split()
    s = Himmelblau()
    for line, (label, opt) in zip(
        lines[3:], [("gd", gd(s.lr)), ("adam (lr=0.1)", adam(0.1))], strict=True
    ):
        traj = run_trajectory(s, opt, (0.5, -0.5), 12)
        dist = float(s.distance_to_minimum(traj.path[-1]))
        assert line.split() == [*label.split(), f"{traj.final_loss:.6g}", "12", f"{dist:.4g}"]
    with Image.open(png) as im:
        assert im.format == "PNG"
    with Image.open(png.with_suffix(".gif")) as im:
        assert im.n_frames == 13


def test_cli_defaults_lr_schedule_saddle_and_quiet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run(["--function", "saddle", "--optimizers", "gd", "--steps", "5", "--quiet"]) == ""
    assert (tmp_path / "trajectories-saddle.png").exists()
    text = _run(["--function", "saddle", "--optimizers", "gd", "--steps", "5", "--schedule",
                 "exponential:gamma=0.5", "--out", "s.png"])  # fmt: skip
    row = text.splitlines()[-1].split()
    # lr 0.05 halving each step: y grows by (1 + 2 * 0.05 * 0.5^t) per step.
    y = 0.01 * np.prod(1 + 0.1 * 0.5 ** np.arange(5))
    x = -1.8 * np.prod(1 - 0.1 * 0.5 ** np.arange(5))
    assert row == ["gd", f"{x * x - y * y:.6g}", "5", "n/a", "(no", "minimum)"]


def test_cli_without_steps_takes_the_surface_s_own(tmp_path):
    text = _run(["--function", "saddle", "--optimizers", "gd", "--out", str(tmp_path / "s.png")])
    row = text.splitlines()[-1].split()
    assert row[0] == "gd" and int(row[2]) == SURFACES["saddle"].steps == 60
    traj = run_trajectory(SURFACES["saddle"], gd(SURFACES["saddle"].lr), None, 60)
    assert row[1] == f"{traj.final_loss:.6g}"


def test_compare_trajectories_needs_an_optimizer():
    with pytest.raises(InvalidParameterError) as caught:
        compare_trajectories(SURFACES["saddle"], {})
    assert str(caught.value) == "compare_trajectories needs at least one optimizer."


def test_cli_noise_picture(tmp_path):
    text = _run(["--noise", "--steps", "20", "--lr", "0.1", "--out", str(tmp_path / "n.png")])
    labels = [line.split(maxsplit=1)[0] for line in text.splitlines()[2:]]
    assert labels == ["batch", "mini-batch", "SGD"]
    noise = noise_paths(steps=20, learning_rate=0.1)
    assert f"{noise.paths['SGD (B=1)'].final_loss:.6g}" in text.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--function", "sphere"], r"Unknown surface 'sphere'; the known surfaces are quadratic"),
        (["--function", "quadratic,beale"], "--function takes one name"),
        (["--optimizers", "gd,lbfgs"], "Unknown optimizer 'lbfgs'"),
        (["--optimizers", "adam:beta=0.9"], "Unknown hyperparameter 'beta' for optimizer 'adam'"),
        (["--optimizers", "adam:lr=fast"], "the lr of 'adam' must be a number"),
        (["--optimizers", "gd,gd"], "--optimizers lists 'gd' twice"),
        (["--lr", "0"], r"--lr must be a float in the range \(0\.0, 10000\.0\]\. Got 0\.0"),
        (["--lr", "1e5"], r"--lr must be a float in the range \(0\.0, 10000\.0\]"),
        (["--steps", "0"], r"--steps must be an int in the range \[1, 10000000\]\. Got 0"),
        (["--steps", "100000000"], r"--steps must be an int in the range \[1, 10000000\]"),
        (["--noise", "--batch-size", "0"], r"--batch-size must be an int >= 1\. Got 0"),
        (["--start", "1"], "--start must be two finite numbers"),
        (
            ["--schedule", "exponential:lr=0.1,gamma=0.5"],
            "takes its starting learning rate from the optimizer",
        ),
        (["--schedule", "warp"], "Unknown schedule 'warp'"),
        (["--out", "x.jpg"], r"--out must end in \.png, \.svg or \.pdf"),
    ],
)
def test_cli_user_errors(argv, match, tmp_path):
    args = _parser().parse_args(["trajectories", "--steps", "2", *argv])
    if args.out is None:
        args.out = str(tmp_path / "x.png")
    with pytest.raises(InvalidParameterError, match=match):
        run(args, stdout=io.StringIO())


def test_plot_of_the_surface_alone():
    fig = plot_trajectories(SURFACES["beale"], {}, **SMALL)
    assert _legend_texts(fig) == ["minimum (f = 0)"]
    assert [ln.get_marker() for ln in fig.axes[0].get_lines()] == ["*"]


def test_a_start_whose_loss_overflows_is_refused_without_warnings():
    # pytest turns a RuntimeWarning raised in descentlab into an error: none may escape
    with pytest.raises(DataError, match=r"The loss at start \[1e\+300, 1.0\] is inf"):
        run_trajectory(Rosenbrock(), gd(0.001), (1e300, 1.0), 3)
