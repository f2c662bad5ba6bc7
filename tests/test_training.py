"""The training engine: equal to the seed's loop written out, stopping rules, history, errors."""

import contextlib
import io
import warnings

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import load_moons
from descentlab.nn import MLP
from descentlab.optimizers import EmptyState, GradientTransformation, adam, gd, momentum
from descentlab.training import EarlyStopping, check_memory, train

MOONS = load_moons()
NET = MLP((2, 5, 2, 1))


def _seed_loop(X, Y, epochs, lr=0.0007, b1=0.9, b2=0.999, eps=1e-8):
    """The seed's model() with Adam, written out the seed's way (dicts, per-layer loops)."""
    np.random.seed(3)
    dims = [2, 5, 2, 1]
    p = {}
    for l in range(1, 4):
        p[f"W{l}"] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        p[f"b{l}"] = np.zeros((dims[l], 1))
    v = {k: np.zeros_like(a) for k, a in p.items()}
    s = {k: np.zeros_like(a) for k, a in p.items()}
    t, seed, costs, last_costs = 0, 10, [], []
    m = X.shape[1]
    for _ in range(epochs):
        seed += 1
        perm = np.random.RandomState(seed).permutation(m)
        total = 0.0
        for k in range(0, m, 64):
            idx = perm[k : k + 64]
            x, y = X[:, idx], Y[:, idx]
            a0 = x
            a1 = np.maximum(0, p["W1"] @ a0 + p["b1"])
            a2 = np.maximum(0, p["W2"] @ a1 + p["b2"])
            a3 = 1 / (1 + np.exp(-(p["W3"] @ a2 + p["b3"])))
            batch_cost = np.sum(-y * np.log(a3) - (1 - y) * np.log(1 - a3))
            total += batch_cost
            dz3 = (a3 - y) / x.shape[1]
            dz2 = (p["W3"].T @ dz3) * (a2 > 0)
            dz1 = (p["W2"].T @ dz2) * (a1 > 0)
            g = {
                "W3": dz3 @ a2.T,
                "b3": dz3.sum(1, keepdims=True),
                "W2": dz2 @ a1.T,
                "b2": dz2.sum(1, keepdims=True),
                "W1": dz1 @ a0.T,
                "b1": dz1.sum(1, keepdims=True),
            }
            t += 1
            for key in p:
                v[key] = b1 * v[key] + (1 - b1) * g[key]
                s[key] = b2 * s[key] + (1 - b2) * g[key] ** 2
                v_hat = v[key] / (1 - b1**t)
                s_hat = s[key] / (1 - b2**t)
                p[key] = p[key] - lr * v_hat / np.sqrt(s_hat + eps)
        costs.append(total / m)
        last_costs.append(batch_cost / x.shape[1])
    return p, np.array(costs), np.array(last_costs)


def test_engine_equals_the_seed_loop_written_out():
    expected, costs, last_costs = _seed_loop(MOONS.X, MOONS.Y, epochs=30)
    r = train(
        NET,
        adam(0.0007, eps=0.0, eps_root=1e-8),
        MOONS.X,
        MOONS.y,
        epochs=30,
        init="seed",
        shuffle="seed",
        data_seed=10,
    )
    for k in expected:
        np.testing.assert_allclose(r.params[k], expected[k], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r.history.cost, costs, rtol=1e-12)
    # the last mini-batch's own cost (20 examples of 300), not the epoch's mean
    np.testing.assert_allclose(r.history.last_batch_cost, last_costs, rtol=1e-12)
    assert not np.allclose(r.history.last_batch_cost, r.history.cost, rtol=1e-3)
    assert r.status == "completed" and r.message == ""
    np.testing.assert_array_equal(r.history.learning_rate, np.full(30, 0.0007))


def test_history_records_accuracies_on_schedule_and_validation():
    train_part, val_part = MOONS.split(0.25, seed=0)
    r = train(
        NET,
        adam(0.01),
        train_part.X,
        train_part.y,
        epochs=25,
        seed=0,
        eval_every=10,
        validation=(val_part.X, val_part.y),
    )
    np.testing.assert_array_equal(r.history.eval_epochs, [0, 9, 19, 24])
    final = NET.accuracy(r.params, val_part.X, val_part.y)
    assert r.history.val_accuracy[-1] == final
    assert r.history.train_accuracy[-1] == NET.accuracy(r.params, train_part.X, train_part.y)
    assert r.history.cost.shape == r.history.last_batch_cost.shape == (25,)
    assert r.history.cost[-1] < r.history.cost[0]


def test_batch_size_one_and_full_batch():
    X, y = MOONS.X[:, :20], MOONS.y[:20]
    full = train(NET, gd(0.1), X, y, epochs=3, batch_size=1000, seed=1, shuffle="none")
    params = NET.init(1)
    for _ in range(3):  # batch gradient descent by hand
        _, g = NET.loss_and_grads(params, X, NET.targets(y))
        params = {k: params[k] - 0.1 * g[k] for k in params}
    for k in params:
        np.testing.assert_allclose(full.params[k], params[k], rtol=1e-13)
    sgd_run = train(NET, gd(0.1), X, y, epochs=1, batch_size=1, seed=1, shuffle="none")
    params = NET.init(1)
    for j in range(20):  # one update per example
        _, g = NET.loss_and_grads(params, X[:, j : j + 1], NET.targets(y[j : j + 1]))
        params = {k: params[k] - 0.1 * g[k] for k in params}
    for k in params:
        np.testing.assert_allclose(sgd_run.params[k], params[k], rtol=1e-12)


def test_divergence_stops_with_a_message_and_keeps_the_history():
    r = train(NET, momentum(1e3, 0.9), MOONS.X, MOONS.y, epochs=50, seed=0)
    assert r.status == "diverged" and r.history.n_epochs == 4
    assert "diverged at epoch" in r.message and "learning rate" in r.message
    assert r.history.n_epochs < 50
    assert not r.history.cost[-1] <= 100 * np.log(2)  # the default max_cost
    assert np.all(r.history.cost[:-1] <= 100 * np.log(2))
    assert r.diverged.tolist() == [True]
    # a transformation that makes the weights NaN: so does the cost
    blow_up = GradientTransformation(
        lambda params: EmptyState(),
        lambda g, state, params=None: ({k: np.nan * v for k, v in g.items()}, state),
    )
    nan_run = train(NET, blow_up, MOONS.X, MOONS.y, epochs=5, seed=0)
    assert nan_run.status == "diverged" and np.isnan(nan_run.history.cost[-1])


def test_an_infinite_cost_is_divergence():
    """A huge weight on a one-unit network makes the cost +inf (not NaN): that is divergence."""
    net = MLP((1, 1))
    params = {"W1": np.array([[1e307]]), "b1": np.zeros((1, 1))}
    X, y = np.array([[9.0, 9.0]]), np.array([0, 0])  # logits 9e307: finite, their sum is not
    with np.errstate(over="ignore"):
        assert net.cost(params, X, net.targets(y)) == np.inf
    r = train(net, gd(1.0), X, y, epochs=3, params=params, shuffle="none")
    assert r.status == "diverged" and r.diverged.tolist() == [True]
    assert r.history.n_epochs == 1 and r.history.cost[0] == np.inf


def test_population_member_diverging_does_not_stop_the_others():
    r = train(NET, gd(np.array([0.1, 1e4])), MOONS.X, MOONS.y, epochs=20, seed=[0, 0])
    assert r.status == "completed" and r.history.n_epochs == 20
    assert r.diverged.tolist() == [False, True]
    assert "1 of 2 members diverged" in r.message
    solo = train(NET, gd(0.1), MOONS.X, MOONS.y, epochs=20, seed=0)
    np.testing.assert_array_equal(r.params["W1"][0], solo.params["W1"])
    # Member 1 seen alone is exactly the lone diverging run: stopped, message, parameters.
    lone = train(NET, gd(1e4), MOONS.X, MOONS.y, epochs=20, seed=0)
    member = r.member(1)
    assert lone.status == member.status == "diverged"
    assert member.message == lone.message and member.history.n_epochs == lone.history.n_epochs
    for k in lone.params:
        np.testing.assert_array_equal(member.params[k], lone.params[k])
    np.testing.assert_array_equal(member.history.cost, lone.history.cost)
    assert r.member(0).status == "completed" and r.member(0).history.n_epochs == 20
    # on_epoch sees which members have stopped (from the epoch they diverged at)
    seen = []
    train(
        NET, gd(np.array([0.1, 1e4])), MOONS.X, MOONS.y, epochs=3, seed=[0, 0],
        on_epoch=lambda epoch, logs: seen.append(logs["stopped"].tolist()),
    )  # fmt: skip
    assert seen == [[False, True]] * 3


def test_early_stopping_keeps_the_parameters_it_stopped_with():
    early = EarlyStopping("cost", patience=3, min_delta=1.0)  # nothing improves by 1.0
    r = train(NET, adam(0.01), MOONS.X, MOONS.y, epochs=100, seed=0, callbacks=[early])
    assert r.status == "early_stopped"
    assert int(r.stopped_epoch[0]) == 3 and r.history.n_epochs == 4
    again = train(NET, adam(0.01), MOONS.X, MOONS.y, epochs=4, seed=0)
    for k in again.params:
        np.testing.assert_array_equal(r.params[k], again.params[k])


def test_ctrl_c_returns_the_history_so_far():
    def interrupt(epoch, logs):
        if epoch == 6:
            raise KeyboardInterrupt

    r = train(NET, gd(0.1), MOONS.X, MOONS.y, epochs=100, seed=0, on_epoch=interrupt)
    assert r.status == "interrupted" and "7 of 100 epochs" in r.message
    assert r.history.n_epochs == 7


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"epochs": 0},
            InvalidParameterError,
            "'epochs' parameter of train must be an int in the range \\[1, 10000000\\]",
        ),
        (
            {"epochs": 2, "batch_size": 0},
            InvalidParameterError,
            "'batch_size' parameter of train must be an int >= 1",
        ),
        ({"epochs": 2, "shuffle": "sometimes"}, InvalidParameterError, "'shuffle' parameter"),
        (
            {"epochs": 2, "seed": [1, 2], "data_seed": [1, 2, 3]},
            DataError,
            "3 data seeds for a population of 2",
        ),
    ],
)
def test_bad_settings_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        train(NET, gd(0.1), MOONS.X, MOONS.y, **kwargs)


def test_bad_data_raises():
    X = np.array(MOONS.X)
    X[1, 7] = np.nan
    with pytest.raises(DataError, match=r"X contains NaN or inf \(first at index \(1, 7\)\)"):
        train(NET, gd(0.1), X, MOONS.y, epochs=1)
    with pytest.raises(DataError, match="Found 300 examples in X and 299 labels"):
        train(NET, gd(0.1), MOONS.X, MOONS.y[:299], epochs=1)
    with pytest.raises(DataError, match=r"class indices in \[0, 1\]"):
        train(NET, gd(0.1), MOONS.X, MOONS.y * 2, epochs=1)
    with pytest.raises(DataError, match="expects 2 features"):
        train(NET, gd(0.1), MOONS.X[:1], MOONS.y, epochs=1)


# --------------------------------------------------------------------------- refusals, exactly
SMALL_X, SMALL_Y = MOONS.X[:, :20], MOONS.y[:20]


def _error(call):
    """The (type name, message) ``call`` raises."""
    try:
        call()
    except Exception as exc:  # the test compares the type by name
        return type(exc).__name__, str(exc)
    raise AssertionError("no error raised")


def _train_small(**kwargs):
    return train(kwargs.pop("net", NET), kwargs.pop("opt", gd(0.1)), kwargs.pop("X", SMALL_X),
                 kwargs.pop("y", SMALL_Y), **{"epochs": 1, **kwargs})  # fmt: skip


TRAIN_REFUSALS = [
    ({"net": "net"}, "The 'net' parameter of train must be an MLP. Got str instead."),
    (
        {"opt": "adam"},
        "The 'optimizer' parameter of train must be a GradientTransformation (e.g. "
        "descentlab.optimizers.adam(0.001)). Got str instead.",
    ),
    (
        {"callbacks": [1]},
        "The 'callbacks' parameter of train must be a sequence of callables (epoch, logs) -> "
        "stop. Got [1] instead.",
    ),
    (
        {"shuffle": "sometimes"},
        "The 'shuffle' parameter of train must be one of 'seed', 'random', 'none'. "
        "Got 'sometimes' instead.",
    ),
    (
        {"init": "zeros"},
        "The 'init' parameter of train must be one of 'he', 'xavier', 'seed'. Got 'zeros' instead.",
    ),
    ({"eval_every": 0}, "The 'eval_every' parameter of train must be an int >= 1. Got 0 instead."),
    ({"max_cost": 0}, "The 'max_cost' parameter of train must be a float > 0.0. Got 0 instead."),
    (
        {"max_cost": [1.0, 2.0]},
        "The 'max_cost' parameter of train must be a float > 0.0. Got [1.0, 2.0] (list) instead.",
    ),
    (
        {"validation": (SMALL_X,)},
        "The 'validation' parameter of train must be a pair (X_val, y_val).",
    ),
    (
        {"validation": (SMALL_X[None], SMALL_Y)},
        "X_val must be 2-D (n_features, m); got shape (1, 2, 20).",
    ),
    (
        {"seed": "abc", "shuffle": "none"},
        "The 'seed' parameter of train must be an int in [0, 2**32 - 1], a sequence of them or "
        "None. Got 'abc' instead.",
    ),
    (
        {"data_seed": "x"},
        "The 'data_seed' parameter of train must be an int in [0, 2**32 - 1], a sequence of them "
        "or None. Got 'x' instead.",
    ),
    (
        {"seed": [1, 2], "data_seed": [1, 2, 3]},
        "Got 3 data seeds for a population of 2 networks; give one data seed per member or a "
        "single shared one.",
    ),
    ({"X": [[1, "a"]]}, "X must be an array of numbers: could not convert string to float: 'a'."),
    ({"X": SMALL_X[None]}, "X must be 2-D (n_features, m); got shape (1, 2, 20)."),
    (  # a missing value (None) in a list is a NaN, found where it is
        {"X": [[0.5, None], [1.0, 2.0]], "y": [0, 1]},
        "X contains NaN or inf (first at index (0, 1)); remove or impute those values first.",
    ),
    (
        {"y": np.array(["a"] * 20)},
        "Labels must be class indices (numbers); got an array of dtype <U1.",
    ),
    (  # the first wrong label is named: too large, not after a valid one
        {"y": np.r_[[0, 1, 2, 5], np.zeros(16, dtype=int)]},
        "Labels must be class indices in [0, 1] for this network; found np.int64(2).",
    ),
    (
        {"y": np.r_[[0, 1, 0.5, 3, -1], np.zeros(15)]},
        "Labels must be class indices in [0, 1] for this network; found np.float64(0.5).",
    ),
    (
        {"y": np.r_[[0, 1, 1, -1, 3], np.zeros(15)]},
        "Labels must be class indices in [0, 1] for this network; found np.float64(-1.0).",
    ),
]


@pytest.mark.parametrize("kwargs, message", TRAIN_REFUSALS)
def test_train_refusals_name_the_argument_exactly(kwargs, message):
    kind = "DataError" if message[0] in "XLG" else "InvalidParameterError"
    assert _error(lambda: _train_small(**kwargs)) == (kind, message)


def test_early_stopping_refusals_and_defaults_exactly():
    assert _error(lambda: EarlyStopping(monitor="loss")) == (
        "InvalidParameterError",
        "The 'monitor' parameter of EarlyStopping must be one of 'cost', 'val_cost', 'val_accuracy'. "
        "Got 'loss' instead.",
    )
    assert _error(lambda: EarlyStopping(patience=0)) == (
        "InvalidParameterError",
        "The 'patience' parameter of EarlyStopping must be an int >= 1. Got 0 instead.",
    )
    assert _error(lambda: EarlyStopping(min_delta=-1)) == (
        "InvalidParameterError",
        "The 'min_delta' parameter of EarlyStopping must be a float >= 0.0. Got -1 instead.",
    )
    assert _error(lambda: EarlyStopping(min_delta=[0.1])) == (
        "InvalidParameterError",
        "The 'min_delta' parameter of EarlyStopping must be a float >= 0.0. "
        "Got [0.1] (list) instead.",
    )
    default = EarlyStopping()
    assert (default.monitor, default.patience, default.min_delta) == ("cost", 100, 0.0)
    assert default.best is None and default.wait is None  # nothing seen yet
    assert EarlyStopping("val_accuracy", patience=2.0).patience == 2


def test_memory_refusal_counts_members_and_names_the_limit():
    tail = (
        "the limit is 4 GiB (descentlab.limits.MAX_MEMORY_BYTES). "
        "Train fewer networks or epochs at once, or a smaller network."
    )
    lone = MLP((2, 10000, 10000, 1))  # 100 million parameters: refused before anything is made
    assert _error(lambda: _train_small(net=lone)) == (
        "InvalidParameterError",
        "This training would need about 5.97 GiB (1 network of 100050001 parameters, "
        f"20 examples, batches of 20, 1 epochs); {tail}",
    )
    half = MLP((2, 7000, 7000, 1))  # one fits (2.93 GiB), two do not
    two = (
        "InvalidParameterError",
        "This training would need about 5.85 GiB (2 networks of 49035001 parameters, "
        f"20 examples, batches of 8, 1 epochs); {tail}",
    )
    assert _error(lambda: _train_small(net=half, seed=[0, 1], batch_size=8)) == two
    assert _error(lambda: _train_small(net=half, data_seed=[0, 1], batch_size=8)) == two
    # exactly at the limit is allowed: 8 * (16 + 6 + 4 + 3 * 178956962) bytes = 4 GiB
    check_memory(MLP((1, 1)), 1, 1, 2, 178956962)
    assert _error(lambda: check_memory(MLP((1, 1)), 1, 1, 2, 178956963))[1].startswith(
        "This training would need about 4 GiB (1 network of 2 parameters, 2 examples, "
        "batches of 1, 178956963 epochs)"
    )


# --------------------------------------------------------------------------- early stopping
def test_early_stopping_counts_epochs_without_improvement_per_member():
    """Improving means beating the best by more than ``min_delta`` (equal is not enough)."""
    early = EarlyStopping("cost", patience=2, min_delta=0.25)
    steps = [  # (costs of 2 members, stop?, best, wait) — dyadic values, so the ties are exact
        ([2.0, 1.0], False, [2.0, 1.0], [0, 0]),
        ([1.5, 0.875], [False, False], [1.5, 1.0], [0, 1]),  # 1.5 < 1.75; 0.875 !< 0.75
        ([1.25, 0.75], [False, True], [1.5, 1.0], [1, 2]),  # ties with best - min_delta
        ([1.0, 0.5], [False, False], [1.0, 0.5], [0, 0]),
        ([4.0, 0.5], [False, False], [1.0, 0.5], [1, 1]),
    ]
    for epoch, (cost, stop, best, wait) in enumerate(steps):
        out = early(epoch, {"cost": np.array(cost), "last_batch_cost": np.zeros(2)})
        if stop is False:
            assert out is False or out.tolist() == [False, False]
        else:
            assert out.tolist() == stop
        assert early.best.tolist() == best and early.wait.tolist() == wait
        assert early.wait.dtype == np.dtype(int)
    assert early(5, {"cost": [1.0, 0.5]}).tolist() == [True, True]  # a list works too


def test_early_stopping_on_validation_accuracy_wants_it_higher():
    early = EarlyStopping("val_accuracy", patience=1, min_delta=0.25)
    assert early(0, {"cost": np.array(0.5)}) is False  # no evaluation this epoch: not counted
    assert early(1, {"val_accuracy": np.array(0.5)}) is False
    assert early.best.tolist() == -0.5
    assert bool(early(2, {"val_accuracy": np.array(0.75)})) is True  # +0.25 is not more
    early = EarlyStopping("val_accuracy", patience=1, min_delta=0.25)
    early(0, {"val_accuracy": 0.25})
    assert bool(early(1, {"val_accuracy": 0.625})) is False and early.best.tolist() == -0.625
    assert bool(early(2, {"val_accuracy": 0.5})) is True


def test_early_stopping_reads_any_numbers():
    from decimal import Decimal

    early = EarlyStopping("cost", patience=1)
    early(0, {"cost": Decimal("0.5")})
    assert bool(early(1, {"cost": Decimal("0.5")})) is True and early.best.dtype == np.float64


# --------------------------------------------------------------------------- the loop's records
def _stop_at(schedule):
    """A callback asking member k to stop from epoch ``schedule[k]`` on (None: never)."""

    def callback(epoch, logs):
        return np.array([s is not None and epoch >= s for s in schedule])

    return callback


def test_callbacks_stop_members_once_and_each_keeps_its_parameters():
    epochs_seen = []

    def record(epoch, logs):
        epochs_seen.append(epoch)
        return False

    r = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=5, seed=[0, 1], shuffle="none",
              callbacks=[_stop_at([0, 2]), record])  # fmt: skip
    assert epochs_seen == [0, 1, 2]
    assert r.status == "early_stopped" and r.message == "Stopped early at epoch 2."
    assert r.stopped_epoch.tolist() == [0, 2] and r.diverged.tolist() == [False, False]
    assert r.history.n_epochs == 3
    for k, epochs in ((0, 1), (1, 3)):
        alone = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=epochs, seed=k, shuffle="none")
        member = r.member(k)
        assert member.status == "early_stopped"
        assert member.message == f"Stopped early at epoch {epochs - 1}."
        assert member.stopped_epoch.tolist() == [epochs - 1] and member.diverged.tolist() == [False]
        assert member.seconds == r.seconds and member.max_cost == r.max_cost == 100 * np.log(2)
        for key in alone.params:
            np.testing.assert_array_equal(member.params[key], alone.params[key])
        for field in ("cost", "last_batch_cost", "learning_rate"):
            np.testing.assert_array_equal(
                getattr(member.history, field), getattr(alone.history, field), err_msg=field
            )
        # the evaluations made up to its stop (epoch 0 only: the population's next was at 4)
        np.testing.assert_array_equal(member.history.eval_epochs, [0])
        np.testing.assert_array_equal(
            member.history.train_accuracy, alone.history.train_accuracy[:1]
        )
        assert member.history.val_accuracy.shape == (0,)


def test_a_callback_mask_of_zeros_and_ones_stops_only_the_ones():
    r = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=3, seed=[0, 1], shuffle="none",
              callbacks=[lambda epoch, logs: [0, 1]])  # fmt: skip
    assert r.stopped_epoch.tolist() == [-1, 0] and r.status == "completed" and r.message == ""
    member = r.member(0)
    assert (member.status, member.message, member.history.n_epochs) == ("completed", "", 3)
    lone = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=3, seed=0, shuffle="none")
    assert lone.stopped_epoch.tolist() == [-1] and lone.member(0) is lone
    np.testing.assert_array_equal(lone.history.member(0).cost, lone.history.cost)
    np.testing.assert_array_equal(
        lone.history.member(0).train_accuracy, lone.history.train_accuracy
    )


def test_history_head_keeps_the_first_epochs_and_their_evaluations():
    r = train(NET, adam(0.01), SMALL_X, SMALL_Y, epochs=6, seed=[0, 1], eval_every=2,
              validation=(SMALL_X, SMALL_Y))  # fmt: skip
    head = r.history.head(3)
    np.testing.assert_array_equal(head.eval_epochs, [0, 1])
    for field in ("cost", "last_batch_cost", "learning_rate"):
        np.testing.assert_array_equal(getattr(head, field), getattr(r.history, field)[:3])
    for field in ("train_accuracy", "val_accuracy"):
        np.testing.assert_array_equal(getattr(head, field), getattr(r.history, field)[:2])
    assert r.history.val_accuracy.shape == (4, 2)
    one = r.history.member(1)
    np.testing.assert_array_equal(one.val_accuracy, r.history.val_accuracy[:, 1])
    np.testing.assert_array_equal(one.learning_rate, np.full(6, 0.01))
    # without validation data the validation accuracies are empty, with the member axis
    plain = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=[0, 1])
    assert plain.history.val_accuracy.shape == (0, 2)
    lone = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=0)
    assert lone.history.val_accuracy.shape == (0,)


def test_ctrl_c_in_the_first_epoch_gives_an_empty_history():
    def interrupt(grads, state, params=None):
        raise KeyboardInterrupt

    stop = GradientTransformation(lambda params: EmptyState(), interrupt)
    for seed, lead in ((0, ()), ([0, 1], (2,))):
        r = train(NET, stop, SMALL_X, SMALL_Y, epochs=5, seed=seed)
        assert r.status == "interrupted"
        assert r.message == "Interrupted after 0 of 5 epochs; the history so far is kept."
        h = r.history
        assert h.n_epochs == 0 and h.cost.shape == h.learning_rate.shape == (0, *lead)
        assert h.eval_epochs.shape == (0,) and h.eval_epochs.dtype == np.dtype(int)
        assert h.train_accuracy.shape == (0, *lead)
    r = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=5, seed=[0, 1],
              on_epoch=lambda epoch, logs: epoch < 2 or _raise(KeyboardInterrupt))  # fmt: skip
    assert r.status == "interrupted" and r.member(1).status == "interrupted"
    expected = "Interrupted after 3 of 5 epochs; the history so far is kept."
    assert r.member(1).message == r.message == expected


def _raise(exc):
    raise exc


def test_on_epoch_sees_the_logs_the_parameters_and_the_stopped_members():
    seen = []

    def look(epoch, logs):
        seen.append((epoch, sorted(logs), logs["params"]["b3"].copy()))

    r = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=0, on_epoch=look,
              validation=(SMALL_X, SMALL_Y))  # fmt: skip
    keys = ["cost", "last_batch_cost", "params", "stopped", "train_accuracy", "val_accuracy",
            "val_cost"]  # fmt: skip
    assert [(e, k) for e, k, _ in seen] == [(0, keys), (1, keys)]
    np.testing.assert_array_equal(seen[-1][2], r.params["b3"])
    # the validation cost at the last evaluation is the network's cost there
    expected = NET.cost(r.params, SMALL_X, NET.targets(SMALL_Y))
    assert r.history.val_cost.shape == (2,)
    assert r.history.val_cost[-1] == pytest.approx(float(expected), rel=1e-12)


def test_resuming_with_the_optimizer_state_equals_one_longer_run():
    run = dict(epochs=2, shuffle="none", batch_size=8)
    first = train(NET, adam(0.01), SMALL_X, SMALL_Y, seed=0, **run)
    assert first.opt_state is not None
    again = train(NET, adam(0.01), SMALL_X, SMALL_Y, params=first.params,
                  opt_state=first.opt_state, **run)  # fmt: skip
    whole = train(NET, adam(0.01), SMALL_X, SMALL_Y, seed=0, **{**run, "epochs": 4})
    for k in whole.params:
        np.testing.assert_array_equal(again.params[k], whole.params[k])


def test_the_optimizer_is_given_the_current_parameters():
    """A transformation that reads the parameters (as weight decay does) sees them."""
    halve = GradientTransformation(
        lambda params: EmptyState(),
        lambda g, state, params=None: ({k: -0.5 * v for k, v in params.items()}, state),
    )
    start = NET.init(0)
    r = train(NET, halve, SMALL_X, SMALL_Y, epochs=1, params=start, batch_size=20, shuffle="none")
    for k in start:
        np.testing.assert_array_equal(r.params[k], 0.5 * start[k])
    assert np.isnan(r.history.learning_rate).all()


def test_seconds_is_the_wall_time_of_the_loop():
    import time

    before = time.perf_counter()
    r = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=0)
    assert isinstance(r.seconds, float) and 0 < r.seconds <= time.perf_counter() - before


def test_default_evaluation_schedule_and_divergence_threshold():
    r = train(MLP((2, 1)), gd(0.1), SMALL_X, SMALL_Y, epochs=101, batch_size=20, seed=0)
    np.testing.assert_array_equal(r.history.eval_epochs, [0, 99, 100])
    assert r.max_cost == 100 * np.log(2)
    three = MLP((2, 3))  # softmax over 3 classes: labels 0, 1, 2
    y3 = np.arange(20) % 3
    r3 = train(three, gd(0.1), SMALL_X, y3, epochs=2, seed=0)
    assert r3.max_cost == 100 * np.log(3) and r3.status == "completed"
    assert r3.history.train_accuracy[-1] == three.accuracy(r3.params, SMALL_X, y3)


def test_max_cost_is_the_divergence_threshold_inclusive():
    first = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=1, seed=0, shuffle="none")
    cost = float(first.history.cost[0])
    at = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=1, seed=0, shuffle="none", max_cost=cost)
    assert at.status == "completed" and at.max_cost == cost  # equal is not above
    below = train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=3, seed=0, shuffle="none",
                  max_cost=cost * 0.999)  # fmt: skip
    assert below.status == "diverged" and below.history.n_epochs == 1
    assert below.message == (
        f"Training diverged at epoch 0: the cost became NaN, inf or larger than "
        f"{cost * 0.999:.3g} (the learning rate may be too large). The history up to there is kept."
    )


def test_members_diverging_at_different_epochs_all_stay_diverged():
    r = train(NET, momentum(np.array([0.1, 1e4, 1e3]), 0.9), MOONS.X, MOONS.y, epochs=6,
              seed=[0, 0, 0])  # fmt: skip
    assert r.stopped_epoch.tolist() == [-1, 0, 3]
    assert r.diverged.tolist() == [False, True, True] and r.status == "completed"
    assert r.message == "2 of 3 members diverged (cost NaN, inf or > 69.3)."


def test_floating_point_trouble_while_training_raises_no_error_or_warning():
    """Overflow, NaN, division by zero and underflow while training are ignored whatever
    NumPy's settings: the cost tells (divergence), not an exception or a warning."""
    net = MLP((1, 1))
    y = np.array([0, 0])
    huge = {"W1": np.array([[1e307]]), "b1": np.zeros((1, 1))}  # the cost's sum overflows
    # adam without eps: g**2 underflows to 0 while g does not, so m / sqrt(v) divides by zero
    tiny = {"W1": np.array([[1e-170]]), "b1": np.zeros((1, 1))}
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        r = train(NET, momentum(np.array([1e3, 1e4]), 0.9), MOONS.X, MOONS.y, epochs=6,
                  seed=[0, 0])  # fmt: skip
        over = train(net, gd(1.0), np.array([[9.0, 9.0]]), y, epochs=3, params=huge,
                     shuffle="none")  # fmt: skip
        zero = train(net, adam(1.0, eps=0.0), np.array([[1e-170, 1e-170]]), y, epochs=3,
                     params=tiny, shuffle="none")  # fmt: skip
    assert r.status == "diverged" and r.diverged.tolist() == [True, True]
    assert over.status == "diverged" and over.history.cost.tolist() == [np.inf]
    assert zero.status == "diverged" and np.isnan(zero.history.cost[-1])


def test_the_learning_rate_history_is_float_whatever_the_state_holds():
    from typing import NamedTuple

    class RateState(NamedTuple):
        learning_rate: int

    fixed = GradientTransformation(
        lambda params: RateState(2),
        lambda g, state, params=None: ({k: 0.0 * v for k, v in g.items()}, state),
    )
    r = train(NET, fixed, SMALL_X, SMALL_Y, epochs=2, seed=0)
    assert r.history.learning_rate.dtype == np.float64
    assert r.history.learning_rate.tolist() == [2.0, 2.0]


def test_evaluation_of_a_large_population_in_blocks_equals_one_call():
    """With 2**15 examples the accuracies are computed two members at a time."""
    net = MLP((1, 1))
    X = np.linspace(-1.0, 1.0, 2**15)[None, :]
    y = (X[0] > 0.1).astype(int)
    r = train(net, gd(0.5), X, y, epochs=1, batch_size=2**15, seed=[0, 1, 2], shuffle="none",
              validation=(X, y))  # fmt: skip
    expected = net.accuracy(r.params, X, y)
    assert expected.shape == (3,) and len(set(expected.tolist())) > 1
    np.testing.assert_array_equal(r.history.train_accuracy[-1], expected)
    np.testing.assert_array_equal(r.history.val_accuracy[-1], expected)


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_the_label_the_epoch_and_the_finite_mean_cost():
    nan_for_member_1 = GradientTransformation(  # member 0: gd(0.1); member 1: NaN weights
        lambda params: EmptyState(),
        lambda g, state, params=None: ({"theta": g["theta"] * np.array([[-0.1], [np.nan]])}, state),
    )
    tty = _FakeTTY()
    with contextlib.redirect_stderr(tty):
        r = train(NET, nan_for_member_1, SMALL_X, SMALL_Y, epochs=3, seed=[0, 0], label="gd")
    assert np.isnan(r.history.cost[-1, 1])
    last = tty.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("gd: 100%") and " 3/3 [" in last
    assert last.endswith(f", cost={r.history.cost[-1, 0]:.4g}]")  # the NaN member is left out
    plain = _FakeTTY()
    with contextlib.redirect_stderr(plain):
        train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=0)
    assert plain.getvalue().rstrip("\n").split("\r")[-1].startswith("100%")  # no label
    quiet = _FakeTTY()
    with contextlib.redirect_stderr(quiet):
        train(NET, gd(0.1), SMALL_X, SMALL_Y, epochs=2, seed=0, progress=False)
    assert quiet.getvalue() == ""
    nan_weights = GradientTransformation(
        lambda params: EmptyState(),
        lambda g, state, params=None: ({k: np.nan * v for k, v in g.items()}, state),
    )
    nan = _FakeTTY()  # nothing finite to show
    with contextlib.redirect_stderr(nan), warnings.catch_warnings():
        warnings.simplefilter("error")
        train(NET, nan_weights, SMALL_X, SMALL_Y, epochs=2, seed=0)
    assert nan.getvalue().rstrip("\n").split("\r")[-1].endswith(", cost=nan]")
