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


def test_a_version_3_header_is_read_whatever_its_escaped_length(tmp_path):
    # 6000 bytes of UTF-8 field name, 12000 once escaped for NumPy's Latin-1 parser: the
    # parser is told the escaped length, not its own 10000-byte default
    field = "中" * 2000
    member = npy(np.array([(1.5,)], dtype=[(field, "<f8")]), version=(3, 0))
    with open_npz(write(tmp_path, zip_of({"a.npy": member}))) as archive:
        array = archive.read("a")
    assert array.dtype.names == (field,) and array[field].tolist() == [1.5]


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


def test_a_bad_crc_in_the_last_byte_is_refused(tmp_path):
    member = npy(np.arange(10.0))
    path = write(tmp_path, flip_in_data(zip_of({"X.npy": member}), at=len(member) - 1))
    with open_npz(path) as archive:
        message = refused(lambda: archive.read("X"), [])
    assert (
        message
        == PREFIX.format(path=path) + "the array 'X' is damaged (Bad CRC-32 for file 'X.npy')."
    )


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
    message = refused(lambda: open_npz(path).__enter__(), [])
    assert built == []
    assert message == PREFIX.format(path=path) + (
        "its zip directory takes 11690 bytes, more than 10000 members need "
        "(descentlab.npz.MAX_MEMBERS)."
    )
    monkeypatch.undo()
    monkeypatch.setattr(npz, "_DIRECTORY_BYTES", 11690)  # 46 bytes a member and its name
    with open_npz(path) as archive:
        assert len(archive.names) == 200


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


# --------------------------------------------------------------------------- exact reasons and caps

PREFIX = "Cannot read '{path}' as an .npz archive of plain arrays: "

REASONS = [
    # (id, archive bytes, the array read (None: refused as opened), reason, the array at fault)
    ("empty-file", b"", None, "the file is empty", None),
    (
        "a-single-npy",
        npy(X3),
        None,
        "it holds a single array, not an .npz archive (a zip of arrays)",
        None,
    ),
    (
        "other-bytes",
        b"%PDF-1.4 " + bytes(100),
        None,
        "it is not a zip archive (an .npz file is a zip of .npy arrays)",
        None,
    ),
    (
        "zip-magic-then-zeros",
        b"PK\x03\x04" + bytes(200),
        None,
        "the zip archive is damaged or truncated (File is not a zip file)",
        None,
    ),
    (
        "a-name-twice",
        zip_of({"X": npy(X3), "X.npy": npy(X3)}),
        None,
        "it holds two arrays named 'X'",
        "X",
    ),
    ("no-such-array", GOOD, "Z", "it has no array 'Z'", "Z"),
    (
        "not-npy",
        zip_of({"X.npy": b"hello"}),
        "X",
        "the member 'X' is not a NumPy array (no .npy header)",
        "X",
    ),
    (
        "unknown-version",
        zip_of({"X.npy": b"\x93NUMPY\x09\x00" + bytes(100)}),
        "X",
        "the array 'X' is damaged (unknown .npy format version (9, 0))",
        "X",
    ),
    (
        "header-cut",
        zip_of({"X.npy": npy(X3)[:30]}),
        "X",
        "the array 'X' is truncated (its .npy header ends after 20 bytes)",
        "X",
    ),
    (
        "header-too-long",
        zip_of({"X.npy": raw_header(b" " * 10_001, (2, 0))}),
        "X",
        "the array 'X' is damaged (its .npy header is 10001 bytes, more than the 10000 "
        "descentlab reads)",
        "X",
    ),
    (
        "garbled-header",
        zip_of({"X.npy": raw_header(b"[1, 2]")}),
        "X",
        "the array 'X' is damaged (garbled .npy header: Header is not a dictionary: [1, 2])",
        "X",
    ),
    (
        "negative-dim",
        zip_of({"X.npy": npy_header((-1, 2))}),
        "X",
        "the array 'X' is damaged (its header announces shape (-1, 2))",
        "X",
    ),
    (
        "sub-array-dtype",
        zip_of({"X.npy": npy_header((3,), ("<f8", (2,)))}),
        "X",
        "the array 'X' is damaged (its header announces the dtype ('<f8', (2,)))",
        "X",
    ),
    (
        "pickled",
        zip_of({"X.npy": npy(np.array([{}, None], dtype=object))}),
        "X",
        "the array 'X' is an object array (pickled Python objects), which descentlab never "
        "loads (unpickling can run code)",
        "X",
    ),
    (
        "8-TB",
        zip_of({"X.npy": npy_header((10**6, 10**6))}),
        "X",
        "the array 'X' has shape (1000000, 1000000) and dtype float64: 8000000000000 bytes, "
        "more than the 4 GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)",
        "X",
    ),
    (
        "announces-more",
        zip_of({"X.npy": npy_header((1000, 2)) + bytes(16)}),
        "X",
        "the array 'X' is truncated (its header announces 16000 bytes, the member holds 16)",
        "X",
    ),
    (
        "stores-more",
        zip_of({"X.npy": npy(X3) + b"trailing"}),
        "X",
        "the array 'X' is damaged (its header announces 48 bytes, the member holds 56)",
        "X",
    ),
]


@pytest.mark.parametrize(
    ("content", "array", "reason", "at_fault"),
    [c[1:] for c in REASONS],
    ids=[c[0] for c in REASONS],
)
def test_each_refusal_has_its_exact_reason_and_names_the_array(
    tmp_path, content, array, reason, at_fault
):
    path = write(tmp_path, content)
    with pytest.raises(NpzError) as caught:
        with open_npz(path) as archive:
            archive.read(array)
    assert str(caught.value) == PREFIX.format(path=path) + reason + "."
    assert (caught.value.path, caught.value.reason, caught.value.array) == (path, reason, at_fault)


def test_the_directory_guard_refuses_a_read_past_its_limit():
    guard = npz._DirectoryGuard(io.BytesIO(bytes(range(100))), 100)
    assert guard.limit == npz._DIRECTORY_BYTES == 512 * npz.MAX_MEMBERS
    guard.limit = 10
    assert guard.read(10) == bytes(range(10)) and guard.read(0) == b""
    with pytest.raises(npz._DirectoryTooLarge) as caught:
        guard.read(11)
    assert caught.value.args == (11,)
    guard.seek(90)  # read() and read(None) want the rest of the file: 10 bytes from here
    assert guard.read() == bytes(range(90, 100))
    guard.seek(90)
    assert guard.read(None) == bytes(range(90, 100))
    guard.seek(89)
    with pytest.raises(npz._DirectoryTooLarge) as caught:
        guard.read(-1)
    assert caught.value.args == (11,)
    guard.limit = None  # lifted once the directory is read
    guard.seek(0)
    assert guard.read() == bytes(range(100)) and guard.tell() == 100


class _Reads(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int | None] = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def test_the_start_of_a_file_is_checked_from_its_first_six_bytes(tmp_path):
    f = _Reads(GOOD)
    npz._check_start(f, tmp_path / "a.npz")
    assert f.sizes == [6] and f.tell() == 0  # read from the start, then back to it
    f = _Reads(b"\x93NUMPYtail")
    refused(lambda: npz._check_start(f, tmp_path / "a.npy"), ["it holds a single array"])
    assert f.sizes == [6]


def test_long_names_and_long_errors_are_cut_in_messages():
    assert npz._shown("n" * 78) == "'" + "n" * 78 + "'"  # 80 characters: whole
    assert npz._shown("n" * 79) == "'" + "n" * 75 + "...'"  # 81: cut to 80
    assert npz._one_line(ValueError("e" * 200)) == "e" * 200
    assert npz._one_line(ValueError("e" * 201)) == "e" * 197 + "..."
    assert npz._one_line(ValueError(" a\n\t b  c \n")) == "a b c"
    assert npz._one_line(EOFError()) == "EOFError"


def test_a_long_name_held_twice_is_cut_in_the_message(tmp_path):
    path = write(tmp_path, zip_of([("n" * 100, b""), ("n" * 100 + ".npy", b"")]))
    message = refused(lambda: open_npz(path).__enter__(), [])
    assert message == PREFIX.format(path=path) + f"it holds two arrays named '{'n' * 75}...'."


def test_max_members_is_the_most_an_archive_may_have(tmp_path, monkeypatch):
    monkeypatch.setattr(npz, "MAX_MEMBERS", 2)
    path = write(tmp_path, savez(a=np.zeros(1), b=np.ones(1)))
    assert read_all(path)["b"].tolist() == [1.0]
    path = write(tmp_path, savez(a=np.zeros(1), b=np.ones(1), c=np.ones(1)))
    message = refused(lambda: open_npz(path).__enter__(), [])
    assert message == PREFIX.format(path=path) + (
        "it has 3 members, more than the 2 descentlab reads (descentlab.npz.MAX_MEMBERS)."
    )


def test_a_header_of_max_header_bytes_is_read(tmp_path):
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }"
    text += b" " * (npz.MAX_HEADER_BYTES - len(text) - 1) + b"\n"
    path = write(tmp_path, zip_of({"X.npy": raw_header(text, (2, 0)) + X3.tobytes()}))
    with open_npz(path) as archive:
        np.testing.assert_array_equal(archive.read("X"), X3)


def test_the_memory_caps_hold_at_their_exact_values(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 80)
    path = write(tmp_path, savez(a=np.arange(10.0), b=np.zeros(11)))
    with open_npz(path) as archive:
        message = refused(lambda: archive.read("b"), [])
        assert message == PREFIX.format(path=path) + (
            "the array 'b' has shape (11,) and dtype float64: 88 bytes, more than the "
            "7.45058e-08 GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)."
        )
        assert archive.read("a").tolist() == list(range(10))  # 80 bytes: exactly the cap
    # zero-width items (np.save writes them as |S1; a hand-made header may say |S0) count
    # as one byte each against the cap
    path = write(
        tmp_path, zip_of({"c.npy": npy_header((80,), "|S0"), "d.npy": npy_header((81,), "|S0")})
    )
    with open_npz(path) as archive:
        c = archive.read("c")  # (np.empty made them 80 random one-byte strings)
        assert c.shape == (80,) and c.dtype == np.dtype("S0") and c.tolist() == [b""] * 80
        message = refused(lambda: archive.read("d"), [])
        assert message == PREFIX.format(path=path) + (
            "the array 'd' has shape (81,) and dtype |S0: 0 bytes, more than the 7.45058e-08 "
            "GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)."
        )


def test_the_arrays_read_together_are_capped_at_exactly_max_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMORY_BYTES", 1000)
    path = write(tmp_path, savez(a=np.zeros(50), b=np.zeros(50), c=np.zeros(25), d=np.zeros(1)))
    with open_npz(path) as archive:
        assert archive.read("a").shape == archive.read("b").shape == (50,)  # 800 bytes
        assert archive.read("c").shape == (25,)  # 1000 bytes: exactly the cap
        message = refused(lambda: archive.read("d"), [])
        assert message == PREFIX.format(path=path) + (
            "the array 'd' (8 bytes) would take the arrays read from this archive past the "
            "9.31323e-07 GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)."
        )
        assert archive.header("d") == ((1,), np.dtype("<f8"))  # a header reads no data


def test_arrays_of_one_byte_items_are_read_not_made_up(tmp_path):
    arrays = {"i8": np.arange(1, 101, dtype=np.int8), "u8": np.arange(200, 100, -1, dtype=np.uint8)}
    path = write(tmp_path, savez(**arrays, b=np.array([True, False, True])))
    got = read_all(path)
    assert got["i8"].tolist() == list(range(1, 101)) and got["i8"].dtype == np.int8
    assert got["u8"].tolist() == list(range(200, 100, -1)) and got["u8"].dtype == np.uint8
    assert got["b"].tolist() == [True, False, True]


def test_an_array_larger_than_a_chunk_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(npz, "_CHUNK", 64)
    big = np.arange(1000.0)  # 8000 bytes: 125 chunks
    for compression in COMPRESSIONS:
        path = write(tmp_path, zip_of({"big.npy": npy(big)}, compression))
        np.testing.assert_array_equal(read_all(path)["big"], big)


def test_read_bytes_reads_exactly_what_is_asked_and_refuses_a_short_member(monkeypatch):
    f = _Reads(bytes(2**20 + 1))  # chunks of 1 MiB
    assert npz._read_bytes(f, 2**20 + 1).shape == (2**20 + 1,) and f.sizes == [2**20, 1]
    monkeypatch.setattr(npz, "_CHUNK", 4)
    data = npz._read_bytes(_Reads(bytes(range(10)) + b"more"), 10)
    assert data.dtype == np.uint8 and data.tolist() == list(range(10)) and data.flags.writeable
    f = _Reads(bytes(range(10)))
    assert npz._read_bytes(f, 10).tolist() == list(range(10)) and f.sizes == [4, 4, 2]
    with pytest.raises(EOFError) as caught:
        npz._read_bytes(io.BytesIO(b"abcde"), 6)
    assert str(caught.value) == "the member ends after 5 of 6 bytes of data"
    assert npz._read_bytes(io.BytesIO(b""), 0).shape == (0,)


def test_the_exact_size_cap_of_an_archive(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", len(GOOD))
    assert read_all(path)["y"].tolist() == [0, 1, 0]
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", len(GOOD) - 1)
    message = refused(lambda: open_npz(path).__enter__(), [], DataError)
    assert message == (
        f"'{path}' is 0.0 GiB; .npz archives larger than {(len(GOOD) - 1) / 2**30:g} GiB "
        "(descentlab.limits.MAX_FILE_BYTES) are refused."
    )


def test_a_file_replaced_after_the_check_is_refused_as_opened(tmp_path, monkeypatch):
    # check_regular_file looks at the path; what is then opened is checked again
    monkeypatch.setattr(npz, "check_regular_file", lambda path: 0)
    if Path("/dev/null").exists():
        message = refused(lambda: open_npz("/dev/null").__enter__(), [], DataError)
        assert message == "Cannot read '/dev/null': it is not a regular file."
    gone = tmp_path / "gone.npz"
    message = refused(lambda: open_npz(gone).__enter__(), [], DataError)
    assert message == f"No such file: '{gone}'. Check the path (relative to {Path.cwd()})."


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
