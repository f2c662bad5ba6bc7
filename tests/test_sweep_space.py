"""The search space of a sweep: axes (grid and random draws) and the spec's own checks, each
refusal a one-line message naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments.sweep_space import Axis, SweepSpec, check_seeds, expand, parse_axis

LR = Axis("lr", values=(0.1,))

REFUSED = [
    (lambda: Axis("lr", values="0.1"),
     "The 'values' of the sweep axis 'learning_rate' must be a list. Got '0.1' instead."),
    (lambda: Axis("lr", low=0.5, high=0.1),
     "The range of the sweep axis 'learning_rate' needs low <= high. Got 0.5..0.1."),
    (lambda: Axis("b1", low=0.0, high=0.9),
     "The log-spaced range of the sweep axis 'b1' needs low > 0. Got 0.0."),
    (lambda: check_seeds("a sweep", "seeds", []),
     "The 'seeds' parameter of a sweep must be a list of one or more seeds. Got [] instead."),
    (lambda: check_seeds("a sweep", "seeds", 3),
     "The 'seeds' parameter of a sweep must be a list of one or more seeds. Got 3 instead."),
    (lambda: SweepSpec(optimizers=()), "A sweep needs at least one optimizer."),
    (lambda: SweepSpec(optimizers=("adam",)),
     "Each optimizer must be a (name, settings) pair. Got 'adam' instead."),
    (lambda: SweepSpec(optimizers=(("adam", {"lr": 0.1, "learning_rate": 0.2}),)),
     "A setting of 'adam' is given twice (alias and name)."),
    (lambda: SweepSpec(axes=LR), "The 'axes' of a sweep must be a list of Axis objects."),
    (lambda: SweepSpec(axes=(LR,), batch_sizes=()),
     "The batch sizes of a sweep must be one or more distinct ints. Got []."),
    (lambda: SweepSpec(axes=(LR,), batch_sizes=(32, 32)),
     "The batch sizes of a sweep must be one or more distinct ints. Got [32, 32]."),
    (lambda: SweepSpec(axes=(LR, Axis("learning_rate", values=(0.2,)))),
     "The setting(s) learning_rate are searched twice."),
]  # fmt: skip


@pytest.mark.parametrize(("build", "message"), REFUSED)
def test_a_bad_axis_or_spec_is_refused_by_name(build, message):
    with pytest.raises(InvalidParameterError) as caught:
        build()
    assert str(caught.value) == message


def test_a_damaged_optimizer_entry_in_a_stored_spec_is_named():
    doc = SweepSpec(axes=(LR,)).to_dict()
    with pytest.raises(DataError) as caught:
        SweepSpec.from_dict({**doc, "optimizers": [["adam"]]})
    assert str(caught.value) == (
        "the sweep spec is damaged: optimizers[0] must be a pair [name, {settings}]; "
        "found ['adam']."
    )


def test_a_one_point_range_and_an_evenly_spaced_draw():
    assert Axis("lr", low=0.1, high=1.0, points=1).grid() == [0.1]
    even = Axis("b1", low=0.5, high=0.6, log=False)
    assert even.grid() == pytest.approx([0.5, 0.525, 0.55, 0.575, 0.6])
    assert even.draw(np.random.default_rng(7)) == np.random.default_rng(7).uniform(0.5, 0.6)


def test_max_cost_is_stored_as_a_float_and_round_trips():
    spec = SweepSpec(axes=(LR,), max_cost=100)
    assert spec.max_cost == 100.0 and type(spec.max_cost) is float
    assert SweepSpec.from_dict(spec.to_dict()) == spec


def test_a_drawn_value_comes_from_the_listed_values():
    axis = Axis("b1", values=(0.8, 0.9, 0.99))
    rng, same = np.random.default_rng(3), np.random.default_rng(3)
    draws = [axis.draw(rng) for _ in range(6)]
    assert draws == [axis.values[int(same.integers(3))] for _ in range(6)]


def test_axis_values_are_read_as_flags_numbers_or_text():
    assert parse_axis("amsgrad=true,False").values == (True, False)
    assert parse_axis("batch=-2,3").values == (-2, 3)
    assert parse_axis("b1=0.9,high").values == (0.9, "high")
    with pytest.raises(InvalidParameterError, match=r"The 'b1' parameter of adam must be a float "
                       r"in the range \[0.0, 1.0\). Got 'high'"):  # fmt: skip
        expand(SweepSpec(optimizers=(("adam", {}),), axes=(LR, parse_axis("b1=0.9,high")),
                         seeds=(0,), epochs=5))  # fmt: skip


def test_a_random_search_trains_a_configuration_drawn_twice_once():
    spec = SweepSpec(optimizers=(("adam", {}),), axes=(Axis("lr", values=(0.01, 0.1)),),
                     random=6, seeds=(0, 1), epochs=5)  # fmt: skip
    runs = expand(spec)  # 6 draws of 2 values: each configuration once, with both seeds
    assert sorted((r.hyperparameters["learning_rate"], r.seed) for r in runs) == [
        (0.01, 0), (0.01, 1), (0.1, 0), (0.1, 1),
    ]  # fmt: skip


def test_an_axis_of_separators_alone_lists_no_values():
    with pytest.raises(InvalidParameterError) as caught:
        parse_axis("lr=, ,", what="--lr")
    assert str(caught.value) == "--lr 'lr=, ,' lists no values."
