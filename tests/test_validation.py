"""The shared validation vocabulary: how an interval reads in a message, and what it admits."""

from __future__ import annotations

import pytest

from descentlab._validation import Interval, InvalidParameterError, check_param


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (Interval(0.0, None, closed="neither"), "a float > 0.0"),
        (Interval(1, None, integer=True), "an int >= 1"),
        (Interval(None, 1.0), "a float <= 1.0"),
        (Interval(None, 5, closed="left", integer=True), "an int < 5"),
        (Interval(None, None), "a finite float"),
        (Interval(0.0, 1.0, closed="left"), "a float in the range [0.0, 1.0)"),
        (Interval(1, 10, closed="right", integer=True), "an int in the range (1, 10]"),
    ],
)
def test_an_interval_reads_as_its_bounds(interval, text):
    assert str(interval) == text


def test_an_interval_bounded_above_only_admits_and_refuses_by_its_bound():
    at_most_one = Interval(None, 1.0, closed="neither")
    assert [at_most_one.contains(x) for x in (-1e300, 0.999, 1.0, float("-inf"))] == [
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(InvalidParameterError) as caught:
        check_param("a test", "x", 1.0, at_most_one)
    assert (
        str(caught.value) == "The 'x' parameter of a test must be a float < 1.0. Got 1.0 instead."
    )
