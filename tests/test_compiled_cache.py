"""Where the compiled code is kept, the warm markers, and the background compilation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from descentlab import io
from descentlab.compiled import cache


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh user cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(cache.BACKGROUND_ENV, raising=False)
    return tmp_path


def test_user_cache_dir_follows_xdg_and_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert io.user_cache_dir() == tmp_path / "descentlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert io.user_cache_dir() == tmp_path / "h" / ".cache" / "descentlab"


def test_a_kernel_is_warm_once_marked_and_the_mark_depends_on_the_cache_dir(home, monkeypatch):
    assert not cache.is_warm("serial")
    cache.mark_warm("serial")
    assert cache.is_warm("serial") and not cache.is_warm("parallel")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(home / "elsewhere"))
    assert not cache.is_warm("serial")  # another numba cache: compiled again there


def test_marking_where_nothing_can_be_written_is_silent(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no directory under it
    cache.mark_warm("serial")
    assert not cache.is_warm("serial")


def test_background_compilation_starts_once_and_holds_a_lock(home, monkeypatch):
    started = []
    monkeypatch.setattr(cache.subprocess, "Popen", lambda cmd, **kw: started.append((cmd, kw)))
    assert cache.warm_in_background() is True
    ((cmd, kw),) = started
    lock = home / "descentlab" / "compiled" / "warming.lock"
    assert cmd == [sys.executable, "-m", "descentlab.compiled.warm", str(lock)]
    assert kw["start_new_session"] is True and kw["stdout"] == subprocess.DEVNULL
    assert lock.exists()
    assert cache.warm_in_background() is False  # another one is warming
    old = time.time() - 3600
    os.utime(lock, (old, old))  # left over by a process that died
    assert cache.warm_in_background() is True and len(started) == 2


def test_background_compilation_is_off_with_the_variable_or_without_a_lock(home, monkeypatch):
    monkeypatch.setattr(cache.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    monkeypatch.setenv(cache.BACKGROUND_ENV, "1")
    assert cache.warm_in_background() is False
    monkeypatch.delenv(cache.BACKGROUND_ENV)
    blocker = home / "blocked"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache.warm_in_background() is False


def test_a_failed_start_releases_the_lock(home, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(cache.subprocess, "Popen", refuse)
    assert cache.warm_in_background() is False
    assert not (home / "descentlab" / "compiled" / "warming.lock").exists()


def test_the_warm_up_compiles_both_kernels_marks_them_and_removes_its_lock(
    home, tmp_path, monkeypatch
):
    from descentlab.compiled import loop, warm

    monkeypatch.setattr(loop, "_MARKED", set())  # as in a new process

    lock = tmp_path / "warming.lock"
    lock.write_text("")
    assert warm.main([str(lock)]) == 0
    assert not lock.exists()
    assert cache.is_warm("serial")
    assert cache.is_warm("parallel") or (os.cpu_count() or 1) == 1


def test_a_read_only_installation_keeps_the_compiled_code_in_the_user_cache(tmp_path):
    """The package directory refuses new files (simulated: root writes anywhere), so numba's
    cache goes to $XDG_CACHE_HOME/descentlab/numba, and the code compiled there is used."""
    script = textwrap.dedent(
        """
        import numpy as np
        from descentlab.compiled import cache
        cache.can_create_in = lambda directory: False
        from descentlab.compiled import kernels
        import numba
        print(numba.config.CACHE_DIR)
        order = kernels.seed_orders(np.array([10]), 0, 1, 5)
        print(order.tolist())
        """
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    where, order = out.stdout.splitlines()
    assert where == str(tmp_path / "descentlab" / "numba")
    assert order == "[[[2, 4, 0, 3, 1]]]"  # batching.seed_order(5, 11)
    cached = [p.name for p in (tmp_path / "descentlab" / "numba").rglob("*seed_orders*")]
    assert any(name.endswith(".nbi") for name in cached), cached


@pytest.fixture
def numba_cache_dir():
    """numba's cache setting, put back afterwards."""
    import numba

    saved = numba.config.CACHE_DIR
    yield numba.config
    numba.config.CACHE_DIR = saved


def test_configure_numba_keeps_a_given_cache_dir_else_the_package_else_the_user_dir(
    home, monkeypatch, numba_cache_dir
):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(home / "given"))
    assert cache.configure_numba() == str(home / "given")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert cache.configure_numba().endswith("compiled/__pycache__")  # a writable checkout
    monkeypatch.setattr(cache, "can_create_in", lambda directory: False)
    assert cache.configure_numba() == str(home / "descentlab" / "numba")
    assert numba_cache_dir.CACHE_DIR == str(home / "descentlab" / "numba")


def test_writable_is_tried_not_guessed(tmp_path):
    assert cache.can_create_in(tmp_path / "new" / "dir")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not cache.can_create_in(blocker / "below")


def test_without_numba_installed_nothing_is_marked(home, monkeypatch):
    def missing(name):
        raise cache.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cache.metadata, "version", missing)
    cache.mark_warm("serial")
    assert not cache.is_warm("serial")
    assert not (home / "descentlab" / "compiled").exists()


def test_the_warm_up_without_a_lock_file(monkeypatch):
    from descentlab.compiled import warm

    calls = []
    monkeypatch.setattr(warm, "warm", lambda: calls.append(1))
    assert warm.main([]) == 0 and calls == [1]
