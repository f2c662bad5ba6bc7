"""Where a sweep's work runs (this process or local worker processes): results as tasks end,
Ctrl-C inside a task, and worker processes killed when the caller stops reading early."""

from __future__ import annotations

import os
import sys
import time

import pytest

from descentlab._validation import InvalidParameterError
from descentlab.experiments.parallel import check_backend, map_unordered, stop_workers, warm_up

ran: list[int] = []


def _interrupt_at_two(task: int, shared: int) -> int:
    ran.append(task)
    if task == 2:
        raise KeyboardInterrupt
    return task * shared


def _pid_after(task: float, shared: None) -> int:
    time.sleep(task)
    return os.getpid()


def _engine_loaded(task: int, shared: None) -> bool:
    return "descentlab.experiments.population" in sys.modules


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_inside_a_task_stops_the_loop_after_the_finished_tasks():
    ran.clear()
    results = map_unordered(_interrupt_at_two, [0, 1, 2, 3], shared=10)
    assert [next(results), next(results)] == [(0, 0), (1, 10)]
    with pytest.raises(KeyboardInterrupt):
        next(results)
    assert ran == [0, 1, 2]  # task 3 never started


def test_an_unknown_backend_is_refused():
    with pytest.raises(InvalidParameterError) as caught:
        check_backend("spark")
    assert str(caught.value) == "The 'backend' parameter must be one of local, dask. Got 'spark'."


@pytest.mark.parametrize(
    ("scheduler", "reason"),
    [
        ("foo://host:8786", "unknown address scheme 'foo'"),
        ("scheduler-host", "missing port number in address 'scheduler-host'"),
        (8786, "expected str, got 'int'"),
    ],
)
def test_a_scheduler_address_dask_cannot_use_is_refused_up_front(scheduler, reason):
    with pytest.raises(InvalidParameterError) as caught:
        check_backend("dask", scheduler=scheduler)
    assert str(caught.value).startswith(
        f"The Dask scheduler must be an address tcp://HOST:PORT (or a distributed.Client). "
        f"Got {scheduler!r}: {reason}"
    )
    check_backend("dask", scheduler="tcp://127.0.0.1:8786")  # the form only: nothing connects


def test_workers_are_killed_when_the_caller_stops_reading():
    results = map_unordered(_pid_after, [0.0, 0.0, 30.0, 30.0], jobs=2)
    index, pid = next(results)
    results.close()  # e.g. the sweep was interrupted: the 30 s tasks must not run on
    deadline = time.monotonic() + 20
    while not _dead(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert index in (0, 1) and _dead(pid)


def test_stop_workers_kills_the_idle_workers_joblib_keeps_for_reuse():
    pids = set(dict(map_unordered(_pid_after, [0.0, 0.0, 0.0, 0.0], jobs=2)).values())
    assert os.getpid() not in pids and not any(_dead(pid) for pid in pids)
    stop_workers()
    assert all(_dead(pid) for pid in pids)


def test_warm_up_starts_workers_that_have_loaded_the_engine():
    assert warm_up("local", 1) is None and warm_up("dask", 4) is None
    stop_workers()  # fresh workers: none has loaded the engine yet
    thread = warm_up("local", 2)
    thread.join(60)
    assert not thread.is_alive()
    assert dict(map_unordered(_engine_loaded, [0, 1], jobs=2)) == {0: True, 1: True}
