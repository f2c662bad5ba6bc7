"""Regression support: the MSE loss with a linear output, regression datasets, and their path
through training, experiments and the compiled engine's refusal."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import Dataset
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Population, Run, evaluate
from descentlab.nn import ACTIVATIONS, MLP, gradient_check
from descentlab.optimizers import gd
from descentlab.training import train

ARCHITECTURES = [(2, 5, 2, 1), (3, 4, 1), (4, 6, 5, 3), (5, 3)]


def _problem(net: MLP, m: int, seed: int, real: bool):
    """Perturbed initial parameters, inputs, and real-valued (or class) targets."""
    rng = np.random.default_rng(seed)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in net.init(seed).items()}
    X = rng.standard_normal((net.layer_dims[0], m))
    if real:
        return params, X, rng.standard_normal((net.layer_dims[-1], m))
    return params, X, net.targets(rng.integers(0, net.n_classes, m))


# ----------------------------------------------------------------------------- the network


@pytest.mark.parametrize("dims", ARCHITECTURES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("real", [True, False], ids=["real", "classes"])
def test_mse_backward_matches_central_differences(dims, activation, real):
    net = MLP(dims, activation, leaky_slope=0.25, loss="mse")
    params, X, Y = _problem(net, m=7, seed=sum(dims), real=real)
    assert gradient_check(net, params, X, Y) < 1e-7


def test_mse_cost_and_gradient_of_a_linear_network_are_the_least_squares_formulas():
    net = MLP((3, 2), loss="mse")
    params, X, Y = _problem(net, m=5, seed=1, real=True)
    R = params["W1"] @ X + params["b1"] - Y  # residuals (2, 5)
    assert net.cost(params, X, Y) == pytest.approx((R**2).sum() / (2 * 5), rel=1e-15)
    cost, grads = net.loss_and_grads(params, X, Y)
    assert cost == pytest.approx((R**2).sum() / 10, rel=1e-15)
    np.testing.assert_allclose(grads["W1"], R @ X.T / 5, rtol=1e-14)
    np.testing.assert_allclose(grads["b1"], R.sum(axis=1, keepdims=True) / 5, rtol=1e-14)


def test_mse_forward_is_linear_on_the_last_layer_only():
    net = MLP((2, 3, 2), "tanh", loss="mse")
    params, X, _ = _problem(net, m=4, seed=2, real=True)
    A, cache = net.forward(params, X)
    hidden = np.tanh(params["W1"] @ X + params["b1"])
    np.testing.assert_allclose(A, params["W2"] @ hidden + params["b2"], rtol=1e-14)
    np.testing.assert_array_equal(A, cache[-1][1])  # A[L] = Z[L]


def test_mse_population_equals_separate_networks():
    net = MLP((3, 4, 2), loss="mse")
    pop = net.init([1, 2, 3])
    X = np.random.default_rng(0).standard_normal((3, 6))
    Y = np.random.default_rng(1).standard_normal((2, 6))
    costs, grads = net.loss_and_grads(pop, X, Y)
    for k in range(3):
        member = {key: v[k] for key, v in pop.items()}
        cost, g = net.loss_and_grads(member, X, Y)
        assert costs[k] == pytest.approx(cost, rel=1e-14)
        for key in g:
            np.testing.assert_allclose(grads[key][k], g[key], rtol=1e-13)


def test_structure_of_an_mse_network():
    net = MLP((2, 3), loss="mse")
    assert (net.output, net.n_classes, net.loss) == ("linear", 3, "mse")
    assert MLP((2, 1), loss="mse").output == "linear"
    assert MLP((2, 1)).loss == "cross_entropy" and MLP((2, 1)) == MLP((2, 1), "relu", 0.01)
    assert (MLP((2, 1)).output, MLP((2, 3)).output) == ("sigmoid", "softmax")


@pytest.mark.parametrize("loss", ["l2", "MSE", None, 1])
def test_an_unknown_loss_is_refused_by_name(loss):
    with pytest.raises(InvalidParameterError) as exc:
        MLP((2, 1), loss=loss)
    assert "'loss' parameter of MLP" in str(exc.value)
    assert "cross_entropy" in str(exc.value) and "mse" in str(exc.value)


def test_real_targets_take_the_output_shape_and_class_targets_stay_one_hot():
    one = MLP((2, 1), loss="mse")
    np.testing.assert_array_equal(one.targets(np.array([0.5, -2.0])), [[0.5, -2.0]])
    np.testing.assert_array_equal(one.targets(np.array([[0.5, -2.0]])), [[0.5, -2.0]])
    three = MLP((2, 3), loss="mse")
    Y = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(three.targets(Y), Y)
    np.testing.assert_array_equal(three.targets([2, 0]), [[0, 1], [0, 0], [1, 0]])
    np.testing.assert_array_equal(one.targets([1, 0, 1]), [[1.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("dims", "y", "message"),
    [
        (
            (2, 3),
            np.zeros(4),
            "Real-valued targets y have shape (4,), but the network has 3 output unit(s): "
            "expected (3, m).",
        ),
        (
            (2, 1),
            np.zeros((2, 4)),
            "Real-valued targets y have shape (2, 4), but the network has 1 output unit(s): "
            "expected (1, m) or (m,).",
        ),
        (
            (2, 1),
            np.array([0.0, np.nan, np.inf]),
            "Real-valued targets y must be finite; example 1 has [nan].",
        ),
        ((2, 1), np.array(["a"]), "y must hold numbers; got an array of dtype <U1."),
    ],
)
def test_real_target_refusals(dims, y, message):
    with pytest.raises(DataError) as exc:
        MLP(dims, loss="mse").targets(y)
    assert str(exc.value) == message


def test_mse_predictions_threshold_one_unit_and_take_the_argmax_of_several():
    one = MLP((1, 1), loss="mse")
    params = {"W1": np.array([[1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[0.2, 0.5, 0.7, 3.0]])
    np.testing.assert_array_equal(one.predict(params, X), [0, 0, 1, 1])  # strictly above 0.5
    assert one.accuracy(params, X, [0, 1, 1, 1]) == 0.75
    three = MLP((2, 3), loss="mse")
    W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    p3 = {"W1": W, "b1": np.zeros((3, 1))}
    X3 = np.array([[2.0, 0.0, -1.0], [1.0, 3.0, -1.0]])
    np.testing.assert_array_equal(three.predict(p3, X3), [0, 1, 2])
    assert three.accuracy(p3, X3, np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_accuracy_of_real_valued_targets_is_nan_per_member():
    net = MLP((2, 1), loss="mse")
    X, y = np.zeros((2, 3)), np.array([0.0, 1.0, 1.0])  # float: real values, not classes
    assert np.isnan(net.accuracy(net.init(0), X, y))
    acc = net.accuracy(net.init([0, 1, 2]), X, y)
    assert acc.shape == (3,) and np.all(np.isnan(acc))
    with pytest.raises(DataError) as exc:
        net.accuracy(net.init(0), X, np.zeros(4))
    assert str(exc.value) == "Found 3 examples in X and 4 in Y."


def test_predict_proba_refuses_an_mse_network():
    net = MLP((2, 1), loss="mse")
    with pytest.raises(InvalidParameterError) as exc:
        net.predict_proba(net.init(0), np.zeros((2, 3)))
    assert "loss='mse', whose linear outputs are not probabilities" in str(exc.value)


# ----------------------------------------------------------------------------- training


def test_training_an_mse_network_is_gradient_descent_on_the_squared_error():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((3, 20)), rng.standard_normal(20)
    net = MLP((3, 1), loss="mse")
    result = train(net, gd(0.1), X, y, epochs=5, batch_size=20, seed=7, shuffle="none")
    W, b = net.init(7)["W1"], 0.0
    costs = []
    for _ in range(5):  # written out: full-batch gd on (1/(2m)) sum(r**2)
        r = W @ X + b - y
        costs.append((r**2).sum() / 40)
        W, b = W - 0.1 * (r @ X.T) / 20, b - 0.1 * r.mean()
    np.testing.assert_allclose(result.params["W1"], W, rtol=1e-13)
    np.testing.assert_allclose(result.params["b1"], [[b]], rtol=1e-13)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-13)
    assert result.max_cost == 1e8  # the MSE default (cross-entropy: 100 ln(n_classes))
    assert np.all(np.isnan(result.history.train_accuracy))


def test_training_with_validation_reports_nan_accuracy_and_the_validation_cost():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((2, 30)), rng.standard_normal((2, 30))
    Xv, Yv = rng.standard_normal((2, 10)), rng.standard_normal((2, 10))
    net = MLP((2, 4, 2), loss="mse")
    result = train(
        net, gd(0.05), X, Y, epochs=3, batch_size=8, seed=[1, 2], validation=(Xv, Yv), eval_every=1
    )
    assert result.history.val_accuracy.shape == (3, 2)
    assert np.all(np.isnan(result.history.val_accuracy))
    np.testing.assert_allclose(result.history.val_cost[-1], net.cost(result.params, Xv, Yv))


def test_an_mse_network_trains_on_class_indices_with_accuracy_defined():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2, 40))
    y = (X[0] > 0).astype(np.int64)  # integer labels: classes
    net = MLP((2, 1), loss="mse")
    result = train(net, gd(0.5), X, y, epochs=50, batch_size=40, seed=0)
    assert result.max_cost == 1e8
    assert result.history.train_accuracy[-1] == net.accuracy(result.params, X, y)
    assert result.history.train_accuracy[-1] >= 0.9


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros(7), "Found 8 examples in X and 7 in Y."),
        (np.full(8, np.nan), "Real-valued targets y must be finite; example 0 has [nan]."),
    ],
)
def test_train_refuses_bad_real_targets_before_training(y, message):
    with pytest.raises(DataError) as exc:
        train(MLP((2, 1), loss="mse"), gd(0.1), np.zeros((2, 8)), y, epochs=1)
    assert str(exc.value) == message


def test_the_compiled_engine_refuses_an_mse_network_and_auto_falls_back():
    X, y = np.ones((2, 4)), np.arange(4.0)
    net = MLP((2, 1), loss="mse")
    with pytest.raises(InvalidParameterError) as exc:
        train(net, gd(0.1), X, y, epochs=1, engine="compiled")
    assert "cannot train this configuration: an MSE (linear-output) network" in str(exc.value)
    auto = train(net, gd(0.1), X, y, epochs=2, seed=0, engine="auto")
    numpy = train(net, gd(0.1), X, y, epochs=2, seed=0, engine="numpy")
    assert auto.engine == "numpy"
    np.testing.assert_array_equal(auto.params["W1"], numpy.params["W1"])


# ----------------------------------------------------------------------------- datasets


def _regression(m: int = 8, targets: int = 1, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(m if targets == 1 else (targets, m))
    return Dataset("reg", rng.standard_normal((3, m)), y, task="regression")


def test_a_regression_dataset_keeps_real_targets():
    ds = Dataset("r", np.arange(6.0).reshape(2, 3), [[1, 2, 5]], task="regression")
    assert ds.y.dtype == np.float64 and ds.y.tolist() == [1.0, 2.0, 5.0]  # (1, m) read as (m,)
    assert (ds.n_targets, ds.n_outputs, ds.n_classes, ds.classes) == (1, 1, 0, ())
    assert ds.Y.tolist() == [[1.0, 2.0, 5.0]]
    assert not ds.y.flags.writeable
    two = _regression(5, targets=2)
    assert (two.n_targets, two.n_outputs, two.Y.shape) == (2, 2, (2, 5))
    assert repr(two) == (
        "Dataset(name='reg', n_features=3, n_examples=5, task='regression', n_targets=2)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"y": [1.0, 2.0]}, DataError, "y must hold the targets of the 3 examples"),
        ({"y": np.zeros((0, 3))}, DataError, "y must hold the targets of the 3 examples"),
        ({"y": 1.0}, DataError, "got shape ()."),
        ({"y": [1.0, np.nan, 0.0]}, DataError, "y"),
        ({"y": ["a", "b", "c"]}, DataError, "y must hold real-valued targets (numbers)"),
        ({"classes": ("a", "b")}, DataError, "A regression dataset has no classes"),
        ({"task": "ranking"}, InvalidParameterError, "'task' parameter of Dataset"),
    ],
)
def test_regression_dataset_refusals(kwargs, error, message):
    args = {"name": "r", "X": np.zeros((2, 3)), "y": [0.5, 1.5, 2.5], "task": "regression"}
    with pytest.raises(error) as exc:
        Dataset(**{**args, **kwargs})
    assert message in str(exc.value)


def test_regression_subset_split_and_standardize_keep_the_targets():
    ds = _regression(10, targets=2)
    train_part, test_part = ds.split(3, seed=1)
    assert (train_part.task, test_part.task) == ("regression", "regression")
    assert (train_part.n_examples, test_part.n_examples) == (7, 3)
    test_idx = np.sort(np.random.default_rng(1).permutation(10)[:3])
    np.testing.assert_array_equal(test_part.X, ds.X[:, test_idx])
    np.testing.assert_array_equal(test_part.y, ds.y[:, test_idx])
    keep = np.setdiff1d(np.arange(10), test_idx)
    np.testing.assert_array_equal(train_part.y, ds.y[:, keep])
    std = ds.standardized()[0]
    np.testing.assert_array_equal(std.y, ds.y)  # features only
    np.testing.assert_allclose(
        std.X, (ds.X - ds.X.mean(1, keepdims=True)) / ds.X.std(1, keepdims=True)
    )
    assert std.task == "regression" and std.n_targets == 2
    np.testing.assert_array_equal(ds.subset([4, 1]).y, ds.y[:, [4, 1]])


def test_experiment_data_gives_regression_a_linear_mse_network():
    train_ds, val_ds, test_ds = (_regression(12, seed=s) for s in (0, 1, 2))
    data = ExperimentData(train_ds, test_ds, val_ds)
    assert (data.task, data.loss, data.layer_dims((4,))) == ("regression", "mse", (3, 4, 1))
    summary = data.summary()
    assert (summary["task"], summary["n_targets"], summary["n_classes"]) == ("regression", 1, 0)
    run = Run("gd", {"learning_rate": 0.05}, batch_size=4, epochs=3, layers=(4,), seed=3)
    population = Population([run], data)
    assert population.net == MLP((3, 4, 1), "relu", loss="mse")
    result = population.train(validation=True)
    metrics = evaluate(population.net, result.params, data)
    for name in ("train", "val", "test"):
        assert np.isnan(metrics[f"{name}_accuracy"]).all()
    for name, ds in (("val", val_ds), ("test", test_ds)):
        assert metrics[f"{name}_cost"] == pytest.approx(
            population.net.cost(result.params, ds.X, ds.Y)
        )


def test_classification_experiment_data_is_unchanged():
    rng = np.random.default_rng(0)
    ds = Dataset("c", rng.standard_normal((2, 6)), [0, 1, 2, 0, 1, 2])
    data = ExperimentData(ds, ds)
    assert (data.task, data.loss, data.layer_dims((5,))) == (
        "classification",
        "cross_entropy",
        (2, 5, 3),
    )
    assert "task" not in data.summary() and "n_targets" not in data.summary()
    run = Run("gd", {"learning_rate": 0.05}, epochs=1, layers=(5,))
    assert Population([run], data).net == MLP((2, 5, 3))
