"""scikit-learn's bundled real data sets (no download), examples as columns."""

from __future__ import annotations

import numpy as np

from descentlab.datasets.container import Dataset

__all__ = ["load_breast_cancer", "load_digits", "load_iris", "load_wine"]


def _from_sklearn(name: str, loader_name: str) -> Dataset:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    return Dataset(
        name,
        bunch.data.T,
        bunch.target.astype(np.int64),
        tuple(bunch.target_names),
        tuple(str(f) for f in bunch.feature_names),
    )


def load_breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer (scikit-learn's copy): X (30, 569), classes
    ``("malignant", "benign")``."""
    return _from_sklearn("breast_cancer", "load_breast_cancer")


def load_iris() -> Dataset:
    """Fisher's iris (scikit-learn's copy): X (4, 150), classes
    ``("setosa", "versicolor", "virginica")``."""
    return _from_sklearn("iris", "load_iris")


def load_wine() -> Dataset:
    """UCI wine recognition (scikit-learn's copy): X (13, 178), classes
    ``("class_0", "class_1", "class_2")``."""
    return _from_sklearn("wine", "load_wine")


def load_digits() -> Dataset:
    """8x8 handwritten digits (scikit-learn's copy): X (64, 1797) pixel values 0..16,
    classes ``(0, ..., 9)``."""
    return _from_sklearn("digits", "load_digits")
