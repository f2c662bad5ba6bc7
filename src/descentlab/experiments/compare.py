"""Run an optimizer comparison and write its run folder.

:func:`run_comparison` trains the same network (same initial weights, same data order) with
every optimizer of an :class:`~descentlab.experiments.config.ExperimentConfig`. The optimizers
share everything but their own hyperparameters, so they are trained together as ONE population
(:func:`run_together`): one forward and one backward pass per mini-batch for all of them, each
member updated by its own optimizer — the same numbers, bit for bit, as training them one after
another (:func:`run_one`, ``together=False``), in less time (the seed's study: about 4.6 s
instead of 6.8 s, ``benchmarks/bench_seed_compare.py``). It writes::

    <run folder>/
      config.toml                the resolved configuration (rerun with --config)
      results.json               per optimizer: accuracies, final cost, seconds, status ...
      history.csv                one row per optimizer and epoch
      models.npz                 the trained parameters (to rebuild plots)
      cost_curves.png            every optimizer's cost per epoch on one plot
      decision_boundaries.png    two features: one panel per optimizer, data on top
      confusion_matrices.png     otherwise: test-set confusion matrix per optimizer
      report.html                one self-contained page with all of the above

Every file is written atomically. ``results.json`` and ``history.csv`` are written before
training (``"partial": true``) and again when it ends (and, one after another, after each
optimizer), so the folder is valid at any moment. Ctrl-C stops the comparison cleanly: trained
together, every optimizer stops at the same epoch and keeps its history so far (status
``interrupted``); one after another, the interrupted optimizer keeps its history and the others
are marked ``not_run``. Either way the folder is completed with ``"partial": true``.
:func:`rebuild_outputs` redraws the plots and the report from the saved files.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import math
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import __version__
from descentlab._validation import DataError
from descentlab.datasets import Dataset, load_dataset
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.specs import OptimizerSpec, build_learning_rate
from descentlab.io import atomic_write, atomic_writer
from descentlab.nn import MLP
from descentlab.optimizers import stack_optimizers
from descentlab.optimizers.base import Params
from descentlab.training import History, train

__all__ = [
    "HISTORY_COLUMNS",
    "ExperimentData",
    "RunOutcome",
    "default_run_dir",
    "load_experiment_data",
    "read_history_csv",
    "rebuild_outputs",
    "run_comparison",
    "run_one",
    "run_together",
]

HISTORY_COLUMNS = (
    "optimizer",
    "epoch",
    "cost",
    "last_batch_cost",
    "learning_rate",
    "train_accuracy",
    "test_accuracy",
)
"""Columns of ``history.csv``; the accuracies are empty on epochs where they were not measured."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ExperimentData:
    """The training and test sets of an experiment, standardised if the config says so.

    Attributes:
      train, test: the datasets (examples as columns), same classes and feature names.
      mean, std: ``(n_features, 1)`` statistics of the training part applied to both
        (``X_std = (X - mean) / std``), or None without standardisation.
    """

    train: Dataset
    test: Dataset
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def summary(self, holdout: str) -> dict[str, Any]:
        """The ``dataset`` entry of ``results.json``."""
        return {
            "name": self.train.name,
            "n_features": self.train.n_features,
            "n_classes": self.train.n_classes,
            "classes": list(self.train.classes),
            "feature_names": list(self.train.feature_names),
            "n_train": self.train.n_examples,
            "n_test": self.test.n_examples,
            "holdout": holdout,
            "standardized": self.mean is not None,
        }


def load_experiment_data(config: ExperimentConfig) -> ExperimentData:
    """Load the data of ``config.dataset`` and make its held-out test set.

    ``holdout = "fresh"``: the training set is the generator's sample (``moons`` without
    settings: the seed's exact data) and the test set a new sample of the same size and noise
    drawn with ``test_seed`` — for the seed's study ``make_moons(300, noise=0.2, seed=1)``.
    ``holdout = "split"``: a stratified split (``test_size``, ``test_seed``). Then, with
    ``standardize``, both parts are standardised with the training part's mean and std.

    Raises:
      DataError, InvalidParameterError: the data cannot be loaded or split.
    """
    spec = config.dataset
    if spec.holdout == "fresh":
        train_ds = load_dataset(
            spec.name, n_samples=spec.n_samples, noise=spec.noise, seed=spec.seed
        )
        test_ds = load_dataset(
            spec.name, n_samples=train_ds.n_examples, noise=spec.noise, seed=spec.test_seed
        )
    else:
        full = load_dataset(
            spec.name,
            target=spec.target,
            n_samples=spec.n_samples,
            noise=spec.noise,
            seed=spec.seed,
        )
        train_ds, test_ds = full.split(spec.test_size, spec.test_seed)
    if spec.standardize:
        train_ds, mean, std = train_ds.standardized()
        test_ds = test_ds.standardized(mean, std)[0]
        return ExperimentData(train_ds, test_ds, mean, std)
    return ExperimentData(train_ds, test_ds)


# --------------------------------------------------------------------------- one run


@dataclass
class RunOutcome:
    """One optimizer's training run: its parameters, history and summary numbers.

    ``summary`` is its entry in ``results.json``: ``optimizer``, ``label``,
    ``hyperparameters`` (learning rate first), ``status`` (``completed``, ``early_stopped``,
    ``diverged``, ``interrupted``), ``message``, ``epochs_run``, ``train_accuracy``,
    ``test_accuracy``, ``final_cost`` (mean cost of the last epoch), ``final_last_batch_cost``,
    ``seconds`` (wall time of the training loop). Numbers that are not finite are ``None``.
    """

    spec: OptimizerSpec
    params: Params
    history: History
    summary: dict[str, Any]


def _finite_or_none(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _summary(
    config: ExperimentConfig,
    spec: OptimizerSpec,
    data: ExperimentData,
    net: MLP,
    params: Params,
    history: History,
    status: str,
    message: str,
    seconds: float,
) -> dict[str, Any]:
    """The run's entry in ``results.json`` (see :class:`RunOutcome`)."""
    train_ds, test_ds = data.train, data.test
    finite = all(np.all(np.isfinite(v)) for v in params.values())
    h = history
    return {
        "optimizer": spec.name,
        "label": spec.label,
        "hyperparameters": spec.effective_hyperparameters(config.learning_rate),
        "status": status,
        "message": message,
        "epochs_run": h.n_epochs,
        "train_accuracy": float(net.accuracy(params, train_ds.X, train_ds.y)) if finite else None,
        "test_accuracy": float(net.accuracy(params, test_ds.X, test_ds.y)) if finite else None,
        "final_cost": _finite_or_none(h.cost[-1]) if h.n_epochs else None,
        "final_last_batch_cost": _finite_or_none(h.last_batch_cost[-1]) if h.n_epochs else None,
        "seconds": seconds,
    }


def run_one(
    config: ExperimentConfig,
    spec: OptimizerSpec,
    data: ExperimentData,
    *,
    progress: bool | None = None,
) -> RunOutcome:
    """Train ``config``'s network on ``data.train`` with optimizer ``spec``.

    The initial weights (``init``, ``seed``) and the data order (``shuffle``, ``data_seed``)
    are the config's, identical for every optimizer, so runs differ only by the optimizer.
    Test accuracy is measured every ``eval_every`` epochs. Ctrl-C ends the run with status
    ``interrupted`` (it does not raise).
    """
    train_ds, test_ds = data.train, data.test
    net = MLP(config.layer_dims(train_ds.n_features, train_ds.n_classes), config.activation)
    steps = config.steps_per_epoch(train_ds.n_examples)
    optimizer = spec.build(config.learning_rate, config.schedule, steps)
    rate = build_learning_rate(spec.learning_rate(config.learning_rate), config.schedule, steps)
    result = train(
        net,
        optimizer,
        train_ds.X,
        train_ds.y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        init=config.init,
        shuffle=config.shuffle,
        data_seed=config.data_seed,
        learning_rate=rate,
        validation=(test_ds.X, test_ds.y),
        eval_every=config.eval_every,
        progress=progress,
        label=spec.label,
    )
    summary = _summary(
        config,
        spec,
        data,
        net,
        result.params,
        result.history,
        result.status,
        result.message,
        result.seconds,
    )
    return RunOutcome(spec, result.params, result.history, summary)


def run_together(
    config: ExperimentConfig,
    data: ExperimentData,
    *,
    progress: bool | None = None,
) -> list[RunOutcome]:
    """Train ``config``'s network with all its optimizers at once, as one population of K.

    Member k is the network ``init(seed)`` trained by ``config.optimizers[k]``: the K members
    start from the same weights and see the same mini-batches, so one forward and one backward
    pass per mini-batch serve them all (parameters ``(K, n_l, n_{l-1})``, data shared), and
    :func:`~descentlab.optimizers.stack_optimizers` updates member k with its own
    optimizer (schedule included)::

        theta_k <- theta_k + update_k(grad_k)        for k = 1 .. K, in one step

    Every number equals :func:`run_one` for that optimizer, bit for bit: parameters, history,
    accuracies, status and message. A member whose cost becomes NaN, inf or too large is
    ``diverged`` at that epoch (its parameters and history are those of that epoch, as if it
    had stopped there) while the others train on; Ctrl-C stops every member at the same epoch
    (status ``interrupted``, the history so far kept). Each summary's ``seconds`` is the wall
    time of the whole population's training loop.

    Returns:
      one :class:`RunOutcome` per optimizer, in the config's order.
    """
    train_ds, test_ds = data.train, data.test
    net = MLP(config.layer_dims(train_ds.n_features, train_ds.n_classes), config.activation)
    steps = config.steps_per_epoch(train_ds.n_examples)
    specs = config.optimizers
    K = len(specs)
    optimizer = stack_optimizers(
        [s.build(config.learning_rate, config.schedule, steps) for s in specs], [1] * K
    )
    rates = [
        build_learning_rate(s.learning_rate(config.learning_rate), config.schedule, steps)
        for s in specs
    ]

    def learning_rate(step: int) -> np.ndarray:
        return np.array([float(np.asarray(r(step) if callable(r) else r)) for r in rates])

    first = net.init(config.seed, method=config.init)
    params = {k: np.repeat(v[None], K, axis=0) for k, v in first.items()}
    labels = ", ".join(s.label for s in specs)
    result = train(
        net,
        optimizer,
        train_ds.X,
        train_ds.y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        params=params,
        init=config.init,
        shuffle=config.shuffle,
        data_seed=config.data_seed,
        learning_rate=learning_rate,
        validation=(test_ds.X, test_ds.y),
        eval_every=config.eval_every,
        progress=progress,
        label=labels if len(labels) <= 40 else f"{K} optimizers",
    )
    outcomes = []
    for k, spec in enumerate(specs):
        alone = result.member(k)
        summary = _summary(
            config,
            spec,
            data,
            net,
            alone.params,
            alone.history,
            alone.status,
            alone.message,
            result.seconds,
        )
        outcomes.append(RunOutcome(spec, alone.params, alone.history, summary))
    return outcomes


# --------------------------------------------------------------------------- files


def default_run_dir(config: ExperimentConfig, root: str | Path = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>`` (with ``-2``, ``-3``, ... if that folder exists)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _write_history(path: Path, outcomes: list[RunOutcome]) -> None:
    with atomic_writer(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(HISTORY_COLUMNS)
        for o in outcomes:
            h = o.history
            evals = {int(e): i for i, e in enumerate(h.eval_epochs)}
            for epoch in range(h.n_epochs):
                i = evals.get(epoch)
                train_acc = repr(float(h.train_accuracy[i])) if i is not None else ""
                test_acc = (
                    repr(float(h.val_accuracy[i])) if i is not None and h.val_accuracy.size else ""
                )
                w.writerow(
                    [
                        o.spec.label,
                        epoch,
                        repr(float(h.cost[epoch])),
                        repr(float(h.last_batch_cost[epoch])),
                        repr(float(h.learning_rate[epoch])),
                        train_acc,
                        test_acc,
                    ]
                )


def read_history_csv(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read ``history.csv``: label → column → array (empty cells are NaN), in file order.

    Raises:
      DataError: missing or unreadable file, or not a descentlab history.
    """
    path = Path(path)
    out: dict[str, dict[str, list[float]]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(header) != HISTORY_COLUMNS:
                raise DataError(
                    f"'{path}' is not a descentlab history: expected the columns "
                    f"{', '.join(HISTORY_COLUMNS)}."
                )
            for row in reader:
                cols = out.setdefault(row[0], {c: [] for c in HISTORY_COLUMNS[1:]})
                for c, v in zip(HISTORY_COLUMNS[1:], row[1:], strict=True):
                    cols[c].append(float(v) if v != "" else math.nan)
    except FileNotFoundError:
        raise DataError(f"No such file: '{path}'.") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataError(f"Cannot read '{path}' as a descentlab history: {exc}.") from None
    return {k: {c: np.asarray(v) for c, v in cols.items()} for k, cols in out.items()}


def _save_models(path: Path, outcomes: list[RunOutcome]) -> None:
    arrays = {f"run{i}/{k}": v for i, o in enumerate(outcomes) for k, v in o.params.items()}
    arrays["labels"] = np.array([o.spec.label for o in outcomes], dtype=str)
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)


def _load_models(path: Path) -> dict[str, Params]:
    with np.load(path, allow_pickle=False) as z:
        labels = [str(s) for s in z["labels"]]
        out: dict[str, Params] = {label: {} for label in labels}
        for key in z.files:
            if key.startswith("run"):
                run, name = key.split("/", 1)
                out[labels[int(run[3:])]][name] = z[key]
    return out


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"Cannot write {type(x).__name__} to JSON.")


def results_to_json(results: Mapping[str, Any]) -> str:
    """``results`` as JSON text (strict: NaN and inf are not allowed, they are ``null``)."""
    return json.dumps(results, indent=2, default=_json_default, allow_nan=False) + "\n"


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[list[bool]]:
    """Hold Ctrl-C while the final files are written (main thread only); yields a flag list."""
    caught: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- plots and report


def _write_outputs(
    run_dir: Path,
    config: ExperimentConfig,
    results: dict[str, Any],
    costs: dict[str, np.ndarray],
    params: Mapping[str, Params],
    data: ExperimentData | None,
    config_toml: str,
) -> list[str]:
    """Draw the plots and write report.html; return the names of the files written."""
    from descentlab.plots import (
        confusion_matrix,
        plot_confusion_matrices,
        plot_cost_curves,
        plot_decision_boundaries,
        save_figure,
    )
    from descentlab.report import write_report

    images: dict[str, bytes] = {}
    written = []
    title = f"Training cost per epoch — {config.name}"
    images["Cost per epoch (mean over the epoch's mini-batches)"] = save_figure(
        plot_cost_curves(costs, log_scale=config.log_scale, title=title),
        run_dir / "cost_curves.png",
    )
    written.append("cost_curves.png")
    runs = {r["label"]: r for r in results["runs"]}
    usable = {
        label: p
        for label, p in params.items()
        if label in runs and all(np.all(np.isfinite(v)) for v in p.values())
    }
    if data is not None and usable:
        train_ds, test_ds = data.train, data.test
        net = MLP(tuple(results["layer_dims"]), config.activation)
        titles = {
            label: f"{label}\ntrain {runs[label]['train_accuracy']:.4f} · "
            f"test {runs[label]['test_accuracy']:.4f}"
            for label in usable
        }
        std = " (standardized)" if data.mean is not None else ""
        if train_ds.n_features == 2:
            predictors = {label: (lambda P, p=p: net.predict(p, P)) for label, p in usable.items()}
            fig = plot_decision_boundaries(
                predictors,
                train_ds.X,
                train_ds.y,
                titles=titles,
                class_names=train_ds.classes,
                feature_names=[f + std for f in train_ds.feature_names],
                suptitle=f"Decision boundaries on the training data — {config.name}",
            )
            images["Decision boundaries (training data on top)"] = save_figure(
                fig, run_dir / "decision_boundaries.png"
            )
            written.append("decision_boundaries.png")
        else:
            matrices = {
                label: confusion_matrix(test_ds.y, net.predict(p, test_ds.X), test_ds.n_classes)
                for label, p in usable.items()
            }
            fig = plot_confusion_matrices(
                matrices,
                test_ds.classes,
                titles=titles,
                suptitle=f"Confusion matrices on the test data — {config.name}",
            )
            images["Confusion matrices on the test data"] = save_figure(
                fig, run_dir / "confusion_matrices.png"
            )
            written.append("confusion_matrices.png")
    write_report(run_dir / "report.html", results, images, config_toml, costs)
    written.append("report.html")
    return written


def rebuild_outputs(run_dir: str | Path, *, log_scale: bool | None = None) -> list[str]:
    """Redraw the plots and rewrite report.html of a run folder from its saved files.

    Reads ``results.json``, ``history.csv``, ``config.toml`` and, for the decision boundaries or
    confusion matrices, ``models.npz`` and the data (reloaded from the configuration).
    ``log_scale`` overrides the configuration's cost axis.

    Returns:
      the names of the files written.

    Raises:
      DataError: a missing or unreadable file in the folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"No such run folder: '{run_dir}'.")
    for name in ("results.json", "history.csv", "config.toml"):
        if not (run_dir / name).is_file():
            raise DataError(
                f"'{run_dir}' has no {name}; is it a folder written by descentlab compare?"
            )
    try:
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        config_toml = (run_dir / "config.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"Cannot read the results in '{run_dir}': {exc}.") from None
    if not isinstance(results, dict) or "runs" not in results:
        raise DataError(f"'{run_dir / 'results.json'}' is not a descentlab results file.")
    config = ExperimentConfig.from_toml(config_toml)
    if log_scale is not None:
        config = config.replace(log_scale=log_scale)
    history = read_history_csv(run_dir / "history.csv")
    costs = {label: cols["cost"] for label, cols in history.items()}
    params: dict[str, Params] = {}
    data = None
    if (run_dir / "models.npz").is_file():
        try:
            params = _load_models(run_dir / "models.npz")
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"Cannot read '{run_dir / 'models.npz'}': {exc}.") from None
        data = load_experiment_data(config)
    return _write_outputs(run_dir, config, results, costs, params, data, config_toml)


# --------------------------------------------------------------------------- the comparison


def run_comparison(
    config: ExperimentConfig,
    out_dir: str | Path,
    progress: bool | None = None,
    *,
    log: Callable[[str], None] | None = None,
    together: bool = True,
) -> dict[str, Any]:
    """Train every optimizer of ``config`` and write the run folder ``out_dir``.

    Args:
      config: the experiment (its defaults are the seed's study).
      out_dir: the run folder; created if missing (files in it are replaced).
      progress: a progress bar (None: only on a terminal; False: never) — one for the
        population, or one per optimizer when they train one after another.
      log: called with one line of chatter per step (e.g. ``print`` to stderr), or None.
      together: train the optimizers as one population (:func:`run_together`; two or more
        optimizers); False trains them one after another (:func:`run_one`). The numbers are
        the same either way, only the time differs.

    Returns:
      the content of ``results.json`` plus ``run_dir`` (the folder) and ``interrupted``
      (True if Ctrl-C stopped it): ``{"name", "created", "descentlab_version", "partial",
      "trained_together", "dataset", "layer_dims", "config", "runs": [...]}``, each run as in
      :class:`RunOutcome`; optimizers that did not start have status ``not_run``. With
      ``"trained_together": true`` every run's ``seconds`` is the same number, the wall time
      of the population's training loop.

    Raises:
      DataError, InvalidParameterError: bad data or settings (before anything is written).
    """
    say = log or (lambda _: None)
    data = load_experiment_data(config)  # fail on bad data before creating anything
    layer_dims = config.layer_dims(data.train.n_features, data.train.n_classes)
    together = together and len(config.optimizers) > 1
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_toml = config.to_toml()
    atomic_write(run_dir / "config.toml", config_toml)
    results: dict[str, Any] = {
        "name": config.name,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "descentlab_version": __version__,
        "partial": True,
        "trained_together": together,
        "dataset": data.summary(config.dataset.holdout),
        "layer_dims": list(layer_dims),
        "config": config.to_dict(),
        "runs": [],
    }
    not_run = [
        {
            "optimizer": s.name,
            "label": s.label,
            "hyperparameters": s.effective_hyperparameters(config.learning_rate),
            "status": "not_run",
            "message": "Not run: the comparison was interrupted before it.",
            "epochs_run": 0,
            "train_accuracy": None,
            "test_accuracy": None,
            "final_cost": None,
            "final_last_batch_cost": None,
            "seconds": None,
        }
        for s in config.optimizers
    ]
    outcomes: list[RunOutcome] = []

    def save_progress(partial: bool) -> None:
        results["runs"] = [o.summary for o in outcomes] + not_run[len(outcomes) :]
        results["partial"] = partial
        _write_history(run_dir / "history.csv", outcomes)
        atomic_write(run_dir / "results.json", results_to_json(results))

    say(
        f"descentlab compare: {config.name} ({data.train.n_examples} training examples), "
        f"{', '.join(o.label for o in config.optimizers)}; {config.epochs} epochs, "
        f"batch {config.batch_size}, lr {config.learning_rate:g}"
        + (f", schedule {config.schedule.text()}" if config.schedule else "")
        + f"; writing {run_dir}"
    )
    interrupted = False
    try:
        save_progress(True)
        n = len(config.optimizers)
        if together:
            names = ", ".join(o.label for o in config.optimizers)
            say(f"[{names}] training {config.epochs} epochs together (one population of {n}) ...")
            outcomes.extend(run_together(config, data, progress=progress))
            if any(o.summary["status"] == "interrupted" for o in outcomes):
                interrupted = True
            else:
                statuses = {o.summary["status"] for o in outcomes}
                seconds = outcomes[0].summary["seconds"]
                say(
                    f"[{names}] "
                    + (statuses.pop() if len(statuses) == 1 else "done")
                    + f" in {seconds:.1f} s"
                )
                for o in outcomes:
                    if o.summary["message"]:
                        say(f"[{o.spec.label}] {o.summary['status']} — {o.summary['message']}")
        else:
            for i, spec in enumerate(config.optimizers):
                say(f"[{i + 1}/{n}] {spec.label}: training {config.epochs} epochs ...")
                outcome = run_one(config, spec, data, progress=progress)
                outcomes.append(outcome)
                s = outcome.summary
                if s["status"] == "interrupted":
                    interrupted = True
                    break
                say(
                    f"[{i + 1}/{n}] {spec.label}: {s['status']} in {s['seconds']:.1f} s"
                    + (f" — {s['message']}" if s["message"] else "")
                )
                save_progress(i + 1 < n)
    except KeyboardInterrupt:
        interrupted = True
    with _deferred_interrupt():
        save_progress(interrupted)
        _save_models(run_dir / "models.npz", outcomes)
        costs = {o.spec.label: o.history.cost for o in outcomes}
        params = {o.spec.label: o.params for o in outcomes}
        _write_outputs(run_dir, config, results, costs, params, data, config_toml)
    return {**results, "run_dir": str(run_dir), "interrupted": interrupted}
