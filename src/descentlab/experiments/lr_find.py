"""A learning-rate finder: K rates trained as one population, beside the classic one-run ramp.

Two views of "which learning rate trains this network with this optimizer":

- **The population** (:func:`population_sweep`): ``K`` log-spaced rates
  ``lr_i = min_lr * (max_lr / min_lr) ** (i / (K - 1))``, ``i = 0..K-1``, each trained for the
  same short budget from the SAME initial weights and data order, all at once as one
  :class:`~descentlab.experiments.population.Population`. Its curve is the training loss
  after the budget (on the whole training set) against the rate: every point has had the
  same training, so nothing is confounded with how far training has got.
- **The ramp** (:func:`lr_ramp`; Smith 2017, the "LR range test"; fastai's ``lr_find``): ONE
  network whose rate grows exponentially every mini-batch step,
  ``lr_t = min_lr * (max_lr / min_lr) ** (t / (T - 1))``, ``t = 0..T-1``, recording each
  step's mini-batch loss ``L_t`` (computed before the step's update, which uses ``lr_t``)
  and its debiased exponential moving average (:func:`smooth`); it stops when the smoothed
  loss exceeds ``stop_factor`` times the lowest smoothed loss so far, or a loss is not
  finite. Cheap, but the loss at step t mixes the effect of the rate with t steps of
  progress made at smaller rates.

Each view suggests a rate by a named rule (:data:`POPULATION_RULES`, :data:`RAMP_RULES`):

- population ``minimum`` (the default): the rate with the lowest loss after the budget,
  divided by ``factor`` (default 2). The rate that wins a short budget sits near the edge
  of stability (a short horizon favours large steps), so it is backed off;
- population ``within``: the largest rate whose loss is within ``tolerance`` (a fraction,
  default 0.1) of the lowest: ``loss_i <= best + tolerance * |best|``;
- ramp ``steepest`` (fastai's "steep"): the rate ``lr_i`` at the left end of the steepest
  fall of the smoothed loss, ``argmin_i (S_{i+1} - S_i) / (ln lr_{i+1} - ln lr_i)``;
- ramp ``minimum`` (fastai's "minimum"): the rate of the lowest smoothed loss divided by 10.

A member that diverged (its cost NaN, inf or above the engine's ``max_cost``) never wins. A
rule that finds nothing (every member diverged; the smoothed loss never fell) suggests no
rate and says why. The finder's main suggestion is the population's.

How the defaults were chosen (measured; ``descentlab lr-find`` with its defaults on the six
problems of the suite, gd, momentum and Adam, seeds 0-2: 54 finders, each suggestion then
trained for the problem's whole budget from the same seed): the suggestion reaches the
problem's target in 36 of 54 cases for ``minimum`` with factor 1, 38 with factor 2, 35 with
factor 3, 34 for ``within`` 10 %, and 24 for the ramp's ``steepest``; one of the 32 rates of
the population reaches it in 51 of 54. Factor 2 it is.

>>> from descentlab.problems import get_problem
>>> p = get_problem("seed-moons")
>>> found = lr_find(p.run("adam", {}, seed=0, epochs=20), p.data(), n_rates=8, ramp_steps=30)
>>> found.suggestion.rule, len(found.population.rates), found.ramp.rates.size <= 30
('minimum', 8, True)

References:
  Smith, "Cyclical learning rates for training neural networks", WACV 2017 (the LR range
  test); Howard & Gugger, fastai (``Learner.lr_find``: exponential ramp, EMA smoothing with
  debiasing, stop at 4x the best loss); Wu, Ren, Liao & Grosse, "Understanding short-horizon
  bias in stochastic meta-optimization", ICLR 2018 (why a short budget favours large rates).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import (
    LEARNING_RATE,
    NON_NEGATIVE,
    UNIT_OPEN,
    Interval,
    InvalidParameterError,
    Options,
    as_int,
    check_param,
)
from descentlab.batching import EpochOrder, batch_slices
from descentlab.experiments.data import ExperimentData
from descentlab.experiments.population import Population, Run, build_run_optimizer, evaluate
from descentlab.experiments.specs import build_optimizer
from descentlab.nn import MLP
from descentlab.optimizers.base import apply_updates
from descentlab.progress import Progress
from descentlab.schedules import Schedule
from descentlab.training import ENGINES, EPOCHS, check_memory

__all__ = [
    "DEFAULT_STEPS",
    "POPULATION_RULES",
    "RAMP_RULES",
    "LRFindResult",
    "PopulationSweep",
    "Ramp",
    "Suggestion",
    "budget_epochs",
    "check_settings",
    "log_rates",
    "lr_find",
    "lr_ramp",
    "population_sweep",
    "ramp_schedule",
    "smooth",
    "suggest_population",
    "suggest_ramp",
]

POPULATION_RULES = ("minimum", "within")
"""How the population's curve suggests a rate (see the module docstring)."""
RAMP_RULES = ("steepest", "minimum")
"""How the ramp's smoothed curve suggests a rate (see the module docstring)."""
DEFAULT_STEPS = 200
"""The population's default budget in mini-batch steps, rounded up to whole epochs
(:func:`budget_epochs`)."""

_OWNER = "lr_find"
_RATES = Interval(2, limits.MAX_GRID_POINTS, integer=True)
_RAMP_STEPS = Interval(2, limits.MAX_STEPS, integer=True)
_STOP_FACTOR = Interval(1.0, None, closed="neither")
_FACTOR = Interval(1.0, 1e6)


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate and the rule that chose it.

    Attributes:
      learning_rate: the rate, or None when the rule found none.
      rule: the rule's name (:data:`POPULATION_RULES` or :data:`RAMP_RULES`).
      description: one sentence: how the rule chose, with its numbers (or why it found none).
    """

    learning_rate: float | None
    rule: str
    description: str


@dataclass(frozen=True)
class PopulationSweep:
    """The population's curve: K rates, each trained for ``epochs`` from the same weights.

    Attributes:
      rates: ``(K,)`` increasing learning rates.
      loss: ``(K,)`` training loss after the budget (whole training set, evaluation params).
      val_loss: ``(K,)`` validation loss after the budget (NaN without validation data).
      diverged: ``(K,)`` whether the member diverged (its loss does not count).
      epochs, steps: the budget (``steps = epochs * ceil(n_train / batch_size)``).
      engine, engine_note: the engine that trained it, and why ``auto`` fell back to NumPy.
    """

    rates: np.ndarray
    loss: np.ndarray
    val_loss: np.ndarray
    diverged: np.ndarray
    epochs: int
    steps: int
    engine: str
    engine_note: str


@dataclass(frozen=True)
class Ramp:
    """The one-run ramp: the rates it applied and the losses it recorded, step by step.

    Attributes:
      rates: ``(n,)`` the rate of each step done, ``lr_t`` of :func:`ramp_schedule`.
      loss: ``(n,)`` the mini-batch loss at each step, before its update.
      smoothed: ``(n,)`` :func:`smooth` of ``loss``.
      steps: the steps asked for (``T``); ``n <= T``.
      stopped: why it stopped early (empty if it ran all ``T`` steps).
    """

    rates: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    steps: int
    stopped: str


@dataclass(frozen=True)
class LRFindResult:
    """What :func:`lr_find` found: both curves, both suggestions and the settings.

    ``suggestion`` is the population's (the finder's answer), ``ramp_suggestion`` the ramp's.
    """

    population: PopulationSweep
    ramp: Ramp
    suggestion: Suggestion
    ramp_suggestion: Suggestion
    settings: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """Both curves as rows (a CSV): ``curve`` (``population`` or ``ramp``), ``index``
        (member or step), ``learning_rate``, ``loss``, ``smoothed_loss`` (ramp), ``val_loss``
        and ``diverged`` (population); a value a curve does not have is None."""
        pop, ramp = self.population, self.ramp
        out = [
            {
                "curve": "population",
                "index": i,
                "learning_rate": float(pop.rates[i]),
                "loss": float(pop.loss[i]),
                "smoothed_loss": None,
                "val_loss": None if math.isnan(pop.val_loss[i]) else float(pop.val_loss[i]),
                "diverged": bool(pop.diverged[i]),
            }
            for i in range(pop.rates.size)
        ]
        out += [
            {
                "curve": "ramp",
                "index": t,
                "learning_rate": float(ramp.rates[t]),
                "loss": float(ramp.loss[t]),
                "smoothed_loss": float(ramp.smoothed[t]),
                "val_loss": None,
                "diverged": None,
            }
            for t in range(ramp.rates.size)
        ]
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary: the settings, both suggestions, the budget and the engine,
        and how the ramp ended."""
        pop = self.population
        return {
            **self.settings,
            "epochs": pop.epochs,
            "steps": pop.steps,
            "engine": pop.engine,
            "engine_note": pop.engine_note,
            "n_diverged": int(pop.diverged.sum()),
            "suggestion": dataclasses.asdict(self.suggestion),
            "ramp_suggestion": dataclasses.asdict(self.ramp_suggestion),
            "ramp_steps_done": int(self.ramp.rates.size),
            "ramp_stopped": self.ramp.stopped,
        }


# ----------------------------------------------------------------------------- the math


def log_rates(min_lr: float, max_lr: float, n: int) -> np.ndarray:
    """``n`` log-spaced rates ``lr_i = min_lr * (max_lr / min_lr) ** (i / (n - 1))``, ``(n,)``;
    the first is ``min_lr`` and the last ``max_lr``, exactly.

    >>> log_rates(1e-3, 10.0, 5).tolist()
    [0.001, 0.01, 0.1, 1.0, 10.0]
    """
    min_lr, max_lr, n = _check_range(min_lr, max_lr, n, "n_rates", _RATES)
    return _exponential(min_lr, max_lr, np.arange(n), n)


def _exponential(min_lr: float, max_lr: float, t: Any, n: int) -> Any:
    """``min_lr * (max_lr / min_lr) ** (t / (n - 1))``, with both ends exact."""
    t = np.minimum(t, n - 1)
    rates = min_lr * (max_lr / min_lr) ** (t / (n - 1))
    return np.where(t == n - 1, max_lr, np.where(t == 0, min_lr, rates))


def ramp_schedule(min_lr: float, max_lr: float, steps: int) -> Schedule:
    """The ramp's schedule, ``lr_t = min_lr * (max_lr / min_lr) ** (t / (steps - 1))`` for
    ``t < steps`` (``max_lr`` after): it grows by ``(max_lr / min_lr) ** (1 / (steps - 1))``
    every step. (The library's decays never grow the rate; this one only serves the finder.)

    >>> s = ramp_schedule(0.01, 1.0, 3)
    >>> [s(t) for t in range(4)]
    [0.01, 0.1, 1.0, 1.0]
    """
    min_lr, max_lr, steps = _check_range(min_lr, max_lr, steps, "ramp_steps", _RAMP_STEPS)

    def fn(step: Any) -> Any:
        return _exponential(min_lr, max_lr, step, steps)

    return Schedule(fn, f"ramp(min_lr={min_lr!r}, max_lr={max_lr!r}, steps={steps})", None)


def smooth(losses: Any, beta: float = 0.98) -> np.ndarray:
    """The debiased exponential moving average of ``losses`` ``(n,)``, ``(n,)``::

        avg_t = beta * avg_{t-1} + (1 - beta) * L_t      (avg_{-1} = 0)
        S_t   = avg_t / (1 - beta ** (t + 1))

    (fastai's smoothing of the ramp's loss; ``beta = 0`` gives the losses themselves).

    >>> smooth([1.0, 2.0, 3.0], beta=0.5).round(6).tolist()
    [1.0, 1.666667, 2.428571]
    """
    check_param(_OWNER, "smoothing", beta, UNIT_OPEN, allow_array=False)
    values = np.asarray(losses, dtype=np.float64).ravel()
    out = np.empty_like(values)
    avg = 0.0
    with np.errstate(invalid="ignore", over="ignore"):  # a NaN or inf loss stays one
        for t, value in enumerate(values):
            avg = beta * avg + (1.0 - beta) * value
            out[t] = avg / (1.0 - beta ** (t + 1))
    return out


def suggest_population(
    rates: np.ndarray,
    loss: np.ndarray,
    diverged: np.ndarray,
    rule: str = "minimum",
    *,
    factor: float = 2.0,
    tolerance: float = 0.1,
) -> Suggestion:
    """The population's suggestion by ``rule`` (:data:`POPULATION_RULES`):

    - ``minimum``: ``rates[argmin loss] / factor``;
    - ``within``: ``max{rates[i] : loss[i] <= best + tolerance * |best|}``.

    Members that diverged or whose loss is not finite are left out.

    >>> r = np.array([0.01, 0.1, 1.0]); l = np.array([0.5, 0.2, 0.21]); d = np.zeros(3, bool)
    >>> suggest_population(r, l, d).learning_rate, suggest_population(r, l, d, "within").learning_rate
    (0.05, 1.0)
    """
    check_param(_OWNER, "rule", rule, Options(POPULATION_RULES))
    check_param(_OWNER, "factor", factor, _FACTOR, allow_array=False)
    check_param(_OWNER, "tolerance", tolerance, NON_NEGATIVE, allow_array=False)
    ok = ~np.asarray(diverged, dtype=bool) & np.isfinite(loss)
    if not ok.any():
        return Suggestion(None, rule, "every rate diverged: try smaller rates.")
    best = int(np.flatnonzero(ok)[np.argmin(loss[ok])])
    if rule == "minimum":
        lr = float(rates[best]) / factor
        return Suggestion(
            lr,
            rule,
            f"the lowest loss after the budget, {loss[best]:.4g}, is at lr {rates[best]:.3g}; "
            f"divided by {factor:g}",
        )
    bound = loss[best] + tolerance * abs(loss[best])
    pick = int(np.flatnonzero(ok & (loss <= bound)).max())
    return Suggestion(
        float(rates[pick]),
        rule,
        f"the largest rate whose loss after the budget ({loss[pick]:.4g}) is within "
        f"{tolerance:.0%} of the lowest ({loss[best]:.4g} at lr {rates[best]:.3g})",
    )


def suggest_ramp(rates: np.ndarray, smoothed: np.ndarray, rule: str = "steepest") -> Suggestion:
    """The ramp's suggestion by ``rule`` (:data:`RAMP_RULES`), over its finite points from
    step ``n // 10`` on (as fastai does: the average of the first steps follows a few single
    mini-batches, whose differences are noise, not the rate's effect):

    - ``steepest``: ``rates[i]`` for ``i = argmin (S[i+1] - S[i]) / (ln rates[i+1] - ln rates[i])``
      (none if the smoothed loss never falls);
    - ``minimum``: ``rates[argmin S] / 10``.

    >>> r = np.array([0.001, 0.01, 0.1, 1.0]); s = np.array([0.7, 0.6, 0.3, 2.0])
    >>> suggest_ramp(r, s).learning_rate, suggest_ramp(r, s, "minimum").learning_rate
    (0.01, 0.01)
    """
    check_param(_OWNER, "ramp_rule", rule, Options(RAMP_RULES))
    r, s = np.asarray(rates, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    r, s = r[r.size // 10 :], s[s.size // 10 :]
    r, s = r[np.isfinite(s)], s[np.isfinite(s)]
    if rule == "minimum":
        if not s.size:
            return Suggestion(None, rule, "the ramp recorded no finite loss.")
        i = int(np.argmin(s))
        return Suggestion(
            float(r[i]) / 10.0,
            rule,
            f"the lowest smoothed loss, {s[i]:.4g}, is at lr {r[i]:.3g}; divided by 10",
        )
    if s.size < 2:
        return Suggestion(None, rule, "the ramp recorded fewer than two finite losses.")
    slopes = np.diff(s) / np.diff(np.log(r))
    i = int(np.argmin(slopes))
    if slopes[i] >= 0:
        return Suggestion(None, rule, "the smoothed loss never fell: no rate of the ramp trains.")
    return Suggestion(
        float(r[i]),
        rule,
        f"the smoothed loss falls fastest at lr {r[i]:.3g} ({slopes[i]:.3g} per unit of ln lr)",
    )


# ----------------------------------------------------------------------------- the two runs


def budget_epochs(data: ExperimentData, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
    """The epochs that hold at least ``steps`` mini-batch steps: ``ceil(steps / spe)`` with
    ``spe = ceil(n_train / batch_size)``.

    >>> from descentlab.problems import get_problem
    >>> budget_epochs(get_problem("seed-moons").data(), 64)
    40
    """
    steps = as_int(_OWNER, "steps", steps, _RAMP_STEPS)
    per_epoch = -(-data.train.n_examples // as_int(_OWNER, "batch_size", batch_size))
    return -(-steps // per_epoch)


def population_sweep(
    run: Run,
    data: ExperimentData,
    rates: np.ndarray,
    *,
    engine: str = "auto",
    progress: bool | None = False,
) -> PopulationSweep:
    """Train ``run`` at every rate in ``rates`` ``(K,)`` for ``run.epochs``, as one population
    that shares ``run``'s initial weights and data order; measure each member's loss.

    Member i is ``run`` with ``learning_rate = rates[i]``, trained alone: the same numbers
    (:class:`~descentlab.experiments.population.Population`). Its loss is the cost of its
    final (evaluation) parameters on the whole training set (and on the validation set).

    Raises:
      InvalidParameterError: a bad rate or setting, a population too large for memory.
      KeyboardInterrupt: Ctrl-C (nothing is kept: the finder is short).
    """
    check_param(_OWNER, "engine", engine, Options(ENGINES))
    runs = [dataclasses.replace(run, hyperparameters=_with_rate(run, r)) for r in rates]
    population = Population(runs, data)
    result = population.train(progress=progress, label="lr-find population", engine=engine)
    if result.status == "interrupted":
        raise KeyboardInterrupt
    net, members = population.net, population.position
    loss = _training_loss(net, result.params, data)
    measured = evaluate(net, result.params, data) if data.val is not None else {}
    val = measured.get("val_cost", np.full(len(runs), np.nan))
    steps_per_epoch = -(-data.train.n_examples // run.batch_size)
    return PopulationSweep(
        rates=np.asarray(rates, dtype=np.float64),
        loss=loss[members],
        val_loss=np.asarray(val)[members],
        diverged=np.asarray(result.diverged)[members],
        epochs=run.epochs,
        steps=run.epochs * steps_per_epoch,
        engine=result.engine,
        engine_note=result.engine_note,
    )


def lr_ramp(
    run: Run,
    data: ExperimentData,
    *,
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    steps: int = 100,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
    progress: bool | None = False,
) -> Ramp:
    """The ramp: ``run``'s network and optimizer, from its initial weights and data order,
    with the rate of :func:`ramp_schedule` — one mini-batch step at a time, for at most
    ``steps`` steps (epochs follow one another as in :func:`~descentlab.training.train`).

    Per step t: ``L_t, g = loss_and_grads(params, batch_t)``; ``S_t = smooth(L)_t``; the
    update with rate ``lr_t`` is applied; stop after step t if ``L_t`` is not finite or
    ``S_t > stop_factor * min(S_0..S_t)``.

    Raises:
      InvalidParameterError: a bad setting (``min_lr >= max_lr``, ``steps < 2``, ...).
    """
    check_param(_OWNER, "run", run, Run)
    check_param(_OWNER, "stop_factor", stop_factor, _STOP_FACTOR, allow_array=False)
    check_param(_OWNER, "smoothing", smoothing, UNIT_OPEN, allow_array=False)
    schedule = ramp_schedule(min_lr, max_lr, steps)
    net = MLP(data.layer_dims(run.layers), run.activation, loss=data.loss)
    hyper = {k: v for k, v in run.hyperparameters.items() if k != "learning_rate"}
    optimizer = build_optimizer(run.optimizer, hyper, learning_rate=schedule)  # type: ignore[arg-type]
    params = net.init(run.seed, method=run.init)
    state = optimizer.init(params)
    X, Y = data.train.X, net.targets(data.train.y)
    slices = batch_slices(X.shape[1], run.batch_size)
    order = EpochOrder(run.shuffle, run.order_seed, X.shape[1], owner=_OWNER)
    losses: list[float] = []
    avg, best, stopped = 0.0, math.inf, ""
    with Progress(steps, "lr-find ramp", enabled=progress, unit="step") as bar:
        with np.errstate(all="ignore"):
            for t in range(steps):
                if t % len(slices) == 0:
                    perm = order(t // len(slices))
                    Xe, Ye = (X, Y) if perm is None else (X[:, perm], Y[:, perm])
                batch = slices[t % len(slices)]
                cost, grads = net.loss_and_grads(params, Xe[:, batch], Ye[:, batch])
                losses.append(float(cost))
                avg = smoothing * avg + (1.0 - smoothing) * float(cost)
                smoothed = avg / (1.0 - smoothing ** (t + 1))
                best = min(best, smoothed)
                if not math.isfinite(cost):
                    stopped = f"the loss became {cost} at step {t}"
                elif smoothed > stop_factor * best:
                    stopped = f"the smoothed loss passed {stop_factor:g}x its lowest at step {t}"
                if stopped:
                    break
                updates, state = optimizer.update(grads, state, params)
                params = apply_updates(params, updates)
                bar.update(t + 1, loss=smoothed)
    n = len(losses)
    return Ramp(
        rates=np.asarray(schedule(np.arange(n)), dtype=np.float64),
        loss=np.asarray(losses),
        smoothed=smooth(losses, smoothing),
        steps=steps,
        stopped=stopped,
    )


def lr_find(
    run: Run,
    data: ExperimentData,
    *,
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    n_rates: int = 32,
    ramp_steps: int = 100,
    rule: str = "minimum",
    ramp_rule: str = "steepest",
    factor: float = 2.0,
    tolerance: float = 0.1,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
    engine: str = "auto",
    progress: bool | None = False,
) -> LRFindResult:
    """Find a learning rate for ``run``'s optimizer, network and data (see the module docstring).

    Args:
      run: the setup: optimizer and its other hyperparameters (its learning rate is not
        used), batch size, layers, activation, init, data order and seed; ``run.epochs`` is
        the population's budget (e.g. :func:`budget_epochs`;
        ``problem.run(name, {}, seed, epochs=...)`` for a problem of the suite).
      data: the training data (and validation data, whose loss is reported too).
      min_lr, max_lr: the range of rates, ``0 < min_lr < max_lr <= 1e4``.
      n_rates: K, the population's rates, an int in ``[2, 10000]``.
      ramp_steps: T, the ramp's steps, an int >= 2.
      rule, factor, tolerance: the population's rule (:data:`POPULATION_RULES`) and its numbers.
      ramp_rule: the ramp's rule (:data:`RAMP_RULES`).
      smoothing: the ramp's EMA factor beta in ``[0, 1)``; stop_factor: its explosion
        threshold, > 1.
      engine: the population's engine (:data:`~descentlab.training.ENGINES`); the ramp runs
        one NumPy step at a time.
      progress: progress bars (None: where someone watches).

    Returns:
      the :class:`LRFindResult`.

    Raises:
      InvalidParameterError: a bad setting, before anything is trained.
    """
    rates = check_settings(
        run,
        data,
        min_lr=min_lr,
        max_lr=max_lr,
        n_rates=n_rates,
        ramp_steps=ramp_steps,
        rule=rule,
        ramp_rule=ramp_rule,
        factor=factor,
        tolerance=tolerance,
        smoothing=smoothing,
        stop_factor=stop_factor,
        engine=engine,
    )
    sweep = population_sweep(run, data, rates, engine=engine, progress=progress)
    ramp = lr_ramp(
        run,
        data,
        min_lr=min_lr,
        max_lr=max_lr,
        steps=ramp_steps,
        smoothing=smoothing,
        stop_factor=stop_factor,
        progress=progress,
    )
    settings = {
        "optimizer": run.optimizer,
        "hyperparameters": {k: v for k, v in run.hyperparameters.items() if k != "learning_rate"},
        "dataset": data.summary(),
        "layer_dims": list(data.layer_dims(run.layers)),
        "batch_size": run.batch_size,
        "seed": run.seed,
        "min_lr": float(min_lr),
        "max_lr": float(max_lr),
        "n_rates": int(n_rates),
        "ramp_steps": int(ramp_steps),
        "smoothing": float(smoothing),
        "stop_factor": float(stop_factor),
        "factor": float(factor),
        "tolerance": float(tolerance),
    }
    return LRFindResult(
        population=sweep,
        ramp=ramp,
        suggestion=suggest_population(
            sweep.rates, sweep.loss, sweep.diverged, rule, factor=factor, tolerance=tolerance
        ),
        ramp_suggestion=suggest_ramp(ramp.rates, ramp.smoothed, ramp_rule),
        settings=settings,
    )


# ----------------------------------------------------------------------------- checks


def _check_range(
    low: Any, high: Any, n: Any, name: str, rule: Interval
) -> tuple[float, float, int]:
    check_param(_OWNER, "min_lr", low, LEARNING_RATE, allow_array=False)
    check_param(_OWNER, "max_lr", high, LEARNING_RATE, allow_array=False)
    if not float(low) < float(high):
        raise InvalidParameterError(
            f"The 'min_lr' parameter of {_OWNER} must be below 'max_lr'. Got min_lr={low!r} "
            f"and max_lr={high!r} instead."
        )
    return float(low), float(high), as_int(_OWNER, name, n, rule)


def check_settings(
    run: Any,
    data: Any,
    *,
    min_lr: Any,
    max_lr: Any,
    n_rates: Any,
    ramp_steps: Any,
    rule: Any,
    ramp_rule: Any,
    factor: Any,
    tolerance: Any,
    smoothing: Any,
    stop_factor: Any,
    engine: Any,
) -> np.ndarray:
    """Refuse a bad setting of :func:`lr_find` (same arguments) before anything is trained:
    the rates' range and count, the ramp's steps, the rules and their numbers, the engine,
    ``run`` (a :class:`Run` without a schedule, whose optimizer builds at both ends of the
    range) and the population's memory (:func:`~descentlab.training.check_memory`).

    Returns:
      the population's rates ``(K,)`` (:func:`log_rates`).

    Raises:
      InvalidParameterError: the first bad setting, named.
    """
    check_param(_OWNER, "run", run, Run)
    check_param(_OWNER, "data", data, ExperimentData)
    if run.schedule is not None:
        raise InvalidParameterError(
            f"The 'run' parameter of {_OWNER} must have no schedule: the finder chooses a "
            f"constant rate. Got schedule {run.schedule!r}."
        )
    rates = log_rates(min_lr, max_lr, n_rates)
    ramp_schedule(min_lr, max_lr, ramp_steps)
    check_param(_OWNER, "rule", rule, Options(POPULATION_RULES))
    check_param(_OWNER, "ramp_rule", ramp_rule, Options(RAMP_RULES))
    check_param(_OWNER, "factor", factor, _FACTOR, allow_array=False)
    check_param(_OWNER, "tolerance", tolerance, NON_NEGATIVE, allow_array=False)
    check_param(_OWNER, "smoothing", smoothing, UNIT_OPEN, allow_array=False)
    check_param(_OWNER, "stop_factor", stop_factor, _STOP_FACTOR, allow_array=False)
    check_param(_OWNER, "engine", engine, Options(ENGINES))
    as_int(_OWNER, "epochs", run.epochs, EPOCHS)
    for rate in (rates[0], rates[-1]):
        build_run_optimizer(dataclasses.replace(run, hyperparameters=_with_rate(run, rate)))
    net = MLP(data.layer_dims(run.layers), run.activation, loss=data.loss)
    net.init(0, method=run.init)  # checks the init method
    check_memory(net, rates.size, run.batch_size, data.train.n_examples, run.epochs)
    return rates


def _training_loss(net: MLP, params: dict[str, np.ndarray], data: ExperimentData) -> np.ndarray:
    """Each member's cost on the whole training set, ``(K,)``, measured a block of members at
    a time (about 2**16 member-examples), so the memory stays small."""
    X, Y = data.train.X, net.targets(data.train.y)
    K = next(iter(params.values())).shape[0]
    block = max(1, 2**16 // X.shape[1])
    with np.errstate(all="ignore"):
        parts = [
            np.atleast_1d(net.cost({k: v[a : a + block] for k, v in params.items()}, X, Y))
            for a in range(0, K, block)
        ]
    return np.concatenate(parts)


def _with_rate(run: Run, rate: float) -> dict[str, Any]:
    return {**run.hyperparameters, "learning_rate": float(rate)}
