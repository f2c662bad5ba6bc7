"""The optimizer state as a tree of leaves: stored without classes, rebuilt from a template.

An optimizer state is a tree of NamedTuples, tuples, dicts with text keys, arrays and
numbers (a :class:`~descentlab.optimizers.base.StackedState` for a stack). :func:`layout`
walks it depth-first and describes every node as JSON (its path, kind and what fixes its
structure: a NamedTuple's type, a tuple's length, a dict's keys, a stack's block sizes);
ints, bools and texts are values of the description, arrays and floats go to the archive.
:func:`match_layout` checks a checkpoint's description against the resumed run's template
(``optimizer.init(params)``) node by node, and :func:`rebuild` fills the template's tree with
the leaves read back — no class is ever stored or looked up by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab._validation import DataError, InvalidParameterError, show
from descentlab.npz import MAX_MEMBERS
from descentlab.optimizers.base import StackedState

__all__ = ["Leaf", "check_state_layout", "entry_kind", "layout", "match_layout", "rebuild"]

MAX_TEXT = 1000
"""The longest text leaf a checkpoint holds."""


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def layout(state: Any, path: str = "opt_state") -> Iterator[tuple[dict[str, Any], Any]]:
    """Depth-first: ``(entry, leaf)`` per node of the state tree; ``entry`` is its JSON
    description (``path``, ``kind`` and what fixes its structure), ``leaf`` the value a leaf
    holds (None for an inner node).

    Raises:
      InvalidParameterError: a part that is none of NamedTuple, tuple, dict of text keys,
        array, number, bool, text or None (it cannot be stored without pickle).
    """
    if isinstance(state, StackedState):  # its block sizes are structure, not values
        yield {"path": path, "kind": "stack", "sizes": [int(s) for s in state.sizes]}, None
        for i, block in enumerate(state.blocks):
            yield from layout(block, f"{path}.blocks[{i}]")
    elif _is_namedtuple(state):
        yield {"path": path, "kind": "namedtuple", "type": type(state).__name__}, None
        for field, value in zip(state._fields, state, strict=True):
            yield from layout(value, f"{path}.{field}")
    elif type(state) is tuple:
        yield {"path": path, "kind": "tuple", "length": len(state)}, None
        for i, value in enumerate(state):
            yield from layout(value, f"{path}[{i}]")
    elif type(state) is dict and all(type(k) is str for k in state):
        yield {"path": path, "kind": "dict", "keys": list(state)}, None
        for key, value in state.items():
            yield from layout(value, f"{path}[{key!r}]")
    else:
        yield {"path": path, "kind": _leaf_kind(state, path)}, state


def _leaf_kind(leaf: Any, path: str) -> str:
    if leaf is None:
        return "none"
    if type(leaf) is bool:
        return "bool"
    if type(leaf) is int:
        return "int"
    if type(leaf) is float:
        return "float"
    if type(leaf) is str and len(leaf) <= MAX_TEXT:
        return "str"
    if isinstance(leaf, np.ndarray | np.generic) and leaf.dtype.kind in "biuf":
        return "array" if isinstance(leaf, np.ndarray) else "scalar"
    raise InvalidParameterError(
        f"{path} is {type(leaf).__name__} {show(leaf)}, which a checkpoint cannot hold (it "
        "holds NamedTuples, tuples, dicts with text keys, numeric arrays, numbers, bools, "
        "short texts and None, never pickled objects)."
    )


def check_state_layout(state: Any) -> None:
    """Refuse, before training, an optimizer state a checkpoint cannot hold (see :func:`layout`).

    Raises:
      InvalidParameterError: naming the part that cannot be stored, or a state of more parts
        than an archive may hold.
    """
    n = sum(1 for _ in layout(state))
    if n > MAX_MEMBERS // 2:
        raise InvalidParameterError(
            f"This optimizer state has {n} parts; a checkpoint holds at most {MAX_MEMBERS // 2} "
            "(descentlab.npz.MAX_MEMBERS). Train fewer different optimizers at once."
        )


def match_layout(saved: list[dict], template: Any, source: str, members: bool) -> list[Leaf]:
    """Match the checkpoint's layout entries to the template's, one by one; return the
    leaves to read, in order.

    A number of the template may be an array in the checkpoint when ``members`` (a
    population): a state may keep one value per member from its first update or observation
    on (``PlateauState.best``, schedule-free's ``weight_sum``); the reader checks it is
    ``(K,)``."""
    mine = list(layout(template))
    leaves = []
    for i, (entry, leaf) in enumerate(mine):
        theirs = saved[i] if i < len(saved) else None
        if theirs is None:
            raise DataError(
                f"Cannot resume from {source}: its optimizer state ends before "
                f"{entry['path']} (it has {len(saved)} parts, this run's {len(mine)}); "
                "the optimizer differs."
            )
        widened = (
            members and entry["kind"] in ("float", "int") and theirs == {**entry, "kind": "array"}
        )
        if {k: v for k, v in theirs.items() if k != "value"} != entry and not widened:
            raise DataError(f"Cannot resume from {source}: {_entry_difference(theirs, entry)}.")
        if entry["kind"] in ("none", "namedtuple", "tuple", "dict", "stack"):
            continue
        leaves.append(Leaf(f"opt_state/{i}", entry, leaf, theirs))
    if len(saved) > len(mine):
        raise DataError(
            f"Cannot resume from {source}: its optimizer state has {len(saved)} parts, this "
            f"run's {len(mine)}; the optimizer differs."
        )
    return leaves


@dataclass(frozen=True)
class Leaf:
    """One leaf of the optimizer state: its array's name in the archive, the template's
    entry and value, and the checkpoint's entry (which holds ints, bools and texts)."""

    name: str
    entry: dict[str, Any]
    template: Any
    saved: dict[str, Any]


def _entry_difference(saved: dict, mine: dict) -> str:
    """How a node of the checkpoint's layout differs from this run's, in one clause."""
    path = mine["path"]
    if saved.get("path") != path:
        theirs = show(saved.get("path"))
        return f"the optimizer state differs: {theirs} in the checkpoint where this run has {path}"
    if saved.get("kind") != mine["kind"]:
        return f"{path} is {entry_kind(saved)} in the checkpoint, {entry_kind(mine)} for this run"
    for key in ("type", "length", "keys", "sizes"):
        if saved.get(key) != mine.get(key):
            theirs, ours = show(saved.get(key)), show(mine.get(key))
            return f"{path}: {key} {theirs} in the checkpoint, {ours} for this run"
    return f"{path} is described with other entries than this run's"


_KIND_WORDS = {
    "none": "None",
    "int": "an int",
    "float": "a float",
    "bool": "a bool",
    "str": "a text",
    "array": "an array",
    "scalar": "a NumPy number",
    "tuple": "a tuple",
    "dict": "a dict",
    "stack": "a stack of optimizers",
}


def entry_kind(entry: dict) -> str:
    """A layout entry's kind in words (``an int``, ``a ScaleByAdamState``)."""
    kind = entry.get("kind")
    if kind == "namedtuple":
        return f"a {show(entry.get('type'))}"
    return _KIND_WORDS.get(kind, show(kind)) if isinstance(kind, str) else show(kind)


def rebuild(template: Any, values: Iterator[Any]) -> Any:
    """The template's tree with its leaves taken from ``values`` in :func:`layout`'s order."""
    if isinstance(template, StackedState):
        return StackedState(tuple(rebuild(b, values) for b in template.blocks), template.sizes)
    if _is_namedtuple(template):
        return type(template)(*(rebuild(v, values) for v in template))
    if type(template) is tuple:
        return tuple(rebuild(v, values) for v in template)
    if type(template) is dict:
        return {k: rebuild(v, values) for k, v in template.items()}
    if template is None:
        return None
    return next(values)
