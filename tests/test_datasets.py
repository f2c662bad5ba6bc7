"""Tests for descentlab.datasets: the seed's moons, generators, real sets, files, registry."""

from __future__ import annotations

import csv
import doctest
import math
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab import datasets
from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import (
    BUILTIN_DATASETS,
    Dataset,
    describe_datasets,
    encode_labels,
    load_csv,
    load_dataset,
    load_moons,
    load_npz,
    make_blobs,
    make_circles,
    make_gaussian_quantiles,
    make_moons,
    make_spiral,
    make_xor,
)


@pytest.fixture
def restore_global_rng():
    """Tests that call np.random.seed put the global state back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def global_state_equal(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# --------------------------------------------------------------------------- the seed's moons


def test_load_moons_equals_the_seeds_recipe(restore_global_rng):
    np.random.seed(3)
    X, y = sklearn.datasets.make_moons(n_samples=300, noise=0.2)
    ds = load_moons()
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.X, X.T)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.classes == (0, 1) and ds.feature_names == ("x1", "x2") and ds.name == "moons"


def test_load_moons_pinned_values():
    ds = load_moons()
    assert ds.X.shape == (2, 300)
    assert ds.X[:, 0].tolist() == [-0.21687013460912397, 1.0154493742029873]
    assert ds.X[:, -1].tolist() == [0.547725598273234, 0.3481746137071188]
    assert ds.y[:10].tolist() == [0, 1, 1, 1, 0, 0, 1, 1, 0, 1]
    assert np.bincount(ds.y).tolist() == [150, 150]
    np.testing.assert_array_equal(ds.Y, ds.y[None, :].astype(float))


def test_load_moons_leaves_global_state_alone_by_default(restore_global_rng):
    np.random.seed(12345)
    before = np.random.get_state()
    load_moons()
    assert global_state_equal(np.random.get_state(), before)


def test_load_moons_use_global_state_reproduces_the_seeds_side_effect(restore_global_rng):
    np.random.seed(3)
    sklearn.datasets.make_moons(n_samples=300, noise=0.2)
    after_recipe = np.random.get_state()
    np.random.seed(999)
    ds = load_moons(use_global_state=True)
    assert global_state_equal(np.random.get_state(), after_recipe)
    np.testing.assert_array_equal(ds.X, load_moons().X)


# --------------------------------------------------------------------------- generators

GENERATORS = [
    # (function, kwargs, X shape, class counts)
    (make_moons, {}, (2, 300), [150, 150]),
    (make_moons, {"n_samples": 301, "noise": 0.3}, (2, 301), [150, 151]),
    (make_circles, {"n_samples": 200}, (2, 200), [100, 100]),
    (make_blobs, {}, (2, 300), [100, 100, 100]),
    (make_blobs, {"n_samples": 50, "n_classes": 4, "n_features": 5}, (5, 50), [13, 13, 12, 12]),
    (make_spiral, {}, (2, 300), [100, 100, 100]),
    (make_spiral, {"n_samples": 100, "n_classes": 5}, (2, 100), [20] * 5),
    (make_xor, {}, (2, 300), [150, 150]),
    (make_xor, {"n_samples": 10}, (2, 10), [5, 5]),
    (make_xor, {"n_samples": 7}, (2, 7), [4, 3]),
    (make_gaussian_quantiles, {}, (2, 300), [150, 150]),
    (make_gaussian_quantiles, {"n_classes": 3, "n_features": 4}, (4, 300), [100, 100, 100]),
]
GEN_IDS = [f"{f.__name__}-{i}" for i, (f, *_) in enumerate(GENERATORS)]


@pytest.mark.parametrize(("fn", "kwargs", "shape", "counts"), GENERATORS, ids=GEN_IDS)
def test_generator_shape_and_class_counts(fn, kwargs, shape, counts):
    ds = fn(**kwargs, seed=0)
    assert ds.X.shape == shape
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    assert np.bincount(ds.y, minlength=len(counts)).tolist() == counts
    assert ds.classes == tuple(range(len(counts)))


@pytest.mark.parametrize(("fn", "kwargs", "shape", "counts"), GENERATORS, ids=GEN_IDS)
def test_generator_reproducible_from_seed(fn, kwargs, shape, counts):
    a, b = fn(**kwargs, seed=7), fn(**kwargs, seed=7)
    c = fn(**kwargs, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.y, c.y)
    d = fn(**kwargs, seed=8)
    assert not np.array_equal(a.X, d.X)


def test_generator_with_a_generator_advances_it():
    rng = np.random.default_rng(0)
    a, b = make_moons(seed=rng), make_moons(seed=rng)
    assert not np.array_equal(a.X, b.X)


def test_make_moons_noise_free_points_lie_on_the_two_arcs():
    ds = make_moons(100, noise=0.0, seed=1)
    x, y = ds.X
    outer, inner = ds.y == 0, ds.y == 1
    np.testing.assert_allclose(x[outer] ** 2 + y[outer] ** 2, 1.0)
    np.testing.assert_allclose((x[inner] - 1.0) ** 2 + (y[inner] - 0.5) ** 2, 1.0)
    assert y[outer].min() >= -1e-15 and y[inner].max() <= 0.5 + 1e-15
    # the same noise-free points as scikit-learn's moons (the seed's distribution)
    Xs, ys = sklearn.datasets.make_moons(100, noise=0.0, shuffle=False)
    ours = sorted(zip(np.round(x, 12), np.round(y, 12), ds.y, strict=True))
    theirs = sorted(zip(np.round(Xs[:, 0], 12), np.round(Xs[:, 1], 12), ys, strict=True))
    assert ours == theirs


def test_make_moons_noise_has_the_requested_spread():
    clean = make_moons(2000, noise=0.0, seed=3)
    noisy = make_moons(2000, noise=0.2, seed=3)
    # same shuffle (the permutation is drawn first), so the difference is the noise
    np.testing.assert_array_equal(clean.y, noisy.y)
    assert abs(np.std(noisy.X - clean.X) - 0.2) < 0.01


def test_make_circles_radii():
    ds = make_circles(60, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(*ds.X)
    np.testing.assert_allclose(r[ds.y == 0], 1.0)
    np.testing.assert_allclose(r[ds.y == 1], 0.3)


def test_make_blobs_noise_free_points_are_the_centres():
    ds = make_blobs(40, n_classes=4, n_features=3, noise=0.0, center_box=(-2.0, 2.0), seed=5)
    for k in range(4):
        cols = ds.X[:, ds.y == k]
        np.testing.assert_array_equal(cols, cols[:, :1].repeat(cols.shape[1], axis=1))
    assert np.all(np.abs(ds.X) <= 2.0)
    assert len({tuple(ds.X[:, ds.y == k][:, 0]) for k in range(4)}) == 4


def test_make_spiral_noise_free_geometry():
    ds = make_spiral(30, n_classes=3, noise=0.0, turns=0.5, seed=0)
    r = np.hypot(*ds.X)
    for k in range(3):
        np.testing.assert_allclose(np.sort(r[ds.y == k]), np.arange(1, 11) / 10)
        rk = r[ds.y == k]
        a = 2 * np.pi * k / 3 + 2 * np.pi * 0.5 * rk
        np.testing.assert_allclose(ds.X[:, ds.y == k], rk * np.array([np.sin(a), np.cos(a)]))


def test_make_xor_labels_follow_the_signs():
    ds = make_xor(200, noise=0.0, seed=2)
    np.testing.assert_array_equal(ds.y, (ds.X[0] * ds.X[1] < 0).astype(int))
    assert np.all(np.abs(ds.X) <= 1.0)


def test_make_gaussian_quantiles_shells_are_nested():
    ds = make_gaussian_quantiles(300, n_classes=3, noise=0.0, seed=4)
    r = np.linalg.norm(ds.X, axis=0)
    assert r[ds.y == 0].max() < r[ds.y == 1].min()
    assert r[ds.y == 1].max() < r[ds.y == 2].min()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: make_moons(1),
            "The 'n_samples' parameter of make_moons must be an int in the range [2, 10000000]. "
            "Got 1 instead.",
        ),
        (lambda: make_moons(300.5), "make_moons must be an int in the range [2, 10000000]"),
        (lambda: make_blobs(n_features=2.5), "'n_features' parameter of make_blobs must be an int"),
        (
            lambda: make_moons(noise=-0.1),
            "The 'noise' parameter of make_moons must be a float >= 0",
        ),
        (
            lambda: make_moons(seed=-1),
            "The 'seed' parameter of make_moons must be an int in the range [0, 4294967295] or a "
            "numpy.random.Generator. Got -1 (int) instead.",
        ),
        (lambda: make_xor(seed="a"), "The 'seed' parameter of make_xor"),
        (lambda: make_blobs(2, n_classes=3), "must be at least n_classes=3"),
        (lambda: make_blobs(n_features=0), "The 'n_features' parameter of make_blobs"),
        (lambda: make_blobs(center_box=(1.0, 1.0)), "'center_box' parameter of make_blobs"),
        (lambda: make_spiral(n_classes=1), "The 'n_classes' parameter of make_spiral"),
        (lambda: make_circles(factor=1.0), "The 'factor' parameter of make_circles"),
    ],
)
def test_generator_parameter_errors(call, message):
    with pytest.raises(InvalidParameterError) as err:
        call()
    assert message in str(err.value)


# Absurd sizes, wrong types and non-finite settings: refused before anything is allocated
# (n_samples=1e11 used to allocate 745 GiB and crash with NumPy's _ArrayMemoryError).
HOSTILE_GENERATOR_SETTINGS = [
    (make_moons, {"n_samples": 1e11}, "'n_samples' parameter of make_moons must be an int in"),
    (make_xor, {"n_samples": 10**12}, "'n_samples' parameter of make_xor must be an int in"),
    (make_moons, {"n_samples": 10_000_001}, "Got 10000001 instead"),
    (make_moons, {"n_samples": "300"}, "Got '300' (str) instead"),
    (make_moons, {"n_samples": True}, "Got True (bool) instead"),
    (make_circles, {"n_samples": None}, "'n_samples' parameter of make_circles"),
    (make_blobs, {"n_features": 10**9}, "'n_features' parameter of make_blobs must be at most"),
    (make_blobs, {"n_samples": 10_000_000, "n_features": 65}, "must be at most 13 for n_samples"),
    (
        make_gaussian_quantiles,
        {"n_features": 10**7},
        "'n_features' parameter of make_gaussian_quantiles must be at most 447392",
    ),
    (make_blobs, {"n_classes": 10**9}, "'n_classes' parameter of make_blobs must be an int in"),
    (make_spiral, {"n_samples": 10, "n_classes": 11}, "must be at least n_classes=11"),
    (make_blobs, {"n_classes": 2.5}, "'n_classes' parameter of make_blobs"),
    (make_moons, {"seed": 2**32}, "'seed' parameter of make_moons must be an int in the range"),
    (make_moons, {"seed": 2**64}, "'seed' parameter of make_moons"),
    (make_moons, {"seed": True}, "Got True (bool) instead"),
    (make_moons, {"seed": 7.0}, "Got 7.0 (float) instead"),
    (make_moons, {"seed": None}, "'seed' parameter of make_moons"),
    (make_moons, {"noise": float("inf")}, "'noise' parameter of make_moons must be a float >= 0"),
    (make_xor, {"noise": float("nan")}, "'noise' parameter of make_xor"),
    (make_blobs, {"noise": "0.1"}, "'noise' parameter of make_blobs"),
    (make_circles, {"factor": float("nan")}, "'factor' parameter of make_circles"),
    (make_spiral, {"turns": float("inf")}, "'turns' parameter of make_spiral"),
    (make_blobs, {"center_box": (float("nan"), 1.0)}, "'center_box' parameter of make_blobs"),
    (make_blobs, {"center_box": (0.0, float("inf"))}, "'center_box' parameter of make_blobs"),
    (make_blobs, {"center_box": (-1e308, 1e308)}, "'center_box' parameter of make_blobs"),
    (make_blobs, {"center_box": "ab"}, "must be a pair (low, high) of finite floats"),
    (make_blobs, {"center_box": (1.0, 2.0, 3.0)}, "'center_box' parameter of make_blobs"),
    (make_blobs, {"center_box": 5.0}, "'center_box' parameter of make_blobs"),
]


@pytest.mark.parametrize(
    ("fn", "kwargs", "message"),
    HOSTILE_GENERATOR_SETTINGS,
    ids=[
        f"{f.__name__}-{next(iter(kw))}-{i}"
        for i, (f, kw, _) in enumerate(HOSTILE_GENERATOR_SETTINGS)
    ],
)
def test_generators_refuse_hostile_settings_up_front(fn, kwargs, message):
    with pytest.raises(InvalidParameterError) as err:
        fn(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_generators_take_whole_floats_and_numpy_ints_as_counts():
    # as_int: a whole float from a config or JSON is the same count
    np.testing.assert_array_equal(make_moons(300.0, seed=1).X, make_moons(300, seed=1).X)
    a = make_blobs(np.int64(40), n_classes=4.0, n_features=np.int32(3), seed=np.uint32(2))
    b = make_blobs(40, n_classes=4, n_features=3, seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    assert make_moons(seed=2**32 - 1).n_examples == 300  # the largest seed


# --------------------------------------------------------------------------- bundled real sets

REAL = [
    ("breast_cancer", (30, 569), ("malignant", "benign"), "mean radius"),
    ("iris", (4, 150), ("setosa", "versicolor", "virginica"), "sepal length (cm)"),
    ("wine", (13, 178), ("class_0", "class_1", "class_2"), "alcohol"),
    ("digits", (64, 1797), tuple(range(10)), "pixel_0_0"),
]


@pytest.mark.parametrize(("name", "shape", "classes", "first_feature"), REAL)
def test_bundled_real_sets(name, shape, classes, first_feature):
    ds = getattr(datasets, f"load_{name}")()
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    assert ds.name == name
    assert ds.X.shape == shape and ds.n_classes == len(classes)
    assert ds.classes == classes
    assert ds.feature_names[0] == first_feature and len(ds.feature_names) == shape[0]
    assert all(type(c) in (str, int) for c in ds.classes)
    np.testing.assert_array_equal(ds.X, bunch.data.T)
    np.testing.assert_array_equal(ds.y, bunch.target)


# --------------------------------------------------------------------------- the container


def test_Y_two_classes_is_a_row_of_zeros_and_ones():
    ds = Dataset("t", np.zeros((2, 4)), np.array([1, 0, 0, 1]))
    assert ds.Y.shape == (1, 4) and ds.Y.dtype == np.float64
    assert ds.Y.tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_Y_one_hot_for_more_classes():
    ds = Dataset("t", np.zeros((1, 5)), np.array([2, 0, 1, 2, 3]), classes=("a", "b", "c", "d"))
    expected = np.array(
        [
            [0, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [1, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(ds.Y, expected)
    assert ds.Y.dtype == np.float64
    digits = datasets.load_digits()
    np.testing.assert_array_equal(digits.Y.sum(axis=0), 1.0)
    np.testing.assert_array_equal(digits.Y.argmax(axis=0), digits.y)


def test_dataset_defaults_copies_and_read_only():
    X = np.arange(6.0).reshape(2, 3)
    ds = Dataset("t", X, [0, 1, 0])
    assert ds.classes == (0, 1) and ds.feature_names == ("x1", "x2")
    assert (ds.n_features, ds.n_examples, ds.n_classes) == (2, 3, 2)
    X[0, 0] = 99.0
    assert ds.X[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        ds.X[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        ds.y[0] = 1
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert repr(ds) == "Dataset(name='t', n_features=2, n_examples=3, classes=(0, 1))"


def test_dataset_accepts_the_seeds_label_row_and_float_labels():
    ds = Dataset("t", np.zeros((2, 3)), np.array([[1.0, 0.0, 1.0]]))
    assert ds.y.tolist() == [1, 0, 1] and ds.y.dtype == np.int64


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "message"),
    [
        (np.zeros(300), np.zeros(300, int), {}, "X must be a 2-D array of shape (n_features, m)"),
        (np.zeros((2, 300)), np.zeros(299, int), {}, "Found 300 examples in X and 299 in y"),
        (np.array([[0.0, np.nan]]), [0, 1], {}, "X contains NaN or inf (first at index (0, 1))"),
        (np.array([[0.0, np.inf]]), [0, 1], {}, "X contains NaN or inf"),
        (np.zeros((1, 3)), [0, 1, 2], {"classes": ("a", "b")}, "found 2 at example 2"),
        (np.zeros((1, 3)), [0, -1, 1], {}, "found -1 at example 1"),
        (np.zeros((1, 3)), [0, 0, 0], {}, "needs at least two classes; got 1"),
        (np.zeros((1, 2)), [0, 1], {"classes": ("a", "a")}, "classes must be distinct"),
        (np.zeros((1, 2)), [0.5, 1], {}, "y must hold integer class indices"),
        (np.zeros((1, 2)), [[0, 1], [1, 0]], {}, "y must be a 1-D array"),
        (np.zeros((2, 2)), [0, 1], {"feature_names": ("a",)}, "Got 1 feature names for 2"),
        (np.array([["a", "b"]]), [0, 1], {}, "X must hold numbers"),
        (np.zeros((2, 0)), np.zeros(0, int), {}, "at least one example"),
        (np.zeros((0, 3)), [0, 1, 0], {}, "needs at least one feature (a row of X)"),
        (np.zeros((0, 0)), np.zeros(0, int), {}, "needs at least one feature"),
    ],
)
def test_dataset_validation_errors(X, y, kwargs, message):
    with pytest.raises(DataError) as err:
        Dataset("t", X, y, **kwargs)
    assert message in str(err.value)


def test_encode_labels_and_from_labels():
    y, classes = encode_labels(np.array(["b", "a", "c", "a"]))
    assert y.tolist() == [1, 0, 2, 0] and classes == ("a", "b", "c")
    y, classes = encode_labels([3.0, -1.0, 3.0])
    assert y.tolist() == [1, 0, 1] and classes == (-1, 3) and type(classes[0]) is int
    y, classes = encode_labels([0.5, 1.5])
    assert classes == (0.5, 1.5)
    ds = Dataset.from_labels(
        "pets", np.arange(6.0).reshape(2, 3), ["dog", "cat", "dog"], ["a", "b"]
    )
    assert ds.classes == ("cat", "dog") and ds.y.tolist() == [1, 0, 1]
    assert ds.feature_names == ("a", "b")
    with pytest.raises(DataError, match="numbers or strings"):
        encode_labels(np.array([1, "a", None], dtype=object))
    # bytes labels are UTF-8 text; other bytes used to escape as a UnicodeDecodeError
    y, classes = encode_labels(np.array([b"b", "\u00df".encode(), b"b"]))
    assert y.tolist() == [0, 1, 0] and classes == ("b", "\u00df")
    with pytest.raises(DataError, match="labels are bytes that are not UTF-8 text"):
        encode_labels(np.array([b"\xe9", b"a"]))


def test_subset_by_indices_and_mask():
    ds = Dataset("t", np.arange(10.0).reshape(2, 5), [0, 1, 0, 1, 1], classes=("n", "p"))
    sub = ds.subset([4, 0])
    assert sub.X.tolist() == [[4.0, 0.0], [9.0, 5.0]] and sub.y.tolist() == [1, 0]
    assert sub.classes == ("n", "p") and sub.feature_names == ds.feature_names
    sub = ds.subset(ds.y == 1)
    assert sub.X[0].tolist() == [1.0, 3.0, 4.0]
    with pytest.raises(DataError, match="subset index 5 is out of range for 5 examples"):
        ds.subset([5])
    with pytest.raises(DataError, match=r"must have shape \(5,\)"):
        ds.subset(np.array([True, False]))


# --------------------------------------------------------------------------- split


def indexed(counts: list[int], seed: int = 0) -> Dataset:
    """A dataset whose first feature is the example's index, labels shuffled."""
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    X = np.vstack([np.arange(y.size, dtype=float), y.astype(float)])
    return Dataset("idx", X, y, tuple(f"c{k}" for k in range(len(counts))))


@pytest.mark.parametrize(
    ("counts", "test_size", "expected_test"),
    [
        ([150, 150], 0.2, [30, 30]),
        ([80, 20], 0.25, [20, 5]),
        ([80, 20], 25, [20, 5]),
        ([50, 50, 50], 0.1, [5, 5, 5]),
        ([98, 2], 0.1, [9, 1]),  # the rare class keeps one example in each part
        ([10, 10, 10], 0.1, [1, 1, 1]),  # ceil(0.1 * 30) = 3, not 4
        ([20, 10], 0.5, [10, 5]),
        ([7, 5, 3], 6, [3, 2, 1]),  # quotas 2.8, 2.0, 1.2: largest remainder to class 0
    ],
)
def test_split_is_stratified(counts, test_size, expected_test):
    ds = indexed(counts)
    train, test = ds.split(test_size, seed=0)
    assert np.bincount(test.y, minlength=len(counts)).tolist() == expected_test
    assert np.bincount(train.y, minlength=len(counts)).tolist() == [
        c - t for c, t in zip(counts, expected_test, strict=True)
    ]
    assert train.classes == test.classes == ds.classes
    # each part keeps the original order and the labels stay with their examples
    assert np.all(np.diff(train.X[0]) > 0) and np.all(np.diff(test.X[0]) > 0)
    np.testing.assert_array_equal(test.X[1], test.y)


def test_split_is_deterministic_given_the_seed():
    ds = load_moons()
    a_train, a_test = ds.split(0.2, seed=42)
    b_train, b_test = ds.split(0.2, seed=np.random.default_rng(42))
    np.testing.assert_array_equal(a_test.X, b_test.X)
    np.testing.assert_array_equal(a_train.y, b_train.y)
    _, c_test = ds.split(0.2, seed=43)
    assert not np.array_equal(a_test.X, c_test.X)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5, -0.2, 0, 300, -3, True, "0.2", None])
def test_split_rejects_test_size_out_of_range(test_size):
    with pytest.raises(InvalidParameterError) as err:
        load_moons().split(test_size, seed=0)
    msg = str(err.value)
    assert (
        "The 'test_size' parameter of Dataset.split must be a float in the range (0.0, 1.0)" in msg
    )
    assert "or an int in the range [1, 299]" in msg and repr(test_size) in msg


def test_split_float_leaving_no_training_example_is_rejected():
    with pytest.raises(InvalidParameterError, match="leaves 0 of 10 examples for training"):
        indexed([5, 5]).split(0.99, seed=0)


def test_split_errors_when_a_class_would_be_empty():
    with pytest.raises(DataError) as err:
        indexed([5, 5, 5]).split(2, seed=0)
    msg = str(err.value)
    assert "puts 2 of 15 examples in the test set" in msg and "leave a class empty" in msg
    assert "between 3 and 12 examples" in msg
    with pytest.raises(
        DataError, match="puts 13 of 15 examples in the test set and 2 in the training set"
    ):
        indexed([5, 5, 5]).split(13, seed=0)
    with pytest.raises(DataError, match="Class 'c1' has only 1 example in 'idx'"):
        indexed([5, 1]).split(0.5, seed=0)
    with pytest.raises(InvalidParameterError, match=r"'seed' parameter of Dataset\.split"):
        indexed([5, 5]).split(0.5, seed=None)
    with pytest.raises(InvalidParameterError, match=r"in the range \[0, 4294967295\]"):
        indexed([5, 5]).split(0.5, seed=2**32)


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(1, 25), min_size=2, max_size=5),
    frac=st.floats(0.01, 0.99),
    as_int=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_partitions_the_examples_exactly_once(counts, frac, as_int, seed):
    ds = indexed(counts, seed=seed % 1000)
    m, k = ds.n_examples, len(counts)
    test_size = max(1, min(m - 1, round(frac * m))) if as_int else frac
    n_test = test_size if as_int else math.ceil(frac * m - 1e-9)
    if not 1 <= n_test <= m - 1:
        with pytest.raises(InvalidParameterError, match="leaves 0 of"):
            ds.split(test_size, seed)
        return
    if min(counts) < 2:
        with pytest.raises(DataError, match="has only 1 example"):
            ds.split(test_size, seed)
        return
    if n_test < k or m - n_test < k:
        with pytest.raises(DataError, match="leave a class empty"):
            ds.split(test_size, seed)
        return
    train, test = ds.split(test_size, seed)
    assert test.n_examples == n_test and train.n_examples == m - n_test
    together = np.concatenate([train.X[0], test.X[0]])
    np.testing.assert_array_equal(np.sort(together), np.arange(m))  # each example exactly once
    for part in (train, test):
        np.testing.assert_array_equal(part.X[1], part.y)
        assert np.all(np.bincount(part.y, minlength=k) >= 1)


# --------------------------------------------------------------------------- standardize


def test_standardized_uses_train_statistics_for_the_test_set():
    train, test = load_moons().split(0.25, seed=1)
    std_train, mean, std = train.standardized()
    assert mean.shape == (2, 1) and std.shape == (2, 1)
    np.testing.assert_allclose(mean[:, 0], train.X.mean(axis=1))
    np.testing.assert_allclose(std[:, 0], train.X.std(axis=1))
    np.testing.assert_allclose(std_train.X.mean(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(std_train.X.std(axis=1), 1.0)
    std_test, mean2, std2 = test.standardized(mean, std)
    np.testing.assert_array_equal(std2, std)
    np.testing.assert_array_equal(std_test.X, (test.X - mean) / std)
    np.testing.assert_array_equal(mean2, mean)
    # the test set's own statistics differ, so its standardised mean is not exactly 0
    assert np.all(np.abs(std_test.X.mean(axis=1)) > 1e-6)
    np.testing.assert_array_equal(std_test.y, test.y)
    # 1-D statistics are accepted too
    np.testing.assert_array_equal(test.standardized(mean[:, 0], std[:, 0])[0].X, std_test.X)


def test_standardized_constant_features_become_zero():
    X = np.array([[1.0, 2.0, 3.0, 4.0], [0.1, 0.1, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0]])
    ds = Dataset("t", X, [0, 1, 0, 1])
    out, mean, std = ds.standardized()
    assert std[1:, 0].tolist() == [1.0, 1.0]
    assert mean[:, 0].tolist() == [2.5, 0.1, 0.0]
    assert out.X[1:].tolist() == [[0.0] * 4, [0.0] * 4]
    np.testing.assert_allclose(out.X[0], (X[0] - 2.5) / np.sqrt(1.25))


def test_standardized_features_of_any_finite_magnitude(tmp_path, capsys):
    """Values past ~1e154 square to inf and tiny ones to 0: the statistics are still exact (the
    feature is scaled by a power of two first), without a NumPy warning; a CSV holding such a
    column trains instead of being refused as 'std contains NaN or inf'."""
    X = np.array([[1e299, 3e299, -2e299, 5e298], [1.0, 2.0, 3.0, 4.0], [1e-310, 3e-310, 0, 0]])
    with np.errstate(all="raise"):
        out, mean, std = Dataset("t", X, [0, 1, 0, 1]).standardized()
    scale = np.array([[2.0**993], [1.0], [2.0**-1029]])
    np.testing.assert_array_equal(mean, (X / scale).mean(axis=1, keepdims=True) * scale)
    np.testing.assert_array_equal(std, (X / scale).std(axis=1, keepdims=True) * scale)
    assert np.all(np.isfinite(out.X)) and np.all(std > 0)
    np.testing.assert_allclose(out.X[:2].std(axis=1), 1.0)
    np.testing.assert_allclose(out.X.mean(axis=1), 0.0, atol=1e-15)
    # the plain path is unchanged where it does not overflow
    assert (mean[1, 0], std[1, 0]) == (X[1].mean(), X[1].std())

    from descentlab.cli import main

    path = tmp_path / "huge.csv"
    rows = [f"{(i % 7) * 1e299!r},{i / 40},{i % 2}" for i in range(40)]
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    capsys.readouterr()
    status = main(["train", "--dataset", str(path), "--target", "label", "--epochs", "2", "-q"])
    assert status == 0 and capsys.readouterr().err == ""


def test_standardized_refuses_values_that_overflow_in_one_line():
    X = np.array([[1.0, 2.0, 3.0, 4.0], [1.7e308, 1.7e308, -1.7e308, 1.0]])
    with pytest.raises(DataError) as info:
        Dataset("t", X, [0, 1, 0, 1], feature_names=("a", "b")).standardized()
    assert str(info.value) == (
        "Feature 'b' cannot be standardised: its values (largest |x| = 1.7e+308) against mean "
        "4.25e+307 and std 1.41e+308 overflow float64. Rescale that column first."
    )


def test_standardized_errors():
    ds = Dataset("t", np.array([[1.0, 2.0], [3.0, 5.0]]), [0, 1], feature_names=("a", "b"))
    with pytest.raises(InvalidParameterError, match="both 'mean' and 'std'"):
        ds.standardized(mean=np.zeros((2, 1)))
    with pytest.raises(
        DataError, match=r"mean must have shape \(2, 1\) or \(2,\).*got shape \(3,\)"
    ):
        ds.standardized(np.zeros(3), np.ones(3))
    with pytest.raises(
        DataError, match=r"feature 'b' has std 0\.0\. Pass the std returned by standardized\(\)"
    ):
        ds.standardized(np.zeros(2), np.array([1.0, 0.0]))
    with pytest.raises(DataError, match="std contains NaN or inf"):
        ds.standardized(np.zeros(2), np.array([1.0, np.nan]))


# --------------------------------------------------------------------------- CSV and NPZ


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_csv_round_trip_with_string_labels(tmp_path):
    rows = [
        ["sepal", "species", "petal"],
        [1.5, "virginica", -2.0],
        [2.5, "setosa", 3.25],
        [0.5, "virginica", 1e-3],
        [4.0, "versicolor", 7.0],
    ]
    ds = load_csv(write_csv(tmp_path / "flowers.csv", rows), "species")
    assert ds.name == "flowers"
    assert ds.feature_names == ("sepal", "petal")
    assert ds.classes == ("setosa", "versicolor", "virginica")
    assert ds.y.tolist() == [2, 0, 2, 1]
    np.testing.assert_array_equal(ds.X, [[1.5, 2.5, 0.5, 4.0], [-2.0, 3.25, 1e-3, 7.0]])
    assert [ds.classes[k] for k in ds.y] == ["virginica", "setosa", "virginica", "versicolor"]


def test_csv_round_trip_from_pandas_with_numeric_labels(tmp_path):
    pd = pytest.importorskip("pandas")
    iris = datasets.load_iris()
    frame = pd.DataFrame(iris.X.T, columns=list(iris.feature_names))
    frame["label"] = iris.y * 10 + 5  # numeric labels 5, 15, 25
    frame.to_csv(tmp_path / "iris.csv", index=False)
    ds = load_csv(tmp_path / "iris.csv", "label", name="iris-csv")
    assert ds.name == "iris-csv" and ds.classes == (5, 15, 25)
    assert ds.feature_names == iris.feature_names
    np.testing.assert_array_equal(ds.y, iris.y)
    np.testing.assert_allclose(ds.X, iris.X, rtol=0, atol=0)


def test_csv_options_standardize_and_delimiter(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;y\n1;10;no\n3;10;yes\n\n5;10;no\n")  # a blank line is skipped
    ds = load_csv(path, "y", delimiter=";", standardize=True)
    np.testing.assert_allclose(ds.X, [[-np.sqrt(1.5), 0.0, np.sqrt(1.5)], [0.0, 0.0, 0.0]])
    assert ds.classes == ("no", "yes") and ds.y.tolist() == [0, 1, 0]


def test_npz_round_trip_with_string_labels(tmp_path):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.5]])  # (m=3, n=2), rows are examples
    labels = np.array(["spam", "ham", "spam"])
    np.savez(tmp_path / "mail.npz", X=X, y=labels, feature_names=np.array(["len", "links"]))
    ds = load_npz(tmp_path / "mail.npz")
    assert ds.name == "mail" and ds.classes == ("ham", "spam") and ds.y.tolist() == [1, 0, 1]
    np.testing.assert_array_equal(ds.X, X.T)
    assert ds.feature_names == ("len", "links")
    np.savez(tmp_path / "keys.npz", data=X.astype(np.float32), target=np.array([2, 7, 7]))
    ds = load_npz(tmp_path / "keys.npz", "target", features="data", standardize=True)
    assert ds.classes == (2, 7) and ds.feature_names == ("x1", "x2")
    np.testing.assert_allclose(ds.X.mean(axis=1), 0.0, atol=1e-15)


CSV_ERRORS = [
    # (file content or None for no file, target, expected message fragments)
    (None, "y", ["No such file:", "missing.csv", "Check the path"]),
    ("", "y", ["is empty; expected a header row"]),
    ("\n\n", "y", ["is empty"]),
    ("a,b,y\n", "y", ["has 0 examples; at least 2 are needed"]),
    ("a,b,y\n1,2,x\n", "y", ["has 1 example; at least 2 are needed"]),
    ("1,2,0\n3,4,1\n", "y", ["looks like data", "header row naming the columns is required"]),
    (
        "a,b,label\n1,2,x\n3,4,y\n",
        "class",
        ["Target column 'class' not found", "Available columns: 'a', 'b', 'label'"],
    ),
    (
        "a,b,y\n1,2,x\n3,abc,z\n",
        "y",
        ["Column 'b' at line 3", "holds 'abc', which is not a number"],
    ),
    ("a,b,y\n1,2,x\nnan,4,z\n", "y", ["Column 'a' at line 3", "'nan' (NaN or inf)"]),
    ("a,b,y\n1,2,x\n3,-inf,z\n", "y", ["Column 'b' at line 3", "'-inf' (NaN or inf)"]),
    ("a,b,y\n1,,x\n3,4,z\n", "y", ["Column 'b' at line 2", "is empty (a missing value)"]),
    ("a,b,y\n1,2,\n3,4,z\n", "y", ["target column 'y' is empty at line 2"]),
    ("a,b,y\n1,2,x\n3,4,x\n5,6,x\n", "y", ["holds a single class ('x')", "at least two"]),
    ("a,b,y\n1,2,x\n3,4\n", "y", ["Line 3", "has 2 fields, but the header has 3"]),
    ("a,a,y\n1,2,x\n3,4,z\n", "y", ["Column 'a' appears twice"]),
    ("y\nx\nz\n", "y", ["only the target column 'y'"]),
]


@pytest.mark.parametrize(("content", "target", "fragments"), CSV_ERRORS)
def test_csv_errors_name_the_problem(tmp_path, content, target, fragments):
    path = tmp_path / ("missing.csv" if content is None else "bad.csv")
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as err:
        load_csv(path, target)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_csv_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"Cannot read .*: Is a directory"):
        load_csv(tmp_path, "y")
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\n\xe9t\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="it is not UTF-8 text"):
        load_csv(path, "y")


def test_npz_errors_name_the_problem(tmp_path):
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(DataError, match="No such file"):
        load_npz(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match=r"Cannot read .* as an \.npz archive"):
        load_npz(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", X)
    with pytest.raises(DataError, match=r"holds a single array, not an \.npz archive"):
        load_npz(tmp_path / "single.npy")
    np.savez(tmp_path / "keys.npz", features=X, labels=[0, 1, 0])
    with pytest.raises(DataError, match=r"Array 'X' not found .*; it holds: 'features', 'labels'"):
        load_npz(tmp_path / "keys.npz")
    with pytest.raises(DataError, match="Array 'y' not found"):
        load_npz(tmp_path / "keys.npz", features="features")
    np.savez(tmp_path / "obj.npz", X=X, y=np.array([0, "a", None], dtype=object))
    with pytest.raises(DataError, match=r"as an \.npz archive of plain arrays"):
        load_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "flat.npz", X=np.arange(3.0), y=[0, 1, 0])
    with pytest.raises(DataError, match=r"must be a 2-D numeric array of shape \(m, n_features\)"):
        load_npz(tmp_path / "flat.npz")
    np.savez(tmp_path / "short.npz", X=X, y=[0, 1])
    with pytest.raises(DataError, match="Found 3 examples in 'X' and 2 in 'y'"):
        load_npz(tmp_path / "short.npz")
    Xn = X.copy()
    Xn[2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=Xn, y=[0, 1, 0], feature_names=["u", "v"])
    with pytest.raises(DataError, match=r"Feature 'v' \(column 1\) .* holds nan at row 2"):
        load_npz(tmp_path / "nan.npz")
    np.savez(tmp_path / "one.npz", X=X, y=[4, 4, 4])
    with pytest.raises(DataError, match=r"holds a single class \(4\)"):
        load_npz(tmp_path / "one.npz")
    np.savez(tmp_path / "row.npz", X=X[:1], y=[1])
    with pytest.raises(DataError, match="has 1 example; at least 2"):
        load_npz(tmp_path / "row.npz")
    np.savez(tmp_path / "names.npz", X=X, y=[0, 1, 0], feature_names=["u"])
    with pytest.raises(DataError, match="1 feature_names for 2 feature columns"):
        load_npz(tmp_path / "names.npz")


# --------------------------------------------------------------------------- registry


def test_load_dataset_builtin_names():
    np.testing.assert_array_equal(load_dataset("moons").X, load_moons().X)
    np.testing.assert_array_equal(load_dataset("moons", seed=5).X, make_moons(seed=5).X)
    assert load_dataset("moons", seed=5).X[:, 0].tolist() == [
        0.8039557424718948,
        -0.6448380183348944,
    ]
    ds = load_dataset("moons", n_samples=50, noise=0.0)
    np.testing.assert_array_equal(ds.X, make_moons(50, noise=0.0, seed=0).X)
    ds = load_dataset("Gaussian-Quantiles", n_samples=40, seed=1)
    np.testing.assert_array_equal(ds.X, make_gaussian_quantiles(40, seed=1).X)
    assert load_dataset("blobs", noise=0.5).X.shape == (2, 300)
    assert load_dataset("iris").X.shape == (4, 150)


def test_load_dataset_files(tmp_path):
    path = write_csv(tmp_path / "d.csv", [["f", "t"], [1, "a"], [2, "b"]])
    ds = load_dataset(str(path), target="t")
    assert ds.X.tolist() == [[1.0, 2.0]] and ds.classes == ("a", "b")
    np.savez(tmp_path / "d.npz", X=np.eye(2), y=["a", "b"])
    assert load_dataset(tmp_path / "d.npz").classes == ("a", "b")


@pytest.mark.parametrize(
    ("args", "kwargs", "fragments"),
    [
        (
            ("mons",),
            {},
            ["Unknown dataset 'mons'", "moons, circles, blobs", "digits", ".csv or .npz"],
        ),
        (("iris",), {"noise": 0.1}, ["'noise' parameter of load_dataset does not apply", "'iris'"]),
        (("digits",), {"n_samples": 10}, ["'n_samples' parameter", "'digits'"]),
        (("moons",), {"target": "y"}, ["'target' parameter of load_dataset applies only"]),
        (("data.csv",), {}, ["needs target=...", "'data.csv'"]),
        (("data.csv",), {"target": "y", "seed": 1}, ["'seed'", "not to the file 'data.csv'"]),
    ],
)
def test_load_dataset_errors(args, kwargs, fragments):
    with pytest.raises(InvalidParameterError) as err:
        load_dataset(*args, **kwargs)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_describe_datasets_lists_every_builtin():
    rows = describe_datasets()
    assert [r["name"] for r in rows] == list(BUILTIN_DATASETS)
    table = {r["name"]: (r["n_features"], r["n_examples"], r["n_classes"]) for r in rows}
    assert table == {
        "moons": (2, 300, 2),
        "circles": (2, 300, 2),
        "blobs": (2, 300, 3),
        "spiral": (2, 300, 3),
        "xor": (2, 300, 2),
        "gaussian_quantiles": (2, 300, 2),
        "breast_cancer": (30, 569, 2),
        "iris": (4, 150, 3),
        "wine": (13, 178, 3),
        "digits": (64, 1797, 10),
        "mnist1d": (40, 5000, 10),
        "noisy_quadratic": (100, 1000, 0),  # regression: no classes
    }
    assert all(isinstance(r["description"], str) and r["description"] for r in rows)
    tasks = {r["name"]: r["task"] for r in rows}
    assert tasks.pop("noisy_quadratic") == "regression"
    assert set(tasks.values()) == {"classification"}


def test_docstring_examples_run():
    # testmod sees only the names a module defines, so every module of the package in turn.
    from descentlab.datasets import bundled, container, files, synthetic

    modules = [datasets, bundled, container, files, synthetic]
    results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
    assert sum(r.attempted for r in results) >= 8 and sum(r.failed for r in results) == 0
