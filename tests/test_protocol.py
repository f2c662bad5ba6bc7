"""The benchmark protocol: the math (expected best-so-far against brute force over every
ordering, performance profiles on hand-made numbers, the search draws), a tiny end-to-end run
checked against independent training, resume after an interruption, replot from results.csv
alone, Dask, and hostile specs, folders and files (refused before anything is written)."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import descentlab.problems
from descentlab import limits
from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments import protocol as protocol_module
from descentlab.experiments.population import Population
from descentlab.experiments.profiles import (
    first_reached,
    median_to_target,
    performance_profile,
    performance_ratios,
    profile_score,
)
from descentlab.experiments.protocol import run_protocol
from descentlab.experiments.protocol_report import replot
from descentlab.experiments.protocol_spec import ProtocolSpec
from descentlab.experiments.tuning import (
    B1,
    B2,
    LEARNING_RATE,
    RHO,
    SEARCH_SPACES,
    best_trial,
    draw_trials,
    expected_best_so_far,
    search_space,
    uniform_draws,
)

INF = math.inf


# ----------------------------------------------------------------------------- expected best


def _brute_force(values: list[float], higher: bool) -> list[float]:
    """The mean over every ordering of the best of its first n values, n = 1..N."""
    pick = max if higher else min
    orders = list(itertools.permutations(values))
    return [
        float(np.mean([pick(order[:n]) for order in orders])) for n in range(1, len(values) + 1)
    ]


@pytest.mark.parametrize(
    "values",
    [
        [0.5],
        [0.2, 0.9],
        [0.3, 0.1, 0.1, 0.7, -2.0],
        [0.6, 0.6, 0.6, 0.6],
        [1.0, 0.0, 0.5, 0.25, 0.75, 0.125],
    ],
)
@pytest.mark.parametrize("higher", [True, False])
def test_expected_best_so_far_equals_brute_force_over_all_orderings(values, higher) -> None:
    got = expected_best_so_far(values, higher_is_better=higher)
    np.testing.assert_allclose(got, _brute_force(values, higher), rtol=0, atol=1e-12)


@given(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0, 3.5]), min_size=1, max_size=6))
def test_expected_best_so_far_property(values) -> None:
    for higher in (True, False):
        got = expected_best_so_far(values, higher_is_better=higher)
        np.testing.assert_allclose(got, _brute_force(values, higher), atol=1e-12)


def test_expected_best_so_far_exact_values() -> None:
    # N = 4 values 1, 2, 3, 4: E_2 = sum_k k C(k-1, 1) / C(4, 2) = (2 + 6 + 12) / 6
    exact = [Fraction(10, 4), Fraction(20, 6), Fraction(15, 4), Fraction(4)]
    assert expected_best_so_far([3, 1, 4, 2]).tolist() == pytest.approx(
        [float(x) for x in exact], rel=1e-15
    )
    # the minimum: E_2 = (1*3 + 2*2 + 3*1) / 6
    assert expected_best_so_far([3, 1, 4, 2], higher_is_better=False)[1] == float(Fraction(10, 6))
    # N = 200: E_N is the best value and E_1 the mean, without overflow
    v = np.linspace(0.0, 1.0, 200)
    curve = expected_best_so_far(v)
    assert curve[0] == pytest.approx(0.5, abs=1e-12) and curve[-1] == 1.0
    assert np.all(np.diff(curve) >= -1e-15)


def test_expected_best_so_far_refuses_nan_and_empty() -> None:
    with pytest.raises(InvalidParameterError, match="NaN"):
        expected_best_so_far([0.5, math.nan])
    with pytest.raises(InvalidParameterError, match="one or more values"):
        expected_best_so_far([])


def test_best_trial_by_metric_then_cost_diverged_and_nan_worst() -> None:
    same = [False] * 3
    assert best_trial([0.9, 0.95, 0.95], [0.3, 0.2, 0.1], same, higher_is_better=True) == 2
    assert best_trial([0.9, 0.95, 0.95], [0.3, 0.1, 0.1], same, higher_is_better=True) == 1
    # a diverged trial loses even with the best number; NaN is the worst
    assert (
        best_trial([0.99, 0.5, math.nan], [0.1] * 3, [True, False, False], higher_is_better=True)
        == 1
    )
    # a loss: lowest wins; NaN cost never wins a tie
    assert best_trial([0.3, 0.2, 0.2], [math.nan, math.nan, 0.2], same, higher_is_better=False) == 2
    assert best_trial([math.nan], [math.nan], [True], higher_is_better=False) == 0


# ----------------------------------------------------------------------------- draws


def test_search_spaces_are_crowded_valleys_ranges() -> None:
    assert (LEARNING_RATE.low, LEARNING_RATE.high) == (1e-4, 1.0)
    assert (RHO.low, RHO.high, B1.low, B1.high, B2.low, B2.high) == (
        1e-3,
        1.0,
        0.5,
        0.999,
        0.8,
        0.999,
    )
    assert search_space("sgd") == {"learning_rate": LEARNING_RATE}  # the paper's SGD: lr only
    assert search_space("momentum") == {"learning_rate": LEARNING_RATE, "beta": RHO}
    assert search_space("nesterov") == {"learning_rate": LEARNING_RATE, "momentum": RHO}
    assert search_space("adam", {"b2": 0.99, "lr": 0.01}) == {"b1": B1}  # fixed: not searched


def test_an_optimizer_outside_the_table_searches_lr_and_its_betas(monkeypatch) -> None:
    monkeypatch.delitem(SEARCH_SPACES, "adamw")
    monkeypatch.delitem(SEARCH_SPACES, "rmsprop")
    assert search_space("adamw") == {"learning_rate": LEARNING_RATE, "b1": B1, "b2": B2}
    assert search_space("rmsprop") == {"learning_rate": LEARNING_RATE}


def test_draws_are_log_uniform_reproducible_and_shared_between_optimizers() -> None:
    adam = draw_trials("adam", {"eps": 1e-8}, 5, seed=7)
    assert adam == draw_trials("adam", {"eps": 1e-8}, 5, seed=7)
    assert adam[:3] == draw_trials("adam", {"eps": 1e-8}, 3, seed=7)  # a larger budget extends
    assert adam != draw_trials("adam", {"eps": 1e-8}, 5, seed=8)
    u_lr = uniform_draws(7, "learning_rate", 5)
    u_b1 = uniform_draws(7, "b1", 5)
    for i, trial in enumerate(adam):
        assert trial["eps"] == 1e-8
        assert trial["learning_rate"] == pytest.approx(1e-4 * (1.0 / 1e-4) ** u_lr[i], rel=1e-12)
        assert trial["b1"] == pytest.approx(0.5 * (0.999 / 0.5) ** u_b1[i], rel=1e-12)
        assert 0.8 <= trial["b2"] < 0.999
    momentum = draw_trials("momentum", {}, 5, seed=7)
    u_rho = uniform_draws(7, "rho", 5)
    assert [t["learning_rate"] for t in momentum] == [t["learning_rate"] for t in adam]
    assert [t["beta"] for t in momentum] == pytest.approx([RHO.value(u) for u in u_rho])


def test_log_uniform_draws_cover_the_range_evenly_in_log() -> None:
    lr = np.array([t["learning_rate"] for t in draw_trials("gd", {}, 4000, seed=1)])
    assert lr.min() >= 1e-4 and lr.max() < 1.0
    counts = np.histogram(np.log10(lr), bins=4, range=(-4, 0))[0]
    assert np.all(np.abs(counts - 1000) < 100)  # 4 decades, ~1000 draws each


# ----------------------------------------------------------------------------- profiles


TIMES = np.array([[10.0, 20.0, INF], [30.0, 15.0, 45.0], [INF, INF, INF]])


def test_performance_profile_on_hand_made_numbers() -> None:
    r = performance_ratios(TIMES)
    assert r.tolist() == [[1.0, 2.0, INF], [2.0, 1.0, 3.0], [INF, INF, INF]]
    rho = performance_profile(r, [1.0, 1.999, 2.0, 3.0, 4.0])
    third = 1 / 3
    np.testing.assert_allclose(
        rho,
        [
            [third, third, 0],
            [third, third, 0],
            [2 * third, 2 * third, 0],  # right-continuous: r = 2 counts at tau = 2
            [2 * third, 2 * third, third],
            [2 * third, 2 * third, third],
        ],
    )
    # score = sum_p max(0, 4 - r) / (3 P): (3 + 2) / 9, (2 + 3) / 9, 1 / 9
    np.testing.assert_allclose(profile_score(r), [5 / 9, 5 / 9, 1 / 9], rtol=1e-15)
    assert profile_score(np.array([[1.0], [1.0]])).tolist() == [1.0]
    assert profile_score(np.array([[4.0], [INF]])).tolist() == [0.0]


def _area_under_profile(r: np.ndarray, tau_max: float = 4.0) -> np.ndarray:
    """The integral of the step function rho over [1, tau_max] / (tau_max - 1), piece by piece."""
    breaks = np.unique(np.concatenate([[1.0, tau_max], r[np.isfinite(r) & (r < tau_max)]]))
    rho = performance_profile(r, breaks[:-1])
    return (rho * np.diff(breaks)[:, None]).sum(axis=0) / (tau_max - 1)


@given(
    st.lists(
        st.lists(st.one_of(st.floats(0.5, 20.0), st.just(INF)), min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    )
)
def test_profile_score_is_the_area_under_the_profile(times) -> None:
    r = performance_ratios(np.array(times))
    np.testing.assert_allclose(profile_score(r), _area_under_profile(r), atol=1e-12)


def test_time_to_target_helpers() -> None:
    assert first_reached([False, True, True]) == 1 and first_reached([]) is None
    assert median_to_target([5.0, 1.0, 3.0]) == 3.0
    assert median_to_target([1.0, INF, INF]) == INF  # the median seed did not reach it
    assert median_to_target([1.0, 3.0, INF]) == 3.0
    for bad in ([], [0.0], [-1.0], [math.nan]):
        with pytest.raises(InvalidParameterError, match="Times to target"):
            median_to_target(bad)
    with pytest.raises(InvalidParameterError, match="times > 0"):
        performance_ratios(np.array([[1.0, 0.0]]))


# ----------------------------------------------------------------------------- end to end

EASY = dataclasses.replace(
    descentlab.problems.get_problem("seed-moons"), name="easy-moons", target=0.7, epochs=6
)
"""The seed's problem with a target a few epochs can reach (a stand-in of the suite)."""

SPEC = dict(problems=("easy-moons",), optimizers=(("sgd", {}), ("adam", {})), budget=2, seeds=2)


@pytest.fixture
def easy(monkeypatch):
    """``easy-moons`` among the problems (in this process: one local job)."""
    real = descentlab.problems.get_problem

    def get(name):
        return EASY if name == "easy-moons" else real(name)

    monkeypatch.setattr(descentlab.problems, "get_problem", get)
    return EASY


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _timeless(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "seconds_to_target")} for r in rows]


def test_tiny_protocol_end_to_end(tmp_path: Path, easy) -> None:
    spec = ProtocolSpec(**SPEC, chunk_size=1)
    result = run_protocol(spec, tmp_path, engine="numpy", progress=False)
    assert result.status == "completed" and result.n_runs == result.n_new == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "performance_profile.png",
        "protocol.json",
        "report.html",
        "results.csv",
        "summary.json",
        "test_metric.png",
        "tuning_budget.png",
    ]
    rows = _rows(tmp_path / "results.csv")
    assert rows == result.rows
    assert [(r["label"], r["phase"], r["trial"], r["seed"]) for r in rows[:4]] == [
        ("sgd", "tuning", "0", "0"),
        ("sgd", "tuning", "1", "1"),
        ("adam", "tuning", "0", "0"),
        ("adam", "tuning", "1", "1"),
    ]
    summary = result.summary
    spe = easy.steps_per_epoch
    data = easy.data()
    for j, label in enumerate(("sgd", "adam")):
        trials = [r for r in rows if r["label"] == label and r["phase"] == "tuning"]
        reruns = [r for r in rows if r["label"] == label and r["phase"] == "rerun"]
        acc = [float(r["val_accuracy"]) for r in trials]
        best = best_trial(
            acc,
            [float(r["val_cost"]) for r in trials],
            [r["diverged"] == "true" for r in trials],
            higher_is_better=True,
        )
        entry = summary["entries"][j]
        assert entry["best_trial"] == best
        assert entry["budget_curve"] == pytest.approx([np.mean(acc), max(acc)], abs=1e-12)
        # reruns: the best trial's hyperparameters on the fresh seeds 2 and 3
        assert [r["seed"] for r in reruns] == ["2", "3"]
        assert {r["config_id"] for r in reruns} == {trials[best]["config_id"]}
        test = [float(r["test_accuracy"]) for r in reruns]
        assert entry["test"]["mean"] == pytest.approx(np.mean(test), abs=1e-15)
        assert entry["test"]["std"] == pytest.approx(np.std(test), abs=1e-15)
        # steps to target equal those of the run trained alone, evaluated after every epoch
        for r in reruns:
            run = easy.run(label, _hyper(r, easy.run(label, {}, 0)), int(r["seed"]))
            assert run.run_id() == r["run_id"]
            alone = Population([run], data).train(validation=True, eval_every=1, engine="numpy")
            e = first_reached(easy.reached(alone.history.val_accuracy[:, 0]))
            expected = "inf" if e is None else str((e + 1) * spe)
            assert r["steps_to_target"] == expected
            assert (r["seconds_to_target"] == "inf") == (expected == "inf")
    assert any(r["steps_to_target"] != "inf" for r in rows)  # the target is within reach
    # the profiles come from the medians over the rerun seeds
    medians = np.array([[e["median_seconds"] for e in summary["entries"]]])
    assert summary["profiles"]["time"]["ratios"] == performance_ratios(medians).tolist()
    assert json.loads((tmp_path / "summary.json").read_text())["budget"] == 2


def _hyper(row: dict[str, str], run) -> dict:
    """The hyperparameters of ``run``'s optimizer as the row has them (numbers, flags)."""
    out = {}
    for k, v in run.hyperparameters.items():
        out[k] = (row[k] == "true") if isinstance(v, bool) else float(row[k])
    return out


def test_resume_after_an_interruption_gives_the_same_results(
    tmp_path: Path, easy, monkeypatch
) -> None:
    spec = ProtocolSpec(**SPEC, chunk_size=1)  # 4 tuning populations, then 2 of reruns
    straight = run_protocol(spec, tmp_path / "straight", engine="numpy", plots=False)
    real = protocol_module._train_chunk
    calls = []

    def interrupted_at_the_third(task, shared):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task, shared)

    monkeypatch.setattr(protocol_module, "_train_chunk", interrupted_at_the_third)
    out = tmp_path / "resumed"
    first = run_protocol(spec, out, engine="numpy", plots=False)
    assert first.status == "interrupted" and len(_rows(out / "results.csv")) == 2
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(protocol_module, "_train_chunk", real)
    lines: list[str] = []
    again = run_protocol(None, out, resume=True, engine="numpy", plots=False, log=lines.append)
    assert again.status == "completed" and again.n_new == 6
    assert "2 already done" in lines[0]
    assert _timeless(_rows(out / "results.csv")) == _timeless(straight.rows)
    # resuming a finished benchmark trains nothing and keeps every row
    before = (out / "results.csv").read_text()
    assert run_protocol(spec, out, resume=True, engine="numpy", plots=False).n_new == 0
    assert (out / "results.csv").read_text() == before


def test_resume_trains_again_the_population_of_a_damaged_row(tmp_path: Path, easy) -> None:
    spec = ProtocolSpec(**SPEC, chunk_size=1)
    done = run_protocol(spec, tmp_path, engine="numpy", plots=False)
    text = (tmp_path / "results.csv").read_text().splitlines()
    cells = text[2].split(",")
    cells[cells.index("numpy")] = "gpu"  # line 3: trial 1 of sgd
    text[2] = ",".join(cells)
    text[6] = text[6].replace("rerun", "tuning", 1)  # a rerun row that claims to be a trial
    (tmp_path / "results.csv").write_text("\n".join(text) + "\n")
    lines: list[str] = []
    again = run_protocol(None, tmp_path, resume=True, engine="numpy", plots=False, log=lines.append)
    assert again.n_new == 3  # the trial's population (1 run) and the rerun population (2)
    assert "damaged row" in lines[0] and "'engine' cell 'gpu'" in lines[0]
    assert _timeless(again.rows) == _timeless(done.rows)


def test_replot_rebuilds_the_figures_and_report_from_the_files_alone(tmp_path: Path, easy) -> None:
    spec = ProtocolSpec(**SPEC)
    run_protocol(spec, tmp_path, engine="numpy")
    made = [
        "summary.json",
        "tuning_budget.png",
        "performance_profile.png",
        "test_metric.png",
        "report.html",
    ]
    before = {name: (tmp_path / name).read_bytes() for name in made}
    for name in made:
        (tmp_path / name).unlink()
    summary, files = replot(tmp_path)
    assert files == made
    assert {name: (tmp_path / name).read_bytes() for name in made} == before
    assert summary["optimizers"] == ["sgd", "adam"]


def test_replot_refuses_an_incomplete_or_inconsistent_folder(tmp_path: Path, easy) -> None:
    run_protocol(ProtocolSpec(**SPEC), tmp_path, engine="numpy", plots=False)
    rows = (tmp_path / "results.csv").read_text().splitlines()
    (tmp_path / "results.csv").write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(DataError, match="not complete: 1 runs are missing"):
        replot(tmp_path)
    # a rerun row of another trial than the best
    last = rows[-1].split(",")
    last[3] = "1" if last[3] == "0" else "0"
    (tmp_path / "results.csv").write_text("\n".join([*rows[:-1], ",".join(last)]) + "\n")
    with pytest.raises(DataError, match=r"come from two trials|not runs of its best trial"):
        replot(tmp_path)
    with pytest.raises(DataError, match=r"no protocol\.json"):
        replot(tmp_path / "..")
    with pytest.raises(DataError, match="no such folder"):
        replot(tmp_path / "missing")


# ----------------------------------------------------------------------------- Dask


def test_protocol_on_dask_equals_the_local_run(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    spec = ProtocolSpec(
        problems=("seed-moons",), optimizers=(("adam", {}),), budget=2, seeds=1, epochs=3
    )
    local = run_protocol(spec, tmp_path / "local", engine="numpy", plots=False)
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        remote = run_protocol(
            spec,
            tmp_path / "dask",
            engine="numpy",
            plots=False,
            backend="dask",
            scheduler=cluster.scheduler_address,
        )
    finally:
        cluster.close()
    assert remote.status == "completed"
    assert _timeless(remote.rows) == _timeless(local.rows)


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"problems": ("nope",)}, "Unknown problem 'nope'"),
        ({"problems": ()}, "one or more problem names"),
        ({"problems": "digits"}, "list of one or more"),
        ({"problems": ("digits", "Digits")}, "digits are listed twice"),
        ({"optimizers": ()}, "at least one optimizer"),
        ({"optimizers": (("adamx", {}),)}, "Unknown optimizer 'adamx'"),
        ({"optimizers": (("adam", {}), ("adam", {}))}, "adam are listed twice"),
        ({"budget": 0}, r"'budget' parameter .* range \[1, 10000\]. Got 0"),
        ({"budget": 10**6}, "Got 1000000"),
        ({"budget": 2.5}, "'budget'"),
        ({"seeds": 0}, "number of rerun seeds"),
        ({"seeds": (1, 9)}, r"\[1\] are also tuning seeds"),
        ({"seeds": (20, 20)}, "distinct seeds"),
        ({"seed": -1}, "'seed'"),
        ({"seed": limits.MAX_SEED}, "past the largest seed"),
        ({"epochs": 0}, "'epochs'"),
        ({"chunk_size": 0}, "'chunk_size'"),
        (
            {"budget": 10000, "seeds": 10000, "problems": ("digits", "spiral", "breast-cancer")},
            r"would train 120000 runs .*limits\.MAX_RUNS",
        ),
    ],
)
def test_bad_specs_are_refused(changes, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        ProtocolSpec(**{**SPEC, "problems": ("digits",), **changes})


def test_nothing_is_written_for_bad_input(tmp_path: Path, easy) -> None:
    out = tmp_path / "never"
    bad = [
        (ProtocolSpec(**{**SPEC, "optimizers": (("adam", {"b1": 1.5}),)}), "'b1'"),
        (
            ProtocolSpec(**{**SPEC, "optimizers": (("sgd", {}), ("sgd", {"momentum": 0}))}),
            "sgd and sgd:momentum=0 make the same runs",
        ),
        ("not a spec", "must be of type ProtocolSpec"),
    ]
    for spec, match in bad:
        with pytest.raises(InvalidParameterError, match=match):
            run_protocol(spec, out)
    with pytest.raises(InvalidParameterError, match="backend"):
        run_protocol(ProtocolSpec(**SPEC), out, backend="cloud")
    with pytest.raises(InvalidParameterError, match="engine"):
        run_protocol(ProtocolSpec(**SPEC), out, engine="gpu")
    with pytest.raises(InvalidParameterError, match="Nothing to resume"):
        run_protocol(None, out, resume=True)
    quadratic = {**SPEC, "problems": ("noisy-quadratic",), "budget": 1, "seeds": 1}
    with pytest.raises(InvalidParameterError, match="cannot train sgd on noisy-quadratic: it "
                       "does not support an MSE"):  # fmt: skip
        run_protocol(ProtocolSpec(**quadratic), out, engine="compiled")
    assert not out.exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        run_protocol(ProtocolSpec(**SPEC), blocker)


def test_a_folder_of_another_benchmark_is_refused(tmp_path: Path, easy) -> None:
    spec = ProtocolSpec(**SPEC, epochs=2)
    run_protocol(spec, tmp_path, engine="numpy", plots=False)
    with pytest.raises(InvalidParameterError, match="already holds a benchmark"):
        run_protocol(spec, tmp_path)
    with pytest.raises(InvalidParameterError, match="different benchmark"):
        run_protocol(dataclasses.replace(spec, epochs=3), tmp_path, resume=True)
    other = tmp_path / "csv-only"
    other.mkdir()
    (other / "results.csv").write_text("x\n")
    with pytest.raises(InvalidParameterError, match=r"no protocol\.json"):
        run_protocol(spec, other)


def test_a_changed_problem_is_refused_on_resume(tmp_path: Path, easy, monkeypatch) -> None:
    run_protocol(ProtocolSpec(**SPEC, epochs=2), tmp_path, engine="numpy", plots=False)
    changed = dataclasses.replace(EASY, target=0.8)
    monkeypatch.setattr(descentlab.problems, "get_problem", lambda name: changed)
    with pytest.raises(
        InvalidParameterError, match=r"'easy-moons' has changed .*\(describe, target\)"
    ):
        run_protocol(None, tmp_path, resume=True)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "Cannot read .* as a benchmark"),
        ("[]", "the document must be a table"),
        (
            '{"spec": {}, "problems": [], "created": "", "descentlab_version": ""}',
            "has no 'problems'",
        ),
        ("SPEC_WITH_UNKNOWN_KEY", "unknown key 'colour'"),
        ("SPEC_WITH_BAD_BUDGET", "its spec is not valid: .*'budget'"),
        ("BAD_METRIC", "metric must be accuracy or loss"),
    ],
)
def test_a_damaged_protocol_json_is_one_line(tmp_path: Path, easy, text, match) -> None:
    run_protocol(ProtocolSpec(**SPEC, epochs=2), tmp_path, engine="numpy", plots=False)
    path = tmp_path / "protocol.json"
    doc = json.loads(path.read_text())
    if text == "SPEC_WITH_UNKNOWN_KEY":
        doc["colour"] = 1
        text = json.dumps(doc)
    elif text == "SPEC_WITH_BAD_BUDGET":
        doc["spec"]["budget"] = 0
        text = json.dumps(doc)
    elif text == "BAD_METRIC":
        doc["problems"][0]["metric"] = "speed"
        text = json.dumps(doc)
    path.write_text(text)
    before = (tmp_path / "results.csv").read_text()
    for action in (lambda: run_protocol(None, tmp_path, resume=True), lambda: replot(tmp_path)):
        with pytest.raises(DataError, match=match) as info:
            action()
        assert "\n" not in str(info.value)
    assert (tmp_path / "results.csv").read_text() == before


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"problem,label\x00\n", "NUL bytes"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a" * 70000 + b"\n", "longer than 65536"),
        (b"run_id,config_id\n", "not the results of this benchmark"),
    ],
)
def test_a_hostile_results_csv_is_one_line(tmp_path: Path, easy, content, match) -> None:
    run_protocol(ProtocolSpec(**SPEC, epochs=2), tmp_path, engine="numpy", plots=False)
    (tmp_path / "results.csv").write_bytes(content)
    with pytest.raises(DataError, match=match):
        run_protocol(None, tmp_path, resume=True)
    with pytest.raises(DataError, match=match.replace("this benchmark", "a benchmark protocol")):
        replot(tmp_path)


def test_auto_falls_back_to_numpy_where_the_compiled_engine_refuses(tmp_path: Path, monkeypatch):
    """``auto`` decided ``compiled`` for a problem whose network the compiled engine does not
    cover (an MSE network): the populations train with numpy, and the log says why."""
    import descentlab.compiled

    monkeypatch.setattr(descentlab.compiled, "resolve", lambda engine, **kw: ("compiled", ""))
    spec = ProtocolSpec(
        problems=("noisy-quadratic",), optimizers=(("sgd", {}),), budget=2, seeds=1, epochs=2
    )
    lines: list[str] = []
    result = run_protocol(spec, tmp_path, plots=False, log=lines.append)
    assert {r["engine"] for r in result.rows} == {"numpy"}
    assert {r["val_accuracy"] for r in result.rows} == {"nan"}  # regression: no accuracy
    said = [line for line in lines if line.startswith("engine auto: trained with numpy")]
    assert len(said) == 1 and "the compiled engine refused it" in said[0]
    assert "MSE" in said[0]
    with pytest.raises(InvalidParameterError, match="cannot train sgd on noisy-quadratic"):
        run_protocol(spec, tmp_path / "named", engine="compiled", plots=False)
    assert not (tmp_path / "named").exists()  # refused before anything was written
