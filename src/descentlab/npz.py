"""NumPy ``.npz`` archives of plain arrays, read safely: :func:`open_npz`.

Every ``.npz`` descentlab reads goes through here: a data set
(:func:`~descentlab.datasets.load_npz`), a model file (:func:`~descentlab.model_file.load_model`)
and a run folder's ``models.npz`` (:func:`~descentlab.experiments.run_folder.read_models`). An ``.npz`` file is a zip archive
whose members are ``.npy`` arrays (what ``np.savez`` writes); the file is hostile until checked.
:func:`open_npz` and the :class:`NpzArchive` it yields guarantee:

- the path is a regular file (a folder, a device such as ``/dev/zero``, a pipe or a socket is
  refused before it is opened) of at most ``limits.MAX_FILE_BYTES``;
- it is a zip archive (not empty, not a single ``.npy`` array, not other bytes) whose
  directory is read only if it is small enough for :data:`MAX_MEMBERS` members, and that has
  at most :data:`MAX_MEMBERS` members, each array name (the member's name without ``.npy``)
  once;
- an array's ``.npy`` header is read and checked before any of its data: the magic string,
  a known format version (1.0, 2.0, 3.0), a header of at most :data:`MAX_HEADER_BYTES`
  that NumPy parses (whatever its parser raises on a garbled header is a refusal), no
  negative dimension;
- data is read only for a plain array: never an object array (unpickling can run code),
  never more than ``limits.MAX_MEMORY_BYTES`` for one array nor for all the arrays read from
  one archive together, and only when the member holds exactly the bytes the header
  announces (fewer: truncated; more: not what ``np.save`` writes). Each member is read to
  its end, so zip's CRC check runs;
- every refusal is a one-line :class:`~descentlab._validation.DataError` that names the file,
  and the array when one is at fault; nothing else escapes (no ``zipfile``, ``zlib``,
  ``tokenize`` or ``SyntaxError``). A problem with the content is an :class:`NpzError`,
  whose ``reason`` lets a caller say what it expected the file to be.

============================  ========  ==================================================
cap                           value     what it bounds
============================  ========  ==================================================
``MAX_MEMBERS``               10 000    the members of one archive (a run folder's
                                        ``models.npz`` of the seed's study has 19)
``MAX_HEADER_BYTES``          10 000    one ``.npy`` header (NumPy's own ``max_header_size``)
``limits.MAX_FILE_BYTES``     2 GiB     the archive's size
``limits.MAX_MEMORY_BYTES``   4 GiB     one array, and all the arrays read from one archive
============================  ========  ==================================================

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     path = os.path.join(folder, "xy.npz")
...     np.savez(path, X=np.eye(2), y=np.array([0, 1]))
...     with open_npz(path) as archive:
...         print(archive.names, archive.header("X"), archive.read("y"))
('X', 'y') ((2, 2), dtype('float64')) [0 1]
"""

from __future__ import annotations

import contextlib
import io
import lzma
import math
import os
import stat
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from descentlab import limits
from descentlab._validation import DataError
from descentlab.io import check_regular_file, open_error

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_MEMBERS",
    "NpzArchive",
    "NpzError",
    "open_npz",
]

MAX_MEMBERS = 10_000
"""The most members an archive may have."""
MAX_HEADER_BYTES = 10_000
"""The longest ``.npy`` header read (NumPy's own default ``max_header_size``)."""

_DIRECTORY_BYTES = 512 * MAX_MEMBERS
"""The largest zip directory read: 512 bytes a member (46 bytes and the member's name)."""
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_HEADER_LENGTH = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}
"""The ``.npy`` format versions and the struct format of their header-length field."""
_CHUNK = 2**20
_ARCHIVE_ERRORS = (
    OSError,  # an I/O error, and bz2's "Invalid data stream"
    EOFError,  # a compressed stream that ends early
    ValueError,  # includes UnicodeDecodeError (member names)
    zipfile.BadZipFile,  # a damaged directory, local header or CRC
    zlib.error,
    struct.error,
    NotImplementedError,  # a compression method or zip version Python does not know
    RuntimeError,  # an encrypted member
    lzma.LZMAError,  # a broken LZMA stream
)
"""What reading a damaged zip archive or member can raise."""
_HEADER_ERRORS = (
    ValueError,
    TypeError,
    SyntaxError,  # a header that is not a Python literal
    tokenize.TokenError,  # ... or not even Python tokens (NumPy retries with the tokenizer)
    RecursionError,  # a deeply nested literal
    MemoryError,  # the parser's stack, on a literal of thousands of unary signs
)
"""What NumPy's parser of a (short) ``.npy`` header can raise."""


class NpzError(DataError):
    """The file is not an archive of plain arrays: ``reason`` says why, ``array`` names the
    array at fault (or is None)."""

    def __init__(self, path: Path, reason: str, array: str | None = None) -> None:
        super().__init__(f"Cannot read '{path}' as an .npz archive of plain arrays: {reason}.")
        self.path, self.reason, self.array = path, reason, array


# --------------------------------------------------------------------------- the file


def _shown(name: str) -> str:
    """An array name for a message: quoted, at most 80 characters (a member's name may be long)."""
    text = repr(name)
    return text if len(text) <= 80 else text[:76] + "...'"


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line, cut to 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


@contextlib.contextmanager
def open_npz(path: str | os.PathLike[str]) -> Iterator[NpzArchive]:
    """Open ``path`` as an archive of plain arrays, for the ``with`` block.

    Args:
      path: the ``.npz`` file.

    Yields:
      the :class:`NpzArchive`: its array names; each array's shape and dtype
      (:meth:`NpzArchive.header`) and data (:meth:`NpzArchive.read`), checked.

    Raises:
      DataError: a missing, unreadable or non-regular file, or one larger than
        ``limits.MAX_FILE_BYTES``.
      NpzError: a file that is not a zip archive (empty, a single ``.npy`` array, other
        bytes), a damaged or truncated one, more than :data:`MAX_MEMBERS` members, an array
        name held twice.
    """
    path = Path(path)
    size = check_regular_file(path)
    if size > limits.MAX_FILE_BYTES:
        raise DataError(
            f"'{path}' is {size / 2**30:.1f} GiB; .npz archives larger than "
            f"{limits.MAX_FILE_BYTES / 2**30:g} GiB (descentlab.limits.MAX_FILE_BYTES) are refused."
        )
    try:
        f = path.open("rb")
    except OSError as exc:
        raise open_error(path, exc) from exc
    with f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the check
            raise DataError(f"Cannot read '{path}': it is not a regular file.")
        with _open_zip(f, path, size) as archive:
            yield NpzArchive(archive, path)


def _check_start(f: IO[bytes], path: Path) -> None:
    """Refuse, from its first bytes, a file that is not a zip archive."""
    head = f.read(len(_NPY_MAGIC))
    f.seek(0)
    if not head:
        raise NpzError(path, "the file is empty")
    if head.startswith(_NPY_MAGIC):
        raise NpzError(path, "it holds a single array, not an .npz archive (a zip of arrays)")
    if not head.startswith(_ZIP_MAGIC):
        raise NpzError(path, "it is not a zip archive (an .npz file is a zip of .npy arrays)")


class _DirectoryGuard:
    """``f`` as :class:`zipfile.ZipFile` sees it while it reads the archive's directory: no read
    of more than :data:`_DIRECTORY_BYTES`, so a forged directory size cannot make it build
    millions of entries. Lifted (``limit = None``) once the directory is read."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self._f, self._size = f, size
        self.limit: int | None = _DIRECTORY_BYTES

    def read(self, n: int | None = -1) -> bytes:
        wanted = n if n is not None and n >= 0 else self._size - self._f.tell()
        if self.limit is not None and wanted > self.limit:
            raise _DirectoryTooLarge(wanted)
        return self._f.read(n)

    def __getattr__(self, name: str) -> Any:  # seek, tell, seekable, ...
        return getattr(self._f, name)


class _DirectoryTooLarge(Exception):
    pass


@contextlib.contextmanager
def _open_zip(f: IO[bytes], path: Path, size: int) -> Iterator[zipfile.ZipFile]:
    _check_start(f, path)
    guard = _DirectoryGuard(f, size)
    try:
        archive = zipfile.ZipFile(guard)  # type: ignore[arg-type]
    except _DirectoryTooLarge as exc:
        raise NpzError(
            path,
            f"its zip directory takes {exc.args[0]} bytes, more than {MAX_MEMBERS} members "
            f"need (descentlab.npz.MAX_MEMBERS)",
        ) from None
    except _ARCHIVE_ERRORS as exc:
        raise NpzError(
            path, f"the zip archive is damaged or truncated ({_one_line(exc)})"
        ) from None
    guard.limit = None
    with archive:
        yield archive


# --------------------------------------------------------------------------- the archive


class NpzArchive:
    """An open ``.npz`` archive (from :func:`open_npz`): its arrays by name, each checked.

    Attributes:
      path: the file, as named in every message.
      names: the array names in archive order (``np.load``'s ``files``: the member names
        without ``.npy``).
    """

    def __init__(self, archive: zipfile.ZipFile, path: Path) -> None:
        self.path = path
        self._zip = archive
        self._members = _member_table(archive, path)
        self._loaded = 0  # bytes of the arrays read so far
        self.names: tuple[str, ...] = tuple(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """The array's shape and dtype, from its ``.npy`` header alone (no data is read).

        Raises:
          NpzError: no such array; the member is not a ``.npy`` array, or its header is of
            an unknown version, too long, garbled or announces a negative dimension.
        """
        with self._member(name) as fp:
            shape, _, dtype = self._read_header(fp, name)
        return shape, dtype

    def read(self, name: str) -> np.ndarray:
        """The array, after its header is checked (see :meth:`header`).

        Raises:
          NpzError: what :meth:`header` refuses; an object (pickled) array; an array larger
            than ``limits.MAX_MEMORY_BYTES``, or that would take the arrays read from this
            archive past it; a member that holds fewer or more bytes than its header
            announces; damaged data (a bad CRC, a broken compressed stream).
        """
        with self._member(name) as fp:
            shape, fortran_order, dtype = self._read_header(fp, name)
            nbytes = self._check_data(name, shape, dtype, stored=self._stored(name, fp))
            # nbytes is all the member holds (checked): zipfile checks the CRC as it hands
            # out the member's last byte, and never more than the directory's file_size
            data = _read_bytes(fp, nbytes)
        self._loaded += nbytes
        if dtype.itemsize == 0:  # no bytes to view: items all empty, as np.load makes them
            return np.ndarray(shape, dtype)
        array = data.view(dtype)
        return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)

    # ------------------------------------------------------------------ steps

    def _refuse(self, name: str, what: str) -> NpzError:
        return NpzError(self.path, f"the array {_shown(name)} {what}", array=name)

    @contextlib.contextmanager
    def _member(self, name: str) -> Iterator[IO[bytes]]:
        """The member holding ``name``, open; whatever reading it raises is an NpzError."""
        if name not in self._members:
            raise NpzError(self.path, f"it has no array {_shown(name)}", array=name)
        try:
            with self._zip.open(self._members[name]) as fp:
                yield fp
        except DataError:
            raise
        except _ARCHIVE_ERRORS as exc:
            raise self._refuse(name, f"is damaged ({_one_line(exc)})") from None

    def _read_header(self, fp: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
        """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the member's start."""
        if fp.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise NpzError(
                self.path,
                f"the member {_shown(name)} is not a NumPy array (no .npy header)",
                array=name,
            )
        version = tuple(fp.read(2))
        if version not in _HEADER_LENGTH:
            raise self._refuse(name, f"is damaged (unknown .npy format version {version})")
        length_field = fp.read(struct.calcsize(_HEADER_LENGTH[version]))
        (length,) = struct.unpack(_HEADER_LENGTH[version], length_field)
        if length > MAX_HEADER_BYTES:
            raise self._refuse(
                name,
                f"is damaged (its .npy header is {length} bytes, more than the "
                f"{MAX_HEADER_BYTES} descentlab reads)",
            )
        text = fp.read(length)
        if len(text) != length:
            raise self._refuse(name, f"is truncated (its .npy header ends after {len(text)} bytes)")
        if version == (3, 0):  # UTF-8; as Latin-1 with escapes, which the literal still reads
            text = text.decode("utf-8").encode("latin-1", "backslashreplace")
        try:
            header = np.lib.format.read_array_header_2_0(
                io.BytesIO(struct.pack("<I", len(text)) + text), max_header_size=len(text)
            )
        except _HEADER_ERRORS as exc:
            raise self._refuse(
                name, f"is damaged (garbled .npy header: {_one_line(exc)})"
            ) from None
        shape, _, dtype = header
        if any(n < 0 for n in shape):
            raise self._refuse(name, f"is damaged (its header announces shape {shape})")
        if dtype.subdtype is not None:  # an array's own dtype never is a sub-array
            raise self._refuse(name, f"is damaged (its header announces the dtype {dtype})")
        return header

    def _stored(self, name: str, fp: IO[bytes]) -> int:
        """The bytes of the member after its header (its size as the zip directory says)."""
        return self._members[name].file_size - fp.tell()

    def _check_data(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, *, stored: int
    ) -> int:
        """The array's size in bytes, once it is known to be plain, small enough and stored."""
        if dtype.hasobject:
            raise self._refuse(
                name,
                "is an object array (pickled Python objects), which descentlab never loads "
                "(unpickling can run code)",
            )
        nbytes = math.prod(shape) * dtype.itemsize
        cap = limits.MAX_MEMORY_BYTES
        if math.prod(shape) * max(dtype.itemsize, 1) > cap:
            raise self._refuse(
                name,
                f"has shape {shape} and dtype {dtype}: {nbytes} bytes, more than the "
                f"{cap / 2**30:g} GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)",
            )
        if self._loaded + nbytes > cap:
            raise self._refuse(
                name,
                f"({nbytes} bytes) would take the arrays read from this archive past the "
                f"{cap / 2**30:g} GiB descentlab loads (descentlab.limits.MAX_MEMORY_BYTES)",
            )
        if nbytes > stored:
            raise self._refuse(
                name,
                f"is truncated (its header announces {nbytes} bytes, the member holds {stored})",
            )
        if nbytes < stored:
            raise self._refuse(
                name,
                f"is damaged (its header announces {nbytes} bytes, the member holds {stored})",
            )
        return nbytes


def _member_table(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """Array name -> its member, each name once, at most :data:`MAX_MEMBERS` of them."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise NpzError(
            path,
            f"it has {len(members)} members, more than the {MAX_MEMBERS} descentlab reads "
            "(descentlab.npz.MAX_MEMBERS)",
        )
    table: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        name = info.filename.removesuffix(".npy")
        if name in table:
            raise NpzError(path, f"it holds two arrays named {_shown(name)}", array=name)
        table[name] = info
    return table


def _read_bytes(fp: IO[bytes], nbytes: int) -> np.ndarray:
    """Exactly ``nbytes`` bytes of ``fp`` as a writable ``uint8`` array, read in chunks."""
    data = np.empty(nbytes, dtype=np.uint8)
    done = 0
    while done < nbytes:
        chunk = fp.read(min(_CHUNK, nbytes - done))
        if not chunk:
            raise EOFError(f"the member ends after {done} of {nbytes} bytes of data")
        data[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)
    return data
