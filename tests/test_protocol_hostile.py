"""The benchmark protocol's folder as hostile input: results.csv rows that do not check out,
rows of another run, a damaged protocol.json; and the protocol's own edges (Ctrl-C inside a
population, the progress bar, a named engine's refusal, auto's reason said once)."""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import signal
from pathlib import Path

import pytest

import descentlab.compiled
import descentlab.problems
from descentlab import limits
from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments import protocol as protocol_module
from descentlab.experiments.population import Population
from descentlab.experiments.protocol import run_protocol
from descentlab.experiments.protocol_report import plot_tuning_budget, replot
from descentlab.experiments.protocol_results import read_protocol_rows
from descentlab.experiments.protocol_spec import ProtocolSpec, problem_info
from descentlab.experiments.tuning import best_trial
from descentlab.problems.suite import PROBLEMS

EASY = dataclasses.replace(
    descentlab.problems.get_problem("seed-moons"), name="easy-moons", target=0.7, epochs=6
)
SPEC = dict(
    problems=("easy-moons",), optimizers=(("sgd", {}), ("adam", {})), budget=2, seeds=2, epochs=2
)
BUDGETS = {"easy-moons": 2 * EASY.steps_per_epoch}


@pytest.fixture
def easy(monkeypatch):
    """``easy-moons`` among the problems (in this process)."""
    real = descentlab.problems.get_problem
    monkeypatch.setattr(
        descentlab.problems, "get_problem", lambda n: EASY if n == "easy-moons" else real(n)
    )


def _run(out: Path, chunk_size: int = 64, **kwargs):
    kwargs = {"engine": "numpy", "plots": False, **kwargs}
    return run_protocol(ProtocolSpec(**SPEC, chunk_size=chunk_size), out, **kwargs)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(rows)


def _timeless(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "seconds_to_target")} for r in rows]


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


# ----------------------------------------------------------------------------- results.csv rows


def _damaged(path: Path) -> tuple[dict, list[tuple[int, str]]]:
    seen: list[tuple[int, str]] = []
    rows = read_protocol_rows(
        path, None, BUDGETS, ["sgd", "adam"], 2, on_damaged=lambda n, why: seen.append((n, why))
    )
    return rows, seen


def _cell(column, value):
    def change(row):
        row[column] = value

    return change


ROW_DAMAGE = [
    (_cell("problem", "digits"), "the problem 'digits' is not one of this benchmark"),
    (_cell("label", "lion"), "the optimizer 'lion' is not one of this benchmark"),
    (_cell("phase", "warmup"), "the phase 'warmup' is not tuning or rerun"),
    (_cell("trial", "2"), "the trial '2' is not a whole number below 2"),
    (_cell("trial", "01"), "the trial '01' is not a whole number below 2"),
    (_cell("val_accuracy", "1.5"), "the 'val_accuracy' cell '1.5' is not a number in [0, 1], or nan (a regression problem has no accuracy)"),
    (_cell("steps_to_target", "0"), "the 'steps_to_target' cell '0' is not a whole number >= 1, or inf"),
    (_cell("seconds_to_target", "-1"), "the 'seconds_to_target' cell '-1' is not a finite number > 0, or inf"),
    (_cell("steps_to_target", str(BUDGETS["easy-moons"] + 1)), f"the steps to target {BUDGETS['easy-moons'] + 1} exceed the problem's budget"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "reason"), ROW_DAMAGE)
def test_a_row_that_does_not_check_out_is_dropped_and_reported(tmp_path, easy, change, reason):
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    change(rows[1])
    _write(path, header, rows)
    good, seen = _damaged(path)
    assert seen == [(3, reason)]
    assert list(good.values()) == [r for i, r in enumerate(rows) if i != 1]


def test_a_row_of_another_length_and_a_run_listed_twice_are_dropped(tmp_path, easy):
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    lines = path.read_text().splitlines()
    short = ",".join(lines[2].split(",")[:-1])
    # the first row again at lines 10 and 11 (listed three times), a short row at 12
    path.write_text("\n".join([*lines, lines[1], lines[1], short]) + "\n")
    good, seen = _damaged(path)
    run = f"the run {rows[0]['run_id']} of easy-moons is listed twice"
    assert seen == [
        (10, run),
        (11, run),
        (12, f"{len(header) - 1} cells where the header has {len(header)}"),
    ]
    assert list(good.values()) == rows[1:]


def test_a_last_row_cut_off_inside_a_cell_is_dropped(tmp_path, easy):
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    _write(path, header, rows[:-1])
    last = rows[-1]
    assert last["steps_to_target"] != "inf"  # its run reached the target: a number is cut
    assert header[-1] == "seconds_to_target"
    # a measured time may be printed as 1.5e-05, and cut there it would not even be a number:
    # give the cell a fixed value, so that the cut leaves a number and only the missing end says
    line = ",".join([*(last[c] for c in header[:-1]), "0.125"])
    with path.open("a", newline="") as f:
        f.write(line[:-2])  # no newline: the file ends inside seconds_to_target
    good, seen = _damaged(path)
    assert seen == [(9, "the file ends in the middle of this row")]
    assert list(good.values()) == rows[:-1]


def test_a_results_csv_that_is_a_folder_or_a_huge_quoted_cell_is_one_line(tmp_path, easy):
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, _ = _read(path)
    quoted = '"' + "\n".join(["x" * 60000] * 3) + '"'
    path.write_text(",".join(header) + "\n" + quoted + "\n")
    with pytest.raises(DataError) as info:
        _damaged(path)
    assert str(info.value) == (
        f"'{path}' is not a results table: field larger than field limit (131072)."
    )
    path.unlink()
    path.mkdir()
    with pytest.raises(DataError) as info:
        _damaged(path)
    assert str(info.value) == f"Cannot read '{path}': Is a directory."


# ----------------------------------------------------------------------------- rows of another run


def test_a_trial_row_of_other_settings_trial_or_phase_is_trained_again(tmp_path, easy):
    straight = _run(tmp_path / "straight", chunk_size=1)
    out = tmp_path / "edited"
    _run(out, chunk_size=1)
    path = out / "results.csv"
    header, rows = _read(path)
    cases = [("learning_rate", "0.5"), ("trial", "1"), ("phase", "rerun")]
    for column, value in cases:
        edited = [dict(r) for r in rows]
        edited[0][column] = value  # sgd's trial 0: a population of one run
        _write(path, header, edited)
        lines: list[str] = []
        again = run_protocol(None, out, resume=True, engine="numpy", plots=False, log=lines.append)
        reason = (
            f"the row of easy-moons run {rows[0]['run_id']} has another {column!r} than that run"
        )
        assert lines[0] == (
            f"descentlab benchmark: 1 damaged row(s) in {path} ({reason}); their populations "
            "are trained again"
        )
        assert again.n_new == 1
        assert _timeless(again.rows) == _timeless(straight.rows)


def test_rerun_rows_of_another_best_trial_are_dropped_and_rerun(tmp_path, easy):
    """A tuning row edited to make another trial the best: the reruns of the old best are
    dropped, those of the new one trained; replot refuses the edited folder."""
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    sgd = rows[:2]
    best = best_trial(
        [float(r["val_accuracy"]) for r in sgd],
        [float(r["val_cost"]) for r in sgd],
        [False, False],
        higher_is_better=True,
    )
    other = 1 - best
    rows[other]["val_accuracy"] = "1.0"
    _write(path, header, rows)
    with pytest.raises(DataError) as info:
        replot(tmp_path)
    assert str(info.value) == (
        f"The reruns of sgd on easy-moons are not runs of its best trial (#{other})."
    )
    lines: list[str] = []
    again = run_protocol(None, tmp_path, resume=True, engine="numpy", plots=False, log=lines.append)
    assert lines[1] == (
        "descentlab benchmark: 2 row(s) of reruns in results.csv are dropped (they are not "
        "reruns of the best trials)"
    )
    assert again.n_new == 2
    reruns = [r for r in again.rows if r["label"] == "sgd" and r["phase"] == "rerun"]
    assert {(r["trial"], r["config_id"]) for r in reruns} == {
        (str(other), rows[other]["config_id"])
    }


def test_a_damaged_rerun_row_is_dropped_saying_why(tmp_path, easy):
    """Before the fix the log said the row was not a rerun of the best trials (it is one,
    with an edited cell)."""
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    rows[-1]["b1"] = "0.5"
    _write(path, header, rows)
    lines: list[str] = []
    again = run_protocol(None, tmp_path, resume=True, engine="numpy", plots=False, log=lines.append)
    assert lines[1] == (
        f"descentlab benchmark: 1 row(s) of reruns in results.csv are dropped (the row of "
        f"easy-moons run {rows[-1]['run_id']} has another 'b1' than that run)"
    )
    assert again.n_new == 2  # the rerun population of adam (its two seeds)


def test_replot_refuses_rows_without_a_searched_column(tmp_path, easy):
    _run(tmp_path)
    path = tmp_path / "results.csv"
    header, rows = _read(path)
    _write(
        path,
        [c for c in header if c != "b2"],
        [{k: v for k, v in r.items() if k != "b2"} for r in rows],
    )
    before = _files(tmp_path)
    with pytest.raises(DataError) as info:
        replot(tmp_path)
    assert str(info.value) == "The rows of adam on easy-moons have no 'b2' column."
    assert _files(tmp_path) == before


# ----------------------------------------------------------------------------- protocol.json


def _edit_protocol(out: Path, change) -> None:
    path = out / "protocol.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _info(key, value):
    return lambda doc: doc["problems"][0].__setitem__(key, value)


PROTOCOL_DAMAGE = [
    (_info("name", "digits"), "is damaged: its problems are not those of its spec."),
    (_info("target", float("nan")), "is damaged: problems[0]: target must be a finite number."),
    (_info("epochs", 0), f"is damaged: problems[0]: epochs must be from 1 to {limits.MAX_EPOCHS}."),
    (_info("steps_per_epoch", 0), f"is damaged: problems[0]: steps_per_epoch must be from 1 to {limits.MAX_EXAMPLES}."),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), PROTOCOL_DAMAGE)
def test_a_damaged_protocol_json_is_refused_and_nothing_written(tmp_path, easy, change, expected):
    _run(tmp_path)
    _edit_protocol(tmp_path, change)
    before = _files(tmp_path)
    for action in (lambda: replot(tmp_path), lambda: run_protocol(None, tmp_path, resume=True)):
        with pytest.raises(DataError) as info:
            action()
        assert str(info.value) == f"'{tmp_path / 'protocol.json'}' {expected}"
    assert _files(tmp_path) == before


def test_a_huge_protocol_json_is_refused_unread(tmp_path, easy):
    _run(tmp_path)
    with (tmp_path / "protocol.json").open("r+b") as f:
        f.truncate(64 * 2**20 + 1)
    with pytest.raises(DataError) as info:
        replot(tmp_path)
    assert str(info.value) == (
        f"'{tmp_path / 'protocol.json'}' is not a benchmark's: it is larger than 64 MiB."
    )


def test_replot_needs_results_csv(tmp_path, easy):
    _run(tmp_path)
    (tmp_path / "results.csv").unlink()
    with pytest.raises(DataError) as info:
        replot(tmp_path)
    assert str(info.value) == f"'{tmp_path}' is not a finished benchmark: it has no results.csv."


# ----------------------------------------------------------------------------- the spec


def test_too_many_problems_and_rerun_seeds_past_the_largest_are_refused():
    n = limits.MAX_GRID_POINTS + 1
    with pytest.raises(InvalidParameterError) as info:
        ProtocolSpec(**{**SPEC, "problems": ["digits"] * n})
    assert str(info.value) == (
        f"The benchmark protocol takes at most {limits.MAX_GRID_POINTS} problems; got {n}."
    )
    with pytest.raises(InvalidParameterError) as info:
        ProtocolSpec(**{**SPEC, "problems": ("digits",), "seed": limits.MAX_SEED - 1})
    assert str(info.value) == (
        f"The rerun seeds of the benchmark protocol would run past the largest seed "
        f"{limits.MAX_SEED}; choose a smaller --seed."
    )


def test_every_suite_problem_is_kept_as_plain_json():
    """protocol.json keeps what problem_info gives; read back, it must be equal."""
    for name in PROBLEMS:
        info = problem_info(descentlab.problems.get_problem(name), 3)
        assert json.loads(json.dumps(info, allow_nan=False)) == info
        assert (info["name"], info["epochs"]) == (name, 3)


def test_best_trial_needs_a_trial():
    with pytest.raises(InvalidParameterError) as info:
        best_trial([], [], [], higher_is_better=True)
    assert str(info.value) == "best_trial needs at least one trial."


# ----------------------------------------------------------------------------- the protocol's edges


def test_ctrl_c_inside_a_population_keeps_the_finished_ones(tmp_path, easy, monkeypatch):
    """Ctrl-C during the third population: training stops after its epoch, the population
    is not recorded, and resuming gives the rows of a run without the interruption."""
    straight = _run(tmp_path / "straight", plots=False)
    real = Population.train
    calls = []

    def pressed_in_the_third(self, **kwargs):
        calls.append(1)
        inner = kwargs["on_epoch"]

        def on_epoch(epoch, logs):
            inner(epoch, logs)
            if len(calls) == 3 and epoch == 0:
                signal.raise_signal(signal.SIGINT)

        return real(self, **{**kwargs, "on_epoch": on_epoch})

    monkeypatch.setattr(Population, "train", pressed_in_the_third)
    out = tmp_path / "cut"
    cut = run_protocol(ProtocolSpec(**SPEC, chunk_size=1), out, engine="numpy", plots=False)
    assert cut.status == "interrupted" and len(_read(out / "results.csv")[1]) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(Population, "train", real)
    again = run_protocol(None, out, resume=True, engine="numpy", plots=False)
    assert again.status == "completed" and again.n_new == 6
    assert _timeless(_read(out / "results.csv")[1]) == _timeless(straight.rows)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_moves_within_a_population(tmp_path, easy, monkeypatch):
    """On a terminal the bar counts a population's runs as its epochs pass: the tuning
    population (4 runs of 2 epochs) moves it by 2 after each epoch, each rerun population
    (2 runs) by 1; each population's end updates it once more."""
    seen: list[int] = []
    real = protocol_module.Progress.update
    monkeypatch.setattr(
        protocol_module.Progress,
        "update",
        lambda self, n, **kw: (seen.append(n), real(self, n, **kw))[1],
    )
    monkeypatch.setattr("sys.stderr", _Terminal())
    _run(tmp_path, progress=None)
    assert seen == [2, 4, 4, 5, 6, 6, 7, 8, 8]


def test_a_named_engine_that_refuses_a_population_is_not_swallowed():
    """Only auto's choice falls back to numpy; a named ``compiled`` refusal propagates."""
    problem = descentlab.problems.get_problem("noisy-quadratic")
    runs = [problem.run("sgd", {}, 0, epochs=1)]
    task = ("noisy-quadratic", "loss", runs, "compiled", False)
    with pytest.raises(InvalidParameterError) as info:
        protocol_module._train_chunk(task, ({"noisy-quadratic": problem.data()}, None))
    assert "MSE" in str(info.value) and "\n" not in str(info.value)


def test_compiled_named_trains_every_population_compiled(tmp_path, easy):
    result = _run(tmp_path, engine="compiled")
    assert result.status == "completed" and {r["engine"] for r in result.rows} == {"compiled"}


def test_autos_reason_for_numpy_is_said_once(tmp_path, easy, monkeypatch):
    why = "the compiled engine would compile for 30 s first."
    monkeypatch.setattr(descentlab.compiled, "resolve", lambda engine, **kw: ("numpy", why))
    lines: list[str] = []
    result = _run(tmp_path, engine="auto", log=lines.append)
    assert [line for line in lines if line.startswith("engine auto")] == [
        f"engine auto: trained with numpy: {why}"
    ]
    assert {r["engine"] for r in result.rows} == {"numpy"}


def test_a_loss_problem_plots_and_lists_other_rerun_seeds(tmp_path):
    """noisy-quadratic (a loss, lower is better) with rerun seeds 20 and 25: the budget plot
    is on a log scale (every curve > 0), on a linear one when every trial diverged (the
    curves are inf); the report lists the seeds as given."""
    spec = ProtocolSpec(
        problems=("noisy-quadratic",), optimizers=(("sgd", {}),), budget=2, seeds=(20, 25),
        epochs=2,
    )  # fmt: skip
    result = run_protocol(spec, tmp_path, engine="numpy")
    assert result.status == "completed"
    assert {"tuning_budget.png", "test_metric.png", "report.html"} <= set(_files(tmp_path))
    assert "20, 25" in (tmp_path / "report.html").read_text()
    summary = result.summary
    assert all(0 < v < float("inf") for v in summary["entries"][0]["budget_curve"])
    assert plot_tuning_budget(summary).axes[0].get_yscale() == "log"
    diverged = copy.deepcopy(summary)
    diverged["entries"][0]["budget_curve"] = [float("inf")] * 2
    assert plot_tuning_budget(diverged).axes[0].get_yscale() == "linear"


def test_two_local_jobs_give_the_rows_of_one(tmp_path):
    """Two worker processes (started in the background while the data loads) train the
    populations; the rows equal those trained here."""
    spec = ProtocolSpec(**{**SPEC, "problems": ("seed-moons",)}, chunk_size=1)
    here = run_protocol(spec, tmp_path / "one", engine="numpy", plots=False)
    two = run_protocol(spec, tmp_path / "two", engine="numpy", plots=False, jobs=2)
    assert two.status == "completed"
    assert _timeless(two.rows) == _timeless(here.rows)
