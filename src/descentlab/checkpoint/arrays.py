"""The archive half of a checkpoint read back: every array's header checked before its data.

:class:`ArrayReader` reads the parameters, the optimizer state's leaves, the stopped members,
the history, the frozen parameters of stopped members and the callbacks' arrays of an open
:class:`~descentlab.npz.NpzArchive`, each against the shape and dtype the resumed run expects,
and refuses values training cannot make (NaN in a running member's cost, an accuracy outside
[0, 1], a diverged member whose cost was fine). Every refusal is one line naming the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descentlab._validation import DataError, show
from descentlab.checkpoint.tree import Leaf, entry_kind
from descentlab.nn import MLP
from descentlab.npz import NpzArchive
from descentlab.optimizers.base import Params
from descentlab.records import History

__all__ = ["HISTORY_FIELDS", "ArrayReader"]

HISTORY_FIELDS = (
    "cost",
    "last_batch_cost",
    "learning_rate",
    "eval_epochs",
    "train_accuracy",
    "val_accuracy",
    "val_cost",
)
"""The :class:`~descentlab.records.History` fields a checkpoint keeps as ``history/<field>``."""

_INT64 = 2**63


class ArrayReader:
    """The checkpoint's arrays, each header checked before its data is read."""

    def __init__(self, archive: NpzArchive, source: str, population: int | None) -> None:
        self.archive, self.source = archive, source
        self.lead: tuple[int, ...] = () if population is None else (population,)
        self.K = population or 1

    def damaged(self, what: str) -> DataError:
        """The error for a file that cannot be what it claims: ``'path' is damaged: what.``"""
        return DataError(f"{self.source} is damaged: {what}.")

    def array(self, name: str, shape: tuple[int, ...], kinds: str, what: str = "") -> np.ndarray:
        """``name``, whose header must say ``shape`` and a dtype of one of ``kinds``."""
        if name not in self.archive:
            raise self.damaged(f"it has no array {name!r}")
        found, dtype = self.archive.header(name)
        if found != shape or dtype.kind not in kinds:
            raise DataError(
                f"Cannot resume from {self.source}: {what or name}: {dtype.name} of shape "
                f"{found} in the checkpoint, {_kinds(kinds)} of shape {shape} for this run."
            )
        return self.archive.read(name)

    def check_token(self, token: str) -> None:
        """The archive's token must be the JSON's: both halves come from one save."""
        if "token" not in self.archive:
            raise self.damaged("it has no token")
        shape, dtype = self.archive.header("token")
        if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * 64:
            raise self.damaged("its token is not a short text")
        if str(self.archive.read("token")) != token:
            raise DataError(
                f"Cannot resume from {self.source}: it and its .json come from two different "
                "saves (their tokens differ); the last save was cut off between its two files. "
                "Resume from an earlier copy, or train again."
            )

    def params(self, shapes: dict[str, tuple[int, ...]]) -> Params:
        """``params/<key>``: floats ``(K, *shape)`` (``shape`` for one network)."""
        return {
            key: self.array(f"params/{key}", self.lead + shape, "f", f"params[{key!r}]")
            for key, shape in shapes.items()
        }

    def leaves(self, leaves: list[Leaf]) -> list[Any]:
        """The optimizer state's leaves, as the template has them (type, shape, dtype)."""
        return [self.leaf(leaf) for leaf in leaves]

    def leaf(self, leaf: Leaf) -> Any:
        """One leaf, as the template has it: an int, bool or text from the JSON; an array
        of the template's shape and dtype; a float (finite where the template's is); or
        for a number of the template, one per member ``(K,)`` (see
        :func:`~descentlab.checkpoint.tree.match_layout`)."""
        path, kind, mine = leaf.entry["path"], leaf.entry["kind"], leaf.template
        if leaf.saved.get("kind") == "array" and kind in ("float", "int"):  # one per member
            value = self.array(leaf.name, self.lead, "f" if kind == "float" else "iu", path)
            if np.isfinite(mine) and not np.all(np.isfinite(value)):
                bad = float(value[~np.isfinite(value)][0])
                raise self.damaged(
                    f"{path} holds {bad!r}, where this optimizer keeps finite numbers"
                )
            return value.astype(np.float64 if kind == "float" else np.int64)
        if kind in ("int", "bool", "str"):
            value = leaf.saved.get("value")
            if type(value) is not type(mine):
                raise self.damaged(f"{path} must be {entry_kind(leaf.entry)}; found {show(value)}")
            if kind == "int" and not -_INT64 <= value < _INT64:
                raise self.damaged(f"{path} is {show(value)}, outside the 64-bit integers")
            if kind == "int" and path.endswith(".count") and value < 0:
                raise self.damaged(f"{path} (a step count) is {value}, below 0")
            return value
        shape = mine.shape if kind == "array" else ()
        dtype = np.dtype(np.float64) if kind == "float" else mine.dtype
        value = self.array(leaf.name, shape, dtype.kind, path)
        if value.dtype != dtype:
            raise DataError(
                f"Cannot resume from {self.source}: {path}: {value.dtype.name} in the "
                f"checkpoint, {dtype.name} for this run."
            )
        if kind == "array":
            return value
        if np.isfinite(mine) and not np.isfinite(value):
            raise self.damaged(
                f"{path} is {float(value)!r}, where this optimizer keeps a finite number"
            )
        return float(value) if kind == "float" else dtype.type(value)

    def stopped(self, done: int) -> tuple[np.ndarray, np.ndarray]:
        """``stopped_epoch`` (-1 or an epoch done) and ``diverged`` (only stopped members)."""
        stopped = self.array("stopped_epoch", (self.K,), "iu").astype(np.int64)
        diverged = self.array("diverged", (self.K,), "b").astype(bool)
        if np.any((stopped < -1) | (stopped >= done)):
            raise self.damaged(f"stopped_epoch must be -1 or an epoch in [0, {done - 1}]")
        if np.any(diverged & (stopped < 0)):
            raise self.damaged("a member is marked diverged but not stopped")
        return stopped, diverged

    def history(
        self, done: int, run: dict, stopped: np.ndarray, diverged: np.ndarray, net: MLP
    ) -> History:
        """``history/<field>``: ``done`` epochs, at most ``done`` increasing evaluation epochs,
        costs a running member can have, accuracies in [0, 1] (NaN only for an MSE network),
        rates >= 0 or NaN."""
        lead = self.lead
        per_epoch = {k: self.array(f"history/{k}", (done, *lead), "f") for k in HISTORY_FIELDS[:3]}
        if "history/eval_epochs" not in self.archive:
            raise self.damaged("it has no array 'history/eval_epochs'")
        shape, _ = self.archive.header("history/eval_epochs")
        n = shape[0] if len(shape) == 1 and shape[0] <= done else -1
        if n < 0:
            raise self.damaged(
                f"history/eval_epochs must list at most {done} epochs; found shape {shape}"
            )
        eval_epochs = self.array("history/eval_epochs", (n,), "iu").astype(np.int64)
        if n and (
            eval_epochs[0] < 0 or eval_epochs[-1] >= done or np.any(np.diff(eval_epochs) <= 0)
        ):
            raise self.damaged(f"history/eval_epochs must be increasing epochs in [0, {done - 1}]")
        validated = run["data"].get("X_val") is not None
        m = n if validated else 0
        train_acc = self.array("history/train_accuracy", (n, *lead), "f")
        val_acc = self.array("history/val_accuracy", (m, *lead), "f")
        val_cost = self.array("history/val_cost", (m, *lead), "f")
        self._check_costs(per_epoch, stopped, diverged, run)
        rate = per_epoch["learning_rate"]
        if np.any(np.isinf(rate) | (rate < 0)):
            raise self.damaged(
                "history/learning_rate must hold rates >= 0 (or NaN where none is kept)"
            )
        nan_ok = net.loss == "mse"
        for name, acc in (("train_accuracy", train_acc), ("val_accuracy", val_acc)):
            bad = np.isnan(acc) if not nan_ok else np.zeros(acc.shape, bool)
            if np.any(bad | (acc < 0) | (acc > 1)):
                raise self.damaged(f"history/{name} must hold fractions in [0, 1]")
        if np.any(val_cost < 0):
            raise self.damaged("history/val_cost must hold costs >= 0")
        return History(
            **per_epoch,
            eval_epochs=eval_epochs,
            train_accuracy=train_acc,
            val_accuracy=val_acc,
            val_cost=val_cost,
        )

    def _check_costs(
        self, per_epoch: dict, stopped: np.ndarray, diverged: np.ndarray, run: dict
    ) -> None:
        """A member's cost was at most ``max_cost`` (so finite) at every epoch before it
        stopped; at the epoch it diverged it was not."""
        max_cost = float(run["max_cost"])
        for name in ("cost", "last_batch_cost"):
            cost = per_epoch[name].reshape(len(per_epoch[name]), self.K)
            epochs = np.arange(cost.shape[0])[:, None]
            until = np.where(stopped >= 0, stopped, cost.shape[0])[None, :]
            running = epochs < until
            if name == "cost":
                running |= (epochs == until) & ~diverged[None, :]
            bad = running & ~(
                np.isfinite(cost) & (cost >= 0) & ((cost <= max_cost) | (name != "cost"))
            )
            if bad.any():
                e, k = (int(i) for i in np.argwhere(bad)[0])
                raise self.damaged(
                    f"history/{name} is {float(cost[e, k])!r} at epoch {e} for member {k}, which "
                    "had not stopped there (a running member's cost is finite, at most max_cost)"
                )
        cost = per_epoch["cost"].reshape(-1, self.K)
        for k in np.flatnonzero(diverged):
            if cost[stopped[k], k] <= max_cost:
                raise self.damaged(
                    f"member {k} is marked diverged at epoch {stopped[k]}, where its cost "
                    f"{float(cost[stopped[k], k])!r} was at most max_cost"
                )

    def snapshots(
        self, name: str, shapes: dict[str, tuple[int, ...]], stopped: np.ndarray, *, required: bool
    ) -> dict[int, Params]:
        """``<name>/<key>``: the parameters each stopped member froze, ``(n_stopped, *shape)``
        in member order; ``required``: present whenever a member has stopped."""
        members = np.flatnonzero(stopped >= 0)
        present = [f"{name}/{key}" in self.archive for key in shapes]
        if not members.size or (not required and not any(present)):
            if any(present) and not members.size:
                raise self.damaged(f"it holds {name} but no member has stopped")
            return {}
        arrays = {
            key: self.array(f"{name}/{key}", (members.size, *shape), "f")
            for key, shape in shapes.items()
        }
        return {int(k): {key: a[i] for key, a in arrays.items()} for i, k in enumerate(members)}

    def callback_arrays(self, saved: list[dict], n: int) -> list[dict[str, np.ndarray] | None]:
        """Per callback (``n``), its arrays ``callbacks/<i>/<name>`` (numbers, ``()`` or
        ``(K,)``) if it saved some, else None."""
        out: list[dict[str, np.ndarray] | None] = [None] * n
        for entry in saved:
            i = entry["index"]
            arrays = {}
            for name in entry["arrays"]:
                key = f"callbacks/{i}/{name}"
                if key not in self.archive:
                    raise self.damaged(f"it has no array {key!r}")
                shape, _ = self.archive.header(key)
                if shape not in ((), self.lead):
                    raise self.damaged(f"{key} must have shape () or {self.lead}; found {shape}")
                arrays[name] = self.array(key, shape, "biuf")
            out[i] = arrays
        return out


def _kinds(kinds: str) -> str:
    """Dtype kinds in words: ``"iu"`` -> ``ints or unsigned ints``."""
    names = {"f": "floats", "i": "ints", "u": "unsigned ints", "b": "bools"}
    return " or ".join(names[k] for k in kinds if k in names)
