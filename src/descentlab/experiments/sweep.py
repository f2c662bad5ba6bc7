"""Hyperparameter sweeps: a grid (or random search) over settings × seeds, trained as populations.

A :class:`SweepSpec` names the data, the optimizers, the axes of the search (learning rate and
any other hyperparameter or schedule setting), batch sizes, epochs and seeds.
:func:`expand` turns it into :class:`~descentlab.experiments.population.Run` s, one per
configuration and seed; :func:`plan` groups runs that can share a population (same batch
size, epochs, architecture, initialisation, data order — *any* optimizers, stacked) and cuts
each group into chunks of at most ``chunk_size`` members; :func:`run_sweep` trains the chunks
on a backend (:mod:`~descentlab.experiments.parallel`) and writes the sweep folder::

    <out>/
      sweep.json            the spec and the plan (which runs form which chunk), and the
                            problem of the suite it was set up from, if any
      results.csv           one row per configuration and seed, rewritten atomically after
                            every finished chunk (so an interruption never loses one)
      summary.csv           per configuration: median, quartiles, mean, std over seeds
      lr_sensitivity.png    per optimizer, validation accuracy (regression: validation
                            cost) and final cost against the learning rate: median and
                            inter-quartile band over seeds, log x
      heatmap_<opt>.png     for an optimizer with exactly two varied hyperparameters

The spec, :class:`SweepSpec`, :func:`expand` and :func:`plan` are in
:mod:`~descentlab.experiments.sweep_space`; this module trains the chunks and writes the folder.

Validation and test data are :func:`~descentlab.experiments.data.load_experiment_data`'s with
``validation=True``: the learning rate (and everything else) is chosen on validation data and
reported on test data that played no part in choosing it. The rows of ``results.csv`` and the
summary are :mod:`~descentlab.experiments.results`'.

Checked before anything is written. :func:`run_sweep` first reads and checks everything —
the stored ``sweep.json`` and ``results.csv`` when resuming, the spec (bounded by
:mod:`descentlab.limits`), the runs and their optimizers, the plan, the data, the largest
chunk of every population group (its memory, :func:`~descentlab.training.check_memory`), the
backend and the output folder (:func:`~descentlab.io.check_writable`) —
and only then creates the folder: a bad setting or bad data leaves nothing behind.

Interrupting. Ctrl-C (or SIGTERM, which the command turns into ``KeyboardInterrupt``) stops
the training: the chunks still running are abandoned and the local worker processes killed
(:func:`~descentlab.experiments.parallel.map_unordered`); every finished chunk is already in
``results.csv``.

Resuming. ``run_sweep(..., resume=True)`` reads ``sweep.json`` (checked field by field: a
damaged or foreign file is a one-line :class:`~descentlab._validation.DataError`) and
``results.csv`` (read as hostile input by :func:`~descentlab.experiments.results.read_results`:
a row that does not check out is dropped and its run counts as missing). It then trains every
chunk of the stored plan that misses a run — the *whole* chunk, as planned: a population
where every member diverges stops early, so a chunk trained without its other members could
give its diverged runs another final cost. The runs' rows are then those of the
uninterrupted sweep; rows already in ``results.csv`` are kept as they were.
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

from descentlab._validation import (
    DataError,
    InvalidParameterError,
    Options,
    check_json,
    check_param,
)
from descentlab.experiments.data import ExperimentData, load_experiment_data
from descentlab.experiments.parallel import check_backend, map_unordered, resolve_jobs, warm_up
from descentlab.experiments.population import Population, Run, engine_message, train_population
from descentlab.experiments.results import (
    read_results,
    result_columns,
    result_row,
    results_csv_text,
    selection_metric,
    summarize,
)
from descentlab.experiments.sweep_space import SweepSpec, expand, plan
from descentlab.io import atomic_write, check_writable
from descentlab.progress import Progress
from descentlab.training import ENGINES

__all__ = [
    "SWEEP_JSON_SCHEMA",
    "SweepResult",
    "check_engine",
    "check_populations",
    "execute",
    "run_sweep",
]

SWEEP_JSON_SCHEMA: dict[str, Any] = {"spec": dict, "n_runs": int, "chunks": [[str]]}
"""What ``sweep.json`` holds: the spec (:meth:`SweepSpec.to_dict`), the number of runs and the
plan (the run ids of every chunk)."""

MAX_SWEEP_JSON_BYTES = 64 * 2**20
"""The largest ``sweep.json`` read back (a sweep of ``MAX_RUNS`` runs needs a few MiB)."""


# ----------------------------------------------------------------------------- running


def _import_plots() -> None:
    import descentlab.experiments.sweep_plots  # noqa: F401


def _train_chunk(
    runs: list[Run], shared: tuple[ExperimentData, float | None, Any, str]
) -> list[dict]:
    data, max_cost, on_epoch, engine = shared
    tick = None if on_epoch is None else (lambda epoch: on_epoch(len(runs), epoch))
    return train_population(runs, data, max_cost=max_cost, on_epoch=tick, engine=engine)


def check_engine(owner: str, engine: Any) -> str:
    """``engine`` if it is one of :data:`~descentlab.training.ENGINES`, else a one-line error."""
    return check_param(owner, "engine", engine, Options(ENGINES))


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
    engine: str = "auto",
) -> Iterable[tuple[list[int], list[dict[str, Any]]]]:
    """Train every chunk (a population) on the backend; yield ``(run indices, rows)`` as each ends.

    The rows are those of :func:`~descentlab.experiments.population.train_population`, each
    chunk trained with ``engine`` (:data:`~descentlab.training.ENGINES`).
    ``on_epoch(n_runs, epoch)`` is called after every epoch of a chunk of ``n_runs`` runs when
    the chunks run in this process (one local job); elsewhere progress comes per chunk.
    """
    tasks = [[runs[i] for i in chunk] for chunk in chunks]
    here = backend == "local" and (resolve_jobs(jobs) == 1 or len(tasks) <= 1)
    for index, rows in map_unordered(
        _train_chunk,
        tasks,
        shared=(data, max_cost, on_epoch if here else None, engine),
        backend=backend,
        jobs=jobs,
        scheduler=scheduler,
    ):
        yield list(chunks[index]), rows


def check_populations(
    runs: Sequence[Run], chunks: Sequence[Sequence[int]], data: ExperimentData
) -> None:
    """Set up the largest chunk of every population group (:class:`Population`): its optimizers
    are built and its memory checked before anything is trained or written.

    Raises:
      InvalidParameterError, DataError: a bad value, a population too large for memory, data
        the network cannot take.
    """
    largest: dict[tuple, Sequence[int]] = {}
    for chunk in chunks:
        key = runs[chunk[0]].population_key()
        if len(chunk) > len(largest.get(key, ())):
            largest[key] = chunk
    for chunk in largest.values():
        Population([runs[i] for i in chunk], data)


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
      out_dir: the sweep folder.
      rows: every row of ``results.csv`` (text cells), in plan order.
      n_runs: runs in the whole sweep; ``n_new``: runs trained by this call (a chunk that
        missed a run is trained whole).
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


@dataclass
class _Sweep:
    """A sweep checked and planned, ready to train; nothing of it is written yet.

    Attributes:
      spec, out: the sweep and its folder.
      runs: every run, in plan order; ``chunks``: the plan (run indices), stored or new.
      data: training, validation and test data.
      done: the finished rows by run id (those of ``results.csv`` that check out).
      stored: True when ``out`` already holds this sweep (``--resume``).
      problem: the problem of the suite the spec was set up from (recorded in
        ``sweep.json``), or None.
    """

    spec: SweepSpec
    out: Path
    runs: list[Run]
    chunks: list[list[int]]
    data: ExperimentData
    done: dict[str, dict[str, str]]
    stored: bool
    problem: str | None = None

    run_ids: list[str] = field(init=False)
    position: dict[str, int] = field(init=False)
    columns: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.run_ids = [r.run_id() for r in self.runs]
        self.position = {rid: i for i, rid in enumerate(self.run_ids)}
        self.columns = result_columns(self.runs)

    def pending(self) -> list[list[int]]:
        """The chunks that miss a run, whole (see the module docstring)."""
        return [c for c in self.chunks if any(self.run_ids[i] not in self.done for i in c)]

    def record(self, indices: Sequence[int], measured: Sequence[dict[str, Any]]) -> None:
        """Keep the rows of a trained chunk's runs that were missing."""
        for i, m in zip(indices, measured, strict=True):
            self.done.setdefault(self.run_ids[i], result_row(self.runs[i], m, self.columns))

    def save(self) -> list[dict[str, str]]:
        """Write ``results.csv`` (atomically) with every finished row; return them in plan order."""
        rows = sorted(self.done.values(), key=lambda r: self.position[r["run_id"]])
        atomic_write(self.out / "results.csv", results_csv_text(self.columns, rows))
        return rows

    def document(self) -> dict[str, Any]:
        """The content of ``sweep.json``."""
        document = {
            "spec": self.spec.to_dict(),
            "n_runs": len(self.runs),
            "chunks": [[self.run_ids[i] for i in c] for c in self.chunks],
        }
        return document if self.problem is None else {"problem": self.problem, **document}


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
    engine: str = "auto",
    problem: str | None = None,
) -> SweepResult:
    """Run (or continue) the sweep ``spec`` and write its folder ``out_dir``.

    Four steps: check and plan everything (nothing is written before), open the folder
    (``sweep.json``), train the chunks (``results.csv`` after every one), summarise and plot.

    Args:
      spec: the sweep; None with ``resume`` means the one stored in ``out_dir/sweep.json``.
      out_dir: the sweep folder (created if missing).
      resume: continue the sweep stored in ``out_dir``: only the chunks that miss a run in its
        ``results.csv`` are trained. Without it, a folder that already holds a sweep is an
        error (nothing is overwritten).
      jobs, backend, scheduler: where the chunks run (:func:`map_unordered`).
      progress: one progress bar for the whole sweep, counting finished runs (None: only
        on a terminal).
      plots: draw the plots at the end.
      log: called with a line of chatter now and then (e.g. print to stderr); it is told once
        why ``engine="auto"`` trained with numpy, if it did.
      engine: the training engine, ``auto``, ``numpy`` or ``compiled``
        (:data:`~descentlab.training.ENGINES`); ``results.csv`` says which ran, per run.
      problem: the name of the problem of the suite ``spec`` was set up from
        (:mod:`descentlab.problems`), recorded in ``sweep.json`` (a resumed sweep keeps what
        its ``sweep.json`` says).

    Returns:
      a :class:`SweepResult`. On Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt``) while
      the chunks train, the status is ``interrupted``: every finished chunk is already in
      ``results.csv``; run again with ``resume=True`` to finish.

    Raises:
      InvalidParameterError, DataError: bad settings or data; a damaged or foreign
        ``sweep.json`` or ``results.csv``; a folder that holds a different sweep;
        ``resume`` without a stored sweep; an output that cannot be written.
    """
    say = log or (lambda _: None)
    check_engine("run_sweep", engine)
    sweep = _prepare(spec, Path(out_dir), resume, backend, jobs, scheduler, say)
    if problem is not None:
        from descentlab.problems import get_problem

        sweep.problem = get_problem(problem).name
    _open_folder(sweep)
    pending = sweep.pending()
    say(_plan_message(sweep, pending, backend, jobs))
    start = time.perf_counter()
    status, n_new = _train(
        sweep,
        pending,
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        progress=progress,
        plots=plots,
        engine=engine,
        say=say,
    )
    rows, files = _finish(sweep, status, plots)
    seconds = time.perf_counter() - start
    n_runs, out = len(sweep.runs), sweep.out
    say(
        f"descentlab sweep: {status}: {len(rows)} of {n_runs} runs in results.csv "
        f"({n_new} trained now in {seconds:.1f} s)"
        if status == "completed"
        else f"descentlab sweep: interrupted; {len(rows)} of {n_runs} runs saved in "
        f"{out / 'results.csv'}. Continue with: descentlab sweep --resume --out {out}"
    )
    return SweepResult(out, rows, n_runs, n_new, status, seconds, files)


# ----------------------------------------------------------------------------- step 1: check and plan


def _prepare(
    spec: SweepSpec | None,
    out: Path,
    resume: bool,
    backend: str,
    jobs: int,
    scheduler: Any,
    say: Callable[[str], None],
) -> _Sweep:
    """Read and check everything the sweep needs (see the module docstring); write nothing."""
    check_backend(backend, jobs, scheduler)
    check_writable(out, folder=True)
    stored = _read_stored(out / "sweep.json")
    if stored is None:
        spec = _new_spec(spec, out, resume)
        runs = expand(spec)
        chunks = plan(runs, spec.chunk_size)
    else:
        if not resume:
            raise InvalidParameterError(
                f"'{out}' already holds a sweep; continue it with --resume or choose another --out."
            )
        if spec is not None and spec != stored[0]:
            raise InvalidParameterError(
                f"'{out}' holds a different sweep than the options given; run --resume with "
                "the same options (or with --out alone) to continue it."
            )
        spec, runs, chunks = stored
    data = load_experiment_data(spec.dataset, validation=True, val_seed=spec.val_seed)
    check_populations(runs, chunks, data)
    done = _finished_rows(out / "results.csv", runs, say)
    return _Sweep(spec, out, runs, chunks, data, done, stored is not None)


def _new_spec(spec: SweepSpec | None, out: Path, resume: bool) -> SweepSpec:
    """The spec of a sweep that ``out`` does not hold yet."""
    if resume:
        raise InvalidParameterError(f"Nothing to resume: '{out / 'sweep.json'}' does not exist.")
    if (out / "results.csv").exists():
        raise InvalidParameterError(
            f"'{out}' holds a results.csv but no sweep.json; choose another --out."
        )
    if not isinstance(spec, SweepSpec):
        raise InvalidParameterError(
            f"The 'spec' parameter of run_sweep must be a SweepSpec. Got {type(spec).__name__}."
        )
    return spec


def _finished_rows(
    path: Path, runs: Sequence[Run], say: Callable[[str], None]
) -> dict[str, dict[str, str]]:
    """The rows of ``results.csv`` that check out, by run id; the damaged ones are reported."""
    damaged: list[str] = []
    rows = read_results(path, runs, on_damaged=lambda n, why: damaged.append(f"line {n}: {why}"))
    if damaged:
        say(
            f"descentlab sweep: {len(damaged)} damaged row{'s' if len(damaged) > 1 else ''} in "
            f"{path} ({damaged[0]}); their chunks are trained again"
        )
    return {row["run_id"]: row for row in rows}


def _read_stored(path: Path) -> tuple[SweepSpec, list[Run], list[list[int]]] | None:
    """The spec, runs and plan stored in ``sweep.json``, every field checked (None if missing).

    Raises:
      DataError: unreadable, not JSON, or damaged (one line, naming the file and the field).
    """
    source = f"'{path}'"
    if not path.exists():
        return None
    try:
        too_large = path.stat().st_size > MAX_SWEEP_JSON_BYTES
        doc = None if too_large else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"Cannot read {source} as a sweep: {reason}.") from None
    if too_large:
        raise DataError(f"{source} is not a sweep's: it is larger than 64 MiB.")
    check_json(doc, SWEEP_JSON_SCHEMA, source)
    try:
        spec = SweepSpec.from_dict(doc["spec"], source, "spec")
        runs = expand(spec)
    except InvalidParameterError as exc:
        raise DataError(f"{source} is damaged: its spec is not valid: {exc}") from None
    return spec, runs, _stored_chunks(doc, runs, spec, source)


def _stored_chunks(
    doc: dict[str, Any], runs: Sequence[Run], spec: SweepSpec, source: str
) -> list[list[int]]:
    """The stored plan as run indices, checked: every run in exactly one chunk, chunks of at
    most ``chunk_size`` runs that can share a population."""
    position = {r.run_id(): i for i, r in enumerate(runs)}
    if doc["n_runs"] != len(runs):
        raise DataError(
            f"{source} is damaged: n_runs is {doc['n_runs']}, but its spec makes {len(runs)} runs."
        )
    chunks = []
    for j, ids in enumerate(doc["chunks"]):
        unknown = [rid for rid in ids if rid not in position]
        if unknown:
            raise DataError(
                f"{source} is damaged: chunks[{j}] names {unknown[0][:40]!r}, not a run of its spec."
            )
        chunk = [position[rid] for rid in ids]
        if not chunk or len(chunk) > spec.chunk_size:
            raise DataError(
                f"{source} is damaged: chunks[{j}] holds {len(chunk)} runs; a chunk holds 1 to "
                f"{spec.chunk_size}."
            )
        if len({runs[i].population_key() for i in chunk}) > 1:
            raise DataError(
                f"{source} is damaged: chunks[{j}] mixes runs of different populations."
            )
        chunks.append(chunk)
    covered = sorted(i for c in chunks for i in c)
    if covered != list(range(len(runs))):
        raise DataError(
            f"{source} is damaged: its chunks do not hold every run exactly once "
            f"({len(covered)} entries for {len(runs)} runs)."
        )
    return chunks


# ----------------------------------------------------------------------------- step 2: the folder


def _open_folder(sweep: _Sweep) -> None:
    """Create the folder and write ``sweep.json`` (a new sweep only)."""
    sweep.out.mkdir(parents=True, exist_ok=True)
    if not sweep.stored:
        atomic_write(sweep.out / "sweep.json", json.dumps(sweep.document(), indent=1) + "\n")


def _plan_message(sweep: _Sweep, pending: list[list[int]], backend: str, jobs: int) -> str:
    n_runs, n_seeds, n_chunks = len(sweep.runs), len(sweep.spec.seeds), len(sweep.chunks)
    n_todo = sum(len(c) for c in pending)
    return (
        f"descentlab sweep: {n_runs} runs ({n_runs // n_seeds} configurations × "
        f"{n_seeds} seeds), {n_chunks} population{'s' if n_chunks != 1 else ''}; "
        + (f"{len(sweep.done)} already done, " if sweep.done else "")
        + f"{n_todo} to train on {backend}"
        + (f" ({jobs} job{'s' if jobs != 1 else ''})" if backend == "local" else "")
        + f"; writing {sweep.out}"
    )


# ----------------------------------------------------------------------------- step 3: train


def _train(
    sweep: _Sweep,
    pending: list[list[int]],
    *,
    jobs: int,
    backend: str,
    scheduler: Any,
    progress: bool | None,
    plots: bool,
    engine: str = "auto",
    say: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """Train the pending chunks, saving ``results.csv`` after each; ``(status, runs trained)``.

    Why ``engine="auto"`` fell back to numpy is said once (the first chunk that did)."""
    n_todo = sum(len(c) for c in pending)
    bar = Progress(n_todo, "sweep", enabled=progress, unit="run")
    finished = 0

    def tick(n_runs: int, epoch: int) -> None:  # progress inside a chunk (one local job)
        bar.update(finished + (n_runs * (epoch + 1)) // sweep.spec.epochs)

    engine, why = _resolve_engine(engine, sweep, pending)
    if why and say is not None:  # auto chose numpy for every chunk: said once, here
        say(engine_message(why))
    try:
        warm = warm_up(backend, jobs) if len(pending) > 1 else None
        if warm is not None:
            warm.join()
        if plots:  # import matplotlib while the workers train, not after
            threading.Thread(target=_import_plots, daemon=True).start()
        for indices, measured in execute(
            sweep.runs,
            pending,
            sweep.data,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            max_cost=sweep.spec.max_cost,
            on_epoch=tick if bar.enabled else None,
            engine=engine,
        ):
            sweep.record(indices, measured)
            rows = sweep.save()
            finished += len(indices)
            bar.update(finished, **_best_so_far(rows))
    except KeyboardInterrupt:
        return "interrupted", finished
    finally:
        bar.close()
    return "completed", finished


def _best_so_far(rows: Sequence[dict[str, str]]) -> dict[str, float]:
    """The progress bar's figure: the best validation accuracy of the finished runs
    (``best_val``), or for regression their lowest validation cost (``best_val_cost``); see
    :func:`~descentlab.experiments.results.selection_metric`. Nothing while none is finite."""
    metric, higher = selection_metric(rows)
    values = [float(r[metric]) for r in rows]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return {}
    if higher:
        return {"best_val": max(values)}
    return {"best_val_cost": min(values)}


def _resolve_engine(engine: str, sweep: _Sweep, pending: list[list[int]]) -> tuple[str, str]:
    """``auto`` decided once for every chunk (from the largest), so that the results do not
    depend on which process trains which chunk; ``(engine, why numpy)``."""
    if engine != "auto" or not pending:
        return engine, ""
    from descentlab.compiled import resolve

    chunk = max(pending, key=len)
    population = Population([sweep.runs[i] for i in chunk], sweep.data)
    head = sweep.runs[chunk[0]]
    return resolve(
        engine,
        n_params=population.net.n_params,
        members=len(chunk),
        m=sweep.data.train.X.shape[1],
        batch_size=head.batch_size,
        epochs=head.epochs,
        layer_dims=population.net.layer_dims,
        net=population.net,
        optimizer=population.optimizer,
    )


# ----------------------------------------------------------------------------- step 4: summarise


def _finish(sweep: _Sweep, status: str, plots: bool) -> tuple[list[dict[str, str]], list[str]]:
    """Write the final ``results.csv``; when completed, ``summary.csv`` and the plots."""
    rows = sweep.save()
    files = ["sweep.json", "results.csv"]
    if status != "completed":
        return rows, files
    summary = summarize(rows)  # a completed sweep has every run: one entry or more
    atomic_write(sweep.out / "summary.csv", results_csv_text(list(summary[0]), summary))
    files.append("summary.csv")
    if plots:
        from descentlab.experiments.sweep_plots import write_sweep_plots

        files += write_sweep_plots(sweep.out, rows, sweep.spec)
    return rows, files
