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
from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import csv_file, load_csv, load_dataset, load_npz, read_csv
from descentlab.datasets.csv_file import _csv_labels
from hostile_files import npy, npy_header, refused, savez, zip_of

# --------------------------------------------------------------------------- CSV: wide headers


def wide_csv(path: Path, n: int, rows: int, names: list[str] | None = None) -> Path:
    names = names or [f"f{j}" for j in range(n)]
    lines = [",".join(names) + ",y"]
    lines += [",".join(str((i * j) % 7) for j in range(n)) + f",{'ab'[i % 2]}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def growth(work, small: Path, large: Path) -> float:
    """How much more CPU time ``work(large)`` takes than ``work(small)`` (each the best of three
    runs): about 10 for linear work on a header ten times wider, about 100 for quadratic work.
    A ratio of process times, not seconds on the clock: CI machines are shared, and time spent
    waiting for a core is not counted (wall-clock ratios reached 57 under load).
    """

    def best(path: Path) -> float:
        times = []
        for _ in range(3):
            start = time.process_time()
            work(path)
            times.append(time.process_time() - start)
        return min(times)

    return best(large) / best(small)


@pytest.mark.timeout(60)
def test_read_csv_a_header_of_100000_columns_in_linear_time(tmp_path):
    # The header used to be resolved with header.count(c) in a loop and header.index(c) per
    # column: about 130 s for these 100 000 columns.
    n = 100_000
    path = wide_csv(tmp_path / "wide.csv", n, rows=3)
    small = wide_csv(tmp_path / "narrow.csv", n // 10, rows=3)
    ratio = growth(lambda p: read_csv(p, target="y"), small, path)
    assert ratio < 35, f"10x the columns took {ratio:.0f}x the time: not linear"
    names, X, labels = read_csv(path, target="y")
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
    refused(lambda: load_csv(path, "y"), ["Column 'f99990' appears twice in the header of"])
    small_names = [f"f{j}" for j in range(n // 10)]
    small_names[n // 10 - 3] = f"f{n // 10 - 10}"
    small = wide_csv(tmp_path / "dup-small.csv", n // 10, rows=2, names=small_names)

    def refuse(p: Path) -> None:
        with pytest.raises(DataError, match="appears twice"):
            load_csv(p, "y")

    ratio = growth(refuse, small, path)
    assert ratio < 35, f"10x the columns took {ratio:.0f}x the time: not linear"
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


CSV_MESSAGES = [
    # (id, file bytes, read_csv keywords or None for load_csv(path, "y"), the whole message)
    (
        "utf-16-with-bom",
        "a,y\n1,x\n2,z\n".encode("utf-16"),
        None,
        "Cannot read '{path}': it is not UTF-8 text (it starts with a UTF-16 byte-order mark). "
        "Save it as UTF-8 CSV.",
    ),
    (
        "nul-in-a-cell",
        b"a,y\n1\x00,x\n2,z\n",
        None,
        "Cannot read '{path}': line 2 holds a NUL character, so it is not UTF-8 text (binary "
        "data, or UTF-16 without a byte-order mark). Save it as UTF-8 CSV.",
    ),
    (
        "latin-1",
        "a,y\n\xe9t\xe9,1\n".encode("latin-1"),
        None,
        "Cannot read '{path}': it is not UTF-8 text (invalid continuation byte). Save it as "
        "UTF-8 CSV.",
    ),
    (
        "huge-field",
        b"a,y\n" + b"1" * 140_000 + b",x\n2,z\n",
        None,
        "Cannot read '{path}' as CSV: field larger than field limit (131072).",
    ),
    (
        "blank-lines-only",
        b"\n \n",
        None,
        "'{path}' is empty; expected a header row naming the columns, then one row per example.",
    ),
    (
        "numbers-in-the-header",
        b"1;2;0;4;5;6\n3;4;1;4;5;6\n",
        {"target": "y", "delimiter": ";"},
        "The first row of '{path}' (1;2;0;4;5...) looks like data, but a header row naming the "
        "columns is required; add one.",
    ),
    (
        "unnamed-column",
        b"a,,y\n1,2,x\n3,4,z\n",
        None,
        "Column 2 of the header of '{path}' has no name; name every column (an unnamed first "
        "column is often an index written by pandas: save it with to_csv(..., index=False)).",
    ),
    (
        "a-column-twice",
        b"a,b,a,y\n1,2,3,x\n3,4,5,z\n",
        None,
        "Column 'a' appears twice in the header of '{path}'.",
    ),
    (
        "a-missing-feature-column",
        b"a,y\n1,x\n2,z\n",
        {"columns": ["a", "b"], "needed_by": "the model"},
        "'{path}' lacks the feature column 'b'; the model needs the columns 'a', 'b' "
        "(found 'a', 'y').",
    ),
    (
        "missing-feature-columns",
        b"a,y\n1,x\n2,z\n",
        {"columns": ["p", "q"]},
        "'{path}' lacks the feature columns 'p', 'q'; the columns needed are 'p', 'q' "
        "(found 'a', 'y').",
    ),
    (
        "no-target-column",
        b"a,b,label\n1,2,x\n3,4,y\n",
        None,
        "Target column 'y' not found in '{path}'. Available columns: 'a', 'b', 'label'. Pass "
        "one of them as target.",
    ),
    (
        "only-the-target",
        b"y\nx\nz\n",
        None,
        "'{path}' has only the target column 'y'; at least one feature column is needed.",
    ),
    (
        "a-short-row",
        b"a,b,y\n1,2,x\n3,4\n",
        None,
        "Line 3 of '{path}' has 2 fields, but the header has 3. Check the delimiter and quoting.",
    ),
    (
        "an-empty-label",
        b"a,b,y\n1,2, \n3,4,z\n",
        None,
        "The target column 'y' is empty at line 2 of '{path}'; every example needs a label.",
    ),
    (
        "an-empty-feature",
        b"a,b,y\n1,2,x\n\n3, ,z\n",
        None,
        "Column 'b' at line 4 of '{path}' is empty (a missing value); fill it in or drop the row.",
    ),
    (
        "not-a-number",
        b"a,b,y\n1,2,x\n3,abc,z\n",
        None,
        "Column 'b' at line 3 of '{path}' holds 'abc', which is not a number; feature columns "
        "must be numeric (encode or drop that column).",
    ),
    (
        "a-nan-feature",
        b"a,b,y\n1,2,x\n-inf,nan,z\n",
        None,
        "Column 'a' at line 3 of '{path}' holds '-inf' (NaN or inf); fill in or drop that value.",
    ),
    (
        "a-nan-label",
        b"a,y\n1,1\n2,nan\n3,0\n",
        None,
        "The target column 'y' of '{path}' holds 'nan' (NaN or inf) in data row 2, among "
        "numeric labels; every example needs a finite label: fill it in or drop the row.",
    ),
    (
        "no-rows",
        b"a,y\n",
        None,
        "'{path}' has 0 examples; at least 2 are needed (one row per example).",
    ),
    (
        "one-row",
        b"a,y\n1,x\n",
        None,
        "'{path}' has 1 example; at least 2 are needed (one row per example).",
    ),
    (
        "one-class",
        b"a,y\n1,3\n2,3.0\n",
        None,
        "The target 'y' in '{path}' holds a single class (3); classification needs at least "
        "two. Check the target column.",
    ),
]


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [c[1:] for c in CSV_MESSAGES],
    ids=[c[0] for c in CSV_MESSAGES],
)
def test_csv_refusals_say_exactly_what_is_wrong(tmp_path, content, kwargs, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        if kwargs is None:
            load_csv(path, "y")
        else:
            read_csv(path, **kwargs)
    assert str(caught.value) == message.format(path=path)


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
    (
        "blank-lines-before-the-header",
        b"\n \n,\na,y\n1,x\n2,z\n",
        ("a",),
        [[1.0, 2.0]],
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


def test_read_csv_without_a_target_reads_every_column(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n")
    names, X, labels = read_csv(path)
    assert names == ["a", "b", "c"] and X.tolist() == [[1, 2, 3], [4, 5, 6]] and labels is None
    names, X, labels = read_csv(path, target="owner", require_target=False)
    assert names == ["a", "b", "c"] and X.tolist() == [[1, 2, 3], [4, 5, 6]] and labels is None
    names, X, labels = read_csv(path, columns=["c", "a"])
    assert names == ["c", "a"] and X.tolist() == [[3, 1], [6, 4]] and labels is None
    names, X, labels = read_csv(path, target="b")
    assert names == ["a", "c"] and X.tolist() == [[1, 3], [4, 6]] and labels == ["2", "5"]


def test_a_header_of_numbers_is_read_when_the_columns_are_named(tmp_path):
    path = tmp_path / "years.csv"
    path.write_text("2019,2020,2021\n1,2,3\n4,5,6\n")
    refused(lambda: read_csv(path), ["looks like data"])  # every column: a header is required
    names, X, labels = read_csv(path, columns=["2021", "2019"], target="2020")
    assert names == ["2021", "2019"] and X.tolist() == [[3, 1], [6, 4]] and labels == ["2", "5"]


def test_an_unnamed_column_may_be_the_target(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("a,\n1,x\n2,z\n")
    ds = load_csv(path, "")
    assert ds.feature_names == ("a",) and ds.classes == ("x", "z") and ds.y.tolist() == [0, 1]


def test_a_target_named_twice_is_refused_when_columns_are_named(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("a,y,b,y\n1,x,2,z\n3,z,4,x\n")
    message = refused(lambda: read_csv(path, columns=["a"], target="y"), [])
    assert message == f"Column 'y' appears twice in the header of '{path}'."
    names, X, labels = read_csv(path, columns=["b"], target="a")  # 'y' is not read
    assert names == ["b"] and X.tolist() == [[2.0], [4.0]] and labels == ["1", "3"]


def test_only_a_row_that_fails_is_parsed_again_cell_by_cell(tmp_path, monkeypatch):
    cells = []
    parse = csv_file._parse_csv_feature
    monkeypatch.setattr(
        csv_file, "_parse_csv_feature", lambda cell, *args: cells.append(cell) or parse(cell, *args)
    )
    path = tmp_path / "rows.csv"
    path.write_text("a,b,y\n1, 2 ,x\n1e308,1e308,z\n3,4,x\n")
    _, X, labels = read_csv(path, target="y")
    assert X.tolist() == [[1.0, 2.0], [1e308, 1e308], [3.0, 4.0]] and labels == ["x", "z", "x"]
    assert cells == ["1e308", "1e308"]  # only the row whose sum overflows is looked at again
    path.write_text("a,b,y\n1,2,x\n3, nan ,z\n")
    refused(lambda: read_csv(path, target="y"), ["Column 'b' at line 3", "holds 'nan'"])
    assert cells == ["1e308", "1e308", "3", "nan"]


def test_a_file_replaced_by_a_device_after_the_check_is_refused(tmp_path, monkeypatch):
    # check_regular_file looks at the path, then the file is opened: what was opened is
    # checked again (a race could swap the file for a device in between)
    if not Path("/dev/null").exists():
        pytest.skip("needs /dev/null")
    monkeypatch.setattr(csv_file, "check_regular_file", lambda path: 0)
    message = refused(lambda: read_csv("/dev/null"), [])
    assert message == "Cannot read '/dev/null': it is not a regular file."
    gone = tmp_path / "gone.csv"  # removed since the check
    message = refused(lambda: read_csv(gone), [])
    assert message == f"No such file: '{gone}'. Check the path (relative to {Path.cwd()})."


def test_load_csv_takes_the_name_it_is_given(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("w,kind\n4,cat\n30,dog\n")
    assert load_csv(path, "kind", name="my pets").name == "my pets"
    assert load_csv(path, "kind").name == "pets"


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


def test_csv_labels_are_encoded_as_int64_class_indices(tmp_path):
    # _csv_labels encodes text itself (no fixed-width array): its y is int64 like encode_labels'
    y, classes = _csv_labels(["dog", "cat", "dog", "emu"], tmp_path / "t.csv", "y")
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 1, 2]
    assert classes == ("cat", "dog", "emu")
    y, classes = _csv_labels(["2", " 1.0", "2e0"], tmp_path / "t.csv", "y")
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 1] and classes == (1, 2)


# --------------------------------------------------------------------------- CSV: caps


def test_a_line_longer_than_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "long.csv"
    path.write_text("a,y\n" + "1" * 600 + "," + "x" * 600 + "\n2,z\n")
    message = refused(lambda: load_csv(path, "y"), [])
    assert message == (
        f"Line 2 of '{path}' is longer than 1000 characters (descentlab.limits.MAX_LINE_CHARS); "
        "a CSV file has one row per line."
    )
    path.write_text("a,y\n" + "0" * 498 + "," + "x" * 500 + "\n2,z\n")  # 1000 with the newline
    assert load_csv(path, "y").classes == ("x" * 500, "z")


def test_rows_beyond_max_examples_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EXAMPLES", 3)
    path = tmp_path / "rows.csv"
    path.write_text("a,y\n1,x\n2,z\n3,x\n")
    assert load_csv(path, "y").n_examples == 3
    path.write_text("a,y\n1,x\n2,z\n3,x\n4,z\n")
    message = refused(lambda: load_csv(path, "y"), [])
    assert message == (
        f"'{path}' has more than 3 examples (rows), the most descentlab reads "
        "(descentlab.limits.MAX_EXAMPLES); read a sample of it."
    )


def test_a_feature_table_beyond_max_memory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 8 * 4)  # four float64 values
    path = tmp_path / "mem.csv"
    path.write_text("a,b,y\n1,2,x\n3,4,z\n")
    assert load_csv(path, "y").X.tolist() == [[1.0, 3.0], [2.0, 4.0]]  # exactly the cap
    path.write_text("a,b,y\n1,2,x\n3,4,z\n5,6,x\n")
    message = refused(lambda: load_csv(path, "y"), [])
    assert message == (
        f"The features of '{path}' take more than 2.98023e-08 GiB "
        "(descentlab.limits.MAX_MEMORY_BYTES) at line 4 (3 rows of 2 features); read a sample "
        "of it or fewer columns."
    )
    path.write_text("a,b,y\n1,2,x\n3,4,z\n\n5,y\n")  # 2 rows fit; the ragged row is read
    refused(lambda: load_csv(path, "y"), ["Line 5 of"])


def test_a_csv_larger_than_the_cap_is_refused_before_it_is_opened(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: no disk used, and never read
    start = time.perf_counter()
    message = refused(lambda: load_dataset(path, target="y"), [])
    assert message == (
        f"'{path}' is 2.0 GiB; CSV files larger than 2 GiB (descentlab.limits.MAX_FILE_BYTES) "
        "are refused. Read a sample of it, or save the arrays as .npz."
    )
    refused(lambda: read_csv(path, columns=["a"]), ["MAX_FILE_BYTES"])
    assert time.perf_counter() - start < 1.0


def test_a_csv_of_exactly_max_file_bytes_loads(tmp_path, monkeypatch):
    path = tmp_path / "small.csv"
    path.write_bytes(b"a,y\n1,x\n2,z\n")
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 12)
    assert load_csv(path, "y").n_examples == 2
    path.write_bytes(b"a,y\n1,x\n2,z\n\n")
    message = refused(lambda: load_csv(path, "y"), [])
    assert message == (
        f"'{path}' is 0.0 GiB; CSV files larger than 1.11759e-08 GiB "
        "(descentlab.limits.MAX_FILE_BYTES) are refused. Read a sample of it, or save the "
        "arrays as .npz."
    )


@pytest.mark.parametrize("delimiter", ["", ",,", None, '"', "\n", "\r", "\0"])
def test_a_bad_delimiter_is_a_parameter_error(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,x\n2,z\n")
    message = refused(lambda: load_csv(path, "y", delimiter=delimiter), [], InvalidParameterError)
    assert message == (
        "The 'delimiter' parameter of read_csv must be one character, not a quote, a line break "
        f"or NUL. Got {delimiter!r} instead."
    )


@pytest.mark.parametrize("columns", [[], (), "ab", b"ab", ["a", 1], [b"a"], {"a"}, 3])
def test_columns_must_be_a_list_of_names(tmp_path, columns):
    # an empty list used to escape as a TypeError from operator.itemgetter()
    path = tmp_path / "c.csv"
    path.write_text("a,b,y\n1,2,x\n3,4,z\n")
    message = refused(lambda: read_csv(path, columns=columns), [], InvalidParameterError)
    assert message == (
        "The 'columns' parameter of read_csv must be None, or a non-empty list of column names "
        f"(str). Got {columns!r} instead."
    )
    names, X, _ = read_csv(path, columns=("b",))
    assert names == ["b"] and X.tolist() == [[2.0], [4.0]]


@pytest.mark.parametrize("delimiter", ["X", "\t", "|", " "])
def test_any_other_single_character_is_a_delimiter(tmp_path, delimiter):
    path = tmp_path / "d.csv"
    path.write_text(f"a{delimiter}y\n1{delimiter}u\n2{delimiter}v\n")
    ds = load_csv(path, "y", delimiter=delimiter)
    assert ds.feature_names == ("a",) and ds.X.tolist() == [[1.0, 2.0]] and ds.classes == ("u", "v")


def test_line_breaks_inside_a_quoted_cell_are_kept_as_written(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_bytes(b'a,y\r\n1,"x\r\ny"\r\n2,"z\rw"\r\n3,"x\r\ny"\r\n')
    ds = load_csv(path, "y")
    assert ds.classes == ("x\r\ny", "z\rw") and ds.y.tolist() == [0, 1, 0]


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


NPZ_MESSAGES = [
    # (id, archive bytes, load_npz keywords, the whole message; {path} is the file)
    (
        "no-feature-array",
        savez(features=X3, labels=[0, 1, 0]),
        {},
        "Array 'X' not found in '{path}'; it holds: 'features', 'labels'. Pass features=... "
        "to name the feature array.",
    ),
    (
        "no-label-array",
        savez(features=X3, labels=[0, 1, 0]),
        {"features": "features"},
        "Array 'y' not found in '{path}'; it holds: 'features', 'labels'. Pass target=... "
        "to name the label array.",
    ),
    (
        "no-feature-columns",
        savez(X=np.zeros((3, 0)), y=[0, 1, 0]),
        {},
        "'X' in '{path}' has no feature columns (shape (3, 0)); it must be (m, n_features) "
        "with at least one feature.",
    ),
    (
        "non-utf8-labels",
        savez(X=X3, y=np.array([b"\xe9", b"a", b"a"])),
        {},
        "'y' in '{path}' holds bytes that are not UTF-8 text; save the labels as numbers or str.",
    ),
    (
        "nan-label",
        savez(X=X3, y=[0.0, np.nan, 1.0]),
        {},
        "'y' in '{path}' holds nan at row 1; every example needs a finite label: fill it in "
        "or drop the row.",
    ),
    (
        "one-row",
        savez(X=X3[:1], y=[1]),
        {},
        "'{path}' has 1 example; at least 2 are needed (one row per example).",
    ),
    (
        "one-class",
        savez(data=X3, label=[4, 4, 4]),
        {"target": "label", "features": "data"},
        "The target 'label' in '{path}' holds a single class (4); classification needs at "
        "least two. Check the target column.",
    ),
]


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [c[1:] for c in NPZ_MESSAGES],
    ids=[c[0] for c in NPZ_MESSAGES],
)
def test_load_npz_refusals_say_exactly_what_is_wrong(tmp_path, content, kwargs, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_npz(path, **kwargs)
    assert str(caught.value) == message.format(path=path)


def test_load_npz_finite_float_labels_and_a_given_name(tmp_path):
    path = tmp_path / "floats.npz"
    path.write_bytes(savez(X=X3, y=np.array([0.5, 1.5, 0.5])))
    ds = load_npz(path, name="halves")
    assert ds.name == "halves" and ds.classes == (0.5, 1.5) and ds.y.tolist() == [0, 1, 0]
    path.write_bytes(savez(X=X3, y=np.array([1.0, 0.0, 1.0], dtype=np.float32)))
    ds = load_npz(path)
    assert ds.name == "floats" and ds.classes == (0, 1) and ds.y.tolist() == [1, 0, 1]


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
