"""The training engine: equal to the seed's loop written out, stopping rules, history, errors."""

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import load_moons
from descentlab.nn import MLP
from descentlab.optimizers import EmptyState, GradientTransformation, adam, gd, momentum
from descentlab.training import EarlyStopping, train

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
