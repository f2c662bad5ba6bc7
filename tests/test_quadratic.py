"""The noisy quadratic (DeepOBS's quadratic_deep as regression): its exact Hessian spectrum,
its exact full-batch cost, noisy mini-batch gradients, held-out samples and training."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab._validation import InvalidParameterError
from descentlab.datasets import load_dataset, make_noisy_quadratic, noisy_quadratic_problem
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.specs import DatasetSpec
from descentlab.nn import MLP
from descentlab.optimizers import gd
from descentlab.training import train

NET = MLP((100, 1), loss="mse")


@pytest.fixture(scope="module")
def data():
    return make_noisy_quadratic()  # 1000 examples, noise 1, seed 0, problem 0


@pytest.fixture(scope="module")
def problem():
    return noisy_quadratic_problem()


def _params(w: np.ndarray, b: float) -> dict[str, np.ndarray]:
    return {"W1": w.reshape(1, 100), "b1": np.array([[b]])}


def _flat_grad(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    grads = NET.loss_and_grads(params, X, Y)[1]
    return np.concatenate([grads["W1"].ravel(), grads["b1"].ravel()])


def test_the_landscape_is_drawn_from_the_problem_seed(problem):
    rng = np.random.default_rng(0)  # written out: the documented order of the draws
    lam = np.concatenate([rng.uniform(0, 1, 90), rng.uniform(30, 60, 10)])
    V, R = np.linalg.qr(rng.standard_normal((100, 100)))
    V = V * np.sign(np.diag(R))
    np.testing.assert_array_equal(problem.eigenvalues, lam)
    np.testing.assert_array_equal(problem.rotation, V)
    np.testing.assert_array_equal(problem.theta, rng.standard_normal(100))
    np.testing.assert_allclose(problem.rotation.T @ problem.rotation, np.eye(100), atol=1e-13)
    assert np.all((lam[:90] >= 0) & (lam[:90] <= 1)) and np.all((lam[90:] >= 30) & (lam[90:] <= 60))
    np.testing.assert_allclose(problem.root @ problem.root, problem.hessian, atol=1e-12)


def test_the_full_batch_hessian_has_exactly_the_spectrum_lam(data, problem):
    # the dense Hessian of J(W1, b1) by central differences of the gradient (J is quadratic:
    # exact up to rounding), 101 x 101
    rng = np.random.default_rng(1)
    point = rng.standard_normal(101)
    H = np.empty((101, 101))
    for j in range(101):
        step = np.zeros(101)
        step[j] = 1e-3
        up, down = point + step, point - step
        H[:, j] = (
            _flat_grad(_params(up[:100], up[100]), data.X, data.Y)
            - _flat_grad(_params(down[:100], down[100]), data.X, data.Y)
        ) / 2e-3
    np.testing.assert_allclose(H[:100, :100], problem.hessian, atol=1e-9)
    np.testing.assert_allclose(H[100], np.eye(101)[100], atol=1e-9)  # the bias decouples
    spectrum = np.linalg.eigvalsh(H[:100, :100])
    np.testing.assert_allclose(spectrum, np.sort(problem.eigenvalues), atol=1e-9)
    assert np.sum(spectrum <= 1) == 90 and np.sum((spectrum >= 30) & (spectrum <= 60)) == 10
    # and analytically: the second moment (1/m) Z Z^T is Q
    np.testing.assert_allclose(data.X @ data.X.T / 1000, problem.hessian, atol=1e-12)


@pytest.mark.parametrize("noise", [0.0, 1.0, 2.5])
def test_the_full_batch_cost_is_exactly_the_quadratic(problem, noise):
    ds = make_noisy_quadratic(300, noise=noise, seed=4)
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((3, 100)), rng.standard_normal(3)
    pop = {"W1": w[:, None, :], "b1": b[:, None, None]}
    np.testing.assert_allclose(
        NET.cost(pop, ds.X, ds.Y), problem.expected_cost(w, b, noise), rtol=1e-12
    )
    at_optimum = NET.cost(_params(problem.theta, 0.0), ds.X, ds.Y)
    assert at_optimum == pytest.approx(0.5 * noise**2, abs=1e-12)  # the floor


def test_mini_batch_gradients_are_noisy_and_average_to_the_full_gradient(data, problem):
    at_optimum = _params(problem.theta, 0.0)
    full = _flat_grad(at_optimum, data.X, data.Y)
    assert np.linalg.norm(full) < 1e-11  # theta* minimises the training cost exactly
    batches = [slice(a, a + 100) for a in range(0, 1000, 100)]
    grads = np.array([_flat_grad(at_optimum, data.X[:, s], data.Y[:, s]) for s in batches])
    assert np.all(np.linalg.norm(grads, axis=1) > 1.0)  # measured: 1.8 to 2.4
    np.testing.assert_allclose(grads.mean(axis=0), full, atol=1e-11)


def test_held_out_samples_are_iid_draws_of_the_same_distribution(problem):
    ds = make_noisy_quadratic(50, noise=0.5, seed=7, exact=False)
    rng = np.random.default_rng(7)  # written out: z = Q^{1/2} g, then eps
    Z = problem.root @ rng.standard_normal((100, 50))
    np.testing.assert_array_equal(ds.X, Z)
    np.testing.assert_allclose(ds.y, problem.theta @ Z + 0.5 * rng.standard_normal(50))
    big = make_noisy_quadratic(20000, seed=3, exact=False)  # the cost estimates its expectation
    w = problem.theta + np.random.default_rng(5).standard_normal(100) * 0.1
    expected = problem.expected_cost(w, 0.3, 1.0)
    measured = NET.cost(_params(w, 0.3), big.X, big.Y)
    assert abs(measured - expected) < 0.05 * expected  # measured: 0.4 % apart


def test_the_experiment_data_builds_train_and_draws_held_out_sets(problem):
    data = load_experiment_data(DatasetSpec("noisy-quadratic", n_samples=200), validation=True)
    assert data.holdout == "fresh" and data.mean is None  # not standardised: Q is kept
    assert data.layer_dims(()) == (100, 1) and data.loss == "mse"
    np.testing.assert_allclose(data.train.X @ data.train.X.T / 200, problem.hessian, atol=1e-12)
    np.testing.assert_array_equal(
        data.test.X, make_noisy_quadratic(200, seed=1, exact=False).X
    )  # test_seed 1
    np.testing.assert_array_equal(data.val.X, make_noisy_quadratic(200, seed=2, exact=False).X)
    np.testing.assert_array_equal(data.train.X, load_dataset("noisy_quadratic", n_samples=200).X)


def test_gradient_descent_follows_the_closed_form_and_reaches_the_floor(problem):
    data = load_experiment_data(DatasetSpec("noisy_quadratic"), validation=True)
    lr = 0.03  # below 2 / max(lam) = 2 / 59.4
    result = train(
        NET,
        gd(lr),
        data.train.X,
        data.train.y,
        epochs=300,
        batch_size=1000,
        seed=0,
        validation=(data.val.X, data.val.y),
        eval_every=100,
        engine="numpy",
    )
    # full-batch gd on an exact quadratic: d_k = (I - lr Q)^k d_0, b_k = (1 - lr)^k b_0
    start = NET.init(0)
    step = np.linalg.matrix_power(np.eye(100) - lr * problem.hessian, 300)
    w = problem.theta + step @ (start["W1"][0] - problem.theta)
    np.testing.assert_allclose(result.params["W1"][0], w, rtol=1e-9, atol=1e-12)
    val = result.history.val_cost
    # measured: 167, 1.95, 0.90, 0.68 at epochs 0, 99, 199, 299 (the floor is 0.5; the
    # directions with lam near 0 are still far from theta*)
    assert np.all(np.diff(val) < 0) and val[-1] < 0.01 * val[0]
    # the validation cost estimates the expected cost at w (measured: 0.5 % above it)
    assert val[-1] == pytest.approx(problem.expected_cost(w, 0.0, 1.0), rel=0.1)


def test_gradient_descent_diverges_above_two_over_the_largest_eigenvalue():
    ds = make_noisy_quadratic(200)
    result = train(NET, gd(0.04), ds.X, ds.y, epochs=200, batch_size=200, seed=0)
    assert result.status == "diverged" and result.max_cost == 1e8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 101}, "'n_samples' parameter of make_noisy_quadratic must be an int"),
        ({"n_samples": 1, "exact": False}, "'n_samples' parameter of make_noisy_quadratic"),
        ({"n_samples": 10**9}, "'n_samples' parameter of make_noisy_quadratic"),
        ({"noise": -1.0}, "'noise' parameter of make_noisy_quadratic"),
        ({"noise": float("nan")}, "'noise' parameter of make_noisy_quadratic"),
        ({"exact": 1}, "'exact' parameter of make_noisy_quadratic"),
        ({"seed": -3}, "'seed' parameter of make_noisy_quadratic"),
        ({"problem_seed": 2.5}, "'problem_seed' parameter of make_noisy_quadratic"),
    ],
)
def test_refusals_name_the_setting(kwargs, message):
    with pytest.raises(InvalidParameterError) as exc:
        make_noisy_quadratic(**kwargs)
    assert message in str(exc.value)


def test_the_problem_seed_changes_the_landscape_and_is_checked():
    other = noisy_quadratic_problem(1)
    assert not np.array_equal(other.eigenvalues, noisy_quadratic_problem(0).eigenvalues)
    np.testing.assert_allclose(
        make_noisy_quadratic(150, problem_seed=1).X @ make_noisy_quadratic(150, problem_seed=1).X.T,
        150 * other.hessian,
        atol=1e-10,
    )
    with pytest.raises(InvalidParameterError) as exc:
        noisy_quadratic_problem(-1)
    assert str(exc.value) == (
        "The 'problem_seed' parameter of noisy_quadratic_problem must be an int in the range "
        "[0, 4294967295]. Got -1 instead."
    )
