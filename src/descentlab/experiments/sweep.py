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

Validation and test data. The learning rate (and everything else) is chosen on validation data
and reported on test data that played no part in choosing it:

- a *generated* dataset (``moons``, ``circles``, ...): training data as specified (``moons``
  alone is the seed's 300 examples), validation and test sets are fresh samples of the same
  generator, same size and noise, seeds ``val_seed`` (default ``test_seed + 1``) and
  ``test_seed`` (default 1, the test set ``descentlab compare`` uses);
- fixed data (real sets, files): a stratified split into test (``test_size`` of the data,
  seed ``test_seed``), then validation (as many examples, seed ``val_seed``) and training;
  features standardised with the training part's statistics.

Resuming. ``run_sweep(..., resume=True)`` reads ``sweep.json`` and ``results.csv`` and runs
only the chunks whose runs are missing, with the stored plan, so a resumed sweep computes
exactly what the uninterrupted one would have and never repeats a finished run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import load_dataset
from descentlab.experiments.parallel import map_unordered, resolve_jobs, warm_up
from descentlab.experiments.population import Run, SplitData, train_population
from descentlab.experiments.specs import DatasetSpec
from descentlab.experiments.sweep_space import SweepSpec, expand, plan
from descentlab.io import atomic_write
from descentlab.progress import ProgressBar

__all__ = [
    "METRICS",
    "SweepResult",
    "execute",
    "load_split",
    "read_results",
    "result_columns",
    "result_row",
    "results_csv_text",
    "run_sweep",
    "summarize",
]

METRICS = (
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "final_cost",
    "val_cost",
    "test_cost",
    "diverged",
    "stopped_epoch",
    "seconds",
)
"""The measured columns of ``results.csv``, after the settings."""

SETTING_COLUMNS = ("batch_size", "epochs", "layers", "activation", "init", "shuffle", "seed")


# ----------------------------------------------------------------------------- data


def load_split(dataset: DatasetSpec, val_seed: int | None = None) -> SplitData:
    """Training, validation and test data for ``dataset`` (see the module docstring).

    >>> data = load_split(DatasetSpec("moons"))
    >>> data.X_train.shape, data.X_val.shape, data.X_test.shape
    ((2, 300), (2, 300), (2, 300))
    """
    val_seed = dataset.test_seed + 1 if val_seed is None else int(val_seed)
    if dataset.holdout == "fresh":
        train = load_dataset(
            dataset.name, n_samples=dataset.n_samples, noise=dataset.noise, seed=dataset.seed
        )
        if val_seed in (dataset.test_seed, dataset.seed):
            raise InvalidParameterError(
                f"The validation sample's seed {val_seed} is also the seed of the training or "
                "test data; choose another --val-seed."
            )

        def fresh(seed: int):
            return load_dataset(
                dataset.name, n_samples=train.n_examples, noise=dataset.noise, seed=seed
            )

        val, test = fresh(val_seed), fresh(dataset.test_seed)
    else:
        full = load_dataset(
            dataset.name,
            target=dataset.target,
            n_samples=dataset.n_samples,
            noise=dataset.noise,
            seed=dataset.seed,
        )
        rest, test = full.split(dataset.test_size, dataset.test_seed)
        if rest.n_examples - test.n_examples < 2 * rest.n_classes:
            raise DataError(
                f"{full.n_examples} examples are too few for training, validation and test "
                f"sets of this size (test_size={dataset.test_size!r})."
            )
        train, val = rest.split(test.n_examples, val_seed)
        if dataset.standardize:
            train, mean, std = train.standardized()
            val, test = val.standardized(mean, std)[0], test.standardized(mean, std)[0]
    return SplitData(train.X, train.y, val.X, val.y, test.X, test.y, train.n_classes)


# ----------------------------------------------------------------------------- running


def _import_plots() -> None:
    import descentlab.experiments.sweep_plots  # noqa: F401


def _train_chunk(runs: list[Run], shared: tuple[SplitData, float | None, Any]) -> list[dict]:
    data, max_cost, on_epoch = shared
    tick = None if on_epoch is None else (lambda epoch: on_epoch(len(runs), epoch))
    return train_population(runs, data, max_cost=max_cost, on_epoch=tick)


def execute(
    runs: Sequence[Run],
    chunks: Sequence[Sequence[int]],
    data: SplitData,
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


def result_columns(runs: Sequence[Run]) -> list[str]:
    """The ``results.csv`` header for ``runs``: ids, every setting any run has, then METRICS."""
    hyper: dict[str, None] = {"learning_rate": None}
    sched: dict[str, None] = {}
    for r in runs:
        hyper.update(dict.fromkeys(r.hyperparameters))
        sched.update(dict.fromkeys(r.schedule_settings))
    return [
        "run_id",
        "config_id",
        "optimizer",
        *hyper,
        "schedule",
        *(f"schedule.{k}" for k in sched),
        *SETTING_COLUMNS,
        *METRICS,
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return (
            "-".join(str(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else json.dumps(value)
        )
    return str(value)


def result_row(run: Run, measured: Mapping[str, Any], columns: Sequence[str]) -> dict[str, str]:
    """One ``results.csv`` row (text cells, empty where a setting does not apply): the run's
    settings, then its measurements."""
    out = {"run_id": run.run_id(), "config_id": run.config_id(), "optimizer": run.optimizer}
    out.update({k: _cell(v) for k, v in run.hyperparameters.items()})
    out["schedule"] = run.schedule or ""
    out.update({f"schedule.{k}": _cell(v) for k, v in run.schedule_settings.items()})
    out.update({k: _cell(getattr(run, k)) for k in SETTING_COLUMNS})
    out.update({k: _cell(measured[k]) for k in METRICS})
    return {c: out.get(c, "") for c in columns}


def results_csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """``rows`` as CSV text under the header ``columns`` (missing cells empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def read_results(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``results.csv`` as dicts of text cells (empty list if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


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
    data = load_split(spec.dataset, spec.val_seed)
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
    bar = ProgressBar(max(1, n_todo), "sweep", enabled=progress)
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


# ----------------------------------------------------------------------------- summary


def _number(cell: str) -> float:
    if cell in ("", None):
        return math.nan
    if cell in ("true", "false"):
        return float(cell == "true")
    return float(cell)


def summarize(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per configuration (``config_id``): its settings, the number of seeds and diverged runs,
    and for validation/test accuracy and final cost the median, quartiles, mean and std
    over seeds (NaN costs of diverged runs are left out of the cost statistics).

    ``columns``: the column order of ``results.csv`` (default: the first row's keys)."""
    by_config: dict[str, list[Mapping[str, str]]] = {}
    for r in rows:
        by_config.setdefault(r["config_id"], []).append(r)
    skip = {"run_id", "seed", *METRICS}
    settings = [c for c in (columns or (list(rows[0]) if rows else [])) if c not in skip]
    out = []
    for group in by_config.values():
        first = group[0]
        entry: dict[str, Any] = {k: first.get(k, "") for k in settings}
        entry["n_seeds"] = len(group)
        entry["n_diverged"] = sum(r["diverged"] == "true" for r in group)
        for metric in ("val_accuracy", "test_accuracy", "final_cost"):
            v = np.array([_number(r[metric]) for r in group])
            v = v[np.isfinite(v)]
            stats = (
                (np.median(v), *np.percentile(v, [25, 75]), v.mean(), v.std())
                if v.size
                else (math.nan,) * 5
            )
            for name, s in zip(("median", "q25", "q75", "mean", "std"), stats, strict=True):
                entry[f"{metric}_{name}"] = repr(float(s))
        out.append(entry)
    return out
