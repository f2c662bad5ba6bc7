"""The tuned optimizer benchmark: tune each optimizer's learning rate, then measure on fresh seeds.

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
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from descentlab import __version__
from descentlab._validation import InvalidParameterError
from descentlab.experiments.data import load_experiment_data
from descentlab.experiments.population import Run, build_run_optimizer
from descentlab.experiments.results import result_columns, result_row, results_csv_text
from descentlab.experiments.specs import DatasetSpec
from descentlab.experiments.sweep import execute
from descentlab.experiments.sweep_space import Axis, canonical_optimizers, plan
from descentlab.io import atomic_write
from descentlab.plots import DPI, figure_png
from descentlab.progress import Progress

__all__ = [
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
        object.__setattr__(self, "optimizers", canonical_optimizers(self.optimizers))
        if self.learning_rates.name != "learning_rate":
            raise InvalidParameterError("The benchmark tunes the learning rate only.")
        if not self.tune_seeds or not self.eval_seeds:
            raise InvalidParameterError("The benchmark needs tuning seeds and evaluation seeds.")
        shared = sorted(set(self.tune_seeds) & set(self.eval_seeds))
        if shared:
            raise InvalidParameterError(
                f"The evaluation seeds must be fresh (not used for tuning); {shared} are in "
                "both. Choose --eval-seeds apart from --tune-seeds."
            )
        if not (self.untuned_lr > 0 and math.isfinite(self.untuned_lr)):
            raise InvalidParameterError(
                f"The untuned learning rate must be > 0. Got {self.untuned_lr!r}."
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
        d = asdict(self)
        d["dataset"] = {k: v for k, v in d["dataset"].items() if v is not None}
        d["optimizers"] = [[n, dict(s)] for n, s in self.optimizers]
        d["learning_rates"] = self.learning_rates.to_dict()
        return d


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


def _stats(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    return {
        "mean": float(finite.mean()) if finite.size else math.nan,
        "std": float(finite.std()) if finite.size else math.nan,
        "n": int(v.size),
    }


def run_benchmark(
    spec: BenchmarkSpec,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    backend: str = "local",
    scheduler: Any = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Tune, measure, and write the benchmark folder (see the module docstring).

    Returns:
      the content of ``benchmark.json``: ``spec``, ``dataset`` sizes, and ``optimizers``, one
      entry per optimizer with ``tuned_lr``, ``tuning`` (mean validation accuracy per rate),
      ``tuned`` and ``untuned`` (``lr``, and mean/std/n of ``test_accuracy``, ``test_cost``,
      ``train_accuracy``, ``final_cost``, plus ``diverged`` counts).

    Raises:
      InvalidParameterError, DataError: bad settings or data.
      KeyboardInterrupt: Ctrl-C (the folder keeps the spec and what was written so far).
    """
    say = log or (lambda _: None)
    start = time.perf_counter()
    lrs = [float(v) for v in spec.learning_rates.grid()]
    tune_runs, owner = [], []  # owner[i]: the index of run i's optimizer entry
    for j, (name, settings) in enumerate(spec.optimizers):
        for lr in lrs:
            for s in spec.tune_seeds:
                tune_runs.append(spec.run(name, settings, lr, s))
                owner.append(j)
    for name, settings in spec.optimizers:  # bad values fail here, before any training
        for lr in [*lrs, spec.untuned_lr]:
            build_run_optimizer(spec.run(name, settings, lr, 0))
    data = load_experiment_data(spec.dataset, validation=True, val_seed=spec.val_seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_eval = 2 * len(spec.optimizers) * len(spec.eval_seeds)
    say(
        f"descentlab benchmark: tuning {len(spec.optimizers)} optimizers over {len(lrs)} "
        f"learning rates × {len(spec.tune_seeds)} seeds ({len(tune_runs)} runs, "
        f"{spec.epochs} epochs), then up to {n_eval} runs on {len(spec.eval_seeds)} fresh seeds"
    )
    bar = Progress(len(tune_runs) + n_eval, "benchmark", enabled=progress, unit="run")
    done = 0

    def train_all(runs: list[Run]) -> list[dict[str, Any]]:
        nonlocal done
        rows: list[dict[str, Any]] = [{} for _ in runs]
        for indices, measured in execute(
            runs,
            plan(runs, spec.chunk_size),
            data,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
        ):
            for i, m in zip(indices, measured, strict=True):
                rows[i] = m
            done += len(indices)
            bar.update(done)
        return rows

    try:
        tune_rows = train_all(tune_runs)
        columns = result_columns(tune_runs)
        atomic_write(
            out / "tuning.csv",
            results_csv_text(
                columns,
                [result_row(r, m, columns) for r, m in zip(tune_runs, tune_rows, strict=True)],
            ),
        )
        entries = []
        eval_runs: list[Run] = []
        for j, (name, settings) in enumerate(spec.optimizers):
            own = [
                {"learning_rate": r.learning_rate, **m}
                for r, m, o in zip(tune_runs, tune_rows, owner, strict=True)
                if o == j
            ]
            tuned, curve = pick_learning_rate(own)
            entries.append(
                {"name": name, "settings": dict(settings), "tuned_lr": tuned, "tuning": curve}
            )
            for lr in dict.fromkeys([tuned, spec.untuned_lr]):
                eval_runs += [spec.run(name, settings, lr, s) for s in spec.eval_seeds]
        say(
            "descentlab benchmark: tuned learning rates "
            + ", ".join(f"{e['name']} {e['tuned_lr']:.3g}" for e in entries)
        )
        bar.total = max(1, len(tune_runs) + len(eval_runs))
        eval_rows = train_all(eval_runs)
    finally:
        bar.close()
    columns = result_columns(eval_runs)
    atomic_write(
        out / "evaluation.csv",
        results_csv_text(
            columns, [result_row(r, m, columns) for r, m in zip(eval_runs, eval_rows, strict=True)]
        ),
    )
    measured = {r.run_id(): m for r, m in zip(eval_runs, eval_rows, strict=True)}
    for entry, (name, settings) in zip(entries, spec.optimizers, strict=True):
        for key, lr in (("tuned", entry["tuned_lr"]), ("untuned", spec.untuned_lr)):
            rows = [measured[spec.run(name, settings, lr, s).run_id()] for s in spec.eval_seeds]
            entry[key] = {
                "lr": lr,
                **{
                    metric: _stats([r[metric] for r in rows])
                    for metric in ("test_accuracy", "test_cost", "train_accuracy", "final_cost")
                },
                "diverged": int(sum(r["diverged"] for r in rows)),
            }
    results = {
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "descentlab_version": __version__,
        "spec": spec.to_dict(),
        "dataset": {**data.summary(), "name": spec.dataset.short_name},
        "layer_dims": list(data.layer_dims(spec.layers)),
        "seconds": time.perf_counter() - start,
        "optimizers": entries,
    }
    atomic_write(out / "benchmark.json", json.dumps(results, indent=2, default=_json) + "\n")
    _write_plots_and_report(out, results, tune_runs, tune_rows)
    say(f"descentlab benchmark: done in {results['seconds']:.1f} s; report {out / 'report.html'}")
    return results


def _json(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


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
