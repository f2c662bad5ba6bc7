"""Mini-batches: the seed's expected output, exact partition, SGD and batch GD, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab._validation import DataError, InvalidParameterError
from descentlab.batching import batch_slices, iterate_mini_batches, random_mini_batches


def test_seed_expected_output():
    np.random.seed(1)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    batches = random_mini_batches(X, Y, 64)
    assert [b[0].shape for b in batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [b[1].shape for b in batches] == [(1, 64), (1, 64), (1, 20)]
    np.testing.assert_allclose(
        batches[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157], atol=5e-9
    )


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 300), b=st.integers(1, 400), seed=st.integers(0, 10_000))
def test_mini_batches_partition_the_examples_exactly_once(m, b, seed):
    X = np.arange(m, dtype=float)[None, :]
    Y = np.arange(m)[None, :] * 10
    batches = random_mini_batches(X, Y, b, seed)
    seen = np.concatenate([bx[0] for bx, _ in batches])
    assert sorted(seen.tolist()) == list(range(m))
    for bx, by in batches:
        np.testing.assert_array_equal(by, bx * 10)  # X and Y shuffled together
    sizes = [bx.shape[1] for bx, _ in batches]
    assert sizes == [b] * (m // b) + ([m % b] if m % b else [])


def test_sgd_and_batch_gd_extremes():
    X, Y = np.ones((2, 5)), np.zeros((1, 5))
    assert [bx.shape[1] for bx, _ in random_mini_batches(X, Y, 1)] == [1] * 5
    assert [bx.shape[1] for bx, _ in random_mini_batches(X, Y, 64)] == [5]


def test_iterator_is_reproducible_and_reshuffles_each_epoch():
    X = np.arange(10.0)[None, :]
    Y = X.copy()
    rng = np.random.default_rng(0)
    first = np.concatenate([bx[0] for bx, _ in iterate_mini_batches(X, Y, 3, rng)])
    second = np.concatenate([bx[0] for bx, _ in iterate_mini_batches(X, Y, 3, rng)])
    again = np.concatenate(
        [bx[0] for bx, _ in iterate_mini_batches(X, Y, 3, np.random.default_rng(0))]
    )
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    unshuffled = np.concatenate([bx[0] for bx, _ in iterate_mini_batches(X, Y, 4, shuffle=False)])
    np.testing.assert_array_equal(unshuffled, np.arange(10.0))


def test_iterator_shuffles_x_and_y_together():
    """Every batch pairs each column of X with its own column of Y (Y = -2 X here)."""
    X = np.arange(10.0)[None, :]
    Y = np.vstack([-2 * X, X + 100])
    batches = list(iterate_mini_batches(X, Y, 3, np.random.default_rng(1)))
    order = np.concatenate([bx[0] for bx, _ in batches])
    assert not np.array_equal(order, X[0])  # shuffled ...
    for bx, by in batches:  # ... and every pair kept
        np.testing.assert_array_equal(by, np.vstack([-2 * bx, bx + 100]))


@pytest.mark.parametrize("bad", [0, -3, 2.5, "64", None])
def test_bad_batch_size_raises(bad):
    with pytest.raises(
        InvalidParameterError,
        match="'mini_batch_size' parameter of random_mini_batches must be an int >= 1",
    ):
        random_mini_batches(np.ones((2, 4)), np.ones((1, 4)), bad)


def test_mismatched_examples_raise():
    with pytest.raises(DataError, match="Found 4 examples in X and 3 in Y"):
        random_mini_batches(np.ones((2, 4)), np.ones((1, 3)), 2)


def test_batch_slices():
    assert [(s.start, s.stop) for s in batch_slices(148, 64)] == [(0, 64), (64, 128), (128, 148)]


def test_epoch_order_is_the_exercise_order_shared_or_per_member():
    from descentlab.batching import SEED_DATA_SEED, EpochOrder

    seed = EpochOrder("seed", None, 300)
    for epoch in (0, 1, 7):  # the exercise: np.random.seed(10 + epoch + 1) before each epoch
        expected = np.random.RandomState(SEED_DATA_SEED + epoch + 1).permutation(300)
        np.testing.assert_array_equal(seed(epoch), expected)
    shared = EpochOrder("random", [5, 5, 5], 40)  # one seed for all: one shared (m,) order
    assert shared.n_orders == 3 and shared(0).shape == (40,)
    per_member = EpochOrder("random", [5, 6, 5], 40)
    orders = per_member(0)
    assert orders.shape == (3, 40)
    np.testing.assert_array_equal(orders[0], orders[2])
    np.testing.assert_array_equal(orders[0], np.random.default_rng(5).permutation(40))
    assert EpochOrder("none", [1, 2], 40)(3) is None


@pytest.mark.parametrize("bad", [-1, 2**32, "7", 1.5, [0, -3], [], {"a": 1}])
def test_epoch_order_refuses_bad_seeds(bad):
    from descentlab._validation import InvalidParameterError
    from descentlab.batching import EpochOrder

    with pytest.raises(InvalidParameterError, match="'data_seed' parameter of EpochOrder"):
        EpochOrder("random", bad, 10)
