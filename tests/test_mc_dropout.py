"""MC dropout estimators: calibration on real data, closed forms, determinism."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.optimize import minimize_scalar
from scipy.stats import norm
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_diabetes,
    make_friedman1,
    make_moons,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_regressor_multioutput

from skmath import MCDropoutClassifier, MCDropoutRegressor, MLPRegressor
from skmath.metrics import gaussian_nll, interval_coverage
from skmath.neural_network._mc_dropout import _held_out_noise_variance

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fast(**params):
    """A regressor that fits the small sine problems below in a few hundred steps."""
    return MCDropoutRegressor(learning_rate_init=0.01, random_state=0, device="cpu", **params)


def _sine(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, np.sin(2 * X[:, 0]) + 0.1 * rng.randn(n)


def test_diabetes_intervals_are_calibrated_and_beat_the_homoscedastic_mlp():
    # Defaults, random 90/10 splits of diabetes: 95% coverage in [0.88, 0.99] and a
    # better test log-likelihood than an MLP with its training residual std.
    X, y = load_diabetes(return_X_y=True)
    inside, nll, nll_base, rmse = [], [], [], []
    for i, (tr, te) in enumerate(ShuffleSplit(5, test_size=0.1, random_state=0).split(X)):
        mc = MCDropoutRegressor(random_state=i, device="cpu").fit(X[tr], y[tr])
        mean, std = mc.predict(X[te], return_std=True)
        inside.append(np.abs(y[te] - mean) <= norm.ppf(0.975) * std)
        nll.append(gaussian_nll(y[te], mean, std))
        rmse.append(np.sqrt(np.mean((y[te] - mean) ** 2)))
        base = TransformedTargetRegressor(
            make_pipeline(StandardScaler(), MLPRegressor(random_state=i, device="cpu")),
            transformer=StandardScaler(),
        ).fit(X[tr], y[tr])
        sigma = np.std(y[tr] - base.predict(X[tr]))
        mean_base = base.predict(X[te])
        nll_base.append(gaussian_nll(y[te], mean_base, np.full_like(mean_base, sigma)))
    coverage = np.mean(np.concatenate(inside))
    assert 0.88 <= coverage <= 0.99, coverage
    assert np.mean(nll) < np.mean(nll_base), (np.mean(nll), np.mean(nll_base))
    assert np.mean(rmse) < 60  # a linear model gets about 54 on this data


def test_noise_variance_is_the_expected_training_squared_error():
    # cv=None: noise_std_^2 = mean_i E_q[(y_i - f(x_i))^2] over the prediction passes, i.e.
    # the squared error of the MC mean plus the passes' variance on the training rows.
    X, y = _sine()
    reg = _fast(cv=None).fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    spread = std**2 - reg.noise_std_**2
    np.testing.assert_allclose(reg.noise_std_**2, np.mean((y - mean) ** 2 + spread), rtol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_held_out_noise_variance_maximises_the_predictive_likelihood(seed):
    # Against a bounded scalar search of the log-likelihood itself, over log v.
    rng = np.random.RandomState(seed)
    r = rng.randn(300) * rng.uniform(0.5, 2.0, 300)
    s = rng.uniform(0.0, 0.8, 300) * [0.1, 1.0, 10.0][seed]

    def nll(log_v):
        v = np.exp(log_v)
        return 0.5 * np.sum(np.log(s + v) + r**2 / (s + v))

    best = minimize_scalar(nll, bounds=(-30, 5), method="bounded",
                           options={"xatol": 1e-12}).x
    np.testing.assert_allclose(_held_out_noise_variance(r, s), np.exp(best), rtol=1e-6)
    # Closed forms: no spread -> the mean squared residual; a constant spread s0 ->
    # the mean squared residual minus s0, or 0 when s0 alone covers the residuals.
    r2 = np.mean(r**2)
    np.testing.assert_allclose(_held_out_noise_variance(r, 0 * s), r2, rtol=1e-9)
    np.testing.assert_allclose(_held_out_noise_variance(r, np.full(300, 0.2)), r2 - 0.2,
                               rtol=1e-9)
    assert _held_out_noise_variance(r, np.full(300, 1.01 * r2)) == 0.0


def test_cross_fitted_noise_is_the_held_out_maximum_likelihood(monkeypatch):
    # The cv folds' networks (cv=None, trained without their fold) give the held-out
    # residuals and spreads; noise_std_^2 maximises their predictive likelihood.
    X, y = _sine(120)
    y = 30 * y + 5  # the noise is computed on standardised targets, returned in y's units
    folds, fitted = KFold(3), []
    fit = MCDropoutRegressor.fit

    def spy(self, X, y):
        fit(self, X, y)
        if self.cv is None:
            fitted.append((self, X.shape[0]))
        return self

    monkeypatch.setattr(MCDropoutRegressor, "fit", spy)
    reg = _fast(cv=folds).fit(X, y)
    assert [n for _, n in fitted] == [80, 80, 80]
    assert all(model.random_state != 0 for model, _ in fitted)
    residuals, spreads = [], []
    for (model, _), (_, held_out) in zip(fitted, folds.split(X)):
        mean, std = model.predict(X[held_out], return_std=True)
        residuals.append(y[held_out] - mean)
        spreads.append(std**2 - model.noise_std_**2)
    expected = _held_out_noise_variance(np.concatenate(residuals), np.concatenate(spreads))
    np.testing.assert_allclose(reg.noise_std_**2, expected, rtol=1e-8)
    # The returned network is the one trained on every row, as with cv=None.
    single = _fast(cv=None).fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), single.predict(X))
    assert reg.noise_std_ != single.noise_std_


def test_cross_fitting_warns_once_for_the_returned_network():
    # The folds' networks stop at max_iter too, but only the fit's own network warns.
    X, y = _sine(60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fast(max_iter=3).fit(X, y)
    assert [type(w.message) for w in caught] == [ConvergenceWarning]


def test_cross_fitting_corrects_the_training_rows_noise_both_ways():
    # Small data that the network overfits (training-rows noise too small) and linear
    # data where the passes' spread is large (counted twice, noise too large): the
    # standardised test errors (y - mean) / std have a spread closer to 1 with cv=5.
    problems = {
        "overfit": make_friedman1(200, noise=1.0, random_state=0),
        "wide": make_regression(500, 20, n_informative=10, noise=10.0, random_state=0),
    }
    for name, (X, y) in problems.items():
        spread = {}
        for cv in (None, 5):
            z = []
            for i, (tr, te) in enumerate(ShuffleSplit(4, test_size=0.2,
                                                      random_state=0).split(X)):
                reg = MCDropoutRegressor(cv=cv, random_state=i, device="cpu").fit(X[tr], y[tr])
                mean, std = reg.predict(X[te], return_std=True)
                z.append((y[te] - mean) / std)
            spread[cv] = np.std(np.concatenate(z))
        assert abs(spread[5] - 1) < 0.5 * abs(spread[None] - 1), (name, spread)
        assert (spread[None] > 1.2) if name == "overfit" else (spread[None] < 0.8), spread


def test_noise_level_is_recovered_when_noise_dominates():
    # y = 0.3 x + eps on plenty of data: noise_std_ is close to the true 1.
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 2)
    y = 0.3 * X[:, 0] + rng.randn(2000)
    reg = MCDropoutRegressor(hidden_layer_sizes=(32,), random_state=0, device="cpu").fit(X, y)
    assert 0.95 < reg.noise_std_ < 1.1


def test_std_is_passes_spread_plus_noise():
    # One pass has no spread: std == noise_std_; more passes add their variance.
    X, y = _sine()
    reg = MCDropoutRegressor(n_mc_samples=1, random_state=0, device="cpu").fit(X, y)
    _, std = reg.predict(X, return_std=True)
    np.testing.assert_allclose(std, reg.noise_std_, rtol=1e-12)
    reg.set_params(n_mc_samples=50)
    _, std = reg.predict(X, return_std=True)
    assert np.all(std >= reg.noise_std_) and np.any(std > 1.01 * reg.noise_std_)


def test_fitted_coefs_are_the_network_on_original_units():
    # The internal standardisation is folded into coefs_: without dropout the
    # prediction is a plain forward pass of coefs_ on raw X.
    X, y = _sine()
    X, y = 100 * X + 7, 50 * y - 3
    reg = _fast(dropout=0.0).fit(X, y)
    hidden = np.maximum(X @ reg.coefs_[0] + reg.intercepts_[0], 0)
    expected = (hidden @ reg.coefs_[1] + reg.intercepts_[1]).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-9, atol=1e-9)
    assert reg.score(X, y) > 0.9


@pytest.mark.parametrize("Estimator", [MCDropoutRegressor, MCDropoutClassifier])
def test_predictions_use_the_dropout_the_network_was_trained_with(Estimator):
    # set_params(dropout=...) after fit changed predict without a refit (the
    # network sampled at a rate it was not trained with, and the regressor's
    # noise_std_ estimated at the old one); a refit takes the new rate.
    X, y = _sine()
    y = y if Estimator is MCDropoutRegressor else (y > 0).astype(int)
    est = Estimator(max_iter=20, random_state=0, device="cpu").fit(X, y)
    method = est.predict if Estimator is MCDropoutRegressor else est.predict_proba
    before = method(X)
    est.set_params(dropout=0.5)
    np.testing.assert_array_equal(method(X), before)
    est.fit(X, y)
    assert not np.array_equal(method(X), before)


def test_predictions_are_deterministic_and_row_independent():
    # Repeated calls agree exactly; a row's prediction does not depend on the other rows.
    X, y = _sine()
    reg = MCDropoutRegressor(random_state=0, device="cpu").fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    mean2, std2 = reg.predict(X, return_std=True)
    np.testing.assert_array_equal(mean, mean2)
    np.testing.assert_array_equal(std, std2)
    np.testing.assert_allclose(reg.predict(X[7:19]), mean[7:19], rtol=1e-12)
    same = MCDropoutRegressor(random_state=0, device="cpu").fit(X, y)
    other = MCDropoutRegressor(random_state=1, device="cpu").fit(X, y)
    np.testing.assert_array_equal(same.predict(X), mean)
    assert not np.array_equal(other.predict(X), mean)


def test_uncertainty_grows_away_from_the_data():
    # The passes disagree more when extrapolating than inside the training range.
    X, y = _sine()
    reg = _fast().fit(X, y)
    _, std = reg.predict(np.array([[0.0], [8.0], [-8.0]]), return_std=True)
    assert std[1] > 1.5 * std[0] and std[2] > 1.5 * std[0]


def test_sample_y_matches_the_predictive_moments():
    # sample_y draws (sampled network + noise) have predict's mean and std.
    X, y = _sine()
    reg = MCDropoutRegressor(n_mc_samples=4000, random_state=0, device="cpu").fit(X, y)
    points = np.array([[-1.0], [0.5], [3.0]])
    mean, std = reg.predict(points, return_std=True)
    draws = reg.sample_y(points, n_samples=4000, random_state=0)
    assert draws.shape == (3, 4000)
    np.testing.assert_allclose(draws.mean(1), mean, atol=0.1 * std.max())
    np.testing.assert_allclose(draws.std(1), std, rtol=0.1)
    np.testing.assert_array_equal(draws, reg.sample_y(points, n_samples=4000, random_state=0))


def test_return_cov_is_the_joint_covariance_of_the_draws():
    # As GaussianProcessRegressor.predict(return_cov=True): diag = std^2 exactly,
    # and the whole matrix is the covariance of sample_y's joint draws (one
    # sampled network per draw, so rows far out on the same side, where the
    # networks disagree most, are strongly correlated).
    X, y = _sine()
    reg = _fast(n_mc_samples=4000).fit(X, y)
    points = np.array([[-1.0], [4.0], [4.5], [-4.0]])
    mean, std = reg.predict(points, return_std=True)
    mean_c, cov = reg.predict(points, return_cov=True)
    np.testing.assert_array_equal(mean_c, mean)
    assert cov.shape == (4, 4)
    np.testing.assert_allclose(np.diag(cov), std**2, rtol=1e-10)
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12)
    assert np.linalg.eigvalsh(cov).min() > 0
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    draws = reg.sample_y(points, n_samples=4000, random_state=1)
    assert np.abs(np.cov(draws) - cov).max() < 0.15 * scale.max()
    assert np.all(np.abs(np.cov(draws) - cov) / scale < 0.15)
    assert cov[1, 2] / scale[1, 2] > 0.8
    with pytest.raises(RuntimeError, match="At most one"):
        reg.predict(points, return_std=True, return_cov=True)
    two = MCDropoutRegressor(random_state=0, device="cpu").fit(X, np.column_stack([y, -y]))
    _, std2 = two.predict(points, return_std=True)
    _, cov2 = two.predict(points, return_cov=True)
    assert cov2.shape == (4, 4, 2)
    np.testing.assert_allclose(np.diagonal(cov2, axis1=0, axis2=1).T, std2**2, rtol=1e-10)


def test_multioutput_regression_shapes():
    # Two targets: predictions, std and draws gain an output axis; one noise per output.
    X, y = _sine()
    Y = np.column_stack([y, 10 * y])
    reg = MCDropoutRegressor(random_state=0, device="cpu").fit(X, Y)
    mean, std = reg.predict(X[:4], return_std=True)
    assert mean.shape == std.shape == (4, 2)
    assert reg.noise_std_.shape == (2,)
    assert 5 < reg.noise_std_[1] / reg.noise_std_[0] < 20
    assert reg.sample_y(X[:4], n_samples=3).shape == (4, 2, 3)


def test_multioutput_target_tag_is_declared_as_mlpregressors():
    # Multi-output y is supported (above), so the target tag says so, as
    # MLPRegressor's does; scikit-learn's estimator checks (test_common) then
    # run their multi-output check on it, which passes.
    assert get_tags(MCDropoutRegressor()).target_tags.multi_output
    assert get_tags(MLPRegressor()).target_tags.multi_output
    check_regressor_multioutput("MCDropoutRegressor", MCDropoutRegressor(max_iter=100, device="cpu"))


@pytest.mark.parametrize("c", [0.0, 1e-8, 100.0, 1e6])
def test_constant_target_is_predicted_as_itself(c):
    # As GaussianProcessRegressor(normalize_y=True): a constant target (or a
    # constant column of a multi-output y) comes back as itself with a
    # negligible std. Its scale was |mean|: a constant 1e6 came back 3% low
    # with std 6e4, and 100 next to a sine column as 99.97-101.3, std 5.6.
    X, y = _sine(n=60)
    params = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, device="cpu")
    for target, column in ((np.full_like(y, c), None), (np.column_stack([y, np.full_like(y, c)]), 1)):
        model = MCDropoutRegressor(**params).fit(X, target)
        mean, std = model.predict(X[:7], return_std=True)
        if column is not None:
            mean, std = mean[:, column], std[:, column]
        # Scale sqrt(eps) |c| (eps for zeros): about 1e-9 of c.
        unit = max(abs(c), 1e-8)
        assert np.all(np.abs(mean - c) <= 1e-7 * unit)
        assert np.all(std <= 1e-7 * unit)
        assert np.all(np.atleast_1d(model.noise_std_)[-1] <= 1e-7 * unit)


@pytest.mark.parametrize("c", [1e-20, 1e-8, 1e8, 1e160])
def test_constant_target_predictions_follow_the_targets_units(c):
    # Multiplying y by c multiplies the predictive mean, std and noise by c,
    # constant targets (and constant columns of a multi-output y) included;
    # a target whose spread is tiny in absolute terms (1e-20) is not taken
    # for a constant one.
    # (A constant column's std is its rounding, test_constant_target_is_predicted_as_itself.)
    X, y = _sine(n=40)
    Y = np.column_stack([np.full_like(y, 2.5), y])
    params = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")
    for target, varying in ((y, slice(None)), (Y, 1)):
        unit = MCDropoutRegressor(**params).fit(X, target)
        scaled = MCDropoutRegressor(**params).fit(X, c * target)
        mean, std = unit.predict(X[:5], return_std=True)
        mean_c, std_c = scaled.predict(X[:5], return_std=True)
        # rtol 1e-7: the constant column's mean, rounded in the targets'
        # units, is sqrt(eps) in its standardised ones, and reaches the
        # shared hidden layers.
        np.testing.assert_allclose(mean_c, c * mean, rtol=1e-7)
        np.testing.assert_allclose(std_c[..., varying], c * std[..., varying], rtol=1e-7)
        np.testing.assert_allclose(np.atleast_1d(scaled.noise_std_)[varying],
                                   c * np.atleast_1d(unit.noise_std_)[varying], rtol=1e-7)


def test_classifier_probabilities_and_entropies():
    # predict_proba is a mean of distributions; H >= mutual information >= 0; one pass has MI 0.
    X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    clf = MCDropoutClassifier(random_state=0, device="cpu").fit(X, y)
    proba, spread = clf.predict_proba(X, return_std=True)
    np.testing.assert_allclose(proba.sum(1), 1)
    assert spread.shape == proba.shape and np.all(spread >= 0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    entropy, mi = clf.predictive_entropy(X), clf.mutual_information(X)
    np.testing.assert_allclose(entropy, -np.sum(proba * np.log(proba), axis=1), rtol=1e-6)
    assert np.all(mi >= 0) and np.all(mi <= entropy + 1e-12)
    assert clf.score(X, y) > 0.85
    clf.set_params(n_mc_samples=1)
    np.testing.assert_allclose(clf.mutual_information(X), 0, atol=1e-12)


def test_multilabel_classifier():
    # Multi-label targets: one probability per label, an indicator matrix as prediction.
    X, Y = make_multilabel_classification(n_samples=150, n_classes=3, random_state=0)
    clf = MCDropoutClassifier(random_state=0, device="cpu").fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))


def test_fit_takes_no_sample_weight():
    # Each copy of a sample draws its own masks: weights are refused, not mis-handled.
    X, y = _sine(20)
    with pytest.raises(TypeError):
        MCDropoutRegressor(device="cpu").fit(X, y, sample_weight=np.ones(20))


def test_warm_start_keeps_the_standardisation():
    # A warm start continues from the folded weights: its first loss is the old last loss.
    X, y = _sine()
    reg = _fast(max_iter=30, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
        first = list(reg.loss_curve_)
        reg.fit(X, y)
    assert len(reg.loss_curve_) == 60
    # A restart from scratch would begin near first[0].
    assert abs(reg.loss_curve_[30] - first[-1]) < 0.25 * (first[0] - first[-1])


def test_pickle_round_trip():
    # A pickled model gives the same predictions and std after loading.
    X, y = _sine()
    reg = MCDropoutRegressor(random_state=0, device="cpu").fit(X, y)
    loaded = pickle.loads(pickle.dumps(reg))
    for a, b in zip(reg.predict(X, return_std=True), loaded.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


@CUDA
def test_cuda_fit_loads_and_predicts_on_cpu():
    # Fitted on CUDA, unpickled and predicted on CPU: the same mean and std.
    X, y = _sine()
    X = X.astype(np.float32)
    reg = MCDropoutRegressor(random_state=0, device="cuda").fit(X, y)
    mean, std = reg.predict(X, return_std=True)
    loaded = pickle.loads(pickle.dumps(reg))
    loaded._device = torch.device("cpu")  # as on a machine without CUDA
    mean_cpu, std_cpu = loaded.predict(X, return_std=True)
    # The prediction masks are drawn on the CPU: the same sampled networks.
    np.testing.assert_allclose(mean_cpu, mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std_cpu, std, rtol=1e-4, atol=1e-5)
    assert interval_coverage(y, mean_cpu, std_cpu) > 0.9


@pytest.mark.parametrize("cls", [MCDropoutRegressor, MCDropoutClassifier])
def test_sparse_X_is_scaled_not_centred_and_fits_like_dense(cls):
    # Sparse X is only scaled (centring would densify it). On columns whose
    # mean is zero, centring is a no-op, so the sparse fit is the dense fit;
    # the model then predicts the same from sparse and dense rows.
    rng = np.random.RandomState(0)
    B = sp.random(150, 12, density=0.3, format="csr", random_state=rng) * 3
    X = sp.vstack([B, -B]).tocsr()  # every column sums to zero
    y = np.asarray(X @ rng.randn(12)).ravel()
    if cls is MCDropoutClassifier:
        y = (y > 0).astype(int)
    kw = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0, device="cpu")
    sparse, dense = cls(**kw).fit(X, y), cls(**kw).fit(X.toarray(), y)
    for a, b in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    method = "predict" if cls is MCDropoutRegressor else "predict_proba"
    np.testing.assert_allclose(getattr(sparse, method)(X), getattr(dense, method)(X.toarray()),
                               rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(getattr(sparse, method)(X.tocsc()),
                               getattr(sparse, method)(X.toarray()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [MCDropoutRegressor, MCDropoutClassifier])
def test_sparse_X_with_duplicate_entries_is_its_sum(cls):
    # scipy reads duplicate stored entries as their sum; the column scales
    # must too (they used to be computed from the raw entries, giving a
    # negative variance and a NaN loss). The input is left as it was.
    rng = np.random.RandomState(0)
    n = 40
    X = sp.csr_matrix((rng.rand(3 * n) + 1, np.tile([0, 1, 0], n), np.arange(0, 3 * n + 1, 3)),
                      shape=(n, 3))
    summed = X.copy()
    summed.sum_duplicates()
    data = X.data.copy()
    y = rng.randn(n) if cls is MCDropoutRegressor else (rng.rand(n) > 0.5).astype(int)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = cls(**kw).fit(X, y), cls(**kw).fit(summed, y)
    for A, B in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(A, B, rtol=1e-12, atol=1e-14)
    assert not X.has_canonical_format
    np.testing.assert_array_equal(X.data, data)


@pytest.mark.parametrize("c", [1e160, 1e300, 1e-170, 1e-300])
def test_huge_inputs_are_standardised_without_overflow(c):
    # Column scales of values whose squares overflow (or underflow: below
    # ~1e-154 a varying column looked constant and was ignored) are measured
    # in units of the column's largest magnitude: the model of c * X
    # predicts on c * X what the model of X predicts on X (dense and sparse).
    X, y = make_moons(n_samples=60, noise=0.2, random_state=0)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        for convert in (np.asarray, sp.csr_matrix):
            unit = MCDropoutClassifier(**kw).fit(convert(X), y).predict_proba(convert(X))
            Xc = convert(c * X)
            np.testing.assert_allclose(MCDropoutClassifier(**kw).fit(Xc, y).predict_proba(Xc),
                                       unit, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1e10, -1e8])
def test_large_constant_columns_do_not_cancel(c, dtype):
    # The centre of a column is folded into the first layer's bias; a
    # constant column had scale 1, so the bias absorbed c times its weights
    # and the offset cancelled catastrophically in float32 (R^2 -2170 and
    # accuracy 0.52 at c = 1e10). Its scale is now max(1, |c|): the fit is
    # that of the informative columns, and a column near c at prediction
    # (a float32 timestamp counts as constant below a std of ~2000 s) moves
    # the predictions by about its relative deviation.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    y = X @ [1.0, 2.0, -1.0] + 0.1 * rng.randn(300)
    Xc = np.c_[X, np.full(300, c)].astype(dtype)
    reg = MCDropoutRegressor(random_state=0, device="cpu").fit(Xc, y)
    assert reg.score(Xc, y) > 0.98
    moved = Xc.copy()
    moved[:, -1] *= 1 + 1e-4
    np.testing.assert_allclose(reg.predict(moved), reg.predict(Xc), atol=0.01)
    labels = (X[:, 0] > 0).astype(int)
    clf = MCDropoutClassifier(random_state=0, device="cpu").fit(Xc, labels)
    assert clf.score(Xc, labels) > 0.95


def test_sparse_constant_column_is_the_same_at_any_power_of_two():
    # Sparse columns are not centred: a constant column had scale
    # max(1, |c|), so it entered the network as c for c < 1 and as 1 above
    # (predictions differed between 0.25, 0.5 and 4). Now |c|: always 1.
    X, y = make_moons(n_samples=60, noise=0.2, random_state=0)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probas = [
            MCDropoutClassifier(**kw).fit(Xc, y).predict_proba(Xc)
            for c in (0.25, 0.5, 4.0)
            for Xc in [sp.csr_matrix(np.c_[X, np.full(60, c)])]
        ]
    np.testing.assert_array_equal(probas[0], probas[1])
    np.testing.assert_array_equal(probas[0], probas[2])


def test_std_far_outside_the_data_does_not_overflow():
    # ReLU networks are positively homogeneous far from the data: at 1e155 x
    # the passes' outputs are ~1e155 and their variance overflowed (std inf).
    X, y = _sine()
    reg = _fast(max_iter=50).fit(X, y)
    far = np.array([[1e100], [-1e100]])
    mean, std = reg.predict(far, return_std=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        mean_c, std_c = reg.predict(far * 1e55, return_std=True)
    assert np.all(std > 0)
    np.testing.assert_allclose(mean_c / 1e55, mean, rtol=1e-6)
    np.testing.assert_allclose(std_c / 1e55, std, rtol=1e-6)
    # Passes beyond float64 itself: an inf mean has an inf std (NaN before).
    mean, std = reg.predict(np.array([[1.7e308], [-1.7e308]]), return_std=True)
    assert not np.isnan(std).any() and np.all(np.isinf(std) | ~np.isinf(mean))
    assert not np.isnan(mean).any()


def test_cv_takes_sklearn_cv_objects_and_refuses_strings():
    # sklearn's "cv_object": an int >= 2, a splitter (split and
    # get_n_splits), an iterable of (train, test) splits or None; a string
    # (which has a .split method) is refused at fit.
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = _sine(n=40)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu")
    with pytest.raises(InvalidParameterError, match="'cv' parameter"):
        MCDropoutRegressor(cv="5", **kw).fit(X, y)
    splits = list(KFold(3).split(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_splitter = MCDropoutRegressor(cv=KFold(3), **kw).fit(X, y)
        by_splits = MCDropoutRegressor(cv=splits, **kw).fit(X, y)
    assert by_splits.noise_std_ == by_splitter.noise_std_


def test_a_failing_fold_says_it_is_a_fold():
    # The whole data has 2 validation rows, a fold's 16 rows only 1: the
    # error names the cross-fitting, not only the user's data.
    X, y = _sine(n=20)
    est = MCDropoutRegressor(hidden_layer_sizes=(8,), early_stopping=True,
                             validation_fraction=0.06, random_state=0, device="cpu")
    with pytest.raises(ValueError, match=r"Cross-fitting the noise \(cv=5\).*16 of the 20 rows"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(cv=None).fit(X, y)


def _interrupt_at_step(monkeypatch, step):
    """Make the step ``step`` of any network's training raise KeyboardInterrupt."""
    from skmath.neural_network import _base

    original, calls = _base._Network.backprop, {"n": 0}

    def backprop(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_base._Network, "backprop", backprop)
    return calls


@pytest.mark.parametrize("where", ["network", "fold"])
def test_keyboard_interrupt_stops_the_cross_fitting_too(where, monkeypatch):
    # Ctrl-C in the returned network ends the fit there (no fold is
    # trained); in a fold it ends the cross-fitting (no other fold is
    # trained) and the noise is the training rows' estimate, with a warning.
    X, y = _sine(n=60)
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, n_iter_no_change=100, batch_size=20,
              random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MCDropoutRegressor(cv=None, **kw).fit(X, y)
    steps_of_network = 20 * 3
    stop = 10 if where == "network" else steps_of_network + 5
    calls = _interrupt_at_step(monkeypatch, stop)
    est = MCDropoutRegressor(**kw)
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user"):
            est.fit(X, y)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fit")
    assert calls["n"] == stop
    if where == "fold":
        assert est.n_iter_ == 20
        np.testing.assert_array_equal(est.coefs_[0], reference.coefs_[0])
        assert est.noise_std_ == reference.noise_std_
    else:
        assert est.n_iter_ == 3


def test_sparse_X_on_uncentred_data_is_calibrated():
    # On non-negative sparse data (not centred), the defaults still give
    # calibrated 95% intervals on held-out rows of diabetes.
    X, y = load_diabetes(return_X_y=True)
    X = X - X.min(axis=0)
    X[X < np.median(X, axis=0)] = 0.0
    S = sp.csr_matrix(X)
    inside = []
    for train, test in ShuffleSplit(5, test_size=0.1, random_state=0).split(X):
        reg = MCDropoutRegressor(random_state=0, device="cpu").fit(S[train], y[train])
        mean, std = reg.predict(S[test], return_std=True)
        inside.append(interval_coverage(y[test], mean, std))
    assert 0.85 <= np.mean(inside) <= 1.0


def test_warm_start_from_dense_to_sparse_is_a_clear_error():
    X, y = load_diabetes(return_X_y=True)
    reg = MCDropoutRegressor(max_iter=2, warm_start=True, random_state=0, device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="first fitted on dense X"):
        reg.fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("hidden_layer_sizes", [(), (8,)])
def test_sample_y_shapes_are_gaussian_process_regressors(hidden_layer_sizes, n_outputs):
    # sample_y gives n_samples draws shaped as GaussianProcessRegressor.sample_y's,
    # also without hidden layers (no dropout masks: before, a single draw).
    from sklearn.gaussian_process import GaussianProcessRegressor

    X, y = _sine(n=30)
    Y = y if n_outputs == 1 else np.column_stack([y, -y])
    reg = MCDropoutRegressor(hidden_layer_sizes=hidden_layer_sizes, max_iter=20,
                             random_state=0, device="cpu").fit(X, Y)
    gpr = GaussianProcessRegressor(optimizer=None).fit(X, Y)
    for n_samples in (5, 1, 0):
        draws = reg.sample_y(X[:4], n_samples=n_samples)
        assert draws.shape == gpr.sample_y(X[:4], n_samples=n_samples).shape
    draws = reg.sample_y(X[:4], n_samples=5)
    assert len(np.unique(draws[0].reshape(-1, 5)[0])) == 5  # five distinct draws


@pytest.mark.parametrize("n_samples", [-1, 1.5, "3"])
def test_sample_y_refuses_a_bad_number_of_draws(n_samples):
    # A clear ValueError (sklearn's InvalidParameterError) instead of torch's
    # RuntimeError or TypeError.
    X, y = _sine(n=30)
    reg = MCDropoutRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0,
                             device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="'n_samples' parameter of sample_y"):
        reg.sample_y(X[:4], n_samples=n_samples)


@pytest.mark.parametrize("c", [1e-200, 1e200])
def test_tiny_and_huge_targets_keep_their_units(c):
    # The target's scale at 1e-200 was wrong (its squares underflow), and
    # with it noise_std_ (0.92 against 0.37 of the unit target's scale).
    X, y = _sine(n=60)
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, device="cpu", cv=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unit = MCDropoutRegressor(**kw).fit(X, y)
        scaled = MCDropoutRegressor(**kw).fit(X, c * y)
    np.testing.assert_allclose(scaled.noise_std_ / c, unit.noise_std_, rtol=1e-9)
    mean, std = scaled.predict(X, return_std=True)
    mean1, std1 = unit.predict(X, return_std=True)
    np.testing.assert_allclose(mean / c, mean1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(std / c, std1, rtol=1e-9)


@pytest.mark.parametrize("c", [2.0**332, 2.0**532, 2.0**-532])
def test_covariance_of_huge_and_tiny_targets_is_the_scaled_covariance(c):
    # Targets times a power of two c train the same network (standardised
    # targets): the covariance is c^2 times the unit one, a signed inf or 0
    # where that leaves float64. Beyond ~1e154 its products overflowed to
    # +inf and -inf, and their sums gave NaN off the diagonal.
    X, y = _sine(n=40)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, n_mc_samples=8, random_state=0,
              device="cpu", cv=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unit = MCDropoutRegressor(**kw).fit(X, y)
        scaled = MCDropoutRegressor(**kw).fit(X, c * y)
    points = np.linspace(-5, 5, 6)[:, None]
    cov = unit.predict(points, return_cov=True)[1]
    cov_scaled = scaled.predict(points, return_cov=True)[1]
    assert not np.isnan(cov_scaled).any()
    with np.errstate(over="ignore", under="ignore"):
        expected = cov * c * c
    np.testing.assert_allclose(cov_scaled, expected, rtol=1e-12, atol=1e-300)


def test_column_vector_y_is_one_output_without_warning():
    # As GaussianProcessRegressor (whose predict and sample_y shapes the
    # regressor follows): a (n, 1) y is one output, without sklearn's
    # MLPRegressor DataConversionWarning; predictions keep GPR's shapes.
    from sklearn.exceptions import DataConversionWarning
    from sklearn.gaussian_process import GaussianProcessRegressor

    X, y = _sine(n=40)
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu", cv=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", DataConversionWarning)
        model = MCDropoutRegressor(**kw).fit(X, y[:, None])
    gpr = GaussianProcessRegressor().fit(X, y[:, None])
    for ours, theirs in zip(model.predict(X, return_std=True), gpr.predict(X, return_std=True)):
        assert ours.shape == theirs.shape
    with pytest.warns(DataConversionWarning):
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, device="cpu").fit(X, y[:, None])


def test_held_out_noise_of_float32_residuals_is_computed_in_float64():
    # A float32 fit's residuals: the search's lower end (1e-77) underflowed
    # to 0 in float32 and the slope divided by zero (a RuntimeWarning from
    # sklearn's check_regressors_train with dropout=0).
    r = np.array([1.0, -2.0, 2.0, -1.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _held_out_noise_variance(r, np.zeros(4, np.float32)) == pytest.approx(2.5)


_PREDICT_MEMORY = """
import resource, warnings
import numpy as np
from skmath import MCDropoutRegressor
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.randn(500, 100).astype(np.float32)
model = MCDropoutRegressor(max_iter=2, random_state=0, cv=None, device="cpu").fit(X, X[:, 0])
X = rng.randn(50000, 100).astype(np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model.predict(X, return_std=True)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in kB and glibc's heap")
def test_predict_memory_does_not_grow_with_the_rows():
    # Each block's small results, kept alive between the blocks' 4 MB
    # temporaries, fragmented glibc's heap: the peak resident memory of
    # predict on 50k x 100 rows (T = 100) grew by ~1 GB (7.5 GB at 200k).
    # Written into outputs allocated once, it stays near the output's size.
    out = subprocess.run([sys.executable, "-c", _PREDICT_MEMORY], capture_output=True,
                         text=True, check=True)
    assert float(out.stdout) < 200


def test_entropies_of_an_unfitted_classifier_raise_not_fitted():
    # The multilabel check read out_activation_ before the fitted check ran:
    # an AttributeError instead of sklearn's NotFittedError.
    from sklearn.exceptions import NotFittedError

    for method in ("predictive_entropy", "mutual_information"):
        with pytest.raises(NotFittedError):
            getattr(MCDropoutClassifier(), method)(np.zeros((2, 3)))
