"""Where the compiled kernels are kept, whether they are there yet, and warming them up.

numba compiles the kernels once (about 10-20 s) and keeps the machine code on disk
(``cache=True``): next to :mod:`descentlab.compiled.kernels` when the installation is
writable (numba's default), else under the user's cache directory
(``$XDG_CACHE_HOME/descentlab/numba``, ``~/.cache/descentlab/numba``), or wherever
``NUMBA_CACHE_DIR`` says. Loading them back takes a fraction of a second.

numba keeps no record a program can ask cheaply ("is this compiled yet?"), so this module
keeps one: a marker file per kernel, named after everything that makes numba compile again
(numba's version, the kernels' source file and where it is installed, Python, the machine,
the cache directory). With
``engine="auto"`` a run whose kernels are not compiled yet trains with NumPy and starts one
background process that compiles them for the next run (:func:`warm_in_background`), so the
first command after an install is never slower than the NumPy engine; only a long run (see
:func:`descentlab.compiled.choose`) compiles in the foreground.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from descentlab.io import can_create_in, user_cache_dir

__all__ = [
    "BACKGROUND_ENV",
    "configure_numba",
    "is_warm",
    "mark_warm",
    "warm_in_background",
]

BACKGROUND_ENV = "DESCENTLAB_NO_BACKGROUND_COMPILE"
"""Set this environment variable (to anything but empty) to never start the background
compilation (the test suite does; ``engine="compiled"`` still compiles when it runs)."""

_KERNELS = Path(__file__).with_name("kernels.py")
_LOCK_SECONDS = 600  # a warming lock older than this is taken to be left over


def configure_numba() -> str:
    """Point numba's cache at a writable place before the kernels are compiled; return it.

    ``NUMBA_CACHE_DIR`` if set; else the package's ``__pycache__`` if writable (numba's own
    choice); else :func:`user_cache_dir` ``/numba`` (a read-only installation).
    """
    import numba

    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if can_create_in(_KERNELS.parent / "__pycache__"):
        return str(_KERNELS.parent / "__pycache__")
    fallback = str(user_cache_dir() / "numba")
    numba.config.CACHE_DIR = fallback
    return fallback


def _key(kernel: str) -> str:
    """The marker name of ``kernel``: it changes whenever numba would compile again."""
    try:
        stat = _KERNELS.stat()
        numba_version = metadata.version("numba")
    except (OSError, metadata.PackageNotFoundError):
        return ""
    parts = [
        kernel,
        str(_KERNELS.resolve()),  # another installation has its own numba cache
        numba_version,
        str(stat.st_mtime_ns),
        str(stat.st_size),
        sys.version,
        platform.machine(),
        platform.processor(),
        os.environ.get("NUMBA_CACHE_DIR", ""),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _marker(kernel: str) -> Path | None:
    key = _key(kernel)
    return user_cache_dir() / "compiled" / f"{kernel}-{key}" if key else None


def is_warm(kernel: str) -> bool:
    """Whether ``kernel`` (``"serial"`` or ``"parallel"``) was compiled into the disk cache
    by an earlier run of this installation."""
    marker = _marker(kernel)
    return marker is not None and marker.exists()


def mark_warm(kernel: str) -> None:
    """Record that ``kernel`` is in the disk cache (nothing happens if that cannot be written)."""
    marker = _marker(kernel)
    if marker is None:
        return
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def warm_in_background() -> bool:
    """Start one detached process that compiles the kernels into the disk cache.

    Nothing is started when :data:`BACKGROUND_ENV` is set, when another warming process
    holds the lock (a file younger than ten minutes), or when the lock cannot be written.
    Returns whether a process was started.
    """
    if os.environ.get(BACKGROUND_ENV):
        return False
    lock = user_cache_dir() / "compiled" / "warming.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if time.time() - lock.stat().st_mtime > _LOCK_SECONDS:
                lock.unlink()
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError:
        return False
    os.close(fd)
    try:
        subprocess.Popen(
            [sys.executable, "-m", "descentlab.compiled.warm", str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        lock.unlink(missing_ok=True)
        return False
    return True
