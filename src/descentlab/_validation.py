"""Input validation shared by every layer: the error types, the rules and the registry lookup.

Every check raises a subclass of ``ValueError`` whose message names the argument, what was
expected and what was given, e.g.::

    The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead.

The vocabulary, used everywhere instead of hand-written checks:

- rules: :class:`Interval` (finite numbers in a range, optionally whole), :class:`Options` (a
  finite set), a type, or a predicate whose docstring says what it accepts;
- the named intervals below (``POSITIVE``, ``UNIT_OPEN``, ``SEED``, ...), one per meaning;
- :func:`check_param` (one value against its rule);
- :func:`lookup` and :func:`call_registered`: a registry entry by name (optimizers, schedules,
  surfaces, datasets) with the unknown-name, unknown-argument and missing-argument messages.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descentlab import limits

__all__ = [
    "COUNT",
    "DECAY_FACTOR",
    "FLAG",
    "FRACTION",
    "LEARNING_RATE",
    "NON_NEGATIVE",
    "POSITIVE",
    "RATE_OR_ZERO",
    "SEED",
    "STEPS",
    "UNIT_CLOSED",
    "UNIT_OPEN",
    "DataError",
    "DescentLabError",
    "Interval",
    "InvalidParameterError",
    "Options",
    "as_int",
    "as_seeds",
    "call_registered",
    "check_arguments",
    "check_finite_array",
    "check_json",
    "check_param",
    "is_integer",
    "lookup",
    "normalize_name",
    "show",
]


class DescentLabError(Exception):
    """Base class of every error descentlab raises on purpose."""


class InvalidParameterError(DescentLabError, ValueError):
    """A hyperparameter or setting is outside its allowed range or set."""


class DataError(DescentLabError, ValueError):
    """Data (arrays, files, labels, shapes) cannot be used as given."""


@dataclass(frozen=True)
class Interval:
    """The finite real numbers between ``low`` and ``high``; ``closed`` is "both", "left", "right"
    or "neither". ``None`` for a bound means no bound (but never infinity: NaN and ±inf are
    outside every interval). ``integer=True`` also demands whole numbers."""

    low: float | None
    high: float | None
    closed: str = "both"
    integer: bool = False

    def contains(self, x: Any) -> bool:
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError, OverflowError):
            return False
        if not np.all(np.isfinite(x)):
            return False
        ok = np.ones(x.shape, dtype=bool)
        if self.low is not None:
            ok &= x >= self.low if self.closed in ("both", "left") else x > self.low
        if self.high is not None:
            ok &= x <= self.high if self.closed in ("both", "right") else x < self.high
        if self.integer:
            ok &= np.mod(x, 1) == 0
        return bool(np.all(ok))

    def __str__(self) -> str:
        kind = "an int" if self.integer else "a float"
        if self.low is not None and self.high is None:
            op = ">=" if self.closed in ("both", "left") else ">"
            return f"{kind} {op} {_fmt(self.low, self.integer)}"
        if self.high is not None and self.low is None:
            op = "<=" if self.closed in ("both", "right") else "<"
            return f"{kind} {op} {_fmt(self.high, self.integer)}"
        if self.low is None and self.high is None:
            return f"a finite {kind[kind.index(' ') + 1 :]}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{kind} in the range {left}{_fmt(self.low, self.integer)}, {_fmt(self.high, self.integer)}{right}"


@dataclass(frozen=True)
class Options:
    """A finite set of allowed values (strings, booleans, ...)."""

    values: tuple[Any, ...]

    def contains(self, x: Any) -> bool:
        return any(type(x) is type(v) and x == v for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


Rule = Interval | Options | type | Callable[[Any], bool]

POSITIVE = Interval(0.0, None, closed="neither")
"""A finite float > 0 (epsilons may be 0: see ``NON_NEGATIVE``)."""
NON_NEGATIVE = Interval(0.0, None, closed="left")
"""A finite float >= 0: epsilons, weight decay, decay rates of schedules, noise."""
UNIT_OPEN = Interval(0.0, 1.0, closed="left")
"""[0, 1): betas, momentum, the decay of a running average."""
UNIT_CLOSED = Interval(0.0, 1.0, closed="both")
"""[0, 1]: dampening."""
FRACTION = Interval(0.0, 1.0, closed="neither")
"""(0, 1): a share of the examples (test or validation size)."""
LEARNING_RATE = Interval(0.0, limits.MAX_LEARNING_RATE, closed="right")
"""A learning rate: a float in (0, MAX_LEARNING_RATE]."""
RATE_OR_ZERO = Interval(0.0, limits.MAX_LEARNING_RATE)
"""[0, MAX_LEARNING_RATE]: a rate that may be 0 — what a schedule may return at any step, its
final value, a warm-up's start, a piece of a piecewise schedule."""
DECAY_FACTOR = Interval(0.0, 1.0, closed="right")
"""(0, 1]: what a decaying schedule multiplies its rate by (``gamma``, ``factor``)."""
STEPS = Interval(1, 2**53, integer=True)
"""An int in [1, 2**53]: a number of steps or epochs (2**53, the largest whole number a float
holds exactly, keeps the step arithmetic exact and inside NumPy's int64)."""
COUNT = Interval(1, None, integer=True)
"""An int >= 1 (a size, a number of steps)."""
SEED = Interval(0, limits.MAX_SEED, integer=True)
"""A seed: an int in [0, 2**32 - 1], the range of NumPy's generators."""
FLAG = Options((True, False))
"""True or False, nothing else (not 1, not "yes")."""


def _fmt(x: float, integer: bool = False) -> str:
    return str(int(x)) if integer and float(x).is_integer() else repr(float(x))


def _is_number_like(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, numbers.Real):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iuf"
    return False


def check_param(owner: str, name: str, value: Any, rule: Rule, *, allow_array: bool = True) -> Any:
    """Check one setting against its rule and return it unchanged.

    Numbers may be given as a NumPy array (one value per population member) when
    ``allow_array``; every element must then satisfy the rule. Raises
    :class:`InvalidParameterError` naming ``owner`` and ``name`` otherwise.

    >>> check_param("adam", "b1", 0.9, UNIT_OPEN)
    0.9
    >>> check_param("adam", "b1", 1.5, UNIT_OPEN)
    Traceback (most recent call last):
    ...
    descentlab._validation.InvalidParameterError: The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead.
    """
    if isinstance(rule, Interval):
        if isinstance(value, list | tuple) and allow_array:
            try:
                value = np.asarray(value, dtype=float)
            except (TypeError, ValueError, OverflowError):
                pass
        if not _is_number_like(value) or (isinstance(value, np.ndarray) and not allow_array):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. "
                f"Got {show(value)} ({type(value).__name__}) instead."
            )
        if not rule.contains(value):
            shown = value if np.ndim(value) == 0 else np.asarray(value).tolist()
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. Got {show(shown)} instead."
            )
        return value
    if isinstance(rule, Options):
        if not rule.contains(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. Got {show(value)} instead."
            )
        return value
    if isinstance(rule, type):
        if not isinstance(value, rule):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be of type {rule.__name__}. "
                f"Got {show(value)} ({type(value).__name__}) instead."
            )
        return value
    if not rule(value):
        doc = getattr(rule, "__doc__", None) or "valid"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {doc.strip()}. Got {show(value)} instead."
        )
    return value


def show(value: Any) -> str:
    """``repr(value)``, cut to 80 characters (a hostile value may be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_int(owner: str, name: str, value: Any, rule: Interval = COUNT) -> int:
    """Check a whole number (an int, or a float such as ``3.0`` from a config) against ``rule``
    (an ``integer=True`` interval) and return it as a Python ``int``.

    >>> as_int("train", "epochs", 3.0)
    3
    """
    return int(check_param(owner, name, value, rule, allow_array=False))


def as_seeds(owner: str, name: str, seed: Any) -> list[int] | None:
    """``None`` for no seed or one seed (checked against :data:`SEED`); the checked list of
    ints for a sequence of seeds (one per population member).

    >>> as_seeds("train", "seed", [1, 2]), as_seeds("train", "seed", 7)
    ([1, 2], None)
    """
    if seed is None:
        return None
    if is_integer(seed):
        check_param(owner, name, seed, SEED)
        return None
    if isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str | bytes):
        seeds = [int(check_param(owner, name, s, SEED, allow_array=False)) for s in seed]
        if not seeds:
            raise InvalidParameterError(f"The {name!r} parameter of {owner} must not be empty.")
        return seeds
    raise InvalidParameterError(
        f"The {name!r} parameter of {owner} must be an int in [0, 2**32 - 1], a sequence of "
        f"them or None. Got {show(seed)} instead."
    )


def check_finite_array(name: str, x: np.ndarray) -> None:
    """Raise :class:`DataError` if ``x`` holds NaN or inf, saying where the first one is."""
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "remove or impute those values first."
        )


def is_integer(x: Any) -> bool:
    """True for ints and NumPy integers, never for bools."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool | np.bool_)


# ----------------------------------------------------------------------------- registries


def normalize_name(name: Any) -> str:
    """A registry key as people type it: ``" Adam-W "`` -> ``"adam_w"``."""
    return str(name).strip().lower().replace("-", "_")


def lookup(registry: Mapping[str, Any], kind: str, name: Any) -> tuple[str, Any]:
    """``(key, registry[key])`` for ``name`` (case and ``-``/``_`` forgiven).

    Raises:
      InvalidParameterError: "Unknown <kind> 'name'; the known <kind>s are ...".

    >>> lookup({"adam": 1}, "optimizer", "Adam")
    ('adam', 1)
    """
    key = normalize_name(name) if isinstance(name, str) else None
    if key not in registry:
        raise InvalidParameterError(
            f"Unknown {kind} {show(name)}; the known {kind}s are {', '.join(registry)}."
        )
    return key, registry[key]


def check_arguments(
    kind: str,
    name: str,
    fn: Callable[..., Any],
    given: Iterable[str],
    *,
    word: str = "setting",
    extra: Iterable[str] = (),
    required: bool = True,
    hint: str = "",
) -> list[str]:
    """Check argument names against ``fn``'s signature; return the names it accepts.

    Args:
      kind, name: what is being called, for messages ("optimizer", "adam").
      fn: the callable whose keyword arguments are the accepted names.
      given: the names the caller gives.
      word: what an argument is called in messages ("hyperparameter", "setting").
      extra: more accepted names (handled by the caller).
      required: also refuse a missing argument that has no default.
      hint: a sentence added to the unknown-argument message.

    Raises:
      InvalidParameterError: "Unknown <word> 'x' for <kind> 'name'; it accepts ..." or
        "<Kind> 'name' needs 'y'; it accepts ...".
    """
    params = inspect.signature(fn).parameters
    accepted = [p for p, spec in params.items() if spec.kind is not spec.VAR_KEYWORD]
    accepted += [e for e in extra if e not in accepted]
    given = list(given)
    unknown = [g for g in given if g not in accepted]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise InvalidParameterError(
            f"Unknown {word}{plural} {', '.join(map(show, unknown))} for {kind} {name!r}; it "
            f"accepts {', '.join(accepted) or 'nothing'}{hint}."
        )
    missing = [
        p
        for p, spec in params.items()
        if required
        and spec.default is inspect.Parameter.empty
        and p not in given
        and spec.kind is not spec.VAR_KEYWORD
    ]
    if missing:
        raise InvalidParameterError(
            f"{kind.capitalize()} {name!r} needs {', '.join(map(repr, missing))}; it accepts "
            f"{', '.join(accepted)}."
        )
    return accepted


def call_registered(
    registry: Mapping[str, Callable[..., Any]],
    kind: str,
    name: Any,
    settings: Mapping[str, Any],
    *,
    word: str = "setting",
) -> Any:
    """``registry[name](**settings)`` after :func:`lookup` and :func:`check_arguments`.

    >>> call_registered({"pow": pow}, "function", "pow", {"base": 2, "exp": 3})
    8
    """
    key, fn = lookup(registry, kind, name)
    check_arguments(kind, key, fn, settings, word=word)
    return fn(**settings)


# ----------------------------------------------------------------------------- JSON documents

_KIND_NAMES = {str: "text", bool: "true or false", int: "an integer", float: "a number",
               list: "a list", dict: "a table", type(None): "null"}  # fmt: skip


def _matches(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_json(value: Any, schema: Any, source: str, path: str = "") -> None:
    """Check a document read from a file (JSON, TOML) against ``schema``; raise :class:`DataError`.

    ``schema`` is a type (``float`` accepts ints too, never bools), a tuple of types, a list
    ``[item_schema]`` (every item), or a dict ``{key: schema}`` whose keys must be present
    (a key ending in ``?`` may be absent); other keys are allowed.

    >>> check_json({"runs": [{"label": "gd"}]}, {"runs": [{"label": str}]}, "results.json")
    >>> check_json({"runs": [{"label": 5}]}, {"runs": [{"label": str}]}, "results.json")
    Traceback (most recent call last):
    ...
    descentlab._validation.DataError: results.json is damaged: runs[0].label must be text; found 5.
    """
    where = path or "the document"
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise DataError(f"{source} is damaged: {where} must be a table; found {show(value)}.")
        for key, inner in schema.items():
            name = key.rstrip("?")
            if name not in value:
                if key.endswith("?"):
                    continue
                raise DataError(f"{source} is damaged: {where} has no {name!r}.")
            check_json(value[name], inner, source, f"{path}.{name}" if path else name)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise DataError(f"{source} is damaged: {where} must be a list; found {show(value)}.")
        for i, item in enumerate(value):
            check_json(item, schema[0], source, f"{path}[{i}]")
        return
    kinds = schema if isinstance(schema, tuple) else (schema,)
    if not any(_matches(value, k) for k in kinds):
        expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise DataError(f"{source} is damaged: {where} must be {expected}; found {show(value)}.")
