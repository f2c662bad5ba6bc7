"""The benchmark protocol: tune every optimizer on every problem by random search, rerun the
best setting on fresh seeds, and measure the time to each problem's validation target.

``descentlab benchmark --problems mnist1d,digits,seed-moons --optimizers sgd,momentum,adam
--budget 20 --seeds 10`` runs, for every problem of :mod:`descentlab.problems` and every
optimizer (DeepOBS, Schneider et al. 2019; Crowded Valley, Schmidt et al. 2021; AlgoPerf,
Dahl et al. 2023):

1. **Tuning** — ``budget`` random-search trials (:mod:`~descentlab.experiments.tuning`: the
   Crowded Valley search spaces; trial ``i`` trains with seed ``seed + i``). Every trial is
   evaluated on the validation data after every epoch; the best trial is the one with the best
   validation metric at the end of the budget (accuracy: highest; loss: lowest; diverged:
   worst). The tuning-budget curve is the expected best-so-far over random orderings of the
   trials.
2. **Reruns** — the best setting on each of the fresh ``seeds`` (disjoint from the tuning
   seeds); test metric as mean ± std over them.
3. **Time to target** — per run, the first epoch ``e`` whose validation metric reaches the
   problem's target: ``steps = (e + 1) * steps_per_epoch`` and the wall time measured at the end
   of that epoch; "not reached" is infinite (:mod:`~descentlab.experiments.profiles`).
4. **Performance profiles** across problems from the median time to target of each optimizer.

Populations. All trials of one problem share batch size, budget and network, so they are
trained as populations (:class:`~descentlab.experiments.population.Population`: trials of one
optimizer differ only in float hyperparameters and stack into one optimizer segment), cut into
chunks of at most ``chunk_size`` by :func:`~descentlab.experiments.sweep_space.plan`. The
reruns of one optimizer on one problem are exactly one population, so their time is measured
as one: the wall time to target of a rerun is that population's wall time from the start of
its training loop (the setup before it is left out) to the end of the epoch it first reached
the target, the epoch's validation pass included — the same work for every optimizer of a
problem. Every rerun population of a problem has the same number of members, so the ratios
of the profiles compare like with like. The chunks run on a backend of
:mod:`~descentlab.experiments.parallel` (local worker processes or Dask); a named ``engine``
is used as it is, ``auto`` is decided once per problem and phase
(:func:`descentlab.compiled.resolve`, as a sweep decides it), falling back to numpy for a
configuration the compiled engine does not cover.

The folder::

    <out>/
      protocol.json          the spec and each problem's definition (written first)
      results.csv            every trial and rerun (protocol_results), rewritten atomically
                             after every finished population
      summary.json           what the tables and plots show (protocol_summary)
      tuning_budget.png      expected best validation metric against the number of trials
      performance_profile.png  fraction of problems solved within tau x the fastest time
      test_metric.png        test metric of the reruns, mean ± std, per problem
      report.html            one self-contained page with the tables, plots and protocol

Checked before anything is written: the spec (bounded by :mod:`descentlab.limits`), every
problem and its data, every trial's optimizer, the largest population of every problem and
phase (its memory), the backend and the folder; with ``resume``, the stored ``protocol.json``
(field by field) and ``results.csv`` (as hostile input). Resuming trains every population that
misses a run — the whole population, as planned — and keeps the finished rows as they were.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descentlab import __version__
from descentlab._validation import (
    InvalidParameterError,
    check_param,
)
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.parallel import check_backend, map_unordered, resolve_jobs, warm_up
from descentlab.experiments.population import (
    Population,
    Run,
    build_run_optimizer,
    engine_message,
    evaluate,
)
from descentlab.experiments.profiles import first_reached
from descentlab.experiments.protocol_results import (
    Entry,
    Key,
    match_rows,
    protocol_columns,
    protocol_row,
    read_protocol_rows,
)
from descentlab.experiments.protocol_spec import (
    ProtocolSpec,
    load_problem,
    optimizer_label,
    problem_info,
    read_protocol_json,
)
from descentlab.experiments.results import results_csv_text
from descentlab.experiments.sweep import check_engine, check_populations
from descentlab.experiments.sweep_space import plan
from descentlab.experiments.tuning import draw_trials
from descentlab.io import atomic_write, check_writable
from descentlab.progress import Progress

if TYPE_CHECKING:
    from descentlab.problems import Problem

__all__ = ["ProtocolResult", "rerun_entries", "run_protocol", "trial_entries"]

# ----------------------------------------------------------------------------- the runs


def trial_entries(spec: ProtocolSpec, problems: Mapping[str, Problem]) -> list[Entry]:
    """Every trial, problem by problem, optimizer by optimizer, trial by trial.

    Raises:
      InvalidParameterError: a bad fixed setting (each trial's optimizer is built); two
        optimizers of the list that make the same runs (e.g. ``sgd`` and ``sgd:momentum=0``).
    """
    entries = []
    for p in spec.problems:
        for name, fixed in spec.optimizers:
            label = optimizer_label(name, fixed)
            for i, hyper in enumerate(draw_trials(name, fixed, spec.budget, spec.seed)):
                run = problems[p].run(name, hyper, spec.seed + i, epochs=spec.epochs)
                build_run_optimizer(run)
                entries.append(Entry(p, label, "tuning", i, run))
    owners: dict[Key, str] = {}
    for e in entries:
        other = owners.setdefault(e.key, e.label)
        if other != e.label:
            raise InvalidParameterError(
                f"The optimizers {other} and {e.label} make the same runs; list one of them."
            )
    return entries


def rerun_entries(
    spec: ProtocolSpec,
    problems: Mapping[str, Problem],
    trials: Sequence[Entry],
    best: Mapping[tuple[str, str], int],
) -> list[Entry]:
    """The reruns: for every problem and optimizer label, its best trial (``best``) with every
    rerun seed."""
    by_trial = {(e.problem, e.label, e.trial): e for e in trials}
    out = []
    for p in spec.problems:
        for name, fixed in spec.optimizers:
            label = optimizer_label(name, fixed)
            b = best[(p, label)]
            hyper = by_trial[(p, label, b)].run.hyperparameters
            for s in spec.seeds:  # type: ignore[union-attr]
                run = problems[p].run(name, hyper, s, epochs=spec.epochs)
                out.append(Entry(p, label, "rerun", b, run))
    return out


def _chunks(spec: ProtocolSpec, entries: Sequence[Entry], phase: str) -> list[list[int]]:
    """The populations of a phase: tuning, each problem's trials cut by :func:`plan`;
    reruns, one population per problem and optimizer."""
    by_problem: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_problem.setdefault(e.problem, []).append(i)
    chunks = []
    for members in by_problem.values():
        if phase == "tuning":
            runs = [entries[i].run for i in members]
            chunks += [[members[j] for j in c] for c in plan(runs, spec.chunk_size)]
        else:
            per = len(spec.seeds)  # type: ignore[arg-type]
            chunks += [members[a : a + per] for a in range(0, len(members), per)]
    return chunks


# ----------------------------------------------------------------------------- one population


def _train_chunk(task: tuple[str, str, list[Run], str, bool], shared: tuple[Any, Any]) -> dict:
    """Train one population with validation after every epoch (a worker's task).

    ``task``: problem name, its metric, the runs, the engine, and whether the engine is
    ``auto``'s choice (then a configuration the compiled engine refuses trains with numpy).
    Returns the rows of :func:`~descentlab.experiments.population.train_population`'s form,
    each with its validation ``curve`` (the metric after every epoch until it stopped), and
    ``clock``: the population's wall time at the end of every epoch, counted from the start
    of the training loop (the setup before it — initialisation, loading the compiled
    engine's code — is left out: it is not the optimizer's).

    Training runs its BLAS products on one thread where that is faster
    (:data:`descentlab.training.ONE_BLAS_THREAD`), in any process.
    """
    problem, metric, runs, engine, fallback = task
    datasets, tick = shared
    data: ExperimentData = datasets[problem]
    population = Population(runs, data)
    clock: list[float] = []
    start = time.perf_counter()

    def on_epoch(epoch: int, logs: dict[str, Any]) -> None:
        clock.append(time.perf_counter() - start)
        if tick is not None:
            tick(len(runs), epoch, runs[0].epochs)

    def train(engine: str) -> Any:
        return population.train(validation=True, eval_every=1, on_epoch=on_epoch, engine=engine)

    note = ""
    try:
        result = train(engine)
    except InvalidParameterError as exc:
        if not (fallback and engine == "compiled"):
            raise
        clock.clear()
        start = time.perf_counter()
        result, note = train("numpy"), f"the compiled engine refused it: {exc}"
    if result.status == "interrupted":
        raise KeyboardInterrupt
    setup = max(0.0, (time.perf_counter() - start) - result.seconds)  # before the loop ran
    clock = [max(c - setup, 1e-9) for c in clock]
    metrics = evaluate(population.net, result.params, data)
    seconds = time.perf_counter() - start
    curves = result.history.val_accuracy if metric == "accuracy" else result.history.val_cost
    curves = np.asarray(curves, dtype=float).reshape(len(curves), -1)
    last = np.where(result.stopped_epoch >= 0, result.stopped_epoch, result.history.n_epochs - 1)
    cost = np.asarray(result.history.cost, dtype=float).reshape(result.history.n_epochs, -1)
    rows = []
    for i, r in enumerate(population.runs):
        k = population.position[i]
        rows.append(
            {
                "run_id": r.run_id(),
                **{name: float(v[k]) for name, v in metrics.items()},
                "final_cost": float(cost[last[k], k]),
                "diverged": bool(result.diverged[k]),
                "stopped_epoch": int(result.stopped_epoch[k]),
                "seconds": seconds / len(runs),
                "engine": result.engine,
                "engine_note": note or result.engine_note,
                "curve": curves[: last[k] + 1, k].tolist(),
            }
        )
    return {"rows": rows, "clock": clock}


def _to_target(
    problem: Problem, curve: Sequence[float], clock: Sequence[float], spe: int
) -> tuple[float, float]:
    """``(steps, seconds)`` to the target: at the end of the first epoch whose validation
    metric reaches it, or ``(inf, inf)``."""
    e = first_reached(problem.reached(np.asarray(curve, dtype=float)))
    if e is None:
        return float("inf"), float("inf")
    return float((e + 1) * spe), float(clock[e])


# ----------------------------------------------------------------------------- the run


@dataclass
class ProtocolResult:
    """What :func:`run_protocol` did.

    Attributes:
      out_dir: the folder; ``status``: ``completed`` or ``interrupted``.
      rows: every row of ``results.csv`` (text cells), in plan order.
      n_runs: runs of the whole protocol; ``n_new``: runs trained by this call.
      summary: the content of ``summary.json`` (None unless completed).
      seconds: wall time of this call; ``files``: the files written (relative to ``out_dir``).
    """

    out_dir: Path
    status: str
    rows: list[dict[str, str]]
    n_runs: int
    n_new: int
    summary: dict[str, Any] | None
    seconds: float
    files: list[str] = field(default_factory=list)


@dataclass
class _Protocol:
    """A protocol checked and ready to train (nothing of it written yet).

    ``done``: the finished rows by ``(problem, run_id)``; ``found``: rows of ``results.csv``
    not yet matched to a run (reruns, matched once tuning is done).
    """

    spec: ProtocolSpec
    out: Path
    problems: dict[str, Problem]
    infos: list[dict[str, Any]]
    data: dict[str, ExperimentData]
    trials: list[Entry]
    columns: list[str]
    done: dict[Key, dict[str, str]]
    found: dict[Key, dict[str, str]]
    stored: bool
    say: Callable[[str], None]
    reruns: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: str = ""

    @property
    def n_runs(self) -> int:
        return len(self.trials) + len(self.spec.problems) * len(self.spec.optimizers) * len(
            self.spec.seeds  # type: ignore[arg-type]
        )

    def record(self, entries: Sequence[Entry], outcome: Mapping[str, Any]) -> None:
        """Keep the rows of a trained population's runs that were missing."""
        for entry, m in zip(entries, outcome["rows"], strict=True):
            problem = self.problems[entry.problem]
            spe = self.infos_by_name[entry.problem]["steps_per_epoch"]
            steps, seconds = _to_target(problem, m["curve"], outcome["clock"], spe)
            row = protocol_row(entry, m, self.columns, steps, seconds)
            self.done.setdefault(entry.key, row)

    @property
    def infos_by_name(self) -> dict[str, dict[str, Any]]:
        return {i["name"]: i for i in self.infos}

    def rows(self) -> list[dict[str, str]]:
        """The finished rows in plan order, then rows read back but not matched yet."""
        order = [e.key for e in [*self.trials, *self.reruns]]
        return [self.done[k] for k in order if k in self.done] + list(self.found.values())

    def save(self) -> list[dict[str, str]]:
        rows = self.rows()
        atomic_write(self.out / "results.csv", results_csv_text(self.columns, rows))
        return rows

    def document(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "problems": self.infos,
            "created": self.created,
            "descentlab_version": __version__,
        }


def run_protocol(
    spec: ProtocolSpec | None,
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
) -> ProtocolResult:
    """Run (or continue) the protocol ``spec`` and write its folder (module docstring).

    Args:
      spec: the protocol; None with ``resume`` means the one stored in ``out_dir``.
      out_dir: the folder (created if missing; one that holds a benchmark needs ``resume``).
      resume: continue the benchmark stored in ``out_dir``.
      jobs, backend, scheduler: where the populations train
        (:func:`~descentlab.experiments.parallel.map_unordered`).
      progress: a progress bar over the runs (None: only on a terminal).
      plots: draw the plots and write the report at the end.
      log: told a line now and then (the plan, why ``auto`` chose numpy, the end).
      engine: ``auto``, ``numpy`` or ``compiled``.

    Returns:
      a :class:`ProtocolResult`; ``interrupted`` on Ctrl-C (or SIGTERM turned into
      ``KeyboardInterrupt``): every finished population is in ``results.csv``.

    Raises:
      InvalidParameterError, DataError: bad settings, problems or data; a damaged or foreign
        ``protocol.json`` or ``results.csv``; a folder that holds another benchmark — all
        before anything is written.
    """
    say = log or (lambda _: None)
    start = time.perf_counter()
    check_engine("run_protocol", engine)
    bench = _prepare(spec, Path(out_dir), resume, backend, jobs, scheduler, say)
    if engine == "compiled":
        _check_compiled(bench)
    bench.out.mkdir(parents=True, exist_ok=True)
    if not bench.stored:
        atomic_write(bench.out / "protocol.json", json.dumps(bench.document(), indent=1) + "\n")
    bench.save()
    total = bench.n_runs
    say(
        f"descentlab benchmark: {len(bench.spec.problems)} problems × "
        f"{len(bench.spec.optimizers)} optimizers: {bench.spec.budget} trials each, then "
        f"{len(bench.spec.seeds)} rerun seeds ({total} runs"  # type: ignore[arg-type]
        + (f", {len(bench.done)} already done" if bench.done else "")
        + f"); writing {bench.out}"
    )
    status, n_new = "completed", 0
    with Progress(total, "benchmark", enabled=progress, unit="run") as bar:
        try:
            n_new += _train_phase(bench, "tuning", jobs, backend, scheduler, engine, bar)
            _plan_reruns(bench)
            n_new += _train_phase(bench, "rerun", jobs, backend, scheduler, engine, bar)
        except KeyboardInterrupt:
            status = "interrupted"
    rows = bench.save()
    summary, files = None, ["protocol.json", "results.csv"]
    if status == "completed":
        from descentlab.experiments.protocol_report import write_outputs

        summary, written = write_outputs(
            bench.out, bench.spec, bench.infos, rows, plots=plots, created=bench.created
        )
        files += written
    seconds = time.perf_counter() - start
    say(
        f"descentlab benchmark: done in {seconds:.1f} s ({n_new} runs trained); report "
        f"{bench.out / 'report.html'}"
        if status == "completed"
        else f"descentlab benchmark: interrupted; {len(rows)} of {total} runs saved in "
        f"{bench.out / 'results.csv'}. Continue with: descentlab benchmark --resume --out "
        f"{bench.out}"
    )
    return ProtocolResult(bench.out, status, rows, total, n_new, summary, seconds, files)


# ----------------------------------------------------------------------------- step 1: check


def _prepare(
    spec: ProtocolSpec | None,
    out: Path,
    resume: bool,
    backend: str,
    jobs: int,
    scheduler: Any,
    say: Callable[[str], None],
) -> _Protocol:
    """Read and check everything the protocol needs (module docstring); write nothing."""
    check_backend(backend, jobs, scheduler)
    check_writable(out, folder=True)
    stored = read_protocol_json(out / "protocol.json")
    if stored is None:
        if resume:
            raise InvalidParameterError(
                f"Nothing to resume: '{out / 'protocol.json'}' does not exist."
            )
        if (out / "results.csv").exists():
            raise InvalidParameterError(
                f"'{out}' holds a results.csv but no protocol.json; choose another --out."
            )
        check_param("run_protocol", "spec", spec, ProtocolSpec)
        assert spec is not None
    else:
        if not resume:
            raise InvalidParameterError(
                f"'{out}' already holds a benchmark; continue it with --resume or choose "
                "another --out."
            )
        if spec is not None and spec != stored[0]:
            raise InvalidParameterError(
                f"'{out}' holds a different benchmark than the options given; run --resume with "
                "the same options (or with --out alone) to continue it."
            )
        spec = stored[0]
    problems = {p: load_problem(p) for p in spec.problems}
    data = {p: problems[p].data() for p in spec.problems}
    infos = [problem_info(problems[p], spec.epochs) for p in spec.problems]
    if stored is not None:
        _check_same_problems(out, stored[1], infos)
    trials = trial_entries(spec, problems)
    _check_memory(spec, problems, data, trials)
    columns = protocol_columns([e.run for e in trials])
    budgets = {i["name"]: i["epochs"] * i["steps_per_epoch"] for i in infos}
    damaged: list[str] = []
    read = read_protocol_rows(
        out / "results.csv",
        columns,
        budgets,
        [optimizer_label(n, f) for n, f in spec.optimizers],
        spec.budget,
        on_damaged=lambda n, why: damaged.append(f"line {n}: {why}"),
    )
    done = match_rows(read, trials, columns, on_damaged=damaged.append)
    found = {k: v for k, v in read.items() if k not in done and v["phase"] == "rerun"}
    if damaged:
        say(
            f"descentlab benchmark: {len(damaged)} damaged row(s) in {out / 'results.csv'} "
            f"({damaged[0]}); their populations are trained again"
        )
    created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return _Protocol(
        spec,
        out,
        problems,
        infos,
        data,
        trials,
        columns,
        done,
        found,
        stored is not None,
        say,
        created=stored[2] if stored is not None else created,
    )


def _check_memory(
    spec: ProtocolSpec,
    problems: Mapping[str, Problem],
    data: Mapping[str, ExperimentData],
    trials: Sequence[Entry],
) -> None:
    """Set up the largest tuning population and a rerun population of every problem (memory
    and optimizers), before anything is written."""
    for p in spec.problems:
        own = [e.run for e in trials if e.problem == p]
        check_populations(own, plan(own, spec.chunk_size), data[p])
        for head in (e for e in trials if e.problem == p and e.trial == 0):
            stand_in = [
                problems[p].run(head.run.optimizer, head.run.hyperparameters, s, epochs=spec.epochs)
                for s in spec.seeds  # type: ignore[union-attr]
            ]
            Population(stand_in, data[p])


def _check_compiled(bench: _Protocol) -> None:
    """With ``engine="compiled"`` named: refuse, before anything is written, a problem and
    optimizer the compiled engine cannot train (an MSE network, ``reduce_on_plateau``)."""
    from descentlab.compiled import unsupported

    for p in bench.spec.problems:
        for head in (e for e in bench.trials if e.problem == p and e.trial == 0):
            population = Population([head.run], bench.data[p])
            why = unsupported(population.net, population.optimizer, 1)
            if why:
                raise InvalidParameterError(
                    f"The compiled engine cannot train {head.run.optimizer} on {p}: it does not "
                    f"support {why}. Use --engine auto (it falls back to numpy) or numpy."
                )


def _check_same_problems(
    out: Path, stored: Sequence[Mapping[str, Any]], now: Sequence[Mapping[str, Any]]
) -> None:
    for old, new in zip(stored, now, strict=True):
        if old != new:
            changed = sorted(k for k in new if old.get(k) != new.get(k))
            raise InvalidParameterError(
                f"The problem {new['name']!r} has changed since the benchmark in '{out}' was "
                f"started ({', '.join(changed)}); start a new benchmark (another --out)."
            )


# ----------------------------------------------------------------------------- step 2: train


def _plan_reruns(bench: _Protocol) -> None:
    """The reruns, from the best trial of every problem and optimizer; rows read back that are
    theirs are kept, the others dropped."""
    from descentlab.experiments.protocol_summary import best_trials

    rows = [bench.done[e.key] for e in bench.trials]
    bench.reruns = rerun_entries(
        bench.spec, bench.problems, bench.trials, best_trials(bench.spec, bench.infos, rows)
    )
    dropped: list[str] = []
    bench.done.update(match_rows(bench.found, bench.reruns, bench.columns, dropped.append))
    leftover = [k for k in bench.found if k not in bench.done]
    if leftover:
        why = dropped[0] if dropped else "they are not reruns of the best trials"
        bench.say(
            f"descentlab benchmark: {len(leftover)} row(s) of reruns in results.csv are "
            f"dropped ({why})"
        )
    bench.found = {}


def _train_phase(
    bench: _Protocol,
    phase: str,
    jobs: int,
    backend: str,
    scheduler: Any,
    engine: str,
    bar: Progress,
) -> int:
    """Train the populations of ``phase`` that miss a run, saving ``results.csv`` after each;
    the number of runs trained."""
    entries = bench.trials if phase == "tuning" else bench.reruns
    chunks = [
        c
        for c in _chunks(bench.spec, entries, phase)
        if any(entries[i].key not in bench.done for i in c)
    ]
    if not chunks:
        bar.update(len(bench.done))
        return 0
    engines = _engines(bench, entries, chunks, engine)
    tasks = [
        (
            entries[c[0]].problem,
            bench.infos_by_name[entries[c[0]].problem]["metric"],
            [entries[i].run for i in c],
            *engines[entries[c[0]].problem],
        )
        for c in chunks
    ]
    here = backend == "local" and (resolve_jobs(jobs) == 1 or len(tasks) <= 1)
    finished = len(bench.done)

    def tick(n_runs: int, epoch: int, epochs: int) -> None:
        bar.update(finished + (n_runs * (epoch + 1)) // epochs)

    warm = warm_up(backend, jobs) if len(tasks) > 1 else None
    if warm is not None:
        warm.join()
    trained = 0
    for index, outcome in map_unordered(
        _train_chunk,
        tasks,
        shared=(bench.data, tick if here and bar.enabled else None),
        backend=backend,
        jobs=jobs,
        scheduler=scheduler,
    ):
        bench.record([entries[i] for i in chunks[index]], outcome)
        bench.save()
        trained += len(chunks[index])
        finished = len(bench.done)
        bar.update(finished)
        for m in outcome["rows"]:
            if m["engine_note"] and m["engine_note"] not in bench.notes:
                bench.notes.append(m["engine_note"])
                bench.say(engine_message(m["engine_note"]))
    return trained


def _engines(
    bench: _Protocol, entries: Sequence[Entry], chunks: Sequence[Sequence[int]], engine: str
) -> dict[str, tuple[str, bool]]:
    """Per problem, the engine of this phase's populations and whether it is ``auto``'s choice:
    decided once from the largest population (:func:`descentlab.compiled.resolve`)."""
    out: dict[str, tuple[str, bool]] = {}
    largest: dict[str, Sequence[int]] = {}
    for c in chunks:
        p = entries[c[0]].problem
        if len(c) > len(largest.get(p, ())):
            largest[p] = c
    for p, c in largest.items():
        if engine != "auto":
            out[p] = (engine, False)
            continue
        from descentlab.compiled import resolve

        runs = [entries[i].run for i in c]
        population = Population(runs, bench.data[p])
        net = population.net
        chosen, why = resolve(
            engine,
            n_params=net.n_params,
            members=len(runs),
            m=bench.data[p].train.X.shape[1],
            batch_size=runs[0].batch_size,
            epochs=runs[0].epochs,
            layer_dims=net.layer_dims,
            net=net,
            optimizer=population.optimizer,
        )
        if why and why not in bench.notes:
            bench.notes.append(why)
            bench.say(engine_message(why))
        out[p] = (chosen, True)
    return out
