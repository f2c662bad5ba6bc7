"""What a resumed run must share with its checkpoint, and the words for what differs.

:func:`run_identity` describes a run as JSON values: the network, the population size, the
data (shape, dtype and SHA-256 of X, y and the validation pair), the data order, the batch
size, ``eval_every``, ``max_cost`` and the optimizer's :class:`~descentlab.optimizers.base.Recipe`
(kinds and settings). :func:`run_difference` compares a checkpoint's description (hostile: any
JSON) with the resumed run's and says, in one clause, the first thing that differs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from descentlab._validation import show
from descentlab.batching import EpochOrder
from descentlab.nn import MLP
from descentlab.optimizers.base import recipe_of

__all__ = ["run_difference", "run_identity"]

_INLINE_VALUES = 8  # an optimizer setting with more values is kept as its hash
_MAX_TEXT = 1000  # the longest setting kept as it is


def run_identity(
    net: MLP,
    optimizer: Any,
    data: Mapping[str, np.ndarray | None],
    *,
    population: int | None,
    order: EpochOrder,
    batch_size: int,
    eval_every: int,
    max_cost: float,
) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint, as JSON values.

    ``data`` maps ``X``, ``y``, ``X_val``, ``y_val`` to the checked arrays (None without
    validation data); each is kept as its shape, dtype and SHA-256 of its bytes. The optimizer
    is kept as its :class:`~descentlab.optimizers.base.Recipe` (kinds and settings; a setting
    of more than 8 values, or a long schedule text, as its hash), None for a custom one.
    """
    identity = {
        "network": {
            "layer_dims": list(net.layer_dims),
            "activation": net.activation,
            "leaky_slope": float(net.leaky_slope),
            "loss": net.loss,
        },
        "population": population,
        "data": {k: None if a is None else _fingerprint(a) for k, a in data.items()},
        "order": {
            "shuffle": order.shuffle,
            "seeds": list(order.distinct_seeds),
            "member_rows": order.member_rows,
        },
        "batch_size": batch_size,
        "eval_every": eval_every,
        "max_cost": _number(max_cost),
        "optimizer": _recipe_json(recipe_of(optimizer)),
    }
    return json.loads(json.dumps(identity, allow_nan=False))  # tuples -> lists, as read back


def _fingerprint(a: np.ndarray) -> dict[str, Any]:
    """An array's shape, dtype and SHA-256 of its bytes (C order)."""
    a = np.ascontiguousarray(a)
    digest = hashlib.sha256(a.reshape(-1).view(np.uint8)).hexdigest()
    return {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": digest}


def _number(x: float) -> float | str:
    """A float for JSON: itself if finite, else its text (``inf``)."""
    return float(x) if math.isfinite(x) else repr(float(x))


def _recipe_json(recipe: Any) -> Any:
    """A :class:`~descentlab.optimizers.base.Recipe` tree as JSON (None for a custom part)."""
    if recipe is None:
        return None
    return {
        "kind": recipe.kind,
        "settings": {k: _setting(v) for k, v in sorted(recipe.settings.items())},
        "parts": [_recipe_json(p) for p in recipe.parts],
    }


def _setting(v: Any) -> Any:
    """An optimizer setting as a JSON value that equals another's exactly when they do."""
    if v is None or isinstance(v, bool | str):
        return v if not isinstance(v, str) or len(v) <= _MAX_TEXT else _digest_text(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return _number(float(v))
    if isinstance(v, np.ndarray):
        if v.size <= _INLINE_VALUES and v.dtype.kind in "biuf":
            return {"array": [_setting(x) for x in v.ravel().tolist()], "shape": list(v.shape)}
        return {"array_sha256": _fingerprint(v)["sha256"], "shape": list(v.shape)}
    if isinstance(v, list | tuple):
        return [_setting(x) for x in v]
    if callable(v):  # a schedule: its text shows its settings
        text = repr(v)
        return {"schedule": text if len(text) <= _MAX_TEXT else _digest_text(text)}
    return {"object": type(v).__name__}


def _digest_text(text: str) -> str:
    return f"{text[:60]}... (sha256 {hashlib.sha256(text.encode()).hexdigest()})"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _differs(saved: Any, current: Any) -> bool:
    return _canonical(saved) != _canonical(current)


_VERSUS = "in the checkpoint,"


def run_difference(saved: Any, current: dict[str, Any]) -> str | None:
    """The first way the checkpoint's run differs from this one, in words; None if none."""
    if not isinstance(saved, dict):
        return "its run description is not a table"
    for key, value in current.items():
        theirs = saved.get(key)
        if not _differs(theirs, value):
            continue
        if key == "network":
            return _table_difference("the network's", theirs, value)
        if key == "population":
            return f"the population is {_members(theirs)} {_VERSUS} {_members(value)} for this run"
        if key == "data":
            return _data_difference(theirs, value)
        if key == "order":
            return f"the data order is {_order(theirs)} {_VERSUS} {_order(value)} for this run"
        if key == "optimizer":
            return "the optimizer differs: " + _recipe_difference(theirs, value, "")
        return f"{key} is {show(theirs)} {_VERSUS} {show(value)} for this run"
    return None


def _members(population: Any) -> str:
    return "one network" if population is None else f"{show(population)} networks"


def _order(order: Any) -> str:
    """``shuffle='random' with data seeds [1, 2]``: the members' seeds where they differ."""
    if not isinstance(order, dict):
        return show(order)
    seeds, rows = order.get("seeds"), order.get("member_rows")
    try:
        shown = seeds if rows is None else [seeds[r] for r in rows]
    except (TypeError, IndexError, KeyError):
        shown = {"seeds": seeds, "member_rows": rows}
    return f"shuffle={show(order.get('shuffle'))} with data seeds {show(shown)}"


def _table_difference(what: str, saved: Any, current: dict[str, Any]) -> str:
    """The first entry of a table (the network) that differs."""
    if not isinstance(saved, dict):
        return f"{what} description is {show(saved)} in the checkpoint"
    for key, value in current.items():
        if _differs(saved.get(key), value):
            return f"{what} {key} is {show(saved.get(key))} {_VERSUS} {show(value)} for this run"
    return f"{what} description has other entries than this run's"


def _data_difference(saved: Any, current: dict[str, Any]) -> str:
    """The first array (X, y, X_val, y_val) that differs: present, shape, or content."""
    if not isinstance(saved, dict):
        return "its data description is not a table"
    for key, value in current.items():
        theirs = saved.get(key)
        if not _differs(theirs, value):
            continue
        if value is None or theirs is None:
            have = "with" if theirs is not None else "without"
            return (
                f"the checkpoint was trained {have} validation data ({key}), this run "
                f"{'has none' if value is None else 'has some'}"
            )
        if not isinstance(theirs, dict):
            return f"its description of {key} is {show(theirs)}"
        if theirs.get("shape") != value["shape"] or theirs.get("dtype") != value["dtype"]:
            return (
                f"{key} is {show(theirs.get('dtype'))} of shape {show(theirs.get('shape'))} in "
                f"the checkpoint, {value['dtype']!r} of shape {value['shape']} for this run"
            )
        return (
            f"{key} holds other values than the data the checkpoint was trained on (SHA-256 "
            f"{str(theirs.get('sha256'))[:12]}... in the checkpoint, {value['sha256'][:12]}... "
            "for this run)"
        )
    return "its data description has other entries than this run's"


def _recipe_difference(saved: Any, current: Any, where: str) -> str:
    """Where two recipe descriptions first differ: ``chain[0] (scale_by_adam) b1 is ...``."""
    place = f"{where} " if where else ""
    if not isinstance(saved, dict) or not isinstance(current, dict):
        return f"{place}{_kind(saved)} in the checkpoint, {_kind(current)} for this run"
    if saved.get("kind") != current["kind"]:
        return f"{place}{_kind(saved)} in the checkpoint, {_kind(current)} for this run"
    name = f"{where} ({current['kind']})" if where else current["kind"]
    theirs = saved.get("settings")
    for key, value in current["settings"].items():
        mine = theirs.get(key) if isinstance(theirs, dict) else None
        if _differs(mine, value):
            theirs_text, ours = _shown_setting(mine), _shown_setting(value)
            return f"{name} {key} is {theirs_text} {_VERSUS} {ours} for this run"
    parts = saved.get("parts")
    if not isinstance(parts, list) or len(parts) != len(current["parts"]):
        count = show(len(parts) if isinstance(parts, list) else parts)
        return f"{name} has {count} parts {_VERSUS} {len(current['parts'])} for this run"
    for i, (a, b) in enumerate(zip(parts, current["parts"], strict=True)):
        if _differs(a, b):
            part = f"{where}.{current['kind']}[{i}]" if where else f"{current['kind']}[{i}]"
            return _recipe_difference(a, b, part)
    return f"{name} has other settings than this run's"


def _kind(recipe: Any) -> str:
    """A recipe description's kind, for a message."""
    if recipe is None:
        return "a custom transformation"
    if isinstance(recipe, dict):
        return show(recipe.get("kind"))
    return show(recipe)


def _shown_setting(value: Any) -> str:
    """A setting of a recipe description, for a message (an array by its values or hash)."""
    if isinstance(value, dict) and "array_sha256" in value:
        digest = str(value["array_sha256"])[:12]
        return f"an array of shape {show(value.get('shape'))} (SHA-256 {digest}...)"
    if isinstance(value, dict) and "array" in value:
        return show(value["array"])
    if isinstance(value, dict) and "schedule" in value:
        return show(value["schedule"])
    return show(value)
