"""Hostile data files: CSV and NPZ inputs that must load correctly or fail with one line.

Every refusal is a :class:`DataError` (or, for a wrong argument, an
:class:`InvalidParameterError`) whose message names the file and the problem, on one line;
never a traceback, never a read that does not end, never an allocation the file only claims.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from descentlab import limits
from descentlab._validation import InvalidParameterError
from descentlab.datasets import load_csv, load_dataset, load_npz, read_csv
from hostile_files import npy, npy_header, refused, savez, zip_of

# --------------------------------------------------------------------------- CSV: wide headers


def wide_csv(path: Path, n: int, rows: int, names: list[str] | None = None) -> Path:
    names = names or [f"f{j}" for j in range(n)]
    lines = [",".join(names) + ",y"]
    lines += [",".join(str((i * j) % 7) for j in range(n)) + f",{'ab'[i % 2]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.timeout(60)
def test_read_csv_a_header_of_100000_columns_in_linear_time(tmp_path):
    # The header used to be resolved with header.count(c) in a loop and header.index(c) per
    # column: about 130 s for these 100 000 columns.
    n = 100_000
    path = wide_csv(tmp_path / "wide.csv", n, rows=3)
    start = time.perf_counter()
    names, X, labels = read_csv(path, target="y")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"read_csv took {elapsed:.2f} s for {n} columns"
    assert names[0] == "f0" and names[-1] == f"f{n - 1}" and len(names) == n
    assert X.shape == (3, n) and labels == ["a", "b", "a"]
    np.testing.assert_array_equal(X[2, :8], [(2 * j) % 7 for j in range(8)])
    # by name, in any order (descentlab predict): the same values, reordered
    wanted = [f"f{j}" for j in range(n - 1, n - 6, -1)]
    _, Xs, _ = read_csv(path, columns=wanted, target="y")
    np.testing.assert_array_equal(Xs, X[:, n - 1 : n - 6 : -1])


@pytest.mark.timeout(60)
def test_read_csv_duplicate_column_in_a_wide_header(tmp_path):
    # Late in the header, where header.count(c) per column used to cost n**2 / 2 steps.
    n = 100_000
    names = [f"f{j}" for j in range(n)]
    names[n - 3] = "f99990"  # the second 'f99990'
    path = wide_csv(tmp_path / "dup.csv", n, rows=2, names=names)
    start = time.perf_counter()
    refused(lambda: load_csv(path, "y"), ["Column 'f99990' appears twice in the header of"])
    assert time.perf_counter() - start < 1.0
    # a duplicate that is not read is no problem when the columns are named
    _, X, _ = read_csv(path, columns=["f3", "f4"], target="y")
    assert X.tolist() == [[0.0, 0.0], [3.0, 4.0]]
    refused(lambda: read_csv(path, columns=["f99990"]), ["Column 'f99990' appears twice"])
    # named: the duplicate whose first occurrence comes first ('f1' at 1 and n-1; 'f2' at 2, 3)
    names[n - 1], names[3] = "f1", "f2"
    path = wide_csv(tmp_path / "dups.csv", n, rows=2, names=names)
    refused(lambda: load_csv(path, "y"), ["Column 'f1' appears twice"])


def test_messages_about_a_wide_header_list_a_bounded_number_of_columns(tmp_path):
    path = wide_csv(tmp_path / "wide.csv", 10_000, rows=2)
    message = refused(
        lambda: read_csv(path, columns=["f1", "nope"], needed_by="the model"),
        ["lacks the feature column 'nope'", "the model needs the columns 'f1', 'nope'", "f49'"],
    )
    assert "(9951 more)" in message and "f50'" not in message and len(message) < 2000
    message = refused(lambda: load_csv(path, "label"), ["Target column 'label' not found"])
    assert "(9951 more)" in message and len(message) < 2000


# --------------------------------------------------------------------------- CSV: hostile bytes

_RANDOM = random.Random(5)
CSV_REFUSED = [
    # (id, file bytes, fragments of the one-line DataError)
    (
        "binary-garbage",
        bytes(_RANDOM.randrange(256) for _ in range(4000)),
        ["is not UTF-8 text", "Save it as UTF-8 CSV"],
    ),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["is not UTF-8 text"]),
    (
        "utf-16-with-bom",
        "a,y\n1,x\n2,z\n".encode("utf-16"),
        ["is not UTF-8 text (it starts with a UTF-16 byte-order mark)"],
    ),
    (
        "utf-16-without-bom",
        "a,y\n1,x\n2,z\n".encode("utf-16-le"),
        ["line 1 holds a NUL character", "UTF-16 without a byte-order mark"],
    ),
    ("nul-in-a-cell", b"a,y\n1\x00,x\n2,z\n", ["line 2 holds a NUL character"]),
    ("nul-in-the-header", b"a\x00,y\n1,x\n2,z\n", ["line 1 holds a NUL character"]),
    ("unnamed-column", b"a,,y\n1,2,x\n3,4,z\n", ["Column 2 of the header of", "has no name"]),
    ("unnamed-columns", b"a,,,y\n1,2,5,x\n3,4,5,z\n", ["Column 2 of the header", "no name"]),
    ("pandas-index", b",a,y\n0,1,x\n1,2,z\n", ["Column 1 of the header", "index=False"]),
    ("trailing-delimiter", b"a,y,\n1,x,\n2,z,\n", ["Column 3 of the header", "has no name"]),
    (
        "nan-label-among-numbers",
        b"a,y\n1,1\n2,nan\n3,0\n",
        ["target column 'y'", "holds 'nan' (NaN or inf) in data row 2", "among numeric labels"],
    ),
    ("inf-label-among-numbers", b"a,y\n1,-inf\n2,1\n", ["holds '-inf' (NaN or inf) in data row 1"]),
    ("all-labels-nan", b"a,y\n1,NaN\n2,nan\n", ["holds 'NaN' (NaN or inf) in data row 1"]),
    ("one-numeric-class", b"a,y\n1,3\n2,3.0\n", ["holds a single class (3)", "at least two"]),
    ("one-text-class", b"a,y\n1,x\n2,x\n3,x\n", ["holds a single class ('x')"]),
    ("huge-field", b"a,y\n" + b"1" * 200_000 + b",x\n2,z\n", ["as CSV: field larger than"]),
    (
        "no-newline-10MB-of-names",
        b",".join(b"c%07d" % j for j in range(1_250_000)) + b",y",
        ["has 0 examples; at least 2 are needed"],
    ),
    ("no-newline-10MB-of-numbers", b"1," * 5_000_000 + b"2", ["looks like data"]),
]


@pytest.mark.parametrize(
    ("content", "fragments"), [c[1:] for c in CSV_REFUSED], ids=[c[0] for c in CSV_REFUSED]
)
@pytest.mark.timeout(60)
def test_hostile_csv_is_refused_on_one_line(tmp_path, content, fragments):
    path = tmp_path / "hostile.csv"
    path.write_bytes(content)
    refused(lambda: load_csv(path, "y"), [*fragments, str(path)])


CSV_LOADED = [
    # (id, file bytes, feature names, X (n, m), classes, y)
    ("bom", "\ufeffa,y\n1,x\n2,z\n".encode(), ("a",), [[1.0, 2.0]], ("x", "z"), [0, 1]),
    (
        "bom-before-the-target",
        "\ufeffy,a,b\nx,1,5\nz,2,6\n".encode(),
        ("a", "b"),
        [[1.0, 2.0], [5.0, 6.0]],
        ("x", "z"),
        [0, 1],
    ),
    ("cr-line-ends", b"a,y\r1,x\r2,z\r", ("a",), [[1.0, 2.0]], ("x", "z"), [0, 1]),
    ("cr-no-final-end", b"a,y\r1,x\r\r2,z", ("a",), [[1.0, 2.0]], ("x", "z"), [0, 1]),
    ("crlf-line-ends", b"a,y\r\n1,x\r\n2,z\r\n", ("a",), [[1.0, 2.0]], ("x", "z"), [0, 1]),
    # 'nan' among text labels is one more class (only numeric labels must be finite)
    (
        "nan-among-text",
        b"a,y\n1,cat\n2,nan\n3,dog\n",
        ("a",),
        [[1, 2, 3]],
        ("cat", "dog", "nan"),
        [0, 2, 1],
    ),
    ("numbers-as-text", b"a,y\n1, 2 \n2,1e0\n3,2.0\n", ("a",), [[1, 2, 3]], (1, 2), [1, 0, 1]),
    ("utf-8-names", "é,ü\n1,ß\n2,ø\n".encode(), ("é",), [[1.0, 2.0]], ("ß", "ø"), [0, 1]),
]


@pytest.mark.parametrize(
    ("content", "names", "X", "classes", "y"),
    [c[1:] for c in CSV_LOADED],
    ids=[c[0] for c in CSV_LOADED],
)
def test_unusual_but_valid_csv_loads(tmp_path, content, names, X, classes, y):
    path = tmp_path / "ok.csv"
    path.write_bytes(content)
    target = "ü" if "ü".encode() in content else "y"
    ds = load_csv(path, target)
    assert ds.feature_names == names and ds.classes == classes and ds.y.tolist() == y
    np.testing.assert_array_equal(ds.X, X)


def test_unnamed_columns_that_are_not_read_are_ignored(tmp_path):
    path = tmp_path / "indexed.csv"
    path.write_text(",a,y\n0,1.5,x\n1,2.5,z\n")  # pandas' index column: no name
    names, X, labels = read_csv(path, columns=["a"], target="y", require_target=False)
    assert names == ["a"] and X.tolist() == [[1.5], [2.5]] and labels == ["x", "z"]


def test_one_long_text_label_among_many(tmp_path):
    # encoded without np.array(cells, dtype=str), which is as wide as the longest label
    long = "q" * 100_000
    path = tmp_path / "labels.csv"
    path.write_text("a,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(5000)) + f"1,{long}\n")
    ds = load_csv(path, "y")
    assert ds.classes == ("a", "b", long) and ds.n_examples == 5001
    assert np.bincount(ds.y).tolist() == [2500, 2500, 1]


# --------------------------------------------------------------------------- CSV: caps


def test_a_line_longer_than_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "long.csv"
    path.write_text("a,y\n" + "1" * 600 + "," + "x" * 600 + "\n2,z\n")
    refused(lambda: load_csv(path, "y"), ["Line 2 of", "is longer than 1000 characters"])


def test_rows_beyond_max_examples_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EXAMPLES", 3)
    path = tmp_path / "rows.csv"
    path.write_text("a,y\n1,x\n2,z\n3,x\n")
    assert load_csv(path, "y").n_examples == 3
    path.write_text("a,y\n1,x\n2,z\n3,x\n4,z\n")
    refused(lambda: load_csv(path, "y"), ["has more than 3 examples (rows)", "MAX_EXAMPLES"])


def test_a_feature_table_beyond_max_memory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 8 * 5)  # five float64 values
    path = tmp_path / "mem.csv"
    path.write_text("a,b,y\n1,2,x\n3,4,z\n5,6,x\n")
    refused(lambda: load_csv(path, "y"), ["at line 4 (3 rows of 2 features)", "MAX_MEMORY_BYTES"])


def test_a_csv_larger_than_the_cap_is_refused_before_it_is_opened(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: no disk used, and never read
    start = time.perf_counter()
    refused(lambda: load_dataset(path, target="y"), ["is 2.0 GiB", "larger than 2 GiB"])
    refused(lambda: read_csv(path, columns=["a"]), ["MAX_FILE_BYTES"])
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("delimiter", ["", ",,", None, '"', "\n"])
def test_a_bad_delimiter_is_a_parameter_error(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,x\n2,z\n")
    refused(
        lambda: load_csv(path, "y", delimiter=delimiter),
        ["The 'delimiter' parameter of read_csv must be one character"],
        InvalidParameterError,
    )


# --------------------------------------------------------------------------- not regular files


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.timeout(10)
def test_devices_are_refused_not_read_forever():
    refused(lambda: load_csv("/dev/zero", "y"), ["'/dev/zero'", "not a regular file"])
    refused(lambda: load_npz("/dev/zero"), ["not a regular file"])
    refused(lambda: read_csv("/dev/zero", columns=["a"]), ["not a regular file"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["pipe.csv", "pipe.npz"])
def test_named_pipes_are_refused_not_waited_on(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)  # opening it for reading would block until a writer comes
    refused(lambda: load_dataset(path, target="y"), ["not a regular file"])


# --------------------------------------------------------------------------- NPZ: hostile archives

X3 = np.arange(6.0).reshape(3, 2)


def corrupt_data_of_x() -> bytes:
    data = bytearray(savez(X=X3, y=[0, 1, 0]))
    start = data.find(b"\x93NUMPY")  # X.npy comes first: flip a byte of its data
    data[start + 128 + 3] ^= 0xFF
    return bytes(data)


NPZ_REFUSED = [
    # (id, archive bytes, fragments of the one-line DataError)
    (
        "pickled-labels",
        savez(X=X3, y=np.array([0, "a", None], dtype=object)),
        ["'y' is an object array (pickled Python objects)", "never loads"],
    ),
    (
        "pickled-X",
        savez(X=np.array([[1, {}]] * 3, dtype=object), y=[0, 1, 0]),
        ["'X' is an object"],
    ),
    (
        "pickled-names",
        savez(X=X3, y=[0, 1, 0], feature_names=np.array(["a", None], dtype=object)),
        ["'feature_names' is an object array"],
    ),
    (
        "member-not-an-array",
        zip_of({"X.npy": b"hello", "y.npy": npy(np.array([0, 1, 0]))}),
        ["the member 'X' is not a NumPy array (no .npy header)"],
    ),
    ("complex-X", savez(X=X3 + 1j, y=[0, 1, 0]), ["'X' in", "dtype complex128"]),
    ("bytes-X", savez(X=np.array([[b"a", b"b"]] * 3), y=[0, 1, 0]), ["dtype |S1"]),
    ("text-X", savez(X=np.array([["1", "2"]] * 3), y=[0, 1, 0]), ["dtype <U1"]),
    ("void-X", savez(X=np.zeros((3, 2), dtype="V4"), y=[0, 1, 0]), ["dtype |V4"]),
    ("datetime-X", savez(X=np.zeros((3, 2), dtype="M8[s]"), y=[0, 1, 0]), ["datetime64[s]"]),
    ("timedelta-X", savez(X=np.zeros((3, 2), dtype="m8[s]"), y=[0, 1, 0]), ["timedelta64[s]"]),
    (
        "no-feature-columns",
        savez(X=np.zeros((3, 0)), y=[0, 1, 0]),
        ["has no feature columns (shape (3, 0))"],
    ),
    (
        "0-d-X",
        savez(X=np.float64(3.0), y=[0, 1, 0]),
        ["must be a 2-D numeric array", "got shape ()"],
    ),
    ("3-d-X", savez(X=np.zeros((3, 2, 2)), y=[0, 1, 0]), ["got shape (3, 2, 2)"]),
    ("0-d-labels", savez(X=X3, y=np.int64(1)), ["'y' in", "must have shape (m,)", "got shape ()"]),
    ("2-d-labels", savez(X=X3, y=np.zeros((3, 2))), ["'y' in", "got shape (3, 2)"]),
    ("3-d-labels", savez(X=X3, y=np.zeros((1, 3, 1))), ["got shape (1, 3, 1)"]),
    ("nan-label", savez(X=X3, y=[0.0, np.nan, 1.0]), ["'y' in", "holds nan at row 1"]),
    ("inf-label", savez(X=X3, y=[0.0, 1.0, -np.inf]), ["holds -inf at row 2"]),
    ("complex-labels", savez(X=X3, y=np.array([1j, 2j, 1j])), ["must hold numbers or strings"]),
    ("datetime-labels", savez(X=X3, y=np.zeros(3, dtype="M8[D]")), ["dtype datetime64[D]"]),
    ("non-utf8-labels", savez(X=X3, y=np.array([b"\xe9", b"a", b"a"])), ["not UTF-8 text"]),
    (
        "2-d-names",
        savez(X=X3, y=[0, 1, 0], feature_names=np.array([["a", "b"]])),
        ["'feature_names' in", "must be a 1-D array of 2 strings", "got shape (1, 2)"],
    ),
    ("numeric-names", savez(X=X3, y=[0, 1, 0], feature_names=np.array([1, 2])), ["dtype int64"]),
    ("0-d-names", savez(X=X3, y=[0, 1, 0], feature_names=np.array("ab")), ["got shape ()"]),
    (
        "short-names",
        savez(X=X3, y=[0, 1, 0], feature_names=np.array(["a"])),
        ["1 feature_names for 2"],
    ),
    (
        "bytes-names",
        savez(X=X3, y=[0, 1, 0], feature_names=np.array([b"\xff", b"b"])),
        ["not UTF-8"],
    ),
    ("truncated-zip", savez(X=X3, y=[0, 1, 0])[:300], ["the zip archive is damaged or truncated"]),
    ("zip-without-its-end", savez(X=X3, y=[0, 1, 0])[:-30], ["damaged or truncated"]),
    (
        "random-bytes",
        bytes(random.Random(3).randrange(256) for _ in range(2000)),
        ["is not a zip archive"],
    ),
    ("zip-magic-then-garbage", b"PK\x03\x04" + bytes(200), ["damaged or truncated"]),
    ("empty-file", b"", ["the file is empty"]),
    ("bad-crc", corrupt_data_of_x(), ["the array 'X' is damaged", "CRC"]),
    (
        "announces-8-TB",
        zip_of({"X.npy": npy_header((10**6, 10**6)), "y.npy": npy(np.array([0, 1]))}),
        ["the array 'X' has shape (1000000, 1000000)", "more than the 4 GiB", "MAX_MEMORY_BYTES"],
    ),
    (
        "announces-more-than-it-holds",
        zip_of({"X.npy": npy_header((1000, 2)) + bytes(16), "y.npy": npy(np.zeros(1000))}),
        ["the array 'X' is truncated (its header announces 16000 bytes"],
    ),
    (
        "version-2-header-too-large",
        zip_of({"X.npy": npy_header((10**9,), "<U100", (2, 0)), "y.npy": npy(np.zeros(3))}),
        ["has shape (1000000000,) and dtype <U100"],
    ),
    (
        "unknown-npy-version",
        zip_of({"X.npy": b"\x93NUMPY\x09\x00" + bytes(100), "y.npy": npy(np.zeros(3))}),
        ["the array 'X' is damaged (unknown .npy format version (9, 0))"],
    ),
    ("empty-archive", zip_of({}), ["Array 'X' not found", "it holds: nothing"]),
]


@pytest.mark.parametrize(
    ("content", "fragments"), [c[1:] for c in NPZ_REFUSED], ids=[c[0] for c in NPZ_REFUSED]
)
def test_hostile_npz_is_refused_on_one_line(tmp_path, content, fragments):
    path = tmp_path / "hostile.npz"
    path.write_bytes(content)
    refused(lambda: load_npz(path), [*fragments, str(path)])


def test_npz_compressed_bytes_and_column_labels_load(tmp_path):
    path = tmp_path / "packed.npz"
    np.savez_compressed(
        path,
        X=np.asfortranarray(X3),
        y=np.array([[b"b"], [b"a"], [b"b"]]),  # (m, 1) bytes: flattened and decoded
        feature_names=np.array([b"len", "ß".encode()]),
    )
    ds = load_npz(path)
    assert ds.classes == ("a", "b") and ds.y.tolist() == [1, 0, 1]
    assert ds.feature_names == ("len", "ß")
    np.testing.assert_array_equal(ds.X, X3.T)


def test_npz_keys_stored_without_the_npy_suffix_load(tmp_path):
    path = tmp_path / "raw.npz"
    path.write_bytes(zip_of({"X": npy(X3), "y.npy": npy(np.array([0, 1, 0]))}))
    assert load_npz(path).X.tolist() == X3.T.tolist()


# --------------------------------------------------------------------------- load_dataset


@pytest.mark.parametrize("name", [5, None, 3.5, b"moons", ["moons"], {"name": "moons"}])
def test_load_dataset_name_must_be_text_or_a_path(name):
    refused(
        lambda: load_dataset(name),
        ["The 'name_or_path' parameter of load_dataset must be a built-in dataset name"],
        InvalidParameterError,
    )


def test_load_dataset_paths_that_are_not_data_files(tmp_path):
    refused(lambda: load_dataset(str(tmp_path)), ["is a directory", "built-in dataset name"])
    (tmp_path / "folder.csv").mkdir()
    refused(lambda: load_dataset(tmp_path / "folder.csv", target="y"), ["Is a directory"])
    (tmp_path / "folder.npz").mkdir()
    refused(lambda: load_dataset(tmp_path / "folder.npz"), ["Is a directory"])
    (tmp_path / "notes.txt").write_text("a,y\n1,x\n")
    refused(lambda: load_dataset(str(tmp_path / "notes.txt")), ["is not a .csv or .npz file"])
    refused(lambda: load_dataset("bad\0name.csv", target="y"), ["Cannot read", "null"])
    message = refused(
        lambda: load_dataset("m" * 100_000), ["Unknown dataset 'mmm"], InvalidParameterError
    )
    assert len(message) < 400
