"""What the benchmark protocol's rows say: per problem and optimizer the best trial, the
tuning-budget curve, the reruns' test metric and times to target; across problems the
performance profiles. Computed from ``results.csv``'s rows alone (and the spec and problem
definitions of ``protocol.json``), so re-plotting needs no training.

Rules (see :mod:`~descentlab.experiments.tuning` and :mod:`~descentlab.experiments.profiles`
for the math):

- a trial's validation metric is ``val_accuracy`` (accuracy problems) or ``val_cost`` (loss
  problems) at the end of the budget; the best trial is
  :func:`~descentlab.experiments.tuning.best_trial`'s;
- in the tuning-budget curve a diverged trial (or a NaN metric) counts as the worst value: an
  accuracy of 0, or the largest finite validation loss of any trial on that problem (inf if
  there is none);
- the test metric of the reruns (``test_accuracy`` or ``test_cost``) is reported as mean ± std
  over the seeds whose value is finite (``n`` counts them all);
- per problem and optimizer the time (and steps) to target is the median over the rerun seeds,
  infinite when the median seed did not reach the target; the profiles compare these medians.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from descentlab._validation import DataError
from descentlab.experiments.profiles import (
    median_to_target,
    performance_ratios,
    profile_score,
)
from descentlab.experiments.protocol_spec import optimizer_label
from descentlab.experiments.results import mean_std
from descentlab.experiments.tuning import best_trial, expected_best_so_far, search_space

__all__ = ["best_trials", "group_rows", "summarize"]

Rows = Sequence[Mapping[str, str]]


def _num(cell: str) -> float:
    return float(cell)


def _labels(spec: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """``(label, optimizer name, fixed settings)`` of every optimizer of ``spec``."""
    return [(optimizer_label(n, f), n, dict(f)) for n, f in spec.optimizers]


def group_rows(spec: Any, rows: Rows, *, reruns: bool = True) -> dict[tuple[str, str], dict]:
    """Rows by ``(problem, label)``: ``{"tuning": [row of trial 0, 1, ...], "rerun": [row of
    seed ...]}``, in the spec's order of trials and seeds.

    Raises:
      DataError: a trial or (with ``reruns``) a rerun missing; reruns of different trials.
    """
    out: dict[tuple[str, str], dict] = {
        (p, label): {"tuning": {}, "rerun": {}}
        for p in spec.problems
        for label, _, _ in _labels(spec)
    }
    for r in rows:  # read back or trained: each of a problem and optimizer of ``spec``
        key = int(r["trial"]) if r["phase"] == "tuning" else int(r["seed"])
        out[(r["problem"], r["label"])][r["phase"]][key] = r
    missing = 0
    for group in out.values():
        group["tuning"] = [group["tuning"].get(i) for i in range(spec.budget)]
        group["rerun"] = [group["rerun"].get(s) for s in spec.seeds]
        missing += group["tuning"].count(None) + (group["rerun"].count(None) if reruns else 0)
        if reruns and len({r["trial"] for r in group["rerun"] if r is not None}) > 1:
            raise DataError("The reruns of one optimizer on one problem come from two trials.")
    if missing:
        raise DataError(
            f"The benchmark is not complete: {missing} runs are missing from results.csv; "
            "finish it with --resume."
        )
    return out


def _trials(group: Mapping[str, Any], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trials' validation metric, validation cost and diverged flags."""
    rows = group["tuning"]
    column = "val_accuracy" if metric == "accuracy" else "val_cost"
    values = np.array([_num(r[column]) for r in rows])
    cost = np.array([_num(r["val_cost"]) for r in rows])
    diverged = np.array([r["diverged"] == "true" for r in rows])
    return values, cost, diverged


def best_trials(spec: Any, infos: Sequence[Mapping[str, Any]], rows: Rows) -> dict:
    """The index of the best trial of every ``(problem, label)`` (every trial must be there)."""
    groups = group_rows(spec, rows, reruns=False)
    metric = {i["name"]: i["metric"] for i in infos}
    out = {}
    for (p, label), group in groups.items():
        values, cost, diverged = _trials(group, metric[p])
        out[(p, label)] = best_trial(
            values, cost, diverged, higher_is_better=metric[p] == "accuracy"
        )
    return out


def _worst(metric: str, groups: Sequence[Mapping[str, Any]]) -> float:
    """What a diverged trial counts as in the tuning-budget curve (module docstring)."""
    if metric == "accuracy":
        return 0.0
    costs = [_num(r["val_cost"]) for g in groups for r in g["tuning"]]
    finite = [c for c in costs if math.isfinite(c)]
    return max(finite) if finite else math.inf


def summarize(spec: Any, infos: Sequence[Mapping[str, Any]], rows: Rows) -> dict[str, Any]:
    """Everything the tables and plots show, from a complete benchmark's rows.

    Returns:
      ``problems`` (each problem's name, summary, metric, target, epochs, steps per epoch),
      ``optimizers`` (labels), ``budget``, ``seeds``, ``entries`` (one per problem and
      optimizer: ``best_trial``, ``hyperparameters`` (the searched ones of the best trial),
      ``best_val``, ``budget_curve`` (``E_n``, n = 1..budget), ``test`` and ``val`` (mean, std,
      n over the reruns), ``test_values`` (per rerun seed), ``diverged_trials``, ``diverged_reruns``, ``steps`` and ``seconds``
      (per rerun seed, inf: not reached), ``reached``, ``median_steps``, ``median_seconds``),
      ``profiles`` (``time`` and ``steps``: ``ratios`` (problems × optimizers) and ``score``
      per optimizer), ``training_seconds`` (the populations' wall times added up) and
      ``engines``.

    Raises:
      DataError: the rows miss a run (the benchmark is not complete).
    """
    groups = group_rows(spec, rows)
    labels = _labels(spec)
    entries = []
    for info in infos:
        p, metric = info["name"], info["metric"]
        worst = _worst(metric, [groups[(p, label)] for label, _, _ in labels])
        for label, name, fixed in labels:
            entries.append(_entry(info, label, name, fixed, groups[(p, label)], worst))
    times = _matrix(entries, infos, labels, "median_seconds")
    steps = _matrix(entries, infos, labels, "median_steps")
    return {
        "problems": [
            {k: i[k] for k in ("name", "summary", "metric", "target", "epochs", "steps_per_epoch")}
            for i in infos
        ],
        "optimizers": [label for label, _, _ in labels],
        "budget": spec.budget,
        "seeds": list(spec.seeds),
        "entries": entries,
        "profiles": {
            "time": _profile(times),
            "steps": _profile(steps),
        },
        "training_seconds": float(sum(_num(r["seconds"]) for r in rows)),
        "engines": sorted({r["engine"] for r in rows}),
    }


def _entry(
    info: Mapping[str, Any],
    label: str,
    name: str,
    fixed: Mapping[str, Any],
    group: Mapping[str, Any],
    worst: float,
) -> dict[str, Any]:
    metric = info["metric"]
    higher = metric == "accuracy"
    values, cost, diverged = _trials(group, metric)
    b = best_trial(values, cost, diverged, higher_is_better=higher)
    scores = np.where(diverged | np.isnan(values), worst, values)
    best_row = group["tuning"][b]
    reruns = group["rerun"]
    where = f"{label} on {info['name']}"
    if any(r["trial"] != str(b) or r["config_id"] != best_row["config_id"] for r in reruns):
        raise DataError(f"The reruns of {where} are not runs of its best trial (#{b}).")
    space = search_space(name, fixed)
    missing = [k for k in space if k not in best_row]
    if missing:
        raise DataError(f"The rows of {where} have no {missing[0]!r} column.")
    steps = [_num(r["steps_to_target"]) for r in reruns]
    seconds = [_num(r["seconds_to_target"]) for r in reruns]
    test = [_num(r["test_accuracy" if higher else "test_cost"]) for r in reruns]
    val_column = "val_accuracy" if higher else "val_cost"
    return {
        "problem": info["name"],
        "optimizer": label,
        "best_trial": b,
        "hyperparameters": {k: _num(best_row[k]) for k in space},
        "best_val": float(values[b]),
        "budget_curve": expected_best_so_far(scores, higher_is_better=higher).tolist(),
        "test": mean_std(test),
        "test_values": test,
        "val": mean_std([_num(r[val_column]) for r in reruns]),
        "diverged_trials": int(diverged.sum()),
        "diverged_reruns": int(sum(r["diverged"] == "true" for r in reruns)),
        "steps": steps,
        "seconds": seconds,
        "reached": int(sum(math.isfinite(s) for s in steps)),
        "median_steps": median_to_target(steps),
        "median_seconds": median_to_target(seconds),
    }


def _matrix(
    entries: Sequence[Mapping[str, Any]],
    infos: Sequence[Mapping[str, Any]],
    labels: Sequence[tuple[str, str, dict]],
    key: str,
) -> np.ndarray:
    """``(problems, optimizers)`` of ``entries[key]``."""
    by = {(e["problem"], e["optimizer"]): e[key] for e in entries}
    return np.array([[by[(i["name"], label)] for label, _, _ in labels] for i in infos])


def _profile(times: np.ndarray) -> dict[str, Any]:
    ratios = performance_ratios(times)
    return {"ratios": ratios.tolist(), "score": profile_score(ratios).tolist()}
