"""Checkpoints of a training run: NPZ + JSON (never pickle), written atomically, checked when read.

:func:`~descentlab.training.train` writes one with ``checkpoint=PATH`` after an epoch ends and
continues one with ``resume=PATH``, bit for bit (``docs/checkpoints.md``). A checkpoint is two
files:

- ``PATH`` (``.npz``, plain arrays): ``params/<key>`` (the parameters the optimizer trains,
  ``(K, ...)`` for a population), ``opt_state/<i>`` (the optimizer state's arrays and floats,
  by position ``i`` in its layout), ``history/<field>`` (:class:`~descentlab.records.History`),
  ``stopped_epoch`` and ``diverged`` ``(K,)``, ``snapshots/<key>`` and
  ``eval_snapshots/<key>`` (the parameters each stopped member froze, ``(n_stopped, ...)``),
  ``callbacks/<i>/<name>`` (a callback's own arrays) and ``token``;
- ``PATH`` with ``.json``: ``format``, ``version``, the same ``token`` (so a pair from two
  different saves is refused), ``epochs_done``, ``epochs`` and ``checkpoint_every`` of the
  run that wrote it, ``run`` (what a resumed run must match, :func:`run_identity`),
  ``opt_state`` (the optimizer state's layout: paths, kinds, step counts), ``generators``
  (the data-order generators' states) and ``callbacks``.

The optimizer state is a tree of NamedTuples, tuples, dicts, arrays and numbers. No class is
stored: the reader rebuilds the tree from the run's own ``optimizer.init(params)`` (the
*template*) and fills its leaves in depth-first order, each checked against the template's —
the same shape and dtype, a whole number where it has one — so any optimizer state made of
those parts round-trips, and a mismatch names the leaf (``opt_state[0].mu['theta']: shape
(3, 17) in the checkpoint, (2, 17) for this run``).

The reader treats both files as hostile: the JSON is read only if small
(:data:`MAX_JSON_BYTES`), strict (no NaN), of this format and version; the run it describes
must match the resumed one (network, population, data by content hash, data order, batch
size, ``eval_every``, ``max_cost``, the optimizer's recipe and state layout); the NPZ goes
through :func:`descentlab.npz.open_npz` and every array's header is checked before its data
is read. NaN is refused where training cannot make it: a member's cost before it stopped
(it was at most ``max_cost``), a finite number of the template's, a count, an epoch. Every
refusal is one :class:`~descentlab._validation.DataError` line naming the file and what does
not match, raised before anything is trained or written. Parameters and optimizer moments may
hold NaN or inf: a diverged member's do (it is frozen, and its snapshot is what it returns).

This module writes and reads the two files; :mod:`.identity` says what must match and how it
differs, :mod:`.tree` lays the optimizer state out and rebuilds it, :mod:`.arrays` reads the
archive back.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descentlab import limits
from descentlab._validation import DataError, InvalidParameterError, check_json, show
from descentlab.checkpoint.arrays import HISTORY_FIELDS, ArrayReader
from descentlab.checkpoint.identity import run_difference, run_identity
from descentlab.checkpoint.tree import check_state_layout, layout, match_layout, rebuild
from descentlab.io import (
    atomic_write,
    atomic_writer,
    check_regular_file,
    check_writable,
    open_error,
)
from descentlab.nn import MLP
from descentlab.npz import NpzError, open_npz
from descentlab.optimizers.base import Params
from descentlab.records import History

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MAX_JSON_BYTES",
    "RunState",
    "check_checkpoint_path",
    "check_state_layout",
    "checkpoint_files",
    "read_checkpoint",
    "read_checkpoint_meta",
    "run_identity",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "descentlab-checkpoint"
CHECKPOINT_VERSION = 1
MAX_JSON_BYTES = 16 * 2**20
"""The largest ``.json`` half read back (a population of 1000 seed networks writes 10 KB)."""


@dataclass
class RunState:
    """Everything a run carries from one epoch to the next: what a checkpoint saves.

    Attributes:
      epochs_done: epochs finished, E >= 1.
      epochs: the total the run that wrote it was asked for (resuming may ask for more).
      params: the parameters the optimizer trains (``TrainResult.resume_params``' layout).
      opt_state: the optimizer state, in the NumPy engine's form.
      generators: the data order's generator states (``EpochOrder.generator_states``).
      history: the run's :class:`~descentlab.records.History` so far.
      stopped_epoch, diverged: ``(K,)`` int and bool, as ``TrainResult`` has them.
      snapshots, eval_snapshots: member -> the parameters it froze when it stopped (and its
        evaluation point where that differs: schedule-free).
      callbacks: per callback, its own arrays (``checkpoint_state()``), or None.
    """

    epochs_done: int
    epochs: int
    params: Params
    opt_state: Any
    generators: list[dict[str, Any]] | None
    history: History
    stopped_epoch: np.ndarray
    diverged: np.ndarray
    snapshots: dict[int, Params]
    eval_snapshots: dict[int, Params]
    callbacks: list[dict[str, np.ndarray] | None]


# ----------------------------------------------------------------------------- paths


def checkpoint_files(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The two files of the checkpoint ``path``: ``(path, path with .json)``.

    >>> [str(p) for p in checkpoint_files("run/checkpoint.npz")]
    ['run/checkpoint.npz', 'run/checkpoint.json']
    """
    path = Path(path)
    return path, path.with_suffix(".json")


def check_checkpoint_path(owner: str, name: str, path: Any, *, writable: bool) -> Path:
    """``path`` as the :class:`~pathlib.Path` of a checkpoint's ``.npz``, checked.

    Raises:
      InvalidParameterError: not a path, or not ending in ``.npz``.
      DataError: ``writable`` and either file cannot be written there.
    """
    if not isinstance(path, str | os.PathLike) or isinstance(path, bytes):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be the path of a checkpoint's .npz file. "
            f"Got {show(path)} instead."
        )
    path = Path(path)
    if path.suffix != ".npz":
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be the path of a .npz file (its JSON is "
            f"written beside it, with .json). Got {show(str(path))} instead."
        )
    if writable:
        for file in checkpoint_files(path):
            check_writable(file, folder=False)
    return path


# ----------------------------------------------------------------------------- writing


def write_checkpoint(
    path: str | os.PathLike[str],
    run: dict[str, Any],
    state: RunState,
    *,
    checkpoint_every: int | None,
) -> None:
    """Write ``state`` as the checkpoint ``path`` (+ its ``.json``), each file atomically.

    The ``.npz`` is written first, then the ``.json``; both carry one random token, so a
    pair from two different saves (a crash between the two renames) is refused when read,
    never mixed. ``run`` is :func:`run_identity` of the run.
    """
    npz, meta_path = checkpoint_files(path)
    token = secrets.token_hex(16)
    arrays: dict[str, np.ndarray] = {"token": np.array(token)}
    arrays.update({f"params/{k}": v for k, v in state.params.items()})
    entries = []
    for i, (entry, leaf) in enumerate(layout(state.opt_state)):
        if entry["kind"] in ("array", "scalar", "float"):
            arrays[f"opt_state/{i}"] = np.asarray(leaf)
        elif entry["kind"] in ("int", "bool", "str"):
            entry = {**entry, "value": leaf}
        entries.append(entry)
    arrays.update(_history_arrays(state.history))
    arrays["stopped_epoch"] = np.asarray(state.stopped_epoch, dtype=np.int64)
    arrays["diverged"] = np.asarray(state.diverged, dtype=bool)
    for name, frozen in (("snapshots", state.snapshots), ("eval_snapshots", state.eval_snapshots)):
        if frozen:
            members = sorted(frozen)
            for key in state.params:
                arrays[f"{name}/{key}"] = np.stack([frozen[k][key] for k in members])
    callbacks = []
    for i, saved in enumerate(state.callbacks):
        if saved is not None:
            callbacks.append({"index": i, "arrays": sorted(saved)})
            arrays.update({f"callbacks/{i}/{name}": np.asarray(a) for name, a in saved.items()})
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "token": token,
        "epochs_done": state.epochs_done,
        "epochs": state.epochs,
        "checkpoint_every": checkpoint_every,
        "run": run,
        "opt_state": entries,
        "generators": state.generators,
        "callbacks": callbacks,
    }
    npz.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(npz, "wb") as f:
        np.savez(f, **arrays)
    atomic_write(meta_path, json.dumps(meta, allow_nan=False, indent=1) + "\n")


def _history_arrays(history: History) -> dict[str, np.ndarray]:
    """``history/<field>`` for every :data:`~.arrays.HISTORY_FIELDS`."""
    return {f"history/{k}": np.asarray(getattr(history, k)) for k in HISTORY_FIELDS}


# ----------------------------------------------------------------------------- reading

_META_SCHEMA: dict[str, Any] = {
    "format": str,
    "version": int,
    "token": str,
    "epochs_done": int,
    "epochs": int,
    "checkpoint_every": (int, type(None)),
    "run": dict,
    "opt_state": [dict],
    "generators": (list, type(None)),
    "callbacks": [dict],
}


def read_checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``.json`` half of the checkpoint ``path``, read strictly and checked for form:
    ``format``, ``version``, ``token``, and ``epochs_done <= epochs``, ``checkpoint_every``
    in ``[1, MAX_EPOCHS]`` (or null).

    Raises:
      DataError: missing, unreadable, too large, not strict JSON (NaN and Infinity are
        refused), not a descentlab checkpoint, of another version, or damaged.
    """
    _, meta_path = checkpoint_files(path)
    source = f"'{meta_path}'"
    size = check_regular_file(meta_path)
    if size > MAX_JSON_BYTES:
        raise DataError(
            f"{source} is {size / 2**20:.1f} MiB; a checkpoint's JSON is at most "
            f"{MAX_JSON_BYTES // 2**20} MiB (descentlab.checkpoint.MAX_JSON_BYTES)."
        )
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise open_error(meta_path, exc) from None
    except (ValueError, RecursionError) as exc:  # incl. UnicodeDecodeError, huge ints
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DataError(
            f"{source} is not a descentlab checkpoint: not strict JSON ({reason})."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise DataError(
            f"{source} is not a descentlab checkpoint (no format {CHECKPOINT_FORMAT!r})."
        )
    if meta.get("version") != CHECKPOINT_VERSION or type(meta.get("version")) is not int:
        raise DataError(
            f"{source} is a checkpoint of version {show(meta.get('version'))}; this descentlab "
            f"reads version {CHECKPOINT_VERSION}."
        )
    check_json(meta, _META_SCHEMA, source)
    done, total, every = meta["epochs_done"], meta["epochs"], meta["checkpoint_every"]
    if not 1 <= done <= total <= limits.MAX_EPOCHS:
        raise DataError(
            f"{source} is damaged: epochs_done ({show(done)}) and epochs ({show(total)}) must "
            f"satisfy 1 <= epochs_done <= epochs <= {limits.MAX_EPOCHS}."
        )
    if every is not None and not 1 <= every <= limits.MAX_EPOCHS:
        raise DataError(
            f"{source} is damaged: checkpoint_every must be in [1, {limits.MAX_EPOCHS}] or "
            f"null; found {show(every)}."
        )
    return meta


def _no_constant(name: str) -> Any:
    """``json.loads``' hook for NaN, Infinity and -Infinity: refused."""
    raise ValueError(f"{name} is not a number in strict JSON")


def read_checkpoint(
    path: str | os.PathLike[str],
    run: dict[str, Any],
    *,
    net: MLP,
    template: Any,
    epochs: int,
    callbacks: Sequence[Any] = (),
) -> RunState:
    """Read the checkpoint ``path`` for a run described by ``run`` (:func:`run_identity`),
    checking everything before anything is used.

    Args:
      path: the checkpoint's ``.npz`` (its ``.json`` beside it).
      run: the resumed run's identity; the checkpoint's must be the same.
      net: the network (the parameters' shapes).
      template: ``optimizer.init(params)`` for this run: the optimizer state's layout.
      epochs: the resumed run's total; at least the checkpoint's ``epochs_done``.
      callbacks: the run's callbacks; those with ``checkpoint_state`` must be the ones saved.

    Returns:
      the :class:`RunState` to continue from (the callbacks' arrays still to be handed back).

    Raises:
      DataError: one line naming the file and what is damaged or does not match.
    """
    npz, _ = checkpoint_files(path)
    meta = read_checkpoint_meta(npz)
    source = f"'{npz}'"
    why = run_difference(meta["run"], run)
    if why is not None:
        raise DataError(f"Cannot resume from {source}: {why}.")
    done = meta["epochs_done"]
    if done > epochs:
        raise DataError(
            f"Cannot resume from {source}: it has {done} epochs done and this run asks for "
            f"epochs={epochs} (the total, counted from the start); give epochs >= {done}."
        )
    population = run["population"]
    leaves = match_layout(meta["opt_state"], template, source, population is not None)
    generators = _generators(meta["generators"], run["order"], source)
    saved_callbacks = _callback_entries(meta["callbacks"], callbacks, source)
    try:
        with open_npz(npz) as archive:
            reader = ArrayReader(archive, source, population)
            reader.check_token(meta["token"])
            params = reader.params(net.shapes())
            opt_state = rebuild(template, iter(reader.leaves(leaves)))
            stopped, diverged = reader.stopped(done)
            history = reader.history(done, run, stopped, diverged, net)
            snapshots = reader.snapshots("snapshots", net.shapes(), stopped, required=True)
            eval_snapshots = reader.snapshots(
                "eval_snapshots", net.shapes(), stopped, required=False
            )
            arrays = reader.callback_arrays(saved_callbacks, len(callbacks))
    except NpzError as exc:
        raise DataError(f"{source} is not a descentlab checkpoint ({exc.reason}).") from None
    return RunState(
        epochs_done=done,
        epochs=meta["epochs"],
        params=params,
        opt_state=opt_state,
        generators=generators,
        history=history,
        stopped_epoch=stopped,
        diverged=diverged,
        snapshots=snapshots,
        eval_snapshots=eval_snapshots,
        callbacks=arrays,
    )


_PCG64_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}


def _generators(saved: Any, order: dict[str, Any], source: str) -> list[dict[str, Any]] | None:
    """The data order's generator states, checked: PCG64 states, one per distinct seed."""
    if order["shuffle"] != "random":
        if saved is not None:
            raise DataError(
                f"{source} is damaged: generators must be null for shuffle={order['shuffle']!r}."
            )
        return None
    n = len(order["seeds"])
    if not isinstance(saved, list) or len(saved) != n:
        raise DataError(
            f"{source} is damaged: generators must list {n} generator state(s), one per "
            f"distinct data seed; found {show(saved)}."
        )
    for i, state in enumerate(saved):
        inner = state.get("state") if isinstance(state, dict) else None
        ok = (
            isinstance(state, dict)
            and set(state) == _PCG64_KEYS
            and state["bit_generator"] == "PCG64"
            and isinstance(inner, dict)
            and set(inner) == {"state", "inc"}
            and all(type(inner[k]) is int and 0 <= inner[k] < 2**128 for k in ("state", "inc"))
            and inner["inc"] % 2 == 1
            and state["has_uint32"] in (0, 1)
            and type(state["has_uint32"]) is int
            and type(state["uinteger"]) is int
            and 0 <= state["uinteger"] < 2**32
        )
        if not ok:
            raise DataError(
                f"{source} is damaged: generators[{i}] is not a PCG64 generator state "
                "(bit_generator 'PCG64', state and an odd inc below 2**128, has_uint32 0 or 1, "
                f"uinteger below 2**32); found {show(state)}."
            )
    return saved


def _callback_entries(saved: list[dict], callbacks: Sequence[Any], source: str) -> list[dict]:
    """The saved callbacks' entries, matched to the run's callbacks that keep a state."""
    keeping = [i for i, cb in enumerate(callbacks) if hasattr(cb, "checkpoint_state")]
    indices = [entry.get("index") for entry in saved]
    if indices != keeping or any(type(i) is not int for i in indices):
        raise DataError(
            f"Cannot resume from {source}: it holds the state of the callbacks at positions "
            f"{show(indices)}, and this run's callbacks that keep a state are at {keeping}; "
            "give the same callbacks."
        )
    for entry in saved:
        names = entry.get("arrays")
        if not (
            isinstance(names, list) and all(isinstance(n, str) and n.isidentifier() for n in names)
        ):
            raise DataError(
                f"{source} is damaged: a callback's arrays must be a list of names; found "
                f"{show(names)}."
            )
    return saved
