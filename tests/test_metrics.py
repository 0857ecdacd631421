"""skmath.metrics against scipy's distributions, numerical integrals and GridSearchCV."""

import functools
import warnings

import numpy as np
import pytest
import sklearn
from scipy import integrate
from scipy.stats import norm
from sklearn.compose import TransformedTargetRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.linear_model import BayesianRidge, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import check_scoring, mean_absolute_error
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.utils.fixes import parse_version
from sklearn.model_selection import GridSearchCV, KFold, cross_validate, train_test_split

from numpy.testing import assert_allclose

from skmath import NTKKernel, NTKRegressor
from skmath.metrics import (
    coverage_scorer,
    crps_gaussian,
    gaussian_nll,
    interval_coverage,
    make_uncertainty_scorer,
    neg_crps_scorer,
    neg_gaussian_nll_scorer,
)

# Behaviour of scikit-learn's model selection that the scorers follow, from 1.9.
SKLEARN_1_9 = parse_version(sklearn.__version__) >= parse_version("1.9")

rng = np.random.RandomState(0)
Y = rng.randn(40, 2)
MU = Y + 0.7 * rng.randn(40, 2)
SIGMA = rng.uniform(0.2, 2.0, size=(40, 2))


def test_gaussian_nll_is_minus_scipy_logpdf():
    # Mean of -log N(y; mu, sigma^2), over samples and outputs.
    expected = -norm.logpdf(Y, MU, SIGMA).mean()
    assert gaussian_nll(Y, MU, SIGMA) == pytest.approx(expected, rel=1e-12)
    assert gaussian_nll(Y[:, 0], MU[:, 0], SIGMA[:, 0]) == pytest.approx(
        -norm.logpdf(Y[:, 0], MU[:, 0], SIGMA[:, 0]).mean(), rel=1e-12
    )


def test_crps_equals_the_integral_of_the_squared_cdf_difference():
    # CRPS(F, y) = int (F(x) - 1{x >= y})^2 dx, by numerical quadrature.
    for y, mu, sigma in [(0.3, 0.0, 1.0), (-2.0, 1.0, 0.5), (5.0, 5.1, 3.0)]:
        left = integrate.quad(lambda x: norm.cdf(x, mu, sigma) ** 2, -np.inf, y)[0]
        right = integrate.quad(lambda x: norm.sf(x, mu, sigma) ** 2, y, np.inf)[0]
        assert crps_gaussian([y], [mu], [sigma]) == pytest.approx(left + right, rel=1e-7)


def test_crps_tends_to_the_absolute_error_for_sharp_predictions():
    # With sigma -> 0 the predictive distribution is a point mass: CRPS = |y - mu|.
    sharp = crps_gaussian(Y, MU, np.full_like(Y, 1e-9))
    assert sharp == pytest.approx(np.abs(Y - MU).mean(), rel=1e-6)


def test_point_predictions_sigma_zero_have_the_limit_scores():
    # sigma = 0 exactly (NTKRegressor(alpha=0) at its training points): CRPS is
    # the absolute error and coverage counts exact hits, mixed with sigma > 0
    # entries; the log-likelihood has no value there and says so. A confident
    # miss (z^2 overflowing) gives no warning.
    sigma = SIGMA.copy()
    sigma[::3, 0] = 0.0
    mu = MU.copy()
    mu[::6, 0] = Y[::6, 0]
    expected = np.where(sigma == 0, np.abs(Y - mu), 0.0)
    positive = sigma > 0
    z = (Y - mu)[positive] / sigma[positive]
    expected[positive] = sigma[positive] * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z)
                                            - 1 / np.sqrt(np.pi))
    assert crps_gaussian(Y, mu, sigma) == pytest.approx(expected.mean(), rel=1e-12)
    inside = np.where(sigma == 0, Y == mu, np.abs(Y - mu) <= 1.959963984540054 * sigma)
    assert interval_coverage(Y, mu, sigma) == pytest.approx(inside.mean(), rel=1e-12)
    with pytest.raises(ValueError, match="no value at a zero scale"):
        gaussian_nll(Y, mu, sigma)
    with pytest.raises(ValueError, match="non-negative"):
        crps_gaussian([1.0], [1.0], [-1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert crps_gaussian([1.0], [0.0], [1e-300]) == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:Predicted variances smaller than 0")  # as GPR's
def test_cross_validated_crps_of_an_interpolating_model_is_finite():
    X, y = _noisy_sine(60, 5)
    result = cross_validate(NTKRegressor(alpha=0.0, device="cpu"), X, y, cv=3,
                            scoring=neg_crps_scorer, return_train_score=True)
    assert np.all(np.isfinite(result["train_score"]))
    assert np.all(result["train_score"] > result["test_score"])


def test_scorer_repr_of_a_partial():
    scorer = make_uncertainty_scorer(functools.partial(interval_coverage, confidence=0.9))
    assert repr(scorer).startswith("UncertaintyScorer(functools.partial(")
    assert "UncertaintyScorer(functools.partial(" in repr(
        GridSearchCV(BayesianRidge(), {"alpha_1": [1e-6]}, scoring=scorer))


def test_coverage_of_calibrated_draws_is_nominal():
    # Draws from the predictive distribution fall in the 90% interval 90% of the time.
    draws = MU + SIGMA * np.random.RandomState(1).randn(2000, *MU.shape)
    covered = [interval_coverage(d, MU, SIGMA, confidence=0.9) for d in draws]
    assert np.mean(covered) == pytest.approx(0.9, abs=0.005)
    assert interval_coverage([0.0, 1.0, 5.0], [0.0] * 3, [1.0] * 3) == pytest.approx(2 / 3)


def test_sample_weight_equals_repetition():
    # An integer weight k counts a sample k times, for every metric.
    w = np.random.RandomState(2).randint(0, 4, size=40)
    rep = np.repeat(np.arange(40), w)
    for metric in (gaussian_nll, crps_gaussian, interval_coverage):
        assert metric(Y, MU, SIGMA, sample_weight=w) == pytest.approx(
            metric(Y[rep], MU[rep], SIGMA[rep]), rel=1e-12
        )


def test_bad_inputs_are_refused():
    # Non-positive scales, mismatched shapes and confidence outside (0, 1) raise ValueError.
    with pytest.raises(ValueError, match="positive"):
        gaussian_nll([1.0, 2.0], [1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="same shape"):
        crps_gaussian(Y, MU[:, 0], SIGMA)
    with pytest.raises(ValueError, match="confidence"):
        interval_coverage(Y, MU, SIGMA, confidence=1.0)


def test_column_vector_y_true_is_one_output_as_in_sklearn():
    # y_true of shape (n, 1) against (n,) predictions is one output, as for
    # sklearn's regression metrics (GaussianProcessRegressor and BayesianRidge
    # predict (n,) even when fitted on a column vector).
    y, mu, sigma = Y[:, :1], MU[:, 0], SIGMA[:, 0]
    for metric in (gaussian_nll, crps_gaussian, interval_coverage):
        assert metric(y, mu, sigma) == metric(y[:, 0], mu, sigma)
    assert mean_absolute_error(y, mu) == mean_absolute_error(y[:, 0], mu)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_nll(Y, MU[:, :1], SIGMA[:, :1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataConversionWarning")
def test_scorers_handle_a_column_vector_target_in_cross_validate():
    # cross_validate on y of shape (n, 1) scores every fold (sklearn's own
    # scorers do), instead of setting the scores to NaN.
    X, y = _noisy_sine(60, 3)
    scores = cross_validate(
        BayesianRidge(), X, y[:, None], cv=3, error_score="raise",
        scoring={"nll": neg_gaussian_nll_scorer, "mae": "neg_mean_absolute_error"},
    )
    assert np.all(np.isfinite(scores["test_nll"]))


def test_sample_weight_is_validated_as_in_sklearn():
    # Bad weights raise sklearn's ValueError (2-D, negative, all zero); a
    # scalar is refused, as sklearn's metrics refuse it.
    for bad, match in [(np.ones((40, 1)), "1D"), (-np.ones(40), "Negative"),
                       (np.zeros(40), "non-zero"), (3.0, "'sample_weight' parameter")]:
        with pytest.raises(ValueError, match=match):
            gaussian_nll(Y, MU, SIGMA, sample_weight=bad)


def _gp(noise=0.3**2):
    # The noise is in the kernel, so predict(return_std=True) includes it.
    return GaussianProcessRegressor(kernel=RBF(1.0) + WhiteKernel(noise), optimizer=None)


def _noisy_sine(n, seed):
    r = np.random.RandomState(seed)
    X = r.uniform(-3, 3, size=(n, 1))
    return X, np.sin(X[:, 0]) + 0.3 * r.randn(n)


def test_likelihood_scorer_selects_the_true_noise_in_grid_search():
    # GridSearchCV with the NLL/CRPS scorers picks the GP noise level that generated the data.
    X, y = _noisy_sine(150, 0)
    grid = {"kernel__k2__noise_level": [0.01**2, 0.3**2, 3.0**2]}
    gp = _gp()
    for scorer in (neg_gaussian_nll_scorer, neg_crps_scorer):
        search = GridSearchCV(gp, grid, scoring=scorer, cv=3).fit(X, y)
        assert search.best_params_["kernel__k2__noise_level"] == 0.3**2
    # The scorer is the negated loss of predict(X, return_std=True).
    X_test, y_test = _noisy_sine(100, 1)
    fitted = search.best_estimator_
    mean, std = fitted.predict(X_test, return_std=True)
    assert neg_gaussian_nll_scorer(fitted, X_test, y_test) == -gaussian_nll(y_test, mean, std)


def test_scorers_in_cross_validate_dict():
    # Several uncertainty scorers at once through cross_validate's scoring dict.
    X, y = _noisy_sine(90, 2)
    gp = _gp()
    scores = cross_validate(
        gp, X, y, cv=3,
        scoring={"nll": neg_gaussian_nll_scorer, "coverage": coverage_scorer,
                 "cov80": make_uncertainty_scorer(interval_coverage, confidence=0.8)},
    )
    assert np.all(scores["test_nll"] < 0)
    assert 0.8 < scores["test_coverage"].mean() <= 1.0
    assert scores["test_cov80"].mean() < scores["test_coverage"].mean()
    expected = "UncertaintyScorer(gaussian_nll, greater_is_better=False)"
    assert repr(neg_gaussian_nll_scorer) == expected


class _CountingGP(GaussianProcessRegressor):
    def predict(self, X, return_std=False, return_cov=False):
        self.calls_.append(return_std)
        return super().predict(X, return_std=return_std, return_cov=return_cov)

    def fit(self, X, y):
        self.calls_ = []
        return super().fit(X, y)


def test_scorers_in_a_dict_predict_once():
    # Three uncertainty scorers and r2 in one dict: one predict(X,
    # return_std=True) and one plain predict(X) per split, and the scores
    # equal those of each scorer called alone.
    X, y = _noisy_sine(90, 2)
    gp = _CountingGP(kernel=RBF(1.0) + WhiteKernel(0.3**2), optimizer=None)
    scoring = {"nll": neg_gaussian_nll_scorer, "crps": neg_crps_scorer,
               "coverage": coverage_scorer, "r2": "r2"}
    result = cross_validate(gp, X, y, cv=3, scoring=scoring, return_estimator=True)
    for est in result["estimator"]:
        assert sorted(est.calls_) == [False, True]
    fitted = gp.fit(X[:60], y[:60])
    multi = check_scoring(gp, scoring=scoring)(fitted, X[60:], y[60:])
    assert sorted(fitted.calls_) == [False, True]
    for name in ("nll", "crps", "coverage"):
        assert multi[name] == scoring[name](fitted, X[60:], y[60:])


def _weighted_split_scores(X, y, w, cv):
    # Independent reference: BayesianRidge fitted with the fold's weights,
    # scored by the weighted NLL of its held-out predictions.
    scores = []
    for train, test in cv.split(X):
        model = BayesianRidge().fit(X[train], y[train], sample_weight=w[train])
        mean, std = model.predict(X[test], return_std=True)
        scores.append(-gaussian_nll(y[test], mean, std, sample_weight=w[test]))
    return np.array(scores)


@pytest.mark.skipif(not SKLEARN_1_9, reason="GridSearchCV forwards sample_weight to "
                    "scorers from scikit-learn 1.9 on")
def test_grid_search_forwards_sample_weight_to_scorers_alone_and_in_a_dict():
    # sklearn >= 1.9 forwards fit's sample_weight to the scorers that accept
    # it; in a dict of scorers this used to fail (no _accept_sample_weight).
    X, y = _noisy_sine(120, 3)
    w = np.random.RandomState(1).uniform(0.1, 3.0, len(y))
    cv = KFold(3)
    expected = _weighted_split_scores(X, y, w, cv)
    for scoring, key in ((neg_gaussian_nll_scorer, "score"),
                         ({"nll": neg_gaussian_nll_scorer, "r2": "r2"}, "nll")):
        search = GridSearchCV(BayesianRidge(), {"alpha_1": [1e-6]}, scoring=scoring,
                              cv=cv, refit=False).fit(X, y, sample_weight=w)
        got = [search.cv_results_[f"split{i}_test_{key}"][0] for i in range(3)]
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    unweighted = GridSearchCV(BayesianRidge(), {"alpha_1": [1e-6]}, cv=cv,
                              scoring=neg_gaussian_nll_scorer).fit(X, y)
    assert abs(unweighted.cv_results_["split0_test_score"][0] - expected[0]) > 1e-3


def test_scorer_metadata_routing():
    # With metadata routing the scorer requests sample_weight like sklearn's
    # scorers; the shared module-level scorer is not modified.
    X, y = _noisy_sine(120, 4)
    w = np.random.RandomState(2).uniform(0.1, 3.0, len(y))
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_uncertainty_scorer(gaussian_nll, greater_is_better=False)
        assert scorer.set_score_request(sample_weight=True) is scorer
        result = cross_validate(
            BayesianRidge().set_fit_request(sample_weight=True), X, y, cv=cv,
            scoring=scorer, params={"sample_weight": w},
        )
        np.testing.assert_allclose(result["test_score"], _weighted_split_scores(X, y, w, cv),
                                   rtol=1e-10)
        if SKLEARN_1_9:  # 1.6 did not check a scorer's unset requests
            with pytest.raises(UnsetMetadataPassedError):
                cross_validate(BayesianRidge().set_fit_request(sample_weight=True), X, y,
                               cv=cv, scoring=make_uncertainty_scorer(crps_gaussian),
                               params={"sample_weight": w})
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        make_uncertainty_scorer(gaussian_nll).set_score_request(sample_weight=True)


def test_crps_of_a_confident_miss_with_an_overflowing_z_is_the_absolute_error():
    # |y - mu| / sigma beyond the float range (sigma = 1e-320, or 1e-300 for a
    # miss of 1e10): CRPS = |y - mu| - sigma / sqrt(pi) -> |y - mu|, not inf,
    # and no overflow warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = crps_gaussian([1.0, 1e10], [0.0, 0.0], [1e-320, 1e-300])
    assert got == pytest.approx((1.0 + 1e10) / 2, rel=1e-15)


@pytest.mark.filterwarnings("ignore:overflow encountered in square")  # NLL of 1e200
def test_zero_and_huge_sample_weights():
    # A zero weight drops its sample even where its score is infinite (as
    # repeating it zero times would), and weights are scale-free even near
    # the float maximum.
    assert gaussian_nll([0.0, 1e200], [0.0, 0.0], [1.0, 1.0], sample_weight=[1, 0]) == (
        pytest.approx(-norm.logpdf(0.0), rel=1e-15))
    assert crps_gaussian([0.0, 1.0], [0.0, 0.0], [1.0, 1e-320], sample_weight=[2, 0]) == (
        pytest.approx(crps_gaussian([0.0], [0.0], [1.0]), rel=1e-15))
    for metric in (gaussian_nll, crps_gaussian, interval_coverage):
        huge = metric(Y, MU, SIGMA, sample_weight=np.full(40, 1e308))
        assert huge == pytest.approx(metric(Y, MU, SIGMA), rel=1e-12)


@pytest.mark.parametrize("confidence", ["0.9", None, [0.9], 0.0, 1.0])
def test_confidence_of_a_wrong_type_raises_value_error(confidence):
    # Not a number in (0, 1): sklearn's InvalidParameterError (a ValueError)
    # naming confidence, not a TypeError from "<".
    with pytest.raises(ValueError, match="'confidence' parameter of interval_coverage"):
        interval_coverage(Y, MU, SIGMA, confidence=confidence)


class _IgnoresReturnStd(BayesianRidge):
    # A predict that takes any keyword and returns the mean only.
    def predict(self, X, **kwargs):
        return super().predict(X)


def test_scorer_names_an_estimator_without_return_std():
    # Ridge's predict has no return_std: a ValueError saying so, not Python's
    # "unexpected keyword argument"; a Pipeline forwards it to its last step.
    X, y = _noisy_sine(30, 6)
    with pytest.raises(ValueError, match="Ridge.predict does not take return_std"):
        neg_crps_scorer(Ridge().fit(X, y), X, y)
    pipe = make_pipeline(StandardScaler(), BayesianRidge()).fit(X, y)
    assert neg_crps_scorer(pipe, X, y) == pytest.approx(
        -crps_gaussian(y, *pipe.predict(X, return_std=True)), rel=1e-12)
    # A Pipeline whose last step lacks it (a TypeError from deep inside) and a
    # TransformedTargetRegressor, which inverse-transforms the (mean, std)
    # pair as one prediction (an AttributeError on a tuple).
    with pytest.raises(ValueError, match="Ridge.predict does not take return_std"):
        neg_crps_scorer(make_pipeline(StandardScaler(), Ridge()).fit(X, y), X, y)
    with pytest.raises(ValueError, match="TransformedTargetRegressor cannot return a std"):
        neg_crps_scorer(TransformedTargetRegressor(BayesianRidge()).fit(X, y), X, y)


@pytest.mark.parametrize("n_samples", [2, 30])
def test_scorer_refuses_a_predict_that_ignores_return_std(n_samples):
    # predict(X, return_std=True) returning one array: a clear ValueError, not
    # a mean and std unpacked from two rows (n = 2) or "too many values".
    X, y = _noisy_sine(n_samples, 6)
    model = _IgnoresReturnStd().fit(X, y)
    with pytest.raises(ValueError, match=r"must return a tuple \(y_mean, y_std\)"):
        neg_crps_scorer(model, X, y)


@pytest.mark.parametrize("weighted", [False, True])
def test_multioutput_follows_sklearns_regression_metrics(weighted):
    # "raw_values" gives the per-output scores (each against its own closed form),
    # "uniform_average" their mean, array weights their weighted mean; sklearn's
    # mean_absolute_error, the CRPS limit at sigma = 0, combines outputs the same way.
    w = rng.uniform(0.1, 3.0, len(Y)) if weighted else None
    nll = -norm.logpdf(Y, MU, SIGMA)
    z = (Y - MU) / SIGMA
    crps = SIGMA * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
    inside = np.abs(Y - MU) <= norm.ppf(0.95) * SIGMA
    for func, per_entry in ((gaussian_nll, nll), (crps_gaussian, crps),
                            (functools.partial(interval_coverage, confidence=0.9), inside)):
        raw = func(Y, MU, SIGMA, sample_weight=w, multioutput="raw_values")
        assert raw.shape == (2,)
        assert_allclose(raw, np.average(per_entry, axis=0, weights=w), rtol=1e-12)
        assert func(Y, MU, SIGMA, sample_weight=w) == pytest.approx(raw.mean(), rel=1e-12)
        assert func(Y, MU, SIGMA, sample_weight=w, multioutput=[3.0, 1.0]) == pytest.approx(
            0.75 * raw[0] + 0.25 * raw[1], rel=1e-12)
    zero = np.zeros_like(SIGMA)
    for multioutput in ("raw_values", "uniform_average", [0.2, 0.8]):
        assert_allclose(
            crps_gaussian(Y, MU, zero, sample_weight=w, multioutput=multioutput),
            mean_absolute_error(Y, MU, sample_weight=w, multioutput=multioutput), rtol=1e-12)
    # Invalid multioutput: sklearn's errors (mean_absolute_error's), word for word.
    bad = [("variance_weighted", Y), (None, Y), ([[1.0, 1.0]], Y), ([1.0, 1.0, 1.0], Y),
           ([1.0], Y[:, 0])]
    for multioutput, y in bad:
        with pytest.raises(ValueError) as ref:
            mean_absolute_error(y, y, multioutput=multioutput)
        with pytest.raises(ValueError) as ours:
            crps_gaussian(y, y, np.ones_like(y), multioutput=multioutput)
        assert str(ours.value) == str(ref.value).replace("mean_absolute_error", "crps_gaussian")


def test_coverage_never_falls_as_confidence_rises():
    # A point prediction (sigma = 0) that hits covers at every level, also where the
    # quantile rounds to inf (confidence 1 - 1e-16): not inf * 0 = NaN, with a warning.
    y, mu, sigma = [1.0, 2.0, 3.0], [1.0, 2.0, 0.0], [0.0, 1.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        levels = [0.5, 0.9, 0.999999, 1 - 1e-16]
        coverage = [interval_coverage(y, mu, sigma, confidence=c) for c in levels]
    assert coverage[:2] == pytest.approx([2 / 3, 2 / 3])
    assert coverage[-1] == 1.0
    assert np.all(np.diff(coverage) >= 0)


def test_likelihood_search_needs_the_noise_in_the_std():
    # The user guide's warning, measured: NTKRegressor's std (as GaussianProcessRegressor's
    # without a WhiteKernel) is the noise-free function's, so a likelihood search over alpha
    # on noisy data over-regularises (R^2 picks 0.1, the likelihood the largest alpha), and
    # its intervals cover few points. An NNGP Gaussian process with a WhiteKernel, the
    # documented remedy, has calibrated intervals.
    X, y = _noisy_sine(300, 0)
    grid = {"alpha": [1e-2, 1e-1, 1.0, 10.0, 100.0]}
    by_nll = GridSearchCV(NTKRegressor(depth=2, device="cpu"), grid,
                          scoring=neg_gaussian_nll_scorer).fit(X, y)
    by_r2 = GridSearchCV(NTKRegressor(depth=2, device="cpu"), grid, scoring="r2").fit(X, y)
    assert by_nll.best_params_["alpha"] == 100.0
    assert by_r2.best_params_["alpha"] < 10.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    m, s = NTKRegressor(depth=2, alpha=0.1, device="cpu").fit(X_train, y_train).predict(
        X_test, return_std=True)
    assert interval_coverage(y_test, m, s) < 0.3
    gp = GaussianProcessRegressor(NTKKernel(kernel="nngp", depth=2) + WhiteKernel(),
                                  normalize_y=True).fit(X_train, y_train)
    m, s = gp.predict(X_test, return_std=True)
    assert 0.88 <= interval_coverage(y_test, m, s) <= 0.99


def test_scores_beyond_float64_are_inf_without_warnings():
    # Values whose score leaves float64's range give inf (the limit) without
    # the RuntimeWarnings of the overflowing intermediate steps, zero-weight
    # rows included (which are dropped); where only y - mu overflows, the
    # score is still exact (z = 2 here: y - mu was inf, the interval covered
    # the miss and the scores were inf).
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert gaussian_nll([1e200], [0.0], [1e-200]) == np.inf
        assert gaussian_nll([1e200, 0.0], [0.0, 0.0], [1e-200, 1.0],
                            sample_weight=[0, 1]) == pytest.approx(0.5 * np.log(2 * np.pi))
        assert crps_gaussian([1e308], [-1e308], [1.0]) == np.inf
        y, mu, sigma = [1e308], [-1e308], [1e308]
        assert interval_coverage(y, mu, sigma) == 0.0  # |z| = 2 > 1.96
        assert gaussian_nll(y, mu, sigma) == pytest.approx(
            -norm.logpdf(2.0) + np.log(1e308), rel=1e-12)
        assert crps_gaussian(y, mu, sigma) / 1e308 == pytest.approx(
            2 * (2 * norm.cdf(2.0) - 1) + 2 * norm.pdf(2.0) - 1 / np.sqrt(np.pi), rel=1e-12)


def test_scores_of_subnormal_and_huge_z_are_exact():
    # Halving a subnormal y_std rounds it (5e-324 / 2 = 0): the halves are
    # taken only where y - mu overflows (NaN, inf and a covered point counted
    # as a miss before). And z^2 / 2 is computed as z * (z / 2): z^2 alone
    # overflowed where the score fits (z ~ 1.8e154).
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tiny = 5e-324
        assert gaussian_nll([0.0], [0.0], [tiny]) == pytest.approx(
            0.5 * np.log(2 * np.pi) + np.log(tiny), rel=1e-14)
        assert gaussian_nll([2 * tiny], [0.0], [tiny]) == pytest.approx(
            0.5 * np.log(2 * np.pi) + np.log(tiny) + 2.0, rel=1e-14)
        assert crps_gaussian([0.0], [0.0], [tiny]) == 0.0
        assert interval_coverage([0.0], [0.0], [tiny]) == 1.0
        y, mu, sigma = -1.7976931348623157e308, -7.0, 1e154
        z = (y - mu) / sigma
        assert gaussian_nll([y], [mu], [sigma]) == pytest.approx(
            0.5 * np.log(2 * np.pi) + np.log(sigma) + z * (z / 2), rel=1e-12)
