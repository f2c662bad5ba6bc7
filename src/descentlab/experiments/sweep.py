"""Hyperparameter sweeps: a grid (or random search) over settings × seeds, trained as populations.

A :class:`SweepSpec` names the data, the optimizers, the axes of the search (learning rate and
any other hyperparameter or schedule setting), batch sizes, epochs and seeds.
:func:`expand` turns it into :class:`~descentlab.experiments.population.Run` s, one per
configuration and seed; :func:`plan` groups runs that can share a population (same batch
size, epochs, architecture, initialisation, data order — *any* optimizers, stacked) and cuts
each group into chunks of at most ``chunk_size`` members; :func:`run_sweep` trains the chunks
on a backend (:mod:`~descentlab.experiments.parallel`) and writes the sweep folder::

    <out>/
      sweep.json            the spec and the plan (which runs form which chunk)
      results.csv           one row per configuration and seed, rewritten atomically after
                            every finished chunk (so an interruption never loses one)
      summary.csv           per configuration: median, quartiles, mean, std over seeds
      lr_sensitivity.png    per optimizer, validation accuracy and final cost against the
                            learning rate: median and inter-quartile band over seeds, log x
      heatmap_<opt>.png     for an optimizer with exactly two varied hyperparameters

The spec, :class:`SweepSpec`, :func:`expand` and :func:`plan` are in
:mod:`~descentlab.experiments.sweep_space`; this module trains the chunks and writes the folder.

Validation and test data are :func:`~descentlab.experiments.data.load_experiment_data`'s with
``validation=True``: the learning rate (and everything else) is chosen on validation data and
reported on test data that played no part in choosing it. The rows of ``results.csv`` and the
summary are :mod:`~descentlab.experiments.results`'.

Resuming. ``run_sweep(..., resume=True)`` reads ``sweep.json`` and ``results.csv`` and runs
only the chunks whose runs are missing, with the stored plan, so a resumed sweep computes
exactly what the uninterrupted one would have and never repeats a finished run.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from descentlab._validation import DataError, InvalidParameterError
from descentlab.experiments.data import ExperimentData, load_experiment_data
from descentlab.experiments.parallel import map_unordered, resolve_jobs, warm_up
from descentlab.experiments.population import Run, train_population
from descentlab.experiments.results import (
    read_results,
    result_columns,
    result_row,
    results_csv_text,
    summarize,
)
from descentlab.experiments.sweep_space import SweepSpec, expand, plan
from descentlab.io import atomic_write
from descentlab.progress import Progress

__all__ = ["SweepResult", "execute", "run_sweep"]


# ----------------------------------------------------------------------------- running


def _import_plots() -> None:
    import descentlab.experiments.sweep_plots  # noqa: F401


def _train_chunk(runs: list[Run], shared: tuple[ExperimentData, float | None, Any]) -> list[dict]:
    data, max_cost, on_epoch = shared
    tick = None if on_epoch is None else (lambda epoch: on_epoch(len(runs), epoch))
    return train_population(runs, data, max_cost=max_cost, on_epoch=tick)


def execute(
    runs: Sequence[Run],
    chunks: Sequence[Sequence[int]],
    data: ExperimentData,
    *,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    max_cost: float | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Iterable[tuple[list[int], list[dict[str, Any]]]]:
    """Train every chunk (a population) on the backend; yield ``(run indices, rows)`` as each ends.

    The rows are those of :func:`~descentlab.experiments.population.train_population`.
    ``on_epoch(n_runs, epoch)`` is called after every epoch of a chunk of ``n_runs`` runs when
    the chunks run in this process (one local job); elsewhere progress comes per chunk.
    """
    tasks = [[runs[i] for i in chunk] for chunk in chunks]
    here = backend == "local" and (resolve_jobs(jobs) == 1 or len(tasks) <= 1)
    for index, rows in map_unordered(
        _train_chunk,
        tasks,
        shared=(data, max_cost, on_epoch if here else None),
        backend=backend,
        jobs=jobs,
        scheduler=scheduler,
    ):
        yield list(chunks[index]), rows


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
      out_dir: the sweep folder.
      rows: every row of ``results.csv`` (text cells), in plan order.
      n_runs: runs in the whole sweep; ``n_new``: runs trained by this call.
      status: ``completed`` or ``interrupted``.
      seconds: wall time of this call.
      files: the files written, relative to ``out_dir``.
    """

    out_dir: Path
    rows: list[dict[str, str]]
    n_runs: int
    n_new: int
    status: str
    seconds: float
    files: list[str] = field(default_factory=list)


def run_sweep(
    spec: SweepSpec | None,
    out_dir: str | Path,
    *,
    resume: bool = False,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    progress: bool | None = None,
    plots: bool = True,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or continue) the sweep ``spec`` and write its folder ``out_dir``.

    Args:
      spec: the sweep; None with ``resume`` means the one stored in ``out_dir/sweep.json``.
      out_dir: the sweep folder (created if missing).
      resume: continue the sweep stored in ``out_dir``: only runs missing from its
        ``results.csv`` are trained. Without it, a folder that already holds a sweep is an
        error (nothing is overwritten).
      jobs, backend, scheduler: where the chunks run (:func:`map_unordered`).
      progress: one progress bar for the whole sweep, counting finished runs (None: only
        on a terminal).
      plots: draw the plots at the end.
      log: called with a line of chatter now and then (e.g. print to stderr).

    Returns:
      a :class:`SweepResult`. On Ctrl-C the status is ``interrupted``: every finished chunk is
      already in ``results.csv``; run again with ``resume=True`` to finish.

    Raises:
      InvalidParameterError, DataError: bad settings or data; a folder that holds a different
        sweep; ``resume`` without a stored sweep.
    """
    say = log or (lambda _: None)
    out = Path(out_dir)
    stored_path = out / "sweep.json"
    stored = None
    if stored_path.exists():
        try:
            stored = json.loads(stored_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read '{stored_path}': {exc}.") from None
    if stored is not None and not resume:
        raise InvalidParameterError(
            f"'{out}' already holds a sweep; continue it with --resume or choose another --out."
        )
    if resume:
        if stored is None:
            raise InvalidParameterError(f"Nothing to resume: '{stored_path}' does not exist.")
        stored_spec = SweepSpec.from_dict(stored["spec"])
        if spec is not None and spec != stored_spec:
            raise InvalidParameterError(
                f"'{out}' holds a different sweep than the options given; run --resume with "
                "the same options (or with --out alone) to continue it."
            )
        spec = stored_spec
    assert spec is not None
    runs = expand(spec)
    chunks = plan(runs, spec.chunk_size)
    warm = warm_up(backend, jobs) if len(chunks) > 1 else None
    data = load_experiment_data(spec.dataset, validation=True, val_seed=spec.val_seed)
    columns = result_columns(runs)
    run_ids = [r.run_id() for r in runs]
    position = {rid: i for i, rid in enumerate(run_ids)}
    out.mkdir(parents=True, exist_ok=True)
    if stored is None:
        atomic_write(
            stored_path,
            json.dumps(
                {
                    "spec": spec.to_dict(),
                    "n_runs": len(runs),
                    "chunks": [[run_ids[i] for i in c] for c in chunks],
                },
                indent=1,
            )
            + "\n",
        )
    else:
        chunks = [[position[rid] for rid in c] for c in stored["chunks"]]
    done = {
        row["run_id"]: row for row in read_results(out / "results.csv") if row["run_id"] in position
    }
    pending = [c for c in chunks if any(run_ids[i] not in done for i in c)]
    pending = [[i for i in c if run_ids[i] not in done] for c in pending]
    n_todo = sum(len(c) for c in pending)
    say(
        f"descentlab sweep: {len(runs)} runs ({len(runs) // len(spec.seeds)} configurations × "
        f"{len(spec.seeds)} seeds), {len(chunks)} population{'s' if len(chunks) != 1 else ''}; "
        + (f"{len(done)} already done, " if done else "")
        + f"{n_todo} to train on {backend}"
        + (f" ({jobs} job{'s' if jobs != 1 else ''})" if backend == "local" else "")
        + f"; writing {out}"
    )

    def save() -> list[dict[str, str]]:
        rows = sorted(done.values(), key=lambda r: position[r["run_id"]])
        atomic_write(out / "results.csv", results_csv_text(columns, rows))
        return rows

    if warm is not None:
        warm.join()
    if plots:  # import matplotlib while the workers train, not after
        threading.Thread(target=_import_plots, daemon=True).start()
    start = time.perf_counter()
    status = "completed"
    bar = Progress(max(1, n_todo), "sweep", enabled=progress, unit="run")
    finished = 0
    best = -math.inf

    def tick(n_runs: int, epoch: int) -> None:  # progress inside a chunk (one local job)
        bar.update(finished + (n_runs * (epoch + 1)) // spec.epochs)

    try:
        for indices, measured in execute(
            runs,
            pending,
            data,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            max_cost=spec.max_cost,
            on_epoch=tick if bar.enabled else None,
        ):
            for i, m in zip(indices, measured, strict=True):
                done[run_ids[i]] = result_row(runs[i], m, columns)
            save()
            finished += len(indices)
            best = max([best, *(float(m["val_accuracy"]) for m in measured)])
            bar.update(finished, best_val=best)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        bar.close()
    rows = save()
    files = ["sweep.json", "results.csv"]
    if status == "completed":
        summary = summarize(rows, columns)
        header = list(summary[0]) if summary else []
        atomic_write(out / "summary.csv", results_csv_text(header, summary))
        files.append("summary.csv")
        if plots:
            from descentlab.experiments.sweep_plots import write_sweep_plots

            files += write_sweep_plots(out, rows, spec)
    seconds = time.perf_counter() - start
    say(
        f"descentlab sweep: {status}: {len(rows)} of {len(runs)} runs in results.csv "
        f"({finished} trained now in {seconds:.1f} s)"
        if status == "completed"
        else f"descentlab sweep: interrupted; {len(rows)} of {len(runs)} runs saved in "
        f"{out / 'results.csv'}. Continue with: descentlab sweep --resume --out {out}"
    )
    return SweepResult(out, rows, len(runs), finished, status, seconds, files)
