"""The tuned optimizer benchmark: tune each optimizer's learning rate, then measure on fresh seeds.

This is the single-dataset benchmark (``descentlab benchmark`` without ``--problems``). The
field's protocol on the problem suite — random-search budgets, time to target, performance
profiles — is :mod:`~descentlab.experiments.protocol`.

An untuned comparison (every optimizer at the seed's ``alpha = 0.0007``) says more about the
learning rate than about the optimizers. The protocol here follows DeepOBS (Schneider et
al., 2019) and Sivaprasad et al., "Optimizer Benchmarking Needs to Account for
Hyperparameter Tuning" (ICML 2020):

1. **Tune** — for each optimizer, train every learning rate of a grid with the tuning seeds;
   pick the rate with the best mean *validation* accuracy (ties: the lower mean validation
   cost).
2. **Measure** — train each optimizer at its tuned rate, and at the untuned seed setting
   (``0.0007``), with *fresh* seeds (not used for tuning); report *test* accuracy and test
   cost as mean ± standard deviation over those seeds.

Validation and test data are those of a sweep (:func:`~descentlab.experiments.data.load_experiment_data`:
fresh samples of the generator for ``moons``). All runs of a phase are trained as stacked
populations (:mod:`~descentlab.experiments.population`) on any backend. The defaults are the
seed's problem: the seed's 300 moons examples, ``[2, 5, 2, 1]``, mini-batches of 64, 10000
epochs, gd / momentum (beta 0.9) / Adam (the seed's epsilon).

:func:`run_benchmark` writes::

    <out>/
      benchmark.json      the spec, the tuned learning rates and the results
      tuning.csv          every tuning run (one row per learning rate and seed)
      evaluation.csv      every measuring run (tuned and untuned, one row per seed)
      lr_sensitivity.png  validation accuracy against the learning rate (tuning runs)
      test_accuracy.png   test accuracy per optimizer, tuned beside untuned, mean ± std
      report.html         one self-contained page with the table, plots and protocol

Everything is checked before the folder is made — the spec (bounded by
:mod:`descentlab.limits`), every optimizer at every rate, the data, the largest population of
each phase (its memory), the backend and the output folder — so bad input leaves nothing
behind. ``tuning.csv`` and ``evaluation.csv`` are rewritten (atomically) after every finished
chunk, so an interrupted benchmark (Ctrl-C, SIGTERM) keeps the runs it finished.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descentlab import __version__
from descentlab._validation import (
    LEARNING_RATE,
    InvalidParameterError,
    as_int,
    check_param,
)
from descentlab.experiments.data import ExperimentData, load_experiment_data
from descentlab.experiments.parallel import check_backend
from descentlab.experiments.population import (
    Population,
    Run,
    build_run_optimizer,
    engine_message,
)
from descentlab.experiments.results import (
    mean_std,
    result_columns,
    result_row,
    results_csv_text,
)
from descentlab.experiments.specs import DatasetSpec
from descentlab.experiments.sweep import check_engine, check_populations, execute
from descentlab.experiments.sweep_space import (
    AXIS_SCHEMA,
    BATCH_SIZE,
    SETUP_SCHEMA,
    Axis,
    check_run_count,
    check_seeds,
    check_training_setup,
    plan,
    spec_from_document,
)
from descentlab.io import atomic_write, check_writable, json_default
from descentlab.progress import Progress

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BENCHMARK_SPEC_SCHEMA",
    "SEED_LEARNING_RATE",
    "BenchmarkSpec",
    "describe",
    "pick_learning_rate",
    "plot_test_accuracy",
    "run_benchmark",
    "table",
]

SEED_LEARNING_RATE = 0.0007
"""The seed's untuned learning rate, measured beside every tuned one."""

_OWNER = "the benchmark"


@dataclass(frozen=True)
class BenchmarkSpec:
    """The benchmark's settings; the defaults are the seed's problem.

    Attributes:
      dataset: the data (validation and test sets as in a sweep).
      optimizers: ``(name, fixed settings)`` pairs.
      learning_rates: the tuning grid (an :class:`Axis` on ``learning_rate``).
      tune_seeds: seeds of the tuning runs.
      eval_seeds: fresh seeds of the measuring runs (disjoint from ``tune_seeds``).
      untuned_lr: the untuned setting measured beside the tuned one (the seed's 0.0007).
      epochs, batch_size, layers, activation, init, shuffle: the training setup.
      val_seed: seed of the validation sample (None: test seed + 1).
      chunk_size: the most runs in one population.

    Raises:
      InvalidParameterError: a field of the wrong type or out of range (the shared rules of
        :func:`~descentlab.experiments.sweep_space.check_training_setup`, seeds in
        ``[0, 2**32 - 1]`` and at most ``MAX_SEEDS`` of each kind); seeds used for both
        tuning and evaluation; more runs in all than ``MAX_RUNS``.
    """

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    optimizers: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("gd", {}),
        ("momentum", {}),
        ("adam", {}),
    )
    learning_rates: Axis = field(
        default_factory=lambda: Axis("learning_rate", low=1e-4, high=1e-1, points=8)
    )
    tune_seeds: tuple[int, ...] = tuple(range(5))
    eval_seeds: tuple[int, ...] = tuple(range(100, 110))
    untuned_lr: float = SEED_LEARNING_RATE
    epochs: int = 10000
    batch_size: int = 64
    layers: tuple[int, ...] = (5, 2)
    activation: str = "relu"
    init: str = "he"
    shuffle: str = "random"
    val_seed: int | None = None
    chunk_size: int = 32

    def __post_init__(self) -> None:
        check_training_setup(self, _OWNER)
        check_param(_OWNER, "learning_rates", self.learning_rates, Axis)
        if self.learning_rates.name != "learning_rate":
            raise InvalidParameterError("The benchmark tunes the learning rate only.")
        for key in ("tune_seeds", "eval_seeds"):
            object.__setattr__(self, key, check_seeds(_OWNER, key, getattr(self, key)))
        shared = sorted(set(self.tune_seeds) & set(self.eval_seeds))
        if shared:
            raise InvalidParameterError(
                f"The evaluation seeds must be fresh (not used for tuning); {shared[:10]} are in "
                "both. Choose --eval-seeds apart from --tune-seeds."
            )
        check_param(_OWNER, "untuned_lr", self.untuned_lr, LEARNING_RATE, allow_array=False)
        object.__setattr__(self, "untuned_lr", float(self.untuned_lr))
        object.__setattr__(
            self, "batch_size", as_int(_OWNER, "batch_size", self.batch_size, BATCH_SIZE)
        )
        n_opt, n_lr = len(self.optimizers), self.learning_rates.size
        n_tune, n_eval = len(self.tune_seeds), len(self.eval_seeds)
        check_run_count(
            _OWNER,
            n_opt * (n_lr * n_tune + 2 * n_eval),
            f"{n_opt} optimizers × ({n_lr} learning rates × {n_tune} tuning seeds + 2 × "
            f"{n_eval} evaluation seeds)",
        )

    def run(self, optimizer: str, settings: Mapping[str, Any], lr: float, seed: int) -> Run:
        return Run(
            optimizer,
            {**settings, "learning_rate": lr},
            None,
            {},
            self.batch_size,
            self.epochs,
            self.layers,
            self.activation,
            self.init,
            self.shuffle,
            seed,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict; :meth:`from_dict` rebuilds an equal spec."""
        d = asdict(self)
        d["dataset"] = {k: v for k, v in d["dataset"].items() if v is not None}
        d["optimizers"] = [[n, dict(s)] for n, s in self.optimizers]
        d["learning_rates"] = self.learning_rates.to_dict()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(
        cls, data: Any, source: str = "the benchmark spec", where: str = ""
    ) -> BenchmarkSpec:
        """The spec of :meth:`to_dict`'s form (the ``spec`` of ``benchmark.json``), checked
        as :meth:`SweepSpec.from_dict <descentlab.experiments.sweep_space.SweepSpec.from_dict>`
        checks a sweep's."""
        return spec_from_document(cls, data, BENCHMARK_SPEC_SCHEMA, source, where)


BENCHMARK_SPEC_SCHEMA: dict[str, Any] = {
    **SETUP_SCHEMA,
    "learning_rates": AXIS_SCHEMA,
    "tune_seeds": [int],
    "eval_seeds": [int],
    "untuned_lr": float,
    "batch_size": int,
}
"""The fields of :meth:`BenchmarkSpec.to_dict` and their types."""


def pick_learning_rate(rows: Sequence[Mapping[str, Any]]) -> tuple[float, dict[str, float]]:
    """The learning rate with the best mean validation accuracy over seeds (ties: the lowest
    mean validation cost, then the smaller rate); returns it and, per rate, the mean accuracy.

    >>> rows = [{"learning_rate": 0.1, "val_accuracy": 0.9, "val_cost": 0.3},
    ...         {"learning_rate": 0.01, "val_accuracy": 0.9, "val_cost": 0.2},
    ...         {"learning_rate": 0.001, "val_accuracy": 0.7, "val_cost": 0.5}]
    >>> pick_learning_rate(rows)[0]
    0.01
    """
    by_lr: dict[float, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_lr.setdefault(float(r["learning_rate"]), []).append(r)

    def score(lr: float) -> tuple[float, float, float]:
        group = by_lr[lr]
        acc = float(np.mean([r["val_accuracy"] for r in group]))
        cost = np.array([r["val_cost"] for r in group], dtype=float)
        mean_cost = float(cost.mean()) if np.all(np.isfinite(cost)) else math.inf
        return (-acc, mean_cost, lr)

    best = min(by_lr, key=score)
    return best, {lr: -score(lr)[0] for lr in sorted(by_lr)}


@dataclass
class _Benchmark:
    """A benchmark checked and ready to train (nothing written yet), and where it trains.

    Attributes:
      spec, out, data: the benchmark, its folder and its data.
      lrs: the tuning grid; ``tune_runs``: every tuning run, optimizer by optimizer
        (``owner[i]``: the index in ``spec.optimizers`` of run i's optimizer).
      jobs, backend, scheduler: where the chunks run; ``done``: the runs trained so far, over
        both phases.
      engine: the training engine asked for; ``notes``: why ``auto`` fell back to numpy, if
        it did (the distinct notes, in order).
    """

    spec: BenchmarkSpec
    out: Path
    data: ExperimentData
    lrs: list[float]
    tune_runs: list[Run]
    owner: list[int]
    jobs: int
    backend: str
    scheduler: Any
    engine: str = "auto"
    done: int = 0
    notes: list[str] = field(default_factory=list)

    def train(self, runs: list[Run], file: str, bar: Progress) -> list[dict[str, Any]]:
        """Train ``runs`` (rows in their order), rewriting ``file`` and moving ``bar`` after
        every chunk."""
        columns = result_columns(runs)
        rows: list[dict[str, Any] | None] = [None] * len(runs)
        chunks = plan(runs, self.spec.chunk_size)
        engine = self._resolve(runs, chunks)
        for indices, measured in execute(
            runs,
            chunks,
            self.data,
            jobs=self.jobs,
            backend=self.backend,
            scheduler=self.scheduler,
            engine=engine,
        ):
            for i, m in zip(indices, measured, strict=True):
                rows[i] = m
            finished = [
                result_row(r, m, columns) for r, m in zip(runs, rows, strict=True) if m is not None
            ]
            atomic_write(self.out / file, results_csv_text(columns, finished))
            self.done += len(indices)
            bar.update(self.done)
        return [m for m in rows if m is not None]

    def _resolve(self, runs: list[Run], chunks: list[list[int]]) -> str:
        """``auto`` decided once for every chunk of this phase (see
        :func:`descentlab.compiled.resolve`); why it chose numpy goes to ``notes``."""
        if self.engine != "auto" or not chunks:
            return self.engine
        from descentlab.compiled import resolve

        chunk = max(chunks, key=len)
        head = runs[chunk[0]]
        population = Population([runs[i] for i in chunk], self.data)
        net = population.net
        engine, why = resolve(
            self.engine,
            n_params=net.n_params,
            layer_dims=net.layer_dims,
            members=len(chunk),
            m=self.data.train.X.shape[1],
            batch_size=head.batch_size,
            epochs=head.epochs,
            net=net,
            optimizer=population.optimizer,
        )
        if why and why not in self.notes:
            self.notes.append(why)
        return engine


def run_benchmark(
    spec: BenchmarkSpec,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    engine: str = "auto",
) -> dict[str, Any]:
    """Tune, measure, and write the benchmark folder (see the module docstring).

    Four steps: check everything (nothing is written before), tune (``tuning.csv``), measure
    (``evaluation.csv``), then ``benchmark.json``, the plots and the report.

    ``engine`` is the training engine (:data:`~descentlab.training.ENGINES`): the CSV files
    say per run which ran, ``benchmark.json`` which was asked for (``engine``), which ran
    (``engines``) and why ``auto`` fell back to numpy (``engine_notes``); ``log`` is told that
    once.

    Returns:
      the content of ``benchmark.json``: ``spec``, ``dataset`` sizes, and ``optimizers``, one
      entry per optimizer with ``tuned_lr``, ``tuning`` (mean validation accuracy per rate),
      ``tuned`` and ``untuned`` (``lr``, and mean/std/n of ``test_accuracy``, ``test_cost``,
      ``train_accuracy``, ``final_cost``, plus ``diverged`` counts), ``engine``, ``engines``
      and ``engine_notes``.

    Raises:
      InvalidParameterError, DataError: bad settings or data, an output that cannot be
        written — before the folder is made.
      KeyboardInterrupt: Ctrl-C or SIGTERM (the folder keeps the runs finished so far).
    """
    say = log or (lambda _: None)
    start = time.perf_counter()
    bench = _prepare(spec, Path(out_dir), jobs, backend, scheduler, engine)
    bench.out.mkdir(parents=True, exist_ok=True)
    n_eval = 2 * len(spec.optimizers) * len(spec.eval_seeds)
    say(
        f"descentlab benchmark: tuning {len(spec.optimizers)} optimizers over {len(bench.lrs)} "
        f"learning rates × {len(spec.tune_seeds)} seeds ({len(bench.tune_runs)} runs, "
        f"{spec.epochs} epochs), then up to {n_eval} runs on {len(spec.eval_seeds)} fresh seeds"
    )
    total = len(bench.tune_runs) + n_eval
    with Progress(total, "benchmark", enabled=progress, unit="run") as bar:
        tune_rows = bench.train(bench.tune_runs, "tuning.csv", bar)
        if bench.notes:
            say(engine_message(bench.notes[0]))
        entries = _tuned_entries(bench, tune_rows)
        say(
            "descentlab benchmark: tuned learning rates "
            + ", ".join(f"{e['name']} {e['tuned_lr']:.3g}" for e in entries)
        )
        eval_runs = _evaluation_runs(spec, entries)
        bar.total = len(bench.tune_runs) + len(eval_runs)
        eval_rows = bench.train(eval_runs, "evaluation.csv", bar)
    _measured_entries(spec, entries, eval_runs, eval_rows)
    results = {
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "descentlab_version": __version__,
        "spec": spec.to_dict(),
        "dataset": {**bench.data.summary(), "name": spec.dataset.short_name},
        "layer_dims": list(bench.data.layer_dims(spec.layers)),
        "seconds": time.perf_counter() - start,
        "optimizers": entries,
        "engine": engine,
        "engines": sorted({r["engine"] for r in [*tune_rows, *eval_rows]}),
        "engine_notes": bench.notes,
    }
    atomic_write(
        bench.out / "benchmark.json", json.dumps(results, indent=2, default=json_default) + "\n"
    )
    _write_plots_and_report(bench.out, results, bench.tune_runs, tune_rows)
    say(
        f"descentlab benchmark: done in {results['seconds']:.1f} s; report {bench.out / 'report.html'}"
    )
    return results


def _prepare(
    spec: BenchmarkSpec, out: Path, jobs: int, backend: str, scheduler: Any, engine: str
) -> _Benchmark:
    """Check everything the benchmark needs — backend, engine, folder, every optimizer at
    every rate, the data, the largest population of both phases — and write nothing."""
    check_param("run_benchmark", "spec", spec, BenchmarkSpec)
    check_engine("run_benchmark", engine)
    check_backend(backend, jobs, scheduler)
    check_writable(out, folder=True)
    lrs = [float(v) for v in spec.learning_rates.grid()]
    tune_runs, owner = [], []
    for j, (name, settings) in enumerate(spec.optimizers):
        for lr in [*lrs, spec.untuned_lr]:  # bad values fail here, before any training
            build_run_optimizer(spec.run(name, settings, lr, 0))
        for lr in lrs:
            tune_runs += [spec.run(name, settings, lr, s) for s in spec.tune_seeds]
            owner += [j] * len(spec.tune_seeds)
    data = load_experiment_data(spec.dataset, validation=True, val_seed=spec.val_seed)
    check_populations(tune_runs, plan(tune_runs, spec.chunk_size), data)
    widest = [  # the evaluation phase at its largest: two rates per optimizer
        spec.run(name, settings, lr, s)
        for name, settings in spec.optimizers
        for lr in (lrs[0], spec.untuned_lr)
        for s in spec.eval_seeds
    ]
    check_populations(widest, plan(widest, spec.chunk_size), data)
    return _Benchmark(spec, out, data, lrs, tune_runs, owner, jobs, backend, scheduler, engine)


def _tuned_entries(bench: _Benchmark, tune_rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Per optimizer: its name, settings, the tuned learning rate and the tuning curve."""
    entries = []
    for j, (name, settings) in enumerate(bench.spec.optimizers):
        own = [
            {"learning_rate": r.learning_rate, **m}
            for r, m, o in zip(bench.tune_runs, tune_rows, bench.owner, strict=True)
            if o == j
        ]
        tuned, curve = pick_learning_rate(own)
        entries.append(
            {"name": name, "settings": dict(settings), "tuned_lr": tuned, "tuning": curve}
        )
    return entries


def _evaluation_runs(spec: BenchmarkSpec, entries: Sequence[Mapping[str, Any]]) -> list[Run]:
    """Every optimizer at its tuned rate and at the untuned one (once if they are equal),
    with the fresh seeds."""
    runs = []
    for entry, (name, settings) in zip(entries, spec.optimizers, strict=True):
        for lr in dict.fromkeys([entry["tuned_lr"], spec.untuned_lr]):
            runs += [spec.run(name, settings, lr, s) for s in spec.eval_seeds]
    return runs


def _measured_entries(
    spec: BenchmarkSpec,
    entries: list[dict[str, Any]],
    eval_runs: Sequence[Run],
    eval_rows: Sequence[Mapping[str, Any]],
) -> None:
    """Add ``tuned`` and ``untuned`` to every entry: the rate, mean/std/n of the test metrics
    over the fresh seeds, and the number of diverged runs."""
    measured = {r.run_id(): m for r, m in zip(eval_runs, eval_rows, strict=True)}
    for entry, (name, settings) in zip(entries, spec.optimizers, strict=True):
        for key, lr in (("tuned", entry["tuned_lr"]), ("untuned", spec.untuned_lr)):
            rows = [measured[spec.run(name, settings, lr, s).run_id()] for s in spec.eval_seeds]
            entry[key] = {
                "lr": lr,
                **{
                    metric: mean_std([r[metric] for r in rows])
                    for metric in ("test_accuracy", "test_cost", "train_accuracy", "final_cost")
                },
                "diverged": int(sum(r["diverged"] for r in rows)),
            }


# ----------------------------------------------------------------------------- table, plots, report


def table(results: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: per optimizer, the tuned rate and test accuracy / cost (mean ± std),
    then the same at the untuned rate."""
    untuned = results["spec"]["untuned_lr"]
    header = [
        "optimizer",
        "tuned lr",
        "test acc (tuned)",
        "test cost (tuned)",
        f"test acc (lr {untuned:g})",
        f"test cost (lr {untuned:g})",
    ]

    def pm(s: Mapping[str, float], digits: int) -> str:
        if not math.isfinite(s["mean"]):
            return "-"
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"

    rows = []
    for e in results["optimizers"]:
        t, u = e["tuned"], e["untuned"]
        rows.append(
            [
                _label(e),
                f"{e['tuned_lr']:.3g}",
                pm(t["test_accuracy"], 4),
                pm(t["test_cost"], 4),
                pm(u["test_accuracy"], 4),
                pm(u["test_cost"], 4),
            ]
        )
    return header, rows


def _label(entry: Mapping[str, Any]) -> str:
    settings = entry.get("settings") or {}
    if not settings:
        return entry["name"]
    return entry["name"] + ":" + ",".join(f"{k}={v}" for k, v in settings.items())


def plot_test_accuracy(results: Mapping[str, Any]) -> Figure:
    """Per optimizer, mean test accuracy (a dot) ± std (the bar) over the fresh seeds: tuned
    and untuned side by side. An 800 x 450 pixel figure."""
    from matplotlib.figure import Figure

    from descentlab.plots import DPI

    fig = Figure(figsize=(8, 4.5), dpi=DPI)
    ax = fig.add_subplot()
    entries = results["optimizers"]
    x = np.arange(len(entries))
    width = 0.3
    untuned = results["spec"]["untuned_lr"]
    for offset, key, color, label in (
        (-width / 2, "tuned", "#2ca02c", "tuned learning rate"),
        (width / 2, "untuned", "#7f7f7f", f"untuned (lr {untuned:g})"),
    ):
        means = [e[key]["test_accuracy"]["mean"] for e in entries]
        stds = [e[key]["test_accuracy"]["std"] for e in entries]
        ax.errorbar(
            x + offset, means, yerr=stds, fmt="o", markersize=7, capsize=5, color=color, label=label
        )
    ax.set_xticks(x, [f"{_label(e)}\n(tuned lr {e['tuned_lr']:.3g})" for e in entries])
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    low = min(
        [
            e[k]["test_accuracy"]["mean"] - e[k]["test_accuracy"]["std"]
            for e in entries
            for k in ("tuned", "untuned")
        ]
        + [1.0]
    )
    ax.set_ylim(max(0.0, math.floor(low * 10) / 10 - 0.05) if math.isfinite(low) else 0.0, 1.01)
    ax.set_xlim(-0.6, len(entries) - 0.4)
    ax.legend(loc="lower right")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(f"Test accuracy over {len(results['spec']['eval_seeds'])} fresh seeds")
    fig.tight_layout()
    return fig


def describe(results: Mapping[str, Any]) -> list[str]:
    """A few sentences read off the numbers: the best tuned optimizer, and what tuning changed."""
    entries = results["optimizers"]
    lines = []
    best = max(entries, key=lambda e: e["tuned"]["test_accuracy"]["mean"])
    t = best["tuned"]["test_accuracy"]
    lines.append(
        f"Tuned, {_label(best)} reached the best mean test accuracy, {t['mean']:.4f} ± "
        f"{t['std']:.4f} (learning rate {best['tuned_lr']:.3g})."
    )
    rest = [e for e in entries if e is not best]
    if rest:
        runner_up = max(rest, key=lambda e: e["tuned"]["test_accuracy"]["mean"])
        gap = t["mean"] - runner_up["tuned"]["test_accuracy"]["mean"]
        spread = max(t["std"], runner_up["tuned"]["test_accuracy"]["std"])
        if gap < spread:
            lines.append(
                f"Its lead over {_label(runner_up)} ({gap:.4f}) is smaller than the spread over "
                f"seeds (std up to {spread:.4f}): more seeds are needed to tell them apart."
            )
    untuned = results["spec"]["untuned_lr"]
    for e in entries:
        gain = e["tuned"]["test_accuracy"]["mean"] - e["untuned"]["test_accuracy"]["mean"]
        lines.append(
            f"{_label(e)}: tuning the learning rate from {untuned:g} to {e['tuned_lr']:.3g} "
            f"changed its mean test accuracy by {gain:+.4f}."
        )
        for key in ("tuned", "untuned"):
            if e[key]["diverged"]:
                lines.append(
                    f"{_label(e)} diverged in {e[key]['diverged']} of "
                    f"{e[key]['test_accuracy']['n']} {key} runs."
                )
    order_untuned = sorted(entries, key=lambda e: -e["untuned"]["test_accuracy"]["mean"])
    order_tuned = sorted(entries, key=lambda e: -e["tuned"]["test_accuracy"]["mean"])
    if [e["name"] for e in order_untuned] != [e["name"] for e in order_tuned]:
        lines.append(
            "Tuning changes the ranking: untuned "
            + " > ".join(_label(e) for e in order_untuned)
            + "; tuned "
            + " > ".join(_label(e) for e in order_tuned)
            + "."
        )
    return lines


def _write_plots_and_report(
    out: Path,
    results: Mapping[str, Any],
    tune_runs: Sequence[Run],
    tune_rows: Sequence[Mapping[str, Any]],
) -> None:
    from descentlab.experiments.sweep_plots import plot_lr_sensitivity
    from descentlab.plots import figure_png
    from descentlab.report import html_figure, html_page, html_table

    columns = result_columns(tune_runs)
    text_rows = [result_row(r, m, columns) for r, m in zip(tune_runs, tune_rows, strict=True)]
    images = {
        "Test accuracy, tuned and untuned (mean ± std over the fresh seeds)": figure_png(
            plot_test_accuracy(results)
        ),
        "Learning-rate sensitivity of the tuning runs (median and inter-quartile band)": figure_png(
            plot_lr_sensitivity(text_rows, "Tuning: validation accuracy against the learning rate")
        ),
    }
    atomic_write(out / "test_accuracy.png", next(iter(images.values())))
    atomic_write(out / "lr_sensitivity.png", list(images.values())[1])
    esc = html.escape
    spec = results["spec"]
    ds = results["dataset"]
    header, rows = table(results)
    parts = [
        f"<h1>Tuned optimizer benchmark: {esc(str(ds['name']))}</h1>",
        '<p class="meta">'
        + "<br>".join(
            [
                f"data: {esc(str(ds['name']))} — {ds['n_train']} training, {ds['n_val']} "
                f"validation and {ds['n_test']} test examples, {ds['n_features']} features, "
                f"{ds['n_classes']} classes",
                f"network: layer_dims {esc(str(results['layer_dims']))}, {spec['epochs']} epochs, "
                f"mini-batches of {spec['batch_size']}, init {esc(spec['init'])}",
                f"created {esc(str(results['created']))}, descentlab "
                f"{esc(str(results['descentlab_version']))}, {results['seconds']:.1f} s",
            ]
        )
        + "</p>",
        "<h2>Results</h2>",
    ]
    best = max(e["tuned"]["test_accuracy"]["mean"] for e in results["optimizers"])
    flags = [e["tuned"]["test_accuracy"]["mean"] == best for e in results["optimizers"]]
    parts.append(html_table(header, rows, flags))
    parts.append("<h2>Reading</h2><ul>")
    parts += [f"<li>{esc(s)}</li>" for s in describe(results)]
    parts.append("</ul><h2>Plots</h2>")
    parts.extend(html_figure(png, caption) for caption, png in images.items())
    grid = ", ".join(f"{v:.3g}" for v in Axis.from_dict(spec["learning_rates"]).grid())
    parts += [
        "<h2>Protocol</h2><ol>",
        f"<li>Tune: every learning rate of the grid ({esc(grid)}) with seeds "
        f"{esc(str(spec['tune_seeds']))}; pick the best mean <em>validation</em> accuracy "
        "(ties: lower validation cost).</li>",
        f"<li>Measure: the tuned rate and the untuned {spec['untuned_lr']:g} with the fresh "
        f"seeds {esc(str(spec['eval_seeds']))}; report <em>test</em> accuracy and cost as mean "
        "± standard deviation.</li>",
        "<li>Validation and test data never train a model; for generated data they are fresh "
        "samples of the generator.</li></ol>",
        "<h2>Tuning curves</h2><table><thead><tr><th>optimizer</th>"
        + "".join(f"<th>{v:.3g}</th>" for v in Axis.from_dict(spec["learning_rates"]).grid())
        + "</tr></thead><tbody>",
    ]
    for e in results["optimizers"]:
        cells = "".join(f"<td>{acc:.4f}</td>" for acc in e["tuning"].values())
        parts.append(f"<tr><td>{esc(_label(e))}</td>{cells}</tr>")
    parts += [
        "</tbody></table><p>Mean validation accuracy over the tuning seeds per learning rate.</p>",
        "<h2>Settings</h2>",
        f"<pre>{esc(json.dumps(spec, indent=2))}</pre>",
    ]
    atomic_write(out / "report.html", html_page("descentlab: tuned optimizer benchmark", parts))
