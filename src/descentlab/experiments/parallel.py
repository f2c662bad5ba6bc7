"""Where a sweep's work runs: this process, local worker processes, or a Dask cluster.

:func:`map_unordered` calls ``fn(task, shared)`` for every task and yields
``(index, result)`` pairs *as tasks finish*, so the caller can save each result at once
(a sweep appends every finished population to its ``results.csv``). The backends:

- ``local`` with ``jobs=1``: a plain loop in this process (no start-up cost);
- ``local`` with ``jobs=N > 1`` (``-1``: one per CPU): N joblib worker processes (the
  ``loky`` backend, which also caps each worker's BLAS threads so N workers do not
  oversubscribe the cores); ``shared`` is sent with every task (joblib memory-maps large
  arrays);
- ``dask``: the workers of a Dask distributed cluster, given by its scheduler address
  (``tcp://host:8786``) or a ``distributed.Client``; ``shared`` is scattered to the workers
  once. Every worker needs descentlab (and the same NumPy) installed.

The same task gives the same numbers on every backend: a task carries everything its
computation depends on, and nothing depends on which worker runs it or when.

Ctrl-C and SIGTERM: a task interrupted inside a worker reports it, and the caller sees
``KeyboardInterrupt``; tasks not yet finished are cancelled. When the caller stops reading
the results early — an interruption in this process (the command turns SIGTERM into
``KeyboardInterrupt``), an error, or simply leaving the loop — the local worker processes
are killed at once (:func:`stop_workers`): a worker busy with a long population would
otherwise finish it, and joblib's reusable executor would keep it alive for minutes.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from descentlab import limits
from descentlab._validation import InvalidParameterError, is_integer, show

__all__ = [
    "BACKENDS",
    "check_backend",
    "map_unordered",
    "resolve_jobs",
    "stop_workers",
    "warm_up",
]

BACKENDS = ("local", "dask")
"""The names of the execution backends."""

DASK_CONNECT_TIMEOUT = "10s"
"""How long to try to reach a Dask scheduler before giving up (a ``distributed`` duration)."""


class _Interrupted:
    """Returned by a task that was interrupted (Ctrl-C reached the worker)."""


def _guarded(fn: Callable[[Any, Any], Any], index: int, task: Any, shared: Any) -> tuple[int, Any]:
    try:
        return index, fn(task, shared)
    except KeyboardInterrupt:
        return index, _Interrupted()


def resolve_jobs(jobs: int) -> int:
    """The number of local worker processes for ``jobs``: itself if in
    ``[1, MAX_JOBS]``, the CPU count for -1.

    >>> resolve_jobs(3)
    3
    """
    if not is_integer(jobs) or not (jobs == -1 or 1 <= jobs <= limits.MAX_JOBS):
        raise InvalidParameterError(
            f"The 'jobs' parameter must be an int from 1 to {limits.MAX_JOBS} "
            f"(descentlab.limits.MAX_JOBS), or -1 for one worker per CPU. Got {show(jobs)} instead."
        )
    return jobs if jobs >= 1 else max(1, os.cpu_count() or 1)


def warm_up(backend: str = "local", jobs: int = 1) -> threading.Thread | None:
    """Start the local worker processes in the background (they load the engine meanwhile).

    Call it before slow preparations in this process (loading data): by the time
    :func:`map_unordered` runs, the workers are up and reused. Returns the background thread,
    or None when there are no worker processes to start (one job, or Dask).
    """
    if backend != "local" or resolve_jobs(jobs) == 1:
        return None
    n = resolve_jobs(jobs)

    def start() -> None:
        from joblib import Parallel, delayed

        engine = "descentlab.experiments.population"  # loads NumPy and the engine
        with contextlib.suppress(Exception):  # a failure here shows again in map_unordered
            Parallel(n_jobs=n, backend="loky")(
                delayed(importlib.import_module)(engine) for _ in range(n)
            )

    thread = threading.Thread(target=start, name="descentlab-warm-up", daemon=True)
    thread.start()
    return thread


def check_backend(backend: str, jobs: int = 1, scheduler: Any = None) -> None:
    """Check where the work is to run, before anything is prepared or written.

    Raises:
      InvalidParameterError: an unknown backend, a bad ``jobs`` (:func:`resolve_jobs`),
        ``dask`` without a scheduler, a scheduler that is neither an address
        ``tcp://HOST:PORT`` nor a ``distributed.Client``, or a scheduler without ``dask``.
    """
    if backend not in BACKENDS:
        raise InvalidParameterError(
            f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. Got {backend!r}."
        )
    resolve_jobs(jobs)
    if backend == "dask" and scheduler is None:
        raise InvalidParameterError(
            "The dask backend needs the scheduler's address: --scheduler tcp://HOST:PORT."
        )
    if backend == "dask":
        _check_scheduler(scheduler)
    if backend != "dask" and scheduler is not None:
        raise InvalidParameterError("--scheduler applies only to --backend dask.")


def _distributed() -> Any:
    """The ``distributed`` package (Dask's cluster part)."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - dask is optional; the test extra installs it
        raise InvalidParameterError(
            "The dask backend needs dask.distributed: pip install 'descentlab[dask]'."
        ) from None
    return distributed


def _check_scheduler(scheduler: Any) -> None:
    """A ``distributed.Client``, or an address whose form Dask can connect to."""
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return
    try:
        distributed.comm.get_address_host_port(scheduler)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            "The Dask scheduler must be an address tcp://HOST:PORT (or a distributed.Client). "
            f"Got {show(scheduler)}: {exc}."
        ) from None


def map_unordered(
    fn: Callable[[Any, Any], Any],
    tasks: Sequence[Any],
    *,
    shared: Any = None,
    backend: str = "local",
    jobs: int = 1,
    scheduler: Any = None,
) -> Iterator[tuple[int, Any]]:
    """Run ``fn(task, shared)`` for every task; yield ``(index in tasks, result)`` as each ends.

    Args:
      fn: a module-level function (it is pickled to the workers).
      tasks: the tasks (picklable).
      shared: one object every task needs (e.g. the data), sent once per worker where the
        backend allows it.
      backend: ``local`` or ``dask``.
      jobs: local worker processes; 1 runs in this process, -1 one per CPU.
      scheduler: for ``dask``, the scheduler address ``tcp://HOST:PORT`` or a
        ``distributed.Client``.

    Yields:
      ``(index, result)`` in order of completion (in task order for one local job).

    Raises:
      InvalidParameterError: unknown backend, bad ``jobs``, ``dask`` without a scheduler.
      KeyboardInterrupt: a task was interrupted; unfinished tasks are cancelled.

    >>> sorted(map_unordered(pow, [1, 2, 3], shared=2))
    [(0, 1), (1, 4), (2, 9)]
    """
    check_backend(backend, jobs, scheduler)
    if backend == "dask":
        return _dask(fn, tasks, shared, scheduler)
    n = resolve_jobs(jobs)
    if n == 1 or len(tasks) <= 1:
        return _serial(fn, tasks, shared)
    return _loky(fn, tasks, shared, min(n, len(tasks)))


def _check(item: tuple[int, Any]) -> tuple[int, Any]:
    if isinstance(item[1], _Interrupted):
        raise KeyboardInterrupt
    return item


def _serial(fn: Callable, tasks: Sequence[Any], shared: Any) -> Iterator[tuple[int, Any]]:
    for i, task in enumerate(tasks):
        yield _check(_guarded(fn, i, task, shared))


def _loky(fn: Callable, tasks: Sequence[Any], shared: Any, n: int) -> Iterator[tuple[int, Any]]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n, backend="loky", return_as="generator_unordered")
    finished = False
    try:
        results = parallel(delayed(_guarded)(fn, i, task, shared) for i, task in enumerate(tasks))
        try:
            for item in results:
                yield _check(item)
        finally:
            with warnings.catch_warnings():  # joblib warns that the tasks it aborts are lost
                warnings.simplefilter("ignore", UserWarning)
                results.close()  # abort the tasks still queued or running
        finished = True
    finally:
        if not finished:  # interrupted, failed or abandoned: the workers must not run on
            stop_workers()


def stop_workers() -> None:
    """Kill the local worker processes now (joblib's reusable loky executor), whatever they
    are doing. The next :func:`map_unordered` starts fresh ones."""
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(reuse=True, kill_workers=True)
    executor.shutdown(wait=True, kill_workers=True)


def _dask(
    fn: Callable, tasks: Sequence[Any], shared: Any, scheduler: Any
) -> Iterator[tuple[int, Any]]:
    distributed = _distributed()
    own = not isinstance(scheduler, distributed.Client)
    try:
        client = distributed.Client(scheduler, timeout=DASK_CONNECT_TIMEOUT) if own else scheduler
    except OSError as exc:
        raise InvalidParameterError(
            f"Cannot reach the Dask scheduler at {scheduler!r}: {exc}. Start one with "
            "`dask scheduler` and give its tcp://HOST:PORT address."
        ) from None
    futures = []
    try:
        data = client.scatter(shared, broadcast=True) if shared is not None else None
        futures = [
            client.submit(_guarded, fn, i, task, data, pure=False) for i, task in enumerate(tasks)
        ]
        for future in distributed.as_completed(futures):
            yield _check(future.result())
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        if own:
            client.close()
