"""The experiment configuration: spec parsing, resolution, validation, TOML round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.specs import (
    EXPERIMENT_DEFAULTS,
    DatasetSpec,
    OptimizerSpec,
    ScheduleSpec,
    build_learning_rate,
    build_optimizer,
    parse_dataset_spec,
    parse_layers,
    parse_optimizer_spec,
    parse_schedule_spec,
    parse_spec,
    resolve_hyperparameters,
)
from descentlab.optimizers import adam, apply_updates, momentum

# ----------------------------------------------------------------------------- spec syntax

SPEC_CASES = [
    ("gd", [("gd", {})]),
    ("gd,momentum,adam", [("gd", {}), ("momentum", {}), ("adam", {})]),
    (
        "gd,adam:lr=0.001,b1=0.9,momentum:beta=0.8",
        [("gd", {}), ("adam", {"learning_rate": 0.001, "b1": 0.9}), ("momentum", {"beta": 0.8})],
    ),
    ("sgd:momentum=0.9,nesterov=true", [("sgd", {"momentum": 0.9, "nesterov": True})]),
    (" adam : beta1=0.8 , epsilon=1e-7 ", [("adam", {"b1": 0.8, "eps": 1e-7})]),
    ("ADAM:wd=0", [("adam", {"weight_decay": 0})]),
]


@pytest.mark.parametrize(("text", "expected"), SPEC_CASES)
def test_parse_optimizer_spec(text, expected):
    assert parse_optimizer_spec(text) == expected


def test_parse_spec_lists_and_text_values():
    assert parse_spec("piecewise:boundaries=[10,20],values=[1;0.5;0.1]", "--schedule") == [
        ("piecewise", {"boundaries": [10, 20], "values": [1, 0.5, 0.1]})
    ]
    assert parse_spec("a:x=hello", "--x") == [("a", {"x": "hello"})]


SPEC_ERRORS = [
    ("", "must name at least one item"),
    ("gd,,adam", "empty item"),
    ("lr=0.1", "belongs to no name"),
    ("gd,lr=0.1", "belongs to no name; write name:lr=0.1"),
    ("adam:", "has a colon but no key=value"),
    ("adam:lr", "cannot read the setting 'lr'"),
    ("adam:lr=0.1,learning_rate=0.2", "'learning_rate' of 'adam' is given twice"),
    ("ad am", "is not a valid name"),
    ("adamx", "Unknown optimizer 'adamx'; the known optimizers are gd, momentum"),
]


@pytest.mark.parametrize(("text", "message"), SPEC_ERRORS)
def test_parse_optimizer_spec_errors(text, message):
    with pytest.raises(InvalidParameterError, match=message.replace("(", r"\(")):
        parse_optimizer_spec(text)


def test_parse_layers():
    assert parse_layers("5,2") == (5, 2)
    assert parse_layers(" 16 , 8 ,4") == (16, 8, 4)
    assert parse_layers("none") == ()
    for bad in ("5,x", "5,,2", "-1", "5.5", "0,3"):
        with pytest.raises(InvalidParameterError, match=r"--layers must be the hidden layer sizes"):
            parse_layers(bad)


def test_parse_schedule_spec():
    assert parse_schedule_spec(None) is None
    assert parse_schedule_spec("constant") is None
    spec = parse_schedule_spec("inverse_time_decay:decay_rate=1")
    assert spec == ScheduleSpec("inverse_time", {"decay_rate": 1})
    assert spec.text() == "inverse_time:decay_rate=1"
    with pytest.raises(InvalidParameterError, match="Unknown schedule 'warp'; the known"):
        parse_schedule_spec("warp:x=1")
    with pytest.raises(InvalidParameterError, match="one schedule"):
        parse_schedule_spec("step,cosine")


def test_parse_dataset_spec():
    assert parse_dataset_spec("moons") == DatasetSpec()
    ds = parse_dataset_spec("Moons:n_samples=500,noise=0.3,seed=4")
    assert (ds.name, ds.n_samples, ds.noise, ds.seed) == ("moons", 500, 0.3, 4)
    assert (ds.holdout, ds.standardize) == ("fresh", False)
    f = parse_dataset_spec("data/x.csv", target="label")
    assert (f.name, f.target, f.holdout, f.standardize) == ("data/x.csv", "label", "split", True)
    with pytest.raises(InvalidParameterError, match="unknown setting 'size' for 'moons'"):
        parse_dataset_spec("moons:size=3")
    with pytest.raises(InvalidParameterError, match="needs --target"):
        parse_dataset_spec("x.csv")
    with pytest.raises(InvalidParameterError, match="--target applies only to CSV/NPZ"):
        parse_dataset_spec("iris", target="y")
    with pytest.raises(InvalidParameterError, match="'noise' applies only to generated"):
        DatasetSpec("iris", noise=0.1)
    with pytest.raises(InvalidParameterError, match="holdout='fresh' needs a generated"):
        DatasetSpec("iris", holdout="fresh")
    with pytest.raises(InvalidParameterError, match="would be the training data itself"):
        DatasetSpec("moons", seed=1, test_seed=1)


# ----------------------------------------------------------------------------- optimizers


def test_resolve_hyperparameters_fills_every_default():
    assert resolve_hyperparameters("gd") == {}
    assert resolve_hyperparameters("momentum") == {"beta": 0.9}
    assert resolve_hyperparameters("adam") == {
        "b1": 0.9,
        "b2": 0.999,
        "eps": 0.0,
        "eps_root": 1e-8,
        "amsgrad": False,
        "weight_decay": 0.0,
    }
    assert EXPERIMENT_DEFAULTS["adam"] == {"eps": 0.0, "eps_root": 1e-8}
    got = resolve_hyperparameters("sgd", {"lr": 1, "nesterov": True, "momentum": 1})
    assert got == {
        "learning_rate": 1.0,
        "momentum": 1.0,
        "dampening": 0.0,
        "nesterov": True,
        "weight_decay": 0.0,
    }
    assert isinstance(got["learning_rate"], float)
    with pytest.raises(InvalidParameterError, match="Unknown hyperparameter 'gamma' for optimizer"):
        resolve_hyperparameters("adam", {"gamma": 1.0})
    with pytest.raises(InvalidParameterError, match="'amsgrad' parameter of adam must be one of"):
        build_optimizer("adam", {"amsgrad": 1}, 0.1)  # flags are checked by the optimizer


def _run(opt, steps=3):
    params = {"w": np.array([1.0, -2.0, 0.5])}
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update({"w": 2 * params["w"] + 0.1}, state, params)
        params = apply_updates(params, updates)
    return params["w"]


def test_build_optimizer_equals_the_named_optimizer():
    np.testing.assert_array_equal(
        _run(build_optimizer("adam", {}, 0.01)), _run(adam(0.01, eps=0.0, eps_root=1e-8))
    )
    np.testing.assert_array_equal(
        _run(build_optimizer("adam", {"lr": 0.05, "eps": 1e-8, "eps_root": 0}, 0.01)),
        _run(adam(0.05)),
    )
    np.testing.assert_array_equal(
        _run(build_optimizer("momentum", {"beta": 0.5}, 0.1)), _run(momentum(0.1, 0.5))
    )


def test_build_optimizer_errors():
    with pytest.raises(InvalidParameterError, match="needs a learning rate"):
        build_optimizer("gd")
    with pytest.raises(InvalidParameterError, match=r"'learning_rate' parameter of gd must be"):
        build_optimizer("gd", {}, 0.0)
    with pytest.raises(InvalidParameterError, match=r"'learning_rate' parameter of adam must be"):
        build_optimizer("adam", {"lr": -1}, 0.1)
    with pytest.raises(InvalidParameterError, match=r"'b1' parameter of adam must be"):
        build_optimizer("adam", {"b1": 1.5}, 0.1)


def test_build_learning_rate_schedule_per_epoch():
    lr = build_learning_rate(0.1, parse_schedule_spec("inverse_time:decay_rate=1"), 5)
    assert [lr(t) for t in (0, 4, 5, 9, 10)] == [0.1, 0.1, 0.05, 0.05, 0.1 / 3]
    assert build_learning_rate(0.1, None, 5) == 0.1
    exp = build_learning_rate(2.0, "exponential:gamma=0.5", 2)
    assert [exp(t) for t in range(5)] == [2.0, 2.0, 1.0, 1.0, 0.5]
    with pytest.raises(InvalidParameterError, match="takes its starting learning rate"):
        build_learning_rate(0.1, "exponential:gamma=0.5,lr=0.2", 1)
    with pytest.raises(InvalidParameterError, match="needs 'decay_rate'"):
        build_learning_rate(0.1, "inverse_time", 1)


# ----------------------------------------------------------------------------- the config


def test_default_config_is_the_seed_study():
    c = ExperimentConfig()
    assert c.name == "moons"
    assert load_experiment_data(c.dataset).layer_dims(c.layers) == (2, 5, 2, 1)
    assert load_experiment_data(DatasetSpec("iris")).layer_dims(c.layers) == (4, 5, 2, 3)
    assert [o.label for o in c.optimizers] == ["gd", "momentum", "adam"]
    assert c.optimizers[1].hyperparameters == {"beta": 0.9}
    assert c.optimizers[2].effective_hyperparameters(c.learning_rate)["learning_rate"] == 0.0007
    assert (c.learning_rate, c.batch_size, c.epochs) == (0.0007, 64, 10000)
    assert (c.init, c.seed, c.shuffle, c.data_seed) == ("seed", 3, "seed", 10)
    assert (c.dataset.name, c.dataset.holdout, c.dataset.test_seed) == ("moons", "fresh", 1)


def test_optimizer_labels_and_duplicates():
    spec = OptimizerSpec("adam", {"lr": 0.001, "beta1": 0.8})
    assert spec.label == "adam:lr=0.001,b1=0.8"
    assert spec.learning_rate(0.5) == 0.001
    assert OptimizerSpec("gd").learning_rate(0.5) == 0.5
    with pytest.raises(InvalidParameterError, match="'adam' is listed twice"):
        ExperimentConfig(optimizers=(OptimizerSpec("adam"), OptimizerSpec("adam")))


def test_toml_round_trip_is_exact(tmp_path):
    c = ExperimentConfig(
        name="trial",
        dataset=DatasetSpec("circles", n_samples=200, noise=0.05, test_seed=7),
        layers=(8,),
        activation="tanh",
        optimizers=(
            OptimizerSpec("sgd", {"momentum": 0.9, "nesterov": True}),
            OptimizerSpec("adam", {"lr": 0.01}),
        ),
        learning_rate=0.05,
        schedule=ScheduleSpec("step", {"boundaries": [10, 20], "factor": 0.5}),
        batch_size=32,
        epochs=40,
        seed=5,
        init="he",
        shuffle="random",
        data_seed=6,
        eval_every=10,
        log_scale=True,
    )
    text = c.to_toml()
    assert text.startswith("# descentlab experiment configuration")
    assert 'label = "adam:lr=0.01"' in text
    assert ExperimentConfig.from_toml(text) == c
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert ExperimentConfig.from_toml(path) == c
    assert ExperimentConfig.from_toml(str(path)) == c
    assert ExperimentConfig.from_toml(ExperimentConfig().to_toml()) == ExperimentConfig()


def test_partial_toml_takes_defaults():
    c = ExperimentConfig.from_toml('epochs = 5\n[[optimizers]]\nname = "rmsprop"\nlr = 0.01\n')
    assert c.epochs == 5 and c.batch_size == 64 and c.dataset == DatasetSpec()
    (opt,) = c.optimizers
    assert opt.hyperparameters["learning_rate"] == 0.01
    assert opt.hyperparameters["decay"] == 0.99


CONFIG_ERRORS = [
    (
        {"learning_rate": 0.0},
        r"The 'learning_rate' parameter of the experiment configuration must be a float in the range \(0.0, 10000.0\]. Got 0.0",
    ),
    (
        {"learning_rate": -1.0},
        r"'learning_rate' parameter .* must be a float in the range \(0.0, 10000.0\]. Got -1.0",
    ),
    (
        {"batch_size": 0},
        r"'batch_size' parameter .* must be an int in the range \[1, 10000000\]. Got 0",
    ),
    ({"epochs": 0}, r"'epochs' parameter .* must be an int in the range \[1, 10000000\]. Got 0"),
    (
        {"epochs": 2.5},
        r"'epochs' parameter .* must be an int in the range \[1, 10000000\]. Got 2.5",
    ),
    ({"layers": (5, 0)}, "hidden layer sizes"),
    ({"activation": "gelu"}, "'activation' parameter .* must be one of 'relu'"),
    ({"init": "zeros"}, "'init' parameter"),
    ({"shuffle": "yes"}, "'shuffle' parameter"),
    ({"name": "a b"}, "used in folder names"),
    ({"optimizers": ()}, "non-empty list"),
    ({"dataset": "moons"}, r"The 'dataset' of .* must be a DatasetSpec. Got 'moons'."),
    (
        {"layers": "5,2"},
        r"'layers' parameter .* must be a list of hidden layer sizes \(positive "
        r"ints\), e.g. \[5, 2\]. Got '5,2' instead.",
    ),
    ({"layers": (5, True)}, r"'layers' parameter .* Got \(5, True\) instead."),
    ({"schedule": "cosine"}, r"The 'schedule' of .* must be a ScheduleSpec or None. Got 'cosine'."),
]


@pytest.mark.parametrize(("changes", "message"), CONFIG_ERRORS)
def test_config_validation(changes, message):
    with pytest.raises(InvalidParameterError, match=message):
        ExperimentConfig(**changes)


def test_toml_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="Unknown setting 'epoch' in the configuration"):
        ExperimentConfig.from_toml("epoch = 5\n")
    with pytest.raises(InvalidParameterError, match=r"Unknown setting 'size' in \[dataset\]"):
        ExperimentConfig.from_toml("[dataset]\nsize = 5\n")
    with pytest.raises(InvalidParameterError, match=r"needs a 'name'"):
        ExperimentConfig.from_toml("[[optimizers]]\nlr = 0.1\n")
    with pytest.raises(InvalidParameterError, match="Unknown hyperparameter 'b3'"):
        ExperimentConfig.from_toml('[[optimizers]]\nname = "adam"\nb3 = 0.1\n')
    with pytest.raises(DataError, match="is not valid TOML"):
        ExperimentConfig.from_toml("epochs = = 5\n")
    with pytest.raises(DataError, match="No such file"):
        ExperimentConfig.from_toml(tmp_path / "missing.toml")


def test_from_dict_and_toml_refuse_what_is_not_a_table():
    with pytest.raises(InvalidParameterError) as caught:
        ExperimentConfig.from_dict([("epochs", 5)])
    assert str(caught.value) == "the configuration must be a table of settings."
    for text, message in [
        ('dataset = "moons"\n', "[dataset] in the configuration must be a table."),
        ('optimizers = "adam"\n', "'optimizers' in the configuration must be a list of "
                                   "[[optimizers]] tables."),
        ("optimizers = [1, 2]\n", "'optimizers' in the configuration must be a list of "
                                  "[[optimizers]] tables."),
    ]:  # fmt: skip
        with pytest.raises(InvalidParameterError) as caught:
            ExperimentConfig.from_toml(text)
        assert str(caught.value) == message
    assert ExperimentConfig.from_toml("epochs = 5\n").optimizers == ExperimentConfig().optimizers
    for text in ('schedule = "cosine"\n', "[schedule]\ndecay_rate = 0.5\n"):
        with pytest.raises(InvalidParameterError, match=r"^\[schedule\] in the configuration must "
                           "be a table with a 'name'"):  # fmt: skip
            ExperimentConfig.from_toml(text)


def test_a_config_file_that_cannot_be_read_is_one_line(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "locked.toml"
    path.write_text("epochs = 5\n")
    real_read_text = Path.read_text

    def read_text(self, *args, **kwargs):  # root reads any file: deny it as for another user
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(DataError) as caught:
        ExperimentConfig.from_toml(path)
    assert str(caught.value) == (
        f"Cannot read '{path}': Permission denied. Check that it is a readable file."
    )


def test_an_optimizer_setting_is_one_value_never_a_list():
    for value in ([0.9, 0.8], (0.9,), np.array([0.9]), np.array(0.9)):
        with pytest.raises(InvalidParameterError, match=r"^The 'b1' setting of 'adam' must be one "
                           "value, not a list or an array"):  # fmt: skip
            OptimizerSpec("adam", {"beta1": value})
    # from a file: refused while reading it, before any run folder exists
    with pytest.raises(InvalidParameterError, match="The 'b1' setting of 'adam' must be one value"):
        ExperimentConfig.from_toml('epochs = 3\n[[optimizers]]\nname = "adam"\nb1 = [0.9]\n')


def test_optimizer_spec_refuses_settings_that_are_not_a_table_or_given_twice():
    with pytest.raises(InvalidParameterError) as caught:
        OptimizerSpec("adam", [0.1])
    assert str(caught.value) == (
        "The hyperparameters of 'adam' must be a table of settings. Got [0.1] instead."
    )
    with pytest.raises(InvalidParameterError) as caught:
        OptimizerSpec("adam", {"lr": 0.1, "learning_rate": 0.2})
    assert str(caught.value) == (
        "The setting 'learning_rate' is given twice (as 'lr' and 'learning_rate')."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--dataset must be a built-in name or a path. Got ''."),
        ("  ", "--dataset must be a built-in name or a path. Got '  '."),
        ("moons,iris", "--dataset takes one dataset. Got 'moons,iris'."),
    ],
)
def test_parse_dataset_spec_refuses_nothing_or_two(text, message):
    with pytest.raises(InvalidParameterError) as caught:
        parse_dataset_spec(text)
    assert str(caught.value) == message


def test_a_dataset_is_named():
    for name in ("", " ", None):
        with pytest.raises(InvalidParameterError) as caught:
            DatasetSpec(name)
        assert str(caught.value) == (
            f"The dataset must be a built-in name or a file path. Got {name!r}."
        )


def test_a_dataset_target_is_a_column_name():
    with pytest.raises(InvalidParameterError) as caught:
        DatasetSpec("data.csv", target=5)
    assert str(caught.value) == "The dataset's target must be the name of a column. Got 5."


def test_a_schedule_without_a_starting_rate_ignores_the_learning_rate():
    # piecewise holds its own values: the optimizer's rate (0.5) is not passed to it
    lr = build_learning_rate(0.5, "piecewise:boundaries=[2],values=[0.1,0.01]", steps_per_epoch=3)
    assert [lr(t) for t in range(8)] == [0.1] * 6 + [0.01] * 2


def test_a_split_too_large_to_leave_a_validation_set_is_refused():
    # iris, 150 examples: a test part of 74 leaves 76, too few for a validation part of 74 too
    with pytest.raises(DataError) as caught:
        load_experiment_data(DatasetSpec("iris", test_size=0.49), validation=True)
    assert str(caught.value) == (
        "150 examples are too few for training, validation and test sets of this size "
        "(test_size=0.49)."
    )
    data = load_experiment_data(DatasetSpec("iris", test_size=0.3), validation=True)
    assert (data.train.n_examples, data.val.n_examples, data.test.n_examples) == (60, 45, 45)


def test_replace_rederives_the_name():
    c = ExperimentConfig()
    assert c.replace(dataset=DatasetSpec("iris")).name == "iris"
    assert c.replace(name="mine").replace(dataset=DatasetSpec("iris")).name == "mine"
    assert c.replace(epochs=3).epochs == 3
    with pytest.raises(InvalidParameterError, match="'epochs'"):
        c.replace(epochs=0)


def test_name_from_a_file_name_is_made_folder_safe():
    spec = DatasetSpec("data/my data (v2).csv", target="y")
    assert ExperimentConfig(dataset=spec).name == "my_data_v2"
    renamed = ExperimentConfig(dataset=spec).replace(dataset=DatasetSpec("wine"))
    assert renamed.name == "wine"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/dev/zero", "not a regular file"),  # would be read forever
        ("conf\x00ig.toml", "embedded null byte"),
        ("{huge}", "larger than 1024 KiB"),
        ("{latin1}", "not UTF-8 text"),
        ("{deep}", "nests too deeply"),
    ],
)
def test_hostile_config_files_are_one_line_errors(tmp_path, path, message):
    (tmp_path / "huge.toml").write_text("# padding\n" * 200_000)
    (tmp_path / "latin1.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    (tmp_path / "deep.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    path = path.format(
        huge=tmp_path / "huge.toml", latin1=tmp_path / "latin1.toml", deep=tmp_path / "deep.toml"
    )
    with pytest.raises(DataError, match=message):
        ExperimentConfig.from_toml(Path(path))
