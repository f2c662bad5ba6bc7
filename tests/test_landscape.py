"""Loss landscapes (descentlab.landscape, descentlab landscape): filter-normalised slices
evaluated as populations, PCA paths, the run folder's trajectory, the report section."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli import main
from descentlab.experiments.compare import landscape_images, load_run_folder, run_comparison
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.run_folder import read_models, read_trajectory, write_models
from descentlab.landscape import (
    MAX_GRID,
    filter_normalize,
    grid_axis,
    landscape_run,
    network_landscape,
    pca_directions,
    plane_losses,
    plot_landscapes,
    project_path,
    random_directions,
)
from descentlab.nn import MLP
from descentlab.npz import open_npz
from descentlab.report import render_report

NET = MLP((2, 4, 3, 1), "tanh")


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 40))
    Y = (X[:1] * X[1:] > 0).astype(float)
    return NET.init(seed=1), X, Y


# ----------------------------------------------------------------------------- the math


@pytest.mark.parametrize("n", [3, 5, 41, 99])
def test_grid_axis_is_symmetric_with_an_exact_zero(n):
    axis = grid_axis(0.7, n)
    assert axis[(n - 1) // 2] == 0.0
    assert (axis[0], axis[-1]) == (-0.7, 0.7)
    np.testing.assert_array_equal(axis, -axis[::-1])


def test_filter_normalisation_gives_each_row_the_weights_row_norm(problem):
    theta, _, _ = problem
    theta["W2"][1] = 0.0  # a unit with no incoming weights: its direction row is 0 too
    d1, d2 = random_directions(theta, seed=3)
    for d in (d1, d2):
        for key in ("W1", "W2", "W3"):
            np.testing.assert_allclose(
                np.linalg.norm(d[key], axis=1), np.linalg.norm(theta[key], axis=1), rtol=1e-13
            )
        for key in ("b1", "b2", "b3"):
            np.testing.assert_array_equal(d[key], np.zeros_like(theta[key]))
    np.testing.assert_array_equal(d1["W2"][1], [0.0, 0.0, 0.0, 0.0])
    assert not np.allclose(d1["W1"], d2["W1"])  # two different directions


def test_filter_normalisation_by_hand():
    d = {"W1": np.array([[3.0, 4.0], [1.0, 0.0]]), "b1": np.array([[5.0], [6.0]])}
    w = {"W1": np.array([[0.0, 10.0], [0.0, -2.0]]), "b1": np.array([[1.0], [1.0]])}
    out = filter_normalize(d, w)
    np.testing.assert_array_equal(out["W1"], [[6.0, 8.0], [2.0, 0.0]])
    np.testing.assert_array_equal(out["b1"], [[0.0], [0.0]])


def test_the_landscapes_centre_equals_the_final_loss(problem):
    theta, X, Y = problem
    d1, d2 = random_directions(theta, seed=0)
    axis = grid_axis(1.0, 7)
    f = plane_losses(NET, theta, d1, d2, axis, axis, X, Y)
    assert f[3, 3] == NET.cost(theta, X, Y)  # exactly: theta* + 0 d1 + 0 d2 is theta*


@pytest.mark.parametrize("block_bytes", [1, 8 * 2000, 2**26])
def test_population_evaluation_equals_a_loop_over_points(problem, block_bytes):
    theta, X, Y = problem
    d1, d2 = random_directions(theta, seed=2)
    alphas, betas = grid_axis(0.5, 5), np.array([-0.3, 0.0, 0.25])
    f = plane_losses(NET, theta, d1, d2, alphas, betas, X, Y, block_bytes=block_bytes)
    loop = np.array(
        [
            [
                float(NET.cost({k: theta[k] + a * d1[k] + b * d2[k] for k in theta}, X, Y))
                for a in alphas
            ]
            for b in betas
        ]
    )
    np.testing.assert_array_equal(f, loop)


def _planted(P=50, S=21):
    """A path in the plane of two orthonormal directions e1, e2 of R^P, ending at theta*:
    x = 3 (1 - t) (odd about t = 1/2) and y = 0.5 sin(pi t) (even): uncorrelated, so the
    principal axes are e1 then e2."""
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((P, 2)))
    t = np.linspace(0.0, 1.0, S)
    planted = np.stack([3.0 * (1.0 - t), 0.5 * np.sin(np.pi * t)], axis=1)
    planted[-1] = 0.0  # sin(pi) is 1.2e-16, not 0
    theta_final = rng.standard_normal(P)
    return theta_final + planted @ basis.T, planted, basis.T


def test_pca_recovers_a_planted_two_dimensional_path():
    path, planted, basis = _planted()
    U, explained = pca_directions(path)
    signs = np.sign(np.sum(U * basis, axis=1))
    np.testing.assert_allclose(U * signs[:, None], basis, atol=1e-12)
    coords = project_path(path, U)
    np.testing.assert_allclose(coords * signs, planted, atol=1e-12)
    assert explained.sum() == pytest.approx(1.0, abs=1e-12)
    x, y = planted.T
    assert explained[0] == pytest.approx(np.var(x) / (np.var(x) + np.var(y)), rel=1e-10)
    np.testing.assert_allclose(path[-1] + coords @ U, path, atol=1e-12)  # nothing lost


def test_the_paths_last_point_is_the_origin():
    path, _, _ = _planted()
    path = path + np.random.default_rng(1).standard_normal(path.shape)  # off any plane
    coords = project_path(path, pca_directions(path)[0])
    np.testing.assert_array_equal(coords[-1], [0.0, 0.0])


def test_pca_needs_three_snapshots():
    with pytest.raises(DataError, match="at least 3 weight snapshots"):
        pca_directions(np.ones((2, 5)))


# ----------------------------------------------------------------------------- run folders

CONFIG = ExperimentConfig().replace(epochs=30)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The seed's study, 30 epochs, weights saved every 10 epochs."""
    folder = tmp_path_factory.mktemp("landscape") / "run"
    assert (
        main(["compare", "--epochs", "30", "--save-trajectory", "10", "--out", str(folder), "-q"])
        == 0
    )
    return folder


def test_trajectory_holds_init_snapshots_and_final_weights(run_dir, tmp_path):
    run = load_run_folder(run_dir)
    epochs, paths = read_trajectory(run_dir / "trajectory.npz", run.net.shapes())
    np.testing.assert_array_equal(epochs, [0, 10, 20, 30])
    start = run.net.init(CONFIG.seed, method=CONFIG.init)
    # the snapshot after 10 epochs is what a 10-epoch comparison ends with, member by member
    short = run_comparison(CONFIG.replace(epochs=10), tmp_path / "ten", progress=False)
    ten = read_models(tmp_path / "ten" / "models.npz", run.net.shapes())
    for label, final in run.params.items():
        for key in final:
            np.testing.assert_array_equal(paths[label][key][0], start[key])
            np.testing.assert_array_equal(paths[label][key][1], ten[label][key])
            np.testing.assert_array_equal(paths[label][key][-1], final[key])
    assert short["runs"][0]["epochs_run"] == 10
    # saving the trajectory changes no number of the training
    run_comparison(CONFIG, tmp_path / "plain", progress=False)
    plain = read_models(tmp_path / "plain" / "models.npz", run.net.shapes())
    for label, final in run.params.items():
        for key in final:
            np.testing.assert_array_equal(plain[label][key], final[key])


def test_cli_landscape_on_a_real_run_folder(run_dir, capsys):
    assert main(["landscape", str(run_dir), "--grid", "5", "--span", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "optimizer",
        "J(theta*)",
        "slice",
        "min",
        "slice",
        "max",
        "snapshots",
        "PCA",
        "variance",
    ]
    assert "Wrote landscape.npz, landscape_slices.png, landscape_paths.png, report.html" in out
    run = load_run_folder(run_dir)
    X, Y = run.data.train.X, run.net.targets(run.data.train.y)
    with open_npz(run_dir / "landscape.npz") as archive:
        labels = [str(s) for s in archive.read("labels")]
        assert labels == ["gd", "momentum", "adam"]
        for i, label in enumerate(labels):
            centre = float(run.net.cost(run.params[label], X, Y))
            assert float(archive.read(f"run{i}/centre_loss")) == centre
            assert archive.read(f"run{i}/slice_losses")[2, 2] == centre
            np.testing.assert_array_equal(archive.read(f"run{i}/alphas"), grid_axis(0.5, 5))
            np.testing.assert_array_equal(archive.read(f"run{i}/path")[-1], [0.0, 0.0])
            np.testing.assert_array_equal(archive.read(f"run{i}/epochs"), [0, 10, 20, 30])
    html = (run_dir / "report.html").read_text()
    assert "<h2>Loss landscapes</h2>" in html and html.count("data:image/png") == 4
    assert main(["report", str(run_dir)]) == 0  # a rebuilt report keeps the section
    assert "<h2>Loss landscapes</h2>" in (run_dir / "report.html").read_text()


def test_without_trajectory_the_slice_is_drawn_alone_and_a_note_says_why(run_dir, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    (folder / "trajectory.npz").unlink()
    result = landscape_run(folder, grid=3)
    assert "no trajectory.npz" in result["note"] and "--save-trajectory" in result["note"]
    assert all(ls.path is None for ls in result["landscapes"])
    assert result["files"] == ["landscape.npz", "landscape_slices.png", "report.html"]
    assert not (folder / "landscape_paths.png").exists()


def test_a_new_comparison_removes_the_old_trajectory_and_landscapes(run_dir, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(run_dir, folder)
    for name in ("landscape.npz", "landscape_slices.png", "landscape_paths.png"):
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")  # as if drawn for these weights
    assert "Loss landscapes" in render_report({"runs": []}, {}, "", None, landscape_images(folder))
    assert main(["compare", "--epochs", "5", "--out", str(folder), "-q"]) == 0
    left = {p.name for p in folder.iterdir()}
    assert not left & {
        "trajectory.npz",
        "landscape.npz",
        "landscape_slices.png",
        "landscape_paths.png",
    }
    assert "Loss landscapes" not in (folder / "report.html").read_text()


# ----------------------------------------------------------------------------- hostile input


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grid", "4"], "'grid' parameter of landscape must be odd"),
        (["--grid", "1"], f"must be an int in the range [3, {MAX_GRID}]. Got 1"),
        (["--grid", "100001"], f"must be an int in the range [3, {MAX_GRID}]. Got 100001"),
        (["--span", "nan"], "argument --span: expected a finite number, got 'nan'"),
        (["--span", "inf"], "argument --span: expected a finite number, got 'inf'"),
        (
            ["--span", "0"],
            "'span' parameter of landscape must be a float in the range (0.0, 100.0]",
        ),
        (["--seed", "-1"], "argument --seed"),
    ],
)
def test_bad_settings_are_one_line_before_anything_is_written(
    run_dir, tmp_path, capsys, argv, message
):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    before = _snapshot(folder)
    assert main(["landscape", str(folder), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert _snapshot(folder) == before


def test_api_refuses_non_finite_span(run_dir):
    for span in (float("nan"), float("inf"), -1.0):
        with pytest.raises(InvalidParameterError, match="'span' parameter of landscape"):
            landscape_run(run_dir, span=span)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-folder", "No such run folder"),
        ("no-models", "has no models.npz"),
        ("garbage-trajectory", "trajectory.npz"),
        ("other-trajectory", "does not end at the weights of 'gd' in models.npz"),
        ("garbage-results", "results.json"),
    ],
)
def test_damaged_run_folders_are_refused_in_one_line(run_dir, tmp_path, capsys, damage, message):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    if damage == "no-folder":
        shutil.rmtree(folder)
    elif damage == "no-models":
        (folder / "models.npz").unlink()
    elif damage == "garbage-trajectory":
        (folder / "trajectory.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    elif damage == "other-trajectory":
        other = tmp_path / "other"
        assert (
            main(
                ["compare", "--epochs", "20", "--save-trajectory", "10", "--out", str(other), "-q"]
            )
            == 0
        )
        shutil.copy(other / "trajectory.npz", folder / "trajectory.npz")
    elif damage == "garbage-results":
        (folder / "results.json").write_text("{not json")
    before = _snapshot(folder) if folder.exists() else None
    rc = main(["landscape", str(folder), "--grid", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    if before is not None:
        assert _snapshot(folder) == before


def test_report_refuses_a_landscape_file_that_is_not_a_png(run_dir, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    (folder / "landscape_slices.png").write_text("<html>")
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "landscape_slices.png' is not a PNG image" in err and len(err.strip().splitlines()) == 1


def test_landscape_images_refuse_what_is_not_a_png(tmp_path):
    assert landscape_images(tmp_path) == {}
    (tmp_path / "landscape_paths.png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    assert list(landscape_images(tmp_path).values()) == [b"\x89PNG\r\n\x1a\n...."]
    (tmp_path / "landscape_slices.png").mkdir()
    with pytest.raises(DataError, match="Is a directory"):
        landscape_images(tmp_path)


def test_report_section_only_with_landscapes():
    results = {"name": "t", "runs": []}
    assert "Loss landscapes" not in render_report(results, {}, "")
    page = render_report(results, {}, "", None, {"a <slice>": b"\x89PNG"})
    assert "<h2>Loss landscapes</h2>" in page and "a &lt;slice&gt;" in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--save-trajectory", "0"], "--save-trajectory must be an int in the range [1, "),
        (["--save-trajectory", "1", "--epochs", "20000"], "asks for 20002 snapshots"),
    ],
)
def test_compare_refuses_a_bad_save_trajectory_before_writing(tmp_path, capsys, argv, message):
    folder = tmp_path / "run"
    assert main(["compare", *argv, "--out", str(folder), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not folder.exists()


def test_json_output_holds_the_tables_numbers(run_dir, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    assert main(["landscape", str(folder), "--grid", "3", "--format", "json", "-q"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    got = json.loads(out)
    with open_npz(folder / "landscape.npz") as archive:
        for i, entry in enumerate(got["landscapes"]):
            f = archive.read(f"run{i}/slice_losses")
            assert entry["centre_loss"] == float(archive.read(f"run{i}/centre_loss"))
            assert (entry["slice_min"], entry["slice_max"]) == (float(f.min()), float(f.max()))
            assert entry["explained"] == archive.read(f"run{i}/explained").tolist()
            assert entry["snapshots"] == 4
    assert got["skipped"] == {} and got["note"] == ""


def test_a_network_with_non_finite_weights_is_left_out_and_said_so(run_dir, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(run_dir, folder)
    (folder / "trajectory.npz").unlink()
    run = load_run_folder(folder)
    models = [(label, dict(p)) for label, p in run.params.items()]
    models[0][1]["W1"] = np.full_like(models[0][1]["W1"], np.nan)
    write_models(folder / "models.npz", models)
    assert main(["landscape", str(folder), "--grid", "3"]) == 0
    out = capsys.readouterr().out
    assert "gd: not drawn, its weights are not finite (diverged)" in out
    with open_npz(folder / "landscape.npz") as archive:
        assert [str(s) for s in archive.read("labels")] == ["momentum", "adam"]


def test_plot_landscapes_refuses_an_unknown_kind_or_nothing_to_draw(problem):
    theta, X, Y = problem
    ls = network_landscape(NET, "gd", theta, X, Y, grid=3, span=1.0, seed=0)
    assert ls.path is None and ls.slice_losses.shape == (3, 3)
    with pytest.raises(InvalidParameterError, match="'kind' parameter of plot_landscapes"):
        plot_landscapes([ls], "surface")
    with pytest.raises(InvalidParameterError, match="no landscape with paths to draw"):
        plot_landscapes([ls], "paths")
    fig = plot_landscapes([ls], "slices", "toy")
    assert fig.texts[0].get_text().endswith("— toy") and len(fig.axes) == 2  # panel + colour bar
