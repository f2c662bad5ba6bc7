"""The benchmark protocol's settings: :class:`ProtocolSpec` (problems, optimizers, budget,
seeds), what ``protocol.json`` keeps of each problem, and reading that file back.

The spec is checked when it is built, before anything is planned or written: every problem
name against :mod:`descentlab.problems`, every optimizer against
:data:`~descentlab.optimizers.OPTIMIZERS` (none listed twice), the budget in
``[1, MAX_GRID_POINTS]``, the seeds in ``[0, 2**32 - 1]`` with the rerun seeds disjoint from
the tuning seeds, and the number of runs in all bounded by ``MAX_RUNS``
(:mod:`descentlab.limits`). :func:`read_protocol_json` reads the stored spec and problem
definitions back as hostile input (a damaged file is a one-line
:class:`~descentlab._validation.DataError` naming the field).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    SEED,
    DataError,
    InvalidParameterError,
    as_int,
    is_integer,
    show,
)
from descentlab.experiments.sweep_space import (
    CHUNK_SIZE,
    GRID_POINTS,
    canonical_optimizers,
    check_document,
    check_run_count,
    check_seeds,
    spec_from_document,
)
from descentlab.training import EPOCHS

if TYPE_CHECKING:
    from descentlab.problems import Problem

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_OPTIMIZERS",
    "DEFAULT_PROBLEMS",
    "DEFAULT_SEEDS",
    "PROBLEM_INFO_SCHEMA",
    "PROTOCOL_JSON_SCHEMA",
    "PROTOCOL_SPEC_SCHEMA",
    "ProtocolSpec",
    "load_problem",
    "optimizer_label",
    "problem_info",
    "read_protocol_json",
]

DEFAULT_PROBLEMS = ("mnist1d", "digits", "seed-moons")
DEFAULT_OPTIMIZERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sgd", {}),
    ("momentum", {}),
    ("adam", {}),
)
DEFAULT_BUDGET = 8
DEFAULT_SEEDS = 3
"""The defaults: 99 runs on the three problems, 52 s on this project's two-core machine (41 s
of CPU; docs/benchmark.md has the run) — a benchmark of minutes; ``--budget 20 --seeds 10``
and more optimizers make the field's larger one."""

_OWNER = "the benchmark protocol"


def load_problem(name: Any) -> Problem:
    """The problem of :mod:`descentlab.problems` called ``name`` (``_`` for ``-`` forgiven).

    Raises:
      InvalidParameterError: an unknown name (the message lists the problems).
    """
    from descentlab.problems import get_problem

    return get_problem(name)


@dataclass(frozen=True)
class ProtocolSpec:
    """Everything the protocol computes; stored in ``protocol.json``.

    Attributes:
      problems: names of :mod:`descentlab.problems` (distinct).
      optimizers: ``(name, fixed settings)`` pairs; a fixed setting is not searched.
      budget: random-search trials per optimizer and problem, in ``[1, MAX_GRID_POINTS]``.
      seeds: the rerun seeds, or a count: that many seeds right after the tuning seeds.
      seed: the seed of the search's draws and of the first trial (trial ``i`` trains with
        seed ``seed + i``).
      epochs: None for each problem's budget, else every problem's number of epochs.
      chunk_size: the most trials trained in one population.

    Raises:
      InvalidParameterError: an unknown problem or optimizer, one listed twice, a budget or
        seed out of range, rerun seeds that are also tuning seeds, more runs in all than
        ``MAX_RUNS``.
    """

    problems: tuple[str, ...] = DEFAULT_PROBLEMS
    optimizers: tuple[tuple[str, Mapping[str, Any]], ...] = DEFAULT_OPTIMIZERS
    budget: int = DEFAULT_BUDGET
    seeds: int | tuple[int, ...] = DEFAULT_SEEDS
    seed: int = 0
    epochs: int | None = None
    chunk_size: int = 64

    def __post_init__(self) -> None:
        def store(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        store("problems", _problem_names(self.problems))
        store("optimizers", _optimizer_list(self.optimizers))
        store("budget", as_int(_OWNER, "budget", self.budget, GRID_POINTS))
        store("seed", as_int(_OWNER, "seed", self.seed, SEED))
        last = self.seed + self.budget - 1
        if last > limits.MAX_SEED:
            raise InvalidParameterError(
                f"The tuning seeds of {_OWNER} run from {self.seed} to {last}, past the largest "
                f"seed {limits.MAX_SEED}; choose a smaller --seed or --budget."
            )
        store("seeds", _rerun_seeds(self.seeds, self.tune_seeds))
        if self.epochs is not None:
            store("epochs", as_int(_OWNER, "epochs", self.epochs, EPOCHS))
        store("chunk_size", as_int(_OWNER, "chunk_size", self.chunk_size, CHUNK_SIZE))
        n_p, n_o = len(self.problems), len(self.optimizers)
        check_run_count(
            _OWNER,
            n_p * n_o * (self.budget + len(self.seeds)),
            f"{n_p} problems × {n_o} optimizers × ({self.budget} trials + {len(self.seeds)} "
            "rerun seeds)",
        )

    @property
    def tune_seeds(self) -> tuple[int, ...]:
        """The seeds of the trials: ``seed, seed + 1, ..., seed + budget - 1``."""
        return tuple(range(self.seed, self.seed + self.budget))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict; :meth:`from_dict` rebuilds an equal spec."""
        return {
            "problems": list(self.problems),
            "optimizers": [[n, dict(s)] for n, s in self.optimizers],
            "budget": self.budget,
            "seeds": list(self.seeds),  # type: ignore[arg-type]
            "seed": self.seed,
            "epochs": self.epochs,
            "chunk_size": self.chunk_size,
        }

    @classmethod
    def from_dict(
        cls, data: Any, source: str = "the protocol spec", where: str = ""
    ) -> ProtocolSpec:
        """The spec of :meth:`to_dict`'s form, every field type-checked.

        Raises:
          DataError: a missing, unknown or mistyped field.
          InvalidParameterError: a value out of range.
        """
        return spec_from_document(cls, data, PROTOCOL_SPEC_SCHEMA, source, where)


PROTOCOL_SPEC_SCHEMA: dict[str, Any] = {
    "problems": [str],
    "optimizers": [list],
    "budget": int,
    "seeds": [int],
    "seed": int,
    "epochs": (int, type(None)),
    "chunk_size": int,
}
"""The fields of :meth:`ProtocolSpec.to_dict` and their types."""


def _problem_names(problems: Any) -> tuple[str, ...]:
    if isinstance(problems, str) or not isinstance(problems, Sequence) or not problems:
        raise InvalidParameterError(
            f"The 'problems' of {_OWNER} must be a list of one or more problem names. "
            f"Got {show(problems)} instead."
        )
    if len(problems) > limits.MAX_GRID_POINTS:
        raise InvalidParameterError(
            f"{_OWNER.capitalize()} takes at most {limits.MAX_GRID_POINTS} problems; got "
            f"{len(problems)}."
        )
    names = tuple(load_problem(p).name for p in problems)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidParameterError(f"The problem(s) {', '.join(twice)} are listed twice.")
    return names


def _optimizer_list(optimizers: Any) -> tuple[tuple[str, dict[str, Any]], ...]:
    out = canonical_optimizers(optimizers)
    if not out:
        raise InvalidParameterError(f"{_OWNER.capitalize()} needs at least one optimizer.")
    labels = [optimizer_label(name, settings) for name, settings in out]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise InvalidParameterError(f"The optimizer(s) {', '.join(twice)} are listed twice.")
    return out


def optimizer_label(name: str, settings: Mapping[str, Any]) -> str:
    """``name``, or ``name:key=value,...`` with its fixed settings (how tables name it).

    >>> optimizer_label("adam", {"b2": 0.99})
    'adam:b2=0.99'
    """
    if not settings:
        return name
    return name + ":" + ",".join(f"{k}={v}" for k, v in settings.items())


def _rerun_seeds(seeds: Any, tune_seeds: tuple[int, ...]) -> tuple[int, ...]:
    """A count (that many seeds after the tuning seeds) or a list, checked and disjoint from
    ``tune_seeds``."""
    if is_integer(seeds):
        if not 1 <= seeds <= limits.MAX_SEEDS:
            raise InvalidParameterError(
                f"The number of rerun seeds of {_OWNER} must be from 1 to {limits.MAX_SEEDS} "
                f"(descentlab.limits.MAX_SEEDS). Got {seeds}."
            )
        first = tune_seeds[-1] + 1
        if first + seeds - 1 > limits.MAX_SEED:
            raise InvalidParameterError(
                f"The rerun seeds of {_OWNER} would run past the largest seed {limits.MAX_SEED}; "
                "choose a smaller --seed."
            )
        return tuple(range(first, first + int(seeds)))
    out = check_seeds(_OWNER, "seeds", seeds)
    shared = sorted(set(out) & set(tune_seeds))
    if shared:
        raise InvalidParameterError(
            f"The rerun seeds must be fresh: {show(shared[:10])} are also tuning seeds "
            f"({tune_seeds[0]}..{tune_seeds[-1]}). Choose --seeds apart from them."
        )
    return out


# ----------------------------------------------------------------------------- problems


def problem_info(problem: Problem, epochs: int | None) -> dict[str, Any]:
    """What the protocol keeps of a problem (in ``protocol.json``): its name, metric, target,
    budget (``epochs`` overrides it) and steps per epoch, and its :meth:`describe`."""
    budget = problem.epochs if epochs is None else epochs
    info = {
        "name": problem.name,
        "summary": problem.summary,
        "metric": problem.metric,
        "target": problem.target,
        "epochs": budget,
        "steps_per_epoch": problem.steps_per_epoch,
        "reference": problem.reference,
        "describe": problem.describe(),
    }
    return json.loads(json.dumps(info))  # tuples -> lists, as read back from protocol.json


PROBLEM_INFO_SCHEMA: dict[str, Any] = {
    "name": str,
    "summary": str,
    "metric": str,
    "target": float,
    "epochs": int,
    "steps_per_epoch": int,
    "reference": str,
    "describe": dict,
}
PROTOCOL_JSON_SCHEMA: dict[str, Any] = {
    "spec": dict,
    "problems": [dict],
    "created": str,
    "descentlab_version": str,
}
"""What ``protocol.json`` holds."""


# ----------------------------------------------------------------------------- protocol.json


def read_protocol_json(path: Path) -> tuple[ProtocolSpec, list[dict[str, Any]], str] | None:
    """The spec, the problem definitions and the creation time stored in ``protocol.json``,
    every field checked (None if the file is missing).

    Raises:
      DataError: unreadable, not JSON, larger than 64 MiB, or damaged (naming the field).
    """
    source = f"'{path}'"
    if not path.exists():
        return None
    try:
        too_large = path.stat().st_size > 64 * 2**20
        doc = None if too_large else json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"Cannot read {source} as a benchmark: {reason}.") from None
    if too_large:
        raise DataError(f"{source} is not a benchmark's: it is larger than 64 MiB.")
    check_document(doc, PROTOCOL_JSON_SCHEMA, source, "")
    try:
        spec = ProtocolSpec.from_dict(doc["spec"], source, "spec")
    except InvalidParameterError as exc:
        raise DataError(f"{source} is damaged: its spec is not valid: {exc}") from None
    infos = doc["problems"]
    for i, info in enumerate(infos):
        check_document(info, PROBLEM_INFO_SCHEMA, source, f"problems[{i}]")
        _check_info(info, source, f"problems[{i}]")
    if [i["name"] for i in infos] != list(spec.problems):
        raise DataError(f"{source} is damaged: its problems are not those of its spec.")
    return spec, infos, doc["created"]


def _check_info(info: Mapping[str, Any], source: str, where: str) -> None:
    """The values the tables and plots use: metric, target, epochs, steps per epoch."""
    problems = []
    if info["metric"] not in ("accuracy", "loss"):
        problems.append("metric must be accuracy or loss")
    if not np.isfinite(info["target"]):
        problems.append("target must be a finite number")
    if not 1 <= info["epochs"] <= limits.MAX_EPOCHS:
        problems.append(f"epochs must be from 1 to {limits.MAX_EPOCHS}")
    if not 1 <= info["steps_per_epoch"] <= limits.MAX_EXAMPLES:
        problems.append(f"steps_per_epoch must be from 1 to {limits.MAX_EXAMPLES}")
    if problems:
        raise DataError(f"{source} is damaged: {where}: {problems[0]}.")
