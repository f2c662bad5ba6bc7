"""The benchmark protocol's outputs: its tables, plots, ``summary.json`` and ``report.html``,
all made from ``protocol.json`` and ``results.csv`` (:func:`write_outputs`), so that
:func:`replot` rebuilds them from a finished folder without training anything.

Figures are :class:`matplotlib.figure.Figure` objects (no ``pyplot``) written atomically; the
report embeds them and escapes every text that comes from the files.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descentlab._validation import DataError
from descentlab.experiments.profiles import TAU_MAX, performance_profile
from descentlab.experiments.protocol_results import read_protocol_rows
from descentlab.experiments.protocol_spec import optimizer_label, read_protocol_json
from descentlab.experiments.protocol_summary import summarize
from descentlab.experiments.tuning import SEARCH_SPACES, search_space
from descentlab.io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FIGURES",
    "describe",
    "jsonable",
    "plot_performance_profiles",
    "plot_test_metric",
    "plot_tuning_budget",
    "replot",
    "scores_table",
    "table",
    "write_outputs",
]

FIGURES = {
    "tuning_budget.png": "Tuning budget: expected best validation metric after n random trials",
    "performance_profile.png": "Performance profiles: fraction of problems reached within "
    "tau times the fastest optimizer (time and steps)",
    "test_metric.png": "Test metric of the best setting on the fresh seeds (each seed, and mean "
    "± std)",
}
"""The figures, by file name, with their captions (in report order)."""

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_STYLES = ("-", "--", "-", "-.", ":", "--", "-")


def _style(j: int) -> dict[str, Any]:
    return {"color": _COLORS[j % len(_COLORS)], "linestyle": _STYLES[j % len(_STYLES)]}


# ----------------------------------------------------------------------------- tables


def _fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"


def _target(problem: Mapping[str, Any]) -> str:
    sign = ">=" if problem["metric"] == "accuracy" else "<="
    return f"val {problem['metric']} {sign} {problem['target']:g}"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if math.isfinite(value) else "not reached"


def table(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: per problem and optimizer, the best trial's searched settings and
    validation metric, the reruns' test metric (mean ± std), how many seeds reached the target
    and the median steps and time to it."""
    header = [
        "problem",
        "optimizer",
        "best trial",
        "val (best trial)",
        "test (mean ± std)",
        "reached",
        "steps to target",
        "time to target",
    ]
    rows = []
    for e in summary["entries"]:
        t = e["test"]
        settings = ", ".join(f"{_short(k)} {v:.3g}" for k, v in e["hyperparameters"].items())
        rows.append(
            [
                e["problem"],
                e["optimizer"],
                f"#{e['best_trial']}: {settings}" if settings else f"#{e['best_trial']}",
                _fmt(e["best_val"]),
                f"{_fmt(t['mean'])} ± {_fmt(t['std'])}" if math.isfinite(t["mean"]) else "-",
                f"{e['reached']}/{len(e['steps'])}",
                f"{e['median_steps']:.0f}" if math.isfinite(e["median_steps"]) else "not reached",
                _seconds(e["median_seconds"]),
            ]
        )
    return header, rows


def _short(name: str) -> str:
    return "lr" if name == "learning_rate" else name


def scores_table(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: per optimizer, its performance-profile scores (time and steps) and
    the problems whose median seed reached the target."""
    header = ["optimizer", "score (time)", "score (steps)", "problems reached"]
    n = len(summary["problems"])
    rows = []
    for j, label in enumerate(summary["optimizers"]):
        ratios = np.asarray(summary["profiles"]["time"]["ratios"], dtype=float)[:, j]
        rows.append(
            [
                label,
                f"{summary['profiles']['time']['score'][j]:.3f}",
                f"{summary['profiles']['steps']['score'][j]:.3f}",
                f"{int(np.isfinite(ratios).sum())}/{n}",
            ]
        )
    return header, rows


def describe(summary: Mapping[str, Any]) -> list[str]:
    """A few sentences read off the numbers: the fastest optimizer per problem and overall."""
    lines = []
    labels = summary["optimizers"]
    for i, problem in enumerate(summary["problems"]):
        row = summary["entries"][i * len(labels) : (i + 1) * len(labels)]
        reached = [e for e in row if math.isfinite(e["median_seconds"])]
        if not reached:
            lines.append(f"On {problem['name']} no optimizer reached {_target(problem)}.")
            continue
        fastest = min(reached, key=lambda e: e["median_seconds"])
        lines.append(
            f"On {problem['name']}, {fastest['optimizer']} reached {_target(problem)} fastest: "
            f"median {fastest['median_seconds']:.2f} s ({fastest['median_steps']:.0f} steps)."
        )
    scores = summary["profiles"]["time"]["score"]
    best = int(np.argmax(scores))
    lines.append(
        f"Across the problems, {labels[best]} has the best performance-profile score "
        f"({scores[best]:.3f} of 1: the area under its profile over tau in [1, {TAU_MAX:g}], "
        f"divided by {TAU_MAX - 1:g})."
    )
    return lines


# ----------------------------------------------------------------------------- plots


def _panels(n: int, height: float = 3.6) -> tuple[Figure, list[Any]]:
    from matplotlib.figure import Figure

    from descentlab.plots import DPI

    cols = min(n, 3)
    rows = -(-n // cols)
    fig = Figure(figsize=(4.4 * cols, height * rows), dpi=DPI)
    axes = [fig.add_subplot(rows, cols, k + 1) for k in range(n)]
    return fig, axes


def plot_tuning_budget(summary: Mapping[str, Any]) -> Figure:
    """One panel per problem: per optimizer, the expected best validation metric after n
    random trials (n = 1..budget), with the target as a dotted line."""
    from matplotlib.ticker import MaxNLocator

    problems = summary["problems"]
    labels = summary["optimizers"]
    fig, axes = _panels(len(problems))
    n = np.arange(1, summary["budget"] + 1)
    for i, (ax, problem) in enumerate(zip(axes, problems, strict=True)):
        for j, label in enumerate(labels):
            curve = summary["entries"][i * len(labels) + j]["budget_curve"]
            ax.plot(n, curve, marker="o", markersize=3, label=label, **_style(j))
        ax.axhline(problem["target"], color="#555", linestyle=":", linewidth=1, label="target")
        ax.set_title(problem["name"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("trials (random search)")
        ax.set_ylabel(f"expected best val {problem['metric']}")
        if problem["metric"] == "loss":
            finite = [
                v
                for j in range(len(labels))
                for v in summary["entries"][i * len(labels) + j]["budget_curve"]
                if math.isfinite(v) and v > 0
            ]
            if finite and problem["target"] > 0:
                ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _profile_taus(ratios: np.ndarray) -> np.ndarray:
    """The tau grid of a step plot on ``[1, TAU_MAX]``: both ends and every ratio between."""
    inside = ratios[np.isfinite(ratios) & (ratios >= 1) & (ratios <= TAU_MAX)]
    return np.unique(np.concatenate([[1.0, TAU_MAX], inside]))


def plot_performance_profiles(summary: Mapping[str, Any]) -> Figure:
    """Two panels, time and steps to target: per optimizer ``rho(tau)``, the fraction of the
    problems it reached within ``tau`` times the fastest optimizer, for tau in [1, 4]; the
    legend gives the score (the area under ``rho`` divided by 3)."""
    fig, axes = _panels(2)
    labels = summary["optimizers"]
    for ax, kind in zip(axes, ("time", "steps"), strict=True):
        profile = summary["profiles"][kind]
        ratios = np.asarray(profile["ratios"], dtype=float)
        taus = _profile_taus(ratios)
        rho = performance_profile(ratios, taus)
        for j, label in enumerate(labels):
            ax.plot(
                taus,
                rho[:, j],
                drawstyle="steps-post",
                label=f"{label} ({profile['score'][j]:.2f})",
                **_style(j),
            )
        ax.set_xlim(1.0, TAU_MAX)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"tau (ratio to the fastest {'time' if kind == 'time' else 'step count'})")
        ax.set_ylabel("fraction of problems reached")
        ax.set_title(f"Performance profile: {kind} to target")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", title="optimizer (score)", title_fontsize=8)
    fig.tight_layout()
    return fig


def plot_test_metric(summary: Mapping[str, Any]) -> Figure:
    """One panel per problem: per optimizer, the test metric of its best setting on each fresh
    seed (small grey dots) and their mean (a dot) ± std (the bar)."""
    problems = summary["problems"]
    labels = summary["optimizers"]
    fig, axes = _panels(len(problems))
    x = np.arange(len(labels))
    for i, (ax, problem) in enumerate(zip(axes, problems, strict=True)):
        for j in range(len(labels)):
            entry = summary["entries"][i * len(labels) + j]
            seeds = np.asarray(entry["test_values"], dtype=float)
            ax.plot(np.full(seeds.size, x[j] + 0.18), seeds, ".", color="#999", markersize=4)
            t = entry["test"]
            ax.errorbar(
                x[j], t["mean"], yerr=t["std"], fmt="o", capsize=4, color=_COLORS[j % len(_COLORS)]
            )
        ax.set_xticks(x, labels, rotation=20, fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_title(problem["name"])
        if problem["metric"] == "accuracy":
            ax.set_ylabel("test accuracy")
            low, high = ax.get_ylim()
            ax.set_ylim(max(low, 0.0), min(high, 1.005))
        else:
            ax.set_ylabel("test loss")
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- files


def jsonable(x: Any) -> Any:
    """``x`` with every non-finite float as None (strict JSON)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    return x


def write_outputs(
    out: Path,
    spec: Any,
    infos: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, str]],
    *,
    plots: bool = True,
    created: str = "",
) -> tuple[dict[str, Any], list[str]]:
    """Write ``summary.json`` and (with ``plots``) the figures and ``report.html`` from the
    rows of a complete benchmark; return the summary and the files written.

    Raises:
      DataError: the rows miss a run, or their reruns are not those of the best trials.
    """
    summary = summarize(spec, infos, rows)
    text = json.dumps(jsonable(summary), indent=1, allow_nan=False) + "\n"
    atomic_write(out / "summary.json", text)
    files = ["summary.json"]
    if not plots:
        return summary, files
    from descentlab.plots import figure_png

    makers: dict[str, Callable[[Mapping[str, Any]], Figure]] = {
        "tuning_budget.png": plot_tuning_budget,
        "performance_profile.png": plot_performance_profiles,
        "test_metric.png": plot_test_metric,
    }
    images = {}
    for name, make in makers.items():
        images[name] = figure_png(make(summary))
        atomic_write(out / name, images[name])
    atomic_write(out / "report.html", render_report(summary, spec, infos, images, created))
    return summary, [*files, *images, "report.html"]


def replot(out_dir: str | Path, *, plots: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Rebuild ``summary.json``, the figures and ``report.html`` of the finished benchmark in
    ``out_dir`` from its ``protocol.json`` and ``results.csv`` alone (nothing is trained).

    Raises:
      DataError: a missing, damaged or foreign file; a benchmark that is not complete (a row
        that does not check out counts as missing).
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise DataError(f"'{out}' is not a benchmark folder: no such folder.")
    stored = read_protocol_json(out / "protocol.json")
    if stored is None:
        raise DataError(f"'{out}' is not a benchmark folder: it has no protocol.json.")
    spec, infos, created = stored
    if not (out / "results.csv").is_file():
        raise DataError(f"'{out}' is not a finished benchmark: it has no results.csv.")
    budgets = {i["name"]: i["epochs"] * i["steps_per_epoch"] for i in infos}
    labels = [optimizer_label(n, f) for n, f in spec.optimizers]
    rows = read_protocol_rows(out / "results.csv", None, budgets, labels, spec.budget)
    return write_outputs(out, spec, infos, list(rows.values()), plots=plots, created=created)


# ----------------------------------------------------------------------------- report.html


def render_report(
    summary: Mapping[str, Any],
    spec: Any,
    infos: Sequence[Mapping[str, Any]],
    images: Mapping[str, bytes],
    created: str = "",
) -> str:
    """The report page: tables, reading, plots, the protocol, the search spaces and the
    problems, as one self-contained HTML document."""
    from descentlab.report import html_figure, html_page, html_table

    esc = html.escape
    seeds = summary["seeds"]
    parts = [
        "<h1>Optimizer benchmark protocol</h1>",
        '<p class="meta">'
        + "<br>".join(
            [
                f"problems: {esc(', '.join(p['name'] for p in summary['problems']))}; "
                f"optimizers: {esc(', '.join(summary['optimizers']))}",
                f"{summary['budget']} random-search trials per optimizer and problem (seeds "
                f"{spec.seed}..{spec.seed + spec.budget - 1}), best setting rerun on "
                f"{len(seeds)} fresh seeds ({esc(_seed_text(seeds))})",
                f"training time {summary['training_seconds']:.1f} s (the populations' wall times "
                f"added up); engines: {esc(', '.join(summary['engines']))}"
                + (f"; started {esc(created)}" if created else ""),
            ]
        )
        + "</p>",
        "<h2>Results</h2>",
        html_table(*table(summary)),
        "<h2>Performance-profile scores</h2>",
        html_table(*scores_table(summary)),
        "<h2>Reading</h2><ul>",
        *[f"<li>{esc(s)}</li>" for s in describe(summary)],
        "</ul><h2>Plots</h2>",
        *[html_figure(png, FIGURES[name]) for name, png in images.items()],
        *_protocol_section(summary),
        *_search_space_section(spec),
        *_problems_section(infos),
        "<h2>Settings</h2>",
        f"<pre>{esc(json.dumps(spec.to_dict(), indent=2))}</pre>",
    ]
    return html_page("descentlab: benchmark protocol", parts)


def _seed_text(seeds: Sequence[int]) -> str:
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _protocol_section(summary: Mapping[str, Any]) -> list[str]:
    return [
        "<h2>Protocol</h2><ol>",
        "<li>Tuning: every optimizer gets the same number of random-search trials on every "
        "problem (log-uniform draws from the Crowded Valley search spaces below). Every trial "
        "is evaluated on the validation data after every epoch; the best trial has the best "
        "validation metric at the end of the budget (accuracy: highest; loss: lowest; a "
        "diverged trial is the worst).</li>",
        "<li>Tuning budget: the expected best validation metric after n trials is the mean, "
        "over all orderings of the trials, of the best of the first n — computed exactly, "
        "E_n = sum_k v_(k) [C(k, n) - C(k-1, n)] / C(N, n) over the sorted values; a diverged "
        "trial counts as the worst value (accuracy 0, or the largest finite validation "
        "loss).</li>",
        "<li>Reruns: the best setting is trained again on fresh seeds; the test metric is the "
        "mean ± standard deviation over them.</li>",
        "<li>Time to target: per rerun, the first epoch whose validation metric reaches the "
        "problem's target; steps = (epoch + 1) × steps per epoch, and the wall time of its "
        "population (all seeds of one optimizer trained in lock-step) at the end of that epoch. "
        "Not reached counts as infinite; per problem the median over the seeds.</li>",
        f"<li>Performance profiles (Dolan &amp; Moré 2002, AlgoPerf): r = t / (fastest "
        f"optimizer's t) per problem; rho(tau) = fraction of problems with r &lt;= tau; score "
        f"= area under rho over [1, {TAU_MAX:g}] / {TAU_MAX - 1:g}.</li></ol>",
    ]


def _search_space_section(spec: Any) -> list[str]:
    esc = html.escape
    rows = []
    for name, fixed in spec.optimizers:
        space = search_space(name, fixed)
        rows.append(
            [
                name,
                ", ".join(f"{k} ~ {d}" for k, d in space.items()) or "nothing (all fixed)",
                ", ".join(f"{k}={v}" for k, v in dict(fixed).items()) or "-",
                "table" if name in SEARCH_SPACES else "default rule",
            ]
        )
    from descentlab.report import html_table

    return [
        "<h2>Search spaces</h2>",
        html_table(["optimizer", "searched (log-uniform)", "fixed", "source"], rows),
        "<p>Ranges of Schmidt, Schneider &amp; Hennig, “Descending through a Crowded Valley” "
        "(ICML 2021); other settings at their defaults. "
        + esc("LU(a, b): log-uniform on [a, b).")
        + "</p>",
    ]


def _problems_section(infos: Sequence[Mapping[str, Any]]) -> list[str]:
    from descentlab.report import html_table

    rows = []
    for info in infos:
        d = info["describe"]
        rows.append(
            [
                str(info["name"]),
                str(info["summary"]),
                f"{d.get('n_train', '?')}/{d.get('n_val', '?')}/{d.get('n_test', '?')}",
                str(d.get("layer_dims", "?")),
                str(d.get("batch_size", "?")),
                f"{info['epochs']} × {info['steps_per_epoch']}",
                _target(info),
                str(info["reference"]),
            ]
        )
    header = [
        "problem",
        "summary",
        "train/val/test",
        "layer dims",
        "batch",
        "epochs × steps",
        "target",
        "reference",
    ]
    return ["<h2>Problems</h2>", html_table(header, rows)]
