"""A scikit-learn classifier over descentlab's MLP, optimizers and training engine.

:class:`DescentClassifier` is a thin adapter: at its boundary examples are *rows*
(``X`` is ``(n_samples, n_features)``, as everywhere in scikit-learn); it transposes once to
the library's columns convention and calls :func:`descentlab.training.train`. It works in
``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` and passes scikit-learn's
``check_estimator``.

The network is ``MLP((n_features, *hidden_layer_sizes, n_out))`` with one sigmoid output unit
for two classes (``n_out = 1``) and a softmax over ``n_out = n_classes`` units otherwise; it
minimises the mean cross-entropy ``J`` by mini-batch steps of the chosen optimizer.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from descentlab import limits
from descentlab._validation import (
    COUNT,
    FLAG,
    FRACTION,
    LEARNING_RATE,
    NON_NEGATIVE,
    SEED,
    DataError,
    DescentLabError,
    Interval,
    InvalidParameterError,
    Options,
    check_param,
    is_integer,
)
from descentlab.batching import SEED_DATA_SEED, batch_slices
from descentlab.nn import ACTIVATIONS, INITIALISERS, MLP
from descentlab.optimizers import OPTIMIZERS, get_optimizer
from descentlab.optimizers.base import Params
from descentlab.schedules import SCHEDULES, get_schedule
from descentlab.training import ENGINES, EPOCHS, EarlyStopping, TrainResult, train

__all__ = ["DescentClassifier", "TrainingDivergedError"]

_MAX_SEED = np.iinfo(np.int32).max  # seeds drawn from random_state lie in [0, 2**31 - 1)


class TrainingDivergedError(DescentLabError, ValueError):
    """The training cost became NaN or inf (usually: the learning rate is too large)."""


class _Start(NamedTuple):
    """Where a ``fit``/``partial_fit`` call starts from."""

    labels: np.ndarray  # the sorted classes
    net: MLP
    params: Params
    opt_state: Any  # None for a fresh optimizer
    loss_curve: list[float]  # the epochs' costs so far
    n_iter: int  # epochs run so far


# ---------------------------------------------------------------------------- rule table
def _layer_sizes(value: Any) -> bool:
    """a positive int or a sequence of positive ints (the hidden layers' sizes)"""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return value >= 1
    return isinstance(value, Sequence) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value
    )


def _dict_or_none(value: Any) -> bool:
    """None or a dict of keyword arguments"""
    return value is None or isinstance(value, Mapping)


def _schedule(value: Any) -> bool:
    """None, a schedule name (str) or a callable step -> learning rate"""
    return value is None or isinstance(value, str) or callable(value)


def _tol(value: Any) -> bool:
    """None or a finite float >= 0"""
    return value is None or (_is_number(value) and NON_NEGATIVE.contains(value))


def _random_state(value: Any) -> bool:
    """None, an int in [0, 2**32 - 1] or a numpy.random.RandomState"""
    return (
        value is None
        or (is_integer(value) and SEED.contains(value))
        or isinstance(value, np.random.RandomState)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _verbose(value: Any) -> bool:
    """a bool or an int >= 0"""
    return isinstance(value, bool | numbers.Integral) and value >= 0


_PARAMETER_RULES: dict[str, Any] = {
    "hidden_layer_sizes": _layer_sizes,
    "activation": Options(ACTIVATIONS),
    "optimizer": Options(tuple(OPTIMIZERS)),
    "learning_rate": LEARNING_RATE,
    "optimizer_params": _dict_or_none,
    "batch_size": Interval(1, limits.MAX_EXAMPLES, integer=True),
    "epochs": EPOCHS,
    "schedule": _schedule,
    "schedule_params": _dict_or_none,
    "init": Options(INITIALISERS),
    "shuffle": Options((True, False, "seed")),
    "tol": _tol,
    "n_iter_no_change": COUNT,
    "early_stopping": FLAG,
    "validation_fraction": FRACTION,
    "random_state": _random_state,
    "verbose": _verbose,
    "engine": Options(ENGINES),
}
"""The allowed value of every hyperparameter, checked at the start of ``fit``/``partial_fit``."""


class DescentClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier trained by descentlab's optimizers, for scikit-learn.

    Each epoch visits the (shuffled) training rows once in mini-batches of ``batch_size``;
    every mini-batch takes one step of ``optimizer`` on the mean cross-entropy ``J`` (for
    Adam: ``v = b1 v + (1 - b1) dW``, ``s = b2 s + (1 - b2) dW**2``, bias correction, then
    ``W = W - alpha v_corrected / (sqrt(s_corrected + eps_root) + eps)``).

    Convergence (``tol`` not None): ``fit`` stops once ``n_iter_no_change`` consecutive epochs
    failed to improve on the best value so far by more than ``tol`` — the epoch's mean
    training cost must fall below ``best - tol`` (or, with ``early_stopping``, the validation
    accuracy must rise above ``best + tol``), where ``best`` is the value of the last epoch
    that did. If ``epochs`` run out before that happens, ``fit`` warns with
    :class:`sklearn.exceptions.ConvergenceWarning`. ``tol=None`` always runs all ``epochs``
    and never warns. ``partial_fit`` never stops early and never warns.

    Args:
      hidden_layer_sizes: units per hidden layer; the default ``(5, 2)`` is the exercise's
        ``layer_dims = [n_x, 5, 2, 1]``; ``()`` gives logistic (softmax) regression.
      activation: hidden activation, ``relu``, ``tanh``, ``leaky_relu`` or ``sigmoid``.
      optimizer: any name of :data:`descentlab.optimizers.OPTIMIZERS` — ``gd``, ``momentum``,
        ``adam``, ``adamw``, ``nadam``, ``lion``, ``schedule_free_adamw``, ... (docs/optimizers.md
        lists every one with its update).
      learning_rate: ``alpha > 0``. The default 0.001 is Adam's usual one (Kingma & Ba, and
        scikit-learn's ``learning_rate_init``); plain ``gd`` usually wants more.
      optimizer_params: more hyperparameters of the optimizer, e.g. ``{"b1": 0.8}`` for
        Adam, ``{"beta": 0.95}`` for momentum, ``{"eps": 0.0, "eps_root": 1e-8}`` for the
        exercise's Adam.
      batch_size: rows per mini-batch; 1 is SGD, ``>= n_samples`` is batch gradient descent.
      epochs: passes over the training rows in ``fit`` (``partial_fit`` does one per call).
      schedule: None (constant ``learning_rate``), the name of a schedule in
        :mod:`descentlab.schedules` (built as ``get_schedule(name, learning_rate=learning_rate,
        steps_per_epoch=..., **schedule_params)``, ``steps_per_epoch`` filled in when the
        schedule takes it and ``schedule_params`` does not set it), or a callable
        ``step -> alpha`` (steps count all mini-batch updates, across ``partial_fit`` calls;
        ``learning_rate`` is then unused).
      schedule_params: keyword arguments of the named schedule, e.g. ``{"gamma": 0.99}``.
      init: ``he`` or ``xavier`` (drawn from ``random_state``), or ``seed``: the exercise's
        exact He initialisation from ``RandomState(3)``, whatever ``random_state``.
      shuffle: ``True`` draws a fresh row order every epoch from ``random_state``; ``False``
        keeps the rows' order; ``"seed"`` is the exercise's order (``RandomState(10 + t)``
        before epoch ``t = 1, 2, ...``), so that with ``init="seed"`` the exercise's numbers
        come out exactly.
      tol: the least improvement that counts (see Convergence above), or None.
      n_iter_no_change: epochs without such an improvement before ``fit`` stops.
      early_stopping: hold out ``validation_fraction`` of the rows (stratified) and watch the
        validation accuracy instead of the training cost. The parameters kept are those of
        the last epoch run. Ignored by ``partial_fit``.
      validation_fraction: the held-out share in ``(0, 1)`` when ``early_stopping``.
      random_state: None, an int or a ``RandomState``: seeds the initialisation, the row
        orders and the validation split. An int makes ``fit`` reproducible.
      verbose: draw a progress bar (epoch, cost, ETA) on a terminal.
      engine: the training engine: ``auto`` (compiled when it covers the configuration and
        pays, else numpy: see :mod:`descentlab.compiled`), ``numpy`` (the readable reference
        loop) or ``compiled`` (numba); the numbers are the same to 1e-12, only the speed
        differs.

    Attributes:
      classes_: the sorted class labels ``(n_classes,)``; any type numpy can sort.
      params_: the trained parameters, descentlab's ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``.
      coefs_: scikit-learn's view of them, ``coefs_[l - 1] = W{l}.T`` ``(n_{l-1}, n_l)``.
      intercepts_: ``intercepts_[l - 1] = b{l}`` as ``(n_l,)``.
      loss_curve_: the mean training cost of every epoch run so far (``partial_fit`` appends).
      n_iter_: the number of epochs run so far.
      history_: the :class:`~descentlab.training.History` of the last ``fit``/``partial_fit`` call.
      validation_scores_: validation accuracy per epoch with ``early_stopping``, else None.
      engine_: the engine that ran the last ``fit``/``partial_fit`` call (``numpy`` or
        ``compiled``); ``engine_note_`` says why ``engine="auto"`` ran numpy (else empty).
      n_features_in_: the number of features seen in ``fit``.
      feature_names_in_: the column names, when ``X`` was a DataFrame with string names.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> X = np.vstack([rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))])
      >>> y = np.array(["neg"] * 50 + ["pos"] * 50)
      >>> clf = DescentClassifier(learning_rate=0.1, epochs=100, tol=None, random_state=0)
      >>> clf.fit(X, y).score(X, y)
      1.0
      >>> clf.predict([[-2, -2], [2, 2]]).tolist()
      ['neg', 'pos']
      >>> clf.predict_proba([[-2, -2], [2, 2]]).round(2).tolist()
      [[0.99, 0.01], [0.0, 1.0]]
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (5, 2),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        optimizer_params: Mapping[str, Any] | None = None,
        batch_size: int = 64,
        epochs: int = 200,
        schedule: str | Callable[[int], float] | None = None,
        schedule_params: Mapping[str, Any] | None = None,
        init: str = "he",
        shuffle: bool | str = True,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
        engine: str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.init = init
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.engine = engine

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any) -> DescentClassifier:
        """Train a fresh network for ``epochs`` epochs on ``X (n_samples, n_features)``, ``y``."""
        return self._fit(X, y, classes=None, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> DescentClassifier:
        """One epoch on ``(X, y)``, continuing the parameters and the optimizer's state.

        ``classes`` (all the labels ``y`` will ever hold) is required on the first call. With
        ``shuffle=False`` (or ``"seed"``), k calls on the same data give exactly the network
        ``fit`` gives with ``epochs=k`` and ``tol=None``.
        """
        return self._fit(X, y, classes=classes, incremental=True)

    def _check_parameters(self) -> None:
        owner = type(self).__name__
        for name, rule in _PARAMETER_RULES.items():
            check_param(owner, name, getattr(self, name), rule, allow_array=False)
        extra = self.optimizer_params or {}
        if "learning_rate" in extra:
            raise InvalidParameterError(
                f"The 'optimizer_params' parameter of {owner} must not set 'learning_rate'; "
                "use the 'learning_rate' parameter instead."
            )

    def _fit(self, X: Any, y: Any, *, classes: Any, incremental: bool) -> DescentClassifier:
        """Check, set up (fresh or continued), hold out, train, store, warn."""
        self._check_parameters()
        first = not (incremental and hasattr(self, "classes_"))
        X, y = validate_data(self, X, y, reset=first, dtype=np.float64)
        check_classification_targets(y)
        start = self._fresh_start(X, y, classes, incremental) if first else self._continue(classes)
        y_index = _encode(y, start.labels)
        validation = None
        if self.early_stopping and not incremental:
            X, y_index, validation = self._hold_out(X, y_index)
        epochs = 1 if incremental else int(self.epochs)
        callbacks = []
        if self.tol is not None and not incremental:
            monitor = "val_accuracy" if validation is not None else "cost"
            callbacks.append(EarlyStopping(monitor, self.n_iter_no_change, float(self.tol)))
        result = self._train(start, X, y_index, validation, epochs, callbacks)
        self._store(start, result, validation is not None)
        self._warn(result, epochs, bool(callbacks), validation is not None)
        return self

    def _fresh_start(self, X: np.ndarray, y: np.ndarray, classes: Any, incremental: bool) -> _Start:
        """A new network for the classes of ``y`` (or ``classes``), initialised from the seed."""
        if incremental and classes is None:
            raise DataError(
                "classes must be passed on the first call to partial_fit: all the labels "
                "y will ever hold, e.g. partial_fit(X, y, classes=np.unique(y_all))."
            )
        labels = np.unique(y if classes is None else np.asarray(classes))
        if labels.size < 2:
            raise DataError(
                f"{type(self).__name__} needs at least two classes to train; y has only "
                f"one class ({labels.tolist()[0]!r}). Check the labels."
            )
        self._rng = check_random_state(self.random_state)
        hidden = (
            (int(self.hidden_layer_sizes),)
            if isinstance(self.hidden_layer_sizes, numbers.Integral)
            else tuple(int(h) for h in self.hidden_layer_sizes)
        )
        n_out = 1 if labels.size == 2 else labels.size
        net = MLP((X.shape[1], *hidden, n_out), activation=self.activation)
        init_seed = int(self._rng.randint(_MAX_SEED))
        params = net.init(None if self.init == "seed" else init_seed, method=self.init)
        return _Start(labels, net, params, None, [], 0)

    def _continue(self, classes: Any) -> _Start:
        """The fitted network and optimizer state, for another ``partial_fit`` epoch."""
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise DataError(
                f"classes={np.unique(classes).tolist()!r} differs from the classes of the "
                f"first partial_fit call, {self.classes_.tolist()!r}; call fit to start again."
            )
        if self.optimizer != self._optimizer_name:
            raise InvalidParameterError(
                f"The optimizer changed from {self._optimizer_name!r} to {self.optimizer!r} "
                "between partial_fit calls; its state cannot carry over. Call fit instead."
            )
        return _Start(
            self.classes_,
            self._net,
            self._resume_params,  # the training point (schedule-free: y, not params_ = x)
            self._opt_state,
            list(self.loss_curve_),
            self.n_iter_,
        )

    def _hold_out(
        self, X: np.ndarray, y_index: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """A stratified ``validation_fraction`` of the rows for early stopping."""
        try:
            X, X_val, y_index, y_val = train_test_split(
                X,
                y_index,
                test_size=self.validation_fraction,
                stratify=y_index,
                random_state=int(self._rng.randint(_MAX_SEED)),
            )
        except ValueError as err:
            raise DataError(
                "early_stopping could not hold out a validation set with every class "
                f"(validation_fraction={self.validation_fraction}: {err}). Use more rows, a "
                "larger validation_fraction, or early_stopping=False."
            ) from None
        return X, y_index, (X_val.T, y_val)

    def _train(
        self,
        start: _Start,
        X: np.ndarray,
        y_index: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None,
        epochs: int,
        callbacks: list[EarlyStopping],
    ) -> TrainResult:
        """``epochs`` epochs of :func:`~descentlab.training.train` on the columns ``X.T``."""
        batch_size = int(self.batch_size)
        rate = self._learning_rate(len(batch_slices(X.shape[0], batch_size)))
        optimizer = get_optimizer(
            self.optimizer, learning_rate=rate, **(self.optimizer_params or {})
        )
        if self.shuffle is True:
            shuffle, data_seed = "random", int(self._rng.randint(_MAX_SEED))
        elif self.shuffle == "seed":
            shuffle, data_seed = "seed", SEED_DATA_SEED + start.n_iter
        else:
            shuffle, data_seed = "none", None
        result = train(
            start.net,
            optimizer,
            X.T,
            y_index,
            epochs=epochs,
            batch_size=batch_size,
            params=start.params,
            opt_state=start.opt_state,
            shuffle=shuffle,
            data_seed=data_seed,
            validation=validation,
            eval_every=1 if validation is not None else epochs,
            callbacks=callbacks,
            progress=bool(self.verbose),
            label=type(self).__name__,
            engine=self.engine,
        )
        if result.status == "diverged":
            raise TrainingDivergedError(
                f"Training diverged at epoch {int(result.stopped_epoch.min())}: the cost became "
                f"NaN, inf or too large. Try a smaller learning_rate (got {self.learning_rate!r}) "
                "or standardize X (e.g. with sklearn's StandardScaler)."
            )
        return result

    def _store(self, start: _Start, result: TrainResult, validated: bool) -> None:
        """The fitted attributes (``classes_``, ``params_``, ``coefs_``, ``loss_curve_``, ...)."""
        history, net = result.history, start.net
        self.classes_ = start.labels
        self._net = net
        self._optimizer_name = self.optimizer
        self._opt_state = result.opt_state
        self._resume_params = result.resume_params
        self.params_ = result.params
        self.coefs_ = [result.params[f"W{l}"].T.copy() for l in range(1, net.n_layers + 1)]
        self.intercepts_ = [result.params[f"b{l}"][:, 0].copy() for l in range(1, net.n_layers + 1)]
        self.loss_curve_ = start.loss_curve + history.cost.tolist()
        self.n_iter_ = start.n_iter + history.n_epochs
        self.history_ = history
        self.engine_, self.engine_note_ = result.engine, result.engine_note
        self.validation_scores_ = history.val_accuracy.tolist() if validated else None

    def _warn(self, result: TrainResult, epochs: int, watched: bool, validated: bool) -> None:
        """A ``UserWarning`` when interrupted; a ``ConvergenceWarning`` when ``tol`` was never met."""
        if result.status == "interrupted":
            warnings.warn(f"{type(self).__name__}: {result.message}", UserWarning, stacklevel=4)
        elif watched and result.status == "completed":
            what = "validation accuracy" if validated else "mean training cost"
            warnings.warn(
                f"{type(self).__name__} ran all {epochs} epochs without converging: the "
                f"{what} had not yet gone n_iter_no_change={self.n_iter_no_change} epochs "
                f"in a row without improving by more than tol={self.tol}. Raise epochs or "
                "learning_rate, or loosen tol (tol=None always runs all epochs, silently).",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _learning_rate(self, steps_per_epoch: int) -> float | Callable[[int], float]:
        """The optimizer's learning rate: a number, or a schedule ``step -> alpha``."""
        if self.schedule is None:
            return float(self.learning_rate)
        if callable(self.schedule):
            return self.schedule
        if self.schedule not in SCHEDULES:
            raise InvalidParameterError(
                f"The 'schedule' parameter of {type(self).__name__} must be None, a callable or "
                f"one of {', '.join(map(repr, SCHEDULES))}. Got {self.schedule!r} instead."
            )
        kwargs = {"learning_rate": float(self.learning_rate), **(self.schedule_params or {})}
        if "steps_per_epoch" in inspect.signature(SCHEDULES[self.schedule]).parameters:
            kwargs.setdefault("steps_per_epoch", steps_per_epoch)
        return get_schedule(self.schedule, **kwargs)

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``; column c is P(``classes_[c]``), rows sum to 1."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with np.errstate(over="ignore"):
            return self._net.predict_proba(self.params_, X.T).T

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every row, ``classes_[argmax(predict_proba(X), axis=1)]``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class indices ``(m,)`` of labels ``y`` in the sorted ``classes`` (LabelEncoder's mapping),
    as NumPy's index integers (``intp``)."""
    known = np.isin(y, classes)
    if not known.all():
        unknown = np.unique(y[~known])
        raise DataError(
            f"y holds label(s) {unknown.tolist()!r} outside the classes "
            f"{classes.tolist()!r} given to the first partial_fit call."
        )
    return np.searchsorted(classes, y)
