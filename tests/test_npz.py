"""The one NPZ reader: plain arrays come back exactly as np.load gives them; every hostile
archive is one line that names the file (and the array), never a traceback or an allocation
the file only claims; and every reader of an .npz in the library goes through it."""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from descentlab import limits, npz
from descentlab._validation import DataError
from descentlab.cli import main
from descentlab.datasets import load_npz
from descentlab.experiments.run_folder import read_models
from descentlab.model_file import load_model, save_model
from descentlab.nn import MLP
from descentlab.npz import MAX_MEMBERS, NpzError, open_npz
from descentlab.training import History
from hostile_files import npy, npy_header, raw_header, savez, zip_of
from hostile_files import refused as _refused

X3 = np.arange(6.0).reshape(3, 2)


# --------------------------------------------------------------------------- building archives


def garbled(header: bytes) -> bytes:
    """``header`` with the shape tuple's closing parenthesis blanked: NumPy's parser raises
    ``tokenize.TokenError`` (same length, so the data still follows where it did)."""
    start = header.index(b"'shape': (")
    end = header.index(b")", start)
    return header[:end] + b" " + header[end + 1 :]


def with_member(archive: bytes, name: str, change) -> bytes:
    """``archive`` with member ``name``'s bytes replaced by ``change(bytes)``."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        members = [(n, change(z.read(n)) if n == name else z.read(n)) for n in z.namelist()]
    return zip_of(members)


def patch_central(archive: bytes, offset: int, value: bytes) -> bytes:
    """``archive`` with ``value`` written at ``offset`` of its first local header and first
    central directory entry (the same field: 8 = compression method in the local header is
    10 in the central one, so pass the local offset)."""
    data = bytearray(archive)
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + offset : local + offset + len(value)] = value
    data[central + offset + 2 : central + offset + 2 + len(value)] = value
    return bytes(data)


def flip_in_data(archive: bytes, at: int = 40) -> bytes:
    """``archive`` with one byte of its first member's stored data flipped."""
    data = bytearray(archive)
    local = data.index(b"PK\x03\x04")
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    data[local + 30 + name_len + extra_len + at] ^= 0xFF
    return bytes(data)


def write(tmp_path: Path, content: bytes, name: str = "a.npz") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read_all(path: Path) -> dict[str, np.ndarray]:
    with open_npz(path) as archive:
        return {name: archive.read(name) for name in archive.names}


def refused(call, fragments, error=NpzError) -> str:
    return _refused(call, fragments, error)


# --------------------------------------------------------------------------- plain arrays


PLAIN = {
    "floats": X3,
    "fortran": np.asfortranarray(np.arange(24.0).reshape(2, 3, 4)),
    "big_endian": np.arange(5, dtype=">i4"),
    "scalar": np.float32(2.5),
    "empty": np.zeros((0, 3)),
    "text": np.array(["ß", "label"]),
    "bytes": np.array([b"a", b"bc"]),
    "bools": np.array([True, False]),
    "structured": np.array([(1, 2.0)], dtype=[("a", "<i2"), ("b", "<f8")]),
    "zero_width": np.zeros(4, dtype="S0"),
    "complex": np.array([1 + 2j]),
}


@pytest.mark.parametrize("compressed", [False, True])
def test_plain_arrays_come_back_exactly_as_np_load_gives_them(tmp_path, compressed):
    path = tmp_path / "plain.npz"
    (np.savez_compressed if compressed else np.savez)(path, **PLAIN)
    arrays = read_all(path)
    with np.load(path) as expected:
        assert list(arrays) == expected.files
        for name, array in arrays.items():
            assert array.dtype == expected[name].dtype and array.shape == expected[name].shape
            np.testing.assert_array_equal(array, expected[name])
    assert arrays["fortran"].flags.f_contiguous
    arrays["floats"][0, 0] = 7.0  # writable, like np.load's arrays


def test_npy_format_versions_2_and_3_are_read(tmp_path):
    unicode_fields = np.array([(1.5,)], dtype=[("größe 中", "<f8")])
    path = write(
        tmp_path,
        zip_of({"a.npy": npy(X3, version=(2, 0)), "b.npy": npy(unicode_fields, version=(3, 0))}),
    )
    arrays = read_all(path)
    np.testing.assert_array_equal(arrays["a"], X3)
    assert arrays["b"].dtype.names == ("größe 中",) and arrays["b"]["größe 中"][0] == 1.5


def test_names_are_np_loads_and_a_member_without_the_suffix_counts(tmp_path):
    path = write(tmp_path, zip_of({"X": npy(X3), "run0/W1.npy": npy(X3)}))
    with open_npz(path) as archive:
        assert archive.names == ("X", "run0/W1")
        assert "X" in archive and "run0/W1" in archive and "X.npy" not in archive


def test_header_reads_no_data(tmp_path):
    """The header of an array announcing 8 TB is there to read; its data is never read."""
    path = write(tmp_path, zip_of({"X.npy": npy_header((10**6, 10**6))}))
    with open_npz(path) as archive:
        assert archive.header("X") == ((10**6, 10**6), np.dtype("<f8"))
        refused(lambda: archive.read("X"), ["the array 'X' has shape (1000000, 1000000)"])


# --------------------------------------------------------------------------- hostile archives

GOOD = savez(X=X3, y=np.array([0, 1, 0]))
HUGE_MEMBERS = [(f"a{i}.npy", b"") for i in range(MAX_MEMBERS + 1)]

HOSTILE = [
    # (id, archive bytes, fragments of the one-line NpzError)
    ("empty-file", b"", ["the file is empty"]),
    ("a-single-npy", npy(X3), ["it holds a single array, not an .npz archive"]),
    ("random-bytes", bytes(random.Random(3).randrange(256) for _ in range(999)), ["not a zip"]),
    ("zip-magic-then-zeros", b"PK\x03\x04" + bytes(200), ["the zip archive is damaged"]),
    ("truncated-zip", GOOD[:300], ["the zip archive is damaged or truncated"]),
    ("zip-without-its-end", GOOD[:-30], ["damaged or truncated"]),
    ("too-many-members", zip_of(HUGE_MEMBERS), [f"it has {MAX_MEMBERS + 1} members, more than"]),
    ("a-name-twice", zip_of({"X": npy(X3), "X.npy": npy(X3)}), ["two arrays named 'X'"]),
    ("a-member-twice", zip_of([("X.npy", npy(X3)), ("X.npy", npy(X3))]), ["two arrays named"]),
    ("a-long-name-twice", zip_of([("n" * 5000, b""), ("n" * 5000, b"")]), ["'nnnn", "n...'"]),
]
"""Refused as the archive is opened."""

ARRAY_REFUSED = [
    # (id, the member X.npy, fragments of the one-line NpzError)
    ("not-npy", b"hello", ["the member 'X' is not a NumPy array (no .npy header)"]),
    ("empty-member", b"", ["the member 'X' is not a NumPy array"]),
    ("unknown-version", b"\x93NUMPY\x09\x00" + bytes(100), ["unknown .npy format version (9, 0)"]),
    ("header-cut", npy(X3)[:30], ["the array 'X' is truncated (its .npy header ends after"]),
    ("header-too-long", raw_header(b" " * 70_000, (2, 0)), ["header is 70000 bytes, more than"]),
    ("unclosed-tuple", garbled(npy(X3)), ["the array 'X' is damaged (garbled .npy header"]),
    ("unclosed-string", raw_header(b"{'descr': '<f8"), ["garbled .npy header"]),
    ("not-a-literal", raw_header(b"{'descr': __import__('os')}"), ["garbled .npy header"]),
    ("not-a-dict", raw_header(b"[1, 2]"), ["Header is not a dictionary"]),
    ("nested-signs", raw_header(b"-" * 9000 + b"1"), ["garbled .npy header"]),
    ("nested-tuples", raw_header(b"(" * 5000), ["garbled .npy header"]),
    ("wrong-keys", raw_header(b"{'shape': (3,)}"), ["correct keys"]),
    (
        "bad-descr",
        raw_header(b"{'descr': [(1, 2)], 'fortran_order': False, 'shape': (1,)}"),
        ["not a valid dtype descriptor"],
    ),
    ("not-latin-1", raw_header(b"\xff" * 20, (3, 0)), ["the array 'X' is damaged"]),
    ("negative-dim", npy_header((-1, 2)), ["announces shape (-1, 2)"]),
    ("sub-array-dtype", npy_header((3,), ("<f8", (2,))), ["announces the dtype ('<f8', (2,))"]),
]
"""Refused by ``header`` (and so by ``read``)."""

DATA_REFUSED = [
    # (id, the member X.npy, fragments of the one-line NpzError)
    ("pickled", npy(np.array([{}, None], dtype=object)), ["'X' is an object array (pickled"]),
    ("pickled-field", npy(np.zeros(2, dtype=[("a", "O")])), ["'X' is an object array"]),
    ("8-TB", npy_header((10**6, 10**6)), ["has shape (1000000, 1000000)", "MAX_MEMORY_BYTES"]),
    ("8-GB-of-text", npy_header((10**7,), "<U200", (2, 0)), ["dtype <U200", "more than the 4 GiB"]),
    ("trillion-empty-strings", npy_header((10**12,), "|S0"), ["has shape (1000000000000,)"]),
    (
        "announces-more",
        npy_header((1000, 2)) + bytes(16),
        ["the array 'X' is truncated (its header announces 16000 bytes, the member holds 16)"],
    ),
    (
        "stores-more",
        npy(X3) + b"trailing",
        ["the array 'X' is damaged (its header announces 48 bytes, the member holds 56)"],
    ),
]
"""Headers that read, arrays that must not be loaded."""


@pytest.mark.parametrize(
    ("content", "fragments"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_archives_are_refused_as_opened(tmp_path, content, fragments):
    path = write(tmp_path, content)
    message = refused(lambda: open_npz(path).__enter__(), fragments)
    assert message.startswith(f"Cannot read '{path}' as an .npz archive of plain arrays: ")


@pytest.mark.parametrize(
    ("member", "fragments"), [c[1:] for c in ARRAY_REFUSED], ids=[c[0] for c in ARRAY_REFUSED]
)
def test_unreadable_array_headers_are_refused(tmp_path, member, fragments):
    path = write(tmp_path, zip_of({"X.npy": member, "y.npy": npy(np.arange(3))}))
    with open_npz(path) as archive:
        for call in (archive.header, archive.read):
            with pytest.raises(NpzError) as info:
                call("X")
            message = str(info.value)
            assert "\n" not in message and str(path) in message
            assert all(f in message for f in fragments), message
            assert info.value.array == "X"
        assert archive.read("y").tolist() == [0, 1, 2]  # the others still read


@pytest.mark.parametrize(
    ("member", "fragments"), [c[1:] for c in DATA_REFUSED], ids=[c[0] for c in DATA_REFUSED]
)
def test_arrays_that_must_not_be_loaded_are_refused_before_their_data(tmp_path, member, fragments):
    path = write(tmp_path, zip_of({"X.npy": member}))
    with open_npz(path) as archive:
        archive.header("X")  # the header reads
        message = refused(lambda: archive.read("X"), [str(path), *fragments])
    assert "'X'" in message


def test_a_bad_crc_is_refused(tmp_path):
    path = write(tmp_path, flip_in_data(zip_of({"X.npy": npy(np.arange(10_000.0))}), at=70_000))
    with open_npz(path) as archive:
        archive.header("X")  # the header is read, not the damaged byte far behind it
        refused(lambda: archive.read("X"), ["the array 'X' is damaged", "CRC"])


@pytest.mark.parametrize(
    ("compression", "fragment"),
    [
        (zipfile.ZIP_DEFLATED, "damaged"),
        (zipfile.ZIP_BZIP2, "damaged"),
        (zipfile.ZIP_LZMA, "damaged"),
    ],
)
def test_broken_compressed_streams_are_refused(tmp_path, compression, fragment):
    big = np.arange(2000.0)
    path = write(tmp_path, flip_in_data(zip_of({"X.npy": npy(big)}, compression), at=20))
    with open_npz(path) as archive:
        refused(lambda: archive.read("X"), ["the array 'X'", fragment])


def test_an_encrypted_member_and_an_unknown_compression_are_refused(tmp_path):
    encrypted = patch_central(zip_of({"X.npy": npy(X3)}), 6, b"\x01\x00")  # flag bit 0
    with open_npz(write(tmp_path, encrypted, "e.npz")) as archive:
        refused(lambda: archive.read("X"), ["the array 'X' is damaged", "encrypted"])
    unknown = patch_central(zip_of({"X.npy": npy(X3)}), 8, b"\x63\x00")  # method 99
    with open_npz(write(tmp_path, unknown, "u.npz")) as archive:
        refused(lambda: archive.read("X"), ["the array 'X' is damaged", "compression"])


def test_a_zip_directory_too_large_for_max_members_is_refused_before_it_is_read(
    tmp_path, monkeypatch
):
    """The directory is refused from the size zip says it has, before zipfile builds it: a
    2 GiB file could otherwise describe 40 million members."""
    monkeypatch.setattr(npz, "_DIRECTORY_BYTES", 4096)
    path = write(tmp_path, zip_of({f"member{i}.npy": b"" for i in range(200)}))
    built = []
    monkeypatch.setattr(zipfile.ZipInfo, "__init__", _counting(zipfile.ZipInfo.__init__, built))
    refused(lambda: open_npz(path).__enter__(), ["its zip directory takes", "MAX_MEMBERS"])
    assert built == []


def _counting(init, calls):
    def counted(self, *args, **kwargs):
        calls.append(1)
        init(self, *args, **kwargs)

    return counted


def test_all_arrays_of_an_archive_together_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 1000)
    path = write(tmp_path, savez(a=np.zeros(100), b=np.zeros(100), c=np.zeros(10)))
    with open_npz(path) as archive:
        assert archive.read("a").shape == (100,)  # 800 bytes
        refused(lambda: archive.read("b"), ["the array 'b' (800 bytes) would take the arrays"])
        assert archive.read("c").shape == (10,)  # 880 bytes in all


def test_a_missing_array_is_one_line(tmp_path):
    path = write(tmp_path, GOOD)
    with open_npz(path) as archive:
        refused(lambda: archive.header("Z"), ["it has no array 'Z'"])
        refused(lambda: archive.read("Z"), ["it has no array 'Z'"])


# --------------------------------------------------------------------------- the file


def test_files_that_are_not_regular_files_are_refused_before_opening(tmp_path):
    refused(lambda: open_npz(tmp_path / "none.npz").__enter__(), ["No such file"], DataError)
    refused(lambda: open_npz(tmp_path).__enter__(), ["Is a directory"], DataError)
    if Path("/dev/zero").exists():
        refused(lambda: open_npz("/dev/zero").__enter__(), ["not a regular file"], DataError)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.npz")  # opening it would block until a writer comes
        refused(
            lambda: open_npz(tmp_path / "pipe.npz").__enter__(), ["not a regular file"], DataError
        )


def test_a_file_larger_than_max_file_bytes_is_refused_unread(tmp_path):
    path = tmp_path / "huge.npz"
    with path.open("wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: nothing is written to disk
    message = refused(lambda: open_npz(path).__enter__(), ["MAX_FILE_BYTES"], DataError)
    assert message.startswith(f"'{path}' is 2.0 GiB")


# --------------------------------------------------------------------------- every reader


def _garbled_copy(archive: Path, member: str) -> None:
    """Blank the closing parenthesis of ``member``'s shape in ``archive``, in place."""
    archive.write_bytes(with_member(archive.read_bytes(), member, garbled))


NET = MLP((2, 3, 1), "tanh")


def test_load_npz_a_garbled_header_is_one_line(tmp_path):
    """It was a tokenize.TokenError (exit 70 in ``descentlab compare --dataset``)."""
    path = write(tmp_path, savez(X=X3, y=np.array([0, 1, 0])), "g.npz")
    _garbled_copy(path, "X.npy")
    refused(
        lambda: load_npz(path),
        [f"Cannot read '{path}'", "the array 'X' is damaged (garbled .npy header", "np.savez"],
        DataError,
    )


def test_compare_on_a_garbled_dataset_exits_2(tmp_path, capsys):
    path = write(
        tmp_path, savez(X=np.random.default_rng(0).normal(size=(20, 2)), y=np.arange(20) % 2)
    )
    _garbled_copy(path, "X.npy")
    rc = main(
        ["compare", "--dataset", str(path), "--epochs", "2", "--out", str(tmp_path / "r"), "-q"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "garbled .npy header" in err, err
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.npz"
    history = History(
        cost=np.ones(2),
        last_batch_cost=np.ones(2),
        learning_rate=np.ones(2),
        eval_epochs=np.array([1]),
        train_accuracy=np.array([0.5]),
        val_accuracy=np.array([]),
    )
    meta = {"classes": [0, 1], "feature_names": ["a", "b"], "target": None}
    return save_model(path, net=NET, params=NET.init(seed=0), history=history, meta=meta)


def test_load_model_a_garbled_header_is_one_line(model_file, tmp_path):
    path = tmp_path / "m.npz"
    shutil.copy(model_file, path)
    _garbled_copy(path, "W1.npy")
    refused(
        lambda: load_model(path),
        [f"'{path}' is not a descentlab model file (the array 'W1' is damaged (garbled"],
        DataError,
    )


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    assert main(["compare", "--epochs", "3", "--out", str(root / "run"), "-q"]) == 0
    return root / "run"


def _copy(run_folder: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(run_folder, run)
    return run


def test_report_on_a_garbled_models_npz_exits_2_and_writes_nothing(run_folder, tmp_path, capsys):
    """It was a tokenize.TokenError: exit 70 with 'internal error'."""
    run = _copy(run_folder, tmp_path)
    _garbled_copy(run / "models.npz", "run0/W1.npy")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    rc = main(["report", str(run)])
    out, err = capsys.readouterr()
    assert (rc, out) == (2, "")
    assert err == (
        f"descentlab: error: Cannot read '{run / 'models.npz'}' as an .npz archive of plain "
        "arrays: the array 'run0/W1' is damaged (garbled .npy header: ('EOF in multi-line "
        "statement', (2, 0))).\n"
    )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def _models(run_folder: Path, tmp_path: Path, change) -> Path:
    with np.load(run_folder / "models.npz") as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    path = tmp_path / "models.npz"
    np.savez(path, **arrays)
    return path


SHAPES = {"W1": (5, 2), "b1": (5, 1), "W2": (2, 5), "b2": (2, 1), "W3": (1, 2), "b3": (1, 1)}


def test_read_models_reads_what_compare_wrote(run_folder):
    models = read_models(run_folder / "models.npz", SHAPES)
    assert list(models) == ["gd", "momentum", "adam"]
    assert {k: v.shape for k, v in models["adam"].items()} == SHAPES


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda a: a.update(labels=np.array(["gd", "gd", "adam"])), "a label appears twice"),
        (lambda a: a.update(labels=np.arange(3)), "labels must be a list of texts"),
        (lambda a: a.update(labels=np.array([["gd", "momentum", "adam"]])), "labels must be a"),
        (lambda a: a.pop("labels"), "is not a descentlab models file"),
        (lambda a: a.update({"run3/W1": np.zeros((5, 2))}), "holds an unknown array 'run3/W1'"),
        (lambda a: a.update({"run٠/W1": np.zeros((5, 2))}), "holds an unknown array"),
        (lambda a: a.update({"run0/W1": np.zeros((2, 5))}), "the parameters of 'gd' do not fit"),
        (lambda a: a.update({"run1/W1": np.zeros((5, 2), int)}), "'momentum' do not fit"),
        (lambda a: a.pop("run2/b3"), "the parameters of 'adam' do not fit"),
        (lambda a: a.update({"run0/W9": np.zeros(1)}), "the parameters of 'gd' do not fit"),
    ],
)
def test_read_models_refuses_what_does_not_fit(run_folder, tmp_path, change, fragment):
    path = _models(run_folder, tmp_path, change)
    refused(lambda: read_models(path, SHAPES), [f"'{path}'", fragment], DataError)


def test_read_models_checks_a_parameter_header_before_its_data(run_folder, tmp_path):
    path = tmp_path / "models.npz"
    with zipfile.ZipFile(run_folder / "models.npz") as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            huge = npy_header((10**6, 10**6)) if name == "run0/W1.npy" else None
            dst.writestr(name, huge or src.read(name))
    refused(lambda: read_models(path, SHAPES), ["the parameters of 'gd' do not fit"], DataError)


# --------------------------------------------------------------------------- fuzzing every reader


def _mutants(bases: list[bytes], seed: int, count: int) -> Iterator[bytes]:
    """``count`` copies of the ``bases``, each with 1 to 3 bytes changed or short runs cut."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[i] = rng.randrange(256)
            else:
                del data[i : i + rng.randint(1, 40)]
        yield bytes(data)


def _recompressed(archive: bytes, compression: int) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return zip_of([(n, z.read(n)) for n in z.namelist()], compression)


DATA = zip_of({"X.npy": npy(X3), "y.npy": npy(np.array(["a", "b", "a"])),
               "feature_names.npy": npy(np.array(["u", "v"]))})  # fmt: skip
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@pytest.mark.parametrize("reader", ["open_npz", "load_npz", "load_model", "read_models"])
def test_fuzzed_archives_are_read_or_refused_in_one_line(reader, model_file, run_folder, tmp_path):
    read, archive = {
        "open_npz": (read_all, DATA),
        "load_npz": (load_npz, DATA),
        "load_model": (load_model, model_file.read_bytes()),
        "read_models": (
            lambda p: read_models(p, SHAPES),
            (run_folder / "models.npz").read_bytes(),
        ),
    }[reader]
    path = tmp_path / "fuzz.npz"
    outcomes = set()
    for data in _mutants([_recompressed(archive, c) for c in COMPRESSIONS], seed=5, count=250):
        path.write_bytes(data)
        try:
            read(path)
            outcomes.add("read")
        except DataError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), exc
            outcomes.add("refused")
    assert outcomes == {"read", "refused"}
