"""2-D test functions: gradients against finite differences, minima, known values, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab._validation import DataError, InvalidParameterError
from descentlab.surfaces import (
    SURFACES,
    Beale,
    Himmelblau,
    IllConditionedQuadratic,
    LinearRegressionCost,
    Rastrigin,
    Rosenbrock,
    Saddle,
    get_surface,
)


def _regression_cost(m=40, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 1.0, (1, m))
    return LinearRegressionCost(x, 2.0 * x - 1.0 + rng.normal(0.0, 0.5, (1, m)))


CASES = [
    *((name, s) for name, s in SURFACES.items()),
    ("quadratic kappa=100", IllConditionedQuadratic(100.0)),
    ("rosenbrock a=2 b=5", Rosenbrock(a=2.0, b=5.0)),
    ("rastrigin A=3", Rastrigin(A=3.0)),
    ("least-squares", _regression_cost()),
]
IDS = [name for name, _ in CASES]
SURFS = [s for _, s in CASES]


def central_differences(surface, p, h=1e-5):
    """(f(p + h e_i) - f(p - h e_i)) / 2h, with h scaled by each coordinate's size."""
    g = np.empty_like(p)
    for i in range(2):
        step = np.zeros_like(p)
        step[..., i] = h * np.maximum(1.0, np.abs(p[..., i]))
        g[..., i] = (surface.f(p + step) - surface.f(p - step)) / (2 * step[..., i])
    return g


@pytest.mark.parametrize("surface", SURFS, ids=IDS)
def test_gradient_matches_central_differences(surface):
    rng = np.random.default_rng(0)
    x_min, x_max, y_min, y_max = surface.window
    p = np.stack([rng.uniform(x_min, x_max, 300), rng.uniform(y_min, y_max, 300)], axis=-1)
    g, fd = surface.grad(p), central_differences(surface, p)
    rel = np.linalg.norm(g - fd, axis=-1) / np.maximum(
        np.linalg.norm(g, axis=-1) + np.linalg.norm(fd, axis=-1), 1e-12
    )
    assert rel.max() < 1e-6


@pytest.mark.parametrize("surface", SURFS, ids=IDS)
def test_vectorised_over_any_leading_shape(surface):
    rng = np.random.default_rng(1)
    p = rng.uniform(-2, 2, (4, 5, 2))
    f, g = surface.f(p), surface.grad(p)
    assert f.shape == (4, 5) and g.shape == (4, 5, 2)
    for i in range(4):
        for j in range(5):
            assert f[i, j] == surface.f(p[i, j])
            np.testing.assert_array_equal(g[i, j], surface.grad(p[i, j]))
    assert surface.f(p[0, 0]).shape == ()
    assert surface.grad(p[0, 0]).shape == (2,)


@pytest.mark.parametrize(
    "surface", [s for s in SURFS if s.bounded_below], ids=[n for n in IDS if n != "saddle"]
)
def test_minima_have_zero_gradient_the_stated_value_and_are_minima(surface):
    mins = surface.minima
    assert mins.ndim == 2 and mins.shape[1] == 2 and len(mins) >= 1
    np.testing.assert_allclose(surface.grad(mins), 0.0, atol=1e-12)
    np.testing.assert_allclose(surface.f(mins), surface.min_value, rtol=1e-12, atol=1e-24)
    # No lower value nearby: 500 points in a ring of radius 1e-3 around each minimum.
    rng = np.random.default_rng(2)
    angle = rng.uniform(0, 2 * np.pi, 500)
    ring = 1e-3 * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    for m in mins:
        assert np.all(surface.f(m + ring) > surface.min_value)
    # ... nor anywhere on a grid over the window (the minima are global).
    x_min, x_max, y_min, y_max = surface.window
    gx, gy = np.meshgrid(np.linspace(x_min, x_max, 101), np.linspace(y_min, y_max, 101))
    assert np.min(surface.f(np.stack([gx, gy], -1))) >= surface.min_value - 1e-12


@pytest.mark.parametrize(
    ("surface", "point", "value"),
    [
        (IllConditionedQuadratic(10.0), (3.0, 2.0), 0.5 * (9 + 10 * 4)),
        (Rosenbrock(), (0.0, 0.0), 1.0),
        (Rosenbrock(), (-1.0, 1.0), 4.0),
        (Rosenbrock(a=2.0, b=5.0), (0.0, 1.0), 4.0 + 5.0),
        (Beale(), (0.0, 0.0), 1.5**2 + 2.25**2 + 2.625**2),
        (Himmelblau(), (0.0, 0.0), 121.0 + 49.0),
        (Saddle(), (1.0, 3.0), -8.0),
        (Rastrigin(), (0.5, 0.5), 20.0 + 0.25 + 10.0 + 0.25 + 10.0),
        (Rastrigin(A=3.0), (1.0, 0.0), 6.0 + 1.0 - 3.0 - 3.0),
    ],
)
def test_known_values(surface, point, value):
    assert surface.f(np.array(point)) == pytest.approx(value, rel=1e-14, abs=1e-14)


def test_stated_minima():
    np.testing.assert_array_equal(Rosenbrock().minima, [[1.0, 1.0]])
    np.testing.assert_array_equal(Rosenbrock(a=2.0, b=5.0).minima, [[2.0, 4.0]])
    np.testing.assert_array_equal(Beale().minima, [[3.0, 0.5]])
    h = Himmelblau().minima
    assert h.shape == (4, 2)
    np.testing.assert_allclose(
        h,
        [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]],
        atol=1e-6,
    )
    assert len({tuple(np.sign(m)) for m in h}) == 4  # one in each quadrant
    np.testing.assert_array_equal(Rastrigin().minima, [[0.0, 0.0]])
    np.testing.assert_array_equal(IllConditionedQuadratic(7.0).minima, [[0.0, 0.0]])


def test_saddle_is_unbounded_below_with_a_saddle_at_the_origin():
    s = Saddle()
    assert not s.bounded_below and s.minima.shape == (0, 2) and s.min_value == -np.inf
    np.testing.assert_array_equal(s.saddle_points, [[0.0, 0.0]])
    np.testing.assert_array_equal(s.grad(np.zeros(2)), [0.0, 0.0])
    y = np.array([1.0, 10.0, 1e3, 1e6])
    np.testing.assert_array_equal(s.f(np.stack([np.zeros(4), y], -1)), -(y**2))
    assert np.isnan(s.distance_to_minimum(np.array([1.0, 1.0])))
    assert "unbounded below" in s.formula


def test_quadratic_condition_number_and_gradient():
    q = IllConditionedQuadratic(25.0)
    np.testing.assert_array_equal(q.grad(np.array([2.0, -3.0])), [2.0, -75.0])
    assert q.lr == pytest.approx(1.7 / 25.0)  # stable: lr < 2 / kappa
    with pytest.raises(InvalidParameterError, match=r"'condition_number'.*>= 1\.0.*0\.5"):
        IllConditionedQuadratic(0.5)


def test_distance_to_nearest_minimum():
    h = Himmelblau()
    assert h.distance_to_minimum(np.array([3.0, 2.5])) == pytest.approx(0.5)
    d = h.distance_to_minimum(np.array([[3.0, 2.0], [-3.779310253377747, -2.2831859912861696]]))
    np.testing.assert_allclose(d, [0.0, 1.0], atol=1e-12)


def test_window_and_start_are_sensible():
    for s in [*SURFACES.values(), _regression_cost()]:
        x_min, x_max, y_min, y_max = s.window
        assert x_min < x_max and y_min < y_max
        assert x_min <= s.start[0] <= x_max and y_min <= s.start[1] <= y_max
        for m in s.minima:
            assert x_min <= m[0] <= x_max and y_min <= m[1] <= y_max
        assert s.levels in ("log", "linear")
        assert s.lr > 0 and s.adaptive_lr > 0 and s.steps > 0


def test_registry_and_get_surface():
    assert set(SURFACES) == {
        "quadratic",
        "rosenbrock",
        "beale",
        "himmelblau",
        "saddle",
        "rastrigin",
    }
    for name, s in SURFACES.items():
        assert s.name == name and get_surface(name) is s
        assert s.formula.startswith("f(x, y) =")
    assert get_surface("quadratic", condition_number=50.0) == IllConditionedQuadratic(50.0)
    assert get_surface("rosenbrock", b=10.0).minima.tolist() == [[1.0, 1.0]]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("sphere",), {}, r"Unknown surface 'sphere'; the known surfaces are quadratic, rosenb"),
        ((3,), {}, "Unknown surface 3"),
        ((["rosenbrock"],), {}, r"Unknown surface \['rosenbrock'\]; the known surfaces are"),
        (("Rosenbrock",), {"b": 10**400}, r"'b' parameter of Rosenbrock must be a float > 0\.0"),
        (("rastrigin",), {"A": "10"}, r"'A' parameter of Rastrigin must be a float > 0\.0"),
        (("beale",), {"a": 1.0}, r"Unknown parameter 'a' for surface 'beale'; it accepts nothing"),
        (("quadratic",), {"kappa": 2.0}, r"'kappa' .* it accepts condition_number\.$"),
        (
            ("rosenbrock",),
            {"c": 2.0},
            r"parameter 'c' for surface 'rosenbrock'; it accepts a, b\.$",
        ),
        (("rosenbrock",), {"b": 0.0}, r"'b' parameter of Rosenbrock must be a float > 0\.0"),
        (("rastrigin",), {"A": -1.0}, "'A' parameter of Rastrigin"),
    ],
)
def test_get_surface_errors(args, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        get_surface(*args, **kwargs)


def test_points_must_have_two_coordinates():
    s = SURFACES["rosenbrock"]
    with pytest.raises(DataError, match=r"shape \(\.\.\., 2\).*Got shape \(3,\)"):
        s.f(np.zeros(3))
    with pytest.raises(DataError, match=r"rosenbrock\.grad.*Got shape \(\)"):
        s.grad(1.0)


def test_least_squares_cost_matches_its_formula_and_solution():
    c = _regression_cost()
    x, y = c.X[0], c.Y[0]
    w, b = 0.7, -0.2
    r = w * x + b - y
    assert c.f(np.array([w, b])) == pytest.approx(np.sum(r**2) / (2 * len(x)), rel=1e-14)
    np.testing.assert_allclose(c.grad(np.array([w, b])), [np.mean(r * x), np.mean(r)], rtol=1e-14)
    np.testing.assert_allclose(c.minima[0], np.polyfit(x, y, 1), rtol=1e-12)
    np.testing.assert_allclose(
        c.grad_on(np.array([w, b]), np.arange(c.m)), c.grad(np.array([w, b]))
    )
    idx = np.array([4, 0, 17])
    np.testing.assert_allclose(
        c.grad_on(np.array([w, b]), idx), [np.mean(r[idx] * x[idx]), np.mean(r[idx])], rtol=1e-14
    )
    assert c.start[0] == pytest.approx(c.minima[0, 0] - 2.0)
    for examples, shape in [(np.array([], dtype=int), (0,)), (np.array([[0, 1]]), (1, 2))]:
        with pytest.raises(DataError) as caught:
            c.grad_on(np.array([w, b]), examples)
        assert str(caught.value) == (
            f"examples must be a non-empty 1-D array of indices. Got shape {shape}."
        )


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 40), seed=st.integers(0, 1000))
def test_mini_batch_gradients_average_to_the_full_gradient(batch, seed):
    """sum_B (|B| / m) grad_B J = grad J for any partition of the examples into batches."""
    c = _regression_cost()
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(3, 2))
    perm = rng.permutation(c.m)
    parts = [perm[i : i + batch] for i in range(0, c.m, batch)]
    total = sum(len(B) / c.m * c.grad_on(p, B) for B in parts)
    np.testing.assert_allclose(total, c.grad(p), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("X", "Y", "match"),
    [
        (np.ones((2, 5)), np.ones((2, 5)), r"shape \(1, m\).*Got X \(2, 5\)"),
        (np.ones((1, 5)), np.ones((1, 4)), r"Got X \(1, 5\) and Y \(1, 4\)"),
        (np.ones((1, 5)), np.ones((1, 5)), "two distinct x values"),
        (np.array([[0.0, 1.0, np.nan]]), np.ones((1, 3)), "X contains NaN or inf"),
    ],
)
def test_least_squares_cost_errors(X, Y, match):
    with pytest.raises(DataError, match=match):
        LinearRegressionCost(X, Y)
