"""Files descentlab writes: checked before any work, written atomically, never left half-written.

:func:`check_writable` checks, before any work, that an output can be created where asked;
:func:`check_regular_file` that an input is a regular file before it is opened (a device
such as ``/dev/zero`` would be read forever, a pipe would block).

A file is written to a temporary file in the *same directory* (so both live on one file
system), flushed and synced, and then moved over the destination with :func:`os.replace`,
which is atomic on POSIX and Windows. A reader sees either the old file or the new one,
never a truncated mix; if the write fails or is interrupted (Ctrl-C), the temporary file is
removed and the destination is untouched.

Temporary files are named ``.<name>.<random>.tmp`` so that they are hidden and easy to spot.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from descentlab._validation import DataError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_path",
    "atomic_write",
    "atomic_writer",
    "can_create_in",
    "check_regular_file",
    "check_writable",
    "json_default",
    "open_error",
]

TEMP_SUFFIX = ".tmp"


# Temporary files this process has named and not yet moved or removed. A name is added
# *before* the file is created, so an interrupt landing anywhere (Ctrl-C and SIGTERM raise
# between any two bytecodes, even inside ``contextlib``'s ``__enter__``) leaves a name here;
# whatever the inline clean-up missed is removed when the interpreter exits.
_PENDING_TEMPS: set[str] = set()


def _remove_pending_temps() -> None:
    """Remove the temporary files still pending (registered with :mod:`atexit`)."""
    for name in list(_PENDING_TEMPS):
        with contextlib.suppress(OSError):
            os.unlink(name)
        _PENDING_TEMPS.discard(name)


atexit.register(_remove_pending_temps)


def _create_temp(path: Path, suffix: str) -> str:
    """Create an empty, new temporary file next to ``path`` and return its name (registered in
    ``_PENDING_TEMPS`` before it exists). Its permissions are those of a new file (0o666 less
    the umask), not :func:`tempfile.mkstemp`'s owner-only ones."""
    directory = path.parent if str(path.parent) else Path(".")
    while True:
        name = str(directory / f".{path.name}.{secrets.token_hex(6)}{suffix}")
        _PENDING_TEMPS.add(name)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # another writer's file: never ours to remove
            _PENDING_TEMPS.discard(name)
            continue
        except OSError as exc:  # name the user's path, not the temporary one
            _PENDING_TEMPS.discard(name)
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        except BaseException:  # interrupted: the file may or may not exist
            _discard_temp(name)
            raise
        try:
            os.close(fd)
        except BaseException:
            _discard_temp(name)
            raise
        return name


def _discard_temp(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
    _PENDING_TEMPS.discard(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary path next to ``path``; on a clean exit it is moved onto ``path``.

    For writers that open the file themselves (Matplotlib's GIF writer, ``np.savez``).
    ``keep_suffix=True`` ends the temporary name with ``path``'s suffix (``.gif``) for writers
    that pick the format from the name. If the ``with`` block raises (Ctrl-C included), the
    temporary file is deleted and ``path`` keeps its previous content; a temporary file that an
    interrupt at an unlucky moment leaves behind is removed when the process exits. If the
    temporary file cannot be created (no such folder, no permission), the ``OSError`` names
    ``path``.
    """
    path = Path(path)
    tmp = _create_temp(path, TEMP_SUFFIX + (path.suffix if keep_suffix else ""))
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard_temp(tmp)
        raise
    _PENDING_TEMPS.discard(tmp)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit, move it onto ``path``.

    Args:
      path: the destination; its directory must exist.
      mode: ``"w"`` (text) or ``"wb"`` (binary).
      encoding: text encoding (ignored in binary mode).
      newline: passed to :func:`open` in text mode (``""`` for the :mod:`csv` module).

    Yields:
      a writable file object. If the ``with`` block raises (including ``KeyboardInterrupt``),
      the temporary file is deleted, ``path`` keeps its previous content, and the exception
      propagates.

    Example:
      >>> import pathlib, tempfile
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> with atomic_writer(d / "a.txt") as f:
      ...     _ = f.write("hello")
      >>> (d / "a.txt").read_text()
      'hello'
      >>> sorted(p.name for p in d.iterdir())
      ['a.txt']
    """
    if mode not in ("w", "wb"):
        raise ValueError(
            f"The 'mode' parameter of atomic_writer must be 'w' or 'wb'. Got {mode!r}."
        )
    with atomic_path(path) as tmp:
        if mode == "wb":
            f = open(tmp, "wb")
        else:
            f = open(tmp, "w", encoding=encoding, newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, encoding: str = "utf-8"
) -> None:
    """Write ``data`` (bytes, or text encoded with ``encoding``) to ``path`` atomically.

    See :func:`atomic_writer`; the destination is replaced in one step or not at all.

    Example:
      >>> import pathlib, tempfile
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
      >>> atomic_write(p, b"\\x00\\x01")
      >>> p.read_bytes()
      b'\\x00\\x01'
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_writer(path, "wb") as f:
        f.write(data)


def user_cache_dir() -> Path:
    """Where descentlab keeps what it can rebuild (compiled kernels, generated datasets):
    ``$XDG_CACHE_HOME/descentlab`` (default ``~/.cache/descentlab``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "descentlab"


def can_create_in(directory: Path) -> bool:
    """Whether a file can be created in ``directory`` (made if missing); tried, not guessed
    (``os.access`` says yes to root on a read-only mount)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def check_writable(path: str | os.PathLike[str], *, folder: bool, parents: bool = True) -> Path:
    """Check, before any work, that ``path`` (a folder if ``folder``, else a file) can be written.

    The nearest existing folder on the way to ``path`` must be a writable folder (with
    ``parents=False``, the folder that will hold ``path`` must exist already), and ``path``
    itself must not exist as the wrong kind (a file where a folder is wanted; a folder, a
    device, a pipe or a socket where a file is: the atomic write would replace it). Nothing
    is created.

    Raises:
      DataError: naming ``path`` and what is in the way.

    >>> check_writable("runs/new-study", folder=True)
    PosixPath('runs/new-study')
    """
    path = Path(path)
    if "\x00" in str(path):
        raise DataError(f"Cannot write {str(path)!r}: a path cannot hold a NUL character.")
    holder = path.parent if str(path.parent) else Path(".")
    if not parents and not folder and not holder.is_dir():
        raise DataError(f"Cannot write '{path}': the folder '{holder}' does not exist.")
    if path.exists():
        if folder and not path.is_dir():
            raise DataError(f"'{path}' is a file, not a folder; choose another place to write.")
        if not folder and path.is_dir():
            raise DataError(f"'{path}' is a folder; give the name of a file to write.")
        if not folder and not path.is_file():  # writing would replace /dev/null itself
            raise DataError(
                f"'{path}' is not a regular file (a device, pipe or socket); give the name of "
                "a file to write."
            )
    target = path if folder else path.parent
    existing = next((p for p in (target, *target.parents) if p.exists()), target)
    if existing.exists() and not existing.is_dir():
        raise DataError(f"Cannot write '{path}': '{existing}' is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"Cannot write '{path}': the folder '{existing}' is not writable.")
    return path


def json_default(x: Any) -> Any:
    """The ``default=`` of :func:`json.dumps` for NumPy values: a NumPy scalar as the Python
    number it holds, an array as nested lists; anything else is a ``TypeError``, as
    :func:`json.dumps` itself raises.

    >>> import json
    >>> json.dumps({"a": np.float32(0.5), "b": np.arange(3)}, default=json_default)
    '{"a": 0.5, "b": [0, 1, 2]}'
    """
    if isinstance(x, np.generic | np.ndarray):
        return x.tolist()
    raise TypeError(f"Cannot write {type(x).__name__} to JSON.")


def open_error(path: Path, exc: OSError) -> DataError:
    """The one-line error for a file that cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return DataError(f"No such file: '{path}'. Check the path (relative to {Path.cwd()}).")
    reason = exc.strerror or str(exc)
    return DataError(f"Cannot read '{path}': {reason}. Check that it is a readable file.")


def check_regular_file(path: Path) -> int:
    """Refuse anything but a regular file, before opening it; return its size in bytes.

    A directory, a device (``/dev/zero`` never ends), a pipe (opening it blocks) or a socket
    is a :class:`DataError`, as is a path that cannot be looked up.
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise open_error(path, exc) from exc
    except ValueError as exc:  # an embedded NUL character in the path
        raise DataError(f"Cannot read {str(path)!r}: {exc}. Check the path.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"Cannot read '{path}': Is a directory. Check that it is a readable file.")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"Cannot read '{path}': it is not a regular file (a device, pipe or socket). "
            "Pass the path of a data file."
        )
    return info.st_size
