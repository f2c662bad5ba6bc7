"""The MLP: shapes, the seed's initialisation, gradients against finite differences, stability."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from descentlab._validation import DataError, InvalidParameterError
from descentlab.nn import ACTIVATIONS, MLP, gradient_check

ARCHITECTURES = [(2, 5, 2, 1), (3, 4, 1), (4, 6, 5, 3), (5, 3)]


def _random_problem(net: MLP, m: int, seed: int):
    rng = np.random.default_rng(seed)
    params = net.init(seed)
    # Non-zero biases so every term of the backward pass is exercised.
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    X = rng.standard_normal((net.layer_dims[0], m))
    y = rng.integers(0, net.n_classes, m)
    return params, X, net.targets(y), y


def test_seed_initialisation_matches_the_seed_recipe():
    net = MLP((2, 5, 2, 1))
    params = net.init(method="seed")
    np.random.seed(3)  # the seed's initialize_parameters, written out
    for l, (n, n_prev) in enumerate([(5, 2), (2, 5), (1, 2)], start=1):
        np.testing.assert_array_equal(
            params[f"W{l}"], np.random.randn(n, n_prev) * np.sqrt(2 / n_prev)
        )
        np.testing.assert_array_equal(params[f"b{l}"], np.zeros((n, 1)))


def test_init_does_not_touch_global_random_state():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    MLP((2, 3, 1)).init(method="seed")
    MLP((2, 3, 1)).init(7)
    assert np.random.rand() == expected


def test_population_init_stacks_the_members():
    net = MLP((2, 5, 2, 1))
    pop = net.init([4, 9, 11], method="xavier")
    for k, s in enumerate([4, 9, 11]):
        solo = net.init(s, method="xavier")
        for key in solo:
            np.testing.assert_array_equal(pop[key][k], solo[key])
    assert net.check_params(pop) == 3


@pytest.mark.parametrize("dims", ARCHITECTURES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_matches_central_differences(dims, activation):
    net = MLP(dims, activation)
    params, X, Y, _ = _random_problem(net, m=7, seed=sum(dims))
    assert gradient_check(net, params, X, Y) < 1e-7


@settings(max_examples=25, deadline=None)
@example(dims=[1, 3, 3], m=1, seed=3, activation="relu")  # tiny gradients: 1.48e-7 before the floor
@given(
    dims=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    m=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    activation=st.sampled_from(ACTIVATIONS),
)
def test_gradient_check_property(dims, m, seed, activation):
    net = MLP(tuple(dims), activation)
    params, X, Y, _ = _random_problem(net, m, seed)
    assert gradient_check(net, params, X, Y) < 1e-7


def test_saturated_outputs_give_a_finite_cost_and_gradient():
    net = MLP((1, 1))
    params = {"W1": np.array([[1000.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[1.0, -1.0]])
    Y = np.array([[0.0, 1.0]])  # both examples confidently wrong
    cost, grads = net.loss_and_grads(params, X, Y)
    assert cost == pytest.approx(1000.0)  # softplus(1000) / 2 + softplus(1000) / 2
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    softmax = MLP((1, 3))
    p = {"W1": np.array([[800.0], [0.0], [-800.0]]), "b1": np.zeros((3, 1))}
    assert softmax.cost(p, np.array([[1.0]]), np.array([[0.0], [0.0], [1.0]])) == pytest.approx(
        1600.0
    )


def test_cost_is_the_seed_cross_entropy_when_not_saturated():
    net = MLP((2, 5, 2, 1))
    params, X, Y, _ = _random_problem(net, m=9, seed=0)
    a3, _ = net.forward(params, X)
    seed_cost = np.mean(-Y * np.log(a3) - (1 - Y) * np.log(1 - a3))
    assert net.cost(params, X, Y) == pytest.approx(seed_cost, rel=1e-13)


@pytest.mark.parametrize("dims", [(2, 5, 2, 1), (4, 6, 3)])
def test_population_equals_separate_networks(dims):
    net = MLP(dims, "tanh")
    seeds = [1, 2, 3, 4]
    pop = net.init(seeds)
    rng = np.random.default_rng(0)
    X_shared = rng.standard_normal((dims[0], 8))
    X_each = rng.standard_normal((4, dims[0], 8))
    y = rng.integers(0, net.n_classes, (4, 8))
    Y_each = np.stack([net.targets(yk) for yk in y])
    cost_s, grads_s = net.loss_and_grads(pop, X_shared, Y_each[0])
    cost_e, grads_e = net.loss_and_grads(pop, X_each, Y_each)
    for k, s in enumerate(seeds):
        solo = net.init(s)
        c1, g1 = net.loss_and_grads(solo, X_shared, Y_each[0])
        c2, g2 = net.loss_and_grads(solo, X_each[k], Y_each[k])
        assert cost_s[k] == pytest.approx(c1, rel=1e-14)
        assert cost_e[k] == pytest.approx(c2, rel=1e-14)
        for key in solo:
            np.testing.assert_allclose(grads_s[key][k], g1[key], rtol=1e-13, atol=1e-16)
            np.testing.assert_allclose(grads_e[key][k], g2[key], rtol=1e-13, atol=1e-16)
        np.testing.assert_array_equal(net.predict(pop, X_each)[k], net.predict(solo, X_each[k]))


def test_predict_proba_rows_are_class_probabilities():
    for dims in [(3, 4, 1), (3, 4, 5)]:
        net = MLP(dims)
        params, X, _, _ = _random_problem(net, 11, 5)
        proba = net.predict_proba(params, X)
        assert proba.shape == (net.n_classes, 11)
        np.testing.assert_allclose(proba.sum(axis=0), 1.0, rtol=1e-14)
        np.testing.assert_array_equal(net.predict(params, X), proba.argmax(axis=0))


def test_accuracy_counts_matches():
    net = MLP((1, 1))
    params = {"W1": np.array([[1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[-2.0, -1.0, 1.0, 2.0]])
    assert net.accuracy(params, X, np.array([0, 1, 1, 1])) == 0.75


def test_targets_one_hot():
    np.testing.assert_array_equal(
        MLP((2, 3)).targets(np.array([2, 0, 1])), [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    )


def test_bad_architecture_and_inputs_raise_clear_errors():
    with pytest.raises(InvalidParameterError, match="layer_dims"):
        MLP((2,))
    with pytest.raises(InvalidParameterError, match="activation"):
        MLP((2, 1), "swish")
    net = MLP((2, 3, 1))
    with pytest.raises(DataError, match="expects 2 features"):
        net.check_inputs(np.zeros((3, 4)))
    with pytest.raises(DataError, match="Found 4 examples in X and 5 in Y"):
        net.check_inputs(np.zeros((2, 4)), np.zeros((1, 5)))
    with pytest.raises(DataError, match="W1"):
        net.check_params(
            {
                "W1": np.zeros((3, 3)),
                "b1": np.zeros((3, 1)),
                "W2": np.zeros((1, 3)),
                "b2": np.zeros((1, 1)),
            }
        )
