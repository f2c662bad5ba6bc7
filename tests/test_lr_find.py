"""The learning-rate finder: its rates, smoothing, population, ramp, rules, suggestion and CLI."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from descentlab import MLP, train
from descentlab._validation import InvalidParameterError
from descentlab.cli import main
from descentlab.experiments.lr_find import (
    budget_epochs,
    log_rates,
    lr_find,
    lr_ramp,
    population_sweep,
    ramp_schedule,
    smooth,
    suggest_population,
    suggest_ramp,
)
from descentlab.experiments.population import Population, build_run_optimizer, evaluate
from descentlab.problems import get_problem

SEED_MOONS = get_problem("seed-moons")


def moons_run(optimizer: str = "adam", seed: int = 0, epochs: int = 4, **hyper):
    return SEED_MOONS.run(optimizer, hyper, seed=seed, epochs=epochs)


# ----------------------------------------------------------------------------- the math


def test_log_rates_are_the_documented_sequence() -> None:
    assert log_rates(1e-3, 10.0, 5).tolist() == pytest.approx(
        [1e-3, 1e-2, 1e-1, 1.0, 10.0], rel=1e-15
    )
    rates = log_rates(1e-6, 10.0, 32)
    expected = [1e-6 * (10.0 / 1e-6) ** (i / 31) for i in range(32)]
    np.testing.assert_allclose(rates, expected, rtol=1e-15)
    assert rates[0] == 1e-6 and rates[-1] == 10.0  # both ends exact


def test_ramp_schedule_grows_by_a_constant_factor() -> None:
    s = ramp_schedule(1e-4, 1.0, 5)
    assert [s(t) for t in range(6)] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.0], rel=1e-15)
    np.testing.assert_allclose(s(np.arange(5)), [s(t) for t in range(5)], rtol=0)


def test_smoothing_equals_its_formula() -> None:
    # avg_t = b avg_{t-1} + (1 - b) L_t, S_t = avg_t / (1 - b^(t+1)); b = 0.5 by hand:
    # avg = 0.5, 1.25, 2.125 -> S = 0.5/0.5, 1.25/0.75, 2.125/0.875
    np.testing.assert_allclose(smooth([1.0, 2.0, 3.0], 0.5), [1.0, 5 / 3, 17 / 7], rtol=1e-15)
    losses = np.random.default_rng(0).uniform(0.1, 2.0, 50)
    np.testing.assert_array_equal(smooth(losses, 0.0), losses)
    avg, expected = 0.0, []
    for t, value in enumerate(losses):
        avg = 0.98 * avg + 0.02 * value
        expected.append(avg / (1 - 0.98 ** (t + 1)))
    np.testing.assert_allclose(smooth(losses), expected, rtol=1e-14)


# ----------------------------------------------------------------------------- the rules


def test_population_rules() -> None:
    rates = np.array([0.001, 0.01, 0.1, 1.0, 10.0])
    loss = np.array([0.7, 0.5, 0.2, 0.215, 0.1])
    diverged = np.array([False, False, False, False, True])  # its 0.1 does not count
    s = suggest_population(rates, loss, diverged)
    assert (s.learning_rate, s.rule) == (0.1 / 2, "minimum")
    assert suggest_population(rates, loss, diverged, factor=10).learning_rate == 0.1 / 10
    s = suggest_population(rates, loss, diverged, "within")
    assert (s.learning_rate, s.rule) == (1.0, "within")  # 0.215 <= 0.2 * 1.1
    assert suggest_population(rates, loss, diverged, "within", tolerance=0.05).learning_rate == 0.1
    nan_loss = np.array([0.7, np.nan, 0.6, np.inf, 0.1])
    assert suggest_population(rates, nan_loss, diverged).learning_rate == 0.1 / 2  # 0.6
    nothing = suggest_population(rates, loss, np.ones(5, bool))
    assert nothing.learning_rate is None and "every rate diverged" in nothing.description


def test_ramp_rules() -> None:
    rates = log_rates(1e-4, 1.0, 5)
    smoothed = np.array([0.70, 0.69, 0.40, 0.35, 2.0])
    s = suggest_ramp(rates, smoothed)
    assert (s.learning_rate, s.rule) == (rates[1], "steepest")  # 0.69 -> 0.40
    s = suggest_ramp(rates, smoothed, "minimum")
    assert (s.learning_rate, s.rule) == (rates[3] / 10, "minimum")
    assert suggest_ramp(rates, np.array([0.1, 0.2, 0.3, 0.4, 0.5])).learning_rate is None
    # the first 10 % of the points are left out: a fall between steps 0 and 1 of 20 is noise
    rates20 = log_rates(1e-4, 1.0, 20)
    smoothed20 = np.linspace(0.7, 0.6, 20)
    smoothed20[0], smoothed20[12] = 5.0, 0.1
    assert suggest_ramp(rates20, smoothed20).learning_rate == rates20[11]


# ----------------------------------------------------------------------------- the two runs


def test_population_members_equal_separate_train_runs() -> None:
    """Each member's loss after the budget equals training that rate alone (to 1e-12), the
    diverged one included (gd at lr 300 diverges on seed-moons)."""
    data = SEED_MOONS.data()
    run = moons_run("gd", seed=2, epochs=6)
    rates = np.array([0.01, 0.3, 3.0, 300.0])
    sweep = population_sweep(run, data, rates, engine="numpy")
    net = MLP(data.layer_dims(run.layers), run.activation)
    for i, rate in enumerate(rates):
        alone = dataclasses.replace(
            run, hyperparameters={**run.hyperparameters, "learning_rate": rate}
        )
        result = train(
            net,
            build_run_optimizer(alone, SEED_MOONS.steps_per_epoch),
            data.train.X,
            data.train.y,
            epochs=alone.epochs,
            batch_size=alone.batch_size,
            seed=alone.seed,
            init=alone.init,
            shuffle=alone.shuffle,
            data_seed=alone.order_seed,
            engine="numpy",
        )
        with np.errstate(all="ignore"):
            loss = net.cost(result.params, data.train.X, net.targets(data.train.y))
            val = net.cost(result.params, data.val.X, net.targets(data.val.y))
        assert sweep.diverged[i] == result.diverged[0]
        np.testing.assert_allclose(sweep.loss[i], loss, rtol=1e-12)
        np.testing.assert_allclose(sweep.val_loss[i], val, rtol=1e-12)
    assert sweep.diverged.tolist() == [False, False, False, True]
    assert (sweep.epochs, sweep.steps) == (6, 30)


def test_population_loss_is_measured_in_blocks_of_members() -> None:
    """With 4000 training examples the training loss is measured 16 members at a time
    (2**16 member-examples); the values equal one call on the whole population."""
    from descentlab.experiments.data import load_experiment_data
    from descentlab.experiments.specs import DatasetSpec

    data = load_experiment_data(DatasetSpec("moons", n_samples=4000))
    run = dataclasses.replace(moons_run("adam", epochs=1), batch_size=1000)
    sweep = population_sweep(run, data, log_rates(1e-4, 1.0, 20), engine="numpy")
    population = Population(
        [dataclasses.replace(run, hyperparameters={**run.hyperparameters, "learning_rate": r})
         for r in sweep.rates],
        data,
    )  # fmt: skip
    params = population.train(engine="numpy").params
    net = population.net
    whole = net.cost(params, data.train.X, net.targets(data.train.y))[population.position]
    np.testing.assert_allclose(sweep.loss, whole, rtol=1e-12)
    assert np.all(np.isnan(sweep.val_loss))  # no validation data


def test_ramp_applies_the_documented_rates() -> None:
    """The ramp's losses equal a hand-written mini-batch gd loop at the rates
    ``lr_t = min * (max / min) ** (t / (T - 1))``: so those are the rates it applied."""
    data = SEED_MOONS.data()
    run = moons_run("gd", seed=1)
    T, low, high = 12, 1e-3, 1.0
    ramp = lr_ramp(run, data, min_lr=low, max_lr=high, steps=T, stop_factor=1e6)
    expected_rates = [low * (high / low) ** (t / (T - 1)) for t in range(T)]
    np.testing.assert_allclose(ramp.rates, expected_rates, rtol=1e-15)
    net = MLP(data.layer_dims(run.layers), run.activation)
    params = net.init(run.seed, method="he")
    X, Y = data.train.X, net.targets(data.train.y)
    rng = np.random.default_rng(run.seed)  # shuffle="random": one Generator from the seed
    losses = []
    for t in range(T):
        if t % 5 == 0:
            perm = rng.permutation(X.shape[1])
        cols = perm[(t % 5) * 64 : (t % 5 + 1) * 64]
        cost, grads = net.loss_and_grads(params, X[:, cols], Y[:, cols])
        losses.append(cost)
        params = {k: params[k] - expected_rates[t] * grads[k] for k in params}
    np.testing.assert_allclose(ramp.loss, losses, rtol=1e-12)
    np.testing.assert_array_equal(ramp.smoothed, smooth(ramp.loss, 0.98))
    assert ramp.stopped == "" and ramp.steps == T


def test_ramp_stops_when_the_smoothed_loss_explodes() -> None:
    ramp = lr_ramp(moons_run("gd", seed=0), SEED_MOONS.data(), min_lr=1e-2, max_lr=1e4, steps=200)
    n = ramp.rates.size
    assert n < 200 and "4x its lowest" in ramp.stopped
    running_min = np.minimum.accumulate(ramp.smoothed)
    assert np.all(ramp.smoothed[:-1] <= 4 * running_min[:-1])
    assert ramp.smoothed[-1] > 4 * running_min[-1]


# ----------------------------------------------------------------------------- the suggestion


@pytest.mark.parametrize(("optimizer", "need"), [("adam", 4), ("gd", 3)])
def test_suggestion_on_the_seed_problem_trains(optimizer: str, need: int) -> None:
    """Train seed-moons for its budget (500 epochs) at the finder's suggestion (default
    settings, 40-epoch population), seeds 0-3: the validation accuracy reaches the problem's
    target 0.9. Measured: adam at 0.078, 0.028, 0.046, 0.078 reaches 0.950-0.963 in all four;
    gd at 0.62, 0.62, 1.05, 0.22 reaches 0.953 in seeds 1-3, while seed 0 stalls at 0.857
    (the tiny network stalls at some seeds whatever the rate: docs/problems.md). Over seeds
    0-7 and gd, momentum and adam, 21 of 24 suggestions reach the target (the ramp's 11)."""
    data = SEED_MOONS.data()
    seeds = range(4)
    suggested = []
    for seed in seeds:
        found = lr_find(moons_run(optimizer, seed, budget_epochs(data, 64)), data)
        assert found.suggestion.rule == "minimum"
        suggested.append(found.suggestion.learning_rate)
    runs = [
        SEED_MOONS.run(optimizer, {"learning_rate": lr}, seed=s)
        for s, lr in zip(seeds, suggested, strict=True)
    ]
    population = Population(runs, data)
    result = population.train(engine="numpy")
    accuracy = evaluate(population.net, result.params, data)["val_accuracy"][population.position]
    assert SEED_MOONS.reached(accuracy).sum() >= need, (suggested, accuracy)
    low, high = (0.00178, 0.316) if optimizer == "adam" else (0.1, 1.78)  # 5+ of 8 seeds reach
    assert all(low <= lr <= high for lr in suggested), suggested


# ----------------------------------------------------------------------------- the command


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_writes_the_python_apis_values(tmp_path, capsys) -> None:
    out = tmp_path / "lr"
    argv = ["lr-find", "--problem", "seed-moons", "--rates", "5", "--epochs", "3"]
    rc = main([*argv, "--ramp-steps", "15", "--seed", "2", "--engine", "numpy", "--out", str(out)])
    stdout, _ = capsys.readouterr()
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["lr-find.csv", "lr-find.json", "lr-find.png"]
    assert (out / "lr-find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    found = lr_find(
        moons_run("adam", seed=2, epochs=3), SEED_MOONS.data(), n_rates=5, ramp_steps=15
    )
    rows = _rows(out / "lr-find.csv")
    assert len(rows) == 5 + found.ramp.rates.size
    for row, expected in zip(rows, found.rows(), strict=True):
        assert row["curve"] == expected["curve"] and int(row["index"]) == expected["index"]
        for key in ("learning_rate", "loss", "smoothed_loss", "val_loss"):
            value = expected[key]
            assert row[key] == ("" if value is None else repr(value)), key
    summary = json.loads((out / "lr-find.json").read_text())
    assert summary["suggestion"]["learning_rate"] == found.suggestion.learning_rate
    assert summary["ramp_suggestion"]["learning_rate"] == found.ramp_suggestion.learning_rate
    assert (summary["epochs"], summary["steps"], summary["n_rates"]) == (3, 15, 5)
    assert f"suggested learning rate: {found.suggestion.learning_rate:.3g} (rule minimum)" in stdout
    assert stdout.splitlines()[1].split()[:3] == [
        "population",
        f"{found.suggestion.learning_rate:.3g}",
        "minimum",
    ]


def test_cli_on_a_dataset_with_its_own_network(tmp_path, capsys) -> None:
    out = tmp_path / "lr"
    rc = main(
        ["lr-find", "--dataset", "moons:n_samples=80", "--layers", "4", "--optimizer",
         "sgd:momentum=0.9", "--rates", "3", "--ramp-steps", "5", "--out", str(out), "-q",
         "--format", "json"]
    )  # fmt: skip
    stdout, err = capsys.readouterr()
    assert rc == 0 and err == ""
    summary = json.loads(stdout)
    assert summary["layer_dims"] == [2, 4, 1] and summary["optimizer"] == "sgd"
    assert summary["hyperparameters"]["momentum"] == 0.9
    assert summary["epochs"] == 100  # 80 examples, batches of 64: 2 steps an epoch, 200 steps
    assert summary == json.loads((out / "lr-find.json").read_text())


def test_help_and_listing(capsys) -> None:
    assert main(["lr-find", "--help"]) == 0
    out = capsys.readouterr().out
    assert "descentlab lr-find --problem seed-moons" in out.split("examples:")[1]
    assert main(["--help"]) == 0
    assert "    lr-find     find a learning rate" in capsys.readouterr().out


REFUSALS = [
    (["--min-lr", "1", "--max-lr", "0.1"], "'min_lr' parameter of lr_find must be below"),
    (["--min-lr", "0.1", "--max-lr", "0.1"], "must be below 'max_lr'"),
    (["--min-lr", "nan"], "expected a finite number"),
    (["--max-lr", "inf"], "expected a finite number"),
    (["--min-lr", "-1"], "'min_lr' parameter of lr_find must be a float in the range (0.0"),
    (["--max-lr", "1e5"], "'max_lr' parameter of lr_find must be a float in the range"),
    (["--rates", "1"], "'n_rates' parameter of lr_find must be an int in the range [2, 10000]"),
    (["--rates", "1000000"], "'n_rates' parameter"),
    (["--rates", "10000", "--layers", "4096,4096"], "would need about"),
    (["--ramp-steps", "1"], "'ramp_steps' parameter"),
    (["--epochs", "-3"], "'epochs'"),
    (["--epochs", "0"], "'epochs'"),
    (["--optimizer", "nosuch"], "nosuch"),
    (["--optimizer", "adam:lr=0.1"], "remove lr from it"),
    (["--optimizer", "adam,gd"], "--optimizer takes one optimizer"),
    (["--optimizer", "adam:b1=1.5"], "'b1' parameter of adam"),
    (["--problem", "nosuch"], "nosuch"),
    (["--problem", "seed-moons", "--dataset", "iris"], "not both"),
    (["--factor", "0.5"], "'factor' parameter"),
    (["--tolerance", "-1"], "'tolerance' parameter"),
    (["--smoothing", "1"], "'smoothing' parameter"),
    (["--stop-factor", "1"], "'stop_factor' parameter"),
    (["--rule", "best"], "invalid choice"),
]


@pytest.mark.parametrize(("extra", "message"), REFUSALS)
def test_cli_refuses_in_one_line_before_writing(tmp_path, capsys, extra, message) -> None:
    out = tmp_path / "never"
    rc = main(["lr-find", *extra, "--out", str(out), "-q"])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("descentlab: error:"), err
    assert message in lines[0], lines[0]
    assert not out.exists()


def test_api_refusals() -> None:
    data = SEED_MOONS.data()
    run = moons_run()
    with pytest.raises(InvalidParameterError, match="must have no schedule"):
        lr_find(
            dataclasses.replace(run, schedule="cosine", schedule_settings={"decay_steps": 5}), data
        )
    with pytest.raises(
        InvalidParameterError, match="'run' parameter of lr_find must be of type Run"
    ):
        lr_find("adam", data)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'engine' parameter"):
        lr_find(run, data, engine="gpu")
    with pytest.raises(InvalidParameterError, match="'n_rates' parameter"):
        lr_find(run, data, n_rates=2.5)


def test_the_package_offers_lr_find_and_usage_errors_point_to_its_help(capsys):
    import descentlab
    from descentlab.experiments.lr_find import lr_find as the_finder

    assert descentlab.lr_find is the_finder and "lr_find" in descentlab.__all__
    assert main(["lr-find", "--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("(see 'descentlab lr-find --help')")
