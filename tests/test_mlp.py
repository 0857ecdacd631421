"""MLPClassifier / MLPRegressor against scikit-learn and closed forms; the shared training loop."""

import inspect
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import expit, log_softmax, xlogy
from sklearn.datasets import (
    load_diabetes,
    load_digits,
    load_iris,
    make_classification,
    make_friedman1,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skmath import MLPClassifier, MLPRegressor
from skmath._engine import make_generator, torch_dtype, train
from skmath.neural_network._base import _backprop, _init_layers, _validation_score

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _forward_numpy(est, X):
    """Independent NumPy forward pass through the fitted coefs_/intercepts_ (ReLU)."""
    h = X
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        h = h @ W + b
        if i < len(est.coefs_) - 1:
            h = np.maximum(h, 0)
    return h


def _frozen(est_cls, **params):
    # SGD with a vanishing step: one full-batch epoch leaves the weights where
    # they are, so loss_ is the loss of the fitted coefs_.
    return est_cls(
        solver="sgd", learning_rate_init=1e-12, momentum=0.0, max_iter=1, alpha=0.3,
        random_state=0, device="cpu", **params,
    )


def _penalty(est, n):
    return 0.3 * sum(np.sum(W**2) for W in est.coefs_) / (2 * n)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multiclass_loss_is_sklearns_log_loss_plus_penalty():
    # loss_ = -mean log softmax(z)[y] + alpha ||W||^2 / (2n), recomputed in NumPy.
    X, y = load_iris(return_X_y=True)
    est = _frozen(MLPClassifier, hidden_layer_sizes=(7, 5)).fit(X, y)
    z = _forward_numpy(est, X)
    expected = -np.mean(log_softmax(z, axis=1)[np.arange(len(y)), y]) + _penalty(est, len(y))
    assert est.out_activation_ == "softmax" and est.n_outputs_ == 3
    np.testing.assert_allclose(est.loss_, expected, rtol=1e-10)
    np.testing.assert_allclose(est.predict_proba(X), np.exp(log_softmax(z, axis=1)), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multilabel_loss_sums_binary_log_losses():
    # Multi-label: one sigmoid per label, loss = sum over labels of the mean log-loss.
    X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    est = _frozen(MLPClassifier, hidden_layer_sizes=(6,)).fit(X, Y)
    p = expit(_forward_numpy(est, X))
    expected = -np.mean(xlogy(Y, p) + xlogy(1 - Y, 1 - p), axis=0).sum() + _penalty(est, 60)
    assert est.out_activation_ == "logistic"
    np.testing.assert_allclose(est.loss_, expected, rtol=1e-10)
    np.testing.assert_array_equal(est.predict(X), (p > 0.5).astype(int))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_log_losses_clip_probabilities_as_sklearn(n_outputs, dtype):
    # sklearn clips probabilities to [eps, 1 - eps] in its log-losses: a
    # confidently wrong sample adds -log(eps) (36 nats in float64, 16 in
    # float32), not its full log-loss. Compared with sklearn's loss functions
    # on saturated logits (softmax with 3 classes, logistic with 1 output).
    from sklearn.neural_network._base import binary_log_loss, log_loss

    from skmath.neural_network._base import _output_delta

    rng = np.random.RandomState(0)
    z = (rng.randn(50, n_outputs) * np.array([[0.1], [100.0]]).repeat(25, 0)).astype(dtype)
    if n_outputs == 1:
        y, out, sk_loss = rng.randint(2, size=(50, 1)), "logistic", binary_log_loss
        prob, target = expit(z), torch.tensor(y, dtype=torch_dtype(dtype))
        unclipped = np.mean(np.logaddexp(0, z) - y * z)
    else:
        y, out, sk_loss = rng.randint(3, size=50), "softmax", log_loss
        prob, target = np.exp(log_softmax(z, axis=1)), torch.tensor(y)
        unclipped = -np.mean(log_softmax(z.astype(np.float64), axis=1)[np.arange(50), y])
    expected = sk_loss(np.eye(3)[y] if n_outputs == 3 else y, prob.astype(dtype))
    loss, _ = _output_delta(torch.tensor(z), target, out)
    assert unclipped > 1.5 * expected  # the clipping matters here
    # float32: sklearn's 1 - p of a nearly saturated float32 p cancels (1e-3).
    np.testing.assert_allclose(float(loss), expected, rtol=5e-3 if dtype == np.float32 else 1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_saturated_training_reports_sklearns_losses_and_stops_with_it():
    # Unscaled inputs saturate the probabilities. From sklearn's own initial
    # weights and in sklearn's minibatch order, the loss curve (read by the
    # tol rule) and the stopping epoch are sklearn's: unclipped losses gave
    # 44.3, 209.9, ... against 13.6, 14.8, ... and stopped at epoch 12, not 37.
    X, y = make_classification(n_samples=400, n_features=20, n_informative=5, flip_y=0.1,
                               random_state=0)
    X = 20 * X
    params = dict(solver="sgd", hidden_layer_sizes=(30,), shuffle=False, random_state=0,
                  warm_start=True)
    ref, est = SkMLPClassifier(**params), MLPClassifier(**params, device="cpu")
    for model in (ref, est):
        model.set_params(max_iter=1, learning_rate_init=1e-300).fit(X, y)
    start = [W.copy() for W in ref.coefs_], [b.copy() for b in ref.intercepts_]
    for model in (ref, est):
        model.coefs_ = [W.copy() for W in start[0]]
        model.intercepts_ = [b.copy() for b in start[1]]
        model.loss_curve_, model.best_loss_, model._no_improvement_count, model.t_ = (
            [], np.inf, 0, 0)
        model.set_params(max_iter=300, learning_rate_init=0.1).fit(X, y)
    assert est.n_iter_ == ref.n_iter_ == 37
    # rtol 1e-4: sklearn's log(1 - p) of a nearly saturated p cancels (1e-3
    # relative at z = 30), where the loss from the logits does not.
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-4)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regression_losses_are_sklearns(loss):
    # Half squared error (mean over outputs) and half Poisson deviance (sum over outputs).
    rng = np.random.RandomState(0)
    X = rng.randn(50, 4)
    Y = rng.poisson(2.0, size=(50, 2)).astype(float)
    est = _frozen(MLPRegressor, loss=loss, hidden_layer_sizes=(5,)).fit(X, Y)
    z = _forward_numpy(est, X)
    if loss == "squared_error":
        data = 0.5 * np.mean((Y - z) ** 2)
        np.testing.assert_allclose(est.predict(X), z, rtol=1e-10)
    else:
        mu = np.exp(z)
        data = np.mean(xlogy(Y, Y / mu) - Y + mu, axis=0).sum()
        np.testing.assert_allclose(est.predict(X), mu, rtol=1e-10)
    np.testing.assert_allclose(est.loss_, data + _penalty(est, 50), rtol=1e-10)


def _autograd_loss(X, y, weights, intercepts, activation, out_activation, alpha, w, masks):
    # The same network and loss written with torch functions, for autograd.
    act = {"identity": lambda a: a, "logistic": torch.sigmoid, "tanh": torch.tanh,
           "relu": torch.relu}[activation]
    h = X
    for i, (W, b) in enumerate(zip(weights, intercepts)):
        h = h @ W.T + b
        if i < len(weights) - 1:
            h = act(h) * masks[i]
    if out_activation == "softmax":
        per_sample = torch.nn.functional.cross_entropy(h, y, reduction="none")
    elif out_activation == "logistic":
        per_sample = -(y * torch.nn.functional.logsigmoid(h)
                       + (1 - y) * torch.nn.functional.logsigmoid(-h)).sum(1)
    elif out_activation == "identity":
        per_sample = 0.5 * ((h - y) ** 2).mean(1)
    else:
        per_sample = (torch.xlogy(y, y) - y * h - y + torch.exp(h)).sum(1)
    n = w.sum()
    return (per_sample * w).sum() / n + 0.5 * alpha * sum((W**2).sum() for W in weights) / n


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("out_activation", ["softmax", "logistic", "identity", "exp"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_backprop_equals_autograd(activation, out_activation, weighted, dropout):
    # The hand-written chain rule gives autograd's loss and gradients (float64),
    # with dropout masks drawn from the same generator stream.
    rng = np.random.RandomState(0)
    n, sizes = 13, [4, 6, 5, 3]
    X = torch.from_numpy(rng.randn(n, sizes[0]))
    weights = [torch.from_numpy(rng.randn(o, i) / 2) for i, o in zip(sizes, sizes[1:])]
    intercepts = [torch.from_numpy(rng.randn(o) / 2) for o in sizes[1:]]
    if out_activation == "softmax":
        y = torch.from_numpy(rng.randint(3, size=n))
    elif out_activation == "identity":
        y = torch.from_numpy(rng.randn(n, 3))
    else:
        y = torch.from_numpy(rng.randint(2, size=(n, 3)).astype(float) * (1 + rng.rand(n, 3)))
        y = y.clamp(max=1) if out_activation == "logistic" else y
    w = torch.from_numpy(rng.rand(n) * 2) if weighted else None

    loss, weight_grads, intercept_grads = _backprop(
        X, y, weights, intercepts, activation, out_activation, alpha=0.7,
        sample_weight=w, dropout=dropout, generator=torch.Generator().manual_seed(5),
    )

    generator, masks, h = torch.Generator().manual_seed(5), [], X
    for W, b in zip(weights[:-1], intercepts[:-1]):  # the same draws, in the same order
        h = h @ W.T + b
        keep = 1 - dropout
        masks.append(torch.empty_like(h).bernoulli_(keep, generator=generator) / keep
                     if dropout else torch.ones_like(h))
    params = [p.clone().requires_grad_(True) for p in weights + intercepts]
    expected = _autograd_loss(
        X, y, params[:3], params[3:], activation, out_activation, 0.7,
        torch.ones(n, dtype=X.dtype) if w is None else w, masks,
    )
    expected.backward()
    np.testing.assert_allclose(float(loss), float(expected.detach()), rtol=1e-12)
    for got, p in zip(weight_grads + intercept_grads, params):
        np.testing.assert_allclose(got.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "sizes, error",
    [((3.5,), TypeError), ((8, 2.0), TypeError), ((True,), TypeError), ((4, 0), ValueError),
     ([-1], ValueError)],
)
def test_hidden_layer_sizes_must_be_positive_integers_as_in_sklearn(sizes, error):
    # A fractional, boolean or non-positive layer size is an error in sklearn
    # (TypeError where a float cannot size an array, ValueError for sizes <= 0),
    # never a silently truncated layer.
    X, y = load_iris(return_X_y=True)
    with pytest.raises(error):
        SkMLPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(X, y)
    with pytest.raises(error, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=sizes, max_iter=1, device="cpu").fit(X, y)


def test_glorot_init_bounds_follow_sklearn():
    # Initial weights are U(-b, b) with b = sqrt(6 / (fan_in + fan_out)) (2 for logistic).
    X, y = load_iris(return_X_y=True)
    for activation, factor in [("relu", 6.0), ("logistic", 2.0)]:
        est = MLPClassifier(
            hidden_layer_sizes=(200,), activation=activation, solver="sgd",
            learning_rate_init=1e-12, max_iter=1, random_state=0, device="cpu",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        bound = np.sqrt(factor / (4 + 200))
        W = est.coefs_[0]
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.98 * bound
        assert abs(W.std() - bound / np.sqrt(3)) < 0.05 * bound  # std of U(-b, b)


def test_digits_cross_validated_accuracy_matches_sklearn():
    # Same hyperparameters, 5-fold CV on digits: accuracy no worse than sklearn's - 0.01.
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(hidden_layer_sizes=(32,), max_iter=40, random_state=0)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = cross_val_score(MLPClassifier(device="cpu", **params), X, y, cv=cv).mean()
        theirs = cross_val_score(SkMLPClassifier(**params), X, y, cv=cv).mean()
    assert ours >= theirs - 0.01, (ours, theirs)
    assert ours > 0.92


def test_regressor_r2_matches_sklearn_and_multioutput():
    # Friedman #1 with two targets: R^2 of each output close to sklearn's MLPRegressor.
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    Y = np.column_stack([y, -2 * y + X[:, 0]])
    Y = StandardScaler().fit_transform(Y)
    params = dict(hidden_layer_sizes=(64,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(device="cpu", **params).fit(X[:400], Y[:400])
        theirs = SkMLPRegressor(**params).fit(X[:400], Y[:400])
    assert ours.predict(X[400:]).shape == (200, 2)
    assert ours.score(X[400:], Y[400:]) >= theirs.score(X[400:], Y[400:]) - 0.02
    assert ours.score(X[400:], Y[400:]) > 0.7


@pytest.mark.parametrize("max_iter", [20, 300])
def test_lbfgs_reaches_sklearns_loss(max_iter, monkeypatch):
    # Full-batch L-BFGS-B from the same initial weights: sklearn's iterates
    # (the same scipy optimizer on the same loss and gradient, to rounding),
    # mid-way and at convergence (56 iterations). From different random
    # draws the two fits end at different local minima, 0.025 to 0.040 here.
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=max_iter, random_state=0)
    ours, theirs = _fit_both_classifiers(params, X, y, monkeypatch)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-7)
    assert ours.n_iter_ == theirs.n_iter_
    if max_iter == 300:
        assert ours.n_iter_ < 300  # converged
        assert ours.score(X, y) >= 0.97
    assert not hasattr(ours, "partial_fit")


def test_same_random_state_is_bit_identical_on_cpu():
    # Two fits with one int random_state give identical weights and predictions.
    X, y = load_iris(return_X_y=True)
    def make(rs):
        return MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=rs, device="cpu")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b, c = make(3).fit(X, y), make(3).fit(X, y), make(4).fit(X, y)
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_float32_fits_through_onednn_are_bit_identical_and_match_the_blas(linear_route):
    # Widths >= 16 in float32 take oneDNN's products where it is used: two
    # fits are still bit-identical, and the run equals the MKL one up to
    # float32 rounding (switching oneDNN off gives that run).
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)

    def fit():
        est = MLPClassifier(hidden_layer_sizes=(256, 256), batch_size=128, max_iter=5,
                            random_state=0, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return est.fit(X, y)

    a, b = fit(), fit()
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    with torch.backends.mkldnn.flags(enabled=False):
        blas = fit()
        blas_proba = blas.predict_proba(X)
    np.testing.assert_allclose(a.loss_curve_, blas.loss_curve_, rtol=1e-4)
    for Wa, Wb in zip(a.coefs_, blas.coefs_):
        np.testing.assert_allclose(Wa, Wb, atol=1e-4)
    np.testing.assert_allclose(a.predict_proba(X), blas_proba, atol=1e-4)


def test_float32_and_float64_fits_start_from_the_same_weights():
    # As sklearn's (its dtype-casting tests): the same random_state gives the
    # same initial weights and minibatch order in either dtype, so a float32
    # fit is the float64 fit up to rounding. Drawn in each dtype they were
    # unrelated (coefs 1.26 apart; digits accuracy 0.867 against 0.533).
    X, y = load_digits(return_X_y=True)
    params = dict(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, device="cpu")
    first = [MLPClassifier(**params, max_iter=1, learning_rate_init=1e-12).fit(X.astype(d), y)
             for d in (np.float64, np.float32)]
    for W64, W32 in zip(first[0].coefs_, first[1].coefs_):
        np.testing.assert_allclose(W32, W64, rtol=1e-6, atol=1e-7)
    # sklearn's test_mlp_classifier_dtypes_casting, verbatim in substance.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [MLPClassifier(**params, max_iter=100, tol=1e-1).fit(X[:300].astype(d), y[:300])
                for d in (np.float64, np.float32)]
    X_test = X[300:]
    np.testing.assert_array_equal(fits[0].predict(X_test), fits[1].predict(X_test))
    np.testing.assert_allclose(fits[0].predict_proba(X_test),
                               fits[1].predict_proba(X_test.astype(np.float32)), rtol=1e-2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_input_like_sklearn(dtype):
    # float32 input is fitted in float32, float64 in float64 (sklearn's rule).
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0, device="cpu")
        est.fit(X.astype(dtype), y)
        ref = SkMLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
        ref.fit(X.astype(dtype), y)
    assert all(W.dtype == dtype for W in est.coefs_ + est.intercepts_)
    # Predictions take the wider dtype of X and the model, as sklearn's.
    for X_dtype in (np.float32, np.float64):
        ours = est.predict_proba(X.astype(X_dtype))
        assert ours.dtype == ref.predict_proba(X.astype(X_dtype)).dtype
        assert ours.dtype == np.result_type(dtype, X_dtype)


def test_partial_fit_needs_classes_and_keeps_optimizer_state_through_pickle():
    # classes on the first call; Adam's moments survive pickling between calls.
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, device="cpu")
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    est.partial_fit(X[::2], y[::2], classes=[0, 1, 2])
    assert est.n_iter_ == 1 and est.t_ == 75 and len(est.loss_curve_) == 1
    restored = pickle.loads(pickle.dumps(est))
    est.partial_fit(X[1::2], y[1::2])
    restored.partial_fit(X[1::2], y[1::2])
    for Wa, Wb in zip(est.coefs_, restored.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    assert len(est.loss_curve_) == 2
    # A fresh optimizer (warm_start fit) takes a different step from the same weights.
    warm = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, device="cpu")
    warm.partial_fit(X[::2], y[::2], classes=[0, 1, 2])
    warm.set_params(warm_start=True, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X[1::2], y[1::2])
    assert not np.array_equal(warm.coefs_[0], est.coefs_[0])


def test_partial_fit_goes_on_with_its_optimizer_after_a_solver_change():
    # As sklearn, whose partial_fit keeps its _optimizer object: after
    # set_params(solver=...) the next partial_fit continues the first
    # solver's updates (the saved SGD state does not fit Adam's update; this
    # raised KeyError('step')).
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(8,), random_state=0, device="cpu")
    for first, second in (("sgd", "adam"), ("adam", "sgd")):
        switched = MLPClassifier(solver=first, **kw).partial_fit(X, y, classes=[0, 1, 2])
        kept = MLPClassifier(solver=first, **kw).partial_fit(X, y, classes=[0, 1, 2])
        switched.set_params(solver=second).partial_fit(X, y)
        kept.partial_fit(X, y)
        for a, b in zip(switched.coefs_, kept.coefs_):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("start, change", [
    (dict(learning_rate="invscaling"), dict(learning_rate_init=0.5)),
    (dict(learning_rate="invscaling"), dict(power_t=0.9)),
    (dict(learning_rate="invscaling"), dict(learning_rate="constant")),
    (dict(learning_rate="constant"), dict(learning_rate="adaptive", learning_rate_init=0.1)),
    (dict(learning_rate="adaptive"), dict(learning_rate="invscaling")),
])
def test_partial_fit_keeps_its_learning_rate_schedule_after_set_params(start, change):
    # sklearn's partial_fit keeps its _optimizer object, with the schedule,
    # initial rate and power_t it was made with (the weights after
    # set_params are those without, exactly). The schedule was read from
    # the parameters each epoch: a new learning_rate_init moved the weights
    # by 0.39 under "invscaling", none under "constant".
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = X[:, 0] - X[:, 1]
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", batch_size=10, learning_rate_init=0.05,
              shuffle=False, random_state=0, device="cpu", **start)
    switched = MLPRegressor(**kw).partial_fit(X, y)
    kept = MLPRegressor(**kw).partial_fit(X, y)
    switched.set_params(**change)
    for _ in range(3):
        switched.partial_fit(X, y)
        kept.partial_fit(X, y)
    for a, b in zip(switched.coefs_ + switched.intercepts_, kept.coefs_ + kept.intercepts_):
        np.testing.assert_array_equal(a, b)
    # A new fit takes the new settings.
    assert not np.array_equal(switched.fit(X, y).coefs_[0], kept.fit(X, y).coefs_[0])


def test_non_finite_weights_raise_and_leave_the_estimator_unchanged():
    # The loss is checked before each update; an update that overflows at
    # the very end must still fail the fit, as sklearn's "Solver produced
    # non-finite parameter weights" does, not return NaN predictions.
    from skmath._engine import DivergenceError

    X, y = load_diabetes(return_X_y=True)
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e308, momentum=0,
              max_iter=1, batch_size=1000, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite"):
            SkMLPRegressor(**{k: v for k, v in kw.items() if k != "device"}).fit(X * 100, y)
        est = MLPRegressor(**kw)
        with pytest.raises(DivergenceError, match="non-finite parameter weights"):
            est.fit(X * 100, y)
    assert not hasattr(est, "coefs_")


def test_a_failed_first_partial_fit_leaves_no_classes():
    # A call that raises leaves the estimator as it was: no classes_ from a
    # failed first partial_fit, so predict says "not fitted" and a retry may
    # name other classes.
    from sklearn.exceptions import NotFittedError

    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, device="cpu")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(bad, y, classes=[0, 1, 2, 3])
    assert not hasattr(est, "classes_")
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])


def test_partial_fit_learns_over_epochs():
    # Repeated partial_fit calls reduce the loss and reach a good accuracy.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = MLPClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0, device="cpu"
    )
    for _ in range(100):
        est.partial_fit(X, y, classes=np.unique(y))
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]
    assert est.score(X, y) > 0.9


def test_warm_start_continues_from_the_previous_weights():
    # A second fit with warm_start starts from the first fit's solution.
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        first = est.loss_curve_[-1]
        est.set_params(warm_start=True).fit(X, y)
    assert len(est.loss_curve_) == 20 and est.n_iter_ == 10
    assert est.loss_curve_[10] < est.loss_curve_[0] and abs(est.loss_curve_[10] - first) < 0.2


def test_warm_start_carries_the_plateau_count_like_sklearn():
    # sklearn's _no_improvement_count survives a warm_start refit: after a
    # fit stopped on a plateau, the next fit stops after one epoch.
    X, y = load_iris(return_X_y=True)
    kw = dict(solver="sgd", learning_rate_init=0.01, n_iter_no_change=2, tol=10.0,
              max_iter=10, warm_start=True, random_state=0)
    ours, ref = MLPClassifier(device="cpu", **kw), SkMLPClassifier(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        n_iter = [(ours.fit(X, y).n_iter_, ref.fit(X, y).n_iter_) for _ in range(3)]
    assert n_iter == [(4, 4), (1, 1), (1, 1)]
    assert len(ours.loss_curve_) == len(ref.loss_curve_) == 6


def test_sgd_invscaling_schedule():
    # learning_rate="invscaling" sets lr = lr_init / (t + 1) ** power_t after each epoch.
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(
        solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, power_t=0.25,
        random_state=0, device="cpu",
    )
    est.partial_fit(X, y, classes=[0, 1, 2])
    lr = est._optimizer_state["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.1 / (150 + 1) ** 0.25)


def test_adaptive_schedule_keeps_training_after_a_plateau():
    # learning_rate="adaptive" divides lr by 5 on a plateau instead of stopping.
    X, y = load_iris(return_X_y=True)
    kw = dict(solver="sgd", learning_rate_init=0.01, n_iter_no_change=2, tol=10.0, max_iter=40,
              random_state=0, device="cpu")
    constant = MLPClassifier(learning_rate="constant", **kw).fit(X, y)
    adaptive = MLPClassifier(learning_rate="adaptive", **kw).fit(X, y)
    # Only the first epoch improves by tol; the plateau rule fires after 3 more.
    assert constant.n_iter_ == 4
    # Plateaus every 3 epochs after that; 0.01 / 5^k > 1e-6 for k <= 5, so six
    # reductions, and the seventh plateau (epoch 4 + 6 * 3) stops.
    assert adaptive.n_iter_ == 22


@pytest.mark.parametrize("cls, sk_cls", [(MLPRegressor, SkMLPRegressor),
                                         (MLPClassifier, SkMLPClassifier)])
def test_adaptive_schedule_counts_plateaus_across_partial_fit_calls(cls, sk_cls):
    # As sklearn's _no_improvement_count: partial_fit calls without a tol
    # improvement accumulate, and learning_rate="adaptive" divides lr by 5
    # once more than n_iter_no_change of them in a row did not improve.
    X, y = load_iris(return_X_y=True)
    kw = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.01, tol=10.0,
              n_iter_no_change=2, hidden_layer_sizes=(8,), random_state=0)
    ours, ref = cls(device="cpu", **kw), sk_cls(**kw)
    extra = {"classes": [0, 1, 2]} if cls is MLPClassifier else {}
    lrs, ref_lrs = [], []
    for _ in range(8):
        ours.partial_fit(X, y, **extra)
        ref.partial_fit(X, y, **extra)
        lrs.append(ours._optimizer_state["param_groups"][0]["lr"])
        ref_lrs.append(ref._optimizer.learning_rate)
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    assert ref_lrs[-1] == pytest.approx(0.01 / 25)


def test_early_stopping_attributes_follow_sklearn():
    # early_stopping: validation_scores_ per epoch, best_loss_ None, n_iter_no_change rule.
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier(
        hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=200,
        random_state=0, device="cpu",
    ).fit(X / 16, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ < 200
    assert est.best_loss_ is None and est.best_validation_score_ == max(scores)
    improved = [s > max(scores[:i], default=-1) + est.tol for i, s in enumerate(scores)]
    last_improvement = max(i for i, imp in enumerate(improved) if imp)
    assert est.n_iter_ == last_improvement + 1 + est.n_iter_no_change + 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_keeps_the_weights_of_the_best_epoch():
    # The fitted coefs_ are those of the best validation epoch: a run stopped
    # right after that epoch (same seed, so the same first epochs) ends there.
    X, y = load_digits(return_X_y=True)
    params = {"hidden_layer_sizes": (32,), "early_stopping": True, "n_iter_no_change": 3,
              "random_state": 0, "device": "cpu"}
    full = MLPClassifier(max_iter=200, **params).fit(X / 16, y)
    best_epoch = int(np.argmax(full.validation_scores_)) + 1
    assert best_epoch < full.n_iter_
    cut = MLPClassifier(max_iter=best_epoch, **params).fit(X / 16, y)
    for a, b in zip(full.coefs_ + full.intercepts_, cut.coefs_ + cut.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cls", [MLPClassifier, SkMLPClassifier], ids=["skmath", "sklearn"])
def test_validation_scores_of_a_float32_model_are_float64_like_sklearn(cls):
    # sklearn scores the held-out split with accuracy_score, in float64 also
    # for a float32 model: with 25 validation rows every score is exactly
    # k / 25 (float32 arithmetic gave 0.3199999928474426 for 0.32).
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X[:100]).astype(np.float32)
    params = {"device": "cpu"} if cls is MLPClassifier else {}
    est = cls(hidden_layer_sizes=(3,), early_stopping=True, validation_fraction=0.25,
              max_iter=5, random_state=0, **params).fit(X, y[:100])
    assert est.coefs_[0].dtype == np.float32
    scores = est.validation_scores_ + [est.best_validation_score_]
    assert all(s == round(s * 25) / 25 for s in scores)
    assert any(0 < s < 1 for s in scores)


def test_validation_r2_of_a_float32_model_is_sklearns_float64_r2_score():
    # The regressors' early-stopping score is sklearn's r2_score of the
    # float32 predictions, computed in float64 (multi-output: uniform average).
    rng = check_random_state(0)
    y = rng.normal(size=(50, 2)).astype(np.float32)
    z = (y + rng.normal(size=(50, 2))).astype(np.float32)
    w = rng.uniform(size=50).astype(np.float32)
    for weights in (None, w):
        score = _validation_score(
            torch.from_numpy(z), torch.from_numpy(y), "identity",
            None if weights is None else torch.from_numpy(weights),
        )
        expected = r2_score(y.astype(np.float64), z.astype(np.float64), sample_weight=weights)
        assert score == pytest.approx(expected, rel=1e-13)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_from_lbfgs_continues_with_a_stochastic_solver(early_stopping):
    # "lbfgs" keeps no loss curve; a warm start with "adam" from its solution
    # starts one (sklearn raises AttributeError: no attribute 'loss_curve_'),
    # with the attributes a fresh "adam" fit of that early_stopping has.
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=50, warm_start=True,
                        random_state=0, device="cpu").fit(X, y)
    lbfgs_loss = est.loss_
    est.set_params(solver="adam", max_iter=5, early_stopping=early_stopping).fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 5
    # It went on from the L-BFGS solution (a fresh start's first loss is ~1.3).
    assert est.loss_curve_[0] < 2 * lbfgs_loss < 0.1
    if early_stopping:
        assert est.best_loss_ is None and len(est.validation_scores_) == 5
        assert est.best_validation_score_ == max(est.validation_scores_)
    else:
        assert est.best_loss_ == min(est.loss_curve_)
        assert est.validation_scores_ is None and est.best_validation_score_ is None
    # Back to a run without early stopping: no stale validation scores, as sklearn's
    # fresh fit sets them (sklearn itself fails on this switch).
    est.set_params(early_stopping=False).fit(X, y)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.best_loss_ == min(est.loss_curve_[-est.n_iter_:])


def test_training_loop_restores_the_weights_of_the_best_epoch():
    # The engine's loop keeps the weights of the best validation epoch, not the last.
    model = torch.nn.Linear(2, 1)
    X, y = torch.randn(64, 2, generator=make_generator(0, "cpu")), torch.zeros(64, 1)
    scripted = iter([0.1, 0.5, 0.3, 0.2, 0.4, 0.1, 0.0])
    snapshots, returned = [], []

    def on_epoch_end(epoch, loss, returned_state):
        snapshots.append(model.weight.detach().clone())
        returned.append(returned_state()["weight"].clone())

    result = train(
        model,
        lambda xb, yb: torch.nn.functional.mse_loss(model(xb), yb),
        (X, y),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        max_iter=7,
        batch_size=16,
        generator=make_generator(0, "cpu"),
        n_iter_no_change=10,
        validation_score=lambda: next(scripted),
        on_epoch_end=on_epoch_end,
    )
    assert result.n_iter == 7 and result.best_validation_score == 0.5
    assert torch.equal(model.weight, snapshots[1])
    # What the loop would return if stopped after each epoch: the best so far.
    for epoch, best in enumerate([0, 1, 1, 1, 1, 1, 1]):
        assert torch.equal(returned[epoch], snapshots[best])


def test_training_loop_takes_gradients_written_by_the_batch_function():
    # A batch function may write p.grad itself and return a loss without a
    # graph: the loop then steps on those gradients, as after backward().
    X = torch.randn(40, 3, generator=make_generator(1, "cpu"), dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)[:, None]

    def fit(closed_form):
        w = torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)
        model = torch.nn.Module()
        model.w = torch.nn.Parameter(w)

        def batch_loss(xb, yb):
            if not closed_form:
                return 0.5 * ((xb @ model.w - yb) ** 2).mean()
            with torch.no_grad():
                residual = xb @ model.w - yb
                model.w.grad = xb.T @ residual / xb.shape[0]
                return 0.5 * (residual**2).mean()

        result = train(
            model, batch_loss, (X, y), optimizer=torch.optim.SGD([model.w], lr=0.1),
            max_iter=5, batch_size=8, generator=make_generator(0, "cpu"),
        )
        return model.w.detach(), result.loss_curve

    (w_auto, curve_auto), (w_closed, curve_closed) = fit(False), fit(True)
    torch.testing.assert_close(w_closed, w_auto, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(curve_closed, curve_auto, rtol=1e-12)
    assert curve_auto[-1] < curve_auto[0]


@pytest.mark.parametrize("solver, scale, match", [("sgd", 1e3, "learning_rate_init"),
                                                   ("lbfgs", 1e200, "L-BFGS diverged")])
def test_divergence_is_a_clear_error(solver, scale, match):
    # A step size (or input scale) that blows the weights up raises an error,
    # not NaN weights: a FloatingPointError, and a ValueError as sklearn's
    # "Solver produced non-finite parameter weights" (`except ValueError` code).
    rng = np.random.RandomState(0)
    X, y = scale * rng.randn(100, 3), rng.randn(100)
    est = MLPRegressor(solver=solver, learning_rate_init=10.0, random_state=0, device="cpu")
    with pytest.raises(ValueError, match=match) as error:
        est.fit(X, y)
    assert isinstance(error.value, FloatingPointError)
    # sklearn's sentence first, so code matching sklearn's message matches it.
    assert str(error.value).startswith(
        "Solver produced non-finite parameter weights. The input data may contain "
        "large values and need to be preprocessed."
    )
    assert not hasattr(est, "coefs_")  # the failed fit left nothing behind


def test_convergence_warning_when_max_iter_is_reached():
    # As sklearn: a ConvergenceWarning when the epochs run out before the tol rule.
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(max_iter=3, random_state=0, device="cpu").fit(X, y)


def test_lbfgs_convergence_warning_is_sklearns_word_for_word():
    X, y = load_iris(return_X_y=True)
    messages = []
    for cls in (SkMLPClassifier, MLPClassifier):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
        messages.append([(w.category, str(w.message)) for w in caught])
    assert messages[1] == messages[0] and len(messages[0]) == 1
    assert messages[0][0][0] is ConvergenceWarning


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_verbose_shows_a_progress_bar(solver, capsys):
    # verbose=True draws a tqdm bar named after the estimator (on stderr),
    # with the loss; lbfgs's counts its iterations. Silent otherwise.
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(solver=solver, max_iter=2, verbose=True, random_state=0,
                      device="cpu").fit(X, y)
        err = capsys.readouterr().err
        assert "MLPClassifier" in err and "loss=" in err
        MLPClassifier(solver=solver, max_iter=2, random_state=0, device="cpu").fit(X, y)
        assert capsys.readouterr().err == ""


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_verbose_prints_sklearns_lines(capsys):
    # Above the bar, stdout gets sklearn's MLP lines, word for word in form:
    # a loss per epoch, the validation score, the stopping message.
    X, y = load_iris(return_X_y=True)
    kw = dict(max_iter=300, early_stopping=True, verbose=True, random_state=0)
    ours = MLPClassifier(device="cpu", **kw).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    SkMLPClassifier(**kw).fit(X, y)
    theirs = capsys.readouterr().out.splitlines()
    pattern = re.compile(r"Iteration \d+, loss = \d+\.\d{8}|Validation score: \d\.\d{6}")
    assert all(pattern.fullmatch(line) for line in lines[:-1] + theirs[:-1])
    assert len(lines) == 2 * ours.n_iter_ + 1
    assert lines[-1] == theirs[-1] == (
        "Validation score did not improve more than tol=0.000100 for 10 consecutive "
        "epochs. Stopping."
    )
    losses = [float(line.split("= ")[1]) for line in lines if line.startswith("Iteration")]
    np.testing.assert_allclose(losses, ours.loss_curve_, rtol=1e-8)
    # The adaptive schedule's plateau lines, word for word (tol=0.1: every
    # plateau lowers the rate, 1e-3 / 5^i, until it is too small).
    kw = dict(solver="sgd", learning_rate="adaptive", tol=0.1, n_iter_no_change=2,
              max_iter=200, verbose=True, random_state=0)
    MLPClassifier(device="cpu", **kw).fit(X, y)
    ours = [line for line in capsys.readouterr().out.splitlines() if "improve" in line]
    SkMLPClassifier(**kw).fit(X, y)
    theirs = [line for line in capsys.readouterr().out.splitlines() if "improve" in line]
    assert ours == theirs and ours[-1].endswith("Learning rate too small. Stopping.")


def _sparse_digits():
    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16.0  # about half the entries are zero
    return X, y[:400]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="sgd", early_stopping=True),
        dict(solver="lbfgs"),
    ],
    ids=["adam", "sgd-early-stopping", "lbfgs"],
)
def test_sparse_X_fits_the_same_network_as_dense(params):
    # As sklearn's MLP, sparse X is accepted (any format); it stays sparse in
    # the loop (sparse minibatch rows, sparse-dense first layer) and gives the
    # dense fit's weights and probabilities up to rounding.
    X, y = _sparse_digits()
    kwargs = dict(hidden_layer_sizes=(20,), max_iter=15, random_state=0, device="cpu", **params)
    dense = MLPClassifier(**kwargs).fit(X, y)
    sparse = MLPClassifier(**kwargs).fit(sp.csr_matrix(X), y)
    for W_dense, W_sparse in zip(dense.coefs_ + dense.intercepts_,
                                 sparse.coefs_ + sparse.intercepts_):
        np.testing.assert_allclose(W_sparse, W_dense, rtol=1e-9, atol=1e-12)
    assert sparse.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(sparse.loss_curve_ if params["solver"] != "lbfgs" else sparse.loss_,
                               dense.loss_curve_ if params["solver"] != "lbfgs" else dense.loss_,
                               rtol=1e-9)
    for fmt in ("csr", "csc", "coo"):
        np.testing.assert_allclose(
            sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)), dense.predict_proba(X),
            rtol=1e-9, atol=1e-14,
        )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sparse_X_in_regressor_partial_fit_and_float32():
    X, _ = _sparse_digits()
    target = X @ np.linspace(-1, 1, X.shape[1])
    S = sp.csr_matrix(X.astype(np.float32))
    dense = MLPRegressor(max_iter=5, random_state=0, device="cpu")
    sparse = MLPRegressor(max_iter=5, random_state=0, device="cpu")
    for _ in range(3):
        dense.partial_fit(X.astype(np.float32), target)
        sparse.partial_fit(S, target)
    assert sparse.coefs_[0].dtype == np.float32
    prediction = sparse.predict(S)
    assert prediction.dtype == np.float32
    np.testing.assert_allclose(prediction, dense.predict(X.astype(np.float32)), rtol=1e-5,
                               atol=1e-5)
    # The input matrix is not modified.
    np.testing.assert_array_equal(S.toarray(), X.astype(np.float32))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_may_mix_sparse_and_dense_X(solver):
    # The first layer is stored differently for sparse X (a faster layout);
    # the optimizer state carried between partial_fit calls follows it, so
    # alternating sparse and dense batches gives the all-dense fit.
    X, y = _sparse_digits()
    kwargs = dict(solver=solver, hidden_layer_sizes=(16,), random_state=0, device="cpu")
    dense, mixed = MLPClassifier(**kwargs), MLPClassifier(**kwargs)
    for step in range(4):
        dense.partial_fit(X, y, classes=np.unique(y))
        mixed.partial_fit(sp.csr_matrix(X) if step % 2 else X, y, classes=np.unique(y))
    for W_dense, W_mixed in zip(dense.coefs_, mixed.coefs_):
        np.testing.assert_allclose(W_mixed, W_dense, rtol=1e-9, atol=1e-12)




def test_sample_weight_zero_equals_dropping_rows():
    # Full batch: zero weights give exactly the fit without those rows (up to rounding).
    X, y = load_iris(return_X_y=True)
    w = np.ones(len(y))
    w[::3] = 0
    params = dict(hidden_layer_sizes=(5,), max_iter=30, shuffle=False, batch_size=150,
                  random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
        dropped = MLPClassifier(**params).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sample_weight_and_alpha_scaled_together_are_the_same_fit(cls, solver):
    # The loss is a weighted mean and the L2 term alpha / sum(w): weights
    # and alpha times 2^1020 are the same objective. Weights near 1e308 summed
    # to inf (NaN loss, a DivergenceError); they are scaled by a power of two.
    X, y = load_iris(return_X_y=True)
    y = y if cls is MLPClassifier else X[:, 0] - X[:, 3]
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    params = dict(hidden_layer_sizes=(5,), max_iter=20, solver=solver, random_state=0,
                  device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = cls(alpha=1e-3, **params).fit(X, y, sample_weight=w)
        big = cls(alpha=1e-3 * 2.0**1020, **params).fit(X, y, sample_weight=w * 2.0**1020)
    for a, b in zip(ref.coefs_ + ref.intercepts_, big.coefs_ + big.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert big.loss_ == ref.loss_


@pytest.mark.parametrize("weight, solver", [(1e-310, "lbfgs"), (5e-324, "adam")])
def test_divergence_from_tiny_weights_names_the_penalty(weight, solver):
    # Weights of 1e-310 make the L2 term alpha / sum(w) ~ 1e304: the fit
    # diverges (sklearn's lbfgs returns a NaN loss silently), and the error
    # said only that the inputs "may contain large values".
    X, y = load_iris(return_X_y=True)
    est = MLPRegressor(max_iter=20, solver=solver, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"alpha / sum\(sample_weight\)"):
            est.fit(X, y, sample_weight=np.full(len(y), weight))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("random_state", range(4))
def test_early_stopping_split_without_weight_raises_clearly(cls, random_state):
    # One sample carries all the weight, so the validation split or the training
    # split has none: its score (or every step) would be 0/0. sklearn divides by
    # zero; skmath says which split it is. The same data with one more weighted
    # sample on the other side fits.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.tile([0, 1], 20)
    w = np.zeros(40)
    w[7] = 1.0
    est = cls(hidden_layer_sizes=(4,), early_stopping=True, validation_fraction=0.2, max_iter=3,
              random_state=random_state, device="cpu")
    with pytest.raises(ValueError, match=r"(validation|training) split of early_stopping"):
        est.fit(X, y, sample_weight=w)
    w[:] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, sample_weight=w)
    assert np.isfinite(est.validation_scores_).all()


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_minibatch_of_zero_weights_is_skipped_not_a_divergence(cls):
    # A minibatch whose weights sum to zero adds no loss and no gradient (L2
    # term included; sklearn divides by zero there, skmath used to raise
    # "Training diverged"): plain SGD then fits as if its rows were dropped,
    # and each epoch's loss is the dropped fit's times n_kept / n.
    X, y = load_iris(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[::10], y[::10] % 2
    w = np.ones(len(y))
    w[[0, 7]] = 0
    params = dict(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, alpha=0.1, batch_size=1,
                  shuffle=False, max_iter=3, learning_rate_init=0.1, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = cls(**params).fit(X, y, sample_weight=w)
        dropped = cls(**params).fit(X[w > 0], y[w > 0])
    for a, b in zip(weighted.coefs_ + weighted.intercepts_, dropped.coefs_ + dropped.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(
        np.array(weighted.loss_curve_) * len(y), np.array(dropped.loss_curve_) * (w > 0).sum(),
        rtol=1e-12,
    )


def test_fitted_arrays_are_c_contiguous_numpy_arrays_owning_their_data():
    # coefs_/intercepts_ are independent NumPy arrays, even where a layer's
    # transposed weights are contiguous (a single output unit).
    X, y = make_friedman1(n_samples=60, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    for a in est.coefs_ + est.intercepts_:
        assert isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.owndata
    assert est.coefs_[-1].shape == (4, 1)


def test_pickle_round_trip_predicts_the_same():
    # A fitted model pickles with NumPy weights and predicts identically after loading.
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(max_iter=5, random_state=0, device="cpu").fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    assert all(isinstance(W, np.ndarray) for W in loaded.coefs_)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


@CUDA
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_cuda_fit_loads_and_predicts_on_cpu(cls):
    # Fitted with device="cuda", pickled, predicted on CPU: the same predictions.
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    y = y if cls is MLPClassifier else X[:, 0] * 2
    est = cls(max_iter=20, random_state=0, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        est.partial_fit(X, y)
    on_gpu = est.predict(X)
    loaded = pickle.loads(pickle.dumps(est))
    loaded._device = torch.device("cpu")  # as on a machine without CUDA
    np.testing.assert_allclose(loaded.predict(X), on_gpu, rtol=1e-4, atol=1e-5)
    state = loaded._optimizer_state["state"]
    tensors = [t for s in state.values() for t in s.values() if torch.is_tensor(t)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)


# -- same-start comparisons with sklearn --------------------------------------


def _fit_sklearn_from_our_init(sk_est, X, y, monkeypatch, **fit_params):
    """Fit ``sk_est`` starting from the Glorot draw skmath makes for the same
    ``random_state`` (sklearn's ``_initialize`` wrapped), so that any difference
    of the two fits comes from the training rules, not from random numbers."""
    from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron

    original = BaseMultilayerPerceptron._initialize

    def _initialize(self, y, layer_units, dtype):
        original(self, y, layer_units, dtype)
        generator = make_generator(check_random_state(self.random_state), "cpu")
        coefs, intercepts = _init_layers(layer_units, self.activation, generator, dtype, "cpu")
        self.coefs_ = [W.numpy().copy() for W in coefs]
        self.intercepts_ = [b.numpy().copy() for b in intercepts]
        self._best_coefs = [W.copy() for W in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]

    with monkeypatch.context() as patch:
        patch.setattr(BaseMultilayerPerceptron, "_initialize", _initialize)
        return sk_est.fit(X, y, **fit_params)


def _fit_both_classifiers(kw, X, y, monkeypatch):
    """skmath's and sklearn's MLPClassifier(**kw) fitted from the same initial
    weights (:func:`_fit_sklearn_from_our_init`), convergence warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(device="cpu", **kw).fit(X, y)
        return ours, _fit_sklearn_from_our_init(SkMLPClassifier(**kw), X, y, monkeypatch)


def _binary_problem():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X[:, 0] + 0.3 * rng.randn(60) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("early_stopping", [False, True])
def test_tol_zero_ties_count_as_improvement_like_sklearn(early_stopping, monkeypatch):
    # sklearn's _update_no_improvement_count: with tol=0, an epoch whose loss
    # (validation score) equals the best so far resets the plateau count. A
    # vanishing step keeps both exactly constant: sklearn trains all max_iter
    # epochs, and so must we (before: stopped after n_iter_no_change + 1).
    X, y = _binary_problem()
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=1e-300, momentum=0.0,
              tol=0.0, shuffle=False, max_iter=30, random_state=0,
              early_stopping=early_stopping)
    ours, ref = _fit_both_classifiers(kw, X, y, monkeypatch)
    assert ours.n_iter_ == ref.n_iter_ == 30
    if early_stopping:
        assert len(set(ours.validation_scores_)) == 1
    else:
        assert len(set(ours.loss_curve_)) == 1
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)


def test_tol_zero_accuracy_plateau_follows_sklearns_rule():
    # Early stopping on a 5-sample validation set with tol=0: the accuracy sits
    # on multiples of 0.2, so ties with the best score are frequent. n_iter_ is
    # where sklearn's rule, replayed on validation_scores_, stops.
    X, y = _binary_problem()
    est = MLPClassifier(hidden_layer_sizes=(5,), early_stopping=True, validation_fraction=0.08,
                        tol=0.0, n_iter_no_change=4, learning_rate_init=0.003, max_iter=300,
                        random_state=0, device="cpu").fit(X, y)
    scores = est.validation_scores_
    count, best, expected, ties = 0, -np.inf, None, 0
    for epoch, score in enumerate(scores, start=1):
        ties += score == best
        count = count + 1 if score < best + est.tol else 0  # sklearn's comparisons
        best = max(best, score)
        if count > est.n_iter_no_change:
            expected = epoch
            break
    assert ties > 0  # the case this test is about
    assert est.n_iter_ == expected == len(scores)
    assert est.best_validation_score_ == max(scores)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_without_shuffle_trains_in_sklearns_order():
    # sklearn trains on train_test_split's rows in the order it returns them;
    # they were sorted here, so on data sorted by class (shuffle=False) every
    # minibatch held one class. The fit equals one without early stopping on
    # those rows, in that order (the split drawn as the estimator draws it:
    # after the torch generator's seed).
    X, y = make_classification(300, 5, n_informative=3, n_classes=3, random_state=0)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, momentum=0.0,
              batch_size=20, shuffle=False, max_iter=5, random_state=0, device="cpu")
    ours = MLPClassifier(early_stopping=True, **kw).fit(X, y)
    rng = check_random_state(0)
    make_generator(rng, "cpu")
    train, _ = train_test_split(np.arange(300), random_state=rng, test_size=0.1)
    assert len(set(y[train[:20]])) == 3  # the first minibatch is not one class
    plain = MLPClassifier(**kw).fit(X[train], y[train])
    np.testing.assert_allclose(ours.loss_curve_, plain.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_momentum_with_a_changing_learning_rate_is_sklearns(learning_rate, nesterov,
                                                                 monkeypatch):
    # sklearn's velocity v = mu v - lr g keeps the old steps at their old rate;
    # the engine's torch update rescales its momentum buffer when lr changes, so
    # from the same start the loss curves are sklearn's (before: 19% apart).
    X, y = _binary_problem()
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate=learning_rate,
              learning_rate_init=0.5, momentum=0.9, nesterovs_momentum=nesterov,
              shuffle=False, max_iter=300, tol=1e-3, n_iter_no_change=3,
              random_state=0)
    if learning_rate == "invscaling":
        kw["max_iter"] = 50
    ours, ref = _fit_both_classifiers(kw, X, y, monkeypatch)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    if learning_rate == "adaptive":  # the rate did change
        assert ours._optimizer_state["param_groups"][0]["lr"] < 0.5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_negative_sample_weight_is_accepted_as_in_sklearn(monkeypatch):
    # sklearn's MLPs take negative sample weights (it does not check their
    # sign); from the same start the weighted loss curves agree.
    X, y = _binary_problem()
    w = np.ones(len(y))
    w[:5] = -0.5
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=0.1, shuffle=False,
              batch_size=60, max_iter=20, random_state=0)
    ours = MLPClassifier(device="cpu", **kw).fit(X, y, sample_weight=w)
    if "sample_weight" in inspect.signature(SkMLPClassifier.fit).parameters:  # sklearn >= 1.7
        ref = _fit_sklearn_from_our_init(
            SkMLPClassifier(**kw), X, y, monkeypatch, sample_weight=w
        )
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    regressor = MLPRegressor(solver="lbfgs", max_iter=20, random_state=0, device="cpu")
    assert regressor.fit(X, X @ [1.0, 2.0, 3.0], sample_weight=w).n_iter_ > 0
    # Weights summing to zero leave the weighted mean undefined (sklearn: ZeroDivisionError).
    with pytest.raises(ValueError, match="sum to zero"):
        regressor.fit(X, y, sample_weight=np.r_[np.ones(30), -np.ones(30)])


# -- Ctrl-C ---------------------------------------------------------------------


def _interrupt_at_epoch(monkeypatch, epoch):
    """Make the training loop raise KeyboardInterrupt (a Ctrl-C) as epoch ``epoch`` starts."""
    from skmath._engine import _training

    original, calls = _training.minibatches, []

    def minibatches(*args, **kwargs):
        calls.append(None)
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(_training, "minibatches", minibatches)


def _fit_or_fail(est, X, y):
    try:
        return est.fit(X, y)
    except KeyboardInterrupt:  # would otherwise stop the whole test session
        pytest.fail("KeyboardInterrupt escaped fit")


@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_keeps_the_model_trained_so_far(early_stopping, monkeypatch):
    # As sklearn: Ctrl-C during fit warns "Training interrupted by user." and
    # returns the model of the epochs completed (the best of them with early
    # stopping), which is the model of a fit with max_iter at that epoch.
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(8,), learning_rate_init=0.2, early_stopping=early_stopping,
              random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cut = MLPClassifier(max_iter=5, **kw).fit(X, y)
    if early_stopping:  # the best epoch is not the last: its weights are restored
        assert np.argmax(cut.validation_scores_) < 4
    est = MLPClassifier(max_iter=200, **kw)
    _interrupt_at_epoch(monkeypatch, 6)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        fitted = _fit_or_fail(est, X, y)
    assert fitted is est
    assert est.n_iter_ == 5 and est.loss_curve_ == cut.loss_curve_
    for a, b in zip(est.coefs_ + est.intercepts_, cut.coefs_ + cut.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(est.predict(X), cut.predict(X))


def test_divergence_with_early_stopping_keeps_the_best_validated_weights():
    # sklearn's gh-29504 (its test_mlp_diverging_loss): with early_stopping a
    # diverging loss stops the fit with the best validated weights instead of
    # failing; skmath says so with a ConvergenceWarning (not silent NaN weights).
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd",
                  learning_rate_init=1, max_iter=20, early_stopping=True,
                  random_state=0, device="cpu")
    est = MLPRegressor(**params)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch"):
        est.fit(X, y)
    assert not np.isfinite(est.loss_curve_[-1]) and np.isnan(est.validation_scores_[-1])
    assert len(est.loss_curve_) == len(est.validation_scores_) == est.n_iter_ < 20
    assert all(np.isfinite(W).all() for W in est.coefs_ + est.intercepts_)
    # The restored weights are those of the best validation epoch.
    best_epoch = int(np.nanargmax(est.validation_scores_)) + 1
    again = MLPRegressor(**dict(params, max_iter=best_epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.fit(X, y)
    np.testing.assert_array_equal(est.predict(X), again.predict(X))
    assert est.best_validation_score_ == max(again.validation_scores_)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_diverging_partial_fit_leaves_the_optimizer_state_as_it_was(solver):
    # The saved Adam moments / momentum buffers used to be loaded by reference and
    # written with NaN by the failed epoch: every later partial_fit then diverged.
    rng = np.random.RandomState(0)
    X = rng.randn(100, 4)
    y = X[:, 0] - X[:, 1]
    m = MLPRegressor(hidden_layer_sizes=(5,), batch_size=20, solver=solver, random_state=0,
                     device="cpu")
    m.partial_fit(X, y).partial_fit(X, y)
    before = pickle.loads(pickle.dumps(m))
    X_bad = X.copy()
    X_bad[-1] = 1e200
    with pytest.raises(ValueError, match="diverged"):
        m.partial_fit(X_bad, y)
    for saved, kept in zip(before._optimizer_state["state"].values(),
                           m._optimizer_state["state"].values()):
        for key, value in saved.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(kept[key], value)
    m.partial_fit(X, y)
    before.partial_fit(X, y)
    np.testing.assert_array_equal(m.predict(X), before.predict(X))


@pytest.mark.parametrize("epsilon", [1e-8, 1e-3, 0.1])
def test_adam_is_sklearns_for_any_epsilon(epsilon, monkeypatch):
    # sklearn adds epsilon to sqrt(v_t) (Kingma & Ba's efficient version), torch to the
    # bias-corrected sqrt(v_t / (1 - beta_2^t)); skmath's MLPs now use sklearn's
    # placement. From the same start the loss curves and weights are sklearn's (before:
    # with epsilon=1e-3, losses 0.329 vs 0.397 after 100 epochs).
    X, y = _binary_problem()
    kw = dict(hidden_layer_sizes=(5,), solver="adam", epsilon=epsilon, shuffle=False,
              max_iter=60, learning_rate_init=0.01, random_state=0)
    ours, ref = _fit_both_classifiers(kw, X, y, monkeypatch)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_, ref.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def test_longdouble_X_beyond_float64_is_a_clear_error():
    # np.longdouble X is computed in float64; values beyond its range became
    # inf (with an overflow RuntimeWarning) and predictions inf or [0, 1].
    X, y = make_regression(20, 2, random_state=0)
    model = MLPRegressor(max_iter=5, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    far = np.zeros((1, 2), dtype=np.longdouble)
    far[0, 0] = np.longdouble("1e400")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="beyond float64's range"):
            model.predict(far)
