"""Run an optimizer comparison and write its run folder.

:func:`run_comparison` trains the same network (same initial weights, same data order) with
every optimizer of an :class:`~descentlab.experiments.config.ExperimentConfig`. The optimizers
share everything but their own hyperparameters, so they are trained as ONE population
(:func:`train_optimizers`, through :class:`~descentlab.experiments.population.Population`):
one forward and one backward pass per mini-batch for all of them, each member updated by its
own optimizer — the same numbers, bit for bit, as training each alone. It writes::

    <run folder>/
      config.toml                the resolved configuration (rerun with --config)
      results.json               per optimizer: accuracies, final cost, seconds, status ...
      history.csv                one row per optimizer and epoch
      models.npz                 the trained parameters (to rebuild plots)
      trajectory.npz             with save_trajectory=N: the weights every N epochs
                                 (for descentlab landscape)
      cost_curves.png            every optimizer's cost per epoch on one plot
      decision_boundaries.png    two features: one panel per optimizer, data on top
      confusion_matrices.png     otherwise: test-set confusion matrix per optimizer
      report.html                one self-contained page with all of the above

Nothing is created before the configuration, the data and the output folder are checked.
Every file is written atomically (:mod:`~descentlab.experiments.run_folder`); ``results.json``
and ``history.csv`` are written before training (``"partial": true``) and again when it ends,
so the folder is valid at any moment. Ctrl-C (or SIGTERM) stops every optimizer at the same
epoch; each keeps its history so far (status ``interrupted``) and the folder is completed with
``"partial": true``. :func:`rebuild_outputs` redraws the plots and the report from the saved
files.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import __version__, limits
from descentlab._validation import STEPS, DataError, InvalidParameterError, as_int
from descentlab.experiments.config import ExperimentConfig
from descentlab.experiments.data import ExperimentData, load_experiment_data
from descentlab.experiments.population import Population, Run, engine_message
from descentlab.experiments.run_folder import (
    LANDSCAPE_FILES,
    TRAJECTORY_FILE,
    deferred_interrupts,
    history_diagnostics,
    read_history_csv,
    read_models,
    read_results_json,
    results_to_json,
    write_history_csv,
    write_models,
    write_trajectory,
)
from descentlab.experiments.specs import OptimizerSpec
from descentlab.io import atomic_write, check_regular_file, check_writable, open_error
from descentlab.nn import MLP
from descentlab.npz import MAX_MEMBERS
from descentlab.optimizers.base import Params
from descentlab.training import History

__all__ = [
    "RunOutcome",
    "SavedRun",
    "comparison_runs",
    "landscape_images",
    "load_run_folder",
    "rebuild_outputs",
    "run_comparison",
    "train_optimizers",
]


# --------------------------------------------------------------------------- training


@dataclass
class RunOutcome:
    """One optimizer's training run: its parameters, history and summary numbers.

    ``summary`` is its entry in ``results.json``: ``optimizer``, ``label``,
    ``hyperparameters`` (learning rate first), ``status`` (``completed``, ``early_stopped``,
    ``diverged``, ``interrupted``), ``message``, ``epochs_run``, ``train_accuracy``,
    ``test_accuracy``, ``final_cost`` (mean cost of the last epoch), ``final_last_batch_cost``,
    ``seconds`` (wall time of the population's training loop), ``engine`` (the engine that
    ran, ``numpy`` or ``compiled``; None before it has run). Numbers that are not finite
    are ``None``. ``engine_note`` says why ``engine="auto"`` ran numpy (empty otherwise).
    """

    spec: OptimizerSpec
    params: Params
    history: History
    summary: dict[str, Any]
    engine_note: str = ""


def _finite_or_none(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _summary(spec: OptimizerSpec, config: ExperimentConfig) -> dict[str, Any]:
    """An optimizer's ``results.json`` entry before it has run."""
    return {
        "optimizer": spec.name,
        "label": spec.label,
        "hyperparameters": spec.effective_hyperparameters(config.learning_rate),
        "status": "not_run",
        "message": "Not run: the comparison was interrupted before it.",
        "epochs_run": 0,
        "train_accuracy": None,
        "test_accuracy": None,
        "final_cost": None,
        "final_last_batch_cost": None,
        "seconds": None,
        "engine": None,
    }


def comparison_runs(config: ExperimentConfig) -> list[Run]:
    """The config's optimizers as :class:`Run` s that share the initial weights and data order."""
    schedule = config.schedule
    return [
        Run(
            spec.name,
            {**spec.hyperparameters, "learning_rate": spec.learning_rate(config.learning_rate)},
            schedule.name if schedule else None,
            dict(schedule.settings) if schedule else {},
            config.batch_size,
            config.epochs,
            config.layers,
            config.activation,
            config.init,
            config.shuffle,
            config.seed,
            config.data_seed,
        )
        for spec in config.optimizers
    ]


def train_optimizers(
    config: ExperimentConfig,
    data: ExperimentData,
    *,
    population: Population | None = None,
    progress: bool | None = None,
    checkpoint: Any = None,
    checkpoint_every: int | None = None,
    resume: Any = None,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    diagnostics: bool = False,
) -> list[RunOutcome]:
    """Train ``config``'s network with all its optimizers at once, as one population.

    Member k is the network ``init(seed)`` trained by ``config.optimizers[k]``: the members
    start from the same weights and see the same mini-batches, so one forward and one backward
    pass per mini-batch serve them all, and each member is updated by its own optimizer
    (schedule included). Every number equals training that optimizer alone: parameters,
    history, accuracies, status and message. A member whose cost becomes NaN, inf or too large
    is ``diverged`` at that epoch (its parameters and history are those of that epoch) while
    the others train on; Ctrl-C stops every member at the same epoch (status
    ``interrupted``). Test accuracy is measured every ``eval_every`` epochs.

    Args:
      config: the experiment.
      data: its data (:func:`~descentlab.experiments.data.load_experiment_data`).
      population: the population of :func:`comparison_runs` if already built.
      progress: a progress bar (None: on a terminal or in a notebook; False: never).
      checkpoint, checkpoint_every, resume: exact checkpoints, as for
        :func:`~descentlab.training.train` (``descentlab train --checkpoint-every``).
      on_epoch: as for :func:`~descentlab.training.train` (members in the population's order,
        ``population.position``), e.g. a :class:`_Trajectory`.
      diagnostics: measure the training diagnostics (:mod:`descentlab.diagnostics`) into
        each outcome's history.

    Returns:
      one :class:`RunOutcome` per optimizer, in the config's order.
    """
    population = population or Population(comparison_runs(config), data)
    labels = ", ".join(s.label for s in config.optimizers)
    result = population.train(
        validation=True,
        eval_every=config.eval_every,
        progress=progress,
        label=labels if len(labels) <= 40 else f"{len(config.optimizers)} optimizers",
        engine=config.engine,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        on_epoch=on_epoch,
        diagnostics=diagnostics,
    )
    net = population.net
    outcomes = []
    for i, spec in enumerate(config.optimizers):
        alone = population.member(result, i)
        h = alone.history
        finite = all(np.all(np.isfinite(v)) for v in alone.params.values())
        with np.errstate(all="ignore"):
            accuracy = {
                name: float(net.accuracy(alone.params, ds.X, ds.y)) if finite else None
                for name, ds in (("train_accuracy", data.train), ("test_accuracy", data.test))
            }
        summary = {
            **_summary(spec, config),
            "status": alone.status,
            "message": alone.message,
            "epochs_run": h.n_epochs,
            **accuracy,
            "final_cost": _finite_or_none(h.cost[-1]) if h.n_epochs else None,
            "final_last_batch_cost": _finite_or_none(h.last_batch_cost[-1]) if h.n_epochs else None,
            "seconds": result.seconds,
            "engine": result.engine,
        }
        if data.task == "regression" and data.test is not None:  # no accuracy: the test cost
            with np.errstate(all="ignore"):
                cost = net.cost(alone.params, data.test.X, net.targets(data.test.y))
            summary["test_cost"] = _finite_or_none(cost) if finite else None
        outcomes.append(RunOutcome(spec, alone.params, h, summary, result.engine_note))
    return outcomes


# --------------------------------------------------------------------------- the comparison


class _Folder:
    """The run folder of one comparison: what is saved, and when."""

    def __init__(self, run_dir: Path, config: ExperimentConfig, data: ExperimentData) -> None:
        self.dir, self.config, self.data = run_dir, config, data
        self.toml = config.to_toml()
        self.results: dict[str, Any] = {
            "name": config.name,
            "problem": config.problem,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "descentlab_version": __version__,
            "partial": True,
            "trained_together": True,
            "dataset": data.summary(),
            "layer_dims": list(data.layer_dims(config.layers)),
            "config": config.to_dict(),
            "runs": [_summary(s, config) for s in config.optimizers],
        }

    def start(self) -> None:
        """Create the folder and write the configuration and the not-yet-run results; remove
        the trajectory and landscapes of an earlier run in it (they describe other weights)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in (TRAJECTORY_FILE, *LANDSCAPE_FILES):
            (self.dir / name).unlink(missing_ok=True)
        atomic_write(self.dir / "config.toml", self.toml)
        self.save([], partial=True)

    def save(self, outcomes: list[RunOutcome], *, partial: bool) -> None:
        """``results.json`` and ``history.csv`` as they stand."""
        if outcomes:
            self.results["runs"] = [o.summary for o in outcomes]
            if outcomes[0].engine_note:
                self.results["engine_note"] = outcomes[0].engine_note
        self.results["partial"] = partial
        write_history_csv(self.dir / "history.csv", [(o.spec.label, o.history) for o in outcomes])
        atomic_write(self.dir / "results.json", results_to_json(self.results))

    def finish(
        self, outcomes: list[RunOutcome], *, partial: bool, trajectory: _Trajectory | None = None
    ) -> None:
        """The final results, the models, the trajectory (if recorded), the plots and the
        report (signals held meanwhile)."""
        with deferred_interrupts():
            self.save(outcomes, partial=partial)
            write_models(self.dir / "models.npz", [(o.spec.label, o.params) for o in outcomes])
            if trajectory is not None and outcomes:
                trajectory.write(self.dir / TRAJECTORY_FILE, outcomes)
            _write_outputs(
                self.dir,
                self.config,
                self.results,
                {o.spec.label: o.history.cost for o in outcomes},
                {o.spec.label: o.params for o in outcomes},
                self.data,
                self.toml,
            )


def _chatter(config: ExperimentConfig, data: ExperimentData, run_dir: Path) -> str:
    return (
        f"descentlab compare: {config.name} ({data.train.n_examples} training examples), "
        f"{', '.join(o.label for o in config.optimizers)}; {config.epochs} epochs, "
        f"batch {config.batch_size}, lr {config.learning_rate:g}"
        + (f", schedule {config.schedule.text()}" if config.schedule else "")
        + f"; writing {run_dir}"
    )


def _report_done(outcomes: list[RunOutcome], say: Callable[[str], None]) -> None:
    names = ", ".join(o.spec.label for o in outcomes)
    statuses = {o.summary["status"] for o in outcomes}
    state = statuses.pop() if len(statuses) == 1 else "done"
    say(f"[{names}] {state} in {outcomes[0].summary['seconds']:.1f} s")
    for o in outcomes:
        if o.summary["message"]:
            say(f"[{o.spec.label}] {o.summary['status']} — {o.summary['message']}")


class _Trajectory:
    """The weights of every member every ``every`` epochs, for ``trajectory.npz``.

    Called as ``on_epoch`` (:func:`~descentlab.training.train`): after epoch ``e`` (from 0)
    with ``(e + 1) % every == 0`` it copies the evaluated parameters ``(K, *shape)``. The
    first snapshot is the initial weights (epoch 0: ``init(seed)``, shared by every member),
    the last one the final weights (:meth:`write`).
    """

    def __init__(self, population: Population, config: ExperimentConfig, every: int) -> None:
        self.every, self.position = every, population.position
        start = population.net.init(config.seed, method=config.init)
        members = len(population.runs)
        self.epochs: list[int] = [0]
        self.snapshots = [{k: np.broadcast_to(v, (members, *v.shape)) for k, v in start.items()}]

    def __call__(self, epoch: int, logs: dict[str, Any]) -> None:
        if (epoch + 1) % self.every == 0:
            self.epochs.append(epoch + 1)
            self.snapshots.append({k: np.array(v) for k, v in logs["params"].items()})

    def write(self, path: Path, outcomes: list[RunOutcome]) -> None:
        """``trajectory.npz``: per run (config order) the snapshots ``(S, *shape)``, ending with
        the final weights (:func:`~descentlab.experiments.run_folder.write_trajectory`)."""
        last = max(o.summary["epochs_run"] for o in outcomes)
        n = len(self.epochs) - (self.epochs[-1] == last)  # the final weights replace that one
        models = []
        for i, o in enumerate(outcomes):
            k = self.position[i]
            models.append(
                (
                    o.spec.label,
                    {
                        key: np.stack([s[key][k] for s in self.snapshots[:n]] + [final])
                        for key, final in o.params.items()
                    },
                )
            )
        write_trajectory(path, [*self.epochs[:n], last], models)


def _check_trajectory(every: Any, config: ExperimentConfig, population: Population) -> int:
    """``save_trajectory``: an int in [1, 2**53] whose snapshots fit in a trajectory file
    (at most :data:`~descentlab.npz.MAX_MEMBERS`) and in ``limits.MAX_MEMORY_BYTES``."""
    every = as_int("run_comparison", "save_trajectory", every, STEPS)
    snapshots = config.epochs // every + 2
    size = 8 * snapshots * len(config.optimizers) * population.net.n_params
    if snapshots > MAX_MEMBERS or size > limits.MAX_MEMORY_BYTES:
        raise InvalidParameterError(
            f"The 'save_trajectory' parameter of run_comparison asks for {snapshots} snapshots "
            f"of {len(config.optimizers)} networks ({size / 2**20:.0f} MiB); at most "
            f"{MAX_MEMBERS} snapshots and {limits.MAX_MEMORY_BYTES // 2**30} GiB "
            f"(descentlab.limits). Save every {max(every + 1, config.epochs // 1000)} epochs "
            f"or more. Got {every} instead."
        )
    return every


def run_comparison(
    config: ExperimentConfig,
    out_dir: str | Path,
    progress: bool | None = None,
    *,
    log: Callable[[str], None] | None = None,
    save_trajectory: int | None = None,
    diagnostics: bool = False,
) -> dict[str, Any]:
    """Train every optimizer of ``config`` together and write the run folder ``out_dir``.

    Steps: load and check the data, the population (every optimizer built, the memory
    checked) and the output folder; write the folder's starting files; train; write the
    results, models, plots and report.

    Args:
      config: the experiment (its defaults are the seed's study).
      out_dir: the run folder; created if missing (files in it are replaced).
      progress: a progress bar (None: on a terminal or in a notebook; False: never).
      log: called with one line of chatter per step (e.g. ``print`` to stderr), or None.
      save_trajectory: every how many epochs to save the weights in ``trajectory.npz`` (the
        initial and final weights are always in it), for ``descentlab landscape``'s paths;
        None saves none. Visiting every epoch costs the compiled engine a little speed.
      diagnostics: measure the training diagnostics (:mod:`descentlab.diagnostics`) at every
        evaluation: extra ``diag_*`` columns in history.csv and their plot in report.html.

    Returns:
      the content of ``results.json`` plus ``run_dir`` (the folder) and ``interrupted``
      (True if Ctrl-C stopped it): ``{"name", "created", "descentlab_version", "partial",
      "trained_together", "dataset", "layer_dims", "config", "runs": [...]}``, each run as in
      :class:`RunOutcome`. Every run's ``seconds`` is the same number, the wall time of the
      population's training loop.

    Raises:
      DataError, InvalidParameterError: bad data, settings or output folder (before anything
        is written).
    """
    say = log or (lambda _: None)
    data = load_experiment_data(config.dataset)
    population = Population(comparison_runs(config), data)
    trajectory = None
    if save_trajectory is not None:
        every = _check_trajectory(save_trajectory, config, population)
        trajectory = _Trajectory(population, config, every)
    folder = _Folder(check_writable(out_dir, folder=True), config, data)
    say(_chatter(config, data, folder.dir))
    outcomes: list[RunOutcome] = []
    interrupted = False
    try:
        folder.start()
        n = len(config.optimizers)
        names = ", ".join(o.label for o in config.optimizers)
        say(f"[{names}] training {config.epochs} epochs together (one population of {n}) ...")
        threading.Thread(target=_import_plots, daemon=True).start()  # while training runs
        outcomes = train_optimizers(
            config,
            data,
            population=population,
            progress=progress,
            on_epoch=trajectory,
            diagnostics=diagnostics,
        )
        interrupted = any(o.summary["status"] == "interrupted" for o in outcomes)
        if not interrupted:
            _report_done(outcomes, say)
        if outcomes and outcomes[0].engine_note:
            say(engine_message(outcomes[0].engine_note))
    except KeyboardInterrupt:
        interrupted = True
    folder.finish(outcomes, partial=interrupted, trajectory=trajectory)
    return {**folder.results, "run_dir": str(folder.dir), "interrupted": interrupted}


# --------------------------------------------------------------------------- plots and report


def _import_plots() -> None:
    """Import matplotlib (through :mod:`descentlab.plots`): about 0.35 s, overlapped with the
    training (the compiled engine releases the GIL)."""
    import descentlab.plots  # noqa: F401


def _plot_models(
    run_dir: Path,
    config: ExperimentConfig,
    results: Mapping[str, Any],
    params: Mapping[str, Params],
    data: ExperimentData,
) -> dict[str, tuple[str, bytes]]:
    """Decision boundaries (two features) or confusion matrices of the usable models."""
    from descentlab.plots import (
        confusion_matrix,
        plot_confusion_matrices,
        plot_decision_boundaries,
        save_figure,
    )

    if data.task == "regression":  # no classes to draw: the cost curves tell the story
        return {}
    runs = {r["label"]: r for r in results["runs"]}
    usable = {
        label: p
        for label, p in params.items()
        if label in runs
        and runs[label]["train_accuracy"] is not None
        and runs[label]["test_accuracy"] is not None
        and all(np.all(np.isfinite(v)) for v in p.values())
    }
    if not usable:
        return {}
    train_ds, test_ds = data.train, data.test
    net = MLP(tuple(results["layer_dims"]), config.activation)
    titles = {
        label: f"{label}\ntrain {runs[label]['train_accuracy']:.4f} · "
        f"test {runs[label]['test_accuracy']:.4f}"
        for label in usable
    }
    if train_ds.n_features == 2:
        std = " (standardized)" if data.mean is not None else ""
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
        name, caption = "decision_boundaries.png", "Decision boundaries (training data on top)"
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
        name, caption = "confusion_matrices.png", "Confusion matrices on the test data"
    return {name: (caption, save_figure(fig, run_dir / name))}


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
    from descentlab.plots import plot_cost_curves, save_figure
    from descentlab.report import write_report

    title = f"Training cost per epoch — {config.name}"
    figures = {
        "cost_curves.png": (
            "Cost per epoch (mean over the epoch's mini-batches)",
            save_figure(
                plot_cost_curves(costs, log_scale=config.log_scale, title=title),
                run_dir / "cost_curves.png",
            ),
        )
    }
    if data is not None:
        with np.errstate(all="ignore"):
            figures.update(_plot_models(run_dir, config, results, params, data))
    images = dict(figures.values())
    landscapes = landscape_images(run_dir)
    diagnostics = _diagnostics_image(run_dir)
    write_report(
        run_dir / "report.html", results, images, config_toml, costs, landscapes, diagnostics
    )
    return [*figures, *(["diagnostics.png"] if diagnostics else []), "report.html"]


def _diagnostics_image(run_dir: Path) -> dict[str, bytes]:
    """caption → PNG of the training diagnostics in ``history.csv`` (``diag_*`` columns),
    saved as diagnostics.png; none (and no stale diagnostics.png) without them."""
    from descentlab.plots import plot_diagnostics, save_figure

    diagnostics = history_diagnostics(read_history_csv(run_dir / "history.csv"))
    if not diagnostics:
        (run_dir / "diagnostics.png").unlink(missing_ok=True)
        return {}
    png = save_figure(plot_diagnostics(diagnostics), run_dir / "diagnostics.png")
    caption = "Sharpness against its stability threshold, gradient norm, update ratios, noise scale"
    return {caption: png}


_LANDSCAPE_CAPTIONS = {
    LANDSCAPE_FILES[1]: "The loss on a filter-normalised random plane through each optimizer's "
    "final weights (centre)",
    LANDSCAPE_FILES[2]: "The training path projected on the top two PCA directions of the "
    "weight trajectory, over the loss on that plane",
}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_BYTES = 64 * 2**20


def landscape_images(run_dir: Path) -> dict[str, bytes]:
    """caption → PNG bytes of the landscape figures ``descentlab landscape`` left in
    ``run_dir`` (none: empty).

    Raises:
      DataError: such a file that is not a regular file, is larger than 64 MiB or is not a PNG.
    """
    images = {}
    for name, caption in _LANDSCAPE_CAPTIONS.items():
        path = run_dir / name
        if not path.exists():
            continue
        if check_regular_file(path) > _MAX_PNG_BYTES:
            raise DataError(f"'{path}' is larger than {_MAX_PNG_BYTES >> 20} MiB: not a landscape.")
        try:
            png = path.read_bytes()
        except OSError as exc:
            raise open_error(path, exc) from None
        if not png.startswith(_PNG_MAGIC):
            raise DataError(
                f"'{path}' is not a PNG image; delete it or rerun descentlab landscape."
            )
        images[caption] = png
    return images


@dataclass
class SavedRun:
    """A run folder's saved files, checked: ``results`` (``results.json``), ``config`` and
    ``config_toml`` (``config.toml``), ``costs`` (label → cost per epoch, ``history.csv``)
    and, when the folder has ``models.npz``, ``params`` (label → trained parameters), the
    reloaded ``data`` and the ``net`` (None otherwise)."""

    dir: Path
    results: dict[str, Any]
    config: ExperimentConfig
    config_toml: str
    costs: dict[str, np.ndarray]
    params: dict[str, Params]
    data: ExperimentData | None
    net: MLP | None


def load_run_folder(run_dir: str | Path) -> SavedRun:
    """Read and check a run folder written by :func:`run_comparison` (the data is reloaded
    from the configuration when the folder has ``models.npz``).

    Raises:
      DataError: a missing, unreadable or damaged file in the folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"No such run folder: '{run_dir}'.")
    for name in ("results.json", "history.csv", "config.toml"):
        if not (run_dir / name).is_file():
            raise DataError(
                f"'{run_dir}' has no {name}; is it a folder written by descentlab compare?"
            )
    results = read_results_json(run_dir / "results.json")
    config_toml = (run_dir / "config.toml").read_text(encoding="utf-8", errors="replace")
    config = ExperimentConfig.from_toml(run_dir / "config.toml")
    costs = {
        label: cols["cost"] for label, cols in read_history_csv(run_dir / "history.csv").items()
    }
    params: dict[str, Params] = {}
    data = net = None
    if (run_dir / "models.npz").is_file():
        shapes = MLP(tuple(results["layer_dims"]), config.activation).shapes()
        params = read_models(run_dir / "models.npz", shapes)
        data = load_experiment_data(config.dataset)
        net = MLP(tuple(results["layer_dims"]), config.activation, loss=data.loss)
        if data.layer_dims(config.layers) != net.layer_dims:
            raise DataError(
                f"'{run_dir / 'results.json'}' does not match its config.toml: layer_dims "
                f"{list(net.layer_dims)} against {list(data.layer_dims(config.layers))}."
            )
    return SavedRun(run_dir, results, config, config_toml, costs, params, data, net)


def rebuild_outputs(run_dir: str | Path, *, log_scale: bool | None = None) -> list[str]:
    """Redraw the plots and rewrite report.html of a run folder from its saved files.

    Reads ``results.json``, ``history.csv``, ``config.toml`` and, for the decision boundaries or
    confusion matrices, ``models.npz`` and the data (reloaded from the configuration); every
    file is checked before anything is redrawn. ``log_scale`` overrides the configuration's
    cost axis.

    Returns:
      the names of the files written.

    Raises:
      DataError: a missing, unreadable or damaged file in the folder.
    """
    run = load_run_folder(run_dir)
    config = run.config if log_scale is None else run.config.replace(log_scale=log_scale)
    return _write_outputs(
        run.dir, config, run.results, run.costs, run.params, run.data, run.config_toml
    )
