"""DescentClassifier: scikit-learn's own estimator checks, real scores, the seed's exact numbers,
partial_fit = fit, labels, probabilities, convergence rules and error messages."""

import io
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import descentlab.estimator
from descentlab._validation import DataError, InvalidParameterError
from descentlab.datasets import load_moons
from descentlab.estimator import DescentClassifier, TrainingDivergedError
from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.training import train

MOONS = load_moons()
X_MOONS, Y_MOONS = MOONS.X.T, MOONS.y  # rows-as-samples at the estimator's boundary
IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_XS = StandardScaler().fit_transform(IRIS_X)
SEED_ADAM = {"eps": 0.0, "eps_root": 1e-8}  # the exercise's Adam: sqrt(s_corrected + 1e-8)


# ------------------------------------------------------------------ scikit-learn's checks
# Every check of the installed scikit-learn passes with the defaults: no expected failures.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([DescentClassifier(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ the seed's numbers
@pytest.mark.slow
def test_seed_study_adam_gives_094_exactly():
    clf = DescentClassifier(
        optimizer="adam",
        learning_rate=0.0007,
        optimizer_params=SEED_ADAM,
        epochs=10000,
        init="seed",
        shuffle="seed",
        tol=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol=None: no ConvergenceWarning
        clf.fit(X_MOONS, Y_MOONS)
    assert clf.score(X_MOONS, Y_MOONS) == 0.94
    assert clf.n_iter_ == 10000 and len(clf.loss_curve_) == 10000


def test_fit_is_the_engine_transposed_once():
    clf = DescentClassifier(
        learning_rate=0.0007, optimizer_params=SEED_ADAM, epochs=40, init="seed", shuffle="seed"
    )
    clf.set_params(tol=None).fit(X_MOONS, Y_MOONS)
    ref = train(
        MLP((2, 5, 2, 1)),
        adam(0.0007, eps=0.0, eps_root=1e-8),
        MOONS.X,
        MOONS.y,
        epochs=40,
        init="seed",
        shuffle="seed",
        data_seed=10,
    )
    for k, v in ref.params.items():
        np.testing.assert_array_equal(clf.params_[k], v)
    for l in (1, 2, 3):
        np.testing.assert_array_equal(clf.coefs_[l - 1], ref.params[f"W{l}"].T)
        np.testing.assert_array_equal(clf.intercepts_[l - 1], ref.params[f"b{l}"][:, 0])
    np.testing.assert_array_equal(clf.loss_curve_, ref.history.cost)
    np.testing.assert_array_equal(clf.history_.cost, ref.history.cost)


# ------------------------------------------------------------------ scikit-learn tools
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_cross_val_score_iris_multiclass():
    pipe = make_pipeline(
        StandardScaler(),
        DescentClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0),
    )
    scores = cross_val_score(
        pipe, IRIS_X, IRIS_Y, cv=StratifiedKFold(5, shuffle=True, random_state=0)
    )
    assert scores.mean() >= 0.95
    clf = pipe.fit(IRIS_X, IRIS_Y)[-1]
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 3)]  # softmax over 3 units
    assert clf.score(IRIS_XS, IRIS_Y) >= 0.95


def test_grid_search_over_optimizer_and_learning_rate():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", DescentClassifier(epochs=50, random_state=0))]
    )
    grid = {"clf__optimizer": ["gd", "adam"], "clf__learning_rate": [1e-4, 1e-2]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_ == {"clf__optimizer": "adam", "clf__learning_rate": 1e-2}
    assert search.best_score_ >= 0.95
    scores = dict(
        zip(
            [(p["clf__optimizer"], p["clf__learning_rate"]) for p in search.cv_results_["params"]],
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    assert scores[("gd", 1e-4)] < 0.8 < scores[("gd", 1e-2)]  # plain GD needs the larger rate


# ------------------------------------------------------------------ randomness, partial_fit
def test_random_state_makes_fit_reproducible():
    def fit(seed):
        return DescentClassifier(learning_rate=0.01, epochs=30, tol=None, random_state=seed).fit(
            X_MOONS, Y_MOONS
        )

    a, b, c = fit(7), fit(7), fit(8)
    np.testing.assert_array_equal(a.predict_proba(X_MOONS), b.predict_proba(X_MOONS))
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    assert not np.array_equal(a.loss_curve_, c.loss_curve_)


@pytest.mark.parametrize("shuffle", [False, "seed"])
@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "adam"},
        {"optimizer": "momentum", "optimizer_params": {"beta": 0.8}},
        {"optimizer": "adam", "schedule": "exponential", "schedule_params": {"gamma": 0.5}},
    ],
)
def test_k_partial_fits_equal_fit_with_k_epochs(shuffle, settings):
    k = 5
    kw = dict(learning_rate=0.01, batch_size=32, shuffle=shuffle, random_state=3, **settings)
    full = DescentClassifier(epochs=k, tol=None, **kw).fit(X_MOONS, Y_MOONS)
    inc = DescentClassifier(**kw)
    for _ in range(k):
        inc.partial_fit(X_MOONS, Y_MOONS, classes=[0, 1])
    for key in full.params_:
        np.testing.assert_array_equal(inc.params_[key], full.params_[key])
    np.testing.assert_array_equal(inc.loss_curve_, full.loss_curve_)
    assert inc.n_iter_ == full.n_iter_ == k
    if "schedule" in settings:  # steps_per_epoch = ceil(300 / 32) = 10 filled in: halve per epoch
        np.testing.assert_allclose(full.history_.learning_rate, 0.01 * 0.5 ** np.arange(k))
        np.testing.assert_allclose(inc.history_.learning_rate, [0.01 * 0.5 ** (k - 1)])


def test_partial_fit_errors():
    clf = DescentClassifier(random_state=0)
    with pytest.raises(DataError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X_MOONS, Y_MOONS)
    clf.partial_fit(X_MOONS, Y_MOONS, classes=[0, 1])
    with pytest.raises(
        DataError, match=re.escape("y holds label(s) [2] outside the classes [0, 1]")
    ):
        clf.partial_fit(X_MOONS[:3], [0, 1, 2])
    with pytest.raises(InvalidParameterError, match="optimizer changed from 'adam' to 'gd'"):
        clf.set_params(optimizer="gd").partial_fit(X_MOONS, Y_MOONS)
    with pytest.raises(ValueError, match="X has 3 features, but DescentClassifier is expecting 2"):
        clf.set_params(optimizer="adam").partial_fit(np.ones((4, 3)), [0, 1, 0, 1])


# ------------------------------------------------------------------ labels and probabilities
def test_string_labels_round_trip_like_integer_labels():
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    kw = dict(hidden_layer_sizes=8, learning_rate=0.01, epochs=60, tol=None, random_state=1)
    by_index = DescentClassifier(**kw).fit(IRIS_XS, IRIS_Y)
    by_name = DescentClassifier(**kw).fit(IRIS_XS, names[IRIS_Y])
    assert by_name.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    pred = by_name.predict(IRIS_XS)
    assert pred.dtype == object and set(pred) <= set(names)
    np.testing.assert_array_equal(pred, names[by_index.predict(IRIS_XS)])
    assert by_name.score(IRIS_XS, names[IRIS_Y]) == by_index.score(IRIS_XS, IRIS_Y) >= 0.9


def test_binary_labels_of_any_type_use_one_sigmoid_unit():
    y = np.where(Y_MOONS == 1, "right", "left")
    clf = DescentClassifier(learning_rate=0.01, epochs=50, tol=None, random_state=0).fit(X_MOONS, y)
    assert clf.classes_.tolist() == ["left", "right"]
    assert clf.coefs_[-1].shape == (2, 1)
    assert clf.score(X_MOONS, y) >= 0.8


def test_predict_proba_is_the_forward_pass_on_rows_and_agrees_with_predict():
    clf = DescentClassifier(learning_rate=0.01, epochs=50, tol=None, random_state=0)
    clf.fit(X_MOONS, Y_MOONS)
    # The forward pass written with scikit-learn's row layout: A = relu(A @ coef + intercept).
    A = X_MOONS
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1], strict=True):
        A = np.maximum(A @ W + b, 0.0)
    p1 = 1.0 / (1.0 + np.exp(-(A @ clf.coefs_[-1] + clf.intercepts_[-1])))[:, 0]
    proba = clf.predict_proba(X_MOONS)
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba[:, 1], p1, rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(clf.predict(X_MOONS), (p1 > 0.5).astype(int))

    multi = DescentClassifier(
        hidden_layer_sizes=(8,), learning_rate=0.01, epochs=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        multi.fit(IRIS_XS, IRIS_Y)
    proba = multi.predict_proba(IRIS_XS)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(multi.predict(IRIS_XS), proba.argmax(axis=1))


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_MOONS, columns=["x1", "x2"])
    clf = DescentClassifier(epochs=5, tol=None, random_state=0).fit(df, Y_MOONS)
    assert clf.feature_names_in_.tolist() == ["x1", "x2"] and clf.n_features_in_ == 2
    plain = DescentClassifier(epochs=5, tol=None, random_state=0).fit(X_MOONS, Y_MOONS)
    assert not hasattr(plain, "feature_names_in_")
    np.testing.assert_array_equal(clf.predict_proba(df), plain.predict_proba(X_MOONS))


# ------------------------------------------------------------------ convergence rules
def test_convergence_warning_when_epochs_run_out():
    clf = DescentClassifier(epochs=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="ran all 3 epochs without converging"):
        clf.fit(X_MOONS, Y_MOONS)
    assert clf.n_iter_ == 3


def test_stops_after_n_iter_no_change_epochs_without_improvement_by_tol():
    # No epoch can lower the cost by more than tol=10: epoch 0 sets the best, epochs 1..3 fail.
    clf = DescentClassifier(epochs=50, tol=10.0, n_iter_no_change=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X_MOONS, Y_MOONS)
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    assert clf.validation_scores_ is None


def test_early_stopping_watches_validation_accuracy():
    clf = DescentClassifier(
        epochs=50, early_stopping=True, tol=1.0, n_iter_no_change=2, random_state=0
    )
    clf.fit(X_MOONS, Y_MOONS)
    assert clf.n_iter_ == 3 and len(clf.validation_scores_) == 3
    n_val = 30  # ceil(0.1 * 300) rows held out
    assert all(round(s * n_val) == pytest.approx(s * n_val) for s in clf.validation_scores_)


def test_divergence_raises_with_advice():
    X, y = load_breast_cancer(return_X_y=True)  # unscaled: features up to ~4000
    clf = DescentClassifier(optimizer="gd", learning_rate=1000.0, epochs=20, random_state=0)
    message = (
        "Training diverged at epoch 0: the cost became NaN, inf or too large. Try a smaller "
        "learning_rate (got 1000.0) or standardize X (e.g. with sklearn's StandardScaler)."
    )
    with pytest.raises(TrainingDivergedError, match=f"^{re.escape(message)}$"):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")  # nothing half-fitted is left behind


# ------------------------------------------------------------------ error messages
BAD_PARAMETERS = [
    (
        {"learning_rate": 0},
        "The 'learning_rate' parameter of DescentClassifier must be a float in the range (0.0, 10000.0]. Got 0 instead.",
    ),
    (
        {"learning_rate": -0.1},
        "The 'learning_rate' parameter of DescentClassifier must be a float in the range (0.0, 10000.0]. Got -0.1 instead.",
    ),
    (
        {"optimizer": "adabelief"},
        "The 'optimizer' parameter of DescentClassifier must be one of 'gd', 'momentum', 'sgd', "
        "'nesterov', 'rmsprop', 'adagrad', 'adam', 'adamw', 'nadam', 'nadamw', 'radam', "
        "'adamax', 'adadelta', 'rprop', 'lion', 'schedule_free_adamw', 'schedule_free_sgd'. "
        "Got 'adabelief' instead.",
    ),
    (
        {"batch_size": 0},
        "The 'batch_size' parameter of DescentClassifier must be an int in the range [1, 10000000]. Got 0 instead.",
    ),
    (
        {"epochs": 2.5},
        "The 'epochs' parameter of DescentClassifier must be an int in the range [1, 10000000]. Got 2.5 instead.",
    ),
    (
        {"hidden_layer_sizes": (5, 0)},
        "The 'hidden_layer_sizes' parameter of DescentClassifier must be a positive int or a "
        "sequence of positive ints (the hidden layers' sizes). Got (5, 0) instead.",
    ),
    (
        {"tol": -1e-4},
        "The 'tol' parameter of DescentClassifier must be None or a finite float >= 0. Got -0.0001 instead.",
    ),
    (
        {"shuffle": "yes"},
        "The 'shuffle' parameter of DescentClassifier must be one of True, False, 'seed'. Got 'yes' instead.",
    ),
    ({"optimizer_params": {"b9": 0.5}}, "Unknown hyperparameter 'b9' for optimizer 'adam'"),
    ({"optimizer_params": {"learning_rate": 0.5}}, "must not set 'learning_rate'"),
    (
        {"schedule": "linear"},
        "The 'schedule' parameter of DescentClassifier must be None, a callable or one of 'constant'",
    ),
    # hostile values: infinite, absurd, wrong-typed
    ({"learning_rate": float("inf")}, "'learning_rate' parameter of DescentClassifier must be"),
    ({"learning_rate": 1e308}, "must be a float in the range (0.0, 10000.0]. Got 1e+308"),
    ({"learning_rate": "0.1"}, "Got '0.1' (str) instead."),
    ({"tol": float("inf")}, "The 'tol' parameter of DescentClassifier must be None or a finite"),
    ({"random_state": 2**40}, "'random_state' parameter of DescentClassifier must be None, an int"),
    ({"hidden_layer_sizes": 10**12}, "at most 64 hidden layers of at most 65536 units"),
    ({"epochs": 10**21}, "'epochs' parameter of DescentClassifier must be an int in the range"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMETERS)
def test_bad_hyperparameters_are_reported_at_fit(params, message):
    clf = DescentClassifier(**params)  # __init__ and set_params only store
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        clf.fit(X_MOONS, Y_MOONS)


def test_wrong_number_of_features_at_predict():
    clf = DescentClassifier(epochs=2, tol=None, random_state=0).fit(X_MOONS, Y_MOONS)
    with pytest.raises(
        ValueError, match="X has 3 features, but DescentClassifier is expecting 2 features as input"
    ):
        clf.predict(np.ones((4, 3)))


def test_one_class_is_refused():
    with pytest.raises(
        DataError,
        match=re.escape("needs at least two classes to train; y has only one class ('a')"),
    ):
        DescentClassifier().fit(X_MOONS[:5], ["a"] * 5)


# ------------------------------------------------------------------ exact refusals (small fits)
X_SMALL, Y_SMALL = X_MOONS[:20], Y_MOONS[:20]


def _raised(call):
    with pytest.raises(ValueError) as exc:
        call()
    return type(exc.value), str(exc.value)


def test_partial_fit_refusals_name_what_changed_exactly():
    clf = DescentClassifier(hidden_layer_sizes=(3,), random_state=0)
    assert _raised(lambda: clf.partial_fit(X_SMALL, Y_SMALL)) == (
        DataError,
        "classes must be passed on the first call to partial_fit: all the labels y will ever "
        "hold, e.g. partial_fit(X, y, classes=np.unique(y_all)).",
    )
    clf.partial_fit(X_SMALL, Y_SMALL, classes=[1, 0])
    assert _raised(lambda: clf.partial_fit(X_SMALL, Y_SMALL, classes=[2, 1, 0])) == (
        DataError,
        "classes=[0, 1, 2] differs from the classes of the first partial_fit call, [0, 1]; "
        "call fit to start again.",
    )
    assert _raised(lambda: clf.partial_fit(X_SMALL[:3], [0, 2, 3])) == (
        DataError,
        "y holds label(s) [2, 3] outside the classes [0, 1] given to the first partial_fit call.",
    )
    clf.set_params(optimizer="gd")
    assert _raised(lambda: clf.partial_fit(X_SMALL, Y_SMALL)) == (
        InvalidParameterError,
        "The optimizer changed from 'adam' to 'gd' between partial_fit calls; its state cannot "
        "carry over. Call fit instead.",
    )
    clf.set_params(optimizer="adam").partial_fit(X_SMALL, Y_SMALL, classes=np.array([0, 1]))
    assert clf.n_iter_ == 2


def test_early_stopping_refuses_a_class_too_small_to_stratify():
    """The held-out rows are a stratified split: a class of one row cannot be split."""
    clf = DescentClassifier(early_stopping=True, random_state=0)
    kind, message = _raised(lambda: clf.fit(X_MOONS[:21], [0] * 20 + [1]))
    assert kind is DataError
    prefix = "early_stopping could not hold out a validation set with every class (validation_fraction=0.1: "
    suffix = "). Use more rows, a larger validation_fraction, or early_stopping=False."
    assert message.startswith(prefix) and message.endswith(suffix)
    assert len(message) > len(prefix) + len(suffix)  # scikit-learn's reason in between
    assert not hasattr(clf, "classes_")


def test_early_stopping_split_is_drawn_from_random_state():
    def fit(seed):
        kw = dict(hidden_layer_sizes=(3,), learning_rate=0.05, epochs=3, tol=None)
        return DescentClassifier(early_stopping=True, random_state=seed, **kw).fit(X_MOONS, Y_MOONS)

    a, b = fit(0), fit(0)
    for key in a.params_:
        np.testing.assert_array_equal(a.params_[key], b.params_[key])
    assert a.validation_scores_ == b.validation_scores_
    assert len(a.validation_scores_) == 3


def test_default_hyperparameters_are_the_documented_ones():
    assert DescentClassifier().get_params() == {
        "activation": "relu",
        "batch_size": 64,
        "early_stopping": False,
        "epochs": 200,
        "hidden_layer_sizes": (5, 2),
        "init": "he",
        "learning_rate": 0.001,
        "n_iter_no_change": 10,
        "optimizer": "adam",
        "optimizer_params": None,
        "random_state": None,
        "schedule": None,
        "schedule_params": None,
        "shuffle": True,
        "tol": 0.0001,
        "validation_fraction": 0.1,
        "verbose": False,
        "engine": "auto",
    }


LAYERS = "must be a positive int or a sequence of positive ints (the hidden layers' sizes)"
EXACT_REFUSALS = [
    (
        {"hidden_layer_sizes": True},
        f"The 'hidden_layer_sizes' parameter of DescentClassifier {LAYERS}. Got True instead.",
    ),
    (
        {"hidden_layer_sizes": (2.5,)},
        f"The 'hidden_layer_sizes' parameter of DescentClassifier {LAYERS}. Got (2.5,) instead.",
    ),
    (
        {"hidden_layer_sizes": (True,)},
        f"The 'hidden_layer_sizes' parameter of DescentClassifier {LAYERS}. Got (True,) instead.",
    ),
    (
        {"tol": "0.1"},
        "The 'tol' parameter of DescentClassifier must be None or a finite float >= 0. Got '0.1' instead.",
    ),
    (
        {"tol": True},
        "The 'tol' parameter of DescentClassifier must be None or a finite float >= 0. Got True instead.",
    ),
    (
        {"verbose": -1},
        "The 'verbose' parameter of DescentClassifier must be a bool or an int >= 0. Got -1 instead.",
    ),
    (
        {"learning_rate": [0.1, 0.2]},  # one estimator, one rate: no per-member arrays here
        "The 'learning_rate' parameter of DescentClassifier must be a float in the range (0.0, 10000.0]. "
        "Got [0.1, 0.2] (list) instead.",
    ),
    (
        {"random_state": "7"},
        "The 'random_state' parameter of DescentClassifier must be None, an int in [0, 2**32 - 1] or a "
        "numpy.random.RandomState. Got '7' instead.",
    ),
    (
        {"optimizer_params": {"learning_rate": 0.5}},
        "The 'optimizer_params' parameter of DescentClassifier must not set 'learning_rate'; use the "
        "'learning_rate' parameter instead.",
    ),
    (
        {"schedule": "linear"},
        "The 'schedule' parameter of DescentClassifier must be None, a callable or one of 'constant', "
        "'inverse_time', 'fixed_interval', 'exponential', 'step', 'cosine', 'piecewise', 'polynomial', "
        "'sgdr', 'one_cycle', 'wsd', 'reduce_on_plateau'. Got 'linear' instead.",
    ),
]


@pytest.mark.parametrize(("params", "message"), EXACT_REFUSALS)
def test_hyperparameter_refusals_are_exact(params, message):
    assert _raised(lambda: DescentClassifier(**params).fit(X_SMALL, Y_SMALL)) == (
        InvalidParameterError,
        message,
    )


@pytest.mark.parametrize(
    ("hidden", "shapes"),
    [(1, [(2, 1), (1, 1)]), ((1,), [(2, 1), (1, 1)]), (5, [(2, 5), (5, 1)]), ((), [(2, 1)])],
)
def test_hidden_layer_sizes_of_one_unit_or_a_bare_int_are_accepted(hidden, shapes):
    clf = DescentClassifier(
        hidden_layer_sizes=hidden, epochs=1, tol=None, verbose=0, random_state=0
    )
    clf.fit(X_SMALL, Y_SMALL)
    assert [c.shape for c in clf.coefs_] == shapes


def test_a_callable_schedule_is_the_learning_rate_of_every_step():
    clf = DescentClassifier(hidden_layer_sizes=(3,), batch_size=8, epochs=2, tol=None)
    clf.set_params(schedule=lambda step: 0.01 / (1 + step), random_state=0).fit(X_SMALL, Y_SMALL)
    # 3 steps per epoch (8 + 8 + 4 rows): the epochs start at steps 0 and 3
    assert clf.history_.learning_rate.tolist() == [0.01, 0.01 / 4]


# A warning points at the caller (stacklevel). Under mutation testing every function of the
# package is called through a wrapper that mutmut writes into the same module, one frame
# deeper, so the warning points at that module there.
WARNED_FROM = (
    str(Path(descentlab.estimator.__file__)) if "MUTANT_UNDER_TEST" in os.environ else __file__
)


def test_convergence_warnings_say_what_was_watched_and_point_at_the_caller():
    tail = (
        "had not yet gone n_iter_no_change=10 epochs in a row without improving by more than "
        "tol=0.0001. Raise epochs or learning_rate, or loosen tol (tol=None always runs all "
        "epochs, silently)."
    )
    for early_stopping, what in ((False, "mean training cost"), (True, "validation accuracy")):
        clf = DescentClassifier(
            hidden_layer_sizes=(3,),
            epochs=2,
            early_stopping=early_stopping,
            validation_fraction=0.5,
            random_state=0,
        )
        with pytest.warns(ConvergenceWarning) as record:
            clf.fit(X_SMALL, Y_SMALL)
        assert [str(w.message) for w in record] == [
            f"DescentClassifier ran all 2 epochs without converging: the {what} {tail}"
        ]
        assert record[0].filename == WARNED_FROM


def test_an_interrupted_fit_warns_and_keeps_the_epochs_done():
    def schedule(step):
        if step >= 2:  # Ctrl-C during the second epoch (2 steps per epoch)
            raise KeyboardInterrupt
        return 0.01

    clf = DescentClassifier(hidden_layer_sizes=(3,), batch_size=10, epochs=5, schedule=schedule)
    with pytest.warns(UserWarning) as record:
        clf.set_params(random_state=0).fit(X_SMALL, Y_SMALL)
    assert [(w.category, str(w.message)) for w in record] == [
        (
            UserWarning,
            "DescentClassifier: Interrupted after 1 of 5 epochs; the history so far is kept.",
        )
    ]
    assert record[0].filename == WARNED_FROM
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_draws_a_labelled_bar_on_a_terminal_and_silence_is_the_default(monkeypatch):
    for verbose in (False, True):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        DescentClassifier(hidden_layer_sizes=(3,), epochs=2, tol=None, verbose=verbose).fit(
            X_SMALL, Y_SMALL
        )
        monkeypatch.undo()
        drawn = terminal.getvalue()
        assert drawn.startswith("\rDescentClassifier:   0%") if verbose else drawn == ""


def test_evaluation_epochs_every_epoch_only_with_early_stopping():
    kw = dict(hidden_layer_sizes=(3,), epochs=4, tol=None, random_state=0)
    plain = DescentClassifier(**kw).fit(X_MOONS[:40], Y_MOONS[:40])
    assert plain.history_.eval_epochs.tolist() == [0, 3]  # the first and the last epoch
    watched = DescentClassifier(early_stopping=True, **kw).fit(X_MOONS[:40], Y_MOONS[:40])
    assert watched.history_.eval_epochs.tolist() == [0, 1, 2, 3]
    assert len(watched.validation_scores_) == 4


def test_early_stopping_monitors_validation_accuracy_not_the_cost():
    # tol=0: the cost keeps falling for all 60 epochs, the validation accuracy does not.
    clf = DescentClassifier(
        hidden_layer_sizes=(3,),
        learning_rate=0.01,
        epochs=60,
        tol=0.0,
        n_iter_no_change=3,
        early_stopping=True,
        random_state=0,
    )
    clf.fit(X_MOONS, Y_MOONS)
    assert clf.n_iter_ == 4
    assert clf.validation_scores_ == [8 / 30, 7 / 30, 7 / 30, 6 / 30]


def test_first_partial_fit_takes_the_classes_given_not_those_of_y():
    clf = DescentClassifier(hidden_layer_sizes=(3,), random_state=0)
    clf.partial_fit(X_SMALL, Y_SMALL, classes=[2, 0, 1])  # y holds only 0 and 1
    assert clf.classes_.tolist() == [0, 1, 2]
    assert [c.shape for c in clf.coefs_] == [(2, 3), (3, 3)]  # softmax over 3 units
    assert clf.predict_proba(X_SMALL).shape == (20, 3)


def test_one_class_refusal_is_exact():
    assert _raised(lambda: DescentClassifier().fit(X_SMALL[:5], ["a"] * 5)) == (
        DataError,
        "DescentClassifier needs at least two classes to train; y has only one class ('a'). "
        "Check the labels.",
    )


def test_numbers_written_as_strings_are_read_as_float64():
    kw = dict(hidden_layer_sizes=(3,), epochs=2, tol=None, random_state=0)
    as_text = DescentClassifier(**kw).fit(X_SMALL.astype(str), Y_SMALL)
    as_float = DescentClassifier(**kw).fit(X_SMALL, Y_SMALL)
    for key in as_float.params_:
        np.testing.assert_array_equal(as_text.params_[key], as_float.params_[key])
    proba = as_float.predict_proba(X_SMALL[:4].astype(str))
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba, as_float.predict_proba(X_SMALL[:4]))
    assert as_float.predict_proba(X_SMALL[:4].astype(object)).dtype == np.float64


def test_predict_proba_of_huge_rows_does_not_raise_on_overflow():
    clf = DescentClassifier(hidden_layer_sizes=(), epochs=2, tol=None, random_state=0)
    clf.fit(X_MOONS[:30], np.arange(30) % 3)
    with np.errstate(over="raise", invalid="ignore"):  # row 0 overflows in X @ W (then inf - inf)
        proba = clf.predict_proba([[1e308, -1e308], [-1e308, 1e308]])
    assert proba.shape == (2, 3)
    assert proba[1].tolist() == [1.0, 0.0, 0.0]


def test_the_hidden_activation_is_the_one_asked_for():
    clf = DescentClassifier(hidden_layer_sizes=(3,), activation="tanh", epochs=1, tol=None)
    clf.set_params(random_state=0).fit(X_SMALL, Y_SMALL)
    hidden = np.tanh(X_SMALL @ clf.coefs_[0] + clf.intercepts_[0])
    p1 = 1.0 / (1.0 + np.exp(-(hidden @ clf.coefs_[1] + clf.intercepts_[1])))[:, 0]
    np.testing.assert_allclose(clf.predict_proba(X_SMALL)[:, 1], p1, rtol=1e-12, atol=0)
