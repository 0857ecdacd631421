"""scikit-learn's callback API (``set_callbacks``, sklearn >= 1.9) on skmath's iterative estimators.

The task structure is compared with scikit-learn's own LogisticRegression;
the ``fitted_estimator`` a callback gets at iteration ``i`` with a fit
stopped after ``i`` iterations (``max_iter=i``).
"""

import warnings

import numpy as np
import scipy.linalg
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmath import (
    LogisticRegression,
    MCDropoutClassifier,
    MCDropoutRegressor,
    MLPClassifier,
    MLPRegressor,
)
from skmath._callbacks import _api_as_in_1_9

ITERATIVE = [LogisticRegression, MLPClassifier, MLPRegressor, MCDropoutClassifier,
             MCDropoutRegressor]


# Callbacks need scikit-learn >= 1.9, with 1.9's (experimental) API
# (tests/test_ecosystem.py checks that the estimators have set_callbacks
# exactly then).
pytestmark = pytest.mark.skipif(
    not _api_as_in_1_9(), reason="needs scikit-learn's callback API as in 1.9"
)


class Recorder:
    """Records every hook call: (hook, estimator class, task name, task id, fitted copy)."""

    def __init__(self, stop_after=None):
        self.record = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.record.append(("setup", type(estimator).__name__))

    def teardown(self, estimator, context):
        self.record.append(("teardown", type(estimator).__name__))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.record.append(
            ("begin", type(estimator).__name__, context.task_name, context.task_id,
             fitted_estimator)
        )

    def on_fit_task_end(self, estimator, context, *, metadata=None, fitted_estimator=None):
        self.record.append(
            ("end", type(estimator).__name__, context.task_name, context.task_id,
             fitted_estimator, metadata)
        )
        return (
            self.stop_after is not None
            and context.task_name != "fit"
            and context.task_id + 1 >= self.stop_after
        )

    def structure(self):
        return [entry[:4] for entry in self.record]

    def fitted(self, hook):
        """The fitted copies given to ``hook`` of the iteration tasks, by task id."""
        return [e[4] for e in self.record if e[0] == hook and len(e) > 4 and e[2] != "fit"]


class AutoRecorder(Recorder):
    """Propagated by meta-estimators to their sub-estimators (an AutoPropagatedCallback)."""

    max_propagation_depth = None


def _expected_structure(name, task_name, n_iter):
    """scikit-learn's LogisticRegression layout: the fit's task, one task per
    iteration (at least one), one more empty task at the end."""
    iterations = []
    for i in range(max(n_iter, 1) + 1):
        iterations += [("begin", name, task_name, i), ("end", name, task_name, i)]
    return [("setup", name), ("begin", name, "fit", 0), *iterations,
            ("end", name, "fit", 0), ("teardown", name)]


def _quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.mark.parametrize("max_iter", [0, 2, 1000])
def test_logistic_tasks_as_sklearns(max_iter):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y = make_classification(n_features=4, random_state=0)
    structures = []
    for Estimator in (LogisticRegression, SkLogisticRegression):
        recorder = Recorder()
        model = _quiet_fit(Estimator(max_iter=max_iter).set_callbacks(recorder), X, y)
        n_iter = int(model.n_iter_[0])
        assert recorder.structure() == _expected_structure(
            "LogisticRegression", "lbfgs-iter", n_iter
        )
        structures.append(recorder.structure())
    # Same iterations as sklearn's lbfgs on this problem: the same record.
    assert structures[0] == structures[1]


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(),
        LogisticRegression(solver="newton-cholesky", C=1e4),
        LogisticRegression(solver="newton-cg", C=1e4),
        LogisticRegression(solver="saga", l1_ratio=1.0, C=0.1),
        MLPClassifier(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=200, random_state=0),
    ],
    ids=["lbfgs", "newton-cholesky", "newton-cg", "saga-l1", "mlp-lbfgs"],
)
def test_a_callback_returning_true_stops_every_solver(estimator):
    # sklearn's contract: on_fit_task_end returning True stops the
    # iterations. The SciPy L-BFGS-B and Newton solvers ignored it (the
    # epoch loops honoured it). Now each stops at that task, without a
    # ConvergenceWarning, and the model is the fit stopped there.
    X, y = make_classification(200, 5, random_state=0)
    X = X * [1, 10, 100, 1, 0.1]  # badly scaled: more than 3 iterations
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = clone(estimator).set_callbacks(Recorder(stop_after=3)).fit(X, y)
    assert np.ravel(model.n_iter_)[0] == 3
    stopped = _quiet_fit(clone(estimator).set_params(max_iter=3), X, y)
    assert_allclose(model.predict_proba(X), stopped.predict_proba(X), rtol=1e-10, atol=1e-12)


def test_newton_fallback_steps_are_the_fit_stopped_there():
    # Collinear columns without penalty: newton-cholesky meets a singular
    # Hessian and hands the remaining iterations to L-BFGS-B. Every task's
    # fitted estimator, fallback steps included, is the fit stopped there, in
    # the symmetric parametrisation (coefficients summing to 0 over classes).
    X, y = make_classification(120, 6, n_informative=4, n_redundant=2, n_classes=3,
                               random_state=0)
    params = dict(solver="newton-cholesky", C=np.inf, tol=1e-8)
    recorder = Recorder()
    with pytest.warns(scipy.linalg.LinAlgWarning):
        model = _quiet_fit(LogisticRegression(**params).set_callbacks(recorder), X, y)
    ends = recorder.fitted("end")[:-1]
    assert len(ends) == model.n_iter_[0] > 3
    for i in (0, 1, 2, 3, len(ends) - 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            stopped = _quiet_fit(LogisticRegression(**params, max_iter=i + 1), X, y)
        assert_allclose(ends[i].coef_, stopped.coef_, rtol=1e-10, atol=1e-12)
        assert_allclose(ends[i].intercept_, stopped.intercept_, rtol=1e-10, atol=1e-12)
        assert_allclose(ends[i].coef_.sum(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        {"fit_intercept": True},
        {"fit_intercept": False},
        {"solver": "saga", "l1_ratio": 1.0, "C": 0.05},
        {"solver": "liblinear", "intercept_scaling": 10.0},
        {"solver": "newton-cholesky", "C": 1e6},
        {"solver": "newton-cg", "C": 1e6},
    ],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_fitted_estimator_is_the_fit_stopped_there(params, n_classes):
    if params.get("solver") == "liblinear" and n_classes == 3:
        pytest.skip("liblinear is binary only")
    X, y = make_classification(n_features=4, n_informative=4, n_redundant=0,
                               n_classes=n_classes, random_state=0)
    X = X * [1, 10, 100, 0.1]  # badly scaled: enough iterations to compare
    recorder = Recorder()
    model = _quiet_fit(LogisticRegression(**params).set_callbacks(recorder), X, y)
    n_iter = int(model.n_iter_[0])
    # liblinear's L2 problem runs Newton-CG, as liblinear's trust-region Newton.
    newton = params.get("solver", "").startswith(("newton", "liblinear"))
    task = "newton-iter" if newton else "lbfgs-iter"
    assert recorder.structure() == _expected_structure("LogisticRegression", task, n_iter)
    ends = recorder.fitted("end")
    assert len(ends) == n_iter + 1 and ends[-1] is None  # the empty last task
    assert n_iter >= 4  # several iterations to compare (Newton takes few)
    for i, fitted in enumerate(ends[:-1]):
        stopped = _quiet_fit(LogisticRegression(**params, max_iter=i + 1), X, y)
        assert_allclose(fitted.coef_, stopped.coef_, rtol=1e-10, atol=1e-12)
        assert_allclose(fitted.intercept_, stopped.intercept_, rtol=1e-10, atol=1e-12)
        assert fitted.coef_.dtype == stopped.coef_.dtype
        assert_array_equal(fitted.predict(X), stopped.predict(X))
        assert_array_equal(fitted.n_iter_, stopped.n_iter_)  # it had none
    # The begin of iteration i + 1 is the end of iteration i; the first, the start.
    begins = recorder.fitted("begin")
    assert_array_equal(begins[0].coef_, 0.0)
    for end, begin in zip(ends[:-1], begins[1:]):
        assert_array_equal(end.coef_, begin.coef_)
    # The fit's own task ends with (a copy of) the fitted estimator.
    assert_array_equal(recorder.record[-2][4].coef_, model.coef_)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor, MCDropoutClassifier,
                                       MCDropoutRegressor])
def test_perceptron_epoch_tasks_are_the_fit_stopped_there(Estimator, early_stopping):
    # With early stopping, a fit stopped at epoch i returns the best validated
    # epoch so far: so does the fitted_estimator of epoch i.
    if Estimator in (MLPRegressor, MCDropoutRegressor):
        X, y = make_regression(80, 5, noise=5.0, random_state=0)
        y = y / 50
    else:
        X, y = make_classification(80, 5, random_state=0)
    params = {"hidden_layer_sizes": (7,), "max_iter": 8, "random_state": 0,
              "early_stopping": early_stopping, "learning_rate_init": 0.05}
    recorder = Recorder()
    sample_weight = np.linspace(0.5, 1.5, len(y))
    kwargs = {} if Estimator.__name__.startswith("MC") else {"sample_weight": sample_weight}
    model = _quiet_fit(Estimator(**params).set_callbacks(recorder), X, y, **kwargs)
    name = Estimator.__name__
    assert recorder.structure() == _expected_structure(name, "epoch", model.n_iter_)
    ends = recorder.fitted("end")
    # An epoch's MCDropoutRegressor carries the noise of the network's training rows
    # (cv=None); the cross-fitted one (default cv) is set once the training is over.
    epoch_params = {"cv": None} if Estimator is MCDropoutRegressor else {}
    for i, fitted in enumerate(ends[:-1]):
        # CPU training is bit-for-bit reproducible: the same weights exactly.
        stopped = _quiet_fit(Estimator(**{**params, "max_iter": i + 1, **epoch_params}), X, y,
                             **kwargs)
        for ours, theirs in zip(fitted.coefs_ + fitted.intercepts_,
                                stopped.coefs_ + stopped.intercepts_):
            assert_array_equal(ours, theirs)
        assert_array_equal(fitted.predict(X), stopped.predict(X))
        if Estimator is MCDropoutRegressor:
            assert fitted.noise_std_ == stopped.noise_std_
        # Its training history too (it had none: n_iter_ 0, loss_curve_ []).
        for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_",
                     "validation_scores_", "best_validation_score_"):
            assert getattr(fitted, name) == getattr(stopped, name), name
    if Estimator is MCDropoutRegressor:  # the fit's own task ends with the fitted model
        assert recorder.record[-2][4].noise_std_ == model.noise_std_
        assert model.noise_std_ != fitted.noise_std_
    # Hooks get the data and the weights as passed to fit.
    metadata = recorder.record[-2][5]
    if kwargs:
        assert_array_equal(metadata["sample_weight"], sample_weight)
    else:
        assert metadata is None


def test_mlp_lbfgs_iteration_tasks():
    X, y = make_classification(80, 5, random_state=0)
    params = {"hidden_layer_sizes": (7,), "solver": "lbfgs", "max_iter": 5, "random_state": 0}
    recorder = Recorder()
    model = _quiet_fit(MLPClassifier(**params).set_callbacks(recorder), X, y)
    assert recorder.structure() == _expected_structure("MLPClassifier", "lbfgs-iter",
                                                       model.n_iter_)
    for i, fitted in enumerate(recorder.fitted("end")[:-1]):
        stopped = _quiet_fit(MLPClassifier(**{**params, "max_iter": i + 1}), X, y)
        for ours, theirs in zip(fitted.coefs_, stopped.coefs_):
            assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
        # Its n_iter_ and loss_ too (it had neither).
        assert fitted.n_iter_ == stopped.n_iter_ == i + 1
        assert_allclose(fitted.loss_, stopped.loss_, rtol=1e-12)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_callback_stops_training(early_stopping):
    X, y = make_classification(300, 5, random_state=0)
    params = {"hidden_layer_sizes": (7,), "max_iter": 50, "random_state": 0,
              "early_stopping": early_stopping, "n_iter_no_change": 100}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping is not a failure
        model = MLPClassifier(**params).set_callbacks(Recorder(stop_after=3)).fit(X, y)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    stopped = _quiet_fit(MLPClassifier(**{**params, "max_iter": 3}), X, y)
    assert_array_equal(model.coefs_[0], stopped.coefs_[0])
    if early_stopping:
        assert len(model.validation_scores_) == 3
        assert model.best_validation_score_ == max(stopped.validation_scores_)


def test_a_callback_stopping_mc_dropout_stops_its_cross_fitting_too():
    # The fit stopped at epoch 2 is the fit with max_iter=2, the cross-fitted
    # noise included: the folds' networks train 2 epochs too (they trained
    # max_iter=60 epochs after the stop: noise_std_ 64.9 against 76.1).
    X, y = make_regression(100, 3, noise=1.0, random_state=0)
    params = {"hidden_layer_sizes": (8,), "max_iter": 60, "random_state": 0}
    model = MCDropoutRegressor(**params).set_callbacks(Recorder(stop_after=2)).fit(X, y)
    stopped = _quiet_fit(MCDropoutRegressor(**{**params, "max_iter": 2}), X, y)
    assert model.n_iter_ == 2
    assert model.noise_std_ == stopped.noise_std_
    # A stop at the last epoch is a stop, not a ConvergenceWarning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MCDropoutRegressor(**{**params, "max_iter": 2}).set_callbacks(
            Recorder(stop_after=2)).fit(X, y)
    assert_array_equal(model.predict(X, return_std=True)[1],
                       stopped.predict(X, return_std=True)[1])


def test_scoring_monitor_logs_each_epochs_score():
    # sklearn's own callback: the score of each epoch's model, the last one the final model's.
    X, y = make_regression(120, 4, noise=1.0, random_state=0)
    y = y / 50
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="r2")
    model = _quiet_fit(MCDropoutRegressor(max_iter=4, random_state=0).set_callbacks(monitor),
                       X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3]
    assert epochs[-1]["r2"] == pytest.approx(model.score(X, y), rel=1e-12)
    assert [row["r2"] for row in rows if row["task_name"] == "fit"] == [epochs[-1]["r2"]]
    assert epochs[0]["r2"] < epochs[-1]["r2"]  # the fit improves the model


@pytest.mark.parametrize("estimator", [LogisticRegression(max_iter=3),
                                       MLPClassifier((5,), max_iter=3, random_state=0)])
def test_meta_estimators_propagate_to_skmath(estimator):
    X, y = make_classification(60, 4, random_state=0)
    recorder = AutoRecorder()
    pipe = make_pipeline(StandardScaler(), estimator).set_callbacks(recorder)
    with warnings.catch_warnings():
        # sklearn warns when a sub-estimator does not support callbacks.
        warnings.filterwarnings("error", message=".*does not support callbacks")
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
    name = type(estimator).__name__
    task = "lbfgs-iter" if name == "LogisticRegression" else "epoch"
    inner = [entry for entry in recorder.structure() if entry[1] == name and entry[2] == task]
    assert len(inner) == 2 * (3 + 1)
    # One task tree: set up and torn down once, by the pipeline.
    assert recorder.structure()[0] == ("setup", "Pipeline")
    assert recorder.structure()[-1] == ("teardown", "Pipeline")
    # Removed from the sub-estimator after the fit.
    assert not hasattr(pipe[-1], "_skl_callbacks") and not hasattr(pipe[-1], "_callback_fit_ctx")

    search = GridSearchCV(clone(estimator), {"tol": [1e-4, 1e-3]}, cv=2)
    recorder = AutoRecorder()
    _quiet_fit(search.set_callbacks(recorder), X, y)
    fits = [e for e in recorder.structure() if e[:3] == ("begin", name, "fit")]
    assert len(fits) == 2 * 2 + 1  # 2 candidates x 2 folds, then the refit


def test_callbacks_torn_down_after_a_failed_fit():
    rng = np.random.RandomState(0)
    X, y = 1e3 * rng.randn(100, 3), rng.randn(100)
    recorder = Recorder()
    model = MLPRegressor(solver="sgd", learning_rate_init=10.0, random_state=0)
    with pytest.raises(ValueError, match="diverged"):
        model.set_callbacks(recorder).fit(X, y)
    assert recorder.structure()[:3] == [("setup", "MLPRegressor"),
                                        ("begin", "MLPRegressor", "fit", 0),
                                        ("begin", "MLPRegressor", "epoch", 0)]
    assert recorder.structure()[-1] == ("teardown", "MLPRegressor")
    assert not hasattr(model, "_callback_fit_ctx") and not hasattr(model, "coefs_")


def test_callbacks_survive_clone_and_partial_fit_reports_its_epoch():
    # As sklearn's StandardScaler.partial_fit reports its fit: one "fit" task,
    # here with its one epoch.
    X, y = make_classification(60, 4, random_state=0)
    recorder = Recorder()
    model = clone(MLPClassifier((5,), max_iter=2).set_callbacks(recorder))
    model.partial_fit(X, y, classes=[0, 1])
    assert recorder.structure() == _expected_structure("MLPClassifier", "epoch", 1)
    assert_array_equal(recorder.fitted("end")[0].coefs_[0], model.coefs_[0])
    recorder.record.clear()
    _quiet_fit(model, X, y)
    assert recorder.structure() == _expected_structure("MLPClassifier", "epoch", 2)


@pytest.mark.parametrize("hook", ["on_fit_task_begin", "on_fit_task_end"])
def test_ctrl_c_in_a_hook_ends_every_task_once(hook):
    # The training loop catches Ctrl-C (as sklearn's): the tasks stay paired.
    class Interrupting(Recorder):
        def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
            super().on_fit_task_begin(estimator, context)
            if hook == "on_fit_task_begin" and context.task_name == "epoch" and \
                    context.task_id == 2:
                raise KeyboardInterrupt

        def on_fit_task_end(self, estimator, context, *, metadata=None, fitted_estimator=None):
            super().on_fit_task_end(estimator, context)
            if hook == "on_fit_task_end" and context.task_name == "epoch" and \
                    context.task_id == 1:
                raise KeyboardInterrupt

    X, y = make_classification(60, 4, random_state=0)
    recorder = Interrupting()
    with pytest.warns(UserWarning, match="interrupted"):
        model = MLPClassifier((5,), max_iter=6, random_state=0).set_callbacks(recorder).fit(X, y)
    begins = [e[2:4] for e in recorder.structure() if e[0] == "begin"]
    ends = [e[2:4] for e in recorder.structure() if e[0] == "end"]
    assert sorted(begins) == sorted(ends) and len(set(ends)) == len(ends)
    assert model.n_iter_ == 2


def test_no_callbacks_no_change():
    # The bookkeeping leaves the fit alone: the same model with and without a callback.
    X, y = make_classification(100, 5, random_state=0)
    for Estimator in ITERATIVE:
        plain = _quiet_fit(Estimator(max_iter=3, random_state=0), X, y)
        watched = _quiet_fit(Estimator(max_iter=3, random_state=0).set_callbacks(Recorder()),
                             X, y)
        assert_array_equal(plain.predict(X), watched.predict(X))
        first = plain.coef_ if hasattr(plain, "coef_") else plain.coefs_[0]
        assert_array_equal(first, watched.coef_ if hasattr(watched, "coef_")
                           else watched.coefs_[0])



@pytest.mark.parametrize("early_stopping", [False, True])
def test_flow_epoch_tasks_are_the_fit_stopped_there(early_stopping):
    # Under a constant learning rate (the cosine schedule depends on max_iter).
    from skmath import FlowMatchingSampler

    X, _ = make_regression(64, 2, random_state=0)
    params = {"hidden_layer_sizes": (16,), "max_iter": 6, "learning_rate": "constant",
              "n_steps": 4, "solver": "rk4", "random_state": 0,
              "early_stopping": early_stopping, "learning_rate_init": 0.05}
    recorder = Recorder()
    model = FlowMatchingSampler(**params).set_callbacks(recorder).fit(X)
    assert recorder.structure() == _expected_structure("FlowMatchingSampler", "epoch",
                                                       model.n_iter_)
    for i, fitted in enumerate(recorder.fitted("end")[:-1]):
        stopped = FlowMatchingSampler(**{**params, "max_iter": i + 1}).fit(X)
        assert_array_equal(fitted.score_samples(X), stopped.score_samples(X))
        for name in ("n_iter_", "loss_curve_", "validation_scores_", "best_validation_score_"):
            assert getattr(fitted, name) == getattr(stopped, name), name
    # Each epoch's copy is its own network, not the one still training.
    first, last = recorder.fitted("end")[0], recorder.fitted("end")[-2]
    assert not np.array_equal(first.score_samples(X), last.score_samples(X))
    # Stopped by a callback after two epochs.
    model = FlowMatchingSampler(**params).set_callbacks(Recorder(stop_after=2)).fit(X)
    assert model.n_iter_ == 2
    # A refit starts from no training, not the previous fit's history (the
    # first task's copy had its n_iter_ and loss_curve_).
    recorder = Recorder()
    model.set_callbacks(recorder).fit(X)
    start = recorder.fitted("begin")[0]
    assert start.n_iter_ == 0 and start.loss_curve_ == []
    assert start.validation_scores_ == ([] if early_stopping else None)


def test_a_failed_refit_keeps_the_previous_flow():
    # A hook raising mid-fit: the previous model stays whole, not mixed with the new data's scaling.
    from skmath import FlowMatchingSampler

    class Failing(Recorder):
        def on_fit_task_end(self, estimator, context, *, metadata=None, fitted_estimator=None):
            if context.task_name == "epoch" and context.task_id == 1:
                raise RuntimeError("hook failed")

    rng = np.random.RandomState(0)
    X1, X2 = rng.randn(64, 2), 100 * rng.randn(64, 2) + 50
    model = FlowMatchingSampler(hidden_layer_sizes=(8,), max_iter=4, n_steps=4, solver="rk4",
                                random_state=0).fit(X1)
    before = model.score_samples(X1)
    mean = model.mean_.copy()
    with pytest.raises(RuntimeError, match="hook failed"):
        model.set_callbacks(Failing()).fit(X2)
    assert_array_equal(model.mean_, mean)
    assert_array_equal(model.score_samples(X1), before)
    assert not hasattr(model, "_callback_fit_ctx")
