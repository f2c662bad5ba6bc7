"""The sweep's figures, drawn from results rows: the learning-rate curves keep the best
configuration per rate, and the heatmap of a grid labels and fills its cells as they are."""

from __future__ import annotations

import dataclasses
import math

import pytest
from PIL import Image

from descentlab.experiments.sweep_plots import (
    plot_heatmap,
    sensitivity_curves,
    write_sweep_plots,
)
from descentlab.experiments.sweep_space import SweepSpec, parse_axis


def _rows(configs: list[tuple[str, dict[str, str], list[tuple[str, str]]]]) -> list[dict]:
    """Results rows: per configuration ``(optimizer, settings, [(val_accuracy, final_cost)
    per seed])``; every cell text, as read from results.csv."""
    rows = []
    for c, (optimizer, settings, seeds) in enumerate(configs):
        for seed, (val, cost) in enumerate(seeds):
            rows.append(
                {"run_id": f"c{c}-s{seed}", "config_id": f"c{c}", "optimizer": optimizer,
                 **settings, "epochs": "5", "seed": str(seed), "val_accuracy": val,
                 "final_cost": cost}
            )  # fmt: skip
    return rows


def test_sensitivity_keeps_the_best_configuration_per_rate_and_nan_where_all_diverged():
    rows = _rows(
        [
            ("adam", {"learning_rate": "0.01", "b1": "0.9"}, [("0.8", "0.3"), ("0.9", "0.2")]),
            ("adam", {"learning_rate": "0.01", "b1": "0.5"}, [("0.6", "0.1"), ("0.7", "0.1")]),
            ("adam", {"learning_rate": "0.1", "b1": "0.9"}, [("0.5", "nan"), ("0.5", "nan")]),
        ]
    )
    accuracy = sensitivity_curves(rows)["adam"]
    assert accuracy["lr"].tolist() == [0.01, 0.1]
    assert accuracy["median"].tolist() == pytest.approx([0.85, 0.5])
    assert accuracy["q25"][0] == pytest.approx(0.825) and accuracy["q75"][0] == pytest.approx(0.875)
    cost = sensitivity_curves(rows, "final_cost")["adam"]  # b1 = 0.9 wins at 0.01, on accuracy
    assert cost["median"][0] == pytest.approx(0.25) and math.isnan(cost["median"][1])


def test_heatmap_of_a_flag_and_a_rate_labels_the_flag_and_leaves_a_missing_cell_empty():
    rows = _rows(
        [
            ("adam", {"learning_rate": "0.1", "amsgrad": "true"}, [("0.75", "0.3")]),
            ("adam", {"learning_rate": "0.01", "amsgrad": "true"}, [("0.5", "0.3")]),
            ("adam", {"learning_rate": "0.01", "amsgrad": "false"}, [("0.625", "0.3")]),
        ]  # lr 0.1 without amsgrad is missing (an interrupted sweep)
    )
    fig = plot_heatmap(rows, "adam", "learning_rate", "amsgrad")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["false", "true"]
    cells = {(t.get_position(), t.get_text()) for t in ax.texts}  # (column, row): median
    assert cells == {((0, 0), "0.625"), ((0, 1), "0.500"), ((1, 1), "0.750")}


def test_two_searched_settings_get_a_heatmap_unless_the_search_was_random(tmp_path):
    rows = _rows(
        [
            ("adam", {"learning_rate": "0.01", "b1": "0.9"}, [("0.8", "0.3")]),
            ("adam", {"learning_rate": "0.1", "b1": "0.5"}, [("0.7", "0.2")]),
        ]
    )
    axes = (parse_axis("lr=0.01,0.1"), parse_axis("b1=0.5,0.9"))
    grid = SweepSpec(optimizers=(("adam", {}),), axes=axes, seeds=(0,), epochs=5)
    assert write_sweep_plots(tmp_path, rows, grid) == ["lr_sensitivity.png", "heatmap_adam.png"]
    with Image.open(tmp_path / "heatmap_adam.png") as image:
        assert image.size == (800, 600)
    (tmp_path / "heatmap_adam.png").unlink()
    random = dataclasses.replace(grid, random=2)
    assert write_sweep_plots(tmp_path, rows, random) == ["lr_sensitivity.png"]
    assert not (tmp_path / "heatmap_adam.png").exists()
