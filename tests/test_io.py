"""Atomic writes: complete content or the old content, never a temp file left behind."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from descentlab import io
from descentlab.io import atomic_write, atomic_writer


def test_atomic_write_text_and_bytes(tmp_path):
    atomic_write(tmp_path / "a.txt", "héllo\n")
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    atomic_write(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_atomic_write_replaces_existing(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    atomic_write(p, "new")
    assert p.read_text() == "new"


def test_failure_keeps_old_content_and_removes_temp(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_writer(p) as f:
        f.write("half")
        raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_keyboard_interrupt_removes_temp(tmp_path):
    p = tmp_path / "new.txt"
    with pytest.raises(KeyboardInterrupt), atomic_writer(p) as f:
        f.write("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


class _InterruptAt:
    """A trace function that raises KeyboardInterrupt at the ``n``-th line executed in
    ``descentlab/io.py`` or in the ``__enter__``/``__exit__`` of ``@contextmanager``: where a
    Ctrl-C or SIGTERM handler may raise."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.fired = False

    def __call__(self, frame, event, arg):
        code = frame.f_code
        ours = code.co_filename.endswith(os.path.join("descentlab", "io.py"))
        if not (ours or code.co_qualname.startswith("_GeneratorContextManager.")):
            return None
        if event == "line" and not self.fired:
            self.n -= 1
            if self.n == 0:
                self.fired = True
                raise KeyboardInterrupt
        return self


def test_an_interrupt_at_any_line_leaves_no_temporary_file(tmp_path):
    """Ctrl-C or SIGTERM can land between any two lines of the atomic write, including the
    moment after the temporary file is created and before the ``with`` block owns it (the
    CI run that found this: a sweep stopped by SIGTERM left ``.results.csv.<random>.tmp``).
    Whatever the inline clean-up misses, the exit-time clean-up removes."""
    p = tmp_path / "a.txt"
    for n in range(1, 500):
        p.write_text("old")
        trace = _InterruptAt(n)
        previous = sys.gettrace()  # coverage's tracer under `make test`: put it back after
        sys.settrace(trace)
        try:
            with atomic_writer(p) as f:
                f.write("new")
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(previous)
        io._remove_pending_temps()  # what the interpreter's exit runs
        assert [q.name for q in tmp_path.iterdir()] == ["a.txt"], n
        assert p.read_text() in ("old", "new")
        if not trace.fired:
            assert p.read_text() == "new"
            break
    else:
        pytest.fail("the write never completed")
    assert n > 10  # the interrupt was tried at every line of the write
    assert not io._PENDING_TEMPS


def test_a_temporary_file_still_pending_at_exit_is_removed(tmp_path):
    """The exit-time clean-up itself: a process that leaves the ``with`` block's
    ``__exit__`` unrun (an interrupt inside ``__enter__``) leaves no file behind."""
    code = (
        "import sys; from descentlab.io import atomic_path\n"
        "cm = atomic_path(sys.argv[1]); tmp = cm.__enter__(); print(tmp.exists())\n"
        "KEEP = [cm]\n"
        "raise KeyboardInterrupt\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a.txt")], capture_output=True, text=True
    )
    assert done.stdout.strip() == "True"
    assert done.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_csv_newline_and_permissions(tmp_path):
    p = tmp_path / "t.csv"
    with atomic_writer(p, newline="") as f:
        csv.writer(f).writerows([["a", "b"], [1, 2]])
    assert p.read_bytes() == b"a,b\r\n1,2\r\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def test_bad_mode_and_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="'mode'"), atomic_writer(tmp_path / "x", "a"):
        pass
    with pytest.raises(FileNotFoundError) as caught:
        atomic_write(tmp_path / "missing" / "x.txt", "x")
    # the error names the user's path, never the temporary file's
    assert caught.value.filename == str(tmp_path / "missing" / "x.txt")
    assert ".tmp" not in str(caught.value)


def test_check_writable_refuses_what_cannot_be_written(tmp_path):
    from descentlab._validation import DataError
    from descentlab.io import check_writable

    (tmp_path / "a-file").write_text("x")
    for path, folder, message in [
        (tmp_path / "a\x00b", True, "cannot hold a NUL character"),
        (tmp_path / "a-file", True, "is a file, not a folder"),
        (tmp_path, False, "is a folder; give the name of a file"),
        (tmp_path / "a-file" / "run", True, "is a file, not a folder"),
    ]:
        with pytest.raises(DataError, match=message):
            check_writable(path, folder=folder)
    with pytest.raises(DataError, match=r"the folder .* does not exist"):
        check_writable(tmp_path / "missing" / "x.png", folder=False, parents=False)
    assert check_writable(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # the check creates nothing


def test_check_writable_refuses_a_folder_without_write_permission(tmp_path, monkeypatch):
    from descentlab._validation import DataError
    from descentlab.io import check_writable

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real_access = os.access
    # root may write anywhere: the folder is reported unwritable, as for any other user
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    for path, folder in [(locked / "run" / "deeper", True), (locked / "model.npz", False)]:
        with pytest.raises(DataError) as caught:
            check_writable(path, folder=folder)
        assert str(caught.value) == f"Cannot write '{path}': the folder '{locked}' is not writable."
    assert list(locked.iterdir()) == []
    assert check_writable(tmp_path / "free" / "x.png", folder=False) == tmp_path / "free" / "x.png"


def test_check_writable_refuses_to_replace_a_device_or_a_pipe(tmp_path, capsys):
    from descentlab._validation import DataError
    from descentlab.cli import main
    from descentlab.io import check_writable

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    special = [pipe] + [Path(p) for p in ("/dev/null", "/dev/zero") if Path(p).exists()]
    for path in special:
        with pytest.raises(DataError) as caught:
            check_writable(path, folder=False)
        assert str(caught.value) == (
            f"'{path}' is not a regular file (a device, pipe or socket); give the name of a "
            "file to write."
        )
    # `descentlab train --out /dev/null` as root would have replaced the device with a file
    assert main(["train", "--epochs", "2", "-q", "--out", str(pipe)]) == 2
    assert "is not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_a_temporary_name_taken_by_another_file_is_skipped_and_left_alone(tmp_path, monkeypatch):
    names = iter(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(io.secrets, "token_hex", lambda n: next(names))
    other = tmp_path / ".a.txt.aaaaaaaaaaaa.tmp"
    other.write_text("someone else's")
    atomic_write(tmp_path / "a.txt", "new")
    assert other.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.txt.aaaaaaaaaaaa.tmp", "a.txt"]
    assert not io._PENDING_TEMPS


@pytest.mark.parametrize("call", ["open", "close"])
def test_an_interrupt_while_the_temporary_file_is_created_removes_it(tmp_path, monkeypatch, call):
    real = getattr(os, call)

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # the call itself happens (the file exists, or is closed) ...
        raise KeyboardInterrupt  # ... and the signal handler raises right after

    monkeypatch.setattr(io.os, call, interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.txt", "new")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    assert not io._PENDING_TEMPS
