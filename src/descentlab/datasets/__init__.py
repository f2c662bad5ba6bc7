"""Classification data sets with examples as columns: the seed's moons, toy 2-D sets, files.

A :class:`Dataset` holds ``X`` of shape ``(n_features, m)`` (one column per example, the
seed's convention) and ``y`` of shape ``(m,)`` with class indices in ``[0, n_classes)``;
``classes[k]`` is the original label of class ``k``. ``Dataset.Y`` is the network target:
``(1, m)`` 0/1 for two classes, one-hot ``(n_classes, m)`` for more.

Sources, one module each (import every name from ``descentlab.datasets``):

- ``container``: :class:`Dataset` itself, :func:`encode_labels`, split and standardise.
- ``synthetic``: :func:`load_moons` — the seed's exact training set
  (``opt_utils.load_dataset``) — and generators, reproducible from ``seed`` (an int or a
  ``numpy.random.Generator``): :func:`make_moons`, :func:`make_circles`, :func:`make_blobs`,
  :func:`make_spiral`, :func:`make_xor`, :func:`make_gaussian_quantiles`.
- ``bundled``: scikit-learn's bundled real sets (no download): :func:`load_breast_cancer`,
  :func:`load_iris`, :func:`load_wine`, :func:`load_digits`.
- ``mnist1d``: MNIST-1D built offline by the ``mnist1d`` package and cached under the user
  cache dir: :func:`load_mnist1d` (all 5000 examples), :func:`load_mnist1d_split` (its own
  4000 training and 1000 test examples; :data:`GIVEN_SPLITS`).
- ``quadratic``: :func:`make_noisy_quadratic`, a *regression* set (``task="regression"``):
  DeepOBS's noisy quadratic, its landscape from :func:`noisy_quadratic_problem`.
- ``files``: files with one row per example: :func:`load_csv`, :func:`load_npz`. They
  transpose once, there, at the boundary. :func:`read_csv` is their CSV reader, shared
  with ``descentlab predict``.
- here: :func:`load_dataset` resolves a built-in name or a file path (the CLI's entry point);
  :data:`BUILTIN_DATASETS` and :func:`describe_datasets` list the built-in names.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from descentlab._validation import DataError, InvalidParameterError, show
from descentlab.datasets.bundled import load_breast_cancer, load_digits, load_iris, load_wine
from descentlab.datasets.container import Dataset, Seed, encode_labels
from descentlab.datasets.csv_file import load_csv, read_csv
from descentlab.datasets.mnist1d import load_mnist1d, load_mnist1d_split
from descentlab.datasets.npz_file import load_npz
from descentlab.datasets.quadratic import make_noisy_quadratic, noisy_quadratic_problem
from descentlab.datasets.synthetic import (
    load_moons,
    make_blobs,
    make_circles,
    make_gaussian_quantiles,
    make_moons,
    make_spiral,
    make_xor,
)

__all__ = [
    "BUILTIN_DATASETS",
    "GIVEN_SPLITS",
    "Dataset",
    "describe_datasets",
    "encode_labels",
    "load_breast_cancer",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_iris",
    "load_mnist1d",
    "load_mnist1d_split",
    "load_moons",
    "load_npz",
    "load_wine",
    "make_blobs",
    "make_circles",
    "make_gaussian_quantiles",
    "make_moons",
    "make_noisy_quadratic",
    "make_spiral",
    "make_xor",
    "noisy_quadratic_problem",
    "read_csv",
]


def _builtin_moons(
    n_samples: int | None = None, noise: float | None = None, seed: Seed | None = None
) -> Dataset:
    """The seed's exact moons when called without arguments, else :func:`make_moons`."""
    if n_samples is None and noise is None and seed is None:
        return load_moons()
    return make_moons(
        300 if n_samples is None else n_samples,
        noise=0.2 if noise is None else noise,
        seed=0 if seed is None else seed,
    )


BUILTIN_DATASETS: dict[str, Callable[..., Dataset]] = {
    "moons": _builtin_moons,
    "circles": make_circles,
    "blobs": make_blobs,
    "spiral": make_spiral,
    "xor": make_xor,
    "gaussian_quantiles": make_gaussian_quantiles,
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
    "mnist1d": load_mnist1d,
    "noisy_quadratic": make_noisy_quadratic,
}
"""Built-in name → loader. Generators take optional ``n_samples``, ``noise``, ``seed``;
the real sets take no arguments; ``moons`` without arguments is the seed's exact data."""

_DESCRIPTIONS = {
    "moons": "The seed's training set: two noisy interleaving half circles (seed-exact).",
    "circles": "Two noisy concentric circles.",
    "blobs": "Isotropic Gaussian blobs, one per class.",
    "spiral": "Interleaved spiral arms, one per class.",
    "xor": "XOR: class 1 where the two coordinates have opposite signs.",
    "gaussian_quantiles": "Nested shells of a standard Gaussian, by distance quantile.",
    "breast_cancer": "Wisconsin diagnostic breast cancer (malignant / benign).",
    "iris": "Fisher's iris flowers, three species.",
    "wine": "UCI wine recognition, three cultivars.",
    "digits": "8x8 images of handwritten digits 0-9.",
    "mnist1d": "MNIST-1D: the ten digits as noisy 1-D signals of 40 points (Greydanus 2020).",
    "noisy_quadratic": "Regression: DeepOBS's 100-d noisy quadratic (Hessian spectrum exact).",
}

GIVEN_SPLITS: dict[str, Callable[[], tuple[Dataset, Dataset]]] = {"mnist1d": load_mnist1d_split}
"""Built-in datasets that come with their own test set: name → ``() -> (train, test)``.
Their default holdout is ``given`` (:class:`~descentlab.experiments.specs.DatasetSpec`)."""


def load_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    target: str | None = None,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: Seed | None = None,
) -> Dataset:
    """A built-in dataset by name, or a ``.csv`` / ``.npz`` file by path (the CLI's loader).

    Built-in names are the keys of :data:`BUILTIN_DATASETS` (``-`` may stand for ``_``,
    case is ignored); ``n_samples``, ``noise`` and ``seed`` go to the generators and
    default to each generator's own defaults (``moons`` with none of them is the seed's
    exact data). A path ending in ``.csv`` needs ``target`` (the label column); for
    ``.npz`` ``target`` defaults to ``"y"``.

    >>> load_dataset("moons").X.shape
    (2, 300)

    Raises:
        InvalidParameterError: a name that is not text or a path; unknown name (the message
            lists the built-in names); a parameter that does not apply; a CSV path without
            ``target``.
        DataError: a path that exists but is a directory or not a ``.csv``/``.npz`` file; the
            file cannot be used (see :func:`load_csv`, :func:`load_npz`: not a regular file, a
            CSV above ``limits.MAX_FILE_BYTES``, ...).
    """
    text = _name_text(name_or_path)
    given = {"n_samples": n_samples, "noise": noise, "seed": seed}
    given = {k: v for k, v in given.items() if v is not None}
    suffix = Path(text).suffix.lower()
    if suffix in (".csv", ".npz"):
        return _load_file(text, suffix, target, given)
    return _load_builtin(name_or_path, text, target, given)


def _name_text(name_or_path: Any) -> str:
    """``name_or_path`` as text: a ``str`` or an ``os.PathLike`` naming a ``str`` path."""
    text = os.fspath(name_or_path) if isinstance(name_or_path, str | os.PathLike) else None
    if not isinstance(text, str):
        raise InvalidParameterError(
            "The 'name_or_path' parameter of load_dataset must be a built-in dataset name or "
            f"a path to a .csv or .npz file. Got {show(name_or_path)} "
            f"({type(name_or_path).__name__}) instead."
        )
    return text


def _load_file(text: str, suffix: str, target: str | None, given: dict[str, Any]) -> Dataset:
    """A ``.csv`` (``target`` required) or ``.npz`` file; generator parameters are refused."""
    if given:
        raise InvalidParameterError(
            f"The {', '.join(repr(k) for k in given)} parameter(s) of load_dataset apply "
            f"only to generated datasets, not to the file {show(text)}."
        )
    if suffix == ".csv":
        if target is None:
            raise InvalidParameterError(
                f"load_dataset needs target=... (the label column) to read the CSV file "
                f"{show(text)}."
            )
        return load_csv(text, target)
    return load_npz(text, "y" if target is None else target)


def _load_builtin(
    name_or_path: Any, text: str, target: str | None, given: dict[str, Any]
) -> Dataset:
    """A built-in dataset by name, with the generator parameters that apply to it."""
    key = text.strip().lower().replace("-", "_")
    if key not in BUILTIN_DATASETS or not isinstance(name_or_path, str):
        _refuse_existing_path(text)
        names = ", ".join(BUILTIN_DATASETS)
        raise InvalidParameterError(
            f"Unknown dataset {show(text)}. Expected one of the built-in names {names}, "
            "or a path to a .csv or .npz file."
        )
    if target is not None:
        raise InvalidParameterError(
            f"The 'target' parameter of load_dataset applies only to CSV/NPZ files, not to "
            f"the built-in dataset {key!r}."
        )
    loader = BUILTIN_DATASETS[key]
    accepted = inspect.signature(loader).parameters
    for param in given:
        if param not in accepted:
            raise InvalidParameterError(
                f"The {param!r} parameter of load_dataset does not apply to the built-in "
                f"dataset {key!r}, which is fixed."
            )
    return loader(**given)


def _refuse_existing_path(text: str) -> None:
    """A name that is not built in but names something on disk: say what it is."""
    try:
        path = Path(text)
        is_dir, exists = path.is_dir(), path.exists()
    except (OSError, ValueError):  # a name too long, or holding a NUL character
        return
    if is_dir:
        raise DataError(
            f"{show(text)} is a directory; load_dataset takes a built-in dataset name or the "
            "path of a .csv or .npz file."
        )
    if exists:
        raise DataError(
            f"{show(text)} is not a .csv or .npz file; load_dataset reads only those (save "
            "the data as CSV with a header row, or with np.savez)."
        )


def describe_datasets() -> list[dict[str, Any]]:
    """One row per built-in dataset (default parameters): ``name``, ``task``
    (``classification`` or ``regression``), ``n_features``, ``n_examples``, ``n_classes``
    (0 for regression), ``description``."""
    rows = []
    for name, loader in BUILTIN_DATASETS.items():
        ds = loader()
        rows.append(
            {
                "name": name,
                "task": ds.task,
                "n_features": ds.n_features,
                "n_examples": ds.n_examples,
                "n_classes": ds.n_classes,
                "description": _DESCRIPTIONS[name],
            }
        )
    return rows
