"""The dataset container's edge cases: labels as one row, indices that are not indices, and a
stratified split whose per-class minimum of one test example overshoots the test size."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab._validation import DataError
from descentlab.datasets import Dataset
from descentlab.datasets.container import encode_labels


def test_labels_given_as_one_row_are_read_as_a_sequence():
    y, classes = encode_labels(np.array([[3.0, 1.0, 3.0]]))  # Y of shape (1, m), the seed's form
    assert y.tolist() == [1, 0, 1] and classes == (1, 3)
    assert type(classes[0]) is int


def test_labels_that_are_a_table_are_refused():
    with pytest.raises(DataError) as caught:
        encode_labels(np.zeros((2, 3)))
    assert str(caught.value) == "labels must be a 1-D sequence of length m; got shape (2, 3)."


def test_subset_refuses_indices_that_are_not_whole_numbers():
    ds = Dataset("d", np.arange(8.0).reshape(2, 4), np.array([0, 1, 0, 1]), ("a", "b"))
    with pytest.raises(DataError) as caught:
        ds.subset(np.array([0.5, 1.0]))
    assert str(caught.value) == "subset takes integer indices or a boolean mask; got float64."


def test_split_gives_back_test_examples_the_small_classes_were_rounded_up_to():
    # 4 of 100 examples for testing: the quotas 0.08, 0.08, 0.08, 3.76 become at least one per
    # class (1, 1, 1, 3 = 6 > 4), so the large class gives back two: one test example each.
    y = np.repeat([0, 1, 2, 3], [2, 2, 2, 94])
    ds = Dataset("d", np.arange(200.0).reshape(2, 100), y, ("a", "b", "c", "d"))
    train, test = ds.split(4, seed=0)
    assert np.bincount(test.y).tolist() == [1, 1, 1, 1]
    assert np.bincount(train.y).tolist() == [1, 1, 1, 93]
    assert sorted([*train.X[0], *test.X[0]]) == list(range(100))  # each example exactly once
