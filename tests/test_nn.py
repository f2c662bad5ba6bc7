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
@example(dims=[4, 5, 4, 1], m=1, seed=3713, activation="relu")  # 3.3e-7 when J cancelled: Z = 11
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


# ---------------------------------------------------------------------------- exact behaviour
# The tests below pin exact values, messages, shapes and dtypes (the mutation gate's bar).

LAYER_DIMS_RULE = (
    "The 'layer_dims' parameter of MLP must be a sequence of at least two positive ints "
    "(input size, ..., output size). Got {} instead."
)
LIMITS_RULE = (
    "The 'layer_dims' parameter of MLP allows at most 64 hidden layers of at most 65536 units "
    "each (descentlab.limits). Got {} instead."
)


@pytest.mark.parametrize(
    ("dims", "message"),
    [
        ((2,), LAYER_DIMS_RULE.format("(2,)")),
        ((), LAYER_DIMS_RULE.format("()")),
        ("21", LAYER_DIMS_RULE.format("'21'")),
        (5, LAYER_DIMS_RULE.format("5")),
        ((2, 0), LAYER_DIMS_RULE.format("(2, 0)")),
        ((0, 2), LAYER_DIMS_RULE.format("(0, 2)")),
        ((2, 1.0), LAYER_DIMS_RULE.format("(2, 1.0)")),
        ((2, True), LAYER_DIMS_RULE.format("(2, True)")),
        ((2,) * 66 + (1,), LIMITS_RULE.format([2] * 66 + [1])),
        ((2, 65537, 1), LIMITS_RULE.format("[2, 65537, 1]")),
        ((2, 3, 65537, 1), LIMITS_RULE.format("[2, 3, 65537, 1]")),
        ((2, 65537, 3, 1), LIMITS_RULE.format("[2, 65537, 3, 1]")),
    ],
)
def test_layer_dims_refusals_state_the_rule_and_the_value(dims, message):
    with pytest.raises(InvalidParameterError) as exc:
        MLP(dims)
    assert str(exc.value) == message


def test_layer_dims_limits_are_inclusive_and_bound_only_the_hidden_layers():
    assert MLP((1, 1)).layer_dims == (1, 1)
    assert MLP((2,) * 65 + (1,)).n_layers == 65  # 64 hidden layers: the cap itself
    assert MLP((2, 65536, 1)).layer_dims == (2, 65536, 1)
    assert MLP((100_000, 100_000)).layer_dims == (100_000, 100_000)  # input and output unbounded


def test_layer_dims_become_a_tuple_of_python_ints():
    for dims in (np.array([2, 3, 1]), [np.int64(2), np.int32(3), 1], (2, 3, 1)):
        net = MLP(dims)
        assert net.layer_dims == (2, 3, 1)
        assert type(net.layer_dims) is tuple
        assert [type(d) for d in net.layer_dims] == [int, int, int]


def test_activation_and_leaky_slope_refusals():
    with pytest.raises(InvalidParameterError) as exc:
        MLP((2, 1), "swish")
    assert str(exc.value) == (
        "The 'activation' parameter of MLP must be one of 'relu', 'tanh', 'leaky_relu', "
        "'sigmoid'. Got 'swish' instead."
    )
    for slope in (1, 1.5, -0.1):
        with pytest.raises(InvalidParameterError) as exc:
            MLP((2, 1), "leaky_relu", slope)
        assert str(exc.value) == (
            "The 'leaky_slope' parameter of MLP must be a float in the range [0.0, 1.0). "
            f"Got {slope!r} instead."
        )
    assert MLP((2, 1), "leaky_relu", 0).leaky_slope == 0  # 0 is allowed: the left end


def test_structure_of_sigmoid_and_softmax_networks():
    net = MLP((2, 5, 2, 1))
    assert (net.n_layers, net.output, net.n_classes, net.n_params) == (3, "sigmoid", 2, 30)
    assert list(net.shapes().items()) == [
        ("W1", (5, 2)),
        ("b1", (5, 1)),
        ("W2", (2, 5)),
        ("b2", (2, 1)),
        ("W3", (1, 2)),
        ("b3", (1, 1)),
    ]
    softmax = MLP((4, 3))
    assert (softmax.n_layers, softmax.output, softmax.n_classes, softmax.n_params) == (
        1,
        "softmax",
        3,
        15,
    )
    assert softmax.shapes() == {"W1": (3, 4), "b1": (3, 1)}


@pytest.mark.parametrize(("method", "variance"), [("he", 2.0), ("xavier", 1.0)])
def test_he_and_xavier_draw_scaled_normals_from_default_rng(method, variance):
    net = MLP((3, 4, 2))
    for seed in (7, np.random.default_rng(7)):
        params = net.init(seed, method=method)
        rng = np.random.default_rng(7)
        assert list(params) == ["W1", "b1", "W2", "b2"]
        np.testing.assert_array_equal(
            params["W1"], rng.standard_normal((4, 3)) * np.sqrt(variance / 3)
        )
        np.testing.assert_array_equal(params["b1"], np.zeros((4, 1)))
        np.testing.assert_array_equal(
            params["W2"], rng.standard_normal((2, 4)) * np.sqrt(variance / 4)
        )
        np.testing.assert_array_equal(params["b2"], np.zeros((2, 1)))
        assert {k: (v.shape, v.dtype) for k, v in params.items()} == {
            "W1": ((4, 3), np.float64),
            "b1": ((4, 1), np.float64),
            "W2": ((2, 4), np.float64),
            "b2": ((2, 1), np.float64),
        }


def test_seed_method_uses_random_state_of_the_given_seed_or_3():
    net = MLP((3, 2))
    np.testing.assert_array_equal(
        net.init(method="seed")["W1"], np.random.RandomState(3).randn(2, 3) * np.sqrt(2 / 3)
    )
    np.testing.assert_array_equal(
        net.init(5, method="seed")["W1"], np.random.RandomState(5).randn(2, 3) * np.sqrt(2 / 3)
    )
    np.testing.assert_array_equal(net.init(5, method="seed")["b1"], np.zeros((2, 1)))


def test_population_init_from_an_array_of_seeds():
    net = MLP((3, 2))
    pop = net.init(np.array([5, 6]), method="seed")
    assert {k: v.shape for k, v in pop.items()} == {"W1": (2, 2, 3), "b1": (2, 2, 1)}
    np.testing.assert_array_equal(pop["W1"][1], net.init(6, method="seed")["W1"])
    he = net.init((5, 6))
    np.testing.assert_array_equal(he["W1"][0], net.init(5)["W1"])
    one = net.init([6], method="xavier")  # a population of one keeps its axis
    assert {k: v.shape for k, v in one.items()} == {"W1": (1, 2, 3), "b1": (1, 2, 1)}
    np.testing.assert_array_equal(one["W1"][0], net.init(6, method="xavier")["W1"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"method": "glorot"},
            "The 'method' parameter of MLP.init must be one of 'he', 'xavier', 'seed'. "
            "Got 'glorot' instead.",
        ),
        (
            {"seed": -1},
            "The 'seed' parameter of MLP.init must be an int in the range [0, 4294967295]. "
            "Got -1 instead.",
        ),
        (
            {"seed": [1, -1], "method": "xavier"},
            "The 'seed' parameter of MLP.init must be an int in the range [0, 4294967295]. "
            "Got -1 instead.",
        ),
        ({"seed": []}, "The 'seed' parameter of MLP.init must not be empty."),
    ],
)
def test_init_refusals(kwargs, message):
    with pytest.raises(InvalidParameterError) as exc:
        MLP((2, 1)).init(**kwargs)
    assert str(exc.value) == message


def _params_of(net: MLP, lead: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    return {k: np.ones(lead + shape) for k, shape in net.shapes().items()}


def test_check_params_returns_the_population_size_or_none():
    net = MLP((2, 3, 1))
    assert net.check_params(_params_of(net)) is None
    assert net.check_params(_params_of(net, (4,))) == 4
    assert net.check_params({k: v.astype(np.int32) for k, v in _params_of(net).items()}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: list(p.values()),
            "params must be a dict of arrays {'W1': ..., 'b1': ..., ...}; got list.",
        ),
        (
            lambda p: {k: v for k, v in p.items() if k != "b2"},
            "params must have the keys ['W1', 'W2', 'b1', 'b2'] for layer_dims [2, 3, 1]; "
            "got ['W1', 'W2', 'b1'].",
        ),
        (
            lambda p: {**p, "W1": np.ones(3)},
            "params['W1'] has shape (3,); expected (3, 2) (or (K, 3, 2) for a population).",
        ),
        (
            lambda p: {**p, "b2": np.ones((2, 1))},
            "params['b2'] has shape (2, 1); expected (1, 1) (or (K, 1, 1) for a population).",
        ),
        (
            lambda p: {k: v[None, None] for k, v in p.items()},
            "params['W1'] has shape (1, 1, 3, 2); expected (3, 2) (or (K, 3, 2) for a population).",
        ),
        (
            lambda p: {**p, "W1": np.ones((2, 3, 2))},
            "All params must share the same population axis (K, ...) or none.",
        ),
        (
            lambda p: {**p, "W2": np.array([["a", "b", "c"]])},
            "params['W2'] must hold numbers; got an array of dtype <U1.",
        ),
    ],
)
def test_check_params_refusals(change, message):
    net = MLP((2, 3, 1))
    with pytest.raises(DataError) as exc:
        net.check_params(change(_params_of(net)))
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("X", "Y", "message"),
    [
        (
            np.zeros(2),
            None,
            "X has shape (2,), but the network expects 2 features as rows: (n_features=2, m). "
            "Examples are columns.",
        ),
        (
            np.zeros((1, 1, 2, 4)),
            None,
            "X has shape (1, 1, 2, 4), but the network expects 2 features as rows: "
            "(n_features=2, m). Examples are columns.",
        ),
        (
            np.zeros((4, 2)),
            None,
            "X has shape (4, 2), but the network expects 2 features as rows: (n_features=2, m). "
            "Examples are columns.",
        ),
        (
            np.zeros((2, 4)),
            np.zeros(4),
            "Y has shape (4,), but the network has 1 output unit(s): expected (1, m).",
        ),
        (
            np.zeros((2, 4)),
            np.zeros((1, 1, 1, 4)),
            "Y has shape (1, 1, 1, 4), but the network has 1 output unit(s): expected (1, m).",
        ),
        (
            np.zeros((2, 4)),
            np.zeros((4, 1)),
            "Y has shape (4, 1), but the network has 1 output unit(s): expected (1, m).",
        ),
        (np.zeros((2, 4)), np.zeros((1, 5)), "Found 4 examples in X and 5 in Y."),
        (np.zeros((3, 2, 4)), np.zeros((3, 1, 2)), "Found 4 examples in X and 2 in Y."),
        (np.array([["a"], ["b"]]), None, "X must hold numbers; got an array of dtype <U1."),
        (
            np.zeros((2, 1)),
            np.array([[None]]),
            "Y must hold numbers; got an array of dtype object.",
        ),
    ],
)
def test_check_inputs_refusals(X, Y, message):
    with pytest.raises(DataError) as exc:
        MLP((2, 3, 1)).check_inputs(X, Y)
    assert str(exc.value) == message


def test_check_inputs_accepts_shared_and_per_member_data():
    net = MLP((2, 3, 1))
    assert net.check_inputs(np.zeros((2, 4))) is None
    assert net.check_inputs(np.zeros((2, 4)), np.zeros((1, 4))) is None
    assert net.check_inputs(np.zeros((3, 2, 4)), np.zeros((3, 1, 4))) is None
    assert net.check_inputs(np.zeros((2, 4)), np.zeros((3, 1, 4))) is None
    assert net.check_inputs([[1, 2], [3, 4]], [[True, False]]) is None


def test_ragged_data_is_refused_with_numpys_reason():
    with pytest.raises(
        DataError, match=r"^X must be an array of numbers: setting an array element "
    ):
        MLP((2, 3, 1)).check_inputs([[1.0], [1.0, 2.0]])
    with pytest.raises(
        DataError, match=r"^y must be an array of numbers: setting an array element "
    ):
        MLP((2, 3, 1)).targets([[1.0], [1.0, 2.0]])


HIDDEN = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0) * 1.0),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, 0.25 * z),
        lambda z: np.where(z > 0, 1.0, 0.25),
    ),
    "sigmoid": (
        lambda z: 1.0 / (1.0 + np.exp(-z)),
        lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2,
    ),
}
# Logits with a zero (the kink of relu and leaky_relu) and both signs.
Z_HIDDEN = np.array([[-2.0, 0.0, 3.0], [0.5, -0.25, 0.0]])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hidden_activation_and_its_derivative(activation):
    net = MLP((2, 2, 1), activation, leaky_slope=0.25)
    g, dg = HIDDEN[activation]
    a = net._hidden(Z_HIDDEN.copy())
    np.testing.assert_allclose(a, g(Z_HIDDEN), rtol=1e-15, atol=0)
    np.testing.assert_allclose(net._hidden_grad(Z_HIDDEN, a), dg(Z_HIDDEN), rtol=1e-13, atol=0)


def _small_problem(net: MLP) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Hand-picked parameters with non-zero biases, and 4 examples (4 != every layer size)."""
    n0, n1, n2 = net.layer_dims
    rng = np.random.default_rng(n0 + 10 * n1 + 100 * n2)
    params = {
        "W1": rng.standard_normal((n1, n0)),
        "b1": rng.standard_normal((n1, 1)),
        "W2": rng.standard_normal((n2, n1)),
        "b2": rng.standard_normal((n2, 1)),
    }
    return params, rng.standard_normal((n0, 4))


def _forward_written_out(net: MLP, params, X):
    g, _ = HIDDEN[net.activation]
    Z1 = params["W1"] @ X + params["b1"]
    A1 = g(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    if net.output == "sigmoid":
        A2 = 1.0 / (1.0 + np.exp(-Z2))
    else:
        A2 = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    return Z1, A1, Z2, A2


@pytest.mark.parametrize("dims", [(3, 5, 1), (2, 3, 5)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_and_its_cache_follow_the_formula(dims, activation):
    net = MLP(dims, activation, leaky_slope=0.25)
    params, X = _small_problem(net)
    Z1, A1, Z2, A2 = _forward_written_out(net, params, X)
    out, cache = net.forward(params, X)
    assert len(cache) == 2
    np.testing.assert_allclose(out, A2, rtol=1e-14, atol=0)
    for got, expected in zip(cache, [(X, Z1, A1), (A1, Z2, A2)], strict=True):
        for g, e in zip(got, expected, strict=True):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-14, atol=1e-300)


def test_forward_keeps_float32_and_converts_other_numbers_to_float64():
    net = MLP((2, 1))
    params = {"W1": np.ones((1, 2), np.float32), "b1": np.zeros((1, 1), np.float32)}
    out, cache = net.forward(params, np.ones((2, 3), np.float32))
    assert out.dtype == np.float32 and cache[0][0].dtype == np.float32
    _, cache = net.forward(params, [[1, 2, 3], [4, 5, 6]])
    assert cache[0][0].dtype == np.float64
    np.testing.assert_array_equal(cache[0][0], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    _, cache = net.forward(params, np.ones((2, 3), bool))
    assert cache[0][0].dtype == np.float64
    _, cache = net.forward(params, np.ones((2, 3), np.uint8))
    assert cache[0][0].dtype == np.float64


def test_complex_numbers_are_refused():
    with pytest.raises(DataError) as exc:
        MLP((2, 1)).check_inputs(np.ones((2, 3), complex))
    assert str(exc.value) == "X must hold numbers; got an array of dtype complex128."


def _cost_written_out(net: MLP, params, X, Y):
    _, _, Z2, A2 = _forward_written_out(net, params, X)
    if net.output == "sigmoid":
        return np.mean(np.log1p(np.exp(Z2)) - Y * Z2)
    return -np.sum(Y * np.log(A2)) / X.shape[-1]


@pytest.mark.parametrize("dims", [(3, 5, 1), (2, 3, 5)])
def test_cost_is_the_mean_cross_entropy_of_single_and_population_networks(dims):
    net = MLP(dims, "tanh")
    params, X = _small_problem(net)
    Y = net.targets([0, 1, 1, 0])
    expected = _cost_written_out(net, params, X, Y)
    cost = net.cost(params, X, Y)
    assert cost.shape == ()
    assert cost == pytest.approx(expected, rel=1e-14)
    # A population of 3: member k has parameters scaled by k + 1.
    pop = {k: np.stack([(j + 1) * v for j in range(3)]) for k, v in params.items()}
    members = [_cost_written_out(net, {k: v[j] for k, v in pop.items()}, X, Y) for j in range(3)]
    costs = net.cost(pop, X, Y)
    assert costs.shape == (3,)
    np.testing.assert_allclose(costs, members, rtol=1e-14)
    costs_each = net.cost(pop, np.stack([X, X[:, [1, 0, 2, 3]], X]), np.stack([Y, Y, Y]))
    assert costs_each[0] == costs[0] and costs_each[2] == costs[2]
    assert costs_each[1] != costs[1]


def test_cost_accepts_integer_targets():
    net = MLP((2, 3))
    params, X = _small_problem(MLP((2, 2, 3)))
    params = {"W1": params["W2"] @ params["W1"], "b1": params["b2"]}
    Y = [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]]
    assert net.cost(params, X, Y) == net.cost(params, X, np.asarray(Y, float))


def _backward_written_out(net: MLP, params, X, Y):
    _, dg = HIDDEN[net.activation]
    Z1, A1, _, A2 = _forward_written_out(net, params, X)
    m = X.shape[-1]
    dZ2 = (A2 - Y) / m
    dZ1 = (params["W2"].T @ dZ2) * dg(Z1)
    return {
        "W1": dZ1 @ X.T,
        "b1": dZ1.sum(axis=1, keepdims=True),
        "W2": dZ2 @ A1.T,
        "b2": dZ2.sum(axis=1, keepdims=True),
    }


@pytest.mark.parametrize("dims", [(3, 5, 1), (2, 3, 5)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_is_the_chain_rule_written_out(dims, activation):
    net = MLP(dims, activation, leaky_slope=0.25)
    params, X = _small_problem(net)
    Y = net.targets([0, 1, 1, 0])
    expected = _backward_written_out(net, params, X, Y)
    _, cache = net.forward(params, X)
    grads = net.backward(params, cache, Y)
    assert list(grads) == ["W2", "b2", "W1", "b1"]
    for k, e in expected.items():
        assert grads[k].shape == e.shape
        np.testing.assert_allclose(grads[k], e, rtol=1e-12, atol=1e-17)
    # Into preallocated buffers: the same numbers, written in place and returned.
    out = {k: np.full_like(v, np.nan) for k, v in params.items()}
    ids = {k: id(v) for k, v in out.items()}
    cost, written = net.loss_and_grads(params, X, Y, out)
    assert written is out and {k: id(v) for k, v in out.items()} == ids
    assert cost == net.cost(params, X, Y)
    for k in expected:
        np.testing.assert_array_equal(out[k], grads[k])


def test_backward_of_a_population_with_shared_data():
    net = MLP((2, 3, 1), "sigmoid")
    params, X = _small_problem(net)
    Y = net.targets([0, 1, 1, 0])
    pop = {k: np.stack([v, -v]) for k, v in params.items()}
    costs, grads = net.loss_and_grads(pop, X, Y)
    assert costs.shape == (2,)
    for j in range(2):
        member = {k: v[j] for k, v in pop.items()}
        expected = _backward_written_out(net, member, X, Y)
        assert costs[j] == pytest.approx(_cost_written_out(net, member, X, Y), rel=1e-14)
        for k, e in expected.items():
            np.testing.assert_allclose(grads[k][j], e, rtol=1e-12, atol=1e-17)


def test_a_single_layer_network_has_the_logistic_gradient():
    net = MLP((2, 1))
    params = {"W1": np.array([[0.5, -1.0]]), "b1": np.array([[0.25]])}
    X = np.array([[1.0, 2.0, -1.0], [0.0, 1.0, 3.0]])
    Y = np.array([[1.0, 0.0, 1.0]])
    cost, grads = net.loss_and_grads(params, X, Y)
    a = 1.0 / (1.0 + np.exp(-(params["W1"] @ X + params["b1"])))
    np.testing.assert_allclose(grads["W1"], (a - Y) @ X.T / 3, rtol=1e-14)
    np.testing.assert_allclose(grads["b1"], (a - Y).sum(keepdims=True) / 3, rtol=1e-14)
    assert cost == pytest.approx(np.mean(-Y * np.log(a) - (1 - Y) * np.log(1 - a)), rel=1e-14)


def test_sigmoid_predictions_threshold_strictly_above_one_half():
    net = MLP((1, 1))
    params = {"W1": np.array([[1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[-1.0, 0.0, 1e-9, 2.0]])  # A = sigma(X): 0.27, exactly 0.5, 0.5+, 0.88
    predicted = net.predict(params, X)
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, [0, 0, 1, 1])
    a = 1.0 / (1.0 + np.exp(-X[0]))
    np.testing.assert_allclose(net.predict_proba(params, X), [1.0 - a, a], rtol=1e-15)
    pop = {k: np.stack([v, -v]) for k, v in params.items()}
    np.testing.assert_array_equal(net.predict(pop, X), [[0, 0, 1, 1], [1, 0, 0, 0]])
    proba = net.predict_proba(pop, X)
    assert proba.shape == (2, 2, 4)
    b = 1.0 / (1.0 + np.exp(X[0]))  # the second member's sigma(-X)
    np.testing.assert_allclose(proba[1], [1.0 - b, b], rtol=1e-15)


def test_softmax_predictions_are_the_most_probable_class():
    net = MLP((2, 3))
    params = {"W1": np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), "b1": np.zeros((3, 1))}
    X = np.array([[2.0, 0.0, -1.0, 0.5], [1.0, 3.0, -2.0, 0.0]])
    np.testing.assert_array_equal(net.predict(params, X), [0, 1, 2, 0])
    Z = params["W1"] @ X
    np.testing.assert_allclose(
        net.predict_proba(params, X), np.exp(Z) / np.exp(Z).sum(axis=0), rtol=1e-15
    )
    pop = {k: np.stack([v, -v]) for k, v in params.items()}
    np.testing.assert_array_equal(net.predict(pop, X), [[0, 1, 2, 0], [2, 2, 1, 2]])
    np.testing.assert_array_equal(net.accuracy(pop, X, [0, 1, 2, 2]), [0.75, 0.25])


def test_accuracy_takes_labels_of_any_shape_and_counts_them():
    net = MLP((1, 1))
    params = {"W1": np.array([[1.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[-2.0, -1.0, 1.0, 2.0]])
    assert net.accuracy(params, X, [[0], [1], [1], [1]]) == 0.75
    assert net.accuracy(params, X, np.array([[0, 0, 1, 1]], bool)) == 1.0
    with pytest.raises(DataError) as exc:
        net.accuracy(params, X, [0, 1, 1])
    assert str(exc.value) == "Found 4 examples in X and 3 labels in y."
    with pytest.raises(DataError) as exc:
        net.accuracy(params, X, ["a", "b", "c", "d"])
    assert str(exc.value) == "y must hold numbers; got an array of dtype <U1."


def test_targets_are_float_rows_for_sigmoid_and_one_hot_for_softmax():
    sigmoid = MLP((2, 1)).targets([[1], [0], [1]])
    assert sigmoid.dtype == np.float64
    np.testing.assert_array_equal(sigmoid, [[1.0, 0.0, 1.0]])
    one_hot = MLP((2, 3)).targets(np.array([2.0, 0.0, 1.0, 2.0]))
    assert one_hot.dtype == np.float64
    np.testing.assert_array_equal(
        one_hot, [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]]
    )


@pytest.mark.parametrize(
    ("dims", "y", "message"),
    [
        (
            (2, 1),
            [0, 1, 2, 3],
            "y must hold class indices in [0, 1] for this network; found np.float64(2.0).",
        ),
        (
            (2, 3),
            [0, 2, 3, -1],
            "y must hold class indices in [0, 2] for this network; found np.float64(3.0).",
        ),
        (
            (2, 3),
            [0, -1, 5],
            "y must hold class indices in [0, 2] for this network; found np.float64(-1.0).",
        ),
        (
            (2, 3),
            [1, 0.5, 7],
            "y must hold class indices in [0, 2] for this network; found np.float64(0.5).",
        ),
        (
            (2, 1),
            [[0, 1], [0, 1.5]],
            "y must hold class indices in [0, 1] for this network; found np.float64(1.5).",
        ),
        ((2, 1), ["0"], "y must hold numbers; got an array of dtype <U1."),
    ],
)
def test_targets_refusals_report_the_first_bad_label(dims, y, message):
    with pytest.raises(DataError) as exc:
        MLP(dims).targets(y)
    assert str(exc.value) == message


def _gradient_check_written_out(net: MLP, params, X, Y, epsilon: float) -> float:
    """The docstring's rule: ||a - n|| / max(||a|| + ||n||, sqrt(P) u max(1, |J|) / (eps TOL))."""
    cost, grads = net.loss_and_grads(params, X, Y)
    analytic, numeric = [], []
    for k, p in params.items():
        for idx in np.ndindex(p.shape):
            plus, minus = p.copy(), p.copy()
            plus[idx] += epsilon
            minus[idx] -= epsilon
            up = net.cost({**params, k: plus}, X, Y)
            down = net.cost({**params, k: minus}, X, Y)
            numeric.append((up - down) / (2 * epsilon))
            analytic.append(grads[k][idx])
    a, n = np.array(analytic), np.array(numeric)
    floor = np.sqrt(a.size) * 2.0**-53 * max(1.0, abs(float(cost))) / (epsilon * 1e-7)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), floor))


@pytest.mark.parametrize("scale", [1.0, 4.0])  # a cost below 1, and above 1
@pytest.mark.parametrize("epsilon", [1.0, 1e-12])  # the relative error, and the floor, decide
def test_gradient_check_is_the_documented_relative_error(scale, epsilon):
    net = MLP((2, 3, 1), "tanh")
    rng = np.random.default_rng(0)
    params = {k: scale * v for k, v in net.init(1).items()}
    X = rng.standard_normal((2, 4))
    Y = np.array([[0.0, 1.0, 1.0, 0.0]])
    assert (net.cost(params, X, Y) < 1.0) == (scale == 1.0)
    expected = _gradient_check_written_out(net, params, X, Y, epsilon)
    assert 1e-9 < expected < 0.1
    assert gradient_check(net, params, X, Y, epsilon) == expected


def test_gradient_check_refuses_a_population():
    net = MLP((2, 3, 1))
    with pytest.raises(DataError) as exc:
        gradient_check(net, net.init([1, 2]), np.zeros((2, 3)), np.zeros((1, 3)))
    assert str(exc.value) == "gradient_check takes one network, not a population."


def test_softmax_is_shifted_per_example_so_each_column_stays_finite():
    net = MLP((1, 2))
    params = {"W1": np.array([[1.0], [1.0]]), "b1": np.array([[0.0], [1.0]])}
    X = np.array([[0.0, 1000.0, -1000.0]])  # logits (0, 1), (1000, 1001), (-1000, -999)
    p = 1.0 / (1.0 + np.e)  # softmax((0, 1)) = (p, 1 - p), whatever the shift
    proba = net.predict_proba(params, X)
    np.testing.assert_allclose(proba, [[p, p, p], [1.0 - p, 1.0 - p, 1.0 - p]], rtol=1e-13)
    Y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert net.cost(params, X, Y) == pytest.approx((-2 * np.log(p) - np.log(1 - p)) / 3, rel=1e-13)


def test_cost_refuses_missing_or_non_numeric_targets():
    net = MLP((2, 1))
    params = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    for Y, dtype in ((None, "object"), ([["a", "b"]], "<U1")):
        with pytest.raises(DataError) as exc:
            net.cost(params, np.zeros((2, 2)), Y)
        assert str(exc.value) == f"Y must hold numbers; got an array of dtype {dtype}."
    with pytest.raises(DataError) as exc:
        net.cost(params, np.zeros((2, 2)), [[0.0, 1.0, 1.0]])
    assert str(exc.value) == "Found 2 examples in X and 3 in Y."


def test_seed_method_refuses_a_generator():
    with pytest.raises(InvalidParameterError) as exc:
        MLP((2, 1)).init(np.random.default_rng(0), method="seed")
    assert str(exc.value) == (
        "The 'seed' parameter of MLP.init must be an int in [0, 2**32 - 1] or None with "
        "method='seed' (NumPy's legacy RandomState). Got a Generator instead."
    )


def test_a_confident_right_answer_costs_its_true_small_value():
    # softplus(Z) - Y Z would give 40 - 40 = 0 here: the cost is computed without cancellation.
    net = MLP((1, 1))
    params = {"W1": np.array([[40.0]]), "b1": np.zeros((1, 1))}
    X = np.array([[1.0, -1.0]])
    Y = np.array([[1.0, 0.0]])
    assert net.cost(params, X, Y) == pytest.approx(np.log1p(np.exp(-40.0)), rel=1e-15, abs=0)
    cost, _ = net.loss_and_grads(params, X, Y)
    assert cost == pytest.approx(4.248354255291589e-18, rel=1e-15, abs=0)
