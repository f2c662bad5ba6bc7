"""descentlab.notebook reproduces every "Expected Output" block of the seed exercise.

The expected arrays are the seed's printed digits; they are compared to 8 decimals (what was
printed), i.e. ``atol=5e-9`` after rounding.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from descentlab import notebook as nb
from descentlab import notebook_test_cases as cases


def _assert_printed(actual, printed):
    np.testing.assert_allclose(actual, np.array(printed), rtol=0, atol=5.1e-9)


def test_update_parameters_with_gd_expected_output():
    parameters, grads, learning_rate = cases.update_parameters_with_gd_test_case()  # In [3]
    assert learning_rate == 0.01
    out = nb.update_parameters_with_gd(parameters, grads, learning_rate)
    assert out is parameters
    _assert_printed(
        out["W1"], [[1.63535156, -0.62320365, -0.53718766], [-1.07799357, 0.85639907, -2.29470142]]
    )
    _assert_printed(out["b1"], [[1.74604067], [-0.75184921]])
    _assert_printed(
        out["W2"],
        [
            [0.32171798, -0.25467393, 1.46902454],
            [-2.05617317, -0.31554548, -0.3756023],
            [1.1404819, -1.09976462, -0.1612551],
        ],
    )
    _assert_printed(out["b2"], [[-0.88020257], [0.02561572], [0.57539477]])


def test_random_mini_batches_expected_output():
    X, Y, mini_batch_size = cases.random_mini_batches_test_case()  # In [5]
    assert (X.shape, Y.shape, Y.dtype, mini_batch_size) == ((12288, 148), (1, 148), bool, 64)
    mb = nb.random_mini_batches(X, Y, mini_batch_size)
    assert [b[0].shape for b in mb] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [b[1].shape for b in mb] == [(1, 64), (1, 64), (1, 20)]
    _assert_printed(mb[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157])


def test_initialize_velocity_and_adam_expected_output():
    parameters = cases.initialize_velocity_test_case()  # In [7]
    v = nb.initialize_velocity(parameters)
    assert sorted(v) == ["dW1", "dW2", "db1", "db2"]
    for k in ("1", "2"):
        np.testing.assert_array_equal(v["dW" + k], np.zeros(parameters["W" + k].shape))
        np.testing.assert_array_equal(v["db" + k], np.zeros(parameters["b" + k].shape))
    v, s = nb.initialize_adam(cases.initialize_adam_test_case())  # In [11]
    for d in (v, s):
        assert {k: a.shape for k, a in d.items()} == {
            "dW1": (2, 3),
            "db1": (2, 1),
            "dW2": (3, 3),
            "db2": (3, 1),
        }
        assert all(not a.any() for a in d.values())


V_EXPECTED = {
    "dW1": [[-0.11006192, 0.11447237, 0.09015907], [0.05024943, 0.09008559, -0.06837279]],
    "db1": [[-0.01228902], [-0.09357694]],
    "dW2": [
        [-0.02678881, 0.05303555, -0.06916608],
        [-0.03967535, -0.06871727, -0.08452056],
        [-0.06712461, -0.00126646, -0.11173103],
    ],
    "db2": [[0.02344157], [0.16598022], [0.07420442]],
}


def test_update_parameters_with_momentum_expected_output():
    parameters, grads, v = cases.update_parameters_with_momentum_test_case()  # In [9]
    parameters, v = nb.update_parameters_with_momentum(
        parameters, grads, v, beta=0.9, learning_rate=0.01
    )
    _assert_printed(
        parameters["W1"],
        [[1.62544598, -0.61290114, -0.52907334], [-1.07347112, 0.86450677, -2.30085497]],
    )
    _assert_printed(parameters["b1"], [[1.74493465], [-0.76027113]])
    _assert_printed(
        parameters["W2"],
        [
            [0.31930698, -0.24990073, 1.4627996],
            [-2.05974396, -0.32173003, -0.38320915],
            [1.13444069, -1.0998786, -0.1713109],
        ],
    )
    _assert_printed(parameters["b2"], [[-0.87809283], [0.04055394], [0.58207317]])
    for k, printed in V_EXPECTED.items():
        _assert_printed(v[k], printed)


def test_update_parameters_with_adam_expected_output():
    parameters, grads, v, s = cases.update_parameters_with_adam_test_case()  # In [20]
    parameters, v, s = nb.update_parameters_with_adam(parameters, grads, v, s, t=2)
    _assert_printed(
        parameters["W1"],
        [[1.63178673, -0.61919778, -0.53561312], [-1.08040999, 0.85796626, -2.29409733]],
    )
    _assert_printed(parameters["b1"], [[1.75225313], [-0.75376553]])
    _assert_printed(
        parameters["W2"],
        [
            [0.32648046, -0.25681174, 1.46954931],
            [-2.05269934, -0.31497584, -0.37661299],
            [1.14121081, -1.09245036, -0.16498684],
        ],
    )
    _assert_printed(parameters["b2"], [[-0.88529978], [0.03477238], [0.57537385]])
    for k, printed in V_EXPECTED.items():
        _assert_printed(v[k], printed)
    _assert_printed(
        s["dW1"], [[0.00121136, 0.00131039, 0.00081287], [0.0002525, 0.00081154, 0.00046748]]
    )
    _assert_printed(s["db1"], [[1.51020075e-05], [8.75664434e-04]])
    _assert_printed(
        s["dW2"],
        [
            [7.17640232e-05, 2.81276921e-04, 4.78394595e-04],
            [1.57413361e-04, 4.72206320e-04, 7.14372576e-04],
            [4.50571368e-04, 1.60392066e-07, 1.24838242e-03],
        ],
    )
    _assert_printed(s["db2"], [[5.49507194e-05], [2.75494327e-03], [5.50629536e-04]])


def test_helpers_match_the_seed_opt_utils():
    X, Y = nb.load_dataset()
    assert X.shape == (2, 300) and Y.shape == (1, 300)
    parameters = nb.initialize_parameters([2, 5, 2, 1])
    np.random.seed(3)
    np.testing.assert_array_equal(parameters["W1"], np.random.randn(5, 2) * np.sqrt(2 / 2))
    a3, cache = nb.forward_propagation(X, parameters)
    assert len(cache) == 12 and a3.shape == (1, 300)
    # The seed's forward pass written out.
    z1 = parameters["W1"] @ X + parameters["b1"]
    a1 = np.maximum(0, z1)
    z2 = parameters["W2"] @ a1 + parameters["b2"]
    a2 = np.maximum(0, z2)
    z3 = parameters["W3"] @ a2 + parameters["b3"]
    np.testing.assert_allclose(a3, 1 / (1 + np.exp(-z3)), rtol=1e-14)
    grads = nb.backward_propagation(X, Y, cache)
    dz3 = (a3 - Y) / 300
    np.testing.assert_allclose(grads["dW3"], dz3 @ a2.T, rtol=1e-13)
    dz2 = (parameters["W3"].T @ dz3) * (a2 > 0)
    np.testing.assert_allclose(grads["dW2"], dz2 @ a1.T, rtol=1e-13)
    dz1 = (parameters["W2"].T @ dz2) * (a1 > 0)
    np.testing.assert_allclose(grads["db1"], dz1.sum(axis=1, keepdims=True), rtol=1e-13, atol=1e-18)
    seed_cost = np.mean(-np.log(a3) * Y - np.log(1 - a3) * (1 - Y))
    assert nb.compute_cost(a3, Y) == pytest.approx(seed_cost, rel=1e-14)
    assert np.isfinite(nb.compute_cost(np.array([[1.0, 0.0]]), np.array([[0, 1]])))
    np.testing.assert_array_equal(nb.predict_dec(parameters, X), a3 > 0.5)


@pytest.fixture(scope="module")
def seed_models():
    X, Y = nb.load_dataset()
    out = {}
    for name in ("gd", "momentum", "adam"):
        out[name] = nb.model(X, Y, [2, 5, 2, 1], optimizer=name, print_cost=False)
    return X, Y, out


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, expected", [("gd", 0.7966666666666666), ("momentum", 0.7966666666666666), ("adam", 0.94)]
)
def test_model_summary_table(seed_models, capsys, name, expected):
    X, Y, models = seed_models
    p = nb.predict(X, Y, models[name])
    assert np.mean(p == Y) == pytest.approx(expected, abs=1e-12)
    assert capsys.readouterr().out == f"Accuracy: {np.mean(p == Y)}\n"


def test_model_prints_cost_every_1000_epochs(capsys):
    X, Y = nb.load_dataset()
    nb.model(X, Y, [2, 5, 2, 1], "adam", num_epochs=2001, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"Cost after epoch {e}" for e in (0, 1000, 2000)
    ]
    assert all(0 < float(line.split(":")[1]) < 1 for line in lines)


def test_model_rejects_unknown_optimizer():
    X, Y = nb.load_dataset()
    with pytest.raises(ValueError, match="'optimizer' parameter of model must be one of"):
        nb.model(X, Y, [2, 5, 2, 1], "adagrad", num_epochs=1)


def test_plot_decision_boundary_fills_the_plane_and_scatters_the_points():
    import matplotlib.pyplot as plt

    X = np.array([[0.0, 0.4, 0.2], [0.0, 0.3, 0.1]])
    y = np.array([[0, 1, 1]])
    asked = []

    def model(points):  # rows are points, as the seed's predict_dec(parameters, x.T)
        asked.append(points)
        return points[:, 0] > 0.2

    plt.figure()
    nb.plot_decision_boundary(model, X, y)
    ax = plt.gca()
    (grid,) = asked
    assert grid.shape[1] == 2
    np.testing.assert_allclose(grid.min(axis=0), [-1.0, -1.0])
    np.testing.assert_allclose(grid.max(axis=0), [1.4, 1.3], atol=0.01)  # the 0.01 grid, +1 around
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X.T)
    plt.close("all")


def test_plots_are_shown_only_on_a_backend_that_displays(monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    nb._show()  # Agg, as in these tests: nothing to display, and plt.show would only warn
    assert shown == []
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "TkAgg")
    nb._show()
    assert shown == [True]


def test_load_params_and_grads_draws_the_test_cases_arrays():
    # opt_utils' helper and testCases' gd case are one recipe: seed 1, randn in the same order.
    parameters, grads, _ = cases.update_parameters_with_gd_test_case()
    drawn = nb.load_params_and_grads(1)
    expected = [parameters[k] for k in ("W1", "b1", "W2", "b2")]
    expected += [grads[k] for k in ("dW1", "db1", "dW2", "db2")]
    assert len(drawn) == len(expected)
    for got, want in zip(drawn, expected, strict=True):
        np.testing.assert_array_equal(got, want)
