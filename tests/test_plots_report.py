"""Plots (sizes, content, axes) and the HTML report (numbers, embedded images, escaping, reading)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from descentlab._validation import DataError, InvalidParameterError
from descentlab.plots import (
    confusion_matrix,
    figure_png,
    plot_confusion_matrices,
    plot_cost_curves,
    plot_decision_boundaries,
    save_figure,
)
from descentlab.report import (
    describe_results,
    format_number,
    render_report,
    table_rows,
    write_report,
)


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return im.size


# ----------------------------------------------------------------------------- plots


def test_cost_curves_size_lines_and_log_scale():
    costs = {"gd": np.linspace(0.7, 0.4, 50), "adam": np.geomspace(0.7, 0.01, 30)}
    fig = plot_cost_curves(costs)
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["gd (final 0.4)", "adam (final 0.01)"]
    np.testing.assert_array_equal(lines[1].get_ydata(), costs["adam"])
    assert lines[0].get_linestyle() != lines[1].get_linestyle()  # overlapping curves stay visible
    assert _size(figure_png(fig)) == (800, 500)
    log = plot_cost_curves({"a": np.array([1.0, np.nan, 0.0, 0.5])}, log_scale=True)
    assert log.axes[0].get_yscale() == "log"
    y = log.axes[0].get_lines()[0].get_ydata()
    assert y[0] == 1.0 and np.isnan(y[1]) and np.isnan(y[2]) and y[3] == 0.5


def test_cost_curves_of_no_run_have_no_legend():
    ax = plot_cost_curves({}).axes[0]  # a comparison interrupted before its first epoch
    assert ax.get_lines() == [] and ax.get_legend() is None
    assert plot_cost_curves({"a": np.array([1.0])}).axes[0].get_legend() is not None


def test_a_class_without_examples_is_left_out_of_the_scatter():
    X = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 0.0, 1.0]])
    y = np.array([0, 2, 0, 2])  # class "b" (1) has no training example here

    def predict(P):
        return np.zeros(P.shape[1], dtype=int)

    fig = plot_decision_boundaries({"a": predict}, X, y, class_names=["a", "b", "c"])
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["a", "c"]


def test_decision_boundaries_panels_share_axes_and_show_predictions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 40))
    y = (X[0] > 0).astype(int)

    def vertical(P):
        return (P[0] > 0).astype(int)

    def horizontal(P):
        return (P[1] > 0).astype(int)

    fig = plot_decision_boundaries(
        {"a": vertical, "b": horizontal, "c": vertical},
        X,
        y,
        titles={"a": "first"},
        resolution=50,
        suptitle="boundaries",
    )
    assert _size(figure_png(fig)) == (1200, 440)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["first", "b", "c"]
    assert len({ax.get_xlim() for ax in axes}) == 1 and len({ax.get_ylim() for ax in axes}) == 1
    x0, x1 = axes[0].get_xlim()
    span = X[0].max() - X[0].min()
    assert x0 == pytest.approx(X[0].min() - 0.1 * span) and x1 == pytest.approx(
        X[0].max() + 0.1 * span
    )
    mesh = axes[1].collections[0]
    gx = np.linspace(*axes[1].get_xlim(), 50)
    gy = np.linspace(*axes[1].get_ylim(), 50)
    expected = (np.meshgrid(gx, gy)[1] > 0).astype(int)
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(50, 50), expected)
    scatters = [c for c in axes[0].collections if c.get_offsets().shape == (np.sum(y == 0), 2)]
    assert scatters and scatters[0].get_zorder() > mesh.get_zorder()  # data on top
    assert _size(
        figure_png(
            plot_decision_boundaries({str(i): vertical for i in range(4)}, X, y, resolution=20)
        )
    ) == (1200, 800)
    with pytest.raises(DataError, match=r"X must be \(2, m\); got shape \(3, 40\)"):
        plot_decision_boundaries({"a": vertical}, np.zeros((3, 40)), y)
    with pytest.raises(DataError, match="Found 40 examples in X and 39 labels"):
        plot_decision_boundaries({"a": vertical}, X, y[:-1])


def test_confusion_matrix_and_its_plot():
    m = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    fig = plot_confusion_matrices({"adam": m, "gd": np.eye(3, dtype=int) * 2}, ["a", "b", "c"])
    assert _size(figure_png(fig)) == (800, 400)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(DataError, match="Found 2 true labels and 3 predictions"):
        confusion_matrix(np.array([0, 1]), np.array([0, 1, 1]), 2)


def test_save_figure_is_atomic_and_returns_the_bytes(tmp_path):
    fig = plot_cost_curves({"a": np.array([1.0, 0.5])})
    data = save_figure(fig, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]


# ----------------------------------------------------------------------------- report


def _run(label, train, test, cost, seconds=1.0, status="completed", message=""):
    return {
        "optimizer": label.split(":")[0],
        "label": label,
        "hyperparameters": {"learning_rate": 0.0007},
        "status": status,
        "message": message,
        "epochs_run": 100,
        "train_accuracy": train,
        "test_accuracy": test,
        "final_cost": cost,
        "seconds": seconds,
    }


RESULTS = {
    "name": "moons",
    "created": "2026-01-01T00:00:00+00:00",
    "descentlab_version": "0.1.0",
    "partial": False,
    "dataset": {
        "name": "moons",
        "n_features": 2,
        "n_classes": 2,
        "n_train": 300,
        "n_test": 300,
        "holdout": "fresh",
    },
    "layer_dims": [2, 5, 2, 1],
    "runs": [
        _run("gd", 239 / 300, 244 / 300, 0.43326, 3.3),
        _run("momentum", 239 / 300, 244 / 300, 0.43363, 5.3),
        _run("adam", 0.94, 289 / 300, 0.12880, 6.0),
    ],
}


def test_table_rows_and_number_format():
    header, rows = table_rows(RESULTS)
    assert header == ["optimizer", "train accuracy", "test accuracy", "final cost", "seconds"]
    assert rows == [
        ["gd", "0.7967", "0.8133", "0.4333", "3.3"],
        ["momentum", "0.7967", "0.8133", "0.4336", "5.3"],
        ["adam", "0.9400", "0.9633", "0.1288", "6.0"],
    ]
    assert format_number(None, "cost") == "-" and format_number(float("nan"), "accuracy") == "-"
    partial = {"runs": [_run("gd", 0.5, 0.5, 0.6), _run("adam", None, None, None, None, "not_run")]}
    assert table_rows(partial) == (
        ["optimizer", "train accuracy", "test accuracy", "final cost", "seconds", "status"],
        [
            ["gd", "0.5000", "0.5000", "0.6000", "1.0", "completed"],
            ["adam", "-", "-", "-", "-", "not_run"],
        ],
    )


def test_number_format_kinds_are_three():
    assert [format_number(2.0, k) for k in ("accuracy", "cost", "seconds")] == [
        "2.0000",
        "2.0000",
        "2.0",
    ]
    with pytest.raises(InvalidParameterError) as caught:
        format_number(2, "epochs")
    assert str(caught.value) == (
        "The 'kind' parameter of format_number must be one of 'accuracy', 'cost', 'seconds'. "
        "Got 'epochs' instead."
    )


def test_reading_of_costs_that_cannot_be_compared():
    # a cost that is not a number (None) leaves one finite cost: nothing to compare it with
    one = {"runs": [_run("gd", 0.8, 0.8, None), _run("adam", 0.9, 0.9, 0.2)]}
    assert not any("lowest cost" in line for line in describe_results(one))
    # a curve that never gets down to the other's final cost (a history that does not match
    # its results.json) gives the comparison of final costs alone
    two = {"runs": [_run("gd", 0.8, 0.8, 0.4), _run("adam", 0.9, 0.9, 0.2)]}
    costs = {"adam": np.array([0.9, 0.7, 0.5])}
    assert (
        "adam ended with the lowest cost, 0.2 (2 times lower than gd's 0.4)."
        in describe_results(two, costs)
    )


def test_reading_of_the_seed_result():
    costs = {
        "gd": np.linspace(0.7, 0.43326, 100),
        "momentum": np.linspace(0.7, 0.43363, 100),
        "adam": np.r_[0.7, 0.5, 0.43, np.full(97, 0.1288)],
    }
    assert describe_results(RESULTS, costs) == [
        "adam reached the best test accuracy, 0.9633: 0.1500 more than gd and momentum (0.8133).",
        "On the training data: adam 0.9400, gd 0.7967, momentum 0.7967.",
        "adam ended with the lowest cost, 0.1288 (3.37 times lower than momentum's 0.4336); "
        "it got down to momentum's final cost by epoch 2 of 100.",
        "Wall time ranged from 3.3 s (gd) to 6.0 s (adam).",
    ]


def test_reading_of_ties_overfitting_divergence_and_partial_runs():
    tie = {"runs": [_run("a", 0.9, 0.9, 0.2), _run("b", 0.9, 0.9, 0.2)]}
    assert describe_results(tie)[0] == "a and b tied on test accuracy at 0.9000."
    over = {"runs": [_run("a", 1.0, 0.8, 0.01)]}
    assert describe_results(over) == [
        "a reached a test accuracy of 0.8000.",
        "a scores 0.2000 higher on the training data than on the test data: a sign of overfitting.",
    ]
    partial = {
        "partial": True,
        "runs": [
            _run(
                "gd:lr=1000",
                0.5,
                0.5,
                None,
                status="diverged",
                message="Training diverged at epoch 0.",
            ),
            _run(
                "adam",
                0.7,
                0.72,
                0.5,
                status="interrupted",
                message="Interrupted after 40 of 100 epochs.",
            ),
            _run("rmsprop", None, None, None, None, "not_run"),
        ],
    }
    assert describe_results(partial) == [
        "This run was interrupted after 100 epochs: 0 of 3 optimizer runs finished, so the "
        "numbers below are partial.",
        "adam reached a test accuracy of 0.7200.",
        "gd:lr=1000: Training diverged at epoch 0.",
        "adam: Interrupted after 40 of 100 epochs.",
        "rmsprop did not run (the comparison was interrupted before it).",
    ]
    assert describe_results({"runs": []}) == [
        "No optimizer finished, so there is nothing to compare."
    ]


def test_reading_of_optimizers_trained_together_and_interrupted():
    runs = [
        {**_run("gd", 0.7, 0.7, 0.6, 4.6, "interrupted"), "epochs_run": 5},
        {**_run("adam", 0.8, 0.8, 0.4, 4.6, "interrupted"), "epochs_run": 5},
    ]
    lines = describe_results({"partial": True, "trained_together": True, "runs": runs})
    assert lines[0] == (
        "This run was interrupted after 5 epochs: 0 of 2 optimizer runs finished, so the "
        "numbers below are partial."
    )
    assert (
        "All 2 optimizers were trained together as one population (one forward and backward "
        "pass per mini-batch for all): 4.6 s in all."
    ) in lines
    assert not any(line.startswith("Wall time") for line in lines)


def test_a_report_of_bare_results_has_no_lines_about_the_run():
    page = render_report({"runs": [_run("adam", 0.9, 0.9, 0.2)]}, {}, "")
    assert '<p class="meta"></p>' in page
    assert "<h1>Optimizer comparison: comparison</h1>" in page
    for missing in ("data:", "network:", "created", "descentlab 0."):
        assert missing not in page


def test_report_is_self_contained_and_escaped(tmp_path):
    png = figure_png(plot_cost_curves({"a": np.array([1.0, 0.5])}))
    evil = {
        **RESULTS,
        "name": "<script>alert(1)</script>",
        "runs": [*RESULTS["runs"], _run("x<b>", 0.1, 0.1, 1.0)],
    }
    page = render_report(evil, {"Cost & curves": png}, 'name = "<moons>"\n')
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>x&lt;b&gt;</td>" in page and "name = &quot;&lt;moons&gt;&quot;" in page
    assert "<figcaption>Cost &amp; curves</figcaption>" in page
    for number in ("0.7967", "0.8133", "0.9400", "0.9633", "0.4333", "0.1288"):
        assert f"<td>{number}</td>" in page
    assert '<tr class="best"><td>adam</td>' in page
    (encoded,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(encoded) == png
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    assert "http://" not in page and "https://" not in page and "<link" not in page
    write_report(tmp_path / "report.html", RESULTS, {}, "")
    assert "Optimizer comparison: moons" in (tmp_path / "report.html").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    partial = render_report({**RESULTS, "partial": True}, {}, "")
    assert "<strong>Partial results:</strong>" in partial
