"""The results table: its columns, its text cells, the CSV text, reading a file back as hostile
input (every refusal and every dropped row with its exact reason) and the per-configuration
summary. Direct unit tests, milliseconds each; the sweeps that write and resume the table
end to end are in tests/test_sweep.py."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from descentlab import limits
from descentlab._validation import DataError, show
from descentlab.experiments.population import Run
from descentlab.experiments.results import (
    MAX_LINE,
    METRIC_RULES,
    METRICS,
    SETTING_COLUMNS,
    read_results,
    result_columns,
    result_row,
    results_csv_text,
    summarize,
)

GD = Run("gd", {"learning_rate": 0.1}, epochs=3, seed=1, data_seed=4)
ADAM = Run(
    "adam",
    {"learning_rate": 0.01},
    schedule="exponential",
    schedule_settings={"decay_rate": 0.5},
    epochs=3,
    seed=2,
)
PIECEWISE = Run(
    "gd",
    {"learning_rate": 0.1},
    schedule="piecewise",
    schedule_settings={"boundaries": [2, 4], "scales": [0.5, 0.1]},
    epochs=5,
)

MEASURED = {
    "train_accuracy": np.float64(0.75),
    "val_accuracy": 0.5,
    "test_accuracy": np.float32(0.25),
    "final_cost": math.nan,
    "val_cost": math.inf,
    "test_cost": 0.125,
    "diverged": np.bool_(True),
    "stopped_epoch": 2,
    "seconds": 1.5,
}
METRIC_CELLS = ["0.75", "0.5", "0.25", "nan", "inf", "0.125", "true", "2", "1.5"]


# ----------------------------------------------------------------------------- writing


def test_result_columns_are_ids_every_setting_of_any_run_then_metrics() -> None:
    assert result_columns([GD, ADAM]) == [
        "run_id",
        "config_id",
        "optimizer",
        "learning_rate",
        "b1",
        "b2",
        "eps",
        "eps_root",
        "amsgrad",
        "weight_decay",
        "schedule",
        "schedule.decay_rate",
        "batch_size",
        "epochs",
        "layers",
        "activation",
        "init",
        "shuffle",
        "seed",
        *METRICS,
        "engine",
    ]
    assert result_columns([]) == [
        "run_id",
        "config_id",
        "optimizer",
        "learning_rate",
        "schedule",
        *SETTING_COLUMNS,
        *METRICS,
        "engine",
    ]
    assert SETTING_COLUMNS == (
        "batch_size",
        "epochs",
        "layers",
        "activation",
        "init",
        "shuffle",
        "seed",
    )
    assert METRICS == (
        "train_accuracy",
        "val_accuracy",
        "test_accuracy",
        "final_cost",
        "val_cost",
        "test_cost",
        "diverged",
        "stopped_epoch",
        "seconds",
    )


def test_result_row_holds_text_cells_in_repr_form() -> None:
    columns = result_columns([GD, ADAM, PIECEWISE])
    assert result_row(ADAM, MEASURED, columns) == {
        "run_id": ADAM.run_id(),
        "config_id": ADAM.config_id(),
        "optimizer": "adam",
        "learning_rate": "0.01",
        "b1": "0.9",
        "b2": "0.999",
        "eps": "0.0",
        "eps_root": "1e-08",
        "amsgrad": "false",
        "weight_decay": "0.0",
        "schedule": "exponential",
        "schedule.decay_rate": "0.5",
        "schedule.boundaries": "",
        "schedule.scales": "",
        "batch_size": "64",
        "epochs": "3",
        "layers": "5-2",
        "activation": "relu",
        "init": "he",
        "shuffle": "random",
        "seed": "2",
        **dict(zip(METRICS, METRIC_CELLS, strict=True)),
        "engine": "",
    }
    assert result_row(ADAM, {**MEASURED, "engine": "compiled"}, columns)["engine"] == "compiled"
    row = result_row(
        PIECEWISE,
        {**MEASURED, "diverged": False, "test_accuracy": np.float32(0.1), "stopped_epoch": -1},
        columns,
    )
    assert list(row) == columns
    assert {k: v for k, v in row.items() if v != ""} == {
        "run_id": PIECEWISE.run_id(),
        "config_id": PIECEWISE.config_id(),
        "optimizer": "gd",
        "learning_rate": "0.1",
        "schedule": "piecewise",
        "schedule.boundaries": "2-4",  # a list of ints
        "schedule.scales": "[0.5, 0.1]",  # any other list: JSON
        "batch_size": "64",
        "epochs": "5",
        "layers": "5-2",
        "activation": "relu",
        "init": "he",
        "shuffle": "random",
        "seed": "0",
        "train_accuracy": "0.75",
        "val_accuracy": "0.5",
        "test_accuracy": "0.10000000149011612",  # a float32, as the float64 it is
        "final_cost": "nan",
        "val_cost": "inf",
        "test_cost": "0.125",
        "diverged": "false",
        "stopped_epoch": "-1",
        "seconds": "1.5",
    }
    unset = Run("adam", {"lr": 0.1, "b1": None})  # a setting that does not apply: empty
    assert result_row(unset, MEASURED, columns)["b1"] == ""
    gd = result_row(GD, {**MEASURED, "diverged": np.bool_(False)}, columns)
    assert (gd["schedule"], gd["b1"], gd["seed"], gd["diverged"]) == ("", "", "1", "false")
    assert result_row(GD, {**MEASURED, "diverged": True}, columns)["diverged"] == "true"


def test_results_csv_text_quotes_where_needed_and_leaves_missing_cells_empty() -> None:
    text = results_csv_text(
        ["a", "b", "c"], [{"a": "1", "b": "[0.5, 0.1]", "c": "x"}, {"a": "2"}, {"c": 'say "hi"'}]
    )
    assert text == 'a,b,c\n1,"[0.5, 0.1]",x\n2,,\n,,"say ""hi"""\n'
    assert results_csv_text(("a",), []) == "a\n"


# ----------------------------------------------------------------------------- cell rules

RULE_CASES = [
    # accuracies: a number in [0, 1], written in repr form
    ("train_accuracy", "0.0", True),
    ("train_accuracy", "1.0", True),
    ("train_accuracy", "-0.0", True),
    ("train_accuracy", "0.5", True),
    ("train_accuracy", "1.0000000000000002", False),
    ("train_accuracy", "-5e-324", False),
    ("train_accuracy", "1", False),  # not repr form
    ("train_accuracy", "0.50", False),
    ("train_accuracy", " 0.5", False),
    ("train_accuracy", "nan", True),  # undefined: a regression run has no accuracy
    ("train_accuracy", "inf", False),
    ("train_accuracy", "", False),
    ("val_accuracy", "0.25", True),
    ("val_accuracy", "1.5", False),
    ("test_accuracy", "0.25", True),
    ("test_accuracy", "x", False),
    # costs: a number >= 0, nan or inf
    ("final_cost", "0.0", True),
    ("final_cost", "-0.0", True),
    ("final_cost", "nan", True),
    ("final_cost", "inf", True),
    ("final_cost", "12.5", True),
    ("final_cost", "-inf", False),
    ("final_cost", "-5e-324", False),
    ("final_cost", "NaN", False),
    ("final_cost", "", False),
    ("val_cost", "nan", True),
    ("val_cost", "-1.0", False),
    ("test_cost", "inf", True),
    ("test_cost", "-1.0", False),
    # flags
    ("diverged", "true", True),
    ("diverged", "false", True),
    ("diverged", "True", False),
    ("diverged", "", False),
    ("diverged", "truefalse", False),
    # epochs: an int >= -1
    ("stopped_epoch", "-1", True),
    ("stopped_epoch", "0", True),
    ("stopped_epoch", "7", True),
    ("stopped_epoch", "10", True),
    ("stopped_epoch", "9" * 18, True),
    ("stopped_epoch", "1" + "0" * 18, False),
    ("stopped_epoch", "-2", False),
    ("stopped_epoch", "-0", False),
    ("stopped_epoch", "07", False),
    ("stopped_epoch", "1.0", False),
    ("stopped_epoch", "", False),
    # seconds: a finite number >= 0
    ("seconds", "0.0", True),
    ("seconds", "3.25", True),
    ("seconds", "-0.0", True),
    ("seconds", "-5e-324", False),
    ("seconds", "inf", False),
    ("seconds", "nan", False),
    ("seconds", "1e309", False),
]


@pytest.mark.parametrize(("metric", "cell", "good"), RULE_CASES)
def test_each_metric_cell_must_hold_its_kind_of_value(metric: str, cell: str, good: bool) -> None:
    assert METRIC_RULES[metric](cell) is good


def test_every_metric_has_a_rule_that_says_what_it_wants() -> None:
    assert {k: v.__doc__ for k, v in METRIC_RULES.items()} == {
        "train_accuracy": "a number in [0, 1] or nan",
        "val_accuracy": "a number in [0, 1] or nan",
        "test_accuracy": "a number in [0, 1] or nan",
        "final_cost": "a number >= 0, nan or inf",
        "val_cost": "a number >= 0, nan or inf",
        "test_cost": "a number >= 0, nan or inf",
        "diverged": "true or false",
        "stopped_epoch": "an int >= -1",
        "seconds": "a finite number >= 0",
    }
    assert list(METRIC_RULES) == list(METRICS)


# ----------------------------------------------------------------------------- reading back

RUNS = [GD, ADAM]
COLUMNS = result_columns(RUNS)


def _line(run: Run, **metrics: str) -> str:
    row = result_row(run, MEASURED, COLUMNS)
    row.update(metrics)
    return results_csv_text(COLUMNS, [row]).split("\n", 1)[1]


HEADER = ",".join(COLUMNS) + "\n"


def _read(path: Path, text: str | bytes, runs=RUNS) -> tuple[list[dict[str, str]], list[tuple]]:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    damaged: list[tuple] = []
    rows = read_results(path, runs, on_damaged=lambda *a: damaged.append(a))
    return rows, damaged


def _error(path: Path, text: str | bytes, runs=RUNS) -> str:
    with pytest.raises(DataError) as error:
        _read(path, text, runs)
    return str(error.value)


def test_read_results_returns_the_rows_as_written(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    text = HEADER + _line(GD) + _line(ADAM)
    rows, damaged = _read(path, text)
    assert rows == [result_row(GD, MEASURED, COLUMNS), result_row(ADAM, MEASURED, COLUMNS)]
    assert damaged == []
    assert read_results(path) == rows  # without the runs: the same rows
    assert read_results(path, RUNS) == rows  # without on_damaged
    assert read_results(tmp_path / "missing.csv", RUNS) == []
    assert read_results(str(path)) == rows
    # Windows line ends, and a last line ended by a lone carriage return, are whole rows
    rows, damaged = _read(path, text.replace("\n", "\r\n"))
    assert (len(rows), damaged) == (2, [])
    rows, damaged = _read(path, text[:-1] + "\r")
    assert (len(rows), damaged) == (2, [])


def test_read_results_reads_utf8_text_and_keeps_cells_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the locale's encoding, and a quoted cell's line ends kept as they are."""
    path = tmp_path / "results.csv"
    header = ["run_id", "config_id", "optimizer", "note", *METRICS]
    row = _line(GD).rstrip("\n").split(",")
    row = [*row[:3], '"caf\u00e9\r\nna\u00efve"', *row[-len(METRICS) - 1 : -1]]
    text = ",".join(header) + "\r\n" + ",".join(row) + "\r\n"
    # a locale whose encoding is not UTF-8 (what open() uses when no encoding is given)
    monkeypatch.setattr(io, "text_encoding", lambda encoding, *_: encoding or "latin-1")
    rows, damaged = _read(path, text, None)
    assert damaged == [] and [r["note"] for r in rows] == ["caf\u00e9\r\nna\u00efve"]
    # a file of a header alone, without its newline, has no rows
    assert _read(path, HEADER[:-1]) == ([], [])


def test_read_results_refuses_what_is_not_a_results_table(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "results.csv"
    src = f"'{path}'"
    assert _error(path, "") == f"{src} is not a results table: it is empty."
    assert _error(path, b"run_id\ncaf\xe9\n") == (
        f"{src} is not a results table: it is not UTF-8 text."
    )
    assert _error(path, HEADER + "a,\0b\n") == (
        f"{src} is not a results table: line 2 holds NUL bytes."
    )
    assert _error(path, HEADER + "x" * MAX_LINE + "\n") == (
        f"{src} is not a results table: line 2 is longer than 65536 characters."
    )
    # a quoted cell may span lines, but no cell is longer than the csv module's limit
    assert _error(path, HEADER + '"' + ("x" * 60_000 + "\n") * 3) == (
        f"{src} is not a results table: field larger than field limit (131072)."
    )
    with pytest.raises(DataError) as error:
        read_results(tmp_path, RUNS)
    assert str(error.value) == f"Cannot read '{tmp_path}': Is a directory."
    foreign = "name,value\nx,1\n"
    assert _error(path, foreign) == (
        f"{src} is not the results of this sweep: expected the columns "
        f"{show(', '.join(COLUMNS))}; found 'name, value'."
    )
    assert _error(path, foreign, None) == (
        f"{src} is not a descentlab results table: its columns must start with run_id, "
        "config_id, optimizer and end with train_accuracy, val_accuracy, test_accuracy, "
        "final_cost, val_cost, test_cost, diverged, stopped_epoch, seconds; found 'name, value'."
    )
    long = ",".join(f"column{i}" for i in range(20)) + "\n"
    assert _error(path, long).endswith(
        "found 'column0, column1, column2, column3, column4, column5, column6, column7, colu...."
    )
    # the header without runs: the first three and the last nine columns are checked
    for header in (
        ["config_id", "run_id", "optimizer", *METRICS],
        ["run_id", "config_id", "optimizer", *METRICS[:-1]],
        ["run_id", "config_id", *METRICS],
        ["run_id", "config_id", "optimizer", *METRICS, "extra"],
    ):
        assert "is not a descentlab results table" in _error(path, ",".join(header) + "\n", None)
    assert _read(path, "run_id,config_id,optimizer,x," + ",".join(METRICS) + "\n", None) == ([], [])
    # at most MAX_RUNS rows
    monkeypatch.setattr(limits, "MAX_RUNS", 2)
    assert len(_read(path, HEADER + _line(GD) + _line(ADAM))[0]) == 2
    assert _error(path, HEADER + _line(GD) + _line(ADAM) + "x\n") == (
        f"{src} is not a results table: it has more than 2 rows (descentlab.limits.MAX_RUNS)."
    )


def test_read_results_reads_a_line_of_exactly_max_line_characters(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    header = ["run_id", "config_id", "optimizer", "", *METRICS]
    header[3] = "x" * (MAX_LINE - len(",".join(header)) - 1)
    text = ",".join(header) + "\n"
    assert len(text) == MAX_LINE
    assert _read(path, text, None) == ([], [])
    assert "line 1 is longer than 65536" in _error(path, "x" + text, None)


def test_read_results_drops_each_damaged_row_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    gd, adam = GD.run_id(), ADAM.run_id()
    good = _line(ADAM)
    lines = [
        "a,b,c\n",
        _line(GD, run_id="0123456789ab-s0"),
        _line(GD, learning_rate="0.5"),
        _line(ADAM, schedule="cosine"),
        _line(GD, val_accuracy="0.9x"),
        _line(GD, diverged="no"),
        _line(GD, stopped_epoch="3"),
        _line(GD, seconds="-1.0"),
        _line(GD, stopped_epoch="2"),
        good,
    ]
    rows, damaged = _read(path, HEADER + "".join(lines))
    assert rows == [result_row(GD, {**MEASURED, "stopped_epoch": 2}, COLUMNS)] + [
        result_row(ADAM, MEASURED, COLUMNS)
    ]
    assert damaged == [
        (2, f"3 cells where the header has {len(COLUMNS)}"),
        (3, "the run_id '0123456789ab-s0' is not a run of this sweep"),
        (4, f"the 'learning_rate' cell '0.5' is not that of run {gd}"),
        (5, f"the 'schedule' cell 'cosine' is not that of run {adam}"),
        (6, "the 'val_accuracy' cell '0.9x' is not a number in [0, 1] or nan"),
        (7, "the 'diverged' cell 'no' is not true or false"),
        (8, f"the 'stopped_epoch' 3 is not an epoch of run {gd}"),
        (9, "the 'seconds' cell '-1.0' is not a finite number >= 0"),
    ]


def test_read_results_without_runs_checks_ids_and_cells(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    gd = GD.run_id()
    config = GD.config_id()
    lines = [
        _line(GD, run_id=f"{config}-s1d4"),
        _line(GD, run_id=f"{config}-s12", stopped_epoch="999"),  # any epoch without runs
        _line(GD, run_id="abc"),
        _line(GD, config_id="0123456789ab"),
        _line(GD, run_id=f"{config}-s1x"),
        _line(GD, run_id=f"{config}-s"),
        _line(GD, run_id=f"{config.upper()}-s1", config_id=config.upper()),
        _line(GD, test_cost="-inf"),
    ]
    rows, damaged = _read(path, HEADER + "".join(lines), None)
    assert [r["run_id"] for r in rows] == [gd, f"{config}-s12"]
    assert damaged == [
        (4, f"'abc' is not a run_id of config_id '{config}'"),
        (5, f"'{gd}' is not a run_id of config_id '0123456789ab'"),
        (6, f"'{config}-s1x' is not a run_id of config_id '{config}'"),
        (7, f"'{config}-s' is not a run_id of config_id '{config}'"),
        (8, f"'{config.upper()}-s1' is not a run_id of config_id '{config.upper()}'"),
        (9, "the 'test_cost' cell '-inf' is not a number >= 0, nan or inf"),
    ]


def test_a_run_listed_twice_is_dropped_every_time(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    gd = GD.run_id()
    rows, damaged = _read(path, HEADER + _line(GD) + _line(ADAM) + _line(GD) + _line(GD))
    assert rows == [result_row(ADAM, MEASURED, COLUMNS)]
    assert damaged == [(4, f"the run {gd} is listed twice"), (5, f"the run {gd} is listed twice")]


def test_a_last_row_cut_off_before_its_newline_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    rows, damaged = _read(path, HEADER + _line(ADAM) + _line(GD)[:-1])
    assert rows == [result_row(ADAM, MEASURED, COLUMNS)]
    assert damaged == [(3, "the file ends in the middle of this row")]
    # a damaged last line is reported once, for what it is
    rows, damaged = _read(path, HEADER + _line(ADAM) + _line(GD, engine="numpy")[:-3])
    assert (len(rows), damaged) == (1, [(3, "the 'engine' cell 'num' is not numpy or compiled")])
    # a last line that repeats a run: dropped as such, the first one is dropped too
    rows, damaged = _read(path, HEADER + _line(GD) + _line(GD)[:-1])
    assert (rows, damaged) == ([], [(3, f"the run {GD.run_id()} is listed twice")])


# ----------------------------------------------------------------------------- summary


def _row(config: str, seed: int, val: str, test: str, cost: str, diverged: str) -> dict:
    return {
        "run_id": f"{config}-s{seed}",
        "config_id": config,
        "optimizer": "gd",
        "learning_rate": "0.1" if config == "a" else "0.2",
        "seed": str(seed),
        "train_accuracy": "1.0",
        "val_accuracy": val,
        "test_accuracy": test,
        "final_cost": cost,
        "val_cost": "0.5",
        "test_cost": "0.5",
        "diverged": diverged,
        "stopped_epoch": "-1",
        "seconds": "0.5",
    }


_CONSTANT_COSTS = {
    f"{metric}_{stat}": value
    for metric in ("val_cost", "test_cost")
    for stat, value in zip(
        ("median", "q25", "q75", "mean", "std"), "0.5 0.5 0.5 0.5 0.0".split(), strict=True
    )
}
"""The validation and test cost statistics of ``_row``'s constant costs."""


def test_summarize_gives_each_configuration_its_statistics_over_seeds() -> None:
    rows = [
        _row("a", 0, "0.5", "0.25", "1.0", "false"),
        _row("b", 0, "0.75", "0.5", "nan", "true"),
        _row("a", 1, "1.0", "0.75", "3.0", "false"),
        _row("a", 2, "0.75", "0.5", "inf", "true"),
    ]
    summary = summarize(rows)
    assert summary == [
        {
            "config_id": "a",
            "optimizer": "gd",
            "learning_rate": "0.1",
            "n_seeds": 3,
            "n_diverged": 1,
            "val_accuracy_median": "0.75",
            "val_accuracy_q25": "0.625",
            "val_accuracy_q75": "0.875",
            "val_accuracy_mean": "0.75",
            "val_accuracy_std": repr(float(np.std([0.5, 1.0, 0.75]))),
            "test_accuracy_median": "0.5",
            "test_accuracy_q25": "0.375",
            "test_accuracy_q75": "0.625",
            "test_accuracy_mean": "0.5",
            "test_accuracy_std": repr(float(np.std([0.25, 0.75, 0.5]))),
            "final_cost_median": "2.0",  # inf left out with nan
            "final_cost_q25": "1.5",
            "final_cost_q75": "2.5",
            "final_cost_mean": "2.0",
            "final_cost_std": "1.0",
            **_CONSTANT_COSTS,
        },
        {
            "config_id": "b",
            "optimizer": "gd",
            "learning_rate": "0.2",
            "n_seeds": 1,
            "n_diverged": 1,
            "val_accuracy_median": "0.75",
            "val_accuracy_q25": "0.75",
            "val_accuracy_q75": "0.75",
            "val_accuracy_mean": "0.75",
            "val_accuracy_std": "0.0",
            "test_accuracy_median": "0.5",
            "test_accuracy_q25": "0.5",
            "test_accuracy_q75": "0.5",
            "test_accuracy_mean": "0.5",
            "test_accuracy_std": "0.0",
            **{f"final_cost_{s}": "nan" for s in ("median", "q25", "q75", "mean", "std")},
            **_CONSTANT_COSTS,
        },
    ]
    # the settings columns in the order given, a column missing from a row left empty
    columns = ["learning_rate", "run_id", "extra", "config_id", "seed", *METRICS]
    entry = summarize(rows, columns)[0]
    assert list(entry)[:5] == ["learning_rate", "extra", "config_id", "n_seeds", "n_diverged"]
    assert entry["extra"] == ""
    assert summarize([]) == []
    # one row: its keys are the columns
    (alone,) = summarize(rows[1:2])
    assert list(alone)[:5] == ["config_id", "optimizer", "learning_rate", "n_seeds", "n_diverged"]
