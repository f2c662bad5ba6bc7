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


def test_iterator_refuses_a_bad_batch_size_by_name():
    with pytest.raises(InvalidParameterError) as exc:
        list(iterate_mini_batches(np.ones((1, 4)), np.ones((1, 4)), 0))
    assert str(exc.value) == (
        "The 'batch_size' parameter of iterate_mini_batches must be an int >= 1. Got 0 instead."
    )


@pytest.mark.parametrize("seed", [5, np.int64(5)])
def test_iterator_seeds_a_generator_from_an_int(seed):
    """An int ``rng`` is ``default_rng(rng)``: the order is its first permutation, every call."""
    X = np.arange(20.0)[None, :]
    expected = np.random.default_rng(5).permutation(20).astype(float)
    for _ in range(2):
        got = np.concatenate([bx[0] for bx, _ in iterate_mini_batches(X, X, 6, seed)])
        np.testing.assert_array_equal(got, expected)


def _message(call):
    with pytest.raises(ValueError) as exc:
        call()
    return type(exc.value), str(exc.value)


def test_data_and_seed_refusals_say_which_argument_exactly():
    ones = np.ones((1, 3))
    expected_array = "must be a NumPy array (features or outputs, m examples as columns); got list."
    assert _message(lambda: random_mini_batches([[1.0]], ones)) == (
        DataError,
        f"X {expected_array}",
    )
    assert _message(lambda: random_mini_batches(ones, [[1.0]])) == (
        DataError,
        f"Y {expected_array}",
    )
    assert _message(lambda: random_mini_batches(np.ones(3), np.ones((1, 3, 1)))) == (
        DataError,
        "X and Y must be 2-D (features or outputs, m examples as columns); got shapes (3,) and "
        "(1, 3, 1).",
    )
    assert _message(lambda: random_mini_batches(ones, ones, 2, -1)) == (
        InvalidParameterError,
        "The 'seed' parameter of random_mini_batches must be an int in the range [0, 4294967295]. "
        "Got -1 instead.",
    )


def test_random_mini_batches_default_batch_size_is_64():
    X = np.arange(130.0)[None, :]
    assert [bx.shape[1] for bx, _ in random_mini_batches(X, X)] == [64, 64, 2]


def test_batch_slices_of_no_examples_is_empty():
    assert batch_slices(0, 5) == []
    assert batch_slices(10_000_000, 10_000_000) == [slice(0, 10_000_000)]


@pytest.mark.parametrize("m", [-1, 2.5, 10_000_001])
def test_batch_slices_refuses_a_bad_example_count_exactly(m):
    assert _message(lambda: batch_slices(m, 5)) == (
        InvalidParameterError,
        f"The 'm' parameter of batch_slices must be an int in the range [0, 10000000]. Got {m} instead.",
    )


def test_batch_slices_refuses_a_bad_batch_size_exactly():
    assert _message(lambda: batch_slices(4, 0)) == (
        InvalidParameterError,
        "The 'batch_size' parameter of batch_slices must be an int >= 1. Got 0 instead.",
    )


def test_seed_order_reseeds_and_advances_the_given_generator():
    """The generator passed in is the one drawn from: afterwards it is where a fresh
    ``RandomState(seed)`` is after ``permutation(m)``."""
    from descentlab.batching import seed_order

    generator = np.random.RandomState(0)
    np.testing.assert_array_equal(seed_order(7, 11, generator=generator), [2, 5, 4, 6, 3, 0, 1])
    reference = np.random.RandomState(11)
    reference.permutation(7)
    assert generator.randint(2**31) == reference.randint(2**31)


def test_epoch_order_single_seed_and_its_attributes():
    from descentlab.batching import EpochOrder

    exercise = EpochOrder("seed", 3, 30)  # the exercise's order from data seed 3: 3 + epoch + 1
    np.testing.assert_array_equal(exercise(0), np.random.RandomState(4).permutation(30))
    np.testing.assert_array_equal(exercise(2), np.random.RandomState(6).permutation(30))
    reference = np.random.RandomState(6)  # the kept legacy generator is the one re-seeded
    reference.permutation(30)
    assert exercise.legacy.randint(2**31) == reference.randint(2**31)
    assert (exercise.n_orders, exercise.per_member, exercise.repeat) == (None, False, None)

    rng = EpochOrder("random", 5, 30)
    np.testing.assert_array_equal(rng(0), np.random.default_rng(5).permutation(30))

    shared = EpochOrder("random", [5, 5], 30)
    assert (shared.n_orders, shared.per_member, shared.repeat) == (2, False, None)
    per_member = EpochOrder("seed", [7, 3, 7], 30)
    assert (per_member.n_orders, per_member.per_member, per_member.repeat) == (3, True, [0, 1, 0])
    none = EpochOrder("none", [1, 2], 30)
    assert (none.n_orders, none.per_member, none.repeat) == (None, False, None)


@pytest.mark.parametrize("owner", ["EpochOrder", "train"])
def test_epoch_order_refuses_an_unknown_shuffle_exactly(owner):
    from descentlab.batching import EpochOrder

    kwargs = {} if owner == "EpochOrder" else {"owner": owner}
    assert _message(lambda: EpochOrder("shuffled", None, 4, **kwargs)) == (
        InvalidParameterError,
        f"The 'shuffle' parameter of {owner} must be one of 'seed', 'random', 'none'. "
        "Got 'shuffled' instead.",
    )
