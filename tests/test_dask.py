"""Scale-out: a sweep on a real Dask distributed cluster (a LocalCluster on loopback) gives the
same rows as the local run, through the library and through ``descentlab sweep``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from descentlab._validation import InvalidParameterError
from descentlab.cli import main as cli_main
from descentlab.experiments.parallel import map_unordered
from descentlab.experiments.results import read_results
from descentlab.experiments.sweep import run_sweep
from descentlab.experiments.sweep_space import SweepSpec, parse_axis

distributed = pytest.importorskip("distributed")

SPEC = SweepSpec(
    optimizers=(("gd", {}), ("momentum", {}), ("adam", {})),
    axes=(parse_axis("lr=1e-3..1e-1:3"),),
    seeds=(0, 1),
    epochs=25,
    chunk_size=4,
)


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def scheduler():
    """A real scheduler on tcp://127.0.0.1 with one in-process worker (two threads)."""
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_sweep_on_dask_equals_local_run(tmp_path: Path, scheduler: str) -> None:
    assert scheduler.startswith("tcp://127.0.0.1:")
    local = run_sweep(SPEC, tmp_path / "local", plots=False)
    remote = run_sweep(SPEC, tmp_path / "dask", backend="dask", scheduler=scheduler, plots=False)
    assert remote.status == "completed" and len(remote.rows) == 18
    assert _without_seconds(remote.rows) == _without_seconds(local.rows)
    assert (tmp_path / "dask" / "sweep.json").read_text() == (
        tmp_path / "local" / "sweep.json"
    ).read_text()


def test_cli_sweep_with_dask_backend(tmp_path: Path, scheduler: str) -> None:
    argv = "--optimizers adam --lr 0.01,0.1 --seeds 2 --epochs 15 --no-plots -q".split()
    assert cli_main(["sweep", *argv, "--out", str(tmp_path / "a")]) == 0
    code = cli_main(
        [
            "sweep",
            *argv,
            "--out",
            str(tmp_path / "b"),
            "--backend",
            "dask",
            "--scheduler",
            scheduler,
        ]
    )
    assert code == 0
    assert _without_seconds(read_results(tmp_path / "b" / "results.csv")) == _without_seconds(
        read_results(tmp_path / "a" / "results.csv")
    )


def test_map_unordered_on_dask_scatters_shared_data(scheduler: str) -> None:
    results = dict(map_unordered(pow, [2, 3, 4], shared=3, backend="dask", scheduler=scheduler))
    assert results == {0: 8, 1: 27, 2: 64}


def _slow_square(task: float, shared: None) -> float:
    time.sleep(task)
    return task * task


def test_a_client_given_stays_open_and_unread_tasks_are_cancelled(scheduler: str) -> None:
    def tasks_on_scheduler(dask_scheduler) -> int:
        return len(dask_scheduler.tasks)

    with distributed.Client(scheduler) as client:
        results = map_unordered(_slow_square, [0.0, 2.0, 2.0], backend="dask", scheduler=client)
        assert next(results) == (0, 0.0)
        assert client.run_on_scheduler(tasks_on_scheduler) == 3
        results.close()  # the caller stops reading: the unfinished tasks are cancelled at once
        deadline = time.monotonic() + 1.0  # well before the 2 s tasks would end
        while client.run_on_scheduler(tasks_on_scheduler) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.run_on_scheduler(tasks_on_scheduler) == 0
        assert client.status == "running"  # the caller's client is not closed


def test_an_unreachable_scheduler_is_one_line(monkeypatch) -> None:
    import socket

    from descentlab.experiments import parallel

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there
    monkeypatch.setattr(parallel, "DASK_CONNECT_TIMEOUT", "0.3s")
    with pytest.raises(InvalidParameterError) as caught:
        list(map_unordered(pow, [1], backend="dask", scheduler=address))
    assert str(caught.value).startswith(f"Cannot reach the Dask scheduler at {address!r}: ")
    assert str(caught.value).endswith(
        "Start one with `dask scheduler` and give its tcp://HOST:PORT address."
    )


def test_dask_backend_needs_a_scheduler() -> None:
    with pytest.raises(InvalidParameterError, match="--scheduler tcp://HOST:PORT"):
        map_unordered(pow, [1], backend="dask")
    with pytest.raises(InvalidParameterError, match="only to --backend dask"):
        map_unordered(pow, [1], scheduler="tcp://127.0.0.1:1")
