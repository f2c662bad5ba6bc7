"""Input validation shared by every layer: the error types and the hyperparameter rule table.

Every check raises a subclass of ``ValueError`` (or ``TypeError``) whose message names the
argument, what was expected and what was given, e.g.::

    The 'b1' parameter of adam must be a float in the range [0.0, 1.0). Got 1.5 instead.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DataError",
    "DescentLabError",
    "Interval",
    "InvalidParameterError",
    "Options",
    "check_param",
    "check_params",
]


class DescentLabError(Exception):
    """Base class of every error descentlab raises on purpose."""


class InvalidParameterError(DescentLabError, ValueError):
    """A hyperparameter or setting is outside its allowed range or set."""


class DataError(DescentLabError, ValueError):
    """Data (arrays, files, labels, shapes) cannot be used as given."""


@dataclass(frozen=True)
class Interval:
    """The real numbers between ``low`` and ``high``; ``closed`` is "both", "left", "right" or "neither".

    ``integer=True`` also demands whole numbers. ``None`` for a bound means unbounded.
    """

    low: float | None
    high: float | None
    closed: str = "both"
    integer: bool = False

    def contains(self, x: np.ndarray) -> bool:
        x = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(x)) and not (self.high is None and np.all(x != -np.inf)):
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
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{kind} in the range {left}{_fmt(self.low, self.integer)}, {_fmt(self.high, self.integer)}{right}"


@dataclass(frozen=True)
class Options:
    """A finite set of allowed values (strings, booleans, ...)."""

    values: tuple[Any, ...]

    def contains(self, x: Any) -> bool:
        return any(x == v and type(x) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


Rule = Interval | Options | type | Callable[[Any], bool]


def _fmt(x: float | None, integer: bool = False) -> str:
    if x is None:
        return "inf"
    return str(int(x)) if integer and float(x).is_integer() else repr(float(x))


def _is_number_like(value: Any) -> bool:
    if isinstance(value, bool):
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
    """
    if isinstance(rule, Interval):
        if isinstance(value, list | tuple) and allow_array:
            value = np.asarray(value, dtype=float)
        if not _is_number_like(value) or (isinstance(value, np.ndarray) and not allow_array):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. "
                f"Got {value!r} ({type(value).__name__}) instead."
            )
        if not rule.contains(value):
            shown = value if np.ndim(value) == 0 else np.asarray(value).tolist()
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. Got {shown!r} instead."
            )
        return value
    if isinstance(rule, Options):
        if not rule.contains(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead."
            )
        return value
    if isinstance(rule, type):
        if not isinstance(value, rule):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be of type {rule.__name__}. "
                f"Got {value!r} ({type(value).__name__}) instead."
            )
        return value
    if not rule(value):
        doc = getattr(rule, "__doc__", None) or "valid"
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {doc.strip()}. Got {value!r} instead."
        )
    return value


def check_params(owner: str, values: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Check every ``values[name]`` against ``rules[name]`` (the rule table of ``owner``)."""
    for name, rule in rules.items():
        if name in values:
            check_param(owner, name, values[name], rule)


def check_finite_array(name: str, x: np.ndarray) -> None:
    """Raise :class:`DataError` if ``x`` holds NaN or inf, saying where the first one is."""
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "remove or impute those values first."
        )


def is_integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def isclose_int(x: float) -> bool:
    return math.isfinite(x) and float(x).is_integer()
