"""The model file: one trained network and what predicting with it needs, as NPZ + JSON (no pickle).

:func:`save_model` writes it (``descentlab train``), :func:`load_model` reads it back
(``descentlab predict``) as a :class:`SavedModel`. The file is a NumPy ``.npz`` archive of plain
arrays:

- ``W1``, ``b1``, ... — the parameters (``W{l}`` is ``(n_l, n_{l-1})``, ``b{l}`` is ``(n_l, 1)``),
  floats, all finite;
- ``meta`` — a JSON object as a 0-d text array: ``format`` (``"descentlab-model"``) and
  ``version``, ``layer_dims``, ``activation``, ``loss`` (``cross_entropy`` or ``mse``: the
  output layer, :class:`~descentlab.nn.MLP`), ``task`` (``classification`` or
  ``regression``), ``classes`` (the original labels, one per class of the network's output,
  so predictions come out as labels; an empty list for regression, whose ``n_L`` linear
  outputs are the predicted targets), ``feature_names`` (one per input), ``target`` (the
  label or target column's name, or null), and for people ``optimizer``, ``summary``,
  ``dataset`` and ``config``;
- ``mean``, ``std`` — ``(n_features, 1)`` standardisation of the inputs
  (``X_std = (X - mean) / std``), if used: finite, ``std > 0``;
- ``history_cost``, ``history_last_batch_cost``, ``history_learning_rate`` (per epoch),
  ``history_eval_epochs``, ``history_train_accuracy``, ``history_test_accuracy`` (NaN for
  regression), ``history_test_cost``.

Versions. Version 2 added ``loss`` and ``task``. A cross-entropy classifier — all that
version 1 could describe — is still written as version 1 (with the two fields, which older
readers ignore), so an older descentlab reads it; an MSE model is version 2, which an older
descentlab refuses by name instead of misreading its linear outputs as probabilities. A file
without ``loss`` and ``task`` (written before they existed) reads as a cross-entropy
classifier, and a version-1 file must be one.

:func:`load_model` treats the file as hostile: it reads the archive through
:func:`descentlab.npz.open_npz` and checks every array's header (shape and type) against the
network before its data is read, so a damaged or foreign file is a one-line
:class:`~descentlab._validation.DataError` that names it, never a crash or an outsized
allocation. :func:`save_model` checks the same rules before it writes, so it never writes a
file :func:`load_model` would refuse (a diverged network with NaN weights is refused).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import DataError, DescentLabError, is_integer
from descentlab.datasets.container import TASKS
from descentlab.io import atomic_writer, check_writable, json_default
from descentlab.nn import MLP
from descentlab.npz import NpzArchive, NpzError, open_npz
from descentlab.optimizers.base import Params

__all__ = [
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "TASKS",
    "SavedModel",
    "load_model",
    "save_model",
    "target_columns",
]

MODEL_FORMAT = "descentlab-model"
MODEL_VERSION = 2
"""The newest model format this descentlab writes and reads (see the module docstring)."""
_CLASSIFIER_VERSION = 1
"""The version a cross-entropy classifier is written as: the oldest that describes it."""
MAX_META_CHARS = 2**20
"""The longest ``meta`` text read back (the seed's model has about 2 000 characters)."""
HISTORY_KEYS = (
    "cost",
    "last_batch_cost",
    "learning_rate",
    "eval_epochs",
    "train_accuracy",
    "test_accuracy",
    "test_cost",
)
"""The per-epoch (or per-evaluation) arrays stored as ``history_<key>`` (``test_cost`` is
absent from files written before it was kept)."""


def target_columns(target: str, n_targets: int) -> list[str]:
    """The CSV columns of a regression set's targets: ``[target]`` for one target, else
    ``target1, ..., target<n>`` (``descentlab datasets --export`` writes them so).

    >>> target_columns("y", 1), target_columns("y", 3)
    (['y'], ['y1', 'y2', 'y3'])
    """
    return [target] if n_targets == 1 else [f"{target}{j + 1}" for j in range(n_targets)]


@dataclass(frozen=True)
class SavedModel:
    """A model file's content: the network, its parameters and what predict needs.

    Attributes:
      net: the architecture (``layer_dims``, ``activation``, ``loss``).
      params: ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``, float64, finite.
      classes: the label of each class, in the order of the network's outputs; ``()`` for
        regression.
      feature_names: the input columns, in the order of ``X``'s rows.
      target: the label column's name, or None.
      mean, std: ``(n_features, 1)`` standardisation of the inputs, or None.
      meta: the whole ``meta`` object (optimizer, summary, configuration, ...).
      history: ``{"cost": (n_epochs,), ...}``: the stored :data:`HISTORY_KEYS`.
      task: ``classification`` (outputs are class scores) or ``regression`` (the ``n_L``
        linear outputs are the predicted targets).
    """

    net: MLP
    params: Params
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]
    target: str | None
    mean: np.ndarray | None
    std: np.ndarray | None
    meta: dict[str, Any]
    history: dict[str, np.ndarray]
    task: str = "classification"

    @property
    def n_targets(self) -> int:
        """Outputs of a regression model, one per target (``n_L``)."""
        return self.net.layer_dims[-1]


# ----------------------------------------------------------------------------- writing


def save_model(
    path: str | Path,
    *,
    net: MLP,
    params: Params,
    history: Any,
    meta: Mapping[str, Any],
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> Path:
    """Check the model, then write it atomically to ``path`` (its folders are created).

    Args:
      path: the model file.
      net, params: the network and its parameters (one network, no population axis).
      history: a :class:`~descentlab.training.History` of that network.
      meta: ``classes`` (``[]`` for regression), ``feature_names``, ``target`` and any
        JSON-friendly extras (``optimizer``, ``summary``, ...); ``format``, ``version``,
        ``layer_dims``, ``activation``, ``loss`` (``net.loss``) and ``task`` are added. The
        task is ``regression`` for an MSE network without classes, else ``classification``
        (a ``task`` given in ``meta`` wins, and must agree).
      mean, std: the inputs' standardisation, or None.

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      DataError: parameters that are not finite (a diverged run: the message says so and
        nothing is written), or a model :func:`load_model` would refuse; ``path`` cannot be
        written.
    """
    path = Path(path)
    regression = net.loss == "mse" and isinstance(meta.get("classes"), list | tuple)
    regression = regression and len(meta["classes"]) == 0
    full_meta = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION if net.loss != "cross_entropy" else _CLASSIFIER_VERSION,
        "layer_dims": list(net.layer_dims),
        "activation": net.activation,
        "loss": net.loss,
        "task": "regression" if regression else "classification",
        **meta,
    }
    arrays: dict[str, np.ndarray] = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    if not all(np.all(np.isfinite(v)) for v in arrays.values()):
        raise DataError(
            f"Not saving '{path}': the network's weights are NaN or inf (the training "
            "diverged); train again with a smaller learning rate."
        )
    arrays["meta"] = np.array(json.dumps(full_meta, default=json_default))
    if mean is not None and std is not None:
        arrays["mean"], arrays["std"] = np.asarray(mean, float), np.asarray(std, float)
    arrays.update(_history_arrays(history))
    _check_model(_Arrays(arrays), f"The model for '{path}'")  # what is written reads back
    check_writable(path, folder=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _history_arrays(history: Any) -> dict[str, np.ndarray]:
    """``history_<key>`` arrays of a :class:`~descentlab.training.History`."""
    values = {
        "cost": history.cost,
        "last_batch_cost": history.last_batch_cost,
        "learning_rate": history.learning_rate,
        "eval_epochs": history.eval_epochs,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.val_accuracy,
        "test_cost": getattr(history, "val_cost", np.zeros(0)),
    }
    return {f"history_{k}": np.asarray(v) for k, v in values.items()}


# ----------------------------------------------------------------------------- reading


def load_model(path: str | Path) -> SavedModel:
    """Read a model file written by :func:`save_model` (``descentlab train``), checked.

    The archive is read through :func:`descentlab.npz.open_npz`: every array's header
    (shape and type) is checked here before its data is read.

    Raises:
      DataError: naming the file — missing, unreadable, not a regular file, empty, not an
        NPZ archive of plain arrays (random bytes, a truncated zip, a garbled array header:
        what :func:`~descentlab.npz.open_npz` refuses), not a descentlab model, or damaged:
        ``meta`` not a JSON object; ``layer_dims`` not a list of sizes the network allows;
        an unknown activation or loss; a task other than classification or regression, a
        regression model whose loss is not ``mse``, a version-1 model that is not a
        cross-entropy classifier; ``classes`` not distinct labels, one per output class
        (not an empty list, for regression);
        ``feature_names`` not distinct names, one per input; ``target`` not text or null;
        a parameter, ``mean`` or ``std`` of the wrong shape or type (ints, text, objects) or
        not finite; ``std <= 0``; a history that is not a list of numbers.
    """
    path = Path(path)
    try:
        with open_npz(path) as archive:
            return _check_model(archive, f"'{path}'")
    except NpzError as exc:
        raise DataError(
            f"'{path}' is not a descentlab model file ({exc.reason}); write one with "
            "descentlab train."
        ) from None


class _Arrays:
    """The arrays :func:`save_model` is about to write, seen as :func:`_check_model` sees an
    archive: names, headers, data."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._arrays = arrays

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        return self._arrays[key].shape, self._arrays[key].dtype

    def read(self, key: str) -> np.ndarray:
        return self._arrays[key]


_Members = NpzArchive | _Arrays


def _check_model(members: _Members, source: str) -> SavedModel:
    """Every rule of the model file, in order: meta, network, parameters, inputs, history."""
    meta = _read_meta(members, source)
    net = _network(meta, source)
    task = _task(meta, net, source)
    classes = _classes(meta, net, source) if task == "classification" else _no_classes(meta, source)
    feature_names = _feature_names(meta, net, source)
    target = meta.get("target")
    if target is not None and not isinstance(target, str):
        raise DataError(f"{source} is damaged: target must be text or null; found {target!r:.80}.")
    params = {
        k: _float_array(members, k, shape, source, finite=True) for k, shape in net.shapes().items()
    }
    mean, std = _standardization(members, net, source)
    history = {
        k: _history_array(members, f"history_{k}", source)
        for k in HISTORY_KEYS
        if f"history_{k}" in members
    }
    return SavedModel(
        net=net,
        params=params,
        classes=classes,
        feature_names=feature_names,
        target=target,
        mean=mean,
        std=std,
        meta=meta,
        history=history,
        task=task,
    )


def _damaged(source: str, what: str) -> DataError:
    return DataError(f"{source} is damaged: {what}.")


def _read_meta(members: _Members, source: str) -> dict[str, Any]:
    not_model = DataError(
        f"{source} is not a descentlab model file (no model description 'meta'); write one "
        "with descentlab train."
    )
    if "meta" not in members:
        raise not_model
    shape, dtype = members.header("meta")
    if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > MAX_META_CHARS:
        raise not_model
    text = members.read("meta")
    try:
        meta = json.loads(str(text))
    except (ValueError, RecursionError):
        raise not_model from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise not_model
    version = meta.get("version")
    if not is_integer(version) or not 1 <= version <= MODEL_VERSION:
        raise DataError(
            f"{source} is a descentlab model of version {version!r:.40}; this descentlab reads "
            f"versions 1 to {MODEL_VERSION}."
        )
    return meta


def _network(meta: Mapping[str, Any], source: str) -> MLP:
    """The network ``meta`` describes: sizes :class:`~descentlab.nn.MLP` allows, and
    parameters that fit in ``limits.MAX_MEMORY_BYTES`` (8 bytes each)."""
    dims = meta.get("layer_dims")
    if not (isinstance(dims, list) and len(dims) >= 2 and all(is_integer(d) for d in dims)):
        raise _damaged(source, f"layer_dims must be a list of layer sizes; found {dims!r:.80}")
    try:
        net = MLP(tuple(dims), meta.get("activation"), loss=meta.get("loss", "cross_entropy"))
    except DescentLabError as exc:
        raise _damaged(source, str(exc).rstrip(".")) from None
    if 8 * net.n_params > limits.MAX_MEMORY_BYTES:
        raise _damaged(
            source,
            f"layer_dims {dims!r:.80} ask for {net.n_params} parameters, more than "
            "descentlab.limits.MAX_MEMORY_BYTES allows",
        )
    return net


def _task(meta: Mapping[str, Any], net: MLP, source: str) -> str:
    """``classification`` (also when ``task`` is absent: an older file) or ``regression`` (an
    MSE network); a version-1 file is a cross-entropy classifier."""
    task = meta.get("task", "classification")
    if task not in TASKS:
        raise _damaged(source, f"task must be one of {', '.join(TASKS)}; found {task!r:.80}")
    if task == "regression" and net.loss != "mse":
        raise _damaged(source, f"a regression model has loss 'mse'; found {net.loss!r}")
    if meta["version"] == _CLASSIFIER_VERSION and (task, net.loss) != (TASKS[0], "cross_entropy"):
        raise _damaged(
            source,
            f"a version-{_CLASSIFIER_VERSION} model is a cross-entropy classifier; found loss "
            f"{net.loss!r} and task {task!r}",
        )
    return task


def _no_classes(meta: Mapping[str, Any], source: str) -> tuple[Any, ...]:
    """A regression model's classes: an empty list."""
    classes = meta.get("classes")
    if classes != []:
        raise _damaged(
            source, f"a regression model has no classes (an empty list); found {classes!r:.80}"
        )
    return ()


def _is_label(value: Any) -> bool:
    """Text, a finite float, or an int of at most 64 bits (JSON allows any size)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    return isinstance(value, str)


def _distinct(values: Sequence[Any]) -> bool:
    """No two values alike as text, nor (for numbers) as floats: predict finds labels by both."""
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return len({str(v) for v in values}) == len(values) and len(set(numbers)) == len(numbers)


def _classes(meta: Mapping[str, Any], net: MLP, source: str) -> tuple[Any, ...]:
    classes = meta.get("classes")
    if not (
        isinstance(classes, list)
        and len(classes) == net.n_classes
        and all(_is_label(c) for c in classes)
        and _distinct(classes)
    ):
        raise _damaged(
            source,
            f"classes must be {net.n_classes} distinct labels (text or numbers), one per class "
            f"of the network's output; found {classes!r:.80}",
        )
    return tuple(classes)


def _feature_names(meta: Mapping[str, Any], net: MLP, source: str) -> tuple[str, ...]:
    names = meta.get("feature_names")
    n = net.layer_dims[0]
    if not (
        isinstance(names, list)
        and len(names) == n
        and all(isinstance(s, str) and s.strip() for s in names)
        and len(set(names)) == n
    ):
        raise _damaged(
            source,
            f"feature_names must be {n} distinct column names, one per input of the network; "
            f"found {names!r:.80}",
        )
    return tuple(names)


def _float_array(
    members: _Members, key: str, shape: tuple[int, ...], source: str, *, finite: bool
) -> np.ndarray:
    """``key`` as float64 after checking its header: present, ``shape``, a float type."""
    if key not in members:
        raise _damaged(source, f"it has no {key!r} array")
    found, dtype = members.header(key)
    if found != shape or dtype.kind != "f":
        raise _damaged(
            source,
            f"{key} must be floats of shape {shape}; found {dtype.name} of shape {found}",
        )
    array = np.asarray(members.read(key), dtype=np.float64)
    if finite and not np.all(np.isfinite(array)):
        raise _damaged(source, f"{key} holds NaN or inf")
    return array


def _standardization(
    members: _Members, net: MLP, source: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if "mean" not in members and "std" not in members:
        return None, None
    shape = (net.layer_dims[0], 1)
    mean = _float_array(members, "mean", shape, source, finite=True)
    std = _float_array(members, "std", shape, source, finite=True)
    if not np.all(std > 0):
        raise _damaged(source, "std must be > 0 for every feature")
    return mean, std


def _history_array(members: _Members, key: str, source: str) -> np.ndarray:
    shape, dtype = members.header(key)
    if len(shape) != 1 or shape[0] > limits.MAX_EPOCHS or dtype.kind not in "iuf":
        raise _damaged(
            source,
            f"{key} must be a list of at most {limits.MAX_EPOCHS} numbers; found "
            f"{dtype.name} of shape {shape}",
        )
    return members.read(key)
