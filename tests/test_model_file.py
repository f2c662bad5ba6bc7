"""The model file: a round trip that keeps every number, and every damaged file refused in one line."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from descentlab._validation import DataError
from descentlab.model_file import MODEL_FORMAT, load_model, save_model
from descentlab.nn import MLP
from descentlab.training import History

NET = MLP((2, 3, 1), "tanh")
META = {"classes": ["cat", "dog"], "feature_names": ["w", "h"], "target": "kind"}


def _history(epochs: int = 4) -> History:
    return History(
        cost=np.linspace(0.7, 0.3, epochs),
        last_batch_cost=np.linspace(0.8, 0.2, epochs),
        learning_rate=np.full(epochs, 0.01),
        eval_epochs=np.array([0, epochs - 1]),
        train_accuracy=np.array([0.5, 0.9]),
        val_accuracy=np.array([0.4, 0.8]),
    )


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.npz"
    save_model(
        path,
        net=NET,
        params=NET.init(seed=0),
        history=_history(),
        meta={**META, "optimizer": "adam", "summary": {"final_cost": float("nan")}},
        mean=np.array([[1.0], [2.0]]),
        std=np.array([[0.5], [3.0]]),
    )
    return path


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _meta(arrays: dict[str, np.ndarray]) -> dict:
    return json.loads(str(arrays["meta"]))


# ----------------------------------------------------------------------------- round trip


def test_round_trip_keeps_every_number(good: Path) -> None:
    model = load_model(good)
    assert model.net == NET
    for key, value in NET.init(seed=0).items():
        np.testing.assert_array_equal(model.params[key], value)
    assert model.classes == ("cat", "dog") and model.feature_names == ("w", "h")
    assert model.target == "kind" and model.meta["optimizer"] == "adam"
    np.testing.assert_array_equal(model.mean, [[1.0], [2.0]])
    np.testing.assert_array_equal(model.std, [[0.5], [3.0]])
    np.testing.assert_array_equal(model.history["cost"], _history().cost)
    np.testing.assert_array_equal(model.history["test_accuracy"], [0.4, 0.8])
    assert model.meta["format"] == MODEL_FORMAT and model.meta["layer_dims"] == [2, 3, 1]


def test_numpy_values_in_the_meta_are_written_as_json_numbers(tmp_path: Path) -> None:
    extras = {"summary": {"epochs_run": np.int64(4), "final_cost": np.float32(0.25)},
              "mean_cost": np.array([0.5, 0.25])}  # fmt: skip
    path = save_model(
        tmp_path / "m.npz", net=NET, params=NET.init(seed=0), history=_history(),
        meta={**META, **extras},
    )  # fmt: skip
    meta = load_model(path).meta
    assert meta["summary"] == {"epochs_run": 4, "final_cost": 0.25}
    assert meta["mean_cost"] == [0.5, 0.25]
    with pytest.raises(TypeError, match="Cannot write set to JSON"):
        save_model(tmp_path / "s.npz", net=NET, params=NET.init(seed=0), history=_history(),
                   meta={**META, "tags": {"a"}})  # fmt: skip
    assert not (tmp_path / "s.npz").exists()


def test_float32_weights_are_read_as_float64(good: Path, tmp_path: Path) -> None:
    arrays = _arrays(good)
    arrays["W1"] = arrays["W1"].astype(np.float32)
    path = tmp_path / "f32.npz"
    np.savez(path, **arrays)
    model = load_model(path)
    assert model.params["W1"].dtype == np.float64
    np.testing.assert_array_equal(model.params["W1"], arrays["W1"])


# ----------------------------------------------------------------------------- saving


def test_weights_that_are_not_finite_are_not_saved(tmp_path: Path) -> None:
    params = NET.init(seed=0)
    params["W2"][0, 1] = np.nan
    path = tmp_path / "sub" / "m.npz"
    with pytest.raises(DataError, match=r"Not saving '.*m\.npz': the network's weights are NaN"):
        save_model(path, net=NET, params=params, history=_history(), meta=META)
    assert not (tmp_path / "sub").exists()


def test_a_model_that_would_not_read_back_is_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    with pytest.raises(DataError, match="classes must be 2 distinct labels"):
        save_model(
            path,
            net=NET,
            params=NET.init(seed=0),
            history=_history(),
            meta={**META, "classes": ["cat"]},
        )
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- damaged files


def _set_meta(**changes):
    def damage(arrays):
        meta = _meta(arrays)
        for key, value in changes.items():
            if value is _DROP:
                meta.pop(key)
            else:
                meta[key] = value
        arrays["meta"] = np.array(json.dumps(meta))

    return damage


_DROP = object()


def _set(key, value):
    def damage(arrays):
        if value is _DROP:
            arrays.pop(key)
        else:
            arrays[key] = value

    return damage


def _nan_at(key, index):
    def damage(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key][index] = np.nan

    return damage


NOT_MODEL = "is not a descentlab model file"
DAMAGED = [
    # (name, damage, expected text after the file name)
    ("no meta", _set("meta", _DROP), NOT_MODEL),
    ("meta not JSON", _set("meta", np.array("{not json")), NOT_MODEL),
    ("meta a list", _set("meta", np.array("[1, 2]")), NOT_MODEL),
    ("meta a number array", _set("meta", np.arange(3.0)), NOT_MODEL),
    ("meta deeply nested", _set("meta", np.array("[" * 100_000 + "]" * 100_000)), NOT_MODEL),
    ("another format", _set_meta(format="something-else"), NOT_MODEL),
    ("another version", _set_meta(version=3), "of version 3; this descentlab reads versions 1"),
    ("no layer_dims", _set_meta(layer_dims=_DROP), "layer_dims must be a list of layer sizes"),
    ("layer_dims text", _set_meta(layer_dims="2,3,1"), "layer_dims must be a list"),
    ("layer_dims floats", _set_meta(layer_dims=[2, 3.5, 1]), "layer_dims must be a list"),
    ("layer_dims bools", _set_meta(layer_dims=[2, True, 1]), "layer_dims must be a list"),
    ("layer_dims zero", _set_meta(layer_dims=[2, 0, 1]), "at least two positive ints"),
    ("one layer", _set_meta(layer_dims=[2]), "layer_dims must be a list"),
    ("huge hidden layer", _set_meta(layer_dims=[2, 10**12, 1]), "at most 64 hidden layers"),
    ("huge input", _set_meta(layer_dims=[10**12, 3, 1]), "more than descentlab.limits"),
    ("unknown activation", _set_meta(activation="swish"), "'activation' parameter of MLP"),
    ("no classes", _set_meta(classes=_DROP), "classes must be 2 distinct labels"),
    ("one class", _set_meta(classes=["cat"]), "classes must be 2 distinct labels"),
    ("classes twice", _set_meta(classes=["cat", "cat"]), "classes must be 2 distinct labels"),
    ("1 and 1.0", _set_meta(classes=[1, 1.0]), "classes must be 2 distinct labels"),
    ("1 and '1'", _set_meta(classes=[1, "1"]), "classes must be 2 distinct labels"),
    ("class a list", _set_meta(classes=[[1], 2]), "classes must be 2 distinct labels"),
    ("class NaN", _set_meta(classes=[0, float("nan")]), "classes must be 2 distinct labels"),
    ("classes a dict", _set_meta(classes={"a": 1}), "classes must be 2 distinct labels"),
    ("class 10**400", _set_meta(classes=[10**400, 1]), "classes must be 2 distinct labels"),
    ("too few features", _set_meta(feature_names=["w"]), "feature_names must be 2 distinct"),
    ("feature numbers", _set_meta(feature_names=[1, 2]), "feature_names must be 2 distinct"),
    ("features twice", _set_meta(feature_names=["w", "w"]), "feature_names must be 2 distinct"),
    ("empty feature", _set_meta(feature_names=["w", " "]), "feature_names must be 2 distinct"),
    ("target a number", _set_meta(target=5), "target must be text or null"),
    ("no W2", _set("W2", _DROP), "it has no 'W2' array"),
    ("W1 transposed", _set("W1", np.zeros((2, 3))), "W1 must be floats of shape (3, 2)"),
    ("W1 ints", _set("W1", np.zeros((3, 2), dtype=np.int64)), "found int64 of shape (3, 2)"),
    ("W1 text", _set("W1", np.full((3, 2), "a")), "W1 must be floats of shape (3, 2)"),
    ("W1 complex", _set("W1", np.zeros((3, 2), complex)), "W1 must be floats of shape (3, 2)"),
    ("W1 objects", _set("W1", np.full((3, 2), None, object)), "W1 must be floats"),
    ("W1 population", _set("W1", np.zeros((4, 3, 2))), "W1 must be floats of shape (3, 2)"),
    ("W1 NaN", _nan_at("W1", (0, 0)), "W1 holds NaN or inf"),
    ("b2 inf", _set("b2", np.array([[np.inf]])), "b2 holds NaN or inf"),
    ("mean alone", _set("std", _DROP), "it has no 'std' array"),
    ("mean wrong shape", _set("mean", np.zeros((1, 2))), "mean must be floats of shape (2, 1)"),
    ("mean NaN", _nan_at("mean", (1, 0)), "mean holds NaN or inf"),
    ("std zero", _set("std", np.array([[1.0], [0.0]])), "std must be > 0"),
    ("std negative", _set("std", np.array([[-1.0], [1.0]])), "std must be > 0"),
    ("std inf", _set("std", np.array([[np.inf], [1.0]])), "std holds NaN or inf"),
    ("history 2-D", _set("history_cost", np.zeros((2, 2))), "history_cost must be a list"),
    ("history text", _set("history_cost", np.array(["a"])), "history_cost must be a list"),
]


@pytest.mark.parametrize(("name", "damage", "message"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_damaged_model_is_one_line_naming_the_file(good, tmp_path, name, damage, message):
    arrays = _arrays(good)
    damage(arrays)
    path = tmp_path / "damaged.npz"
    np.savez(path, **arrays)  # object arrays are pickled here: reading them must be refused
    with pytest.raises(DataError) as info:
        load_model(path)
    text = str(info.value)
    assert text.startswith(f"'{path}' ") and "\n" not in text
    assert message in text


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The header of a float64 ``.npy`` file of ``shape`` (magic string included), no data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def test_an_array_header_asking_for_terabytes_is_refused_before_reading(good, tmp_path):
    """The header is checked before any data is read: nothing of that size is allocated."""
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            if name != "W1.npy":
                dst.writestr(name, src.read(name))
        dst.writestr("W1.npy", _npy_header((1_000_000, 1_000_000)))
    with pytest.raises(DataError, match=r"W1 must be floats of shape \(3, 2\); found float64 of "):
        load_model(path)


def test_a_garbled_array_header_is_refused(good, tmp_path):
    path = tmp_path / "garbled.npz"
    header = _npy_header((3, 2))
    garbled = header.replace(b"(3, 2)", b"(3, 2 ")  # an unclosed parenthesis
    assert len(garbled) == len(header)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, garbled + data[len(header) :] if name == "W1.npy" else data)
    with pytest.raises(DataError, match=f"'{path}' is not a descentlab model file"):
        load_model(path)


def test_a_truncated_array_is_refused(good, tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-8] if name == "W1.npy" else data)
    with pytest.raises(DataError, match=f"'{path}' is not a descentlab model file"):
        load_model(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty", b"", r"is not a descentlab model file \(the file is empty\)"),
        ("random bytes", bytes(range(256)) * 4, "is not a descentlab model file"),
        ("text", b"hello", "is not a descentlab model file"),
        ("zip header only", b"PK\x03\x04" + b"\x00" * 40, "is not a descentlab model file"),
        ("a plain .npy", None, "is not a descentlab model file"),
    ],
)
def test_files_that_are_not_archives(tmp_path, name, content, message):
    path = tmp_path / "model.npz"
    if content is None:
        np.save(tmp_path / "plain.npy", np.zeros(3))
        (tmp_path / "plain.npy").rename(path)
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_model(path)
    assert str(info.value).startswith(f"'{path}' ")


def test_a_truncated_zip_is_refused(good, tmp_path):
    data = good.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        path = tmp_path / f"cut{cut}.npz"
        path.write_bytes(data[:cut])
        with pytest.raises(DataError, match=f"'{path}' is not a descentlab model file"):
            load_model(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match=f"No such file: '{tmp_path / 'none.npz'}'"):
        load_model(tmp_path / "none.npz")
    with pytest.raises(DataError, match=f"Cannot read '{tmp_path}': Is a directory"):
        load_model(tmp_path)
